//! The `commerce` binary against a journal built by the flow: the sandbox answers some
//! creates with a 2xx nobody can read, so some orders end waiting for a person; `status`,
//! `attention` and `show` describe them, `resolve` and `retry` settle them, and the next
//! run finishes what was settled.

use crate::support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{Flow, FlowOptions, Journal, Providers, SqliteJournal, Step};
use commerce_sandbox::{Config, Sandbox};
use serde_json::Value;
use support::{SHOP_PHONE, commerce, json, json_error, temp_journal, text};

fn providers(sb: &Sandbox) -> Providers {
    let vars: HashMap<String, String> = sb.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Providers::from_vars(&|name| vars.get(name).cloned()).unwrap()
}

fn options() -> FlowOptions {
    FlowOptions {
        poll_interval: Duration::from_millis(100),
        contact_phone: Some(SHOP_PHONE.to_owned()),
        untracked_after: Duration::from_secs(1),
        ..FlowOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_and_settles_the_orders_that_need_a_person() {
    let orders = 10;
    let sb = commerce_sandbox::start(Config {
        orders,
        garbled_creates: 0.4,
        seed: 5,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("settle");
    let journal = Arc::new(SqliteJournal::open(&path).unwrap());
    let first = Flow::new(providers(&sb), journal.clone(), options()).run().await;
    assert!(!first.attention.is_empty(), "some outcomes unknown: {first:#?}");

    // status: every order counted by where it stands.
    // (An order split over both providers has a record per part besides its own.)
    let records = journal.all().await.unwrap().len();
    assert!(records >= orders);
    let status = json(&commerce(&path, &["--json", "status"]));
    assert_eq!(status["orders"], records);
    let stages = status["stages"].as_object().unwrap();
    assert_eq!(
        stages.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        records as u64
    );
    assert_eq!(stages["attention"], first.attention.len());
    assert_eq!(status["runners"], Value::Array(vec![]));
    let human = text(&commerce(&path, &["status"]));
    assert!(
        human.contains("attention") && human.contains("runners holding leases: none"),
        "{human}"
    );

    // attention: each with the reason and what to do.
    let attention = json(&commerce(&path, &["--json", "attention"]));
    let listed = attention.as_array().unwrap();
    assert_eq!(listed.len(), first.attention.len());
    for a in listed {
        let reason = a["reason"].as_str().unwrap();
        assert!(
            reason.contains("may have")
                || reason.contains("cannot cancel")
                || reason.contains("whole orders only"),
            "{a}"
        );
        assert!(a["advice"].as_str().unwrap().contains("commerce "), "{a}");
    }
    let human = text(&commerce(&path, &["attention"]));
    assert!(
        human.contains("need a person") && human.contains("then: "),
        "{human}"
    );

    // show: the steps and the history.
    let key = listed[0]["key"].as_str().unwrap().to_owned();
    let shown = json(&commerce(&path, &["--json", "show", &key]));
    let notes: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes[0], "seen on its channel", "{notes:?}");
    assert!(notes.last().unwrap().starts_with("needs a person"), "{notes:?}");
    let human = text(&commerce(&path, &["show", &key]));
    assert!(
        human.contains("history") && human.contains("seen on its channel"),
        "{human}"
    );

    // The operator settles each, round by round (the sandbox still garbles creates, so a
    // step sent again can end unknown again): a submission of unknown outcome is cancelled
    // (found nowhere, handled by hand), one order is retried, the other invitation steps
    // are marked done by hand; then the next run goes on from there.
    let mut settled: HashMap<String, Vec<&str>> = HashMap::new();
    let mut retried = false;
    for round in 0.. {
        let attention = json(&commerce(&path, &["--json", "attention"]));
        let listed = attention.as_array().unwrap();
        if listed.is_empty() {
            break;
        }
        assert!(
            round < 8,
            "still orders waiting after {round} rounds: {attention}"
        );
        for a in listed {
            let key = a["key"].as_str().unwrap();
            let record = journal.load(key).await.unwrap().unwrap();
            let (how, out) = if record.submission == Step::Started {
                (
                    "cancel",
                    commerce(
                        &path,
                        &["resolve", key, "--cancel", "--reason", "shipped by hand"],
                    ),
                )
            } else if !retried {
                retried = true;
                ("retry", commerce(&path, &["retry", key]))
            } else {
                let step = record
                    .invitations
                    .iter()
                    .find(|(_, s)| **s == Step::Started)
                    .map(|(k, _)| k.clone())
                    .expect("an invitation of unknown outcome");
                ("skip", commerce(&path, &["resolve", key, "--skip-step", &step]))
            };
            assert!(out.status.success(), "{how} {key}: {}", text(&out));
            settled.entry(key.to_owned()).or_default().push(how);
        }
        assert_eq!(
            json(&commerce(&path, &["--json", "attention"])),
            Value::Array(vec![])
        );
        let next = Flow::new(providers(&sb), journal.clone(), options()).run().await;
        assert_eq!(next.pending, 0, "{next:#?}");
    }
    assert!(retried);
    eprintln!("settled: {settled:?}");
    // Every settled order is completed, or cancelled and left alone; its history says who
    // settled it.
    for (key, hows) in &settled {
        let r = journal.load(key).await.unwrap().unwrap();
        match hows.last() {
            Some(&"cancel") => assert_eq!(r.stage(), "cancelled", "{r:#?}"),
            _ => assert_eq!(r.stage(), "completed", "{hows:?} {r:#?}"),
        }
        let notes: Vec<String> = journal
            .history(key)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.note)
            .collect();
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("resolved") || n.starts_with("retry asked")),
            "{notes:?}"
        );
    }
    let status = json(&commerce(&path, &["--json", "status"]));
    assert_eq!(status["stages"].get("attention"), None, "{status}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn changes_are_refused_while_a_runner_holds_the_order_and_mistakes_are_named() {
    let path = temp_journal("refused");
    let journal = SqliteJournal::open(&path).unwrap();
    let order = commerce_core::Order {
        id: "1043946570".into(),
        channel: "bol".into(),
        ..Default::default()
    };
    support::add_held(&journal, &commerce_facade::OrderRecord::new(order)).await;

    let busy = commerce(&path, &["retry", "bol:1043946570"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        text(&busy).contains("being worked on by runner runner-a"),
        "{}",
        text(&busy)
    );
    let status = json(&commerce(&path, &["--json", "status"]));
    assert_eq!(status["runners"][0]["runner"], "runner-a");
    assert!(text(&commerce(&path, &["status"])).contains("runner-a  1 order(s), until"));

    let missing = commerce(&path, &["show", "bol:404"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("no order bol:404"), "{}", text(&missing));
    let missing = commerce(&path, &["--json", "show", "bol:404"]);
    assert!(json_error(&missing).contains("no order bol:404"));

    // Nothing to skip before the order shipped; an unknown step is named.
    journal
        .release(
            "runner-a",
            &journal.load("bol:1043946570").await.unwrap().unwrap(),
            "",
        )
        .await
        .unwrap();
    let early = commerce(&path, &["resolve", "bol:1043946570", "--skip-step", "confirm"]);
    assert!(text(&early).contains("has not shipped"), "{}", text(&early));
    let unknown = commerce(&path, &["resolve", "bol:1043946570", "--skip-step", "route"]);
    assert!(text(&unknown).contains("cannot be skipped"), "{}", text(&unknown));
    let unrouted = commerce(&path, &["resolve", "bol:1043946570", "--submitted", "90001"]);
    assert!(text(&unrouted).contains("--provider"), "{}", text(&unrouted));
    let routed = commerce(
        &path,
        &[
            "resolve",
            "bol:1043946570",
            "--submitted",
            "90001",
            "--provider",
            "shopwedo",
            // No ShopWeDo here to read 90001 at: the operator vouches for it.
            "--force",
        ],
    );
    assert!(routed.status.success(), "{}", text(&routed));
    let r = journal.load("bol:1043946570").await.unwrap().unwrap();
    assert_eq!(r.submission.done().unwrap().reference, "90001");
    assert_eq!(r.stage(), "shipment");

    // A journal that is not there is not created by a command that reads it.
    let nowhere = path.with_file_name("nowhere.sqlite");
    let absent = commerce(&nowhere, &["status"]);
    assert_eq!(absent.status.code(), Some(64));
    assert!(!nowhere.exists());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn the_help_documents_every_command_and_a_bad_command_line_exits_64() {
    let help = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = text(&help);
    for command in ["run", "stock", "status", "attention", "show", "resolve", "retry"] {
        assert!(help.contains(&format!("  {command} ")), "{command} in {help}");
    }
    let run_help = text(
        &Command::new(env!("CARGO_BIN_EXE_commerce"))
            .args(["run", "--help"])
            .output()
            .unwrap(),
    );
    for flag in [
        "--watch",
        "--poll-interval",
        "--concurrency",
        "--lease",
        "--retain-days",
        "--stock-interval",
    ] {
        assert!(run_help.contains(flag), "{flag} in {run_help}");
    }
    for bad in [
        vec!["resolve", "bol:1"],
        vec!["run", "--poll-interval", "soon"],
        vec!["run", "--concurrency", "0"],
        vec!["run", "--stock-interval", "30s"],
        vec!["run", "--stock-interval", "never"],
        vec!["stock", "--dryrun"],
        vec!["frobnicate"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_commerce"))
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{bad:?}: {}", text(&out));
    }
    // `run` with no provider configured says which variables to set.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
    for (name, _) in std::env::vars() {
        if name.starts_with("RETAILER_")
            || name.starts_with("SHOPWEDO_")
            || name.starts_with("CUSTOMER_API_")
            || name.starts_with("SAFESHOP_")
            || name.starts_with("SITEJABBER_")
        {
            cmd.env_remove(name);
        }
    }
    let stock = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["--journal", "/nonexistent/j.sqlite", "stock", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(stock.status.code(), Some(64), "{}", text(&stock));
    assert!(text(&stock).contains("RETAILER_CLIENT_ID"), "{}", text(&stock));
    let out = cmd
        .args(["--journal", "/nonexistent/j.sqlite", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out).contains("RETAILER_CLIENT_ID"), "{}", text(&out));
    // Nothing configured: the hint to try the flow on the sandbox is there.
    assert!(
        text(&out).contains("cargo run --example quickstart"),
        "{}",
        text(&out)
    );
}
