//! Layer 2, pure policy: the retry policy, capped exponential backoff with jitter.

use std::time::Duration;

use backon::BackoffBuilder;

/// How failed calls are retried.
///
/// Only failures that may pass are retried (transport errors, and error answers whose
/// [`RetryHint`](crate::RetryHint) says so: 429, 502, 503, 504 by default), and only when
/// the request is safe to repeat (see [`Replay`](crate::Replay)). The wait before retry
/// `n` is `min_delay · 2ⁿ` plus up to as much again of random jitter, never more than
/// `max_delay`; a provider's `Retry-After` replaces it when longer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retries off).
    pub max_retries: u32,
    /// The first backoff wait.
    pub min_delay: Duration,
    /// The cap on any backoff wait.
    pub max_delay: Duration,
    /// Whether to add random jitter to backoff waits.
    pub jitter: bool,
    /// The longest wait the client accepts from a provider's `Retry-After`; past it, the
    /// call fails with [`Error::RateLimited`](crate::Error::RateLimited) carrying the wait.
    pub max_wait: Duration,
    /// A fixed seed for the jitter, for reproducible tests.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            jitter: true,
            max_wait: Duration::from_secs(120),
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first and the largest backoff wait.
    pub fn with_delays(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max.max(min);
        self
    }

    /// Sets the longest `Retry-After` wait the client accepts.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Fixes the jitter's random seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The backoff waits, one per allowed retry.
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let mut builder = backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries as usize);
        if self.jitter {
            builder = builder.with_jitter();
            if let Some(seed) = self.seed {
                builder = builder.with_jitter_seed(seed);
            }
        }
        let cap = self.max_delay;
        // backon adds jitter on top of the capped delay (keep the cap a cap), and its f32
        // factor leaves traces such as 200.000003 ms (round to the millisecond).
        builder.build().map(move |d| {
            let ms = (d.as_micros() + 500) / 1000;
            Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)).min(cap)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_jittered_and_counted() {
        let policy = RetryPolicy::default()
            .with_max_retries(8)
            .with_delays(Duration::from_millis(100), Duration::from_secs(1))
            .with_seed(7);
        let waits: Vec<_> = policy.backoff().collect();
        assert_eq!(waits.len(), 8);
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)), "{waits:?}");
        assert!(waits[0] >= Duration::from_millis(100) && waits[0] < Duration::from_millis(200));
        let plain: Vec<_> = policy.clone().with_jitter(false).backoff().collect();
        assert_eq!(plain[..4], [100, 200, 400, 800].map(Duration::from_millis));
        assert_ne!(waits[..4], plain[..4], "jitter must move the waits");
        let again: Vec<_> = policy.backoff().collect();
        assert_eq!(waits, again, "a fixed seed repeats");
        assert_eq!(RetryPolicy::none().backoff().count(), 0);
    }
}
