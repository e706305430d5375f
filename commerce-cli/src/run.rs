//! `commerce run`: the flow against the providers configured in the environment.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use commerce_facade::{
    Event, Flow, FlowOptions, Journal, PROVIDERS, PassMode, Providers, ReturnsReport, Role, SqliteJournal,
    StockReport, StopHandle, runner_name,
};

use retailer_client::RetailerClient;
use retailer_client::push::PushKeys;

use crate::ops::{Out, Store, say, warn};
use crate::{Failure, PassArgs, RunArgs, RunnerArgs, ServeArgs, USAGE};

/// How long a clean stop may take before the process ends anyway: a request that may act
/// finishes within its attempt's time limit (a connection in 10 s, an answer in 30 s), and
/// the orders are then given back.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(60);

/// What every command that talks to the providers needs: the flow's options from the
/// environment (this runner's name), the journal (created with `init`), and the providers,
/// built on the journal's shared state (every client shares its credential's access token
/// and rate budgets with the other runners, in the journal's file or database).
/// `connections`: a PostgreSQL journal's pool size.
pub(crate) fn setup(
    store: &Store,
    init: bool,
    runner: Option<&str>,
    connections: usize,
) -> Result<Setup, Failure> {
    let usage = |e: commerce_core::Error| Failure {
        message: e.to_string(),
        code: USAGE,
    };
    // Which roles are configured is read from the providers' variables before anything is
    // built or opened: a command line without a channel or a warehouse is a usage error
    // whatever the journal (with the hint to the quickstart); a partial set is the
    // facade's error naming it.
    let env = |name: &str| commerce_core::env_optional(name);
    let mut roles = Vec::new();
    for spec in PROVIDERS {
        if spec.configured(&env).map_err(usage)? {
            roles.push(spec.role);
        }
    }
    if !roles.contains(&Role::SalesChannel) || !roles.contains(&Role::Fulfilment) {
        let wanted: Vec<String> = PROVIDERS.iter().map(ToString::to_string).collect();
        return Err(Failure {
            message: format!(
                "no sales channel or no fulfilment provider is configured in the environment; set every \
                 variable of at least one of each:\n  {}\n(`cargo run --example quickstart` tries the flow \
                 on the built-in sandbox)",
                wanted.join("\n  ")
            ),
            code: USAGE,
        });
    }
    if let Some(ignored) = commerce_facade::ignored_providers_message(&env) {
        warn(&ignored);
    }
    let mut options = FlowOptions::from_vars(&env).map_err(usage)?;
    // A runner name is this process's alone: two processes given one name still hold
    // their leases apart.
    options.runner = match runner {
        Some(name) => format!("{name}.{}", std::process::id()),
        None => runner_name(),
    };
    let (shared, journal): (Option<commerce_core::SharedState>, Arc<dyn Journal>) = match store {
        Store::Sqlite(path) => {
            let journal = if init {
                crate::ops::create_folder(path)?;
                SqliteJournal::open(path)?
            } else {
                SqliteJournal::open_existing_journal(std::path::Path::new(path))
                    .map_err(crate::ops::journal_failure)?
            };
            let shared = journal.shared_state().map_err(|e| Failure {
                message: format!("the journal's shared state: {e}"),
                code: 1,
            })?;
            (Some(shared), Arc::new(journal))
        }
        #[cfg(feature = "postgres")]
        Store::Postgres(url) => {
            let pg = crate::ops::postgres(url, connections, init)?;
            (Some(pg.shared_state()), Arc::new(pg.journal()))
        }
        #[cfg(not(feature = "postgres"))]
        Store::Postgres(url) => match crate::ops::postgres(url, 1, init)? {},
    };
    let _ = connections;
    let providers = Providers::from_vars_shared(&env, shared.as_ref()).map_err(usage)?;
    Ok(Setup {
        options,
        journal,
        providers,
        shared,
    })
}

/// What [`setup`] built.
pub(crate) struct Setup {
    options: FlowOptions,
    journal: Arc<dyn Journal>,
    providers: Providers,
    /// The journal's shared state (tokens and rate budgets), for clients built beside the
    /// providers' (`commerce serve`'s bol client for the signature keys).
    shared: Option<commerce_core::SharedState>,
}

/// The journal's shared state when there is a journal (`commerce subscribe` shares bol's
/// token with the runners); `None` when there is none yet.
pub(crate) fn shared_state_if_any(store: &Store) -> Result<Option<commerce_core::SharedState>, Failure> {
    match store {
        Store::Sqlite(path) if !std::path::Path::new(path).exists() => Ok(None),
        Store::Sqlite(path) => {
            let journal = SqliteJournal::open_existing_journal(std::path::Path::new(path))
                .map_err(crate::ops::journal_failure)?;
            Ok(Some(journal.shared_state().map_err(|e| Failure {
                message: format!("the journal's shared state: {e}"),
                code: 1,
            })?))
        }
        #[cfg(feature = "postgres")]
        Store::Postgres(url) => Ok(Some(crate::ops::postgres(url, 1, false)?.shared_state())),
        #[cfg(not(feature = "postgres"))]
        Store::Postgres(url) => match crate::ops::postgres(url, 1, false)? {},
    }
}

/// Which pass `commerce stock` and `commerce returns` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// bol's offers follow what the warehouses hold.
    Stock,
    /// bol's unhandled returns through the warehouse back to bol.
    Returns,
}

impl Pass {
    fn name(self) -> &'static str {
        match self {
            Pass::Stock => "stock",
            Pass::Returns => "returns",
        }
    }

    fn reading(self) -> &'static str {
        match self {
            Pass::Stock => "reading the offers: a channel's full listing can take minutes",
            Pass::Returns => "reading the unhandled returns, then each return's warehouse",
        }
    }

    fn none(self) -> &'static str {
        match self {
            Pass::Stock => "no sales channel of this configuration keeps offers: nothing to sync",
            Pass::Returns => "no sales channel of this configuration lists returns: nothing to handle",
        }
    }
}

/// What `pass` needs of a channel's report: whether it failed, whether something waits for
/// a person, and how to print it.
struct Shown {
    failed: bool,
    attention: bool,
    text: String,
    json: String,
}

impl Shown {
    /// `cut_short`: why the pass stopped early; a stop asked for is a clean end, as for `run`.
    fn new(
        report: &(impl serde::Serialize + std::fmt::Display),
        failed: bool,
        attention: bool,
        cut_short: Option<&str>,
    ) -> Self {
        let stopped = cut_short == Some(commerce_facade::STOPPED);
        Shown {
            failed: failed || (cut_short.is_some() && !stopped),
            attention,
            text: report.to_string(),
            json: serde_json::to_string(report).unwrap_or_default(),
        }
    }
}

impl From<StockReport> for Shown {
    fn from(r: StockReport) -> Self {
        Shown::new(&r, r.failed > 0, r.attention > 0, r.cut_short.as_deref())
    }
}

impl From<ReturnsReport> for Shown {
    fn from(r: ReturnsReport) -> Self {
        Shown::new(
            &r,
            r.failed > 0 || r.listing_failed.is_some(),
            r.attention > 0,
            r.cut_short.as_deref(),
        )
    }
}

fn shown<R: Into<Shown>>(
    results: Vec<(String, Result<Option<R>, commerce_core::Error>)>,
) -> Vec<(String, Result<Option<Shown>, commerce_core::Error>)> {
    results
        .into_iter()
        .map(|(channel, r)| (channel, r.map(|r| r.map(Into::into))))
        .collect()
}

/// `commerce stock [--dry-run]` and `commerce returns [--dry-run]`: one pass now on every
/// channel that keeps offers (lists returns); dry: read and worked out, nothing sent or
/// written. Exit status: 0 done, 1 a pass failed, 2 some offer (return) needs a person, 75
/// another runner's pass is under way.
pub(crate) fn pass(store: &Store, which: Pass, args: PassArgs, out: Out) -> Result<u8, Failure> {
    let Setup {
        mut options,
        journal,
        providers,
        ..
    } = setup(store, false, args.runner.as_deref(), 2)?;
    options.lease = args.lease;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let name = which.name();
    runtime.block_on(async move {
        let signals = Signals::take();
        if !out.json {
            say(&format!(
                "commerce {name}{}: runner {}, journal {} ({})",
                if args.dry_run { " --dry-run" } else { "" },
                options.runner,
                journal.location(),
                which.reading()
            ));
        }
        let flow = Flow::new(providers, journal, options);
        tokio::spawn(signals.stop_on_them(Stopping::new(flow.stop_handle())));
        let mode = if args.dry_run {
            PassMode::DryRun
        } else {
            PassMode::Now
        };
        // The worst outcome wins: a failure (1), then a pass under way elsewhere (75), then
        // offers or returns that need a person (2).
        let (mut failed, mut held, mut attention) = (false, false, false);
        let results = match which {
            Pass::Stock => shown(flow.stock(mode).await),
            Pass::Returns => shown(flow.returns(mode).await),
        };
        if results.is_empty() {
            warn(which.none());
        }
        for (channel, result) in results {
            match result {
                Ok(Some(report)) => {
                    attention |= report.attention;
                    failed |= report.failed;
                    say(if out.json { &report.json } else { &report.text });
                }
                Ok(None) => {
                    held = true;
                    let message = format!(
                        "another runner's {name} pass is under way; try again after it ends \
                         (`commerce status` names the runner)"
                    );
                    if out.json {
                        say(
                            &serde_json::json!({"channel": channel, "held": true, "message": message})
                                .to_string(),
                        );
                    } else {
                        warn(&format!("{channel}: {message}"));
                    }
                }
                Err(e) => {
                    failed = true;
                    if out.json {
                        say(&serde_json::json!({"channel": channel, "error": e.to_string()}).to_string());
                    } else {
                        warn(&format!("{channel}: the {name} pass failed: {e}"));
                    }
                }
            }
        }
        let code = if failed {
            1
        } else if held {
            75
        } else if attention {
            2
        } else {
            0
        };
        Ok(code)
    })
}

/// Runs the flow; the exit status: 0 every order completed (with --watch, or after a
/// signal: stopped cleanly, and no order needs a person), 2 some order or return in the
/// journal needs a person (or a record does not read) and nothing failed, 1 some were left
/// unfinished (failing), a channel could not be listed, a stock or returns pass failed, or
/// the run could not go on (the journal cannot be written; a provider refuses its
/// credentials or settings).
///
/// Every client shares its credential's access token and rate budgets with the other
/// runners, and with the runs before and after this one, in the journal: its SQLite file,
/// or its PostgreSQL database.
pub(crate) fn run(store: &Store, args: RunArgs, out: Out) -> Result<u8, Failure> {
    runner(store, args.init, args.watch, &args.runner, None, out)
}

/// `commerce serve`: the runner of `run --watch` plus the HTTP server on `--listen`
/// ([`crate::serve`]); the exit status is `run`'s.
pub(crate) fn serve(store: &Store, args: ServeArgs, out: Out) -> Result<u8, Failure> {
    runner(store, args.init, true, &args.runner, Some(args.listen), out)
}

/// The runner of `run` (`watch`: until stopped) and of `serve` (`listen`: with the HTTP
/// server on that address).
fn runner(
    store: &Store,
    init: bool,
    watch: bool,
    args: &RunnerArgs,
    listen: Option<std::net::SocketAddr>,
    out: Out,
) -> Result<u8, Failure> {
    // The server's socket is bound first: an address in use is said at once, before the
    // journal is opened or anything has run.
    let listener = listen.map(crate::serve::Listener::bind).transpose()?;
    let Setup {
        mut options,
        journal,
        providers,
        shared,
    } = setup(
        store,
        init,
        args.runner.as_deref(),
        usize::from(args.concurrency) + 2,
    )?;
    options.concurrency = usize::from(args.concurrency);
    options.poll_interval = args.poll_interval;
    options.lease = args.lease;
    options.untracked_after = args.untracked_after;
    options.resend_unconfirmed = args.resend_unconfirmed;
    options.new_credentials = args.new_credentials;
    options.retain_personal_data = Duration::from_secs(args.retain_days.saturating_mul(86_400));
    options.stock.interval = args.stock_interval.0;
    options.returns.interval = args.returns_interval.0;
    options.event_poll_interval = args.event_poll_interval;
    options.reconcile_interval = args.reconcile_interval.0;
    let server = match listener {
        Some(listener) => Some((listener, bol_client(shared.as_ref())?)),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // The signals are taken before anything else: a stop asked at once is a clean stop.
        let signals = Signals::take();
        let (server, bol) = match server {
            Some((listener, bol)) => (Some(listener.into_tokio()?), bol),
            None => (None, None),
        };
        let command = if server.is_some() { "serve" } else { "run" };
        if !out.json {
            say(&format!(
                "commerce {command}: {}runner {}, journal {}, {}",
                server
                    .as_ref()
                    .map(|s| format!("listening on http://{}, ", s.address()))
                    .unwrap_or_default(),
                options.runner,
                journal.location(),
                if watch {
                    "until stopped (SIGTERM or Ctrl-C)"
                } else {
                    "until every order is done or needs a person"
                }
            ));
        } else if let Some(server) = &server {
            say(
                &serde_json::json!({ "event": "listening", "address": server.address().to_string() })
                    .to_string(),
            );
        }
        let flow = Flow::new(providers, journal.clone(), options);
        let stop = Stopping::new(flow.stop_handle());
        // Standard output closed (`commerce run | head`): the run stops cleanly, as on a
        // signal; nothing is printed any more. A server goes on serving (its health and
        // pushes matter more than its log): it only stops printing.
        let closed = Arc::new(AtomicBool::new(false));
        let flow = {
            let (stop, closed) = (stop.clone(), closed.clone());
            let serving = server.is_some();
            flow.observe(move |e: &Event| {
                if closed.load(Ordering::SeqCst) {
                    return;
                }
                let line = if out.json {
                    serde_json::to_string(e).unwrap_or_default()
                } else {
                    e.to_string()
                };
                if !say(&line) && !closed.swap(true, Ordering::SeqCst) {
                    if serving {
                        warn("standard output is closed: nothing more is printed there; serving goes on");
                    } else {
                        warn("standard output is closed: stopping cleanly (the journal keeps the rest)");
                        stop.stop();
                    }
                }
            })
        };
        let flow = Arc::new(flow);
        tokio::spawn(signals.stop_on_them(stop.clone()));
        let served = server.map(|listener| {
            let recheck = Arc::new(tokio::sync::Notify::new());
            let distrust = crate::bol::Distrust::default();
            let verifier = bol.map(|client| {
                tokio::spawn(crate::bol::watch_subscriptions(
                    client.clone(),
                    flow.waker(),
                    recheck.clone(),
                    distrust.clone(),
                    out,
                    closed.clone(),
                    stop.stopped(),
                ));
                Arc::new(crate::bol::BolVerifier(PushKeys::new(client))) as Arc<dyn crate::serve::Verify>
            });
            crate::serve::start(
                listener,
                crate::serve::Parts {
                    flow: flow.clone(),
                    journal,
                    verifier,
                    recheck,
                    distrust,
                    out,
                    closed: closed.clone(),
                },
                stop.stopped(),
            )
        });
        let summary = if watch {
            flow.watch().await
        } else {
            flow.run().await
        };
        // The flow has ended (a stop asked for, or it could not go on): the server stops
        // accepting and finishes the requests under way.
        if let Some(served) = &served {
            served.flow_ended(summary.fatal.as_deref());
        }
        stop.stop();
        if let Some(served) = served {
            served.finish().await;
        }
        if !closed.load(Ordering::SeqCst) {
            if out.json {
                say(&serde_json::json!({ "event": "summary", "summary": summary }).to_string());
            } else {
                say(&format!("\nSummary\n{summary}"));
            }
        }
        if let Some(why) = &summary.fatal {
            warn(&format!("error: {why}"));
            return Ok(1);
        }
        // A step that failed and then went through is not a failure of the run; an order
        // left unfinished is (with --watch, or after a signal, a stop is how a run ends).
        let stopped = watch || summary.interrupted;
        let unfinished = !summary.unlisted.is_empty()
            || (!stopped && summary.pending > 0)
            || (!stopped && summary.stock_failed)
            || (!stopped && summary.returns_failed);
        Ok(if unfinished {
            1
        } else if summary.needing_person > 0 || !summary.attention.is_empty() || summary.returns_attention > 0
        {
            2
        } else {
            0
        })
    })
}

/// `commerce serve`'s bol client (the deliveries' signature keys, the subscriptions), built
/// from the environment on the journal's shared state as the flow's are, so that it shares
/// their token and rate budgets; `None` when bol is not configured.
fn bol_client(shared: Option<&commerce_core::SharedState>) -> Result<Option<RetailerClient>, Failure> {
    let env = |name: &str| commerce_core::env_optional(name);
    let usage = |e: commerce_core::Error| Failure {
        message: e.to_string(),
        code: USAGE,
    };
    if !retailer_client::PROVIDER.configured(&env).map_err(usage)? {
        return Ok(None);
    }
    retailer_client::RetailerClientBuilder::from_vars(&env)
        .and_then(|b| b.shared(shared.cloned()).build())
        .map(Some)
        .map_err(usage)
}

/// Stops the flow and tells the server (which then stops accepting), on a signal, a closed
/// standard output, or the flow's end.
#[derive(Clone)]
pub(crate) struct Stopping {
    flow: StopHandle,
    asked: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Stopping {
    fn new(flow: StopHandle) -> Self {
        Stopping {
            flow,
            asked: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    fn stop(&self) {
        self.flow.stop();
        self.asked.send_replace(true);
    }

    /// Returns once a stop is asked for.
    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut asked = self.asked.subscribe();
        async move {
            let _ = asked.wait_for(|a| *a).await;
        }
    }
}

/// SIGTERM (how systemd and containers stop a service) and SIGINT (Ctrl-C), taken from the
/// start of the run.
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn take() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(term), Ok(int)) => Signals(Some((term, int))),
            _ => {
                warn("signals cannot be handled: SIGTERM and Ctrl-C end the process at once");
                Signals(None)
            }
        }
    }

    /// The first signal stops cleanly, within [`STOP_GRACE`]; a second one, or the grace
    /// running out, ends the process at once (a step under way stays `Started` in the
    /// journal, settled by the next run; its order's lease runs out after `--lease`). Exit
    /// status then: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
    async fn stop_on_them(self, stop: Stopping) {
        let Some((mut term, mut int)) = self.0 else {
            return;
        };
        let first = tokio::select! {
            _ = term.recv() => 15,
            _ = int.recv() => 2,
        };
        warn(&format!(
            "{}: stopping cleanly: no new order is claimed, waits and reads are cancelled, a request under way \
             finishes (at most {} s), every order is given back; a second signal stops at once",
            name(first),
            STOP_GRACE.as_secs()
        ));
        stop.stop();
        let second = tokio::select! {
            _ = term.recv() => Some(15),
            _ = int.recv() => Some(2),
            () = tokio::time::sleep(STOP_GRACE) => None,
        };
        let code = second.unwrap_or(first);
        warn(&format!(
            "{}: stopping at once: a step under way stays `Started` in the journal and is settled by the next run \
             (never guessed); its order is taken over when its lease runs out",
            match second {
                Some(s) => format!("{} again", name(s)),
                None => format!("not stopped within {} s", STOP_GRACE.as_secs()),
            }
        ));
        std::process::exit(128 + code);
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        15 => "SIGTERM",
        _ => "SIGINT",
    }
}
