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
//!   ([`ReviewPlatform::repeatable_invites`] is `false`).
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

use std::fmt;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use commerce_core::{
    ClientAuth, ClientCredentials, Endpoint, InvitationReceipt, RateLimits, ReviewInvitation, ReviewPlatform,
    SecretString, TokenAuth, TokenCache, TokenRequestFormat, Transport, TransportSettings, ValidationErrors,
    env_optional, env_required, is_valid_email,
};
use serde::{Serialize, Serializer};

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

/// The provider name used in errors and traces.
pub const PROVIDER: &str = "safeshop";

/// The live API root.
pub const DEFAULT_BASE_URL: &str = "https://api.safe.shop/v1";

/// The scope asked for by default (integrations send `*` or `invites_readwrite`).
pub const DEFAULT_SCOPE: &str = "*";

fn send_at<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.format("%Y-%m-%d %H:%M:%S").to_string()),
        None => s.serialize_none(),
    }
}

/// An invitation to review an order. `email` and `order_id` are required; build it with
/// the fields you have and `..Default::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// The customer's e-mail (required).
    pub email: String,
    /// The order id (required). Whether Safe.Shop refuses an order id it already has (409)
    /// is not documented.
    pub order_id: String,
    /// When to send the invitation (`Y-m-d H:i:s`); `None`: the dashboard's delay.
    #[serde(serialize_with = "send_at", skip_serializing_if = "Option::is_none")]
    pub send_datetime: Option<NaiveDateTime>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lastname: Option<String>,
    /// Telephone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// Gender, as your shop records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Your customer id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Language of the invitation (ISO 639-1, two letters: `nl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Country (ISO 3166-1 alpha-2: `NL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Customer segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Sales channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Invite {
    /// Every problem Safe.Shop would refuse, named by field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.check(
            is_valid_email(&self.email),
            "email",
            format!("`{}` is not a well-formed address", self.email),
        );
        v.require(&self.order_id, "order_id");
        if let Some(l) = &self.language {
            v.check(
                l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()),
                "language",
                format!("must be an ISO 639-1 code such as `nl`, not `{l}`"),
            );
        }
        if let Some(c) = &self.country {
            v.check(
                c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase()),
                "country",
                format!("must be an ISO 3166-1 alpha-2 code such as `NL`, not `{c}`"),
            );
        }
        v.into_result(())
    }
}

/// What Safe.Shop did with an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutcome {
    /// Accepted (2xx); the body, if any, as sent.
    Accepted {
        /// The HTTP status.
        status: u16,
        /// The body text.
        body: String,
    },
    /// Safe.Shop answered 409 Conflict, read as "already had an invite for this order"
    /// (*inferred*: the document does not describe 409).
    Duplicate {
        /// The body text, if any.
        body: String,
    },
}

/// Builds a [`SafeShopClient`].
pub struct SafeShopClientBuilder {
    client_id: String,
    client_secret: SecretString,
    base_url: String,
    scope: String,
    format: TokenRequestFormat,
    settings: TransportSettings,
}

impl fmt::Debug for SafeShopClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeShopClientBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SafeShopClientBuilder {
    /// Overrides the API root (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Overrides the scope (default `*`; `invites_readwrite` is the narrow one).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Sends the token request as a form instead of JSON.
    pub fn form_token_request(mut self) -> Self {
        self.format = TokenRequestFormat::Form;
        self
    }

    commerce_core::transport_settings_setters!(settings);

    /// Builds the client; empty credentials or a non-HTTPS URL are refused here.
    pub fn build(self) -> Result<SafeShopClient, Error> {
        let base = commerce_core::secure_base_url(&self.base_url)?;
        let token_url = base
            .join("oauth/token")
            .map_err(|e| Error::config(format!("safeshop: bad token URL: {e}")))?;
        let credentials = ClientCredentials::new(
            &self.settings.http,
            PROVIDER,
            token_url.as_str(),
            self.client_id,
            self.client_secret,
        )?
        .client_auth(ClientAuth::Body)
        .format(self.format)
        .scope(self.scope);
        let tokens = TokenCache::new(credentials);
        let transport = Transport::configured(&self.settings, PROVIDER, base.as_str())
            .auth(TokenAuth::bearer(tokens.clone()))
            .default_header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            )
            .build()?;
        Ok(SafeShopClient { transport, tokens })
    }
}

/// A Safe.Shop client. Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct SafeShopClient {
    transport: Transport,
    tokens: TokenCache,
}

impl SafeShopClient {
    /// A builder with the client credentials from the Safe.Shop dashboard.
    pub fn builder(client_id: impl Into<String>, client_secret: SecretString) -> SafeShopClientBuilder {
        SafeShopClientBuilder {
            client_id: client_id.into(),
            client_secret,
            base_url: DEFAULT_BASE_URL.to_owned(),
            scope: DEFAULT_SCOPE.to_owned(),
            format: TokenRequestFormat::Json,
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                RateLimits::default(),
            ),
        }
    }

    /// A client from `SAFESHOP_CLIENT_ID`, `SAFESHOP_CLIENT_SECRET` and, optionally,
    /// `SAFESHOP_BASE_URL`. A missing variable is an error that names it.
    pub fn from_env() -> Result<Self, Error> {
        let mut b = Self::builder(
            env_required("SAFESHOP_CLIENT_ID")?,
            env_required("SAFESHOP_CLIENT_SECRET")?.into(),
        );
        if let Some(url) = env_optional("SAFESHOP_BASE_URL") {
            b = b.base_url(url);
        }
        b.build()
    }

    /// How many token requests this client has made.
    pub fn token_requests(&self) -> u64 {
        self.tokens.token_requests()
    }

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

#[async_trait]
impl ReviewPlatform for SafeShopClient {
    fn name(&self) -> &str {
        PROVIDER
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
            platform: PROVIDER.to_owned(),
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

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
