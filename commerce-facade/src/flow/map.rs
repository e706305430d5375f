//! What one provider's data becomes for another: the order as a fulfilment provider gets
//! it, the order as a review invitation, the shipment as the channel's confirmation. Every
//! field the flow hands from one provider to the next is decided here (the table is in
//! ARCHITECTURE.md, "The mapping").

use commerce_core::{Error, Order, ProductRef, ReviewInvitation, ShipmentConfirmation, Tracking};

/// The variable that gives the shop's contact phone ([`FlowOptions::contact_phone`](super::FlowOptions::contact_phone)).
pub const CONTACT_PHONE_VAR: &str = "COMMERCE_CONTACT_PHONE";

/// The shop's contact phone as given (`COMMERCE_CONTACT_PHONE`), checked: digits, spaces
/// and `+ - ( ) . /` only (a `+` only first), 6 to 15 digits (E.164 allows 15), at most 32
/// characters. Refused with the variable named and the value not repeated (it may be long,
/// or not meant to be printed).
pub(crate) fn contact_phone(text: &str) -> Result<String, Error> {
    let phone = text.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || " -().//".contains(c) || (c == '+' && i == 0));
    if phone.chars().count() > 32 || !allowed || !(6..=15).contains(&digits) {
        return Err(Error::config(format!(
            "{CONTACT_PHONE_VAR} is not a phone number ({} characters given): digits, spaces and + - ( ) . / only \
             (a + only first), 6 to 15 digits, at most 32 characters, e.g. +31 20 123 4567",
            text.chars().count()
        )));
    }
    Ok(phone.to_owned())
}

/// The order as the fulfilment provider gets it: the buyer's phone, else the shop's contact
/// phone (bol leaves `deliveryPhoneNumber` out of most orders and gives none with the
/// billing details; ShopWeDo requires one on both addresses, the carrier uses it). The
/// provider fills what else it derives (ShopWeDo: the billing phone and e-mail from the
/// shipping address).
///
/// A pick-up point order goes to the point's address (bol gives it as the shipment
/// address) with the point's name as the company line, the buyer as the recipient, so the
/// carrier delivers it there and the point knows whose it is.
pub(crate) fn fulfilment_order(o: &Order, contact_phone: Option<&str>) -> Order {
    let mut o = o.clone();
    if let Some(point) = o.pickup_point.clone() {
        o.shipping_address.company = Some(point);
    }
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
/// e-mail address as given), every line as a product (SKU, else EAN), the buyer's country
/// (the billing address's, else the shipping address's: a pick-up point may be across a
/// border), the order date.
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
        country: o
            .billing_address
            .as_ref()
            .map(|b| b.country.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| Some(o.shipping_address.country.clone()).filter(|c| !c.is_empty())),
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

#[cfg(test)]
mod tests {
    use commerce_core::Address;

    use super::*;

    fn order() -> Order {
        let address = |street: &str, country: &str| Address {
            first_name: "An".into(),
            last_name: "Peeters".into(),
            street: street.into(),
            house_number: "12".into(),
            country: country.into(),
            ..Default::default()
        };
        Order {
            id: "1".into(),
            shipping_address: address("Stationsplein", "NL"),
            billing_address: Some(address("Grote Markt", "BE")),
            pickup_point: Some("PostNL-punt Primera Breda".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_pick_up_point_order_goes_to_the_point_for_the_buyer() {
        let o = fulfilment_order(&order(), Some("+31201234567"));
        assert_eq!(
            o.shipping_address.company.as_deref(),
            Some("PostNL-punt Primera Breda")
        );
        assert_eq!(
            (
                o.shipping_address.first_name.as_str(),
                o.shipping_address.street.as_str()
            ),
            ("An", "Stationsplein")
        );
        // The shop's phone where the buyer gave none, on both addresses.
        assert_eq!(o.shipping_address.phone.as_deref(), Some("+31201234567"));
        assert_eq!(o.billing_address.unwrap().phone.as_deref(), Some("+31201234567"));
    }

    #[test]
    fn the_invitation_names_the_buyers_country_not_the_points() {
        assert_eq!(invitation(&order()).country.as_deref(), Some("BE"));
        let without_billing = Order {
            billing_address: None,
            ..order()
        };
        assert_eq!(invitation(&without_billing).country.as_deref(), Some("NL"));
    }
}
