//! PostgreSQL for runners on several machines (feature `postgres`): the journal
//! ([`PgJournal`]), and the state every process of one credential shares, its access token
//! and its rate budgets ([`Postgres::shared_state`]), in one database.
//!
//! ```no_run
//! # fn main() -> Result<(), commerce_core::Error> {
//! use std::sync::Arc;
//! use commerce_facade::{Flow, FlowOptions, Postgres, Providers};
//!
//! let pg = Postgres::connect("postgres://commerce@db.internal/commerce")?;
//! // Every client shares its credential's token and budgets with the other workers.
//! let providers = Providers::from_env_shared(pg.shared_state())?;
//! let flow = Flow::new(providers, Arc::new(pg.journal()), FlowOptions::default());
//! # let _ = flow;
//! # Ok(())
//! # }
//! ```
//!
//! What is stored: the journal's records (orders with their buyers' names and addresses,
//! purged after the retention period, as in SQLite); for each credential a hash of its
//! identity (token endpoint and client id, or login) and its current access token **sealed**
//! (XChaCha20-Poly1305 under a key derived from the credential's secret, which is never
//! stored: the database alone does not give the token), its expiry, and who is renewing it;
//! for each rate bucket, the calls of its longest window, its pause and its budget. Tokens
//! expire within minutes (bol) to months (Sitejabber's login).
//!
//! Connections are plain TCP (no TLS): run the database on the runners' private network,
//! or reach it through a TLS tunnel. `tokio-postgres` logs each statement with its
//! parameters (journal records: buyers' names and addresses) at DEBUG through `log`: keep
//! the `tokio_postgres` target at INFO in production logging.

mod journal;
pub(crate) mod pool;
mod shared;

use std::str::FromStr;
use std::sync::Arc;

use commerce_core::{Error, SharedState};

use crate::journal::{JournalError, migrate};
pub use journal::PgJournal;
pub use shared::PgShared;

use pool::{Pool, PoolError};

/// The PostgreSQL schema this release writes: the number of its last migration (numbered
/// SQL files, `migrations/postgres/`), each recorded with its checksum in the table
/// `commerce_migrations` once applied; the number is kept in `commerce_schema` too, which
/// earlier releases read.
pub const PG_SCHEMA_VERSION: i32 = migrate::latest(migrate::POSTGRES) as i32;

/// How many connections a process opens by default.
pub const DEFAULT_CONNECTIONS: usize = 4;

/// A PostgreSQL database holding the journal and the shared state. Cheap to clone; clones
/// share the connections.
#[derive(Clone)]
pub struct Postgres {
    pool: Arc<Pool>,
    location: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("location", &self.location)
            .finish()
    }
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`, or
    /// `host=... user=...`) with [`DEFAULT_CONNECTIONS`] connections, and brings its schema
    /// to [`PG_SCHEMA_VERSION`] (one transaction, under a lock: several processes starting at
    /// once migrate it once). A database written by a newer release is refused.
    pub fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, DEFAULT_CONNECTIONS)
    }

    /// [`connect`](Self::connect) with `connections` connections (the flow's concurrency plus
    /// two is plenty).
    pub fn connect_with(url: &str, connections: usize) -> Result<Self, Error> {
        Self::open(url, connections, true)
    }

    /// [`connect_with`](Self::connect_with) a database that holds a journal already: one
    /// without (a mistyped database name, a new database) is refused, and nothing is
    /// created in it (a journal created on the way would hand orders over again).
    pub fn connect_existing(url: &str, connections: usize) -> Result<Self, Error> {
        Self::open(url, connections, false)
    }

    fn open(url: &str, connections: usize, create: bool) -> Result<Self, Error> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| Error::config(format!("not a PostgreSQL address: {}", pool::describe(&e))))?;
        limits(&mut config);
        let location = location(&config);
        let pool = Arc::new(Pool::new(config, connections));
        if !create {
            let exists = pool
                .blocking(|c: &mut postgres::Client| -> Result<bool, PoolError> {
                    Ok(
                        c.query_one("SELECT to_regclass('commerce_schema') IS NOT NULL", &[])?
                            .get(0),
                    )
                })
                .map_err(|e| {
                    Error::storage(format!("the PostgreSQL database at {location}: {}", e.0), true)
                })?;
            if !exists {
                return Err(Error::config(format!(
                    "no journal in the PostgreSQL database at {location}: give the database the orders were \
                     worked with; on a first run, create the journal with `commerce init` (a new journal knows \
                     no order, so orders already handed over would be handed over again)"
                )));
            }
        }
        pool.blocking(migrate).map_err(|e| {
            Error::storage(
                format!("the PostgreSQL database at {location}: {e}"),
                e.is_retryable(),
            )
        })?;
        Ok(Postgres { pool, location })
    }

    /// Creates the database `name` (letters, digits and `_`) on the server at `server_url`
    /// (a `postgres://` URL) unless it exists, connecting as that address's user (who needs
    /// `CREATEDB`); returns the same URL naming the new database, for
    /// [`connect`](Self::connect).
    pub fn create_database(server_url: &str, name: &str) -> Result<String, Error> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::invalid("name", "letters, digits and `_` only"));
        }
        let mut address = url::Url::parse(server_url)
            .ok()
            .filter(|u| is_postgres_url(u.as_str()))
            .ok_or_else(|| Error::config("create_database takes a postgres:// URL"))?;
        let config = postgres::Config::from_str(server_url)
            .map_err(|e| Error::config(format!("not a PostgreSQL address: {}", pool::describe(&e))))?;
        let pool = Pool::new(config, 1);
        let create = format!("CREATE DATABASE {name}");
        let wanted = name.to_owned();
        pool.blocking(move |c| {
            if c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&wanted])?
                .is_none()
            {
                c.batch_execute(&create)?;
            }
            Ok::<_, PoolError>(())
        })
        .map_err(|e| Error::config(format!("creating the database {name}: {}", e.0)))?;
        address.set_path(&format!("/{name}"));
        Ok(address.to_string())
    }

    /// The journal in this database.
    pub fn journal(&self) -> PgJournal {
        PgJournal {
            pool: self.pool.clone(),
            location: self.location.clone(),
        }
    }

    /// The token store and the rate store in this database, for
    /// [`Providers::from_env_shared`](crate::Providers::from_env_shared) or a client
    /// builder's `shared`.
    pub fn shared_state(&self) -> SharedState {
        let store = Arc::new(PgShared {
            pool: self.pool.clone(),
        });
        SharedState {
            tokens: store.clone(),
            rates: store,
        }
    }

    /// Where the database is, without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i32, Error> {
        Ok(self
            .pool
            .call(|c| Ok::<_, PoolError>(c.query_one("SELECT version FROM commerce_schema", &[])?.get(0)))
            .await?)
    }

    /// The migrations recorded as applied: `(number, name, checksum)`, by number.
    pub async fn migrations(&self) -> Result<Vec<(i64, String, String)>, JournalError> {
        self.pool
            .call(|c| {
                Ok(c.query(
                    "SELECT number, name, checksum FROM commerce_migrations ORDER BY number",
                    &[],
                )?
                .into_iter()
                .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1), r.get(2)))
                .collect())
            })
            .await
    }
}

/// Time limits, so that a process stopped mid-transaction (a paused VM, a network split)
/// holds no row lock of the shared stores for long, and no call waits for ever: 10 s to
/// connect, statements cut after 30 s, a lock waited for at most 10 s, a transaction left
/// idle ended after 60 s, TCP keepalives every 30 s. Settings in the address win.
fn limits(config: &mut postgres::Config) {
    use std::time::Duration;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let given = config.get_options().unwrap_or("").to_owned();
    let mut options = given.clone();
    for (name, value) in [
        ("statement_timeout", "30s"),
        ("lock_timeout", "10s"),
        ("idle_in_transaction_session_timeout", "60s"),
    ] {
        if !given.contains(name) {
            options.push_str(&format!(" -c {name}={value}"));
        }
    }
    config.options(options.trim());
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
}

/// Whether `text` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// `postgres://user@host:port/dbname`, never the password.
fn location(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// Brings the database to [`PG_SCHEMA_VERSION`] in one transaction, under a lock (several
/// processes starting at once migrate it once): the migrations not applied run in order,
/// each recorded with its checksum; a database of an earlier release (its schema a number
/// alone) has the migrations up to that number recorded first. One recording a migration
/// that differs from this release's, or one this release does not know, is refused
/// ([`MigrationError`](crate::MigrationError)), unchanged.
fn migrate(client: &mut postgres::Client) -> Result<(), JournalError> {
    let mut tx = client.transaction()?;
    // One migration at a time, whatever the number of processes starting.
    tx.execute("SELECT pg_advisory_xact_lock(7355608100)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS commerce_schema (version INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS commerce_migrations (
             number INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             checksum TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );",
    )?;
    let legacy: i32 = match tx.query_opt("SELECT version FROM commerce_schema", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO commerce_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    let recorded: Vec<(i64, String)> = tx
        .query(
            "SELECT number, checksum FROM commerce_migrations ORDER BY number",
            &[],
        )?
        .into_iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1)))
        .collect();
    let from = i64::from(legacy).max(recorded.iter().map(|(n, _)| *n).max().unwrap_or(0));
    let (adopt, run) = migrate::plan(migrate::POSTGRES, &recorded, i64::from(legacy))?;
    for m in adopt.iter().chain(&run) {
        if run.iter().any(|r| r.number == m.number) {
            tx.batch_execute(m.sql)?;
        }
        tx.execute(
            "INSERT INTO commerce_migrations (number, name, checksum) VALUES ($1, $2, $3)",
            &[&(m.number as i32), &m.name, &m.checksum()],
        )?;
    }
    if !run.is_empty() {
        tx.execute("UPDATE commerce_schema SET version = $1", &[&PG_SCHEMA_VERSION])?;
        tracing::info!(from, to = PG_SCHEMA_VERSION, "PostgreSQL schema migrated");
    }
    tx.commit()?;
    Ok(())
}
