//! The returns in the operator's commands: the returns block of `status`, the returns of
//! `attention` (first, nearest deadline first), `show return:bol:RMA`, and `resolve` /
//! `retry` of a return key. The rules of a change are the facade's
//! ([`Operator::resolve_return`], [`Operator::retry_return`]): these parse, call it and
//! print.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use commerce_core::Arrival;
use commerce_facade::{
    Journal, Operator, PassState, ReturnDecision, ReturnRecord, ReturnRefusal, ReturnStage, ReturnsOptions,
    Step, returns_pass,
};
use serde_json::{Value, json};

use crate::ops::{Out, pass_line, time};
use crate::{Failure, ResolveArgs, USAGE};

/// The prefix of a return item's key (`return:bol:86123452`).
const PREFIX: &str = "return:";

/// Whether `key` names a return item rather than an order.
pub(crate) fn is_return_key(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// The returns options the environment gives (the margin before a deadline; whether a
/// deadline is configured): a variable that does not read is a usage error, as for `run`.
pub(crate) fn options() -> Result<ReturnsOptions, Failure> {
    ReturnsOptions::from_vars(&|name| commerce_core::env_optional(name)).map_err(|e| Failure {
        message: e.to_string(),
        code: USAGE,
    })
}

/// Where a return stands against its handling deadline at `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    at: DateTime<Utc>,
    /// Whole days left (negative: days past).
    days_left: i64,
    /// Within the margin, or past.
    urgent: bool,
}

impl Due {
    fn of(r: &ReturnRecord, now: DateTime<Utc>, margin: std::time::Duration) -> Option<Due> {
        let at = r.deadline?;
        let left = at - now;
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        Some(Due {
            at,
            days_left: left.num_seconds().div_euclid(86_400),
            urgent: left <= margin,
        })
    }

    fn json(self) -> Value {
        json!({"at": self.at, "days_left": self.days_left, "urgent": self.urgent})
    }

    fn text(self, now: DateTime<Utc>) -> String {
        let when = if self.at <= now {
            let past = (now - self.at).num_days();
            match past {
                0 => "passed today".to_owned(),
                1 => "1 day past".to_owned(),
                n => format!("{n} days past"),
            }
        } else {
            match self.days_left {
                0 => "less than a day left".to_owned(),
                1 => "1 day left".to_owned(),
                n => format!("{n} days left"),
            }
        };
        format!(
            "{} ({when}{})",
            time(self.at),
            if self.urgent { ", URGENT" } else { "" }
        )
    }
}

/// A return's steps, in a few words.
fn arrival_text(a: &Arrival) -> String {
    match a {
        Arrival::Unknown => "the warehouse does not say".to_owned(),
        Arrival::NotYet => "not yet".to_owned(),
        Arrival::Received {
            quantity,
            condition,
            at,
        } => format!(
            "{quantity} received{}{}",
            condition.as_deref().map(|c| format!(", {c}")).unwrap_or_default(),
            at.map(|at| format!(" at {}", time(at))).unwrap_or_default()
        ),
    }
}

/// What a person should do about a return that waits for one: the exact commands.
pub(crate) fn advice(r: &ReturnRecord) -> String {
    let key = &r.key;
    let warehouse = r.matched.as_ref().filter(|m| !m.provider.is_empty()).map_or_else(
        || "the warehouse that shipped it".to_owned(),
        |m| {
            if m.reference.is_empty() {
                m.provider.clone()
            } else {
                format!("{} (its order {})", m.provider, m.reference)
            }
        },
    );
    if r.handling == Step::Started {
        return format!(
            "its handling was sent to {} and its answer is not known: check the return on {}'s site; `commerce \
             retry {key}` lets the next pass read it again",
            r.channel, r.channel
        );
    }
    if r.decision.is_none() && !r.announcement.is_done() {
        return if r.announcement == Step::Started {
            format!(
                "look for the announcement at {warehouse}: if it is there, `commerce resolve {key} --announced \
                 [REF]`; if not, `commerce retry {key}`"
            )
        } else {
            format!(
                "tell {warehouse} that {}× EAN {} come back, then `commerce resolve {key} --announced [REF]`; or \
                 `commerce resolve {key} --leave`",
                r.expected, r.ean
            )
        };
    }
    if r.decision.is_none() && !r.received() {
        return format!(
            "when the goods are in: `commerce resolve {key} --received N [--damaged TEXT]`; if they never come: \
             `commerce resolve {key} --handle CUSTOMER_KEEPS_PRODUCT_PAID --quantity N`, or `--leave`"
        );
    }
    format!(
        "decide how {} handles it: `commerce resolve {key} --handle RESULT --quantity N` (RETURN_RECEIVED, \
         RETURN_DOES_NOT_MEET_CONDITIONS, CUSTOMER_KEEPS_PRODUCT_PAID, EXCHANGE_PRODUCT, REPAIR_PRODUCT, \
         STILL_APPROVED), or `commerce resolve {key} --leave`",
        r.channel
    )
}

/// The returns that wait for a person, nearest deadline first (those without one last),
/// then by registration: each one's `attention` entry, JSON and text, and how many are
/// urgent.
pub(crate) fn attention(
    records: Vec<ReturnRecord>,
    now: DateTime<Utc>,
    options: &ReturnsOptions,
) -> (Vec<Value>, Vec<String>, usize) {
    let mut records: Vec<ReturnRecord> = records.into_iter().filter(ReturnRecord::needs_person).collect();
    records.sort_by(|a, b| {
        (
            a.deadline.is_none(),
            a.deadline,
            a.registered_at.is_none(),
            a.registered_at,
            &a.key,
        )
            .cmp(&(
                b.deadline.is_none(),
                b.deadline,
                b.registered_at.is_none(),
                b.registered_at,
                &b.key,
            ))
    });
    let mut urgent = 0;
    let (mut values, mut texts) = (Vec::new(), Vec::new());
    for r in &records {
        let due = Due::of(r, now, options.margin);
        urgent += usize::from(due.is_some_and(|d| d.urgent));
        let advice = advice(r);
        values.push(json!({
            "kind": "return",
            "key": r.key,
            "stage": r.stage().name(),
            "reason": r.attention,
            "advice": advice,
            "order": format!("{}:{}", r.channel, r.order_id),
            "deadline": r.deadline,
            "days_left": due.map(|d| d.days_left),
            "urgent": due.is_some_and(|d| d.urgent),
            "registered_at": r.registered_at,
        }));
        let deadline = match due {
            Some(d) => d.text(now),
            None if options.days.is_none() => "not configured (COMMERCE_RETURN_DAYS)".to_owned(),
            None => "none recorded".to_owned(),
        };
        texts.push(format!(
            "{}{}\n  order: {}:{}, {}× EAN {}\n  deadline: {deadline}\n  why:  {}\n  then: {advice}",
            r.key,
            if due.is_some_and(|d| d.urgent) {
                "  URGENT"
            } else {
                ""
            },
            r.channel,
            r.order_id,
            r.expected,
            r.ean,
            r.attention.as_deref().unwrap_or_default(),
        ));
    }
    (values, texts, urgent)
}

/// The returns block of `status`: the records per stage, the nearest deadline of an open
/// one, and the last returns pass of each channel (`channels`, plus those of the records).
pub(crate) async fn status(
    journal: &dyn Journal,
    channels: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Result<(Value, String), Failure> {
    let options = options()?;
    let records = journal.returns().await?;
    let mut stages: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *stages.entry(r.stage().name()).or_default() += 1;
    }
    let nearest = records
        .iter()
        .filter(|r| r.is_open())
        .filter_map(|r| Due::of(r, now, options.margin).map(|d| (r, d)))
        .min_by_key(|(r, d)| (d.at, r.key.clone()));
    let mut passes: Vec<(String, PassState)> = Vec::new();
    let channels: BTreeSet<&str> = channels
        .iter()
        .map(String::as_str)
        .chain(records.iter().map(|r| r.channel.as_str()))
        .collect();
    for channel in channels {
        if let Some(p) = journal.pass(&returns_pass(channel)).await? {
            passes.push((channel.to_owned(), p));
        }
    }
    let open = records.iter().filter(|r| r.is_open()).count();
    let value = json!({
        "records": records.len(),
        "open": open,
        "attention": records.iter().filter(|r| r.needs_person()).count(),
        "stages": stages,
        "deadline_configured": options.days.is_some(),
        "nearest_deadline": nearest.map(|(r, d)| {
            let mut v = d.json();
            v["key"] = json!(r.key);
            v
        }),
        "passes": passes.iter().map(|(c, p)| json!({"channel": c, "pass": p})).collect::<Vec<_>>(),
    });
    let mut t = format!("returns: {} ({open} open)\n", records.len());
    let all = [
        ReturnStage::Match,
        ReturnStage::Announce,
        ReturnStage::Receipt,
        ReturnStage::Handle,
        ReturnStage::Attention,
        ReturnStage::Completed,
        ReturnStage::Left,
    ];
    for stage in all.map(ReturnStage::name) {
        if let Some(n) = stages.get(stage) {
            t += &format!("  {stage:<10} {n}\n");
        }
    }
    t += &match nearest {
        Some((r, d)) => format!("deadline: nearest {} {}\n", r.key, d.text(now)),
        None if options.days.is_none() => "deadline: not configured (COMMERCE_RETURN_DAYS)\n".to_owned(),
        None => "deadline: no open return\n".to_owned(),
    };
    for (channel, p) in &passes {
        t += &pass_line("returns", channel, p, now);
    }
    Ok((value, t))
}

/// The return records of an order (`show bol:ORDER`): those of its channel and order id.
pub(crate) async fn of_order(
    journal: &dyn Journal,
    channel: &str,
    order_id: &str,
) -> Result<Vec<ReturnRecord>, Failure> {
    Ok(journal
        .returns()
        .await?
        .into_iter()
        .filter(|r| r.channel == channel && r.order_id == order_id)
        .collect())
}

/// One line of an order's returns in `show`.
pub(crate) fn order_line(r: &ReturnRecord) -> String {
    format!(
        "  return        {} ({}): {}× EAN {}{}\n",
        r.key,
        r.stage().name(),
        r.expected,
        r.ean,
        r.reason.as_deref().map(|x| format!(", {x}")).unwrap_or_default()
    )
}

/// `commerce show return:bol:RMA`: the record and its history.
pub(crate) async fn show(journal: &dyn Journal, key: &str, out: Out) -> Result<u8, Failure> {
    let Some(r) = journal.load_return(key).await? else {
        return Err(Failure {
            message: format!(
                "no return {key} in the journal {} (keys look like return:bol:86123452; `commerce status` counts them)",
                journal.location()
            ),
            code: 1,
        });
    };
    let history = journal.history(key).await?;
    let options = options()?;
    let now = Utc::now();
    let due = Due::of(&r, now, options.margin);
    let value = json!({
        "record": r,
        "stage": r.stage().name(),
        "deadline": due.map(Due::json),
        "advice": r.needs_person().then(|| advice(&r)),
        "history": history,
    });
    out.print(value, || {
        let mut t = format!("{}  ({})\n", r.key, r.stage().name());
        t += &format!(
            "  return        {} on {} (RMA {})\n",
            r.return_id, r.channel, r.rma_id
        );
        t += &format!("  order         {}:{}\n", r.channel, r.order_id);
        t += &format!(
            "  item          {}× EAN {}{}\n",
            r.expected,
            r.ean,
            r.title.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
        );
        if let Some(why) = &r.reason {
            t += &format!("  reason        {why}\n");
        }
        if let Some(at) = r.registered_at {
            t += &format!("  registered    {}\n", time(at));
        }
        t += &format!(
            "  deadline      {}\n",
            match due {
                Some(d) => d.text(now),
                None if options.days.is_none() => "not configured (COMMERCE_RETURN_DAYS)".to_owned(),
                None => "none recorded".to_owned(),
            }
        );
        if let Some(code) = &r.track_and_trace {
            t += &format!(
                "  parcel        {code}{}\n",
                r.transporter
                    .as_deref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            );
        }
        match &r.matched {
            Some(m) => {
                t += &format!("  part          {}\n", m.part_key);
                t += &format!(
                    "  warehouse     {}{}\n",
                    m.provider,
                    if m.reference.is_empty() {
                        String::new()
                    } else {
                        format!(" (its order {})", m.reference)
                    }
                );
            }
            None => t += "  part          not matched yet\n",
        }
        t += &format!(
            "  announcement  {}\n",
            crate::ops::step_text(&r.announcement, |a| format!(
                "{}× to {} at {}{}",
                a.quantity,
                a.provider,
                time(a.at),
                a.reference
                    .as_deref()
                    .map(|x| format!(" (retour {x})"))
                    .unwrap_or_default()
            ))
        );
        t += &format!(
            "  arrived       {}{}\n",
            r.arrival
                .as_ref()
                .map_or_else(|| "not checked yet".to_owned(), arrival_text),
            r.received_by
                .as_deref()
                .map(|by| format!(" (said by {by})"))
                .unwrap_or_default()
        );
        if r.checks > 0 {
            t += &format!(
                "  checks        {}{}\n",
                r.checks,
                r.last_check
                    .map(|at| format!(", last {}", time(at)))
                    .unwrap_or_default()
            );
        }
        if let Some(d) = &r.decision {
            t += &format!("  decision      {} ×{} (by {})\n", d.result, d.quantity, d.by);
        }
        t += &format!(
            "  handling      {}{}\n",
            crate::ops::step_text(&r.handling, |reference| reference
                .as_deref()
                .map_or_else(|| "done".to_owned(), |p| format!("done (process {p})"))),
            r.handled_as
                .as_ref()
                .map(|(result, n)| format!(": {result} ×{n}"))
                .unwrap_or_default()
        );
        if let Some(at) = r.completed_at {
            t += &format!("  completed     {}\n", time(at));
        }
        if let Some(due) = r.due {
            t += &format!("  next due      {}\n", time(due));
        }
        if let Some(e) = &r.last_error {
            t += &format!("  last error    {e} ({} failure(s) in a row)\n", r.failures);
        }
        if let Some(left) = &r.left {
            t += &format!("  left          {left}\n");
        }
        if let Some(a) = &r.attention {
            t += &format!("  attention     {a}\n");
            t += &format!("  then          {}\n", advice(&r));
        }
        t += "history\n";
        for h in &history {
            t += &format!("  {}  {:<20} {}\n", time(h.at), h.by, h.note);
        }
        t.trim_end().to_owned()
    });
    Ok(0)
}

/// A refusal of the facade's rules for returns: a usage error (64) where the command gave
/// a value that cannot be (a quantity, a result), else a failure (1).
fn refused(refusal: ReturnRefusal) -> Failure {
    let usage = matches!(
        refusal,
        ReturnRefusal::Quantity { .. }
            | ReturnRefusal::MoreThanReceived { .. }
            | ReturnRefusal::NotAResult { .. }
    );
    Failure {
        code: if usage { USAGE } else { 1 },
        message: refusal.to_string(),
    }
}

/// The flags of `resolve` that fit an order, given on a return key (or the other way
/// round): a usage error naming the flags that fit.
pub(crate) fn misfit(args: &ResolveArgs) -> Option<Failure> {
    let order_flags: Vec<&str> = [
        ("--submitted", args.submitted.is_some()),
        ("--provider", args.provider.is_some()),
        ("--skip-step", args.skip_step.is_some()),
        ("--cancel", args.cancel),
        ("--force", args.force),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect();
    let return_flags: Vec<&str> = [
        ("--announced", args.announced.is_some()),
        ("--received", args.received.is_some()),
        ("--damaged", args.damaged.is_some()),
        ("--handle", args.handle.is_some()),
        ("--quantity", args.quantity.is_some()),
        ("--leave", args.leave),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect();
    let usage = |message: String| Some(Failure { message, code: USAGE });
    if is_return_key(&args.key) && !order_flags.is_empty() {
        return usage(format!(
            "{} is a return: {} fit(s) an order; a return takes --announced [REF], --received N [--damaged TEXT], \
             --handle RESULT --quantity N or --leave (and --reason TEXT)",
            args.key,
            order_flags.join(", ")
        ));
    }
    if !is_return_key(&args.key) && !return_flags.is_empty() {
        return usage(format!(
            "{} is an order: {} fit(s) a return (return:bol:RMA); an order takes --submitted REF [--provider NAME] \
             [--force], --skip-step STEP or --cancel (and --reason TEXT)",
            args.key,
            return_flags.join(", ")
        ));
    }
    None
}

/// `commerce resolve return:bol:RMA --announced [REF] | --received N [--damaged TEXT] |
/// --handle RESULT --quantity N | --leave` (the flags checked by [`misfit`] first).
pub(crate) async fn resolve(journal: &dyn Journal, args: ResolveArgs, out: Out) -> Result<u8, Failure> {
    let decision = if let Some(reference) = args.announced {
        ReturnDecision::Announced {
            reference: Some(reference).filter(|r| !r.trim().is_empty()),
        }
    } else if let Some(quantity) = args.received {
        ReturnDecision::Received {
            quantity,
            condition: args.damaged,
        }
    } else if let Some(result) = args.handle {
        ReturnDecision::Handle {
            result,
            quantity: args.quantity.unwrap_or_default(),
        }
    } else {
        ReturnDecision::Leave
    };
    let record = Operator::new(journal)
        .resolve_return(&args.key, decision, args.reason.as_deref())
        .await
        .map_err(refused)?;
    printed(&record, out, "");
    Ok(0)
}

/// `commerce retry return:bol:RMA`.
pub(crate) async fn retry(journal: &dyn Journal, key: &str, out: Out) -> Result<u8, Failure> {
    let record = Operator::new(journal).retry_return(key).await.map_err(refused)?;
    printed(&record, out, ", due at the next returns pass");
    Ok(0)
}

fn printed(r: &ReturnRecord, out: Out, then: &str) {
    out.print(json!({"key": r.key, "stage": r.stage().name()}), || {
        format!("{}: {}{then}", r.key, r.stage().name())
    });
}
