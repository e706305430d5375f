//! The offers' stock, as a stock sync needs it: bol's offers with the stock it keeps for
//! them (the export, or one read per offer), stock updates sent paced and waited for in
//! bulk, and the open order lines from the reduced order list.
//!
//! Every answer is read tolerantly: a stock figure that is not a whole number, or lies
//! outside bol's own range, is left out (`None`) for that offer alone; it never fails the
//! export or the read.

use std::collections::HashSet;
use std::time::Duration;

use commerce_core::{ChannelOffer, Error, OpenLine, StockReceipt, StockUpdate, ValidationErrors};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::client::{Api, RetailerClient};
use crate::export::{ExportedOffer, whole_number};
use crate::generated::GetOrdersParams;
use crate::generated::UpdateOfferStockParams;
use crate::generated::models::{
    GetOrdersFulfilmentMethod, GetOrdersStatus, ReducedOrder, ReducedOrderItemFulfilmentMethod,
    UpdateOfferStockRequest,
};
use crate::process::{CONCURRENT_CREATES, WaitOptions};

/// The most stock one offer can have at bol (`UpdateOfferStockRequest.amount`: 0 to 999).
pub const MAX_STOCK: u32 = 999;

/// How long [`SalesChannel::offers`](commerce_core::SalesChannel::offers) waits for the
/// offers export: bol gives no time for it and a large export takes minutes, so up to 30
/// minutes, polling after a second and then half as long again each time, at most every 15
/// seconds.
pub const EXPORT_WAIT: WaitOptions = WaitOptions {
    deadline: Duration::from_secs(30 * 60),
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(15),
    growth_percent: 150,
};

/// A stock figure bol gave, as a sync may trust it: below 0 is 0 (nothing is for sale
/// either way), above [`MAX_STOCK`] is `None` (outside bol's own range: not trusted; a sync
/// that does not know the figure sends its own).
fn stock_figure(n: i64) -> Option<i64> {
    (n <= i64::from(MAX_STOCK)).then_some(n.max(0))
}

impl ExportedOffer {
    /// The row as a [`ChannelOffer`]; `None` without an `offerId` (nothing could be
    /// updated). `amount` is `stockAmount` and `corrected` `correctedStock`, each read by
    /// itself: not a whole number or above 999 is `None`, below 0 is 0. `managed_by_shop`
    /// comes from a `managedByRetailer` column where the export has one, else `None`; `FBB`
    /// in `fulfilmentType` is fulfilled by bol.
    pub fn to_channel_offer(&self) -> Option<ChannelOffer> {
        Some(ChannelOffer {
            offer_id: self.offer_id()?.trim().to_owned(),
            ean: self.ean().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()),
            amount: self.stock_amount().and_then(stock_figure),
            corrected: self.corrected_stock().and_then(stock_figure),
            managed_by_shop: self.managed_by_retailer(),
            fulfilled_by_channel: self
                .fulfilment_type()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("FBB")),
            on_hold: self.on_hold_by_retailer().unwrap_or(false),
        })
        .filter(|o| !o.offer_id.is_empty())
    }
}

/// A whole number in a JSON answer: a number, or a text holding one; else `None`.
fn json_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| whole_number(&n.to_string())),
        Value::String(s) => whole_number(s),
        _ => None,
    }
}

/// A boolean in a JSON answer: `true`/`false`, or a text saying so; else `None`.
fn json_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A `RetailerOffer` (`GET /retailer/offers/{offer-id}`) as a [`ChannelOffer`], read field
/// by field: `stock.amount`, `stock.correctedStock` (as in the export: not a whole number
/// or above 999 is `None`, below 0 is 0), `stock.managedByRetailer` (`None` when absent or
/// not a boolean), `fulfilment.method` (`FBB`: bol's) and `onHoldByRetailer`. The offer id
/// is the answer's, or the one asked for when the answer has none.
fn offer_from_answer(asked: &str, answer: &Value) -> ChannelOffer {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let stock = answer.get("stock");
    let stock_field = |name: &str| stock.and_then(|s| s.get(name));
    ChannelOffer {
        offer_id: text(answer.get("offerId")).unwrap_or_else(|| asked.to_owned()),
        ean: text(answer.get("ean")),
        amount: stock_field("amount").and_then(json_number).and_then(stock_figure),
        corrected: stock_field("correctedStock")
            .and_then(json_number)
            .and_then(stock_figure),
        managed_by_shop: stock_field("managedByRetailer").and_then(json_bool),
        fulfilled_by_channel: answer
            .get("fulfilment")
            .and_then(|f| f.get("method"))
            .and_then(Value::as_str)
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("FBB")),
        on_hold: answer
            .get("onHoldByRetailer")
            .and_then(json_bool)
            .unwrap_or(false),
    }
}

/// The lines of a reduced order (`GET /retailer/orders`) still to ship, as [`OpenLine`]s:
/// one per order item whose `quantity − quantityShipped − quantityCancelled` is above 0
/// (absent counts read as 0, negative ones as 0). Items bol fulfils (`FBB`) are left out.
/// The item's `fulfilmentStatus` is not trusted over the counts: an item said `HANDLED`
/// whose counts leave units open is kept (a sync that counts it hides those units for a
/// while; one that drops it could sell them twice).
pub fn open_lines_of(order: &ReducedOrder) -> Vec<OpenLine> {
    let count = |n: i64| n.max(0);
    order
        .order_items
        .iter()
        .filter(|item| item.fulfilment_method != ReducedOrderItemFulfilmentMethod::Fbb)
        .filter_map(|item| {
            let open = count(item.quantity)
                .saturating_sub(count(item.quantity_shipped))
                .saturating_sub(count(item.quantity_cancelled));
            (open > 0).then(|| OpenLine {
                order_id: order.order_id.clone(),
                line_id: item.order_item_id.clone(),
                ean: Some(item.ean.trim().to_owned()).filter(|e| !e.is_empty()),
                quantity: u32::try_from(open).unwrap_or(u32::MAX),
                placed_at: order.order_placed_date_time.map(|t| t.to_utc()),
            })
        })
        .collect()
}

impl RetailerClient {
    /// Every offer of the export as a [`ChannelOffer`]
    /// ([`export_offers`](Self::export_offers), then
    /// [`ExportedOffer::to_channel_offer`]); rows without an offer id are left out.
    pub async fn exported_channel_offers(&self, options: WaitOptions) -> Result<Vec<ChannelOffer>, Error> {
        let rows = self.export_offers(options).await?;
        let offers: Vec<ChannelOffer> = rows.iter().filter_map(ExportedOffer::to_channel_offer).collect();
        if offers.len() < rows.len() {
            tracing::debug!(
                left_out = rows.len() - offers.len(),
                "offers export rows without an offer id"
            );
        }
        Ok(offers)
    }

    /// One offer with its stock (`GET /retailer/offers/{offer-id}`, operation `get-offer`,
    /// paced in its bucket), read tolerantly field by field; `Ok(None)` when bol answers 404
    /// (an offer it does not know, or no longer).
    pub async fn channel_offer(&self, offer_id: &str) -> Result<Option<ChannelOffer>, Error> {
        let path = self.path(
            Api::Retailer,
            &format!("offers/{}", commerce_core::encode_segment(offer_id)),
        );
        let mut ep = commerce_core::Endpoint::new(http::Method::GET, "get-offer", path)
            .accept(self.media("Offers", "application/vnd.retailer.v10+json"))
            .bucket("get-offer");
        if offer_id.trim().is_empty() {
            ep.fail(Error::invalid("offer_id", "is required"));
        }
        match self.json_of::<Value>(ep).await {
            Ok(answer) => Ok(Some(offer_from_answer(offer_id, &answer))),
            Err(Error::Provider(p)) if p.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The named offers, one [`channel_offer`](Self::channel_offer) read each (a few at
    /// once, as fast as bol's limits for `get-offer` let them go), in the order given, each
    /// id once; those bol answers 404 for are left out. An offer whose read fails otherwise
    /// is left out too (logged), unless every read failed: then the call fails with the
    /// first error. A blank id fails it before anything is sent ([`Error::InvalidInput`]
    /// naming its index).
    pub async fn channel_offers(&self, ids: &[String]) -> Result<Vec<ChannelOffer>, Error> {
        let mut v = ValidationErrors::new();
        for (i, id) in ids.iter().enumerate() {
            v.require(id, format!("ids[{i}]"));
        }
        v.into_result(())?;
        let mut seen = HashSet::new();
        // Owned, so the stream's futures borrow nothing with a lifetime of their own (the
        // trait's future must be `Send` for every lifetime).
        let ids: Vec<String> = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect();
        let results: Vec<Result<Option<ChannelOffer>, Error>> = futures_util::stream::iter(ids)
            .map(|id| {
                let client = self.clone();
                async move { client.channel_offer(&id).await }
            })
            .buffered(CONCURRENT_CREATES)
            .collect()
            .await;
        // One offer's failed read leaves that offer out (a stock sync then leaves it as it
        // is); only when every read failed is it the call's failure (credentials refused,
        // bol down).
        let mut found = Vec::new();
        let mut first_error = None;
        let mut failed = 0usize;
        for result in results {
            match result {
                Ok(offer) => found.extend(offer),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "bol: an offer could not be read; left out");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if found.is_empty() && failed > 0 => Err(e),
            _ => Ok(found),
        }
    }

    /// Sends each stock update (`PUT /retailer/offers/{offer-id}/stock` with
    /// `{"amount": n, "managedByRetailer": b}`, a few at once, as fast as bol's limits for
    /// `update-offer-stock` let them go) and waits for all their process statuses together,
    /// in bulk. One result per update, in order: its process status id, or its error. An
    /// update above [`MAX_STOCK`], without an offer id, or for an offer named earlier in the
    /// same call (two amounts for one offer would race) is refused before anything is sent
    /// for it ([`Error::InvalidInput`]); bol's 400 keeps its violations; a process that
    /// ends in `FAILURE` or `TIMEOUT` is an error with bol's message. One update's failure
    /// never stops the others.
    ///
    /// The amount is absolute, so an update whose outcome is unknown (a time-out, a dropped
    /// connection, a 502) is sent again by the transport: the PUT sets a state and repeating
    /// it sets the same state.
    #[allow(deprecated)]
    pub async fn update_stocks(
        &self,
        updates: &[StockUpdate],
        options: WaitOptions,
    ) -> Vec<Result<StockReceipt, Error>> {
        let mut named = HashSet::new();
        let checked: Vec<Result<StockUpdate, Error>> = updates
            .iter()
            .map(|u| {
                let mut v = ValidationErrors::new();
                v.require(&u.offer_id, "offer_id");
                v.check(
                    u.amount <= MAX_STOCK,
                    "amount",
                    format!(
                        "{} for offer {} is more than bol takes (0 to {MAX_STOCK})",
                        u.amount, u.offer_id
                    ),
                );
                v.check(
                    named.insert(u.offer_id.trim()),
                    "offer_id",
                    format!(
                        "offer {} is named twice in one call: its two amounts would race",
                        u.offer_id
                    ),
                );
                v.into_result(u.clone())
            })
            .collect();
        let sent: Vec<_> = futures_util::stream::iter(checked)
            .map(|u| {
                let client = self.clone();
                async move {
                    let u = u?;
                    let body = UpdateOfferStockRequest {
                        amount: i64::from(u.amount),
                        managed_by_retailer: u.managed_by_shop,
                    };
                    // The method's own replay rule applies: a PUT is `Replay::Always`, and this
                    // one may be re-sent after an unknown outcome, since it sets an absolute
                    // amount (unlike `cancel-order-item`, which the generator marks `Never`).
                    client
                        .update_offer_stock(&u.offer_id, &UpdateOfferStockParams::default(), &body)
                        .await
                }
            })
            .buffered(CONCURRENT_CREATES)
            .collect()
            .await;
        let done = self.settle(sent, "stock update", options).await;
        updates
            .iter()
            .zip(done)
            .map(|(u, outcome)| {
                outcome.map(|status| StockReceipt {
                    offer_id: u.offer_id.clone(),
                    reference: status.process_status_id,
                })
            })
            .collect()
    }

    /// Every order item bol still has open for the retailer to ship (FBR), from the reduced
    /// order list alone (`GET /retailer/orders?fulfilment-method=FBR&status=OPEN`, page by
    /// page until an empty one; no read per order): [`open_lines_of`] each order.
    pub fn open_order_lines(&self) -> BoxStream<'static, Result<OpenLine, Error>> {
        let params = GetOrdersParams {
            fulfilment_method: Some(GetOrdersFulfilmentMethod::Fbr),
            status: Some(GetOrdersStatus::Open),
            ..Default::default()
        };
        self.get_orders_stream(params)
            .map_ok(|order| futures_util::stream::iter(open_lines_of(&order).into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::parse_csv;

    #[test]
    fn stock_figures_are_clamped_below_and_refused_above() {
        assert_eq!(stock_figure(-3), Some(0));
        assert_eq!(stock_figure(0), Some(0));
        assert_eq!(stock_figure(999), Some(999));
        assert_eq!(stock_figure(1000), None);
    }

    #[test]
    fn an_answer_read_field_by_field() {
        let answer = serde_json::json!({
            "ean": " 8712345678906 ",
            "stock": {"amount": "12", "correctedStock": -1, "managedByRetailer": "yes"},
            "fulfilment": {"method": "fbb"},
            "onHoldByRetailer": true
        });
        let offer = offer_from_answer("o-1", &answer);
        assert_eq!(offer.offer_id, "o-1", "the id asked for when the answer has none");
        assert_eq!(offer.ean.as_deref(), Some("8712345678906"));
        assert_eq!(offer.amount, Some(12));
        assert_eq!(offer.corrected, Some(0));
        assert_eq!(offer.managed_by_shop, None, "not a JSON boolean nor true/false");
        assert!(offer.fulfilled_by_channel && offer.on_hold);
        let bare = offer_from_answer("o-2", &serde_json::json!([]));
        assert_eq!(
            bare,
            ChannelOffer {
                offer_id: "o-2".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_row_without_an_offer_id_is_no_offer() {
        let rows = parse_csv("offerId,ean,stockAmount\n,871,5\n  ,872,5\no-3,873,1e3\n");
        assert_eq!(rows[0].to_channel_offer(), None);
        assert_eq!(rows[1].to_channel_offer(), None);
        assert_eq!(
            rows[2].to_channel_offer().unwrap().amount,
            None,
            "1000: above bol's range"
        );
    }
}
