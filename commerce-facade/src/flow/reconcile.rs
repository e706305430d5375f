//! The reconciliation pass: the orders a channel changed since the last pass, open or not
//! ([`SalesChannel::changed_orders`]), compared with the journal. Polling the open orders
//! misses an order that came and left the open list between two listings (shipped or
//! cancelled quickly), and a push can be lost; the reconciliation is what order tools add
//! for that. An order still open that the journal does not know enters it as a listed one
//! would (and is handed over); a closed one the journal never knew is counted and said
//! (someone shipped or cancelled it outside this flow); a known one is left to the flow,
//! except a buyer's cancellation request, answered as a listing answers it.
//!
//! One runner at a time reconciles a channel (the journal's pass `reconcile:<channel>`,
//! leased like the stock and returns passes). Each pass reads from where the last
//! successful one began, less a margin, so nothing falls between two passes; the first
//! reads the last day.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::{Error, SalesChannel};
use futures_util::StreamExt;

use super::schedule::Run;
use super::stock::{Claimed, PassMode, failed_pass_delay};
use super::{Event, Flow, later};
use crate::journal::PassState;

/// How far before the last pass's start the next one reads: a change bol records a moment
/// late is still read.
const OVERLAP: Duration = Duration::from_secs(300);

/// What the first pass reads.
const FIRST_LOOK_BACK: Duration = Duration::from_secs(86_400);

/// The journal's pass of `channel`'s reconciliation.
pub fn reconcile_pass(channel: &str) -> String {
    format!("reconcile:{channel}")
}

/// What one reconciliation pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reconciled {
    /// Orders the channel listed as changed.
    pub(crate) changed: usize,
    /// Open ones the journal did not know: now in it.
    pub(crate) found: usize,
    /// Closed ones the journal never knew.
    pub(crate) closed_unseen: Vec<String>,
}

impl std::fmt::Display for Reconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} changed order(s), {} open one(s) new to the journal",
            self.changed, self.found
        )?;
        if !self.closed_unseen.is_empty() {
            let mut named: Vec<&str> = self.closed_unseen.iter().take(5).map(String::as_str).collect();
            if self.closed_unseen.len() > 5 {
                named.push("…");
            }
            write!(
                f,
                ", {} closed without this flow (shipped or cancelled elsewhere: {})",
                self.closed_unseen.len(),
                named.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Where the last pass says the next one reads from: the summary ends with
/// ` [from <RFC 3339>]`.
fn covered_from(state: &PassState) -> Option<DateTime<Utc>> {
    let summary = state.last_summary.as_deref()?;
    let (_, from) = summary.rsplit_once(" [from ")?;
    DateTime::parse_from_rfc3339(from.strip_suffix(']')?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Flow {
    /// Reconciles every channel whose pass is due and no other runner holds; returns when
    /// the next one is due (at most an interval away). Nothing when reconciling is off.
    pub(super) async fn reconcile(&self, run: &Mutex<Run>) -> Option<DateTime<Utc>> {
        let interval = self.options.reconcile_interval?;
        let now = self.clock.now();
        let mut next = later(now, interval);
        for channel in &self.providers.channels {
            if self.stopping() {
                break;
            }
            let pass = reconcile_pass(channel.name());
            match self
                .reconcile_channel(channel.as_ref(), &pass, interval, run)
                .await
            {
                Ok(Some(due)) => next = next.min(due),
                Ok(None) => {
                    // Not due, or another runner's: when it is due or its lease ends.
                    if let Ok(Some(p)) = self.journal.pass(&pass).await {
                        let mut due = p.due_for(interval).unwrap_or(now);
                        if let Some((_, until)) = p.held_at(now) {
                            due = due.max(*until);
                        }
                        next = next.min(due.max(later(now, Duration::from_secs(1))));
                    }
                }
                Err(e) => {
                    self.fail(&pass, "reconcile", &e);
                    next = next.min(later(now, Duration::from_secs(60)));
                }
            }
        }
        Some(next)
    }

    /// One channel's pass, when due and free: `Some(next due)`.
    async fn reconcile_channel(
        &self,
        channel: &dyn SalesChannel,
        pass: &str,
        interval: Duration,
        run: &Mutex<Run>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let Some(Claimed {
            started,
            until,
            state,
        }) = self
            .claim_leased_pass(channel, pass, PassMode::WhenDue, interval)
            .await?
        else {
            return Ok(None);
        };
        let since = state
            .as_ref()
            .and_then(covered_from)
            .unwrap_or_else(|| started - chrono::Duration::from_std(FIRST_LOOK_BACK).unwrap_or_default());
        let outcome = {
            use futures_util::future::{Either, select};
            let work = std::pin::pin!(self.reconcile_work(channel, since, run));
            let beat = std::pin::pin!(self.pass_heartbeat(pass, until));
            let stop = std::pin::pin!(self.stop.wait());
            match select(work, select(beat, stop)).await {
                Either::Left((outcome, _)) => Some(outcome),
                Either::Right((Either::Left((lost, _)), _)) => Some(Err(Error::from(lost))),
                // Stopped: the pass ends as it began (the next reads from the same time).
                Either::Right((Either::Right(((), _)), _)) => None,
            }
        };
        let now = self.clock.now();
        let from = |t: DateTime<Utc>| format!(" [from {}]", t.to_rfc3339());
        let (summary, next_due) = match outcome {
            Some(Ok(found)) => {
                let next_from = started - chrono::Duration::from_std(OVERLAP).unwrap_or_default();
                self.note_health(|h| h.last_reconciled = Some(now));
                (
                    format!("{found}{}", from(next_from.max(since))),
                    later(now, interval),
                )
            }
            Some(Err(e @ Error::Unsupported { .. })) => (
                format!("not offered by the channel: {e}{}", from(since)),
                later(now, interval),
            ),
            Some(Err(e)) => {
                let (n, delay) = failed_pass_delay(interval, state.as_ref());
                (
                    format!("failed ({n} in a row): {e}{}", from(since)),
                    later(now, delay),
                )
            }
            None => ("stopped before its end".to_owned() + &from(since), now),
        };
        self.emit(Event::Reconciled {
            channel: channel.name().to_owned(),
            summary: summary
                .rsplit_once(" [from ")
                .map_or(summary.as_str(), |(s, _)| s)
                .to_owned(),
        });
        self.end_leased_pass(pass, now, next_due, &summary).await?;
        Ok(Some(next_due))
    }

    /// Takes in what the channel lists as changed. A read that fails (one order, or a page)
    /// does not stop the others; the pass then fails with the first error and what it did,
    /// and the next reads from the same time again.
    async fn reconcile_work(
        &self,
        channel: &dyn SalesChannel,
        since: DateTime<Utc>,
        run: &Mutex<Run>,
    ) -> Result<Reconciled, Error> {
        let platforms = self.platforms();
        let mut found = Reconciled::default();
        let mut failed: Option<(Error, usize)> = None;
        let mut changed = channel.changed_orders(since);
        while let Some(order) = changed.next().await {
            let order = match order {
                Ok(order) => order,
                Err(e @ Error::Unsupported { .. }) => return Err(e),
                Err(e) => {
                    match &mut failed {
                        Some((_, n)) => *n += 1,
                        None => failed = Some((e, 1)),
                    }
                    continue;
                }
            };
            found.changed += 1;
            let key = crate::journal::OrderRecord::new(order.order.clone()).key;
            let known = self.journal.load(&key).await?.is_some();
            if order.open {
                self.take_order(order.order, run, &platforms).await;
                found.found += usize::from(!known && self.journal.load(&key).await?.is_some());
            } else if !known {
                found.closed_unseen.push(order.order.id);
            }
        }
        match failed {
            None => Ok(found),
            Some((e, n)) => {
                self.fail(
                    &reconcile_pass(channel.name()),
                    "reconcile",
                    &format!("{n} read(s) failed (the first follows); the rest taken: {found}"),
                );
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_pass_reads_from_where_the_summary_says() {
        let state = |summary: &str| PassState {
            name: "reconcile:bol".into(),
            lease: None,
            next_due: None,
            last_started: None,
            last_finished: None,
            last_summary: Some(summary.into()),
        };
        let at = DateTime::parse_from_rfc3339("2026-12-07T10:00:00+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            covered_from(&state(&format!("2 changed order(s) [from {}]", at.to_rfc3339()))),
            Some(at)
        );
        assert_eq!(
            covered_from(&state(&format!(
                "failed (2 in a row): x [y] [from {}]",
                at.to_rfc3339()
            ))),
            Some(at)
        );
        assert_eq!(covered_from(&state("edited by hand")), None);
    }
}
