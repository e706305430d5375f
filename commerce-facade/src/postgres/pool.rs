//! A small pool of PostgreSQL connections, each on a thread of its own.
//!
//! The journal's operations and the stores' hand a closure to one of the pool's threads,
//! which runs it on its connection (opening it again when it broke) and sends the result
//! back; the caller awaits it ([`Pool::call`]). Only opening a database (connecting,
//! migrating, creating it) waits on a channel ([`Pool::blocking`]), before any runner works.
//! No PostgreSQL call ever runs on the caller's async runtime, so the pool serves any
//! runtime, and none.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// A job for a connection thread.
type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// Why the pool could not run a job: the database cannot be reached, or refused it.
#[derive(Debug, Clone)]
pub(crate) struct PoolError(pub(crate) String);

impl From<PoolError> for commerce_core::Error {
    fn from(e: PoolError) -> Self {
        commerce_core::Error::shared(format!("PostgreSQL: {}", e.0))
    }
}

impl From<PoolError> for crate::journal::JournalError {
    fn from(e: PoolError) -> Self {
        crate::journal::JournalError::Storage(format!("PostgreSQL: {}", e.0))
    }
}

impl From<postgres::Error> for PoolError {
    fn from(e: postgres::Error) -> Self {
        PoolError(describe(&e))
    }
}

impl From<postgres::Error> for crate::journal::JournalError {
    fn from(e: postgres::Error) -> Self {
        // Class 53 (insufficient resources: a full disk, out of memory), a read-only
        // transaction (25006, a standby) and corrupt data (XX001, XX002) cannot be written
        // until someone acts; the others (a dropped connection, a serialization failure
        // 40001, a deadlock 40P01, a lock or statement time-out) may pass.
        let unwritable = e
            .code()
            .is_some_and(|c| c.code().starts_with("53") || matches!(c.code(), "25006" | "XX001" | "XX002"));
        let text = format!("PostgreSQL: {}", describe(&e));
        if unwritable {
            crate::journal::JournalError::Unwritable(text)
        } else {
            crate::journal::JournalError::Storage(text)
        }
    }
}

/// A PostgreSQL error as a person reads it: the server's message, or the client's cause
/// (`postgres::Error`'s own text is only "db error" for the former).
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A connection idle this long is checked before use: the server may have dropped it (a
/// restart, a fail-over), which the client only notices when it next uses it.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

/// One thread's connection, opened on first use and again after it broke.
pub(crate) struct Conn {
    config: postgres::Config,
    client: Option<Client>,
    last_used: Instant,
}

impl Conn {
    fn client(&mut self) -> Result<&mut Client, PoolError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.last_used.elapsed() > CHECK_AFTER_IDLE
            && let Some(c) = &mut self.client
            && c.is_valid(Duration::from_secs(5)).is_err()
        {
            tracing::info!("a PostgreSQL connection was dropped by the server: connecting again");
            self.client = None;
        }
        self.last_used = Instant::now();
        if self.client.is_none() {
            self.client = Some(self.config.connect(NoTls)?);
        }
        Ok(self.client.as_mut().expect("set above"))
    }

    fn run<T, E: From<PoolError>>(&mut self, f: impl FnOnce(&mut Client) -> Result<T, E>) -> Result<T, E> {
        let client = self.client()?;
        let out = f(client);
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        out
    }
}

/// The connection threads and the queue of jobs they take from.
pub(crate) struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Pool {
    /// `size` threads connecting with `config` (connections are opened on first use).
    pub(crate) fn new(config: postgres::Config, size: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..size.max(1) {
            let rx = rx.clone();
            let mut conn = Conn {
                config: config.clone(),
                client: None,
                last_used: Instant::now(),
            };
            std::thread::Builder::new()
                .name(format!("commerce-postgres-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => {
                                // A job that panics loses its answer (its caller sees the
                                // thread stop mid-job), not the thread; its connection,
                                // perhaps mid-transaction, is dropped.
                                let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
                                if std::panic::catch_unwind(run).is_err() {
                                    conn.client = None;
                                }
                            }
                            // The pool was dropped.
                            Err(_) => return,
                        }
                    }
                })
                .expect("a thread can be started");
        }
        Pool { jobs: Mutex::new(tx) }
    }

    fn submit(&self, job: Job) -> Result<(), PoolError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| PoolError("the connection threads stopped".into()))
    }

    /// Runs `f` on a connection and waits for it (blocking this thread): for opening a
    /// database only, never for an operation of a runner.
    pub(crate) fn blocking<T, E>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<PoolError> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(Box::new(move |conn| {
            let _ = tx.send(conn.run(f));
        }))?;
        rx.recv()
            .map_err(|_| E::from(PoolError("a connection thread stopped mid-job".into())))?
    }

    /// Runs `f` on a connection and awaits it.
    pub(crate) async fn call<T, E>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<PoolError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move |conn| {
            let _ = tx.send(conn.run(f));
        }))?;
        rx.await
            .map_err(|_| E::from(PoolError("a connection thread stopped mid-job".into())))?
    }

    /// Runs `f` on a connection without waiting; a failure is logged.
    pub(crate) fn detach(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Client) -> Result<(), PoolError> + Send + 'static,
    ) {
        let job: Job = Box::new(move |conn| {
            if let Err(e) = conn.run(f) {
                tracing::warn!(error = %e.0, what, "a PostgreSQL write was lost");
            }
        });
        if let Err(e) = self.submit(job) {
            tracing::warn!(error = %e.0, what, "a PostgreSQL write was lost");
        }
    }
}
