//! bol.com Retailer API under `/bol`: tokens at `/bol/token` (a POST with no body,
//! `grant_type=client_credentials` in the query, HTTP Basic; a JWT with `exp`; a body, or
//! asking again while the last token is fresh, is a violation), the retailer media type
//! checked (406 / 415), Problem errors, per-endpoint limits with `X-RateLimit-*` and
//! `Retry-After`, and changes answered with `202` and a process status that moves from
//! `PENDING` to `SUCCESS`, read one by one or in bulk (`POST /shared/process-status`).
//! Shipping labels as bol describes them: delivery options for open order items
//! (`POST /retailer/shipping-labels/delivery-options`, 404 for items bol does not know), a
//! label bought with one of their offer ids (`POST /retailer/shipping-labels`, 202 and a
//! `CREATE_SHIPPING_LABEL` process status whose `entityId` is the label's id), and the label
//! itself as `application/vnd.retailer.v10+pdf` once that process succeeded
//! (`GET`/`HEAD /retailer/shipping-labels/{id}`, with `X-Track-And-Trace-Code` and
//! `X-Transporter-Code`). Every endpoint negotiates its one documented media type: an
//! `Accept` that does not name it (or gives it `q=0`) is refused with 406.
//! bol's offers: `GET /retailer/offers/{id}` (`RetailerOffer`), the offers export
//! (`POST /retailer/offers/export`, a `CREATE_OFFER_EXPORT` process whose report is the
//! snapshot taken when it succeeds, `GET /retailer/offers/export/{id}` as CSV) and
//! `PUT /retailer/offers/{id}/stock`, validated as `UpdateOfferStockRequest` and applied
//! when its `UPDATE_OFFER_STOCK` process succeeds.
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

use crate::world::{BolLabel, BolLabelOffer, BolOrder, BolProcess, Effect, now_rfc3339};
use crate::{RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET, Shared, Window};

const P: &str = "bol";
const JSON: &str = "application/vnd.retailer.v10+json";
const CSV: &str = "application/vnd.retailer.v10+csv";
const PDF: &str = "application/vnd.retailer.v10+pdf";
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
        // A stock pass over many offers: one update or one read per offer.
        "PUT /offers/{id}/stock" | "GET /offers/{id}" => 25,
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
        ["offers", id] if *id != "export" => vec!["offers", "{id}"],
        ["offers", _, "stock"] => vec!["offers", "{id}", "stock"],
        ["shipping-labels", id] if *id != "delivery-options" => vec!["shipping-labels", "{id}"],
        ["returns", _] => vec!["returns", "{id}"],
        ["subscriptions", id] if *id != "signature-keys" => vec!["subscriptions", "{id}"],
        ["subscriptions", "test", _] => vec!["subscriptions", "test", "{id}"],
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
    // Media types: each endpoint produces the one bol documents for it.
    let produces = media_of(&endpoint);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !accepts(accept, produces) {
        s.violation(P, format!("{endpoint} with Accept `{accept}`"));
        return problem(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            &format!("Accept must be {produces}"),
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
        ("retailer", "POST", ["offers", "export"]) => request_export(&s, &body),
        ("retailer", "GET", ["offers", "export", id]) => offers_export(&s, id),
        ("retailer", "GET", ["offers", id]) if *id != "export" => get_offer(&s, id),
        ("retailer", "PUT", ["offers", id, "stock"]) => update_stock(&s, id, &body),
        ("retailer", "POST", ["shipping-labels", "delivery-options"]) => delivery_options(&s, &body),
        ("retailer", "POST", ["shipping-labels"]) => create_label(&s, &body),
        ("retailer", "GET" | "HEAD", ["shipping-labels", id]) => shipping_label(&s, id),
        ("retailer", "GET", ["returns"]) => list_returns(&s, &q),
        ("retailer", "GET", ["returns", id]) => get_return(&s, id),
        ("retailer", "PUT", ["returns", id]) => handle_return(&s, id, &body),
        ("retailer", "GET", ["subscriptions"]) => list_subscriptions(&s),
        ("retailer", "POST", ["subscriptions"]) => create_subscription(&s, &body),
        ("retailer", "GET", ["subscriptions", "signature-keys"]) => signature_keys(&s),
        ("retailer", "POST", ["subscriptions", "test", id]) => test_subscription(&s, id),
        ("retailer", "GET", ["subscriptions", id]) => get_subscription(&s, id),
        ("retailer", "PUT", ["subscriptions", id]) => update_subscription(&s, id, &body),
        ("retailer", "DELETE", ["subscriptions", id]) => delete_subscription(&s, id),
        ("shared", "GET", ["process-status"]) => process_status_by_entity(&s, &q),
        ("shared", "GET", ["process-status", id]) => process_status(&s, id),
        ("shared", "POST", ["process-status"]) => process_statuses(&s, &body),
        _ => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("The sandbox does not serve {endpoint}"),
        ),
    };
    // A 429 of an endpoint's own limit (the signature keys' hourly one) keeps its headers.
    if r.status() == StatusCode::TOO_MANY_REQUESTS {
        return r;
    }
    with_limit(r, limit, remaining)
}

/// The one media type bol documents for an endpoint's answers.
fn media_of(endpoint: &str) -> &'static str {
    match endpoint {
        "GET /offers/export/{id}" => CSV,
        "GET /shipping-labels/{id}" | "HEAD /shipping-labels/{id}" => PDF,
        _ => JSON,
    }
}

/// Whether an `Accept` header admits `media` (RFC 9110 content negotiation): one of its
/// media ranges names it, case-insensitively, with a weight above 0. bol's media types are
/// its own and versioned, so the sandbox takes no wildcard for them (`*/*`,
/// `application/*`): a client must say which version it reads.
fn accepts(accept: &str, media: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
        name.eq_ignore_ascii_case(media) && weight.is_some_and(|q| q > 0.0)
    })
}

fn open_items(o: &BolOrder) -> bool {
    o.items.iter().any(|i| i.open() > 0)
}

/// A time as bol writes it: RFC 3339 in bol's zone (Europe/Amsterdam), to the second.
fn bol_time(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::world::amsterdam(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `GET /retailer/orders`: 50 a page (`page` from 1); `status` `OPEN` (default: orders with
/// a line neither shipped nor cancelled), `SHIPPED` (nothing open, something shipped) or
/// `ALL`; `fulfilment-method` `FBR` (default), `FBB` (the sandbox has none) or `ALL`; and
/// the order items' latest change (`latestChangedDateTime`: placed, shipped, cancelled, a
/// buyer's cancellation request): `change-interval-minute` (1 to 60: changed within that
/// many minutes before now) and `latest-change-date` (`yyyy-mm-dd`, a day in bol's zone, up
/// to 3 months back: changed that day), both when both are given. With a change filter, only
/// the items that pass it are listed, and orders without one are left out. Anything else
/// is a 400 Problem with its violation; `{}` past the end.
fn list_orders(s: &Shared, q: &HashMap<String, String>) -> Response {
    const WHAT: &str = "GET /orders";
    let page = match q.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return bad_parameter(s, WHAT, "page", "Must be a whole number of at least 1."),
    };
    let status = match q.get("status").map(String::as_str) {
        None => "OPEN",
        Some(st @ ("OPEN" | "SHIPPED" | "ALL")) => st,
        Some(other) => {
            return bad_parameter(
                s,
                WHAT,
                "status",
                &format!("Request contains invalid value(s): '{other}', allowed values: OPEN, SHIPPED, ALL."),
            );
        }
    };
    let method = match q.get("fulfilment-method").map(String::as_str) {
        None => "FBR",
        Some(m @ ("FBR" | "FBB" | "ALL")) => m,
        Some(other) => {
            return bad_parameter(
                s,
                WHAT,
                "fulfilment-method",
                &format!("Request contains invalid value(s): '{other}', allowed values: FBR, FBB, ALL."),
            );
        }
    };
    let now = s.now();
    let day_of = |t| crate::world::amsterdam(t).date_naive();
    let interval = match q.get("change-interval-minute").map(|m| m.parse::<i64>()) {
        None => None,
        Some(Ok(m)) if (1..=60).contains(&m) => Some(chrono::Duration::minutes(m)),
        Some(_) => {
            return bad_parameter(
                s,
                WHAT,
                "change-interval-minute",
                "Must be a whole number from 1 to 60.",
            );
        }
    };
    let day = match q.get("latest-change-date") {
        None => None,
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(day) if day >= day_of(now - chrono::Duration::days(92)) => Some(day),
            Ok(_) => {
                return bad_parameter(
                    s,
                    WHAT,
                    "latest-change-date",
                    "Up to 3 months of history is supported.",
                );
            }
            Err(_) => {
                return bad_parameter(
                    s,
                    WHAT,
                    "latest-change-date",
                    &format!("Request contains invalid value(s): '{d}', a date (yyyy-mm-dd) is expected."),
                );
            }
        },
    };
    let passes = |i: &crate::world::BolItem| {
        // No upper bound: the sandbox's time of day jitters by microseconds between reads.
        interval.is_none_or(|m| i.changed > now - m) && day.is_none_or(|d| day_of(i.changed) == d)
    };
    let w = s.world();
    let orders: Vec<Value> = w
        .bol_orders
        .iter()
        // Every order of the sandbox is fulfilled by the retailer.
        .filter(|_| method != "FBB")
        .filter(|o| match status {
            "OPEN" => open_items(o),
            "SHIPPED" => !open_items(o) && o.items.iter().any(|i| i.shipped > 0),
            _ => true,
        })
        .filter_map(|o| {
            let items: Vec<Value> = o
                .items
                .iter()
                .filter(|i| passes(i))
                .map(|i| {
                    json!({"orderItemId": i.order_item_id, "ean": i.ean,
                       "fulfilmentMethod": "FBR", "fulfilmentStatus": if i.open() > 0 { "OPEN" } else { "HANDLED" },
                       "quantity": i.quantity, "quantityShipped": i.shipped, "quantityCancelled": i.cancelled,
                       "cancellationRequest": i.cancellation_request, "latestChangedDateTime": bol_time(i.changed)})
                })
                .collect();
            (!items.is_empty())
                .then(|| json!({"orderId": o.order_id, "orderPlacedDateTime": o.placed, "orderItems": items}))
        })
        .skip((page - 1) * PAGE)
        .take(PAGE)
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
    let asked = o.read();
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
            "latestChangedDateTime": bol_time(i.changed), "discounts": [],
            "fulfilment": {"method": "FBR", "distributionParty": "RETAILER", "timeFrameType": "REGULAR"},
            "offer": {"offerId": format!("offer-{}", i.ean), "reference": i.shop_sku},
            "product": {"ean": i.ean, "title": i.title}})).collect::<Vec<_>>()
    });
    if asked {
        let order = o.order_id.clone();
        w.push
            .raise("ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", Some(order));
    }
    answer(StatusCode::OK, JSON, body.to_string())
}

fn process_json(id: &str, p: &BolProcess, status: &str) -> Value {
    let mut answer = json!({"processStatusId": id, "entityId": p.entity_id, "eventType": p.event_type,
           "description": format!("Sandbox {} for {}", p.event_type, p.entity_id), "status": status,
           "createTimestamp": p.created,
           "links": [{"rel": "self", "href": format!("/shared/process-status/{id}")}]});
    // bol leaves out what it does not have, rather than sending null.
    if let (Some(m), Some(failure), "FAILURE") = (answer.as_object_mut(), &p.failure, status) {
        m.insert("errorMessage".into(), json!(failure));
    }
    answer
}

fn start_process(s: &Shared, event: &str, entity: String) -> Response {
    let mut w = s.world();
    let (_, r) = start_process_in(&mut w, event, entity);
    r
}

/// Starts a process that takes effect when it succeeds, or fails with `failure`.
fn start_process_with(
    w: &mut crate::world::World,
    event: &str,
    entity: String,
    effect: Option<Effect>,
    failure: Option<String>,
) -> Response {
    let (id, r) = start_process_in(w, event, entity);
    if let Some(p) = w.bol_processes.get_mut(&id) {
        p.effect = effect;
        p.failure = failure;
    }
    r
}

/// Starts a process in `w`: its id and the `202` that answers the change.
fn start_process_in(w: &mut crate::world::World, event: &str, entity: String) -> (String, Response) {
    let id = w.next_process.to_string();
    w.next_process += 1;
    let p = BolProcess {
        reads: 0,
        entity_id: entity,
        event_type: event.into(),
        created: now_rfc3339(),
        failure: None,
        effect: None,
        started: Instant::now(),
        told: false,
    };
    let body = process_json(&id, &p, "PENDING");
    w.bol_processes.insert(id.clone(), p);
    (id, answer(StatusCode::ACCEPTED, JSON, body.to_string()))
}

/// A process's status now: `PENDING` until read `after` times (or ended on its own), then
/// `SUCCESS`, or `FAILURE` for one that cannot succeed.
fn status_of(p: &BolProcess, after: u32) -> &'static str {
    match (p.reads >= after, &p.failure) {
        (false, _) => "PENDING",
        (true, None) => "SUCCESS",
        (true, Some(_)) => "FAILURE",
    }
}

/// A read of a process status: each read brings it closer to `SUCCESS` (or, for one that
/// cannot succeed, `FAILURE`). When it ends, its effect is applied and its end told to the
/// push subscribers. `None` for a process bol does not know.
fn read_process(s: &Shared, w: &mut crate::world::World, id: &str) -> Option<Value> {
    let p = w.bol_processes.get_mut(id)?;
    p.reads += 1;
    let body = process_json(id, p, status_of(p, s.config.process_after_reads));
    ended(s, w, id);
    Some(body)
}

/// A process that may have ended: its effect applied (on `SUCCESS`) and its end told
/// (`PROCESS_STATUS`), once.
fn ended(s: &Shared, w: &mut crate::world::World, id: &str) {
    let Some(p) = w.bol_processes.get_mut(id) else {
        return;
    };
    let status = status_of(p, s.config.process_after_reads);
    if status == "PENDING" {
        return;
    }
    let effect = if status == "SUCCESS" {
        p.effect.take()
    } else {
        None
    };
    let tell = !std::mem::replace(&mut p.told, true);
    if let Some(effect) = effect {
        apply(s, w, effect);
    }
    if tell {
        w.push.raise("PROCESS_STATUS", status, Some(id.to_owned()));
    }
}

/// With `Config::process_after`, the processes that ran that long end on their own, read
/// or not, as bol's do.
pub(crate) fn end_due_processes(s: &Shared, w: &mut crate::world::World) {
    let Some(after) = s.config.process_after else {
        return;
    };
    let reads = s.config.process_after_reads;
    let mut due: Vec<(u64, String)> = w
        .bol_processes
        .iter()
        .filter(|(_, p)| p.reads < reads && p.started.elapsed() >= after)
        .map(|(id, _)| (id.parse().unwrap_or(u64::MAX), id.clone()))
        .collect();
    due.sort();
    for (_, id) in due {
        if let Some(p) = w.bol_processes.get_mut(&id) {
            p.reads = reads;
        }
        ended(s, w, &id);
    }
}

/// Applies what a process did when it succeeded: bol processes a change, then it holds.
fn apply(s: &Shared, w: &mut crate::world::World, effect: Effect) {
    match effect {
        Effect::Stock {
            offer_id,
            amount,
            managed_by_retailer,
        } => w.apply_stock_update(&offer_id, amount, managed_by_retailer),
        Effect::Export { report_id } => {
            let csv = export_csv(s, w);
            w.bol_exports.insert(report_id, Some(csv));
        }
        Effect::HandleReturn {
            rma_id,
            handling_result,
            quantity,
        } => w.apply_handling(&rma_id, &handling_result, quantity, s.now()),
        Effect::Subscription(change) => {
            if w.push.apply(change) {
                s.push_wake.notify_one();
            }
        }
    }
}

/// bol processes handlings on its own time: by the next read of the returns, every
/// handling accepted before is processed (its status reads `SUCCESS` from then on).
fn settle_handlings(s: &Shared, w: &mut crate::world::World) {
    let after = s.config.process_after_reads;
    let mut pending: Vec<(u64, String)> = w
        .bol_processes
        .iter()
        .filter(|(_, p)| matches!(p.effect, Some(Effect::HandleReturn { .. })))
        .map(|(id, _)| (id.parse().unwrap_or(u64::MAX), id.clone()))
        .collect();
    pending.sort();
    for (_, id) in pending {
        let Some(p) = w.bol_processes.get_mut(&id) else {
            continue;
        };
        p.reads = p.reads.max(after);
        ended(s, w, &id);
    }
}

/// A 400 Problem for a query parameter that breaks the description.
fn bad_parameter(s: &Shared, endpoint: &str, name: &str, reason: &str) -> Response {
    s.violation(P, format!("{endpoint}: {name} {reason}"));
    problem_with(
        StatusCode::BAD_REQUEST,
        "Error validating request. Consult the bol.com API documentation for more information.",
        "Bad request",
        &[(name.to_owned(), reason.to_owned())],
    )
}

/// `GET /retailer/returns`: 50 a page (`page` from 1), `handled` (true: every item
/// handled; false: some item not), `fulfilment-method` (`FBR`, `FBB`: the sandbox's
/// returns are all FBR); unhandled (and unfiltered) ascending by registration, handled
/// descending; `{}` past the end.
fn list_returns(s: &Shared, q: &HashMap<String, String>) -> Response {
    const WHAT: &str = "GET /returns";
    let page = match q.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return bad_parameter(s, WHAT, "page", "Must be a whole number of at least 1."),
    };
    let handled = match q.get("handled").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return bad_parameter(
                s,
                WHAT,
                "handled",
                &format!("Request contains invalid value(s): '{other}', allowed values: true, false."),
            );
        }
    };
    let fbr = match q.get("fulfilment-method").map(String::as_str) {
        None | Some("FBR") => true,
        Some("FBB") => false,
        Some(other) => {
            return bad_parameter(
                s,
                WHAT,
                "fulfilment-method",
                &format!("Request contains invalid value(s): '{other}', allowed values: FBR, FBB."),
            );
        }
    };
    let mut w = s.world();
    settle_handlings(s, &mut w);
    let mut returns: Vec<&crate::returns::BolReturn> = w
        .returns
        .returns
        .iter()
        .filter(|_| fbr)
        .filter(|r| match handled {
            None => true,
            Some(true) => r.items.iter().all(|i| i.handled),
            Some(false) => r.items.iter().any(|i| !i.handled),
        })
        .collect();
    returns.sort_by_key(|r| r.registered);
    if handled == Some(true) {
        returns.reverse();
    }
    let page: Vec<Value> = returns
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(crate::returns::reduced_json)
        .collect();
    let body = if page.is_empty() {
        json!({})
    } else {
        json!({"returns": page})
    };
    answer(StatusCode::OK, JSON, body.to_string())
}

/// `GET /retailer/returns/{return-id}`: the return (`Return`), or a 404 Problem.
fn get_return(s: &Shared, id: &str) -> Response {
    let mut w = s.world();
    settle_handlings(s, &mut w);
    match w.returns.returns.iter().find(|r| r.return_id == id) {
        Some(r) => answer(
            StatusCode::OK,
            JSON,
            crate::returns::return_json(&w, r).to_string(),
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("Return {id} not found."),
        ),
    }
}

/// `PUT /retailer/returns/{rma-id}` (`ReturnRequest`): `handlingResult`, one of bol's six,
/// and `quantityReturned`, a whole number from 1 to 9999, both required; the RMA id an
/// integer of a return item bol has. Anything else is a 400 Problem with its violations
/// (bol documents no 404 here). Answered `202` with a `HANDLE_RETURN_ITEM` process status
/// (`entityId`: the RMA id), applied when it succeeds. A handling claiming the goods of an
/// RMA no warehouse received, a second handling of one RMA, and a quantity other than the
/// one received are served (bol would take them) and counted.
fn handle_return(s: &Shared, rma_id: &str, body: &[u8]) -> Response {
    let refuse = |detail: &str, violations: Vec<(String, String)>| {
        s.violation(P, format!("handle return {rma_id}: {detail}"));
        problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request. Consult the bol.com API documentation for more information.",
            detail,
            &violations,
        )
    };
    if rma_id.parse::<i64>().is_err() {
        return refuse(
            "rma-id is not a whole number",
            vec![(
                "rma-id".into(),
                format!("Request contains invalid value(s): '{rma_id}', a whole number is expected."),
            )],
        );
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return refuse("The body is not a JSON object.", Vec::new());
    };
    let mut bad = Vec::new();
    let result = match request.get("handlingResult") {
        None | Some(Value::Null) => {
            bad.push(("handlingResult".into(), "Must not be null.".into()));
            None
        }
        Some(Value::String(r)) if crate::returns::HANDLING_RESULTS.contains(&r.as_str()) => Some(r.clone()),
        Some(other) => {
            bad.push((
                "handlingResult".into(),
                format!(
                    "Request contains invalid value(s): '{}', allowed values: {}.",
                    other.as_str().map_or_else(|| other.to_string(), str::to_owned),
                    crate::returns::HANDLING_RESULTS.join(", ")
                ),
            ));
            None
        }
    };
    let quantity = match request.get("quantityReturned") {
        None | Some(Value::Null) => {
            bad.push(("quantityReturned".into(), "Must not be null.".into()));
            None
        }
        Some(v) => match v.as_i64() {
            Some(q) if (1..=9999).contains(&q) => Some(q),
            Some(_) => {
                bad.push(("quantityReturned".into(), "Must be between 1 and 9999.".into()));
                None
            }
            None => {
                bad.push((
                    "quantityReturned".into(),
                    format!("Request contains invalid value(s): '{v}', a whole number is expected."),
                ));
                None
            }
        },
    };
    let (Some(result), Some(quantity)) = (result, quantity) else {
        return refuse("Bad request", bad);
    };
    let mut w = s.world();
    let Some((r, i)) = w.returns.find(rma_id) else {
        drop(w);
        return refuse(
            &format!("Return item {rma_id} not found."),
            vec![(
                "rma-id".into(),
                format!("RMA {rma_id} is not one of the retailer's."),
            )],
        );
    };
    let received = w.returns.received_for(rma_id);
    let item = &mut w.returns.returns[r].items[i];
    let again = item.handlings > 0;
    item.handlings += 1;
    let counters = &mut w.returns.counters;
    let mut early = false;
    if again {
        counters.double_handled += 1;
    }
    if crate::returns::claims_goods(&result) {
        match received {
            None => {
                counters.handled_before_receipt += 1;
                early = true;
            }
            Some(units) if units != quantity => counters.wrong_quantity += 1,
            Some(_) => {}
        }
    }
    let r = start_process_with(
        &mut w,
        "HANDLE_RETURN_ITEM",
        rma_id.to_owned(),
        Some(Effect::HandleReturn {
            rma_id: rma_id.to_owned(),
            handling_result: result.clone(),
            quantity,
        }),
        None,
    );
    drop(w);
    if again {
        s.duplicate(P, format!("return item {rma_id} handled again ({result})"));
    }
    if early {
        s.violation(
            P,
            format!("return item {rma_id} handled {result} before its goods were received"),
        );
    }
    s.created(P, "return handlings");
    r
}

/// bol's process-status event types (`get-process-status-entity-id`'s `event-type`).
const EVENT_TYPES: [&str; 24] = [
    "CREATE_SHIPMENT",
    "CANCEL_ORDER",
    "CHANGE_TRANSPORT",
    "HANDLE_RETURN_ITEM",
    "CREATE_RETURN_ITEM",
    "CREATE_INBOUND",
    "DELETE_OFFER",
    "CREATE_OFFER",
    "UPDATE_OFFER",
    "UPDATE_OFFER_STOCK",
    "UPDATE_OFFER_PRICE",
    "CREATE_OFFER_EXPORT",
    "UNPUBLISHED_OFFER_REPORT",
    "CREATE_PRODUCT_CONTENT",
    "CREATE_SUBSCRIPTION",
    "UPDATE_SUBSCRIPTION",
    "DELETE_SUBSCRIPTION",
    "SEND_SUBSCRIPTION_TST_MSG",
    "CREATE_SHIPPING_LABEL",
    "CREATE_REPLENISHMENT",
    "UPDATE_REPLENISHMENT",
    "CANCEL_REPLENISHMENT",
    "CREATE_CAMPAIGN",
    "CONFIRM_SHIPMENT",
];

/// `GET /shared/process-status?entity-id=&event-type=&page=` (bol-shared,
/// `get-process-status-entity-id`): both parameters required, the event type one of bol's;
/// `{"processStatuses": [..]}` with the statuses of that entity and event, oldest first,
/// 50 a page, each read once.
fn process_status_by_entity(s: &Shared, q: &HashMap<String, String>) -> Response {
    const WHAT: &str = "GET /process-status";
    let Some(entity) = q.get("entity-id").filter(|e| !e.is_empty()) else {
        return bad_parameter(s, WHAT, "entity-id", "Must not be null.");
    };
    let event = match q.get("event-type") {
        Some(e) if EVENT_TYPES.contains(&e.as_str()) => e,
        Some(other) => {
            return bad_parameter(
                s,
                WHAT,
                "event-type",
                &format!("Request contains invalid value(s): '{other}'."),
            );
        }
        None => return bad_parameter(s, WHAT, "event-type", "Must not be null."),
    };
    let page = match q.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return bad_parameter(s, WHAT, "page", "Must be a whole number of at least 1."),
    };
    let mut w = s.world();
    let mut ids: Vec<(u64, String)> = w
        .bol_processes
        .iter()
        .filter(|(_, p)| &p.entity_id == entity && &p.event_type == event)
        .map(|(id, _)| (id.parse().unwrap_or(u64::MAX), id.clone()))
        .collect();
    ids.sort();
    let mut statuses = Vec::new();
    for (_, id) in ids.into_iter().skip((page - 1) * PAGE).take(PAGE) {
        if let Some(body) = read_process(s, &mut w, &id) {
            statuses.push(body);
        }
    }
    drop(w);
    answer(
        StatusCode::OK,
        JSON,
        json!({"processStatuses": statuses}).to_string(),
    )
}

fn process_status(s: &Shared, id: &str) -> Response {
    let mut w = s.world();
    let Some(body) = read_process(s, &mut w, id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("Process status {id} not found."),
        );
    };
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
    let mut w = s.world();
    let mut statuses: Vec<Value> = Vec::new();
    for id in &ids {
        if let Some(body) = read_process(s, &mut w, id) {
            statuses.push(body);
        }
    }
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
    // A label bought from bol ships the items it was bought for, once it is made.
    if let Some(label_id) = request.get("shippingLabelId").and_then(Value::as_str) {
        // bol: "If you purchased a shipping label you should add the shippingLabelId to this
        // message and leave the transport element empty."
        if request
            .get("transport")
            .is_some_and(|t| !t.is_null() && t.as_object().is_none_or(|o| !o.is_empty()))
        {
            drop(w);
            s.violation(
                P,
                format!("shipment with shipping label {label_id} and a transport"),
            );
            return problem_with(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                "A shipment with a shippingLabelId leaves the transport element empty",
                &[(
                    "transport".into(),
                    "Must be empty when a shippingLabelId is given.".into(),
                )],
            );
        }
        let after = s.config.process_after_reads;
        let fits = w.bol_labels.get(label_id).is_some_and(|l| {
            w.bol_processes
                .get(&l.process_id)
                .is_some_and(|p| p.reads >= after)
                && ids
                    .iter()
                    .all(|id| l.items.iter().any(|(labelled, _)| labelled == id))
        });
        if !fits {
            drop(w);
            s.violation(
                P,
                format!("shipment with shipping label {label_id}, not one made for {ids:?}"),
            );
            return problem_with(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                &format!("Shipping label {label_id} is not a label made for these order items"),
                &[(
                    "shippingLabelId".into(),
                    format!("Shipping label {label_id} is not known for these order items."),
                )],
            );
        }
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
    let now = crate::clock_at(Instant::now());
    for o in w.bol_orders.iter_mut() {
        for i in o.items.iter_mut() {
            if ids.contains(&i.order_item_id) {
                // Shipping declines the buyer's request, if there was one.
                i.shipped = i.quantity - i.cancelled;
                i.cancellation_request = false;
                i.shipped_at = Some(Instant::now());
                i.changed = now;
            }
        }
    }
    let shipment = w.push.new_shipment_id();
    w.push.raise("SHIPMENT", "UPDATE_TRANSPORT_EVENT", Some(shipment));
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
    let now = crate::clock_at(Instant::now());
    for (o, i) in &wanted {
        let line = &mut w.bol_orders[*o].items[*i];
        line.cancelled += line.open();
        line.cancellation_request = false;
        line.changed = now;
    }
    let entity = w.bol_orders[wanted[0].0].items[wanted[0].1].order_item_id.clone();
    drop(w);
    s.created(P, "cancellations");
    start_process(s, "CANCEL_ORDER", entity)
}

/// `POST /retailer/offers/export` (`CreateOfferExportRequest`, `{"format": "CSV"}`, the
/// only format bol lists): `202` and a `CREATE_OFFER_EXPORT` process status whose
/// `entityId` is the report id. The snapshot is taken when the process succeeds.
fn request_export(s: &Shared, body: &[u8]) -> Response {
    let format = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("format").and_then(Value::as_str).map(str::to_owned));
    if format.as_deref() != Some("CSV") {
        let reason = match format {
            None => "Must not be null.".to_owned(),
            Some(f) => format!("Request contains invalid value(s): '{f}', allowed values: CSV."),
        };
        s.violation(P, format!("offers export request: format {reason}"));
        return problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request. Consult the bol.com API documentation for more information.",
            "Bad request",
            &[("format".into(), reason)],
        );
    }
    let report_id = uuid_like();
    let mut w = s.world();
    w.bol_exports.insert(report_id.clone(), None);
    start_process_with(
        &mut w,
        "CREATE_OFFER_EXPORT",
        report_id.clone(),
        Some(Effect::Export { report_id }),
        None,
    )
}

/// The export's CSV now: every offer, the columns of bol's export (`correctedStock` last,
/// left out with `Config::export_without_stock_details`).
fn export_csv(s: &Shared, w: &crate::world::World) -> String {
    let details = !s.config.export_without_stock_details;
    let mut csv = String::from(
        "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode",
    );
    csv.push_str(if details { ",correctedStock\n" } else { "\n" });
    let corrected = w.corrected(&s.config);
    for (o, corrected) in w.offers.iter().zip(corrected) {
        csv.push_str(&format!(
            "{},{},NEW,NEW,,{:.2},{},{},false,{},{},{}",
            o.offer_id,
            o.ean,
            o.price_cents as f64 / 100.0,
            if o.fbb { "" } else { DELIVERY_CODE },
            o.amount,
            if o.fbb { "FBB" } else { "FBR" },
            o.updated_at,
            o.reference,
        ));
        if details {
            csv.push_str(&format!(",{corrected}"));
        }
        csv.push('\n');
    }
    csv
}

/// The delivery promise of the shop's FBR offers.
const DELIVERY_CODE: &str = "1-2d";

/// `GET /retailer/offers/export/{report-id}`: the CSV snapshot, once the export's process
/// succeeded; before that, or for a report bol did not make, a 404 Problem under the CSV
/// media type bol documents for it.
fn offers_export(s: &Shared, id: &str) -> Response {
    let csv = s.world().bol_exports.get(id).cloned().flatten();
    match csv {
        Some(csv) => answer(StatusCode::OK, CSV, csv),
        None => {
            let mut r = problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("Offer export {id} not found."),
            );
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV));
            r
        }
    }
}

/// An offer not known: bol's 404 Problem, with its violation.
fn unknown_offer(id: &str) -> Response {
    problem_with(
        StatusCode::NOT_FOUND,
        "Not Found",
        &format!("Offer {id} not found."),
        &[(
            "offer-id".into(),
            format!("Offer {id} is not one of the retailer's."),
        )],
    )
}

/// `GET /retailer/offers/{offer-id}`: bol's `RetailerOffer`, its stock with the amount
/// last applied, the corrected stock and the mode; not on sale anywhere while the
/// corrected stock is 0.
fn get_offer(s: &Shared, id: &str) -> Response {
    let w = s.world();
    let Some(&k) = w.offer_index.get(id) else {
        return unknown_offer(id);
    };
    let o = &w.offers[k];
    let corrected = w.corrected(&s.config)[k];
    let mut fulfilment = json!({"method": if o.fbb { "FBB" } else { "FBR" }});
    if !o.fbb {
        fulfilment["deliveryCode"] = json!(DELIVERY_CODE);
    }
    let visible: Vec<Value> = if corrected > 0 {
        vec![json!({"countryCode": "NL"}), json!({"countryCode": "BE"})]
    } else {
        Vec::new()
    };
    let body = json!({
        "offerId": o.offer_id, "ean": o.ean, "reference": o.reference, "onHoldByRetailer": false,
        "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": o.price_cents as f64 / 100.0}]},
        "stock": {"amount": o.amount, "correctedStock": corrected, "managedByRetailer": o.managed_by_retailer},
        "fulfilment": fulfilment,
        "store": {"productTitle": o.title, "visible": visible},
        "condition": {"name": "NEW", "category": "NEW"},
        "notPublishableReasons": []
    });
    answer(StatusCode::OK, JSON, body.to_string())
}

/// `PUT /retailer/offers/{offer-id}/stock` (`UpdateOfferStockRequest`): `amount`, an
/// integer from 0 to 999, and `managedByRetailer`, a boolean, both required; anything else
/// is a 400 Problem with bol's violations. Answered `202` with an `UPDATE_OFFER_STOCK`
/// process status (`entityId`: the offer id); the update is applied when that process
/// reaches `SUCCESS`. An offer bol does not know, or one bol fulfils (FBB: "this should
/// not be the FBB stock!"), makes the process end in `FAILURE`.
fn update_stock(s: &Shared, id: &str, body: &[u8]) -> Response {
    let request = serde_json::from_slice::<Value>(body).ok();
    let mut bad: Vec<(String, String)> = Vec::new();
    let amount = match request.as_ref().and_then(|r| r.get("amount")) {
        None | Some(Value::Null) => {
            bad.push(("amount".into(), "Must not be null.".into()));
            None
        }
        Some(v) => match v.as_i64() {
            Some(a) if (0..=999).contains(&a) => Some(a),
            Some(_) => {
                bad.push(("amount".into(), "Must be between 0 and 999.".into()));
                None
            }
            None => {
                bad.push((
                    "amount".into(),
                    format!("Request contains invalid value(s): '{v}', a whole number is expected."),
                ));
                None
            }
        },
    };
    let managed = match request.as_ref().and_then(|r| r.get("managedByRetailer")) {
        None | Some(Value::Null) => {
            bad.push(("managedByRetailer".into(), "Must not be null.".into()));
            None
        }
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            bad.push((
                "managedByRetailer".into(),
                format!("Request contains invalid value(s): '{v}', allowed values: true, false."),
            ));
            None
        }
    };
    let (Some(amount), Some(managed_by_retailer)) = (amount, managed) else {
        let detail = if request.is_none() {
            "The body is not a JSON object.".to_owned()
        } else {
            "Bad request".to_owned()
        };
        s.violation(
            P,
            format!(
                "stock update of {id}: {}",
                bad.iter()
                    .map(|(n, r)| format!("{n}: {r}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
        return problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request. Consult the bol.com API documentation for more information.",
            &detail,
            &bad,
        );
    };
    let mut w = s.world();
    let failure = match w.offer_index.get(id).map(|&k| w.offers[k].fbb) {
        None => Some(format!("Offer {id} not found.")),
        Some(true) => Some(format!(
            "Offer {id} is fulfilled by bol.com (FBB): its stock is not the retailer's to update."
        )),
        Some(false) => None,
    };
    let effect = failure.is_none().then(|| Effect::Stock {
        offer_id: id.to_owned(),
        amount,
        managed_by_retailer,
    });
    let r = start_process_with(
        &mut w,
        "UPDATE_OFFER_STOCK",
        id.to_owned(),
        effect,
        failure.clone(),
    );
    drop(w);
    if let Some(failure) = failure {
        s.violation(P, format!("stock update: {failure}"));
    }
    r
}

/// A bol-looking id for offers and labels (`6ff736b5-cdd0-4150-8c67-78269ee986f5`).
fn uuid_like() -> String {
    let hex = |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("a hex digit"))
            .collect::<String>()
    };
    format!("{}-{}-4{}-{}-{}", hex(8), hex(4), hex(3), hex(4), hex(12))
}

/// The order items of a delivery-options or shipping-label request as bol describes them
/// (`DeliveryOptionsRequestOrderItem`): at least one, each with a non-blank `orderItemId`
/// and, if given, a `quantity` of at least 1. Refused with bol's 400 Problem and its
/// violations otherwise.
fn label_items(s: &Shared, request: &Value, what: &str) -> Result<Vec<(String, Option<i64>)>, Response> {
    let refuse = |detail: &str, violations: Vec<(String, String)>| {
        s.violation(P, format!("{what}: {detail}"));
        problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            detail,
            &violations,
        )
    };
    let Some(items) = request.get("orderItems").and_then(Value::as_array) else {
        return Err(refuse(
            "orderItems is required",
            vec![("orderItems".into(), "Must not be null.".into())],
        ));
    };
    if items.is_empty() {
        return Err(refuse(
            "orderItems must not be empty",
            vec![("orderItems".into(), "Size must be at least 1.".into())],
        ));
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = item
            .get("orderItemId")
            .and_then(Value::as_str)
            .filter(|id| !id.trim().is_empty());
        let quantity = match item.get("quantity") {
            None | Some(Value::Null) => Ok(None),
            Some(q) => q.as_i64().filter(|q| *q >= 1).map(Some).ok_or(()),
        };
        match (id, quantity) {
            (Some(id), Ok(quantity)) => out.push((id.to_owned(), quantity)),
            (None, _) => bad.push((
                format!("orderItems[{i}].orderItemId"),
                "Must not be blank.".to_owned(),
            )),
            (_, Err(())) => bad.push((
                format!("orderItems[{i}].quantity"),
                "Must be a whole number of at least 1.".to_owned(),
            )),
        }
    }
    if !bad.is_empty() {
        return Err(refuse("an order item breaks the description", bad));
    }
    Ok(out)
}

/// The order items asked for, resolved against the orders: each with its quantity (the
/// open quantity when none is given). An item bol does not know is a 404 (as bol documents
/// for delivery options); one with nothing open, or asked for more than is open, a 400.
fn resolve_label_items(
    s: &Shared,
    w: &crate::world::World,
    asked: &[(String, Option<i64>)],
    what: &str,
) -> Result<Vec<(String, i64)>, Response> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for (id, quantity) in asked {
        let Some(item) = w
            .bol_orders
            .iter()
            .flat_map(|o| o.items.iter())
            .find(|i| &i.order_item_id == id)
        else {
            s.violation(P, format!("{what} for unknown order item {id}"));
            return Err(problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("Order item {id} not found."),
            ));
        };
        let open = item.open();
        let wanted = quantity.unwrap_or(open);
        if open <= 0 || wanted > open {
            s.violation(
                P,
                format!("{what} for order item {id}: {wanted} asked, {open} open"),
            );
            return Err(problem_with(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                &format!("Order item {id} has {open} open, {wanted} asked."),
                &[(
                    "orderItems.quantity".into(),
                    format!("Order item {id} has {open} open."),
                )],
            ));
        }
        if out.iter().any(|(seen, _)| seen == id) {
            s.violation(P, format!("{what} names order item {id} twice"));
            return Err(problem_with(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                &format!("Order item {id} is named twice."),
                &[("orderItems".into(), format!("Order item {id} is named twice."))],
            ));
        }
        out.push((id.clone(), wanted));
    }
    Ok(out)
}

/// `POST /retailer/shipping-labels/delivery-options`: the ways the items can be shipped
/// with a label bought from bol (`DeliveryOptionsResponse`): PostNL and DHL parcels, and a
/// PostNL mailbox package for a single unit. Each option's `shippingLabelOfferId` buys a
/// label for exactly these items.
fn delivery_options(s: &Shared, body: &[u8]) -> Response {
    const WHAT: &str = "delivery options";
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        s.violation(P, "delivery options body is not JSON");
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "Malformed JSON");
    };
    let asked = match label_items(s, &request, WHAT) {
        Ok(asked) => asked,
        Err(r) => return r,
    };
    let mut w = s.world();
    let items = match resolve_label_items(s, &w, &asked, WHAT) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let units: i64 = items.iter().map(|(_, q)| q).sum();
    let today = chrono::Utc::now();
    let handover = |hour: u32| {
        today
            .date_naive()
            .and_hms_opt(hour, 0, 0)
            .expect("a time of day")
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    // transporter, type, display name, price, max weight, max dimensions.
    let mut kinds = vec![
        (
            "TNT",
            "PARCEL",
            "PostNL & bol.com - Pakket",
            5.15,
            "23 kg",
            "100 x 50 x 50 cm",
        ),
        (
            "DHL",
            "PARCEL",
            "DHL & bol.com - Pakket",
            4.95,
            "31.5 kg",
            "120 x 60 x 60 cm",
        ),
    ];
    if units == 1 {
        kinds.push((
            "TNT",
            "MAILBOX",
            "PostNL & bol.com - Brievenbuspakje",
            3.25,
            "2 kg",
            "38 x 26.5 x 3.2 cm",
        ));
    }
    let options: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, (transporter, kind, name, price, weight, dimensions))| {
            let offer = uuid_like();
            w.bol_label_offers.insert(
                offer.clone(),
                BolLabelOffer {
                    items: items.clone(),
                    transporter: (*transporter).to_owned(),
                },
            );
            json!({"shippingLabelOfferId": offer, "recommended": i == 0,
                   "validUntilDate": today.format("%Y-%m-%d").to_string(),
                   "transporterCode": transporter, "labelType": kind, "labelDisplayName": name,
                   "labelPrice": {"totalPrice": price},
                   "packageRestrictions": {"maxWeight": weight, "maxDimensions": dimensions},
                   "handoverDetails": {"meetsCustomerExpectation": true,
                       "earliestHandoverDateTime": handover(0), "latestHandoverDateTime": handover(18),
                       "collectionMethod": "DROP_OFF"}})
        })
        .collect();
    drop(w);
    answer(
        StatusCode::OK,
        JSON,
        json!({"deliveryOptions": options}).to_string(),
    )
}

/// `POST /retailer/shipping-labels`: buys the label of a delivery option for the items it
/// was offered for (`ShippingLabelRequest`), answered with `202` and a
/// `CREATE_SHIPPING_LABEL` process status whose `entityId` is the new label's id. An offer
/// bol did not make, or made for other items, is a 400; a second label for an item that has
/// one is served (bol sells it) and counted as a duplicate.
fn create_label(s: &Shared, body: &[u8]) -> Response {
    const WHAT: &str = "shipping label";
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        s.violation(P, "shipping label body is not JSON");
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "Malformed JSON");
    };
    let asked = match label_items(s, &request, WHAT) {
        Ok(asked) => asked,
        Err(r) => return r,
    };
    let Some(offer_id) = request
        .get("shippingLabelOfferId")
        .and_then(Value::as_str)
        .filter(|o| !o.trim().is_empty())
    else {
        s.violation(P, "shipping label without a shippingLabelOfferId");
        return problem_with(
            StatusCode::BAD_REQUEST,
            "Error validating request",
            "shippingLabelOfferId is required",
            &[("shippingLabelOfferId".into(), "Must not be blank.".into())],
        );
    };
    let mut w = s.world();
    // Shipping-label requests name their items as delivery options do; bol documents no
    // 404 here, so an unknown item is a 400.
    let items = match resolve_label_items(s, &w, &asked, WHAT) {
        Ok(items) => items,
        Err(r) if r.status() == StatusCode::NOT_FOUND => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                "An order item is not known.",
            );
        }
        Err(r) => return r,
    };
    let offer = match w.bol_label_offers.get(offer_id) {
        Some(offer) if offer.items == items => offer.clone(),
        found => {
            let why = if found.is_some() {
                "was offered for other order items"
            } else {
                "is not a delivery option bol offered"
            };
            drop(w);
            s.violation(P, format!("shipping label offer {offer_id} {why}"));
            return problem_with(
                StatusCode::BAD_REQUEST,
                "Error validating request",
                &format!("Shipping label offer {offer_id} {why}."),
                &[("shippingLabelOfferId".into(), format!("Offer {offer_id} {why}."))],
            );
        }
    };
    let again: Vec<String> = items
        .iter()
        .filter(|(id, _)| {
            w.bol_labels
                .values()
                .any(|l| l.items.iter().any(|(labelled, _)| labelled == id))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let label_id = uuid_like();
    let (process_id, r) = start_process_in(&mut w, "CREATE_SHIPPING_LABEL", label_id.clone());
    let track_and_trace = format!(
        "{}{:010}",
        if offer.transporter == "TNT" {
            "3SBOL"
        } else {
            "JVGL"
        },
        fastrand::u64(..10_000_000_000)
    );
    w.bol_labels.insert(
        label_id,
        BolLabel {
            process_id,
            items,
            transporter: offer.transporter,
            track_and_trace,
        },
    );
    drop(w);
    if !again.is_empty() {
        s.duplicate(P, format!("a second shipping label for order items {again:?}"));
    }
    s.created(P, "shipping labels");
    r
}

/// `GET` (or `HEAD`) `/retailer/shipping-labels/{id}`: the label as a PDF with its
/// transporter and track and trace code in headers, once its process status succeeded;
/// before that, or for a label bol did not make, a 404 Problem under the media type bol
/// documents for this endpoint.
fn shipping_label(s: &Shared, id: &str) -> Response {
    let after = s.config.process_after_reads;
    let w = s.world();
    let ready = w.bol_labels.get(id).filter(|label| {
        w.bol_processes
            .get(&label.process_id)
            .is_some_and(|p| p.reads >= after)
    });
    let Some(label) = ready.cloned() else {
        drop(w);
        let mut r = problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("Shipping label {id} not found."),
        );
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF));
        return r;
    };
    drop(w);
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, PDF)],
        label_pdf(id, &label),
    )
        .into_response();
    let h = r.headers_mut();
    for (name, value) in [
        ("x-track-and-trace-code", &label.track_and_trace),
        ("x-transporter-code", &label.transporter),
    ] {
        h.insert(name, HeaderValue::from_str(value).expect("ASCII"));
    }
    r
}

/// A small well-formed one-page PDF naming the label, its transporter, track and trace code
/// and order items.
fn label_pdf(id: &str, label: &BolLabel) -> Vec<u8> {
    let items: Vec<String> = label.items.iter().map(|(i, q)| format!("{q}x {i}")).collect();
    let lines = [
        format!("Sandbox shipping label {id}"),
        format!(
            "Transporter {}  Track and trace {}",
            label.transporter, label.track_and_trace
        ),
        format!("Order items {}", items.join(", ")),
    ];
    let mut text = String::from("BT /F1 12 Tf 40 260 Td 16 TL");
    for line in &lines {
        text.push_str(&format!(" ({line}) '"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 298] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{object}\nendobj\n", n + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

/// bol's 404 Problem for a subscription it does not have.
fn unknown_subscription(s: &Shared, endpoint: &str, id: &str) -> Response {
    s.violation(P, format!("{endpoint} for unknown subscription {id}"));
    problem_with(
        StatusCode::NOT_FOUND,
        "Not Found",
        &format!("Subscription {id} not found."),
        &[(
            "subscription-id".into(),
            format!("Subscription {id} is not one of the retailer's."),
        )],
    )
}

/// A `SubscriptionRequest` that breaks the description: bol's 400 Problem.
fn bad_subscription(s: &Shared, what: &str, violations: &[(String, String)]) -> Response {
    s.violation(
        P,
        format!(
            "{what}: {}",
            violations
                .iter()
                .map(|(n, r)| format!("{n}: {r}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
    problem_with(
        StatusCode::BAD_REQUEST,
        "Error validating request. Consult the bol.com API documentation for more information.",
        "Bad request",
        violations,
    )
}

/// `GET /retailer/subscriptions`: `SubscriptionsResponse`, every subscription bol has
/// (those whose creation succeeded), by id.
fn list_subscriptions(s: &Shared) -> Response {
    let w = s.world();
    let list: Vec<Value> = w.push.subscriptions.values().map(|sub| sub.json()).collect();
    answer(StatusCode::OK, JSON, json!({"subscriptions": list}).to_string())
}

/// `GET /retailer/subscriptions/{id}`: `SubscriptionResponse`, or a 404 Problem.
fn get_subscription(s: &Shared, id: &str) -> Response {
    let found = s.world().push.subscription(id).map(|sub| sub.json());
    match found {
        Some(sub) => answer(StatusCode::OK, JSON, sub.to_string()),
        None => unknown_subscription(s, "GET /subscriptions/{id}", id),
    }
}

/// `POST /retailer/subscriptions` (`SubscriptionRequest`): `resources` (bol's seven; by
/// webhook only `ORDER`, `PROCESS_STATUS`, `SHIPMENT`), `url` (for a WEBHOOK an https URL,
/// or http to a loopback host), `subscriptionType`, `enabled` (default true), `identity`
/// (an AWS role ARN for AWS_SQS). `202` and a `CREATE_SUBSCRIPTION` process status whose
/// `entityId` is the new subscription's id; it exists once that process succeeds.
fn create_subscription(s: &Shared, body: &[u8]) -> Response {
    let mut w = s.world();
    let id = w.push.new_subscription_id();
    match crate::push::subscription_request(body, id.clone()) {
        Ok(sub) => start_process_with(
            &mut w,
            "CREATE_SUBSCRIPTION",
            id,
            Some(Effect::Subscription(crate::push::SubscriptionChange::Put(sub))),
            None,
        ),
        Err(bad) => {
            drop(w);
            bad_subscription(s, "subscription", &bad)
        }
    }
}

/// `PUT /retailer/subscriptions/{id}` (`SubscriptionRequest`, the whole subscription:
/// `enabled` left out is true, so a PUT enables a subscription bol disabled): `202` and an
/// `UPDATE_SUBSCRIPTION` process status, applied when it succeeds; 404 for an unknown id.
fn update_subscription(s: &Shared, id: &str, body: &[u8]) -> Response {
    let mut w = s.world();
    if w.push.subscription(id).is_none() {
        drop(w);
        return unknown_subscription(s, "PUT /subscriptions/{id}", id);
    }
    match crate::push::subscription_request(body, id.to_owned()) {
        Ok(sub) => start_process_with(
            &mut w,
            "UPDATE_SUBSCRIPTION",
            id.to_owned(),
            Some(Effect::Subscription(crate::push::SubscriptionChange::Put(sub))),
            None,
        ),
        Err(bad) => {
            drop(w);
            bad_subscription(s, &format!("subscription {id} update"), &bad)
        }
    }
}

/// `DELETE /retailer/subscriptions/{id}`: `202` and a `DELETE_SUBSCRIPTION` process status,
/// removed when it succeeds; 404 for an unknown id.
fn delete_subscription(s: &Shared, id: &str) -> Response {
    let mut w = s.world();
    if w.push.subscription(id).is_none() {
        drop(w);
        return unknown_subscription(s, "DELETE /subscriptions/{id}", id);
    }
    start_process_with(
        &mut w,
        "DELETE_SUBSCRIPTION",
        id.to_owned(),
        Some(Effect::Subscription(crate::push::SubscriptionChange::Delete(
            id.to_owned(),
        ))),
        None,
    )
}

/// `POST /retailer/subscriptions/test/{id}`: `202` and a `SEND_SUBSCRIPTION_TST_MSG`
/// process status; when it succeeds, a `TEST`/`TEST` delivery goes to the subscription (if
/// it is an enabled webhook); 404 for an unknown id.
fn test_subscription(s: &Shared, id: &str) -> Response {
    let mut w = s.world();
    if w.push.subscription(id).is_none() {
        drop(w);
        return unknown_subscription(s, "POST /subscriptions/test/{id}", id);
    }
    start_process_with(
        &mut w,
        "SEND_SUBSCRIPTION_TST_MSG",
        id.to_owned(),
        Some(Effect::Subscription(crate::push::SubscriptionChange::Test(
            id.to_owned(),
        ))),
        None,
    )
}

/// `GET /retailer/subscriptions/signature-keys`: `KeySetResponse`, or, past 10 calls an
/// hour, a 429 Problem with `Retry-After` (also a violation: a client should cache the
/// keys).
fn signature_keys(s: &Shared) -> Response {
    match crate::push::signature_keys(s) {
        Ok(keys) => answer(StatusCode::OK, JSON, keys.to_string()),
        Err(wait) => {
            s.rate_limited(P);
            s.violation(
                P,
                format!(
                    "GET /subscriptions/signature-keys over {} an hour",
                    crate::push::SIGNATURE_KEY_CALLS_PER_HOUR
                ),
            );
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Too many requests, retry later.",
            );
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            h.insert(
                "x-ratelimit-limit",
                HeaderValue::from(crate::push::SIGNATURE_KEY_CALLS_PER_HOUR),
            );
            h.insert("x-ratelimit-remaining", HeaderValue::from(0));
            h.insert("x-ratelimit-reset", HeaderValue::from(secs));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_is_negotiated_as_rfc_9110_says() {
        assert!(accepts(PDF, PDF));
        assert!(accepts("application/VND.retailer.v10+pdf", PDF));
        assert!(accepts(&format!("{JSON}, {PDF};q=0.5"), PDF));
        assert!(!accepts(&format!("{PDF};q=0"), PDF));
        assert!(!accepts(JSON, PDF));
        assert!(!accepts("application/pdf", PDF));
        assert!(!accepts("*/*", PDF));
        assert!(!accepts("", JSON));
        assert!(accepts(JSON, JSON));
    }
}
