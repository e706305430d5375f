//! Every endpoint of the Sitejabber business API, as typed methods.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use commerce_core::{Endpoint, Error, Page, Part, ValidationErrors, is_valid_email, offset_stream};
use futures_util::stream::BoxStream;
use serde::Deserialize;

use crate::client::SitejabberClient;
use crate::model::{
    Business, Comment, CustomerInformation, Message, Partner, Product, ProductReview,
    ProductReviewRequestReceipt, ProductReviewStats, Question, Removed, Review, ReviewRequestReceipt,
};

/// Lists are fetched in pages of at most this many items (Sitejabber's maximum `count`).
pub const MAX_PAGE: u32 = 100;

/// A third-party data source whose reviews and ratings can be included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Datasource {
    /// Better Business Bureau (`bbb`).
    Bbb,
    /// Google Local Services (`lsa`).
    GoogleLocalServices,
    /// Google My Business (`google`; the code is not in the published table: *inferred*).
    GoogleMyBusiness,
    /// ProductReview (`productreview`).
    ProductReview,
    /// ResellerRatings (`resellerratings`).
    ResellerRatings,
    /// Reviews.io (`reviewsio`).
    ReviewsIo,
    /// Trustpilot (`trustpilot`).
    Trustpilot,
    /// Yelp (`yelp`).
    Yelp,
    /// Any other code.
    Other(String),
}

impl Datasource {
    /// The code on the wire.
    pub fn code(&self) -> &str {
        match self {
            Datasource::Bbb => "bbb",
            Datasource::GoogleLocalServices => "lsa",
            Datasource::GoogleMyBusiness => "google",
            Datasource::ProductReview => "productreview",
            Datasource::ResellerRatings => "resellerratings",
            Datasource::ReviewsIo => "reviewsio",
            Datasource::Trustpilot => "trustpilot",
            Datasource::Yelp => "yelp",
            Datasource::Other(code) => code,
        }
    }
}

fn codes(sources: &[Datasource]) -> Option<String> {
    (!sources.is_empty()).then(|| sources.iter().map(Datasource::code).collect::<Vec<_>>().join(","))
}

fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

fn flag(on: bool) -> Option<&'static str> {
    on.then_some("1")
}

fn stamp(at: Option<NaiveDateTime>) -> Option<String> {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn range(r: Option<(f64, f64)>) -> Option<String> {
    r.map(|(min, max)| format!("{min},{max}"))
}

/// Sort order by creation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first (Sitejabber's default).
    #[default]
    Desc,
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        })
    }
}

/// Filters of the review list (all optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewsQuery {
    /// Search in title and text.
    pub q: Option<String>,
    /// Only reviews with these labels.
    pub labels: Vec<String>,
    /// Written from.
    pub date_from: Option<NaiveDateTime>,
    /// Written until.
    pub date_to: Option<NaiveDateTime>,
    /// Include unpublished reviews.
    pub unpublished: bool,
    /// Only updated reviews.
    pub updated: bool,
    /// Only deleted reviews.
    pub deleted: bool,
    /// Include reviews from these data sources.
    pub datasources: Vec<Datasource>,
    /// Sort order (`None`: Sitejabber's default, newest first).
    pub order: Option<SortOrder>,
}

impl ReviewsQuery {
    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("q", self.q.as_deref())
            .query_opt("labels", joined(&self.labels))
            .query_opt("date_from", stamp(self.date_from))
            .query_opt("date_to", stamp(self.date_to))
            .query_opt("unpublished", flag(self.unpublished))
            .query_opt("updated", flag(self.updated))
            .query_opt("deleted", flag(self.deleted))
            .query_opt("datasources", codes(&self.datasources))
            .query_opt("order", self.order)
    }
}

/// Filters of the comment list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentsQuery {
    /// Only comments on this review.
    pub review_no: Option<u64>,
    /// Written from.
    pub date_from: Option<NaiveDateTime>,
    /// Written until.
    pub date_to: Option<NaiveDateTime>,
    /// Only updated comments.
    pub updated: bool,
    /// Only deleted comments.
    pub deleted: bool,
    /// Include comments from these data sources.
    pub datasources: Vec<Datasource>,
}

impl CommentsQuery {
    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("review_no", self.review_no)
            .query_opt("date_from", stamp(self.date_from))
            .query_opt("date_to", stamp(self.date_to))
            .query_opt("updated", flag(self.updated))
            .query_opt("deleted", flag(self.deleted))
            .query_opt("datasources", codes(&self.datasources))
    }
}

/// Which messages to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Folder {
    /// Received (the default).
    #[default]
    Inbox,
    /// Sent.
    Sent,
}

/// Filters of the message list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesQuery {
    /// Only messages with this user.
    pub username: Option<String>,
    /// Inbox or sent.
    pub folder: Option<Folder>,
    /// Sort order.
    pub order: Option<SortOrder>,
}

impl MessagesQuery {
    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("username", self.username.as_deref())
            .query_opt(
                "folder",
                self.folder.map(|f| match f {
                    Folder::Inbox => "inbox",
                    Folder::Sent => "sent",
                }),
            )
            .query_opt("order", self.order)
    }
}

/// Filters of the product list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductsQuery {
    /// Search by keyword.
    pub q: Option<String>,
    /// One product by SKU.
    pub sku: Option<String>,
    /// One product by GTIN.
    pub gtin: Option<String>,
    /// One product by MPN.
    pub mpn: Option<String>,
    /// By brand.
    pub brand: Option<String>,
    /// In these categories.
    pub categories: Vec<String>,
    /// Price from, to.
    pub price_range: Option<(f64, f64)>,
    /// Number of reviews from, to.
    pub reviews_range: Option<(f64, f64)>,
    /// One product by Sitejabber id.
    pub product_id: Option<u64>,
}

impl ProductsQuery {
    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("q", self.q.as_deref())
            .query_opt("sku", self.sku.as_deref())
            .query_opt("gtin", self.gtin.as_deref())
            .query_opt("mpn", self.mpn.as_deref())
            .query_opt("brand", self.brand.as_deref())
            .query_opt("categories", joined(&self.categories))
            .query_opt("price_range", range(self.price_range))
            .query_opt("reviews_range", range(self.reviews_range))
            .query_opt("product_id", self.product_id)
    }
}

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

impl ProductReviewsQuery {
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

/// Why a review is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagReason {
    /// Profanity, lewdness or bigotry.
    Language,
    /// Personal information.
    PersonalInfo,
    /// Personal attacks.
    PersonalAttack,
    /// A second-hand experience.
    SecondHand,
    /// Meant for another business.
    AnotherBusiness,
    /// Anything else.
    Other,
}

impl FlagReason {
    /// The code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            FlagReason::Language => "language",
            FlagReason::PersonalInfo => "personal_info",
            FlagReason::PersonalAttack => "personal_attack",
            FlagReason::SecondHand => "second_hand",
            FlagReason::AnotherBusiness => "another_biz",
            FlagReason::Other => "other",
        }
    }
}

/// Who to ask for a review, and about which order. Either `email` or `phone` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewRequest {
    /// The customer's e-mail.
    pub email: Option<String>,
    /// The customer's phone (when there is no e-mail).
    pub phone: Option<String>,
    /// The order id.
    pub order_id: String,
    /// The order date.
    pub order_date: Option<NaiveDate>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Labels to attach to the review once written.
    pub labels: Vec<String>,
    /// Business location identifier.
    pub location: Option<String>,
    /// Language of the request.
    pub language: Option<String>,
    /// SKUs bought.
    pub product_skus: Vec<String>,
    /// Return the review link instead of sending the e-mail.
    pub return_link: bool,
}

impl ReviewRequest {
    fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        match (&self.email, &self.phone) {
            (None, None) => v.push("email", "is required when no phone is given"),
            (Some(e), _) => v.check(
                is_valid_email(e),
                "email",
                format!("`{e}` is not a well-formed address"),
            ),
            (None, Some(p)) => v.require(p, "phone"),
        }
        v.require(&self.order_id, "order_id");
        v.check(self.order_date.is_some(), "order_date", "is required");
        v.into_result(())
    }
}

/// Who to ask for product reviews, and about which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductReviewRequest {
    /// The customer's e-mail.
    pub email: String,
    /// SKUs bought (at least one).
    pub product_skus: Vec<String>,
    /// The order id.
    pub order_id: String,
    /// The order date.
    pub order_date: Option<NaiveDate>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Business location identifier.
    pub location: Option<String>,
    /// Language of the request.
    pub language: Option<String>,
    /// Return the review links instead of sending the e-mails.
    pub return_link: bool,
}

impl ProductReviewRequest {
    fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.check(
            is_valid_email(&self.email),
            "email",
            format!("`{}` is not a well-formed address", self.email),
        );
        v.check(
            !self.product_skus.is_empty(),
            "product_skus",
            "needs at least one SKU",
        );
        v.check(
            self.product_skus.iter().all(|s| !s.trim().is_empty()),
            "product_skus",
            "has a blank SKU",
        );
        v.require(&self.order_id, "order_id");
        v.check(self.order_date.is_some(), "order_date", "is required");
        v.into_result(())
    }
}

/// A product to add to the catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProduct {
    /// SKU (required).
    pub sku: String,
    /// Title (required).
    pub title: String,
    /// Product group.
    pub item_group: Option<String>,
    /// GTIN.
    pub gtin: Option<String>,
    /// MPN.
    pub mpn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Currency.
    pub currency: Option<String>,
    /// Price.
    pub price: Option<f64>,
    /// Retail price.
    pub retail_price: Option<f64>,
    /// Product page.
    pub product_link: Option<String>,
    /// Image address.
    pub image_url: Option<String>,
    /// Custom attributes in Sitejabber's format
    /// (`name;type;required:option1,option2|name2;...`).
    pub attributes: Option<String>,
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

fn invalid(endpoint: Endpoint, check: Result<(), Error>) -> Endpoint {
    let mut endpoint = endpoint;
    if let Err(e) = check {
        endpoint.fail(e);
    }
    endpoint
}

fn email_check(email: &str) -> Result<(), Error> {
    if is_valid_email(email) {
        Ok(())
    } else {
        Err(Error::invalid(
            "email",
            format!("`{email}` is not a well-formed address"),
        ))
    }
}

fn page_check(count: u32) -> Result<(), Error> {
    if (1..=MAX_PAGE).contains(&count) {
        Ok(())
    } else {
        Err(Error::invalid("count", format!("must be from 1 to {MAX_PAGE}")))
    }
}

#[derive(Deserialize)]
struct EditLink {
    #[serde(default, deserialize_with = "commerce_core::lenient::text")]
    link: String,
}

impl SitejabberClient {
    /// The business's profile: name, ratings by type, review counts, address.
    /// `GET /businesses/{d}` (with `datasources` to include their ratings).
    pub async fn business(&self, datasources: &[Datasource]) -> Result<Business, Error> {
        let ep = Endpoint::get("business.get", self.business_path(""))
            .query_opt("datasources", codes(datasources));
        self.call(ep).await
    }

    /// Up to 20 businesses at once. `GET /businesses/bulk?businesses=<JSON array>`.
    pub async fn businesses(&self, domains: &[&str]) -> Result<Page<Business>, Error> {
        let check = if domains.is_empty() || domains.len() > 20 {
            Err(Error::invalid("businesses", "takes from 1 to 20 domains"))
        } else {
            Ok(())
        };
        let list = serde_json::to_string(domains).unwrap_or_default();
        let ep = invalid(
            Endpoint::get("business.bulk", "businesses/bulk").query("businesses", list),
            check,
        );
        self.call_list(ep, "urls").await.map(Page::from_results)
    }

    /// One review. `GET /businesses/{d}/review?review_no=`.
    pub async fn review(&self, review_no: u64) -> Result<Review, Error> {
        let ep = Endpoint::get("review.get", self.business_path("review")).query("review_no", review_no);
        self.call_key(ep, "review").await
    }

    /// One page of reviews. `GET /businesses/{d}/reviews?start=&count=&...`.
    pub async fn reviews(&self, query: &ReviewsQuery, start: u64, count: u32) -> Result<Page<Review>, Error> {
        self.reviews_page(query, start, count)
            .await
            .map(Page::from_results)
    }

    async fn reviews_page(
        &self,
        query: &ReviewsQuery,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Review, Error>>, Error> {
        let ep = Endpoint::get("reviews.list", self.business_path("reviews"))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), "reviews")
            .await
    }

    /// Every review matching `query`, fetched page by page (100 at a time) as the stream
    /// is read.
    pub fn reviews_stream(&self, query: ReviewsQuery) -> BoxStream<'static, Result<Review, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.reviews_page(&query, start, count as u32).await }
        })
    }

    /// Publishes an unpublished review. `POST /businesses/{d}/reviews/publish`.
    pub async fn publish_review(&self, review_no: u64) -> Result<(), Error> {
        let ep = Endpoint::post("reviews.publish", self.business_path("reviews/publish"))
            .form([("review_no", review_no.to_string())])
            // Publishing twice leaves the review published.
            .idempotent();
        self.call_status(ep).await
    }

    /// Flags a review for moderation. `POST /businesses/{d}/reviews/flag`.
    pub async fn flag_review(&self, review_no: u64, reason: FlagReason, message: &str) -> Result<(), Error> {
        let check = if message.trim().is_empty() {
            Err(Error::invalid("message", "is required"))
        } else {
            Ok(())
        };
        let ep = Endpoint::post("reviews.flag", self.business_path("reviews/flag")).form([
            ("review_no", review_no.to_string()),
            ("reason", reason.code().to_owned()),
            ("message", message.to_owned()),
        ]);
        self.call_status(invalid(ep, check)).await
    }

    /// One page of review comments. `GET /businesses/{d}/review/comments`.
    pub async fn comments(
        &self,
        query: &CommentsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Comment>, Error> {
        self.comments_page(query, start, count)
            .await
            .map(Page::from_results)
    }

    async fn comments_page(
        &self,
        query: &CommentsQuery,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Comment, Error>>, Error> {
        let ep = Endpoint::get("comments.list", self.business_path("review/comments"))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), "comments")
            .await
    }

    /// Every comment matching `query`, page by page as the stream is read.
    pub fn comments_stream(&self, query: CommentsQuery) -> BoxStream<'static, Result<Comment, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.comments_page(&query, start, count as u32).await }
        })
    }

    /// Adds the business's comment to a review. `POST /businesses/{d}/review/comments/add`.
    pub async fn add_comment(&self, review_no: u64, text: &str) -> Result<(), Error> {
        let check = if text.trim().is_empty() {
            Err(Error::invalid("text", "is required"))
        } else {
            Ok(())
        };
        let ep = Endpoint::post("comments.add", self.business_path("review/comments/add"))
            .form([("review_no", review_no.to_string()), ("text", text.to_owned())]);
        self.call_status(invalid(ep, check)).await
    }

    /// Sends a resolution message to a review's author. `POST /businesses/{d}/resolution/send`.
    pub async fn send_resolution(&self, review_no: u64, username: &str, body: &str) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(username, "username");
        v.require(body, "body");
        let ep = Endpoint::post("resolution.send", self.business_path("resolution/send")).form([
            ("review_no", review_no.to_string()),
            ("username", username.to_owned()),
            ("body", body.to_owned()),
        ]);
        self.call_status(invalid(ep, v.into_result(()))).await
    }

    /// One page of messages. `GET /businesses/{d}/messages`.
    pub async fn messages(
        &self,
        query: &MessagesQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Message>, Error> {
        self.messages_page(query, start, count)
            .await
            .map(Page::from_results)
    }

    async fn messages_page(
        &self,
        query: &MessagesQuery,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Message, Error>>, Error> {
        let ep = Endpoint::get("messages.list", self.business_path("messages"))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), "messages")
            .await
    }

    /// Every message matching `query`, page by page as the stream is read.
    pub fn messages_stream(&self, query: MessagesQuery) -> BoxStream<'static, Result<Message, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.messages_page(&query, start, count as u32).await }
        })
    }

    /// Sends a message to a review's author. `POST /businesses/{d}/message/send`.
    pub async fn send_message(
        &self,
        review_no: u64,
        username: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(username, "username");
        v.require(subject, "subject");
        v.require(body, "body");
        let ep = Endpoint::post("messages.send", self.business_path("message/send")).form([
            ("review_no", review_no.to_string()),
            ("username", username.to_owned()),
            ("subject", subject.to_owned()),
            ("body", body.to_owned()),
        ]);
        self.call_status(invalid(ep, v.into_result(()))).await
    }

    /// Asks a customer for a review of an order. `POST /businesses/{d}/review/request/add`.
    ///
    /// A create: never re-sent once it may have reached Sitejabber (then
    /// [`Error::Unconfirmed`] says so).
    pub async fn add_review_request(&self, request: &ReviewRequest) -> Result<ReviewRequestReceipt, Error> {
        let ep = Endpoint::post("review_requests.add", self.business_path("review/request/add"))
            .form_opt("email", request.email.as_deref())
            .form_opt("phone", request.phone.as_deref())
            .form([("order_id", request.order_id.as_str())])
            .form_opt("order_date", request.order_date.map(|d| d.format("%Y-%m-%d")))
            .form_opt("first_name", request.first_name.as_deref())
            .form_opt("last_name", request.last_name.as_deref())
            .form_opt("labels", joined(&request.labels))
            .form_opt("location", request.location.as_deref())
            .form_opt("language", request.language.as_deref())
            .form_opt("product_skus", joined(&request.product_skus))
            .form_opt("return_link", flag(request.return_link));
        self.call(invalid(ep, request.validate())).await
    }

    /// Withdraws review requests of a customer (of one order, or all when `order_id` is
    /// `None`). `POST /businesses/{d}/review/request/remove`. Returns the removed order ids.
    pub async fn remove_review_request(
        &self,
        email: &str,
        order_id: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let ep = Endpoint::post(
            "review_requests.remove",
            self.business_path("review/request/remove"),
        )
        .form([("email", email)])
        .form_opt("order_id", order_id)
        .idempotent();
        self.call::<Removed>(invalid(ep, email_check(email)))
            .await
            .map(|r| r.removed_order_ids)
    }

    /// The link to write a review of the business. `GET /partners/{d}/write-link/get`.
    pub async fn write_review_link(&self) -> Result<Partner, Error> {
        self.call(Endpoint::get("links.write", self.partner_path("write-link/get")))
            .await
    }

    /// The link for a customer to edit their review. `GET /partners/{d}/edit-link/get?email=`.
    pub async fn edit_review_link(&self, email: &str) -> Result<String, Error> {
        let ep = Endpoint::get("links.edit", self.partner_path("edit-link/get")).query("email", email);
        self.call::<EditLink>(invalid(ep, email_check(email)))
            .await
            .map(|l| l.link)
    }

    /// One page of the catalogue. `GET /businesses/{d}/products`.
    pub async fn products(
        &self,
        query: &ProductsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Product>, Error> {
        self.products_page(query, start, count)
            .await
            .map(Page::from_results)
    }

    async fn products_page(
        &self,
        query: &ProductsQuery,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Product, Error>>, Error> {
        let ep = Endpoint::get("products.list", self.business_path("products"))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), "products")
            .await
    }

    /// Every product matching `query`, page by page as the stream is read.
    pub fn products_stream(&self, query: ProductsQuery) -> BoxStream<'static, Result<Product, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.products_page(&query, start, count as u32).await }
        })
    }

    /// Adds a product to the catalogue. `POST /businesses/{d}/products/add`.
    pub async fn add_product(&self, product: &NewProduct) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&product.sku, "sku");
        v.require(&product.title, "title");
        let ep = Endpoint::post("products.add", self.business_path("products/add"))
            .form([("sku", product.sku.as_str())])
            .form_opt("item_group", product.item_group.as_deref())
            .form_opt("gtin", product.gtin.as_deref())
            .form_opt("mpn", product.mpn.as_deref())
            .form([("title", product.title.as_str())])
            .form_opt("description", product.description.as_deref())
            .form_opt("brand", product.brand.as_deref())
            .form_opt("categories", joined(&product.categories))
            .form_opt("currency", product.currency.as_deref())
            .form_opt("price", product.price)
            .form_opt("retail_price", product.retail_price)
            .form_opt("product_link", product.product_link.as_deref())
            .form_opt("image_url", product.image_url.as_deref())
            .form_opt("attributes", product.attributes.as_deref());
        self.call_status(invalid(ep, v.into_result(()))).await
    }

    /// Removes a product. `POST /businesses/{d}/products/remove`.
    pub async fn remove_product(&self, product_id: u64) -> Result<(), Error> {
        let ep = Endpoint::post("products.remove", self.business_path("products/remove"))
            .form([("product_id", product_id.to_string())])
            .idempotent();
        self.call_status(ep).await
    }

    /// Sets the image of a product. `POST /businesses/{d}/product/images/add`.
    pub async fn add_product_image(&self, sku: &str, image_url: &str) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(sku, "sku");
        v.require(image_url, "image");
        let ep = Endpoint::post("products.image", self.business_path("product/images/add"))
            .form([("sku", sku), ("image", image_url)])
            // It replaces the image: the same call twice ends in the same state.
            .idempotent();
        self.call_status(invalid(ep, v.into_result(()))).await
    }

    /// One page of product reviews. `GET /businesses/{d}/product/reviews`.
    pub async fn product_reviews(
        &self,
        query: &ProductReviewsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<ProductReview>, Error> {
        self.product_reviews_page(query, start, count)
            .await
            .map(Page::from_results)
    }

    async fn product_reviews_page(
        &self,
        query: &ProductReviewsQuery,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<ProductReview, Error>>, Error> {
        let ep = Endpoint::get("product_reviews.list", self.business_path("product/reviews"))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), "product_reviews")
            .await
    }

    /// Every product review matching `query`, page by page as the stream is read.
    pub fn product_reviews_stream(
        &self,
        query: ProductReviewsQuery,
    ) -> BoxStream<'static, Result<ProductReview, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.product_reviews_page(&query, start, count as u32).await }
        })
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

    /// Asks a customer to review the products of an order.
    /// `POST /businesses/{d}/product/review/request/add`. A create: never re-sent once it
    /// may have reached Sitejabber.
    pub async fn add_product_review_request(
        &self,
        request: &ProductReviewRequest,
    ) -> Result<ProductReviewRequestReceipt, Error> {
        let ep = Endpoint::post(
            "product_review_requests.add",
            self.business_path("product/review/request/add"),
        )
        .form([("email", request.email.as_str())])
        .form([("product_skus", request.product_skus.join(","))])
        .form([("order_id", request.order_id.as_str())])
        .form_opt("order_date", request.order_date.map(|d| d.format("%Y-%m-%d")))
        .form_opt("first_name", request.first_name.as_deref())
        .form_opt("last_name", request.last_name.as_deref())
        .form_opt("location", request.location.as_deref())
        .form_opt("language", request.language.as_deref())
        .form_opt("return_link", flag(request.return_link));
        self.call(invalid(ep, request.validate())).await
    }

    /// Withdraws product review requests of a customer (narrowed by SKU and order when
    /// given). `POST /businesses/{d}/product/review/request/remove`.
    pub async fn remove_product_review_request(
        &self,
        email: &str,
        product_sku: Option<&str>,
        order_id: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let ep = Endpoint::post(
            "product_review_requests.remove",
            self.business_path("product/review/request/remove"),
        )
        .form([("email", email)])
        .form_opt("product_sku", product_sku)
        .form_opt("order_id", order_id)
        .idempotent();
        self.call::<Removed>(invalid(ep, email_check(email)))
            .await
            .map(|r| r.removed_order_ids)
    }

    /// One page of questions about the business. `GET /businesses/{d}/questions` (in the
    /// public docs, not in the seed document).
    pub async fn questions(&self, start: u64, count: u32) -> Result<Page<Question>, Error> {
        self.questions_page(None, start, count)
            .await
            .map(Page::from_results)
    }

    /// Every question about the business, page by page as the stream is read.
    pub fn questions_stream(&self) -> BoxStream<'static, Result<Question, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let client = client.clone();
            async move { client.questions_page(None, start, count as u32).await }
        })
    }

    /// One page of questions about products (of one SKU when given).
    /// `GET /businesses/{d}/product/questions`.
    pub async fn product_questions(
        &self,
        sku: Option<&str>,
        start: u64,
        count: u32,
    ) -> Result<Page<Question>, Error> {
        self.questions_page(Some(sku.map(str::to_owned)), start, count)
            .await
            .map(Page::from_results)
    }

    /// Every product question (of one SKU when given), page by page as the stream is read.
    pub fn product_questions_stream(
        &self,
        sku: Option<String>,
    ) -> BoxStream<'static, Result<Question, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, sku) = (client.clone(), sku.clone());
            async move { client.questions_page(Some(sku), start, count as u32).await }
        })
    }

    /// `product`: `None` for business questions, `Some(sku filter)` for product questions.
    async fn questions_page(
        &self,
        product: Option<Option<String>>,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Question, Error>>, Error> {
        let ep = match &product {
            None => Endpoint::get("questions.list", self.business_path("questions")),
            Some(sku) => Endpoint::get("product_questions.list", self.business_path("product/questions"))
                .query_opt("sku", sku.as_deref()),
        }
        .query("start", start)
        .query("count", count);
        self.call_list(invalid(ep, page_check(count)), "questions").await
    }

    /// What Sitejabber holds about a customer (a privacy access request).
    /// `GET /businesses/{d}/privacy/access?email=`.
    pub async fn customer_information(&self, email: &str) -> Result<CustomerInformation, Error> {
        let ep = Endpoint::get("privacy.access", self.business_path("privacy/access")).query("email", email);
        self.call(invalid(ep, email_check(email))).await
    }

    /// Removes what Sitejabber holds about a customer. `POST /businesses/{d}/privacy/remove`.
    pub async fn remove_customer_information(&self, email: &str) -> Result<(), Error> {
        let ep = Endpoint::post("privacy.remove", self.business_path("privacy/remove"))
            .form([("email", email)])
            .idempotent();
        self.call_status(invalid(ep, email_check(email))).await
    }
}
