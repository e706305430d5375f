//! The whole order-to-review flow against the in-process sandbox with 1, 2, 4 and 8 workers
//! on one PostgreSQL journal, every worker with its own clients and its own connection pool
//! (as separate processes have), sharing each credential's token and rate budgets through
//! the database: orders per second of provider time (real time here: the shared stores keep
//! the database's clock, so the run cannot be simulated) and per second of machine time (the
//! CPU time of this process: flow, sandbox and clients; the database server's own is not
//! counted), token requests and 429 answers.
//!
//! `COMMERCE_TEST_POSTGRES=postgres://... cargo bench -p commerce-facade --features postgres
//! --bench flow_postgres` (`cargo xtask bench` starts a throw-away server for it);
//! `FLOW_ORDERS` sets the size (60), `FLOW_WORKERS` the worker counts (`1,2,4,8`).

use commerce_testing::facade as support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use commerce_facade::{Flow, FlowOptions, Journal, Postgres, Providers};
use commerce_sandbox::{Config, Report};

/// User plus system CPU time of this process so far (Linux: `/proc/self/stat`, in clock
/// ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Figures {
    provider_time: Duration,
    machine: Duration,
    report: Report,
}

fn run(server: &str, orders: usize, workers: usize) -> Figures {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let name = format!(
        "commerce_bench_{}_{workers}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let url = Postgres::create_database(server, &name).unwrap();
    rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders,
            ..Config::default()
        })
        .await
        .unwrap();
        let env = sb.env();
        let vars = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        let flows: Vec<Flow> = (0..workers)
            .map(|i| {
                let pg = Postgres::connect(&url).unwrap();
                Flow::new(
                    Providers::from_vars_shared(&vars, Some(&pg.shared_state())).unwrap(),
                    Arc::new(pg.journal()),
                    FlowOptions {
                        poll_interval: Duration::from_secs(1),
                        runner: format!("bench-{i}"),
                        ..support::shop_options()
                    },
                )
            })
            .collect();
        let (wall, cpu) = (Instant::now(), cpu_time());
        let summaries = futures_util::future::join_all(flows.iter().map(|f| f.run())).await;
        let (provider_time, machine) = (wall.elapsed(), cpu_time().saturating_sub(cpu));
        for s in &summaries {
            assert!(
                s.pending == 0
                    && s.attention
                        .iter()
                        .all(|(_, reason)| support::is_cancellation_referral(reason)),
                "{s:#?}"
            );
        }
        let journal = Postgres::connect(&url).unwrap().journal();
        support::settled(&sb, &journal as &dyn Journal, orders).await;
        let report = sb.report();
        assert_eq!(report.total_duplicates(), 0);
        Figures {
            provider_time,
            machine,
            report,
        }
    })
}

fn main() {
    let Ok(server) = std::env::var("COMMERCE_TEST_POSTGRES") else {
        eprintln!(
            "flow_postgres: set COMMERCE_TEST_POSTGRES to a PostgreSQL server (`cargo xtask bench` starts one)"
        );
        std::process::exit(1);
    };
    let orders = support::size("FLOW_ORDERS", 60);
    let counts: Vec<usize> = std::env::var("FLOW_WORKERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4, 8]);
    println!(
        "| orders | workers | provider time (real) | orders/s of provider time | machine time (CPU) | orders/s of machine time | HTTP requests | 429 answers | token requests |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for workers in counts {
        let f = run(&server, orders, workers);
        let (requests, tokens) = (f.report.total_requests(), f.report.total_token_requests());
        println!(
            "| {orders} | {workers} | {:.0} s | {:.3} | {:.2} s | {:.0} | {requests} | {} | {tokens} |",
            f.provider_time.as_secs_f64(),
            orders as f64 / f.provider_time.as_secs_f64(),
            f.machine.as_secs_f64(),
            orders as f64 / f.machine.as_secs_f64().max(0.001),
            f.report.total_rate_limited(),
        );
    }
}
