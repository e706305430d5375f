//! The decoders never panic: every operation's answer (the generated calls), the process
//! status polling, the CSV offer export, the returns read field by field (the list, one
//! return, a handling) and the token answer are fed arbitrary bytes and mutated examples of
//! bol's description under every status.

mod generated_calls;

use std::time::Duration;

use commerce_core::RetryPolicy;
use commerce_testing::fuzz::{Answer, Calls, Harness, answers, run_cases};
use generated_calls::{EXAMPLE_ANSWERS, MEDIA_TYPES, call_every_operation};
use retailer_client::models::ProcessStatus;
use retailer_client::{RetailerClient, WaitOptions};

const TOKEN: &str =
    r#"{"access_token":"tok-SWEEP-1","token_type":"Bearer","expires_in":299,"scope":"RETAILER"}"#;
/// A problem answer and a CSV export, besides the description's examples.
const MORE: &[&str] = &[
    TOKEN,
    include_str!("../fixtures/returns-open.json"),
    include_str!("../fixtures/return.json"),
    r#"{"type":"https://api.bol.com/problems","title":"Error validating request.","status":400,"detail":"Bad request","host":"Instance-111","instance":"https://api.bol.com/retailer/orders","violations":[{"name":"orderId","reason":"Request contains invalid value(s): 'x'."}]}"#,
    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,correctedStock\n13722de8-8182-d161-5422-4a0a1caab5c8,8718526069334,NEW,NEW,,99.99,24uurs-21,5,false,FBR,2026-11-23 10:00:00.0 UTC,REF1,5\n",
];

fn seeds() -> Vec<Vec<u8>> {
    EXAMPLE_ANSWERS
        .iter()
        .chain(MORE)
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

fn quick() -> WaitOptions {
    WaitOptions {
        deadline: Duration::from_millis(30),
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..WaitOptions::default()
    }
}

async fn call_all(c: &RetailerClient, calls: &mut Calls) {
    call_every_operation(c, calls).await;
    let pending: ProcessStatus = serde_json::from_str(EXAMPLE_ANSWERS[0]).unwrap();
    let pending = ProcessStatus {
        status: serde_json::from_str("\"PENDING\"").unwrap(),
        ..pending
    };
    // Polls within a 30 ms deadline: a slow machine may reach the deadline before a poll.
    calls.may_not_send(c.wait_for_process(&pending, quick())).await;
    calls.may_not_send(c.wait_for_success(&pending, quick())).await;
    calls.send(c.export_offers(quick())).await;
    // The returns, read from JSON field by field rather than through the models.
    calls
        .send(futures_util::TryStreamExt::try_collect::<Vec<_>>(
            c.open_channel_returns(),
        ))
        .await;
    calls.send(c.channel_return("1")).await;
    let handling = commerce_core::ReturnHandling {
        return_id: "1".into(),
        rma_id: "31234567".into(),
        result: commerce_core::HandlingResult::ReturnReceived,
        quantity: 1,
    };
    calls.send(c.handle_return_item(&handling, quick())).await;
}

fn fuzz(fixed_token: bool, cases: u32) {
    let token = [("/token", Answer::json(200, TOKEN))];
    let h = Harness::start(&["secret-SWEEP-1"], if fixed_token { &token } else { &[] });
    let mut media: Vec<&str> = MEDIA_TYPES.to_vec();
    media.push("application/json");
    let client = || {
        RetailerClient::builder("id-1", "secret-SWEEP-1".to_owned().into())
            .api_url(h.server.url.clone())
            .token_url(format!("{}/token", h.server.url))
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    // Every operation is sent in every case: each decoder is reached. A new client per case:
    // an answer refusing the token makes a client cool down before it asks for another,
    // and the next case must not inherit that.
    h.run(cases, answers(seeds(), &media), |calls| {
        if fixed_token {
            h.rt.block_on(call_all(&client(), calls));
        } else {
            // Only the token answer matters here: one call of a new client reads it.
            h.rt.block_on(calls.send(client().export_offers(quick())));
        }
    });
}

#[test]
fn operation_answers_never_panic() {
    fuzz(true, 48);
}

#[test]
fn token_answers_never_panic() {
    fuzz(false, 96);
}

#[test]
fn the_csv_export_parser_never_panics() {
    use commerce_testing::fuzz::bodies;
    run_cases(512, bodies(seeds()), |bytes| {
        let _ = retailer_client::parse_csv(&String::from_utf8_lossy(&bytes));
    });
}
