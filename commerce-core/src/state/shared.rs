//! State shared by several processes that use one credential: its access token and its
//! rate budgets.
//!
//! A provider's limits and tokens belong to a credential, not to a process: bol limits each
//! endpoint per credential and bans IPs that ask for tokens too often; Sitejabber allows 10
//! calls per 10 s per account. Each client keeps its token and its budgets in the process by
//! default ([`TokenCache`](crate::TokenCache), [`RateLimiter`](crate::RateLimiter)); given a
//! [`SharedState`] (a client builder's `shared`, kept in its
//! [`TransportSettings`](crate::TransportSettings) and handed from there to the transport's
//! rate limits and the token cache), every client of the same credential, in any process, shares:
//!
//! - **one token** ([`TokenStore`]): the first process that needs a token claims the
//!   request for a while (`hold`), the others wait for the token it stores, and a token the
//!   provider refused is renewed once for all;
//! - **every quota and every learnt budget** ([`RateStore`]): the sliding-window quotas of
//!   the provider's document, the budgets its `X-RateLimit-*` headers announce, and the
//!   pauses its `Retry-After` and 429 answers ask for.
//!
//! The stores are traits so that a server database can hold them (the facade's PostgreSQL
//! backend, feature `postgres`); [`SharedState::in_memory`] shares them between clients of
//! one process. The decision whether one more call may go is [`bucket_decision`](crate::bucket_decision), one pure function
//! every store uses.

use std::sync::Arc;

use crate::state::memory::MemoryStore;
use crate::state::rate_store::RateStore;
use crate::state::token_store::TokenStore;

/// The token store and the rate store every client of one credential shares.
#[derive(Debug, Clone)]
pub struct SharedState {
    /// Tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Rate budgets.
    pub rates: Arc<dyn RateStore>,
}

impl SharedState {
    /// The state in this process's memory: several clients of one credential in one process
    /// (one per shop of an agency, say) share a token and the budgets.
    pub fn in_memory() -> Self {
        let store = Arc::new(MemoryStore::default());
        SharedState {
            tokens: store.clone(),
            rates: store,
        }
    }
}
