//! Returns in the operator's commands: `attention` lists the returns that wait for a person
//! first (nearest deadline first, `urgent` within the margin), `show` a return with its
//! history, `status` a returns block, `resolve` / `retry` of a return key mapped to the
//! facade's rules, and every flag that does not fit a key refused as a usage error (64)
//! before the journal is changed. The journal is an SQLite file seeded through the facade
//! (`claim_pass`, `save_returns`, `end_pass`), as the returns loop writes it.

use crate::support;

use std::process::Command;

use chrono::{Duration, Utc};
use commerce_core::{Announcement, Arrival};
use commerce_facade::{
    Journal, OrderRecord, ReturnMatch, ReturnRecord, SqliteJournal, Step, return_key, returns_pass,
};
use commerce_sandbox::Config;
use serde_json::Value;
use support::{SHOP_PHONE, commerce, json, temp_journal, text};

const PASS_RUNNER: &str = "runner-a";

/// A return item of bol order `order` (EAN 8712345678906, 2 expected), registered
/// `registered_days_ago` days ago, with a deadline `deadline_in_days` from now where given.
fn item(rma: &str, order: &str, registered_days_ago: i64, deadline_in_days: Option<i64>) -> ReturnRecord {
    let now = Utc::now();
    ReturnRecord {
        key: return_key("bol", rma),
        channel: "bol".into(),
        return_id: format!("R{rma}"),
        rma_id: rma.into(),
        order_id: order.into(),
        ean: "8712345678906".into(),
        title: Some("Regenjas, maat M".into()),
        expected: 2,
        reason: Some("Verkeerde maat of afmeting / Te groot".into()),
        registered_at: Some(now - Duration::days(registered_days_ago)),
        seen_at: Some(now - Duration::days(registered_days_ago)),
        track_and_trace: Some("3SBOL0987654321".into()),
        transporter: Some("PostNL".into()),
        deadline: deadline_in_days.map(|d| now + Duration::days(d)),
        ..Default::default()
    }
}

/// `item`, matched to its order's ShopWeDo part and announced there.
fn announced(
    rma: &str,
    order: &str,
    registered_days_ago: i64,
    deadline_in_days: Option<i64>,
) -> ReturnRecord {
    let mut r = item(rma, order, registered_days_ago, deadline_in_days);
    r.matched = Some(ReturnMatch {
        order_key: format!("bol:{order}"),
        part_key: format!("bol:{order}"),
        provider: "shopwedo".into(),
        reference: "4711".into(),
        line_ids: vec!["2012345678".into()],
    });
    r.announcement = Step::Done(Announcement {
        provider: "shopwedo".into(),
        order_reference: "4711".into(),
        rma_id: rma.into(),
        reference: None,
        sku: Some("RJ-M".into()),
        quantity: 2,
        at: Utc::now() - Duration::days(1),
    });
    r
}

/// Writes `records` (with their history notes) as a returns pass of `PASS_RUNNER` does;
/// the pass is ended unless `hold`, when the runner keeps it for five minutes.
async fn seed(journal: &SqliteJournal, records: &[(ReturnRecord, Option<String>)], hold: bool) {
    let pass = returns_pass("bol");
    let now = Utc::now();
    assert!(
        journal
            .claim_pass(&pass, PASS_RUNNER, now, now + Duration::minutes(5), true)
            .await
            .unwrap()
    );
    journal.save_returns(&pass, PASS_RUNNER, records).await.unwrap();
    if !hold {
        journal
            .end_pass(
                &pass,
                PASS_RUNNER,
                now,
                now + Duration::hours(1),
                "bol: 3 unhandled on the channel (3 new): 1 announced, 0 received, 0 handled, 1 waiting for goods, 2 need a person",
            )
            .await
            .unwrap();
    }
}

fn needs(mut r: ReturnRecord, why: &str) -> ReturnRecord {
    r.attention = Some(why.into());
    r
}

/// `commerce ARGS...` without a journal (the command line is refused before one is opened).
fn bare(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(args)
        .env_remove("COMMERCE_JOURNAL")
        .output()
        .unwrap()
}

#[test]
fn the_returns_commands_are_in_the_help_and_bad_lines_exit_64() {
    let help = text(&bare(&["--help"]));
    assert!(help.contains("  returns "), "{help}");
    assert!(help.contains("another runner's pass is under way"), "{help}");
    assert!(text(&bare(&["run", "--help"])).contains("--returns-interval"));
    let resolve = text(&bare(&["resolve", "--help"]));
    for flag in [
        "--announced",
        "--received",
        "--damaged",
        "--handle",
        "--quantity",
        "--leave",
    ] {
        assert!(resolve.contains(flag), "{flag} in {resolve}");
    }
    for bad in [
        vec!["run", "--returns-interval", "30s"],
        vec!["run", "--returns-interval", "2d"],
        vec!["run", "--returns-interval", "never"],
        vec!["returns", "--dryrun"],
        vec!["returns", "--lease", "1s"],
        // --handle needs --quantity, --quantity needs --handle, --damaged needs --received.
        vec!["resolve", "return:bol:1", "--handle", "RETURN_RECEIVED"],
        vec!["resolve", "return:bol:1", "--quantity", "1", "--leave"],
        vec!["resolve", "return:bol:1", "--damaged", "torn", "--leave"],
        // One decision at a time.
        vec!["resolve", "return:bol:1", "--received", "1", "--leave"],
        vec!["resolve", "return:bol:1", "--received", "-1"],
    ] {
        let out = bare(&bad);
        assert_eq!(out.status.code(), Some(64), "{bad:?}: {}", text(&out));
    }
    // A typo in the result: exit 64, and the six results bol takes are listed.
    let typo = bare(&[
        "resolve",
        "return:bol:1",
        "--handle",
        "RETURN_RECIEVED",
        "--quantity",
        "1",
    ]);
    assert_eq!(typo.status.code(), Some(64), "{}", text(&typo));
    for result in [
        "RETURN_RECEIVED",
        "EXCHANGE_PRODUCT",
        "RETURN_DOES_NOT_MEET_CONDITIONS",
        "REPAIR_PRODUCT",
        "CUSTOMER_KEEPS_PRODUCT_PAID",
        "STILL_APPROVED",
    ] {
        assert!(text(&typo).contains(result), "{result} in {}", text(&typo));
    }
    assert!(text(&typo).contains("RETURN_RECIEVED"), "{}", text(&typo));
}

/// An order's flags on a return key, or a return's on an order key: 64, naming the flags
/// that fit; nothing in the journal changes.
#[tokio::test]
async fn flags_that_do_not_fit_the_key_are_usage_errors() {
    let path = temp_journal("returns-misfit");
    let journal = SqliteJournal::create(&path).unwrap();
    let mut order = OrderRecord::new(commerce_core::Order {
        id: "1".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    order.attention = Some("no stock".into());
    journal.add(&order).await.unwrap();
    for (args, says) in [
        (
            &["resolve", "return:bol:1", "--submitted", "R-1"][..],
            "--announced",
        ),
        (&["resolve", "return:bol:1", "--cancel"], "--leave"),
        (&["resolve", "bol:1", "--received", "1"], "--submitted"),
        (&["resolve", "bol:1", "--leave"], "--cancel"),
        (
            &[
                "resolve",
                "bol:1",
                "--handle",
                "still_approved",
                "--quantity",
                "1",
            ],
            "--skip-step",
        ),
        (&["reopen", "return:bol:1"], "resolve return:bol:1"),
    ] {
        let out = commerce(&path, args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {says} in {}", text(&out));
    }
    let back = journal.load("bol:1").await.unwrap().unwrap();
    assert_eq!(back.attention.as_deref(), Some("no stock"));
    assert_eq!(back.cancelled, None);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `attention`: the returns first, nearest deadline first (`urgent` within the 2-day margin
/// or past), those without a deadline after, by registration; then the orders; every entry
/// has its `kind`.
#[tokio::test]
async fn attention_lists_returns_first_the_urgent_one_at_the_top() {
    let path = temp_journal("returns-attention");
    let journal = SqliteJournal::create(&path).unwrap();
    let mut order = OrderRecord::new(commerce_core::Order {
        id: "9".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    order.attention = Some("no stock".into());
    journal.add(&order).await.unwrap();
    let mut done = announced("40", "3", 9, Some(1));
    done.completed_at = Some(Utc::now());
    seed(
        &journal,
        &[
            (needs(item("10", "1", 2, None), "order not in this journal"), None),
            (
                needs(announced("20", "2", 8, Some(6)), "not received at shopwedo"),
                None,
            ),
            (
                needs(announced("30", "2", 12, Some(1)), "not received at shopwedo"),
                None,
            ),
            (announced("31", "2", 1, Some(0)), None),
            (done, None),
        ],
        false,
    )
    .await;
    let entries = json(&commerce(&path, &["--json", "attention"]));
    let entries = entries.as_array().unwrap();
    let keys: Vec<&str> = entries.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["return:bol:30", "return:bol:20", "return:bol:10", "bol:9"],
        "{entries:#?}"
    );
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["return", "return", "return", "order"]);
    assert_eq!(entries[0]["urgent"], true);
    assert_eq!(entries[0]["days_left"], 0, "{:#?}", entries[0]);
    assert_eq!(entries[1]["urgent"], false);
    assert_eq!(entries[1]["days_left"], 5, "{:#?}", entries[1]);
    assert_eq!(entries[2]["deadline"], Value::Null);
    for e in &entries[..3] {
        assert_eq!(e["stage"], "attention");
        assert!(e["reason"].as_str().is_some());
        assert!(
            e["advice"]
                .as_str()
                .unwrap()
                .contains(&format!("commerce resolve {}", e["key"].as_str().unwrap())),
            "{e:#?}"
        );
    }
    // Not announced: announce by hand; announced: the goods.
    assert!(entries[2]["advice"].as_str().unwrap().contains("--announced"));
    assert!(entries[0]["advice"].as_str().unwrap().contains("--received N"));

    let human = commerce(&path, &["attention"]);
    assert!(human.status.success(), "{}", text(&human));
    let human = text(&human);
    assert!(
        human.starts_with("3 return(s) need a person (1 urgent"),
        "{human}"
    );
    let at = |needle: &str| {
        human
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in {human}"))
    };
    assert!(at("return:bol:30  URGENT") < at("return:bol:20") && at("return:bol:10") < at("bol:9\n"));
    assert!(
        human.contains("deadline: not configured (COMMERCE_RETURN_DAYS)"),
        "{human}"
    );
    assert!(human.contains("1 order(s) need a person"), "{human}");

    // A wider margin makes the second one urgent too; a margin that does not read is 64.
    let wide = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(["--journal", path.to_str().unwrap(), "--json", "attention"])
        .env("COMMERCE_RETURN_MARGIN", "7d")
        .output()
        .unwrap();
    assert_eq!(json(&wide)[1]["urgent"], true);
    let bad = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(["--journal", path.to_str().unwrap(), "attention"])
        .env("COMMERCE_RETURN_MARGIN", "soon")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64), "{}", text(&bad));
    assert!(text(&bad).contains("COMMERCE_RETURN_MARGIN"), "{}", text(&bad));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `show return:bol:RMA`: the record's steps and its history; `show bol:ORDER` lists the
/// order's returns.
#[tokio::test]
async fn show_a_return_with_its_history_and_an_order_with_its_returns() {
    let path = temp_journal("returns-show");
    let journal = SqliteJournal::create(&path).unwrap();
    let order = OrderRecord::new(commerce_core::Order {
        id: "2".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    journal.add(&order).await.unwrap();
    let mut r = announced("20", "2", 3, Some(4));
    r.arrival = Some(Arrival::NotYet);
    r.checks = 3;
    r.last_check = Some(Utc::now());
    seed(
        &journal,
        &[
            (
                item("20", "2", 3, Some(4)),
                Some("seen on bol: 2× 8712345678906".into()),
            ),
            (item("21", "7", 3, None), None),
        ],
        false,
    )
    .await;
    seed(
        &journal,
        &[(r, Some("announced at shopwedo order 4711".into()))],
        false,
    )
    .await;

    let out = commerce(&path, &["show", "return:bol:20"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    for needle in [
        "return:bol:20  (receipt)",
        "R20 on bol (RMA 20)",
        "order         bol:2",
        "2× EAN 8712345678906 (Regenjas, maat M)",
        "Verkeerde maat of afmeting / Te groot",
        "3 days left",
        "3SBOL0987654321 (PostNL)",
        "warehouse     shopwedo (its order 4711)",
        "announcement  2× to shopwedo",
        "arrived       not yet",
        "checks        3",
        "handling      not started",
        "seen on bol: 2× 8712345678906",
        "announced at shopwedo order 4711",
    ] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }
    assert!(shown.find("seen on bol").unwrap() < shown.find("announced at").unwrap());
    let v = json(&commerce(&path, &["--json", "show", "return:bol:20"]));
    assert_eq!(v["stage"], "receipt");
    assert_eq!(v["record"]["rma_id"], "20");
    assert_eq!(v["history"].as_array().unwrap().len(), 2, "{v:#?}");
    assert_eq!(v["deadline"]["days_left"], 3);

    let order = commerce(&path, &["show", "bol:2"]);
    assert!(
        text(&order).contains("return        return:bol:20 (receipt): 2× EAN 8712345678906"),
        "{}",
        text(&order)
    );
    assert!(!text(&order).contains("return:bol:21"), "{}", text(&order));
    let v = json(&commerce(&path, &["--json", "show", "bol:2"]));
    assert_eq!(v["returns"][0]["key"], "return:bol:20");

    let missing = commerce(&path, &["show", "return:bol:99"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("no return return:bol:99"),
        "{}",
        text(&missing)
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `status`: the returns per stage, the nearest deadline, the last returns pass.
#[tokio::test]
async fn status_has_the_returns_block() {
    let path = temp_journal("returns-status");
    let journal = SqliteJournal::create(&path).unwrap();
    let empty = json(&commerce(&path, &["--json", "status"]));
    assert_eq!(empty["returns"]["records"], 0);
    assert_eq!(empty["returns"]["nearest_deadline"], Value::Null);
    assert!(text(&commerce(&path, &["status"])).contains("deadline: not configured (COMMERCE_RETURN_DAYS)"));
    let mut done = announced("3", "1", 20, Some(-5));
    done.completed_at = Some(Utc::now());
    seed(
        &journal,
        &[
            (item("1", "1", 1, Some(13)), None),
            (needs(announced("2", "1", 12, Some(2)), "not received"), None),
            (done, None),
        ],
        false,
    )
    .await;
    let v = json(&commerce(&path, &["--json", "status"]));
    let returns = &v["returns"];
    assert_eq!(returns["records"], 3);
    assert_eq!(returns["open"], 2);
    assert_eq!(returns["attention"], 1);
    assert_eq!(returns["stages"]["match"], 1);
    assert_eq!(returns["stages"]["attention"], 1);
    assert_eq!(returns["stages"]["completed"], 1);
    // The completed one's deadline has passed: the nearest open one is 2's.
    assert_eq!(returns["nearest_deadline"]["key"], "return:bol:2");
    assert_eq!(returns["nearest_deadline"]["urgent"], true);
    let pass = &returns["passes"][0];
    assert_eq!(pass["channel"], "bol");
    assert!(
        pass["pass"]["last_summary"]
            .as_str()
            .unwrap()
            .contains("need a person")
    );
    let human = text(&commerce(&path, &["status"]));
    for needle in [
        "returns: 3 (2 open)",
        "  match      1",
        "  completed  1",
        "deadline: nearest return:bol:2",
        "returns bol: next due",
        "; last: started ",
    ] {
        assert!(human.contains(needle), "{needle} in {human}");
    }
    // While a runner holds the pass, status names it.
    seed(&journal, &[], true).await;
    let human = text(&commerce(&path, &["status"]));
    assert!(
        human.contains(&format!("returns bol: under way by {PASS_RUNNER}")),
        "{human}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `resolve` and `retry` of a return go through the facade's rules: a result that needs the
/// goods before anyone said they arrived is refused with its text (1), a quantity beyond
/// what comes back is a usage error (64), the pass held by a runner refuses every change
/// (1); in the right order they go through and the history says who did what.
#[tokio::test]
async fn resolve_a_return_step_by_step_as_the_facade_allows() {
    let path = temp_journal("returns-resolve");
    let journal = SqliteJournal::create(&path).unwrap();
    let key = "return:bol:20";
    seed(
        &journal,
        &[(
            needs(announced("20", "2", 3, Some(4)), "not received at shopwedo"),
            None,
        )],
        false,
    )
    .await;
    let early = commerce(
        &path,
        &["resolve", key, "--handle", "return_received", "--quantity", "2"],
    );
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    assert!(
        text(&early).contains(
            "RETURN_RECEIVED says the goods are back, and nobody said they arrived: `--received N` first"
        ),
        "{}",
        text(&early)
    );
    let too_many = commerce(&path, &["resolve", key, "--received", "3"]);
    assert_eq!(too_many.status.code(), Some(64), "{}", text(&too_many));
    assert!(text(&too_many).contains("from 1 to 2"), "{}", text(&too_many));
    let unknown = commerce(&path, &["resolve", "return:bol:99", "--leave"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("no return return:bol:99"),
        "{}",
        text(&unknown)
    );
    assert_eq!(journal.load_return(key).await.unwrap().unwrap().arrival, None);

    let received = commerce(
        &path,
        &["resolve", key, "--received", "1", "--damaged", "torn sleeve"],
    );
    assert!(received.status.success(), "{}", text(&received));
    assert_eq!(text(&received).trim(), format!("{key}: handle"));
    let handle = commerce(
        &path,
        &[
            "--json",
            "resolve",
            key,
            "--handle",
            "Return_Does_Not_Meet_Conditions",
            "--quantity",
            "1",
            "--reason",
            "sleeve torn by the buyer",
        ],
    );
    assert_eq!(json(&handle)["stage"], "handle");
    let r = journal.load_return(key).await.unwrap().unwrap();
    let decision = r.decision.unwrap();
    assert_eq!(
        (decision.result.as_str(), decision.quantity),
        ("RETURN_DOES_NOT_MEET_CONDITIONS", 1)
    );
    assert_eq!(r.attention, None);
    let history = journal.history(key).await.unwrap();
    let notes: Vec<&str> = history.iter().map(|h| h.note.as_str()).collect();
    assert!(
        notes.iter().any(|n| n.contains("received 1 of 2, torn sleeve")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("(sleeve torn by the buyer)")),
        "{notes:?}"
    );
    assert!(history.iter().all(|h| h.by == "operator"), "{history:?}");

    // A runner holds the pass: every change is refused, naming it.
    seed(&journal, &[], true).await;
    for args in [&["resolve", key, "--leave"][..], &["retry", key]] {
        let busy = commerce(&path, args);
        assert_eq!(busy.status.code(), Some(1), "{args:?}: {}", text(&busy));
        assert!(
            text(&busy).contains(&format!("worked on by runner {PASS_RUNNER}")),
            "{}",
            text(&busy)
        );
    }
    let now = Utc::now();
    journal
        .end_pass(&returns_pass("bol"), PASS_RUNNER, now, now, "bol: done")
        .await
        .unwrap();
    let retry = commerce(&path, &["retry", key]);
    assert!(retry.status.success(), "{}", text(&retry));
    assert!(
        text(&retry).contains("due at the next returns pass"),
        "{}",
        text(&retry)
    );
    let leave = commerce(
        &path,
        &["resolve", key, "--leave", "--reason", "settled by phone"],
    );
    assert!(leave.status.success(), "{}", text(&leave));
    let again = commerce(&path, &["resolve", key, "--leave"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("left already"), "{}", text(&again));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce returns --dry-run` on an empty journal: exit 0, nothing written (no pass
/// taken, no record added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_returns_pass_on_an_empty_journal_writes_nothing() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("returns-dry");
    assert!(commerce(&path, &["init"]).status.success());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
    cmd.arg("--journal")
        .arg(&path)
        .args(["returns", "--dry-run"])
        .envs(sb.env())
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("commerce returns --dry-run: runner"),
        "{}",
        text(&out)
    );
    let journal = SqliteJournal::open_existing_journal(&path).unwrap();
    assert_eq!(journal.pass(&returns_pass("bol")).await.unwrap(), None);
    assert!(journal.returns().await.unwrap().is_empty());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce returns` while another runner holds the returns pass: exit 75, naming it, and
/// the pass stays that runner's; once it ended, a pass runs now and gives the pass back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returns_pass_under_way_elsewhere_exits_75_and_one_runs_after_it() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("returns-held");
    let journal = SqliteJournal::create(&path).unwrap();
    seed(&journal, &[], true).await;
    let pass_now = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
        cmd.arg("--journal").arg(&path);
        if json {
            cmd.arg("--json");
        }
        cmd.args(["returns", "--runner", "ops"])
            .envs(sb.env())
            .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
            .env_remove("COMMERCE_JOURNAL");
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let held = pass_now(false).await;
    assert_eq!(held.status.code(), Some(75), "{}", text(&held));
    assert!(
        text(&held).contains("bol: another runner's returns pass is under way"),
        "{}",
        text(&held)
    );
    let held = pass_now(true).await;
    assert_eq!(held.status.code(), Some(75), "{}", text(&held));
    let line: Value = serde_json::from_slice(&held.stdout).unwrap();
    assert_eq!(
        (line["channel"].as_str(), line["held"].as_bool()),
        (Some("bol"), Some(true))
    );
    let pass = journal.pass(&returns_pass("bol")).await.unwrap().unwrap();
    assert_eq!(pass.lease.as_ref().map(|(r, _)| r.as_str()), Some(PASS_RUNNER));

    let now = Utc::now();
    journal
        .end_pass(
            &returns_pass("bol"),
            PASS_RUNNER,
            now,
            now + Duration::hours(1),
            "bol: done",
        )
        .await
        .unwrap();
    let ran = pass_now(false).await;
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    let pass = journal.pass(&returns_pass("bol")).await.unwrap().unwrap();
    assert!(pass.held_at(Utc::now()).is_none(), "{pass:?}");
    assert!(pass.last_started.unwrap() > now, "{pass:?}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// The whole loop through the command line, on the sandbox: the orders are worked by
/// `commerce run` (returns off), the buyers register returns, and `commerce returns` passes
/// announce each at its warehouse, wait for the goods and handle it on bol. Every return
/// ends handled after its goods arrived, or with a person (with the command to give);
/// none is announced or handled twice, none handled early; `status`, `attention` and
/// `show` say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_passes_of_the_command_line_carry_every_return_through_the_warehouse() {
    let sb = commerce_sandbox::start(Config {
        orders: 8,
        returns: 1.0,
        return_after: std::time::Duration::from_millis(50),
        receive_after: std::time::Duration::from_millis(300),
        seed: 31,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("returns-e2e");
    let command = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
        cmd.arg("--journal")
            .arg(&path)
            .args(args)
            .envs(sb.env())
            .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
            .env("COMMERCE_RETURN_DAYS", "14")
            .env_remove("COMMERCE_JOURNAL");
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let run = command(&[
        "run",
        "--init",
        "--poll-interval",
        "100ms",
        "--untracked-after",
        "1s",
        "--returns-interval",
        "off",
    ])
    .await;
    assert!(matches!(run.status.code(), Some(0 | 2)), "{}", text(&run));
    // Returns are registered shortly after the shipments; passes until each one is
    // handled or waits for a person (bounded: the goods come 300 ms after the
    // announcement).
    let journal = SqliteJournal::open_existing_journal(&path).unwrap();
    let mut passes = Vec::new();
    let settled = |records: &[ReturnRecord]| {
        !records.is_empty() && records.iter().all(|r| !r.is_open() || r.needs_person())
    };
    for _ in 0..40 {
        let out = command(&["--json", "returns"]).await;
        assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
        passes.push(text(&out));
        let registered = sb.report().returns.registered as usize;
        let records = journal.returns().await.unwrap();
        if registered > 0 && records.len() >= registered && settled(&records) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report = sb.report().returns;
    let records = journal.returns().await.unwrap();
    assert!(report.registered > 0, "{report:?}");
    assert!(settled(&records), "{records:#?}\n{passes:#?}");
    assert_eq!(
        (
            report.handled_before_receipt,
            report.double_handled,
            report.duplicate_announcements
        ),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!(sb.report().total_duplicates(), 0);
    let completed: Vec<&ReturnRecord> = records.iter().filter(|r| r.completed_at.is_some()).collect();
    assert!(!completed.is_empty(), "{records:#?}\n{passes:#?}");
    assert_eq!(report.handled as usize, completed.len(), "{report:?}");
    for r in &records {
        if r.completed_at.is_some() {
            assert!(r.received(), "{r:#?}");
        } else {
            assert!(r.needs_person(), "{r:#?}");
        }
    }
    // What the operator sees.
    let status = json(&command(&["--json", "status"]).await);
    assert_eq!(status["returns"]["records"], records.len());
    assert_eq!(status["returns"]["stages"]["completed"], completed.len());
    assert_eq!(status["returns"]["deadline_configured"], true);
    let attention = json(&command(&["--json", "attention"]).await);
    let waiting: Vec<&Value> = attention
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "return")
        .collect();
    assert_eq!(waiting.len(), records.iter().filter(|r| r.needs_person()).count());
    for e in waiting {
        assert!(e["deadline"].is_string(), "{e:#?}");
        assert!(
            e["advice"].as_str().unwrap().contains("commerce resolve"),
            "{e:#?}"
        );
    }
    let shown = text(&command(&["show", &completed[0].key]).await);
    for needle in [
        "(completed)",
        "announcement  ",
        "received",
        "handling      done",
        "history",
    ] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }

    // A person's path, by the command line: a return whose warehouse takes no
    // announcement is told by hand, its goods come in, and the next pass handles it.
    let r = records
        .iter()
        .find(|r| r.needs_person() && !r.announcement.is_done())
        .expect("a return of a Customer API order (no retour call) waits for a person");
    let key = r.key.as_str();
    let early = command(&["resolve", key, "--handle", "return_received", "--quantity", "1"]).await;
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    let told = command(&["resolve", key, "--announced", "--reason", "mailed the supplier"]).await;
    assert!(told.status.success(), "{}", text(&told));
    assert!(sb.receive_return_by_hand(&r.rma_id, i64::from(r.expected), false));
    let expected = r.expected.to_string();
    let received = command(&["resolve", key, "--received", &expected]).await;
    assert!(received.status.success(), "{}", text(&received));
    let handled_before = sb.report().returns.handled;
    let pass = command(&["returns"]).await;
    assert!(matches!(pass.status.code(), Some(0 | 2)), "{}", text(&pass));
    let back = journal.load_return(key).await.unwrap().unwrap();
    assert!(back.completed_at.is_some(), "{back:#?}\n{}", text(&pass));
    assert_eq!(sb.report().returns.handled, handled_before + 1);
    assert_eq!(sb.report().returns.handled_before_receipt, 0);
    let history = text(&command(&["show", key]).await);
    for needle in [
        "operator",
        "resolved: announced by hand (mailed the supplier)",
        "resolved: received",
    ] {
        assert!(history.contains(needle), "{needle} in {history}");
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
