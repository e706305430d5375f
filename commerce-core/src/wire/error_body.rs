//! Layer 1, wire values: reading a provider's code, message and violations from an error
//! answer's body, in the common shapes.

use crate::error::{FieldError, ProviderError};

fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_text(v: &serde_json::Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| v.get(k).and_then(text_of))
}

fn read_violations(v: &serde_json::Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    for key in ["violations", "errors"] {
        match v.get(key) {
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let field = first_text(item, &["name", "field", "property", "path"]).unwrap_or_default();
                    let message =
                        first_text(item, &["reason", "message", "detail", "error"]).or_else(|| text_of(item));
                    if let Some(message) = message {
                        out.push(FieldError::new(field, message));
                    }
                }
            }
            Some(serde_json::Value::Object(map)) => {
                for (field, reason) in map {
                    let message = match reason {
                        serde_json::Value::Array(list) => {
                            list.iter().filter_map(text_of).collect::<Vec<_>>().join(", ")
                        }
                        other => text_of(other).unwrap_or_else(|| other.to_string()),
                    };
                    out.push(FieldError::new(field.clone(), message));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a provider's "code" reads as a code (`invalid_client`, `order_invalid_data`,
/// `304`, `urn:bol:problem`, `auth/invalid`) rather than as words (`Oops!`, `The order could
/// not be found.`): letters, digits and `_ - . : /` only.
pub(crate) fn is_code(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':' | '/'))
}

/// Reads a provider's code, message and violations from a JSON error body in any of the
/// common shapes (OAuth `error`/`error_description`, Problem `title`/`detail`, `message`,
/// Sitejabber's `errorCode`/`errorReason`, `{"error": {"message": ..}}`). A "code" that is
/// words ([`is_code`]) is taken as the message (ShopWeDo sends its human text in `error`:
/// `{"error": "Oops!"}`).
pub(crate) fn read_error_body(pe: &mut ProviderError, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    pe.code = first_text(&v, &["error", "errorCode", "code", "error_code"]);
    pe.message = first_text(
        &v,
        &["error_description", "errorReason", "detail", "message", "title"],
    )
    .or_else(|| {
        v.get("error")
            .and_then(|e| first_text(e, &["message", "description"]))
    });
    words_as_message(pe);
    pe.violations = read_violations(&v);
}

/// A "code" that is words ([`is_code`]) becomes the message (when there is none).
pub(crate) fn words_as_message(pe: &mut ProviderError) {
    if pe.code.as_deref().is_some_and(|c| !is_code(c)) {
        let words = pe.code.take();
        if pe.message.is_none() {
            pe.message = words;
        }
    }
}
