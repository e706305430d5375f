//! `commerce`: the operator's command line for the order-to-review flow.
//!
//! `commerce run` works the orders (providers from the environment), `status`, `attention`
//! and `show` say where they stand, `resolve` and `retry` settle the ones that need a
//! person. The journal is `--journal PATH`, else `COMMERCE_JOURNAL`, else
//! `commerce-journal.sqlite` in the current folder; several `commerce run` processes may
//! share it.

mod ops;
mod run;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
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
                  commerce-journal.sqlite in the current folder. Several `commerce run` processes may share \
                  one journal: each order is worked on by one of them at a time.\n\nExit status: 0 done; \
                  1 a failure; 2 (run) some orders need a person and nothing failed; 64 a bad command line."
)]
struct Cli {
    /// The journal file (default: COMMERCE_JOURNAL, else ./commerce-journal.sqlite).
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
    /// Work the orders: until every order seen is completed or needs a person, or with
    /// --watch until Ctrl-C. Providers come from the environment (see the README).
    Run(RunArgs),
    /// Orders per step, orders waiting and when they are next due, runners holding leases.
    Status,
    /// Each order that needs a person: why, and what to check.
    Attention,
    /// One order: its steps and its journal history.
    Show {
        /// The order, `channel:order id` (e.g. `bol:1043946570`).
        key: String,
    },
    /// Settle an order a person has checked: it was submitted, a step was done by hand,
    /// or the flow should leave it.
    Resolve(ResolveArgs),
    /// Work on an order now: clears its failures and its wait; for an order that needs a
    /// person, also its attention, and a step whose outcome was unknown is sent again
    /// (check first that the provider did not get it).
    Retry {
        /// The order, `channel:order id`.
        key: String,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Keep running passes and picking up new orders until Ctrl-C.
    #[arg(long)]
    watch: bool,
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
    /// This runner's name in the journal (default: from the process id).
    #[arg(long, value_name = "NAME")]
    runner: Option<String>,
    /// Keep the personal data of completed orders this many days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    retain_days: u64,
    /// Send a create again when its outcome is unknown and the provider has no look-up.
    /// Only where failures are known to happen before the provider acts: it risks a
    /// duplicate.
    #[arg(long)]
    resend_unconfirmed: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["submitted", "skip_step", "cancel"])))]
struct ResolveArgs {
    /// The order, `channel:order id`.
    key: String,
    /// The fulfilment provider has the order, under this reference.
    #[arg(long, value_name = "REF")]
    submitted: Option<String>,
    /// The fulfilment provider that has it, with --submitted, when the order was not
    /// routed yet.
    #[arg(long, value_name = "NAME", requires = "submitted")]
    provider: Option<String>,
    /// A step done by hand: `confirm`, or an invitation step (`safeshop`,
    /// `sitejabber/review`, `sitejabber/products`).
    #[arg(long, value_name = "STEP")]
    skip_step: Option<String>,
    /// The flow leaves the order for good (nothing is cancelled at any provider).
    #[arg(long)]
    cancel: bool,
    /// Why, for the order's history.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
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
    let journal_path = cli
        .journal
        .clone()
        .or_else(|| commerce_core::env_optional("COMMERCE_JOURNAL"))
        .unwrap_or_else(|| "commerce-journal.sqlite".to_owned());
    let out = ops::Out { json: cli.json };
    let result = match cli.command {
        Command::Run(args) => run::run(&journal_path, args, out),
        other => ops::journal(&ops::Store::parse(&journal_path)).and_then(|journal| match other {
            Command::Status => ops::status(journal.as_ref(), out),
            Command::Attention => ops::attention(journal.as_ref(), out),
            Command::Show { key } => ops::show(journal.as_ref(), &key, out),
            Command::Resolve(args) => ops::resolve(journal.as_ref(), args, out),
            Command::Retry { key } => ops::retry(journal.as_ref(), &key, out),
            Command::Run(_) => unreachable!("handled above"),
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": f.message }));
            } else {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
