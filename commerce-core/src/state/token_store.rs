//! Layer 3, state: where the token of a credential is kept for every process that uses it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::Error;
use crate::policy::tokens::TokenRules;

/// A credential as a [`TokenStore`] knows it: who it is (not secret) and a secret only its
/// holders know, for a store to seal the tokens it keeps with.
#[derive(Clone)]
pub struct Credential {
    /// A stable identity: the token endpoint and the client id (or the login), never a
    /// secret. Stores may keep it hashed.
    pub id: String,
    /// A secret of the credential (its client secret, its password): a store derives the key
    /// that seals the stored token from it, so the database alone does not give the token.
    pub secret: SecretString,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What a [`TokenStore`] has for a credential.
pub enum Stored {
    /// A token with at least the asked-for life left.
    Token {
        /// The token.
        secret: SecretString,
        /// How long it remains valid.
        left: Duration,
        /// The store's number for it, to name it when the provider refuses it.
        generation: u64,
    },
    /// No usable token, and the caller now holds the right to request one (until `hold`
    /// ends): it must [`TokenStore::put`] the token or [`TokenStore::abandon`] the request.
    Fetch,
    /// Another process is requesting one (or token requests are cooling down after a
    /// failure): look again after this long.
    Wait(Duration),
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stored::Token { left, generation, .. } => f
                .debug_struct("Token")
                .field("secret", &"[redacted]")
                .field("left", left)
                .field("generation", generation)
                .finish(),
            Stored::Fetch => f.write_str("Fetch"),
            Stored::Wait(d) => f.debug_tuple("Wait").field(d).finish(),
        }
    }
}

/// Where the token of each credential is kept for every process that uses it.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token of `credential` if it has at least `min_left` of its life left and
    /// is not generation `refused` (a token the provider refused: it is dropped for all);
    /// otherwise the right to request one for `hold`, unless another process holds it.
    async fn take(
        &self,
        credential: &Credential,
        min_left: Duration,
        refused: Option<u64>,
        hold: Duration,
    ) -> Result<Stored, Error>;

    /// Stores the token the holder of the request got, valid for `life`; returns its
    /// generation.
    async fn put(&self, credential: &Credential, token: &SecretString, life: Duration) -> Result<u64, Error>;

    /// The holder's token request failed: one more failure in a row for the credential,
    /// whichever process made it, and nobody asks again before the cool-down the rules set
    /// for that many failures (or the wait the provider `asked` for, when longer). A stored
    /// token resets the count.
    async fn abandon(
        &self,
        credential: &Credential,
        rules: &TokenRules,
        asked: Option<Duration>,
    ) -> Result<(), Error>;
}
