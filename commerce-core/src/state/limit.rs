//! Layer 3, state: client-side pacing: several quotas at once, shared by every clone of a client, paused
//! by the provider's `Retry-After` and `X-RateLimit-*` answers.
//!
//! Each quota is a sliding-window log ("at most `limit` grants in any window of length
//! `window`"), which is exactly what providers mean by "10 calls per 10 seconds". A token
//! bucket (GCRA, as in `governor`) would let a full burst through and then keep refilling,
//! so 19 calls could pass in one 10-second window; the log never does. Its memory is one
//! slot per grant still inside the window (1000 per hour: 24 KB).
//!
//! The provider counts a call when it arrives, which may be well after the limiter let it
//! through. So [`RateLimiter::acquire`] hands out a [`Permit`]: held until the answer is
//! back, it restamps the call's slot with that instant, and a slot whose call is still
//! under way blocks its window until the call ends.
//!
//! All times are [`tokio::time::Instant`], so tests can run a simulated hour with paused time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use tokio::time::Instant;

use crate::error::{Error, Name};
use crate::policy::buckets::{BucketDecision, POLL, Quota};
use crate::state::rate_store::{Grant, RateStore};
use crate::wire::retry_after::{MAX_SERVER_WAIT, parse_retry_after};

/// One grant as a quota sees it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u64,
    /// When the call was let through, then, once it is over, when its answer came back.
    at: Instant,
    /// The call is still under way: the provider may not even have seen it yet.
    open: bool,
}

struct Window {
    quota: Quota,
    /// Closed slots in time order, then the open ones.
    grants: VecDeque<Slot>,
}

/// When one more grant may enter a window.
enum Earliest {
    At(Instant),
    /// Only when a call under way is over: until then its arrival time is unknown.
    AfterCompletion,
}

impl Window {
    /// The earliest instant at which one more grant keeps this quota.
    fn earliest(&mut self, now: Instant) -> Earliest {
        let span = self.quota.window() + self.quota.margin();
        while let Some(oldest) = self.grants.front() {
            if !oldest.open && oldest.at + span <= now {
                self.grants.pop_front();
            } else {
                break;
            }
        }
        if self.grants.len() < self.quota.limit() as usize {
            return Earliest::At(now);
        }
        // The grant that must leave the window before another may enter.
        let target = self.grants[self.grants.len() - self.quota.limit() as usize];
        if target.open {
            Earliest::AfterCompletion
        } else {
            Earliest::At(target.at + span)
        }
    }

    /// Restamps the grant `id` with the time its call ended, keeping the order.
    fn close(&mut self, id: u64, at: Instant) {
        let Some(i) = self.grants.iter().rposition(|s| s.id == id) else {
            return;
        };
        // The usual case (calls end in the order they started): the grant is the first open
        // one and ends after every closed one, so it keeps its place.
        let stamp = self.grants[i].at.max(at);
        let first_open = i
            .checked_sub(1)
            .is_none_or(|p| !self.grants[p].open && self.grants[p].at <= stamp);
        if first_open {
            let slot = &mut self.grants[i];
            slot.at = stamp;
            slot.open = false;
            return;
        }
        let mut slot = self.grants.remove(i).expect("found");
        slot.at = slot.at.max(at);
        slot.open = false;
        let pos = self.grants.partition_point(|s| !s.open && s.at <= slot.at);
        self.grants.insert(pos, slot);
    }
}

struct State {
    windows: Vec<Window>,
    paused_until: Option<Instant>,
    granted: u64,
    /// Calls let through whose permit is still held.
    in_flight: u64,
    /// What the provider's `X-RateLimit-Remaining` left us until its reset.
    budget: Option<Budget>,
    /// Until a budget is known from the provider's headers, one call at a time.
    slow_start: bool,
}

/// Calls the provider still allows before `until`, as its last answer said, less the calls
/// that were under way then (the provider may not have counted them yet).
#[derive(Debug, Clone, Copy)]
struct Budget {
    left: u64,
    until: Instant,
}

impl State {
    fn earliest(&mut self, now: Instant) -> Earliest {
        let mut at = now;
        if let Some(p) = self.paused_until
            && p > at
        {
            at = p;
        }
        match self.budget {
            Some(b) if b.until <= now => self.budget = None,
            Some(b) if b.left == 0 => at = at.max(b.until),
            _ => {}
        }
        if self.slow_start && self.budget.is_none() && self.in_flight > 0 {
            // The provider's budget for this period is not known yet: the call under way
            // will tell it.
            return Earliest::AfterCompletion;
        }
        for w in &mut self.windows {
            match w.earliest(now) {
                Earliest::At(t) => at = at.max(t),
                Earliest::AfterCompletion => return Earliest::AfterCompletion,
            }
        }
        Earliest::At(at)
    }

    fn record(&mut self, now: Instant) -> u64 {
        self.granted += 1;
        self.in_flight += 1;
        if let Some(b) = &mut self.budget {
            b.left = b.left.saturating_sub(1);
        }
        let id = self.granted;
        for w in &mut self.windows {
            w.grants.push_back(Slot {
                id,
                at: now,
                open: true,
            });
        }
        id
    }
}

/// The right to make one call, from [`RateLimiter::acquire`]. Hold it until the answer
/// has come back (or the call failed): the limiter then counts the call at that later
/// instant, which is never before the provider saw it. A call's travel time and a busy
/// machine can therefore never make the provider see one call too many in its window.
/// Dropping it at once counts the call when it was let through.
#[derive(Debug)]
#[must_use = "hold the permit until the call's answer has come back"]
pub struct Permit {
    limiter: Option<RateLimiter>,
    id: u64,
    /// The grant's id in the shared store, for a shared limiter.
    shared: Option<u64>,
}

impl Permit {
    /// Applies what the answer of this permit's call says about the provider's own limit
    /// (its headers): `Retry-After` (on any status) and `X-RateLimit-Remaining: 0` with
    /// `X-RateLimit-Reset` pause the limiter; a non-zero `X-RateLimit-Remaining` with
    /// `X-RateLimit-Reset` becomes a budget until the reset, less the other calls under way
    /// (this call itself is counted in the provider's number). Returns the pause applied, if
    /// any.
    ///
    /// For a limiter shared with other processes, the pause and the budget are written to the
    /// shared store before it returns (so no other process sends on a budget this answer
    /// spent). A store that fails is logged: the pause still holds in this process (a shared
    /// limiter honours its own pauses too).
    pub async fn apply_rate_headers(&self, headers: &HeaderMap) -> Option<Duration> {
        let limiter = self.limiter.as_ref()?;
        let paused = limiter.apply_rate_headers(headers, 1);
        if let Some(shared) = &limiter.inner.shared
            && let Some(said) = read_limits(headers)
        {
            shared.apply(said, 1).await;
        }
        paused
    }

    /// The call was not made after all (its credentials could not be had): forgets its
    /// slot, so it counts against no quota and no budget.
    pub fn give_back(mut self) {
        self.end(false);
    }

    /// Ends the call: its slot restamped with now (`made`), or removed with its share of the
    /// budget given back; a waiter held back by it may go.
    fn end(&mut self, made: bool) {
        let Some(limiter) = self.limiter.take() else {
            return;
        };
        if let (Some(shared), Some(id)) = (&limiter.inner.shared, self.shared) {
            shared.store.end(&shared.key, id, made);
        }
        let now = Instant::now();
        let mut state = limiter.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        for w in &mut state.windows {
            if made {
                w.close(self.id, now);
            } else if let Some(i) = w.grants.iter().rposition(|s| s.id == self.id) {
                w.grants.remove(i);
            }
        }
        if !made && let Some(b) = &mut state.budget {
            b.left = b.left.saturating_add(1);
        }
        drop(state);
        limiter.inner.completed.notify_one();
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.end(true);
    }
}

/// A limiter's bucket in a store shared with other processes.
struct SharedBucket {
    store: Arc<dyn RateStore>,
    key: String,
    quotas: Vec<Quota>,
    slow_start: bool,
}

/// How long a shared grant counts as under way at most: a process that dies mid-call
/// leaves its grant open no longer (the longest attempt, its answer read, and a margin).
const OPEN_AT_MOST: Duration = Duration::from_secs(120);

/// What an answer said about the provider's limit.
struct Said {
    /// Pause for this long (`Retry-After`, or a spent budget until its reset).
    wait: Option<Duration>,
    /// `X-RateLimit-Remaining` calls left until the reset, this long from now.
    budget: Option<(u64, Duration)>,
}

impl SharedBucket {
    /// Writes what an answer said to the store.
    async fn apply(&self, said: Said, own: u64) {
        if let Some((remaining, reset)) = said.budget
            && let Err(e) = self.store.budget(&self.key, remaining, own, reset).await
        {
            tracing::warn!(error = %e, "the shared rate budget could not be written");
        }
        if let Some(wait) = said.wait.filter(|w| !w.is_zero()) {
            self.pause(wait).await;
        }
    }

    async fn pause(&self, wait: Duration) {
        if let Err(e) = self.store.pause(&self.key, wait.min(MAX_SERVER_WAIT)).await {
            tracing::warn!(error = %e, "the shared pause could not be written");
        }
    }
}

struct Inner {
    /// Waiters queue here, first come first served (tokio's mutex is fair), so only the head
    /// of the queue sleeps and every slot goes to the longest waiter.
    gate: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    /// Signalled when a call ends, for a waiter held back by a call under way.
    completed: tokio::sync::Notify,
    /// The bucket in a store shared with other processes: its quotas, budget and pauses are
    /// kept there (the local state only counts).
    shared: Option<SharedBucket>,
    /// Callers waiting for a permit (for [`RateLimiter::ready_in`]).
    queued: std::sync::atomic::AtomicUsize,
}

/// Counts a caller waiting for a permit while it waits (a cancelled wait included).
struct Queued<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Queued<'a> {
    fn join(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
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
        Self::build(quotas, false)
    }

    /// A limiter that keeps `quotas` and, for a provider that announces its budget in
    /// `X-RateLimit-Remaining` / `X-RateLimit-Reset` (bol), starts slowly: while no budget
    /// is known (at first, and again after each reset) one call goes at a time, and the
    /// others wait for its answer to tell how many more the provider allows. Concurrent
    /// callers on a fresh client can then not overrun a limit they do not know yet.
    pub fn slow_start(quotas: impl IntoIterator<Item = Quota>) -> Self {
        Self::build(quotas, true)
    }

    fn build(quotas: impl IntoIterator<Item = Quota>, slow_start: bool) -> Self {
        Self::build_in(quotas, slow_start, None)
    }

    /// A limiter whose quotas, budget and pauses are kept in `store` under `key`, shared
    /// with every process using the same store and key.
    pub fn shared(
        quotas: impl IntoIterator<Item = Quota>,
        slow_start: bool,
        store: Arc<dyn RateStore>,
        key: impl Into<String>,
    ) -> Self {
        let quotas: Vec<Quota> = quotas.into_iter().collect();
        Self::build_in(
            [],
            false,
            Some(SharedBucket {
                store,
                key: key.into(),
                quotas,
                slow_start,
            }),
        )
    }

    /// Whether the limiter's state is shared with other processes.
    pub fn is_shared(&self) -> bool {
        self.inner.shared.is_some()
    }

    fn build_in(
        quotas: impl IntoIterator<Item = Quota>,
        slow_start: bool,
        shared: Option<SharedBucket>,
    ) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                gate: tokio::sync::Mutex::new(()),
                completed: tokio::sync::Notify::new(),
                shared,
                queued: std::sync::atomic::AtomicUsize::new(0),
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
                    in_flight: 0,
                    budget: None,
                    slow_start,
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
    /// the call; hold the [`Permit`] until its answer is back. Cancelling the wait counts
    /// nothing.
    ///
    /// A shared limiter whose store fails keeps trying (once a second, logged); the
    /// transport uses [`acquire_checked`](Self::acquire_checked) instead, to fail the call.
    pub async fn acquire(&self) -> Permit {
        loop {
            match self.acquire_checked(Duration::MAX).await {
                Ok(permit) => return permit,
                Err(e) => {
                    tracing::warn!(error = %e, "the shared rate store failed: trying again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// [`acquire`](Self::acquire), failing with [`Error::Shared`] when the store of a shared
    /// limiter fails (nothing was sent, nothing counted), and, for a shared limiter, with
    /// [`Error::RateLimited`] (its provider and endpoint left for the caller to name) when
    /// a pause the provider asked for, here or in another process, runs longer than
    /// `max_pause`: waiting that long silently would look like a hang.
    pub async fn acquire_checked(&self, max_pause: Duration) -> Result<Permit, Error> {
        let _queued = Queued::join(&self.inner.queued);
        let _turn = self.inner.gate.lock().await;
        let Some(shared) = &self.inner.shared else {
            return Ok(self.acquire_local().await);
        };
        let paused = |wait: Duration| Error::RateLimited {
            provider: Name::Borrowed(""),
            endpoint: Name::Borrowed(""),
            retry_after: Some(wait),
            answer: None,
        };
        // One waiter per process asks the store; the others queue at the gate.
        loop {
            // A pause this process heard of holds even when the store could not be told.
            let local = self.pause_remaining();
            if local > max_pause {
                return Err(paused(local));
            }
            if !local.is_zero() {
                tokio::time::sleep(local).await;
            }
            match shared
                .store
                .try_grant(&shared.key, &shared.quotas, shared.slow_start, OPEN_AT_MOST)
                .await?
            {
                Grant::Granted(id) => {
                    let local = self.state().record(Instant::now());
                    let mut permit = self.permit(local);
                    permit.shared = Some(id);
                    return Ok(permit);
                }
                Grant::Denied(BucketDecision::Paused(wait)) => {
                    self.pause_for(wait);
                    if wait > max_pause {
                        return Err(paused(wait));
                    }
                }
                Grant::Denied(BucketDecision::Wait(wait)) => tokio::time::sleep(wait).await,
                Grant::Denied(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn acquire_local(&self) -> Permit {
        loop {
            // Registered before the state is read, so no completion is missed.
            let completed = self.inner.completed.notified();
            let at = {
                let mut state = self.state();
                let now = Instant::now();
                match state.earliest(now) {
                    Earliest::At(at) if at <= now => return self.permit(state.record(now)),
                    at => at,
                }
            };
            match at {
                Earliest::At(at) => tokio::time::sleep_until(at).await,
                Earliest::AfterCompletion => completed.await,
            }
        }
    }

    fn permit(&self, id: u64) -> Permit {
        Permit {
            limiter: Some(self.clone()),
            id,
            shared: None,
        }
    }

    /// Counts a call now if every quota allows it; otherwise says how long to wait
    /// (`None`: until a call under way has ended). A shared limiter answers only through
    /// [`acquire_checked`](Self::acquire_checked): here it always says to wait.
    pub fn try_acquire(&self) -> Result<Permit, Option<Duration>> {
        if self.inner.shared.is_some() {
            return Err(Some(POLL));
        }
        let Ok(_turn) = self.inner.gate.try_lock() else {
            return Err(Some(Duration::ZERO));
        };
        let mut state = self.state();
        let now = Instant::now();
        match state.earliest(now) {
            Earliest::At(at) if at <= now => {
                let id = state.record(now);
                drop(state);
                Ok(self.permit(id))
            }
            Earliest::At(at) => Err(Some(at - now)),
            Earliest::AfterCompletion => Err(None),
        }
    }

    /// Lets no call through before `until` (pauses only ever extend).
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state();
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
    }

    /// Lets no call through for `wait` from now (at most [`MAX_SERVER_WAIT`]).
    pub fn pause_for(&self, wait: Duration) {
        let now = Instant::now();
        let until = now.checked_add(wait.min(MAX_SERVER_WAIT)).unwrap_or(now);
        self.pause_until(until);
    }

    /// [`pause_for`](Self::pause_for), and for a shared limiter the pause written to the
    /// store too, for every process.
    pub async fn pause_shared(&self, wait: Duration) {
        self.pause_for(wait);
        if let Some(shared) = &self.inner.shared {
            shared.pause(wait).await;
        }
    }

    /// Applies what an answer says about the provider's own limit: `Retry-After` (on any
    /// status) and `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` pause the limiter.
    /// Returns the pause it applied, if any.
    ///
    /// A non-zero `X-RateLimit-Remaining` with `X-RateLimit-Reset` becomes a budget: until the
    /// reset, at most that many calls more, less the calls under way when the answer came
    /// (the provider may not have counted them yet), of which `own` (1 for the answer's own
    /// call, surely counted in it; 0 for none) are not taken off again. Several calls at once
    /// would otherwise all be sent on the strength of one answer's "2 left" and the provider
    /// would refuse the rest. Within one budget period a later answer can only lower the
    /// budget (answers may arrive out of order); a new period starts with the first answer
    /// after the reset.
    ///
    /// `X-RateLimit-Reset` is read as seconds until the reset, or as a Unix time when it is
    /// larger than 10⁹ (providers use both).
    fn apply_rate_headers(&self, headers: &HeaderMap, own: u64) -> Option<Duration> {
        let said = read_limits(headers)?;
        if let Some((remaining, reset_wait)) = said.budget {
            let mut state = self.state();
            let at = Instant::now();
            let left = remaining.saturating_sub(state.in_flight.saturating_sub(own));
            match &mut state.budget {
                Some(b) if b.until > at => b.left = b.left.min(left),
                _ => {
                    state.budget = Some(Budget {
                        left,
                        until: at.checked_add(reset_wait).unwrap_or(at),
                    })
                }
            }
        }
        let wait = said.wait.filter(|w| !w.is_zero())?;
        self.pause_for(wait);
        Some(wait)
    }

    /// How long the provider's last pause still holds calls back.
    pub fn pause_remaining(&self) -> Duration {
        self.pause_remaining_in(&self.state())
    }

    fn pause_remaining_in(&self, state: &State) -> Duration {
        // No clock read without a pause (the usual case).
        state
            .paused_until
            .map_or(Duration::ZERO, |p| p.saturating_duration_since(Instant::now()))
    }

    /// About how long a call asked for now would wait for its permit: the provider's pause
    /// or spent budget, and every quota's window with the callers already waiting here
    /// served first. An estimate for scheduling work (a flow gives an order back rather than
    /// hold a worker that long), not a promise: zero when a call could go now. A call under
    /// way counts as ending now. For a limiter shared with other processes only this
    /// process's pause and waiting callers are known here (the store's grants are not read),
    /// so it is a lower bound there.
    pub fn ready_in(&self) -> Duration {
        self.ready_in_after(0)
    }

    /// [`ready_in`](Self::ready_in) with `waiting` more callers served first: the ones a
    /// caller knows of that have not asked yet (orders a flow gave back for this limiter's
    /// provider, due in turn).
    pub fn ready_in_after(&self, waiting: usize) -> Duration {
        let ahead = self
            .inner
            .queued
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_add(waiting);
        let now = Instant::now();
        let mut state = self.state();
        let mut at = now;
        if let Some(p) = state.paused_until {
            at = at.max(p);
        }
        // The provider's budget, spent before this caller's turn: not before its reset.
        if let Some(b) = state.budget
            && b.until > now
            && b.left <= ahead as u64
        {
            at = at.max(b.until);
        }
        let shared_quotas;
        let windows: Vec<(Quota, Vec<Instant>)> = match &self.inner.shared {
            Some(shared) => {
                shared_quotas = shared.quotas.clone();
                shared_quotas.iter().map(|q| (*q, Vec::new())).collect()
            }
            None => state
                .windows
                .iter_mut()
                .map(|w| {
                    let _ = w.earliest(now);
                    let times = w.grants.iter().map(|s| if s.open { now } else { s.at }).collect();
                    (w.quota, times)
                })
                .collect(),
        };
        drop(state);
        for (quota, mut times) in windows {
            let span = quota.window() + quota.margin();
            let limit = quota.limit() as usize;
            if limit == 0 {
                continue;
            }
            times.sort_unstable();
            // The callers ahead, then this one, each taking the first time the quota allows.
            let mut last = now;
            for _ in 0..=ahead {
                let next = if times.len() < limit {
                    now
                } else {
                    times[times.len() - limit] + span
                };
                last = last.max(next);
                times.push(last);
            }
            at = at.max(last);
        }
        at.saturating_duration_since(now)
    }

    /// How many calls this limiter has let through since it was made.
    pub fn granted(&self) -> u64 {
        self.state().granted
    }

    /// The quotas this limiter keeps.
    pub fn quotas(&self) -> Vec<Quota> {
        if let Some(shared) = &self.inner.shared {
            return shared.quotas.clone();
        }
        self.state().windows.iter().map(|w| w.quota).collect()
    }
}

static X_RATELIMIT_REMAINING: http::HeaderName = http::HeaderName::from_static("x-ratelimit-remaining");
static X_RATELIMIT_RESET: http::HeaderName = http::HeaderName::from_static("x-ratelimit-reset");

/// What an answer's `Retry-After` and `X-RateLimit-*` headers say (`None`: nothing, the
/// usual case, read without a look at the clock).
fn read_limits(headers: &HeaderMap) -> Option<Said> {
    let retry_after = headers.get(http::header::RETRY_AFTER);
    let reset = header_u64(headers, &X_RATELIMIT_RESET);
    if retry_after.is_none() && reset.is_none() {
        return None;
    }
    let remaining = header_u64(headers, &X_RATELIMIT_REMAINING);
    let now = SystemTime::now();
    let mut wait = retry_after.and_then(|v| parse_retry_after(v, now));
    let reset_wait = reset.map(|reset| {
        let wait = if reset > 1_000_000_000 {
            SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(reset))
                .map_or(MAX_SERVER_WAIT, |at| {
                    at.duration_since(now).unwrap_or(Duration::ZERO)
                })
        } else {
            Duration::from_secs(reset)
        };
        // Whole seconds: "0" means the window ends within the next second, not now.
        wait.clamp(Duration::from_secs(1), MAX_SERVER_WAIT)
    });
    let mut budget = None;
    if let (Some(remaining), Some(reset_wait)) = (remaining, reset_wait) {
        if remaining == 0 {
            wait = Some(wait.map_or(reset_wait, |w| w.max(reset_wait)));
        } else {
            budget = Some((remaining, reset_wait));
        }
    }
    Some(Said { wait, budget })
}

fn header_u64(headers: &HeaderMap, name: &http::HeaderName) -> Option<u64> {
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
    slow_start: bool,
    /// The store shared with other processes and this client's key in it.
    shared: Option<(Arc<dyn RateStore>, String)>,
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
            slow_start: false,
            shared: None,
        }
    }

    /// The same limits kept in `store` under `scope` (the provider, its address and the
    /// credential's identity), so every process using the same credential spends them
    /// jointly; each bucket is `scope/bucket` there. Call before first use: the calls
    /// counted so far are not carried over.
    pub fn shared_in(mut self, store: Arc<dyn RateStore>, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.default = RateLimiter::shared(
            self.default.quotas(),
            self.slow_start,
            store.clone(),
            format!("{scope}/default"),
        );
        self.buckets = Arc::new(Mutex::new(HashMap::new()));
        self.shared = Some((store, scope));
        self
    }

    /// Limits whose every bucket starts slowly ([`RateLimiter::slow_start`]): for a
    /// provider that announces each bucket's budget in its answers' `X-RateLimit-*`
    /// headers rather than documenting it (bol). Quotas still apply on top.
    pub fn slow_start(quotas: impl IntoIterator<Item = Quota>) -> Self {
        RateLimits {
            default: RateLimiter::slow_start(quotas),
            slow_start: true,
            ..Self::new([])
        }
    }

    /// Whether the buckets start slowly.
    pub fn is_slow_start(&self) -> bool {
        self.slow_start
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
        let limiter = match &self.shared {
            Some((store, scope)) => {
                RateLimiter::shared(quotas, self.slow_start, store.clone(), format!("{scope}/{name}"))
            }
            None => RateLimiter::build(quotas, self.slow_start),
        };
        buckets.insert(Name::Owned(name.to_owned()), limiter.clone());
        limiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate a flow schedules by: zero while a quota has room, the window's end once
    /// it is full, a window more for each caller waiting ahead; a pause holds it back too.
    #[tokio::test(start_paused = true)]
    async fn ready_in_tells_how_far_off_a_permit_is() {
        let q = Quota::new(2, Duration::from_secs(10)).with_margin(Duration::ZERO);
        let l = RateLimiter::new([q]);
        assert_eq!(l.ready_in(), Duration::ZERO);
        drop(l.acquire().await);
        assert_eq!(l.ready_in(), Duration::ZERO, "one slot left");
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(l.acquire().await);
        assert_eq!(
            l.ready_in(),
            Duration::from_secs(9),
            "the first grant leaves the window"
        );
        // Two callers wait: the second one's slot comes a window after the first's.
        let waiting = [l.clone(), l.clone()].map(|l| tokio::spawn(async move { drop(l.acquire().await) }));
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert_eq!(l.ready_in(), Duration::from_secs(19));
        for w in waiting {
            w.await.unwrap();
        }
        // Granted at 10 s and 11 s (now): the next slot at 20 s.
        assert_eq!(l.ready_in(), Duration::from_secs(9));
        let paused = RateLimiter::unlimited();
        paused.pause_for(Duration::from_secs(30));
        assert_eq!(paused.ready_in(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_let_through_then_paced() {
        let l = RateLimiter::new([Quota::new(3, Duration::from_secs(1))]);
        let start = Instant::now();
        for _ in 0..3 {
            drop(l.acquire().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(l.acquire().await);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1010),
            "the window and its 1% margin"
        );
        assert_eq!(l.granted(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_says_how_long_to_wait() {
        let l = RateLimiter::new([Quota::new(1, Duration::from_secs(10)).with_margin(Duration::ZERO)]);
        let permit = l.try_acquire().unwrap();
        assert_eq!(l.try_acquire().unwrap_err(), None, "the call is under way");
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(permit);
        assert_eq!(
            l.try_acquire().unwrap_err(),
            Some(Duration::from_secs(10)),
            "counted from its answer"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(l.try_acquire().unwrap_err(), Some(Duration::from_secs(6)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_held_back_by_a_call_under_way_goes_when_it_ends() {
        let l = RateLimiter::new([Quota::new(1, Duration::from_secs(1)).with_margin(Duration::ZERO)]);
        let permit = l.acquire().await;
        let start = Instant::now();
        let waiter = tokio::spawn({
            let l = l.clone();
            async move {
                drop(l.acquire().await);
                start.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(permit);
        assert_eq!(
            waiter.await.unwrap(),
            Duration::from_secs(6),
            "5 s under way, then the window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_hold_back_calls_and_only_extend() {
        let l = RateLimiter::unlimited();
        l.pause_for(Duration::from_secs(5));
        l.pause_for(Duration::from_secs(2));
        let start = Instant::now();
        drop(l.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_headers_pause_the_limiter() {
        let l = RateLimiter::unlimited();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(l.apply_rate_headers(&h, 0), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "5".parse().unwrap());
        h.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(l.apply_rate_headers(&h, 0), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(l.apply_rate_headers(&h, 0), Some(Duration::from_secs(3)));
        let start = Instant::now();
        drop(l.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    fn remaining(left: u64, reset: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", left.to_string().parse().unwrap());
        h.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        h
    }

    #[tokio::test(start_paused = true)]
    async fn the_remaining_count_is_a_budget_until_the_reset() {
        let l = RateLimiter::unlimited();
        let start = Instant::now();
        assert_eq!(l.apply_rate_headers(&remaining(3, 1), 0), None);
        for _ in 0..3 {
            drop(l.acquire().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "three more were allowed");
        drop(l.acquire().await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "the fourth waits for the reset"
        );
        // A new period: the next answer sets the budget afresh.
        l.apply_rate_headers(&remaining(2, 1), 0);
        assert!(l.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn calls_under_way_are_taken_off_the_budget_and_late_answers_only_lower_it() {
        let l = RateLimiter::unlimited();
        let start = Instant::now();
        let a = l.acquire().await;
        let b = l.acquire().await;
        // "2 left", but two calls are under way and the provider may not have counted them.
        l.apply_rate_headers(&remaining(2, 1), 0);
        assert!(matches!(l.try_acquire(), Err(Some(_))), "no budget left");
        drop((a, b));
        // A permit's own answer: its call is counted there, so it is not taken off again.
        let own = RateLimiter::unlimited();
        let p = own.acquire().await;
        p.apply_rate_headers(&remaining(1, 1)).await;
        drop(p);
        assert!(own.try_acquire().is_ok(), "one left for one more call");
        assert!(own.try_acquire().is_err(), "and no more");
        // An older answer arriving late cannot raise the budget within the period.
        l.apply_rate_headers(&remaining(9, 1), 0);
        assert!(l.try_acquire().is_err());
        drop(l.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_shared_by_name_and_separate_from_the_default() {
        let limits = RateLimits::new([Quota::per_second(1)]).with_bucket("orders", [Quota::per_second(2)]);
        let a = limits.limiter(Some("orders"));
        let b = limits.clone().limiter(Some("orders"));
        drop(a.acquire().await);
        drop(b.acquire().await);
        assert!(a.try_acquire().is_err(), "the bucket's quota is shared");
        assert!(limits.limiter(None).try_acquire().is_ok());
        assert!(limits.limiter(Some("other")).quotas().is_empty());
    }
}
