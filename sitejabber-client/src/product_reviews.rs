//! Product reviews: list, add, vote, the top rated products and the rating statistics.

use std::fmt;

use chrono::NaiveDateTime;
use commerce_core::{Endpoint, Error, Page, Part, ValidationErrors, is_valid_email};
use futures_util::stream::BoxStream;

use crate::client::{Listing, SitejabberClient};
use crate::model::{Product, ProductReview, ProductReviewStats};
use crate::params::*;

/// Filters of the product review list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductReviewsQuery {
    /// Reviews of this SKU.
    pub sku: Option<String>,
    /// Reviews of this product group (`sku` is then ignored).
    pub item_group: Option<String>,
    /// Search by keyword.
    pub q: Option<String>,
    /// By brand.
    pub brand: Option<String>,
    /// In these categories.
    pub categories: Vec<String>,
    /// Only reviews with customer images.
    pub only_photos: bool,
    /// Price from, to.
    pub price_range: Option<(f64, f64)>,
    /// Number of reviews from, to.
    pub reviews_range: Option<(f64, f64)>,
    /// Only deleted reviews.
    pub deleted: bool,
    /// Written from.
    pub date_from: Option<NaiveDateTime>,
    /// Written until.
    pub date_to: Option<NaiveDateTime>,
}

impl Listing for ProductReviewsQuery {
    type Item = ProductReview;
    const NAME: &'static str = "product_reviews.list";
    const PATH: &'static str = "product/reviews";
    const KEY: &'static str = "product_reviews";

    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("sku", self.sku.as_deref())
            .query_opt("item_group", self.item_group.as_deref())
            .query_opt("q", self.q.as_deref())
            .query_opt("brand", self.brand.as_deref())
            .query_opt("categories", joined(&self.categories))
            .query_opt("only_photos", flag(self.only_photos))
            .query_opt("price_range", range(self.price_range))
            .query_opt("reviews_range", range(self.reviews_range))
            .query_opt("deleted", flag(self.deleted))
            .query_opt("date_from", stamp(self.date_from))
            .query_opt("date_to", stamp(self.date_to))
    }
}

/// Filters of the product review statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    /// Of this SKU.
    pub sku: Option<String>,
    /// Of products in these categories.
    pub categories: Vec<String>,
    /// Of this product group (`sku` is then ignored).
    pub item_group: Option<String>,
    /// Of this brand.
    pub brand: Option<String>,
}

/// An image for a product review: a file, or the address of one.
#[derive(Clone, PartialEq, Eq)]
pub enum ReviewImageUpload {
    /// Image bytes with their file name and media type (`image/jpeg`).
    File {
        /// The bytes.
        bytes: Vec<u8>,
        /// The file name.
        filename: String,
        /// The media type.
        mime: String,
    },
    /// An address Sitejabber fetches the image from.
    Url(String),
}

impl fmt::Debug for ReviewImageUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReviewImageUpload::File {
                bytes,
                filename,
                mime,
            } => {
                write!(f, "File({filename}, {mime}, {} bytes)", bytes.len())
            }
            ReviewImageUpload::Url(u) => write!(f, "Url({u})"),
        }
    }
}

/// A product review to add.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProductReview {
    /// SKU of the product (required).
    pub sku: String,
    /// Title (required).
    pub title: String,
    /// Text (required).
    pub content: String,
    /// Rating, 1 to 5 (required).
    pub rating: u8,
    /// Order id.
    pub order_id: Option<String>,
    /// Author's first name.
    pub first_name: Option<String>,
    /// Author's last name.
    pub last_name: Option<String>,
    /// Author's e-mail.
    pub email: Option<String>,
    /// Author's location.
    pub user_location: Option<String>,
    /// Business location identifier.
    pub location: Option<String>,
    /// Values of the product's custom attributes.
    pub attributes: Option<String>,
    /// Images with their captions, in order (`image1`/`caption1`, ...).
    pub images: Vec<(ReviewImageUpload, Option<String>)>,
}

impl NewProductReview {
    fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&self.sku, "sku");
        v.require(&self.title, "title");
        v.require(&self.content, "content");
        v.check((1..=5).contains(&self.rating), "rating", "must be from 1 to 5");
        if let Some(e) = &self.email {
            v.check(
                is_valid_email(e),
                "email",
                format!("`{e}` is not a well-formed address"),
            );
        }
        for (i, (image, _)) in self.images.iter().enumerate() {
            if let ReviewImageUpload::File { bytes, .. } = image {
                v.check(!bytes.is_empty(), format!("image{}", i + 1), "is empty");
            }
        }
        v.into_result(())
    }

    fn parts(&self) -> Vec<Part> {
        let mut parts = vec![
            Part::text("sku", self.sku.clone()),
            Part::text("title", self.title.clone()),
            Part::text("content", self.content.clone()),
            Part::text("rating", self.rating.to_string()),
        ];
        let optional = [
            ("order_id", &self.order_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
            ("user_location", &self.user_location),
            ("location", &self.location),
            ("attributes", &self.attributes),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                parts.push(Part::text(name, v.clone()));
            }
        }
        for (i, (image, caption)) in self.images.iter().enumerate() {
            let n = i + 1;
            parts.push(match image {
                ReviewImageUpload::File {
                    bytes,
                    filename,
                    mime,
                } => Part::file(format!("image{n}"), bytes.clone(), filename.clone(), mime.clone()),
                ReviewImageUpload::Url(url) => Part::text(format!("image{n}"), url.clone()),
            });
            if let Some(c) = caption {
                parts.push(Part::text(format!("caption{n}"), c.clone()));
            }
        }
        parts
    }
}

/// A vote on a product review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// Helpful.
    Positive,
    /// Not helpful.
    Negative,
}

impl SitejabberClient {
    /// One page of product reviews. `GET /businesses/{d}/product/reviews`.
    pub async fn product_reviews(
        &self,
        query: &ProductReviewsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<ProductReview>, Error> {
        self.list_page(query, start, count).await.map(Page::from_results)
    }

    /// Every product review matching `query`, page by page as the stream is read.
    pub fn product_reviews_stream(
        &self,
        query: ProductReviewsQuery,
    ) -> BoxStream<'static, Result<ProductReview, Error>> {
        self.list_stream(query)
    }

    /// Adds a product review, with images as files or addresses. Multipart
    /// `POST /businesses/{d}/product/reviews/add`.
    pub async fn add_product_review(&self, review: &NewProductReview) -> Result<ProductReview, Error> {
        let ep = Endpoint::post("product_reviews.add", self.business_path("product/reviews/add"))
            .multipart(review.parts());
        self.call_key(invalid(ep, review.validate()), "product_review")
            .await
    }

    /// Votes on a product review. `POST /businesses/{d}/product/reviews/vote`.
    pub async fn vote_product_review(&self, review_id: u64, vote: Vote) -> Result<(), Error> {
        let vote = match vote {
            Vote::Positive => "positive",
            Vote::Negative => "negative",
        };
        let ep = Endpoint::post("product_reviews.vote", self.business_path("product/reviews/vote"))
            .form([("review_id", review_id.to_string()), ("vote", vote.to_owned())]);
        self.call_status(ep).await
    }

    /// The top-rated product of a category, or of every category when `category_name` is
    /// `None`. `GET /businesses/{d}/product/reviews/top-rated`.
    pub async fn top_rated_products(
        &self,
        category_name: Option<&str>,
        currency: Option<&str>,
    ) -> Result<Page<Product>, Error> {
        let ep = Endpoint::get(
            "product_reviews.top_rated",
            self.business_path("product/reviews/top-rated"),
        )
        .query_opt("category_name", category_name)
        .query_opt("currency", currency);
        self.call_list(ep, "products").await.map(Page::from_results)
    }

    /// Published product review statistics. `GET /businesses/{d}/product/reviews/stats`.
    pub async fn product_review_stats(&self, query: &StatsQuery) -> Result<Vec<ProductReviewStats>, Error> {
        let ep = Endpoint::get(
            "product_reviews.stats",
            self.business_path("product/reviews/stats"),
        )
        .query_opt("sku", query.sku.as_deref())
        .query_opt("categories", joined(&query.categories))
        .query_opt("item_group", query.item_group.as_deref())
        .query_opt("brand", query.brand.as_deref());
        let response = self.transport().send(&ep).await?;
        let value: serde_json::Value = response.json()?;
        // Documented as a list; sent as a list or as one object.
        let stats = match value.get("product_reviews_stats").cloned().unwrap_or_default() {
            serde_json::Value::Array(items) => items,
            object @ serde_json::Value::Object(_) => vec![object],
            _ => Vec::new(),
        };
        commerce_core::decode_items(response.provider(), response.endpoint(), stats)
            .into_iter()
            .collect()
    }
}
