//! The scheduler: passes over the journal instead of a loop per order.
//!
//! A pass lists the channels' open orders (new ones enter the journal, due at once), then
//! `concurrency` workers each claim the due order furthest along that no runner holds (then
//! the soonest due), take it through the table as far as it goes now, and give it back with
//! its next due time: a shipping order is due again after `poll_interval`, a failed step
//! after a delay that doubles with each failure, a step whose provider is busy (its permit
//! more than 2 s off) when the provider can take it. A waiting order costs nothing between its checks and holds no worker, so
//! new orders are routed and submitted while others wait for their parcels. Between passes
//! the run sleeps until the next order is due (or a stop is asked for), and says so.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::engine::{Halt, Held};
use super::{Event, Flow, Summary, later};
use crate::journal::{JournalError, OrderRecord};

/// What a run keeps of the orders it works on.
#[derive(Debug, Default)]
pub(super) struct Run {
    /// Orders to see finished (completed, needing a person, or cancelled) before
    /// [`Flow::run`] returns.
    open: HashSet<String>,
    /// The orders the run considered that may still need it (in a watching run, those
    /// still listed or open: the set does not grow for ever).
    seen: HashSet<String>,
    /// How many orders the run considered.
    seen_count: usize,
    /// Failures in this run, per order.
    tries: HashMap<String, u32>,
    /// Orders this run gave back to wait: when they are due, and what for.
    waiting: HashMap<String, (DateTime<Utc>, Wait)>,
    /// What the run last said it waits for (orders paced not counted: their number
    /// changes every pass).
    announced: Option<[usize; 5]>,
}

impl Run {
    /// Notes an order the run considers; true when it is new to the run.
    fn see(&mut self, key: &str) -> bool {
        let new = self.seen.insert(key.to_owned());
        self.seen_count += usize::from(new);
        new
    }

    /// Orders the run still waits for: open, and not failing `max_attempts` times in a
    /// row.
    fn unfinished(&self, max_attempts: u32) -> impl Iterator<Item = &String> {
        self.open
            .iter()
            .filter(move |k| self.tries.get(*k).copied().unwrap_or(0) < max_attempts.max(1))
    }
}

/// What an order given back waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Its parcel to ship (checked every poll interval).
    Shipment,
    /// A tracking code for a parcel shipped without one (up to `untracked_after`).
    Untracked,
    /// A split order: its parts to end.
    Parts,
    /// The time to try a failed step again.
    Retry,
    /// A provider's rate limit (named): due when it can take the next call.
    Pace,
}

/// Claims that fail in a row (about a minute of them, with the delays between) after which
/// a watching run stops: a database gone for good is said, a restart or a fail-over is
/// waited out. A journal that cannot be written at all (a full disk, a read-only file) stops
/// it at the first failure.
const JOURNAL_FAILURES_FATAL: u32 = 7;

/// A channel's pass as the loop keeps it: the channel, and its report's line, how many
/// need a person and whether anything failed (`None`: not due, or another runner's).
type PassOutcome = (
    String,
    Result<Option<(String, usize, bool)>, commerce_core::Error>,
);

/// The loops that run as passes over the whole shop, beside the orders'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loop {
    Stock,
    Returns,
}

impl Loop {
    fn name(self) -> &'static str {
        match self {
            Loop::Stock => "stock",
            Loop::Returns => "returns",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    UntilDone,
    Watch,
}

/// The delay before a failed step is tried again: 30 s (or the poll interval, if
/// shorter), doubling with each failure in a row, at most an hour.
fn retry_delay(poll_interval: Duration, failures: u32) -> Duration {
    let base = poll_interval.min(Duration::from_secs(30));
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(Duration::from_secs(3600))
}

impl Flow {
    /// Runs until every order open on the channels or unfinished in the journal is
    /// completed or needs a person (or, for an order that keeps failing,
    /// [`FlowOptions::max_attempts`](super::FlowOptions::max_attempts) times in a row: it
    /// is left for the next run), sleeping between checks while orders wait for their
    /// parcels. Orders held by other runners are left to them, and waited for.
    pub async fn run(&self) -> Summary {
        self.drive(Mode::UntilDone).await
    }

    /// Runs passes until stopped ([`Flow::stop_handle`]): new orders are picked up each
    /// `poll_interval`, waiting ones checked when due, failed ones retried.
    pub async fn watch(&self) -> Summary {
        self.drive(Mode::Watch).await
    }

    async fn drive(&self, mode: Mode) -> Summary {
        *self.summary() = Summary::default();
        // The stock and returns loops run beside the orders' (a stock pass takes minutes:
        // bol's export).
        let (summary, (), ()) = futures_util::future::join3(
            self.drive_orders(mode),
            self.drive_passes(mode, Loop::Stock),
            self.drive_passes(mode, Loop::Returns),
        )
        .await;
        let mut summary = summary;
        let passes = self.summary().clone();
        summary.stock = passes.stock;
        summary.stock_attention = passes.stock_attention;
        summary.stock_failed = passes.stock_failed;
        summary.returns = passes.returns;
        // Returns waiting for a person in the whole journal (as orders are counted), not only
        // those a pass of this run looked at.
        summary.returns_attention = match self.journal.returns().await {
            Ok(all) => all.iter().filter(|r| r.needs_person()).count(),
            Err(_) => passes.returns_attention,
        };
        summary.returns_failed = passes.returns_failed;
        summary.failures = passes.failures;
        summary.more_failures = passes.more_failures;
        summary.interrupted |= self.stopping();
        summary.fatal = self.stop.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone();
        summary
    }

    /// One pass of a loop that runs over the whole shop when due ([`Flow::run`]), or one
    /// each interval until stopped ([`Flow::watch`]); nothing when the loop is off.
    async fn drive_passes(&self, mode: Mode, which: Loop) {
        let interval = match which {
            Loop::Stock => self.options.stock.interval,
            Loop::Returns => self.options.returns.interval,
        };
        let Some(interval) = interval else {
            return;
        };
        let pass_name = |channel: &str| match which {
            Loop::Stock => super::stock::pass_name(channel),
            Loop::Returns => crate::journal::returns_pass(channel),
        };
        loop {
            if self.stopping() {
                return;
            }
            // Each channel's pass: its report line, how many need a person, whether it
            // failed.
            let results: Vec<PassOutcome> = match which {
                Loop::Stock => self
                    .stock(super::stock::PassMode::WhenDue)
                    .await
                    .into_iter()
                    .map(|(c, r)| (c, r.map(|o| o.map(|r| (r.line(), r.attention, r.failed > 0)))))
                    .collect(),
                Loop::Returns => self
                    .returns(super::stock::PassMode::WhenDue)
                    .await
                    .into_iter()
                    .map(|(c, r)| {
                        let failed =
                            |r: &super::returns::ReturnsReport| r.failed > 0 || r.listing_failed.is_some();
                        (c, r.map(|o| o.map(|r| (r.line(), r.attention, failed(&r)))))
                    })
                    .collect(),
            };
            let mut attention = None;
            for (channel, result) in results {
                let mut guard = self.summary();
                let summary = &mut *guard;
                let (lines, failed) = match which {
                    Loop::Stock => (&mut summary.stock, &mut summary.stock_failed),
                    Loop::Returns => (&mut summary.returns, &mut summary.returns_failed),
                };
                match result {
                    Ok(Some((line, needing, fails))) => {
                        // The last passes only: a watch runs for months.
                        if lines.len() >= 20 {
                            lines.remove(0);
                        }
                        lines.push(line);
                        *attention.get_or_insert(0) += needing;
                        *failed |= fails;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        *failed = true;
                        drop(guard);
                        self.fail(&pass_name(&channel), which.name(), &e);
                    }
                }
            }
            if let Some(n) = attention {
                let mut summary = self.summary();
                match which {
                    Loop::Stock => summary.stock_attention = n,
                    Loop::Returns => summary.returns_attention = n,
                }
            }
            if mode == Mode::UntilDone {
                return;
            }
            // Next when the soonest channel's pass is due (another runner's pass counts),
            // at most an interval.
            let now = self.clock.now();
            let mut wake = later(now, interval);
            for channel in &self.providers.channels {
                if let Ok(Some(p)) = self.journal.pass(&pass_name(channel.name())).await {
                    // Due, or, while another runner holds it, when its lease ends.
                    let mut due = p.due_for(interval).unwrap_or(now);
                    if let Some((_, until)) = p.held_at(now) {
                        due = due.max(*until);
                    }
                    wake = wake.min(due.max(later(now, Duration::from_secs(1))));
                }
            }
            let sleep = std::pin::pin!(tokio::time::sleep_until(self.clock.instant(wake)));
            let stop = std::pin::pin!(self.stop.wait());
            futures_util::future::select(sleep, stop).await;
        }
    }

    async fn drive_orders(&self, mode: Mode) -> Summary {
        let started = tokio::time::Instant::now();
        let channels: Vec<String> = self
            .providers
            .channels
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let run = Mutex::new(Run::default());
        // One journal serves one account per channel: another account's client is refused
        // before anything is read or sent.
        for channel in &self.providers.channels {
            if let Err(e) = self.bind_account(channel.as_ref()).await {
                self.stop_fatally(e.to_string());
            }
        }
        // Unfinished orders of earlier runs.
        match self.journal.all().await {
            Ok(records) => {
                let fresh = !records.iter().any(|r| channels.contains(&r.order.channel));
                self.fresh_journal
                    .store(fresh, std::sync::atomic::Ordering::SeqCst);
                let mut run = lock(&run);
                for r in records {
                    if r.is_open() && channels.contains(&r.order.channel) {
                        run.see(&r.key);
                        run.open.insert(r.key);
                    }
                }
            }
            Err(e) => self.fail("journal", "load", &e),
        }
        // When the channels are listed next (`None`: not again in this run).
        let mut list_at = Some(self.clock.now());
        let mut listing_failures = 0u32;
        let mut unlisted: Vec<String> = Vec::new();
        let mut journal_failures = 0u32;
        let max_attempts = self.options.max_attempts.max(1);
        // Pushed events: looked at first (those of an earlier run), whenever one arrives, at
        // each listing (other runners' events), and when some asked to be looked at again;
        // those a channel can only answer with a listing are marked handled once it succeeded.
        let mut look_at_events = true;
        let mut events_at: Option<DateTime<Utc>> = None;
        let mut after_listing: HashSet<String> = HashSet::new();
        // When the channels were last listed (successfully or not), and when the next
        // reconciliation is due.
        let mut tried_at: Option<DateTime<Utc>> = None;
        let mut reconcile_at =
            (mode == Mode::Watch && self.options.reconcile_interval.is_some()).then(|| self.clock.now());
        loop {
            if self.stopping() {
                break;
            }
            let events_due = events_at.is_some_and(|t| self.clock.now() >= t);
            if std::mem::take(&mut look_at_events) | self.events_arrived() | events_due {
                let asked = self.take_events(&run).await;
                events_at = asked.again_at;
                let before = after_listing.len();
                after_listing.extend(asked.after_listing);
                // A new one lists at once, unless the listing is failing: its back-off holds.
                if after_listing.len() > before && listing_failures == 0 {
                    list_at = Some(self.clock.now());
                }
            }
            // Pushed events may have stopped (or started) since the next listing was set.
            if let (Some(at), Some(before), 0) = (list_at, tried_at, listing_failures) {
                list_at = Some(at.min(later(before, self.listing_interval())));
            }
            let now = self.clock.now();
            if list_at.is_some_and(|t| now >= t) {
                unlisted = self.list(&run).await;
                self.purge().await;
                tried_at = Some(now);
                look_at_events = true;
                if unlisted.is_empty() {
                    listing_failures = 0;
                    self.note_health(|h| h.last_listed = Some(now));
                    for id in std::mem::take(&mut after_listing) {
                        self.handled(&id, now).await;
                    }
                    list_at = (mode == Mode::Watch).then(|| later(now, self.listing_interval()));
                } else {
                    // Listed again after a delay; a run gives up after `max_attempts`.
                    listing_failures += 1;
                    let delay = retry_delay(self.options.poll_interval, listing_failures);
                    list_at = (mode == Mode::Watch || listing_failures < max_attempts).then(|| now + delay);
                }
            }
            if reconcile_at.is_some_and(|t| now >= t) {
                reconcile_at = self.reconcile(&run).await;
            }
            let journal_ok = self.pass(&channels, &run).await;
            if self.stopping() {
                break;
            }
            journal_failures = if journal_ok { 0 } else { journal_failures + 1 };
            // A watching run says a journal it cannot claim from at once; a run until done
            // gives up after `max_attempts` (below), and its next run tries again.
            if mode == Mode::Watch && journal_failures >= JOURNAL_FAILURES_FATAL {
                self.stop_fatally(format!(
                    "the journal {} failed {journal_failures} times in a row (see the failures above): check it \
                     (free disk space, the database), then run again; the orders stay as it last had them",
                    self.journal.location()
                ));
                break;
            }
            self.forget_finished(&run).await;
            if mode == Mode::UntilDone
                && (journal_failures >= max_attempts
                    || (list_at.is_none() && lock(&run).unfinished(max_attempts).next().is_none()))
            {
                break;
            }
            // Sleep until the next order is due (orders held by other runners: until their
            // lease may end) or the next listing, at most a poll interval, at least a moment;
            // after a journal failure, at least a delay that doubles with each one.
            let now = self.clock.now();
            let mut wake = later(now, self.options.poll_interval);
            match self.journal.next_due(&channels).await {
                Ok(Some(due)) => wake = wake.min(due),
                Ok(None) => {}
                Err(e) => self.fail("journal", "schedule", &e),
            }
            for at in [list_at, reconcile_at, events_at].into_iter().flatten() {
                wake = wake.min(at);
            }
            let mut wake = wake.max(later(now, Duration::from_millis(10)));
            if journal_failures > 0 {
                wake = wake.max(later(now, retry_delay(Duration::from_secs(1), journal_failures)));
            }
            self.announce_wait(&run, wake);
            // A pushed event wakes the loop before its time.
            let sleep = std::pin::pin!(tokio::time::sleep_until(self.clock.instant(wake)));
            let stop = std::pin::pin!(self.stop.wait());
            let pushed = std::pin::pin!(self.wake.notify.notified());
            futures_util::future::select(sleep, futures_util::future::select(stop, pushed)).await;
            if self.stopping() {
                break;
            }
        }
        if mode == Mode::UntilDone {
            self.purge().await;
        }
        let run = run.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut summary = self.summary().clone();
        summary.orders_seen = run.seen_count;
        summary.pending = run.open.len();
        summary.unlisted = unlisted;
        summary.interrupted |= self.stopping();
        summary.fatal = self.stop.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // What needs a person in the whole journal, this run's or not.
        match self.journal.census().await {
            Ok((records, unreadable)) => {
                summary.needing_person =
                    records.iter().filter(|r| r.needs_person()).count() + unreadable.len();
                summary.unreadable = unreadable;
            }
            Err(e) => self.fail("journal", "read", &e),
        }
        summary.elapsed = started.elapsed();
        summary
    }

    /// How often a watching run lists the channels' open orders: `poll_interval`, or
    /// `event_poll_interval` (if longer) while their events are pushed.
    fn listing_interval(&self) -> Duration {
        if self.push_active() {
            self.options.event_poll_interval.max(self.options.poll_interval)
        } else {
            self.options.poll_interval
        }
    }

    /// New orders of every channel enter the journal (once, whichever runner sees them
    /// first); known open ones join the run. Returns the channels that could not be listed.
    async fn list(&self, run: &Mutex<Run>) -> Vec<String> {
        let mut failed = Vec::new();
        let mut listed = HashSet::new();
        let platforms = self.platforms();
        for channel in &self.providers.channels {
            if self.stopping() {
                break;
            }
            let mut orders = channel.open_orders();
            loop {
                // A stop cancels the listing (a read) at once.
                let next = {
                    let stop = std::pin::pin!(self.stop.wait());
                    match futures_util::future::select(orders.next(), stop).await {
                        futures_util::future::Either::Left((next, _)) => next,
                        futures_util::future::Either::Right(_) => break,
                    }
                };
                let Some(order) = next else { break };
                let order = match order {
                    Ok(order) => order,
                    Err(e) => {
                        self.fail(channel.name(), "open orders", &e);
                        self.stop_if_provider_refused(channel.name(), &e);
                        failed.push(channel.name().to_owned());
                        break;
                    }
                };
                listed.insert(self.take_order(order, run, &platforms).await);
            }
        }
        if failed.is_empty() {
            // Orders first seen from now on are new: no earlier journal can have had them.
            if !self.stopping() {
                self.fresh_journal
                    .store(false, std::sync::atomic::Ordering::SeqCst);
            }
            // What is neither listed nor open any more is forgotten (a watching run sees
            // orders for months).
            let mut run = lock(run);
            let Run { seen, open, .. } = &mut *run;
            seen.retain(|k| listed.contains(k) || open.contains(k));
        }
        failed
    }

    /// An order listed open on its channel enters the journal (once, whichever runner sees
    /// it first) and the run; a buyer's cancellation request on one seen before reopens it
    /// where it waits for a person. Returns its key.
    pub(super) async fn take_order(
        &self,
        order: commerce_core::Order,
        run: &Mutex<Run>,
        platforms: &[String],
    ) -> String {
        let mut record = OrderRecord::new(order);
        record.platforms = platforms.to_vec();
        record.look_up_first = self.fresh_journal.load(std::sync::atomic::Ordering::SeqCst);
        let key = record.key.clone();
        // A buyer's cancellation request is looked at even on an order seen before:
        // one waiting for a person before its hand-over is reopened to answer it.
        let requested: Vec<String> = record
            .order
            .lines
            .iter()
            .filter(|l| l.cancellation_requested)
            .map(|l| l.line_id.clone())
            .collect();
        if lock(run).seen.contains(&key) && requested.is_empty() {
            return key;
        }
        let open = match self.journal.add(&record).await {
            Ok(true) => {
                self.emit(Event::Seen {
                    key: key.clone(),
                    lines: record.order.lines.len(),
                });
                true
            }
            Ok(false) => match self.journal.load(&key).await {
                Ok(Some(known)) if !requested.is_empty() => {
                    // Its parts, if it was split, answer for their own lines.
                    for part in self.parts_to_reopen(&known, &requested).await {
                        lock(run).open.insert(part);
                    }
                    if reopens(&known, &requested) {
                        self.reopen(&key, &requested).await
                    } else {
                        known.is_open()
                    }
                }
                Ok(known) => known.is_some_and(|r| r.is_open()),
                Err(e) => {
                    self.fail(&key, "journal", &e);
                    false
                }
            },
            Err(e) => {
                self.fail(&key, "journal", &e);
                false
            }
        };
        if open {
            let mut run = lock(run);
            run.see(&key);
            run.open.insert(key.clone());
        }
        key
    }

    /// `concurrency` workers claim due orders until none is left; false when the journal
    /// failed a claim.
    async fn pass(&self, channels: &[String], run: &Mutex<Run>) -> bool {
        let workers = self.options.concurrency.max(1);
        let journal_ok = std::sync::atomic::AtomicBool::new(true);
        let journal_ok = &journal_ok;
        // Orders due when the pass began: one given back due again a moment later (a split
        // order polling its parts) waits for the next pass, so a pass always ends (with many
        // such orders and a short poll interval, one pass used to go on for ever).
        let now = self.clock.now();
        futures_util::stream::iter(0..workers)
            .for_each_concurrent(None, |_| async move {
                while !self.stopping() {
                    match self
                        .journal
                        .claim(&self.options.runner, channels, now, self.lease_until()).await
                    {
                        Ok(Some(record)) => self.visit(record, run).await,
                        Ok(None) => break,
                        Err(e) => {
                            self.fail("journal", "claim", &e);
                            if matches!(e, JournalError::Unwritable(_)) {
                                self.stop_fatally(format!(
                                    "the journal {} cannot be written ({e}): free disk space or make it writable, \
                                     then run again; the orders stay as it last had them",
                                    self.journal.location()
                                ));
                            }
                            journal_ok.store(false, std::sync::atomic::Ordering::SeqCst);
                            break;
                        }
                    }
                }
            })
            .await;
        journal_ok.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A record ended (completed or cancelled): whether it is an order, to be counted. A
    /// part of a split order is not: the order counts when it ends, and the run waits for
    /// it again.
    fn order_ended(&self, r: &OrderRecord, run: &Mutex<Run>) -> bool {
        match &r.part_of {
            None => true,
            Some(order) => {
                lock(run).open.insert(order.clone());
                false
            }
        }
    }

    /// Reopens an order waiting for a person because its buyer asks to cancel: the flow
    /// answers the request at its next visit (before the hand-over, accepting is safe).
    async fn reopen(&self, key: &str, requested: &[String]) -> bool {
        let note = format!(
            "the buyer asks to cancel line(s) {}: reopened to answer the request",
            requested.join(", ")
        );
        let reopened = self
            .journal
            .amend(key, &self.options.runner, self.clock.now(), &mut |r| {
                if !reopens(r, requested) {
                    return Err("no longer waiting for a person before its hand-over".to_owned());
                }
                r.attention = None;
                r.due = None;
                Ok(note.clone())
            })
            .await;
        match reopened {
            Ok(r) => r.is_open(),
            // Changed meanwhile, or another runner holds it now: it answers.
            Err(JournalError::Refused(_) | JournalError::Busy { .. }) => false,
            Err(e) => {
                self.fail(key, "journal", &e);
                false
            }
        }
    }

    /// The parts of a split order whose buyer asks to cancel their lines and which wait
    /// for a person before their hand-over: reopened, like a whole order (`reopen`).
    async fn parts_to_reopen(&self, known: &OrderRecord, requested: &[String]) -> Vec<String> {
        let mut reopened = Vec::new();
        for plan in known.split.iter().filter(|_| known.split.parts_added()) {
            let mine: Vec<String> = requested
                .iter()
                .filter(|l| plan.lines.contains(l))
                .cloned()
                .collect();
            let waits = !mine.is_empty()
                && self
                    .journal
                    .load(&plan.key)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|part| reopens(&part, &mine));
            if waits && self.reopen(&plan.key, &mine).await {
                reopened.push(plan.key.clone());
            }
        }
        reopened
    }

    /// Takes one claimed order as far as it goes, and gives it back.
    async fn visit(&self, record: OrderRecord, run: &Mutex<Run>) {
        let key = record.key.clone();
        {
            let mut run = lock(run);
            run.waiting.remove(&key);
            // A part of a split order is not counted as an order seen.
            if record.part_of.is_some() || run.see(&key) {
                run.open.insert(key.clone());
            }
        }
        let mut held = Held::new(self, record);
        let acting = held.acting();
        // The lease is renewed while the order is worked on, so it only ends when this
        // runner is gone (or stuck past it): then another runner takes the order over, and
        // this one stops at once (its call, if one is under way, is settled by the other).
        // A stop cancels the work at once unless a request that may act is under way, which
        // finishes first.
        let mut cut_short = false;
        let halt = {
            use futures_util::future::{Either, select};
            let work = std::pin::pin!(held.advance(&super::order::LOOP));
            let beat = std::pin::pin!(self.heartbeat(&key));
            let stop = std::pin::pin!(self.stop_between_calls(acting));
            match select(work, select(beat, stop)).await {
                Either::Left((halt, _)) => halt,
                Either::Right((Either::Left((lost, _)), _)) => Err(Halt::Journal(lost)),
                Either::Right((Either::Right(((), _)), _)) => {
                    cut_short = true;
                    Err(Halt::Stopped)
                }
            }
        };
        // Work cut short in the middle: the record as last written is given back.
        let mut r = match cut_short {
            true => match self.journal.load(&key).await {
                Ok(Some(saved)) => saved,
                _ => held.r,
            },
            false => held.r,
        };
        // A provider refusing its credentials or settings stops the run: the order is given
        // back as it stands, not counted as failing.
        let halt = match halt {
            Err(Halt::Failed(step, e)) => match self.provider_refused(&r, &step, &e) {
                Some(reason) => {
                    self.fail(&key, &step, &e);
                    self.stop_fatally(reason);
                    Err(Halt::Stopped)
                }
                None => Err(Halt::Failed(step, e)),
            },
            other => other,
        };
        let now = self.clock.now();
        let runner = &self.options.runner;
        // A pace is no step of its own: the failures in a row go on counting across it.
        if !matches!(halt, Err(Halt::Failed(..) | Halt::Paced(..))) {
            lock(run).tries.remove(&key);
        }
        let given_back = match halt {
            Ok(()) => {
                r.completed_at = Some(now);
                r.due = None;
                let done = self.give_back(&key, &r, "completed").await;
                if done.is_ok() {
                    if self.order_ended(&r, run) {
                        self.summary().completed += 1;
                    }
                    self.emit(Event::Completed { key: key.clone() });
                    lock(run).open.remove(&key);
                }
                done
            }
            Err(Halt::Wait(due)) => {
                r.due = Some(due);
                let wait = if !r.split.is_empty() {
                    Wait::Parts
                } else if r.shipped_untracked_since.is_some() {
                    Wait::Untracked
                } else {
                    Wait::Shipment
                };
                {
                    let mut run = lock(run);
                    run.waiting.insert(key.clone(), (due, wait));
                    // A split order waiting for its parts does not keep the run going: its
                    // parts do while they are under way, and bring it back when one ends.
                    if !r.split.is_empty() {
                        run.open.remove(&key);
                    }
                }
                self.give_back(&key, &r, "").await
            }
            Err(Halt::Paced(due, provider)) => {
                r.due = Some(due);
                let done = self.give_back(&key, &r, "").await;
                if done.is_ok() {
                    self.count_paced(&provider, due);
                    lock(run).waiting.insert(key.clone(), (due, Wait::Pace));
                }
                done
            }
            Err(Halt::Stopped) => {
                r.due = None;
                self.summary().interrupted = true;
                self.journal
                    .release(runner, &r, "interrupted: given back as it stands")
                    .await
            }
            Err(Halt::Failed(step, e)) => {
                r.failures = r.failures.saturating_add(1);
                r.last_error = Some(format!("{step}: {e}"));
                let due = later(now, retry_delay(self.options.poll_interval, r.failures));
                r.due = Some(due);
                self.fail(&key, &step, &e);
                {
                    let mut run = lock(run);
                    *run.tries.entry(key.clone()).or_default() += 1;
                    run.waiting.insert(key.clone(), (due, Wait::Retry));
                }
                self.give_back(&key, &r, &format!("{step} failed: {e}")).await
            }
            Err(Halt::Attention(reason)) => {
                r.due = None;
                let done = self
                    .journal
                    .release(runner, &r, &format!("needs a person: {reason}"))
                    .await;
                if done.is_ok() {
                    self.summary().attention.push((key.clone(), reason.clone()));
                    self.emit(Event::Attention {
                        key: key.clone(),
                        reason,
                    });
                    lock(run).open.remove(&key);
                }
                done
            }
            Err(Halt::Cancelled(reason)) => {
                r.due = None;
                let done = self.give_back(&key, &r, &format!("cancelled: {reason}")).await;
                if done.is_ok() {
                    if self.order_ended(&r, run) {
                        self.summary().cancelled += 1;
                    }
                    self.emit(Event::Cancelled {
                        key: key.clone(),
                        reason,
                    });
                    lock(run).open.remove(&key);
                }
                done
            }
            Err(Halt::Split(parts)) => {
                // It waits for its parts, which go on as orders of their own (not counted
                // as orders seen).
                let due = later(now, self.options.poll_interval);
                r.due = Some(due);
                let done = self.give_back(&key, &r, "").await;
                if done.is_ok() {
                    self.summary().split += 1;
                    let mut run = lock(run);
                    run.waiting.insert(key.clone(), (due, Wait::Parts));
                    for part in &parts {
                        run.open.insert(part.clone());
                    }
                    drop(run);
                    self.emit(Event::Split {
                        key: key.clone(),
                        parts,
                    });
                }
                done
            }
            Err(Halt::Journal(e)) => Err(e),
        };
        // A journal that still cannot be written stops the run (a full disk is not waited on).
        let given_back = match given_back {
            Err(failed @ (JournalError::Storage(_) | JournalError::Unwritable(_))) => {
                self.fail(&key, "journal", &failed);
                self.stop_fatally(format!(
                    "the journal {} cannot be written ({failed}): free disk space or repair the database, then \
                     run again; the orders stay as it last had them",
                    self.journal.location()
                ));
                Ok(())
            }
            other => other,
        };
        match given_back {
            Ok(()) => {}
            // Another runner took the order over (this one was stuck past its lease): it
            // settles what was under way; this run leaves the order to it.
            Err(JournalError::LeaseLost { .. }) => {
                tracing::warn!(key, "lease lost to another runner: leaving the order to it");
                lock(run).waiting.remove(&key);
            }
            Err(e) => self.fail(&key, "journal", &e),
        }
    }

    /// Why the run must stop when `e`, at `step` of `r`, says a provider refuses its
    /// credentials or settings (nothing at that provider can pass until an operator changes
    /// them): the provider, the error and the variables to check.
    fn provider_refused(&self, r: &OrderRecord, step: &str, e: &commerce_core::Error) -> Option<String> {
        // A 404 reading one order at its warehouse may be that order gone (a shop that
        // deleted it), not a wrong base URL: that order fails, the run goes on.
        if !stops_provider(e) || (step == "shipment" && e.status() == Some(404)) {
            return None;
        }
        let provider = match step {
            "submit" | "shipment" => r.fulfilment.clone(),
            "confirm" | "changes" => Some(r.order.channel.clone()),
            _ => step
                .strip_prefix("invite ")
                .map(|s| s.split('/').next().unwrap_or(s).to_owned()),
        }
        .or_else(|| provider_in(e))
        .unwrap_or_else(|| step.to_owned());
        Some(refused(&provider, e))
    }

    /// Stops the run when a channel's listing failed because it refuses its credentials or
    /// settings.
    fn stop_if_provider_refused(&self, provider: &str, e: &commerce_core::Error) {
        if stops_provider(e) {
            self.stop_fatally(refused(provider, e));
        }
    }

    /// Gives a held record back (its lease with it), tried again at once on a storage
    /// failure that may pass, as a save is.
    async fn give_back(&self, key: &str, r: &OrderRecord, note: &str) -> Result<(), JournalError> {
        self.write_again(key, || self.journal.release(&self.options.runner, r, note))
            .await
    }

    /// A journal write, tried again at once (up to three times, on a new connection) when
    /// the storage fails in a way that may pass (a database connection dropped by a restart
    /// or a fail-over): the write is the same each time, and one lost just after a provider
    /// acted would leave an outcome only a person can settle. A journal that cannot be
    /// written ([`JournalError::Unwritable`]) is not tried again.
    pub(crate) async fn write_again<T, W>(
        &self,
        key: &str,
        mut write: impl FnMut() -> W,
    ) -> Result<T, JournalError>
    where
        W: std::future::Future<Output = Result<T, JournalError>>,
    {
        let mut tries = 0;
        loop {
            match write().await {
                Err(e) if e.is_retryable() && tries < 3 => {
                    tries += 1;
                    tracing::warn!(key, error = %e, tries, "journal write failed: writing again");
                }
                written => return written,
            }
        }
    }

    /// Returns once a stop is asked for and no request that may act is under way.
    async fn stop_between_calls(&self, mut acting: tokio::sync::watch::Receiver<bool>) {
        self.stop.wait().await;
        let _ = acting.wait_for(|a| !*a).await;
    }

    /// Renews the lease on `key` every third of its length; returns only when it is lost.
    async fn heartbeat(&self, key: &str) -> JournalError {
        let every = (self.options.lease / 3).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            match self
                .journal
                .renew(key, &self.options.runner, self.lease_until())
                .await
            {
                Ok(()) => {}
                Err(lost @ JournalError::LeaseLost { .. }) => return lost,
                // The journal is busy or failing: the lease still runs; try again.
                Err(e) => tracing::warn!(key, error = %e, "could not renew a lease"),
            }
        }
    }

    /// Orders of the run finished elsewhere (by another runner, or an operator) leave it.
    /// Only the orders whose state this run cannot know are read: those it has not given
    /// back to wait, or whose wait is over (another runner may have taken them since).
    async fn forget_finished(&self, run: &Mutex<Run>) {
        let now = self.clock.now();
        let keys: Vec<String> = {
            let run = lock(run);
            run.open
                .iter()
                .filter(|k| run.waiting.get(*k).is_none_or(|(due, _)| *due <= now))
                .cloned()
                .collect()
        };
        for key in keys {
            if let Ok(r) = self.journal.load(&key).await
                && r.is_none_or(|r| !r.is_open())
            {
                let mut run = lock(run);
                run.open.remove(&key);
                run.waiting.remove(&key);
            }
        }
    }

    /// Says what the run waits for, when that changed since it last said so: each kind of
    /// wait with its bound.
    fn announce_wait(&self, run: &Mutex<Run>, next_check: DateTime<Utc>) {
        let mut run = lock(run);
        let count = |kind: Wait| run.waiting.values().filter(|(_, w)| *w == kind).count();
        let (shipment, untracked, parts, retry, paced) = (
            count(Wait::Shipment),
            count(Wait::Untracked),
            count(Wait::Parts),
            count(Wait::Retry),
            count(Wait::Pace),
        );
        let elsewhere = run.open.iter().filter(|k| !run.waiting.contains_key(*k)).count();
        let picture = [shipment, untracked, parts, retry, elsewhere];
        if picture.iter().sum::<usize>() + paced > 0 && run.announced != Some(picture) {
            run.announced = Some(picture);
            self.emit(Event::Waiting {
                shipment,
                untracked,
                parts,
                retry,
                paced,
                elsewhere,
                poll_interval: self.options.poll_interval,
                untracked_after: self.options.untracked_after,
                next_check,
            });
        }
    }

    /// Personal data of orders completed long enough ago leaves the journal.
    async fn purge(&self) {
        let keep =
            chrono::Duration::from_std(self.options.retain_personal_data).unwrap_or(chrono::Duration::MAX);
        if let Some(before) = Utc::now().checked_sub_signed(keep) {
            match self.journal.purge_personal(before).await {
                Ok(n) => self.summary().purged += n,
                Err(e) => self.fail("journal", "purge", &e),
            }
            // Pushed events acted on are kept as long, for a person to read.
            if let Err(e) = self.journal.purge_events(before).await {
                self.fail("journal", "purge", &e);
            }
        }
    }
}

/// Whether an error says its provider cannot work until an operator changes its
/// credentials or settings.
fn stops_provider(e: &commerce_core::Error) -> bool {
    e.stops_provider()
}

/// The provider an error names, where it names one.
fn provider_in(e: &commerce_core::Error) -> Option<String> {
    use commerce_core::Error as E;
    match e {
        E::Transport { provider, .. }
        | E::Timeout { provider, .. }
        | E::Unconfirmed { provider, .. }
        | E::RateLimited { provider, .. }
        | E::TooLarge { provider, .. }
        | E::Unsupported { provider, .. } => Some(provider.to_string()),
        E::Auth(a) => Some(a.provider.to_string()),
        E::Misconfigured { provider, .. } => Some(provider.to_string()),
        E::Provider(p) => Some(p.provider.to_string()),
        E::Decode(d) => Some(d.provider.to_string()),
        _ => None,
    }
}

/// What to say when `provider` refuses its credentials or settings.
fn refused(provider: &str, e: &commerce_core::Error) -> String {
    let variables = crate::setup::variables_of(provider);
    format!(
        "{provider} cannot be used until its settings are corrected ({e}){}",
        if variables.is_empty() {
            String::new()
        } else {
            format!(": check {}", variables.join(", "))
        }
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a known order waits for a person before its hand-over while its buyer asks to
/// cancel lines the flow has not answered: it is reopened so the flow answers.
fn reopens(r: &OrderRecord, requested: &[String]) -> bool {
    r.attention.is_some()
        && r.cancelled.is_none()
        && r.completed_at.is_none()
        && r.submission == crate::journal::Step::NotStarted
        && requested.iter().any(|l| {
            r.order.lines.iter().any(|o| &o.line_id == l)
                && !r.dropped_lines.contains_key(l)
                && !r.kept_lines.contains_key(l)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_waits_longer_each_time_up_to_an_hour() {
        let live = Duration::from_secs(300);
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(live, n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(
            retry_delay(Duration::from_millis(200), 1),
            Duration::from_millis(200)
        );
        assert_eq!(retry_delay(live, u32::MAX), Duration::from_secs(3600));
    }
}
