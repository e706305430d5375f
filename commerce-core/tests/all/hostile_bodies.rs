//! Adversarial tests of the answer-reading and replay claims: answers stopped at a size
//! limit counted after decompression (exactly at the limit read, one byte over refused,
//! limit 0 or 1), error answers read up to 64 KiB, no panic for any head; a create
//! (`Replay::Never`) never sent twice once it may have reached the server, and a 2xx to a
//! create whose body cannot be read is `Error::Unconfirmed`; 429 with `Retry-After: 0` backs
//! off. Everything here held.

use commerce_testing as support;

use support::hostile::within;

use std::time::Duration;

use commerce_core::{Endpoint, Error, HttpClient, RetryPolicy, Transport};
use support::{Reply, ScriptedServer, hostile};
use tokio::time::Instant;

fn transport(url: &str, limit: Option<u64>, retry: RetryPolicy) -> Transport {
    let mut http =
        HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(Duration::from_millis(1500)));
    if let Some(limit) = limit {
        http = http.with_max_answer_bytes(limit);
    }
    Transport::builder(&http, "shop", url)
        .retry(retry)
        .build()
        .unwrap()
}

fn create() -> Endpoint {
    Endpoint::post("orders.create", "orders").json(&serde_json::json!({"ref": "A-1"}))
}

fn retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(3)
        .with_delays(Duration::from_millis(50), Duration::from_millis(200))
}

/// A JSON string of exactly `n` bytes (`n >= 2`).
fn json_of(n: usize) -> Vec<u8> {
    format!("\"{}\"", "x".repeat(n - 2)).into_bytes()
}

/// Unreadable 2xx answers to a create: every one is `Unconfirmed`, sent once.
#[tokio::test]
async fn unreadable_successes_of_a_create_are_unconfirmed_and_sent_once() {
    let gz = hostile::gzip(br#"{"id":1}"#);
    let cases: Vec<(&str, Reply)> = vec![
        (
            "invalid gzip",
            Reply::Raw(hostile::answer(201, &[("content-encoding", "gzip")], b"\x1f\x8bnot gzip at all")),
        ),
        (
            "gzip cut short",
            Reply::Raw(hostile::answer(201, &[("content-encoding", "gzip")], &gz[..gz.len() / 2])),
        ),
        ("content-length smaller than the body", Reply::Raw({
            let mut v = hostile::head(201, &[("content-length", "5")]).into_bytes();
            v.extend_from_slice(br#"{"id":1}"#);
            v
        })),
        ("content-length larger than the body", Reply::Raw({
            let mut v = hostile::head(201, &[("content-length", "500")]).into_bytes();
            v.extend_from_slice(br#"{"id":1}"#);
            v
        })),
        ("head fast, gzip body stalls", Reply::Stalling({
            let mut v = hostile::head(201, &[("content-encoding", "gzip"), ("content-length", &gz.len().to_string())])
                .into_bytes();
            v.extend_from_slice(&gz[..4]);
            v
        })),
        ("chunk size overflowing", Reply::Raw(
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffffffffffffffff\r\nx\r\n0\r\n\r\n".to_vec(),
        )),
        ("a 1 MiB chunk extension", Reply::Raw({
            let mut v = b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n8;".to_vec();
            v.extend(std::iter::repeat_n(b'a', 1 << 20));
            v.extend_from_slice(b"\r\n{\"id\":1}\r\n0\r\n\r\n");
            v
        })),
        ("101 switching protocols", Reply::Stalling(hostile::head(101, &[("upgrade", "x")]).into_bytes())),
        ("empty 204", Reply::Raw(hostile::answer(204, &[], b""))),
        ("empty gzip 200", Reply::Raw(hostile::answer(200, &[("content-encoding", "gzip")], b""))),
        ("body one byte over the limit", Reply::Raw(hostile::answer(201, &[], &json_of(1025)))),
        ("gzip body one byte over the limit", Reply::Raw(hostile::answer(
            201,
            &[("content-encoding", "gzip")],
            &hostile::gzip(&json_of(1025)),
        ))),
    ];
    for (what, reply) in cases {
        let server = ScriptedServer::start(vec![reply]).await;
        let t = transport(&server.url, Some(1024), retries());
        let e = within(10, t.json::<serde_json::Value>(&create())).await;
        match e {
            Err(e) => {
                // A 101 is no success: returned as the provider's answer (not re-sent).
                assert!(
                    e.is_unconfirmed() || (what.starts_with("101") && e.status() == Some(101)),
                    "{what}: {e:?}"
                );
                assert!(e.may_have_reached_server(), "{what}: {e}");
            }
            Ok(v) => panic!("{what}: read as {v}"),
        }
        assert_eq!(server.count(), 1, "{what}: sent once");
    }
}

/// Exactly at the limit is read, one byte over is refused, before and after gzip, with and
/// without a `Content-Length`; limits 0 and 1.
#[tokio::test]
async fn the_limit_is_exact_and_counted_after_decompression() {
    let at = json_of(1024);
    let over = json_of(1025);
    let close_delimited = |body: &[u8]| {
        let mut v = hostile::head(200, &[]).into_bytes();
        v.extend_from_slice(body);
        v
    };
    for (what, ok, reply) in [
        ("at, content-length", true, hostile::answer(200, &[], &at)),
        ("over, content-length", false, hostile::answer(200, &[], &over)),
        ("at, close-delimited", true, close_delimited(&at)),
        ("over, close-delimited", false, close_delimited(&over)),
        (
            "at, gzip",
            true,
            hostile::answer(200, &[("content-encoding", "gzip")], &hostile::gzip(&at)),
        ),
        (
            "over, gzip",
            false,
            hostile::answer(200, &[("content-encoding", "gzip")], &hostile::gzip(&over)),
        ),
    ] {
        let server = ScriptedServer::start(vec![Reply::Raw(reply)]).await;
        let t = transport(&server.url, Some(1024), RetryPolicy::none());
        let r = within(10, t.send(&Endpoint::get("a", "a"))).await;
        match (ok, r) {
            (true, Ok(resp)) => assert_eq!(resp.body().len(), 1024, "{what}"),
            (false, Err(Error::TooLarge { limit: 1024, .. })) => {}
            (_, r) => panic!("{what}: {r:?}"),
        }
    }
    for limit in [0u64, 1] {
        let server = ScriptedServer::start(vec![
            Reply::Raw(hostile::answer(200, &[], b"{}")),
            Reply::Raw(hostile::answer(204, &[], b"")),
            Reply::Raw(hostile::answer(400, &[], br#"{"error":"bad"}"#)),
        ])
        .await;
        let t = transport(&server.url, Some(limit), RetryPolicy::none());
        assert_eq!(t.http().max_answer_bytes(), 1);
        let e = within(10, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1, .. }), "{e}");
        assert!(within(10, t.send(&Endpoint::get("a", "a"))).await.is_ok());
        let e = within(10, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "an error answer cut to 1 byte: {e}");
    }
}

/// An error answer of 64 KiB + 1 and far more, gzip-compressed: read up to 64 KiB, the
/// status and a short excerpt kept.
#[tokio::test]
async fn error_answers_are_cut_at_64_kib_after_decompression() {
    let mut big = b"<html>".to_vec();
    big.extend(std::iter::repeat_n(b'x', 8 << 20));
    let server = ScriptedServer::start(vec![Reply::Raw(hostile::answer(
        500,
        &[("content-encoding", "gzip")],
        &hostile::gzip(&big),
    ))])
    .await;
    let t = transport(&server.url, None, RetryPolicy::none());
    let e = within(10, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().len() < 400, "{e}");
}

/// The replay table: 503 (with `Retry-After`) and 429 are sent again, 502 and 504 are not,
/// whatever `Retry-After` says.
#[tokio::test(start_paused = true)]
async fn a_create_is_re_sent_only_after_429_or_503() {
    let http = support::paused_time_http();
    for (status, sent) in [(503u16, 2usize), (429, 2), (502, 1), (504, 1), (500, 1)] {
        let server = ScriptedServer::start(vec![
            Reply::json(status, "{}").header("retry-after", "1"),
            Reply::json(201, r#"{"id":1}"#),
        ])
        .await;
        let t = Transport::builder(&http, "shop", &server.url)
            .retry(retries())
            .build()
            .unwrap();
        let r = t.json::<serde_json::Value>(&create()).await;
        assert_eq!(server.count(), sent, "{status}: {r:?}");
        if matches!(status, 502 | 504) {
            assert!(r.unwrap_err().is_unconfirmed());
        }
    }
}

/// `Retry-After: 0` (and absurd companions) on a 429 still backs off, create or read.
#[tokio::test(start_paused = true)]
async fn retry_after_zero_backs_off() {
    let http = support::paused_time_http();
    for extra in [
        vec![],
        vec![
            ("x-ratelimit-remaining", "18446744073709551615"),
            ("x-ratelimit-reset", "0"),
        ],
        vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")],
        vec![("x-ratelimit-remaining", "-0"), ("x-ratelimit-reset", "-0")],
    ] {
        for endpoint in [create(), Endpoint::get("a", "a")] {
            let mut first = Reply::json(429, "{}").header("retry-after", "0");
            for (k, v) in &extra {
                first = first.header(k, v);
            }
            let server = ScriptedServer::start(vec![first, Reply::json(200, "{}")]).await;
            let t = Transport::builder(&http, "shop", &server.url)
                .retry(retries().with_jitter(false))
                .build()
                .unwrap();
            t.send(&endpoint).await.unwrap();
            let at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
            assert_eq!(at.len(), 2);
            assert!(
                at[1] - at[0] >= Duration::from_millis(50),
                "{extra:?}: {:?}",
                at[1] - at[0]
            );
        }
    }
}
