//! Operator mistakes and outages the command line must not hide or worsen (each test
//! failed on the code before its fix).

mod support;

use std::process::Command;

use commerce_facade::{Journal, OrderRecord, SqliteJournal, Step};
use commerce_sandbox::Config;
use support::{commerce, temp_journal, text};

/// bol refuses the credentials: not one order could be listed, and `commerce run` says
/// "done" (exit 0). A cron job or a supervisor never learns that no order is being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_could_not_list_its_channel_does_not_exit_0() {
    let sb = commerce_sandbox::start(Config {
        orders: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("listing");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_commerce"))
            .arg("--journal")
            .arg(&path)
            .args(["run", "--init", "--poll-interval", "100ms"])
            .envs(sb.env())
            .env("RETAILER_CLIENT_SECRET", "not-the-secret")
            .env_remove("COMMERCE_JOURNAL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
}

/// `commerce retry` on an order that is not waiting for a person (it is failing, shown by
/// `commerce status` as "failing: ... at submit"), whose submission's outcome is unknown
/// and which the flow would settle by looking it up (Customer API): the retry turns the
/// `Started` submission into `NotStarted`, so the next visit submits again without the
/// look-up. A person who only wanted "try now" gets a second order at the supplier when the
/// first one had arrived.
#[test]
fn retry_of_a_failing_order_keeps_its_unknown_submission_for_the_look_up() {
    let path = temp_journal("retry");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946570".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    support::add_held(&journal, &r);
    let now = chrono::Utc::now();
    r.fulfilment = Some("customer-api".into());
    r.submission = Step::Started;
    r.failures = 1;
    r.last_error = Some("submit: the request may have reached the server and was not re-sent".into());
    r.due = Some(now + chrono::Duration::seconds(30));
    journal.release("runner-a", &r, "submit failed").unwrap();

    let status = commerce(&path, &["status"]);
    assert!(
        text(&status).contains("failing: bol:1043946570 at submit"),
        "{}",
        text(&status)
    );
    let retry = commerce(&path, &["retry", "bol:1043946570"]);
    assert!(retry.status.success(), "{}", text(&retry));
    let after = journal.load("bol:1043946570").unwrap().unwrap();
    assert_eq!(
        after.submission,
        Step::Started,
        "the unknown submission is no longer settled by the look-up: {}",
        text(&retry)
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce retry` on an order its buyer cancelled (every line dropped): reopened, it
/// would be routed and handed over with no line. Refused, and the record is unchanged.
#[test]
fn retry_of_an_order_its_buyer_cancelled_is_refused() {
    let path = temp_journal("retry-cancelled");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946571".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.dropped_lines
        .insert("6107434001".into(), "the buyer asked to cancel it".into());
    r.cancelled = Some("every line cancelled on bol before the order was handed over".into());
    r.cancelled_at = Some(chrono::Utc::now());
    journal.add(&r).unwrap();
    let retry = commerce(&path, &["retry", "bol:1043946571"]);
    assert!(!retry.status.success(), "{}", text(&retry));
    assert!(text(&retry).contains("nothing left to ship"), "{}", text(&retry));
    let after = journal.load("bol:1043946571").unwrap().unwrap();
    assert!(after.cancelled.is_some() && !after.is_open(), "{after:#?}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce retry` or `resolve` on an order split over two providers: it is worked on
/// through its parts, so a hand-over or a cancel of the order itself would bypass them
/// (a hand-over given for it would be made again by its parts). Refused, naming the parts.
#[test]
fn changes_to_a_split_order_are_refused_and_name_its_parts() {
    let path = temp_journal("split");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946605".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.split = vec![
        commerce_facade::SplitPart {
            key: "bol:1043946605/shopwedo".into(),
            provider: "shopwedo".into(),
            lines: vec!["6107434001".into()],
        },
        commerce_facade::SplitPart {
            key: "bol:1043946605/customer-api".into(),
            provider: "customer-api".into(),
            lines: vec!["6107900005".into()],
        },
    ];
    r.attention = Some("waiting".into());
    journal.add(&r).unwrap();
    for args in [
        vec!["retry", "bol:1043946605"],
        vec!["resolve", "bol:1043946605", "--cancel"],
        vec![
            "resolve",
            "bol:1043946605",
            "--submitted",
            "90001",
            "--provider",
            "shopwedo",
        ],
    ] {
        let out = commerce(&path, &args);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("bol:1043946605/shopwedo"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let after = journal.load("bol:1043946605").unwrap().unwrap();
    assert_eq!(after.submission, Step::NotStarted);
    assert!(after.cancelled.is_none());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
