//! The provider-neutral traits and their domain types.
//!
//! - [`SalesChannel`]: where orders come from (bol).
//! - [`Fulfilment`]: who ships them (ShopWeDo, a supplier's Customer API).
//! - [`ReviewPlatform`]: who asks the customer for a review (Safe.Shop, Sitejabber).
//!
//! They are small on purpose: each provider crate offers its full typed API beside them, and
//! the facade composes providers through them as trait objects.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::returns::{Announcement, Arrival, ChannelReturn, HandlingReceipt, ReturnHandling, ReturnNotice};

pub use crate::money::Money;

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// First name.
    pub first_name: String,
    /// Last name (surname).
    pub last_name: String,
    /// Company, if any.
    pub company: Option<String>,
    /// Street name.
    pub street: String,
    /// House number.
    pub house_number: String,
    /// House number addition (`A`, `bis`).
    pub house_number_addition: Option<String>,
    /// Postal code.
    pub postcode: String,
    /// City.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code (`NL`).
    pub country: String,
    /// E-mail address for this address, if any.
    pub email: Option<String>,
    /// Telephone number, if any.
    pub phone: Option<String>,
}

/// The person who placed an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// E-mail address.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Preferred language (ISO 639-1, `nl`), if known.
    pub language: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// The line's id on the sales channel (bol `orderItemId`).
    pub line_id: String,
    /// The product's EAN / GTIN, the code shops route orders by.
    pub ean: Option<String>,
    /// The shop's own SKU, if known.
    pub sku: Option<String>,
    /// Product title.
    pub title: String,
    /// Quantity ordered (at least 1).
    pub quantity: u32,
    /// Price per unit, if known.
    pub unit_price: Option<Money>,
    /// The buyer asked to cancel this line and the channel waits for the shop's answer
    /// ([`SalesChannel::accept_cancellation`], or shipping it anyway).
    #[serde(default)]
    pub cancellation_requested: bool,
}

/// An order as a sales channel hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order id on its sales channel.
    pub id: String,
    /// The sales channel's name (`bol`).
    pub channel: String,
    /// When it was placed.
    pub placed_at: Option<DateTime<Utc>>,
    /// Who placed it.
    pub customer: Customer,
    /// Where it goes.
    pub shipping_address: Address,
    /// Where the invoice goes, if different.
    pub billing_address: Option<Address>,
    /// What was ordered.
    pub lines: Vec<LineItem>,
    /// Delivered to a pick-up point of this name: the shipping address is the point's, the
    /// buyer collects the parcel there (bol's `pickupPoint` and `pickupPointName`).
    #[serde(default)]
    pub pickup_point: Option<String>,
}

/// A tracking code and the carrier that issued it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// The carrier (a provider's transporter code such as `TNT` or `DHL`).
    pub carrier: Option<String>,
    /// The tracking code.
    pub code: String,
    /// A tracking page, if the provider gave one.
    pub url: Option<String>,
}

/// A parcel that left the warehouse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Its tracking, if any.
    pub tracking: Option<Tracking>,
    /// When it was shipped, if known.
    pub shipped_at: Option<DateTime<Utc>>,
    /// The order lines in it (their `line_id`s); empty when the provider does not say.
    pub line_ids: Vec<String>,
}

/// Where an order stands at a fulfilment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FulfilmentState {
    /// Received, not yet being worked on.
    Received,
    /// Being picked or packed.
    Processing,
    /// Partly shipped.
    PartiallyShipped,
    /// Shipped in full.
    Shipped,
    /// Cancelled.
    Cancelled,
    /// Refused or failed at the provider.
    Failed,
    /// A state this library does not know (the provider's own word).
    Other(String),
}

/// An order's state at a fulfilment provider, with its shipments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentStatus {
    /// The state.
    pub state: FulfilmentState,
    /// Shipments so far.
    pub shipments: Vec<Shipment>,
}

/// What a fulfilment provider answered to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionReceipt {
    /// The provider's name.
    pub provider: String,
    /// The provider's reference for the order (pass it to status and cancel).
    pub reference: String,
    /// The order was already there (found by its external id), so nothing new was created.
    pub already_submitted: bool,
}

/// A submission whose reads are done: what a fulfilment provider needed to look up before
/// it could send the order (ShopWeDo: the stock ids by barcode) has been looked up and every
/// input check has passed; what is left is the one request that may act,
/// [`Fulfilment::send`].
///
/// The two halves let a caller record "about to send" only when nothing but the send is
/// left: a process stopped during [`Fulfilment::prepare`] sent nothing. It serializes, so
/// it can be journalled and sent later by the same provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PreparedSubmission {
    /// The provider that prepared it (its [`Fulfilment::name`]); another provider refuses it.
    pub provider: String,
    /// The order's id on its sales channel ([`Order::id`]).
    pub order_id: String,
    /// What the provider will send, in its own shape (ShopWeDo's and the Customer API's
    /// order body; the default [`Fulfilment::prepare`]: the [`Order`] itself).
    pub payload: serde_json::Value,
}

impl PreparedSubmission {
    /// A prepared submission of `order_id` for `provider`, carrying `payload`.
    pub fn new(provider: impl Into<String>, order_id: impl Into<String>, payload: serde_json::Value) -> Self {
        PreparedSubmission {
            provider: provider.into(),
            order_id: order_id.into(),
            payload,
        }
    }

    /// A prepared submission of `order_id` for `provider` whose payload is `body` as JSON
    /// (the request the provider's `send` makes); [`Error::InvalidInput`] when it does not
    /// serialize.
    pub fn of<T: Serialize>(
        provider: impl Into<String>,
        order_id: impl Into<String>,
        body: &T,
    ) -> Result<Self, Error> {
        let order_id = order_id.into();
        let payload = serde_json::to_value(body)
            .map_err(|e| Error::invalid("order", format!("order {order_id} cannot be written: {e}")))?;
        Ok(Self::new(provider, order_id, payload))
    }

    /// The body prepared for `provider`: a submission prepared for another provider, or whose
    /// payload does not decode as `T`, is an [`Error::InvalidInput`] (nothing is sent).
    pub fn body_for<T: serde::de::DeserializeOwned>(&self, provider: &str) -> Result<T, Error> {
        self.check_provider(provider)?;
        self.decode()
    }

    /// Refuses a submission prepared by another provider than `provider`
    /// ([`Error::InvalidInput`] on `provider`), before anything is sent.
    fn check_provider(&self, provider: &str) -> Result<(), Error> {
        if self.provider == provider {
            Ok(())
        } else {
            Err(Error::invalid(
                "provider",
                format!(
                    "order {} was prepared for `{}` and cannot be sent to `{provider}`",
                    self.order_id, self.provider
                ),
            ))
        }
    }

    /// The payload decoded as `T`: an [`Error::InvalidInput`] on `payload` (naming where it
    /// does not decode) when it is not one, before anything is sent.
    fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_path_to_error::deserialize(&self.payload).map_err(|e| {
            Error::invalid(
                "payload",
                format!(
                    "the prepared submission of order {} does not decode at `{}`: {}",
                    self.order_id,
                    e.path(),
                    e.inner()
                ),
            )
        })
    }
}

/// Whether a provider's order, named by a reference a person gave, is the order they meant
/// ([`Fulfilment::check_reference`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ReferenceCheck {
    /// The provider's order carries this order's id (or reference) and, as far as the
    /// provider tells, its lines.
    Matches,
    /// The provider has no order with this reference.
    NotFound,
    /// The provider has an order with this reference, but it is not (or cannot be told to
    /// be) this order: what differs, for a person.
    Mismatch(String),
}

/// Stock of one item at a fulfilment provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// The provider's own item id.
    pub item_id: String,
    /// The EAN / barcode, if the provider keeps one.
    pub ean: Option<String>,
    /// Units available to sell.
    pub available: i64,
    /// What `available` already takes off: whether orders handed over and not yet shipped
    /// are counted in it. A stock sync subtracts what it does not.
    #[serde(default)]
    pub basis: StockBasis,
    /// When the provider last computed `available`, where it says (ShopWeDo's
    /// `last_atp_update`): an order handed over after it is not taken off yet, whatever the
    /// basis.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

impl StockLevel {
    /// `available` units of `item_id` (barcode `ean`), counted on the shelf
    /// ([`StockBasis::OnShelf`]), computed now.
    pub fn new(item_id: impl Into<String>, ean: Option<String>, available: i64) -> Self {
        StockLevel {
            item_id: item_id.into(),
            ean,
            available,
            basis: StockBasis::OnShelf,
            as_of: None,
        }
    }

    /// The same level with this basis.
    pub fn with_basis(mut self, basis: StockBasis) -> Self {
        self.basis = basis;
        self
    }
}

/// What a provider's stock count already takes off ([`StockLevel::basis`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StockBasis {
    /// Orders handed over and not yet shipped are already taken off (ShopWeDo's ATP, with
    /// orders released on creation).
    Reserving,
    /// Units on the shelf: an order handed over leaves the count only when it ships. The
    /// default, and the safe reading where a provider does not say: a sync that takes an
    /// order off twice hides a unit for a while; one that forgets to sells it twice.
    #[default]
    OnShelf,
    /// The provider only says in stock or not: `available` is 1 or 0, no count. A sync
    /// decides how many units an "in stock" stands for.
    InStockOnly,
}

/// One of the shop's offers on a sales channel, with the stock the channel keeps for it
/// ([`SalesChannel::offers`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOffer {
    /// The channel's offer id (bol `offerId`).
    pub offer_id: String,
    /// The product's EAN, if the channel gives one.
    pub ean: Option<String>,
    /// The stock the shop last gave the channel (bol `stock.amount`), if it says.
    pub amount: Option<i64>,
    /// What the channel still sells: `amount` less the orders it counts against it (bol
    /// `correctedStock`), if it says.
    pub corrected: Option<i64>,
    /// Who keeps the count: `Some(true)` the shop (bol `managedByRetailer: true`: only
    /// orders placed after the shop's last update are taken off), `Some(false)` the channel
    /// (every open order is taken off), `None` the channel did not say (bol's export).
    pub managed_by_shop: Option<bool>,
    /// Shipped by the channel from its own warehouse (bol FBB): the shop's warehouses have
    /// nothing to say about its stock.
    pub fulfilled_by_channel: bool,
    /// The shop put the offer on hold (bol `onHoldByRetailer`).
    pub on_hold: bool,
}

/// A stock amount to give a sales channel for one offer ([`SalesChannel::set_stock`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockUpdate {
    /// The channel's offer id.
    pub offer_id: String,
    /// The units the channel may sell from now on.
    pub amount: u32,
    /// Who keeps the count from now on ([`ChannelOffer::managed_by_shop`]); bol requires it
    /// with every update.
    pub managed_by_shop: bool,
}

/// What a sales channel answered to one stock update, once it applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReceipt {
    /// The channel's offer id.
    pub offer_id: String,
    /// The channel's reference for the update (bol: the process status id), if any.
    pub reference: Option<String>,
}

/// One line of an order a sales channel still has open (not shipped, not cancelled), as a
/// stock sync needs it: cheap to list, without the order's details
/// ([`SalesChannel::open_lines`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLine {
    /// The order id on the channel.
    pub order_id: String,
    /// The line's id on the channel.
    pub line_id: String,
    /// The product's EAN, if the channel gives one.
    pub ean: Option<String>,
    /// Units still to ship (ordered, less shipped and cancelled).
    pub quantity: u32,
    /// When the order was placed, if the channel says.
    pub placed_at: Option<DateTime<Utc>>,
}

/// A product named in a review invitation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRef {
    /// The shop's SKU (what review platforms key product reviews by).
    pub sku: String,
    /// The EAN / GTIN, if known.
    pub ean: Option<String>,
    /// Product name.
    pub name: Option<String>,
}

/// A request to invite a customer to review an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInvitation {
    /// The order id (platforms de-duplicate invitations on it).
    pub order_id: String,
    /// Who to invite.
    pub customer: Customer,
    /// The products bought, for platforms that collect product reviews.
    pub products: Vec<ProductRef>,
    /// When the order was placed (platforms ask for the order date), if known.
    pub ordered_at: Option<DateTime<Utc>>,
    /// When to send the invitation (`None`: the platform's default delay).
    pub send_at: Option<DateTime<Utc>>,
    /// The customer's country (ISO 3166-1 alpha-2), if known.
    pub country: Option<String>,
}

/// What a review platform answered to an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationReceipt {
    /// The platform's name.
    pub platform: String,
    /// The platform's reference, if it gave one.
    pub reference: Option<String>,
    /// The platform already had this invitation, so nothing new was sent.
    pub already_invited: bool,
}

/// A business's rating on a review platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingSummary {
    /// Average rating.
    pub average: f64,
    /// The top of the scale (usually 5).
    pub scale: f64,
    /// Number of reviews.
    pub count: u64,
}

/// A shipment to confirm on a sales channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentConfirmation {
    /// The order id on the channel.
    pub order_id: String,
    /// The order lines shipped (their `line_id`s).
    pub line_ids: Vec<String>,
    /// The parcel's tracking.
    pub tracking: Tracking,
}

/// What a sales channel answered to a shipment confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationReceipt {
    /// The channel's name.
    pub channel: String,
    /// The channel's reference (a shipment id, a process-status id), if it gave one.
    pub reference: Option<String>,
}

/// One line of an order as the channel has it now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineState {
    /// The line's id on the channel ([`LineItem::line_id`]).
    pub line_id: String,
    /// Quantity ordered.
    pub ordered: u32,
    /// Quantity the channel has as shipped.
    pub shipped: u32,
    /// Quantity cancelled (by the buyer, the shop or the channel).
    pub cancelled: u32,
    /// The buyer asked to cancel the line and the shop has not answered yet.
    pub cancellation_requested: bool,
}

impl LineState {
    /// The quantity still to ship: ordered, less shipped and cancelled.
    pub fn open(&self) -> u32 {
        self.ordered
            .saturating_sub(self.shipped)
            .saturating_sub(self.cancelled)
    }
}

/// An order a channel lists as changed since a time ([`SalesChannel::changed_orders`]), for
/// a reconciliation that finds what polling the open orders missed: an order that came and
/// left the open list between two polls, or changed on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedOrder {
    /// The order: when `open`, its lines still to ship, exactly as
    /// [`SalesChannel::open_orders`] gives them; otherwise its lines may be empty.
    pub order: Order,
    /// Some line is still to ship (neither shipped nor cancelled).
    pub open: bool,
}

/// Something a channel pushed to the shop (bol: a signed push notification), as the flow
/// acts on it. The push tells that something happened; the flow reads what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelEvent {
    /// A new order was placed.
    NewOrder {
        /// The order's id on the channel.
        order_id: String,
    },
    /// An order changed (a buyer asks to cancel a line, …).
    OrderChanged {
        /// The order's id on the channel.
        order_id: String,
    },
    /// A process status (bol's answer to a change the shop asked for) has an outcome.
    ProcessStatus {
        /// The process status id.
        id: String,
        /// Its outcome as the channel named it (`SUCCESS`, `FAILURE`, `TIMEOUT`), if it did.
        state: Option<String>,
    },
    /// Anything else (a shipment's transport event, a test push, …): journaled, nothing to do.
    Other {
        /// What it was (`SHIPMENT:UPDATE_TRANSPORT_EVENT`).
        kind: String,
    },
}

/// An order as the channel has it now, read again while the order is being worked on: the
/// lines cancelled, the cancellations the buyer asked for, the quantities shipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// The order id on the channel.
    pub order_id: String,
    /// Every line of the order, shipped and cancelled ones included.
    pub lines: Vec<LineState>,
}

impl OrderState {
    /// The line with this id, if the channel has it.
    pub fn line(&self, line_id: &str) -> Option<&LineState> {
        self.lines.iter().find(|l| l.line_id == line_id)
    }
}

/// Where orders come from.
#[async_trait]
pub trait SalesChannel: Send + Sync + fmt::Debug {
    /// The channel's name (`bol`).
    fn name(&self) -> &str;

    /// The account whose orders this client reads, as the channel identifies it (bol: the
    /// API credential's client id; not a secret), when it says. A journal records it and
    /// refuses a client of another account, so one shop's journal never hands over another
    /// shop's orders or marks its own as done for the wrong account. `None` (the default):
    /// not recorded.
    fn account(&self) -> Option<String> {
        None
    }

    /// The orders waiting to be shipped, fetched page by page as the stream is read. The
    /// stream owns what it needs (`'static`, like every stream of the provider crates), so
    /// it can be kept, moved to a task or returned while the client goes out of scope.
    fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>>;

    /// Confirms a shipment with its tracking code, and waits until the channel accepted it.
    /// Implementations must be safe to call again for lines already confirmed (they check
    /// first), so a rerun after a crash never ships twice.
    async fn confirm_shipment(&self, shipment: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error>;

    /// The order as the channel has it now (`Ok(None)`: the channel has no such order), to
    /// see what changed while it was being worked on. The default says the channel offers
    /// no such read ([`Error::Unsupported`]); the flow then works on the order as first
    /// seen.
    async fn order_state(&self, order_id: &str) -> Result<Option<OrderState>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("order_state({order_id})").into(),
            reason: "the channel offers no read of one order".to_owned(),
        })
    }

    /// The shop's offers with the stock the channel keeps for them: every offer when `ids`
    /// is empty (bol: the offers export, end to end), else those named (bol: one read each;
    /// an id the channel does not know is left out). The default says the channel offers
    /// no such read ([`Error::Unsupported`]); a stock sync then leaves the channel alone.
    async fn offers(&self, ids: &[String]) -> Result<Vec<ChannelOffer>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("offers({} ids)", ids.len()).into(),
            reason: "the channel offers no read of its offers' stock".to_owned(),
        })
    }

    /// Gives the channel these stock amounts and waits until it applied them (bol: one
    /// `update-offer-stock` each, paced, their process statuses read in bulk). One result
    /// per update, in order: one update's failure never stops the others. An update is an
    /// absolute amount, so sending it again is harmless. The default says the channel takes
    /// no stock ([`Error::Unsupported`] for each).
    async fn set_stock(&self, updates: &[StockUpdate]) -> Vec<Result<StockReceipt, Error>> {
        updates
            .iter()
            .map(|u| {
                Err(Error::Unsupported {
                    provider: self.name().to_owned().into(),
                    operation: format!("set_stock({})", u.offer_id).into(),
                    reason: "the channel takes no stock updates through its API".to_owned(),
                })
            })
            .collect()
    }

    /// Every line of the channel's orders still open (not shipped, not cancelled) that the
    /// shop ships itself, from the channel's order list alone (no read per order). The
    /// default says the channel offers no such list ([`Error::Unsupported`]).
    fn open_lines(&self) -> BoxStream<'static, Result<OpenLine, Error>> {
        let error = Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: "open_lines".into(),
            reason: "the channel offers no list of open order lines".to_owned(),
        };
        futures_util::stream::once(async move { Err(error) }).boxed()
    }

    /// The orders of the shop's own fulfilment whose lines changed since `since`, open or not
    /// (bol: `GET /retailer/orders?status=ALL` with `change-interval-minute` or
    /// `latest-change-date`, every page, each order read in full), for a reconciliation pass.
    /// The default says the channel offers no such list ([`Error::Unsupported`]).
    fn changed_orders(&self, since: DateTime<Utc>) -> BoxStream<'static, Result<ChangedOrder, Error>> {
        let error = Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("changed_orders({since})").into(),
            reason: "the channel offers no list of changed orders".to_owned(),
        };
        futures_util::stream::once(async move { Err(error) }).boxed()
    }

    /// One order as [`open_orders`](Self::open_orders) would give it (its open lines only,
    /// the same mapping), read by its id (bol: `GET /retailer/orders/{order-id}`), for a
    /// pushed event that names it: `Ok(None)` when the channel does not know it, or nothing
    /// of it is left to ship by the shop itself. The default says the channel offers no such
    /// read ([`Error::Unsupported`]); the flow then lists the open orders instead.
    async fn open_order(&self, order_id: &str) -> Result<Option<Order>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("open_order({order_id})").into(),
            reason: "the channel offers no read of one order as listed".to_owned(),
        })
    }

    /// Tells the channel's client of an event the channel pushed (bol: a process status's
    /// outcome wakes the waits for it, which read it at once instead of at their next
    /// back-off). Called by the flow for every verified event of this channel; the default
    /// does nothing.
    fn event_arrived(&self, event: &ChannelEvent) {
        let _ = event;
    }

    /// The most units one stock update may give (bol: 999).
    fn max_stock(&self) -> u32 {
        u32::MAX
    }

    /// The buyer returns the shop has not handled yet, of orders the shop ships itself
    /// (bol: `GET /retailer/returns?handled=false&fulfilment-method=FBR`, every page, oldest
    /// first). The default says the channel offers no such list ([`Error::Unsupported`]).
    fn open_returns(&self) -> BoxStream<'static, Result<ChannelReturn, Error>> {
        let error = Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: "open_returns".into(),
            reason: "the channel offers no list of returns".to_owned(),
        };
        futures_util::stream::once(async move { Err(error) }).boxed()
    }

    /// One return as the channel has it now (bol `GET /retailer/returns/{return-id}`), with
    /// every item's handling; `Ok(None)` when the channel does not know it. The default says
    /// the channel offers no such read ([`Error::Unsupported`]).
    async fn return_state(&self, return_id: &str) -> Result<Option<ChannelReturn>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("return_state({return_id})").into(),
            reason: "the channel offers no read of a return".to_owned(),
        })
    }

    /// Handles one return item and waits until the channel applied it (bol: `PUT
    /// /retailer/returns/{rma-id}`, then its process status). Implementations read the
    /// return first and send nothing when the item is handled already with this result and
    /// quantity ([`HandlingReceipt::already`]), or is being handled (a process under way is
    /// waited for). The request is never re-sent by the transport: a lost answer is an
    /// [`Error::Unconfirmed`] (after a read that could not settle it), for the caller to
    /// settle by calling again later. A quantity the channel cannot take is an
    /// [`Error::InvalidInput`] and nothing is sent. The default says the channel takes no
    /// handling ([`Error::Unsupported`]).
    async fn handle_return(&self, handling: &ReturnHandling) -> Result<HandlingReceipt, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("handle_return({})", handling.rma_id).into(),
            reason: "the channel takes no return handling through its API".to_owned(),
        })
    }

    /// Accepts the buyer's request to cancel these lines, and waits until the channel
    /// accepted it. Implementations must be safe to call again for lines already cancelled
    /// (they check first). The default says the channel cannot ([`Error::Unsupported`]).
    async fn accept_cancellation(
        &self,
        order_id: &str,
        line_ids: &[String],
    ) -> Result<ConfirmationReceipt, Error> {
        let _ = line_ids;
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("accept_cancellation({order_id})").into(),
            reason: "the channel takes no cancellations through its API".to_owned(),
        })
    }
}

/// Who ships orders.
#[async_trait]
pub trait Fulfilment: Send + Sync + fmt::Debug {
    /// The provider's name (`shopwedo`).
    fn name(&self) -> &str;

    /// About how long until the provider could take a call, with `waiting` more calls the
    /// caller knows will go first (orders it gave back for this provider): its rate
    /// limiter's estimate ([`RateLimiter::ready_in_after`](crate::RateLimiter::ready_in_after)),
    /// so that a caller with other work (a flow's worker) gives the order back and comes
    /// again then rather than hold a worker that long. Zero (the default) when unknown.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        let _ = waiting;
        std::time::Duration::ZERO
    }

    /// Hands an order over for shipping. Implementations must not create it twice: when
    /// unsure whether an earlier attempt arrived, they look it up by [`Order::id`].
    ///
    /// Providers that read before they send (ShopWeDo) also offer the two halves,
    /// [`prepare`](Self::prepare) and [`send`](Self::send); `submit` is then the two in turn.
    async fn submit(&self, order: &Order) -> Result<SubmissionReceipt, Error>;

    /// Everything a submission does before the request that may act: every read (ShopWeDo:
    /// the stock ids by barcode) and every input check (an [`Error::InvalidInput`] names
    /// each bad field). It never acts at the provider, so a process stopped during it sent
    /// nothing.
    ///
    /// The default reads nothing and wraps the order itself; the default
    /// [`send`](Self::send) then hands it to [`submit`](Self::submit).
    async fn prepare(&self, order: &Order) -> Result<PreparedSubmission, Error> {
        PreparedSubmission::of(self.name(), order.id.clone(), order)
    }

    /// Sends what [`prepare`](Self::prepare) made: the one request that may act (and, where
    /// its outcome is unknown, the reads that settle it, as [`submit`](Self::submit)
    /// does). A submission prepared by another provider, or whose payload does not decode,
    /// is an [`Error::InvalidInput`] and nothing is sent. Any error but
    /// [`Error::Unconfirmed`] means the provider has no such order from this call: a
    /// caller may send again. So where the request may have arrived and the reads that
    /// would settle it fail, the error is the request's `Unconfirmed`, never the read's.
    ///
    /// The default decodes the [`Order`] the default `prepare` wrapped and calls
    /// [`submit`](Self::submit) with it.
    async fn send(&self, prepared: &PreparedSubmission) -> Result<SubmissionReceipt, Error> {
        let order: Order = prepared.body_for(self.name())?;
        self.submit(&order).await
    }

    /// The order's state and shipments; `reference` is [`SubmissionReceipt::reference`].
    async fn status(&self, reference: &str) -> Result<FulfilmentStatus, Error>;

    /// Cancels an order not yet shipped ([`Error::Unsupported`] where the provider cannot).
    async fn cancel(&self, reference: &str) -> Result<(), Error>;

    /// Stock of the items with these EANs / barcodes (all items when `eans` is empty).
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error>;

    /// Looks up an earlier submission of the order with this [`Order::id`], to settle a
    /// submit whose outcome was unknown ([`Error::Unconfirmed`]). `Ok(None)`: the provider
    /// has no such order. The default says the provider offers no such look-up.
    async fn find_submission(&self, order_id: &str) -> Result<Option<SubmissionReceipt>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("find_submission({order_id})").into(),
            reason: "the provider offers no look-up by your order id".to_owned(),
        })
    }

    /// Reads `reference` (a [`SubmissionReceipt::reference`], as a person typed it) at the
    /// provider and says whether it is this order: the provider's order carries this
    /// order's id (or reference) and, as far as the provider tells, its lines. A blank
    /// `reference` is an [`Error::InvalidInput`] and nothing is sent.
    ///
    /// The default says the provider offers no such check ([`Error::Unsupported`]); a
    /// caller then cannot take the reference on its word alone.
    async fn check_reference(&self, reference: &str, order: &Order) -> Result<ReferenceCheck, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("check_reference({reference}, order {})", order.id).into(),
            reason: "the provider offers no read to check a reference against an order".to_owned(),
        })
    }

    /// Tells the warehouse that goods of an order it shipped come back: the one request
    /// that may act, after any reads it needs (ShopWeDo: the order, for the item's SKU).
    /// Never sent twice by the transport: a lost answer is an [`Error::Unconfirmed`],
    /// settled by [`find_announcement`](Self::find_announcement) or by a person. Bad input
    /// (a blank reference, a quantity of 0) is an [`Error::InvalidInput`] and nothing is
    /// sent. The default says the warehouse takes no announcements ([`Error::Unsupported`]):
    /// a person announces the return.
    async fn announce_return(&self, notice: &ReturnNotice) -> Result<Announcement, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("announce_return({})", notice.rma_id).into(),
            reason: "the provider takes no return announcements through its API".to_owned(),
        })
    }

    /// Looks up an announcement of this notice made earlier (its outcome unknown):
    /// `Ok(None)` when the warehouse has none. The default says the warehouse offers no
    /// such look-up ([`Error::Unsupported`]): a person must look.
    async fn find_announcement(&self, notice: &ReturnNotice) -> Result<Option<Announcement>, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("find_announcement({})", notice.rma_id).into(),
            reason: "the provider offers no read of return announcements".to_owned(),
        })
    }

    /// What the warehouse says of announced goods: received (how many, in what state),
    /// not yet, or [`Arrival::Unknown`] when its answer does not say. The default says the
    /// warehouse offers no such read ([`Error::Unsupported`]): a person confirms receipt.
    async fn return_arrival(&self, announcement: &Announcement) -> Result<Arrival, Error> {
        Err(Error::Unsupported {
            provider: self.name().to_owned().into(),
            operation: format!("return_arrival({})", announcement.order_reference).into(),
            reason: "the provider offers no read of returned goods".to_owned(),
        })
    }
}

/// Refuses a blank reference ([`Error::InvalidInput`] on `reference`), the first check of
/// every [`Fulfilment::check_reference`]; the reference trimmed otherwise.
pub fn require_reference(reference: &str) -> Result<&str, Error> {
    let trimmed = reference.trim();
    if trimmed.is_empty() {
        Err(Error::invalid(
            "reference",
            "is required (the provider's order reference)",
        ))
    } else {
        Ok(trimmed)
    }
}

/// Who asks customers for reviews.
#[async_trait]
pub trait ReviewPlatform: Send + Sync + fmt::Debug {
    /// The platform's name (`safeshop`).
    fn name(&self) -> &str;

    /// Invites the customer to review the order (and its products, where the platform
    /// takes them). Implementations must not invite twice for one order.
    async fn invite(&self, invitation: &ReviewInvitation) -> Result<InvitationReceipt, Error>;

    /// The business's rating, where the platform offers one.
    async fn rating_summary(&self) -> Result<Option<RatingSummary>, Error> {
        Ok(None)
    }

    /// Whether inviting again for an order already invited is harmless (the platform
    /// documents that it refuses the repeat). When true, an invitation whose outcome was
    /// unknown may simply be sent again.
    fn repeatable_invites(&self) -> bool {
        false
    }

    /// About how long until the provider could take a call, with `waiting` more calls the
    /// caller knows will go first (orders it gave back for this provider): its rate
    /// limiter's estimate ([`RateLimiter::ready_in_after`](crate::RateLimiter::ready_in_after)),
    /// so that a caller with other work (a flow's worker) gives the order back and comes
    /// again then rather than hold a worker that long. Zero (the default) when unknown.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        let _ = waiting;
        std::time::Duration::ZERO
    }

    /// The separate calls an invitation takes, in order (Sitejabber: a review request, then
    /// a product review request for the order's products), so a caller can record each on
    /// its own and never repeat one that went through when a later one fails. Empty (the
    /// default): one call, [`invite`](Self::invite).
    fn invitation_parts(&self, invitation: &ReviewInvitation) -> Vec<String> {
        let _ = invitation;
        Vec::new()
    }

    /// Sends one part named by [`invitation_parts`](Self::invitation_parts), and only it.
    /// The default sends the whole invitation.
    async fn invite_part(
        &self,
        part: &str,
        invitation: &ReviewInvitation,
    ) -> Result<InvitationReceipt, Error> {
        let _ = part;
        self.invite(invitation).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;

    use super::*;

    #[derive(Debug)]
    struct Shop;

    #[async_trait]
    impl SalesChannel for Shop {
        fn name(&self) -> &str {
            "shop"
        }
        fn open_orders(&self) -> BoxStream<'static, Result<Order, Error>> {
            futures_util::stream::iter(vec![Ok(Order {
                id: "1".into(),
                ..Default::default()
            })])
            .boxed()
        }
        async fn confirm_shipment(&self, s: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
            Ok(ConfirmationReceipt {
                channel: self.name().into(),
                reference: Some(s.tracking.code.clone()),
            })
        }
    }

    #[derive(Debug)]
    struct Reviews;

    #[async_trait]
    impl ReviewPlatform for Reviews {
        fn name(&self) -> &str {
            "reviews"
        }
        async fn invite(&self, i: &ReviewInvitation) -> Result<InvitationReceipt, Error> {
            Ok(InvitationReceipt {
                platform: self.name().into(),
                reference: Some(i.order_id.clone()),
                already_invited: false,
            })
        }
    }

    /// A fulfilment provider with only the required methods: it counts its submissions.
    #[derive(Debug, Default)]
    struct Warehouse(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl Fulfilment for Warehouse {
        fn name(&self) -> &str {
            "warehouse"
        }
        async fn submit(&self, order: &Order) -> Result<SubmissionReceipt, Error> {
            self.0.lock().unwrap().push(order.id.clone());
            Ok(SubmissionReceipt {
                provider: self.name().into(),
                reference: format!("W-{}", order.id),
                already_submitted: false,
            })
        }
        async fn status(&self, _: &str) -> Result<FulfilmentStatus, Error> {
            unreachable!()
        }
        async fn cancel(&self, _: &str) -> Result<(), Error> {
            unreachable!()
        }
        async fn stock(&self, _: &[String]) -> Result<Vec<StockLevel>, Error> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn by_default_prepare_wraps_the_order_and_send_submits_it() {
        let w = Warehouse::default();
        let order = Order {
            id: "1".into(),
            channel: "bol".into(),
            ..Default::default()
        };
        let prepared = w.prepare(&order).await.unwrap();
        assert_eq!(
            (prepared.provider.as_str(), prepared.order_id.as_str()),
            ("warehouse", "1")
        );
        assert!(w.0.lock().unwrap().is_empty(), "prepare sends nothing");
        // Through the journal and back.
        let prepared: PreparedSubmission =
            serde_json::from_str(&serde_json::to_string(&prepared).unwrap()).unwrap();
        let receipt = w.send(&prepared).await.unwrap();
        assert_eq!(receipt.reference, "W-1");
        assert_eq!(*w.0.lock().unwrap(), vec!["1".to_owned()]);
    }

    #[tokio::test]
    async fn send_refuses_another_providers_or_an_unreadable_submission_before_sending() {
        let w = Warehouse::default();
        let other = PreparedSubmission::new("shopwedo", "1", serde_json::json!({"id": "1"}));
        let err = w.send(&other).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert_eq!(err.field_errors()[0].field, "provider");
        let garbled = PreparedSubmission::new("warehouse", "1", serde_json::json!({"id": 7}));
        let err = w.send(&garbled).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains("does not decode at `id`"), "{err}");
        assert!(w.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn by_default_a_reference_cannot_be_checked() {
        let err = Warehouse::default()
            .check_reference("W-2", &Order::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        for blank in ["", "  \t"] {
            let err = require_reference(blank).unwrap_err();
            assert!(err.is_invalid_input(), "{err}");
        }
        assert_eq!(require_reference(" 90211 ").unwrap(), "90211");
    }

    #[tokio::test]
    async fn the_traits_work_as_shared_trait_objects() {
        let channels: Vec<Arc<dyn SalesChannel>> = vec![Arc::new(Shop)];
        let platforms: Vec<Box<dyn ReviewPlatform>> = vec![Box::new(Reviews)];
        let _fulfilment: Option<Box<dyn Fulfilment>> = None;
        let orders: Vec<_> = channels[0].open_orders().collect().await;
        assert_eq!(orders.len(), 1);
        let receipt = platforms[0]
            .invite(&ReviewInvitation {
                order_id: "1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(receipt.reference.as_deref(), Some("1"));
        assert_eq!(platforms[0].rating_summary().await.unwrap(), None);
    }

    #[test]
    fn a_line_is_open_for_what_is_neither_shipped_nor_cancelled() {
        let line = |ordered, shipped, cancelled| LineState {
            line_id: "1".into(),
            ordered,
            shipped,
            cancelled,
            cancellation_requested: false,
        };
        assert_eq!(line(3, 1, 1).open(), 1);
        assert_eq!(line(2, 0, 2).open(), 0);
        // A channel's inconsistent counts never underflow.
        assert_eq!(line(1, 2, 3).open(), 0);
    }

    #[tokio::test]
    async fn a_channel_without_the_reads_says_so() {
        let err = Shop.order_state("1").await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        let err = Shop.accept_cancellation("1", &["L".into()]).await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    }

    #[test]
    fn money_prints_with_two_decimals() {
        assert_eq!(Money::eur(12.99).to_string(), "12.99 EUR");
        assert_eq!(Money::new(-5, "EUR").to_string(), "-0.05 EUR");
    }
}
