//! Adversarial tests of the claim "a slow-start limiter (`RateLimits::slow_start`) causes no
//! 429 from a cold start against a server announcing its budget in
//! X-RateLimit-Remaining/Reset" (README "rate limits" row, ARCHITECTURE.md "Slow start").
//!
//! The provider here keeps fixed windows (aligned to its own clock, as "per minute" limits
//! usually are, or starting at the first call of a window) and says in every answer how many
//! calls are left and how many seconds until the window resets. All in paused time.

use commerce_testing as support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use commerce_core::{
    Endpoint, Error, ProviderError, RateLimits, RetryPolicy, Token, TokenAuth, TokenCache, TokenSource,
    Transport,
};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rounding {
    /// Whole seconds until the reset, rounded up.
    Ceil,
    /// Whole seconds until the reset, rounded down (integer division, as many servers do).
    Floor,
}

#[derive(Clone, Copy, Debug)]
struct Provider {
    limit: u64,
    window: Duration,
    /// Windows at fixed multiples of `window` from the server's start (else: a window
    /// starts at the first call after the last one ended).
    aligned: bool,
    rounding: Rounding,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    refused: AtomicU64,
}

/// The provider: one budget per path.
async fn provider(p: Provider) -> (String, Arc<Counts>) {
    #[derive(Clone)]
    struct S {
        p: Provider,
        epoch: Instant,
        windows: Arc<Mutex<HashMap<String, (Instant, u64)>>>,
        counts: Arc<Counts>,
    }
    async fn handle(
        axum::extract::State(s): axum::extract::State<S>,
        uri: axum::http::Uri,
    ) -> (StatusCode, HeaderMap, String) {
        let now = Instant::now();
        let (admitted, left, reset) = {
            let mut w = s.windows.lock().unwrap();
            let entry = w.entry(uri.path().to_owned()).or_insert((now, 0));
            let start = if s.p.aligned {
                let k = (now - s.epoch).as_nanos() / s.p.window.as_nanos();
                s.epoch + s.p.window * k as u32
            } else if now - entry.0 >= s.p.window {
                now
            } else {
                entry.0
            };
            if start != entry.0 {
                *entry = (start, 0);
            }
            let admitted = entry.1 < s.p.limit;
            if admitted {
                entry.1 += 1;
            }
            let left_secs = (s.p.window - (now - start)).as_secs_f64();
            let reset = match s.p.rounding {
                Rounding::Ceil => left_secs.ceil(),
                Rounding::Floor => left_secs.floor(),
            } as u64;
            (admitted, s.p.limit - entry.1, reset)
        };
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", s.p.limit.into());
        h.insert("x-ratelimit-remaining", left.into());
        h.insert("x-ratelimit-reset", reset.into());
        tokio::time::sleep(Duration::from_millis(20)).await;
        if admitted {
            s.counts.ok.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, h, "{}".into())
        } else {
            s.counts.refused.fetch_add(1, Ordering::SeqCst);
            h.insert("retry-after", 1.into());
            (StatusCode::TOO_MANY_REQUESTS, h, "{}".into())
        }
    }
    let counts = Arc::new(Counts::default());
    let s = S {
        p,
        epoch: Instant::now(),
        windows: Arc::default(),
        counts: counts.clone(),
    };
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::get(handle))
        .with_state(s);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counts)
}

/// `callers` concurrent calls on a fresh slow-start client, `offset` into the provider's
/// clock, spread over `buckets` endpoints with a bucket each. Returns (ok, 429s, failed calls).
async fn cold_burst(
    p: Provider,
    offset: Duration,
    callers: usize,
    buckets: usize,
    auth: Option<TokenAuth>,
) -> (u64, u64, usize) {
    let (url, counts) = provider(p).await;
    tokio::time::sleep(offset).await;
    let mut b = Transport::builder(&support::paused_time_http(), "bol", &url)
        .limits(RateLimits::slow_start([]))
        .retry(RetryPolicy::default().with_seed(5));
    if let Some(auth) = auth {
        b = b.auth(auth);
    }
    let t = b.build().unwrap();
    let results = futures_util::future::join_all((0..callers).map(|i| {
        let t = t.clone();
        async move {
            let bucket = format!("b{}", i % buckets);
            t.send(&Endpoint::get(bucket.clone(), bucket.clone()).bucket(bucket))
                .await
        }
    }))
    .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    (
        counts.ok.load(Ordering::SeqCst),
        counts.refused.load(Ordering::SeqCst),
        failed,
    )
}

// ---------------------------------------------------------------------------------------
// A provider that rounds its `X-RateLimit-Reset` seconds down, with one-second windows:
// "reset: 0" means "within the next second", never "now" (`remaining: 0, reset: 0` paused
// nothing and `remaining > 0, reset: 0` set no budget, so calls went one by one into an
// exhausted window: 429s).
//
// Known limit, not tested here: with windows longer than a second and the seconds rounded
// down ("reset: 1" with 1.5 s left), the budget ends up to a second before the provider's
// window and the slow-start call that opens the next period can meet a 429 (one per window).
// Reading "reset: n" as n + 1 s would avoid it but halve the throughput of one-second
// windows that round up (the sandbox's reading of bol); bol's rounding is not documented.
// ---------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn a_provider_rounding_reset_down_in_one_second_windows_gets_no_429() {
    let p = Provider {
        limit: 5,
        window: Duration::from_secs(1),
        aligned: true,
        rounding: Rounding::Floor,
    };
    let (ok, refused, failed) = cold_burst(p, Duration::from_millis(500), 16, 1, None).await;
    assert_eq!((ok, refused, failed), (16, 0, 0));
}

// ---------------------------------------------------------------------------------------
// HELD
// ---------------------------------------------------------------------------------------

/// Rounding up, aligned or first-call windows, any offset, one or eight buckets: no 429.
#[tokio::test(start_paused = true)]
async fn a_provider_rounding_reset_up_gets_no_429() {
    for aligned in [true, false] {
        for offset_ms in [0u64, 300, 999] {
            for buckets in [1usize, 8] {
                let p = Provider {
                    limit: 5,
                    window: Duration::from_secs(2),
                    aligned,
                    rounding: Rounding::Ceil,
                };
                let (ok, refused, failed) =
                    cold_burst(p, Duration::from_millis(offset_ms), 48, buckets, None).await;
                assert_eq!(
                    (ok, refused, failed),
                    (48, 0, 0),
                    "aligned {aligned}, offset {offset_ms} ms, {buckets} buckets"
                );
            }
        }
    }
}

/// A token source that fails (transiently) the first `fail` times.
#[derive(Debug)]
struct Flaky {
    fail: u64,
    n: AtomicU64,
}

#[async_trait]
impl TokenSource for Flaky {
    async fn fetch(&self) -> Result<Token, Error> {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        if n < self.fail {
            return Err(Error::from(ProviderError::new("bol", "token", 503)));
        }
        Ok(Token::new("tok".to_owned().into()).with_expires_in(Some(Duration::from_secs(300))))
    }
}

/// Permits handed back unused (the token could not be had) during a cold start: they count
/// against no budget, the slow start goes on, no 429.
#[tokio::test(start_paused = true)]
async fn unused_permits_during_a_cold_start_cause_no_429() {
    let p = Provider {
        limit: 5,
        window: Duration::from_secs(2),
        aligned: true,
        rounding: Rounding::Ceil,
    };
    let cache = TokenCache::new(Flaky {
        fail: 2,
        n: AtomicU64::new(0),
    });
    let (ok, refused, failed) = cold_burst(
        p,
        Duration::from_millis(300),
        24,
        2,
        Some(TokenAuth::bearer(cache)),
    )
    .await;
    assert_eq!(refused, 0, "ok {ok}, failed {failed}");
}
