//! `invite`: the review invitation on each platform, one journal step per call (an
//! invitation of several calls has one per part), then the platform's own step.

use commerce_core::InvitationReceipt;
use futures_util::future::BoxFuture;

use super::super::Event;
use super::super::engine::{Halt, Held, Notes};
use super::super::settle::{self, Settled};
use super::super::steps::{self, Next};
use crate::journal::Step;

/// The row's runner: one call of an invitation, or a platform's own step once every call
/// of it is done.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, next: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(async move {
        match next {
            Next::Invite {
                plan,
                step,
                part,
                settle,
            } => h.invite(plan, step, part, settle).await,
            Next::Invited { plan } => h.invited(plan).await,
            other => unreachable!("{other:?} is not an invitation"),
        }
    })
}

impl Held<'_> {
    pub(crate) async fn invite(
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
        let invitation = self.invitation.clone();
        let call = async {
            match &part {
                Some(part) => platform.invite_part(part, &invitation).await,
                None => platform.invite(&invitation).await,
            }
        };
        let receipt = self
            .perform(
                rule,
                |r| r.invitations.entry(step.clone()).or_default(),
                Notes {
                    failed: format!("{} {step}", rule.name()),
                    before: format!("inviting on {step}"),
                    done: Box::new(|_| format!("invited on {step}")),
                    refused: Some(Box::new(|e| format!("not invited on {step}: {e}"))),
                },
                call,
            )
            .await?;
        if part.is_none() {
            self.invitation_done(plan, receipt)?;
        }
        Ok(())
    }

    /// Every call of a platform's invitation went through: the platform's own step is
    /// done, with the receipts combined.
    pub(crate) async fn invited(&mut self, plan: usize) -> Result<(), Halt> {
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
        self.invitation_done(plan, receipt)
    }

    fn invitation_done(&self, plan: usize, receipt: InvitationReceipt) -> Result<(), Halt> {
        let name = self.plans[plan].platform.clone();
        let event = Event::Invited {
            key: self.r.key.clone(),
            receipt,
        };
        self.announce(event, |s| *s.invitations.entry(name).or_default() += 1)
    }
}
