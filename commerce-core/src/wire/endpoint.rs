//! Declarative descriptions of provider endpoints.
//!
//! A provider crate turns each typed call into an [`Endpoint`]: method, path, query, body,
//! whether it is safe to repeat, its rate-limit bucket and extra headers. Only the
//! [`Transport`](crate::Transport) sends it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use url::Url;

use crate::error::{Error, Name};

/// Whether, and when, a request may be sent again after a failure.
///
/// The default follows the method: `GET`, `HEAD`, `PUT`, `DELETE` and `OPTIONS` are
/// [`Replay::Always`], `POST` and `PATCH` are [`Replay::Never`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replay {
    /// Safe to repeat: the request only reads, or sets a fixed state.
    Always,
    /// The request creates or changes something. It is re-sent only when it certainly did
    /// not act: the connection was never made, or the provider refused it with 429, 503 or
    /// an expired-credentials 401. Any other failure after sending ends in
    /// [`Error::Unconfirmed`].
    Never,
    /// Made safe to repeat by a key the provider de-duplicates on: one random key is
    /// generated per call and sent in this header with every attempt.
    IdempotencyKey(HeaderName),
}

impl Replay {
    fn for_method(method: &Method) -> Self {
        if method == Method::POST || method == Method::PATCH {
            Replay::Never
        } else {
            Replay::Always
        }
    }

    /// Whether a request that may have reached the provider can be sent again.
    pub fn after_possible_delivery(&self) -> bool {
        !matches!(self, Replay::Never)
    }
}

/// One part of a `multipart/form-data` body. `Debug` shows its name and file name only.
#[derive(Clone, PartialEq, Eq)]
pub struct Part {
    name: Name,
    value: PartValue,
    filename: Option<String>,
    mime: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PartValue {
    Text(String),
    Bytes(Bytes),
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.name)
            .field("filename", &self.filename)
            .finish_non_exhaustive()
    }
}

impl Part {
    /// A text field.
    pub fn text(name: impl Into<Name>, value: impl Into<String>) -> Self {
        Part {
            name: name.into(),
            value: PartValue::Text(value.into()),
            filename: None,
            mime: None,
        }
    }

    /// A file, with its name and media type (`image/jpeg`).
    pub fn file(
        name: impl Into<Name>,
        bytes: impl Into<Bytes>,
        filename: impl Into<String>,
        mime: impl Into<String>,
    ) -> Self {
        Part {
            name: name.into(),
            value: PartValue::Bytes(bytes.into()),
            filename: Some(filename.into()),
            mime: Some(mime.into()),
        }
    }

    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text value, for text parts.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            PartValue::Text(t) => Some(t),
            PartValue::Bytes(_) => None,
        }
    }

    /// The file name, for file parts.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    pub(crate) fn to_reqwest(&self) -> Result<reqwest::multipart::Part, Error> {
        let part = match &self.value {
            PartValue::Text(t) => reqwest::multipart::Part::text(t.clone()),
            PartValue::Bytes(b) => reqwest::multipart::Part::stream(b.clone()),
        };
        let part = match &self.filename {
            Some(f) => part.file_name(f.clone()),
            None => part,
        };
        match &self.mime {
            Some(m) => part
                .mime_str(m)
                .map_err(|_| Error::invalid(self.name.to_string(), format!("`{m}` is not a media type"))),
            None => Ok(part),
        }
    }
}

/// A request body. Bodies are kept as values (not streams), so a request that is safe to
/// repeat can be rebuilt for every attempt, and an authenticator can rewrite them.
///
/// `Debug` shows the kind, the field names and the size, never the values (a login form
/// holds a password).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// Serialized JSON, sent as `application/json`.
    Json(Bytes),
    /// Fields sent as `application/x-www-form-urlencoded`, in order.
    Form(Vec<(Name, String)>),
    /// Parts sent as `multipart/form-data`, in order.
    Multipart(Vec<Part>),
    /// Bytes with their own content type.
    Raw {
        /// The `Content-Type` to send.
        content_type: HeaderValue,
        /// The body.
        bytes: Bytes,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Json(b) => write!(f, "Json({} bytes)", b.len()),
            Body::Form(fields) => f
                .debug_tuple("Form")
                .field(&fields.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>())
                .finish(),
            Body::Multipart(parts) => f
                .debug_tuple("Multipart")
                .field(&parts.iter().map(Part::name).collect::<Vec<_>>())
                .finish(),
            Body::Raw { content_type, bytes } => write!(f, "Raw({content_type:?}, {} bytes)", bytes.len()),
        }
    }
}

impl Body {
    /// Serializes `value` as a JSON body.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Body, Error> {
        serde_json::to_vec(value)
            .map(|v| Body::Json(Bytes::from(v)))
            .map_err(|e| Error::invalid("body", format!("cannot be serialized as JSON: {e}")))
    }

    /// The form body encoded as `application/x-www-form-urlencoded`.
    pub fn encode_form(fields: &[(Name, String)]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

/// Where an endpoint sends: a path under the client's base URL, or an absolute URL (a
/// download link the provider handed out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Path(String),
    Absolute(Url),
}

/// The description of one call to a provider endpoint. `Debug` shows query and header
/// names, not their values (an e-mail address, a key).
///
/// ```
/// use commerce_core::{Endpoint, Replay};
/// let ep = Endpoint::get("reviews.list", "businesses/example.com/reviews")
///     .query("start", 0)
///     .query_opt("count", Some(100))
///     .query_opt("sort", None::<&str>)
///     .accept("application/json");
/// assert_eq!(ep.name(), "reviews.list");
/// assert_eq!(ep.replay(), &Replay::Always);
///
/// let create = Endpoint::post("orders.create", "orders").json(&serde_json::json!({"id": 1}));
/// assert_eq!(create.replay(), &Replay::Never);
/// ```
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) name: Name,
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) query: Vec<(Name, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Body>,
    pub(crate) replay: Replay,
    pub(crate) bucket: Option<Name>,
    pub(crate) authenticated: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) sensitive_answer: bool,
    pub(crate) invalid: Option<Arc<Error>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Path(p) => p.clone(),
            Target::Absolute(u) => crate::url::redact(u),
        };
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("target", &target)
            .field(
                "query",
                &self.query.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(),
            )
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .field("replay", &self.replay)
            .field("bucket", &self.bucket)
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint called with `method` at `path` (relative to the client's base URL; a
    /// leading `/` is ignored). `name` identifies it in traces and errors (`orders.list`).
    pub fn new(method: Method, name: impl Into<Name>, path: impl Into<String>) -> Self {
        let path = path.into();
        Endpoint {
            name: name.into(),
            replay: Replay::for_method(&method),
            method,
            target: Target::Path(path.trim_start_matches('/').to_owned()),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            bucket: None,
            authenticated: true,
            timeout: None,
            sensitive_answer: false,
            invalid: None,
        }
    }

    /// A `GET` endpoint.
    pub fn get(name: impl Into<Name>, path: impl Into<String>) -> Self {
        Self::new(Method::GET, name, path)
    }

    /// A `POST` endpoint.
    pub fn post(name: impl Into<Name>, path: impl Into<String>) -> Self {
        Self::new(Method::POST, name, path)
    }

    /// A `PUT` endpoint.
    pub fn put(name: impl Into<Name>, path: impl Into<String>) -> Self {
        Self::new(Method::PUT, name, path)
    }

    /// A `DELETE` endpoint.
    pub fn delete(name: impl Into<Name>, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, name, path)
    }

    /// A `PATCH` endpoint.
    pub fn patch(name: impl Into<Name>, path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, name, path)
    }

    /// Sends to an absolute URL instead of a path under the base URL (the HTTPS rule still
    /// applies).
    pub fn absolute(mut self, url: Url) -> Self {
        self.target = Target::Absolute(url);
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<Name>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub fn query_opt(self, key: impl Into<Name>, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds a header. An invalid value makes the call fail with [`Error::InvalidInput`]
    /// before anything is sent.
    pub fn header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(v) => {
                self.headers.insert(name, v);
            }
            Err(_) => self.fail(Error::invalid(
                name.as_str().to_owned(),
                "is not a valid header value",
            )),
        }
        self
    }

    /// Sets `Accept` (a provider's versioned media type, `text/csv`, ...).
    pub fn accept(self, media_type: impl AsRef<str>) -> Self {
        self.header(ACCEPT, media_type)
    }

    /// Overrides the `Content-Type` of a JSON or form body (a vendor media type).
    pub fn content_type(self, media_type: impl AsRef<str>) -> Self {
        self.header(CONTENT_TYPE, media_type)
    }

    /// Sends `value` as a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match Body::json(value) {
            Ok(b) => self.body = Some(b),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Sends these fields as a form body.
    pub fn form<K: Into<Name>, V: ToString>(mut self, fields: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut all = match self.body.take() {
            Some(Body::Form(f)) => f,
            _ => Vec::new(),
        };
        all.extend(fields.into_iter().map(|(k, v)| (k.into(), v.to_string())));
        self.body = Some(Body::Form(all));
        self
    }

    /// Adds one form field (when `value` is `Some`).
    pub fn form_opt(self, key: impl Into<Name>, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.form([(key.into(), v.to_string())]),
            None => self,
        }
    }

    /// Sends these parts as a `multipart/form-data` body.
    pub fn multipart(mut self, parts: Vec<Part>) -> Self {
        self.body = Some(Body::Multipart(parts));
        self
    }

    /// Sets the body directly.
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    /// Marks the endpoint as safe to repeat (a read sent as `POST`, as ShopWeDo does).
    pub fn idempotent(mut self) -> Self {
        self.replay = Replay::Always;
        self
    }

    /// Sets the replay rule explicitly.
    pub fn with_replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }

    /// Counts this endpoint against a named rate-limit bucket instead of the client's
    /// default one (bol limits each endpoint on its own).
    pub fn bucket(mut self, bucket: impl Into<Name>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Sends without the client's authenticator (a login call, a public download).
    pub fn without_auth(mut self) -> Self {
        self.authenticated = false;
        self
    }

    /// Overrides the client's per-request time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The answer carries secrets (a login token): its body is never quoted in errors.
    pub fn sensitive_answer(mut self) -> Self {
        self.sensitive_answer = true;
        self
    }

    /// Makes every send of this endpoint fail with `error` before anything is sent. Provider
    /// crates use it to carry a validation failure found while describing the call.
    pub fn fail(&mut self, error: Error) {
        if self.invalid.is_none() {
            self.invalid = Some(Arc::new(error));
        }
    }

    /// The name used in traces and errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The replay rule.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The body, if any.
    pub fn body_ref(&self) -> Option<&Body> {
        self.body.as_ref()
    }

    /// The query parameters, in order.
    pub fn query_pairs(&self) -> &[(Name, String)] {
        &self.query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_follows_the_method_unless_told() {
        assert_eq!(Endpoint::get("a", "x").replay, Replay::Always);
        assert_eq!(Endpoint::put("a", "x").replay, Replay::Always);
        assert_eq!(Endpoint::delete("a", "x").replay, Replay::Always);
        assert_eq!(Endpoint::post("a", "x").replay, Replay::Never);
        assert_eq!(Endpoint::patch("a", "x").replay, Replay::Never);
        assert_eq!(Endpoint::post("a", "x").idempotent().replay, Replay::Always);
    }

    #[test]
    fn form_fields_accumulate_in_order_and_encode() {
        let ep = Endpoint::post("login", "/login")
            .form([("email", "a@b.c")])
            .form_opt("password", Some("p w&"))
            .form_opt("missing", None::<String>);
        let Some(Body::Form(fields)) = &ep.body else {
            panic!("form body expected")
        };
        assert_eq!(Body::encode_form(fields), "email=a%40b.c&password=p+w%26");
        assert!(matches!(ep.target, Target::Path(ref p) if p == "login"));
    }

    #[test]
    fn a_bad_header_value_poisons_the_endpoint() {
        let ep = Endpoint::get("a", "x").header(ACCEPT, "bad\nvalue");
        let err = ep.invalid.expect("must be invalid");
        assert!(err.is_invalid_input());
    }
}
