//! Safe.Shop on the wire: the token request, invites, and every status mapping.

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use commerce_core::{Customer, ProductRef, ReviewInvitation, ReviewPlatform};
use httpmock::Method::POST;
use httpmock::{HttpMockRequest, MockServer};
use safeshop_client::{Invite, InviteOutcome, SafeShopClient};
use serde_json::json;

const ID: &str = "ss-client-7";
const SECRET: &str = "ss-SECRET-9f2";
const TOKEN: &str = "ss-TOKEN-1a2b";

#[derive(Clone, Default)]
struct Bodies(Arc<Mutex<Vec<String>>>);

impl Bodies {
    fn matcher(&self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let seen = self.0.clone();
        move |req: &HttpMockRequest| {
            seen.lock().unwrap().push(req.body_string());
            true
        }
    }
    fn last(&self) -> String {
        self.0.lock().unwrap().last().cloned().unwrap()
    }
}

async fn token_mock(server: &MockServer) -> httpmock::Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/oauth/token")
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .json_body(json!({"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET, "scope": "*"}));
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({"token_type": "Bearer", "expires_in": 31536000, "access_token": TOKEN}));
        })
        .await
}

fn client(server: &MockServer) -> SafeShopClient {
    commerce_testing::sweep::install(&[SECRET, TOKEN]);
    SafeShopClient::builder(ID, SECRET.to_owned().into())
        .base_url(server.url("/v1"))
        .build()
        .unwrap()
}

fn full_invite() -> Invite {
    Invite {
        email: "jan@example.com".into(),
        order_id: "A-1001".into(),
        send_datetime: NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0),
        firstname: Some("Jan".into()),
        lastname: Some("Visser".into()),
        telephone: Some("+31612345678".into()),
        gender: Some("male".into()),
        customer_id: Some("C-77".into()),
        language: Some("nl".into()),
        city: Some("Amsterdam".into()),
        country: Some("NL".into()),
        postcode: Some("1012 LG".into()),
        company: Some("Visser BV".into()),
        segment: Some("b2c".into()),
        channel: Some("webshop".into()),
    }
}

#[tokio::test]
async fn an_invite_with_every_field_and_one_token_for_many() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let bodies = Bodies::default();
    let invites = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/invites")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .is_true(bodies.matcher());
            then.status(201).body(r#"{"success":true}"#);
        })
        .await;
    let c = client(&server);
    let outcome = c.create_invite(&full_invite()).await.unwrap();
    assert_eq!(
        outcome,
        InviteOutcome::Accepted {
            status: 201,
            body: r#"{"success":true}"#.into()
        }
    );
    let body: serde_json::Value = serde_json::from_str(&bodies.last()).unwrap();
    assert_eq!(body["send_datetime"], "2026-12-01 10:00:00");
    insta::assert_json_snapshot!("invite_body", body);
    for i in 0..4 {
        c.clone()
            .create_invite(&Invite {
                email: "a@example.com".into(),
                order_id: format!("B-{i}"),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    token.assert_calls_async(1).await;
    invites.assert_calls_async(5).await;
    assert_eq!(c.token_requests(), 1);
    let minimal: serde_json::Value = serde_json::from_str(&bodies.last()).unwrap();
    assert_eq!(
        minimal,
        json!({"email": "a@example.com", "order_id": "B-3"}),
        "absent fields are left out"
    );
}

#[tokio::test]
async fn the_token_request_can_be_a_form() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("client_id", ID)
                .form_urlencoded_tuple("client_secret", SECRET)
                .form_urlencoded_tuple("scope", "invites_readwrite");
            then.status(200).json_body(json!({"access_token": TOKEN}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/invites");
            then.status(200);
        })
        .await;
    let c = SafeShopClient::builder(ID, SECRET.to_owned().into())
        .base_url(server.url("/v1"))
        .scope("invites_readwrite")
        .form_token_request()
        .build()
        .unwrap();
    c.create_invite(&Invite {
        email: "jan@example.com".into(),
        order_id: "A-1".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    token.assert_async().await;
}

#[tokio::test]
async fn statuses_map_to_typed_results() {
    let cases: [(u16, &str); 4] = [
        (409, r#"{"message":"Invite already exists"}"#),
        (
            422,
            r#"{"message":"The given data was invalid.","errors":{"email":["The email must be a valid email address."]}}"#,
        ),
        (500, "Server Error"),
        (401, r#"{"message":"Unauthenticated."}"#),
    ];
    for (status, body) in cases {
        let server = MockServer::start_async().await;
        let token = token_mock(&server).await;
        let invites = server
            .mock_async(|when, then| {
                when.method(POST).path("/v1/invites");
                then.status(status).body(body);
            })
            .await;
        let result = client(&server)
            .create_invite(&Invite {
                email: "jan@example.com".into(),
                order_id: "A-1".into(),
                ..Default::default()
            })
            .await;
        match status {
            409 => assert_eq!(
                result.unwrap(),
                InviteOutcome::Duplicate {
                    body: "Invite already exists".into()
                }
            ),
            422 => {
                let err = result.unwrap_err();
                assert_eq!(err.field_errors()[0].field, "email");
                insta::assert_snapshot!("status_422", err);
            }
            500 => {
                let err = result.unwrap_err();
                assert_eq!(err.status(), Some(500));
                assert!(err.to_string().contains("Server Error"), "body text kept: {err}");
            }
            401 => {
                let err = result.unwrap_err();
                assert!(err.is_auth());
                token.assert_calls_async(2).await;
                invites.assert_calls_async(2).await;
                insta::assert_snapshot!("status_401", err);
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let mut bad = Invite {
        email: "jan(at)example".into(),
        order_id: " ".into(),
        ..Default::default()
    };
    bad.language = Some("NL".into());
    bad.country = Some("nld".into());
    let err = client(&server).create_invite(&bad).await.unwrap_err();
    insta::assert_snapshot!("invalid_invite", err);
    token.assert_calls_async(0).await;
}

#[tokio::test]
async fn as_a_review_platform_one_invite_per_order() {
    let server = MockServer::start_async().await;
    token_mock(&server).await;
    let invites = server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/invites").json_body(json!({
                "email": "jan@example.com",
                "order_id": "bol-1043946570",
                "firstname": "Jan",
                "lastname": "Visser",
                "language": "nl",
                "country": "NL"
            }));
            then.status(409);
        })
        .await;
    let platform: Box<dyn ReviewPlatform> = Box::new(client(&server));
    let receipt = platform
        .invite(&ReviewInvitation {
            order_id: "bol-1043946570".into(),
            customer: Customer {
                email: "jan@example.com".into(),
                first_name: Some("Jan".into()),
                last_name: Some("Visser".into()),
                language: Some("NL".into()),
            },
            products: vec![ProductRef {
                sku: "4770".into(),
                ..Default::default()
            }],
            country: Some("nl".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    invites.assert_async().await;
    assert!(receipt.already_invited);
    assert_eq!(platform.name(), "safeshop");
}

#[test]
fn secrets_never_show_and_plain_http_is_refused() {
    let b = SafeShopClient::builder(ID, SECRET.to_owned().into());
    assert!(!format!("{b:?}").contains(SECRET));
    let c = SafeShopClient::builder(ID, SECRET.to_owned().into())
        .build()
        .unwrap();
    assert!(!format!("{c:?}").contains(SECRET));
    let err = SafeShopClient::builder(ID, SECRET.to_owned().into())
        .base_url("http://api.safe.shop/v1")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"));
    let err = SafeShopClient::builder("", SECRET.to_owned().into())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client id is empty"));
}

#[tokio::test]
async fn time_limits_set_on_the_builder_keep_the_user_agent() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let invites = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/invites")
                .header_matches("user-agent", "^safeshop-client/[0-9.]+ commerce-core/");
            then.status(201);
        })
        .await;
    commerce_testing::sweep::install(&[SECRET, TOKEN]);
    let c = SafeShopClient::builder(ID, SECRET.to_owned().into())
        .base_url(server.url("/v1"))
        .timeout(std::time::Duration::from_secs(5))
        .deadline(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let invite = Invite {
        email: "jan@example.com".into(),
        order_id: "A-1".into(),
        ..Default::default()
    };
    c.create_invite(&invite).await.unwrap();
    token.assert_calls_async(1).await;
    invites.assert_calls_async(1).await;
}
