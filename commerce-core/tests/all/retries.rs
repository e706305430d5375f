//! Retries, Retry-After, and never re-sending a create that may have arrived.

use commerce_testing as support;

use std::time::Duration;

use commerce_core::{Delivery, Endpoint, Error, HttpClient, Replay, RetryPolicy, Transport};
use http::HeaderName;
use serde_json::json;
use support::{Reply, ScriptedServer};

/// A transport to `url`; `timeout` per attempt (`None` in paused-time tests, where a
/// pending timer would fire while the runtime waits on a socket).
fn transport(url: &str, timeout: Option<Duration>, retry: RetryPolicy) -> Transport {
    let http = match timeout {
        Some(t) => HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(t)),
        None => support::paused_time_http(),
    };
    Transport::builder(&http, "shop", url)
        .retry(retry)
        .build()
        .unwrap()
}

fn fast_retries(n: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(n)
        .with_delays(Duration::from_millis(10), Duration::from_millis(50))
        .with_seed(1)
}

fn create() -> Endpoint {
    Endpoint::post("orders.create", "orders").json(&json!({"external_id": "A-1"}))
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, r#"{"message":"slow down"}"#).header("retry-after", "7"),
        Reply::json(200, "{}"),
    ])
    .await;
    let t = transport(&server.url, None, RetryPolicy::default());
    t.send(&Endpoint::get("orders.list", "orders")).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    let gap = sent[1].at - sent[0].at;
    assert!(gap >= Duration::from_secs(7), "waited only {gap:?}");
    assert!(
        gap < Duration::from_secs(8),
        "waited {gap:?}: Retry-After replaces the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_pauses_every_clone_of_the_client() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}").header("retry-after", "30"),
        Reply::json(200, "{}"),
    ])
    .await;
    let t = transport(&server.url, None, RetryPolicy::none());
    let err = t.send(&Endpoint::get("orders.list", "orders")).await.unwrap_err();
    assert!(err.is_rate_limited() && err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    insta::assert_snapshot!("rate_limited", err);
    let clone = t.clone();
    clone.send(&Endpoint::get("orders.list", "orders")).await.unwrap();
    let sent = server.requests();
    assert!(sent[1].at - sent[0].at >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_the_client_accepts_fails_fast_with_the_wait() {
    let server = ScriptedServer::start(vec![Reply::json(429, "{}").header("retry-after", "3600")]).await;
    let t = transport(
        &server.url,
        None,
        RetryPolicy::default().with_max_wait(Duration::from_secs(60)),
    );
    let err = t.send(&Endpoint::get("orders.list", "orders")).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    // The next call does not hang behind the pause either.
    let err = t.send(&Endpoint::get("orders.list", "orders")).await.unwrap_err();
    assert!(err.is_rate_limited());
    assert!(err.retry_after().unwrap() > Duration::from_secs(3500));
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_503_on_an_idempotent_call_is_retried_capped_with_jitter() {
    let server = ScriptedServer::start(vec![Reply::json(503, r#"{"message":"maintenance"}"#)]).await;
    let policy = RetryPolicy::default()
        .with_max_retries(5)
        .with_delays(Duration::from_secs(1), Duration::from_secs(4))
        .with_seed(42);
    let t = transport(&server.url, None, policy);
    let err = t.send(&Endpoint::get("stock.list", "stock")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(503));
    insta::assert_snapshot!("provider_503", err);

    let sent = server.requests();
    assert_eq!(sent.len(), 6, "one attempt and five retries");
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1].at - w[0].at).collect();
    let nominal = [1, 2, 4, 4, 4].map(Duration::from_secs);
    for (gap, base) in gaps.iter().zip(nominal) {
        assert!(*gap >= base, "gap {gap:?} under the backoff {base:?}");
        assert!(*gap <= Duration::from_secs(4), "gap {gap:?} over the cap");
    }
    assert_ne!(gaps[..2], nominal[..2], "jitter moves the waits: {gaps:?}");
}

#[tokio::test]
async fn a_create_that_timed_out_after_sending_is_not_re_sent() {
    let server = ScriptedServer::start(vec![Reply::Stall]).await;
    let t = transport(&server.url, Some(Duration::from_millis(200)), fast_retries(3));
    let err = t.send(&create()).await.unwrap_err();
    assert!(err.is_unconfirmed() && err.may_have_reached_server() && !err.is_retryable());
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
    assert_eq!(server.count(), 1, "sent once, never again");
    insta::assert_snapshot!("unconfirmed_timeout", err);
}

#[tokio::test]
async fn a_create_whose_connection_dropped_is_not_re_sent() {
    let server = ScriptedServer::start(vec![Reply::Drop, Reply::json(201, "{}")]).await;
    let t = transport(&server.url, Some(Duration::from_secs(5)), fast_retries(3));
    let err = t.send(&create()).await.unwrap_err();
    assert!(err.is_unconfirmed(), "{err:?}");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_create_behind_a_failing_gateway_is_not_re_sent() {
    for status in [502, 504] {
        let server = ScriptedServer::start(vec![Reply::status(status), Reply::json(201, "{}")]).await;
        let t = transport(&server.url, Some(Duration::from_secs(5)), fast_retries(3));
        let err = t.send(&create()).await.unwrap_err();
        assert!(err.is_unconfirmed(), "{status}: {err:?}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(server.count(), 1, "{status}");
    }
}

#[tokio::test]
async fn a_create_refused_with_429_or_503_is_sent_again() {
    for status in [429, 503] {
        let server =
            ScriptedServer::start(vec![Reply::status(status), Reply::json(201, r#"{"id":7}"#)]).await;
        let t = transport(&server.url, Some(Duration::from_secs(5)), fast_retries(3));
        let created: serde_json::Value = t.json(&create()).await.unwrap();
        assert_eq!(created["id"], 7);
        assert_eq!(server.count(), 2, "{status}");
    }
}

#[tokio::test]
async fn a_create_that_could_not_connect_is_retried_and_says_it_was_not_sent() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = transport(
        &format!("http://127.0.0.1:{port}"),
        Some(Duration::from_secs(5)),
        fast_retries(2),
    );
    let err = t.send(&create()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                delivery: Delivery::NotSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.may_have_reached_server());
    // Where it could not connect is said; the path (which may carry a secret) is not.
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("could not connect to 127.0.0.1:{port}")),
        "{shown}"
    );
    assert!(
        !shown.contains("/orders") && !format!("{err:?}").contains("/orders"),
        "{shown}"
    );
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_a_time_out_or_a_drop() {
    let server =
        ScriptedServer::start(vec![Reply::Stall, Reply::Drop, Reply::json(200, r#"{"ok":1}"#)]).await;
    let t = transport(&server.url, Some(Duration::from_millis(200)), fast_retries(3));
    let got: serde_json::Value = t.json(&Endpoint::get("orders.list", "orders")).await.unwrap();
    assert_eq!(got["ok"], 1);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn an_idempotency_key_makes_a_create_safe_to_repeat_with_the_same_key() {
    let server = ScriptedServer::start(vec![Reply::Drop, Reply::json(201, "{}")]).await;
    let t = transport(&server.url, Some(Duration::from_secs(5)), fast_retries(3));
    let key = HeaderName::from_static("idempotency-key");
    t.send(&create().with_replay(Replay::IdempotencyKey(key)))
        .await
        .unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    let first = sent[0].header("idempotency-key").expect("key sent");
    assert_eq!(first.len(), 32);
    assert_eq!(sent[1].header("idempotency-key"), Some(first));
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_providers_words() {
    let server = ScriptedServer::start(vec![Reply::json(
        400,
        r#"{"type":"https://api.example/problems/validation","title":"Error validating request","status":400,"detail":"Bad request","violations":[{"name":"shipmentItems[0].orderItemId","reason":"Request contains invalid value(s): '123'"}]}"#,
    )])
    .await;
    let t = transport(&server.url, Some(Duration::from_secs(5)), fast_retries(3));
    let err = t.send(&create()).await.unwrap_err();
    assert_eq!(server.count(), 1);
    assert!(!err.is_retryable() && !err.is_unconfirmed());
    assert_eq!(err.field_errors()[0].field, "shipmentItems[0].orderItemId");
    insta::assert_snapshot!("provider_problem", err);
}
