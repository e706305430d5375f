//! Invites: `POST {base}/invites`.

use commerce_core::{Endpoint, Error};

use crate::client::SafeShopClient;
use crate::model::{Invite, InviteOutcome};

impl SafeShopClient {
    /// Sends an invite. Validated first; a create, so never re-sent once it may have reached
    /// Safe.Shop (then [`Error::Unconfirmed`] says so).
    pub async fn create_invite(&self, invite: &Invite) -> Result<InviteOutcome, Error> {
        let mut ep = Endpoint::post("invites.create", "invites").json(invite);
        if let Err(e) = invite.validate() {
            ep.fail(e);
        }
        match self.transport.send(&ep).await {
            Ok(response) => Ok(InviteOutcome::Accepted {
                status: response.status().as_u16(),
                body: response.text(),
            }),
            Err(Error::Provider(p)) if p.status == 409 => Ok(InviteOutcome::Duplicate {
                body: p.message.clone().or(p.body_excerpt.clone()).unwrap_or_default(),
            }),
            Err(e) => Err(e),
        }
    }
}
