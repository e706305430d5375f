//! `submit`: the hand-over to the fulfilment provider: its reads first, then the one
//! request that acts; an unknown outcome is looked up (`settle`).

use commerce_core::{Error, SubmissionReceipt};
use futures_util::future::BoxFuture;

use super::super::engine::{Halt, Held, Notes};
use super::super::settle::{self, Settled};
use super::super::steps::{self, Next};
use super::super::{Event, map};
use crate::journal::Step;

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, next: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(async move {
        let Next::Submit { settle } = next else {
            unreachable!("{next:?} is not a hand-over")
        };
        h.submit(settle).await
    })
}

impl Held<'_> {
    pub(crate) async fn submit(&mut self, settle: bool) -> Result<(), Halt> {
        let rule = steps::SUBMIT;
        let f = self.fulfilment(rule.name())?;
        let flow = self.flow;
        if settle {
            let settled = settle::submission(
                rule,
                f.as_ref(),
                &self.r.order.id,
                flow.options.resend_unconfirmed,
            )
            .await
            .map_err(|e| Halt::Failed(rule.name().into(), e))?;
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
                Err(e) => return Err(Halt::Failed(rule.name().into(), e)),
            }
        }
        let contact_phone = flow.options.contact_phone.as_deref();
        // Every read the hand-over needs (ShopWeDo: the stock ids by barcode) comes first:
        // the window in which the outcome can be unknown is the one request that may act.
        let prepared = f
            .prepare(&map::fulfilment_order(&self.r.order, contact_phone))
            .await
            .map_err(|e| Halt::Failed(rule.name().into(), e))?;
        // A stop asked during the reads: nothing is sent (`perform` checks first). Stays
        // Started when its outcome is unknown: settled at the next visit, by the look-up.
        // When the hand-over was sent, saved with `Started`: a warehouse count made before
        // it cannot have taken it off (the stock loop).
        self.r.handed_over_at = Some(flow.clock.now());
        let receipt = self
            .perform(
                rule,
                |r| &mut r.submission,
                Notes {
                    failed: rule.name().into(),
                    before: format!("submitting to {}", f.name()),
                    done: Box::new(|r: &SubmissionReceipt| {
                        format!("submitted to {} as {}", r.provider, r.reference)
                    }),
                    refused: Some(Box::new(|e| format!("not submitted: {e}"))),
                },
                f.send(&prepared),
            )
            .await?;
        self.announce_submitted(receipt)
    }

    /// A hand-over found at the provider: done, without a call that acts.
    async fn submitted(&mut self, receipt: SubmissionReceipt, how: &str) -> Result<(), Halt> {
        let note = format!("{how} to {} as {}", receipt.provider, receipt.reference);
        self.step_done(&note, |r| r.submission = Step::Done(receipt.clone()))
            .await?;
        self.announce_submitted(receipt)
    }

    fn announce_submitted(&mut self, receipt: SubmissionReceipt) -> Result<(), Halt> {
        let event = Event::Submitted {
            key: self.r.key.clone(),
            receipt,
        };
        self.announce(event, |s| s.submitted += 1)
    }
}
