//! Layer 1, wire values: an answer read in full, and decoding it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, Error, Name, ProviderError, unreadable};
use crate::wire::error_body::read_error_body;
use crate::wire::excerpt::cut;
use crate::wire::retry_after::parse_retry_after;
use crate::wire::scrub::Scrubber;

/// An answer, read in full.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    provider: Name,
    endpoint: Name,
    sensitive: bool,
    acted: bool,
    scrubber: Scrubber,
    /// Secrets the request carried in headers (a bearer token), to take out of error texts.
    sent: Vec<HeaderValue>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// An answer, for classifiers and tests.
    pub fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        provider: impl Into<Name>,
        endpoint: impl Into<Name>,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            provider: provider.into(),
            endpoint: endpoint.into(),
            sensitive: false,
            acted: false,
            scrubber: Scrubber::default(),
            sent: Vec::new(),
        }
    }

    /// An answer the client read: `sensitive` when its body carries secrets, `acted` when
    /// it is the success answer of a call that may have acted, `scrubber` the client's
    /// secrets and `sent` the ones the request carried in headers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        provider: Name,
        endpoint: Name,
        sensitive: bool,
        acted: bool,
        scrubber: Scrubber,
        sent: Vec<HeaderValue>,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            provider,
            endpoint,
            sensitive,
            acted,
            scrubber,
            sent,
        }
    }

    /// The client's secrets and the ones this request carried, for an error's texts.
    pub(crate) fn scrubber(&self) -> Scrubber {
        self.scrubber.with_headers(&self.sent)
    }

    /// An [`excerpt`](crate::excerpt) of the body, with every secret of the client and of this request taken
    /// out first; for provider crates that build their own errors from an answer. `None`
    /// for an answer that carries secrets.
    pub fn excerpt(&self, at: Option<(usize, usize)>) -> Option<String> {
        if self.sensitive {
            return None;
        }
        self.scrubber().excerpt(&self.body, at)
    }

    /// Whether this is the success answer of a call that may have acted at the provider (its
    /// endpoint is not [`Replay::Always`](crate::Replay::Always): a create or a change). An answer to such a call
    /// that cannot be read leaves its outcome unknown: see [`Response::unreadable`].
    pub fn may_have_acted(&self) -> bool {
        self.acted
    }

    /// The error for an answer that could not be read as expected (`error`, typically a
    /// [`Error::Decode`]): when the call [`may have acted`](Self::may_have_acted), it is
    /// [`Error::Unconfirmed`] with `error` as its cause, since the provider may well have
    /// created what was asked although the caller cannot tell; otherwise `error` itself.
    pub fn unreadable(&self, error: Error) -> Error {
        unreadable(
            self.scrubber().error(error),
            !self.acted,
            &self.provider,
            &self.endpoint,
        )
    }

    /// Decodes `body` (this answer's body, or a part of it the caller took out) as JSON into
    /// `T`, as [`decode_json`] does; a failure goes through [`Response::unreadable`].
    pub fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Error> {
        decode_scrubbed(&self.provider, &self.endpoint, body, self.sensitive, || {
            self.scrubber()
        })
        .map_err(|e| self.unreadable(e))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body (already gzip-decoded).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The provider that answered.
    pub fn provider(&self) -> &Name {
        &self.provider
    }

    /// The endpoint that was called.
    pub fn endpoint(&self) -> &Name {
        &self.endpoint
    }

    /// Whether the body carries secrets and must never be quoted.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON; a failure names the JSON path and quotes the body around it
    /// (and is [`Error::Unconfirmed`] when the call [`may have acted`](Self::may_have_acted)).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.decode(&self.body)
    }

    /// A [`ProviderError`] read from this answer in the common shapes (see
    /// [`DefaultClassifier`](crate::DefaultClassifier)).
    pub fn provider_error(&self) -> ProviderError {
        let mut pe = ProviderError::new(self.provider.clone(), self.endpoint.clone(), self.status.as_u16());
        read_error_body(&mut pe, &self.body);
        if pe.code.is_none() && pe.message.is_none() {
            pe.body_excerpt = self.excerpt(None);
        }
        pe.retry_after = self
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        pe
    }
}

/// Decodes `body` as JSON into `T`, reporting the JSON path of a failure and, unless the
/// body is `sensitive`, a short excerpt around it.
pub fn decode_json<T: DeserializeOwned>(
    provider: &Name,
    endpoint: &Name,
    body: &[u8],
    sensitive: bool,
) -> Result<T, Error> {
    decode_scrubbed(provider, endpoint, body, sensitive, Scrubber::default)
}

/// [`decode_json`], with `scrubber`'s secrets taken out of the error before its texts are
/// cut. The decoder's message can quote a value of any length (a string where a number was
/// expected): it is cut to 300 characters and the JSON path to 200, and the decoder's own
/// error, which holds the whole value, is then not kept.
///
/// The scrubber is made only for an error: with a bearer token it holds the token in five
/// forms, a dozen strings to build, which an answer that decodes never needs.
fn decode_scrubbed<T: DeserializeOwned>(
    provider: &Name,
    endpoint: &Name,
    body: &[u8],
    sensitive: bool,
    scrubber: impl FnOnce() -> Scrubber,
) -> Result<T, Error> {
    // The plain decoder first: tracking the path of every value costs about as much as the
    // decoding itself, and only a failure needs it. A failure is decoded again with the path
    // tracked (answers that decode are the rule; a few KB decoded twice on an error is not).
    let mut de = serde_json::Deserializer::from_slice(body);
    if let Ok(value) = T::deserialize(&mut de) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if sensitive {
            // The decoder's message could quote a value of the secret-bearing answer, so
            // neither it nor the decoder's error is kept.
            return Error::from(DecodeError {
                provider: provider.clone(),
                endpoint: endpoint.clone(),
                path,
                message: format!(
                    "{:?} error at line {} column {}",
                    inner.classify(),
                    inner.line(),
                    inner.column()
                ),
                excerpt: None,
                source: None,
            });
        }
        let scrubber = scrubber();
        let (path, path_cut) = cut(&scrubber.text(&path), 200);
        let full = inner.to_string();
        let clean = scrubber.text(&full);
        let scrubbed = clean != full;
        let (message, message_cut) = cut(&clean, 300);
        let keep_source = !(path_cut || message_cut || scrubbed);
        Error::from(DecodeError {
            provider: provider.clone(),
            endpoint: endpoint.clone(),
            path,
            message,
            excerpt: scrubber.excerpt(body, Some((inner.line(), inner.column()))),
            source: if keep_source { Some(Arc::new(inner)) } else { None },
        })
    })
}
