//! The token store and the rate store in the SQLite journal's file
//! ([`SqliteJournal::shared_state`](super::SqliteJournal::shared_state)): several runner
//! processes on one machine, and consecutive ones (a timer, cron), share each credential's
//! token for its life and each provider's budgets.
//!
//! What is stored, and how, is PostgreSQL's: rows named by hashes, each token sealed under a
//! key derived from its credential's secret (`crate::seal`), each operation one transaction
//! (here `BEGIN IMMEDIATE`, which serialises the writers of the file across processes), the
//! same rules (`token_decision`, `bucket_decision`, `next_budget`). The one clock is the
//! machine's. The stores have a connection of their own, on a thread of their own: no
//! SQLite call runs on the caller's async runtime. Journal saves and store transactions take
//! the file's write lock in turn; a store transaction holds it briefly. The connection writes with `synchronous = NORMAL`
//! (the journal's stays `FULL`): a power loss may forget the last tokens and grants, which
//! costs one token request and a few calls counted short for a window, nothing more.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use commerce_core::{
    BucketDecision, BucketView, Credential, Error, Grant, GrantView, Quota, RateStore, SecretString, Stored,
    TokenDecision, TokenRules, TokenStore, TokenView, bucket_decision, longest_span, next_budget,
    token_decision,
};
use rusqlite::{OpenFlags, TransactionBehavior};

use crate::seal::{bucket_row, sealing};

/// How long an operation waits for another process's write to the file: shorter than the
/// journal's 30 s, as a failed operation only fails the call (retryable, nothing sent).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long dropping the stores waits for the ends of calls still queued, so that a run's
/// last grants are not left counting for the next run.
const FLUSH: Duration = Duration::from_secs(5);

/// A job for the stores' thread.
type Job = Box<dyn FnOnce(&mut rusqlite::Connection) + Send>;

/// The shared stores in an SQLite journal's file (see
/// [`SqliteJournal::shared_state`](super::SqliteJournal::shared_state)).
pub struct SqliteShared {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    done: Mutex<Option<mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for SqliteShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteShared")
    }
}

/// What the file says when it cannot be written (full disk, read-only, I/O failure), as
/// SQLite reported it to the stores: the journal's next claim fails with it
/// ([`JournalError::Unwritable`](super::JournalError::Unwritable)), so a run stops as on a
/// journal write that failed, rather than listing again and again with no call let through.
pub(super) type Unwritable = Arc<Mutex<Option<String>>>;

thread_local! {
    /// The last unwritable-file error of the job running on this (the stores') thread.
    static UNWRITABLE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn shared(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    if matches!(
        e.sqlite_error_code(),
        Some(C::DiskFull | C::ReadOnly | C::SystemIoFailure)
    ) {
        UNWRITABLE.with(|u| *u.borrow_mut() = Some(e.to_string()));
    }
    Error::shared(format!("SQLite: {e}"))
}

/// Microseconds since the epoch, as stored.
fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros().min(i64::MAX as u128) as i64,
        Err(_) => 0,
    }
}

fn at(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64)
}

fn after(now: SystemTime, d: Duration) -> SystemTime {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400))
}

fn left(now: SystemTime, until: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or_default()
}

impl SqliteShared {
    /// The stores on the journal file at `path` (a journal of this release: its tables are
    /// there), with a connection and a thread of their own.
    pub(super) fn open(path: &Path, unwritable: Unwritable) -> Result<Self, Error> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(shared)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(shared)?;
        // WAL is the file's (the journal set it); durability is this connection's.
        conn.execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(shared)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("commerce-sqlite-shared".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(job) = rx.recv() {
                    // A job that panics loses its answer, not the thread.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        // Whatever it left open is rolled back.
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    // The file's state as this job found it, for the journal's next claim.
                    let found = UNWRITABLE.with(|u| u.borrow_mut().take());
                    *unwritable.lock().unwrap_or_else(|p| p.into_inner()) = found;
                }
                // Closed before the owner is told: the last connection to close checkpoints
                // the write-ahead log and removes it, which a process ending at once cuts.
                drop(conn);
                let _ = done_tx.send(());
            })
            .map_err(|e| Error::shared(format!("no thread for the shared state: {e}")))?;
        Ok(SqliteShared {
            jobs: Mutex::new(Some(tx)),
            done: Mutex::new(Some(done_rx)),
        })
    }

    fn submit(&self, job: Job) -> Result<(), Error> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .ok_or_else(|| Error::shared("the shared state is closed"))?
            .send(job)
            .map_err(|_| Error::shared("the shared state's thread stopped"))
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the stores' thread, with the
    /// machine's clock read once the transaction holds the file's write lock.
    async fn transaction<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>, SystemTime) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move |conn| {
            let _ = tx.send(immediate(conn, work));
        }))?;
        rx.await
            .map_err(|_| Error::shared("the shared state's thread stopped mid-operation"))?
    }
}

fn immediate<T>(
    conn: &mut rusqlite::Connection,
    work: impl FnOnce(&rusqlite::Transaction<'_>, SystemTime) -> Result<T, Error>,
) -> Result<T, Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(shared)?;
    let out = work(&tx, SystemTime::now())?;
    tx.commit().map_err(shared)?;
    Ok(out)
}

impl Drop for SqliteShared {
    /// Lets the thread finish the ends of calls still queued (at most 5 s), so a
    /// process that ends leaves no grant of its own counting as under way.
    fn drop(&mut self) {
        drop(self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(done) = self.done.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = done.recv_timeout(FLUSH);
        }
    }
}

#[async_trait]
impl TokenStore for SqliteShared {
    async fn take(
        &self,
        credential: &Credential,
        min_left: Duration,
        refused: Option<u64>,
        hold: Duration,
    ) -> Result<Stored, Error> {
        let seal = sealing(credential);
        self.transaction(move |tx, now| {
            let row = seal.row.as_str();
            tx.execute(
                "INSERT INTO shared_tokens (credential) VALUES (?1) ON CONFLICT DO NOTHING",
                [row],
            )
            .map_err(shared)?;
            let (sealed, expires, generation, held): (Option<Vec<u8>>, Option<i64>, i64, Option<i64>) = tx
                .query_row(
                    "SELECT sealed, expires_at, generation, held_until FROM shared_tokens WHERE credential = ?1",
                    [row],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(shared)?;
            // A token sealed under another secret (the credential's secret was changed in
            // this process) does not open: as good as none here.
            let token = sealed.and_then(|s| seal.open(&s));
            let view = TokenView {
                left: token
                    .as_ref()
                    .map(|_| expires.map_or(Duration::ZERO, |e| left(now, at(e)))),
                generation: generation.max(0) as u64,
                held: held.map(|h| left(now, at(h))),
            };
            let (drop, decision) = token_decision(&view, refused, min_left);
            if drop {
                // The provider refused it: gone for every process.
                tx.execute(
                    "UPDATE shared_tokens SET sealed = NULL, expires_at = NULL WHERE credential = ?1",
                    [row],
                )
                .map_err(shared)?;
            }
            Ok(match (decision, token) {
                (TokenDecision::Use, Some(secret)) => Stored::Token {
                    secret,
                    left: view.left.unwrap_or_default(),
                    generation: view.generation,
                },
                (TokenDecision::Wait(wait), _) => Stored::Wait(wait),
                _ => {
                    tx.execute(
                        "UPDATE shared_tokens SET held_until = ?2 WHERE credential = ?1",
                        (row, micros(after(now, hold))),
                    )
                    .map_err(shared)?;
                    Stored::Fetch
                }
            })
        })
        .await
    }

    async fn put(&self, credential: &Credential, token: &SecretString, life: Duration) -> Result<u64, Error> {
        let seal = sealing(credential);
        let sealed = seal.seal(token)?;
        let row = seal.row;
        let generation: i64 = self
            .transaction(move |tx, now| {
                tx.query_row(
                    "INSERT INTO shared_tokens (credential, sealed, expires_at, generation, held_until, strikes)
                     VALUES (?1, ?2, ?3, 1, NULL, 0)
                     ON CONFLICT (credential) DO UPDATE SET sealed = excluded.sealed,
                         expires_at = excluded.expires_at, generation = shared_tokens.generation + 1,
                         held_until = NULL, strikes = 0
                     RETURNING generation",
                    (&row, &sealed, micros(after(now, life))),
                    |r| r.get(0),
                )
                .map_err(shared)
            })
            .await?;
        Ok(generation.max(0) as u64)
    }

    async fn abandon(
        &self,
        credential: &Credential,
        rules: &TokenRules,
        asked: Option<Duration>,
    ) -> Result<(), Error> {
        let row = sealing(credential).row;
        let rules = *rules;
        self.transaction(move |tx, now| {
            let strikes: i64 = tx
                .query_row(
                    "INSERT INTO shared_tokens (credential, strikes) VALUES (?1, 1)
                     ON CONFLICT (credential) DO UPDATE SET strikes = shared_tokens.strikes + 1
                     RETURNING strikes",
                    [&row],
                    |r| r.get(0),
                )
                .map_err(shared)?;
            let cool = rules.shared_cool_down(strikes.clamp(0, i64::from(u32::MAX)) as u32, asked);
            tx.execute(
                "UPDATE shared_tokens SET held_until = ?2 WHERE credential = ?1",
                (&row, micros(after(now, cool))),
            )
            .map_err(shared)?;
            Ok(())
        })
        .await
    }
}

/// A bucket's row (created if need be), with its grants under way; the transaction holds
/// the file's write lock, so this and what follows is one step for every process.
struct Bucket {
    paused: Option<i64>,
    budget: Option<(u64, SystemTime)>,
    open: u64,
}

fn bucket(tx: &rusqlite::Transaction<'_>, row: &str) -> Result<Bucket, Error> {
    tx.execute(
        "INSERT INTO shared_buckets (bucket) VALUES (?1) ON CONFLICT DO NOTHING",
        [row],
    )
    .map_err(shared)?;
    let (paused, left, until, open): (Option<i64>, Option<i64>, Option<i64>, i64) = tx
        .query_row(
            "SELECT paused_until, budget_left, budget_until,
                 (SELECT count(*) FROM shared_grants g WHERE g.bucket = ?1 AND g.open)
             FROM shared_buckets WHERE bucket = ?1",
            [row],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(shared)?;
    Ok(Bucket {
        paused,
        budget: left.zip(until).map(|(l, u)| (l.max(0) as u64, at(u))),
        open: open.max(0) as u64,
    })
}

#[async_trait]
impl RateStore for SqliteShared {
    async fn try_grant(
        &self,
        bucket_name: &str,
        quotas: &[Quota],
        slow_start: bool,
        open_for: Duration,
    ) -> Result<Grant, Error> {
        let row = bucket_row(bucket_name);
        let quotas = quotas.to_vec();
        let longest = longest_span(&quotas);
        self.transaction(move |tx, now| {
            let row = row.as_str();
            let b = bucket(tx, row)?;
            let stamp = micros(now);
            // A grant left open by a process that died counts as ended when it would have
            // ended at the latest; grants out of every window are forgotten.
            tx.execute(
                "UPDATE shared_grants SET open = 0, at = open_until
                 WHERE bucket = ?1 AND open AND open_until < ?2",
                (row, stamp),
            )
            .map_err(shared)?;
            tx.execute(
                "DELETE FROM shared_grants WHERE bucket = ?1 AND NOT open AND at < ?2",
                (
                    row,
                    stamp.saturating_sub(longest.as_micros().min(i64::MAX as u128) as i64),
                ),
            )
            .map_err(shared)?;
            let grants = {
                let mut stmt = tx
                    .prepare_cached("SELECT at, open FROM shared_grants WHERE bucket = ?1")
                    .map_err(shared)?;
                stmt.query_map([row], |r| {
                    Ok(GrantView {
                        at: at(r.get(0)?),
                        open: r.get(1)?,
                    })
                })
                .map_err(shared)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(shared)?
            };
            let view = BucketView {
                paused_until: b.paused.map(at),
                budget: b.budget,
                grants,
            };
            let decision = bucket_decision(&quotas, slow_start, &view, now);
            if decision != BucketDecision::Go {
                return Ok(Grant::Denied(decision));
            }
            let id: i64 = tx
                .query_row(
                    "INSERT INTO shared_grants (bucket, at, open, open_until) VALUES (?1, ?2, 1, ?3)
                     RETURNING id",
                    (row, stamp, micros(after(now, open_for))),
                    |r| r.get(0),
                )
                .map_err(shared)?;
            tx.execute(
                "UPDATE shared_buckets SET budget_left = max(budget_left - 1, 0)
                 WHERE bucket = ?1 AND budget_until > ?2",
                (row, stamp),
            )
            .map_err(shared)?;
            Ok(Grant::Granted(id.max(0) as u64))
        })
        .await
    }

    fn end(&self, bucket_name: &str, id: u64, made: bool) {
        let row = bucket_row(bucket_name);
        let id = id.min(i64::MAX as u64) as i64;
        let job: Job = Box::new(move |conn| {
            let ended = immediate(conn, |tx, now| {
                if made {
                    tx.execute(
                        "UPDATE shared_grants SET at = max(at, ?2), open = 0 WHERE id = ?1",
                        (id, micros(now)),
                    )
                    .map_err(shared)?;
                } else if tx
                    .execute("DELETE FROM shared_grants WHERE id = ?1", [id])
                    .map_err(shared)?
                    > 0
                {
                    tx.execute(
                        "UPDATE shared_buckets SET budget_left = budget_left + 1 WHERE bucket = ?1",
                        [&row],
                    )
                    .map_err(shared)?;
                }
                Ok(())
            });
            if let Err(e) = ended {
                tracing::warn!(error = %e, "the end of a call was not written to the shared state");
            }
        });
        if let Err(e) = self.submit(job) {
            tracing::warn!(error = %e, "the end of a call was not written to the shared state");
        }
    }

    async fn pause(&self, bucket_name: &str, wait: Duration) -> Result<(), Error> {
        let row = bucket_row(bucket_name);
        self.transaction(move |tx, now| {
            tx.execute(
                "INSERT INTO shared_buckets (bucket, paused_until) VALUES (?1, ?2)
                 ON CONFLICT (bucket) DO UPDATE SET paused_until =
                     max(coalesce(shared_buckets.paused_until, 0), excluded.paused_until)",
                (&row, micros(after(now, wait))),
            )
            .map_err(shared)?;
            Ok(())
        })
        .await
    }

    async fn budget(
        &self,
        bucket_name: &str,
        remaining: u64,
        own: u64,
        reset: Duration,
    ) -> Result<(), Error> {
        let row = bucket_row(bucket_name);
        self.transaction(move |tx, now| {
            let b = bucket(tx, &row)?;
            let (left, until) = next_budget(b.budget, remaining, b.open, own, reset, now);
            tx.execute(
                "UPDATE shared_buckets SET budget_left = ?2, budget_until = ?3 WHERE bucket = ?1",
                (&row, left.min(i64::MAX as u64) as i64, micros(until)),
            )
            .map_err(shared)?;
            Ok(())
        })
        .await
    }
}
