//! `shipment`: the provider's status, read once each time it is due, until the parcel left.

use commerce_core::{FulfilmentState, Tracking};
use futures_util::future::BoxFuture;

use super::super::engine::{Halt, Held};
use super::super::steps::{self, Next};
use super::super::{Event, later};
use crate::journal::Step;

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, _: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(h.shipment())
}

impl Held<'_> {
    /// One status read: shipped (with a tracking code) moves on; otherwise the order
    /// waits until its next check, holding nothing.
    pub(crate) async fn shipment(&mut self) -> Result<(), Halt> {
        let rule = steps::SHIPMENT.name();
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
                    self.step_done(&note, |r| r.shipped = Step::Done(tracking.clone()))
                        .await?;
                    let event = Event::Shipped {
                        key: self.r.key.clone(),
                        tracking,
                    };
                    return self.announce(event, |s| s.shipped += 1);
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
        Err(Halt::Wait(later(flow.clock.now(), flow.options.poll_interval)))
    }
}
