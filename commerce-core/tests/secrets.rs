//! No secret ever shows: not in `Debug`, not in errors, not in traces at TRACE level.

use commerce_testing as support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    AuthTicket, Authenticator, ClientCredentials, Endpoint, Error, ExposeSecret, HttpClient, OutgoingRequest,
    RetryPolicy, SecretString, TokenAuth, TokenCache, Transport,
};
use serde::Deserialize;
use support::{Reply, ScriptedServer};

const CLIENT_SECRET: &str = "cs-SECRET-1";
const ACCESS_TOKEN: &str = "tok-SECRET-2";
const QUERY_KEY: &str = "ck-SECRET-3";
const PASSWORD: &str = "pw-SECRET-4";
const SECRETS: [&str; 4] = [CLIENT_SECRET, ACCESS_TOKEN, QUERY_KEY, PASSWORD];

/// An API key in the query (as Sitejabber's `client_token`) on top of a bearer token.
#[derive(Debug)]
struct QueryKey {
    key: SecretString,
    bearer: TokenAuth,
}

#[async_trait]
impl Authenticator for QueryKey {
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        request.add_query("client_token", self.key.expose_secret());
        self.bearer.authorize(request).await
    }

    async fn invalidate(&self, ticket: &AuthTicket) -> bool {
        self.bearer.invalidate(ticket).await
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Data {
    count: u32,
}

#[tokio::test]
async fn no_secret_reaches_debug_errors_or_traces() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let token_server = ScriptedServer::start(vec![Reply::json(
        200,
        &format!(r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"Bearer","expires_in":299}}"#),
    )])
    .await;
    let api = ScriptedServer::start(vec![
        Reply::json(401, r#"{"error":"invalid_token"}"#),
        // A provider's text can carry a customer's data: the retry's log line gives the status.
        Reply::json(
            503,
            r#"{"message":"busy with the order of jan.customer@example.com"}"#,
        ),
        Reply::json(200, r#"{"count":"many"}"#),
        // A secret where a number belongs: the decoder's message would quote it.
        Reply::json(200, &format!(r#"{{"count":"{ACCESS_TOKEN}"}}"#)),
    ])
    .await;

    let http = HttpClient::new("secrets-test", "0.0.0").with_timeout(Some(Duration::from_secs(5)));
    let credentials = ClientCredentials::new(
        &http,
        "shop",
        &format!("{}/token", token_server.url),
        "client-id",
        CLIENT_SECRET.to_owned().into(),
    )
    .unwrap();
    let cache = TokenCache::new(credentials);
    let auth = QueryKey {
        key: QUERY_KEY.to_owned().into(),
        bearer: TokenAuth::bearer(cache.clone()),
    };
    let transport = Transport::builder(&http, "shop", &api.url)
        .auth(auth)
        .retry(RetryPolicy::default().with_delays(Duration::from_millis(5), Duration::from_millis(20)))
        .build()
        .unwrap();

    // 401 → refresh → 503 → retry → an answer that does not decode.
    let decode = transport
        .json::<Data>(&Endpoint::get("data.get", "data").query("email", "someone@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(decode, Error::Decode(_)));
    // A login form with a password, whose answer is secret and does not decode.
    let login = Endpoint::post("login", "login")
        .form([("email", "shop@example.com"), ("password", PASSWORD)])
        .sensitive_answer();
    let login_err = transport.json::<Data>(&login).await.unwrap_err();
    // A connection that fails, with the key in the URL's query.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let offline = transport_to(&http, port, &cache);
    let transport_err = offline
        .send(&Endpoint::get("data.get", "data"))
        .await
        .unwrap_err();

    // The traffic really carried the secrets...
    let sent = api.requests();
    assert!(sent[0].target.contains(QUERY_KEY));
    assert_eq!(
        sent[1].header("authorization"),
        Some(&*format!("Bearer {ACCESS_TOKEN}"))
    );
    assert!(String::from_utf8_lossy(&sent[3].body).contains(PASSWORD));
    assert_eq!(cache.token_requests(), 2, "the 401 refreshed the token");

    // ...and none of them shows anywhere.
    for (what, err) in [
        ("decode", &decode),
        ("login", &login_err),
        ("transport", &transport_err),
    ] {
        assert_clean(what, &format!("{err} {err:?}"));
    }
    assert_clean("endpoint", &format!("{login:?}"));
    assert_clean("transport", &format!("{transport:?} {offline:?}"));
    assert_clean("cache", &format!("{cache:?} {:?}", cache.get().await.unwrap()));
    assert_clean("http", &format!("{http:?}"));
    let mut outgoing_probe = Endpoint::get("x", "x");
    outgoing_probe.fail(Error::config("probe"));
    assert_clean("probe", &format!("{outgoing_probe:?}"));

    drop(_guard);
    let traces = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        traces.contains("commerce.request"),
        "traces were captured:\n{traces}"
    );
    assert!(traces.contains("commerce.token"));
    assert!(traces.contains("attempt=3"), "the retries are traced:\n{traces}");
    assert!(traces.contains("status=503"));
    assert_clean("traces", &traces);
    assert!(
        !traces.contains("someone@example.com"),
        "query values stay out of traces"
    );
    assert!(
        !traces.contains("jan.customer@example.com") && traces.contains("provider error (HTTP 503)"),
        "a provider's answer is logged by its status, not its text:\n{traces}"
    );
}

fn transport_to(http: &HttpClient, port: u16, cache: &TokenCache) -> Transport {
    Transport::builder(http, "shop", &format!("http://127.0.0.1:{port}"))
        .auth(QueryKey {
            key: QUERY_KEY.to_owned().into(),
            bearer: TokenAuth::bearer(cache.clone()),
        })
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

#[test]
fn debug_of_credentials_redacts_the_secret() {
    let http = HttpClient::new("secrets-test", "0.0.0");
    let c = ClientCredentials::new(
        &http,
        "bol",
        "https://login.bol.com/token",
        "id",
        CLIENT_SECRET.to_owned().into(),
    )
    .unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("[redacted]"));
    assert_clean("credentials", &shown);
}

/// A token endpoint refusing the credentials, quoting what it was sent: the error keeps the
/// provider's words, the trace of the refusal (latched for the process) does not.
#[tokio::test]
async fn a_refused_credential_is_traced_without_the_providers_words() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let token_server = ScriptedServer::start(vec![Reply::json(
        401,
        r#"{"error":"invalid_client","error_description":"not the client of jan.customer@example.com (token z9-other-party)"}"#,
    )])
    .await;
    let http = HttpClient::new("secrets-test", "0.0.0").with_timeout(Some(Duration::from_secs(5)));
    let credentials = ClientCredentials::new(
        &http,
        "shop",
        &format!("{}/token", token_server.url),
        "client-id",
        CLIENT_SECRET.to_owned().into(),
    )
    .unwrap();
    let cache = TokenCache::new(credentials);
    let refused = cache.get().await.unwrap_err();
    assert!(refused.stops_provider(), "{refused}");
    drop(_guard);
    let traces = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(traces.contains("refused for good"), "{traces}");
    assert!(
        format!("{refused}").contains("jan.customer@example.com"),
        "the error keeps the provider's words: {refused}"
    );
    assert!(
        !traces.contains("jan.customer@example.com") && !traces.contains("z9-other-party"),
        "{traces}"
    );
    assert_clean("traces", &traces);
}
