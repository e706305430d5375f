//! The decoders never panic: every answer the client reads (token, invitation outcome,
//! errors) is fed arbitrary bytes and mutated examples under every status.

use commerce_core::RetryPolicy;
use commerce_testing::fuzz::{Answer, FuzzServer, Harness, answers};
use safeshop_client::{Invite, SafeShopClient};

const SEEDS: &[&str] = &[
    r#"{"token_type":"Bearer","expires_in":31536000,"access_token":"tok-SWEEP-1"}"#,
    r#"{"success":true}"#,
    r#"{"message":"The given data was invalid.","errors":{"email":["The email must be a valid email address."]}}"#,
    r#"{"message":"Unauthenticated."}"#,
    "Invite already exists",
];

fn seeds() -> Vec<Vec<u8>> {
    SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn client(server: &FuzzServer) -> SafeShopClient {
    SafeShopClient::builder("id-1", "secret-SWEEP-1".to_owned().into())
        .base_url(format!("{}/v1", server.url))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn fuzz(fixed_token: bool) {
    let token = [("/v1/oauth/token", Answer::json(200, SEEDS[0]))];
    let h = Harness::start(&["secret-SWEEP-1"], if fixed_token { &token } else { &[] });
    h.run(256, answers(seeds(), &["application/json"]), |calls| {
        // A new client per case, so the token answer is read every time.
        let c = client(&h.server);
        h.rt.block_on(calls.send(c.create_invite(&Invite {
            email: "jan@example.com".into(),
            order_id: "A-1".into(),
            ..Default::default()
        })));
    });
}

#[test]
fn invitation_answers_never_panic() {
    fuzz(true);
}

#[test]
fn token_answers_never_panic() {
    fuzz(false);
}
