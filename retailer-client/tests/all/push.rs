//! bol's push deliveries: verified before anything is read (the RSA signature over the raw
//! body, with keys generated here and one signed by openssl in the fixtures), each event
//! kind decoded, every forgery refused with its reason, the key cache refreshing once for an
//! unknown key (shared by concurrent callers) and not again within its interval.

use crate::support;

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use commerce_core::ChannelEvent;
use http::{HeaderMap, HeaderValue};
use httpmock::Method::GET;
use httpmock::MockServer;
use proptest::prelude::*;
use retailer_client::models::KeySetResponse;
use retailer_client::push::{self, MAX_BODY, signature_keys_of};
use retailer_client::{ProcessOutcome, PushEvent, PushKeys, PushRefusal, SignatureKey};
use serde_json::{Value, json};
use support::{client, setup};

const V10: &str = "application/vnd.retailer.v10+json";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Two RSA-2048 keys, generated once for the whole test binary.
fn pairs() -> &'static (KeyPair, KeyPair) {
    static PAIRS: OnceLock<(KeyPair, KeyPair)> = OnceLock::new();
    PAIRS.get_or_init(|| {
        (
            KeyPair::generate(KeySize::Rsa2048).unwrap(),
            KeyPair::generate(KeySize::Rsa2048).unwrap(),
        )
    })
}

fn bol_pair() -> &'static KeyPair {
    &pairs().0
}

fn other_pair() -> &'static KeyPair {
    &pairs().1
}

/// The public key as bol's endpoint would list it: SubjectPublicKeyInfo DER.
fn spki(pair: &KeyPair) -> Vec<u8> {
    let der: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
    der.as_ref().to_vec()
}

/// The public key as a PKCS#1 `RSAPublicKey`.
fn pkcs1(pair: &KeyPair) -> Vec<u8> {
    pair.public_key().as_ref().to_vec()
}

fn key(id: &str, der: Vec<u8>) -> SignatureKey {
    SignatureKey {
        id: id.into(),
        key_type: "RSA".into(),
        public_key: der,
    }
}

fn sign(pair: &KeyPair, body: &[u8]) -> String {
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut signature)
        .unwrap();
    STANDARD.encode(signature)
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    h
}

/// The header bol sends, `keyId=…, algorithm="rsa-sha256", signature=…`.
fn signed(pair: &KeyPair, key_id: &str, body: &[u8]) -> HeaderMap {
    headers(
        "Signature",
        &format!(
            r#"keyId={key_id}, algorithm="rsa-sha256", signature={}"#,
            sign(pair, body)
        ),
    )
}

/// The receiver's clock in these tests.
fn now() -> DateTime<Utc> {
    "2026-12-07T12:30:00Z".parse().unwrap()
}

/// A delivery as bol's v7 documentation shows it, dated a minute before [`now`].
fn body(resource: &str, kind: &str, resource_id: Value) -> Vec<u8> {
    json!({"retailerId": 1234567, "timestamp": "2026-12-07T13:29:00+01:00",
           "event": {"resource": resource, "type": kind, "resourceId": resource_id}})
    .to_string()
    .into_bytes()
}

fn fixed() -> PushKeys {
    PushKeys::fixed(vec![key("0", spki(bol_pair()))])
}

async fn verify(keys: &PushKeys, body: &[u8], headers: &HeaderMap) -> Result<push::Delivery, PushRefusal> {
    keys.verify(body, headers, now()).await
}

#[tokio::test]
async fn a_delivery_signed_by_openssl_verifies_with_the_listed_key() {
    let answer: KeySetResponse = serde_json::from_str(&fixture("signature-keys.json")).unwrap();
    let keys = PushKeys::fixed(signature_keys_of(&answer));
    let body = fixture("push-process-status.json");
    let header = fixture("push-process-status.signature");
    let at: DateTime<Utc> = "2026-12-07T12:25:00Z".parse().unwrap();
    let delivery = keys
        .verify(body.as_bytes(), &headers("signature", header.trim()), at)
        .await
        .unwrap();
    assert_eq!(
        delivery.event,
        PushEvent::ProcessStatus {
            id: "1234567".into(),
            state: ProcessOutcome::Success
        }
    );
    assert_eq!(delivery.retailer_id.as_deref(), Some("1234567"));
    assert_eq!(delivery.key_id, "0");
    assert_eq!(delivery.event_kind(), "PROCESS_STATUS:SUCCESS");
    assert_eq!(delivery.timestamp.to_rfc3339(), "2026-12-07T13:24:37+01:00");
    assert_eq!(delivery.id, push::delivery_id(body.as_bytes()));
    assert!(delivery.id.starts_with("bol:") && delivery.id.len() == 4 + 64);
    // One byte more (a newline a proxy added) and it is refused.
    let altered = format!("{body}\n");
    let err = keys
        .verify(altered.as_bytes(), &headers("signature", header.trim()), at)
        .await
        .unwrap_err();
    assert_eq!(err, PushRefusal::BadSignature);
}

#[tokio::test]
async fn every_event_kind_is_decoded() {
    let keys = fixed();
    let cases: Vec<(Vec<u8>, PushEvent, ChannelEvent)> = vec![
        (
            body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P")),
            PushEvent::OrderCreated {
                order_id: "A2K8MO0M5P".into(),
            },
            ChannelEvent::NewOrder {
                order_id: "A2K8MO0M5P".into(),
            },
        ),
        (
            body("ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", json!(1043965710)),
            PushEvent::CancellationRequest {
                order_id: "1043965710".into(),
            },
            ChannelEvent::OrderChanged {
                order_id: "1043965710".into(),
            },
        ),
        (
            body("PROCESS_STATUS", "FAILURE", json!("1234567")),
            PushEvent::ProcessStatus {
                id: "1234567".into(),
                state: ProcessOutcome::Failure,
            },
            ChannelEvent::ProcessStatus {
                id: "1234567".into(),
                state: Some("FAILURE".into()),
            },
        ),
        (
            body("PROCESS_STATUS", "TIMEOUT", json!(1234568)),
            PushEvent::ProcessStatus {
                id: "1234568".into(),
                state: ProcessOutcome::Timeout,
            },
            ChannelEvent::ProcessStatus {
                id: "1234568".into(),
                state: Some("TIMEOUT".into()),
            },
        ),
        (
            body("PROCESS_STATUS", "PARTIAL", json!("9")),
            PushEvent::ProcessStatus {
                id: "9".into(),
                state: ProcessOutcome::Other("PARTIAL".into()),
            },
            ChannelEvent::ProcessStatus {
                id: "9".into(),
                state: Some("PARTIAL".into()),
            },
        ),
        (
            body("SHIPMENT", "UPDATE_TRANSPORT_EVENT", json!("914587795")),
            PushEvent::ShipmentUpdate {
                shipment_id: "914587795".into(),
            },
            ChannelEvent::Other {
                kind: "SHIPMENT:UPDATE_TRANSPORT_EVENT".into(),
            },
        ),
        (
            body("TEST", "TEST", Value::Null),
            PushEvent::Test,
            ChannelEvent::Other {
                kind: "TEST:TEST".into(),
            },
        ),
        (
            body("OFFER_FOR_SALE", "OFFER_CHANGED", json!("13722de8")),
            PushEvent::Other {
                resource: "OFFER_FOR_SALE".into(),
                kind: "OFFER_CHANGED".into(),
                resource_id: Some("13722de8".into()),
            },
            ChannelEvent::Other {
                kind: "OFFER_FOR_SALE:OFFER_CHANGED".into(),
            },
        ),
        // A known kind without its id cannot be acted on: kept as "other", never guessed.
        (
            body("ORDER", "ORDER_CREATED", json!({"nested": 1})),
            PushEvent::Other {
                resource: "ORDER".into(),
                kind: "ORDER_CREATED".into(),
                resource_id: None,
            },
            ChannelEvent::Other {
                kind: "ORDER:ORDER_CREATED".into(),
            },
        ),
    ];
    for (body, event, channel) in cases {
        let delivery = verify(&keys, &body, &signed(bol_pair(), "0", &body))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&body)));
        assert_eq!(delivery.event, event);
        assert_eq!(delivery.channel_event(), channel);
        assert_eq!(delivery.retailer_id.as_deref(), Some("1234567"));
    }
}

#[tokio::test]
async fn unknown_fields_and_string_retailer_ids_are_read() {
    let keys = fixed();
    let body = br#"{"retailerId":"1234567","timestamp":"2026-12-07T12:29:30.123Z","extra":[1],
        "event":{"resource":"ORDER","type":"ORDER_CREATED","resourceId":" A2K8MO0M5P ","new":true}}"#;
    let delivery = verify(&keys, body, &signed(bol_pair(), "0", body)).await.unwrap();
    assert_eq!(
        delivery.event,
        PushEvent::OrderCreated {
            order_id: "A2K8MO0M5P".into()
        }
    );
    assert_eq!(delivery.retailer_id.as_deref(), Some("1234567"));
}

#[tokio::test]
async fn a_pkcs1_key_verifies_as_a_subject_public_key_info_does() {
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    for der in [spki(bol_pair()), pkcs1(bol_pair())] {
        let keys = PushKeys::fixed(vec![key("0", der)]);
        verify(&keys, &body, &signed(bol_pair(), "0", &body))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_x_bol_signature_header_is_read_when_signature_is_absent() {
    let keys = fixed();
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let value = format!(
        "keyId=0,algorithm=rsa-sha256,signature={}",
        sign(bol_pair(), &body)
    );
    verify(&keys, &body, &headers("X-BOL-Signature", &value))
        .await
        .unwrap();
    // Both: `Signature` counts (here a forged one).
    let mut both = headers("X-BOL-Signature", &value);
    both.insert(
        "signature",
        HeaderValue::from_str(&format!(
            "keyId=0,algorithm=rsa-sha256,signature={}",
            sign(other_pair(), &body)
        ))
        .unwrap(),
    );
    assert_eq!(
        verify(&keys, &body, &both).await.unwrap_err(),
        PushRefusal::BadSignature
    );
}

#[tokio::test]
async fn forged_deliveries_are_refused_with_their_reason() {
    let keys = fixed();
    let good = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let good_headers = signed(bol_pair(), "0", &good);
    let refused = |r: Result<push::Delivery, PushRefusal>| r.unwrap_err();

    // One byte altered, anywhere.
    let mut altered = good.clone();
    let at = altered.iter().position(|b| *b == b'A').unwrap();
    altered[at] = b'B';
    assert_eq!(
        refused(verify(&keys, &altered, &good_headers).await),
        PushRefusal::BadSignature
    );
    // Signed by another key under bol's key id.
    assert_eq!(
        refused(verify(&keys, &good, &signed(other_pair(), "0", &good)).await),
        PushRefusal::BadSignature
    );
    // Another algorithm, any case.
    let sig = sign(bol_pair(), &good);
    for algorithm in ["hmac-sha256", "RSA-SHA1"] {
        let h = headers(
            "signature",
            &format!("keyId=0, algorithm={algorithm}, signature={sig}"),
        );
        assert_eq!(
            refused(verify(&keys, &good, &h).await),
            PushRefusal::UnsupportedAlgorithm(algorithm.into())
        );
    }
    let upper = headers(
        "signature",
        &format!("keyId=0, algorithm=RSA-SHA256, signature={sig}"),
    );
    verify(&keys, &good, &upper).await.unwrap();
    // No header, a garbled one, one sent twice.
    assert_eq!(
        refused(verify(&keys, &good, &HeaderMap::new()).await),
        PushRefusal::NoSignature
    );
    assert!(matches!(
        refused(verify(&keys, &good, &headers("signature", "garbage")).await),
        PushRefusal::MalformedSignature(_)
    ));
    assert!(matches!(
        refused(
            verify(
                &keys,
                &good,
                &headers("signature", "keyId=0, algorithm=rsa-sha256, signature=%%%")
            )
            .await
        ),
        PushRefusal::MalformedSignature(_)
    ));
    let mut twice = good_headers.clone();
    twice.append("signature", good_headers["signature"].clone());
    assert!(matches!(
        refused(verify(&keys, &good, &twice).await),
        PushRefusal::MalformedSignature(_)
    ));
    // Too large: refused before the header is even looked at.
    let large = vec![b' '; MAX_BODY + 1];
    assert_eq!(
        refused(verify(&keys, &large, &HeaderMap::new()).await),
        PushRefusal::TooLarge
    );
    // A key bol does not list (fixed keys: never refreshed).
    assert_eq!(
        refused(verify(&keys, &good, &signed(bol_pair(), "7", &good)).await),
        PushRefusal::UnknownKey("7".into())
    );
}

#[tokio::test]
async fn stale_and_future_deliveries_are_refused() {
    let keys = fixed().max_age(Duration::from_secs(30 * 60));
    let dated = |timestamp: &str| {
        json!({"retailerId": 1, "timestamp": timestamp,
               "event": {"resource": "ORDER", "type": "ORDER_CREATED", "resourceId": "9"}})
        .to_string()
        .into_bytes()
    };
    // 2 h old (a replay of a captured delivery).
    let old = dated("2026-12-07T11:30:00+01:00");
    assert_eq!(
        verify(&keys, &old, &signed(bol_pair(), "0", &old))
            .await
            .unwrap_err(),
        PushRefusal::Stale { age_secs: 7200 }
    );
    // Just within the age.
    let recent = dated("2026-12-07T13:00:01+01:00");
    verify(&keys, &recent, &signed(bol_pair(), "0", &recent))
        .await
        .unwrap();
    // 10 minutes ahead.
    let ahead = dated("2026-12-07T12:40:00Z");
    assert_eq!(
        verify(&keys, &ahead, &signed(bol_pair(), "0", &ahead))
            .await
            .unwrap_err(),
        PushRefusal::FromTheFuture { ahead_secs: 600 }
    );
    // A clock a little behind bol's: fine.
    let slightly = dated("2026-12-07T12:34:00Z");
    verify(&keys, &slightly, &signed(bol_pair(), "0", &slightly))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_signed_body_that_is_no_delivery_is_malformed() {
    let keys = fixed();
    for (body, why) in [
        (&b"not json at all"[..], "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (br#"{"retailerId":1,"timestamp":"2026-12-07T12:29:00Z"}"#, "no event"),
        (br#"{"timestamp":"2026-12-07T12:29:00Z","event":{"type":"SUCCESS"}}"#, "no resource"),
        (br#"{"event":{"resource":"ORDER","type":"ORDER_CREATED","resourceId":"1"}}"#, "no timestamp"),
        (
            br#"{"timestamp":"yesterday","event":{"resource":"ORDER","type":"ORDER_CREATED","resourceId":"1"}}"#,
            "not RFC 3339",
        ),
        (b"\xff\xfe{}", "not JSON"),
    ] {
        let err = verify(&keys, body, &signed(bol_pair(), "0", body)).await.unwrap_err();
        assert!(
            matches!(&err, PushRefusal::Malformed(m) if m.contains(why)),
            "{why}: {err}"
        );
        assert!(!err.retry_later());
    }
}

#[tokio::test]
async fn a_key_of_another_type_never_verifies() {
    let keys = PushKeys::fixed(vec![SignatureKey {
        id: "0".into(),
        key_type: "EC".into(),
        public_key: spki(bol_pair()),
    }]);
    let body = body("ORDER", "ORDER_CREATED", json!("1"));
    let err = verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PushRefusal::UnknownKey("0 (a key of type EC: only RSA keys verify)".into())
    );
}

/// `GET /retailer/subscriptions/signature-keys` with bol's media type, answering `keys`.
async fn keys_endpoint<'a>(server: &'a MockServer, answer: Value, delay: Duration) -> httpmock::Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/retailer/subscriptions/signature-keys")
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            then.status(200)
                .header("content-type", V10)
                .json_body(answer)
                .delay(delay);
        })
        .await
}

fn listed(keys: &[(&str, Vec<u8>)]) -> Value {
    json!({"signatureKeys": keys.iter().map(|(id, der)| json!({
        "id": id, "type": "RSA", "publicKey": STANDARD.encode(der)
    })).collect::<Vec<_>>()})
}

#[tokio::test]
async fn the_keys_endpoint_is_read_as_bol_describes_it() {
    let server = setup().await;
    let fixture: Value = serde_json::from_str(&fixture("signature-keys.json")).unwrap();
    let mock = keys_endpoint(&server, fixture.clone(), Duration::ZERO).await;
    let answer = client(&server).get_subscription_keys().await.unwrap();
    mock.assert_async().await;
    let keys = signature_keys_of(&answer);
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].id.as_str(), keys[0].key_type.as_str()), ("0", "RSA"));
    let expected = STANDARD
        .decode(fixture["signatureKeys"][0]["publicKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(keys[0].public_key, expected);
    // A SubjectPublicKeyInfo of an RSA-2048 key.
    assert_eq!(keys[0].public_key.len(), 294);
}

#[test]
fn keys_are_read_tolerantly() {
    let der = spki(bol_pair());
    let b64 = STANDARD.encode(&der);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
        &b64[..64],
        &b64[64..]
    );
    let answer: KeySetResponse = serde_json::from_value(json!({"signatureKeys": [
        {"id": " 1 ", "type": "RSA", "publicKey": pem},
        {"id": "", "type": "RSA", "publicKey": b64},
        {"id": "2", "type": "RSA", "publicKey": "not base64 !"},
        {"id": "3", "type": "EC", "publicKey": b64.trim_end_matches('=')},
    ]}))
    .unwrap();
    let keys = signature_keys_of(&answer);
    let ids: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.id.as_str(), k.key_type.as_str()))
        .collect();
    assert_eq!(ids, [("1", "RSA"), ("3", "EC")]);
    assert!(keys.iter().all(|k| k.public_key == der));
}

#[tokio::test]
async fn an_unknown_key_refreshes_the_keys_once_within_the_interval() {
    let server = setup().await;
    let mock = keys_endpoint(&server, listed(&[("0", spki(bol_pair()))]), Duration::ZERO).await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    // An unknown key id: exactly one read of the keys, then refused.
    let err = verify(&keys, &body, &signed(bol_pair(), "1", &body))
        .await
        .unwrap_err();
    assert_eq!(err, PushRefusal::UnknownKey("1".into()));
    assert_eq!(mock.calls_async().await, 1);
    // Another unknown id within the interval: refused without a call.
    let err = verify(&keys, &body, &signed(bol_pair(), "2", &body))
        .await
        .unwrap_err();
    assert_eq!(err, PushRefusal::UnknownKey("2".into()));
    assert_eq!(mock.calls_async().await, 1);
    // The key that read listed: verified without a call.
    verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap();
    verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(keys.key_refreshes(), 1);
}

#[tokio::test]
async fn a_key_read_outlives_the_delivery_that_gave_up_on_it() {
    let server = setup().await;
    let mock = keys_endpoint(
        &server,
        listed(&[("0", spki(bol_pair()))]),
        Duration::from_millis(300),
    )
    .await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let headers = signed(bol_pair(), "0", &body);
    // The receiver bounds its answer's time: this verify is dropped during the read.
    let gave_up = tokio::time::timeout(Duration::from_millis(50), keys.verify(&body, &headers, now())).await;
    assert!(gave_up.is_err());
    // The next delivery waits for that read instead of starting another.
    verify(&keys, &body, &headers).await.unwrap();
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(keys.key_refreshes(), 1);
}

#[tokio::test]
async fn an_unknown_key_after_the_interval_refreshes_exactly_once_then_is_refused() {
    let server = setup().await;
    // bol rotated its key: "1" signs now, "0" is still listed.
    let mock = keys_endpoint(
        &server,
        listed(&[("0", spki(other_pair())), ("1", spki(bol_pair()))]),
        Duration::ZERO,
    )
    .await;
    let keys = PushKeys::new(client(&server)).refresh_at_most_every(Duration::ZERO);
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    verify(&keys, &body, &signed(bol_pair(), "1", &body))
        .await
        .unwrap();
    assert_eq!(mock.calls_async().await, 1);
    let err = verify(&keys, &body, &signed(bol_pair(), "9", &body))
        .await
        .unwrap_err();
    assert_eq!(err, PushRefusal::UnknownKey("9".into()));
    assert_eq!(
        mock.calls_async().await,
        2,
        "exactly one refresh for the unknown key"
    );
    assert_eq!(keys.key_refreshes(), 2);
}

#[tokio::test]
async fn concurrent_deliveries_with_an_unknown_key_share_one_refresh() {
    let server = setup().await;
    let mock = keys_endpoint(
        &server,
        listed(&[("0", spki(bol_pair()))]),
        Duration::from_millis(200),
    )
    .await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let headers = signed(bol_pair(), "0", &body);
    let all = futures_util::future::join_all((0..8).map(|_| {
        let keys = keys.clone();
        let body = body.clone();
        let headers = headers.clone();
        async move { keys.verify(&body, &headers, now()).await }
    }))
    .await;
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(keys.key_refreshes(), 1);
}

#[tokio::test]
async fn keys_that_cannot_be_read_ask_bol_to_deliver_again() {
    let server = setup().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/subscriptions/signature-keys");
            then.status(400)
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(
                    json!({"type": "https://api.bol.com/problems", "title": "Bad request", "status": 400}),
                );
        })
        .await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let err = verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap_err();
    assert!(matches!(err, PushRefusal::KeysUnavailable(_)), "{err}");
    assert!(err.retry_later());
    assert_eq!(err.code(), "keys_unavailable");
    // Within the interval the failure stands without another call.
    let again = verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap_err();
    assert!(again.retry_later());
    assert_eq!(mock.calls_async().await, 1);
}

#[test]
fn every_refusal_says_why() {
    let all = [
        PushRefusal::TooLarge,
        PushRefusal::NoSignature,
        PushRefusal::MalformedSignature("no keyId".into()),
        PushRefusal::UnsupportedAlgorithm("hmac-sha256".into()),
        PushRefusal::UnknownKey("7".into()),
        PushRefusal::BadSignature,
        PushRefusal::KeysUnavailable("bol get-subscription-keys: 503".into()),
        PushRefusal::Malformed("no event".into()),
        PushRefusal::Stale { age_secs: 7200 },
        PushRefusal::FromTheFuture { ahead_secs: 600 },
    ];
    let shown: Vec<String> = all
        .iter()
        .map(|r| format!("{} (retry later: {}): {r}", r.code(), r.retry_later()))
        .collect();
    insta::assert_snapshot!("push_refusals", shown.join("\n"));
}

fn mutation_case() -> &'static (PushKeys, Vec<u8>, HeaderMap) {
    static CASE: OnceLock<(PushKeys, Vec<u8>, HeaderMap)> = OnceLock::new();
    CASE.get_or_init(|| {
        let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
        let headers = signed(bol_pair(), "0", &body);
        (fixed(), body, headers)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any change to the body (a byte flipped, cut, or added) fails the signature.
    #[test]
    fn any_body_mutation_fails_verification(at in any::<prop::sample::Index>(), flip in 1u8..=255, how in 0u8..3) {
        let (keys, body, headers) = mutation_case();
        let mut changed = body.clone();
        let i = at.index(changed.len());
        match how {
            0 => changed[i] ^= flip,
            1 => { changed.truncate(i); }
            _ => changed.insert(i, flip),
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcome = rt.block_on(keys.verify(&changed, headers, now()));
        prop_assert_eq!(outcome.unwrap_err(), PushRefusal::BadSignature);
    }
}

/// `GET /retailer/subscriptions/signature-keys` answering `first` once, then `then`.
async fn keys_then<'a>(server: &'a MockServer, first: Value, then_answer: Value) -> httpmock::Mock<'a> {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/retailer/subscriptions/signature-keys")
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |_| {
                let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = if i == 0 { &first } else { &then_answer };
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(body.to_string())
                    .unwrap()
                    .into()
            });
        })
        .await
}

#[tokio::test]
async fn a_refresh_listing_no_usable_key_keeps_the_keys_held() {
    let der = spki(bol_pair());
    for (why, unusable) in [
        ("an empty list", json!({"signatureKeys": []})),
        ("no list at all", json!({})),
        (
            "unreadable keys",
            json!({"signatureKeys": [{"id": "0", "type": "RSA", "publicKey": "not base64 !"},
                                     {"id": "", "type": "RSA", "publicKey": STANDARD.encode(&der)}]}),
        ),
        (
            "RSA keys whose bytes are no RSA public key",
            json!({"signatureKeys": [{"id": "0", "type": "RSA", "publicKey": STANDARD.encode(b"not a DER public key")}]}),
        ),
        (
            "only keys of another type",
            json!({"signatureKeys": [{"id": "0", "type": "EC", "publicKey": STANDARD.encode(&der)}]}),
        ),
    ] {
        let server = setup().await;
        let mock = keys_then(&server, listed(&[("0", der.clone())]), unusable).await;
        let keys = PushKeys::new(client(&server)).refresh_at_most_every(Duration::ZERO);
        let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
        let genuine = signed(bol_pair(), "0", &body);
        verify(&keys, &body, &genuine).await.unwrap();
        // A stranger names a made-up key: the keys are read again, and list nothing usable.
        let err = verify(&keys, &body, &signed(other_pair(), "stranger", &body))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PushRefusal::KeysUnavailable(m) if m.contains("no usable RSA signature key")),
            "{why}: {err}"
        );
        assert_eq!(mock.calls_async().await, 2, "{why}");
        // bol's genuine key still verifies, and is still held.
        verify(&keys, &body, &genuine)
            .await
            .unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(keys.keys(), vec![key("0", der.clone())], "{why}");
    }
}

#[tokio::test]
async fn a_first_read_listing_no_usable_key_asks_bol_to_deliver_again() {
    let server = setup().await;
    let mock = keys_then(
        &server,
        json!({"signatureKeys": []}),
        json!({"signatureKeys": []}),
    )
    .await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let err = verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap_err();
    assert!(err.retry_later(), "{err}");
    assert!(keys.keys().is_empty());
    assert_eq!(mock.calls_async().await, 1);
}

fn paused_client(server: &MockServer) -> retailer_client::RetailerClient {
    retailer_client::RetailerClient::builder(support::CLIENT_ID, support::CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn unknown_keys_read_the_keys_at_most_every_ten_minutes_by_default() {
    assert_eq!(push::DEFAULT_REFRESH_EVERY, Duration::from_secs(600));
    let server = setup().await;
    let mock = keys_endpoint(&server, listed(&[("0", spki(bol_pair()))]), Duration::ZERO).await;
    let keys = PushKeys::new(paused_client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let unknown = |id: &str| signed(bol_pair(), id, &body);
    assert_eq!(
        verify(&keys, &body, &unknown("1")).await.unwrap_err(),
        PushRefusal::UnknownKey("1".into())
    );
    assert_eq!(mock.calls_async().await, 1);
    // Just short of ten minutes: refused without a read.
    tokio::time::advance(Duration::from_secs(599)).await;
    verify(&keys, &body, &unknown("2")).await.unwrap_err();
    assert_eq!(mock.calls_async().await, 1);
    // Ten minutes after the read: read again.
    tokio::time::advance(Duration::from_secs(1)).await;
    verify(&keys, &body, &unknown("3")).await.unwrap_err();
    assert_eq!(mock.calls_async().await, 2);
    assert_eq!(keys.key_refreshes(), 2);
}

#[tokio::test(start_paused = true)]
async fn keys_twelve_hours_old_are_read_again_and_a_withdrawn_key_stops_verifying() {
    assert_eq!(push::DEFAULT_KEYS_MAX_AGE, Duration::from_secs(12 * 60 * 60));
    let server = setup().await;
    // bol lists "0" first; at the next read it has withdrawn it for "1".
    let mock = keys_then(
        &server,
        listed(&[("0", spki(bol_pair()))]),
        listed(&[("1", spki(other_pair()))]),
    )
    .await;
    let keys = PushKeys::new(paused_client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let genuine = signed(bol_pair(), "0", &body);
    verify(&keys, &body, &genuine).await.unwrap();
    assert_eq!(mock.calls_async().await, 1);
    // Known keys younger than 12 hours: no read.
    tokio::time::advance(Duration::from_secs(12 * 60 * 60 - 1)).await;
    verify(&keys, &body, &genuine).await.unwrap();
    keys.settled().await;
    assert_eq!(mock.calls_async().await, 1);
    // 12 hours old: this delivery verifies with the key held, and the keys are read again
    // in the background.
    tokio::time::advance(Duration::from_secs(1)).await;
    verify(&keys, &body, &genuine).await.unwrap();
    keys.settled().await;
    assert_eq!(mock.calls_async().await, 2);
    assert_eq!(keys.keys(), vec![key("1", spki(other_pair()))]);
    // The withdrawn key no longer verifies (the read was just made: no other read).
    assert_eq!(
        verify(&keys, &body, &genuine).await.unwrap_err(),
        PushRefusal::UnknownKey("0".into())
    );
    assert_eq!(mock.calls_async().await, 2);
    // The new key verifies.
    verify(&keys, &body, &signed(other_pair(), "1", &body))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn old_keys_are_read_again_within_the_interval_rule() {
    let server = setup().await;
    let mock = keys_endpoint(&server, listed(&[("0", spki(bol_pair()))]), Duration::ZERO).await;
    // Keys old after a minute; reads at most every 10 minutes.
    let keys = PushKeys::new(paused_client(&server)).refresh_keys_older_than(Duration::from_secs(60));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    let genuine = signed(bol_pair(), "0", &body);
    verify(&keys, &body, &genuine).await.unwrap();
    tokio::time::advance(Duration::from_secs(5 * 60)).await;
    for _ in 0..3 {
        verify(&keys, &body, &genuine).await.unwrap();
        keys.settled().await;
    }
    assert_eq!(mock.calls_async().await, 1, "old, but read within 10 minutes");
    tokio::time::advance(Duration::from_secs(5 * 60)).await;
    for _ in 0..3 {
        verify(&keys, &body, &genuine).await.unwrap();
        keys.settled().await;
    }
    assert_eq!(
        mock.calls_async().await,
        2,
        "one read in the background, not three"
    );
    // Fixed keys are never read.
    let fixed = fixed().refresh_keys_older_than(Duration::ZERO);
    verify(&fixed, &body, &genuine).await.unwrap();
    fixed.settled().await;
    assert_eq!(fixed.key_refreshes(), 0);
}

#[tokio::test]
async fn refusals_after_the_signature_verified_are_bols_own_deliveries() {
    let signed_ones = [
        PushRefusal::Malformed("no event".into()),
        PushRefusal::Stale { age_secs: 7200 },
        PushRefusal::FromTheFuture { ahead_secs: 600 },
    ];
    for r in &signed_ones {
        assert!(r.signed(), "{r}");
        assert!(!r.retry_later(), "{r}");
    }
    for r in [
        PushRefusal::TooLarge,
        PushRefusal::NoSignature,
        PushRefusal::MalformedSignature("no keyId".into()),
        PushRefusal::UnsupportedAlgorithm("hmac-sha256".into()),
        PushRefusal::UnknownKey("7".into()),
        PushRefusal::BadSignature,
        PushRefusal::KeysUnavailable("503".into()),
    ] {
        assert!(!r.signed(), "{r}");
    }
    // As verify gives them: a replay of a genuine delivery two hours later is signed.
    let keys = fixed();
    let old = br#"{"retailerId":1,"timestamp":"2026-12-07T10:30:00Z","event":{"resource":"ORDER","type":"ORDER_CREATED","resourceId":"1"}}"#;
    let err = verify(&keys, old, &signed(bol_pair(), "0", old))
        .await
        .unwrap_err();
    assert!(err.signed(), "{err}");
    // The same body signed by a stranger is not.
    let err = verify(&keys, old, &signed(other_pair(), "0", old))
        .await
        .unwrap_err();
    assert!(!err.signed(), "{err}");
}

#[tokio::test]
async fn keys_listed_as_pkcs1_are_usable_too() {
    let server = setup().await;
    let mock = keys_endpoint(&server, listed(&[("0", pkcs1(bol_pair()))]), Duration::ZERO).await;
    let keys = PushKeys::new(client(&server));
    let body = body("ORDER", "ORDER_CREATED", json!("A2K8MO0M5P"));
    verify(&keys, &body, &signed(bol_pair(), "0", &body))
        .await
        .unwrap();
    assert_eq!(mock.calls_async().await, 1);
}
