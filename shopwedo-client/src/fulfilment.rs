//! ShopWeDo as a [`Fulfilment`] provider.

use async_trait::async_trait;
use commerce_core::{
    Error, Fulfilment, FulfilmentState, FulfilmentStatus, Order as CommerceOrder, StockLevel,
    SubmissionReceipt, Tracking, ValidationErrors,
};
use futures_util::TryStreamExt;

use crate::client::{PROVIDER, ShopWeDoClient};
use crate::model::{Address, NewOrder, Order, OrderItem};

fn address(a: &commerce_core::Address, fallback_email: &str) -> Address {
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    Address {
        firstname: Some(a.first_name.clone()).filter(|s| !s.is_empty()),
        lastname: Some(a.last_name.clone()).filter(|s| !s.is_empty()),
        company: blank(&a.company),
        vat: None,
        street: a.street.clone(),
        number: a.house_number.clone(),
        box_number: blank(&a.house_number_addition),
        zip: a.postcode.clone(),
        city: a.city.clone(),
        country_iso2: a.country.to_ascii_uppercase(),
        email: blank(&a.email).unwrap_or_else(|| fallback_email.to_owned()),
        phone: a.phone.clone().unwrap_or_default(),
    }
}

/// Where an order stands, from what `getOrder` says. ShopWeDo does not publish its status
/// codes, so the state is read from the shipments and the status text (*inferred*).
pub fn state_of(order: &Order) -> FulfilmentState {
    let text = order
        .status_string
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if text.contains("cancel") {
        FulfilmentState::Cancelled
    } else if text.contains("partial") {
        // Before "shipped": a partly shipped order has parcels, not all of them.
        FulfilmentState::PartiallyShipped
    } else if !order.shipping.is_empty()
        || order.shipped_at.is_some()
        || text.contains("shipped")
        || text.contains("sent")
    {
        FulfilmentState::Shipped
    } else if text.contains("error") || text.contains("fail") || text.contains("refused") {
        FulfilmentState::Failed
    } else if text.is_empty() || text.contains("wait") || text.contains("new") || text.contains("received") {
        FulfilmentState::Received
    } else {
        FulfilmentState::Processing
    }
}

impl ShopWeDoClient {
    /// The ShopWeDo order for a commerce order: lines are matched to stock items by EAN
    /// (the stock item's `reference`), or by a line's SKU when it is a ShopWeDo stock id.
    pub async fn new_order_for(&self, order: &CommerceOrder) -> Result<NewOrder, Error> {
        let mut problems = ValidationErrors::new();
        let mut items = Vec::with_capacity(order.lines.len());
        for (i, line) in order.lines.iter().enumerate() {
            let sku = match (&line.ean, &line.sku) {
                (Some(ean), _) => self.sku_for_barcode(ean).await?,
                (None, Some(sku)) => sku.trim().parse().ok(),
                (None, None) => None,
            };
            match sku {
                Some(sku) => items.push(OrderItem {
                    sku,
                    amount: line.quantity,
                    name: Some(line.title.clone()).filter(|t| !t.is_empty()),
                    comment: None,
                }),
                None => problems.push(
                    format!("lines[{i}]"),
                    format!(
                        "no ShopWeDo stock item has the barcode {}",
                        line.ean
                            .as_deref()
                            .or(line.sku.as_deref())
                            .unwrap_or("(none given)")
                    ),
                ),
            }
        }
        problems.into_result(())?;
        let email = &order.customer.email;
        let shipping = address(&order.shipping_address, email);
        // The billing address is the same customer's: where it lacks the phone (bol gives
        // none there) or the e-mail ShopWeDo requires, take the shipping address's.
        let billing = order.billing_address.as_ref().map(|a| {
            let mut b = address(a, email);
            if b.phone.trim().is_empty() {
                b.phone = shipping.phone.clone();
            }
            if b.email.trim().is_empty() {
                b.email = shipping.email.clone();
            }
            b
        });
        Ok(NewOrder {
            external_order_id: order.id.clone(),
            external_order_reference: Some(format!("{}:{}", order.channel, order.id)),
            release: Some(self.inner.release),
            created_at: order.placed_at.unwrap_or_else(chrono::Utc::now).naive_utc(),
            updated_at: None,
            comment: None,
            comment_packing: None,
            billing_address: billing,
            shipping_address: shipping,
            items,
        })
    }
}

#[async_trait]
impl Fulfilment for ShopWeDoClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// `createOrder`. ShopWeDo offers no look-up by your order number, so a submission whose
    /// outcome is unknown (a time-out after sending) comes back as
    /// [`Error::Unconfirmed`]: check the ShopWeDo dashboard before submitting again.
    async fn submit(&self, order: &CommerceOrder) -> Result<SubmissionReceipt, Error> {
        let new = self.new_order_for(order).await?;
        let id = self.create_order(&new).await?;
        Ok(SubmissionReceipt {
            provider: PROVIDER.name.to_owned(),
            reference: id.to_string(),
            already_submitted: false,
        })
    }

    async fn status(&self, reference: &str) -> Result<FulfilmentStatus, Error> {
        let id = parse_reference(reference)?;
        let order = self.get_order(id).await?;
        let shipments = order
            .shipping
            .iter()
            .map(|s| commerce_core::Shipment {
                tracking: s.tracking_code().map(|code| Tracking {
                    carrier: s.carrier(),
                    code,
                    url: s.tracking_url(),
                }),
                shipped_at: s.shipped_at().or(order.shipped_at).map(|t| t.and_utc()),
                line_ids: Vec::new(),
            })
            .collect();
        Ok(FulfilmentStatus {
            state: state_of(&order),
            shipments,
        })
    }

    async fn cancel(&self, reference: &str) -> Result<(), Error> {
        self.cancel_order(parse_reference(reference)?).await
    }

    /// Stock by barcode: every stock item is read (50 to a page) and those whose `reference`
    /// is one of `eans` kept; available is the ATP.
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        let wanted: std::collections::HashSet<&str> = eans.iter().map(|e| e.trim()).collect();
        self.stock_stream()
            .try_filter_map(|item| {
                let keep = wanted.is_empty()
                    || item
                        .reference
                        .as_deref()
                        .is_some_and(|r| wanted.contains(r.trim()));
                async move {
                    Ok(keep.then(|| StockLevel {
                        item_id: item.sku.to_string(),
                        ean: item.reference.clone(),
                        available: item.atp.or(item.level).unwrap_or(0),
                    }))
                }
            })
            .try_collect()
            .await
    }
}

fn parse_reference(reference: &str) -> Result<u64, Error> {
    reference
        .trim()
        .parse()
        .map_err(|_| Error::invalid("reference", format!("`{reference}` is not a ShopWeDo order id")))
}
