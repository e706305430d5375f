//! The PostgreSQL journal and shared state (feature `postgres`), against a real server:
//! `COMMERCE_TEST_POSTGRES` names one where the tests may create databases (`.ci/postgres
//! start DIR` starts a throw-away one). Each test works in a database of its own.
#![cfg(feature = "postgres")]

use commerce_testing::facade as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use commerce_core::{Order, SubmissionReceipt};
use commerce_facade::{
    Flow, FlowOptions, Journal, JournalError, OrderRecord, PgJournal, Postgres, SqliteJournal, Step,
};
use commerce_sandbox::Config;
use support::{assert_once, shop_options};

/// A new, empty database on the test server; its address.
fn database() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let admin = std::env::var("COMMERCE_TEST_POSTGRES").expect(
        "COMMERCE_TEST_POSTGRES must name a PostgreSQL server for the `postgres` tests \
         (`.ci/postgres start /tmp/pg` starts one and prints its address)",
    );
    let name = format!(
        "commerce_t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_micros()
    );
    Postgres::create_database(&admin, &name).unwrap()
}

/// Runs `f` on a connection to `url`, on a thread of its own (the synchronous client may
/// not run on an async runtime's thread).
fn sql<T: Send + 'static>(url: &str, f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static) -> T {
    let url = url.to_owned();
    std::thread::spawn(move || f(&mut postgres::Client::connect(&url, postgres::NoTls).unwrap()))
        .join()
        .unwrap()
}

fn record(id: &str) -> OrderRecord {
    OrderRecord::new(Order {
        id: id.into(),
        channel: "bol".into(),
        ..Default::default()
    })
}

/// The lease rules every journal keeps, on two handles of one journal (two runners).
fn lease_rules(a: &dyn Journal, b: &dyn Journal) {
    let channels = ["bol".to_owned()];
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(30);
    assert!(a.add(&record("1")).unwrap());
    assert!(!b.add(&record("1")).unwrap(), "added once");
    let mut r = a.claim("a", &channels, now, until).unwrap().unwrap();
    assert_eq!(b.claim("b", &channels, now, until).unwrap(), None, "held");
    assert!(matches!(
        b.amend("bol:1", "operator", now, &mut |_| Ok(String::new())),
        Err(JournalError::Busy { .. })
    ));
    r.submission = Step::Done(SubmissionReceipt {
        provider: "shopwedo".into(),
        reference: "9".into(),
        already_submitted: false,
    });
    a.save("a", until, &r, "submitted").unwrap();
    a.renew("bol:1", "a", until).unwrap();
    // The lease ends: b takes the order, and a may no longer write it.
    let after = until + chrono::Duration::seconds(1);
    let taken = b
        .claim("b", &channels, after, after + chrono::Duration::seconds(30))
        .unwrap()
        .unwrap();
    assert_eq!(taken.submission, r.submission, "b reads what a saved");
    assert!(matches!(
        a.save("a", after, &r, "late"),
        Err(JournalError::LeaseLost { .. })
    ));
    assert!(matches!(
        a.renew("bol:1", "a", after),
        Err(JournalError::LeaseLost { .. })
    ));
    assert_eq!(a.leases(after).unwrap()[0].runner, "b");
    b.release("b", &taken, "released").unwrap();
    assert_eq!(a.leases(after).unwrap(), vec![]);
    // Due later: not claimed before, and `next_due` says when.
    let mut later = record("2");
    later.due = Some(now + chrono::Duration::minutes(5));
    a.add(&later).unwrap();
    let amended = a
        .amend("bol:1", "operator", after, &mut |r| {
            r.attention = Some("check it".into());
            Ok("held for a person".into())
        })
        .unwrap();
    assert!(!amended.is_open());
    assert_eq!(a.claim("a", &channels, now, until).unwrap(), None);
    let due = a.next_due(&channels).unwrap().unwrap();
    assert!((due - later.due.unwrap()).num_milliseconds().abs() < 1, "{due}");
    let notes: Vec<String> = b.history("bol:1").unwrap().into_iter().map(|h| h.note).collect();
    assert_eq!(
        notes,
        [
            "seen on its channel",
            "submitted",
            "released",
            "held for a person"
        ]
    );
    assert_eq!(a.all().unwrap().len(), 2);
    assert!(a.load("bol:3").unwrap().is_none());
}

#[test]
fn the_postgres_journal_keeps_the_same_lease_rules_as_sqlite() {
    let url = database();
    let (one, two) = (Postgres::connect(&url).unwrap(), Postgres::connect(&url).unwrap());
    lease_rules(&one.journal(), &two.journal());
    support::claims_furthest_along_first(&one.journal());
    let dir = std::env::temp_dir().join(format!("pg-vs-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.sqlite");
    lease_rules(
        &SqliteJournal::open(&path).unwrap(),
        &SqliteJournal::open(&path).unwrap(),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A journal serves one account per channel, between two processes' handles; a completed
/// record that does not read does not stop the purge of the others.
#[test]
fn one_account_per_channel_and_the_purge_passes_over_unreadable_records() {
    let url = database();
    let (one, two) = (Postgres::connect(&url).unwrap(), Postgres::connect(&url).unwrap());
    let (a, b) = (one.journal(), two.journal());
    a.bind_account("bol", "client id a", false).unwrap();
    b.bind_account("bol", "client id a", false).unwrap();
    assert!(matches!(
        b.bind_account("bol", "client id b", false),
        Err(commerce_facade::JournalError::OtherAccount { .. })
    ));
    b.bind_account("bol", "client id b", true).unwrap();
    assert!(a.bind_account("bol", "client id a", false).is_err());
    for id in ["1", "2"] {
        let mut done = record(id);
        done.order.customer.email = format!("buyer{id}@example.nl");
        done.completed_at = Some(Utc::now() - chrono::Duration::days(40));
        a.add(&done).unwrap();
    }
    sql(one.location(), |c| {
        c.execute(
            "UPDATE commerce_orders SET record = 'garbage' WHERE key = 'bol:1'",
            &[],
        )
        .unwrap()
    });
    assert_eq!(
        a.purge_personal(Utc::now() - chrono::Duration::days(30)).unwrap(),
        1
    );
    assert_eq!(a.load("bol:2").unwrap().unwrap().order.customer.email, "");
}

#[test]
fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let url = database();
    // Several processes starting at once: one migrates, the others find it done.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Postgres::connect(&url).map(|p| p.schema_version().unwrap()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), commerce_facade::PG_SCHEMA_VERSION);
    }
    sql(&url, |c| {
        c.execute("UPDATE commerce_schema SET version = 99", &[]).unwrap()
    });
    let err = Postgres::connect(&url).unwrap_err().to_string();
    assert!(err.contains("newer release") && err.contains("99"), "{err}");
}

#[test]
fn a_wrong_address_names_the_database_but_never_its_password() {
    let err = Postgres::connect("postgres://shop:hunter2@127.0.0.1:1/commerce")
        .unwrap_err()
        .to_string();
    assert!(err.contains("postgres://shop@127.0.0.1:1/commerce"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // A working address with a password (the test server trusts local connections and
    // ignores it): neither the handle nor the journal shows it.
    let url = database().replacen("://commerce@", "://commerce:hunter2@", 1);
    assert!(url.contains("hunter2"), "{url}");
    let pg = Postgres::connect(&url).unwrap();
    for shown in [
        format!("{pg:?}"),
        pg.location().to_owned(),
        pg.journal().location(),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn runners_claiming_at_once_each_take_another_order() {
    let url = database();
    let pg = Postgres::connect(&url).unwrap();
    let journal = pg.journal();
    for i in 0..60 {
        journal.add(&record(&i.to_string())).unwrap();
    }
    let now = Utc::now();
    let until = now + chrono::Duration::minutes(5);
    let runners: Vec<_> = (0..4)
        .map(|i| {
            // A connection pool each, as separate processes have.
            let journal: PgJournal = Postgres::connect(&url).unwrap().journal();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                while let Some(r) = journal
                    .claim(&format!("r{i}"), &["bol".to_owned()], now, until)
                    .unwrap()
                {
                    mine.push(r.key);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = runners.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), 60, "each order claimed once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60);
    assert_eq!(journal.leases(now).unwrap().len(), 60);
}

#[test]
fn personal_data_is_purged_and_unreadable_records_are_set_aside() {
    let pg = Postgres::connect(&database()).unwrap();
    let journal = pg.journal();
    let mut done = record("1");
    done.order.customer.email = "buyer@example.nl".into();
    done.completed_at = Some(Utc::now() - chrono::Duration::days(40));
    journal.add(&done).unwrap();
    journal.add(&record("2")).unwrap();
    assert_eq!(
        journal
            .purge_personal(Utc::now() - chrono::Duration::days(30))
            .unwrap(),
        1
    );
    assert_eq!(journal.load("bol:1").unwrap().unwrap().order.customer.email, "");
    assert_eq!(journal.purge_personal(Utc::now()).unwrap(), 0, "once");
    sql(pg.location(), |c| {
        c.execute(
            "UPDATE commerce_orders SET record = '{\"cut' WHERE key = 'bol:2'",
            &[],
        )
        .unwrap()
    });
    let now = Utc::now();
    assert_eq!(
        journal
            .claim("a", &["bol".to_owned()], now, now + chrono::Duration::minutes(1))
            .unwrap(),
        None
    );
    let unreadable = journal.unreadable().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert_eq!(unreadable[0].0, "bol:2");
    assert!(
        journal
            .history("bol:2")
            .unwrap()
            .last()
            .unwrap()
            .note
            .contains("set aside")
    );
}

/// `n` workers of the flow on the database at `url`, each with its own connections and its
/// own clients of `sb` (as separate processes have), sharing tokens and budgets through the
/// database; each runs until nothing is left.
fn workers(
    sb: &commerce_sandbox::Sandbox,
    url: &str,
    n: usize,
    lease: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let pg = Postgres::connect(url).unwrap();
            let env: Vec<(&str, String)> = sb.env();
            let vars = move |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            let providers =
                commerce_facade::Providers::from_vars_shared(&vars, Some(&pg.shared_state())).unwrap();
            let flow = Flow::new(
                providers,
                Arc::new(pg.journal()),
                FlowOptions {
                    runner: format!("worker-{i}"),
                    poll_interval: Duration::from_millis(100),
                    lease,
                    concurrency: 2,
                    ..shop_options()
                },
            );
            tokio::spawn(async move {
                support::run_until_done(&flow, 80).await;
            })
        })
        .collect()
}

/// Three workers, each with its own connections and its own clients (as three processes
/// have), run the flow on one PostgreSQL journal against the sandbox with faults: every
/// order once, one token request per credential for all of them, and no answer 429 (the
/// workers spend the providers' limits jointly).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_on_one_database_share_each_token_and_each_limit() {
    let orders = support::size("PG_FLOW_ORDERS", 24);
    let sb = commerce_sandbox::start(Config {
        orders,
        faults: 0.2,
        seed: 16,
        ..Config::default()
    })
    .await
    .unwrap();
    let url = database();
    for w in workers(&sb, &url, 3, Duration::from_secs(5)) {
        w.await.unwrap();
    }
    let report = sb.report();
    let journal = Postgres::connect(&url).unwrap().journal();
    assert_once(&report, &journal);
    for provider in ["bol", "customer", "safeshop", "sitejabber"] {
        assert_eq!(
            report.providers.get(provider).map_or(0, |p| p.token_requests),
            1,
            "{provider}: one token for every worker\n{report:#?}"
        );
    }
    assert_eq!(report.total_rate_limited(), 0, "{report:#?}");
    assert!(report.total_faults() > 0);
    // What the database holds of the credentials: no secret, no token in clear text.
    let (sealed, names): (Vec<Vec<u8>>, Vec<String>) = sql(&url, |c| {
        let sealed = c
            .query("SELECT sealed FROM commerce_tokens WHERE sealed IS NOT NULL", &[])
            .unwrap()
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        let names = c
            .query("SELECT credential FROM commerce_tokens", &[])
            .unwrap()
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        (sealed, names)
    });
    assert_eq!(sealed.len(), 4, "one token per credential");
    let secrets = sb.env().into_iter().filter(|(k, _)| {
        ["SECRET", "PASSWORD", "KEY", "TOKEN", "CLIENT_ID"]
            .iter()
            .any(|s| k.contains(s))
    });
    for (_, value) in secrets {
        for s in &sealed {
            assert!(!s.windows(value.len()).any(|w| w == value.as_bytes()));
        }
        assert!(names.iter().all(|n| !n.contains(&value)), "{names:?}");
    }
    // The tokens themselves (printable text of 20 characters and more) are not there in
    // clear: no run of 12 printable characters in any sealed value (random bytes have one
    // with a chance of about 10⁻⁷ per position).
    for s in &sealed {
        assert!(
            !s.windows(12).any(|w| w.iter().all(|b| b.is_ascii_alphanumeric())),
            "a sealed token holds clear text"
        );
    }
}

/// The database drops every connection of the workers five times mid-run (a restart, a
/// fail-over): operations under way fail (the journal's as failures of the order, the
/// stores' as `Error::Shared`, nothing sent), the next ones connect again, and the flow
/// ends with every order settled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_mid_run_lose_nothing_and_do_nothing_twice() {
    let orders = 12;
    let sb = commerce_sandbox::start(Config {
        orders,
        seed: 17,
        ..Config::default()
    })
    .await
    .unwrap();
    let url = database();
    let running = workers(&sb, &url, 2, Duration::from_secs(3));
    let name = url.rsplit_once('/').unwrap().1.to_owned();
    let admin = std::env::var("COMMERCE_TEST_POSTGRES").unwrap();
    let dropped = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        let mut dropped = 0;
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(700));
            dropped += c
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    &[&name],
                )
                .unwrap()
                .len();
        }
        dropped
    });
    for w in running {
        w.await.unwrap();
    }
    assert!(dropped.join().unwrap() > 0, "connections were dropped");
    let report = sb.report();
    let journal = Postgres::connect(&url).unwrap().journal();
    assert_once(&report, &journal);
    support::settled(&sb, &journal as &dyn Journal, orders);
    assert_eq!(report.total_rate_limited(), 0, "{report:#?}");
}

/// The shared stores in PostgreSQL keep the rules of every store (the suite run over memory
/// and SQLite too), each "process" connecting on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_stores_keep_the_rules_of_every_store() {
    use commerce_testing::stores::{Subject, conformance};
    let url = database();
    let (u, v) = (url.clone(), url.clone());
    conformance(&Subject {
        name: "postgres",
        open: Box::new(move || Postgres::connect(&u).unwrap().shared_state()),
        at_rest: Some(Box::new(move || {
            sql(&v, |c| {
                let mut bytes = Vec::new();
                for r in c
                    .query("SELECT credential, sealed FROM commerce_tokens", &[])
                    .unwrap()
                {
                    bytes.extend(r.get::<_, String>(0).into_bytes());
                    bytes.extend(r.get::<_, Option<Vec<u8>>>(1).unwrap_or_default());
                }
                for r in c.query("SELECT bucket FROM commerce_rate_buckets", &[]).unwrap() {
                    bytes.extend(r.get::<_, String>(0).into_bytes());
                }
                for r in c.query("SELECT bucket FROM commerce_rate_grants", &[]).unwrap() {
                    bytes.extend(r.get::<_, String>(0).into_bytes());
                }
                bytes
            })
        })),
        across_processes: true,
    })
    .await;
}
