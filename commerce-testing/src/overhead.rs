//! commerce-core's overhead benchmark's page and types (feature `overhead`), shared by its
//! `benches/overhead.rs` and `examples/overhead_calls.rs` so both measure the same call.

use serde::Deserialize;

/// One review of the page.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Review {
    id: u64,
    title: String,
    content: String,
    rating: u8,
    author: String,
}

/// The page as decoded.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Reviews {
    reviews: Vec<Review>,
    total: u64,
}

/// A realistic page: 20 reviews, about 4 KB.
pub fn page() -> String {
    let reviews: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"id":{i},"title":"Fast delivery, well packed","content":"The order arrived two days early and everything was as described. Would buy here again.","rating":{},"author":"Customer {i}"}}"#,
                1 + i % 5
            )
        })
        .collect();
    format!(r#"{{"reviews":[{}],"total":20}}"#, reviews.join(","))
}

/// Serves [`page`] at `/reviews` on a loopback port (axum, keep-alive) on the current
/// runtime; returns the base URL.
pub async fn serve_page() -> String {
    let body = page();
    let app = axum::Router::new().route(
        "/reviews",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
