//! Client-side pacing, checked in simulated time.

use commerce_testing as support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_core::{Endpoint, Quota, RateLimiter, RateLimits, Transport};
use support::{Reply, ScriptedServer};
use tokio::time::Instant;

/// Asserts that no window of `quota.window()` holds more than `quota.limit()` of `times`.
fn assert_within(times: &[Instant], quota: Quota) {
    let n = quota.limit() as usize;
    for (i, pair) in times.windows(n + 1).enumerate() {
        let span = pair[n] - pair[0];
        assert!(
            span >= quota.window(),
            "{} grants within {span:?} from grant {i}: quota {quota:?} broken",
            n + 1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn over_a_simulated_hour_the_limiter_never_exceeds_any_quota() {
    let quotas = [Quota::new(10, Duration::from_secs(10)), Quota::per_hour(1000)];
    let limiter = RateLimiter::new(quotas);
    let start = Instant::now();
    let end = start + Duration::from_secs(2 * 3600);
    let grants: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let workers: Vec<_> = (0..40)
        .map(|_| {
            let limiter = limiter.clone();
            let grants = grants.clone();
            tokio::spawn(async move {
                loop {
                    let _permit = limiter.acquire().await;
                    let now = Instant::now();
                    if now >= end {
                        return;
                    }
                    grants.lock().unwrap().push(now);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let mut times = grants.lock().unwrap().clone();
    times.sort();
    for q in quotas {
        assert_within(&times, q);
    }
    // And it is not over-cautious: each hour's quota is used in full.
    let first_hour = times
        .iter()
        .filter(|t| **t < start + Duration::from_secs(3600))
        .count();
    assert_eq!(first_hour, 1000);
    assert_eq!(times.len(), 2000);
    // 10 per 10 s is the binding limit until the hourly quota runs out.
    assert!(
        times[999] - start <= Duration::from_secs(1000),
        "{:?}",
        times[999] - start
    );
}

/// The provider counts a call when it arrives, which may be long after the limiter let it
/// through (a slow network, a busy machine). Calls are counted again when their answer is
/// back, so however late they arrive, the provider never sees too many in its window.
#[tokio::test(start_paused = true)]
async fn late_arrivals_never_break_the_providers_window() {
    let quota = Quota::per_second(3);
    let limiter = RateLimiter::new([quota]);
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seed = Arc::new(Mutex::new(0x2545_f491_4f6c_dd1d_u64));
    // Up to 400 ms on the way there and 400 ms back: far more than the 10 ms margin.
    let delay = move || {
        let mut s = seed.lock().unwrap();
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        Duration::from_millis(*s % 400)
    };
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (limiter, arrivals, delay) = (limiter.clone(), arrivals.clone(), delay.clone());
            tokio::spawn(async move {
                for _ in 0..20 {
                    let permit = limiter.acquire().await;
                    tokio::time::sleep(delay()).await;
                    arrivals.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(delay()).await;
                    drop(permit);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let mut times = arrivals.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), 120);
    assert_within(&times, quota);
}

#[tokio::test(start_paused = true)]
async fn calls_through_a_transport_are_paced_and_clones_share_the_quota() {
    let server = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let http = support::paused_time_http();
    let quota = Quota::new(10, Duration::from_secs(10));
    let transport = Transport::builder(&http, "sitejabber", &server.url)
        .limits(RateLimits::new([quota]))
        .build()
        .unwrap();
    let start = Instant::now();
    let calls: Vec<_> = (0..25)
        .map(|i| {
            let t = transport.clone();
            tokio::spawn(async move {
                t.send(&Endpoint::get("reviews.list", format!("reviews/{i}")))
                    .await
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_secs(20),
        "25 calls took {:?}",
        start.elapsed()
    );
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 25);
    assert_within(&times, quota);
}

#[tokio::test(start_paused = true)]
async fn named_buckets_are_paced_on_their_own() {
    let server = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let http = support::paused_time_http();
    let transport = Transport::builder(&http, "bol", &server.url)
        .limits(RateLimits::default().with_bucket("orders", [Quota::per_second(1)]))
        .build()
        .unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        transport
            .send(&Endpoint::get("orders.list", "orders").bucket("orders"))
            .await
            .unwrap();
    }
    // 1 per second, with the 1% margin.
    assert_eq!(start.elapsed(), Duration::from_millis(2020));
    for _ in 0..5 {
        transport
            .send(&Endpoint::get("offers.get", "offers/1").bucket("offers"))
            .await
            .unwrap();
    }
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(2020),
        "another bucket does not wait"
    );
}
