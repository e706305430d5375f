//! What the quickstart's first run shows on the embedded sandbox's default data
//! (`examples/quickstart.rs`: 6 orders, every provider on the sandbox, a demo contact
//! phone): the flow working, nothing failed, and one order waiting for a person — about a
//! buyer's cancellation the Customer API cannot carry out, not about a phone. Without a
//! contact phone, the orders whose buyer gave none wait for one instead (bol leaves the
//! buyer's phone out of most orders and ShopWeDo requires one).
#![cfg(all(
    feature = "retailer",
    feature = "shopwedo",
    feature = "customer-api",
    feature = "safeshop",
    feature = "sitejabber"
))]

use commerce_testing::facade as support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use commerce_facade::{Flow, FlowOptions, MemoryJournal, Providers, Summary};
use commerce_sandbox::Config;

/// The quickstart's run: its sandbox, providers and options, with `contact_phone`.
async fn quickstart_run(contact_phone: Option<&str>) -> (Summary, commerce_sandbox::Report) {
    let sb = commerce_sandbox::start(Config {
        orders: 6,
        ..Config::default()
    })
    .await
    .unwrap();
    support::sweep_sandbox_secrets();
    let vars: HashMap<&str, String> = sb.env().into_iter().collect();
    let providers = Providers::from_vars(&|name: &str| vars.get(name).cloned()).unwrap();
    let options = FlowOptions {
        contact_phone: contact_phone.map(str::to_owned),
        poll_interval: Duration::from_millis(100),
        untracked_after: Duration::from_secs(1),
        ..FlowOptions::default()
    };
    let flow = Flow::new(providers, Arc::new(MemoryJournal::new()), options);
    let summary = flow.run().await;
    (summary, sb.report())
}

/// The quickstart's exit status: 0 all through, 2 some wait for a person and nothing
/// failed, 1 otherwise.
fn exit_status(summary: &Summary, report: &commerce_sandbox::Report) -> u8 {
    let ok = summary.unlisted.is_empty()
        && summary.pending == 0
        && !summary.interrupted
        && report.total_violations() == 0
        && report.total_duplicates() == 0;
    match (ok, summary.attention.is_empty()) {
        (true, true) => 0,
        (true, false) => 2,
        (false, _) => 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_demo_phone_the_flow_works_and_one_order_shows_how_a_person_is_asked() {
    let (summary, report) = quickstart_run(Some("+31 20 000 0000")).await;
    assert!(summary.failures.is_empty(), "{summary:#?}");
    assert_eq!(summary.orders_seen, 6);
    assert_eq!(summary.attention.len(), 1, "{:#?}", summary.attention);
    let (_, reason) = &summary.attention[0];
    assert!(support::is_cancellation_referral(reason), "{reason}");
    assert!(!reason.contains("phone"), "{reason}");
    assert_eq!(summary.completed, 5, "{summary:#?}");
    assert_eq!(exit_status(&summary, &report), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_contact_phone_orders_wait_for_one() {
    let (summary, report) = quickstart_run(None).await;
    assert!(summary.failures.is_empty(), "{summary:#?}");
    let about_phone = summary
        .attention
        .iter()
        .filter(|(_, reason)| reason.contains("COMMERCE_CONTACT_PHONE"))
        .count();
    assert!(about_phone >= 2, "{:#?}", summary.attention);
    assert_eq!(exit_status(&summary, &report), 2);
}
