//! Layer 5, the client: the one place requests are sent.
//!
//! `authenticate → wait for the rate limit → exchange → classify the answer → retry or
//! return`, the decision after each attempt being the policy layer's
//! ([`decide`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::auth::{AuthTicket, Authenticator, NoAuth};
use crate::client::settings::TransportSettings;
use crate::error::{Delivery, Error, Name, ProviderError};
use crate::policy::decide::{Call, Deadline, Outcome, Step, Wait, decide, may_act};
use crate::policy::retry::RetryPolicy;
use crate::state::limit::{RateLimiter, RateLimits};
use crate::state::shared::SharedState;
use crate::url::{check_secure, secure_base_url};
use crate::wire::classify::{Classifier, DefaultClassifier, Verdict, with_retry_after};
use crate::wire::endpoint::{Endpoint, Replay, Target};
use crate::wire::excerpt::bound;
use crate::wire::exchange::{Exchange, Failed};
use crate::wire::http::HttpClient;
use crate::wire::request::OutgoingRequest;
use crate::wire::response::Response;
use crate::wire::scrub::Scrubber;
use secrecy::SecretString;

/// What one attempt came to, as the policy sees it.
type Attempted = Outcome<Response, AuthTicket>;

/// A request ready to send, with what its answer is read with.
struct Prepared {
    request: reqwest::Request,
    permit: crate::state::limit::Permit,
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
    shared: Option<SharedState>,
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

    /// Keeps the rate limits in `state`'s rate store (`None`: in this process; the default),
    /// under the provider, its address and the credential's identity
    /// ([`Authenticator::account`]), so every process using the same credential spends
    /// them jointly. [`Transport::builder_with`] takes it from the settings. (The token is
    /// shared by the token cache: [`TokenCache::with_store`](crate::TokenCache::with_store).)
    pub fn shared(mut self, state: impl Into<Option<SharedState>>) -> Self {
        self.shared = state.into();
        self
    }

    /// Finishes the transport; fails on a bad or insecure base URL.
    pub fn build(self) -> Result<Transport, Error> {
        let base = self.base?;
        let limits = match &self.shared {
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

impl Transport {
    /// [`Transport::builder`] with `settings`' HTTP client, pacing, retry policy and shared
    /// state.
    pub fn builder_with(
        settings: &TransportSettings,
        provider: impl Into<Name>,
        base_url: &str,
    ) -> TransportBuilder {
        Self::builder(&settings.http, provider, base_url)
            .limits(settings.limits.clone())
            .retry(settings.retry.clone())
            .shared(settings.shared.clone())
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
            shared: None,
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
                .attempt(
                    endpoint,
                    &mut url,
                    &limiter,
                    idempotency_key.as_deref(),
                    deadline,
                    attempt,
                )
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
        step: Step<Response, AuthTicket>,
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
        attempt: u32,
    ) -> Result<Attempted, Error> {
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
        let exchange = Exchange {
            http: &self.inner.http,
            provider: &self.inner.provider,
            endpoint: &endpoint.name,
            what: "base URL",
            attempt,
            limit,
        };
        let started = Instant::now();
        let mut answer = match exchange.send(request).await {
            Ok(a) => a,
            Err(failed) => {
                if let Failed::Unusable(_) = failed {
                    permit.give_back();
                }
                return Ok(self.failed(failed));
            }
        };
        let status = answer.status();
        let success = status.is_success();
        // The rate headers, then the body, in one future awaited once: the answer is then
        // kept in this future's state across one await, not two.
        let read = async {
            // Taken, not cloned: the body needs no header any more.
            let headers = answer.take_headers();
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
            (headers, exchange.read(&mut answer).await)
        };
        let (headers, body) = read.await;
        let body = match body {
            Ok(b) => b,
            Err(failed) => return Ok(self.failed(failed)),
        };
        // The attempt's span (this future runs in it).
        let span = tracing::Span::current();
        span.record("status", status.as_u16());
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        let response = Response::read(
            status,
            headers,
            body,
            self.inner.provider.clone(),
            endpoint.name.clone(),
            endpoint.sensitive_answer,
            success && may_act(&endpoint.replay),
            self.inner.scrubber.clone(),
            sent_secrets,
        );
        tracing::debug!(status = status.as_u16(), bytes = response.body().len(), "answer");
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
    ) -> Result<Result<Prepared, Attempted>, Error> {
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
            request: request.into_reqwest(&self.inner.http, timeout)?,
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

    /// The outcome of an attempt whose exchange failed: no answer (a transport error or a
    /// time-out), a TLS handshake that will fail again, or an answer too large.
    fn failed(&self, failed: Failed) -> Attempted {
        match failed {
            Failed::Lost { error, delivery } => Outcome::Lost { error, delivery },
            Failed::Unusable(error) => Outcome::Unusable(error),
            Failed::TooLarge(error) => Outcome::Unreadable(error),
        }
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
}

fn new_idempotency_key() -> HeaderValue {
    let key = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&key).expect("hex is a valid header value")
}

#[cfg(test)]
mod tests {
    //! The interceptor against a local server: every request sent (each attempt, retries
    //! included, and the token request) gets its header and is reported with its status;
    //! no secret ever reaches it.

    use std::sync::Mutex;

    use http::header::AUTHORIZATION;
    use http::{HeaderMap, HeaderName};

    use super::*;
    use crate::auth::TokenAuth;
    use crate::auth::oauth2::ClientCredentials;
    use crate::state::token_cache::TokenCache;
    use crate::wire::interceptor::{Answered, Interceptor, Outgoing};

    const SECRET: &str = "s3cret-client";
    const TOKEN: &str = "s3cret-token";
    const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

    /// Adds a request id, tries to replace the credentials, and writes down what it saw.
    #[derive(Debug, Default)]
    struct Recorder {
        /// Per request sent: endpoint, attempt, whether `Authorization` could be replaced,
        /// and its `Debug` text.
        sent: Mutex<Vec<(String, u32, bool, String)>>,
        /// Per answer: endpoint, attempt, status, whether an error came, its `Debug` text.
        answered: Mutex<Vec<Report>>,
    }

    impl Interceptor for Recorder {
        fn before_send(&self, request: &mut Outgoing<'_>) {
            let id = format!("{}-{}", request.endpoint(), request.attempt());
            assert!(request.add_header(REQUEST_ID, HeaderValue::from_str(&id).unwrap()));
            // Added once, never replaced.
            assert!(!request.add_header(REQUEST_ID, HeaderValue::from_static("again")));
            let replaced = request.add_header(AUTHORIZATION, HeaderValue::from_static("Bearer stolen"));
            self.sent.lock().unwrap().push((
                request.endpoint().to_owned(),
                request.attempt(),
                replaced,
                format!("{request:?} {}", request.path()),
            ));
        }

        fn after_answer(&self, answer: &Answered<'_>) {
            self.answered.lock().unwrap().push((
                answer.endpoint().to_owned(),
                answer.attempt(),
                answer.status().map(|s| s.as_u16()),
                answer.error().is_some(),
                format!("{answer:?}"),
            ));
        }
    }

    /// What an answer came to: endpoint, attempt, status, whether an error came, its `Debug`
    /// text.
    type Report = (String, u32, Option<u16>, bool, String);

    /// What the server received: path, request id, `Authorization`.
    type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

    fn record(seen: &Seen, path: &str, headers: &HeaderMap) {
        let text = |h: &HeaderName| headers.get(h).map(|v| v.to_str().unwrap().to_owned());
        seen.lock()
            .unwrap()
            .push((path.to_owned(), text(&REQUEST_ID), text(&AUTHORIZATION)));
    }

    /// A server whose token endpoint answers `TOKEN` and whose `orders` answer 503 once,
    /// then 200.
    async fn server(seen: Seen) -> String {
        let orders = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let app = {
            let (token_seen, orders_seen) = (seen.clone(), seen);
            axum::Router::new()
                .route(
                    "/token",
                    axum::routing::post(move |headers: HeaderMap| async move {
                        record(&token_seen, "/token", &headers);
                        axum::Json(serde_json::json!({
                            "access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600
                        }))
                    }),
                )
                .route(
                    "/api/orders",
                    axum::routing::get(move |headers: HeaderMap| async move {
                        record(&orders_seen, "/api/orders", &headers);
                        if orders.fetch_add(1, Ordering::SeqCst) == 0 {
                            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({})))
                        } else {
                            (StatusCode::OK, axum::Json(serde_json::json!({"orders": []})))
                        }
                    }),
                )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn quick_retries(n: u32) -> RetryPolicy {
        RetryPolicy::default()
            .with_max_retries(n)
            .with_delays(Duration::from_millis(1), Duration::from_millis(2))
    }

    #[tokio::test]
    async fn an_interceptor_sees_every_attempt_and_the_token_request_and_no_secret() {
        let seen = Seen::default();
        let url = server(seen.clone()).await;
        let recorder = Arc::new(Recorder::default());
        let http = HttpClient::new("commerce-core-tests", "0.0.0").with_interceptor(recorder.clone());
        let tokens = TokenCache::new(
            ClientCredentials::new(
                &http,
                "shop",
                &format!("{url}/token"),
                "my-client",
                SECRET.to_owned().into(),
            )
            .unwrap(),
        );
        let transport = Transport::builder(&http, "shop", &format!("{url}/api"))
            .auth(TokenAuth::bearer(tokens))
            .retry(quick_retries(2))
            .build()
            .unwrap();
        transport
            .send(&Endpoint::get("orders.list", "orders"))
            .await
            .unwrap();

        // The server saw the interceptor's header on every request, the token request
        // included, and the credentials as the client set them.
        let seen = seen.lock().unwrap().clone();
        let bearer = Some(format!("Bearer {TOKEN}"));
        assert_eq!(
            seen.iter()
                .map(|(p, id, _)| (p.as_str(), id.clone()))
                .collect::<Vec<_>>(),
            [
                ("/token", Some("token-1".to_owned())),
                ("/api/orders", Some("orders.list-1".to_owned())),
                ("/api/orders", Some("orders.list-2".to_owned())),
            ]
        );
        assert!(seen[1..].iter().all(|(_, _, auth)| *auth == bearer), "{seen:?}");
        assert!(
            seen[0].2.as_deref().is_some_and(|a| a.starts_with("Basic ")),
            "{seen:?}"
        );

        // Once per request before it left: it could not replace the credentials.
        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(
            sent.iter()
                .map(|(e, a, r, _)| (e.as_str(), *a, *r))
                .collect::<Vec<_>>(),
            [
                ("token", 1, false),
                ("orders.list", 1, false),
                ("orders.list", 2, false)
            ]
        );
        // Once per request after its answer, with its status.
        let answered = recorder.answered.lock().unwrap().clone();
        assert_eq!(
            answered
                .iter()
                .map(|(e, a, s, err, _)| (e.as_str(), *a, *s, *err))
                .collect::<Vec<_>>(),
            [
                ("token", 1, Some(200), false),
                ("orders.list", 1, Some(503), false),
                ("orders.list", 2, Some(200), false),
            ]
        );
        // Nothing it was shown carries a secret: not the token, not the client secret.
        for text in sent.iter().map(|s| &s.3).chain(answered.iter().map(|a| &a.4)) {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[tokio::test]
    async fn an_interceptor_is_told_of_every_attempt_that_got_no_answer() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let recorder = Arc::new(Recorder::default());
        let http = HttpClient::new("commerce-core-tests", "0.0.0").with_interceptor(recorder.clone());
        let transport = Transport::builder(&http, "shop", &format!("http://127.0.0.1:{port}"))
            .retry(quick_retries(2))
            .build()
            .unwrap();
        let err = transport
            .send(&Endpoint::get("orders.list", "orders"))
            .await
            .unwrap_err();
        assert!(err.transport_failure().is_some_and(|f| f.is_connect()), "{err:?}");
        let answered = recorder.answered.lock().unwrap().clone();
        assert_eq!(
            answered
                .iter()
                .map(|(e, a, s, err, _)| (e.as_str(), *a, *s, *err))
                .collect::<Vec<_>>(),
            [
                ("orders.list", 1, None, true),
                ("orders.list", 2, None, true),
                ("orders.list", 3, None, true),
            ]
        );
    }
}
