//! What one provider's data becomes for another: the order as a review invitation, the
//! shipment as the channel's confirmation. Every field the flow hands from one provider
//! to the next is decided here.

use commerce_core::{Order, ProductRef, ReviewInvitation, ShipmentConfirmation, Tracking};

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
