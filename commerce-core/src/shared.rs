//! State shared by several processes that use one credential: its access token and its
//! rate budgets.
//!
//! A provider's limits and tokens belong to a credential, not to a process: bol limits each
//! endpoint per credential and bans IPs that ask for tokens too often; Sitejabber allows 10
//! calls per 10 s per account. Each client keeps its token and its budgets in the process by
//! default ([`TokenCache`](crate::TokenCache), [`RateLimiter`](crate::RateLimiter)); given a
//! [`SharedState`] (with [`HttpClient::with_shared`](crate::HttpClient::with_shared), or a
//! client builder's `shared`), every client of the same credential, in any process, shares:
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
//! one process. The decision whether one more call may go is [`bucket_decision`], one pure function
//! every store uses.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::auth::TokenRules;
use crate::error::Error;
use crate::limit::Quota;

/// A credential as a [`TokenStore`] knows it: who it is (not secret) and a secret only its
/// holders know, for a store to seal the tokens it keeps with.
#[derive(Clone)]
pub struct Credential {
    /// A stable identity: the token endpoint and the client id (or the login), never a
    /// secret. Stores may keep it hashed.
    pub id: String,
    /// A secret of the credential (its client secret, its password): a store derives the key
    /// that seals the stored token from it, so the database alone does not give the token.
    pub secret: SecretString,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What a [`TokenStore`] has for a credential.
pub enum Stored {
    /// A token with at least the asked-for life left.
    Token {
        /// The token.
        secret: SecretString,
        /// How long it remains valid.
        left: Duration,
        /// The store's number for it, to name it when the provider refuses it.
        generation: u64,
    },
    /// No usable token, and the caller now holds the right to request one (until `hold`
    /// ends): it must [`TokenStore::put`] the token or [`TokenStore::abandon`] the request.
    Fetch,
    /// Another process is requesting one (or token requests are cooling down after a
    /// failure): look again after this long.
    Wait(Duration),
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stored::Token { left, generation, .. } => f
                .debug_struct("Token")
                .field("secret", &"[redacted]")
                .field("left", left)
                .field("generation", generation)
                .finish(),
            Stored::Fetch => f.write_str("Fetch"),
            Stored::Wait(d) => f.debug_tuple("Wait").field(d).finish(),
        }
    }
}

/// Where the token of each credential is kept for every process that uses it.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token of `credential` if it has at least `min_left` of its life left and
    /// is not generation `refused` (a token the provider refused: it is dropped for all);
    /// otherwise the right to request one for `hold`, unless another process holds it.
    async fn take(
        &self,
        credential: &Credential,
        min_left: Duration,
        refused: Option<u64>,
        hold: Duration,
    ) -> Result<Stored, Error>;

    /// Stores the token the holder of the request got, valid for `life`; returns its
    /// generation.
    async fn put(&self, credential: &Credential, token: &SecretString, life: Duration) -> Result<u64, Error>;

    /// The holder's token request failed: one more failure in a row for the credential,
    /// whichever process made it, and nobody asks again before the cool-down the rules set
    /// for that many failures (or the wait the provider `asked` for, when longer). A stored
    /// token resets the count.
    async fn abandon(
        &self,
        credential: &Credential,
        rules: &TokenRules,
        asked: Option<Duration>,
    ) -> Result<(), Error>;
}

/// One grant of a bucket as [`bucket_decision`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantView {
    /// When the call was let through, or (once it is over) when its answer came back.
    pub at: SystemTime,
    /// The call is still under way (the provider may not have counted it yet).
    pub open: bool,
}

/// The shared state of one bucket, as a [`RateStore`] reads it under its lock.
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
    /// Takes one grant in `bucket` if [`bucket_decision`] allows it now, counting it as under way
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

/// [`SharedState::in_memory`]'s store.
#[derive(Debug, Default)]
struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    tokens: HashMap<String, MemoryToken>,
    buckets: HashMap<String, MemoryBucket>,
    grants: u64,
}

impl fmt::Debug for MemoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryState")
            .field("tokens", &self.tokens.len())
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

#[derive(Default)]
struct MemoryToken {
    token: Option<(SecretString, SystemTime)>,
    generation: u64,
    held_until: Option<SystemTime>,
    strikes: u32,
}

#[derive(Default)]
struct MemoryBucket {
    /// The pause and the budget (its `grants` unused: they are kept with their ids).
    view: BucketView,
    grants: Vec<(u64, GrantView)>,
}

impl MemoryBucket {
    fn view(&self) -> BucketView {
        BucketView {
            grants: self.grants.iter().map(|(_, g)| *g).collect(),
            ..self.view.clone()
        }
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn take(
        &self,
        credential: &Credential,
        min_left: Duration,
        refused: Option<u64>,
        hold: Duration,
    ) -> Result<Stored, Error> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let t = state.tokens.entry(credential.id.clone()).or_default();
        let view = TokenView {
            left: t
                .token
                .as_ref()
                .map(|(_, until)| until.duration_since(now).unwrap_or_default()),
            generation: t.generation,
            held: t.held_until.map(|h| h.duration_since(now).unwrap_or_default()),
        };
        let (drop, decision) = token_decision(&view, refused, min_left);
        if drop {
            t.token = None;
        }
        Ok(match decision {
            TokenDecision::Use => Stored::Token {
                secret: t
                    .token
                    .as_ref()
                    .map(|(s, _)| s.clone())
                    .expect("used only when stored"),
                left: view.left.unwrap_or_default(),
                generation: t.generation,
            },
            TokenDecision::Wait(wait) => Stored::Wait(wait),
            TokenDecision::Claim => {
                t.held_until = Some(now + hold);
                Stored::Fetch
            }
        })
    }

    async fn put(&self, credential: &Credential, token: &SecretString, life: Duration) -> Result<u64, Error> {
        let mut state = self.lock();
        let t = state.tokens.entry(credential.id.clone()).or_default();
        t.generation += 1;
        t.token = Some((token.clone(), SystemTime::now() + life));
        t.held_until = None;
        t.strikes = 0;
        Ok(t.generation)
    }

    async fn abandon(
        &self,
        credential: &Credential,
        rules: &TokenRules,
        asked: Option<Duration>,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        let t = state.tokens.entry(credential.id.clone()).or_default();
        t.strikes = t.strikes.saturating_add(1);
        t.held_until = Some(SystemTime::now() + rules.shared_cool_down(t.strikes, asked));
        Ok(())
    }
}

#[async_trait]
impl RateStore for MemoryStore {
    async fn try_grant(
        &self,
        bucket: &str,
        quotas: &[Quota],
        slow_start: bool,
        _open_for: Duration,
    ) -> Result<Grant, Error> {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.grants += 1;
        let id = state.grants;
        let b = state.buckets.entry(bucket.to_owned()).or_default();
        let longest = longest_span(quotas);
        b.grants.retain(|(_, g)| g.open || g.at + longest > now);
        match bucket_decision(quotas, slow_start, &b.view(), now) {
            BucketDecision::Go => {
                b.grants.push((id, GrantView { at: now, open: true }));
                if let Some((left, until)) = &mut b.view.budget
                    && *until > now
                {
                    *left = left.saturating_sub(1);
                }
                Ok(Grant::Granted(id))
            }
            other => Ok(Grant::Denied(other)),
        }
    }

    fn end(&self, bucket: &str, id: u64, made: bool) {
        let now = SystemTime::now();
        let mut state = self.lock();
        let Some(b) = state.buckets.get_mut(bucket) else {
            return;
        };
        let Some(i) = b.grants.iter().position(|(g, _)| *g == id) else {
            return;
        };
        if made {
            let g = &mut b.grants[i].1;
            g.at = g.at.max(now);
            g.open = false;
        } else {
            b.grants.remove(i);
            if let Some((left, _)) = &mut b.view.budget {
                *left = left.saturating_add(1);
            }
        }
    }

    async fn pause(&self, bucket: &str, wait: Duration) -> Result<(), Error> {
        let until = SystemTime::now() + wait;
        let mut state = self.lock();
        let b = state.buckets.entry(bucket.to_owned()).or_default();
        if b.view.paused_until.is_none_or(|p| p < until) {
            b.view.paused_until = Some(until);
        }
        Ok(())
    }

    async fn budget(&self, bucket: &str, remaining: u64, own: u64, reset: Duration) -> Result<(), Error> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let b = state.buckets.entry(bucket.to_owned()).or_default();
        let open = b.grants.iter().filter(|(_, g)| g.open).count() as u64;
        b.view.budget = Some(next_budget(b.view.budget, remaining, open, own, reset, now));
        Ok(())
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

/// What a token store holds for one credential, as [`token_decision`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenView {
    /// The stored token's remaining life (`None`: no token, or one this process cannot
    /// open: sealed under another secret).
    pub left: Option<Duration>,
    /// The stored token's generation.
    pub generation: u64,
    /// How long another process's claim on the token request still runs.
    pub held: Option<Duration>,
}

/// What a store answers to [`TokenStore::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDecision {
    /// Hand out the stored token.
    Use,
    /// Give the caller the token request (claimed for `hold`).
    Claim,
    /// Another process holds the request: look again after this long.
    Wait(Duration),
}

/// The one rule of every token store: a token the provider refused (its generation is
/// `refused`) is dropped (the `bool`); a token with at least `min_left` of life is used;
/// otherwise the caller claims the request, unless another process holds it.
pub fn token_decision(view: &TokenView, refused: Option<u64>, min_left: Duration) -> (bool, TokenDecision) {
    let drop = view.left.is_some() && refused == Some(view.generation);
    let decision = match (view.left, view.held) {
        (Some(left), _) if !drop && left >= min_left => TokenDecision::Use,
        (_, Some(held)) if !held.is_zero() => TokenDecision::Wait(held.min(TOKEN_POLL)),
        _ => TokenDecision::Claim,
    };
    (drop, decision)
}

/// How often a process looks again for the token another process is requesting (or, after
/// a failure, may request again).
pub const TOKEN_POLL: Duration = Duration::from_millis(200);

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
    fn a_stored_token_is_used_claimed_or_waited_for() {
        let s = Duration::from_secs;
        let view = |left: Option<u64>, held: Option<u64>| TokenView {
            left: left.map(s),
            generation: 3,
            held: held.map(s),
        };
        let min = s(40);
        assert_eq!(
            token_decision(&view(Some(100), None), None, min),
            (false, TokenDecision::Use)
        );
        assert_eq!(
            token_decision(&view(Some(100), Some(9)), None, min),
            (false, TokenDecision::Use)
        );
        assert_eq!(
            token_decision(&view(Some(30), None), None, min),
            (false, TokenDecision::Claim)
        );
        assert_eq!(
            token_decision(&view(None, Some(0)), None, min),
            (false, TokenDecision::Claim)
        );
        assert_eq!(
            token_decision(&view(Some(30), Some(9)), None, min),
            (false, TokenDecision::Wait(TOKEN_POLL))
        );
        // Refused by the provider: dropped for all, and claimed by the one that saw it.
        assert_eq!(
            token_decision(&view(Some(100), None), Some(3), min),
            (true, TokenDecision::Claim)
        );
        assert_eq!(
            token_decision(&view(Some(100), None), Some(2), min),
            (false, TokenDecision::Use)
        );
    }

    #[tokio::test]
    async fn failed_token_requests_cool_down_per_credential_whichever_process_made_them() {
        let store = MemoryStore::default();
        let c = Credential {
            id: "token-url client".into(),
            secret: "s".to_owned().into(),
        };
        let rules = TokenRules::default();
        let hold = Duration::from_secs(45);
        let held = |store: &MemoryStore| {
            let state = store.lock();
            let until = state.tokens[&c.id].held_until.unwrap();
            until.duration_since(SystemTime::now()).unwrap_or_default()
        };
        // Process A fails: 1 s; process B (its own first failure) fails after it: 2 s, not 1.
        assert!(matches!(
            store.take(&c, Duration::ZERO, None, hold).await.unwrap(),
            Stored::Fetch
        ));
        store.abandon(&c, &rules, None).await.unwrap();
        assert!(held(&store) <= Duration::from_secs(1));
        assert!(matches!(
            store.take(&c, Duration::ZERO, None, hold).await.unwrap(),
            Stored::Wait(_)
        ));
        store.lock().tokens.get_mut(&c.id).unwrap().held_until = None;
        store.abandon(&c, &rules, None).await.unwrap();
        assert!(held(&store) > Duration::from_millis(1500), "{:?}", held(&store));
        // The provider's Retry-After, when longer; a stored token resets the count.
        store
            .abandon(&c, &rules, Some(Duration::from_secs(30)))
            .await
            .unwrap();
        assert!(held(&store) > Duration::from_secs(29));
        store
            .put(&c, &"t".to_owned().into(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.lock().tokens[&c.id].strikes, 0);
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
