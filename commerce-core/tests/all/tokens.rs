//! Token requests, the token cache and expired-token recovery.

use commerce_testing as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use commerce_core::{
    ClientAuth, ClientCredentials, Endpoint, Error, ExposeSecret, HttpClient, RetryPolicy, Token, TokenAuth,
    TokenCache, TokenRequestFormat, TokenSource, Transport,
};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use support::{Reply, ScriptedServer};

fn http() -> HttpClient {
    HttpClient::new("commerce-core-tests", "0.0.0")
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn credentials(url: &str) -> ClientCredentials {
    ClientCredentials::new(&http(), "shop", url, "my-client", "my-secret".to_owned().into()).unwrap()
}

/// A token source that hands out `tok-1`, `tok-2`, ... and counts its calls.
#[derive(Debug, Default)]
struct Sequence {
    calls: AtomicU64,
    life: Option<Duration>,
}

#[async_trait]
impl TokenSource for Sequence {
    async fn fetch(&self) -> Result<Token, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Token::new(format!("tok-{n}").into()).with_expires_in(self.life))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_on_a_cold_cache_make_one_token_request() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({"access_token": "tok-A", "token_type": "Bearer", "expires_in": 299}))
                .delay(Duration::from_millis(300));
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/orders")
                .header("authorization", "Bearer tok-A");
            then.status(200).json_body(json!({"orders": []}));
        })
        .await;
    let cache = TokenCache::new(credentials(&server.url("/token")));
    let transport = Transport::builder(&http(), "shop", &server.url("/api"))
        .auth(TokenAuth::bearer(cache.clone()))
        .build()
        .unwrap();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move { t.send(&Endpoint::get("orders.list", "orders")).await })
        })
        .collect();
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap().status(), 200);
    }
    token.assert_calls_async(1).await;
    api.assert_calls_async(200).await;
    assert_eq!(cache.token_requests(), 1);
}

#[tokio::test]
async fn the_token_request_is_a_form_with_http_basic_by_default() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .header("authorization", basic("my-client", "my-secret"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header_exists("user-agent")
                .body("grant_type=client_credentials&scope=orders+offers&audience=api");
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({"access_token": "tok", "token_type": "bearer", "expires_in": "3600"}));
        })
        .await;
    let source = credentials(&server.url("/token"))
        .scope("orders")
        .scope("offers")
        .extra_param("audience", "api");
    let t = source.fetch().await.unwrap();
    token.assert_async().await;
    assert_eq!(t.secret().expose_secret(), "tok");
    assert_eq!(
        t.expires_in(),
        Some(Duration::from_secs(3600)),
        "a string expires_in is read"
    );
}

#[tokio::test]
async fn the_token_request_can_be_json_with_credentials_in_the_body() {
    let server = ScriptedServer::start(vec![Reply::json(200, r#"{"access_token":"tok"}"#)]).await;
    let source = credentials(&format!("{}/oauth/token", server.url))
        .client_auth(ClientAuth::Body)
        .format(TokenRequestFormat::Json)
        .scope("*");
    let t = source.fetch().await.unwrap();
    assert_eq!(t.expires_in(), None, "no expires_in: no known expiry");
    let sent = &server.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("POST", "/oauth/token")
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("authorization"), None);
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    insta::assert_json_snapshot!("token_request_json_body", body);
}

#[tokio::test]
async fn basic_auth_encodes_the_credentials_as_rfc_6749_or_as_they_are() {
    let server = MockServer::start_async().await;
    let rfc = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/rfc")
                .header("authorization", basic("my-client", "a%2Bb%2Fc%3D"))
                .body("grant_type=client_credentials");
            then.status(200).json_body(json!({"access_token": "t"}));
        })
        .await;
    let raw = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/raw")
                .header("authorization", basic("my-client", "a+b/c="))
                .body("grant_type=client_credentials");
            then.status(200).json_body(json!({"access_token": "t"}));
        })
        .await;
    let source = |path: &str| {
        ClientCredentials::new(
            &http(),
            "bol",
            &server.url(path),
            "my-client",
            "a+b/c=".to_owned().into(),
        )
        .unwrap()
    };
    source("/rfc").fetch().await.unwrap();
    source("/raw")
        .client_auth(ClientAuth::BasicUnencoded)
        .fetch()
        .await
        .unwrap();
    rfc.assert_async().await;
    raw.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn an_expiring_token_is_refreshed_once_by_many_callers() {
    let source = Sequence {
        life: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let cache = TokenCache::with_margin(source, Duration::from_secs(30), Duration::ZERO);
    assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "tok-1");
    tokio::time::advance(Duration::from_secs(200)).await;
    assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "tok-1");
    assert_eq!(cache.token_requests(), 1, "still fresh: no request");
    // 30 s before expiry it is due; fifty callers at once refresh it once.
    tokio::time::advance(Duration::from_secs(71)).await;
    let leases = futures_util::future::join_all((0..50).map(|_| cache.get())).await;
    assert!(
        leases
            .iter()
            .all(|l| l.as_ref().unwrap().secret.expose_secret() == "tok-2")
    );
    assert_eq!(cache.token_requests(), 2);
}

#[tokio::test]
async fn an_expired_answer_causes_one_refresh_and_one_retry() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            401,
            r#"{"error":"invalid_token","error_description":"The access token expired"}"#,
        ),
        Reply::json(200, r#"{"ok":true}"#),
    ])
    .await;
    let cache = TokenCache::new(Sequence::default());
    let transport = Transport::builder(&http(), "shop", &server.url)
        .auth(TokenAuth::bearer(cache.clone()))
        .build()
        .unwrap();
    cache.get().await.unwrap();
    // A create: a 401 means it was refused before it acted, so it is safe to send again.
    let answer = transport
        .send(&Endpoint::post("orders.create", "orders").json(&json!({"id": 1})))
        .await;
    assert_eq!(answer.unwrap().status(), 200);
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(sent[1].header("authorization"), Some("Bearer tok-2"));
    assert_eq!(cache.token_requests(), 2);
}

#[tokio::test]
async fn a_second_refusal_with_a_fresh_token_is_an_auth_error_not_a_loop() {
    let server = ScriptedServer::start(vec![Reply::json(
        401,
        r#"{"error":"invalid_token","error_description":"Expired JWT"}"#,
    )])
    .await;
    let cache = TokenCache::new(Sequence::default());
    let transport = Transport::builder(&http(), "bol", &server.url)
        .auth(TokenAuth::bearer(cache.clone()))
        .retry(RetryPolicy::default().with_max_retries(5))
        .build()
        .unwrap();
    let err = transport
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    assert!(err.is_auth() && !err.is_retryable());
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.provider_code(), Some("invalid_token"));
    assert_eq!(server.count(), 2);
    assert_eq!(cache.token_requests(), 2);
    insta::assert_snapshot!("auth_error_after_refresh", err);
}

#[tokio::test]
async fn the_jwt_exp_claim_shortens_the_lifetime() {
    let exp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 100;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#));
    let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        &format!(r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":299}}"#),
    )])
    .await;
    let t = credentials(&server.url).fetch().await.unwrap();
    let life = t.expires_in().unwrap();
    assert!(
        life <= Duration::from_secs(100) && life >= Duration::from_secs(90),
        "{life:?}"
    );
    let t = credentials(&server.url)
        .read_jwt_expiry(false)
        .fetch()
        .await
        .unwrap();
    assert_eq!(t.expires_in(), Some(Duration::from_secs(299)));
}

#[tokio::test]
async fn token_endpoint_errors_are_typed() {
    let refused = ScriptedServer::start(vec![Reply::json(
        401,
        r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
    )])
    .await;
    let err = credentials(&refused.url).fetch().await.unwrap_err();
    assert!(err.is_auth());
    assert_eq!(
        (err.status(), err.provider_code()),
        (Some(401), Some("invalid_client"))
    );
    insta::assert_snapshot!("token_invalid_client", err);

    let down = ScriptedServer::start(vec![Reply::status(503).header("retry-after", "5")]).await;
    let err = credentials(&down.url).fetch().await.unwrap_err();
    assert!(err.is_retryable() && !err.is_auth(), "{err:?}");
    assert_eq!(err.status(), Some(503));

    let gone = ScriptedServer::start(vec![Reply::json(400, "<html>no</html>")]).await;
    let err = credentials(&gone.url).fetch().await.unwrap_err();
    assert!(err.is_auth());
    assert!(
        err.to_string().contains("<html>no</html>"),
        "an error answer may be quoted: {err}"
    );
}

#[tokio::test]
async fn a_token_answer_that_cannot_be_read_is_never_quoted() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        r#"{"access_token":"s3cret-token-value","expires_in":{"oops":"s3cret-token-value"}}"#,
    )])
    .await;
    let err = credentials(&server.url).fetch().await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[tokio::test]
async fn empty_credentials_and_plain_http_token_urls_are_refused_before_sending() {
    let err = ClientCredentials::new(
        &http(),
        "shop",
        "https://x.example/token",
        " ",
        "s".to_owned().into(),
    )
    .unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("client id is empty"),
        "{err}"
    );
    let err = ClientCredentials::new(
        &http(),
        "shop",
        "https://x.example/token",
        "id",
        "".to_owned().into(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("client secret is empty"), "{err}");
    let err = ClientCredentials::new(
        &http(),
        "shop",
        "http://login.example.com/token",
        "id",
        "s".to_owned().into(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"), "{err}");
}

#[tokio::test]
async fn a_refresh_while_others_hold_the_old_token_invalidates_once() {
    // Two calls sent with tok-1 both come back expired: one refresh, both retried once.
    let server = ScriptedServer::start(vec![
        Reply::json(401, r#"{"error":"invalid_token"}"#),
        Reply::json(401, r#"{"error":"invalid_token"}"#),
        Reply::json(200, "{}"),
    ])
    .await;
    let cache = TokenCache::new(Sequence::default());
    let transport = Arc::new(
        Transport::builder(&http(), "shop", &server.url)
            .auth(TokenAuth::bearer(cache.clone()))
            .build()
            .unwrap(),
    );
    cache.get().await.unwrap();
    let (ea, eb) = (Endpoint::get("a", "a"), Endpoint::get("b", "b"));
    let (a, b) = tokio::join!(transport.send(&ea), transport.send(&eb));
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(
        cache.token_requests(),
        2,
        "the stale generation is invalidated only once"
    );
}
