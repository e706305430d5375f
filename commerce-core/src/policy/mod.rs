//! Layer 2, pure policy: rules and decisions with no clock and no I/O. The caller reads the
//! time and what happened, hands them in, and carries out what comes back.
//!
//! - [`decide`]: what the send loop does after an attempt (the replay table).
//! - [`retry`]: the retry policy and its backoff waits ([`RetryPolicy`](crate::RetryPolicy)).
//! - [`tokens`]: the token rules ([`TokenRules`](crate::TokenRules)) and the decision of
//!   every token store ([`token_decision`](crate::token_decision)).
//! - [`buckets`]: quotas ([`Quota`](crate::Quota)) and the decision of every rate bucket
//!   ([`bucket_decision`](crate::bucket_decision)).

pub(crate) mod buckets;
pub(crate) mod decide;
pub(crate) mod retry;
pub(crate) mod tokens;
