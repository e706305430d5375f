//! The bol job as a user would compare it (issue 28, point 5): the same job against the
//! sandbox with the Python peer (`python-bol-api-latest` 1.5.0, installed from PyPI into a
//! throw-away venv) and with this crate, one table, in real time.
//!
//! `cargo bench -p retailer-client --bench bol_job`
//!
//! The job: N open FBR orders (`BOL_JOB_ORDERS`, default 60; the seed gives 90 items at
//! 60), list the open orders (every page), read each order, confirm one shipment per open
//! item (`POST /retailer/shipments`) and wait until every process status is final. The
//! sandbox finishes a process status on its third read (bol's "PENDING, then SUCCESS").
//!
//! Rows (`BOL_JOB_ROWS`, a comma-separated list of the keys below, picks some):
//! - `peer`: the Python peer, sequential, polling each process status every 0.2 s
//!   (`benches/peer/bol_job.py`).
//! - `each-N`: this crate, the README's code (`create_shipment`, then `wait_for_success`
//!   with `WaitOptions::default()`) per item, N callers taking orders from one queue;
//!   `each-1` is the README's code one at a time.
//! - `bulk-N`: this crate, N callers creating the shipments, then one
//!   `wait_for_processes` for all of them.
//! - `batch-N`: this crate, N callers reading the orders, then one `confirm_shipments` for
//!   every item (the batch helper: creates 8 at a time, then waits for all in bulk).
//!
//! Each row gets a fresh sandbox (fresh state, no faults, no buyer cancellations) in a child
//! process: this binary run again with `BOL_JOB_SANDBOX` set, so the client's CPU time is
//! measured without the sandbox's, and a fresh client (cold token, cold rate limits). CPU
//! times come from `/proc/<pid>/stat` (user + system, clock ticks): the bench process's
//! delta over the job for this crate, the sandbox child's total, and for the Python peer
//! both the job's own `time.process_time()` and the whole interpreter's time as
//! collected when it is reaped (`cutime + cstime`, as `RUSAGE_CHILDREN` counts it). A clock
//! tick is 10 ms on Linux: the CPU figures are that coarse.
//!
//! The peer's venv is made with `python3` (`BOL_JOB_PYTHON` names another interpreter) in
//! a temporary folder and removed after its row; without Python or PyPI the row says
//! "skipped" and why, and the other rows still run.
//!
//! Goals: the README's code one at a time no slower than the Python peer; the bulk path
//! within 1.6x of the rate floor at every concurrency (floor = items / the sandbox's
//! `POST /shipments` limit per second).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use commerce_sandbox::{Config, Report, bol_limit_per_second};
use futures_util::TryStreamExt;
use retailer_client::models::{
    GetOrdersFulfilmentMethod, GetOrdersStatus, OrderItem, ProcessState, ProcessStatus, ShipmentRequest,
    TransportInstruction,
};
use retailer_client::{GetOrdersParams, RetailerClient, WaitOptions};

/// Set in the child that serves the sandbox: `orders,seed`.
const SANDBOX_VAR: &str = "BOL_JOB_SANDBOX";
/// The Python peer's package, pinned.
const PEER_PACKAGE: &str = "python-bol-api-latest==1.5.0";
/// The peer's driver script.
const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer/bol_job.py");
/// The sandbox's seed: the first whose 60 orders hold 90 items, the measure (the
/// sandbox's default seed, 7, gives 98).
const SEED: u64 = 181;
/// Process-status reads before the sandbox answers `SUCCESS`: the third poll.
const PROCESS_AFTER_READS: u32 = 3;
/// The bulk path's goal: wall at most this many times the rate floor.
const BULK_GOAL: f64 = 1.6;

/// How a row does the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The Python peer, sequential.
    Peer,
    /// `create_shipment`, then `wait_for_success`, per item (the README's code).
    Each,
    /// The creates, then one `wait_for_processes` for all.
    Bulk,
    /// The reads, then one `confirm_shipments` for every item.
    Batch,
}

/// One row to run.
#[derive(Debug, Clone, Copy)]
struct Spec {
    kind: Kind,
    callers: usize,
}

impl Spec {
    fn key(&self) -> String {
        match self.kind {
            Kind::Peer => "peer".to_owned(),
            Kind::Each => format!("each-{}", self.callers),
            Kind::Bulk => format!("bulk-{}", self.callers),
            Kind::Batch => format!("batch-{}", self.callers),
        }
    }

    fn label(&self) -> String {
        match (self.kind, self.callers) {
            (Kind::Peer, _) => {
                "Python peer `python-bol-api-latest` 1.5.0, sequential, polls every 0.2 s".to_owned()
            }
            (Kind::Each, 1) => {
                "ours, the README's code (`create_shipment`, `wait_for_success`), one at a time".to_owned()
            }
            (Kind::Each, n) => format!("ours, `create_shipment` + `wait_for_success`, {n} at a time"),
            (Kind::Bulk, n) => format!("ours, bulk: creates {n} at a time, then `wait_for_processes`"),
            (Kind::Batch, n) => format!("ours, batch: reads {n} at a time, then `confirm_shipments` for all"),
        }
    }
}

/// Every row, in the table's order.
fn all_rows() -> Vec<Spec> {
    let mut rows = vec![
        Spec {
            kind: Kind::Peer,
            callers: 1,
        },
        Spec {
            kind: Kind::Each,
            callers: 1,
        },
    ];
    rows.extend([16, 64, 256].map(|callers| Spec {
        kind: Kind::Each,
        callers,
    }));
    rows.extend([1, 16, 64, 256].map(|callers| Spec {
        kind: Kind::Bulk,
        callers,
    }));
    rows.extend([1, 16].map(|callers| Spec {
        kind: Kind::Batch,
        callers,
    }));
    rows
}

/// What a row measured.
#[derive(Debug, Default)]
struct Outcome {
    /// Why the row did not run.
    skipped: Option<String>,
    wall: Duration,
    /// The client's CPU time over the job.
    cpu: Duration,
    /// The Python interpreter's whole CPU time (start and imports included).
    process_cpu: Option<Duration>,
    /// The sandbox process's CPU time.
    sandbox_cpu: Duration,
    orders: usize,
    items: usize,
    succeeded: usize,
    failed: usize,
    first_error: Option<String>,
    report: Report,
}

impl Outcome {
    fn bol(&self) -> commerce_sandbox::ProviderReport {
        self.report.providers.get("bol").cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// CPU time from /proc (the workspace forbids `unsafe`, so no `getrusage` call).

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// `(utime + stime, cutime + cstime)` of a process, in clock ticks.
fn proc_ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: the fields follow the last `)`.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    // After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based).
    let at = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    (at(14) + at(15), at(16) + at(17))
}

fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

// ---------------------------------------------------------------------------------------
// The sandbox in a child process.

/// The child's side: serves a fresh sandbox until its stdin closes, then prints what it
/// saw and its own CPU time.
fn serve_sandbox(spec: &str) {
    let mut parts = spec
        .split(',')
        .map(|p| p.parse::<u64>().expect("BOL_JOB_SANDBOX: orders,seed"));
    let (orders, seed) = (parts.next().unwrap_or(60), parts.next().unwrap_or(SEED));
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let sandbox =
            commerce_sandbox::start_on(listener, sandbox_config(orders as usize, seed)).expect("the sandbox");
        println!("url {}", sandbox.url());
        std::io::stdout().flush().expect("stdout");
        // Serve until the bench closes our stdin.
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()))
            .await
            .ok();
        let report = sandbox.report();
        sandbox.stop().await;
        println!("report {}", serde_json::to_string(&report).expect("JSON"));
        println!("cpu_ticks {}", proc_ticks("self").0);
    });
}

/// The sandbox as every row has it.
fn sandbox_config(orders: usize, seed: u64) -> Config {
    Config {
        orders,
        seed,
        faults: 0.0,
        garbled_creates: 0.0,
        cancellation_requests: 0.0,
        process_after_reads: PROCESS_AFTER_READS,
        ..Config::default()
    }
}

/// A sandbox child, serving.
struct SandboxChild {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl SandboxChild {
    fn start(orders: usize) -> SandboxChild {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .env(SANDBOX_VAR, format!("{orders},{SEED}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the sandbox child starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the sandbox's address");
        let url = line
            .trim()
            .strip_prefix("url ")
            .unwrap_or_else(|| panic!("the sandbox said {line:?}"))
            .to_owned();
        SandboxChild { child, stdout, url }
    }

    fn bol(&self) -> String {
        format!("{}/bol", self.url)
    }

    /// Stops it: what it saw and its CPU time.
    fn finish(mut self) -> (Report, Duration) {
        drop(self.child.stdin.take());
        let (mut report, mut cpu) = (Report::default(), Duration::ZERO);
        for line in self.stdout.lines().map_while(Result::ok) {
            if let Some(json) = line.strip_prefix("report ") {
                report = serde_json::from_str(json).expect("the sandbox's report");
            } else if let Some(t) = line.strip_prefix("cpu_ticks ") {
                cpu = ticks_to_duration(t.parse().unwrap_or(0));
            }
        }
        let _ = self.child.wait();
        (report, cpu)
    }
}

// ---------------------------------------------------------------------------------------
// This crate's rows.

fn client(sandbox: &SandboxChild) -> RetailerClient {
    RetailerClient::builder(
        commerce_sandbox::RETAILER_CLIENT_ID,
        commerce_sandbox::RETAILER_CLIENT_SECRET.into(),
    )
    .api_url(sandbox.bol())
    .token_url(format!("{}/token", sandbox.bol()))
    .build()
    .expect("a client")
}

/// The items still to ship of a bol order, as the README's reader would pick them.
fn open_item_ids(order: &retailer_client::models::Order) -> Vec<String> {
    order
        .order_items
        .iter()
        .filter(|i| !i.cancellation_request && i.quantity - i.quantity_shipped - i.quantity_cancelled > 0)
        .map(|i| i.order_item_id.clone())
        .collect()
}

fn shipment(order_item_id: &str) -> ShipmentRequest {
    ShipmentRequest {
        order_items: vec![OrderItem {
            order_item_id: order_item_id.to_owned(),
            quantity: None,
        }],
        transport: Some(TransportInstruction {
            transporter_code: "TNT".to_owned(),
            track_and_trace: Some(format!("3SBENCH{order_item_id}")),
        }),
        ..Default::default()
    }
}

#[derive(Default)]
struct Tally {
    items: usize,
    succeeded: usize,
    failed: usize,
    first_error: Option<String>,
}

impl Tally {
    fn fail(&mut self, what: &str, e: &retailer_client::Error) {
        self.failed += 1;
        self.first_error.get_or_insert_with(|| format!("{what}: {e}"));
    }
}

/// This crate's job: `callers` callers take orders from one queue; each reads its order and
/// ships its items, waiting for each (`Each`) or leaving the waits to one bulk wait at the
/// end (`Bulk`).
async fn our_job(bol: &RetailerClient, kind: Kind, callers: usize, out: &mut Outcome) {
    let params = GetOrdersParams {
        status: Some(GetOrdersStatus::Open),
        fulfilment_method: Some(GetOrdersFulfilmentMethod::Fbr),
        ..Default::default()
    };
    let listed: Vec<_> = match bol.get_orders_stream(params).try_collect().await {
        Ok(listed) => listed,
        Err(e) => {
            out.failed += 1;
            out.first_error = Some(format!("list orders: {e}"));
            return;
        }
    };
    out.orders = listed.len();
    let queue = Mutex::new(listed.into_iter().map(|o| o.order_id).collect::<VecDeque<_>>());
    let tally = Mutex::new(Tally::default());
    let started: Mutex<Vec<ProcessStatus>> = Mutex::new(Vec::new());
    let batch: Mutex<Vec<ShipmentRequest>> = Mutex::new(Vec::new());
    let worker = || async {
        loop {
            let Some(order_id) = queue.lock().unwrap().pop_front() else {
                return;
            };
            let order = match bol.get_order(&order_id).await {
                Ok(order) => order,
                Err(e) => {
                    tally.lock().unwrap().fail("get order", &e);
                    continue;
                }
            };
            for item in open_item_ids(&order) {
                tally.lock().unwrap().items += 1;
                if kind == Kind::Batch {
                    batch.lock().unwrap().push(shipment(&item));
                    continue;
                }
                let status = match bol.create_shipment(&shipment(&item)).await {
                    Ok(status) => status,
                    Err(e) => {
                        tally.lock().unwrap().fail("create shipment", &e);
                        continue;
                    }
                };
                match kind {
                    Kind::Bulk => started.lock().unwrap().push(status),
                    _ => match bol.wait_for_success(&status, WaitOptions::default()).await {
                        Ok(_) => tally.lock().unwrap().succeeded += 1,
                        Err(e) => tally.lock().unwrap().fail("wait for success", &e),
                    },
                }
            }
        }
    };
    futures_util::future::join_all((0..callers).map(|_| worker())).await;
    let mut tally = tally.into_inner().unwrap();
    let started = started.into_inner().unwrap();
    let batch = batch.into_inner().unwrap();
    for outcome in bol.confirm_shipments(&batch, WaitOptions::default()).await {
        match outcome {
            Ok(_) => tally.succeeded += 1,
            Err(e) => tally.fail("confirm shipments", &e),
        }
    }
    if kind == Kind::Bulk && !started.is_empty() {
        match bol.wait_for_processes(&started, WaitOptions::default()).await {
            Ok(done) => {
                for s in &done {
                    if s.status == ProcessState::Success {
                        tally.succeeded += 1;
                    } else {
                        tally.failed += 1;
                        tally
                            .first_error
                            .get_or_insert_with(|| format!("process status {}", s.status));
                    }
                }
            }
            Err(e) => tally.fail("wait for processes", &e),
        }
    }
    out.items = tally.items;
    out.succeeded = tally.succeeded;
    out.failed += tally.failed;
    out.first_error = out.first_error.take().or(tally.first_error);
}

fn run_ours(spec: Spec, orders: usize, rt: &tokio::runtime::Runtime) -> Outcome {
    let sandbox = SandboxChild::start(orders);
    let mut out = Outcome::default();
    let (cpu0, wall0) = (proc_ticks("self").0, Instant::now());
    rt.block_on(async {
        // A fresh client per row: the token request and the slow start are in the figures.
        let bol = client(&sandbox);
        our_job(&bol, spec.kind, spec.callers, &mut out).await;
    });
    out.wall = wall0.elapsed();
    out.cpu = ticks_to_duration(proc_ticks("self").0.saturating_sub(cpu0));
    (out.report, out.sandbox_cpu) = sandbox.finish();
    out
}

// ---------------------------------------------------------------------------------------
// The Python peer's row.

/// A throw-away venv with the peer installed: its Python, or why not.
fn peer_python(dir: &Path) -> Result<PathBuf, String> {
    let python = std::env::var("BOL_JOB_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            Err(format!("{what} failed ({}): {last}", out.status))
        }
    };
    run(
        Command::new(&python).args(["-m", "venv"]).arg(dir),
        &format!("{python} -m venv"),
    )?;
    let bin = dir.join("bin");
    run(
        Command::new(bin.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--retries",
            "1",
            "--timeout",
            "30",
            PEER_PACKAGE,
        ]),
        &format!("pip install {PEER_PACKAGE}"),
    )?;
    Ok(bin.join("python"))
}

fn run_peer(orders: usize) -> Outcome {
    let dir = std::env::temp_dir().join(format!("bol-job-peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let python = match peer_python(&dir) {
        Ok(python) => python,
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Outcome {
                skipped: Some(why),
                ..Outcome::default()
            };
        }
    };
    let sandbox = SandboxChild::start(orders);
    let mut out = Outcome::default();
    let children0 = proc_ticks("self").1;
    let started = Instant::now();
    let child = Command::new(&python)
        .arg(PEER_SCRIPT)
        .args(["--api-url", &sandbox.bol(), "--login-url", &sandbox.bol()])
        .args(["--client-id", commerce_sandbox::RETAILER_CLIENT_ID])
        .args(["--client-secret", commerce_sandbox::RETAILER_CLIENT_SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let answer = child.and_then(|c| c.wait_with_output());
    let process_wall = started.elapsed();
    // The peer is reaped: its user and system time are now in our children's times.
    out.process_cpu = Some(ticks_to_duration(proc_ticks("self").1.saturating_sub(children0)));
    (out.report, out.sandbox_cpu) = sandbox.finish();
    let _ = std::fs::remove_dir_all(&dir);
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            out.skipped = Some(format!("the peer did not run: {e}"));
            return out;
        }
    };
    let text = String::from_utf8_lossy(&answer.stdout);
    let Some(figures) = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    else {
        out.skipped = Some(format!(
            "the peer printed no figures ({}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ));
        return out;
    };
    let n = |k: &str| figures[k].as_u64().unwrap_or(0) as usize;
    let secs = |k: &str| Duration::from_secs_f64(figures[k].as_f64().unwrap_or(process_wall.as_secs_f64()));
    out.wall = secs("wall_s");
    out.cpu = secs("cpu_s");
    out.orders = n("orders");
    out.items = n("items");
    out.succeeded = n("succeeded");
    out.failed = n("failed");
    out.first_error = figures["first_error"].as_str().map(str::to_owned);
    out
}

// ---------------------------------------------------------------------------------------

/// The least time the sandbox's limits allow for the calls a row made (none of them
/// refused, so all needed), and the endpoint that sets it: the slowest endpoint's
/// `calls / limit per second` (endpoints are limited apart, so they overlap). The job's
/// floor counts the shipments alone; a row that polls one status at a time also meets
/// `GET /process-status/{id}`'s limit.
fn calls_floor(calls: &BTreeMap<String, u64>) -> (Duration, String) {
    calls
        .iter()
        .filter_map(|(endpoint, &n)| {
            let limit = bol_limit_per_second(endpoint)? as f64;
            Some((Duration::from_secs_f64(n as f64 / limit), endpoint.clone()))
        })
        .max()
        .unwrap_or_default()
}

fn main() {
    if let Ok(spec) = std::env::var(SANDBOX_VAR) {
        serve_sandbox(&spec);
        return;
    }
    let orders: usize = std::env::var("BOL_JOB_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let wanted: Option<Vec<String>> = std::env::var("BOL_JOB_ROWS")
        .ok()
        .map(|v| v.split(',').map(|k| k.trim().to_owned()).collect());
    let rows: Vec<Spec> = all_rows()
        .into_iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.key())))
        .collect();
    let limit = bol_limit_per_second("POST /shipments").expect("a limit") as f64;
    let rt = tokio::runtime::Runtime::new().expect("a runtime");

    let mut results: Vec<(Spec, Outcome)> = Vec::new();
    for spec in rows {
        eprintln!("bol_job: {} ...", spec.key());
        let out = match spec.kind {
            Kind::Peer => run_peer(orders),
            _ => run_ours(spec, orders, &rt),
        };
        match &out.skipped {
            Some(why) => eprintln!("bol_job: {} skipped: {why}", spec.key()),
            None => eprintln!("bol_job: {} {:.2} s", spec.key(), out.wall.as_secs_f64()),
        }
        results.push((spec, out));
    }

    let items = results
        .iter()
        .find(|(_, o)| o.skipped.is_none())
        .map_or(0, |(_, o)| o.items);
    let floor = items as f64 / limit;
    println!(
        "bol job: {orders} open FBR orders, {items} items; process statuses final on the third poll; \
         rate floor {items} / {limit} per s = {floor:.1} s; real time, a fresh sandbox (child process) and client per row"
    );
    println!();
    println!(
        "| row | key | wall | CPU, client | CPU, sandbox | requests | 429s | token requests | shipped (SUCCESS / items) | wall / floor | floor of the row's own calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (spec, o) in &results {
        if let Some(why) = &o.skipped {
            println!(
                "| {} | `{}` | skipped: {why} | | | | | | | |",
                spec.label(),
                spec.key()
            );
            continue;
        }
        let bol = o.bol();
        let requests: u64 = bol.requests.values().sum();
        let (own, own_endpoint) = calls_floor(&bol.requests);
        let cpu = match o.process_cpu {
            Some(p) => format!(
                "{:.2} s (job; {:.2} s the whole interpreter)",
                o.cpu.as_secs_f64(),
                p.as_secs_f64()
            ),
            None => format!("{:.2} s", o.cpu.as_secs_f64()),
        };
        println!(
            "| {} | `{}` | {:.2} s | {cpu} | {:.2} s | {requests} | {} | {} | {} / {} | {:.2} | {:.1} s ({}) |",
            spec.label(),
            spec.key(),
            o.wall.as_secs_f64(),
            o.sandbox_cpu.as_secs_f64(),
            bol.rate_limited,
            bol.token_requests,
            o.succeeded,
            o.items,
            o.wall.as_secs_f64() / floor.max(f64::MIN_POSITIVE),
            own.as_secs_f64(),
            own_endpoint,
        );
    }
    println!();
    for (spec, o) in &results {
        let bol = o.bol();
        let calls: BTreeMap<&String, &u64> = bol.requests.iter().collect();
        if o.skipped.is_none() {
            println!(
                "{}: {} orders; calls {calls:?}; violations {}",
                spec.key(),
                o.orders,
                bol.violations
            );
        }
        if let Some(e) = &o.first_error {
            println!("{}: {} failed, first: {e}", spec.key(), o.failed);
        }
        for v in &bol.violation_samples {
            println!("{}: sandbox saw: {v}", spec.key());
        }
    }
    println!();
    let find = |key: &str| {
        results
            .iter()
            .find(|(s, o)| s.key() == key && o.skipped.is_none())
            .map(|(_, o)| o)
    };
    match (find("peer"), find("each-1")) {
        (Some(peer), Some(ours)) => println!(
            "goal (the README's code one at a time no slower than the Python peer): {} ({:.2} s against {:.2} s)",
            if ours.wall <= peer.wall && ours.failed == 0 {
                "met"
            } else {
                "not met"
            },
            ours.wall.as_secs_f64(),
            peer.wall.as_secs_f64()
        ),
        _ => println!("goal (the README's code one at a time no slower than the Python peer): not measured"),
    }
    let bulk: Vec<&(Spec, Outcome)> = results
        .iter()
        .filter(|(s, o)| matches!(s.kind, Kind::Bulk | Kind::Batch) && o.skipped.is_none())
        .collect();
    if !bulk.is_empty() {
        let met = bulk
            .iter()
            .all(|(_, o)| o.failed == 0 && o.wall.as_secs_f64() <= BULK_GOAL * floor);
        println!(
            "goal (bulk path within {BULK_GOAL}x of the {floor:.1} s floor at every concurrency): {}",
            if met { "met" } else { "not met" }
        );
    }
}
