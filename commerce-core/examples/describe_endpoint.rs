//! How a provider crate describes and sends its endpoints, run against a local stand-in
//! for the provider (an httpmock server), so it works with no account and no network.
//!
//! ```sh
//! cargo run -p commerce-core --example describe_endpoint
//! ```

use commerce_core::{
    ClientCredentials, Endpoint, Error, HttpClient, Quota, RateLimits, TokenAuth, TokenCache, Transport,
    encode_segment,
};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct Order {
    #[serde(rename = "orderId")]
    order_id: String,
    status: String,
}

/// A provider client: a `Transport` inside, cheap to clone, shared by every task.
#[derive(Debug, Clone)]
struct ShopClient {
    transport: Transport,
}

impl ShopClient {
    fn new(api_url: &str, token_url: &str, client_id: &str, client_secret: &str) -> Result<Self, Error> {
        let http = HttpClient::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
        let tokens = TokenCache::new(ClientCredentials::new(
            &http,
            "shop",
            token_url,
            client_id,
            client_secret.to_owned().into(),
        )?);
        let transport = Transport::builder(&http, "shop", api_url)
            .auth(TokenAuth::bearer(tokens))
            .limits(RateLimits::new([Quota::per_second(10), Quota::per_hour(1000)]))
            .build()?;
        Ok(ShopClient { transport })
    }

    /// `GET /orders/{id}`: safe to repeat.
    async fn order(&self, id: &str) -> Result<Order, Error> {
        let endpoint = Endpoint::get("orders.get", format!("orders/{}", encode_segment(id)))
            .accept("application/vnd.shop.v1+json");
        self.transport.json(&endpoint).await
    }

    /// `POST /orders`: never re-sent once it may have reached the server.
    async fn create(&self, body: &serde_json::Value) -> Result<Order, Error> {
        let endpoint = Endpoint::post("orders.create", "orders")
            .json(body)
            .bucket("orders");
        self.transport.json(&endpoint).await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The stand-in provider.
    let provider = MockServer::start_async().await;
    let token = provider
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .body("grant_type=client_credentials");
            then.status(200).json_body(
                json!({"access_token": "example-token", "token_type": "Bearer", "expires_in": 300}),
            );
        })
        .await;
    provider
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/orders/A-1")
                .header("authorization", "Bearer example-token")
                .header("accept", "application/vnd.shop.v1+json");
            then.status(200)
                .json_body(json!({"orderId": "A-1", "status": "OPEN"}));
        })
        .await;
    provider
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/orders")
                .header("content-type", "application/json")
                .json_body(json!({"externalId": "A-2"}));
            then.status(201)
                .json_body(json!({"orderId": "A-2", "status": "NEW"}));
        })
        .await;

    let client = ShopClient::new(
        &provider.url("/v1"),
        &provider.url("/token"),
        "example-id",
        "example-secret",
    )?;
    let order = client.order("A-1").await?;
    println!("fetched order {} ({})", order.order_id, order.status);
    let created = client.create(&json!({"externalId": "A-2"})).await?;
    println!("created order {} ({})", created.order_id, created.status);
    // Both calls shared one token.
    assert_eq!(token.calls_async().await, 1);
    println!("token requests: 1; client: {client:?}");
    Ok(())
}
