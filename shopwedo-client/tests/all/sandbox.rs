//! The new calls against the workspace's sandbox, which serves the same inferred shapes:
//! a return registered on bol for an order ShopWeDo shipped is announced once, found by
//! its RMA, not received until the warehouse has the goods, then received; the pick-up
//! points and retour settings read as the sandbox writes them.

use std::time::Duration;

use commerce_core::{Arrival, Fulfilment, FulfilmentState, ReturnNotice};
use commerce_sandbox::{
    Config, RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET, SHOPWEDO_SHOP_ID, SHOPWEDO_SHOP_KEY, start,
};
use serde_json::{Value, json};
use shopwedo_client::{Address, NewOrder, OrderItem, ShopWeDoClient, state_of};

const HOUR: Duration = Duration::from_secs(3600);

/// Confirms the shipment of every line of a bol order on the sandbox's bol, as a seller
/// would.
async fn ship_on_bol(sb: &commerce_sandbox::Sandbox, order_id: &str) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let urls = sb.base_urls();
    let token: Value = http
        .post(format!("{}?grant_type=client_credentials", urls.bol_token))
        .basic_auth(RETAILER_CLIENT_ID, Some(RETAILER_CLIENT_SECRET))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items: Vec<Value> = sb
        .bol_lines()
        .iter()
        .filter(|l| l.order_id == order_id)
        .map(|l| json!({"orderItemId": l.line_id}))
        .collect();
    let v10 = "application/vnd.retailer.v10+json";
    let answer = http
        .post(format!("{}/retailer/shipments", urls.bol))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("accept", v10)
        .header("content-type", v10)
        .body(json!({"orderItems": items, "transport": {"transporterCode": "TNT", "trackAndTrace": "3STEST123"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
}

#[tokio::test(start_paused = true)]
async fn a_return_is_announced_once_found_by_its_rma_and_received_only_when_the_goods_are_in() {
    let sb = start(Config {
        orders: 6,
        returns: 0.0,
        receive_after: 5 * HOUR,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let c = ShopWeDoClient::builder(SHOPWEDO_SHOP_ID, SHOPWEDO_SHOP_KEY.to_owned().into())
        .base_url(sb.base_urls().shopwedo)
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    // A bol order whose every line ShopWeDo stocks, handed over to ShopWeDo.
    let catalogue = sb.catalogue();
    let lines = sb.bol_lines();
    let product = |ean: &str| catalogue.iter().find(|p| p.ean == ean && p.at_shopwedo);
    let order_id = lines
        .iter()
        .map(|l| l.order_id.clone())
        .find(|o| {
            lines
                .iter()
                .filter(|l| &l.order_id == o)
                .all(|l| product(&l.ean).is_some())
        })
        .expect("a bol order ShopWeDo can ship");
    let lines: Vec<_> = lines.into_iter().filter(|l| l.order_id == order_id).collect();
    let swd_order = c
        .create_order(&NewOrder {
            external_order_id: order_id.clone(),
            created_at: chrono::Utc::now().naive_utc(),
            shipping_address: Address {
                firstname: Some("An".into()),
                lastname: Some("Peeters".into()),
                street: "Grote Markt".into(),
                number: "7".into(),
                zip: "2000".into(),
                city: "Antwerpen".into(),
                country_iso2: "BE".into(),
                email: "an@example.be".into(),
                phone: "+3231234567".into(),
                ..Default::default()
            },
            items: lines
                .iter()
                .map(|l| OrderItem {
                    sku: product(&l.ean).unwrap().shopwedo_sku,
                    amount: l.quantity as u32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let line = &lines[0];
    let notice = ReturnNotice {
        channel: "bol".into(),
        order_id: order_id.clone(),
        rma_id: String::new(),
        reference: swd_order.to_string(),
        ean: line.ean.clone(),
        quantity: 1,
        reason: Some("Te groot".into()),
    };
    // Not shipped yet: refused, nothing announced.
    let early = ReturnNotice {
        rma_id: "1".into(),
        ..notice.clone()
    };
    let err = c.announce_return(&early).await.unwrap_err();
    assert!(err.to_string().contains("is not shipped"), "{err}");
    let mut shipped = false;
    for _ in 0..5 {
        if state_of(&c.get_order(swd_order).await.unwrap()) == FulfilmentState::Shipped {
            shipped = true;
            break;
        }
    }
    assert!(shipped, "the sandbox ships after a few reads");
    ship_on_bol(&sb, &order_id).await;
    let rma = sb
        .register_return(&order_id, &line.line_id, 1)
        .expect("bol takes the return");
    let notice = ReturnNotice {
        rma_id: rma.clone(),
        ..notice
    };
    // The block is there and empty: no announcement yet.
    assert_eq!(c.find_announcement(&notice).await.unwrap(), None);
    let announced = c.announce_return(&notice).await.unwrap();
    assert!(announced.reference.is_some(), "the sandbox answers a retour id");
    let found = c.find_announcement(&notice).await.unwrap().unwrap();
    assert_eq!(found.reference, announced.reference);
    assert_eq!((found.sku.clone(), found.quantity), (announced.sku.clone(), 1));
    assert_eq!(c.return_arrival(&announced).await.unwrap(), Arrival::NotYet);
    tokio::time::sleep(5 * HOUR + Duration::from_secs(60)).await;
    match c.return_arrival(&announced).await.unwrap() {
        Arrival::Received {
            quantity,
            condition,
            at,
        } => {
            assert_eq!((quantity, condition), (1, None));
            assert!(at.is_some());
        }
        other => panic!("not received: {other:?}"),
    }
    // Found by its RMA alone, too.
    let by_rma = commerce_core::Announcement {
        reference: None,
        ..announced
    };
    assert!(matches!(
        c.return_arrival(&by_rma).await.unwrap(),
        Arrival::Received { quantity: 1, .. }
    ));
    let report = sb.report();
    assert_eq!(
        (report.returns.announced, report.returns.duplicate_announcements),
        (1, 0)
    );
    assert_eq!(report.total_duplicates(), 0);
    let shopwedo = &report.providers["shopwedo"];
    assert_eq!(shopwedo.violations, 0, "{:?}", shopwedo.violation_samples);
}

#[tokio::test(start_paused = true)]
async fn pick_up_points_and_retour_settings_read_as_the_sandbox_writes_them() {
    let sb = start(Config::default()).await.unwrap();
    let c = ShopWeDoClient::builder(SHOPWEDO_SHOP_ID, SHOPWEDO_SHOP_KEY.to_owned().into())
        .base_url(sb.base_urls().shopwedo)
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let nl = c.pudo("1012 AB", "NL").await.unwrap();
    assert!(nl.center.is_some(), "Dutch answers carry the centre");
    assert_eq!(nl.points.len(), 3);
    let postnl = nl
        .points
        .iter()
        .find(|p| p.carrier.as_deref() == Some("postnl"))
        .unwrap();
    let name = postnl.name.clone().unwrap();
    assert_eq!(nl.named(&name.to_uppercase()), Some(postnl));
    assert!(postnl.opening_hours.contains_key("monday"));
    let be = c.pudo("2000", "BE").await.unwrap();
    assert_eq!((be.center, be.points.len()), (None, 3), "a top-level list");
    assert!(
        be.points
            .iter()
            .all(|p| p.address.is_some() && p.latitude.is_some())
    );
    let settings = c.retour_settings(SHOPWEDO_SHOP_ID).await.unwrap();
    assert_eq!(settings.return_status, Some(true));
    assert_eq!(settings.return_day_amount, Some(30));
    assert_eq!(settings.return_reasons.len(), 3);
    let shopwedo = &sb.report().providers["shopwedo"];
    assert_eq!(shopwedo.violations, 0, "{:?}", shopwedo.violation_samples);
}
