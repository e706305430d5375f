//! The shared runtime of the commerce provider clients, and the provider-neutral traits
//! they implement.
//!
//! # If you use the clients
//!
//! You rarely depend on this crate directly: each provider crate's `prelude` re-exports
//! [`prelude`], so `use retailer_client::prelude::*;` (or `shopwedo_client`, ...) is one
//! import for what this crate gives every client:
//!
//! - **One error type**, [`Error`], for every provider. Decide with its predicates:
//!   [`Error::is_invalid_input`] (nothing sent; [`Error::field_errors`] names every bad
//!   field), [`Error::is_unconfirmed`] (a create may have reached the provider and was not
//!   re-sent: look before sending again), [`Error::is_auth`], [`Error::is_retryable`] and
//!   [`Error::retry_after`], [`Error::status`] and [`Error::provider_code`] (the provider's
//!   own code, message and violations are kept).
//! - **Three traits** any client can stand behind: [`SalesChannel`] (bol), [`Fulfilment`]
//!   (ShopWeDo, a Customer API shop), [`ReviewPlatform`] (Safe.Shop, Sitejabber), over
//!   provider-neutral types ([`Order`], [`ShipmentConfirmation`], [`ReviewInvitation`], ...).
//! - **Streams** for lists: a page is fetched only when it is read; an `Err` for one item
//!   that could not be decoded and the stream goes on, a failed page yields its error and
//!   ends the stream ([`page_stream`], [`offset_stream`]).
//! - **Settings** every builder has: `timeout(..)` (per attempt, 30 s), `deadline(..)` (per
//!   call, none), `retry(..)` ([`RetryPolicy`]: 3 retries, 250 ms doubling to 10 s),
//!   `limits(..)` ([`RateLimits`]: the provider's documented quotas), `max_answer_bytes(..)`
//!   (32 MiB), `shared(..)` ([`SharedState`]: one token and one budget per credential
//!   across processes) and `interceptor(..)` ([`Interceptor`]: a request id on every request
//!   sent, its status and duration for metrics; never a secret). The README lists every
//!   default.
//! - **Secrets** as [`SecretString`]: never in `Debug`, errors or traces.
//!
//! # If you write a provider crate
//!
//! Every provider crate (Safe.Shop, Sitejabber, ShopWeDo, a Customer API, bol) *describes*
//! its endpoints; only this crate *sends*. That keeps authentication, token caching, rate
//! limits, retries, errors and tracing in one place, and makes each endpoint a few lines.
//!
//! ## How a provider crate describes and sends an endpoint
//!
//! ```no_run
//! use commerce_core::{
//!     ClientCredentials, Endpoint, Error, HttpClient, Quota, RateLimits, TokenAuth, TokenCache,
//!     Transport,
//! };
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! struct Order {
//!     #[serde(rename = "orderId")]
//!     order_id: String,
//! }
//!
//! /// A provider client: a `Transport` inside, cheap to clone.
//! #[derive(Debug, Clone)]
//! struct ShopClient {
//!     transport: Transport,
//! }
//!
//! impl ShopClient {
//!     fn new(client_id: &str, client_secret: &str) -> Result<Self, Error> {
//!         // One `HttpClient` per crate: the shared reqwest client, a User-Agent naming
//!         // this crate, a time limit per attempt.
//!         let http = HttpClient::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
//!         // OAuth2 client credentials, cached and shared by every clone.
//!         let tokens = TokenCache::new(ClientCredentials::new(
//!             &http,
//!             "shop",
//!             "https://login.shop.example/token",
//!             client_id,
//!             client_secret.to_owned().into(),
//!         )?);
//!         let transport = Transport::builder(&http, "shop", "https://api.shop.example/v1")
//!             .auth(TokenAuth::bearer(tokens))
//!             // Several quotas at once; every clone of the client draws on them.
//!             .limits(RateLimits::new([Quota::per_second(10), Quota::per_hour(1000)]))
//!             .build()?;
//!         Ok(ShopClient { transport })
//!     }
//!
//!     /// `GET /orders/{id}`: safe to repeat, so transport errors, 429 and 5xx are retried.
//!     async fn order(&self, id: &str) -> Result<Order, Error> {
//!         let endpoint = Endpoint::get("orders.get", format!("orders/{}", commerce_core::encode_segment(id)))
//!             .accept("application/vnd.shop.v1+json");
//!         self.transport.json(&endpoint).await
//!     }
//!
//!     /// `POST /orders`: creates something, so it is never re-sent once it may have reached
//!     /// the server; such a failure comes back as `Error::Unconfirmed`.
//!     async fn create(&self, body: &serde_json::Value) -> Result<Order, Error> {
//!         let endpoint = Endpoint::post("orders.create", "orders").json(body).bucket("orders");
//!         self.transport.json(&endpoint).await
//!     }
//! }
//! ```
//!
//! The same code runs, tested, in `examples/describe_endpoint.rs` against a local server.
//!
//! ## What the runtime guarantees
//!
//! - **One HTTP client** ([`shared_client`]): rustls, gzip, no redirects, connect and
//!   per-attempt time limits, a `User-Agent` naming the calling crate and version.
//! - **Tokens** ([`TokenCache`]): single-flight (a thousand concurrent calls on a cold cache
//!   make one token request), refreshed a margin before expiry, invalidated and the call
//!   retried once when the provider says the token expired.
//! - **Rate limits** ([`RateLimits`]): several quotas at once, exact in any window, shared by
//!   all clones, paused by `Retry-After` and `X-RateLimit-*`.
//! - **Retries** ([`RetryPolicy`]): capped exponential backoff with jitter for transport
//!   errors, 429, 502, 503 and 504. A request that creates something ([`Replay::Never`]) is
//!   never re-sent once it may have reached the server.
//! - **Errors** ([`Error`]): split by where the call failed, with the provider's code,
//!   message and violations, and predicates to decide on.
//! - **No secrets shown**: `Debug` of every config, client and error redacts them; URLs are
//!   stripped from transport errors; `http://` is refused for any host but loopback.
//! - **Tracing**: a `commerce.request` span per attempt (provider, endpoint, method, path,
//!   attempt, status, latency) and a `commerce.token` span per token request; no secrets,
//!   no query strings.

// The layers, each importing only its own and lower ones (see ARCHITECTURE-LAYERS.md and
// src/layers.rs): `error` and `url` (the vocabulary), `wire` (1), `policy` (2), `state` (3),
// `auth` (4), `client` (5). Around them: the domain types and traits, lists, setup, input.
mod auth;
mod client;
mod domain;
mod error;
mod input;
#[cfg(test)]
mod layers;
pub mod lenient;
mod lists;
pub mod metrics;
pub mod money;
mod policy;
mod returns;
mod setup;
mod state;
mod url;
mod wire;

pub use crate::auth::jwt::jwt_expiry;
pub use crate::auth::oauth2::{
    AuthorizationCodeFlow, AuthorizationRequest, ClientAuth, ClientCredentials, RefreshTokenSource,
    TokenRequestFormat,
};
pub use crate::auth::{AuthTicket, Authenticator, NoAuth, TokenAuth, secret_header};
pub use crate::client::settings::TransportSettings;
pub use crate::client::transport::{Transport, TransportBuilder};
pub use crate::domain::{
    Address, ConfirmationReceipt, Customer, Fulfilment, FulfilmentState, FulfilmentStatus, InvitationReceipt,
    LineItem, LineState, Money, Order, OrderState, PreparedSubmission, ProductRef, RatingSummary,
    ReferenceCheck, ReviewInvitation, ReviewPlatform, SalesChannel, Shipment, ShipmentConfirmation,
    StockBasis, StockLevel, StockReceipt, StockUpdate, SubmissionReceipt, Tracking, require_reference,
};
pub use crate::domain::{ChangedOrder, ChannelEvent, ChannelOffer, OpenLine};
pub use crate::error::{
    AuthError, DecodeError, Delivery, Error, FieldError, Name, ProviderError, RetryHint, TransportFailure,
    ValidationErrors,
};
pub use crate::input::{env_optional, is_valid_email};
pub use crate::lists::{Page, decode_items, offset_stream, page_stream};
pub use crate::policy::buckets::{
    BucketDecision, BucketView, GrantView, POLL, Quota, bucket_decision, longest_span, next_budget,
};
pub use crate::policy::retry::RetryPolicy;
pub use crate::policy::tokens::{TOKEN_POLL, TokenDecision, TokenRules, TokenView, token_decision};
pub use crate::returns::{
    Announcement, Arrival, ChannelReturn, ChannelReturnItem, HandlingReceipt, HandlingResult, ReturnHandling,
    ReturnNotice, ReturnResult, UnknownHandlingResult,
};
pub use crate::setup::{
    BuildFn, ProviderClient, ProviderSpec, Role, Vars, base_url_var, optional_var, required_var, url_var,
};
pub use crate::state::limit::{Permit, RateLimiter, RateLimits};
pub use crate::state::rate_store::{Grant, RateStore};
pub use crate::state::shared::SharedState;
pub use crate::state::token_cache::{Lease, Token, TokenCache, TokenSource};
pub use crate::state::token_store::{Credential, Stored, TokenStore};
pub use crate::url::{check_secure, encode_segment, redact, secure_base_url, secure_url};
pub use crate::wire::classify::{Classifier, DefaultClassifier, Verdict};
pub use crate::wire::endpoint::{Body, Endpoint, Part, Replay};
pub use crate::wire::excerpt::excerpt;
pub use crate::wire::http::{
    CONNECT_TIMEOUT, HttpClient, MAX_ANSWER_BYTES, MAX_ERROR_BYTES, REQUEST_TIMEOUT, shared_client,
};
pub use crate::wire::interceptor::{Answered, Interceptor, Outgoing};
pub use crate::wire::request::OutgoingRequest;
pub use crate::wire::response::{Response, decode_json};
pub use crate::wire::retry_after::{MAX_SERVER_WAIT, parse_retry_after};

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Re-exported so provider crates and their users name one version.
pub use secrecy::{ExposeSecret, SecretString};

/// What a user of any provider crate needs in scope, in one import: the provider-neutral
/// traits and domain types, [`Error`] and [`Page`], [`SecretString`], the settings types,
/// and the stream extension traits that `try_next()` and friends come from.
///
/// Every provider crate's `prelude` re-exports this one and adds its client, so
/// `use shopwedo_client::prelude::*;` is enough without a direct `commerce-core`
/// dependency.
///
/// ```
/// use commerce_core::prelude::*;
///
/// fn first_line(order: &Order) -> Option<&LineItem> {
///     order.lines.first()
/// }
/// # let _ = first_line;
/// ```
pub mod prelude {
    pub use crate::domain::{
        Address, ConfirmationReceipt, Customer, Fulfilment, FulfilmentState, FulfilmentStatus,
        InvitationReceipt, LineItem, LineState, Money, Order, OrderState, PreparedSubmission, ProductRef,
        RatingSummary, ReferenceCheck, ReviewInvitation, ReviewPlatform, SalesChannel, Shipment,
        ShipmentConfirmation, StockLevel, SubmissionReceipt, Tracking,
    };
    pub use crate::domain::{ChannelOffer, OpenLine, StockBasis, StockReceipt, StockUpdate};
    pub use crate::error::{Delivery, Error, ProviderError};
    pub use crate::lists::Page;
    pub use crate::policy::buckets::Quota;
    pub use crate::policy::retry::RetryPolicy;
    pub use crate::returns::{
        Announcement, Arrival, ChannelReturn, ChannelReturnItem, HandlingReceipt, HandlingResult,
        ReturnHandling, ReturnNotice,
    };
    pub use crate::setup::{ProviderClient, ProviderSpec, Role};
    pub use crate::state::limit::RateLimits;
    pub use crate::state::shared::SharedState;
    pub use crate::wire::http::HttpClient;
    pub use futures_util::{StreamExt as _, TryStreamExt as _};
    pub use secrecy::{ExposeSecret, SecretString};
}
