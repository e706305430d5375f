//! bol's push notifications in the sandbox: subscriptions as bol describes them, signature
//! keys (10 calls an hour), signed deliveries to a local receiver, bol's retries and the
//! subscription disabled after them, forged deliveries of every kind, and the order listing's
//! change filters a reconciliation reads. Real time, with the retry schedule scaled down
//! (the deliveries go over real sockets, which paused time would race).

use crate::bol_conformance::{check, schema_of, spec};
use crate::support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use commerce_sandbox::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What a receiver got: the headers and the exact body.
#[derive(Debug, Clone)]
struct Got {
    headers: HeaderMap,
    body: Bytes,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Answer = Arc<dyn Fn(&Got) -> u16 + Send + Sync>;

/// What a verifying receiver decided of each body.
type Verdicts = Arc<Mutex<Vec<(String, Result<(), String>)>>>;

struct RState {
    answer: Answer,
    got: mpsc::UnboundedSender<Got>,
}

/// A local webhook receiver at `/push/bol` answering each delivery as `answer` says.
struct Receiver {
    url: String,
    got: mpsc::UnboundedReceiver<Got>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(answer: Answer) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push/bol", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/push/bol", axum::routing::post(receive))
            .with_state(Arc::new(RState { answer, got: tx }));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got: rx, task }
    }

    /// Answers 2xx to everything.
    async fn ok() -> Receiver {
        Receiver::start(Arc::new(|_| 200)).await
    }

    /// The next delivery (within 10 s).
    async fn next(&mut self) -> Got {
        tokio::time::timeout(Duration::from_secs(10), self.got.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the receiver runs")
    }

    /// The next delivery of `resource`, skipping others.
    async fn next_of(&mut self, resource: &str) -> Got {
        loop {
            let got = self.next().await;
            if got.json()["event"]["resource"] == resource {
                return got;
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(state): State<Arc<RState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let got = Got { headers, body };
    let status = (state.answer)(&got);
    let _ = state.got.send(got);
    StatusCode::from_u16(status).unwrap()
}

/// bol's API as a client calls it, raw.
struct Bol {
    c: reqwest::Client,
    base: String,
    bearer: String,
}

impl Bol {
    async fn new(sb: &Sandbox) -> Bol {
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let bearer = support::bol_bearer(&c, sb).await;
        Bol {
            c,
            base: sb.base_urls().bol,
            bearer,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value, HeaderMap) {
        let mut r = self
            .c
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("authorization", &self.bearer)
            .header("accept", support::BOL_V10);
        if let Some(body) = body {
            r = r.header("content-type", support::BOL_V10).body(body.to_string());
        }
        let answer = r.send().await.unwrap();
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let text = answer.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    /// Reads a process status until it ends.
    async fn finish(&self, process: &Value) -> Value {
        let id = process["processStatusId"].as_str().unwrap();
        for _ in 0..10 {
            let (status, p, _) = self
                .call("GET", &format!("/shared/process-status/{id}"), None)
                .await;
            assert_eq!(status, 200);
            if p["status"] != "PENDING" {
                return p;
            }
        }
        panic!("process {id} did not end");
    }

    /// Subscribes `url` to `resources` and waits for the process: the subscription's id.
    async fn subscribe(&self, url: &str, resources: &[&str]) -> String {
        let (status, process, _) = self
            .call(
                "POST",
                "/retailer/subscriptions",
                Some(json!({"resources": resources, "url": url, "subscriptionType": "WEBHOOK"})),
            )
            .await;
        assert_eq!(status, 202, "{process}");
        assert_eq!(process["eventType"], "CREATE_SUBSCRIPTION");
        let done = self.finish(&process).await;
        assert_eq!(done["status"], "SUCCESS");
        done["entityId"].as_str().unwrap().to_owned()
    }

    /// The signature keys by id, as DER.
    async fn keys(&self) -> HashMap<String, Vec<u8>> {
        let (status, keys, _) = self
            .call("GET", "/retailer/subscriptions/signature-keys", None)
            .await;
        assert_eq!(status, 200, "{keys}");
        keys["signatureKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                assert_eq!(k["type"], "RSA");
                (
                    k["id"].as_str().unwrap().to_owned(),
                    STANDARD.decode(k["publicKey"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }
}

fn quiet() -> Config {
    Config {
        orders: 2,
        cancellation_requests: 0.0,
        ..Config::default()
    }
}

/// The first FBR offer's EAN, to order.
fn ean(sb: &Sandbox) -> String {
    sb.offers().into_iter().find(|o| !o.fbb).unwrap().ean
}

/// `keyId=…, algorithm="rsa-sha256", signature=…` read into its three parts.
fn signature_parts(header: &str) -> Option<(String, String, Vec<u8>)> {
    let mut parts: HashMap<&str, &str> = HashMap::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        parts.insert(k.trim(), v.trim().trim_matches('"'));
    }
    Some((
        parts.get("keyId")?.to_string(),
        parts.get("algorithm")?.to_string(),
        STANDARD.decode(parts.get("signature")?).ok()?,
    ))
}

/// Whether a delivery is signed by one of `keys` over its exact body.
fn verifies(got: &Got, keys: &HashMap<String, Vec<u8>>) -> Result<String, String> {
    let header = got
        .headers
        .get("signature")
        .ok_or("no Signature header")?
        .to_str()
        .map_err(|e| e.to_string())?;
    let (key_id, algorithm, signature) = signature_parts(header).ok_or("a garbled header")?;
    if algorithm != "rsa-sha256" {
        return Err(format!("algorithm {algorithm}"));
    }
    let key = keys.get(&key_id).ok_or(format!("unknown key {key_id}"))?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(&got.body, &signature)
        .map_err(|_| "a bad signature".to_owned())?;
    Ok(key_id)
}

/// Waits (up to 10 s) until the report says `done`.
async fn until(sb: &Sandbox, done: impl Fn(&PushReport) -> bool) -> PushReport {
    for _ in 0..1000 {
        let push = sb.report().push;
        if done(&push) {
            return push;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached: {:?}", sb.report().push);
}

#[tokio::test]
async fn a_subscribed_receiver_gets_a_new_order_signed_with_the_published_key() {
    let spec = spec();
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let mut receiver = Receiver::ok().await;
    // Before the create's process ends, bol has no subscription.
    let (status, process, _) = bol
        .call(
            "POST",
            "/retailer/subscriptions",
            Some(json!({"resources": ["ORDER", "PROCESS_STATUS", "SHIPMENT"],
                        "url": receiver.url, "subscriptionType": "WEBHOOK"})),
        )
        .await;
    assert_eq!(status, 202);
    let mut problems = Vec::new();
    check(
        &spec,
        &schema_of(&spec, "/retailer/subscriptions", "post", "202"),
        &process,
        "POST /retailer/subscriptions",
        &mut problems,
    );
    assert_eq!(process["status"], "PENDING");
    let (_, list, _) = bol.call("GET", "/retailer/subscriptions", None).await;
    assert_eq!(list, json!({"subscriptions": []}));
    let done = bol.finish(&process).await;
    let id = done["entityId"].as_str().unwrap().to_owned();
    let (status, list, _) = bol.call("GET", "/retailer/subscriptions", None).await;
    assert_eq!(status, 200);
    check(
        &spec,
        &schema_of(&spec, "/retailer/subscriptions", "get", "200"),
        &list,
        "GET /retailer/subscriptions",
        &mut problems,
    );
    assert_eq!(
        list["subscriptions"],
        json!([{"id": id, "resources": ["ORDER", "PROCESS_STATUS", "SHIPMENT"], "url": receiver.url,
                "subscriptionType": "WEBHOOK", "enabled": true}])
    );
    let (_, one, _) = bol
        .call("GET", &format!("/retailer/subscriptions/{id}"), None)
        .await;
    assert_eq!(one, list["subscriptions"][0]);
    let (_, keys_json, _) = bol
        .call("GET", "/retailer/subscriptions/signature-keys", None)
        .await;
    check(
        &spec,
        &schema_of(&spec, "/retailer/subscriptions/signature-keys", "get", "200"),
        &keys_json,
        "GET signature-keys",
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let keys = bol.keys().await;
    assert_eq!(keys.keys().collect::<Vec<_>>(), ["0"]);

    let order = sb.place_order(&ean(&sb), 1).unwrap();
    let got = receiver.next_of("ORDER").await;
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(verifies(&got, &keys), Ok("0".to_owned()));
    let header = got.headers["signature"].to_str().unwrap();
    assert!(
        header.starts_with("keyId=0, algorithm=\"rsa-sha256\", signature="),
        "{header}"
    );
    let body = got.json();
    assert_eq!(body["retailerId"], SANDBOX_RETAILER_ID);
    assert_eq!(
        body["event"],
        json!({"resource": "ORDER", "type": "ORDER_CREATED", "resourceId": order})
    );
    let at = chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
    assert!(
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60
    );
    // The exact bytes: the fields in bol's order.
    let text = std::str::from_utf8(&got.body).unwrap();
    assert!(
        text.starts_with("{\"retailerId\":1234567,\"timestamp\":\""),
        "{text}"
    );
    // A body changed by one byte no longer verifies.
    let mut changed = got.clone();
    changed.body = Bytes::from(text.replace(&order, "1"));
    assert_eq!(verifies(&changed, &keys), Err("a bad signature".to_owned()));

    // The buyer asks to cancel: the order's cancellation request.
    let line = sb.bol_lines().into_iter().find(|l| l.order_id == order).unwrap();
    sb.request_cancellation(&order, &[&line.line_id]);
    let got = receiver.next_of("ORDER").await;
    assert_eq!(
        got.json()["event"],
        json!({"resource": "ORDER", "type": "ORDER_ITEM_CANCELLATION_REQUEST", "resourceId": order})
    );
    // A shipment: its transport event, and its process status when that ends.
    let (status, shipment, _) = bol
        .call(
            "POST",
            "/retailer/shipments",
            Some(json!({"orderItems": [{"orderItemId": line.line_id}],
                        "transport": {"transporterCode": "TNT", "trackAndTrace": "3SBOL0123456789"}})),
        )
        .await;
    assert_eq!(status, 202, "{shipment}");
    let got = receiver.next_of("SHIPMENT").await;
    assert_eq!(got.json()["event"]["type"], "UPDATE_TRANSPORT_EVENT");
    assert!(got.json()["event"]["resourceId"].is_string());
    bol.finish(&shipment).await;
    let pid = shipment["processStatusId"].as_str().unwrap();
    loop {
        let got = receiver.next_of("PROCESS_STATUS").await;
        assert_eq!(verifies(&got, &keys), Ok("0".to_owned()));
        if got.json()["event"]["resourceId"] == pid {
            assert_eq!(got.json()["event"]["type"], "SUCCESS");
            break;
        }
    }
    let push = until(&sb, |p| p.delivered >= 4).await;
    assert_eq!(push.subscriptions, 1);
    assert_eq!(push.given_up, 0);
    assert_eq!(push.events["ORDER:ORDER_CREATED"], 1);
    assert_eq!(push.events["ORDER:ORDER_ITEM_CANCELLATION_REQUEST"], 1);
    assert_eq!(push.events["SHIPMENT:UPDATE_TRANSPORT_EVENT"], 1);
}

#[tokio::test]
async fn processes_can_end_on_their_own_and_tell_it() {
    let sb = start(Config {
        process_after: Some(Duration::from_millis(300)),
        process_after_reads: 100,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let mut receiver = Receiver::ok().await;
    let (_, process, _) = bol
        .call(
            "POST",
            "/retailer/subscriptions",
            Some(
                json!({"resources": ["PROCESS_STATUS"], "url": receiver.url, "subscriptionType": "WEBHOOK"}),
            ),
        )
        .await;
    // Never read: the create ends on its own, and the subscription then hears its end.
    let got = receiver.next().await;
    assert_eq!(
        got.json()["event"],
        json!({"resource": "PROCESS_STATUS", "type": "SUCCESS", "resourceId": process["processStatusId"]})
    );
    let (_, read, _) = bol
        .call(
            "GET",
            &format!(
                "/shared/process-status/{}",
                process["processStatusId"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(read["status"], "SUCCESS");
}

#[tokio::test]
async fn a_delivery_answered_500_is_retried_then_delivered() {
    let sb = start(Config {
        push_retry_scale: 600.0,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let answers = Arc::new(Mutex::new(VecDeque::from([500u16, 503])));
    let script = answers.clone();
    let mut receiver = Receiver::start(Arc::new(move |_| {
        script.lock().unwrap().pop_front().unwrap_or(204)
    }))
    .await;
    bol.subscribe(&receiver.url, &["ORDER"]).await;
    let order = sb.place_order(&ean(&sb), 1).unwrap();
    let first = receiver.next().await;
    let second = receiver.next().await;
    let third = receiver.next().await;
    // The same body and signature each time.
    assert_eq!(first.body, second.body);
    assert_eq!(first.body, third.body);
    assert_eq!(first.headers["signature"], third.headers["signature"]);
    assert_eq!(third.json()["event"]["resourceId"], order.as_str());
    let push = until(&sb, |p| p.delivered == 1).await;
    assert_eq!(push.deliveries, 1);
    assert_eq!(push.attempts, 3);
    assert_eq!(push.retried, 2);
    assert_eq!(push.given_up, 0);
    assert_eq!(push.enabled_subscriptions, 1);
}

#[tokio::test]
async fn a_receiver_too_slow_to_answer_is_retried() {
    let sb = start(Config {
        push_retry_scale: 600.0,
        // Generous, so a loaded machine's second answer is in time.
        push_answer_within: Duration::from_secs(1),
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    // The first answer comes after the limit: it does not count.
    let slow = Arc::new(Mutex::new(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push/bol", listener.local_addr().unwrap());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let app = axum::Router::new().route(
        "/push/bol",
        axum::routing::post(move || {
            let slow = slow.clone();
            let tx = tx.clone();
            async move {
                let wait = std::mem::replace(&mut *slow.lock().unwrap(), false);
                if wait {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                }
                let _ = tx.send(());
                StatusCode::OK
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    bol.subscribe(&url, &["ORDER"]).await;
    sb.place_order(&ean(&sb), 1).unwrap();
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap();
    let push = until(&sb, |p| p.delivered == 1).await;
    assert_eq!(push.attempts, 2);
    assert_eq!(push.retried, 1);
    server.abort();
}

#[tokio::test]
async fn a_receiver_down_for_the_whole_window_gets_its_subscription_disabled() {
    let sb = start(Config {
        // bol's 10 minutes in a tenth of a second.
        push_retry_scale: 6000.0,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    // A port nothing listens on.
    let url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/push/bol", l.local_addr().unwrap())
    };
    let id = bol.subscribe(&url, &["ORDER"]).await;
    sb.place_order(&ean(&sb), 1).unwrap();
    let push = until(&sb, |p| p.subscriptions_disabled == 1).await;
    assert_eq!(push.attempts, 1 + RETRY_DELAYS_SECS.len() as u64);
    assert_eq!(push.retried, 10);
    assert_eq!(push.given_up, 1);
    assert_eq!(push.delivered, 0);
    assert_eq!(RETRY_DELAYS_SECS.iter().sum::<u64>(), 600);
    let (_, sub, _) = bol
        .call("GET", &format!("/retailer/subscriptions/{id}"), None)
        .await;
    assert_eq!(sub["enabled"], false);
    // Disabled: nothing more goes out.
    sb.place_order(&ean(&sb), 1).unwrap();
    assert_eq!(sb.report().push.deliveries, 1);
    // A PUT enables it again (enabled left out is true), at a receiver that is up.
    let mut receiver = Receiver::ok().await;
    let (status, process, _) = bol
        .call(
            "PUT",
            &format!("/retailer/subscriptions/{id}"),
            Some(json!({"resources": ["ORDER"], "url": receiver.url, "subscriptionType": "WEBHOOK"})),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(process["eventType"], "UPDATE_SUBSCRIPTION");
    assert_eq!(process["entityId"], id.as_str());
    bol.finish(&process).await;
    let (_, sub, _) = bol
        .call("GET", &format!("/retailer/subscriptions/{id}"), None)
        .await;
    assert_eq!(sub["enabled"], true);
    let order = sb.place_order(&ean(&sb), 1).unwrap();
    assert_eq!(
        receiver.next().await.json()["event"]["resourceId"],
        order.as_str()
    );
}

#[tokio::test]
async fn subscriptions_are_tested_updated_and_deleted_as_bol_describes() {
    let spec = spec();
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let mut receiver = Receiver::ok().await;
    let id = bol.subscribe(&receiver.url, &["ORDER"]).await;
    let mut problems = Vec::new();
    let (status, process, _) = bol
        .call("POST", &format!("/retailer/subscriptions/test/{id}"), None)
        .await;
    assert_eq!(status, 202);
    check(
        &spec,
        &schema_of(
            &spec,
            "/retailer/subscriptions/test/{subscription-id}",
            "post",
            "202",
        ),
        &process,
        "POST test",
        &mut problems,
    );
    assert_eq!(process["eventType"], "SEND_SUBSCRIPTION_TST_MSG");
    bol.finish(&process).await;
    let got = receiver.next().await;
    assert_eq!(got.json()["event"], json!({"resource": "TEST", "type": "TEST"}));
    let keys = bol.keys().await;
    assert_eq!(verifies(&got, &keys), Ok("0".to_owned()));
    let (status, process, _) = bol
        .call("DELETE", &format!("/retailer/subscriptions/{id}"), None)
        .await;
    assert_eq!(status, 202);
    check(
        &spec,
        &schema_of(
            &spec,
            "/retailer/subscriptions/{subscription-id}",
            "delete",
            "202",
        ),
        &process,
        "DELETE",
        &mut problems,
    );
    assert_eq!(process["eventType"], "DELETE_SUBSCRIPTION");
    // Still there until bol has processed it.
    assert_eq!(
        bol.call("GET", &format!("/retailer/subscriptions/{id}"), None)
            .await
            .0,
        200
    );
    bol.finish(&process).await;
    let (status, gone, _) = bol
        .call("GET", &format!("/retailer/subscriptions/{id}"), None)
        .await;
    assert_eq!(status, 404);
    check(
        &spec,
        &schema_of(&spec, "/retailer/subscriptions/{subscription-id}", "get", "404"),
        &gone,
        "GET 404",
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for (method, path, body) in [
        ("GET", "/retailer/subscriptions/77", None),
        ("DELETE", "/retailer/subscriptions/77", None),
        ("POST", "/retailer/subscriptions/test/77", None),
        (
            "PUT",
            "/retailer/subscriptions/77",
            Some(json!({"resources": ["ORDER"], "url": receiver.url, "subscriptionType": "WEBHOOK"})),
        ),
    ] {
        assert_eq!(bol.call(method, path, body).await.0, 404, "{method} {path}");
    }
    // Nothing more to the receiver: no subscription.
    sb.place_order(&ean(&sb), 1).unwrap();
    assert_eq!(sb.report().push.deliveries, 1);
}

#[tokio::test]
async fn subscription_requests_outside_bols_description_are_refused() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let ok = json!({"resources": ["ORDER"], "url": "https://shop.example/push/bol", "subscriptionType": "WEBHOOK"});
    let with = |key: &str, value: Value| {
        let mut v = ok.clone();
        v[key] = value;
        v
    };
    let without = |key: &str| {
        let mut v = ok.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let cases = [
        (without("url"), "url"),
        (without("resources"), "resources"),
        (without("subscriptionType"), "subscriptionType"),
        (with("url", json!("")), "url"),
        (with("resources", json!([])), "resources"),
        (with("resources", json!(["ORDERS"])), "resources[0]"),
        (
            with("resources", json!(["ORDER", "PRICE_STAR_BOUNDARY"])),
            "resources[1]",
        ),
        (with("subscriptionType", json!("EMAIL")), "subscriptionType"),
        (with("url", json!("http://shop.example/push/bol")), "url"),
        (with("url", json!("not a url")), "url"),
        (with("enabled", json!("yes")), "enabled"),
        (with("subscriptionType", json!("AWS_SQS")), "identity"),
    ];
    for (body, field) in &cases {
        let (status, problem, _) = bol
            .call("POST", "/retailer/subscriptions", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(problem["status"], 400);
        assert!(
            problem["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == *field),
            "{body}: {problem}"
        );
    }
    assert_eq!(
        bol.call("POST", "/retailer/subscriptions", Some(json!([1])))
            .await
            .0,
        400
    );
    // Within the description: https anywhere, http to a loopback host, Pub/Sub topics.
    for body in [
        ok.clone(),
        with("url", json!("http://localhost:8080/push/bol")),
        with("url", json!("http://[::1]:8080/push/bol")),
        json!({"resources": ["OFFER_FOR_SALE"], "url": "projects/p/topics/t", "subscriptionType": "GCP_PUBSUB"}),
        json!({"resources": ["ORDER"], "url": "https://sqs.example/q", "subscriptionType": "AWS_SQS",
               "identity": "arn:aws:iam::123456789012:role/bol"}),
    ] {
        let (status, _, _) = bol
            .call("POST", "/retailer/subscriptions", Some(body.clone()))
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let report = sb.report();
    assert_eq!(report.providers["bol"].violations, cases.len() as u64 + 1);
}

#[tokio::test]
async fn the_signature_keys_allow_ten_calls_an_hour() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    for call in 1..=SIGNATURE_KEY_CALLS_PER_HOUR {
        let (status, _, _) = bol
            .call("GET", "/retailer/subscriptions/signature-keys", None)
            .await;
        assert_eq!(status, 200, "call {call}");
    }
    let (status, problem, headers) = bol
        .call("GET", "/retailer/subscriptions/signature-keys", None)
        .await;
    assert_eq!(status, 429, "{problem}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    // The hour's limit, not the second's.
    assert_eq!(headers["x-ratelimit-limit"], "10");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let push = sb.report().push;
    assert_eq!(push.signature_key_requests, 11);
    assert_eq!(push.signature_keys_rate_limited, 1);
    assert_eq!(sb.report().providers["bol"].rate_limited, 1);
}

#[tokio::test]
async fn a_rotated_key_signs_and_the_old_one_stays_listed() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let mut receiver = Receiver::ok().await;
    bol.subscribe(&receiver.url, &["ORDER"]).await;
    let before = bol.keys().await;
    assert_eq!(sb.rotate_push_key(), "1");
    let after = bol.keys().await;
    assert_eq!(after.len(), 2);
    assert_eq!(after["0"], before["0"]);
    sb.place_order(&ean(&sb), 1).unwrap();
    let got = receiver.next().await;
    // Signed with the new key: unknown to a cache made before.
    assert_eq!(verifies(&got, &before), Err("unknown key 1".to_owned()));
    assert_eq!(verifies(&got, &after), Ok("1".to_owned()));
    assert_eq!(sb.report().push.key_rotations, 1);
}

#[tokio::test]
async fn forged_deliveries_of_every_kind_follow_the_real_ones() {
    let sb = start(Config {
        push_forged: 1.0,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let keys = bol.keys().await;
    // A receiver that verifies, refuses stale deliveries and takes a body once.
    let seen: Arc<Mutex<HashSet<Bytes>>> = Arc::default();
    let verdicts: Verdicts = Arc::default();
    let (seen_in, verdicts_in) = (seen.clone(), verdicts.clone());
    let mut receiver = Receiver::start(Arc::new(move |got: &Got| {
        let body = String::from_utf8_lossy(&got.body).into_owned();
        let verdict = verifies(got, &keys).and_then(|_| {
            let at = chrono::DateTime::parse_from_rfc3339(got.json()["timestamp"].as_str().unwrap()).unwrap();
            let age = chrono::Utc::now() - at.with_timezone(&chrono::Utc);
            if age > chrono::Duration::minutes(30) {
                return Err("stale".into());
            }
            Ok(())
        });
        let code = match &verdict {
            Ok(()) => {
                // A duplicate is acknowledged, and not acted on again.
                seen_in.lock().unwrap().insert(got.body.clone());
                200
            }
            Err(_) => 401,
        };
        verdicts_in.lock().unwrap().push((body, verdict));
        code
    }))
    .await;
    bol.subscribe(&receiver.url, &["ORDER"]).await;
    let mut orders = Vec::new();
    for _ in 0..FORGED_KINDS.len() {
        orders.push(sb.place_order(&ean(&sb), 1).unwrap());
    }
    // 7 real, 6 forged, 1 duplicate.
    for _ in 0..2 * FORGED_KINDS.len() {
        receiver.next().await;
    }
    let push = until(&sb, |p| {
        p.delivered == FORGED_KINDS.len() as u64 && p.forged_sent == 6 && p.duplicates_sent == 1
    })
    .await;
    for kind in FORGED_KINDS {
        assert_eq!(push.forged_by_kind.get(kind), Some(&1), "{kind}: {push:?}");
    }
    assert_eq!(push.forged_acknowledged, 0, "{push:?}");
    assert_eq!(push.duplicates_acknowledged, 1);
    assert_eq!(push.forged_acted_upon, 0);
    let verdicts = verdicts.lock().unwrap().clone();
    let reasons: HashSet<String> = verdicts.iter().filter_map(|(_, v)| v.clone().err()).collect();
    for reason in [
        "a bad signature",
        "unknown key forged-7",
        "no Signature header",
        "a garbled header",
        "stale",
    ] {
        assert!(reasons.contains(reason), "{reason}: {reasons:?}");
    }
    // Every forged order id is one the sandbox never made; every real one is.
    let named: Vec<String> = verdicts
        .iter()
        .map(|(body, _)| {
            serde_json::from_str::<Value>(body).unwrap()["event"]["resourceId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let forged: Vec<&String> = named.iter().filter(|id| !orders.contains(id)).collect();
    assert_eq!(forged.len(), 6, "{named:?}");
    assert!(forged.iter().all(|id| id.starts_with('9')));
    // The sandbox notices a call that acts on a forged delivery.
    let (status, _, _) = bol
        .call("GET", &format!("/retailer/orders/{}", forged[0]), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(sb.report().push.forged_acted_upon, 1);
    // At a warehouse too: an order made for a forged one.
    reqwest::Client::new()
        .post(format!("{}/createOrder", sb.base_urls().shopwedo))
        .body(json!({"external_order_id": forged[1]}).to_string())
        .send()
        .await
        .unwrap();
    let push = sb.report().push;
    assert_eq!(push.forged_acted_upon, 2);
    assert!(
        push.forged_acted_upon_samples[1].contains(forged[1].as_str()),
        "{push:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), FORGED_KINDS.len());
}

#[tokio::test(start_paused = true)]
async fn the_order_listing_filters_by_status_and_latest_change() {
    let sb = start(Config {
        orders: 3,
        cancellation_requests: 0.0,
        // The clock moves on by minutes: one token for the whole test.
        bol_token_lifetime: Duration::from_secs(3600),
        ..Config::default()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let ids = |v: &Value| -> Vec<String> {
        v["orders"]
            .as_array()
            .map(|orders| {
                orders
                    .iter()
                    .map(|o| o["orderId"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let list = |q: &'static str| {
        let bol = &bol;
        async move { bol.call("GET", &format!("/retailer/orders?{q}"), None).await }
    };
    let seeded = ids(&list("status=ALL").await.1);
    assert_eq!(seeded.len(), 3);
    // Nothing changed in the last hour yet: the seeded orders were placed weeks ago.
    assert_eq!(list("change-interval-minute=60&status=ALL").await.1, json!({}));
    let new = sb.place_order(&ean(&sb), 1).unwrap();
    tokio::time::advance(Duration::from_secs(6 * 60)).await;
    // Ship a seeded order's lines now.
    let (_, detail, _) = bol
        .call("GET", &format!("/retailer/orders/{}", seeded[0]), None)
        .await;
    for item in detail["orderItems"].as_array().unwrap() {
        let (status, _, _) = bol
            .call(
                "POST",
                "/retailer/shipments",
                Some(json!({"orderItems": [{"orderItemId": item["orderItemId"]}],
                            "transport": {"transporterCode": "TNT", "trackAndTrace": "3SBOL0123456789"}})),
            )
            .await;
        assert_eq!(status, 202);
    }
    assert_eq!(
        ids(&list("change-interval-minute=5&status=ALL").await.1),
        [seeded[0].clone()]
    );
    assert_eq!(
        ids(&list("change-interval-minute=10&status=ALL").await.1),
        [seeded[0].clone(), new.clone()]
    );
    // Shipped: off the open list, on the shipped one.
    assert_eq!(ids(&list("change-interval-minute=10").await.1), [new.as_str()]);
    assert_eq!(
        ids(&list("change-interval-minute=10&status=SHIPPED").await.1),
        [seeded[0].clone()]
    );
    let (_, shipped, _) = list("change-interval-minute=10&status=SHIPPED").await;
    let item = &shipped["orders"][0]["orderItems"][0];
    assert_eq!(item["fulfilmentStatus"], "HANDLED");
    let changed =
        chrono::DateTime::parse_from_rfc3339(item["latestChangedDateTime"].as_str().unwrap()).unwrap();
    assert!(
        (chrono::Utc::now() + chrono::Duration::minutes(6) - changed.with_timezone(&chrono::Utc))
            .num_minutes()
            .abs()
            <= 1
    );
    // Today (bol's day, as bol writes the change) has both; the seeded ones are on their
    // own days.
    let today = &item["latestChangedDateTime"].as_str().unwrap()[..10];
    let (status, by_day, _) = bol
        .call(
            "GET",
            &format!("/retailer/orders?status=ALL&latest-change-date={today}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let mut got = ids(&by_day);
    got.sort();
    let mut want = vec![seeded[0].clone(), new.clone()];
    want.sort();
    assert_eq!(got, want);
    // Outside the description: 400 with the parameter named.
    for q in [
        "change-interval-minute=0",
        "change-interval-minute=61",
        "change-interval-minute=ten",
        "latest-change-date=2026-13-01",
        "latest-change-date=yesterday",
        "latest-change-date=2020-01-01",
        "status=CANCELLED",
        "fulfilment-method=BOTH",
        "page=0",
    ] {
        // bol's 10 a second for the listing.
        tokio::time::advance(Duration::from_millis(200)).await;
        let (status, problem, _) = bol.call("GET", &format!("/retailer/orders?{q}"), None).await;
        assert_eq!(status, 400, "{q}");
        let name = q.split('=').next().unwrap();
        assert_eq!(problem["violations"][0]["name"], name, "{q}: {problem}");
    }
}

#[tokio::test]
async fn orders_arriving_on_the_clock_are_told_with_no_call_coming_in() {
    let sb = start(Config {
        order_arrivals: Some(Duration::from_millis(250)),
        // Late enough that the setup is done well before, on a loaded machine too.
        push_rotate_key_after: Some(Duration::from_secs(3)),
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let mut receiver = Receiver::ok().await;
    bol.subscribe(&receiver.url, &["ORDER"]).await;
    let keys = bol.keys().await;
    // No call from here on: the sandbox's clock brings the orders and the key rotation.
    let mut signed_by = HashSet::new();
    let mut orders = HashSet::new();
    while !signed_by.contains("1") {
        let got = receiver.next().await;
        assert_eq!(got.json()["event"]["type"], "ORDER_CREATED");
        orders.insert(got.json()["event"]["resourceId"].as_str().unwrap().to_owned());
        signed_by.insert(match verifies(&got, &keys) {
            Ok(key) => key,
            Err(why) => {
                assert_eq!(why, "unknown key 1");
                "1".to_owned()
            }
        });
    }
    assert!(signed_by.contains("0"), "{signed_by:?}");
    let lines: HashSet<String> = sb.bol_lines().into_iter().map(|l| l.order_id).collect();
    assert!(orders.is_subset(&lines));
    assert_eq!(sb.report().push.key_rotations, 1);
    assert_eq!(bol.keys().await.len(), 2);
}
