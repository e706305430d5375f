//! `confirm`: the shipment confirmed on the sales channel with its tracking code.

use futures_util::future::BoxFuture;

use super::super::engine::{Halt, Held, Notes};
use super::super::steps::{self, Next};
use super::super::{Event, map};

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, _: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(h.confirm())
}

impl Held<'_> {
    /// Confirms the shipment on the channel. The channel checks the order before it
    /// confirms (`SalesChannel::confirm_shipment`), so a confirmation begun before is simply
    /// asked again.
    pub(crate) async fn confirm(&mut self) -> Result<(), Halt> {
        let rule = steps::CONFIRM;
        let channel = self.channel()?;
        let tracking = self.r.shipped.done().cloned().unwrap_or_default();
        let confirmation = map::confirmation(&self.r.order, tracking);
        let call = async { channel.confirm_shipment(&confirmation).await.map(|r| r.reference) };
        let reference = self
            .perform(
                rule,
                |r| &mut r.confirmation,
                Notes {
                    failed: rule.name().into(),
                    before: "confirming the shipment".to_owned(),
                    done: Box::new(|_| "shipment confirmed".to_owned()),
                    refused: None,
                },
                call,
            )
            .await?;
        let event = Event::Confirmed {
            key: self.r.key.clone(),
            reference,
        };
        self.announce(event, |s| s.confirmed += 1)
    }
}
