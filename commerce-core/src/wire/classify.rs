//! Layer 1, wire values: what an answer means ([`Classifier`]) and reading a provider's
//! error from the common body shapes.

use std::fmt;

use http::StatusCode;

use crate::error::ProviderError;
use crate::wire::response::Response;
use crate::wire::retry_after::parse_retry_after;

/// What an answer means.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The call succeeded.
    Success,
    /// The provider refused the call (the status may say it is worth retrying).
    Failure(ProviderError),
    /// The provider said the credentials expired: refresh once and retry once.
    AuthExpired(ProviderError),
    /// The provider refused the credentials themselves (a wrong key or password): fail with
    /// [`Error::Auth`](crate::Error::Auth) at once, since new tokens from the same credentials would not help.
    AuthRejected(ProviderError),
}

/// Decides what an answer means. Providers that report errors in the body with HTTP 200
/// (Sitejabber) or mark expired tokens their own way supply their own.
pub trait Classifier: Send + Sync + fmt::Debug {
    /// Classifies one answer.
    fn classify(&self, response: &Response) -> Verdict;
}

/// The default classification: 2xx succeeds, 401 means expired credentials, anything else
/// is a [`ProviderError`] read from the common body shapes (OAuth `error` /
/// `error_description`, Problem `title` / `detail` / `violations`, `message`, `code`,
/// `errors`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl Classifier for DefaultClassifier {
    fn classify(&self, response: &Response) -> Verdict {
        let status = response.status();
        if status.is_success() {
            Verdict::Success
        } else if status == StatusCode::UNAUTHORIZED {
            Verdict::AuthExpired(response.provider_error())
        } else {
            Verdict::Failure(response.provider_error())
        }
    }
}

pub(crate) fn with_retry_after(mut error: ProviderError, response: &Response) -> ProviderError {
    if error.retry_after.is_none() {
        error.retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    }
    error
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::HeaderMap;

    use super::*;
    use crate::error::FieldError;

    #[test]
    fn common_error_shapes_are_read() {
        let r = |status: u16, body: &str| {
            Response::new(
                StatusCode::from_u16(status).unwrap(),
                HeaderMap::new(),
                Bytes::from(body.to_owned()),
                "p",
                "e",
            )
            .provider_error()
        };
        let oauth = r(
            400,
            r#"{"error":"invalid_client","error_description":"Unknown client"}"#,
        );
        assert_eq!(
            (oauth.code.as_deref(), oauth.message.as_deref()),
            (Some("invalid_client"), Some("Unknown client"))
        );
        let problem = r(
            400,
            r#"{"type":"x","title":"Error validating request","status":400,"detail":"Bad request","violations":[{"name":"orderItems[0].quantity","reason":"must be at least 1"}]}"#,
        );
        assert_eq!(problem.message.as_deref(), Some("Bad request"));
        assert_eq!(
            problem.violations,
            vec![FieldError::new("orderItems[0].quantity", "must be at least 1")]
        );
        let fields = r(
            400,
            r#"{"error":"order_invalid_data","errors":{"zipcode":["required"],"country":"too long"}}"#,
        );
        assert_eq!(fields.violations.len(), 2);
        let html = r(502, "<html>Bad Gateway</html>");
        assert_eq!(html.body_excerpt.as_deref(), Some("<html>Bad Gateway</html>"));
    }
}
