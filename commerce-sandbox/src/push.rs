//! bol's push notifications (Retailer API v10 "Subscriptions"): subscriptions as state
//! (`GET`/`POST /retailer/subscriptions`, `GET`/`PUT`/`DELETE
//! /retailer/subscriptions/{id}`, `POST /retailer/subscriptions/test/{id}`, each change a
//! `202` and a process status, applied when it succeeds), the signature keys
//! (`GET /retailer/subscriptions/signature-keys`, 10 calls an hour), and the deliveries:
//! every event goes to each enabled WEBHOOK subscription of its resource as
//! `{"retailerId", "timestamp", "event": {"resource", "type", "resourceId"}}`, signed with
//! RSA-SHA256 (PKCS#1 v1.5) over the exact body in a `Signature: keyId=…,
//! algorithm="rsa-sha256", signature=…` header, retried 10 times over 10 minutes when not
//! answered 2xx within 5 s, then the subscription is disabled. In a test mode, forged
//! deliveries follow the real ones.
//!
//! What bol documents: the request and response shapes (OpenAPI v10), that a key's id "maps
//! to the keyId value in the signature header"; the payload and its example timestamp
//! `2020-02-02T23:23:23+01:00` (the v7 functional docs,
//! <https://api.bol.com/retailer/public/Retailer-API/v7/functional/retailer-api/subscriptions.html>);
//! "we will retry delivery 10 times over a period of 10 minutes. Should the destination of
//! the subscription be unreachable for that time frame, we will automatically disable the
//! subscription" (the v10 functional docs,
//! <https://api.bol.com/retailer/public/Retailer-API/v10/functional/retailer-api/subscriptions.html>);
//! only https webhooks (the v6 docs: "we only accept webhooks that are registered on an https
//! domain"; the sandbox also takes http to a loopback host, for local tests). Inferred from
//! third parties, and as unfriendly as they report: the header's layout (as the public PHP
//! client rojtjo/bol-api-client parses it in `src/Secure/SignatureHeader.php`:
//! `keyId=0, algorithm="rsa-sha256", signature=…`), the 5-second answer limit, the 10 key
//! calls an hour, no ordering.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{Shared, Window};

/// The `retailerId` of the sandbox's shop in its push notifications.
pub const SANDBOX_RETAILER_ID: u64 = 1_234_567;

/// The name of the header that carries a delivery's signature.
pub const SIGNATURE_HEADER: &str = "signature";

/// The waits before each of the 10 retries of a delivery not answered 2xx: 10 minutes in
/// all, as bol retries (third-party reports: "about ten times over ten minutes"). Divided
/// by [`Config::push_retry_scale`](crate::Config::push_retry_scale).
pub const RETRY_DELAYS_SECS: [u64; 10] = [15, 20, 30, 40, 50, 60, 70, 85, 110, 120];

/// Every resource of bol's `SubscriptionRequest`.
const RESOURCES: [&str; 7] = [
    "PROCESS_STATUS",
    "SHIPMENT",
    "PRICE_STAR_BOUNDARY",
    "COMPETING_OFFER",
    "OFFER_FOR_SALE",
    "OFFER_NOT_FOR_SALE",
    "ORDER",
];

/// The resources bol delivers by webhook (its v11 documentation: the price and offer events
/// come by Pub/Sub or SQS only; the v10 description: "some event types are only available
/// for certain subscription types").
const WEBHOOK_RESOURCES: [&str; 3] = ["PROCESS_STATUS", "SHIPMENT", "ORDER"];

const SUBSCRIPTION_TYPES: [&str; 3] = ["WEBHOOK", "GCP_PUBSUB", "AWS_SQS"];

/// How many signature-key calls bol allows a credential in an hour (third-party reports).
pub const SIGNATURE_KEY_CALLS_PER_HOUR: usize = 10;

/// The kinds of forged deliveries the sandbox sends with `Config::push_forged`, in the
/// order it cycles through them (the names in [`PushReport::forged_by_kind`]).
pub const FORGED_KINDS: [&str; 7] = [
    "other_key",
    "unknown_key_id",
    "tampered_body",
    "no_signature",
    "garbled_header",
    "stale",
    "duplicate",
];

/// What the sandbox's bol did with push notifications. Forged deliveries name order ids the
/// sandbox never made (starting with 9); `forged_acted_upon` counts later calls that name
/// one (must stay 0), `forged_acknowledged` the forged deliveries answered 2xx (must stay
/// 0; a stale one, bol's own signature over an old body, may be answered 2xx and is counted
/// apart); re-deliveries of a real delivery (`duplicates_*`) must be acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// Subscriptions bol has now.
    pub subscriptions: u64,
    /// Of those, enabled.
    pub enabled_subscriptions: u64,
    /// Events raised while a subscription existed, by `RESOURCE:TYPE`.
    pub events: BTreeMap<String, u64>,
    /// Deliveries (one event to one subscription).
    pub deliveries: u64,
    /// POSTs of those deliveries, first attempts and retries.
    pub attempts: u64,
    /// Deliveries answered 2xx in time.
    pub delivered: u64,
    /// Retries (attempts after one not answered 2xx in time).
    pub retried: u64,
    /// Deliveries given up: after the last retry, or when their subscription was disabled,
    /// changed or removed in the meantime.
    pub given_up: u64,
    /// Subscriptions disabled because a delivery failed through its last retry.
    pub subscriptions_disabled: u64,
    /// `GET /retailer/subscriptions/signature-keys` calls, answered or not.
    pub signature_key_requests: u64,
    /// Of those, answered 429 (over 10 an hour).
    pub signature_keys_rate_limited: u64,
    /// Signing keys rotated.
    pub key_rotations: u64,
    /// Forged deliveries sent (duplicates not included).
    pub forged_sent: u64,
    /// Forged deliveries and duplicates sent, by kind ([`FORGED_KINDS`]).
    pub forged_by_kind: BTreeMap<String, u64>,
    /// Forged deliveries answered 2xx (a stale one aside): must be 0.
    pub forged_acknowledged: u64,
    /// Stale deliveries (bol's own signature over an old body: a replay) answered 2xx: a
    /// receiver may answer them 2xx (refusing bol's own delivery only gets the subscription
    /// disabled) as long as it does not act on them (`forged_acted_upon`).
    #[serde(default)]
    pub stale_acknowledged: u64,
    /// Re-deliveries of an earlier real delivery sent.
    pub duplicates_sent: u64,
    /// Of those, answered 2xx (as they must be).
    pub duplicates_acknowledged: u64,
    /// API calls that named a resource only a forged delivery named: must be 0.
    pub forged_acted_upon: u64,
    /// The first of those calls, described.
    pub forged_acted_upon_samples: Vec<String>,
}

/// A subscription as bol keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub id: String,
    pub resources: Vec<String>,
    pub url: String,
    pub kind: String,
    pub enabled: bool,
    pub identity: Option<String>,
}

impl Subscription {
    /// bol's `SubscriptionResponse`.
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({"id": self.id, "resources": self.resources, "url": self.url,
                           "subscriptionType": self.kind, "enabled": self.enabled});
        if let Some(identity) = &self.identity {
            v["identity"] = json!(identity);
        }
        v
    }
}

/// A subscription change bol applies when its process status succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubscriptionChange {
    /// Created or replaced (`POST`, `PUT`).
    Put(Subscription),
    /// Removed.
    Delete(String),
    /// The test message to this subscription.
    Test(String),
}

/// Something that happened, to tell the subscribers of its resource.
#[derive(Debug, Clone)]
struct Event {
    resource: String,
    kind: String,
    resource_id: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
    /// Only to this subscription (the test message).
    only: Option<String>,
}

/// One delivery to make: a body to a subscription's URL, signed as `signing` says.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    subscription: String,
    url: String,
    body: String,
    signing: Signing,
}

/// How a delivery is signed.
#[derive(Debug, Clone)]
enum Signing {
    /// With bol's current key.
    Real,
    /// A forged delivery of one of [`FORGED_KINDS`] (an index), or a duplicate's header.
    Forged(usize),
    /// A re-delivery of an earlier real delivery: the same body, signed again (RSA PKCS#1
    /// v1.5 is deterministic: the same header, unless the key rotated in between).
    Again,
}

/// bol's push state, in the world (a reset forgets it).
pub(crate) struct PushState {
    pub subscriptions: BTreeMap<u64, Subscription>,
    next_subscription: u64,
    outbox: Vec<Event>,
    key_window: Window,
    forged_ids: HashSet<String>,
    next_forged: u64,
    forged_credit: f64,
    forged_turn: usize,
    /// The last real delivery (subscription, URL, body), to send again.
    last_real: Option<(String, String, String)>,
    pub report: PushReport,
    /// The shipments confirmed, numbered for their events.
    pub next_shipment: u64,
}

impl Default for PushState {
    fn default() -> Self {
        PushState {
            subscriptions: BTreeMap::new(),
            next_subscription: 1,
            outbox: Vec::new(),
            key_window: Window::new(SIGNATURE_KEY_CALLS_PER_HOUR, Duration::from_secs(3600)),
            forged_ids: HashSet::new(),
            next_forged: 1,
            forged_credit: 0.0,
            forged_turn: 0,
            last_real: None,
            report: PushReport::default(),
            next_shipment: 1_000_000_001,
        }
    }
}

impl PushState {
    /// The next subscription id.
    pub(crate) fn new_subscription_id(&mut self) -> String {
        let id = self.next_subscription;
        self.next_subscription += 1;
        id.to_string()
    }

    /// The id of the next shipment bol records.
    pub(crate) fn new_shipment_id(&mut self) -> String {
        let id = self.next_shipment;
        self.next_shipment += 1;
        id.to_string()
    }

    /// Whether some enabled subscription exists (the deliveries' clock runs).
    pub(crate) fn any_enabled(&self) -> bool {
        self.subscriptions.values().any(|s| s.enabled)
    }

    /// Something happened to `resource` (`ORDER`, `PROCESS_STATUS`, `SHIPMENT`): queued
    /// for the subscribers, if there are any.
    pub(crate) fn raise(&mut self, resource: &str, kind: &str, resource_id: Option<String>) {
        if self.subscriptions.is_empty() {
            return;
        }
        self.outbox.push(Event {
            resource: resource.to_owned(),
            kind: kind.to_owned(),
            resource_id,
            at: crate::clock_at(Instant::now()),
            only: None,
        });
    }

    /// Applies a subscription change whose process succeeded. True when a subscription
    /// became enabled (the deliveries' clock starts).
    pub(crate) fn apply(&mut self, change: SubscriptionChange) -> bool {
        match change {
            SubscriptionChange::Put(sub) => {
                let Ok(n) = sub.id.parse::<u64>() else {
                    return false;
                };
                let enabled = sub.enabled;
                self.subscriptions.insert(n, sub);
                enabled
            }
            SubscriptionChange::Delete(id) => {
                if let Ok(n) = id.parse::<u64>() {
                    self.subscriptions.remove(&n);
                }
                false
            }
            SubscriptionChange::Test(id) => {
                if self.subscription(&id).is_some() {
                    self.outbox.push(Event {
                        resource: "TEST".into(),
                        kind: "TEST".into(),
                        resource_id: None,
                        at: crate::clock_at(Instant::now()),
                        only: Some(id),
                    });
                }
                false
            }
        }
    }

    /// The subscription of this id.
    pub(crate) fn subscription(&self, id: &str) -> Option<&Subscription> {
        id.parse::<u64>().ok().and_then(|n| self.subscriptions.get(&n))
    }

    /// Whether a delivery to `subscription` at `url` still goes out: it is there, enabled,
    /// and still points at `url`.
    fn live(&self, subscription: &str, url: &str) -> bool {
        self.subscription(subscription)
            .is_some_and(|s| s.enabled && s.url == url && s.kind == "WEBHOOK")
    }

    /// A forged order id: one the sandbox never made.
    fn forged_id(&mut self) -> String {
        let id = format!("9{:09}", self.next_forged);
        self.next_forged += 1;
        self.forged_ids.insert(id.clone());
        id
    }

    /// Turns the queued events into deliveries (and, with `forged_share`, forged ones).
    fn take_jobs(&mut self, forged_share: f64) -> Vec<Job> {
        let events = std::mem::take(&mut self.outbox);
        let mut jobs = Vec::new();
        for event in events {
            let subscribers: Vec<(String, String)> = self
                .subscriptions
                .values()
                .filter(|s| s.enabled && s.kind == "WEBHOOK")
                .filter(|s| match &event.only {
                    Some(only) => &s.id == only,
                    None => s.resources.contains(&event.resource),
                })
                .map(|s| (s.id.clone(), s.url.clone()))
                .collect();
            if subscribers.is_empty() {
                continue;
            }
            *self
                .report
                .events
                .entry(format!("{}:{}", event.resource, event.kind))
                .or_default() += 1;
            let text = body(
                &event.resource,
                &event.kind,
                event.resource_id.as_deref(),
                event.at,
            );
            for (subscription, url) in subscribers {
                self.report.deliveries += 1;
                let previous = self
                    .last_real
                    .replace((subscription.clone(), url.clone(), text.clone()));
                jobs.push(Job {
                    subscription: subscription.clone(),
                    url: url.clone(),
                    body: text.clone(),
                    signing: Signing::Real,
                });
                if forged_share <= 0.0 {
                    continue;
                }
                self.forged_credit += forged_share;
                if self.forged_credit + 1e-9 < 1.0 {
                    continue;
                }
                self.forged_credit -= 1.0;
                let kind = self.forged_turn % FORGED_KINDS.len();
                self.forged_turn += 1;
                let job = if FORGED_KINDS[kind] == "duplicate" {
                    // The real delivery before this one (or, the first time, this one).
                    let (subscription, url, body) = previous.unwrap_or((subscription, url, text.clone()));
                    Job {
                        subscription,
                        url,
                        body,
                        signing: Signing::Again,
                    }
                } else {
                    let at = if FORGED_KINDS[kind] == "stale" {
                        crate::clock_at(Instant::now()) - chrono::Duration::hours(2)
                    } else {
                        crate::clock_at(Instant::now())
                    };
                    let order = self.forged_id();
                    Job {
                        subscription,
                        url,
                        body: body("ORDER", "ORDER_CREATED", Some(&order), at),
                        signing: Signing::Forged(kind),
                    }
                };
                *self
                    .report
                    .forged_by_kind
                    .entry(FORGED_KINDS[kind].to_owned())
                    .or_default() += 1;
                jobs.push(job);
            }
        }
        jobs
    }

    /// Whether a call names a resource only forged deliveries named: its path segments,
    /// query values or body.
    fn names_forged(&self, segments: &[&str], query: &[&String], body: &[u8]) -> Option<String> {
        if self.forged_ids.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(body);
        self.forged_ids
            .iter()
            .find(|id| {
                segments.iter().any(|s| s == id)
                    || query.iter().any(|q| q == id)
                    || text.contains(id.as_str())
            })
            .cloned()
    }
}

/// The delivery body, in bol's field order: `{"retailerId", "timestamp", "event":
/// {"resource", "type", "resourceId"}}` (bol's v7 functional docs; `resourceId` left out
/// when there is none, as for the test message), the timestamp in bol's zone
/// (Europe/Amsterdam) to the second, as bol's example (`2020-02-02T23:23:23+01:00`).
fn body(resource: &str, kind: &str, resource_id: Option<&str>, at: chrono::DateTime<chrono::Utc>) -> String {
    let text = |s: &str| Value::from(s).to_string();
    let id = resource_id.map_or_else(String::new, |id| format!(",\"resourceId\":{}", text(id)));
    format!(
        "{{\"retailerId\":{SANDBOX_RETAILER_ID},\"timestamp\":{},\"event\":{{\"resource\":{},\"type\":{}{id}}}}}",
        text(&crate::world::amsterdam(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
        text(resource),
        text(kind),
    )
}

/// A signing key of bol's, with its id.
struct SigningKey {
    id: String,
    pair: KeyPair,
}

/// bol's signing keys (the last one signs) and a key of the forger's, made when first
/// needed (an RSA-2048 key takes a moment to make).
pub(crate) struct Keys {
    signing: Vec<SigningKey>,
    forger: KeyPair,
}

fn generate() -> KeyPair {
    KeyPair::generate(KeySize::Rsa2048).expect("aws-lc-rs makes an RSA-2048 key")
}

/// RSA PKCS#1 v1.5 with SHA-256 over `body`.
fn sign(pair: &KeyPair, body: &[u8]) -> Vec<u8> {
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        body,
        &mut signature,
    )
    .expect("aws-lc-rs signs with the key it made");
    signature
}

/// The `Signature` header's value.
fn header(key_id: &str, signature: &[u8]) -> String {
    format!(
        "keyId={key_id}, algorithm=\"rsa-sha256\", signature={}",
        STANDARD.encode(signature)
    )
}

impl Keys {
    fn new() -> Self {
        Keys {
            signing: vec![SigningKey {
                id: "0".into(),
                pair: generate(),
            }],
            forger: generate(),
        }
    }

    fn current(&self) -> &SigningKey {
        self.signing.last().expect("one key at least")
    }

    /// bol's `KeySetResponse`: every key, the DER `SubjectPublicKeyInfo` in Base64.
    fn json(&self) -> Value {
        let keys: Vec<Value> = self
            .signing
            .iter()
            .map(|k| {
                let der = k
                    .pair
                    .public_key()
                    .as_der()
                    .expect("aws-lc-rs encodes its public key");
                json!({"id": k.id, "type": "RSA", "publicKey": STANDARD.encode(der.as_ref())})
            })
            .collect();
        json!({"signatureKeys": keys})
    }

    /// A new key signs from now on; the old ones stay listed.
    fn rotate(&mut self) -> String {
        let id = self.signing.len().to_string();
        self.signing.push(SigningKey {
            id: id.clone(),
            pair: generate(),
        });
        id
    }

    /// The `Signature` header of a real delivery.
    fn real_header(&self, body: &str) -> String {
        let key = self.current();
        header(&key.id, &sign(&key.pair, body.as_bytes()))
    }

    /// A forged delivery of kind `kind`: the body sent and its `Signature` header, if any.
    fn forge(&self, kind: usize, body: &str, tamper_with: &str) -> (String, Option<String>) {
        let real = self.current();
        match FORGED_KINDS[kind] {
            // Signed by another key, under the real key's id.
            "other_key" => (
                body.to_owned(),
                Some(header(&real.id, &sign(&self.forger, body.as_bytes()))),
            ),
            // A key id bol never listed.
            "unknown_key_id" => (
                body.to_owned(),
                Some(header("forged-7", &sign(&self.forger, body.as_bytes()))),
            ),
            // The real signature of the body, then the body changed.
            "tampered_body" => {
                let header = self.real_header(body);
                let changed = body.replacen(tamper_with, &format!("{tamper_with}1"), 1);
                (changed, Some(header))
            }
            "no_signature" => (body.to_owned(), None),
            "garbled_header" => (
                body.to_owned(),
                Some(format!(
                    "keyId={}, algorithm=\"rsa-sha256\", signature=%%not*base64%%",
                    real.id
                )),
            ),
            // Correctly signed, two hours old.
            _ => (body.to_owned(), Some(self.real_header(body))),
        }
    }
}

/// The keys' lock, the keys made on first use.
fn keys(s: &Shared) -> MutexGuard<'_, Keys> {
    let keys = s.keys.get_or_init(|| Mutex::new(Keys::new()));
    keys.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new signing key (id `1`, then `2`, …): deliveries are signed with it from now on, the
/// old keys stay listed.
pub(crate) fn rotate(s: &Shared) -> String {
    let id = keys(s).rotate();
    s.world().push.report.key_rotations += 1;
    id
}

/// `GET /retailer/subscriptions/signature-keys`: 10 calls an hour per credential, the 11th
/// a 429 with `Retry-After` until the oldest call leaves the hour.
pub(crate) fn signature_keys(s: &Shared) -> Result<Value, Duration> {
    {
        let mut w = s.world();
        w.push.report.signature_key_requests += 1;
        if let Err(wait) = w.push.key_window.admit(Instant::now()) {
            w.push.report.signature_keys_rate_limited += 1;
            return Err(wait);
        }
    }
    Ok(keys(s).json())
}

/// Whether forged deliveries were sent (calls are then checked for their ids).
pub(crate) fn any_forged(s: &Shared) -> bool {
    !s.world().push.forged_ids.is_empty()
}

/// Counts a call, to any provider, that names a resource only a forged delivery named: in
/// its path, its query or its body.
pub(crate) fn check_forged(s: &Shared, method: &str, path: &str, query: Option<&str>, body: &[u8]) {
    let segments: Vec<&str> = path.split('/').collect();
    let values: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect();
    let values: Vec<&String> = values.iter().collect();
    let mut w = s.world();
    if let Some(id) = w.push.names_forged(&segments, &values, body) {
        let r = &mut w.push.report;
        r.forged_acted_upon += 1;
        if r.forged_acted_upon_samples.len() < 20 {
            r.forged_acted_upon_samples.push(format!(
                "{method} {path} named {id}, which only a forged delivery named"
            ));
        }
    }
}

/// Sends the deliveries of the events queued so far, each in its own task (bol promises
/// no order).
pub(crate) fn dispatch(s: &Arc<Shared>) {
    // Outside a tokio runtime nothing can be sent: the events wait for the next request.
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let jobs = {
        let mut w = s.world();
        if w.push.outbox.is_empty() {
            return;
        }
        w.push.take_jobs(s.config.push_forged)
    };
    for job in jobs {
        let shared = s.clone();
        s.spawn(async move {
            match job.signing.clone() {
                Signing::Real => deliver(shared, job).await,
                Signing::Forged(kind) => forged(shared, job, kind).await,
                Signing::Again => again(shared, job).await,
            }
        });
    }
}

/// One POST of a delivery: whether it was answered 2xx within the limit.
async fn post(s: &Shared, url: &str, body: &str, signature: Option<&str>) -> bool {
    let mut request = s
        .push_client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    // Answered in time: the status line and the whole answer within the limit.
    let answer = tokio::time::timeout(s.config.push_answer_within, async {
        let response = request.send().await.ok()?;
        let ok = response.status().is_success();
        let _ = response.bytes().await;
        Some(ok)
    })
    .await;
    matches!(answer, Ok(Some(true)))
}

/// A real delivery: the first attempt, then up to 10 retries on bol's schedule (scaled),
/// then the subscription disabled.
async fn deliver(s: Arc<Shared>, job: Job) {
    let signature = keys(&s).real_header(&job.body);
    let scale = s.config.push_retry_scale.max(f64::MIN_POSITIVE);
    for attempt in 0..=RETRY_DELAYS_SECS.len() {
        if attempt > 0 {
            let wait = Duration::from_secs(RETRY_DELAYS_SECS[attempt - 1]).div_f64(scale);
            tokio::time::sleep(wait).await;
        }
        {
            let mut w = s.world();
            if !w.push.live(&job.subscription, &job.url) {
                w.push.report.given_up += 1;
                return;
            }
            w.push.report.attempts += 1;
            if attempt > 0 {
                w.push.report.retried += 1;
            }
        }
        if post(&s, &job.url, &job.body, Some(&signature)).await {
            s.world().push.report.delivered += 1;
            return;
        }
    }
    let mut w = s.world();
    w.push.report.given_up += 1;
    if let Ok(n) = job.subscription.parse::<u64>()
        && let Some(sub) = w.push.subscriptions.get_mut(&n)
        && sub.enabled
        && sub.url == job.url
    {
        sub.enabled = false;
        w.push.report.subscriptions_disabled += 1;
    }
}

/// A forged delivery: sent once, as an attacker would.
async fn forged(s: Arc<Shared>, job: Job, kind: usize) {
    let order = serde_json::from_str::<Value>(&job.body)
        .ok()
        .and_then(|v| v["event"]["resourceId"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let (body, signature) = keys(&s).forge(kind, &job.body, &order);
    if FORGED_KINDS[kind] == "tampered_body" {
        // The changed body names an order id the sandbox never made either.
        s.world().push.forged_ids.insert(format!("{order}1"));
    }
    s.world().push.report.forged_sent += 1;
    if post(&s, &job.url, &body, signature.as_deref()).await {
        let report = &mut s.world().push.report;
        if FORGED_KINDS[kind] == "stale" {
            report.stale_acknowledged += 1;
        } else {
            report.forged_acknowledged += 1;
        }
    }
}

/// A re-delivery of an earlier real delivery: the same body, the same header.
async fn again(s: Arc<Shared>, job: Job) {
    let signature = keys(&s).real_header(&job.body);
    s.world().push.report.duplicates_sent += 1;
    if post(&s, &job.url, &job.body, Some(&signature)).await {
        s.world().push.report.duplicates_acknowledged += 1;
    }
}

/// Whether `url` may receive webhooks: https, or http to a loopback host only.
fn webhook_url_ok(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("'{url}' has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!("'{url}' is plain http: a webhook URL must be https")),
        other => Err(format!("'{url}': the scheme {other} is not https")),
    }
}

/// A `SubscriptionRequest` read as bol's description says, or its violations.
pub(crate) fn subscription_request(body: &[u8], id: String) -> Result<Subscription, Vec<(String, String)>> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Err(vec![("body".into(), "The body is not a JSON object.".into())]);
    };
    let mut bad: Vec<(String, String)> = Vec::new();
    let kind = match request.get("subscriptionType") {
        None | Some(Value::Null) => {
            bad.push(("subscriptionType".into(), "Must not be null.".into()));
            None
        }
        Some(Value::String(k)) if SUBSCRIPTION_TYPES.contains(&k.as_str()) => Some(k.clone()),
        Some(other) => {
            bad.push((
                "subscriptionType".into(),
                format!(
                    "Request contains invalid value(s): '{}', allowed values: {}.",
                    other.as_str().map_or_else(|| other.to_string(), str::to_owned),
                    SUBSCRIPTION_TYPES.join(", ")
                ),
            ));
            None
        }
    };
    let resources = match request.get("resources") {
        None | Some(Value::Null) => {
            bad.push(("resources".into(), "Must not be null.".into()));
            None
        }
        Some(Value::Array(list)) if list.is_empty() => {
            bad.push(("resources".into(), "Size must be at least 1.".into()));
            None
        }
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for (i, r) in list.iter().enumerate() {
                match r.as_str() {
                    Some(r) if RESOURCES.contains(&r) => {
                        if kind.as_deref() == Some("WEBHOOK") && !WEBHOOK_RESOURCES.contains(&r) {
                            bad.push((
                                format!("resources[{i}]"),
                                format!(
                                    "{r} is not available for WEBHOOK subscriptions (allowed: {}).",
                                    WEBHOOK_RESOURCES.join(", ")
                                ),
                            ));
                        } else if !out.iter().any(|seen: &String| seen == r) {
                            out.push(r.to_owned());
                        }
                    }
                    _ => bad.push((
                        format!("resources[{i}]"),
                        format!(
                            "Request contains invalid value(s): '{}', allowed values: {}.",
                            r.as_str().map_or_else(|| r.to_string(), str::to_owned),
                            RESOURCES.join(", ")
                        ),
                    )),
                }
            }
            Some(out)
        }
        Some(_) => {
            bad.push(("resources".into(), "Must be an array.".into()));
            None
        }
    };
    let url = match request.get("url") {
        None | Some(Value::Null) => {
            bad.push(("url".into(), "Must not be null.".into()));
            None
        }
        Some(Value::String(u)) if u.is_empty() => {
            bad.push(("url".into(), "Size must be at least 1.".into()));
            None
        }
        Some(Value::String(u)) => {
            if kind.as_deref() == Some("WEBHOOK")
                && let Err(why) = webhook_url_ok(u)
            {
                bad.push(("url".into(), why));
            }
            Some(u.clone())
        }
        Some(_) => {
            bad.push(("url".into(), "Must be a string.".into()));
            None
        }
    };
    let enabled = match request.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            bad.push((
                "enabled".into(),
                format!("Request contains invalid value(s): '{other}', allowed values: true, false."),
            ));
            true
        }
    };
    let identity = match request.get("identity") {
        None | Some(Value::Null) => None,
        Some(Value::String(i)) => Some(i.clone()),
        Some(_) => {
            bad.push(("identity".into(), "Must be a string.".into()));
            None
        }
    };
    if kind.as_deref() == Some("AWS_SQS") && !identity.as_deref().is_some_and(is_role_arn) {
        bad.push((
            "identity".into(),
            "Must be an AWS role ARN (arn:aws:iam::<account id>:role/<role name>) for AWS_SQS.".into(),
        ));
    }
    match (kind, resources, url) {
        (Some(kind), Some(resources), Some(url)) if bad.is_empty() => Ok(Subscription {
            id,
            resources,
            url,
            kind,
            enabled,
            identity,
        }),
        _ => Err(bad),
    }
}

/// `arn:aws:iam::<12 digits>:role/<name>`.
fn is_role_arn(s: &str) -> bool {
    s.strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":role/"))
        .is_some_and(|(account, role)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_https_or_loopback_http() {
        assert!(webhook_url_ok("https://shop.example/push/bol").is_ok());
        assert!(webhook_url_ok("http://127.0.0.1:8080/push/bol").is_ok());
        assert!(webhook_url_ok("http://[::1]:8080/push/bol").is_ok());
        assert!(webhook_url_ok("http://localhost/push/bol").is_ok());
        assert!(webhook_url_ok("http://shop.example/push/bol").is_err());
        assert!(webhook_url_ok("ftp://shop.example/").is_err());
        assert!(webhook_url_ok("not a url").is_err());
    }

    #[test]
    fn role_arns_are_checked() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/bol"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/bol"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/bol"));
    }

    #[test]
    fn a_body_is_bols_shape() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            body("ORDER", "ORDER_CREATED", Some("1043946570"), at),
            r#"{"retailerId":1234567,"timestamp":"2026-12-07T13:00:00+01:00","event":{"resource":"ORDER","type":"ORDER_CREATED","resourceId":"1043946570"}}"#
        );
        assert_eq!(
            body("TEST", "TEST", None, at),
            r#"{"retailerId":1234567,"timestamp":"2026-12-07T13:00:00+01:00","event":{"resource":"TEST","type":"TEST"}}"#
        );
    }
}
