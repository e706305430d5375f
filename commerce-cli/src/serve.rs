//! `commerce serve`'s HTTP server, beside the runner of `run --watch`: bol's push
//! notifications (`POST /push/bol`), `GET /healthz`, `GET /readyz` and `GET /metrics`
//! (Prometheus). Plain HTTP: TLS belongs to a reverse proxy in front (see the README).
//!
//! A delivery is acted upon only once its signature verified: nothing of its body is read
//! before (the verifier checks the signature over the raw bytes first). Accepted, it is
//! journaled (durable before bol gets its 200) and wakes the flow; a duplicate (a
//! re-delivery of the same body) is answered 200 and changes nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use commerce_facade::{EventRecord, EventStats, Flow, Journal};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::Failure;
use crate::metrics::{CONTENT_TYPE, Exposition, Kind};
use crate::ops::{Out, say, warn};

/// The largest delivery read (bol's are a few hundred bytes): beyond it, 413 without
/// reading further.
pub(crate) const MAX_BODY: usize = retailer_client::push::MAX_BODY;

/// How long reading a delivery's body may take (bol's are a few hundred bytes): a client
/// that sends it slower is answered 408 and holds no more of the server.
pub(crate) const BODY_LIMIT: Duration = Duration::from_secs(5);

/// How long a delivery's verification may take, the signature keys' refresh included: then
/// 503, and bol delivers again (it waits about 5 s for an answer).
pub(crate) const VERIFY_LIMIT: Duration = Duration::from_secs(3);

/// How long journaling a verified delivery may take: then 503, and bol delivers again (a
/// write that went through after all makes that delivery a duplicate).
pub(crate) const JOURNAL_LIMIT: Duration = Duration::from_millis(1500);

/// How long `/readyz` and `/metrics` wait for the journal.
const JOURNAL_READ_LIMIT: Duration = Duration::from_secs(2);

/// How long a scrape's reading of the journal is shown again: scrapes, however frequent,
/// read the journal at most once in this time.
const SCRAPE_CACHE: Duration = Duration::from_secs(30);

/// How long the server may take to finish the requests under way once stopped.
const SERVER_GRACE: Duration = Duration::from_secs(5);

/// The socket `commerce serve` listens on, bound before anything else runs.
#[derive(Debug)]
pub(crate) struct Listener(std::net::TcpListener);

impl Listener {
    /// Binds `address`: one in use, or not of this machine, is refused with what to do.
    /// A non-loopback address is warned about (plain HTTP: TLS belongs in front).
    pub(crate) fn bind(address: SocketAddr) -> Result<Self, Failure> {
        let listener = std::net::TcpListener::bind(address).map_err(|e| {
            let (why, code) = match e.kind() {
                std::io::ErrorKind::AddrInUse => (
                    "the address is in use (another `commerce serve`, or another program, listens there)"
                        .to_owned(),
                    1,
                ),
                std::io::ErrorKind::AddrNotAvailable => {
                    ("it is not an address of this machine".to_owned(), crate::USAGE)
                }
                std::io::ErrorKind::PermissionDenied => (
                    "permission denied (a port below 1024 needs privileges: a port above it, behind the \
                     reverse proxy, does not)"
                        .to_owned(),
                    1,
                ),
                _ => (e.to_string(), 1),
            };
            Failure {
                message: format!(
                    "cannot listen on {address}: {why}; give another address with --listen ADDR"
                ),
                code,
            }
        })?;
        listener.set_nonblocking(true)?;
        if !address.ip().is_loopback() {
            warn(&format!(
                "warning: listening on {address}, not a loopback address: `commerce serve` speaks plain HTTP. Keep \
                 this port on a private network and put TLS in front of it (a reverse proxy: see the README); bol \
                 delivers to https:// only"
            ));
        }
        Ok(Listener(listener))
    }

    /// The socket on the runtime.
    pub(crate) fn into_tokio(self) -> Result<Bound, Failure> {
        let address = self.0.local_addr()?;
        Ok(Bound {
            listener: tokio::net::TcpListener::from_std(self.0)?,
            address,
        })
    }
}

/// The socket on the runtime, and the address it is bound to (with port 0, the port the
/// system chose).
#[derive(Debug)]
pub(crate) struct Bound {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
}

impl Bound {
    /// The address it listens on.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }
}

/// A verified delivery: the event to journal, and how to name it in the log.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The event, its `body` the verified raw body.
    pub(crate) record: EventRecord,
}

/// A delivery refused: the status to answer, a short label for the metrics, and why (never
/// the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) reason: String,
}

/// What the push route needs of a verifier: the raw body, the headers, the time now →
/// the event, or why not. Nothing of the body may be read before its signature verified.
pub(crate) trait Verify: Send + Sync {
    /// Verifies one delivery.
    fn verify<'a>(
        &'a self,
        body: &'a [u8],
        headers: &'a HeaderMap,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Verified, Refused>> + Send + 'a>>;
}

/// What the server serves from.
pub(crate) struct Parts {
    /// The flow the runner drives.
    pub(crate) flow: Arc<Flow>,
    /// Its journal.
    pub(crate) journal: Arc<dyn Journal>,
    /// bol's deliveries' verifier; `None` when bol is not configured (then `/push/bol`
    /// answers 404).
    pub(crate) verifier: Option<Arc<dyn Verify>>,
    /// Told when a verified delivery arrives while pushes are not counted on: bol's
    /// subscriptions are looked at again.
    pub(crate) recheck: Arc<tokio::sync::Notify>,
    /// Set when a delivery bol signed does not read: pushes are not counted on for a while.
    pub(crate) distrust: crate::bol::Distrust,
    /// How to print.
    pub(crate) out: Out,
    /// Standard output is closed: nothing is printed there any more.
    pub(crate) closed: Arc<AtomicBool>,
}

/// The push route's counts, since the process started.
#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    refused: AtomicU64,
    unavailable: AtomicU64,
    reasons: Mutex<BTreeMap<&'static str, u64>>,
}

/// What a scrape read of the journal.
#[derive(Debug, Clone, Default)]
struct JournalView {
    stages: BTreeMap<&'static str, usize>,
    needing_person: usize,
    /// When the oldest order the flow still works on was placed.
    oldest_open: Option<DateTime<Utc>>,
    events: Option<EventStats>,
    /// Why the journal could not be read, when it could not.
    error: Option<String>,
}

struct App {
    parts: Parts,
    counts: Counts,
    scraped: tokio::sync::Mutex<Option<(tokio::time::Instant, JournalView)>>,
    /// Why the flow stopped for good (it could not go on), once it did.
    ended: Mutex<Option<String>>,
}

/// The server running.
pub(crate) struct Served {
    app: Arc<App>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// The flow has ended, `fatal` saying why when it could not go on: `/readyz` says so
    /// for the requests still answered.
    pub(crate) fn flow_ended(&self, fatal: Option<&str>) {
        if let Some(why) = fatal {
            *lock(&self.app.ended) = Some(why.to_owned());
        }
    }

    /// Waits for the server to finish the requests under way (it stopped accepting when
    /// the stop was asked), at most [`SERVER_GRACE`].
    pub(crate) async fn finish(self) {
        let mut task = self.task;
        match tokio::time::timeout(SERVER_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                warn(&format!("the HTTP server failed: {e}"));
            }
            Ok(Err(e)) => {
                warn(&format!("the HTTP server ended: {e}"));
            }
            Err(_) => {
                warn(&format!(
                    "the HTTP server did not finish its requests within {} s: they are dropped",
                    SERVER_GRACE.as_secs()
                ));
                task.abort();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The routes.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/push/bol", post(push))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

/// Starts the server on `listener`; it stops accepting once `stopped` returns.
pub(crate) fn start(
    listener: Bound,
    parts: Parts,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Served {
    let app = Arc::new(App {
        parts,
        counts: Counts::default(),
        scraped: tokio::sync::Mutex::new(None),
        ended: Mutex::new(None),
    });
    let routes = router(app.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener.listener, routes)
            .with_graceful_shutdown(stopped)
            .await
    });
    Served { app, task }
}

impl App {
    /// Prints a line (a JSON one with `--json`), unless standard output is closed.
    fn log(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.parts.closed.load(Ordering::SeqCst) {
            return;
        }
        let line = if self.parts.out.json {
            value.to_string()
        } else {
            text()
        };
        if !say(&line) && !self.parts.closed.swap(true, Ordering::SeqCst) {
            warn("standard output is closed: nothing more is printed there; serving goes on");
        }
    }

    fn refused(&self, refused: &Refused) -> Response {
        self.counts.refused.fetch_add(1, Ordering::Relaxed);
        *lock(&self.counts.reasons).entry(refused.code).or_default() += 1;
        self.log(
            serde_json::json!({"event": "push", "outcome": "refused", "reason": refused.code, "message": refused.reason}),
            || format!("push: refused ({}): {}", refused.code, refused.reason),
        );
        text(refused.status, &refused.reason)
    }

    fn unavailable(&self, why: &str) -> Response {
        self.counts.unavailable.fetch_add(1, Ordering::Relaxed);
        self.log(
            serde_json::json!({"event": "push", "outcome": "unavailable", "message": why}),
            || format!("push: answered 503, bol delivers again: {why}"),
        );
        text(StatusCode::SERVICE_UNAVAILABLE, why)
    }

    /// The journal's figures, read at most once per [`SCRAPE_CACHE`] and within
    /// [`JOURNAL_READ_LIMIT`].
    async fn journal_view(&self) -> JournalView {
        let mut cached = self.scraped.lock().await;
        if let Some((at, view)) = cached.as_ref()
            && at.elapsed() < SCRAPE_CACHE
        {
            return view.clone();
        }
        let view =
            match tokio::time::timeout(JOURNAL_READ_LIMIT, read_journal(self.parts.journal.as_ref())).await {
                Ok(view) => view,
                Err(_) => JournalView {
                    error: Some(format!(
                        "the journal did not answer within {} s",
                        JOURNAL_READ_LIMIT.as_secs()
                    )),
                    ..JournalView::default()
                },
            };
        *cached = Some((tokio::time::Instant::now(), view.clone()));
        view
    }
}

async fn read_journal(journal: &dyn Journal) -> JournalView {
    let (records, unreadable) = match journal.census().await {
        Ok(census) => census,
        Err(e) => {
            return JournalView {
                error: Some(format!("the journal does not read: {e}")),
                ..JournalView::default()
            };
        }
    };
    let mut view = JournalView {
        needing_person: unreadable.len(),
        ..JournalView::default()
    };
    for r in &records {
        *view.stages.entry(r.stage()).or_default() += 1;
        view.needing_person += usize::from(r.needs_person());
        if r.is_open()
            && let Some(placed) = r.order.placed_at
        {
            view.oldest_open = Some(view.oldest_open.map_or(placed, |o| o.min(placed)));
        }
    }
    // A journal that keeps no events is not a failure of the rest.
    view.events = journal.event_stats().await.ok();
    view
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{body}\n"),
    )
        .into_response()
}

/// `POST /push/bol`.
async fn push(State(app): State<Arc<App>>, request: Request) -> Response {
    let Some(verifier) = app.parts.verifier.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "bol is not configured in this `commerce serve`: its pushes are not taken",
        );
    };
    let too_large = || Refused {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "too_large",
        reason: retailer_client::push::PushRefusal::TooLarge.to_string(),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return app.refused(&too_large());
    }
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(BODY_LIMIT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return app.refused(&too_large()),
        Err(_) => {
            return app.refused(&Refused {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "slow_body",
                reason: format!("the body did not arrive within {} s", BODY_LIMIT.as_secs()),
            });
        }
        Ok(Err(e)) => {
            return app.refused(&Refused {
                status: StatusCode::BAD_REQUEST,
                code: "unreadable",
                reason: format!("the body could not be read: {e}"),
            });
        }
    };
    let verified = match tokio::time::timeout(
        VERIFY_LIMIT,
        verifier.verify(&body, &parts.headers, Utc::now()),
    )
    .await
    {
        Ok(Ok(verified)) => verified,
        Ok(Err(refused)) if refused.status == StatusCode::SERVICE_UNAVAILABLE => {
            return app.unavailable(&refused.reason);
        }
        Ok(Err(refused)) => {
            if refused.code == "malformed" {
                // bol's own delivery that does not read as documented: the events may
                // all be missed; the listing goes back to --poll-interval for a while.
                if app.parts.distrust.until().is_none() {
                    warn(
                        "warning: a delivery bol signed does not read as documented: pushes are not counted on \
                             for an hour (new orders are looked for every --poll-interval); see the `push: refused \
                             (malformed)` lines",
                    );
                }
                app.parts.distrust.now();
                app.parts.flow.waker().set_push_active(false);
                app.parts.recheck.notify_one();
            }
            return app.refused(&refused);
        }
        Err(_) => {
            return app.unavailable(&format!(
                "the delivery could not be verified within {} s (bol's signature keys did not answer)",
                VERIFY_LIMIT.as_secs()
            ));
        }
    };
    let record = verified.record;
    let (id, kind, resource) = (record.id.clone(), record.kind.clone(), record.resource_id.clone());
    // Journaled on a task of its own: a write that outlasts the answer's limit still ends
    // (and wakes the flow); bol's re-delivery is then a duplicate.
    let flow = app.parts.flow.clone();
    let journaled = tokio::spawn(async move { flow.receive_event(record).await });
    match tokio::time::timeout(JOURNAL_LIMIT, journaled).await {
        Ok(Ok(Ok(new))) => {
            if !new {
                // Its first delivery's wake may have been cut short (a process killed
                // between the write and the wake): the flow looks again, and acts on an
                // event once (the journal says whether it was handled).
                app.parts.flow.waker().wake();
            }
            if !app.parts.flow.health().push_active {
                app.parts.recheck.notify_one();
            }
            let outcome = if new { "accepted" } else { "duplicate" };
            let counter = if new {
                &app.counts.accepted
            } else {
                &app.counts.duplicate
            };
            counter.fetch_add(1, Ordering::Relaxed);
            app.log(
                serde_json::json!({"event": "push", "outcome": outcome, "id": id, "kind": kind, "resource_id": resource}),
                || {
                    format!(
                        "push: {outcome} {kind}{} ({id})",
                        resource.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
                    )
                },
            );
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": outcome })),
            )
                .into_response()
        }
        Ok(Ok(Err(e))) => app.unavailable(&format!("the journal could not keep the event: {e}")),
        Ok(Err(e)) => app.unavailable(&format!("the event could not be journaled: {e}")),
        Err(_) => app.unavailable(&format!(
            "the journal did not keep the event within {} ms",
            JOURNAL_LIMIT.as_millis()
        )),
    }
}

/// `GET /healthz`: the process serves.
async fn healthz() -> Response {
    text(StatusCode::OK, "ok")
}

/// `GET /readyz`: the journal answers and the flow has not stopped for good; else 503 with
/// the reasons, one a line. (A sales channel and a warehouse are configured: `commerce
/// serve` does not start without them.)
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut reasons = Vec::new();
    // The cheapest read every journal has: one pass's state.
    match tokio::time::timeout(JOURNAL_READ_LIMIT, app.parts.journal.pass("reconcile:bol")).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => reasons.push(format!("the journal does not answer: {e}")),
        Err(_) => reasons.push(format!(
            "the journal did not answer within {} s",
            JOURNAL_READ_LIMIT.as_secs()
        )),
    }
    if let Some(why) = lock(&app.ended).as_deref() {
        reasons.push(format!("the flow has stopped: {why}"));
    }
    if reasons.is_empty() {
        text(StatusCode::OK, "ready")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, &reasons.join("\n"))
    }
}

fn seconds(at: Option<DateTime<Utc>>) -> Option<f64> {
    at.map(|at| at.timestamp_millis() as f64 / 1000.0)
}

/// `GET /metrics`: the Prometheus text format.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let view = app.journal_view().await;
    let health = app.parts.flow.health();
    let calls = commerce_core::metrics::call_counts();
    let counts = &app.counts;
    let mut page = Exposition::default();
    page.single(
        "commerce_journal_up",
        "Whether the last scrape could read the journal (1) or not (0).",
        Kind::Gauge,
        if view.error.is_none() { 1.0 } else { 0.0 },
    );
    if view.error.is_none() {
        let stages: Vec<(Vec<(&str, &str)>, f64)> = view
            .stages
            .iter()
            .map(|(stage, n)| (vec![("stage", *stage)], *n as f64))
            .collect();
        page.family(
            "commerce_orders",
            "Orders in the journal, by stage (the step an order is at, or how it ended).",
            Kind::Gauge,
            stages.iter().map(|(l, v)| (l.as_slice(), *v)),
        );
        page.single(
            "commerce_orders_needing_person",
            "Orders waiting for a person (`commerce attention`), unreadable records included.",
            Kind::Gauge,
            view.needing_person as f64,
        );
        let age = view.oldest_open.map_or(0.0, |placed| {
            ((Utc::now() - placed).num_milliseconds().max(0) as f64) / 1000.0
        });
        page.single(
            "commerce_oldest_waiting_order_age_seconds",
            "Since when the oldest order the flow still works on was placed (0: none).",
            Kind::Gauge,
            age,
        );
        if let Some(events) = &view.events {
            page.single(
                "commerce_events_unhandled",
                "Pushed events journaled and not handled yet.",
                Kind::Gauge,
                events.unhandled as f64,
            );
            page.single(
                "commerce_events_journaled",
                "Pushed events the journal keeps.",
                Kind::Gauge,
                events.received as f64,
            );
        }
    }
    type Figure = fn(&commerce_core::metrics::ProviderCalls) -> u64;
    let providers: Vec<[(&str, &str); 1]> = calls
        .iter()
        .map(|c| [("provider", c.provider.as_str())])
        .collect();
    let figures: [(&str, &str, Figure); 5] = [
        (
            "commerce_provider_calls_total",
            "Requests this process sent, per provider (each attempt, token requests included).",
            |c| c.calls,
        ),
        (
            "commerce_provider_throttled_total",
            "Answers 429 Too Many Requests, per provider.",
            |c| c.throttled,
        ),
        (
            "commerce_provider_token_requests_total",
            "Access token requests, per provider.",
            |c| c.token_requests,
        ),
        (
            "commerce_provider_server_errors_total",
            "Answers 5xx, per provider.",
            |c| c.server_errors,
        ),
        (
            "commerce_provider_unanswered_total",
            "Requests that got no answer (the connection failed or timed out), per provider.",
            |c| c.unanswered,
        ),
    ];
    for (name, help, figure) in figures {
        page.family(
            name,
            help,
            Kind::Counter,
            providers
                .iter()
                .zip(&calls)
                .map(|(l, c)| (&l[..], figure(c) as f64)),
        );
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
    page.family(
        "commerce_push_deliveries_total",
        "bol's push deliveries answered, by outcome (unavailable: 503, bol delivers again).",
        Kind::Counter,
        [
            (&[("outcome", "accepted")][..], load(&counts.accepted)),
            (&[("outcome", "duplicate")][..], load(&counts.duplicate)),
            (&[("outcome", "refused")][..], load(&counts.refused)),
            (&[("outcome", "unavailable")][..], load(&counts.unavailable)),
        ],
    );
    let reasons: Vec<(&'static str, u64)> = lock(&counts.reasons).iter().map(|(k, v)| (*k, *v)).collect();
    let reason_labels: Vec<[(&str, &str); 1]> = reasons.iter().map(|(r, _)| [("reason", *r)]).collect();
    page.family(
        "commerce_push_refused_total",
        "bol's push deliveries refused, by reason.",
        Kind::Counter,
        reason_labels
            .iter()
            .zip(&reasons)
            .map(|(l, (_, n))| (&l[..], *n as f64)),
    );
    page.single(
        "commerce_events_handled_total",
        "Pushed events the flow handled in this process.",
        Kind::Counter,
        health.events_handled as f64,
    );
    if let Some(at) = seconds(health.last_listed) {
        page.single(
            "commerce_last_successful_listing_timestamp_seconds",
            "When the open orders were last listed (Unix time).",
            Kind::Gauge,
            at,
        );
    }
    if let Some(at) = seconds(health.last_reconciled) {
        page.single(
            "commerce_last_reconciliation_timestamp_seconds",
            "When the last reconciliation pass ended (Unix time).",
            Kind::Gauge,
            at,
        );
    }
    page.single(
        "commerce_push_active",
        "Whether bol's pushes are expected (an enabled subscription): new orders are then listed every \
         --event-poll-interval.",
        Kind::Gauge,
        if health.push_active { 1.0 } else { 0.0 },
    );
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], page.finish()).into_response()
}
