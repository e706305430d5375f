//! The decoders never panic: every call's answer (token, products, orders, errors) is fed
//! arbitrary bytes and mutated fixtures under every status, plain or gzip-encoded (valid
//! gzip of a mutated body, or bytes that only claim to be gzip).

use std::io::Write;

use commerce_core::RetryPolicy;
use commerce_testing::fuzz::{Answer, Calls, Harness, answers, fixtures_in};
use customer_api_client::{CustomerApiClient, NewOrder, NewOrderItem};
use futures_util::StreamExt;
use proptest::prelude::*;

const TOKEN: &str =
    r#"{"_type":"AccessToken","token_type":"Bearer","expires_in":3600,"access_token":"tok-SWEEP-1"}"#;
const TOKEN_PATH: &str = "/api/customer/oauth/access-token";

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

/// Plain (0), gzip-encoded (1), or claiming gzip without being it (2).
fn encoded() -> BoxedStrategy<Answer> {
    let fixtures = fixtures_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    (
        answers(fixtures, &["application/json", "application/json; charset=utf-8"]),
        0..3u8,
    )
        .prop_map(|(mut a, how)| {
            if how > 0 {
                if how == 1 {
                    a.body = gzip(&a.body);
                }
                a.headers.push(("content-encoding".into(), "gzip".into()));
            }
            a
        })
        .boxed()
}

async fn call_all(c: &CustomerApiClient, calls: &mut Calls) {
    calls.send(c.products_by_code("8712345678906")).await;
    calls.send(c.product("Gazelle", "C7")).await;
    calls
        .send(c.create_order(&NewOrder {
            reference: "A-1001".into(),
            items: vec![NewOrderItem {
                code: "C7".into(),
                brand: Some("Gazelle".into()),
                quantity: 1,
            }],
            ..Default::default()
        }))
        .await;
    calls.send(c.orders(1)).await;
    calls.send(c.orders_stream().take(3).count()).await;
    calls.send(c.order("5501")).await;
    calls.send(c.find_order_by_reference("A-1001")).await;
}

fn fuzz(fixed_token: bool, cases: u32) {
    let token = [(TOKEN_PATH, Answer::json(200, TOKEN))];
    let h = Harness::start(&["secret-SWEEP-1"], if fixed_token { &token } else { &[] });
    let client = || {
        CustomerApiClient::builder("id-1", "secret-SWEEP-1".to_owned().into())
            .shop_url(h.server.url.clone())
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    // With the token fixed, every call is sent: the resource decoders are reached; with the
    // token fuzzed, one call reads the token answer. A new
    // client per case: with the token fuzzed, it reads a token answer each time; with the
    // token fixed, an answer refusing the token makes a client cool down before it asks for
    // another, and the next case must not inherit that.
    h.run(cases, encoded(), |calls| {
        let c = client();
        if fixed_token {
            h.rt.block_on(call_all(&c, calls));
        } else {
            h.rt.block_on(calls.send(c.products_by_code("8712345678906")));
        }
    });
}

#[test]
fn resource_answers_never_panic() {
    fuzz(true, 192);
}

#[test]
fn token_answers_never_panic() {
    fuzz(false, 96);
}
