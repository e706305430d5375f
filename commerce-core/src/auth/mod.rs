//! Layer 4, auth: how a request gets its credentials.
//!
//! - [`Authenticator`] adds credentials to each attempt of a request (a header, a query
//!   parameter, a signed body) and is told when the provider says they expired.
//! - [`TokenAuth`] puts the token of a [`TokenCache`] (layer 3) in a header
//!   (`Authorization: Bearer ...`).
//! - [`oauth2`]: the OAuth2 token sources (client credentials, authorization code with
//!   PKCE, refresh tokens), whose token requests go through the one exchange of the wire
//!   layer; [`jwt`]: reading a JWT's expiry.
//!
//! The children import this file's items by their full path and this file re-exports none
//! of theirs, so no import goes both ways.

pub(crate) mod jwt;
pub(crate) mod oauth2;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::state::token_cache::TokenCache;
use crate::wire::request::OutgoingRequest;

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

    /// The provider still refused the credentials of `ticket` after they were renewed (or
    /// they could not be renewed): `error` is what the caller gets. A token cache stops
    /// asking for tokens for a cool-down and hands out `error` meanwhile; a 401 can mean a
    /// blocked account, and asking again at once would only count against the provider's
    /// limit on token requests.
    async fn rejected(&self, ticket: &AuthTicket, error: &Error) {
        let _ = (ticket, error);
    }

    /// How long from now [`authorize`](Self::authorize) will keep failing without asking
    /// the provider (a cool-down after a failed token request, or the ceiling on token
    /// requests reached). The transport waits at least this long before trying again.
    fn ready_in(&self) -> Duration {
        Duration::ZERO
    }

    /// Makes the credentials ready before the transport takes a rate permit for the call (a
    /// token cache gets its token), so that no caller holds a permit while it waits for a
    /// token request, which may need a permit itself. [`authorize`](Self::authorize) follows.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Who the credentials are (a client id, a shop id, a login; never a secret), for
    /// state shared with other processes: the rate budgets of one account are kept under
    /// it. `None`: the provider address alone names the budget.
    fn account(&self) -> Option<String> {
        None
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

/// Puts the cached token in a header: `Authorization: Bearer <token>` by default, or a
/// provider's own header (`user_token: <token>`); optionally with something more on every
/// request ([`TokenAuth::each_request`]).
#[derive(Debug, Clone)]
pub struct TokenAuth {
    cache: TokenCache,
    header: HeaderName,
    scheme: Option<&'static str>,
    each: Option<RequestHook>,
}

/// What [`TokenAuth::each_request`] adds to every request.
#[derive(Clone)]
struct RequestHook(Arc<dyn Fn(&mut OutgoingRequest) + Send + Sync>);

impl fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestHook")
    }
}

impl TokenAuth {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(cache: TokenCache) -> Self {
        TokenAuth {
            cache,
            header: AUTHORIZATION,
            scheme: Some("Bearer"),
            each: None,
        }
    }

    /// `<header>: <token>`, with no scheme.
    pub fn header(cache: TokenCache, header: HeaderName) -> Self {
        TokenAuth {
            cache,
            header,
            scheme: None,
            each: None,
        }
    }

    /// Also applies `f` to every request, before the token is added: what a provider wants
    /// on every call besides the token (an API key in the query, `Accept-Encoding: gzip`).
    /// One authenticator keeps the token's expiry, rejection and cool-down handling, so a
    /// provider crate need not wrap `TokenAuth` and forward each of them.
    pub fn each_request(mut self, f: impl Fn(&mut OutgoingRequest) + Send + Sync + 'static) -> Self {
        self.each = Some(RequestHook(Arc::new(f)));
        self
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
        if let Some(each) = &self.each {
            (each.0)(request);
        }
        let lease = self.cache.get().await?;
        let value = match secret_header(self.scheme, &lease.secret) {
            Ok(value) => value,
            Err(e) => {
                // A token no header can carry is useless: drop it and cool down, rather than
                // failing every call until it expires.
                self.cache.reject(lease.generation, e.clone());
                return Err(e);
            }
        };
        request.headers.insert(self.header.clone(), value);
        Ok(AuthTicket::generation(lease.generation))
    }

    async fn invalidate(&self, ticket: &AuthTicket) -> bool {
        match ticket.token_generation() {
            // A token on probation is not renewed: its refusal is a rejection.
            Some(generation) if self.cache.on_probation(generation) => false,
            Some(generation) => {
                self.cache.invalidate(generation);
                true
            }
            None => false,
        }
    }

    async fn rejected(&self, ticket: &AuthTicket, error: &Error) {
        if let Some(generation) = ticket.token_generation() {
            self.cache.reject(generation, error.clone());
        }
    }

    fn ready_in(&self) -> Duration {
        self.cache.ready_in()
    }

    fn account(&self) -> Option<String> {
        self.cache.account()
    }

    async fn ready(&self) -> Result<(), Error> {
        self.cache.get().await.map(drop)
    }
}
