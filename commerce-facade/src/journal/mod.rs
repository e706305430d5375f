//! The journal: each step of each order is written before and after it runs, so a rerun
//! after a crash or an interrupt resumes where it stopped, and never does a finished step
//! twice. It is also the flow's schedule (when each order is next due) and the place where
//! several runners share the work: an order is worked on only by the runner holding its
//! lease, taken in the same transaction that reads it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use commerce_core::{InvitationReceipt, Order, SubmissionReceipt, Tracking};
use serde::{Deserialize, Serialize};

mod events;
mod file;
mod memory;
pub(crate) mod migrate;
mod offers;
mod returns;
mod sqlite;
mod sqlite_shared;
mod stage;

pub use events::{EventRecord, EventStats};
pub use memory::MemoryJournal;
pub use offers::{OfferRecord, PassState, SentStock, offer_key};
pub(crate) use offers::{offer_rows, pass_lost, readable_offers};
pub use returns::{
    HandleDecision, ReturnAmendment, ReturnMatch, ReturnRecord, ReturnStage, return_key, returns_pass,
};
pub(crate) use returns::{ReturnRow, read_return, readable_returns, return_rows};
pub use sqlite::{SCHEMA_VERSION, SqliteJournal};
pub use sqlite_shared::SqliteShared;
pub use stage::Stage;

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", content = "value")]
pub enum Step<T> {
    /// Not begun.
    #[default]
    NotStarted,
    /// Begun: the call may or may not have reached the provider.
    Started,
    /// Finished, with what it produced.
    Done(T),
}

impl<T> Step<T> {
    /// Whether it finished.
    pub fn is_done(&self) -> bool {
        matches!(self, Step::Done(_))
    }

    /// What it produced, if it finished.
    pub fn done(&self) -> Option<&T> {
        match self {
            Step::Done(v) => Some(v),
            _ => None,
        }
    }
}

/// Everything the flow knows of one order.
///
/// Read forward-compatibly: every field but the key and the order has a default, so a
/// record written by an older release (without a field added since) still reads, and
/// fields a newer release added are kept as they are ([`OrderRecord::unknown`]) and
/// written back with the record, so a runner of an older release never erases a newer
/// one's step state (a journal whose schema is newer than this release's is refused at
/// open besides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// `channel:order id`.
    pub key: String,
    /// The order as the channel gave it (its personal fields blanked once purged).
    pub order: Order,
    /// The fulfilment provider chosen for it.
    #[serde(default)]
    pub fulfilment: Option<String>,
    /// The hand-over to the fulfilment provider.
    #[serde(default)]
    pub submission: Step<SubmissionReceipt>,
    /// The parcel's tracking, once shipped.
    #[serde(default)]
    pub shipped: Step<Tracking>,
    /// The shipment confirmation on the channel (its reference, if any).
    #[serde(default)]
    pub confirmation: Step<Option<String>>,
    /// Review invitations, by platform (and `platform/part` for an invitation of several
    /// calls).
    #[serde(default)]
    pub invitations: BTreeMap<String, Step<InvitationReceipt>>,
    /// Why the order waits for a person, if it does (the flow does not guess).
    #[serde(default)]
    pub attention: Option<String>,
    /// When the flow found every step done (schema 1).
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// When its personal fields were purged, if they were (schema 1).
    #[serde(default)]
    pub purged_at: Option<DateTime<Utc>>,
    /// When the order is next worth working on (a shipment check, a retry after a
    /// failure); `None`: now (schema 2).
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// Failed attempts in a row at its current step (schema 2).
    #[serde(default)]
    pub failures: u32,
    /// The last failure, while the step has not succeeded since (schema 2).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Why the flow's work on it ended without completing it, if it did (schema 2): an
    /// operator cancelled it (`commerce resolve --cancel`), or every line was cancelled on
    /// the channel (the buyer's request accepted, and the hand-over cancelled).
    #[serde(default)]
    pub cancelled: Option<String>,
    /// When the flow's work on it ended without completing it (schema 2): an operator
    /// cancelled it, or every line was cancelled on the channel; its personal fields are
    /// purged like a completed order's.
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the fulfilment provider first reported the order shipped without a tracking
    /// code (schema 2).
    #[serde(default)]
    pub shipped_untracked_since: Option<DateTime<Utc>>,
    /// The review platforms configured when the order was seen: it is completed only with
    /// an invitation on each (schema 2; empty: the runner's own).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Lines taken out of the order while the flow worked on it (cancelled on the channel,
    /// or at the buyer's request), with why: never handed over, confirmed or named in an
    /// invitation (schema 2).
    #[serde(default)]
    pub dropped_lines: BTreeMap<String, String>,
    /// Lines whose cancellation request was decided once (shipped anyway, or referred to a
    /// person), with the decision: the request is not looked at again (schema 2).
    #[serde(default)]
    pub kept_lines: BTreeMap<String, String>,
    /// Whether the order was split over several fulfilment providers (no one had stock
    /// for every line), and how far that went (schema 2; written as the fields `split`,
    /// `parts_added` and `parts_done`).
    ///
    /// Flattened, and declared before `unknown`: serde takes its three fields out of the
    /// record before `unknown` collects the rest (a test keeps them from being written
    /// twice).
    #[serde(flatten)]
    pub split: Split,
    /// The fulfilment provider reported the order partly shipped (said once in the
    /// history; bol is confirmed when every line has left) (schema 2).
    #[serde(default)]
    pub partly_shipped: bool,
    /// For a part of a split order: the key of the order it was split from (schema 2).
    #[serde(default)]
    pub part_of: Option<String>,
    /// The review invitation is sent by another record (the order a part was split from),
    /// so this one sends none (schema 2).
    #[serde(default)]
    pub invites_elsewhere: bool,
    /// When the hand-over was last sent (saved with the submission's `Started`), by the
    /// runner's clock; `None` for a hand-over recorded otherwise (an operator's resolve, a
    /// release before this field). A stock pass takes a handed-over order off a reserving
    /// warehouse count made before this time (or when it is `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over_at: Option<DateTime<Utc>>,
    /// Seen by the first listing of a journal that knew no order (new, or one that replaced a
    /// lost one): it is looked up at the provider before it is created, where the provider
    /// can, in case a journal before this one handed it over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub look_up_first: bool,
    /// The steps as they stood before and after an operator's last `resolve`, so that it
    /// can be undone (`commerce reopen`) while the flow has not acted on it since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolution>,
    /// Fields this release does not know (written by a newer one), kept as they were and
    /// written back with the record.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// An operator's resolve, kept to be undone: the steps before and after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// When.
    pub at: DateTime<Utc>,
    /// The steps before it.
    pub before: StepState,
    /// The steps it left.
    pub after: StepState,
}

/// The fields of a record a resolve changes (no personal data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    /// [`OrderRecord::fulfilment`].
    pub fulfilment: Option<String>,
    /// [`OrderRecord::submission`].
    pub submission: Step<SubmissionReceipt>,
    /// [`OrderRecord::shipped`].
    pub shipped: Step<Tracking>,
    /// [`OrderRecord::shipped_untracked_since`].
    pub shipped_untracked_since: Option<DateTime<Utc>>,
    /// [`OrderRecord::partly_shipped`].
    pub partly_shipped: bool,
    /// [`OrderRecord::confirmation`].
    pub confirmation: Step<Option<String>>,
    /// [`OrderRecord::invitations`].
    pub invitations: BTreeMap<String, Step<InvitationReceipt>>,
    /// [`OrderRecord::attention`].
    pub attention: Option<String>,
    /// [`OrderRecord::cancelled`].
    pub cancelled: Option<String>,
    /// [`OrderRecord::cancelled_at`].
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl StepState {
    /// The steps of `r`.
    pub fn of(r: &OrderRecord) -> Self {
        StepState {
            fulfilment: r.fulfilment.clone(),
            submission: r.submission.clone(),
            shipped: r.shipped.clone(),
            shipped_untracked_since: r.shipped_untracked_since,
            partly_shipped: r.partly_shipped,
            confirmation: r.confirmation.clone(),
            invitations: r.invitations.clone(),
            attention: r.attention.clone(),
            cancelled: r.cancelled.clone(),
            cancelled_at: r.cancelled_at,
        }
    }

    /// Puts these steps back on `r`.
    pub fn restore(self, r: &mut OrderRecord) {
        r.fulfilment = self.fulfilment;
        r.submission = self.submission;
        r.shipped = self.shipped;
        r.shipped_untracked_since = self.shipped_untracked_since;
        r.partly_shipped = self.partly_shipped;
        r.confirmation = self.confirmation;
        r.invitations = self.invitations;
        r.attention = self.attention;
        r.cancelled = self.cancelled;
        r.cancelled_at = self.cancelled_at;
    }
}

/// Whether an order was split over several fulfilment providers, and how far that went.
/// Each state but `Whole` keeps the parts (each provider's part is a record of its own); an
/// order is split when it has parts ([`Split::is_empty`] says it is whole). Written as the
/// fields `split`, `parts_added` and `parts_done`; `Ended` always with `parts_added`, which
/// is how the flow writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "SplitFields", into = "SplitFields")]
pub enum Split {
    /// Not split: one provider ships every line.
    #[default]
    Whole,
    /// The parts are chosen: written before they are added, so a crash in between adds
    /// the same parts.
    Planned(Vec<SplitPart>),
    /// The parts are in the journal; the order waits for them to end.
    Added(Vec<SplitPart>),
    /// Every part ended, and the lines they shipped are this order's lines (the others
    /// dropped): its review invitation goes next.
    Ended(Vec<SplitPart>),
}

impl Split {
    /// The parts (none when whole).
    pub fn parts(&self) -> &[SplitPart] {
        match self {
            Split::Whole => &[],
            Split::Planned(p) | Split::Added(p) | Split::Ended(p) => p,
        }
    }

    /// Whether its parts were added to the journal (and may have ended).
    pub fn parts_added(&self) -> bool {
        matches!(self, Split::Added(_) | Split::Ended(_))
    }

    /// Whether every part ended.
    pub fn has_ended(&self) -> bool {
        matches!(self, Split::Ended(_))
    }

    /// Whether there is no part: the order is whole.
    pub fn is_empty(&self) -> bool {
        self.parts().is_empty()
    }

    /// The parts, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, SplitPart> {
        self.parts().iter()
    }
}

impl<'a> IntoIterator for &'a Split {
    type Item = &'a SplitPart;
    type IntoIter = std::slice::Iter<'a, SplitPart>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// [`Split`] as the journal writes it: the fields of schema 2.
#[derive(Serialize, Deserialize)]
struct SplitFields {
    #[serde(default)]
    split: Vec<SplitPart>,
    #[serde(default)]
    parts_added: bool,
    #[serde(default)]
    parts_done: bool,
}

impl From<SplitFields> for Split {
    fn from(f: SplitFields) -> Self {
        if f.parts_done {
            Split::Ended(f.split)
        } else if f.parts_added {
            Split::Added(f.split)
        } else if f.split.is_empty() {
            Split::Whole
        } else {
            Split::Planned(f.split)
        }
    }
}

impl From<Split> for SplitFields {
    fn from(s: Split) -> Self {
        let (parts_added, parts_done) = (s.parts_added(), s.has_ended());
        let split = match s {
            Split::Whole => Vec::new(),
            Split::Planned(p) | Split::Added(p) | Split::Ended(p) => p,
        };
        SplitFields {
            split,
            parts_added,
            parts_done,
        }
    }
}

/// One provider's part of a split order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPart {
    /// The part's record key: the order's key, `/`, the provider.
    pub key: String,
    /// The fulfilment provider.
    pub provider: String,
    /// Its lines (`line_id`s).
    pub lines: Vec<String>,
}

impl OrderRecord {
    /// A record for an order just seen.
    pub fn new(order: Order) -> Self {
        OrderRecord {
            key: format!("{}:{}", order.channel, order.id),
            order,
            fulfilment: None,
            submission: Step::NotStarted,
            shipped: Step::NotStarted,
            confirmation: Step::NotStarted,
            invitations: BTreeMap::new(),
            attention: None,
            completed_at: None,
            purged_at: None,
            due: None,
            failures: 0,
            last_error: None,
            cancelled: None,
            cancelled_at: None,
            platforms: Vec::new(),
            shipped_untracked_since: None,
            dropped_lines: BTreeMap::new(),
            kept_lines: BTreeMap::new(),
            split: Split::Whole,
            partly_shipped: false,
            part_of: None,
            invites_elsewhere: false,
            look_up_first: false,
            handed_over_at: None,
            resolved: None,
            unknown: serde_json::Map::new(),
        }
    }

    /// Blanks the order's personal fields (names, e-mail addresses, street, house number,
    /// postcode, city, phone, company), keeping its ids, country, lines, steps and
    /// references, and notes when.
    pub fn purge_personal(&mut self, now: DateTime<Utc>) {
        let c = &mut self.order.customer;
        c.email.clear();
        c.first_name = None;
        c.last_name = None;
        let blank = |a: &mut commerce_core::Address| {
            let country = std::mem::take(&mut a.country);
            *a = commerce_core::Address {
                country,
                ..Default::default()
            };
        };
        blank(&mut self.order.shipping_address);
        if let Some(b) = &mut self.order.billing_address {
            blank(b);
        }
        self.purged_at = Some(now);
    }

    /// Whether every step is done for these review platforms.
    pub fn is_complete(&self, platforms: &[String]) -> bool {
        (self.confirmation.is_done() || self.split.has_ended())
            && (self.invites_elsewhere
                || platforms
                    .iter()
                    .all(|p| self.invitations.get(p).is_some_and(Step::is_done)))
    }

    /// When the flow's work on it ended for good: completed, or cancelled by an operator.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.or(self.cancelled_at)
    }

    /// Whether it waits for a person (`commerce attention` lists it): stopped for one, and
    /// neither completed nor cancelled by an operator.
    pub fn needs_person(&self) -> bool {
        self.attention.is_some() && self.cancelled.is_none() && self.completed_at.is_none()
    }

    /// Whether the flow still has work on it: not completed, not waiting for a person,
    /// not cancelled by an operator.
    pub fn is_open(&self) -> bool {
        self.completed_at.is_none() && self.attention.is_none() && self.cancelled.is_none()
    }

    /// How far along the order is, for claiming ([`Stage::rank`]).
    pub fn rank(&self) -> i32 {
        self.position().rank()
    }

    /// Where the order stands ([`Stage::of`]).
    pub fn position(&self) -> Stage {
        Stage::of(self)
    }

    /// Where the order stands, in a word: `completed`, `cancelled`, `attention`, `split`
    /// (its parts go on as records of their own), or the step it is at (`route`, `submit`,
    /// `shipment`, `confirm`, `invite`).
    pub fn stage(&self) -> &'static str {
        self.position().name()
    }
}

/// A line of an order's history: what a runner (or an operator) did to it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The runner, or `operator` for a change made with `commerce resolve` / `retry`.
    pub by: String,
    /// What happened.
    pub note: String,
}

/// An order held by a runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The order.
    pub key: String,
    /// The runner holding it.
    pub runner: String,
    /// Until when, unless renewed.
    pub until: DateTime<Utc>,
}

/// A journal operation that did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The storage failed (the file, the database): a failure that may pass (a dropped
    /// connection, a lock held too long); a write is tried again.
    #[error("journal: {0}")]
    Storage(String),
    /// The storage cannot be written until someone acts: a full disk, a file past its size
    /// limit, a read-only file or database, a failing disk, a corrupt file. Not tried
    /// again: a run stops.
    #[error("journal: it cannot be written: {0}")]
    Unwritable(String),
    /// A record does not read (edited by hand, cut short): not tried again; the record is
    /// kept as it is (see [`Journal::unreadable`]).
    #[error("journal: {0}")]
    Unreadable(String),
    /// The journal's schema is not this release's to change: written by a newer release,
    /// or an applied migration differs from this release's (see [`MigrationError`]). Not
    /// tried again.
    #[error("journal: {0}")]
    Migration(#[from] MigrationError),
    /// The runner's lease on the order ended and another runner took it: the runner must
    /// stop working on it (the other one settles whatever was under way).
    #[error("journal: the lease on {key} was lost to another runner")]
    LeaseLost {
        /// The order.
        key: String,
    },
    /// The order is held by a runner right now.
    #[error("journal: {key} is being worked on by runner {runner} (lease until {until}); try again after")]
    Busy {
        /// The order.
        key: String,
        /// The runner.
        runner: String,
        /// Its lease's end.
        until: DateTime<Utc>,
    },
    /// No such order.
    #[error("journal: no order {0}")]
    NotFound(String),
    /// A change refused (an operator's request that does not fit the order).
    #[error("journal: {0}")]
    Refused(String),
    /// There is no journal at the path (and none is to be created there).
    #[error(
        "no journal at {path}: give the journal the orders were worked with (--journal PATH or \
         COMMERCE_JOURNAL); on a first run, create one with `commerce init` (a new journal knows no \
         order, so orders already handed over would be handed over again)"
    )]
    Missing {
        /// The path given.
        path: String,
    },
    /// The journal serves another account of the channel than the client given: its orders
    /// are not this client's to work.
    #[error(
        "journal: it serves {channel} {recorded}, not {given}: give the journal of {given} (--journal), or, if \
         these are new credentials of the same shop, say so with `commerce run --new-credentials`"
    )]
    OtherAccount {
        /// The channel.
        channel: String,
        /// The account the journal serves.
        recorded: String,
        /// The account of the client given.
        given: String,
    },
    /// The path names something that is not a journal (refused before anything was opened,
    /// created or changed).
    #[error("journal: {path} is {why}")]
    NotAJournal {
        /// The path given.
        path: String,
        /// What it is instead.
        why: String,
    },
}

/// Why a journal's schema is refused: nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The journal was written by a newer release: this one would lose what it added.
    #[error(
        "written by a newer release (schema {found}; this release reads up to {supported}): upgrade this \
         program rather than let it rewrite the journal"
    )]
    Newer {
        /// The journal's schema.
        found: i64,
        /// The newest schema this release knows.
        supported: i64,
    },
    /// A migration recorded as applied is not the one this release carries under its
    /// number (its SQL was edited after it was applied, or another build applied another
    /// one): the journal's schema is not what this release expects.
    #[error(
        "migration {number} ({name}) applied to this journal differs from this release's (checksum {recorded}, \
         this release's {expected}): a migration is never changed once released; use the release that \
         applied it"
    )]
    Changed {
        /// The migration's number.
        number: i64,
        /// Its name.
        name: String,
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The checksum of this release's migration.
        expected: String,
    },
}

impl JournalError {
    pub(crate) fn storage(e: impl std::fmt::Display) -> Self {
        JournalError::Storage(e.to_string())
    }

    /// Whether the same operation tried again may succeed: a storage failure that may
    /// pass (a lock held too long, a dropped connection, a serialization failure). Not a
    /// storage that cannot be written until someone acts, nor a refusal.
    pub fn is_retryable(&self) -> bool {
        matches!(self, JournalError::Storage(_))
    }

    /// Whether the storage failed (retryable or not), rather than the operation being
    /// refused for what the journal holds.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            JournalError::Storage(_)
                | JournalError::Unwritable(_)
                | JournalError::Unreadable(_)
                | JournalError::Migration(_)
        )
    }
}

/// Storage failures become [`Error::Storage`](commerce_core::Error::Storage) (retryable
/// where they may pass); the others (a missing journal, another account, a refused
/// change...) configuration errors.
impl From<JournalError> for commerce_core::Error {
    fn from(e: JournalError) -> Self {
        if e.is_storage() {
            commerce_core::Error::storage(e.to_string(), e.is_retryable())
        } else {
            commerce_core::Error::config(e.to_string())
        }
    }
}

/// Every record of a journal that reads, and each one that does not with why
/// ([`Journal::census`]).
pub type Census = (Vec<OrderRecord>, Vec<(String, String)>);

/// A change an operator makes to one order (see [`Journal::amend`]).
pub type Amendment<'a> = &'a mut (dyn FnMut(&mut OrderRecord) -> Result<String, String> + Send);

/// Where the flow keeps its records, its schedule and its leases. An SQLite file by
/// default ([`SqliteJournal`], shared by several runner processes on one machine); a trait
/// so that a server database can serve runners on several machines (every operation is
/// one transaction, and [`Journal::claim`] is `SELECT … FOR UPDATE SKIP LOCKED` there).
///
/// Every operation is async and none blocks the caller's runtime: a backend whose storage
/// blocks (SQLite's file locks and `fsync`, a database's round trips) does that work off
/// the runtime's threads, so a slow write stalls neither the other workers of a runner nor
/// the renewals of its leases, which are futures of one task. The memory journal answers
/// at once, without leaving the runtime.
#[async_trait::async_trait]
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// The record of `key`, if any.
    async fn load(&self, key: &str) -> Result<Option<OrderRecord>, JournalError>;

    /// Every record, ordered by key.
    async fn all(&self) -> Result<Vec<OrderRecord>, JournalError>;

    /// Records an order just seen on its channel, unless the journal knows it already
    /// (another runner may have added it first); returns whether it was added.
    async fn add(&self, record: &OrderRecord) -> Result<bool, JournalError>;

    /// Takes one open order of one of `channels` that is due at `now` and not held by a
    /// runner (or whose runner's lease ended before `now`), and leases it to `runner`
    /// until `until`, in one transaction. The one furthest along first
    /// ([`OrderRecord::rank`]), then the soonest due.
    async fn claim(
        &self,
        runner: &str,
        channels: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OrderRecord>, JournalError>;

    /// Writes a record `runner` holds, renews the lease to `until` and adds `note` to the
    /// order's history; durable when it returns. [`JournalError::LeaseLost`] when another
    /// runner holds the order now (nothing is written).
    async fn save(
        &self,
        runner: &str,
        until: DateTime<Utc>,
        record: &OrderRecord,
        note: &str,
    ) -> Result<(), JournalError>;

    /// Extends the lease `runner` holds on `key` to `until` (a heartbeat while a call is
    /// under way); [`JournalError::LeaseLost`] when another runner holds the order now.
    async fn renew(&self, key: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError>;

    /// Writes a record `runner` holds, like [`Journal::save`], and gives up the lease.
    async fn release(&self, runner: &str, record: &OrderRecord, note: &str) -> Result<(), JournalError>;

    /// Changes an order no runner holds (an operator's decision): `change` edits the
    /// record and returns the history note, or refuses with a reason. The order is due
    /// at once afterwards. `change` may be called more than once (on a fresh copy of the
    /// record each time) when the order was written meanwhile.
    async fn amend(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: Amendment<'_>,
    ) -> Result<OrderRecord, JournalError>;

    /// The history of `key`, oldest first.
    async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, JournalError>;

    /// The orders held by a runner whose lease has not ended at `now`.
    async fn leases(&self, now: DateTime<Utc>) -> Result<Vec<LeaseInfo>, JournalError>;

    /// When the soonest open order of `channels` no runner holds is due (`None`: no open
    /// order is left).
    async fn next_due(&self, channels: &[String]) -> Result<Option<DateTime<Utc>>, JournalError>;

    /// Blanks the personal fields of the orders completed (or cancelled by an operator)
    /// before `before` (see
    /// [`OrderRecord::purge_personal`]); returns how many were purged.
    async fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, JournalError>;

    /// Where the journal is, for people (a file's path; a database's address without its
    /// password).
    fn location(&self) -> String;

    /// Records that this journal serves `account` on `channel` ([`SalesChannel::account`](commerce_core::SalesChannel::account)),
    /// unless it records another one: then [`JournalError::OtherAccount`], and nothing
    /// changes; with `replace`, the new account is recorded instead (an operator's
    /// decision: the same shop with new credentials). The default records nothing.
    async fn bind_account(&self, channel: &str, account: &str, replace: bool) -> Result<(), JournalError> {
        let _ = (channel, account, replace);
        Ok(())
    }

    /// The records that do not read (edited by hand, cut short), with why: kept as they
    /// are, never worked on, left out of [`Journal::all`].
    async fn unreadable(&self) -> Result<Vec<(String, String)>, JournalError> {
        Ok(self.census().await?.1)
    }

    /// [`Journal::all`] and [`Journal::unreadable`] from one read of the journal.
    async fn census(&self) -> Result<Census, JournalError> {
        Ok((self.all().await?, Vec::new()))
    }

    /// Where the pass `name` stands (`None`: it never ran).
    async fn pass(&self, name: &str) -> Result<Option<PassState>, JournalError>;

    /// Takes the pass `name` for `runner` until `until`, in one transaction, when
    /// [`PassState::may_claim`] at `now` (no other runner holds it, and it is due or
    /// `force`), and records `now` as its start; returns whether it was taken. This is what
    /// makes several runners run one pass at a time.
    async fn claim_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        force: bool,
    ) -> Result<bool, JournalError>;

    /// Extends the lease `runner` holds on the pass `name` to `until`;
    /// [`JournalError::LeaseLost`] when it does not hold it (another runner took it over).
    async fn renew_pass(&self, name: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError>;

    /// Ends the pass `runner` holds: gives up its lease, records `now` as its end with
    /// `summary`, and makes the next one due at `next_due`. [`JournalError::LeaseLost`]
    /// (nothing written) when `runner` does not hold it.
    async fn end_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), JournalError>;

    /// Every offer record, ordered by channel and offer id. Records that do not read are
    /// left out (as orders are).
    async fn offers(&self) -> Result<Vec<OfferRecord>, JournalError>;

    /// Writes offer records (added or replaced, keyed by channel and offer id), each with
    /// its history note where it has one (under [`OfferRecord::key`], by `runner`), in one
    /// transaction, while `runner` holds the pass `pass`; [`JournalError::LeaseLost`]
    /// (nothing written) when it does not.
    async fn save_offers(
        &self,
        pass: &str,
        runner: &str,
        records: &[(OfferRecord, Option<String>)],
    ) -> Result<(), JournalError>;

    /// Every return record, ordered by key. Records that do not read are left out (as
    /// orders are).
    async fn returns(&self) -> Result<Vec<ReturnRecord>, JournalError>;

    /// The return record of `key` ([`return_key`]), if any.
    async fn load_return(&self, key: &str) -> Result<Option<ReturnRecord>, JournalError> {
        Ok(self.returns().await?.into_iter().find(|r| r.key == key))
    }

    /// Writes return records (added or replaced, by [`ReturnRecord::key`]), each with its
    /// history note where it has one (by `runner`), in one transaction, while `runner`
    /// holds the pass `pass` ([`returns_pass`]); [`JournalError::LeaseLost`] (nothing
    /// written) when it does not. Durable when it returns.
    async fn save_returns(
        &self,
        pass: &str,
        runner: &str,
        records: &[(ReturnRecord, Option<String>)],
    ) -> Result<(), JournalError>;

    /// Changes a return record (a person's decision) while no runner holds the pass `pass`
    /// (its lease ended before `now`, or nobody took it): `change` edits the record and
    /// returns the history note (written by `by`), or refuses with a reason
    /// ([`JournalError::Refused`]). [`JournalError::Busy`] (nothing written) while a runner
    /// holds the pass, [`JournalError::NotFound`] for an unknown key. The check and the
    /// write are one transaction with respect to [`Journal::claim_pass`]: a runner that
    /// takes the pass afterwards reads the changed record. The record is due at once
    /// afterwards (`due = None`). `change` may be called more than once (on a fresh copy of
    /// the record each time) when the record or the pass was written meanwhile. A lease on
    /// the pass that ended before `now` is taken from its runner by the change, so a runner
    /// that outlived its lease cannot write over it ([`JournalError::LeaseLost`] at its next
    /// [`Journal::save_returns`]).
    async fn amend_return(
        &self,
        pass: &str,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: ReturnAmendment<'_>,
    ) -> Result<ReturnRecord, JournalError>;

    /// Journals a pushed event, in one transaction: true when it is journaled now, false when
    /// an event of that id already is (nothing changes). Durable when it returns: the push
    /// is answered only then. The default (a journal that keeps no events: a test's, another
    /// crate's) refuses, so the push is answered 503 and bol delivers it again.
    async fn add_event(&self, event: &EventRecord) -> Result<bool, JournalError> {
        let _ = event;
        Err(JournalError::Storage("this journal keeps no events".to_owned()))
    }

    /// The events of `channel` not acted on yet, oldest received first, at most `limit`
    /// (the default: none, a journal that keeps no events).
    async fn unhandled_events(&self, channel: &str, limit: usize) -> Result<Vec<EventRecord>, JournalError> {
        let _ = (channel, limit);
        Ok(Vec::new())
    }

    /// Records that the flow acted on the event `id` at `at`. Idempotent: an event already
    /// handled keeps its first time; an unknown id is no error (the default: nothing kept).
    async fn event_handled(&self, id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
        let _ = (id, at);
        Ok(())
    }

    /// What the journal holds of pushed events (the default: nothing).
    async fn event_stats(&self) -> Result<EventStats, JournalError> {
        Ok(EventStats::default())
    }

    /// Deletes the events handled before `before` (never one not handled yet); returns how
    /// many (the default: none kept, none deleted).
    async fn purge_events(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        let _ = before;
        Ok(0)
    }
}

/// The columns a journal keeps beside each record, for its queries.
pub(crate) struct Columns<'a> {
    /// When its work ended (completed or cancelled), until its personal data is purged.
    pub(crate) completed_at: Option<DateTime<Utc>>,
    /// Whether the flow still works on it.
    pub(crate) open: bool,
    /// When it is next due.
    pub(crate) due: Option<DateTime<Utc>>,
    /// How far along it is ([`OrderRecord::rank`]): of the orders due, the furthest along
    /// is claimed first.
    pub(crate) rank: i32,
    /// Its channel.
    pub(crate) channel: &'a str,
}

impl OrderRecord {
    /// The columns kept beside the record.
    pub(crate) fn columns(&self) -> Columns<'_> {
        Columns {
            // Purged records leave the purge's index.
            completed_at: self.closed_at().filter(|_| self.purged_at.is_none()),
            open: self.is_open(),
            due: self.due,
            rank: self.rank(),
            channel: &self.order.channel,
        }
    }
}

/// A record as a journal stores it (JSON).
pub(crate) fn read_record(text: &str) -> Result<OrderRecord, JournalError> {
    serde_json::from_str(text).map_err(|e| JournalError::Unreadable(e.to_string()))
}

/// Stored `(key, record)` rows, read once: the records that read ([`Journal::all`]), and
/// the rows that do not, with why ([`Journal::unreadable`]).
pub(crate) fn split_rows(rows: Vec<(String, String)>) -> Census {
    let mut readable = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (key, text) in rows {
        match read_record(&text) {
            Ok(r) => readable.push(r),
            Err(e) => unreadable.push((key, e.to_string())),
        }
    }
    (readable, unreadable)
}

/// A timestamp as the SQLite journal stores it: fixed width, so text order is time order.
/// Times past the year 9999 are kept as its last second (text order holds for four-digit
/// years only).
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    let last = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let first = DateTime::<Utc>::from_timestamp(-62_167_219_200, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    at.clamp(first, last)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record of a bol order with no details, for the journal's unit tests.
    pub(crate) fn record(id: &str) -> OrderRecord {
        OrderRecord::new(Order {
            id: id.into(),
            channel: "bol".into(),
            ..Default::default()
        })
    }

    #[test]
    fn completion_needs_the_confirmation_and_every_invitation() {
        let mut r = record("1");
        let platforms = vec!["safeshop".to_owned()];
        assert!(!r.is_complete(&platforms));
        r.confirmation = Step::Done(None);
        assert!(!r.is_complete(&platforms));
        r.invitations.insert(
            "safeshop".into(),
            Step::Done(InvitationReceipt {
                platform: "safeshop".into(),
                reference: None,
                already_invited: false,
            }),
        );
        assert!(r.is_complete(&platforms));
    }

    /// A field a newer release added survives a rewrite by this one.
    #[test]
    fn fields_of_a_newer_release_are_written_back() {
        let mut text: serde_json::Value = serde_json::to_value(record("1")).unwrap();
        text["returns"] = serde_json::json!({"step": "announced", "reference": "R-9"});
        let mut r: OrderRecord = serde_json::from_value(text).unwrap();
        r.failures = 2;
        let again = serde_json::to_value(&r).unwrap();
        assert_eq!(again["returns"]["reference"], "R-9");
        assert_eq!(again["failures"], 2);
    }

    /// The split state reads from the three fields every release wrote, in each of their
    /// eight combinations, beside a field of a newer release: the three never reach
    /// `unknown`, are written once each, and read back as they were (a `parts_done` without
    /// `parts_added`, which no release wrote, is written with it). A record with no part is
    /// whole whatever its flags, as it always was for the flow.
    #[test]
    fn the_split_fields_read_and_write_as_every_release_wrote_them() {
        let part = serde_json::json!([{"key": "bol:1/shopwedo", "provider": "shopwedo", "lines": ["L1"]}]);
        for parts in [serde_json::json!([]), part] {
            for added in [false, true] {
                for done in [false, true] {
                    let mut text = serde_json::to_value(record("1")).unwrap();
                    text["split"] = parts.clone();
                    text["parts_added"] = added.into();
                    text["parts_done"] = done.into();
                    text["returns"] = serde_json::json!({"step": "announced"});
                    let r: OrderRecord = serde_json::from_value(text.clone()).unwrap();
                    let case = format!("split {parts}, added {added}, done {done}: {r:?}");
                    for key in ["split", "parts_added", "parts_done"] {
                        assert!(!r.unknown.contains_key(key), "{case}");
                    }
                    assert_eq!(r.unknown.len(), 1, "{case}");
                    assert_eq!(r.split.has_ended(), done, "{case}");
                    let whole = parts.as_array().unwrap().is_empty();
                    assert_eq!(r.split.is_empty(), whole, "{case}");
                    if whole {
                        assert_eq!(r.position(), Stage::Route, "{case}");
                    } else {
                        let stage = if done { Stage::Invite } else { Stage::Split };
                        assert_eq!(r.position(), stage, "{case}");
                    }
                    let written = serde_json::to_string(&r).unwrap();
                    for key in ["\"split\":", "\"parts_added\":", "\"parts_done\":"] {
                        assert_eq!(written.matches(key).count(), 1, "{case}: {written}");
                    }
                    let mut expected = text;
                    if done {
                        expected["parts_added"] = true.into();
                    }
                    assert_eq!(serde_json::to_value(&r).unwrap(), expected, "{case}");
                }
            }
        }
    }

    /// Storage failures are storage errors, retryable only where they may pass; refusals
    /// stay configuration errors; none says a request may have reached a provider.
    #[test]
    fn storage_failures_are_storage_errors() {
        use commerce_core::Error;
        let cases = [
            (JournalError::Storage("database is locked".into()), Some(true)),
            (
                JournalError::Unwritable("database or disk is full".into()),
                Some(false),
            ),
            (
                JournalError::Migration(MigrationError::Newer {
                    found: 9,
                    supported: 5,
                }),
                Some(false),
            ),
            (read_record("{\"key\":").unwrap_err(), Some(false)),
            (JournalError::NotFound("bol:1".into()), None),
            (
                JournalError::Missing {
                    path: "/nowhere".into(),
                },
                None,
            ),
        ];
        for (e, retryable) in cases {
            let text = e.to_string();
            assert_eq!(e.is_storage(), retryable.is_some(), "{text}");
            let converted = Error::from(e);
            match retryable {
                Some(r) => {
                    assert!(
                        matches!(converted, Error::Storage { retryable, .. } if retryable == r),
                        "{converted:?}"
                    );
                    assert_eq!(converted.is_retryable(), r, "{text}");
                    assert_eq!(converted.to_string(), text, "the journal's words");
                }
                None => assert!(matches!(converted, Error::Config { .. }), "{converted:?}"),
            }
            assert!(!converted.may_have_reached_server(), "{text}");
        }
    }

    #[test]
    fn stamps_sort_as_time() {
        let a = DateTime::parse_from_rfc3339("2026-11-30T09:59:59.5Z")
            .unwrap()
            .to_utc();
        let b = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        assert!(stamp(a) < stamp(b));
        assert_eq!(stamp(b).len(), stamp(a).len());
    }
}
