//! One order held by a runner, taken through the table (`steps`) as far as it can go now:
//! each step journaled before its call (`Started`) and after (`Done`), an unknown outcome
//! settled by the table's rule (`settle`), and a shipment checked once per visit.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use commerce_core::{
    Error, Fulfilment, FulfilmentState, InvitationReceipt, OrderState, ReviewInvitation, SalesChannel,
    SubmissionReceipt, Tracking,
};

use super::route::Route;
use super::settle::{self, Settled};
use super::steps::{self, InvitePlan, Next};
use super::{Event, Flow, map, route};
use crate::journal::{JournalError, OrderRecord, SplitPart, Step};

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
    flow: &'f Flow,
    pub(crate) r: OrderRecord,
    invitation: ReviewInvitation,
    plans: Vec<InvitePlan>,
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
    async fn act<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.acting.send_replace(true);
        let out = call.await;
        self.acting.send_replace(false);
        out
    }

    /// Writes the record and renews the lease. A stop asked meanwhile waits for the write
    /// (as for a request that may act): a step journaled `Started` is then always followed
    /// by its call, never cut off between the two.
    async fn save(&self, note: &str) -> Result<(), Halt> {
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
    fn finished(&self) -> Result<(), Halt> {
        if self.flow.count_step() {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    fn check_stop(&self) -> Result<(), Halt> {
        if self.flow.stopping() {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    /// Stops the order for a person.
    fn attention<T>(&mut self, reason: String) -> Result<T, Halt> {
        self.r.attention = Some(reason.clone());
        Err(Halt::Attention(reason))
    }

    /// The fulfilment provider's reference of the hand-over (empty before it).
    fn reference(&self) -> String {
        self.r
            .submission
            .done()
            .map(|s| s.reference.clone())
            .unwrap_or_default()
    }

    /// Ends the flow's work on an order with nothing left to ship.
    fn cancelled<T>(&mut self, reason: String) -> Result<T, Halt> {
        self.r.cancelled = Some(reason.clone());
        self.r.cancelled_at = Some(self.flow.clock.now());
        Err(Halt::Cancelled(reason))
    }

    /// Takes lines out of the order (they are not handed over, confirmed or named in an
    /// invitation), each with why.
    fn drop_lines(&mut self, lines: &[String], why: &str) {
        self.r.order.lines.retain(|l| !lines.contains(&l.line_id));
        for id in lines {
            self.r.dropped_lines.insert(id.clone(), why.to_owned());
        }
        self.invitation = map::invitation(&self.r.order);
        self.plans = plans(self.flow, &self.r, &self.invitation);
    }

    /// Reads the order as the channel has it now and acts on what changed since it was
    /// seen: lines cancelled on the channel, and the buyer's cancellation requests.
    ///
    /// - Not handed over yet: the buyer's request is accepted on the channel, cancelled
    ///   lines are dropped, a quantity partly cancelled is reduced; nothing left: the order
    ///   ends as cancelled.
    /// - Handed over, not shipped, every line to cancel: the provider's status is read (a
    ///   cancel from an earlier visit, or a parcel already gone), then the hand-over is
    ///   cancelled at the provider, the buyer's request accepted, and the order ends as
    ///   cancelled. The provider refusing (too late) means it ships: the request is kept and
    ///   declined by confirming the shipment. Only some lines: the provider cancels whole
    ///   orders only, so a person decides (asked once per line).
    /// - Shipped, not confirmed: the buyer's request is declined by confirming (the parcel
    ///   left); lines cancelled on the channel are never confirmed.
    async fn changes(&mut self) -> Result<(), Halt> {
        let rule = steps::CHANGES.name;
        let channel = self.channel()?;
        let state = match channel.order_state(&self.r.order.id).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                return self.attention(format!(
                    "{} no longer has the order: check it there, then `commerce resolve --cancel` if it is gone",
                    channel.name()
                ));
            }
            // The channel offers no such read: the order is worked on as first seen.
            Err(Error::Unsupported { .. }) => return Ok(()),
            Err(e) => return Err(Halt::Failed(rule.into(), e)),
        };
        let seen = Changes::of(&self.r, &state);
        if seen.is_empty() {
            return Ok(());
        }
        if self.r.submission == Step::NotStarted {
            self.before_hand_over(channel.as_ref(), seen).await
        } else if !self.r.shipped.is_done() {
            self.before_shipping(channel.as_ref(), seen).await
        } else {
            self.after_shipping(seen).await
        }
    }

    async fn accept(&mut self, channel: &dyn SalesChannel, lines: &[String]) -> Result<(), Halt> {
        if lines.is_empty() {
            return Ok(());
        }
        self.check_stop()?;
        self.save(&format!(
            "the buyer asks to cancel line(s) {}: accepting on {}",
            lines.join(", "),
            channel.name()
        ))
        .await?;
        self.act(channel.accept_cancellation(&self.r.order.id, lines))
            .await
            .map_err(|e| Halt::Failed(steps::CHANGES.name.into(), e))?;
        Ok(())
    }

    async fn before_hand_over(&mut self, channel: &dyn SalesChannel, seen: Changes) -> Result<(), Halt> {
        self.accept(channel, &seen.requested).await?;
        let name = channel.name().to_owned();
        self.drop_lines(
            &seen.requested,
            &format!("the buyer asked to cancel it before it was handed over: accepted on {name}"),
        );
        self.drop_lines(
            &seen.gone,
            &format!("cancelled on {name} before it was handed over"),
        );
        for (id, open) in &seen.reduced {
            if let Some(line) = self.r.order.lines.iter_mut().find(|l| &l.line_id == id) {
                line.quantity = *open;
            }
        }
        let mut note = Vec::new();
        if !seen.requested.is_empty() || !seen.gone.is_empty() {
            let lines: Vec<String> = seen.requested.iter().chain(&seen.gone).cloned().collect();
            note.push(format!(
                "line(s) {} cancelled on {name}: not handed over",
                lines.join(", ")
            ));
        }
        for (id, open) in &seen.reduced {
            note.push(format!(
                "line {id} partly cancelled on {name}: {open} left to ship"
            ));
        }
        if self.r.order.lines.is_empty() {
            return self.cancelled(format!(
                "every line cancelled on {name} before the order was handed over"
            ));
        }
        self.save(&note.join("; ")).await
    }

    async fn before_shipping(&mut self, channel: &dyn SalesChannel, seen: Changes) -> Result<(), Halt> {
        let rule = steps::CHANGES.name;
        // Lines cancelled on the channel that a person was asked about: decided.
        let mut seen = seen;
        let kept = &self.r.kept_lines;
        seen.gone.retain(|id| !kept.contains_key(id));
        if seen.is_empty() {
            return Ok(());
        }
        let f = self.fulfilment(rule)?;
        let provider = f.name().to_owned();
        let reference = self.reference();
        let whole = self
            .r
            .order
            .lines
            .iter()
            .all(|l| seen.requested.contains(&l.line_id) || seen.gone.contains(&l.line_id));
        if !whole {
            let mut lines: Vec<String> = seen.requested.iter().chain(&seen.gone).cloned().collect();
            lines.extend(seen.reduced.iter().map(|(id, _)| id.clone()));
            return self.refer(&lines, format!(
                "line(s) {} of this order are cancelled on {} (or the buyer asks to), and {provider} has the whole \
                 order as {reference}: it cancels whole orders only. Have {provider} take the line(s) out and accept \
                 the cancellation on {}, or let the order ship as it is (a buyer's request is declined by the \
                 shipment; lines {} cancelled are never confirmed); then `commerce retry`",
                lines.join(", "),
                channel.name(),
                channel.name(),
                channel.name(),
            ));
        }
        let too_late = format!(
            "{provider} shipped it before the cancellation: a buyer's request is declined by the confirmation; \
             a line cancelled on {} is not confirmed",
            channel.name()
        );
        // Read first: a cancel from an earlier visit, or a parcel already gone.
        let status = f
            .status(&reference)
            .await
            .map_err(|e| Halt::Failed(rule.into(), e))?;
        match status.state {
            FulfilmentState::Cancelled => {}
            FulfilmentState::Shipped | FulfilmentState::PartiallyShipped => {
                return self.keep_all(&seen, &too_late).await;
            }
            _ => {
                self.check_stop()?;
                self.save(&format!(
                    "every line is cancelled on {} (or the buyer asks to): cancelling {reference} at {provider}",
                    channel.name()
                )).await?;
                match self.act(f.cancel(&reference)).await {
                    Ok(()) => {}
                    Err(e @ Error::Unsupported { .. }) => {
                        let lines: Vec<String> = seen.requested.iter().chain(&seen.gone).cloned().collect();
                        return self.refer(&lines, format!(
                            "every line of this order is cancelled on {} (or the buyer asks to), and {provider} \
                             cannot cancel {reference} through its API ({e}): cancel it at {provider} and on {}, then \
                             `commerce resolve --cancel`; or let it ship and `commerce retry`",
                            channel.name(),
                            channel.name()
                        ));
                    }
                    // Whatever the error, the provider's status says what happened: a
                    // cancel that went through (a repeat answered "already cancelled",
                    // an unreadable 2xx), a refusal because the parcel is on its way
                    // (ShopWeDo: a 4xx), or nothing yet (tried again later).
                    Err(e) => {
                        let now = f
                            .status(&reference)
                            .await
                            .map_err(|_| Halt::Failed(rule.into(), e.clone()))?;
                        let refused = e.status().is_some_and(|s| (400..500).contains(&s))
                            && !e.is_rate_limited()
                            && !e.is_auth();
                        match now.state {
                            FulfilmentState::Cancelled => {}
                            FulfilmentState::Shipped | FulfilmentState::PartiallyShipped => {
                                return self.keep_all(&seen, &too_late).await;
                            }
                            _ if refused => {
                                return self.keep_all(
                                    &seen,
                                    &format!(
                                        "{provider} refused to cancel ({e}): it ships; a buyer's request is declined by \
                                         the confirmation, a line cancelled on {} is not confirmed",
                                        channel.name()
                                    ),
                                )
                                .await;
                            }
                            _ => return Err(Halt::Failed(rule.into(), e)),
                        }
                    }
                }
            }
        }
        self.accept(channel, &seen.requested).await?;
        let name = channel.name().to_owned();
        self.drop_lines(
            &seen.requested,
            &format!("the buyer asked to cancel it: cancelled at {provider} and on {name}"),
        );
        self.drop_lines(
            &seen.gone,
            &format!("cancelled on {name}: cancelled at {provider}"),
        );
        self.cancelled(format!(
            "every line cancelled on {name} after the order was handed over: {reference} cancelled at {provider}"
        ))
    }

    /// Refers a cancellation to a person: the lines are decided by them (not asked about
    /// again at the next visit), and the order waits with `reason`.
    fn refer<T>(&mut self, lines: &[String], reason: String) -> Result<T, Halt> {
        for id in lines {
            self.r
                .kept_lines
                .insert(id.clone(), "cancellation referred to a person".to_owned());
        }
        self.attention(reason)
    }

    /// Keeps every line seen changed (a parcel on its way): requests are declined by the
    /// confirmation, lines the channel cancelled are still never confirmed (`after_shipping`
    /// drops them), and none is decided again.
    async fn keep_all(&mut self, seen: &Changes, why: &str) -> Result<(), Halt> {
        let lines: Vec<String> = seen.requested.iter().chain(&seen.gone).cloned().collect();
        self.keep(&lines, why).await
    }

    /// Keeps lines the buyer asked to cancel (they ship and are confirmed), and says so once.
    async fn keep(&mut self, lines: &[String], why: &str) -> Result<(), Halt> {
        if lines.is_empty() {
            return Ok(());
        }
        for id in lines {
            self.r.kept_lines.insert(id.clone(), why.to_owned());
        }
        self.save(&format!("line(s) {}: {why}", lines.join(", "))).await
    }

    async fn after_shipping(&mut self, seen: Changes) -> Result<(), Halt> {
        let channel = self.r.order.channel.clone();
        if !seen.requested.is_empty() {
            self.keep(
                &seen.requested,
                "the buyer asked to cancel after the parcel left: the shipment is confirmed, the buyer can return it",
            )
            .await?;
        }
        if seen.gone.is_empty() {
            return Ok(());
        }
        self.drop_lines(
            &seen.gone,
            &format!("cancelled on {channel} after the parcel left: not confirmed"),
        );
        if self.r.order.lines.is_empty() {
            return self.attention(format!(
                "the parcel left, but {channel} has every line of the order cancelled: there is nothing to confirm \
                 and no one to invite. See that the buyer returns it (or is charged), then `commerce resolve --cancel`"
            ));
        }
        self.save(&format!(
            "line(s) {} cancelled on {channel} after the parcel left: not confirmed",
            seen.gone.join(", ")
        ))
        .await
    }

    /// Runs the table until the order is complete (`Ok`) or must halt. A call refused
    /// before anything was sent (`Error::InvalidInput`: a field missing or malformed) gets
    /// the same answer every time, so at any step it stops the order for a person, with the
    /// setting that would supply what is missing, instead of failing at every visit.
    pub(crate) async fn advance(&mut self) -> Result<(), Halt> {
        match self.run_table().await {
            Err(Halt::Failed(step, e @ Error::InvalidInput(_))) => {
                let who = match (step == steps::SUBMIT.name, &self.r.fulfilment) {
                    (true, Some(provider)) => provider.clone(),
                    _ => step,
                };
                let reason = map::refused(&who, &e, self.flow.options.contact_phone.as_deref());
                self.attention(reason)
            }
            other => other,
        }
    }

    async fn run_table(&mut self) -> Result<(), Halt> {
        // The step the channel's view was last read before: read once per visit, and again
        // before a later step of the same visit (the parcel left since: `confirm`).
        let mut changes_read: Option<&'static str> = None;
        loop {
            let next = steps::next(&self.r, &self.plans);
            let read_changes = next.reads_changes()
                && changes_read.is_none_or(|before| before != next.rule().name && next == Next::Confirm);
            if next.rule().acts || read_changes {
                self.check_stop()?;
            }
            // Before anything is read for it (once: not again after the channel's read for
            // it), a step whose provider is busy gives the order back.
            if changes_read != Some(next.rule().name) {
                self.pace(&next)?;
            }
            if read_changes {
                changes_read = Some(next.rule().name);
                self.changes().await?;
                continue;
            }
            // No line left (every one cancelled on the channel on the way): nothing to hand
            // over or confirm, and no invitation for an order its buyer does not receive.
            if self.r.order.lines.is_empty() {
                return self.cancelled("no line of the order is left to ship".to_owned());
            }
            match next {
                Next::Route => self.route().await?,
                Next::Split => self.split().await?,
                Next::Submit { settle } => self.submit(settle).await?,
                Next::Shipment => self.shipment().await?,
                Next::Confirm => self.confirm().await?,
                Next::Invite {
                    plan,
                    step,
                    part,
                    settle,
                } => self.invite(plan, step, part, settle).await?,
                Next::Invited { plan } => self.invited(plan).await?,
                Next::Complete => {
                    // Invitations expected when the order was seen, on a platform this runner
                    // does not have: never completed without them.
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
                    return Ok(());
                }
            }
        }
    }

    /// The provider the order was routed to. One this runner does not have (another
    /// runner may) is a failure of this visit, not a matter for a person: the order is left
    /// for a runner that has it, and this run stops waiting for it after `max_attempts`.
    fn fulfilment(&mut self, step: &str) -> Result<Arc<dyn Fulfilment>, Halt> {
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

    async fn route(&mut self) -> Result<(), Halt> {
        let rule = steps::ROUTE.name;
        let flow = self.flow;
        let chosen = route::choose(&self.r.order, &flow.providers.fulfilment, &flow.options.routes)
            .await
            .map_err(|e| Halt::Failed(rule.into(), e))?;
        let name = match chosen {
            Route::One(name) => name,
            Route::Nowhere(ean) => {
                return self.attention(format!(
                    "no fulfilment provider has stock for the line with {ean} (the order's lines: {}): restock it, or \
                     route it (FlowOptions::routes), then `commerce retry`",
                    route::eans(&self.r.order).join(", ")
                ));
            }
            Route::Unknown(provider) => {
                return self.attention(format!(
                    "FlowOptions::routes sends a line of this order to {provider}, which this runner does not have: \
                     correct the route (or configure {provider}), then `commerce retry`"
                ));
            }
            Route::Split(parts) => {
                // The plan first, then the parts: a crash in between adds the same parts.
                let key = self.r.key.clone();
                self.r.split = parts
                    .into_iter()
                    .map(|(provider, lines)| SplitPart {
                        key: format!("{key}/{provider}"),
                        provider,
                        lines,
                    })
                    .collect();
                let note = format!(
                    "no provider has stock for every line: split into {}",
                    self.r
                        .split
                        .iter()
                        .map(|p| p.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.save(&note).await?;
                return self.finished();
            }
        };
        self.r.fulfilment = Some(name.clone());
        self.save(&format!("routed to {name}")).await?;
        flow.emit(Event::Routed {
            key: self.r.key.clone(),
            provider: name,
        });
        self.finished()
    }

    /// A split order: adds a record for each part (again after a crash: adding is by key,
    /// so a part is never added twice), each with its provider and lines and no invitation
    /// of its own; then waits for the parts to end. When every part ended, the order keeps
    /// the lines they shipped (the others are dropped) and its invitation goes next; when
    /// none shipped, it ends cancelled.
    async fn split(&mut self) -> Result<(), Halt> {
        let flow = self.flow;
        if !self.r.parts_added {
            for plan in &self.r.split {
                let mut order = self.r.order.clone();
                order.lines.retain(|l| plan.lines.contains(&l.line_id));
                let mut part = OrderRecord::new(order);
                part.key = plan.key.clone();
                part.part_of = Some(self.r.key.clone());
                part.fulfilment = Some(plan.provider.clone());
                part.invites_elsewhere = true;
                flow.journal.add(&part).await.map_err(Halt::Journal)?;
            }
            self.r.parts_added = true;
            let keys: Vec<String> = self.r.split.iter().map(|p| p.key.clone()).collect();
            self.save(&format!("parts added: {}", keys.join(", "))).await?;
            return Err(Halt::Split(keys));
        }
        let mut shipped: Vec<String> = Vec::new();
        let mut waiting = false;
        for plan in &self.r.split {
            match flow.journal.load(&plan.key).await.map_err(Halt::Journal)? {
                Some(part) if part.completed_at.is_some() || part.confirmation.is_done() => {
                    if part.completed_at.is_none() {
                        waiting = true;
                    }
                    shipped.extend(part.order.lines.iter().map(|l| l.line_id.clone()));
                }
                // Cancelled: by its buyer, or by an operator.
                Some(part) if part.cancelled.is_some() => {}
                // Still under way, or with a person.
                Some(_) => waiting = true,
                None => {
                    return Err(Halt::Failed(
                        steps::SPLIT.name.into(),
                        Error::config(format!("the part {} is not in the journal", plan.key)),
                    ));
                }
            }
        }
        if waiting {
            return Err(Halt::Wait(super::later(
                flow.clock.now(),
                flow.options.poll_interval,
            )));
        }
        let not_shipped: Vec<String> = self
            .r
            .order
            .lines
            .iter()
            .filter(|l| !shipped.contains(&l.line_id))
            .map(|l| l.line_id.clone())
            .collect();
        self.drop_lines(&not_shipped, "not shipped: its part ended without a shipment");
        if self.r.order.lines.is_empty() {
            return self.cancelled("no part of the split order shipped".to_owned());
        }
        self.r.parts_done = true;
        self.save("every part ended: the invitation names what they shipped")
            .await?;
        self.finished()
    }

    async fn submit(&mut self, settle: bool) -> Result<(), Halt> {
        let rule = steps::SUBMIT;
        let f = self.fulfilment(rule.name)?;
        let flow = self.flow;
        if settle {
            let settled = settle::submission(
                rule,
                f.as_ref(),
                &self.r.order.id,
                flow.options.resend_unconfirmed,
            )
            .await
            .map_err(|e| Halt::Failed(rule.name.into(), e))?;
            match settled {
                Settled::Found(receipt) => return self.submitted(receipt, "found at the provider").await,
                Settled::Send => {}
                Settled::Person(reason) => return self.attention(reason),
            }
        } else if self.r.look_up_first {
            // A journal that knew no order when the run began (new, or one that replaced a
            // lost one): where the provider can look an order up by this order's id, it is
            // looked up before it is created, so a lost journal does not hand it over twice.
            // (The Customer API's look-up reads its order list, so it is not paid for every
            // order of a journal that has been keeping them.)
            match f.find_submission(&self.r.order.id).await {
                Ok(Some(receipt)) => {
                    return self
                        .submitted(receipt, "found at the provider before creating it")
                        .await;
                }
                Ok(None) | Err(Error::Unsupported { .. }) => {}
                Err(e) => return Err(Halt::Failed(rule.name.into(), e)),
            }
        }
        let contact_phone = flow.options.contact_phone.as_deref();
        // Every read the hand-over needs (ShopWeDo: the stock ids by barcode) comes first:
        // the window in which the outcome can be unknown is the one request that may act.
        let prepared = f
            .prepare(&map::fulfilment_order(&self.r.order, contact_phone))
            .await
            .map_err(|e| Halt::Failed(rule.name.into(), e))?;
        // A stop asked during the reads: nothing is sent.
        self.check_stop()?;
        self.r.submission = Step::Started;
        self.save(&format!("submitting to {}", f.name())).await?;
        match self.act(f.send(&prepared)).await {
            Ok(receipt) => self.submitted(receipt, "submitted").await,
            // Stays Started: settled at the next visit, by the look-up.
            Err(e) if e.is_unconfirmed() => Err(Halt::Failed(rule.name.into(), e)),
            Err(e) => {
                self.r.submission = Step::NotStarted;
                self.save(&format!("not submitted: {e}")).await?;
                Err(Halt::Failed(rule.name.into(), e))
            }
        }
    }

    async fn submitted(&mut self, receipt: SubmissionReceipt, how: &str) -> Result<(), Halt> {
        let note = format!("{how} to {} as {}", receipt.provider, receipt.reference);
        self.r.submission = Step::Done(receipt.clone());
        self.r.failures = 0;
        self.r.last_error = None;
        self.save(&note).await?;
        self.flow.summary().submitted += 1;
        self.flow.emit(Event::Submitted {
            key: self.r.key.clone(),
            receipt,
        });
        self.finished()
    }

    /// One status read: shipped (with a tracking code) moves on; otherwise the order
    /// waits until its next check, holding nothing.
    async fn shipment(&mut self) -> Result<(), Halt> {
        let rule = steps::SHIPMENT.name;
        let f = self.fulfilment(rule)?;
        let flow = self.flow;
        let reference = self.reference();
        let status = f
            .status(&reference)
            .await
            .map_err(|e| Halt::Failed(rule.into(), e))?;
        match status.state {
            FulfilmentState::Shipped => {
                let found = status.shipments.iter().find_map(|s| s.tracking.clone());
                // Shipped without a tracking code: one may still come; after
                // `untracked_after` the shipment is confirmed without one.
                let untracked = found.is_none().then(|| {
                    let now = flow.clock.now();
                    let first = self.r.shipped_untracked_since.is_none();
                    let since = *self.r.shipped_untracked_since.get_or_insert(now);
                    let waited = (now.signed_duration_since(since)).to_std().unwrap_or_default();
                    (first, waited >= flow.options.untracked_after)
                });
                if let Some((true, false)) = untracked {
                    self.save(&format!(
                        "shipped without a tracking code: waiting up to {:?} for one",
                        flow.options.untracked_after
                    ))
                    .await?;
                }
                let tracking = match (found, untracked) {
                    (Some(t), _) => Some(t),
                    (None, Some((_, true))) => Some(Tracking::default()),
                    _ => None,
                };
                if let Some(tracking) = tracking {
                    self.r.shipped = Step::Done(tracking.clone());
                    self.r.failures = 0;
                    self.r.last_error = None;
                    let mut note = if tracking.code.is_empty() {
                        "shipped without a tracking code: confirmed without one".to_owned()
                    } else {
                        format!("shipped: {}", tracking.code)
                    };
                    // Several parcels: bol takes one track-and-trace code per shipment, and
                    // the providers do not say which lines each parcel holds.
                    let others: Vec<&str> = status
                        .shipments
                        .iter()
                        .filter_map(|s| s.tracking.as_ref().map(|t| t.code.as_str()))
                        .filter(|c| *c != tracking.code && !c.is_empty())
                        .collect();
                    if !others.is_empty() {
                        note += &format!(
                            " (in {} parcels: bol gets this code for every line; the others: {})",
                            others.len() + 1,
                            others.join(", ")
                        );
                    }
                    self.save(&note).await?;
                    flow.summary().shipped += 1;
                    flow.emit(Event::Shipped {
                        key: self.r.key.clone(),
                        tracking,
                    });
                    return self.finished();
                }
            }
            FulfilmentState::Cancelled | FulfilmentState::Failed => {
                return self.attention(format!(
                    "{} reports the order as {:?}, and {} does not have it cancelled: check why at {}, then \
                     `commerce resolve --cancel` (and cancel it on {}) or resubmit it",
                    f.name(),
                    status.state,
                    self.r.order.channel,
                    f.name(),
                    self.r.order.channel
                ));
            }
            // Some parcels left, not all: bol is confirmed once every line has left (the
            // providers do not say which lines a parcel holds); said once.
            FulfilmentState::PartiallyShipped if !self.r.partly_shipped => {
                self.r.partly_shipped = true;
                let codes: Vec<&str> = status
                    .shipments
                    .iter()
                    .filter_map(|s| s.tracking.as_ref().map(|t| t.code.as_str()))
                    .collect();
                self.save(&format!(
                    "partly shipped ({} parcel(s) so far{}): the shipment is confirmed on {} once the rest has left",
                    status.shipments.len(),
                    if codes.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", codes.join(", "))
                    },
                    self.r.order.channel
                )).await?;
            }
            _ => {}
        }
        Err(Halt::Wait(super::later(
            flow.clock.now(),
            flow.options.poll_interval,
        )))
    }

    /// The order's sales channel.
    fn channel(&mut self) -> Result<Arc<dyn SalesChannel>, Halt> {
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

    async fn confirm(&mut self) -> Result<(), Halt> {
        let rule = steps::CONFIRM.name;
        let flow = self.flow;
        let channel = self.channel()?;
        // The channel checks the order before it confirms (SalesChannel::confirm_shipment),
        // so a confirmation begun before is simply asked again.
        let tracking = self.r.shipped.done().cloned().unwrap_or_default();
        self.check_stop()?;
        self.r.confirmation = Step::Started;
        self.save("confirming the shipment").await?;
        let confirmation = map::confirmation(&self.r.order, tracking);
        match self.act(channel.confirm_shipment(&confirmation)).await {
            Ok(receipt) => {
                self.r.confirmation = Step::Done(receipt.reference.clone());
                self.r.failures = 0;
                self.r.last_error = None;
                self.save("shipment confirmed").await?;
                flow.summary().confirmed += 1;
                flow.emit(Event::Confirmed {
                    key: self.r.key.clone(),
                    reference: receipt.reference,
                });
                self.finished()
            }
            Err(e) => Err(Halt::Failed(rule.into(), e)),
        }
    }

    /// The provider `next` calls first and its name for pacing: routing reads the first
    /// provider whose stock it needs, a hand-over and a shipment check call the order's
    /// fulfilment provider, an invitation its platform; the channel's steps are not paced.
    fn paced_by(&self, next: &Next) -> Option<(String, std::time::Duration)> {
        let providers = &self.flow.providers;
        let fulfilment = |f: &Arc<dyn Fulfilment>| {
            let key = format!("fulfilment {}", f.name());
            let wait = self.flow.paced_ready_in(&key, |ahead| f.ready_in(ahead));
            (key, wait)
        };
        match next {
            Next::Route => route::first_read(&self.r.order, &providers.fulfilment, &self.flow.options.routes)
                .map(fulfilment),
            Next::Submit { .. } | Next::Shipment => self
                .r
                .fulfilment
                .as_deref()
                .and_then(|name| route::by_name(&providers.fulfilment, name))
                .map(|f| fulfilment(&f)),
            Next::Invite { plan, .. } => providers.review_platforms.get(*plan).map(|p| {
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

    async fn invite(
        &mut self,
        plan: usize,
        step: String,
        part: Option<String>,
        settle: bool,
    ) -> Result<(), Halt> {
        let rule = steps::INVITE;
        let flow = self.flow;
        let platform = flow.providers.review_platforms[plan].clone();
        if settle {
            match settle::invitation(
                rule,
                platform.as_ref(),
                &step,
                &self.r.order.id,
                flow.options.resend_unconfirmed,
            ) {
                Settled::Send | Settled::Found(()) => {}
                Settled::Person(reason) => return self.attention(reason),
            }
        }
        self.check_stop()?;
        self.r.invitations.insert(step.clone(), Step::Started);
        self.save(&format!("inviting on {step}")).await?;
        let sent = match &part {
            Some(part) => self.act(platform.invite_part(part, &self.invitation)).await,
            None => self.act(platform.invite(&self.invitation)).await,
        };
        let failed = format!("{} {step}", rule.name);
        match sent {
            Ok(receipt) => {
                self.r
                    .invitations
                    .insert(step.clone(), Step::Done(receipt.clone()));
                self.r.failures = 0;
                self.r.last_error = None;
                self.save(&format!("invited on {step}")).await?;
                if part.is_none() {
                    self.announce(plan, receipt)?;
                }
                Ok(())
            }
            Err(e) if e.is_unconfirmed() => Err(Halt::Failed(failed, e)),
            Err(e) => {
                self.r.invitations.insert(step.clone(), Step::NotStarted);
                self.save(&format!("not invited on {step}: {e}")).await?;
                Err(Halt::Failed(failed, e))
            }
        }
    }

    /// Every call of a platform's invitation went through: the platform's own step is
    /// done, with the receipts combined.
    async fn invited(&mut self, plan: usize) -> Result<(), Halt> {
        let p = &self.plans[plan];
        let mut combined: Option<InvitationReceipt> = None;
        for (step, _) in &p.calls {
            if let Some(Step::Done(receipt)) = self.r.invitations.get(step) {
                combined = Some(match combined {
                    None => receipt.clone(),
                    Some(mut first) => {
                        first.already_invited &= receipt.already_invited;
                        first
                    }
                });
            }
        }
        let receipt = combined.unwrap_or_else(|| InvitationReceipt {
            platform: p.platform.clone(),
            reference: None,
            already_invited: false,
        });
        let name = p.platform.clone();
        self.r
            .invitations
            .insert(name.clone(), Step::Done(receipt.clone()));
        self.save(&format!("invited on {name}")).await?;
        self.announce(plan, receipt)
    }

    fn announce(&self, plan: usize, receipt: InvitationReceipt) -> Result<(), Halt> {
        let name = self.plans[plan].platform.clone();
        *self.flow.summary().invitations.entry(name).or_default() += 1;
        self.flow.emit(Event::Invited {
            key: self.r.key.clone(),
            receipt,
        });
        self.finished()
    }
}

/// What changed on the channel for the lines the flow still handles.
#[derive(Debug, Default)]
struct Changes {
    /// Lines the buyer asks to cancel (and not decided before).
    requested: Vec<String>,
    /// Lines cancelled in full on the channel (or no longer there).
    gone: Vec<String>,
    /// Lines partly cancelled: `(line, quantity left to ship)`.
    reduced: Vec<(String, u32)>,
}

impl Changes {
    fn of(r: &OrderRecord, state: &OrderState) -> Self {
        let mut seen = Changes::default();
        for line in &r.order.lines {
            let id = &line.line_id;
            let Some(now) = state.line(id) else {
                seen.gone.push(id.clone());
                continue;
            };
            if now.open() == 0 && now.cancelled > 0 {
                seen.gone.push(id.clone());
            } else if r.kept_lines.contains_key(id) {
                // Decided once: shipped as it is.
            } else if now.cancellation_requested && now.open() > 0 {
                seen.requested.push(id.clone());
            } else if now.cancelled > 0 && now.open() > 0 && now.open() < line.quantity {
                seen.reduced.push((id.clone(), now.open()));
            }
        }
        seen
    }

    fn is_empty(&self) -> bool {
        self.requested.is_empty() && self.gone.is_empty() && self.reduced.is_empty()
    }
}

/// The review invitations of an order: one plan per platform, none for a part of a split
/// order (the order it was split from sends them).
fn plans(flow: &Flow, r: &OrderRecord, invitation: &ReviewInvitation) -> Vec<InvitePlan> {
    if r.invites_elsewhere {
        return Vec::new();
    }
    flow.providers
        .review_platforms
        .iter()
        .map(|p| InvitePlan::of(p.as_ref(), invitation))
        .collect()
}
