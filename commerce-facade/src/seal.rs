//! How the shared stores keep what they keep (PostgreSQL's and SQLite's alike): rows named by
//! hashes, so neither a credential's identity nor an account name is stored, and each
//! credential's token sealed with XChaCha20-Poly1305 under a key derived from the
//! credential's secret, which is never stored, so the database (or the file) alone does not
//! give the token.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commerce_core::{Credential, Error, ExposeSecret, SecretString};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What names one credential's row, and what seals its token.
pub(crate) struct Sealing {
    /// Hex SHA-256 of the credential's identity: the row's key (the identity itself is
    /// not stored).
    pub(crate) row: String,
    /// HMAC-SHA-256 of the identity under the credential's secret.
    key: [u8; 32],
}

const CONTEXT: &[u8] = b"commerce-token-store/v1\0";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The row and the sealing key of `credential`.
pub(crate) fn sealing(credential: &Credential) -> Sealing {
    let mut digest = Sha256::new();
    digest.update(CONTEXT);
    digest.update(credential.id.as_bytes());
    let row = hex(&digest.finalize());
    let mut mac =
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(credential.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(CONTEXT);
    mac.update(credential.id.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(&mac.finalize().into_bytes());
    Sealing { row, key }
}

impl Sealing {
    /// A random nonce, then the token encrypted and authenticated (with the row's key as
    /// associated data, so a sealed token moved to another row does not open).
    pub(crate) fn seal(&self, token: &SecretString) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| Error::shared(format!("no random nonce: {e}")))?;
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: self.row.as_bytes(),
                },
            )
            .map_err(|_| Error::shared("the token could not be sealed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The token, or `None` when it does not open (sealed under another secret: the
    /// credential's secret was changed).
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<SecretString> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, body) = sealed.split_at(24);
        let plain = XChaCha20Poly1305::new((&self.key).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: self.row.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok().map(SecretString::from)
    }
}

/// A bucket's name in the database: a hash of the scope (provider, address, account) and
/// the bucket, so account names are not stored.
pub(crate) fn bucket_row(bucket: &str) -> String {
    hex(&Sha256::digest(bucket.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_credential() {
        let c = Credential {
            id: "https://login.bol.com/token client".into(),
            secret: "s3cret".to_owned().into(),
        };
        let s = sealing(&c);
        let sealed = s.seal(&"tok-123".to_owned().into()).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"tok-123"), "not in clear text");
        assert!(!s.row.contains("client"), "the identity is hashed");
        assert_eq!(s.open(&sealed).unwrap().expose_secret(), "tok-123");
        let rotated = sealing(&Credential {
            secret: "other".to_owned().into(),
            ..c.clone()
        });
        assert_eq!(rotated.row, s.row);
        assert!(rotated.open(&sealed).is_none(), "another secret does not open it");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(&tampered).is_none());
        assert_ne!(
            s.seal(&"tok-123".to_owned().into()).unwrap(),
            sealed,
            "a new nonce each time"
        );
    }
}
