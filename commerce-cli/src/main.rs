//! `commerce`: the operator's command line for the order-to-review flow.
//!
//! `commerce run` works the orders, the stock and the returns (providers from the
//! environment); `commerce serve` does the same with an HTTP server beside it (bol's push
//! notifications, health, metrics) and `commerce subscribe` has bol push to it; `status`, `attention` and `show` say where they stand, `resolve` and `retry`
//! settle the orders and returns that need a person. The journal is `--journal PATH`, else `COMMERCE_JOURNAL`, else one per user
//! (`$XDG_STATE_HOME/commerce/journal.sqlite`, else `~/.local/state/commerce/journal.sqlite`),
//! created only by `commerce init` (or `run --init`); several `commerce run` processes may
//! share it.

mod bol;
mod metrics;
mod ops;
mod returns;
mod run;
mod serve;
mod subscribe;

use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use commerce_core::HandlingResult;
use commerce_facade::parse_duration;

/// Exit status for a command line that does not parse (`EX_USAGE`): 2 means "orders
/// wait for a person".
const USAGE: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "commerce",
    version,
    about = "Run the order-to-review flow and look after the orders that need a person.",
    long_about = "Run the order-to-review flow (bol orders -> fulfilment -> shipment confirmed -> review \
                  invitations) against the providers configured in the environment, and look after the \
                  orders that need a person.\n\nThe journal is --journal PATH, else COMMERCE_JOURNAL, else \
                  $XDG_STATE_HOME/commerce/journal.sqlite (else ~/.local/state/commerce/journal.sqlite). It is \
                  created only by `commerce init` (or `commerce run --init`): a new journal knows no order, so \
                  orders already handed over would be handed over again. Several `commerce run` processes may \
                  share one journal: each order is worked on by one of them at a time.\n\nSIGTERM or SIGINT \
                  (Ctrl-C) stops `run` cleanly: no new order is claimed, waits and reads are cancelled, a request \
                  that may act finishes, every order is given back; a second signal stops at once.\n\nExit \
                  status: 0 done (or stopped cleanly); 1 a failure; 2 (run) some orders need a person and nothing \
                  failed (or a return needs a person), (stock) some offers need a person, (returns) some returns \
                  need a person; 64 a bad command line; 75 (stock, returns) another runner's pass is under \
                  way.\n\nServe: `commerce serve` is `run --watch` plus an HTTP server (--listen, 127.0.0.1:8080): \
                  bol's push notifications at POST /push/bol (verified, journaled, acted upon at once), GET \
                  /healthz, /readyz and /metrics (Prometheus). Plain HTTP: TLS belongs in a reverse proxy in front. \
                  `commerce subscribe --url https://HOST/push/bol` has bol push there.\n\nReturns: `commerce returns` (or `run`, every --returns-interval) lists bol's unhandled \
                  returns, announces each at the warehouse that shipped it, waits until the warehouse has the \
                  goods, then handles it on bol. `attention` lists the returns that wait for a person first, \
                  nearest deadline first; `resolve return:bol:RMA ...` settles them."
)]
struct Cli {
    /// The journal: a file, or a `postgres://` address (default: COMMERCE_JOURNAL, else
    /// $XDG_STATE_HOME/commerce/journal.sqlite, else ~/.local/state/commerce/journal.sqlite).
    #[arg(long, global = true, value_name = "PATH")]
    journal: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the journal (refused where a file is): once, before the first `run`.
    Init,
    /// Work the orders: until every order seen is completed or needs a person, or with
    /// --watch until Ctrl-C. Providers come from the environment (see the README).
    Run(RunArgs),
    /// The runner of `run --watch` plus an HTTP server: bol's push notifications
    /// (`POST /push/bol`), `/healthz`, `/readyz` and `/metrics` (Prometheus) until
    /// SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Have bol push its notifications to `commerce serve` (creates or updates the
    /// subscription and sends bol's test push), or list the subscriptions.
    Subscribe(SubscribeArgs),
    /// Orders per step, orders waiting and when they are next due, runners holding leases;
    /// returns per step, the nearest handling deadline, the last stock and returns passes.
    Status,
    /// Each return, order and offer that needs a person: why, and what to do (returns
    /// first, nearest deadline first).
    Attention,
    /// One order: its steps, its returns and its journal history; a return
    /// (`return:bol:RMA`): its steps and history; or, given an EAN or an offer id, the
    /// offer's last stock sync and its history.
    Show {
        /// The order, `channel:order id` (e.g. `bol:1043946570`), a return
        /// (`return:bol:86123452`), or an EAN, or an offer id.
        key: String,
    },
    /// Settle an order or a return a person has checked. An order: it was submitted, a step
    /// was done by hand, or the flow should leave it. A return: the warehouse was told, the
    /// goods arrived, how to handle it on bol, or the flow should leave it.
    Resolve(ResolveArgs),
    /// Work on an order or a return now: clears its failures and its wait; for one that
    /// needs a person, also its attention, and a step whose outcome was unknown is sent
    /// again (check first that the provider did not get it).
    Retry {
        /// The order, `channel:order id`, or the return, `return:bol:RMA`.
        key: String,
    },
    /// One stock pass now: bol's offers follow what the warehouses hold (--dry-run: print
    /// the differences it would send, and send nothing).
    Stock(PassArgs),
    /// One returns pass now: bol's unhandled returns are announced at the warehouse that
    /// shipped them, and handled on bol once the goods are in (--dry-run: print what it
    /// would do, and send nothing).
    Returns(PassArgs),
    /// Undo the last `resolve` of an order (while the flow has not acted on it since).
    Reopen {
        /// The order, `channel:order id`.
        key: String,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Create the journal when there is none (a first run); without it, a missing journal
    /// is refused, so that orders handed over before are never handed over again.
    #[arg(long)]
    init: bool,
    /// Keep running passes and picking up new orders until Ctrl-C.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// `commerce serve`: the runner of `run --watch` and its HTTP server.
#[derive(Debug, Args)]
struct ServeArgs {
    /// The address the HTTP server listens on, `IP:PORT` (`localhost:PORT` is
    /// 127.0.0.1:PORT; port 0: any free port, named in the first line printed). Plain
    /// HTTP: keep it on loopback or a private network, with TLS in a reverse proxy in front.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    listen: std::net::SocketAddr,
    /// Create the journal when there is none (a first run); without it, a missing journal
    /// is refused, so that orders handed over before are never handed over again.
    #[arg(long)]
    init: bool,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// `commerce subscribe`: bol's push notifications to `commerce serve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["url", "list"])))]
struct SubscribeArgs {
    /// Where bol sends its push notifications: `https://HOST/push/bol` (the reverse proxy
    /// in front of `commerce serve`); plain `http://` only to a loopback host.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The resources bol tells of, comma-separated (any case).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "ORDER,PROCESS_STATUS,SHIPMENT",
        value_parser = clap::builder::PossibleValuesParser::new(subscribe::RESOURCES).map(|s| s.to_ascii_uppercase()),
        ignore_case = true,
        requires = "url"
    )]
    resources: Vec<String>,
    /// List bol's subscriptions instead (id, url, resources, enabled).
    #[arg(long, conflicts_with = "url")]
    list: bool,
}

/// The flags of a runner, `run` and `serve` alike.
#[derive(Debug, Args)]
struct RunnerArgs {
    /// How often a shipping order is checked, and new orders looked for with --watch:
    /// `200ms`, `30s`, `5m`, `1h` (100ms to 1d).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = poll_interval)]
    poll_interval: Duration,
    /// Orders worked on at once by this runner.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// How long an order stays claimed by this runner without news from it (a crashed
    /// runner's orders are taken over after this); 2s to 1d, longer than a journal write
    /// can wait for another runner's.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = lease)]
    lease: Duration,
    /// How long an order reported shipped without a tracking code waits for one before
    /// its shipment is confirmed without one.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = any_duration)]
    untracked_after: Duration,
    /// This runner's name in the journal, followed by `.` and the process id so that it is
    /// this process's alone (default: `runner-` with the process id and a random suffix).
    #[arg(long, value_name = "NAME", value_parser = runner)]
    runner: Option<String>,
    /// Keep the personal data of completed orders this many days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    retain_days: u64,
    /// The sales channel's credentials are new ones of the shop this journal serves: record
    /// their account instead of refusing them (a journal serves one account per channel).
    #[arg(long)]
    new_credentials: bool,
    /// Send a create again when its outcome is unknown and the provider has no look-up.
    /// Only where failures are known to happen before the provider acts: it risks a
    /// duplicate.
    #[arg(long)]
    resend_unconfirmed: bool,
    /// How often bol's offers are synced with the warehouses' stock (`commerce stock`):
    /// `15m` (1m to 1d), or `off`.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = pass_interval)]
    stock_interval: PassInterval,
    /// How often bol's unhandled returns are worked on (`commerce returns`): `1h` (1m to
    /// 1d), or `off`. The handling deadline is COMMERCE_RETURN_DAYS after registration
    /// (not configured by default), COMMERCE_RETURN_MARGIN (2d) before it a return still
    /// waiting goes to a person.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = pass_interval)]
    returns_interval: PassInterval,
    /// How often new orders are looked for while bol's push notifications arrive
    /// (`commerce serve` with an enabled subscription): `30m` (100ms to 1d).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = poll_interval)]
    event_poll_interval: Duration,
    /// How often the orders changed since the last reconciliation are read, open or not
    /// (an order shipped or changed between two listings): `1h` (1m to 1d), or `off`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = pass_interval)]
    reconcile_interval: PassInterval,
}

/// `--stock-interval`, `--returns-interval`: a duration, or `off` (`None`).
#[derive(Debug, Clone, Copy)]
struct PassInterval(Option<Duration>);

/// `commerce stock` and `commerce returns`: one pass now.
#[derive(Debug, Args)]
struct PassArgs {
    /// Read and work out only: print what it would send (stock: the table of differences;
    /// returns: each return's next step); nothing is sent and nothing is written.
    #[arg(long)]
    dry_run: bool,
    /// This runner's name in the journal, followed by `.` and the process id.
    #[arg(long, value_name = "NAME", value_parser = runner)]
    runner: Option<String>,
    /// How long the pass stays this runner's without news from it (a crashed runner's pass
    /// is taken over after this).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = lease)]
    lease: Duration,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args([
    "submitted", "skip_step", "cancel", "announced", "received", "handle", "leave"
])))]
struct ResolveArgs {
    /// The order, `channel:order id`, or the return, `return:bol:RMA`. An order takes
    /// --submitted, --skip-step or --cancel; a return --announced, --received, --handle
    /// or --leave.
    key: String,
    /// The fulfilment provider has the order, under this reference (read there first: it
    /// must exist and be this order, unless --force).
    #[arg(long, value_name = "REF")]
    submitted: Option<String>,
    /// The fulfilment provider that has it, with --submitted, when the order was not
    /// routed yet (a fulfilment provider of this build).
    #[arg(long, value_name = "NAME", requires = "submitted")]
    provider: Option<String>,
    /// A step done by hand: `confirm`, or an invitation step (`safeshop`,
    /// `sitejabber/review`, `sitejabber/products`).
    #[arg(long, value_name = "STEP")]
    skip_step: Option<String>,
    /// The flow leaves the order for good (nothing is cancelled at any provider).
    #[arg(long)]
    cancel: bool,
    /// With --submitted: accept REF without reading it at the provider (one that cannot
    /// tell, or one this machine has no credentials for).
    #[arg(long, requires = "submitted")]
    force: bool,
    /// A return: the warehouse that shipped it was told by hand (or has the announcement
    /// whose answer was lost), under REF where it gave one.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "")]
    announced: Option<String>,
    /// A return: N units arrived at the warehouse (0 to what the buyer sends back).
    #[arg(long, value_name = "N")]
    received: Option<u32>,
    /// With --received: the goods are not as sold (what is wrong with them).
    #[arg(long, value_name = "TEXT", requires = "received")]
    damaged: Option<String>,
    /// A return: handle it on bol with RESULT (sent by the next pass): RETURN_RECEIVED,
    /// EXCHANGE_PRODUCT, RETURN_DOES_NOT_MEET_CONDITIONS, REPAIR_PRODUCT,
    /// CUSTOMER_KEEPS_PRODUCT_PAID or STILL_APPROVED (any case); the first four only once
    /// the goods arrived.
    #[arg(long, value_name = "RESULT", requires = "quantity", value_parser = handling_result)]
    handle: Option<HandlingResult>,
    /// With --handle: the quantity to handle (1 to what the buyer sends back).
    #[arg(long, value_name = "N", requires = "handle")]
    quantity: Option<u32>,
    /// A return: the flow leaves it for good (nothing is sent to bol or the warehouse).
    #[arg(long)]
    leave: bool,
    /// Why, for the order's or the return's history.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

fn handling_result(text: &str) -> Result<HandlingResult, String> {
    text.parse()
        .map_err(|e: commerce_core::UnknownHandlingResult| e.to_string())
}

fn duration(text: &str, least: Duration, most: Duration) -> Result<Duration, String> {
    let d = parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 200ms, 30s, 5m, 1h"))?;
    if d < least || d > most {
        return Err(format!("`{text}` is outside {least:?} to {most:?}"));
    }
    Ok(d)
}

fn poll_interval(text: &str) -> Result<Duration, String> {
    let (least, most) = commerce_facade::POLL_BOUNDS;
    duration(text, least, most)
}

fn any_duration(text: &str) -> Result<Duration, String> {
    duration(text, Duration::ZERO, Duration::from_secs(7 * 86_400))
}

fn pass_interval(text: &str) -> Result<PassInterval, String> {
    if text == "off" {
        return Ok(PassInterval(None));
    }
    duration(text, Duration::from_secs(60), Duration::from_secs(86_400))
        .map(|d| PassInterval(Some(d)))
        .map_err(|e| format!("{e}, or `off`"))
}

/// `--listen`: `IP:PORT`, or `localhost:PORT` (127.0.0.1).
fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{port}` is not a port (0 to 65535)"))?;
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    Err(format!(
        "`{text}` is not an address to listen on: IP:PORT, such as 127.0.0.1:8080 or [::1]:8080 \
         (0.0.0.0:8080 listens on every interface)"
    ))
}

fn runner(text: &str) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.@:".contains(c);
    if text.is_empty() || text.len() > 64 || !text.chars().all(ok) {
        return Err("a runner name is 1 to 64 letters, digits and - _ . @ :".into());
    }
    Ok(text.to_owned())
}

fn lease(text: &str) -> Result<Duration, String> {
    duration(text, Duration::from_secs(2), commerce_facade::LEASE_BOUNDS.1)
}

/// A command's failure, as people (or scripts) read it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

/// The commands that read or change the journal as an operator asks (the journal's
/// operations are async: they run on a runtime of one thread).
fn operator(command: Command, store: &ops::Store, out: ops::Out) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let read = || ops::journal(store, ops::Access::Read);
        let write = || ops::journal(store, ops::Access::Write);
        match command {
            Command::Status => ops::status(read()?.as_ref(), out).await,
            Command::Attention => ops::attention(read()?.as_ref(), out).await,
            Command::Show { key } => ops::show(read()?.as_ref(), &key, out).await,
            Command::Resolve(args) => ops::resolve(write()?.as_ref(), args, out).await,
            Command::Retry { key } => ops::retry(write()?.as_ref(), &key, out).await,
            Command::Reopen { key } => ops::reopen(write()?.as_ref(), &key, out).await,
            Command::Run(_)
            | Command::Serve(_)
            | Command::Subscribe(_)
            | Command::Init
            | Command::Stock(_)
            | Command::Returns(_) => {
                unreachable!("not an operator's command")
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(USAGE),
            };
        }
    };
    let out = ops::Out { json: cli.json };
    let journal_path = match cli
        .journal
        .clone()
        .or_else(|| commerce_core::env_optional("COMMERCE_JOURNAL"))
        .map_or_else(ops::default_journal, Ok)
    {
        Ok(path) => path,
        Err(f) => return out.fail(&f),
    };
    let store = ops::Store::parse(&journal_path);
    let result = match cli.command {
        Command::Run(args) => run::run(&store, args, out),
        Command::Serve(args) => run::serve(&store, args, out),
        Command::Subscribe(args) => subscribe::subscribe(&store, args, out),
        Command::Stock(args) => run::pass(&store, run::Pass::Stock, args, out),
        Command::Returns(args) => run::pass(&store, run::Pass::Returns, args, out),
        Command::Init => ops::init(&store, out),
        command => operator(command, &store, out),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => out.fail(&f),
    }
}
