//! Layer 1, wire values: one attempt of a request as it leaves, and its conversion into the
//! HTTP client's request.

use std::fmt;
use std::time::Duration;

use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use crate::error::{Error, Name};
use crate::wire::endpoint::{Body, Part};
use crate::wire::http::HttpClient;

/// One attempt of a request as the [`Authenticator`](crate::Authenticator) sees it, before it is sent. The
/// authenticator may add headers or query parameters, or rewrite the body (a signed
/// envelope). `Debug` shows the URL without its query and the header names only.
#[derive(Clone)]
#[non_exhaustive]
pub struct OutgoingRequest {
    /// The method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// The headers so far.
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Body>,
    /// The endpoint's name.
    pub endpoint: Name,
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingRequest")
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("url", &crate::url::redact(&self.url))
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .finish()
    }
}

impl OutgoingRequest {
    /// Appends a query parameter.
    pub fn add_query(&mut self, key: &str, value: &str) {
        self.url.query_pairs_mut().append_pair(key, value);
    }
}

impl OutgoingRequest {
    /// The request reqwest sends: the URL, the headers (the `User-Agent` added unless an
    /// endpoint or the authenticator set one), the body with its `Content-Type`, the time
    /// limit. The headers are moved into it, not copied (as `RequestBuilder::headers` would
    /// do); a multipart body (whose boundary reqwest makes up) and a URL without a host
    /// (which reqwest refuses) go through the builder.
    pub(crate) fn into_reqwest(
        self,
        http: &HttpClient,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Request, Error> {
        let OutgoingRequest {
            method,
            url,
            mut headers,
            body,
            endpoint,
        } = self;
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| http.user_agent().clone());
        let body = match body {
            Some(Body::Multipart(parts)) => {
                return build_with_builder(http, method, url, headers, Some(parts), timeout, &endpoint);
            }
            _ if !url.has_host() => {
                return build_with_builder(http, method, url, headers, None, timeout, &endpoint);
            }
            None => None,
            Some(Body::Json(bytes)) => {
                headers
                    .entry(CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/json"));
                Some(reqwest::Body::from(bytes))
            }
            Some(Body::Form(fields)) => {
                headers
                    .entry(CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/x-www-form-urlencoded"));
                Some(reqwest::Body::from(Body::encode_form(&fields)))
            }
            Some(Body::Raw { content_type, bytes }) => {
                headers.insert(CONTENT_TYPE, content_type);
                Some(reqwest::Body::from(bytes))
            }
        };
        let mut built = reqwest::Request::new(method, url);
        *built.headers_mut() = headers;
        *built.body_mut() = body;
        // Only when there is one: the first request setting takes an allocation.
        if let Some(t) = timeout {
            *built.timeout_mut() = Some(t);
        }
        Ok(built)
    }
}

/// [`OutgoingRequest::into_reqwest`] through reqwest's builder: a multipart body, or a URL reqwest
/// refuses (the body does not matter then: the builder fails).
fn build_with_builder(
    http: &HttpClient,
    method: Method,
    url: Url,
    mut headers: HeaderMap,
    parts: Option<Vec<Part>>,
    timeout: Option<Duration>,
    endpoint: &Name,
) -> Result<reqwest::Request, Error> {
    let mut builder = http.client().request(method, url);
    if let Some(parts) = parts {
        headers.remove(CONTENT_TYPE);
        let mut form = reqwest::multipart::Form::new();
        for p in &parts {
            form = form.part(p.name().to_owned(), p.to_reqwest()?);
        }
        builder = builder.multipart(form);
    }
    builder = builder.headers(headers);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder.build().map_err(|e| {
        Error::invalid(
            endpoint.to_string(),
            format!("the request cannot be built: {}", e.without_url()),
        )
    })
}
