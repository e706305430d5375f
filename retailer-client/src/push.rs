//! bol's push notifications: verifying a delivery, its typed event, and the subscriptions
//! that make bol send them.
//!
//! # What bol documents, and what is inferred
//!
//! - **The payload** is bol's own, from the v7 functional documentation
//!   (<https://api.bol.com/retailer/public/Retailer-API/v7/functional/retailer-api/subscriptions.html>):
//!   `{"retailerId":1234567,"timestamp":"2020-02-02T23:23:23+01:00","event":{"resource":
//!   "PROCESS_STATUS","type":"SUCCESS","resourceId":"1234567"}}`, the resource id being the
//!   process status id (`PROCESS_STATUS`: `SUCCESS`, `FAILURE`, `TIMEOUT`) or the shipment id
//!   (`SHIPMENT`: `UPDATE_TRANSPORT_EVENT`). The `ORDER` types (`ORDER_CREATED`,
//!   `ORDER_ITEM_CANCELLATION_REQUEST`, the order id as resource id) are third-party
//!   reports; the `TEST` resource is what the v10 description's `SubscriptionResponse` lists.
//! - **Retries**: bol's v10 page
//!   (<https://api.bol.com/retailer/public/Retailer-API/v10/functional/retailer-api/subscriptions.html>)
//!   says a delivery is retried 10 times over 10 minutes, then the subscription is disabled
//!   until it is updated ([`RetailerClient::subscribe`] enables it again).
//! - **The keys**: bol's v10 OpenAPI description, `GET /retailer/subscriptions/signature-keys`:
//!   each key an `id` that "maps to the keyId value in the signature header of the push
//!   request", a `type` (`RSA`) and "the Base64 encoded public key to use when verifying the
//!   signature". Third-party reports put the endpoint at about 10 calls an hour.
//! - **The header** is not in the parts of bol's pages that could be read. It is inferred
//!   from the one public client that verifies deliveries, rojtjo/bol-api-client
//!   (`src/Secure/SignatureHeader.php`), which parses
//!   `keyId=0, algorithm="rsa-sha256", signature=<Base64>` from the `Signature` header,
//!   and from a plugin that reads the same value from `X-BOL-Signature`. So the header is
//!   [`SIGNATURE_HEADER`], or [`ALT_SIGNATURE_HEADER`] when that is absent, read
//!   tolerantly (quotes optional, any order, unknown parameters ignored), and the signature
//!   is RSA PKCS#1 v1.5 with SHA-256 over the raw body bytes.
//!
//! # The order of the checks
//!
//! [`PushKeys::verify`] checks, in this order, and refuses with the first reason
//! ([`PushRefusal`]): the body's size ([`MAX_BODY`]); the signature header; its algorithm
//! (`rsa-sha256`); the key it names (an unknown id refreshes the keys once, at most every
//! [`PushKeys::refresh_at_most_every`], concurrent callers sharing the refresh); the RSA
//! signature over the raw bytes (aws-lc-rs, `RSA_PKCS1_2048_8192_SHA256`); only then the
//! JSON; then the timestamp (older than [`PushKeys::max_age`]: stale or replayed; more than
//! five minutes ahead: refused). Nothing of the body is parsed before its signature is
//! verified. The refusals after it verified ([`PushRefusal::signed`]) are bol's own
//! deliveries, or replays of them: a receiver answers them 2xx and does not act on them
//! (an error answer only makes bol retry ten times and disable the subscription).
//!
//! A read of the keys that lists no usable key keeps the keys held. Keys read
//! [`PushKeys::refresh_keys_older_than`] ago (12 hours) are read again in the background by
//! the next delivery naming a known key, within the same interval, so a withdrawn key stops
//! verifying.
//!
//! No secret is compared here: the signature check is aws-lc-rs's, and key ids
//! are public. Deliveries naming made-up key ids cost at most one read of the keys per
//! interval, whoever sends them; the read runs in a task of its own, so a receiver that
//! stops waiting for it does not lose it.
//!
//! A re-delivery of the same body is the same [`Delivery::id`] (`"bol:"` and the SHA-256
//! of the body): the receiver de-duplicates on it (bol delivers at least once, in no
//! particular order).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use commerce_core::{ChannelEvent, Error, ProviderError};
use http::HeaderMap;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::models::{
    KeySetResponse, ProcessStatus, SubscriptionRequest, SubscriptionRequestResources,
    SubscriptionRequestSubscriptionType, SubscriptionResponse,
};
use crate::process::WaitOptions;

/// The header bol's deliveries carry their signature in (header names are case-insensitive:
/// `Signature`).
pub const SIGNATURE_HEADER: &str = "signature";

/// The header read when [`SIGNATURE_HEADER`] is absent (one public plugin reads this one;
/// the same value format).
pub const ALT_SIGNATURE_HEADER: &str = "x-bol-signature";

/// The largest delivery body read, in bytes; bol's are a few hundred.
pub const MAX_BODY: usize = 64 * 1024;

/// The one signature algorithm bol uses (compared without regard to case).
pub const ALGORITHM: &str = "rsa-sha256";

/// How far ahead of the receiver's clock a delivery may be dated.
pub const MAX_AHEAD: Duration = Duration::from_secs(5 * 60);

/// The default of [`PushKeys::refresh_at_most_every`]: 10 minutes, so at most 6 reads an
/// hour, leaving headroom under the keys endpoint's about 10 calls an hour per account,
/// which other processes and `commerce subscribe` share.
pub const DEFAULT_REFRESH_EVERY: Duration = Duration::from_secs(10 * 60);

/// The default of [`PushKeys::refresh_keys_older_than`]: keys read 12 hours ago or longer
/// are read again in the background, so a key bol withdrew stops verifying.
pub const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);

/// The default of [`PushKeys::max_age`].
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// A resource a subscription asks for (bol's `resources` of `POST /retailer/subscriptions`).
pub type SubscriptionResource = SubscriptionRequestResources;

/// The resources an order flow subscribes to: new orders and cancellation requests, final
/// process statuses, shipments.
pub const DEFAULT_RESOURCES: [SubscriptionResource; 3] = [
    SubscriptionRequestResources::Order,
    SubscriptionRequestResources::ProcessStatus,
    SubscriptionRequestResources::Shipment,
];

/// Why a delivery was refused. Its Display says why, without the body; nothing of a refused
/// delivery may be acted upon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushRefusal {
    /// The body is larger than [`MAX_BODY`].
    #[error("the delivery is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Neither `Signature` nor `X-BOL-Signature` is there.
    #[error("the delivery has no Signature header")]
    NoSignature,
    /// The signature header cannot be read.
    #[error("the Signature header cannot be read: {0}")]
    MalformedSignature(String),
    /// The header names another algorithm than `rsa-sha256`.
    #[error("the Signature header names the algorithm {0}; bol signs with rsa-sha256")]
    UnsupportedAlgorithm(String),
    /// The key the header names is not one of bol's RSA signature keys, even after a
    /// refresh of the keys.
    #[error("the Signature header names key {0}, which is not one of bol's RSA signature keys")]
    UnknownKey(String),
    /// The signature does not match the body: forged, or altered on the way.
    #[error("the signature does not match the body (forged or altered)")]
    BadSignature,
    /// bol's signature keys could not be read: deliver again later.
    #[error("bol's signature keys could not be read ({0}); deliver again later")]
    KeysUnavailable(String),
    /// The signed body is not a delivery bol documents.
    #[error("the signed delivery cannot be read: {0}")]
    Malformed(String),
    /// The delivery is older than allowed (late, or replayed).
    #[error("the delivery is {age_secs} s old, older than allowed (stale or replayed)")]
    Stale {
        /// How old it is, in seconds.
        age_secs: i64,
    },
    /// The delivery is dated further ahead than [`MAX_AHEAD`].
    #[error("the delivery is dated {ahead_secs} s ahead, more than 5 minutes in the future")]
    FromTheFuture {
        /// How far ahead, in seconds.
        ahead_secs: i64,
    },
}

impl PushRefusal {
    /// A short label, for metrics: `too_large`, `no_signature`, `malformed_signature`,
    /// `unsupported_algorithm`, `unknown_key`, `bad_signature`, `keys_unavailable`,
    /// `malformed`, `stale`, `from_the_future`.
    pub fn code(&self) -> &'static str {
        match self {
            PushRefusal::TooLarge => "too_large",
            PushRefusal::NoSignature => "no_signature",
            PushRefusal::MalformedSignature(_) => "malformed_signature",
            PushRefusal::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            PushRefusal::UnknownKey(_) => "unknown_key",
            PushRefusal::BadSignature => "bad_signature",
            PushRefusal::KeysUnavailable(_) => "keys_unavailable",
            PushRefusal::Malformed(_) => "malformed",
            PushRefusal::Stale { .. } => "stale",
            PushRefusal::FromTheFuture { .. } => "from_the_future",
        }
    }

    /// Whether the delivery may verify later: only when the keys could not be read (answer
    /// 503 so bol delivers it again).
    pub fn retry_later(&self) -> bool {
        matches!(self, PushRefusal::KeysUnavailable(_))
    }

    /// Whether the refusal came after the signature verified ([`Malformed`](Self::Malformed),
    /// [`Stale`](Self::Stale), [`FromTheFuture`](Self::FromTheFuture)): the delivery is bol's
    /// own (or a replay of one). A receiver answers it 2xx and does not act on it: refusing
    /// it only makes bol deliver the same body again, about ten times over ten minutes, and
    /// then disable the subscription. Every other refusal is answered with an error status
    /// (503 when [`retry_later`](Self::retry_later)).
    pub fn signed(&self) -> bool {
        matches!(
            self,
            PushRefusal::Malformed(_) | PushRefusal::Stale { .. } | PushRefusal::FromTheFuture { .. }
        )
    }
}

/// Untrusted text as a refusal shows it: at most 64 characters, escaped.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect::<String>().escape_debug().collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// A signature header, `keyId=0, algorithm="rsa-sha256", signature=<Base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The id of the key that signed (`keyId`).
    pub key_id: String,
    /// The algorithm, as sent (`rsa-sha256`).
    pub algorithm: String,
    /// The signature, Base64-decoded.
    pub signature: Vec<u8>,
}

impl fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureHeader")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("signature_len", &self.signature.len())
            .finish()
    }
}

impl FromStr for SignatureHeader {
    type Err = PushRefusal;

    /// Reads the header tolerantly: parameters in any order, separated by commas with or
    /// without spaces, values quoted or not, names in any case, unknown parameters ignored.
    /// `keyId`, `algorithm` and `signature` are required, each once; the signature is
    /// Base64 (standard or URL-safe, padded or not).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = |why: String| PushRefusal::MalformedSignature(why);
        let (mut key_id, mut algorithm, mut signature) = (None, None, None);
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(malformed(format!("`{}` is not name=value", shown(part))));
            };
            let name = name.trim();
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
                .trim();
            let slot = match name.to_ascii_lowercase().as_str() {
                "keyid" => &mut key_id,
                "algorithm" => &mut algorithm,
                "signature" => &mut signature,
                _ => continue,
            };
            if slot.is_some() {
                return Err(malformed(format!("{} is given twice", shown(name))));
            }
            *slot = Some(value.to_owned());
        }
        let key_id = key_id
            .filter(|k| !k.is_empty())
            .ok_or_else(|| malformed("no keyId".into()))?;
        let algorithm = algorithm
            .filter(|a| !a.is_empty())
            .ok_or_else(|| malformed("no algorithm".into()))?;
        let signature = signature
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("no signature".into()))?;
        let signature =
            decode_base64(&signature).ok_or_else(|| malformed("the signature is not Base64".into()))?;
        Ok(SignatureHeader {
            key_id,
            algorithm,
            signature,
        })
    }
}

/// Base64 as senders write it: standard or URL-safe, padded or not, whitespace ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if cleaned.is_empty() {
        return None;
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&cleaned).ok())
        .filter(|bytes| !bytes.is_empty())
}

/// One of bol's signature keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureKey {
    /// The key id (the header's `keyId`).
    pub id: String,
    /// bol's `type` (`RSA`); a key of another type is kept but never verifies.
    pub key_type: String,
    /// The public key as bol sends it, Base64-decoded: DER, either a SubjectPublicKeyInfo
    /// (X.509, `MIIB…` in Base64) or a PKCS#1 `RSAPublicKey`.
    pub public_key: Vec<u8>,
}

impl fmt::Debug for SignatureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureKey")
            .field("id", &self.id)
            .field("key_type", &self.key_type)
            .field("public_key_len", &self.public_key.len())
            .finish()
    }
}

impl SignatureKey {
    fn is_rsa(&self) -> bool {
        self.key_type.trim().eq_ignore_ascii_case("RSA")
    }

    /// An `RSA` key whose bytes aws-lc-rs reads as an RSA public key of 2048 to 8192 bits.
    fn is_usable(&self) -> bool {
        self.is_rsa() && ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key).is_ok()
    }
}

/// The keys of an answer of `GET /retailer/subscriptions/signature-keys`, read tolerantly:
/// a key without an id or whose public key is not Base64 (PEM armour is taken off) is left
/// out and logged; the rest are kept.
pub fn signature_keys_of(answer: &KeySetResponse) -> Vec<SignatureKey> {
    answer
        .signature_keys
        .iter()
        .filter_map(|k| {
            let id = k.id.trim();
            let key_type = k.r#type.as_str().trim().to_owned();
            let body: String = k
                .public_key
                .lines()
                .filter(|l| !l.trim_start().starts_with("-----"))
                .collect();
            match decode_base64(&body) {
                Some(public_key) if !id.is_empty() => Some(SignatureKey {
                    id: id.to_owned(),
                    key_type,
                    public_key,
                }),
                _ => {
                    tracing::warn!(key_id = %shown(id), "bol listed a signature key without an id or readable Base64 key; left out");
                    None
                }
            }
        })
        .collect()
}

/// What the last refresh of the keys came to.
struct Refreshed {
    at: Instant,
    outcome: Result<(), String>,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, SignatureKey>,
    /// The last read of the keys, whatever it came to.
    last: Option<Refreshed>,
    /// When the keys held were read from bol (`None`: never, or given to
    /// [`PushKeys::fixed`]).
    read_at: Option<Instant>,
}

struct Cache {
    state: Mutex<KeyState>,
    /// Held while the keys are read, by the task reading them: one refresh at a time,
    /// shared by its waiters, and finished even when the caller that started it gives up.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    refreshes: AtomicU64,
}

/// bol's signature keys, cached, and the verifier of deliveries. Cheap to clone; clones
/// share the cache (one refresh for all of them).
#[derive(Clone)]
pub struct PushKeys {
    client: Option<RetailerClient>,
    refresh_every: Duration,
    keys_max_age: Duration,
    max_age: Duration,
    cache: Arc<Cache>,
}

impl fmt::Debug for PushKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushKeys")
            .field("refreshing", &self.client.is_some())
            .field("refresh_every", &self.refresh_every)
            .field("keys_max_age", &self.keys_max_age)
            .field("max_age", &self.max_age)
            .field("keys", &self.lock().keys.len())
            .finish()
    }
}

impl PushKeys {
    /// Keys read from bol through `client` when a delivery names a key not yet known (the
    /// first delivery reads them).
    pub fn new(client: RetailerClient) -> Self {
        Self::with(Some(client), Vec::new())
    }

    /// These keys and no others: never refreshed (tests, or keys kept elsewhere).
    pub fn fixed(keys: Vec<SignatureKey>) -> Self {
        Self::with(None, keys)
    }

    fn with(client: Option<RetailerClient>, keys: Vec<SignatureKey>) -> Self {
        PushKeys {
            client,
            refresh_every: DEFAULT_REFRESH_EVERY,
            keys_max_age: DEFAULT_KEYS_MAX_AGE,
            max_age: DEFAULT_MAX_AGE,
            cache: Arc::new(Cache {
                state: Mutex::new(KeyState {
                    keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
                    last: None,
                    read_at: None,
                }),
                refreshing: Arc::new(tokio::sync::Mutex::new(())),
                refreshes: AtomicU64::new(0),
            }),
        }
    }

    /// Reads the keys again at most this often, for an unknown key id or keys grown old
    /// (default [`DEFAULT_REFRESH_EVERY`]); within it, an unknown id is refused without a
    /// call.
    pub fn refresh_at_most_every(mut self, every: Duration) -> Self {
        self.refresh_every = every;
        self
    }

    /// Keys read from bol this long ago or longer are read again in the background by the
    /// next delivery that names a known key (default [`DEFAULT_KEYS_MAX_AGE`]; still at most
    /// every [`refresh_at_most_every`](Self::refresh_at_most_every)). The delivery is
    /// verified with the keys held meanwhile; once the read lists them no more, a key bol
    /// withdrew is unknown. Keys given to [`fixed`](Self::fixed) are never read again.
    pub fn refresh_keys_older_than(mut self, age: Duration) -> Self {
        self.keys_max_age = age;
        self
    }

    /// Waits until no read of the keys is under way (one a delivery started in the
    /// background included); returns at once when none is.
    pub async fn settled(&self) {
        drop(self.cache.refreshing.lock().await);
    }

    /// Deliveries older than this are refused as stale (default [`DEFAULT_MAX_AGE`]).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// How many times the keys were read from bol (failed reads included).
    pub fn key_refreshes(&self) -> u64 {
        self.cache.refreshes.load(Ordering::Relaxed)
    }

    /// The keys known now.
    pub fn keys(&self) -> Vec<SignatureKey> {
        let mut keys: Vec<SignatureKey> = self.lock().keys.values().cloned().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.cache.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self, id: &str) -> Option<SignatureKey> {
        self.lock().keys.get(id).cloned()
    }

    /// The key `id`, refreshing the keys once if it is unknown and they were not read within
    /// `refresh_every` (callers arriving during a refresh share it).
    async fn key(&self, id: &str) -> Result<SignatureKey, PushRefusal> {
        if let Some(key) = self.known(id) {
            self.refresh_if_old();
            return Ok(key);
        }
        let unknown = || PushRefusal::UnknownKey(shown(id));
        let Some(client) = &self.client else {
            return Err(unknown());
        };
        let refreshing = Arc::clone(&self.cache.refreshing).lock_owned().await;
        if let Some(key) = self.known(id) {
            return Ok(key);
        }
        {
            let state = self.lock();
            if let Some(last) = &state.last
                && last.at.elapsed() < self.refresh_every
            {
                return match &last.outcome {
                    Ok(()) => Err(unknown()),
                    Err(e) => Err(PushRefusal::KeysUnavailable(e.clone())),
                };
            }
        }
        let read = self.spawn_read(client.clone(), refreshing);
        match read.await {
            Ok(Ok(())) => self.known(id).ok_or_else(unknown),
            Ok(Err(message)) => Err(PushRefusal::KeysUnavailable(message)),
            Err(e) => Err(PushRefusal::KeysUnavailable(format!(
                "the read of the keys ended: {e}"
            ))),
        }
    }

    /// Starts a read of the keys in a task of its own, holding the refresh lock: a caller
    /// that gives up (a receiver bounding its answer's time) leaves the read to finish and
    /// be kept, and the callers waiting meanwhile take its outcome instead of reading
    /// again. A read that lists no usable key (none at all, none readable, none RSA) keeps
    /// the keys held and counts as failed: a made-up key id never makes bol's genuine key
    /// unknown through an answer of bol's that lists nothing usable.
    fn spawn_read(
        &self,
        client: RetailerClient,
        refreshing: tokio::sync::OwnedMutexGuard<()>,
    ) -> tokio::task::JoinHandle<Result<(), String>> {
        self.cache.refreshes.fetch_add(1, Ordering::Relaxed);
        let reader = self.clone();
        tokio::spawn(async move {
            let _refreshing = refreshing;
            let answer = client.get_subscription_keys().await;
            let mut state = reader.lock();
            let at = Instant::now();
            let outcome = match answer {
                Ok(answer) => {
                    let keys = signature_keys_of(&answer);
                    if keys.iter().any(SignatureKey::is_usable) {
                        tracing::debug!(keys = keys.len(), "read bol's signature keys");
                        state.keys = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
                        state.read_at = Some(at);
                        Ok(())
                    } else {
                        let message = format!(
                            "bol listed no usable RSA signature key ({} listed, {} with an id and Base64); the keys held are kept",
                            answer.signature_keys.len(),
                            keys.len()
                        );
                        tracing::warn!("{message}");
                        Err(message)
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bol's signature keys could not be read");
                    Err(e.to_string())
                }
            };
            state.last = Some(Refreshed {
                at,
                outcome: outcome.clone(),
            });
            outcome
        })
    }

    /// Starts a read of the keys in the background when those held were read
    /// [`refresh_keys_older_than`](Self::refresh_keys_older_than) ago or longer, no read was
    /// made within [`refresh_at_most_every`](Self::refresh_at_most_every), and none is under
    /// way.
    fn refresh_if_old(&self) {
        let Some(client) = &self.client else {
            return;
        };
        {
            let state = self.lock();
            let old = state.read_at.is_some_and(|at| at.elapsed() >= self.keys_max_age);
            let recently = state
                .last
                .as_ref()
                .is_some_and(|last| last.at.elapsed() < self.refresh_every);
            if !old || recently {
                return;
            }
        }
        let Ok(refreshing) = Arc::clone(&self.cache.refreshing).try_lock_owned() else {
            return;
        };
        tracing::debug!("bol's signature keys are old: reading them again in the background");
        drop(self.spawn_read(client.clone(), refreshing));
    }

    /// Verifies a delivery and reads its event; see the [module](self) for the order of the
    /// checks. `body` is the raw body as received, `now` the receiver's clock. Runs on a
    /// Tokio runtime (a read of the keys is a task of its own); cancel-safe: dropping the
    /// future leaves a read of the keys under way to finish and be kept.
    pub async fn verify(
        &self,
        body: &[u8],
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<Delivery, PushRefusal> {
        if body.len() > MAX_BODY {
            return Err(PushRefusal::TooLarge);
        }
        let header = signature_header(headers)?;
        if !header.algorithm.eq_ignore_ascii_case(ALGORITHM) {
            return Err(PushRefusal::UnsupportedAlgorithm(shown(&header.algorithm)));
        }
        let key = self.key(&header.key_id).await?;
        if !key.is_rsa() {
            return Err(PushRefusal::UnknownKey(format!(
                "{} (a key of type {}: only RSA keys verify)",
                shown(&key.id),
                shown(&key.key_type)
            )));
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.public_key)
            .verify(body, &header.signature)
            .map_err(|_| PushRefusal::BadSignature)?;
        // Signed by bol: only now is the body read.
        let delivery = parse_delivery(body, header.key_id)?;
        let age = now.signed_duration_since(delivery.timestamp);
        let max_age = chrono::Duration::from_std(self.max_age).unwrap_or(chrono::Duration::MAX);
        if age > max_age {
            return Err(PushRefusal::Stale {
                age_secs: age.num_seconds(),
            });
        }
        let ahead = -age;
        if ahead > chrono::Duration::from_std(MAX_AHEAD).unwrap_or(chrono::Duration::MAX) {
            return Err(PushRefusal::FromTheFuture {
                ahead_secs: ahead.num_seconds(),
            });
        }
        Ok(delivery)
    }
}

/// The signature header of a delivery: `Signature`, or `X-BOL-Signature` when that is
/// absent; sent more than once, or not text, it is refused.
fn signature_header(headers: &HeaderMap) -> Result<SignatureHeader, PushRefusal> {
    for name in [SIGNATURE_HEADER, ALT_SIGNATURE_HEADER] {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(PushRefusal::MalformedSignature(format!(
                "{name} is sent more than once"
            )));
        }
        let text = value
            .to_str()
            .map_err(|_| PushRefusal::MalformedSignature(format!("{name} is not ASCII text")))?;
        return text.parse();
    }
    Err(PushRefusal::NoSignature)
}

/// What a process status came to, as a push says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// `SUCCESS`.
    Success,
    /// `FAILURE`.
    Failure,
    /// `TIMEOUT`.
    Timeout,
    /// Another type, as sent.
    Other(String),
}

impl ProcessOutcome {
    /// The type as bol sends it.
    pub fn as_str(&self) -> &str {
        match self {
            ProcessOutcome::Success => "SUCCESS",
            ProcessOutcome::Failure => "FAILURE",
            ProcessOutcome::Timeout => "TIMEOUT",
            ProcessOutcome::Other(s) => s,
        }
    }

    fn of(kind: &str) -> Self {
        match kind {
            "SUCCESS" => ProcessOutcome::Success,
            "FAILURE" => ProcessOutcome::Failure,
            "TIMEOUT" => ProcessOutcome::Timeout,
            other => ProcessOutcome::Other(other.to_owned()),
        }
    }
}

/// The event of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `ORDER` / `ORDER_CREATED`: a new order.
    OrderCreated {
        /// The order's id.
        order_id: String,
    },
    /// `ORDER` / `ORDER_ITEM_CANCELLATION_REQUEST`: the buyer asks to cancel.
    CancellationRequest {
        /// The order's id.
        order_id: String,
    },
    /// `PROCESS_STATUS`: a process status became final.
    ProcessStatus {
        /// The process status id.
        id: String,
        /// What it came to.
        state: ProcessOutcome,
    },
    /// `SHIPMENT` / `UPDATE_TRANSPORT_EVENT`: a shipment's transport changed.
    ShipmentUpdate {
        /// The shipment's id.
        shipment_id: String,
    },
    /// `TEST`: bol's test push ([`RetailerClient::test_subscription`]).
    Test,
    /// Anything else (another resource or type, or a known one without its id), as sent.
    Other {
        /// The resource.
        resource: String,
        /// The type.
        kind: String,
        /// The resource id, if any.
        resource_id: Option<String>,
    },
}

/// A verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `"bol:"` and the SHA-256 of the body in hex: a re-delivery of the same body has the
    /// same id.
    pub id: String,
    /// bol's `retailerId`, as text.
    pub retailer_id: Option<String>,
    /// When bol says the event happened.
    pub timestamp: DateTime<FixedOffset>,
    /// The event's resource, as sent (`ORDER`).
    pub resource: String,
    /// The event's type, as sent (`ORDER_CREATED`).
    pub kind: String,
    /// The event's resource id, as text.
    pub resource_id: Option<String>,
    /// The event, typed.
    pub event: PushEvent,
    /// The id of the key that signed it.
    pub key_id: String,
}

impl Delivery {
    /// `"<resource>:<type>"` as bol sent them (`ORDER:ORDER_CREATED`).
    pub fn event_kind(&self) -> String {
        format!("{}:{}", self.resource, self.kind)
    }

    /// The event as the order flow takes it: a new order, a change to an order (a
    /// cancellation request), a process status; the rest as `Other` with
    /// [`event_kind`](Self::event_kind).
    pub fn channel_event(&self) -> ChannelEvent {
        match &self.event {
            PushEvent::OrderCreated { order_id } => ChannelEvent::NewOrder {
                order_id: order_id.clone(),
            },
            PushEvent::CancellationRequest { order_id } => ChannelEvent::OrderChanged {
                order_id: order_id.clone(),
            },
            PushEvent::ProcessStatus { id, state } => ChannelEvent::ProcessStatus {
                id: id.clone(),
                state: Some(state.as_str().to_owned()),
            },
            PushEvent::ShipmentUpdate { .. } | PushEvent::Test | PushEvent::Other { .. } => {
                ChannelEvent::Other {
                    kind: self.event_kind(),
                }
            }
        }
    }
}

/// A text or number as text (ids are either); anything else, or an empty text, is `None`.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The delivery of a body whose signature verified.
fn parse_delivery(body: &[u8], key_id: String) -> Result<Delivery, PushRefusal> {
    let malformed = |why: String| PushRefusal::Malformed(why);
    let value: Value = serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let object: &Map<String, Value> = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object".into()))?;
    let event = object
        .get("event")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no event".into()))?;
    let resource =
        text_of(event.get("resource")).ok_or_else(|| malformed("the event has no resource".into()))?;
    let kind = text_of(event.get("type")).ok_or_else(|| malformed("the event has no type".into()))?;
    let resource_id = text_of(event.get("resourceId"));
    let timestamp = object
        .get("timestamp")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no timestamp".into()))?;
    let timestamp = DateTime::parse_from_rfc3339(timestamp.trim()).map_err(|e| {
        malformed(format!(
            "the timestamp {} is not RFC 3339 ({e})",
            shown(timestamp)
        ))
    })?;
    let event = match (resource.as_str(), kind.as_str(), resource_id.clone()) {
        ("ORDER", "ORDER_CREATED", Some(order_id)) => PushEvent::OrderCreated { order_id },
        ("ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", Some(order_id)) => {
            PushEvent::CancellationRequest { order_id }
        }
        ("PROCESS_STATUS", state, Some(id)) => PushEvent::ProcessStatus {
            id,
            state: ProcessOutcome::of(state),
        },
        ("SHIPMENT", "UPDATE_TRANSPORT_EVENT", Some(shipment_id)) => {
            PushEvent::ShipmentUpdate { shipment_id }
        }
        ("TEST", _, _) => PushEvent::Test,
        _ => PushEvent::Other {
            resource: resource.clone(),
            kind: kind.clone(),
            resource_id: resource_id.clone(),
        },
    };
    Ok(Delivery {
        id: delivery_id(body),
        retailer_id: text_of(object.get("retailerId")),
        timestamp,
        resource,
        kind,
        resource_id,
        event,
        key_id,
    })
}

/// `"bol:"` and the SHA-256 of `body` in lower-case hex.
pub fn delivery_id(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let mut id = String::with_capacity(4 + 64);
    id.push_str("bol:");
    for byte in digest.as_ref() {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// A push subscription as bol lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// bol's subscription id.
    pub id: String,
    /// The resources it sends (`ORDER`, `PROCESS_STATUS`, …).
    pub resources: Vec<String>,
    /// Where it sends them (a URL for `WEBHOOK`).
    pub url: String,
    /// `WEBHOOK`, `GCP_PUBSUB` or `AWS_SQS`.
    pub subscription_type: String,
    /// Whether bol sends (bol disables a subscription whose deliveries fail for ten
    /// minutes; absent means enabled, bol's default).
    pub enabled: bool,
}

impl Subscription {
    fn of(s: &SubscriptionResponse) -> Self {
        Subscription {
            id: s.id.trim().to_owned(),
            resources: s.resources.iter().map(|r| r.as_str().to_owned()).collect(),
            url: s.url.trim().to_owned(),
            subscription_type: s.subscription_type.as_str().to_owned(),
            enabled: s.enabled.unwrap_or(true),
        }
    }

    fn is_webhook(&self) -> bool {
        self.subscription_type == "WEBHOOK"
    }
}

/// The push URL, checked before anything is sent: `https://`, or `http://` to a loopback
/// host only (commerce-core's rule for every URL of the workspace).
fn push_url(url: &str) -> Result<String, Error> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::invalid("url", "a push URL is required"));
    }
    commerce_core::secure_url(url).map_err(|e| match e {
        Error::Config { message } => Error::invalid("url", message),
        other => other,
    })?;
    Ok(url.to_owned())
}

/// The resources, checked before anything is sent: at least one, each a name bol could
/// know (upper-case letters and `_`); duplicates sent once.
fn push_resources(resources: &[SubscriptionResource]) -> Result<Vec<SubscriptionResource>, Error> {
    if resources.is_empty() {
        return Err(Error::invalid("resources", "at least one resource is required"));
    }
    let mut out: Vec<SubscriptionResource> = Vec::new();
    for r in resources {
        let name = r.as_str();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return Err(Error::invalid(
                "resources",
                format!(
                    "{} is not a resource name (ORDER, PROCESS_STATUS, SHIPMENT, …)",
                    shown(name)
                ),
            ));
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

fn required_id(id: &str) -> Result<&str, Error> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid("subscription_id", "a subscription id is required"));
    }
    Ok(id)
}

/// # Push subscriptions
impl RetailerClient {
    /// Every push subscription bol has for this retailer
    /// (`GET /retailer/subscriptions`).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let answer = self.get_push_notification_subscriptions().await?;
        Ok(answer.subscriptions.iter().map(Subscription::of).collect())
    }

    /// Makes bol push `resources` to `url` as a `WEBHOOK`, enabled: updates
    /// (`PUT /retailer/subscriptions/{id}`) the subscription already pointing at `url` (bol
    /// disables a subscription whose deliveries fail; this enables it again); when none
    /// does, creates one (`POST /retailer/subscriptions`). A subscription pointing
    /// elsewhere (another tool's webhook, or this shop's old URL) is never changed: remove
    /// one no longer wanted with [`unsubscribe`](Self::unsubscribe). Waits for bol's process status and returns the
    /// subscription as bol then lists it.
    ///
    /// The URL (`https://`, or `http://` to a loopback host only) and the resources (at
    /// least one) are checked before anything is sent ([`Error::InvalidInput`]). The create
    /// is never re-sent: after a lost answer ([`Error::is_unconfirmed`]) the subscriptions
    /// are listed, and one pointing at `url` is the create's; if there is none, the error is
    /// returned (calling again then creates it).
    pub async fn subscribe(
        &self,
        url: &str,
        resources: &[SubscriptionResource],
    ) -> Result<Subscription, Error> {
        let url = push_url(url)?;
        let resources = push_resources(resources)?;
        let request = SubscriptionRequest {
            enabled: Some(true),
            identity: None,
            resources,
            subscription_type: SubscriptionRequestSubscriptionType::Webhook,
            url: url.clone(),
        };
        let existing = self.subscriptions().await?;
        let target = existing.iter().find(|s| s.is_webhook() && s.url == url);
        let id = match target {
            Some(current) => {
                let started = self
                    .put_push_notification_subscription(&current.id, &request)
                    .await?;
                self.wait_for_success(&started, WaitOptions::default()).await?;
                Some(current.id.clone())
            }
            None => match self.post_push_notification_subscription(&request).await {
                Ok(started) => {
                    let done = self.wait_for_success(&started, WaitOptions::default()).await?;
                    done.entity_id.or(started.entity_id)
                }
                Err(e) if e.is_unconfirmed() => {
                    // It may have arrived: look before anyone creates it again.
                    let now = self.subscriptions().await?;
                    return now.into_iter().find(|s| s.url == url).ok_or(e);
                }
                Err(e) => return Err(e),
            },
        };
        let listed = self.subscriptions().await?;
        listed
            .iter()
            .find(|s| id.as_deref().is_some_and(|id| s.id == id))
            .or_else(|| listed.iter().find(|s| s.url == url))
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(PROVIDER.name, "get-push-notification-subscriptions", 200)
                    .with_message(format!(
                        "the subscription for {url} is not listed after bol reported it done"
                    ))
                    .into()
            })
    }

    /// Asks bol to send its test push to the subscription
    /// (`POST /retailer/subscriptions/test/{id}`) and waits for the process status.
    pub async fn test_subscription(&self, id: &str) -> Result<(), Error> {
        let id = required_id(id)?;
        let started = self.post_test_push_notification(id).await?;
        self.settle_one(started).await
    }

    /// Deletes the subscription (`DELETE /retailer/subscriptions/{id}`) and waits for the
    /// process status.
    pub async fn unsubscribe(&self, id: &str) -> Result<(), Error> {
        let id = required_id(id)?;
        let started = self.delete_push_notification_subscription(id).await?;
        self.settle_one(started).await
    }

    async fn settle_one(&self, started: ProcessStatus) -> Result<(), Error> {
        self.wait_for_success(&started, WaitOptions::default())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_tolerantly() {
        let h: SignatureHeader = r#"keyId=0, algorithm="rsa-sha256", signature=AAEC"#.parse().unwrap();
        assert_eq!(h.key_id, "0");
        assert_eq!(h.algorithm, "rsa-sha256");
        assert_eq!(h.signature, vec![0, 1, 2]);
        let h: SignatureHeader = r#"signature="AAEC",ALGORITHM=RSA-SHA256 ,extra=1,keyid="k 1""#
            .parse()
            .unwrap();
        assert_eq!((h.key_id.as_str(), h.algorithm.as_str()), ("k 1", "RSA-SHA256"));
        assert_eq!(h.signature, vec![0, 1, 2]);
        // Padding kept or not, URL-safe or not.
        let h: SignatureHeader = "keyId=1,algorithm=rsa-sha256,signature=_-8=".parse().unwrap();
        assert_eq!(h.signature, vec![0xff, 0xef]);
    }

    #[test]
    fn a_garbled_header_says_why() {
        let err = |s: &str| s.parse::<SignatureHeader>().unwrap_err().to_string();
        assert!(err("keyId=0, algorithm=rsa-sha256").contains("no signature"));
        assert!(err("algorithm=rsa-sha256, signature=AAEC").contains("no keyId"));
        assert!(err("keyId=0, signature=AAEC").contains("no algorithm"));
        assert!(err("keyId=0, keyId=1, algorithm=rsa-sha256, signature=AAEC").contains("twice"));
        assert!(err("keyId=0, algorithm=rsa-sha256, signature=!!!").contains("not Base64"));
        assert!(err("garbage").contains("not name=value"));
    }

    #[test]
    fn untrusted_text_is_shortened_and_escaped() {
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 65);
    }

    #[test]
    fn the_id_is_the_sha256_of_the_body() {
        assert_eq!(
            delivery_id(b"abc"),
            "bol:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
