//! Memory bounds against hostile answers: an endless body, a 2 GB `Content-Length`, a gzip
//! body that inflates a thousandfold, a 64 MB error body, a large answer that fails to
//! decode, an endless token answer. One test in its own binary, the cases one after the
//! other, so the instrumented allocator's peak belongs to the case being measured (client
//! and server both; they share the test's one thread).

use commerce_testing as support;

use std::time::Duration;

use commerce_core::{ClientCredentials, Endpoint, Error, HttpClient, RetryPolicy, TokenCache, Transport};
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use support::{Reply, ScriptedServer, hostile};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const MB: usize = 1 << 20;

fn transport(url: &str, limit: Option<u64>) -> Transport {
    let mut http =
        HttpClient::new("commerce-core-tests", "0.0.0").with_timeout(Some(Duration::from_secs(20)));
    if let Some(limit) = limit {
        http = http.with_max_answer_bytes(limit);
    }
    Transport::builder(&http, "shop", url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// Runs `case`, bounded in time, and returns its error and the peak heap growth it caused.
async fn measure<F>(case: F) -> (Error, usize)
where
    F: std::future::Future<Output = Result<commerce_core::Response, Error>>,
{
    GLOBAL.reset_peak_memory();
    let result = tokio::time::timeout(Duration::from_secs(30), case)
        .await
        .expect("bounded in time");
    let peak = GLOBAL.get_peak_memory();
    (result.expect_err("a hostile answer must fail"), peak)
}

#[test]
fn hostile_answers_cost_bounded_memory() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // An endless body, read up to the default limit of 32 MiB and no further.
        let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(200, &[]))]).await;
        let t = transport(&server.url, None);
        let (e, peak) = measure(t.send(&Endpoint::get("a", "a"))).await;
        assert!(
            matches!(e, Error::TooLarge { limit, .. } if limit == 32 * MB as u64),
            "{e}"
        );
        assert!(peak < 36 * MB, "endless body: peak {} MB", peak / MB);
        println!(
            "endless body, default limit: peak {:.1} MB",
            peak as f64 / MB as f64
        );

        // The same, chunked, with a 1 MiB limit.
        let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(
            200,
            &[("transfer-encoding", "chunked")],
        ))])
        .await;
        let (e, peak) = measure(transport(&server.url, Some(MB as u64)).send(&Endpoint::get("a", "a"))).await;
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(peak < 2 * MB, "chunked endless body: peak {} KB", peak / 1024);

        // A 2 GB Content-Length: refused before reading.
        let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(
            200,
            &[("content-length", "2147483648")],
        ))])
        .await;
        let (e, peak) = measure(transport(&server.url, None).send(&Endpoint::get("a", "a"))).await;
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    declared: Some(2147483648),
                    ..
                }
            ),
            "{e}"
        );
        assert!(peak < MB, "2 GB content-length: peak {} KB", peak / 1024);

        // A gzip body inflating to 64 MiB, counted after decompression (limit 4 MiB).
        let bomb = hostile::gzip_bomb(64 * MB);
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        let server = ScriptedServer::start(vec![Reply::Raw(hostile::answer(
            200,
            &[("content-encoding", "gzip"), ("content-type", "application/json")],
            &bomb,
        ))])
        .await;
        let (e, peak) =
            measure(transport(&server.url, Some(4 * MB as u64)).send(&Endpoint::get("a", "a"))).await;
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(peak < 8 * MB, "gzip bomb: peak {} MB", peak / MB);
        drop(bomb);

        // A 64 MB error body: only its first 64 KiB read; the error's excerpt stays short.
        let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(
            500,
            &[("content-length", "67108864")],
        ))])
        .await;
        let (e, peak) = measure(transport(&server.url, None).send(&Endpoint::get("a", "a"))).await;
        assert_eq!(e.status(), Some(500), "{e}");
        assert!(e.to_string().len() < 400, "{e}");
        assert!(peak < MB, "64 MB error body: peak {} KB", peak / 1024);

        // A 16 MiB answer that fails to decode at its very end: the excerpt looks at a few
        // hundred bytes, not the whole body (it cost 17 times the body before).
        let mut body = String::with_capacity(16 * MB + 16);
        body.push('[');
        while body.len() < 16 * MB {
            body.push_str("1,");
        }
        body.push_str("\"x\"]");
        let server =
            ScriptedServer::start(vec![Reply::Raw(hostile::answer(200, &[], body.as_bytes()))]).await;
        drop(body);
        let t = transport(&server.url, None);
        GLOBAL.reset_peak_memory();
        let e = tokio::time::timeout(
            Duration::from_secs(30),
            t.json::<Vec<u32>>(&Endpoint::get("a", "a")),
        )
        .await
        .unwrap()
        .unwrap_err();
        let peak = GLOBAL.get_peak_memory();
        assert!(matches!(e, Error::Decode(_)), "{e}");
        assert!(e.to_string().len() < 600, "{e}");
        // The body itself, and what the decoder builds of it before failing (a Vec<u32> of
        // 8 M numbers with its doubling growth, twice: once without path tracking, once with).
        assert!(
            peak < 16 * MB + 3 * 32 * MB,
            "undecodable 16 MiB: peak {} MB",
            peak / MB
        );
        println!(
            "undecodable 16 MiB answer: peak {:.1} MB",
            peak as f64 / MB as f64
        );

        // An endless token answer.
        let server = ScriptedServer::start(vec![Reply::Endless(hostile::head(200, &[]))]).await;
        let http = HttpClient::new("commerce-core-tests", "0.0.0").with_max_answer_bytes(MB as u64);
        let cache = TokenCache::new(
            ClientCredentials::new(
                &http,
                "shop",
                &format!("{}/token", server.url),
                "id",
                "s3cret".to_owned().into(),
            )
            .unwrap(),
        );
        GLOBAL.reset_peak_memory();
        let e = tokio::time::timeout(Duration::from_secs(30), cache.get())
            .await
            .unwrap()
            .unwrap_err();
        let peak = GLOBAL.get_peak_memory();
        assert!(
            matches!(e, Error::TooLarge { ref endpoint, .. } if endpoint == "token"),
            "{e}"
        );
        assert!(peak < 3 * MB, "endless token answer: peak {} KB", peak / 1024);
    });
}
