//! `split`: the parts of an order no one provider can ship whole, each a record of its own,
//! then the wait for them to end.

use commerce_core::Error;
use futures_util::future::BoxFuture;

use super::super::engine::{Halt, Held};
use super::super::later;
use super::super::steps::{self, Next};
use crate::journal::{OrderRecord, Split};

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, _: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(async move { h.split().await })
}

impl Held<'_> {
    /// A split order: adds a record for each part (again after a crash: adding is by key,
    /// so a part is never added twice), each with its provider and lines and no invitation
    /// of its own; then waits for the parts to end. When every part ended, the order keeps
    /// the lines they shipped (the others are dropped) and its invitation goes next; when
    /// none shipped, it ends cancelled.
    pub(crate) async fn split(&mut self) -> Result<(), Halt> {
        let flow = self.flow;
        if let Split::Planned(parts) = &self.r.split {
            let parts = parts.clone();
            for plan in &parts {
                let mut order = self.r.order.clone();
                order.lines.retain(|l| plan.lines.contains(&l.line_id));
                let mut part = OrderRecord::new(order);
                part.key = plan.key.clone();
                part.part_of = Some(self.r.key.clone());
                part.fulfilment = Some(plan.provider.clone());
                part.invites_elsewhere = true;
                flow.journal.add(&part).await.map_err(Halt::Journal)?;
            }
            let keys: Vec<String> = parts.iter().map(|p| p.key.clone()).collect();
            self.r.split = Split::Added(parts);
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
                        steps::SPLIT.name().into(),
                        Error::config(format!("the part {} is not in the journal", plan.key)),
                    ));
                }
            }
        }
        if waiting {
            return Err(Halt::Wait(later(flow.clock.now(), flow.options.poll_interval)));
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
        self.r.split = Split::Ended(self.r.split.parts().to_vec());
        self.save("every part ended: the invitation names what they shipped")
            .await?;
        self.finished()
    }
}
