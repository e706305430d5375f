//! Adversarial tests of "no panic for any header value or token answer" with odd access
//! tokens: characters that cannot go in a header (a header injection attempt among them),
//! empty or blank tokens, non-ASCII, a megabyte-long token, odd token types. All held;
//! the last test records what a client does after one such answer (see its comment).

use commerce_testing as support;

use support::hostile::within;

use std::time::Duration;

use commerce_core::{
    ClientCredentials, Endpoint, Error, HttpClient, RetryPolicy, TokenAuth, TokenCache, Transport,
};
use serde_json::json;
use support::{Reply, ScriptedServer};

fn client(http: &HttpClient, tokens: &ScriptedServer, api: &ScriptedServer) -> (Transport, TokenCache) {
    let cache = TokenCache::new(
        ClientCredentials::new(
            http,
            "shop",
            &format!("{}/token", tokens.url),
            "my-client",
            "s3cret".to_owned().into(),
        )
        .unwrap(),
    );
    let t = Transport::builder(http, "shop", &api.url)
        .auth(TokenAuth::bearer(cache.clone()))
        .retry(RetryPolicy::default().with_delays(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .unwrap();
    (t, cache)
}

#[tokio::test]
async fn odd_access_tokens_never_panic_and_never_inject_headers() {
    let http = HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(Duration::from_secs(3)));
    let long = "L".repeat(1 << 20);
    let cases: Vec<(serde_json::Value, bool)> = vec![
        // (answer, whether a request may reach the API)
        (json!({"access_token": "zq9\r\nx-injected: yes"}), false),
        (json!({"access_token": "zq9\nx-injected: yes"}), false),
        (json!({"access_token": "zq9\u{0}"}), false),
        // Non-ASCII bytes are valid in a header value (obs-text): sent as UTF-8 bytes. (Not
        // scrubbed from errors, though: see `hostile_scrub.rs`.)
        (json!({"access_token": "zq9\u{f6}"}), true),
        (json!({"access_token": "\u{7f}"}), false),
        (json!({"access_token": ""}), true),
        (json!({"access_token": "   "}), true),
        (json!({"access_token": "zq9", "token_type": "mac"}), true),
        (json!({"access_token": "zq9", "token_type": "\u{0}\n"}), true),
        (
            json!({"access_token": "zq9", "token_type": null, "refresh_token": 5}),
            false,
        ),
        (json!({"access_token": long}), true),
    ];
    for (answer, sendable) in cases {
        let tokens = ScriptedServer::start(vec![Reply::json(200, &answer.to_string())]).await;
        let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
        let (t, _cache) = client(&http, &tokens, &api);
        let shown_answer: String = answer.to_string().chars().take(80).collect();
        let r = within(10, t.send(&Endpoint::get("a", "a"))).await;
        if let Err(e) = &r {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("zq9"), "{shown_answer}: {shown}");
            assert!(!shown.contains("LLLL"), "{shown_answer}");
        }
        for req in api.requests() {
            assert!(
                req.header("x-injected").is_none(),
                "{shown_answer}: a header was injected"
            );
        }
        if !sendable {
            assert_eq!(api.count(), 0, "{shown_answer}: {r:?}");
        }
    }
}

/// An access token that cannot be sent in a header: the call fails with `Error::Config`
/// ("the access token holds characters that cannot be sent in a header"), not retryable,
/// and the token is dropped as rejected: the calls during the cool-down (1 s) fail without
/// a token request, and the first call after it gets a new token.
#[tokio::test(start_paused = true)]
async fn an_unsendable_token_is_dropped_and_renewed_after_the_cool_down() {
    let tokens = ScriptedServer::start(vec![
        Reply::json(
            200,
            &json!({"access_token": "bad\ntoken", "expires_in": 299}).to_string(),
        ),
        Reply::json(
            200,
            &json!({"access_token": "good", "expires_in": 299}).to_string(),
        ),
    ])
    .await;
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let http = support::paused_time_http();
    let (t, cache) = client(&http, &tokens, &api);
    for _ in 0..5 {
        let e = t.send(&Endpoint::get("a", "a")).await.unwrap_err();
        assert!(
            matches!(e, Error::Config { .. }) && e.is_invalid_input() && !e.is_retryable(),
            "{e}"
        );
    }
    assert_eq!((cache.token_requests(), api.count()), (1, 0));
    tokio::time::advance(Duration::from_secs(1)).await;
    t.send(&Endpoint::get("a", "a")).await.unwrap();
    assert_eq!((cache.token_requests(), api.count()), (2, 1));
}
