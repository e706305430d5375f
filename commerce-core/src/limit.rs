//! Client-side pacing: several quotas at once, shared by every clone of a client, paused
//! by the provider's `Retry-After` and `X-RateLimit-*` answers.
//!
//! Each quota is a sliding-window log ("at most `limit` grants in any window of length
//! `window`"), which is exactly what providers mean by "10 calls per 10 seconds". A token
//! bucket (GCRA, as in `governor`) would let a full burst through and then keep refilling,
//! so 19 calls could pass in one 10-second window; the log never does. Its memory is one
//! instant per grant still inside the window (1000 per hour: 16 KB).
//!
//! All times are [`tokio::time::Instant`], so tests can run a simulated hour with paused time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use tokio::time::Instant;

use crate::error::Name;
use crate::retry::parse_retry_after;

/// At most `limit` calls in any window of length `window`.
///
/// The limiter spaces calls by the window plus a small margin, `min(window / 20, 100 ms)`:
/// calls leave exactly on the window's edge, and the variance of their travel time would
/// otherwise let the provider see one too many in its own window. The margin still leaves
/// at least 95% of the documented rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    window: Duration,
    margin: Duration,
}

impl Quota {
    /// At most `limit` calls in any window of `window` (a `limit` of 0 is taken as 1).
    pub fn new(limit: u32, window: Duration) -> Self {
        Quota {
            limit: limit.max(1),
            window,
            margin: (window / 20).min(Duration::from_millis(100)),
        }
    }

    /// Sets the safety margin added to the window when spacing calls.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The safety margin.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// At most `limit` calls per second.
    pub fn per_second(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(1))
    }

    /// At most `limit` calls per minute.
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// At most `limit` calls per hour.
    pub fn per_hour(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(3600))
    }

    /// The number of calls allowed per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }
}

struct Window {
    quota: Quota,
    grants: VecDeque<Instant>,
}

impl Window {
    /// The earliest instant at which one more grant keeps this quota.
    fn earliest(&mut self, now: Instant) -> Instant {
        let span = self.quota.window + self.quota.margin;
        while let Some(&oldest) = self.grants.front() {
            if oldest + span <= now {
                self.grants.pop_front();
            } else {
                break;
            }
        }
        if self.grants.len() < self.quota.limit as usize {
            now
        } else {
            // The grant that must leave the window before another may enter.
            let idx = self.grants.len() - self.quota.limit as usize;
            self.grants[idx] + span
        }
    }
}

struct State {
    windows: Vec<Window>,
    paused_until: Option<Instant>,
    granted: u64,
}

impl State {
    fn earliest(&mut self, now: Instant) -> Instant {
        let mut at = now;
        if let Some(p) = self.paused_until
            && p > at
        {
            at = p;
        }
        for w in &mut self.windows {
            at = at.max(w.earliest(now));
        }
        at
    }

    fn record(&mut self, now: Instant) {
        for w in &mut self.windows {
            w.grants.push_back(now);
        }
        self.granted += 1;
    }
}

struct Inner {
    /// Waiters queue here, first come first served (tokio's mutex is fair), so only the head
    /// of the queue sleeps and every slot goes to the longest waiter.
    gate: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

/// A limiter enforcing several quotas at once. Clones share their state.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("RateLimiter")
            .field(
                "quotas",
                &state.windows.iter().map(|w| w.quota).collect::<Vec<_>>(),
            )
            .field("granted", &state.granted)
            .field("paused", &self.pause_remaining_in(&state))
            .finish()
    }
}

impl RateLimiter {
    /// A limiter that keeps every quota in `quotas`.
    pub fn new(quotas: impl IntoIterator<Item = Quota>) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                gate: tokio::sync::Mutex::new(()),
                state: Mutex::new(State {
                    windows: quotas
                        .into_iter()
                        .map(|quota| Window {
                            quota,
                            grants: VecDeque::new(),
                        })
                        .collect(),
                    paused_until: None,
                    granted: 0,
                }),
            }),
        }
    }

    /// A limiter with no quota; it still honours pauses.
    pub fn unlimited() -> Self {
        Self::new([])
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written (every update
        // is a single push or assignment), so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one more call keeps every quota and no pause is in force, then counts
    /// the call. Cancelling the wait counts nothing.
    pub async fn acquire(&self) {
        let _turn = self.inner.gate.lock().await;
        loop {
            let at = {
                let mut state = self.state();
                let now = Instant::now();
                let at = state.earliest(now);
                if at <= now {
                    state.record(now);
                    return;
                }
                at
            };
            tokio::time::sleep_until(at).await;
        }
    }

    /// Counts a call now if every quota allows it; otherwise says how long to wait.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        let Ok(_turn) = self.inner.gate.try_lock() else {
            return Err(Duration::ZERO);
        };
        let mut state = self.state();
        let now = Instant::now();
        let at = state.earliest(now);
        if at <= now {
            state.record(now);
            Ok(())
        } else {
            Err(at - now)
        }
    }

    /// Lets no call through before `until` (pauses only ever extend).
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state();
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
    }

    /// Lets no call through for `wait` from now.
    pub fn pause_for(&self, wait: Duration) {
        self.pause_until(Instant::now() + wait);
    }

    /// Applies what an answer says about the provider's own limit: `Retry-After` (on any
    /// status) and `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` pause the limiter.
    /// Returns the pause it applied, if any.
    ///
    /// `X-RateLimit-Reset` is read as seconds until the reset, or as a Unix time when it is
    /// larger than 10⁹ (providers use both).
    pub fn observe(&self, headers: &HeaderMap) -> Option<Duration> {
        let now = SystemTime::now();
        let mut wait = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, now));
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        if remaining == Some(0)
            && let Some(reset) = header_u64(headers, "x-ratelimit-reset")
        {
            let reset_wait = if reset > 1_000_000_000 {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
                at.duration_since(now).unwrap_or(Duration::ZERO)
            } else {
                Duration::from_secs(reset)
            };
            wait = Some(wait.map_or(reset_wait, |w| w.max(reset_wait)));
        }
        let wait = wait.filter(|w| !w.is_zero())?;
        self.pause_for(wait);
        Some(wait)
    }

    /// How long the provider's last pause still holds calls back.
    pub fn pause_remaining(&self) -> Duration {
        self.pause_remaining_in(&self.state())
    }

    fn pause_remaining_in(&self, state: &State) -> Duration {
        let now = Instant::now();
        state
            .paused_until
            .map_or(Duration::ZERO, |p| p.saturating_duration_since(now))
    }

    /// How many calls this limiter has let through since it was made.
    pub fn granted(&self) -> u64 {
        self.state().granted
    }

    /// The quotas this limiter keeps.
    pub fn quotas(&self) -> Vec<Quota> {
        self.state().windows.iter().map(|w| w.quota).collect()
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.ceil() as u64)
}

/// The limiters of one client: a default limiter and named buckets. Clones share them, so
/// every clone of a client draws on the same quotas.
#[derive(Clone)]
pub struct RateLimits {
    default: RateLimiter,
    configured: Arc<HashMap<Name, Vec<Quota>>>,
    buckets: Arc<Mutex<HashMap<Name, RateLimiter>>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("RateLimits")
            .field("default", &self.default)
            .field("buckets", &*buckets)
            .finish()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new([])
    }
}

impl RateLimits {
    /// Limits whose default bucket keeps `quotas`.
    pub fn new(quotas: impl IntoIterator<Item = Quota>) -> Self {
        RateLimits {
            default: RateLimiter::new(quotas),
            configured: Arc::new(HashMap::new()),
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Gives the named bucket its own quotas. Buckets not configured have none, but still
    /// pause when the provider's answers say so.
    pub fn with_bucket(mut self, bucket: impl Into<Name>, quotas: impl IntoIterator<Item = Quota>) -> Self {
        Arc::make_mut(&mut self.configured).insert(bucket.into(), quotas.into_iter().collect());
        self
    }

    /// The limiter for `bucket` (`None`: the default bucket).
    pub fn limiter(&self, bucket: Option<&str>) -> RateLimiter {
        let Some(name) = bucket else {
            return self.default.clone();
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = buckets.get(name) {
            return l.clone();
        }
        let quotas = self.configured.get(name).cloned().unwrap_or_default();
        let limiter = RateLimiter::new(quotas);
        buckets.insert(Name::Owned(name.to_owned()), limiter.clone());
        limiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_let_through_then_paced() {
        let l = RateLimiter::new([Quota::new(3, Duration::from_secs(1))]);
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        l.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1050),
            "the window and its 5% margin"
        );
        assert_eq!(l.granted(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_says_how_long_to_wait() {
        let l = RateLimiter::new([Quota::new(1, Duration::from_secs(10)).with_margin(Duration::ZERO)]);
        assert!(l.try_acquire().is_ok());
        assert_eq!(l.try_acquire(), Err(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(l.try_acquire(), Err(Duration::from_secs(6)));
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_hold_back_calls_and_only_extend() {
        let l = RateLimiter::unlimited();
        l.pause_for(Duration::from_secs(5));
        l.pause_for(Duration::from_secs(2));
        let start = Instant::now();
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_headers_pause_the_limiter() {
        let l = RateLimiter::unlimited();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(l.observe(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "5".parse().unwrap());
        h.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(l.observe(&h), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(l.observe(&h), Some(Duration::from_secs(3)));
        let start = Instant::now();
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_shared_by_name_and_separate_from_the_default() {
        let limits = RateLimits::new([Quota::per_second(1)]).with_bucket("orders", [Quota::per_second(2)]);
        let a = limits.limiter(Some("orders"));
        let b = limits.clone().limiter(Some("orders"));
        a.acquire().await;
        b.acquire().await;
        assert!(a.try_acquire().is_err(), "the bucket's quota is shared");
        assert!(limits.limiter(None).try_acquire().is_ok());
        assert!(limits.limiter(Some("other")).quotas().is_empty());
    }
}
