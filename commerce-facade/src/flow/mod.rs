//! The order-to-review flow: open orders from every sales channel → submitted to a
//! fulfilment provider that has the stock → followed until shipped → the shipment
//! confirmed on the channel with its tracking code → review invitations on every platform.
//!
//! The flow is a table (module `steps`: step → what runs → what the journal records →
//! what an unknown outcome does) driven by a scheduler (module `schedule`): the journal
//! records, per order, its step and when it is next due; a run advances every due order as
//! far as it can now, checks a shipping order's status once each time it is due, and never
//! holds a worker while an order waits. Several runners (processes) share one journal:
//! each order is worked on only by the runner holding its lease.
//!
//! Every step of every order is written to the [`Journal`] before and after it runs. A
//! rerun resumes where it stopped: a finished step is never done again, and a step whose
//! outcome is unknown (it started, and then the process died or the answer was lost or
//! unreadable) is settled first (module `settle`): by looking the submission up where the
//! provider can, by calls that are safe to repeat (bol re-reads the order before
//! confirming; Safe.Shop refuses a second invite), and otherwise by stopping the order for
//! a person to check, never by guessing.

mod engine;
mod events;
mod map;
mod order;
mod reconcile;
pub mod returns;
mod route;
mod schedule;
mod settle;
mod steps;
pub mod stock;

pub use events::{FlowHealth, FlowWaker};
pub use reconcile::reconcile_pass;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{
    Error, Fulfilment, InvitationReceipt, Order, ReviewPlatform, SalesChannel, SubmissionReceipt, Tracking,
};

use crate::journal::{Journal, OrderRecord};

/// The providers the flow composes, as shared trait objects.
#[derive(Clone, Default)]
pub struct Providers {
    /// Where orders come from.
    pub channels: Vec<Arc<dyn SalesChannel>>,
    /// Who ships them, tried in this order when routing.
    pub fulfilment: Vec<Arc<dyn Fulfilment>>,
    /// Who asks for reviews.
    pub review_platforms: Vec<Arc<dyn ReviewPlatform>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field(
                "channels",
                &self
                    .channels
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "fulfilment",
                &self
                    .fulfilment
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "review_platforms",
                &self
                    .review_platforms
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Providers {
    /// No providers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sales channel.
    pub fn channel(mut self, channel: impl SalesChannel + 'static) -> Self {
        self.channels.push(Arc::new(channel));
        self
    }

    /// Adds a fulfilment provider.
    pub fn fulfilment(mut self, fulfilment: impl Fulfilment + 'static) -> Self {
        self.fulfilment.push(Arc::new(fulfilment));
        self
    }

    /// Adds a review platform.
    pub fn review_platform(mut self, platform: impl ReviewPlatform + 'static) -> Self {
        self.review_platforms.push(Arc::new(platform));
        self
    }
}

/// How the flow runs.
#[derive(Debug, Clone)]
pub struct FlowOptions {
    /// Orders worked on at once by this runner.
    pub concurrency: usize,
    /// How often a shipping order's status is checked (and, in [`Flow::watch`], how often
    /// the channels are asked for new orders). Default 5 minutes; kept within
    /// [`POLL_BOUNDS`].
    pub poll_interval: Duration,
    /// This runner's name in the journal's leases and history (default: `runner-` with
    /// the process id and a random suffix). Two runners must not share one.
    pub runner: String,
    /// How long an order stays claimed by this runner without a journal write from it.
    /// Renewed at every write, so it only ends when the runner is gone or stuck; then
    /// another runner takes the order over and settles the step under way. Longer than any
    /// one provider call can take (the runtime bounds a call, retries included, to about
    /// two minutes). Default 10 minutes; kept within [`LEASE_BOUNDS`].
    pub lease: Duration,
    /// Failures in a row at one order before [`Flow::run`] stops waiting for it (it stays
    /// due with a growing delay, for the next run or [`Flow::watch`]). Default 5.
    pub max_attempts: u32,
    /// EAN → fulfilment provider name, consulted before stock when routing.
    pub routes: HashMap<String, String>,
    /// How long an order reported shipped without a tracking code waits for one before its
    /// shipment is confirmed on the channel without one. Default 30 minutes.
    pub untracked_after: Duration,
    /// The shop's contact phone, given to a fulfilment provider where the buyer's is
    /// missing (bol leaves it out of most orders; ShopWeDo requires one). `None`: such an
    /// order waits for a person, with a message naming this setting. Read from
    /// `COMMERCE_CONTACT_PHONE` by [`FlowOptions::from_vars`].
    pub contact_phone: Option<String>,
    /// Send a create again when its outcome is unknown and the provider offers no look-up.
    /// Off by default: only right where failures are known to happen before the provider
    /// acts (the sandbox's faults do), since otherwise it risks a duplicate.
    pub resend_unconfirmed: bool,
    /// The channels' credentials are new ones of the shop the journal serves: the journal
    /// records their account instead of refusing them ([`Journal::bind_account`]). Default
    /// off: a journal refuses a client of another account than the one it recorded.
    pub new_credentials: bool,
    /// Stop cleanly after this many finished steps (tests of resuming; `None`: run on).
    pub stop_after_steps: Option<usize>,
    /// How long the personal fields (names, addresses, e-mail addresses, phones) of a
    /// completed order are kept in the journal; each run purges older ones, keeping ids,
    /// steps and references. Default 30 days.
    pub retain_personal_data: Duration,
    /// The stock loop: how often, and its rules (off by default in the library).
    pub stock: stock::StockOptions,
    /// The returns loop: how often, and its bounds (off by default in the library).
    pub returns: returns::ReturnsOptions,
    /// How often [`Flow::watch`] lists the channels' open orders while their events are
    /// pushed ([`FlowWaker::set_push_active`]): the listing is then only the fallback for an
    /// event lost. Default 30 minutes (never shorter than `poll_interval`).
    pub event_poll_interval: Duration,
    /// How often [`Flow::watch`] reconciles: the orders a channel changed since the last
    /// reconciliation, open or not ([`SalesChannel::changed_orders`]), are compared with the
    /// journal, so an order that came and left the open list between two listings is not
    /// lost. `None` (the library's default): never.
    pub reconcile_interval: Option<Duration>,
}

/// The lease a runner may take, `(least, most)`: a lease of nothing would let a second
/// worker take an order under way; one past a day is no protection worth having.
pub const LEASE_BOUNDS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(86_400));

/// The poll interval, `(least, most)`: a shipping order is not read in a loop, and is read
/// at least daily.
pub const POLL_BOUNDS: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(86_400));

/// A runner name unlikely to be taken: the process id and a random suffix.
pub fn runner_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("runner-{}-{:05x}", std::process::id(), nanos & 0xfffff)
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            concurrency: 4,
            poll_interval: Duration::from_secs(300),
            runner: runner_name(),
            lease: Duration::from_secs(600),
            max_attempts: 5,
            routes: HashMap::new(),
            contact_phone: None,
            untracked_after: Duration::from_secs(1800),
            resend_unconfirmed: false,
            new_credentials: false,
            stop_after_steps: None,
            retain_personal_data: Duration::from_secs(30 * 86_400),
            stock: stock::StockOptions::default(),
            returns: returns::ReturnsOptions::default(),
            event_poll_interval: Duration::from_secs(1800),
            reconcile_interval: None,
        }
    }
}

impl FlowOptions {
    /// The defaults, with the settings the environment gives (looked up by `vars`):
    /// `COMMERCE_CONTACT_PHONE` (the shop's contact phone, checked: a phone number of 6 to
    /// 15 digits, at most 32 characters; anything else is an error naming the variable,
    /// before any order is handed over with it).
    pub fn from_vars(vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let contact_phone = vars(map::CONTACT_PHONE_VAR)
            .filter(|p| !p.trim().is_empty())
            .map(|p| map::contact_phone(&p))
            .transpose()?;
        Ok(FlowOptions {
            contact_phone,
            stock: stock::StockOptions::from_vars(vars)?,
            returns: returns::ReturnsOptions::from_vars(vars)?,
            ..FlowOptions::default()
        })
    }
}

/// What happened, as it happens. `Display` gives the line the quickstart and `commerce
/// run` print; serialized (for `--json`) with its kind in `event`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A stock pass ended on a channel.
    Stock {
        /// The channel.
        channel: String,
        /// What it did ([`StockReport::line`](stock::StockReport::line)).
        summary: String,
    },
    /// A returns pass ended on a channel.
    Returns {
        /// The channel.
        channel: String,
        /// What it did ([`ReturnsReport::line`](returns::ReturnsReport::line)).
        summary: String,
    },
    /// A channel pushed an event (verified, journaled): what the flow does with it.
    Pushed {
        /// The channel.
        channel: String,
        /// What it is (`ORDER:ORDER_CREATED`).
        kind: String,
        /// The resource it names (an order id, a process status id), if any.
        resource_id: Option<String>,
        /// What the flow does (`listing the open orders now`).
        action: String,
    },
    /// A reconciliation pass ended on a channel: the orders changed since the last one,
    /// open or not, were compared with the journal.
    Reconciled {
        /// The channel.
        channel: String,
        /// What it found.
        summary: String,
    },
    /// An order seen for the first time on its channel.
    Seen {
        /// `channel:order id`.
        key: String,
        /// Lines to ship.
        lines: usize,
    },
    /// A fulfilment provider was chosen.
    Routed {
        /// The order.
        key: String,
        /// The provider.
        provider: String,
    },
    /// Handed over for shipping.
    Submitted {
        /// The order.
        key: String,
        /// The provider's receipt.
        receipt: SubmissionReceipt,
    },
    /// Shipped.
    Shipped {
        /// The order.
        key: String,
        /// Its tracking.
        tracking: Tracking,
    },
    /// The shipment was confirmed on the channel.
    Confirmed {
        /// The order.
        key: String,
        /// The channel's reference.
        reference: Option<String>,
    },
    /// A review invitation went out.
    Invited {
        /// The order.
        key: String,
        /// The platform's receipt.
        receipt: InvitationReceipt,
    },
    /// Every step is done.
    Completed {
        /// The order.
        key: String,
    },
    /// No fulfilment provider had stock for every line: the order was split into parts,
    /// one per provider, each going on as an order of its own.
    Split {
        /// The order.
        key: String,
        /// The parts' keys (`bol:…/provider`).
        parts: Vec<String>,
    },
    /// Every line was cancelled on the channel (at the buyer's request, or by the channel)
    /// and the hand-over, if there was one, cancelled: nothing is left to do.
    Cancelled {
        /// The order.
        key: String,
        /// What was cancelled where.
        reason: String,
    },
    /// A step failed; the order is tried again when due.
    Failed {
        /// The order (or the channel, when listing failed).
        key: String,
        /// The step.
        step: String,
        /// Why.
        error: String,
    },
    /// The order waits for a person: the flow will not guess.
    Attention {
        /// The order.
        key: String,
        /// Why, and what to check.
        reason: String,
    },
    /// Nothing is due now: the run sleeps until the next check. Each kind of wait is
    /// counted, and said with its bound.
    Waiting {
        /// Orders of this run waiting for their parcel to ship (checked every
        /// `poll_interval`).
        shipment: usize,
        /// Orders of this run shipped without a tracking code, waiting up to
        /// `untracked_after` for one before the shipment is confirmed without it.
        untracked: usize,
        /// Split orders of this run waiting for their parts to end.
        parts: usize,
        /// Orders of this run waiting to try a failed step again.
        retry: usize,
        /// Orders of this run given back until a provider's rate limit lets their next call
        /// go (a worker does not idle that long).
        paced: usize,
        /// Orders of this run held by other runners (until their leases end).
        elsewhere: usize,
        /// How often a shipping order is checked ([`FlowOptions::poll_interval`]).
        poll_interval: Duration,
        /// How long a parcel without a tracking code waits for one
        /// ([`FlowOptions::untracked_after`]).
        untracked_after: Duration,
        /// When the next order is due.
        next_check: DateTime<Utc>,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Stock { summary, .. } => write!(f, "[stock] {summary}"),
            Event::Returns { summary, .. } => write!(f, "[returns] {summary}"),
            Event::Pushed {
                channel,
                kind,
                resource_id,
                action,
            } => write!(
                f,
                "[{channel}] pushed {kind}{}: {action}",
                resource_id
                    .as_deref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            ),
            Event::Reconciled { channel, summary } => write!(f, "[{channel}] reconciliation: {summary}"),
            Event::Seen { key, lines } => write!(f, "[{key}] open order, {lines} line(s) to ship"),
            Event::Routed { key, provider } => write!(f, "[{key}] routed to {provider}"),
            Event::Submitted { key, receipt } => write!(
                f,
                "[{key}] submitted to {} as {}{}",
                receipt.provider,
                receipt.reference,
                if receipt.already_submitted {
                    " (found, already there)"
                } else {
                    ""
                }
            ),
            Event::Shipped { key, tracking } if tracking.code.is_empty() => {
                write!(f, "[{key}] shipped without a tracking code")
            }
            Event::Shipped { key, tracking } => write!(
                f,
                "[{key}] shipped: {} {}",
                tracking.carrier.as_deref().unwrap_or("carrier?"),
                tracking.code
            ),
            Event::Confirmed { key, reference } => write!(
                f,
                "[{key}] shipment confirmed on the sales channel{}",
                reference
                    .as_deref()
                    .map(|r| format!(" (process status {r})"))
                    .unwrap_or_default()
            ),
            Event::Invited { key, receipt } => write!(
                f,
                "[{key}] review invitation on {}{}",
                receipt.platform,
                if receipt.already_invited {
                    " (already invited)"
                } else {
                    ""
                }
            ),
            Event::Completed { key } => write!(f, "[{key}] completed"),
            Event::Cancelled { key, reason } => write!(f, "[{key}] cancelled: {reason}"),
            Event::Split { key, parts } => write!(
                f,
                "[{key}] no provider has stock for every line: split into {}",
                parts.join(", ")
            ),
            Event::Failed { key, step, error } => {
                write!(f, "[{key}] FAILED at {step} (tried again later): {error}")
            }
            Event::Attention { key, reason } => write!(f, "[{key}] NEEDS ATTENTION: {reason}"),
            Event::Waiting {
                shipment,
                untracked,
                parts,
                retry,
                paced,
                elsewhere,
                poll_interval,
                untracked_after,
                next_check,
            } => {
                let mut said = Vec::new();
                if *shipment > 0 {
                    said.push(format!(
                        "{shipment} order(s) waiting for their parcel to ship (checked every {}, --poll-interval)",
                        human(*poll_interval)
                    ));
                }
                if *untracked > 0 {
                    said.push(format!(
                        "{untracked} shipped without a tracking code: waiting up to {} for one, then confirmed \
                         without (--untracked-after)",
                        human(*untracked_after)
                    ));
                }
                if *parts > 0 {
                    said.push(format!("{parts} split order(s) waiting for their parts"));
                }
                if *retry > 0 {
                    said.push(format!("{retry} waiting to try a failed step again"));
                }
                if *paced > 0 {
                    said.push(format!("{paced} waiting for a provider's rate limit"));
                }
                if *elsewhere > 0 {
                    said.push(format!("{elsewhere} with other runners (until their leases end)"));
                }
                write!(
                    f,
                    "{}; next check {}",
                    said.join(", "),
                    next_check.format("%H:%M:%S UTC")
                )
            }
        }
    }
}

/// A duration as people write it: `200ms`, `30s`, `5m`, `1h30m`, `2d`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 && ms > 0 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut t = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if n > 0 {
            t += &format!("{n}{unit}");
        }
    }
    if t.is_empty() { "0s".to_owned() } else { t }
}

/// What a run did. `Display` gives the summary the quickstart and `commerce run` print.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Orders worked on (open when the run began or seen during it).
    pub orders_seen: usize,
    /// Handed over for shipping in this run.
    pub submitted: usize,
    /// Found shipped in this run.
    pub shipped: usize,
    /// Confirmed on their channel in this run.
    pub confirmed: usize,
    /// Invitations sent in this run, by platform.
    pub invitations: BTreeMap<String, usize>,
    /// Orders with every step done.
    pub completed: usize,
    /// Orders ended because every line was cancelled on their channel (the buyer's
    /// request accepted, the hand-over cancelled).
    pub cancelled: usize,
    /// Orders split over several fulfilment providers in this run (each counted once in
    /// the other figures, as an order; their parts' hand-overs, shipments and
    /// confirmations count as such).
    pub split: usize,
    /// Failures: `(order, step, error)`, the first 1,000 (every one is an
    /// [`Event::Failed`]; a watching run can see many).
    pub failures: Vec<(String, String, String)>,
    /// Failures beyond those kept in `failures`.
    pub more_failures: usize,
    /// Orders waiting for a person: `(order, reason)`.
    pub attention: Vec<(String, String)>,
    /// Orders left unfinished (interrupted, or failing [`FlowOptions::max_attempts`]
    /// times in a row).
    pub pending: usize,
    /// Channels whose open orders could not be listed (after `max_attempts` tries in
    /// [`Flow::run`]): their new orders were not seen.
    pub unlisted: Vec<String>,
    /// Whether the run was stopped before it finished.
    pub interrupted: bool,
    /// Why the run stopped because it could not go on (the journal cannot be written; a
    /// provider refuses its credentials or settings, with the variables to check): `None`
    /// when it did not.
    pub fatal: Option<String>,
    /// Orders in the whole journal (not only this run's) waiting for a person when the run
    /// ended, unreadable records included.
    pub needing_person: usize,
    /// Records of the journal that do not read, when the run ended: `(key, why)`. They are
    /// never worked on or purged; `commerce attention` says what to do.
    pub unreadable: Vec<(String, String)>,
    /// Completed orders whose personal fields were purged in this run.
    pub purged: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// The stock passes this run made, one line each ([`StockReport::line`](stock::StockReport::line)).
    pub stock: Vec<String>,
    /// Offers that need a person (their EAN at no warehouse, a warehouse that did not
    /// answer, an update refused), as the last pass left them.
    pub stock_attention: usize,
    /// A stock pass failed, or some of its updates did.
    pub stock_failed: bool,
    /// The returns passes this run made, one line each
    /// ([`ReturnsReport::line`](returns::ReturnsReport::line)).
    pub returns: Vec<String>,
    /// Return items in the whole journal that wait for a person when the run ended.
    pub returns_attention: usize,
    /// A returns pass failed, or some of its steps did.
    pub returns_failed: bool,
}

impl Summary {
    /// Whether nothing failed and nothing waits for a person.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.attention.is_empty()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  orders seen      {}", self.orders_seen)?;
        writeln!(f, "  submitted        {}", self.submitted)?;
        writeln!(f, "  shipped          {}", self.shipped)?;
        writeln!(f, "  confirmed        {}", self.confirmed)?;
        let invitations: Vec<String> = self.invitations.iter().map(|(p, n)| format!("{p} {n}")).collect();
        writeln!(
            f,
            "  invitations      {}",
            if invitations.is_empty() {
                "0".to_owned()
            } else {
                invitations.join(", ")
            }
        )?;
        writeln!(f, "  completed        {}", self.completed)?;
        for line in &self.stock {
            writeln!(f, "  stock            {line}")?;
        }
        for line in &self.returns {
            writeln!(f, "  returns          {line}")?;
        }
        if self.cancelled > 0 {
            writeln!(f, "  cancelled        {}", self.cancelled)?;
        }
        if self.split > 0 {
            writeln!(
                f,
                "  split            {} (over several fulfilment providers)",
                self.split
            )?;
        }
        writeln!(
            f,
            "  failures         {}",
            self.failures.len() + self.more_failures
        )?;
        writeln!(f, "  needs attention  {}", self.attention.len())?;
        if self.pending > 0 {
            writeln!(f, "  left for a rerun {}", self.pending)?;
        }
        if !self.unlisted.is_empty() {
            writeln!(
                f,
                "  NOT LISTED       {} (their new orders were not seen)",
                self.unlisted.join(", ")
            )?;
        }
        if self.purged > 0 {
            writeln!(f, "  personal data purged from {} completed orders", self.purged)?;
        }
        if !self.unreadable.is_empty() {
            let keys: Vec<&str> = self.unreadable.iter().map(|(k, _)| k.as_str()).collect();
            writeln!(
                f,
                "  UNREADABLE       {} record(s), never worked on or purged: {} (see `commerce attention`)",
                keys.len(),
                keys.join(", ")
            )?;
        }
        if self.needing_person > self.attention.len() {
            writeln!(
                f,
                "  in the journal   {} order(s) in all need a person (`commerce attention`)",
                self.needing_person
            )?;
        }
        if let Some(why) = &self.fatal {
            writeln!(f, "  STOPPED          {why}")?;
        }
        write!(f, "  time taken       {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// `now + delay`, at the latest representable time.
pub(crate) fn later(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How many failures a [`Summary`] keeps.
const MAX_FAILURES_KEPT: usize = 1000;

type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// The system clock, plus whatever tokio's clock has been moved on beyond it: in real time
/// that is nothing, so every runner reads the system clock whatever happened to its process
/// (a suspend, an NTP step: leases and due times written by one runner are compared with
/// another runner's clock); in paused time in tests, the simulated time.
/// The flow's wall clock: the system's, moved on by whatever tokio's clock is ahead of it
/// (in paused time, the simulated time; in real time, nothing). Read from the runtime's
/// clock itself, so every flow (and the sandbox) on one runtime tells the same time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock;

impl Clock {
    fn new() -> Self {
        Clock
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        // tokio's instant is the runtime's start plus the time it moved; in paused time it
        // moves ahead of the system's.
        let ahead = tokio::time::Instant::now()
            .into_std()
            .saturating_duration_since(std::time::Instant::now());
        let ahead = chrono::Duration::from_std(ahead).unwrap_or(chrono::Duration::MAX);
        Utc::now()
            .checked_add_signed(ahead)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The tokio instant of a wall-clock time (now, if it has passed).
    pub(crate) fn instant(&self, at: DateTime<Utc>) -> tokio::time::Instant {
        let ahead = (at - self.now()).to_std().unwrap_or_default();
        tokio::time::Instant::now() + ahead
    }
}

/// The flow over some providers and a journal.
pub struct Flow {
    providers: Providers,
    journal: Arc<dyn Journal>,
    options: FlowOptions,
    observer: Observer,
    stop: Arc<Stop>,
    steps: AtomicUsize,
    summary: Mutex<Summary>,
    clock: Clock,
    /// The journal knew no order of these channels when the run began (new, or replaced):
    /// each order is looked up before it is created, where the provider can.
    fresh_journal: std::sync::atomic::AtomicBool,
    /// When the orders this runner gave back for each provider's rate limit are due: each
    /// further one is due after those still to come.
    paced: Mutex<std::collections::HashMap<String, Vec<DateTime<Utc>>>>,
    /// What wakes the scheduler (a pushed event), and whether events are pushed.
    wake: Arc<events::Wake>,
    /// What the flow last did that an operator's health check asks about.
    health: Mutex<events::FlowHealth>,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("providers", &self.providers)
            .field("journal", &self.journal)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A stop asked for, seen by every waiter at once.
#[derive(Debug)]
pub(crate) struct Stop {
    asked: tokio::sync::watch::Sender<bool>,
    /// Why the run cannot go on (the journal cannot be written, a provider's credentials or
    /// settings are refused), when that is why it stops.
    fatal: Mutex<Option<String>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            asked: tokio::sync::watch::Sender::new(false),
            fatal: Mutex::new(None),
        }
    }
}

impl Stop {
    pub(crate) fn ask(&self) {
        self.asked.send_replace(true);
    }

    pub(crate) fn asked(&self) -> bool {
        *self.asked.borrow()
    }

    /// Returns once a stop is asked for.
    pub(crate) async fn wait(&self) {
        let mut asked = self.asked.subscribe();
        let _ = asked.wait_for(|a| *a).await;
    }
}

/// Stops a running flow cleanly: no order is claimed any more, waits and reads under way
/// are cancelled, a request that may act (a hand-over, a confirmation, a cancel, an
/// invitation) finishes, every order is given back to the journal, and [`Flow::run`] /
/// [`Flow::watch`] return.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<Stop>);

impl StopHandle {
    /// Asks the flow to stop.
    pub fn stop(&self) {
        self.0.ask();
    }
}

impl Flow {
    /// A flow over `providers`, keeping its records in `journal`.
    pub fn new(providers: Providers, journal: Arc<dyn Journal>, mut options: FlowOptions) -> Self {
        options.lease = options.lease.clamp(LEASE_BOUNDS.0, LEASE_BOUNDS.1);
        options.poll_interval = options.poll_interval.clamp(POLL_BOUNDS.0, POLL_BOUNDS.1);
        Flow {
            providers,
            journal,
            options,
            observer: Arc::new(|_| {}),
            stop: Arc::new(Stop::default()),
            steps: AtomicUsize::new(0),
            summary: Mutex::new(Summary::default()),
            clock: Clock::new(),
            fresh_journal: std::sync::atomic::AtomicBool::new(false),
            paced: Mutex::new(std::collections::HashMap::new()),
            wake: Arc::new(events::Wake::default()),
            health: Mutex::new(events::FlowHealth::default()),
        }
    }

    /// Records that the journal serves `channel`'s account, or refuses another account's
    /// client ([`Journal::bind_account`], with [`FlowOptions::new_credentials`]).
    pub(crate) async fn bind_account(
        &self,
        channel: &dyn SalesChannel,
    ) -> Result<(), crate::journal::JournalError> {
        match channel.account() {
            Some(account) => {
                self.journal
                    .bind_account(channel.name(), &account, self.options.new_credentials)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Calls `observer` with every event as it happens.
    pub fn observe(mut self, observer: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.observer = Arc::new(observer);
        self
    }

    /// A handle that stops the flow cleanly (for Ctrl-C).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// The options it runs with.
    pub fn options(&self) -> &FlowOptions {
        &self.options
    }

    fn emit(&self, event: Event) {
        (self.observer)(&event);
    }

    /// How long until `provider` could take this order's call (`ready_in`, given how many
    /// calls go first), with the orders this runner gave back for it that are due by then
    /// going first: each further order given back is due after them, not with them. (An
    /// order due later waits behind this one.)
    pub(crate) fn paced_ready_in(&self, provider: &str, ready_in: impl Fn(usize) -> Duration) -> Duration {
        let now = self.clock.now();
        let dues: Vec<DateTime<Utc>> = {
            let mut paced = self.paced.lock().unwrap_or_else(|p| p.into_inner());
            let Some(dues) = paced.get_mut(provider) else {
                return ready_in(0);
            };
            dues.retain(|d| *d > now);
            dues.clone()
        };
        let mut ahead = 0;
        loop {
            let wait = ready_in(ahead);
            let by = later(now, wait);
            let due_by = dues.iter().filter(|d| **d <= by).count();
            if due_by <= ahead {
                return wait;
            }
            ahead = due_by;
        }
    }

    /// An order given back for `provider`'s rate limit, due at `due`.
    pub(crate) fn count_paced(&self, provider: &str, due: DateTime<Utc>) {
        let mut paced = self.paced.lock().unwrap_or_else(|p| p.into_inner());
        paced.entry(provider.to_owned()).or_default().push(due);
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.asked()
    }

    /// Stops the run because it cannot go on; the first reason is kept (the summary's
    /// [`Summary::fatal`]).
    pub(crate) fn stop_fatally(&self, reason: String) {
        let mut fatal = self.stop.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            // Not the reason itself: a provider's answer in it can quote what it was sent.
            tracing::error!("the run stops: it cannot go on (its summary says why)");
            *fatal = Some(reason);
        }
        drop(fatal);
        self.stop.ask();
    }

    /// Counts a finished step; true when the flow must stop now (a stop was asked for, or
    /// `stop_after_steps` is reached).
    fn count_step(&self) -> bool {
        let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        if self.options.stop_after_steps.is_some_and(|max| n >= max) {
            self.stop.ask();
        }
        self.stopping()
    }

    /// When a lease taken or renewed now ends.
    fn lease_until(&self) -> DateTime<Utc> {
        later(self.clock.now(), self.options.lease)
    }

    fn fail(&self, key: &str, step: &str, error: &dyn std::fmt::Display) {
        let mut summary = self.summary();
        if summary.failures.len() < MAX_FAILURES_KEPT {
            summary
                .failures
                .push((key.to_owned(), step.to_owned(), error.to_string()));
        } else {
            summary.more_failures += 1;
        }
        drop(summary);
        self.emit(Event::Failed {
            key: key.to_owned(),
            step: step.to_owned(),
            error: error.to_string(),
        });
    }

    fn platforms(&self) -> Vec<String> {
        self.providers
            .review_platforms
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    }

    /// Every record of the journal (for reports).
    pub async fn records(&self) -> Result<Vec<OrderRecord>, Error> {
        Ok(self.journal.all().await?)
    }

    /// The orders of `orders` with every step done, as the journal has them.
    pub async fn completed(&self, orders: &[Order]) -> usize {
        let platforms = self.platforms();
        let mut completed = 0;
        for o in orders {
            let record = self.journal.load(&format!("{}:{}", o.channel, o.id)).await;
            if record.ok().flatten().is_some_and(|r| r.is_complete(&platforms)) {
                completed += 1;
            }
        }
        completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In real time the flow's clock is the system clock (leases written by one runner are
    /// read by another's), however long the process has been running.
    #[tokio::test]
    async fn in_real_time_the_clock_is_the_system_clock() {
        let clock = Clock::new();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let drift = (clock.now() - Utc::now()).num_milliseconds().abs();
        assert!(drift < 5, "{drift} ms from the system clock");
    }

    /// A run that waits says what for, each kind with its bound and the option that sets it
    /// (a new user saw only "2 order(s) waiting for shipment" for 30 minutes).
    #[test]
    fn a_wait_names_each_kind_and_its_bound() {
        let line = Event::Waiting {
            shipment: 1,
            untracked: 2,
            parts: 0,
            retry: 1,
            paced: 2,
            elsewhere: 3,
            poll_interval: Duration::from_secs(300),
            untracked_after: Duration::from_secs(1800),
            next_check: DateTime::parse_from_rfc3339("2026-12-06T12:04:10Z")
                .unwrap()
                .to_utc(),
        }
        .to_string();
        for part in [
            "1 order(s) waiting for their parcel to ship (checked every 5m, --poll-interval)",
            "2 shipped without a tracking code: waiting up to 30m for one",
            "--untracked-after",
            "1 waiting to try a failed step again",
            "2 waiting for a provider's rate limit",
            "3 with other runners",
            "next check 12:04:10 UTC",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert_eq!(human(Duration::from_millis(200)), "200ms");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
    }

    /// In paused time it moves with tokio's clock.
    #[tokio::test(start_paused = true)]
    async fn in_paused_time_the_clock_moves_with_tokio() {
        let clock = Clock::new();
        tokio::time::advance(Duration::from_secs(7200)).await;
        let ahead = (clock.now() - Utc::now()).num_seconds();
        assert!((7199..=7200).contains(&ahead), "{ahead}");
    }
}
