//! `commerce run`: the flow against the providers configured in the environment.

use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{
    Event, Flow, FlowOptions, Journal, PROVIDERS, Providers, Role, SqliteJournal, runner_name,
};

use crate::ops::{Out, Store};
use crate::{Failure, RunArgs, USAGE};

/// Runs the flow; the exit status: 0 every order completed (with --watch: stopped, and no
/// order needs a person), 2 some need a person and every other one completed, 1 some were
/// left unfinished (failing, or interrupted) or a channel could not be listed.
///
/// With a PostgreSQL journal, every client shares its credential's access token and rate
/// budgets in the same database with the other runners.
pub(crate) fn run(journal_path: &str, args: RunArgs, out: Out) -> Result<u8, Failure> {
    // The environment is checked before the journal is opened: a command line without
    // providers is a usage error whatever the journal.
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
    // The clients are built once, on the journal's database when it is PostgreSQL (every
    // client then shares its credential's token and rate budgets with the other runners).
    let (shared, journal): (Option<commerce_core::SharedState>, Arc<dyn Journal>) =
        match Store::parse(journal_path) {
            Store::Sqlite(path) => (None, Arc::new(SqliteJournal::open(path)?)),
            #[cfg(feature = "postgres")]
            Store::Postgres(url) => {
                // A connection per order worked on at once, and two for the listing and the
                // shared stores.
                let pg = crate::ops::postgres(&url, usize::from(args.concurrency) + 2)?;
                (Some(pg.shared_state()), Arc::new(pg.journal()))
            }
            #[cfg(not(feature = "postgres"))]
            Store::Postgres(url) => match crate::ops::postgres(&url, 1)? {},
        };
    let providers = Providers::from_vars_shared(&env, shared.as_ref()).map_err(usage)?;
    let options = FlowOptions {
        concurrency: usize::from(args.concurrency),
        poll_interval: args.poll_interval,
        lease: args.lease,
        untracked_after: args.untracked_after,
        runner: args.runner.unwrap_or_else(runner_name),
        resend_unconfirmed: args.resend_unconfirmed,
        retain_personal_data: Duration::from_secs(args.retain_days.saturating_mul(86_400)),
        ..FlowOptions::from_vars(&env)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if !out.json {
            println!(
                "commerce run: runner {}, journal {}, {}",
                options.runner,
                journal.location(),
                if args.watch {
                    "until Ctrl-C"
                } else {
                    "until every order is done or needs a person"
                }
            );
        }
        let flow = Flow::new(providers, journal, options).observe(move |e: &Event| {
            if out.json {
                println!("{}", serde_json::to_string(e).unwrap_or_default());
            } else {
                println!("{e}");
            }
        });
        let stop = flow.stop_handle();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the current steps (the journal keeps the rest)...");
                stop.stop();
            }
        });
        let summary = if args.watch {
            flow.watch().await
        } else {
            flow.run().await
        };
        if out.json {
            println!(
                "{}",
                serde_json::json!({ "event": "summary", "summary": summary })
            );
        } else {
            println!("\nSummary\n{summary}");
        }
        // A step that failed and then went through is not a failure of the run; an order
        // left unfinished is (with --watch, Ctrl-C is how a run ends).
        let unfinished =
            !summary.unlisted.is_empty() || (!args.watch && (summary.pending > 0 || summary.interrupted));
        Ok(if unfinished {
            1
        } else if !summary.attention.is_empty() {
            2
        } else {
            0
        })
    })
}
