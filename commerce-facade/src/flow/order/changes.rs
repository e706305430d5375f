//! `changes`: the channel's view of the order, read before the steps that hand over, wait
//! for or confirm what the buyer may still cancel, and what the flow does about it.

use commerce_core::{Error, FulfilmentState, OrderState, SalesChannel};
use futures_util::future::BoxFuture;

use super::super::engine::{Halt, Held};
use super::super::steps::{self, Next};
use crate::journal::{OrderRecord, Step};

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, _: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(h.changes())
}

impl Held<'_> {
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
    pub(crate) async fn changes(&mut self) -> Result<(), Halt> {
        let rule = steps::CHANGES.name();
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
            .map_err(|e| Halt::Failed(steps::CHANGES.name().into(), e))?;
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
        let rule = steps::CHANGES.name();
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
                                ).await;
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
            ).await?;
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
