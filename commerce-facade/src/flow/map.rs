//! What one provider's data becomes for another: the order as a fulfilment provider gets
//! it, the order as a review invitation, the shipment as the channel's confirmation. Every
//! field the flow hands from one provider to the next is decided here (the table is in
//! ARCHITECTURE.md, "The mapping").

use commerce_core::{Error, Order, ProductRef, ReviewInvitation, ShipmentConfirmation, Tracking};

/// The variable that gives the shop's contact phone ([`FlowOptions::contact_phone`](super::FlowOptions::contact_phone)).
pub const CONTACT_PHONE_VAR: &str = "COMMERCE_CONTACT_PHONE";

/// The order as the fulfilment provider gets it: the buyer's phone, else the shop's contact
/// phone (bol leaves `deliveryPhoneNumber` out of most orders and gives none with the
/// billing details; ShopWeDo requires one on both addresses, the carrier uses it). The
/// provider fills what else it derives (ShopWeDo: the billing phone and e-mail from the
/// shipping address).
pub(crate) fn fulfilment_order(o: &Order, contact_phone: Option<&str>) -> Order {
    let mut o = o.clone();
    let blank = |p: &Option<String>| p.as_deref().is_none_or(|p| p.trim().is_empty());
    if let Some(phone) = contact_phone.filter(|p| !p.trim().is_empty()) {
        if blank(&o.shipping_address.phone) {
            o.shipping_address.phone = Some(phone.to_owned());
        }
        if let Some(b) = &mut o.billing_address
            && blank(&b.phone)
        {
            b.phone = Some(phone.to_owned());
        }
    }
    o
}

/// Why a provider (or a step) refused an order before anything was sent, and the setting
/// that would supply what is missing: the order waits for a person with this.
pub(crate) fn refused(provider: &str, error: &Error, contact_phone: Option<&str>) -> String {
    let text = error.to_string();
    let hint = if text.contains("phone") && contact_phone.is_none() {
        format!(
            "; the buyer gave no phone: set {CONTACT_PHONE_VAR} (FlowOptions::contact_phone) to the shop's \
             phone, used where the buyer's is missing, then `commerce retry`"
        )
    } else {
        "; correct the order at its channel or the mapping, then `commerce retry`".to_owned()
    };
    format!("{provider} refused the order as the channel gave it: {text}{hint}")
}

/// The review invitation for an order: the buyer as the channel gave them (bol's relay
/// e-mail address as given), every line as a product (SKU, else EAN), the shipping
/// country, the order date.
pub(crate) fn invitation(o: &Order) -> ReviewInvitation {
    ReviewInvitation {
        order_id: o.id.clone(),
        customer: o.customer.clone(),
        products: o
            .lines
            .iter()
            .map(|l| ProductRef {
                sku: l.sku.clone().or_else(|| l.ean.clone()).unwrap_or_default(),
                ean: l.ean.clone(),
                name: Some(l.title.clone()).filter(|t| !t.is_empty()),
            })
            .collect(),
        send_at: None,
        country: Some(o.shipping_address.country.clone()).filter(|c| !c.is_empty()),
        ordered_at: o.placed_at,
    }
}

/// The shipment confirmation for an order: every line, with the parcel's tracking.
pub(crate) fn confirmation(o: &Order, tracking: Tracking) -> ShipmentConfirmation {
    ShipmentConfirmation {
        order_id: o.id.clone(),
        line_ids: o.lines.iter().map(|l| l.line_id.clone()).collect(),
        tracking,
    }
}
