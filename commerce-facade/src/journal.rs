//! The journal: each step of each order is written before and after it runs, so a rerun
//! after a crash or an interrupt resumes where it stopped, and never does a finished step
//! twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use commerce_core::{Error, InvitationReceipt, Order, SubmissionReceipt, Tracking};
use serde::{Deserialize, Serialize};

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", content = "value")]
pub enum Step<T> {
    /// Not begun.
    #[default]
    NotStarted,
    /// Begun: the call may or may not have reached the provider.
    Started,
    /// Finished, with what it produced.
    Done(T),
}

impl<T> Step<T> {
    /// Whether it finished.
    pub fn is_done(&self) -> bool {
        matches!(self, Step::Done(_))
    }

    /// What it produced, if it finished.
    pub fn done(&self) -> Option<&T> {
        match self {
            Step::Done(v) => Some(v),
            _ => None,
        }
    }
}

/// Everything the flow knows of one order.
///
/// Read forward-compatibly: every field but the key and the order has a default, so a
/// record written by an older release (without a field added since) still reads, and
/// fields a newer release added are ignored (a journal whose schema is newer than this
/// release's is refused at open, so they are never lost by a rewrite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// `channel:order id`.
    pub key: String,
    /// The order as the channel gave it (its personal fields blanked once purged).
    pub order: Order,
    /// The fulfilment provider chosen for it.
    #[serde(default)]
    pub fulfilment: Option<String>,
    /// The hand-over to the fulfilment provider.
    #[serde(default)]
    pub submission: Step<SubmissionReceipt>,
    /// The parcel's tracking, once shipped.
    #[serde(default)]
    pub shipped: Step<Tracking>,
    /// The shipment confirmation on the channel (its reference, if any).
    #[serde(default)]
    pub confirmation: Step<Option<String>>,
    /// Review invitations, by platform.
    #[serde(default)]
    pub invitations: BTreeMap<String, Step<InvitationReceipt>>,
    /// Why the order waits for a person, if it does (the flow does not guess).
    #[serde(default)]
    pub attention: Option<String>,
    /// When the flow found every step done (schema 1).
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// When its personal fields were purged, if they were (schema 1).
    #[serde(default)]
    pub purged_at: Option<DateTime<Utc>>,
}

impl OrderRecord {
    /// A record for an order just seen.
    pub fn new(order: Order) -> Self {
        OrderRecord {
            key: format!("{}:{}", order.channel, order.id),
            order,
            fulfilment: None,
            submission: Step::NotStarted,
            shipped: Step::NotStarted,
            confirmation: Step::NotStarted,
            invitations: BTreeMap::new(),
            attention: None,
            completed_at: None,
            purged_at: None,
        }
    }

    /// Blanks the order's personal fields (names, e-mail addresses, street, house number,
    /// postcode, city, phone, company), keeping its ids, country, lines, steps and
    /// references, and notes when.
    pub fn purge_personal(&mut self, now: DateTime<Utc>) {
        let c = &mut self.order.customer;
        c.email.clear();
        c.first_name = None;
        c.last_name = None;
        let blank = |a: &mut commerce_core::Address| {
            let country = std::mem::take(&mut a.country);
            *a = commerce_core::Address {
                country,
                ..Default::default()
            };
        };
        blank(&mut self.order.shipping_address);
        if let Some(b) = &mut self.order.billing_address {
            blank(b);
        }
        self.purged_at = Some(now);
    }

    /// Whether every step is done for these review platforms.
    pub fn is_complete(&self, platforms: &[String]) -> bool {
        self.confirmation.is_done()
            && platforms
                .iter()
                .all(|p| self.invitations.get(p).is_some_and(Step::is_done))
    }
}

/// Where the flow keeps its records. An SQLite file by default; a trait so that a shared
/// server database can serve several workers later.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// The record of `key`, if any.
    fn load(&self, key: &str) -> Result<Option<OrderRecord>, Error>;
    /// Writes (replaces) a record; durable when it returns.
    fn save(&self, record: &OrderRecord) -> Result<(), Error>;
    /// Every record.
    fn all(&self) -> Result<Vec<OrderRecord>, Error>;

    /// Blanks the personal fields of the orders completed before `before` (see
    /// [`OrderRecord::purge_personal`]); returns how many were purged.
    fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, Error> {
        let now = Utc::now();
        let mut purged = 0;
        for mut r in self.all()? {
            if r.purged_at.is_none() && r.completed_at.is_some_and(|at| at < before) {
                r.purge_personal(now);
                self.save(&r)?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}

/// The journal schema this release writes. 0: the first release (no version recorded);
/// 1: records carry `completed_at` / `purged_at`, kept in a column too, so purges find
/// them without reading every record.
pub const SCHEMA_VERSION: i64 = 1;

/// The migrations, in order: `MIGRATIONS[n]` takes a journal from schema `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "ALTER TABLE orders ADD COLUMN completed_at TEXT;
     CREATE INDEX IF NOT EXISTS orders_completed_at ON orders (completed_at);",
];

fn storage(e: impl std::fmt::Display) -> Error {
    Error::config(format!("journal: {e}"))
}

/// A journal in an SQLite file (WAL mode; each write is a transaction).
pub struct SqliteJournal {
    conn: Mutex<rusqlite::Connection>,
    path: String,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal").field("path", &self.path).finish()
    }
}

impl SqliteJournal {
    /// Opens (or creates) the journal at `path`, readable by its owner only (it holds
    /// names, addresses and e-mail addresses), and brings its schema to
    /// [`SCHEMA_VERSION`]. A journal written by a newer release is refused, so no field it
    /// added is lost by a rewrite.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        owner_only(path)?;
        let mut conn = rusqlite::Connection::open(path).map_err(storage)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;",
        )
        .map_err(storage)?;
        migrate(&mut conn)?;
        Ok(SqliteJournal {
            conn: Mutex::new(conn),
            path: path.display().to_string(),
        })
    }

    /// The schema version of the journal.
    pub fn schema_version(&self) -> Result<i64, Error> {
        self.conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(storage)
    }

    /// The journal at `COMMERCE_JOURNAL`, or at `default` when it is not set.
    pub fn from_env_or(default: impl AsRef<Path>) -> Result<Self, Error> {
        match commerce_core::env_optional("COMMERCE_JOURNAL") {
            Some(path) => Self::open(path),
            None => Self::open(default),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Creates the file readable and writable by its owner only (mode 0600), or narrows an
/// existing one to that; SQLite gives its `-wal` and `-shm` files the same mode.
fn owner_only(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(storage)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(storage)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Brings a journal to [`SCHEMA_VERSION`], one migration per transaction.
fn migrate(conn: &mut rusqlite::Connection) -> Result<(), Error> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(storage)?
        > 0;
    if !exists {
        let tx = conn.transaction().map_err(storage)?;
        tx.execute_batch(
            "CREATE TABLE orders (
                 key TEXT PRIMARY KEY,
                 record TEXT NOT NULL,
                 updated_at TEXT NOT NULL,
                 completed_at TEXT
             );
             CREATE INDEX orders_completed_at ON orders (completed_at);",
        )
        .map_err(storage)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(storage)?;
        return tx.commit().map_err(storage);
    }
    let mut version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(storage)?;
    if version > SCHEMA_VERSION {
        return Err(Error::config(format!(
            "journal: written by a newer release (schema {version}; this release reads up to \
             {SCHEMA_VERSION}): upgrade this program rather than let it rewrite the journal"
        )));
    }
    while version < SCHEMA_VERSION {
        let tx = conn.transaction().map_err(storage)?;
        tx.execute_batch(MIGRATIONS[version as usize]).map_err(storage)?;
        if version == 0 {
            // Records of schema 0 carry no `completed_at`: an order confirmed with every
            // invitation done counts as completed when it was last written.
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
                let done = r.confirmation.is_done()
                    && !r.invitations.is_empty()
                    && r.invitations.values().all(Step::is_done);
                let at = DateTime::parse_from_rfc3339(&updated_at).map(|t| t.with_timezone(&Utc));
                if let (true, Ok(at)) = (done, at) {
                    r.completed_at = Some(at);
                    let text = serde_json::to_string(&r).map_err(storage)?;
                    tx.execute(
                        "UPDATE orders SET record = ?1, completed_at = ?2 WHERE key = ?3",
                        (text, at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), key),
                    )
                    .map_err(storage)?;
                }
            }
        }
        version += 1;
        tx.pragma_update(None, "user_version", version).map_err(storage)?;
        tx.commit().map_err(storage)?;
        tracing::info!(version, "journal migrated");
    }
    Ok(())
}

impl Journal for SqliteJournal {
    fn load(&self, key: &str) -> Result<Option<OrderRecord>, Error> {
        let conn = self.conn();
        let text: Option<String> = conn
            .query_row("SELECT record FROM orders WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .map_err(storage)?;
        text.map(|t| serde_json::from_str(&t).map_err(storage))
            .transpose()
    }

    fn save(&self, record: &OrderRecord) -> Result<(), Error> {
        let text = serde_json::to_string(record).map_err(storage)?;
        // Purged records leave the purge's index.
        let completed = record
            .completed_at
            .filter(|_| record.purged_at.is_none())
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        self.conn()
            .execute(
                "INSERT INTO orders (key, record, updated_at, completed_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at,
                     completed_at = excluded.completed_at",
                (&record.key, &text, Utc::now().to_rfc3339(), completed),
            )
            .map_err(storage)?;
        Ok(())
    }

    fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, Error> {
        let texts: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT record FROM orders WHERE completed_at IS NOT NULL AND completed_at < ?1")
                .map_err(storage)?;
            let before = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            stmt.query_map([before], |row| row.get::<_, String>(0))
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)?
        };
        let now = Utc::now();
        let mut purged = 0;
        for text in texts {
            let mut r: OrderRecord = serde_json::from_str(&text).map_err(storage)?;
            if r.purged_at.is_none() {
                r.purge_personal(now);
                self.save(&r)?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    fn all(&self) -> Result<Vec<OrderRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT record FROM orders ORDER BY key")
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(storage)?;
        rows.map(|r| {
            let text = r.map_err(storage)?;
            serde_json::from_str(&text).map_err(storage)
        })
        .collect()
    }
}

/// A journal in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    records: Mutex<BTreeMap<String, OrderRecord>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Journal for MemoryJournal {
    fn load(&self, key: &str) -> Result<Option<OrderRecord>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    fn save(&self, record: &OrderRecord) -> Result<(), Error> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.key.clone(), record.clone());
        Ok(())
    }

    fn all(&self) -> Result<Vec<OrderRecord>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> OrderRecord {
        OrderRecord::new(Order {
            id: id.into(),
            channel: "bol".into(),
            ..Default::default()
        })
    }

    #[test]
    fn the_sqlite_journal_survives_reopening() {
        let dir =
            std::env::temp_dir().join(format!("journal-test-{}-{}", std::process::id(), fastrand_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.sqlite");
        {
            let j = SqliteJournal::open(&path).unwrap();
            let mut r = record("1");
            r.submission = Step::Started;
            j.save(&r).unwrap();
            r.submission = Step::Done(SubmissionReceipt {
                provider: "shopwedo".into(),
                reference: "9".into(),
                already_submitted: false,
            });
            j.save(&r).unwrap();
            j.save(&record("2")).unwrap();
        }
        let j = SqliteJournal::open(&path).unwrap();
        let r = j.load("bol:1").unwrap().unwrap();
        assert_eq!(r.submission.done().unwrap().reference, "9");
        assert_eq!(j.all().unwrap().len(), 2);
        assert!(j.load("bol:3").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn fastrand_like() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    #[test]
    fn completion_needs_the_confirmation_and_every_invitation() {
        let mut r = record("1");
        let platforms = vec!["safeshop".to_owned()];
        assert!(!r.is_complete(&platforms));
        r.confirmation = Step::Done(None);
        assert!(!r.is_complete(&platforms));
        r.invitations.insert(
            "safeshop".into(),
            Step::Done(InvitationReceipt {
                platform: "safeshop".into(),
                reference: None,
                already_invited: false,
            }),
        );
        assert!(r.is_complete(&platforms));
    }
}
