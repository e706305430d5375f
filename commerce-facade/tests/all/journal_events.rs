//! The pushed events in the SQLite journal, beyond the rules every journal keeps
//! (`commerce_testing::facade::journal_suite`, run over memory, SQLite and PostgreSQL by
//! `conformance` and `postgres`): two runner processes journaling the same delivery at
//! once, a journal of the release before events (schema 7) gaining their table with
//! nothing else changed, and event rows edited by hand passed over, never a stop to the
//! reads.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use commerce_facade::{
    EventRecord, Journal, OfferRecord, OrderRecord, SCHEMA_VERSION, SqliteJournal, return_key, returns_pass,
};
use commerce_testing::facade::journal_suite::event;

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("journal-events-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("j.sqlite")
}

/// Now, to the microsecond (what the journal keeps).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The delivery of round `round` of the race: a new order, as bol pushes it.
fn delivery(round: usize, at: DateTime<Utc>) -> EventRecord {
    event(
        "bol",
        round as u64,
        "ORDER:ORDER_CREATED",
        Some(&format!("10439465{round:02}")),
        at,
    )
}

/// The variable that makes [`event_racer`] race: `PATH|RUNNER|ROUNDS`.
const RACER: &str = "COMMERCE_TEST_EVENT_RACER";

/// Not a test of its own: one of the processes [`two_processes_journal_one_delivery_once`]
/// starts (it returns at once otherwise). For each of `ROUNDS` rounds, waits until the
/// other process is at the same round, then journals that round's delivery (received now:
/// the two processes received it at two moments) in the journal at `PATH` as `RUNNER`.
/// Writes the rounds in which its add returned true beside the journal.
#[tokio::test]
async fn event_racer() {
    let Ok(spec) = std::env::var(RACER) else {
        return;
    };
    let [path, runner, rounds] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("{RACER}={spec}");
    };
    let (path, rounds) = (std::path::Path::new(path), rounds.parse::<usize>().unwrap());
    let journal = SqliteJournal::open_existing(path).unwrap();
    let mut added = Vec::new();
    for round in 0..rounds {
        // Both processes start each round together: each says it is there and waits for
        // the other.
        std::fs::write(path.with_extension(format!("round-{round}-{runner}")), "").unwrap();
        let other = if runner == "a" { "b" } else { "a" };
        let start = std::time::Instant::now();
        while !path.with_extension(format!("round-{round}-{other}")).exists() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{runner}: the other racer never came to round {round}"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if journal.add_event(&delivery(round, now())).await.unwrap() {
            added.push(round.to_string());
        }
    }
    std::fs::write(path.with_extension(format!("added-by-{runner}")), added.join(",")).unwrap();
}

/// Two runner processes on one SQLite journal journal the same delivery at once, 50 times
/// (bol delivering one again while the first delivery is still being answered, to another
/// runner behind the same address): each time exactly one of them journals it, and the
/// journal holds each event once.
#[tokio::test]
async fn two_processes_journal_one_delivery_once() {
    const ROUNDS: usize = 50;
    let path = temp_path("race");
    drop(SqliteJournal::create(&path).unwrap());
    // The racer's name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let racer = format!("{module}::event_racer");
    let runners = ["a", "b"];
    let children: Vec<_> = runners
        .into_iter()
        .map(|runner| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", racer.as_str(), "--test-threads=1"])
                .env(RACER, format!("{}|{runner}|{ROUNDS}", path.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut added: Vec<Vec<usize>> = Vec::new();
    for (runner, child) in runners.into_iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "racer {runner}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(path.with_extension(format!("added-by-{runner}"))).unwrap();
        let rounds: Vec<usize> = text
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| r.parse().unwrap())
            .collect();
        eprintln!("racer {runner} journaled {} deliveries of {ROUNDS}", rounds.len());
        added.push(rounds);
    }
    for round in 0..ROUNDS {
        let by: Vec<&str> = runners
            .iter()
            .zip(&added)
            .filter(|(_, rounds)| rounds.contains(&round))
            .map(|(runner, _)| *runner)
            .collect();
        assert_eq!(by.len(), 1, "round {round}: journaled by {by:?}");
    }
    let journal = SqliteJournal::open_existing(&path).unwrap();
    let events = journal.unhandled_events("bol", 2 * ROUNDS).await.unwrap();
    let mut ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    let expected: Vec<String> = (0..ROUNDS).map(|r| delivery(r, now()).id).collect();
    assert_eq!(ids, expected, "each delivery once");
    let stats = journal.event_stats().await.unwrap();
    assert_eq!((stats.received, stats.unhandled), (ROUNDS as u64, ROUNDS as u64));
    drop(journal);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Everything a journal holds, as read through the journal (the order records and their
/// history, the pass, the offers, the returns and theirs, the account bound).
async fn contents(j: &SqliteJournal) -> String {
    let mut out = String::new();
    for r in j.all().await.unwrap() {
        out += &format!(
            "{}\n{:?}\n",
            serde_json::to_string(&r).unwrap(),
            j.history(&r.key).await.unwrap()
        );
    }
    out += &format!("{:?}\n", j.pass(&returns_pass("bol")).await.unwrap());
    for o in j.offers().await.unwrap() {
        out += &format!(
            "{}\n{:?}\n",
            serde_json::to_string(&o).unwrap(),
            j.history(&o.key()).await.unwrap()
        );
    }
    for r in j.returns().await.unwrap() {
        out += &format!(
            "{}\n{:?}\n",
            serde_json::to_string(&r).unwrap(),
            j.history(&r.key).await.unwrap()
        );
    }
    out
}

/// A journal of the release before events (schema 7: every table but `events`, migrations
/// 1 to 7 recorded) gains the table and its indexes when a writing command opens it, and
/// migration 8 is recorded; its orders, history, account, pass, offers and returns are as
/// they were. Read-only, it is refused until then; a second opening changes nothing.
#[tokio::test]
async fn a_journal_of_schema_7_gains_the_events() {
    let path = temp_path("v7");
    let t = now();
    {
        let journal = SqliteJournal::create(&path).unwrap();
        let order: OrderRecord = OrderRecord::new(commerce_core::Order {
            id: "1043946570".into(),
            channel: "bol".into(),
            ..Default::default()
        });
        assert!(journal.add(&order).await.unwrap());
        journal.bind_account("bol", "client id a", false).await.unwrap();
        let pass = returns_pass("bol");
        assert!(
            journal
                .claim_pass(&pass, "runner-a", t, t + Duration::hours(1), true)
                .await
                .unwrap()
        );
        let item = commerce_facade::ReturnRecord {
            key: return_key("bol", "31234567"),
            channel: "bol".into(),
            return_id: "R-1".into(),
            rma_id: "31234567".into(),
            order_id: "1043946570".into(),
            ean: "8712345678906".into(),
            expected: 1,
            ..Default::default()
        };
        journal
            .save_returns(&pass, "runner-a", &[(item, Some("seen on bol".into()))])
            .await
            .unwrap();
        assert!(
            journal
                .claim_pass("stock", "runner-a", t, t + Duration::hours(1), true)
                .await
                .unwrap()
        );
        journal
            .save_offers(
                "stock",
                "runner-a",
                &[(OfferRecord::new("bol", "offer-1"), Some("stock sent".into()))],
            )
            .await
            .unwrap();
    }
    // As the release before events left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE events;
         DELETE FROM schema_migrations WHERE number = 8;
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);
    assert!(
        SqliteJournal::open_read_only(&path).is_err(),
        "schema 7 is brought up to date by a writing command first"
    );
    let before = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!tables.iter().any(|t| t.starts_with("events")), "{tables:?}");
        tables
    };
    let journal = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 8);
    let applied = journal.migrations().await.unwrap();
    let numbers: Vec<i64> = applied.iter().map(|m| m.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(applied[7].1, "events");
    let held = contents(&journal).await;
    assert!(held.contains("1043946570") && held.contains("offer-1") && held.contains("31234567"));
    assert!(held.contains("seen on bol") && held.contains("stock sent") && held.contains("runner-a"));
    assert!(
        journal.bind_account("bol", "client id b", false).await.is_err(),
        "the account kept"
    );
    // The table and its indexes, and nothing else, added.
    let after: Vec<String> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.prepare("SELECT name FROM sqlite_master ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let added: Vec<&String> = after.iter().filter(|t| !before.contains(t)).collect();
    assert_eq!(
        added,
        [
            "events",
            "events_handled",
            "events_unhandled",
            "sqlite_autoindex_events_1"
        ],
        "{after:?}"
    );
    assert!(before.iter().all(|t| after.contains(t)));
    // Events are journaled.
    let e = delivery(1, t);
    assert!(journal.add_event(&e).await.unwrap());
    assert_eq!(journal.unhandled_events("bol", 5).await.unwrap(), vec![e]);
    drop(journal);
    let again = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(again.migrations().await.unwrap(), applied, "recorded once");
    assert_eq!(contents(&again).await, held, "nothing else changed");
    drop(again);
    let read_only = SqliteJournal::open_read_only(&path).unwrap();
    assert_eq!(read_only.event_stats().await.unwrap().received, 1);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Event rows edited by hand (a time that is not one, a body that is not UTF-8 text, a
/// blob for a kind) are passed over by every read, each logged by its id; they take no
/// place of a limit, and the events that read come in their order. The counts still
/// count them (they are not handled); the last time received is the latest that reads; a
/// spoilt row is still marked handled and purged.
#[tokio::test]
async fn an_unreadable_event_is_passed_over() {
    let path = temp_path("unreadable");
    let journal = SqliteJournal::create(&path).unwrap();
    let t = now();
    let events: Vec<EventRecord> = (0..7)
        .map(|n| delivery(n, t + Duration::seconds(n as i64)))
        .collect();
    for e in &events {
        assert!(journal.add_event(e).await.unwrap());
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (n, set) in [
        (0, "received_at = 'yesterday'"),
        (2, "body = CAST(X'C328' AS TEXT)"),
        (3, "kind = X'00FF'"),
        (5, "received_at = '9999-12-31T23:59:59.999999Z (edited)'"),
        // Shaped as a time, but none.
        (6, "received_at = '9999-19-39T29:59:69.999999Z'"),
    ] {
        let changed = conn
            .execute(&format!("UPDATE events SET {set} WHERE id = ?1"), [&events[n].id])
            .unwrap();
        assert_eq!(changed, 1, "{n}");
    }
    drop(conn);
    let ids = |found: Vec<EventRecord>| found.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(journal.unhandled_events("bol", 2).await.unwrap()),
        [events[1].id.clone(), events[4].id.clone()],
        "the two that read, oldest first"
    );
    assert_eq!(ids(journal.unhandled_events("bol", 10).await.unwrap()).len(), 2);
    let stats = journal.event_stats().await.unwrap();
    assert_eq!(
        (stats.received, stats.unhandled, stats.last_received),
        (7, 7, Some(events[4].received_at)),
        "{stats:?}"
    );
    for e in &events {
        journal.event_handled(&e.id, t).await.unwrap();
    }
    assert_eq!(journal.event_stats().await.unwrap().unhandled, 0);
    assert_eq!(journal.purge_events(t + Duration::seconds(1)).await.unwrap(), 7);
    drop(journal);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
