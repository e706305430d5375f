//! The stock loop for 1,000 offers against the in-process sandbox (paused time, journal in
//! SQLite on disk): a first pass (the export, the offers whose mode the export does not give
//! read one by one, every warehouse read, the updates that differ), a second pass with
//! nothing changed (no update may be sent), and a third after 50 warehouse counts moved and
//! 20 orders came in. Per pass: provider time (simulated: what bol's and the warehouses'
//! limits allow), machine time, requests, updates sent, 429 answers, and whether every
//! offer bol sells ended at what the warehouses hold.
//! `cargo bench -p commerce-facade --bench stock` (part of `cargo xtask bench`);
//! `STOCK_OFFERS` changes the size.

use commerce_testing::facade as support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use commerce_facade::{Flow, FlowOptions, PassMode, SqliteJournal, StockReport};
use commerce_sandbox::{Config, Sandbox};
use commerce_testing::paused_time_http;

struct Row {
    name: &'static str,
    simulated: Duration,
    machine: Duration,
    requests: u64,
    report: StockReport,
    limited: u64,
    noop: u64,
    wrong: usize,
}

/// Offers bol sells for the shop (FBR, shop-kept) whose count is not what the warehouses
/// hold.
fn wrong(sb: &Sandbox) -> usize {
    sb.offers()
        .iter()
        .filter(|o| !o.fbb && o.managed_by_retailer)
        .filter(|o| {
            let want = if o.warehouses.is_empty() {
                0
            } else {
                o.free.clamp(0, 999)
            };
            o.corrected != want
        })
        .count()
}

async fn pass(name: &'static str, flow: &Flow, sb: &Sandbox) -> Row {
    let before = sb.report();
    let (sim, machine) = (tokio::time::Instant::now(), Instant::now());
    let report = flow.stock(PassMode::Now).await.pop().unwrap().1.unwrap().unwrap();
    let (simulated, machine) = (sim.elapsed(), machine.elapsed());
    let after = sb.report();
    Row {
        name,
        simulated,
        machine,
        requests: after.total_requests() - before.total_requests(),
        report,
        limited: after.total_rate_limited() - before.total_rate_limited(),
        noop: after.stock.noop_updates - before.stock.noop_updates,
        wrong: wrong(sb),
    }
}

fn main() {
    let offers: usize = std::env::var("STOCK_OFFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("commerce-stock-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.sqlite");
    let rows = rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders: 0,
            products: offers,
            ..Config::default()
        })
        .await
        .unwrap();
        let mut options = FlowOptions {
            runner: "bench".into(),
            ..support::shop_options()
        };
        options.stock.interval = Some(Duration::from_secs(900));
        let flow = Flow::new(
            support::providers_on(&sb, &paused_time_http()),
            Arc::new(SqliteJournal::open(&path).unwrap()),
            options,
        );
        let mut rows = vec![
            pass("first", &flow, &sb).await,
            pass("nothing changed", &flow, &sb).await,
        ];
        let eans: Vec<String> = sb
            .offers()
            .into_iter()
            .filter(|o| !o.fbb && !o.warehouses.is_empty())
            .map(|o| o.ean)
            .collect();
        for (i, ean) in eans.iter().take(50).enumerate() {
            if let Some(s) = sb
                .stock("shopwedo", ean)
                .or_else(|| sb.stock("customer-api", ean))
            {
                sb.set_stock(
                    &s.provider,
                    ean,
                    (s.level + if i % 2 == 0 { 5 } else { -3 }).max(0),
                )
                .unwrap();
            }
        }
        for ean in eans.iter().skip(100).take(20) {
            let _ = sb.place_order(ean, 1);
        }
        rows.push(pass("50 counts moved, 20 orders", &flow, &sb).await);
        rows
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!("\nThe stock loop, {offers} offers (paused time, SQLite journal on disk)\n");
    println!(
        "| pass | offers | read by | provider time (simulated) | machine time | requests | updates sent | unchanged | 429 answers | no-op updates | offers wrong after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.1} s | {:.2} s | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.report.offers,
            r.report.listed_by,
            r.simulated.as_secs_f64(),
            r.machine.as_secs_f64(),
            r.requests,
            r.report.sent,
            r.report.unchanged,
            r.limited,
            r.noop,
            r.wrong
        );
    }
    assert!(
        rows.iter().all(|r| r.limited == 0 && r.noop == 0 && r.wrong == 0),
        "a pass broke a rule"
    );
    assert_eq!(rows[1].report.sent, 0, "the second pass sent an update");
}
