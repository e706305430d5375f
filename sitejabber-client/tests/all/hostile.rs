//! Sitejabber quoting the account's password or the API key back in an error: neither
//! reaches the error the caller sees.

use crate::support;

use httpmock::Method::POST;
use httpmock::MockServer;
use support::{CLIENT_TOKEN, PASSWORD, client};

#[tokio::test]
async fn a_login_error_quoting_the_password_and_key_is_scrubbed() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/login");
            then.status(200).header("content-type", "application/json").body(format!(
                r#"{{"status":"ERROR","success":false,"errorCode":"E_INVALID_LOGIN","errorReason":"no account for password={PASSWORD} with client_token {CLIENT_TOKEN}"}}"#
            ));
        })
        .await;
    let err = tokio::time::timeout(std::time::Duration::from_secs(20), client(&server).business(&[]))
        .await
        .expect("bounded in time")
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains(CLIENT_TOKEN),
        "{shown}"
    );
}
