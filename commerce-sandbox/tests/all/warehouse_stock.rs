//! The warehouses' stock on the sandbox: units leave the shelf when an order ships;
//! ShopWeDo reserves released orders in `atp` (as its document says) or not (on shelf);
//! the Customer API on shelf or reserving; the report's truly free units on a hand-built
//! case; a stock pass by hand leaves every offer bol sells by the arithmetic; drift.

use crate::support;

use std::io::Read;
use std::time::Duration;

use commerce_sandbox::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha512;

/// ShopWeDo calls, signed, paced under its 3 per second (paused time: the pauses cost
/// nothing).
struct Shopwedo {
    c: reqwest::Client,
    base: String,
    salt: u32,
}

impl Shopwedo {
    fn new(sb: &Sandbox) -> Shopwedo {
        Shopwedo {
            c: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            base: sb.base_urls().shopwedo,
            salt: 0,
        }
    }

    async fn call(&mut self, method: &str, data: Value) -> Value {
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.salt += 1;
        let salt = format!("stock-{}", self.salt);
        let timestamp = chrono::Utc::now().timestamp();
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(SHOPWEDO_SHOP_KEY.as_bytes()).unwrap();
        mac.update(format!("{SHOPWEDO_SHOP_ID}{SHOPWEDO_SHOP_KEY}{timestamp}{salt}").as_bytes());
        let token: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let auth = json!({"shopid": SHOPWEDO_SHOP_ID, "timestamp": timestamp, "salt": salt, "token": token});
        let r = self
            .c
            .post(format!("{}/{method}", self.base))
            .form(&[("auth", auth.to_string()), ("data", data.to_string())])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{method}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn create(&mut self, external: &str, sku: u64, amount: i64, release: Option<bool>) -> u64 {
        let mut order = json!({"external_order_id": external, "created_at": "2026-12-07 06:00:00",
            "shipping_address": {"firstname": "An", "street": "Grote Markt", "number": "7", "zip": "2000",
                                 "city": "Antwerpen", "country_iso2": "BE", "email": "an@example.be", "phone": "+3231234567"},
            "items": [{"sku": sku, "amount": amount}]});
        if let Some(release) = release {
            order["release"] = json!(release);
        }
        self.call("createOrder", order).await["order_id"]
            .as_u64()
            .unwrap()
    }

    /// Reads the order until it ships (the sandbox ships at the third read).
    async fn ship(&mut self, id: u64) {
        for _ in 0..3 {
            self.call("getOrder", json!({"order_id": id})).await;
        }
    }

    /// `getStock` of one stock item: (`level`, `atp`).
    async fn stock(&mut self, sku: u64) -> (i64, i64) {
        let items = self.call("getStock", json!({"sku": sku})).await;
        (
            items[0]["level"].as_i64().unwrap(),
            items[0]["atp"].as_i64().unwrap(),
        )
    }
}

/// The first product stocked at ShopWeDo only.
fn at_shopwedo(sb: &Sandbox) -> Product {
    sb.catalogue()
        .into_iter()
        .find(|p| p.at_shopwedo && !p.at_customer_api)
        .unwrap()
}

fn quiet() -> Config {
    Config {
        orders: 0,
        cancellation_requests: 0.0,
        ..Config::default()
    }
}

fn level_and_available(sb: &Sandbox, provider: &str, ean: &str) -> (i64, i64) {
    let s = sb.stock(provider, ean).unwrap();
    (s.level, s.available)
}

#[tokio::test(start_paused = true)]
async fn shopwedo_reserves_released_orders_in_atp_and_ships_them_off_the_shelf() {
    let sb = start(quiet()).await.unwrap();
    let p = at_shopwedo(&sb);
    sb.set_stock("shopwedo", &p.ean, 10).unwrap();
    let mut swd = Shopwedo::new(&sb);
    assert_eq!(swd.stock(p.shopwedo_sku).await, (10, 10));
    let released = swd.create("R-1", p.shopwedo_sku, 2, Some(true)).await;
    assert_eq!(swd.stock(p.shopwedo_sku).await, (10, 8), "reserved in atp");
    // Not released: not reserved (the document subtracts released orders only).
    let held = swd.create("R-2", p.shopwedo_sku, 1, None).await;
    assert_eq!(swd.stock(p.shopwedo_sku).await, (10, 8));
    assert_eq!(sb.stock("shopwedo", &p.ean).unwrap().unshipped, 3);
    swd.ship(released).await;
    assert_eq!(swd.stock(p.shopwedo_sku).await, (8, 8), "shipped: off the shelf");
    // Cancelled before it ships: its units were never taken.
    swd.call("cancelOrder", json!({"order_id": held})).await;
    swd.ship(held).await;
    assert_eq!(swd.stock(p.shopwedo_sku).await, (8, 8));
    assert_eq!(sb.stock("shopwedo", &p.ean).unwrap().unshipped, 0);
}

#[tokio::test(start_paused = true)]
async fn shopwedo_on_shelf_with_a_warning_level() {
    let sb = start(Config {
        shopwedo_reserves: false,
        shopwedo_warning_level: 1,
        ..quiet()
    })
    .await
    .unwrap();
    let p = at_shopwedo(&sb);
    sb.set_stock("shopwedo", &p.ean, 10).unwrap();
    let mut swd = Shopwedo::new(&sb);
    let id = swd.create("S-1", p.shopwedo_sku, 2, Some(true)).await;
    assert_eq!(
        swd.stock(p.shopwedo_sku).await,
        (10, 9),
        "atp drops only at shipping"
    );
    swd.ship(id).await;
    assert_eq!(swd.stock(p.shopwedo_sku).await, (8, 7));
    assert_eq!(level_and_available(&sb, "shopwedo", &p.ean), (8, 7));
}

/// A Customer API order of `quantity` units of `code`, read until it ships.
async fn customer_order(sb: &Sandbox, reference: &str, code: &str, quantity: i64) -> impl AsyncFnMut() {
    let base = format!("{}/api/customer", sb.base_urls().customer);
    let c = reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let gunzip = |bytes: &[u8]| -> Value {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let token = c
        .post(format!("{base}/oauth/access-token"))
        .header("accept-encoding", "gzip")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CUSTOMER_API_CLIENT_ID),
            ("client_secret", CUSTOMER_API_CLIENT_SECRET),
            ("scope", "all"),
        ])
        .send()
        .await
        .unwrap();
    let token = gunzip(&token.bytes().await.unwrap());
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let created = c
        .post(format!("{base}/orders"))
        .header("accept-encoding", "gzip")
        .header("authorization", &bearer)
        .json(&json!({"reference": reference, "items": [{"code": code, "quantity": quantity}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = gunzip(&created.bytes().await.unwrap())["id"].as_u64().unwrap();
    async move || {
        for _ in 0..3 {
            c.get(format!("{base}/orders/{id}"))
                .header("accept-encoding", "gzip")
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn the_customer_api_on_shelf_and_reserving() {
    for (reserves, after_order) in [(false, 500), (true, 498)] {
        let sb = start(Config {
            customer_reserves: reserves,
            ..quiet()
        })
        .await
        .unwrap();
        let p = sb
            .catalogue()
            .into_iter()
            .find(|p| p.at_customer_api && !p.at_shopwedo)
            .unwrap();
        let mut ship = customer_order(&sb, "C-1", &p.ean, 2).await;
        assert_eq!(
            level_and_available(&sb, "customer", &p.ean),
            (500, after_order),
            "reserves: {reserves}"
        );
        ship().await;
        assert_eq!(
            level_and_available(&sb, "customer-api", &p.ean),
            (498, 498),
            "reserves: {reserves}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_truly_free_units_on_a_hand_built_case() {
    let sb = start(Config {
        shopwedo_warning_level: 2,
        ..quiet()
    })
    .await
    .unwrap();
    let p = at_shopwedo(&sb);
    sb.set_stock("shopwedo", &p.ean, 10).unwrap();
    let offer = |sb: &Sandbox| sb.offers().into_iter().find(|o| o.ean == p.ean).unwrap();
    assert_eq!(offer(&sb).free, 10 - 2);
    // Two bol orders: 3 units, then 1.
    let first = sb.place_order(&p.ean, 3).unwrap();
    sb.place_order(&p.ean, 1).unwrap();
    let o = offer(&sb);
    assert_eq!((o.open, o.waiting, o.free), (4, 4, 10 - 2 - 4));
    // The first handed over to ShopWeDo (its external id names the bol order).
    let mut swd = Shopwedo::new(&sb);
    let id = swd
        .create(&format!("bol:{first}"), p.shopwedo_sku, 3, Some(true))
        .await;
    let o = offer(&sb);
    assert_eq!((o.open, o.waiting, o.free), (4, 1, 10 - 2 - 3 - 1));
    assert_eq!(
        o.warehouses[0],
        WarehouseStock {
            provider: "shopwedo".into(),
            level: 10,
            available: 10 - 2 - 3,
            warning_level: 2,
            unshipped: 3,
        }
    );
    // Shipped at the warehouse, not yet confirmed on bol: still open there, off the shelf.
    swd.ship(id).await;
    let o = offer(&sb);
    assert_eq!((o.open, o.waiting, o.free), (4, 1, 7 - 2 - 1));
    assert_eq!((o.warehouses[0].level, o.warehouses[0].unshipped), (7, 0));
    // The warehouse sells elsewhere: below what is promised, free goes negative.
    sb.set_stock("shopwedo", &p.ean, 2).unwrap();
    assert_eq!(offer(&sb).free, 2 - 2 - 1);
    // A sale bol takes now is oversold.
    let stock = sb.report().stock;
    sb.place_order(&p.ean, 1).unwrap();
    assert_eq!(sb.report().stock.oversold, stock.oversold + 1);
    // The table shows it.
    let table = sb.report().offers_table();
    assert!(table.contains(&p.ean) && table.contains("shopwedo 2/"), "{table}");
    assert!(table.contains("(no warehouse)"), "{table}");
}

#[tokio::test]
async fn after_a_stock_pass_by_hand_every_offer_sells_by_the_arithmetic() {
    let sb = start(Config {
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let c = reqwest::Client::new();
    let bearer = support::bol_bearer(&c, &sb).await;
    let base = sb.base_urls().bol;
    // A pass: every FBR offer the retailer manages gets clamp(free, 0, 999).
    let mut pids = Vec::new();
    for o in sb.offers().iter().filter(|o| !o.fbb && o.managed_by_retailer) {
        let process: Value = c
            .put(format!("{base}/retailer/offers/{}/stock", o.offer_id))
            .header("authorization", &bearer)
            .header("accept", support::BOL_V10)
            .header("content-type", support::BOL_V10)
            .body(json!({"amount": o.free.clamp(0, 999), "managedByRetailer": true}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pids.push(json!({"processStatusId": process["processStatusId"]}));
    }
    let done: Value = c
        .post(format!("{base}/shared/process-status"))
        .header("authorization", &bearer)
        .header("accept", support::BOL_V10)
        .header("content-type", support::BOL_V10)
        .body(json!({"processStatusQueries": pids}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        done["processStatuses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "SUCCESS"),
        "{done}"
    );
    let report = sb.report();
    for o in report.offers.iter().filter(|o| !o.fbb && o.managed_by_retailer) {
        assert_eq!(o.corrected, o.free.clamp(0, 999), "{o:?}");
    }
    // The seeded orders are open and handed over nowhere: they came off.
    assert!(report.offers.iter().any(|o| o.waiting > 0 && o.free < 500));
    assert_eq!(report.total_violations(), 0, "{:#?}", report.providers);
}

#[tokio::test(start_paused = true)]
async fn warehouse_stock_drifts_on_the_sandboxs_clock() {
    let run = || async {
        let sb = start(Config {
            stock_drift: Some(Duration::from_secs(30)),
            ..quiet()
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(30 * 40 + 1)).await;
        sb.offers()
    };
    let drifted = run().await;
    let still = start(quiet()).await.unwrap().offers();
    let changed = drifted
        .iter()
        .zip(&still)
        .filter(|(a, b)| a.warehouses != b.warehouses)
        .count();
    assert!(changed > 0, "{drifted:#?}");
    assert!(drifted.iter().flat_map(|o| &o.warehouses).all(|w| w.level >= 0));
    assert_eq!(run().await, drifted, "the same seed drifts the same way");
}

#[tokio::test]
async fn stock_of_what_the_sandbox_does_not_have() {
    let sb = start(quiet()).await.unwrap();
    let nowhere = sb.offers().into_iter().find(|o| o.warehouses.is_empty()).unwrap();
    assert_eq!(sb.stock("shopwedo", &nowhere.ean), None);
    assert_eq!(sb.stock("customer", &nowhere.ean), None);
    let err = sb.set_stock("warehouse-x", &nowhere.ean, 5).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no stock of EAN {} at `warehouse-x` (warehouses: shopwedo, customer)",
            nowhere.ean
        )
    );
    assert!(sb.set_stock("shopwedo", "0000000000000", 5).is_err());
    // Stocked from now on.
    sb.set_stock("customer", &nowhere.ean, 5).unwrap();
    assert_eq!(sb.stock("customer", &nowhere.ean).unwrap().available, 5);
}
