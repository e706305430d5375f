//! The whole order-to-review flow for 1,000 orders against the in-process sandbox, with the
//! journal on disk (SQLite, durable at every step), in simulated time: orders per second of
//! provider time (what the providers' limits allow) and per second of machine time (what
//! the flow itself costs). `cargo bench -p commerce-facade --bench flow` (part of
//! `cargo xtask bench`); `FLOW_ORDERS` changes the size.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use commerce_core::testing::paused_time_http;
use commerce_facade::{Flow, FlowOptions, SqliteJournal};
use commerce_sandbox::Config;

fn main() {
    let orders = support::size("FLOW_ORDERS", 1000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("commerce-flow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.sqlite");
    let (simulated, machine, runs, report) = rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders,
            ..Config::default()
        })
        .await
        .unwrap();
        let journal = Arc::new(SqliteJournal::open(&path).unwrap());
        let flow = Flow::new(
            support::providers_on(&sb, &paused_time_http()),
            journal.clone(),
            FlowOptions {
                poll_interval: Duration::from_secs(5),
                ..FlowOptions::default()
            },
        );
        let simulated = tokio::time::Instant::now();
        let machine = std::time::Instant::now();
        let mut runs = 0;
        loop {
            runs += 1;
            let s = flow.run().await;
            assert!(s.is_clean(), "{s:#?}");
            if s.pending == 0 {
                break;
            }
            assert!(runs < 10, "{s:#?}");
        }
        let (simulated, machine) = (simulated.elapsed(), machine.elapsed());
        assert_eq!(
            support::complete(journal.as_ref()),
            orders,
            "every order completed"
        );
        (simulated, machine, runs, sb.report())
    });
    assert_eq!(report.total_duplicates(), 0);
    assert_eq!(report.total_rate_limited(), 0);
    let journal_kb = std::fs::metadata(&path).map_or(0, |m| m.len()) / 1024;
    std::fs::remove_dir_all(&dir).unwrap();
    let requests: u64 = report
        .providers
        .values()
        .map(|p| p.requests.values().sum::<u64>())
        .sum();
    println!(
        "| orders | flow runs | provider time (simulated) | orders/s of provider time | machine time | orders/s of machine time | HTTP requests | journal |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {orders} | {runs} | {:.0} s | {:.3} | {:.2} s | {:.0} | {requests} | {journal_kb} KB |",
        simulated.as_secs_f64(),
        orders as f64 / simulated.as_secs_f64(),
        machine.as_secs_f64(),
        orders as f64 / machine.as_secs_f64(),
    );
}
