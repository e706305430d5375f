//! Orders: create, read and cancel (`createOrder`, `getOrder`, `cancelOrder`).

use commerce_core::{Error, ValidationErrors, is_valid_email};
use serde_json::{Value, json};

use crate::client::*;
use crate::model::*;

/// What ShopWeDo's document marks required in an address (`street`, `number`, `zip`, `city`,
/// `country_iso2`, `email`, `phone`), and the country's and e-mail's form.
pub(crate) fn check_address(v: &mut ValidationErrors, prefix: &str, a: &Address) {
    for (name, value) in [
        ("street", &a.street),
        ("number", &a.number),
        ("zip", &a.zip),
        ("city", &a.city),
        ("email", &a.email),
        ("phone", &a.phone),
    ] {
        v.require(value, format!("{prefix}.{name}"));
    }
    v.check(
        a.country_iso2.len() == 2 && a.country_iso2.chars().all(|c| c.is_ascii_alphabetic()),
        format!("{prefix}.country_iso2"),
        format!("must be a 2-letter ISO code, not `{}`", a.country_iso2),
    );
    if !a.email.trim().is_empty() {
        v.check(
            is_valid_email(&a.email),
            format!("{prefix}.email"),
            format!("`{}` is not a well-formed address", a.email),
        );
    }
}

impl NewOrder {
    /// Every problem that would make ShopWeDo refuse the order, named by field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&self.external_order_id, "external_order_id");
        v.check(
            self.created_at != chrono::NaiveDateTime::default(),
            "created_at",
            "is required (when the order was created)",
        );
        check_address(&mut v, "shipping_address", &self.shipping_address);
        if let Some(billing) = &self.billing_address {
            check_address(&mut v, "billing_address", billing);
        }
        v.check(!self.items.is_empty(), "items", "at least one item is required");
        for (i, item) in self.items.iter().enumerate() {
            v.check(
                item.sku > 0,
                format!("items[{i}].sku"),
                "must be a ShopWeDo stock item id",
            );
            v.check(
                item.amount > 0,
                format!("items[{i}].amount"),
                "must be more than 0",
            );
        }
        v.into_result(())
    }
}

impl ShopWeDoClient {
    /// Creates an order and returns ShopWeDo's order id. The order is validated first (every
    /// bad field is named); it is a create, so it is never re-sent once it may have reached
    /// ShopWeDo (a time-out is [`Error::Unconfirmed`]). A `400 order_invalid_data` answer
    /// keeps ShopWeDo's per-field `errors`.
    pub async fn create_order(&self, order: &NewOrder) -> Result<u64, Error> {
        let mut ep = Self::method(
            "createOrder",
            &serde_json::to_value(order).unwrap_or_default(),
            false,
        );
        if let Err(e) = order.validate() {
            ep.fail(e);
        }
        let response = self.inner.transport.send(&ep).await?;
        // An answer without an order id does not say the order was not made: an unknown
        // outcome (`Error::Unconfirmed`), like any unreadable answer to a create.
        let answer: Value = response.json()?;
        commerce_core::lenient::as_u64(&answer["order_id"]).ok_or_else(|| {
            let mut e = commerce_core::DecodeError::new(
                PROVIDER.name,
                "createOrder",
                "order_id",
                "no order id in the answer",
            );
            e.excerpt = response.excerpt(None);
            response.unreadable(Error::from(e))
        })
    }

    /// An order with its addresses, lines and shipments (`getOrder`).
    pub async fn get_order(&self, order_id: u64) -> Result<Order, Error> {
        let ep = Self::method("getOrder", &json!({"order_id": order_id.to_string()}), true);
        let response = self.inner.transport.send(&ep).await?;
        // Documented as "an array with order data": the order, a list of one, or wrapped.
        let value: Value = response.json()?;
        let order = match value {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            Value::Object(mut map)
                if !map.contains_key("order_id") && map.get("order").is_some_and(Value::is_object) =>
            {
                map.remove("order").unwrap_or_default()
            }
            other => other,
        };
        response.decode(order.to_string().as_bytes())
    }

    /// Cancels an order not yet in fulfilment (`cancelOrder`); a 400 says it is too late.
    pub async fn cancel_order(&self, order_id: u64) -> Result<(), Error> {
        // Cancelling twice cannot do harm: safe to repeat.
        let ep = Self::method("cancelOrder", &json!({"order_id": order_id.to_string()}), true);
        self.inner.transport.send(&ep).await.map(drop)
    }
}
