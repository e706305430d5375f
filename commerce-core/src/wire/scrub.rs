//! Taking configured secrets out of text a provider sent, before it enters an error.
//!
//! A provider may quote the request in its error message (a token endpoint that answers
//! `invalid_client: client_id=..&client_secret=..`). Every error built from an answer goes
//! through a [`Scrubber`] holding the client's secrets, in the forms they travel in (as
//! they are, form- and percent-encoded), and every place they appear becomes `[redacted]`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ProviderError};

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// The secrets of a client, ready to be taken out of text. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    /// Every secret in every form it may travel in, longest first.
    needles: Arc<Vec<String>>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} forms of secrets)", self.needles.len())
    }
}

impl Scrubber {
    /// A scrubber for `secrets`.
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a SecretString>) -> Self {
        let mut s = Scrubber::default();
        s.extend(secrets.into_iter().map(|x| x.expose_secret()));
        s
    }

    fn extend<'a>(&mut self, secrets: impl IntoIterator<Item = &'a str>) {
        let needles = Arc::make_mut(&mut self.needles);
        for secret in secrets {
            let secret = secret.trim();
            if secret.is_empty() {
                continue;
            }
            let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let percent = form.replace('+', "%20");
            // As a JSON string holds it: serde's escaping, and PHP's (`\/`, `\u00f6`).
            let json = serde_json::to_string(secret).unwrap_or_default();
            let json = json.trim_matches('"').to_owned();
            let php = php_json(secret);
            for form in [secret.to_owned(), form, percent, json, php] {
                if !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// This scrubber plus the secrets in `values` (header values marked sensitive: a
    /// bearer token, and the token alone without its scheme).
    pub(crate) fn with_headers(&self, values: &[HeaderValue]) -> Scrubber {
        if values.is_empty() {
            return self.clone();
        }
        let mut s = self.clone();
        // As UTF-8, not only visible ASCII (`to_str`): a token with other bytes is quoted
        // back as text all the same.
        let texts: Vec<&str> = values
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .flat_map(|v| {
                let bare = v.split_once(' ').map(|(_, t)| t);
                std::iter::once(v).chain(bare)
            })
            .collect();
        s.extend(texts);
        s
    }

    /// [`excerpt`](crate::excerpt) of `body` with the secrets taken out *before* it is cut
    /// to length and its whitespace folded, so no part of a secret survives at a cut.
    pub(crate) fn excerpt(&self, body: &[u8], at: Option<(usize, usize)>) -> Option<String> {
        if self.is_empty() {
            return crate::wire::excerpt::excerpt(body, at);
        }
        // The excerpt's own reach, plus the longest secret on both sides.
        let reach = crate::wire::excerpt::EXCERPT_REACH + self.needles.first().map_or(0, String::len);
        let offset = match at {
            Some((line, column)) => crate::wire::excerpt::byte_offset(body, line, column),
            None => 0,
        };
        let from = offset.saturating_sub(reach);
        let to = offset.saturating_add(reach).min(body.len());
        let window = String::from_utf8_lossy(&body[from..to]);
        let before = String::from_utf8_lossy(&body[from..offset.min(to)]);
        let clean_before = self.text(&before);
        let clean = self.text(&window);
        let mut out =
            crate::wire::excerpt::excerpt(clean.as_bytes(), at.map(|_| (1, clean_before.len() + 1)))?;
        if from > 0 && !out.starts_with('…') {
            out.insert(0, '…');
        }
        if to < body.len() && !out.ends_with('…') {
            out.push('…');
        }
        Some(out)
    }

    /// Whether there is nothing to take out.
    pub(crate) fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for needle in self.needles.iter() {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), REDACTED));
            }
        }
        out
    }

    fn string(&self, text: &mut String) -> bool {
        match self.text(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(clean) => {
                *text = clean;
                true
            }
        }
    }

    /// A provider's error code: an identifier it defines (`invalid_grant`), which a secret
    /// of fewer than 8 characters cannot be told apart from; only longer secrets are taken
    /// out of it, so `provider_code()` stays something to match on.
    fn code(&self, code: &mut Option<String>) -> bool {
        let Some(text) = code else {
            return false;
        };
        let mut changed = false;
        for needle in self.needles.iter().filter(|n| n.chars().count() >= 8) {
            if text.contains(needle.as_str()) {
                *text = text.replace(needle.as_str(), REDACTED);
                changed = true;
            }
        }
        changed
    }

    fn option(&self, text: &mut Option<String>) -> bool {
        text.as_mut().is_some_and(|t| self.string(t))
    }

    /// Takes the secrets out of a provider's error answer.
    pub(crate) fn provider_error(&self, e: &mut ProviderError) {
        if self.is_empty() {
            return;
        }
        self.code(&mut e.code);
        self.option(&mut e.message);
        self.option(&mut e.body_excerpt);
        for v in &mut e.violations {
            self.string(&mut v.field);
            self.string(&mut v.message);
        }
    }

    /// Takes the secrets out of every text of `error` that came from a provider. A decoder's
    /// own error (which may quote a value) is dropped when its message held a secret.
    pub(crate) fn error(&self, error: Error) -> Error {
        if self.is_empty() {
            return error;
        }
        match error {
            Error::Provider(mut p) => {
                self.provider_error(&mut p);
                Error::Provider(p)
            }
            Error::Auth(mut a) => {
                let changed = self.string(&mut a.message) | self.code(&mut a.code);
                if changed {
                    a.source = None;
                }
                Error::Auth(a)
            }
            Error::Decode(mut d) => {
                let changed =
                    self.string(&mut d.message) | self.option(&mut d.excerpt) | self.string(&mut d.path);
                if changed {
                    d.source = None;
                }
                Error::Decode(d)
            }
            Error::RateLimited {
                provider,
                endpoint,
                retry_after,
                answer,
            } => Error::RateLimited {
                provider,
                endpoint,
                retry_after,
                answer: answer.map(|mut a| {
                    self.provider_error(&mut a);
                    a
                }),
            },
            Error::Unconfirmed {
                provider,
                endpoint,
                source,
            } => Error::Unconfirmed {
                provider,
                endpoint,
                source: Arc::new(self.error((*source).clone())),
            },
            other => other,
        }
    }
}

/// `text` as PHP's `json_encode` writes it inside a string: `/` escaped, every character
/// outside ASCII as `\uXXXX` (UTF-16 units).
fn php_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_taken_out() {
        let s = Scrubber::new([&SecretString::from("s3cr et+/x".to_owned())]);
        let quoted = "bad request: grant_type=client_credentials&client_secret=s3cr+et%2B%2Fx; \
                      raw s3cr et+/x; path s3cr%20et%2B%2Fx";
        let clean = s.text(quoted);
        assert!(!clean.contains("s3cr"), "{clean}");
        assert_eq!(clean.matches(REDACTED).count(), 3, "{clean}");
        assert!(matches!(s.text("nothing here"), Cow::Borrowed(_)));
        let s2 = Scrubber::new([&SecretString::from("k/ö\"x".to_owned())]);
        assert_eq!(s2.text(r#"{"m":"k\/\u00f6\"x"}"#), r#"{"m":"[redacted]"}"#);
        assert_eq!(s2.text(r#"{"m":"k/ö\"x"}"#), r#"{"m":"[redacted]"}"#);
        let with = s.with_headers(&[HeaderValue::from_static("Bearer tok-123")]);
        assert_eq!(with.text("token tok-123 refused"), "token [redacted] refused");
        assert!(!format!("{with:?}").contains("tok"));
    }
}
