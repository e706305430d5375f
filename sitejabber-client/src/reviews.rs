//! Reviews: read, list, publish and flag.

use chrono::NaiveDateTime;
use commerce_core::{Endpoint, Error, Page};
use futures_util::stream::BoxStream;

use crate::businesses::Datasource;
use crate::client::{Listing, SitejabberClient};
use crate::model::Review;
use crate::params::*;

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

impl Listing for ReviewsQuery {
    type Item = Review;
    const NAME: &'static str = "reviews.list";
    const PATH: &'static str = "reviews";
    const KEY: &'static str = "reviews";

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

impl SitejabberClient {
    /// One review. `GET /businesses/{d}/review?review_no=`.
    pub async fn review(&self, review_no: u64) -> Result<Review, Error> {
        let ep = Endpoint::get("review.get", self.business_path("review")).query("review_no", review_no);
        self.call_key(ep, "review").await
    }

    /// One page of reviews. `GET /businesses/{d}/reviews?start=&count=&...`.
    pub async fn reviews(&self, query: &ReviewsQuery, start: u64, count: u32) -> Result<Page<Review>, Error> {
        self.list_page(query, start, count).await.map(Page::from_results)
    }

    /// Every review matching `query`, fetched page by page (100 at a time) as the stream
    /// is read.
    pub fn reviews_stream(&self, query: ReviewsQuery) -> BoxStream<'static, Result<Review, Error>> {
        self.list_stream(query)
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
}
