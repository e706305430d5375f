//! Comments on reviews, and resolutions.

use chrono::NaiveDateTime;
use commerce_core::{Endpoint, Error, Page, ValidationErrors};
use futures_util::stream::BoxStream;

use crate::businesses::Datasource;
use crate::client::{Listing, SitejabberClient};
use crate::model::Comment;
use crate::params::*;

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

impl Listing for CommentsQuery {
    type Item = Comment;
    const NAME: &'static str = "comments.list";
    const PATH: &'static str = "review/comments";
    const KEY: &'static str = "comments";

    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("review_no", self.review_no)
            .query_opt("date_from", stamp(self.date_from))
            .query_opt("date_to", stamp(self.date_to))
            .query_opt("updated", flag(self.updated))
            .query_opt("deleted", flag(self.deleted))
            .query_opt("datasources", codes(&self.datasources))
    }
}

impl SitejabberClient {
    /// One page of review comments. `GET /businesses/{d}/review/comments`.
    pub async fn comments(
        &self,
        query: &CommentsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Comment>, Error> {
        self.list_page(query, start, count).await.map(Page::from_results)
    }

    /// Every comment matching `query`, page by page as the stream is read.
    pub fn comments_stream(&self, query: CommentsQuery) -> BoxStream<'static, Result<Comment, Error>> {
        self.list_stream(query)
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
}
