//! What every area's requests share: the page size, the sort order, how parameters are
//! written, and the checks made before sending.

use std::fmt;

use chrono::NaiveDateTime;
use commerce_core::{Endpoint, Error, is_valid_email};

use crate::businesses::Datasource;

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
