//! bol as a [`SalesChannel`]: open FBR orders in, shipment confirmations out.

use async_trait::async_trait;
use commerce_core::{
    Address, ChannelOffer, ChannelReturn, ConfirmationReceipt, Customer, Error, HandlingReceipt, LineItem,
    LineState, OpenLine, Order as CommerceOrder, OrderState, ReturnHandling, SalesChannel,
    ShipmentConfirmation, StockReceipt, StockUpdate, ValidationErrors,
};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::GetOrdersParams;
use crate::generated::models::{
    CancellationRequest, GetOrdersFulfilmentMethod, GetOrdersStatus, Order, OrderItem, OrderItemCancellation,
    OrderItemCancellationReasonCode, ShipmentRequest, TransportInstruction,
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

impl RetailerClient {
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
        let client = self.clone();
        self.get_orders_stream(params)
            .and_then(move |reduced| {
                let client = client.clone();
                async move {
                    let order = client.get_order(&reduced.order_id).await?;
                    Ok(to_commerce_order(&order))
                }
            })
            .try_filter(|o| futures_util::future::ready(!o.lines.is_empty()))
            .boxed()
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
