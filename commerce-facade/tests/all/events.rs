//! Pushed events and the reconciliation, on a channel and a warehouse in memory, in paused
//! time: a pushed new order is listed and handed over at once (not at the next poll), a
//! delivery made again is not acted on twice, an event journaled before a stop is acted on
//! at the next start, a process status is told to its channel, the listing slows down
//! while events are pushed, and the reconciliation finds the orders that left the open list
//! between two listings.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use commerce_core::{
    Address, ChangedOrder, ChannelEvent, ConfirmationReceipt, Customer, Error, Fulfilment, FulfilmentState,
    FulfilmentStatus, LineItem, Order, SalesChannel, ShipmentConfirmation, StockLevel, SubmissionReceipt,
};
use commerce_facade::{Event, EventRecord, Flow, FlowOptions, Journal, MemoryJournal, Providers};
use futures_util::stream::{BoxStream, StreamExt};

const EAN: &str = "8712345678906";

fn order(id: &str) -> Order {
    Order {
        id: id.into(),
        channel: "bol".into(),
        lines: vec![LineItem {
            line_id: format!("{id}-1"),
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

#[derive(Debug, Default)]
struct ChannelState {
    open: Vec<Order>,
    changed: Vec<ChangedOrder>,
    listings: usize,
    since: Vec<DateTime<Utc>>,
    told: Vec<ChannelEvent>,
    /// The channel reads one order by its id (`open_order`); otherwise the flow lists.
    reads_one: bool,
    /// Reads of one order that find nothing yet (bol shows it a moment after the push).
    not_shown_yet: usize,
    reads: usize,
    /// The listing fails (bol answers 503).
    listing_fails: bool,
    /// The first read of the changed orders fails (one order bol cannot give).
    changed_read_fails: bool,
}

#[derive(Debug, Clone, Default)]
struct Channel(Arc<Mutex<ChannelState>>);

impl Channel {
    fn state(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        self.0.lock().unwrap()
    }
}

#[async_trait]
impl SalesChannel for Channel {
    fn name(&self) -> &str {
        "bol"
    }
    fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>> {
        let mut s = self.state();
        s.listings += 1;
        if s.listing_fails {
            return futures_util::stream::iter([Err(Error::config("bol answers 503"))]).boxed();
        }
        futures_util::stream::iter(s.open.clone().into_iter().map(Ok)).boxed()
    }
    async fn open_order(&self, order_id: &str) -> Result<Option<Order>, Error> {
        let mut s = self.state();
        if !s.reads_one {
            return Err(Error::Unsupported {
                provider: "bol".into(),
                operation: "open_order".into(),
                reason: "not in this test".into(),
            });
        }
        s.reads += 1;
        if s.not_shown_yet > 0 {
            s.not_shown_yet -= 1;
            return Ok(None);
        }
        Ok(s.open.iter().find(|o| o.id == order_id).cloned())
    }
    fn changed_orders(&self, since: DateTime<Utc>) -> BoxStream<'static, Result<ChangedOrder, Error>> {
        let mut s = self.state();
        s.since.push(since);
        let failing = std::mem::take(&mut s.changed_read_fails)
            .then(|| Err(Error::config("bol answers 500 for one order")));
        futures_util::stream::iter(failing.into_iter().chain(s.changed.clone().into_iter().map(Ok))).boxed()
    }
    fn event_arrived(&self, event: &ChannelEvent) {
        self.state().told.push(event.clone());
    }
    async fn confirm_shipment(&self, _: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
        unreachable!("no parcel ships in these tests")
    }
}

/// A warehouse that takes every order and never ships it.
#[derive(Debug, Clone, Default)]
struct Warehouse(Arc<Mutex<Vec<String>>>);

impl Warehouse {
    fn took(&self, id: &str) -> bool {
        self.0.lock().unwrap().iter().any(|o| o == id)
    }
}

#[async_trait]
impl Fulfilment for Warehouse {
    fn name(&self) -> &str {
        "wh"
    }
    async fn submit(&self, o: &Order) -> Result<SubmissionReceipt, Error> {
        self.0.lock().unwrap().push(o.id.clone());
        Ok(SubmissionReceipt {
            provider: "wh".into(),
            reference: format!("wh-{}", o.id),
            already_submitted: false,
        })
    }
    async fn status(&self, _: &str) -> Result<FulfilmentStatus, Error> {
        Ok(FulfilmentStatus {
            state: FulfilmentState::Processing,
            shipments: vec![],
        })
    }
    async fn cancel(&self, _: &str) -> Result<(), Error> {
        unreachable!()
    }
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        Ok(eans
            .iter()
            .map(|e| StockLevel::new(e.clone(), Some(e.clone()), 100))
            .collect())
    }
}

struct Shop {
    channel: Channel,
    warehouse: Warehouse,
    journal: Arc<MemoryJournal>,
    flow: Arc<Flow>,
    said: Arc<Mutex<Vec<String>>>,
}

fn shop(change: impl FnOnce(&mut FlowOptions)) -> Shop {
    let channel = Channel::default();
    let warehouse = Warehouse::default();
    let journal = Arc::new(MemoryJournal::new());
    let mut options = FlowOptions {
        runner: "r1".into(),
        poll_interval: Duration::from_secs(300),
        routes: [(EAN.to_owned(), "wh".to_owned())].into(),
        ..commerce_testing::facade::shop_options()
    };
    change(&mut options);
    let said = Arc::new(Mutex::new(Vec::new()));
    let said2 = said.clone();
    let flow = Flow::new(
        Providers::new()
            .channel(channel.clone())
            .fulfilment(warehouse.clone()),
        journal.clone(),
        options,
    )
    .observe(move |e: &Event| {
        if matches!(e, Event::Pushed { .. } | Event::Reconciled { .. }) {
            said2.lock().unwrap().push(e.to_string());
        }
    });
    Shop {
        channel,
        warehouse,
        journal,
        flow: Arc::new(flow),
        said,
    }
}

fn pushed(kind: &str, resource: &str, body: &str) -> EventRecord {
    EventRecord {
        id: format!("bol:{kind}:{resource}:{body}"),
        channel: "bol".into(),
        kind: kind.into(),
        resource_id: Some(resource.into()),
        received_at: Utc::now(),
        handled_at: None,
        body: body.into(),
    }
}

async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn unhandled(journal: &MemoryJournal) -> usize {
    journal.unhandled_events("bol", 100).await.unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn a_pushed_order_is_handed_over_at_once_and_a_delivery_made_again_is_not_acted_on() {
    let shop = shop(|o| o.poll_interval = Duration::from_secs(3600));
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the first listing", Duration::from_secs(5), || {
        shop.channel.state().listings == 1
    })
    .await;
    shop.channel.state().open.push(order("A1"));
    let pushed_at = tokio::time::Instant::now();
    let event = pushed("ORDER:ORDER_CREATED", "A1", "{}");
    assert!(shop.flow.receive_event(event.clone()).await.unwrap());
    until("the hand-over", Duration::from_secs(5), || {
        shop.warehouse.took("A1")
    })
    .await;
    assert!(
        pushed_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        pushed_at.elapsed()
    );
    assert_eq!(
        shop.channel.state().listings,
        2,
        "one listing for the event, no poll"
    );
    assert_eq!(
        unhandled(&shop.journal).await,
        0,
        "handled once the listing succeeded"
    );
    // bol delivers it again (it did not see the answer): journaled once, not acted on.
    assert!(!shop.flow.receive_event(event).await.unwrap());
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(shop.channel.state().listings, 2);
    assert_eq!(shop.flow.health().events_handled, 1);
    assert!(shop.flow.health().last_listed.is_some());
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
    let said = shop.said.lock().unwrap().join("\n");
    assert!(
        said.contains("[bol] pushed ORDER:ORDER_CREATED A1: listing the open orders now"),
        "{said}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_event_journaled_before_a_stop_is_acted_on_at_the_next_start() {
    let shop = shop(|_| {});
    shop.channel.state().open.push(order("B2"));
    // Received and answered, then the process stopped before acting on it.
    assert!(
        shop.flow
            .receive_event(pushed("ORDER:ORDER_CREATED", "B2", "{}"))
            .await
            .unwrap()
    );
    assert_eq!(unhandled(&shop.journal).await, 1);
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the hand-over", Duration::from_secs(5), || {
        shop.warehouse.took("B2")
    })
    .await;
    until("the event handled", Duration::from_secs(5), || {
        shop.flow.health().events_handled == 1
    })
    .await;
    assert_eq!(unhandled(&shop.journal).await, 0);
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_process_status_is_told_to_its_channel_and_other_events_are_kept() {
    let shop = shop(|o| o.poll_interval = Duration::from_secs(3600));
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the first listing", Duration::from_secs(5), || {
        shop.channel.state().listings == 1
    })
    .await;
    shop.flow
        .receive_event(pushed("PROCESS_STATUS:SUCCESS", "77", "{}"))
        .await
        .unwrap();
    shop.flow
        .receive_event(pushed("SHIPMENT:UPDATE_TRANSPORT_EVENT", "S9", "{}"))
        .await
        .unwrap();
    until("both handled", Duration::from_secs(5), || {
        shop.flow.health().events_handled == 2
    })
    .await;
    assert_eq!(
        shop.channel.state().told,
        vec![ChannelEvent::ProcessStatus {
            id: "77".into(),
            state: Some("SUCCESS".into())
        }]
    );
    assert_eq!(shop.channel.state().listings, 1, "neither asks for a listing");
    assert_eq!(unhandled(&shop.journal).await, 0);
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_listing_slows_down_while_events_are_pushed_and_picks_up_when_they_stop() {
    let shop = shop(|o| o.event_poll_interval = Duration::from_secs(1800));
    shop.flow.waker().set_push_active(true);
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    tokio::time::sleep(Duration::from_secs(2 * 3600 + 60)).await;
    // At the start, then every 30 minutes (not every 5).
    assert_eq!(shop.channel.state().listings, 5);
    assert!(shop.flow.health().push_active);
    // The subscription is gone: the next listing is at most a poll interval after the last.
    shop.flow.waker().set_push_active(false);
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(shop.channel.state().listings, 6);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(shop.channel.state().listings, 8);
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_reconciliation_finds_orders_that_left_the_open_list_between_two_listings() {
    let shop = shop(|o| o.reconcile_interval = Some(Duration::from_secs(3600)));
    // C3 came and went (shipped elsewhere); A2 is still open but bol's open list missed it.
    shop.channel.state().changed = vec![
        ChangedOrder {
            order: order("A2"),
            open: true,
        },
        ChangedOrder {
            order: Order {
                lines: vec![],
                ..order("C3")
            },
            open: false,
        },
    ];
    let started = Utc::now();
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the hand-over of A2", Duration::from_secs(5), || {
        shop.warehouse.took("A2")
    })
    .await;
    assert!(!shop.warehouse.took("C3"));
    let first = shop.channel.state().since[0];
    assert!(
        (started - first - chrono::Duration::hours(24))
            .num_seconds()
            .abs()
            < 5,
        "the first reads a day"
    );
    assert!(shop.flow.health().last_reconciled.is_some());
    // The next pass, an hour later, reads from the first's start less 5 minutes.
    tokio::time::sleep(Duration::from_secs(3600 + 5)).await;
    let since = shop.channel.state().since.clone();
    assert_eq!(since.len(), 2, "{since:?}");
    assert!(
        (since[1] - (started - chrono::Duration::minutes(5)))
            .num_seconds()
            .abs()
            < 5,
        "{since:?}"
    );
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
    let said = shop.said.lock().unwrap().join("\n");
    assert!(
        said.contains("[bol] reconciliation: 2 changed order(s), 1 open one(s) new to the journal, 1 closed without this flow (shipped or cancelled elsewhere: C3)"),
        "{said}"
    );
    // The second pass found A2 known: nothing new.
    assert!(said.contains("2 changed order(s), 0 open one(s) new"), "{said}");
    assert_eq!(
        shop.journal.all().await.unwrap().len(),
        1,
        "A2 once; C3 not journaled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pushed_order_is_read_by_its_id_without_a_listing_and_looked_for_again_until_shown() {
    let shop = shop(|o| o.poll_interval = Duration::from_secs(3600));
    shop.channel.state().reads_one = true;
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the first listing", Duration::from_secs(5), || {
        shop.channel.state().listings == 1
    })
    .await;
    {
        let mut s = shop.channel.state();
        s.open.push(order("D4"));
        s.not_shown_yet = 2;
    }
    let pushed_at = tokio::time::Instant::now();
    shop.flow
        .receive_event(pushed("ORDER:ORDER_CREATED", "D4", "{}"))
        .await
        .unwrap();
    until("the hand-over", Duration::from_secs(60), || {
        shop.warehouse.took("D4")
    })
    .await;
    // Not shown at the push, nor 15 s later; read the third time, 30 s after the push.
    assert_eq!(shop.channel.state().reads, 3);
    let took = pushed_at.elapsed();
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(32),
        "{took:?}"
    );
    assert_eq!(shop.channel.state().listings, 1, "read by its id: no listing");
    until("handled", Duration::from_secs(5), || {
        shop.flow.health().events_handled == 1
    })
    .await;
    // An order bol never shows is let go after two minutes (the listings look for it).
    shop.flow
        .receive_event(pushed("ORDER:ORDER_CREATED", "E5", "{}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(150)).await;
    assert_eq!(unhandled(&shop.journal).await, 0);
    assert!(!shop.warehouse.took("E5"));
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
    let said = shop.said.lock().unwrap().join("\n");
    assert!(
        said.contains("pushed ORDER:ORDER_CREATED D4: not on the channel yet"),
        "{said}"
    );
    assert!(
        said.contains("pushed ORDER:ORDER_CREATED D4: read, and taken as a listing takes it"),
        "{said}"
    );
}

#[tokio::test(start_paused = true)]
async fn pushed_events_do_not_defeat_the_back_off_of_a_failing_listing() {
    let shop = shop(|o| o.poll_interval = Duration::from_secs(300));
    shop.channel.state().listing_fails = true;
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    // Three orders pushed at once, then a process status every second for ten minutes, while
    // bol's listing fails.
    for id in ["F1", "F2", "F3"] {
        shop.flow
            .receive_event(pushed("ORDER:ORDER_CREATED", id, "{}"))
            .await
            .unwrap();
    }
    for n in 0..600 {
        shop.flow
            .receive_event(pushed("PROCESS_STATUS:SUCCESS", &n.to_string(), "{}"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let listings = shop.channel.state().listings;
    // At 0, 30 s, 1 min later, 2, 4 (doubling): the back-off, whatever the pushes.
    assert!(listings <= 6, "{listings} listings in 10 minutes");
    assert_eq!(
        unhandled(&shop.journal).await,
        3,
        "the orders' events wait for a listing"
    );
    shop.channel.state().listing_fails = false;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(unhandled(&shop.journal).await, 0);
    assert_eq!(shop.flow.health().events_handled, 603, "each event handled once");
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_read_the_reconciliation_cannot_make_does_not_stop_the_others_and_the_next_pass_reads_again() {
    let shop = shop(|o| o.reconcile_interval = Some(Duration::from_secs(3600)));
    {
        let mut s = shop.channel.state();
        s.changed = vec![ChangedOrder {
            order: order("G7"),
            open: true,
        }];
        s.changed_read_fails = true;
    }
    let watch = tokio::spawn({
        let flow = shop.flow.clone();
        async move { flow.watch().await }
    });
    until("the hand-over of G7", Duration::from_secs(5), || {
        shop.warehouse.took("G7")
    })
    .await;
    assert!(shop.flow.health().last_reconciled.is_none(), "the pass failed");
    // Tried again after a third of the interval (the failed pass's back-off), from the same
    // time.
    tokio::time::sleep(Duration::from_secs(1201)).await;
    let since = shop.channel.state().since.clone();
    assert_eq!(since.len(), 2, "{since:?}");
    assert_eq!(since[0], since[1], "the window did not move");
    assert!(shop.flow.health().last_reconciled.is_some());
    shop.flow.stop_handle().stop();
    watch.await.unwrap();
    let said = shop.said.lock().unwrap().join("\n");
    assert!(
        said.contains("[bol] reconciliation: failed (1 in a row): configuration error: bol answers 500"),
        "{said}"
    );
}
