//! A typed client for the whole Sitejabber business API: business profiles, reviews,
//! comments, messages, review requests, review links, products, product reviews, product
//! review requests and customer-data (privacy) requests.
//!
//! - **Authentication**: `client_token` (your API key) goes on every call; the business
//!   account logs in once (`POST /login`) and its `user_token` is reused by every clone of
//!   the client until Sitejabber says it expired (codes 203, 204, 207), when the client logs
//!   in again, once. Both tokens and the password are secrets: never in `Debug`, errors or
//!   traces.
//! - **Errors**: Sitejabber reports errors in the body, often with HTTP 200. The
//!   `status`/`success`/`errorCode`/`errorReason` envelope decides; every code of its table
//!   is an [`ErrorCode`] (`ErrorCode::of(&error)`).
//! - **Rate limits**: 10 calls per 10 s and 1000 per hour, paced on the client side so
//!   Sitejabber's 429 does not happen in normal use; a 429 is waited out and safe calls are
//!   retried.
//! - **Lists** are streams over `start`/`count` that fetch a page only when it is read
//!   ([`SitejabberClient::reviews_stream`] and friends), or single [`Page`]s.
//! - **Tolerant decoding**: numbers sent as strings, `""` for absent dates, `pending`
//!   publication dates, dates with slashes are all read; one odd item never fails a page.
//!
//! ```no_run
//! use sitejabber_client::prelude::*;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = SitejabberClient::from_env()?;
//! client.login().await?; // optional: the first call logs in by itself
//! let mut reviews = client.reviews_stream(ReviewsQuery::default());
//! // One odd review is an `Err` and the stream goes on (see "One stream" below).
//! while let Some(item) = reviews.next().await {
//!     match item {
//!         Ok(review) => println!("{:?}: {}", review.review_no, review.title),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! client
//!     .add_review_request(&ReviewRequest {
//!         email: Some("jan@example.com".into()),
//!         order_id: "A-1001".into(),
//!         order_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
//!         ..Default::default()
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The business API paths follow Sitejabber's public documentation; the Google My Business
//! data source code (`google`) and the meaning of code 304 for a repeated request are
//! *inferred*.
//!
#![doc = include_str!("../docs/first-hour.md")]

mod businesses;
mod client;
mod comments;
mod error;
mod messages;
mod model;
mod params;
mod privacy;
mod product_review_requests;
mod product_reviews;
mod products;
mod questions;
mod review_platform;
mod review_requests;
mod reviews;

// The inputs and queries of each area, and the answers (`model`), each area's public items
// as they are: a new endpoint's types need no line here.
pub use crate::businesses::*;
pub use crate::client::{
    DEFAULT_BASE_URL, PROVIDER, SitejabberClient, SitejabberClientBuilder, default_limits,
};
pub use crate::comments::*;
pub use crate::error::{EnvelopeClassifier, ErrorCode};
pub use crate::messages::*;
pub use crate::model::*;
pub use crate::params::{MAX_PAGE, SortOrder};
pub use crate::product_review_requests::*;
pub use crate::product_reviews::*;
pub use crate::products::*;
pub use crate::review_requests::*;
pub use crate::reviews::*;
pub use commerce_core::{Error, Page};

/// Everything a first program needs, in one import: this crate's client, its queries and
/// inputs, and [`commerce_core::prelude`] (the traits, the provider-neutral types,
/// [`Error`], `SecretString`, the settings types and the stream extension traits).
/// Sitejabber's own [`Address`] is left out (the prelude's `Address` is the
/// provider-neutral one); name it `sitejabber_client::Address`.
pub mod prelude {
    pub use crate::businesses::*;
    pub use crate::comments::*;
    pub use crate::messages::*;
    pub use crate::params::SortOrder;
    pub use crate::product_review_requests::*;
    pub use crate::product_reviews::*;
    pub use crate::products::*;
    pub use crate::review_requests::*;
    pub use crate::reviews::*;
    pub use crate::{SitejabberClient, SitejabberClientBuilder};
    pub use commerce_core::prelude::*;
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
