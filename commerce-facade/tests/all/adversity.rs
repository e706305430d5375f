//! The flow against adversity found by a review: misconfigured durations, a journal that
//! fails or holds a record that does not read, a stop while sleeping. Fake providers,
//! paused time. (Each test failed on the code before its fix.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{
    ConfirmationReceipt, Error, FulfilmentState, FulfilmentStatus, LineItem, Order, Shipment,
    ShipmentConfirmation, StockLevel, SubmissionReceipt, Tracking,
};
use commerce_facade::{
    Amendment, Flow, FlowOptions, HistoryEntry, Journal, JournalError, LeaseInfo, MemoryJournal, OfferRecord,
    OrderRecord, PassState, Providers, ReturnAmendment, ReturnRecord,
};
use futures_util::stream::BoxStream;

fn order(id: &str) -> Order {
    Order {
        id: id.into(),
        channel: "shop".into(),
        lines: vec![LineItem {
            line_id: format!("L{id}"),
            ean: Some("8712345678901".into()),
            sku: None,
            title: "Thing".into(),
            quantity: 1,
            unit_price: None,
            cancellation_requested: false,
        }],
        ..Default::default()
    }
}

/// A channel with fixed open orders; counts confirmations per order.
#[derive(Debug, Default)]
struct Shop {
    orders: Vec<Order>,
    confirmations: Mutex<HashMap<String, usize>>,
    /// When each confirmation came, in tokio's (paused) time.
    confirmed_at: Mutex<Vec<(String, tokio::time::Instant)>>,
}

#[async_trait::async_trait]
impl commerce_core::SalesChannel for Shop {
    fn name(&self) -> &str {
        "shop"
    }

    fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>> {
        Box::pin(futures_util::stream::iter(
            self.orders.clone().into_iter().map(Ok),
        ))
    }

    async fn confirm_shipment(&self, s: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
        self.confirmed_at
            .lock()
            .unwrap()
            .push((s.order_id.clone(), tokio::time::Instant::now()));
        *self
            .confirmations
            .lock()
            .unwrap()
            .entry(s.order_id.clone())
            .or_default() += 1;
        Ok(ConfirmationReceipt {
            channel: "shop".into(),
            reference: None,
        })
    }
}

/// A warehouse whose order intake takes `intake`: the order exists there once the call
/// has arrived (at its end). It offers a look-up by order id, as the Customer API does.
#[derive(Debug, Default)]
struct Warehouse {
    intake: Duration,
    created: Mutex<HashMap<String, usize>>,
    /// Parcels never leave (status reads counted).
    never_ships: bool,
    status_reads: AtomicUsize,
    /// How long the reads a hand-over needs take (`prepare`: as ShopWeDo's stock ids).
    reads: Duration,
}

#[async_trait::async_trait]
impl commerce_core::Fulfilment for Warehouse {
    fn name(&self) -> &str {
        "warehouse"
    }

    async fn prepare(&self, order: &Order) -> Result<commerce_core::PreparedSubmission, Error> {
        tokio::time::sleep(self.reads).await;
        Ok(commerce_core::PreparedSubmission::new(
            "warehouse",
            order.id.clone(),
            serde_json::to_value(order).unwrap(),
        ))
    }

    async fn submit(&self, order: &Order) -> Result<SubmissionReceipt, Error> {
        tokio::time::sleep(self.intake).await;
        *self.created.lock().unwrap().entry(order.id.clone()).or_default() += 1;
        Ok(SubmissionReceipt {
            provider: "warehouse".into(),
            reference: format!("W-{}", order.id),
            already_submitted: false,
        })
    }

    async fn status(&self, reference: &str) -> Result<FulfilmentStatus, Error> {
        self.status_reads.fetch_add(1, Ordering::SeqCst);
        if self.never_ships {
            tokio::time::sleep(Duration::from_millis(1)).await;
            return Ok(FulfilmentStatus {
                state: FulfilmentState::Processing,
                shipments: vec![],
            });
        }
        Ok(FulfilmentStatus {
            state: FulfilmentState::Shipped,
            shipments: vec![Shipment {
                tracking: Some(Tracking {
                    carrier: Some("TNT".into()),
                    code: format!("3S{reference}"),
                    url: None,
                }),
                ..Default::default()
            }],
        })
    }

    async fn cancel(&self, _reference: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        Ok(eans
            .iter()
            .map(|ean| StockLevel::new(ean.clone(), Some(ean.clone()), 1000))
            .collect())
    }

    async fn find_submission(&self, order_id: &str) -> Result<Option<SubmissionReceipt>, Error> {
        Ok(self
            .created
            .lock()
            .unwrap()
            .contains_key(order_id)
            .then(|| SubmissionReceipt {
                provider: "warehouse".into(),
                reference: format!("W-{order_id}"),
                already_submitted: true,
            }))
    }
}

fn providers(shop: &Arc<Shop>, warehouse: &Arc<Warehouse>) -> Providers {
    let mut p = Providers::new();
    p.channels.push(shop.clone());
    p.fulfilment.push(warehouse.clone());
    p
}

/// `--lease 0s` (or any lease shorter than the time between a claim and the journal's clock
/// moving on) let a second worker of the same runner claim an order the first one was
/// working on; both wrote as the same runner, so neither saw `LeaseLost`. Leases are now
/// kept within `LEASE_BOUNDS` (and renewed while an order is worked on).
#[tokio::test(start_paused = true)]
async fn a_zero_lease_is_raised_so_two_workers_never_submit_one_order_twice() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse {
        intake: Duration::from_secs(5),
        ..Default::default()
    });
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal,
        FlowOptions {
            concurrency: 2,
            lease: commerce_facade::parse_duration("0s").unwrap(),
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    );
    let summary = flow.run().await;
    let created = warehouse.created.lock().unwrap().clone();
    assert_eq!(created.get("1").copied(), Some(1), "{created:?} {summary:#?}");
}

/// A journal whose claims fail (a full disk, a read-only file, an I/O error, or a record
/// that no longer reads), or whose writes with a given note fail a number of times (a
/// dropped database connection): everything else works.
#[derive(Debug, Default)]
struct ClaimsFail {
    inner: MemoryJournal,
    claims: AtomicUsize,
    claims_work: bool,
    /// Saves whose note starts with this fail, `save_failures` times.
    failing_note: &'static str,
    save_failures: AtomicUsize,
}

#[async_trait::async_trait]
impl Journal for ClaimsFail {
    fn location(&self) -> String {
        self.inner.location()
    }

    async fn load(&self, key: &str) -> Result<Option<OrderRecord>, JournalError> {
        self.inner.load(key).await
    }
    async fn all(&self) -> Result<Vec<OrderRecord>, JournalError> {
        self.inner.all().await
    }
    async fn add(&self, record: &OrderRecord) -> Result<bool, JournalError> {
        self.inner.add(record).await
    }
    async fn claim(
        &self,
        runner: &str,
        channels: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OrderRecord>, JournalError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        if self.claims_work {
            return self.inner.claim(runner, channels, now, until).await;
        }
        Err(JournalError::Storage("database or disk is full".into()))
    }
    async fn save(
        &self,
        runner: &str,
        until: DateTime<Utc>,
        record: &OrderRecord,
        note: &str,
    ) -> Result<(), JournalError> {
        if !self.failing_note.is_empty()
            && note.starts_with(self.failing_note)
            && self
                .save_failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(JournalError::Storage(
                "server closed the connection unexpectedly".into(),
            ));
        }
        self.inner.save(runner, until, record, note).await
    }
    async fn renew(&self, key: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        self.inner.renew(key, runner, until).await
    }
    async fn release(&self, runner: &str, record: &OrderRecord, note: &str) -> Result<(), JournalError> {
        self.inner.release(runner, record, note).await
    }
    async fn amend(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: Amendment<'_>,
    ) -> Result<OrderRecord, JournalError> {
        self.inner.amend(key, by, now, change).await
    }
    async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, JournalError> {
        self.inner.history(key).await
    }
    async fn leases(&self, now: DateTime<Utc>) -> Result<Vec<LeaseInfo>, JournalError> {
        self.inner.leases(now).await
    }
    async fn next_due(&self, channels: &[String]) -> Result<Option<DateTime<Utc>>, JournalError> {
        self.inner.next_due(channels).await
    }
    async fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        self.inner.purge_personal(before).await
    }
    async fn pass(&self, name: &str) -> Result<Option<PassState>, JournalError> {
        self.inner.pass(name).await
    }
    async fn claim_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        force: bool,
    ) -> Result<bool, JournalError> {
        self.inner.claim_pass(name, runner, now, until, force).await
    }
    async fn renew_pass(&self, name: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        self.inner.renew_pass(name, runner, until).await
    }
    async fn end_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), JournalError> {
        self.inner.end_pass(name, runner, now, next_due, summary).await
    }
    async fn offers(&self) -> Result<Vec<OfferRecord>, JournalError> {
        self.inner.offers().await
    }
    async fn save_offers(
        &self,
        pass: &str,
        runner: &str,
        records: &[(OfferRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        self.inner.save_offers(pass, runner, records).await
    }
    async fn returns(&self) -> Result<Vec<ReturnRecord>, JournalError> {
        self.inner.returns().await
    }
    async fn save_returns(
        &self,
        pass: &str,
        runner: &str,
        records: &[(ReturnRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        self.inner.save_returns(pass, runner, records).await
    }
    async fn amend_return(
        &self,
        pass: &str,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: ReturnAmendment<'_>,
    ) -> Result<ReturnRecord, JournalError> {
        self.inner.amend_return(pass, key, by, now, change).await
    }
}

/// A claim that fails is not a failure of any order: `run` slept until the next due order
/// (due now), 10 ms, and claimed again, 100 times a second per worker, for as long as the
/// journal failed, and never returned. Now it backs off (1 s doubling) and gives up after
/// `max_attempts` failing passes, reporting the orders as left.
#[tokio::test(start_paused = true)]
async fn a_failing_journal_is_backed_off_and_the_run_ends() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let journal = Arc::new(ClaimsFail::default());
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal.clone(),
        FlowOptions {
            concurrency: 4,
            ..FlowOptions::default() // poll interval 5 min
        },
    );
    let ended = tokio::time::timeout(Duration::from_secs(60), flow.run()).await;
    let claims = journal.claims.load(Ordering::SeqCst);
    assert!(
        claims < 100,
        "{claims} claims in one minute (run ended: {})",
        ended.is_ok()
    );
    let summary = ended.expect("the run ends");
    assert_eq!(
        summary.pending, 1,
        "the order is left for the next run: {summary:#?}"
    );
}

/// The journal write after a hand-over (the warehouse's receipt) failing on a dropped
/// database connection left the order `Started` with the receipt lost, and ShopWeDo has no
/// look-up: a person had to settle it. The write is now tried again at once, on a new
/// connection, and the order goes on.
#[tokio::test(start_paused = true)]
async fn a_journal_write_lost_after_the_hand_over_is_written_again_not_left_to_a_person() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let journal = Arc::new(ClaimsFail {
        claims_work: true,
        failing_note: "submitted to",
        save_failures: AtomicUsize::new(2),
        ..ClaimsFail::default()
    });
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal.clone(),
        FlowOptions {
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    );
    let summary = tokio::time::timeout(Duration::from_secs(600), flow.run())
        .await
        .expect("the run ends");
    assert_eq!(
        journal.save_failures.load(Ordering::SeqCst),
        0,
        "both failures were met"
    );
    let record = journal.load("shop:1").await.unwrap().unwrap();
    assert!(record.attention.is_none(), "{record:#?}");
    assert!(record.completed_at.is_some(), "{record:#?} {summary:#?}");
    let created = warehouse.created.lock().unwrap().clone();
    assert_eq!(created.get("1").copied(), Some(1), "{created:?}");
}

/// In the SQLite journal one record that does not read (`claim` reads the soonest due
/// record, and new records sort first) made every claim fail: no other order was worked
/// on by any runner. Now it is set aside, kept as it is and named by `unreadable`.
#[tokio::test]
async fn one_unreadable_record_is_set_aside_and_the_others_are_claimed() {
    let dir = std::env::temp_dir().join(format!("review-poison-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.sqlite");
    let j = commerce_facade::SqliteJournal::open(&path).unwrap();
    let mut good = OrderRecord::new(order("good"));
    good.due = Some(Utc::now() - chrono::Duration::minutes(1));
    j.add(&good).await.unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO orders (key, record, updated_at, channel, open) VALUES ('shop:bad', '{\"key\":\"shop:bad\"}', '2026-01-01T00:00:00.000000Z', 'shop', 1)",
            [],
        )
        .unwrap();
    }
    let now = Utc::now();
    let claimed = j
        .claim(
            "a",
            &["shop".to_owned()],
            now,
            now + chrono::Duration::minutes(10),
        )
        .await;
    assert!(
        matches!(&claimed, Ok(Some(r)) if r.key == "shop:good"),
        "the due, readable order is not claimed: {claimed:?}"
    );
    assert_eq!(j.unreadable().await.unwrap().len(), 1);
    assert_eq!(
        j.all().await.unwrap().len(),
        1,
        "all() gives the records that read"
    );
    assert!(
        j.history("shop:bad").await.unwrap()[0]
            .note
            .starts_with("unreadable record set aside")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The SQLite journal compares stamps as text ("fixed width, so text order is
/// time order"), which holds for years 0000-9999 only. A lease past 9999 (`--lease
/// 3000000d`, or `FlowOptions::lease` too large for chrono, which `Flow::lease_until`
/// saturates to `DateTime::MAX_UTC`) is written as `+10245-...` / `+262142-...`, which
/// sorts before `2026-...`: the order is free for any runner at once.
#[tokio::test]
async fn a_lease_past_the_year_9999_still_holds_in_the_sqlite_journal() {
    let dir = std::env::temp_dir().join(format!("review-far-lease-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let j = commerce_facade::SqliteJournal::open(dir.join("j.sqlite")).unwrap();
    j.add(&OrderRecord::new(order("1"))).await.unwrap();
    let channels = ["shop".to_owned()];
    let now = Utc::now();
    let lease = chrono::Duration::from_std(commerce_facade::parse_duration("3000000d").unwrap()).unwrap();
    assert!(j.claim("a", &channels, now, now + lease).await.unwrap().is_some());
    let again = j
        .claim("b", &channels, now, now + chrono::Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(
        again.map(|r| r.key),
        None,
        "claimed a second time while a holds it"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--poll-interval 0s` was accepted: a shipping order was given back due "now + 0" and the
/// same worker claimed it again at once: the warehouse's status was read in a loop. The
/// poll interval is now kept within `POLL_BOUNDS` (100 ms at least).
#[tokio::test(start_paused = true)]
async fn a_zero_poll_interval_is_raised_to_the_floor() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse {
        never_ships: true,
        ..Default::default()
    });
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal,
        FlowOptions {
            concurrency: 1,
            poll_interval: commerce_facade::parse_duration("0s").unwrap(),
            ..FlowOptions::default()
        },
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), flow.watch()).await;
    let reads = warehouse.status_reads.load(Ordering::SeqCst);
    assert!(reads <= 11, "{reads} status reads of one order in one second");
}

/// A stop asked while the run sleeps (or before it starts sleeping) ends it
/// at once.
#[tokio::test(start_paused = true)]
async fn a_stop_while_sleeping_ends_the_watch_at_once() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse {
        never_ships: true,
        ..Default::default()
    });
    let flow = Flow::new(
        providers(&shop, &warehouse),
        Arc::new(MemoryJournal::new()),
        FlowOptions::default(),
    );
    let stop = flow.stop_handle();
    let started = tokio::time::Instant::now();
    let (summary, ()) = tokio::join!(flow.watch(), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.interrupted);
    // The order waits for its parcel, given back (no lease left behind).
    assert_eq!(warehouse.status_reads.load(Ordering::SeqCst), 1);
}

/// An order routed by another runner to a fulfilment provider this runner does not have is
/// left for a runner that has it (a failure of this visit, retried later), not parked for a
/// person.
#[tokio::test(start_paused = true)]
async fn an_order_routed_to_a_provider_this_runner_lacks_is_left_for_another() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let journal = Arc::new(MemoryJournal::new());
    let mut record = OrderRecord::new(order("1"));
    record.fulfilment = Some("other-warehouse".into());
    journal.add(&record).await.unwrap();
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal.clone(),
        FlowOptions {
            max_attempts: 2,
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    );
    let summary = flow.run().await;
    assert!(summary.attention.is_empty(), "{summary:#?}");
    assert_eq!(summary.pending, 1, "{summary:#?}");
    assert!(
        summary.failures[0].2.contains("which this runner does not have"),
        "{summary:#?}"
    );
    let r = journal.load("shop:1").await.unwrap().unwrap();
    assert!(r.is_open() && r.attention.is_none(), "{r:#?}");
    assert!(
        warehouse.created.lock().unwrap().is_empty(),
        "nothing sent elsewhere"
    );
}

/// A review platform that refuses every invitation before sending it (the buyer's e-mail
/// address does not pass its check), counting the attempts.
#[derive(Debug, Default)]
struct RefusingPlatform {
    attempts: AtomicUsize,
}

#[async_trait::async_trait]
impl commerce_core::ReviewPlatform for RefusingPlatform {
    fn name(&self) -> &str {
        "refusing"
    }

    async fn invite(
        &self,
        _invitation: &commerce_core::ReviewInvitation,
    ) -> Result<commerce_core::InvitationReceipt, Error> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let mut v = commerce_core::ValidationErrors::new();
        v.push("customer.email", "is not an e-mail address");
        v.into_result(commerce_core::InvitationReceipt {
            platform: "refusing".into(),
            reference: None,
            already_invited: false,
        })
    }
}

/// A call refused before anything was sent gets the same answer every time: at any step
/// (here an invitation, after the order shipped and was confirmed) the order waits for a
/// person with the reason, instead of failing at every visit until the run gives up.
#[tokio::test(start_paused = true)]
async fn an_invitation_refused_before_sending_waits_for_a_person() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let platform = Arc::new(RefusingPlatform::default());
    let mut providers = providers(&shop, &warehouse);
    providers.review_platforms.push(platform.clone());
    let journal = Arc::new(MemoryJournal::new());
    let summary = Flow::new(
        providers,
        journal.clone(),
        FlowOptions {
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    )
    .run()
    .await;
    assert!(summary.failures.is_empty(), "{summary:#?}");
    assert_eq!(summary.attention.len(), 1, "{summary:#?}");
    let reason = &summary.attention[0].1;
    assert!(
        reason.contains("customer.email") && reason.contains("refused"),
        "{reason}"
    );
    assert_eq!(platform.attempts.load(Ordering::SeqCst), 1, "asked once");
    let r = journal.load("shop:1").await.unwrap().unwrap();
    assert!(r.confirmation.is_done() && r.attention.is_some());
    assert_eq!(r.invitations["refusing"], commerce_facade::Step::NotStarted);
}

/// A stop while a hand-over's reads run (ShopWeDo's paced stock reads): nothing is sent, and
/// the submission is not `Started` (a `kill -9` there used to leave "may have received" for
/// a person, though nothing had been sent); the run ends at once.
#[tokio::test(start_paused = true)]
async fn a_stop_during_a_hand_overs_reads_sends_nothing_and_leaves_it_not_started() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse {
        reads: Duration::from_secs(60),
        ..Default::default()
    });
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal.clone(),
        FlowOptions::default(),
    );
    let stop = flow.stop_handle();
    let started = tokio::time::Instant::now();
    let (summary, ()) = tokio::join!(flow.run(), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.interrupted);
    assert!(warehouse.created.lock().unwrap().is_empty());
    let r = journal.load("shop:1").await.unwrap().unwrap();
    assert_eq!(r.submission, commerce_facade::Step::NotStarted, "{r:#?}");
    assert_eq!(
        journal
            .leases(Utc::now() - chrono::Duration::days(1))
            .await
            .unwrap(),
        vec![]
    );
}

/// A stop while the request that may act is under way lets it finish: its outcome is
/// journaled, never left unknown by the stop.
#[tokio::test(start_paused = true)]
async fn a_stop_during_the_hand_over_lets_it_finish_and_journals_it() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse {
        intake: Duration::from_secs(20),
        never_ships: true,
        ..Default::default()
    });
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(
        providers(&shop, &warehouse),
        journal.clone(),
        FlowOptions::default(),
    );
    let stop = flow.stop_handle();
    let (summary, ()) = tokio::join!(flow.run(), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
    });
    assert!(summary.interrupted);
    assert_eq!(warehouse.created.lock().unwrap().get("1"), Some(&1));
    let r = journal.load("shop:1").await.unwrap().unwrap();
    assert!(r.submission.is_done(), "{r:#?}");
}

/// A review platform that takes one invitation every 10 minutes (a real rate limiter, as a
/// client's), recording when each went.
#[derive(Debug)]
struct SlowPlatform {
    limiter: commerce_core::RateLimiter,
    invited: Mutex<Vec<(String, tokio::time::Instant)>>,
}

#[async_trait::async_trait]
impl commerce_core::ReviewPlatform for SlowPlatform {
    fn name(&self) -> &str {
        "slow"
    }

    fn ready_in(&self, waiting: usize) -> Duration {
        self.limiter.ready_in_after(waiting)
    }

    async fn invite(
        &self,
        invitation: &commerce_core::ReviewInvitation,
    ) -> Result<commerce_core::InvitationReceipt, Error> {
        let _permit = self.limiter.acquire().await;
        self.invited
            .lock()
            .unwrap()
            .push((invitation.order_id.clone(), tokio::time::Instant::now()));
        Ok(commerce_core::InvitationReceipt {
            platform: "slow".into(),
            reference: None,
            already_invited: false,
        })
    }
}

/// A worker whose next call's permit is far off gives the order back, due when the permit
/// is, and serves other orders meanwhile: with one worker and a platform taking one
/// invitation every 10 minutes, every order is handed over and confirmed within the first
/// minutes (it used to wait behind the invitation held for 10 minutes), and each invitation
/// goes as soon as the platform takes it.
#[tokio::test(start_paused = true)]
async fn a_step_whose_permit_is_far_off_gives_its_worker_back() {
    let shop = Arc::new(Shop {
        orders: vec![order("1"), order("2"), order("3")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let platform = Arc::new(SlowPlatform {
        limiter: commerce_core::RateLimiter::new([
            commerce_core::Quota::new(1, Duration::from_secs(600)).with_margin(Duration::ZERO)
        ]),
        invited: Mutex::new(Vec::new()),
    });
    let mut providers = providers(&shop, &warehouse);
    providers.review_platforms.push(platform.clone());
    let start = tokio::time::Instant::now();
    let summary = Flow::new(
        providers,
        Arc::new(MemoryJournal::new()),
        FlowOptions {
            concurrency: 1,
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    )
    .run()
    .await;
    assert_eq!(summary.completed, 3, "{summary:#?}");
    assert!(summary.failures.is_empty(), "{summary:#?}");
    let confirmed = shop.confirmed_at.lock().unwrap().clone();
    assert_eq!(confirmed.len(), 3);
    for (order, at) in &confirmed {
        assert!(
            *at - start < Duration::from_secs(60),
            "order {order} confirmed after {:?}",
            *at - start
        );
    }
    let invited = platform.invited.lock().unwrap().clone();
    assert_eq!(invited.len(), 3, "each invited once");
    let offsets: Vec<u64> = invited.iter().map(|(_, at)| (*at - start).as_secs()).collect();
    assert!(offsets[0] < 60, "{offsets:?}");
    for pair in offsets.windows(2) {
        // Each as soon as the platform takes one (the flow's next pass a moment later).
        assert!((600..=610).contains(&(pair[1] - pair[0])), "{offsets:?}");
    }
}

/// A review platform whose every invitation is refused with a 429 (its pause then holds
/// calls back a minute, as a client's limiter would after `Retry-After: 60`).
#[derive(Debug)]
struct ThrottledPlatform {
    limiter: commerce_core::RateLimiter,
    attempts: AtomicUsize,
}

#[async_trait::async_trait]
impl commerce_core::ReviewPlatform for ThrottledPlatform {
    fn name(&self) -> &str {
        "throttled"
    }

    fn ready_in(&self, waiting: usize) -> Duration {
        self.limiter.ready_in_after(waiting)
    }

    async fn invite(
        &self,
        _invitation: &commerce_core::ReviewInvitation,
    ) -> Result<commerce_core::InvitationReceipt, Error> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.limiter.pause_for(Duration::from_secs(60));
        Err(Error::RateLimited {
            provider: "throttled".into(),
            endpoint: "invite".into(),
            retry_after: Some(Duration::from_secs(60)),
            answer: None,
        })
    }
}

/// A step given back for its provider's rate limit is no step of its own: the failures in a
/// row go on counting across it, so an order whose invitation fails, is paced, and fails
/// again is left for the next run after `max_attempts`, and `run` ends (a pace used to
/// reset the count: the run went on for ever).
#[tokio::test(start_paused = true)]
async fn a_pace_between_failures_does_not_make_the_run_go_on_for_ever() {
    let shop = Arc::new(Shop {
        orders: vec![order("1")],
        ..Default::default()
    });
    let warehouse = Arc::new(Warehouse::default());
    let platform = Arc::new(ThrottledPlatform {
        limiter: commerce_core::RateLimiter::unlimited(),
        attempts: AtomicUsize::new(0),
    });
    let mut providers = providers(&shop, &warehouse);
    providers.review_platforms.push(platform.clone());
    let flow = Flow::new(
        providers,
        Arc::new(MemoryJournal::new()),
        FlowOptions {
            poll_interval: Duration::from_secs(1),
            max_attempts: 3,
            ..FlowOptions::default()
        },
    );
    let summary = tokio::time::timeout(Duration::from_secs(86_400), flow.run())
        .await
        .expect("the run ends");
    assert_eq!(platform.attempts.load(Ordering::SeqCst), 3, "{summary:#?}");
    assert_eq!(summary.pending, 1, "{summary:#?}");
    assert_eq!(summary.completed, 0);
}
