//! Layer 3, state: what a client keeps between calls, in its process or shared with other
//! processes.
//!
//! - [`token_cache`]: the token cache ([`TokenCache`](crate::TokenCache)), and what it
//!   caches from ([`TokenSource`](crate::TokenSource)).
//! - [`limit`]: the rate limiters ([`RateLimits`](crate::RateLimits)).
//! - [`token_store`], [`rate_store`]: the stores' traits, each with the state that uses it
//!   ([`TokenStore`](crate::TokenStore) for the token cache,
//!   [`RateStore`](crate::RateStore) for the limiters).
//! - [`memory`]: both stores in this process's memory.
//! - [`shared`]: the two stores of one credential together ([`SharedState`](crate::SharedState)).

pub(crate) mod limit;
pub(crate) mod memory;
pub(crate) mod rate_store;
pub(crate) mod shared;
pub(crate) mod token_cache;
pub(crate) mod token_store;
