//! Orders no one fulfilment provider can ship whole (the sandbox's every sixth order has a
//! line stocked only at the other provider): split into a part per provider, each handed
//! over with its lines, shipped, and confirmed on bol with its own shipment and tracking
//! code; one review invitation for the order.
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use commerce_core::testing::paused_time_http;
use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal};
use commerce_sandbox::Config;

#[tokio::test(start_paused = true)]
async fn an_order_no_provider_can_ship_whole_is_split_and_each_part_confirmed_on_its_own() {
    let sb = commerce_sandbox::start(Config {
        orders: 6,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let journal = Arc::new(MemoryJournal::new());
    let summary = Flow::new(
        support::providers_on(&sb, &paused_time_http()),
        journal.clone(),
        FlowOptions {
            poll_interval: Duration::from_secs(60),
            ..support::shop_options()
        },
    )
    .run()
    .await;
    assert!(summary.is_clean(), "{summary:#?}");
    // Five orders whole, one split in two parts: seven completed, one split.
    assert_eq!(
        (summary.split, summary.completed, summary.pending),
        (1, 7, 0),
        "{summary:#?}"
    );
    let outcome = support::settled(&sb, journal.as_ref(), 6);
    assert_eq!((outcome.split, outcome.completed), (1, 7));

    let records = journal.all().unwrap();
    let parent = records.iter().find(|r| !r.split.is_empty()).unwrap();
    assert_eq!(parent.stage(), "split");
    let parts: Vec<_> = records
        .iter()
        .filter(|r| r.part_of.as_deref() == Some(parent.key.as_str()))
        .collect();
    assert_eq!(parts.len(), 2, "{records:#?}");
    let mut providers: Vec<&str> = parts.iter().map(|p| p.fulfilment.as_deref().unwrap()).collect();
    providers.sort();
    assert_eq!(providers, ["customer-api", "shopwedo"]);
    // Each part: its own lines, its own parcel and tracking, its own bol shipment.
    assert_ne!(
        parts[0].shipped.done().unwrap().code,
        parts[1].shipped.done().unwrap().code
    );
    for part in &parts {
        assert_eq!(part.order.lines.len(), 1, "{part:#?}");
        assert!(part.confirmation.is_done());
    }
    // One invitation for the order, sent by its first part.
    let inviting: Vec<_> = parts.iter().filter(|p| !p.invites_elsewhere).collect();
    assert_eq!(inviting.len(), 1);
    assert!(inviting[0].invitations["safeshop"].is_done());
    let report = sb.report();
    assert_eq!(report.created("bol", "shipments"), 7, "{report:#?}");
    assert_eq!(report.created("safeshop", "invites"), 6, "{report:#?}");
    assert_eq!(
        report.created("shopwedo", "orders") + report.created("customer", "orders"),
        7
    );
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    support::assert_once(&report, journal.as_ref());
    // The history says what happened.
    let notes: Vec<String> = journal
        .history(&parent.key)
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect();
    assert!(notes.iter().any(|n| n.contains("split into")), "{notes:?}");
}

/// A runner that stops right after planning the split (as a crash would) leaves the plan
/// in the journal; the next run adds the same parts, once.
#[tokio::test(start_paused = true)]
async fn a_split_planned_before_a_crash_adds_the_same_parts_once() {
    let sb = commerce_sandbox::start(Config {
        orders: 6,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let journal = Arc::new(MemoryJournal::new());
    let options = FlowOptions {
        poll_interval: Duration::from_secs(60),
        concurrency: 1,
        ..support::shop_options()
    };
    // One step per run, so the run that routes the split order stops right after it.
    let mut steps = 1;
    loop {
        Flow::new(
            support::providers_on(&sb, &paused_time_http()),
            journal.clone(),
            FlowOptions {
                stop_after_steps: Some(1),
                ..options.clone()
            },
        )
        .run()
        .await;
        let planned = journal.all().unwrap().into_iter().find(|r| !r.split.is_empty());
        if let Some(r) = planned {
            assert_eq!(r.stage(), "route", "planned, parts not added yet: {r:#?}");
            assert!(journal.all().unwrap().iter().all(|p| p.part_of.is_none()));
            break;
        }
        steps += 1;
        assert!(steps < 40, "the split order was never routed");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let summary = Flow::new(
        support::providers_on(&sb, &paused_time_http()),
        journal.clone(),
        options,
    )
    .run()
    .await;
    assert!(summary.failures.is_empty(), "{summary:#?}");
    support::settled(&sb, journal.as_ref(), 6);
    let parts = journal
        .all()
        .unwrap()
        .into_iter()
        .filter(|r| r.part_of.is_some())
        .count();
    assert_eq!(parts, 2);
    support::assert_once(&sb.report(), journal.as_ref());
}
