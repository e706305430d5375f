//! A bol job on a cold client, against the sandbox's enforced per-endpoint limits, in
//! simulated time: how close a fresh `RetailerClient` shared by 1, 16, 64 and 256 concurrent
//! callers comes to the least time those limits allow, and whether it draws any 429.
//! `cargo bench -p commerce-facade --bench cold_start`; `COLD_START_ORDERS` changes the
//! number of open orders (default 200).
//!
//! The job, per row on a FRESH client (no token, no learned limit): list the open orders
//! (every page), fetch each order, confirm a shipment per open order item (one
//! `POST /shipments` per item) and wait for all the resulting process statuses with
//! `wait_for_processes` (bol's bulk request). The callers take orders from one queue; the
//! listing and the final wait are done once.
//!
//! Time is tokio's paused clock, with the sandbox on the same current-thread runtime (as in
//! `pacing.rs`): the sandbox keeps its windows with `tokio::time::Instant`, so calls take no
//! simulated time and the elapsed time is what the limits and the client's pacing make it.
//! The goal, for the runtime: no 429 and elapsed / floor at most 1.2 at every row.

use commerce_testing::facade as support;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use commerce_sandbox::{Config, bol_limit_per_second};
use commerce_testing::paused_time_http;
use futures_util::TryStreamExt;
use retailer_client::models::{
    GetOrdersStatus, OrderItem, ProcessState, ReducedOrder, ShipmentRequest, TransportInstruction,
};
use retailer_client::{BULK_PROCESS_STATUS_LIMIT, GetOrdersParams, RetailerClient, WaitOptions};
use tokio::time::Instant;

/// Orders per page of bol's order list.
const PAGE: usize = 50;

/// The sandbox's names of the endpoints the job calls, in the order of the table.
const ENDPOINTS: [&str; 4] = [
    "GET /orders",
    "GET /orders/{id}",
    "POST /shipments",
    "POST /process-status",
];

/// What one row measured.
struct Row {
    callers: usize,
    /// Calls the sandbox saw per endpoint (429s included), and token requests.
    calls: BTreeMap<String, u64>,
    tokens: u64,
    rate_limited: u64,
    violations: u64,
    violation_samples: Vec<String>,
    job: Job,
    elapsed: Duration,
    machine: Duration,
}

/// What the job needed and what became of it.
#[derive(Default)]
struct Job {
    /// The calls the job needs per endpoint, from the listing: the pages (with the empty
    /// one that ends the list), one fetch per order, one shipment per open item, and one
    /// bulk request per 1000 statuses (a round; more rounds only if statuses stay pending).
    needed: BTreeMap<&'static str, u64>,
    /// Calls that failed per operation (after the client's own retries), with the first error.
    failed: BTreeMap<&'static str, (u64, String)>,
    /// Shipments started, and those whose process status ended in `SUCCESS`.
    started: usize,
    succeeded: usize,
}

impl Job {
    fn failed_calls(&self) -> u64 {
        self.failed.values().map(|(n, _)| n).sum()
    }

    fn complete(&self) -> bool {
        self.failed.is_empty() && self.succeeded as u64 == self.needed["POST /shipments"]
    }

    fn fail(&mut self, operation: &'static str, e: &commerce_core::Error) {
        let entry = self.failed.entry(operation).or_insert_with(|| (0, e.to_string()));
        entry.0 += 1;
    }
}

/// The least simulated time the sandbox's limits allow for `calls` per endpoint.
///
/// The sandbox admits at most `limit` calls of an endpoint in any sliding second, counting
/// each endpoint on its own. `n` calls of one endpoint therefore need at least
/// `ceil(n / limit) - 1` seconds from the first to the last: `limit` at once at t = 0, the
/// next `limit` at t = 1 s, and so on (0 s if they fit in one window). Calls of different
/// endpoints are limited independently, so they may overlap: the job as a whole can be no
/// faster than its slowest endpoint, and the floor is the maximum of the per-endpoint
/// figures, not their sum. (The job's order adds more: an order is fetched before its items
/// are shipped, and the statuses are awaited after the shipments; a pipelined job hides
/// most of that, so it is left out, which keeps this a true lower bound.)
///
/// The counts are the calls the job needs ([`Job::needed`]), not the calls made: a call
/// refused with 429 takes no room in the sandbox's window and did not need to be made, and
/// a job cut short by failures must not lower its own floor. For a complete run without
/// 429s the two are the same. The token endpoint is not limited.
fn floor(calls: &BTreeMap<&'static str, u64>) -> Duration {
    calls
        .iter()
        .filter_map(|(endpoint, &n)| {
            let limit = bol_limit_per_second(endpoint)? as u64;
            Some(Duration::from_secs(n.div_ceil(limit).saturating_sub(1)))
        })
        .max()
        .unwrap_or_default()
}

/// Runs the job with `callers` concurrent callers sharing `bol`.
async fn job(bol: &RetailerClient, callers: usize) -> Job {
    let job = Mutex::new(Job::default());

    // The open orders, every page (a page stream: pages one after another until `{}`).
    let params = GetOrdersParams {
        status: Some(GetOrdersStatus::Open),
        ..Default::default()
    };
    let listed: Vec<ReducedOrder> = bol
        .get_orders_stream(params)
        .try_collect()
        .await
        .expect("the open orders are listed");
    let open_items: u64 = listed
        .iter()
        .flat_map(|o| &o.order_items)
        .filter(|i| !i.cancellation_request && i.quantity - i.quantity_shipped - i.quantity_cancelled > 0)
        .count() as u64;
    job.lock().unwrap().needed = BTreeMap::from([
        ("GET /orders", listed.len().div_ceil(PAGE) as u64 + 1),
        ("GET /orders/{id}", listed.len() as u64),
        ("POST /shipments", open_items),
        (
            "POST /process-status",
            open_items.div_ceil(BULK_PROCESS_STATUS_LIMIT as u64),
        ),
    ]);

    let queue = Mutex::new(listed.into_iter().map(|o| o.order_id).collect::<VecDeque<_>>());
    let started = Mutex::new(Vec::new());
    let worker = || async {
        loop {
            let Some(order_id) = queue.lock().unwrap().pop_front() else {
                return;
            };
            let order = match bol.get_order(&order_id).await {
                Ok(order) => order,
                Err(e) => {
                    job.lock().unwrap().fail("get-order", &e);
                    continue;
                }
            };
            for item in order.order_items.iter().filter(|i| {
                !i.cancellation_request && i.quantity - i.quantity_shipped - i.quantity_cancelled > 0
            }) {
                let request = ShipmentRequest {
                    order_items: vec![OrderItem {
                        order_item_id: item.order_item_id.clone(),
                        quantity: None,
                    }],
                    transport: Some(TransportInstruction {
                        transporter_code: "TNT".to_owned(),
                        track_and_trace: Some(format!("3SBENCH{}", item.order_item_id)),
                    }),
                    ..Default::default()
                };
                match bol.create_shipment(&request).await {
                    Ok(status) => started.lock().unwrap().push(status),
                    Err(e) => job.lock().unwrap().fail("create-shipment", &e),
                }
            }
        }
    };
    futures_util::future::join_all((0..callers).map(|_| worker())).await;

    let started = started.into_inner().unwrap();
    let mut job = job.into_inner().unwrap();
    job.started = started.len();
    match bol.wait_for_processes(&started, WaitOptions::default()).await {
        Ok(done) => job.succeeded = done.iter().filter(|s| s.status == ProcessState::Success).count(),
        Err(e) => job.fail("wait-for-processes", &e),
    }
    job
}

fn main() {
    let orders = support::size("COLD_START_ORDERS", 200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let rows: Vec<Row> = rt.block_on(async {
        let sb = commerce_sandbox::start(Config {
            orders,
            ..Config::default()
        })
        .await
        .unwrap();
        let mut rows = Vec::new();
        for callers in [1, 16, 64, 256] {
            // Every row from the same seeded orders, counted from zero, on a fresh client.
            sb.reset();
            let bol = support::bol_on(&sb, &paused_time_http());
            let simulated = Instant::now();
            let machine = std::time::Instant::now();
            let job = job(&bol, callers).await;
            let (elapsed, machine) = (simulated.elapsed(), machine.elapsed());
            let report = sb.report();
            let p = report.providers.get("bol").cloned().unwrap_or_default();
            rows.push(Row {
                callers,
                calls: p.requests.clone(),
                tokens: p.token_requests,
                rate_limited: p.rate_limited,
                violations: p.violations,
                violation_samples: p.violation_samples.clone(),
                job,
                elapsed,
                machine,
            });
        }
        rows
    });

    println!("bol cold start: {orders} open orders, a fresh client per row, simulated time");
    println!();
    println!(
        "| callers | GET /orders | GET /orders/{{id}} | POST /shipments | POST /process-status | token | 429s | violations | failed calls | shipped (SUCCESS / needed) | elapsed (simulated) | floor | elapsed / floor | machine time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let calls: Vec<String> = ENDPOINTS
            .iter()
            .map(|e| r.calls.get(*e).copied().unwrap_or(0).to_string())
            .collect();
        let floor = floor(&r.job.needed);
        let ratio = if floor.is_zero() {
            "-".to_owned()
        } else {
            format!("{:.3}", r.elapsed.as_secs_f64() / floor.as_secs_f64())
        };
        let ratio = if r.job.complete() {
            ratio
        } else {
            format!("{ratio} (incomplete)")
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} / {} | {:.2} s | {} s | {ratio} | {:.2} s |",
            r.callers,
            calls.join(" | "),
            r.tokens,
            r.rate_limited,
            r.violations,
            r.job.failed_calls(),
            r.job.succeeded,
            r.job.needed["POST /shipments"],
            r.elapsed.as_secs_f64(),
            floor.as_secs(),
            r.machine.as_secs_f64(),
        );
    }
    println!();
    if let Some(r) = rows.first() {
        println!(
            "calls needed: {}; sandbox limits per second: {}",
            ENDPOINTS
                .iter()
                .map(|e| format!("{e} {}", r.job.needed.get(e).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", "),
            ENDPOINTS
                .iter()
                .map(|e| format!("{e} {}", bol_limit_per_second(e).unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for r in &rows {
        for (operation, (n, first)) in &r.job.failed {
            println!("{} callers: {n} {operation} failed, first: {first}", r.callers);
        }
    }
    let mut samples: Vec<&String> = rows.iter().flat_map(|r| &r.violation_samples).collect();
    samples.sort();
    samples.dedup();
    for v in samples {
        println!("violation seen: {v}");
    }
    let met = rows.iter().all(|r| {
        let f = floor(&r.job.needed);
        r.job.complete()
            && r.rate_limited == 0
            && !f.is_zero()
            && r.elapsed.as_secs_f64() <= 1.2 * f.as_secs_f64()
    });
    println!(
        "goal (every row complete, no 429, elapsed / floor <= 1.2): {}",
        if met { "met" } else { "not met" }
    );
}
