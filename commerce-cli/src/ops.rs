//! The commands that read and settle the journal: `status`, `attention`, `show`,
//! `resolve`, `retry`, `reopen`. The rules of a change are the facade's
//! ([`commerce_facade::Operator`]): these parse, call it and print. What they say of
//! returns is in [`crate::returns`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use commerce_facade::{
    Decision, Journal, OfferRecord, Operator, OrderRecord, Outcome, PassState, Refusal, SqliteJournal, Stage,
    Step,
};
use serde_json::{Value, json};

use crate::returns::{self, is_return_key};
use crate::{Failure, ResolveArgs};

/// Where the journal is: an SQLite file, or (with feature `postgres`) a PostgreSQL database.
pub(crate) enum Store {
    /// A file.
    Sqlite(String),
    /// A database address (`postgres://...`).
    Postgres(String),
}

impl Store {
    /// `--journal` / `COMMERCE_JOURNAL`: an address starting `postgres://` or
    /// `postgresql://` names a database, anything else a file.
    pub(crate) fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Store::Postgres(text.to_owned())
        } else {
            Store::Sqlite(text.to_owned())
        }
    }
}

/// The PostgreSQL database at `url` (connected with `connections` connections, its schema
/// brought up to date).
#[cfg(feature = "postgres")]
pub(crate) fn postgres(
    url: &str,
    connections: usize,
    create: bool,
) -> Result<commerce_facade::Postgres, Failure> {
    Ok(if create {
        commerce_facade::Postgres::connect_with(url, connections)?
    } else {
        commerce_facade::Postgres::connect_existing(url, connections)?
    })
}

/// This build has no PostgreSQL support.
#[cfg(not(feature = "postgres"))]
pub(crate) fn postgres(
    _url: &str,
    _connections: usize,
    _create: bool,
) -> Result<std::convert::Infallible, Failure> {
    Err(Failure {
        message: "this `commerce` was built without PostgreSQL support: build it with \
                  `--features postgres` to use a postgres:// journal"
            .into(),
        code: crate::USAGE,
    })
}

/// Writes a line to standard output; false when it is closed (`commerce run | head`): a
/// closed pipe is never a panic.
pub(crate) fn say(line: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Writes a line to standard error; false when it is closed.
pub(crate) fn warn(line: &str) -> bool {
    use std::io::Write;
    writeln!(std::io::stderr().lock(), "{line}").is_ok()
}

/// How to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    pub(crate) fn print(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            say(&value.to_string());
        } else {
            say(&text());
        }
    }

    /// Reports a command's failure; its exit status.
    pub(crate) fn fail(&self, f: &Failure) -> std::process::ExitCode {
        if self.json {
            say(&json!({ "error": f.message }).to_string());
        } else {
            warn(&format!("error: {}", f.message));
        }
        std::process::ExitCode::from(f.code)
    }
}

/// The journal when neither `--journal` nor `COMMERCE_JOURNAL` names one: one per user,
/// `$XDG_STATE_HOME/commerce/journal.sqlite`, else `$HOME/.local/state/commerce/journal.sqlite`
/// (never the current folder: a run from another folder would start a second journal).
pub(crate) fn default_journal() -> Result<String, Failure> {
    let absolute = |name: &str| {
        commerce_core::env_optional(name)
            .map(std::path::PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let state = absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local").join("state")))
        .ok_or_else(|| Failure {
            message: "no journal given and no home folder to keep one in: give --journal PATH or set \
                      COMMERCE_JOURNAL"
                .into(),
            code: crate::USAGE,
        })?;
    let path = state.join("commerce").join("journal.sqlite");
    path.to_str().map(str::to_owned).ok_or_else(|| Failure {
        message: format!(
            "the default journal's path {} is not valid UTF-8: give --journal PATH",
            path.display()
        ),
        code: crate::USAGE,
    })
}

/// A journal that cannot be opened: a path that holds none (or not one) is a setting to
/// correct (64: a service manager does not start it again in a loop); anything else a
/// failure (1).
pub(crate) fn journal_failure(e: commerce_facade::JournalError) -> Failure {
    use commerce_facade::JournalError as J;
    let code = match e {
        J::Missing { .. } | J::NotAJournal { .. } => crate::USAGE,
        _ => 1,
    };
    Failure {
        message: e.to_string(),
        code,
    }
}

/// What a command does with the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads it: nothing is created or changed.
    Read,
    /// Changes orders in an existing journal.
    Write,
}

/// Opens an existing journal (no command but `init` and `run --init` creates one).
pub(crate) fn journal(store: &Store, access: Access) -> Result<Box<dyn Journal>, Failure> {
    match store {
        Store::Sqlite(path) => {
            let path = std::path::Path::new(path);
            Ok(match access {
                Access::Read => Box::new(SqliteJournal::open_read_only(path).map_err(journal_failure)?),
                Access::Write => {
                    Box::new(SqliteJournal::open_existing_journal(path).map_err(journal_failure)?)
                }
            })
        }
        #[cfg(feature = "postgres")]
        Store::Postgres(url) => Ok(Box::new(postgres(url, 1, false)?.journal())),
        #[cfg(not(feature = "postgres"))]
        Store::Postgres(url) => match postgres(url, 1, false)? {},
    }
}

/// Creates a journal file where there is none (its folder too, owner-only, when that is
/// missing), or brings a PostgreSQL database's schema up to date.
pub(crate) fn create_journal(store: &Store) -> Result<Box<dyn Journal>, Failure> {
    match store {
        Store::Sqlite(path) => {
            create_folder(path)?;
            Ok(Box::new(SqliteJournal::create(path)?))
        }
        #[cfg(feature = "postgres")]
        Store::Postgres(url) => Ok(Box::new(postgres(url, 1, true)?.journal())),
        #[cfg(not(feature = "postgres"))]
        Store::Postgres(url) => match postgres(url, 1, true)? {},
    }
}

/// Creates the folder of a journal file (owner-only) when it is missing.
pub(crate) fn create_folder(path: &str) -> Result<(), Failure> {
    let path = std::path::Path::new(path);
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(folder)
            .map_err(|e| format!("cannot create the folder {}: {e}", folder.display()))?;
    }
    Ok(())
}

/// `commerce init`.
pub(crate) fn init(store: &Store, out: Out) -> Result<u8, Failure> {
    let journal = create_journal(store)?;
    out.print(json!({"journal": journal.location(), "created": true}), || {
        format!("journal created at {}", journal.location())
    });
    Ok(0)
}

pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn step_text<T>(step: &Step<T>, done: impl Fn(&T) -> String) -> String {
    match step {
        Step::NotStarted => "not started".to_owned(),
        Step::Started => "started, outcome unknown".to_owned(),
        Step::Done(v) => done(v),
    }
}

/// The line of `status` for the last pass `kind` (`stock`, `returns`) of `channel`: who
/// holds it, or when it is next due; how the last one ended.
pub(crate) fn pass_line(kind: &str, channel: &str, p: &PassState, now: DateTime<Utc>) -> String {
    let held = match p.held_at(now) {
        Some((runner, until)) => format!(
            "under way by {runner}{} (lease until {})",
            p.last_started
                .map(|at| format!(" since {}", time(at)))
                .unwrap_or_default(),
            time(*until)
        ),
        None => format!("next due {}", p.next_due.map_or_else(|| "now".to_owned(), time)),
    };
    let last = match (p.last_finished, &p.last_summary) {
        (Some(at), Some(summary)) => format!(
            "{}finished {}: {summary}",
            p.last_started
                .filter(|started| *started <= at)
                .map(|started| format!("started {}, ", time(started)))
                .unwrap_or_default(),
            time(at)
        ),
        _ => "none finished".to_owned(),
    };
    format!("{kind} {channel}: {held}; last: {last}\n")
}

/// `commerce status`.
pub(crate) async fn status(journal: &dyn Journal, out: Out) -> Result<u8, Failure> {
    let (records, unreadable) = journal.census().await?;
    let now = Utc::now();
    let leases = journal.leases(now).await?;
    let mut stages: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *stages.entry(r.stage()).or_default() += 1;
    }
    let mut waiting: Vec<(&OrderRecord, DateTime<Utc>)> = records
        .iter()
        .filter(|r| r.is_open())
        .filter_map(|r| r.due.filter(|d| *d > now).map(|d| (r, d)))
        .collect();
    waiting.sort_by_key(|(_, d)| *d);
    let failing: Vec<&OrderRecord> = records.iter().filter(|r| r.is_open() && r.failures > 0).collect();
    let mut runners: BTreeMap<&str, (usize, DateTime<Utc>)> = BTreeMap::new();
    for l in &leases {
        let e = runners.entry(l.runner.as_str()).or_insert((0, l.until));
        e.0 += 1;
        e.1 = e.1.max(l.until);
    }
    // The stock passes of the channels whose offers the journal keeps.
    let offers = journal.offers().await?;
    let channels: std::collections::BTreeSet<&str> = offers
        .iter()
        .map(|o| o.channel.as_str())
        .chain(records.iter().map(|r| r.order.channel.as_str()))
        .collect();
    let mut passes = Vec::new();
    for channel in &channels {
        if let Some(p) = journal.pass(&commerce_facade::stock_pass_name(channel)).await? {
            passes.push((*channel, p));
        }
    }
    let mut reconciled = Vec::new();
    for channel in &channels {
        if let Some(p) = journal.pass(&commerce_facade::reconcile_pass(channel)).await? {
            reconciled.push((*channel, p));
        }
    }
    // Pushed events (`commerce serve`); a journal that keeps none says so.
    let events = journal.event_stats().await.ok();
    let channels: std::collections::BTreeSet<String> = channels.into_iter().map(str::to_owned).collect();
    let (returns_value, returns_text) = returns::status(journal, &channels, now).await?;
    let value = json!({
        "journal": journal.location(),
        "stock": passes.iter().map(|(c, p)| json!({"channel": c, "pass": p, "offers": offers.iter().filter(|o| o.channel == *c && !o.gone).count(), "attention": offers.iter().filter(|o| o.channel == *c && o.attention.is_some()).count()})).collect::<Vec<_>>(),
        "unreadable": unreadable.iter().map(|(k, e)| json!({"key": k, "error": e})).collect::<Vec<_>>(),
        "orders": records.len(),
        "stages": stages,
        "waiting": waiting.iter().map(|(r, d)| json!({"key": r.key, "stage": r.stage(), "due": d})).collect::<Vec<_>>(),
        "failing": failing.iter().map(|r| json!({"key": r.key, "stage": r.stage(), "failures": r.failures, "last_error": r.last_error, "due": r.due})).collect::<Vec<_>>(),
        "runners": runners.iter().map(|(name, (n, until))| json!({"runner": name, "orders": n, "until": until})).collect::<Vec<_>>(),
        "returns": returns_value,
        "reconciliation": reconciled.iter().map(|(c, p)| json!({"channel": c, "pass": p})).collect::<Vec<_>>(),
        "events": events,
    });
    out.print(value, || {
        let mut t = format!("journal {}: {} orders\n", journal.location(), records.len());
        // The steps in their order, then how orders ended or stopped (`Stage::ALL`).
        for stage in Stage::ALL.map(Stage::name) {
            if let Some(n) = stages.get(stage) {
                t += &format!("  {stage:<10} {n}\n");
            }
        }
        if let Some((r, due)) = waiting.first() {
            t += &format!(
                "waiting: {} order(s), the next due {} ({}, {})\n",
                waiting.len(),
                time(*due),
                r.key,
                r.stage()
            );
        } else {
            t += "waiting: none\n";
        }
        for (key, error) in &unreadable {
            t += &format!("unreadable: {key} (set aside, not worked on): {error}\n");
        }
        for r in &failing {
            t += &format!(
                "failing: {} at {} ({} time(s)): {}\n",
                r.key,
                r.stage(),
                r.failures,
                r.last_error.as_deref().unwrap_or("?")
            );
        }
        for (channel, p) in &passes {
            t += &pass_line("stock", channel, p, now);
        }
        t += &returns_text;
        for (channel, p) in &reconciled {
            t += &pass_line("reconciliation", channel, p, now);
        }
        match &events {
            Some(e) if e.received > 0 => {
                t += &format!(
                    "pushed events: {} kept, {} not acted on yet, the last received {}\n",
                    e.received,
                    e.unhandled,
                    e.last_received.map_or_else(|| "?".to_owned(), time)
                );
            }
            Some(_) => {
                t += "pushed events: none received (bol pushes them to `commerce serve` once `commerce subscribe` pointed it there)\n"
            }
            None => {}
        }
        if runners.is_empty() {
            t += "runners holding leases: none";
        } else {
            t += "runners holding leases:";
            for (name, (n, until)) in &runners {
                t += &format!("\n  {name}  {n} order(s), until {}", time(*until));
            }
        }
        t
    });
    Ok(0)
}

/// What a person should do about an order that waits for one.
fn advice(r: &OrderRecord) -> String {
    let key = &r.key;
    match r.stage() {
        _ if r.fulfilment.is_none() => format!(
            "route it by hand: `commerce resolve {key} --submitted REF --provider NAME` once a provider has it, \
             or `commerce resolve {key} --cancel`"
        ),
        _ if r.submission == Step::Started => format!(
            "look for order {} at {}: if it is there, `commerce resolve {key} --submitted REF`; if not, \
             `commerce retry {key}`",
            r.order.id,
            r.fulfilment.as_deref().unwrap_or("the provider")
        ),
        _ => {
            let started: Vec<&String> = r
                .invitations
                .iter()
                .filter(|(_, s)| **s == Step::Started)
                .map(|(k, _)| k)
                .collect();
            match started.first() {
                Some(step) => format!(
                    "look on {step} for an invitation of order {}: if it was sent, `commerce resolve {key} \
                     --skip-step {step}`; if not, `commerce retry {key}`",
                    r.order.id
                ),
                None => format!(
                    "fix the cause, then `commerce retry {key}` (or `commerce resolve {key} --cancel`)"
                ),
            }
        }
    }
}

/// What to do about a record that does not read.
fn unreadable_advice(key: &str, location: &str) -> String {
    format!(
        "its record in the journal does not read, so no runner works on it or purges its personal data. Check the \
         order at its providers; then restore the record (from a backup, or mend the JSON in the `record` column \
         of the `orders` table of {location}) and `commerce retry {key}`"
    )
}

/// `commerce attention`: every return waiting for a person (nearest deadline first), every
/// order waiting for one and every record that does not read, then every offer.
pub(crate) async fn attention(journal: &dyn Journal, out: Out) -> Result<u8, Failure> {
    let options = returns::options()?;
    let (returns_values, returns_texts, urgent) =
        returns::attention(journal.returns().await?, Utc::now(), &options);
    let (records, unreadable) = journal.census().await?;
    let records: Vec<OrderRecord> = records.into_iter().filter(OrderRecord::needs_person).collect();
    let offers: Vec<OfferRecord> = journal
        .offers()
        .await?
        .into_iter()
        .filter(|o| o.attention.is_some())
        .collect();
    let location = journal.location();
    let offer_advice = "check the EAN at the warehouses (and the warehouses' answers); the next stock pass (`commerce stock`) looks again";
    let value = Value::Array(
        returns_values
            .into_iter()
            .chain(unreadable.iter().map(|(k, e)| {
                json!({"kind": "order", "key": k, "stage": "unreadable", "reason": e, "advice": unreadable_advice(k, &location)})
            }))
            .chain(records.iter().map(|r| {
                json!({"kind": "order", "key": r.key, "stage": r.stage(), "reason": r.attention, "advice": advice(r)})
            }))
            .chain(offers.iter().map(|o| {
                json!({"kind": "offer", "key": o.key(), "stage": "stock", "ean": o.ean, "reason": o.attention, "advice": offer_advice})
            }))
            .collect(),
    );
    out.print(value, || {
        if records.is_empty() && unreadable.is_empty() && offers.is_empty() && returns_texts.is_empty() {
            return "no order needs a person".to_owned();
        }
        let mut t = String::new();
        if !returns_texts.is_empty() {
            t += &format!(
                "{} return(s) need a person{}\n",
                returns_texts.len(),
                if urgent > 0 {
                    format!(" ({urgent} urgent: near or past bol's handling deadline)")
                } else {
                    String::new()
                }
            );
            for text in &returns_texts {
                t += &format!("\n{text}\n");
            }
            if !records.is_empty() || !unreadable.is_empty() || !offers.is_empty() {
                t += "\n";
            }
        }
        let orders = records.len() + unreadable.len();
        if orders > 0 || (offers.is_empty() && returns_texts.is_empty()) {
            t += &format!("{orders} order(s) need a person\n");
        }
        if !offers.is_empty() {
            t += &format!("{} offer(s) need a person (stock)\n", offers.len());
            // Offers that need a person for one reason (a warehouse that did not answer
            // holds back every EAN it may hold) are one entry.
            let mut by_reason: BTreeMap<&str, Vec<&OfferRecord>> = BTreeMap::new();
            for o in &offers {
                by_reason
                    .entry(o.attention.as_deref().unwrap_or_default())
                    .or_default()
                    .push(o);
            }
            for (why, group) in by_reason {
                let named =
                    |o: &&OfferRecord| format!("{} (EAN {})", o.key(), o.ean.as_deref().unwrap_or("-"));
                let who = if group.len() <= 3 {
                    group.iter().map(named).collect::<Vec<_>>().join(", ")
                } else {
                    format!(
                        "{} offers: {}, … (`--json` lists them all)",
                        group.len(),
                        group.iter().take(3).map(named).collect::<Vec<_>>().join(", ")
                    )
                };
                t += &format!("\n{who}\n  why:  {why}\n  then: {offer_advice}\n");
            }
        }
        for (key, error) in &unreadable {
            t += &format!(
                "\n{key}\n  why:  unreadable record: {error}\n  then: {}\n",
                unreadable_advice(key, &location)
            );
        }
        for r in &records {
            t += &format!(
                "\n{}\n  why:  {}\n  then: {}\n",
                r.key,
                r.attention.as_deref().unwrap_or_default(),
                advice(r)
            );
        }
        t.trim_end().to_owned()
    });
    Ok(0)
}

async fn load(journal: &dyn Journal, key: &str) -> Result<OrderRecord, Failure> {
    journal.load(key).await?.ok_or_else(|| {
        refused(Refusal::UnknownOrder {
            key: key.to_owned(),
            looked_up: true,
        })
    })
}

/// `commerce show KEY`.
/// Whether `key` names a product (an EAN: 8 to 14 digits) rather than an order.
fn is_ean(key: &str) -> bool {
    (8..=14).contains(&key.len()) && key.chars().all(|c| c.is_ascii_digit())
}

/// The offers of an EAN (or the offer of an id): what the stock loop last read, worked out
/// and sent, and each one's history.
async fn show_offers(journal: &dyn Journal, key: &str, out: Out) -> Result<Option<u8>, Failure> {
    let wanted = key.trim();
    let offers: Vec<OfferRecord> = journal
        .offers()
        .await?
        .into_iter()
        .filter(|o| o.ean.as_deref() == Some(wanted) || o.offer_id == wanted)
        .collect();
    if offers.is_empty() {
        return Ok(None);
    }
    let mut shown = Vec::new();
    for o in &offers {
        shown.push((o, journal.history(&o.key()).await?));
    }
    let value = Value::Array(
        shown
            .iter()
            .map(|(o, h)| json!({"offer": o, "history": h}))
            .collect(),
    );
    out.print(value, || {
        let mut t = String::new();
        for (o, history) in &shown {
            let num = |n: Option<i64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
            t += &format!(
                "offer {} on {} (EAN {})
",
                o.offer_id,
                o.channel,
                o.ean.as_deref().unwrap_or("-")
            );
            let keeper = match (o.fulfilled_by_channel, o.managed_by_shop) {
                (true, _) => "shipped by the channel: not synced",
                (false, Some(true)) => "the shop (only orders after an update are taken off)",
                (false, Some(false)) => "the channel (every open order is taken off)",
                (false, None) => "unknown",
            };
            t += &format!(
                "  count kept by  {keeper}
"
            );
            t += &format!(
                "  channel       amount {}, sells {}{}
",
                num(o.seen_amount),
                num(o.seen_corrected),
                o.seen_at
                    .map(|at| format!(" (as of {})", time(at)))
                    .unwrap_or_default()
            );
            if let Some(s) = &o.sent {
                t += &format!(
                    "  last update   {} at {}{}
",
                    s.amount,
                    time(s.at),
                    s.reference
                        .as_ref()
                        .map(|r| format!(" (process {r})"))
                        .unwrap_or_default()
                );
            } else {
                t += "  last update   none sent by this journal
";
            }
            if let Some(at) = o.checked_at {
                t += &format!(
                    "  last sync     {}: {}
",
                    time(at),
                    o.reason.as_deref().unwrap_or("-")
                );
            }
            if let Some(a) = &o.attention {
                t += &format!(
                    "  attention     {a}
"
                );
            }
            t += "history
";
            for h in history.iter().rev().take(20).rev() {
                t += &format!(
                    "  {}  {:<20} {}
",
                    time(h.at),
                    h.by,
                    h.note
                );
            }
        }
        t.trim_end().to_owned()
    });
    Ok(Some(0))
}

pub(crate) async fn show(journal: &dyn Journal, key: &str, out: Out) -> Result<u8, Failure> {
    if is_return_key(key) {
        return returns::show(journal, key, out).await;
    }
    // `offer:<channel>:<offer id>`, as `attention` names offers.
    if let Some(id) = key
        .strip_prefix("offer:")
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, id)| id)
    {
        return match show_offers(journal, id, out).await? {
            Some(code) => Ok(code),
            None => Err(Failure {
                message: format!("no offer {key} in the journal {}", journal.location()),
                code: 1,
            }),
        };
    }
    if !key.contains(':') || is_ean(key) {
        if let Some(code) = show_offers(journal, key, out).await? {
            return Ok(code);
        }
        if is_ean(key) {
            return Err(Failure {
                message: format!(
                    "no offer with EAN {key} in the journal {} (a stock pass records every offer: `commerce stock`)",
                    journal.location()
                ),
                code: 1,
            });
        }
    }
    let r = load(journal, key).await?;
    let history = journal.history(key).await?;
    let order_returns = returns::of_order(journal, &r.order.channel, &r.order.id).await?;
    let value = json!({
        "record": r,
        "stage": r.stage(),
        "returns": order_returns.iter().map(|x| json!({"key": x.key, "stage": x.stage().name(), "ean": x.ean, "expected": x.expected})).collect::<Vec<_>>(),
        "history": history,
    });
    out.print(value, || {
        let mut t = format!("{}  ({})\n", r.key, r.stage());
        for part in &r.split {
            t += &format!(
                "  part          {} ({}: {})\n",
                part.key,
                part.provider,
                part.lines.join(", ")
            );
        }
        if let Some(of) = &r.part_of {
            t += &format!("  part of       {of}\n");
        }
        t += &format!(
            "  fulfilment    {}\n",
            r.fulfilment.as_deref().unwrap_or("not routed")
        );
        t += &format!(
            "  submission    {}\n",
            step_text(&r.submission, |s| format!("{} {}", s.provider, s.reference))
        );
        t += &format!("  shipment      {}\n", step_text(&r.shipped, |s| s.code.clone()));
        t += &format!(
            "  confirmation  {}\n",
            step_text(&r.confirmation, |c| c.clone().unwrap_or_else(|| "done".into()))
        );
        for (step, state) in &r.invitations {
            t += &format!("  invite {step:<22} {}\n", step_text(state, |_| "sent".into()));
        }
        if let Some(due) = r.due {
            t += &format!("  next due      {}\n", time(due));
        }
        if let Some(e) = &r.last_error {
            t += &format!("  last error    {e} ({} failure(s) in a row)\n", r.failures);
        }
        if let Some(a) = &r.attention {
            t += &format!("  attention     {a}\n");
        }
        if let Some(c) = &r.cancelled {
            t += &format!("  cancelled     {c}\n");
        }
        for x in &order_returns {
            t += &returns::order_line(x);
        }
        t += "history\n";
        for h in &history {
            t += &format!("  {}  {:<20} {}\n", time(h.at), h.by, h.note);
        }
        t.trim_end().to_owned()
    });
    Ok(0)
}

/// A refusal of the facade's operator rules: a usage error (64) where the command named
/// something that is not there, else a failure (1).
fn refused(refusal: Refusal) -> Failure {
    Failure {
        code: if refusal.is_usage() { crate::USAGE } else { 1 },
        message: refusal.to_string(),
    }
}

/// Runs one operator operation to its end.
async fn operate(operation: impl Future<Output = Result<Outcome, Refusal>>) -> Result<OrderRecord, Failure> {
    operation.await.map(|outcome| outcome.record).map_err(refused)
}

/// `commerce resolve KEY --submitted REF | --skip-step STEP | --cancel`.
pub(crate) async fn resolve(journal: &dyn Journal, args: ResolveArgs, out: Out) -> Result<u8, Failure> {
    if let Some(misfit) = returns::misfit(&args) {
        return Err(misfit);
    }
    if is_return_key(&args.key) {
        return returns::resolve(journal, args, out).await;
    }
    let decision = match (args.submitted, args.skip_step) {
        (Some(reference), _) => Decision::Submitted {
            reference,
            provider: args.provider,
            force: args.force,
        },
        (None, Some(step)) => Decision::SkipStep(step),
        (None, None) => Decision::Cancel,
    };
    let record = operate(Operator::new(journal).resolve(&args.key, decision, args.reason.as_deref())).await?;
    out.print(json!({"key": record.key, "stage": record.stage()}), || {
        format!("{}: {}", record.key, record.stage())
    });
    Ok(0)
}

/// `commerce reopen KEY`: undoes the last `resolve` of an order, while the flow has not
/// acted on it since and its personal data is still there.
pub(crate) async fn reopen(journal: &dyn Journal, key: &str, out: Out) -> Result<u8, Failure> {
    if is_return_key(key) {
        return Err(Failure {
            message: format!(
                "{key} is a return: `reopen` undoes an order's resolve; a return's decision is changed by another \
                 `commerce resolve {key} ...` until the next pass sends it"
            ),
            code: crate::USAGE,
        });
    }
    let record = operate(Operator::new(journal).reopen(key)).await?;
    out.print(json!({"key": record.key, "stage": record.stage()}), || {
        format!("{}: {}", record.key, record.stage())
    });
    Ok(0)
}

/// `commerce retry KEY`.
pub(crate) async fn retry(journal: &dyn Journal, key: &str, out: Out) -> Result<u8, Failure> {
    if is_return_key(key) {
        return returns::retry(journal, key, out).await;
    }
    let record = operate(Operator::new(journal).retry(key)).await?;
    out.print(json!({"key": record.key, "stage": record.stage()}), || {
        format!("{}: {}, due now", record.key, record.stage())
    });
    Ok(0)
}
