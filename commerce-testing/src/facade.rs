//! Shared by the facade's tests and benchmarks (feature `facade`): providers built against
//! a sandbox, the flow run to its end, and checks of what the sandbox saw.

pub mod journal_suite;

use commerce_core::HttpClient;
use commerce_facade::{Flow, Journal, Providers};
use commerce_sandbox::{BaseUrls, Report, Sandbox};

/// A shop's contact phone, as its operator would set `COMMERCE_CONTACT_PHONE` (the sandbox
/// emulates the providers, not the shop's settings).
pub const SHOP_PHONE: &str = "+31201234567";

/// The defaults, with the shop's contact phone (the sandbox's bol, like bol, leaves
/// the buyer's phone out of most orders, and ShopWeDo requires one), and a short wait for
/// a tracking code that does not come (the sandbox's ShopWeDo ships some orders without).
pub fn shop_options() -> commerce_facade::FlowOptions {
    commerce_facade::FlowOptions {
        contact_phone: Some(SHOP_PHONE.to_owned()),
        untracked_after: std::time::Duration::from_secs(1),
        ..commerce_facade::FlowOptions::default()
    }
}

/// All five providers against `sb`, every client on `http`.
///
/// With [`crate::paused_time_http`] (no per-attempt time limit, no idle
/// pool) the whole flow runs in paused tokio time: the sandbox keeps its clocks with
/// `tokio::time::Instant`, so rate windows, token lifetimes and `Retry-After` waits all pass
/// in simulated time, and an hour of provider limits costs only the CPU it needs.
pub fn providers_on(sb: &Sandbox, http: &HttpClient) -> Providers {
    sweep_sandbox_secrets();
    Providers::new()
        .channel(bol_on(sb, http))
        .fulfilment(shopwedo_on(sb, http))
        .fulfilment(customer_on(sb, http))
        .review_platform(safeshop_on(sb, http))
        .review_platform(sitejabber_on(sb, http))
}

/// The bol client against `sb`.
pub fn bol_on(sb: &Sandbox, http: &HttpClient) -> retailer_client::RetailerClient {
    let b: BaseUrls = sb.base_urls();
    retailer_client::RetailerClient::builder(
        commerce_sandbox::RETAILER_CLIENT_ID,
        commerce_sandbox::RETAILER_CLIENT_SECRET.into(),
    )
    .api_url(b.bol)
    .token_url(b.bol_token)
    .http(http.clone())
    .build()
    .unwrap()
}

/// The ShopWeDo client against `sb`.
pub fn shopwedo_on(sb: &Sandbox, http: &HttpClient) -> shopwedo_client::ShopWeDoClient {
    shopwedo_client::ShopWeDoClient::builder(
        commerce_sandbox::SHOPWEDO_SHOP_ID,
        commerce_sandbox::SHOPWEDO_SHOP_KEY.into(),
    )
    .base_url(sb.base_urls().shopwedo)
    .http(http.clone())
    .build()
    .unwrap()
}

/// The Customer API client against `sb`.
pub fn customer_on(sb: &Sandbox, http: &HttpClient) -> customer_api_client::CustomerApiClient {
    customer_api_client::CustomerApiClient::builder(
        commerce_sandbox::CUSTOMER_API_CLIENT_ID,
        commerce_sandbox::CUSTOMER_API_CLIENT_SECRET.into(),
    )
    .shop_url(sb.base_urls().customer)
    .http(http.clone())
    .build()
    .unwrap()
}

/// The Safe.Shop client against `sb`.
pub fn safeshop_on(sb: &Sandbox, http: &HttpClient) -> safeshop_client::SafeShopClient {
    safeshop_client::SafeShopClient::builder(
        commerce_sandbox::SAFESHOP_CLIENT_ID,
        commerce_sandbox::SAFESHOP_CLIENT_SECRET.into(),
    )
    .base_url(sb.base_urls().safeshop)
    .http(http.clone())
    .build()
    .unwrap()
}

/// The Sitejabber client against `sb`.
pub fn sitejabber_on(sb: &Sandbox, http: &HttpClient) -> sitejabber_client::SitejabberClient {
    sitejabber_client::SitejabberClient::builder(
        commerce_sandbox::SITEJABBER_EMAIL,
        commerce_sandbox::SITEJABBER_PASSWORD.into(),
    )
    .client_token(commerce_sandbox::SITEJABBER_CLIENT_TOKEN.into())
    .domain(commerce_sandbox::SITEJABBER_DOMAIN)
    .base_url(sb.base_urls().sitejabber)
    .http(http.clone())
    .build()
    .unwrap()
}

/// Runs `flow` until a run finds nothing left to do (or only clean, finished work); fails
/// after `max_runs`. Returns the number of runs.
pub async fn run_until_done(flow: &Flow, max_runs: usize) -> usize {
    let mut runs = 0;
    loop {
        runs += 1;
        let summary = flow.run().await;
        if summary.orders_seen == 0 || (summary.is_clean() && summary.pending == 0) {
            return runs;
        }
        assert!(runs < max_runs, "still not done after {runs} runs: {summary:#?}");
    }
}

/// Each entity created exactly once per order that reached its step, as the journal has
/// them (orders cancelled on bol before their hand-over have none; orders cancelled after it
/// have their fulfilment order and nothing after): nothing doubled, nothing lost.
pub async fn assert_once(report: &Report, journal: &dyn Journal) {
    let records = journal.all().await.unwrap();
    let count =
        |f: &dyn Fn(&commerce_facade::OrderRecord) -> bool| records.iter().filter(|r| f(r)).count() as u64;
    let done =
        |r: &commerce_facade::OrderRecord, step: &str| r.invitations.get(step).is_some_and(|s| s.is_done());
    assert_eq!(report.total_duplicates(), 0, "duplicates: {report:#?}");
    assert_eq!(
        report.created("bol", "shipments"),
        count(&|r| r.confirmation.is_done()),
        "{report:#?}"
    );
    assert_eq!(
        report.created("shopwedo", "orders") + report.created("customer", "orders"),
        count(&|r| r.submission.is_done()),
        "{report:#?}"
    );
    assert_eq!(
        report.created("safeshop", "invites"),
        count(&|r| done(r, "safeshop")),
        "{report:#?}"
    );
    assert_eq!(
        report.created("sitejabber", "review_requests"),
        count(&|r| done(r, "sitejabber/review")),
        "{report:#?}"
    );
}

/// How a run's orders ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Every step done.
    pub completed: usize,
    /// Every line cancelled on bol, nothing left to do.
    pub cancelled: usize,
    /// Waiting for a person about a buyer's cancellation the provider cannot carry out.
    pub referred: usize,
    /// Split over several providers (its parts counted in the other fields).
    pub split: usize,
}

/// Whether an order waits for a person about a cancellation (the flow's own words).
pub fn is_cancellation_referral(reason: &str) -> bool {
    reason.contains("cannot cancel") || reason.contains("cancels whole orders only")
}

/// Checks that each of the `orders` orders ended (or each part of one split over several
/// providers), and that bol agrees: a completed order
/// has every line it kept shipped and the lines it dropped cancelled; a cancelled one has
/// every line cancelled; one waiting for a person waits about a cancellation. No buyer's
/// request is left unanswered but those. Returns how they ended.
pub async fn settled(sb: &Sandbox, journal: &dyn Journal, orders: usize) -> Outcome {
    let platforms = ["safeshop".to_owned(), "sitejabber".to_owned()];
    let records = journal.all().await.unwrap();
    let ids: std::collections::BTreeSet<&str> = records.iter().map(|r| r.order.id.as_str()).collect();
    assert_eq!(ids.len(), orders, "none lost: {records:#?}");
    let lines = sb.bol_lines();
    let mut outcome = Outcome::default();
    for r in &records {
        if !r.split.is_empty() {
            // Split over several providers: each part is a record of its own, with its lines.
            outcome.split += 1;
            let mut covered: Vec<&String> = Vec::new();
            for plan in &r.split {
                let part = records.iter().find(|p| p.key == plan.key);
                let part =
                    part.unwrap_or_else(|| panic!("part {} of {} lost: {records:#?}", plan.key, r.key));
                assert_eq!(part.part_of.as_deref(), Some(r.key.as_str()));
                assert!(part.invites_elsewhere && part.invitations.is_empty(), "{part:#?}");
                covered.extend(&plan.lines);
            }
            // Every line the order kept is in one part; a part holds no line twice and none
            // the order did not have (a line dropped before the split is in none).
            for l in &r.order.lines {
                assert_eq!(covered.iter().filter(|c| **c == &l.line_id).count(), 1, "{r:#?}");
            }
            for id in &covered {
                assert_eq!(covered.iter().filter(|c| *c == id).count(), 1, "{r:#?}");
                assert!(
                    r.order.lines.iter().any(|l| &&l.line_id == id) || r.dropped_lines.contains_key(*id),
                    "{r:#?}"
                );
            }
        }
        // A part is checked like an order, and counted with the order it belongs to.
        let count = r.part_of.is_none();
        // The bol lines this record handles (a part of a split order handles only its own).
        let of_order: Vec<_> = lines
            .iter()
            .filter(|l| {
                l.order_id == r.order.id
                    && (r.order.lines.iter().any(|o| o.line_id == l.line_id)
                        || r.dropped_lines.contains_key(&l.line_id))
            })
            .collect();
        if r.is_complete(&platforms) {
            outcome.completed += usize::from(count);
            for l in &of_order {
                if r.dropped_lines.contains_key(&l.line_id) {
                    assert_eq!(l.shipped, 0, "a dropped line was confirmed: {l:?} {r:#?}");
                } else {
                    assert_eq!(l.shipped + l.cancelled, l.quantity, "{l:?} {r:#?}");
                    assert!(l.shipped > 0, "a kept line was not confirmed: {l:?} {r:#?}");
                }
            }
        } else if r.cancelled.is_some() {
            outcome.cancelled += usize::from(count);
            for l in &of_order {
                assert_eq!((l.cancelled, l.shipped), (l.quantity, 0), "{l:?} {r:#?}");
            }
        } else if !r.split.is_empty() && r.attention.is_none() {
            // Waits for a part that waits for a person.
            assert!(
                records
                    .iter()
                    .any(|p| p.part_of.as_deref() == Some(r.key.as_str()) && p.attention.is_some()),
                "{} waits for no part: {records:#?}",
                r.key
            );
            continue;
        } else {
            let reason = r.attention.as_deref().unwrap_or_default();
            assert!(is_cancellation_referral(reason), "{} did not end: {r:#?}", r.key);
            outcome.referred += 1;
            continue;
        }
        for l in &of_order {
            assert!(
                !l.cancellation_request,
                "a buyer's request left unanswered: {l:?} {r:#?}"
            );
        }
    }
    outcome
}

/// Completed orders that send the review invitations (the parts of a split order do not:
/// the order does).
pub async fn inviting(journal: &dyn Journal) -> usize {
    let platforms = ["safeshop".to_owned(), "sitejabber".to_owned()];
    journal
        .all()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.is_complete(&platforms) && !r.invites_elsewhere)
        .count()
}

/// The notes of an order's history, oldest first.
pub async fn notes(journal: &dyn Journal, key: &str) -> Vec<String> {
    journal
        .history(key)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect()
}

/// Whether a run failed nowhere and asked a person only about cancellations.
pub fn clean_but_referrals(summary: &commerce_facade::Summary) -> bool {
    summary.failures.is_empty()
        && summary
            .attention
            .iter()
            .all(|(_, reason)| is_cancellation_referral(reason))
}

/// A size from the environment variable `name`, else `default` (the soaks run reduced in
/// `cargo test` and full size through `cargo xtask soak`).
pub fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Notes the sandbox's credentials for the TRACE secret sweep (`cargo xtask sweep`).
pub fn sweep_sandbox_secrets() {
    crate::sweep::install(&[
        commerce_sandbox::SAFESHOP_CLIENT_SECRET,
        commerce_sandbox::SITEJABBER_CLIENT_TOKEN,
        commerce_sandbox::SITEJABBER_PASSWORD,
        commerce_sandbox::SHOPWEDO_SHOP_KEY,
        commerce_sandbox::CUSTOMER_API_CLIENT_SECRET,
        commerce_sandbox::RETAILER_CLIENT_SECRET,
    ]);
}

/// Of the orders due, the one furthest along is claimed first, then the soonest due: the
/// rule every journal keeps (the facade's `tests/all/journal.rs` and `tests/all/postgres.rs`).
pub async fn claims_furthest_along_first(journal: &dyn Journal) {
    let channels = ["bol".to_owned()];
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::seconds(30);
    let record = |id: &str| {
        commerce_facade::OrderRecord::new(commerce_core::Order {
            id: id.into(),
            channel: "bol".into(),
            ..Default::default()
        })
    };
    // A new order, due since it was seen (long ago); one handed over, its shipment check
    // due just now.
    let mut fresh = record("new");
    fresh.due = Some(now - chrono::Duration::hours(1));
    journal.add(&fresh).await.unwrap();
    let mut shipping = record("shipping");
    journal.add(&shipping).await.unwrap();
    shipping = journal.claim("r", &channels, now, until).await.unwrap().unwrap();
    assert_eq!(
        shipping.key, "bol:shipping",
        "of two new orders, the one with no due time"
    );
    shipping.fulfilment = Some("shopwedo".into());
    shipping.submission = commerce_facade::Step::Done(commerce_core::SubmissionReceipt {
        provider: "shopwedo".into(),
        reference: "W-1".into(),
        already_submitted: false,
    });
    shipping.due = Some(now - chrono::Duration::seconds(1));
    assert_eq!(shipping.stage(), "shipment");
    journal.release("r", &shipping, "").await.unwrap();
    let first = journal.claim("r", &channels, now, until).await.unwrap().unwrap();
    assert_eq!(first.key, "bol:shipping", "furthest along first");
    let second = journal.claim("r", &channels, now, until).await.unwrap().unwrap();
    assert_eq!(second.key, "bol:new");
    assert_eq!(journal.claim("r", &channels, now, until).await.unwrap(), None);
}
