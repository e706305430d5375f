//! Layer 1: one raw exchange, the only place a request meets the network. It sends one
//! request, reads its answer within bounds (a success up to the client's limit, an error
//! answer's first [`MAX_ERROR_BYTES`]), tells the interceptors, and turns the HTTP client's
//! failures into this crate's errors. What the answer means is the caller's business: the
//! client's send loop and the OAuth2 token request both go through here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use crate::error::{Delivery, Error, Name, TransportFailure};
use crate::wire::http::{HttpClient, MAX_ERROR_BYTES, ReadError, read_body};
use crate::wire::interceptor::{Answered, Outgoing};

/// One request to send: who it is for, for errors, interceptors and time-outs.
pub(crate) struct Exchange<'a> {
    /// The settings: the HTTP client, the answer limit, the interceptors.
    pub(crate) http: &'a HttpClient,
    /// The provider.
    pub(crate) provider: &'a Name,
    /// The endpoint's name.
    pub(crate) endpoint: &'a Name,
    /// What the URL is called in a TLS error ("base URL", "token URL").
    pub(crate) what: &'static str,
    /// Which attempt of the call this is.
    pub(crate) attempt: u32,
    /// The time limit a time-out reports.
    pub(crate) limit: Option<Duration>,
}

/// What an exchange came to, short of an answer read whole.
pub(crate) enum Failed {
    /// No answer came, or it broke off: a transport error or a time-out.
    Lost {
        /// The error.
        error: Error,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
    },
    /// The TLS handshake failed: it will fail again until the configuration changes.
    Unusable(Error),
    /// The answer is larger than the client reads ([`Error::TooLarge`]).
    TooLarge(Error),
}

impl Failed {
    /// The error, borrowed.
    fn error(&self) -> &Error {
        match self {
            Failed::Lost { error, .. } | Failed::Unusable(error) | Failed::TooLarge(error) => error,
        }
    }

    /// The error.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failed::Lost { error, .. } | Failed::Unusable(error) | Failed::TooLarge(error) => error,
        }
    }
}

/// An answer whose status and headers came, its body not read yet.
pub(crate) struct Answering {
    response: reqwest::Response,
    /// What the interceptors are told of, when there are any (boxed: most clients have
    /// none, and this is held across the read of the body).
    told: Option<Box<Told>>,
}

/// What the interceptors are told of a request: when it left, its method and path.
struct Told {
    started: Instant,
    method: http::Method,
    path: String,
}

impl Answering {
    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The headers, taken out of the answer (the body needs none of them).
    pub(crate) fn take_headers(&mut self) -> HeaderMap {
        std::mem::take(self.response.headers_mut())
    }
}

impl Exchange<'_> {
    /// Sends `request` (the interceptors see it first) and waits for the answer's status
    /// and headers.
    ///
    /// Not an `async fn`: the request is handed to the HTTP client before the future is
    /// made, so the future holds the client's future alone, not the request beside it.
    pub(crate) fn send(
        &self,
        mut request: reqwest::Request,
    ) -> impl Future<Output = Result<Answering, Failed>> + Send + '_ {
        let told = if self.http.interceptors().is_empty() {
            None
        } else {
            for interceptor in self.http.interceptors() {
                interceptor.before_send(&mut Outgoing {
                    request: &mut request,
                    provider: self.provider,
                    endpoint: self.endpoint,
                    attempt: self.attempt,
                });
            }
            Some(Box::new(Told {
                started: Instant::now(),
                method: request.method().clone(),
                path: request.url().path().to_owned(),
            }))
        };
        crate::metrics::sent(self.provider, &**self.endpoint == "token");
        let pending = self.http.client().execute(request);
        async move {
            match pending.await {
                Ok(response) => {
                    crate::metrics::answered(self.provider, response.status());
                    Ok(Answering { response, told })
                }
                Err(e) => {
                    crate::metrics::unanswered(self.provider);
                    let failed = match tls_misconfigured(self.provider, self.endpoint, &e, self.what) {
                        // A TLS handshake that failed will fail again: not retried.
                        Some(error) => Failed::Unusable(error),
                        None => self.lost(e),
                    };
                    self.tell(told.as_deref(), None, Some(failed.error()));
                    Err(failed)
                }
            }
        }
    }

    /// Reads the body of `answer`: a success whole, up to the client's limit (past it,
    /// [`Failed::TooLarge`]); an error answer's first [`MAX_ERROR_BYTES`] at most (it is
    /// read for its code and message, which come first; the rest is dropped).
    pub(crate) async fn read(&self, answer: &mut Answering) -> Result<Bytes, Failed> {
        let status = answer.status();
        let max = self.http.max_answer_bytes();
        let (max, truncate) = if status.is_success() {
            (max, false)
        } else {
            (max.min(MAX_ERROR_BYTES), true)
        };
        let read = read_body(&mut answer.response, max, truncate).await;
        let told = answer.told.as_deref();
        match read {
            Ok(body) => {
                self.tell(told, Some(status), None);
                Ok(body)
            }
            Err(e) => {
                let failed = match e {
                    ReadError::Http(e) => self.lost(e),
                    ReadError::TooLarge { limit, declared } => {
                        tracing::warn!(limit, "answer larger than the limit: not read further");
                        Failed::TooLarge(Error::TooLarge {
                            provider: self.provider.clone(),
                            endpoint: self.endpoint.clone(),
                            limit,
                            declared,
                        })
                    }
                };
                self.tell(told, Some(status), Some(failed.error()));
                Err(failed)
            }
        }
    }

    /// Tells the interceptors (if any: `told` is then set) what the request came to.
    fn tell(&self, told: Option<&Told>, status: Option<StatusCode>, error: Option<&Error>) {
        let Some(told) = told else { return };
        let answered = Answered {
            provider: self.provider,
            endpoint: self.endpoint,
            method: &told.method,
            path: &told.path,
            attempt: self.attempt,
            status,
            elapsed: told.started.elapsed(),
            error,
        };
        for interceptor in self.http.interceptors() {
            interceptor.after_answer(&answered);
        }
    }

    /// A request whose connection failed (`e`): a time-out (reporting the exchange's
    /// limit) or a transport error, which may have reached the provider unless it failed to
    /// connect.
    fn lost(&self, e: reqwest::Error) -> Failed {
        let delivery = if e.is_connect() {
            Delivery::NotSent
        } else {
            Delivery::MaybeSent
        };
        let error = if e.is_timeout() && !e.is_connect() {
            Error::Timeout {
                provider: self.provider.clone(),
                endpoint: self.endpoint.clone(),
                after: self.limit.unwrap_or_default(),
                delivery,
            }
        } else {
            transport_error(self.provider, self.endpoint, delivery, e)
        };
        Failed::Lost { error, delivery }
    }
}

/// An [`Error::Transport`] for `e`: a [`TransportFailure`] in words, `e` behind it with its
/// URL cut to the origin.
fn transport_error(provider: &Name, endpoint: &Name, delivery: Delivery, e: reqwest::Error) -> Error {
    let e = origin_only(e);
    let failure = TransportFailure::new(
        describe(&e),
        e.is_connect(),
        e.is_timeout(),
        e.is_body() || e.is_decode(),
        Some(Box::new(e)),
    );
    Error::Transport {
        provider: provider.clone(),
        endpoint: endpoint.clone(),
        delivery,
        source: Arc::new(failure),
    }
}

/// `e` with its URL cut to the origin (`https://api.bol.com/`): the host and port say where
/// a connection failed; a path or a query could carry a secret.
fn origin_only(e: reqwest::Error) -> reqwest::Error {
    let origin = e.url().and_then(|u| {
        let host = u.host_str()?;
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        reqwest::Url::parse(&format!("{}://{host}{port}/", u.scheme())).ok()
    });
    match origin {
        Some(origin) => e.with_url(origin),
        None => e.without_url(),
    }
}

/// The TLS failure behind a connection error, if that is what it is: the TLS library's
/// words ("received corrupt message of type InvalidContentType", "invalid peer
/// certificate: ..."). A TLS error in the connection phase does not pass by itself: the
/// URL's scheme or port is wrong, or the certificate is not one the client accepts.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    if !e.is_connect() {
        return None;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // `io::Error::source` skips the error it wraps (which may be another `io::Error`
        // around the TLS error): go into it instead.
        next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

/// The error of a TLS handshake that failed (see [`tls_failure`]) with the origin the
/// client connected to.
fn tls_misconfigured(provider: &Name, endpoint: &Name, e: &reqwest::Error, what: &str) -> Option<Error> {
    let cause = tls_failure(e)?;
    let origin = e
        .url()
        .and_then(|u| {
            Some(format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str()?,
                u.port_or_known_default()?
            ))
        })
        .unwrap_or_else(|| "the server".to_owned());
    Some(Error::Misconfigured {
        provider: provider.clone(),
        endpoint: endpoint.clone(),
        status: None,
        delivery: Delivery::NotSent,
        message: format!(
            "the TLS handshake with {origin} failed ({cause}): check the scheme and port of \
             the {what} (https:// to a port that speaks plain HTTP fails this way) and the \
             server's certificate"
        ),
    })
}

/// What went wrong on the connection, where, and the cause at the root of the chain:
/// "could not connect to api.bol.com:443: Connection refused (os error 111)".
fn describe(e: &reqwest::Error) -> String {
    let target = e
        .url()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| "the server".to_owned());
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let cause = if std::ptr::addr_eq(root, e as &dyn std::error::Error) {
        // No deeper cause: reqwest's own words, without the URL it appends.
        e.to_string()
            .split(" for url (")
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        root.to_string()
    };
    if e.is_connect() {
        format!("could not connect to {target}: {cause}")
    } else if e.is_body() || e.is_decode() {
        format!("the answer from {target} broke off: {cause}")
    } else {
        format!("the request to {target} failed: {cause}")
    }
}
