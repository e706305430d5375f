//! The events a channel pushed (bol's push notifications), as the journal keeps them: each
//! once, by its identity, until the flow acted on it. A delivery is journaled before it is
//! answered, so an event answered is never lost: a runner that stops before acting on it
//! finds it unhandled at its next start ([`Journal::unhandled_events`](super::Journal::unhandled_events)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One pushed event, verified (its signature checked) before it was journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Its identity: `<channel>:<SHA-256 of the raw body, hex>`. A delivery made again
    /// (the channel retries one it did not see answered) is the same event.
    pub id: String,
    /// The channel that pushed it (`bol`).
    pub channel: String,
    /// What it is, `<resource>:<type>` as the channel named them (`ORDER:ORDER_CREATED`,
    /// `PROCESS_STATUS:SUCCESS`, `SHIPMENT:UPDATE_TRANSPORT_EVENT`, `TEST:TEST`).
    pub kind: String,
    /// The resource it is about (an order id, a process status id, a shipment id), if named.
    pub resource_id: Option<String>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// When the flow acted on it (`None`: not yet).
    pub handled_at: Option<DateTime<Utc>>,
    /// The body as received (verified, at most 64 KiB, UTF-8), for a person to read.
    pub body: String,
}

impl EventRecord {
    /// The event's resource (`ORDER`), the part of [`kind`](Self::kind) before the colon.
    pub fn resource(&self) -> &str {
        self.kind.split_once(':').map_or(self.kind.as_str(), |(r, _)| r)
    }

    /// The event's type (`ORDER_CREATED`), the part of [`kind`](Self::kind) after the colon.
    pub fn kind_type(&self) -> &str {
        self.kind.split_once(':').map_or("", |(_, t)| t)
    }

    /// What the flow does with it: bol's `ORDER` events name an order (`ORDER_CREATED`: a
    /// new one, anything else: a change, such as `ORDER_ITEM_CANCELLATION_REQUEST`);
    /// `PROCESS_STATUS` events a process status and its outcome; the rest is kept, with
    /// nothing to do.
    pub fn channel_event(&self) -> commerce_core::ChannelEvent {
        use commerce_core::ChannelEvent;
        let id = self.resource_id.clone().filter(|id| !id.is_empty());
        match (self.resource(), id) {
            ("ORDER", Some(order_id)) if self.kind_type() == "ORDER_CREATED" => {
                ChannelEvent::NewOrder { order_id }
            }
            ("ORDER", Some(order_id)) => ChannelEvent::OrderChanged { order_id },
            ("PROCESS_STATUS", Some(id)) => ChannelEvent::ProcessStatus {
                id,
                state: Some(self.kind_type().to_owned()).filter(|s| !s.is_empty()),
            },
            _ => ChannelEvent::Other {
                kind: self.kind.clone(),
            },
        }
    }
}

/// What a journal holds of pushed events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStats {
    /// Events journaled (each once), handled or not, not yet purged.
    pub received: u64,
    /// Events not acted on yet.
    pub unhandled: u64,
    /// When the latest one was received.
    pub last_received: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use commerce_core::ChannelEvent;

    fn event(kind: &str, id: Option<&str>) -> EventRecord {
        EventRecord {
            id: "bol:00".into(),
            channel: "bol".into(),
            kind: kind.into(),
            resource_id: id.map(str::to_owned),
            received_at: DateTime::<Utc>::UNIX_EPOCH,
            handled_at: None,
            body: "{}".into(),
        }
    }

    #[test]
    fn kinds_map_to_what_the_flow_does() {
        assert_eq!(
            event("ORDER:ORDER_CREATED", Some("A1")).channel_event(),
            ChannelEvent::NewOrder {
                order_id: "A1".into()
            }
        );
        assert_eq!(
            event("ORDER:ORDER_ITEM_CANCELLATION_REQUEST", Some("A1")).channel_event(),
            ChannelEvent::OrderChanged {
                order_id: "A1".into()
            }
        );
        assert_eq!(
            event("PROCESS_STATUS:SUCCESS", Some("7")).channel_event(),
            ChannelEvent::ProcessStatus {
                id: "7".into(),
                state: Some("SUCCESS".into())
            }
        );
        // Without the resource it names, an event is kept and nothing is done.
        for (kind, id) in [
            ("ORDER:ORDER_CREATED", None),
            ("ORDER:ORDER_CREATED", Some("")),
            ("SHIPMENT:UPDATE_TRANSPORT_EVENT", Some("9")),
            ("TEST", None),
        ] {
            assert!(
                matches!(event(kind, id).channel_event(), ChannelEvent::Other { .. }),
                "{kind} {id:?}"
            );
        }
    }
}
