//! The whole order-to-review flow for 1,000 orders against the in-process sandbox, with the
//! journal on disk (SQLite, durable at every step), in simulated time, worked by 1, 2 and 4
//! runners sharing the journal file (each with its own clients and its own connection, as
//! separate processes would be): orders per second of provider time (what the providers'
//! limits allow) and per second of machine time (what the flow itself costs).
//! `cargo bench -p commerce-facade --bench flow` (part of `cargo xtask bench`);
//! `FLOW_ORDERS` changes the size, `FLOW_RUNNERS` the runner counts (`1,2,4`).

use commerce_testing::facade as support;

use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{Flow, FlowOptions, Journal, SqliteJournal};
use commerce_sandbox::{Config, Report};
use commerce_testing::paused_time_http;

struct Figures {
    simulated: Duration,
    machine: Duration,
    report: Report,
    journal_kb: u64,
}

fn run(orders: usize, runners: usize) -> Figures {
    run_with(orders, runners, 4, Config::default().cancellation_requests)
}

fn run_with(orders: usize, runners: usize, concurrency: usize, cancellation_requests: f64) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("commerce-flow-bench-{}-{runners}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.sqlite");
    let (simulated, machine, report) = rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders,
            cancellation_requests,
            ..Config::default()
        })
        .await
        .unwrap();
        let flows: Vec<Flow> = (0..runners)
            .map(|i| {
                Flow::new(
                    support::providers_on(&sb, &paused_time_http()),
                    Arc::new(SqliteJournal::open(&path).unwrap()),
                    FlowOptions {
                        poll_interval: Duration::from_secs(5),
                        runner: format!("bench-{i}"),
                        concurrency,
                        ..support::shop_options()
                    },
                )
            })
            .collect();
        let simulated = tokio::time::Instant::now();
        let machine = std::time::Instant::now();
        let summaries = futures_util::future::join_all(flows.iter().map(|f| f.run())).await;
        let (simulated, machine) = (simulated.elapsed(), machine.elapsed());
        for s in &summaries {
            // Failures (several runners' 429s: each has its own limiters) are tried again;
            // nothing is left pending, and a person is asked only about cancellations.
            assert!(
                s.pending == 0
                    && s.attention
                        .iter()
                        .all(|(_, reason)| support::is_cancellation_referral(reason)),
                "{s:#?}"
            );
        }
        // Every order completed, cancelled by its buyer, or with a person about that.
        let journal = SqliteJournal::open(&path).unwrap();
        support::settled(&sb, &journal as &dyn Journal, orders).await;
        (simulated, machine, sb.report())
    });
    assert_eq!(report.total_duplicates(), 0);
    let journal_kb = std::fs::metadata(&path).map_or(0, |m| m.len()) / 1024;
    std::fs::remove_dir_all(&dir).unwrap();
    Figures {
        simulated,
        machine,
        report,
        journal_kb,
    }
}

/// The flow at the pace of its slowest provider: `orders` orders, one runner working 8 at a
/// time, no faults and no cancellations, against the floor Sitejabber's limit sets (10 calls
/// in any 10 s: one second per call it answered).
fn pace(orders: usize) {
    let f = run_with(orders, 1, 8, 0.0);
    let sitejabber = &f.report.providers["sitejabber"];
    let calls: u64 = sitejabber.requests.values().sum::<u64>();
    let floor = Duration::from_secs(calls);
    println!();
    println!(
        "| orders | concurrency | provider time (simulated) | Sitejabber calls | Sitejabber floor | ratio | 429 answers |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {orders} | 8 | {:.0} s | {calls} | {:.0} s | {:.2} | {} |",
        f.simulated.as_secs_f64(),
        floor.as_secs_f64(),
        f.simulated.as_secs_f64() / floor.as_secs_f64().max(1.0),
        f.report.total_rate_limited(),
    );
}

fn main() {
    if let Ok(orders) = std::env::var("FLOW_PACE") {
        pace(orders.parse().unwrap_or(100));
        return;
    }
    let orders = support::size("FLOW_ORDERS", 1000);
    let counts: Vec<usize> = std::env::var("FLOW_RUNNERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4]);
    println!(
        "| orders | runners | provider time (simulated) | orders/s of provider time | machine time | orders/s of machine time | HTTP requests | 429 answers | token requests | journal |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for runners in counts {
        let f = run(orders, runners);
        let (requests, tokens) = (f.report.total_requests(), f.report.total_token_requests());
        println!(
            "| {orders} | {runners} | {:.0} s | {:.3} | {:.2} s | {:.0} | {requests} | {} | {tokens} | {} KB |",
            f.simulated.as_secs_f64(),
            orders as f64 / f.simulated.as_secs_f64(),
            f.machine.as_secs_f64(),
            orders as f64 / f.machine.as_secs_f64(),
            f.report.total_rate_limited(),
            f.journal_kb,
        );
    }
}
