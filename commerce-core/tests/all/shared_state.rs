//! State shared by several clients of one credential, each standing for a process: one
//! token request for all, a refused token renewed once for all, and every quota spent
//! jointly; and the stores' conformance suite (`testing::stores`, run over the SQLite and
//! PostgreSQL stores by the facade's tests) over the in-memory store.

use commerce_testing as testing;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commerce_core::{
    ClientCredentials, Credential, Endpoint, HttpClient, Quota, RateLimits, SharedState, TokenAuth,
    TokenCache, Transport,
};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;

fn http(_shared: &SharedState) -> HttpClient {
    HttpClient::new("commerce-core-tests", "0.0.0")
}

/// One "process": its own token cache and transport over the shared state.
fn process(shared: &SharedState, server: &MockServer, limits: RateLimits) -> (Transport, TokenCache) {
    let http = http(shared);
    let credentials = ClientCredentials::new(
        &http,
        "shop",
        &server.url("/token"),
        "my-client",
        "my-secret".to_owned().into(),
    )
    .unwrap();
    let cache = TokenCache::new(credentials).with_store(Some(shared.tokens.clone()));
    let transport = Transport::builder(&http, "shop", &server.url("/api"))
        .auth(TokenAuth::bearer(cache.clone()))
        .limits(limits)
        .shared(shared.clone())
        .build()
        .unwrap();
    (transport, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_one_credential_make_one_token_request() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok-A", "token_type": "Bearer", "expires_in": 299}))
                .delay(Duration::from_millis(200));
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/orders")
                .header("authorization", "Bearer tok-A");
            then.status(200).json_body(json!({"orders": []}));
        })
        .await;
    let shared = SharedState::in_memory();
    let processes: Vec<_> = (0..4)
        .map(|_| process(&shared, &server, RateLimits::default()))
        .collect();
    let calls: Vec<_> = processes
        .iter()
        .flat_map(|(t, _)| {
            (0..10).map(move |_| {
                let t = t.clone();
                tokio::spawn(async move { t.send(&Endpoint::get("orders.list", "orders")).await })
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    token.assert_calls_async(1).await;
    api.assert_calls_async(40).await;
    let requests: u64 = processes.iter().map(|(_, c)| c.token_requests()).sum();
    assert_eq!(
        requests, 1,
        "one process asked, the others took its token from the store"
    );
    assert!(processes.iter().all(|(_, c)| c.is_shared()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_provider_refuses_is_renewed_once_for_every_process() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}));
        })
        .await;
    let ok1 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/orders")
                .header("authorization", "Bearer tok-1");
            then.status(200).json_body(json!({}));
        })
        .await;
    let shared = SharedState::in_memory();
    let a = process(&shared, &server, RateLimits::default());
    let b = process(&shared, &server, RateLimits::default());
    let list = Endpoint::get("orders.list", "orders");
    a.0.send(&list).await.unwrap();
    b.0.send(&list).await.unwrap();
    ok1.assert_calls_async(2).await;
    first.assert_calls_async(1).await;
    // The provider ends tok-1 early: both processes are refused with it once.
    let (first, ok1) = (first, ok1);
    first.delete_async().await;
    ok1.delete_async().await;
    let refused = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/orders")
                .header("authorization", "Bearer tok-1");
            then.status(401).json_body(json!({"error": "invalid_token"}));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok-2", "token_type": "Bearer", "expires_in": 3600}));
        })
        .await;
    let ok2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/orders")
                .header("authorization", "Bearer tok-2");
            then.status(200).json_body(json!({}));
        })
        .await;
    a.0.send(&list).await.unwrap();
    b.0.send(&list).await.unwrap();
    refused.assert_calls_async(2).await;
    ok2.assert_calls_async(2).await;
    second.assert_calls_async(1).await;
    assert_eq!(a.1.token_requests() + b.1.token_requests(), 2);
}

/// Two processes with a quota of 3 calls per 300 ms each: together the server never sees
/// a fourth call within 300 ms of the first of three (the store counts both, each call from
/// when its answer came back, which is after the server saw it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_spend_one_quota_jointly() {
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let app = {
        let seen = seen.clone();
        axum::Router::new()
            .route(
                "/token",
                axum::routing::post(|| async {
                    axum::Json(json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}))
                }),
            )
            .route(
                "/api/orders",
                axum::routing::get(move || {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(Instant::now());
                        axum::Json(json!({}))
                    }
                }),
            )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let shared = SharedState::in_memory();
    let quota = || RateLimits::new([Quota::new(3, Duration::from_millis(300))]);
    let mut transports = Vec::new();
    for _ in 0..2 {
        let http = http(&shared);
        let credentials = ClientCredentials::new(
            &http,
            "shop",
            &format!("http://{addr}/token"),
            "my-client",
            "my-secret".to_owned().into(),
        )
        .unwrap();
        transports.push(
            Transport::builder(&http, "shop", &format!("http://{addr}/api"))
                .auth(TokenAuth::bearer(
                    TokenCache::new(credentials).with_store(Some(shared.tokens.clone())),
                ))
                .limits(quota())
                .shared(shared.clone())
                .build()
                .unwrap(),
        );
    }
    let calls: Vec<_> = transports
        .iter()
        .flat_map(|t| {
            (0..6).map(move |_| {
                let t = t.clone();
                tokio::spawn(async move { t.send(&Endpoint::get("orders.list", "orders")).await })
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 12);
    for w in seen.windows(4) {
        assert!(
            w[3] - w[0] >= Duration::from_millis(300),
            "four calls within {:?}: the quota was not shared",
            w[3] - w[0]
        );
    }
}

#[test]
fn a_credential_never_shows_its_secret() {
    let c = Credential {
        id: "https://login.example/token my-client".into(),
        secret: "hunter2-secret".to_owned().into(),
    };
    let text = format!("{c:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("my-client"));
    let state = SharedState::in_memory();
    assert!(!format!("{:?}", http(&state)).contains("hunter2"));
    assert!(!format!("{state:?}").contains("hunter2"));
}

/// A token source standing for one process's provider account (its cache shares through the
/// store it is given).
#[derive(Debug)]
struct Account {
    calls: Arc<std::sync::atomic::AtomicU64>,
}

#[async_trait::async_trait]
impl commerce_core::TokenSource for Account {
    async fn fetch(&self) -> Result<commerce_core::Token, commerce_core::Error> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        Ok(
            commerce_core::Token::new(format!("tok-{n}").into())
                .with_expires_in(Some(Duration::from_secs(4))),
        )
    }

    fn credential(&self) -> Option<Credential> {
        Some(credential())
    }
}

fn credential() -> Credential {
    Credential {
        id: "https://login.example/token my-client".into(),
        secret: "my-secret".to_owned().into(),
    }
}

/// A cache whose 4-second tokens are due a second before they end (a quarter of their
/// life), and its count of token requests. Its margin of 4 s makes it take a stored token only
/// with more than 5 s left: the store's clock (the system's) stands still in paused time.
fn account_cache(shared: &SharedState) -> (TokenCache, Arc<std::sync::atomic::AtomicU64>) {
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let account = Account { calls: calls.clone() };
    let cache = TokenCache::with_margin(account, Duration::from_secs(4), Duration::ZERO)
        .with_store(Some(shared.tokens.clone()))
        .with_rules(
            commerce_core::TokenRules::default().with_life(Duration::from_secs(1), Duration::from_secs(3600)),
        );
    (cache, calls)
}

/// Another process holds the renewal: a process whose own token is still valid goes on
/// with it; once it has expired, it waits for the other's token instead of asking.
#[tokio::test(start_paused = true)]
async fn while_another_process_renews_the_token_a_valid_one_serves_then_its_token_is_taken() {
    use commerce_core::{ExposeSecret, Stored};
    let shared = SharedState::in_memory();
    let (cache, calls) = account_cache(&shared);
    let first = cache.get().await.unwrap();
    assert_eq!(first.secret.expose_secret(), "tok-1");
    // The other process claims the renewal (it will be slow).
    let claimed = shared
        .tokens
        .take(
            &credential(),
            Duration::from_secs(3600),
            None,
            Duration::from_secs(45),
        )
        .await
        .unwrap();
    assert!(matches!(claimed, Stored::Fetch), "{claimed:?}");
    // Due (renewal 1 s before the end), still valid: served at once, nothing asked.
    tokio::time::advance(Duration::from_millis(3500)).await;
    assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "tok-1");
    // Expired: this process waits for the other's token, and never asks itself.
    tokio::time::advance(Duration::from_secs(1)).await;
    let other = shared.tokens.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other
            .put(
                &credential(),
                &"tok-other".to_owned().into(),
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
    });
    assert_eq!(cache.get().await.unwrap().secret.expose_secret(), "tok-other");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(cache.token_requests(), 1);
}

/// The provider asks one process for a pause longer than a call may wait: the other
/// processes of the credential are refused at once too, without sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_asked_of_one_process_holds_for_every_process() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200)
                .json_body(json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}));
        })
        .await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/orders");
            then.status(429).header("retry-after", "300").json_body(json!({}));
        })
        .await;
    let shared = SharedState::in_memory();
    let a = process(&shared, &server, RateLimits::default());
    let b = process(&shared, &server, RateLimits::default());
    let list = Endpoint::get("orders.list", "orders");
    let first = a.0.send(&list).await.unwrap_err();
    assert!(first.is_rate_limited(), "{first}");
    let started = Instant::now();
    let second = b.0.send(&list).await.unwrap_err();
    assert!(
        matches!(&second, commerce_core::Error::RateLimited { retry_after: Some(w), endpoint, .. }
            if *w > Duration::from_secs(200) && endpoint == "orders.list"),
        "{second:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    limited.assert_calls_async(1).await;
}

/// Logs in through the same limits as the calls it authorizes, as Sitejabber's login does.
#[derive(Debug)]
struct Login {
    transport: Transport,
}

#[async_trait::async_trait]
impl commerce_core::TokenSource for Login {
    async fn fetch(&self) -> Result<commerce_core::Token, commerce_core::Error> {
        let answer: serde_json::Value = self
            .transport
            .json(&Endpoint::post("login", "login").idempotent())
            .await?;
        Ok(commerce_core::Token::new(
            answer["token"].as_str().unwrap_or_default().to_owned().into(),
        ))
    }
}

/// More callers on a cold cache than the quota allows at once: none of them holds a permit
/// while it waits for the token, so the login, which needs one, goes (it used to wait for
/// ever on permits held by callers waiting for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_waiting_for_a_login_hold_no_permit_the_login_needs() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/login");
            then.status(200).json_body(json!({"token": "user-token"}));
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/orders")
                .header("authorization", "Bearer user-token");
            then.status(200).json_body(json!({}));
        })
        .await;
    let http = HttpClient::new("commerce-core-tests", "0.0.0");
    let limits = RateLimits::new([Quota::new(1, Duration::from_millis(300))]);
    let login = Transport::builder(&http, "shop", &server.url("/"))
        .limits(limits.clone())
        .build()
        .unwrap();
    let transport = Transport::builder(&http, "shop", &server.url("/"))
        .auth(TokenAuth::bearer(TokenCache::new(Login { transport: login })))
        .limits(limits)
        .build()
        .unwrap();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move { t.send(&Endpoint::get("orders.list", "orders")).await })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(30), futures_util::future::join_all(calls))
        .await
        .expect("the login found a permit");
    for r in all {
        r.unwrap().unwrap();
    }
    api.assert_calls_async(4).await;
}

/// The suite every store passes, over the in-memory store (one process: every handle is the
/// same store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_store_keeps_the_rules_of_every_store() {
    let shared = SharedState::in_memory();
    testing::stores::conformance(&testing::stores::Subject {
        name: "memory",
        open: Box::new(move || shared.clone()),
        at_rest: None,
        across_processes: false,
    })
    .await;
}
