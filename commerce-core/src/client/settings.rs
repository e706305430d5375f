//! Layer 5, the client: the settings every provider client's builder exposes.

use std::sync::Arc;

use crate::policy::retry::RetryPolicy;
use crate::state::limit::RateLimits;
use crate::state::shared::SharedState;
use crate::state::token_store::TokenStore;
use crate::wire::http::HttpClient;

/// What every provider client's builder lets its user override: the HTTP settings, the retry
/// policy, the client-side pacing and the state shared with other processes. A builder holds one, exposes its setters with
/// [`transport_settings_setters!`](crate::transport_settings_setters), and starts its
/// transports with [`Transport::builder_with`](crate::Transport::builder_with).
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// The HTTP client and its settings.
    pub http: HttpClient,
    /// When and how often failed calls are sent again.
    pub retry: RetryPolicy,
    /// Client-side pacing.
    pub limits: RateLimits,
    /// The state shared with other processes using the same credential (`None`, the
    /// default: this process's own). Passed from here to where it is used: the rate limits
    /// of every transport [`Transport::builder_with`](crate::Transport::builder_with)
    /// starts, and the token cache a provider crate builds
    /// ([`token_store`](Self::token_store)).
    pub shared: Option<SharedState>,
}

impl TransportSettings {
    /// HTTP settings whose `User-Agent` names `crate_name`/`crate_version`, the default retry
    /// policy, and `limits` (the provider's documented limits).
    pub fn new(crate_name: &str, crate_version: &str, limits: RateLimits) -> Self {
        TransportSettings {
            http: HttpClient::new(crate_name, crate_version),
            retry: RetryPolicy::default(),
            limits,
            shared: None,
        }
    }

    /// The store a provider crate's token cache shares its token through
    /// ([`TokenCache::with_store`](crate::TokenCache::with_store)), if the state is shared.
    pub fn token_store(&self) -> Option<Arc<dyn TokenStore>> {
        self.shared.as_ref().map(|s| s.tokens.clone())
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
                self.$field.shared = Some(state);
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

        /// Adds an interceptor, called once for every request the client sends (each
        /// attempt, and each token request) to add a header (a request id) and to see the
        /// status and duration of each (metrics); it never sees a secret (see
        /// [`Interceptor`]($crate::Interceptor)). Keeps this client's `User-Agent` and time
        /// limits.
        pub fn interceptor(mut self, interceptor: impl $crate::Interceptor + 'static) -> Self {
            self.$field.http = self.$field.http.clone().with_interceptor(interceptor);
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
