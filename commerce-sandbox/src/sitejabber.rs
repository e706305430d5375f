//! Sitejabber: `client_token` in the query of every call, `user_token` from `POST /login`
//! on business calls, errors in the body with HTTP 200, and 10 calls per 10 s and 1000 per
//! hour per user token (429 above).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::{
    SITEJABBER_CLIENT_TOKEN, SITEJABBER_DOMAIN, SITEJABBER_EMAIL, SITEJABBER_PASSWORD, Shared, Window,
};

const P: &str = "sitejabber";

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/login", post(login))
        .route("/businesses/{domain}", get(business))
        .route("/businesses/{domain}/reviews", get(reviews))
        .route("/businesses/{domain}/products", get(products))
        .route("/businesses/{domain}/review/request/add", post(review_request))
        .route(
            "/businesses/{domain}/review/request/remove",
            post(remove_review_request),
        )
        .route(
            "/businesses/{domain}/product/review/request/add",
            post(product_review_request),
        )
}

fn error(code: u32, reason: &str) -> Response {
    // Sitejabber answers errors with HTTP 200; the body decides.
    crate::json(
        StatusCode::OK,
        json!({"status": "ERROR", "success": false, "errorCode": code, "errorReason": reason}),
    )
}

fn ok(mut body: Value) -> Response {
    body["status"] = json!("OK");
    body["success"] = json!(true);
    crate::json(StatusCode::OK, body)
}

/// Checks the client token, the user token, the domain and the rate limit.
fn admit(
    s: &Shared,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    domain: &str,
    endpoint: &str,
) -> Result<(), Response> {
    s.hit(P, endpoint);
    if query.get("client_token").map(String::as_str) != Some(SITEJABBER_CLIENT_TOKEN) {
        s.violation(P, format!("{endpoint} without a valid client_token"));
        return Err(error(101, "Client token invalid"));
    }
    let Some(user_token) = headers.get("user_token").and_then(|v| v.to_str().ok()) else {
        s.violation(P, format!("{endpoint} without a user_token"));
        return Err(error(203, "User token missing or invalid"));
    };
    let mut w = s.world();
    let Some((short, long)) = w.sitejabber_tokens.get_mut(user_token) else {
        drop(w);
        s.violation(P, format!("{endpoint} with an unknown user_token"));
        return Err(error(203, "User token missing or invalid"));
    };
    let now = Instant::now();
    if short.admit(now).is_err() || long.admit(now).is_err() {
        drop(w);
        s.rate_limited(P);
        s.violation(P, format!("{endpoint} over 10 calls per 10 s"));
        return Err(crate::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"status": "ERROR", "success": false, "errorCode": 429, "errorReason": "Rate limit, too many requests"}),
        ));
    }
    drop(w);
    if domain != SITEJABBER_DOMAIN {
        return Err(error(301, "Business not available"));
    }
    Ok(())
}

async fn login(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    s.hit(P, "POST /login");
    s.token_request(P);
    if q.get("client_token").map(String::as_str) != Some(SITEJABBER_CLIENT_TOKEN) {
        s.violation(P, "login without a valid client_token");
        return error(101, "Client token invalid");
    }
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if f.get("email").map(String::as_str) != Some(SITEJABBER_EMAIL)
        || f.get("password").map(String::as_str) != Some(SITEJABBER_PASSWORD)
    {
        s.violation(P, "login with wrong credentials");
        return error(201, "Email or password invalid");
    }
    let mut w = s.world();
    let token = w.token("sj");
    w.sitejabber_tokens.insert(
        token.clone(),
        (
            Window::new(10, Duration::from_secs(10)),
            Window::new(1000, Duration::from_secs(3600)),
        ),
    );
    drop(w);
    ok(
        json!({"token": token, "expire": "2099-01-01 00:00:00", "user": {"username": "sandbox-shop", "firstName": "Sandbox", "lastName": "S"}}),
    )
}

fn seeded_reviews() -> Vec<Value> {
    (1..=30u64)
        .map(|n| {
            json!({
                "reviewNo": n.to_string(),
                "rating": [{"type": "overall", "rating": (3 + n % 3).to_string()}],
                "title": format!("Review {n}"),
                "content": "Snel geleverd.",
                "order_id": format!("SB-{n}"),
                "images": [],
                "positive_votes": n % 4,
                "negative_votes": 0,
                "created": format!("2026/10/{:02} 12:01:45", 1 + n % 28),
                "published": if n % 10 == 0 { "pending".to_owned() } else { format!("2026-10-{:02} 12:05:00", 1 + n % 28) },
                "edited": "",
                "labels": [],
                "author": {"username": format!("user{n}"), "firstName": "Klant", "lastName": "K", "numReviews": "1", "numHelpfulVotes": "0"}
            })
        })
        .collect()
}

async fn business(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, &q, &headers, &domain, "GET /businesses/{d}") {
        return r;
    }
    let reviews = seeded_reviews();
    let avg = reviews
        .iter()
        .filter_map(|r| {
            r["rating"][0]["rating"]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .sum::<f64>()
        / reviews.len() as f64;
    ok(json!({
        "name": "Sandbox Shop", "urlAddress": format!("https://{SITEJABBER_DOMAIN}"), "displayAddress": SITEJABBER_DOMAIN,
        "averageRating": [{"type": "overall", "rating": (avg * 100.0).round() / 100.0}],
        "urlProfilePage": format!("https://www.sitejabber.com/reviews/{SITEJABBER_DOMAIN}"),
        "numReviews": [{"type": "total", "rating": reviews.len()}],
        "phone": "", "email": "",
        "address": {"streetAddress": "Grote Markt 1", "streetAddress2": "", "city": "Amsterdam", "state": "",
                    "postalCode": "1012 LG", "country": "NL", "completeAddress": "Grote Markt 1, 1012 LG Amsterdam, NL"}
    }))
}

fn page<T: Clone>(items: &[T], q: &HashMap<String, String>) -> Result<Vec<T>, Response> {
    let start: usize = q.get("start").and_then(|v| v.parse().ok()).unwrap_or(0);
    let count: usize = q.get("count").and_then(|v| v.parse().ok()).unwrap_or(10);
    if count == 0 || count > 100 {
        return Err(error(306, "Malformed parameter: count"));
    }
    Ok(items.iter().skip(start).take(count).cloned().collect())
}

async fn reviews(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, &q, &headers, &domain, "GET /businesses/{d}/reviews") {
        return r;
    }
    match page(&seeded_reviews(), &q) {
        Ok(items) => ok(json!({"reviews": items})),
        Err(r) => r,
    }
}

async fn products(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, &q, &headers, &domain, "GET /businesses/{d}/products") {
        return r;
    }
    let all: Vec<Value> = s
        .world()
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"id": i + 1, "sku": p.shop_sku, "item_group": null, "gtin": p.ean, "mpn": null, "brand": p.brand,
                   "title": p.title, "description": null, "categories": [], "price": p.price_cents as f64 / 100.0,
                   "retail_price": null, "currency": "EUR",
                   "product_link": format!("https://{SITEJABBER_DOMAIN}/p/{}", p.shop_sku),
                   "images": [], "attributes": [], "num_reviews": 0, "average_rating": 0,
                   "created": "2026/01/01 00:00:00", "createdRFC": "2026/01/01T00:00:00+01:00"})
        })
        .collect();
    match page(&all, &q) {
        Ok(items) => ok(json!({"products": items, "count": items.len(),
                   "start": q.get("start").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0), "query": null})),
        Err(r) => r,
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn valid_email(e: &str) -> bool {
    e.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
}

async fn review_request(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &q,
        &headers,
        &domain,
        "POST /businesses/{d}/review/request/add",
    ) {
        return r;
    }
    let f = form(&body);
    let email = f.get("email").cloned().unwrap_or_default();
    let order_id = f.get("order_id").cloned().unwrap_or_default();
    if (email.is_empty() && f.get("phone").is_none_or(String::is_empty))
        || order_id.is_empty()
        || !f.contains_key("order_date")
    {
        s.violation(P, "review request without email/phone, order_id or order_date");
        return error(302, "Missing parameter");
    }
    if !email.is_empty() && !valid_email(&email) {
        s.violation(P, format!("review request with a malformed email `{email}`"));
        return error(306, "Malformed parameter: email");
    }
    let fresh = s
        .world()
        .sitejabber_requests
        .insert((email.clone(), order_id.clone()));
    if fresh {
        s.created(P, "review_requests");
    } else {
        s.duplicate(P, format!("review request for order {order_id} sent again"));
    }
    // As Sitejabber's example answer: the review link.
    ok(json!({"link": format!("https://www.sitejabber.com/requested-review/{order_id}")}))
}

async fn remove_review_request(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &q,
        &headers,
        &domain,
        "POST /businesses/{d}/review/request/remove",
    ) {
        return r;
    }
    let f = form(&body);
    let email = f.get("email").cloned().unwrap_or_default();
    let order = f.get("order_id").cloned();
    let mut w = s.world();
    let removed: Vec<String> = w
        .sitejabber_requests
        .iter()
        .filter(|(e, o)| *e == email && order.as_ref().is_none_or(|x| x == o))
        .map(|(_, o)| o.clone())
        .collect();
    w.sitejabber_requests
        .retain(|(e, o)| !(*e == email && order.as_ref().is_none_or(|x| x == o)));
    ok(json!({"removed_order_ids": removed}))
}

async fn product_review_request(
    State(s): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(
        &s,
        &q,
        &headers,
        &domain,
        "POST /businesses/{d}/product/review/request/add",
    ) {
        return r;
    }
    let f = form(&body);
    let email = f.get("email").cloned().unwrap_or_default();
    let order_id = f.get("order_id").cloned().unwrap_or_default();
    let skus: Vec<String> = f
        .get("product_skus")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if !valid_email(&email) || order_id.is_empty() || skus.is_empty() || !f.contains_key("order_date") {
        s.violation(
            P,
            "product review request without email, product_skus, order_id or order_date",
        );
        return error(302, "Missing parameter");
    }
    let mut links = serde_json::Map::new();
    for sku in skus {
        let fresh =
            s.world()
                .sitejabber_product_requests
                .insert((email.clone(), order_id.clone(), sku.clone()));
        if fresh {
            s.created(P, "product_review_requests");
        } else {
            s.duplicate(
                P,
                format!("product review request for order {order_id}, SKU {sku} sent again"),
            );
        }
        links.insert(
            sku.clone(),
            json!(format!(
                "https://www.sitejabber.com/requested-product-review/{order_id}-{sku}"
            )),
        );
    }
    // As Sitejabber's example answer: the first link, and one per SKU.
    let first = links.values().next().cloned().unwrap_or(Value::Null);
    ok(json!({"link": first, "links": links}))
}
