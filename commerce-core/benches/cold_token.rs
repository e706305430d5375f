//! A cold token cache under 1000 concurrent calls: how many token requests reach the
//! provider (must be 1) and how long the calls take. The token endpoint answers after
//! 20 ms, like a real authorization server on a good day. Run with `cargo xtask bench`
//! (or `cargo bench -p commerce-core --bench cold_token`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use commerce_core::{ClientCredentials, Endpoint, HttpClient, TokenAuth, TokenCache, Transport};
use criterion::{Criterion, criterion_group, criterion_main};

const CALLS: usize = 1000;

struct Provider {
    base: String,
    token_requests: Arc<AtomicU64>,
}

async fn provider() -> Provider {
    let token_requests = Arc::new(AtomicU64::new(0));
    let counter = token_requests.clone();
    let app = Router::new()
        .route(
            "/token",
            post(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    (
                        [("content-type", "application/json")],
                        format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":299}}"#),
                    )
                }
            }),
        )
        .route(
            "/api/orders",
            get(|| async { ([("content-type", "application/json")], r#"{"orders":[]}"#) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { base, token_requests }
}

/// 1000 concurrent calls through a fresh client with a cold cache; the latency of each.
async fn burst(http: &HttpClient, p: &Provider) -> Vec<Duration> {
    let credentials = ClientCredentials::new(
        http,
        "bench",
        &format!("{}/token", p.base),
        "client",
        "secret".to_owned().into(),
    )
    .unwrap();
    let transport = Transport::builder(http, "bench", &format!("{}/api", p.base))
        .auth(TokenAuth::bearer(TokenCache::new(credentials)))
        .build()
        .unwrap();
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                t.send(&Endpoint::get("orders.list", "orders")).await.unwrap();
                start.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(CALLS);
    for c in calls {
        latencies.push(c.await.unwrap());
    }
    latencies
}

fn cold_token(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let p = rt.block_on(provider());
    let http = HttpClient::new("commerce-core-bench", "0.0.0");

    // One burst measured call by call, for the figures of BENCHMARKS.md.
    let before = p.token_requests.load(Ordering::SeqCst);
    let mut latencies = rt.block_on(burst(&http, &p));
    let token_requests = p.token_requests.load(Ordering::SeqCst) - before;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "cold cache, {CALLS} concurrent calls: {token_requests} token request(s); latency p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    assert_eq!(
        token_requests, 1,
        "a cold cache must fetch one token, whatever the load"
    );

    let mut group = c.benchmark_group("cold_token_cache");
    group.sample_size(10);
    group.bench_function("1000_concurrent_calls", |b| {
        b.to_async(&rt).iter_custom(|iterations| {
            let (http, p) = (&http, &p);
            async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    let before = p.token_requests.load(Ordering::SeqCst);
                    burst(http, p).await;
                    assert_eq!(p.token_requests.load(Ordering::SeqCst) - before, 1);
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, cold_token);
criterion_main!(benches);
