//! The transport: the one place requests are sent.
//!
//! `authenticate → wait for the rate limit → send → classify the answer → retry or return`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::auth::{AuthTicket, Authenticator, NoAuth};
use crate::decide::{Call, Deadline, Outcome, Step, Wait, decide, may_act};
use crate::endpoint::{Body, Endpoint, Replay, Target};
use crate::error::{DecodeError, Delivery, Error, FieldError, Name, ProviderError};
use crate::http::{HttpClient, MAX_ERROR_BYTES, ReadError, read_body};
use crate::limit::{RateLimiter, RateLimits};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::scrub::Scrubber;
use crate::url::{check_secure, secure_base_url};
use secrecy::SecretString;

/// One attempt of a request as the [`Authenticator`] sees it, before it is sent. The
/// authenticator may add headers or query parameters, or rewrite the body (a signed
/// envelope). `Debug` shows the URL without its query and the header names only.
#[derive(Clone)]
#[non_exhaustive]
pub struct OutgoingRequest {
    /// The method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// The headers so far.
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Body>,
    /// The endpoint's name.
    pub endpoint: Name,
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingRequest")
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("url", &crate::url::redact(&self.url))
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .finish()
    }
}

impl OutgoingRequest {
    /// Appends a query parameter.
    pub fn add_query(&mut self, key: &str, value: &str) {
        self.url.query_pairs_mut().append_pair(key, value);
    }
}

/// An answer, read in full.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    provider: Name,
    endpoint: Name,
    sensitive: bool,
    acted: bool,
    scrubber: Scrubber,
    /// Secrets the request carried in headers (a bearer token), to take out of error texts.
    sent: Vec<HeaderValue>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// An answer, for classifiers and tests.
    pub fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        provider: impl Into<Name>,
        endpoint: impl Into<Name>,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            provider: provider.into(),
            endpoint: endpoint.into(),
            sensitive: false,
            acted: false,
            scrubber: Scrubber::default(),
            sent: Vec::new(),
        }
    }

    /// The client's secrets and the ones this request carried, for an error's texts.
    fn scrubber(&self) -> Scrubber {
        self.scrubber.with_headers(&self.sent)
    }

    /// An [`excerpt`] of the body, with every secret of the client and of this request taken
    /// out first; for provider crates that build their own errors from an answer. `None`
    /// for an answer that carries secrets.
    pub fn excerpt(&self, at: Option<(usize, usize)>) -> Option<String> {
        if self.sensitive {
            return None;
        }
        self.scrubber().excerpt(&self.body, at)
    }

    /// Whether this is the success answer of a call that may have acted at the provider (its
    /// endpoint is not [`Replay::Always`]: a create or a change). An answer to such a call
    /// that cannot be read leaves its outcome unknown: see [`Response::unreadable`].
    pub fn may_have_acted(&self) -> bool {
        self.acted
    }

    /// The error for an answer that could not be read as expected (`error`, typically a
    /// [`Error::Decode`]): when the call [`may have acted`](Self::may_have_acted), it is
    /// [`Error::Unconfirmed`] with `error` as its cause, since the provider may well have
    /// created what was asked although the caller cannot tell; otherwise `error` itself.
    pub fn unreadable(&self, error: Error) -> Error {
        unreadable(
            self.scrubber().error(error),
            !self.acted,
            &self.provider,
            &self.endpoint,
        )
    }

    /// Decodes `body` (this answer's body, or a part of it the caller took out) as JSON into
    /// `T`, as [`decode_json`] does; a failure goes through [`Response::unreadable`].
    pub fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Error> {
        decode_scrubbed(&self.provider, &self.endpoint, body, self.sensitive, || {
            self.scrubber()
        })
        .map_err(|e| self.unreadable(e))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body (already gzip-decoded).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The provider that answered.
    pub fn provider(&self) -> &Name {
        &self.provider
    }

    /// The endpoint that was called.
    pub fn endpoint(&self) -> &Name {
        &self.endpoint
    }

    /// Whether the body carries secrets and must never be quoted.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON; a failure names the JSON path and quotes the body around it
    /// (and is [`Error::Unconfirmed`] when the call [`may have acted`](Self::may_have_acted)).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.decode(&self.body)
    }

    /// A [`ProviderError`] read from this answer in the common shapes (see
    /// [`DefaultClassifier`]).
    pub fn provider_error(&self) -> ProviderError {
        read_provider_error(self)
    }
}

/// Decodes `body` as JSON into `T`, reporting the JSON path of a failure and, unless the
/// body is `sensitive`, a short excerpt around it.
pub fn decode_json<T: DeserializeOwned>(
    provider: &Name,
    endpoint: &Name,
    body: &[u8],
    sensitive: bool,
) -> Result<T, Error> {
    decode_scrubbed(provider, endpoint, body, sensitive, Scrubber::default)
}

/// [`decode_json`], with `scrubber`'s secrets taken out of the error before its texts are
/// cut. The decoder's message can quote a value of any length (a string where a number was
/// expected): it is cut to 300 characters and the JSON path to 200, and the decoder's own
/// error, which holds the whole value, is then not kept.
///
/// The scrubber is made only for an error: with a bearer token it holds the token in five
/// forms, a dozen strings to build, which an answer that decodes never needs.
fn decode_scrubbed<T: DeserializeOwned>(
    provider: &Name,
    endpoint: &Name,
    body: &[u8],
    sensitive: bool,
    scrubber: impl FnOnce() -> Scrubber,
) -> Result<T, Error> {
    // The plain decoder first: tracking the path of every value costs about as much as the
    // decoding itself, and only a failure needs it. A failure is decoded again with the path
    // tracked (answers that decode are the rule; a few KB decoded twice on an error is not).
    let mut de = serde_json::Deserializer::from_slice(body);
    if let Ok(value) = T::deserialize(&mut de) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if sensitive {
            // The decoder's message could quote a value of the secret-bearing answer, so
            // neither it nor the decoder's error is kept.
            return Error::from(DecodeError {
                provider: provider.clone(),
                endpoint: endpoint.clone(),
                path,
                message: format!(
                    "{:?} error at line {} column {}",
                    inner.classify(),
                    inner.line(),
                    inner.column()
                ),
                excerpt: None,
                source: None,
            });
        }
        let scrubber = scrubber();
        let (path, path_cut) = cut(&scrubber.text(&path), 200);
        let full = inner.to_string();
        let clean = scrubber.text(&full);
        let scrubbed = clean != full;
        let (message, message_cut) = cut(&clean, 300);
        let keep_source = !(path_cut || message_cut || scrubbed);
        Error::from(DecodeError {
            provider: provider.clone(),
            endpoint: endpoint.clone(),
            path,
            message,
            excerpt: scrubber.excerpt(body, Some((inner.line(), inner.column()))),
            source: if keep_source { Some(Arc::new(inner)) } else { None },
        })
    })
}

const EXCERPT_CHARS: usize = 120;

/// Bytes an excerpt looks at on each side of its centre: enough for its characters at up to
/// 4 bytes each.
pub(crate) const EXCERPT_REACH: usize = EXCERPT_CHARS * 4;

/// The byte offset of a 1-based line and column in `body` (clamped to its length).
pub(crate) fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let line_start = if line == 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    line_start
        .saturating_add(column.saturating_sub(1))
        .min(body.len())
}

/// Keeps a provider's error texts to a size a person reads (a provider answering errors with
/// HTTP 200, as Sitejabber does, is read up to the full answer limit): the code to 200
/// characters, the message to 1,000, at most 50 violations of 500 characters each.
pub(crate) fn bound(error: &mut ProviderError) {
    let shorten = |text: &mut String, max: usize| {
        if let (cut_text, true) = cut(text, max) {
            *text = cut_text;
        }
    };
    if let Some(code) = &mut error.code {
        shorten(code, 200);
    }
    if let Some(message) = &mut error.message {
        shorten(message, 1000);
    }
    error.violations.truncate(50);
    for v in &mut error.violations {
        shorten(&mut v.field, 200);
        shorten(&mut v.message, 500);
    }
}

/// `text` cut to `max` characters (with `…`); whether it was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (format!("{}…", &text[..i]), true),
        None => (text.to_owned(), false),
    }
}

/// A short, single-line excerpt of `body`, centred on `at` (1-based line and column) when
/// given; `None` for an empty body. Only a few hundred bytes around that place are looked
/// at, however large the body.
pub fn excerpt(body: &[u8], at: Option<(usize, usize)>) -> Option<String> {
    const REACH: usize = EXCERPT_REACH;
    let offset = match at {
        Some((line, column)) => byte_offset(body, line, column),
        None => 0,
    };
    let from = if at.is_some() {
        offset.saturating_sub(REACH)
    } else {
        0
    };
    let to = offset.saturating_add(REACH).min(body.len());
    let text = String::from_utf8_lossy(&body[from..to]);
    if text.trim().is_empty() {
        return None;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let centre = chars.partition_point(|(i, _)| *i < offset - from);
    let start = if at.is_some() {
        centre.saturating_sub(EXCERPT_CHARS / 2)
    } else {
        0
    };
    let end = (start + EXCERPT_CHARS).min(chars.len());
    let mut out: String = chars[start..end]
        .iter()
        .map(|(_, c)| if c.is_whitespace() { ' ' } else { *c })
        .collect();
    out = out
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if start > 0 || from > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() || to < body.len() {
        out.push('…');
    }
    Some(out)
}

/// What an answer means.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The call succeeded.
    Success,
    /// The provider refused the call (the status may say it is worth retrying).
    Failure(ProviderError),
    /// The provider said the credentials expired: refresh once and retry once.
    AuthExpired(ProviderError),
    /// The provider refused the credentials themselves (a wrong key or password): fail with
    /// [`Error::Auth`] at once, since new tokens from the same credentials would not help.
    AuthRejected(ProviderError),
}

/// Decides what an answer means. Providers that report errors in the body with HTTP 200
/// (Sitejabber) or mark expired tokens their own way supply their own.
pub trait Classifier: Send + Sync + fmt::Debug {
    /// Classifies one answer.
    fn classify(&self, response: &Response) -> Verdict;
}

/// The default classification: 2xx succeeds, 401 means expired credentials, anything else
/// is a [`ProviderError`] read from the common body shapes (OAuth `error` /
/// `error_description`, Problem `title` / `detail` / `violations`, `message`, `code`,
/// `errors`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl Classifier for DefaultClassifier {
    fn classify(&self, response: &Response) -> Verdict {
        let status = response.status();
        if status.is_success() {
            Verdict::Success
        } else if status == StatusCode::UNAUTHORIZED {
            Verdict::AuthExpired(read_provider_error(response))
        } else {
            Verdict::Failure(read_provider_error(response))
        }
    }
}

fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_text(v: &serde_json::Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| v.get(k).and_then(text_of))
}

fn read_violations(v: &serde_json::Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    for key in ["violations", "errors"] {
        match v.get(key) {
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let field = first_text(item, &["name", "field", "property", "path"]).unwrap_or_default();
                    let message =
                        first_text(item, &["reason", "message", "detail", "error"]).or_else(|| text_of(item));
                    if let Some(message) = message {
                        out.push(FieldError::new(field, message));
                    }
                }
            }
            Some(serde_json::Value::Object(map)) => {
                for (field, reason) in map {
                    let message = match reason {
                        serde_json::Value::Array(list) => {
                            list.iter().filter_map(text_of).collect::<Vec<_>>().join(", ")
                        }
                        other => text_of(other).unwrap_or_else(|| other.to_string()),
                    };
                    out.push(FieldError::new(field.clone(), message));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a provider's "code" reads as a code (`invalid_client`, `order_invalid_data`,
/// `304`, `urn:bol:problem`, `auth/invalid`) rather than as words (`Oops!`, `The order could
/// not be found.`): letters, digits and `_ - . : /` only.
pub(crate) fn is_code(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':' | '/'))
}

/// Reads a provider's code, message and violations from a JSON error body in any of the
/// common shapes (OAuth `error`/`error_description`, Problem `title`/`detail`, `message`,
/// Sitejabber's `errorCode`/`errorReason`, `{"error": {"message": ..}}`). A "code" that is
/// words ([`is_code`]) is taken as the message (ShopWeDo sends its human text in `error`:
/// `{"error": "Oops!"}`).
pub(crate) fn read_error_body(pe: &mut ProviderError, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    pe.code = first_text(&v, &["error", "errorCode", "code", "error_code"]);
    pe.message = first_text(
        &v,
        &["error_description", "errorReason", "detail", "message", "title"],
    )
    .or_else(|| {
        v.get("error")
            .and_then(|e| first_text(e, &["message", "description"]))
    });
    words_as_message(pe);
    pe.violations = read_violations(&v);
}

/// A "code" that is words ([`is_code`]) becomes the message (when there is none).
pub(crate) fn words_as_message(pe: &mut ProviderError) {
    if pe.code.as_deref().is_some_and(|c| !is_code(c)) {
        let words = pe.code.take();
        if pe.message.is_none() {
            pe.message = words;
        }
    }
}

fn read_provider_error(response: &Response) -> ProviderError {
    let mut pe = ProviderError::new(
        response.provider.clone(),
        response.endpoint.clone(),
        response.status.as_u16(),
    );
    read_error_body(&mut pe, &response.body);
    if pe.code.is_none() && pe.message.is_none() {
        pe.body_excerpt = response.excerpt(None);
    }
    pe.retry_after = response
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    pe
}

/// A request ready to send, with what its answer is read with.
struct Prepared {
    request: reqwest::Request,
    permit: crate::limit::Permit,
    ticket: AuthTicket,
    /// Secrets the request carries in headers (a bearer token).
    sent_secrets: Vec<HeaderValue>,
    /// The time limit a time-out reports.
    limit: Option<Duration>,
}

struct Inner {
    provider: Name,
    http: HttpClient,
    base: Url,
    auth: Arc<dyn Authenticator>,
    limits: RateLimits,
    retry: RetryPolicy,
    classifier: Arc<dyn Classifier>,
    headers: HeaderMap,
    scrubber: Scrubber,
    /// Whether a call has had a successful answer (the base URL is the provider's API).
    /// Shared with the transports [`Transport::with_auth`] makes (the same base URL).
    answered: Arc<AtomicBool>,
}

/// The HTTP runtime of one provider client. Cheap to clone; clones share the token cache,
/// the rate limits and the connection pool.
///
/// See the crate documentation for a complete example.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.inner.provider)
            .field("base_url", &self.inner.base.as_str())
            .field("auth", &self.inner.auth)
            .field("limits", &self.inner.limits)
            .field("retry", &self.inner.retry)
            .field("classifier", &self.inner.classifier)
            .finish()
    }
}

/// Builds a [`Transport`].
pub struct TransportBuilder {
    provider: Name,
    http: HttpClient,
    base: Result<Url, Error>,
    auth: Arc<dyn Authenticator>,
    limits: RateLimits,
    retry: RetryPolicy,
    classifier: Arc<dyn Classifier>,
    headers: HeaderMap,
    secrets: Vec<SecretString>,
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("provider", &self.provider)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// Sets the authenticator (default: none).
    pub fn auth(mut self, auth: impl Authenticator + 'static) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    /// Sets a shared authenticator.
    pub fn auth_arc(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the rate limits (default: none).
    pub fn limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the answer classifier (default: [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: impl Classifier + 'static) -> Self {
        self.classifier = Arc::new(classifier);
        self
    }

    /// Sends this header with every request (an endpoint's own header wins).
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Names a secret of the client (an API key, a password) that must never appear in an
    /// error: every text a provider sends back is scrubbed of it (as it is, and form- or
    /// percent-encoded) before it enters an error. The values of request headers marked
    /// sensitive (the bearer token) are scrubbed without being named.
    pub fn secret(mut self, secret: &SecretString) -> Self {
        self.secrets.push(secret.clone());
        self
    }

    /// Finishes the transport; fails on a bad or insecure base URL.
    ///
    /// With [`HttpClient::with_shared`], the limits are kept in the shared rate store under
    /// the provider, its address and the credential's identity
    /// ([`Authenticator::account`]), so every process using the same credential spends
    /// them jointly.
    pub fn build(self) -> Result<Transport, Error> {
        let base = self.base?;
        let limits = match self.http.shared() {
            Some(shared) => {
                let account = self.auth.account().unwrap_or_default();
                let scope = format!("{} {} {account}", self.provider, base.as_str());
                self.limits.shared_in(shared.rates.clone(), scope)
            }
            None => self.limits,
        };
        Ok(Transport {
            inner: Arc::new(Inner {
                scrubber: Scrubber::new(&self.secrets),
                base,
                provider: self.provider,
                http: self.http,
                auth: self.auth,
                limits,
                retry: self.retry,
                classifier: self.classifier,
                headers: self.headers,
                answered: Arc::default(),
            }),
        })
    }
}

/// `task`'s output if it ends before `at`; past it (or cancelled), the task handed back,
/// still running. A panic in it goes on in the caller.
async fn until<T>(
    at: Instant,
    mut task: tokio::task::JoinHandle<T>,
) -> Result<T, tokio::task::JoinHandle<T>> {
    match tokio::time::timeout_at(at, &mut task).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(_)) | Err(_) => Err(task),
    }
}

/// What every provider client's builder lets its user override: the HTTP settings, the retry
/// policy and the client-side pacing. A builder holds one, exposes its setters with
/// [`transport_settings_setters!`](crate::transport_settings_setters), and starts its
/// transports with [`Transport::builder_with`].
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// The HTTP client and its settings.
    pub http: HttpClient,
    /// When and how often failed calls are sent again.
    pub retry: RetryPolicy,
    /// Client-side pacing.
    pub limits: RateLimits,
}

impl TransportSettings {
    /// HTTP settings whose `User-Agent` names `crate_name`/`crate_version`, the default retry
    /// policy, and `limits` (the provider's documented limits).
    pub fn new(crate_name: &str, crate_version: &str, limits: RateLimits) -> Self {
        TransportSettings {
            http: HttpClient::new(crate_name, crate_version),
            retry: RetryPolicy::default(),
            limits,
        }
    }
}

/// The `http`, `retry` and `limits` setters of a client builder whose
/// [`TransportSettings`] are in the field `$field`.
#[macro_export]
macro_rules! transport_settings_setters {
    ($field:ident) => {
        /// Overrides the HTTP settings (time limits, proxy, TLS, `User-Agent`).
        pub fn http(mut self, http: $crate::HttpClient) -> Self {
            self.$field.http = http;
            self
        }

        /// Shares the credential's access token and rate budgets with every process using
        /// `state` (a PostgreSQL database with the facade's `postgres` feature), keeping
        /// this client's `User-Agent` and time limits. `None` leaves the client as it is.
        pub fn shared(mut self, state: impl Into<Option<$crate::SharedState>>) -> Self {
            if let Some(state) = state.into() {
                self.$field.http = self.$field.http.with_shared(state);
            }
            self
        }

        /// Sets the time limit of one attempt: connecting, sending and reading the whole
        /// answer (default [`REQUEST_TIMEOUT`]($crate::REQUEST_TIMEOUT), 30 s), keeping this
        /// client's `User-Agent`.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.$field.http = self.$field.http.clone().with_timeout(Some(timeout));
            self
        }

        /// Sets the deadline of one call, retries, backoff and waits for the token and the
        /// rate limits included (default: none; see
        /// [`HttpClient::with_deadline`]($crate::HttpClient::with_deadline)), keeping this
        /// client's `User-Agent`.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.$field.http = self.$field.http.clone().with_deadline(Some(deadline));
            self
        }

        /// Overrides the retry policy.
        pub fn retry(mut self, retry: $crate::RetryPolicy) -> Self {
            self.$field.retry = retry;
            self
        }

        /// Overrides the client-side pacing (the default keeps the provider's documented
        /// limits).
        pub fn limits(mut self, limits: $crate::RateLimits) -> Self {
            self.$field.limits = limits;
            self
        }

        /// Sets the largest answer the client reads, in bytes after decompression (default
        /// [`MAX_ANSWER_BYTES`]($crate::MAX_ANSWER_BYTES), 32 MiB; token answers count
        /// too). A larger answer fails with [`Error::TooLarge`]($crate::Error::TooLarge).
        pub fn max_answer_bytes(mut self, limit: u64) -> Self {
            self.$field.http = self.$field.http.clone().with_max_answer_bytes(limit);
            self
        }
    };
}

impl Transport {
    /// [`Transport::builder`] with `settings`' HTTP client, pacing and retry policy.
    pub fn builder_with(
        settings: &TransportSettings,
        provider: impl Into<Name>,
        base_url: &str,
    ) -> TransportBuilder {
        Self::builder(&settings.http, provider, base_url)
            .limits(settings.limits.clone())
            .retry(settings.retry.clone())
    }

    /// Starts a transport for `provider` at `base_url` (HTTPS, or HTTP to a loopback host).
    pub fn builder(http: &HttpClient, provider: impl Into<Name>, base_url: &str) -> TransportBuilder {
        TransportBuilder {
            provider: provider.into(),
            http: http.clone(),
            base: secure_base_url(base_url),
            auth: Arc::new(NoAuth),
            limits: RateLimits::default(),
            retry: RetryPolicy::default(),
            classifier: Arc::new(DefaultClassifier),
            headers: HeaderMap::new(),
            secrets: Vec::new(),
        }
    }

    /// The same transport with another authenticator (sharing limits and connections), for
    /// a provider's login call or a second account.
    pub fn with_auth(&self, auth: Arc<dyn Authenticator>) -> Transport {
        let i = &self.inner;
        Transport {
            inner: Arc::new(Inner {
                provider: i.provider.clone(),
                http: i.http.clone(),
                base: i.base.clone(),
                auth,
                limits: i.limits.clone(),
                retry: i.retry.clone(),
                classifier: i.classifier.clone(),
                headers: i.headers.clone(),
                scrubber: i.scrubber.clone(),
                answered: i.answered.clone(),
            }),
        }
    }

    /// The provider name.
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The base URL (ends in `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The HTTP settings.
    pub fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// The rate limiter of a bucket (`None`: the default one).
    pub fn limiter(&self, bucket: Option<&str>) -> RateLimiter {
        self.inner.limits.limiter(bucket)
    }

    /// The full URL of an endpoint, query included.
    pub fn url_for(&self, endpoint: &Endpoint) -> Result<Url, Error> {
        let mut url = match &endpoint.target {
            Target::Path(path) => self
                .inner
                .base
                .join(path)
                .map_err(|e| Error::invalid("path", format!("`{path}` does not form a URL: {e}")))?,
            Target::Absolute(url) => url.clone(),
        };
        check_secure(&url)?;
        if !endpoint.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &endpoint.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends `endpoint` and decodes the JSON answer into `T`.
    pub async fn json<T: DeserializeOwned>(&self, endpoint: &Endpoint) -> Result<T, Error> {
        self.send(endpoint).await?.json()
    }

    /// Sends `endpoint`: authenticates, waits for the rate limit, sends, classifies the
    /// answer, and retries what is safe to retry. Returns the successful answer.
    pub async fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        if let Some(e) = &endpoint.invalid {
            return Err((**e).clone());
        }
        // Moved into the first attempt's request (not cloned); a later attempt resolves it
        // again.
        let mut url = Some(self.url_for(endpoint)?);
        let limiter = self.inner.limits.limiter(endpoint.bucket.as_deref());
        // The backoff waits, built (and boxed) on the first failure: most calls never need
        // them. Boxed too, the idempotency key: what this future holds across its awaits is
        // copied and touched on every call (see BENCHMARKS.md, per-request overhead).
        let mut backoff = None;
        let idempotency_key = match &endpoint.replay {
            Replay::IdempotencyKey(h) => Some(Box::new((h.clone(), new_idempotency_key()))),
            _ => None,
        };
        let provider = &self.inner.provider;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        // The per-call deadline: when it falls, and how long it was.
        // (A deadline too far to count from now is none.)
        let deadline = self
            .inner
            .http
            .deadline()
            .and_then(|d| Some((Instant::now().checked_add(d)?, d)));
        // Whether waiting `wait` more would pass the deadline.
        let too_late = |wait: Duration| deadline.is_some_and(|(at, _)| Instant::now() + wait >= at);
        loop {
            attempt += 1;
            if too_late(Duration::ZERO) {
                return Err(self.past_deadline(endpoint, deadline, Delivery::NotSent));
            }
            let paused = limiter.pause_remaining();
            // A pause longer than the client may wait, or past the deadline: said at once.
            if paused > self.inner.retry.max_wait || (!paused.is_zero() && too_late(paused)) {
                // Waiting that long silently would look like a hang; say so instead.
                return Err(Error::RateLimited {
                    provider: provider.clone(),
                    endpoint: endpoint.name.clone(),
                    retry_after: Some(paused),
                    answer: None,
                });
            }
            let resolved = match &mut url {
                Some(url) => url,
                None => url.insert(self.url_for(endpoint)?),
            };
            let span = tracing::info_span!(
                "commerce.request",
                provider = %provider,
                endpoint = %endpoint.name,
                method = %endpoint.method,
                path = %resolved.path(),
                attempt,
                status = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            );
            let outcome = self
                .attempt(endpoint, &mut url, &limiter, idempotency_key.as_deref(), deadline)
                .instrument(span.clone())
                .await?;
            let _entered = span.enter();
            // In a block of its own, so neither the call's facts nor the step are kept in
            // this future's state across the waits below (a refresh, a backoff).
            let step = {
                let call = Call {
                    provider,
                    endpoint: &endpoint.name,
                    replay: &endpoint.replay,
                    refreshed,
                    backoff: match outcome {
                        Outcome::Done(_) => None,
                        _ => backoff
                            .get_or_insert_with(|| Box::new(self.inner.retry.backoff().peekable()))
                            .peek()
                            .copied(),
                    },
                    max_wait: self.inner.retry.max_wait,
                    deadline: deadline.map(|(at, whole)| Deadline {
                        left: at.saturating_duration_since(Instant::now()),
                        whole,
                    }),
                };
                decide(outcome, &call)
            };
            match step {
                Step::Return(response) => return Ok(response),
                Step::Fail(error) => {
                    if let Error::Unconfirmed { source, .. } = &error {
                        tracing::warn!(error = %source.log_text(), "not re-sent: the request may have reached the provider");
                    }
                    return Err(error);
                }
                // The rest in a future of its own, boxed: only failed attempts take it, and
                // what it holds across its waits is then not in this future's state.
                failure => {
                    if let Step::Retry { .. } = failure {
                        // This retry spends its backoff wait.
                        if let Some(waits) = backoff.as_mut() {
                            waits.next();
                        }
                    }
                    drop(_entered);
                    if Box::pin(self.after_failure(failure, &limiter, &span)).await? {
                        refreshed = true;
                    }
                }
            }
        }
    }

    /// What follows a failed attempt whose `step` is neither a success nor a plain failure:
    /// the error to fail with, or, once the credentials are renewed (`Ok(true)`) or the wait
    /// is over (`Ok(false)`), the next attempt. Runs in the attempt's `span`.
    async fn after_failure(
        &self,
        step: Step,
        limiter: &RateLimiter,
        span: &tracing::Span,
    ) -> Result<bool, Error> {
        match step {
            Step::Return(_) | Step::Fail(_) => unreachable!("returned by `send`"),
            Step::Reject { ticket, error } => {
                // The authenticator cools down instead of asking again.
                self.inner
                    .auth
                    .rejected(&ticket, &error)
                    .instrument(span.clone())
                    .await;
                Err(error)
            }
            Step::Refresh { ticket, otherwise } => {
                if self.inner.auth.invalidate(&ticket).instrument(span.clone()).await {
                    span.in_scope(|| tracing::info!("credentials expired: refreshed, retrying once"));
                    return Ok(true);
                }
                // They cannot be renewed: not an expiry.
                self.inner
                    .auth
                    .rejected(&ticket, &otherwise)
                    .instrument(span.clone())
                    .await;
                Err(otherwise)
            }
            Step::Retry { wait, cause } => {
                span.in_scope(|| {
                    tracing::warn!(
                        error = %cause.log_text(),
                        wait_ms = wait.duration().max(cause.retry_after().unwrap_or_default()).as_millis() as u64,
                        "retrying"
                    )
                });
                drop(cause);
                match wait {
                    Wait::Sleep(wait) => tokio::time::sleep(wait).await,
                    Wait::PauseBucket(wait) => limiter.pause_shared(wait).await,
                }
                Ok(false)
            }
        }
    }

    /// The error of a call stopped by its deadline.
    fn past_deadline(
        &self,
        endpoint: &Endpoint,
        deadline: Option<(Instant, Duration)>,
        delivery: Delivery,
    ) -> Error {
        Error::Timeout {
            provider: self.inner.provider.clone(),
            endpoint: endpoint.name.clone(),
            after: deadline.map(|(_, d)| d).unwrap_or_default(),
            delivery,
        }
    }

    /// One attempt: [`prepare`](Self::prepare)d, sent, its answer read and classified.
    ///
    /// The request is prepared in a future of its own, awaited before the answer is: this
    /// future's state then holds the larger of the two halves' rather than both (what a
    /// future holds across its awaits is copied and touched on every call; see
    /// BENCHMARKS.md, per-request overhead).
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        url: &mut Option<Url>,
        limiter: &RateLimiter,
        idempotency_key: Option<&(HeaderName, HeaderValue)>,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<Outcome, Error> {
        // Destructured in the statement that awaits it: a named `Prepared` would stay in this
        // future's state.
        let Prepared {
            request,
            permit,
            ticket,
            sent_secrets,
            limit,
        } = match self
            .prepare(endpoint, url, limiter, idempotency_key, deadline)
            .await?
        {
            Ok(prepared) => prepared,
            Err(outcome) => return Ok(outcome),
        };
        let started = Instant::now();
        let mut answer = match self.inner.http.client().execute(request).await {
            Ok(a) => a,
            Err(e) => {
                // A TLS handshake that failed will fail again: not retried.
                if let Some(error) =
                    crate::error::tls_misconfigured(&self.inner.provider, &endpoint.name, &e, "base URL")
                {
                    permit.give_back();
                    return Ok(Outcome::Unusable(error));
                }
                return Ok(self.lost(endpoint, e, limit));
            }
        };
        let status = answer.status();
        // An error answer is read for its code and message, which come first: at most
        // MAX_ERROR_BYTES of it, the rest dropped. A success is read whole, up to the limit.
        let success = status.is_success();
        // The rate headers, then the body, in one future awaited once: the answer is then
        // kept in this future's state across one await, not two.
        let read = async {
            // Taken, not cloned: the body needs no header any more.
            let headers = std::mem::take(answer.headers_mut());
            // A limiter of this process alone never waits here (it writes nothing to a
            // store): its future is polled once in place, not kept in this one's state.
            let paused = if limiter.is_shared() {
                Box::pin(permit.apply_rate_headers(&headers)).await
            } else {
                permit.apply_rate_headers(&headers).now_or_never().flatten()
            };
            if let Some(paused) = paused {
                tracing::debug!(
                    pause_ms = paused.as_millis() as u64,
                    "provider asked to slow down"
                );
            }
            let max = self.inner.http.max_answer_bytes();
            let (max, truncate) = if success {
                (max, false)
            } else {
                (max.min(MAX_ERROR_BYTES), true)
            };
            (headers, read_body(&mut answer, max, truncate).await)
        };
        let (headers, body) = read.await;
        let body = match body {
            Ok(b) => b,
            Err(ReadError::Http(e)) => return Ok(self.lost(endpoint, e, limit)),
            Err(ReadError::TooLarge { limit, declared }) => {
                tracing::warn!(limit, "answer larger than the limit: not read further");
                return Ok(Outcome::Unreadable(Error::TooLarge {
                    provider: self.inner.provider.clone(),
                    endpoint: endpoint.name.clone(),
                    limit,
                    declared,
                }));
            }
        };
        // The attempt's span (this future runs in it).
        let span = tracing::Span::current();
        span.record("status", status.as_u16());
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        let response = Response {
            status,
            headers,
            body,
            provider: self.inner.provider.clone(),
            endpoint: endpoint.name.clone(),
            sensitive: endpoint.sensitive_answer,
            acted: success && may_act(&endpoint.replay),
            scrubber: self.inner.scrubber.clone(),
            sent: sent_secrets,
        };
        tracing::debug!(status = status.as_u16(), bytes = response.body.len(), "answer");
        let scrub = |mut error: ProviderError| {
            response.scrubber().provider_error(&mut error);
            bound(&mut error);
            with_retry_after(error, &response)
        };
        Ok(match self.inner.classifier.classify(&response) {
            Verdict::Success => {
                self.inner.answered.store(true, Ordering::Relaxed);
                Outcome::Done(response)
            }
            Verdict::Failure(error) if self.not_the_api(&response) => {
                tracing::warn!(
                    status = status.as_u16(),
                    "the base URL does not answer as the provider's API"
                );
                Outcome::Unusable(Error::Misconfigured {
                    provider: self.inner.provider.clone(),
                    endpoint: endpoint.name.clone(),
                    status: Some(error.status),
                    delivery: Delivery::MaybeSent,
                    message: format!(
                        "the base URL `{}` answered HTTP 404 with something that is not the \
                         provider's API (not JSON) before any call of this client succeeded: \
                         check the base URL",
                        crate::url::redact(&self.inner.base)
                    ),
                })
            }
            Verdict::Failure(error) => Outcome::Failed(scrub(error)),
            Verdict::AuthExpired(error) => Outcome::CredentialsExpired {
                error: scrub(error),
                ticket,
            },
            Verdict::AuthRejected(error) => Outcome::CredentialsRefused {
                error: scrub(error),
                ticket,
            },
        })
    }

    /// The request of one attempt, ready to send: the credentials made ready, a rate permit
    /// taken, the request built and authorized. `Ok(Err(outcome))`: it cannot be sent (no
    /// credentials).
    async fn prepare(
        &self,
        endpoint: &Endpoint,
        url: &mut Option<Url>,
        limiter: &RateLimiter,
        idempotency_key: Option<&(HeaderName, HeaderValue)>,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<Result<Prepared, Outcome>, Error> {
        // Waits before anything is sent end at the deadline: nothing was sent.
        let cut = || self.past_deadline(endpoint, deadline, Delivery::NotSent);
        let at = deadline.map(|(at, _)| at);
        // The token first, then the rate permit: a caller waiting for a token (another
        // caller's, or another process's, request under way) must not hold a permit the token
        // request itself may need (Sitejabber's login spends the account's quota too).
        if endpoint.authenticated {
            let ready = match at {
                None => self.inner.auth.ready().await,
                // The deadline stops this caller's wait, never the token request itself:
                // cancelled, it would count as a failed request (a cool-down for every
                // caller of the credential) and leave a shared claim held. Boxed, as every
                // wait that only some calls take (a deadline, a shared limiter, a limit
                // reached): kept out of the state every call carries.
                Some(at) => {
                    let auth = self.inner.auth.clone();
                    Box::pin(until(at, tokio::spawn(async move { auth.ready().await })))
                        .await
                        .map_err(|_| cut())?
                }
            };
            if let Err(error) = ready {
                return Ok(Err(Outcome::NoCredentials {
                    error,
                    cool_down: self.inner.auth.ready_in(),
                }));
            }
        }
        let max_wait = self.inner.retry.max_wait;
        // A permit free now (no quota reached, no pause, nobody queued before this caller,
        // a limiter of this process alone) is taken at once, as `acquire_checked` would take
        // it; any wait goes through `acquire_checked`, boxed.
        let permit = match limiter.try_acquire() {
            Ok(permit) => Ok(permit),
            Err(_) => match at {
                None => Box::pin(limiter.acquire_checked(max_wait)).await,
                // Likewise the permit: a grant the store gives after the deadline is handed
                // back unused, not left open.
                Some(at) => {
                    let waiting = limiter.clone();
                    match Box::pin(until(
                        at,
                        tokio::spawn(async move { waiting.acquire_checked(max_wait).await }),
                    ))
                    .await
                    {
                        Ok(permit) => permit,
                        Err(grant) => {
                            tokio::spawn(async move {
                                if let Ok(Ok(permit)) = grant.await {
                                    permit.give_back();
                                }
                            });
                            return Err(cut());
                        }
                    }
                }
            },
        }
        .map_err(|e| match e {
            Error::RateLimited { retry_after, .. } => Error::RateLimited {
                provider: self.inner.provider.clone(),
                endpoint: endpoint.name.clone(),
                retry_after,
                answer: None,
            },
            e => e,
        })?;
        let mut request = OutgoingRequest {
            method: endpoint.method.clone(),
            url: match url.take() {
                Some(url) => url,
                None => self.url_for(endpoint)?,
            },
            // Made in a function of its own: a local map would stay in this future's state.
            headers: self.headers_for(endpoint, idempotency_key),
            body: endpoint.body.clone(),
            endpoint: endpoint.name.clone(),
        };
        let ticket = if endpoint.authenticated {
            // Not cut by the deadline: `ready` made the token current, and a renewal cut
            // short would count as a failed token request.
            match self.inner.auth.authorize(&mut request).await {
                Ok(ticket) => ticket,
                Err(error) => {
                    permit.give_back();
                    return Ok(Err(Outcome::NoCredentials {
                        error,
                        cool_down: self.inner.auth.ready_in(),
                    }));
                }
            }
        } else {
            AuthTicket::fixed()
        };
        check_secure(&request.url)?;
        // Secrets the authenticator put in headers (a bearer token): taken out of any error
        // text the provider sends back.
        let sent_secrets: Vec<HeaderValue> = request
            .headers
            .values()
            .filter(|v| v.is_sensitive())
            .cloned()
            .collect();
        let mut timeout = endpoint.timeout.or(self.inner.http.timeout());
        // The time limit a time-out reports: the deadline's when it shortened the attempt.
        let mut limit = timeout;
        if let Some((at, whole)) = deadline {
            // An attempt ends at the deadline at the latest.
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                permit.give_back();
                return Err(cut());
            }
            if timeout.is_none_or(|t| left < t) {
                timeout = Some(left);
                limit = Some(whole);
            }
        }
        Ok(Ok(Prepared {
            request: self.build(request, timeout)?,
            permit,
            ticket,
            sent_secrets,
            limit,
        }))
    }

    /// The headers of an attempt before the authenticator's: the transport's defaults, the
    /// endpoint's own, the idempotency key.
    fn headers_for(
        &self,
        endpoint: &Endpoint,
        idempotency_key: Option<&(HeaderName, HeaderValue)>,
    ) -> HeaderMap {
        // No copy of an empty map (no default headers, the usual case).
        let mut headers = if self.inner.headers.is_empty() {
            HeaderMap::new()
        } else {
            self.inner.headers.clone()
        };
        for (k, v) in &endpoint.headers {
            headers.insert(k, v.clone());
        }
        if let Some((h, v)) = idempotency_key {
            headers.insert(h.clone(), v.clone());
        }
        headers
    }

    /// The outcome of an attempt whose connection failed (`e`): a time-out (reporting
    /// `limit`) or a transport error, which may have reached the provider unless it failed
    /// to connect.
    fn lost(&self, endpoint: &Endpoint, e: reqwest::Error, limit: Option<Duration>) -> Outcome {
        let delivery = if e.is_connect() {
            Delivery::NotSent
        } else {
            Delivery::MaybeSent
        };
        let error = if e.is_timeout() && !e.is_connect() {
            Error::Timeout {
                provider: self.inner.provider.clone(),
                endpoint: endpoint.name.clone(),
                after: limit.unwrap_or_default(),
                delivery,
            }
        } else {
            Error::Transport {
                provider: self.inner.provider.clone(),
                endpoint: endpoint.name.clone(),
                delivery,
                source: Arc::new(crate::error::origin_only(e)),
            }
        };
        Outcome::Lost { error, delivery }
    }

    /// Whether an error answer says the base URL is not the provider's API: HTTP 404 with a
    /// body that is not JSON (empty, HTML, text), while no call of this client (or its
    /// clones) has had a successful answer yet. An API's own "not found" (an order that
    /// does not exist) comes as JSON; and once one call succeeded, the base URL is right.
    fn not_the_api(&self, response: &Response) -> bool {
        response.status() == StatusCode::NOT_FOUND
            && !self.inner.answered.load(Ordering::Relaxed)
            && serde_json::from_slice::<serde::de::IgnoredAny>(response.body()).is_err()
    }

    /// The request reqwest sends: the URL, the headers (the `User-Agent` added unless an
    /// endpoint or the authenticator set one), the body with its `Content-Type`, the time
    /// limit. The headers are moved into it, not copied (as `RequestBuilder::headers` would
    /// do); a multipart body (whose boundary reqwest makes up) and a URL without a host
    /// (which reqwest refuses) go through the builder.
    fn build(&self, request: OutgoingRequest, timeout: Option<Duration>) -> Result<reqwest::Request, Error> {
        let OutgoingRequest {
            method,
            url,
            mut headers,
            body,
            endpoint,
        } = request;
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.inner.http.user_agent().clone());
        let body = match body {
            Some(Body::Multipart(parts)) => {
                return self.build_with_builder(method, url, headers, Some(parts), timeout, &endpoint);
            }
            _ if !url.has_host() => {
                return self.build_with_builder(method, url, headers, None, timeout, &endpoint);
            }
            None => None,
            Some(Body::Json(bytes)) => {
                headers
                    .entry(CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/json"));
                Some(reqwest::Body::from(bytes))
            }
            Some(Body::Form(fields)) => {
                headers
                    .entry(CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/x-www-form-urlencoded"));
                Some(reqwest::Body::from(Body::encode_form(&fields)))
            }
            Some(Body::Raw { content_type, bytes }) => {
                headers.insert(CONTENT_TYPE, content_type);
                Some(reqwest::Body::from(bytes))
            }
        };
        let mut built = reqwest::Request::new(method, url);
        *built.headers_mut() = headers;
        *built.body_mut() = body;
        // Only when there is one: the first request setting takes an allocation.
        if let Some(t) = timeout {
            *built.timeout_mut() = Some(t);
        }
        Ok(built)
    }

    /// [`build`](Self::build) through reqwest's builder: a multipart body, or a URL reqwest
    /// refuses (the body does not matter then: the builder fails).
    fn build_with_builder(
        &self,
        method: Method,
        url: Url,
        mut headers: HeaderMap,
        parts: Option<Vec<crate::endpoint::Part>>,
        timeout: Option<Duration>,
        endpoint: &Name,
    ) -> Result<reqwest::Request, Error> {
        let mut builder = self.inner.http.client().request(method, url);
        if let Some(parts) = parts {
            headers.remove(CONTENT_TYPE);
            let mut form = reqwest::multipart::Form::new();
            for p in &parts {
                form = form.part(p.name().to_owned(), p.to_reqwest()?);
            }
            builder = builder.multipart(form);
        }
        builder = builder.headers(headers);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        builder.build().map_err(|e| {
            Error::invalid(
                endpoint.to_string(),
                format!("the request cannot be built: {}", e.without_url()),
            )
        })
    }
}

/// `error` for an answer of `provider`'s `endpoint` that could not be read: as it is when
/// the call was safe to repeat (`harmless`) or is already unconfirmed, otherwise
/// [`Error::Unconfirmed`] with `error` as its cause, since the call may have acted.
pub(crate) fn unreadable(error: Error, harmless: bool, provider: &Name, endpoint: &Name) -> Error {
    if harmless || error.is_unconfirmed() {
        return error;
    }
    Error::Unconfirmed {
        provider: provider.clone(),
        endpoint: endpoint.clone(),
        source: Arc::new(error),
    }
}

fn with_retry_after(mut error: ProviderError, response: &Response) -> ProviderError {
    if error.retry_after.is_none() {
        error.retry_after = response
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    }
    error
}

fn new_idempotency_key() -> HeaderValue {
    let key = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&key).expect("hex is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_single_line_and_centred() {
        assert_eq!(excerpt(b"  ", None), None);
        assert_eq!(excerpt(b"{\"a\":\n 1}", None).unwrap(), "{\"a\": 1}");
        let long = format!(
            "{{\"items\":[{}\"bad\",{}1]}}",
            "1,".repeat(200),
            "1,".repeat(200)
        );
        let column = long.find("\"bad\"").unwrap() + 1;
        let e = excerpt(long.as_bytes(), Some((1, column))).unwrap();
        assert!(
            e.starts_with('…') && e.ends_with('…') && e.contains("\"bad\""),
            "{e}"
        );
        assert!(e.chars().count() <= EXCERPT_CHARS + 2);
    }

    #[test]
    fn common_error_shapes_are_read() {
        let r = |status: u16, body: &str| {
            Response::new(
                StatusCode::from_u16(status).unwrap(),
                HeaderMap::new(),
                Bytes::from(body.to_owned()),
                "p",
                "e",
            )
            .provider_error()
        };
        let oauth = r(
            400,
            r#"{"error":"invalid_client","error_description":"Unknown client"}"#,
        );
        assert_eq!(
            (oauth.code.as_deref(), oauth.message.as_deref()),
            (Some("invalid_client"), Some("Unknown client"))
        );
        let problem = r(
            400,
            r#"{"type":"x","title":"Error validating request","status":400,"detail":"Bad request","violations":[{"name":"orderItems[0].quantity","reason":"must be at least 1"}]}"#,
        );
        assert_eq!(problem.message.as_deref(), Some("Bad request"));
        assert_eq!(
            problem.violations,
            vec![FieldError::new("orderItems[0].quantity", "must be at least 1")]
        );
        let fields = r(
            400,
            r#"{"error":"order_invalid_data","errors":{"zipcode":["required"],"country":"too long"}}"#,
        );
        assert_eq!(fields.violations.len(), 2);
        let html = r(502, "<html>Bad Gateway</html>");
        assert_eq!(html.body_excerpt.as_deref(), Some("<html>Bad Gateway</html>"));
    }
}
