//! The overhead benchmark's two loops as a plain program, for instruction counts that do not
//! drift with the host's speed:
//!
//! ```sh
//! cargo build --release -p commerce-core --example overhead_calls
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/overhead_calls transport 2000
//! ```
//!
//! Each run starts a local server (axum, keep-alive) answering a 20-review JSON page and
//! makes `N` calls, either through a bare `reqwest::Client` (`bare`) or through a
//! `Transport` built on that client (`transport`), with server and client on one thread.
//! The instructions per call are `(total(N) - total(0)) / N` for each mode.
//!
//! `OVERHEAD_BEARER=1` gives the transport an authenticator that sends a bearer token in a
//! sensitive header, as a token cache does (the benchmark's transport sends none);
//! `OVERHEAD_NO_QUOTA=1` leaves its limiter without a quota; `OVERHEAD_BARE_UA=1` has the
//! bare client send the transport's `User-Agent` too (the same bytes on the wire both ways);
//! `OVERHEAD_SIZES=1` prints the size of the futures.

use std::hint::black_box;
use std::time::Duration;

use commerce_core::{
    AuthTicket, Authenticator, Endpoint, Error, HttpClient, OutgoingRequest, Quota, RateLimits, Transport,
};
use commerce_testing::overhead::{Reviews, serve_page};

/// Sends a fixed bearer token in a sensitive `Authorization` header.
#[derive(Debug)]
struct Bearer;

#[async_trait::async_trait]
impl Authenticator for Bearer {
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        let mut value = http::HeaderValue::from_static("Bearer 0123456789abcdefghijklmnopqrstuvwxyz");
        value.set_sensitive(true);
        request.headers.insert(http::header::AUTHORIZATION, value);
        Ok(AuthTicket::fixed())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "transport".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let base = serve_page().await;
        let mut client = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if std::env::var_os("OVERHEAD_BARE_UA").is_some() {
            // The User-Agent the transport sends, for the bare client too: the same bytes
            // on the wire both ways.
            client = client.user_agent(concat!(
                "commerce-core-bench/0.0.0 commerce-core/",
                env!("CARGO_PKG_VERSION")
            ));
        }
        let client = client.build().unwrap();
        let http = HttpClient::new("commerce-core-bench", "0.0.0").with_client(client.clone());
        let quotas = if std::env::var_os("OVERHEAD_NO_QUOTA").is_some() {
            vec![]
        } else {
            vec![Quota::per_second(1_000_000)]
        };
        let mut builder = Transport::builder(&http, "bench", &base).limits(RateLimits::new(quotas));
        if std::env::var_os("OVERHEAD_BEARER").is_some() {
            builder = builder.auth(Bearer);
        }
        let transport = builder.build().unwrap();
        let url = format!("{base}/reviews");
        let endpoint = Endpoint::get("reviews.list", "reviews");
        // One call of each kind before counting, so both loops start warm (connection open).
        let warm = client.get(&url).send().await.unwrap();
        black_box(warm.bytes().await.unwrap());
        let _: Reviews = transport.json(&endpoint).await.unwrap();
        if std::env::var_os("OVERHEAD_SIZES").is_some() {
            let bare = client.get(&url).send();
            let ours = transport.json::<Reviews>(&endpoint);
            eprintln!(
                "future sizes: bare send {} bytes, Transport::json {} bytes",
                std::mem::size_of_val(&bare),
                std::mem::size_of_val(&ours)
            );
        }
        for _ in 0..n {
            if mode == "bare" {
                let answer = client.get(&url).send().await.unwrap();
                let page: Reviews = answer.error_for_status().unwrap().json().await.unwrap();
                black_box(page);
            } else {
                let page: Reviews = transport.json(&endpoint).await.unwrap();
                black_box(page);
            }
        }
    });
}
