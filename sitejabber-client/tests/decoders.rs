//! The decoders never panic: every call's answer (the login, every resource, the `{status}`
//! envelopes and their errors, the streams' pages) is fed arbitrary bytes and mutated
//! fixtures under every status.

use chrono::NaiveDate;
use commerce_core::testing::fuzz::{Answer, FuzzServer, Harness, answers, fixtures_in};
use commerce_core::{RateLimits, RetryPolicy};
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
async fn call_all(c: &SitejabberClient) {
    let _ = c.login().await;
    let _ = c.business(&[Datasource::Yelp, Datasource::Bbb]).await;
    let _ = c.businesses(&[DOMAIN, "other.example"]).await;
    let _ = c.review(7).await;
    let _ = c.reviews(&ReviewsQuery::default(), 0, 20).await;
    let _ = c.reviews_stream(ReviewsQuery::default()).take(3).count().await;
    let _ = c.publish_review(7).await;
    let _ = c.flag_review(7, FlagReason::Language, "rude").await;
    let _ = c.comments(&CommentsQuery::default(), 0, 20).await;
    let _ = c.comments_stream(CommentsQuery::default()).take(3).count().await;
    let _ = c.add_comment(7, "Thanks!").await;
    let _ = c.send_resolution(7, "jan", "Sorted").await;
    let _ = c.messages(&MessagesQuery::default(), 0, 20).await;
    let _ = c.messages_stream(MessagesQuery::default()).take(3).count().await;
    let _ = c.send_message(7, "jan", "Hello", "Your order").await;
    let _ = c
        .add_review_request(&ReviewRequest {
            email: Some("jan@example.com".into()),
            order_id: "A-1".into(),
            order_date: NaiveDate::from_ymd_opt(2026, 1, 2),
            ..Default::default()
        })
        .await;
    let _ = c.remove_review_request("jan@example.com", Some("A-1")).await;
    let _ = c.write_review_link().await;
    let _ = c.edit_review_link("jan@example.com").await;
    let _ = c.products(&ProductsQuery::default(), 0, 20).await;
    let _ = c.products_stream(ProductsQuery::default()).take(3).count().await;
    let _ = c
        .add_product(&NewProduct {
            sku: "S-1".into(),
            title: "Bell".into(),
            ..Default::default()
        })
        .await;
    let _ = c.remove_product(3).await;
    let _ = c.add_product_image("S-1", "https://img.example/1.jpg").await;
    let _ = c.product_reviews(&ProductReviewsQuery::default(), 0, 20).await;
    let _ = c
        .add_product_review(&NewProductReview {
            sku: "S-1".into(),
            title: "Good".into(),
            content: "Rings well".into(),
            rating: 5,
            ..Default::default()
        })
        .await;
    let _ = c.vote_product_review(9, Vote::Positive).await;
    let _ = c.top_rated_products(Some("bikes"), Some("EUR")).await;
    let _ = c.product_review_stats(&StatsQuery::default()).await;
    let _ = c
        .add_product_review_request(&ProductReviewRequest {
            email: "jan@example.com".into(),
            product_skus: vec!["S-1".into()],
            order_id: "A-1".into(),
            order_date: NaiveDate::from_ymd_opt(2026, 1, 2),
            ..Default::default()
        })
        .await;
    let _ = c
        .remove_product_review_request("jan@example.com", Some("S-1"), Some("A-1"))
        .await;
    let _ = c.questions(0, 20).await;
    let _ = c.questions_stream().take(3).count().await;
    let _ = c.product_questions(Some("S-1"), 0, 20).await;
    let _ = c.customer_information("jan@example.com").await;
    let _ = c.remove_customer_information("jan@example.com").await;
}

fn fuzz(fixed_login: bool, cases: u32) {
    let login = [("/v1/login", Answer::json(200, LOGIN))];
    let h = Harness::start(
        &["ck-SWEEP-1", "pw-SWEEP-1"],
        if fixed_login { &login } else { &[] },
    );
    let fixtures = fixtures_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    // With the login fixed, each of the 35 calls is sent in every case (the checks before
    // sending pass), so the resource decoders are reached, not only the login's. A new client
    // per case: an answer refusing the user token makes a client cool down before it logs
    // in again, and the next case must not inherit that.
    let per_case = if fixed_login { 35 } else { 1 };
    h.run(cases, answers(fixtures, &["application/json"]), per_case, || {
        h.rt.block_on(call_all(&client(&h.server)));
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
