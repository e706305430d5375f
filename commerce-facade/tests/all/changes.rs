//! Orders that change while the flow works on them, against the sandbox's bol: a buyer asks
//! to cancel before the hand-over, after it, after the parcel left; one line of several; a
//! supplier that cannot cancel. Each decision is journaled; no cancelled line is ever
//! confirmed, no request is left unanswered, nothing is created twice.
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

use commerce_core::SalesChannel;
use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal, Summary};
use commerce_sandbox::{BolLine, Config, Sandbox};
use commerce_testing::paused_time_http;

/// A sandbox whose buyers cancel only when a test says so, and whose warehouses ship ten
/// minutes (of paused time) after an order reaches them.
async fn sandbox(orders: usize) -> Sandbox {
    commerce_sandbox::start(Config {
        orders,
        cancellation_requests: 0.0,
        ship_after: Duration::from_secs(600),
        ..Config::default()
    })
    .await
    .unwrap()
}

/// One run with the shop's settings, one order at a time, stopping after `steps` finished
/// steps (`None`: to the end).
async fn run(sb: &Sandbox, journal: &Arc<MemoryJournal>, steps: Option<usize>) -> Summary {
    let options = FlowOptions {
        stop_after_steps: steps,
        ..support::shop_options()
    };
    run_with(sb, journal, options).await
}

/// One run as a new process (new clients: ShopWeDo's 1 s window is the provider's), one
/// order at a time, checking every minute.
async fn run_with(sb: &Sandbox, journal: &Arc<MemoryJournal>, options: FlowOptions) -> Summary {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let options = FlowOptions {
        concurrency: 1,
        poll_interval: Duration::from_secs(60),
        ..options
    };
    Flow::new(
        support::providers_on(sb, &paused_time_http()),
        journal.clone(),
        options,
    )
    .run()
    .await
}

/// The order's lines at bol, and whether it goes to ShopWeDo.
fn lines_of(sb: &Sandbox, order: &str) -> (Vec<BolLine>, bool) {
    let lines: Vec<BolLine> = sb
        .bol_lines()
        .into_iter()
        .filter(|l| l.order_id == order)
        .collect();
    let catalogue = sb.catalogue();
    let at_shopwedo = catalogue.iter().any(|p| p.ean == lines[0].ean && p.at_shopwedo);
    (lines, at_shopwedo)
}

/// Whether every line of the order is stocked at the same provider.
fn one_provider(sb: &Sandbox, order: &str) -> bool {
    let catalogue = sb.catalogue();
    let sides: std::collections::HashSet<bool> = lines_of(sb, order)
        .0
        .iter()
        .map(|l| catalogue.iter().any(|p| p.ean == l.ean && p.at_shopwedo))
        .collect();
    sides.len() == 1
}

/// The orders one provider can ship whole (the sandbox splits every sixth).
fn orders_of(sb: &Sandbox) -> Vec<String> {
    let mut ids: Vec<String> = sb.bol_lines().into_iter().map(|l| l.order_id).collect();
    ids.dedup();
    ids.retain(|id| one_provider(sb, id));
    ids
}

/// No rule broken, but the one each new process breaks: its first bol token while the last
/// process's is still fresh (there is no token cache shared between processes yet).
fn assert_no_violation(report: &commerce_sandbox::Report) {
    for (provider, p) in &report.providers {
        for sample in &p.violation_samples {
            assert!(
                provider == "bol" && sample.contains("a new token was requested"),
                "{provider}: {sample}"
            );
        }
    }
}

/// The order's history as one text.
async fn notes(journal: &MemoryJournal, key: &str) -> String {
    support::notes(journal, key).await.join("\n")
}

#[tokio::test(start_paused = true)]
async fn a_request_before_the_hand_over_cancels_on_bol_and_nothing_is_handed_over() {
    let sb = sandbox(12).await;
    let ids = orders_of(&sb);
    let whole = ids[0].clone();
    // One line of an order of two.
    let partial = ids
        .iter()
        .find(|id| lines_of(&sb, id).0.len() == 2)
        .expect("an order of two lines")
        .clone();
    let (partial_lines, _) = lines_of(&sb, &partial);
    let whole_lines: Vec<String> = lines_of(&sb, &whole).0.into_iter().map(|l| l.line_id).collect();
    sb.request_cancellation(
        &whole,
        &whole_lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    sb.request_cancellation(&partial, &[&partial_lines[0].line_id]);

    let journal = Arc::new(MemoryJournal::new());
    let summary = run(&sb, &journal, None).await;
    assert!(summary.is_clean(), "{summary:#?}");
    // Two of the twelve are split over both providers (two parts each).
    assert_eq!(
        (
            summary.cancelled,
            summary.split,
            summary.completed,
            summary.orders_seen
        ),
        (1, 2, 11, 12),
        "{summary:#?}"
    );
    let outcome = support::settled(&sb, journal.as_ref(), 12).await;
    assert_eq!((outcome.completed, outcome.cancelled, outcome.split), (11, 1, 2));

    let r = journal.load(&format!("bol:{whole}")).await.unwrap().unwrap();
    assert!(r.fulfilment.is_none() && !r.submission.is_done(), "{r:#?}");
    assert!(
        r.cancelled
            .as_deref()
            .unwrap()
            .contains("before the order was handed over")
    );
    assert!(r.invitations.is_empty(), "no invitation for a cancelled order");
    // The other line went on alone: handed over, confirmed, named in the invitations.
    let r = journal.load(&format!("bol:{partial}")).await.unwrap().unwrap();
    assert!(r.dropped_lines.contains_key(&partial_lines[0].line_id), "{r:#?}");
    assert_eq!(r.order.lines.len(), 1);
    assert_eq!(r.order.lines[0].line_id, partial_lines[1].line_id);
    assert!(notes(&journal, &r.key).await.contains("accepting on bol"));
    let report = sb.report();
    assert_eq!(report.created("bol", "cancellations"), 2, "{report:#?}");
    assert_no_violation(&report);
    support::assert_once(&report, journal.as_ref()).await;
}

#[tokio::test(start_paused = true)]
async fn after_the_hand_over_shopwedo_cancels_and_a_supplier_that_cannot_asks_a_person() {
    let sb = sandbox(4).await;
    let journal = Arc::new(MemoryJournal::new());
    // Every order routed and handed over (two steps each), none shipped yet.
    let first = run(&sb, &journal, Some(8)).await;
    assert_eq!(first.submitted, 4, "{first:#?}");
    let ids = orders_of(&sb);
    let mut at_shopwedo = 0;
    for id in &ids {
        let (lines, shopwedo) = lines_of(&sb, id);
        at_shopwedo += usize::from(shopwedo);
        let lines: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
        sb.request_cancellation(id, &lines);
    }
    assert!(
        at_shopwedo > 0 && at_shopwedo < 4,
        "both providers: {at_shopwedo}"
    );

    let second = run(&sb, &journal, None).await;
    assert!(second.failures.is_empty(), "{second:#?}");
    assert_eq!(second.cancelled, at_shopwedo, "{second:#?}");
    assert_eq!(second.attention.len(), 4 - at_shopwedo, "{second:#?}");
    for (key, reason) in &second.attention {
        assert!(reason.contains("customer-api cannot cancel"), "{key}: {reason}");
        assert!(reason.contains("commerce resolve --cancel"), "{key}: {reason}");
    }
    for r in journal.all().await.unwrap() {
        if r.cancelled.is_some() {
            assert_eq!(r.fulfilment.as_deref(), Some("shopwedo"));
            assert!(notes(&journal, &r.key).await.contains("cancelling"), "{r:#?}");
        }
    }
    let outcome = support::settled(&sb, journal.as_ref(), 4).await;
    assert_eq!(
        (outcome.cancelled, outcome.referred),
        (at_shopwedo, 4 - at_shopwedo)
    );
    let report = sb.report();
    assert_eq!(
        report.providers["shopwedo"]
            .requests
            .get("POST /cancelOrder")
            .copied(),
        Some(at_shopwedo as u64),
        "{report:#?}"
    );
    assert_eq!(report.created("bol", "shipments"), 0, "nothing confirmed");
    assert_eq!(report.created("bol", "cancellations"), at_shopwedo as u64);
    assert_no_violation(&report);
    // A run later changes nothing.
    let third = run(&sb, &journal, None).await;
    assert_eq!((third.orders_seen, third.cancelled), (0, 0), "{third:#?}");
    assert_eq!(sb.report().total_duplicates(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_after_the_parcel_left_is_declined_by_confirming_it() {
    let sb = sandbox(1).await;
    let journal = Arc::new(MemoryJournal::new());
    // Routed, handed over, shipped: stopped before the confirmation.
    let first = run(&sb, &journal, Some(3)).await;
    assert_eq!((first.shipped, first.confirmed), (1, 0), "{first:#?}");
    let id = orders_of(&sb)[0].clone();
    let (lines, _) = lines_of(&sb, &id);
    sb.request_cancellation(&id, &lines.iter().map(|l| l.line_id.as_str()).collect::<Vec<_>>());
    let second = run(&sb, &journal, None).await;
    assert!(second.is_clean(), "{second:#?}");
    assert_eq!(second.completed, 1);
    let r = journal.load(&format!("bol:{id}")).await.unwrap().unwrap();
    assert_eq!(r.kept_lines.len(), lines.len(), "{r:#?}");
    assert!(notes(&journal, &r.key).await.contains("after the parcel left"));
    support::settled(&sb, journal.as_ref(), 1).await;
    let report = sb.report();
    assert_eq!(report.created("bol", "cancellations"), 0);
    assert_no_violation(&report);
}

#[tokio::test(start_paused = true)]
async fn one_line_of_several_after_the_hand_over_asks_a_person_and_is_never_confirmed() {
    let sb = sandbox(12).await;
    let ids = orders_of(&sb);
    let (order, lines) = ids
        .iter()
        .map(|id| (id.clone(), lines_of(&sb, id)))
        .find(|(_, (lines, shopwedo))| lines.len() == 2 && *shopwedo)
        .map(|(id, (lines, _))| (id, lines))
        .expect("an order of two lines at ShopWeDo");
    let key = format!("bol:{order}");
    let journal = Arc::new(MemoryJournal::new());
    // Every order handed over, none shipped.
    run(&sb, &journal, Some(24)).await;
    assert!(journal.load(&key).await.unwrap().unwrap().submission.is_done());
    sb.request_cancellation(&order, &[&lines[0].line_id]);
    let second = run(&sb, &journal, None).await;
    let reason = &second
        .attention
        .iter()
        .find(|(k, _)| k == &key)
        .expect("a person decides")
        .1;
    assert!(reason.contains("cancels whole orders only"), "{reason}");
    assert!(second.failures.is_empty(), "{second:#?}");
    // The operator has the warehouse take the line out, accepts the buyer's request on
    // bol, and retries.
    let bol = support::bol_on(&sb, &paused_time_http());
    bol.accept_cancellation(&order, std::slice::from_ref(&lines[0].line_id))
        .await
        .unwrap();
    journal
        .amend(&key, "operator", chrono::Utc::now(), &mut |r| {
            r.attention = None;
            Ok("retry asked by an operator".into())
        })
        .await
        .unwrap();
    let third = run(&sb, &journal, None).await;
    assert!(third.is_clean(), "{third:#?}");
    let r = journal.load(&key).await.unwrap().unwrap();
    assert!(r.completed_at.is_some(), "{r:#?}");
    assert!(r.dropped_lines.contains_key(&lines[0].line_id), "{r:#?}");
    // The cancelled line was never confirmed (bol refuses that: a violation).
    let now = sb.bol_lines();
    let line = |id: &str| now.iter().find(|l| l.line_id == id).unwrap().clone();
    assert_eq!(
        (line(&lines[0].line_id).shipped, line(&lines[0].line_id).cancelled),
        (0, lines[0].quantity)
    );
    assert_eq!(line(&lines[1].line_id).shipped, lines[1].quantity);
    assert_no_violation(&sb.report());
    support::settled(&sb, journal.as_ref(), 12).await;
}

/// An order waiting for a person before its hand-over (here: ShopWeDo needs a phone the
/// buyer did not give and the shop has not set) whose buyer then asks to cancel: the
/// listing reopens it, and the flow accepts the request instead of leaving it unanswered.
#[tokio::test(start_paused = true)]
async fn a_request_on_an_order_waiting_for_a_person_is_answered() {
    let sb = sandbox(8).await;
    let journal = Arc::new(MemoryJournal::new());
    let first = run_with(&sb, &journal, FlowOptions::default()).await;
    let (key, _) = first
        .attention
        .iter()
        .find(|(_, reason)| reason.contains("COMMERCE_CONTACT_PHONE"))
        .expect("an order without a phone at ShopWeDo")
        .clone();
    let order = key.trim_start_matches("bol:").to_owned();
    let (lines, _) = lines_of(&sb, &order);
    sb.request_cancellation(
        &order,
        &lines.iter().map(|l| l.line_id.as_str()).collect::<Vec<_>>(),
    );
    // The shop still has no phone set: the order is cancelled all the same, as its buyer
    // asked.
    let second = run_with(&sb, &journal, FlowOptions::default()).await;
    assert!(second.failures.is_empty(), "{second:#?}");
    let r = journal.load(&key).await.unwrap().unwrap();
    assert!(r.cancelled.is_some() && r.attention.is_none(), "{r:#?}");
    assert!(
        notes(&journal, &key)
            .await
            .contains("reopened to answer the request")
    );
    for l in sb.bol_lines().iter().filter(|l| l.order_id == order) {
        assert_eq!(
            (l.cancelled, l.cancellation_request),
            (l.quantity, false),
            "{l:?}"
        );
    }
    assert_no_violation(&sb.report());
}
