//! bol as a [`SalesChannel`]: open FBR orders in, shipment confirmations out.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, Utc};
use commerce_core::{
    Address, ChangedOrder, ChannelEvent, ChannelOffer, ChannelReturn, ConfirmationReceipt, Customer, Error,
    HandlingReceipt, LineItem, LineState, OpenLine, Order as CommerceOrder, OrderState, ProviderError,
    ReturnHandling, SalesChannel, ShipmentConfirmation, StockReceipt, StockUpdate, ValidationErrors,
};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::GetOrdersParams;
use crate::generated::models::{
    CancellationRequest, GetOrdersFulfilmentMethod, GetOrdersStatus, Order, OrderItem, OrderItemCancellation,
    OrderItemCancellationReasonCode, ReducedOrder, ShipmentRequest, TransportInstruction,
};
use crate::process::WaitOptions;
use crate::stock::{EXPORT_WAIT, MAX_STOCK};

/// An order as the provider-neutral [`commerce_core::Order`] (`prelude::Order`): the lines still to ship (those the
/// buyer asked to cancel marked [`LineItem::cancellation_requested`]), the shipment address,
/// and the customer from it.
pub fn to_commerce_order(order: &Order) -> CommerceOrder {
    let s = &order.shipment_details;
    let shipping_address = Address {
        first_name: s.first_name.clone(),
        last_name: s.surname.clone(),
        company: s.company.clone(),
        street: s.street_name.clone(),
        house_number: s.house_number.clone(),
        house_number_addition: s.house_number_extension.clone(),
        postcode: s.zip_code.clone(),
        city: s.city.clone(),
        country: s.country_code.clone(),
        email: s.email.clone(),
        phone: s.delivery_phone_number.clone(),
    };
    let billing_address = order.billing_details.as_ref().map(|b| Address {
        first_name: b.first_name.clone(),
        last_name: b.surname.clone(),
        company: b.company.clone(),
        street: b.street_name.clone(),
        house_number: b.house_number.clone(),
        house_number_addition: b.house_number_extension.clone(),
        postcode: b.zip_code.clone(),
        city: b.city.clone(),
        country: b.country_code.clone(),
        email: Some(b.email.clone()),
        phone: None,
    });
    let lines = order
        .order_items
        .iter()
        .filter_map(|item| {
            let open = item.quantity - item.quantity_shipped - item.quantity_cancelled;
            (open > 0).then(|| LineItem {
                line_id: item.order_item_id.clone(),
                ean: item
                    .product
                    .as_ref()
                    .map(|p| p.ean.clone())
                    .filter(|e| !e.is_empty()),
                sku: item.offer.as_ref().and_then(|o| o.reference.clone()),
                title: item.product.as_ref().map(|p| p.title.clone()).unwrap_or_default(),
                quantity: u32::try_from(open).unwrap_or(u32::MAX),
                unit_price: Some(item.unit_price.clone()),
                cancellation_requested: item.cancellation_request,
            })
        })
        .collect();
    CommerceOrder {
        id: order.order_id.clone(),
        channel: PROVIDER.name.to_owned(),
        placed_at: order.order_placed_date_time.map(|t| t.to_utc()),
        customer: Customer {
            email: s.email.clone().unwrap_or_default(),
            first_name: Some(s.first_name.clone()).filter(|n| !n.is_empty()),
            last_name: Some(s.surname.clone()).filter(|n| !n.is_empty()),
            language: s.language.as_ref().map(|l| l.as_str().chars().take(2).collect()),
        },
        shipping_address,
        billing_address,
        lines,
        // A pick-up point order: the shipment details are the point's address.
        pickup_point: order.pickup_point.then(|| {
            s.pickup_point_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "pick-up point".to_owned())
        }),
    }
}

/// Whether some line still to ship is the shop's own: not one bol says it fulfils itself
/// (`fulfilment.method` `FBB`). A line without a fulfilment method counts as the shop's
/// (bol's description makes `fulfilment` optional; inferred).
fn ships_some_line_itself(order: &Order) -> bool {
    order
        .order_items
        .iter()
        .any(|item| item.quantity - item.quantity_shipped - item.quantity_cancelled > 0 && !is_bols_own(item))
}

/// Whether bol ships this line itself (`FBB`): never the shop's warehouse's to ship.
fn is_bols_own(item: &crate::generated::models::OrderItemDetails) -> bool {
    item.fulfilment
        .as_ref()
        .is_some_and(|f| f.method.trim().eq_ignore_ascii_case("FBB"))
}

/// The order as [`SalesChannel::open_orders`] and [`SalesChannel::open_order`] give it
/// ([`to_commerce_order`]: its lines still to ship), or `None` when nothing of it is left
/// for the shop to ship: no line still open, or every open line bol's own (FBB). A mixed
/// order's FBB lines are left out.
pub fn open_commerce_order(order: &Order) -> Option<CommerceOrder> {
    if !ships_some_line_itself(order) {
        return None;
    }
    let mut mapped = to_commerce_order(order);
    // A mixed order's FBB lines are bol's to ship: handing them to the shop's warehouse
    // would ship them twice.
    let bols: Vec<&str> = order
        .order_items
        .iter()
        .filter(|i| is_bols_own(i))
        .map(|i| i.order_item_id.as_str())
        .collect();
    mapped.lines.retain(|l| !bols.contains(&l.line_id.as_str()));
    (!mapped.lines.is_empty()).then_some(mapped)
}

/// The order's lines as [`OrderState`]: quantities ordered, shipped and cancelled, and the
/// buyer's open cancellation requests. Negative or absurd counts read as 0 and `u32::MAX`.
pub fn to_order_state(order: &Order) -> OrderState {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    OrderState {
        order_id: order.order_id.clone(),
        lines: order
            .order_items
            .iter()
            .map(|i| LineState {
                line_id: i.order_item_id.clone(),
                ordered: count(i.quantity),
                shipped: count(i.quantity_shipped),
                cancelled: count(i.quantity_cancelled),
                cancellation_requested: i.cancellation_request,
            })
            .collect(),
    }
}

/// Whether some line of the order is still to ship: shipped and cancelled together fewer
/// than ordered.
pub fn is_open(order: &Order) -> bool {
    to_order_state(order).lines.iter().any(|l| l.open() > 0)
}

/// The longest `since` [`RetailerClient::changed_channel_orders`] asks for in minutes
/// (`change-interval-minute`); further back, it asks by date (`latest-change-date`).
pub const CHANGE_INTERVAL_MAX_MINUTES: i64 = 60;

/// The most days [`RetailerClient::changed_channel_orders`] goes back: bol keeps "up to 3
/// months" of `latest-change-date` history.
pub const CHANGE_HISTORY_DAYS: i64 = 92;

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next =
        NaiveDate::from_ymd_opt(year, month + 1, 1).expect("March and October have a next month");
    let last = first_of_next
        .pred_opt()
        .expect("a day before the first of a month");
    let back = last.weekday().num_days_from_sunday();
    last - Span::days(i64::from(back))
}

/// The calendar date at `t` in Europe/Amsterdam, bol's own time zone: UTC+2 from the last
/// Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (the EU's summer
/// time), UTC+1 otherwise.
pub fn amsterdam_date(t: DateTime<Utc>) -> NaiveDate {
    let year = t.year();
    let at_one = |d: NaiveDate| d.and_hms_opt(1, 0, 0).expect("01:00 exists").and_utc();
    let summer = t >= at_one(last_sunday(year, 3)) && t < at_one(last_sunday(year, 10));
    let offset = if summer { 2 } else { 1 };
    (t + Span::hours(offset)).date_naive()
}

/// The order lists to ask for the orders changed since `since`, at `now`: one with
/// `change-interval-minute` (the minutes since `since`, rounded up, at least 1) when `since`
/// is at most [`CHANGE_INTERVAL_MAX_MINUTES`] ago; otherwise one `latest-change-date` per
/// Amsterdam date from `since`'s to `now`'s (an item's latest change falls on one of them),
/// at most [`CHANGE_HISTORY_DAYS`] back.
fn changed_order_queries(since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<GetOrdersParams> {
    let base = GetOrdersParams {
        fulfilment_method: Some(GetOrdersFulfilmentMethod::Fbr),
        status: Some(GetOrdersStatus::All),
        ..Default::default()
    };
    let seconds = now.signed_duration_since(since).num_seconds();
    if seconds <= CHANGE_INTERVAL_MAX_MINUTES * 60 {
        let minutes = ((seconds + 59) / 60).max(1);
        return vec![GetOrdersParams {
            change_interval_minute: Some(minutes),
            ..base
        }];
    }
    let last = amsterdam_date(now);
    let oldest = last - Span::days(CHANGE_HISTORY_DAYS);
    let mut day = amsterdam_date(since).max(oldest);
    if amsterdam_date(since) < oldest {
        tracing::warn!(%since, "bol keeps about 3 months of order changes: reconciling from {oldest}");
    }
    let mut queries = Vec::new();
    while day <= last {
        queries.push(GetOrdersParams {
            latest_change_date: Some(day),
            ..base.clone()
        });
        day = day.succ_opt().expect("a date after this one");
    }
    queries
}

impl RetailerClient {
    /// Every order the given order lists name that `wanted` keeps, each read in full
    /// (`GET /retailer/orders/{order-id}`) as the stream is read; an order named again (on
    /// a later page or list) is read once.
    fn full_orders(
        &self,
        lists: Vec<GetOrdersParams>,
        wanted: impl Fn(&ReducedOrder) -> bool + Send + 'static,
    ) -> BoxStream<'static, Result<Order, Error>> {
        let lister = self.clone();
        let reader = self.clone();
        let mut seen = HashSet::new();
        futures_util::stream::iter(lists)
            .flat_map(move |params| lister.get_orders_stream(params))
            .try_filter(move |reduced| {
                futures_util::future::ready(wanted(reduced) && seen.insert(reduced.order_id.clone()))
            })
            .and_then(move |reduced| {
                let reader = reader.clone();
                async move { reader.get_order(&reduced.order_id).await }
            })
            .boxed()
    }

    /// The FBR orders whose items changed since `since`, open or not, as at `now`
    /// (`GET /retailer/orders?fulfilment-method=FBR&status=ALL` with
    /// `change-interval-minute` or `latest-change-date`, every page; each order read in
    /// full and mapped as [`SalesChannel::open_orders`] maps it): `open` when some line is
    /// still to ship by the shop (bol's own FBB lines do not count, and are left out).
    /// [`SalesChannel::changed_orders`] is this at the current time.
    ///
    /// Further back than an hour (bol's `change-interval-minute` goes to 60), bol is asked
    /// by date: the dates are Europe/Amsterdam's (bol's own time zone; inferred, bol's
    /// description does not name one), one list per date from `since`'s to today. An order
    /// whose listed items all carry a `latestChangedDateTime` before `since` is left out
    /// without being read; one whose items do not say when they changed is read.
    pub fn changed_channel_orders(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxStream<'static, Result<ChangedOrder, Error>> {
        let changed_since = move |reduced: &ReducedOrder| {
            reduced.order_items.is_empty()
                || reduced
                    .order_items
                    .iter()
                    .any(|i| i.latest_changed_date_time.is_none_or(|t| t >= since))
        };
        self.full_orders(changed_order_queries(since, now), changed_since)
            .map_ok(|order| match open_commerce_order(&order) {
                // Its lines still to ship by the shop, exactly as the open listing gives them
                // (a mixed order's FBB lines left out).
                Some(open) => ChangedOrder {
                    open: true,
                    order: open,
                },
                // Shipped, cancelled, or only bol's own (FBB) lines left: nothing to hand over.
                None => ChangedOrder {
                    open: false,
                    order: to_commerce_order(&order),
                },
            })
            .boxed()
    }

    /// Whether every given line of the order is already shipped or cancelled in full (so
    /// confirming or cancelling it again would be a duplicate).
    async fn already_closed(&self, order_id: &str, line_ids: &[String]) -> Result<bool, Error> {
        let order = self.get_order(order_id).await?;
        let state = to_order_state(&order);
        Ok(line_ids
            .iter()
            .all(|id| state.line(id).is_some_and(|l| l.open() == 0)))
    }

    /// The receipt of a call that had nothing left to do.
    fn nothing_to_do() -> ConfirmationReceipt {
        ConfirmationReceipt {
            channel: PROVIDER.name.to_owned(),
            reference: None,
        }
    }
}

#[async_trait]
impl SalesChannel for RetailerClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// The client id: one journal serves one bol credential's orders.
    fn account(&self) -> Option<String> {
        Some(format!("client id {}", self.client_id()))
    }

    /// Open orders fulfilled by the retailer (FBR), page by page; each with its details
    /// (addresses, products), fetched as the stream is read.
    fn open_orders(&self) -> BoxStream<'static, Result<CommerceOrder, Error>> {
        let params = GetOrdersParams {
            fulfilment_method: Some(GetOrdersFulfilmentMethod::Fbr),
            status: Some(GetOrdersStatus::Open),
            ..Default::default()
        };
        self.full_orders(vec![params], |_| true)
            .try_filter_map(|order| futures_util::future::ready(Ok(open_commerce_order(&order))))
            .boxed()
    }

    /// The order read in full (`GET /retailer/orders/{order-id}`) and mapped as
    /// [`open_orders`](SalesChannel::open_orders) maps it ([`open_commerce_order`]): its
    /// lines still to ship. `Ok(None)` when bol answers 404, or when nothing of the order is
    /// left for the shop to ship (every line shipped or cancelled, or bol's own, FBB). An
    /// empty id is refused before anything is sent; an answer naming another order is an
    /// error.
    async fn open_order(&self, order_id: &str) -> Result<Option<CommerceOrder>, Error> {
        let mut v = ValidationErrors::new();
        v.require(order_id, "order_id");
        v.into_result(())?;
        let order_id = order_id.trim();
        let order = match self.get_order(order_id).await {
            Ok(order) => order,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        if order.order_id.trim() != order_id {
            return Err(ProviderError::new(PROVIDER.name, "get-order", 200)
                .with_message(format!(
                    "asked for order {order_id}, bol answered order {}",
                    order.order_id.chars().take(64).collect::<String>().escape_debug()
                ))
                .into());
        }
        Ok(open_commerce_order(&order))
    }

    /// The FBR orders whose items changed since `since`, open or not, each read in full
    /// ([`RetailerClient::changed_channel_orders`] at the current time).
    fn changed_orders(&self, since: DateTime<Utc>) -> BoxStream<'static, Result<ChangedOrder, Error>> {
        self.changed_channel_orders(since, Utc::now())
    }

    /// A final process status pushed by bol wakes every wait of this client (and its
    /// clones) for that id: it polls at once instead of at its next back-off
    /// ([`RetailerClient::process_status_arrived`]). Other events need nothing here.
    fn event_arrived(&self, event: &ChannelEvent) {
        if let ChannelEvent::ProcessStatus { id, .. } = event {
            self.process_status_arrived(id);
        }
    }

    /// Confirms the shipment of the lines with their tracking code (without transport
    /// details when the code is empty: a parcel that left without one) and waits until
    /// bol's process status says it succeeded. Lines bol already has as shipped are not sent
    /// again: the order is read first, so a rerun after a crash does not ship twice.
    async fn confirm_shipment(&self, shipment: &ShipmentConfirmation) -> Result<ConfirmationReceipt, Error> {
        let mut v = ValidationErrors::new();
        v.require(&shipment.order_id, "order_id");
        v.check(
            !shipment.line_ids.is_empty(),
            "line_ids",
            "at least one order line is required",
        );
        v.into_result(())?;
        if self
            .already_closed(&shipment.order_id, &shipment.line_ids)
            .await?
        {
            return Ok(Self::nothing_to_do());
        }
        let request = ShipmentRequest {
            order_items: shipment
                .line_ids
                .iter()
                .map(|id| OrderItem {
                    order_item_id: id.clone(),
                    quantity: None,
                })
                .collect(),
            // Without a tracking code (a warehouse that shipped without one), the shipment
            // is confirmed without transport details: bol's `transport` is optional.
            transport: (!shipment.tracking.code.trim().is_empty()).then(|| TransportInstruction {
                transporter_code: shipment
                    .tracking
                    .carrier
                    .clone()
                    .unwrap_or_else(|| "OTHER".to_owned()),
                track_and_trace: Some(shipment.tracking.code.clone()),
            }),
            ..Default::default()
        };
        let started = match self.create_shipment(&request).await {
            Ok(s) => s,
            Err(e) if e.is_unconfirmed() => {
                // It may have arrived: look before trying again.
                if self
                    .already_closed(&shipment.order_id, &shipment.line_ids)
                    .await?
                {
                    return Ok(Self::nothing_to_do());
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let done = self.wait_for_success(&started, WaitOptions::default()).await?;
        Ok(ConfirmationReceipt {
            channel: PROVIDER.name.to_owned(),
            reference: done.process_status_id.or(started.process_status_id),
        })
    }

    /// The order as bol has it now (`GET /retailer/orders/{order-id}`); `Ok(None)` when bol
    /// answers 404.
    async fn order_state(&self, order_id: &str) -> Result<Option<OrderState>, Error> {
        match self.get_order(order_id).await {
            Ok(order) => Ok(Some(to_order_state(&order))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every offer with its stock when `ids` is empty: the offers export, end to end
    /// (waiting up to [`EXPORT_WAIT`]: a large export takes minutes); else one
    /// `GET /retailer/offers/{offer-id}` per id, paced (404: left out). Stock figures are
    /// read offer by offer: one bol cannot have (not a whole number, above 999) is `None`
    /// for that offer alone. The export's columns are not in bol's description
    /// ([`RetailerClient::exported_channel_offers`]).
    async fn offers(&self, ids: &[String]) -> Result<Vec<ChannelOffer>, Error> {
        if ids.is_empty() {
            self.exported_channel_offers(EXPORT_WAIT).await
        } else {
            self.channel_offers(ids).await
        }
    }

    /// One `update-offer-stock` per update, paced, then every process status waited for
    /// in bulk ([`RetailerClient::update_stocks`] with the default wait).
    async fn set_stock(&self, updates: &[StockUpdate]) -> Vec<Result<StockReceipt, Error>> {
        self.update_stocks(updates, WaitOptions::default()).await
    }

    /// The open FBR order items from the reduced order list
    /// ([`RetailerClient::open_order_lines`]): no read per order.
    fn open_lines(&self) -> BoxStream<'static, Result<OpenLine, Error>> {
        self.open_order_lines()
    }

    /// bol takes 0 to 999 units per offer.
    fn max_stock(&self) -> u32 {
        MAX_STOCK
    }

    /// bol's unhandled returns of FBR orders, every page
    /// ([`RetailerClient::open_channel_returns`]).
    fn open_returns(&self) -> BoxStream<'static, Result<ChannelReturn, Error>> {
        self.open_channel_returns()
    }

    /// The return as bol has it now (`GET /retailer/returns/{return-id}`); `Ok(None)` when
    /// bol answers 404 ([`RetailerClient::channel_return`]).
    async fn return_state(&self, return_id: &str) -> Result<Option<ChannelReturn>, Error> {
        self.channel_return(return_id).await
    }

    /// Reads, then handles the item once and waits for bol's process status with the
    /// default wait ([`RetailerClient::handle_return_item`]).
    async fn handle_return(&self, handling: &ReturnHandling) -> Result<HandlingReceipt, Error> {
        self.handle_return_item(handling, WaitOptions::default()).await
    }

    /// Accepts the buyer's cancellation of each line still open, one
    /// `PUT /retailer/orders/cancellation` per line (bol takes one order item per request),
    /// reason `REQUESTED_BY_CUSTOMER`, waiting for each process status. The order is read
    /// first: lines already cancelled or shipped are not sent, so a rerun after a crash does
    /// not cancel twice. The PUT is never re-sent by the transport: an unknown outcome is
    /// settled by reading the order again.
    async fn accept_cancellation(
        &self,
        order_id: &str,
        line_ids: &[String],
    ) -> Result<ConfirmationReceipt, Error> {
        let mut v = ValidationErrors::new();
        v.require(order_id, "order_id");
        v.check(
            !line_ids.is_empty(),
            "line_ids",
            "at least one order line is required",
        );
        v.into_result(())?;
        // One read for every line: a line's cancellation changes no other line.
        let state = to_order_state(&self.get_order(order_id).await?);
        let mut receipt = Self::nothing_to_do();
        for id in line_ids {
            if state.line(id).is_some_and(|l| l.open() == 0) {
                continue;
            }
            let request = CancellationRequest {
                order_items: vec![OrderItemCancellation {
                    order_item_id: id.clone(),
                    reason_code: OrderItemCancellationReasonCode::RequestedByCustomer,
                }],
            };
            let started = match self.cancel_order_item(&request).await {
                Ok(s) => s,
                Err(e) if e.is_unconfirmed() => {
                    if self.already_closed(order_id, std::slice::from_ref(id)).await? {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let done = self.wait_for_success(&started, WaitOptions::default()).await?;
            receipt.reference = done.process_status_id.or(started.process_status_id);
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use commerce_core::Money;

    use super::*;

    /// bol's amounts are exact cents in the order's lines; one with more decimals than
    /// cents (bol sends at most two) fails the decoding instead of being rounded.
    #[test]
    fn amounts_become_exact_cents() {
        let order = |price: &str| {
            serde_json::from_str::<Order>(&format!(
                r#"{{"orderId": "1", "orderItems": [{{"orderItemId": "a", "quantity": 1, "unitPrice": {price}}}]}}"#
            ))
        };
        let line = |price: &str| {
            to_commerce_order(&order(price).unwrap()).lines[0]
                .unit_price
                .clone()
        };
        assert_eq!(line("12.99"), Some(Money::new(1299, "EUR")));
        assert_eq!(line("0.1"), Some(Money::new(10, "EUR")));
        assert_eq!(line("118.91"), Some(Money::new(11891, "EUR")));
        assert_eq!(line("12"), Some(Money::new(1200, "EUR")));
        // More decimals than bol documents: rounded half away from zero, as before.
        assert_eq!(line("12.995"), Some(Money::new(1300, "EUR")));
        assert_eq!(line("12.994"), Some(Money::new(1299, "EUR")));
    }
}
