//! Shared set-up of the Sitejabber tests: a mock server with a login, and a client for it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use httpmock::HttpMockRequest;
use httpmock::Method::POST;
use httpmock::{MockServer, When};
use sitejabber_client::SitejabberClient;

pub const CLIENT_TOKEN: &str = "ck-51f0a9";
pub const USER_TOKEN: &str = "ut-9c1f0e77a2";
pub const EMAIL: &str = "shop@fietsenwinkel.example";
pub const PASSWORD: &str = "pw-7d2e";
pub const DOMAIN: &str = "fietsenwinkel.example";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The business path under the mock's API root.
pub fn biz(rest: &str) -> String {
    if rest.is_empty() {
        format!("/v1/businesses/{DOMAIN}")
    } else {
        format!("/v1/businesses/{DOMAIN}/{rest}")
    }
}

/// What every business call carries: the client token in the query and the user token.
pub fn authed(when: When) -> When {
    when.query_param("client_token", CLIENT_TOKEN)
        .header("user_token", USER_TOKEN)
}

/// Records the bodies of the requests a mock sees, for snapshots.
#[derive(Clone, Default)]
pub struct Bodies(Arc<Mutex<Vec<String>>>);

impl Bodies {
    pub fn matcher(&self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let seen = self.0.clone();
        move |req: &HttpMockRequest| {
            seen.lock().unwrap().push(req.body_string());
            true
        }
    }

    pub fn last(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request was seen")
    }
}

pub async fn server_with_login() -> MockServer {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/login")
                .query_param("client_token", CLIENT_TOKEN)
                .header_missing("user_token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=shop%40fietsenwinkel.example&password=pw-7d2e");
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("login.json"));
        })
        .await;
    server
}

pub use commerce_testing::fast_retry;

pub fn client(server: &MockServer) -> SitejabberClient {
    commerce_testing::sweep::install(&[CLIENT_TOKEN, USER_TOKEN, PASSWORD]);
    SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .client_token(CLIENT_TOKEN.to_owned().into())
        .domain(DOMAIN)
        .base_url(server.url("/v1/"))
        .retry(fast_retry())
        .build()
        .unwrap()
}
