//! The bol client against hostile answers: a 401 on every call (bol says a 401 can mean a
//! blocked account, and bans IPs that ask for tokens too often), an endless answer, and a
//! shipment answered 202 with an unreadable body.

use crate::support;

use commerce_core::Error;
use commerce_testing::hostile::{self, within};
use commerce_testing::{Reply, ScriptedServer};
use httpmock::Method::GET;
use retailer_client::models::{OrderItem, ShipmentRequest};
use retailer_client::{GetOrdersParams, RetailerClient};

#[tokio::test]
async fn a_401_on_every_call_costs_two_token_requests_not_one_per_call() {
    let server = support::setup().await;
    let orders = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders");
            then.status(401)
                .header("content-type", "application/vnd.retailer.v10+json")
                .body(r#"{"type":"https://api.bol.com/problems","title":"Unauthorized","status":401,"detail":"Unauthorized request"}"#);
        })
        .await;
    let client = support::client(&server);
    for _ in 0..5 {
        let err = within(20, client.get_orders(&GetOrdersParams::default()))
            .await
            .unwrap_err();
        assert!(err.is_auth() && !err.is_retryable(), "{err}");
        assert!(err.to_string().contains("Unauthorized request"), "{err}");
    }
    assert_eq!(
        client.token_requests(),
        2,
        "the token and one renewal, then a cool-down"
    );
    assert_eq!(orders.calls_async().await, 2);
}

fn scripted(url: &str) -> RetailerClient {
    RetailerClient::builder(support::CLIENT_ID, support::CLIENT_SECRET.to_owned().into())
        .api_url(url)
        .token_url(format!("{url}/token"))
        .retry(commerce_core::RetryPolicy::none())
        .max_answer_bytes(1 << 20)
        .build()
        .unwrap()
}

const TOKEN: &str = r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":299}"#;

#[tokio::test]
async fn an_endless_answer_stops_at_the_limit() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, TOKEN),
        Reply::Endless(hostile::head(
            200,
            &[("content-type", "application/vnd.retailer.v10+json")],
        )),
    ])
    .await;
    let err = within(20, scripted(&server.url).get_orders(&GetOrdersParams::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_shipment_answered_with_an_unreadable_body_is_unconfirmed() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, TOKEN),
        Reply::json(202, "<html>Accepted</html>"),
    ])
    .await;
    let request = ShipmentRequest {
        order_items: vec![OrderItem {
            order_item_id: "6107434013".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let err = within(20, scripted(&server.url).create_shipment(&request))
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err}");
    assert_eq!(server.count(), 2, "sent once");
}
