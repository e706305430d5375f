//! The stock loop: each sales channel's offers follow what the warehouses hold.
//!
//! A pass, per channel that keeps offers, reads in this order, so that whatever happens
//! between two reads errs on the side of hiding a unit for one pass, never selling it twice:
//!
//! 1. the channel's offers (all of them by the channel's listing, bol's export; the few the
//!    journal knows one by one while a new listing is not due);
//! 2. the journal: which order lines are handed over to which warehouse, which shipped;
//! 3. every warehouse's stock of the offers' EANs;
//! 4. the channel's open order lines (an order placed after read 2 counts as not handed
//!    over; one handed over between 2 and 3 is taken off twice: hidden, not oversold).
//!
//! Then the arithmetic ([`arith`]) per offer, and an update only where the channel's count
//! differs, paced by the channel's client, the channel's confirmations read in bulk. Each
//! update, and each offer that cannot be worked out, is journaled with why.
//!
//! The pass does not claim orders: an order in flight shows in the journal as not handed
//! over until its hand-over is written (`Started` is written before the request), so it is
//! counted. The pass itself is leased ([`Journal::claim_pass`]): several runners on one
//! journal run one pass at a time, one per interval.

pub mod arith;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{ChannelOffer, Error, SalesChannel, StockBasis, StockLevel, StockUpdate};
use futures_util::TryStreamExt;
use serde::Serialize;

use super::{Flow, later};
use crate::journal::{JournalError, OfferRecord, OrderRecord, PassState, SentStock, Step};
use arith::{Count, Inputs, Verdict};

/// How the stock loop runs ([`FlowOptions::stock`](super::FlowOptions::stock)).
#[derive(Debug, Clone)]
pub struct StockOptions {
    /// How often a pass runs in [`Flow::run`] and [`Flow::watch`] (`None`: not at all, the
    /// library's default; `commerce run` syncs every 15 minutes).
    pub interval: Option<Duration>,
    /// Units held back of every EAN (the safety buffer), unless `buffers` names it.
    pub buffer: u32,
    /// Units held back per EAN.
    pub buffers: HashMap<String, u32>,
    /// Also give amounts to offers whose count the channel keeps (bol
    /// `managedByRetailer: false`); their mode is never changed. Off by default: they are
    /// left alone.
    pub manage_channel_kept: bool,
    /// Leave an offer whose EAN no warehouse lists as it is (it is listed for a person
    /// either way); by default it gets 0.
    pub keep_unstocked: bool,
    /// The units an "in stock" without a count stands for ([`StockBasis::InStockOnly`]).
    pub in_stock_units: u32,
    /// At most this many offers known to the journal are read one by one; more, and the
    /// channel's listing (bol's export) is read.
    pub by_id_max: usize,
    /// The channel's listing is read at least this often (new offers appear in it).
    pub list_every: Duration,
    /// Updates sent between two renewals of the pass's lease (and two stop checks).
    pub batch: usize,
    /// What a warehouse's count takes off, where the operator knows better than the
    /// provider's client (a ShopWeDo account whose ATP does not reserve released orders; a
    /// supplier whose availability does): warehouse name → basis.
    pub basis: HashMap<String, StockBasis>,
}

impl Default for StockOptions {
    fn default() -> Self {
        StockOptions {
            interval: None,
            buffer: 0,
            buffers: HashMap::new(),
            manage_channel_kept: false,
            keep_unstocked: false,
            in_stock_units: 1,
            by_id_max: 50,
            list_every: Duration::from_secs(6 * 3600),
            batch: 100,
            basis: HashMap::new(),
        }
    }
}

/// The environment variables [`StockOptions::from_vars`] reads.
pub const STOCK_VARS: [&str; 6] = [
    "COMMERCE_STOCK_BUFFER",
    "COMMERCE_STOCK_BUFFERS",
    "COMMERCE_STOCK_UNSTOCKED",
    "COMMERCE_STOCK_CHANNEL_KEPT",
    "COMMERCE_STOCK_IN_STOCK_UNITS",
    "COMMERCE_STOCK_BASIS",
];

impl StockOptions {
    /// The defaults with what the environment sets (looked up by `vars`):
    /// `COMMERCE_STOCK_BUFFER` (units, 0–999), `COMMERCE_STOCK_BUFFERS` (`EAN=units`,
    /// comma-separated), `COMMERCE_STOCK_UNSTOCKED` (`zero` or `keep`),
    /// `COMMERCE_STOCK_CHANNEL_KEPT` (`leave` or `manage`), `COMMERCE_STOCK_IN_STOCK_UNITS`
    /// (1–999), `COMMERCE_STOCK_BASIS` (`warehouse=reserving|on-shelf`, comma-separated).
    /// Anything else is an error naming the variable.
    pub fn from_vars(vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut o = StockOptions::default();
        let get = |name: &str| vars(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let units = |name: &str, text: &str, least: u32| -> Result<u32, Error> {
            text.parse::<u32>()
                .ok()
                .filter(|n| (least..=999).contains(n))
                .ok_or_else(|| {
                    Error::config(format!(
                        "{name}: `{text}` is not a number of units from {least} to 999"
                    ))
                })
        };
        if let Some(v) = get(STOCK_VARS[0]) {
            o.buffer = units(STOCK_VARS[0], &v, 0)?;
        }
        if let Some(v) = get(STOCK_VARS[1]) {
            for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (ean, n) = pair
                    .split_once('=')
                    .ok_or_else(|| Error::config(format!("{}: `{pair}` is not EAN=units", STOCK_VARS[1])))?;
                let ean = ean.trim();
                if ean.is_empty() || ean.len() > 14 || !ean.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Error::config(format!("{}: `{ean}` is not an EAN", STOCK_VARS[1])));
                }
                o.buffers
                    .insert(ean.to_owned(), units(STOCK_VARS[1], n.trim(), 0)?);
            }
        }
        if let Some(v) = get(STOCK_VARS[2]) {
            o.keep_unstocked = match v.as_str() {
                "zero" => false,
                "keep" => true,
                _ => {
                    return Err(Error::config(format!(
                        "{}: `{v}` is not `zero` or `keep`",
                        STOCK_VARS[2]
                    )));
                }
            };
        }
        if let Some(v) = get(STOCK_VARS[3]) {
            o.manage_channel_kept = match v.as_str() {
                "leave" => false,
                "manage" => true,
                _ => {
                    return Err(Error::config(format!(
                        "{}: `{v}` is not `leave` or `manage`",
                        STOCK_VARS[3]
                    )));
                }
            };
        }
        if let Some(v) = get(STOCK_VARS[4]) {
            o.in_stock_units = units(STOCK_VARS[4], &v, 1)?;
        }
        if let Some(v) = get(STOCK_VARS[5]) {
            for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let basis = match pair.split_once('=').map(|(w, b)| (w.trim(), b.trim())) {
                    Some((w, "reserving")) if !w.is_empty() => (w, StockBasis::Reserving),
                    Some((w, "on-shelf")) if !w.is_empty() => (w, StockBasis::OnShelf),
                    _ => {
                        return Err(Error::config(format!(
                            "{}: `{pair}` is not warehouse=reserving or warehouse=on-shelf",
                            STOCK_VARS[5]
                        )));
                    }
                };
                o.basis.insert(basis.0.to_owned(), basis.1);
            }
        }
        Ok(o)
    }

    fn buffer_of(&self, ean: &str) -> u32 {
        self.buffers.get(ean).copied().unwrap_or(self.buffer)
    }
}

/// The journal's name of a channel's stock pass.
pub fn pass_name(channel: &str) -> String {
    format!("stock:{channel}")
}

/// A pass this runner took ([`Flow::claim_leased_pass`]).
pub(super) struct Claimed {
    /// When it began.
    pub(super) started: DateTime<Utc>,
    /// Its lease's end, unless renewed.
    pub(super) until: DateTime<Utc>,
    /// The pass as the journal had it before (its failures in a row).
    pub(super) state: Option<PassState>,
}

/// How long a pass that failed waits: a third of an interval, doubling with each failure
/// in a row, at most 6 hours; with the failures in a row, this one included.
pub(super) fn failed_pass_delay(interval: Duration, state: Option<&PassState>) -> (u32, Duration) {
    let n = state.map_or(0, PassState::failures_in_a_row) + 1;
    let delay = (interval / 3)
        .saturating_mul(1 << (n - 1).min(16))
        .min(Duration::from_secs(6 * 3600));
    (n, delay)
}

/// Why a pass stopped when a stop was asked for ([`StockReport::cut_short`]).
pub const STOPPED: &str = "a stop was asked for";

/// How a pass is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassMode {
    /// Only when due and no other runner holds it (the loop in `run` / `watch`).
    WhenDue,
    /// Now, unless another runner holds it (`commerce stock`).
    Now,
    /// Reads and works out only: nothing is sent, nothing written, no lease taken
    /// (`commerce stock --dry-run`).
    DryRun,
}

/// What a pass did with one offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockRow {
    /// The channel's offer id.
    pub offer_id: String,
    /// Its EAN.
    pub ean: Option<String>,
    /// Who keeps the count (`true`: the shop).
    pub shop_keeps_count: Option<bool>,
    /// The channel's amount.
    pub amount: Option<i64>,
    /// What the channel still sells (read or worked out).
    pub selling: Option<i64>,
    /// The warehouses' counts, for people (`shopwedo reserving 10`).
    pub warehouses: String,
    /// Units of open lines not handed over yet.
    pub waiting: u32,
    /// The buffer held back.
    pub buffer: u32,
    /// The amount sent (or, in a dry run, that would be).
    pub send: Option<u32>,
    /// Why, in a few words.
    pub why: String,
    /// It needs a person.
    pub attention: bool,
    /// The update failed (why).
    pub failed: Option<String>,
}

/// What a stock pass did (or, dry, would do) on one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StockReport {
    /// The channel.
    pub channel: String,
    /// Nothing was sent or written.
    pub dry_run: bool,
    /// The offers read, and how (`export` or `by id`).
    pub offers: usize,
    /// How they were read.
    pub listed_by: String,
    /// Offers left alone: shipped by the channel, or whose count the channel keeps.
    pub left_alone: usize,
    /// Each offer synced or looked at, in offer id order.
    pub rows: Vec<StockRow>,
    /// The reads, in order, with when each ended.
    pub reads: Vec<(String, DateTime<Utc>)>,
    /// Updates sent (applied by the channel); in a dry run, those it would send.
    pub sent: usize,
    /// Offers whose count was right.
    pub unchanged: usize,
    /// Offers that need a person.
    pub attention: usize,
    /// Updates that failed.
    pub failed: usize,
    /// Offers the journal knows that a read one by one did not return (left as they are).
    pub unread: usize,
    /// The pass stopped before sending everything (a stop asked for, the lease lost).
    pub cut_short: Option<String>,
}

impl StockReport {
    /// The report's one line, for the pass's history and a run's summary.
    pub fn line(&self) -> String {
        if self.cut_short.is_some() && self.listed_by.is_empty() {
            return format!(
                "{}: stopped before the pass ended ({}); nothing more sent",
                self.channel,
                self.cut_short.as_deref().unwrap_or_default()
            );
        }
        let verb = if self.dry_run { "would send" } else { "sent" };
        let mut s = format!(
            "{}: {} offers ({}; {} left alone): {verb} {} update(s), {} unchanged, {} need attention",
            self.channel,
            self.offers,
            self.listed_by,
            self.left_alone,
            self.sent,
            self.unchanged,
            self.attention
        );
        if self.failed > 0 {
            s.push_str(&format!(", {} failed", self.failed));
        }
        if self.unread > 0 {
            s.push_str(&format!(", {} not read", self.unread));
        }
        if let Some(why) = &self.cut_short {
            s.push_str(&format!("; cut short: {why}"));
        }
        s
    }
}

fn short(id: &str) -> String {
    if id.chars().count() <= 10 {
        id.to_owned()
    } else {
        let head: String = id.chars().take(4).collect();
        let tail: String = id
            .chars()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{head}…{tail}")
    }
}

fn opt(n: Option<i64>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

/// The table of differences and offers needing a person, then the report's line.
impl std::fmt::Display for StockReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.listed_by.is_empty() {
            return write!(f, "{}", self.line());
        }
        let reads: Vec<String> = self
            .reads
            .iter()
            .map(|(what, at)| format!("{what} {}", at.format("%H:%M:%S")))
            .collect();
        writeln!(f, "read: {}", reads.join(", "))?;
        let shown: Vec<&StockRow> = self
            .rows
            .iter()
            .filter(|r| {
                r.send.is_some() || r.attention || r.failed.is_some() || r.why.starts_with("not read")
            })
            .collect();
        if !shown.is_empty() {
            let wide = shown
                .iter()
                .map(|r| r.warehouses.chars().count())
                .max()
                .unwrap_or(0)
                .max(10);
            writeln!(
                f,
                "{:<10} {:<14} {:<4} {:>9}  {:<wide$} {:>7} {:>3} {:>4}  why",
                "offer", "EAN", "mode", "amt/sells", "warehouses", "waiting", "buf", "send"
            )?;
            for r in shown {
                let mode = match r.shop_keeps_count {
                    Some(true) => "shop",
                    Some(false) => "bol",
                    None => "?",
                };
                let why = match &r.failed {
                    Some(e) => format!("{} — FAILED: {e}", r.why),
                    None => r.why.clone(),
                };
                writeln!(
                    f,
                    "{:<10} {:<14} {:<4} {:>9}  {:<wide$} {:>7} {:>3} {:>4}  {why}",
                    short(&r.offer_id),
                    r.ean.as_deref().unwrap_or("-"),
                    mode,
                    format!("{}/{}", opt(r.amount), opt(r.selling)),
                    r.warehouses,
                    r.waiting,
                    r.buffer,
                    r.send.map_or_else(|| "-".into(), |n| n.to_string()),
                )?;
            }
        }
        write!(f, "{}", self.line())
    }
}

/// What the journal says of one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineAt {
    /// Not handed over (not routed, not submitted, or its outcome unknown).
    Waiting,
    /// Handed over to this warehouse (when the flow learned it, if known), not shipped.
    HandedOver(String, Option<DateTime<Utc>>),
    /// Shipped by the warehouse (the channel may not know yet).
    Shipped,
}

/// The journal's lines of one channel: where each stands, and when its order was placed.
#[derive(Debug, Default)]
struct Lines {
    at: HashMap<(String, String), LineAt>,
    /// (EAN, placed at, units) of every line the journal knows, to work out what the
    /// channel took off since a time.
    placed: HashMap<(String, String), (String, DateTime<Utc>, u32)>,
}

impl Lines {
    fn of(records: &[OrderRecord], channel: &str) -> Self {
        let mut lines = Lines::default();
        // Parents first: a split order's parts say where its lines went.
        let mut records: Vec<&OrderRecord> = records.iter().filter(|r| r.order.channel == channel).collect();
        records.sort_by_key(|r| r.part_of.is_some());
        for r in records {
            let state = match (&r.submission, &r.shipped) {
                (Step::Done(receipt), Step::Done(_)) => {
                    let _ = receipt;
                    LineAt::Shipped
                }
                (Step::Done(receipt), _) => LineAt::HandedOver(
                    r.fulfilment.clone().unwrap_or_else(|| receipt.provider.clone()),
                    r.handed_over_at,
                ),
                _ => LineAt::Waiting,
            };
            for line in &r.order.lines {
                let id = (r.order.id.clone(), line.line_id.clone());
                if r.dropped_lines.contains_key(&line.line_id) {
                    continue;
                }
                // A parent whose parts were added says nothing of its lines: the parts do.
                if r.part_of.is_none() && !r.split.is_empty() && r.split.parts_added() {
                    continue;
                }
                lines.at.insert(id.clone(), state.clone());
                if let (Some(ean), Some(placed)) = (&line.ean, r.order.placed_at) {
                    lines.placed.insert(id, (ean.clone(), placed, line.quantity));
                }
            }
        }
        lines
    }
}

/// Units handed over, and when the hand-over was sent (if the journal knows).
type HandOver = (u32, Option<DateTime<Utc>>);

/// Whether an offer's EAN is another synced offer's too.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shared {
    /// Not shared, or this offer gets the units.
    No,
    /// This other offer gets the units.
    Other(String),
    /// This other offer of the EAN was not read this pass: all are kept.
    Unread(String),
}

/// An offer worked out: its record as it will be written, its row, its update.
type Decided = (OfferRecord, StockRow, Option<StockUpdate>);

/// What the channel's open lines and the journal say per EAN.
#[derive(Debug, Default)]
struct Open {
    /// `J` per EAN.
    waiting: HashMap<String, u32>,
    /// `H_p` per EAN and warehouse: units, each with when it was handed over (if known).
    handed_over: HashMap<String, BTreeMap<String, Vec<HandOver>>>,
    /// Units per EAN of lines placed at each time (open lines and the journal's), to work
    /// out what the channel took off since a time.
    placed: HashMap<String, Vec<(DateTime<Utc>, u32)>>,
}

impl Open {
    /// The channel's open lines, each where the journal says it stands.
    fn of(open_lines: &[commerce_core::OpenLine], lines: &Lines) -> Self {
        let mut open = Open::default();
        let mut seen_lines = BTreeSet::new();
        for l in open_lines {
            let Some(ean) = &l.ean else { continue };
            let id = (l.order_id.clone(), l.line_id.clone());
            match lines.at.get(&id).unwrap_or(&LineAt::Waiting) {
                LineAt::Waiting => *open.waiting.entry(ean.clone()).or_default() += l.quantity,
                LineAt::HandedOver(p, at) => open
                    .handed_over
                    .entry(ean.clone())
                    .or_default()
                    .entry(p.clone())
                    .or_default()
                    .push((l.quantity, *at)),
                LineAt::Shipped => {}
            }
            if let Some(t) = l.placed_at {
                open.placed.entry(ean.clone()).or_default().push((t, l.quantity));
                seen_lines.insert(id);
            }
        }
        for (id, (ean, t, n)) in &lines.placed {
            if !seen_lines.contains(id) {
                open.placed.entry(ean.clone()).or_default().push((*t, *n));
            }
        }
        open
    }

    fn placed_after(&self, ean: &str, after: DateTime<Utc>) -> u32 {
        self.placed
            .get(ean)
            .map_or(0, |v| v.iter().filter(|(t, _)| *t > after).map(|(_, n)| n).sum())
    }
}

/// A warehouse's counts by EAN, or why it has none.
type Counts = Result<HashMap<String, (i64, StockBasis, Option<DateTime<Utc>>)>, String>;

fn sum_levels(levels: Vec<StockLevel>) -> HashMap<String, (i64, StockBasis, Option<DateTime<Utc>>)> {
    let mut by_ean: HashMap<String, (i64, StockBasis, Option<DateTime<Utc>>)> = HashMap::new();
    for l in levels {
        let Some(ean) = l.ean.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) else {
            continue;
        };
        let e = by_ean.entry(ean).or_insert((0, l.basis, l.as_of));
        e.0 = e.0.saturating_add(l.available.max(0));
        // Mixed bases read as the safe one; the oldest count stands for all.
        if e.1 != l.basis {
            e.1 = StockBasis::OnShelf;
        }
        e.2 = match (e.2, l.as_of) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    by_ean
}

impl Flow {
    /// The channels whose offers a stock pass syncs: every channel (a channel that keeps
    /// no offers says so on the first read, and is left alone).
    fn stock_channels(&self) -> Vec<Arc<dyn SalesChannel>> {
        self.providers.channels.clone()
    }

    /// Runs one stock pass on every channel; one report per channel that keeps offers
    /// (`Ok(None)` for a channel whose pass another runner holds, or, [`PassMode::WhenDue`],
    /// that is not due).
    pub async fn stock(&self, mode: PassMode) -> Vec<(String, Result<Option<StockReport>, Error>)> {
        let mut out = Vec::new();
        for channel in self.stock_channels() {
            let name = channel.name().to_owned();
            let result = self.stock_pass(channel.as_ref(), mode).await;
            match &result {
                Err(Error::Unsupported { .. }) => continue,
                Ok(Some(report)) if !report.dry_run => {
                    self.emit(super::Event::Stock {
                        channel: name.clone(),
                        summary: report.line(),
                    });
                }
                _ => {}
            }
            out.push((name, result));
        }
        out
    }

    async fn stock_pass(
        &self,
        channel: &dyn SalesChannel,
        mode: PassMode,
    ) -> Result<Option<StockReport>, Error> {
        let pass = pass_name(channel.name());
        let interval = self.options.stock.interval.unwrap_or(Duration::from_secs(900));
        let Some(Claimed {
            started,
            until,
            state,
        }) = self.claim_leased_pass(channel, &pass, mode, interval).await?
        else {
            return Ok(None);
        };
        let stopped = || StockReport {
            channel: channel.name().to_owned(),
            dry_run: mode == PassMode::DryRun,
            cut_short: Some(STOPPED.into()),
            ..Default::default()
        };
        use futures_util::future::{Either, select};
        // A stop asked for ends the pass where it stands: its reads are cancelled, and so
        // may be an update under way (an absolute amount: the next pass sends it again).
        // The work is dropped with this block, before `end_pass`: a journal call of the
        // work left pending (queued for the journal's connection) would hold it otherwise.
        let result = {
            let work = std::pin::pin!(self.stock_work(channel, mode, &pass));
            let stop = std::pin::pin!(self.stop.wait());
            if mode == PassMode::DryRun {
                match select(work, stop).await {
                    Either::Left((r, _)) => r,
                    Either::Right(_) => Ok(stopped()),
                }
            } else {
                // The lease is renewed while the pass works (the export alone may take
                // minutes); a lease lost stops the pass where it stands.
                let beat = std::pin::pin!(self.pass_heartbeat(&pass, until));
                match select(work, select(beat, stop)).await {
                    Either::Left((r, _)) => r,
                    Either::Right((Either::Left((e, _)), _)) => Err(e.into()),
                    Either::Right((Either::Right(_), _)) => Ok(stopped()),
                }
            }
        };
        if mode == PassMode::DryRun {
            return result.map(Some);
        }
        let now = self.clock.now();
        let (next_due, summary) = match &result {
            Ok(report) if report.cut_short.is_none() => (later(started, interval), report.line()),
            // A channel that keeps no offers: nothing to retry.
            Err(Error::Unsupported { reason, .. }) => {
                (later(started, interval), format!("nothing synced: {reason}"))
            }
            Ok(report) => (now, report.line()),
            // A failure after the export asks bol for a new one each time.
            Err(e) => {
                let (n, delay) = failed_pass_delay(interval, state.as_ref());
                (later(now, delay), format!("failed ({n} in a row): {e}"))
            }
        };
        self.end_leased_pass(&pass, now, next_due, &summary).await?;
        result.map(Some)
    }

    /// Takes the pass `pass` of `channel` for this runner, as `mode` asks: binds the
    /// channel's account to the journal first (another account's data are not this
    /// runner's), then claims the pass when due (whoever ran the last one, with their
    /// interval, or this runner's `interval` after the last began; after a failure, only
    /// when the journal says: its back-off) or, asked for now, unless another runner holds
    /// it. A dry run binds and claims nothing. `None`: not due, or another runner's.
    pub(super) async fn claim_leased_pass(
        &self,
        channel: &dyn SalesChannel,
        pass: &str,
        mode: PassMode,
        interval: Duration,
    ) -> Result<Option<Claimed>, Error> {
        let started = self.clock.now();
        let until = later(started, self.options.lease);
        if mode != PassMode::DryRun {
            self.bind_account(channel).await?;
        }
        let state = self.journal.pass(pass).await?;
        let due_here = match mode {
            PassMode::WhenDue => state
                .as_ref()
                .and_then(|p| p.due_for(interval))
                .is_some_and(|due| due <= started),
            _ => true,
        };
        if mode != PassMode::DryRun
            && !self
                .journal
                .claim_pass(pass, &self.options.runner, started, until, due_here)
                .await?
        {
            return Ok(None);
        }
        Ok(Some(Claimed {
            started,
            until,
            state,
        }))
    }

    /// Ends the pass this runner holds, with `summary`, due again at `next_due`; a pass
    /// another runner took over meanwhile is theirs to end.
    pub(super) async fn end_leased_pass(
        &self,
        pass: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), Error> {
        match self
            .journal
            .end_pass(pass, &self.options.runner, now, next_due, summary)
            .await
        {
            Ok(()) | Err(JournalError::LeaseLost { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Renews the pass's lease every third of its length; returns when it is lost, or when
    /// the journal failed to renew it until its end (another runner may hold it by then).
    pub(super) async fn pass_heartbeat(&self, pass: &str, mut until: DateTime<Utc>) -> JournalError {
        let every = (self.options.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let next = later(self.clock.now(), self.options.lease);
            match self.journal.renew_pass(pass, &self.options.runner, next).await {
                Ok(()) => until = next,
                Err(e @ JournalError::LeaseLost { .. }) => return e,
                Err(_)
                    if self.clock.now() + chrono::Duration::from_std(every).unwrap_or_default() >= until =>
                {
                    return JournalError::LeaseLost {
                        key: format!("pass {pass} (not renewed before its end)"),
                    };
                }
                Err(_) => {}
            }
        }
    }

    async fn stock_work(
        &self,
        channel: &dyn SalesChannel,
        mode: PassMode,
        pass: &str,
    ) -> Result<StockReport, Error> {
        let o = &self.options.stock;
        let name = channel.name().to_owned();
        let mut report = StockReport {
            channel: name.clone(),
            dry_run: mode == PassMode::DryRun,
            ..Default::default()
        };
        // 1. The offers.
        let mut known: BTreeMap<String, OfferRecord> = self
            .journal
            .offers()
            .await?
            .into_iter()
            .filter(|r| r.channel == name)
            .map(|r| (r.offer_id.clone(), r))
            .collect();
        let listing_at = self.clock.now();
        let live: Vec<&OfferRecord> = known.values().filter(|r| !r.gone).collect();
        let list_due = live.is_empty()
            || live.len() > o.by_id_max
            || live
                .iter()
                .any(|r| r.listed_at.is_none_or(|t| later(t, o.list_every) <= listing_at));
        let mut offers = if list_due {
            report.listed_by = "export".into();
            channel.offers(&[]).await?
        } else {
            report.listed_by = "by id".into();
            let ids: Vec<String> = live.iter().map(|r| r.offer_id.clone()).collect();
            channel.offers(&ids).await?
        };
        // What a read says is as of when it came back (bol builds the export while its
        // process runs and answers when it is done): orders placed after that are taken
        // off what it says the channel sells.
        let listed_at = self.clock.now();
        report.reads.push((report.listed_by.clone(), listed_at));
        offers.sort_by(|a, b| a.offer_id.cmp(&b.offer_id));
        offers.dedup_by(|a, b| a.offer_id == b.offer_id);
        let mut read_at: HashMap<String, DateTime<Utc>> =
            offers.iter().map(|x| (x.offer_id.clone(), listed_at)).collect();
        // Offers whose mode or count the listing does not give, and the journal cannot
        // work out (never read, or bol's amount is not the one the journal last knew: set
        // by someone else), are read one by one.
        let unclear: Vec<String> = offers
            .iter()
            .filter(|x| !x.fulfilled_by_channel)
            .filter(|x| {
                let r = known.get(&x.offer_id);
                let mode = x.managed_by_shop.or(r.and_then(|r| r.managed_by_shop));
                let last = r.and_then(|r| r.sent.as_ref().map(|s| i64::from(s.amount)).or(r.seen_amount));
                mode.is_none()
                    || (x.corrected.is_none()
                        && (r.is_none_or(|r| r.sent.is_none() && r.seen_corrected.is_none())
                            || x.amount.is_some_and(|a| Some(a) != last)))
            })
            .map(|x| x.offer_id.clone())
            .collect();
        if list_due && !unclear.is_empty() {
            let n = self
                .read_again(channel, &unclear, &mut offers, &mut read_at)
                .await;
            report.reads.push((format!("{n} by id"), self.clock.now()));
        }
        report.offers = offers.len();
        // 2. The journal.
        let (records, _) = self.journal.census().await?;
        let lines = Lines::of(&records, &name);
        report.reads.push(("journal".into(), self.clock.now()));
        // 3. The warehouses.
        let eans: Vec<String> = offers
            .iter()
            .filter(|x| !x.fulfilled_by_channel)
            .filter_map(|x| x.ean.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut counts: Vec<(String, Counts)> = Vec::new();
        for p in &self.providers.fulfilment {
            let read = if eans.is_empty() {
                Ok(HashMap::new())
            } else {
                p.stock(&eans).await.map(sum_levels).map_err(|e| e.to_string())
            };
            report.reads.push((p.name().to_owned(), self.clock.now()));
            counts.push((p.name().to_owned(), read));
        }
        // 4. The channel's open lines.
        let open_lines: Vec<commerce_core::OpenLine> = channel.open_lines().try_collect().await?;
        report
            .reads
            .push((format!("{name} open lines"), self.clock.now()));
        let open = Open::of(&open_lines, &lines);
        // The arithmetic, per offer; offers to update whose mode or count came from the
        // journal rather than a read of this pass are read one by one and worked out again
        // (bol's mode may have changed; an update is sent only where it changes something).
        let cap = channel.max_stock().min(999_999);
        let listed: HashMap<String, (Option<bool>, Option<i64>)> = offers
            .iter()
            .map(|x| (x.offer_id.clone(), (x.managed_by_shop, x.corrected)))
            .collect();
        let mut decided = self.decide_all(&name, &offers, &known, &counts, &open, &read_at, cap);
        let unchecked = |decided: &[Decided], read_at: &HashMap<String, DateTime<Utc>>| -> Vec<String> {
            decided
                .iter()
                .filter(|(_, _, update)| update.is_some())
                .map(|(r, _, _)| r.offer_id.clone())
                .filter(|id| {
                    listed.get(id).is_some_and(|(m, c)| m.is_none() || c.is_none())
                        && read_at.get(id) == Some(&listed_at)
                })
                .collect()
        };
        // Twice at most: a re-decision can make another offer of a shared EAN the one to
        // update.
        let mut tried: BTreeSet<String> = BTreeSet::new();
        for _ in 0..2 {
            let confirm: Vec<String> = unchecked(&decided, &read_at)
                .into_iter()
                .filter(|id| !tried.contains(id))
                .collect();
            if confirm.is_empty() {
                break;
            }
            tried.extend(confirm.iter().cloned());
            let n = self
                .read_again(channel, &confirm, &mut offers, &mut read_at)
                .await;
            report
                .reads
                .push((format!("{n} to update by id"), self.clock.now()));
            // What the reads just now say wins over what the journal knew.
            for x in offers.iter().filter(|x| confirm.contains(&x.offer_id)) {
                if let Some(r) = known.get_mut(&x.offer_id) {
                    r.managed_by_shop = x.managed_by_shop.or(r.managed_by_shop);
                }
            }
            decided = self.decide_all(&name, &offers, &known, &counts, &open, &read_at, cap);
        }
        // An update that needed a read it did not get is not sent (bol's mode is never
        // guessed): for a person when the read failed, again next pass.
        for id in unchecked(&decided, &read_at) {
            if let Some((r, row, update)) = decided.iter_mut().find(|(r, _, _)| r.offer_id == id) {
                *update = None;
                row.send = None;
                row.attention = true;
                row.why = "kept: it could not be read before its update".into();
                r.reason = Some(row.why.clone());
                r.attention = Some(row.why.clone());
            }
        }
        let now = self.clock.now();
        let mut updates: Vec<(StockUpdate, usize)> = Vec::new();
        let mut records: Vec<(OfferRecord, Option<String>)> = Vec::new();
        for (mut r, row, update) in decided {
            if list_due {
                r.listed_at = Some(listing_at);
            }
            r.checked_at = Some(now);
            if row.attention {
                report.attention += 1;
            } else if row.send.is_none() && row.why.starts_with("left alone") {
                report.left_alone += 1;
            } else if row.send.is_none() {
                report.unchanged += 1;
            }
            if let Some(u) = update {
                updates.push((u, report.rows.len()));
            }
            report.rows.push(row);
            known.remove(&r.offer_id);
            records.push((r, None));
        }
        // Offers read one by one that did not come back (a failed read, or gone: the next
        // listing says which): left as they are, said in the report.
        if !list_due {
            for r in known.values().filter(|r| !r.gone) {
                report.unread += 1;
                report.rows.push(StockRow {
                    offer_id: r.offer_id.clone(),
                    ean: r.ean.clone(),
                    shop_keeps_count: r.managed_by_shop,
                    amount: r.seen_amount,
                    selling: None,
                    warehouses: String::new(),
                    waiting: 0,
                    buffer: 0,
                    send: None,
                    why: "not read this pass: left as it is".into(),
                    attention: false,
                    failed: None,
                });
            }
        }
        // Offers the listing no longer has: gone from the channel (sold out of the
        // catalogue, deleted); kept, never read one by one again, nothing for a person.
        if list_due {
            for (_, mut r) in known.into_iter().filter(|(_, r)| !r.gone) {
                r.gone = true;
                r.attention = None;
                r.reason = Some("no longer on the channel".into());
                r.listed_at = Some(listing_at);
                records.push((r, Some("no longer on the channel".into())));
            }
        }
        if mode == PassMode::DryRun {
            report.sent = updates.len();
            return Ok(report);
        }
        // The records read (and what needs a person) first, then the updates in batches.
        self.journal
            .save_offers(pass, &self.options.runner, &records)
            .await?;
        let index: HashMap<String, usize> = records
            .iter()
            .enumerate()
            .map(|(i, (r, _))| (r.offer_id.clone(), i))
            .collect();
        // Decreases first: where the units of an EAN move from one offer to another, the
        // one losing them is at 0 before the other gets them, and a decrease that failed
        // holds back the increases of its EAN.
        let eans: HashMap<String, String> = records
            .iter()
            .filter_map(|(r, _)| Some((r.offer_id.clone(), r.ean.clone()?)))
            .collect();
        let ean_of = |u: &StockUpdate| eans.get(&u.offer_id).cloned();
        let rises =
            |(u, row): &(StockUpdate, usize)| i64::from(u.amount) > report.rows[*row].selling.unwrap_or(0);
        let (increases, decreases): (Vec<_>, Vec<_>) = updates.into_iter().partition(|u| rises(u));
        let batches: Vec<Vec<(StockUpdate, usize)>> = decreases
            .chunks(o.batch.max(1))
            .chain(increases.chunks(o.batch.max(1)))
            .map(<[_]>::to_vec)
            .collect();
        let seen: BTreeSet<(String, String)> = open_lines
            .iter()
            .map(|l| (l.order_id.clone(), l.line_id.clone()))
            .collect();
        let mut failed_eans: BTreeSet<String> = BTreeSet::new();
        for (n, batch) in batches.iter().enumerate() {
            if self.stopping() {
                report.cut_short = Some(STOPPED.into());
                break;
            }
            // Still this runner's pass: another runner may have taken it over if the
            // journal could not renew it.
            let until = later(self.clock.now(), self.options.lease);
            if let Err(e) = self.journal.renew_pass(pass, &self.options.runner, until).await {
                report.cut_short = Some(format!("the pass's lease could not be renewed: {e}"));
                break;
            }
            // Orders placed since the open lines were read are not in the amounts worked
            // out, and bol will not take them off after the update: taken off here, so the
            // window is one batch, not the whole pass.
            let mut since: HashMap<String, u32> = HashMap::new();
            if n > 0 {
                let again: Vec<commerce_core::OpenLine> = channel.open_lines().try_collect().await?;
                for l in again {
                    if let Some(ean) = &l.ean
                        && !seen.contains(&(l.order_id.clone(), l.line_id.clone()))
                    {
                        *since.entry(ean.clone()).or_default() += l.quantity;
                    }
                }
            }
            let mut list: Vec<StockUpdate> = Vec::new();
            let mut sent: Vec<(StockUpdate, usize)> = Vec::new();
            for (u, row) in batch {
                let ean = ean_of(u);
                let rising = i64::from(u.amount) > report.rows[*row].selling.unwrap_or(0);
                if rising && ean.as_ref().is_some_and(|e| failed_eans.contains(e)) {
                    let r = &mut report.rows[*row];
                    r.failed = Some("held back: a decrease of another offer of this EAN failed".into());
                    report.failed += 1;
                    continue;
                }
                let mut u = u.clone();
                if let Some(extra) = ean.as_ref().and_then(|e| since.get(e)) {
                    u.amount = u.amount.saturating_sub(*extra);
                    report.rows[*row].send = Some(u.amount);
                }
                list.push(u.clone());
                sent.push((u, *row));
            }
            let batch = sent;
            let results = channel.set_stock(&list).await;
            // The channel applied them by now (their process statuses were waited for): it
            // takes off orders placed after this (or earlier), never fewer.
            let applied_at = self.clock.now();
            let mut written = Vec::new();
            for ((u, row), result) in batch.iter().zip(results) {
                let row = &mut report.rows[*row];
                let Some(&i) = index.get(&u.offer_id) else {
                    continue;
                };
                let mut r = records[i].0.clone();
                let before = opt(row.selling);
                let note = match result {
                    Ok(receipt) => {
                        report.sent += 1;
                        r.sent = Some(SentStock {
                            amount: u.amount,
                            managed_by_shop: u.managed_by_shop,
                            at: applied_at,
                            reference: receipt.reference.clone(),
                        });
                        r.seen_corrected = Some(i64::from(u.amount));
                        r.seen_amount = Some(i64::from(u.amount));
                        r.seen_at = Some(applied_at);
                        format!(
                            "stock {before} → {} ({}; {}{})",
                            u.amount,
                            row.why,
                            row.warehouses,
                            receipt
                                .reference
                                .map(|p| format!("; process {p}"))
                                .unwrap_or_default()
                        )
                    }
                    Err(e) => {
                        report.failed += 1;
                        row.failed = Some(e.to_string());
                        if let Some(ean) = &r.ean {
                            failed_eans.insert(ean.clone());
                        }
                        if !e.is_retryable() {
                            r.attention = Some(format!("the update to {} was refused: {e}", u.amount));
                            row.attention = true;
                            report.attention += 1;
                        }
                        format!("stock {before} → {} FAILED: {e}", u.amount)
                    }
                };
                records[i].0 = r.clone();
                written.push((r, Some(note)));
            }
            self.journal
                .save_offers(pass, &self.options.runner, &written)
                .await?;
        }
        Ok(report)
    }

    /// Reads `ids` one by one and merges what they say into `offers` (a read by id says
    /// the mode and what the channel sells now); returns how many were read.
    async fn read_again(
        &self,
        channel: &dyn SalesChannel,
        ids: &[String],
        offers: &mut [ChannelOffer],
        read_at: &mut HashMap<String, DateTime<Utc>>,
    ) -> usize {
        // A read that fails leaves the offers as they were (unread: an update that needed
        // the read is not sent); it does not stop the pass.
        let read: HashMap<String, ChannelOffer> = match channel.offers(ids).await {
            Ok(read) => read.into_iter().map(|x| (x.offer_id.clone(), x)).collect(),
            Err(e) => {
                tracing::warn!(channel = channel.name(), error = %e, "stock: offers could not be read one by one");
                HashMap::new()
            }
        };
        let at = self.clock.now();
        for x in offers.iter_mut() {
            if let Some(r) = read.get(&x.offer_id) {
                x.managed_by_shop = r.managed_by_shop.or(x.managed_by_shop);
                x.corrected = r.corrected.or(x.corrected);
                x.amount = r.amount.or(x.amount);
                read_at.insert(x.offer_id.clone(), at);
            }
        }
        read.len()
    }

    /// Every offer of `channel` worked out: its record as it will be written, its row,
    /// its update.
    #[allow(clippy::too_many_arguments)]
    fn decide_all(
        &self,
        channel: &str,
        offers: &[ChannelOffer],
        known: &BTreeMap<String, OfferRecord>,
        counts: &[(String, Counts)],
        open: &Open,
        read_at: &HashMap<String, DateTime<Utc>>,
        cap: u32,
    ) -> Vec<Decided> {
        // Several offers of one EAN (another condition): the warehouses' units go to one of
        // them, the one the channel sells most of now (so the one chosen stays chosen; then
        // the first by offer id); the others get none. An EAN one of whose synced offers
        // was not read this pass is left as it is: another choice could sell the units
        // twice.
        let synced = |x_mode: Option<bool>, fbb: bool| {
            !fbb && x_mode.is_some_and(|k| k || self.options.stock.manage_channel_kept)
        };
        let mut holder: HashMap<String, (i64, String)> = HashMap::new();
        for x in offers {
            let r = known.get(&x.offer_id);
            let mode = x.managed_by_shop.or(r.and_then(|r| r.managed_by_shop));
            if let (true, Some(ean)) = (synced(mode, x.fulfilled_by_channel), &x.ean) {
                let selling = x.corrected.or(x.amount).unwrap_or(0);
                let e = holder.entry(ean.clone()).or_insert((selling, x.offer_id.clone()));
                if selling > e.0 || (selling == e.0 && x.offer_id < e.1) {
                    *e = (selling, x.offer_id.clone());
                }
            }
        }
        let read: BTreeSet<&str> = offers.iter().map(|x| x.offer_id.as_str()).collect();
        let mut unread: HashMap<String, String> = HashMap::new();
        for r in known.values() {
            if !r.gone
                && !read.contains(r.offer_id.as_str())
                && synced(r.managed_by_shop, r.fulfilled_by_channel)
                && let Some(ean) = &r.ean
            {
                unread.entry(ean.clone()).or_insert_with(|| r.offer_id.clone());
            }
        }
        offers
            .iter()
            .map(|x| {
                let mut r = known
                    .get(&x.offer_id)
                    .cloned()
                    .unwrap_or_else(|| OfferRecord::new(channel, &x.offer_id));
                r.gone = false;
                r.ean = x.ean.clone().or(r.ean.take());
                r.fulfilled_by_channel = x.fulfilled_by_channel;
                r.managed_by_shop = x.managed_by_shop.or(r.managed_by_shop);
                r.seen_amount = x.amount.or(r.seen_amount);
                let at = read_at
                    .get(&x.offer_id)
                    .copied()
                    .unwrap_or_else(|| self.clock.now());
                let shared = match x.ean.as_ref() {
                    Some(e) if unread.contains_key(e) && holder.contains_key(e) => {
                        Shared::Unread(unread[e].clone())
                    }
                    Some(e) => match holder.get(e) {
                        Some((_, first)) if *first != x.offer_id => Shared::Other(first.clone()),
                        _ => Shared::No,
                    },
                    None => Shared::No,
                };
                let (row, update) = self.decide(x, &mut r, counts, open, at, cap, &shared);
                if x.corrected.is_some() {
                    r.seen_corrected = x.corrected;
                    r.seen_at = Some(at);
                }
                r.reason = Some(row.why.clone());
                r.attention = row.attention.then(|| row.why.clone());
                (r, row, update)
            })
            .collect()
    }

    /// The row of one offer and the update it needs, if any.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        x: &ChannelOffer,
        r: &mut OfferRecord,
        counts: &[(String, Counts)],
        open: &Open,
        read_at: DateTime<Utc>,
        cap: u32,
        shared: &Shared,
    ) -> (StockRow, Option<StockUpdate>) {
        let o = &self.options.stock;
        let mut row = StockRow {
            offer_id: x.offer_id.clone(),
            ean: x.ean.clone(),
            shop_keeps_count: r.managed_by_shop,
            amount: x.amount,
            selling: None,
            warehouses: String::new(),
            waiting: 0,
            buffer: 0,
            send: None,
            why: String::new(),
            attention: false,
            failed: None,
        };
        if x.fulfilled_by_channel {
            row.why = "left alone: shipped by the channel".into();
            return (row, None);
        }
        let Some(shop_keeps) = r.managed_by_shop else {
            row.why = "the channel does not say who keeps its count".into();
            row.attention = true;
            return (row, None);
        };
        if !shop_keeps && !o.manage_channel_kept {
            row.why = "left alone: the channel keeps its count".into();
            return (row, None);
        }
        let Some(ean) = x.ean.clone() else {
            row.why = "the offer has no EAN".into();
            row.attention = true;
            return (row, None);
        };
        if self.providers.fulfilment.is_empty() {
            row.why = "kept: no warehouse is configured".into();
            row.attention = true;
            return (row, None);
        }
        // The warehouses the routing may use for the EAN.
        let route = self.options.routes.get(&ean);
        let mut inputs = Inputs {
            counts: Vec::new(),
            down: Vec::new(),
            waiting: open.waiting.get(&ean).copied().unwrap_or(0),
            handed_over_elsewhere: 0,
            buffer: o.buffer_of(&ean),
            in_stock_units: o.in_stock_units,
            cap,
            shop_keeps_count: shop_keeps,
        };
        let handed = open.handed_over.get(&ean);
        let mut said = Vec::new();
        let mut why_down: Vec<String> = Vec::new();
        for (provider, read) in counts {
            if route.is_some_and(|p| p != provider) {
                continue;
            }
            let units = handed.and_then(|h| h.get(provider));
            let h: u32 = units.map_or(0, |u| u.iter().map(|(n, _)| n).sum());
            match read {
                Err(e) => {
                    inputs.down.push(provider.clone());
                    said.push(format!("{provider} DOWN"));
                    why_down.push(format!("{provider}: {e}"));
                }
                Ok(by_ean) => {
                    let c = by_ean.get(&ean);
                    // Sent at or after the count was made (or when, unknown): a reserving
                    // count has not taken them off yet. A hand-over sent before it and
                    // processed after it (a count made in between) is the one case missed:
                    // as long as the request took. A count stamped to the second (ShopWeDo)
                    // in the second of a hand-over counts it as after: hidden, not sold twice.
                    let late: u32 = match c.and_then(|c| c.2) {
                        None => 0,
                        Some(as_of) => units.map_or(0, |u| {
                            u.iter()
                                .filter(|(_, at)| at.is_none_or(|at| at >= as_of))
                                .map(|(n, _)| n)
                                .sum()
                        }),
                    };
                    let basis = o
                        .basis
                        .get(provider)
                        .copied()
                        .unwrap_or_else(|| c.map_or(StockBasis::OnShelf, |c| c.1));
                    let count = Count {
                        provider: provider.clone(),
                        available: c.map(|c| c.0),
                        basis,
                        handed_over: h,
                        late,
                    };
                    said.push(match count.available {
                        None => format!("{provider} -"),
                        Some(n) => {
                            let (b, off) = match count.basis {
                                StockBasis::Reserving => ("atp", late),
                                StockBasis::InStockOnly => ("in-stock", h),
                                _ => ("shelf", h),
                            };
                            if off > 0 {
                                format!("{provider} {b} {n} (−{off} handed over)")
                            } else {
                                format!("{provider} {b} {n}")
                            }
                        }
                    });
                    inputs.counts.push(count);
                }
            }
        }
        if let Some(p) = route
            && !counts.iter().any(|(name, _)| name == p)
        {
            row.why = format!("routed to {p}, which this runner does not have");
            row.attention = true;
            return (row, None);
        }
        inputs.handed_over_elsewhere = handed
            .map(|h| {
                h.iter()
                    .filter(|(p, _)| !inputs.counts.iter().any(|c| &&c.provider == p))
                    .flat_map(|(_, u)| u.iter().map(|(n, _)| n))
                    .sum()
            })
            .unwrap_or(0);
        row.warehouses = said.join(", ");
        // A warehouse that listed the EAN before and is not configured here (a runner set up
        // without it, a variable missing): without its units the amount would be too low.
        let missing: Vec<&String> = r
            .held_by
            .iter()
            .filter(|p| !counts.iter().any(|(name, _)| name == *p))
            .collect();
        if !missing.is_empty() {
            row.why = format!(
                "kept: {} listed this EAN before and is not configured here",
                missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            );
            row.attention = true;
            return (row, None);
        }
        if inputs.down.is_empty() {
            r.held_by = inputs
                .counts
                .iter()
                .filter(|c| c.available.is_some())
                .map(|c| c.provider.clone())
                .collect();
        }
        row.waiting = inputs.waiting;
        row.buffer = inputs.buffer;
        // What the channel sells now.
        row.selling = if shop_keeps {
            match x.corrected {
                // Read in the listing: less what was ordered since it was asked for.
                // Read: less what was ordered since the read.
                Some(c) => Some(c - i64::from(open.placed_after(&ean, read_at))),
                // Worked out: the last amount the channel is known to have sold from, less
                // what was ordered since.
                None => {
                    let base = match (&r.sent, r.seen_corrected.zip(r.seen_at)) {
                        (Some(s), Some((c, t))) if t > s.at => Some((c, t)),
                        (Some(s), _) => Some((i64::from(s.amount), s.at)),
                        (None, b) => b,
                    };
                    base.map(|(c, t)| c - i64::from(open.placed_after(&ean, t)))
                }
            }
            .map(|n| n.max(0))
        } else {
            x.amount
        };
        if let Shared::Unread(other) = shared {
            row.why = format!("kept: offer {other} of this EAN was not read");
            row.attention = true;
            return (row, None);
        }
        let verdict = match (arith::amount(&inputs), shared) {
            // Another offer of this EAN (another condition) gets the warehouses' units:
            // this one sells none of them (unless nothing can be worked out: kept).
            (Verdict::Amount { .. } | Verdict::Unstocked, Shared::Other(first)) => {
                row.attention = true;
                (
                    Verdict::Amount { amount: 0, free: 0 },
                    format!("EAN shared with offer {first}, which gets the stock"),
                )
            }
            (verdict, _) => (verdict, String::new()),
        };
        let (amount, why) = match verdict {
            (Verdict::Unknown(down), _) => {
                row.why = format!(
                    "kept: {} did not answer ({})",
                    down.join(", "),
                    why_down.join("; ")
                );
                row.attention = true;
                return (row, None);
            }
            (Verdict::Unstocked, _) if o.keep_unstocked => {
                row.why = "kept: no warehouse lists this EAN".into();
                row.attention = true;
                return (row, None);
            }
            (Verdict::Unstocked, _) => {
                row.attention = true;
                (0, "no warehouse lists this EAN".to_owned())
            }
            (Verdict::Amount { amount, .. }, why) if !why.is_empty() => (amount, why),
            (Verdict::Amount { amount, free }, _) if free < 0 => (amount, format!("oversold by {}", -free)),
            (Verdict::Amount { amount, .. }, _) => (amount, String::new()),
        };
        r.computed = Some(amount);
        match row.selling {
            Some(now) if now == i64::from(amount) => {
                row.why = if why.is_empty() {
                    format!("same ({amount})")
                } else {
                    why
                };
                (row, None)
            }
            None => {
                row.why = "the channel does not say what it sells".into();
                row.attention = true;
                (row, None)
            }
            Some(now) => {
                row.why = if !why.is_empty() {
                    why
                } else if i64::from(amount) < now {
                    "stock fell".into()
                } else if now == 0 {
                    "back in stock".into()
                } else {
                    "stock rose".into()
                };
                if inputs.buffer > 0 {
                    row.why = format!("{}; buffer {}", row.why, inputs.buffer);
                }
                row.send = Some(amount);
                let update = StockUpdate {
                    offer_id: x.offer_id.clone(),
                    amount,
                    managed_by_shop: shop_keeps,
                };
                (row, Some(update))
            }
        }
    }
}
