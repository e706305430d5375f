//! The objects of Sitejabber's schema, read tolerantly (see the `lenient` decoders): every
//! field is optional or defaulted, because the documented examples and the real answers
//! disagree with the schema in many small ways.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use commerce_core::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

use commerce_core::lenient;

/// The answer to a login: the user token and when it expires.
#[derive(Clone, Deserialize)]
pub struct Login {
    /// The token sent as `user_token` in later calls.
    #[serde(deserialize_with = "secret")]
    pub token: SecretString,
    /// When the token expires (typically six months after login).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub expire: Option<NaiveDateTime>,
    /// The user that logged in.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub user: Option<User>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("token", &"[redacted]")
            .field("expire", &self.expire)
            .field("user", &self.user)
            .finish()
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    let text = lenient::text(d)?;
    if text.is_empty() {
        return Err(serde::de::Error::custom("the login answer has no token"));
    }
    Ok(SecretString::from(text))
}

/// A rating type (`overall`, `service`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RatingType {
    /// Overall.
    Overall,
    /// Service.
    Service,
    /// Value.
    Value,
    /// Shipping.
    Shipping,
    /// Returns.
    Returns,
    /// Quality.
    Quality,
    /// A type this library does not know.
    #[serde(untagged)]
    Other(String),
}

/// A rating of one type, from 1 to 5 (`None` when not given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// What is rated.
    #[serde(rename = "type")]
    pub kind: RatingType,
    /// The rating.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub rating: Option<f64>,
}

/// A count of reviews of one kind (`total`, `fiveStars`, ...). Sitejabber sends the count
/// in a field named `rating`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumReviews {
    /// `total`, `fiveStars`, `fourStars`, `threeStars`, `twoStars` or `oneStar`.
    #[serde(rename = "type", default, deserialize_with = "lenient::text")]
    pub kind: String,
    /// The number of reviews.
    #[serde(rename = "rating", default, deserialize_with = "lenient::opt_u64")]
    pub count: Option<u64>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Street address.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub street_address: Option<String>,
    /// Second line.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub street_address2: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub city: Option<String>,
    /// State.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub country: Option<String>,
    /// The whole address on one line.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub complete_address: Option<String>,
}

/// A business (Sitejabber's "Url object").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    /// Its name.
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    /// Its site.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub url_address: Option<String>,
    /// Its site without `http://`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub display_address: Option<String>,
    /// Its profile page on Sitejabber.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub url_profile_page: Option<String>,
    /// Average ratings by type.
    #[serde(default, deserialize_with = "lenient::list")]
    pub average_rating: Vec<Rating>,
    /// Review counts by kind.
    #[serde(default, deserialize_with = "lenient::list")]
    pub num_reviews: Vec<NumReviews>,
    /// Telephone.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub phone: Option<String>,
    /// E-mail.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email: Option<String>,
    /// Address.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub address: Option<Address>,
}

impl Business {
    /// The overall average rating, if given.
    pub fn overall_rating(&self) -> Option<f64> {
        self.average_rating
            .iter()
            .find(|r| r.kind == RatingType::Overall)
            .and_then(|r| r.rating)
    }

    /// The total number of reviews, if given.
    pub fn total_reviews(&self) -> Option<u64> {
        self.num_reviews
            .iter()
            .find(|n| n.kind == "total")
            .and_then(|n| n.count)
    }
}

/// A Sitejabber user (a reviewer or a message party).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User name.
    #[serde(default, deserialize_with = "lenient::text")]
    pub username: String,
    /// First name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub first_name: Option<String>,
    /// First letter of the last name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub last_name: Option<String>,
    /// Relative path of the thumbnail.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub thumbnail: Option<String>,
    /// Profile page.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub profile_page: Option<String>,
    /// Reviews written.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_reviews: Option<u64>,
    /// Helpful votes received.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_helpful_votes: Option<u64>,
    /// E-mail (solicited reviews whose e-mail the business gave only).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email: Option<String>,
}

/// An image: of a review, or of a product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Caption.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub caption: Option<String>,
    /// Original size.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub original: Option<String>,
    /// Normal size (at most 600 px wide).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub normal: Option<String>,
    /// Large thumbnail (160×160).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub large: Option<String>,
    /// Small thumbnail (96×96).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub small: Option<String>,
    /// The image's address (product images in product lists carry only this).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub url: Option<String>,
    /// When it was added.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
}

/// A review image (the schema's ReviewImage object).
pub type ReviewImage = Image;
/// A product image (the schema's ProductImage object).
pub type ProductImage = Image;

/// When a review was published, or that it is still pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Publication {
    /// Published at this (local) time.
    Published(NaiveDateTime),
    /// Not yet published (`"pending"`).
    Pending,
}

fn publication<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Publication>, D::Error> {
    let text = lenient::opt_text(d)?;
    Ok(match text {
        Some(t) if t.trim().eq_ignore_ascii_case("pending") => Some(Publication::Pending),
        Some(t) => lenient::parse_local(&t).map(Publication::Published),
        None => None,
    })
}

/// A review of the business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Review number (its identifier).
    #[serde(rename = "reviewNo", default, deserialize_with = "lenient::opt_u64")]
    pub review_no: Option<u64>,
    /// Ratings by type.
    #[serde(default, deserialize_with = "lenient::list")]
    pub rating: Vec<Rating>,
    /// Title.
    #[serde(default, deserialize_with = "lenient::text")]
    pub title: String,
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Tip.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tip: Option<String>,
    /// The order it is about.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub order_id: Option<String>,
    /// Customer images.
    #[serde(default, deserialize_with = "lenient::list")]
    pub images: Vec<ReviewImage>,
    /// Positive votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub positive_votes: Option<u64>,
    /// Negative votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub negative_votes: Option<u64>,
    /// Written at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// Published at, or pending.
    #[serde(default, deserialize_with = "publication")]
    pub published: Option<Publication>,
    /// Published at, with its offset.
    #[serde(rename = "publishedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub published_rfc: Option<DateTime<FixedOffset>>,
    /// Edited at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub edited: Option<NaiveDateTime>,
    /// Edited at, with its offset.
    #[serde(rename = "editedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub edited_rfc: Option<DateTime<FixedOffset>>,
    /// Removed at (removed reviews only).
    #[serde(rename = "removedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub removed_rfc: Option<DateTime<FixedOffset>>,
    /// The original review, if this one updates it.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub updated_for: Option<Box<Review>>,
    /// Source of a solicited review (`BCC`, `CSV`, `WEBHOOK`, `CHECKOUT_WIDGET`, `OTHER`).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub source: Option<String>,
    /// Third-party data source (see [`Datasource`](crate::Datasource)).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub datasource: Option<String>,
    /// Labels.
    #[serde(default, deserialize_with = "lenient::text_list")]
    pub labels: Vec<String>,
    /// Author.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub author: Option<User>,
}

impl Review {
    /// The overall rating, if given.
    pub fn overall(&self) -> Option<f64> {
        self.rating
            .iter()
            .find(|r| r.kind == RatingType::Overall)
            .and_then(|r| r.rating)
    }

    /// Whether it awaits publication.
    pub fn is_pending(&self) -> bool {
        self.published == Some(Publication::Pending)
    }
}

/// A comment on a review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The review it belongs to.
    #[serde(rename = "reviewNo", default, deserialize_with = "lenient::opt_u64")]
    pub review_no: Option<u64>,
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Votes received.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_votes: Option<u64>,
    /// Whether it is activated.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub activated: Option<bool>,
    /// Written at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// Modified at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub modified: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "modifiedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub modified_rfc: Option<DateTime<FixedOffset>>,
    /// Published at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub published: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "publishedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub published_rfc: Option<DateTime<FixedOffset>>,
    /// Third-party data source.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub datasource: Option<String>,
    /// Author.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub author: Option<User>,
}

/// A message between the business and a user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Subject.
    #[serde(default, deserialize_with = "lenient::text")]
    pub subject: String,
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub body: String,
    /// The review it is about, if any.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub review: Option<Review>,
    /// Sent at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// Who received it.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub recipient: Option<User>,
    /// Who sent it.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub sender: Option<User>,
}

/// A link to a review page (the schema's Partner object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// The link.
    #[serde(default, deserialize_with = "lenient::text")]
    pub url: String,
    /// Its hash.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub hash: Option<String>,
    /// When it expires.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub expire: Option<NaiveDateTime>,
}

/// A product category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCategory {
    /// Its name.
    #[serde(default, deserialize_with = "lenient::text")]
    pub category_name: String,
}

/// A product of the business's catalogue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Sitejabber's product id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// SKU.
    #[serde(default, deserialize_with = "lenient::text")]
    pub sku: String,
    /// Group of similar products.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub item_group: Option<String>,
    /// GTIN.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub gtin: Option<String>,
    /// MPN.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub mpn: Option<String>,
    /// Brand.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub brand: Option<String>,
    /// Title.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub description: Option<String>,
    /// Categories.
    #[serde(default, deserialize_with = "lenient::list")]
    pub categories: Vec<ProductCategory>,
    /// Price.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub price: Option<f64>,
    /// Retail price.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub retail_price: Option<f64>,
    /// Currency.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub currency: Option<String>,
    /// Product page.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub product_link: Option<String>,
    /// Images.
    #[serde(default, deserialize_with = "lenient::list")]
    pub images: Vec<ProductImage>,
    /// Custom attributes, as sent.
    #[serde(default)]
    pub attributes: serde_json::Value,
    /// Number of product reviews.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_reviews: Option<u64>,
    /// Average rating of its reviews.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub average_rating: Option<f64>,
    /// Added at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// The category it tops (top-rated answers only).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub category_name: Option<String>,
}

/// A review of a product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductReview {
    /// Sitejabber's product review id.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// Title.
    #[serde(default, deserialize_with = "lenient::text")]
    pub title: String,
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Rating, 1 to 5.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub rating: Option<f64>,
    /// The order it is about.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub order_id: Option<String>,
    /// Author.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub user: Option<User>,
    /// Author's location.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub user_location: Option<String>,
    /// Custom attributes, as sent.
    #[serde(default)]
    pub attributes: serde_json::Value,
    /// Customer images.
    #[serde(default, deserialize_with = "lenient::list")]
    pub images: Vec<ProductImage>,
    /// Whether it was solicited (`"Yes"`/`"No"` on the wire).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub solicited: Option<bool>,
    /// Votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub votes: Option<u64>,
    /// Positive votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_positive_votes: Option<u64>,
    /// Negative votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_negative_votes: Option<u64>,
    /// Published at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub published: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "publishedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub published_rfc: Option<DateTime<FixedOffset>>,
    /// Written at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// The product.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub product: Option<Product>,
    /// Removed at (removed reviews only).
    #[serde(rename = "removedRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub removed_rfc: Option<DateTime<FixedOffset>>,
}

/// Published product review statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductReviewStats {
    /// Number of published product reviews.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub total: Option<u64>,
    /// Their average rating.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub average_rating: Option<f64>,
    /// Counts per star (`"5"` → 48 reviews), where given.
    #[serde(default, deserialize_with = "star_counts")]
    pub ratings: BTreeMap<String, u64>,
}

fn star_counts<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?.unwrap_or_default();
    let mut out = BTreeMap::new();
    if let serde_json::Value::Object(map) = value {
        for (star, entry) in map {
            if let Some(n) = entry.get("num_reviews").and_then(lenient::as_u64) {
                out.insert(star, n);
            }
        }
    }
    Ok(out)
}

/// What creating a review request answered: the review link when `return_link` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRequestReceipt {
    /// The link to the review form (only with `return_link`; then no e-mail is sent).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub link: Option<String>,
}

/// What creating a product review request answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductReviewRequestReceipt {
    /// The link to review all products (only with `return_link`).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub link: Option<String>,
    /// A link per SKU (only with `return_link`).
    #[serde(default, deserialize_with = "links")]
    pub links: BTreeMap<String, String>,
}

fn links<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?.unwrap_or_default();
    Ok(match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| lenient::as_text(&v).map(|v| (k, v)))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// The order ids whose requests were removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// Removed order ids.
    #[serde(default, deserialize_with = "lenient::text_list")]
    pub removed_order_ids: Vec<String>,
}

/// What Sitejabber holds about a customer (privacy access). The categories are free-form
/// (`Identifiers`, `Commercial info`, ...), so they are kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerInformation {
    /// The categories of personal information, as sent.
    #[serde(default)]
    pub categories: serde_json::Value,
}

/// An answer to a question.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Written at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// Published at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub published: Option<NaiveDateTime>,
    /// Votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_votes: Option<u64>,
    /// Positive votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_positive_votes: Option<u64>,
    /// Negative votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_negative_votes: Option<u64>,
    /// Author.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub author: Option<User>,
}

/// A question about the business or one of its products (in Sitejabber's public docs,
/// not in the schema: read tolerantly like the rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The business it is about.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub business: Option<String>,
    /// Text.
    #[serde(default, deserialize_with = "lenient::text")]
    pub content: String,
    /// Asked at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created: Option<NaiveDateTime>,
    /// The same, with its offset.
    #[serde(rename = "createdRFC", default, deserialize_with = "lenient::opt_rfc")]
    pub created_rfc: Option<DateTime<FixedOffset>>,
    /// Published at.
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub published: Option<NaiveDateTime>,
    /// Whether it was removed.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub removed: Option<bool>,
    /// Number of answers.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub num_answers: Option<u64>,
    /// Sum of votes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub sum_votes: Option<u64>,
    /// Its address part on Sitejabber.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub slug: Option<String>,
    /// The answers.
    #[serde(default, deserialize_with = "lenient::list")]
    pub answers: Vec<Answer>,
    /// The product (product questions only).
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub product: Option<Product>,
    /// Who asked.
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub author: Option<User>,
}
