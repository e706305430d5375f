//! The token store and the rate store in PostgreSQL: each operation one transaction on the
//! credential's (or bucket's) row, locked `FOR UPDATE`, with the database's clock as the one
//! clock of every process.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use commerce_core::{
    BucketDecision, BucketView, Credential, Error, Grant, GrantView, Quota, RateStore, SecretString, Stored,
    TokenDecision, TokenRules, TokenStore, TokenView, bucket_decision, longest_span, next_budget,
    token_decision,
};

use super::pool::{Pool, PoolError, describe};
use crate::seal::{bucket_row, sealing};

/// The shared stores in PostgreSQL (see [`Postgres::shared_state`](crate::Postgres::shared_state)).
pub struct PgShared {
    pub(crate) pool: Arc<Pool>,
}

impl std::fmt::Debug for PgShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgShared")
    }
}

fn shared(e: postgres::Error) -> Error {
    Error::shared(format!("PostgreSQL: {}", describe(&e)))
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

fn left(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or_default()
}

#[async_trait]
impl TokenStore for PgShared {
    async fn take(
        &self,
        credential: &Credential,
        min_left: Duration,
        refused: Option<u64>,
        hold: Duration,
    ) -> Result<Stored, Error> {
        let seal = sealing(credential);
        self.pool
            .call(move |c| {
                let row = seal.row.clone();
                let mut tx = c.transaction().map_err(shared)?;
                tx.execute(
                    "INSERT INTO commerce_tokens (credential) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&row],
                )
                .map_err(shared)?;
                let r = tx
                    .query_one(
                        "SELECT sealed, expires_at, generation, held_until, clock_timestamp()
                         FROM commerce_tokens WHERE credential = $1 FOR UPDATE",
                        &[&row],
                    )
                    .map_err(shared)?;
                let (sealed, expires, generation, held, now): (
                    Option<Vec<u8>>,
                    Option<DateTime<Utc>>,
                    i64,
                    Option<DateTime<Utc>>,
                    DateTime<Utc>,
                ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                // A token sealed under another secret (the credential's secret was changed
                // in this process) does not open: as good as none here.
                let token = sealed.and_then(|s| seal.open(&s));
                let view = TokenView {
                    left: token
                        .as_ref()
                        .map(|_| expires.map_or(Duration::ZERO, |e| left(now, e))),
                    generation: generation as u64,
                    held: held.map(|h| left(now, h)),
                };
                let (drop, decision) = token_decision(&view, refused, min_left);
                if drop {
                    // The provider refused it: gone for every process.
                    tx.execute(
                        "UPDATE commerce_tokens SET sealed = NULL, expires_at = NULL WHERE credential = $1",
                        &[&row],
                    )
                    .map_err(shared)?;
                }
                let stored = match (decision, token) {
                    (TokenDecision::Use, Some(secret)) => Stored::Token {
                        secret,
                        left: view.left.unwrap_or_default(),
                        generation: generation as u64,
                    },
                    (TokenDecision::Wait(wait), _) => Stored::Wait(wait),
                    _ => {
                        tx.execute(
                            "UPDATE commerce_tokens SET held_until = $2 WHERE credential = $1",
                            &[&row, &after(now, hold)],
                        )
                        .map_err(shared)?;
                        Stored::Fetch
                    }
                };
                tx.commit().map_err(shared)?;
                Ok(stored)
            })
            .await
    }

    async fn put(&self, credential: &Credential, token: &SecretString, life: Duration) -> Result<u64, Error> {
        let seal = sealing(credential);
        let sealed = seal.seal(token)?;
        let row = seal.row;
        let life = chrono::Duration::from_std(life).unwrap_or(chrono::Duration::days(365));
        let generation: i64 =
            self.pool
                .call(move |c| {
                    let r = c
                    .query_one(
                        "INSERT INTO commerce_tokens (credential, sealed, expires_at, generation, held_until)
                         VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond', 1, NULL)
                         ON CONFLICT (credential) DO UPDATE SET sealed = excluded.sealed,
                             expires_at = excluded.expires_at, generation = commerce_tokens.generation + 1,
                             held_until = NULL, strikes = 0
                         RETURNING generation",
                        &[&row, &sealed, &(life.num_microseconds().unwrap_or(i64::MAX) as f64)],
                    )
                    .map_err(shared)?;
                    Ok::<_, Error>(r.get(0))
                })
                .await?;
        Ok(generation as u64)
    }

    async fn abandon(
        &self,
        credential: &Credential,
        rules: &TokenRules,
        asked: Option<Duration>,
    ) -> Result<(), Error> {
        let row = sealing(credential).row;
        let rules = *rules;
        self.pool
            .call(move |c| {
                let mut tx = c.transaction().map_err(shared)?;
                let r = tx
                    .query_one(
                        "UPDATE commerce_tokens SET strikes = strikes + 1 WHERE credential = $1
                         RETURNING strikes, clock_timestamp()",
                        &[&row],
                    )
                    .map_err(shared)?;
                let (strikes, now): (i32, DateTime<Utc>) = (r.get(0), r.get(1));
                let cool = rules.shared_cool_down(strikes.max(0) as u32, asked);
                tx.execute(
                    "UPDATE commerce_tokens SET held_until = $2 WHERE credential = $1",
                    &[&row, &after(now, cool)],
                )
                .map_err(shared)?;
                tx.commit().map_err(shared)?;
                Ok(())
            })
            .await
    }
}

fn system(at: DateTime<Utc>) -> SystemTime {
    SystemTime::from(at)
}

/// A bucket's row, locked for the rest of the transaction.
struct Locked {
    paused: Option<DateTime<Utc>>,
    left: Option<i64>,
    until: Option<DateTime<Utc>>,
    /// The database's clock.
    now: DateTime<Utc>,
    /// Grants under way.
    open: i64,
}

/// Creates the bucket's row if need be and locks it (`FOR UPDATE`): every process's
/// operation on the bucket waits for this transaction.
fn lock_bucket(tx: &mut postgres::Transaction<'_>, row: &str) -> Result<Locked, Error> {
    tx.execute(
        "INSERT INTO commerce_rate_buckets (bucket) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&row],
    )
    .map_err(shared)?;
    let b = tx
        .query_one(
            "SELECT paused_until, budget_left, budget_until, clock_timestamp(),
                 (SELECT count(*) FROM commerce_rate_grants g WHERE g.bucket = $1 AND g.open)
             FROM commerce_rate_buckets WHERE bucket = $1 FOR UPDATE",
            &[&row],
        )
        .map_err(shared)?;
    Ok(Locked {
        paused: b.get(0),
        left: b.get(1),
        until: b.get(2),
        now: b.get(3),
        open: b.get(4),
    })
}

#[async_trait]
impl RateStore for PgShared {
    async fn try_grant(
        &self,
        bucket: &str,
        quotas: &[Quota],
        slow_start: bool,
        open_for: Duration,
    ) -> Result<Grant, Error> {
        let row = bucket_row(bucket);
        let quotas = quotas.to_vec();
        let longest = longest_span(&quotas);
        self.pool
            .call(move |c| {
                let mut tx = c.transaction().map_err(shared)?;
                // The bucket's row lock makes each decision and its grant one step for every
                // process.
                let Locked {
                    paused,
                    left,
                    until,
                    now,
                    ..
                } = lock_bucket(&mut tx, &row)?;
                // A grant left open by a process that died counts as ended when it would have
                // ended at the latest; grants out of every window are forgotten.
                tx.execute(
                    "UPDATE commerce_rate_grants SET open = false, at = open_until
                     WHERE bucket = $1 AND open AND open_until < $2",
                    &[&row, &now],
                )
                .map_err(shared)?;
                tx.execute(
                    "DELETE FROM commerce_rate_grants WHERE bucket = $1 AND NOT open AND at < $2",
                    &[
                        &row,
                        &(now - chrono::Duration::from_std(longest).unwrap_or_default()),
                    ],
                )
                .map_err(shared)?;
                let grants = tx
                    .query(
                        "SELECT at, open FROM commerce_rate_grants WHERE bucket = $1",
                        &[&row],
                    )
                    .map_err(shared)?
                    .into_iter()
                    .map(|g| GrantView {
                        at: system(g.get(0)),
                        open: g.get(1),
                    })
                    .collect();
                let view = BucketView {
                    paused_until: paused.map(system),
                    budget: left.zip(until).map(|(l, u)| (l.max(0) as u64, system(u))),
                    grants,
                };
                let decision = bucket_decision(&quotas, slow_start, &view, system(now));
                if decision != BucketDecision::Go {
                    tx.commit().map_err(shared)?;
                    return Ok(Grant::Denied(decision));
                }
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO commerce_rate_grants (bucket, at, open, open_until)
                         VALUES ($1, $2, true, $3) RETURNING id",
                        &[&row, &now, &after(now, open_for)],
                    )
                    .map_err(shared)?
                    .get(0);
                tx.execute(
                    "UPDATE commerce_rate_buckets SET budget_left = greatest(budget_left - 1, 0)
                     WHERE bucket = $1 AND budget_until > $2",
                    &[&row, &now],
                )
                .map_err(shared)?;
                tx.commit().map_err(shared)?;
                Ok(Grant::Granted(id as u64))
            })
            .await
    }

    fn end(&self, bucket: &str, id: u64, made: bool) {
        let row = bucket_row(bucket);
        let id = id as i64;
        self.pool.detach("the end of a call", move |c| {
            if made {
                c.execute(
                    "UPDATE commerce_rate_grants SET at = greatest(at, clock_timestamp()), open = false
                     WHERE id = $1",
                    &[&id],
                )?;
            } else {
                let mut tx = c.transaction()?;
                if tx.execute("DELETE FROM commerce_rate_grants WHERE id = $1", &[&id])? > 0 {
                    tx.execute(
                        "UPDATE commerce_rate_buckets SET budget_left = budget_left + 1 WHERE bucket = $1",
                        &[&row],
                    )?;
                }
                tx.commit()?;
            }
            Ok::<_, PoolError>(())
        });
    }

    async fn pause(&self, bucket: &str, wait: Duration) -> Result<(), Error> {
        let row = bucket_row(bucket);
        let micros = wait.as_micros().min(i64::MAX as u128) as f64;
        self.pool
            .call(move |c| {
                c.execute(
                    "INSERT INTO commerce_rate_buckets (bucket, paused_until)
                     VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
                     ON CONFLICT (bucket) DO UPDATE SET paused_until =
                         greatest(commerce_rate_buckets.paused_until, excluded.paused_until)",
                    &[&row, &micros],
                )
                .map_err(shared)?;
                Ok(())
            })
            .await
    }

    async fn budget(&self, bucket: &str, remaining: u64, own: u64, reset: Duration) -> Result<(), Error> {
        let row = bucket_row(bucket);
        self.pool
            .call(move |c| {
                let mut tx = c.transaction().map_err(shared)?;
                let Locked {
                    left,
                    until,
                    now,
                    open,
                    ..
                } = lock_bucket(&mut tx, &row)?;
                let current = left.zip(until).map(|(l, u)| (l.max(0) as u64, system(u)));
                let (left, until) =
                    next_budget(current, remaining, open.max(0) as u64, own, reset, system(now));
                tx.execute(
                    "UPDATE commerce_rate_buckets SET budget_left = $2, budget_until = $3 WHERE bucket = $1",
                    &[
                        &row,
                        &(left.min(i64::MAX as u64) as i64),
                        &DateTime::<Utc>::from(until),
                    ],
                )
                .map_err(shared)?;
                tx.commit().map_err(shared)?;
                Ok(())
            })
            .await
    }
}
