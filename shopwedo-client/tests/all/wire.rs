//! A wire test per method, in both envelope encodings, each checking that the signed
//! `auth` object verifies; decoding of full and `false`-laden answers; validation; and
//! createOrder never sent twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use commerce_core::{Fulfilment, FulfilmentState, PreparedSubmission, ReferenceCheck};
use commerce_testing::{Reply, ScriptedServer};
use httpmock::Method::POST;
use httpmock::{HttpMockRequest, MockServer};
use serde_json::{Value, json};
use shopwedo_client::{
    Address, Clock, Envelope, NewOrder, OrderItem, SaltSource, ShopWeDoClient, Status, StockQuery, sign,
};

pub(crate) const SHOP_ID: u64 = 4242;
const SHOP_KEY: &str = "swd-key";
const NOW: i64 = 1_700_000_000;

#[derive(Debug)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        NOW
    }
}

#[derive(Debug, Default)]
struct CountingSalts(AtomicU64);

impl SaltSource for CountingSalts {
    fn salt(&self) -> String {
        format!("salt-{}", self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

pub(crate) fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub(crate) fn client(base: &str, envelope: Envelope) -> ShopWeDoClient {
    commerce_testing::sweep::install(&[SHOP_KEY]);
    ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into())
        .base_url(base)
        .envelope(envelope)
        .clock(FixedClock)
        .salts(CountingSalts::default())
        .retry(commerce_testing::fast_retry())
        .build()
        .unwrap()
}

/// The `auth` and `data` objects of a request, in either envelope.
fn envelope_of(req: &HttpMockRequest) -> Option<(Value, Value)> {
    let body = req.body_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields: std::collections::HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        Some((
            serde_json::from_str(fields.get("auth")?).ok()?,
            serde_json::from_str(fields.get("data")?).ok()?,
        ))
    } else if content_type.starts_with("application/json") {
        let v: Value = serde_json::from_str(&body).ok()?;
        Some((v.get("auth")?.clone(), v.get("data")?.clone()))
    } else {
        None
    }
}

/// Records every request's envelope, and matches only when its signature verifies.
#[derive(Clone, Default)]
pub(crate) struct Verified(Arc<Mutex<Vec<(Value, Value, String)>>>);

impl Verified {
    fn matcher(&self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let seen = self.0.clone();
        move |req: &HttpMockRequest| {
            let Some((auth, data)) = envelope_of(req) else {
                return false;
            };
            let salt = auth["salt"].as_str().unwrap_or_default().to_owned();
            let ok = auth["shopid"] == json!(SHOP_ID)
                && auth["timestamp"] == json!(NOW)
                && auth["token"] == json!(sign(SHOP_ID, &SHOP_KEY.to_owned().into(), NOW, &salt));
            if ok {
                seen.lock().unwrap().push((auth, data, req.body_string()));
            }
            ok
        }
    }

    pub(crate) fn data(&self) -> Value {
        self.0
            .lock()
            .unwrap()
            .last()
            .expect("a verified request")
            .1
            .clone()
    }

    fn raw(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .last()
            .expect("a verified request")
            .2
            .clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn salts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _, _)| a["salt"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub(crate) async fn method(server: &MockServer, name: &str, status: u16, body: &str, verified: &Verified) {
    let body = body.to_owned();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("/api/{name}"))
                .is_true(verified.matcher());
            then.status(status)
                .header("content-type", "application/json")
                .body(body);
        })
        .await;
}

fn new_order() -> NewOrder {
    NewOrder {
        external_order_id: "A-1001".into(),
        external_order_reference: Some("INV-77".into()),
        release: Some(true),
        created_at: NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(9, 15, 0)
            .unwrap(),
        updated_at: None,
        comment: None,
        comment_packing: Some("Gift wrap".into()),
        billing_address: None,
        shipping_address: Address {
            firstname: Some("An".into()),
            lastname: Some("Peeters".into()),
            street: "Grote Markt".into(),
            number: "7".into(),
            box_number: Some("b2".into()),
            zip: "2000".into(),
            city: "Antwerpen".into(),
            country_iso2: "BE".into(),
            email: "an@example.be".into(),
            phone: "+3231234567".into(),
            ..Default::default()
        },
        items: vec![
            OrderItem {
                sku: 123,
                amount: 1,
                name: Some("Stadsfiets".into()),
                comment: None,
            },
            OrderItem {
                sku: 124,
                amount: 2,
                name: None,
                comment: None,
            },
        ],
    }
}

#[tokio::test]
async fn auth_test_in_both_envelopes() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "authTest", 202, "", &verified).await;
        client(&server.url("/api"), envelope).auth_test().await.unwrap();
        assert_eq!(verified.data(), json!({}), "{envelope:?}");
        let raw = verified.raw();
        match envelope {
            Envelope::Form => insta::assert_snapshot!("auth_test_form", raw),
            Envelope::Json => insta::assert_snapshot!("auth_test_json", raw),
        }
    }
}

#[tokio::test]
async fn a_wrong_signature_is_a_typed_auth_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authTest");
            then.status(401).json_body(json!({"error": "Oops!"}));
        })
        .await;
    let err = client(&server.url("/api"), Envelope::Form)
        .auth_test()
        .await
        .unwrap_err();
    assert!(err.is_auth());
    // ShopWeDo's `error` is its human message ("An error message will be returned
    // explaining what happened"), not a code.
    assert_eq!(err.provider_code(), None);
    insta::assert_snapshot!("auth_failed", err);
}

#[tokio::test]
async fn create_order_in_both_envelopes() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "createOrder", 201, r#"{"order_id": 90211}"#, &verified).await;
        let id = client(&server.url("/api"), envelope)
            .create_order(&new_order())
            .await
            .unwrap();
        assert_eq!(id, 90211);
        let data = verified.data();
        assert_eq!(data["created_at"], "2026-11-20 09:15:00", "Y-m-d H:i:s");
        assert_eq!(data["items"][1], json!({"sku": 124, "amount": 2}));
        insta::assert_json_snapshot!(format!("create_order_data_{envelope:?}"), data);
    }
}

#[tokio::test]
async fn a_rejected_order_surfaces_the_per_field_errors() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(
        &server,
        "createOrder",
        400,
        r#"{"order_id": false, "error": "order_invalid_data", "errors": {"shipping_address.zip": ["The zip is invalid for BE."], "items.0.sku": ["Unknown stock item."]}}"#,
        &verified,
    )
    .await;
    let err = client(&server.url("/api"), Envelope::Form)
        .create_order(&new_order())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.provider_code(), Some("order_invalid_data"));
    let fields: Vec<&str> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["items.0.sku", "shipping_address.zip"]);
    insta::assert_snapshot!("order_invalid_data", err);
}

#[tokio::test]
async fn an_order_is_validated_before_sending_and_every_bad_field_named() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(201);
        })
        .await;
    let mut order = new_order();
    order.external_order_id = " ".into();
    order.shipping_address.zip = "".into();
    order.shipping_address.country_iso2 = "BEL".into();
    order.shipping_address.email = "an-at-example".into();
    order.billing_address = Some(Address {
        street: "x".into(),
        ..Default::default()
    });
    order.items[0].sku = 0;
    order.items[1].amount = 0;
    let err = client(&server.url("/api"), Envelope::Form)
        .create_order(&order)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    insta::assert_snapshot!("order_validation", err);
    order.items.clear();
    let err = client(&server.url("/api"), Envelope::Form)
        .create_order(&order)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("items: at least one item is required"),
        "{err}"
    );
    // An order built from `Default` alone names every required field it lacks.
    let err = client(&server.url("/api"), Envelope::Form)
        .create_order(&NewOrder::default())
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    insta::assert_snapshot!("order_default_refused", err);
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn create_order_is_never_re_sent_after_a_dropped_connection() {
    let server = ScriptedServer::start(vec![Reply::Drop, Reply::json(201, r#"{"order_id": 1}"#)]).await;
    let err = client(&format!("{}/api", server.url), Envelope::Form)
        .create_order(&new_order())
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err:?}");
    assert_eq!(server.count(), 1, "sent once, never again");
}

#[tokio::test]
async fn a_read_is_retried_with_a_fresh_salt_each_time() {
    let server =
        ScriptedServer::start(vec![Reply::status(503), Reply::json(200, &fixture("order.json"))]).await;
    let order = client(&format!("{}/api", server.url), Envelope::Json)
        .get_order(90211)
        .await
        .unwrap();
    assert_eq!(order.order_id, Some(90211));
    let salts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["auth"]["salt"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(salts, ["salt-1", "salt-2"], "every attempt is signed anew");
}

#[tokio::test]
async fn get_order_decodes_a_full_answer() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "getOrder", 200, &fixture("order.json"), &verified).await;
        let order = client(&server.url("/api"), envelope)
            .get_order(90211)
            .await
            .unwrap();
        assert_eq!(verified.data(), json!({"order_id": "90211"}));
        assert_eq!(order.app_id, Some(12));
        assert_eq!(order.customer_id, None, "false means none");
        assert_eq!(order.paid_at, None);
        let shipment = &order.shipping[0];
        assert_eq!(
            shipment.tracking_code().as_deref(),
            Some("323212345678901234567890")
        );
        assert_eq!(shipment.carrier().as_deref(), Some("bpost"));
        assert_eq!(order.items[1].sku, 124, "a SKU sent as a string");
        assert_eq!(order.items[1].amount, 2);
        assert_eq!(
            order.billing_address.as_ref().unwrap().number,
            "7",
            "a number sent as a number"
        );
        assert_eq!(
            order.shipping_address.as_ref().unwrap().box_number.as_deref(),
            Some("b2")
        );
    }
}

#[tokio::test]
async fn get_order_decodes_a_false_laden_answer_in_a_list() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(&server, "getOrder", 200, &fixture("order-false.json"), &verified).await;
    let order = client(&server.url("/api"), Envelope::Form)
        .get_order(90212)
        .await
        .unwrap();
    assert_eq!(order.order_id, Some(90212));
    assert_eq!(
        (order.app_id, order.app_name.as_deref(), order.warehouse_id),
        (None, None, None)
    );
    assert!(order.shipping.is_empty() && order.shipped_at.is_none() && order.billing_address.is_none());
    assert_eq!(shopwedo_client::state_of(&order), FulfilmentState::Received);
}

#[tokio::test]
async fn cancel_order() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "cancelOrder", 200, "{}", &verified).await;
        client(&server.url("/api"), envelope)
            .cancel_order(90211)
            .await
            .unwrap();
        assert_eq!(verified.data(), json!({"order_id": "90211"}));
    }
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/cancelOrder");
            then.status(400)
                .json_body(json!({"error": "order_fulfilment_started"}));
        })
        .await;
    let err = client(&server.url("/api"), Envelope::Form)
        .cancel_order(1)
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("order_fulfilment_started"));
}

#[tokio::test]
async fn get_stock_with_limit_offset_and_sku() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "getStock", 200, &fixture("stock.json"), &verified).await;
        let c = client(&server.url("/api"), envelope);
        let page = c
            .stock_items(StockQuery {
                sku: Some(123),
                limit: Some(25),
                offset: 50,
            })
            .await
            .unwrap();
        assert_eq!(verified.data(), json!({"sku": 123, "limit": 25, "offset": 50}));
        assert_eq!(page.items[0].atp, Some(9));
        assert_eq!(page.items[1].atp, Some(-2), "ATP can go below zero");
        assert_eq!(page.items[1].sku, 124);
        assert_eq!(page.items[1].last_update, None);
        assert_eq!(page.items[0].tht_date, None);
    }
    let err = client("https://api1.shopwedo.com/api", Envelope::Form)
        .stock_items(StockQuery {
            limit: Some(51),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "limit over 50 is refused before sending");
}

#[tokio::test]
async fn the_stock_stream_pages_by_50_until_a_short_page() {
    let server = MockServer::start_async().await;
    let full: Vec<Value> = (1..=50)
        .map(|i| json!({"sku": i, "reference": format!("87{i:011}"), "atp": i}))
        .collect();
    let first = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getStock")
                .body_includes("%22offset%22%3A0");
            then.status(200).json_body(Value::Array(full));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getStock")
                .body_includes("%22offset%22%3A50");
            then.status(200).body(fixture("stock.json"));
        })
        .await;
    use futures_util::TryStreamExt;
    let items: Vec<_> = client(&server.url("/api"), Envelope::Form)
        .stock_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), 52);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn get_products_with_ids_and_translations() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "getProducts", 200, &fixture("products.json"), &verified).await;
        let page = client(&server.url("/api"), envelope)
            .products(&[501, 502], &[7], Some(0))
            .await
            .unwrap();
        assert_eq!(
            verified.data(),
            json!({"product_id": [501, 502], "category_id": 7, "offset": 0})
        );
        let bike = &page.items[0];
        assert_eq!(bike.name.get("fr"), Some("Vélo de ville Orange C7"));
        assert_eq!(bike.vat, Some(21.0));
        assert_eq!(bike.status, Some(Status::Online));
        assert_eq!(bike.promotions[0].end, NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(
            bike.extra_handling.as_ref().unwrap().description.en.as_deref(),
            Some("Assembly")
        );
        assert_eq!(bike.childs, [502, 503]);
        assert!(bike.related_products.is_empty(), "false means none");
        assert_eq!(bike.is_nostock, Some(false));
        let bell = &page.items[1];
        assert_eq!(
            bell.name.best("de"),
            Some("Fietsbel"),
            "one text for every language"
        );
        assert_eq!(bell.price, Some(8.22));
        assert!(bell.extra_handling.is_none() && bell.promotions.is_empty());
        assert_eq!(bell.status, Some(Status::OutOfStock));
    }
}

#[tokio::test]
async fn get_categories_and_blog_posts() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let cats = Verified::default();
        let posts = Verified::default();
        method(&server, "getCategories", 200, &fixture("categories.json"), &cats).await;
        method(&server, "getBlogPosts", 200, &fixture("blog-posts.json"), &posts).await;
        let c = client(&server.url("/api"), envelope);
        let categories = c.categories(&[7, 8], None).await.unwrap();
        assert_eq!(cats.data(), json!({"category_id": [7, 8]}));
        assert_eq!(
            categories.items[0].images.get("background").map(String::as_str),
            Some("https://cdn.example/c7-bg.jpg")
        );
        assert!(!categories.items[0].images.contains_key("product"));
        assert_eq!(categories.items[1].category_id, Some(8));
        assert!(categories.items[1].childs.is_empty());
        assert_eq!(categories.items[1].status, Some(Status::Offline));
        let blog = c.blog_posts(&[], Some(1)).await.unwrap();
        assert_eq!(posts.data(), json!({"offset": 1}));
        assert_eq!(blog.items[1].image, None);
        assert_eq!(
            blog.items[0].date,
            NaiveDate::from_ymd_opt(2026, 11, 1)
                .unwrap()
                .and_hms_opt(12, 0, 0)
        );
    }
}

#[tokio::test]
async fn the_blog_stream_pages_by_100() {
    let server = MockServer::start_async().await;
    let full: Vec<Value> = (0..100).map(|i| json!({"post_id": i, "title": "t"})).collect();
    let first = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getBlogPosts")
                .body_includes("%22offset%22%3A0");
            then.status(200).json_body(Value::Array(full));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getBlogPosts")
                .body_includes("%22offset%22%3A1");
            then.status(200).body(fixture("blog-posts.json"));
        })
        .await;
    use futures_util::TryStreamExt;
    let posts: Vec<_> = client(&server.url("/api"), Envelope::Form)
        .blog_posts_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(posts.len(), 102);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn salts_never_repeat_across_calls() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(&server, "authTest", 202, "", &verified).await;
    let c = ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into())
        .base_url(server.url("/api"))
        .clock(FixedClock)
        .build()
        .unwrap();
    for _ in 0..5 {
        c.auth_test().await.unwrap();
    }
    let salts = verified.salts();
    let unique: std::collections::HashSet<_> = salts.iter().collect();
    assert_eq!((salts.len(), unique.len()), (5, 5));
}

#[tokio::test]
async fn as_fulfilment_submit_follows_and_reads_stock() {
    let server = MockServer::start_async().await;
    let stock = Verified::default();
    let create = Verified::default();
    let get = Verified::default();
    method(&server, "getStock", 200, &fixture("stock.json"), &stock).await;
    method(&server, "createOrder", 201, r#"{"order_id": 90211}"#, &create).await;
    method(&server, "getOrder", 200, &fixture("order.json"), &get).await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.url("/api"), Envelope::Form));
    let order = commerce_core::Order {
        id: "1043946570".into(),
        channel: "bol".into(),
        placed_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-20T09:15:00Z")
                .unwrap()
                .to_utc(),
        ),
        customer: commerce_core::Customer {
            email: "an@example.be".into(),
            ..Default::default()
        },
        shipping_address: commerce_core::Address {
            first_name: "An".into(),
            last_name: "Peeters".into(),
            street: "Grote Markt".into(),
            house_number: "7".into(),
            house_number_addition: Some("b2".into()),
            postcode: "2000".into(),
            city: "Antwerpen".into(),
            country: "be".into(),
            phone: Some("+3231234567".into()),
            ..Default::default()
        },
        lines: vec![commerce_core::LineItem {
            line_id: "L1".into(),
            ean: Some("8712345678913".into()),
            title: "Fietsbel".into(),
            quantity: 2,
            ..Default::default()
        }],
        ..Default::default()
    };
    let order = commerce_core::Order {
        // bol's billing details carry no phone: the shipping address's is used.
        billing_address: Some(commerce_core::Address {
            phone: None,
            ..order.shipping_address.clone()
        }),
        ..order
    };
    let receipt = c.submit(&order).await.unwrap();
    assert_eq!(receipt.reference, "90211");
    let sent = create.data();
    assert_eq!(sent["billing_address"]["phone"], "+3231234567");
    assert_eq!(
        sent["items"],
        json!([{"sku": 124, "amount": 2, "name": "Fietsbel"}]),
        "the EAN became the stock id"
    );
    assert_eq!(sent["shipping_address"]["country_iso2"], "BE");
    assert_eq!(sent["shipping_address"]["email"], "an@example.be");
    assert_eq!(sent["release"], true);
    let status = c.status(&receipt.reference).await.unwrap();
    assert_eq!(status.state, FulfilmentState::Shipped);
    let tracking = status.shipments[0].tracking.as_ref().unwrap();
    assert_eq!(tracking.code, "323212345678901234567890");
    assert_eq!(tracking.carrier.as_deref(), Some("bpost"));
    let levels = c.stock(&["8712345678906".into()]).await.unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!((levels[0].item_id.as_str(), levels[0].available), ("123", 9));
    let unknown = commerce_core::Order {
        lines: vec![commerce_core::LineItem {
            ean: Some("0000000000000".into()),
            quantity: 1,
            ..Default::default()
        }],
        ..order
    };
    let err = c.submit(&unknown).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no ShopWeDo stock item has the barcode 0000000000000"),
        "{err}"
    );
}

#[test]
fn debug_never_shows_the_shop_key() {
    let c = client("https://api1.shopwedo.com/api", Envelope::Form);
    let b = ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into());
    let shown = format!("{c:?} {b:?}");
    assert!(!shown.contains(SHOP_KEY), "{shown}");
    let err = ShopWeDoClient::builder(SHOP_ID, "".to_owned().into())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("shop key is empty"));
    let err = ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into())
        .base_url("http://api1.shopwedo.com/api")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"));
}

#[tokio::test(start_paused = true)]
async fn requests_are_paced_at_three_per_second() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/authTest");
            then.status(202);
        })
        .await;
    let c = ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into())
        .base_url(server.url("/api"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let calls: Vec<_> = (0..9)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.auth_test().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // The 7th call can start at 2 s at the earliest. (No upper bound here: a call is counted
    // when its answer is back, and paused time jumps to the next timer while a real socket
    // waits, so simulated time says nothing about how long the answers took. The limiter's
    // own tests show it reaches the full rate.)
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(c.transport().limiter(None).granted(), 9);
}

#[tokio::test]
async fn a_429_that_does_not_pass_is_a_typed_rate_limit_error() {
    let server = MockServer::start_async().await;
    let m = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/getStock");
            then.status(429)
                .header("retry-after", "0")
                .json_body(json!({"error": "Too many requests"}));
        })
        .await;
    let err = client(&server.url("/api"), Envelope::Form)
        .stock_items(StockQuery::default())
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    m.assert_calls_async(3).await;
}

#[tokio::test]
async fn a_create_order_answer_that_cannot_be_read_leaves_the_order_unconfirmed() {
    // The order may well exist at ShopWeDo: never report it as "not created".
    for body in ["<html>OK</html>", r#"{"status": "ok"}"#, r#"{"order_id": "n/a"}"#] {
        let server = ScriptedServer::start(vec![Reply::json(200, body)]).await;
        let err = client(&format!("{}/api", server.url), Envelope::Form)
            .create_order(&new_order())
            .await
            .unwrap_err();
        assert!(err.is_unconfirmed(), "{body}: {err}");
        assert!(err.may_have_reached_server());
        assert_eq!(server.count(), 1, "never sent twice");
    }
}

/// A status text saying the order left in part is not shipped in full, even with parcels.
#[test]
fn a_partly_shipped_order_is_not_shipped() {
    let order: shopwedo_client::Order = serde_json::from_value(serde_json::json!({
        "order_id": 90212, "status_string": "partially shipped",
        "shipping": [{"carrier": "bpost", "tracking_code": "SWD1"}]
    }))
    .unwrap();
    assert_eq!(
        shopwedo_client::state_of(&order),
        FulfilmentState::PartiallyShipped
    );
}

/// A bol order of one line (the Fietsbel, stock item 124 by its EAN), its billing address
/// without a phone as bol gives it.
fn bol_order() -> commerce_core::Order {
    let shipping_address = commerce_core::Address {
        first_name: "An".into(),
        last_name: "Peeters".into(),
        street: "Grote Markt".into(),
        house_number: "7".into(),
        house_number_addition: Some("b2".into()),
        postcode: "2000".into(),
        city: "Antwerpen".into(),
        country: "be".into(),
        phone: Some("+3231234567".into()),
        ..Default::default()
    };
    commerce_core::Order {
        id: "1043946570".into(),
        channel: "bol".into(),
        placed_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-20T09:15:00Z")
                .unwrap()
                .to_utc(),
        ),
        customer: commerce_core::Customer {
            email: "an@example.be".into(),
            ..Default::default()
        },
        billing_address: Some(commerce_core::Address {
            phone: None,
            ..shipping_address.clone()
        }),
        shipping_address,
        lines: vec![commerce_core::LineItem {
            line_id: "L1".into(),
            ean: Some("8712345678913".into()),
            title: "Fietsbel".into(),
            quantity: 2,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// What `submit` sends as `createOrder` data for `order`, on a server of its own.
async fn submitted_data(order: &commerce_core::Order) -> Value {
    let server = MockServer::start_async().await;
    let (stock, create) = (Verified::default(), Verified::default());
    method(&server, "getStock", 200, &fixture("stock.json"), &stock).await;
    method(&server, "createOrder", 201, r#"{"order_id": 90211}"#, &create).await;
    let receipt = client(&server.url("/api"), Envelope::Form)
        .submit(order)
        .await
        .unwrap();
    assert_eq!(receipt.reference, "90211");
    assert_eq!(create.count(), 1);
    create.data()
}

#[tokio::test]
async fn prepare_only_reads_and_send_makes_the_one_create_order_submit_makes() {
    let server = MockServer::start_async().await;
    let (stock, create) = (Verified::default(), Verified::default());
    method(&server, "getStock", 200, &fixture("stock.json"), &stock).await;
    method(&server, "createOrder", 201, r#"{"order_id": 90211}"#, &create).await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.url("/api"), Envelope::Form));
    let order = bol_order();
    let prepared = c.prepare(&order).await.unwrap();
    assert_eq!(stock.count(), 1, "the stock ids were read");
    assert_eq!(create.count(), 0, "prepare never creates");
    assert_eq!(
        (prepared.provider.as_str(), prepared.order_id.as_str()),
        ("shopwedo", "1043946570")
    );
    // As a journal would keep it.
    let prepared: PreparedSubmission =
        serde_json::from_str(&serde_json::to_string(&prepared).unwrap()).unwrap();
    let receipt = c.send(&prepared).await.unwrap();
    assert_eq!(receipt.reference, "90211");
    assert_eq!(
        (stock.count(), create.count()),
        (1, 1),
        "send reads nothing, creates once"
    );
    let sent = create.data();
    assert_eq!(sent, submitted_data(&order).await, "the body submit sends");
    insta::assert_json_snapshot!("submit_data", sent);
}

#[tokio::test]
async fn send_refuses_another_providers_or_an_unreadable_submission_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(201).body(r#"{"order_id": 1}"#);
        })
        .await;
    let c = client(&server.url("/api"), Envelope::Form);
    let foreign = PreparedSubmission::new("customer-api", "1043946570", json!({"reference": "1043946570"}));
    let err = c.send(&foreign).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert_eq!(err.field_errors()[0].field, "provider");
    for payload in [
        json!({"external_order_id": 5}),
        json!({"external_order_id": "1", "created_at": "yesterday", "shipping_address": {}, "items": []}),
        json!([]),
    ] {
        let garbled = PreparedSubmission::new("shopwedo", "1043946570", payload.clone());
        let err = c.send(&garbled).await.unwrap_err();
        assert!(err.is_invalid_input(), "{payload}: {err}");
        assert_eq!(err.field_errors()[0].field, "payload", "{payload}");
    }
    // One that decodes but is no valid order is refused as `create_order` refuses it.
    let invalid = PreparedSubmission::new(
        "shopwedo",
        "1043946570",
        json!({"external_order_id": "1", "created_at": "2026-11-20 09:15:00", "shipping_address": {}, "items": []}),
    );
    let err = c.send(&invalid).await.unwrap_err();
    assert!(
        err.to_string().contains("shipping_address.street: is required"),
        "{err}"
    );
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_purged_order_is_refused_field_by_field_before_anything_is_sent() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(200).body(fixture("stock.json"));
        })
        .await;
    let c = client(&server.url("/api"), Envelope::Form);
    let mut order = bol_order();
    let purged = commerce_core::Address {
        country: "BE".into(),
        ..Default::default()
    };
    order.shipping_address = purged.clone();
    order.billing_address = Some(purged);
    order.customer.email = " ".into();
    for err in [
        c.prepare(&order).await.unwrap_err(),
        c.submit(&order).await.unwrap_err(),
        c.new_order_for(&order).await.unwrap_err(),
    ] {
        assert!(err.is_invalid_input(), "{err}");
        let fields: Vec<String> = err
            .field_errors()
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let expected: Vec<String> = ["shipping_address", "billing_address"]
            .iter()
            .flat_map(|a| {
                [
                    "firstname",
                    "lastname",
                    "street",
                    "number",
                    "zip",
                    "city",
                    "email",
                    "phone",
                ]
                .map(|f| format!("{a}.{f}: is required"))
            })
            .collect();
        assert_eq!(fields, expected);
    }
    // The phone alone keeps the message it always had.
    let mut order = bol_order();
    order.shipping_address.phone = Some("".into());
    let err = c.prepare(&order).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: shipping_address.phone: is required; billing_address.phone: is required"
    );
    any.assert_calls_async(0).await;
}

/// `getOrder` answering `body` with `status`, stock from the fixture; the check of
/// `reference` against `order`, and the number of `getOrder` and `getStock` calls.
async fn check(
    status: u16,
    body: &str,
    reference: &str,
    order: &commerce_core::Order,
) -> (Result<ReferenceCheck, commerce_core::Error>, usize, usize) {
    let server = MockServer::start_async().await;
    let (get, stock) = (Verified::default(), Verified::default());
    method(&server, "getOrder", status, body, &get).await;
    method(&server, "getStock", 200, &fixture("stock.json"), &stock).await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.url("/api"), Envelope::Form));
    let result = c.check_reference(reference, order).await;
    if get.count() > 0 {
        assert_eq!(get.data(), json!({"order_id": reference.trim()}));
    }
    (result, get.count(), stock.count())
}

/// ShopWeDo's order as this crate would have created it from [`bol_order`].
fn shopwedo_order(external_id: &str, items: Value) -> String {
    let mut order: Value = serde_json::from_str(&fixture("order.json")).unwrap();
    order["external_order_id"] = json!(external_id);
    order["external_order_reference"] = json!(format!("bol:{external_id}"));
    order["items"] = items;
    order.to_string()
}

#[tokio::test]
async fn a_reference_is_checked_against_the_order_at_shopwedo() {
    let order = bol_order();
    let ours = shopwedo_order(
        "1043946570",
        json!([{"sku": "124", "amount": "2", "name": "Fietsbel"}]),
    );
    let (result, gets, stocks) = check(200, &ours, " 90211 ", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::Matches);
    assert_eq!((gets, stocks), (1, 1), "one getOrder, the stock for the EAN");

    // Another order's number, as an operator may type it.
    let other = shopwedo_order("1043946571", json!([{"sku": 124, "amount": 2}]));
    let (result, ..) = check(200, &other, "90211", &order).await;
    assert_eq!(
        result.unwrap(),
        ReferenceCheck::Mismatch("ShopWeDo order 90211 is order `1043946571`, not `1043946570`".into())
    );
    // The same number from another channel.
    let mut amazon: Value = serde_json::from_str(&ours).unwrap();
    amazon["external_order_reference"] = json!("amazon:1043946570");
    let (result, ..) = check(200, &amazon.to_string(), "90211", &order).await;
    assert!(
        matches!(&result.unwrap(), ReferenceCheck::Mismatch(m) if m.contains("`amazon:1043946570`, not `bol:1043946570`"))
    );
    // The right id, other items.
    let items = shopwedo_order(
        "1043946570",
        json!([{"sku": 124, "amount": 1}, {"sku": 123, "amount": 1}]),
    );
    let (result, ..) = check(200, &items, "90211", &order).await;
    assert_eq!(
        result.unwrap(),
        ReferenceCheck::Mismatch(
            "ShopWeDo order 90211 is for order 1043946570 but its items differ: stock item 124 is ×1 there, ×2 here; it has stock item 123 ×1, which the order has not"
                .into()
        )
    );
    // No external id or reference at all: it cannot be told to be this order.
    let (result, ..) = check(
        200,
        &fixture("order-false.json").replace(r#""external_order_id": "A-1002","#, ""),
        "90212",
        &order,
    )
    .await;
    assert!(
        matches!(&result.unwrap(), ReferenceCheck::Mismatch(m) if m.contains("carries no external order id"))
    );
}

#[tokio::test]
async fn a_reference_shopwedo_does_not_know_is_not_found_and_a_blank_one_is_refused() {
    let order = bol_order();
    // ShopWeDo's documented answer: 400, "the order not found or not owned by your account".
    let (result, gets, _) = check(400, r#"{"error": "Order not found"}"#, "99999", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::NotFound);
    assert_eq!(gets, 1);
    let (result, ..) = check(404, "{}", "99999", &order).await;
    assert_eq!(result.unwrap(), ReferenceCheck::NotFound);
    for blank in ["", "  "] {
        let (result, gets, stocks) = check(200, &fixture("order.json"), blank, &order).await;
        let err = result.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert_eq!(err.field_errors()[0].field, "reference");
        assert_eq!((gets, stocks), (0, 0), "nothing sent");
    }
    let (result, gets, _) = check(200, &fixture("order.json"), "bol-1043946570", &order).await;
    assert!(result.unwrap_err().is_invalid_input());
    assert_eq!(gets, 0);
}

fn releasing_client(base: &str, release: bool) -> ShopWeDoClient {
    commerce_testing::sweep::install(&[SHOP_KEY]);
    ShopWeDoClient::builder(SHOP_ID, SHOP_KEY.to_owned().into())
        .base_url(base)
        .envelope(Envelope::Form)
        .clock(FixedClock)
        .salts(CountingSalts::default())
        .retry(commerce_testing::fast_retry())
        .release_orders(release)
        .build()
        .unwrap()
}

/// `Fulfilment::stock` says what it counted: the ATP with orders released on creation
/// takes handed-over orders off (`Reserving`, as of `last_atp_update` read as Belgian
/// time: winter, UTC+01:00, in December); without release, or from `level` when there is no ATP, it is on the
/// shelf. An unreadable time is no time; an ATP above the level is the level.
#[tokio::test]
async fn stock_says_what_it_counted() {
    use commerce_core::{StockBasis, StockLevel};
    let eans: Vec<String> = [
        "8712345000003",
        "8712345000010",
        "8712345000027",
        "8712345000034",
        "8712345000041",
    ]
    .map(String::from)
    .to_vec();
    let at = |t: &str| Some(chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc());
    let level = |sku: &str, ean: &str, available: i64, basis, as_of| StockLevel {
        item_id: sku.into(),
        ean: Some(ean.into()),
        available,
        basis,
        as_of,
    };
    for release in [true, false] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "getStock", 200, &fixture("stock-bases.json"), &verified).await;
        let c: Box<dyn Fulfilment> = Box::new(releasing_client(&server.url("/api"), release));
        let levels = c.stock(&eans).await.unwrap();
        let atp_basis = if release {
            StockBasis::Reserving
        } else {
            StockBasis::OnShelf
        };
        assert_eq!(
            levels,
            [
                level("201", "8712345000003", 9, atp_basis, at("2026-12-07T04:55:00Z")),
                level("202", "8712345000010", 5, StockBasis::OnShelf, None),
                level("203", "8712345000027", 4, atp_basis, None),
                level("204", "8712345000034", 3, atp_basis, None),
                level("205", "8712345000041", 0, StockBasis::OnShelf, None),
                level("206", "8712345000003", 2, atp_basis, at("2026-12-07T05:00:00Z")),
            ],
            "release_orders({release})"
        );
        assert_eq!(verified.0.lock().unwrap().len(), 1, "one short page: one call");
    }
}

/// Many EANs cost the stock list once (50 to a page), never a call per EAN.
#[tokio::test]
async fn stock_for_many_eans_reads_the_list_once() {
    let server = MockServer::start_async().await;
    let full: Vec<Value> = (1..=50)
        .map(|i| json!({"sku": 1000 + i, "reference": format!("87100000{i:05}"), "level": 10, "atp": i}))
        .collect();
    let first = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getStock")
                .body_includes("%22limit%22%3A50")
                .body_includes("%22offset%22%3A0");
            then.status(200).json_body(Value::Array(full));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/getStock")
                .body_includes("%22limit%22%3A50")
                .body_includes("%22offset%22%3A50");
            then.status(200).body(fixture("stock-bases.json"));
        })
        .await;
    let c: Box<dyn Fulfilment> = Box::new(client(&server.url("/api"), Envelope::Form));
    let mut eans: Vec<String> = (1..=60).map(|i| format!("87100000{i:05}")).collect();
    eans.push("8712345000003".into());
    let levels = c.stock(&eans).await.unwrap();
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    assert_eq!(
        levels.len(),
        52,
        "50 of the first page, two items of one EAN on the second"
    );
    assert_eq!(levels[49].available, 10, "an ATP above the level is the level");
}

/// ShopWeDo's times are Belgian wall-clock time: summer time from the last Sunday of March,
/// 02:00, to the last Sunday of October, 03:00; the October hour that repeats reads as its
/// first (summer) instance.
#[test]
fn belgian_time_follows_summer_time() {
    let offset = |t: &str| {
        shopwedo_client::belgian_offset(
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap(),
        )
        .local_minus_utc()
            / 3600
    };
    assert_eq!(offset("2026-12-07 05:55:00"), 1);
    assert_eq!(offset("2026-07-01 12:00:00"), 2);
    // 2026: summer time from Sunday 29 March to Sunday 25 October.
    assert_eq!(offset("2026-03-29 01:59:59"), 1);
    assert_eq!(offset("2026-03-29 03:00:00"), 2);
    assert_eq!(
        offset("2026-10-25 02:30:00"),
        2,
        "the repeated hour: its first, earlier instant"
    );
    assert_eq!(offset("2026-10-25 03:00:00"), 1);
    assert_eq!(offset("2027-03-28 03:00:00"), 2);
}
