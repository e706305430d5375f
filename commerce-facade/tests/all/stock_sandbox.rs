//! The stock loop end to end on the sandbox (paused time): the warehouses' stock changes,
//! buyers order what bol sells, the flow hands orders over and ships them; after each pass
//! every offer bol sells for the shop matches the arithmetic (the sandbox's own count of the
//! truly free units), no update changes nothing, and nothing is answered 429.
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

use commerce_core::StockBasis;
use commerce_facade::{Flow, Journal, MemoryJournal, PassMode, Providers, StockReport};
use commerce_sandbox::{Config, OfferReport, Sandbox};

use commerce_testing::paused_time_http;

/// The flow on `providers` (shared by the two flows: one client, one token, per provider).
fn flow(providers: &Providers, journal: Arc<dyn Journal>, basis: &[(&str, StockBasis)]) -> Flow {
    let mut options = support::shop_options();
    options.runner = "stock".into();
    options.stock.interval = Some(Duration::from_secs(900));
    options.stock.basis = basis.iter().map(|(w, b)| (w.to_string(), *b)).collect();
    Flow::new(providers.clone(), journal, options)
}

/// The order flow (no stock loop), stopped after `steps` finished steps (`usize::MAX`: run
/// on): orders handed over, not shipped.
fn stopping_after(providers: &Providers, journal: Arc<dyn Journal>, steps: usize) -> Flow {
    let mut options = support::shop_options();
    options.runner = "orders".into();
    options.stop_after_steps = (steps < usize::MAX).then_some(steps);
    Flow::new(providers.clone(), journal, options)
}

/// Orders handed over to a warehouse and not shipped, by the journal.
async fn at_the_warehouse(journal: &dyn Journal) -> usize {
    journal
        .all()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.submission.is_done() && !r.shipped.is_done())
        .count()
}

async fn pass(flow: &Flow) -> StockReport {
    let mut results = flow.stock(PassMode::Now).await;
    assert_eq!(results.len(), 1, "one channel");
    match results.pop().unwrap().1 {
        Ok(Some(report)) => report,
        other => panic!("the pass: {other:?}"),
    }
}

/// Every offer the shop keeps the count of and some warehouse lists: bol sells what is
/// truly free (capped at 999); the others as the rules say. Where the warehouse's times
/// read older than they are (`exact` false: ShopWeDo writing UTC), a unit may be hidden,
/// never sold twice. Returns the units hidden.
fn check(sb: &Sandbox, exact: bool, round: &str) -> i64 {
    let offers = sb.offers();
    let mut wrong = Vec::new();
    let mut hidden = 0;
    for o in &offers {
        if o.fbb || !o.managed_by_retailer {
            continue;
        }
        let want = if o.warehouses.is_empty() {
            0
        } else {
            o.free.clamp(0, 999)
        };
        if o.corrected > want || (exact && o.corrected != want) {
            wrong.push(describe(o, want));
        }
        hidden += want - o.corrected;
    }
    assert!(
        wrong.is_empty(),
        "{round}: offers bol sells wrongly:\n{}\n\n{}",
        wrong.join("\n"),
        sb.report().offers_table()
    );
    hidden
}

fn describe(o: &OfferReport, want: i64) -> String {
    format!(
        "{} {}: bol sells {} (amount {}), truly free {} (want {want}); waiting {}, open {}",
        o.offer_id, o.ean, o.corrected, o.amount, o.free, o.waiting, o.open
    )
}

fn clean(sb: &Sandbox, round: &str) {
    let report = sb.report();
    assert_eq!(report.total_rate_limited(), 0, "{round}: 429s");
    assert_eq!(report.total_violations(), 0, "{round}: {:?}", report.providers);
    assert_eq!(report.stock.noop_updates, 0, "{round}: an update changed nothing");
    assert_eq!(report.stock.oversold, 0, "{round}: oversold");
}

/// Rounds of stock changes, orders and passes, the warehouses' counts read as `basis`
/// says where it says (what an operator configures with `COMMERCE_STOCK_BASIS`).
async fn rounds(config: Config, basis: &[(&str, StockBasis)]) {
    let exact = !config.shopwedo_times_utc;
    let mut hidden = 0;
    let sb = commerce_sandbox::start(config).await.unwrap();
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let providers = support::providers_on(&sb, &paused_time_http());
    let orders = stopping_after(&providers, journal.clone(), usize::MAX);
    let stock = flow(&providers, journal.clone(), basis);

    // The seeded orders are handed over and shipped; then the first pass.
    support::run_until_done(&orders, 20).await;
    let first = pass(&stock).await;
    assert!(first.sent > 0, "the seeded amounts are off: {first}");
    hidden += check(&sb, exact, "first pass");
    clean(&sb, "first pass");
    // Nothing changed: nothing sent.
    let again = pass(&stock).await;
    assert_eq!(again.sent, 0, "{again}");

    let eans: Vec<String> = sb
        .offers()
        .into_iter()
        .filter(|o| !o.fbb && !o.warehouses.is_empty())
        .map(|o| o.ean)
        .collect();
    let mut handed = 0;
    for round in 0..4 {
        let name = format!("round {round}");
        // The warehouses move: goods arrive, goods sold elsewhere.
        for (i, ean) in eans.iter().enumerate().filter(|(i, _)| i % 3 == round % 3) {
            let stock = sb
                .stock("shopwedo", ean)
                .or_else(|| sb.stock("customer-api", ean));
            if let Some(s) = stock {
                let provider = s.provider.clone();
                let units = if i % 2 == 0 {
                    s.level + 7
                } else {
                    (s.level - 4).max(0)
                };
                sb.set_stock(&provider, ean, units).unwrap();
            }
        }
        // Buyers order what bol sells (some refused: sold out).
        let mut placed = 0;
        for ean in eans.iter().skip(round).step_by(4) {
            placed += usize::from(sb.place_order(ean, 1 + (round as i64 % 2)).is_ok());
        }
        // A pass with the new orders not yet seen by the flow: waiting on bol.
        let r = pass(&stock).await;
        hidden += check(&sb, exact, &format!("{name}, orders waiting: {r}"));
        clean(&sb, &name);
        // Handed over, not shipped yet: reserved by ShopWeDo's ATP, still on the Customer
        // API's shelf.
        stopping_after(&providers, journal.clone(), 2 * placed)
            .run()
            .await;
        handed += at_the_warehouse(journal.as_ref()).await;
        // ShopWeDo stamps its ATP to the second: a count stamped in the second of a
        // hand-over may not have it, so the pass takes it off again (hidden, safe). A pass
        // comes minutes later; here, two seconds.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let r = pass(&stock).await;
        hidden += check(&sb, exact, &format!("{name}, orders at the warehouses: {r}"));
        clean(&sb, &name);
        // The flow hands them over and ships them; the next pass.
        support::run_until_done(&orders, 20).await;
        let r = pass(&stock).await;
        hidden += check(&sb, exact, &format!("{name}, orders shipped: {r}"));
        clean(&sb, &name);
    }
    // With orders arriving while a pass and the flow run at once, nothing is oversold.
    let (_, r) = tokio::join!(orders.run(), pass(&stock));
    clean(&sb, &format!("concurrent: {r}"));
    support::run_until_done(&orders, 20).await;
    let r = pass(&stock).await;
    hidden += check(&sb, exact, &format!("after the concurrent round: {r}"));
    clean(&sb, "last");
    assert!(sb.report().stock.sales > 0);
    assert!(handed > 0, "no pass saw an order at a warehouse, not shipped");
    assert!(
        exact || hidden > 0,
        "the variant never hid a unit: it did not exercise the reading"
    );
}

#[tokio::test(start_paused = true)]
async fn every_offer_follows_the_warehouses_as_orders_arrive_and_stock_changes() {
    rounds(
        Config {
            products: 24,
            orders: 6,
            ..Config::default()
        },
        &[],
    )
    .await;
}

/// bol's export without `correctedStock` (it is not in bol's description): the pass reads
/// the offers it cannot work out one by one, then works out what bol sells from the
/// journal.
#[tokio::test(start_paused = true)]
async fn without_the_corrected_stock_in_the_export_the_pass_still_agrees() {
    rounds(
        Config {
            products: 24,
            orders: 6,
            seed: 7,
            export_without_stock_details: true,
            ..Config::default()
        },
        &[],
    )
    .await;
}

/// A ShopWeDo account whose ATP does not reserve released orders, and a supplier whose
/// availability does: the operator says so (`COMMERCE_STOCK_BASIS`), and the pass agrees.
#[tokio::test(start_paused = true)]
async fn warehouses_counting_the_other_way_agree_when_configured() {
    rounds(
        Config {
            products: 24,
            orders: 6,
            seed: 11,
            shopwedo_reserves: false,
            customer_reserves: true,
            ..Config::default()
        },
        &[
            ("shopwedo", StockBasis::OnShelf),
            ("customer-api", StockBasis::Reserving),
        ],
    )
    .await;
}

/// ShopWeDo's document gives its times no zone: written in UTC rather than Belgian time,
/// its counts read an hour older than they are, so a hand-over near them is taken off
/// again: units hidden for a while, never sold twice.
#[tokio::test(start_paused = true)]
async fn shopwedo_times_in_utc_hide_units_never_oversell() {
    rounds(
        Config {
            products: 24,
            orders: 6,
            seed: 13,
            shopwedo_times_utc: true,
            ..Config::default()
        },
        &[],
    )
    .await;
}
