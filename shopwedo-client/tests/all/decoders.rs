//! The decoders never panic: every call's answer (orders, stock, products, categories, blog
//! posts, barcodes and the error answers) is fed arbitrary bytes and mutated fixtures under
//! every status.

use chrono::NaiveDate;
use commerce_core::{RateLimits, RetryPolicy};
use commerce_testing::fuzz::{Calls, Harness, answers, fixtures_in};
use futures_util::StreamExt;
use shopwedo_client::{Address, NewOrder, OrderItem, ShopWeDoClient, StockQuery};

fn order() -> NewOrder {
    NewOrder {
        external_order_id: "A-1001".into(),
        external_order_reference: None,
        release: Some(true),
        created_at: NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(9, 15, 0)
            .unwrap(),
        updated_at: None,
        comment: None,
        comment_packing: None,
        billing_address: None,
        shipping_address: Address {
            street: "Grote Markt".into(),
            number: "7".into(),
            zip: "2000".into(),
            city: "Antwerpen".into(),
            country_iso2: "BE".into(),
            email: "an@example.be".into(),
            phone: "+3231234567".into(),
            ..Default::default()
        },
        items: vec![OrderItem {
            sku: 123,
            amount: 1,
            name: None,
            comment: None,
        }],
    }
}

async fn call_all(c: &ShopWeDoClient, calls: &mut Calls) {
    calls.send(c.auth_test()).await;
    calls.send(c.create_order(&order())).await;
    calls.send(c.get_order(42)).await;
    calls.send(c.cancel_order(42)).await;
    calls
        .send(c.stock_items(StockQuery {
            sku: Some(123),
            limit: Some(25),
            offset: 0,
        }))
        .await;
    calls.send(c.stock_stream().take(3).count()).await;
    calls.send(c.products(&[1, 2], &[], None)).await;
    calls.send(c.products_stream(vec![3]).take(3).count()).await;
    calls.send(c.categories(&[], Some(2))).await;
    calls.send(c.categories_stream().take(3).count()).await;
    calls.send(c.blog_posts(&[5], None)).await;
    calls.send(c.blog_posts_stream().take(3).count()).await;
    // Answered from memory once the client has seen the barcode in a stock answer.
    calls.may_not_send(c.sku_for_barcode("8712345678906")).await;
}

#[test]
fn answers_never_panic() {
    let h = Harness::start(&["key-SWEEP-1"], &[]);
    let fixtures = fixtures_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    let c = ShopWeDoClient::builder(4242, "key-SWEEP-1".to_owned().into())
        .base_url(format!("{}/api", h.server.url))
        .retry(RetryPolicy::none())
        .limits(RateLimits::default())
        .build()
        .unwrap();
    h.run(192, answers(fixtures, &["application/json"]), |calls| {
        h.rt.block_on(call_all(&c, calls))
    });
}
