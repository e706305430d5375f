//! The Customer API's objects. Their shapes are not public (*inferred*), so every field is
//! optional, several spellings are accepted, unknown fields are kept in `extra`, and the
//! `_type` tag says which shape arrived.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use commerce_core::{Money, StockBasis, lenient};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

fn first<'a>(map: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| map.get(*k).filter(|v| !v.is_null()))
}

/// How many of a product the shop can deliver.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Availability {
    /// Units available, if the shop says.
    pub quantity: Option<i64>,
    /// Whether it is in stock, if the shop says.
    pub in_stock: Option<bool>,
    /// The shop's own word for it (`in_stock`, `on_order`, ...).
    pub status: Option<String>,
}

impl Availability {
    /// Units that can be ordered now: the quantity when given, else 1 for "in stock" and 0
    /// otherwise.
    pub fn available(&self) -> i64 {
        match (self.quantity, self.in_stock) {
            (Some(q), _) => q,
            (None, Some(true)) => 1,
            _ => 0,
        }
    }

    /// What [`available`](Self::available) is: a counted quantity is units on the shelf
    /// ([`StockBasis::OnShelf`]: the shop does not say whether orders sent and not yet
    /// shipped are taken off, so none is assumed to be); without one it is only in stock or
    /// not ([`StockBasis::InStockOnly`]: 1 or 0, no count).
    pub fn basis(&self) -> StockBasis {
        if self.quantity.is_some() {
            StockBasis::OnShelf
        } else {
            StockBasis::InStockOnly
        }
    }
}

impl<'de> Deserialize<'de> for Availability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match lenient::value(d)? {
            Value::Number(n) => Availability {
                quantity: n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                in_stock: n.as_f64().map(|f| f > 0.0),
                status: None,
            },
            Value::Bool(b) => Availability {
                in_stock: Some(b),
                ..Default::default()
            },
            Value::String(s) => Availability {
                status: Some(s),
                ..Default::default()
            },
            Value::Object(map) => {
                let quantity = first(
                    &map,
                    &["quantity", "qty", "stock", "available_quantity", "amount"],
                )
                .and_then(|v| v.as_i64().or_else(|| lenient::as_f64(v).map(|f| f as i64)));
                let in_stock =
                    first(&map, &["in_stock", "available", "is_available"]).and_then(|v| match v {
                        Value::Bool(b) => Some(*b),
                        other => lenient::as_f64(other).map(|f| f > 0.0),
                    });
                let status = first(&map, &["status", "state", "label"]).and_then(lenient::as_text);
                Availability {
                    in_stock: in_stock.or(quantity.map(|q| q > 0)),
                    quantity,
                    status,
                }
            }
            _ => Availability::default(),
        })
    }
}

/// A price. Amounts are exact [`Money`] (cents) in the price's currency (the euro when it
/// says none), sent as numbers or numeric strings. The shop computes its price without VAT
/// from the one with VAT and sends it with more decimals than cents (`506.1157…`): an
/// amount is rounded to the cent by commerce-core's one rule (half away from zero, on the
/// decimals as sent; [`Money::parse_rounded`]). One that is not a number reads as `None`.
/// Written back as numbers (`612.4`), as before.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Price {
    /// The amount (your price, excluding VAT where the shop says so).
    #[serde(serialize_with = "commerce_core::money::eur_number_option::serialize")]
    pub amount: Option<Money>,
    /// The amount including VAT, if given apart.
    #[serde(serialize_with = "commerce_core::money::eur_number_option::serialize")]
    pub amount_with_vat: Option<Money>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
}

/// An amount sent as a number or a numeric string, rounded to the cent by the one rule.
fn money(v: &Value, currency: &str) -> Option<Money> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(whole) => whole.checked_mul(100).map(|minor| Money::new(minor, currency)),
            None => Money::from_f64_rounded(n.as_f64()?, currency).ok(),
        },
        Value::String(s) => Money::parse_rounded(s, currency).ok(),
        _ => None,
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const EUR: &str = "EUR";
        Ok(match lenient::value(d)? {
            v @ (Value::Number(_) | Value::String(_)) => Price {
                amount: money(&v, EUR),
                ..Default::default()
            },
            Value::Object(map) => {
                let currency = first(&map, &["currency", "currency_code"]).and_then(lenient::as_text);
                let unit = currency.as_deref().unwrap_or(EUR);
                Price {
                    amount: first(
                        &map,
                        &["amount", "value", "price", "without_vat", "price_without_vat"],
                    )
                    .and_then(|v| money(v, unit)),
                    amount_with_vat: first(&map, &["with_vat", "price_with_vat", "amount_with_vat"])
                        .and_then(|v| money(v, unit)),
                    currency,
                }
            }
            _ => Price::default(),
        })
    }
}

/// A product of the shop, with its availability and your price.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The shape tag (`Product`).
    #[serde(rename = "_type", default, deserialize_with = "lenient::opt_text")]
    pub kind: Option<String>,
    /// The shop's id.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub id: Option<String>,
    /// The product code (often the EAN).
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: String,
    /// The brand.
    #[serde(default, deserialize_with = "brand")]
    pub brand: Option<String>,
    /// The name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// Availability.
    #[serde(default, alias = "stock")]
    pub availability: Option<Availability>,
    /// Your price.
    #[serde(default)]
    pub price: Option<Price>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A brand sent as a name or as an object with one.
fn brand<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match lenient::value(d)? {
        Value::Object(map) => first(&map, &["name", "title", "code"]).and_then(lenient::as_text),
        other => lenient::as_text(&other),
    })
}

/// A postal address on an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Name of the receiver.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Company.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<String>,
    /// Street and number.
    #[serde(default, deserialize_with = "lenient::text")]
    pub street: String,
    /// City.
    #[serde(default, deserialize_with = "lenient::text")]
    pub city: String,
    /// Postal code.
    #[serde(default, deserialize_with = "lenient::text")]
    pub zip: String,
    /// ISO 3166-1 alpha-2 country.
    #[serde(default, deserialize_with = "lenient::text")]
    pub country: String,
    /// E-mail.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// Telephone.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
}

/// One line of an order to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrderItem {
    /// The product code.
    pub code: String,
    /// The brand, where codes repeat across brands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// How many (more than 0).
    pub quantity: u32,
}

/// An order to send to the shop. It reads back from the JSON it writes (a prepared
/// submission's payload is one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Your own order number; also how a lost submission is found again.
    pub reference: String,
    /// The lines (at least one).
    pub items: Vec<NewOrderItem>,
    /// Where to deliver (the shop's default address when absent). When given, its name,
    /// street, city, zip, country and e-mail are required ([`NewOrder::validate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<Address>,
    /// A note for the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The product code.
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: String,
    /// The brand.
    #[serde(default, deserialize_with = "brand")]
    pub brand: Option<String>,
    /// The name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub quantity: Option<u64>,
    /// The price per unit.
    #[serde(default)]
    pub price: Option<Price>,
}

/// A parcel of an order (*inferred* shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// The carrier.
    #[serde(default, alias = "transporter", deserialize_with = "lenient::opt_text")]
    pub carrier: Option<String>,
    /// The tracking number.
    #[serde(
        default,
        alias = "tracking_code",
        alias = "tracking",
        deserialize_with = "lenient::opt_text"
    )]
    pub tracking_number: Option<String>,
    /// The tracking page.
    #[serde(default, alias = "url", deserialize_with = "lenient::opt_text")]
    pub tracking_url: Option<String>,
    /// When it shipped.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub shipped_at: Option<NaiveDateTime>,
}

/// An order with its items, payment and processing status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The shape tag (`Order`).
    #[serde(rename = "_type", default, deserialize_with = "lenient::opt_text")]
    pub kind: Option<String>,
    /// The shop's order id.
    #[serde(default, deserialize_with = "lenient::text")]
    pub id: String,
    /// Your reference, as sent.
    #[serde(default, alias = "customer_reference", deserialize_with = "lenient::opt_text")]
    pub reference: Option<String>,
    /// The shop's order number, if apart from the id.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub number: Option<String>,
    /// Created at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created_at: Option<NaiveDateTime>,
    /// Payment status (`paid`, `unpaid`, ...).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub payment_status: Option<String>,
    /// Processing status (`new`, `processing`, `shipped`, ...).
    #[serde(default, alias = "status", deserialize_with = "lenient::opt_text")]
    pub processing_status: Option<String>,
    /// The lines (present in the order detail).
    #[serde(default, deserialize_with = "lenient::list")]
    pub items: Vec<OrderItem>,
    /// Parcels, if the shop reports them.
    #[serde(default, deserialize_with = "lenient::list")]
    pub shipments: Vec<Shipment>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn price(v: Value) -> Price {
        serde_json::from_value(v).unwrap()
    }

    fn eur(minor_units: i64) -> Option<Money> {
        Some(Money::new(minor_units, "EUR"))
    }

    /// Prices are exact cents: numbers and numeric strings read as they were sent, more
    /// decimals (a price without VAT computed from one with VAT) are rounded half away
    /// from zero on the decimals as sent, and they are written back as the same numbers.
    #[test]
    fn prices_read_as_exact_cents_and_write_back_as_numbers() {
        assert_eq!(price(json!(612.4)).amount, eur(61240));
        assert_eq!(price(json!("612.40")).amount, eur(61240));
        assert_eq!(price(json!(12)).amount, eur(1200));
        assert_eq!(price(json!(741.0 / 1.21)).amount, eur(61240));
        assert_eq!(price(json!("1.005")).amount, eur(101));
        assert_eq!(price(json!("-1.005")).amount, eur(-101));
        assert_eq!(price(json!("about 5")).amount, None);
        let usd = price(json!({"value": "3.10", "with_vat": 3.75, "currency_code": "USD"}));
        assert_eq!(usd.amount, Some(Money::new(310, "USD")));
        assert_eq!(usd.amount_with_vat, Some(Money::new(375, "USD")));
        assert_eq!(
            serde_json::to_string(&price(
                json!({"amount": "612.40", "with_vat": 741.0, "currency": "EUR"})
            ))
            .unwrap(),
            r#"{"amount":612.4,"amount_with_vat":741.0,"currency":"EUR"}"#
        );
        assert_eq!(
            serde_json::to_string(&Price::default()).unwrap(),
            r#"{"amount":null,"amount_with_vat":null,"currency":null}"#
        );
    }
}
