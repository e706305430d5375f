//! Pacing against the sandbox's enforced limits, in simulated time: the sustained rate each
//! client reaches as a share of the documented limit, with no 429. Four callers share each
//! client, as the flow's workers do. Run with `cargo bench -p commerce-facade --bench pacing`
//! (part of `cargo xtask bench`).
//!
//! Time is tokio's paused clock: the sandbox keeps its windows with `tokio::time::Instant`,
//! so an hour of Sitejabber's limit passes in well under a second of machine time. The
//! figure is a rate, not a duration, so this is a report rather than a criterion timing.

use commerce_testing::facade as support;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_core::Error;
use commerce_sandbox::Config;
use commerce_testing::paused_time_http;
use tokio::time::Instant;

/// Runs `n` calls from four concurrent callers; returns each call's finishing instant,
/// relative to the start, sorted.
async fn run<F, Fut, T>(n: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    let done = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let left = Arc::new(Mutex::new(n));
    let worker = || async {
        loop {
            {
                let mut l = left.lock().unwrap();
                if *l == 0 {
                    return;
                }
                *l -= 1;
            }
            if let Err(e) = call().await {
                panic!("a paced call failed: {e}");
            }
            done.lock().unwrap().push(start.elapsed());
        }
    };
    futures_util::future::join4(worker(), worker(), worker(), worker()).await;
    let mut t = done.lock().unwrap().clone();
    t.sort();
    t
}

/// The sustained rate after the first full window as a share of `limit` per `window`:
/// `(n - limit)` calls over the time of the last one (the first `limit` go at once).
fn share(times: &[Duration], limit: usize, window: Duration) -> f64 {
    let last = times.last().expect("calls").as_secs_f64();
    let rate = (times.len() - limit) as f64 / last;
    rate / (limit as f64 / window.as_secs_f64())
}

fn row(provider: &str, limit: &str, n: usize, share: f64, limited: u64, violations: u64, wall: Duration) {
    println!(
        "| {provider} | {limit} | {n} | {:.1}% | {limited} | {violations} | {:.2} s |",
        share * 100.0,
        wall.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: both run it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders: 30,
            ..Config::default()
        })
        .await
        .unwrap();
        let http = paused_time_http();
        println!("| provider | documented limit | calls | sustained share | 429s | violations | machine time |");
        println!("|---|---|---|---|---|---|---|");

        // Sitejabber: 10 per 10 s and 1000 per hour.
        let sj = support::sitejabber_on(&sb, &http);
        let wall = std::time::Instant::now();
        let query = sitejabber_client::ReviewsQuery::default();
        let t = run(1001, || sj.reviews(&query, 0, 20)).await;
        let r = sb.report();
        let p = &r.providers["sitejabber"];
        // The login is a call too: it and the first 999 reviews are the hour's 1000 calls;
        // the first 10 go at once, the other 990 at the 10-per-10-s pace.
        let documented = 10.0 / Duration::from_secs(10).as_secs_f64();
        let ten = (1000.0 - 10.0) / t[998].as_secs_f64() / documented;
        row(
            "Sitejabber `GET reviews` (+ login)",
            "10 per 10 s",
            1000,
            ten,
            p.rate_limited,
            p.violations,
            wall.elapsed(),
        );
        println!(
            "| Sitejabber, the hour | 1000 per hour | 1001 | call 1000 (with the login) at {:.1} s, call 1001 at {:.1} s | {} | {} | |",
            t[998].as_secs_f64(),
            t[1000].as_secs_f64(),
            p.rate_limited,
            p.violations
        );

        // ShopWeDo: 3 per second.
        let sw = support::shopwedo_on(&sb, &http);
        let wall = std::time::Instant::now();
        let t = run(600, || sw.auth_test()).await;
        let r = sb.report();
        let p = &r.providers["shopwedo"];
        row(
            "ShopWeDo `authTest`",
            "3 per second",
            600,
            share(&t, 3, Duration::from_secs(1)),
            p.rate_limited,
            p.violations,
            wall.elapsed(),
        );

        // bol: per endpoint, learned from X-RateLimit-*; the sandbox allows 20 per second
        // for an order, 10 for the order list.
        let bol = support::bol_on(&sb, &http);
        let wall = std::time::Instant::now();
        let params = retailer_client::GetOrdersParams::default();
        let t = run(1000, || bol.get_orders(&params)).await;
        let r = sb.report();
        let p = &r.providers["bol"];
        row(
            "bol `GET /retailer/orders`",
            "10 per second (sandbox)",
            1000,
            share(&t, 10, Duration::from_secs(1)),
            p.rate_limited,
            p.violations,
            wall.elapsed(),
        );
        let report = sb.report();
        assert_eq!(report.total_rate_limited(), 0, "no 429: {report:#?}");
    });
}
