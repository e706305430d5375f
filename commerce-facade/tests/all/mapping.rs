//! The mapping between providers, against the sandbox's bol, which (like bol) leaves the
//! buyer's phone out of most orders, gives relay e-mail addresses and house number
//! extensions: without the shop's contact phone, an order ShopWeDo cannot take waits for a
//! person with a message naming the field and the setting (nothing is sent, nothing is
//! retried in a loop); with it, every order goes through. ShopWeDo's parcels come in the
//! shapes its undocumented `shipping` may take, some without a tracking code.
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

use commerce_testing::facade as support;

use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal, Step};
use commerce_sandbox::Config;
use commerce_testing::paused_time_http;

#[tokio::test(start_paused = true)]
async fn an_order_without_a_phone_waits_for_the_shop_phone_and_then_goes_through() {
    let orders = 16;
    let sb = commerce_sandbox::start(Config {
        orders,
        ..Config::default()
    })
    .await
    .unwrap();
    let http = paused_time_http();
    let journal = Arc::new(MemoryJournal::new());
    let no_phone = FlowOptions {
        poll_interval: Duration::from_secs(1),
        ..FlowOptions::default()
    };
    let first = Flow::new(
        support::providers_on(&sb, &http),
        journal.clone(),
        no_phone.clone(),
    )
    .run()
    .await;
    // Orders routed to ShopWeDo without the buyer's phone wait for a person; the message
    // names the field and the setting. Nothing failed, nothing was retried.
    assert!(first.failures.is_empty(), "{first:#?}");
    let no_phone: Vec<&(String, String)> = first
        .attention
        .iter()
        .filter(|(_, reason)| !support::is_cancellation_referral(reason))
        .collect();
    assert!(!no_phone.is_empty(), "some orders have no phone: {first:#?}");
    for (key, reason) in &no_phone {
        assert!(reason.contains("shipping_address.phone"), "{key}: {reason}");
        assert!(reason.contains("COMMERCE_CONTACT_PHONE"), "{key}: {reason}");
        let r = journal.load(key).await.unwrap().unwrap();
        assert_eq!(r.fulfilment.as_deref(), Some("shopwedo"));
        assert_eq!(r.submission, Step::NotStarted, "nothing was sent");
        assert!(r.order.shipping_address.phone.is_none());
    }
    let report = sb.report();
    let handed_over = journal
        .all()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.submission.is_done())
        .count();
    assert_eq!(
        handed_over,
        // An order split in two parts hands over twice.
        orders + first.split - no_phone.len() - first.cancelled,
        "every other order (or part) handed over, or cancelled before: {first:#?}"
    );
    assert_eq!(
        report.created("shopwedo", "orders") + report.created("customer", "orders"),
        handed_over as u64,
        "{report:#?}"
    );
    // Every buyer's address is a bol relay address, passed on as given.
    for r in journal.all().await.unwrap() {
        assert!(
            r.order.customer.email.ends_with("@verkopen.bol.com"),
            "{}",
            r.order.customer.email
        );
    }
    let with_extension = journal
        .all()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.order.shipping_address.house_number_addition.is_some())
        .count();
    assert!(
        with_extension > 0,
        "some addresses carry a house number extension"
    );

    // The operator sets the shop's phone and retries them: every order completes once.
    for (key, _) in &no_phone {
        journal
            .amend(key, "operator", chrono::Utc::now(), &mut |r| {
                r.attention = None;
                Ok("retry asked by an operator".into())
            })
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = Flow::new(
        support::providers_on(&sb, &http),
        journal.clone(),
        FlowOptions {
            poll_interval: Duration::from_secs(1),
            ..support::shop_options()
        },
    )
    .run()
    .await;
    assert!(support::clean_but_referrals(&second), "{second:#?}");
    support::settled(&sb, journal.as_ref(), orders).await;
    // ShopWeDo's parcels, in every shape: the tracking read one level down as well, and a
    // parcel that left without a code confirmed on bol without one after the wait.
    let codes: Vec<String> = journal
        .all()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.fulfilment.as_deref() == Some("shopwedo"))
        .filter_map(|r| r.shipped.done().map(|t| t.code.clone()))
        .collect();
    let id = |code: &str| {
        code.trim_start_matches("SWD")
            .trim_end_matches("BE")
            .parse::<u64>()
            .unwrap()
    };
    assert!(codes.iter().any(|c| c.is_empty()), "{codes:?}");
    assert!(
        codes.iter().any(|c| !c.is_empty() && id(c) % 6 == 1),
        "nested in `shipment`: {codes:?}"
    );
    assert!(
        codes.iter().any(|c| !c.is_empty() && id(c) % 6 == 2),
        "nested in `tracking`: {codes:?}"
    );
    for r in journal.all().await.unwrap() {
        if r.shipped.done().is_some_and(|t| t.code.is_empty()) {
            let notes = support::notes(journal.as_ref(), &r.key).await;
            assert!(
                notes.iter().any(|n| n.contains("confirmed without one")),
                "{notes:?}"
            );
            assert!(r.confirmation.is_done());
        }
    }
    // The supplier's orders of several items leave in two parcels: said once while partly
    // shipped, confirmed when both left, the second code in the history.
    let mut two_parcels = 0;
    for r in journal.all().await.unwrap() {
        let notes = support::notes(journal.as_ref(), &r.key).await;
        if notes.iter().any(|n| n.contains("in 2 parcels")) {
            two_parcels += 1;
            assert_eq!(
                notes.iter().filter(|n| n.starts_with("partly shipped")).count(),
                1,
                "{notes:?}"
            );
            assert!(r.confirmation.is_done(), "{r:#?}");
        }
    }
    let candidates: Vec<String> = journal
        .all()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.fulfilment.as_deref() == Some("customer-api") && r.order.lines.len() > 1)
        .map(|r| {
            format!(
                "{} {:?} {:?}",
                r.key,
                r.submission.done().map(|s| s.reference.clone()),
                r.shipped
            )
        })
        .collect();
    assert!(
        two_parcels > 0,
        "some supplier orders leave in two parcels: {candidates:#?}"
    );
    // Pick-up point orders: handed over to the point's address with its name as the
    // company line (read back from ShopWeDo), the buyer as the recipient.
    let shopwedo = support::shopwedo_on(&sb, &http);
    let mut pickups = 0;
    for r in journal.all().await.unwrap() {
        let Some(point) = r.order.pickup_point.clone() else {
            continue;
        };
        pickups += 1;
        if let (Some("shopwedo"), Some(receipt)) = (r.fulfilment.as_deref(), r.submission.done()) {
            let there = shopwedo
                .get_order(receipt.reference.parse().unwrap())
                .await
                .unwrap();
            let address = there.shipping_address.unwrap();
            assert_eq!(address.company.as_deref(), Some(point.as_str()), "{r:#?}");
            assert_eq!(address.street, r.order.shipping_address.street);
        }
    }
    assert!(pickups > 0, "some orders go to a pick-up point");
    let report = sb.report();
    support::assert_once(&report, journal.as_ref()).await;
    // The second run has new clients, as a new process would: its bol token request while
    // the first run's token is fresh is the only rule it breaks.
    for p in report.providers.values() {
        assert!(
            p.violation_samples
                .iter()
                .all(|v| v.contains("new token was requested")),
            "{report:#?}"
        );
    }
}
