//! The one HTTP client every provider crate sends through.

use std::sync::OnceLock;
use std::time::Duration;

use http::HeaderValue;

/// The connect time limit of the shared client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time limit for one attempt (sending and reading the whole answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
/// `User-Agent` naming the calling crate, and the per-attempt time limit.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    user_agent: HeaderValue,
    timeout: Option<Duration>,
}

impl HttpClient {
    /// Settings for the crate `crate_name` at `crate_version` (pass
    /// `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`): the shared client, a
    /// `User-Agent` of `crate_name/crate_version commerce-core/x.y.z`, and a 30 s limit per
    /// attempt.
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
        }
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
