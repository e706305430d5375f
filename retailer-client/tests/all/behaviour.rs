//! Tokens, environments, media types, errors, pacing, streams, process status (one and in
//! bulk), shipping labels with their headers, the offers export and the SalesChannel, for
//! bol.

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_core::{SalesChannel, ShipmentConfirmation, Tracking};
use futures_util::TryStreamExt;
use httpmock::Method::{GET, POST, PUT};
use httpmock::MockServer;
use retailer_client::models::{GetOrdersStatus, ProcessState, ProcessStatus, UpdateOfferStockRequest};
use retailer_client::{GetOrdersParams, RetailerClient, ShippingLabel, WaitOptions};
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, client, setup};

const V10: &str = "application/vnd.retailer.v10+json";

fn process(id: &str, status: &str, entity: &str) -> serde_json::Value {
    json!({"processStatusId": id, "entityId": entity, "eventType": "CREATE_SHIPMENT", "description": "Example",
           "status": status, "createTimestamp": "2026-11-23T10:00:00+01:00", "links": []})
}

#[tokio::test]
async fn one_token_serves_many_calls_and_clones() {
    let server = setup().await;
    let orders = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .header("authorization", "Bearer tok-1");
            then.status(200).header("content-type", V10).json_body(json!({}));
        })
        .await;
    let bol = client(&server);
    for _ in 0..10 {
        bol.clone().get_orders(&Default::default()).await.unwrap();
    }
    orders.assert_calls_async(10).await;
    assert_eq!(bol.token_requests(), 1);
}

#[tokio::test]
async fn an_expired_jwt_refreshes_once_and_retries_once() {
    let server = MockServer::start_async().await;
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) == 0);
            then.status(200)
                .json_body(json!({"access_token": "tok-old", "token_type": "Bearer", "expires_in": 299}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok-new", "token_type": "Bearer", "expires_in": 299}));
        })
        .await;
    let expired = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/1043946570").header("authorization", "Bearer tok-old");
            then.status(401).header("content-type", V10).json_body(json!({
                "type": "https://api.bol.com/problems", "title": "Expired JWT", "status": 401, "detail": "Expired JWT"
            }));
        })
        .await;
    let fresh = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders/1043946570")
                .header("authorization", "Bearer tok-new");
            then.status(200)
                .header("content-type", V10)
                .json_body(json!({"orderId": "1043946570"}));
        })
        .await;
    let bol = client(&server);
    assert_eq!(bol.get_order("1043946570").await.unwrap().order_id, "1043946570");
    expired.assert_calls_async(1).await;
    fresh.assert_calls_async(1).await;
    assert_eq!(bol.token_requests(), 2);
}

#[tokio::test]
async fn the_token_is_renewed_from_the_jwt_exp_not_per_request() {
    // A JWT whose exp is 60 s away, though expires_in says 299: the cache renews by exp.
    use base64::Engine as _;
    let exp = chrono::Utc::now().timestamp() + 60;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#));
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": jwt, "token_type": "Bearer", "expires_in": 299}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders");
            then.status(200).json_body(json!({}));
        })
        .await;
    let bol = client(&server);
    bol.get_orders(&Default::default()).await.unwrap();
    bol.get_orders(&Default::default()).await.unwrap();
    token.assert_calls_async(1).await;
}

#[tokio::test]
async fn problems_keep_their_violations() {
    let server = setup().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/retailer/shipments");
            then.status(400).header("content-type", V10).json_body(json!({
                "type": "https://api.bol.com/problems", "title": "Error validating request. Consult the bol.com API documentation for more information.",
                "status": 400, "detail": "Bad request", "host": "Instance-111", "instance": "https://api.bol.com/retailer/shipments",
                "violations": [{"name": "orderItems[0].orderItemId", "reason": "Request contains invalid value(s): '123'."}]
            }));
        })
        .await;
    let err = client(&server)
        .create_shipment(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.field_errors()[0].field, "orderItems[0].orderItemId");
    assert!(
        !err.is_unconfirmed(),
        "a 400 is an answer: the shipment was refused"
    );
    insta::assert_snapshot!("problem", err);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_per_operation() {
    let server = setup().await;
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    let limited = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) == 0);
            then.status(429)
                .header("retry-after", "30")
                .header("x-ratelimit-limit", "25")
                .header("x-ratelimit-remaining", "0")
                .json_body(json!({"title": "Too many requests", "status": 429}));
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders");
            then.status(200).json_body(json!({}));
        })
        .await;
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    bol.get_orders(&Default::default()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    limited.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
    assert_eq!(bol.transport().limiter(Some("get-orders")).granted(), 2);
    assert_eq!(
        bol.transport().limiter(Some("get-order")).granted(),
        0,
        "other operations are not held"
    );
}

#[tokio::test]
async fn an_empty_page_ends_a_stream() {
    let server = setup().await;
    let page1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .query_param("page", "1")
                .query_param("status", "ALL");
            then.status(200).json_body(json!({"orders": [
                {"orderId": "1", "orderPlacedDateTime": "2026-11-20T10:00:00+01:00", "orderItems": []},
                {"orderId": "2", "orderPlacedDateTime": "2026-11-20T11:00:00+01:00", "orderItems": []}
            ]}));
        })
        .await;
    let page2 = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders").query_param("page", "2");
            then.status(200).json_body(json!({}));
        })
        .await;
    let all: Vec<_> = client(&server)
        .get_orders_stream(GetOrdersParams {
            status: Some(GetOrdersStatus::All),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    page1.assert_calls_async(1).await;
    page2.assert_calls_async(1).await;
}

#[tokio::test]
#[allow(deprecated)] // bol marks the offer stock update deprecated; it is still served.
async fn the_demo_environment_and_a_media_version_override() {
    let server = setup().await;
    let offer = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/retailer-demo/offers/o-1/stock")
                .header("accept", "application/vnd.retailer.v11+json")
                .header("content-type", "application/vnd.retailer.v11+json")
                .json_body(json!({"amount": 6, "managedByRetailer": false}));
            then.status(202).json_body(process("1", "PENDING", "o-1"));
        })
        .await;
    let status = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/shared-demo/process-status/1")
                .header("accept", V10);
            then.status(200).json_body(process("1", "SUCCESS", "o-1"));
        })
        .await;
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .demo(true)
        .media_version("Offers", "v11")
        .build()
        .unwrap();
    assert!(bol.is_demo());
    let started = bol
        .update_offer_stock(
            "o-1",
            &Default::default(),
            &UpdateOfferStockRequest {
                amount: 6,
                managed_by_retailer: false,
            },
        )
        .await
        .unwrap();
    let done = bol
        .wait_for_process(
            &started,
            WaitOptions {
                deadline: Duration::from_secs(5),
                first_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                ..WaitOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, ProcessState::Success);
    offer.assert_async().await;
    status.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn process_status_waiting_backs_off_until_final_or_the_deadline() {
    let server = setup().await;
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/shared/process-status/77")
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) < 3);
            then.status(200).json_body(process("77", "PENDING", "e"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/77");
            then.status(200).json_body(process("77", "FAILURE", "e"));
        })
        .await;
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let pending: retailer_client::models::ProcessStatus =
        serde_json::from_value(process("77", "PENDING", "e")).unwrap();
    let start = tokio::time::Instant::now();
    let done = bol
        .wait_for_process(&pending, WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(done.status, ProcessState::Failure);
    // Polls after 100, 150, 225 and 337.5 ms (the default polls soon, growing by half;
    // tokio's timer counts whole milliseconds).
    assert_eq!(start.elapsed(), Duration::from_millis(813));
    assert_eq!(n.load(Ordering::SeqCst), 4);
    let err = bol
        .wait_for_success(&pending, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("FAILURE"));

    // Never final: the deadline ends the wait.
    let never = MockServer::start_async().await;
    never
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "t", "expires_in": 299}));
        })
        .await;
    never
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/77");
            then.status(200).json_body(process("77", "PENDING", "e"));
        })
        .await;
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(never.base_url())
        .token_url(never.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let err = bol
        .wait_for_process(&pending, WaitOptions::deadline(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, retailer_client::Error::Timeout { .. }), "{err:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[tokio::test]
async fn the_offers_export_end_to_end() {
    let server = setup().await;
    let request = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/retailer/offers/export")
                .header("content-type", V10)
                .json_body(json!({"format": "CSV"}));
            then.status(202).json_body(process("9", "PENDING", ""));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/9");
            then.status(200).json_body(process("9", "SUCCESS", "report-9"));
        })
        .await;
    let download = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/offers/export/report-9")
                .header("accept", "application/vnd.retailer.v10+csv");
            then.status(200).header("content-type", "application/vnd.retailer.v10+csv").body(
                "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,correctedStock\n\
                 13722de8-8182-d161-5422-4a0a1caab5c8,8712345678906,NEW,NEW,,829.00,1-2d,9,false,FBR,2026-11-22 08:00:00.0,4770,9\n\
                 f3b0b8e6-1111-2222-3333-444455556666,8712345678913,AS_NEW,SECONDHAND,\"Doos open, ongebruikt\",8.95,1-2d,0,true,FBR,2026-11-22 08:00:00.0,4771,0\n",
            );
        })
        .await;
    let offers = client(&server)
        .export_offers(WaitOptions {
            deadline: Duration::from_secs(5),
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..WaitOptions::default()
        })
        .await
        .unwrap();
    request.assert_async().await;
    download.assert_async().await;
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[0].ean(), Some("8712345678906"));
    assert_eq!(offers[0].stock_amount(), Some(9));
    assert_eq!(offers[0].price(), Some(commerce_core::Money::new(82900, "EUR")));
    assert_eq!(offers[1].get("conditionComment"), Some("Doos open, ongebruikt"));
    assert_eq!(offers[1].get("referenceCode"), Some("4771"));
}

fn order_detail(shipped: i64) -> serde_json::Value {
    json!({
        "orderId": "1043946570", "pickupPoint": false, "orderPlacedDateTime": "2026-11-20T10:00:00+01:00",
        "shipmentDetails": {"salutation": "FEMALE", "firstName": "An", "surname": "Peeters", "streetName": "Grote Markt",
            "houseNumber": "7", "houseNumberExtension": "b2", "zipCode": "2000", "city": "Antwerpen", "countryCode": "BE",
            "email": "an@example.be", "language": "nl-BE", "deliveryPhoneNumber": "+3231234567"},
        "billingDetails": {"salutation": "FEMALE", "firstName": "An", "surname": "Peeters", "streetName": "Grote Markt",
            "houseNumber": "7", "zipCode": "2000", "city": "Antwerpen", "countryCode": "BE", "email": "an@example.be"},
        "orderItems": [
            {"orderItemId": "6107434013", "cancellationRequest": false, "quantity": 1, "quantityShipped": shipped, "quantityCancelled": 0,
             "unitPrice": 829.0, "totalPrice": 829.0, "commission": 50.3, "latestChangedDateTime": "2026-11-20T10:00:00+01:00",
             "offer": {"offerId": "o-1", "reference": "4770"}, "product": {"ean": "8712345678906", "title": "Orange C7"},
             "fulfilment": {"method": "FBR"}}
        ]
    })
}

#[tokio::test]
async fn as_a_sales_channel_open_orders_and_a_confirmation() {
    let server = setup().await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .query_param("page", "1")
                .query_param("fulfilment-method", "FBR")
                .query_param("status", "OPEN");
            then.status(200).json_body(json!({"orders": [{"orderId": "1043946570", "orderPlacedDateTime": "2026-11-20T10:00:00+01:00",
                "orderItems": [{"orderItemId": "6107434013", "ean": "8712345678906", "quantity": 1, "quantityShipped": 0, "quantityCancelled": 0}]}]}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders").query_param("page", "2");
            then.status(200).json_body(json!({}));
        })
        .await;
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders/1043946570")
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) < 2);
            then.status(200).json_body(order_detail(0));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/1043946570");
            then.status(200).json_body(order_detail(1));
        })
        .await;
    let shipments = server
        .mock_async(|when, then| {
            when.method(POST).path("/retailer/shipments").json_body(json!({
                "orderItems": [{"orderItemId": "6107434013"}],
                "transport": {"transporterCode": "BPOST_BE", "trackAndTrace": "323212345678901234567890"}
            }));
            then.status(202).json_body(process("55", "PENDING", "6107434013"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/55");
            then.status(200).json_body(process("55", "SUCCESS", "6107434013"));
        })
        .await;
    // The stream owns what it needs: it outlives the client it came from.
    let stream = {
        let bol = client(&server);
        let channel: &dyn SalesChannel = &bol;
        channel.open_orders()
    };
    let orders: Vec<_> = tokio::spawn(stream.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    let bol = client(&server);
    let channel: &dyn SalesChannel = &bol;
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order.lines[0].ean.as_deref(), Some("8712345678906"));
    assert_eq!(order.lines[0].sku.as_deref(), Some("4770"));
    assert_eq!(
        order.shipping_address.house_number_addition.as_deref(),
        Some("b2")
    );
    assert_eq!(order.customer.language.as_deref(), Some("nl"));
    let confirmation = ShipmentConfirmation {
        order_id: order.id.clone(),
        line_ids: vec!["6107434013".into()],
        tracking: Tracking {
            carrier: Some("BPOST_BE".into()),
            code: "323212345678901234567890".into(),
            url: None,
        },
    };
    let receipt = channel.confirm_shipment(&confirmation).await.unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("55"));
    // Now bol has the line as shipped: confirming again sends nothing.
    let again = channel.confirm_shipment(&confirmation).await.unwrap();
    assert_eq!(again.reference, None);
    shipments.assert_calls_async(1).await;
}

/// A warehouse that shipped without a tracking code: the shipment is confirmed without
/// transport details (bol's `transport` is optional), not refused and not sent with an
/// empty code.
#[tokio::test]
async fn a_shipment_without_a_tracking_code_is_confirmed_without_transport() {
    let server = setup().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/1043946570");
            then.status(200).json_body(order_detail(0));
        })
        .await;
    let shipments = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/retailer/shipments")
                .json_body(json!({"orderItems": [{"orderItemId": "6107434013"}]}));
            then.status(202).json_body(process("56", "PENDING", "6107434013"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/56");
            then.status(200).json_body(process("56", "SUCCESS", "6107434013"));
        })
        .await;
    let bol = client(&server);
    let channel: &dyn SalesChannel = &bol;
    let confirmation = ShipmentConfirmation {
        order_id: "1043946570".into(),
        line_ids: vec!["6107434013".into()],
        tracking: Tracking {
            carrier: Some("bpost".into()),
            code: String::new(),
            url: None,
        },
    };
    let receipt = channel.confirm_shipment(&confirmation).await.unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("56"));
    shipments.assert_calls_async(1).await;
}

/// The order as bol has it now, the buyer's cancellation accepted with bol's reason code
/// and exact body, and nothing sent again once bol has the line cancelled.
#[tokio::test]
async fn a_buyers_cancellation_is_read_and_accepted_once() {
    let server = setup().await;
    let mut requested = order_detail(0);
    requested["orderItems"][0]["cancellationRequest"] = json!(true);
    let mut cancelled = order_detail(0);
    cancelled["orderItems"][0]["quantityCancelled"] = json!(1);
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders/1043946570")
                .header("accept", V10)
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) < 2);
            then.status(200).json_body(requested);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/1043946570");
            then.status(200).json_body(cancelled);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/404");
            then.status(404)
                .header("content-type", "application/vnd.retailer.v10+problem+json")
                .json_body(
                    json!({"type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
                       "detail": "Order 404 not found."}),
                );
        })
        .await;
    let cancels = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/retailer/orders/cancellation")
                .header("content-type", V10)
                .header("accept", V10)
                .json_body(json!({"orderItems": [{"orderItemId": "6107434013", "reasonCode": "REQUESTED_BY_CUSTOMER"}]}));
            then.status(202).json_body(process("57", "PENDING", "6107434013"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/57");
            then.status(200).json_body(process("57", "SUCCESS", "6107434013"));
        })
        .await;
    let bol = client(&server);
    let channel: &dyn SalesChannel = &bol;
    let state = channel.order_state("1043946570").await.unwrap().unwrap();
    let line = state.line("6107434013").unwrap();
    assert!(line.cancellation_requested);
    assert_eq!((line.ordered, line.open()), (1, 1));
    assert_eq!(channel.order_state("404").await.unwrap(), None);
    let lines = vec!["6107434013".to_owned()];
    let receipt = channel.accept_cancellation("1043946570", &lines).await.unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("57"));
    // bol has the line cancelled now: accepting again sends nothing.
    let again = channel.accept_cancellation("1043946570", &lines).await.unwrap();
    assert_eq!(again.reference, None);
    cancels.assert_calls_async(1).await;
    let state = channel.order_state("1043946570").await.unwrap().unwrap();
    assert_eq!(state.lines[0].open(), 0);
    // Refused before sending: no line.
    let err = channel.accept_cancellation("1043946570", &[]).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

/// A pick-up point order: bol's `pickupPoint` with the point's name in the shipment
/// details (whose address is the point's).
#[test]
fn a_pick_up_point_order_carries_the_points_name() {
    let mut detail = order_detail(0);
    detail["pickupPoint"] = json!(true);
    detail["shipmentDetails"]["pickupPointName"] = json!("PostNL-punt Primera Antwerpen");
    let order: retailer_client::models::Order = serde_json::from_value(detail).unwrap();
    let order = retailer_client::to_commerce_order(&order);
    assert_eq!(
        order.pickup_point.as_deref(),
        Some("PostNL-punt Primera Antwerpen")
    );
    let home: retailer_client::models::Order = serde_json::from_value(order_detail(0)).unwrap();
    assert_eq!(retailer_client::to_commerce_order(&home).pickup_point, None);
}

/// A line the buyer asked to cancel is still listed (it is not shipped yet), marked, so
/// the shop answers the request instead of never seeing it.
#[test]
fn a_line_with_a_cancellation_request_is_listed_and_marked() {
    let mut detail = order_detail(0);
    detail["orderItems"][0]["cancellationRequest"] = json!(true);
    let order: retailer_client::models::Order = serde_json::from_value(detail).unwrap();
    let order = retailer_client::to_commerce_order(&order);
    assert_eq!(order.lines.len(), 1);
    assert!(order.lines[0].cancellation_requested);
}

#[test]
fn secrets_never_show_and_plain_http_is_refused() {
    let b = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into());
    let c = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .build()
        .unwrap();
    assert!(!format!("{b:?} {c:?}").contains(CLIENT_SECRET));
    let err = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url("http://api.bol.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"));
}

/// A client for paused-time tests: no idle pool, no per-attempt time limit.
fn paused_client(server: &MockServer) -> RetailerClient {
    RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap()
}

fn status(id: &str, state: &str) -> ProcessStatus {
    serde_json::from_value(process(id, state, &format!("item-{id}"))).unwrap()
}

/// The body of a bulk process-status request for `ids`, as bol's `BulkProcessStatusRequest`.
fn bulk_body(ids: &[&str]) -> Value {
    json!({"processStatusQueries": ids.iter().map(|id| json!({"processStatusId": id})).collect::<Vec<_>>()})
}

/// Mocks `POST /shared/process-status` for exactly the body of `ids`, with the retailer media
/// type in `Accept` and `Content-Type`, answering `statuses`; the bodies it matched are kept.
async fn bulk_mock<'a>(
    server: &'a MockServer,
    ids: &[&str],
    statuses: Value,
    seen: &Arc<Mutex<Vec<Value>>>,
) -> httpmock::Mock<'a> {
    let seen = seen.clone();
    let body = bulk_body(ids);
    let expected = body.clone();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/shared/process-status")
                .header("accept", V10)
                .header("content-type", V10)
                .header("authorization", "Bearer tok-1")
                .json_body(body)
                .is_true(move |req| {
                    // Kept only when this mock's body matches, however httpmock tries mocks.
                    let got: Value = serde_json::from_slice(req.body().as_ref()).unwrap_or_default();
                    if got == expected {
                        seen.lock().unwrap().push(got);
                    }
                    true
                });
            then.status(200)
                .header("content-type", V10)
                .json_body(json!({"processStatuses": statuses}));
        })
        .await
}

fn ids_and_states(statuses: &[ProcessStatus]) -> Vec<(String, String)> {
    statuses
        .iter()
        .map(|s| (s.process_status_id.clone().unwrap(), s.status.to_string()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn bulk_waiting_when_all_succeed_in_one_round() {
    let server = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Asked: 1 and 3 (2 is final already, 1 is given twice). Answered out of order, with a
    // status not asked for.
    let m = bulk_mock(
        &server,
        &["1", "3"],
        json!([
            process("3", "SUCCESS", "item-3"),
            process("99", "SUCCESS", "x"),
            process("1", "SUCCESS", "item-1")
        ]),
        &seen,
    )
    .await;
    let given = [
        status("1", "PENDING"),
        status("2", "SUCCESS"),
        status("3", "PENDING"),
        status("1", "PENDING"),
    ];
    let start = tokio::time::Instant::now();
    let done = paused_client(&server)
        .wait_for_processes(&given, WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "one round, after the first delay"
    );
    m.assert_calls_async(1).await;
    assert_eq!(
        ids_and_states(&done),
        [
            ("1", "SUCCESS"),
            ("2", "SUCCESS"),
            ("3", "SUCCESS"),
            ("1", "SUCCESS")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    insta::assert_json_snapshot!("bulk_request", seen.lock().unwrap()[0]);

    // Nothing to wait for: no request, no wait.
    let start = tokio::time::Instant::now();
    let client = paused_client(&server);
    assert!(
        client
            .wait_for_processes(&[], WaitOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
    let final_only = client
        .wait_for_processes(&given[1..2], WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(final_only, given[1..2]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    m.assert_calls_async(1).await;
}

#[tokio::test(start_paused = true)]
async fn bulk_waiting_polls_the_pending_and_the_left_out_again() {
    let server = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Round 1: 1 done, 2 still pending, 3 left out of the answer.
    let first = bulk_mock(
        &server,
        &["1", "2", "3"],
        json!([
            process("1", "SUCCESS", "item-1"),
            process("2", "PENDING", "item-2")
        ]),
        &seen,
    )
    .await;
    // Round 2 asks for 2 and 3 only.
    let second = bulk_mock(
        &server,
        &["2", "3"],
        json!([
            process("2", "SUCCESS", "item-2"),
            process("3", "SUCCESS", "item-3")
        ]),
        &seen,
    )
    .await;
    let given = [
        status("1", "PENDING"),
        status("2", "PENDING"),
        status("3", "PENDING"),
    ];
    let start = tokio::time::Instant::now();
    let done = paused_client(&server)
        .wait_for_processes(&given, WaitOptions::default())
        .await
        .unwrap();
    // Rounds after 100 ms and 150 ms more.
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    assert_eq!(
        ids_and_states(&done),
        [("1", "SUCCESS"), ("2", "SUCCESS"), ("3", "SUCCESS")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(done[2].entity_id.as_deref(), Some("item-3"));
    insta::assert_json_snapshot!("bulk_requests_by_round", *seen.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn bulk_waiting_returns_a_failure_among_them() {
    let server = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut failed = process("2", "FAILURE", "item-2");
    failed["errorMessage"] = json!("Order item 2 is already shipped.");
    let m = bulk_mock(
        &server,
        &["1", "2", "3"],
        json!([
            process("1", "SUCCESS", "item-1"),
            failed,
            process("3", "TIMEOUT", "item-3")
        ]),
        &seen,
    )
    .await;
    let given = [
        status("1", "PENDING"),
        status("2", "PENDING"),
        status("3", "PENDING"),
    ];
    let client = paused_client(&server);
    let done = client
        .wait_for_processes(&given, WaitOptions::default())
        .await
        .unwrap();
    m.assert_calls_async(1).await;
    assert_eq!(
        ids_and_states(&done),
        [("1", "SUCCESS"), ("2", "FAILURE"), ("3", "TIMEOUT")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        done[1].error_message.as_deref(),
        Some("Order item 2 is already shipped.")
    );

    // A pending status without an id is refused before any request.
    let mut no_id = status("4", "PENDING");
    no_id.process_status_id = None;
    let err = client
        .wait_for_processes(&[status("1", "PENDING"), no_id], WaitOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statuses[1].processStatusId"), "{err}");
    m.assert_calls_async(1).await;
}

#[tokio::test(start_paused = true)]
async fn bulk_waiting_ends_at_the_deadline_without_losing_an_id() {
    let server = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // 1 stays pending, 2 is never in an answer: both are asked for in every round.
    let m = bulk_mock(
        &server,
        &["1", "2"],
        json!([process("1", "PENDING", "item-1")]),
        &seen,
    )
    .await;
    let given = [status("1", "PENDING"), status("2", "PENDING")];
    let start = tokio::time::Instant::now();
    let err = paused_client(&server)
        .wait_for_processes(&given, WaitOptions::deadline(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, retailer_client::Error::Timeout { .. }), "{err:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    // Rounds at 0.1, 0.25, 0.475, 0.8125, 1.31875, 2.078125, 3.2171875 and 4.92578125 s,
    // then every 2 s up to 58.92578125 s, and at 60 s.
    m.assert_calls_async(36).await;
}

#[tokio::test(start_paused = true)]
async fn bulk_waiting_asks_at_most_1000_ids_a_request() {
    let server = setup().await;
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let seen_sizes = sizes.clone();
    let m = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/shared/process-status")
                .header("content-type", V10);
            then.respond_with(move |req| {
                let body: Value = serde_json::from_slice(req.body().as_ref()).unwrap();
                let ids: Vec<String> = body["processStatusQueries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["processStatusId"].as_str().unwrap().to_owned())
                    .collect();
                seen_sizes.lock().unwrap().push(ids.len());
                let statuses: Vec<Value> = ids.iter().map(|id| process(id, "SUCCESS", "e")).collect();
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(json!({"processStatuses": statuses}).to_string())
                    .unwrap()
                    .into()
            });
        })
        .await;
    let given: Vec<ProcessStatus> = (0..2345).map(|i| status(&i.to_string(), "PENDING")).collect();
    let done = paused_client(&server)
        .wait_for_processes(&given, WaitOptions::default())
        .await
        .unwrap();
    m.assert_calls_async(3).await;
    assert_eq!(*sizes.lock().unwrap(), [1000, 1000, 345]);
    assert!(done.iter().all(|s| s.status == ProcessState::Success));
    assert!(
        done.iter()
            .zip(&given)
            .all(|(d, g)| d.process_status_id == g.process_status_id),
        "in the order given"
    );
}

#[tokio::test]
async fn a_shipping_label_with_absent_or_unreadable_headers() {
    let server = setup().await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/shipping-labels/l-1")
                .header("accept", "application/vnd.retailer.v10+pdf");
            then.status(200)
                .header("content-type", "application/vnd.retailer.v10+pdf")
                .body("%PDF-1.4");
        })
        .await;
    let label = client(&server).get_shipping_label("l-1").await.unwrap();
    assert_eq!(
        label,
        ShippingLabel {
            pdf: bytes::Bytes::from_static(b"%PDF-1.4"),
            track_and_trace_code: None,
            transporter_code: None,
        }
    );

    // A header that is not UTF-8 reads as absent; httpmock sends only text, so a raw server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ends early");
            request.extend_from_slice(&buf[..n]);
        }
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.retailer.v10+pdf\r\n".to_vec();
        answer.extend_from_slice(b"x-track-and-trace-code: 3S\xff\xfeBOL\r\nx-transporter-code: TNT\r\n");
        answer.extend_from_slice(b"content-length: 8\r\nconnection: close\r\n\r\n%PDF-1.4");
        socket.write_all(&answer).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(raw)
        .token_url(server.url("/token"))
        .build()
        .unwrap();
    let label = bol.get_shipping_label("l-1").await.unwrap();
    assert_eq!(label.track_and_trace_code, None, "not UTF-8");
    assert_eq!(label.transporter_code.as_deref(), Some("TNT"));
    assert_eq!(&label.pdf[..], b"%PDF-1.4");
}

/// A bulk mock answering each asked id with `state_of(id)`, counting its calls' sizes.
async fn answering_bulk<'a>(
    server: &'a MockServer,
    asked: &Arc<Mutex<Vec<Vec<String>>>>,
    state_of: fn(&str) -> &'static str,
) -> httpmock::Mock<'a> {
    let asked = asked.clone();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/shared/process-status")
                .header("content-type", V10)
                .header("accept", V10);
            then.respond_with(move |req| {
                let body: Value = serde_json::from_slice(req.body().as_ref()).unwrap();
                let ids: Vec<String> = body["processStatusQueries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["processStatusId"].as_str().unwrap().to_owned())
                    .collect();
                let statuses: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let mut p = process(id, state_of(id), &format!("item-{id}"));
                        if state_of(id) == "FAILURE" {
                            p["errorMessage"] = json!(format!("Order item {id} is already shipped."));
                        }
                        p
                    })
                    .collect();
                asked.lock().unwrap().push(ids);
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(json!({"processStatuses": statuses}).to_string())
                    .unwrap()
                    .into()
            });
        })
        .await
}

/// Waits running at once through one client and its clones cost one poll a round between
/// them: the flow's workers confirming shipments together poll in bulk, across orders.
#[tokio::test(start_paused = true)]
async fn waits_at_once_share_one_bulk_poll() {
    let server = setup().await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let bulk = answering_bulk(&server, &asked, |_| "SUCCESS").await;
    let single = server
        .mock_async(|when, then| {
            when.method(GET).path_prefix("/shared/process-status/");
            then.status(200).json_body(process("5", "SUCCESS", "item-5"));
        })
        .await;
    let bol = paused_client(&server);
    let start = tokio::time::Instant::now();
    let waits = ["1", "2", "3"].map(|id| {
        let bol = bol.clone();
        async move {
            bol.wait_for_success(&status(id, "PENDING"), WaitOptions::default())
                .await
        }
    });
    let done = futures_util::future::join_all(waits).await;
    assert!(
        done.iter()
            .all(|d| d.as_ref().unwrap().status == ProcessState::Success)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(100), "one round");
    bulk.assert_calls_async(1).await;
    single.assert_calls_async(0).await;
    assert_eq!(*asked.lock().unwrap(), [["1", "2", "3"]]);

    // A wait that ends (or is cancelled) takes its ids out of the next polls.
    // (No other timer than the waits' own while a request is under way: paused time would
    // jump to it.)
    let (s4, s5) = (status("4", "PENDING"), status("5", "PENDING"));
    let (four, five) = tokio::join!(
        tokio::time::timeout(
            Duration::from_millis(50),
            bol.wait_for_process(&s4, WaitOptions::default()),
        ),
        bol.wait_for_process(&s5, WaitOptions::default()),
    );
    assert!(four.is_err(), "4 was given up before its first poll");
    // 5 was polled alone, with `GET /shared/process-status/5`.
    assert_eq!(five.unwrap().status, ProcessState::Success);
    single.assert_calls_async(1).await;
    bulk.assert_calls_async(1).await;
}

/// The batch helper: every shipment created (a few at a time), then all waited for in one
/// bulk poll, each outcome in the order given; a failed create or a FAILURE stops none of
/// the others.
#[tokio::test(start_paused = true)]
async fn confirm_shipments_creates_each_and_waits_for_all_in_bulk() {
    let server = setup().await;
    let creates = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/retailer/shipments")
                .header("content-type", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(|req| {
                let body: Value = serde_json::from_slice(req.body().as_ref()).unwrap();
                let item = body["orderItems"][0]["orderItemId"].as_str().unwrap().to_owned();
                let (status, answer) = if item == "bad" {
                    (
                        400,
                        json!({"type": "https://api.bol.com/problems", "title": "Bad Request", "status": 400,
                               "detail": "Order item bad does not exist.",
                               "violations": [{"name": "orderItems[0].orderItemId", "reason": "Request contains invalid value(s): 'bad'."}]}),
                    )
                } else {
                    (202, process(&format!("p-{item}"), "PENDING", &item))
                };
                http::Response::builder()
                    .status(status)
                    .header("content-type", if status == 400 { "application/vnd.retailer.v10+json" } else { V10 })
                    .body(answer.to_string())
                    .unwrap()
                    .into()
            });
        })
        .await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let bulk = answering_bulk(
        &server,
        &asked,
        |id| if id == "p-2" { "FAILURE" } else { "SUCCESS" },
    )
    .await;
    let shipments: Vec<retailer_client::models::ShipmentRequest> = ["1", "2", "bad", "3"]
        .iter()
        .map(|item| retailer_client::models::ShipmentRequest {
            order_items: vec![retailer_client::models::OrderItem {
                order_item_id: item.to_string(),
                quantity: None,
            }],
            ..Default::default()
        })
        .collect();
    let outcomes = paused_client(&server)
        .confirm_shipments(&shipments, WaitOptions::default())
        .await;
    creates.assert_calls_async(4).await;
    bulk.assert_calls_async(1).await;
    assert_eq!(*asked.lock().unwrap(), [["p-1", "p-2", "p-3"]]);
    assert_eq!(outcomes.len(), 4);
    assert_eq!(
        outcomes[0].as_ref().unwrap().entity_id.as_deref(),
        Some("item-p-1")
    );
    let failed = outcomes[1].as_ref().unwrap_err();
    assert_eq!(failed.provider_code(), Some("FAILURE"));
    assert!(
        failed.to_string().contains("Order item p-2 is already shipped."),
        "{failed}"
    );
    let refused = outcomes[2].as_ref().unwrap_err();
    assert_eq!(refused.status(), Some(400));
    assert!(!refused.is_unconfirmed());
    assert_eq!(outcomes[3].as_ref().unwrap().status, ProcessState::Success);
    assert!(
        paused_client(&server)
            .confirm_shipments(&[], WaitOptions::default())
            .await
            .is_empty()
    );
}

/// A status bol answers 404 for when asked alone (it no longer keeps it, or does not know
/// it yet) is asked for again until the deadline, as an id left out of a bulk answer is.
#[tokio::test(start_paused = true)]
async fn a_lone_status_answered_404_is_asked_again() {
    let server = setup().await;
    let n = Arc::new(AtomicU32::new(0));
    let count = n.clone();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/shared/process-status/8")
                .is_true(move |_| count.fetch_add(1, Ordering::SeqCst) < 2);
            then.status(404)
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(
                    json!({"type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
                       "detail": "Process status 8 not found."}),
                );
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/8");
            // An answer without its id is taken for the id asked.
            let mut done = process("8", "SUCCESS", "e");
            done.as_object_mut().unwrap().remove("processStatusId");
            then.status(200).json_body(done);
        })
        .await;
    let done = paused_client(&server)
        .wait_for_success(&status("8", "PENDING"), WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(done.status, ProcessState::Success);
    assert_eq!(n.load(Ordering::SeqCst), 3, "two 404s, then the answer");
}
