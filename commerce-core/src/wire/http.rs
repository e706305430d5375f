//! Layer 1: the one HTTP client every provider crate sends through, its settings, and the
//! bounded read of an answer's body.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use crate::wire::interceptor::Interceptor;

/// The connect time limit of the shared client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time limit for one attempt (sending and reading the whole answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The default limit on the size of one answer, counted after decompression: 32 MiB.
/// An answer past it fails with [`Error::TooLarge`](crate::Error::TooLarge) as soon as the
/// limit is crossed (or at once, when its `Content-Length` says so); the rest is not read.
pub const MAX_ANSWER_BYTES: u64 = 32 * 1024 * 1024;

/// How much of an error answer (a status other than 2xx) is read: 64 KiB. Error answers
/// are read for the provider's code and message, which come first; the rest is dropped.
pub const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// The process-wide `reqwest::Client`: rustls, gzip, no redirects (a redirect could carry
/// credentials to another host), a connect time limit, and its connection pool shared by
/// every provider client in the process.
pub fn shared_client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .gzip(true)
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .build()
                .expect("the HTTP client's fixed configuration is valid")
        })
        .clone()
}

/// The HTTP settings of one provider client: the shared `reqwest::Client`, the
/// `User-Agent` naming the calling crate, the per-attempt time limit and the per-call
/// deadline.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    user_agent: HeaderValue,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_answer_bytes: u64,
    /// What the user registered to see every request sent ([`HttpClient::with_interceptor`]).
    interceptors: Arc<[Arc<dyn Interceptor>]>,
}

impl HttpClient {
    /// Settings for the crate `crate_name` at `crate_version` (pass
    /// `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`): the shared client, a
    /// `User-Agent` of `crate_name/crate_version commerce-core/x.y.z`, a 30 s limit per
    /// attempt and a 32 MiB limit per answer.
    pub fn new(crate_name: &str, crate_version: &str) -> Self {
        let ua = format!(
            "{crate_name}/{crate_version} commerce-core/{}",
            env!("CARGO_PKG_VERSION")
        );
        HttpClient {
            client: shared_client(),
            user_agent: HeaderValue::from_str(&ua)
                .unwrap_or_else(|_| HeaderValue::from_static("commerce-core")),
            timeout: Some(REQUEST_TIMEOUT),
            deadline: None,
            max_answer_bytes: MAX_ANSWER_BYTES,
            interceptors: Arc::new([]),
        }
    }

    /// Sets the largest answer read, in bytes after decompression (default
    /// [`MAX_ANSWER_BYTES`]); token answers count too. Error answers are read up to
    /// [`MAX_ERROR_BYTES`] at most.
    pub fn with_max_answer_bytes(mut self, limit: u64) -> Self {
        self.max_answer_bytes = limit.max(1);
        self
    }

    /// The largest answer read, in bytes after decompression.
    pub fn max_answer_bytes(&self) -> u64 {
        self.max_answer_bytes
    }

    /// Uses another `reqwest::Client` (a proxy, custom roots). Keep redirects off in it.
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// Sets the per-attempt time limit (`None`: no limit).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds `interceptor`, called once for every request sent with these settings (every
    /// attempt of a call, retries included, and every token request): before it is sent,
    /// to add a header (a request id), and when its answer came or the connection failed,
    /// with the status and the duration (metrics). Interceptors run in the order they were
    /// added. They never see a secret: not the values of the headers a request carries
    /// (`Authorization` among them), nor its query or body, nor an answer's body. See
    /// [`Interceptor`].
    pub fn with_interceptor(mut self, interceptor: impl Interceptor + 'static) -> Self {
        let mut all: Vec<Arc<dyn Interceptor>> = self.interceptors.iter().cloned().collect();
        all.push(Arc::new(interceptor));
        self.interceptors = all.into();
        self
    }

    /// The interceptors, in the order they were added.
    pub fn interceptors(&self) -> &[Arc<dyn Interceptor>] {
        &self.interceptors
    }

    /// The `reqwest::Client`.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The `User-Agent` sent with every request.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    /// The per-attempt time limit.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Sets the per-call deadline (`None`, the default: none): the longest one call may
    /// take, its token, its waits for the rate limits, its attempts and the backoff between
    /// them included. No attempt starts and no wait for a token, a rate permit or a backoff
    /// goes on past it; an attempt under way is cut at it. The call then fails with
    /// [`Error::Timeout`](crate::Error::Timeout) (`after` the deadline), with
    /// [`Error::RateLimited`](crate::Error::RateLimited) when a known pause ends after it,
    /// or with the error that made it retry when waiting again would pass it. A create cut
    /// while it may have reached the provider is still
    /// [`Error::Unconfirmed`](crate::Error::Unconfirmed). What the call waited for goes on
    /// without it: a token request under way serves the next caller (cut, it would count as
    /// a failed request), a rate permit granted late is handed back; writes to a shared
    /// store (PostgreSQL) are bounded by the store's own time limits, not by the deadline.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The per-call deadline.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body is larger than the limit (`declared`: its `Content-Length`, if given).
    TooLarge { limit: u64, declared: Option<u64> },
    /// The connection failed while reading.
    Http(reqwest::Error),
}

/// Reads an answer's body as a stream (after decompression) and stops at `limit` bytes:
/// past it, `Err(TooLarge)`, or with `truncate` the first `limit` bytes. Never holds more
/// than `limit` bytes plus one chunk (the buffer grows by doubling, but never past the
/// limit). A body that comes in one chunk is not copied.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: u64,
    truncate: bool,
) -> Result<Bytes, ReadError> {
    let declared = response.content_length();
    if !truncate && declared.is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge { limit, declared });
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<Vec<u8>> = None;
    let mut total: usize = 0;
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        let fits = limit_usize - total;
        if chunk.len() > fits {
            if !truncate {
                return Err(ReadError::TooLarge { limit, declared });
            }
            append(&mut first, &mut rest, chunk.slice(..fits), limit_usize);
            break;
        }
        total += chunk.len();
        append(&mut first, &mut rest, chunk, limit_usize);
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => Bytes::from(buf),
        (Some(one), None) => one,
        (None, None) => Bytes::new(),
    })
}

fn append(first: &mut Option<Bytes>, rest: &mut Option<Vec<u8>>, chunk: Bytes, limit: usize) {
    if rest.is_none() {
        let Some(one) = first.take() else {
            *first = Some(chunk);
            return;
        };
        let mut buf = Vec::with_capacity((one.len() + chunk.len()).max(16 * 1024).min(limit));
        buf.extend_from_slice(&one);
        *rest = Some(buf);
    }
    let buf = rest.as_mut().expect("set above");
    let needed = buf.len() + chunk.len();
    if needed > buf.capacity() {
        let target = (buf.capacity() * 2).max(needed).min(limit.max(needed));
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(&chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_calling_crate() {
        let http = HttpClient::new("sitejabber-client", "1.2.3");
        let ua = http.user_agent().to_str().unwrap();
        assert!(ua.starts_with("sitejabber-client/1.2.3 commerce-core/"), "{ua}");
    }
}
