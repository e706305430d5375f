//! The journal: each step of each order is written before and after it runs, so a rerun
//! after a crash or an interrupt resumes where it stopped, and never does a finished step
//! twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// `channel:order id`.
    pub key: String,
    /// The order as the channel gave it.
    pub order: Order,
    /// The fulfilment provider chosen for it.
    pub fulfilment: Option<String>,
    /// The hand-over to the fulfilment provider.
    pub submission: Step<SubmissionReceipt>,
    /// The parcel's tracking, once shipped.
    pub shipped: Step<Tracking>,
    /// The shipment confirmation on the channel (its reference, if any).
    pub confirmation: Step<Option<String>>,
    /// Review invitations, by platform.
    pub invitations: BTreeMap<String, Step<InvitationReceipt>>,
    /// Why the order waits for a person, if it does (the flow does not guess).
    pub attention: Option<String>,
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
        }
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
}

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
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let conn = rusqlite::Connection::open(path).map_err(storage)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS orders (
                 key TEXT PRIMARY KEY,
                 record TEXT NOT NULL,
                 updated_at TEXT NOT NULL
             );",
        )
        .map_err(storage)?;
        Ok(SqliteJournal {
            conn: Mutex::new(conn),
            path: path.display().to_string(),
        })
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
        self.conn()
            .execute(
                "INSERT INTO orders (key, record, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at",
                (&record.key, &text, chrono::Utc::now().to_rfc3339()),
            )
            .map_err(storage)?;
        Ok(())
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
