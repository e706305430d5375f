//! bol's shipping labels on the sandbox, as bol's description has them: the real
//! `retailer-client` asks for delivery options, buys a label, waits for its process status
//! and fetches the PDF; raw requests show what bol refuses (an `Accept` without the PDF
//! media type, items bol does not know, an offer bol did not make).

use crate::support;

use std::time::Duration;

use commerce_sandbox::*;
use reqwest::StatusCode;
use retailer_client::models::{
    DeliveryOptionsRequest, DeliveryOptionsRequestOrderItem, ProcessState, ShippingLabelRequest,
};
use retailer_client::{GetOrdersParams, RetailerClient, WaitOptions};
use serde_json::{Value, json};

const PDF: &str = "application/vnd.retailer.v10+pdf";

fn client(sb: &Sandbox) -> RetailerClient {
    let b = sb.base_urls();
    RetailerClient::builder(RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET.into())
        .api_url(b.bol)
        .token_url(b.bol_token)
        .build()
        .unwrap()
}

fn items(ids: &[&str]) -> Vec<DeliveryOptionsRequestOrderItem> {
    ids.iter()
        .map(|id| DeliveryOptionsRequestOrderItem {
            order_item_id: (*id).to_owned(),
            quantity: None,
        })
        .collect()
}

/// The first open order item of the sandbox's orders.
async fn first_item(bol: &RetailerClient) -> String {
    let orders = bol.get_orders(&GetOrdersParams::default()).await.unwrap();
    orders.orders[0].order_items[0].order_item_id.clone()
}

#[tokio::test]
async fn delivery_options_a_label_its_process_status_and_the_pdf() {
    let sb = start(Config::default()).await.unwrap();
    let bol = client(&sb);
    let item = first_item(&bol).await;
    let options = bol
        .get_delivery_options(&DeliveryOptionsRequest {
            order_items: items(&[&item]),
        })
        .await
        .unwrap()
        .delivery_options;
    assert!(!options.is_empty());
    assert_eq!(options.iter().filter(|o| o.recommended).count(), 1, "{options:?}");
    let chosen = options.iter().find(|o| o.recommended).unwrap();
    let started = bol
        .post_shipping_label(&ShippingLabelRequest {
            order_items: items(&[&item]),
            shipping_label_offer_id: chosen.shipping_label_offer_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(started.status, ProcessState::Pending);
    assert_eq!(started.event_type.to_string(), "CREATE_SHIPPING_LABEL");
    let label_id = started.entity_id.clone().expect("the label's id");
    // Not there before its process status says so.
    let early = bol.get_shipping_label(&label_id).await.unwrap_err();
    assert_eq!(early.status(), Some(404), "{early:?}");
    let options_wait = WaitOptions {
        deadline: Duration::from_secs(10),
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..WaitOptions::default()
    };
    let done = bol.wait_for_process(&started, options_wait).await.unwrap();
    assert_eq!(done.status, ProcessState::Success, "{done:?}");
    assert_eq!(done.entity_id.as_deref(), Some(label_id.as_str()));
    let label = bol.get_shipping_label(&label_id).await.unwrap();
    assert!(
        label.pdf.starts_with(b"%PDF-"),
        "{:?}",
        &label.pdf[..16.min(label.pdf.len())]
    );
    assert!(label.pdf.ends_with(b"%%EOF\n"));
    assert_eq!(
        label.transporter_code.as_deref(),
        Some(chosen.transporter_code.as_str())
    );
    assert!(label.track_and_trace_code.is_some_and(|t| !t.is_empty()));
    let report = sb.report();
    let bol_report = &report.providers["bol"];
    assert_eq!(bol_report.violations, 0, "{:?}", bol_report.violation_samples);
    assert_eq!(bol_report.created.get("shipping labels"), Some(&1));
    assert_eq!(report.total_duplicates(), 0);
}

#[tokio::test]
async fn unknown_items_and_offers_are_refused_with_bols_problems() {
    let sb = start(Config::default()).await.unwrap();
    let bol = client(&sb);
    let unknown = bol
        .get_delivery_options(&DeliveryOptionsRequest {
            order_items: items(&["999"]),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404), "{unknown:?}");
    let item = first_item(&bol).await;
    let not_offered = bol
        .post_shipping_label(&ShippingLabelRequest {
            order_items: items(&[&item]),
            shipping_label_offer_id: "027b79fa-5743-40f0-94c7-0eac761af611".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_offered.status(), Some(400), "{not_offered:?}");
    let nobody = bol
        .get_shipping_label("6ff736b5-cdd0-4150-8c67-78269ee986f5")
        .await
        .unwrap_err();
    assert_eq!(nobody.status(), Some(404), "{nobody:?}");
    assert_eq!(sb.report().providers["bol"].violations, 2);
}

#[tokio::test]
async fn a_label_asked_for_with_another_media_type_is_refused_with_406() {
    let sb = start(Config::default()).await.unwrap();
    let bol = client(&sb);
    let item = first_item(&bol).await;
    let options = bol
        .get_delivery_options(&DeliveryOptionsRequest {
            order_items: items(&[&item]),
        })
        .await
        .unwrap()
        .delivery_options;
    let started = bol
        .post_shipping_label(&ShippingLabelRequest {
            order_items: items(&[&item]),
            shipping_label_offer_id: options[0].shipping_label_offer_id.clone(),
        })
        .await
        .unwrap();
    let fast = WaitOptions {
        deadline: Duration::from_secs(10),
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..WaitOptions::default()
    };
    let done = bol.wait_for_process(&started, fast).await.unwrap();
    let label_id = done.entity_id.unwrap();
    let c = reqwest::Client::new();
    let bearer = support::bol_bearer(&c, &sb).await;
    let url = format!("{}/retailer/shipping-labels/{label_id}", sb.base_urls().bol);
    let get = |accept: &'static str| {
        c.get(&url)
            .header("authorization", &bearer)
            .header("accept", accept)
            .send()
    };
    for wrong in [
        support::BOL_V10,
        "application/pdf",
        "*/*",
        "application/vnd.retailer.v10+pdf;q=0",
    ] {
        let refused = get(wrong).await.unwrap();
        assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE, "Accept {wrong}");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["status"], 406);
        assert_eq!(problem["type"], "https://api.bol.com/problems");
    }
    // Negotiated: the PDF among others is served as the PDF.
    let served = get("application/vnd.retailer.v10+json;q=0.9, application/vnd.retailer.v10+pdf")
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], PDF);
    assert!(served.headers().contains_key("x-track-and-trace-code"));
    // HEAD: the metadata without the label, as bol describes.
    let head = c
        .head(&url)
        .header("authorization", &bearer)
        .header("accept", PDF)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().contains_key("x-transporter-code"));
    assert!(head.bytes().await.unwrap().is_empty());
    // Delivery options are JSON: asking for them as a PDF is refused too.
    let wrong_way = c
        .post(format!(
            "{}/retailer/shipping-labels/delivery-options",
            sb.base_urls().bol
        ))
        .header("authorization", &bearer)
        .header("accept", PDF)
        .header("content-type", support::BOL_V10)
        .body(json!({"orderItems": [{"orderItemId": item}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_way.status(), StatusCode::NOT_ACCEPTABLE);
    // A shipment with the label leaves `transport` empty, as bol says: one with both is
    // refused, and the item stays unshipped.
    let both = c
        .post(format!("{}/retailer/shipments", sb.base_urls().bol))
        .header("authorization", &bearer)
        .header("accept", support::BOL_V10)
        .header("content-type", support::BOL_V10)
        .body(
            json!({
                "orderItems": [{"orderItemId": item}],
                "shippingLabelId": label_id,
                "transport": {"transporterCode": "TNT", "trackAndTrace": "3SXYZ"}
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    let problem: Value = both.json().await.unwrap();
    assert_eq!(problem["violations"][0]["name"], "transport", "{problem}");
    let report = sb.report();
    let refused_accepts = report.providers["bol"]
        .violation_samples
        .iter()
        .filter(|v| v.contains("with Accept"))
        .count();
    assert_eq!(
        refused_accepts, 5,
        "{:?}",
        report.providers["bol"].violation_samples
    );
}
