//! Layer 3, state: [`SharedState::in_memory`](crate::SharedState::in_memory)'s store, both
//! stores in this process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::Error;
use crate::policy::buckets::{
    BucketDecision, BucketView, GrantView, Quota, bucket_decision, longest_span, next_budget,
};
use crate::policy::tokens::{TokenDecision, TokenRules, TokenView, token_decision};
use crate::state::rate_store::{Grant, RateStore};
use crate::state::token_store::{Credential, Stored, TokenStore};

/// [`SharedState::in_memory`](crate::SharedState::in_memory)'s store.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
