//! bol.com Retailer API under `/bol`: tokens at `/bol/token` (a POST with no body,
//! `grant_type=client_credentials` in the query, HTTP Basic; a JWT with `exp`; a body, or
//! asking again while the last token is fresh, is a violation), the retailer media type
//! checked (406 / 415), Problem errors, per-endpoint limits with `X-RateLimit-*` and
//! `Retry-After`, and changes answered with `202` and a process status that moves from
//! `PENDING` to `SUCCESS`, read one by one or in bulk (`POST /shared/process-status`).
//! `/retailer-demo` and `/shared-demo` behave the same.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::world::{BolOrder, BolProcess, now_rfc3339};
use crate::{RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET, Shared, Window};

const P: &str = "bol";
const JSON: &str = "application/vnd.retailer.v10+json";
const CSV: &str = "application/vnd.retailer.v10+csv";
const PAGE: usize = 50;
/// Asking for a new token while the last one has more than this left is token abuse.
const FRESH: Duration = Duration::from_secs(60);

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/token", post(token))
        .route("/{root}/{*rest}", any(api))
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    problem_with(status, title, detail, &[])
}

/// A Problem with its violations (`name`, `reason`), as bol answers a request that breaks
/// the description.
fn problem_with(status: StatusCode, title: &str, detail: &str, violations: &[(String, String)]) -> Response {
    let mut body = json!({"type": "https://api.bol.com/problems", "title": title, "status": status.as_u16(),
                          "detail": detail, "host": "sandbox", "instance": "sandbox"});
    if !violations.is_empty() {
        body["violations"] = violations
            .iter()
            .map(|(name, reason)| json!({"name": name, "reason": reason}))
            .collect();
    }
    (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
}

fn answer(status: StatusCode, media: &str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, media.to_owned())], body).into_response()
}

/// bol documents the token request as a POST with no body:
/// `POST /token?grant_type=client_credentials`, HTTP Basic, `Accept: application/json`.
/// A body is a violation; a grant type sent in a form body instead of the query is still
/// served (after that violation), so a client that does so can be watched through the rest
/// of its calls rather than stopped at the door.
async fn token(State(s): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    s.hit(P, "POST /token");
    s.token_request(P);
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{RETAILER_CLIENT_ID}:{RETAILER_CLIENT_SECRET}"))
    );
    let basic_ok =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    if !basic_ok {
        s.violation(P, "token request without the client's HTTP Basic credentials");
        return crate::json(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Bad client credentials"}),
        );
    }
    if !body.is_empty() {
        s.violation(
            P,
            "token request with a body (bol documents a POST without one, grant_type in the query)",
        );
    }
    let grant_in = |text: &[u8]| {
        url::form_urlencoded::parse(text)
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned())
    };
    let grant = grant_in(uri.query().unwrap_or_default().as_bytes()).or_else(|| grant_in(&body));
    if grant.as_deref() != Some("client_credentials") {
        s.violation(
            P,
            "token request without grant_type=client_credentials in the query",
        );
        return crate::json(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}),
        );
    }
    if !headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
    {
        s.violation(P, "token request without Accept: application/json");
    }
    let lifetime = s.config.bol_token_lifetime;
    let now = Instant::now();
    let mut w = s.world();
    let fresh = w
        .bol_tokens
        .values()
        .any(|exp| exp.saturating_duration_since(now) > FRESH.min(lifetime / 2));
    let exp = chrono::Utc::now().timestamp() + lifetime.as_secs() as i64;
    w.tokens_issued += 1;
    let header_part = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":"{RETAILER_CLIENT_ID}","exp":{exp},"jti":"{}"}}"#,
        w.tokens_issued
    ));
    let jwt = format!(
        "{header_part}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(format!("sandbox-{}", fastrand::u64(..)))
    );
    w.bol_tokens.insert(jwt.clone(), now + lifetime);
    drop(w);
    if fresh {
        s.violation(P, "a new token was requested while the last one was still fresh");
    }
    crate::json(
        StatusCode::OK,
        json!({"access_token": jwt, "token_type": "Bearer", "expires_in": lifetime.as_secs(), "scope": "RETAILER"}),
    )
}

/// The limit of an endpoint: calls per second.
fn limit_of(endpoint: &str) -> usize {
    match endpoint {
        "GET /orders" => 10,
        "POST /shipments" => 10,
        // One call asks for up to 1000 statuses.
        "POST /process-status" => 5,
        _ => 20,
    }
}

/// The sandbox's limit of a bol endpoint in calls per sliding second, the endpoint named as
/// the report names it (`"POST /shipments"`, `"GET /orders/{id}"`; the demo roots share
/// it). The token endpoint is not limited: `None`. For benchmarks that compare a run with
/// the least time these limits allow.
pub fn bol_limit_per_second(endpoint: &str) -> Option<usize> {
    (endpoint != "POST /token").then(|| limit_of(endpoint))
}

/// The most ids bol takes in one bulk process-status request.
const BULK_LIMIT: usize = 1000;

fn endpoint_key(method: &Method, rest: &str) -> String {
    let segments: Vec<&str> = rest.split('/').collect();
    let shape: Vec<&str> = match segments.as_slice() {
        ["orders", id] if *id != "cancellation" => vec!["orders", "{id}"],
        ["process-status", _] => vec!["process-status", "{id}"],
        ["offers", "export", _] => vec!["offers", "export", "{id}"],
        other => other.to_vec(),
    };
    format!("{method} /{}", shape.join("/"))
}

/// Adds the endpoint's rate-limit headers to an answer.
fn with_limit(mut r: Response, limit: usize, remaining: usize) -> Response {
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1"));
    r
}

async fn api(
    State(s): State<Arc<Shared>>,
    Path((root, rest)): Path<(String, String)>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = match root.as_str() {
        "retailer" | "retailer-demo" => "retailer",
        "shared" | "shared-demo" => "shared",
        _ => return problem(StatusCode::NOT_FOUND, "Not Found", "No such API."),
    };
    let endpoint = endpoint_key(&method, &rest);
    s.hit(P, &endpoint);
    // Authentication.
    let token = crate::safeshop::bearer(&headers);
    let expiry = token.as_ref().and_then(|t| s.world().bol_tokens.get(t).copied());
    match expiry {
        None => {
            s.violation(P, format!("{endpoint} without a token bol issued"));
            return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized request");
        }
        Some(at) if Instant::now() >= at => {
            return problem(StatusCode::UNAUTHORIZED, "Expired JWT", "Expired JWT");
        }
        Some(_) => {}
    }
    // Media types.
    let wants_csv = endpoint == "GET /offers/export/{id}";
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let accepted = if wants_csv {
        accept.contains(CSV)
    } else {
        accept.contains(JSON)
    };
    if !accepted {
        s.violation(P, format!("{endpoint} with Accept `{accept}`"));
        return problem(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            &format!("Accept must be {}", if wants_csv { CSV } else { JSON }),
        );
    }
    if !body.is_empty() {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ct.starts_with(JSON) {
            s.violation(P, format!("{endpoint} with Content-Type `{ct}`"));
            return problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                &format!("Content-Type must be {JSON}"),
            );
        }
    }
    // The endpoint's rate limit.
    let limit = limit_of(&endpoint);
    let admitted = s
        .world()
        .bol_limits
        .entry(endpoint.clone())
        .or_insert_with(|| Window::new(limit, Duration::from_secs(1)))
        .admit(Instant::now());
    let remaining = match admitted {
        Ok(left) => left,
        Err(_) => {
            s.rate_limited(P);
            s.violation(P, format!("{endpoint} over {limit} per second"));
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Too many requests, retry later.",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&s.config.retry_after_secs.max(1).to_string()).expect("digits"),
            );
            r.headers_mut()
                .insert("x-ratelimit-limit", HeaderValue::from(limit));
            r.headers_mut()
                .insert("x-ratelimit-remaining", HeaderValue::from(0));
            r.headers_mut()
                .insert("x-ratelimit-reset", HeaderValue::from_static("1"));
            return r;
        }
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let r = match (api, method.as_str(), segments.as_slice()) {
        ("retailer", "GET", ["orders"]) => list_orders(&s, &q),
        ("retailer", "GET", ["orders", id]) => order_detail(&s, id),
        ("retailer", "POST", ["shipments"]) => create_shipment(&s, &body),
        ("retailer", "PUT", ["orders", "cancellation"]) => cancel_items(&s, &body),
        ("retailer", "POST", ["offers", "export"]) => {
            start_process(&s, "CREATE_OFFER_EXPORT", "report-1".into())
        }
        ("retailer", "GET", ["offers", "export", _]) => offers_csv(&s),
        ("shared", "GET", ["process-status", id]) => process_status(&s, id),
        ("shared", "POST", ["process-status"]) => process_statuses(&s, &body),
        _ => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("The sandbox does not serve {endpoint}"),
        ),
    };
    with_limit(r, limit, remaining)
}

fn open_items(o: &BolOrder) -> bool {
    o.items.iter().any(|i| i.open() > 0)
}

fn list_orders(s: &Shared, q: &HashMap<String, String>) -> Response {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let status = q.get("status").map(String::as_str).unwrap_or("OPEN");
    let method = q.get("fulfilment-method").map(String::as_str).unwrap_or("FBR");
    let w = s.world();
    let orders: Vec<Value> = w
        .bol_orders
        .iter()
        // Every seeded order is fulfilled by the retailer.
        .filter(|_| method != "FBB")
        .filter(|o| match status {
            "OPEN" => open_items(o),
            "SHIPPED" => !open_items(o),
            _ => true,
        })
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|o| {
            json!({"orderId": o.order_id, "orderPlacedDateTime": o.placed,
                   "orderItems": o.items.iter().map(|i| json!({"orderItemId": i.order_item_id, "ean": i.ean,
                       "fulfilmentMethod": "FBR", "fulfilmentStatus": if i.open() > 0 { "OPEN" } else { "HANDLED" },
                       "quantity": i.quantity, "quantityShipped": i.shipped, "quantityCancelled": i.cancelled,
                       "cancellationRequest": i.cancellation_request, "latestChangedDateTime": o.placed})).collect::<Vec<_>>()})
        })
        .collect();
    // An empty page is `{}`, without the list key.
    let body = if orders.is_empty() {
        json!({})
    } else {
        json!({"orders": orders})
    };
    answer(StatusCode::OK, JSON, body.to_string())
}

fn order_detail(s: &Shared, id: &str) -> Response {
    let mut w = s.world();
    let Some(o) = w.bol_orders.iter_mut().find(|o| o.order_id == id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("Order {id} not found."),
        );
    };
    o.read();
    let mut address = json!({"salutation": "UNKNOWN", "firstName": o.first_name, "surname": o.surname, "streetName": o.street,
        "houseNumber": o.house_number, "zipCode": o.zip, "city": o.city, "countryCode": o.country, "email": o.email,
        "language": if o.country == "BE" { "nl-BE" } else { "nl" }});
    // bol leaves out what it does not have, rather than sending null.
    if let Some(m) = address.as_object_mut() {
        if let Some(phone) = &o.phone {
            m.insert("deliveryPhoneNumber".into(), json!(phone));
        }
        if let Some(extension) = &o.house_number_extension {
            m.insert("houseNumberExtension".into(), json!(extension));
        }
    }
    let mut billing = address.clone();
    billing.as_object_mut().map(|m| m.remove("deliveryPhoneNumber"));
    billing.as_object_mut().map(|m| m.remove("language"));
    // A pick-up point order: the shipment details are the point's address and name; the
    // buyer's own address is the billing address.
    if let (Some((name, street, number)), Some(m)) = (&o.pickup, address.as_object_mut()) {
        m.insert("streetName".into(), json!(street));
        m.insert("houseNumber".into(), json!(number));
        m.remove("houseNumberExtension");
        m.insert("pickupPointName".into(), json!(name));
    }
    let body = json!({
        "orderId": o.order_id, "pickupPoint": o.pickup.is_some(), "orderPlacedDateTime": o.placed,
        "shipmentDetails": address, "billingDetails": billing,
        "orderItems": o.items.iter().map(|i| json!({
            "orderItemId": i.order_item_id, "cancellationRequest": i.cancellation_request, "quantity": i.quantity,
            "quantityShipped": i.shipped, "quantityCancelled": i.cancelled, "unitPrice": i.unit_price,
            "totalPrice": i.unit_price * i.quantity as f64, "commission": (i.unit_price * 0.1 * 100.0).round() / 100.0,
            "latestChangedDateTime": o.placed, "discounts": [],
            "fulfilment": {"method": "FBR", "distributionParty": "RETAILER", "timeFrameType": "REGULAR"},
            "offer": {"offerId": format!("offer-{}", i.ean), "reference": i.shop_sku},
            "product": {"ean": i.ean, "title": i.title}})).collect::<Vec<_>>()
    });
    answer(StatusCode::OK, JSON, body.to_string())
}

fn process_json(id: &str, p: &BolProcess, status: &str) -> Value {
    let mut answer = json!({"processStatusId": id, "entityId": p.entity_id, "eventType": p.event_type,
           "description": format!("Sandbox {} for {}", p.event_type, p.entity_id), "status": status,
           "createTimestamp": p.created,
           "links": [{"rel": "self", "href": format!("/shared/process-status/{id}")}]});
    // bol leaves out what it does not have, rather than sending null.
    if let (Some(m), Some(failure)) = (answer.as_object_mut(), &p.failure) {
        m.insert("errorMessage".into(), json!(failure));
    }
    answer
}

fn start_process(s: &Shared, event: &str, entity: String) -> Response {
    let mut w = s.world();
    let id = w.next_process.to_string();
    w.next_process += 1;
    let p = BolProcess {
        reads: 0,
        entity_id: entity,
        event_type: event.into(),
        created: now_rfc3339(),
        failure: None,
    };
    let body = process_json(&id, &p, "PENDING");
    w.bol_processes.insert(id, p);
    answer(StatusCode::ACCEPTED, JSON, body.to_string())
}

/// A read of a process status: each read brings it closer to `SUCCESS`.
fn read_process(p: &mut BolProcess, id: &str, after: u32) -> Value {
    p.reads += 1;
    let status = if p.reads >= after { "SUCCESS" } else { "PENDING" };
    process_json(id, p, status)
}

fn process_status(s: &Shared, id: &str) -> Response {
    let after = s.config.process_after_reads;
    let mut w = s.world();
    let Some(p) = w.bol_processes.get_mut(id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("Process status {id} not found."),
        );
    };
    let body = read_process(p, id, after);
    answer(StatusCode::OK, JSON, body.to_string())
}

/// `POST /shared/process-status`: `{"processStatusQueries": [{"processStatusId": ..}]}`, 1 to
/// 1000 ids (bol's `BulkProcessStatusRequest`), answered with `{"processStatuses": [..]}`
/// holding the statuses known, each read once, in the order asked; unknown ids (bol keeps
/// statuses only for a while) are left out.
fn process_statuses(s: &Shared, body: &[u8]) -> Response {
    let refuse = |detail: &str, violations: Vec<(String, String)>| {
        s.violation(P, format!("bulk process-status request: {detail}"));
        problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            detail,
            &violations,
        )
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return refuse("the body is not JSON", Vec::new());
    };
    let Some(queries) = request.get("processStatusQueries").and_then(Value::as_array) else {
        return refuse(
            "processStatusQueries is required",
            vec![("processStatusQueries".into(), "Must not be null.".into())],
        );
    };
    if queries.is_empty() || queries.len() > BULK_LIMIT {
        return refuse(
            &format!("{} process status ids, 1 to {BULK_LIMIT} allowed", queries.len()),
            vec![(
                "processStatusQueries".into(),
                format!("Size must be between 1 and {BULK_LIMIT}."),
            )],
        );
    }
    let mut ids: Vec<&str> = Vec::new();
    let mut bad = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        match q
            .get("processStatusId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        {
            Some(id) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            None => bad.push((
                format!("processStatusQueries[{i}].processStatusId"),
                "Must not be blank.".to_owned(),
            )),
        }
    }
    if !bad.is_empty() {
        return refuse("a query without a processStatusId", bad);
    }
    let after = s.config.process_after_reads;
    let mut w = s.world();
    let statuses: Vec<Value> = ids
        .iter()
        .filter_map(|id| w.bol_processes.get_mut(*id).map(|p| read_process(p, id, after)))
        .collect();
    drop(w);
    answer(
        StatusCode::OK,
        JSON,
        json!({"processStatuses": statuses}).to_string(),
    )
}

fn create_shipment(s: &Shared, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        s.violation(P, "shipment body is not JSON");
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "Malformed JSON");
    };
    let items = request["orderItems"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        s.violation(P, "shipment without order items");
        return problem(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            "orderItems must not be empty",
        );
    }
    let ids: Vec<String> = items
        .iter()
        .filter_map(|i| i["orderItemId"].as_str().map(str::to_owned))
        .collect();
    let mut w = s.world();
    let mut already = Vec::new();
    let mut unknown = Vec::new();
    let mut cancelled = Vec::new();
    for id in &ids {
        match w
            .bol_orders
            .iter()
            .flat_map(|o| o.items.iter())
            .find(|i| &i.order_item_id == id)
        {
            None => unknown.push(id.clone()),
            Some(i) if i.shipped >= i.quantity => already.push(id.clone()),
            Some(i) if i.open() <= 0 => cancelled.push(id.clone()),
            Some(_) => {}
        }
    }
    if !cancelled.is_empty() {
        drop(w);
        s.violation(P, format!("shipment for cancelled order items {cancelled:?}"));
        return problem(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            &format!("Order items {cancelled:?} are cancelled"),
        );
    }
    if !unknown.is_empty() {
        drop(w);
        s.violation(P, format!("shipment for unknown order items {unknown:?}"));
        return problem(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            &format!("Unknown order items {unknown:?}"),
        );
    }
    if !already.is_empty() {
        drop(w);
        s.duplicate(P, format!("order items {already:?} shipped again"));
        return problem(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            &format!("Order items {already:?} are already shipped"),
        );
    }
    for o in w.bol_orders.iter_mut() {
        for i in o.items.iter_mut() {
            if ids.contains(&i.order_item_id) {
                // Shipping declines the buyer's request, if there was one.
                i.shipped = i.quantity - i.cancelled;
                i.cancellation_request = false;
            }
        }
    }
    drop(w);
    s.created(P, "shipments");
    start_process(s, "CONFIRM_SHIPMENT", ids[0].clone())
}

/// bol's reason codes for a cancellation (`OrderItemCancellation.reasonCode`).
const REASON_CODES: [&str; 12] = [
    "OUT_OF_STOCK",
    "REQUESTED_BY_CUSTOMER",
    "BAD_CONDITION",
    "HIGHER_SHIPCOST",
    "INCORRECT_PRICE",
    "NOT_AVAIL_IN_TIME",
    "NO_BOL_GUARANTEE",
    "ORDERED_TWICE",
    "RETAIN_ITEM",
    "TECH_ISSUE",
    "UNFINDABLE_ITEM",
    "OTHER",
];

/// `PUT /retailer/orders/cancellation`: `{"orderItems": [{"orderItemId", "reasonCode"}]}`,
/// one item (bol's `maxItems: 1`). Refused: more than one item, an unknown item or reason, an item shipped, a buyer's
/// cancellation (`REQUESTED_BY_CUSTOMER`) the buyer did not ask for; an item cancelled
/// already is a duplicate.
fn cancel_items(s: &Shared, body: &[u8]) -> Response {
    let refuse = |detail: String, duplicate: bool| {
        if duplicate {
            s.duplicate(P, detail.clone());
        } else {
            s.violation(P, format!("cancellation: {detail}"));
        }
        problem(StatusCode::BAD_REQUEST, "Error validating request", &detail)
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return refuse("the body is not JSON".into(), false);
    };
    let items = request["orderItems"].as_array().cloned().unwrap_or_default();
    if items.len() != 1 {
        return refuse(
            format!("{} order items in one request; bol takes exactly 1", items.len()),
            false,
        );
    }
    let mut w = s.world();
    let mut wanted = Vec::new();
    for item in &items {
        let id = item["orderItemId"].as_str().unwrap_or_default().to_owned();
        let reason = item["reasonCode"].as_str().unwrap_or_default().to_owned();
        if !REASON_CODES.contains(&reason.as_str()) {
            drop(w);
            return refuse(
                format!("reasonCode `{reason}` of {id} is not one of bol's"),
                false,
            );
        }
        let found = w.bol_orders.iter().enumerate().find_map(|(o, order)| {
            order
                .items
                .iter()
                .position(|i| i.order_item_id == id)
                .map(|i| (o, i))
        });
        let Some((o, i)) = found else {
            drop(w);
            return refuse(format!("unknown order item {id}"), false);
        };
        let line = &w.bol_orders[o].items[i];
        if line.cancelled > 0 && line.open() <= 0 {
            drop(w);
            return refuse(format!("order item {id} cancelled again"), true);
        }
        if line.open() <= 0 {
            drop(w);
            return refuse(format!("order item {id} is shipped"), false);
        }
        if reason == "REQUESTED_BY_CUSTOMER" && !line.cancellation_request {
            drop(w);
            return refuse(
                format!("order item {id}: the buyer asked for no cancellation"),
                false,
            );
        }
        wanted.push((o, i));
    }
    for (o, i) in &wanted {
        let line = &mut w.bol_orders[*o].items[*i];
        line.cancelled += line.open();
        line.cancellation_request = false;
    }
    let entity = w.bol_orders[wanted[0].0].items[wanted[0].1].order_item_id.clone();
    drop(w);
    s.created(P, "cancellations");
    start_process(s, "CANCEL_ORDER", entity)
}

fn offers_csv(s: &Shared) -> Response {
    let w = s.world();
    let mut csv = String::from(
        "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,correctedStock\n",
    );
    for p in &w.products {
        let stock = if p.at_shopwedo {
            w.shopwedo_stock.get(&p.shopwedo_sku).copied().unwrap_or(0)
        } else {
            w.customer_stock.get(&p.ean).copied().unwrap_or(0)
        };
        csv.push_str(&format!(
            "offer-{},{},NEW,NEW,,{:.2},1-2d,{stock},false,FBR,2026-11-22 08:00:00.0,{},{stock}\n",
            p.ean,
            p.ean,
            p.price_cents as f64 / 100.0,
            p.shop_sku
        ));
    }
    answer(StatusCode::OK, CSV, csv)
}
