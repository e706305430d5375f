//! What the journal keeps for the loops that run as one pass over the whole shop (the stock
//! loop): each offer's last sync, and the pass itself (which runner holds it, when it is
//! next due). Several runners share one journal, so one of them runs a pass at a time and
//! a pass that finished makes the next one due an interval later, whoever runs it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the journal keeps of one offer of a sales channel: what the stock loop last read
/// of it and last gave it, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OfferRecord {
    /// The sales channel (`bol`).
    pub channel: String,
    /// The channel's offer id.
    pub offer_id: String,
    /// The product's EAN, as the channel gave it.
    #[serde(default)]
    pub ean: Option<String>,
    /// Who keeps the count ([`ChannelOffer::managed_by_shop`](commerce_core::ChannelOffer::managed_by_shop)),
    /// as last read or sent; `None` while unknown.
    #[serde(default)]
    pub managed_by_shop: Option<bool>,
    /// Shipped by the channel itself (bol FBB): never synced.
    #[serde(default)]
    pub fulfilled_by_channel: bool,
    /// The channel's amount when last read.
    #[serde(default)]
    pub seen_amount: Option<i64>,
    /// What the channel still sold when last read (bol `correctedStock`), as read or, where
    /// the channel did not say, as worked out.
    #[serde(default)]
    pub seen_corrected: Option<i64>,
    /// When it was last read.
    #[serde(default)]
    pub seen_at: Option<DateTime<Utc>>,
    /// When the channel last listed it among all the shop's offers (bol: the offers
    /// export); a pass reads the few offers it knows one by one until a new listing is due.
    #[serde(default)]
    pub listed_at: Option<DateTime<Utc>>,
    /// The last update the channel applied.
    #[serde(default)]
    pub sent: Option<SentStock>,
    /// The amount the last pass worked out, with its reasons (`None`: no pass has yet).
    #[serde(default)]
    pub computed: Option<u32>,
    /// The last pass's word on the offer (`same (8)`, `stock fell`, `kept: shopwedo down`).
    #[serde(default)]
    pub reason: Option<String>,
    /// When a pass last looked at it.
    #[serde(default)]
    pub checked_at: Option<DateTime<Utc>>,
    /// The warehouses whose counts listed its EAN at the last pass that read them all: a
    /// runner without one of them keeps the amount rather than work it out without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_by: Vec<String>,
    /// The channel's listing no longer has it (deleted, or out of the catalogue): not read
    /// one by one again until a listing has it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    /// Why it needs a person (no warehouse lists its EAN, a warehouse that may hold it did
    /// not answer, an update the channel refused); `None` when it does not.
    #[serde(default)]
    pub attention: Option<String>,
    /// Fields written by a newer release, kept as they are.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// An update a channel applied to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentStock {
    /// The amount given.
    pub amount: u32,
    /// The count's keeper given with it.
    pub managed_by_shop: bool,
    /// When it was sent (the request, not the channel's confirmation: the channel counts
    /// orders placed after its update, and the update is at least this late).
    pub at: DateTime<Utc>,
    /// The channel's reference (bol: process status id).
    #[serde(default)]
    pub reference: Option<String>,
}

impl OfferRecord {
    /// A record of an offer not seen before.
    pub fn new(channel: impl Into<String>, offer_id: impl Into<String>) -> Self {
        OfferRecord {
            channel: channel.into(),
            offer_id: offer_id.into(),
            ..Default::default()
        }
    }

    /// The key its history is kept under (`offer:bol:6ff7…`), beside the orders'.
    pub fn key(&self) -> String {
        offer_key(&self.channel, &self.offer_id)
    }
}

/// The history key of an offer of `channel`.
pub fn offer_key(channel: &str, offer_id: &str) -> String {
    format!("offer:{channel}:{offer_id}")
}

/// Why a runner may not write for the pass `name`: it does not hold it (any more).
pub(crate) fn pass_lost(name: &str) -> super::JournalError {
    super::JournalError::LeaseLost {
        key: format!("pass {name}"),
    }
}

/// A record as a journal stores it (JSON).
pub(crate) fn read_offer(text: &str) -> Result<OfferRecord, super::JournalError> {
    serde_json::from_str(text).map_err(|e| super::JournalError::Unreadable(e.to_string()))
}

/// A record as a journal stores it.
pub(crate) fn write_offer(record: &OfferRecord) -> Result<String, super::JournalError> {
    serde_json::to_string(record).map_err(|e| super::JournalError::Storage(e.to_string()))
}

/// An offer as a journal writes it: channel, offer id, EAN, the record's text, its history
/// key, the history note.
pub(crate) type OfferRow = (String, String, Option<String>, String, String, Option<String>);

/// The rows of `records` ([`Journal::save_offers`](super::Journal::save_offers)).
pub(crate) fn offer_rows(
    records: &[(OfferRecord, Option<String>)],
) -> Result<Vec<OfferRow>, super::JournalError> {
    records
        .iter()
        .map(|(r, note)| {
            Ok((
                r.channel.clone(),
                r.offer_id.clone(),
                r.ean.clone(),
                write_offer(r)?,
                r.key(),
                note.clone(),
            ))
        })
        .collect()
}

/// The records of stored rows (channel, offer id, text); one that does not read is logged
/// and passed over ([`Journal::offers`](super::Journal::offers)).
pub(crate) fn readable_offers(rows: Vec<(String, String, String)>) -> Vec<OfferRecord> {
    rows.into_iter()
        .filter_map(|(channel, offer_id, text)| match read_offer(&text) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::error!(channel, offer_id, error = %e, "an unreadable offer record was passed over");
                None
            }
        })
        .collect()
}

/// Where a pass stands ([`Journal::pass`](super::Journal::pass)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassState {
    /// The pass (`stock`).
    pub name: String,
    /// The runner holding it and until when, if one does (it may have ended).
    pub lease: Option<(String, DateTime<Utc>)>,
    /// When it is next due (`None`: at once).
    pub next_due: Option<DateTime<Utc>>,
    /// When the last pass began.
    pub last_started: Option<DateTime<Utc>>,
    /// When the last pass ended, and what it did.
    pub last_finished: Option<DateTime<Utc>>,
    /// The last pass's summary.
    pub last_summary: Option<String>,
}

impl PassState {
    /// Whether a runner holds it at `now`.
    pub fn held_at(&self, now: DateTime<Utc>) -> Option<&(String, DateTime<Utc>)> {
        self.lease.as_ref().filter(|(_, until)| *until > now)
    }

    /// How many passes in a row failed, by the last one's summary (`failed (3 in a row): …`,
    /// as the stock loop writes it).
    pub fn failures_in_a_row(&self) -> u32 {
        self.last_summary
            .as_deref()
            .and_then(|s| s.strip_prefix("failed ("))
            .and_then(|s| s.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0)
    }

    /// When it is due for a runner whose own interval is `interval`: when the journal says
    /// (whoever ran the last pass, with their interval), or `interval` after the last pass
    /// began, whichever is sooner; after a failure, only when the journal says (its
    /// back-off). `None`: at once.
    pub fn due_for(&self, interval: std::time::Duration) -> Option<DateTime<Utc>> {
        let next = self.next_due?;
        let own = self
            .last_started
            .filter(|_| self.failures_in_a_row() == 0)
            .and_then(|t| t.checked_add_signed(chrono::Duration::from_std(interval).ok()?));
        Some(own.map_or(next, |own| next.min(own)))
    }

    /// Whether `runner` may take it at `now`: no other runner holds it, and it is due (or
    /// `force`).
    pub fn may_claim(&self, runner: &str, now: DateTime<Utc>, force: bool) -> bool {
        let free = self.held_at(now).is_none_or(|(r, _)| r == runner);
        free && (force || self.next_due.is_none_or(|due| due <= now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_releases_fields_are_kept() {
        let text = r#"{"channel":"bol","offer_id":"o-1","ean":"8712345678906","later":{"x":1}}"#;
        let r = read_offer(text).unwrap();
        assert_eq!(r.key(), "offer:bol:o-1");
        assert!(write_offer(&r).unwrap().contains(r#""later":{"x":1}"#));
    }

    #[test]
    fn a_pass_is_claimed_when_free_and_due() {
        let now = Utc::now();
        let mut p = PassState::default();
        assert!(p.may_claim("a", now, false));
        p.next_due = Some(now + chrono::Duration::seconds(60));
        assert!(!p.may_claim("a", now, false));
        assert!(p.may_claim("a", now, true));
        p.lease = Some(("b".into(), now + chrono::Duration::seconds(10)));
        assert!(!p.may_claim("a", now, true), "another runner holds it");
        assert!(p.may_claim("b", now, true));
        p.lease = Some(("b".into(), now - chrono::Duration::seconds(1)));
        assert!(p.may_claim("a", now, true), "its lease ended");
    }

    #[test]
    fn a_pass_is_due_by_the_journal_or_a_runners_own_interval_but_a_back_off_holds() {
        let now = Utc::now();
        let min = |m: i64| chrono::Duration::minutes(m);
        let five = std::time::Duration::from_secs(300);
        let mut p = PassState::default();
        assert_eq!(p.due_for(five), None, "never ran: at once");
        p.last_started = Some(now);
        p.next_due = Some(now + min(15));
        assert_eq!(p.due_for(five), Some(now + min(5)), "the sooner of the two");
        assert_eq!(
            p.due_for(std::time::Duration::from_secs(3600)),
            Some(now + min(15))
        );
        p.last_summary = Some("failed (2 in a row): bol is down".into());
        assert_eq!(p.failures_in_a_row(), 2);
        assert_eq!(p.due_for(five), Some(now + min(15)), "a back-off holds");
        p.last_summary = Some("failed: an older release's".into());
        assert_eq!(p.failures_in_a_row(), 0);
    }
}
