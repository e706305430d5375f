//! A kvik.shop Customer API under `/customer`: every request must accept gzip (400 without)
//! and every answer is gzip-compressed; the token endpoint takes a form body only; tokens
//! expire after the configured lifetime (`invalid_token`), unknown ones are `access_denied`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use tokio::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::world::{CustomerOrder, now_rfc3339};
use crate::{CUSTOMER_API_CLIENT_ID, CUSTOMER_API_CLIENT_SECRET, Shared};

const P: &str = "customer";
const PAGE: usize = 10;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/customer/oauth/access-token", post(token))
        .route("/api/customer/products", get(products))
        .route("/api/customer/orders", post(create_order).get(list_orders))
        .route("/api/customer/orders/{id}", get(order))
}

/// A gzip-compressed JSON answer.
fn gz(status: StatusCode, value: Value) -> Response {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(value.to_string().as_bytes());
    let body = e.finish().unwrap_or_default();
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    r
}

fn accepts_gzip(s: &Shared, headers: &HeaderMap, endpoint: &str) -> Result<(), Response> {
    let ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if ok {
        Ok(())
    } else {
        s.violation(P, format!("{endpoint} without Accept-Encoding: gzip"));
        Err(crate::json(
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "message": "The Accept-Encoding header with gzip value is required."}),
        ))
    }
}

fn authorize(s: &Shared, headers: &HeaderMap, endpoint: &str) -> Result<(), Response> {
    s.hit(P, endpoint);
    accepts_gzip(s, headers, endpoint)?;
    let token = crate::safeshop::bearer(headers);
    let expiry = token.and_then(|t| s.world().customer_tokens.get(&t).copied());
    match expiry {
        None => {
            s.violation(P, format!("{endpoint} with an unknown token"));
            Err(gz(
                StatusCode::BAD_REQUEST,
                json!({"error": "access_denied", "error_description": "The resource owner or authorization server denied the request.", "status": 400}),
            ))
        }
        Some(at) if Instant::now() >= at => Err(gz(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_token", "error_description": "The access token expired"}),
        )),
        Some(_) => Ok(()),
    }
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.hit(P, "POST /api/customer/oauth/access-token");
    s.token_request(P);
    if let Err(r) = accepts_gzip(&s, &headers, "token request") {
        return r;
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("application/x-www-form-urlencoded") {
        s.violation(P, format!("token request with a `{ct}` body instead of a form"));
        return gz(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "The parameters must be in the application/x-www-form-urlencoded body.", "status": 400}),
        );
    }
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
        && f.get("client_id").map(String::as_str) == Some(CUSTOMER_API_CLIENT_ID)
        && f.get("client_secret").map(String::as_str) == Some(CUSTOMER_API_CLIENT_SECRET)
        && f.get("scope").map(String::as_str) == Some("all");
    if !ok {
        s.violation(P, "token request with wrong credentials or scope");
        return gz(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed", "status": 401}),
        );
    }
    let lifetime = s.config.customer_token_lifetime;
    let token = {
        let mut w = s.world();
        let t = w.token("ca");
        w.customer_tokens.insert(t.clone(), Instant::now() + lifetime);
        t
    };
    gz(
        StatusCode::OK,
        json!({"_type": "AccessToken", "token_type": "Bearer", "expires_in": lifetime.as_secs(), "access_token": token}),
    )
}

fn product_json(s: &Shared, ean: &str) -> Option<Value> {
    let w = s.world();
    let p = w.product_by_ean(ean)?;
    // A product the supplier does not list is not found.
    let unshipped = if s.config.customer_reserves {
        w.customer_unshipped()
    } else {
        Default::default()
    };
    let stock = w.customer_available(&s.config, ean, &unshipped)?;
    Some(json!({
        "_type": "Product", "id": p.shopwedo_sku + 20_000, "code": p.ean, "brand": {"_type": "Brand", "name": p.brand},
        "name": p.title, "availability": {"_type": "Availability", "quantity": stock, "status": if stock > 0 { "in_stock" } else { "out_of_stock" }},
        "price": {"_type": "Price", "amount": p.price_cents as f64 / 121.0, "with_vat": p.price_cents as f64 / 100.0, "currency": "EUR"}
    }))
}

async fn products(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorize(&s, &headers, "GET /api/customer/products") {
        return r;
    }
    let code = q.get("code").cloned().unwrap_or_default();
    let found: Vec<Value> = product_json(&s, &code)
        .into_iter()
        .filter(|p| {
            q.get("brand").is_none_or(|b| {
                p["brand"]["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(b))
            })
        })
        .collect();
    gz(StatusCode::OK, Value::Array(found))
}

fn order_json(s: &Shared, o: &CustomerOrder) -> Value {
    let shipped = s.config.ships(o.reads, o.made);
    // An order of several items with an even id leaves in two parcels, the second two
    // reads after the first: partly shipped in between.
    let two_parcels = o.items.len() > 1 && o.id.is_multiple_of(2);
    let partly = shipped && two_parcels && !s.config.ships(o.reads.saturating_sub(2), o.made);
    let parcel = |n: u64| {
        let code = match n {
            0 => format!("3SCA{:09}", o.id),
            n => format!("3SCA{:09}", o.id * 10 + n),
        };
        json!({"_type": "Shipment", "carrier": "PostNL", "tracking_number": code,
               "tracking_url": format!("https://jouw.postnl.nl/track-and-trace/{code}"), "shipped_at": o.created})
    };
    let shipments = match (shipped, partly, two_parcels) {
        (false, _, _) => json!([]),
        (true, true, _) => json!([parcel(1)]),
        (true, false, true) => json!([parcel(1), parcel(2)]),
        (true, false, false) => json!([parcel(0)]),
    };
    let status = match (shipped, partly) {
        (true, true) => "partially_shipped",
        (true, false) => "shipped",
        _ if o.reads > 0 => "processing",
        _ => "new",
    };
    json!({
        "_type": "Order", "id": o.id, "reference": o.reference, "created_at": o.created,
        "payment_status": "invoiced", "processing_status": status,
        "items": o.items.iter().map(|(code, qty)| json!({"_type": "OrderItem", "code": code, "quantity": qty})).collect::<Vec<_>>(),
        "shipments": shipments
    })
}

async fn create_order(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&s, &headers, "POST /api/customer/orders") {
        return r;
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("application/json") {
        s.violation(P, "order without Content-Type: application/json");
        return gz(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "unsupported_media_type"}),
        );
    }
    let Ok(order) = serde_json::from_slice::<Value>(&body) else {
        s.violation(P, "order body is not JSON");
        return gz(StatusCode::BAD_REQUEST, json!({"error": "invalid_json"}));
    };
    let reference = order["reference"].as_str().unwrap_or_default().to_owned();
    let mut errors = serde_json::Map::new();
    if reference.trim().is_empty() {
        errors.insert("reference".into(), json!("is required"));
    }
    let mut items = Vec::new();
    for (i, item) in order["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let code = item["code"].as_str().unwrap_or_default().to_owned();
        let qty = item["quantity"].as_i64().unwrap_or(0);
        if s.world().product_by_ean(&code).is_none() {
            errors.insert(
                format!("items[{i}].code"),
                json!(format!("no product has the code `{code}`")),
            );
        }
        if qty <= 0 {
            errors.insert(format!("items[{i}].quantity"), json!("must be at least 1"));
        }
        items.push((code, qty));
    }
    if items.is_empty() {
        errors.insert("items".into(), json!("at least one item is required"));
    }
    if !errors.is_empty() {
        s.violation(P, format!("invalid order: {}", Value::Object(errors.clone())));
        return gz(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "validation_failed", "message": "The order is invalid.", "errors": errors}),
        );
    }
    let mut w = s.world();
    let duplicate = w.customer_orders.values().any(|o| o.reference == reference);
    // The units leave the availability when the order ships (or now, when the supplier
    // reserves: `Config::customer_reserves`).
    let id = w.next_customer_order;
    w.next_customer_order += 1;
    let created = CustomerOrder {
        id,
        reference: reference.clone(),
        items,
        created: now_rfc3339(),
        made: Instant::now(),
        reads: 0,
        shipped_settled: false,
    };
    w.customer_orders.insert(id, created.clone());
    drop(w);
    if duplicate {
        s.duplicate(P, format!("order {reference} created again"));
    }
    s.created(P, "orders");
    gz(StatusCode::CREATED, order_json(&s, &created))
}

async fn list_orders(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorize(&s, &headers, "GET /api/customer/orders") {
        return r;
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let orders: Vec<CustomerOrder> = s.world().customer_orders.values().cloned().collect();
    let data: Vec<Value> = orders
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|o| {
            let mut v = order_json(&s, o);
            v.as_object_mut().map(|m| m.remove("items"));
            v
        })
        .collect();
    gz(
        StatusCode::OK,
        json!({"_type": "OrderCollection", "page": page, "data": data}),
    )
}

async fn order(State(s): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorize(&s, &headers, "GET /api/customer/orders/{id}") {
        return r;
    }
    let found = {
        let mut w = s.world();
        id.parse::<u64>()
            .ok()
            .and_then(|id| w.customer_orders.get_mut(&id))
            .map(|o| {
                o.reads += 1;
                o.clone()
            })
    };
    match found {
        Some(o) => gz(StatusCode::OK, order_json(&s, &o)),
        None => gz(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": "No such order."}),
        ),
    }
}
