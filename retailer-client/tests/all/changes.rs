//! What bol's push notifications and the reconciliation need of the client: the FBR orders
//! changed since a time, open or not (by minutes within the hour, by Amsterdam date beyond
//! it, every page, each order read in full and mapped as `open_orders` maps it), and a
//! pushed process status waking the waits for it.

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use commerce_core::{ChangedOrder, ChannelEvent, SalesChannel};
use futures_util::TryStreamExt;
use httpmock::Method::GET;
use httpmock::MockServer;
use retailer_client::models::ProcessStatus;
use retailer_client::{RetailerClient, WaitOptions, amsterdam_date};
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, client, setup};

const V10: &str = "application/vnd.retailer.v10+json";

fn fixture(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The order as `GET /retailer/orders/{id}` answers it: the reduced order's items with the
/// details `open_orders` maps (addresses, product, offer, price).
fn full(reduced: &Value) -> Value {
    let items: Vec<Value> = reduced["orderItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!({"orderItemId": i["orderItemId"], "cancellationRequest": i["cancellationRequest"],
                   "quantity": i["quantity"], "quantityShipped": i["quantityShipped"],
                   "quantityCancelled": i["quantityCancelled"], "unitPrice": 24.95, "totalPrice": 24.95,
                   "commission": 2.9, "latestChangedDateTime": i["latestChangedDateTime"],
                   "offer": {"offerId": "o-1", "reference": "SKU-1"},
                   "product": {"ean": i["ean"], "title": "Theepot Utrecht 1,2 l"},
                   "fulfilment": {"method": "FBR"}})
        })
        .collect();
    json!({
        "orderId": reduced["orderId"], "pickupPoint": false, "orderPlacedDateTime": reduced["orderPlacedDateTime"],
        "shipmentDetails": {"salutation": "MALE", "firstName": "Joost", "surname": "de Vries", "streetName": "Oudegracht",
            "houseNumber": "12", "zipCode": "3511AB", "city": "Utrecht", "countryCode": "NL",
            "email": "2vbc4uzf7bcdnyzf6ddt6bx2t3yq@verkopen.bol.com", "language": "nl"},
        "orderItems": items
    })
}

/// `GET /retailer/orders` page 1 with the FBR, ALL and `filter` parameters answering
/// `page`, page 2 empty; with `details`, every order of `page` readable in full (those
/// mocks returned after the list's).
async fn changed_listing<'a>(
    server: &'a MockServer,
    filter: (&'static str, String),
    absent: &'static str,
    page: Value,
    details: bool,
) -> Vec<httpmock::Mock<'a>> {
    let (name, value) = filter.clone();
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .header("accept", V10)
                .header("authorization", "Bearer tok-1")
                .query_param("page", "1")
                .query_param("fulfilment-method", "FBR")
                .query_param("status", "ALL")
                .query_param(name, value.clone())
                .query_param_missing(absent);
            then.status(200)
                .header("content-type", V10)
                .json_body(page.clone());
        })
        .await;
    let (name, value) = filter;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/orders")
                .query_param("page", "2")
                .query_param(name, value);
            then.status(200).header("content-type", V10).json_body(json!({}));
        })
        .await;
    let mut mocks = vec![first];
    if !details {
        return mocks;
    }
    for order in page["orders"].as_array().cloned().unwrap_or_default() {
        let id = order["orderId"].as_str().unwrap().to_owned();
        let detail = full(&order);
        let read = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(format!("/retailer/orders/{id}"))
                    .header("accept", V10);
                then.status(200).header("content-type", V10).json_body(detail);
            })
            .await;
        mocks.push(read);
    }
    mocks
}

#[tokio::test]
async fn orders_changed_within_the_hour_are_asked_for_by_minutes() {
    let server = setup().await;
    let list = changed_listing(
        &server,
        ("change-interval-minute", "15".into()),
        "latest-change-date",
        fixture("orders-changed.json"),
        true,
    )
    .await;
    let bol = client(&server);
    // 14.5 minutes ago: 15 minutes, rounded up.
    let now = at("2026-12-07T12:00:00Z");
    let changed: Vec<ChangedOrder> = bol
        .changed_channel_orders(at("2026-12-07T11:45:30Z"), now)
        .try_collect()
        .await
        .unwrap();
    list[0].assert_async().await;
    /// An order's id, whether it is open, and its lines (id, units, cancellation asked).
    type Summary<'a> = (&'a str, bool, Vec<(&'a str, u32, bool)>);
    let summary: Vec<Summary<'_>> = changed
        .iter()
        .map(|c| {
            (
                c.order.id.as_str(),
                c.open,
                c.order
                    .lines
                    .iter()
                    .map(|l| (l.line_id.as_str(), l.quantity, l.cancellation_requested))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // Partly shipped, the buyer asks to cancel the rest: open, its open units.
            ("1043946570", true, vec![("6107434013", 2, true)]),
            // Shipped in full, and cancelled in full: closed, no lines.
            ("1043946571", false, vec![]),
            ("1043946572", false, vec![]),
        ]
    );
    // The open one is exactly what open_orders gives for it.
    let open = &changed[0].order;
    assert_eq!(open.channel, "bol");
    assert_eq!(open.lines[0].ean.as_deref(), Some("8712345000003"));
    assert_eq!(open.lines[0].sku.as_deref(), Some("SKU-1"));
    assert_eq!(open.shipping_address.city, "Utrecht");
    assert_eq!(open.customer.language.as_deref(), Some("nl"));
}

#[tokio::test]
async fn the_interval_is_at_least_one_minute_and_at_most_sixty() {
    for (since, minutes) in [
        ("2026-12-07T12:00:00Z", "1"),
        // A clock a little ahead of ours.
        ("2026-12-07T12:00:20Z", "1"),
        ("2026-12-07T11:59:59Z", "1"),
        ("2026-12-07T11:00:00Z", "60"),
    ] {
        let server = setup().await;
        let list = changed_listing(
            &server,
            ("change-interval-minute", minutes.into()),
            "latest-change-date",
            json!({}),
            false,
        )
        .await;
        let changed: Vec<ChangedOrder> = client(&server)
            .changed_channel_orders(at(since), at("2026-12-07T12:00:00Z"))
            .try_collect()
            .await
            .unwrap();
        assert!(changed.is_empty());
        list[0].assert_async().await;
    }
}

#[tokio::test]
async fn orders_changed_longer_ago_are_asked_for_by_amsterdam_date_each_read_once() {
    let server = setup().await;
    let page = fixture("orders-changed.json");
    // 23:30 on 6 December in Amsterdam, an hour before midnight UTC: both dates. On the
    // 6th, an order whose item changed before `since` (left out, never read: no mock
    // answers its read) and one whose item does not say when it changed (read).
    let mut before: Value = page["orders"][0].clone();
    before["orderId"] = json!("1043946500");
    before["orderItems"][0]["latestChangedDateTime"] = json!("2026-12-06T23:15:00+01:00");
    let mut undated: Value = page["orders"][0].clone();
    undated["orderId"] = json!("1043946501");
    undated["orderItems"][0]
        .as_object_mut()
        .unwrap()
        .remove("latestChangedDateTime");
    let yesterday = changed_listing(
        &server,
        ("latest-change-date", "2026-12-06".into()),
        "change-interval-minute",
        json!({"orders": [before, page["orders"][1], undated.clone()]}),
        false,
    )
    .await;
    let undated_read = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders/1043946501");
            then.status(200)
                .header("content-type", V10)
                .json_body(full(&undated));
        })
        .await;
    let today = changed_listing(
        &server,
        ("latest-change-date", "2026-12-07".into()),
        "change-interval-minute",
        page.clone(),
        true,
    )
    .await;
    let bol = client(&server);
    let changed: Vec<ChangedOrder> = bol
        .changed_channel_orders(at("2026-12-06T22:30:00Z"), at("2026-12-07T12:00:00Z"))
        .try_collect()
        .await
        .unwrap();
    yesterday[0].assert_async().await;
    today[0].assert_async().await;
    let ids: Vec<&str> = changed.iter().map(|c| c.order.id.as_str()).collect();
    // 1043946571 is listed on both dates: read once.
    assert_eq!(ids, ["1043946571", "1043946501", "1043946570", "1043946572"]);
    assert_eq!(undated_read.calls_async().await, 1);
    for read in &today[1..] {
        assert_eq!(read.calls_async().await, 1);
    }
}

#[test]
fn amsterdam_dates_follow_summer_time() {
    let date = |t: &str| amsterdam_date(at(t));
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    // Winter, UTC+1.
    assert_eq!(date("2026-12-06T22:59:59Z"), d(2026, 12, 6));
    assert_eq!(date("2026-12-06T23:00:00Z"), d(2026, 12, 7));
    assert_eq!(date("2026-12-31T23:30:00Z"), d(2027, 1, 1));
    // Summer, UTC+2: from the last Sunday of March (29 March 2026) 01:00 UTC ...
    assert_eq!(date("2026-03-28T22:30:00Z"), d(2026, 3, 28));
    assert_eq!(date("2026-06-30T22:30:00Z"), d(2026, 7, 1));
    assert_eq!(date("2026-06-30T21:59:59Z"), d(2026, 6, 30));
    // ... to the last Sunday of October (25 October 2026) 01:00 UTC.
    assert_eq!(date("2026-10-24T22:30:00Z"), d(2026, 10, 25));
    assert_eq!(date("2026-10-25T22:30:00Z"), d(2026, 10, 25));
    assert_eq!(date("2026-10-25T23:00:00Z"), d(2026, 10, 26));
}

fn paused_client(server: &MockServer) -> RetailerClient {
    RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap()
}

fn process(state: &str) -> Value {
    json!({"processStatusId": "p-ship", "entityId": "6107434013", "eventType": "CONFIRM_SHIPMENT",
           "description": "Confirm shipment for order item 6107434013", "status": state,
           "createTimestamp": "2026-12-07T13:00:00+01:00", "links": []})
}

/// `GET /shared/process-status/p-ship`: PENDING until `pending` polls were answered, then
/// SUCCESS; a message on `first` when the first poll arrives.
async fn polls<'a>(
    server: &'a MockServer,
    pending: u32,
    first: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
) -> httpmock::Mock<'a> {
    let n = Arc::new(AtomicU32::new(0));
    server
        .mock_async(move |when, then| {
            when.method(GET).path("/shared/process-status/p-ship");
            then.respond_with(move |_| {
                if let Some(tx) = first.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                let state = if n.fetch_add(1, Ordering::SeqCst) < pending {
                    "PENDING"
                } else {
                    "SUCCESS"
                };
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(process(state).to_string())
                    .unwrap()
                    .into()
            });
        })
        .await
}

fn slow_wait() -> WaitOptions {
    WaitOptions {
        deadline: Duration::from_secs(60),
        first_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(2),
        growth_percent: 100,
    }
}

#[tokio::test(start_paused = true)]
async fn a_pushed_process_status_wakes_its_wait_for_one_poll() {
    let server = setup().await;
    let (tx, first_poll) = tokio::sync::oneshot::channel();
    let mock = polls(&server, 1, Arc::new(Mutex::new(Some(tx)))).await;
    let bol = paused_client(&server);
    let started: ProcessStatus = serde_json::from_value(process("PENDING")).unwrap();
    let waiting = {
        let bol = bol.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let done = bol.wait_for_process(&started, slow_wait()).await.unwrap();
            (done, start.elapsed())
        })
    };
    // The first poll (after 2 s) answers PENDING: the next is 2 s away.
    first_poll.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // bol pushes the outcome, told through a clone, as the flow tells the channel.
    let channel: &dyn SalesChannel = &bol;
    channel.event_arrived(&ChannelEvent::ProcessStatus {
        id: "p-ship".into(),
        state: Some("SUCCESS".into()),
    });
    let (done, elapsed) = waiting.await.unwrap();
    assert_eq!(done.status.as_str(), "SUCCESS");
    assert_eq!(
        elapsed,
        Duration::from_millis(2500),
        "right after the push, not at 4 s"
    );
    assert_eq!(mock.calls_async().await, 2, "exactly one more poll");
}

#[tokio::test(start_paused = true)]
async fn a_push_before_its_wait_starts_makes_the_first_poll_immediate() {
    let server = setup().await;
    let mock = polls(&server, 0, Arc::default()).await;
    let bol = paused_client(&server);
    bol.process_status_arrived("p-ship");
    // Pushes for other ids, or other events, change nothing.
    bol.event_arrived(&ChannelEvent::NewOrder {
        order_id: "1043946570".into(),
    });
    let started: ProcessStatus = serde_json::from_value(process("PENDING")).unwrap();
    let start = tokio::time::Instant::now();
    let done = bol.wait_for_process(&started, slow_wait()).await.unwrap();
    assert_eq!(done.status.as_str(), "SUCCESS");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(mock.calls_async().await, 1);
    // Remembered once: the next wait sleeps its first delay as before.
    let start = tokio::time::Instant::now();
    bol.wait_for_process(&started, slow_wait()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_push_for_another_id_does_not_wake_a_wait() {
    let server = setup().await;
    let mock = polls(&server, 0, Arc::default()).await;
    let bol = paused_client(&server);
    let started: ProcessStatus = serde_json::from_value(process("PENDING")).unwrap();
    let waiting = {
        let bol = bol.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            bol.wait_for_process(&started, slow_wait()).await.unwrap();
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    bol.process_status_arrived("p-other");
    assert_eq!(waiting.await.unwrap(), Duration::from_secs(2));
    assert_eq!(mock.calls_async().await, 1);
}
