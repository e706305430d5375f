//! The order-to-review flow end to end against the in-process sandbox: every order
//! completes once, with faults too, and across a crash.
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

use commerce_facade::{Flow, FlowOptions, Journal, MemoryJournal, PROVIDERS, Providers, SqliteJournal};
use commerce_sandbox::{Config, Sandbox};
use support::assert_once;

async fn sandbox(config: Config) -> Sandbox {
    commerce_sandbox::start(config).await.unwrap()
}

fn providers(sb: &Sandbox) -> Providers {
    support::sweep_sandbox_secrets();
    let vars: HashMap<&str, String> = sb.env().into_iter().collect();
    let lookup = |name: &str| vars.get(name).cloned();
    // Every provider the sandbox emulates (a provider it does not has none of its variables).
    Providers::from_vars(&lookup).unwrap()
}

/// Each provider crate's `PROVIDER` says what its `from_vars` reads: every required
/// variable is read, nothing outside its lists is, and the client comes back in its role.
#[tokio::test]
async fn each_provider_reads_the_variables_it_names_and_is_built_in_its_role() {
    let sb = sandbox(Config::default()).await;
    support::sweep_sandbox_secrets();
    let vars: HashMap<&str, String> = sb.env().into_iter().collect();
    let mut names: Vec<&str> = PROVIDERS.iter().map(|spec| spec.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PROVIDERS.len(), "each provider is in the table once");
    for spec in PROVIDERS {
        assert!(!spec.required.is_empty(), "{}: no required variable", spec.name);
        let sandboxed = |name: &str| vars.get(name).cloned();
        if !spec.configured(&sandboxed).unwrap() {
            eprintln!("{}: not emulated by the sandbox, not checked here", spec.name);
            continue;
        }
        let asked = std::sync::Mutex::new(Vec::<String>::new());
        let lookup = |name: &str| {
            asked.lock().unwrap().push(name.to_owned());
            vars.get(name).cloned()
        };
        let client = spec.build(&lookup, None).unwrap();
        assert_eq!(client.role(), spec.role, "{spec}");
        let asked = asked.into_inner().unwrap();
        for name in spec.required {
            assert!(
                asked.iter().any(|a| a == name),
                "{}: {name} is not read",
                spec.name
            );
        }
        for name in &asked {
            assert!(
                spec.required.contains(&name.as_str()) || spec.optional.contains(&name.as_str()),
                "{}: reads {name}, which its PROVIDER does not name",
                spec.name
            );
        }
        // A partial set is refused before anything is built, naming what is missing.
        let first = spec.required[0];
        let only_first = |name: &str| (name == first).then(|| vars[first].clone());
        if spec.required.len() > 1 {
            let err = Providers::from_vars(&only_first).unwrap_err();
            assert!(err.to_string().contains(spec.required[1]), "{err}");
        }
    }
}

fn options() -> FlowOptions {
    FlowOptions {
        poll_interval: Duration::from_millis(100),
        ..support::shop_options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_ends_once_with_no_violation_duplicate_or_429() {
    let sb = sandbox(Config {
        orders: 10,
        ..Config::default()
    })
    .await;
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(providers(&sb), journal.clone(), options());
    let summary = flow.run().await;
    assert!(support::clean_but_referrals(&summary), "{summary:#?}");
    // Completed, cancelled by the buyer, or (a supplier that cannot cancel) with a person.
    let outcome = support::settled(&sb, journal.as_ref(), 10).await;
    // An order split over both providers counts once (its parts are not orders).
    assert_eq!((summary.orders_seen, summary.pending), (10, 0));
    assert_eq!(summary.split, outcome.split);
    assert_eq!(
        (summary.completed, summary.cancelled, summary.attention.len()),
        (outcome.completed, outcome.cancelled, outcome.referred)
    );
    assert!(outcome.completed >= 7, "{outcome:?}");
    assert_eq!(
        summary.invitations.values().sum::<usize>(),
        2 * support::inviting(journal.as_ref()).await
    );
    let report = sb.report();
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    assert_eq!(report.total_rate_limited(), 0, "{report:#?}");
    assert_once(&report, journal.as_ref()).await;
    assert_eq!(
        report.providers["bol"].token_requests, 1,
        "one bol token for the whole run"
    );
    assert!(
        report.created("shopwedo", "orders") > 0 && report.created("customer", "orders") > 0,
        "both fulfilment providers used"
    );
    // A second run finds nothing to do.
    let again = flow.run().await;
    assert_eq!((again.orders_seen, again.submitted), (0, 0), "{again:#?}");
    assert_once(&sb.report(), journal.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_faults_at_0_2_every_order_still_completes_without_duplicates() {
    let sb = sandbox(Config {
        orders: 10,
        faults: 0.2,
        seed: 11,
        ..Config::default()
    })
    .await;
    let journal = Arc::new(MemoryJournal::new());
    // The sandbox decides faults before handling, so resending an unconfirmed create is
    // safe here; its duplicate counter checks that nothing was doubled all the same.
    let flow = Flow::new(
        providers(&sb),
        journal.clone(),
        FlowOptions {
            resend_unconfirmed: true,
            ..options()
        },
    );
    support::run_until_done(&flow, 8).await;
    let report = sb.report();
    assert!(report.total_faults() > 0, "faults were injected");
    assert_once(&report, journal.as_ref()).await;
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    support::settled(&sb, journal.as_ref(), 10).await;
}

async fn crash_and_resume(stop_after: usize) {
    let sb = sandbox(Config {
        orders: 8,
        ..Config::default()
    })
    .await;
    let dir = std::env::temp_dir().join(format!("commerce-crash-{}-{stop_after}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.sqlite");
    {
        let journal = Arc::new(SqliteJournal::open(&path).unwrap());
        let flow = Flow::new(
            providers(&sb),
            journal,
            FlowOptions {
                stop_after_steps: Some(stop_after),
                ..options()
            },
        );
        let summary = flow.run().await;
        assert!(summary.interrupted, "stopped part-way: {summary:#?}");
        assert!(summary.completed < 8);
    }
    // A restart takes a moment; two processes cannot share a client-side rate limiter, so
    // without it the new one could meet the old one's last calls in ShopWeDo's 1 s window.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A new process: new clients, the same journal file, the same providers.
    let journal = Arc::new(SqliteJournal::open(&path).unwrap());
    let summary = Flow::new(providers(&sb), journal.clone(), options()).run().await;
    assert!(
        support::clean_but_referrals(&summary) && !summary.interrupted,
        "{summary:#?}"
    );
    support::settled(&sb, journal.as_ref(), 8).await;
    let report = sb.report();
    assert_once(&report, journal.as_ref()).await;
    // The resumed process has no token yet, so it asks bol for one while the first
    // process's token is still fresh: the one report expected, and nothing else.
    assert_eq!(report.total_violations(), 1, "{report:#?}");
    assert_eq!(
        report.providers["bol"].violation_samples,
        vec!["a new token was requested while the last one was still fresh".to_owned()]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_early_in_the_run_resumes_and_completes_every_order_once() {
    crash_and_resume(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_late_in_the_run_resumes_and_completes_every_order_once() {
    crash_and_resume(29).await;
}

/// Creates that take effect and are answered with a 2xx nobody can read (the runtime reports
/// `Error::Unconfirmed`): the flow never repeats them. Each such step is settled by a look-up
/// where the provider has one (Customer API orders by reference, bol shipments re-read from
/// the order), or left for a person; nothing is created twice and no order is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_answered_with_an_unreadable_2xx_are_never_repeated() {
    let orders = 12;
    let sb = sandbox(Config {
        orders,
        garbled_creates: 0.35,
        seed: 21,
        ..Config::default()
    })
    .await;
    let journal = Arc::new(MemoryJournal::new());
    let flow = Flow::new(providers(&sb), journal.clone(), options());
    let mut last = flow.run().await;
    for _ in 0..6 {
        if last.pending == 0 && last.failures.is_empty() {
            break;
        }
        last = flow.run().await;
    }
    let report = sb.report();
    assert!(
        report.total_faults() > 0,
        "some creates were garbled: {report:#?}"
    );
    assert_eq!(report.total_duplicates(), 0, "nothing created twice: {report:#?}");
    assert_eq!(report.total_violations(), 0, "{report:#?}");
    assert!(last.failures.is_empty(), "{last:#?}");
    // Every order is either complete or waiting for a person, with the reason in its
    // record (reported by the run that stopped it).
    let records = journal.all().await.unwrap();
    let ids: std::collections::BTreeSet<&str> = records.iter().map(|r| r.order.id.as_str()).collect();
    assert_eq!(ids.len(), orders);
    let platforms = ["safeshop".to_owned(), "sitejabber".to_owned()];
    let reasons: Vec<&str> = records.iter().filter_map(|r| r.attention.as_deref()).collect();
    for r in &records {
        assert!(
            r.is_complete(&platforms)
                || r.attention.is_some()
                || r.cancelled.is_some()
                || !r.split.is_empty(),
            "{} neither complete, cancelled, split nor waiting for a person: {r:#?}",
            r.key
        );
    }
    assert!(!reasons.is_empty(), "some outcomes were unknown: {records:#?}");
    for reason in reasons {
        assert!(
            reason.contains("outcome")
                || reason.contains("may have")
                || support::is_cancellation_referral(reason),
            "{reason}"
        );
    }
    // Nothing created more than once per order (or per part of a split order).
    let parts = records.iter().filter(|r| r.split.is_empty()).count() as u64;
    assert!(report.created("bol", "shipments") <= parts);
    assert!(report.created("safeshop", "invites") <= orders as u64);
    assert!(report.created("sitejabber", "review_requests") <= orders as u64);
    assert!(report.created("shopwedo", "orders") + report.created("customer", "orders") <= parts);
}

/// Sitejabber wrapped so that every order's product review request fails the first time,
/// after its review request went through.
#[derive(Debug)]
struct SecondPartFailsOnce {
    inner: commerce_facade::sitejabber::SitejabberClient,
    failed: std::sync::Mutex<std::collections::HashSet<String>>,
}

#[async_trait::async_trait]
impl commerce_core::ReviewPlatform for SecondPartFailsOnce {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invite(
        &self,
        invitation: &commerce_core::ReviewInvitation,
    ) -> Result<commerce_core::InvitationReceipt, commerce_core::Error> {
        self.inner.invite(invitation).await
    }

    fn invitation_parts(&self, invitation: &commerce_core::ReviewInvitation) -> Vec<String> {
        self.inner.invitation_parts(invitation)
    }

    async fn invite_part(
        &self,
        part: &str,
        invitation: &commerce_core::ReviewInvitation,
    ) -> Result<commerce_core::InvitationReceipt, commerce_core::Error> {
        if part == "products" && self.failed.lock().unwrap().insert(invitation.order_id.clone()) {
            return Err(commerce_core::Error::from(commerce_core::ProviderError::new(
                "sitejabber",
                "product review request",
                500,
            )));
        }
        self.inner.invite_part(part, invitation).await
    }
}

/// Sitejabber's invitation is two calls: each is its own journal step, so when the second
/// fails the rerun sends only the second (it sent the first again before: a duplicate
/// e-mail to the customer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_second_invitation_call_does_not_repeat_the_first() {
    let orders = 6;
    let sb = sandbox(Config {
        orders,
        ..Config::default()
    })
    .await;
    let http = commerce_core::HttpClient::new("commerce-facade-tests", "0.0.0");
    let providers = Providers::new()
        .channel(support::bol_on(&sb, &http))
        .fulfilment(support::shopwedo_on(&sb, &http))
        .fulfilment(support::customer_on(&sb, &http))
        .review_platform(support::safeshop_on(&sb, &http))
        .review_platform(SecondPartFailsOnce {
            inner: support::sitejabber_on(&sb, &http),
            failed: Default::default(),
        });
    let journal = Arc::new(MemoryJournal::new());
    let first = Flow::new(providers, journal.clone(), options()).run().await;
    // One failure for each order that got to its invitation.
    assert_eq!(
        first.failures.len(),
        orders - first.cancelled - first.attention.len(),
        "{first:#?}"
    );
    // The rerun is another process: new clients, nothing remembered but the journal.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let flow = Flow::new(support::providers_on(&sb, &http), journal.clone(), options());
    support::run_until_done(&flow, 4).await;
    let report = sb.report();
    assert_once(&report, journal.as_ref()).await;
    support::settled(&sb, journal.as_ref(), orders).await;
    assert!(
        report.created("sitejabber", "product_review_requests")
            >= support::inviting(journal.as_ref()).await as u64,
        "one per SKU"
    );
    let platforms = ["safeshop".to_owned(), "sitejabber".to_owned()];
    let record = journal
        .all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.is_complete(&platforms))
        .unwrap();
    assert!(record.invitations["sitejabber/review"].is_done());
    assert!(record.invitations["sitejabber/products"].is_done());
}
