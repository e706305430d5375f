//! Pick-up points (`pudo`), returns (`createRetourAnnouncement`, `getRetourSettings`) and
//! ShopWeDo's side of the returns loop (`announce_return`, `find_announcement`,
//! `return_arrival` over `getOrder`'s inferred `retours` block): the exact method, the
//! signature, the `data` sent, input refused before sending, the answers read tolerantly.

use chrono::{TimeZone, Utc};
use commerce_core::{Announcement, Arrival, Fulfilment, ReturnNotice};
use commerce_testing::{Reply, ScriptedServer};
use httpmock::MockServer;
use serde_json::{Value, json};
use shopwedo_client::{Envelope, Retour, RetourAnnouncement, RetourItem, ShopWeDoClient, arrival_of};

use crate::wire::{SHOP_ID, Verified, client, fixture, method};

fn announcement() -> RetourAnnouncement {
    RetourAnnouncement {
        shop_id: Some(SHOP_ID),
        order_id: 90211,
        items: vec![RetourItem {
            sku: "124".into(),
            amount: 2,
            reason: "Te groot (bol RMA 86123452)".into(),
        }],
    }
}

/// A server that answers anything, to show nothing was sent.
async fn any_server() -> (MockServer, ShopWeDoClient) {
    let server = MockServer::start_async().await;
    let c = client(&server.url("/api"), Envelope::Form);
    (server, c)
}

async fn nothing_sent(server: &MockServer) {
    let any = server
        .mock_async(|_, then| {
            then.status(200).body("{}");
        })
        .await;
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn pudo_sends_zip_and_country_and_reads_points_beside_a_centre() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "pudo", 200, &fixture("pudo-nl.json"), &verified).await;
        let found = client(&server.url("/api"), envelope)
            .pudo(" 1012AB ", "nl")
            .await
            .unwrap();
        insta::assert_json_snapshot!(format!("pudo_data_{envelope:?}"), verified.data());
        let center = found.center.unwrap();
        assert_eq!((center.lat, center.lng), (Some(52.3731), Some(4.8925)));
        assert_eq!(found.points.len(), 3);
        let first = &found.points[0];
        assert_eq!(first.id.as_deref(), Some("POSTNL-1012AB-101"));
        assert_eq!(first.carrier.as_deref(), Some("postnl"));
        assert_eq!(first.longitude, Some(4.8914), "a number sent as text");
        let address = first.address.as_ref().unwrap();
        assert_eq!(address.country_iso2.as_deref(), Some("NL"));
        assert_eq!(
            first.opening_hours["monday"].close_afternoon.as_deref(),
            Some("18:00")
        );
        assert_eq!(first.opening_hours["sunday"].open_morning, None, "closed");
        assert!(found.points[1].opening_hours.is_empty(), "`false`: none");
        assert_eq!(
            found.points[1].address.as_ref().unwrap().number.as_deref(),
            Some("3")
        );
        assert_eq!(found.points[2].id.as_deref(), Some("103"));
    }
}

#[tokio::test]
async fn pudo_reads_a_top_level_list_and_leaves_out_what_is_not_a_point() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(&server, "pudo", 200, &fixture("pudo-be.json"), &verified).await;
    let found = client(&server.url("/api"), Envelope::Form)
        .pudo("2000", "BE")
        .await
        .unwrap();
    assert_eq!(
        verified.data(),
        json!({"address": {"zip": "2000", "country": "BE"}})
    );
    assert_eq!(found.center, None);
    let names: Vec<_> = found.points.iter().map(|p| p.name.clone().unwrap()).collect();
    assert_eq!(names, ["bpost Punt Antwerpen Centrum", "Kariboo! Antwerpen Zuid"]);
    assert_eq!(found.points[0].latitude, Some(51.2149));
    assert_eq!(found.points[0].opening_hours["saturday"].open_afternoon, None);
    assert_eq!(found.points[1].address, None);
    assert_eq!(found.points[1].latitude, None);
}

#[tokio::test]
async fn pudo_without_zip_or_with_a_bad_country_is_refused_before_sending() {
    let (server, c) = any_server().await;
    let err = c.pudo(" ", "NLD").await.unwrap_err();
    assert!(err.is_invalid_input());
    insta::assert_snapshot!("pudo_refused", err);
    let err = c.pudo("1012AB", "").await.unwrap_err();
    assert!(err.to_string().contains("address.country"), "{err}");
    let err = c.pickup_point_named("1012AB", "NL", " ").await.unwrap_err();
    assert!(err.is_invalid_input());
    nothing_sent(&server).await;
}

#[tokio::test]
async fn a_pick_up_point_is_found_by_its_name_only_when_one_point_has_it() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(&server, "pudo", 200, &fixture("pudo-nl.json"), &verified).await;
    let c = client(&server.url("/api"), Envelope::Form);
    // bol's `pickupPointName`, written another way: case, spaces and dashes do not count.
    let point = c
        .pickup_point_named("1012AB", "NL", "postnl punt  PRIMERA amsterdam")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(point.id.as_deref(), Some("POSTNL-1012AB-101"));
    assert_eq!(
        c.pickup_point_named("1012AB", "NL", "PostNL-punt Primera Breda")
            .await
            .unwrap(),
        None
    );
    // A name two points carry is no confident match.
    let mut points = c.pudo("1012AB", "NL").await.unwrap();
    points.points.push(points.points[0].clone());
    assert_eq!(points.named("PostNL-punt Primera Amsterdam"), None);
    assert_eq!(
        points.named("DPD Pickup Amsterdam").unwrap().id.as_deref(),
        Some("103")
    );
    assert_eq!(points.named(" - "), None, "a name without letters names nothing");
}

#[tokio::test]
async fn create_retour_announcement_in_both_envelopes() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(
            &server,
            "createRetourAnnouncement",
            201,
            &fixture("retour-created.json"),
            &verified,
        )
        .await;
        let receipt = client(&server.url("/api"), envelope)
            .create_retour_announcement(&announcement())
            .await
            .unwrap();
        assert_eq!(receipt.retour_id.as_deref(), Some("5501"));
        let data = verified.data();
        assert_eq!(
            data["items"][0]["sku"],
            json!(124),
            "a stock id goes as an integer"
        );
        insta::assert_json_snapshot!(format!("retour_data_{envelope:?}"), data);
    }
}

#[tokio::test]
async fn an_announcement_answer_is_read_tolerantly() {
    for (body, id) in [
        (r#"{"id": "R-9"}"#, Some("R-9")),
        (r#"{"retour_id": "5507", "id": 1}"#, Some("5507")),
        ("{}", None),
        ("true", None),
        (r#"{"success": true, "error": false}"#, None),
    ] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(&server, "createRetourAnnouncement", 200, body, &verified).await;
        let mut retour = announcement();
        retour.shop_id = None;
        retour.items[0].sku = "SKU-1".into();
        let receipt = client(&server.url("/api"), Envelope::Form)
            .create_retour_announcement(&retour)
            .await
            .unwrap();
        assert_eq!(receipt.retour_id.as_deref(), id, "{body}");
        let data = verified.data();
        assert_eq!(data.get("shop_id"), None, "left out when unknown");
        assert_eq!(data["items"][0]["sku"], "SKU-1", "a text sku goes as text");
    }
}

#[tokio::test]
async fn a_bad_announcement_is_refused_field_by_field_before_sending() {
    let (server, c) = any_server().await;
    let mut retour = announcement();
    retour.order_id = 0;
    retour.items.push(RetourItem {
        sku: " ".into(),
        amount: 0,
        reason: String::new(),
    });
    let err = c.create_retour_announcement(&retour).await.unwrap_err();
    assert!(err.is_invalid_input());
    insta::assert_snapshot!("retour_refused_before_sending", err);
    retour.items.clear();
    let err = c.create_retour_announcement(&retour).await.unwrap_err();
    assert!(
        err.to_string().contains("items: at least one item is required"),
        "{err}"
    );
    nothing_sent(&server).await;
}

#[tokio::test]
async fn shopwedo_refusing_an_announcement_keeps_its_code_and_fields() {
    let server = MockServer::start_async().await;
    let verified = Verified::default();
    method(
        &server,
        "createRetourAnnouncement",
        400,
        &fixture("retour-refused.json"),
        &verified,
    )
    .await;
    let err = client(&server.url("/api"), Envelope::Form)
        .create_retour_announcement(&announcement())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.provider_code(), Some("retour_invalid_data"));
    let fields: Vec<&str> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["items.0.amount"]);
    assert!(!err.is_unconfirmed());
    assert_eq!(verified.count(), 1);
    insta::assert_snapshot!("retour_refused_by_shopwedo", err);
}

#[tokio::test]
async fn an_announcement_is_never_re_sent_and_a_lost_or_odd_answer_is_unconfirmed() {
    let server = ScriptedServer::start(vec![Reply::Drop, Reply::json(201, r#"{"retour_id": 1}"#)]).await;
    let err = client(&format!("{}/api", server.url), Envelope::Form)
        .create_retour_announcement(&announcement())
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err:?}");
    assert_eq!(server.count(), 1, "sent once, never again");
    for body in [
        "<html>OK</html>",
        "",
        "false",
        "null",
        r#"{"retour_id": false}"#,
        r#"{"error": "retour_failed"}"#,
    ] {
        let server = ScriptedServer::start(vec![Reply::json(200, body)]).await;
        let err = client(&format!("{}/api", server.url), Envelope::Form)
            .create_retour_announcement(&announcement())
            .await
            .unwrap_err();
        assert!(err.is_unconfirmed(), "{body}: {err}");
        assert!(err.may_have_reached_server());
        assert_eq!(server.count(), 1, "{body}: never sent twice");
    }
}

#[tokio::test]
async fn retour_settings_are_read_with_their_loose_types() {
    for envelope in [Envelope::Form, Envelope::Json] {
        let server = MockServer::start_async().await;
        let verified = Verified::default();
        method(
            &server,
            "getRetourSettings",
            200,
            &fixture("retour-settings.json"),
            &verified,
        )
        .await;
        let settings = client(&server.url("/api"), envelope)
            .retour_settings(SHOP_ID)
            .await
            .unwrap();
        assert_eq!(verified.data(), json!({"shop_id": SHOP_ID}));
        assert_eq!(settings.shop_id, Some(SHOP_ID));
        assert_eq!(settings.return_status, Some(true), "1");
        assert_eq!(settings.return_day_amount, Some(30), "\"30\"");
        assert_eq!(settings.return_other_status, Some(true));
        let reasons: Vec<_> = settings
            .return_reasons
            .iter()
            .map(|r| r.best("fr").unwrap().to_owned())
            .collect();
        assert_eq!(
            reasons,
            ["Trop grand", "Too small", "Broken"],
            "a JSON text, read again"
        );
        assert_eq!(settings.color.as_deref(), Some("#0b6e4f"));
        assert_eq!(
            settings.confirmation_texts["en"],
            "Thank you, we have your return."
        );
        assert_eq!(settings.confirmation_texts.len(), 2);
    }
}

#[test]
fn retour_settings_in_other_shapes() {
    use shopwedo_client::RetourSettings;
    let listed = RetourSettings::from_answer(&json!([{
        "return_status": false, "return_day_amount": 14,
        "return_reasons": [{"en": "Too big"}, "Anders", 3, null]
    }]));
    assert_eq!(listed.return_status, Some(false));
    assert_eq!(listed.return_day_amount, Some(14));
    let reasons: Vec<_> = listed
        .return_reasons
        .iter()
        .map(|r| r.best("nl").unwrap())
        .collect();
    assert_eq!(reasons, ["Too big", "Anders"]);
    let wrapped = RetourSettings::from_answer(&json!({"settings": {"return_status": "0"}}));
    assert_eq!(wrapped.return_status, Some(false));
    let garbled =
        RetourSettings::from_answer(&json!({"return_reasons": "[not json", "return_day_amount": "soon"}));
    assert!(garbled.return_reasons.is_empty());
    assert_eq!(garbled.return_day_amount, None);
    assert_eq!(
        RetourSettings::from_answer(&json!("odd")),
        RetourSettings::default()
    );
}

#[tokio::test]
async fn retour_settings_of_shop_zero_are_refused_before_sending() {
    let (server, c) = any_server().await;
    assert!(c.retour_settings(0).await.unwrap_err().is_invalid_input());
    nothing_sent(&server).await;
}

fn notice() -> ReturnNotice {
    ReturnNotice {
        channel: "bol".into(),
        order_id: "1043946570".into(),
        rma_id: "86123452".into(),
        reference: "90211".into(),
        ean: "8712345678913".into(),
        quantity: 2,
        reason: Some("Te groot".into()),
    }
}

/// A server with `getOrder` answering `order`, `getStock` the stock fixture and
/// `createRetourAnnouncement` a retour id; the three recorders.
async fn shop(order: &str) -> (MockServer, Verified, Verified) {
    let server = MockServer::start_async().await;
    let (get, create) = (Verified::default(), Verified::default());
    method(&server, "getOrder", 200, order, &get).await;
    method(
        &server,
        "getStock",
        200,
        &fixture("stock.json"),
        &Verified::default(),
    )
    .await;
    method(
        &server,
        "createRetourAnnouncement",
        201,
        &fixture("retour-created.json"),
        &create,
    )
    .await;
    (server, get, create)
}

fn as_fulfilment(server: &MockServer) -> Box<dyn Fulfilment> {
    Box::new(client(&server.url("/api"), Envelope::Form))
}

#[tokio::test]
async fn announce_return_reads_the_order_and_sends_one_announcement_of_the_item() {
    let (server, get, create) = shop(&fixture("order-retours.json")).await;
    let announced = as_fulfilment(&server).announce_return(&notice()).await.unwrap();
    assert_eq!(get.data(), json!({"order_id": "90211"}));
    assert_eq!(create.count(), 1);
    insta::assert_json_snapshot!("announce_return_data", create.data());
    assert_eq!(announced.provider, "shopwedo");
    assert_eq!(announced.order_reference, "90211");
    assert_eq!(announced.rma_id, "86123452");
    assert_eq!(announced.reference.as_deref(), Some("5501"));
    assert_eq!(announced.sku.as_deref(), Some("124"));
    assert_eq!(announced.quantity, 2);
    // Without the buyer's reason the tag stands alone.
    let (server, _, create) = shop(&fixture("order-retours.json")).await;
    as_fulfilment(&server)
        .announce_return(&ReturnNotice {
            reason: None,
            quantity: 1,
            ..notice()
        })
        .await
        .unwrap();
    assert_eq!(create.data()["items"][0]["reason"], "(bol RMA 86123452)");
    assert_eq!(create.data()["items"][0]["amount"], 1);
}

#[tokio::test]
async fn announce_return_refuses_what_the_order_cannot_take_and_announces_nothing() {
    let shipped: Value = serde_json::from_str(&fixture("order-retours.json")).unwrap();
    let mut not_shipped = shipped.clone();
    not_shipped["status_string"] = json!("processing");
    not_shipped["shipping"] = json!(false);
    not_shipped["shipped_at"] = json!(false);
    let mut without_item = shipped.clone();
    without_item["items"] = json!([{"sku": 123, "amount": 1}]);
    let cases = [
        (not_shipped, notice(), "is not shipped (status `processing`)"),
        (
            without_item,
            notice(),
            "has no item of stock item 124 (barcode 8712345678913)",
        ),
        (
            shipped.clone(),
            ReturnNotice {
                ean: "0000000000000".into(),
                ..notice()
            },
            "no ShopWeDo stock item has the barcode 0000000000000",
        ),
        (
            shipped.clone(),
            ReturnNotice {
                quantity: 3,
                ..notice()
            },
            "3 units cannot come back: ShopWeDo order 90211 holds 2 of stock item 124",
        ),
    ];
    for (order, notice, why) in cases {
        let (server, _, create) = shop(&order.to_string()).await;
        let err = as_fulfilment(&server).announce_return(&notice).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains(why), "{err}");
        assert_eq!(create.count(), 0, "{why}: nothing announced");
    }
}

#[tokio::test]
async fn a_bad_return_notice_is_refused_before_anything_is_read() {
    let (server, c) = any_server().await;
    let c: Box<dyn Fulfilment> = Box::new(c);
    let bad = ReturnNotice {
        reference: "SWD-90211".into(),
        rma_id: " ".into(),
        ean: String::new(),
        quantity: 0,
        ..notice()
    };
    let err = c.announce_return(&bad).await.unwrap_err();
    assert!(err.is_invalid_input());
    insta::assert_snapshot!("return_notice_refused", err);
    let blank = ReturnNotice {
        reference: " ".into(),
        ..notice()
    };
    assert!(c.find_announcement(&blank).await.unwrap_err().is_invalid_input());
    let no_rma = ReturnNotice {
        rma_id: String::new(),
        ..notice()
    };
    assert!(c.find_announcement(&no_rma).await.unwrap_err().is_invalid_input());
    let nowhere = Announcement {
        provider: "shopwedo".into(),
        order_reference: "".into(),
        rma_id: "86123452".into(),
        reference: None,
        sku: None,
        quantity: 1,
        at: Utc::now(),
    };
    assert!(c.return_arrival(&nowhere).await.unwrap_err().is_invalid_input());
    nothing_sent(&server).await;
}

#[tokio::test]
async fn find_announcement_finds_the_retour_naming_the_rma_in_the_inferred_block() {
    let (server, get, create) = shop(&fixture("order-retours.json")).await;
    let c = as_fulfilment(&server);
    let found = c.find_announcement(&notice()).await.unwrap().unwrap();
    assert_eq!(get.data(), json!({"order_id": "90211"}));
    assert_eq!(found.reference.as_deref(), Some("5501"));
    assert_eq!((found.sku.as_deref(), found.quantity), (Some("124"), 2));
    // 10:00 in Antwerp in December is 09:00 UTC.
    assert_eq!(found.at, Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap());
    // RMA 8612345 is not RMA 86123452, nor the other way round.
    for rma in ["8612345", "861234520", "86123"] {
        let other = ReturnNotice {
            rma_id: rma.into(),
            ..notice()
        };
        assert_eq!(c.find_announcement(&other).await.unwrap(), None, "{rma}");
    }
    assert_eq!(create.count(), 0, "a look-up never announces");
}

#[tokio::test]
async fn without_the_block_a_look_up_cannot_tell_and_twice_named_is_for_a_person() {
    let (server, _, _) = shop(&fixture("order.json")).await;
    let err = as_fulfilment(&server)
        .find_announcement(&notice())
        .await
        .unwrap_err();
    assert!(matches!(err, commerce_core::Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("`bol RMA 86123452`"), "{err}");
    let mut twice: Value = serde_json::from_str(&fixture("order-retours.json")).unwrap();
    let first = twice["retours"][0].clone();
    twice["retours"].as_array_mut().unwrap().push(first);
    let (server, _, _) = shop(&twice.to_string()).await;
    let err = as_fulfilment(&server)
        .find_announcement(&notice())
        .await
        .unwrap_err();
    assert!(matches!(err, commerce_core::Error::Unsupported { .. }), "{err:?}");
    // `false` is no retour at all: found none.
    let mut none: Value = serde_json::from_str(&fixture("order-retours.json")).unwrap();
    none["retours"] = json!(false);
    let (server, _, _) = shop(&none.to_string()).await;
    assert_eq!(
        as_fulfilment(&server).find_announcement(&notice()).await.unwrap(),
        None
    );
}

fn announced(reference: Option<&str>, rma: &str) -> Announcement {
    Announcement {
        provider: "shopwedo".into(),
        order_reference: "90211".into(),
        rma_id: rma.into(),
        reference: reference.map(str::to_owned),
        sku: None,
        quantity: 1,
        at: Utc::now(),
    }
}

#[tokio::test]
async fn return_arrival_reads_the_retour_by_its_id_or_its_rma() {
    let (server, _, create) = shop(&fixture("order-retours.json")).await;
    let c = as_fulfilment(&server);
    assert_eq!(
        c.return_arrival(&announced(Some("5501"), "86123452"))
            .await
            .unwrap(),
        Arrival::NotYet
    );
    let received = Arrival::Received {
        quantity: 1,
        condition: Some("damaged".into()),
        // 14:02:11 in Antwerp in December.
        at: Some(Utc.with_ymd_and_hms(2026, 12, 8, 13, 2, 11).unwrap()),
    };
    assert_eq!(
        c.return_arrival(&announced(Some("5502"), "ignored when the id is known"))
            .await
            .unwrap(),
        received
    );
    assert_eq!(
        c.return_arrival(&announced(None, "86123460")).await.unwrap(),
        received
    );
    for a in [announced(Some("5599"), "86123452"), announced(None, "8612346")] {
        assert_eq!(c.return_arrival(&a).await.unwrap(), Arrival::Unknown, "{a:?}");
    }
    assert_eq!(create.count(), 0);
    let (server, _, _) = shop(&fixture("order.json")).await;
    assert_eq!(
        as_fulfilment(&server)
            .return_arrival(&announced(Some("5501"), "86123452"))
            .await
            .unwrap(),
        Arrival::Unknown,
        "no block: the answer does not tell"
    );
}

#[test]
fn only_an_explicit_received_counts_and_ok_is_no_remark() {
    let retour = |v: Value| -> Retour { serde_json::from_value(v).unwrap() };
    assert_eq!(
        arrival_of(&retour(
            json!({"amount": 2, "received": "yes?", "received_amount": 2})
        )),
        Arrival::NotYet
    );
    assert_eq!(arrival_of(&retour(json!({"amount": 2}))), Arrival::NotYet);
    assert_eq!(
        arrival_of(&retour(
            json!({"amount": 2, "received": 1, "condition": " OK ", "received_at": false})
        )),
        Arrival::Unknown,
        "no received amount: a person counts, never the announced one"
    );
    assert_eq!(
        arrival_of(&retour(
            json!({"received": true, "received_amount": 0, "condition": ""})
        )),
        Arrival::Received {
            quantity: 0,
            condition: None,
            at: None
        }
    );
    assert_eq!(
        arrival_of(&retour(json!({"received": true, "received_amount": "n/a"}))),
        Arrival::Unknown,
        "received, but how many cannot be told"
    );
    assert_eq!(
        arrival_of(&retour(
            json!({"received": true, "amount": 1, "received_amount": 1, "condition": "Doos open, product gebruikt"})
        )),
        Arrival::Received {
            quantity: 1,
            condition: Some("Doos open, product gebruikt".into()),
            at: None
        }
    );
}

#[test]
fn the_retours_block_absent_empty_false_or_odd() {
    let order = |v: Value| -> shopwedo_client::Order { serde_json::from_value(v).unwrap() };
    assert_eq!(order(json!({"order_id": 1})).retours, None);
    assert_eq!(order(json!({"retours": null})).retours, None);
    assert_eq!(order(json!({"retours": "x"})).retours, None);
    assert_eq!(order(json!({"retours": false})).retours, Some(vec![]));
    assert_eq!(order(json!({"retours": []})).retours, Some(vec![]));
    let one = order(json!({"retours": {"retour_id": 7, "reason": "(bol RMA 1)"}}))
        .retours
        .unwrap();
    assert_eq!(one.len(), 1);
    assert!(one[0].names_rma("bol", "1"));
    assert!(!one[0].names_rma("bol", ""));
    let listed = order(json!({"retours": [3, {"retour_id": "8"}]}))
        .retours
        .unwrap();
    assert_eq!(listed.len(), 1, "an element that is not a retour is left out");
}
