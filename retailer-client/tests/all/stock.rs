//! The stock side of bol as a SalesChannel: the offers with their stock (the export, or one
//! read per offer), stock updates (paced, their process statuses waited for in bulk), the
//! open order lines from the reduced list, against the exact wire bol documents, with
//! hostile answers (missing and absurd columns, a FAILURE among successes, a 400 with
//! violations, a 404 offer).

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use commerce_core::{ChannelOffer, Error, OpenLine, SalesChannel, StockUpdate};
use futures_util::TryStreamExt;
use httpmock::Method::{GET, POST, PUT};
use httpmock::MockServer;
use retailer_client::RetailerClient;
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, setup};

const V10: &str = "application/vnd.retailer.v10+json";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A client for paused-time tests: no idle pool, no per-attempt time limit; the retry
/// policy is the default one.
fn paused_client(server: &MockServer) -> RetailerClient {
    RetailerClient::builder(CLIENT_ID, CLIENT_SECRET.to_owned().into())
        .api_url(server.base_url())
        .token_url(server.url("/token"))
        .http(commerce_testing::paused_time_http())
        .build()
        .unwrap()
}

fn process(id: &str, event: &str, status: &str, entity: &str) -> Value {
    json!({"processStatusId": id, "entityId": entity, "eventType": event, "description": "Example",
           "status": status, "createTimestamp": "2026-12-07T06:00:00+01:00", "links": []})
}

/// The export's three calls: the request (body `{"format": "CSV"}`), its process status
/// (pending once, then done with report `report-7`), the CSV download.
async fn export_mocks<'a>(server: &'a MockServer, csv: String) -> [httpmock::Mock<'a>; 3] {
    let request = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/retailer/offers/export")
                .header("accept", V10)
                .header("content-type", V10)
                .header("authorization", "Bearer tok-1")
                .json_body(json!({"format": "CSV"}));
            then.status(202).header("content-type", V10).json_body(process(
                "7",
                "CREATE_OFFER_EXPORT",
                "PENDING",
                "",
            ));
        })
        .await;
    let polls = Arc::new(AtomicU32::new(0));
    let status = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/shared/process-status/7")
                .header("accept", V10);
            then.respond_with(move |_| {
                let state = if polls.fetch_add(1, Ordering::SeqCst) == 0 {
                    "PENDING"
                } else {
                    "SUCCESS"
                };
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(process("7", "CREATE_OFFER_EXPORT", state, "report-7").to_string())
                    .unwrap()
                    .into()
            });
        })
        .await;
    let download = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/retailer/offers/export/report-7")
                .header("accept", "application/vnd.retailer.v10+csv");
            then.status(200)
                .header("content-type", "application/vnd.retailer.v10+csv")
                .body(csv);
        })
        .await;
    [request, status, download]
}

fn offer(
    id: &str,
    ean: &str,
    amount: Option<i64>,
    corrected: Option<i64>,
    managed: Option<bool>,
) -> ChannelOffer {
    ChannelOffer {
        offer_id: id.into(),
        ean: Some(ean.into()),
        amount,
        corrected,
        managed_by_shop: managed,
        fulfilled_by_channel: false,
        on_hold: false,
    }
}

#[tokio::test(start_paused = true)]
async fn every_offer_comes_from_the_export_end_to_end() {
    let server = setup().await;
    let [request, status, download] = export_mocks(&server, fixture("offers-export.csv")).await;
    let start = tokio::time::Instant::now();
    let offers = paused_client(&server).offers(&[]).await.unwrap();
    request.assert_calls_async(1).await;
    status.assert_calls_async(2).await;
    download.assert_calls_async(1).await;
    // The export's own wait: a first poll after a second, the next half as long again.
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(2500));
    assert_eq!(
        offers,
        [
            offer(
                "6ff736b5-cdd0-4150-8c67-78269ee986f5",
                "8712345000003",
                Some(12),
                Some(11),
                Some(true)
            ),
            ChannelOffer {
                fulfilled_by_channel: true,
                ..offer(
                    "a1c0e2f4-5b6d-4e8f-9a0b-1c2d3e4f5a6b",
                    "8712345000010",
                    Some(40),
                    Some(40),
                    Some(false)
                )
            },
            ChannelOffer {
                on_hold: true,
                ..offer(
                    "90bfddc5-a6d0-4986-9253-407b3a6850ca",
                    "8712345000034",
                    Some(0),
                    Some(0),
                    Some(false)
                )
            },
        ]
    );
}

/// The export's columns are not in bol's description: without `correctedStock` and a mode
/// column (what public clients show), with absurd figures and a row without an id, each
/// field is read by itself and the export as a whole still reads.
#[tokio::test(start_paused = true)]
async fn an_export_with_missing_and_absurd_columns_still_reads() {
    let server = setup().await;
    let _mocks = export_mocks(&server, fixture("offers-export-hostile.csv")).await;
    let offers = paused_client(&server).offers(&[]).await.unwrap();
    assert_eq!(
        offers,
        [
            // -4: nothing for sale either way.
            offer(
                "6ff736b5-cdd0-4150-8c67-78269ee986f5",
                "8712345000003",
                Some(0),
                None,
                None
            ),
            // 12000: above bol's 999, not trusted; "maybe" on hold is no boolean.
            offer(
                "c3e1aa07-0000-4000-8000-c3e1aa070000",
                "8712345000041",
                None,
                None,
                None
            ),
            ChannelOffer {
                fulfilled_by_channel: true,
                on_hold: true,
                ..offer(
                    "77de4a10-0c10-4c10-8c10-77de4a100c10",
                    "8712345000027",
                    None,
                    None,
                    None
                )
            },
            // The row without an offer id is left out; a short row keeps what it has.
            offer(
                "5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a",
                "8712345000065",
                Some(7),
                None,
                None
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_export_that_fails_at_bol_is_an_error() {
    let server = setup().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/retailer/offers/export");
            then.status(202).header("content-type", V10).json_body(process(
                "7",
                "CREATE_OFFER_EXPORT",
                "PENDING",
                "",
            ));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/7");
            then.status(200).header("content-type", V10).json_body({
                let mut p = process("7", "CREATE_OFFER_EXPORT", "FAILURE", "");
                p["errorMessage"] = json!("The export could not be created.");
                p
            });
        })
        .await;
    let err = paused_client(&server).offers(&[]).await.unwrap_err();
    assert_eq!(err.provider_code(), Some("FAILURE"));
    assert!(
        err.to_string().contains("The export could not be created."),
        "{err}"
    );
}

/// A GET offer answered by `body` (or 404 with bol's Problem for `None`).
async fn offer_mock<'a>(server: &'a MockServer, id: &str, body: Option<String>) -> httpmock::Mock<'a> {
    let path = format!("/retailer/offers/{id}");
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(path)
                .header("accept", V10)
                .header("authorization", "Bearer tok-1");
            match body {
                Some(body) => then.status(200).header("content-type", V10).body(body),
                None => then.status(404).header("content-type", V10).json_body(json!({
                    "type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
                    "detail": "Offer not found.", "host": "Instance-001", "instance": "https://api.bol.com/retailer/offers/x"
                })),
            };
        })
        .await
}

#[tokio::test(start_paused = true)]
async fn named_offers_are_read_one_by_one_and_a_404_is_left_out() {
    let server = setup().await;
    let one = offer_mock(
        &server,
        "6ff736b5-cdd0-4150-8c67-78269ee986f5",
        Some(fixture("offer.json")),
    )
    .await;
    let fbb = offer_mock(
        &server,
        "a1c0e2f4-5b6d-4e8f-9a0b-1c2d3e4f5a6b",
        Some(fixture("offer-fbb.json")),
    )
    .await;
    let hostile = offer_mock(
        &server,
        "77de4a10-0c10-4c10-8c10-77de4a100c10",
        Some(fixture("offer-hostile.json")),
    )
    .await;
    let gone = offer_mock(&server, "deleted-offer", None).await;
    let export = server
        .mock_async(|when, then| {
            when.method(POST).path("/retailer/offers/export");
            then.status(500);
        })
        .await;
    let ids: Vec<String> = [
        "6ff736b5-cdd0-4150-8c67-78269ee986f5",
        "deleted-offer",
        "a1c0e2f4-5b6d-4e8f-9a0b-1c2d3e4f5a6b",
        "77de4a10-0c10-4c10-8c10-77de4a100c10",
        "6ff736b5-cdd0-4150-8c67-78269ee986f5",
    ]
    .map(String::from)
    .to_vec();
    let offers = paused_client(&server).offers(&ids).await.unwrap();
    one.assert_calls_async(1).await;
    fbb.assert_calls_async(1).await;
    hostile.assert_calls_async(1).await;
    gone.assert_calls_async(1).await;
    export.assert_calls_async(0).await;
    assert_eq!(
        offers,
        [
            offer(
                "6ff736b5-cdd0-4150-8c67-78269ee986f5",
                "0000007740404",
                Some(6),
                Some(5),
                Some(true)
            ),
            ChannelOffer {
                fulfilled_by_channel: true,
                on_hold: true,
                ..offer(
                    "a1c0e2f4-5b6d-4e8f-9a0b-1c2d3e4f5a6b",
                    "8712345000010",
                    Some(0),
                    Some(0),
                    Some(false)
                )
            },
            // An EAN sent as a number, 1500 units, "vijf", "nee": each field left out by
            // itself; "true" as text is read.
            ChannelOffer {
                ean: None,
                ..offer("77de4a10-0c10-4c10-8c10-77de4a100c10", "", None, None, Some(true))
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_offer_read_leaves_that_offer_out_and_only_all_failing_fails_the_call() {
    let server = setup().await;
    let _one = offer_mock(&server, "o-1", Some(fixture("offer.json"))).await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/retailer/offers/o-2");
            then.status(400).header("content-type", V10).json_body(json!({
                "type": "https://api.bol.com/problems", "title": "Bad Request", "status": 400,
                "detail": "Offer id is not valid.",
                "violations": [{"name": "offer-id", "reason": "Request contains invalid value(s): 'o-2'."}]
            }));
        })
        .await;
    // One read fails: that offer is left out, the other is there (a stock sync leaves the
    // unread one as it is).
    let offers = paused_client(&server)
        .offers(&["o-1".into(), "o-2".into()])
        .await
        .unwrap();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].ean.as_deref(), Some("0000007740404"), "{offers:?}");
    // Every read fails: the call fails with bol's error.
    let err = paused_client(&server).offers(&["o-2".into()]).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.field_errors().len(), 1);
}

#[tokio::test]
async fn a_blank_offer_id_is_refused_before_any_read() {
    let server = setup().await;
    let one = offer_mock(&server, "o-1", Some(fixture("offer.json"))).await;
    let err = support::client(&server)
        .offers(&["o-1".into(), " ".into()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert_eq!(err.field_errors()[0].field, "ids[1]");
    one.assert_calls_async(0).await;
}

fn update(id: &str, amount: u32, managed: bool) -> StockUpdate {
    StockUpdate {
        offer_id: id.into(),
        amount,
        managed_by_shop: managed,
    }
}

/// Each update one PUT with bol's body; all their process statuses in one bulk poll; one
/// result per update in order: a FAILURE keeps bol's message, a 400 its violations, an
/// amount above 999 or an offer named twice is refused before anything is sent for it,
/// and none of them stops the others.
#[tokio::test(start_paused = true)]
async fn stock_updates_are_sent_one_by_one_and_waited_for_in_bulk() {
    let server = setup().await;
    let bodies = Arc::new(Mutex::new(Vec::<(String, Value)>::new()));
    let seen = bodies.clone();
    let puts = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path_matches("^/retailer/offers/[^/]+/stock$")
                .header("accept", V10)
                .header("content-type", V10)
                .header("authorization", "Bearer tok-1");
            then.respond_with(move |req| {
                let offer = req.uri().path().split('/').nth(3).unwrap().to_owned();
                let body: Value = serde_json::from_slice(req.body().as_ref()).unwrap();
                seen.lock().unwrap().push((offer.clone(), body));
                let (status, answer) = if offer == "o-refused" {
                    (
                        400,
                        json!({"type": "https://api.bol.com/problems", "title": "Bad Request", "status": 400,
                               "detail": "Bad request", "host": "Instance-001",
                               "violations": [{"name": "offer-id", "reason": "Offer o-refused does not exist or is not yours."}]}),
                    )
                } else {
                    (202, process(&format!("p-{offer}"), "UPDATE_OFFER_STOCK", "PENDING", &offer))
                };
                http::Response::builder()
                    .status(status)
                    .header("content-type", V10)
                    .body(answer.to_string())
                    .unwrap()
                    .into()
            });
        })
        .await;
    let asked = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let noted = asked.clone();
    let bulk = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/shared/process-status")
                .header("accept", V10)
                .header("content-type", V10);
            then.respond_with(move |req| {
                let body: Value = serde_json::from_slice(req.body().as_ref()).unwrap();
                let ids: Vec<String> = body["processStatusQueries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["processStatusId"].as_str().unwrap().to_owned())
                    .collect();
                let statuses: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let entity = id.trim_start_matches("p-");
                        if id == "p-o-failing" {
                            let mut p = process(id, "UPDATE_OFFER_STOCK", "FAILURE", entity);
                            p["errorMessage"] = json!(
                                "Offer o-failing is fulfilled by bol.com; its stock cannot be updated."
                            );
                            p
                        } else {
                            process(id, "UPDATE_OFFER_STOCK", "SUCCESS", entity)
                        }
                    })
                    .collect();
                noted.lock().unwrap().push(ids);
                http::Response::builder()
                    .status(200)
                    .header("content-type", V10)
                    .body(json!({"processStatuses": statuses}).to_string())
                    .unwrap()
                    .into()
            });
        })
        .await;
    let updates = [
        update("o-1", 7, true),
        update("o-failing", 3, true),
        update("o-too-many", 1000, true),
        update("o-refused", 2, true),
        update("o-bol-managed", 999, false),
        update("o-1", 8, true),
        update("o-zero", 0, true),
    ];
    let outcomes = paused_client(&server).set_stock(&updates).await;
    assert_eq!(outcomes.len(), updates.len());

    puts.assert_calls_async(5).await;
    bulk.assert_calls_async(1).await;
    assert_eq!(
        *asked.lock().unwrap(),
        [["p-o-1", "p-o-failing", "p-o-bol-managed", "p-o-zero"]],
        "one bulk poll for every update bol took"
    );
    let mut sent = bodies.lock().unwrap().clone();
    sent.sort_by(|a, b| a.0.cmp(&b.0));
    let sent_offers: Vec<&str> = sent.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        sent_offers,
        ["o-1", "o-bol-managed", "o-failing", "o-refused", "o-zero"]
    );
    insta::assert_json_snapshot!("update_offer_stock_bodies", sent);

    let ok = outcomes[0].as_ref().unwrap();
    assert_eq!(
        (ok.offer_id.as_str(), ok.reference.as_deref()),
        ("o-1", Some("p-o-1"))
    );
    assert_eq!(
        outcomes[4].as_ref().unwrap().reference.as_deref(),
        Some("p-o-bol-managed")
    );
    assert_eq!(outcomes[6].as_ref().unwrap().offer_id, "o-zero");

    let failed = outcomes[1].as_ref().unwrap_err();
    assert_eq!(failed.provider_code(), Some("FAILURE"));
    let too_many = outcomes[2].as_ref().unwrap_err();
    assert!(matches!(too_many, Error::InvalidInput(_)), "{too_many}");
    let refused = outcomes[3].as_ref().unwrap_err();
    assert_eq!(refused.status(), Some(400));
    assert_eq!(refused.field_errors().len(), 1);
    let twice = outcomes[5].as_ref().unwrap_err();
    assert!(matches!(twice, Error::InvalidInput(_)), "{twice}");
    insta::assert_snapshot!(
        "stock_update_errors",
        [failed, too_many, refused, twice]
            .map(|e| e.to_string())
            .join("\n")
    );
}

/// The PUT sets an absolute amount: an answer lost to a gateway (502) is sent again, where a
/// create would end in `Error::Unconfirmed`.
#[tokio::test]
async fn a_stock_update_whose_outcome_is_unknown_is_sent_again() {
    let server = setup().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let count = attempts.clone();
    let put = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/retailer/offers/o-1/stock")
                .json_body(json!({"amount": 5, "managedByRetailer": true}));
            then.respond_with(move |_| {
                let (status, body) = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    (502, "<html>Bad Gateway</html>".to_owned())
                } else {
                    (
                        202,
                        process("p-1", "UPDATE_OFFER_STOCK", "PENDING", "o-1").to_string(),
                    )
                };
                http::Response::builder()
                    .status(status)
                    .header("content-type", if status == 202 { V10 } else { "text/html" })
                    .body(body)
                    .unwrap()
                    .into()
            });
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/shared/process-status/p-1");
            then.status(200).header("content-type", V10).json_body(process(
                "p-1",
                "UPDATE_OFFER_STOCK",
                "SUCCESS",
                "o-1",
            ));
        })
        .await;
    let outcomes = support::client(&server)
        .update_stocks(&[update("o-1", 5, true)], fast_wait())
        .await;
    put.assert_calls_async(2).await;
    assert_eq!(outcomes[0].as_ref().unwrap().reference.as_deref(), Some("p-1"));
}

fn fast_wait() -> retailer_client::WaitOptions {
    retailer_client::WaitOptions {
        deadline: std::time::Duration::from_secs(5),
        first_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
        ..Default::default()
    }
}

#[tokio::test]
async fn nothing_to_update_sends_nothing() {
    let server = setup().await;
    assert!(support::client(&server).set_stock(&[]).await.is_empty());
    let blank = support::client(&server).set_stock(&[update(" ", 1, true)]).await;
    assert!(matches!(blank[0], Err(Error::InvalidInput(_))));
    assert_eq!(support::client(&server).max_stock(), 999);
}

/// Open lines come from the reduced list alone, page by page: no order is read in detail;
/// lines with nothing left to ship, bol's own (FBB) lines and absent or negative counts are
/// read as the counts say.
#[tokio::test]
async fn open_lines_come_from_the_reduced_list_alone() {
    let server = setup().await;
    let pages: Vec<httpmock::Mock<'_>> = futures_util::future::join_all(
        [
            ("1", fixture("orders-open.json")),
            ("2", fixture("orders-open-page2.json")),
            ("3", "{}".to_owned()),
        ]
        .into_iter()
        .map(|(page, body)| {
            server.mock_async(move |when, then| {
                when.method(GET)
                    .path("/retailer/orders")
                    .query_param("page", page)
                    .query_param("fulfilment-method", "FBR")
                    .query_param("status", "OPEN")
                    .header("accept", V10)
                    .header("authorization", "Bearer tok-1");
                then.status(200).header("content-type", V10).body(body);
            })
        }),
    )
    .await;
    let details = server
        .mock_async(|when, then| {
            when.method(GET).path_matches("^/retailer/orders/.+");
            then.status(500);
        })
        .await;
    let lines: Vec<OpenLine> = support::client(&server).open_lines().try_collect().await.unwrap();
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    details.assert_calls_async(0).await;
    let placed = |t: &str| Some(chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc());
    let line = |order: &str, item: &str, ean: Option<&str>, quantity: u32, at| OpenLine {
        order_id: order.into(),
        line_id: item.into(),
        ean: ean.map(String::from),
        quantity,
        placed_at: at,
    };
    assert_eq!(
        lines,
        [
            line(
                "1043946570",
                "6107434013",
                Some("8712345000003"),
                2,
                placed("2026-12-07T05:40:12+01:00")
            ),
            line(
                "1043946571",
                "6107434015",
                Some("8712345000003"),
                1,
                placed("2026-12-07T06:02:00+01:00")
            ),
            line("1043946572", "6107434017", None, 2, None),
            line("1043946572", "6107434018", Some("8712345000041"), 1, None),
        ]
    );
}
