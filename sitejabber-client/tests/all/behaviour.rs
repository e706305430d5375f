//! Errors, re-login, rate limits, pacing, the ReviewPlatform and secrets.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_core::{Customer, Error, ProductRef, ReviewInvitation, ReviewPlatform};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;
use sitejabber_client::{ErrorCode, SitejabberClient};
use support::{
    CLIENT_TOKEN, DOMAIN, EMAIL, PASSWORD, USER_TOKEN, authed, biz, client, fixture, server_with_login,
};

fn envelope_error(code: i64, reason: &str) -> serde_json::Value {
    json!({"status": "ERROR", "success": false, "errorCode": code, "errorReason": reason})
}

#[tokio::test]
async fn every_documented_error_code_maps_to_its_typed_case() {
    let table: [(i64, ErrorCode); 27] = [
        (101, ErrorCode::ClientTokenInvalid),
        (102, ErrorCode::ClientTokenRevoked),
        (201, ErrorCode::InvalidCredentials),
        (202, ErrorCode::UserDisabled),
        (203, ErrorCode::UserTokenInvalid),
        (204, ErrorCode::SessionInvalid),
        (205, ErrorCode::UserAccessCreationFailed),
        (206, ErrorCode::UserAccessInvalid),
        (207, ErrorCode::UserTokenExpired),
        (301, ErrorCode::BusinessNotAvailable),
        (302, ErrorCode::MissingParameter),
        (303, ErrorCode::LimitExceeded),
        (304, ErrorCode::EmailAlreadyExists),
        (305, ErrorCode::ReviewNotFound),
        (306, ErrorCode::MalformedParameter),
        (307, ErrorCode::UserNotFound),
        (308, ErrorCode::InsufficientPermissions),
        (309, ErrorCode::ReviewRequestRemovalFailed),
        (310, ErrorCode::ProductReviewRequestRemovalFailed),
        (311, ErrorCode::ImageUploadFailed),
        (399, ErrorCode::Unexpected),
        (401, ErrorCode::ProductNotFound),
        (402, ErrorCode::ImageNotFound),
        (403, ErrorCode::ProductReviewNotFound),
        (404, ErrorCode::VoteTooSoon),
        (429, ErrorCode::RateLimited),
        (503, ErrorCode::Maintenance),
    ];
    for (code, typed) in table {
        let server = server_with_login().await;
        let m = server
            .mock_async(|when, then| {
                authed(when.method(GET).path(biz("review")).query_param("review_no", "5"));
                // Errors come in the body with HTTP 200: the envelope decides.
                then.status(200).json_body(envelope_error(code, "reason text"));
            })
            .await;
        let err = client(&server).review(5).await.unwrap_err();
        assert_eq!(ErrorCode::of(&err), Some(typed), "{code}: {err}");
        assert!(
            err.to_string().contains("reason text"),
            "{code}: the provider's message is kept: {err}"
        );
        let calls = m.calls_async().await;
        match code {
            203 | 204 | 207 => {
                assert!(err.is_auth(), "{code}");
                assert_eq!(calls, 2, "{code}: one new login, one retry");
            }
            101 | 102 | 201 | 202 | 205 | 206 => {
                assert!(err.is_auth(), "{code}");
                assert_eq!(calls, 1, "{code}: wrong credentials are not retried");
            }
            429 => {
                assert!(err.is_rate_limited(), "{code}");
                assert!(matches!(err, Error::RateLimited { .. }), "{code}: {err:?}");
                assert_eq!(calls, 3, "{code}: retried as a 429");
                assert_eq!(err.status(), Some(200), "{code}: the HTTP status is kept");
            }
            503 => {
                assert!(err.is_retryable() && !err.is_rate_limited(), "{code}");
                assert_eq!(calls, 3, "{code}: retried as a 503");
                assert_eq!(err.status(), Some(200), "{code}: the HTTP status is kept");
            }
            _ => {
                assert!(!err.is_retryable() && !err.is_auth(), "{code}");
                assert_eq!(calls, 1, "{code}");
            }
        }
    }
}

#[tokio::test]
async fn error_displays_keep_the_providers_code_and_reason() {
    let server = server_with_login().await;
    server
        .mock_async(|when, then| {
            authed(when.method(GET).path(biz("review")));
            then.status(200)
                .json_body(envelope_error(305, "The review does not exist"));
        })
        .await;
    let err = client(&server).review(9).await.unwrap_err();
    insta::assert_snapshot!("review_not_found", err);
}

#[tokio::test]
async fn an_expired_user_token_logs_in_again_once_and_retries() {
    let server = MockServer::start_async().await;
    // The first login hands out an old token; Sitejabber refuses it with 207.
    let logins = Arc::new(Mutex::new(0));
    let count = logins.clone();
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/login").is_true(move |_| {
                *count.lock().unwrap() += 1;
                true
            });
            then.status(200).body(fixture("login.json"));
        })
        .await;
    let refused = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(biz(""))
                .header("user_token", USER_TOKEN)
                .is_true({
                    let logins = logins.clone();
                    move |_| *logins.lock().unwrap() < 2
                });
            then.status(200)
                .json_body(envelope_error(207, "User token is expired"));
        })
        .await;
    let accepted = server
        .mock_async(|when, then| {
            when.method(GET).path(biz("")).header("user_token", USER_TOKEN);
            then.status(200).body(fixture("business.json"));
        })
        .await;
    let c = client(&server);
    let b = c.business(&[]).await.unwrap();
    assert_eq!(b.name, "Fietsenwinkel");
    refused.assert_calls_async(1).await;
    accepted.assert_calls_async(1).await;
    assert_eq!(c.logins(), 2);
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error_without_retries() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/login");
            then.status(200)
                .json_body(envelope_error(201, "Email or password invalid"));
        })
        .await;
    let err = client(&server).business(&[]).await.unwrap_err();
    assert!(err.is_auth());
    assert_eq!(ErrorCode::of(&err), Some(ErrorCode::InvalidCredentials));
    login.assert_calls_async(1).await;
    insta::assert_snapshot!("wrong_password", err);
}

#[tokio::test]
async fn an_http_429_is_waited_out_for_safe_calls_and_not_for_creates_that_may_have_arrived() {
    let server = server_with_login().await;
    let limited = server
        .mock_async(|when, then| {
            authed(when.method(GET).path(biz("reviews")));
            then.status(429)
                .header("retry-after", "0")
                .body("Too many requests");
        })
        .await;
    let err = client(&server)
        .reviews(&Default::default(), 0, 10)
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    limited.assert_calls_async(3).await;
}

#[tokio::test(start_paused = true)]
async fn pacing_keeps_under_10_per_10_seconds() {
    let server = server_with_login().await;
    server
        .mock_async(|when, then| {
            authed(when.method(GET).path(biz("reviews")));
            then.status(200)
                .json_body(json!({"reviews": [], "status": "OK", "success": true}));
        })
        .await;
    let c = SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .client_token(CLIENT_TOKEN.to_owned().into())
        .domain(DOMAIN)
        .base_url(server.url("/v1/"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let calls: Vec<_> = (0..25)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.reviews(&Default::default(), 0, 10).await.map(|_| ()) })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // 26 calls (the login and 25 lists) at 10 per 10 s: the 21st can start at 20 s at the
    // earliest.
    assert!(
        start.elapsed() >= Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let limiter = c.transport().limiter(None);
    assert_eq!(limiter.granted(), 26);
    assert_eq!(
        limiter.quotas(),
        vec![
            commerce_core::Quota::new(10, Duration::from_secs(10)),
            commerce_core::Quota::per_hour(1000)
        ]
    );
    // No upper bound: a call is counted when its answer is back, and paused time jumps to
    // the next timer while a real socket waits, so simulated time says nothing about how
    // long the answers took. commerce-core's limiter tests show it reaches the full rate.
}

fn invitation(skus: &[&str]) -> ReviewInvitation {
    ReviewInvitation {
        order_id: "FW-9001".into(),
        customer: Customer {
            email: "jan@example.com".into(),
            first_name: Some("Jan".into()),
            last_name: Some("Visser".into()),
            language: Some("nl".into()),
        },
        products: skus
            .iter()
            .map(|s| ProductRef {
                sku: (*s).into(),
                ..Default::default()
            })
            .collect(),
        ordered_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
                .unwrap()
                .to_utc(),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn as_a_review_platform_it_sends_a_review_request_and_a_product_review_request() {
    let server = server_with_login().await;
    let review = server
        .mock_async(|when, then| {
            authed(
                when.method(POST).path(biz("review/request/add")).body(
                    "email=jan%40example.com&order_id=FW-9001&order_date=2026-11-20&first_name=Jan&last_name=Visser&\
                     language=nl&product_skus=4770%2C4771",
                ),
            );
            then.status(200).json_body(json!({"status": "OK", "success": true}));
        })
        .await;
    let products = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("product/review/request/add")).body(
                "email=jan%40example.com&product_skus=4770%2C4771&order_id=FW-9001&order_date=2026-11-20&\
                 first_name=Jan&last_name=Visser&language=nl",
            ));
            then.status(200)
                .json_body(json!({"status": "OK", "success": true}));
        })
        .await;
    let platform: Box<dyn ReviewPlatform> = Box::new(client(&server));
    let receipt = platform.invite(&invitation(&["4770", "4771"])).await.unwrap();
    review.assert_async().await;
    products.assert_async().await;
    assert_eq!(receipt.platform, "sitejabber");
    assert!(!receipt.already_invited);
}

#[tokio::test]
async fn without_skus_no_product_review_request_is_sent_and_a_repeat_counts_as_sent() {
    let server = server_with_login().await;
    let review = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("review/request/add")));
            then.status(200)
                .json_body(envelope_error(304, "Email already exists"));
        })
        .await;
    let products = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("product/review/request/add")));
            then.status(200)
                .json_body(json!({"status": "OK", "success": true}));
        })
        .await;
    let receipt = client(&server).invite(&invitation(&[])).await.unwrap();
    assert!(receipt.already_invited);
    review.assert_calls_async(1).await;
    products.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_rating_summary_comes_from_the_business_profile() {
    let server = server_with_login().await;
    server
        .mock_async(|when, then| {
            authed(when.method(GET).path(biz("")));
            then.status(200).body(fixture("business.json"));
        })
        .await;
    let summary = client(&server).rating_summary().await.unwrap().unwrap();
    assert_eq!((summary.average, summary.count, summary.scale), (4.62, 212, 5.0));
}

#[tokio::test]
async fn no_secret_shows_in_debug_or_errors() {
    let server = server_with_login().await;
    server
        .mock_async(|when, then| {
            authed(when.method(GET).path(biz("")));
            then.status(500).body("boom");
        })
        .await;
    let c = client(&server);
    let err = c.business(&[]).await.unwrap_err();
    let builder = SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .client_token(CLIENT_TOKEN.to_owned().into())
        .domain(DOMAIN);
    let shown = format!("{c:?} {builder:?} {err} {err:?}");
    for secret in [CLIENT_TOKEN, USER_TOKEN, PASSWORD] {
        assert!(!shown.contains(secret), "{secret} shows in {shown}");
    }
    let login: sitejabber_client::Login = serde_json::from_str(&fixture("login.json")).unwrap();
    assert!(!format!("{login:?}").contains(USER_TOKEN));
}

#[test]
fn empty_credentials_and_plain_http_are_refused() {
    let err = SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .client_token("".to_owned().into())
        .domain(DOMAIN)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client_token: is required"), "{err}");
    // The API key and the domain are named setters: leaving them out is named too.
    let err = SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("client_token: is required")
            && err.to_string().contains("domain: is required"),
        "{err}"
    );
    let err = SitejabberClient::builder(EMAIL, PASSWORD.to_owned().into())
        .client_token(CLIENT_TOKEN.to_owned().into())
        .domain(DOMAIN)
        .base_url("http://api.sitejabber.com/v1/")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"), "{err}");
}

#[test]
fn from_env_names_the_missing_variable() {
    // This test process never sets SITEJABBER_* variables.
    if std::env::var("SITEJABBER_CLIENT_TOKEN").is_err() {
        let err = SitejabberClient::from_env().unwrap_err();
        assert!(
            err.to_string().contains(
                "the variables SITEJABBER_CLIENT_TOKEN, SITEJABBER_EMAIL, SITEJABBER_PASSWORD, SITEJABBER_DOMAIN are not set (or are blank)"
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_retried_invitation_sends_only_the_part_that_failed() {
    let server = server_with_login().await;
    let review = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("review/request/add")));
            then.status(200)
                .json_body(json!({"status": "OK", "success": true}));
        })
        .await;
    let failures = Arc::new(Mutex::new(1u32));
    let left = failures.clone();
    let failing = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("product/review/request/add"))).is_true(move |_| {
                let mut n = left.lock().unwrap();
                let fail = *n > 0;
                *n = n.saturating_sub(1);
                fail
            });
            then.status(200)
                .json_body(envelope_error(399, "Unexpected error"));
        })
        .await;
    let products = server
        .mock_async(|when, then| {
            // The same SKU on two lines goes out once.
            authed(when.method(POST).path(biz("product/review/request/add")))
                .form_urlencoded_tuple("product_skus", "4770");
            then.status(200)
                .json_body(json!({"status": "OK", "success": true}));
        })
        .await;
    let c = client(&server);
    let invitation = invitation(&["4770", "4770"]);
    assert!(c.invite(&invitation).await.is_err(), "the product part failed");
    let receipt = c.invite(&invitation).await.unwrap();
    assert!(!receipt.already_invited);
    review.assert_calls_async(1).await;
    failing.assert_calls_async(1).await;
    products.assert_calls_async(1).await;
}
