//! The Customer API client against hostile answers: a gzip body that inflates a
//! thousandfold (the API is gzip-only), a create answered with an unreadable body, and a
//! token endpoint quoting the client secret back.

use commerce_core::{Error, RetryPolicy};
use commerce_testing::hostile::{self, within};
use commerce_testing::{Reply, ScriptedServer};
use customer_api_client::{CustomerApiClient, NewOrder, NewOrderItem};

const SECRET: &str = "cust-SECRET-7";
const TOKEN: &str =
    r#"{"_type":"AccessToken","token_type":"Bearer","expires_in":3600,"access_token":"tok-1"}"#;

fn client(url: &str, limit: Option<u64>) -> CustomerApiClient {
    commerce_testing::sweep::install(&[SECRET, "tok-1"]);
    let mut b = CustomerApiClient::builder("id-1", SECRET.to_owned().into())
        .shop_url(url)
        .retry(RetryPolicy::none());
    if let Some(limit) = limit {
        b = b.max_answer_bytes(limit);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_limit_after_decompression() {
    let bomb = hostile::gzip_bomb(64 << 20);
    let server = ScriptedServer::start(vec![
        Reply::json(200, TOKEN),
        Reply::Raw(hostile::answer(
            200,
            &[("content-encoding", "gzip"), ("content-type", "application/json")],
            &bomb,
        )),
    ])
    .await;
    let err = within(20, client(&server.url, Some(1 << 20)).products_by_code("SKU-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 1 << 20),
        "{err}"
    );
}

#[tokio::test]
async fn a_created_order_whose_answer_cannot_be_read_is_unconfirmed() {
    let order = NewOrder {
        reference: "A-1001".into(),
        items: vec![NewOrderItem {
            code: "SKU-1".into(),
            brand: None,
            quantity: 1,
        }],
        ..Default::default()
    };
    let unreadable = [
        hostile::gzip(b"<html>created</html>"),
        hostile::gzip(br#"{"_type":"Product","code":"SKU-1"}"#),
    ];
    for body in unreadable {
        let server = ScriptedServer::start(vec![
            Reply::json(200, TOKEN),
            Reply::Raw(hostile::answer(
                201,
                &[("content-encoding", "gzip"), ("content-type", "application/json")],
                &body,
            )),
        ])
        .await;
        let err = within(20, client(&server.url, None).create_order(&order))
            .await
            .unwrap_err();
        assert!(err.is_unconfirmed(), "{err}");
        assert_eq!(server.count(), 2, "the order was sent once");
    }
}

#[tokio::test]
async fn a_token_endpoint_quoting_the_secret_does_not_put_it_in_the_error() {
    let server = ScriptedServer::start(vec![Reply::json(
        400,
        &format!(
            r#"{{"error":"invalid_client","error_description":"no client for client_id=id-1&client_secret={SECRET}&scope=all"}}"#
        ),
    )])
    .await;
    let err = within(20, client(&server.url, None).products_by_code("SKU-1"))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(err.is_auth(), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
}
