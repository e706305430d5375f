//! The journal across releases and over time: a journal written by the first release
//! (schema 0, records without the fields added since) opens, reads and is migrated; one
//! and one of the last release (schema 1) gain the schedule, the leases and the history;
//! one written by a newer release is refused; the file is readable by its owner only; personal
//! fields of orders completed long ago are purged, ids, steps and references kept.

use commerce_testing::facade as support;

use chrono::{Duration, Utc};
use commerce_facade::{Journal, MemoryJournal, OrderRecord, SCHEMA_VERSION, SqliteJournal, Step};

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("commerce-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.sqlite")
}

/// Two records exactly as the first release wrote them (no `completed_at`, no `purged_at`).
fn v0_records() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/journal_v0_records.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A journal file laid out as the first release created it.
fn write_v0_journal(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS orders (
             key TEXT PRIMARY KEY,
             record TEXT NOT NULL,
             updated_at TEXT NOT NULL
         );",
    )
    .unwrap();
    for r in v0_records() {
        conn.execute(
            "INSERT INTO orders (key, record, updated_at) VALUES (?1, ?2, ?3)",
            (
                r["key"].as_str().unwrap(),
                r.to_string(),
                "2026-10-01T08:00:00+00:00",
            ),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_journal_of_the_first_release_opens_reads_and_is_migrated() {
    let path = temp_path("v0");
    write_v0_journal(&path);
    let journal = SqliteJournal::open(&path).unwrap();
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);
    let records = journal.all().await.unwrap();
    assert_eq!(records.len(), 2);
    let done = &records[0];
    assert_eq!(done.key, "bol:1043946584");
    assert!(done.confirmation.is_done());
    assert_eq!(
        done.completed_at.map(|t| t.to_rfc3339()),
        Some("2026-10-01T08:00:00+00:00".to_owned()),
        "a completed order of schema 0 counts as completed when last written"
    );
    let waiting = &records[1];
    assert_eq!(waiting.submission, Step::Started);
    assert_eq!(waiting.completed_at, None);
    // Reopening is a no-op, and the records survive a rewrite.
    drop(journal);
    let journal = SqliteJournal::open(&path).unwrap();
    let now = Utc::now();
    let held = journal
        .claim("t", &["bol".to_owned()], now, now + Duration::minutes(1))
        .await
        .unwrap()
        .expect("the unfinished order is open");
    assert_eq!(held, records[1]);
    assert_eq!(
        journal.claim("t", &["bol".to_owned()], now, now).await.unwrap(),
        None,
        "the completed one is not"
    );
    journal.release("t", &held, "").await.unwrap();
    assert_eq!(journal.all().await.unwrap(), records);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A journal file as the release before this one left it (schema 1: `completed_at` in
/// the records and in a column), with one order completed and one under way.
fn write_v1_journal(path: &std::path::Path) {
    write_v0_journal(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "ALTER TABLE orders ADD COLUMN completed_at TEXT;
         CREATE INDEX IF NOT EXISTS orders_completed_at ON orders (completed_at);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    let mut done = v0_records().remove(0);
    done["completed_at"] = "2026-10-01T08:00:00Z".into();
    conn.execute(
        "UPDATE orders SET record = ?1, completed_at = ?2 WHERE key = ?3",
        (
            done.to_string(),
            "2026-10-01T08:00:00.000000Z",
            done["key"].as_str().unwrap(),
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_journal_of_the_last_release_is_migrated_to_the_schedule_and_leases() {
    let path = temp_path("v1");
    write_v1_journal(&path);
    let journal = SqliteJournal::open(&path).unwrap();
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);
    let records = journal.all().await.unwrap();
    assert!(records[0].completed_at.is_some() && !records[0].is_open());
    assert!(records[1].is_open() && records[1].due.is_none());
    let channels = ["bol".to_owned()];
    assert!(
        journal
            .next_due(&channels)
            .await
            .unwrap()
            .is_some_and(|due| due <= Utc::now()),
        "the order under way is due at once"
    );
    let now = Utc::now();
    let held = journal
        .claim("runner-a", &channels, now, now + Duration::minutes(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.key, "bol:1043946591");
    assert_eq!(journal.leases(now).await.unwrap()[0].runner, "runner-a");
    journal.release("runner-a", &held, "checked").await.unwrap();
    assert_eq!(journal.history(&held.key).await.unwrap()[0].note, "checked");
    // The completed order can still be purged (its column was carried over).
    assert_eq!(journal.purge_personal(Utc::now()).await.unwrap(), 1);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_journal_of_a_newer_release_is_refused() {
    let path = temp_path("newer");
    drop(SqliteJournal::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteJournal::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer release"), "{err}");
    assert!(
        matches!(err, commerce_core::Error::Storage { retryable: false, .. }),
        "a storage error, not retryable: {err:?}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_journal_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_path("mode");
    let journal = SqliteJournal::open(&path).unwrap();
    let r: OrderRecord = serde_json::from_value(v0_records().remove(0)).unwrap();
    journal.add(&r).await.unwrap();
    for file in [path.clone(), path.with_extension("sqlite-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    // An existing journal with a looser mode is narrowed.
    drop(journal);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(SqliteJournal::open(&path).unwrap());
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

async fn purge_in(journal: &dyn Journal) {
    let mut records: Vec<OrderRecord> = v0_records()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let mut recent = records[0].clone();
    recent.key = "bol:recent".into();
    recent.completed_at = Some(Utc::now() - Duration::days(2));
    records[0].completed_at = Some(Utc::now() - Duration::days(31));
    for r in records.iter().chain([&recent]) {
        journal.add(r).await.unwrap();
    }
    assert_eq!(
        journal
            .purge_personal(Utc::now() - Duration::days(30))
            .await
            .unwrap(),
        1
    );
    let old = journal.load("bol:1043946584").await.unwrap().unwrap();
    let o = &old.order;
    assert!(old.purged_at.is_some());
    assert!(o.customer.email.is_empty() && o.customer.first_name.is_none() && o.customer.last_name.is_none());
    for a in [&o.shipping_address, o.billing_address.as_ref().unwrap()] {
        assert!(a.first_name.is_empty() && a.last_name.is_empty() && a.street.is_empty());
        assert!(a.house_number.is_empty() && a.postcode.is_empty() && a.city.is_empty());
        assert!(a.phone.is_none() && a.email.is_none() && a.company.is_none());
        assert_eq!(a.country, "BE", "the country is kept");
    }
    // Ids, lines, steps and references are kept.
    assert_eq!((o.id.as_str(), o.lines.len()), ("1043946584", 1));
    assert_eq!(old.submission, records[0].submission);
    assert_eq!(old.shipped, records[0].shipped);
    assert_eq!(old.invitations, records[0].invitations);
    // Orders completed recently, and orders not completed, keep everything.
    assert_eq!(journal.load("bol:recent").await.unwrap().unwrap(), recent);
    assert_eq!(journal.load("bol:1043946591").await.unwrap().unwrap(), records[1]);
    assert_eq!(
        journal.purge_personal(Utc::now()).await.unwrap(),
        1,
        "only the recent one is left"
    );
}

#[tokio::test]
async fn personal_fields_of_orders_completed_long_ago_are_purged() {
    let path = temp_path("purge");
    purge_in(&SqliteJournal::open(&path).unwrap()).await;
    purge_in(&MemoryJournal::new()).await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// An order an operator cancelled keeps its personal data as long as a completed one does,
/// and no longer.
#[tokio::test]
async fn personal_fields_of_orders_cancelled_long_ago_are_purged_too() {
    let path = temp_path("purge-cancelled");
    let sqlite = SqliteJournal::open(&path).unwrap();
    let memory = MemoryJournal::new();
    for journal in [&sqlite as &dyn Journal, &memory] {
        let mut old: OrderRecord = serde_json::from_value(v0_records().remove(1)).unwrap();
        old.cancelled = Some("cancelled by an operator".into());
        old.cancelled_at = Some(Utc::now() - Duration::days(40));
        let mut recent = old.clone();
        recent.key = "bol:recent".into();
        recent.cancelled_at = Some(Utc::now() - Duration::days(1));
        journal.add(&old).await.unwrap();
        journal.add(&recent).await.unwrap();
        assert_eq!(
            journal
                .purge_personal(Utc::now() - Duration::days(30))
                .await
                .unwrap(),
            1
        );
        let purged = journal.load(&old.key).await.unwrap().unwrap();
        assert!(purged.purged_at.is_some() && purged.order.customer.email.is_empty());
        assert!(
            journal
                .load("bol:recent")
                .await
                .unwrap()
                .unwrap()
                .purged_at
                .is_none()
        );
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A journal serves one account per channel: another account's client is refused (nothing
/// changes), the same one passes, and an operator's "new credentials" records the new one.
#[tokio::test]
async fn a_journal_serves_one_account_per_channel() {
    let path = temp_path("accounts");
    let sqlite = SqliteJournal::create(&path).unwrap();
    let memory = MemoryJournal::new();
    for journal in [&sqlite as &dyn Journal, &memory] {
        journal.bind_account("bol", "client id a", false).await.unwrap();
        journal.bind_account("bol", "client id a", false).await.unwrap();
        let refused = journal
            .bind_account("bol", "client id b", false)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, commerce_facade::JournalError::OtherAccount { .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("--new-credentials"), "{refused}");
        journal.bind_account("other", "x", false).await.unwrap();
        journal.bind_account("bol", "client id b", true).await.unwrap();
        journal.bind_account("bol", "client id b", false).await.unwrap();
        assert!(journal.bind_account("bol", "client id a", false).await.is_err());
    }
    drop(sqlite);
    // Kept in the file.
    let again = SqliteJournal::open_existing(&path).unwrap();
    assert!(again.bind_account("bol", "client id a", false).await.is_err());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Of the orders due, the one furthest along is claimed first (a shipment check before a
/// new order routed, however long the new one waited), then the soonest due; the same on
/// SQLite and in memory (and on PostgreSQL: `tests/postgres.rs`).
#[tokio::test]
async fn the_order_furthest_along_is_claimed_first() {
    let path = temp_path("rank");
    let sqlite = SqliteJournal::create(&path).unwrap();
    let memory = MemoryJournal::new();
    for journal in [&sqlite as &dyn Journal, &memory] {
        support::claims_furthest_along_first(journal).await;
    }
    drop(sqlite);
    // Kept in the file.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ranks: Vec<(String, i64)> = conn
        .prepare("SELECT key, rank FROM orders ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ranks, [("bol:new".to_owned(), 0), ("bol:shipping".to_owned(), 2)]);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// The shared stores in the journal's file keep the rules of every store (the suite run
/// over memory and PostgreSQL too), each "process" opening the journal on its own; and
/// the file, its `-wal` and `-shm` stay readable by their owner only once they wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_stores_keep_the_rules_of_every_store() {
    use commerce_testing::stores::{Subject, conformance};
    let path = temp_path("stores");
    drop(SqliteJournal::create(&path).unwrap());
    let (p, q) = (path.clone(), path.clone());
    conformance(&Subject {
        name: "sqlite",
        open: Box::new(move || SqliteJournal::open_existing(&p).unwrap().shared_state().unwrap()),
        at_rest: Some(Box::new(move || {
            let mut bytes = std::fs::read(&q).unwrap();
            bytes.extend(std::fs::read(q.with_extension("sqlite-wal")).unwrap_or_default());
            bytes
        })),
        across_processes: true,
    })
    .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            path.clone(),
            path.with_extension("sqlite-wal"),
            path.with_extension("sqlite-shm"),
        ] {
            // The `-wal` and `-shm` go when the last connection closes (checkpointed):
            // whichever are there are the owner's only.
            let Ok(meta) = std::fs::metadata(&file) else {
                assert_ne!(file, path, "the journal itself is there");
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A journal of the last release (schema 3) gains the shared state's tables, in the one
/// migration transaction, its orders kept; a journal opened read-only has no shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_schema_3_gains_the_shared_state() {
    use commerce_core::{Credential, Stored};
    let path = temp_path("v3");
    {
        let journal = SqliteJournal::create(&path).unwrap();
        journal
            .add(&serde_json::from_value(v0_records().remove(0)).unwrap())
            .await
            .unwrap();
    }
    // As schema 3 left it: no shared tables, no rank column, no offers, passes, returns or
    // events, no table of migrations.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE schema_migrations; DROP TABLE offers; DROP TABLE passes; DROP TABLE returns; DROP TABLE events;
         DROP TABLE shared_tokens; DROP TABLE shared_buckets; DROP TABLE shared_grants;
         DROP INDEX orders_rank_due; ALTER TABLE orders DROP COLUMN rank;
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    assert!(
        SqliteJournal::open_read_only(&path).is_err(),
        "schema 3 is brought up to date by a writing command first"
    );
    let journal = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(journal.all().await.unwrap().len(), 1);
    let shared = journal.shared_state().unwrap();
    let c = Credential {
        id: "https://login.bol.com/token client".into(),
        secret: "s".to_owned().into(),
    };
    let hold = std::time::Duration::from_secs(45);
    assert!(matches!(
        shared.tokens.take(&c, hold, None, hold).await.unwrap(),
        Stored::Fetch
    ));
    drop(shared);
    let read_only = SqliteJournal::open_read_only(&path).unwrap();
    assert!(read_only.shared_state().is_err());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A journal file exactly as the release before numbered migrations left it (schema 5:
/// its schema a `user_version` alone, no table of migrations), with the statements of that
/// release, an order under way (leased), one completed, their history and the account.
fn write_v5_journal(path: &std::path::Path) {
    write_v1_journal(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "ALTER TABLE orders ADD COLUMN channel TEXT NOT NULL DEFAULT '';
         ALTER TABLE orders ADD COLUMN open INTEGER NOT NULL DEFAULT 1;
         ALTER TABLE orders ADD COLUMN due TEXT;
         ALTER TABLE orders ADD COLUMN lease_owner TEXT;
         ALTER TABLE orders ADD COLUMN lease_until TEXT;
         CREATE INDEX orders_due ON orders (open, due);
         CREATE TABLE history (
             id INTEGER PRIMARY KEY,
             key TEXT NOT NULL,
             at TEXT NOT NULL,
             by TEXT NOT NULL,
             note TEXT NOT NULL
         );
         CREATE INDEX history_key ON history (key, id);
         CREATE TABLE accounts (
             channel TEXT PRIMARY KEY,
             account TEXT NOT NULL,
             since TEXT NOT NULL
         );
         CREATE TABLE shared_tokens (
             credential TEXT PRIMARY KEY,
             sealed BLOB,
             expires_at INTEGER,
             generation INTEGER NOT NULL DEFAULT 0,
             held_until INTEGER,
             strikes INTEGER NOT NULL DEFAULT 0
         );
         CREATE TABLE shared_buckets (
             bucket TEXT PRIMARY KEY,
             paused_until INTEGER,
             budget_left INTEGER,
             budget_until INTEGER
         );
         CREATE TABLE shared_grants (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             bucket TEXT NOT NULL,
             at INTEGER NOT NULL,
             open INTEGER NOT NULL,
             open_until INTEGER NOT NULL
         );
         CREATE INDEX shared_grants_bucket ON shared_grants (bucket, at);
         ALTER TABLE orders ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
         CREATE INDEX orders_rank_due ON orders (open, rank DESC, due);
         UPDATE orders SET channel = 'bol', open = completed_at IS NULL;
         UPDATE orders SET lease_owner = 'runner-a', lease_until = '9999-01-01T00:00:00.000000Z'
             WHERE key = 'bol:1043946591';
         INSERT INTO history (key, at, by, note)
             VALUES ('bol:1043946591', '2026-10-01T08:00:00.000000Z', 'runner-a', 'submitting to shopwedo');
         INSERT INTO accounts (channel, account, since) VALUES ('bol', 'client id a', '2026-10-01T08:00:00.000000Z');
         INSERT INTO shared_buckets (bucket, paused_until) VALUES ('b', 42);
         PRAGMA user_version = 5;",
    )
    .unwrap();
}

/// A journal of the release before numbered migrations (schema 5) opens with nothing lost:
/// its records, history, lease, account and shared state are as they were; migrations 1
/// to 5 are recorded as applied, with their checksums, and 6 (offers and passes), 7
/// (returns) and 8 (events) run; it
/// is read-only only once a writing command brought it up to date, and a second opening
/// changes nothing.
#[tokio::test]
async fn a_journal_of_schema_5_is_adopted_without_loss() {
    let path = temp_path("v5");
    write_v5_journal(&path);
    assert!(
        SqliteJournal::open_read_only(&path).is_err(),
        "schema 5 is brought up to date by a writing command first"
    );
    let before: Vec<OrderRecord> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn.prepare("SELECT record FROM orders ORDER BY key").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|text| serde_json::from_str(&text.unwrap()).unwrap())
            .collect()
    };
    assert_eq!(before.len(), 2);
    let journal = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(journal.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(journal.all().await.unwrap(), before, "every record as it was");
    let applied = journal.migrations().await.unwrap();
    let numbers: Vec<i64> = applied.iter().map(|m| m.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8], "1 to 5 adopted, 6 to 8 run");
    assert!(applied.iter().all(|m| m.2.len() == 64), "{applied:?}");
    assert!(
        journal.offers().await.unwrap().is_empty(),
        "the offers' table made"
    );
    assert_eq!(
        journal.pass("stock").await.unwrap(),
        None,
        "the passes' table made"
    );
    assert!(
        journal.returns().await.unwrap().is_empty(),
        "the returns' table made"
    );
    let now = Utc::now();
    let leases = journal.leases(now).await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (leases[0].key.as_str(), leases[0].runner.as_str()),
        ("bol:1043946591", "runner-a")
    );
    assert_eq!(
        journal.history("bol:1043946591").await.unwrap()[0].note,
        "submitting to shopwedo"
    );
    assert!(
        journal.bind_account("bol", "client id b", false).await.is_err(),
        "the account kept"
    );
    drop(journal);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let paused: i64 = conn
        .query_row(
            "SELECT paused_until FROM shared_buckets WHERE bucket = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(paused, 42, "the shared state kept");
    drop(conn);
    let again = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(again.migrations().await.unwrap(), applied, "recorded once");
    assert_eq!(again.all().await.unwrap(), before);
    drop(again);
    let read_only = SqliteJournal::open_read_only(&path).unwrap();
    assert_eq!(
        read_only.all().await.unwrap(),
        before,
        "read-only once up to date"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A migration recorded as applied that differs from this release's (its SQL edited after
/// it was released) is refused, by number, for writing and for reading, and nothing
/// changes; so is one this release does not know.
#[tokio::test]
async fn a_changed_or_unknown_migration_is_refused() {
    use commerce_facade::{JournalError, MigrationError};
    let path = temp_path("changed");
    drop(SqliteJournal::create(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE number = 3",
        [],
    )
    .unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    for opened in [
        SqliteJournal::open_existing_journal(&path),
        SqliteJournal::open_read_only(&path),
    ] {
        let err = opened.unwrap_err();
        assert!(
            matches!(
                &err,
                JournalError::Migration(MigrationError::Changed { number: 3, name, recorded, .. })
                    if name == "accounts" && recorded == "edited"
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().contains("migration 3 (accounts)"), "{err}");
    }
    let err = SqliteJournal::open_existing(&path).unwrap_err();
    assert!(
        matches!(err, commerce_core::Error::Storage { retryable: false, .. }),
        "a storage error, not retryable: {err:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing changed");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    // A migration this release does not know: written by a newer release.
    let path = temp_path("unknown");
    drop(SqliteJournal::create(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (number, name, checksum, applied_at) VALUES (9, 'refunds', 'x', 'now')",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteJournal::open_existing_journal(&path).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Migration(MigrationError::Newer {
                found: 9,
                supported: SCHEMA_VERSION
            })
        ),
        "{err:?}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A save that waits for the file's lock (another process writing, a slow disk) blocks no
/// thread of the runtime: on a runtime of one thread, while the save waits, a timer fires
/// (a lease renewal's heartbeat) and another runner's read of the journal completes; the
/// save completes once the lock is given back. (When the journal's calls blocked, the
/// save held the only thread for its whole busy wait.)
#[tokio::test(flavor = "current_thread")]
async fn a_save_waiting_for_the_file_stalls_no_other_future() {
    let path = temp_path("slow-save");
    let journal = SqliteJournal::create(&path).unwrap();
    let other = SqliteJournal::open_existing(&path).unwrap();
    for id in ["1", "2"] {
        journal
            .add(&OrderRecord::new(commerce_core::Order {
                id: id.into(),
                channel: "bol".into(),
                ..Default::default()
            }))
            .await
            .unwrap();
    }
    let now = Utc::now();
    let until = now + Duration::minutes(5);
    let mut held = journal
        .claim("a", &["bol".to_owned()], now, until)
        .await
        .unwrap()
        .unwrap();
    // Another process takes the file's write lock and keeps it.
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE;").unwrap();
    held.last_error = Some("slow".into());
    let mut save = Box::pin(journal.save("a", until, &held, "saved while locked"));
    assert!(pending(&mut save).await, "the save waits for the lock");
    // The runtime's one thread is free: a timer fires, another runner reads.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let read = other.load("bol:2").await.unwrap();
    assert!(read.is_some_and(|r| r.is_open()));
    assert!(pending(&mut save).await, "still waiting: the lock is held");
    locker.execute_batch("COMMIT;").unwrap();
    save.await.unwrap();
    drop(journal);
    let saved = other.load(&held.key).await.unwrap().unwrap();
    assert_eq!(saved.last_error.as_deref(), Some("slow"));
    assert_eq!(
        other.history(&held.key).await.unwrap().last().unwrap().note,
        "saved while locked"
    );
    drop((other, locker));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Whether `f`, polled once, is still under way (its output, if it was ready, is dropped).
async fn pending<F: std::future::Future + Unpin>(f: &mut F) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx).is_pending())).await
}
