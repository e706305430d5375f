//! Messages with reviewers.

use commerce_core::{Endpoint, Error, Page, ValidationErrors};
use futures_util::stream::BoxStream;

use crate::client::{Listing, SitejabberClient};
use crate::model::Message;
use crate::params::*;

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

impl Listing for MessagesQuery {
    type Item = Message;
    const NAME: &'static str = "messages.list";
    const PATH: &'static str = "messages";
    const KEY: &'static str = "messages";

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

impl SitejabberClient {
    /// One page of messages. `GET /businesses/{d}/messages`.
    pub async fn messages(
        &self,
        query: &MessagesQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Message>, Error> {
        self.list_page(query, start, count).await.map(Page::from_results)
    }

    /// Every message matching `query`, page by page as the stream is read.
    pub fn messages_stream(&self, query: MessagesQuery) -> BoxStream<'static, Result<Message, Error>> {
        self.list_stream(query)
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
}
