//! The returns loop's domain types: a buyer's return as the sales channel has it
//! ([`ChannelReturn`]), what the shop tells the warehouse ([`ReturnNotice`],
//! [`Announcement`]), what the warehouse says of the goods ([`Arrival`]) and how the shop
//! handles the return on the channel ([`ReturnHandling`], [`HandlingResult`]).
//!
//! The trait methods that use them are on [`SalesChannel`](crate::SalesChannel)
//! (`open_returns`, `return_state`, `handle_return`) and
//! [`Fulfilment`](crate::Fulfilment) (`announce_return`, `find_announcement`,
//! `return_arrival`); each defaults to [`Error::Unsupported`](crate::Error::Unsupported).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the shop handles a return on the channel (bol's `handlingResult`, the six values of
/// its `ReturnRequest`). Any other value a channel reports is kept as [`HandlingResult::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum HandlingResult {
    /// The goods came back (the buyer is refunded).
    ReturnReceived,
    /// The product is exchanged.
    ExchangeProduct,
    /// The goods came back but do not meet the return conditions.
    ReturnDoesNotMeetConditions,
    /// The product is repaired.
    RepairProduct,
    /// The buyer keeps the product and pays for it.
    CustomerKeepsProductPaid,
    /// The return stays approved (bol does not describe it further).
    StillApproved,
    /// A value this release does not know, as the channel wrote it.
    Other(String),
}

impl HandlingResult {
    /// The six values a shop may send, in bol's order.
    pub const ALL: [HandlingResult; 6] = [
        HandlingResult::ReturnReceived,
        HandlingResult::ExchangeProduct,
        HandlingResult::ReturnDoesNotMeetConditions,
        HandlingResult::RepairProduct,
        HandlingResult::CustomerKeepsProductPaid,
        HandlingResult::StillApproved,
    ];

    /// The value on the wire (`RETURN_RECEIVED`).
    pub fn as_str(&self) -> &str {
        match self {
            HandlingResult::ReturnReceived => "RETURN_RECEIVED",
            HandlingResult::ExchangeProduct => "EXCHANGE_PRODUCT",
            HandlingResult::ReturnDoesNotMeetConditions => "RETURN_DOES_NOT_MEET_CONDITIONS",
            HandlingResult::RepairProduct => "REPAIR_PRODUCT",
            HandlingResult::CustomerKeepsProductPaid => "CUSTOMER_KEEPS_PRODUCT_PAID",
            HandlingResult::StillApproved => "STILL_APPROVED",
            HandlingResult::Other(s) => s,
        }
    }

    /// Whether it says the goods are back in the shop's hands: such a result is never
    /// sent before the warehouse (or a person) said they arrived.
    pub fn needs_goods(&self) -> bool {
        matches!(
            self,
            HandlingResult::ReturnReceived
                | HandlingResult::ExchangeProduct
                | HandlingResult::ReturnDoesNotMeetConditions
                | HandlingResult::RepairProduct
        )
    }
}

impl fmt::Display for HandlingResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for HandlingResult {
    fn from(s: String) -> Self {
        HandlingResult::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(HandlingResult::Other(s))
    }
}

impl From<HandlingResult> for String {
    fn from(r: HandlingResult) -> Self {
        r.as_str().to_owned()
    }
}

/// A handling result a person typed that is none of the six ([`HandlingResult::from_str`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no handling result {given:?}: one of {}", HandlingResult::ALL.map(|r| r.as_str().to_owned()).join(", "))]
pub struct UnknownHandlingResult {
    /// What was given.
    pub given: String,
}

impl FromStr for HandlingResult {
    type Err = UnknownHandlingResult;

    /// One of the six values, in any case, with `-` or `_` (`return-received`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase().replace('-', "_");
        HandlingResult::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| UnknownHandlingResult { given: s.to_owned() })
    }
}

/// A buyer's return as the sales channel has it (bol: one `Return`, with its items).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelReturn {
    /// The channel's name (`bol`).
    pub channel: String,
    /// The channel's id of the return (bol `returnId`: a return of several items).
    pub return_id: String,
    /// When the buyer registered it.
    pub registered_at: Option<DateTime<Utc>>,
    /// Shipped by the channel itself (bol FBB): its returns are the channel's to handle.
    pub fulfilled_by_channel: bool,
    /// Its items.
    pub items: Vec<ChannelReturnItem>,
}

/// One item of a return: one product of one order, handled on its own (bol: one RMA id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelReturnItem {
    /// The id the channel handles it by (bol `rmaId`).
    pub rma_id: String,
    /// The channel's order the item was in ([`Order::id`](crate::Order::id)).
    pub order_id: String,
    /// The product's EAN.
    pub ean: String,
    /// The product's title, where the channel gives it (bol: in the one return's read only).
    pub title: Option<String>,
    /// The quantity the buyer sends back (bol `expectedQuantity`).
    pub expected: u32,
    /// The buyer's reason, as one line (`Verkeerde maat of afmeting / Te groot: …`).
    pub reason: Option<String>,
    /// Whether the shop (or a person on the channel's site) handled it already.
    pub handled: bool,
    /// How the channel processed it so far (bol `processingResults`).
    pub results: Vec<ReturnResult>,
    /// The parcel's track-and-trace code, where the channel gives it.
    pub track_and_trace: Option<String>,
    /// The parcel's transporter (`PostNL`), where the channel gives it.
    pub transporter: Option<String>,
}

/// One processing of a return item on the channel (bol `ReturnProcessingResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnResult {
    /// The quantity processed.
    pub quantity: u32,
    /// The channel's processing result (`ACCEPTED`; bol lists no other values).
    pub processing: String,
    /// The handling result it was processed with.
    pub handling: HandlingResult,
    /// When.
    pub at: Option<DateTime<Utc>>,
}

/// How the shop handles one return item on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnHandling {
    /// The return ([`ChannelReturn::return_id`]): read first, and again when the outcome is
    /// unknown.
    pub return_id: String,
    /// The item ([`ChannelReturnItem::rma_id`]).
    pub rma_id: String,
    /// The result.
    pub result: HandlingResult,
    /// The quantity returned (bol: 1 to 9999).
    pub quantity: u32,
}

/// What the channel answered to a handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingReceipt {
    /// The channel's name.
    pub channel: String,
    /// The channel's reference of the handling (bol: the process status id), if any.
    pub reference: Option<String>,
    /// The channel had the item handled already, with this result and quantity: nothing
    /// was sent.
    pub already: bool,
}

/// What the shop tells a warehouse is coming back: one return item, at the warehouse's
/// order that shipped it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnNotice {
    /// The sales channel (`bol`).
    pub channel: String,
    /// The channel's order id.
    pub order_id: String,
    /// The channel's return item id (bol RMA id): carried in what the warehouse is told, so
    /// a person (and a look-up) can find the announcement.
    pub rma_id: String,
    /// The warehouse's reference of the order that shipped it
    /// ([`SubmissionReceipt::reference`](crate::SubmissionReceipt::reference)).
    pub reference: String,
    /// The product's EAN.
    pub ean: String,
    /// How many units come back.
    pub quantity: u32,
    /// The buyer's reason, as the channel gave it.
    pub reason: Option<String>,
}

/// A return announced at a warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The warehouse's name (`shopwedo`).
    pub provider: String,
    /// The warehouse's order it was announced at ([`ReturnNotice::reference`]).
    pub order_reference: String,
    /// The channel's return item ([`ReturnNotice::rma_id`]).
    pub rma_id: String,
    /// The warehouse's id of the announcement, if it gave one.
    pub reference: Option<String>,
    /// The warehouse's item it names (ShopWeDo: the stock item's SKU), if any.
    pub sku: Option<String>,
    /// How many units were announced.
    pub quantity: u32,
    /// When it was announced.
    pub at: DateTime<Utc>,
}

/// What a warehouse says of announced goods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Arrival {
    /// The warehouse's answer does not say (it keeps no such record, or its answer lacks
    /// it): a person must look. Never taken for "not yet".
    Unknown,
    /// Not received yet.
    NotYet,
    /// Received.
    Received {
        /// How many units came in.
        quantity: u32,
        /// The warehouse's word on their state where it gave one (`damaged`); `None`: it
        /// said nothing against them.
        condition: Option<String>,
        /// When, if it said.
        at: Option<DateTime<Utc>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handling_results_read_as_people_type_them_and_keep_what_they_do_not_know() {
        assert_eq!(
            "return-received".parse::<HandlingResult>().unwrap(),
            HandlingResult::ReturnReceived
        );
        assert_eq!(
            " customer_keeps_product_paid".parse::<HandlingResult>().unwrap(),
            HandlingResult::CustomerKeepsProductPaid
        );
        let e = "RECIEVED".parse::<HandlingResult>().unwrap_err();
        assert!(e.to_string().contains("RETURN_DOES_NOT_MEET_CONDITIONS"), "{e}");
        let read: HandlingResult = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(read, HandlingResult::Other("SOMETHING_NEW".into()));
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"SOMETHING_NEW\"");
        assert_eq!(
            serde_json::to_string(&HandlingResult::StillApproved).unwrap(),
            "\"STILL_APPROVED\""
        );
        assert!(HandlingResult::RepairProduct.needs_goods());
        assert!(!HandlingResult::CustomerKeepsProductPaid.needs_goods());
    }

    #[test]
    fn an_arrival_is_tagged_so_unknown_and_not_yet_never_read_as_each_other() {
        let text = serde_json::to_string(&Arrival::NotYet).unwrap();
        assert_eq!(text, r#"{"state":"not_yet"}"#);
        let back: Arrival = serde_json::from_str(r#"{"state":"unknown"}"#).unwrap();
        assert_eq!(back, Arrival::Unknown);
    }
}
