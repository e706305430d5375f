//! The sandbox driven with raw HTTP, not with our clients: for each provider a correct
//! exchange succeeds and each documented wrong one gets the documented answer and shows in
//! the report.

use crate::support;

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use commerce_sandbox::*;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha512;
use support::{bol_basic, bol_token_request};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().unwrap()
}

fn gunzip(bytes: &[u8]) -> Value {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn sandbox() -> Sandbox {
    start(Config::default()).await.unwrap()
}

async fn report(sb: &Sandbox) -> Report {
    // Through HTTP too, as an outside tool would read it.
    http()
        .get(format!("{}/__sandbox/report", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn safeshop_token_invites_and_their_refusals() {
    let sb = sandbox().await;
    let base = sb.base_urls().safeshop;
    let c = http();
    let token: Value = c
        .post(format!("{base}/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": SAFESHOP_CLIENT_ID, "client_secret": SAFESHOP_CLIENT_SECRET, "scope": "*"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let invite = json!({"email": "jan@example.com", "order_id": "A-1"});
    let first = c
        .post(format!("{base}/invites"))
        .header("authorization", &bearer)
        .json(&invite)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = c
        .post(format!("{base}/invites"))
        .header("authorization", &bearer)
        .json(&invite)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let anonymous = c
        .post(format!("{base}/invites"))
        .json(&invite)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bad = c
        .post(format!("{base}/invites"))
        .header("authorization", &bearer)
        .json(&json!({"email": "nope", "order_id": "A-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong_secret = c
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SAFESHOP_CLIENT_ID),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let r = report(&sb).await.providers["safeshop"].clone();
    assert_eq!((r.created["invites"], r.duplicates, r.token_requests), (1, 1, 2));
    assert_eq!(r.violations, 3, "{:?}", r.violation_samples);
}

#[tokio::test]
async fn sitejabber_tokens_errors_in_the_body_and_its_rate_limit() {
    let sb = sandbox().await;
    let base = sb.base_urls().sitejabber;
    let c = http();
    let ct = support::sitejabber_client_token();
    let user = support::sitejabber_login(&c, &sb).await;
    let reviews: Value = c
        .get(format!(
            "{base}businesses/{SITEJABBER_DOMAIN}/reviews?{ct}&start=0&count=5"
        ))
        .header("user_token", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reviews["reviews"].as_array().unwrap().len(), 5);
    // Without client_token: an error in the body, with HTTP 200.
    let missing = c
        .get(format!("{base}businesses/{SITEJABBER_DOMAIN}"))
        .header("user_token", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::OK);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["errorCode"].as_u64()),
        (Some("ERROR"), Some(101))
    );
    // A review request, twice.
    for _ in 0..2 {
        let ok: Value = c
            .post(format!(
                "{base}businesses/{SITEJABBER_DOMAIN}/review/request/add?{ct}"
            ))
            .header("user_token", &user)
            .form(&[
                ("email", "jan@example.com"),
                ("order_id", "A-1"),
                ("order_date", "2026-11-20"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ok["success"], true);
    }
    // Over 10 calls in 10 seconds (3 counted above: the list and two requests): 429.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = c
            .get(format!("{base}businesses/{SITEJABBER_DOMAIN}?{ct}"))
            .header("user_token", &user)
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        1,
        "{statuses:?}"
    );
    let r = report(&sb).await.providers["sitejabber"].clone();
    assert_eq!(
        (r.rate_limited, r.duplicates, r.created["review_requests"]),
        (1, 1, 1)
    );
    assert!(
        r.violations >= 2,
        "missing client_token and the rate limit: {:?}",
        r.violation_samples
    );
}

fn signed(salt: &str, timestamp: i64, key: &str) -> Value {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{SHOPWEDO_SHOP_ID}{key}{timestamp}{salt}").as_bytes());
    let token: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"shopid": SHOPWEDO_SHOP_ID, "timestamp": timestamp, "salt": salt, "token": token})
}

async fn shopwedo(
    c: &reqwest::Client,
    base: &str,
    method: &str,
    auth: Value,
    data: Value,
) -> reqwest::Response {
    c.post(format!("{base}/{method}"))
        .form(&[("auth", auth.to_string()), ("data", data.to_string())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn shopwedo_signatures_pacing_validation_and_shipping() {
    let sb = sandbox().await;
    let base = sb.base_urls().shopwedo;
    let c = http();
    let now = chrono::Utc::now().timestamp();
    let pause = || tokio::time::sleep(Duration::from_millis(350));
    assert_eq!(
        shopwedo(
            &c,
            &base,
            "authTest",
            signed("s1", now, SHOPWEDO_SHOP_KEY),
            json!({})
        )
        .await
        .status(),
        202
    );
    pause().await;
    // Wrong key, stale timestamp, future timestamp, reused salt: 401 each.
    for auth in [
        signed("s2", now, "wrong-key"),
        signed("s3", now - 16 * 60, SHOPWEDO_SHOP_KEY),
        signed("s4", now + 120, SHOPWEDO_SHOP_KEY),
        signed("s1", now, SHOPWEDO_SHOP_KEY),
    ] {
        assert_eq!(
            shopwedo(&c, &base, "authTest", auth, json!({})).await.status(),
            401
        );
    }
    // The same call as one JSON body works too.
    let json_body = c
        .post(format!("{base}/authTest"))
        .json(&json!({"auth": signed("s5", now, SHOPWEDO_SHOP_KEY), "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 202);
    pause().await;
    // Validation, field by field.
    let invalid = shopwedo(
        &c,
        &base,
        "createOrder",
        signed("s6", now, SHOPWEDO_SHOP_KEY),
        json!({"external_order_id": "A-1", "created_at": "20-11-2026", "shipping_address": {"street": "Damrak", "country_iso2": "NLD"},
               "items": [{"sku": "x", "amount": 0}]}),
    )
    .await;
    assert_eq!(invalid.status(), 400);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["error"], "order_invalid_data");
    for field in [
        "created_at",
        "shipping_address.number",
        "shipping_address.country_iso2",
        "items.0.sku",
        "items.0.amount",
    ] {
        assert!(body["errors"].get(field).is_some(), "{field}: {body}");
    }
    pause().await;
    let sku = sb
        .catalogue()
        .iter()
        .find(|p| p.at_shopwedo)
        .unwrap()
        .shopwedo_sku;
    let order = json!({"external_order_id": "A-2", "created_at": "2026-11-20 10:00:00",
        "shipping_address": {"firstname": "An", "street": "Grote Markt", "number": "7", "zip": "2000", "city": "Antwerpen",
                             "country_iso2": "BE", "email": "an@example.be", "phone": "+3231234567"},
        "items": [{"sku": sku, "amount": 1}]});
    let created: Value = shopwedo(
        &c,
        &base,
        "createOrder",
        signed("s7", now, SHOPWEDO_SHOP_KEY),
        order.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = created["order_id"].as_u64().unwrap();
    pause().await;
    let mut last = Value::Null;
    for (i, salt) in ["s8", "s9", "s10"].iter().enumerate() {
        last = shopwedo(
            &c,
            &base,
            "getOrder",
            signed(salt, now, SHOPWEDO_SHOP_KEY),
            json!({"order_id": id.to_string()}),
        )
        .await
        .json()
        .await
        .unwrap();
        if i < 2 {
            assert_eq!(last["shipping"], false, "not shipped yet after {} reads", i + 1);
        }
        pause().await;
    }
    assert_eq!(last["status_string"], "shipped");
    // The parcel's shape depends on the order id: none, nested, or at the top level.
    let parcel = &last["shipping"][0];
    let code = match id % 6 {
        0 => None,
        1 => parcel["shipment"]["tracking_code"].as_str(),
        2 => parcel["tracking"]["barcode"].as_str(),
        _ => parcel["tracking_code"].as_str(),
    };
    assert_eq!(
        code,
        (!id.is_multiple_of(6)).then(|| format!("SWD{id}BE")).as_deref(),
        "{parcel}"
    );
    // The same order again is data damage.
    shopwedo(
        &c,
        &base,
        "createOrder",
        signed("s11", now, SHOPWEDO_SHOP_KEY),
        order,
    )
    .await;
    // Over 3 requests per second: 429.
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            shopwedo(
                &c,
                &base,
                "authTest",
                signed(&format!("r{i}"), now, SHOPWEDO_SHOP_KEY),
                json!({}),
            )
            .await
            .status(),
        );
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let r = report(&sb).await.providers["shopwedo"].clone();
    assert_eq!((r.created["orders"], r.duplicates), (2, 1));
    assert!(r.rate_limited >= 1);
    let samples = r.violation_samples.join(" | ");
    for expected in [
        "does not verify",
        "older than 15 minutes",
        "in the future",
        "used before",
        "invalid data",
        "per second",
    ] {
        assert!(samples.contains(expected), "{expected} not in {samples}");
    }
}

#[tokio::test]
async fn customer_api_gzip_form_tokens_and_expiry() {
    let sb = start(Config {
        customer_token_lifetime: Duration::from_millis(600),
        ..Config::default()
    })
    .await
    .unwrap();
    let base = format!("{}/api/customer", sb.base_urls().customer);
    let c = http();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CUSTOMER_API_CLIENT_ID),
        ("client_secret", CUSTOMER_API_CLIENT_SECRET),
        ("scope", "all"),
    ];
    // A JSON token body is refused.
    let as_json = c
        .post(format!("{base}/oauth/access-token"))
        .header("accept-encoding", "gzip")
        .json(&json!({"grant_type": "client_credentials", "client_id": CUSTOMER_API_CLIENT_ID, "client_secret": CUSTOMER_API_CLIENT_SECRET, "scope": "all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), 400);
    // No gzip: 400.
    let plain = c
        .post(format!("{base}/oauth/access-token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    let answer = c
        .post(format!("{base}/oauth/access-token"))
        .header("accept-encoding", "gzip")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-encoding"], "gzip");
    let token = gunzip(&answer.bytes().await.unwrap());
    assert_eq!(token["_type"], "AccessToken");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let ean = sb
        .catalogue()
        .iter()
        .find(|p| !p.at_shopwedo)
        .unwrap()
        .ean
        .clone();
    let products = c
        .get(format!("{base}/products?code={ean}"))
        .header("accept-encoding", "gzip")
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let products = gunzip(&products.bytes().await.unwrap());
    assert_eq!(products[0]["code"], ean.as_str());
    assert!(products[0]["availability"]["quantity"].as_i64().unwrap() > 0);
    let created = c
        .post(format!("{base}/orders"))
        .header("accept-encoding", "gzip")
        .header("authorization", &bearer)
        .json(&json!({"reference": "A-1", "items": [{"code": ean, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let unknown = c
        .get(format!("{base}/orders"))
        .header("accept-encoding", "gzip")
        .header("authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(gunzip(&unknown.bytes().await.unwrap())["error"], "access_denied");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let expired = c
        .get(format!("{base}/orders"))
        .header("accept-encoding", "gzip")
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    assert_eq!(gunzip(&expired.bytes().await.unwrap())["error"], "invalid_token");
    let r = report(&sb).await.providers["customer"].clone();
    assert_eq!(r.created["orders"], 1);
    let samples = r.violation_samples.join(" | ");
    for expected in [
        "instead of a form",
        "without Accept-Encoding: gzip",
        "unknown token",
    ] {
        assert!(samples.contains(expected), "{expected} not in {samples}");
    }
}

/// `Basic base64(client_id:client_secret)`, as bol documents it.
#[tokio::test]
async fn bol_the_token_request_is_a_post_without_a_body() {
    let sb = sandbox().await;
    let c = http();
    let ok = bol_token_request(&c, &sb).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let token: Value = ok.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(report(&sb).await.providers["bol"].violations, 0);

    // The grant type in a form body: served, but the body is a violation.
    sb.reset();
    let form = c
        .post(&sb.base_urls().bol_token)
        .header("authorization", bol_basic())
        .header("accept", "application/json")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let r = report(&sb).await.providers["bol"].clone();
    assert_eq!(r.violations, 1, "{:?}", r.violation_samples);
    assert!(
        r.violation_samples[0].contains("with a body"),
        "{:?}",
        r.violation_samples
    );

    // No grant type at all: refused.
    sb.reset();
    let none = c
        .post(&sb.base_urls().bol_token)
        .header("authorization", bol_basic())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    let error: Value = none.json().await.unwrap();
    assert_eq!(error["error"], "unsupported_grant_type");
    let r = report(&sb).await.providers["bol"].clone();
    assert_eq!(r.violations, 1, "{:?}", r.violation_samples);
    assert!(
        r.violation_samples[0].contains("grant_type"),
        "{:?}",
        r.violation_samples
    );
}

#[tokio::test]
async fn bol_tokens_media_types_limits_and_process_status() {
    let sb = sandbox().await;
    let base = sb.base_urls().bol;
    let c = http();
    let token: Value = bol_token_request(&c, &sb).await.json().await.unwrap();
    let jwt = token["access_token"].as_str().unwrap().to_owned();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(1).unwrap())
        .unwrap();
    let claims: Value = serde_json::from_slice(&claims).unwrap();
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp() + 250);
    // Asking again while the token is fresh is a violation.
    bol_token_request(&c, &sb).await;
    let bearer = format!("Bearer {jwt}");
    let v10 = "application/vnd.retailer.v10+json";
    let wrong_media = c
        .get(format!("{base}/retailer/orders"))
        .header("authorization", &bearer)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_media.status(), StatusCode::NOT_ACCEPTABLE);
    let problem: Value = wrong_media.json().await.unwrap();
    assert_eq!(problem["status"], 406);
    let page1 = c
        .get(format!("{base}/retailer/orders?page=1"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .send()
        .await
        .unwrap();
    assert!(page1.headers().contains_key("x-ratelimit-limit"));
    let page1: Value = page1.json().await.unwrap();
    let orders = page1["orders"].as_array().unwrap();
    assert_eq!(orders.len(), Config::default().orders);
    let page2: Value = c
        .get(format!("{base}/retailer/orders?page=2"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2, json!({}), "an empty page is {{}}");
    let item = orders[0]["orderItems"][0]["orderItemId"]
        .as_str()
        .unwrap()
        .to_owned();
    let shipment = json!({"orderItems": [{"orderItemId": item}], "transport": {"transporterCode": "TNT", "trackAndTrace": "3SABCD1"}});
    let ship = |body: Value| {
        c.post(format!("{base}/retailer/shipments"))
            .header("authorization", &bearer)
            .header("accept", v10)
            .header("content-type", v10)
            .body(body.to_string())
            .send()
    };
    let accepted = ship(shipment.clone()).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let process: Value = accepted.json().await.unwrap();
    assert_eq!(process["status"], "PENDING");
    let id = process["processStatusId"].as_str().unwrap();
    let done: Value = c
        .get(format!("{base}/shared/process-status/{id}"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "SUCCESS");
    let twice = ship(shipment).await.unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let wrong_body_type = c
        .post(format!("{base}/retailer/shipments"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_body_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The demo paths behave the same; over the endpoint's limit: 429 with Retry-After.
    let mut limited = None;
    for _ in 0..15 {
        let r = c
            .get(format!("{base}/retailer-demo/orders?page=1"))
            .header("authorization", &bearer)
            .header("accept", v10)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the orders endpoint is limited");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let expired = c
        .get(format!("{base}/retailer/orders"))
        .header("authorization", "Bearer forged")
        .header("accept", v10)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let r = report(&sb).await.providers["bol"].clone();
    assert_eq!(
        (r.token_requests, r.created["shipments"], r.duplicates),
        (2, 1, 1)
    );
    assert!(r.rate_limited >= 1);
    let samples = r.violation_samples.join(" | ");
    for expected in [
        "still fresh",
        "with Accept",
        "Content-Type",
        "per second",
        "without a token bol issued",
    ] {
        assert!(samples.contains(expected), "{expected} not in {samples}");
    }
}

/// A client for paused-time tests: no idle pool, so no timer of the HTTP stack makes the
/// paused clock jump while the runtime waits on a socket.
fn paused_http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn bol_bulk_process_status_validated_and_limited() {
    let sb = sandbox().await;
    let base = sb.base_urls().bol;
    let c = paused_http();
    let token: Value = bol_token_request(&c, &sb).await.json().await.unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let v10 = "application/vnd.retailer.v10+json";
    let page: Value = c
        .get(format!("{base}/retailer/orders"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for order in &page["orders"].as_array().unwrap()[..2] {
        let item = order["orderItems"][0]["orderItemId"].as_str().unwrap();
        let started: Value = c
            .post(format!("{base}/retailer/shipments"))
            .header("authorization", &bearer)
            .header("accept", v10)
            .header("content-type", v10)
            .body(json!({"orderItems": [{"orderItemId": item}]}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(started["processStatusId"].as_str().unwrap().to_owned());
    }
    let bulk = |root: &str, body: String| {
        c.post(format!("{base}/{root}/process-status"))
            .header("authorization", &bearer)
            .header("accept", v10)
            .header("content-type", v10)
            .body(body)
            .send()
    };
    let queries = |ids: &[&str]| {
        json!({"processStatusQueries": ids.iter().map(|id| json!({"processStatusId": id})).collect::<Vec<_>>()})
            .to_string()
    };

    // Known ids in the order asked, each once; an unknown one is left out.
    let r = bulk("shared", queries(&[&ids[1], "no-such-id", &ids[0], &ids[1]]))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], v10);
    assert_eq!(r.headers()["x-ratelimit-limit"], "5");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "4");
    assert_eq!(r.headers()["x-ratelimit-reset"], "1");
    let answer: Value = r.json().await.unwrap();
    let got: Vec<(&str, &str)> = answer["processStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["processStatusId"].as_str().unwrap(),
                p["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(ids[1].as_str(), "SUCCESS"), (ids[0].as_str(), "SUCCESS")]);
    assert_eq!(answer["processStatuses"][0]["eventType"], "CONFIRM_SHIPMENT");
    // The demo root too, sharing the endpoint's limit.
    let demo = bulk("shared-demo", queries(&[&ids[0]])).await.unwrap();
    assert_eq!(demo.status(), StatusCode::OK);
    assert_eq!(demo.headers()["x-ratelimit-remaining"], "3");

    // The media types are checked before anything else (and before the limit).
    let wrong_accept = c
        .post(format!("{base}/shared/process-status"))
        .header("authorization", &bearer)
        .header("accept", "application/json")
        .header("content-type", v10)
        .body(queries(&[&ids[0]]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_accept.status(), StatusCode::NOT_ACCEPTABLE);
    let wrong_type = c
        .post(format!("{base}/shared/process-status"))
        .header("authorization", &bearer)
        .header("accept", v10)
        .header("content-type", "application/json")
        .body(queries(&[&ids[0]]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The body as bol's BulkProcessStatusRequest: 1 to 1000 ids.
    let many: Vec<String> = (0..1001).map(|i| format!("id-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for (body, violation) in [
        (queries(&many), "processStatusQueries"),
        (queries(&[]), "processStatusQueries"),
        (
            json!({"processStatusIds": [ids[0]]}).to_string(),
            "processStatusQueries",
        ),
    ] {
        let r = bulk("shared", body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["violations"][0]["name"], violation, "{problem}");
    }

    // Five in the second: the sixth is refused, the next second it goes through.
    let limited = bulk("shared", queries(&[&ids[0]])).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(limited.headers()["x-ratelimit-limit"], "5");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = bulk("shared", queries(&[&ids[0]])).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    let r = report(&sb).await.providers["bol"].clone();
    assert_eq!(r.requests["POST /process-status"], 9);
    assert_eq!(r.rate_limited, 1);
    let samples = r.violation_samples.join(" | ");
    assert_eq!(
        r.violation_samples
            .iter()
            .filter(|v| v.starts_with("bulk process-status request"))
            .count(),
        3,
        "{samples}"
    );
    for expected in ["with Accept", "Content-Type", "over 5 per second"] {
        assert!(samples.contains(expected), "{expected} not in {samples}");
    }
}

#[tokio::test]
async fn faults_change_nothing_and_are_counted_and_reset_forgets() {
    let sb = start(Config {
        faults: 1.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let c = http();
    let base = sb.base_urls().safeshop;
    let token: Value = c
        .post(format!("{base}/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": SAFESHOP_CLIENT_ID, "client_secret": SAFESHOP_CLIENT_SECRET}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let r = c
            .post(format!("{base}/invites"))
            .header("authorization", &bearer)
            .json(&json!({"email": "jan@example.com", "order_id": format!("F-{i}")}))
            .send()
            .await;
        match r {
            Ok(r) => match r.bytes().await {
                Ok(_) => {
                    seen.insert("answered".to_owned());
                }
                Err(_) => {
                    seen.insert("dropped".to_owned());
                }
            },
            Err(_) => {
                seen.insert("dropped".to_owned());
            }
        }
    }
    let r = sb.report();
    let safeshop = &r.providers["safeshop"];
    assert_eq!(safeshop.faults, 40, "every non-token request is faulted at 1.0");
    assert_eq!(safeshop.token_requests, 1, "token requests are never faulted");
    // Faulted requests change nothing, even the delayed ones... which then run normally.
    let created = safeshop.created.get("invites").copied().unwrap_or(0);
    assert!(created < 40 && created > 0, "only delays go through: {created}");
    assert!(seen.contains("dropped"));
    let reset = c
        .post(format!("{}/__sandbox/reset", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let after = sb.report();
    assert_eq!(
        (after.providers, after.stock),
        (Default::default(), StockReport::default())
    );
    // The offers are seeded anew, as they were at the start.
    assert_eq!(after.offers, start(Config::default()).await.unwrap().offers());
}
