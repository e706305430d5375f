//! The whole order-to-review flow, end to end:
//!
//! ```sh
//! cargo run --example quickstart [-- --orders N] [-- --journal PATH] [-- --retain-days N]
//!     [-- --poll-interval DURATION] [-- --concurrency N] [-- --watch]
//! ```
//!
//! Each provider whose variables are all set in the environment is used live; each with
//! none set runs against an in-process sandbox; a partial set is an error naming what is
//! missing. It prints every step as it happens and a summary. Exit status: 0 when every
//! order went through, 2 when some wait for a person and nothing failed, 1 otherwise (a
//! failure, orders left for a rerun, an interrupt, or a sandbox rule broken), 64 for a bad
//! argument.
//! `--poll-interval` takes `200ms`, `2s`, `5m`, `1h` (default: 200 ms on the sandbox,
//! 60 s live).
//!
//! bol leaves the buyer's phone out of most orders and ShopWeDo requires one: the flow then
//! gives the warehouse the shop's phone, `COMMERCE_CONTACT_PHONE`. With every provider on
//! the sandbox and that variable unset, the quickstart uses a demo number (and says so), so
//! a first run shows the flow working; live, without it, those orders wait for a person.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use commerce_core::env_optional;
use commerce_facade::{
    Flow, FlowOptions, PROVIDERS, Providers, SqliteJournal, add_provider_shared, ignored_providers_message,
    parse_duration,
};

/// The shop's contact phone on the embedded sandbox when `COMMERCE_CONTACT_PHONE` is not
/// set: a demo number, only ever sent to the sandbox.
const DEMO_CONTACT_PHONE: &str = "+31 20 000 0000";

struct Args {
    journal: Option<String>,
    orders: usize,
    retain_days: u64,
    poll_interval: Option<Duration>,
    concurrency: Option<usize>,
    watch: bool,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        journal: None,
        orders: 6,
        retain_days: 30,
        poll_interval: None,
        concurrency: None,
        watch: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--journal" => out.journal = Some(it.next().ok_or("--journal needs a path")?),
            "--orders" => {
                out.orders = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--orders needs a number")?
            }
            "--poll-interval" => {
                out.poll_interval = Some(
                    it.next()
                        .as_deref()
                        .and_then(parse_duration)
                        .ok_or("--poll-interval needs a duration such as 200ms, 2s, 5m")?,
                )
            }
            "--concurrency" => {
                out.concurrency = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n: &usize| *n > 0)
                        .ok_or("--concurrency needs a number above 0")?,
                )
            }
            "--watch" => out.watch = true,
            "--retain-days" => {
                out.retain_days = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--retain-days needs a number of days")?
            }
            "-h" | "--help" => {
                return Err("usage: quickstart [--orders N] [--journal PATH] [--retain-days N] [--poll-interval DURATION] [--concurrency N] [--watch]".into());
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: quickstart [--orders N] [--journal PATH] [--retain-days N] [--poll-interval DURATION] [--concurrency N] [--watch]"
                ));
            }
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) if e.starts_with("usage:") && std::env::args().any(|a| a == "-h" || a == "--help") => {
            println!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // 64 (EX_USAGE): 2 means "some orders wait for a person".
            eprintln!("{e}");
            return ExitCode::from(64);
        }
    };
    // Live, sandbox, or a configuration error, per provider.
    let env = |name: &str| env_optional(name);
    let mut live = HashMap::new();
    for spec in PROVIDERS {
        match spec.configured(&env) {
            Ok(is_live) => {
                live.insert(spec.name, is_live);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let sandbox = if live.values().any(|l| !l) {
        let config = commerce_sandbox::Config {
            orders: args.orders,
            ..Default::default()
        };
        match commerce_sandbox::start(config).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: could not start the sandbox: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let sandbox_vars: HashMap<&str, String> = sandbox
        .as_ref()
        .map(|s| s.env().into_iter().collect())
        .unwrap_or_default();
    let journal_path = args
        .journal
        .or_else(|| env_optional("COMMERCE_JOURNAL"))
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join(format!("commerce-quickstart-{}.sqlite", std::process::id()))
                .display()
                .to_string()
        });
    let journal = match SqliteJournal::open(&journal_path) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Each credential's token and each provider's budgets are kept in the journal's file
    // and shared with other runs on it (at once, or one after the other).
    let shared = match journal.shared_state() {
        Ok(shared) => shared,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let journal = Arc::new(journal);
    println!("commerce quickstart: the order-to-review flow");
    let mut providers = Providers::new();
    for spec in PROVIDERS {
        let is_live = live[spec.name];
        let from_sandbox = |name: &str| sandbox_vars.get(name).cloned();
        // A provider the sandbox does not emulate is used only when configured live.
        let emulated = matches!(spec.configured(&from_sandbox), Ok(true));
        let source = match (is_live, &sandbox) {
            (true, _) => "live (from the environment)".to_owned(),
            (false, Some(s)) if emulated => format!("sandbox at {}", s.url()),
            (false, _) => format!(
                "left out (not in the sandbox: set {} to use it)",
                spec.required.join(", ")
            ),
        };
        println!("  {:<13} {:<22} {source}", spec.name, spec.role);
        if !is_live && !emulated {
            continue;
        }
        let vars: &dyn Fn(&str) -> Option<String> = if is_live { &env } else { &from_sandbox };
        providers = match add_provider_shared(providers, spec.name, vars, Some(&shared)) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {}: {e}", spec.name);
                return ExitCode::from(2);
            }
        };
    }
    println!("  journal       {journal_path}");
    // The shop's settings come from the environment, live or not: the sandbox emulates the
    // providers, not the shop. Only with every provider on the sandbox does a demo phone
    // stand in for the shop's.
    let defaults = match FlowOptions::from_vars(&env) {
        Ok(defaults) => defaults,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(64);
        }
    };
    let all_sandbox = live.values().all(|is_live| !is_live);
    let (contact_phone, phone_source) = match (&defaults.contact_phone, all_sandbox) {
        (Some(phone), _) => (Some(phone.clone()), format!("{phone} (COMMERCE_CONTACT_PHONE)")),
        (None, true) => (
            Some(DEMO_CONTACT_PHONE.to_owned()),
            format!(
                "{DEMO_CONTACT_PHONE}, a demo number for the sandbox. bol leaves the buyer's phone \
                 out of most orders and ShopWeDo requires one: in production set \
                 COMMERCE_CONTACT_PHONE to your shop's phone, or those orders wait for a person"
            ),
        ),
        (None, false) => (
            None,
            "none: orders whose buyer gave no phone wait for a person where the warehouse \
             requires one; set COMMERCE_CONTACT_PHONE to your shop's phone"
                .to_owned(),
        ),
    };
    println!("  contact phone {phone_source}");
    if let Some(ignored) = ignored_providers_message(&env) {
        println!("  {ignored}");
    }
    println!();
    println!(
        "Each order is followed step by step; one the flow cannot finish by itself is marked \
         NEEDS ATTENTION with what a person should do (`commerce attention` lists them in \
         production), and the run goes on with the others."
    );
    println!();
    let fast = sandbox.is_some()
        && !live.get("shopwedo").copied().unwrap_or(false)
        && !live.get("customer-api").copied().unwrap_or(false);
    let options = FlowOptions {
        contact_phone,
        poll_interval: args.poll_interval.unwrap_or(if fast {
            Duration::from_millis(200)
        } else {
            defaults.poll_interval
        }),
        concurrency: args.concurrency.unwrap_or(defaults.concurrency),
        // The sandbox's warehouses ship some orders without a tracking code.
        untracked_after: if fast {
            Duration::from_secs(1)
        } else {
            defaults.untracked_after
        },
        retain_personal_data: Duration::from_secs(args.retain_days.saturating_mul(86_400)),
        ..defaults.clone()
    };
    let flow = Flow::new(providers, journal, options).observe(|e| println!("{e}"));
    let stop = flow.stop_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("stopping after the current steps (the journal keeps the rest for the next run)...");
            stop.stop();
        }
    });
    let summary = if args.watch {
        flow.watch().await
    } else {
        flow.run().await
    };

    println!();
    println!("Summary");
    println!("{summary}");
    // A step that failed and then went through is not a failure of the run; an order left
    // unfinished is (with --watch, Ctrl-C is how a run ends).
    let mut ok =
        summary.unlisted.is_empty() && (args.watch || (summary.pending == 0 && !summary.interrupted));
    if let Some(sandbox) = &sandbox {
        let report = sandbox.report();
        println!(
            "  sandbox report   {} rule violations, {} duplicates, {} rate-limit refusals (429)",
            report.total_violations(),
            report.total_duplicates(),
            report.total_rate_limited()
        );
        for (provider, r) in &report.providers {
            for v in &r.violation_samples {
                println!("    {provider}: {v}");
            }
        }
        ok &= report.total_violations() == 0 && report.total_duplicates() == 0;
    }
    if ok && summary.attention.is_empty() {
        println!("\nEverything went through.");
        ExitCode::SUCCESS
    } else if ok {
        println!(
            "\nNothing failed; {} order(s) wait for a person: see NEEDS ATTENTION above for what \
             to do.",
            summary.attention.len()
        );
        ExitCode::from(2)
    } else {
        println!("\nSomething did not go through: see above.");
        ExitCode::FAILURE
    }
}
