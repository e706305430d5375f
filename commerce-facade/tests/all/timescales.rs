//! The flow at a warehouse's pace, in paused time: parcels ship two hours after the order
//! reaches the warehouse. No order waits behind another's parcel: all 100 are submitted in
//! the first minutes, each waiting order is checked once per poll interval and costs nothing
//! in between, and the run says what it waits for.
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

use commerce_testing::facade as support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_facade::{Event, Flow, FlowOptions, MemoryJournal};
use commerce_sandbox::Config;
use commerce_testing::paused_time_http;

#[tokio::test(start_paused = true)]
async fn orders_are_submitted_at_once_while_others_wait_hours_for_their_parcels() {
    let orders = 100;
    let sb = commerce_sandbox::start(Config {
        orders,
        ship_after: Duration::from_secs(2 * 3600),
        ..Config::default()
    })
    .await
    .unwrap();
    let journal = Arc::new(MemoryJournal::new());
    let started = tokio::time::Instant::now();
    let submitted_at = Arc::new(Mutex::new(Vec::new()));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let poll = Duration::from_secs(300);
    let flow = Flow::new(
        support::providers_on(&sb, &paused_time_http()),
        journal.clone(),
        FlowOptions {
            concurrency: 4,
            poll_interval: poll,
            ..support::shop_options()
        },
    )
    .observe({
        let (submitted_at, waits) = (submitted_at.clone(), waits.clone());
        move |e| match e {
            Event::Submitted { .. } => submitted_at.lock().unwrap().push(started.elapsed()),
            Event::Waiting { shipment, .. } => waits.lock().unwrap().push(*shipment),
            _ => {}
        }
    });
    let summary = flow.run().await;
    let took = started.elapsed();
    assert!(support::clean_but_referrals(&summary), "{summary:#?}");
    assert_eq!(summary.pending, 0, "{summary:#?}");
    // Buyers cancel some orders on the way (the sandbox's bol, as bol's buyers do).
    let outcome = support::settled(&sb, journal.as_ref(), orders).await;
    assert_eq!(summary.completed, outcome.completed);
    assert!(outcome.completed >= orders * 3 / 4, "{outcome:?}");

    let submitted_at = submitted_at.lock().unwrap().clone();
    assert_eq!(submitted_at.len(), summary.submitted);
    let last_submission = submitted_at.iter().max().copied().unwrap();
    assert!(
        last_submission < Duration::from_secs(5 * 60),
        "every order submitted within the first minutes, none behind a shipping order: the last at {last_submission:?}"
    );
    // The parcels ship after two hours; the run ends soon after the last one's check (a
    // split order invites at its own next check, up to one poll interval after its parts).
    assert!(took >= Duration::from_secs(2 * 3600), "{took:?}");
    assert!(
        took < Duration::from_secs(2 * 3600) + 3 * poll + last_submission,
        "{took:?}"
    );

    // A waiting order is checked once per poll interval, not in a loop.
    let report = sb.report();
    let status_reads = report.providers["shopwedo"]
        .requests
        .get("POST /getOrder")
        .copied()
        .unwrap_or(0)
        + report.providers["customer"]
            .requests
            .iter()
            .filter(|(k, _)| k.as_str() == "GET /api/customer/orders/{id}")
            .map(|(_, n)| *n)
            .sum::<u64>();
    let checks_per_order = (2 * 3600) / poll.as_secs() + 2;
    assert!(
        status_reads <= orders as u64 * checks_per_order,
        "{status_reads} status reads for {orders} orders: {report:#?}"
    );
    assert!(
        status_reads >= summary.shipped as u64 * (checks_per_order - 3),
        "{status_reads}"
    );
    eprintln!(
        "last submission at {last_submission:?} of simulated time, run {took:?}, {status_reads} status reads"
    );
    support::assert_once(&report, journal.as_ref()).await;
    assert_eq!(report.total_rate_limited(), 0, "{report:#?}");
    // While the parcels travel, the run says it waits for them.
    let waits = waits.lock().unwrap();
    assert!(
        waits.iter().max().copied().unwrap_or(0) >= summary.shipped,
        "{waits:?}"
    );
}

/// A warehouse whose order intake is slow: each submission takes longer than a runner's
/// lease. Counts the submissions per order.
#[derive(Debug, Default)]
struct SlowWarehouse {
    submissions: Mutex<std::collections::HashMap<String, usize>>,
}

#[async_trait::async_trait]
impl commerce_core::Fulfilment for SlowWarehouse {
    fn name(&self) -> &str {
        "slow-warehouse"
    }

    async fn submit(
        &self,
        order: &commerce_core::Order,
    ) -> Result<commerce_core::SubmissionReceipt, commerce_core::Error> {
        *self
            .submissions
            .lock()
            .unwrap()
            .entry(order.id.clone())
            .or_default() += 1;
        // The first order takes 5 s, the others 2 s: a worker finishing one of those
        // after the first order's lease ran out would take the first over.
        let first = self.submissions.lock().unwrap().len() == 1;
        tokio::time::sleep(Duration::from_secs(if first { 5 } else { 2 })).await;
        Ok(commerce_core::SubmissionReceipt {
            provider: self.name().into(),
            reference: format!("W-{}", order.id),
            already_submitted: false,
        })
    }

    async fn status(&self, reference: &str) -> Result<commerce_core::FulfilmentStatus, commerce_core::Error> {
        Ok(commerce_core::FulfilmentStatus {
            state: commerce_core::FulfilmentState::Shipped,
            shipments: vec![commerce_core::Shipment {
                tracking: Some(commerce_core::Tracking {
                    carrier: Some("TNT".into()),
                    code: format!("3S{reference}"),
                    url: None,
                }),
                ..Default::default()
            }],
        })
    }

    async fn cancel(&self, _reference: &str) -> Result<(), commerce_core::Error> {
        Ok(())
    }

    async fn stock(&self, eans: &[String]) -> Result<Vec<commerce_core::StockLevel>, commerce_core::Error> {
        Ok(eans
            .iter()
            .map(|ean| commerce_core::StockLevel::new(ean.clone(), Some(ean.clone()), 1000))
            .collect())
    }
}

/// A call that outlasts the lease does not let another worker (of this runner or another)
/// take the order over: the lease is renewed while the order is worked on.
#[tokio::test(start_paused = true)]
async fn a_call_longer_than_the_lease_keeps_its_order() {
    let sb = commerce_sandbox::start(Config {
        orders: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let http = paused_time_http();
    let warehouse = Arc::new(SlowWarehouse::default());
    let mut providers = commerce_facade::Providers::new()
        .channel(support::bol_on(&sb, &http))
        .review_platform(support::safeshop_on(&sb, &http));
    providers.fulfilment.push(warehouse.clone());
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(
        providers,
        journal.clone(),
        FlowOptions {
            concurrency: 2,
            lease: Duration::from_secs(1),
            poll_interval: Duration::from_secs(1),
            ..FlowOptions::default()
        },
    );
    let summary = flow.run().await;
    assert!(summary.is_clean(), "{summary:#?}");
    assert_eq!(summary.completed, 3, "{summary:#?}");
    let submissions = warehouse.submissions.lock().unwrap().clone();
    assert_eq!(submissions.len(), 3);
    assert!(
        submissions.values().all(|n| *n == 1),
        "each order submitted once: {submissions:?}"
    );
}
