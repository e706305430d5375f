//! Per-request overhead of the shared runtime: the same GET, answered by the same local
//! server with the same JSON, decoded into the same types, sent once through a bare
//! `reqwest::Client` and once through a `Transport` built on that very client (endpoint
//! description, rate limiter, authentication hook, classification, retry bookkeeping,
//! tracing span). Run with `cargo xtask bench` (or `cargo bench -p commerce-core`).

use std::hint::black_box;
use std::time::Duration;

use commerce_core::{Endpoint, HttpClient, Quota, RateLimits, Transport};
use commerce_testing::overhead::{Reviews, serve_page};
use criterion::{Criterion, criterion_group, criterion_main};

fn overhead(c: &mut Criterion) {
    // One thread for server and client: no scheduling between threads in the figure, which
    // on a 2-core machine otherwise drowns a few microseconds in noise.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(serve_page());
    // One client for both, so connection reuse and settings are the same.
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if std::env::var_os("OVERHEAD_BARE_UA").is_some() {
        // `OVERHEAD_BARE_UA=1`: the bare client sends the transport's `User-Agent` too, so
        // both send the same bytes (the server's work for the header is then in both).
        client = client.user_agent(concat!(
            "commerce-core-bench/0.0.0 commerce-core/",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let client = client.build().unwrap();
    let http = HttpClient::new("commerce-core-bench", "0.0.0").with_client(client.clone());
    // A quota far above what a benchmark reaches, so the limiter's bookkeeping is measured
    // but never waits.
    let transport = Transport::builder(&http, "bench", &base)
        .limits(RateLimits::new([Quota::per_second(1_000_000)]))
        .build()
        .unwrap();
    let url = format!("{base}/reviews");
    let endpoint = Endpoint::get("reviews.list", "reviews");

    let mut group = c.benchmark_group("get_and_decode_20_reviews");
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let answer = client.get(&url).send().await.unwrap();
            let page: Reviews = answer.error_for_status().unwrap().json().await.unwrap();
            black_box(page)
        })
    });
    group.bench_function("commerce_core_transport", |b| {
        b.to_async(&rt).iter(|| async {
            let page: Reviews = transport.json(&endpoint).await.unwrap();
            black_box(page)
        })
    });
    group.finish();

    // The machine's speed drifts between criterion's two runs (a shared host): the same
    // comparison interleaved, 30 rounds of 400 calls each way in alternating order, per-call
    // medians over the rounds, is the figure the ratio is taken from. `OVERHEAD_ROUNDS=200`
    // takes more rounds, for a loaded host.
    let rounds: usize = std::env::var("OVERHEAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(30);
    let (bare, ours) = rt.block_on(async {
        let bare_round = || async {
            let t = std::time::Instant::now();
            for _ in 0..400 {
                let answer = client.get(&url).send().await.unwrap();
                let page: Reviews = answer.error_for_status().unwrap().json().await.unwrap();
                black_box(page);
            }
            t.elapsed() / 400
        };
        let our_round = || async {
            let t = std::time::Instant::now();
            for _ in 0..400 {
                let page: Reviews = transport.json(&endpoint).await.unwrap();
                black_box(page);
            }
            t.elapsed() / 400
        };
        let (mut bare, mut ours) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                bare.push(bare_round().await);
                ours.push(our_round().await);
            } else {
                ours.push(our_round().await);
                bare.push(bare_round().await);
            }
        }
        bare.sort();
        ours.sort();
        (bare[rounds / 2], ours[rounds / 2])
    });
    println!(
        "interleaved medians: bare reqwest {:.1} µs, Transport {:.1} µs, ratio {:.3}",
        bare.as_secs_f64() * 1e6,
        ours.as_secs_f64() * 1e6,
        ours.as_secs_f64() / bare.as_secs_f64()
    );
}

criterion_group!(benches, overhead);
criterion_main!(benches);
