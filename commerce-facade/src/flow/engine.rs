//! The engine that takes one held order through a loop's table: it reads the record
//! against the table (`steps::next`), paces the step by its provider, reads the channel's
//! changes first where the row says so, and dispatches the call to the row's runner. It owns
//! what the steps share: every journal write and lease renewal (`save`), the stop checks,
//! an acting step's call ([`Held::perform`]: `Started`, the call, `Done` or the reset its
//! rule asks for; `changes`' own calls, which depend on what the channel says, use `act`
//! and `save` directly), the reset of the failures in a row once a step succeeds (the
//! schedule counts them), the events and the summary (`announce`), a person's attention
//! and the end of the order.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use commerce_core::{Error, Fulfilment, ReviewInvitation, SalesChannel};
use futures_util::future::BoxFuture;

use super::steps::{self, InvitePlan, Next, Pace, Rule};
use super::{Event, Flow, Summary, map, route};
use crate::journal::{JournalError, OrderRecord, Step};

/// A journal note made from what a call came to.
pub(crate) type Note<'a, T> = Box<dyn FnOnce(&T) -> String + Send + 'a>;

/// What an acting step's call is journaled as ([`Held::perform`]).
pub(crate) struct Notes<'a, T> {
    /// The name its failure is counted under (the rule's, or the invitation's call).
    pub failed: String,
    /// The note written before the call.
    pub before: String,
    /// The note written once it is done, from its output.
    pub done: Note<'a, T>,
    /// The note of a refusal, for a rule that resets the step on one
    /// ([`Unknown::resets_on_refusal`](super::steps::Unknown::resets_on_refusal)).
    pub refused: Option<Note<'a, Error>>,
}

/// Runs one call of a step on a held order.
pub(crate) type Runner = for<'h, 'f> fn(&'h mut Held<'f>, Next) -> BoxFuture<'h, Result<(), Halt>>;

/// A loop's table as the engine runs it: each row's rule and its runner.
#[derive(Clone, Copy)]
pub(crate) struct Row {
    /// What the step is (`steps::TABLE`).
    pub rule: &'static Rule,
    /// What runs it.
    pub run: Runner,
}

/// Why an order's work ends for this visit.
#[derive(Debug)]
pub(crate) enum Halt {
    /// Not shipped yet: check again at `until`.
    Wait(DateTime<Utc>),
    /// The provider of the next step (named) could take a call only at `until` (its rate
    /// limit): given back, due again then, so the worker serves other orders meanwhile.
    Paced(DateTime<Utc>, String),
    /// The runner is stopping; the order is given back as it stands.
    Stopped,
    /// A step failed: `(step, error)`; retried later.
    Failed(String, Error),
    /// A person must decide (the record says why).
    Attention(String),
    /// Every line was cancelled on the channel (and the hand-over, if there was one):
    /// nothing is left to do (the record says why).
    Cancelled(String),
    /// Split into parts, one per fulfilment provider: their keys. The parts go on as
    /// orders of their own.
    Split(Vec<String>),
    /// The journal cannot be written (or the lease was lost): nothing more may be done.
    Journal(JournalError),
}

impl From<JournalError> for Halt {
    fn from(e: JournalError) -> Self {
        Halt::Journal(e)
    }
}

/// How long a worker waits for a provider's permit before it gives the order back instead
/// (due again when the permit is): waits shorter than this cost less than a give-back and a
/// new claim.
pub(crate) const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// An order this runner holds the lease of.
pub(crate) struct Held<'f> {
    pub(crate) flow: &'f Flow,
    pub(crate) r: OrderRecord,
    pub(crate) invitation: ReviewInvitation,
    pub(crate) plans: Vec<InvitePlan>,
    /// Whether a request that may act is under way (a stop lets it finish; anything else
    /// is cancelled at once).
    acting: tokio::sync::watch::Sender<bool>,
}

impl<'f> Held<'f> {
    pub(crate) fn new(flow: &'f Flow, r: OrderRecord) -> Self {
        let invitation = map::invitation(&r.order);
        let plans = plans(flow, &r, &invitation);
        Held {
            flow,
            r,
            invitation,
            plans,
            acting: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Watches whether a request that may act is under way.
    pub(crate) fn acting(&self) -> tokio::sync::watch::Receiver<bool> {
        self.acting.subscribe()
    }

    /// Runs a request that may act (a create, a cancel, a confirmation, an invitation): a
    /// stop asked meanwhile lets it finish, so its outcome is journaled rather than left
    /// unknown.
    pub(crate) async fn act<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.acting.send_replace(true);
        let out = call.await;
        self.acting.send_replace(false);
        out
    }

    /// Writes the record and renews the lease. A stop asked meanwhile waits for the write
    /// (as for a request that may act): a step journaled `Started` is then always followed
    /// by its call, never cut off between the two.
    pub(crate) async fn save(&self, note: &str) -> Result<(), Halt> {
        let f = self.flow;
        let acting = self.acting.send_replace(true);
        let saved = f
            .write_again(&self.r.key, || {
                f.journal.save(&f.options.runner, f.lease_until(), &self.r, note)
            })
            .await;
        self.acting.send_replace(acting);
        saved.map_err(Halt::Journal)
    }

    /// A step finished: counted (a stop after N steps ends the work here).
    pub(crate) fn finished(&self) -> Result<(), Halt> {
        if self.flow.count_step() {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_stop(&self) -> Result<(), Halt> {
        if self.flow.stopping() {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    /// Stops the order for a person.
    pub(crate) fn attention<T>(&mut self, reason: String) -> Result<T, Halt> {
        self.r.attention = Some(reason.clone());
        Err(Halt::Attention(reason))
    }

    /// The fulfilment provider's reference of the hand-over (empty before it).
    pub(crate) fn reference(&self) -> String {
        self.r
            .submission
            .done()
            .map(|s| s.reference.clone())
            .unwrap_or_default()
    }

    /// Ends the flow's work on an order with nothing left to ship.
    pub(crate) fn cancelled<T>(&mut self, reason: String) -> Result<T, Halt> {
        self.r.cancelled = Some(reason.clone());
        self.r.cancelled_at = Some(self.flow.clock.now());
        Err(Halt::Cancelled(reason))
    }

    /// Takes lines out of the order (they are not handed over, confirmed or named in an
    /// invitation), each with why.
    pub(crate) fn drop_lines(&mut self, lines: &[String], why: &str) {
        self.r.order.lines.retain(|l| !lines.contains(&l.line_id));
        for id in lines {
            self.r.dropped_lines.insert(id.clone(), why.to_owned());
        }
        self.invitation = map::invitation(&self.r.order);
        self.plans = plans(self.flow, &self.r, &self.invitation);
    }

    /// An acting step's call, as the table's rule says: a stop asked before it leaves it
    /// unsent; the step is journaled `Started` before the call; on success `Done`, the
    /// failures reset and the record saved with `done(output)` as its note; a failure whose
    /// outcome is unknown (`Error::is_unconfirmed`) leaves it `Started`, for the rule's
    /// settling at the next visit; a refusal goes back to not begun where the rule says so,
    /// journaled with `refused(error)`. `slot` is where the step's state lives in the record; `notes` what the journal says.
    pub(crate) async fn perform<T: Clone>(
        &mut self,
        rule: &'static Rule,
        slot: impl Fn(&mut OrderRecord) -> &mut Step<T>,
        notes: Notes<'_, T>,
        call: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Halt> {
        let Notes {
            failed,
            before,
            done,
            refused,
        } = notes;
        debug_assert!(rule.acts, "{} does not act", rule.name());
        self.check_stop()?;
        *slot(&mut self.r) = Step::Started;
        self.save(&before).await?;
        match self.act(call).await {
            Ok(out) => {
                self.step_done(&done(&out), |r| *slot(r) = Step::Done(out.clone()))
                    .await?;
                Ok(out)
            }
            Err(e) if e.is_unconfirmed() => Err(Halt::Failed(failed, e)),
            Err(e) if rule.unknown.resets_on_refusal() => {
                *slot(&mut self.r) = Step::NotStarted;
                let note = match refused {
                    Some(refused) => refused(&e),
                    None => format!("{failed} refused: {e}"),
                };
                self.save(&note).await?;
                Err(Halt::Failed(failed, e))
            }
            Err(e) => Err(Halt::Failed(failed, e)),
        }
    }

    /// A step's result announced: counted in the run's summary (`count`), sent to the
    /// observers, and the step counted as finished (a stop after N steps ends the work
    /// here).
    pub(crate) fn announce(&self, event: Event, count: impl FnOnce(&mut Summary)) -> Result<(), Halt> {
        count(&mut self.flow.summary());
        self.flow.emit(event);
        self.finished()
    }

    /// A step finished: `record` writes its result on the record, the failures in a row
    /// reset, and the record is saved with `note`.
    pub(crate) async fn step_done(
        &mut self,
        note: &str,
        record: impl FnOnce(&mut OrderRecord),
    ) -> Result<(), Halt> {
        record(&mut self.r);
        self.r.failures = 0;
        self.r.last_error = None;
        self.save(note).await
    }

    /// Runs `table` until the order is complete (`Ok`) or must halt. A call refused
    /// before anything was sent (`Error::InvalidInput`: a field missing or malformed) gets
    /// the same answer every time, so at any step it stops the order for a person, with the
    /// setting that would supply what is missing, instead of failing at every visit.
    pub(crate) async fn advance(&mut self, table: &[Row]) -> Result<(), Halt> {
        match self.run_table(table).await {
            Err(Halt::Failed(step, e @ Error::InvalidInput(_))) => {
                let who = match (step == steps::SUBMIT.name(), &self.r.fulfilment) {
                    (true, Some(provider)) => provider.clone(),
                    _ => step,
                };
                let reason = map::refused(&who, &e, self.flow.options.contact_phone.as_deref());
                self.attention(reason)
            }
            other => other,
        }
    }

    async fn run_table(&mut self, table: &[Row]) -> Result<(), Halt> {
        let run = |rule: &'static Rule| {
            table
                .iter()
                .find(|row| row.rule.name() == rule.name())
                .map(|row| row.run)
        };
        let changes = run(steps::CHANGES);
        // The step the channel's view was last read before: read once per visit, and again
        // before a later step of the same visit (the parcel left since: `confirm`).
        let mut changes_read: Option<&'static str> = None;
        loop {
            let next = steps::next(&self.r, &self.plans);
            let rule = next.rule();
            let read_changes = next.reads_changes()
                && changes.is_some()
                && changes_read.is_none_or(|before| before != rule.name() && next == Next::Confirm);
            if rule.acts || read_changes {
                self.check_stop()?;
            }
            // Before anything is read for it (once: not again after the channel's read for
            // it), a step whose provider is busy gives the order back.
            if changes_read != Some(rule.name()) {
                self.pace(&next)?;
            }
            if let (true, Some(changes)) = (read_changes, changes) {
                changes_read = Some(rule.name());
                changes(self, next).await?;
                continue;
            }
            // No line left (every one cancelled on the channel on the way): nothing to hand
            // over or confirm, and no invitation for an order its buyer does not receive.
            if self.r.order.lines.is_empty() {
                return self.cancelled("no line of the order is left to ship".to_owned());
            }
            if next == Next::Complete {
                return self.complete();
            }
            let Some(runner) = run(rule) else {
                return Err(Halt::Failed(
                    rule.name().into(),
                    Error::config(format!("the loop has no runner for the step {}", rule.name())),
                ));
            };
            runner(self, next).await?;
        }
    }

    /// Every step of the table is done. Invitations expected when the order was seen, on a
    /// platform this runner does not have: never completed without them.
    fn complete(&mut self) -> Result<(), Halt> {
        let missing: Vec<&String> = self
            .r
            .platforms
            .iter()
            .filter(|p| !self.plans.iter().any(|plan| &plan.platform == *p))
            .filter(|p| !self.r.invitations.get(*p).is_some_and(Step::is_done))
            .collect();
        if !missing.is_empty() {
            let missing = missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
            return self.attention(format!(
                "the invitation on {missing} (configured when the order was seen) is not sent, and \
                 this runner has no {missing}: configure it and `commerce retry`, or \
                 `commerce resolve --skip-step` each"
            ));
        }
        Ok(())
    }

    /// The provider the order was routed to. One this runner does not have (another
    /// runner may) is a failure of this visit, not a matter for a person: the order is left
    /// for a runner that has it, and this run stops waiting for it after `max_attempts`.
    pub(crate) fn fulfilment(&mut self, step: &str) -> Result<Arc<dyn Fulfilment>, Halt> {
        let name = self.r.fulfilment.clone().unwrap_or_default();
        route::by_name(&self.flow.providers.fulfilment, &name).ok_or_else(|| {
            Halt::Failed(
                step.to_owned(),
                Error::config(format!(
                    "routed to {name}, which this runner does not have: configure {name} here, or leave the \
                     order to a runner that has it"
                )),
            )
        })
    }

    /// The order's sales channel.
    pub(crate) fn channel(&mut self) -> Result<Arc<dyn SalesChannel>, Halt> {
        match self
            .flow
            .providers
            .channels
            .iter()
            .find(|c| c.name() == self.r.order.channel)
            .cloned()
        {
            Some(channel) => Ok(channel),
            None => self.attention(format!("the channel {} is not configured", self.r.order.channel)),
        }
    }

    /// The provider `next` calls first, by its row's [`Pace`], and its name for pacing.
    fn paced_by(&self, next: &Next) -> Option<(String, std::time::Duration)> {
        let providers = &self.flow.providers;
        let fulfilment = |f: &Arc<dyn Fulfilment>| {
            let key = format!("fulfilment {}", f.name());
            let wait = self.flow.paced_ready_in(&key, |ahead| f.ready_in(ahead));
            (key, wait)
        };
        match (next.rule().pace, next) {
            (Pace::FirstRead, _) => {
                route::first_read(&self.r.order, &providers.fulfilment, &self.flow.options.routes)
                    .map(fulfilment)
            }
            (Pace::Fulfilment, _) => self
                .r
                .fulfilment
                .as_deref()
                .and_then(|name| route::by_name(&providers.fulfilment, name))
                .map(|f| fulfilment(&f)),
            (Pace::Platform, Next::Invite { plan, .. }) => providers.review_platforms.get(*plan).map(|p| {
                let key = format!("review {}", p.name());
                let wait = self.flow.paced_ready_in(&key, |ahead| p.ready_in(ahead));
                (key, wait)
            }),
            _ => None,
        }
    }

    /// A step whose provider could take its call only after [`PATIENCE`] gives the order
    /// back, due when the provider can (nothing was read or sent for it): the worker is free
    /// for orders that need other providers, and the slowest provider is never idle while
    /// work for it waits. The orders already given back for that provider count as waiting
    /// ahead, so each is due at its own turn, not all at once.
    fn pace(&self, next: &Next) -> Result<(), Halt> {
        let Some((provider, ready_in)) = self.paced_by(next) else {
            return Ok(());
        };
        if ready_in <= PATIENCE {
            return Ok(());
        }
        Err(Halt::Paced(
            super::later(self.flow.clock.now(), ready_in),
            provider,
        ))
    }
}

/// The review invitations of an order: one plan per platform, none for a part of a split
/// order (the order it was split from sends them).
pub(crate) fn plans(flow: &Flow, r: &OrderRecord, invitation: &ReviewInvitation) -> Vec<InvitePlan> {
    if r.invites_elsewhere {
        return Vec::new();
    }
    flow.providers
        .review_platforms
        .iter()
        .map(|p| InvitePlan::of(p.as_ref(), invitation))
        .collect()
}
