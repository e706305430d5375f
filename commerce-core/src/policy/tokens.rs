//! Layer 2, pure policy: the token rules, and the decision every token store makes. No
//! clock, no I/O: the caller reads the time and hands it in.

use std::time::Duration;

use crate::wire::retry_after::MAX_SERVER_WAIT;

/// The rules a [`TokenCache`](crate::TokenCache) keeps whatever the provider answers, so no answer can make it
/// ask for tokens too often (bol bans IPs that do) or hold a token forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRules {
    /// The shortest life a token is used for, whatever `expires_in` or its JWT `exp` says
    /// (`0` included): 30 s. A token the provider really ends earlier is refused with 401
    /// and renewed then.
    pub min_life: Duration,
    /// The longest life a token is trusted for (an `expires_in` of 2⁶³ s): 24 h.
    pub max_life: Duration,
    /// The cool-down after the first failed token request or rejected token: 1 s. It doubles
    /// with each further failure in a row, up to `max_cool_down`.
    pub first_cool_down: Duration,
    /// The longest cool-down: 60 s.
    pub max_cool_down: Duration,
    /// At most this many token requests in any window of this length, whatever happens:
    /// 6 per minute.
    pub ceiling: (u32, Duration),
}

impl Default for TokenRules {
    fn default() -> Self {
        TokenRules {
            min_life: Duration::from_secs(30),
            max_life: Duration::from_secs(24 * 3600),
            first_cool_down: Duration::from_secs(1),
            max_cool_down: Duration::from_secs(60),
            ceiling: (6, Duration::from_secs(60)),
        }
    }
}

impl TokenRules {
    /// Sets the shortest and longest life a token is used for.
    pub fn with_life(mut self, min: Duration, max: Duration) -> Self {
        self.min_life = min;
        self.max_life = max.max(min);
        self
    }

    /// Sets the first and the longest cool-down.
    pub fn with_cool_down(mut self, first: Duration, max: Duration) -> Self {
        self.first_cool_down = first;
        self.max_cool_down = max.max(first);
        self
    }

    /// Sets the ceiling: at most `limit` token requests in any `window`.
    pub fn with_ceiling(mut self, limit: u32, window: Duration) -> Self {
        self.ceiling = (limit.max(1), window);
        self
    }

    /// The cool-down after `strikes` failed token requests in a row of one credential
    /// (counted by a shared [`TokenStore`](crate::TokenStore) across processes), or the
    /// wait the provider `asked` for when longer (at most a day).
    pub fn shared_cool_down(&self, strikes: u32, asked: Option<Duration>) -> Duration {
        self.cool_down(strikes)
            .max(asked.unwrap_or_default().min(MAX_SERVER_WAIT))
    }

    /// The cool-down after `strikes` failures in a row.
    fn cool_down(&self, strikes: u32) -> Duration {
        let doublings = strikes.saturating_sub(1).min(30);
        self.first_cool_down
            .saturating_mul(1u32 << doublings)
            .min(self.max_cool_down)
    }

    /// A provider's token life, within the rules.
    pub(crate) fn life(&self, said: Duration) -> Duration {
        said.clamp(self.min_life, self.max_life)
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

/// What a store answers to [`TokenStore::take`](crate::TokenStore::take).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
