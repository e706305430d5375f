//! ShopWeDo as a [`Fulfilment`] provider.

use async_trait::async_trait;
use commerce_core::{
    Announcement, Arrival, Error, Fulfilment, FulfilmentState, FulfilmentStatus, Order as CommerceOrder,
    PreparedSubmission, ReferenceCheck, ReturnNotice, StockBasis, StockLevel, SubmissionReceipt, Tracking,
    ValidationErrors, require_reference,
};
use futures_util::TryStreamExt;

use crate::client::{PROVIDER, ShopWeDoClient};
use crate::model::{Address, NewOrder, Order, OrderItem, StockItem};
use crate::orders::check_address;
use crate::retour::{Retour, RetourAnnouncement, RetourItem, retour_reason};

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

/// The receiver's names, which a parcel needs though ShopWeDo's document marks them
/// optional (ours: a sales channel always gives them, and after a purge of personal data
/// they are blank), then every field the document marks required ([`check_address`]).
fn check_receiver(v: &mut ValidationErrors, prefix: &str, a: &Address) {
    v.require(
        a.firstname.as_deref().unwrap_or_default(),
        format!("{prefix}.firstname"),
    );
    v.require(
        a.lastname.as_deref().unwrap_or_default(),
        format!("{prefix}.lastname"),
    );
    check_address(v, prefix, a);
}

impl ShopWeDoClient {
    /// The ShopWeDo order for a commerce order: lines are matched to stock items by EAN
    /// (the stock item's `reference`), or by a line's SKU when it is a ShopWeDo stock id.
    ///
    /// The addresses are checked before anything is read: an order whose receiver lacks a
    /// first or last name, street, house number, postcode, city, country, e-mail (the
    /// address's, else the customer's) or phone (the billing address may take the
    /// shipping address's) is an [`Error::InvalidInput`] with one field error for each,
    /// named as ShopWeDo names them (`shipping_address.street`), and nothing is sent. That
    /// is an order whose personal data was purged, too.
    pub async fn new_order_for(&self, order: &CommerceOrder) -> Result<NewOrder, Error> {
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
        let mut problems = ValidationErrors::new();
        check_receiver(&mut problems, "shipping_address", &shipping);
        if let Some(b) = &billing {
            check_receiver(&mut problems, "billing_address", b);
        }
        for (i, line) in order.lines.iter().enumerate() {
            if line.ean.is_none() && line.sku.is_none() {
                problems.push(
                    format!("lines[{i}]"),
                    "no ShopWeDo stock item has the barcode (none given)",
                );
            }
        }
        // Refused before the stock is read: nothing at all is sent.
        problems.into_result(())?;
        let mut problems = ValidationErrors::new();
        let mut items = Vec::with_capacity(order.lines.len());
        for (i, line) in order.lines.iter().enumerate() {
            match self.stock_id_of(line).await? {
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
        Ok(NewOrder {
            external_order_id: order.id.clone(),
            external_order_reference: Some(external_reference(order)),
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

    /// The stock item id of an order line: by its EAN (read from the stock list when not
    /// known yet), else its SKU when that is a ShopWeDo stock id.
    async fn stock_id_of(&self, line: &commerce_core::LineItem) -> Result<Option<u64>, Error> {
        Ok(match (&line.ean, &line.sku) {
            (Some(ean), _) => self.sku_for_barcode(ean).await?,
            (None, Some(sku)) => sku.trim().parse().ok(),
            (None, None) => None,
        })
    }
}

impl ShopWeDoClient {
    /// The announcement for a return notice, from reads only (nothing that acts): the
    /// notice checked (a numeric reference, an RMA id, an EAN and a quantity of at least
    /// 1: else an [`Error::InvalidInput`] naming each, nothing sent), then the ShopWeDo
    /// order read (`getOrder`), then the notice's EAN turned into a stock item id as an
    /// order's lines are (the stock item's `reference`, through `getStock` when not known
    /// yet). Refused as [`Error::InvalidInput`] when the order is not shipped (nothing can
    /// come back from it), when none of its items is that stock item, or when its items
    /// (all with a readable amount) hold fewer units than the notice says come back.
    ///
    /// The one item carries the stock item id, the quantity and the reason
    /// ([`retour_reason`]: the buyer's reason, then `(bol RMA <rmaId>)`); `shop_id` is the
    /// order's where `getOrder` gave it.
    pub async fn retour_announcement_for(&self, notice: &ReturnNotice) -> Result<RetourAnnouncement, Error> {
        let mut v = ValidationErrors::new();
        let id = match parse_reference(&notice.reference) {
            Ok(id) if id > 0 => Some(id),
            _ => {
                v.push(
                    "reference",
                    format!("`{}` is not a ShopWeDo order id", notice.reference),
                );
                None
            }
        };
        v.require(&notice.rma_id, "rma_id");
        v.require(&notice.ean, "ean");
        v.check(notice.quantity > 0, "quantity", "must be at least 1");
        v.into_result(())?;
        let id = id.unwrap_or_default();
        let order = self.get_order(id).await?;
        let state = state_of(&order);
        if !matches!(
            state,
            FulfilmentState::Shipped | FulfilmentState::PartiallyShipped
        ) {
            return Err(Error::invalid(
                "reference",
                format!(
                    "ShopWeDo order {id} is not shipped (status `{}`): nothing can come back from it",
                    order.status_string.as_deref().unwrap_or("none given")
                ),
            ));
        }
        let ean = notice.ean.trim();
        let Some(sku) = self.sku_for_barcode(ean).await? else {
            return Err(Error::invalid(
                "ean",
                format!("no ShopWeDo stock item has the barcode {ean}"),
            ));
        };
        let items: Vec<&OrderItem> = order.items.iter().filter(|i| i.sku == sku).collect();
        if items.is_empty() {
            return Err(Error::invalid(
                "ean",
                format!("ShopWeDo order {id} has no item of stock item {sku} (barcode {ean})"),
            ));
        }
        let units: u64 = items.iter().map(|i| u64::from(i.amount)).sum();
        if items.iter().all(|i| i.amount > 0) && u64::from(notice.quantity) > units {
            return Err(Error::invalid(
                "quantity",
                format!(
                    "{} units cannot come back: ShopWeDo order {id} holds {units} of stock item {sku}",
                    notice.quantity
                ),
            ));
        }
        let announcement = RetourAnnouncement {
            shop_id: order.shop_id,
            order_id: id,
            items: vec![RetourItem {
                sku: sku.to_string(),
                amount: notice.quantity,
                reason: retour_reason(notice.reason.as_deref(), &notice.channel, &notice.rma_id),
            }],
        };
        announcement.validate()?;
        Ok(announcement)
    }
}

/// A ShopWeDo wall-clock time as an instant (read as Belgian time, [`belgian_offset`]).
fn belgian_instant(t: chrono::NaiveDateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    t.and_local_timezone(belgian_offset(t))
        .single()
        .map(|t| t.to_utc())
}

/// What a retour entry of `getOrder`'s inferred block says of its goods: only `received:
/// true` counts, with `received_amount` (without one: [`Arrival::Unknown`], never the
/// announced `amount`: what came back is a person's to count then); a condition of `ok` or
/// blank is no remark.
pub fn arrival_of(retour: &Retour) -> Arrival {
    if retour.received != Some(true) {
        return Arrival::NotYet;
    }
    let Some(quantity) = retour.received_amount else {
        return Arrival::Unknown;
    };
    let condition = retour
        .condition
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("ok"))
        .map(str::to_owned);
    Arrival::Received {
        quantity,
        condition,
        at: retour.received_at.and_then(belgian_instant),
    }
}

/// The one entry of `list` that `pick` chooses: several are as good as none, since which
/// one says what of the goods cannot be told.
fn only(list: &[Retour], pick: impl Fn(&Retour) -> bool) -> Option<&Retour> {
    let mut found = list.iter().filter(|r| pick(r));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Whether `reason` holds `RMA <rma_id>` as a whole number (any channel's tag).
fn mentions_rma(reason: Option<&str>, rma_id: &str) -> bool {
    let (Some(reason), rma_id) = (reason, rma_id.trim()) else {
        return false;
    };
    if rma_id.is_empty() {
        return false;
    }
    let tag = format!("RMA {rma_id}");
    reason.match_indices(&tag).any(|(at, _)| {
        let after = reason[at + tag.len()..].chars().next();
        !after.is_some_and(char::is_alphanumeric)
    })
}

/// What [`ShopWeDoClient::new_order_for`] sends as `external_order_reference`.
fn external_reference(order: &CommerceOrder) -> String {
    format!("{}:{}", order.channel, order.id)
}

/// Whether ShopWeDo's order `found` (read by the reference `id`) is `order`: its
/// `external_order_id` must be the order's id and its `external_order_reference` the
/// `channel:id` this crate sends (each where ShopWeDo gives it, at least one of them), and
/// its items the order's lines by stock id and amount, where they can be told
/// ([`ShopWeDoClient::check_reference`](Fulfilment::check_reference) gives `skus`: each
/// line's stock id, `None` where its barcode is not in the stock list).
fn compare(id: u64, found: &Order, order: &CommerceOrder, skus: &[Option<u64>]) -> ReferenceCheck {
    let mismatch = |what: String| ReferenceCheck::Mismatch(format!("ShopWeDo order {id} {what}"));
    if let Some(other) = found.order_id.filter(|o| *o != id) {
        return mismatch(format!("was answered as order {other}"));
    }
    let ext_id = found
        .external_order_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let ext_ref = found
        .external_order_reference
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let ours = external_reference(order);
    match (ext_id, ext_ref) {
        (None, None) => {
            return mismatch(format!(
                "carries no external order id or reference, so it cannot be told to be order {}",
                order.id
            ));
        }
        (Some(ext), _) if ext != order.id.trim() => {
            return mismatch(format!("is order `{ext}`, not `{}`", order.id));
        }
        (_, Some(r)) if r != ours => {
            return mismatch(format!("has the reference `{r}`, not `{ours}`"));
        }
        _ => {}
    }
    // ShopWeDo's items carry its stock ids, the order's lines EANs: compared through the
    // stock list, amounts summed per stock id. Without items the lines cannot be told.
    if found.items.is_empty() {
        return ReferenceCheck::Matches;
    }
    let mut theirs = std::collections::BTreeMap::<u64, u64>::new();
    for item in &found.items {
        *theirs.entry(item.sku).or_default() += u64::from(item.amount);
    }
    let mut ours = std::collections::BTreeMap::<u64, u64>::new();
    for (line, sku) in order.lines.iter().zip(skus) {
        if let Some(sku) = sku {
            *ours.entry(*sku).or_default() += u64::from(line.quantity);
        }
    }
    let all_known = skus.iter().all(Option::is_some);
    let mut differences = Vec::new();
    for (sku, amount) in &ours {
        match theirs.get(sku) {
            None => differences.push(format!("stock item {sku} ×{amount} is not in it")),
            Some(there) if there != amount => {
                differences.push(format!("stock item {sku} is ×{there} there, ×{amount} here"))
            }
            Some(_) => {}
        }
    }
    // A stock id of theirs that no line maps to is a difference only when every line's
    // stock id is known (else it may be the line whose barcode is not in the stock list).
    if all_known {
        for (sku, amount) in &theirs {
            if !ours.contains_key(sku) {
                differences.push(format!(
                    "it has stock item {sku} ×{amount}, which the order has not"
                ));
            }
        }
    }
    if differences.is_empty() {
        ReferenceCheck::Matches
    } else {
        mismatch(format!(
            "is for order {} but its items differ: {}",
            order.id,
            differences.join("; ")
        ))
    }
}

#[async_trait]
impl Fulfilment for ShopWeDoClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// Its rate limiter's estimate: how far off the next call's permit is.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        self.transport().limiter(None).ready_in_after(waiting)
    }

    /// [`prepare`](Fulfilment::prepare), then [`send`](Fulfilment::send): the stock ids by
    /// barcode, then `createOrder`. ShopWeDo offers no look-up by your order number, so a
    /// submission whose outcome is unknown (a time-out after sending) comes back as
    /// [`Error::Unconfirmed`]: check the ShopWeDo dashboard before submitting again.
    async fn submit(&self, order: &CommerceOrder) -> Result<SubmissionReceipt, Error> {
        let prepared = self.prepare(order).await?;
        self.send(&prepared).await
    }

    /// Every read and check of a submission, nothing that acts: the addresses checked
    /// ([`ShopWeDoClient::new_order_for`]: a blank required field is refused before any
    /// read), the lines' stock ids read by barcode (`getStock`, paced), and the whole
    /// [`NewOrder`] validated. The payload is the `createOrder` data, as [`NewOrder`]'s
    /// JSON.
    async fn prepare(&self, order: &CommerceOrder) -> Result<PreparedSubmission, Error> {
        let new = self.new_order_for(order).await?;
        new.validate()?;
        PreparedSubmission::of(PROVIDER.name, order.id.clone(), &new)
    }

    /// One `createOrder` with the prepared data, and nothing else. A submission prepared
    /// for another provider, or whose payload is not a [`NewOrder`] (or not a valid one),
    /// is an [`Error::InvalidInput`] and nothing is sent.
    async fn send(&self, prepared: &PreparedSubmission) -> Result<SubmissionReceipt, Error> {
        let new: NewOrder = prepared.body_for(PROVIDER.name)?;
        new.validate()?;
        let id = self.create_order(&new).await?;
        Ok(SubmissionReceipt {
            provider: PROVIDER.name.to_owned(),
            reference: id.to_string(),
            already_submitted: false,
        })
    }

    /// `getOrder` of the ShopWeDo order id `reference` (a blank or non-numeric one is an
    /// [`Error::InvalidInput`], nothing sent). ShopWeDo's documented answer for an order
    /// not found (or not this shop's) is 400, read as [`ReferenceCheck::NotFound`], as is a
    /// 404.
    ///
    /// It is this order when its `external_order_id` is the order's id and its
    /// `external_order_reference` the `channel:id` this crate sends (each where ShopWeDo
    /// gives it; an order with neither cannot be told to be this one: a mismatch). Its
    /// items carry ShopWeDo's stock ids and the order's lines EANs, so the lines are mapped
    /// as a submission maps them (by barcode through the stock list, `getStock`, paced;
    /// else a line's SKU when it is a stock id) and the amounts summed per stock id are
    /// compared. What cannot be told: a line whose barcode is not in the stock list (the
    /// other lines are still compared, and an extra ShopWeDo item may be that line), and
    /// the lines of an order ShopWeDo answers without items (the ids decide alone).
    /// Names, prices and addresses are not compared.
    async fn check_reference(&self, reference: &str, order: &CommerceOrder) -> Result<ReferenceCheck, Error> {
        let id = parse_reference(require_reference(reference)?)?;
        let found = match self.get_order(id).await {
            Ok(found) => found,
            Err(e) if matches!(e.status(), Some(400 | 404)) => return Ok(ReferenceCheck::NotFound),
            Err(e) => return Err(e),
        };
        let mut skus = Vec::with_capacity(order.lines.len());
        if !found.items.is_empty() {
            for line in &order.lines {
                skus.push(self.stock_id_of(line).await?);
            }
        }
        Ok(compare(id, &found, order, &skus))
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

    /// Stock by barcode: the whole stock list is read once (50 to a page, paced), however
    /// many `eans` are asked for, and the items whose `reference` is one of them kept (all
    /// of them for none); each as [`stock_level`] says, with this client's
    /// [`release_orders`](crate::ShopWeDoClientBuilder::release_orders).
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        let wanted: std::collections::HashSet<&str> = eans.iter().map(|e| e.trim()).collect();
        let releases = self.inner.release;
        self.stock_stream()
            .try_filter_map(|item| {
                let keep = wanted.is_empty()
                    || item
                        .reference
                        .as_deref()
                        .is_some_and(|r| wanted.contains(r.trim()));
                async move { Ok(keep.then(|| stock_level(&item, releases))) }
            })
            .try_collect()
            .await
    }

    /// The announcement [`ShopWeDoClient::retour_announcement_for`] builds from reads
    /// (`getOrder`, `getStock` when the barcode is not known yet; bad input or an order
    /// that cannot take it is an [`Error::InvalidInput`] and nothing that acts is sent),
    /// then one `createRetourAnnouncement`, never re-sent: a lost or unreadable answer is
    /// [`Error::Unconfirmed`], settled by [`find_announcement`](Fulfilment::find_announcement)
    /// or a person. The [`Announcement`]'s reference is ShopWeDo's `retour_id` when its
    /// answer gives one, its SKU the stock item id, `at` now.
    async fn announce_return(&self, notice: &ReturnNotice) -> Result<Announcement, Error> {
        let retour = self.retour_announcement_for(notice).await?;
        let receipt = self.create_retour_announcement(&retour).await?;
        Ok(Announcement {
            provider: PROVIDER.name.to_owned(),
            order_reference: retour.order_id.to_string(),
            rma_id: notice.rma_id.trim().to_owned(),
            reference: receipt.retour_id,
            sku: retour.items.first().map(|i| i.sku.clone()),
            quantity: notice.quantity,
            at: chrono::Utc::now(),
        })
    }

    /// `getOrder` of the notice's reference and its **inferred** `retours` block: the one
    /// entry whose reason names the notice's return item (`bol RMA <rmaId>`, as
    /// [`announce_return`](Fulfilment::announce_return) writes it; [`Retour::names_rma`]),
    /// `Ok(None)` when none does. An answer without the block does not tell:
    /// [`Error::Unsupported`], a person looks in ShopWeDo's dashboard. Several entries
    /// naming it are an [`Error::Unsupported`] too (announced more than once: a person
    /// decides). The announcement's quantity is the entry's `amount` (else the notice's),
    /// `at` its `created_at` (Belgian time; else now). A blank or non-numeric reference or a
    /// blank RMA id is an [`Error::InvalidInput`], nothing sent.
    async fn find_announcement(&self, notice: &ReturnNotice) -> Result<Option<Announcement>, Error> {
        let id = parse_reference(require_reference(&notice.reference)?)?;
        if notice.rma_id.trim().is_empty() {
            return Err(Error::invalid("rma_id", "is required"));
        }
        let order = self.get_order(id).await?;
        let look = |reason: String| Error::Unsupported {
            provider: PROVIDER.name.into(),
            operation: format!("find_announcement({})", notice.rma_id).into(),
            reason,
        };
        let Some(retours) = order.retours else {
            return Err(look(format!(
                "ShopWeDo's answer for order {id} does not list its retours: look in ShopWeDo for a retour whose reason names `{}`",
                crate::rma_tag(&notice.channel, &notice.rma_id).unwrap_or_default()
            )));
        };
        let named: Vec<&Retour> = retours
            .iter()
            .filter(|r| r.names_rma(&notice.channel, &notice.rma_id))
            .collect();
        let retour = match named.as_slice() {
            // A retour of this order that names no return item (made by hand, or its tag
            // lost) may be this one: a person looks rather than it be announced twice.
            [] if retours
                .iter()
                .any(|r| !r.reason.as_deref().is_some_and(|x| x.contains(" RMA "))) =>
            {
                return Err(look(format!(
                    "ShopWeDo order {id} has a retour that names no return item: a person checks whether it is return item {}",
                    notice.rma_id
                )));
            }
            [] => return Ok(None),
            [one] => *one,
            many => {
                return Err(look(format!(
                    "ShopWeDo order {id} has {} retours for return item {}: a person decides which stands",
                    many.len(),
                    notice.rma_id
                )));
            }
        };
        Ok(Some(Announcement {
            provider: PROVIDER.name.to_owned(),
            order_reference: id.to_string(),
            rma_id: notice.rma_id.trim().to_owned(),
            reference: retour.retour_id.clone(),
            sku: retour.sku.clone(),
            quantity: retour.amount.unwrap_or(notice.quantity),
            at: retour
                .created_at
                .and_then(belgian_instant)
                .unwrap_or_else(chrono::Utc::now),
        }))
    }

    /// `getOrder` of the announcement's order and its **inferred** `retours` block: the
    /// entry of the announcement's `retour_id` when it has one, else the one whose reason
    /// names its return item (`RMA <rmaId>`). No block, no such entry, or several:
    /// [`Arrival::Unknown`] (never "not yet"). The entry as [`arrival_of`] reads it: only
    /// `received: true` is received. A blank or non-numeric order reference is an
    /// [`Error::InvalidInput`], nothing sent.
    async fn return_arrival(&self, announcement: &Announcement) -> Result<Arrival, Error> {
        let id = parse_reference(require_reference(&announcement.order_reference)?)?;
        let order = self.get_order(id).await?;
        let Some(retours) = order.retours else {
            return Ok(Arrival::Unknown);
        };
        let reference = announcement
            .reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let entry = match reference {
            Some(wanted) => only(&retours, |r| {
                r.retour_id.as_deref().map(str::trim) == Some(wanted)
            }),
            None => only(&retours, |r| {
                mentions_rma(r.reason.as_deref(), &announcement.rma_id)
            }),
        };
        Ok(entry.map_or(Arrival::Unknown, arrival_of))
    }
}

/// The offset a ShopWeDo timestamp is read at for [`StockLevel::as_of`]. Its document gives
/// them without a zone (`Y-m-d H:i:s`) and its warehouse is in Belgium, so they are read as
/// Belgian wall-clock time: summer time (UTC+02:00) from the last Sunday of March, 02:00, to
/// the last Sunday of October, 03:00, else UTC+01:00; the hour that repeats in October is
/// read as its first, the earlier instant. An ATP taken as older than it is makes a stock
/// sync take off an order it may already count (a unit hidden for a pass); taken as newer,
/// an order it does not count yet would be sold twice. (If ShopWeDo writes UTC, its counts
/// read one or two hours older than they are: the safe side.)
pub fn belgian_offset(local: chrono::NaiveDateTime) -> chrono::FixedOffset {
    use chrono::Datelike;
    let last_sunday = |month: u32| {
        let last =
            chrono::NaiveDate::from_ymd_opt(local.year(), month, 31).expect("March and October have 31 days");
        last - chrono::Duration::days(i64::from(last.weekday().num_days_from_sunday()))
    };
    let summer_from = last_sunday(3).and_hms_opt(2, 0, 0).expect("a valid time");
    let summer_to = last_sunday(10).and_hms_opt(3, 0, 0).expect("a valid time");
    let hours = if (summer_from..summer_to).contains(&local) {
        2
    } else {
        1
    };
    chrono::FixedOffset::east_opt(hours * 3600).expect("a valid offset")
}

/// What a stock item says is available, and what that figure counts
/// ([`StockLevel::basis`]):
///
/// - With `atp` (ShopWeDo: level less the out-of-stock warning level and the units in
///   orders that were released), and orders released on creation (`releases_orders`, the
///   client's default): [`StockBasis::Reserving`]: orders handed over and not shipped are
///   already taken off. `as_of` is `last_atp_update` (`None` when absent or unreadable).
/// - With `atp` and orders not released (`release_orders(false)`): the ATP does not count
///   them: [`StockBasis::OnShelf`].
/// - Without `atp`: the `level` (units in stock, no order taken off):
///   [`StockBasis::OnShelf`], `as_of` `None`. Neither: 0 on the shelf.
///
/// An ATP above the level (which it is computed from) is read as the level. The EAN is the
/// item's `reference`, trimmed.
pub fn stock_level(item: &StockItem, releases_orders: bool) -> StockLevel {
    let ean = item
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let level = StockLevel::new(item.sku.to_string(), ean, 0);
    match (item.atp, item.level) {
        (Some(atp), level_units) => StockLevel {
            available: level_units.map_or(atp, |l| atp.min(l)),
            as_of: item.last_atp_update.and_then(belgian_instant),
            ..level
        }
        .with_basis(if releases_orders {
            StockBasis::Reserving
        } else {
            StockBasis::OnShelf
        }),
        (None, Some(units)) => StockLevel {
            available: units,
            ..level
        },
        (None, None) => level,
    }
}

fn parse_reference(reference: &str) -> Result<u64, Error> {
    reference
        .trim()
        .parse()
        .map_err(|_| Error::invalid("reference", format!("`{reference}` is not a ShopWeDo order id")))
}
