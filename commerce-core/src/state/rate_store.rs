//! Layer 3, state: where the rate budgets of a credential are kept for every process that
//! uses it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Error;
use crate::policy::buckets::{BucketDecision, Quota};

/// A grant taken from a [`RateStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The call may go; end it with [`RateStore::end`] and this id.
    Granted(u64),
    /// Ask again then (`AfterCompletion`: a call under way elsewhere must end first).
    Denied(BucketDecision),
}

/// Where the rate budgets of each credential are kept for every process that uses it. Each
/// operation is atomic across processes.
#[async_trait]
pub trait RateStore: Send + Sync + fmt::Debug {
    /// Takes one grant in `bucket` if [`bucket_decision`](crate::bucket_decision) allows it now, counting it as under way
    /// (for at most `open_for`: a process that dies mid-call leaves no grant open for ever),
    /// and takes it off the provider's budget.
    async fn try_grant(
        &self,
        bucket: &str,
        quotas: &[Quota],
        slow_start: bool,
        open_for: Duration,
    ) -> Result<Grant, Error>;

    /// The call of grant `id` is over: counted from now (`made`), or forgotten with its share
    /// of the budget given back. Must not wait (a store queues it).
    fn end(&self, bucket: &str, id: u64, made: bool);

    /// No call in `bucket` before now + `wait` (pauses only ever extend).
    async fn pause(&self, bucket: &str, wait: Duration) -> Result<(), Error>;

    /// The provider said `remaining` calls are left until `reset` from now, counting the
    /// answered call (`own` of the calls under way): the budget becomes `remaining` less
    /// the other calls under way, and within one period only ever decreases.
    async fn budget(&self, bucket: &str, remaining: u64, own: u64, reset: Duration) -> Result<(), Error>;
}
