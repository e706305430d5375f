//! The Customer API's OAuth error codes and what they mean to the transport.

use commerce_core::{Classifier, Response, Verdict};

/// `invalid_token` (401) means expired: refresh once. `access_denied` (400) means the token
/// is not accepted at all: an authentication error. Everything else as usual.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerApiClassifier;

impl Classifier for CustomerApiClassifier {
    fn classify(&self, response: &Response) -> Verdict {
        let status = response.status();
        if status.is_success() {
            return Verdict::Success;
        }
        let error = response.provider_error();
        match (status.as_u16(), error.code.as_deref()) {
            (401, _) => Verdict::AuthExpired(error),
            (400, Some("access_denied")) => Verdict::AuthRejected(error),
            _ => Verdict::Failure(error),
        }
    }
}
