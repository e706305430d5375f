//! Safe.Shop as a [`ReviewPlatform`].

use async_trait::async_trait;
use commerce_core::{Error, InvitationReceipt, ReviewInvitation, ReviewPlatform};

use crate::client::{PROVIDER, SafeShopClient};
use crate::model::{Invite, InviteOutcome};

#[async_trait]
impl ReviewPlatform for SafeShopClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// Its rate limiter's estimate: how far off the next call's permit is.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        self.transport.limiter(None).ready_in_after(waiting)
    }

    /// One invite per order; a 409 counts as already invited (inferred, see the crate docs).
    async fn invite(&self, invitation: &ReviewInvitation) -> Result<InvitationReceipt, Error> {
        let c = &invitation.customer;
        let invite = Invite {
            email: c.email.clone(),
            order_id: invitation.order_id.clone(),
            send_datetime: invitation.send_at.map(|t| t.naive_utc()),
            firstname: c.first_name.clone(),
            lastname: c.last_name.clone(),
            language: c.language.clone().map(|l| l.to_ascii_lowercase()),
            country: invitation.country.clone().map(|c| c.to_ascii_uppercase()),
            ..Default::default()
        };
        let outcome = self.create_invite(&invite).await?;
        Ok(InvitationReceipt {
            platform: PROVIDER.name.to_owned(),
            reference: Some(invitation.order_id.clone()),
            already_invited: matches!(outcome, InviteOutcome::Duplicate { .. }),
        })
    }

    /// `false`: the Safe.Shop document does not say that it refuses a second invite for an
    /// order (the 409 this crate reads is inferred), so repeating one whose outcome is
    /// unknown could e-mail the customer twice.
    fn repeatable_invites(&self) -> bool {
        false
    }
}
