//! `commerce serve` and `commerce subscribe` as an operator runs them: real processes of
//! the `commerce` binary. bol is an httpmock server that serves a signature key the test
//! made (the test signs its deliveries with it), one subscription and no order; the
//! warehouse and the review platforms are the built-in sandbox.

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use commerce_facade::{Journal, SqliteJournal};
use commerce_sandbox::{Config, Sandbox};
use httpmock::prelude::*;
use support::{SHOP_PHONE, temp_dir, text};

/// bol as far as `commerce serve` reads it here: a token, one signature key, the
/// subscriptions given, and no open order.
async fn bol(public_key: &[u8], subscriptions: serde_json::Value) -> MockServer {
    bol_answering_keys_after(public_key, subscriptions, Duration::ZERO).await
}

/// [`bol`], its signature keys answered after `delay`.
async fn bol_answering_keys_after(
    public_key: &[u8],
    subscriptions: serde_json::Value,
    delay: Duration,
) -> MockServer {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200).json_body(serde_json::json!({
                "access_token": "token-1", "token_type": "Bearer", "expires_in": 299, "scope": "RETAILER"
            }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/subscriptions/signature-keys");
            then.status(200)
                .delay(delay)
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(serde_json::json!({
                    "signatureKeys": [{"id": "0", "type": "RSA", "publicKey": BASE64.encode(public_key)}]
                }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/subscriptions");
            then.status(200)
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(subscriptions);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/orders");
            then.status(200)
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(serde_json::json!({}));
        })
        .await;
    server
}

/// A signing key, as bol keeps its own; its public half as bol lists it (X.509
/// SubjectPublicKeyInfo, DER).
fn key() -> (KeyPair, Vec<u8>) {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = pair.public_key().as_der().unwrap().as_ref().to_vec();
    (pair, public)
}

/// `body`'s signature by `pair`, Base64.
fn sign(pair: &KeyPair, body: &[u8]) -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &rng, body, &mut signature).unwrap();
    BASE64.encode(signature)
}

/// A delivery's body as bol sends it.
fn delivery(resource: &str, kind: &str, id: Option<&str>, at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let mut event = serde_json::json!({"resource": resource, "type": kind});
    if let Some(id) = id {
        event["resourceId"] = id.into();
    }
    serde_json::json!({"retailerId": 1_234_567, "timestamp": at.to_rfc3339(), "event": event})
        .to_string()
        .into_bytes()
}

fn signature_header(key_id: &str, signature: &str) -> String {
    format!("keyId={key_id}, algorithm=\"rsa-sha256\", signature={signature}")
}

/// A `commerce serve` process; its standard output and error go to `<dir>/serve.log`
/// unless `stdout` is given.
fn serve(sb: &Sandbox, bol: &MockServer, dir: &Path, extra: &[&str], stdout: Option<Stdio>) -> Child {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let stdout = stdout.unwrap_or_else(|| log.try_clone().unwrap().into());
    Command::new(env!("CARGO_BIN_EXE_commerce"))
        .arg("--journal")
        .arg(dir.join("journal.sqlite"))
        .args([
            "serve",
            "--init",
            "--listen",
            "127.0.0.1:0",
            "--poll-interval",
            "1s",
            "--stock-interval",
            "off",
            "--returns-interval",
            "off",
            "--reconcile-interval",
            "off",
        ])
        .args(extra)
        .envs(sb.env())
        .env("RETAILER_API_URL", bol.base_url())
        .env("RETAILER_TOKEN_URL", bol.url("/token"))
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `commerce serve` on the sandbox's providers and the journal in `dir`, listening on
/// `listen`, new orders polled only hourly, the stock and returns loops off; its output goes
/// to `<dir>/<log_name>`.
fn serve_on(sb: &Sandbox, dir: &Path, listen: &str, log_name: &str) -> Child {
    let log_file = std::fs::File::create(dir.join(log_name)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_commerce"))
        .arg("--journal")
        .arg(dir.join("journal.sqlite"))
        .args([
            "serve",
            "--init",
            "--listen",
            listen,
            "--poll-interval",
            "1h",
            "--stock-interval",
            "off",
            "--returns-interval",
            "off",
        ])
        .envs(sb.env())
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap()
}

/// `commerce subscribe --url URL` on the journal in `dir`, against the sandbox's bol, to its
/// end (off the test's runtime threads).
async fn subscribe(sb: &Sandbox, dir: &Path, url: String) -> std::process::Output {
    let journal = dir.join("journal.sqlite");
    let env = sb.env();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_commerce"))
            .arg("--journal")
            .arg(&journal)
            .args(["subscribe", "--url", &url])
            .envs(env)
            .env_remove("COMMERCE_JOURNAL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The address in the first line `commerce serve` printed.
fn address_in(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.split([',', ' ']).next()?.parse().ok()
}

/// Waits for the first line of `<dir>/serve.log` to name the address.
fn address(dir: &Path, child: &mut Child) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        if let Some(address) = log.lines().find_map(address_in) {
            return address;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("commerce serve ended ({status:?}):\n{log}");
        }
        assert!(Instant::now() < deadline, "no address printed:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for `child` at most `limit`; `None` (and it is killed) when it did not end.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One sample of a metrics page: its name and labels, as written.
type Sample = (String, Vec<(String, String)>);

/// Parses the Prometheus text format 0.0.4 strictly: every sample's family declared by a
/// `# TYPE` line before it (counters' names end in `_total`), names and labels well
/// formed, label values' escapes, values numbers; no sample twice.
fn parse_metrics(page: &str) -> std::collections::BTreeMap<Sample, f64> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut types: std::collections::BTreeMap<String, String> = Default::default();
    let mut samples = std::collections::BTreeMap::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(valid_name(name), "{line}");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "declared twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(valid_name(name), "{line}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.trim().is_empty(), "{line}");
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line}"));
        let name = &line[..name_end];
        assert!(valid_name(name), "{line}");
        assert!(types.contains_key(name), "no # TYPE before {line}");
        let mut rest = line[name_end..].to_owned();
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let chars: Vec<char> = inner.chars().collect();
            let at = |k: usize| *chars.get(k).unwrap_or_else(|| panic!("cut short: {line}"));
            let mut k = 0;
            loop {
                let start = k;
                while at(k) != '=' {
                    k += 1;
                }
                let label: String = chars[start..k].iter().collect();
                assert!(valid_name(&label), "{line}");
                assert_eq!(at(k + 1), '"', "{line}");
                k += 2;
                let mut value = String::new();
                loop {
                    match at(k) {
                        '\\' => {
                            value.push(match at(k + 1) {
                                '\\' => '\\',
                                '"' => '"',
                                'n' => '\n',
                                other => panic!("bad escape {other:?}: {line}"),
                            });
                            k += 2;
                        }
                        '"' => {
                            k += 1;
                            break;
                        }
                        c => {
                            value.push(c);
                            k += 1;
                        }
                    }
                }
                labels.push((label, value));
                k += 1;
                match at(k - 1) {
                    ',' => {}
                    '}' => break,
                    _ => panic!("{line}"),
                }
            }
            rest = chars[k..].iter().collect();
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        assert!(
            samples.insert((name.to_owned(), labels), value).is_none(),
            "sample twice: {line}"
        );
    }
    samples
}

fn metric(
    samples: &std::collections::BTreeMap<Sample, f64>,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples.get(&(name.to_owned(), labels)).copied()
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

async fn get(http: &reqwest::Client, address: SocketAddr, path: &str) -> Answer {
    let r = http.get(format!("http://{address}{path}")).send().await.unwrap();
    answer(r).await
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: r.text().await.unwrap(),
    }
}

async fn push(
    http: &reqwest::Client,
    address: SocketAddr,
    body: Vec<u8>,
    signature: Option<String>,
) -> Answer {
    let mut request = http
        .post(format!("http://{address}/push/bol"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Signature", signature);
    }
    answer(request.send().await.unwrap()).await
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

fn subscriptions(url: &str, enabled: bool) -> serde_json::Value {
    serde_json::json!({"subscriptions": [{
        "id": "1", "resources": ["ORDER", "PROCESS_STATUS", "SHIPMENT"], "url": url,
        "subscriptionType": "WEBHOOK", "enabled": enabled
    }]})
}

async fn quiet_sandbox() -> Sandbox {
    commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// The server answers its health, readiness and metrics; a signed delivery is accepted
/// and journaled once (its re-delivery a duplicate); forged, stale and oversized ones are
/// refused with a 4xx, counted by reason, and none is journaled; unknown routes 404, wrong
/// methods 405; SIGTERM stops it with exit 0 within the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_signed_deliveries_refuses_forged_ones_and_answers_health_and_metrics() {
    let sb = quiet_sandbox().await;
    let (pair, public) = key();
    let bol = bol(&public, subscriptions("https://shop.example/push/bol", true)).await;
    let dir = temp_dir("serve");
    let mut child = serve(&sb, &bol, &dir, &[], None);
    let address = address(&dir, &mut child);
    let http = reqwest::Client::new();

    let health = get(&http, address, "/healthz").await;
    assert_eq!(health.status, 200, "{}", log(&dir));
    let ready = get(&http, address, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (200, "ready\n"),
        "{}",
        log(&dir)
    );
    assert_eq!(get(&http, address, "/nowhere").await.status, 404);
    assert_eq!(get(&http, address, "/push/bol").await.status, 405);

    // A signed delivery, then bol's re-delivery of the same body.
    let now = chrono::Utc::now();
    let body = delivery("SHIPMENT", "UPDATE_TRANSPORT_EVENT", Some("914587795"), now);
    let good = signature_header("0", &sign(&pair, &body));
    let first = push(&http, address, body.clone(), Some(good.clone())).await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, r#"{"status":"accepted"}"#),
        "{}",
        log(&dir)
    );
    let again = push(&http, address, body.clone(), Some(good.clone())).await;
    assert_eq!(
        (again.status, again.body.as_str()),
        (200, r#"{"status":"duplicate"}"#)
    );

    // Forged: the body changed after signing, another key under bol's key id, no
    // signature, a garbled one, another algorithm; a stale delivery correctly signed; one
    // too large.
    let (other, _) = key();
    let new_order = delivery("ORDER", "ORDER_CREATED", Some("9000000001"), now);
    let mut altered = body.clone();
    let at = altered.len() - 5;
    altered[at] = b'9';
    let stale = delivery(
        "ORDER",
        "ORDER_CREATED",
        Some("9000000002"),
        now - chrono::Duration::hours(2),
    );
    let stale_signature = signature_header("0", &sign(&pair, &stale));
    let forged: Vec<(&str, Vec<u8>, Option<String>, u16)> = vec![
        ("altered", altered, Some(good.clone()), 401),
        (
            "another key",
            new_order.clone(),
            Some(signature_header("0", &sign(&other, &new_order))),
            401,
        ),
        ("no signature", new_order.clone(), None, 401),
        (
            "garbled",
            new_order.clone(),
            Some("keyId=0, signature".into()),
            401,
        ),
        (
            "another algorithm",
            new_order.clone(),
            Some(format!(
                "keyId=0, algorithm=\"hmac-sha256\", signature={}",
                sign(&pair, &new_order)
            )),
            401,
        ),
        // Signed by bol: answered 200 (refusing would have bol retry, then disable the
        // subscription), counted as refused, never journaled.
        ("stale", stale, Some(stale_signature), 200),
        (
            "too large",
            vec![b' '; 70 * 1024],
            Some(signature_header("0", "AAAA")),
            413,
        ),
    ];
    for (what, body, signature, status) in forged {
        let refused = push(&http, address, body, signature).await;
        assert_eq!(refused.status, status, "{what}: {}\n{}", refused.body, log(&dir));
        assert!(
            !refused.body.contains("9000000001"),
            "{what}: the body is never echoed"
        );
    }

    // A body sent slower than bol would: 408 after 5 s, the connection let go.
    let slow = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream
            .write_all(b"POST /push/bol HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"retailerId\"")
            .unwrap();
        let started = Instant::now();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        (answer, started.elapsed())
    })
    .await
    .unwrap();
    assert!(slow.0.starts_with("HTTP/1.1 408"), "{slow:?}");
    assert!(slow.1 < Duration::from_secs(15), "{slow:?}");

    // The metrics parse; the deliveries are counted; pushes are counted on once the
    // subscription was read.
    let deadline = Instant::now() + Duration::from_secs(20);
    let samples = loop {
        let page = get(&http, address, "/metrics").await;
        assert_eq!(page.status, 200);
        assert_eq!(page.content_type, "text/plain; version=0.0.4");
        let samples = parse_metrics(&page.body);
        if metric(&samples, "commerce_push_active", &[]) == Some(1.0) {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "push never active:\n{}\n{}",
            page.body,
            log(&dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let outcome = |o: &str| metric(&samples, "commerce_push_deliveries_total", &[("outcome", o)]);
    assert_eq!(outcome("accepted"), Some(1.0));
    assert_eq!(outcome("duplicate"), Some(1.0));
    assert_eq!(outcome("refused"), Some(8.0));
    let reason = |r: &str| metric(&samples, "commerce_push_refused_total", &[("reason", r)]).unwrap_or(0.0);
    assert_eq!(reason("too_large"), 1.0);
    assert_eq!(reason("stale"), 1.0);
    assert_eq!(reason("slow_body"), 1.0);
    assert_eq!(reason("no_signature"), 1.0);
    assert_eq!(metric(&samples, "commerce_journal_up", &[]), Some(1.0));
    assert_eq!(metric(&samples, "commerce_orders_needing_person", &[]), Some(0.0));
    assert!(metric(&samples, "commerce_provider_calls_total", &[("provider", "bol")]).unwrap() >= 2.0);
    assert!(
        metric(
            &samples,
            "commerce_provider_token_requests_total",
            &[("provider", "bol")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(metric(&samples, "commerce_events_unhandled", &[]).is_some());
    let text = log(&dir);
    assert!(
        text.contains("push: accepted SHIPMENT:UPDATE_TRANSPORT_EVENT 914587795"),
        "{text}"
    );
    assert!(
        text.contains("bol pushes ORDER, PROCESS_STATUS, SHIPMENT to https://shop.example/push/bol"),
        "{text}"
    );

    // A delivery bol signed that does not read as documented: answered 200 (refusing it
    // would have bol disable the subscription), never journaled, and pushes are no longer
    // counted on (the listing goes back to --poll-interval), with a warning.
    let unreadable = b"<event>not the documented JSON</event>".to_vec();
    let signature = signature_header("0", &sign(&pair, &unreadable));
    let answered = push(&http, address, unreadable, Some(signature)).await;
    assert_eq!(answered.status, 200, "{}", answered.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = get(&http, address, "/metrics").await;
        if metric(&parse_metrics(&page.body), "commerce_push_active", &[]) == Some(0.0)
            && log(&dir).contains("read as documented")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{}\n{}", page.body, log(&dir));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM: the server stops accepting, the runner stops cleanly, exit 0.
    let started = Instant::now();
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", log(&dir));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(log(&dir).contains("SIGTERM: stopping cleanly"), "{}", log(&dir));

    // One event journaled: the signed one; nothing of the forged ones.
    let journal = SqliteJournal::open_read_only(&dir.join("journal.sqlite")).unwrap();
    let stats = journal.event_stats().await.unwrap();
    assert_eq!(stats.received, 1, "{stats:?}");
    let events = journal.unhandled_events("bol", 10).await.unwrap();
    assert!(
        events.iter().all(|e| e.kind == "SHIPMENT:UPDATE_TRANSPORT_EVENT"),
        "{events:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A disabled subscription: the warning names the command that enables it again, and
/// pushes are not counted on (new orders are polled every --poll-interval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_subscription_is_warned_about_with_the_command_to_run() {
    let sb = quiet_sandbox().await;
    let (_, public) = key();
    let bol = bol(&public, subscriptions("https://shop.example/push/bol", false)).await;
    let dir = temp_dir("serve-disabled");
    let mut child = serve(&sb, &bol, &dir, &[], None);
    let address = address(&dir, &mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log(&dir).contains("is disabled") {
        assert!(Instant::now() < deadline, "{}", log(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        log(&dir).contains("run `commerce subscribe --url https://shop.example/push/bol`"),
        "{}",
        log(&dir)
    );
    let page = get(&reqwest::Client::new(), address, "/metrics").await;
    assert_eq!(
        metric(&parse_metrics(&page.body), "commerce_push_active", &[]),
        Some(0.0)
    );
    signal(&child, "INT");
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(30)).and_then(|s| s.code()),
        Some(0),
        "{}",
        log(&dir)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Standard output closed (`commerce serve | head -n 1`): the server goes on answering,
/// without a panic, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_does_not_stop_the_server() {
    let sb = quiet_sandbox().await;
    let (_, public) = key();
    let bol = bol(&public, subscriptions("https://shop.example/push/bol", true)).await;
    let dir = temp_dir("serve-pipe");
    let mut child = serve(&sb, &bol, &dir, &[], Some(Stdio::piped()));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let address = address_in(&first).unwrap_or_else(|| panic!("{first}"));
    drop(stdout);
    let http = reqwest::Client::new();
    // Each refused delivery prints a line: the first finds standard output closed.
    for _ in 0..3 {
        let refused = push(&http, address, b"{}".to_vec(), None).await;
        assert_eq!(refused.status, 401);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log(&dir).contains("standard output is closed") {
        assert!(Instant::now() < deadline, "{}", log(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&http, address, "/healthz").await.status, 200);
    assert_eq!(get(&http, address, "/readyz").await.status, 200);
    assert!(child.try_wait().unwrap().is_none(), "{}", log(&dir));
    signal(&child, "TERM");
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(30)).and_then(|s| s.code()),
        Some(0),
        "{}",
        log(&dir)
    );
    assert!(!log(&dir).contains("panicked"), "{}", log(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--listen` is operator input: an address that does not parse is a usage error (64)
/// with the reason; one in use is named, with the flag to change it.
#[test]
fn a_bad_or_busy_listen_address_is_refused_before_anything_runs() {
    let journal: PathBuf = support::temp_journal("serve-listen");
    let out = support::commerce(&journal, &["serve", "--listen", "nonsense"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("`nonsense` is not an address to listen on"),
        "{}",
        text(&out)
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let out = support::commerce(&journal, &["serve", "--listen", &address]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("cannot listen on {address}: the address is in use")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--listen ADDR"), "{}", text(&out));
    // Nothing ran: no journal was created.
    assert!(!journal.exists());
}

/// `commerce subscribe`: a plain http:// URL to another host, or a resource bol does not
/// have, is refused (64) before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_refuses_a_clear_text_url_or_an_unknown_resource_before_any_call() {
    let server = MockServer::start_async().await;
    let anything = server
        .mock_async(|_, then| {
            then.status(500);
        })
        .await;
    let journal = support::temp_journal("subscribe");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_commerce"))
            .arg("--journal")
            .arg(&journal)
            .args(args)
            .env("RETAILER_CLIENT_ID", "id")
            .env("RETAILER_CLIENT_SECRET", "secret")
            .env("RETAILER_API_URL", server.base_url())
            .env("RETAILER_TOKEN_URL", server.url("/token"))
            .env_remove("COMMERCE_JOURNAL")
            .output()
            .unwrap()
    };
    let out = run(&["subscribe", "--url", "http://example.com/push/bol"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("refusing plain http:// to `example.com`"),
        "{}",
        text(&out)
    );
    let out = run(&[
        "subscribe",
        "--url",
        "https://shop.example/push/bol",
        "--resources",
        "ORDER,PROCES_STATUS",
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("PROCESS_STATUS"), "{}", text(&out));
    let out = run(&["subscribe"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert_eq!(anything.calls_async().await, 0, "nothing is sent");
}

/// The issue's end to end, with the sandbox pushing as bol does (and forging a delivery
/// after each real one): `commerce subscribe` makes the subscription and bol's test push
/// reaches `commerce serve`; a buyer's new order is then handed over within seconds of its
/// creation although new orders are polled only every hour; every forged delivery is
/// refused and none is acted upon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sandbox_pushing_a_new_order_is_handed_over_within_seconds_without_a_poll() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        faults: 0.0,
        cancellation_requests: 0.0,
        process_after: Some(Duration::from_secs(1)),
        push_forged: 1.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("serve-sandbox");
    let mut child = serve_on(&sb, &dir, "127.0.0.1:0", "serve.log");
    let address = address(&dir, &mut child);
    let subscribed = subscribe(&sb, &dir, format!("http://{address}/push/bol")).await;
    assert!(
        subscribed.status.success(),
        "{}\n{}",
        text(&subscribed),
        log(&dir)
    );
    assert!(
        text(&subscribed).contains("bol sent its test push"),
        "{}",
        text(&subscribed)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log(&dir).contains("push: accepted TEST:TEST") {
        assert!(Instant::now() < deadline, "no test push:\n{}", log(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A buyer orders now; the order is handed over within seconds, no listing due.
    let offer = sb
        .offers()
        .into_iter()
        .find(|o| !o.fbb && o.free >= 1)
        .expect("an offer with free stock");
    let placed = Instant::now();
    let order = sb.place_order(&offer.ean, 1).unwrap();
    let key = format!("bol:{order}");
    let handed_over = loop {
        let j = SqliteJournal::open_read_only(&dir.join("journal.sqlite")).unwrap();
        if j.load(&key)
            .await
            .unwrap()
            .is_some_and(|r| r.submission.is_done())
        {
            break placed.elapsed();
        }
        assert!(
            placed.elapsed() < Duration::from_secs(30),
            "{key} not handed over:\n{}",
            log(&dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        handed_over < Duration::from_secs(10),
        "{handed_over:?}\n{}",
        log(&dir)
    );
    assert!(
        log(&dir).contains(&format!("push: accepted ORDER:ORDER_CREATED {order}")),
        "{}",
        log(&dir)
    );
    // The operator sees the pushed events and the reconciliation in `status`.
    let journal = dir.join("journal.sqlite");
    let status = support::text(&support::commerce(&journal, &["status"]));
    assert!(status.contains("pushed events: "), "{status}");
    assert!(status.contains("reconciliation bol: "), "{status}");
    let status = support::json(&support::commerce(&journal, &["--json", "status"]));
    assert!(status["events"]["received"].as_u64().unwrap() >= 2, "{status}");

    // Forged deliveries followed the real ones: refused, none acted upon.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sb.report().push.forged_sent < 2 {
        assert!(Instant::now() < deadline, "{:#?}", sb.report().push);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(60));
    assert!(
        matches!(status.and_then(|s| s.code()), Some(0 | 2)),
        "{status:?}\n{}",
        log(&dir)
    );
    let push = sb.report().push;
    // A stale delivery (bol's own signature over an old body) may be answered 200: it is
    // never acted upon either.
    assert_eq!(push.forged_acknowledged, 0, "{push:#?}");
    assert_eq!(push.forged_acted_upon, 0, "{push:#?}");
    assert!(log(&dir).contains("push: refused"), "{}", log(&dir));
    eprintln!("new order handed over {handed_over:?} after its creation (push)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `commerce serve` killed (`kill -9`) with bol pushing: the orders placed while it is down
/// are not lost (bol delivers again, the next start lists them) and none is handed over
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_order_bol_delivers_again() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        faults: 0.0,
        cancellation_requests: 0.0,
        process_after: Some(Duration::from_secs(1)),
        // bol's ten retries over ten minutes, in twenty seconds.
        push_retry_scale: 30.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("serve-killed");
    let start = |listen: &str, log_name: &str| serve_on(&sb, &dir, listen, log_name);
    let mut first = start("127.0.0.1:0", "serve.log");
    let address = address(&dir, &mut first);
    let subscribed = subscribe(&sb, &dir, format!("http://{address}/push/bol")).await;
    assert!(subscribed.status.success(), "{}", text(&subscribed));
    let offers: Vec<_> = sb
        .offers()
        .into_iter()
        .filter(|o| !o.fbb && o.free >= 1)
        .collect();
    let before = sb.place_order(&offers[0].ean, 1).unwrap();
    let handed_over = |key: String| {
        let journal = dir.join("journal.sqlite");
        async move {
            let j = SqliteJournal::open_read_only(&journal).unwrap();
            j.load(&key)
                .await
                .unwrap()
                .is_some_and(|r| r.submission.is_done())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !handed_over(format!("bol:{before}")).await {
        assert!(Instant::now() < deadline, "{}", log(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Killed: no clean-up. A buyer orders while it is down: bol's delivery fails, and is
    // retried.
    first.kill().unwrap();
    first.wait().unwrap();
    let during = sb.place_order(&offers[offers.len() - 1].ean, 1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.report().push.retried == 0 {
        assert!(Instant::now() < deadline, "{:#?}", sb.report().push);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Started again on the same address: the re-delivery is taken, the order handed over.
    let mut second = start(&address.to_string(), "serve-again.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handed_over(format!("bol:{during}")).await {
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(dir.join("serve-again.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let again = || std::fs::read_to_string(dir.join("serve-again.log")).unwrap_or_default();
    while !again().contains(&format!("ORDER:ORDER_CREATED {during}")) {
        assert!(
            Instant::now() < deadline,
            "no re-delivery:\n{}\n{:#?}",
            again(),
            sb.report().push
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&second, "TERM");
    let status = wait_for(&mut second, Duration::from_secs(60));
    assert!(
        matches!(status.and_then(|s| s.code()), Some(0 | 2)),
        "{status:?}\n{}",
        again()
    );
    let report = sb.report();
    assert_eq!(report.total_duplicates(), 0, "{report:#?}");
    assert_eq!(report.push.subscriptions_disabled, 0, "{:#?}", report.push);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The push endpoint down long enough for bol to give up and disable the subscription:
/// started again, `commerce serve` says the subscription is disabled with the command that
/// enables it and lists bol's open orders: the order placed meanwhile is handed over once
/// (the reconciliation pass, at the first start, is in the metrics); `commerce subscribe` then enables the subscription again and bol's
/// test push arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_push_endpoint_down_the_subscription_is_disabled_and_nothing_is_lost() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        faults: 0.0,
        cancellation_requests: 0.0,
        process_after: Some(Duration::from_secs(1)),
        // bol's ten retries over ten minutes, in one second.
        push_retry_scale: 600.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("serve-down");
    let start = |listen: &str, log_name: &str| serve_on(&sb, &dir, listen, log_name);
    let mut first = start("127.0.0.1:0", "serve.log");
    let address = address(&dir, &mut first);
    let url = format!("http://{address}/push/bol");
    let subscribed = subscribe(&sb, &dir, url.clone()).await;
    assert!(subscribed.status.success(), "{}", text(&subscribed));
    // The test push arrived; the first reconciliation pass ran at the start.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = get(&http, address, "/metrics").await;
        let reconciled = metric(
            &parse_metrics(&page.body),
            "commerce_last_reconciliation_timestamp_seconds",
            &[],
        )
        .is_some();
        if reconciled && log(&dir).contains("push: accepted TEST:TEST") {
            break;
        }
        assert!(Instant::now() < deadline, "{}\n{}", page.body, log(&dir));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&first, "TERM");
    assert!(matches!(
        wait_for(&mut first, Duration::from_secs(60)).and_then(|s| s.code()),
        Some(0 | 2)
    ));

    // Down: a buyer orders; bol's delivery fails through its last retry and bol disables
    // the subscription.
    let offer = sb
        .offers()
        .into_iter()
        .find(|o| !o.fbb && o.free >= 1)
        .expect("an offer with free stock");
    let order = sb.place_order(&offer.ean, 1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sb.report().push.subscriptions_disabled == 0 {
        assert!(Instant::now() < deadline, "{:#?}", sb.report().push);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut second = start(&address.to_string(), "serve-again.log");
    let again = || std::fs::read_to_string(dir.join("serve-again.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !again().contains("listening on") {
        assert!(Instant::now() < deadline, "{}", again());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = format!("bol:{order}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = SqliteJournal::open_read_only(&dir.join("journal.sqlite")).unwrap();
        let handed = j
            .load(&key)
            .await
            .unwrap()
            .is_some_and(|r| r.submission.is_done());
        let page = get(&http, address, "/metrics").await;
        let samples = parse_metrics(&page.body);
        let listed = metric(
            &samples,
            "commerce_last_successful_listing_timestamp_seconds",
            &[],
        )
        .is_some();
        if handed && listed && again().contains("is disabled") {
            assert_eq!(metric(&samples, "commerce_push_active", &[]), Some(0.0));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{handed} {listed}\n{}\n{}",
            page.body,
            again()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again().contains(&format!("run `commerce subscribe --url {url}`")),
        "{}",
        again()
    );
    // The operator runs what it says: enabled again, bol's test push arrives.
    let subscribed = subscribe(&sb, &dir, url.clone()).await;
    assert!(subscribed.status.success(), "{}", text(&subscribed));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !again().contains("push: accepted TEST:TEST") {
        assert!(Instant::now() < deadline, "{}", again());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // That verified delivery has the subscriptions looked at again (at most once a
    // minute, not at the next hourly look): pushes are counted on.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let page = get(&http, address, "/metrics").await;
        if metric(&parse_metrics(&page.body), "commerce_push_active", &[]) == Some(1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "{}\n{}", page.body, again());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        again().contains("bol pushes ORDER, PROCESS_STATUS, SHIPMENT to"),
        "{}",
        again()
    );
    signal(&second, "TERM");
    let status = wait_for(&mut second, Duration::from_secs(60));
    assert!(
        matches!(status.and_then(|s| s.code()), Some(0 | 2)),
        "{status:?}\n{}",
        again()
    );
    let report = sb.report();
    assert_eq!(report.total_duplicates(), 0, "{report:#?}");
    assert_eq!(report.push.enabled_subscriptions, 1, "{:#?}", report.push);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// bol's signature keys slow to come: the delivery is answered 503 within the 3 s bound (bol
/// delivers again), and its re-delivery, once the keys are in, is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_not_verified_within_3_s_is_answered_503_and_its_redelivery_accepted() {
    let sb = quiet_sandbox().await;
    let (pair, public) = key();
    let bol = bol_answering_keys_after(
        &public,
        subscriptions("https://shop.example/push/bol", true),
        Duration::from_secs(5),
    )
    .await;
    let dir = temp_dir("serve-slow-keys");
    let mut child = serve(&sb, &bol, &dir, &[], None);
    let address = address(&dir, &mut child);
    let http = reqwest::Client::new();
    let body = delivery("ORDER", "ORDER_CREATED", Some("1043946570"), chrono::Utc::now());
    let signature = signature_header("0", &sign(&pair, &body));
    let started = Instant::now();
    let first = push(&http, address, body.clone(), Some(signature.clone())).await;
    let took = started.elapsed();
    assert_eq!(first.status, 503, "{}\n{}", first.body, log(&dir));
    assert!(first.body.contains("within 3 s"), "{}", first.body);
    assert!(took < Duration::from_millis(4500), "{took:?}");
    // bol delivers again later: the keys read in the meantime, it is accepted.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = push(&http, address, body.clone(), Some(signature.clone())).await;
        if again.status == 200 {
            assert_eq!(again.body, r#"{"status":"accepted"}"#);
            break;
        }
        assert_eq!(again.status, 503, "{}", again.body);
        assert!(Instant::now() < deadline, "{}", log(&dir));
    }
    let page = get(&http, address, "/metrics").await;
    let samples = parse_metrics(&page.body);
    let outcome = |o: &str| metric(&samples, "commerce_push_deliveries_total", &[("outcome", o)]);
    assert_eq!(outcome("accepted"), Some(1.0));
    assert!(outcome("unavailable").unwrap() >= 1.0);
    assert_eq!(outcome("refused"), Some(0.0));
    signal(&child, "TERM");
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(30)).and_then(|s| s.code()),
        Some(0),
        "{}",
        log(&dir)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--json`: the first line names the address, each delivery is a JSON line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_every_line_is_json() {
    let sb = quiet_sandbox().await;
    let (_, public) = key();
    let bol = bol(&public, subscriptions("https://shop.example/push/bol", true)).await;
    let dir = temp_dir("serve-json");
    let mut child = serve(&sb, &bol, &dir, &["--json"], None);
    let deadline = Instant::now() + Duration::from_secs(30);
    let address: SocketAddr = loop {
        let first = log(&dir).lines().next().map(str::to_owned);
        if let Some(line) = first.filter(|l| l.ends_with('}')) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(v["event"], "listening", "{line}");
            break v["address"].as_str().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "{}", log(&dir));
        std::thread::sleep(Duration::from_millis(20));
    };
    let refused = push(&reqwest::Client::new(), address, b"{}".to_vec(), None).await;
    assert_eq!(refused.status, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(line) = log(&dir).lines().find(|l| l.contains(r#""event":"push""#)) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "{}", log(&dir));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["reason"].as_str()),
        (Some("refused"), Some("no_signature"))
    );
    signal(&child, "TERM");
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(30)).and_then(|s| s.code()),
        Some(0),
        "{}",
        log(&dir)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
