//! Peak memory while paging through reviews with `reviews_stream`: it must stay flat as
//! the number of reviews grows from 1,000 to 100,000 (the stream holds one page, never the
//! list). An instrumented allocator (`peakmem-alloc`) measures the process's peak heap above the
//! level when the stream started; the local server that generates the pages runs in the same process, so
//! its per-page buffers are in the figure too. Rate limits are lifted: memory is the
//! subject. `cargo bench -p sitejabber-client --bench stream_memory` (part of
//! `cargo xtask bench`).

use std::alloc::System;
use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use commerce_core::RateLimits;
use futures_util::StreamExt;
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use sitejabber_client::{ReviewsQuery, SitejabberClient};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const REVIEW: &str = r#"{"reviewNo":"NO","rating":[{"type":"overall","rating":"4"},{"type":"service","rating":5}],"title":"Goed geholpen","content":"Prima service, snel geleverd en goed verpakt. De fiets was precies zoals beschreven.","order_id":"FW-NO","images":[],"positive_votes":1,"negative_votes":0,"created":"2016/04/25 04:07:38","createdRFC":"2016/04/25T04:07:38-07:00","published":"2016/04/25 04:07:38","publishedRFC":"2016-04-25T04:07:38-07:00","edited":"","labels":["bike"],"author":{"username":"piet","firstName":"Piet","lastName":"J","numReviews":"3","numHelpfulVotes":"1"}}"#;

/// `GET .../reviews?start&count`: a page of generated reviews out of `total`.
async fn reviews(State(total): State<u64>, Query(q): Query<HashMap<String, String>>) -> String {
    let start: u64 = q.get("start").and_then(|v| v.parse().ok()).unwrap_or(0);
    let count: u64 = q.get("count").and_then(|v| v.parse().ok()).unwrap_or(20);
    let end = (start + count).min(total);
    let items: Vec<String> = (start..end)
        .map(|n| REVIEW.replace("NO", &n.to_string()))
        .collect();
    format!("[{}]", items.join(","))
}

async fn serve(total: u64) -> String {
    let app = Router::new()
        .route(
            "/v1/login",
            post(|| async {
                r#"{"token":"ut-bench","expire":"2099-05-06 13:04:39","status":"OK","success":true}"#
            }),
        )
        .route("/v1/businesses/{domain}/reviews", get(reviews))
        .with_state(total);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Streams `total` reviews; returns (reviews read, peak heap above the start in bytes).
async fn stream(total: u64) -> (u64, usize) {
    let url = serve(total).await;
    let client = SitejabberClient::builder("shop@example.com", "pw-bench".to_owned().into())
        .client_token("ck-bench".to_owned().into())
        .domain("shop.example")
        .base_url(url)
        .limits(RateLimits::default())
        .build()
        .unwrap();
    client.login().await.unwrap();
    GLOBAL.reset_peak_memory();
    let mut read = 0;
    let mut s = client.reviews_stream(ReviewsQuery::default());
    while let Some(review) = s.next().await {
        let review = review.expect("a review");
        assert!(!review.title.is_empty());
        read += 1;
    }
    (read, GLOBAL.get_peak_memory())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| reviews streamed | pages | peak heap above start | machine time |");
    println!("|---|---|---|---|");
    let mut peaks = Vec::new();
    for total in [1_000u64, 100_000] {
        let started = std::time::Instant::now();
        let (read, peak) = rt.block_on(stream(total));
        assert_eq!(read, total, "every review read once");
        println!(
            "| {total} | {} | {:.0} KB | {:.2} s |",
            total.div_ceil(100),
            peak as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
        peaks.push(peak);
    }
    println!(
        "\npeak at 100,000 / peak at 1,000 = {:.2}",
        peaks[1] as f64 / peaks[0] as f64
    );
}
