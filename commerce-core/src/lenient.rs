//! Tolerant field decoders for providers whose answers drift from their documentation:
//! numbers sent as strings, `""` or `false` for "none" (`integer|bool`, `DateTime|bool`,
//! `array|bool`), dates with slashes, `null` where a value is promised. Every decoder here
//! accepts all of that and never fails: an unreadable value becomes `None` (or empty), never
//! an error that sinks a whole page.
//!
//! Use them with serde's `deserialize_with`, always together with `default`:
//!
//! ```
//! use commerce_core::lenient;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Item {
//!     #[serde(default, deserialize_with = "lenient::opt_u64")]
//!     count: Option<u64>,
//!     #[serde(default, deserialize_with = "lenient::opt_local")]
//!     shipped_at: Option<chrono::NaiveDateTime>,
//! }
//!
//! let item: Item = serde_json::from_str(r#"{"count": "12", "shipped_at": false}"#).unwrap();
//! assert_eq!((item.count, item.shipped_at), (Some(12), None));
//! ```

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Any JSON value (`null` when absent).
pub fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.unwrap_or(Value::Null))
}

/// A whole number from a number or a numeric string (`false`, blank and the rest: `None`).
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        // `integer|bool` fields send `false` for "none".
        _ => None,
    }
}

/// A number from a number or a numeric string.
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A text from a string (not blank) or a number; `false`, `null` and the rest are `None`.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // `string|bool` fields send `false` for "none".
        _ => None,
    }
}

/// A whole number sent as a number or a numeric string; `false` is `None`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(as_u64(&value(d)?))
}

/// A signed whole number (a stock level can go below zero) sent as a number or a numeric
/// string; `false` is `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match value(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    })
}

/// A list of whole numbers sent as numbers or numeric strings; `false`, `null` and odd
/// elements give nothing.
pub fn u64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(match value(d)? {
        Value::Array(items) => items.iter().filter_map(as_u64).collect(),
        _ => Vec::new(),
    })
}

/// A number sent as a number or a numeric string.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(as_f64(&value(d)?))
}

/// A text sent as a string or a number; blank is `None`.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(as_text(&value(d)?))
}

/// A text that is always there: missing, `null` or odd values are the empty string.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(as_text(&value(d)?).unwrap_or_default())
}

/// A flag sent as `true`/`false`, `1`/`0`, `"1"`/`"0"`, `"Yes"`/`"No"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match value(d)? {
        Value::Bool(b) => Some(b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "y" => Some(true),
            "0" | "no" | "false" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Normalizes `2020/02/18` to `2020-02-18` in the date part of a timestamp.
fn dashed(s: &str) -> String {
    let s = s.trim();
    match s.get(..10) {
        Some(date) if date.as_bytes().get(4) == Some(&b'/') => {
            format!("{}{}", date.replace('/', "-"), &s[10..])
        }
        _ => s.to_owned(),
    }
}

/// Reads a local timestamp in any of the shapes providers send: `2015-11-06 12:01:45`,
/// `2020/02/18 08:19:04`, `2015-11-06T12:01:45-07:00` (the offset dropped), `2017-04-28`.
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let s = dashed(s);
    if s.is_empty() {
        return None;
    }
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(&s).ok().map(|d| d.naive_local()))
        .or_else(|| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// Reads an "RFC 3339" timestamp, including the slashed `2020/02/18T08:19:04-07:00`.
pub fn parse_rfc(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = dashed(s);
    DateTime::parse_from_rfc3339(&s)
        .or_else(|_| DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%z"))
        .ok()
}

/// A local timestamp; blank or unreadable is `None`.
pub fn opt_local<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    Ok(match value(d)? {
        Value::String(s) => parse_local(&s),
        _ => None,
    })
}

/// A calendar date (`2024-05-01`, also the date of a timestamp); blank, `false` or
/// unreadable is `None`.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(match value(d)? {
        Value::String(s) => parse_local(&s).map(|t| t.date()),
        _ => None,
    })
}

/// An RFC 3339 timestamp; blank or unreadable is `None`.
pub fn opt_rfc<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Ok(match value(d)? {
        Value::String(s) => parse_rfc(&s),
        _ => None,
    })
}

/// A list whose elements are read one by one: `null` or a non-list is empty, and an element
/// that cannot be read is left out (logged at debug level).
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match value(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match serde_json::from_value(item) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::debug!(error = %e, "an odd list element was left out");
                    None
                }
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// A list of texts: numbers are kept as their text, blanks and `null`s are skipped.
pub fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match value(d)? {
        Value::Array(items) => items.iter().filter_map(as_text).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    })
}

/// Any nested object; absent or unreadable is `None`.
pub fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match value(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_date_shape_is_read() {
        let want = NaiveDate::from_ymd_opt(2020, 2, 18)
            .unwrap()
            .and_hms_opt(8, 19, 4)
            .unwrap();
        for s in [
            "2020-02-18 08:19:04",
            "2020/02/18 08:19:04",
            "2020/02/18T08:19:04-07:00",
            "2020-02-18T08:19:04",
        ] {
            assert_eq!(parse_local(s), Some(want), "{s}");
        }
        assert_eq!(parse_local(""), None);
        assert_eq!(parse_local("pending"), None);
        assert_eq!(
            parse_local("2017-04-28"),
            NaiveDate::from_ymd_opt(2017, 4, 28).unwrap().and_hms_opt(0, 0, 0)
        );
        let rfc = parse_rfc("2020/02/18T08:19:04-07:00").unwrap();
        assert_eq!(rfc.naive_local(), want);
        assert_eq!(rfc.offset().local_minus_utc(), -7 * 3600);
        assert!(parse_rfc("2015-11-06T12:01:45-07:00").is_some());
        assert!(parse_rfc("").is_none());
    }

    #[test]
    fn numbers_texts_and_flags_are_read_in_any_shape() {
        use serde_json::json;
        assert_eq!(as_u64(&json!("10")), Some(10));
        assert_eq!(as_u64(&json!(10.0)), Some(10));
        assert_eq!(as_u64(&json!("")), None);
        assert_eq!(as_u64(&json!("x")), None);
        assert_eq!(as_u64(&json!(false)), None, "integer|bool: false means none");
        assert_eq!(as_f64(&json!("4.43")), Some(4.43));
        assert_eq!(as_text(&json!(4770)), Some("4770".into()));
        assert_eq!(as_text(&json!("")), None);
    }
}
