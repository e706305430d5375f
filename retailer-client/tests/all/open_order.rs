//! `SalesChannel::open_order`: one order read by its id (`GET /retailer/orders/{order-id}`)
//! and mapped exactly as `open_orders` maps it (the same code), `None` for a 404 or an
//! order with nothing left for the shop to ship, an empty id refused before anything is
//! sent.

use crate::support;

use commerce_core::SalesChannel;
use futures_util::TryStreamExt;
use httpmock::Method::GET;
use httpmock::MockServer;
use serde_json::{Value, json};
use support::{client, setup};

const V10: &str = "application/vnd.retailer.v10+json";

fn fixture() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/order-mixed.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

/// `GET /retailer/orders/{id}` with bol's media type and the token, answering `answer`.
async fn order_endpoint<'a>(
    server: &'a MockServer,
    id: &str,
    status: u16,
    answer: Value,
) -> httpmock::Mock<'a> {
    let path = format!("/retailer/orders/{id}");
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path(path)
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            then.status(status).header("content-type", V10).json_body(answer);
        })
        .await
}

#[tokio::test]
async fn one_order_is_read_and_mapped_as_the_open_listing_maps_it() {
    let server = setup().await;
    let read = order_endpoint(&server, "1043946571", 200, fixture()).await;
    let bol = client(&server);
    let channel: &dyn SalesChannel = &bol;
    let order = channel
        .open_order("1043946571")
        .await
        .unwrap()
        .expect("an order with lines to ship");
    read.assert_calls_async(1).await;
    // Its open lines only: the shipped line is left out; the line with a cancellation
    // request keeps its one open unit and the flag.
    let lines: Vec<(&str, u32, bool)> = order
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity, l.cancellation_requested))
        .collect();
    assert_eq!(
        lines,
        [("6107434015", 1, true)],
        "the FBB line of a mixed order is bol's to ship: left out, as open_orders leaves it out"
    );
    assert_eq!(order.id, "1043946571");
    assert_eq!(order.lines[0].sku.as_deref(), Some("THEE-UTR-12"));
    assert_eq!(order.shipping_address.city, "Utrecht");

    // The same order as the open listing gives it: equal, field for field.
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .query_param("page", "1")
                .query_param("fulfilment-method", "FBR")
                .query_param("status", "OPEN");
            then.status(200).header("content-type", V10).json_body(json!({"orders": [
                {"orderId": "1043946571", "orderPlacedDateTime": "2026-12-07T06:02:00+01:00",
                 "orderItems": [{"orderItemId": "6107434015", "ean": "8712345000003", "fulfilmentMethod": "FBR",
                     "fulfilmentStatus": "OPEN", "quantity": 2, "quantityShipped": 0, "quantityCancelled": 1,
                     "cancellationRequest": true}]}]}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders").query_param("page", "2");
            then.status(200).header("content-type", V10).json_body(json!({}));
        })
        .await;
    let listed: Vec<_> = channel.open_orders().try_collect().await.unwrap();
    assert_eq!(listed, vec![order]);
}

#[tokio::test]
async fn an_order_bol_does_not_know_is_none() {
    let server = setup().await;
    let read = order_endpoint(
        &server,
        "1043946599",
        404,
        json!({"type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
               "detail": "Order for orderId 1043946599 not found"}),
    )
    .await;
    let bol = client(&server);
    assert_eq!(bol.open_order("1043946599").await.unwrap(), None);
    read.assert_calls_async(1).await;
}

#[tokio::test]
async fn an_order_with_nothing_left_for_the_shop_to_ship_is_none() {
    let server = setup().await;
    // Every line of the shop shipped or cancelled; bol's own (FBB) line still open.
    let mut only_bols = fixture();
    only_bols["orderItems"][0]["quantityCancelled"] = json!(2);
    order_endpoint(&server, "1043946571", 200, only_bols).await;
    // Everything shipped or cancelled.
    let mut done = fixture();
    done["orderId"] = json!("1043946572");
    done["orderItems"][0]["quantityShipped"] = json!(1);
    done["orderItems"][2]["quantityCancelled"] = json!(4);
    order_endpoint(&server, "1043946572", 200, done).await;
    let bol = client(&server);
    assert_eq!(bol.open_order("1043946571").await.unwrap(), None);
    assert_eq!(bol.open_order("1043946572").await.unwrap(), None);
}

#[tokio::test]
async fn a_line_without_a_fulfilment_method_counts_as_the_shops() {
    let server = setup().await;
    let mut order = fixture();
    for item in order["orderItems"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("fulfilment");
    }
    order_endpoint(&server, "1043946571", 200, order).await;
    let found = client(&server).open_order("1043946571").await.unwrap().unwrap();
    assert_eq!(found.lines.len(), 2);
}

#[tokio::test]
async fn an_empty_id_is_refused_before_anything_is_sent() {
    let server = setup().await;
    let any = server
        .mock_async(|when, then| {
            when.path_prefix("/retailer/orders");
            then.status(200).json_body(fixture());
        })
        .await;
    let err = client(&server).open_order("  ").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    assert_eq!(any.calls_async().await, 0);
}

#[tokio::test]
async fn an_answer_naming_another_order_is_an_error() {
    let server = setup().await;
    let mut other = fixture();
    other["orderId"] = json!("1043946000");
    order_endpoint(&server, "1043946571", 200, other).await;
    let err = client(&server).open_order("1043946571").await.unwrap_err();
    insta::assert_snapshot!("open_order_another_order", err.to_string());
}

/// The reconciliation's changed orders are mapped as the open listing maps them: a mixed
/// order's FBB line is bol's to ship (left out), and an order whose only open line is bol's
/// is not open for the shop.
#[tokio::test]
async fn changed_orders_leave_bols_own_lines_out() {
    let server = setup().await;
    let mixed = fixture();
    let mut only_fbb = fixture();
    only_fbb["orderId"] = json!("1043946572");
    for item in only_fbb["orderItems"].as_array_mut().unwrap() {
        if item["fulfilment"]["method"] == "FBR" {
            item["quantityShipped"] = item["quantity"].clone();
            item["quantityCancelled"] = json!(0);
        }
    }
    let reduced = |order: &Value| {
        json!({"orderId": order["orderId"], "orderPlacedDateTime": order["orderPlacedDateTime"],
               "orderItems": order["orderItems"].as_array().unwrap().iter().map(|i| json!({
                   "orderItemId": i["orderItemId"], "ean": i["product"]["ean"], "quantity": i["quantity"],
                   "quantityShipped": i["quantityShipped"], "quantityCancelled": i["quantityCancelled"]})).collect::<Vec<_>>()})
    };
    let page = json!({"orders": [reduced(&mixed), reduced(&only_fbb)]});
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .query_param("page", "1")
                .query_param("status", "ALL")
                .query_param("fulfilment-method", "FBR");
            then.status(200).header("content-type", V10).json_body(page);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders").query_param("page", "2");
            then.status(200).header("content-type", V10).json_body(json!({}));
        })
        .await;
    order_endpoint(&server, "1043946571", 200, mixed).await;
    order_endpoint(&server, "1043946572", 200, only_fbb).await;
    let bol = client(&server);
    let now = chrono::Utc::now();
    let changed: Vec<commerce_core::ChangedOrder> = bol
        .changed_channel_orders(now - chrono::Duration::minutes(30), now)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);
    assert!(changed[0].open);
    let lines: Vec<&str> = changed[0]
        .order
        .lines
        .iter()
        .map(|l| l.line_id.as_str())
        .collect();
    assert_eq!(lines, ["6107434015"], "the FBB line 6107434016 is bol's");
    assert!(
        !changed[1].open,
        "only bol's own line is open: nothing for the shop"
    );
}
