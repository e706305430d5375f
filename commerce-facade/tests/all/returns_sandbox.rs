//! The returns loop end to end on the sandbox (paused time): orders are handed over,
//! shipped and confirmed; buyers register returns for a share of them; the warehouse
//! receives the goods after a delay (some short or damaged). After every pass nothing is
//! handled before its goods arrived, nothing twice, no announcement doubled; at the end every
//! return bol has is either handled there after its goods came in, or waits for a person
//! with the `commerce` line that settles it. With faults and garbled answers, and with
//! passes cut off mid-way (a runner killed) and taken over by another runner.
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

use commerce_testing::facade as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::HandlingResult;
use commerce_facade::ReturnDecision;
use commerce_facade::{
    Amendment, Flow, HistoryEntry, Journal, JournalError, LeaseInfo, MemoryJournal, OfferRecord, OrderRecord,
    PassMode, PassState, Providers, ReturnAmendment, ReturnRecord, ReturnStage, ReturnsReport, return_key,
};
use commerce_sandbox::{Config, Sandbox};

use commerce_testing::paused_time_http;

/// A runner's view of the journal that dies after `writes` more writes of the returns pass
/// (its records, its lease, its end): every later write fails and nothing after it is
/// journaled, as when the process is killed at that point (a request sent after the last
/// write that went through has its outcome unknown).
#[derive(Debug)]
struct Dying {
    inner: Arc<dyn Journal>,
    writes: AtomicUsize,
}

impl Dying {
    fn write(&self) -> Result<(), JournalError> {
        self.writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map(|_| ())
            .map_err(|_| JournalError::Unwritable("the runner was killed".into()))
    }
}

#[async_trait::async_trait]
impl Journal for Dying {
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
        self.inner.claim(runner, channels, now, until).await
    }
    async fn save(
        &self,
        runner: &str,
        until: DateTime<Utc>,
        record: &OrderRecord,
        note: &str,
    ) -> Result<(), JournalError> {
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
        self.write()?;
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
        self.write()?;
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
        self.write()?;
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

fn returns_flow(providers: &Providers, journal: Arc<dyn Journal>, runner: &str) -> Flow {
    let mut options = support::shop_options();
    options.runner = runner.into();
    options.returns.interval = Some(Duration::from_secs(3600));
    options.returns.poll = Duration::from_secs(6 * 3600);
    Flow::new(providers.clone(), journal, options)
}

fn orders_flow(providers: &Providers, journal: Arc<dyn Journal>) -> Flow {
    let mut options = support::shop_options();
    options.runner = "orders".into();
    Flow::new(providers.clone(), journal, options)
}

/// The sandbox's damage figures are all 0.
fn no_damage(sb: &Sandbox, round: &str) {
    let r = sb.report();
    let x = &r.returns;
    assert_eq!(
        x.handled_before_receipt, 0,
        "{round}: handled before receipt: {x:?}"
    );
    assert_eq!(x.double_handled, 0, "{round}: handled twice: {x:?}");
    assert_eq!(x.duplicate_announcements, 0, "{round}: announced twice: {x:?}");
    assert_eq!(x.announced_without_return, 0, "{round}: {x:?}");
    assert_eq!(x.wrong_quantity, 0, "{round}: {x:?}");
    assert_eq!(r.total_duplicates(), 0, "{round}: duplicates: {:?}", r.providers);
    assert_eq!(r.total_violations(), 0, "{round}: violations: {:?}", r.providers);
}

/// Every return bol has: handled there (after its goods came in, where its result claims
/// them), or its record waits for a person with a `commerce` line. `Err` with what is
/// still under way.
/// Why returns wait for a person, by kind, as the last check of `settled` found them.
fn kinds() -> &'static std::sync::Mutex<std::collections::BTreeMap<&'static str, usize>> {
    static KINDS: std::sync::OnceLock<std::sync::Mutex<std::collections::BTreeMap<&'static str, usize>>> =
        std::sync::OnceLock::new();
    KINDS.get_or_init(Default::default)
}

async fn settled(sb: &Sandbox, journal: &dyn Journal) -> Result<(usize, usize), String> {
    let (mut handled, mut person) = (0, 0);
    kinds().lock().unwrap().clear();
    for line in sb.returns() {
        let record = journal
            .load_return(&return_key("bol", &line.rma_id))
            .await
            .unwrap();
        if line.handled {
            let claims_goods = line.handling_result.as_deref().is_some_and(|r| {
                [
                    "RETURN_RECEIVED",
                    "EXCHANGE_PRODUCT",
                    "RETURN_DOES_NOT_MEET_CONDITIONS",
                    "REPAIR_PRODUCT",
                ]
                .contains(&r)
            });
            if claims_goods {
                let (Some(received), Some(handled_at)) = (line.received_at, line.handled_at) else {
                    panic!("handled as {:?} without goods: {line:?}", line.handling_result);
                };
                assert!(
                    received <= handled_at,
                    "handled before its goods came in: {line:?}"
                );
            }
            if let Some(r) = &record {
                assert!(
                    r.completed_at.is_some() || r.needs_person(),
                    "bol has it handled, the journal: {r:?}"
                );
            }
            handled += 1;
            continue;
        }
        match record {
            Some(r) if r.needs_person() => {
                let why = r.attention.clone().unwrap_or_default();
                assert!(why.contains("commerce "), "no command for a person: {why}");
                person += 1;
                let kind = [
                    "takes no return announcements",
                    "received ",
                    "look-up cannot tell",
                    "not received",
                    "refused",
                    "not in this journal",
                    "does not say",
                ]
                .into_iter()
                .find(|k| why.contains(k))
                .unwrap_or("other");
                *kinds().lock().unwrap().entry(kind).or_insert(0) += 1;
            }
            Some(r) => {
                assert!(
                    r.completed_at.is_none(),
                    "completed while bol has it unhandled: {r:?} / {line:?}"
                );
                return Err(format!("{} at {}", r.key, r.stage().name()));
            }
            None => return Err(format!("{} not in the journal yet", line.rma_id)),
        }
    }
    Ok((handled, person))
}

async fn pass(flow: &Flow) -> Option<ReturnsReport> {
    let mut results = flow.returns(PassMode::WhenDue).await;
    assert_eq!(results.len(), 1, "one channel lists returns");
    match results.pop().unwrap().1 {
        Ok(report) => report,
        // A pass that failed (faults) is tried again later.
        Err(e) => {
            eprintln!("pass failed: {e}");
            None
        }
    }
}

struct Figures {
    registered: u64,
    handled: usize,
    person: usize,
    passes: usize,
    /// What the soak ran on, for a person's part after it.
    sb: Sandbox,
    journal: Arc<dyn Journal>,
    flow: Flow,
}

/// Orders through to their confirmation, then rounds of six hours with a returns pass each
/// (and, with `kill_every`, a pass cut off at a seeded point every so many rounds and
/// taken over by a new runner once its lease ended), until every return is settled.
async fn soak(config: Config, kill_every: Option<usize>) -> Figures {
    let sb = commerce_sandbox::start(config).await.unwrap();
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let providers = support::providers_on(&sb, &paused_time_http());
    let orders = orders_flow(&providers, journal.clone());
    support::run_until_done(&orders, 30).await;
    let mut runner = 0;
    let mut flow = returns_flow(&providers, journal.clone(), "returns-0");
    let mut passes = 0;
    let mut last = String::new();
    for round in 0..160 {
        tokio::time::advance(Duration::from_secs(6 * 3600)).await;
        // Orders whose confirmation failed go on; returns come for shipped orders.
        let _ = orders.run().await;
        let name = format!("round {round}");
        if kill_every.is_some_and(|k| round % k == k - 1) {
            // The runner dies somewhere in its pass, after a seeded number of writes: no
            // write after that (no end, no release), as kill -9 leaves it.
            let dying: Arc<dyn Journal> = Arc::new(Dying {
                inner: journal.clone(),
                writes: AtomicUsize::new(1 + (round * 7919) % 9),
            });
            let _ = returns_flow(&providers, dying, &format!("dying-{round}"))
                .returns(PassMode::Now)
                .await;
            runner += 1;
            flow = returns_flow(&providers, journal.clone(), &format!("returns-{runner}"));
            // Its pass is another runner's until its lease ends.
            tokio::time::advance(flow.options().lease + Duration::from_secs(1)).await;
            no_damage(&sb, &name);
            continue;
        }
        if let Some(report) = pass(&flow).await {
            passes += 1;
            last = report.line();
        }
        no_damage(&sb, &name);
        let registered = sb.report().returns.registered;
        if round > 12 && registered > 0 {
            match settled(&sb, journal.as_ref()).await {
                Ok((handled, person)) => {
                    let x = sb.report().returns;
                    eprintln!(
                        "settled after {round} rounds, {passes} passes: registered {registered}, announced {}, received {}, handled {handled}, with a person {person} ({:?}); faults {}",
                        x.announced,
                        x.received,
                        kinds().lock().unwrap(),
                        sb.report().total_faults()
                    );
                    return Figures {
                        registered,
                        handled,
                        person,
                        passes,
                        sb,
                        journal,
                        flow,
                    };
                }
                Err(open) => last = format!("{last} / still open: {open}"),
            }
        }
    }
    panic!(
        "returns not settled after 160 rounds: {last}\n{:#?}",
        sb.report().returns
    );
}

fn config(orders: usize) -> Config {
    Config {
        orders,
        returns: 0.5,
        return_after: Duration::from_secs(6 * 3600),
        receive_after: Duration::from_secs(86_400),
        return_mismatch: 0.15,
        returns_multi: 0.2,
        ..Config::default()
    }
}

#[tokio::test(start_paused = true)]
async fn every_return_is_handled_after_its_goods_came_in_or_waits_for_a_person() {
    let f = soak(config(40), None).await;
    assert!(f.registered >= 10, "{} returns registered", f.registered);
    assert!(f.handled > 0, "none handled");
    assert!(
        f.person > 0,
        "the mismatches and the supplier's returns go to a person"
    );
    assert_eq!(f.handled + f.person, f.registered as usize);
    assert!(f.passes > 3);

    // A person does what each says: the supplier's returns are announced by hand and their
    // goods received by hand; what came back short or damaged is refunded for what came
    // back. The next pass handles every one of them on bol.
    let operator = commerce_facade::Operator::new(f.journal.as_ref());
    for r in f
        .journal
        .returns()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.needs_person())
    {
        let why = r.attention.clone().unwrap();
        let decision = if why.contains("takes no return announcements") {
            operator
                .resolve_return(
                    &r.key,
                    ReturnDecision::Announced { reference: None },
                    Some("phoned the supplier"),
                )
                .await
                .unwrap();
            assert!(f.sb.receive_return_by_hand(&r.rma_id, i64::from(r.expected), false));
            ReturnDecision::Received {
                quantity: r.expected,
                condition: None,
            }
        } else if let Some(received) = r.received_quantity().filter(|q| *q > 0) {
            ReturnDecision::Handle {
                result: HandlingResult::ReturnReceived,
                quantity: received,
            }
        } else {
            panic!("{}: {why}", r.key);
        };
        operator.resolve_return(&r.key, decision, None).await.unwrap();
    }
    let report = f
        .flow
        .returns(PassMode::Now)
        .await
        .pop()
        .unwrap()
        .1
        .unwrap()
        .expect("the pass ran");
    no_damage(&f.sb, "after a person");
    assert_eq!(report.attention, 0, "{report}");
    let x = f.sb.report().returns;
    assert_eq!((x.handled, x.unhandled), (f.registered, 0), "{x:?}");
}

#[tokio::test(start_paused = true)]
async fn with_faults_and_garbled_answers_nothing_is_handled_early_twice_or_announced_twice() {
    let f = soak(
        Config {
            faults: 0.3,
            garbled_creates: 0.1,
            seed: 31,
            ..config(support::size("RETURNS_SOAK_ORDERS", 60))
        },
        None,
    )
    .await;
    assert!(f.registered >= 10, "{} returns registered", f.registered);
    assert_eq!(f.handled + f.person, f.registered as usize);
}

#[tokio::test(start_paused = true)]
async fn a_runner_killed_mid_pass_is_taken_over_with_nothing_doubled() {
    let f = soak(
        Config {
            faults: 0.1,
            garbled_creates: 0.05,
            seed: 7,
            ..config(40)
        },
        Some(3),
    )
    .await;
    assert!(f.registered >= 10, "{} returns registered", f.registered);
    assert_eq!(f.handled + f.person, f.registered as usize);
}

#[tokio::test(start_paused = true)]
async fn a_stage_per_return_and_the_journal_says_why() {
    let sb = commerce_sandbox::start(config(20)).await.unwrap();
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let providers = support::providers_on(&sb, &paused_time_http());
    support::run_until_done(&orders_flow(&providers, journal.clone()), 30).await;
    tokio::time::advance(Duration::from_secs(7 * 3600)).await;
    let flow = returns_flow(&providers, journal.clone(), "r");
    let report = pass(&flow).await.expect("the pass ran");
    assert!(report.new > 0, "{report}");
    let records = journal.returns().await.unwrap();
    // Announced at ShopWeDo and waiting, or at a person (the supplier has no retour call).
    for r in &records {
        let history = journal.history(&r.key).await.unwrap();
        assert!(history[0].note.starts_with("seen on bol:"), "{history:?}");
        match r.stage() {
            ReturnStage::Receipt => assert!(r.announcement.is_done()),
            ReturnStage::Attention => assert!(r.attention.as_deref().unwrap().contains("commerce resolve")),
            other => panic!("{} at {other:?}: {history:?}", r.key),
        }
    }
}
