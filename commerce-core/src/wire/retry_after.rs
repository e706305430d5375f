//! Layer 1, wire values: reading a server's `Retry-After`.

use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// The longest wait any server answer can impose (`Retry-After`, `X-RateLimit-Reset`): a
/// day. Larger values (`18446744073709551615`, `1e300`, a date in the year 9999) are taken
/// as this, so no arithmetic on them can overflow; such a wait is far past
/// [`RetryPolicy::max_wait`](crate::RetryPolicy::max_wait) anyway, so the call fails at once with
/// [`Error::RateLimited`](crate::Error::RateLimited) instead of hanging.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Reads a `Retry-After` value: delay seconds (`120`, also `1.5`) or an HTTP date; at most
/// [`MAX_SERVER_WAIT`]. Anything else (negative, not a number, not UTF-8) is `None`.
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_SERVER_WAIT.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_WAIT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(parse_retry_after(&v("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(&v(" 1.5 "), now),
            Some(Duration::from_millis(1500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&v(&date), now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&v(&past), now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&v("-1"), now), None);
        assert_eq!(parse_retry_after(&v("soon"), now), None);
    }
}
