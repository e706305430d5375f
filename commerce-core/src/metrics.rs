//! Process-wide counts of the requests every client of this process sent, per provider, for
//! an operator's metrics (`commerce serve`'s `/metrics`): counted by the one exchange every
//! request goes through (each attempt, token requests included), so no client can send
//! one uncounted. Nothing of a request is kept but its provider and outcome.

use std::collections::BTreeMap;
use std::sync::Mutex;

use http::StatusCode;

/// What this process sent one provider, since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderCalls {
    /// The provider (`bol`, `shopwedo`, …).
    pub provider: String,
    /// Requests sent (each attempt of a call, and each token request).
    pub calls: u64,
    /// Answers `429 Too Many Requests`.
    pub throttled: u64,
    /// Token requests (also counted in `calls`).
    pub token_requests: u64,
    /// Answers `5xx`.
    pub server_errors: u64,
    /// Requests that got no answer (the connection failed or timed out).
    pub unanswered: u64,
}

static COUNTS: Mutex<BTreeMap<String, ProviderCalls>> = Mutex::new(BTreeMap::new());

fn count(provider: &str, add: impl FnOnce(&mut ProviderCalls)) {
    let mut counts = COUNTS.lock().unwrap_or_else(|p| p.into_inner());
    // Provider names are few and fixed: the map does not grow with the traffic.
    let entry = match counts.get_mut(provider) {
        Some(entry) => entry,
        None => counts
            .entry(provider.to_owned())
            .or_insert_with(|| ProviderCalls {
                provider: provider.to_owned(),
                ..ProviderCalls::default()
            }),
    };
    add(entry);
}

/// A request is about to be sent (`token`: it asks for an access token).
pub(crate) fn sent(provider: &str, token: bool) {
    count(provider, |c| {
        c.calls += 1;
        c.token_requests += u64::from(token);
    });
}

/// A request got an answer with this status.
pub(crate) fn answered(provider: &str, status: StatusCode) {
    if status == StatusCode::TOO_MANY_REQUESTS {
        count(provider, |c| c.throttled += 1);
    } else if status.is_server_error() {
        count(provider, |c| c.server_errors += 1);
    }
}

/// A request got no answer.
pub(crate) fn unanswered(provider: &str) {
    count(provider, |c| c.unanswered += 1);
}

/// What this process sent each provider since it started, by provider name.
pub fn call_counts() -> Vec<ProviderCalls> {
    COUNTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_provider() {
        let name = "metrics-test-provider";
        let before = call_counts()
            .into_iter()
            .find(|c| c.provider == name)
            .unwrap_or_default();
        sent(name, true);
        sent(name, false);
        answered(name, StatusCode::TOO_MANY_REQUESTS);
        answered(name, StatusCode::BAD_GATEWAY);
        answered(name, StatusCode::OK);
        unanswered(name);
        let after = call_counts()
            .into_iter()
            .find(|c| c.provider == name)
            .expect("counted");
        assert_eq!(after.calls - before.calls, 2);
        assert_eq!(after.token_requests - before.token_requests, 1);
        assert_eq!(after.throttled - before.throttled, 1);
        assert_eq!(after.server_errors - before.server_errors, 1);
        assert_eq!(after.unanswered - before.unanswered, 1);
    }
}
