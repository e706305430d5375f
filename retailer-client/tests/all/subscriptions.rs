//! bol's push subscriptions: listed, created or updated (enabled again) with the exact body
//! bol describes, the test push and the deletion, each 202 waited for through its process
//! status; bad input refused before anything is sent; a create never sent twice.

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use httpmock::Method::{DELETE, GET, POST, PUT};
use httpmock::MockServer;
use retailer_client::push::DEFAULT_RESOURCES;
use retailer_client::{Error, Subscription, SubscriptionResource};
use serde_json::{Value, json};
use support::{client, setup};

const V10: &str = "application/vnd.retailer.v10+json";
const URL: &str = "https://shop.example.nl/push/bol";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn answer(status: u16, body: &str) -> httpmock::HttpMockResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", V10)
        .body(body.to_owned())
        .unwrap()
        .into()
}

fn process(id: &str, event_type: &str, status: &str, entity: Option<&str>) -> Value {
    let mut p = json!({"processStatusId": id, "eventType": event_type, "status": status,
                       "description": format!("{event_type} for the retailer"),
                       "createTimestamp": "2026-12-07T13:30:00+01:00", "links": []});
    if let Some(e) = entity {
        p["entityId"] = json!(e);
    }
    p
}

/// `GET /retailer/subscriptions`, answering the given bodies in turn (the last repeats).
async fn listing<'a>(server: &'a MockServer, bodies: Vec<Value>) -> httpmock::Mock<'a> {
    let n = Arc::new(AtomicU32::new(0));
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/retailer/subscriptions")
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |_| {
                let i = n.fetch_add(1, Ordering::SeqCst) as usize;
                answer(200, &bodies[i.min(bodies.len() - 1)].to_string())
            });
        })
        .await
}

/// `GET /shared/process-status/{id}`: `last` at once (the wait's first poll).
async fn process_poll<'a>(server: &'a MockServer, id: &str, last: Value) -> httpmock::Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path(format!("/shared/process-status/{id}"))
                .header("accept", V10);
            then.status(200).header("content-type", V10).json_body(last);
        })
        .await
}

/// A change (`method` `path`) with bol's media types, keeping each JSON body; answered 202
/// with `started`.
async fn change<'a>(
    server: &'a MockServer,
    method: httpmock::Method,
    path: &str,
    bodies: Arc<Mutex<Vec<Value>>>,
    started: String,
) -> httpmock::Mock<'a> {
    let with_body = matches!(method, POST | PUT) && !path.contains("/test/");
    server
        .mock_async(move |when, then| {
            let when = when
                .method(method)
                .path(path)
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            if with_body {
                when.header("content-type", V10);
            }
            then.respond_with(move |req| {
                let body = req.body().as_ref();
                if !body.is_empty() {
                    bodies.lock().unwrap().push(serde_json::from_slice(body).unwrap());
                }
                answer(202, &started)
            });
        })
        .await
}

fn webhook(id: &str, url: &str, enabled: Option<bool>) -> Value {
    let mut s = json!({"id": id, "resources": ["PROCESS_STATUS"], "url": url, "subscriptionType": "WEBHOOK"});
    if let Some(e) = enabled {
        s["enabled"] = json!(e);
    }
    s
}

#[tokio::test]
async fn subscriptions_are_listed_tolerantly() {
    let server = setup().await;
    let fixture: Value = serde_json::from_str(&fixture("subscriptions.json")).unwrap();
    let mock = listing(&server, vec![fixture]).await;
    let subs = client(&server).subscriptions().await.unwrap();
    mock.assert_async().await;
    assert_eq!(
        subs,
        [
            Subscription {
                id: "1234".into(),
                resources: vec!["ORDER".into(), "PROCESS_STATUS".into(), "SHIPMENT".into()],
                url: "https://shop.example.nl/push/bol".into(),
                subscription_type: "WEBHOOK".into(),
                enabled: true,
            },
            Subscription {
                id: "1235".into(),
                resources: vec!["OFFER_FOR_SALE".into()],
                url: "projects/shop/topics/bol".into(),
                subscription_type: "GCP_PUBSUB".into(),
                enabled: false,
            },
        ]
    );
    // None at all: bol's empty answer.
    let server = setup().await;
    listing(&server, vec![json!({})]).await;
    assert!(client(&server).subscriptions().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_new_subscription_is_created_and_waited_for() {
    let server = setup().await;
    let created = webhook("5678", URL, Some(true));
    let list = listing(&server, vec![json!({}), json!({"subscriptions": [created]})]).await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let post = change(
        &server,
        POST,
        "/retailer/subscriptions",
        bodies.clone(),
        process("p-create", "CREATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    let poll = process_poll(
        &server,
        "p-create",
        process("p-create", "CREATE_SUBSCRIPTION", "SUCCESS", Some("5678")),
    )
    .await;
    let sub = client(&server).subscribe(URL, &DEFAULT_RESOURCES).await.unwrap();
    assert_eq!(sub.id, "5678");
    assert!(sub.enabled);
    assert_eq!(post.calls_async().await, 1);
    assert!(poll.calls_async().await >= 1);
    assert_eq!(
        list.calls_async().await,
        2,
        "before, and the subscription as bol lists it"
    );
    insta::assert_json_snapshot!("subscription_create_body", bodies.lock().unwrap()[0]);
}

#[tokio::test]
async fn the_subscription_for_the_url_is_updated_and_enabled_again() {
    let server = setup().await;
    // Disabled by bol after failed deliveries; another webhook exists too.
    let before = json!({"subscriptions": [webhook("1", "https://other.example.nl/x", None), webhook("1234", URL, Some(false))]});
    let after = json!({"subscriptions": [webhook("1", "https://other.example.nl/x", None), webhook("1234", URL, Some(true))]});
    listing(&server, vec![before, after]).await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let put = change(
        &server,
        PUT,
        "/retailer/subscriptions/1234",
        bodies.clone(),
        process("p-put", "UPDATE_SUBSCRIPTION", "PENDING", Some("1234")).to_string(),
    )
    .await;
    process_poll(
        &server,
        "p-put",
        process("p-put", "UPDATE_SUBSCRIPTION", "SUCCESS", Some("1234")),
    )
    .await;
    let resources = [SubscriptionResource::Order, SubscriptionResource::Order];
    let sub = client(&server).subscribe(URL, &resources).await.unwrap();
    assert_eq!((sub.id.as_str(), sub.enabled), ("1234", true));
    assert_eq!(put.calls_async().await, 1);
    insta::assert_json_snapshot!("subscription_update_body", bodies.lock().unwrap()[0]);
}

#[tokio::test]
async fn a_webhook_elsewhere_is_never_taken_over() {
    // One webhook elsewhere (another tool's, or an old URL): left alone; a new one is
    // created for the URL.
    let server = setup().await;
    let other = webhook("77", "https://old.example.nl/push", Some(false));
    listing(
        &server,
        vec![
            json!({"subscriptions": [other.clone()]}),
            json!({"subscriptions": [other, webhook("78", URL, Some(true))]}),
        ],
    )
    .await;
    let put = change(
        &server,
        PUT,
        "/retailer/subscriptions/77",
        Arc::default(),
        process("p-77", "UPDATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let post = change(
        &server,
        POST,
        "/retailer/subscriptions",
        bodies.clone(),
        process("p-78", "CREATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    process_poll(
        &server,
        "p-78",
        process("p-78", "CREATE_SUBSCRIPTION", "SUCCESS", Some("78")),
    )
    .await;
    let sub = client(&server).subscribe(URL, &DEFAULT_RESOURCES).await.unwrap();
    assert_eq!(
        (sub.id.as_str(), sub.url.as_str(), sub.enabled),
        ("78", URL, true)
    );
    assert_eq!(put.calls_async().await, 0, "the other webhook is not changed");
    assert_eq!(post.calls_async().await, 1);
    assert_eq!(bodies.lock().unwrap()[0]["url"], json!(URL));

    // Two webhooks elsewhere: neither is taken over; a new one is created.
    let server = setup().await;
    let two = vec![
        webhook("1", "https://a.example.nl/", None),
        webhook("2", "https://b.example.nl/", None),
    ];
    let mut three = two.clone();
    three.push(webhook("3", URL, None));
    listing(
        &server,
        vec![json!({"subscriptions": two}), json!({"subscriptions": three})],
    )
    .await;
    let post = change(
        &server,
        POST,
        "/retailer/subscriptions",
        Arc::default(),
        process("p-3", "CREATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    process_poll(
        &server,
        "p-3",
        process("p-3", "CREATE_SUBSCRIPTION", "SUCCESS", Some("3")),
    )
    .await;
    let sub = client(&server).subscribe(URL, &DEFAULT_RESOURCES).await.unwrap();
    assert_eq!(sub.id, "3");
    assert_eq!(post.calls_async().await, 1);
}

#[tokio::test]
async fn a_lost_answer_to_the_create_is_looked_up_never_sent_again() {
    // It arrived: found by its URL.
    let server = setup().await;
    listing(
        &server,
        vec![json!({}), json!({"subscriptions": [webhook("9", URL, None)]})],
    )
    .await;
    let post = change(
        &server,
        POST,
        "/retailer/subscriptions",
        Arc::default(),
        "<html>Accepted</html>".into(),
    )
    .await;
    let sub = client(&server).subscribe(URL, &DEFAULT_RESOURCES).await.unwrap();
    assert_eq!(sub.id, "9");
    assert_eq!(post.calls_async().await, 1, "sent once");

    // Not listed: the unconfirmed error, still sent once.
    let server = setup().await;
    listing(&server, vec![json!({})]).await;
    let post = change(
        &server,
        POST,
        "/retailer/subscriptions",
        Arc::default(),
        "<html>Accepted</html>".into(),
    )
    .await;
    let err = client(&server)
        .subscribe(URL, &DEFAULT_RESOURCES)
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err}");
    assert_eq!(post.calls_async().await, 1, "sent once");
}

#[tokio::test]
async fn a_failed_create_is_an_error_with_bols_message() {
    let server = setup().await;
    listing(&server, vec![json!({})]).await;
    change(
        &server,
        POST,
        "/retailer/subscriptions",
        Arc::default(),
        process("p-f", "CREATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    let mut failed = process("p-f", "CREATE_SUBSCRIPTION", "FAILURE", None);
    failed["errorMessage"] = json!("The url is not reachable.");
    process_poll(&server, "p-f", failed).await;
    let err = client(&server)
        .subscribe(URL, &DEFAULT_RESOURCES)
        .await
        .unwrap_err();
    insta::assert_snapshot!(err, @"bol process-status CREATE_SUBSCRIPTION: provider error (HTTP 200) FAILURE: The url is not reachable.");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let server = setup().await;
    let any = server
        .mock_async(|when, then| {
            when.path_includes("/retailer/");
            then.status(500);
        })
        .await;
    let bol = client(&server);
    let refused = |r: Result<Subscription, Error>| {
        let e = r.unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
        e.to_string()
    };
    insta::assert_snapshot!(
        refused(bol.subscribe("http://shop.example.nl/push/bol", &DEFAULT_RESOURCES).await),
        @"invalid input: url: refusing plain http:// to `shop.example.nl`: credentials and customer data must travel over https:// (plain http is allowed for loopback hosts only)"
    );
    insta::assert_snapshot!(refused(bol.subscribe("  ", &DEFAULT_RESOURCES).await), @"invalid input: url: a push URL is required");
    insta::assert_snapshot!(refused(bol.subscribe("shop.example.nl/push", &DEFAULT_RESOURCES).await), @"invalid input: url: `shop.example.nl/push` is not a valid URL: relative URL without a base");
    insta::assert_snapshot!(refused(bol.subscribe(URL, &[]).await), @"invalid input: resources: at least one resource is required");
    insta::assert_snapshot!(
        refused(bol.subscribe(URL, &[SubscriptionResource::Other("order\n".into())]).await),
        @r"invalid input: resources: order\n is not a resource name (ORDER, PROCESS_STATUS, SHIPMENT, …)"
    );
    assert!(bol.test_subscription(" ").await.unwrap_err().is_invalid_input());
    assert!(bol.unsubscribe("").await.unwrap_err().is_invalid_input());
    assert_eq!(any.calls_async().await, 0, "nothing sent");
}

#[tokio::test]
async fn plain_http_to_a_loopback_host_is_accepted() {
    let server = setup().await;
    let local = "http://127.0.0.1:8080/push/bol";
    listing(
        &server,
        vec![
            json!({"subscriptions": [webhook("1", local, Some(false))]}),
            json!({"subscriptions": [webhook("1", local, None)]}),
        ],
    )
    .await;
    change(
        &server,
        PUT,
        "/retailer/subscriptions/1",
        Arc::default(),
        process("p-l", "UPDATE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    process_poll(
        &server,
        "p-l",
        process("p-l", "UPDATE_SUBSCRIPTION", "SUCCESS", Some("1")),
    )
    .await;
    let sub = client(&server)
        .subscribe(local, &DEFAULT_RESOURCES)
        .await
        .unwrap();
    assert!(sub.enabled);
}

#[tokio::test]
async fn the_test_push_and_the_deletion_wait_for_their_process_status() {
    let server = setup().await;
    let test = change(
        &server,
        POST,
        "/retailer/subscriptions/test/1234",
        Arc::default(),
        process("p-test", "SEND_SUBSCRIPTION_TST_MSG", "PENDING", None).to_string(),
    )
    .await;
    let test_poll = process_poll(
        &server,
        "p-test",
        process("p-test", "SEND_SUBSCRIPTION_TST_MSG", "SUCCESS", Some("1234")),
    )
    .await;
    let delete = change(
        &server,
        DELETE,
        "/retailer/subscriptions/1234",
        Arc::default(),
        process("p-del", "DELETE_SUBSCRIPTION", "PENDING", None).to_string(),
    )
    .await;
    let delete_poll = process_poll(
        &server,
        "p-del",
        process("p-del", "DELETE_SUBSCRIPTION", "SUCCESS", Some("1234")),
    )
    .await;
    let bol = client(&server);
    bol.test_subscription("1234").await.unwrap();
    assert_eq!(test.calls_async().await, 1);
    assert!(test_poll.calls_async().await >= 1);
    bol.unsubscribe("1234").await.unwrap();
    assert_eq!(delete.calls_async().await, 1);
    assert!(delete_poll.calls_async().await >= 1);
}

#[tokio::test]
async fn a_test_push_bol_could_not_deliver_is_an_error() {
    let server = setup().await;
    change(
        &server,
        POST,
        "/retailer/subscriptions/test/1234",
        Arc::default(),
        process("p-t", "SEND_SUBSCRIPTION_TST_MSG", "PENDING", None).to_string(),
    )
    .await;
    let mut failed = process("p-t", "SEND_SUBSCRIPTION_TST_MSG", "FAILURE", None);
    failed["errorMessage"] = json!("The endpoint answered 500.");
    process_poll(&server, "p-t", failed).await;
    let err = client(&server).test_subscription("1234").await.unwrap_err();
    assert!(err.to_string().contains("The endpoint answered 500."), "{err}");
}
