//! The decoder fuzz harness's own check: a call counts as reaching the server only when its
//! own request got the fuzzed answer, not when the token request it triggered did.

use commerce_core::{Endpoint, Part, RetryPolicy};
use commerce_testing::fuzz::{Answer, Harness, answers};
use customer_api_client::CustomerApiClient;

const TOKEN_PATH: &str = "/api/customer/oauth/access-token";
const TOKEN: &str = r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#;

#[test]
#[should_panic(expected = "never reached the server")]
fn a_call_never_sent_fails_the_check_though_its_token_request_was_answered() {
    let h = Harness::start(&[], &[(TOKEN_PATH, Answer::json(200, TOKEN))]);
    h.run(8, answers(vec![b"{}".to_vec()], &["application/json"]), |calls| {
        let c = CustomerApiClient::builder("id-1", "secret-1".to_owned().into())
            .shop_url(h.server.url.clone())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        // A request that cannot be built (a part whose media type is not one): it fails
        // after the token was fetched, before anything of its own is sent.
        let ep = Endpoint::post("never.sent", "never").multipart(vec![Part::file(
            "f",
            b"x".to_vec(),
            "f.bin",
            "not a media type",
        )]);
        h.rt.block_on(calls.send(async {
            let r = c.transport().send(&ep).await;
            assert!(r.as_ref().is_err_and(|e| e.is_invalid_input()), "{r:?}");
        }));
    });
}
