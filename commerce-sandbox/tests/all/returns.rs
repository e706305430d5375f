//! Returns in the sandbox, driven with raw HTTP: bol's returns (registered a while after
//! the shipment, listed 50 a page, handled with the checks bol's description makes) and
//! ShopWeDo's retour calls (announcements refused beyond what shipped, goods received a
//! while after the announcement), and what the report counts.

use crate::support::{self, BOL_V10};

use std::time::Duration;

use commerce_sandbox::*;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha512;

const HOUR: Duration = Duration::from_secs(3600);

/// A client for paused-time tests: no idle pool, so no timer of the HTTP stack makes the
/// paused clock jump while the runtime waits on a socket.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn config(orders: usize) -> Config {
    Config {
        orders,
        returns: 1.0,
        return_after: HOUR,
        receive_after: 5 * HOUR,
        cancellation_requests: 0.0,
        ..Config::default()
    }
}

/// bol with a token, taken again when the clock moved past it.
struct Bol {
    c: reqwest::Client,
    base: String,
    bearer: String,
}

impl Bol {
    async fn new(sb: &Sandbox) -> Bol {
        let c = http();
        let bearer = support::bol_bearer(&c, sb).await;
        Bol {
            c,
            base: sb.base_urls().bol,
            bearer,
        }
    }

    async fn refresh(&mut self, sb: &Sandbox) {
        self.bearer = support::bol_bearer(&self.c, sb).await;
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        // bol's limits are per second: keep under them.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("authorization", &self.bearer)
            .header("accept", BOL_V10)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Value) {
        tokio::time::sleep(Duration::from_millis(110)).await;
        let r = self
            .c
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.bearer)
            .header("accept", BOL_V10)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn handle(&self, rma: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            reqwest::Method::PUT,
            &format!("/retailer/returns/{rma}"),
            BOL_V10,
            body.to_string(),
        )
        .await
    }

    /// Confirms the shipment of every line of a bol order.
    async fn ship(&self, sb: &Sandbox, order_id: &str) {
        let items: Vec<Value> = sb
            .bol_lines()
            .iter()
            .filter(|l| l.order_id == order_id)
            .map(|l| json!({"orderItemId": l.line_id}))
            .collect();
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/retailer/shipments",
                BOL_V10,
                json!({"orderItems": items, "transport": {"transporterCode": "TNT", "trackAndTrace": "3STEST123"}})
                    .to_string(),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
}

fn signed(salt: &str) -> Value {
    let timestamp = chrono::Utc::now().timestamp();
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(SHOPWEDO_SHOP_KEY.as_bytes()).unwrap();
    mac.update(format!("{SHOPWEDO_SHOP_ID}{SHOPWEDO_SHOP_KEY}{timestamp}{salt}").as_bytes());
    let token: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"shopid": SHOPWEDO_SHOP_ID, "timestamp": timestamp, "salt": salt, "token": token})
}

/// ShopWeDo with a fresh salt each call, paced under its 3 requests a second.
struct Shopwedo {
    c: reqwest::Client,
    base: String,
    calls: u32,
}

impl Shopwedo {
    fn new(sb: &Sandbox) -> Shopwedo {
        Shopwedo {
            c: http(),
            base: sb.base_urls().shopwedo,
            calls: 0,
        }
    }

    async fn call(&mut self, method: &str, data: Value) -> (StatusCode, Value) {
        tokio::time::sleep(Duration::from_millis(350)).await;
        self.calls += 1;
        let r = self
            .c
            .post(format!("{}/{method}", self.base))
            .form(&[
                ("auth", signed(&format!("ret-{}", self.calls)).to_string()),
                ("data", data.to_string()),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A seeded bol order whose every line is stocked at ShopWeDo, with its lines.
fn shopwedo_order(sb: &Sandbox) -> (String, Vec<BolLine>) {
    let catalogue = sb.catalogue();
    let lines = sb.bol_lines();
    let at_shopwedo = |ean: &str| catalogue.iter().any(|p| p.ean == ean && p.at_shopwedo);
    let order = lines
        .iter()
        .map(|l| l.order_id.clone())
        .find(|o| {
            let of: Vec<_> = lines.iter().filter(|l| &l.order_id == o).collect();
            of.iter().all(|l| at_shopwedo(&l.ean)) && of.iter().any(|l| l.quantity >= 2)
        })
        .expect("a ShopWeDo order with a line of 2 units");
    let of = lines.into_iter().filter(|l| l.order_id == order).collect();
    (order, of)
}

#[tokio::test(start_paused = true)]
async fn a_return_is_registered_a_while_after_the_shipment_and_read_by_id() {
    let sb = start(config(6)).await.unwrap();
    let mut bol = Bol::new(&sb).await;
    let order = sb.bol_lines()[0].order_id.clone();
    // Nothing shipped, nothing returned.
    assert_eq!(bol.get("/retailer/returns").await, (StatusCode::OK, json!({})));
    bol.ship(&sb, &order).await;
    tokio::time::sleep(HOUR - Duration::from_secs(5)).await;
    bol.refresh(&sb).await;
    assert_eq!(
        bol.get("/retailer/returns?handled=false&fulfilment-method=FBR")
            .await
            .1,
        json!({}),
        "not before return_after"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (status, page) = bol
        .get("/retailer/returns?handled=false&fulfilment-method=FBR")
        .await;
    assert_eq!(status, 200);
    let returns = page["returns"].as_array().unwrap();
    assert_eq!(returns.len(), 1, "{page}");
    let r = &returns[0];
    assert_eq!(r["fulfilmentMethod"], "FBR");
    assert!(
        chrono::DateTime::parse_from_rfc3339(r["registrationDateTime"].as_str().unwrap()).is_ok(),
        "{r}"
    );
    let item = &r["returnItems"][0];
    for field in [
        "rmaId",
        "orderId",
        "ean",
        "expectedQuantity",
        "returnReason",
        "handled",
        "processingResults",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_eq!(item["orderId"], order.as_str());
    assert_eq!(item["handled"], false);
    assert!(item["returnReason"]["mainReason"].is_string());
    assert!(item["returnReason"]["customerComments"].is_string());
    let line = sb
        .bol_lines()
        .into_iter()
        .find(|l| l.ean == item["ean"].as_str().unwrap() && l.order_id == order)
        .unwrap();
    let expected = item["expectedQuantity"].as_i64().unwrap();
    assert!((1..=line.shipped).contains(&expected), "{item}");
    // By id: the title, the buyer (a scrambled address), track and trace and transporter.
    let id = r["returnId"].as_str().unwrap();
    let (status, full) = bol.get(&format!("/retailer/returns/{id}")).await;
    assert_eq!(status, 200);
    let item = &full["returnItems"][0];
    assert!(item["title"].as_str().is_some_and(|t| !t.is_empty()), "{item}");
    assert!(
        item["customerDetails"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@verkopen.bol.com")
    );
    assert!(item["customerDetails"]["salutation"].is_string());
    assert!(
        item["trackAndTrace"].is_string() && item["transporterName"].is_string(),
        "{item}"
    );
    let (status, missing) = bol.get("/retailer/returns/99").await;
    assert_eq!((status.as_u16(), missing["status"].as_u64()), (404, Some(404)));
    // The sandbox shows it too.
    let lines = sb.returns();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].handled, lines[0].received, lines[0].announced),
        (false, None, 0)
    );
    let r = sb.report();
    assert_eq!(
        (r.returns.registered, r.returns.unhandled, r.returns.handled),
        (1, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn returns_are_listed_fifty_a_page_oldest_first_and_filtered() {
    let sb = start(config(60)).await.unwrap();
    let mut bol = Bol::new(&sb).await;
    let mut orders: Vec<String> = sb.bol_lines().into_iter().map(|l| l.order_id).collect();
    orders.dedup();
    assert_eq!(orders.len(), 60);
    for order in &orders {
        // A tenth of a second apart (each send waits), so the registrations are ordered.
        bol.ship(&sb, order).await;
    }
    tokio::time::sleep(HOUR).await;
    bol.refresh(&sb).await;
    let (_, first) = bol
        .get("/retailer/returns?handled=false&fulfilment-method=FBR")
        .await;
    let (_, second) = bol
        .get("/retailer/returns?page=2&handled=false&fulfilment-method=FBR")
        .await;
    let (_, third) = bol
        .get("/retailer/returns?page=3&handled=false&fulfilment-method=FBR")
        .await;
    let first = first["returns"].as_array().unwrap().clone();
    let second = second["returns"].as_array().unwrap().clone();
    assert_eq!((first.len(), second.len()), (50, 10));
    assert_eq!(third, json!({}), "past the end");
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = first
        .iter()
        .chain(&second)
        .map(|r| chrono::DateTime::parse_from_rfc3339(r["registrationDateTime"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "ascending");
    assert_eq!(first[0]["returnItems"][0]["orderId"], orders[0].as_str());
    // Handled ones: none yet. bol's FBB returns: none (the sandbox's orders are FBR).
    assert_eq!(bol.get("/retailer/returns?handled=true").await.1, json!({}));
    assert_eq!(
        bol.get("/retailer/returns?fulfilment-method=FBB").await.1,
        json!({})
    );
    // Parameters that break the description.
    for query in ["page=0", "page=x", "handled=yes", "fulfilment-method=FBX"] {
        let (status, problem) = bol.get(&format!("/retailer/returns?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(problem["violations"][0]["name"].is_string(), "{problem}");
    }
    // The registered count is that of items (an order's return may hold one of its lines).
    let r = sb.report().returns;
    assert_eq!(r.registered, sb.returns().len() as u64);
    assert!(r.registered >= 60);
}

#[tokio::test(start_paused = true)]
async fn handling_is_checked_and_early_or_double_handling_counted() {
    let sb = start(config(6)).await.unwrap();
    let mut bol = Bol::new(&sb).await;
    let order = sb.bol_lines()[0].order_id.clone();
    bol.ship(&sb, &order).await;
    tokio::time::sleep(2 * HOUR).await;
    bol.refresh(&sb).await;
    let (_, page) = bol.get("/retailer/returns?handled=false").await;
    let item = page["returns"][0]["returnItems"][0].clone();
    let rma = item["rmaId"].as_str().unwrap().to_owned();
    let expected = item["expectedQuantity"].as_i64().unwrap();
    let ok = json!({"handlingResult": "RETURN_RECEIVED", "quantityReturned": expected});
    // The body and media type as bol's description says, else 400 (or 415) and nothing done.
    let cases = [
        (json!({"quantityReturned": 1}), "handlingResult"),
        (json!({"handlingResult": "RETURN_RECEIVED"}), "quantityReturned"),
        (
            json!({"handlingResult": "REFUNDED", "quantityReturned": 1}),
            "handlingResult",
        ),
        (
            json!({"handlingResult": "RETURN_RECEIVED", "quantityReturned": 0}),
            "quantityReturned",
        ),
        (
            json!({"handlingResult": "RETURN_RECEIVED", "quantityReturned": 10000}),
            "quantityReturned",
        ),
        (
            json!({"handlingResult": "RETURN_RECEIVED", "quantityReturned": "1"}),
            "quantityReturned",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = bol.handle(&rma, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(problem["violations"][0]["name"], field, "{problem}");
    }
    let (status, _) = bol.handle("not-a-number", ok.clone()).await;
    assert_eq!(status, 400);
    let (status, problem) = bol.handle("99999999", ok.clone()).await;
    assert_eq!(status, 400, "an RMA bol does not have: {problem}");
    let (status, _) = bol
        .send(
            reqwest::Method::PUT,
            &format!("/retailer/returns/{rma}"),
            "application/json",
            ok.to_string(),
        )
        .await;
    assert_eq!(status, 415, "bol's media type");
    let (status, _) = bol
        .send(
            reqwest::Method::PUT,
            &format!("/retailer/returns/{rma}"),
            BOL_V10,
            String::new(),
        )
        .await;
    assert_eq!(status, 400, "no body");
    assert_eq!(
        sb.report().returns.handled_before_receipt,
        0,
        "nothing was taken yet"
    );
    // A person's choice that claims no goods is not early.
    let (status, process) = bol
        .handle(
            &rma,
            json!({"handlingResult": "CUSTOMER_KEEPS_PRODUCT_PAID", "quantityReturned": expected}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(process["eventType"], "HANDLE_RETURN_ITEM");
    assert_eq!(process["entityId"], rma.as_str());
    assert_eq!(process["status"], "PENDING");
    // Its process, found by entity and event type (bol-shared).
    let (status, statuses) = bol
        .get(&format!(
            "/shared/process-status?entity-id={rma}&event-type=HANDLE_RETURN_ITEM"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(statuses["processStatuses"][0]["status"], "SUCCESS", "{statuses}");
    assert_eq!(
        bol.get(&format!(
            "/shared/process-status?entity-id={rma}&event-type=CREATE_RETURN_ITEM"
        ))
        .await
        .1,
        json!({"processStatuses": []})
    );
    for query in [
        format!("entity-id={rma}"),
        "event-type=HANDLE_RETURN_ITEM".to_owned(),
        format!("entity-id={rma}&event-type=NOPE"),
    ] {
        assert_eq!(
            bol.get(&format!("/shared/process-status?{query}")).await.0,
            400,
            "{query}"
        );
    }
    let (_, handled) = bol.get("/retailer/returns?handled=true").await;
    let item = &handled["returns"][0]["returnItems"][0];
    assert_eq!(item["handled"], true);
    assert_eq!(item["processingResults"][0]["processingResult"], "ACCEPTED");
    assert_eq!(
        item["processingResults"][0]["handlingResult"],
        "CUSTOMER_KEEPS_PRODUCT_PAID"
    );
    assert_eq!(bol.get("/retailer/returns?handled=false").await.1, json!({}));
    let r = sb.report();
    assert_eq!(
        (
            r.returns.handled,
            r.returns.handled_before_receipt,
            r.returns.double_handled
        ),
        (1, 0, 0)
    );
    // Handled again, now claiming goods no warehouse received: both counted.
    let (status, _) = bol.handle(&rma, ok).await;
    assert_eq!(status, 202, "bol takes a change of the handling result");
    let r = sb.report();
    assert_eq!(
        (
            r.returns.handled_before_receipt,
            r.returns.double_handled,
            r.returns.wrong_quantity
        ),
        (1, 1, 0)
    );
    assert_eq!(r.providers["bol"].duplicates, 1);
    assert_eq!(r.total_duplicates(), 1);
    let line = &sb.returns()[0];
    assert_eq!(line.handlings, 2);
}

#[tokio::test(start_paused = true)]
async fn shopwedo_takes_announcements_within_what_shipped_and_receives_the_goods_later() {
    // Seed 3: the buyer returns 1 of 2 units shipped, so a second announcement fits in
    // what shipped and goes beyond what bol registered.
    let sb = start(Config {
        seed: 3,
        ..config(24)
    })
    .await
    .unwrap();
    let mut bol = Bol::new(&sb).await;
    let mut swd = Shopwedo::new(&sb);
    let (order, lines) = shopwedo_order(&sb);
    let catalogue = sb.catalogue();
    let sku_of = |ean: &str| catalogue.iter().find(|p| p.ean == ean).unwrap().shopwedo_sku;
    let items: Vec<Value> = lines
        .iter()
        .map(|l| json!({"sku": sku_of(&l.ean), "amount": l.quantity}))
        .collect();
    let (status, created) = swd
        .call(
            "createOrder",
            json!({"external_order_id": format!("bol-{order}"), "created_at": "2026-11-20 10:00:00",
                "shipping_address": {"firstname": "An", "street": "Grote Markt", "number": "7", "zip": "2000", "city": "Antwerpen",
                                     "country_iso2": "BE", "email": "an@example.be", "phone": "+3231234567"},
                "items": items}),
        )
        .await;
    assert_eq!(status, 201);
    let swd_order = created["order_id"].as_u64().unwrap();
    // Not shipped yet: refused.
    let line = lines.iter().find(|l| l.quantity >= 2).unwrap();
    let sku = sku_of(&line.ean);
    let (status, refused) = swd
        .call(
            "createRetourAnnouncement",
            json!({"shop_id": SHOPWEDO_SHOP_ID, "order_id": swd_order, "items": [{"sku": sku, "amount": 1, "reason": "x"}]}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), refused["error"].as_str()),
        (400, Some("order_not_shipped"))
    );
    // Read until shipped; the inferred retours block is there, empty.
    let mut read = Value::Null;
    for _ in 0..3 {
        read = swd.call("getOrder", json!({"order_id": swd_order})).await.1;
    }
    assert_eq!(read["status_string"], "shipped");
    assert_eq!(read["retours"], json!([]));
    bol.ship(&sb, &order).await;
    tokio::time::sleep(2 * HOUR).await;
    bol.refresh(&sb).await;
    let returned: Vec<ReturnLine> = sb.returns();
    assert_eq!(returned.len(), 1, "{returned:?}");
    let ret = returned[0].clone();
    let sku = sku_of(&ret.ean);
    let shipped = lines.iter().find(|l| l.ean == ret.ean).unwrap().quantity;
    // Beyond what shipped, an sku not in the order, an amount of 0, an unknown order: refused.
    for (data, error) in [
        (
            json!({"order_id": swd_order, "items": [{"sku": sku, "amount": shipped + 1, "reason": "x"}]}),
            "retour_invalid_data",
        ),
        (
            json!({"order_id": swd_order, "items": [{"sku": 1, "amount": 1, "reason": "x"}]}),
            "retour_invalid_data",
        ),
        (
            json!({"order_id": swd_order, "items": [{"sku": sku, "amount": 0, "reason": "x"}]}),
            "retour_invalid_data",
        ),
        (json!({"order_id": swd_order, "items": []}), "retour_items_empty"),
        (
            json!({"order_id": 1, "items": [{"sku": sku, "amount": 1, "reason": "x"}]}),
            "order_not_found",
        ),
        (
            json!({"shop_id": 1, "order_id": swd_order, "items": [{"sku": sku, "amount": 1, "reason": "x"}]}),
            "shop_not_found",
        ),
    ] {
        let (status, body) = swd.call("createRetourAnnouncement", data.clone()).await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some(error)),
            "{data}: {body}"
        );
    }
    assert_eq!(sb.report().returns.announced, 0);
    let reason = format!("Te groot (bol RMA {})", ret.rma_id);
    let (status, announced) = swd
        .call(
            "createRetourAnnouncement",
            json!({"shop_id": SHOPWEDO_SHOP_ID, "order_id": swd_order,
                   "items": [{"sku": sku, "amount": ret.expected, "reason": reason}]}),
        )
        .await;
    assert_eq!(status, 201, "{announced}");
    let retour_id = announced["retour_id"].as_u64().unwrap();
    let (_, read) = swd.call("getOrder", json!({"order_id": swd_order})).await;
    let retour = &read["retours"][0];
    assert_eq!(retour["retour_id"], retour_id);
    assert_eq!(retour["sku"], sku);
    assert_eq!(retour["reason"], reason.as_str());
    assert_eq!(
        (retour["received"].as_bool(), retour["received_amount"].is_null()),
        (Some(false), true)
    );
    let on_receipt = json!({"handlingResult": "RETURN_RECEIVED", "quantityReturned": ret.expected});
    // Announcing beyond what was shipped less what was announced is refused; within it,
    // beyond what bol registered, a duplicate.
    let left = shipped - ret.expected;
    let (status, body) = swd
        .call(
            "createRetourAnnouncement",
            json!({"order_id": swd_order, "items": [{"sku": sku, "amount": left + 1, "reason": reason}]}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("retour_invalid_data")),
        "{body}"
    );
    assert_eq!(left, 1, "the seed's return: {ret:?}");
    {
        let (status, _) = swd
            .call(
                "createRetourAnnouncement",
                json!({"order_id": swd_order, "items": [{"sku": sku, "amount": 1, "reason": reason}]}),
            )
            .await;
        assert_eq!(status, 201);
        let r = sb.report();
        assert_eq!(r.returns.duplicate_announcements, 1);
        assert_eq!(r.providers["shopwedo"].duplicates, 1);
    }
    // The goods arrive receive_after after the announcement, whole and fine.
    tokio::time::sleep(4 * HOUR).await;
    assert_eq!(sb.returns()[0].received, None);
    tokio::time::sleep(2 * HOUR).await;
    let (_, read) = swd.call("getOrder", json!({"order_id": swd_order})).await;
    let retour = &read["retours"][0];
    assert_eq!(retour["received"], true, "{retour}");
    assert_eq!(retour["received_amount"], ret.expected);
    assert_eq!(retour["condition"], "ok");
    assert!(
        chrono::NaiveDateTime::parse_from_str(retour["received_at"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .is_ok(),
        "{retour}"
    );
    let line = &sb.returns()[0];
    assert_eq!(
        (line.received, line.condition.as_deref()),
        (Some(ret.expected), Some("ok"))
    );
    // Handled now, with what was received: nothing counted against it.
    bol.refresh(&sb).await;
    let (status, _) = bol.handle(&ret.rma_id, on_receipt).await;
    assert_eq!(status, 202);
    bol.get("/retailer/returns").await;
    let r = sb.report().returns;
    assert_eq!((r.registered, r.received, r.handled, r.unhandled), (1, 1, 1, 0));
    assert_eq!(
        (
            r.handled_before_receipt,
            r.double_handled,
            r.wrong_quantity,
            r.announced_without_return
        ),
        (0, 0, 0, 0)
    );
    let line = &sb.returns()[0];
    assert!(line.handled && line.handled_at > line.received_at, "{line:?}");
}

#[tokio::test(start_paused = true)]
async fn an_announcement_without_a_return_and_a_mismatch_are_shown() {
    let sb = start(Config {
        return_mismatch: 1.0,
        ..config(24)
    })
    .await
    .unwrap();
    let mut bol = Bol::new(&sb).await;
    let mut swd = Shopwedo::new(&sb);
    let (order, lines) = shopwedo_order(&sb);
    let catalogue = sb.catalogue();
    let sku_of = |ean: &str| catalogue.iter().find(|p| p.ean == ean).unwrap().shopwedo_sku;
    let items: Vec<Value> = lines
        .iter()
        .map(|l| json!({"sku": sku_of(&l.ean), "amount": l.quantity}))
        .collect();
    let (_, created) = swd
        .call(
            "createOrder",
            json!({"external_order_id": order, "created_at": "2026-11-20 10:00:00",
                "shipping_address": {"firstname": "An", "street": "Grote Markt", "number": "7", "zip": "2000", "city": "Antwerpen",
                                     "country_iso2": "BE", "email": "an@example.be", "phone": "+3231234567"},
                "items": items}),
        )
        .await;
    let swd_order = created["order_id"].as_u64().unwrap();
    // A web shop order (no bol order in its id), shipped, and a retour announced for it.
    let (_, web) = swd
        .call(
            "createOrder",
            json!({"external_order_id": "webshop-77", "created_at": "2026-11-20 10:00:00",
                "shipping_address": {"firstname": "An", "street": "Grote Markt", "number": "7", "zip": "2000", "city": "Antwerpen",
                                     "country_iso2": "BE", "email": "an@example.be", "phone": "+3231234567"},
                "items": [{"sku": sku_of(&lines[0].ean), "amount": 1}]}),
        )
        .await;
    let web = web["order_id"].as_u64().unwrap();
    for _ in 0..3 {
        swd.call("getOrder", json!({"order_id": swd_order})).await;
        swd.call("getOrder", json!({"order_id": web})).await;
    }
    let (status, _) = swd
        .call(
            "createRetourAnnouncement",
            json!({"order_id": web, "items": [{"sku": sku_of(&lines[0].ean), "amount": 1, "reason": "a guess"}]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(sb.report().returns.announced_without_return, 1);
    bol.ship(&sb, &order).await;
    tokio::time::sleep(2 * HOUR).await;
    let ret = sb.returns()[0].clone();
    assert!(ret.mismatch);
    // Ids as strings are read too.
    let (status, body) = swd
        .call(
            "createRetourAnnouncement",
            json!({"order_id": swd_order.to_string(), "items": [{"sku": sku_of(&ret.ean).to_string(), "amount": 1,
                   "reason": format!("Kapot (bol RMA {})", ret.rma_id)}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    tokio::time::sleep(6 * HOUR).await;
    let line = sb.returns()[0].clone();
    // Short by one (more than one expected) or damaged.
    let arrived = (line.received.unwrap(), line.condition.unwrap());
    assert!(
        arrived == (ret.expected - 1, "ok".to_owned()) || arrived == (ret.expected, "damaged".to_owned()),
        "{arrived:?}"
    );
    // Handled with another quantity than received: counted.
    bol.refresh(&sb).await;
    let wrong = line.received.unwrap() + 1;
    let (status, _) = bol
        .handle(
            &ret.rma_id,
            json!({"handlingResult": "RETURN_DOES_NOT_MEET_CONDITIONS", "quantityReturned": wrong}),
        )
        .await;
    assert_eq!(status, 202);
    let r = sb.report().returns;
    assert_eq!(
        (
            r.wrong_quantity,
            r.handled_before_receipt,
            r.duplicate_announcements
        ),
        (1, 0, 0)
    );
    // The inspection route answers the same lines.
    let over_http: Vec<ReturnLine> = http()
        .get(format!("{}/__sandbox/returns", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, sb.returns());
}

#[tokio::test(start_paused = true)]
async fn retour_settings_and_pick_up_points() {
    let sb = start(Config::default()).await.unwrap();
    let mut swd = Shopwedo::new(&sb);
    let (status, settings) = swd
        .call("getRetourSettings", json!({"shop_id": SHOPWEDO_SHOP_ID}))
        .await;
    assert_eq!(status, 200);
    let reasons: Value = serde_json::from_str(settings["return_reasons"].as_str().unwrap()).unwrap();
    assert_eq!(reasons[0]["nl"], "Te groot");
    assert!(settings["return_day_amount"].is_string() && settings["return_status"] == 1);
    assert_eq!(swd.call("getRetourSettings", json!({"shop_id": 1})).await.0, 400);
    // Dutch points under `points` beside the centre, naming the point bol's pick-up orders name.
    let (status, nl) = swd
        .call("pudo", json!({"address": {"zip": "1012AB", "country": "NL"}}))
        .await;
    assert_eq!(status, 200);
    assert!(nl["center"]["lat"].is_number());
    let points = nl["points"].as_array().unwrap();
    assert_eq!(points[0]["pugoName"], "PostNL-punt Primera Amsterdam");
    for field in ["pugoId", "pugoCarrier", "pugoLatitude", "pugoLongitude"] {
        assert!(!points[0][field].is_null(), "{field}");
    }
    assert_eq!(points[0]["pugoAddress"]["countryIso2"], "NL");
    assert_eq!(points[0]["openingHours"]["monday"]["openMorning"], "09:00");
    // Belgian points as a top-level list.
    let (_, be) = swd
        .call("pudo", json!({"address": {"zip": "2000", "country": "BE"}}))
        .await;
    assert_eq!(be[0]["pugoName"], "PostNL-punt Primera Antwerpen");
    assert_eq!(be[1]["pugoCarrier"], "bpost");
    // Zip and country are required.
    for address in [
        json!({"zip": "1012AB"}),
        json!({"country": "NL"}),
        json!({"zip": " ", "country": "NL"}),
    ] {
        let (status, body) = swd.call("pudo", json!({"address": address})).await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("address_invalid"))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn without_returns_configured_nothing_is_registered() {
    let sb = start(Config {
        returns: 0.0,
        ..config(6)
    })
    .await
    .unwrap();
    let mut bol = Bol::new(&sb).await;
    let order = sb.bol_lines()[0].order_id.clone();
    bol.ship(&sb, &order).await;
    tokio::time::sleep(30 * HOUR).await;
    bol.refresh(&sb).await;
    assert_eq!(bol.get("/retailer/returns").await.1, json!({}));
    assert_eq!(sb.report().returns, ReturnsReport::default());
}

#[tokio::test(start_paused = true)]
async fn a_garbled_handling_took_effect_and_its_process_is_found_by_the_rma() {
    let sb = start(Config {
        garbled_creates: 1.0,
        ..config(6)
    })
    .await
    .unwrap();
    let mut bol = Bol::new(&sb).await;
    let order = sb.bol_lines()[0].order_id.clone();
    bol.ship(&sb, &order).await;
    tokio::time::sleep(2 * HOUR).await;
    bol.refresh(&sb).await;
    let ret = sb.returns()[0].clone();
    let (status, body) = bol
        .handle(
            &ret.rma_id,
            json!({"handlingResult": "CUSTOMER_KEEPS_PRODUCT_PAID", "quantityReturned": ret.expected}),
        )
        .await;
    // A 2xx whose body cannot be read: the client cannot tell what happened.
    assert_eq!((status.as_u16(), body), (202, Value::Null));
    assert_eq!(sb.returns()[0].handlings, 1, "it went through");
    let (_, found) = bol
        .get(&format!(
            "/shared/process-status?entity-id={}&event-type=HANDLE_RETURN_ITEM",
            ret.rma_id
        ))
        .await;
    assert_eq!(found["processStatuses"][0]["status"], "SUCCESS", "{found}");
    assert!(sb.returns()[0].handled);
    assert!(sb.report().total_faults() >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_return_registered_by_hand_received_by_a_person_and_one_handled_on_bol() {
    let sb = start(Config {
        returns: 0.0,
        ..config(6)
    })
    .await
    .unwrap();
    let mut bol = Bol::new(&sb).await;
    let lines = sb.bol_lines();
    let order = lines[0].order_id.clone();
    let line = lines[0].line_id.clone();
    assert_eq!(sb.register_return(&order, &line, 1), None, "not shipped");
    bol.ship(&sb, &order).await;
    assert_eq!(sb.register_return(&order, &line, 0), None);
    assert_eq!(sb.register_return(&order, "nope", 1), None);
    let rma = sb.register_return(&order, &line, 1).unwrap();
    let shipped = sb.bol_lines()[0].shipped;
    assert_eq!(
        sb.register_return(&order, &line, shipped),
        None,
        "beyond what is left"
    );
    let second = sb.bol_lines().into_iter().find(|l| l.order_id != order).unwrap();
    bol.ship(&sb, &second.order_id).await;
    let other = sb.register_return(&second.order_id, &second.line_id, 1).unwrap();
    bol.refresh(&sb).await;
    let (_, page) = bol.get("/retailer/returns?handled=false").await;
    assert_eq!(page["returns"].as_array().unwrap().len(), 2);
    // A person saw the goods (no retour call at that warehouse): handling is not early.
    assert!(sb.receive_return_by_hand(&rma, 1, true));
    assert!(!sb.receive_return_by_hand("1", 1, false));
    let line = sb.returns().into_iter().find(|l| l.rma_id == rma).unwrap();
    assert_eq!(
        (line.received, line.condition.as_deref()),
        (Some(1), Some("damaged"))
    );
    let (status, _) = bol
        .handle(
            &rma,
            json!({"handlingResult": "RETURN_DOES_NOT_MEET_CONDITIONS", "quantityReturned": 1}),
        )
        .await;
    assert_eq!(status, 202);
    // The other handled in bol's own pages: handled at once; the API's after it is a second.
    assert!(!sb.handle_return_on_bol(&other, "REFUNDED"));
    assert!(sb.handle_return_on_bol(&other, "CUSTOMER_KEEPS_PRODUCT_PAID"));
    let (_, handled) = bol.get("/retailer/returns?handled=true").await;
    assert_eq!(handled["returns"].as_array().unwrap().len(), 2, "{handled}");
    bol.handle(
        &other,
        json!({"handlingResult": "STILL_APPROVED", "quantityReturned": 1}),
    )
    .await;
    let r = sb.report().returns;
    assert_eq!(
        (
            r.registered,
            r.handled,
            r.handled_before_receipt,
            r.double_handled,
            r.wrong_quantity
        ),
        (2, 2, 0, 1, 0)
    );
}

/// bol's own description of the answers, and the real `retailer-client` (written from it)
/// reading, handling and looking up returns in the sandbox.
#[tokio::test]
async fn returns_are_answered_in_bols_shapes_and_read_by_the_retailer_client() {
    use crate::bol_conformance::{check, schema_of, spec};
    use retailer_client::models::{
        GetProcessStatusEntityIdEventType, GetReturnsFulfilmentMethod, ProcessState, ReturnRequest,
        ReturnRequestHandlingResult,
    };
    use retailer_client::{GetProcessStatusEntityIdParams, GetReturnsParams, RetailerClient};
    let spec = spec();
    let sb = start(Config {
        return_after: Duration::ZERO,
        returns_multi: 1.0,
        ..config(12)
    })
    .await
    .unwrap();
    let bol = Bol::new(&sb).await;
    let lines = sb.bol_lines();
    let mut orders: Vec<String> = lines.iter().map(|l| l.order_id.clone()).collect();
    orders.dedup();
    // Two-line orders first.
    orders.sort_by_key(|o| std::cmp::Reverse(lines.iter().filter(|l| &l.order_id == o).count()));
    for order in &orders[..4] {
        bol.ship(&sb, order).await;
    }
    let mut problems = Vec::new();
    let (_, page) = bol
        .get("/retailer/returns?handled=false&fulfilment-method=FBR")
        .await;
    check(
        &spec,
        &schema_of(&spec, "/retailer/returns", "get", "200"),
        &page,
        "GET /retailer/returns",
        &mut problems,
    );
    let returns = page["returns"].as_array().unwrap();
    assert_eq!(returns.len(), 4);
    assert!(
        returns
            .iter()
            .any(|r| r["returnItems"].as_array().unwrap().len() == 2),
        "a two-line order returns two items: {page}"
    );
    for r in returns {
        let id = r["returnId"].as_str().unwrap();
        let (_, full) = bol.get(&format!("/retailer/returns/{id}")).await;
        check(
            &spec,
            &schema_of(&spec, "/retailer/returns/{return-id}", "get", "200"),
            &full,
            &format!("GET /retailer/returns/{id}"),
            &mut problems,
        );
    }
    // Every item of the two-item return handled: the return is listed as handled (with
    // one item left it stays among the unhandled).
    let two = returns
        .iter()
        .find(|r| r["returnItems"].as_array().unwrap().len() == 2)
        .unwrap();
    for item in two["returnItems"].as_array().unwrap() {
        let rma = item["rmaId"].as_str().unwrap();
        let expected = item["expectedQuantity"].as_i64().unwrap();
        let (status, started) = bol
            .handle(
                rma,
                json!({"handlingResult": "CUSTOMER_KEEPS_PRODUCT_PAID", "quantityReturned": expected}),
            )
            .await;
        assert_eq!(status, 202);
        check(
            &spec,
            &schema_of(&spec, "/retailer/returns/{rma-id}", "put", "202"),
            &started,
            "PUT /retailer/returns/{rma-id}",
            &mut problems,
        );
    }
    let (_, handled) = bol.get("/retailer/returns?handled=true").await;
    check(
        &spec,
        &schema_of(&spec, "/retailer/returns", "get", "200"),
        &handled,
        "GET /retailer/returns?handled=true",
        &mut problems,
    );
    assert_eq!(handled["returns"].as_array().map(Vec::len), Some(1), "{handled}");
    assert!(
        problems.is_empty(),
        "{} departures from bol's description:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The real client: list, read, handle, look the process up by the RMA id.
    let b = sb.base_urls();
    let client = RetailerClient::builder(RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET.into())
        .api_url(b.bol)
        .token_url(b.bol_token)
        .build()
        .unwrap();
    let listed = client
        .get_returns(&GetReturnsParams {
            page: Some(1),
            handled: Some(false),
            fulfilment_method: Some(GetReturnsFulfilmentMethod::Fbr),
        })
        .await
        .unwrap();
    assert_eq!(listed.returns.len(), 3, "the first one handled");
    let item = listed.returns[0].return_items[0].clone();
    let read = client.get_return(&listed.returns[0].return_id).await.unwrap();
    assert_eq!(read.return_items[0].rma_id, item.rma_id);
    assert!(read.return_items[0].customer_details.email.is_some());
    let rma: i64 = item.rma_id.parse().unwrap();
    let started = client
        .handle_return(
            rma,
            &ReturnRequest {
                handling_result: ReturnRequestHandlingResult::CustomerKeepsProductPaid,
                quantity_returned: item.expected_quantity,
            },
        )
        .await
        .unwrap();
    assert_eq!(started.event_type, "HANDLE_RETURN_ITEM");
    assert_eq!(started.entity_id.as_deref(), Some(item.rma_id.as_str()));
    let found = client
        .get_process_status_entity_id(
            &item.rma_id,
            GetProcessStatusEntityIdEventType::HandleReturnItem,
            &GetProcessStatusEntityIdParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(found.process_statuses.len(), 1);
    assert_eq!(found.process_statuses[0].status, ProcessState::Success);
    let r = sb.report().returns;
    assert_eq!((r.handled, r.double_handled, r.handled_before_receipt), (3, 0, 0));
    let samples = sb.report().providers["bol"].violation_samples.join(" | ");
    assert!(!samples.contains("return"), "{samples}");
}
