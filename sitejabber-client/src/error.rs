//! Sitejabber's error envelope and codes.
//!
//! Every answer carries `status` (`OK`/`ERROR`) and `success`; errors add `errorCode` and
//! `errorReason`, often with HTTP 200. The body decides, not the HTTP status.

use commerce_core::{Classifier, Error, ProviderError, Response, RetryHint, Verdict};
use serde_json::Value;

use commerce_core::lenient;

/// Every error code of Sitejabber's table, as a typed case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 101: client token invalid.
    ClientTokenInvalid,
    /// 102: client token access revoked.
    ClientTokenRevoked,
    /// 201: e-mail or password invalid.
    InvalidCredentials,
    /// 202: user access has been disabled.
    UserDisabled,
    /// 203: user token missing or invalid.
    UserTokenInvalid,
    /// 204: user session is invalid.
    SessionInvalid,
    /// 205: fatal error creating user access.
    UserAccessCreationFailed,
    /// 206: user access is invalid.
    UserAccessInvalid,
    /// 207: user token is expired.
    UserTokenExpired,
    /// 301: business not available.
    BusinessNotAvailable,
    /// 302: missing parameter.
    MissingParameter,
    /// 303: limit exceeded.
    LimitExceeded,
    /// 304: e-mail already exists.
    EmailAlreadyExists,
    /// 305: the review does not exist.
    ReviewNotFound,
    /// 306: malformed parameter.
    MalformedParameter,
    /// 307: user not found.
    UserNotFound,
    /// 308: insufficient permissions.
    InsufficientPermissions,
    /// 309: review request removal error.
    ReviewRequestRemovalFailed,
    /// 310: product review request removal error.
    ProductReviewRequestRemovalFailed,
    /// 311: error uploading image.
    ImageUploadFailed,
    /// 399: unexpected error.
    Unexpected,
    /// 401: product does not exist.
    ProductNotFound,
    /// 402: image does not exist.
    ImageNotFound,
    /// 403: product review does not exist.
    ProductReviewNotFound,
    /// 404: can vote only once every 24 hours.
    VoteTooSoon,
    /// 429: rate limit, too many requests.
    RateLimited,
    /// 503: site under scheduled maintenance.
    Maintenance,
    /// A code not in the table.
    Other(i64),
}

impl ErrorCode {
    /// The code for a number.
    pub fn from_code(code: i64) -> Self {
        use ErrorCode::*;
        match code {
            101 => ClientTokenInvalid,
            102 => ClientTokenRevoked,
            201 => InvalidCredentials,
            202 => UserDisabled,
            203 => UserTokenInvalid,
            204 => SessionInvalid,
            205 => UserAccessCreationFailed,
            206 => UserAccessInvalid,
            207 => UserTokenExpired,
            301 => BusinessNotAvailable,
            302 => MissingParameter,
            303 => LimitExceeded,
            304 => EmailAlreadyExists,
            305 => ReviewNotFound,
            306 => MalformedParameter,
            307 => UserNotFound,
            308 => InsufficientPermissions,
            309 => ReviewRequestRemovalFailed,
            310 => ProductReviewRequestRemovalFailed,
            311 => ImageUploadFailed,
            399 => Unexpected,
            401 => ProductNotFound,
            402 => ImageNotFound,
            403 => ProductReviewNotFound,
            404 => VoteTooSoon,
            429 => RateLimited,
            503 => Maintenance,
            other => Other(other),
        }
    }

    /// The number on the wire.
    pub fn code(self) -> i64 {
        use ErrorCode::*;
        match self {
            ClientTokenInvalid => 101,
            ClientTokenRevoked => 102,
            InvalidCredentials => 201,
            UserDisabled => 202,
            UserTokenInvalid => 203,
            SessionInvalid => 204,
            UserAccessCreationFailed => 205,
            UserAccessInvalid => 206,
            UserTokenExpired => 207,
            BusinessNotAvailable => 301,
            MissingParameter => 302,
            LimitExceeded => 303,
            EmailAlreadyExists => 304,
            ReviewNotFound => 305,
            MalformedParameter => 306,
            UserNotFound => 307,
            InsufficientPermissions => 308,
            ReviewRequestRemovalFailed => 309,
            ProductReviewRequestRemovalFailed => 310,
            ImageUploadFailed => 311,
            Unexpected => 399,
            ProductNotFound => 401,
            ImageNotFound => 402,
            ProductReviewNotFound => 403,
            VoteTooSoon => 404,
            RateLimited => 429,
            Maintenance => 503,
            Other(n) => n,
        }
    }

    /// The Sitejabber code of an error, if it carries one.
    pub fn of(error: &Error) -> Option<Self> {
        error
            .provider_code()?
            .trim()
            .parse::<i64>()
            .ok()
            .map(Self::from_code)
    }

    /// Codes that mean the user token must be renewed by logging in again.
    pub fn needs_login(self) -> bool {
        matches!(
            self,
            ErrorCode::UserTokenInvalid | ErrorCode::SessionInvalid | ErrorCode::UserTokenExpired
        )
    }

    /// Codes that mean the credentials themselves are wrong (logging in again won't help).
    pub fn is_credentials(self) -> bool {
        matches!(
            self,
            ErrorCode::ClientTokenInvalid
                | ErrorCode::ClientTokenRevoked
                | ErrorCode::InvalidCredentials
                | ErrorCode::UserDisabled
                | ErrorCode::UserAccessCreationFailed
                | ErrorCode::UserAccessInvalid
        )
    }
}

/// Reads Sitejabber's envelope: an answer is an error when `status` is `ERROR` or `success`
/// is false, whatever the HTTP status; codes 203, 204 and 207 mean "log in again"; codes
/// 429 and 503 give the error the retry hint of those HTTP statuses
/// ([`RetryHint::Throttled`], [`RetryHint::Unavailable`]), so they are retried like them,
/// while the error keeps the HTTP status the answer came with.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvelopeClassifier;

impl Classifier for EnvelopeClassifier {
    fn classify(&self, response: &Response) -> Verdict {
        let http = response.status().as_u16();
        let body: Option<Value> = serde_json::from_slice(response.body()).ok();
        let failed_in_body = body.as_ref().is_some_and(|v| {
            v.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("error"))
                || v.get("success") == Some(&Value::Bool(false))
        });
        if response.status().is_success() && !failed_in_body {
            return Verdict::Success;
        }
        let mut error = ProviderError::new(response.provider().clone(), response.endpoint().clone(), http);
        let code = body
            .as_ref()
            .and_then(|v| v.get("errorCode"))
            .and_then(lenient::as_u64);
        if let Some(v) = &body {
            error.code = code.map(|c| c.to_string());
            error.message = v.get("errorReason").and_then(lenient::as_text);
        }
        if error.code.is_none() && error.message.is_none() {
            // Not the envelope (a proxy's page, a bare 429): read the common shapes.
            let generic = response.provider_error();
            error.code = generic.code;
            error.message = generic.message;
            error.body_excerpt = generic.body_excerpt;
        }
        let typed = code.map(|c| ErrorCode::from_code(c as i64));
        // The code says more than the HTTP status (often 200), which is kept as it came.
        match typed {
            Some(ErrorCode::RateLimited) => error.retry_hint = RetryHint::Throttled,
            Some(ErrorCode::Maintenance) => error.retry_hint = RetryHint::Unavailable,
            _ => {}
        }
        if typed.is_some_and(ErrorCode::needs_login) {
            Verdict::AuthExpired(error)
        } else if typed.is_some_and(ErrorCode::is_credentials) {
            // Wrong credentials: an authentication failure, and a new login would not help.
            Verdict::AuthRejected(error)
        } else {
            Verdict::Failure(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for n in [
            101, 102, 201, 202, 203, 204, 205, 206, 207, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310,
            311, 399, 401, 402, 403, 404, 429, 503,
        ] {
            let c = ErrorCode::from_code(n);
            assert!(!matches!(c, ErrorCode::Other(_)), "{n} has a typed case");
            assert_eq!(c.code(), n);
        }
        assert_eq!(ErrorCode::from_code(999), ErrorCode::Other(999));
    }
}
