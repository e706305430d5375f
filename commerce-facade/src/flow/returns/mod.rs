//! The returns loop: a buyer's return on the sales channel, through the warehouse that
//! shipped it, back to the channel.
//!
//! A pass, per channel that lists returns (bol: the unhandled returns of orders the shop
//! ships itself), adds each return item it has not seen to the journal, then takes every
//! open item as far as it goes now:
//!
//! | step | call | journaled | unknown outcome |
//! |---|---|---|---|
//! | match | the journal only: the order, the line of the EAN, the split part and the warehouse that shipped it | `matched` | - (reads) |
//! | announce | the channel's return re-read (handled meanwhile: done, nothing sent), then [`Fulfilment::announce_return`] | `announcement`: `Started` before the call, `Done` after | looked up ([`Fulfilment::find_announcement`]) once a lease has passed; a warehouse without a look-up: a person |
//! | receipt | [`Fulfilment::return_arrival`], every `poll` (bounded by the deadline or `wait`) | `arrival`, `checks` | - (reads) |
//! | check | none: the goods against what the buyer sends back | a person's choices when they differ | - |
//! | handle | [`SalesChannel::handle_return`]: it reads first and sends nothing for an item handled already | `handling`: `Started` before, `Done` after | the same call again once a lease has passed (it reads first) |
//!
//! Never handled before the goods are in (only a person's choice that needs no goods is):
//! the result `RETURN_RECEIVED` is sent with the quantity the warehouse received, and only
//! when it is what the buyer sends back in a state nobody objected to; anything else goes
//! to a person with the channel's choices (`commerce resolve`). Never announced twice: an
//! announcement whose answer was lost is looked up, or left to a person.
//!
//! The pass is leased ([`Journal::claim_pass`](crate::Journal::claim_pass)): several
//! runners on one journal run one pass at a time, and only the runner holding it writes
//! return records; a person's decision ([`Journal::amend_return`](crate::Journal::amend_return))
//! is refused while it is held.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{
    Announcement, Arrival, ChannelReturn, ChannelReturnItem, Error, Fulfilment, HandlingResult,
    ReturnHandling, ReturnNotice, SalesChannel,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::stock::{Claimed, PassMode, failed_pass_delay};
use super::{Flow, later};
use crate::journal::{JournalError, ReturnMatch, ReturnRecord, Step, return_key, returns_pass};

/// The variables [`ReturnsOptions::from_vars`] reads.
pub const RETURNS_VARS: [&str; 4] = [
    "COMMERCE_RETURN_DAYS",
    "COMMERCE_RETURN_POLL",
    "COMMERCE_RETURN_WAIT",
    "COMMERCE_RETURN_MARGIN",
];

/// How the returns loop runs ([`FlowOptions::returns`](super::FlowOptions::returns)).
#[derive(Debug, Clone)]
pub struct ReturnsOptions {
    /// How often a pass runs in [`Flow::run`] and [`Flow::watch`]; `None` (the library's
    /// default): the loop is off there (a pass by hand, [`Flow::returns`], still runs).
    pub interval: Option<Duration>,
    /// How often the warehouse is asked whether announced goods arrived (6 h).
    pub poll: Duration,
    /// How long after the announcement goods may take before a person looks (21 days).
    pub wait: Duration,
    /// How long before the deadline a return still waiting goes to a person (2 days).
    pub margin: Duration,
    /// The channel's handling deadline, in days after the buyer registered the return
    /// (`COMMERCE_RETURN_DAYS`); `None`: not configured (bol's description gives none),
    /// returns are then ordered by registration.
    pub days: Option<u32>,
}

impl Default for ReturnsOptions {
    fn default() -> Self {
        ReturnsOptions {
            interval: None,
            poll: Duration::from_secs(6 * 3600),
            wait: Duration::from_secs(21 * 86_400),
            margin: Duration::from_secs(2 * 86_400),
            days: None,
        }
    }
}

impl ReturnsOptions {
    /// The defaults, with what the environment gives (looked up by `vars`):
    /// `COMMERCE_RETURN_DAYS` (1–365), `COMMERCE_RETURN_POLL` (1m–1d),
    /// `COMMERCE_RETURN_WAIT` (1d–90d), `COMMERCE_RETURN_MARGIN` (0s–30d), durations as
    /// `30m`, `6h`, `21d`. Anything else is an error naming the variable.
    pub fn from_vars(vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut o = ReturnsOptions::default();
        let get = |name: &str| vars(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let duration = |name: &str, text: &str, least: u64, most: u64| -> Result<Duration, Error> {
            crate::setup::parse_duration(text)
                .filter(|d| (least..=most).contains(&d.as_secs()))
                .ok_or_else(|| {
                    Error::config(format!(
                        "{name}: `{text}` is not a duration from {} to {} (`6h`, `21d`)",
                        super::human(Duration::from_secs(least)),
                        super::human(Duration::from_secs(most))
                    ))
                })
        };
        if let Some(v) = get(RETURNS_VARS[0]) {
            o.days = Some(
                v.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=365).contains(d))
                    .ok_or_else(|| {
                        Error::config(format!(
                            "{}: `{v}` is not a number of days from 1 to 365",
                            RETURNS_VARS[0]
                        ))
                    })?,
            );
        }
        if let Some(v) = get(RETURNS_VARS[1]) {
            o.poll = duration(RETURNS_VARS[1], &v, 60, 86_400)?;
        }
        if let Some(v) = get(RETURNS_VARS[2]) {
            o.wait = duration(RETURNS_VARS[2], &v, 86_400, 90 * 86_400)?;
        }
        if let Some(v) = get(RETURNS_VARS[3]) {
            o.margin = duration(RETURNS_VARS[3], &v, 0, 30 * 86_400)?;
        }
        Ok(o)
    }
}

/// What a returns pass did on one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReturnsReport {
    /// The channel.
    pub channel: String,
    /// Nothing was sent or written.
    pub dry_run: bool,
    /// Return items the channel listed as unhandled.
    pub listed: usize,
    /// Of those, new to the journal.
    pub new: usize,
    /// Announced at their warehouse in this pass.
    pub announced: usize,
    /// Found received at their warehouse in this pass.
    pub received: usize,
    /// Handled on the channel in this pass (or found handled there).
    pub handled: usize,
    /// Waiting for their goods.
    pub waiting: usize,
    /// Waiting for a person (in the whole journal, after the pass).
    pub attention: usize,
    /// Steps that failed in this pass (tried again at the next).
    pub failed: usize,
    /// Why the listing failed, if it did (the journal's returns were still worked on).
    pub listing_failed: Option<String>,
    /// Each item looked at: its key and what the pass did or, dry, would do.
    pub rows: Vec<(String, String)>,
    /// The pass stopped before it ended (a stop asked for, the lease lost).
    pub cut_short: Option<String>,
}

impl ReturnsReport {
    /// The report's one line, for the pass's history and a run's summary.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: {} unhandled on the channel ({} new): {} announced, {} received, {} handled, {} waiting for goods, {} need a person",
            self.channel,
            self.listed,
            self.new,
            self.announced,
            self.received,
            self.handled,
            self.waiting,
            self.attention
        );
        if self.dry_run {
            s.push_str(" (dry run: nothing sent)");
        }
        if self.failed > 0 {
            s.push_str(&format!(", {} failed", self.failed));
        }
        if let Some(why) = &self.listing_failed {
            s.push_str(&format!("; listing failed: {why}"));
        }
        if let Some(why) = &self.cut_short {
            s.push_str(&format!("; cut short: {why}"));
        }
        s
    }
}

/// The report for people: its line, then one line per item looked at.
impl std::fmt::Display for ReturnsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.line())?;
        for (key, what) in &self.rows {
            write!(f, "\n  {key:<24} {what}")?;
        }
        Ok(())
    }
}

/// Failures in a row of one return's step after which a person is told (the delays
/// between them double from a minute).
const FAILURES_FOR_A_PERSON: u32 = 7;

/// How one item's visit ended.
enum Visit {
    /// It went as far as it goes now (waiting, done, or for a person).
    Rest,
    /// A step failed; tried again at the next pass.
    Failed(String, Error),
}

/// Why a visit cannot go on: the lease or the journal is gone.
type Lost = JournalError;

impl Flow {
    /// Runs one returns pass on every channel that lists returns: one report per channel
    /// (`Ok(None)` for a channel whose pass another runner holds, or, with
    /// [`PassMode::WhenDue`], that is not due).
    pub async fn returns(&self, mode: PassMode) -> Vec<(String, Result<Option<ReturnsReport>, Error>)> {
        let mut out = Vec::new();
        for channel in self.providers.channels.clone() {
            let name = channel.name().to_owned();
            let result = self.returns_pass(channel.as_ref(), mode).await;
            match &result {
                Err(Error::Unsupported { .. }) => continue,
                Ok(Some(report)) if !report.dry_run => self.emit(super::Event::Returns {
                    channel: name.clone(),
                    summary: report.line(),
                }),
                _ => {}
            }
            out.push((name, result));
        }
        out
    }

    async fn returns_pass(
        &self,
        channel: &dyn SalesChannel,
        mode: PassMode,
    ) -> Result<Option<ReturnsReport>, Error> {
        let pass = returns_pass(channel.name());
        let interval = self.options.returns.interval.unwrap_or(Duration::from_secs(3600));
        let Some(Claimed {
            started,
            until,
            state,
        }) = self.claim_leased_pass(channel, &pass, mode, interval).await?
        else {
            return Ok(None);
        };
        use futures_util::future::{Either, select};
        // A stop asked for ends the pass between two calls (the work checks it), never
        // during one that may act; a lease lost ends it where it stands (the runner that
        // takes the pass over settles what was under way, as after a crash).
        // The work is dropped with this block, before `end_pass`: a journal call of the work
        // left pending (queued for the journal's connection) would hold it otherwise.
        let result = {
            let work = std::pin::pin!(self.returns_work(channel, mode, &pass));
            if mode == PassMode::DryRun {
                work.await
            } else {
                let beat = std::pin::pin!(self.pass_heartbeat(&pass, until));
                match select(work, beat).await {
                    Either::Left((r, _)) => r,
                    Either::Right((e, _)) => Err(e.into()),
                }
            }
        };
        if mode == PassMode::DryRun {
            return result.map(Some);
        }
        let now = self.clock.now();
        let (next_due, summary) = match &result {
            Ok(report) if report.cut_short.is_none() && report.listing_failed.is_none() => {
                (later(started, interval), report.line())
            }
            Err(Error::Unsupported { reason, .. }) => {
                (later(started, interval), format!("nothing to do: {reason}"))
            }
            Ok(report) if report.cut_short.is_some() => (now, report.line()),
            // A pass that failed (or could not list) backs off as a stock pass does.
            failed => {
                let (n, delay) = failed_pass_delay(interval, state.as_ref());
                let why = match failed {
                    Ok(report) => report.line(),
                    Err(e) => e.to_string(),
                };
                (later(now, delay), format!("failed ({n} in a row): {why}"))
            }
        };
        self.end_leased_pass(&pass, now, next_due, &summary).await?;
        result.map(Some)
    }

    async fn returns_work(
        &self,
        channel: &dyn SalesChannel,
        mode: PassMode,
        pass: &str,
    ) -> Result<ReturnsReport, Error> {
        let name = channel.name().to_owned();
        let dry = mode == PassMode::DryRun;
        let mut report = ReturnsReport {
            channel: name.clone(),
            dry_run: dry,
            ..Default::default()
        };
        // 1. The channel's unhandled returns; new items enter the journal.
        let mut listed = Vec::new();
        let mut stream = channel.open_returns();
        let mut complete = true;
        while let Some(next) = stream.next().await {
            match next {
                Ok(r) => listed.push(r),
                Err(e @ Error::Unsupported { .. }) => return Err(e),
                Err(e) => {
                    report.listing_failed = Some(e.to_string());
                    self.fail(&returns_pass(&name), "list returns", &e);
                    complete = false;
                    break;
                }
            }
        }
        drop(stream);
        let mut known: BTreeMap<String, ReturnRecord> = self
            .journal
            .returns()
            .await?
            .into_iter()
            .filter(|r| r.channel == name)
            .map(|r| (r.key.clone(), r))
            .collect();
        let now = self.clock.now();
        let mut on_channel = BTreeSet::new();
        let mut added = Vec::new();
        for ret in listed.iter().filter(|r| !r.fulfilled_by_channel) {
            for item in &ret.items {
                let key = return_key(&name, &item.rma_id);
                on_channel.insert(key.clone());
                report.listed += 1;
                if item.rma_id.trim().is_empty() {
                    // Nothing to key it by, nothing to handle it by: said, never dropped
                    // silently.
                    report.failed += 1;
                    let e = Error::invalid(
                        "rmaId",
                        format!(
                            "an item of return {} (order {}, EAN {}) has no RMA id: handle it on the channel's site",
                            ret.return_id, item.order_id, item.ean
                        ),
                    );
                    self.fail(&returns_pass(&name), "list returns", &e);
                    continue;
                }
                if known.contains_key(&key) {
                    continue;
                }
                // Not among the records that read: one that does not read (edited by hand,
                // written by a newer release) is never replaced by a new one (that would
                // announce it again).
                match self.journal.load_return(&key).await {
                    Ok(None) => {}
                    Ok(Some(_)) | Err(JournalError::Unreadable(_)) => {
                        report.failed += 1;
                        let e = Error::invalid(
                            "journal",
                            format!(
                                "the record of {key} does not read: left as it is (see `commerce attention`)"
                            ),
                        );
                        self.fail(&key, "list returns", &e);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
                let record = self.new_return(&name, ret, item, now);
                let note = seen_note(&record);
                report.new += 1;
                known.insert(key, record.clone());
                added.push((record, Some(note)));
            }
        }
        if !dry && !added.is_empty() {
            self.save_returns(pass, &added).await?;
        }
        // 2. Every open item, the nearest deadline first.
        let mut open: Vec<ReturnRecord> = known.into_values().filter(ReturnRecord::is_open).collect();
        open.sort_by_key(|r| (r.deadline.or(r.registered_at), r.key.clone()));
        for mut r in open {
            if self.stopping() {
                report.cut_short = Some(super::stock::STOPPED.into());
                break;
            }
            let listed_now = !complete || on_channel.contains(&r.key);
            let before = r.clone();
            let visit = if dry {
                let what = self.dry_visit(&r).await?;
                report.rows.push((r.key.clone(), what));
                continue;
            } else {
                self.visit_return(channel, pass, &mut r, listed_now, mode).await
            };
            match visit {
                Ok(Visit::Rest) => {}
                Ok(Visit::Failed(step, e)) => {
                    report.failed += 1;
                    self.fail(&r.key, &step, &e);
                }
                Err(e) => return Err(e.into()),
            }
            if r.received() && !before.received() {
                report.received += 1;
            }
            if r.announcement.is_done() && !before.announcement.is_done() {
                report.announced += 1;
            }
            if r.completed_at.is_some() && before.completed_at.is_none() {
                report.handled += 1;
            }
            report.rows.push((r.key.clone(), r.stage().name().to_owned()));
        }
        let all = self.journal.returns().await?;
        report.attention = all
            .iter()
            .filter(|r| r.channel == name && r.needs_person())
            .count();
        report.waiting = all
            .iter()
            .filter(|r| r.channel == name && r.stage() == crate::journal::ReturnStage::Receipt)
            .count();
        Ok(report)
    }

    fn new_return(
        &self,
        channel: &str,
        ret: &ChannelReturn,
        item: &ChannelReturnItem,
        now: DateTime<Utc>,
    ) -> ReturnRecord {
        let registered_at = ret.registered_at;
        let deadline = self
            .options
            .returns
            .days
            .and_then(|d| registered_at.map(|at| at + chrono::Duration::days(i64::from(d))));
        ReturnRecord {
            key: return_key(channel, &item.rma_id),
            channel: channel.to_owned(),
            return_id: ret.return_id.clone(),
            rma_id: item.rma_id.clone(),
            order_id: item.order_id.clone(),
            ean: item.ean.clone(),
            title: item.title.clone(),
            expected: item.expected,
            reason: item.reason.clone(),
            registered_at,
            seen_at: Some(now),
            track_and_trace: item.track_and_trace.clone(),
            transporter: item.transporter.clone(),
            deadline,
            ..Default::default()
        }
    }

    /// What a pass would do next with `r` (a dry run: the journal is read, nothing is
    /// sent or written).
    async fn dry_visit(&self, r: &ReturnRecord) -> Result<String, Lost> {
        if let Some(why) = &r.attention {
            return Ok(format!("waits for a person: {why}"));
        }
        let m = match &r.matched {
            Some(m) => m.clone(),
            None => match self.match_return(r).await? {
                Ok(m) => m,
                Err(why) => return Ok(format!("would go to a person: {why}")),
            },
        };
        Ok(match (&r.announcement, &r.decision, r.received_quantity()) {
            (Step::NotStarted, None, _) => format!(
                "would announce {}× {} at {} (its order {})",
                r.expected, r.ean, m.provider, m.reference
            ),
            (Step::Started, None, _) => format!(
                "would look up the announcement at {} (its answer was lost)",
                m.provider
            ),
            (_, Some(d), _) => format!(
                "would handle it as {} ×{} (a person's choice)",
                d.result, d.quantity
            ),
            (_, None, Some(q)) if q == r.expected => {
                format!("would handle it as RETURN_RECEIVED ×{q}")
            }
            (_, None, Some(q)) => format!("would go to a person: received {q} of {}", r.expected),
            (_, None, None) => format!("would ask {} whether the goods arrived", m.provider),
        })
    }

    /// Takes one held item as far as it goes now. `Err`: the pass's lease or the journal is
    /// gone (nothing more may be written).
    async fn visit_return(
        &self,
        channel: &dyn SalesChannel,
        pass: &str,
        r: &mut ReturnRecord,
        listed: bool,
        mode: PassMode,
    ) -> Result<Visit, Lost> {
        let now = self.clock.now();
        // A pass asked for now (`commerce returns`) looks at every item now; a pass when
        // due keeps each item's own time (its next warehouse check, its back-off). Due
        // within a minute counts as due: a pass an interval after the last one would
        // otherwise skip a check due a moment after it.
        let waits = |due: Option<DateTime<Utc>>| {
            mode == PassMode::WhenDue && due.is_some_and(|due| due > later(now, Duration::from_secs(60)))
        };
        if r.attention.is_some() {
            return Ok(Visit::Rest);
        }
        if waits(r.due) && listed {
            return Ok(Visit::Rest);
        }
        let save = |r: &ReturnRecord, note: String| {
            let r = r.clone();
            async move { self.save_return(pass, &r, Some(note)).await }
        };
        // An item the channel no longer lists may be handled on its site: re-read.
        if !listed && let Some(visit) = self.handled_meanwhile(channel, pass, r).await? {
            return Ok(visit);
        }
        // Match.
        if r.matched.is_none() {
            match self.match_return(r).await? {
                Ok(m) => {
                    let note = format!(
                        "matched: order {} {}at {} (its order {}), line {}",
                        m.order_key,
                        if m.part_key != m.order_key {
                            format!("part {} ", m.part_key)
                        } else {
                            String::new()
                        },
                        m.provider,
                        m.reference,
                        m.line_ids.join(", ")
                    );
                    r.matched = Some(m);
                    save(r, note).await?;
                    if self.count_step() {
                        return Ok(Visit::Rest);
                    }
                }
                Err(why) => return self.return_attention(r, pass, why).await,
            }
        }
        let m = r.matched.clone().expect("matched above");
        // The warehouse is needed to announce and to ask for the goods; a person's choice,
        // or goods a person said arrived, go on without it.
        let warehouse = self.fulfilment_named(&m.provider);
        let needs_warehouse = r.decision.is_none() && !r.received();
        let fulfilment = match (&warehouse, needs_warehouse) {
            (Some(f), _) => Some(f.clone()),
            (None, false) => None,
            (None, true) if m.provider == crate::ops::OPERATOR => {
                let why = format!(
                    "announced by hand: when the goods are in, `commerce resolve {k} --received N [--damaged TEXT]`, or `--handle CUSTOMER_KEEPS_PRODUCT_PAID --quantity N`, or `--leave`",
                    k = r.key
                );
                return self.return_attention(r, pass, why).await;
            }
            (None, true) => {
                let e = Error::config(format!(
                    "{} shipped {} and is not configured in this runner: its return is left to a runner that has it",
                    m.provider, r.key
                ));
                return self.return_failed(r, pass, "announce", e).await;
            }
        };
        let notice = ReturnNotice {
            channel: r.channel.clone(),
            order_id: r.order_id.clone(),
            rma_id: r.rma_id.clone(),
            reference: m.reference.clone(),
            ean: r.ean.clone(),
            quantity: r.expected,
            reason: r.reason.clone(),
        };
        // Announce.
        if !r.announcement.is_done() && r.decision.is_none() && !r.received() {
            if r.announcement == Step::Started {
                // Its answer was lost: a request of a runner that died may still land, so
                // look only once a lease has passed since it was sent.
                // Without a time (a hand-edited record): settled at once.
                let settle_at = r
                    .announce_started_at
                    .map_or(now, |at| later(at, self.options.lease));
                if settle_at > now {
                    r.due = Some(settle_at);
                    save(r, "the announcement's outcome is unknown: looked up once its request can no longer land".into()).await?;
                    return Ok(Visit::Rest);
                }
                match fulfilment
                    .as_ref()
                    .expect("needed")
                    .find_announcement(&notice)
                    .await
                {
                    Ok(Some(a)) => {
                        let note = format!(
                            "found the announcement made earlier at {} order {}",
                            a.provider, a.order_reference
                        );
                        r.announcement = Step::Done(a);
                        r.failures = 0;
                        r.last_error = None;
                        save(r, note).await?;
                    }
                    Ok(None) => {
                        r.announcement = Step::NotStarted;
                        save(
                            r,
                            format!("{} has no announcement of it: announcing again", m.provider),
                        )
                        .await?;
                    }
                    Err(Error::Unsupported { reason, .. }) => {
                        r.announcement_unknown = true;
                        let why = format!(
                            "{p} may have the retour announcement of its order {o} (its answer was lost) and its look-up cannot tell ({reason}): check {p}'s retours, then `commerce resolve {k} --announced [REF]` (it is there) or `commerce retry {k}` (it is not)",
                            p = m.provider,
                            o = m.reference,
                            k = r.key
                        );
                        return self.return_attention(r, pass, why).await;
                    }
                    Err(e) => return self.return_failed(r, pass, "find announcement", e).await,
                }
            }
            if r.announcement == Step::NotStarted {
                // Handled on the channel meanwhile (by a person on its site): nothing to
                // announce.
                if listed && let Some(visit) = self.handled_meanwhile(channel, pass, r).await? {
                    return Ok(visit);
                }
                if self.stopping() {
                    return Ok(Visit::Rest);
                }
                r.announcement = Step::Started;
                r.announce_started_at = Some(self.clock.now());
                save(
                    r,
                    format!(
                        "announcing {}× {} to {} (its order {})",
                        r.expected, r.ean, m.provider, m.reference
                    ),
                )
                .await?;
                match fulfilment
                    .as_ref()
                    .expect("needed")
                    .announce_return(&notice)
                    .await
                {
                    Ok(a) => {
                        let note = format!(
                            "announced at {} order {}{}",
                            a.provider,
                            a.order_reference,
                            a.reference
                                .as_deref()
                                .map(|x| format!(" (retour {x})"))
                                .unwrap_or_default()
                        );
                        r.announcement = Step::Done(a);
                        r.failures = 0;
                        r.last_error = None;
                        r.due = None;
                        save(r, note).await?;
                        if self.count_step() {
                            return Ok(Visit::Rest);
                        }
                    }
                    // Lost, or a server error (it may have acted before failing): looked
                    // up, never sent again blindly.
                    Err(e) if e.is_unconfirmed() || e.status().is_some_and(|s| s >= 500) => {
                        return self.return_failed(r, pass, "announce", e).await;
                    }
                    Err(Error::Unsupported { .. }) => {
                        r.announcement = Step::NotStarted;
                        let why = format!(
                            "{p} takes no return announcements through its API: tell {p} that {n}× {ean}{t} of its order {o} come back ({c} return {ret}, RMA {rma}), then `commerce resolve {k} --announced [REF]`",
                            p = m.provider,
                            n = r.expected,
                            ean = r.ean,
                            t = r.title.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(),
                            o = m.reference,
                            c = r.channel,
                            ret = r.return_id,
                            rma = r.rma_id,
                            k = r.key
                        );
                        return self.return_attention(r, pass, why).await;
                    }
                    Err(e) => {
                        r.announcement = Step::NotStarted;
                        if e.is_retryable() {
                            return self.return_failed(r, pass, "announce", e).await;
                        }
                        let why = format!(
                            "{} refused the announcement: {e}; tell it by hand, then `commerce resolve {} --announced [REF]`, or `--leave`",
                            m.provider, r.key
                        );
                        return self.return_attention(r, pass, why).await;
                    }
                }
            }
        }
        // Receipt.
        if r.decision.is_none() && !r.received() {
            let Step::Done(announcement) = r.announcement.clone() else {
                return Ok(Visit::Rest);
            };
            if waits(r.due) {
                return Ok(Visit::Rest);
            }
            let arrival = fulfilment
                .as_ref()
                .expect("needed")
                .return_arrival(&announcement)
                .await;
            r.checks += 1;
            r.last_check = Some(self.clock.now());
            match arrival {
                Ok(a @ Arrival::Received { .. }) => {
                    let note = format!("received at {}: {}", m.provider, arrival_text(&a));
                    r.arrival = Some(a);
                    r.due = None;
                    r.failures = 0;
                    r.last_error = None;
                    save(r, note).await?;
                    if self.count_step() {
                        return Ok(Visit::Rest);
                    }
                }
                Ok(Arrival::NotYet) => {
                    let first = r.arrival != Some(Arrival::NotYet);
                    r.arrival = Some(Arrival::NotYet);
                    let bound = self.receipt_bound(r, &announcement);
                    if now >= bound {
                        let why = format!(
                            "not received at {} by {}: check the parcel{}; then `commerce resolve {k} --received N [--damaged TEXT]`, or `--handle CUSTOMER_KEEPS_PRODUCT_PAID --quantity N`, or `--leave`",
                            m.provider,
                            bound.format("%Y-%m-%d %H:%M UTC"),
                            match (&r.track_and_trace, &r.transporter) {
                                (Some(t), Some(by)) => format!(" ({by} track & trace {t})"),
                                (Some(t), None) => format!(" (track & trace {t})"),
                                _ => String::new(),
                            },
                            k = r.key
                        );
                        return self.return_attention(r, pass, why).await;
                    }
                    r.due = Some(later(now, self.options.returns.poll).min(bound));
                    // Progress: said once, then at most once a day.
                    let daily = r
                        .checks
                        .is_multiple_of((86_400 / self.options.returns.poll.as_secs().max(1)).max(1) as u32);
                    let note = (first || daily).then(|| {
                        format!(
                            "not received at {} yet ({} check(s)); next check {}, a person looks after {}",
                            m.provider,
                            r.checks,
                            r.due
                                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                                .unwrap_or_default(),
                            bound.format("%Y-%m-%d %H:%M UTC")
                        )
                    });
                    self.save_return(pass, r, note).await?;
                    return Ok(Visit::Rest);
                }
                Ok(Arrival::Unknown) | Err(Error::Unsupported { .. }) => {
                    r.arrival = Some(Arrival::Unknown);
                    let why = format!(
                        "{} does not say whether the goods came back: when they are in, `commerce resolve {} --received N [--damaged TEXT]`",
                        m.provider, r.key
                    );
                    return self.return_attention(r, pass, why).await;
                }
                Err(e) => {
                    // A read the warehouse refuses for good (an archived order), or one that
                    // still fails past the bound: a person looks.
                    let bound = self.receipt_bound(r, &announcement);
                    if !e.is_retryable() || now >= bound {
                        let why = format!(
                            "{} cannot say whether the goods came back ({e}): check, then `commerce resolve {} --received N [--damaged TEXT]`, or `--leave`",
                            m.provider, r.key
                        );
                        return self.return_attention(r, pass, why).await;
                    }
                    return self.return_failed(r, pass, "receipt", e).await;
                }
            }
        }
        // Check: what came back against what the buyer sends.
        let (result, quantity) = match (&r.decision, &r.arrival) {
            (Some(d), _) => (d.result.clone(), d.quantity),
            (
                None,
                Some(Arrival::Received {
                    quantity, condition, ..
                }),
            ) => {
                if *quantity != r.expected || condition.is_some() || *quantity == 0 {
                    let why = format!(
                        "received {} of {}{} at {}: decide how {} handles it: `commerce resolve {k} --handle RETURN_RECEIVED --quantity N` (refund what came back), `--handle RETURN_DOES_NOT_MEET_CONDITIONS --quantity N`, `--handle CUSTOMER_KEEPS_PRODUCT_PAID --quantity N`, or `--leave`",
                        quantity,
                        r.expected,
                        condition.as_deref().map(|c| format!(", {c}")).unwrap_or_default(),
                        m.provider,
                        r.channel,
                        k = r.key
                    );
                    return self.return_attention(r, pass, why).await;
                }
                (HandlingResult::ReturnReceived, *quantity)
            }
            _ => return Ok(Visit::Rest),
        };
        // Never before the goods are in, whatever asked for it.
        if result.needs_goods() && !r.received() {
            let why = format!(
                "{result} needs the goods back and {} has not said they arrived: `commerce resolve {} --received N` once they are in",
                m.provider, r.key
            );
            return self.return_attention(r, pass, why).await;
        }
        // Handle.
        if r.handling == Step::Started {
            let settle_at = r
                .handling_started_at
                .map_or(now, |at| later(at, self.options.lease));
            if settle_at > now {
                r.due = Some(settle_at);
                self.save_return(pass, r, None).await?;
                return Ok(Visit::Rest);
            }
        }
        if self.stopping() {
            return Ok(Visit::Rest);
        }
        let again = r.handling == Step::Started;
        r.handling = Step::Started;
        r.handled_as = Some((result.clone(), quantity));
        r.handling_started_at = Some(self.clock.now());
        save(
            r,
            format!(
                "{}handling RMA {} on {}: {result} ×{quantity}",
                if again {
                    "its answer was lost: reading, then "
                } else {
                    ""
                },
                r.rma_id,
                r.channel
            ),
        )
        .await?;
        let handling = ReturnHandling {
            return_id: r.return_id.clone(),
            rma_id: r.rma_id.clone(),
            result: result.clone(),
            quantity,
        };
        match channel.handle_return(&handling).await {
            Ok(receipt) => {
                let note = if receipt.already {
                    format!(
                        "found handled on {} as {result} ×{quantity}: nothing sent",
                        r.channel
                    )
                } else {
                    format!(
                        "handled on {}: {result} ×{quantity}{}",
                        r.channel,
                        receipt
                            .reference
                            .as_deref()
                            .map(|x| format!(" (process {x})"))
                            .unwrap_or_default()
                    )
                };
                r.handling = Step::Done(receipt.reference);
                r.completed_at = Some(self.clock.now());
                r.failures = 0;
                r.last_error = None;
                r.due = None;
                save(r, note).await?;
                self.count_step();
                Ok(Visit::Rest)
            }
            Err(e) if e.is_unconfirmed() => self.return_failed(r, pass, "handle", e).await,
            Err(e) => {
                r.handling = Step::NotStarted;
                if e.is_retryable() {
                    return self.return_failed(r, pass, "handle", e).await;
                }
                let why = format!(
                    "{} refused {result} ×{quantity}: {e}; `commerce resolve {k} --handle RESULT --quantity N` to send another, or `--leave` if it is handled on the channel's site",
                    r.channel,
                    k = r.key
                );
                self.return_attention(r, pass, why).await
            }
        }
    }

    /// Re-reads the item's return on the channel: `Some` when the visit ends here (handled
    /// on the channel's site meanwhile: done, nothing sent; unknown to the channel: a
    /// person; the read failed).
    async fn handled_meanwhile(
        &self,
        channel: &dyn SalesChannel,
        pass: &str,
        r: &mut ReturnRecord,
    ) -> Result<Option<Visit>, Lost> {
        match channel.return_state(&r.return_id).await {
            Ok(Some(ret)) => {
                let Some(item) = ret.items.iter().find(|i| i.rma_id == r.rma_id) else {
                    return Ok(None);
                };
                if !item.handled || r.handling != Step::NotStarted {
                    return Ok(None);
                }
                let how = item
                    .results
                    .last()
                    .map(|x| format!("{} ×{}", x.handling, x.quantity))
                    .unwrap_or_else(|| "handled".into());
                r.completed_at = Some(self.clock.now());
                r.due = None;
                self.save_return(
                    pass,
                    r,
                    Some(format!(
                        "handled on {} meanwhile ({how}), not by this flow: nothing sent",
                        r.channel
                    )),
                )
                .await?;
                self.count_step();
                Ok(Some(Visit::Rest))
            }
            Ok(None) => {
                let why = format!(
                    "{} no longer knows return {}: check it on the channel's site, then `commerce resolve {} --leave`",
                    r.channel, r.return_id, r.key
                );
                Ok(Some(self.return_attention(r, pass, why).await?))
            }
            Err(Error::Unsupported { .. }) => Ok(None),
            Err(e) => Ok(Some(self.return_failed(r, pass, "read return", e).await?)),
        }
    }

    /// When a return still not received goes to a person: the deadline less the margin, or
    /// `wait` after the announcement, whichever comes first.
    fn receipt_bound(&self, r: &ReturnRecord, announcement: &Announcement) -> DateTime<Utc> {
        let o = &self.options.returns;
        let waited = later(announcement.at, o.wait);
        match r.deadline {
            Some(deadline) => waited.min(deadline - chrono::Duration::from_std(o.margin).unwrap_or_default()),
            None => waited,
        }
    }

    fn fulfilment_named(&self, name: &str) -> Option<Arc<dyn Fulfilment>> {
        self.providers
            .fulfilment
            .iter()
            .find(|f| f.name() == name)
            .cloned()
    }

    /// Writes the batch `records` of the pass `pass` this runner holds (tried again on a
    /// write that may pass): the one way the loop writes return records.
    async fn save_returns(&self, pass: &str, records: &[(ReturnRecord, Option<String>)]) -> Result<(), Lost> {
        self.write_again(pass, || {
            self.journal.save_returns(pass, &self.options.runner, records)
        })
        .await
    }

    /// Writes one return record, with its history note where it has one.
    async fn save_return(&self, pass: &str, r: &ReturnRecord, note: Option<String>) -> Result<(), Lost> {
        self.save_returns(pass, &[(r.clone(), note)]).await
    }

    /// Stops an item for a person, with why and what to do.
    async fn return_attention(&self, r: &mut ReturnRecord, pass: &str, why: String) -> Result<Visit, Lost> {
        r.attention = Some(why.clone());
        r.due = None;
        self.save_return(pass, r, Some(format!("needs a person: {why}")))
            .await?;
        Ok(Visit::Rest)
    }

    /// A step failed: counted, journaled, due again after a delay that doubles.
    async fn return_failed(
        &self,
        r: &mut ReturnRecord,
        pass: &str,
        step: &str,
        e: Error,
    ) -> Result<Visit, Lost> {
        r.failures += 1;
        r.last_error = Some(format!("{step}: {e}"));
        // A step that keeps failing (about an hour and a half of tries) goes to a person
        // rather than fail quietly for ever; the step's state is kept for `commerce retry`.
        if r.failures >= FAILURES_FOR_A_PERSON {
            let why = format!(
                "{step} failed {} times in a row (last: {e}): fix the cause, then `commerce retry {}`; or `commerce resolve {} --leave`",
                r.failures, r.key, r.key
            );
            self.return_attention(r, pass, why).await?;
            return Ok(Visit::Failed(step.to_owned(), e));
        }
        let delay = Duration::from_secs(60)
            .saturating_mul(1 << r.failures.saturating_sub(1).min(10))
            .min(self.options.returns.poll);
        r.due = Some(later(self.clock.now(), delay));
        self.save_return(
            pass,
            r,
            Some(format!("{step} failed ({} in a row): {e}", r.failures)),
        )
        .await?;
        Ok(Visit::Failed(step.to_owned(), e))
    }

    /// Finds the order, line, part and warehouse of a return item in the journal: `Ok(Err(why))`
    /// when a person must.
    async fn match_return(&self, r: &ReturnRecord) -> Result<Result<ReturnMatch, String>, Lost> {
        let order_key = format!("{}:{}", r.channel, r.order_id);
        let by_hand = format!(
            "tell the warehouse that shipped it by hand, then `commerce resolve {} --announced [REF]`, or `--leave`",
            r.key
        );
        let Some(order) = self.journal.load(&order_key).await? else {
            return Ok(Err(format!(
                "order {} is not in this journal (older than it, or not handed over by this flow): {by_hand}",
                r.order_id
            )));
        };
        let lines: Vec<&commerce_core::LineItem> = order
            .order
            .lines
            .iter()
            .filter(|l| l.ean.as_deref() == Some(r.ean.as_str()))
            .collect();
        if lines.is_empty() {
            return Ok(Err(format!(
                "order {} has no line of EAN {} this flow shipped{}: {by_hand}",
                r.order_id,
                r.ean,
                if order.dropped_lines.is_empty() {
                    ""
                } else {
                    " (some of its lines were cancelled)"
                }
            )));
        }
        let ordered: u32 = lines.iter().map(|l| l.quantity).sum();
        if ordered < r.expected {
            return Ok(Err(format!(
                "{} units of EAN {} come back and order {} has {ordered}: {by_hand}",
                r.expected, r.ean, r.order_id
            )));
        }
        let line_ids: Vec<String> = lines.iter().map(|l| l.line_id.clone()).collect();
        let parts = order.split.parts();
        let shipper = if parts.is_empty() {
            order.clone()
        } else {
            let holding: Vec<_> = parts
                .iter()
                .filter(|p| p.lines.iter().any(|l| line_ids.contains(l)))
                .collect();
            if holding.len() != 1 {
                return Ok(Err(format!(
                    "the lines of EAN {} of order {} went to {} warehouses: which one gets the parcel is the buyer's, not ours to guess: {by_hand}",
                    r.ean,
                    r.order_id,
                    holding.len()
                )));
            }
            match self.journal.load(&holding[0].key).await? {
                Some(part) => part,
                None => {
                    return Ok(Err(format!(
                        "the part {} of order {} is not in this journal: {by_hand}",
                        holding[0].key, r.order_id
                    )));
                }
            }
        };
        let (Some(provider), Some(submission)) = (shipper.fulfilment.clone(), shipper.submission.done())
        else {
            return Ok(Err(format!(
                "order {} was never handed over by this flow: {by_hand}",
                r.order_id
            )));
        };
        if !shipper.shipped.is_done() {
            return Ok(Err(format!(
                "order {} is not shipped by {provider} as far as this journal knows, yet the buyer returns it: {by_hand}",
                r.order_id
            )));
        }
        Ok(Ok(ReturnMatch {
            order_key,
            part_key: shipper.key.clone(),
            provider,
            reference: submission.reference.clone(),
            line_ids,
        }))
    }
}

/// The history note of an item first seen.
fn seen_note(r: &ReturnRecord) -> String {
    format!(
        "seen on {}: {}× {}{}{}, return {}{}",
        r.channel,
        r.expected,
        r.ean,
        r.title.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(),
        r.reason.as_deref().map(|t| format!(", {t}")).unwrap_or_default(),
        r.return_id,
        r.registered_at
            .map(|t| format!(", registered {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    )
}

/// An arrival for people (`2, damaged`).
pub(crate) fn arrival_text(a: &Arrival) -> String {
    match a {
        Arrival::Unknown => "not said".into(),
        Arrival::NotYet => "not yet".into(),
        Arrival::Received {
            quantity, condition, ..
        } => format!(
            "{quantity}{}",
            condition.as_deref().map(|c| format!(", {c}")).unwrap_or_default()
        ),
    }
}
