//! What every area's requests share: the page size, the sort order, how parameters are
//! written, and the checks made before sending.

use std::fmt;

use chrono::NaiveDateTime;
use commerce_core::{Endpoint, Error, is_valid_email, offset_stream};
use futures_util::stream::BoxStream;
use serde::de::DeserializeOwned;

use crate::businesses::Datasource;
use crate::client::SitejabberClient;

/// Lists are fetched in pages of at most this many items (Sitejabber's maximum `count`).
pub const MAX_PAGE: u32 = 100;

pub(crate) fn codes(sources: &[Datasource]) -> Option<String> {
    (!sources.is_empty()).then(|| sources.iter().map(Datasource::code).collect::<Vec<_>>().join(","))
}

pub(crate) fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

pub(crate) fn flag(on: bool) -> Option<&'static str> {
    on.then_some("1")
}

pub(crate) fn stamp(at: Option<NaiveDateTime>) -> Option<String> {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

pub(crate) fn range(r: Option<(f64, f64)>) -> Option<String> {
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

pub(crate) fn invalid(endpoint: Endpoint, check: Result<(), Error>) -> Endpoint {
    let mut endpoint = endpoint;
    if let Err(e) = check {
        endpoint.fail(e);
    }
    endpoint
}

pub(crate) fn email_check(email: &str) -> Result<(), Error> {
    if is_valid_email(email) {
        Ok(())
    } else {
        Err(Error::invalid(
            "email",
            format!("`{email}` is not a well-formed address"),
        ))
    }
}

pub(crate) fn page_check(count: u32) -> Result<(), Error> {
    if (1..=MAX_PAGE).contains(&count) {
        Ok(())
    } else {
        Err(Error::invalid("count", format!("must be from 1 to {MAX_PAGE}")))
    }
}

/// A list Sitejabber pages with `start` and `count` (its query type): where it is, what
/// its query adds, and under which key the answer holds its items. One impl per list; the
/// page and the stream are [`SitejabberClient::list_page`] and
/// [`SitejabberClient::list_stream`].
pub(crate) trait Listing: Clone + Send + Sync + 'static {
    /// One item of the list.
    type Item: DeserializeOwned + fmt::Debug + Send + 'static;
    /// The endpoint's name in errors and traces.
    const NAME: &'static str;
    /// The path under `businesses/{domain}/`.
    const PATH: &'static str;
    /// The answer's key holding the items.
    const KEY: &'static str;
    /// Adds the query's filters.
    fn apply(&self, ep: Endpoint) -> Endpoint;
}

impl SitejabberClient {
    /// One page of `query`'s list (`count` from 1 to [`MAX_PAGE`], checked before sending),
    /// each item decoded on its own.
    pub(crate) async fn list_page<Q: Listing>(
        &self,
        query: &Q,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Q::Item, Error>>, Error> {
        let ep = Endpoint::get(Q::NAME, self.business_path(Q::PATH))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), Q::KEY)
            .await
    }

    /// Every item of `query`'s list, [`MAX_PAGE`] at a time as the stream is read.
    pub(crate) fn list_stream<Q: Listing>(&self, query: Q) -> BoxStream<'static, Result<Q::Item, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.list_page(&query, start, count as u32).await }
        })
    }
}
