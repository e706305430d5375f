//! The one error type of the runtime, split by where a call failed.
//!
//! Every provider crate returns [`Error`]. Callers decide with the predicates
//! ([`Error::is_retryable`], [`Error::retry_after`], [`Error::is_auth`],
//! [`Error::may_have_reached_server`], ...) instead of matching every variant. Sources are
//! kept (behind an `Arc`, so the error is `Clone` and can be handed to every caller that
//! waited on the same token request), never flattened into strings.
//!
//! No variant ever holds a secret: request URLs are stripped from transport errors (a query
//! may carry an API key), and bodies of token answers are never quoted.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A name used in errors and traces: a provider or endpoint name.
pub type Name = Cow<'static, str>;

/// Whether a failed request may have reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The request certainly did not reach the provider (no connection was made).
    NotSent,
    /// The request was (at least partly) sent; the provider may have acted on it.
    MaybeSent,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delivery::NotSent => "not sent",
            Delivery::MaybeSent => "may have reached the server",
        })
    }
}

/// One rejected field: in input validated before sending, or in a provider's answer
/// (bol `violations`, ShopWeDo per-field `errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as the provider or the input names it (`shipping_address.zipcode`).
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

impl FieldError {
    /// A rejected field with its reason.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a piece of input, collected before anything is sent.
///
/// ```
/// use commerce_core::ValidationErrors;
/// let mut errors = ValidationErrors::new();
/// errors.check(false, "email", "is not a well-formed address");
/// errors.check(true, "order_id", "is required");
/// assert_eq!(errors.to_string(), "email: is not a well-formed address");
/// assert!(errors.into_result(()).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `field: message`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Records `field: message` unless `ok` holds.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.push(field, message);
        }
    }

    /// Records that a required text field is missing or blank.
    pub fn require(&mut self, value: &str, field: impl Into<String>) {
        self.check(!value.trim().is_empty(), field, "is required");
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The recorded problems, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// `Ok(value)` when nothing was recorded, otherwise [`Error::InvalidInput`].
    pub fn into_result<T>(self, value: T) -> Result<T, Error> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(Error::InvalidInput(self))
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, &self.errors)
    }
}

fn join(f: &mut fmt::Formatter<'_>, items: &[FieldError]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Whether an error answer is worth sending again, and what sending it again risks: the
/// classifier's word on it, kept in [`ProviderError::retry_hint`].
///
/// Every [`ProviderError`] starts with [`RetryHint::from_status`], the one place the
/// retryable HTTP statuses are written; a classifier that reads a provider's own codes
/// (Sitejabber's 429 and 503 in an answer with HTTP 200) sets it instead, keeping the real
/// status. The transport's retries, [`Error::is_retryable`] and [`Error::is_rate_limited`]
/// all read it. What a retry may do depends on the endpoint's
/// [`Replay`](crate::Replay) too: see the replay table in the transport's documentation
/// (ARCHITECTURE.md, "Retries and replay safety").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryHint {
    /// Not worth sending again as it is: the caller must change something first (most
    /// 4xx), or the provider failed in a way not known to pass (500): the answer is final.
    Final,
    /// The provider refused the call for its rate limit without acting on it (HTTP 429):
    /// sent again whatever the endpoint's replay rule, after the whole rate bucket has been
    /// paused; given up as [`Error::RateLimited`].
    Throttled,
    /// The provider refused the call for a passing reason without acting on it (HTTP 503):
    /// sent again whatever the endpoint's replay rule.
    Unavailable,
    /// A gateway failed on the way (HTTP 502, 504) and may have passed the request on, so
    /// the provider may have acted: sent again only where the endpoint's replay rule allows
    /// a request that may have been delivered, otherwise [`Error::Unconfirmed`].
    Gateway,
}

impl RetryHint {
    /// The hint an HTTP status gives on its own: 429 [`Throttled`](Self::Throttled), 503
    /// [`Unavailable`](Self::Unavailable), 502 and 504 [`Gateway`](Self::Gateway), any
    /// other [`Final`](Self::Final).
    pub fn from_status(status: u16) -> Self {
        match status {
            429 => RetryHint::Throttled,
            503 => RetryHint::Unavailable,
            502 | 504 => RetryHint::Gateway,
            _ => RetryHint::Final,
        }
    }

    /// Whether trying the call again later could succeed (anything but
    /// [`Final`](Self::Final)).
    pub fn is_retryable(self) -> bool {
        self != RetryHint::Final
    }
}

/// An error answer of a provider: its HTTP status and, where it sent them, its own code,
/// message and per-field violations, and whether it is worth sending again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// Which provider answered.
    pub provider: Name,
    /// Which endpoint was called.
    pub endpoint: Name,
    /// The HTTP status of the answer (HTTP 200 for an error a provider reports in the body,
    /// as Sitejabber does). Changing it leaves [`retry_hint`](Self::retry_hint) as it was.
    pub status: u16,
    /// Whether the answer is worth sending again: [`RetryHint::from_status`] of the status
    /// unless the classifier knew better ([`with_retry_hint`](Self::with_retry_hint)).
    pub retry_hint: RetryHint,
    /// The provider's error code (Sitejabber `errorCode`, OAuth `error`, ShopWeDo `error`).
    pub code: Option<String>,
    /// The provider's message (`errorReason`, `error_description`, Problem `detail`).
    pub message: Option<String>,
    /// Per-field problems (bol `violations`, ShopWeDo `errors`).
    pub violations: Vec<FieldError>,
    /// How long the provider asked the caller to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// A short excerpt of the body, kept when no code or message could be read from it.
    pub body_excerpt: Option<String>,
}

impl ProviderError {
    /// An error answer with just a status, its [`retry_hint`](Self::retry_hint) hint read from the
    /// status ([`RetryHint::from_status`]); fill the public fields as the answer allows.
    pub fn new(provider: impl Into<Name>, endpoint: impl Into<Name>, status: u16) -> Self {
        ProviderError {
            provider: provider.into(),
            endpoint: endpoint.into(),
            status,
            retry_hint: RetryHint::from_status(status),
            code: None,
            message: None,
            violations: Vec::new(),
            retry_after: None,
            body_excerpt: None,
        }
    }

    /// Sets the provider's code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the provider's message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the retry hint, for a provider whose own code says more than the HTTP status
    /// (Sitejabber's `errorCode` 429 in an answer with HTTP 200 is
    /// [`RetryHint::Throttled`]).
    pub fn with_retry_hint(mut self, hint: RetryHint) -> Self {
        self.retry_hint = hint;
        self
    }

    /// Adds per-field violations.
    pub fn with_violations(mut self, violations: impl IntoIterator<Item = FieldError>) -> Self {
        self.violations.extend(violations);
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: provider error (HTTP {})",
            self.provider, self.endpoint, self.status
        )?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if !self.violations.is_empty() {
            f.write_str(" [")?;
            join(f, &self.violations)?;
            f.write_str("]")?;
        }
        if self.code.is_none()
            && self.message.is_none()
            && let Some(body) = &self.body_excerpt
        {
            write!(f, ": {body}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// Authentication failed: credentials refused, a token request failed, or the provider
/// still refused a fresh token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthError {
    /// Which provider refused.
    pub provider: Name,
    /// The endpoint (or `token`) that failed.
    pub endpoint: Name,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The provider's code (`invalid_client`, `access_denied`, ...).
    pub code: Option<String>,
    /// The provider's message or what went wrong.
    pub message: String,
    /// The underlying failure, if any.
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl AuthError {
    /// An authentication failure with a message.
    pub fn new(provider: impl Into<Name>, endpoint: impl Into<Name>, message: impl Into<String>) -> Self {
        AuthError {
            provider: provider.into(),
            endpoint: endpoint.into(),
            status: None,
            code: None,
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: authentication failed", self.provider, self.endpoint)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An answer that could not be decoded into the expected type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DecodeError {
    /// The provider.
    pub provider: Name,
    /// The endpoint.
    pub endpoint: Name,
    /// The JSON path of the failing value (`items[3].price`), `.` for the root.
    pub path: String,
    /// What did not fit.
    pub message: String,
    /// A short excerpt of the body around the failure (absent for answers that carry secrets).
    pub excerpt: Option<String>,
    /// The decoder's error (absent for answers that carry secrets).
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl DecodeError {
    /// A decoding failure at `path`.
    pub fn new(
        provider: impl Into<Name>,
        endpoint: impl Into<Name>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DecodeError {
            provider: provider.into(),
            endpoint: endpoint.into(),
            path: path.into(),
            message: message.into(),
            excerpt: None,
            source: None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: could not decode the answer at `{}`: {}",
            self.provider, self.endpoint, self.path, self.message
        )?;
        if let Some(e) = &self.excerpt {
            write!(f, "; body: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Everything that can go wrong in a call, split by where it failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was rejected before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(ValidationErrors),

    /// The client is misconfigured (empty credentials, a non-HTTPS URL, ...); nothing was sent.
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The connection failed or broke. Its text names the host and port and the cause at
    /// the root of the chain ("could not connect to api.bol.com:443: Connection refused").
    #[error("{provider} {endpoint}: {source} ({delivery})")]
    Transport {
        /// The provider.
        provider: Name,
        /// The endpoint.
        endpoint: Name,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
        /// What failed: a [`TransportFailure`] for the errors this crate makes (see
        /// [`Error::transport_failure`]), with the HTTP client's error behind it (its URL cut
        /// to the origin: a path or query may carry a secret, the host and port do not).
        source: Arc<dyn std::error::Error + Send + Sync>,
    },

    /// No answer came in time.
    #[error("{provider} {endpoint}: no answer within {after:?} ({delivery})")]
    Timeout {
        /// The provider.
        provider: Name,
        /// The endpoint.
        endpoint: Name,
        /// The time limit that ran out.
        after: Duration,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
    },

    /// A request that is not safe to repeat failed after it may have reached the provider, so
    /// it was not re-sent. Whether it took effect is unknown: look it up before trying again.
    #[error(
        "{provider} {endpoint}: the request may have reached the server and was not re-sent, \
         because repeating it could act twice; check whether it took effect before trying again \
         (cause: {source})"
    )]
    Unconfirmed {
        /// The provider.
        provider: Name,
        /// The endpoint.
        endpoint: Name,
        /// The failure that left the outcome unknown.
        source: Arc<Error>,
    },

    /// The provider refused the call for its rate limit, and the wait it asked for was longer
    /// than the client may wait, or the retries ran out.
    #[error("{provider} {endpoint}: rate limited{}{}", fmt_wait(.retry_after), fmt_answer(.answer))]
    RateLimited {
        /// The provider.
        provider: Name,
        /// The endpoint.
        endpoint: Name,
        /// How long the provider asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The provider's last answer, when the limit was its own (`None` when the client's
        /// pacing refused to wait that long).
        answer: Option<Box<ProviderError>>,
    },

    /// Authentication failed.
    #[error(transparent)]
    Auth(Box<AuthError>),

    /// The provider answered with an error.
    #[error(transparent)]
    Provider(Box<ProviderError>),

    /// The answer could not be decoded into the expected type.
    #[error(transparent)]
    Decode(Box<DecodeError>),

    /// The answer was larger than the client reads (counted after decompression); the rest
    /// was not read. Raise the limit with the client builder's `max_answer_bytes` if the
    /// provider really sends answers this large.
    #[error(
        "{provider} {endpoint}: the answer is larger than the limit of {limit} bytes and was not \
         read further{}",
        fmt_declared(.declared)
    )]
    TooLarge {
        /// The provider.
        provider: Name,
        /// The endpoint.
        endpoint: Name,
        /// The limit in bytes.
        limit: u64,
        /// The size the answer announced (`Content-Length`), when it did.
        declared: Option<u64>,
    },

    /// The state shared with other processes (the token store, the rate store: a
    /// PostgreSQL database) could not be read or written; nothing was sent. Retryable.
    #[error("shared state: {message} (nothing was sent)")]
    Shared {
        /// What failed.
        message: String,
    },

    /// A store the caller keeps (the flow's journal: an SQLite file, a PostgreSQL database)
    /// could not be read or written; no provider was called for it. Retryable when the
    /// failure may pass (a lock held too long, a dropped connection, a serialization
    /// failure); not when someone must act first (a full disk, a read-only or corrupt file, a
    /// schema of a newer release, a changed migration).
    #[error("{message}")]
    Storage {
        /// What failed.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },

    /// The provider's configuration cannot work as it is, found on the wire: a token URL
    /// answering 404, a TLS handshake that failed (`https://` to a plain-HTTP port, a
    /// certificate refused), a base URL answering 404 with something that is not the
    /// provider's API. Its text says what to check (the URL as configured, without its
    /// query or user info). Not retryable, and [`stops_provider`](Error::stops_provider):
    /// nothing will pass until an operator changes the configuration.
    #[error("{provider} {endpoint}: configuration error: {message}")]
    Misconfigured {
        /// The provider.
        provider: Name,
        /// The endpoint (`token` for the token request).
        endpoint: Name,
        /// The HTTP status, when an answer came (404).
        status: Option<u16>,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
        /// What failed and what to check.
        message: String,
    },

    /// The provider does not offer this operation.
    #[error("{provider}: {operation} is not supported: {reason}")]
    Unsupported {
        /// The provider.
        provider: Name,
        /// The operation asked for.
        operation: Name,
        /// Why, and what to do instead.
        reason: String,
    },
}

fn fmt_answer(answer: &Option<Box<ProviderError>>) -> String {
    let Some(a) = answer else {
        return String::new();
    };
    match (&a.code, &a.message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

fn fmt_declared(declared: &Option<u64>) -> String {
    match declared {
        Some(n) => format!(" (it announced {n} bytes)"),
        None => String::new(),
    }
}

fn fmt_wait(wait: &Option<Duration>) -> String {
    match wait {
        Some(d) => format!(" (asked to wait {d:?})"),
        None => String::new(),
    }
}

impl Error {
    /// What a log line says of this error: an answer of the provider by its status alone
    /// (its text can carry a customer's data or another party's token; the caller gets it
    /// in the error itself), anything else as it reads.
    pub(crate) fn log_text(&self) -> String {
        match self {
            Error::Provider(p) => format!(
                "{} {}: provider error (HTTP {})",
                p.provider, p.endpoint, p.status
            ),
            Error::Decode(_) => "an answer that does not decode".to_owned(),
            Error::Auth(a) => format!(
                "{} {}: credentials refused{}",
                a.provider,
                a.endpoint,
                a.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            ),
            Error::RateLimited { .. } => "rate limited".to_owned(),
            Error::Unconfirmed { source, .. } => source.log_text(),
            other => other.to_string(),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// A failure of the state shared with other processes ([`Error::Shared`]).
    pub fn shared(message: impl std::fmt::Display) -> Self {
        Error::Shared {
            message: message.to_string(),
        }
    }

    /// A failure of a store the caller keeps ([`Error::Storage`]).
    pub fn storage(message: impl std::fmt::Display, retryable: bool) -> Self {
        Error::Storage {
            message: message.to_string(),
            retryable,
        }
    }

    /// A single invalid input field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        errors.push(field, message);
        Error::InvalidInput(errors)
    }

    /// Whether trying the same call again later could succeed.
    ///
    /// True for transport failures and time-outs of calls that are safe to repeat, rate
    /// limits, and provider answers whose [`RetryHint`] is retryable (by default 429, 502,
    /// 503 and 504: [`RetryHint::from_status`]). False for everything the caller must
    /// change first, and for [`Error::Unconfirmed`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::RateLimited { .. }
            | Error::Shared { .. } => true,
            Error::Storage { retryable, .. } => *retryable,
            Error::Provider(p) => p.retry_hint.is_retryable(),
            _ => false,
        }
    }

    /// Whether this error says the provider's configuration or credentials cannot work
    /// until an operator changes them, so that a runner should stop all work with this
    /// provider for the rest of the process (the variables cannot change within it). Never
    /// [`is_retryable`](Self::is_retryable), and the runtime does not retry it.
    ///
    /// True for:
    /// - [`Error::Auth`] with a 4xx answer ([`AuthError::status`]; 429 is never one): the
    ///   token endpoint refused the credentials (`invalid_client`, `invalid_grant`: 400,
    ///   401, 403), or the API refused a token right after it was renewed, or refused a
    ///   fixed key. The token cache then asks for no token again in this process: at most
    ///   two token requests per refused credential. (A token endpoint answering 200 with
    ///   something that is not a token is not one: it cools down and is asked again.)
    /// - [`Error::Misconfigured`]: a token URL answering 404; a TLS handshake that failed
    ///   (`https://` to a plain-HTTP port, a certificate refused); a base URL answering 404
    ///   with a body that is not JSON while the client has not had one successful answer
    ///   yet (an API's own "not found" comes as JSON, or after other calls succeeded).
    ///
    /// False for everything else, configuration errors found before sending
    /// ([`Error::Config`]) included: they come from building a client or from one call's
    /// input.
    pub fn stops_provider(&self) -> bool {
        match self {
            Error::Auth(a) => a.status.is_some_and(|s| (400..500).contains(&s) && s != 429),
            Error::Misconfigured { .. } => true,
            _ => false,
        }
    }

    /// How long the provider asked to wait before the next call, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            Error::Provider(p) => p.retry_after,
            _ => None,
        }
    }

    /// Whether authentication failed.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth(_))
    }

    /// Whether the provider refused the call for its rate limit ([`Error::RateLimited`], or
    /// an answer whose hint is [`RetryHint::Throttled`]).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
            || matches!(self, Error::Provider(p) if p.retry_hint == RetryHint::Throttled)
    }

    /// Whether the call was refused before sending for bad input or configuration.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput(_) | Error::Config { .. })
    }

    /// Whether the outcome of a non-repeatable request is unknown ([`Error::Unconfirmed`]).
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Error::Unconfirmed { .. })
    }

    /// Whether the request may have reached the provider (and so may have taken effect).
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            Error::Transport { delivery, .. } | Error::Timeout { delivery, .. } => {
                *delivery == Delivery::MaybeSent
            }
            Error::Unconfirmed { .. } => true,
            Error::Misconfigured { delivery, .. } => *delivery == Delivery::MaybeSent,
            Error::InvalidInput(_)
            | Error::Config { .. }
            | Error::Unsupported { .. }
            | Error::Storage { .. } => false,
            // An answer came: the provider saw the request.
            _ => true,
        }
    }

    /// The HTTP status of the provider's answer, if one came.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Provider(p) => Some(p.status),
            Error::Auth(a) => a.status,
            Error::Misconfigured { status, .. } => *status,
            Error::Unconfirmed { source, .. } => source.status(),
            Error::RateLimited { answer: Some(a), .. } => Some(a.status),
            _ => None,
        }
    }

    /// The provider's own error code, if it sent one.
    pub fn provider_code(&self) -> Option<&str> {
        match self {
            Error::Provider(p) => p.code.as_deref(),
            Error::Auth(a) => a.code.as_deref(),
            Error::RateLimited { answer: Some(a), .. } => a.code.as_deref(),
            _ => None,
        }
    }

    /// The provider's answer, for errors that are one.
    pub fn as_provider_error(&self) -> Option<&ProviderError> {
        match self {
            Error::Provider(p) => Some(&**p),
            _ => None,
        }
    }

    /// What failed on the connection, for an [`Error::Transport`] (also behind an
    /// [`Error::Unconfirmed`]): whether it could not connect, timed out, or broke off.
    pub fn transport_failure(&self) -> Option<&TransportFailure> {
        match self {
            Error::Transport { source, .. } => source.downcast_ref::<TransportFailure>(),
            Error::Unconfirmed { source, .. } => source.transport_failure(),
            _ => None,
        }
    }

    /// The fields rejected, by input validation or by the provider.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::InvalidInput(v) => v.errors(),
            Error::Provider(p) => &p.violations,
            _ => &[],
        }
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

/// The source of an [`Error::Transport`]: a connection that failed or broke, where and
/// why, in words ("could not connect to api.bol.com:443: Connection refused"), with the
/// HTTP client's own error as its [`source`](std::error::Error::source) (its URL cut to the
/// origin). The HTTP client's error type is not part of this crate's API: decide with
/// [`is_connect`](Self::is_connect), [`is_timeout`](Self::is_timeout) and
/// [`is_body`](Self::is_body).
#[derive(Debug)]
pub struct TransportFailure {
    text: String,
    connect: bool,
    timeout: bool,
    body: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportFailure {
    /// A failure described by `text`; `connect`: no connection was made, `timeout`: a time
    /// limit ran out, `body`: the answer broke off while it was read.
    pub(crate) fn new(
        text: String,
        connect: bool,
        timeout: bool,
        body: bool,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TransportFailure {
            text,
            connect,
            timeout,
            body,
            source,
        }
    }

    /// Whether no connection could be made (nothing was sent).
    pub fn is_connect(&self) -> bool {
        self.connect
    }

    /// Whether a time limit ran out.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// Whether the answer broke off while it was read.
    pub fn is_body(&self) -> bool {
        self.body
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for TransportFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        Error::Provider(Box::new(e))
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::Auth(Box::new(e))
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(Box::new(e))
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::InvalidInput(e)
    }
}
