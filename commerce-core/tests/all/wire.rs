//! What an endpoint description puts on the wire, checked against httpmock.

use commerce_core::{
    Body, Endpoint, Error, HttpClient, Part, Response, Transport, Verdict, encode_segment, secure_base_url,
};
use http::header::HeaderName;
use httpmock::Method::{DELETE, GET, POST, PUT};
use httpmock::MockServer;
use serde::Deserialize;
use serde_json::json;

fn transport(server: &MockServer, base: &str) -> Transport {
    let http = HttpClient::new("wire-test-client", "9.8.7");
    Transport::builder(&http, "shop", &server.url(base))
        .build()
        .unwrap()
}

#[derive(Debug, Deserialize, PartialEq)]
struct Review {
    id: u64,
    rating: u8,
}

#[tokio::test]
async fn a_get_sends_its_query_accept_header_and_user_agent_and_decodes() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/businesses/example.com/reviews")
                .query_param("start", "0")
                .query_param("count", "100")
                .query_param_missing("sort")
                .header("accept", "application/vnd.retailer.v10+json")
                .header(
                    "user-agent",
                    format!(
                        "wire-test-client/9.8.7 commerce-core/{}",
                        env!("CARGO_PKG_VERSION")
                    ),
                )
                .header("accept-encoding", "gzip");
            then.status(200)
                .json_body(json!([{"id": 1, "rating": 5}, {"id": 2, "rating": 4}]));
        })
        .await;
    let ep = Endpoint::get(
        "reviews.list",
        format!("/businesses/{}/reviews", encode_segment("example.com")),
    )
    .query("start", 0)
    .query_opt("count", Some(100))
    .query_opt("sort", None::<&str>)
    .accept("application/vnd.retailer.v10+json");
    let reviews: Vec<Review> = transport(&server, "/v1").json(&ep).await.unwrap();
    mock.assert_async().await;
    assert_eq!(
        reviews,
        vec![Review { id: 1, rating: 5 }, Review { id: 2, rating: 4 }]
    );
}

#[tokio::test]
async fn a_json_body_goes_with_its_media_type() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/retailer/offers/abc/stock")
                .header("content-type", "application/vnd.retailer.v10+json")
                .json_body(json!({"amount": 6, "managedByRetailer": true}));
            then.status(202).json_body(json!({"processStatusId": "1"}));
        })
        .await;
    let ep = Endpoint::put("offers.stock", "retailer/offers/abc/stock")
        .json(&json!({"amount": 6, "managedByRetailer": true}))
        .content_type("application/vnd.retailer.v10+json");
    let answer = transport(&server, "/").send(&ep).await.unwrap();
    mock.assert_async().await;
    assert_eq!(answer.status(), 202);
}

#[tokio::test]
async fn a_form_body_is_url_encoded_in_order() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=shop%40example.com&password=p%26ss+word");
            then.status(200).json_body(json!({"status": "OK"}));
        })
        .await;
    let ep =
        Endpoint::post("login", "login").form([("email", "shop@example.com"), ("password", "p&ss word")]);
    transport(&server, "/v1").send(&ep).await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn a_multipart_body_carries_fields_and_files() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/product/reviews/add")
                .header_exists("content-type")
                .is_true(|req| {
                    let headers = req.headers();
                    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                    ct.starts_with("multipart/form-data; boundary=")
                })
                .body_includes("Content-Disposition: form-data; name=\"rating\"\r\n\r\n5\r\n")
                .body_includes("Content-Disposition: form-data; name=\"image1\"; filename=\"mug.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEGDATA\r\n")
                .body_includes("name=\"caption1\"\r\n\r\nThe mug\r\n");
            then.status(200).json_body(json!({"status": "OK"}));
        })
        .await;
    let ep = Endpoint::post("product_reviews.add", "product/reviews/add").multipart(vec![
        Part::text("rating", "5"),
        Part::file("image1", b"JPEGDATA".to_vec(), "mug.jpg", "image/jpeg"),
        Part::text("caption1", "The mug"),
    ]);
    transport(&server, "/v1").send(&ep).await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn a_delete_with_an_extra_header_and_a_raw_body() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path("/items/a%2Fb")
                .header("x-request-id", "42")
                .header("content-type", "text/csv")
                .body("ean;qty\n1;2\n");
            then.status(204);
        })
        .await;
    let ep = Endpoint::delete("items.delete", format!("items/{}", encode_segment("a/b")))
        .header(HeaderName::from_static("x-request-id"), "42")
        .body(Body::Raw {
            content_type: http::HeaderValue::from_static("text/csv"),
            bytes: "ean;qty\n1;2\n".into(),
        });
    let answer = transport(&server, "/").send(&ep).await.unwrap();
    mock.assert_async().await;
    assert!(answer.body().is_empty());
}

#[tokio::test]
async fn a_decode_failure_names_the_json_path_and_quotes_around_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/reviews");
            then.status(200)
                .json_body(json!([{"id": 1, "rating": 5}, {"id": 2, "rating": "five"}]));
        })
        .await;
    let err = transport(&server, "/")
        .json::<Vec<Review>>(&Endpoint::get("reviews.list", "reviews"))
        .await
        .unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(decode.path, "[1].rating");
    assert!(decode.excerpt.as_deref().unwrap().contains("\"five\""));
    assert!(!err.is_retryable() && err.may_have_reached_server());
    insta::assert_snapshot!("decode_error", err);
}

#[tokio::test]
async fn an_endpoint_with_bad_input_fails_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(200);
        })
        .await;
    let mut ep = Endpoint::post("invites.create", "invites");
    ep.fail(Error::invalid("email", "is not a well-formed address"));
    let err = transport(&server, "/").send(&ep).await.unwrap_err();
    assert!(err.is_invalid_input() && !err.may_have_reached_server());
    insta::assert_snapshot!("invalid_input", err);
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn plain_http_is_refused_for_public_hosts_and_absolute_urls() {
    let http = HttpClient::new("wire-test-client", "9.8.7");
    let err = Transport::builder(&http, "shop", "http://api.example.com/v1")
        .build()
        .unwrap_err();
    insta::assert_snapshot!("insecure_base_url", err);

    let server = MockServer::start_async().await;
    let t = transport(&server, "/");
    let download = Endpoint::get("export.get", "unused")
        .absolute(url::Url::parse("http://files.example.com/export.csv").unwrap());
    assert!(t.send(&download).await.unwrap_err().is_invalid_input());
    assert!(secure_base_url("https://files.example.com").is_ok());
}

#[test]
fn the_default_classifier_reads_401_as_expired_and_other_errors_as_failures() {
    use commerce_core::{Classifier, DefaultClassifier};
    let r = |status: u16| {
        Response::new(
            http::StatusCode::from_u16(status).unwrap(),
            http::HeaderMap::new(),
            bytes::Bytes::from_static(b"{\"message\":\"no\"}"),
            "p",
            "e",
        )
    };
    assert!(matches!(DefaultClassifier.classify(&r(204)), Verdict::Success));
    assert!(matches!(
        DefaultClassifier.classify(&r(401)),
        Verdict::AuthExpired(_)
    ));
    assert!(
        matches!(DefaultClassifier.classify(&r(403)), Verdict::Failure(ref e) if e.message.as_deref() == Some("no"))
    );
}
