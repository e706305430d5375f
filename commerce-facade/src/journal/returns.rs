//! What the journal keeps of the returns loop: one record per return item of a sales
//! channel (bol: one RMA id), from the buyer's return through the warehouse back to the
//! channel. The returns loop runs as a pass ([`Journal::claim_pass`](super::Journal::claim_pass)
//! on [`RETURNS_PASS`]-named passes): while a runner holds the pass it alone writes return
//! records ([`Journal::save_returns`](super::Journal::save_returns)); a person's decision
//! ([`Journal::amend_return`](super::Journal::amend_return)) is refused meanwhile, so
//! neither overwrites the other.

use chrono::{DateTime, Utc};
use commerce_core::{Announcement, Arrival, HandlingResult};
use serde::{Deserialize, Serialize};

use super::Step;

/// The name of a channel's returns pass (`returns:bol`).
pub fn returns_pass(channel: &str) -> String {
    format!("returns:{channel}")
}

/// The key of a return item's record and history (`return:bol:86123452`).
pub fn return_key(channel: &str, rma_id: &str) -> String {
    format!("return:{channel}:{rma_id}")
}

/// Where the returns loop found the item's order: the record (or split part) and the
/// warehouse that shipped the line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnMatch {
    /// The order's key (`bol:1043965710`).
    pub order_key: String,
    /// The key of the record that shipped the line: the order's, or its split part's
    /// (`bol:1043965710/shopwedo`).
    pub part_key: String,
    /// The warehouse that shipped it.
    pub provider: String,
    /// The warehouse's reference of that hand-over.
    pub reference: String,
    /// The channel's order line(s) of the EAN.
    pub line_ids: Vec<String>,
}

/// A person's choice of how to handle the return on the channel (`commerce resolve
/// return:… --handle RESULT --quantity N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleDecision {
    /// The result to send.
    pub result: HandlingResult,
    /// The quantity to send.
    pub quantity: u32,
    /// Who decided.
    pub by: String,
}

/// Everything the returns loop knows of one return item.
///
/// Read forward-compatibly, as [`OrderRecord`](super::OrderRecord): every field but the
/// identifiers has a default, and fields a newer release added are kept
/// ([`ReturnRecord::unknown`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// [`return_key`] of its channel and item.
    pub key: String,
    /// The sales channel (`bol`).
    pub channel: String,
    /// The channel's return (several items of one order may share it).
    pub return_id: String,
    /// The channel's return item (bol RMA id): what is handled.
    pub rma_id: String,
    /// The channel's order id.
    pub order_id: String,
    /// The product's EAN.
    pub ean: String,
    /// The product's title, where known.
    #[serde(default)]
    pub title: Option<String>,
    /// How many units the buyer sends back.
    #[serde(default)]
    pub expected: u32,
    /// The buyer's reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// When the buyer registered it on the channel.
    #[serde(default)]
    pub registered_at: Option<DateTime<Utc>>,
    /// When the loop first saw it.
    #[serde(default)]
    pub seen_at: Option<DateTime<Utc>>,
    /// The parcel's track-and-trace code and transporter, where the channel gives them.
    #[serde(default)]
    pub track_and_trace: Option<String>,
    /// The parcel's transporter.
    #[serde(default)]
    pub transporter: Option<String>,
    /// By when the shop must handle it on the channel (`COMMERCE_RETURN_DAYS` after its
    /// registration), where configured.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// The order, part and warehouse it came from, once found.
    #[serde(default)]
    pub matched: Option<ReturnMatch>,
    /// The announcement at the warehouse.
    #[serde(default)]
    pub announcement: Step<Announcement>,
    /// When the announcement was last sent (its `Started`), by the runner's clock.
    #[serde(default)]
    pub announce_started_at: Option<DateTime<Utc>>,
    /// The announcement's answer was lost and the warehouse's look-up cannot tell whether it
    /// arrived: only a person's `retry` (they checked it did not) sends it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub announcement_unknown: bool,
    /// What the warehouse (or a person) last said of the goods.
    #[serde(default)]
    pub arrival: Option<Arrival>,
    /// Who said the goods arrived, when a person did (`commerce resolve --received`).
    #[serde(default)]
    pub received_by: Option<String>,
    /// How many times the warehouse was asked.
    #[serde(default)]
    pub checks: u32,
    /// When it was last asked.
    #[serde(default)]
    pub last_check: Option<DateTime<Utc>>,
    /// A person's choice of how to handle it; `None`: `RETURN_RECEIVED` with the quantity
    /// received, when it is what was expected.
    #[serde(default)]
    pub decision: Option<HandleDecision>,
    /// The handling on the channel (its reference: bol's process status id, if any).
    #[serde(default)]
    pub handling: Step<Option<String>>,
    /// What was (or is being) sent: result and quantity.
    #[serde(default)]
    pub handled_as: Option<(HandlingResult, u32)>,
    /// When the handling was last sent (its `Started`), by the runner's clock.
    #[serde(default)]
    pub handling_started_at: Option<DateTime<Utc>>,
    /// When the loop finished with it (handled, by the loop or on the channel's site).
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Why the loop left it to a person for good (`commerce resolve --leave`), if it did.
    #[serde(default)]
    pub left: Option<String>,
    /// Why it waits for a person, if it does.
    #[serde(default)]
    pub attention: Option<String>,
    /// When it is next worth a look (a warehouse check); `None`: at the next pass.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// Failed attempts in a row at its current step.
    #[serde(default)]
    pub failures: u32,
    /// The last failure, while the step has not succeeded since.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Fields this release does not know (written by a newer one), kept as they were.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// Where a return item stands, in the order the loop takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReturnStage {
    /// Its order and warehouse are not found yet.
    Match,
    /// The warehouse is not told yet (or its answer was lost).
    Announce,
    /// Waiting for the goods at the warehouse.
    Receipt,
    /// To handle on the channel (or its answer was lost).
    Handle,
    /// Handled.
    Completed,
    /// Left to a person for good.
    Left,
    /// Waiting for a person.
    Attention,
}

impl ReturnStage {
    /// Its name in `status` and `attention`.
    pub fn name(self) -> &'static str {
        match self {
            ReturnStage::Match => "match",
            ReturnStage::Announce => "announce",
            ReturnStage::Receipt => "receipt",
            ReturnStage::Handle => "handle",
            ReturnStage::Completed => "completed",
            ReturnStage::Left => "left",
            ReturnStage::Attention => "attention",
        }
    }
}

impl ReturnRecord {
    /// Where it stands.
    pub fn stage(&self) -> ReturnStage {
        if self.completed_at.is_some() {
            ReturnStage::Completed
        } else if self.left.is_some() {
            ReturnStage::Left
        } else if self.attention.is_some() {
            ReturnStage::Attention
        } else if self.matched.is_none() {
            ReturnStage::Match
        } else if !self.announcement.is_done() {
            ReturnStage::Announce
        } else if self.handling == Step::NotStarted && self.decision.is_none() && !self.received() {
            ReturnStage::Receipt
        } else {
            ReturnStage::Handle
        }
    }

    /// Whether the loop still works on it.
    pub fn is_open(&self) -> bool {
        self.completed_at.is_none() && self.left.is_none()
    }

    /// Whether it waits for a person.
    pub fn needs_person(&self) -> bool {
        self.is_open() && self.attention.is_some()
    }

    /// Whether the goods are known to have arrived (the warehouse or a person said so).
    pub fn received(&self) -> bool {
        matches!(self.arrival, Some(Arrival::Received { .. }))
    }

    /// How many units arrived, if they did.
    pub fn received_quantity(&self) -> Option<u32> {
        match self.arrival {
            Some(Arrival::Received { quantity, .. }) => Some(quantity),
            _ => None,
        }
    }
}

/// A person's change of a return record: edits it and returns the history note, or
/// refuses with a reason ([`Journal::amend_return`](super::Journal::amend_return)).
pub type ReturnAmendment<'a> = &'a mut (dyn FnMut(&mut ReturnRecord) -> Result<String, String> + Send);

/// A record as a journal stores it (JSON).
pub(crate) fn read_return(text: &str) -> Result<ReturnRecord, super::JournalError> {
    serde_json::from_str(text).map_err(|e| super::JournalError::Unreadable(e.to_string()))
}

/// A record as a journal stores it.
pub(crate) fn write_return(record: &ReturnRecord) -> Result<String, super::JournalError> {
    serde_json::to_string(record).map_err(|e| super::JournalError::Storage(e.to_string()))
}

/// A return as a journal writes it ([`Journal::save_returns`](super::Journal::save_returns)):
/// the columns kept beside the record, the record's text and its history note.
pub(crate) struct ReturnRow {
    /// [`ReturnRecord::key`].
    pub(crate) key: String,
    /// [`ReturnRecord::channel`].
    pub(crate) channel: String,
    /// [`ReturnRecord::rma_id`].
    pub(crate) rma_id: String,
    /// [`ReturnRecord::order_id`].
    pub(crate) order_id: String,
    /// [`ReturnRecord::is_open`].
    pub(crate) open: bool,
    /// The record as JSON.
    pub(crate) text: String,
    /// The history note, where it has one.
    pub(crate) note: Option<String>,
}

impl ReturnRow {
    /// The row of `record`.
    pub(crate) fn of(record: &ReturnRecord, note: Option<String>) -> Result<Self, super::JournalError> {
        Ok(Self {
            key: record.key.clone(),
            channel: record.channel.clone(),
            rma_id: record.rma_id.clone(),
            order_id: record.order_id.clone(),
            open: record.is_open(),
            text: write_return(record)?,
            note,
        })
    }
}

/// The rows of `records` ([`Journal::save_returns`](super::Journal::save_returns)).
pub(crate) fn return_rows(
    records: &[(ReturnRecord, Option<String>)],
) -> Result<Vec<ReturnRow>, super::JournalError> {
    records
        .iter()
        .map(|(r, note)| ReturnRow::of(r, note.clone()))
        .collect()
}

/// The records of stored rows (key, text); one that does not read is logged and passed
/// over ([`Journal::returns`](super::Journal::returns)).
pub(crate) fn readable_returns(rows: Vec<(String, String)>) -> Vec<ReturnRecord> {
    rows.into_iter()
        .filter_map(|(key, text)| match read_return(&text) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::error!(key, error = %e, "an unreadable return record was passed over");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_moves_through_its_stages_as_its_steps_are_done() {
        let mut r = ReturnRecord {
            key: return_key("bol", "86123452"),
            ..Default::default()
        };
        assert_eq!(r.key, "return:bol:86123452");
        assert_eq!(r.stage(), ReturnStage::Match);
        r.matched = Some(ReturnMatch::default());
        assert_eq!(r.stage(), ReturnStage::Announce);
        r.announcement = Step::Started;
        assert_eq!(r.stage(), ReturnStage::Announce);
        r.announcement = Step::Done(Announcement {
            provider: "shopwedo".into(),
            order_reference: "123".into(),
            rma_id: "86123452".into(),
            reference: None,
            sku: None,
            quantity: 1,
            at: Utc::now(),
        });
        assert_eq!(r.stage(), ReturnStage::Receipt);
        r.arrival = Some(Arrival::NotYet);
        assert_eq!(r.stage(), ReturnStage::Receipt);
        r.arrival = Some(Arrival::Received {
            quantity: 1,
            condition: None,
            at: None,
        });
        assert_eq!(r.stage(), ReturnStage::Handle);
        r.attention = Some("x".into());
        assert_eq!(r.stage(), ReturnStage::Attention);
        assert!(r.needs_person());
        r.completed_at = Some(Utc::now());
        assert_eq!(r.stage(), ReturnStage::Completed);
        assert!(!r.needs_person());
    }

    #[test]
    fn fields_of_a_newer_release_are_kept() {
        let text = r#"{"key":"return:bol:1","channel":"bol","return_id":"R","rma_id":"1","order_id":"O","ean":"E","future":{"a":1}}"#;
        let r = read_return(text).unwrap();
        assert_eq!(r.unknown["future"]["a"], 1);
        assert!(write_return(&r).unwrap().contains("\"future\""));
    }
}
