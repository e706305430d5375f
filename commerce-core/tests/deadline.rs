//! The per-call deadline: no attempt, backoff or wait goes on past it, and what it cuts is
//! reported as what it is. Real time, short limits: in paused time a pending deadline
//! timer fires while the runtime waits on a socket.

#[path = "../src/testing.rs"]
mod support;

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
