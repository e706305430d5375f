//! The OAuth2 authorization-code flow with PKCE, and refresh tokens.

use commerce_core::{
    AuthorizationCodeFlow, ExposeSecret, HttpClient, RefreshTokenSource, TokenCache, TokenSource,
};
use httpmock::Method::POST;
use httpmock::MockServer;
use serde_json::json;
/// The S256 challenge of a verifier, computed by the `oauth2` crate on its own.
fn s256(verifier: &str) -> String {
    let v = oauth2::PkceCodeVerifier::new(verifier.to_owned());
    oauth2::PkceCodeChallenge::from_code_verifier_sha256(&v)
        .as_str()
        .to_owned()
}

fn flow(server: &MockServer) -> AuthorizationCodeFlow {
    AuthorizationCodeFlow::new(
        &HttpClient::new("code-flow-test", "0"),
        "shop",
        &server.url("/api/customer/oauth/authorize"),
        &server.url("/api/customer/oauth/access-token"),
        "app-7",
        Some("app-SECRET".to_owned().into()),
        "https://app.example/callback",
    )
    .unwrap()
    .scope("all")
}

#[tokio::test]
async fn the_authorize_url_carries_state_and_an_s256_challenge() {
    let server = MockServer::start_async().await;
    let f = flow(&server);
    let start = f.authorize_url();
    let q: std::collections::HashMap<String, String> = start.url.query_pairs().into_owned().collect();
    assert_eq!(start.url.path(), "/api/customer/oauth/authorize");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "app-7");
    assert_eq!(q["redirect_uri"], "https://app.example/callback");
    assert_eq!(q["scope"], "all");
    assert_eq!(q["state"], start.state);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"], s256(start.pkce_verifier.expose_secret()));
    assert!(!q.contains_key("client_secret"));
    assert_ne!(f.authorize_url().state, start.state, "a fresh state every time");
    assert!(!format!("{start:?} {f:?}").contains(start.pkce_verifier.expose_secret()));
    assert!(!format!("{f:?}").contains("app-SECRET"));
    f.check_state(&start.state, &start.state).unwrap();
    let err = f.check_state(&start.state, "forged").unwrap_err();
    assert!(err.is_auth());
}

#[tokio::test]
async fn the_code_is_exchanged_with_the_verifier_and_refreshed_with_rotation() {
    let server = MockServer::start_async().await;
    let f = flow(&server);
    let start = f.authorize_url();
    let verifier = start.pkce_verifier.expose_secret().to_owned();
    let exchange = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/oauth/access-token")
                .header("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("grant_type", "authorization_code")
                .form_urlencoded_tuple("code", "the-code")
                .form_urlencoded_tuple("code_verifier", verifier.clone())
                .form_urlencoded_tuple("redirect_uri", "https://app.example/callback")
                .form_urlencoded_tuple("client_id", "app-7")
                .form_urlencoded_tuple("client_secret", "app-SECRET");
            then.status(200).json_body(json!({
                "_type": "AccessToken", "token_type": "Bearer", "expires_in": 3600,
                "access_token": "at-1", "refresh_token": "rt-1"
            }));
        })
        .await;
    let token = f.exchange("the-code", &start.pkce_verifier).await.unwrap();
    exchange.assert_async().await;
    assert_eq!(token.secret().expose_secret(), "at-1");
    assert_eq!(token.refresh_token().unwrap().expose_secret(), "rt-1");

    let refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/oauth/access-token")
                .form_urlencoded_tuple("grant_type", "refresh_token")
                .form_urlencoded_tuple("refresh_token", "rt-1")
                .form_urlencoded_tuple("scope", "all");
            then.status(200)
                .json_body(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "at-2", "refresh_token": "rt-2"}));
        })
        .await;
    let source = RefreshTokenSource::new(flow(&server), "rt-1".to_owned().into());
    let cache = TokenCache::new(source);
    assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "at-2");
    refresh.assert_async().await;
    let direct = RefreshTokenSource::new(flow(&server), "rt-1".to_owned().into());
    direct.fetch().await.unwrap();
    assert_eq!(
        direct.current_refresh_token().expose_secret(),
        "rt-2",
        "the rotated token is kept"
    );
}

#[tokio::test]
async fn a_refused_code_is_an_auth_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/customer/oauth/access-token");
            then.status(400).json_body(
                json!({"error": "invalid_grant", "error_description": "The authorization code has expired"}),
            );
        })
        .await;
    let err = flow(&server)
        .exchange("old", &"v".to_owned().into())
        .await
        .unwrap_err();
    assert!(err.is_auth());
    assert_eq!(err.provider_code(), Some("invalid_grant"));
}
