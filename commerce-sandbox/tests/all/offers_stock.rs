//! bol's offers on the sandbox, driven with raw HTTP as bol's description has them: the
//! offer (`GET /retailer/offers/{id}`), the offers export (`POST`, process status, `GET` the
//! CSV), stock updates (`PUT /retailer/offers/{id}/stock`) refused with bol's violations
//! when the body breaks the description, and applied only when their process status
//! reaches `SUCCESS`; corrected stock in both modes; bol selling only while it lasts.

use crate::bol_conformance::{check, schema_of, spec};
use crate::support;

use std::time::Duration;

use commerce_sandbox::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const V10: &str = support::BOL_V10;
const CSV: &str = "application/vnd.retailer.v10+csv";

/// A bol session against the sandbox: raw requests with a token bol issued.
struct Bol {
    c: reqwest::Client,
    base: String,
    bearer: String,
}

impl Bol {
    async fn new(sb: &Sandbox) -> Bol {
        // No idle pool: a paused-time test's clock does not jump on a pooled socket's timer.
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let bearer = support::bol_bearer(&c, sb).await;
        Bol {
            c,
            base: sb.base_urls().bol,
            bearer,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        accept: &str,
        body: Option<String>,
    ) -> reqwest::Response {
        let mut r = self
            .c
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.bearer)
            .header("accept", accept);
        if let Some(body) = body {
            r = r.header("content-type", V10).body(body);
        }
        r.send().await.unwrap()
    }

    async fn offer(&self, id: &str) -> (StatusCode, Value) {
        let r = self
            .send(reqwest::Method::GET, &format!("/retailer/offers/{id}"), V10, None)
            .await;
        (r.status(), r.json().await.unwrap())
    }

    async fn put_stock(&self, id: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .send(
                reqwest::Method::PUT,
                &format!("/retailer/offers/{id}/stock"),
                V10,
                Some(body.to_string()),
            )
            .await;
        (r.status(), r.json().await.unwrap())
    }

    async fn status(&self, id: &str) -> Value {
        self.send(
            reqwest::Method::GET,
            &format!("/shared/process-status/{id}"),
            V10,
            None,
        )
        .await
        .json()
        .await
        .unwrap()
    }

    async fn bulk(&self, ids: &[&str]) -> Value {
        let queries: Vec<Value> = ids.iter().map(|id| json!({"processStatusId": id})).collect();
        self.send(
            reqwest::Method::POST,
            "/shared/process-status",
            V10,
            Some(json!({"processStatusQueries": queries}).to_string()),
        )
        .await
        .json()
        .await
        .unwrap()
    }

    /// A stock update sent and its process status read until it is no longer `PENDING`.
    async fn set_stock(&self, id: &str, amount: i64, managed_by_retailer: bool) -> Value {
        let (status, process) = self
            .put_stock(
                id,
                json!({"amount": amount, "managedByRetailer": managed_by_retailer}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{process}");
        let pid = process["processStatusId"].as_str().unwrap().to_owned();
        loop {
            let read = self.status(&pid).await;
            if read["status"] != "PENDING" {
                return read;
            }
        }
    }

    /// The export, end to end: its process, then the CSV rows by header.
    async fn export(&self) -> Vec<std::collections::BTreeMap<String, String>> {
        let started: Value = self
            .send(
                reqwest::Method::POST,
                "/retailer/offers/export",
                V10,
                Some(json!({"format": "CSV"}).to_string()),
            )
            .await
            .json()
            .await
            .unwrap();
        let pid = started["processStatusId"].as_str().unwrap().to_owned();
        let report = loop {
            let read = self.status(&pid).await;
            if read["status"] == "SUCCESS" {
                break read["entityId"].as_str().unwrap().to_owned();
            }
        };
        let r = self
            .send(
                reqwest::Method::GET,
                &format!("/retailer/offers/export/{report}"),
                CSV,
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], CSV);
        rows(&r.text().await.unwrap())
    }
}

/// CSV rows (the sandbox quotes nothing) by header.
fn rows(csv: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn offer_of(sb: &Sandbox, ean: &str) -> OfferReport {
    sb.offers().into_iter().find(|o| o.ean == ean).unwrap()
}

/// A plain offer: FBR, managed by the retailer, stocked at one warehouse.
fn plain(sb: &Sandbox) -> OfferReport {
    sb.offers()
        .into_iter()
        .find(|o| !o.fbb && o.managed_by_retailer && o.warehouses.iter().any(|w| w.level > 0))
        .unwrap()
}

fn quiet() -> Config {
    Config {
        orders: 0,
        cancellation_requests: 0.0,
        ..Config::default()
    }
}

#[tokio::test]
async fn the_offer_and_the_export_in_bols_shapes() {
    let spec = spec();
    let sb = start(Config::default()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let mut problems = Vec::new();
    let offers = sb.offers();
    assert_eq!(offers.len(), Config::default().products);
    for o in &offers {
        let (status, body) = bol.offer(&o.offer_id).await;
        assert_eq!(status, 200, "{body}");
        check(
            &spec,
            &schema_of(&spec, "/retailer/offers/{offer-id}", "get", "200"),
            &body,
            &format!("GET /retailer/offers/{}", o.offer_id),
            &mut problems,
        );
        assert_eq!(body["ean"], o.ean.as_str());
        assert_eq!(body["stock"]["amount"], o.amount);
        assert_eq!(body["stock"]["correctedStock"], o.corrected);
        assert_eq!(body["stock"]["managedByRetailer"], o.managed_by_retailer);
        assert_eq!(body["fulfilment"]["method"], if o.fbb { "FBB" } else { "FBR" });
    }
    // The seeding: one offer no warehouse stocks, one stocked at both, some FBB, some
    // managed by bol; the rest plain.
    assert_eq!(offers.iter().filter(|o| o.warehouses.is_empty()).count(), 1);
    assert_eq!(
        offers
            .iter()
            .filter(|o| o.warehouses.iter().filter(|w| w.level > 0).count() == 2)
            .count(),
        1
    );
    assert!(offers.iter().any(|o| o.fbb));
    assert!(offers.iter().any(|o| !o.managed_by_retailer && !o.fbb));
    // The seeded orders (placed before any update) do not lower a managedByRetailer
    // offer; they do lower one bol manages.
    for o in offers.iter().filter(|o| !o.fbb) {
        let expected = if o.managed_by_retailer {
            o.amount
        } else {
            o.amount - o.open
        };
        assert_eq!(o.corrected, expected.max(0), "{o:?}");
    }
    // An offer bol does not know: 404, bol's Problem.
    let (status, body) = bol.offer("6ff736b5-cdd0-4150-8c67-78269ee986f5").await;
    assert_eq!(status, 404);
    check(
        &spec,
        &schema_of(&spec, "/retailer/offers/{offer-id}", "get", "404"),
        &body,
        "GET /retailer/offers/{unknown}",
        &mut problems,
    );
    // The export: 202 and a process; its report is not there before the process succeeds.
    let started = bol
        .send(
            reqwest::Method::POST,
            "/retailer/offers/export",
            V10,
            Some(json!({"format": "CSV"}).to_string()),
        )
        .await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    check(
        &spec,
        &schema_of(&spec, "/retailer/offers/export", "post", "202"),
        &started,
        "POST /retailer/offers/export",
        &mut problems,
    );
    assert_eq!(started["eventType"], "CREATE_OFFER_EXPORT");
    let report = started["entityId"].as_str().unwrap().to_owned();
    let early = bol
        .send(
            reqwest::Method::GET,
            &format!("/retailer/offers/export/{report}"),
            CSV,
            None,
        )
        .await;
    assert_eq!(early.status(), 404);
    let rows = bol.export().await;
    assert_eq!(rows.len(), offers.len());
    for (row, o) in rows.iter().zip(&offers) {
        assert_eq!(row["offerId"], o.offer_id);
        assert_eq!(row["ean"], o.ean);
        assert_eq!(row["stockAmount"], o.amount.to_string());
        assert_eq!(row["correctedStock"], o.corrected.to_string());
        assert_eq!(row["fulfilmentType"], if o.fbb { "FBB" } else { "FBR" });
    }
    // A request without bol's required format: 400 with the violation.
    let bad = bol
        .send(
            reqwest::Method::POST,
            "/retailer/offers/export",
            V10,
            Some(json!({"format": "XLSX"}).to_string()),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["violations"][0]["name"], "format");
    assert!(
        problems.is_empty(),
        "{} departures from bol's description:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(sb.report().total_violations(), 1, "{:#?}", sb.report().providers);
}

#[tokio::test]
async fn the_export_can_leave_out_the_corrected_stock() {
    let sb = start(Config {
        export_without_stock_details: true,
        ..Config::default()
    })
    .await
    .unwrap();
    let rows = Bol::new(&sb).await.export().await;
    assert_eq!(rows.len(), sb.offers().len());
    assert!(rows.iter().all(|r| !r.contains_key("correctedStock")), "{rows:?}");
    assert!(rows.iter().all(|r| r.contains_key("stockAmount")));
}

#[tokio::test]
async fn stock_bodies_that_break_bols_description_are_400_with_violations() {
    let spec = spec();
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let id = plain(&sb).offer_id;
    let before = plain(&sb);
    let cases = [
        (json!({}), vec!["amount", "managedByRetailer"]),
        (json!({"amount": 5}), vec!["managedByRetailer"]),
        (json!({"managedByRetailer": true}), vec!["amount"]),
        (json!({"amount": 1000, "managedByRetailer": true}), vec!["amount"]),
        (json!({"amount": -1, "managedByRetailer": true}), vec!["amount"]),
        (json!({"amount": 5.5, "managedByRetailer": true}), vec!["amount"]),
        (json!({"amount": "5", "managedByRetailer": true}), vec!["amount"]),
        (
            json!({"amount": 5, "managedByRetailer": "true"}),
            vec!["managedByRetailer"],
        ),
        (
            json!({"amount": null, "managedByRetailer": null}),
            vec!["amount", "managedByRetailer"],
        ),
        (json!([5, true]), vec!["amount", "managedByRetailer"]),
    ];
    let mut problems = Vec::new();
    for (body, names) in &cases {
        let (status, answer) = bol.put_stock(&id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        check(
            &spec,
            &schema_of(&spec, "/retailer/offers/{offer-id}/stock", "put", "400"),
            &answer,
            &format!("PUT stock {body}"),
            &mut problems,
        );
        let got: Vec<&str> = answer["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(&got, names, "{body}: {answer}");
    }
    // Not JSON at all.
    let r = bol
        .send(
            reqwest::Method::PUT,
            &format!("/retailer/offers/{id}/stock"),
            V10,
            Some("amount=5".into()),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let report = sb.report();
    assert_eq!(report.providers["bol"].violations, cases.len() as u64 + 1);
    assert_eq!(report.stock.stock_updates, 0);
    assert_eq!(plain(&sb), before, "nothing changed");
    // The bounds themselves are taken.
    for amount in [0, 999] {
        assert_eq!(bol.set_stock(&id, amount, true).await["status"], "SUCCESS");
        assert_eq!(offer_of(&sb, &before.ean).amount, amount);
    }
}

#[tokio::test]
async fn a_stock_update_is_applied_when_its_process_succeeds() {
    let spec = spec();
    let sb = start(Config {
        process_after_reads: 3,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    let (status, process) = bol
        .put_stock(&o.offer_id, json!({"amount": 7, "managedByRetailer": true}))
        .await;
    assert_eq!(status, 202);
    let mut problems = Vec::new();
    check(
        &spec,
        &schema_of(&spec, "/retailer/offers/{offer-id}/stock", "put", "202"),
        &process,
        "PUT stock",
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(process["eventType"], "UPDATE_OFFER_STOCK");
    assert_eq!(process["entityId"], o.offer_id.as_str());
    assert_eq!(process["status"], "PENDING");
    let pid = process["processStatusId"].as_str().unwrap().to_owned();
    // The window is real: until bol has processed it, bol sells by the old amount.
    for read in 1..3 {
        assert_eq!(bol.status(&pid).await["status"], "PENDING", "read {read}");
        assert_eq!(bol.offer(&o.offer_id).await.1["stock"]["amount"], o.amount);
        assert_eq!(sb.report().stock.stock_updates, 0);
    }
    // A sale in the window is taken against the old corrected stock.
    sb.place_order(&o.ean, 1).unwrap();
    // Read in bulk, as a client waits for many.
    let bulk = bol.bulk(&[&pid]).await;
    assert_eq!(bulk["processStatuses"][0]["status"], "SUCCESS");
    let (_, now) = bol.offer(&o.offer_id).await;
    assert_eq!(now["stock"]["amount"], 7);
    // Placed before the update was applied: bol does not subtract it.
    assert_eq!(now["stock"]["correctedStock"], 7);
    assert_eq!(sb.report().stock.stock_updates, 1);
    // Reading the status again applies nothing again.
    bol.status(&pid).await;
    assert_eq!(sb.report().stock.stock_updates, 1);
}

#[tokio::test]
async fn updates_of_an_unknown_or_an_fbb_offer_fail_in_their_process_status() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let fbb = sb.offers().into_iter().find(|o| o.fbb).unwrap();
    for id in ["offer-0000000000000", fbb.offer_id.as_str()] {
        let done = bol.set_stock(id, 5, true).await;
        assert_eq!(done["status"], "FAILURE", "{done}");
        assert_eq!(done["entityId"], id);
        assert!(done["errorMessage"].as_str().unwrap().contains(id), "{done}");
    }
    assert_eq!(offer_of(&sb, &fbb.ean), fbb, "the FBB offer is untouched");
    let report = sb.report();
    assert_eq!(report.stock.stock_updates, 0);
    assert_eq!(report.providers["bol"].violations, 2);
}

#[tokio::test]
async fn corrected_stock_managed_by_the_retailer_counts_orders_placed_after_the_update() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    bol.set_stock(&o.offer_id, 10, true).await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 10);
    let first = sb.place_order(&o.ean, 2).unwrap();
    sb.place_order(&o.ean, 1).unwrap();
    assert_eq!(offer_of(&sb, &o.ean).corrected, 7);
    // Shipped (handled) items still count until the next update.
    let line = sb.bol_lines().into_iter().find(|l| l.order_id == first).unwrap();
    let shipped = bol
        .send(
            reqwest::Method::POST,
            "/retailer/shipments",
            V10,
            Some(json!({"orderItems": [{"orderItemId": line.line_id}]}).to_string()),
        )
        .await;
    assert_eq!(shipped.status(), 202);
    assert_eq!(offer_of(&sb, &o.ean).corrected, 7);
    // A cancelled item still counts too ("handled" includes cancelled).
    let second = sb
        .bol_lines()
        .into_iter()
        .find(|l| l.ean == o.ean && l.order_id != first)
        .unwrap();
    let cancelled = bol
        .send(
            reqwest::Method::PUT,
            "/retailer/orders/cancellation",
            V10,
            Some(
                json!({"orderItems": [{"orderItemId": second.line_id, "reasonCode": "OUT_OF_STOCK"}]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(cancelled.status(), 202);
    assert_eq!(offer_of(&sb, &o.ean).corrected, 7);
    // The next update starts the count anew: orders placed before it are not subtracted.
    bol.set_stock(&o.offer_id, 8, true).await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 8);
    assert_eq!(bol.offer(&o.offer_id).await.1["stock"]["correctedStock"], 8);
}

#[tokio::test]
async fn a_cancelled_item_gives_its_unit_back_when_so_configured() {
    let sb = start(Config {
        cancelled_gives_back: true,
        ..quiet()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    bol.set_stock(&o.offer_id, 10, true).await;
    let order = sb.place_order(&o.ean, 2).unwrap();
    assert_eq!(offer_of(&sb, &o.ean).corrected, 8);
    let line = sb.bol_lines().into_iter().find(|l| l.order_id == order).unwrap();
    bol.send(
        reqwest::Method::PUT,
        "/retailer/orders/cancellation",
        V10,
        Some(
            json!({"orderItems": [{"orderItemId": line.line_id, "reasonCode": "OUT_OF_STOCK"}]}).to_string(),
        ),
    )
    .await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 10);
}

#[tokio::test]
async fn corrected_stock_managed_by_bol_counts_every_open_item() {
    let sb = start(Config {
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let o = sb
        .offers()
        .into_iter()
        .find(|o| !o.managed_by_retailer && !o.fbb)
        .unwrap();
    let seeded = o.open;
    assert!(seeded > 0, "the seeded orders hold some of it: {o:?}");
    // The update does not restart anything: every open item counts, before or after.
    bol.set_stock(&o.offer_id, 20, false).await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 20 - seeded);
    let order = sb.place_order(&o.ean, 2).unwrap();
    assert_eq!(offer_of(&sb, &o.ean).corrected, 18 - seeded);
    // Shipped: no longer open, no longer subtracted.
    let line = sb.bol_lines().into_iter().find(|l| l.order_id == order).unwrap();
    bol.send(
        reqwest::Method::POST,
        "/retailer/shipments",
        V10,
        Some(json!({"orderItems": [{"orderItemId": line.line_id}]}).to_string()),
    )
    .await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 20 - seeded);
    // Never below 0.
    bol.set_stock(&o.offer_id, 0, false).await;
    assert_eq!(offer_of(&sb, &o.ean).corrected, 0);
}

#[tokio::test]
async fn bol_sells_only_while_the_corrected_stock_lasts() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    bol.set_stock(&o.offer_id, 2, true).await;
    assert!(sb.place_order(&o.ean, 3).is_err());
    sb.place_order(&o.ean, 2).unwrap();
    let refused = sb.place_order(&o.ean, 1).unwrap_err();
    assert_eq!(
        refused,
        SaleRefused::NotEnough {
            ean: o.ean.clone(),
            corrected: 0,
            quantity: 1
        }
    );
    assert_eq!(
        refused.to_string(),
        format!("EAN {}: 1 asked, bol's corrected stock is 0", o.ean)
    );
    // Not for sale anywhere while the corrected stock is 0.
    assert_eq!(bol.offer(&o.offer_id).await.1["store"]["visible"], json!([]));
    let fbb = sb.offers().into_iter().find(|o| o.fbb).unwrap();
    assert_eq!(
        sb.place_order(&fbb.ean, 1),
        Err(SaleRefused::Fbb(fbb.ean.clone()))
    );
    assert_eq!(sb.place_order(&o.ean, 0), Err(SaleRefused::Quantity(0)));
    assert_eq!(
        sb.place_order("0000000000000", 1),
        Err(SaleRefused::NoOffer("0000000000000".into()))
    );
    let stock = sb.report().stock;
    assert_eq!((stock.sales, stock.refused_sales, stock.oversold), (1, 2, 0));
    // The order bol took is on its open list as the seeded ones are.
    assert_eq!(sb.bol_lines().len(), 1);
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_counted() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    bol.set_stock(&o.offer_id, 9, true).await;
    bol.set_stock(&o.offer_id, 9, true).await;
    assert_eq!(sb.report().stock.noop_updates, 1);
    // An order placed since: the same amount restarts the count, so it changes something.
    sb.place_order(&o.ean, 1).unwrap();
    bol.set_stock(&o.offer_id, 9, true).await;
    assert_eq!(sb.report().stock.noop_updates, 1);
    // The same amount in the other mode changes the mode.
    bol.set_stock(&o.offer_id, 9, false).await;
    let stock = sb.report().stock;
    assert_eq!((stock.stock_updates, stock.noop_updates), (4, 1));
}

#[tokio::test(start_paused = true)]
async fn orders_arrive_on_the_sandboxs_clock_while_stock_lasts() {
    let run = || async {
        let sb = start(Config {
            order_arrivals: Some(Duration::from_secs(60)),
            ..quiet()
        })
        .await
        .unwrap();
        // Nearly nothing left on one offer: arrivals for it are refused.
        let bol = Bol::new(&sb).await;
        let o = plain(&sb);
        bol.set_stock(&o.offer_id, 0, true).await;
        tokio::time::sleep(Duration::from_secs(60 * 60 + 1)).await;
        let stock = sb.report().stock;
        let nowhere = sb.offers().into_iter().find(|o| o.warehouses.is_empty()).unwrap();
        (stock, sb.bol_lines(), nowhere)
    };
    let (stock, lines, nowhere) = run().await;
    assert_eq!(stock.sales + stock.refused_sales, 60, "{stock:?}");
    assert_eq!(lines.len() as u64, stock.sales);
    assert!(stock.sales > 40 && stock.refused_sales > 0, "{stock:?}");
    // The offer no warehouse stocks still shows 3 on bol: what bol sold of it was oversold,
    // and nothing else was.
    let sold_from_nowhere: i64 = lines
        .iter()
        .filter(|l| l.ean == nowhere.ean)
        .map(|l| l.quantity)
        .sum();
    assert!(sold_from_nowhere > 0, "{lines:?}");
    assert_eq!(stock.oversold, sold_from_nowhere as u64);
    assert_eq!(nowhere.free, -sold_from_nowhere);
    // Deterministic: the same seed, the same orders.
    let (again, lines_again, _) = run().await;
    assert_eq!(again, stock);
    assert_eq!(lines_again, lines);
}

#[tokio::test]
async fn a_thousand_offers_export_whole() {
    let sb = start(Config {
        products: 1000,
        ..Config::default()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let started = std::time::Instant::now();
    let rows = bol.export().await;
    let took = started.elapsed();
    assert_eq!(rows.len(), 1000);
    let ids: std::collections::HashSet<&String> = rows.iter().map(|r| &r["offerId"]).collect();
    assert_eq!(ids.len(), 1000);
    let offers = sb.offers();
    assert_eq!(offers.iter().filter(|o| o.fbb).count(), 20);
    assert_eq!(offers.iter().filter(|o| !o.managed_by_retailer).count(), 40);
    eprintln!("export of 1000 offers: {took:?}");
}

#[tokio::test(start_paused = true)]
async fn the_offer_endpoints_are_limited_per_second_with_retry_after() {
    let sb = start(quiet()).await.unwrap();
    let bol = Bol::new(&sb).await;
    let o = plain(&sb);
    for _ in 0..25 {
        assert_eq!(bol.offer(&o.offer_id).await.0, 200);
    }
    let over = bol
        .send(
            reqwest::Method::GET,
            &format!("/retailer/offers/{}", o.offer_id),
            V10,
            None,
        )
        .await;
    assert_eq!(over.status(), 429);
    assert_eq!(over.headers()["retry-after"], "1");
    assert_eq!(over.headers()["x-ratelimit-limit"], "25");
    // The stock updates have their own budget.
    for _ in 0..25 {
        let (status, _) = bol
            .put_stock(&o.offer_id, json!({"amount": 1, "managedByRetailer": true}))
            .await;
        assert_eq!(status, 202);
    }
    let (status, _) = bol
        .put_stock(&o.offer_id, json!({"amount": 1, "managedByRetailer": true}))
        .await;
    assert_eq!(status, 429);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bol.offer(&o.offer_id).await.0, 200);
    assert_eq!(sb.report().total_rate_limited(), 2);
    assert_eq!(bol_limit_per_second("PUT /offers/{id}/stock"), Some(25));
    assert_eq!(bol_limit_per_second("GET /offers/{id}"), Some(25));
}

/// The real `retailer-client`, written from bol's description, reads the offer, exports
/// the offers and updates stock through its generated calls and its process-status wait.
#[tokio::test]
#[allow(deprecated)]
async fn the_retailer_client_reads_exports_and_updates_offers() {
    use retailer_client::models::{ProcessState, UpdateOfferStockRequest};
    use retailer_client::{RetailerClient, UpdateOfferStockParams, WaitOptions};
    let sb = start(quiet()).await.unwrap();
    let b = sb.base_urls();
    let bol = RetailerClient::builder(RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET.into())
        .api_url(b.bol)
        .token_url(b.bol_token)
        .build()
        .unwrap();
    let fast = WaitOptions {
        deadline: Duration::from_secs(10),
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..WaitOptions::default()
    };
    let o = plain(&sb);
    let read = bol.get_offer(&o.offer_id).await.unwrap();
    assert_eq!(read.ean, o.ean);
    assert_eq!(read.stock.amount, Some(o.amount));
    assert_eq!(read.stock.corrected_stock, Some(o.corrected));
    assert!(read.stock.managed_by_retailer);
    let started = bol
        .update_offer_stock(
            &o.offer_id,
            &UpdateOfferStockParams::default(),
            &UpdateOfferStockRequest {
                amount: 42,
                managed_by_retailer: true,
            },
        )
        .await
        .unwrap();
    let done = bol.wait_for_processes(&[started], fast).await.unwrap();
    assert_eq!(done[0].status, ProcessState::Success, "{done:?}");
    assert_eq!(bol.get_offer(&o.offer_id).await.unwrap().stock.amount, Some(42));
    let exported = bol.export_offers(fast).await.unwrap();
    assert_eq!(exported.len(), sb.offers().len());
    let row = exported
        .iter()
        .find(|r| r.offer_id() == Some(o.offer_id.as_str()))
        .unwrap();
    assert_eq!(row.stock_amount(), Some(42));
    assert_eq!(row.get("correctedStock"), Some("42"));
    assert_eq!(row.fulfilment_type(), Some("FBR"));
    let report = sb.report();
    assert_eq!(report.total_violations(), 0, "{:#?}", report.providers);
    assert_eq!((report.stock.stock_updates, report.stock.noop_updates), (1, 0));
}

/// A stock pass by hand over 1,000 offers, paced at the update budget: every offer the
/// retailer manages ends at `clamp(free, 0, 999)`; a second pass finds nothing to send;
/// no 429, no update that changed nothing.
#[tokio::test(start_paused = true)]
async fn a_thousand_offers_two_passes_and_the_second_sends_nothing() {
    let sb = start(Config {
        products: 1000,
        orders: 200,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let pass = async || {
        let exported = bol.export().await;
        // The truly free units and the mode, as the sandbox knows them.
        let known: std::collections::HashMap<String, (i64, bool)> = sb
            .offers()
            .into_iter()
            .map(|o| (o.offer_id, (o.free, o.managed_by_retailer)))
            .collect();
        let mut sent = Vec::new();
        for row in exported
            .iter()
            .filter(|r| r["fulfilmentType"] == "FBR" && known[&r["offerId"]].1)
        {
            let target = known[&row["offerId"]].0.clamp(0, 999);
            if row["correctedStock"].parse::<i64>().unwrap() == target {
                continue;
            }
            // 25 per second: one every 40 ms.
            tokio::time::sleep(Duration::from_millis(40)).await;
            let (status, process) = bol
                .put_stock(
                    &row["offerId"],
                    json!({"amount": target, "managedByRetailer": true}),
                )
                .await;
            assert_eq!(status, 202, "{process}");
            sent.push(process["processStatusId"].as_str().unwrap().to_owned());
        }
        for chunk in sent.chunks(1000) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let done = bol.bulk(&ids).await;
            assert!(
                done["processStatuses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p["status"] == "SUCCESS")
            );
        }
        sent.len()
    };
    let first = pass().await;
    // 940 offers the retailer manages; one in 13 starts right.
    assert!(first > 800, "most offers start a few units off: {first}");
    for o in sb.offers().iter().filter(|o| !o.fbb && o.managed_by_retailer) {
        assert_eq!(o.corrected, o.free.clamp(0, 999), "{o:?}");
    }
    assert_eq!(pass().await, 0, "nothing changed: nothing to send");
    let report = sb.report();
    assert_eq!(report.total_rate_limited(), 0);
    assert_eq!(report.total_violations(), 0, "{:#?}", report.providers);
    assert_eq!(report.stock.stock_updates, first as u64);
    assert_eq!(report.stock.noop_updates, 0);
}
