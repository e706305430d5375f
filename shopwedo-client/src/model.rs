//! ShopWeDo's objects. Answers are read tolerantly: the documentation's loose types
//! (`integer|bool`, `DateTime|bool`, `array|bool`, where `false` means none) become
//! `Option`s and empty lists, and an unreadable field never fails a whole answer.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use commerce_core::lenient;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A text in ShopWeDo's four languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Translations {
    /// Dutch.
    pub nl: Option<String>,
    /// French.
    pub fr: Option<String>,
    /// English.
    pub en: Option<String>,
    /// German.
    pub de: Option<String>,
}

impl Translations {
    /// The text in `language` (`nl`, `fr`, `en`, `de`), if there is one.
    pub fn get(&self, language: &str) -> Option<&str> {
        match language {
            "nl" => self.nl.as_deref(),
            "fr" => self.fr.as_deref(),
            "en" => self.en.as_deref(),
            "de" => self.de.as_deref(),
            _ => None,
        }
    }

    /// The text in `language`, or else in English, Dutch, French, German.
    pub fn best(&self, language: &str) -> Option<&str> {
        self.get(language)
            .or(self.en.as_deref())
            .or(self.nl.as_deref())
            .or(self.fr.as_deref())
            .or(self.de.as_deref())
    }
}

impl<'de> Deserialize<'de> for Translations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = lenient::value(d)?;
        Ok(match &value {
            serde_json::Value::Object(map) => {
                let get = |k: &str| map.get(k).and_then(lenient::as_text);
                Translations {
                    nl: get("nl"),
                    fr: get("fr"),
                    en: get("en"),
                    de: get("de"),
                }
            }
            // One text for every language.
            other => {
                let text = lenient::as_text(other);
                Translations {
                    nl: text.clone(),
                    fr: text.clone(),
                    en: text.clone(),
                    de: text,
                }
            }
        })
    }
}

/// A postal address: the receiver's (`shipping_address`) or the buyer's
/// (`billing_address`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// First name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lastname: Option<String>,
    /// Company.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<String>,
    /// VAT number.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat: Option<String>,
    /// Street (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub street: String,
    /// House number (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub number: String,
    /// Box number.
    #[serde(
        rename = "box",
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub box_number: Option<String>,
    /// Postal code (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub zip: String,
    /// City (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub city: String,
    /// ISO 3166-1 alpha-2 country code (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub country_iso2: String,
    /// E-mail (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub email: String,
    /// Telephone (required).
    #[serde(default, deserialize_with = "lenient::text")]
    pub phone: String,
}

/// One line of an order: a stock item and how many.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// ShopWeDo's stock item id (an integer).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub sku: u64,
    /// Amount ordered (more than 0).
    #[serde(default, deserialize_with = "lenient_u64_as_u32")]
    pub amount: u32,
    /// The product's name on this line (informational).
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// A comment on this line (informational).
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<String>,
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(lenient::opt_u64(d)?.unwrap_or(0))
}

fn lenient_u64_as_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(lenient::opt_u64(d)?
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0))
}

/// `Y-m-d H:i:s`, the only timestamp format ShopWeDo takes.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

fn ymd_his<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format(TIMESTAMP_FORMAT).to_string())
}

fn opt_ymd_his<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ymd_his(t, s),
        None => s.serialize_none(),
    }
}

fn parse_ymd_his<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let text = String::deserialize(d)?;
    NaiveDateTime::parse_from_str(&text, TIMESTAMP_FORMAT).map_err(serde::de::Error::custom)
}

fn parse_opt_ymd_his<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(text) => NaiveDateTime::parse_from_str(&text, TIMESTAMP_FORMAT)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// An order to create (`createOrder`): `external_order_id`, `created_at`,
/// `shipping_address` and at least one item are required; build it with the fields you have
/// and `..Default::default()` (a `created_at` left at its default, 1970-01-01, is refused
/// before anything is sent).
///
/// It reads back from the JSON it writes (a prepared submission's payload is one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Your unique order number (required).
    pub external_order_id: String,
    /// Your reference, e.g. the invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_order_reference: Option<String>,
    /// Release the order when all stock is available (not given: not released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<bool>,
    /// When the order was created (required; sent as `Y-m-d H:i:s`).
    #[serde(serialize_with = "ymd_his", deserialize_with = "parse_ymd_his")]
    pub created_at: NaiveDateTime,
    /// When the order was last updated.
    #[serde(
        default,
        serialize_with = "opt_ymd_his",
        deserialize_with = "parse_opt_ymd_his",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<NaiveDateTime>,
    /// A comment on the order (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A comment for packing (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_packing: Option<String>,
    /// The buyer's address (not given: the shipping address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// The receiver's address (required).
    pub shipping_address: Address,
    /// The lines (at least one).
    pub items: Vec<OrderItem>,
}

/// A parcel of an order. ShopWeDo does not document its fields, so the known candidates are
/// read by accessor, at the top level or one level down (`{"shipment": {...}}`,
/// `{"tracking": {...}}`, `{"parcel": {...}}`, `{"label": {...}}`), and the whole object is
/// kept as sent (*inferred*).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shipment {
    /// The shipment as sent.
    pub raw: serde_json::Value,
}

impl Shipment {
    fn first_text(&self, keys: &[&str]) -> Option<String> {
        let at =
            |object: &serde_json::Value| keys.iter().find_map(|k| object.get(k).and_then(lenient::as_text));
        at(&self.raw).or_else(|| {
            ["shipment", "tracking", "parcel", "label"]
                .iter()
                .filter_map(|k| self.raw.get(k).filter(|v| v.is_object()))
                .find_map(at)
        })
    }

    /// The tracking code (`tracking_code`, `trackingcode`, `tracking_number`, `barcode`,
    /// `track_and_trace`, `tracking`).
    pub fn tracking_code(&self) -> Option<String> {
        self.first_text(&[
            "tracking_code",
            "trackingcode",
            "tracking_number",
            "barcode",
            "track_and_trace",
            "tracking",
        ])
    }

    /// The carrier (`carrier`, `transporter`, `shipper`, `courier`).
    pub fn carrier(&self) -> Option<String> {
        self.first_text(&["carrier", "transporter", "shipper", "courier"])
    }

    /// The tracking page (`tracking_url`, `track_url`, `tracking_link`, `url`).
    pub fn tracking_url(&self) -> Option<String> {
        self.first_text(&["tracking_url", "track_url", "tracking_link", "url"])
    }

    /// When it shipped (`shipped_at`, `created_at`, `date`).
    pub fn shipped_at(&self) -> Option<NaiveDateTime> {
        self.first_text(&["shipped_at", "created_at", "date"])
            .and_then(|t| lenient::parse_local(&t))
    }
}

/// An order as `getOrder` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// ShopWeDo's order id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub order_id: Option<u64>,
    /// The parent order's id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub parent_order_id: Option<u64>,
    /// Your order number.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub external_order_id: Option<String>,
    /// Your reference.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub external_order_reference: Option<String>,
    /// The owning shop.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub shop_id: Option<u64>,
    /// The app id (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub app_id: Option<u64>,
    /// The app name (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub app_name: Option<String>,
    /// The warehouse (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub warehouse_id: Option<u64>,
    /// Created at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created_at: Option<NaiveDateTime>,
    /// Status code.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub status: Option<i64>,
    /// Status in words.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status_string: Option<String>,
    /// The customer (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub customer_id: Option<u64>,
    /// Payment method (`EXTERN` for API orders).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub payment_method: Option<String>,
    /// Paid at (`false`: not paid).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub paid_at: Option<NaiveDateTime>,
    /// Desired delivery date (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub desired_delivery_date: Option<NaiveDateTime>,
    /// The receiver's address.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub shipping_address: Option<Address>,
    /// The buyer's address.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub billing_address: Option<Address>,
    /// The shipments (`false`: none yet).
    #[serde(default, deserialize_with = "lenient::list")]
    pub shipping: Vec<Shipment>,
    /// Last announced shipment date (`false`: not shipped).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub shipped_at: Option<NaiveDateTime>,
    /// Comment.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub comment: Option<String>,
    /// Packing comment.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub comment_packing: Option<String>,
    /// Language.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub language: Option<String>,
    /// The lines.
    #[serde(default, deserialize_with = "lenient::list")]
    pub items: Vec<OrderItem>,
    /// The retours announced at this order: an **inferred** block (no public material
    /// shows how ShopWeDo reports a retour or its arrival). `None`: the answer has no such
    /// block, so it does not tell; `false` or an empty list: no retour.
    #[serde(
        default,
        deserialize_with = "crate::retour::retours_block",
        skip_serializing_if = "Option::is_none"
    )]
    pub retours: Option<Vec<crate::retour::Retour>>,
}

/// A stock item (`getStock`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StockItem {
    /// ShopWeDo's stock item id (the SKU orders use).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub sku: u64,
    /// The internal reference: the barcode (EAN) or similar.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub reference: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub description: Option<String>,
    /// Warehouse (1 = ShopWeDo Mechelen, BE).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub warehouse_id: Option<u64>,
    /// Weight in grams.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub weight: Option<u64>,
    /// Items per box (deprecated, 1).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub items_in_box: Option<u64>,
    /// Units in stock.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub level: Option<i64>,
    /// Units available to promise (stock less the warning level and released orders).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub atp: Option<i64>,
    /// Status code.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub status: Option<i64>,
    /// Status in words (`in_stock`, ...).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub status_string: Option<String>,
    /// Best-before alert type.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tht_alert: Option<String>,
    /// Best-before date (`false`: none).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub tht_date: Option<NaiveDateTime>,
    /// Last updated (`false`: never).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub last_update: Option<NaiveDateTime>,
    /// ATP last computed (`false`: never).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub last_atp_update: Option<NaiveDateTime>,
}

/// A price promotion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// The discount.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub price: Option<f64>,
    /// First day.
    #[serde(default, deserialize_with = "lenient::opt_date")]
    pub start: Option<NaiveDate>,
    /// Last day.
    #[serde(default, deserialize_with = "lenient::opt_date")]
    pub end: Option<NaiveDate>,
}

/// An extra handling cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtraHandling {
    /// The cost.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub price: Option<f64>,
    /// What it is for.
    #[serde(default)]
    pub description: Translations,
}

/// A product image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImage {
    /// The image's address.
    #[serde(default, deserialize_with = "lenient::text")]
    pub src: String,
    /// Its alt text.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub alt: Option<String>,
    /// The variant it shows, if one.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub product_child_id: Option<u64>,
}

/// A category a product is in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCategory {
    /// The category id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// Its name.
    #[serde(default)]
    pub name: Translations,
}

/// Online, out of stock or offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// 1: online.
    Online,
    /// 2: out of stock.
    OutOfStock,
    /// 0: offline.
    Offline,
    /// Another code.
    Other(i64),
}

fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
    Ok(lenient::opt_i64(d)?.map(|s| match s {
        1 => Status::Online,
        2 => Status::OutOfStock,
        0 => Status::Offline,
        other => Status::Other(other),
    }))
}

/// A webshop product (`getProducts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub product_id: Option<u64>,
    /// Parent product id, for variants.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub product_parent_id: Option<u64>,
    /// The connected stock item.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub sku: Option<u64>,
    /// Name.
    #[serde(default)]
    pub name: Translations,
    /// Description.
    #[serde(default)]
    pub description: Translations,
    /// Price excluding VAT.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub price: Option<f64>,
    /// VAT.
    #[serde(rename = "VAT", default, deserialize_with = "lenient::opt_f64")]
    pub vat: Option<f64>,
    /// Promotions.
    #[serde(default, deserialize_with = "lenient::list")]
    pub promotions: Vec<Promotion>,
    /// Status.
    #[serde(default, deserialize_with = "status")]
    pub status: Option<Status>,
    /// Extra handling.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub extra_handling: Option<ExtraHandling>,
    /// Barcode of the stock item.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub barcode: Option<String>,
    /// Available to promise.
    #[serde(rename = "ATP", default, deserialize_with = "lenient::opt_i64")]
    pub atp: Option<i64>,
    /// Weight in grams.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub weight: Option<f64>,
    /// Sort order.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub sort: Option<i64>,
    /// Featured on the homepage.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_featured: Option<bool>,
    /// Virtual product.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_virtual: Option<bool>,
    /// Sold without stock.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_nostock: Option<bool>,
    /// Images, the main one first.
    #[serde(default, deserialize_with = "lenient::list")]
    pub images: Vec<ProductImage>,
    /// Categories.
    #[serde(default, deserialize_with = "lenient::list")]
    pub categories: Vec<ProductCategory>,
    /// Variant product ids.
    #[serde(default, deserialize_with = "lenient::u64_list")]
    pub childs: Vec<u64>,
    /// Related product ids.
    #[serde(default, deserialize_with = "lenient::u64_list")]
    pub related_products: Vec<u64>,
}

/// A webshop category or collection (`getCategories`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// Category id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub category_id: Option<u64>,
    /// Parent category id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub category_parent_id: Option<u64>,
    /// Name.
    #[serde(default)]
    pub name: Translations,
    /// Description.
    #[serde(default)]
    pub description: Translations,
    /// Sort order.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub sort: Option<i64>,
    /// Images by role (`foreground`, `background`, `product`).
    #[serde(default, deserialize_with = "images_by_role")]
    pub images: BTreeMap<String, String>,
    /// Status.
    #[serde(default, deserialize_with = "status")]
    pub status: Option<Status>,
    /// Child category ids.
    #[serde(default, deserialize_with = "lenient::u64_list")]
    pub childs: Vec<u64>,
}

fn images_by_role<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(match lenient::value(d)? {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| lenient::as_text(&v).map(|v| (k, v)))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// A webshop blog post (`getBlogPosts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlogPost {
    /// Post id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub post_id: Option<u64>,
    /// Title.
    #[serde(default, deserialize_with = "lenient::text")]
    pub title: String,
    /// HTML content.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Language.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub language: Option<String>,
    /// Date.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub date: Option<NaiveDateTime>,
    /// Image address.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub image: Option<String>,
    /// Status (online or offline).
    #[serde(default, deserialize_with = "status")]
    pub status: Option<Status>,
}

#[cfg(test)]
mod shipment_tests {
    use super::*;

    fn shipment(raw: serde_json::Value) -> Shipment {
        Shipment { raw }
    }

    /// The tracking fields are read where ShopWeDo may put them: at the top level or one
    /// level down; a shipment without a code has none, whatever else it carries.
    #[test]
    fn tracking_is_read_at_the_top_level_or_one_level_down() {
        let flat = shipment(serde_json::json!({"carrier": "bpost", "tracking_code": "SWD1BE"}));
        let nested =
            shipment(serde_json::json!({"shipment": {"carrier": "bpost", "tracking_number": "SWD2BE"}}));
        let tracking = shipment(
            serde_json::json!({"tracking": {"code": "x", "barcode": "SWD3BE", "url": "https://t/3"}}),
        );
        let none = shipment(
            serde_json::json!({"carrier": "bpost", "shipped_at": "2026-11-30 10:00:00", "tracking": false}),
        );
        assert_eq!(flat.tracking_code().as_deref(), Some("SWD1BE"));
        assert_eq!(nested.tracking_code().as_deref(), Some("SWD2BE"));
        assert_eq!(nested.carrier().as_deref(), Some("bpost"));
        assert_eq!(tracking.tracking_code().as_deref(), Some("SWD3BE"));
        assert_eq!(tracking.tracking_url().as_deref(), Some("https://t/3"));
        assert_eq!(none.tracking_code(), None);
        assert_eq!(none.carrier().as_deref(), Some("bpost"));
    }
}
