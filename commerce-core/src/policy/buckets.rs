//! Layer 2, pure policy: quotas, and the decision whether one more call of a bucket may
//! go, the same for the in-process limiter and every shared store. No clock, no I/O: the
//! caller reads the time and hands it in.

use std::time::{Duration, SystemTime};

/// At most `limit` calls in any window of length `window`.
///
/// The limiter spaces calls by the window plus a small margin, `min(window / 100, 10 ms)`.
/// The travel time of calls is covered by counting each call when its answer is back (see
/// [`Permit`](crate::Permit)); the margin only keeps a call off the exact edge of the provider's window
/// (a provider counting `[t - window, t]` inclusively) and absorbs clock granularity. It
/// leaves at least 99% of the documented rate.
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
            margin: (window / 100).min(Duration::from_millis(10)),
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

/// One grant of a bucket as [`bucket_decision`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantView {
    /// When the call was let through, or (once it is over) when its answer came back.
    pub at: SystemTime,
    /// The call is still under way (the provider may not have counted it yet).
    pub open: bool,
}

/// The shared state of one bucket, as a [`RateStore`](crate::RateStore) reads it under its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketView {
    /// No call before this instant (the provider asked for a pause).
    pub paused_until: Option<SystemTime>,
    /// What the provider's `X-RateLimit-Remaining` left until its reset: `(left, until)`.
    pub budget: Option<(u64, SystemTime)>,
    /// The grants that may still count: every open one, and the closed ones of the longest
    /// window (plus its margin), in any order.
    pub grants: Vec<GrantView>,
}

/// Whether one more call may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketDecision {
    /// Yes.
    Go,
    /// Not before this long from now (a quota's window).
    Wait(Duration),
    /// Not before this long from now: the provider asked for a pause, or its budget is
    /// spent until its reset.
    Paused(Duration),
    /// Only once a call under way is over (its arrival time is not known yet).
    AfterCompletion,
}

/// The one rule for shared buckets, the same as the in-process limiter's: at most `limit`
/// calls in any window (plus its margin) of each quota, a call under way counting until its
/// answer is back; no call while paused or with the provider's budget spent; and, for a
/// provider announcing its budget (`slow_start`), one call at a time until a budget is known.
pub fn bucket_decision(
    quotas: &[Quota],
    slow_start: bool,
    view: &BucketView,
    now: SystemTime,
) -> BucketDecision {
    // The provider's own word first: a pause, or its budget spent until the reset.
    let mut paused = now;
    if let Some(p) = view.paused_until {
        paused = paused.max(p);
    }
    let budget = view.budget.filter(|(_, until)| *until > now);
    if let Some((0, until)) = budget {
        paused = paused.max(until);
    }
    if slow_start && budget.is_none() && view.grants.iter().any(|g| g.open) {
        return BucketDecision::AfterCompletion;
    }
    let mut at = now;
    for quota in quotas {
        let span = quota.window() + quota.margin();
        // Closed grants in time order, then the open ones (their arrival is not known).
        let mut counted: Vec<GrantView> = view
            .grants
            .iter()
            .copied()
            .filter(|g| g.open || g.at + span > now)
            .collect();
        let limit = quota.limit() as usize;
        if counted.len() < limit {
            continue;
        }
        counted.sort_by_key(|g| (g.open, g.at));
        let target = counted[counted.len() - limit];
        if target.open {
            return BucketDecision::AfterCompletion;
        }
        at = at.max(target.at + span);
    }
    let wait = |until: SystemTime| until.duration_since(now).unwrap_or_default();
    if paused > now && paused >= at {
        BucketDecision::Paused(wait(paused))
    } else if at > now {
        BucketDecision::Wait(wait(at))
    } else {
        BucketDecision::Go
    }
}

/// How long a grant may still count for one of `quotas`: the longest window and its
/// margin. A store forgets closed grants older than this.
pub fn longest_span(quotas: &[Quota]) -> Duration {
    quotas
        .iter()
        .map(|q| q.window() + q.margin())
        .max()
        .unwrap_or_default()
}

/// The budget after an answer saying `remaining` calls are left until `reset`: less the
/// calls under way but the answered one (`own`); within one period only ever lower.
pub fn next_budget(
    current: Option<(u64, SystemTime)>,
    remaining: u64,
    open: u64,
    own: u64,
    reset: Duration,
    now: SystemTime,
) -> (u64, SystemTime) {
    let left = remaining.saturating_sub(open.saturating_sub(own));
    match current {
        Some((was, until)) if until > now => (was.min(left), until),
        _ => (left, now + reset),
    }
}

/// How often a process looks again while another one holds what it waits for (a token
/// request, a call under way): the stores cannot wake a waiter in another process.
pub const POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000 + ms)
    }

    #[test]
    fn the_shared_verdict_keeps_each_quota_counting_calls_under_way() {
        let q = [Quota::new(2, Duration::from_secs(1)).with_margin(Duration::ZERO)];
        let closed = |ms| GrantView {
            at: at(ms),
            open: false,
        };
        let mut view = BucketView::default();
        assert_eq!(bucket_decision(&q, false, &view, at(0)), BucketDecision::Go);
        view.grants = vec![closed(0), closed(100)];
        assert_eq!(
            bucket_decision(&q, false, &view, at(200)),
            BucketDecision::Wait(Duration::from_millis(800))
        );
        assert_eq!(bucket_decision(&q, false, &view, at(1000)), BucketDecision::Go);
        view.grants = vec![
            closed(0),
            GrantView {
                at: at(100),
                open: true,
            },
            closed(50),
        ];
        assert_eq!(
            bucket_decision(&q, false, &view, at(200)),
            BucketDecision::Wait(Duration::from_millis(850))
        );
        view.grants = vec![
            GrantView {
                at: at(0),
                open: true,
            },
            GrantView {
                at: at(100),
                open: true,
            },
        ];
        assert_eq!(
            bucket_decision(&q, false, &view, at(5000)),
            BucketDecision::AfterCompletion
        );
    }

    #[test]
    fn pauses_budgets_and_slow_start_hold_calls_back() {
        let view = BucketView {
            paused_until: Some(at(500)),
            ..Default::default()
        };
        assert_eq!(
            bucket_decision(&[], false, &view, at(0)),
            BucketDecision::Paused(Duration::from_millis(500))
        );
        let view = BucketView {
            budget: Some((0, at(700))),
            ..Default::default()
        };
        assert_eq!(
            bucket_decision(&[], false, &view, at(0)),
            BucketDecision::Paused(Duration::from_millis(700))
        );
        assert_eq!(
            bucket_decision(&[], false, &view, at(700)),
            BucketDecision::Go,
            "a new period"
        );
        let open = BucketView {
            grants: vec![GrantView {
                at: at(0),
                open: true,
            }],
            ..Default::default()
        };
        assert_eq!(
            bucket_decision(&[], true, &open, at(1)),
            BucketDecision::AfterCompletion
        );
        assert_eq!(bucket_decision(&[], false, &open, at(1)), BucketDecision::Go);
        let known = BucketView {
            budget: Some((3, at(900))),
            ..open
        };
        assert_eq!(bucket_decision(&[], true, &known, at(1)), BucketDecision::Go);
    }

    #[test]
    fn a_budget_only_decreases_within_its_period() {
        let b = next_budget(None, 10, 3, 1, Duration::from_secs(1), at(0));
        assert_eq!(b, (8, at(1000)));
        assert_eq!(
            next_budget(Some(b), 9, 0, 0, Duration::from_secs(5), at(10)),
            (8, at(1000))
        );
        assert_eq!(
            next_budget(Some(b), 4, 0, 0, Duration::from_secs(5), at(10)),
            (4, at(1000))
        );
        assert_eq!(
            next_budget(Some(b), 9, 0, 0, Duration::from_secs(5), at(1000)),
            (9, at(6000))
        );
    }
}
