//! The journal in an SQLite file: WAL mode with `synchronous = FULL` (a write that
//! returned survives a power loss, so a `Started` step is never forgotten), each operation
//! one `BEGIN IMMEDIATE` transaction, so several runner processes on one machine share it safely (SQLite
//! serialises the writers; a runner waits up to 30 s for the lock, on a blocking thread:
//! its other workers and its lease renewals go on meanwhile).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{Error, SharedState};
use rusqlite::{OpenFlags, OptionalExtension, TransactionBehavior};

use super::file::{self, Open};
use super::migrate;
use super::{
    Amendment, EventRecord, EventStats, HistoryEntry, Journal, JournalError, LeaseInfo, OfferRecord,
    OrderRecord, PassState, ReturnAmendment, ReturnRecord, ReturnRow, Step, offer_rows, pass_lost,
    read_return, readable_offers, readable_returns, return_rows, stamp,
};

/// The journal schema this release writes. 0: the first release (no version recorded);
/// 1: records carry `completed_at` / `purged_at`, kept in a column too, so purges find
/// them without reading every record; 2: the schedule and the leases (columns `channel`,
/// `open`, `due`, `lease_owner`, `lease_until`; records carry `due`, `failures`,
/// `last_error`, `cancelled`) and each order's history (table `history`); 3: the
/// sales-channel accounts the journal serves (table `accounts`); 4: the state the runners
/// share, each credential's token and each rate bucket (tables `shared_tokens`,
/// `shared_buckets`, `shared_grants`; [`SqliteJournal::shared_state`]); 5: how far along
/// each order is (column `rank`: the due order furthest along is claimed first); 6: each
/// offer's last stock sync and the passes over the whole shop (tables `offers`, by channel
/// and offer id with its EAN beside it, and `passes`; an offer's history in `history`); 7:
/// the returns loop's records (table `returns`, by [`return_key`](super::return_key), with
/// channel, RMA id, order id and whether it is open beside each; a return's history in
/// `history`); 8: the events sales channels push (table `events`, by event id, with its
/// channel, kind, resource id, when it was received and when handled, and its raw body).
///
/// Each is a numbered SQL file (`migrations/sqlite/`), recorded with its checksum in the
/// table `schema_migrations` once applied (see [`MigrationError`](super::MigrationError));
/// the number is kept in `PRAGMA user_version` too, which earlier releases read.
pub const SCHEMA_VERSION: i64 = migrate::latest(migrate::SQLITE);

/// How long a runner waits for another one's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A storage error; SQLite's full-disk, read-only, I/O and corrupt-file failures as
/// [`JournalError::Unwritable`] (a write that cannot succeed until someone acts); the
/// others (a lock held past the busy wait above all) as [`JournalError::Storage`], which
/// may pass.
fn storage<E: std::fmt::Display + 'static>(e: E) -> JournalError {
    use rusqlite::ErrorCode as C;
    let code = (&e as &dyn std::any::Any)
        .downcast_ref::<rusqlite::Error>()
        .and_then(rusqlite::Error::sqlite_error_code);
    match code {
        Some(C::DiskFull | C::ReadOnly | C::SystemIoFailure | C::DatabaseCorrupt | C::NotADatabase) => {
            JournalError::Unwritable(e.to_string())
        }
        _ => JournalError::storage(e),
    }
}

/// The columns kept beside a record, as stored: `(completed_at, open, due, rank, channel)`.
fn derived(r: &OrderRecord) -> (Option<String>, bool, Option<String>, i32, &str) {
    let c = r.columns();
    (
        c.completed_at.map(stamp),
        c.open,
        c.due.map(stamp),
        c.rank,
        c.channel,
    )
}

use super::read_record as read;

fn parse_stamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
}

/// A journal in an SQLite file (WAL mode; each operation a transaction).
///
/// Its connection's work (a busy wait for another runner's write, an `fsync`) runs on
/// tokio's blocking threads (`spawn_blocking`), one operation at a time, in the order they
/// were asked for: an operation under way blocks none of the runtime's threads.
pub struct SqliteJournal {
    conn: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    path: String,
    /// The file, as checked and opened.
    real: PathBuf,
    read_only: bool,
    /// The file found unwritable by its shared state's last operation.
    unwritable: super::sqlite_shared::Unwritable,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal").field("path", &self.path).finish()
    }
}

impl SqliteJournal {
    /// Opens the journal at `path`, or creates it where there is no file, readable by its
    /// owner only (it holds names, addresses and e-mail addresses), and brings its schema to
    /// [`SCHEMA_VERSION`]. A journal written by a newer release is refused, so no field it
    /// added is lost by a rewrite; so is a path that is not a journal (another file, a
    /// folder, a device, a journal with several hard links), before anything is changed.
    ///
    /// A service should not create its journal on the way ([`SqliteJournal::open_existing`]):
    /// a journal created where another one was meant knows no order, so orders already
    /// handed over would be handed over again.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_journal(path.as_ref(), Open::OrCreate).map_err(Error::from)
    }

    /// Creates a new journal at `path`; refused where any file is.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_journal(path.as_ref(), Open::Create).map_err(Error::from)
    }

    /// Opens the existing journal at `path` ([`JournalError::Missing`] where there is
    /// none: nothing is created).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_existing_journal(path.as_ref()).map_err(Error::from)
    }

    /// [`SqliteJournal::open_existing`], with the journal's own error.
    pub fn open_existing_journal(path: &Path) -> Result<Self, JournalError> {
        Self::open_journal(path, Open::Existing)
    }

    /// Opens the existing journal at `path` to read it: no file is created, changed or
    /// given another mode, and its schema is not migrated (one older than this release's is
    /// refused until a writing command brings it up to date). Every write is refused.
    pub fn open_read_only(path: &Path) -> Result<Self, JournalError> {
        Self::open_journal(path, Open::ReadOnly)
    }

    fn open_journal(path: &Path, how: Open) -> Result<Self, JournalError> {
        // Runners starting at once on a new journal: one creates it while the others wait
        // for its lock (switching to WAL does not wait for a busy database by itself).
        let mut tries = 0;
        loop {
            match Self::open_once(path, how) {
                Err(JournalError::Storage(e))
                    if tries < 50 && (e.contains("locked") || e.contains("busy")) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                opened => return opened,
            }
        }
    }

    fn open_once(path: &Path, how: Open) -> Result<Self, JournalError> {
        let (real, new) = file::check(path, how)?;
        let shown = real.display().to_string();
        let conn = if how == Open::ReadOnly {
            let conn = read_only(&real)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(storage)?;
            is_journal(&conn, &shown)?;
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(storage)?;
            if version != SCHEMA_VERSION {
                return Err(JournalError::Storage(format!(
                    "{shown} has schema {version}, this release reads {SCHEMA_VERSION}: {}",
                    if version > SCHEMA_VERSION {
                        "upgrade this program"
                    } else {
                        "a command that writes it (`commerce run`) brings it up to date first"
                    }
                )));
            }
            // Read as it is, but not if a migration it records is not this release's.
            migrate::plan(migrate::SQLITE, &recorded(&conn)?, version)?;
            conn
        } else {
            if new {
                owner_only(&real, true)?;
            }
            let mut conn = rusqlite::Connection::open_with_flags(
                &real,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(storage)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(storage)?;
            // An SQLite database of something else is not made into a journal (nor given
            // another mode); one with no table yet is a journal another runner is creating
            // (`run --init` at once).
            let creating = new || (how == Open::OrCreate && is_blank(&conn)?);
            if !creating {
                is_journal(&conn, &shown)?;
            }
            if !new {
                owner_only(&real, false)?;
            }
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;",
            )
            .map_err(storage)?;
            migrate(&mut conn)?;
            conn
        };
        Ok(SqliteJournal {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            path: shown,
            real,
            read_only: how == Open::ReadOnly,
            unwritable: Default::default(),
        })
    }

    /// The state every runner of this journal shares, in the journal's file: each
    /// credential's access token, requested once for its life by whichever runner needs it
    /// first and used by every other one (and by the next runs), and each provider's rate
    /// budgets, spent jointly. For [`Providers::from_vars_shared`](crate::Providers::from_vars_shared),
    /// [`add_provider_shared`](crate::add_provider_shared) or a client builder's `shared`.
    ///
    /// What is stored is what the PostgreSQL stores keep (feature `postgres`): a hash of each credential's identity, its token sealed with
    /// XChaCha20-Poly1305 under a key derived from the credential's secret (never stored: the
    /// file alone does not give the token), and for each rate bucket (named by a hash) its
    /// calls of the longest window, its pause and its budget. Each operation is one
    /// `BEGIN IMMEDIATE` transaction on a connection of its own (`synchronous = NORMAL`: a
    /// power loss forgets at most the last tokens and grants), on a thread of its own. The
    /// file keeps its mode (0600). Refused on a journal opened read-only.
    pub fn shared_state(&self) -> Result<SharedState, Error> {
        if self.read_only {
            return Err(Error::config(format!(
                "{} is open read-only: the shared state is written by runners",
                self.path
            )));
        }
        let store = Arc::new(super::sqlite_shared::SqliteShared::open(
            &self.real,
            self.unwritable.clone(),
        )?);
        Ok(SharedState {
            tokens: store.clone(),
            rates: store,
        })
    }

    /// The schema version of the journal.
    pub async fn schema_version(&self) -> Result<i64, Error> {
        self.with(|conn| {
            conn.query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(storage)
        })
        .await
        .map_err(Error::from)
    }

    /// The migrations recorded as applied: `(number, name, checksum)`, by number.
    pub async fn migrations(&self) -> Result<Vec<(i64, String, String)>, JournalError> {
        self.with(|conn| {
            let mut stmt = conn
                .prepare("SELECT number, name, checksum FROM schema_migrations ORDER BY number")
                .map_err(storage)?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    /// The journal at `COMMERCE_JOURNAL`, or at `default` when it is not set.
    pub fn from_env_or(default: impl AsRef<Path>) -> Result<Self, Error> {
        match commerce_core::env_optional("COMMERCE_JOURNAL") {
            Some(path) => Self::open(path),
            None => Self::open(default),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Every `(key, record)` row, by key.
    async fn rows(&self) -> Result<Vec<(String, String)>, JournalError> {
        self.with(|conn| {
            let mut stmt = conn
                .prepare("SELECT key, record FROM orders ORDER BY key")
                .map_err(storage)?;
            let rows = stmt
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
                .map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    /// Runs `work` on the connection, off the runtime's threads: on a blocking thread
    /// (`spawn_blocking`) when called within a tokio runtime, on the caller's thread
    /// otherwise. Operations take the connection in the order they asked for it; one whose
    /// caller stopped waiting finishes all the same (it holds the connection until then).
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        let mut conn = self.conn.clone().lock_owned().await;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || work(&mut conn))
                .await
                .map_err(|e| JournalError::Storage(format!("a journal operation did not finish: {e}")))?,
            Err(_) => work(&mut conn),
        }
    }

    /// Runs `work` in one write transaction (taken at once, so two runners never both
    /// read and then both write).
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            let out = work(&tx)?;
            tx.commit().map_err(storage)?;
            Ok(out)
        })
        .await
    }

    /// Writes a held record; `lease_until` `None` gives the lease up.
    async fn write_held(
        &self,
        runner: &str,
        lease_until: Option<DateTime<Utc>>,
        record: &OrderRecord,
        note: &str,
    ) -> Result<(), JournalError> {
        let text = serde_json::to_string(record).map_err(storage)?;
        let (completed, open, due, rank, _) = derived(record);
        let (runner, key, note) = (runner.to_owned(), record.key.clone(), note.to_owned());
        self.write(move |tx| {
            let now = Utc::now();
            let changed = tx
                .execute(
                    "UPDATE orders SET record = ?1, updated_at = ?2, completed_at = ?3, open = ?4, due = ?5,
                         lease_owner = CASE WHEN ?6 IS NULL THEN NULL ELSE lease_owner END, lease_until = ?6,
                         rank = ?9
                     WHERE key = ?7 AND lease_owner = ?8",
                    (
                        &text,
                        stamp(now),
                        completed,
                        open,
                        due,
                        lease_until.map(stamp),
                        &key,
                        &runner,
                        rank,
                    ),
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(JournalError::LeaseLost { key });
            }
            if !note.is_empty() {
                history(tx, &key, now, &runner, &note)?;
            }
            Ok(())
        })
        .await
    }
}

fn history(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    at: DateTime<Utc>,
    by: &str,
    note: &str,
) -> Result<(), JournalError> {
    tx.prepare_cached("INSERT INTO history (key, at, by, note) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut insert| insert.execute((key, stamp(at), by, note)))
        .map_err(storage)?;
    Ok(())
}

/// The pass `name` as stored (`None`: it never ran). A lease whose end does not read is
/// taken as ended.
fn read_pass(conn: &rusqlite::Connection, name: &str) -> Result<Option<PassState>, JournalError> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let found: Option<Row> = conn
        .query_row(
            "SELECT lease_owner, lease_until, next_due, last_started, last_finished, last_summary
             FROM passes WHERE name = ?1",
            [name],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            },
        )
        .optional()
        .map_err(storage)?;
    let at = |text: Option<String>| text.as_deref().and_then(parse_stamp);
    Ok(
        found.map(|(owner, until, next_due, started, finished, summary)| PassState {
            name: name.to_owned(),
            lease: owner.map(|o| (o, at(until).unwrap_or_default())),
            next_due: at(next_due),
            last_started: at(started),
            last_finished: at(finished),
            last_summary: summary,
        }),
    )
}

/// Creates a new file readable and writable by its owner only (mode 0600; refused if one
/// appeared since the checks), or narrows an existing journal to that; SQLite gives its
/// `-wal` and `-shm` files the same mode.
fn owner_only(path: &Path, new: bool) -> Result<(), JournalError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if new && std::fs::metadata(path).is_err() {
            match std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(path)
            {
                // Another runner created it at the same moment: the same new journal.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(JournalError::Storage(format!("{}: {e}", path.display()))),
            }
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(storage)?;
    }
    #[cfg(not(unix))]
    let _ = (path, new);
    Ok(())
}

/// A read-only connection that creates no file. A reader of a WAL database keeps its
/// `-wal` and `-shm` files beside it, creating them when no other process has the journal
/// open: then (no `-wal`: every write is in the file itself) it is read as immutable, and
/// otherwise through the files the runners keep.
fn read_only(path: &Path) -> Result<rusqlite::Connection, JournalError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return rusqlite::Connection::open_with_flags(path, flags).map_err(storage);
    }
    // Non-UTF-8 paths are read through the ordinary read-only open.
    let Some(text) = path.to_str() else {
        return rusqlite::Connection::open_with_flags(path, flags).map_err(storage);
    };
    let mut uri = String::from("file:");
    for c in text.chars() {
        match c {
            '?' | '#' | '%' => uri += &format!("%{:02X}", u32::from(c)),
            _ => uri.push(c),
        }
    }
    uri += "?immutable=1";
    rusqlite::Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI).map_err(storage)
}

/// Whether an SQLite database has no table at all.
fn is_blank(conn: &rusqlite::Connection) -> Result<bool, JournalError> {
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(storage)?;
    Ok(tables == 0)
}

/// Whether an existing SQLite database is a journal (has its table of orders).
fn is_journal(conn: &rusqlite::Connection, path: &str) -> Result<(), JournalError> {
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| {
            use rusqlite::ErrorCode as C;
            match e.sqlite_error_code() {
                // The disk, not the file: it cannot be read or written until someone acts
                // (a full disk cannot even take the write-ahead log).
                Some(C::DiskFull | C::SystemIoFailure | C::ReadOnly | C::CannotOpen) => {
                    JournalError::Unwritable(format!(
                        "{path}: {e} (a full disk, a read-only or failing file system?)"
                    ))
                }
                _ => JournalError::NotAJournal {
                    path: path.to_owned(),
                    why: format!("not a readable SQLite database ({e})"),
                },
            }
        })?;
    if tables == 0 {
        return Err(JournalError::NotAJournal {
            path: path.to_owned(),
            why: "an SQLite database without the journal's tables".to_owned(),
        });
    }
    Ok(())
}

/// The migrations a journal records as applied, `(number, checksum)` (none in a journal
/// of a release before the table `schema_migrations`).
fn recorded(conn: &rusqlite::Connection) -> Result<Vec<(i64, String)>, JournalError> {
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .map_err(storage)?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare("SELECT number, checksum FROM schema_migrations ORDER BY number")
        .map_err(storage)?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(storage)?;
    rows.collect::<Result<_, _>>().map_err(storage)
}

/// Brings a journal to [`SCHEMA_VERSION`], in one transaction (two runners starting at
/// once: the second waits, then finds nothing to do): the migrations it has not applied
/// run in order, each recorded with its checksum; a journal of an earlier release (its
/// schema a number alone) has the migrations up to that number recorded first. A journal
/// recording a migration that differs from this release's, or one this release does not
/// know, is refused ([`MigrationError`](super::MigrationError)), unchanged.
fn migrate(conn: &mut rusqlite::Connection) -> Result<(), JournalError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage)?;
    let exists: bool = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(storage)?
        > 0;
    if !exists {
        tx.execute_batch(migrate::SQLITE_BASE).map_err(storage)?;
    }
    let legacy: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(storage)?;
    let done = recorded(&tx)?;
    let from = legacy.max(done.iter().map(|(n, _)| *n).max().unwrap_or(0));
    let (adopt, run) = migrate::plan(migrate::SQLITE, &done, legacy)?;
    if adopt.is_empty() && run.is_empty() {
        return Ok(());
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             number INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             checksum TEXT NOT NULL,
             applied_at TEXT NOT NULL
         );",
    )
    .map_err(storage)?;
    let now = stamp(Utc::now());
    for m in adopt.iter().chain(&run) {
        if run.iter().any(|r| r.number == m.number) {
            tx.execute_batch(m.sql).map_err(storage)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (number, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            (m.number, m.name, m.checksum(), &now),
        )
        .map_err(storage)?;
    }
    if run.is_empty() {
        // Only recorded: the schema is as it was.
        tx.commit().map_err(storage)?;
        return Ok(());
    }
    // The columns beside each record, from the record; records of schema 0 carry no
    // `completed_at`: an order confirmed with every invitation done counts as completed
    // when it was last written.
    let rows: Vec<(String, String, String)> = {
        let mut stmt = tx
            .prepare("SELECT key, record, updated_at FROM orders")
            .map_err(storage)?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?
    };
    for (key, text, updated_at) in rows {
        let Ok(mut r) = serde_json::from_str::<OrderRecord>(&text) else {
            continue;
        };
        if from == 0 {
            let done = r.confirmation.is_done()
                && !r.invitations.is_empty()
                && r.invitations.values().all(Step::is_done);
            if let (true, Some(at)) = (done, parse_stamp(&updated_at)) {
                r.completed_at = Some(at);
            }
        }
        let text = serde_json::to_string(&r).map_err(storage)?;
        let (completed, open, due, rank, channel) = derived(&r);
        tx.execute(
            "UPDATE orders SET record = ?1, completed_at = ?2, open = ?3, due = ?4, channel = ?5, rank = ?6
             WHERE key = ?7",
            (text, completed, open, due, channel, rank, key),
        )
        .map_err(storage)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(storage)?;
    tx.commit().map_err(storage)?;
    tracing::info!(from, to = SCHEMA_VERSION, "journal migrated");
    Ok(())
}

#[async_trait::async_trait]
impl Journal for SqliteJournal {
    async fn pass(&self, name: &str) -> Result<Option<PassState>, JournalError> {
        let name = name.to_owned();
        self.with(move |conn| read_pass(conn, &name)).await
    }

    /// A compare-and-set in one `BEGIN IMMEDIATE` transaction: the pass is read and taken
    /// under the file's write lock, so of runners claiming at once one takes it.
    async fn claim_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        force: bool,
    ) -> Result<bool, JournalError> {
        let (name, runner) = (name.to_owned(), runner.to_owned());
        self.write(move |tx| {
            let pass = read_pass(tx, &name)?.unwrap_or_else(|| PassState {
                name: name.clone(),
                ..Default::default()
            });
            if !pass.may_claim(&runner, now, force) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO passes (name, lease_owner, lease_until, last_started) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET lease_owner = ?2, lease_until = ?3, last_started = ?4",
                (&name, &runner, stamp(until), stamp(now)),
            )
            .map_err(storage)?;
            Ok(true)
        })
        .await
    }

    async fn renew_pass(&self, name: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        let (name, runner) = (name.to_owned(), runner.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE passes SET lease_until = ?1 WHERE name = ?2 AND lease_owner = ?3",
                    (stamp(until), &name, &runner),
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(pass_lost(&name));
            }
            Ok(())
        })
        .await
    }

    async fn end_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), JournalError> {
        let (name, runner, summary) = (name.to_owned(), runner.to_owned(), summary.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE passes SET lease_owner = NULL, lease_until = NULL, next_due = ?1,
                         last_finished = ?2, last_summary = ?3
                     WHERE name = ?4 AND lease_owner = ?5",
                    (stamp(next_due), stamp(now), &summary, &name, &runner),
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(pass_lost(&name));
            }
            Ok(())
        })
        .await
    }

    /// Every offer record that reads, by channel and offer id; one that does not (edited
    /// by hand, cut short) is logged and left out.
    async fn offers(&self) -> Result<Vec<OfferRecord>, JournalError> {
        let rows: Vec<(String, String, String)> = self
            .with(|conn| {
                let mut stmt = conn
                    .prepare("SELECT channel, offer_id, record FROM offers ORDER BY channel, offer_id")
                    .map_err(storage)?;
                let rows = stmt
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .map_err(storage)?;
                rows.collect::<Result<_, _>>().map_err(storage)
            })
            .await?;
        Ok(readable_offers(rows))
    }

    /// One `BEGIN IMMEDIATE` transaction: the pass's owner is checked under the file's
    /// write lock, then every record and note written, or nothing.
    async fn save_offers(
        &self,
        pass: &str,
        runner: &str,
        records: &[(OfferRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        let rows = offer_rows(records)?;
        let (pass, runner) = (pass.to_owned(), runner.to_owned());
        self.write(move |tx| {
            holds_pass(tx, &pass, &runner)?;
            let now = Utc::now();
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO offers (channel, offer_id, ean, record, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (channel, offer_id) DO UPDATE
                         SET ean = excluded.ean, record = excluded.record, updated_at = excluded.updated_at",
                )
                .map_err(storage)?;
            for (channel, offer_id, ean, text, key, note) in rows {
                upsert
                    .execute((&channel, &offer_id, &ean, &text, stamp(now)))
                    .map_err(storage)?;
                if let Some(note) = note {
                    history(tx, &key, now, &runner, &note)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Every return record that reads, by key; one that does not (edited by hand, cut
    /// short) is logged and left out.
    async fn returns(&self) -> Result<Vec<ReturnRecord>, JournalError> {
        let rows: Vec<(String, String)> = self
            .with(|conn| {
                let mut stmt = conn
                    .prepare("SELECT key, record FROM returns ORDER BY key")
                    .map_err(storage)?;
                let rows = stmt
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(storage)?;
                rows.collect::<Result<_, _>>().map_err(storage)
            })
            .await?;
        Ok(readable_returns(rows))
    }

    /// The one row of `key`; [`JournalError::Unreadable`] when it does not read.
    async fn load_return(&self, key: &str) -> Result<Option<ReturnRecord>, JournalError> {
        let key = key.to_owned();
        let found: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT record FROM returns WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(storage)
            })
            .await?;
        found.as_deref().map(read_return).transpose()
    }

    /// One `BEGIN IMMEDIATE` transaction: the pass's owner is checked under the file's
    /// write lock, then every record and note written, or nothing.
    async fn save_returns(
        &self,
        pass: &str,
        runner: &str,
        records: &[(ReturnRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        let rows = return_rows(records)?;
        let (pass, runner) = (pass.to_owned(), runner.to_owned());
        self.write(move |tx| {
            holds_pass(tx, &pass, &runner)?;
            let now = Utc::now();
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO returns (key, channel, rma_id, order_id, record, open, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (key) DO UPDATE
                         SET channel = excluded.channel, rma_id = excluded.rma_id,
                             order_id = excluded.order_id, record = excluded.record,
                             open = excluded.open, updated_at = excluded.updated_at",
                )
                .map_err(storage)?;
            for row in rows {
                upsert
                    .execute((
                        &row.key,
                        &row.channel,
                        &row.rma_id,
                        &row.order_id,
                        &row.text,
                        row.open,
                        stamp(now),
                    ))
                    .map_err(storage)?;
                if let Some(note) = row.note {
                    history(tx, &row.key, now, &runner, &note)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Read (the pass and the record), changed by `change` in the caller, and written back
    /// in one `BEGIN IMMEDIATE` transaction only if neither the pass (its lease and its
    /// last start: a runner that took it since reads records) nor the record was written in
    /// between; on a conflict it is read again. A lease that ended is taken from its runner
    /// in the same transaction, so a runner that outlived its lease cannot write over the
    /// change ([`JournalError::LeaseLost`] at its next write). `change` runs on the
    /// caller's thread, never inside a transaction.
    async fn amend_return(
        &self,
        pass: &str,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: ReturnAmendment<'_>,
    ) -> Result<ReturnRecord, JournalError> {
        /// The pass's `(lease_owner, lease_until, last_started)` as stored, if it has a row.
        type PassColumns = Option<(Option<String>, Option<String>, Option<String>)>;
        fn pass_columns(conn: &rusqlite::Connection, name: &str) -> Result<PassColumns, JournalError> {
            conn.query_row(
                "SELECT lease_owner, lease_until, last_started FROM passes WHERE name = ?1",
                [name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(storage)
        }
        for _ in 0..5 {
            let (p, k) = (pass.to_owned(), key.to_owned());
            let (seen, found): (PassColumns, Option<String>) = self
                .with(move |conn| {
                    let seen = pass_columns(conn, &p)?;
                    let found = conn
                        .query_row("SELECT record FROM returns WHERE key = ?1", [k], |row| row.get(0))
                        .optional()
                        .map_err(storage)?;
                    Ok((seen, found))
                })
                .await?;
            let owner = seen.as_ref().and_then(|(owner, _, _)| owner.clone());
            if let Some(runner) = owner.clone() {
                // A lease whose end does not read is taken as ended (as `pass` reads it).
                let until = seen
                    .as_ref()
                    .and_then(|(_, until, _)| until.as_deref())
                    .and_then(parse_stamp)
                    .unwrap_or_default();
                if until > now {
                    return Err(JournalError::Busy {
                        key: key.to_owned(),
                        runner,
                        until,
                    });
                }
            }
            let Some(before) = found else {
                return Err(JournalError::NotFound(key.to_owned()));
            };
            let mut record = read_return(&before)?;
            let note = change(&mut record).map_err(JournalError::Refused)?;
            record.due = None;
            let row = ReturnRow::of(&record, Some(note))?;
            let (p, by) = (pass.to_owned(), by.to_owned());
            let written = self
                .write(move |tx| {
                    if pass_columns(tx, &p)? != seen {
                        return Ok(false);
                    }
                    let changed = tx
                        .execute(
                            "UPDATE returns SET channel = ?1, rma_id = ?2, order_id = ?3, record = ?4, open = ?5,
                                 updated_at = ?6
                             WHERE key = ?7 AND record = ?8",
                            (
                                &row.channel,
                                &row.rma_id,
                                &row.order_id,
                                &row.text,
                                row.open,
                                stamp(now),
                                &row.key,
                                before,
                            ),
                        )
                        .map_err(storage)?;
                    if changed == 0 {
                        return Ok(false);
                    }
                    if owner.is_some() {
                        tx.execute(
                            "UPDATE passes SET lease_owner = NULL, lease_until = NULL WHERE name = ?1",
                            [&p],
                        )
                        .map_err(storage)?;
                    }
                    history(tx, &row.key, now, &by, row.note.as_deref().unwrap_or_default())?;
                    Ok(true)
                })
                .await?;
            if written {
                return Ok(record);
            }
        }
        Err(JournalError::Storage(format!(
            "{key} changed under each of 5 attempts to amend it; try again"
        )))
    }

    async fn bind_account(&self, channel: &str, account: &str, replace: bool) -> Result<(), JournalError> {
        let (channel, account) = (channel.to_owned(), account.to_owned());
        self.write(move |tx| {
            let recorded: Option<String> = tx
                .query_row(
                    "SELECT account FROM accounts WHERE channel = ?1",
                    [&channel],
                    |row| row.get(0),
                )
                .optional()
                .map_err(storage)?;
            match recorded {
                Some(recorded) if recorded == account => Ok(()),
                Some(recorded) if !replace => Err(JournalError::OtherAccount {
                    channel,
                    recorded,
                    given: account,
                }),
                _ => {
                    tx.execute(
                        "INSERT INTO accounts (channel, account, since) VALUES (?1, ?2, ?3)
                         ON CONFLICT (channel) DO UPDATE SET account = ?2, since = ?3",
                        (&channel, &account, stamp(Utc::now())),
                    )
                    .map_err(storage)?;
                    Ok(())
                }
            }
        })
        .await
    }

    async fn load(&self, key: &str) -> Result<Option<OrderRecord>, JournalError> {
        let key = key.to_owned();
        let text: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT record FROM orders WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(storage)
            })
            .await?;
        text.as_deref().map(read).transpose()
    }

    /// Every record that reads; the others are named by [`SqliteJournal::unreadable`].
    async fn all(&self) -> Result<Vec<OrderRecord>, JournalError> {
        Ok(self.census().await?.0)
    }

    async fn add(&self, record: &OrderRecord) -> Result<bool, JournalError> {
        let text = serde_json::to_string(record).map_err(storage)?;
        let (completed, open, due, rank, channel) = derived(record);
        let (key, channel) = (record.key.clone(), channel.to_owned());
        self.write(move |tx| {
            let now = Utc::now();
            let added = tx
                .execute(
                    "INSERT INTO orders (key, record, updated_at, completed_at, open, due, channel, rank)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (key) DO NOTHING",
                    (&key, &text, stamp(now), completed, open, due, channel, rank),
                )
                .map_err(storage)?
                > 0;
            if added {
                history(tx, &key, now, "flow", "seen on its channel")?;
            }
            Ok(added)
        })
        .await
    }

    async fn claim(
        &self,
        runner: &str,
        channels: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OrderRecord>, JournalError> {
        // The shared state could not write the file (a full disk): neither can this
        // journal, though a claim of nothing writes nothing.
        if let Some(why) = self.unwritable.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(JournalError::Unwritable(why));
        }
        let channels = serde_json::to_string(channels).map_err(storage)?;
        let now = stamp(now);
        let runner = runner.to_owned();
        self.write(move |tx| {
            loop {
                let found: Option<(String, String)> = tx
                    .query_row(
                        "SELECT key, record FROM orders
                         WHERE open = 1 AND channel IN (SELECT value FROM json_each(?1))
                           AND (due IS NULL OR due <= ?2) AND (lease_until IS NULL OR lease_until <= ?2)
                         ORDER BY rank DESC, due, rowid LIMIT 1",
                        (&channels, &now),
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .map_err(storage)?;
                let Some((key, text)) = found else {
                    return Ok(None);
                };
                match read(&text) {
                    Ok(record) => {
                        tx.execute(
                            "UPDATE orders SET lease_owner = ?1, lease_until = ?2 WHERE key = ?3",
                            (&runner, stamp(until), &key),
                        )
                        .map_err(storage)?;
                        return Ok(Some(record));
                    }
                    // A record that does not read (edited by hand, cut short) is set aside,
                    // kept as it is, and named by `unreadable`; the other orders go on.
                    Err(e) => {
                        tracing::error!(key, error = %e, "an unreadable journal record was set aside");
                        tx.execute("UPDATE orders SET open = 0 WHERE key = ?1", [&key])
                            .map_err(storage)?;
                        history(
                            tx,
                            &key,
                            Utc::now(),
                            &runner,
                            &format!("unreadable record set aside: {e}"),
                        )?;
                    }
                }
            }
        })
        .await
    }

    async fn save(
        &self,
        runner: &str,
        until: DateTime<Utc>,
        record: &OrderRecord,
        note: &str,
    ) -> Result<(), JournalError> {
        self.write_held(runner, Some(until), record, note).await
    }

    async fn renew(&self, key: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        let (key, runner) = (key.to_owned(), runner.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE orders SET lease_until = ?1 WHERE key = ?2 AND lease_owner = ?3",
                    (stamp(until), &key, &runner),
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(JournalError::LeaseLost { key });
            }
            Ok(())
        })
        .await
    }

    async fn release(&self, runner: &str, record: &OrderRecord, note: &str) -> Result<(), JournalError> {
        self.write_held(runner, None, record, note).await
    }

    /// Read, changed by `change` in the caller, and written back only if nobody wrote the
    /// order in between (its record and lease are compared; on a conflict it is read
    /// again): `change` runs on the caller's thread, never inside a transaction.
    async fn amend(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: Amendment<'_>,
    ) -> Result<OrderRecord, JournalError> {
        for _ in 0..5 {
            let k = key.to_owned();
            type Found = Option<(String, Option<String>, Option<String>)>;
            let found: Found = self
                .with(move |conn| {
                    conn.query_row(
                        "SELECT record, lease_owner, lease_until FROM orders WHERE key = ?1",
                        [k],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .map_err(storage)
                })
                .await?;
            let Some((before, owner, until)) = found else {
                return Err(JournalError::NotFound(key.to_owned()));
            };
            if let (Some(runner), Some(until)) = (owner.clone(), until.as_deref().and_then(parse_stamp))
                && until > now
            {
                return Err(JournalError::Busy {
                    key: key.to_owned(),
                    runner,
                    until,
                });
            }
            let mut record = read(&before)?;
            let note = change(&mut record).map_err(JournalError::Refused)?;
            record.due = None;
            let text = serde_json::to_string(&record).map_err(storage)?;
            let (completed, open, due, rank, _) = derived(&record);
            let (k, by) = (key.to_owned(), by.to_owned());
            let written = self
                .write(move |tx| {
                    let changed = tx
                        .execute(
                            "UPDATE orders SET record = ?1, updated_at = ?2, completed_at = ?3, open = ?4, due = ?5,
                                 lease_owner = NULL, lease_until = NULL, rank = ?7
                             WHERE key = ?6 AND record = ?8 AND lease_owner IS ?9 AND lease_until IS ?10",
                            (text, stamp(now), completed, open, due, &k, rank, before, owner, until),
                        )
                        .map_err(storage)?;
                    if changed == 0 {
                        return Ok(false);
                    }
                    history(tx, &k, now, &by, &note)?;
                    Ok(true)
                })
                .await?;
            if written {
                return Ok(record);
            }
        }
        Err(JournalError::Storage(format!(
            "{key} changed under each of 5 attempts to amend it; try again"
        )))
    }

    async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, JournalError> {
        let key = key.to_owned();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare("SELECT at, by, note FROM history WHERE key = ?1 ORDER BY id")
                .map_err(storage)?;
            let rows = stmt
                .query_map([key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
                })
                .map_err(storage)?;
            rows.map(|r| {
                let (at, by, note) = r.map_err(storage)?;
                Ok(HistoryEntry {
                    at: parse_stamp(&at).unwrap_or_default(),
                    by,
                    note,
                })
            })
            .collect()
        })
        .await
    }

    async fn leases(&self, now: DateTime<Utc>) -> Result<Vec<LeaseInfo>, JournalError> {
        self.with(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT key, lease_owner, lease_until FROM orders
                     WHERE lease_owner IS NOT NULL AND lease_until > ?1 ORDER BY lease_owner, key",
                )
                .map_err(storage)?;
            let rows = stmt
                .query_map([stamp(now)], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(storage)?;
            rows.map(|r| {
                let (key, runner, until) = r.map_err(storage)?;
                Ok(LeaseInfo {
                    key,
                    runner,
                    until: parse_stamp(&until).unwrap_or_default(),
                })
            })
            .collect()
        })
        .await
    }

    async fn next_due(&self, channels: &[String]) -> Result<Option<DateTime<Utc>>, JournalError> {
        let channels = serde_json::to_string(channels).map_err(storage)?;
        // A held order is due when its lease ends at the earliest; a new one (`due` NULL)
        // at once.
        let soonest: Option<String> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT min(CASE
                         WHEN lease_until IS NOT NULL AND (due IS NULL OR lease_until > due) THEN lease_until
                         ELSE coalesce(due, '0000-01-01T00:00:00.000000Z') END)
                     FROM orders WHERE open = 1 AND channel IN (SELECT value FROM json_each(?1))",
                    [channels],
                    |row| row.get(0),
                )
                .map_err(storage)
            })
            .await?;
        Ok(soonest.map(|s| parse_stamp(&s).unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }

    fn location(&self) -> String {
        self.path.clone()
    }

    async fn census(&self) -> Result<super::Census, JournalError> {
        Ok(super::split_rows(self.rows().await?))
    }

    async fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        self.write(move |tx| {
            let now = Utc::now();
            let rows: Vec<(String, String)> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT key, record FROM orders WHERE completed_at IS NOT NULL AND completed_at < ?1",
                    )
                    .map_err(storage)?;
                stmt.query_map([stamp(before)], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(storage)?
                    .collect::<Result<_, _>>()
                    .map_err(storage)?
            };
            let mut purged = 0;
            for (key, text) in rows {
                // An unreadable record is passed over (the run reports it), not a stop to
                // every other purge.
                let Ok(mut r) = read(&text) else {
                    tracing::error!(key, "an unreadable journal record was not purged");
                    continue;
                };
                if r.purged_at.is_some() {
                    continue;
                }
                r.purge_personal(now);
                let text = serde_json::to_string(&r).map_err(storage)?;
                // Purged records leave the purge's index (`completed_at` NULL).
                tx.execute(
                    "UPDATE orders SET record = ?1, completed_at = NULL WHERE key = ?2",
                    (text, &key),
                )
                .map_err(storage)?;
                history(tx, &key, now, "flow", "personal data purged")?;
                purged += 1;
            }
            Ok(purged)
        })
        .await
    }

    /// One `BEGIN IMMEDIATE` transaction, an insert that does nothing where the id is
    /// there: of runners (or processes) adding one event at once, one adds it. Durable
    /// when it returns (`synchronous = FULL`).
    async fn add_event(&self, event: &EventRecord) -> Result<bool, JournalError> {
        let e = event.clone();
        self.write(move |tx| {
            let added = tx
                .execute(
                    "INSERT INTO events (id, channel, kind, resource_id, received_at, handled_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                    (
                        &e.id,
                        &e.channel,
                        &e.kind,
                        &e.resource_id,
                        stamp(e.received_at),
                        e.handled_at.map(stamp),
                        &e.body,
                    ),
                )
                .map_err(storage)?;
            Ok(added > 0)
        })
        .await
    }

    /// The rows are read one at a time, oldest first, until `limit` of them read: a row
    /// that does not (edited by hand) is logged by its id and passed over, and takes no
    /// place of the limit.
    async fn unhandled_events(&self, channel: &str, limit: usize) -> Result<Vec<EventRecord>, JournalError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let channel = channel.to_owned();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE channel = ?1 AND handled_at IS NULL
                     ORDER BY received_at, id"
                ))
                .map_err(storage)?;
            let mut rows = stmt.query([channel]).map_err(storage)?;
            let mut found = Vec::new();
            while found.len() < limit {
                let Some(row) = rows.next().map_err(storage)? else {
                    break;
                };
                if let Some(event) = readable_event(row) {
                    found.push(event);
                }
            }
            Ok(found)
        })
        .await
    }

    /// Sets `handled_at` only where it is not set: the first time is kept.
    async fn event_handled(&self, id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE events SET handled_at = ?2 WHERE id = ?1 AND handled_at IS NULL",
                (&id, stamp(at)),
            )
            .map_err(storage)?;
            Ok(())
        })
        .await
    }

    /// Counted by the database; the last time received is the latest that reads.
    async fn event_stats(&self) -> Result<EventStats, JournalError> {
        self.with(|conn| {
            let (received, unhandled): (i64, i64) = conn
                .query_row(
                    "SELECT count(*), coalesce(sum(handled_at IS NULL), 0) FROM events",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(storage)?;
            // Stamps are fixed width: the latest is the greatest of those shaped as one, in
            // one scan. Should that one not read either (edited into a stamp's shape), the
            // times are read from the latest down until one does.
            let greatest: Option<String> = conn
                .query_row(
                    &format!("SELECT max(received_at) FROM events WHERE received_at GLOB '{STAMP_SHAPE}'"),
                    [],
                    |row| row.get(0),
                )
                .map_err(storage)?;
            let mut last = greatest.as_deref().and_then(parse_stamp);
            if last.is_none() && greatest.is_some() {
                let mut stmt = conn
                    .prepare("SELECT received_at FROM events ORDER BY received_at DESC")
                    .map_err(storage)?;
                let mut rows = stmt.query([]).map_err(storage)?;
                while let Some(row) = rows.next().map_err(storage)? {
                    if let Some(at) = row.get::<_, String>(0).ok().as_deref().and_then(parse_stamp) {
                        last = Some(at);
                        break;
                    }
                }
            }
            Ok(EventStats {
                received: u64::try_from(received).unwrap_or_default(),
                unhandled: u64::try_from(unhandled).unwrap_or_default(),
                last_received: last,
            })
        })
        .await
    }

    /// One `BEGIN IMMEDIATE` transaction; an event no runner handled is never deleted.
    async fn purge_events(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM events WHERE handled_at IS NOT NULL AND handled_at < ?1",
                [stamp(before)],
            )
            .map_err(storage)
        })
        .await
    }
}

/// Refuses (`LeaseLost`) a write for the pass `pass` by a runner that does not hold it,
/// inside the write's transaction.
fn holds_pass(tx: &rusqlite::Transaction<'_>, pass: &str, runner: &str) -> Result<(), JournalError> {
    let owner: Option<Option<String>> = tx
        .query_row("SELECT lease_owner FROM passes WHERE name = ?1", [pass], |row| {
            row.get(0)
        })
        .optional()
        .map_err(storage)?;
    if owner.flatten().as_deref() != Some(runner) {
        return Err(pass_lost(pass));
    }
    Ok(())
}

/// The shape of a time as [`stamp`] writes it, as a `GLOB` pattern.
const STAMP_SHAPE: &str = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z";

/// The columns an event is read from, in this order (its `rowid` first, to name a row
/// whose id does not read).
const EVENT_COLUMNS: &str = "rowid, id, channel, kind, resource_id, received_at, handled_at, body";

/// The event of a row of [`EVENT_COLUMNS`]; `None`, logged with the row's id, when a
/// column does not read (a row edited by hand: a time that is not one, text that is not
/// UTF-8, a blob or a number where text belongs).
fn readable_event(row: &rusqlite::Row<'_>) -> Option<EventRecord> {
    match event_from(row) {
        Ok(event) => Some(event),
        Err(why) => {
            let id = match row.get_ref(1) {
                Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                _ => format!("rowid {}", row.get::<_, i64>(0).unwrap_or_default()),
            };
            tracing::error!(id, why, "an unreadable journal event was passed over");
            None
        }
    }
}

fn event_from(row: &rusqlite::Row<'_>) -> Result<EventRecord, String> {
    fn text(row: &rusqlite::Row<'_>, i: usize, name: &str) -> Result<Option<String>, String> {
        row.get::<_, Option<String>>(i)
            .map_err(|e| format!("{name}: {e}"))
    }
    let required = |i: usize, name: &str| text(row, i, name)?.ok_or_else(|| format!("{name}: empty"));
    let time = |value: String, name: &str| {
        parse_stamp(&value).ok_or_else(|| format!("{name}: {value:?} is not a time"))
    };
    Ok(EventRecord {
        id: required(1, "id")?,
        channel: required(2, "channel")?,
        kind: required(3, "kind")?,
        resource_id: text(row, 4, "resource_id")?,
        received_at: time(required(5, "received_at")?, "received_at")?,
        handled_at: text(row, 6, "handled_at")?
            .map(|t| time(t, "handled_at"))
            .transpose()?,
        body: required(7, "body")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::tests::record;
    use commerce_core::SubmissionReceipt;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("journal-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("j.sqlite")
    }

    #[tokio::test]
    async fn the_sqlite_journal_survives_reopening() {
        let path = temp("reopen");
        let channels = ["bol".to_owned()];
        let now = Utc::now();
        let later = now + chrono::Duration::minutes(5);
        {
            let j = SqliteJournal::open(&path).unwrap();
            assert!(j.add(&record("1")).await.unwrap());
            assert!(!j.add(&record("1")).await.unwrap(), "added once");
            j.add(&record("2")).await.unwrap();
            let mut r = j.claim("a", &channels, now, later).await.unwrap().unwrap();
            r.submission = Step::Done(SubmissionReceipt {
                provider: "shopwedo".into(),
                reference: "9".into(),
                already_submitted: false,
            });
            j.save("a", later, &r, "submitted").await.unwrap();
            j.release("a", &r, "").await.unwrap();
        }
        let j = SqliteJournal::open(&path).unwrap();
        let r = j.load("bol:1").await.unwrap().unwrap();
        assert_eq!(r.submission.done().unwrap().reference, "9");
        assert_eq!(j.all().await.unwrap().len(), 2);
        assert!(j.load("bol:3").await.unwrap().is_none());
        let notes: Vec<String> = j
            .history("bol:1")
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.note)
            .collect();
        assert_eq!(notes, ["seen on its channel", "submitted"]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_held_order_is_not_claimed_again_until_its_lease_ends() {
        let path = temp("lease");
        let j = SqliteJournal::open(&path).unwrap();
        let other = SqliteJournal::open(&path).unwrap();
        let channels = ["bol".to_owned()];
        j.add(&record("1")).await.unwrap();
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(30);
        let r = j.claim("a", &channels, now, until).await.unwrap().unwrap();
        assert_eq!(other.claim("b", &channels, now, until).await.unwrap(), None);
        assert!(matches!(
            other
                .amend("bol:1", "operator", now, &mut |_| Ok(String::new()))
                .await,
            Err(JournalError::Busy { .. })
        ));
        // The lease ends: b takes the order, and a may no longer write it.
        let after = until + chrono::Duration::seconds(1);
        let taken = other
            .claim("b", &channels, after, after + chrono::Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(taken.map(|t| t.key), Some("bol:1".to_owned()));
        assert!(matches!(
            j.save("a", after, &r, "late").await,
            Err(JournalError::LeaseLost { .. })
        ));
        assert_eq!(j.leases(after).await.unwrap()[0].runner, "b");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn an_order_is_claimed_when_due_and_only_while_open() {
        let path = temp("due");
        let j = SqliteJournal::open(&path).unwrap();
        let channels = ["bol".to_owned()];
        let now = Utc::now();
        let mut r = record("1");
        r.due = Some(now + chrono::Duration::minutes(5));
        j.add(&r).await.unwrap();
        let mut done = record("2");
        done.completed_at = Some(now);
        j.add(&done).await.unwrap();
        let until = now + chrono::Duration::minutes(10);
        assert_eq!(j.claim("a", &channels, now, until).await.unwrap(), None);
        assert_eq!(
            j.claim("a", &["other".to_owned()], now, until).await.unwrap(),
            None
        );
        assert_eq!(
            j.next_due(&channels).await.unwrap(),
            r.due.map(|d| d.trunc_subsecs(6))
        );
        let later = now + chrono::Duration::minutes(6);
        assert!(j.claim("a", &channels, later, until).await.unwrap().is_some());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    /// `status` and `show` read a journal as it is: no file is created beside it, none
    /// changes its mode, and a write is refused.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_read_only_journal_changes_no_file() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp("read-only");
        {
            let j = SqliteJournal::create(&path).unwrap();
            j.add(&record("1")).await.unwrap();
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let listing = |p: &std::path::Path| {
            let mut names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let before = listing(&path);
        let bytes = std::fs::read(&path).unwrap();
        let j = SqliteJournal::open_read_only(&path).unwrap();
        assert_eq!(j.all().await.unwrap().len(), 1);
        assert!(
            j.add(&record("2")).await.is_err(),
            "a write through a read-only journal"
        );
        drop(j);
        assert_eq!(listing(&path), before);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(matches!(
            SqliteJournal::open_read_only(&path.with_extension("other")),
            Err(JournalError::Missing { .. })
        ));
        assert!(SqliteJournal::create(&path).is_err(), "created over a journal");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    /// A row edited by hand is named with what does not read in it.
    #[test]
    fn an_unreadable_event_row_says_what_does_not_read() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(migrate::SQLITE[7].sql).unwrap();
        conn.execute_batch(
            "INSERT INTO events VALUES ('bol:1', 'bol', 'TEST:TEST', NULL, '2026-12-07T10:00:00.000000Z', NULL, '{}');
             INSERT INTO events VALUES ('bol:2', 'bol', 'TEST:TEST', NULL, 'yesterday', NULL, '{}');
             INSERT INTO events VALUES ('bol:3', 'bol', 'TEST:TEST', NULL, '2026-12-07T10:00:00.000000Z', 'soon', '{}');
             INSERT INTO events VALUES ('bol:4', 'bol', X'00', NULL, '2026-12-07T10:00:00.000000Z', NULL, '{}');
             INSERT INTO events VALUES ('bol:5', 'bol', 'TEST:TEST', NULL, '2026-12-07T10:00:00.000000Z', NULL,
                 CAST(X'C328' AS TEXT));",
        )
        .unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY id"))
            .unwrap();
        let read: Vec<Result<EventRecord, String>> = stmt
            .query_map([], |row| Ok(event_from(row)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let first = read[0].as_ref().unwrap();
        assert_eq!((first.id.as_str(), first.kind.as_str()), ("bol:1", "TEST:TEST"));
        let why: Vec<&str> = read[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().as_str())
            .collect();
        assert!(why[0].starts_with("received_at: \"yesterday\""), "{why:?}");
        assert!(why[1].starts_with("handled_at: \"soon\""), "{why:?}");
        assert!(why[2].starts_with("kind: "), "{why:?}");
        assert!(why[3].starts_with("body: "), "{why:?}");
    }

    use chrono::SubsecRound;
}
