//! The per-call deadline: no attempt, backoff or wait goes on past it, and what it cuts is
//! reported as what it is. Real time, short limits: in paused time a pending deadline
//! timer fires while the runtime waits on a socket.

use commerce_testing as support;

use std::time::{Duration, Instant};

use commerce_core::{Delivery, Endpoint, Error, HttpClient, Quota, RateLimits, RetryPolicy, Transport};
use serde_json::json;
use support::{Reply, ScriptedServer};

const DEADLINE: Duration = Duration::from_millis(400);

/// A transport with a 30 s limit per attempt, 3 retries with long backoff, and `DEADLINE`.
fn transport(url: &str, limits: RateLimits) -> Transport {
    let http = HttpClient::new("commerce-core-tests", "0.0.0")
        .with_timeout(Some(Duration::from_secs(30)))
        .with_deadline(Some(DEADLINE));
    Transport::builder(&http, "shop", url)
        .retry(
            RetryPolicy::default()
                .with_max_retries(3)
                .with_delays(Duration::from_secs(5), Duration::from_secs(10))
                .with_seed(1),
        )
        .limits(limits)
        .build()
        .unwrap()
}

fn list() -> Endpoint {
    Endpoint::get("orders.list", "orders")
}

/// Far below what the call takes without the deadline (30 s per attempt, 5 s backoff).
fn quick(started: Instant) {
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "took {took:?}: the deadline did not hold"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_fails_at_the_deadline() {
    let server = ScriptedServer::start(vec![Reply::Stall, Reply::Stall]).await;
    let started = Instant::now();
    let err = transport(&server.url, RateLimits::default())
        .send(&list())
        .await
        .unwrap_err();
    quick(started);
    assert!(started.elapsed() >= DEADLINE, "stopped before the deadline");
    assert!(
        matches!(
            err,
            Error::Timeout {
                after: DEADLINE,
                delivery: Delivery::MaybeSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.count(), 1, "no attempt after the deadline");
    insta::assert_snapshot!("deadline_timeout", err);
}

#[tokio::test]
async fn no_backoff_runs_past_the_deadline() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, r#"{"message":"busy"}"#),
        Reply::json(200, "{}"),
    ])
    .await;
    let started = Instant::now();
    let err = transport(&server.url, RateLimits::default())
        .send(&list())
        .await
        .unwrap_err();
    quick(started);
    // The 5 s backoff would pass the deadline: the call fails with what made it retry.
    assert!(matches!(&err, Error::Provider(p) if p.status == 503), "{err:?}");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_gives_up_at_once() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}").header("retry-after", "3"),
        Reply::json(200, "{}"),
    ])
    .await;
    let started = Instant::now();
    let err = transport(&server.url, RateLimits::default())
        .send(&list())
        .await
        .unwrap_err();
    quick(started);
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3)),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_create_cut_by_the_deadline_is_unconfirmed() {
    let server = ScriptedServer::start(vec![Reply::Stall, Reply::json(201, "{}")]).await;
    let started = Instant::now();
    let err = transport(&server.url, RateLimits::default())
        .send(&Endpoint::post("orders.create", "orders").json(&json!({"id": "A-1"})))
        .await
        .unwrap_err();
    quick(started);
    assert!(err.is_unconfirmed(), "{err:?}");
    let Error::Unconfirmed { source, .. } = &err else {
        unreachable!()
    };
    assert!(
        matches!(
            **source,
            Error::Timeout {
                delivery: Delivery::MaybeSent,
                ..
            }
        ),
        "{source:?}"
    );
    assert_eq!(server.count(), 1, "never re-sent");
}

#[tokio::test]
async fn the_deadline_bounds_the_wait_for_a_rate_permit() {
    let server = ScriptedServer::start(vec![Reply::json(200, "{}"), Reply::json(200, "{}")]).await;
    let t = transport(
        &server.url,
        RateLimits::new([Quota::new(1, Duration::from_secs(60))]),
    );
    t.send(&list()).await.unwrap();
    let started = Instant::now();
    let err = t.send(&list()).await.unwrap_err();
    quick(started);
    assert!(
        matches!(
            err,
            Error::Timeout {
                after: DEADLINE,
                delivery: Delivery::NotSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.may_have_reached_server());
    assert_eq!(server.count(), 1, "the second call was never sent");
}

#[tokio::test]
async fn without_a_deadline_the_call_retries_as_before() {
    let server = ScriptedServer::start(vec![Reply::json(503, "{}"), Reply::json(200, "{}")]).await;
    let http = HttpClient::new("commerce-core-tests", "0.0.0");
    assert_eq!(http.deadline(), None, "no deadline by default");
    let t = Transport::builder(&http, "shop", &server.url)
        .retry(
            RetryPolicy::default()
                .with_delays(Duration::from_millis(10), Duration::from_millis(20))
                .with_seed(1),
        )
        .build()
        .unwrap();
    t.send(&list()).await.unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_deadline_stops_the_wait_for_a_token_not_the_token_request() {
    use commerce_core::{ClientCredentials, TokenAuth, TokenCache};
    // The token answer comes slowly (about 0.9 s), past a 300 ms deadline.
    let answer = support::hostile::answer(
        200,
        &[("content-type", "application/json")],
        br#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#,
    );
    let tokens = ScriptedServer::start(vec![Reply::Trickle {
        bytes: answer,
        every: Duration::from_millis(6),
    }])
    .await;
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let http = HttpClient::new("commerce-core-tests", "0.0.0");
    let cache = TokenCache::new(
        ClientCredentials::new(
            &http,
            "shop",
            &format!("{}/token", tokens.url),
            "id-1",
            "s-1".to_owned().into(),
        )
        .unwrap(),
    );
    let with_deadline = Transport::builder(
        &http.clone().with_deadline(Some(Duration::from_millis(300))),
        "shop",
        &api.url,
    )
    .auth(TokenAuth::bearer(cache.clone()))
    .build()
    .unwrap();
    let without = Transport::builder(&http, "shop", &api.url)
        .auth(TokenAuth::bearer(cache.clone()))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = with_deadline.send(&list()).await.unwrap_err();
    quick(started);
    assert!(
        matches!(
            err,
            Error::Timeout {
                delivery: Delivery::NotSent,
                ..
            }
        ),
        "{err:?}"
    );
    // The token request went on: the next caller takes its token, with no cool-down and no
    // second request (cancelled, it would have counted as a failed token request).
    without.send(&list()).await.unwrap();
    assert_eq!(tokens.count(), 1, "one token request");
    assert_eq!(cache.token_requests(), 1);
    assert_eq!(api.count(), 1, "the cut call sent nothing");
}

#[tokio::test]
async fn a_known_pause_past_the_deadline_is_said_at_once() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}").header("retry-after", "60"),
        Reply::json(200, "{}"),
    ])
    .await;
    // A client that may wait 120 s: the first call gives up on the 60 s pause (past its
    // deadline), the second sees the pause and says so at once, with the wait.
    let t = transport(&server.url, RateLimits::default());
    let started = Instant::now();
    let _ = t.send(&list()).await.unwrap_err();
    let err = t.send(&list()).await.unwrap_err();
    quick(started);
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d > Duration::from_secs(50)),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_create_cut_by_the_deadline_reports_the_deadline() {
    let server = ScriptedServer::start(vec![Reply::Stall]).await;
    let err = transport(&server.url, RateLimits::default())
        .send(&Endpoint::post("orders.create", "orders").json(&json!({"id": "A-1"})))
        .await
        .unwrap_err();
    let Error::Unconfirmed { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**source, Error::Timeout { after: DEADLINE, .. }),
        "{source:?}"
    );
}

#[test]
fn a_deadline_too_far_to_count_is_none() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
        let http = HttpClient::new("commerce-core-tests", "0.0.0").with_deadline(Some(Duration::MAX));
        let t = Transport::builder(&http, "shop", &server.url).build().unwrap();
        t.send(&list()).await.unwrap();
    });
}
