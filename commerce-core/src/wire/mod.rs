//! Layer 1, the wire: the values a request and its answer are made of, and one raw
//! exchange. Nothing here knows of retries, tokens, rate limits or the client above it.
//!
//! - [`endpoint`]: what a provider crate describes ([`Endpoint`](crate::Endpoint), its body
//!   and replay rule).
//! - [`request`]: one attempt as it leaves ([`OutgoingRequest`](crate::OutgoingRequest)) and
//!   its conversion into the HTTP client's request.
//! - [`response`]: an answer read in full ([`Response`](crate::Response)), decoding it.
//! - [`excerpt`], [`scrub`]: short, bounded and secret-free texts of answers.
//! - [`error_body`]: a provider's code, message and violations read from an error body.
//! - [`classify`]: what an answer means ([`Classifier`](crate::Classifier)).
//! - [`retry_after`]: a server's `Retry-After`.
//! - [`http`]: the HTTP client and its settings ([`HttpClient`](crate::HttpClient)), the
//!   bounded read of a body.
//! - [`interceptor`]: the user's hooks on every request sent.
//! - [`exchange`]: one request sent and its answer read within bounds, failures turned into
//!   [`Error`](crate::Error)s; every request of the crate (calls and token requests) goes
//!   through it.
//!
//! A module of a layer imports its own layer's modules and lower layers only, by their
//! full path (`crate::wire::excerpt::cut`), never through this file.

pub(crate) mod classify;
pub(crate) mod endpoint;
pub(crate) mod error_body;
pub(crate) mod excerpt;
pub(crate) mod exchange;
pub(crate) mod http;
pub(crate) mod interceptor;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod retry_after;
pub(crate) mod scrub;
