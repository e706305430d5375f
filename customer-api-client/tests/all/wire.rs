//! The Customer API on the wire.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use commerce_core::{Endpoint, Fulfilment, FulfilmentState, PreparedSubmission, ReferenceCheck};
use commerce_testing::{Reply, ScriptedServer};
use customer_api_client::{CustomerApiClient, NewOrder, NewOrderItem, Paths};
use httpmock::Method::{GET, POST};
use httpmock::{HttpMockRequest, MockServer};
use serde_json::{Value, json};

const ID: &str = "d194b033-1975-43e5-a083-96bdbe3ea1cd";
const SECRET: &str = "164381f6-dcea-46c1-bf8f-f9f22288970c";

fn gzip(body: &Value) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body.to_string().as_bytes()).unwrap();
    e.finish().unwrap()
}

fn client(url: &str) -> CustomerApiClient {
    commerce_testing::sweep::install(&[SECRET, "tok-1"]);
    CustomerApiClient::builder(ID, SECRET.to_owned().into())
        .shop_url(url)
        .retry(commerce_testing::fast_retry())
        .build()
        .unwrap()
}

#[derive(Clone, Default)]
struct Bodies(Arc<Mutex<Vec<String>>>);

impl Bodies {
    fn matcher(&self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let seen = self.0.clone();
        move |req: &HttpMockRequest| {
            seen.lock().unwrap().push(req.body_string());
            true
        }
    }
    fn last(&self) -> String {
        self.0.lock().unwrap().last().cloned().unwrap()
    }
}

/// The token endpoint, answering `tok-1`; its request bodies are recorded.
async fn tokens(server: &MockServer) -> (httpmock::Mock<'_>, Bodies) {
    let bodies = Bodies::default();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/oauth/access-token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept-encoding", "gzip")
                .header_missing("authorization")
                .is_true(bodies.matcher());
            then.status(200).header("content-type", "application/json; charset=utf-8").json_body(json!({
                "_type": "AccessToken", "token_type": "Bearer", "expires_in": 3600, "access_token": "tok-1"
            }));
        })
        .await;
    (mock, bodies)
}

#[tokio::test]
async fn the_token_request_is_a_form_with_the_credentials_and_scope_all() {
    let server = MockServer::start_async().await;
    let (token, bodies) = tokens(&server).await;
    let products = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .header("authorization", "Bearer tok-1");
            then.status(200).json_body(json!([]));
        })
        .await;
    let c = client(&server.base_url());
    c.products_by_code("8712345678906").await.unwrap();
    c.products_by_code("8712345678913").await.unwrap();
    token.assert_calls_async(1).await;
    products.assert_calls_async(2).await;
    assert_eq!(
        bodies.last(),
        format!("grant_type=client_credentials&client_id={ID}&client_secret={SECRET}&scope=all")
    );
    insta::assert_snapshot!("token_body", bodies.last().replace(SECRET, "[secret]"));
}

#[tokio::test]
async fn gzip_is_asked_on_every_request_and_gzip_answers_decode() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let answer = json!([{
        "_type": "Product", "id": 77, "code": "8712345678906", "brand": {"_type": "Brand", "name": "Gazelle"},
        "name": "Orange C7", "availability": {"_type": "Availability", "quantity": "14", "status": "in_stock"},
        "price": {"_type": "Price", "amount": "612.40", "with_vat": 741.0, "currency": "EUR"}, "ean": "8712345678906"
    }]);
    let products = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .query_param("code", "8712345678906")
                .header("accept-encoding", "gzip")
                .header("accept", "application/json");
            then.status(200)
                .header("content-type", "application/json; charset=utf-8")
                .header("content-encoding", "gzip")
                .body(gzip(&answer));
        })
        .await;
    let c = client(&server.base_url());
    let found = c.products_by_code("8712345678906").await.unwrap();
    assert_eq!(found[0].brand.as_deref(), Some("Gazelle"));
    let a = found[0].availability.as_ref().unwrap();
    assert_eq!(
        (a.quantity, a.in_stock, a.status.as_deref()),
        (Some(14), Some(true), Some("in_stock"))
    );
    let p = found[0].price.as_ref().unwrap();
    assert_eq!(
        (p.amount.clone(), p.amount_with_vat.clone(), p.currency.as_deref()),
        (Some(eur(61240)), Some(eur(74100)), Some("EUR"))
    );
    assert_eq!(found[0].extra["ean"], "8712345678906", "unknown fields are kept");
    // Even a call that asks for no compression goes out with gzip.
    let raw = c
        .transport()
        .send(
            &Endpoint::get("products.raw", "api/customer/products")
                .query("code", "8712345678906")
                .header(http::header::ACCEPT_ENCODING, "identity"),
        )
        .await
        .unwrap();
    assert_eq!(raw.json::<Value>().unwrap(), answer);
    products.assert_calls_async(2).await;
}

#[tokio::test]
async fn a_product_by_brand_and_code() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .query_param("code", "C7")
                .query_param("brand", "Gazelle");
            then.status(200)
                .json_body(json!({"_type": "ProductCollection", "items": [
                    {"_type": "Product", "code": "C7", "brand": "Gazelle", "availability": 3, "price": 612.4}
                ]}));
        })
        .await;
    let p = client(&server.base_url())
        .product("Gazelle", "C7")
        .await
        .unwrap()
        .unwrap();
    m.assert_async().await;
    assert_eq!(p.availability.unwrap().available(), 3);
    assert_eq!(p.price.unwrap().amount, Some(eur(61240)));
}

#[tokio::test]
async fn an_order_is_sent_as_json_and_read_back() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let bodies = Bodies::default();
    let m = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/orders")
                .header("content-type", "application/json")
                .header("accept-encoding", "gzip")
                .json_body(json!({
                    "reference": "A-1001",
                    "items": [{"code": "8712345678906", "quantity": 2}, {"code": "C7", "brand": "Gazelle", "quantity": 1}],
                    "note": "please ring"
                }))
                .is_true(bodies.matcher());
            then.status(201).json_body(json!({
                "_type": "Order", "id": 5501, "reference": "A-1001", "payment_status": "unpaid",
                "processing_status": "new", "items": [{"code": "8712345678906", "quantity": 2}]
            }));
        })
        .await;
    let order = client(&server.base_url())
        .create_order(&NewOrder {
            reference: "A-1001".into(),
            items: vec![
                NewOrderItem {
                    code: "8712345678906".into(),
                    brand: None,
                    quantity: 2,
                },
                NewOrderItem {
                    code: "C7".into(),
                    brand: Some("Gazelle".into()),
                    quantity: 1,
                },
            ],
            delivery_address: None,
            note: Some("please ring".into()),
        })
        .await
        .unwrap();
    m.assert_async().await;
    insta::assert_snapshot!("create_order_body", bodies.last());
    assert_eq!(order.id, "5501");
    assert_eq!(order.items[0].quantity, Some(2));
}

#[tokio::test]
async fn a_bad_order_is_refused_before_sending() {
    let server = MockServer::start_async().await;
    let (token, _) = tokens(&server).await;
    let err = client(&server.base_url())
        .create_order(&NewOrder {
            reference: "".into(),
            items: vec![NewOrderItem {
                code: " ".into(),
                brand: None,
                quantity: 0,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    insta::assert_snapshot!("invalid_order", err);
    token.assert_calls_async(0).await;
}

#[tokio::test]
async fn orders_page_until_an_empty_page_and_one_order_has_its_details() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let page1 = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders").query_param("page", "1");
            then.status(200).json_body(json!({"_type": "OrderCollection", "data": [
                {"_type": "Order", "id": "5501", "reference": "A-1001", "payment_status": "paid", "processing_status": "shipped"},
                {"_type": "Order", "id": "5502", "reference": "A-1002", "payment_status": "unpaid", "processing_status": "processing"}
            ]}));
        })
        .await;
    let page2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/orders")
                .query_param("page", "2");
            then.status(200)
                .json_body(json!({"_type": "OrderCollection", "data": []}));
        })
        .await;
    let detail = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders/5501");
            then.status(200).json_body(json!({"_type": "Order", "id": 5501, "reference": "A-1001",
                "payment_status": "paid", "processing_status": "shipped",
                "items": [{"code": "8712345678906", "name": "Orange C7", "quantity": 1, "price": {"amount": 612.4, "currency": "EUR"}}],
                "shipments": [{"carrier": "PostNL", "tracking_number": "3SABCD1234567", "tracking_url": "https://postnl.example/3SABCD1234567", "shipped_at": "2026-11-21 15:00:00"}]}));
        })
        .await;
    let c = client(&server.base_url());
    use futures_util::TryStreamExt;
    let all: Vec<_> = c.orders_stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 2);
    page1.assert_calls_async(1).await;
    page2.assert_calls_async(1).await;
    let one = c.order("5501").await.unwrap();
    detail.assert_async().await;
    assert_eq!(one.items[0].price.as_ref().unwrap().amount, Some(eur(61240)));
    let status = c.status("5501").await.unwrap();
    assert_eq!(status.state, FulfilmentState::Shipped);
    assert_eq!(
        status.shipments[0].tracking.as_ref().unwrap().code,
        "3SABCD1234567"
    );
    assert_eq!(
        c.find_order_by_reference("A-1002").await.unwrap().unwrap().id,
        "5502"
    );
}

#[tokio::test]
async fn an_answer_of_another_type_is_a_decode_error() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders/9");
            then.status(200)
                .json_body(json!({"_type": "Product", "code": "X"}));
        })
        .await;
    let err = client(&server.base_url()).order("9").await.unwrap_err();
    insta::assert_snapshot!("wrong_type", err);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_retried_once() {
    let server = MockServer::start_async().await;
    let n = Arc::new(AtomicU32::new(0));
    let first = n.clone();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/oauth/access-token")
                .is_true(move |_| first.fetch_add(1, Ordering::SeqCst) == 0);
            then.status(200).json_body(json!({"_type": "AccessToken", "token_type": "Bearer", "expires_in": 3600, "access_token": "tok-1"}));
        })
        .await;
    let later = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/customer/oauth/access-token");
            then.status(200).json_body(json!({"_type": "AccessToken", "token_type": "Bearer", "expires_in": 3600, "access_token": "tok-2"}));
        })
        .await;
    let expired = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/orders/1")
                .header("authorization", "Bearer tok-1");
            then.status(401).header("content-encoding", "gzip").body(gzip(
                &json!({"error": "invalid_token", "error_description": "The access token expired"}),
            ));
        })
        .await;
    let fresh = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/orders/1")
                .header("authorization", "Bearer tok-2");
            then.status(200).json_body(json!({"_type": "Order", "id": 1}));
        })
        .await;
    let c = client(&server.base_url());
    assert_eq!(c.order("1").await.unwrap().id, "1");
    expired.assert_calls_async(1).await;
    fresh.assert_calls_async(1).await;
    later.assert_calls_async(1).await;
    assert_eq!(c.token_requests(), 2);
}

#[tokio::test]
async fn each_documented_error_shape() {
    // invalid_client on the token request.
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/customer/oauth/access-token");
            then.status(401).json_body(json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed", "status": 401}));
        })
        .await;
    let err = client(&server.base_url()).order("1").await.unwrap_err();
    assert!(err.is_auth());
    assert_eq!(err.provider_code(), Some("invalid_client"));
    insta::assert_snapshot!("invalid_client", err);

    // access_denied (400, an invalid token): an auth error, not retried.
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let denied = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders/1");
            then.status(400).header("content-encoding", "gzip").body(gzip(&json!({
                "error": "access_denied", "error_description": "The resource owner or authorization server denied the request.", "status": 400
            })));
        })
        .await;
    let err = client(&server.base_url()).order("1").await.unwrap_err();
    assert!(err.is_auth());
    assert_eq!(err.provider_code(), Some("access_denied"));
    denied.assert_calls_async(1).await;
    insta::assert_snapshot!("access_denied", err);

    // A 400 for a request without gzip (what the API documents) keeps its words.
    let server = MockServer::start_async().await;
    tokens(&server).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders/1");
            then.status(400)
                .json_body(json!({"error": "bad_request", "message": "Accept-Encoding gzip required"}));
        })
        .await;
    let err = client(&server.base_url()).order("1").await.unwrap_err();
    assert_eq!(err.provider_code(), Some("bad_request"));
}

#[tokio::test]
async fn https_only() {
    let err = CustomerApiClient::builder(ID, SECRET.to_owned().into())
        .shop_url("http://theshopname.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"));
    let err = CustomerApiClient::builder(ID, SECRET.to_owned().into())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("shop_url: is required"), "{err}");
    let c = client("https://theshopname.com");
    assert!(!format!("{c:?}").contains(SECRET));
}

#[tokio::test]
async fn a_lost_submission_is_settled_by_its_reference() {
    // The token, then the order is received and the connection dropped, then the list shows it.
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            r#"{"_type":"AccessToken","token_type":"Bearer","expires_in":3600,"access_token":"t"}"#,
        ),
        Reply::Drop,
        Reply::json(
            200,
            r#"[{"_type":"Order","id":"7001","reference":"bol-42","processing_status":"new"}]"#,
        ),
        Reply::json(200, "[]"),
    ])
    .await;
    let c = client(&server.url);
    let order = commerce_core::Order {
        id: "bol-42".into(),
        channel: "bol".into(),
        lines: vec![commerce_core::LineItem {
            ean: Some("8712345678906".into()),
            quantity: 1,
            ..Default::default()
        }],
        shipping_address: commerce_core::Address {
            first_name: "Jan".into(),
            last_name: "Visser".into(),
            street: "Damrak".into(),
            house_number: "1".into(),
            postcode: "1012 LG".into(),
            city: "Amsterdam".into(),
            country: "nl".into(),
            ..Default::default()
        },
        customer: commerce_core::Customer {
            email: "jan@example.com".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let receipt = c.submit(&order).await.unwrap();
    assert!(receipt.already_submitted);
    assert_eq!(receipt.reference, "7001");
    let sent = server.requests();
    assert_eq!(sent.len(), 3, "the create was sent once, then looked up");
    let body: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(body["items"], json!([{"code": "8712345678906", "quantity": 1}]));
    assert_eq!(body["delivery_address"]["street"], "Damrak 1");
    assert_eq!(body["delivery_address"]["country"], "NL");
    assert!(
        c.cancel("7001")
            .await
            .unwrap_err()
            .to_string()
            .contains("not supported")
    );
}

/// The sandbox's soak sequence that created a Customer API order twice: the create went
/// through but its answer was garbled, and the list read to settle it failed (503 on
/// every attempt). `send` must leave the outcome unknown (`Unconfirmed`, for the caller
/// to look up again later), not pass on the list's 503, which a caller takes for a
/// refusal of the create and sends it again.
#[tokio::test]
async fn a_lost_submission_whose_look_up_fails_stays_unconfirmed() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            r#"{"_type":"AccessToken","token_type":"Bearer","expires_in":3600,"access_token":"t"}"#,
        ),
        Reply::Raw(commerce_testing::hostile::answer(
            201,
            &[("content-type", "text/html")],
            b"<html><body>502 upstream hiccup (the request went through)</body></html>",
        )),
        Reply::json(503, r#"{"message":"unavailable"}"#),
    ])
    .await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.url));
    let prepared = c.prepare(&bol_order()).await.unwrap();
    let err = c.send(&prepared).await.unwrap_err();
    assert!(err.is_unconfirmed(), "{err}");
    assert!(err.to_string().contains("orders.create"), "{err}");
    let sent = server.requests();
    let creates = sent
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/api/customer/orders");
    assert_eq!(creates.count(), 1, "the create was sent once");
    let reads: Vec<&str> = sent[2..].iter().map(|r| r.target.as_str()).collect();
    assert!(
        !reads.is_empty() && reads.iter().all(|t| *t == "/api/customer/orders?page=1"),
        "then only the list was read: {reads:?}"
    );
}

#[tokio::test]
async fn paths_are_one_setting_and_the_code_flow_uses_them() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/custom/token");
            then.status(200).json_body(json!({"access_token": "t"}));
        })
        .await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET).path("/custom/items").query_param("code", "X");
            then.status(200).json_body(json!([]));
        })
        .await;
    let c = CustomerApiClient::builder(ID, SECRET.to_owned().into())
        .shop_url(server.base_url())
        .paths(Paths {
            token: "custom/token".into(),
            authorize: "custom/authorize".into(),
            products: "custom/items".into(),
            orders: "custom/orders".into(),
        })
        .build()
        .unwrap();
    c.products_by_code("X").await.unwrap();
    token.assert_async().await;
    m.assert_async().await;
    let flow = c
        .authorization_code_flow("app", None, "https://app.example/cb")
        .unwrap();
    assert!(
        flow.authorize_url()
            .url
            .as_str()
            .starts_with(&format!("{}/custom/authorize?", server.base_url()))
    );
}

/// The processing status words the supplier may send, as states: `partially_shipped` is not
/// shipped in full (it was read as shipped, so bol was confirmed after the first parcel).
#[test]
fn processing_statuses_read_as_states() {
    use commerce_core::FulfilmentState;
    let state = |status: &str| {
        let order: customer_api_client::Order =
            serde_json::from_value(serde_json::json!({"id": "5004", "processing_status": status})).unwrap();
        customer_api_client::state_of(&order)
    };
    assert_eq!(state("partially_shipped"), FulfilmentState::PartiallyShipped);
    assert_eq!(state("Partially Shipped"), FulfilmentState::PartiallyShipped);
    assert_eq!(state("shipped"), FulfilmentState::Shipped);
    assert_eq!(state("delivered"), FulfilmentState::Shipped);
    assert_eq!(state("processing"), FulfilmentState::Processing);
    assert_eq!(state("new"), FulfilmentState::Received);
    assert_eq!(state("cancelled"), FulfilmentState::Cancelled);
}

/// A bol order of two lines (one by EAN, one by SKU) to Amsterdam.
fn bol_order() -> commerce_core::Order {
    commerce_core::Order {
        id: "bol-42".into(),
        channel: "bol".into(),
        lines: vec![
            commerce_core::LineItem {
                line_id: "L1".into(),
                ean: Some("8712345678906".into()),
                quantity: 2,
                ..Default::default()
            },
            commerce_core::LineItem {
                line_id: "L2".into(),
                sku: Some("c7".into()),
                quantity: 1,
                ..Default::default()
            },
        ],
        shipping_address: commerce_core::Address {
            first_name: "Jan".into(),
            last_name: "Visser".into(),
            street: "Damrak".into(),
            house_number: "1".into(),
            postcode: "1012 LG".into(),
            city: "Amsterdam".into(),
            country: "nl".into(),
            phone: Some("0612345678".into()),
            ..Default::default()
        },
        customer: commerce_core::Customer {
            email: "jan@example.com".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `POST /api/customer/orders` answering a created order; its bodies are recorded.
async fn create_mock(server: &MockServer) -> (httpmock::Mock<'_>, Bodies) {
    let bodies = Bodies::default();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/customer/orders")
                .is_true(bodies.matcher());
            then.status(201).json_body(json!({
                "_type": "Order", "id": "7001", "reference": "bol-42", "processing_status": "new"
            }));
        })
        .await;
    (mock, bodies)
}

#[tokio::test]
async fn prepare_sends_nothing_and_send_makes_the_one_create_submit_makes() {
    let server = MockServer::start_async().await;
    let (token, _) = tokens(&server).await;
    let (create, bodies) = create_mock(&server).await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.base_url()));
    let order = bol_order();
    let prepared = c.prepare(&order).await.unwrap();
    token.assert_calls_async(0).await;
    create.assert_calls_async(0).await;
    assert_eq!(
        (prepared.provider.as_str(), prepared.order_id.as_str()),
        ("customer-api", "bol-42")
    );
    let prepared: PreparedSubmission =
        serde_json::from_str(&serde_json::to_string(&prepared).unwrap()).unwrap();
    let receipt = c.send(&prepared).await.unwrap();
    assert_eq!(
        (receipt.reference.as_str(), receipt.already_submitted),
        ("7001", false)
    );
    create.assert_calls_async(1).await;
    let sent = bodies.last();
    insta::assert_snapshot!("submitted_order_body", sent);

    // `submit` sends the same body, once.
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let (create, bodies) = create_mock(&server).await;
    client(&server.base_url()).submit(&order).await.unwrap();
    create.assert_calls_async(1).await;
    assert_eq!(bodies.last(), sent);
}

#[tokio::test]
async fn send_refuses_another_providers_or_an_unreadable_submission_before_sending() {
    let server = MockServer::start_async().await;
    let (token, _) = tokens(&server).await;
    let (create, _) = create_mock(&server).await;
    let c = client(&server.base_url());
    let foreign = PreparedSubmission::new("shopwedo", "bol-42", json!({"reference": "bol-42", "items": []}));
    let err = c.send(&foreign).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert_eq!(err.field_errors()[0].field, "provider");
    for payload in [
        json!({"reference": 42, "items": []}),
        json!({"items": []}),
        json!("bol-42"),
    ] {
        let garbled = PreparedSubmission::new("customer-api", "bol-42", payload.clone());
        let err = c.send(&garbled).await.unwrap_err();
        assert!(err.is_invalid_input(), "{payload}: {err}");
        assert_eq!(err.field_errors()[0].field, "payload", "{payload}");
    }
    let empty = PreparedSubmission::new(
        "customer-api",
        "bol-42",
        json!({"reference": "bol-42", "items": []}),
    );
    let err = c.send(&empty).await.unwrap_err();
    assert!(
        err.to_string().contains("items: at least one item is required"),
        "{err}"
    );
    token.assert_calls_async(0).await;
    create.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_purged_order_is_refused_field_by_field_before_anything_is_sent() {
    let server = MockServer::start_async().await;
    let (token, _) = tokens(&server).await;
    let (create, _) = create_mock(&server).await;
    let c = client(&server.base_url());
    let mut order = bol_order();
    order.shipping_address = commerce_core::Address {
        first_name: " ".into(),
        house_number: "1".into(),
        email: Some("".into()),
        ..Default::default()
    };
    order.customer.email = "".into();
    for err in [
        c.prepare(&order).await.unwrap_err(),
        c.submit(&order).await.unwrap_err(),
        c.new_order_for(&order).unwrap_err(),
    ] {
        assert!(err.is_invalid_input(), "{err}");
        let fields: Vec<&str> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "delivery_address.name",
                "delivery_address.street",
                "delivery_address.city",
                "delivery_address.zip",
                "delivery_address.country",
                "delivery_address.email"
            ],
            "{err}"
        );
    }
    // A street of blanks is no street either.
    order.shipping_address.street = " ".into();
    let err = c.prepare(&order).await.unwrap_err();
    assert!(
        err.to_string().contains("delivery_address.street: is required"),
        "{err}"
    );
    // The typed call refuses a blank delivery address too.
    let err = c
        .create_order(&NewOrder {
            reference: "A-1".into(),
            items: vec![NewOrderItem {
                code: "8712345678906".into(),
                brand: None,
                quantity: 1,
            }],
            delivery_address: Some(customer_api_client::Address {
                country: "NLD".into(),
                email: Some("jan-at-example".into()),
                ..Default::default()
            }),
            note: None,
        })
        .await
        .unwrap_err();
    insta::assert_snapshot!("blank_delivery_address", err);
    token.assert_calls_async(0).await;
    create.assert_calls_async(0).await;
}

/// `GET /api/customer/orders/{id}` answering `status` and `body`; the check of `reference`
/// against `order`, and the number of reads.
async fn check(
    status: u16,
    body: Value,
    reference: &str,
    order: &commerce_core::Order,
) -> (Result<ReferenceCheck, commerce_core::Error>, usize) {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let read = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/customer/orders/7001");
            then.status(status).json_body(body);
        })
        .await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.base_url()));
    let result = c.check_reference(reference, order).await;
    (result, read.calls_async().await)
}

#[tokio::test]
async fn a_reference_is_checked_against_the_order_at_the_shop() {
    let order = bol_order();
    let shop_order = |reference: Value, items: Value| json!({"_type": "Order", "id": "7001", "reference": reference, "processing_status": "new", "items": items});
    let lines = json!([{"code": "8712345678906", "quantity": 2}, {"code": "C7", "brand": "Gazelle", "quantity": "1"}]);
    let (result, reads) = check(200, shop_order(json!("bol-42"), lines.clone()), " 7001 ", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::Matches);
    assert_eq!(reads, 1);
    // Another order's number, as an operator may type it.
    let (result, _) = check(200, shop_order(json!("bol-43"), lines.clone()), "7001", &order).await;
    assert_eq!(
        result.unwrap(),
        ReferenceCheck::Mismatch("customer-api order 7001 has the reference `bol-43`, not `bol-42`".into())
    );
    let (result, _) = check(200, shop_order(Value::Null, lines), "7001", &order).await;
    assert!(matches!(&result.unwrap(), ReferenceCheck::Mismatch(m) if m.contains("carries no reference")));
    // The right reference, other lines.
    let other = json!([{"code": "8712345678906", "quantity": 1}, {"code": "8712345678913"}]);
    let (result, _) = check(200, shop_order(json!("bol-42"), other), "7001", &order).await;
    assert_eq!(
        result.unwrap(),
        ReferenceCheck::Mismatch(
            "customer-api order 7001 is for order bol-42 but its lines differ: 8712345678906 is ×1 there, ×2 here; C7 ×1 is not in it; it has 8712345678913, which the order has not"
                .into()
        )
    );
    // A list entry without items: the reference decides alone.
    let (result, _) = check(200, shop_order(json!("bol-42"), json!([])), "7001", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::Matches);
}

#[tokio::test]
async fn a_reference_the_shop_does_not_know_is_not_found_and_a_blank_one_is_refused() {
    let order = bol_order();
    let (result, reads) = check(404, json!({"error": "not_found", "status": 404}), "7001", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::NotFound);
    assert_eq!(reads, 1);
    // Any other failure stays an error.
    let (result, _) = check(500, json!({"error": "server_error"}), "7001", &order).await;
    assert!(result.is_err());
    for blank in ["", " \t "] {
        let (result, reads) = check(200, json!({}), blank, &order).await;
        let err = result.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert_eq!(err.field_errors()[0].field, "reference");
        assert_eq!(reads, 0, "nothing sent");
    }
}

/// An amount in euros, as the Customer API's prices read.
fn eur(minor_units: i64) -> commerce_core::Money {
    commerce_core::Money::new(minor_units, "EUR")
}

fn paused_client(url: &str) -> CustomerApiClient {
    commerce_testing::sweep::install(&[SECRET, "tok-1"]);
    CustomerApiClient::builder(ID, SECRET.to_owned().into())
        .shop_url(url)
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap()
}

/// Products answered per code from `stock-products.json`; a code it lacks is the shop's 404.
async fn products_by_code(server: &MockServer) -> (httpmock::Mock<'_>, Arc<Mutex<Vec<String>>>) {
    let answers: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/stock-products.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let noted = asked.clone();
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .header("accept-encoding", "gzip")
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |req| {
                // EANs are digits: nothing to decode.
                let code = req
                    .uri()
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("code="))
                    .unwrap_or_default()
                    .to_owned();
                noted.lock().unwrap().push(code.clone());
                let (status, body) = match answers.get(&code) {
                    Some(products) => (200, products.clone()),
                    None => (
                        404,
                        json!({"error": "not_found", "message": "No product with this code.", "status": 404}),
                    ),
                };
                http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json; charset=utf-8")
                    .header("content-encoding", "gzip")
                    .body(gzip(&body))
                    .unwrap()
                    .into()
            });
        })
        .await;
    (mock, asked)
}

/// One look-up per distinct EAN, paced (5 a second): a counted quantity is on the shelf, a
/// bare in-stock yes is 1 in stock only, no availability 0 in stock only; an EAN the shop
/// has no product for (an empty list, or its 404) has no level and fails nothing.
#[tokio::test(start_paused = true)]
async fn stock_looks_up_each_ean_once_paced_and_says_what_it_counted() {
    use commerce_core::{StockBasis, StockLevel};
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let (products, asked) = products_by_code(&server).await;
    let eans: Vec<String> = [
        "8712345000003",
        "8712345000010",
        " 8712345000027 ",
        "8712345000034",
        "8712345000041",
        "8712345000003",
        "8712345000058",
    ]
    .map(String::from)
    .to_vec();
    let c: Box<dyn Fulfilment> = Box::new(paused_client(&server.base_url()));
    let start = tokio::time::Instant::now();
    let levels = c.stock(&eans).await.unwrap();
    products.assert_calls_async(6).await;
    assert_eq!(
        *asked.lock().unwrap(),
        [
            "8712345000003",
            "8712345000010",
            "8712345000027",
            "8712345000034",
            "8712345000041",
            "8712345000058"
        ]
    );
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "the sixth look-up waits for the second's window: {:?}",
        start.elapsed()
    );
    let level = |id: &str, ean: &str, available, basis| StockLevel {
        item_id: id.into(),
        ean: Some(ean.into()),
        available,
        basis,
        as_of: None,
    };
    assert_eq!(
        levels,
        [
            level("301", "8712345000003", 14, StockBasis::OnShelf),
            level("302", "8712345000010", 1, StockBasis::InStockOnly),
            level("8712345000027", "8712345000027", 0, StockBasis::InStockOnly),
            level("304", "8712345000027", 0, StockBasis::InStockOnly),
        ]
    );
}

/// One EAN's failure other than "no such product" fails the whole call with its error (the
/// caller takes the shop as down); a blank EAN is refused before anything is sent.
#[tokio::test]
async fn stock_fails_whole_on_one_failed_look_up_and_refuses_a_blank_ean() {
    let server = MockServer::start_async().await;
    tokens(&server).await;
    let found = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .query_param("code", "8712345000003");
            then.status(200).header("content-encoding", "gzip").body(gzip(
                &json!([{"_type": "Product", "id": 301, "code": "8712345000003", "availability": 3}]),
            ));
        })
        .await;
    let broken = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/customer/products")
                .query_param("code", "8712345000010");
            then.status(500).json_body(
                json!({"error": "server_error", "message": "Database unavailable", "status": 500}),
            );
        })
        .await;
    let c = client(&server.base_url());
    let err = c
        .stock(&["8712345000003".into(), "8712345000010".into()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("Database unavailable"), "{err}");
    found.assert_calls_async(1).await;
    assert!(broken.calls_async().await >= 1);

    let blank = c.stock(&["8712345000003".into(), "  ".into()]).await.unwrap_err();
    assert!(blank.is_invalid_input());
    assert_eq!(blank.field_errors()[0].field, "eans[1]");
    found.assert_calls_async(1).await;
}
