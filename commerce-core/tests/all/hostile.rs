//! The runtime against servers that misbehave: absurd header values and token lifetimes,
//! tokens refused on every call, token endpoints that fail, 429 with `Retry-After: 0`, a
//! burst of callers on a fresh client, creates answered with an unreadable body, user info
//! in URLs, secrets quoted back, slow-loris and hung answers, redirects to another host and
//! malformed heads. Each test is bounded in time (a deadline, or tokio's paused clock); the
//! memory bounds are in `hostile_memory.rs`, a test binary of its own.

use commerce_testing as support;

use support::hostile::within;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use commerce_core::{
    ClientAuth, ClientCredentials, Endpoint, Error, HttpClient, MAX_SERVER_WAIT, RateLimiter, RateLimits,
    RetryPolicy, SecretString, TokenAuth, TokenCache, TokenRequestFormat, Transport,
};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use support::{Reply, ScriptedServer, hostile};
use tokio::time::Instant;

fn http(timeout: Duration) -> HttpClient {
    HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(timeout))
}

fn plain(url: &str, retry: RetryPolicy) -> Transport {
    Transport::builder(&http(Duration::from_secs(2)), "shop", url)
        .retry(retry)
        .build()
        .unwrap()
}

fn credentials(http: &HttpClient, url: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::new(http, "shop", url, "my-client", secret.to_owned().into()).unwrap()
}

fn with_tokens(http: &HttpClient, url: &str, cache: TokenCache, retry: RetryPolicy) -> Transport {
    Transport::builder(http, "shop", url)
        .auth(TokenAuth::bearer(cache))
        .retry(retry)
        .build()
        .unwrap()
}

fn fast(n: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(n)
        .with_delays(Duration::from_millis(250), Duration::from_secs(2))
        .with_seed(3)
}

#[tokio::test]
async fn absurd_rate_limit_headers_never_panic_and_never_hang() {
    let cases = [
        ("x-ratelimit-reset", "18446744073709551615"),
        ("x-ratelimit-reset", "1e300"),
        ("x-ratelimit-reset", "-5"),
        ("x-ratelimit-reset", "NaN"),
        ("retry-after", "18446744073709551615"),
        ("retry-after", "1e308"),
        ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ];
    for (name, value) in cases {
        let server = ScriptedServer::start(vec![
            Reply::json(200, "{}")
                .header("x-ratelimit-remaining", "0")
                .header(name, value),
            Reply::json(200, "{}"),
        ])
        .await;
        let t = plain(&server.url, RetryPolicy::default());
        within(5, async {
            t.send(&Endpoint::get("a", "a")).await.unwrap();
            match t.send(&Endpoint::get("a", "a")).await {
                Ok(_) => {}
                Err(e) => {
                    assert!(e.is_rate_limited(), "{name}: {value}: {e}");
                    assert!(e.retry_after().unwrap() <= MAX_SERVER_WAIT, "{e}");
                }
            }
        })
        .await;
    }
    // Remaining calls with an absurd reset: a budget that ends within a day.
    let server = ScriptedServer::start(vec![
        Reply::json(200, "{}")
            .header("x-ratelimit-remaining", "5")
            .header("x-ratelimit-reset", "18446744073709551615"),
    ])
    .await;
    let t = plain(&server.url, RetryPolicy::default());
    within(5, async {
        for _ in 0..5 {
            t.send(&Endpoint::get("a", "a")).await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn absurd_token_lifetimes_never_panic() {
    let far = "eyJhbGciOiJub25lIn0.eyJleHAiOjFlMzAwfQ.sig"; // {"exp":1e300}
    let answers = [
        json!({"access_token": "tok", "expires_in": 9_223_372_036_854_775_807u64}),
        json!({"access_token": "tok", "expires_in": 18_446_744_073_709_551_615u64}),
        json!({"access_token": "tok", "expires_in": 1e300}),
        json!({"access_token": "tok", "expires_in": "1e300"}),
        json!({"access_token": "tok", "expires_in": -1}),
        json!({"access_token": far, "expires_in": 299}),
        json!({"access_token": far}),
    ];
    for answer in answers {
        let server = ScriptedServer::start(vec![
            Reply::json(200, &answer.to_string()),
            Reply::json(200, "{}"),
        ])
        .await;
        let http = http(Duration::from_secs(2));
        let cache = TokenCache::new(credentials(&http, &format!("{}/token", server.url), "s3cret"));
        let t = with_tokens(&http, &server.url, cache.clone(), RetryPolicy::none());
        within(5, async {
            for _ in 0..3 {
                t.send(&Endpoint::get("a", "a")).await.unwrap();
            }
        })
        .await;
        assert_eq!(cache.token_requests(), 1, "{answer}");
    }
}

#[tokio::test]
async fn a_provider_refusing_every_call_gets_two_token_requests_not_one_per_call() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 299}));
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET).path("/orders");
            then.status(401)
                .json_body(json!({"title": "Unauthorized", "detail": "Unauthorized request"}));
        })
        .await;
    let http = http(Duration::from_secs(2));
    let cache = TokenCache::new(credentials(&http, &server.url("/token"), "s3cret"));
    let t = with_tokens(&http, &server.base_url(), cache.clone(), RetryPolicy::default());
    for _ in 0..5 {
        let e = within(5, t.send(&Endpoint::get("orders", "orders")))
            .await
            .unwrap_err();
        assert!(e.is_auth(), "{e}");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("Unauthorized request"), "{e}");
    }
    assert_eq!(token.calls_async().await, 2, "the token, and one renewal");
    assert_eq!(api.calls_async().await, 2, "nothing sent during the cool-down");
}

#[tokio::test(start_paused = true)]
async fn a_failing_token_endpoint_is_asked_after_a_growing_cool_down() {
    let server =
        ScriptedServer::start(vec![Reply::json(503, r#"{"error":"temporarily_unavailable"}"#)]).await;
    let http = support::paused_time_http();
    let cache = TokenCache::new(credentials(&http, &format!("{}/token", server.url), "s3cret"));
    // Without retries: five calls, one token request.
    let t = with_tokens(&http, &server.url, cache.clone(), RetryPolicy::none());
    for _ in 0..5 {
        let e = t.send(&Endpoint::get("a", "a")).await.unwrap_err();
        assert_eq!(e.status(), Some(503), "{e}");
        assert!(e.is_retryable(), "a transient failure says so: {e}");
    }
    assert_eq!(server.count(), 1);
    // With retries: each waits out the cool-down (1 s, 2 s, 4 s), never asks sooner.
    tokio::time::advance(Duration::from_secs(1)).await;
    let t = with_tokens(&http, &server.url, cache, fast(3));
    t.send(&Endpoint::get("a", "a")).await.unwrap_err();
    let at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 5, "{at:?}");
    let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]).as_millis() as u64).collect();
    assert_eq!(gaps, [1000, 2000, 4000, 8000], "cool-downs double: {at:?}");
}

#[tokio::test]
async fn a_token_answered_as_already_expired_is_still_used_for_a_while() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok", "expires_in": 0}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/a");
            then.status(200).json_body(json!({}));
        })
        .await;
    let http = http(Duration::from_secs(2));
    let cache = TokenCache::new(credentials(&http, &server.url("/token"), "s3cret"));
    let t = with_tokens(&http, &server.base_url(), cache, RetryPolicy::none());
    for _ in 0..5 {
        within(5, t.send(&Endpoint::get("a", "a"))).await.unwrap();
    }
    assert_eq!(token.calls_async().await, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_zero_still_backs_off() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, "{}").header("retry-after", "0"),
        Reply::json(429, "{}").header("retry-after", "0"),
        Reply::json(429, "{}").header("retry-after", "0"),
        Reply::json(200, "{}"),
    ])
    .await;
    let t = Transport::builder(&support::paused_time_http(), "shop", &server.url)
        .retry(fast(3).with_jitter(false))
        .build()
        .unwrap();
    t.send(&Endpoint::get("a", "a")).await.unwrap();
    let at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]).as_millis() as u64).collect();
    assert_eq!(gaps, [250, 500, 1000], "the normal backoff");
}

/// A provider that announces its budget only in its answers: `limit` calls per second per
/// window starting at its first call, 429 past it.
async fn budget_server(limit: u64) -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    #[derive(Clone)]
    struct S {
        limit: u64,
        window: Arc<std::sync::Mutex<(Option<Instant>, u64)>>,
        ok: Arc<AtomicU64>,
        refused: Arc<AtomicU64>,
    }
    async fn handle(axum::extract::State(s): axum::extract::State<S>) -> (StatusCode, HeaderMap, String) {
        let mut h = HeaderMap::new();
        let now = Instant::now();
        let (admitted, left, reset) = {
            let mut w = s.window.lock().unwrap();
            if w.0
                .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1))
            {
                *w = (Some(now), 0);
            }
            let admitted = w.1 < s.limit;
            if admitted {
                w.1 += 1;
            }
            let reset = Duration::from_secs(1).saturating_sub(now.duration_since(w.0.unwrap()));
            (admitted, s.limit - w.1, reset.as_secs_f64().ceil().max(1.0))
        };
        h.insert("x-ratelimit-limit", s.limit.into());
        h.insert("x-ratelimit-remaining", left.into());
        h.insert("x-ratelimit-reset", (reset as u64).into());
        // The answer takes a little while, as real ones do.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if admitted {
            s.ok.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, h, "{}".into())
        } else {
            s.refused.fetch_add(1, Ordering::SeqCst);
            h.insert("retry-after", 1.into());
            (StatusCode::TOO_MANY_REQUESTS, h, "{}".into())
        }
    }
    let s = S {
        limit,
        window: Arc::default(),
        ok: Arc::default(),
        refused: Arc::default(),
    };
    let (ok, refused) = (s.ok.clone(), s.refused.clone());
    let app = axum::Router::new()
        .route("/a", axum::routing::get(handle))
        .with_state(s);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, ok, refused)
}

async fn burst(limits: RateLimits, callers: usize) -> (u64, u64, usize) {
    let (url, ok, refused) = budget_server(10).await;
    let t = Transport::builder(&support::paused_time_http(), "bol", &url)
        .limits(limits)
        .retry(RetryPolicy::default().with_seed(5))
        .build()
        .unwrap();
    let results = futures_util::future::join_all((0..callers).map(|_| {
        let t = t.clone();
        async move { t.send(&Endpoint::get("a", "a")).await }
    }))
    .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    (ok.load(Ordering::SeqCst), refused.load(Ordering::SeqCst), failed)
}

#[tokio::test(start_paused = true)]
async fn sixty_four_callers_on_a_fresh_client_cause_no_429() {
    let (ok, refused, failed) = burst(RateLimits::slow_start([]), 64).await;
    assert_eq!((ok, refused, failed), (64, 0, 0));
    // The same burst without slow start overruns the budget nobody knew yet: the test has teeth.
    let (_, refused, _) = burst(RateLimits::default(), 64).await;
    assert!(
        refused > 0,
        "a burst on a fresh client without slow start gets 429s"
    );
}

#[tokio::test]
async fn a_create_answered_2xx_with_an_unreadable_body_has_an_unknown_outcome() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Created {
        id: u64,
    }
    let server = ScriptedServer::start(vec![Reply::json(201, "<html>created</html>")]).await;
    let t = plain(&server.url, RetryPolicy::default());
    let create = Endpoint::post("orders.create", "orders").json(&json!({"ref": "A-1"}));
    let e = within(5, t.json::<Created>(&create)).await.unwrap_err();
    assert!(e.is_unconfirmed(), "{e}");
    assert!(
        matches!(&e, Error::Unconfirmed { source, .. } if matches!(**source, Error::Decode(_))),
        "{e:?}"
    );
    assert!(e.may_have_reached_server());
    assert_eq!(server.count(), 1, "never sent again");
    // A read, the same answer: a decode error, safe to try again.
    let e = within(5, t.json::<Created>(&Endpoint::get("orders.get", "orders/1")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e}");
    // A create whose answer is too large to read: unknown outcome too.
    let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(201, &[]))]).await;
    let t = Transport::builder(
        &http(Duration::from_secs(5)).with_max_answer_bytes(1024),
        "shop",
        &server.url,
    )
    .build()
    .unwrap();
    let e = within(5, t.send(&create)).await.unwrap_err();
    assert!(
        matches!(&e, Error::Unconfirmed { source, .. } if matches!(**source, Error::TooLarge { .. })),
        "{e:?}"
    );
}

#[test]
fn user_info_in_a_base_or_token_url_is_refused_and_never_shown() {
    let http = http(Duration::from_secs(1));
    let e = Transport::builder(&http, "shop", "http://user:pa55word@127.0.0.1:9/")
        .build()
        .unwrap_err();
    let e2 = ClientCredentials::new(
        &http,
        "shop",
        "https://user:pa55word@login.example/token",
        "id",
        "secret".to_owned().into(),
    )
    .unwrap_err();
    for e in [e, e2] {
        let shown = format!("{e} {e:?}");
        assert!(e.is_invalid_input() && shown.contains("user info"), "{shown}");
        assert!(!shown.contains("pa55word"), "{shown}");
    }
}

#[tokio::test]
async fn secrets_quoted_back_by_a_provider_never_reach_an_error() {
    let secret = "s3cr3t/+with=odd&chars";
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    // A token endpoint quoting the request it refused.
    let quoted = format!("bad request: grant_type=client_credentials&client_secret={encoded} (raw {secret})");
    let server = ScriptedServer::start(vec![Reply::json(
        400,
        &json!({"error": "invalid_request", "error_description": quoted}).to_string(),
    )])
    .await;
    let http = http(Duration::from_secs(2));
    for auth in [ClientAuth::Body, ClientAuth::Basic, ClientAuth::BasicUnencoded] {
        let cache =
            TokenCache::new(credentials(&http, &format!("{}/token", server.url), secret).client_auth(auth));
        let e = within(
            5,
            with_tokens(&http, &server.url, cache, RetryPolicy::none()).send(&Endpoint::get("a", "a")),
        )
        .await
        .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(e.is_auth(), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
    // An API quoting the bearer token, and a configured key, back in its error.
    let server = ScriptedServer::start(vec![
        Reply::json(200, r#"{"access_token":"tok-SECRET-9","expires_in":299}"#),
        Reply::json(
            403,
            r#"{"message":"token tok-SECRET-9 may not use key k3y-SECRET","violations":[{"name":"k3y-SECRET","reason":"tok-SECRET-9"}]}"#,
        ),
    ])
    .await;
    let cache = TokenCache::new(credentials(&http, &format!("{}/token", server.url), "s3cret"));
    let t = Transport::builder(&http, "shop", &server.url)
        .auth(TokenAuth::bearer(cache))
        .secret(&SecretString::from("k3y-SECRET".to_owned()))
        .build()
        .unwrap();
    let e = within(5, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert_eq!(e.status(), Some(403));
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[tokio::test]
async fn the_token_request_can_carry_its_parameters_in_the_query_and_no_body() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .query_param("grant_type", "client_credentials")
                .header("authorization", "Basic bXktY2xpZW50OnMzY3JldA==")
                .is_true(|req| req.body().is_empty());
            then.status(200)
                .json_body(json!({"access_token": "tok", "expires_in": 299}));
        })
        .await;
    let http = http(Duration::from_secs(2));
    let source = credentials(&http, &server.url("/token"), "s3cret")
        .client_auth(ClientAuth::BasicUnencoded)
        .format(TokenRequestFormat::Query);
    let cache = TokenCache::new(source);
    within(5, cache.get()).await.unwrap();
    token.assert_async().await;
    // The secret never goes in a URL.
    let cache = TokenCache::new(
        credentials(&http, &server.url("/token"), "s3cret")
            .client_auth(ClientAuth::Body)
            .format(TokenRequestFormat::Query),
    );
    let e = cache.get().await.unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    assert_eq!(token.calls_async().await, 1);
}

#[tokio::test]
async fn slow_loris_and_hung_answers_end_with_a_time_out() {
    let answer = hostile::answer(200, &[], br#"{"a":1}"#);
    let cases = [
        Reply::Trickle {
            bytes: answer.clone(),
            every: Duration::from_millis(200),
        },
        // The head, then never the promised body.
        Reply::Stalling(hostile::head(200, &[("content-length", "100")]).into_bytes()),
        // Nothing at all.
        Reply::Stall,
    ];
    for reply in cases {
        let server = ScriptedServer::start(vec![reply]).await;
        let t = Transport::builder(&http(Duration::from_millis(700)), "shop", &server.url)
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let e = within(5, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // A create in the same case is not sent again.
        let e = within(5, t.send(&Endpoint::post("c", "c"))).await.unwrap_err();
        assert!(e.is_unconfirmed(), "{e}");
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = MockServer::start_async().await;
    let stolen = elsewhere
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let server = ScriptedServer::start(vec![
        Reply::json(200, r#"{"access_token":"tok-A","expires_in":299}"#),
        Reply::status(302).header("location", &elsewhere.url("/steal")),
    ])
    .await;
    let http = http(Duration::from_secs(2));
    let cache = TokenCache::new(credentials(&http, &format!("{}/token", server.url), "s3cret"));
    let t = with_tokens(&http, &server.url, cache, RetryPolicy::none());
    let e = within(5, t.send(&Endpoint::get("a", "a"))).await.unwrap_err();
    assert_eq!(e.status(), Some(302), "{e}");
    assert_eq!(
        stolen.calls_async().await,
        0,
        "the token never went to another host"
    );
}

#[tokio::test]
async fn malformed_heads_are_errors_not_panics() {
    let heads: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 200 OK\r\nx-ratelimit-reset: \xff\xfe\r\nretry-after: \xff\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\nx-ratelimit-remaining: -3\r\nx-ratelimit-reset: 1e999\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 999999 WHAT\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\nno colon in this line\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
        b"not http at all\r\n\r\n".to_vec(),
        {
            let mut h = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
            h.extend(std::iter::repeat_n(b'a', 1 << 20));
            h.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\n{}");
            h
        },
    ];
    for head in heads {
        let server = ScriptedServer::start(vec![Reply::Raw(head.clone())]).await;
        let t = plain(&server.url, RetryPolicy::none());
        // Whatever the outcome, it comes back as a value, in bounded time.
        let _ = within(5, t.send(&Endpoint::get("a", "a"))).await;
        let e = within(5, t.send(&Endpoint::post("c", "c"))).await;
        if let Err(e) = e {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn limiter_survives_any_header_value() {
    use proptest::prelude::*;
    let values = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "[0-9eE+\\-.]{1,30}",
        "[ -~]{0,40}",
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        Just("Thu, 01 Jan 1970 00:00:00 GMT".to_owned()),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(14),
        ..Default::default()
    });
    runner
        .run(
            &(values.clone(), values.clone(), values),
            |(retry, remaining, reset)| {
                rt.block_on(async {
                    let mut h = http::HeaderMap::new();
                    for (name, v) in [
                        ("retry-after", &retry),
                        ("x-ratelimit-remaining", &remaining),
                        ("x-ratelimit-reset", &reset),
                    ] {
                        if let Ok(v) = http::HeaderValue::from_str(v) {
                            h.insert(name, v);
                        }
                    }
                    let limiter = RateLimiter::slow_start([]);
                    let permit = limiter.acquire().await;
                    if let Some(wait) = permit.apply_rate_headers(&h).await {
                        prop_assert!(wait <= MAX_SERVER_WAIT);
                    }
                    drop(permit);
                    prop_assert!(limiter.pause_remaining() <= MAX_SERVER_WAIT);
                    if let Some(v) = h.get("retry-after") {
                        let w = commerce_core::parse_retry_after(v, std::time::SystemTime::now());
                        prop_assert!(w.is_none_or(|w| w <= MAX_SERVER_WAIT));
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
}

#[test]
fn token_cache_survives_any_lifetime() {
    use proptest::prelude::*;
    #[derive(Debug)]
    struct Fixed(Option<Duration>);
    #[async_trait::async_trait]
    impl commerce_core::TokenSource for Fixed {
        async fn fetch(&self) -> Result<commerce_core::Token, Error> {
            Ok(commerce_core::Token::new("t".to_owned().into()).with_expires_in(self.0))
        }
    }
    let lifetimes = prop_oneof![
        any::<u64>().prop_map(|s| Some(Duration::from_secs(s))),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Some(Duration::new(s, n))),
        Just(Some(Duration::MAX)),
        Just(None),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 1000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(14),
        ..Default::default()
    });
    runner
        .run(&lifetimes, |life| {
            rt.block_on(async {
                let cache = TokenCache::new(Fixed(life));
                let first = cache.get().await.unwrap();
                tokio::time::advance(Duration::from_secs(20)).await;
                let again = cache.get().await.unwrap();
                // The floor: a token is kept for three quarters of 30 s at least, whatever
                // its life (0 included).
                prop_assert_eq!(again.generation, first.generation);
                tokio::time::advance(Duration::from_secs(25 * 3600)).await;
                let later = cache.get().await.unwrap();
                // The ceiling: no token trusted for more than a day.
                prop_assert!(life.is_none() || later.generation > first.generation);
                Ok(())
            })
        })
        .unwrap();
}
