//! A typed client for the Safe.Shop review invitation API: send an order to Safe.Shop and
//! it invites the customer to review it after the delay set in the Safe.Shop dashboard.
//!
//! - **Token**: OAuth2 client credentials at `{base}/oauth/token` (a JSON body by default,
//!   a form as an option), cached and reused by every clone until shortly before it
//!   expires, refreshed once when Safe.Shop says it expired.
//! - **Invites**: `POST {base}/invites` with every field public integrations send, typed;
//!   e-mail, order id, language and country are checked before anything is sent.
//! - **Results by status**: Safe.Shop answers with HTTP statuses only. 2xx is
//!   [`InviteOutcome::Accepted`], 401 is [`Error::Auth`], 422 and the rest are
//!   [`Error::Provider`], any body text kept. A 409 Conflict is read as
//!   [`InviteOutcome::Duplicate`] (an invite for that order already there): *inferred*, since
//!   the Safe.Shop document says nothing of 409 or of de-duplication. So an invite whose
//!   outcome was lost is never sent again on the strength of it
//!   ([`ReviewPlatform::repeatable_invites`](commerce_core::ReviewPlatform::repeatable_invites) is `false`).
//!
//! ```no_run
//! use safeshop_client::prelude::*;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = SafeShopClient::from_env()?;
//! let invite = Invite {
//!     email: "jan@example.com".into(),
//!     order_id: "A-1001".into(),
//!     firstname: Some("Jan".into()),
//!     language: Some("nl".into()),
//!     ..Default::default()
//! };
//! let outcome = client.create_invite(&invite).await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```
//!
//! Field names follow public integrations; that the token answer carries `expires_in` is
//! *inferred* (without it the token is kept until Safe.Shop refuses it).
//!
#![doc = include_str!("../docs/first-hour.md")]

mod client;
mod invites;
mod model;
mod review_platform;

pub use crate::client::{DEFAULT_BASE_URL, DEFAULT_SCOPE, PROVIDER, SafeShopClient, SafeShopClientBuilder};
pub use crate::model::{Invite, InviteOutcome};
pub use commerce_core::Error;

/// Everything a first program needs, in one import: this crate's client and inputs, and
/// [`commerce_core::prelude`] (the traits, the provider-neutral types, [`Error`],
/// `SecretString`, the settings types and the stream extension traits).
///
/// ```no_run
/// use safeshop_client::prelude::*;
///
/// # async fn run() -> Result<(), Error> {
/// let client = SafeShopClient::from_env()?;
/// let invite = Invite {
///     email: "jan@example.com".into(),
///     order_id: "A-1001".into(),
///     ..Default::default()
/// };
/// client.create_invite(&invite).await?;
/// # Ok(()) }
/// ```
pub mod prelude {
    pub use crate::{Invite, InviteOutcome, SafeShopClient, SafeShopClientBuilder};
    pub use commerce_core::prelude::*;
}

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
