//! Layer 3, state: the token cache, one per credential, shared by every clone of a client:
//! single-flight token requests, refresh ahead of expiry, invalidation by generation, and
//! the token rules' discipline; shared with other processes through a
//! [`TokenStore`] when one is given.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;

use crate::error::{AuthError, Delivery, Error, Name};
use crate::policy::buckets::POLL;
use crate::policy::tokens::TokenRules;
use crate::state::token_store::{Credential, Stored, TokenStore};

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

    /// The provider's name, for errors the cache makes itself.
    fn provider(&self) -> Name {
        Name::Borrowed("token")
    }

    /// The credential the tokens are for, when they may be shared with other processes
    /// through a [`TokenStore`] ([`TokenCache::with_store`]); `None`: they are never shared.
    fn credential(&self) -> Option<Credential> {
        None
    }
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
    /// Its generation in the shared store, when it was shared.
    stored: Option<u64>,
    refresh_at: Option<Instant>,
    expires_at: Option<Instant>,
    /// Fetched after a rejection or to replace a token refused as expired: until this
    /// instant a refusal of it is a rejection, with no second token asked for.
    probation: Option<Instant>,
}

impl Cached {
    fn lease(&self) -> Lease {
        Lease {
            secret: self.secret.clone(),
            generation: self.generation,
        }
    }
}

#[derive(Default)]
struct CacheState {
    current: Option<Cached>,
    generations: u64,
    /// Completed token flights (a request to the provider, or a token taken from the shared
    /// store), successful or not.
    attempts: u64,
    /// Token requests made to the provider.
    requests: u64,
    /// The shared store's generation of a token the provider refused: dropped for every
    /// process on the next look at the store.
    refused_shared: Option<u64>,
    last_failure: Option<Error>,
    /// Failed token requests and rejected tokens since the last token that lived its life:
    /// the cool-down doubles with each.
    strikes: u32,
    /// The last token was rejected (its replacement goes on probation).
    rejected: bool,
    /// The last token was dropped as expired (its replacement goes on probation too).
    invalidated: bool,
    /// No token request before this instant.
    cooling_until: Option<Instant>,
    /// When the token requests of the last minute started (the ceiling).
    recent: VecDeque<Instant>,
    /// The credential was refused for good ([`Error::stops_provider`]): no token is asked
    /// for again in this process, and this error is handed out instead.
    refused_for_good: Option<Error>,
}

/// What the cache does for a caller without a fresh token.
enum Hold {
    /// Hand out this token (due for renewal, but still valid while renewal must wait).
    Serve(Lease),
    /// Fail with this error, without asking the provider.
    Fail(Error),
    /// Ask the provider.
    Ask,
}

impl CacheState {
    fn fresh(&self, now: Instant) -> Option<Lease> {
        let c = self.current.as_ref()?;
        if c.refresh_at.is_some_and(|at| now >= at) {
            return None;
        }
        Some(c.lease())
    }

    fn still_valid(&self, now: Instant) -> Option<Lease> {
        let c = self.current.as_ref()?;
        c.expires_at.is_none_or(|at| now < at).then(|| c.lease())
    }

    /// Whether a token request may be made now: not during a cool-down, and not past the
    /// ceiling of token requests per window.
    fn hold(&mut self, now: Instant, rules: &TokenRules, provider: &Name) -> Hold {
        if let Some(refused) = &self.refused_for_good {
            // A token still valid may serve out its life; no new one is asked for.
            if let Some(lease) = self.still_valid(now) {
                return Hold::Serve(lease);
            }
            return Hold::Fail(refused.clone());
        }
        if let Some(until) = self.cooling_until
            && now < until
        {
            if let Some(lease) = self.still_valid(now) {
                return Hold::Serve(lease);
            }
            return Hold::Fail(self.last_failure.clone().unwrap_or_else(|| {
                Error::from(AuthError::new(
                    provider.clone(),
                    "token",
                    "token requests are cooling down after a failure",
                ))
            }));
        }
        if let Some(wait) = self.ceiling_wait(now, rules) {
            if let Some(lease) = self.still_valid(now) {
                return Hold::Serve(lease);
            }
            tracing::warn!(
                wait_ms = wait.as_millis() as u64,
                "ceiling on token requests reached: not asking"
            );
            return Hold::Fail(Error::RateLimited {
                provider: provider.clone(),
                endpoint: Name::Borrowed("token"),
                retry_after: Some(wait),
                answer: None,
            });
        }
        Hold::Ask
    }

    /// Latches `error` when it says the credential (or the token URL) cannot work
    /// ([`Error::stops_provider`]): the variables it came from cannot change within the
    /// process, so asking again could only count against the provider's limit on token
    /// requests (bol bans IPs that ask too often).
    fn refuse_for_good(&mut self, error: &Error) {
        if error.stops_provider() && self.refused_for_good.is_none() {
            tracing::warn!(
                error = %error.log_text(),
                "credentials or token URL refused for good: no token is asked for again in this process"
            );
            self.refused_for_good = Some(error.clone());
        }
    }

    /// How long until one more token request keeps the ceiling, if it is reached.
    fn ceiling_wait(&mut self, now: Instant, rules: &TokenRules) -> Option<Duration> {
        let (limit, window) = rules.ceiling;
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.recent.pop_front();
        }
        if (self.recent.len() as u32) < limit.max(1) {
            return None;
        }
        let oldest = *self.recent.front()?;
        Some(window.saturating_sub(now.saturating_duration_since(oldest)))
    }

    /// Starts (or extends) the cool-down after a failure: the rules' cool-down, or the
    /// provider's `Retry-After` on the failed token request when that is longer.
    fn strike(&mut self, now: Instant, rules: &TokenRules, asked: Option<Duration>) {
        self.strikes = self.strikes.saturating_add(1);
        let cool = rules.shared_cool_down(self.strikes, asked);
        self.cooling_until = Some(clamped_add(now, cool));
        tracing::debug!(
            strikes = self.strikes,
            cool_down_ms = cool.as_millis() as u64,
            "token requests cooling down"
        );
    }

    fn remaining_hold(&mut self, now: Instant, rules: &TokenRules) -> Duration {
        if self.still_valid(now).is_some() {
            // Handed out during any hold.
            return Duration::ZERO;
        }
        let cooling = self
            .cooling_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        cooling.max(self.ceiling_wait(now, rules).unwrap_or(Duration::ZERO))
    }
}

/// Records a token request whose caller gave up before its answer came.
struct Abandoned<'a> {
    cache: &'a TokenCache,
    at: Instant,
    armed: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.cache.state();
        state.attempts += 1;
        let error = Error::Timeout {
            provider: self.cache.inner.provider.clone(),
            endpoint: Name::Borrowed("token"),
            after: Instant::now().saturating_duration_since(self.at),
            delivery: Delivery::MaybeSent,
        };
        state.last_failure = Some(error);
        state.strike(Instant::now(), &self.cache.inner.rules, None);
        tracing::warn!("token request abandoned by its caller: counted as failed");
    }
}

/// `at + d`, or as far as the clock goes.
fn clamped_add(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365))
}

struct CacheInner {
    source: Arc<dyn TokenSource>,
    provider: Name,
    /// The store sharing the token with other processes, and the credential it is for.
    shared: Option<(Arc<dyn TokenStore>, Credential)>,
    state: Mutex<CacheState>,
    /// Held by the one caller that requests a token; the others queue behind it.
    flight: tokio::sync::Mutex<()>,
    margin: Duration,
    jitter: Duration,
    rules: TokenRules,
}

/// A token cache shared by every clone of a client: one per credential.
///
/// - Single flight: however many callers find the cache cold or expired at once, one token
///   request is made and the rest wait for its result (a failure too, so a broken token
///   endpoint is not hammered by every waiter in turn).
/// - Refresh ahead: a token is replaced `margin` (plus up to `jitter`, at most a quarter of
///   its lifetime) before it expires, so no request is sent with a token about to lapse.
/// - Invalidation by generation: [`TokenCache::invalidate`] drops the token only if it is
///   still the one that was refused.
/// - Discipline ([`TokenRules`]): a token's life is taken within a floor and a ceiling
///   (30 s to 24 h); after a failed token request, or a token refused right after it was
///   renewed, no token is asked for during a cool-down (1 s, doubling to 60 s; a token
///   still valid is used meanwhile, otherwise the failure is handed out again); and never
///   more than 6 token requests in a minute, whatever the provider answers.
/// - Refused for good: once the token endpoint refuses the credentials (or its URL answers
///   404, or its TLS handshake fails), or the provider refuses a token right after it was
///   renewed ([`reject`](Self::reject)) — errors that
///   [`stop the provider`](Error::stops_provider) — the cache asks for no token again for
///   the life of the process (its clones included) and hands out that error at once,
///   sending nothing: at most two token requests per refused credential (the token the
///   provider refused, and its renewal). The credentials come from variables, which cannot
///   change within a process. Nothing of it is written to a shared
///   [`TokenStore`]: each process finds out for itself.
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
            .field("rules", &self.inner.rules)
            .finish()
    }
}

impl TokenCache {
    /// A cache over `source`, refreshing 30 s (plus up to 10 s of jitter) before expiry,
    /// with the default [`TokenRules`].
    pub fn new(source: impl TokenSource + 'static) -> Self {
        Self::with_margin(source, Duration::from_secs(30), Duration::from_secs(10))
    }

    /// A cache refreshing `margin` plus up to `jitter` before expiry.
    pub fn with_margin(source: impl TokenSource + 'static, margin: Duration, jitter: Duration) -> Self {
        let provider = source.provider();
        TokenCache {
            inner: Arc::new(CacheInner {
                source: Arc::new(source),
                provider,
                shared: None,
                state: Mutex::new(CacheState::default()),
                flight: tokio::sync::Mutex::new(()),
                margin,
                jitter,
                rules: TokenRules::default(),
            }),
        }
    }

    /// The same cache with other rules; call before first use (the state is not kept).
    pub fn with_rules(self, rules: TokenRules) -> Self {
        let i = &self.inner;
        TokenCache {
            inner: Arc::new(CacheInner {
                source: i.source.clone(),
                provider: i.provider.clone(),
                shared: i.shared.clone(),
                state: Mutex::new(CacheState::default()),
                flight: tokio::sync::Mutex::new(()),
                margin: i.margin,
                jitter: i.jitter,
                rules,
            }),
        }
    }

    /// The same cache keeping its token in `store`, shared with every process that uses the
    /// same credential ([`TokenSource::credential`]; a source that names none is never
    /// shared); `None` keeps it in this process. The store comes from the top, where the
    /// client is built: a client builder's `shared(..)` ([`SharedState`](crate::SharedState))
    /// reaches it through [`TransportSettings::token_store`](crate::TransportSettings::token_store).
    /// Call before first use (the state is not kept).
    pub fn with_store(self, store: Option<Arc<dyn TokenStore>>) -> Self {
        let i = &self.inner;
        TokenCache {
            inner: Arc::new(CacheInner {
                source: i.source.clone(),
                provider: i.provider.clone(),
                shared: store.zip(i.source.credential()),
                state: Mutex::new(CacheState::default()),
                flight: tokio::sync::Mutex::new(()),
                margin: i.margin,
                jitter: i.jitter,
                rules: i.rules,
            }),
        }
    }

    /// The rules this cache keeps.
    pub fn rules(&self) -> &TokenRules {
        &self.inner.rules
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current token, requesting one if the cache is cold or the token is due (unless
    /// a cool-down or the ceiling holds requests back: then a token still valid, or the
    /// last failure, or [`Error::RateLimited`] with the wait).
    pub async fn get(&self) -> Result<Lease, Error> {
        let rules = &self.inner.rules;
        let seen = {
            let mut state = self.state();
            let now = Instant::now();
            if let Some(lease) = state.fresh(now) {
                return Ok(lease);
            }
            match state.hold(now, rules, &self.inner.provider) {
                Hold::Serve(lease) => return Ok(lease),
                Hold::Fail(e) => return Err(e),
                Hold::Ask => {}
            }
            state.attempts
        };
        let _flight = self.inner.flight.lock().await;
        {
            let mut state = self.state();
            let now = Instant::now();
            if let Some(lease) = state.fresh(now) {
                return Ok(lease);
            }
            if state.attempts > seen
                && let Some(failure) = &state.last_failure
            {
                // The request this caller waited for failed: share its error.
                return Err(failure.clone());
            }
            match state.hold(now, rules, &self.inner.provider) {
                Hold::Serve(lease) => return Ok(lease),
                Hold::Fail(e) => return Err(e),
                Hold::Ask => {}
            }
            state.recent.push_back(now);
        }
        let requested_at = Instant::now();
        // If this caller gives up (its future dropped: a time-out, a cancelled task) while
        // the request is under way, the request still counts as a failed one: the next
        // waiter must not ask again at once.
        let mut abandoned = Abandoned {
            cache: self,
            at: requested_at,
            armed: true,
        };
        let refused = self.state().refused_shared.take();
        let result = match &self.inner.shared {
            Some((store, credential)) => self.fetch_shared(store.as_ref(), credential, refused).await,
            None => self.inner.source.fetch().await.map(Fetched::Requested),
        };
        abandoned.armed = false;
        let mut state = self.state();
        if result.is_err() && state.refused_shared.is_none() {
            // The store may not have heard of the refusal: tell it on the next look.
            state.refused_shared = refused;
        }
        if let Ok(Fetched::Current(lease)) = result {
            // Another process is renewing the token: this one's is still valid meanwhile
            // (not a flight: a waiter looks for itself, and finds the same).
            state.recent.pop_back();
            return Ok(lease);
        }
        state.attempts += 1;
        let stored = match &result {
            Ok(Fetched::Stored(_, generation, _)) => Some(*generation),
            Ok(Fetched::Shared(_, generation)) => *generation,
            _ => None,
        };
        let (token, life) = match result {
            // Another process's token: its remaining life as the store says, not raised to
            // the rules' floor (it ends when it ends).
            Ok(Fetched::Stored(token, _, left)) => {
                state.recent.pop_back();
                (token, Some(left))
            }
            Ok(Fetched::Current(_)) => unreachable!("returned above"),
            Ok(Fetched::Requested(token) | Fetched::Shared(token, _)) => {
                state.requests += 1;
                // Within the rules, whatever the provider said: no overflow, no token used
                // for less than the floor (`expires_in: 0` would ask on every call).
                let life = token.expires_in.map(|said| rules.life(said));
                (token, life)
            }
            Err(e) => {
                state.requests += u64::from(!matches!(e, Error::Shared { .. }));
                state.last_failure = Some(e.clone());
                state.refuse_for_good(&e);
                state.strike(Instant::now(), rules, e.retry_after());
                return Err(e);
            }
        };
        state.generations += 1;
        let generation = state.generations;
        let refresh_at = life.map(|life| clamped_add(requested_at, life - self.lead(life)));
        let expires_at = life.map(|life| clamped_add(requested_at, life));
        // A token fetched after a rejection, or to replace one refused as expired, is on
        // probation for its first `min_life`: refused then, it is not renewed again (the
        // refusal was not about expiry).
        let probation =
            (state.rejected || state.invalidated).then(|| clamped_add(requested_at, rules.min_life));
        if !state.rejected {
            state.strikes = 0;
        }
        state.rejected = false;
        state.invalidated = false;
        state.cooling_until = None;
        let cached = Cached {
            secret: token.secret,
            generation,
            stored,
            refresh_at,
            expires_at,
            probation,
        };
        let lease = cached.lease();
        state.current = Some(cached);
        state.last_failure = None;
        tracing::debug!(generation, expires_in = ?token.expires_in, ?life, probation = probation.is_some(), shared = ?stored, "access token obtained");
        Ok(lease)
    }

    /// A token through the shared store: the one another process stored if it has life
    /// enough left, or else one requested from the provider by this process (holding the
    /// store's claim, so no other process asks at the same time) and stored for the others.
    /// While another process holds the claim, this one waits for its token (or uses its own
    /// token while that is still valid).
    async fn fetch_shared(
        &self,
        store: &dyn TokenStore,
        credential: &Credential,
        refused: Option<u64>,
    ) -> Result<Fetched, Error> {
        let rules = &self.inner.rules;
        // A token with less left than the refresh lead would be renewed at once.
        let min_left = self.inner.margin + self.inner.jitter + Duration::from_secs(1);
        let deadline = Instant::now() + SHARED_HOLD + SHARED_HOLD;
        let mut refused = refused;
        loop {
            match store
                .take(credential, min_left, refused.take(), SHARED_HOLD)
                .await?
            {
                Stored::Token {
                    secret,
                    left,
                    generation,
                } => return Ok(Fetched::Stored(Token::new(secret), generation, left)),
                Stored::Fetch => break,
                Stored::Wait(_) if let Some(lease) = self.state().still_valid(Instant::now()) => {
                    return Ok(Fetched::Current(lease));
                }
                Stored::Wait(wait) => {
                    if Instant::now() >= deadline {
                        return Err(Error::shared(format!(
                            "{}: for over {} s another process has held the token request, or \
                             token requests have been cooling down after failures",
                            self.inner.provider,
                            (SHARED_HOLD + SHARED_HOLD).as_secs()
                        )));
                    }
                    tokio::time::sleep(wait.clamp(POLL, Duration::from_secs(1))).await;
                }
            }
        }
        match self.inner.source.fetch().await {
            Ok(token) => {
                let life = token.expires_in.map_or(rules.max_life, |said| rules.life(said));
                let generation = match store.put(credential, &token.secret, life).await {
                    Ok(g) => Some(g),
                    Err(e) => {
                        tracing::warn!(error = %e, "the token could not be shared: used by this process only");
                        None
                    }
                };
                Ok(Fetched::Shared(token, generation))
            }
            Err(e) => {
                if let Err(store_error) = store.abandon(credential, rules, e.retry_after()).await {
                    tracing::warn!(error = %store_error, "the failed token request could not be shared");
                }
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
            state.refused_shared = state.current.take().and_then(|c| c.stored);
            state.invalidated = true;
            tracing::debug!(generation, "access token invalidated");
            true
        } else {
            false
        }
    }

    /// Whether the token of `generation` was fetched right after a rejected one: a refusal
    /// of it is a rejection as well, not an expiry worth another token.
    pub fn on_probation(&self, generation: u64) -> bool {
        let now = Instant::now();
        self.state()
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation && c.probation.is_some_and(|until| now < until))
    }

    /// The provider refused the token of `generation` although it was fresh: drop it and
    /// hand out `error` for a cool-down instead of asking for another one at once (a 401
    /// can mean a blocked account). Ignored when a newer token is already in place. When
    /// `error` [stops the provider](Error::stops_provider) (the transport's refusals do),
    /// no token is asked for again in this process.
    pub fn reject(&self, generation: u64, error: Error) {
        let mut state = self.state();
        let current = state.current.as_ref().map(|c| c.generation);
        // The refused token is gone already when the transport renewed it once; a later
        // generation is another caller's newer token.
        if current.is_some_and(|g| g != generation) || (current.is_none() && state.generations != generation)
        {
            return;
        }
        if current.is_none() && state.rejected {
            // Another caller already reported this token.
            return;
        }
        if let Some(stored) = state.current.take().and_then(|c| c.stored) {
            state.refused_shared = Some(stored);
        }
        state.rejected = true;
        state.refuse_for_good(&error);
        state.last_failure = Some(error);
        state.strike(Instant::now(), &self.inner.rules, None);
        tracing::warn!(
            generation,
            "access token refused right after renewal: cooling down"
        );
    }

    /// How long token requests are held back from now (a cool-down, or the ceiling), when
    /// no usable token is cached.
    pub fn ready_in(&self) -> Duration {
        self.state().remaining_hold(Instant::now(), &self.inner.rules)
    }

    /// How many token requests this process made to the provider (successful or not;
    /// tokens taken from a shared store are not requests).
    pub fn token_requests(&self) -> u64 {
        self.state().requests
    }

    /// Whether the token is shared with other processes through a store.
    pub fn is_shared(&self) -> bool {
        self.inner.shared.is_some()
    }

    /// The credential's identity, when the source names one.
    pub fn account(&self) -> Option<String> {
        self.inner.source.credential().map(|c| c.id)
    }
}

/// How long one process holds a shared credential's token request before another may make
/// it (longer than a token request's time limit).
const SHARED_HOLD: Duration = Duration::from_secs(45);

/// A token a flight brought.
enum Fetched {
    /// Requested from the provider, the token not shared.
    Requested(Token),
    /// Requested from the provider and put in the shared store (its generation there, if
    /// the store took it).
    Shared(Token, Option<u64>),
    /// Taken from the shared store: its generation there and the life it has left.
    Stored(Token, u64, Duration),
    /// Another process holds the shared request: the current token, still valid, serves
    /// meanwhile.
    Current(Lease),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use secrecy::ExposeSecret;

    use super::*;
    use crate::auth::secret_header;

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
        assert_eq!(cache.token_requests(), 1, "no request during the cool-down");
        assert_eq!(cache.ready_in(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.get().await.is_err());
        assert_eq!(cache.token_requests(), 2, "a later caller tries again");
        assert_eq!(cache.ready_in(), Duration::from_secs(2), "the cool-down doubles");
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_makes_the_cache_ask_more_than_the_ceiling() {
        // Tokens that the provider says are already expired: the floor keeps each for 30 s.
        let cache = TokenCache::new(Counting {
            life: Some(Duration::ZERO),
            ..Default::default()
        });
        for _ in 0..20 {
            cache.get().await.unwrap();
        }
        assert_eq!(cache.token_requests(), 1, "the floor on a token's life");
        // Every token refused at once: the cache still asks at most 6 times a minute.
        let start = Instant::now();
        let mut asked = Vec::new();
        while start.elapsed() < Duration::from_secs(600) {
            if let Ok(lease) = cache.get().await {
                asked.push(Instant::now());
                cache.invalidate(lease.generation);
            }
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        for (i, at) in asked.iter().enumerate() {
            let in_minute = asked[i..]
                .iter()
                .take_while(|t| t.duration_since(*at) < Duration::from_secs(60))
                .count();
            assert!(in_minute <= 6, "{in_minute} token requests within a minute");
        }
        assert!(
            asked.len() >= 50,
            "the ceiling still lets tokens through: {}",
            asked.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_token_cools_down_and_its_successor_is_on_probation() {
        let cache = TokenCache::new(Counting {
            life: Some(Duration::from_secs(300)),
            ..Default::default()
        });
        let first = cache.get().await.unwrap();
        assert!(!cache.on_probation(first.generation));
        cache.reject(first.generation, Error::config("refused"));
        cache.reject(first.generation, Error::config("refused"));
        let err = cache.get().await.unwrap_err();
        assert_eq!(err.to_string(), "configuration error: refused");
        assert_eq!(cache.token_requests(), 1, "no request during the cool-down");
        assert_eq!(cache.ready_in(), Duration::from_secs(1), "one strike, not two");
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = cache.get().await.unwrap();
        assert!(cache.on_probation(second.generation));
        cache.reject(second.generation, Error::config("refused"));
        assert_eq!(cache.ready_in(), Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(2)).await;
        let third = cache.get().await.unwrap();
        assert!(cache.on_probation(third.generation));
        // A token that lives its life ends the probation of the next.
        tokio::time::advance(Duration::from_secs(300)).await;
        let fourth = cache.get().await.unwrap();
        assert_eq!(fourth.generation, third.generation + 1);
        assert!(!cache.on_probation(fourth.generation));
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
        )
        .with_rules(TokenRules::default().with_life(Duration::from_secs(1), Duration::from_secs(3600)));
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
