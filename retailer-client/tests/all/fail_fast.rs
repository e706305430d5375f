//! Issue 27, "fail fast on what cannot pass", for bol: a wrong client secret costs one
//! token request per process however many calls follow (bol bans IPs that ask for tokens
//! too often), each call failing at once with an error that stops the provider; a URL
//! variable that is refused names the variable and never shows its query or user info.

use crate::support;

use std::time::Duration;

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use retailer_client::{RetailerClient, RetailerClientBuilder};
use serde_json::json;
use support::CLIENT_ID;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_wrong_client_secret_costs_one_token_request_and_every_call_stops_at_once() {
    let server = MockServer::start_async().await;
    let tokens = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(401)
                .header("content-type", "application/json")
                .json_body(json!({"error": "invalid_client", "error_description": "Bad client credentials"}));
        })
        .await;
    let orders = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders");
            then.status(200).json_body(json!({}));
        })
        .await;
    let bol = RetailerClient::builder(CLIENT_ID, "wr0ng-secret".to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let mut errors = Vec::new();
    let mut longest = Duration::ZERO;
    // A run that goes on for ten minutes, past every cool-down and the ceiling's window.
    for _ in 0..10 {
        let start = Instant::now();
        errors.push(bol.get_orders(&Default::default()).await.unwrap_err());
        longest = longest.max(start.elapsed());
        tokio::time::advance(Duration::from_secs(61)).await;
    }
    let start = Instant::now();
    let concurrent = futures_util::future::join_all((0..8).map(|_| {
        let bol = bol.clone();
        async move { bol.get_orders(&Default::default()).await.unwrap_err() }
    }))
    .await;
    longest = longest.max(start.elapsed());
    errors.extend(concurrent);
    for err in &errors {
        assert!(
            err.stops_provider() && !err.is_retryable() && err.is_auth(),
            "{err:?}"
        );
        assert_eq!(err.provider_code(), Some("invalid_client"), "{err:?}");
    }
    assert!(longest < Duration::from_secs(1), "a call took {longest:?}");
    let asked = tokens.calls_async().await;
    assert!(asked <= 2, "{asked} token requests");
    assert_eq!(bol.token_requests(), asked as u64);
    orders.assert_calls_async(0).await;
}

#[test]
fn a_refused_url_variable_is_named_without_its_query_or_user_info() {
    let vars = |name: &str| match name {
        "RETAILER_CLIENT_ID" => Some("id".to_owned()),
        "RETAILER_CLIENT_SECRET" => Some("secret".to_owned()),
        "RETAILER_API_URL" => Some("https://user:pa55@api.bol.com/x?token=abc".to_owned()),
        _ => None,
    };
    let err = RetailerClientBuilder::from_vars(&vars).unwrap_err();
    let shown = format!("{err} {err:?}");
    for secret in ["pa55", "abc", "token="] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
    insta::assert_snapshot!(err, @"configuration error: the variable RETAILER_API_URL: refusing the URL `https://api.bol.com/x`: it carries user info (`user:password@`); give credentials to the client's builder instead");

    let vars = |name: &str| match name {
        "RETAILER_CLIENT_ID" => Some("id".to_owned()),
        "RETAILER_CLIENT_SECRET" => Some("secret".to_owned()),
        "RETAILER_TOKEN_URL" => Some("http://login.bol.com/token?client_secret=abc".to_owned()),
        _ => None,
    };
    let err = RetailerClientBuilder::from_vars(&vars).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("abc"), "{err:?}");
    insta::assert_snapshot!(err, @"configuration error: the variable RETAILER_TOKEN_URL: refusing plain http:// to `login.bol.com`: credentials and customer data must travel over https:// (plain http is allowed for loopback hosts only)");
}
