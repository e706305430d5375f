//! The returns pass against a channel and warehouses in memory: what it announces, when it
//! handles, what goes to a person, how an answer lost is settled, and a person's choices.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use commerce_core::{
    Announcement, Arrival, ChannelReturn, ChannelReturnItem, ConfirmationReceipt, Error, Fulfilment,
    FulfilmentState, FulfilmentStatus, HandlingReceipt, HandlingResult, LineItem, Order, ReturnHandling,
    ReturnNotice, ReturnResult, SalesChannel, ShipmentConfirmation, StockLevel, SubmissionReceipt, Tracking,
};
use commerce_facade::{
    Flow, FlowOptions, Journal, MemoryJournal, OrderRecord, PassMode, Providers, ReturnDecision,
    ReturnRefusal, ReturnStage, ReturnsReport, Step, return_key,
};
use futures_util::stream::{BoxStream, StreamExt};

const EAN: &str = "8712345678906";

#[derive(Debug, Default)]
struct ChannelState {
    returns: BTreeMap<String, ChannelReturn>,
    /// Every handling that reached the channel (applied).
    handled: Vec<ReturnHandling>,
    /// The next handling is applied and its answer lost.
    lose_next_answer: bool,
    reads: usize,
}

#[derive(Debug, Clone, Default)]
struct Channel(Arc<Mutex<ChannelState>>);

impl Channel {
    fn state(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        self.0.lock().unwrap()
    }

    fn register(&self, return_id: &str, rma: &str, order_id: &str, expected: u32) {
        self.state().returns.insert(
            return_id.into(),
            ChannelReturn {
                channel: "bol".into(),
                return_id: return_id.into(),
                registered_at: Some(Utc::now()),
                fulfilled_by_channel: false,
                items: vec![ChannelReturnItem {
                    rma_id: rma.into(),
                    order_id: order_id.into(),
                    ean: EAN.into(),
                    title: Some("Kookpan".into()),
                    expected,
                    reason: Some("Verkeerde maat of afmeting / Te groot".into()),
                    track_and_trace: Some("3SABCD123".into()),
                    transporter: Some("PostNL".into()),
                    ..Default::default()
                }],
            },
        );
    }

    /// A person handles it on bol's site.
    fn handle_on_site(&self, return_id: &str) {
        let mut s = self.state();
        let item = &mut s.returns.get_mut(return_id).unwrap().items[0];
        item.handled = true;
        item.results.push(ReturnResult {
            quantity: item.expected,
            processing: "ACCEPTED".into(),
            handling: HandlingResult::ReturnReceived,
            at: None,
        });
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
        unreachable!("the returns pass confirms nothing")
    }
    fn open_returns(&self) -> BoxStream<'static, Result<ChannelReturn, Error>> {
        let open: Vec<Result<ChannelReturn, Error>> = self
            .state()
            .returns
            .values()
            .filter(|r| r.items.iter().any(|i| !i.handled))
            .cloned()
            .map(Ok)
            .collect();
        futures_util::stream::iter(open).boxed()
    }
    async fn return_state(&self, return_id: &str) -> Result<Option<ChannelReturn>, Error> {
        let mut s = self.state();
        s.reads += 1;
        Ok(s.returns.get(return_id).cloned())
    }
    /// As the contract says: read first, nothing sent for an item handled as asked.
    async fn handle_return(&self, h: &ReturnHandling) -> Result<HandlingReceipt, Error> {
        let mut s = self.state();
        let item = s
            .returns
            .get_mut(&h.return_id)
            .and_then(|r| r.items.iter_mut().find(|i| i.rma_id == h.rma_id))
            .expect("a known item");
        if item.handled {
            let last = item.results.last().unwrap();
            if last.handling == h.result && last.quantity == h.quantity {
                return Ok(HandlingReceipt {
                    channel: "bol".into(),
                    reference: None,
                    already: true,
                });
            }
            return Err(Error::invalid(
                "handlingResult",
                "handled already with another result",
            ));
        }
        item.handled = true;
        item.results.push(ReturnResult {
            quantity: h.quantity,
            processing: "ACCEPTED".into(),
            handling: h.result.clone(),
            at: None,
        });
        s.handled.push(h.clone());
        if std::mem::take(&mut s.lose_next_answer) {
            return Err(Error::Unconfirmed {
                provider: "bol".into(),
                endpoint: "handle-return".into(),
                source: Arc::new(Error::invalid("connection", "reset after the request was sent")),
            });
        }
        Ok(HandlingReceipt {
            channel: "bol".into(),
            reference: Some(format!("proc-{}", s.handled.len())),
            already: false,
        })
    }
}

#[derive(Debug, Default)]
struct WarehouseState {
    announced: Vec<ReturnNotice>,
    /// The goods in, per RMA: (quantity, condition).
    received: BTreeMap<String, (u32, Option<String>)>,
    lose_next_answer: bool,
    /// Offers a look-up of announcements.
    can_look_up: bool,
    /// Tells whether goods arrived.
    tells_arrival: bool,
    /// Takes announcements.
    takes_announcements: bool,
}

#[derive(Debug, Clone)]
struct Warehouse(&'static str, Arc<Mutex<WarehouseState>>);

impl Warehouse {
    fn new(name: &'static str) -> Self {
        Warehouse(
            name,
            Arc::new(Mutex::new(WarehouseState {
                can_look_up: true,
                tells_arrival: true,
                takes_announcements: true,
                ..Default::default()
            })),
        )
    }
    fn state(&self) -> std::sync::MutexGuard<'_, WarehouseState> {
        self.1.lock().unwrap()
    }
    fn receive(&self, rma: &str, quantity: u32, condition: Option<&str>) {
        self.state()
            .received
            .insert(rma.into(), (quantity, condition.map(str::to_owned)));
    }
}

fn announcement(n: &ReturnNotice, name: &str) -> Announcement {
    Announcement {
        provider: name.into(),
        order_reference: n.reference.clone(),
        rma_id: n.rma_id.clone(),
        reference: Some(format!("R-{}", n.rma_id)),
        sku: None,
        quantity: n.quantity,
        at: Utc::now(),
    }
}

#[async_trait]
impl Fulfilment for Warehouse {
    fn name(&self) -> &str {
        self.0
    }
    async fn submit(&self, _: &Order) -> Result<SubmissionReceipt, Error> {
        unreachable!()
    }
    async fn status(&self, _: &str) -> Result<FulfilmentStatus, Error> {
        Ok(FulfilmentStatus {
            state: FulfilmentState::Shipped,
            shipments: Vec::new(),
        })
    }
    async fn cancel(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
    async fn stock(&self, _: &[String]) -> Result<Vec<StockLevel>, Error> {
        Ok(Vec::new())
    }
    async fn announce_return(&self, n: &ReturnNotice) -> Result<Announcement, Error> {
        let mut s = self.state();
        if !s.takes_announcements {
            return Err(Error::Unsupported {
                provider: self.0.to_owned().into(),
                operation: "announce_return".into(),
                reason: "no retour call".into(),
            });
        }
        s.announced.push(n.clone());
        if std::mem::take(&mut s.lose_next_answer) {
            return Err(Error::Unconfirmed {
                provider: self.0.to_owned().into(),
                endpoint: "createRetourAnnouncement".into(),
                source: Arc::new(Error::invalid("connection", "the answer was lost")),
            });
        }
        Ok(announcement(n, self.0))
    }
    async fn find_announcement(&self, n: &ReturnNotice) -> Result<Option<Announcement>, Error> {
        let s = self.state();
        if !s.can_look_up {
            return Err(Error::Unsupported {
                provider: self.0.to_owned().into(),
                operation: "find_announcement".into(),
                reason: "no read".into(),
            });
        }
        Ok(s.announced
            .iter()
            .find(|a| a.rma_id == n.rma_id)
            .map(|a| announcement(a, self.0)))
    }
    async fn return_arrival(&self, a: &Announcement) -> Result<Arrival, Error> {
        let s = self.state();
        if !s.tells_arrival {
            return Ok(Arrival::Unknown);
        }
        Ok(match s.received.get(&a.rma_id) {
            Some((quantity, condition)) => Arrival::Received {
                quantity: *quantity,
                condition: condition.clone(),
                at: None,
            },
            None => Arrival::NotYet,
        })
    }
}

/// An order of `units` of [`EAN`] the flow handed to `provider` as `reference`, shipped.
async fn shipped_order(journal: &dyn Journal, id: &str, units: u32, provider: &str, reference: &str) {
    let mut r = OrderRecord::new(Order {
        id: id.into(),
        channel: "bol".into(),
        lines: vec![LineItem {
            line_id: format!("{id}-1"),
            ean: Some(EAN.into()),
            title: "Kookpan".into(),
            quantity: units,
            ..Default::default()
        }],
        ..Default::default()
    });
    r.fulfilment = Some(provider.into());
    r.submission = Step::Done(SubmissionReceipt {
        provider: provider.into(),
        reference: reference.into(),
        already_submitted: false,
    });
    r.shipped = Step::Done(Tracking {
        code: "3S1".into(),
        ..Default::default()
    });
    assert!(journal.add(&r).await.unwrap());
}

fn flow(channel: &Channel, warehouses: &[&Warehouse], journal: Arc<dyn Journal>) -> Flow {
    let mut providers = Providers::new().channel(channel.clone());
    for w in warehouses {
        providers = providers.fulfilment((*w).clone());
    }
    let mut options = FlowOptions {
        runner: "r1".into(),
        ..FlowOptions::default()
    };
    options.returns.interval = Some(Duration::from_secs(3600));
    options.returns.poll = Duration::from_secs(6 * 3600);
    Flow::new(providers, journal, options)
}

async fn pass(flow: &Flow) -> ReturnsReport {
    let mut results = flow.returns(PassMode::Now).await;
    assert_eq!(results.len(), 1);
    results.pop().unwrap().1.unwrap().expect("the pass ran")
}

async fn record(journal: &dyn Journal, rma: &str) -> commerce_facade::ReturnRecord {
    journal
        .load_return(&return_key("bol", rma))
        .await
        .unwrap()
        .expect("a record")
}

async fn notes(journal: &dyn Journal, rma: &str) -> String {
    journal
        .history(&return_key("bol", rma))
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn later(hours: u64) {
    tokio::time::advance(Duration::from_secs(hours * 3600)).await;
}

#[tokio::test(start_paused = true)]
async fn a_return_is_announced_waits_for_its_goods_and_is_handled_once_they_are_in() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 2, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 2);
    let flow = flow(&channel, &[&shopwedo], journal.clone());

    let report = pass(&flow).await;
    assert_eq!(
        (report.listed, report.new, report.announced, report.handled),
        (1, 1, 1, 0),
        "{report:?}"
    );
    assert_eq!(shopwedo.state().announced.len(), 1);
    assert_eq!(shopwedo.state().announced[0].reference, "5001");
    assert_eq!(shopwedo.state().announced[0].quantity, 2);
    let r = record(journal.as_ref(), "861").await;
    assert_eq!(r.stage(), ReturnStage::Receipt);
    assert_eq!(r.arrival, Some(Arrival::NotYet));

    // Not in yet: nothing is handled, however many passes run.
    for _ in 0..3 {
        later(7).await;
        let report = pass(&flow).await;
        assert_eq!(report.handled, 0);
    }
    assert!(channel.state().handled.is_empty());
    assert_eq!(shopwedo.state().announced.len(), 1, "announced once");

    shopwedo.receive("861", 2, None);
    later(7).await;
    let report = pass(&flow).await;
    assert_eq!((report.received, report.handled), (1, 1), "{report:?}");
    let handled = channel.state().handled.clone();
    assert_eq!(handled.len(), 1);
    assert_eq!(
        (handled[0].result.clone(), handled[0].quantity),
        (HandlingResult::ReturnReceived, 2)
    );
    let r = record(journal.as_ref(), "861").await;
    assert_eq!(r.stage(), ReturnStage::Completed);
    let history = notes(journal.as_ref(), "861").await;
    for said in [
        "seen on bol: 2× 8712345678906 (Kookpan)",
        "matched: order bol:1001",
        "announcing 2×",
        "announced at shopwedo order 5001 (retour R-861)",
        "not received at shopwedo yet",
        "received at shopwedo: 2",
        "handled on bol: RETURN_RECEIVED ×2",
    ] {
        assert!(history.contains(said), "{said:?} not in:\n{history}");
    }

    // Handled: the channel no longer lists it; nothing more happens.
    later(7).await;
    let report = pass(&flow).await;
    assert_eq!((report.listed, report.handled), (0, 0));
    assert_eq!(channel.state().handled.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn goods_that_never_arrive_go_to_a_person_with_the_parcel_and_are_never_handled() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    for _ in 0..(22 * 4 + 2) {
        pass(&flow).await;
        later(6).await;
    }
    let r = record(journal.as_ref(), "861").await;
    assert!(r.needs_person(), "{r:?}");
    let why = r.attention.unwrap();
    assert!(
        why.contains("not received at shopwedo by") && why.contains("PostNL track & trace 3SABCD123"),
        "{why}"
    );
    assert!(
        why.contains("commerce resolve return:bol:861 --received N"),
        "{why}"
    );
    assert!(channel.state().handled.is_empty());
    // Progress was said, not once per check.
    let waits = notes(journal.as_ref(), "861")
        .await
        .matches("not received at shopwedo yet")
        .count();
    assert!((2..=25).contains(&waits), "{waits} progress notes");
    assert!(r.checks > 80, "{} checks", r.checks);
}

#[tokio::test(start_paused = true)]
async fn goods_short_or_damaged_wait_for_a_person_whose_choice_the_next_pass_sends() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 2, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 2);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    shopwedo.receive("861", 1, Some("damaged"));
    later(7).await;
    pass(&flow).await;
    let r = record(journal.as_ref(), "861").await;
    let why = r.attention.clone().expect("a person decides");
    assert!(why.contains("received 1 of 2, damaged"), "{why}");
    assert!(
        why.contains("--handle RETURN_DOES_NOT_MEET_CONDITIONS --quantity N"),
        "{why}"
    );
    assert!(channel.state().handled.is_empty());

    let operator = commerce_facade::Operator::new(journal.as_ref());
    let key = return_key("bol", "861");
    let refused = operator
        .resolve_return(
            &key,
            ReturnDecision::Handle {
                result: HandlingResult::ReturnReceived,
                quantity: 3,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ReturnRefusal::Quantity {
                given: 3,
                expected: 2
            }
        ),
        "{refused}"
    );
    operator
        .resolve_return(
            &key,
            ReturnDecision::Handle {
                result: HandlingResult::ReturnDoesNotMeetConditions,
                quantity: 1,
            },
            Some("box crushed"),
        )
        .await
        .unwrap();
    pass(&flow).await;
    let handled = channel.state().handled.clone();
    assert_eq!(handled.len(), 1);
    assert_eq!(
        (handled[0].result.clone(), handled[0].quantity),
        (HandlingResult::ReturnDoesNotMeetConditions, 1)
    );
    assert_eq!(
        record(journal.as_ref(), "861").await.stage(),
        ReturnStage::Completed
    );
    let refused = operator
        .resolve_return(&key, ReturnDecision::Leave, None)
        .await
        .unwrap_err();
    assert!(matches!(refused, ReturnRefusal::Closed { .. }), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_person_cannot_handle_before_the_goods_are_in_nor_while_a_runner_holds_the_returns() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    let operator = commerce_facade::Operator::new(journal.as_ref());
    let key = return_key("bol", "861");
    let refused = operator
        .resolve_return(
            &key,
            ReturnDecision::Handle {
                result: HandlingResult::ReturnReceived,
                quantity: 1,
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "RETURN_RECEIVED says the goods are back, and nobody said they arrived: `--received N` first (or choose CUSTOMER_KEEPS_PRODUCT_PAID or STILL_APPROVED)"
    );
    // Another runner holds the returns pass.
    let now = Utc::now();
    assert!(
        journal
            .claim_pass("returns:bol", "r2", now, now + chrono::Duration::minutes(5), true)
            .await
            .unwrap()
    );
    let refused = operator
        .resolve_return(
            &key,
            ReturnDecision::Received {
                quantity: 1,
                condition: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ReturnRefusal::Busy { ref runner, .. } if runner == "r2"),
        "{refused}"
    );
    journal
        .end_pass("returns:bol", "r2", now, now, "done")
        .await
        .unwrap();
    // The buyer keeps it and pays: no goods needed.
    operator
        .resolve_return(
            &key,
            ReturnDecision::Handle {
                result: HandlingResult::CustomerKeepsProductPaid,
                quantity: 1,
            },
            None,
        )
        .await
        .unwrap();
    pass(&flow).await;
    assert_eq!(
        channel.state().handled[0].result,
        HandlingResult::CustomerKeepsProductPaid
    );
    let unknown = operator
        .resolve_return("return:bol:9", ReturnDecision::Leave, None)
        .await
        .unwrap_err();
    assert!(matches!(unknown, ReturnRefusal::Unknown { .. }), "{unknown}");
}

#[tokio::test(start_paused = true)]
async fn an_announcement_whose_answer_was_lost_is_looked_up_never_sent_twice() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    shopwedo.state().lose_next_answer = true;
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    let report = pass(&flow).await;
    assert_eq!(report.failed, 1);
    assert_eq!(record(journal.as_ref(), "861").await.announcement, Step::Started);
    // At once: not looked up yet (a request still in flight could land).
    pass(&flow).await;
    assert_eq!(record(journal.as_ref(), "861").await.announcement, Step::Started);
    later(1).await;
    pass(&flow).await;
    let r = record(journal.as_ref(), "861").await;
    assert!(r.announcement.is_done(), "{r:?}");
    assert_eq!(shopwedo.state().announced.len(), 1, "announced once");
    assert!(
        notes(journal.as_ref(), "861")
            .await
            .contains("found the announcement made earlier")
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_look_up_a_lost_announcement_goes_to_a_person_and_retry_sends_it_again() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    {
        let mut s = shopwedo.state();
        s.lose_next_answer = true;
        s.can_look_up = false;
    }
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    later(1).await;
    pass(&flow).await;
    let r = record(journal.as_ref(), "861").await;
    let why = r.attention.expect("a person looks");
    assert!(
        why.contains("look-up cannot tell") && why.contains("commerce retry return:bol:861"),
        "{why}"
    );
    later(1).await;
    pass(&flow).await;
    assert_eq!(
        shopwedo.state().announced.len(),
        1,
        "not sent again without a person"
    );
    // The person checked: it is not there.
    shopwedo.state().announced.clear();
    commerce_facade::Operator::new(journal.as_ref())
        .retry_return(&return_key("bol", "861"))
        .await
        .unwrap();
    pass(&flow).await;
    assert_eq!(shopwedo.state().announced.len(), 1);
    assert!(record(journal.as_ref(), "861").await.announcement.is_done());
}

#[tokio::test(start_paused = true)]
async fn a_handling_whose_answer_was_lost_is_settled_by_reading_never_sent_twice() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    shopwedo.receive("861", 1, None);
    channel.state().lose_next_answer = true;
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    let report = pass(&flow).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(record(journal.as_ref(), "861").await.handling, Step::Started);
    later(1).await;
    pass(&flow).await;
    let r = record(journal.as_ref(), "861").await;
    assert_eq!(r.stage(), ReturnStage::Completed);
    assert_eq!(channel.state().handled.len(), 1, "handled once");
    assert!(
        notes(journal.as_ref(), "861")
            .await
            .contains("found handled on bol as RETURN_RECEIVED ×1")
    );
}

#[tokio::test(start_paused = true)]
async fn a_return_handled_on_the_channels_site_meanwhile_ends_without_a_call() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 1);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    channel.handle_on_site("R1");
    later(7).await;
    pass(&flow).await;
    let r = record(journal.as_ref(), "861").await;
    assert_eq!(r.stage(), ReturnStage::Completed);
    assert!(channel.state().handled.is_empty());
    assert!(
        notes(journal.as_ref(), "861")
            .await
            .contains("handled on bol meanwhile (RETURN_RECEIVED ×1), not by this flow")
    );
}

#[tokio::test(start_paused = true)]
async fn what_the_loop_cannot_match_or_announce_goes_to_a_person_with_what_to_do() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let channel = Channel::default();
    let (shopwedo, supplier) = (Warehouse::new("shopwedo"), Warehouse::new("customer-api"));
    supplier.state().takes_announcements = false;
    shipped_order(journal.as_ref(), "1002", 1, "customer-api", "K-77").await;
    channel.register("R1", "861", "9999", 1); // an order the journal does not know
    channel.register("R2", "862", "1002", 1); // shipped by a warehouse without retour call
    channel.register("R3", "863", "1002", 2); // more back than ordered
    let flow = flow(&channel, &[&shopwedo, &supplier], journal.clone());
    let report = pass(&flow).await;
    assert_eq!(report.attention, 3, "{report:?}");
    let unknown = record(journal.as_ref(), "861").await.attention.unwrap();
    assert!(unknown.contains("order 9999 is not in this journal"), "{unknown}");
    let by_hand = record(journal.as_ref(), "862").await.attention.unwrap();
    assert!(
        by_hand.contains("customer-api takes no return announcements")
            && by_hand.contains("its order K-77")
            && by_hand.contains("commerce resolve return:bol:862 --announced"),
        "{by_hand}"
    );
    let more = record(journal.as_ref(), "863").await.attention.unwrap();
    assert!(
        more.contains("2 units of EAN 8712345678906 come back and order 1002 has 1"),
        "{more}"
    );
    // Announced by hand, then received by hand: the next pass handles it.
    let operator = commerce_facade::Operator::new(journal.as_ref());
    let key = return_key("bol", "862");
    operator
        .resolve_return(&key, ReturnDecision::Announced { reference: None }, None)
        .await
        .unwrap();
    supplier.state().tells_arrival = false;
    pass(&flow).await;
    let why = record(journal.as_ref(), "862").await.attention.unwrap();
    assert!(why.contains("does not say whether the goods came back"), "{why}");
    operator
        .resolve_return(
            &key,
            ReturnDecision::Received {
                quantity: 1,
                condition: None,
            },
            None,
        )
        .await
        .unwrap();
    pass(&flow).await;
    assert_eq!(
        record(journal.as_ref(), "862").await.stage(),
        ReturnStage::Completed
    );
    assert_eq!(channel.state().handled.len(), 1);
    assert!(shopwedo.state().announced.is_empty() && supplier.state().announced.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_says_what_it_would_do_and_sends_and_writes_nothing() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 2, "shopwedo", "5001").await;
    channel.register("R1", "861", "1001", 2);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    let mut results = flow.returns(PassMode::DryRun).await;
    let report = results.pop().unwrap().1.unwrap().unwrap();
    assert!(report.dry_run);
    assert_eq!(
        report.rows,
        vec![(
            "return:bol:861".to_owned(),
            "would announce 2× 8712345678906 at shopwedo (its order 5001)".to_owned()
        )]
    );
    assert!(journal.returns().await.unwrap().is_empty());
    assert!(shopwedo.state().announced.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_drives_the_returns_loop_beside_the_orders() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    let mut r = journal.load("bol:1001").await.unwrap().unwrap();
    r.completed_at = Some(Utc::now());
    journal
        .amend("bol:1001", "test", Utc::now(), &mut |x| {
            *x = r.clone();
            Ok("completed".into())
        })
        .await
        .unwrap();
    channel.register("R1", "861", "1001", 1);
    shopwedo.receive("861", 1, None);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    let summary = flow.run().await;
    assert_eq!(summary.returns.len(), 1, "{summary}");
    assert!(summary.returns[0].contains("1 handled"), "{summary}");
    assert!(summary.to_string().contains("returns          bol:"), "{summary}");
    assert_eq!(channel.state().handled.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_return_of_an_order_the_journal_does_not_know_goes_on_with_a_persons_choices() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let (channel, shopwedo) = (Channel::default(), Warehouse::new("shopwedo"));
    channel.register("R1", "861", "9999", 2);
    channel.register("R2", "862", "9998", 1);
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    let operator = commerce_facade::Operator::new(journal.as_ref());
    let (a, b) = (return_key("bol", "861"), return_key("bol", "862"));
    // Announced by hand: the loop cannot ask a warehouse, so it asks the person for the goods.
    operator
        .resolve_return(&a, ReturnDecision::Announced { reference: None }, None)
        .await
        .unwrap();
    pass(&flow).await;
    let why = record(journal.as_ref(), "861").await.attention.unwrap();
    assert!(
        why.contains("announced by hand") && why.contains("--received N"),
        "{why}"
    );
    operator
        .resolve_return(
            &a,
            ReturnDecision::Received {
                quantity: 1,
                condition: None,
            },
            None,
        )
        .await
        .unwrap();
    pass(&flow).await;
    let why = record(journal.as_ref(), "861").await.attention.unwrap();
    assert!(why.contains("received 1 of 2"), "{why}");
    // Never more than came back for a result that says the goods are back.
    let refused = operator
        .resolve_return(
            &a,
            ReturnDecision::Handle {
                result: HandlingResult::ReturnReceived,
                quantity: 2,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ReturnRefusal::MoreThanReceived {
                given: 2,
                received: 1
            }
        ),
        "{refused}"
    );
    operator
        .resolve_return(
            &a,
            ReturnDecision::Handle {
                result: HandlingResult::ReturnReceived,
                quantity: 1,
            },
            None,
        )
        .await
        .unwrap();
    // The buyer keeps the other one and pays: no goods, no warehouse needed.
    operator
        .resolve_return(
            &b,
            ReturnDecision::Handle {
                result: HandlingResult::CustomerKeepsProductPaid,
                quantity: 1,
            },
            None,
        )
        .await
        .unwrap();
    pass(&flow).await;
    assert_eq!(
        record(journal.as_ref(), "861").await.stage(),
        ReturnStage::Completed
    );
    assert_eq!(
        record(journal.as_ref(), "862").await.stage(),
        ReturnStage::Completed
    );
    assert_eq!(channel.state().handled.len(), 2);
    assert!(shopwedo.state().announced.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_step_that_keeps_failing_goes_to_a_person_and_retry_looks_up_never_resends() {
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let channel = Channel::default();
    let shopwedo = Warehouse::new("shopwedo");
    // Shipped by a warehouse no runner here has.
    shipped_order(journal.as_ref(), "1001", 1, "elsewhere", "E-1").await;
    channel.register("R1", "861", "1001", 1);
    let first = flow(&channel, &[&shopwedo], journal.clone());
    for _ in 0..7 {
        pass(&first).await;
    }
    let r = record(journal.as_ref(), "861").await;
    let why = r.attention.expect("a person is told");
    assert!(
        why.contains("failed 7 times in a row") && why.contains("elsewhere shipped"),
        "{why}"
    );

    // An announcement whose look-up keeps failing: retry looks up again, it does not resend.
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    shipped_order(journal.as_ref(), "1001", 1, "shopwedo", "5001").await;
    shopwedo.state().lose_next_answer = true;
    let flow = flow(&channel, &[&shopwedo], journal.clone());
    pass(&flow).await;
    assert_eq!(record(journal.as_ref(), "861").await.announcement, Step::Started);
    let key = return_key("bol", "861");
    commerce_facade::Operator::new(journal.as_ref())
        .retry_return(&key)
        .await
        .unwrap();
    assert_eq!(
        record(journal.as_ref(), "861").await.announcement,
        Step::Started,
        "not resent blindly"
    );
    later(1).await;
    pass(&flow).await;
    assert!(record(journal.as_ref(), "861").await.announcement.is_done());
    assert_eq!(shopwedo.state().announced.len(), 1);
}
