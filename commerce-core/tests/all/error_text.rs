//! What an error says to the person who reads it: the cause at the root of the chain with
//! the host, the provider's message once (no doubled prefixes, no raw JSON when the answer
//! has a message field).

use commerce_testing as support;

use commerce_core::{
    ClientCredentials, Endpoint, Error, HttpClient, RetryPolicy, TokenAuth, TokenCache, Transport,
};
use support::{Reply, ScriptedServer};

fn http() -> HttpClient {
    HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(std::time::Duration::from_secs(5)))
}

/// A loopback address where nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn plain(url: &str) -> Transport {
    Transport::builder(&http(), "shop", url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn with_token(api: &str, token_url: &str) -> Transport {
    let tokens = TokenCache::new(
        ClientCredentials::new(
            &http(),
            "shop",
            token_url,
            "id-1",
            "s3cret-TEXT".to_owned().into(),
        )
        .unwrap(),
    );
    Transport::builder(&http(), "shop", api)
        .auth(TokenAuth::bearer(tokens))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// The text with the loopback port (different every run) replaced.
fn text(err: &Error, port_of: &str) -> String {
    let port = port_of.rsplit(':').next().unwrap().trim_end_matches('/');
    err.to_string().replace(port, "PORT")
}

#[tokio::test]
async fn a_refused_connection_names_the_host_and_the_root_cause() {
    let url = closed_port().await;
    let err = plain(&url)
        .send(&Endpoint::get("orders.list", "orders?api_key=k-SECRET"))
        .await
        .unwrap_err();
    let shown = text(&err, &url);
    assert!(shown.contains("could not connect to 127.0.0.1:PORT"), "{shown}");
    assert!(!shown.contains("error sending request"), "{shown}");
    assert!(
        !format!("{err} {err:?}").contains("k-SECRET"),
        "the query is not shown"
    );
    // The OS's words differ (Linux: "Connection refused (os error 111)"): the snapshot
    // keeps the part before them.
    let (head, cause) = shown.split_once("PORT: ").unwrap();
    assert!(cause.to_lowercase().contains("refused"), "{cause}");
    insta::assert_snapshot!("refused_connection", format!("{head}PORT: ..."));
}

#[tokio::test]
async fn a_refused_token_connection_says_so_without_a_doubled_prefix() {
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let url = closed_port().await;
    let err = with_token(&api.url, &format!("{url}/token"))
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    let shown = text(&err, &url);
    assert!(
        shown.starts_with("shop token: could not connect to 127.0.0.1:PORT: "),
        "{shown}"
    );
    assert_eq!(shown.matches("shop").count(), 1, "{shown}");
    assert_eq!(api.count(), 0);
}

#[tokio::test]
async fn a_wrong_token_url_is_a_configuration_error_naming_the_url_not_raw_json() {
    let tokens = ScriptedServer::start(vec![Reply::json(
        404,
        r#"{"type":"https://api.bol.com/problems","title":"Not Found","status":404,"detail":"No static resource token."}"#,
    )])
    .await;
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let err = with_token(&api.url, &format!("{}/wrong/token", tokens.url))
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    // A 404 at the token URL is the URL's fault, not the credentials'.
    assert!(!err.is_auth() && err.stops_provider(), "{err:?}");
    insta::assert_snapshot!("wrong_token_url", text(&err, &tokens.url));
    assert!(!err.to_string().contains('{'), "no raw JSON: {err}");
}

#[tokio::test]
async fn a_sentence_in_the_error_field_is_the_message_and_a_code_stays_a_code() {
    let server = ScriptedServer::start(vec![
        Reply::json(404, r#"{"error": "The order could not be found."}"#),
        Reply::json(
            400,
            r#"{"error": "order_invalid_data", "message": "Invalid data"}"#,
        ),
    ])
    .await;
    let t = plain(&server.url);
    let err = t
        .send(&Endpoint::get("orders.get", "orders/1"))
        .await
        .unwrap_err();
    let p = err.as_provider_error().unwrap();
    assert_eq!(p.code, None);
    assert_eq!(p.message.as_deref(), Some("The order could not be found."));
    insta::assert_snapshot!("sentence_in_error_field", err);
    let err = t
        .send(&Endpoint::get("orders.get", "orders/1"))
        .await
        .unwrap_err();
    let p = err.as_provider_error().unwrap();
    assert_eq!(p.code.as_deref(), Some("order_invalid_data"));
    assert_eq!(p.message.as_deref(), Some("Invalid data"));
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_names_the_host() {
    let server = ScriptedServer::start(vec![Reply::Drop]).await;
    let err = plain(&server.url)
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    let shown = text(&err, &server.url);
    assert!(shown.contains("127.0.0.1:PORT"), "{shown}");
    insta::assert_snapshot!("closed_without_answer", shown);
}

#[tokio::test]
async fn token_errors_keep_words_as_the_message_and_stay_short() {
    let long = "x".repeat(5_000);
    let tokens = ScriptedServer::start(vec![
        Reply::json(400, r#"{"error": "Your client is not allowed here."}"#),
        Reply::json(404, &format!(r#"{{"detail": "{long}"}}"#)),
    ])
    .await;
    let api = ScriptedServer::start(vec![Reply::json(200, "{}")]).await;
    let token_url = format!("{}/token", tokens.url);
    let err = with_token(&api.url, &token_url)
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), None, "{err:?}");
    assert!(
        err.to_string().ends_with(": Your client is not allowed here."),
        "{err}"
    );
    let err = with_token(&api.url, &token_url)
        .send(&Endpoint::get("orders.list", "orders"))
        .await
        .unwrap_err();
    assert!(
        err.stops_provider() && !err.is_auth(),
        "a 404 at the token URL: {err:?}"
    );
    assert!(err.to_string().len() < 1_200, "{} bytes", err.to_string().len());
}
