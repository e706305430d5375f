//! Reliability soaks of the order-to-review flow against the in-process sandbox, in paused
//! tokio time (the providers' documented rate limits hold; the hours they cost are
//! simulated). Reduced sizes under `cargo test`; `cargo xtask soak` runs them full size
//! (`SOAK_ORDERS=1000`, `SOAK_CRASH_RUNS=20`, `SOAK_CRASH_ORDERS=25`).
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

use commerce_testing::facade as support;

use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{Flow, FlowOptions, MemoryJournal, SqliteJournal};
use commerce_sandbox::Config;
use commerce_testing::paused_time_http;
use support::{assert_once, providers_on, run_until_done, settled, size};

fn options() -> FlowOptions {
    FlowOptions {
        poll_interval: Duration::from_secs(5),
        ..support::shop_options()
    }
}

#[tokio::test(start_paused = true)]
async fn fault_soak_every_order_completes_once_with_faults_at_0_3() {
    let orders = size("SOAK_ORDERS", 120);
    let started = tokio::time::Instant::now();
    let sb = commerce_sandbox::start(Config {
        orders,
        faults: 0.3,
        seed: 30,
        ..Config::default()
    })
    .await
    .unwrap();
    let journal = Arc::new(MemoryJournal::new());
    // The sandbox decides a fault before it acts, so resending an unconfirmed create is
    // safe here; its duplicate counter checks that all the same.
    let flow = Flow::new(
        providers_on(&sb, &paused_time_http()),
        journal.clone(),
        FlowOptions {
            resend_unconfirmed: true,
            ..options()
        },
    );
    let runs = run_until_done(&flow, 30).await;
    let report = sb.report();
    assert!(
        report.total_faults() as f64 > 0.2 * orders as f64,
        "faults were injected: {report:#?}"
    );
    assert_once(&report, journal.as_ref()).await;
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    assert_eq!(report.total_rate_limited(), 0, "no 429 ever: {report:#?}");
    // Every order completed, cancelled by its buyer, or with a person: none lost.
    settled(&sb, journal.as_ref(), orders).await;
    eprintln!(
        "fault soak: {orders} orders in {runs} runs, {} faults injected, {} s simulated",
        report.total_faults(),
        started.elapsed().as_secs()
    );
}

/// One crash: a run stopped after `stop_after` steps, then a new process (new clients, the
/// same journal file) resumes. Returns whether the first run was really interrupted.
async fn crash_and_resume(run: u64, orders: usize, stop_after: usize, dir: &std::path::Path) -> bool {
    let sb = commerce_sandbox::start(Config {
        orders,
        seed: 100 + run,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = dir.join(format!("journal-{run}.sqlite"));
    let interrupted = {
        let journal = Arc::new(SqliteJournal::open(&path).unwrap());
        let flow = Flow::new(
            providers_on(&sb, &paused_time_http()),
            journal,
            FlowOptions {
                stop_after_steps: Some(stop_after),
                ..options()
            },
        );
        flow.run().await.interrupted
    };
    // A restart takes a moment; two processes share no client-side rate limiter.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let journal = Arc::new(SqliteJournal::open(&path).unwrap());
    let flow = Flow::new(providers_on(&sb, &paused_time_http()), journal.clone(), options());
    let mut runs = 0;
    loop {
        runs += 1;
        let summary = flow.run().await;
        assert!(
            support::clean_but_referrals(&summary) && !summary.interrupted,
            "run {run}: {summary:#?}"
        );
        if summary.pending == 0 {
            break;
        }
        assert!(
            runs < 5,
            "run {run}: still pending after {runs} runs: {summary:#?}"
        );
    }
    settled(&sb, journal.as_ref(), orders).await;
    let report = sb.report();
    assert_once(&report, journal.as_ref()).await;
    // The only report allowed: the resumed process asks bol for a token while the first
    // one's is still fresh (no persistent token cache).
    let bol_samples = &report.providers["bol"].violation_samples;
    assert!(
        report.total_violations() == bol_samples.len() as u64 && bol_samples.len() <= 1,
        "run {run}: {report:#?}"
    );
    interrupted
}

#[tokio::test(start_paused = true)]
async fn crash_soak_runs_stopped_at_a_random_step_resume_with_nothing_lost_or_doubled() {
    let runs = size("SOAK_CRASH_RUNS", 20) as u64;
    let orders = size("SOAK_CRASH_ORDERS", 6);
    let seed = size("SOAK_SEED", 2026) as u64;
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = std::env::temp_dir().join(format!("commerce-crash-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut interrupted = 0;
    let mut stops = Vec::new();
    for run in 0..runs {
        // An order takes about six steps; stopping anywhere up to the last of them.
        let stop_after = rng.usize(1..orders * 6);
        stops.push(stop_after);
        interrupted += usize::from(crash_and_resume(run, orders, stop_after, &dir).await);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        interrupted as u64 >= runs * 3 / 4,
        "most runs were really cut short: {interrupted} of {runs}, stops {stops:?} (seed {seed})"
    );
    eprintln!("crash soak: {runs} runs of {orders} orders, stops {stops:?}, {interrupted} interrupted");
}
