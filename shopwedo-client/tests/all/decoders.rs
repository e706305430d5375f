//! The decoders never panic: every call's answer (orders, stock, products, categories, blog
//! posts, barcodes, pick-up points, retour announcements, settings and arrivals, and the
//! error answers) is fed arbitrary bytes and mutated fixtures under
//! every status.

use chrono::NaiveDate;
use commerce_core::{Announcement, Fulfilment, ReturnNotice};
use commerce_core::{RateLimits, RetryPolicy};
use commerce_testing::fuzz::{Calls, Harness, answers, fixtures_in};
use futures_util::StreamExt;
use shopwedo_client::{
    Address, NewOrder, OrderItem, RetourAnnouncement, RetourItem, ShopWeDoClient, StockQuery,
};

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
    calls.send(c.pudo("1012AB", "NL")).await;
    calls
        .send(c.create_retour_announcement(&RetourAnnouncement {
            shop_id: Some(4242),
            order_id: 42,
            items: vec![RetourItem {
                sku: "123".into(),
                amount: 1,
                reason: "Te groot (bol RMA 1)".into(),
            }],
        }))
        .await;
    calls.send(c.retour_settings(4242)).await;
    let notice = ReturnNotice {
        channel: "bol".into(),
        order_id: "A-1001".into(),
        rma_id: "1".into(),
        reference: "42".into(),
        ean: "8712345678906".into(),
        quantity: 1,
        reason: None,
    };
    calls.send(c.announce_return(&notice)).await;
    calls.send(c.find_announcement(&notice)).await;
    calls
        .send(c.return_arrival(&Announcement {
            provider: "shopwedo".into(),
            order_reference: "42".into(),
            rma_id: "1".into(),
            reference: Some("5501".into()),
            sku: Some("123".into()),
            quantity: 1,
            at: chrono::Utc::now(),
        }))
        .await;
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
