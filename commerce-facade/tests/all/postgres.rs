//! The PostgreSQL journal and shared state (feature `postgres`), against a real server:
//! `COMMERCE_TEST_POSTGRES` names one where the tests may create databases (`.ci/postgres
//! start DIR` starts a throw-away one). Each test works in a database of its own.
#![cfg(feature = "postgres")]

use commerce_testing::facade as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use commerce_core::Order;
use commerce_facade::{Flow, FlowOptions, Journal, OrderRecord, PgJournal, Postgres};
use commerce_sandbox::Config;
use support::journal_suite::{Subject, conformance};
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

/// The rules every journal keeps (the suite run over memory and SQLite too), on two
/// handles of each journal, each with its own connections (two runner processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_journal_keeps_the_rules_of_every_journal() {
    conformance(&Subject {
        name: "postgres",
        fresh: Box::new(|| {
            let url = database();
            let a: Arc<dyn Journal> = Arc::new(Postgres::connect(&url).unwrap().journal());
            let b: Arc<dyn Journal> = Arc::new(Postgres::connect(&url).unwrap().journal());
            (a, b)
        }),
        spoil_offer: Some(Box::new(|journal, channel, offer_id| {
            let (channel, offer_id) = (channel.to_owned(), offer_id.to_owned());
            let changed = sql(&journal.location(), move |c| {
                c.execute(
                    "UPDATE commerce_offers SET record = '{\"channel\": \"bol\", cut short'
                     WHERE channel = $1 AND offer_id = $2",
                    &[&channel, &offer_id],
                )
                .unwrap()
            });
            assert_eq!(changed, 1);
        })),
    })
    .await;
}

/// A journal serves one account per channel, between two processes' handles; a completed
/// record that does not read does not stop the purge of the others.
#[tokio::test]
async fn one_account_per_channel_and_the_purge_passes_over_unreadable_records() {
    let url = database();
    let (one, two) = (Postgres::connect(&url).unwrap(), Postgres::connect(&url).unwrap());
    let (a, b) = (one.journal(), two.journal());
    a.bind_account("bol", "client id a", false).await.unwrap();
    b.bind_account("bol", "client id a", false).await.unwrap();
    assert!(matches!(
        b.bind_account("bol", "client id b", false).await,
        Err(commerce_facade::JournalError::OtherAccount { .. })
    ));
    b.bind_account("bol", "client id b", true).await.unwrap();
    assert!(a.bind_account("bol", "client id a", false).await.is_err());
    for id in ["1", "2"] {
        let mut done = record(id);
        done.order.customer.email = format!("buyer{id}@example.nl");
        done.completed_at = Some(Utc::now() - chrono::Duration::days(40));
        a.add(&done).await.unwrap();
    }
    sql(one.location(), |c| {
        c.execute(
            "UPDATE commerce_orders SET record = 'garbage' WHERE key = 'bol:1'",
            &[],
        )
        .unwrap()
    });
    assert_eq!(
        a.purge_personal(Utc::now() - chrono::Duration::days(30))
            .await
            .unwrap(),
        1
    );
    assert_eq!(a.load("bol:2").await.unwrap().unwrap().order.customer.email, "");
}

#[tokio::test]
async fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let url = database();
    // Several processes starting at once: one migrates, the others find it done.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Postgres::connect(&url))
        })
        .collect();
    for h in handles {
        let pg = h.join().unwrap().unwrap();
        assert_eq!(
            pg.schema_version().await.unwrap(),
            commerce_facade::PG_SCHEMA_VERSION
        );
        let numbers: Vec<i64> = pg.migrations().await.unwrap().into_iter().map(|m| m.0).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6], "each migration recorded once");
    }
    sql(&url, |c| {
        c.execute("UPDATE commerce_schema SET version = 99", &[]).unwrap()
    });
    let err = Postgres::connect(&url).unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let err = err.to_string();
    assert!(err.contains("newer release") && err.contains("99"), "{err}");
}

/// A migration recorded as applied that is not this release's (edited after it was
/// applied) is refused, with its number, and nothing changes.
#[tokio::test]
async fn a_changed_migration_is_refused() {
    let url = database();
    drop(Postgres::connect(&url).unwrap());
    sql(&url, |c| {
        c.execute(
            "UPDATE commerce_migrations SET checksum = 'edited' WHERE number = 2",
            &[],
        )
        .unwrap()
    });
    let err = Postgres::connect(&url).unwrap_err();
    assert!(
        matches!(err, commerce_core::Error::Storage { retryable: false, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("migration 2 (accounts)") && text.contains("differs"),
        "{text}"
    );
}

/// A database of the last release (schema 2, no table of migrations) is brought to this
/// release's schema, its orders kept, and its migrations recorded.
#[tokio::test]
async fn a_database_of_an_earlier_release_is_migrated_without_loss() {
    let url = database();
    let text = serde_json::to_string(&record("1")).unwrap();
    sql(&url, move |c| {
        c.batch_execute(include_str!(
            "../../migrations/postgres/0001_journal_and_stores.sql"
        ))
        .unwrap();
        c.batch_execute(include_str!("../../migrations/postgres/0002_accounts.sql"))
            .unwrap();
        c.batch_execute(
            "CREATE TABLE commerce_schema (version INTEGER NOT NULL);
             INSERT INTO commerce_schema (version) VALUES (2);
             INSERT INTO commerce_accounts (channel, account, since) VALUES ('bol', 'client id a', now());",
        )
        .unwrap();
        c.execute(
            "INSERT INTO commerce_orders (key, record, updated_at, channel, open) VALUES ('bol:1', $1, now(), 'bol', true)",
            &[&text],
        )
        .unwrap();
    });
    let pg = Postgres::connect(&url).unwrap();
    assert_eq!(
        pg.schema_version().await.unwrap(),
        commerce_facade::PG_SCHEMA_VERSION
    );
    let numbers: Vec<i64> = pg.migrations().await.unwrap().into_iter().map(|m| m.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    let journal = pg.journal();
    assert_eq!(journal.load("bol:1").await.unwrap().unwrap().order.id, "1");
    assert!(
        journal.bind_account("bol", "client id b", false).await.is_err(),
        "the account kept"
    );
}

/// A database of the release before events (schema 5, migrations 1 to 5 recorded) gains
/// their table when a runner connects, migration 6 recorded, its orders and account kept.
#[tokio::test]
async fn a_database_of_schema_5_gains_the_events() {
    use commerce_testing::facade::journal_suite::event;
    let url = database();
    {
        let journal = Postgres::connect(&url).unwrap().journal();
        journal.add(&record("1")).await.unwrap();
        journal.bind_account("bol", "client id a", false).await.unwrap();
    }
    sql(&url, |c| {
        c.batch_execute(
            "DROP TABLE commerce_events;
             DELETE FROM commerce_migrations WHERE number = 6;
             UPDATE commerce_schema SET version = 5;",
        )
        .unwrap()
    });
    let pg = Postgres::connect(&url).unwrap();
    assert_eq!(pg.schema_version().await.unwrap(), 6);
    let applied = pg.migrations().await.unwrap();
    let numbers: Vec<i64> = applied.iter().map(|m| m.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    assert_eq!(applied[5].1, "events");
    let journal = pg.journal();
    assert_eq!(journal.load("bol:1").await.unwrap().unwrap().order.id, "1");
    assert!(
        journal.bind_account("bol", "client id b", false).await.is_err(),
        "the account kept"
    );
    let e = event("bol", 1, "ORDER:ORDER_CREATED", Some("1"), Utc::now());
    assert!(journal.add_event(&e).await.unwrap());
    assert_eq!(journal.event_stats().await.unwrap().received, 1);
}

/// Two runners (each with its own connections) journal the same delivery at once, 50
/// times: each time exactly one of them journals it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_journaling_one_delivery_at_once_journal_it_once() {
    use commerce_testing::facade::journal_suite::event;
    let url = database();
    let a = Postgres::connect(&url).unwrap().journal();
    let b = Postgres::connect(&url).unwrap().journal();
    for n in 0..50 {
        let e = event("bol", n, "ORDER:ORDER_CREATED", Some("1"), Utc::now());
        let (one, two) = tokio::join!(a.add_event(&e), b.add_event(&e));
        let added = [one.unwrap(), two.unwrap()];
        assert_eq!(added.iter().filter(|x| **x).count(), 1, "round {n}: {added:?}");
    }
    let stats = a.event_stats().await.unwrap();
    assert_eq!((stats.received, stats.unhandled), (50, 50));
}

/// An event row that does not read (its table edited by hand: a `NULL` where a value
/// belongs) is passed over and takes no place of a limit; the counts still count it.
#[tokio::test]
async fn an_unreadable_event_is_passed_over() {
    use chrono::SubsecRound;
    use commerce_testing::facade::journal_suite::event;
    let url = database();
    let journal = Postgres::connect(&url).unwrap().journal();
    let t = Utc::now().trunc_subsecs(6);
    let events: Vec<_> = (0..3)
        .map(|n| {
            event(
                "bol",
                n,
                "ORDER:ORDER_CREATED",
                Some("1"),
                t + chrono::Duration::seconds(n as i64),
            )
        })
        .collect();
    for e in &events {
        assert!(journal.add_event(e).await.unwrap());
    }
    let id = events[0].id.clone();
    sql(&url, move |c| {
        c.batch_execute("ALTER TABLE commerce_events ALTER COLUMN kind DROP NOT NULL")
            .unwrap();
        c.execute("UPDATE commerce_events SET kind = NULL WHERE id = $1", &[&id])
            .unwrap()
    });
    assert_eq!(
        journal.unhandled_events("bol", 1).await.unwrap(),
        vec![events[1].clone()],
        "the oldest that reads"
    );
    assert_eq!(
        journal.unhandled_events("bol", 10).await.unwrap(),
        events[1..].to_vec()
    );
    let stats = journal.event_stats().await.unwrap();
    assert_eq!((stats.received, stats.unhandled), (3, 3));
    assert_eq!(stats.last_received, Some(events[2].received_at));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_claiming_at_once_each_take_another_order() {
    let url = database();
    let pg = Postgres::connect(&url).unwrap();
    let journal = pg.journal();
    for i in 0..60 {
        journal.add(&record(&i.to_string())).await.unwrap();
    }
    let now = Utc::now();
    let until = now + chrono::Duration::minutes(5);
    let runners: Vec<_> = (0..4)
        .map(|i| {
            // A connection pool each, as separate processes have.
            let journal: PgJournal = Postgres::connect(&url).unwrap().journal();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(r) = journal
                    .claim(&format!("r{i}"), &["bol".to_owned()], now, until)
                    .await
                    .unwrap()
                {
                    mine.push(r.key);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = Vec::new();
    for h in runners {
        all.extend(h.await.unwrap());
    }
    assert_eq!(all.len(), 60, "each order claimed once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60);
    assert_eq!(journal.leases(now).await.unwrap().len(), 60);
}

#[tokio::test]
async fn personal_data_is_purged_and_unreadable_records_are_set_aside() {
    let pg = Postgres::connect(&database()).unwrap();
    let journal = pg.journal();
    let mut done = record("1");
    done.order.customer.email = "buyer@example.nl".into();
    done.completed_at = Some(Utc::now() - chrono::Duration::days(40));
    journal.add(&done).await.unwrap();
    journal.add(&record("2")).await.unwrap();
    assert_eq!(
        journal
            .purge_personal(Utc::now() - chrono::Duration::days(30))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        journal.load("bol:1").await.unwrap().unwrap().order.customer.email,
        ""
    );
    assert_eq!(journal.purge_personal(Utc::now()).await.unwrap(), 0, "once");
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
            .await
            .unwrap(),
        None
    );
    let unreadable = journal.unreadable().await.unwrap();
    assert_eq!(unreadable.len(), 1);
    assert_eq!(unreadable[0].0, "bol:2");
    assert!(
        journal
            .history("bol:2")
            .await
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
    assert_once(&report, &journal).await;
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
    assert_once(&report, &journal).await;
    support::settled(&sb, &journal as &dyn Journal, orders).await;
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
