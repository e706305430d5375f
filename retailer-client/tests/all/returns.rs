//! bol's returns as a SalesChannel: the open FBR returns page by page, one return, and the
//! handling of one item (read first, a process under way waited for, the PUT sent once and
//! never re-sent after a lost answer, its process status waited for).

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commerce_core::{HandlingResult, ReturnHandling, SalesChannel};
use commerce_testing::{Reply, ScriptedServer};
use futures_util::TryStreamExt;
use httpmock::Method::{GET, PUT};
use httpmock::MockServer;
use retailer_client::models::ReturnRequest;
use retailer_client::{RetailerClient, WaitOptions};
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, client, setup};

const V10: &str = "application/vnd.retailer.v10+json";
const RMA: &str = "31234567";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `return.json`, its first item (RMA 31234567) handled as given (`None`: open).
fn the_return(handled: Option<(&str, u32)>) -> Value {
    let mut r: Value = serde_json::from_str(&fixture("return.json")).unwrap();
    if let Some((result, quantity)) = handled {
        r["returnItems"][0]["handled"] = json!(true);
        r["returnItems"][0]["processingResults"] = json!([{
            "quantity": quantity, "processingResult": "ACCEPTED", "handlingResult": result,
            "processingDateTime": "2026-12-07T10:55:37+01:00"
        }]);
    }
    r
}

fn process(id: &str, status: &str) -> Value {
    json!({"processStatusId": id, "entityId": RMA, "eventType": "HANDLE_RETURN_ITEM",
           "description": format!("Handle return item {RMA}"), "status": status,
           "createTimestamp": "2026-12-07T10:55:30+01:00", "links": []})
}

fn handling(result: HandlingResult, quantity: u32) -> ReturnHandling {
    ReturnHandling {
        return_id: "1".into(),
        rma_id: RMA.into(),
        result,
        quantity,
    }
}

fn fast_wait() -> WaitOptions {
    WaitOptions {
        deadline: Duration::from_secs(5),
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..Default::default()
    }
}

fn answer(status: u16, body: &Value) -> httpmock::HttpMockResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", V10)
        .body(body.to_string())
        .unwrap()
        .into()
}

/// `GET /retailer/returns/1`, answering the given bodies in turn (the last repeats).
async fn return_reads<'a>(server: &'a MockServer, bodies: Vec<Value>) -> httpmock::Mock<'a> {
    let n = Arc::new(AtomicU32::new(0));
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/retailer/returns/1")
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |_| {
                let i = n.fetch_add(1, Ordering::SeqCst) as usize;
                answer(200, &bodies[i.min(bodies.len() - 1)])
            });
        })
        .await
}

/// `GET /shared/process-status?entity-id=31234567&event-type=HANDLE_RETURN_ITEM`.
async fn processes_by_rma<'a>(server: &'a MockServer, statuses: Vec<Value>) -> httpmock::Mock<'a> {
    let body = if statuses.is_empty() {
        json!({})
    } else {
        json!({"processStatuses": statuses})
    };
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/shared/process-status")
                .query_param("entity-id", RMA)
                .query_param("event-type", "HANDLE_RETURN_ITEM")
                .header("accept", V10);
            then.status(200).header("content-type", V10).json_body(body);
        })
        .await
}

/// `PUT /retailer/returns/31234567` with bol's media type, keeping each body; answered 202
/// with process `p-handle` PENDING.
async fn handle_put<'a>(server: &'a MockServer, bodies: Arc<Mutex<Vec<Value>>>) -> httpmock::Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(PUT)
                .path(format!("/retailer/returns/{RMA}"))
                .header("accept", V10)
                .header("content-type", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |req| {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(req.body().as_ref()).unwrap());
                answer(202, &process("p-handle", "PENDING"))
            });
        })
        .await
}

/// `GET /shared/process-status/{id}`: PENDING once, then `last`.
async fn process_polls<'a>(server: &'a MockServer, id: &'static str, last: Value) -> httpmock::Mock<'a> {
    let n = Arc::new(AtomicU32::new(0));
    server
        .mock_async(move |when, then| {
            when.method(GET).path(format!("/shared/process-status/{id}"));
            then.respond_with(move |_| {
                if n.fetch_add(1, Ordering::SeqCst) == 0 {
                    answer(200, &process(id, "PENDING"))
                } else {
                    answer(200, &last)
                }
            });
        })
        .await
}

#[tokio::test]
async fn open_returns_are_read_page_by_page_and_tolerantly() {
    let server = setup().await;
    let pages: Vec<httpmock::Mock<'_>> = futures_util::future::join_all(
        [
            ("1", fixture("returns-open.json")),
            ("2", fixture("returns-open-page2.json")),
            ("3", "{}".to_owned()),
        ]
        .into_iter()
        .map(|(page, body)| {
            server.mock_async(move |when, then| {
                when.method(GET)
                    .path("/retailer/returns")
                    .query_param("page", page)
                    .query_param("handled", "false")
                    .query_param("fulfilment-method", "FBR")
                    .header("accept", V10)
                    .header("authorization", "Bearer tok-1");
                then.status(200).header("content-type", V10).body(body);
            })
        }),
    )
    .await;
    let returns: Vec<_> = client(&server).open_returns().try_collect().await.unwrap();
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    let ids: Vec<(&str, Vec<&str>)> = returns
        .iter()
        .map(|r| {
            (
                r.return_id.as_str(),
                r.items.iter().map(|i| i.rma_id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("1", vec!["31234567", "31234568"]),
            ("2", vec!["31234570"]),
            ("3", vec!["31234575"])
        ]
    );
    let first = &returns[0].items[0];
    assert_eq!(
        first.reason.as_deref(),
        Some("Verkeerde maat of afmeting / Te groot: Valt een maat groter uit dan verwacht.")
    );
    assert_eq!(
        returns[0].registered_at.unwrap().to_rfc3339(),
        "2026-11-30T10:06:48.423+00:00",
        "read with its offset"
    );
    assert_eq!(returns[0].items[1].reason.as_deref(), Some("Elders goedkoper"));
    assert_eq!(returns[0].items[1].expected, 2);
    assert!(
        returns
            .iter()
            .all(|r| !r.fulfilled_by_channel && r.channel == "bol")
    );
    // An item without its order id, quantity and reason keeps what reads.
    let bare = &returns[2].items[0];
    assert_eq!(
        (
            bare.order_id.as_str(),
            bare.ean.as_str(),
            bare.expected,
            &bare.reason
        ),
        ("", "8712345678913", 0, &None)
    );
    insta::assert_json_snapshot!("open_returns", returns);
}

/// bol's empty first page is `{}`: no returns, one request.
#[tokio::test]
async fn no_open_returns_is_an_empty_object() {
    let server = setup().await;
    let page = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/returns")
                .query_param("page", "1");
            then.status(200).header("content-type", V10).body("{}");
        })
        .await;
    let returns: Vec<_> = client(&server).open_returns().try_collect().await.unwrap();
    assert!(returns.is_empty());
    page.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_return_is_read_with_its_handling_and_a_404_is_none() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/returns/404");
            then.status(404).header("content-type", V10).json_body(json!({
                "type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
                "detail": "Return 404 not found."
            }));
        })
        .await;
    let bol = client(&server);
    let r = bol.return_state("1").await.unwrap().unwrap();
    let open = &r.items[0];
    assert_eq!(open.title.as_deref(), Some("Harry Potter en de steen der wijzen"));
    assert_eq!(open.track_and_trace.as_deref(), Some("3SBOL0987654321"));
    assert_eq!(open.transporter.as_deref(), Some("PostNL"));
    assert!(!open.handled && open.results.is_empty());
    let done = &r.items[1];
    assert!(done.handled);
    assert_eq!(done.results[0].handling, HandlingResult::ReturnReceived);
    assert_eq!(
        (done.results[0].quantity, done.results[0].processing.as_str()),
        (2, "ACCEPTED")
    );
    assert_eq!(bol.return_state("404").await.unwrap(), None);
}

/// The return read first, the RMA's process statuses read, then one PUT with bol's body,
/// and its process status waited for.
#[tokio::test]
async fn an_open_item_is_handled_once_and_its_process_waited_for() {
    let server = setup().await;
    let reads = return_reads(&server, vec![the_return(None)]).await;
    let by_rma = processes_by_rma(&server, vec![]).await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let put = handle_put(&server, bodies.clone()).await;
    let polls = process_polls(&server, "p-handle", process("p-handle", "SUCCESS")).await;
    let receipt = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("p-handle"));
    assert!(!receipt.already);
    reads.assert_calls_async(1).await;
    by_rma.assert_calls_async(1).await;
    put.assert_calls_async(1).await;
    polls.assert_calls_async(2).await;
    insta::assert_json_snapshot!("handle_return_body", bodies.lock().unwrap().clone());
}

/// Through the SalesChannel trait, with its default wait, in paused time.
#[tokio::test(start_paused = true)]
async fn the_sales_channel_handles_with_the_default_wait() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    processes_by_rma(&server, vec![]).await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let put = handle_put(&server, bodies.clone()).await;
    process_polls(&server, "p-handle", process("p-handle", "SUCCESS")).await;
    let bol = RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap();
    // The generated `handle_return` (the bare PUT) shares the name: the trait's is named.
    let receipt =
        SalesChannel::handle_return(&bol, &handling(HandlingResult::ReturnDoesNotMeetConditions, 1))
            .await
            .unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("p-handle"));
    put.assert_calls_async(1).await;
    assert_eq!(
        *bodies.lock().unwrap(),
        [json!({"handlingResult": "RETURN_DOES_NOT_MEET_CONDITIONS", "quantityReturned": 1})]
    );
}

#[tokio::test]
async fn an_item_handled_as_asked_sends_nothing() {
    let server = setup().await;
    return_reads(&server, vec![the_return(Some(("RETURN_RECEIVED", 1)))]).await;
    let by_rma = processes_by_rma(&server, vec![]).await;
    let put = handle_put(&server, Arc::default()).await;
    let receipt = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap();
    assert!(receipt.already);
    assert_eq!(receipt.reference, None);
    by_rma.assert_calls_async(0).await;
    put.assert_calls_async(0).await;
}

/// Handled otherwise (another result, or another quantity): a typed error naming what bol
/// has, not retryable, nothing sent.
#[tokio::test]
async fn an_item_handled_otherwise_is_an_error_naming_what_bol_has() {
    let server = setup().await;
    return_reads(&server, vec![the_return(Some(("EXCHANGE_PRODUCT", 1)))]).await;
    let put = handle_put(&server, Arc::default()).await;
    let bol = client(&server);
    let other = bol
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(other.provider_code(), Some("HANDLED_OTHERWISE"));
    assert!(!other.is_retryable() && !other.is_unconfirmed());
    let fewer = bol
        .handle_return_item(&handling(HandlingResult::ExchangeProduct, 2), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(fewer.provider_code(), Some("HANDLED_OTHERWISE"));
    put.assert_calls_async(0).await;
    insta::assert_snapshot!("handled_otherwise", format!("{other}\n{fewer}"));
}

/// A handling under way (PENDING) is waited for, then the return read again: handled as
/// asked, nothing is sent.
#[tokio::test]
async fn a_handling_under_way_is_waited_for_and_not_sent_again() {
    let server = setup().await;
    let reads = return_reads(
        &server,
        vec![the_return(None), the_return(Some(("RETURN_RECEIVED", 1)))],
    )
    .await;
    let by_rma = processes_by_rma(
        &server,
        vec![process("p-earlier", "PENDING"), process("p-old", "FAILURE")],
    )
    .await;
    let polls = process_polls(&server, "p-earlier", process("p-earlier", "SUCCESS")).await;
    let put = handle_put(&server, Arc::default()).await;
    let receipt = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap();
    assert!(receipt.already);
    assert_eq!(receipt.reference.as_deref(), Some("p-earlier"));
    reads.assert_calls_async(2).await;
    by_rma.assert_calls_async(1).await;
    polls.assert_calls_async(2).await;
    put.assert_calls_async(0).await;
}

/// A handling under way that failed: the return is still open, so it is sent.
#[tokio::test]
async fn a_failed_earlier_handling_is_sent_again_after_the_wait() {
    let server = setup().await;
    let reads = return_reads(&server, vec![the_return(None)]).await;
    processes_by_rma(&server, vec![process("p-earlier", "PENDING")]).await;
    process_polls(&server, "p-earlier", process("p-earlier", "FAILURE")).await;
    let put = handle_put(&server, Arc::default()).await;
    process_polls(&server, "p-handle", process("p-handle", "SUCCESS")).await;
    let receipt = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap();
    assert_eq!(
        (receipt.reference.as_deref(), receipt.already),
        (Some("p-handle"), false)
    );
    reads.assert_calls_async(2).await;
    put.assert_calls_async(1).await;
}

/// bol's process succeeded but its return does not show it: nothing is sent, try later.
#[tokio::test]
async fn a_succeeded_handling_the_return_does_not_show_is_not_sent_again() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    processes_by_rma(&server, vec![process("p-done", "SUCCESS")]).await;
    let put = handle_put(&server, Arc::default()).await;
    let err = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("NOT_CAUGHT_UP"));
    assert!(err.is_retryable(), "{err}");
    put.assert_calls_async(0).await;
}

/// A handling whose process ends in FAILURE is a provider error with bol's message.
#[tokio::test]
async fn a_failed_handling_keeps_bols_message() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    processes_by_rma(&server, vec![]).await;
    handle_put(&server, Arc::default()).await;
    let mut failed = process("p-handle", "FAILURE");
    failed["errorMessage"] = json!("The return item 31234567 cannot be handled: it is already processed.");
    process_polls(&server, "p-handle", failed).await;
    let err = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("FAILURE"));
    insta::assert_snapshot!("handle_return_failure", err.to_string());
}

/// Bad input is refused before anything is sent.
#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let server = ScriptedServer::start(vec![Reply::status(500)]).await;
    let bol = scripted(&server.url);
    let bad = [
        ReturnHandling {
            return_id: " ".into(),
            rma_id: "RMA-1".into(),
            result: HandlingResult::ReturnReceived,
            quantity: 0,
        },
        handling(HandlingResult::ReturnReceived, 10_000),
        handling(HandlingResult::Other("RECEIVED".into()), 1),
    ];
    let mut shown = Vec::new();
    for h in &bad {
        let err = bol.handle_return_item(h, fast_wait()).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        shown.push(err.to_string());
    }
    assert_eq!(server.count(), 0, "nothing sent");
    insta::assert_snapshot!("handle_return_invalid", shown.join("\n"));
}

fn scripted(url: &str) -> RetailerClient {
    RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(url)
        .token_url(format!("{url}/token"))
        .retry(support::fast_retry())
        .build()
        .unwrap()
}

const TOKEN: &str = r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":299}"#;

fn json_reply(body: &Value) -> Reply {
    Reply::json(200, &body.to_string()).header("content-type", V10)
}

fn puts(server: &ScriptedServer) -> usize {
    server.requests().iter().filter(|r| r.method == "PUT").count()
}

/// The generated `handle_return` is never re-sent by the transport, retries or not: a
/// dropped connection is `Unconfirmed`, one request seen.
#[tokio::test]
async fn a_dropped_handle_return_is_unconfirmed_and_sent_once() {
    let server = ScriptedServer::start(vec![Reply::json(200, TOKEN), Reply::Drop]).await;
    let body = ReturnRequest {
        handling_result: retailer_client::models::ReturnRequestHandlingResult::ReturnReceived,
        quantity_returned: 1,
    };
    let err = scripted(&server.url)
        .handle_return(31234567, &body)
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err}");
    assert_eq!(puts(&server), 1, "sent once");
    assert_eq!(server.requests()[1].target, "/retailer/returns/31234567");
}

/// A lost answer to the PUT: one read of the return decides. Handled as sent: done.
#[tokio::test]
async fn a_lost_handling_found_on_bol_is_done() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, TOKEN),
        json_reply(&the_return(None)),
        json_reply(&json!({})),
        Reply::Drop,
        json_reply(&the_return(Some(("RETURN_RECEIVED", 1)))),
    ])
    .await;
    let receipt = scripted(&server.url)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap();
    assert!(!receipt.already);
    assert_eq!(puts(&server), 1);
    let targets: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        targets[1..],
        [
            "GET /retailer/returns/1",
            "GET /shared/process-status?entity-id=31234567&event-type=HANDLE_RETURN_ITEM",
            "PUT /retailer/returns/31234567",
            "GET /retailer/returns/1",
        ]
    );
}

/// A lost answer to the PUT, and bol's return still open: the `Unconfirmed` error, for the
/// caller to settle later; never sent twice.
#[tokio::test]
async fn a_lost_handling_not_found_stays_unconfirmed() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, TOKEN),
        json_reply(&the_return(None)),
        json_reply(&json!({})),
        Reply::Drop,
        json_reply(&the_return(None)),
    ])
    .await;
    let err = scripted(&server.url)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err}");
    assert_eq!(puts(&server), 1);
    assert_eq!(server.count(), 5, "the token, two reads, the PUT, one read");
}

/// A handling under way that bol lists without an id: nothing to wait for, nothing sent.
#[tokio::test]
async fn a_handling_under_way_without_an_id_is_not_sent_again() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    let mut pending = process("x", "PENDING");
    pending.as_object_mut().unwrap().remove("processStatusId");
    processes_by_rma(&server, vec![pending]).await;
    let put = handle_put(&server, Arc::default()).await;
    let err = client(&server)
        .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.provider_code(), Some("HANDLING_UNDER_WAY"));
    assert!(err.is_retryable(), "{err}");
    put.assert_calls_async(0).await;
}

/// bol takes the PUT (202) but names no process status to wait for: one read of the return
/// decides; still open is `Unconfirmed`, never a second PUT.
#[tokio::test]
async fn a_202_without_a_process_id_is_settled_by_one_read() {
    for (after, settled) in [
        (the_return(Some(("RETURN_RECEIVED", 1))), true),
        (the_return(None), false),
    ] {
        let server = setup().await;
        let reads = return_reads(&server, vec![the_return(None), after]).await;
        processes_by_rma(&server, vec![]).await;
        let put = server
            .mock_async(|when, then| {
                when.method(PUT).path(format!("/retailer/returns/{RMA}"));
                then.status(202)
                    .header("content-type", V10)
                    .json_body(json!({"eventType": "HANDLE_RETURN_ITEM", "status": "PENDING"}));
            })
            .await;
        let outcome = client(&server)
            .handle_return_item(&handling(HandlingResult::ReturnReceived, 1), fast_wait())
            .await;
        match outcome {
            Ok(receipt) => assert!(settled && !receipt.already && receipt.reference.is_none()),
            Err(e) => assert!(!settled && e.is_unconfirmed(), "{e}"),
        }
        put.assert_calls_async(1).await;
        reads.assert_calls_async(2).await;
    }
}

/// A sandbox whose bol has `orders` open orders, each returned as soon as it is shipped;
/// `garbled`: every create (a shipment, a handling) takes effect but is answered with a
/// body that cannot be read.
async fn sandbox(orders: usize, garbled: bool) -> commerce_sandbox::Sandbox {
    commerce_sandbox::start(commerce_sandbox::Config {
        orders,
        returns: 1.0,
        return_after: Duration::ZERO,
        cancellation_requests: 0.0,
        garbled_creates: if garbled { 1.0 } else { 0.0 },
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The sandbox's orders, shipped through the client, and their returns as listed.
async fn shipped_and_returned(
    sb: &commerce_sandbox::Sandbox,
) -> (
    RetailerClient,
    Vec<commerce_core::Order>,
    Vec<commerce_core::ChannelReturn>,
) {
    use commerce_core::{ShipmentConfirmation, Tracking};
    use commerce_sandbox::{RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET};
    let urls = sb.base_urls();
    let bol = RetailerClient::builder(RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET.into())
        .api_url(urls.bol)
        .token_url(urls.bol_token)
        .build()
        .unwrap();
    let orders: Vec<_> = bol.open_orders().try_collect().await.unwrap();
    for (n, order) in orders.iter().enumerate() {
        let shipment = ShipmentConfirmation {
            order_id: order.id.clone(),
            line_ids: order.lines.iter().map(|l| l.line_id.clone()).collect(),
            tracking: Tracking {
                carrier: Some("TNT".into()),
                code: format!("3SBOL000000{n}"),
                url: None,
            },
        };
        bol.confirm_shipment(&shipment).await.unwrap();
    }
    let returns: Vec<_> = bol.open_returns().try_collect().await.unwrap();
    (bol, orders, returns)
}

/// Against the sandbox's bol (its returns served as bol describes them): orders shipped
/// through the client, their returns listed, one received by hand and handled once; a
/// second call finds it handled and sends nothing, another result is refused before a PUT.
#[tokio::test]
async fn against_the_sandbox_a_return_is_listed_and_handled_once() {
    let sb = sandbox(3, false).await;
    let (bol, orders, returns) = shipped_and_returned(&sb).await;
    assert_eq!(orders.len(), 3);
    assert_eq!(returns.len(), 3, "one return per shipped order");
    let ret = &returns[0];
    let item = &ret.items[0];
    assert!(orders.iter().any(|o| o.id == item.order_id));
    assert!(item.expected >= 1 && item.reason.is_some() && !item.handled);
    assert!(sb.receive_return_by_hand(&item.rma_id, i64::from(item.expected), false));
    let h = ReturnHandling {
        return_id: ret.return_id.clone(),
        rma_id: item.rma_id.clone(),
        result: HandlingResult::ReturnReceived,
        quantity: item.expected,
    };
    let first = SalesChannel::handle_return(&bol, &h).await.unwrap();
    assert!(!first.already && first.reference.is_some(), "{first:?}");
    let again = SalesChannel::handle_return(&bol, &h).await.unwrap();
    assert!(again.already, "{again:?}");
    let other = ReturnHandling {
        result: HandlingResult::ExchangeProduct,
        ..h.clone()
    };
    let refused = SalesChannel::handle_return(&bol, &other).await.unwrap_err();
    assert_eq!(refused.provider_code(), Some("HANDLED_OTHERWISE"), "{refused}");
    let now = bol.return_state(&ret.return_id).await.unwrap().unwrap();
    let handled = now.items.iter().find(|i| i.rma_id == item.rma_id).unwrap();
    assert!(handled.handled);
    assert_eq!(
        handled.results.last().unwrap().handling,
        HandlingResult::ReturnReceived
    );
    let r = sb.report().returns;
    assert_eq!(
        (
            r.handled,
            r.double_handled,
            r.handled_before_receipt,
            r.wrong_quantity
        ),
        (1, 0, 0, 0)
    );
}

/// A return bol does not know (404), or one without the RMA: an error naming it, no PUT.
#[tokio::test]
async fn an_unknown_return_or_item_is_an_error_and_nothing_is_sent() {
    let server = setup().await;
    return_reads(&server, vec![the_return(None)]).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/returns/404");
            then.status(404).header("content-type", V10).json_body(json!({
                "type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
                "detail": "Return 404 not found."
            }));
        })
        .await;
    let put = handle_put(&server, Arc::default()).await;
    let bol = client(&server);
    let unknown = ReturnHandling {
        return_id: "404".into(),
        ..handling(HandlingResult::ReturnReceived, 1)
    };
    let not_there = ReturnHandling {
        rma_id: "99999999".into(),
        ..handling(HandlingResult::ReturnReceived, 1)
    };
    for h in [unknown, not_there] {
        let err = bol.handle_return_item(&h, fast_wait()).await.unwrap_err();
        assert_eq!(err.provider_code(), Some("UNKNOWN_RETURN_ITEM"), "{err}");
        assert!(
            !err.is_retryable() && err.to_string().contains(&h.rma_id),
            "{err}"
        );
    }
    put.assert_calls_async(0).await;
}

/// Against the sandbox's bol answering every handling with a body that cannot be read (it
/// took effect): the client never sends it twice; the outcome is found at once, or left
/// `Unconfirmed` and found by the next call, which sends nothing.
#[tokio::test]
async fn against_the_sandbox_a_garbled_handling_is_never_sent_twice() {
    let sb = sandbox(2, true).await;
    let (bol, _, returns) = shipped_and_returned(&sb).await;
    assert_eq!(returns.len(), 2);
    for ret in &returns {
        let item = &ret.items[0];
        assert!(sb.receive_return_by_hand(&item.rma_id, i64::from(item.expected), false));
        let h = ReturnHandling {
            return_id: ret.return_id.clone(),
            rma_id: item.rma_id.clone(),
            result: HandlingResult::ReturnReceived,
            quantity: item.expected,
        };
        match SalesChannel::handle_return(&bol, &h).await {
            Ok(receipt) => assert!(!receipt.already, "{receipt:?}"),
            Err(e) => assert!(e.is_unconfirmed(), "{e}"),
        }
        let again = SalesChannel::handle_return(&bol, &h).await.unwrap();
        assert!(again.already, "{again:?}");
    }
    let r = sb.report().returns;
    assert_eq!((r.handled, r.double_handled, r.handled_before_receipt), (2, 0, 0));
    assert!(sb.report().total_faults() >= 2, "the handlings were garbled");
}
