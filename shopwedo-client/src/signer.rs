//! ShopWeDo's request signature: a pure function, and the envelope every request carries.
//!
//! `token = lowercase hex(HMAC-SHA512(key = shop key, message = shopid ++ shopkey ++
//! timestamp ++ salt))`, plain concatenation. Tokens older than 15 minutes or from the
//! future are refused, and a salt must not repeat, so every attempt is signed anew.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use commerce_core::{AuthTicket, Authenticator, Body, Error, ExposeSecret, OutgoingRequest, SecretString};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha512;

/// Signs: the lowercase hex HMAC-SHA512 of `shop_id ++ shop_key ++ timestamp ++ salt`,
/// keyed with the shop key.
///
/// ```
/// let token = shopwedo_client::sign(4242, &"swd-key".to_owned().into(), 1_700_000_000, "f3a9c2d1e8b74a60");
/// assert!(token.starts_with("2c68aaa96f30375b"));
/// ```
pub fn sign(shop_id: u64, shop_key: &SecretString, timestamp: i64, salt: &str) -> String {
    let key = shop_key.expose_secret().as_bytes();
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(shop_id.to_string().as_bytes());
    mac.update(key);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(salt.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Where the signer gets the time (Unix seconds). Injectable for tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current Unix time in seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// Where the signer gets a fresh salt. Injectable for tests.
pub trait SaltSource: Send + Sync + fmt::Debug {
    /// A salt never handed out before.
    fn salt(&self) -> String;
}

/// 128 random bits as 32 hex characters.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSalt;

impl SaltSource for RandomSalt {
    fn salt(&self) -> String {
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    }
}

/// The `auth` object of a request.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AuthObject {
    /// The shop id.
    pub shopid: u64,
    /// Unix seconds.
    pub timestamp: i64,
    /// The unique salt.
    pub salt: String,
    /// The signature.
    pub token: String,
}

impl fmt::Debug for AuthObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a one-time signature, not the key; showing its start helps debugging.
        f.debug_struct("AuthObject")
            .field("shopid", &self.shopid)
            .field("timestamp", &self.timestamp)
            .field("salt", &self.salt)
            .field("token", &format!("{}…", &self.token[..self.token.len().min(8)]))
            .finish()
    }
}

/// How the `auth` + `data` envelope travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// Form fields holding JSON: `auth=<json>&data=<json>` (what public clients send).
    #[default]
    Form,
    /// One JSON body `{"auth": {...}, "data": {...}}` (as the documentation shows).
    Json,
}

/// Signs every attempt and wraps the endpoint's JSON body (the `data` object) in the
/// envelope.
pub struct Signer {
    pub(crate) shop_id: u64,
    pub(crate) shop_key: SecretString,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) salts: Arc<dyn SaltSource>,
    pub(crate) envelope: Envelope,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("shop_id", &self.shop_id)
            .field("shop_key", &"[redacted]")
            .field("envelope", &self.envelope)
            .finish()
    }
}

impl Signer {
    /// A fresh `auth` object: now, a new salt, the signature.
    pub fn auth_object(&self) -> AuthObject {
        let timestamp = self.clock.now();
        let salt = self.salts.salt();
        AuthObject {
            shopid: self.shop_id,
            token: sign(self.shop_id, &self.shop_key, timestamp, &salt),
            timestamp,
            salt,
        }
    }
}

#[async_trait]
impl Authenticator for Signer {
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        let data = match request.body.take() {
            Some(Body::Json(bytes)) => bytes,
            None => Bytes::from_static(b"{}"),
            Some(other) => {
                return Err(Error::config(format!(
                    "shopwedo: the data of {} must be JSON, not {other:?}",
                    request.endpoint
                )));
            }
        };
        let auth = serde_json::to_string(&self.auth_object()).expect("the auth object serializes");
        let data =
            std::str::from_utf8(&data).map_err(|_| Error::config("shopwedo: the data is not UTF-8"))?;
        request.body = Some(match self.envelope {
            Envelope::Form => Body::Form(vec![("auth".into(), auth), ("data".into(), data.to_owned())]),
            Envelope::Json => Body::Json(Bytes::from(format!(r#"{{"auth":{auth},"data":{data}}}"#))),
        });
        Ok(AuthTicket::fixed())
    }

    fn account(&self) -> Option<String> {
        Some(format!("shop {}", self.shop_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_independent_test_vector() {
        let token = sign(
            4242,
            &"swd-key".to_owned().into(),
            1_700_000_000,
            "f3a9c2d1e8b74a60",
        );
        assert_eq!(
            token,
            "2c68aaa96f30375b1a78b8a6e6521879fc6abb8b7239e91b50382df1fe025d2d9578aa1a2365ec7a4fe990d571507071559d7f4b4dcb37d3cdfeb73c5b4ebc2b"
        );
    }

    #[test]
    fn salts_do_not_repeat_and_the_key_never_shows() {
        let salts: std::collections::HashSet<String> = (0..1000).map(|_| RandomSalt.salt()).collect();
        assert_eq!(salts.len(), 1000);
        let signer = Signer {
            shop_id: 1,
            shop_key: "k-SECRET".to_owned().into(),
            clock: Arc::new(SystemClock),
            salts: Arc::new(RandomSalt),
            envelope: Envelope::Form,
        };
        let shown = format!("{signer:?} {:?}", signer.auth_object());
        assert!(!shown.contains("k-SECRET"), "{shown}");
    }
}
