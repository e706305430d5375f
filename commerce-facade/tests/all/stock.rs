//! The stock pass against a channel and warehouses in memory: what it sends, what it keeps,
//! what it journals; the races between its reads and an order being handed over; several
//! runners on one journal.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use commerce_core::{
    ChannelOffer, ConfirmationReceipt, Error, Fulfilment, FulfilmentState, FulfilmentStatus, OpenLine, Order,
    SalesChannel, ShipmentConfirmation, StockBasis, StockLevel, StockReceipt, StockUpdate, SubmissionReceipt,
};
use commerce_facade::{
    Flow, FlowOptions, Journal, MemoryJournal, OrderRecord, PassMode, Providers, Step, StockReport,
};
use futures_util::stream::{BoxStream, StreamExt};

/// An offer as the channel keeps it: bol's two counts.
#[derive(Debug, Clone)]
struct Offer {
    ean: String,
    amount: i64,
    /// Units ordered since the last update (what `managedByRetailer: true` takes off).
    since_update: i64,
    shop_keeps: bool,
    fbb: bool,
}

#[derive(Debug, Default)]
struct ChannelState {
    offers: BTreeMap<String, Offer>,
    /// (order id, line id, EAN, units, placed at)
    open: Vec<OpenLine>,
    updates: Vec<StockUpdate>,
    /// Reads of the offers: `true` the listing, `false` by id.
    listings: Vec<bool>,
    /// Runs between the channel's reads (a race put in by a test): called once after the
    /// offers are read.
    after_offers: Option<Hook>,
    refuse: Vec<String>,
    /// The listing (all offers) leaves out who keeps the count, as bol's export may.
    listing_without_mode: bool,
    /// Reads by id fail.
    by_id_fails: bool,
    /// The list of open lines fails (bol down).
    open_lines_fail: bool,
    /// Runs after each `set_stock` (a race put in by a test).
    after_set: Option<Hook>,
}

#[derive(Debug, Clone, Default)]
struct Channel(Arc<Mutex<ChannelState>>);

/// A race a test puts between two reads of a pass.
struct Hook(Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hook")
    }
}

impl Channel {
    fn state(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        self.0.lock().unwrap()
    }

    fn offer(&self, id: &str, ean: &str, amount: i64, shop_keeps: bool) {
        self.state().offers.insert(
            id.into(),
            Offer {
                ean: ean.into(),
                amount,
                since_update: 0,
                shop_keeps,
                fbb: false,
            },
        );
    }

    /// A buyer orders `units` of `ean`: bol counts it against the offer.
    fn order(&self, order_id: &str, ean: &str, units: u32) {
        let mut s = self.state();
        for o in s.offers.values_mut().filter(|o| o.ean == ean) {
            o.since_update += i64::from(units);
        }
        s.open.push(OpenLine {
            order_id: order_id.into(),
            line_id: format!("{order_id}-1"),
            ean: Some(ean.into()),
            quantity: units,
            placed_at: Some(chrono::Utc::now()),
        });
    }

    /// What bol sells now.
    fn selling(&self, id: &str) -> i64 {
        let s = self.state();
        let o = &s.offers[id];
        let open: i64 = s
            .open
            .iter()
            .filter(|l| l.ean.as_deref() == Some(o.ean.as_str()))
            .map(|l| i64::from(l.quantity))
            .sum();
        if o.shop_keeps {
            (o.amount - o.since_update).max(0)
        } else {
            (o.amount - open).max(0)
        }
    }
}

#[async_trait]
impl SalesChannel for Channel {
    fn name(&self) -> &str {
        "bol"
    }
    fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>> {
        futures_util::stream::empty().boxed()
    }
    async fn confirm_shipment(&self, _: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
        unreachable!()
    }
    async fn offers(&self, ids: &[String]) -> Result<Vec<ChannelOffer>, Error> {
        if !ids.is_empty() && self.state().by_id_fails {
            return Err(Error::config("bol is down"));
        }
        let hook = {
            let mut s = self.state();
            s.listings.push(ids.is_empty());
            s.after_offers.take()
        };
        let offers: Vec<ChannelOffer> = {
            let s = self.state();
            s.offers
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .map(|(id, o)| ChannelOffer {
                    offer_id: id.clone(),
                    ean: Some(o.ean.clone()),
                    amount: Some(o.amount),
                    corrected: None,
                    managed_by_shop: (!(ids.is_empty() && s.listing_without_mode)).then_some(o.shop_keeps),
                    fulfilled_by_channel: o.fbb,
                    on_hold: false,
                })
                .collect()
        };
        // bol's correctedStock, read as the listing is made.
        let offers = offers
            .into_iter()
            .map(|mut x| {
                x.corrected = Some(self.selling(&x.offer_id));
                x
            })
            .collect();
        if let Some(hook) = hook {
            (hook.0)();
        }
        Ok(offers)
    }
    async fn set_stock(&self, updates: &[StockUpdate]) -> Vec<Result<StockReceipt, Error>> {
        let results = self.apply(updates);
        let hook = self.state().after_set.take();
        if let Some(hook) = hook {
            (hook.0)();
        }
        results
    }
    fn open_lines(&self) -> BoxStream<'static, Result<OpenLine, Error>> {
        if self.state().open_lines_fail {
            return futures_util::stream::iter(vec![Err(Error::config("bol is down"))]).boxed();
        }
        let lines: Vec<Result<OpenLine, Error>> = self.state().open.iter().cloned().map(Ok).collect();
        futures_util::stream::iter(lines).boxed()
    }
    fn max_stock(&self) -> u32 {
        999
    }
}

impl Channel {
    fn apply(&self, updates: &[StockUpdate]) -> Vec<Result<StockReceipt, Error>> {
        let mut s = self.state();
        updates
            .iter()
            .map(|u| {
                if s.refuse.contains(&u.offer_id) {
                    return Err(Error::invalid("amount", "refused by the channel"));
                }
                s.updates.push(u.clone());
                let o = s.offers.get_mut(&u.offer_id).unwrap();
                o.amount = i64::from(u.amount);
                o.since_update = 0;
                o.shop_keeps = u.managed_by_shop;
                Ok(StockReceipt {
                    offer_id: u.offer_id.clone(),
                    reference: Some(format!("p-{}", s.updates.len())),
                })
            })
            .collect()
    }
}

#[derive(Debug)]
struct Warehouse {
    name: &'static str,
    basis: StockBasis,
    stock: Mutex<BTreeMap<String, i64>>,
    down: Mutex<bool>,
    /// When its counts were made (ShopWeDo's `last_atp_update`): `None`, now.
    as_of: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// Runs as its stock is read (a race put in by a test).
    on_read: Mutex<Option<Hook>>,
}

impl Warehouse {
    fn new(name: &'static str, basis: StockBasis, stock: &[(&str, i64)]) -> Arc<Self> {
        Arc::new(Warehouse {
            name,
            basis,
            stock: Mutex::new(stock.iter().map(|(e, n)| (e.to_string(), *n)).collect()),
            down: Mutex::new(false),
            as_of: Mutex::new(None),
            on_read: Mutex::new(None),
        })
    }
    fn set(&self, ean: &str, n: i64) {
        self.stock.lock().unwrap().insert(ean.into(), n);
    }
}

#[async_trait]
impl Fulfilment for Warehouse {
    fn name(&self) -> &str {
        self.name
    }
    async fn submit(&self, _: &Order) -> Result<SubmissionReceipt, Error> {
        unreachable!()
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
        if *self.down.lock().unwrap() {
            return Err(Error::config("the warehouse is down"));
        }
        let hook = self.on_read.lock().unwrap().take();
        if let Some(hook) = hook {
            (hook.0)();
        }
        let as_of = self.as_of.lock().unwrap().unwrap_or_else(chrono::Utc::now);
        Ok(self
            .stock
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| eans.contains(e))
            .map(|(e, n)| StockLevel {
                as_of: Some(as_of),
                ..StockLevel::new(e.clone(), Some(e.clone()), *n).with_basis(self.basis)
            })
            .collect())
    }
}

/// A warehouse behind an `Arc`, as the flow holds it.
#[derive(Debug, Clone)]
struct Shared(Arc<Warehouse>);

#[async_trait]
impl Fulfilment for Shared {
    fn name(&self) -> &str {
        self.0.name
    }
    async fn submit(&self, o: &Order) -> Result<SubmissionReceipt, Error> {
        self.0.submit(o).await
    }
    async fn status(&self, r: &str) -> Result<FulfilmentStatus, Error> {
        self.0.status(r).await
    }
    async fn cancel(&self, r: &str) -> Result<(), Error> {
        self.0.cancel(r).await
    }
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        self.0.stock(eans).await
    }
}

fn flow(channel: &Channel, warehouses: &[Arc<Warehouse>], journal: Arc<dyn Journal>, runner: &str) -> Flow {
    let mut providers = Providers::new().channel(channel.clone());
    for w in warehouses {
        providers = providers.fulfilment(Shared(w.clone()));
    }
    let mut options = FlowOptions {
        runner: runner.into(),
        ..FlowOptions::default()
    };
    options.stock.interval = Some(std::time::Duration::from_secs(900));
    Flow::new(providers, journal, options)
}

async fn pass(flow: &Flow, mode: PassMode) -> Option<StockReport> {
    let mut results = flow.stock(mode).await;
    assert_eq!(results.len(), 1);
    results.pop().unwrap().1.unwrap()
}

const A: &str = "8712345678906";
const B: &str = "8712345678913";
const C: &str = "8712345678920";

#[tokio::test]
async fn a_pass_sends_only_what_differs_and_a_second_pass_sends_nothing() {
    let channel = Channel::default();
    channel.offer("o-a", A, 12, true);
    channel.offer("o-b", B, 5, true);
    channel.offer("o-c", C, 7, false);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10), (B, 5), (C, 2)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");

    let dry = pass(&f, PassMode::DryRun).await.unwrap();
    assert_eq!(dry.sent, 1, "{dry}");
    assert!(channel.state().updates.is_empty(), "a dry run sends nothing");
    assert!(journal.offers().await.unwrap().is_empty(), "and writes nothing");
    let shown = dry.to_string();
    assert!(shown.contains("o-a") && shown.contains("stock fell"), "{shown}");
    assert!(
        !shown.contains("o-b"),
        "an unchanged offer is not in the table:\n{shown}"
    );

    let report = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(
        (report.sent, report.unchanged, report.left_alone),
        (1, 1, 1),
        "{report}"
    );
    assert_eq!(
        channel.state().updates,
        vec![StockUpdate {
            offer_id: "o-a".into(),
            amount: 10,
            managed_by_shop: true
        }]
    );
    assert_eq!(
        channel.state().offers["o-c"].amount,
        7,
        "the channel keeps o-c's count: left alone"
    );
    // The update is journaled with why; `show` reads it.
    let offers = journal.offers().await.unwrap();
    let a = offers.iter().find(|o| o.offer_id == "o-a").unwrap();
    assert_eq!(a.sent.as_ref().map(|s| s.amount), Some(10));
    let history = journal.history(&a.key()).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(
        history[0]
            .note
            .starts_with("stock 12 → 10 (stock fell; shopwedo atp 10"),
        "{}",
        history[0].note
    );

    // Nothing changed: nothing is sent (and the few offers are read by id now).
    let again = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(again.sent, 0, "{again}");
    assert_eq!(channel.state().updates.len(), 1);
    assert_eq!(channel.state().listings, vec![true, true, false]);
    // WhenDue: the next pass is an interval away.
    assert!(f.stock(PassMode::WhenDue).await[0].1.as_ref().unwrap().is_none());
}

#[tokio::test]
async fn orders_change_the_next_amount_the_right_way() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    assert_eq!(pass(&f, PassMode::Now).await.unwrap().sent, 0);
    // Two units ordered, not handed over: bol took them off itself (ordered after the
    // update), the warehouse still counts them: 10 − 2 = 8 = what bol sells.
    channel.order("1", A, 2);
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, channel.selling("o-a")), (0, 8), "{r}");
    // The warehouse sells 3 elsewhere: 7 − 2 = 5.
    w.set(A, 7);
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, channel.selling("o-a")), (1, 5), "{r}");
    // Handed over (journal), reserved by the warehouse's ATP made after it: 5 free.
    let mut record = line_record("1", A, 2);
    handed_over(&mut record, chrono::Utc::now() - chrono::Duration::seconds(1));
    journal.add(&record).await.unwrap();
    w.set(A, 5);
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, channel.selling("o-a")), (0, 5), "{r}");
    // A hand-over whose time the journal does not know (an operator's resolve) is taken off
    // a reserving count again: hidden, never sold twice.
    journal
        .amend("bol:1", "operator", chrono::Utc::now(), &mut |r| {
            r.handed_over_at = None;
            Ok("resolved".into())
        })
        .await
        .unwrap();
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, channel.selling("o-a")), (1, 3), "{r}");
}

fn line_record(order: &str, ean: &str, units: u32) -> OrderRecord {
    OrderRecord::new(Order {
        id: order.into(),
        channel: "bol".into(),
        lines: vec![commerce_core::LineItem {
            line_id: format!("{order}-1"),
            ean: Some(ean.into()),
            quantity: units,
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn handed_over(r: &mut OrderRecord, at: chrono::DateTime<chrono::Utc>) {
    r.fulfilment = Some("shopwedo".into());
    r.handed_over_at = Some(at);
    r.submission = Step::Done(SubmissionReceipt {
        provider: "shopwedo".into(),
        reference: format!("S-{}", r.order.id),
        already_submitted: false,
    });
}

/// An order handed over between the journal's read and the warehouse's (the pass read
/// `Started`; the warehouse's ATP took it off by the time it was read): taken off twice,
/// hidden for one pass, never sold twice; the next pass gives it back.
#[tokio::test]
async fn an_order_handed_over_between_two_reads_is_hidden_for_one_pass_never_oversold() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    assert_eq!(pass(&f, PassMode::Now).await.unwrap().sent, 0);
    // Placed before the pass; `Started` in the journal when the pass reads it.
    channel.order("1", A, 2);
    let mut record = line_record("1", A, 2);
    record.submission = Step::Started;
    record.handed_over_at = Some(chrono::Utc::now());
    journal.add(&record).await.unwrap();
    // The hand-over lands as the pass reads the warehouse (after the journal): reserved in
    // the ATP, `Done` in the journal.
    let (w2, j) = (w.clone(), journal.clone());
    *w.on_read.lock().unwrap() = Some(Hook(Box::new(move || {
        w2.set(A, 8);
        let j = j.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(j.amend("bol:1", "test", chrono::Utc::now(), &mut |r| {
                let at = r.handed_over_at.unwrap();
                handed_over(r, at);
                Ok("handed over".into())
            }))
            .unwrap();
        })
        .join()
        .unwrap();
    })));
    let r = pass(&f, PassMode::Now).await.unwrap();
    // Truly free: 10 − 2 = 8; the pass took the 2 off twice: 6 (2 hidden, none oversold).
    assert_eq!(channel.selling("o-a"), 6, "{r}");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(channel.selling("o-a"), 8, "the next pass gives them back: {r}");
}

/// A reserving count made before a hand-over was sent has not taken it off: the pass does.
#[tokio::test]
async fn a_hand_over_sent_after_the_warehouse_counted_is_taken_off() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10)]);
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    *w.as_of.lock().unwrap() = Some(an_hour_ago);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    channel.order("1", A, 2);
    channel.order("2", A, 1);
    let mut late = line_record("1", A, 2);
    handed_over(&mut late, chrono::Utc::now());
    journal.add(&late).await.unwrap();
    // Sent before the count: the count has it.
    let mut early = line_record("2", A, 1);
    handed_over(&mut early, an_hour_ago - chrono::Duration::minutes(5));
    journal.add(&early).await.unwrap();
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(channel.selling("o-a"), 8, "{r}");
    assert!(r.to_string().contains("shopwedo atp 10 (−2 handed over)"), "{r}");
}

/// Without a warehouse, nothing can be worked out: every amount is kept (never 0).
#[tokio::test]
async fn without_a_warehouse_every_amount_is_kept() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, &[], journal.clone(), "r1");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, r.attention), (0, 1), "{r}");
    assert_eq!(channel.selling("o-a"), 10);
}

/// Two offers of one EAN (another condition): the warehouse's units go to one of them,
/// never to both.
#[tokio::test]
async fn two_offers_of_one_ean_never_both_sell_the_units() {
    let channel = Channel::default();
    channel.offer("o-a", A, 3, true);
    channel.offer("o-b", A, 3, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 5)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, &[w], journal.clone(), "r1");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (5, 0), "{r}");
    assert_eq!(r.attention, 1, "{r}");
    let b = journal.offers().await.unwrap().remove(1);
    assert!(b.attention.unwrap().contains("EAN shared with offer o-a"));
}

/// bol's listing does not say who keeps the count: an offer switched to bol's count since
/// the journal read it is read again before an update, and left alone (never flipped).
#[tokio::test]
async fn an_offer_switched_to_the_channels_count_is_not_flipped_back() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    channel.state().listing_without_mode = true;
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let mut f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    // The first pass reads the mode by id (the listing lacks it) and journals it.
    assert_eq!(pass(&f, PassMode::Now).await.unwrap().sent, 0);
    channel.state().offers.get_mut("o-a").unwrap().shop_keeps = false;
    w.set(A, 7);
    // A listing is due again (as after six hours).
    let mut options = f.options().clone();
    options.stock.list_every = std::time::Duration::ZERO;
    f = Flow::new(
        Providers::new()
            .channel(channel.clone())
            .fulfilment(Shared(w.clone())),
        journal.clone(),
        options,
    );
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.sent, 0, "{r}");
    assert!(!channel.state().offers["o-a"].shop_keeps, "the mode was flipped");
    assert!(channel.state().updates.is_empty());
}

/// An offer gone from the listing is kept in the journal, nothing for a person, and not
/// read one by one again.
#[tokio::test]
async fn an_offer_gone_from_the_listing_is_set_aside() {
    let channel = Channel::default();
    channel.offer("o-a", A, 5, true);
    channel.offer("o-b", B, 5, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 5)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let mut options = FlowOptions {
        runner: "r1".into(),
        ..FlowOptions::default()
    };
    options.stock.interval = Some(std::time::Duration::from_secs(900));
    options.stock.list_every = std::time::Duration::ZERO;
    let f = Flow::new(
        Providers::new().channel(channel.clone()).fulfilment(Shared(w)),
        journal.clone(),
        options,
    );
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.attention, 1, "o-b: no warehouse lists B: {r}");
    channel.state().offers.remove("o-b");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.offers, r.attention), (1, 0), "{r}");
    let b = journal.offers().await.unwrap().remove(1);
    assert!(b.gone && b.attention.is_none(), "{b:?}");
}

#[tokio::test]
async fn a_warehouse_down_keeps_the_amount_and_an_unstocked_ean_gets_zero_both_for_a_person() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    channel.offer("o-b", B, 4, true);
    channel.offer("o-c", C, 3, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 6)]);
    let down = Warehouse::new("customer-api", StockBasis::OnShelf, &[(C, 9)]);
    *down.down.lock().unwrap() = true;
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, &[w.clone(), down.clone()], journal.clone(), "r1");
    let r = pass(&f, PassMode::Now).await.unwrap();
    // Every EAN may be at either warehouse: one down keeps every amount.
    assert_eq!(r.sent, 0, "{r}");
    assert_eq!(r.attention, 3, "{r}");
    *down.down.lock().unwrap() = false;
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.sent, 3, "{r}");
    assert_eq!(
        (
            channel.selling("o-a"),
            channel.selling("o-b"),
            channel.selling("o-c")
        ),
        (6, 0, 9)
    );
    let offers = journal.offers().await.unwrap();
    let b = offers.iter().find(|o| o.offer_id == "o-b").unwrap();
    assert!(
        b.attention.as_deref().unwrap().contains("no warehouse lists"),
        "{b:?}"
    );
    assert!(offers.iter().filter(|o| o.attention.is_some()).count() == 1);
}

#[tokio::test]
async fn one_refused_update_never_stops_the_others() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    channel.offer("o-b", B, 1, true);
    channel.state().refuse.push("o-a".into());
    let w = Warehouse::new("shopwedo", StockBasis::OnShelf, &[(A, 6), (B, 6)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, &[w], journal.clone(), "r1");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, r.failed, r.attention), (1, 1, 1), "{r}");
    assert_eq!(channel.selling("o-b"), 6);
    let a = journal.offers().await.unwrap().remove(0);
    assert!(a.attention.unwrap().contains("refused"));
    let history = journal.history("offer:bol:o-a").await.unwrap();
    assert!(history[0].note.contains("FAILED"), "{history:?}");
}

#[tokio::test]
async fn two_runners_on_one_journal_run_one_pass_at_a_time() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    let w = Warehouse::new("shopwedo", StockBasis::OnShelf, &[(A, 6)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (f1, f2) = (
        flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1"),
        flow(&channel, std::slice::from_ref(&w), journal.clone(), "r2"),
    );
    // r1 holds the pass: r2's is refused, due or forced.
    let now = chrono::Utc::now();
    assert!(
        journal
            .claim_pass(
                "stock:bol",
                "r1",
                now,
                now + chrono::Duration::seconds(600),
                false
            )
            .await
            .unwrap()
    );
    assert!(pass(&f2, PassMode::Now).await.is_none());
    assert!(pass(&f2, PassMode::WhenDue).await.is_none());
    journal
        .end_pass("stock:bol", "r1", now, now, "ended")
        .await
        .unwrap();
    // Free and due: whichever comes first runs it, the other finds it not due.
    let (a, b) = tokio::join!(pass(&f1, PassMode::WhenDue), pass(&f2, PassMode::WhenDue));
    assert_eq!(a.is_some() as u8 + b.is_some() as u8, 1, "{a:?} {b:?}");
    assert_eq!(channel.state().updates.len(), 1);
    let state = journal.pass("stock:bol").await.unwrap().unwrap();
    assert!(state.lease.is_none() && state.next_due.unwrap() > now);
}

/// An update that needed a read by id (bol's listing does not say who keeps the count) is
/// not sent when the read fails: for a person, never a guessed mode; the pass goes on.
#[tokio::test]
async fn an_update_whose_read_fails_is_not_sent() {
    let channel = Channel::default();
    channel.offer("o-a", A, 10, true);
    channel.offer("o-b", B, 4, true);
    channel.state().listing_without_mode = true;
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 10), (B, 4)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let mut options = FlowOptions {
        runner: "r1".into(),
        ..FlowOptions::default()
    };
    options.stock.interval = Some(std::time::Duration::from_secs(900));
    options.stock.list_every = std::time::Duration::ZERO;
    let f = Flow::new(
        Providers::new()
            .channel(channel.clone())
            .fulfilment(Shared(w.clone())),
        journal.clone(),
        options,
    );
    assert_eq!(pass(&f, PassMode::Now).await.unwrap().sent, 0);
    w.set(A, 7);
    channel.state().by_id_fails = true;
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, r.attention), (0, 1), "{r}");
    assert!(channel.state().updates.is_empty());
    let a = journal.offers().await.unwrap().remove(0);
    assert!(a.attention.unwrap().contains("could not be read"));
    // bol answers again: the update goes.
    channel.state().by_id_fails = false;
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((r.sent, channel.selling("o-a")), (1, 7), "{r}");
}

/// Units moving from one offer of an EAN to another: the decrease goes first, and when bol
/// refuses it the increase is held back (never both selling the units).
#[tokio::test]
async fn a_refused_decrease_holds_back_the_increase_of_its_ean() {
    let channel = Channel::default();
    channel.offer("o-a", A, 3, true);
    channel.offer("o-b", A, 3, true);
    channel.state().refuse.push("o-b".into());
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 5)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.sent, 0, "{r}");
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (3, 3), "{r}");
    assert!(r.to_string().contains("held back"), "{r}");
    // Refused no more: o-b to 0, then o-a to 5; and o-a stays the one (it sells most).
    channel.state().refuse.clear();
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (5, 0), "{r}");
    let order: Vec<(String, u32)> = channel
        .state()
        .updates
        .iter()
        .map(|u| (u.offer_id.clone(), u.amount))
        .collect();
    assert_eq!(order, [("o-b".to_owned(), 0), ("o-a".to_owned(), 5)]);
    channel.offer("o-0", A, 0, true);
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(
        r.sent, 0,
        "a new offer sorting first does not take the units: {r}"
    );
}

/// An order placed while a pass sends its batches is taken off the later batches' amounts
/// (bol will not take it off after the update): the window is one batch.
#[tokio::test]
async fn an_order_placed_between_batches_is_taken_off_the_next() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    channel.offer("o-b", B, 1, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 6), (B, 6)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let mut options = FlowOptions {
        runner: "r1".into(),
        ..FlowOptions::default()
    };
    options.stock.interval = Some(std::time::Duration::from_secs(900));
    options.stock.batch = 1;
    let f = Flow::new(
        Providers::new().channel(channel.clone()).fulfilment(Shared(w)),
        journal.clone(),
        options,
    );
    let c = channel.clone();
    channel.state().after_set = Some(Hook(Box::new(move || c.order("9", B, 2))));
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.sent, 2, "{r}");
    // Truly free of B: 6 − 2 waiting = 4, and bol sells 4.
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (6, 4), "{r}");
}

/// A warehouse that listed an EAN before and is not configured now (a runner set up without
/// it, a variable missing): its EANs keep their amounts, for a person, never 0.
#[tokio::test]
async fn a_warehouse_no_longer_configured_keeps_the_amounts_it_held() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    channel.offer("o-b", B, 1, true);
    let w = Warehouse::new("shopwedo", StockBasis::Reserving, &[(A, 6)]);
    let other = Warehouse::new("customer-api", StockBasis::OnShelf, &[(B, 4)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let both = flow(&channel, &[w.clone(), other.clone()], journal.clone(), "r1");
    let r = pass(&both, PassMode::Now).await.unwrap();
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (6, 4), "{r}");
    let only_shopwedo = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r2");
    let r = pass(&only_shopwedo, PassMode::Now).await.unwrap();
    assert_eq!((channel.selling("o-a"), channel.selling("o-b")), (6, 4), "{r}");
    assert_eq!(r.attention, 1, "{r}");
    assert!(
        r.to_string().contains("customer-api listed this EAN before"),
        "{r}"
    );
}

/// A runner's own `interval` counts from the last pass, whoever ran it with whichever
/// interval: a shorter one is not held to the journal's later due time.
#[tokio::test(start_paused = true)]
async fn a_shorter_interval_is_not_held_to_another_runners_due_time() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    let w = Warehouse::new("shopwedo", StockBasis::OnShelf, &[(A, 6)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    // A pass by hand: next due 15 minutes later.
    let by_hand = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    assert!(pass(&by_hand, PassMode::Now).await.is_some());
    let mut options = by_hand.options().clone();
    options.runner = "r2".into();
    options.stock.interval = Some(std::time::Duration::from_secs(60));
    let every_minute = Flow::new(
        Providers::new()
            .channel(channel.clone())
            .fulfilment(Shared(w.clone())),
        journal.clone(),
        options,
    );
    assert!(
        pass(&every_minute, PassMode::WhenDue).await.is_none(),
        "not a minute yet"
    );
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    assert!(
        pass(&every_minute, PassMode::WhenDue).await.is_some(),
        "a minute after the last"
    );
}

/// A pass that fails is tried again after a third of an interval, then twice that, and so
/// on: a channel that is down is not asked for an export every few minutes for days.
#[tokio::test(start_paused = true)]
async fn failed_passes_back_off() {
    let channel = Channel::default();
    channel.offer("o-a", A, 1, true);
    channel.state().open_lines_fail = true;
    let w = Warehouse::new("shopwedo", StockBasis::OnShelf, &[(A, 6)]);
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let f = flow(&channel, std::slice::from_ref(&w), journal.clone(), "r1");
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let mut results = f.stock(PassMode::Now).await;
        assert!(results.pop().unwrap().1.is_err());
        let p = journal.pass("stock:bol").await.unwrap().unwrap();
        gaps.push((p.next_due.unwrap() - p.last_finished.unwrap()).num_seconds());
        assert!(
            p.last_summary
                .unwrap()
                .starts_with(&format!("failed ({} in a row)", gaps.len()))
        );
        let when_due = f.stock(PassMode::WhenDue).await.pop().unwrap().1.unwrap();
        assert!(when_due.is_none(), "not due yet");
    }
    assert_eq!(gaps, [300, 600, 1200]);
    // Not due for the loop before then, its own interval (15 minutes) notwithstanding.
    tokio::time::advance(std::time::Duration::from_secs(901)).await;
    let when_due = f.stock(PassMode::WhenDue).await.pop().unwrap().1.unwrap();
    assert!(when_due.is_none());
    tokio::time::advance(std::time::Duration::from_secs(300)).await;
    let when_due = f.stock(PassMode::WhenDue).await.pop().unwrap().1;
    assert!(when_due.is_err(), "due: tried, and failed again");
    channel.state().open_lines_fail = false;
    let r = pass(&f, PassMode::Now).await.unwrap();
    assert_eq!(r.sent, 1, "{r}");
    assert!(
        !journal
            .pass("stock:bol")
            .await
            .unwrap()
            .unwrap()
            .last_summary
            .unwrap()
            .starts_with("failed")
    );
}
