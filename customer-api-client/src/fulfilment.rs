//! The Customer API as a [`Fulfilment`] provider.

use async_trait::async_trait;
use commerce_core::{
    Error, Fulfilment, FulfilmentState, FulfilmentStatus, PreparedSubmission, ReferenceCheck, StockLevel,
    SubmissionReceipt, Tracking, ValidationErrors, require_reference,
};

use crate::client::{CustomerApiClient, PROVIDER};
use crate::model::{Address, NewOrder, NewOrderItem, Order, Product};

/// A product's availability as a [`StockLevel`]: the product's id (else its code), its
/// code as the EAN, [`Availability::available`](crate::Availability::available) with its
/// [`Availability::basis`](crate::Availability::basis) (a counted quantity is on the shelf;
/// a bare in-stock yes or no is 1 or 0,
/// [`StockBasis::InStockOnly`](commerce_core::StockBasis::InStockOnly)).
/// A product without an availability is 0, in stock only: the shop said nothing.
pub fn stock_level(product: &Product) -> StockLevel {
    let availability = product.availability.clone().unwrap_or_default();
    StockLevel::new(
        product.id.clone().unwrap_or_else(|| product.code.clone()),
        Some(product.code.trim().to_owned()).filter(|c| !c.is_empty()),
        availability.available(),
    )
    .with_basis(availability.basis())
}

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

/// The product code an order line is sent under: its EAN, else its SKU.
fn code_of(line: &commerce_core::LineItem) -> String {
    line.ean.clone().or_else(|| line.sku.clone()).unwrap_or_default()
}

/// A product code as compared: trimmed, in capitals.
fn code_key(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

impl CustomerApiClient {
    /// The order to send for a commerce order: your reference is the order's id, each line
    /// goes by its EAN (else its SKU) as product code, the delivery address is the shipping
    /// address (its e-mail, else the customer's). Reads nothing.
    ///
    /// Validated ([`NewOrder::validate`]): an order whose receiver's name, street, city,
    /// postcode, country or e-mail is blank (an order whose personal data was purged, too)
    /// is an [`Error::InvalidInput`] with one field error for each, named as the body names
    /// them (`delivery_address.street`).
    pub fn new_order_for(&self, order: &commerce_core::Order) -> Result<NewOrder, Error> {
        let a = &order.shipping_address;
        let filled = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        let new = NewOrder {
            reference: order.id.clone(),
            items: order
                .lines
                .iter()
                .map(|l| NewOrderItem {
                    code: code_of(l),
                    brand: None,
                    quantity: l.quantity,
                })
                .collect(),
            delivery_address: Some(Address {
                name: Some(
                    format!("{} {}", a.first_name.trim(), a.last_name.trim())
                        .trim()
                        .to_owned(),
                )
                .filter(|n| !n.is_empty()),
                company: a.company.clone(),
                // A house number without its street is no street (a purged order keeps it).
                street: if a.street.trim().is_empty() {
                    String::new()
                } else {
                    [
                        a.street.as_str(),
                        a.house_number.as_str(),
                        a.house_number_addition.as_deref().unwrap_or(""),
                    ]
                    .iter()
                    .filter(|s| !s.trim().is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
                },
                city: a.city.clone(),
                zip: a.postcode.clone(),
                country: a.country.to_ascii_uppercase(),
                email: filled(&a.email).or_else(|| filled(&Some(order.customer.email.clone()))),
                phone: a.phone.clone(),
            }),
            note: Some(format!("{} order {}", order.channel, order.id)),
        };
        new.validate()?;
        Ok(new)
    }
}

/// Whether the shop's order `found` (read by `reference`) is `order`: its `reference` must
/// be the order's id, and its items' codes and quantities the order's lines' (where the
/// shop lists items).
fn compare(reference: &str, found: &Order, order: &commerce_core::Order) -> ReferenceCheck {
    let mismatch =
        |what: String| ReferenceCheck::Mismatch(format!("{} order {reference} {what}", PROVIDER.name));
    match found
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        None => {
            return mismatch(format!(
                "carries no reference, so it cannot be told to be order {}",
                order.id
            ));
        }
        Some(r) if r != order.id.trim() => {
            return mismatch(format!("has the reference `{r}`, not `{}`", order.id));
        }
        Some(_) => {}
    }
    if found.items.is_empty() {
        return ReferenceCheck::Matches;
    }
    // Quantities summed per code; a shop item without a quantity is compared by its code.
    let mut theirs = std::collections::BTreeMap::<String, Option<u64>>::new();
    for item in &found.items {
        let entry = theirs.entry(code_key(&item.code)).or_insert(Some(0));
        *entry = entry.zip(item.quantity).map(|(a, b)| a + b);
    }
    let mut ours = std::collections::BTreeMap::<String, u64>::new();
    for line in &order.lines {
        *ours.entry(code_key(&code_of(line))).or_default() += u64::from(line.quantity);
    }
    let mut differences = Vec::new();
    for (code, quantity) in &ours {
        match theirs.get(code) {
            None => differences.push(format!("{code} ×{quantity} is not in it")),
            Some(Some(there)) if there != quantity => {
                differences.push(format!("{code} is ×{there} there, ×{quantity} here"))
            }
            Some(_) => {}
        }
    }
    for (code, quantity) in &theirs {
        if !ours.contains_key(code) {
            let quantity = quantity.map_or_else(String::new, |q| format!(" ×{q}"));
            differences.push(format!("it has {code}{quantity}, which the order has not"));
        }
    }
    if differences.is_empty() {
        ReferenceCheck::Matches
    } else {
        mismatch(format!(
            "is for order {} but its lines differ: {}",
            order.id,
            differences.join("; ")
        ))
    }
}

#[async_trait]
impl Fulfilment for CustomerApiClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// Its rate limiter's estimate: how far off the next call's permit is.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        self.transport().limiter(None).ready_in_after(waiting)
    }

    /// [`prepare`](Fulfilment::prepare), then [`send`](Fulfilment::send): the order sent to
    /// the supplier shop, lines by EAN as product code. A submission whose outcome is
    /// unknown is looked up by its reference before giving up.
    async fn submit(&self, order: &commerce_core::Order) -> Result<SubmissionReceipt, Error> {
        let prepared = self.prepare(order).await?;
        self.send(&prepared).await
    }

    /// The order body ([`CustomerApiClient::new_order_for`]), validated; nothing is read or
    /// sent. The payload is the body, as [`NewOrder`]'s JSON.
    async fn prepare(&self, order: &commerce_core::Order) -> Result<PreparedSubmission, Error> {
        PreparedSubmission::of(PROVIDER.name, order.id.clone(), &self.new_order_for(order)?)
    }

    /// One `POST {orders}` with the prepared body. When its outcome is unknown
    /// ([`Error::Unconfirmed`]) the orders are read to find it by its reference (reads
    /// only; the create is never sent again). A submission prepared for another provider,
    /// or whose payload is not a valid [`NewOrder`], is an [`Error::InvalidInput`] and
    /// nothing is sent.
    ///
    /// An unknown outcome the reads cannot settle (the order is not listed, or a read
    /// fails) stays the create's [`Error::Unconfirmed`]: never the read's own error, which
    /// a caller would take for a refusal of the create and send it again.
    async fn send(&self, prepared: &PreparedSubmission) -> Result<SubmissionReceipt, Error> {
        let new: NewOrder = prepared.body_for(PROVIDER.name)?;
        new.validate()?;
        match self.create_order(&new).await {
            Ok(created) => Ok(receipt(&created, false)),
            Err(e) if e.is_unconfirmed() => match self.find_order_by_reference(&new.reference).await {
                Ok(Some(found)) => Ok(receipt(&found, true)),
                // Not listed (yet), or the list could not be read: still unknown.
                Ok(None) | Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// `GET {orders}/{reference}` (a blank reference is an [`Error::InvalidInput`], nothing
    /// sent); a 404 is [`ReferenceCheck::NotFound`] (the shop's not-found answer is not
    /// documented: *inferred*).
    ///
    /// It is this order when its `reference` is the order's id (an order without one
    /// cannot be told to be this one: a mismatch), and its items' codes and quantities
    /// (summed per code, codes compared trimmed and case-blind) are the order's lines' EAN
    /// (else SKU) and quantities. What cannot be told: the lines of an order the shop
    /// answers without items (the reference decides alone), the quantity of an item the
    /// shop gives without one (its code is still compared), and a line sent by a code the
    /// shop replaced with its own. Names, prices and the address are not compared.
    async fn check_reference(
        &self,
        reference: &str,
        order: &commerce_core::Order,
    ) -> Result<ReferenceCheck, Error> {
        let reference = require_reference(reference)?;
        match self.order(reference).await {
            Ok(found) => Ok(compare(reference, &found, order)),
            Err(e) if e.status() == Some(404) => Ok(ReferenceCheck::NotFound),
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

    /// Availability by product code (EAN): one `GET {products}?code=` per distinct EAN, in
    /// turn, paced by the client's `products` bucket (5 a second by default). Every EAN is
    /// checked before anything is sent: a blank one is [`Error::InvalidInput`] naming its
    /// index. A code the shop does not know (no product, or its 404) has no level; any
    /// other failure fails the whole call with that error, so a caller takes the shop as
    /// down rather than read its missing answers as "none in stock". Each product found is
    /// a level as [`stock_level`] says.
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        if eans.is_empty() {
            return Err(Error::Unsupported {
                provider: PROVIDER.name.into(),
                operation: "stock(all)".into(),
                reason: "the Customer API finds products by code only; name the EANs".into(),
            });
        }
        let mut v = ValidationErrors::new();
        for (i, ean) in eans.iter().enumerate() {
            v.require(ean, format!("eans[{i}]"));
        }
        v.into_result(())?;
        let mut asked = std::collections::HashSet::new();
        let mut levels = Vec::with_capacity(eans.len());
        for ean in eans.iter().map(|e| e.trim()) {
            if !asked.insert(ean) {
                continue;
            }
            match self.products_by_code(ean).await {
                Ok(products) => levels.extend(products.iter().map(stock_level)),
                // The shop's own 404 (JSON) for a code it does not know: no level. (A 404
                // that is not the API's is `Error::Misconfigured`, which fails the call.)
                Err(Error::Provider(p)) if p.status == 404 => {}
                Err(e) => return Err(e),
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
