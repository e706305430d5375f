//! The Customer API as a [`Fulfilment`] provider.

use async_trait::async_trait;
use commerce_core::{
    Error, Fulfilment, FulfilmentState, FulfilmentStatus, StockLevel, SubmissionReceipt, Tracking,
};

use crate::client::{CustomerApiClient, PROVIDER};
use crate::model::{Address, Availability, NewOrder, NewOrderItem, Order};

/// Where an order stands, from its processing status (*inferred* words).
pub fn state_of(order: &Order) -> FulfilmentState {
    let status = order
        .processing_status
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if status.contains("cancel") {
        FulfilmentState::Cancelled
    } else if status.contains("partial") {
        // Before "shipped": `partially_shipped` is not shipped in full.
        FulfilmentState::PartiallyShipped
    } else if ["shipped", "sent", "delivered", "completed", "dispatched"]
        .iter()
        .any(|w| status.contains(w))
    {
        FulfilmentState::Shipped
    } else if ["reject", "fail", "error"].iter().any(|w| status.contains(w)) {
        FulfilmentState::Failed
    } else if status.is_empty()
        || ["new", "received", "pending", "accepted"]
            .iter()
            .any(|w| status.contains(w))
    {
        FulfilmentState::Received
    } else {
        FulfilmentState::Processing
    }
}

fn receipt(order: &Order, already: bool) -> SubmissionReceipt {
    SubmissionReceipt {
        provider: PROVIDER.name.to_owned(),
        reference: order.id.clone(),
        already_submitted: already,
    }
}

#[async_trait]
impl Fulfilment for CustomerApiClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// Sends the order to the supplier shop, lines by EAN as product code. A submission
    /// whose outcome is unknown is looked up by its reference before giving up.
    async fn submit(&self, order: &commerce_core::Order) -> Result<SubmissionReceipt, Error> {
        let a = &order.shipping_address;
        let new = NewOrder {
            reference: order.id.clone(),
            items: order
                .lines
                .iter()
                .map(|l| NewOrderItem {
                    code: l.ean.clone().or_else(|| l.sku.clone()).unwrap_or_default(),
                    brand: None,
                    quantity: l.quantity,
                })
                .collect(),
            delivery_address: Some(Address {
                name: Some(format!("{} {}", a.first_name, a.last_name).trim().to_owned())
                    .filter(|n| !n.is_empty()),
                company: a.company.clone(),
                street: [
                    a.street.as_str(),
                    a.house_number.as_str(),
                    a.house_number_addition.as_deref().unwrap_or(""),
                ]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
                city: a.city.clone(),
                zip: a.postcode.clone(),
                country: a.country.to_ascii_uppercase(),
                email: a.email.clone().or_else(|| Some(order.customer.email.clone())),
                phone: a.phone.clone(),
            }),
            note: Some(format!("{} order {}", order.channel, order.id)),
        };
        match self.create_order(&new).await {
            Ok(created) => Ok(receipt(&created, false)),
            Err(e) if e.is_unconfirmed() => match self.find_order_by_reference(&order.id).await? {
                Some(found) => Ok(receipt(&found, true)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn status(&self, reference: &str) -> Result<FulfilmentStatus, Error> {
        let order = self.order(reference).await?;
        Ok(FulfilmentStatus {
            state: state_of(&order),
            shipments: order
                .shipments
                .iter()
                .map(|s| commerce_core::Shipment {
                    tracking: s.tracking_number.clone().map(|code| Tracking {
                        carrier: s.carrier.clone(),
                        code,
                        url: s.tracking_url.clone(),
                    }),
                    shipped_at: s.shipped_at.map(|t| t.and_utc()),
                    line_ids: Vec::new(),
                })
                .collect(),
        })
    }

    /// The Customer API offers no cancellation.
    async fn cancel(&self, reference: &str) -> Result<(), Error> {
        Err(Error::Unsupported {
            provider: PROVIDER.name.into(),
            operation: format!("cancel({reference})").into(),
            reason: "the Customer API offers no order cancellation; ask the shop to cancel it".into(),
        })
    }

    /// Availability by product code (EAN), one product look-up per code.
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        if eans.is_empty() {
            return Err(Error::Unsupported {
                provider: PROVIDER.name.into(),
                operation: "stock(all)".into(),
                reason: "the Customer API finds products by code only; name the EANs".into(),
            });
        }
        let mut levels = Vec::with_capacity(eans.len());
        for ean in eans {
            for p in self.products_by_code(ean).await? {
                levels.push(StockLevel {
                    item_id: p.id.clone().unwrap_or_else(|| p.code.clone()),
                    ean: Some(p.code.clone()),
                    available: p.availability.as_ref().map_or(0, Availability::available),
                });
            }
        }
        Ok(levels)
    }

    async fn find_submission(&self, order_id: &str) -> Result<Option<SubmissionReceipt>, Error> {
        Ok(self
            .find_order_by_reference(order_id)
            .await?
            .map(|o| receipt(&o, true)))
    }
}
