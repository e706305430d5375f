//! The decoders never panic: every call's answer (the login, every resource, the `{status}`
//! envelopes and their errors, the streams' pages) is fed arbitrary bytes and mutated
//! fixtures under every status.

use chrono::NaiveDate;
use commerce_core::{RateLimits, RetryPolicy};
use commerce_testing::fuzz::{Answer, Calls, FuzzServer, Harness, answers, fixtures_in};
use futures_util::StreamExt;
use sitejabber_client::*;

const DOMAIN: &str = "fietsenwinkel.example";
const LOGIN: &str = r#"{"token":"ut-SWEEP-1","expire":"2099-05-06 13:04:39","status":"OK","success":true}"#;

fn client(server: &FuzzServer) -> SitejabberClient {
    SitejabberClient::builder("shop@example.com", "pw-SWEEP-1".to_owned().into())
        .client_token("ck-SWEEP-1".to_owned().into())
        .domain(DOMAIN)
        .base_url(format!("{}/v1", server.url))
        .retry(RetryPolicy::none())
        .limits(RateLimits::default())
        .build()
        .unwrap()
}

/// Every call of the client once; streams are read for a few items.
async fn call_all(c: &SitejabberClient, calls: &mut Calls) {
    // Answered by the fixed login here; fuzzed on its own in `login_answers_never_panic`.
    calls.may_not_send(c.login()).await;
    calls.send(c.business(&[Datasource::Yelp, Datasource::Bbb])).await;
    calls.send(c.businesses(&[DOMAIN, "other.example"])).await;
    calls.send(c.review(7)).await;
    calls.send(c.reviews(&ReviewsQuery::default(), 0, 20)).await;
    calls
        .send(c.reviews_stream(ReviewsQuery::default()).take(3).count())
        .await;
    calls.send(c.publish_review(7)).await;
    calls.send(c.flag_review(7, FlagReason::Language, "rude")).await;
    calls.send(c.comments(&CommentsQuery::default(), 0, 20)).await;
    calls
        .send(c.comments_stream(CommentsQuery::default()).take(3).count())
        .await;
    calls.send(c.add_comment(7, "Thanks!")).await;
    calls.send(c.send_resolution(7, "jan", "Sorted")).await;
    calls.send(c.messages(&MessagesQuery::default(), 0, 20)).await;
    calls
        .send(c.messages_stream(MessagesQuery::default()).take(3).count())
        .await;
    calls.send(c.send_message(7, "jan", "Hello", "Your order")).await;
    calls
        .send(c.add_review_request(&ReviewRequest {
            email: Some("jan@example.com".into()),
            order_id: "A-1".into(),
            order_date: NaiveDate::from_ymd_opt(2026, 1, 2),
            ..Default::default()
        }))
        .await;
    calls
        .send(c.remove_review_request("jan@example.com", Some("A-1")))
        .await;
    calls.send(c.write_review_link()).await;
    calls.send(c.edit_review_link("jan@example.com")).await;
    calls.send(c.products(&ProductsQuery::default(), 0, 20)).await;
    calls
        .send(c.products_stream(ProductsQuery::default()).take(3).count())
        .await;
    calls
        .send(c.add_product(&NewProduct {
            sku: "S-1".into(),
            title: "Bell".into(),
            ..Default::default()
        }))
        .await;
    calls.send(c.remove_product(3)).await;
    calls
        .send(c.add_product_image("S-1", "https://img.example/1.jpg"))
        .await;
    calls
        .send(c.product_reviews(&ProductReviewsQuery::default(), 0, 20))
        .await;
    calls
        .send(c.add_product_review(&NewProductReview {
            sku: "S-1".into(),
            title: "Good".into(),
            content: "Rings well".into(),
            rating: 5,
            ..Default::default()
        }))
        .await;
    calls.send(c.vote_product_review(9, Vote::Positive)).await;
    calls.send(c.top_rated_products(Some("bikes"), Some("EUR"))).await;
    calls.send(c.product_review_stats(&StatsQuery::default())).await;
    calls
        .send(c.add_product_review_request(&ProductReviewRequest {
            email: "jan@example.com".into(),
            product_skus: vec!["S-1".into()],
            order_id: "A-1".into(),
            order_date: NaiveDate::from_ymd_opt(2026, 1, 2),
            ..Default::default()
        }))
        .await;
    calls
        .send(c.remove_product_review_request("jan@example.com", Some("S-1"), Some("A-1")))
        .await;
    calls.send(c.questions(0, 20)).await;
    calls.send(c.questions_stream().take(3).count()).await;
    calls.send(c.product_questions(Some("S-1"), 0, 20)).await;
    calls.send(c.customer_information("jan@example.com")).await;
    calls.send(c.remove_customer_information("jan@example.com")).await;
}

fn fuzz(fixed_login: bool, cases: u32) {
    let login = [("/v1/login", Answer::json(200, LOGIN))];
    let h = Harness::start(
        &["ck-SWEEP-1", "pw-SWEEP-1"],
        if fixed_login { &login } else { &[] },
    );
    let fixtures = fixtures_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    // With the login fixed, every call is sent (the checks before sending pass), so the
    // resource decoders are reached, not only the login's; with the login fuzzed, the login
    // is the call that matters. A new client per case: an answer refusing the user token
    // makes a client cool down before it logs in again, and the next case must not inherit
    // that.
    h.run(cases, answers(fixtures, &["application/json"]), |calls| {
        let c = client(&h.server);
        if fixed_login {
            h.rt.block_on(call_all(&c, calls));
        } else {
            h.rt.block_on(calls.send(c.login()));
        }
    });
}

#[test]
fn resource_answers_never_panic() {
    fuzz(true, 128);
}

#[test]
fn login_answers_never_panic() {
    fuzz(false, 64);
}
