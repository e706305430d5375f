//! The sandbox's bol answers against bol's own description of the Retailer API v10
//! (`../shared/specs/bol-retailer-v10.openapi.json`, kept beside the project): every field
//! the sandbox sends is one bol describes, with the type and the values bol gives, and
//! every field bol marks required is there. So the sandbox cannot invent a shape our client
//! then learns to expect.

use crate::support;

use std::path::PathBuf;

use commerce_sandbox::*;
use serde_json::Value;

pub(crate) fn spec() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs/bol-retailer-v10.openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A schema with its `$ref` followed.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Every way `value` departs from `schema`, as `path: what`.
pub(crate) fn check(spec: &Value, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {options:?}"));
    }
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(if schema.get("properties").is_some() {
            "object"
        } else {
            ""
        });
    let fits = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !fits {
        problems.push(format!("{path}: {value} is not a {kind}"));
        return;
    }
    if kind == "string"
        && schema.get("format").and_then(Value::as_str) == Some("date-time")
        && chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or_default()).is_err()
    {
        problems.push(format!("{path}: {value} is not a date-time"));
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(spec, items, v, &format!("{path}[{i}]"), problems);
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, v) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(s) => check(spec, s, v, &format!("{path}.{key}"), problems),
                None => problems.push(format!("{path}.{key}: bol does not describe this field")),
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                problems.push(format!("{path}.{required}: required by bol, missing"));
            }
        }
    }
}

pub(crate) fn schema_of(spec: &Value, path: &str, method: &str, status: &str) -> Value {
    spec["paths"][path][method]["responses"][status]["content"]["application/vnd.retailer.v10+json"]["schema"]
        .clone()
}

#[tokio::test]
async fn the_sandbox_answers_bol_calls_in_the_shapes_bol_describes() {
    let spec = spec();
    let sb = start(Config {
        orders: 12,
        ..Config::default()
    })
    .await
    .unwrap();
    let base = sb.base_urls().bol;
    let c = reqwest::Client::new();
    let bearer = support::bol_bearer(&c, &sb).await;
    let v10 = support::BOL_V10;
    let get = |url: String| {
        let c = c.clone();
        let bearer = bearer.clone();
        async move {
            c.get(url)
                .header("authorization", bearer)
                .header("accept", v10)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mut problems = Vec::new();
    let list = get(format!("{base}/retailer/orders?page=1")).await;
    check(
        &spec,
        &schema_of(&spec, "/retailer/orders", "get", "200"),
        &list,
        "GET /retailer/orders",
        &mut problems,
    );
    let ids: Vec<String> = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 12);
    let detail_schema = schema_of(&spec, "/retailer/orders/{order-id}", "get", "200");
    let mut with_phone = 0;
    let mut with_extension = 0;
    let mut pickup = 0;
    let mut first = Value::Null;
    for id in &ids {
        let order = get(format!("{base}/retailer/orders/{id}")).await;
        if first.is_null() {
            first = order.clone();
        }
        check(
            &spec,
            &detail_schema,
            &order,
            &format!("GET /retailer/orders/{id}"),
            &mut problems,
        );
        with_phone += usize::from(order["shipmentDetails"].get("deliveryPhoneNumber").is_some());
        with_extension += usize::from(order["shipmentDetails"].get("houseNumberExtension").is_some());
        if order["pickupPoint"] == true {
            pickup += 1;
            assert!(order["shipmentDetails"]["pickupPointName"].is_string(), "{order}");
        }
        assert!(
            order["shipmentDetails"]["email"]
                .as_str()
                .unwrap()
                .ends_with("@verkopen.bol.com"),
            "bol relays the buyer's e-mail: {order}"
        );
    }
    // As bol sends them: most orders carry no phone; some a house number extension.
    assert!(
        with_phone > 0 && with_phone * 2 < ids.len(),
        "{with_phone} of {}",
        ids.len()
    );
    assert!(with_extension > 0, "{with_extension}");
    assert!(pickup > 0, "some orders go to a pick-up point");
    // A shipment and its process status.
    let item = first["orderItems"][0]["orderItemId"].as_str().unwrap().to_owned();
    // A bol call with a JSON body, as bol's media type.
    let send = |request: reqwest::RequestBuilder, body: Value| {
        request
            .header("authorization", &bearer)
            .header("accept", v10)
            .header("content-type", v10)
            .body(body.to_string())
            .send()
    };
    let process: Value = send(
        c.post(format!("{base}/retailer/shipments")),
        serde_json::json!({"orderItems": [{"orderItemId": item}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    check(
        &spec,
        &schema_of(&spec, "/retailer/shipments", "post", "202"),
        &process,
        "POST /retailer/shipments",
        &mut problems,
    );
    // A buyer's cancellation request, accepted: the request, the cancellation's process
    // status and the lines afterwards, in bol's shapes.
    let order = &ids[1];
    let line = sb.bol_lines().into_iter().find(|l| &l.order_id == order).unwrap();
    sb.request_cancellation(order, &[&line.line_id]);
    let requested = get(format!("{base}/retailer/orders/{order}")).await;
    check(
        &spec,
        &detail_schema,
        &requested,
        "a requested cancellation",
        &mut problems,
    );
    assert_eq!(requested["orderItems"][0]["cancellationRequest"], true);
    // The buyer's cancellation of a line accepted (bol's one item per request).
    let cancel = |item: String| {
        send(
            c.put(format!("{base}/retailer/orders/cancellation")),
            serde_json::json!({"orderItems": [{"orderItemId": item, "reasonCode": "REQUESTED_BY_CUSTOMER"}]}),
        )
    };
    let accepted = cancel(line.line_id.clone()).await.unwrap();
    assert_eq!(accepted.status(), 202);
    check(
        &spec,
        &schema_of(&spec, "/retailer/orders/cancellation", "put", "202"),
        &accepted.json().await.unwrap(),
        "PUT /retailer/orders/cancellation",
        &mut problems,
    );
    let all = get(format!("{base}/retailer/orders?page=1&status=ALL")).await;
    check(
        &spec,
        &schema_of(&spec, "/retailer/orders", "get", "200"),
        &all,
        "GET /retailer/orders after a shipment and a cancellation",
        &mut problems,
    );
    let cancelled = sb
        .bol_lines()
        .into_iter()
        .find(|l| l.line_id == line.line_id)
        .unwrap();
    assert_eq!(
        (cancelled.cancelled, cancelled.cancellation_request),
        (line.quantity, false)
    );
    assert!(
        problems.is_empty(),
        "{} departures from bol's description:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(sb.report().total_violations(), 0, "{:#?}", sb.report());
    // Cancelling it again is a duplicate; cancelling for the buyer without their request
    // is refused.
    assert_eq!(cancel(line.line_id.clone()).await.unwrap().status(), 400);
    assert_eq!(sb.report().total_duplicates(), 1);
    let other = sb.bol_lines().into_iter().find(|l| l.order_id == ids[2]).unwrap();
    let unasked = cancel(other.line_id.clone()).await.unwrap();
    assert_eq!(unasked.status(), 400);
    assert_eq!(sb.report().total_violations(), 1);
}

#[tokio::test]
async fn shipping_labels_are_answered_in_the_shapes_bol_describes() {
    let spec = spec();
    let sb = start(Config::default()).await.unwrap();
    let base = sb.base_urls().bol;
    let c = reqwest::Client::new();
    let bearer = support::bol_bearer(&c, &sb).await;
    let v10 = support::BOL_V10;
    let send = |url: String, body: Value| {
        c.post(url)
            .header("authorization", &bearer)
            .header("accept", v10)
            .header("content-type", v10)
            .body(body.to_string())
            .send()
    };
    let line = sb.bol_lines().into_iter().next().unwrap();
    let items = serde_json::json!([{"orderItemId": line.line_id}]);
    let mut problems = Vec::new();
    let options: Value = send(
        format!("{base}/retailer/shipping-labels/delivery-options"),
        serde_json::json!({"orderItems": items}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    check(
        &spec,
        &schema_of(&spec, "/retailer/shipping-labels/delivery-options", "post", "200"),
        &options,
        "POST /retailer/shipping-labels/delivery-options",
        &mut problems,
    );
    let offer = options["deliveryOptions"][0]["shippingLabelOfferId"].clone();
    let started = send(
        format!("{base}/retailer/shipping-labels"),
        serde_json::json!({"orderItems": items, "shippingLabelOfferId": offer}),
    )
    .await
    .unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    check(
        &spec,
        &schema_of(&spec, "/retailer/shipping-labels", "post", "202"),
        &started,
        "POST /retailer/shipping-labels",
        &mut problems,
    );
    assert_eq!(started["eventType"], "CREATE_SHIPPING_LABEL");
    assert!(
        problems.is_empty(),
        "{} departures from bol's description:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(sb.report().total_violations(), 0, "{:#?}", sb.report());
}
