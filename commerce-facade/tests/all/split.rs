//! Orders no one fulfilment provider can ship whole (the sandbox's every sixth order has a
//! line stocked only at the other provider): split into a part per provider, each handed
//! over with its lines, shipped, and confirmed on bol with its own shipment and tracking
//! code; one review invitation for the order, once its parts ended, naming what they
//! shipped.
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

use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal, OrderRecord, Summary};
use commerce_sandbox::{Config, Sandbox};
use commerce_testing::paused_time_http;

/// Six orders, the sixth split over both providers; buyers cancel only when a test says.
async fn sandbox() -> Sandbox {
    commerce_sandbox::start(Config {
        orders: 6,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// One run as a new process (new clients), one order at a time, after `steps` finished
/// steps (`None`: to the end).
async fn run(sb: &Sandbox, journal: &Arc<MemoryJournal>, steps: Option<usize>) -> Summary {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Flow::new(
        support::providers_on(sb, &paused_time_http()),
        journal.clone(),
        FlowOptions {
            poll_interval: Duration::from_secs(60),
            concurrency: 1,
            stop_after_steps: steps,
            ..support::shop_options()
        },
    )
    .run()
    .await
}

/// Runs one step per run (as a runner stopped there would) until a record is as `wanted`.
async fn step_until(
    sb: &Sandbox,
    journal: &Arc<MemoryJournal>,
    wanted: impl Fn(&OrderRecord) -> bool,
) -> OrderRecord {
    for _ in 0..40 {
        run(sb, journal, Some(1)).await;
        if let Some(r) = journal.all().await.unwrap().into_iter().find(|r| wanted(r)) {
            return r;
        }
    }
    panic!("never reached: {:#?}", journal.all().await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn an_order_no_provider_can_ship_whole_is_split_and_each_part_confirmed_on_its_own() {
    let sb = sandbox().await;
    let journal = Arc::new(MemoryJournal::new());
    let summary = run(&sb, &journal, None).await;
    assert!(summary.is_clean(), "{summary:#?}");
    // Five orders whole, one split in two parts: six completed, one of them split.
    assert_eq!(
        (summary.split, summary.completed, summary.pending),
        (1, 6, 0),
        "{summary:#?}"
    );
    let outcome = support::settled(&sb, journal.as_ref(), 6).await;
    assert_eq!((outcome.split, outcome.completed), (1, 6));

    let records = journal.all().await.unwrap();
    let parent = records.iter().find(|r| !r.split.is_empty()).unwrap();
    assert_eq!(parent.stage(), "completed");
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
    // One invitation for the order, sent by the order once its parts ended, naming both
    // lines.
    assert!(
        parts
            .iter()
            .all(|p| p.invites_elsewhere && p.invitations.is_empty())
    );
    assert!(parent.invitations["safeshop"].is_done());
    assert_eq!(parent.order.lines.len(), 2);
    let report = sb.report();
    assert_eq!(report.created("bol", "shipments"), 7, "{report:#?}");
    assert_eq!(report.created("safeshop", "invites"), 6, "{report:#?}");
    assert_eq!(
        report.created("shopwedo", "orders") + report.created("customer", "orders"),
        7
    );
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    support::assert_once(&report, journal.as_ref()).await;
    // The history says what happened.
    let notes = support::notes(journal.as_ref(), &parent.key).await;
    assert!(notes.iter().any(|n| n.contains("split into")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("every part ended")), "{notes:?}");
}

/// A runner that stops right after planning the split (as a crash would) leaves the plan
/// in the journal; the next run adds the same parts, once.
#[tokio::test(start_paused = true)]
async fn a_split_planned_before_a_crash_adds_the_same_parts_once() {
    let sb = sandbox().await;
    let journal = Arc::new(MemoryJournal::new());
    // The run that routes the split order stops right after it.
    let planned = step_until(&sb, &journal, |r| !r.split.is_empty()).await;
    assert!(
        !planned.split.parts_added(),
        "planned, parts not added yet: {planned:#?}"
    );
    assert!(journal.all().await.unwrap().iter().all(|p| p.part_of.is_none()));
    let summary = run(&sb, &journal, None).await;
    assert!(summary.failures.is_empty(), "{summary:#?}");
    support::settled(&sb, journal.as_ref(), 6).await;
    let parts = journal
        .all()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.part_of.is_some())
        .count();
    assert_eq!(parts, 2);
    support::assert_once(&sb.report(), journal.as_ref()).await;
}

/// The buyer cancels the line of one part after the split, before that part is handed
/// over: the part ends cancelled (accepted on bol), the other ships, and the order still
/// invites, once, naming only what shipped.
#[tokio::test(start_paused = true)]
async fn a_part_its_buyer_cancels_leaves_the_invitation_to_the_order_for_what_shipped() {
    let sb = sandbox().await;
    let journal = Arc::new(MemoryJournal::new());
    let parent = step_until(&sb, &journal, |r| r.split.parts_added()).await;
    // A part not handed over yet (the run may have handed one over after adding them).
    let mut waiting = Vec::new();
    for p in &parent.split {
        if journal.load(&p.key).await.unwrap().unwrap().submission == commerce_facade::Step::NotStarted {
            waiting.push(p.clone());
        }
    }
    let cancelled = waiting.first().unwrap().clone();
    let kept = parent
        .split
        .iter()
        .find(|p| p.key != cancelled.key)
        .unwrap()
        .clone();
    sb.request_cancellation(&parent.order.id, &[cancelled.lines[0].as_str()]);
    let summary = run(&sb, &journal, None).await;
    assert!(summary.is_clean() && summary.pending == 0, "{summary:#?}");
    let part = journal.load(&cancelled.key).await.unwrap().unwrap();
    assert!(part.cancelled.is_some(), "{part:#?}");
    let order = journal.load(&parent.key).await.unwrap().unwrap();
    assert!(order.completed_at.is_some(), "{order:#?}");
    assert!(order.invitations["safeshop"].is_done());
    let lines: Vec<&str> = order.order.lines.iter().map(|l| l.line_id.as_str()).collect();
    assert_eq!(lines, kept.lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(order.dropped_lines.contains_key(&cancelled.lines[0]));
    support::settled(&sb, journal.as_ref(), 6).await;
    let report = sb.report();
    assert_eq!(
        report.created("safeshop", "invites"),
        6,
        "one per order: {report:#?}"
    );
    assert_eq!(report.created("bol", "cancellations"), 1);
    support::assert_once(&report, journal.as_ref()).await;
}
