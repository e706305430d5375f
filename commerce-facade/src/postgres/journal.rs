//! The journal in PostgreSQL, for runner processes on several machines: the same records,
//! schedule, leases and history as the SQLite journal, each operation one transaction, and
//! [`Journal::claim`] a `SELECT … FOR UPDATE SKIP LOCKED` (runners claiming at once each
//! take another order, without waiting for each other); a pass's claim locks its row
//! `FOR UPDATE` (runners claiming at once: one takes it).
//!
//! Times are the runners' own (as with SQLite): keep the machines' clocks in sync (NTP);
//! leases last minutes, so a skew of a second or two costs nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use postgres::Transaction;

use super::pool::Pool;
use crate::journal::{
    Amendment, Census, EventRecord, EventStats, HistoryEntry, Journal, JournalError, LeaseInfo, OfferRecord,
    OrderRecord, PassState, ReturnAmendment, ReturnRecord, ReturnRow, offer_rows, pass_lost, read_record,
    read_return, readable_offers, readable_returns, return_rows, split_rows,
};

/// A journal in a PostgreSQL database (see [`Postgres`](crate::Postgres)).
#[derive(Clone)]
pub struct PgJournal {
    pub(crate) pool: Arc<Pool>,
    pub(crate) location: String,
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal")
            .field("location", &self.location)
            .finish()
    }
}

fn history(
    tx: &mut Transaction<'_>,
    key: &str,
    at: DateTime<Utc>,
    by: &str,
    note: &str,
) -> Result<(), JournalError> {
    tx.execute(
        "INSERT INTO commerce_history (key, at, by, note) VALUES ($1, $2, $3, $4)",
        &[&key, &at, &by, &note],
    )?;
    Ok(())
}

/// The columns a pass is read from, in this order.
const PASS_COLUMNS: &str = "lease_owner, lease_until, next_due, last_started, last_finished, last_summary";

/// A pass from a row of [`PASS_COLUMNS`].
fn pass_from(name: &str, row: &postgres::Row) -> PassState {
    let owner: Option<String> = row.get(0);
    let until: Option<DateTime<Utc>> = row.get(1);
    PassState {
        name: name.to_owned(),
        lease: owner.map(|o| (o, until.unwrap_or_default())),
        next_due: row.get(2),
        last_started: row.get(3),
        last_finished: row.get(4),
        last_summary: row.get(5),
    }
}

fn text(record: &OrderRecord) -> Result<String, JournalError> {
    serde_json::to_string(record).map_err(JournalError::storage)
}

impl PgJournal {
    /// Every `(key, record)` row, by key.
    async fn rows(&self) -> Result<Vec<(String, String)>, JournalError> {
        self.pool
            .call(|c| {
                Ok(
                    c.query("SELECT key, record FROM commerce_orders ORDER BY key", &[])?
                        .into_iter()
                        .map(|r| (r.get(0), r.get(1)))
                        .collect(),
                )
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
        let body = text(record)?;
        let c = record.columns();
        let (completed, open, due, rank) = (c.completed_at, c.open, c.due, c.rank);
        let (runner, key, note) = (runner.to_owned(), record.key.clone(), note.to_owned());
        self.pool.call(move |client| {
            let now = Utc::now();
            let mut tx = client.transaction()?;
            let changed = tx.execute(
                "UPDATE commerce_orders SET record = $1, updated_at = $2, completed_at = $3, open = $4, due = $5,
                     lease_owner = CASE WHEN $6::timestamptz IS NULL THEN NULL ELSE lease_owner END,
                     lease_until = $6, version = version + 1, rank = $9
                 WHERE key = $7 AND lease_owner = $8",
                &[&body, &now, &completed, &open, &due, &lease_until, &key, &runner, &rank],
            )?;
            if changed == 0 {
                return Err(JournalError::LeaseLost { key });
            }
            if !note.is_empty() {
                history(&mut tx, &key, now, &runner, &note)?;
            }
            tx.commit()?;
            Ok(())
        }).await
    }
}

#[async_trait::async_trait]
impl Journal for PgJournal {
    async fn pass(&self, name: &str) -> Result<Option<PassState>, JournalError> {
        let name = name.to_owned();
        self.pool
            .call(move |c| {
                Ok(c.query_opt(
                    &format!("SELECT {PASS_COLUMNS} FROM commerce_passes WHERE name = $1"),
                    &[&name],
                )?
                .map(|row| pass_from(&name, &row)))
            })
            .await
    }

    /// A compare-and-set in one transaction: the pass's row (inserted when missing) is
    /// locked `FOR UPDATE`, read and taken, so of runners claiming at once one takes it
    /// and the others, waiting for the lock, read it held. Times are the runner's, as an
    /// order's claim's are.
    async fn claim_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        force: bool,
    ) -> Result<bool, JournalError> {
        let (name, runner) = (name.to_owned(), runner.to_owned());
        self.pool
            .call(move |client| {
                let mut tx = client.transaction()?;
                tx.execute(
                    "INSERT INTO commerce_passes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    &[&name],
                )?;
                let row = tx.query_one(
                    &format!("SELECT {PASS_COLUMNS} FROM commerce_passes WHERE name = $1 FOR UPDATE"),
                    &[&name],
                )?;
                if !pass_from(&name, &row).may_claim(&runner, now, force) {
                    tx.commit()?;
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE commerce_passes SET lease_owner = $2, lease_until = $3, last_started = $4 WHERE name = $1",
                    &[&name, &runner, &until, &now],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }

    async fn renew_pass(&self, name: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        let (name, runner) = (name.to_owned(), runner.to_owned());
        self.pool
            .call(move |c| {
                let changed = c.execute(
                    "UPDATE commerce_passes SET lease_until = $1 WHERE name = $2 AND lease_owner = $3",
                    &[&until, &name, &runner],
                )?;
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
        self.pool
            .call(move |c| {
                let changed = c.execute(
                    "UPDATE commerce_passes SET lease_owner = NULL, lease_until = NULL, next_due = $1,
                         last_finished = $2, last_summary = $3
                     WHERE name = $4 AND lease_owner = $5",
                    &[&next_due, &now, &summary, &name, &runner],
                )?;
                if changed == 0 {
                    return Err(pass_lost(&name));
                }
                Ok(())
            })
            .await
    }

    /// Every offer record that reads, by channel and offer id (byte order, as the other
    /// journals sort, whatever the database's collation); one that does not is logged and
    /// left out.
    async fn offers(&self) -> Result<Vec<OfferRecord>, JournalError> {
        let rows: Vec<(String, String, String)> = self
            .pool
            .call(|c| {
                Ok::<_, JournalError>(
                    c.query(
                        r#"SELECT channel, offer_id, record FROM commerce_offers
                           ORDER BY channel COLLATE "C", offer_id COLLATE "C""#,
                        &[],
                    )?
                    .into_iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect(),
                )
            })
            .await?;
        Ok(readable_offers(rows))
    }

    /// One transaction: the pass's row is locked `FOR SHARE` (a runner taking it over
    /// waits until the writes are in) and its owner checked, then every record and note
    /// written, or nothing.
    async fn save_offers(
        &self,
        pass: &str,
        runner: &str,
        records: &[(OfferRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        let rows = offer_rows(records)?;
        let (pass, runner) = (pass.to_owned(), runner.to_owned());
        self.pool
            .call(move |client| {
                let mut tx = client.transaction()?;
                holds_pass(&mut tx, &pass, &runner)?;
                let now = Utc::now();
                let upsert = tx.prepare(
                    "INSERT INTO commerce_offers (channel, offer_id, ean, record, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (channel, offer_id) DO UPDATE
                         SET ean = excluded.ean, record = excluded.record, updated_at = excluded.updated_at",
                )?;
                for (channel, offer_id, ean, text, key, note) in rows {
                    tx.execute(&upsert, &[&channel, &offer_id, &ean, &text, &now])?;
                    if let Some(note) = note {
                        history(&mut tx, &key, now, &runner, &note)?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Every return record that reads, by key (byte order, as the other journals sort);
    /// one that does not is logged and left out.
    async fn returns(&self) -> Result<Vec<ReturnRecord>, JournalError> {
        let rows: Vec<(String, String)> = self
            .pool
            .call(|c| {
                Ok::<_, JournalError>(
                    c.query(
                        r#"SELECT key, record FROM commerce_returns ORDER BY key COLLATE "C""#,
                        &[],
                    )?
                    .into_iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect(),
                )
            })
            .await?;
        Ok(readable_returns(rows))
    }

    /// The one row of `key`; [`JournalError::Unreadable`] when it does not read.
    async fn load_return(&self, key: &str) -> Result<Option<ReturnRecord>, JournalError> {
        let key = key.to_owned();
        let found: Option<String> = self
            .pool
            .call(move |c| {
                Ok::<_, JournalError>(
                    c.query_opt("SELECT record FROM commerce_returns WHERE key = $1", &[&key])?
                        .map(|r| r.get(0)),
                )
            })
            .await?;
        found.as_deref().map(read_return).transpose()
    }

    /// One transaction: the pass's row is locked `FOR SHARE` (a runner taking it over, or
    /// a person's change, waits until the writes are in) and its owner checked, then every
    /// record and note written, or nothing.
    async fn save_returns(
        &self,
        pass: &str,
        runner: &str,
        records: &[(ReturnRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        let rows = return_rows(records)?;
        let (pass, runner) = (pass.to_owned(), runner.to_owned());
        self.pool
            .call(move |client| {
                let mut tx = client.transaction()?;
                holds_pass(&mut tx, &pass, &runner)?;
                let now = Utc::now();
                let upsert = tx.prepare(
                    "INSERT INTO commerce_returns (key, channel, rma_id, order_id, record, open, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (key) DO UPDATE
                         SET channel = excluded.channel, rma_id = excluded.rma_id,
                             order_id = excluded.order_id, record = excluded.record, open = excluded.open,
                             updated_at = excluded.updated_at, version = commerce_returns.version + 1",
                )?;
                for row in rows {
                    tx.execute(
                        &upsert,
                        &[
                            &row.key,
                            &row.channel,
                            &row.rma_id,
                            &row.order_id,
                            &row.text,
                            &row.open,
                            &now,
                        ],
                    )?;
                    if let Some(note) = row.note {
                        history(&mut tx, &row.key, now, &runner, &note)?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Read (the pass and the record), changed by `change` in the caller, and written back
    /// in one transaction only if neither the pass nor the record was written in between
    /// (the pass's lease and last start, the record's version, compared; on a conflict it
    /// is read again). The transaction locks the pass's row `FOR UPDATE` first, made when
    /// missing as [`Journal::claim_pass`] makes it (and removed again if it stayed blank),
    /// so a runner claiming the pass meanwhile waits, then reads the changed record. A
    /// lease that ended is taken from its runner in the same transaction, so a runner that
    /// outlived its lease cannot write over the change ([`JournalError::LeaseLost`] at its
    /// next write).
    async fn amend_return(
        &self,
        pass: &str,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: ReturnAmendment<'_>,
    ) -> Result<ReturnRecord, JournalError> {
        /// The pass's `(lease_owner, lease_until, last_started)`; all `None` when it has no row.
        type PassColumns = (Option<String>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        const PASS_LEASE: &str =
            "SELECT lease_owner, lease_until, last_started FROM commerce_passes WHERE name = $1";
        let columns = |row: Option<postgres::Row>| -> PassColumns {
            row.map(|r| (r.get(0), r.get(1), r.get(2))).unwrap_or_default()
        };
        for _ in 0..5 {
            let (p, k) = (pass.to_owned(), key.to_owned());
            let (seen, found): (PassColumns, Option<(String, i64)>) = self
                .pool
                .call(move |c| {
                    let seen = columns(c.query_opt(PASS_LEASE, &[&p])?);
                    let found = c
                        .query_opt(
                            "SELECT record, version FROM commerce_returns WHERE key = $1",
                            &[&k],
                        )?
                        .map(|r| (r.get(0), r.get(1)));
                    Ok::<_, JournalError>((seen, found))
                })
                .await?;
            if let Some(runner) = seen.0.clone() {
                let until = seen.1.unwrap_or_default();
                if until > now {
                    return Err(JournalError::Busy {
                        key: key.to_owned(),
                        runner,
                        until,
                    });
                }
            }
            let Some((before, version)) = found else {
                return Err(JournalError::NotFound(key.to_owned()));
            };
            let mut record = read_return(&before)?;
            let note = change(&mut record).map_err(JournalError::Refused)?;
            record.due = None;
            let row = ReturnRow::of(&record, Some(note))?;
            let (p, by) = (pass.to_owned(), by.to_owned());
            let written = self
                .pool
                .call(move |client| {
                    let mut tx = client.transaction()?;
                    let made = tx.execute(
                        "INSERT INTO commerce_passes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                        &[&p],
                    )? > 0;
                    let now_seen = columns(tx.query_opt(&format!("{PASS_LEASE} FOR UPDATE"), &[&p])?);
                    if now_seen != seen {
                        return Ok(false);
                    }
                    let changed = tx.execute(
                        "UPDATE commerce_returns SET channel = $1, rma_id = $2, order_id = $3, record = $4,
                             open = $5, updated_at = $6, version = version + 1
                         WHERE key = $7 AND version = $8",
                        &[
                            &row.channel,
                            &row.rma_id,
                            &row.order_id,
                            &row.text,
                            &row.open,
                            &now,
                            &row.key,
                            &version,
                        ],
                    )?;
                    if changed == 0 {
                        return Ok(false);
                    }
                    if made {
                        tx.execute("DELETE FROM commerce_passes WHERE name = $1", &[&p])?;
                    } else if seen.0.is_some() {
                        tx.execute(
                            "UPDATE commerce_passes SET lease_owner = NULL, lease_until = NULL WHERE name = $1",
                            &[&p],
                        )?;
                    }
                    history(&mut tx, &row.key, now, &by, row.note.as_deref().unwrap_or_default())?;
                    tx.commit()?;
                    Ok::<_, JournalError>(true)
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

    async fn load(&self, key: &str) -> Result<Option<OrderRecord>, JournalError> {
        let key = key.to_owned();
        let found: Option<String> = self
            .pool
            .call(move |c| {
                Ok::<_, JournalError>(
                    c.query_opt("SELECT record FROM commerce_orders WHERE key = $1", &[&key])?
                        .map(|r| r.get(0)),
                )
            })
            .await?;
        found.as_deref().map(read_record).transpose()
    }

    async fn all(&self) -> Result<Vec<OrderRecord>, JournalError> {
        Ok(self.census().await?.0)
    }

    async fn add(&self, record: &OrderRecord) -> Result<bool, JournalError> {
        let body = text(record)?;
        let c = record.columns();
        let (completed, open, due, rank, channel) =
            (c.completed_at, c.open, c.due, c.rank, c.channel.to_owned());
        let key = record.key.clone();
        self.pool
            .call(move |client| {
                let now = Utc::now();
                let mut tx = client.transaction()?;
                let added = tx.execute(
                "INSERT INTO commerce_orders (key, record, updated_at, completed_at, open, due, channel, rank)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING",
                &[&key, &body, &now, &completed, &open, &due, &channel, &rank],
            )? > 0;
                if added {
                    history(&mut tx, &key, now, "flow", "seen on its channel")?;
                }
                tx.commit()?;
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
        let (runner, channels) = (runner.to_owned(), channels.to_vec());
        self.pool
            .call(move |client| {
                let mut tx = client.transaction()?;
                loop {
                    // SKIP LOCKED: an order another runner is claiming this instant is passed
                    // over, not waited for.
                    let Some(row) = tx.query_opt(
                        "SELECT key, record FROM commerce_orders
                     WHERE open AND channel = ANY($1) AND (due IS NULL OR due <= $2)
                       AND (lease_until IS NULL OR lease_until <= $2)
                     ORDER BY rank DESC, due NULLS FIRST, key LIMIT 1 FOR UPDATE SKIP LOCKED",
                        &[&channels, &now],
                    )?
                    else {
                        tx.commit()?;
                        return Ok(None);
                    };
                    let (key, text): (String, String) = (row.get(0), row.get(1));
                    match read_record(&text) {
                        Ok(record) => {
                            tx.execute(
                            "UPDATE commerce_orders SET lease_owner = $1, lease_until = $2 WHERE key = $3",
                            &[&runner, &until, &key],
                        )?;
                            tx.commit()?;
                            return Ok(Some(record));
                        }
                        // Set aside, kept as it is, named by `unreadable`; the others go on.
                        Err(e) => {
                            tracing::error!(key, error = %e, "an unreadable journal record was set aside");
                            tx.execute("UPDATE commerce_orders SET open = false WHERE key = $1", &[&key])?;
                            history(
                                &mut tx,
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
        self.pool
            .call(move |c| {
                let changed = c.execute(
                    "UPDATE commerce_orders SET lease_until = $1 WHERE key = $2 AND lease_owner = $3",
                    &[&until, &key, &runner],
                )?;
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
    /// order in between (its version is compared; on a conflict it is read again).
    async fn amend(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: Amendment<'_>,
    ) -> Result<OrderRecord, JournalError> {
        for _ in 0..5 {
            let k = key.to_owned();
            type Found = Option<(String, Option<String>, Option<DateTime<Utc>>, i64)>;
            let found: Found = self.pool.call(move |c| {
                Ok::<_, JournalError>(
                    c.query_opt(
                        "SELECT record, lease_owner, lease_until, version FROM commerce_orders WHERE key = $1",
                        &[&k],
                    )?
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))),
                )
            }).await?;
            let Some((text, owner, until, version)) = found else {
                return Err(JournalError::NotFound(key.to_owned()));
            };
            if let (Some(runner), Some(until)) = (owner, until)
                && until > now
            {
                return Err(JournalError::Busy {
                    key: key.to_owned(),
                    runner,
                    until,
                });
            }
            let mut record = read_record(&text)?;
            let note = change(&mut record).map_err(JournalError::Refused)?;
            record.due = None;
            let body = self::text(&record)?;
            let c = record.columns();
            let (completed, open, due, rank) = (c.completed_at, c.open, c.due, c.rank);
            let (k, by) = (key.to_owned(), by.to_owned());
            let written = self.pool.call(move |client| {
                let mut tx = client.transaction()?;
                let changed = tx.execute(
                    "UPDATE commerce_orders SET record = $1, updated_at = $2, completed_at = $3, open = $4, due = $5,
                         lease_owner = NULL, lease_until = NULL, version = version + 1, rank = $8
                     WHERE key = $6 AND version = $7 AND (lease_until IS NULL OR lease_until <= $2)",
                    &[&body, &now, &completed, &open, &due, &k, &version, &rank],
                )?;
                if changed == 0 {
                    return Ok(false);
                }
                history(&mut tx, &k, now, &by, &note)?;
                tx.commit()?;
                Ok::<_, JournalError>(true)
            }).await?;
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
        self.pool
            .call(move |c| {
                Ok(c.query(
                    "SELECT at, by, note FROM commerce_history WHERE key = $1 ORDER BY id",
                    &[&key],
                )?
                .into_iter()
                .map(|r| HistoryEntry {
                    at: r.get(0),
                    by: r.get(1),
                    note: r.get(2),
                })
                .collect())
            })
            .await
    }

    async fn leases(&self, now: DateTime<Utc>) -> Result<Vec<LeaseInfo>, JournalError> {
        self.pool
            .call(move |c| {
                Ok(c.query(
                    "SELECT key, lease_owner, lease_until FROM commerce_orders
                 WHERE lease_owner IS NOT NULL AND lease_until > $1 ORDER BY lease_owner, key",
                    &[&now],
                )?
                .into_iter()
                .map(|r| LeaseInfo {
                    key: r.get(0),
                    runner: r.get(1),
                    until: r.get(2),
                })
                .collect())
            })
            .await
    }

    async fn next_due(&self, channels: &[String]) -> Result<Option<DateTime<Utc>>, JournalError> {
        let channels = channels.to_vec();
        // A held order is due when its lease ends at the earliest; a new one at once.
        self.pool
            .call(move |c| {
                Ok(c.query_one(
                    "SELECT min(CASE
                     WHEN lease_until IS NOT NULL AND (due IS NULL OR lease_until > due) THEN lease_until
                     ELSE coalesce(due, 'epoch'::timestamptz) END)
                 FROM commerce_orders WHERE open AND channel = ANY($1)",
                    &[&channels],
                )?
                .get(0))
            })
            .await
    }

    async fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        self.pool.call(move |c| {
            let now = Utc::now();
            let mut tx = c.transaction()?;
            let rows = tx.query(
                "SELECT key, record FROM commerce_orders WHERE completed_at IS NOT NULL AND completed_at < $1
                 FOR UPDATE",
                &[&before],
            )?;
            let mut purged = 0;
            for row in rows {
                let (key, text): (String, String) = (row.get(0), row.get(1));
                // An unreadable record is passed over (the run reports it), not a stop to
                // every other purge.
                let Ok(mut r) = read_record(&text) else {
                    tracing::error!(key, "an unreadable journal record was not purged");
                    continue;
                };
                if r.purged_at.is_some() {
                    continue;
                }
                r.purge_personal(now);
                let body = self::text(&r)?;
                // Purged records leave the purge's index (`completed_at` NULL).
                tx.execute(
                    "UPDATE commerce_orders SET record = $1, completed_at = NULL, version = version + 1 WHERE key = $2",
                    &[&body, &key],
                )?;
                history(&mut tx, &key, now, "flow", "personal data purged")?;
                purged += 1;
            }
            tx.commit()?;
            Ok(purged)
        }).await
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn bind_account(&self, channel: &str, account: &str, replace: bool) -> Result<(), JournalError> {
        let (channel, account) = (channel.to_owned(), account.to_owned());
        self.pool
            .call(move |c| {
                let mut tx = c.transaction()?;
                // One row per channel, written under its lock: two runners binding at once agree.
                tx.execute(
                    "INSERT INTO commerce_accounts (channel, account, since) VALUES ($1, $2, now())
                 ON CONFLICT (channel) DO NOTHING",
                    &[&channel, &account],
                )?;
                let recorded: String = tx
                    .query_one(
                        "SELECT account FROM commerce_accounts WHERE channel = $1 FOR UPDATE",
                        &[&channel],
                    )?
                    .get(0);
                if recorded != account {
                    if !replace {
                        return Err(JournalError::OtherAccount {
                            channel,
                            recorded,
                            given: account,
                        });
                    }
                    tx.execute(
                        "UPDATE commerce_accounts SET account = $2, since = now() WHERE channel = $1",
                        &[&channel, &account],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn census(&self) -> Result<Census, JournalError> {
        Ok(split_rows(self.rows().await?))
    }

    /// One transaction, an insert that does nothing where the id is there: of runners
    /// adding one event at once, one adds it (the others wait for its commit, then find
    /// it). Durable when it returns.
    async fn add_event(&self, event: &EventRecord) -> Result<bool, JournalError> {
        let e = event.clone();
        self.pool
            .call(move |client| {
                let mut tx = client.transaction()?;
                let added = tx.execute(
                    "INSERT INTO commerce_events (id, channel, kind, resource_id, received_at, handled_at, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    &[
                        &e.id,
                        &e.channel,
                        &e.kind,
                        &e.resource_id,
                        &e.received_at,
                        &e.handled_at,
                        &e.body,
                    ],
                )?;
                tx.commit()?;
                Ok(added > 0)
            })
            .await
    }

    /// Oldest first (then by id, byte order), read a page at a time until `limit` rows
    /// read: a row that does not (its table edited by hand) is logged by its id and passed
    /// over, and takes no place of the limit.
    async fn unhandled_events(&self, channel: &str, limit: usize) -> Result<Vec<EventRecord>, JournalError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let channel = channel.to_owned();
        self.pool
            .call(move |c| {
                let page = i64::try_from(limit).unwrap_or(i64::MAX);
                let mut found = Vec::new();
                let mut offset: i64 = 0;
                loop {
                    let rows = c.query(
                        &format!(
                            r#"SELECT {EVENT_COLUMNS} FROM commerce_events
                               WHERE channel = $1 AND handled_at IS NULL
                               ORDER BY received_at, id COLLATE "C" LIMIT $2 OFFSET $3"#
                        ),
                        &[&channel, &page, &offset],
                    )?;
                    let read = rows.len();
                    for row in &rows {
                        if found.len() == limit {
                            break;
                        }
                        if let Some(event) = readable_event(row) {
                            found.push(event);
                        }
                    }
                    if found.len() == limit || i64::try_from(read).unwrap_or(i64::MAX) < page {
                        return Ok::<_, JournalError>(found);
                    }
                    offset = offset.saturating_add(page);
                }
            })
            .await
    }

    /// Sets `handled_at` only where it is not set: the first time is kept.
    async fn event_handled(&self, id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
        let id = id.to_owned();
        self.pool
            .call(move |c| {
                c.execute(
                    "UPDATE commerce_events SET handled_at = $2 WHERE id = $1 AND handled_at IS NULL",
                    &[&id, &at],
                )?;
                Ok::<_, JournalError>(())
            })
            .await
    }

    async fn event_stats(&self) -> Result<EventStats, JournalError> {
        self.pool
            .call(|c| {
                let row = c.query_one(
                    "SELECT count(*), count(*) FILTER (WHERE handled_at IS NULL), max(received_at)
                     FROM commerce_events",
                    &[],
                )?;
                let (received, unhandled): (i64, i64) = (row.get(0), row.get(1));
                Ok::<_, JournalError>(EventStats {
                    received: u64::try_from(received).unwrap_or_default(),
                    unhandled: u64::try_from(unhandled).unwrap_or_default(),
                    last_received: row.get(2),
                })
            })
            .await
    }

    /// One statement; an event no runner handled is never deleted.
    async fn purge_events(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        self.pool
            .call(move |c| {
                let deleted = c.execute(
                    "DELETE FROM commerce_events WHERE handled_at IS NOT NULL AND handled_at < $1",
                    &[&before],
                )?;
                Ok::<_, JournalError>(usize::try_from(deleted).unwrap_or(usize::MAX))
            })
            .await
    }
}

/// Locks the pass `pass`'s row `FOR SHARE` (a runner taking it over, or a person's change,
/// waits until the transaction ends) and refuses (`LeaseLost`) a runner that does not hold
/// it.
fn holds_pass(tx: &mut Transaction<'_>, pass: &str, runner: &str) -> Result<(), JournalError> {
    let owner: Option<String> = tx
        .query_opt(
            "SELECT lease_owner FROM commerce_passes WHERE name = $1 FOR SHARE",
            &[&pass],
        )?
        .and_then(|r| r.get(0));
    if owner.as_deref() != Some(runner) {
        return Err(pass_lost(pass));
    }
    Ok(())
}

/// The columns an event is read from, in this order.
const EVENT_COLUMNS: &str = "id, channel, kind, resource_id, received_at, handled_at, body";

/// The event of a row of [`EVENT_COLUMNS`]; `None`, logged with the row's id, when a
/// column does not read (the table edited by hand: a column's type changed, a `NULL`
/// where a value belongs).
fn readable_event(row: &postgres::Row) -> Option<EventRecord> {
    let read = || -> Result<EventRecord, postgres::Error> {
        Ok(EventRecord {
            id: row.try_get(0)?,
            channel: row.try_get(1)?,
            kind: row.try_get(2)?,
            resource_id: row.try_get(3)?,
            received_at: row.try_get(4)?,
            handled_at: row.try_get(5)?,
            body: row.try_get(6)?,
        })
    };
    match read() {
        Ok(event) => Some(event),
        Err(e) => {
            let id = row
                .try_get::<_, Option<String>>(0)
                .ok()
                .flatten()
                .unwrap_or_default();
            tracing::error!(id, error = %e, "an unreadable journal event was passed over");
            None
        }
    }
}
