//! Shared set-up of the bol tests: a mock server with the token endpoint, and a client for it.
#![allow(dead_code)]

use httpmock::Method::POST;
use httpmock::MockServer;
use retailer_client::RetailerClient;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "bol-client-1";
pub const CLIENT_SECRET: &str = "bol-SECRET-2";

/// `Basic base64(client_id:client_secret)`, as bol documents it.
pub fn basic() -> String {
    // "bol-client-1:bol-SECRET-2"
    "Basic Ym9sLWNsaWVudC0xOmJvbC1TRUNSRVQtMg==".to_owned()
}

/// A mock server whose `/token` hands out `tok-1` for 299 seconds.
pub async fn setup() -> MockServer {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .header("authorization", basic())
                .header("accept", "application/json")
                // "a POST with no body", the grant in the query string.
                .query_param("grant_type", "client_credentials")
                .is_true(|req| req.body().is_empty());
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 299, "scope": "RETAILER"}));
        })
        .await;
    server
}

pub use commerce_testing::fast_retry;

pub fn client(server: &MockServer) -> RetailerClient {
    commerce_testing::sweep::install(&[CLIENT_SECRET, "tok-1"]);
    RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .retry(fast_retry())
        .build()
        .unwrap()
}

/// The value with every number as a float (so `1` and `1.0` compare equal) and without
/// keys holding an empty list (an empty optional list is left out when encoding).
pub fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !matches!(v, Value::Array(a) if a.is_empty()))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
