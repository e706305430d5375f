//! Authentication as a trait, with a shared, single-flight token cache.
//!
//! - [`Authenticator`] adds credentials to each attempt of a request (a header, a query
//!   parameter, a signed body) and is told when the provider says they expired.
//! - [`TokenSource`] fetches an access token (OAuth2 client credentials in
//!   [`ClientCredentials`], a provider's login call, ...).
//! - [`TokenCache`] holds the current token for every clone of a client: concurrent callers
//!   on a cold or expired cache wait for one token request, tokens are refreshed a margin
//!   before they expire, and an expired-token answer invalidates exactly the token it was
//!   sent with.
//! - [`TokenAuth`] puts the cached token in a header (`Authorization: Bearer ...`).

mod jwt;
mod oauth2;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use self::jwt::jwt_expiry;
pub use self::oauth2::{
    AuthorizationCodeFlow, AuthorizationRequest, ClientAuth, ClientCredentials, RefreshTokenSource,
    TokenRequestFormat,
};
use crate::error::Error;
use crate::transport::OutgoingRequest;

/// What an [`Authenticator`] used for one attempt, so that an "expired" answer invalidates
/// exactly those credentials and not a newer token another caller already fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthTicket {
    generation: Option<u64>,
}

impl AuthTicket {
    /// Credentials that cannot expire (none, a fixed key, a per-request signature).
    pub fn fixed() -> Self {
        AuthTicket { generation: None }
    }

    /// The token of this cache generation was used.
    pub fn generation(generation: u64) -> Self {
        AuthTicket {
            generation: Some(generation),
        }
    }

    /// The cache generation, if a cached token was used.
    pub fn token_generation(&self) -> Option<u64> {
        self.generation
    }
}

/// Adds credentials to requests. Implementations must not show secrets in `Debug`.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// Adds credentials to one attempt of a request. Called before every attempt, so a
    /// signature or a refreshed token is always current.
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error>;

    /// The provider said the credentials of `ticket` expired. Return `true` if new ones
    /// will be used on the next attempt (the call is then retried once).
    async fn invalidate(&self, ticket: &AuthTicket) -> bool {
        let _ = ticket;
        false
    }
}

/// Sends requests without credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn authorize(&self, _request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        Ok(AuthTicket::fixed())
    }
}

/// An access token as a token source hands it out.
#[derive(Clone)]
pub struct Token {
    secret: SecretString,
    expires_in: Option<Duration>,
    refresh_token: Option<SecretString>,
}

impl Token {
    /// A token with no known expiry.
    pub fn new(secret: SecretString) -> Self {
        Token {
            secret,
            expires_in: None,
            refresh_token: None,
        }
    }

    /// Sets how long the token stays valid from when it was requested.
    pub fn with_expires_in(mut self, expires_in: Option<Duration>) -> Self {
        self.expires_in = expires_in;
        self
    }

    /// Sets the refresh token that came with it.
    pub fn with_refresh_token(mut self, refresh_token: Option<SecretString>) -> Self {
        self.refresh_token = refresh_token;
        self
    }

    /// The token itself.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// How long it stays valid, if known.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// The refresh token, if one came.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Fetches access tokens.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// Requests a new token from the provider.
    async fn fetch(&self) -> Result<Token, Error>;
}

/// A token handed out by the cache, with the generation to name it by on invalidation.
#[derive(Clone)]
pub struct Lease {
    /// The token.
    pub secret: SecretString,
    /// Which cache generation it belongs to.
    pub generation: u64,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("secret", &"[redacted]")
            .field("generation", &self.generation)
            .finish()
    }
}

struct Cached {
    secret: SecretString,
    generation: u64,
    refresh_at: Option<Instant>,
}

#[derive(Default)]
struct CacheState {
    current: Option<Cached>,
    generations: u64,
    /// Completed token requests, successful or not.
    attempts: u64,
    last_failure: Option<Error>,
}

impl CacheState {
    fn fresh(&self, now: Instant) -> Option<Lease> {
        let c = self.current.as_ref()?;
        if c.refresh_at.is_some_and(|at| now >= at) {
            return None;
        }
        Some(Lease {
            secret: c.secret.clone(),
            generation: c.generation,
        })
    }
}

struct CacheInner {
    source: Arc<dyn TokenSource>,
    state: Mutex<CacheState>,
    /// Held by the one caller that requests a token; the others queue behind it.
    flight: tokio::sync::Mutex<()>,
    margin: Duration,
    jitter: Duration,
}

/// A token cache shared by every clone of a client.
///
/// - Single flight: however many callers find the cache cold or expired at once, one token
///   request is made and the rest wait for its result (a failure too, so a broken token
///   endpoint is not hammered by every waiter in turn).
/// - Refresh ahead: a token is replaced `margin` (plus up to `jitter`, at most a quarter of
///   its lifetime) before it expires, so no request is sent with a token about to lapse.
/// - Invalidation by generation: [`TokenCache::invalidate`] drops the token only if it is
///   still the one that was refused.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<CacheInner>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("TokenCache")
            .field("source", &self.inner.source)
            .field("token", &state.current.as_ref().map(|_| "[redacted]"))
            .field("generation", &state.generations)
            .field("margin", &self.inner.margin)
            .finish()
    }
}

impl TokenCache {
    /// A cache over `source`, refreshing 30 s (plus up to 10 s of jitter) before expiry.
    pub fn new(source: impl TokenSource + 'static) -> Self {
        Self::with_margin(source, Duration::from_secs(30), Duration::from_secs(10))
    }

    /// A cache refreshing `margin` plus up to `jitter` before expiry.
    pub fn with_margin(source: impl TokenSource + 'static, margin: Duration, jitter: Duration) -> Self {
        TokenCache {
            inner: Arc::new(CacheInner {
                source: Arc::new(source),
                state: Mutex::new(CacheState::default()),
                flight: tokio::sync::Mutex::new(()),
                margin,
                jitter,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current token, requesting one if the cache is cold or the token is due.
    pub async fn get(&self) -> Result<Lease, Error> {
        let seen = {
            let state = self.state();
            if let Some(lease) = state.fresh(Instant::now()) {
                return Ok(lease);
            }
            state.attempts
        };
        let _flight = self.inner.flight.lock().await;
        {
            let state = self.state();
            if let Some(lease) = state.fresh(Instant::now()) {
                return Ok(lease);
            }
            if state.attempts > seen
                && let Some(failure) = &state.last_failure
            {
                // The request this caller waited for failed: share its error.
                return Err(failure.clone());
            }
        }
        let requested_at = Instant::now();
        let result = self.inner.source.fetch().await;
        let mut state = self.state();
        state.attempts += 1;
        match result {
            Ok(token) => {
                state.generations += 1;
                let generation = state.generations;
                let refresh_at = token.expires_in.map(|life| requested_at + life - self.lead(life));
                let lease = Lease {
                    secret: token.secret.clone(),
                    generation,
                };
                state.current = Some(Cached {
                    secret: token.secret,
                    generation,
                    refresh_at,
                });
                state.last_failure = None;
                tracing::debug!(generation, expires_in = ?token.expires_in, "access token obtained");
                Ok(lease)
            }
            Err(e) => {
                state.last_failure = Some(e.clone());
                Err(e)
            }
        }
    }

    fn lead(&self, life: Duration) -> Duration {
        let jitter = if self.inner.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.inner.jitter.mul_f64(fastrand::f64())
        };
        (self.inner.margin + jitter).min(life / 4)
    }

    /// Drops the token of `generation` if it is still the current one. Returns whether it
    /// was dropped (`false`: a newer token is already in place).
    pub fn invalidate(&self, generation: u64) -> bool {
        let mut state = self.state();
        if state.current.as_ref().is_some_and(|c| c.generation == generation) {
            state.current = None;
            tracing::debug!(generation, "access token invalidated");
            true
        } else {
            false
        }
    }

    /// How many token requests have completed (successful or not).
    pub fn token_requests(&self) -> u64 {
        self.state().attempts
    }
}

/// Puts the cached token in a header: `Authorization: Bearer <token>` by default, or a
/// provider's own header (`user_token: <token>`).
#[derive(Debug, Clone)]
pub struct TokenAuth {
    cache: TokenCache,
    header: HeaderName,
    scheme: Option<&'static str>,
}

impl TokenAuth {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(cache: TokenCache) -> Self {
        TokenAuth {
            cache,
            header: AUTHORIZATION,
            scheme: Some("Bearer"),
        }
    }

    /// `<header>: <token>`, with no scheme.
    pub fn header(cache: TokenCache, header: HeaderName) -> Self {
        TokenAuth {
            cache,
            header,
            scheme: None,
        }
    }

    /// The cache behind it.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }
}

/// A header value holding a secret, marked sensitive (HTTP/2 never indexes it).
pub fn secret_header(scheme: Option<&str>, secret: &SecretString) -> Result<HeaderValue, Error> {
    let raw = secret.expose_secret();
    let mut value = match scheme {
        Some(s) => HeaderValue::from_str(&format!("{s} {raw}")),
        None => HeaderValue::from_str(raw),
    }
    .map_err(|_| Error::config("the access token holds characters that cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[async_trait]
impl Authenticator for TokenAuth {
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        let lease = self.cache.get().await?;
        let value = secret_header(self.scheme, &lease.secret)?;
        request.headers.insert(self.header.clone(), value);
        Ok(AuthTicket::generation(lease.generation))
    }

    async fn invalidate(&self, ticket: &AuthTicket) -> bool {
        match ticket.token_generation() {
            Some(generation) => {
                self.cache.invalidate(generation);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicU64,
        life: Option<Duration>,
        fail: bool,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self) -> Result<Token, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail {
                return Err(Error::config("token endpoint down"));
            }
            Ok(Token::new(format!("tok-{n}").into()).with_expires_in(self.life))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_request_is_shared_by_its_waiters() {
        let cache = TokenCache::new(Counting {
            fail: true,
            ..Default::default()
        });
        let results = futures_util::future::join_all((0..50).map(|_| cache.get())).await;
        assert!(results.iter().all(|r| r.is_err()));
        assert_eq!(cache.token_requests(), 1, "waiters share the failure");
        assert!(cache.get().await.is_err());
        assert_eq!(cache.token_requests(), 2, "a later caller tries again");
    }

    #[tokio::test(start_paused = true)]
    async fn invalidation_only_drops_the_refused_generation() {
        let cache = TokenCache::new(Counting::default());
        let first = cache.get().await.unwrap();
        assert!(cache.invalidate(first.generation));
        let second = cache.get().await.unwrap();
        assert_eq!(second.secret.expose_secret(), "tok-2");
        assert!(
            !cache.invalidate(first.generation),
            "stale invalidation is ignored"
        );
        assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "tok-2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_lived_token_keeps_most_of_its_life() {
        let cache = TokenCache::with_margin(
            Counting {
                life: Some(Duration::from_secs(8)),
                ..Default::default()
            },
            Duration::from_secs(30),
            Duration::ZERO,
        );
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(5)).await;
        cache.get().await.unwrap();
        assert_eq!(
            cache.token_requests(),
            1,
            "margin is capped at a quarter of the life"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.get().await.unwrap();
        assert_eq!(cache.token_requests(), 2);
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = Token::new("s3cret-token".to_owned().into())
            .with_refresh_token(Some("s3cret-refresh".to_owned().into()));
        let shown = format!("{t:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let lease = Lease {
            secret: "s3cret-token".to_owned().into(),
            generation: 1,
        };
        assert!(!format!("{lease:?}").contains("s3cret"));
        let h = secret_header(Some("Bearer"), &"s3cret".to_owned().into()).unwrap();
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("s3cret"));
    }
}
