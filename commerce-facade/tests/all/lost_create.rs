//! A Customer API create whose answer was lost, and whose look-up by reference then
//! failed, is never sent again: the order stays handed over with its outcome unknown, and
//! the next visit looks it up (the sequence that created two supplier orders twice in the
//! returns soak at 1000 orders, faults 0.3, garbled creates 0.1). Deterministic: one order
//! on a channel in memory, the Customer API a scripted server answering in turn.
#![cfg(feature = "customer-api")]

use std::sync::Arc;

use async_trait::async_trait;
use commerce_core::{
    Address, ConfirmationReceipt, Customer, Error, LineItem, Order, RetryPolicy, SalesChannel,
    ShipmentConfirmation,
};
use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal, OrderRecord, Providers, Step};
use commerce_testing::{Reply, ScriptedServer};
use customer_api_client::CustomerApiClient;
use futures_util::stream::{BoxStream, StreamExt};

const EAN: &str = "8712345678906";
const ORDER: &str = "1043952639";

/// bol with one open order of one line.
#[derive(Debug)]
struct Channel;

fn order() -> Order {
    Order {
        id: ORDER.into(),
        channel: "bol".into(),
        lines: vec![LineItem {
            line_id: format!("{ORDER}-1"),
            ean: Some(EAN.into()),
            quantity: 1,
            ..Default::default()
        }],
        shipping_address: Address {
            first_name: "Jan".into(),
            last_name: "Visser".into(),
            street: "Damrak".into(),
            house_number: "1".into(),
            postcode: "1012 LG".into(),
            city: "Amsterdam".into(),
            country: "NL".into(),
            email: Some("2ahsy7qx@verkopen.bol.com".into()),
            ..Default::default()
        },
        customer: Customer {
            email: "2ahsy7qx@verkopen.bol.com".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[async_trait]
impl SalesChannel for Channel {
    fn name(&self) -> &str {
        "bol"
    }
    fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>> {
        futures_util::stream::iter(vec![Ok(order())]).boxed()
    }
    async fn confirm_shipment(&self, _: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
        unreachable!("the runs stop before the parcel leaves")
    }
}

fn options(stop_after_steps: Option<usize>) -> FlowOptions {
    FlowOptions {
        runner: "r1".into(),
        max_attempts: 1,
        stop_after_steps,
        routes: [(EAN.to_owned(), "customer-api".to_owned())].into(),
        ..commerce_testing::facade::shop_options()
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_create_whose_look_up_fails_is_looked_up_again_never_created_twice() {
    let found =
        format!(r#"[{{"_type":"Order","id":"7001","reference":"{ORDER}","processing_status":"new"}}]"#);
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            r#"{"_type":"AccessToken","token_type":"Bearer","expires_in":3600,"access_token":"t"}"#,
        ),
        // The create goes through; its answer is garbled on the way back.
        Reply::Raw(commerce_testing::hostile::answer(
            201,
            &[("content-type", "text/html")],
            b"<html><body>502 upstream hiccup (the request went through)</body></html>",
        )),
        // The look-up that would settle it fails.
        Reply::json(503, r#"{"message":"unavailable"}"#),
        // From then on the list has it.
        Reply::json(200, &found),
    ])
    .await;
    let customer = CustomerApiClient::builder("id-1", "secret-1".to_owned().into())
        .shop_url(&server.url)
        .http(commerce_testing::paused_time_http())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let providers = Providers::new().channel(Channel).fulfilment(customer);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    // A journal that has kept bol's orders before: a new order is created without a
    // look-up first (only a new or replaced journal looks every order up before creating it).
    let mut earlier = OrderRecord::new(Order {
        id: "1043900001".into(),
        channel: "bol".into(),
        ..order()
    });
    earlier.completed_at = Some(chrono::Utc::now());
    assert!(journal.add(&earlier).await.unwrap());

    // The first run: handed over, outcome unknown, left for the next run.
    Flow::new(providers.clone(), journal.clone(), options(None))
        .run()
        .await;
    let key = format!("bol:{ORDER}");
    let record = journal.load(&key).await.unwrap().unwrap();
    let history: Vec<String> = journal
        .history(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect();
    assert!(
        matches!(record.submission, Step::Started),
        "the hand-over stays begun: {:?} / {history:#?}",
        record.submission
    );

    // The next run settles it by the look-up, and sends nothing.
    Flow::new(providers, journal.clone(), options(Some(1)))
        .run()
        .await;
    let record = journal.load(&key).await.unwrap().unwrap();
    let receipt = record.submission.done().expect("settled by the look-up");
    assert_eq!(receipt.reference, "7001");
    assert!(receipt.already_submitted);
    let creates = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/api/customer/orders")
        .count();
    assert_eq!(
        creates,
        1,
        "the order was created once: {:#?}",
        server
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect::<Vec<_>>()
    );
}
