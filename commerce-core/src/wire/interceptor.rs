//! Layer 1: what a user may hook into every request sent, for request ids and metrics.
//!
//! An [`Interceptor`] is registered in the client's settings
//! ([`HttpClient::with_interceptor`](crate::HttpClient::with_interceptor), or a client
//! builder's `interceptor(..)`) and called by the one exchange every request goes through
//! (each attempt of a call, retries included, and each token request): once before the
//! request is sent, once when its answer came or its connection failed. It never sees a
//! secret: it may add headers but never read the values of those a request carries
//! (`Authorization` among them), and it sees neither the query, nor the body, nor an
//! answer's body.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::error::{Error, Name};

/// Sees every request sent: before it leaves ([`before_send`](Self::before_send)), and
/// when its answer came or its connection failed ([`after_answer`](Self::after_answer)).
/// Both are called once per request sent, on the task that sends it: keep them short and
/// never block in them.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use commerce_core::{Answered, HttpClient, Interceptor, Outgoing};
/// use http::{HeaderName, HeaderValue};
///
/// /// Gives every request an id, and counts the answers by status class.
/// #[derive(Debug, Default)]
/// struct RequestIds {
///     next: AtomicU64,
///     server_errors: AtomicU64,
/// }
///
/// impl Interceptor for RequestIds {
///     fn before_send(&self, request: &mut Outgoing<'_>) {
///         let id = self.next.fetch_add(1, Ordering::Relaxed);
///         request.add_header(
///             HeaderName::from_static("x-request-id"),
///             HeaderValue::from_str(&format!("my-app-{id}")).expect("ASCII"),
///         );
///     }
///
///     fn after_answer(&self, answer: &Answered<'_>) {
///         if answer.status().is_some_and(|s| s.is_server_error()) {
///             self.server_errors.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let http = HttpClient::new("my-app", "1.0.0").with_interceptor(RequestIds::default());
/// # let _ = http;
/// ```
pub trait Interceptor: Send + Sync + fmt::Debug {
    /// Called just before a request is sent. The default does nothing.
    fn before_send(&self, request: &mut Outgoing<'_>) {
        let _ = request;
    }

    /// Called once the answer's status and body came (or its connection failed, or its
    /// body was too large or broke off). The default does nothing.
    fn after_answer(&self, answer: &Answered<'_>) {
        let _ = answer;
    }
}

/// An interceptor behind an `Arc`, so its owner keeps a handle on what it counts.
impl<I: Interceptor + ?Sized> Interceptor for Arc<I> {
    fn before_send(&self, request: &mut Outgoing<'_>) {
        (**self).before_send(request);
    }

    fn after_answer(&self, answer: &Answered<'_>) {
        (**self).after_answer(answer);
    }
}

/// A request about to be sent, as an [`Interceptor`] sees it: where it goes and which
/// attempt it is, and a way to add headers. The values of the headers it carries, its query
/// and its body are not shown: they can hold credentials.
pub struct Outgoing<'a> {
    pub(crate) request: &'a mut reqwest::Request,
    pub(crate) provider: &'a Name,
    pub(crate) endpoint: &'a Name,
    pub(crate) attempt: u32,
}

impl fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint)
            .field("method", self.request.method())
            .field("path", &self.path())
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Outgoing<'_> {
    /// The provider.
    pub fn provider(&self) -> &str {
        self.provider
    }

    /// The endpoint's name (`token` for a token request).
    pub fn endpoint(&self) -> &str {
        self.endpoint
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.request.method()
    }

    /// The URL's path (without its query, which may carry a key).
    pub fn path(&self) -> &str {
        self.request.url().path()
    }

    /// Which attempt of the call this is: 1 for the first, 2 for the first retry, and so
    /// on (a token request is always 1).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the request carries this header (its value is not shown).
    pub fn has_header(&self, name: &HeaderName) -> bool {
        self.request.headers().contains_key(name)
    }

    /// Adds a header unless the request already carries one of that name (an interceptor
    /// adds, it never replaces what the endpoint or the credentials set); returns whether it
    /// was added.
    pub fn add_header(&mut self, name: HeaderName, value: HeaderValue) -> bool {
        match self.request.headers_mut().entry(name) {
            http::header::Entry::Occupied(_) => false,
            http::header::Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
        }
    }
}

/// What one request sent came to, as an [`Interceptor`] sees it: the status (no headers,
/// no body), how long it took, and the error when no readable answer came.
#[derive(Debug)]
pub struct Answered<'a> {
    pub(crate) provider: &'a Name,
    pub(crate) endpoint: &'a Name,
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) attempt: u32,
    pub(crate) status: Option<StatusCode>,
    pub(crate) elapsed: Duration,
    pub(crate) error: Option<&'a Error>,
}

impl Answered<'_> {
    /// The provider.
    pub fn provider(&self) -> &str {
        self.provider
    }

    /// The endpoint's name (`token` for a token request).
    pub fn endpoint(&self) -> &str {
        self.endpoint
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The URL's path (without its query).
    pub fn path(&self) -> &str {
        self.path
    }

    /// Which attempt of the call this was (see [`Outgoing::attempt`]).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The answer's status; `None` when no answer came (the connection failed or timed
    /// out).
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// From just before the request was sent until its answer was read (or it failed).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Why no readable answer came: a transport error, a time-out, an answer too large.
    /// `None` when the answer was read (whatever its status).
    pub fn error(&self) -> Option<&Error> {
        self.error
    }
}
