//! Shared by the sandbox's raw-HTTP tests: bol's token request as bol documents it, and
//! Sitejabber's login.
#![allow(dead_code)]

use base64::Engine as _;
use commerce_sandbox::{
    RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET, SITEJABBER_CLIENT_TOKEN, SITEJABBER_EMAIL,
    SITEJABBER_PASSWORD, Sandbox,
};

/// bol's media type for the Retailer API v10.
pub const BOL_V10: &str = "application/vnd.retailer.v10+json";

/// The sandbox's bol credentials as HTTP Basic.
pub fn bol_basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{RETAILER_CLIENT_ID}:{RETAILER_CLIENT_SECRET}"))
    )
}

/// bol's token request as documented: a POST with no body, the grant type in the query.
pub async fn bol_token_request(c: &reqwest::Client, sb: &Sandbox) -> reqwest::Response {
    c.post(format!(
        "{}?grant_type=client_credentials",
        sb.base_urls().bol_token
    ))
    .header("authorization", bol_basic())
    .header("accept", "application/json")
    .send()
    .await
    .unwrap()
}

/// A bol `Authorization` header with a fresh token.
pub async fn bol_bearer(c: &reqwest::Client, sb: &Sandbox) -> String {
    let token: serde_json::Value = bol_token_request(c, sb).await.json().await.unwrap();
    format!("Bearer {}", token["access_token"].as_str().unwrap())
}

/// Sitejabber's `client_token` query parameter.
pub fn sitejabber_client_token() -> String {
    format!("client_token={SITEJABBER_CLIENT_TOKEN}")
}

/// A Sitejabber `user_token` from a login with the business account.
pub async fn sitejabber_login(c: &reqwest::Client, sb: &Sandbox) -> String {
    let login: serde_json::Value = c
        .post(format!(
            "{}login?{}",
            sb.base_urls().sitejabber,
            sitejabber_client_token()
        ))
        .form(&[("email", SITEJABBER_EMAIL), ("password", SITEJABBER_PASSWORD)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_owned()
}
