//! Reading the expiry of a JWT access token (bol hands out JWTs).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A JWT payload longer than this (base64) is not read: no access token needs 64 KiB of
/// claims, and reading it would cost memory for nothing.
const MAX_PAYLOAD: usize = 64 * 1024;

/// The `exp` claim of a JWT, if `token` is one and has it.
///
/// The signature is not checked: the value only tells the client when to ask for a new
/// token, and the provider checks the token itself.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// // header {"alg":"none"}, payload {"exp":1700000299}
/// let token = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAyOTl9.sig";
/// assert_eq!(
///     commerce_core::jwt_expiry(token),
///     Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_299))
/// );
/// assert_eq!(commerce_core::jwt_expiry("not-a-jwt"), None);
/// ```
pub fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    // Only `exp` is read: the other claims are skipped, not built, however large.
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Exp {
        Number(f64),
        Text(String),
    }
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<Exp>,
    }
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let exp = match claims.exp? {
        Exp::Number(n) => n,
        Exp::Text(t) => t.trim().parse::<f64>().unwrap_or(0.0),
    };
    // Any value may come (1e300, -1, "soon"): no panic, no overflow. One that makes no sense
    // is an expiry long past (the cache keeps the token for its floor); one past what the
    // clock can hold is far in the future (the cache keeps it for its ceiling).
    if exp.is_nan() || exp <= 0.0 {
        return Some(SystemTime::UNIX_EPOCH);
    }
    let since_epoch = Duration::try_from_secs_f64(exp).unwrap_or(FAR);
    Some(
        SystemTime::UNIX_EPOCH
            .checked_add(since_epoch)
            .unwrap_or(SystemTime::UNIX_EPOCH + FAR),
    )
}

/// About 35,000 years: later than any token lives, early enough for every clock.
const FAR: Duration = Duration::from_secs(1 << 40);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_expiries_never_panic() {
        let jwt = |exp: &str| {
            format!(
                "eyJhbGciOiJub25lIn0.{}.sig",
                URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"))
            )
        };
        for exp in [
            "1e300",
            "-1",
            "18446744073709551615",
            "9.3e18",
            "1.7976931348623157e308",
            "0",
        ] {
            let _ = jwt_expiry(&jwt(exp));
        }
        assert_eq!(jwt_expiry(&jwt("-1")), Some(SystemTime::UNIX_EPOCH), "long past");
        assert!(jwt_expiry(&jwt("1e300")).unwrap() > SystemTime::now() + Duration::from_secs(1 << 30));
        assert_eq!(
            jwt_expiry(&jwt("\"1700000000\"")),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(jwt_expiry(&jwt("0")), Some(SystemTime::UNIX_EPOCH));
    }

    #[test]
    fn odd_tokens_have_no_expiry() {
        for t in ["", "a.b", "a.b.c.d", "a.!!!.c", "a.e30.c" /* {} */] {
            assert_eq!(jwt_expiry(t), None, "{t}");
        }
    }
}
