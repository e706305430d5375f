//! Issue 27, "fail fast on what cannot pass": credentials refused, a token URL answering
//! 404, TLS to a plain-HTTP port and a base URL that is not the provider's API stop the
//! provider's work at once (`Error::stops_provider`, never retryable, never retried), with
//! at most two token requests per refused credential per process; a variable set to
//! something that is not UTF-8 is named as such.

use commerce_testing as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use commerce_core::{
    ClientCredentials, Endpoint, Error, HttpClient, RetryPolicy, SharedState, TokenAuth, TokenCache,
    Transport,
};
use support::{Reply, ScriptedServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Retries as a client has them, so a test shows that what cannot pass is not retried.
fn retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(5)
        .with_delays(Duration::from_millis(250), Duration::from_secs(4))
        .with_seed(7)
}

fn client(http: &HttpClient, api: &str, token_url: &str) -> Transport {
    client_in(http, None, api, token_url)
}

/// [`client`], its token and rate budgets kept in `shared` when given.
fn client_in(http: &HttpClient, shared: Option<SharedState>, api: &str, token_url: &str) -> Transport {
    let tokens = TokenCache::new(
        ClientCredentials::new(
            http,
            "shop",
            token_url,
            "my-client",
            "wr0ng-secret".to_owned().into(),
        )
        .unwrap(),
    )
    .with_store(shared.as_ref().map(|s| s.tokens.clone()));
    Transport::builder(http, "shop", api)
        .auth(TokenAuth::bearer(tokens))
        .retry(retries())
        .shared(shared)
        .build()
        .unwrap()
}

fn plain(api: &str) -> Transport {
    Transport::builder(&support::paused_time_http(), "shop", api)
        .retry(retries())
        .build()
        .unwrap()
}

/// Ten calls one after the other, a minute apart (a run goes on; past every cool-down and
/// the ceiling's window), then eight at once on clones: every error, and the longest a
/// call took (paused time: a backoff or cool-down wait would show).
async fn many_calls(transport: &Transport) -> (Vec<Error>, Duration) {
    let mut errors = Vec::new();
    let mut longest = Duration::ZERO;
    for _ in 0..10 {
        let start = Instant::now();
        errors.push(
            transport
                .send(&Endpoint::get("orders.list", "orders"))
                .await
                .unwrap_err(),
        );
        longest = longest.max(start.elapsed());
        tokio::time::advance(Duration::from_secs(61)).await;
    }
    let start = Instant::now();
    let concurrent = futures_util::future::join_all((0..8).map(|_| {
        let t = transport.clone();
        async move { t.send(&Endpoint::get("orders.list", "orders")).await.unwrap_err() }
    }))
    .await;
    errors.extend(concurrent);
    (errors, longest.max(start.elapsed()))
}

fn assert_all_stop(errors: &[Error]) {
    for e in errors {
        assert!(e.stops_provider(), "{e:?}");
        assert!(!e.is_retryable(), "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_client_secret_is_asked_for_once_per_process_memory_and_shared_store() {
    for shared in [false, true] {
        let tokens = ScriptedServer::start(vec![Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"Bad client credentials"}"#,
        )])
        .await;
        let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
        let http = support::paused_time_http();
        let state = shared.then(SharedState::in_memory);
        let transport = client_in(&http, state, &api.url, &format!("{}/token", tokens.url));
        let (errors, took) = many_calls(&transport).await;
        assert_all_stop(&errors);
        assert!(errors.iter().all(Error::is_auth), "{errors:?}");
        assert_eq!(errors[17].provider_code(), Some("invalid_client"));
        assert!(
            tokens.count() <= 2,
            "shared {shared}: {} token requests",
            tokens.count()
        );
        assert_eq!(api.count(), 0);
        assert!(took < Duration::from_secs(1), "shared {shared}: took {took:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_api_refusing_fresh_tokens_costs_two_token_requests_per_process() {
    for shared in [false, true] {
        let tokens = ScriptedServer::start(vec![Reply::json(
            200,
            r#"{"access_token":"tok","token_type":"bearer","expires_in":299}"#,
        )])
        .await;
        let api = ScriptedServer::start(vec![Reply::json(401, r#"{"error":"invalid_token"}"#)]).await;
        let http = support::paused_time_http();
        let state = shared.then(SharedState::in_memory);
        let transport = client_in(&http, state, &api.url, &format!("{}/token", tokens.url));
        let (errors, took) = many_calls(&transport).await;
        assert_all_stop(&errors);
        assert!(errors.iter().all(Error::is_auth), "{errors:?}");
        assert!(
            tokens.count() <= 2,
            "shared {shared}: {} token requests",
            tokens.count()
        );
        // The first token, and the one renewed once after it was refused.
        assert_eq!(api.count(), 2, "shared {shared}");
        assert!(took < Duration::from_secs(1), "shared {shared}: took {took:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_url_answering_404_is_a_configuration_error_naming_the_url_without_its_query() {
    let tokens = ScriptedServer::start(vec![Reply::Respond {
        status: 404,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html><body>Not Found</body></html>".into(),
    }])
    .await;
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let token_url = format!("{}/tokn?tenant=q-S3CRET", tokens.url);
    let transport = client(&support::paused_time_http(), &api.url, &token_url);
    let (errors, took) = many_calls(&transport).await;
    assert_all_stop(&errors);
    let err = &errors[0];
    assert!(matches!(err, Error::Misconfigured { .. }), "{err:?}");
    assert!(
        !err.is_auth(),
        "a configuration error, not an authentication one: {err:?}"
    );
    assert_eq!(err.status(), Some(404));
    let port = tokens.url.rsplit(':').next().unwrap();
    insta::assert_snapshot!(err.to_string().replace(port, "PORT"), @"shop token: configuration error: the token URL `http://127.0.0.1:PORT/tokn` answered HTTP 404 (no token endpoint there): check the token URL");
    assert!(!format!("{err:?}").contains("S3CRET"));
    assert_eq!(tokens.count(), 1, "no token request after the first 404");
    assert_eq!(api.count(), 0);
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// A loopback port that speaks plain HTTP/1.1 (whatever it is sent, it answers 400 and
/// closes), and how many connections it took.
async fn plain_http_port() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Request")
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("https://{addr}"), connections)
}

#[tokio::test]
async fn https_to_a_plain_http_port_fails_at_once_and_says_tls() {
    let (url, connections) = plain_http_port().await;
    let http = HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(Duration::from_secs(5)));
    let api = Transport::builder(&http, "shop", &format!("{url}/api?key=k-S3CRET"))
        .retry(retries())
        .build();
    // A base URL with a query is refused when built; without it, the TLS failure shows.
    assert!(api.is_err());
    let api = Transport::builder(&http, "shop", &format!("{url}/api"))
        .retry(retries())
        .build()
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        api.send(&Endpoint::get("orders.list", "orders")),
    )
    .await
    .expect("no retries")
    .unwrap_err();
    assert!(matches!(err, Error::Misconfigured { .. }), "{err:?}");
    assert!(err.stops_provider() && !err.is_retryable(), "{err:?}");
    assert!(!err.may_have_reached_server(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("TLS handshake with https://127.0.0.1:"), "{shown}");
    assert!(
        shown.contains("check the scheme and port of the base URL"),
        "{shown}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");

    // The same at the token URL: a configuration error of the token request, asked once.
    let api_server = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let transport = client(&http, &api_server.url, &format!("{url}/token?tenant=q-S3CRET"));
    for _ in 0..3 {
        let err = tokio::time::timeout(
            Duration::from_secs(10),
            transport.send(&Endpoint::get("orders.list", "orders")),
        )
        .await
        .expect("no retries")
        .unwrap_err();
        assert!(
            matches!(&err, Error::Misconfigured { endpoint, .. } if endpoint == "token"),
            "{err:?}"
        );
        assert!(err.stops_provider() && !err.is_retryable(), "{err:?}");
        assert!(err.to_string().contains("token URL"), "{err}");
        assert!(!format!("{err} {err:?}").contains("S3CRET"), "{err:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2, "one token request");
    assert_eq!(api_server.count(), 0);
}

fn html_404() -> Reply {
    Reply::Respond {
        status: 404,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html><head><title>404 Not Found</title></head><body>nginx</body></html>".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_base_url_answering_404_html_stops_the_provider_and_an_apis_not_found_does_not() {
    // Every call answered by a web server that is not the API: stop, naming the base URL.
    let wrong = ScriptedServer::start(vec![html_404()]).await;
    let t = plain(&format!("{}/wrong/v1", wrong.url));
    for _ in 0..3 {
        let err = t
            .send(&Endpoint::get("orders.get", "orders/1"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Misconfigured { .. }), "{err:?}");
        assert!(err.stops_provider() && !err.is_retryable(), "{err:?}");
        assert_eq!(err.status(), Some(404));
        let port = wrong.url.rsplit(':').next().unwrap();
        assert_eq!(
            err.to_string().replace(port, "PORT"),
            "shop orders.get: configuration error: the base URL `http://127.0.0.1:PORT/wrong/v1/` \
             answered HTTP 404 with something that is not the provider's API (not JSON) before any \
             call of this client succeeded: check the base URL"
        );
    }
    assert_eq!(wrong.count(), 3, "each call sent once");
    // An empty 404 is no API's answer either.
    let empty = ScriptedServer::start(vec![Reply::status(404)]).await;
    let err = plain(&empty.url)
        .send(&Endpoint::get("orders.get", "orders/1"))
        .await
        .unwrap_err();
    assert!(err.stops_provider(), "{err:?}");

    // The API's own "not found" comes as JSON: a provider error as before.
    let api = ScriptedServer::start(vec![Reply::json(404, r#"{"detail":"Order 1 not found."}"#)]).await;
    let err = plain(&api.url)
        .send(&Endpoint::get("orders.get", "orders/1"))
        .await
        .unwrap_err();
    assert!(!err.stops_provider() && !err.is_retryable(), "{err:?}");
    assert_eq!(
        err.as_provider_error().unwrap().message.as_deref(),
        Some("Order 1 not found.")
    );

    // Once a call succeeded, the base URL is right: a later HTML 404 is that endpoint's.
    let api = ScriptedServer::start(vec![Reply::json(200, "{}"), html_404()]).await;
    let t = plain(&api.url);
    t.send(&Endpoint::get("orders.list", "orders")).await.unwrap();
    let err = t
        .send(&Endpoint::get("orders.get", "orders/1"))
        .await
        .unwrap_err();
    assert!(!err.stops_provider(), "{err:?}");
    assert!(err.as_provider_error().is_some(), "{err:?}");
}

const CHILD: &str = "CC_FAIL_FAST_CHILD";
const SECRET_VAR: &str = "CC_FAIL_FAST_CLIENT_SECRET";

/// Runs in a child process with `CC_FAIL_FAST_CLIENT_SECRET` set to bytes that are not
/// UTF-8 (edition 2024 makes changing this process's environment unsafe); a no-op
/// otherwise.
#[test]
fn child_reads_a_variable_that_is_not_utf8() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert_eq!(commerce_core::env_optional(SECRET_VAR), None);
    let err = commerce_core::required_var(&commerce_core::env_optional, SECRET_VAR).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("configuration error: the variable {SECRET_VAR} is set but is not valid UTF-8")
    );
    let err = commerce_core::optional_var(&commerce_core::env_optional, SECRET_VAR).unwrap_err();
    assert!(
        err.to_string().ends_with("is set but is not valid UTF-8"),
        "{err}"
    );
    assert!(!err.to_string().contains("not set"), "{err}");
}

#[test]
fn a_variable_that_is_not_utf8_is_named_as_such() {
    use std::os::unix::ffi::OsStrExt as _;
    // The test's name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let child = format!("{module}::child_reads_a_variable_that_is_not_utf8");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child.as_str(), "--test-threads=1"])
        .env(CHILD, "1")
        .env(SECRET_VAR, std::ffi::OsStr::from_bytes(b"wr0ng-\xff-secret"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
