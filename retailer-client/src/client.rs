//! The client: configuration, authentication, environments and media types.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use commerce_core::{
    ClientAuth, ClientCredentials, Endpoint, Error, ProviderClient, ProviderSpec, RateLimits, Role,
    SecretString, TokenAuth, TokenCache, TokenRequestFormat, Transport, TransportSettings, Vars,
    base_url_var, env_optional, optional_var, required_var, url_var,
};
use serde::de::DeserializeOwned;

const ID: &str = "RETAILER_CLIENT_ID";
const SECRET: &str = "RETAILER_CLIENT_SECRET";
const API_URL: &str = "RETAILER_API_URL";
const TOKEN_URL: &str = "RETAILER_TOKEN_URL";
const DEMO: &str = "RETAILER_DEMO";

/// bol as the facade composes it: its name (in errors and traces), its role and its
/// variables.
pub const PROVIDER: ProviderSpec = ProviderSpec {
    name: "bol",
    role: Role::SalesChannel,
    required: &[ID, SECRET],
    optional: &[API_URL, TOKEN_URL, DEMO],
    build: |vars, shared| {
        let client = RetailerClientBuilder::from_vars(vars)?
            .shared(shared.cloned())
            .build()?;
        Ok(ProviderClient::SalesChannel(Arc::new(client)))
    },
};

/// The live API root.
pub const DEFAULT_API_URL: &str = "https://api.bol.com";

/// The token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://login.bol.com/token";

/// Which part of the API an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/retailer/...` (demo: `/retailer-demo/...`).
    Retailer,
    /// `/shared/...` (demo: `/shared-demo/...`).
    Shared,
}

/// Builds a [`RetailerClient`].
#[derive(Debug)]
pub struct RetailerClientBuilder {
    client_id: String,
    client_secret: SecretString,
    api_url: String,
    token_url: String,
    demo: bool,
    media_versions: HashMap<String, String>,
    settings: TransportSettings,
}

impl RetailerClientBuilder {
    /// Uses bol's demo environment (`/retailer-demo`, `/shared-demo`).
    pub fn demo(mut self, demo: bool) -> Self {
        self.demo = demo;
        self
    }

    /// Overrides the API root (default [`DEFAULT_API_URL`]).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Overrides the token endpoint (default [`DEFAULT_TOKEN_URL`]).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// Uses another media type version for one operation group (bol's tag, `"Offers"`):
    /// `media_version("Offers", "v11")` sends `application/vnd.retailer.v11+json` for offers,
    /// since bol now versions resources one by one.
    pub fn media_version(mut self, group: impl Into<String>, version: impl Into<String>) -> Self {
        self.media_versions.insert(group.into(), version.into());
        self
    }

    /// A builder from the variables [`PROVIDER`] lists, looked up by `vars`; more settings
    /// can follow before [`build`](Self::build).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        PROVIDER.require_all(vars)?;
        let mut b = RetailerClient::builder(required_var(vars, ID)?, required_var(vars, SECRET)?.into());
        if let Some(url) = base_url_var(vars, API_URL)? {
            b = b.api_url(url);
        }
        if let Some(url) = url_var(vars, TOKEN_URL)? {
            b = b.token_url(url);
        }
        if let Some(demo) = optional_var(vars, DEMO)? {
            b = b.demo(matches!(demo.as_str(), "1" | "true" | "yes"));
        }
        Ok(b)
    }

    commerce_core::transport_settings_setters!(settings);

    /// Builds the client; empty credentials or a non-HTTPS URL are refused here.
    pub fn build(self) -> Result<RetailerClient, Error> {
        let client_id = self.client_id.trim().to_owned();
        let credentials = ClientCredentials::new(
            &self.settings.http,
            PROVIDER.name,
            &self.token_url,
            self.client_id,
            self.client_secret,
        )?
        // bol documents `Authorization: Basic base64(client_id:client_secret)` and "a POST
        // with no body" (`grant_type` in the query string).
        .client_auth(ClientAuth::BasicUnencoded)
        .format(TokenRequestFormat::Query);
        // Tokens live about 5 minutes; asking too often gets the caller's IP banned, so one
        // token is shared and renewed 30-40 s before it expires.
        let tokens = TokenCache::with_margin(credentials, Duration::from_secs(30), Duration::from_secs(10))
            .with_store(self.settings.token_store());
        let transport = Transport::builder_with(&self.settings, PROVIDER.name, &self.api_url)
            .auth(TokenAuth::bearer(tokens.clone()))
            .build()?;
        Ok(RetailerClient {
            inner: Arc::new(Inner {
                client_id,
                transport,
                tokens,
                demo: self.demo,
                media_versions: self.media_versions,
                waits: crate::process::Waits::default(),
            }),
        })
    }
}

struct Inner {
    client_id: String,
    transport: Transport,
    tokens: TokenCache,
    demo: bool,
    media_versions: HashMap<String, String>,
    /// The process statuses its callers wait for: one poll for all of them.
    pub(crate) waits: crate::process::Waits,
}

/// A bol.com Retailer API client. Cheap to clone; clones share the token, the rate limits,
/// the connection pool and the polls of process statuses.
#[derive(Clone)]
pub struct RetailerClient {
    inner: Arc<Inner>,
}

impl RetailerClient {
    /// The API credential's client id (not a secret: it names the credential, as a user
    /// name does).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }
}

impl fmt::Debug for RetailerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetailerClient")
            .field("demo", &self.inner.demo)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl RetailerClient {
    /// A builder with the client credentials from the bol partner platform.
    pub fn builder(client_id: impl Into<String>, client_secret: SecretString) -> RetailerClientBuilder {
        RetailerClientBuilder {
            client_id: client_id.into(),
            client_secret,
            api_url: DEFAULT_API_URL.to_owned(),
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            demo: false,
            media_versions: HashMap::new(),
            // bol documents no limits: each endpoint announces its own in `X-RateLimit-*`,
            // so every bucket starts slowly until its first answer tells its budget.
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                RateLimits::slow_start([]),
            ),
        }
    }

    /// A client from the environment: `RETAILER_CLIENT_ID`, `RETAILER_CLIENT_SECRET` and,
    /// optionally, `RETAILER_API_URL`, `RETAILER_TOKEN_URL` and `RETAILER_DEMO` (`1`: the
    /// demo environment) ([`PROVIDER`] lists them). A missing variable is an error that
    /// names it.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&env_optional)
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        RetailerClientBuilder::from_vars(vars)?.build()
    }

    /// Whether the client talks to the demo environment.
    pub fn is_demo(&self) -> bool {
        self.inner.demo
    }

    /// How many token requests this client has made.
    pub fn token_requests(&self) -> u64 {
        self.inner.tokens.token_requests()
    }

    /// The process statuses waited for through this client and its clones.
    pub(crate) fn waits(&self) -> &crate::process::Waits {
        &self.inner.waits
    }

    /// The transport, for calls this crate does not cover.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// `retailer/{rel}` or `shared/{rel}`, in the demo environment `retailer-demo/...`.
    pub(crate) fn path(&self, api: Api, rel: &str) -> String {
        let root = match (api, self.inner.demo) {
            (Api::Retailer, false) => "retailer",
            (Api::Retailer, true) => "retailer-demo",
            (Api::Shared, false) => "shared",
            (Api::Shared, true) => "shared-demo",
        };
        format!("{root}/{rel}")
    }

    /// The media type of an operation of `group`, with the group's version override.
    pub(crate) fn media(&self, group: &str, media: &str) -> String {
        match self.inner.media_versions.get(group) {
            Some(v) => media.replacen(".v10+", &format!(".{v}+"), 1),
            None => media.to_owned(),
        }
    }

    pub(crate) async fn json_of<T: DeserializeOwned>(&self, endpoint: Endpoint) -> Result<T, Error> {
        self.inner.transport.json(&endpoint).await
    }

    pub(crate) async fn bytes_of(&self, endpoint: Endpoint) -> Result<bytes::Bytes, Error> {
        Ok(self.inner.transport.send(&endpoint).await?.body().clone())
    }
}

/// The properties of an object parameter as query pairs (OpenAPI's default `form` style,
/// exploded): absent ones left out, texts as they are, the rest as JSON.
pub(crate) fn query_pairs<T: serde::Serialize>(value: &T) -> Vec<(String, String)> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    }
}
