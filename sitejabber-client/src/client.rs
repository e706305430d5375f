//! The client: configuration, authentication, and what every area's calls share (the call
//! itself, and the page and stream of a paged list).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    AuthTicket, Authenticator, Endpoint, Error, ExposeSecret, OutgoingRequest, ProviderClient, ProviderSpec,
    Quota, RateLimits, Role, SecretString, Token, TokenAuth, TokenCache, TokenRules, TokenSource, Transport,
    TransportSettings, Vars, decode_items, encode_segment, env_optional, offset_stream, required_var,
};
use futures_util::stream::BoxStream;
use http::HeaderName;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::EnvelopeClassifier;
use crate::model::Login;
use crate::params::{MAX_PAGE, invalid, page_check};

const CLIENT_TOKEN: &str = "SITEJABBER_CLIENT_TOKEN";
const EMAIL: &str = "SITEJABBER_EMAIL";
const PASSWORD: &str = "SITEJABBER_PASSWORD";
const DOMAIN: &str = "SITEJABBER_DOMAIN";
const BASE_URL: &str = "SITEJABBER_BASE_URL";

/// Sitejabber as the facade composes it: its name (in errors and traces), its role and its
/// variables.
pub const PROVIDER: ProviderSpec = ProviderSpec {
    name: "sitejabber",
    role: Role::ReviewPlatform,
    required: &[CLIENT_TOKEN, EMAIL, PASSWORD, DOMAIN],
    optional: &[BASE_URL],
    build: |vars, shared| {
        let client = SitejabberClientBuilder::from_vars(vars)?
            .shared(shared.cloned())
            .build()?;
        Ok(ProviderClient::ReviewPlatform(Arc::new(client)))
    },
};

/// The live API root.
pub const DEFAULT_BASE_URL: &str = "https://api.sitejabber.com/v1/";

/// Sitejabber's documented limits per user token: 10 calls in any 10 s and 1000 per hour.
pub fn default_limits() -> RateLimits {
    RateLimits::new([Quota::new(10, Duration::from_secs(10)), Quota::per_hour(1000)])
}

const LOGIN: &str = "login";

/// Builds a [`SitejabberClient`].
#[derive(Debug)]
pub struct SitejabberClientBuilder {
    client_token: SecretString,
    email: String,
    password: SecretString,
    domain: String,
    base_url: String,
    settings: TransportSettings,
}

impl SitejabberClientBuilder {
    /// The API key, sent as `client_token` on every call (required).
    pub fn client_token(mut self, token: SecretString) -> Self {
        self.client_token = token;
        self
    }

    /// The business's domain (`example.com`; required): the business every call is about.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// Overrides the API root (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// A builder from the variables [`PROVIDER`] lists, looked up by `vars`; more settings
    /// can follow before [`build`](Self::build).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        PROVIDER.require_all(vars)?;
        let mut b =
            SitejabberClient::builder(required_var(vars, EMAIL)?, required_var(vars, PASSWORD)?.into())
                .client_token(required_var(vars, CLIENT_TOKEN)?.into())
                .domain(required_var(vars, DOMAIN)?);
        if let Some(url) = commerce_core::base_url_var(vars, BASE_URL)? {
            b = b.base_url(url);
        }
        Ok(b)
    }

    commerce_core::transport_settings_setters!(settings);

    /// Builds the client. Empty credentials and a non-HTTPS base URL are refused here.
    pub fn build(self) -> Result<SitejabberClient, Error> {
        let mut missing = commerce_core::ValidationErrors::new();
        missing.require(self.client_token.expose_secret(), "client_token");
        missing.require(&self.email, "email");
        missing.require(self.password.expose_secret(), "password");
        missing.require(&self.domain, "domain");
        if !missing.is_empty() {
            return Err(Error::config(format!("sitejabber: {missing}")));
        }
        let client_token = Arc::new(self.client_token);
        // The login call goes through the same transport (same limits, same tracing), with
        // only the client token.
        // Shared rate budgets are the account's: the login call and the others under one
        // name (the token source's credential).
        let account = format!("{} {}", self.base_url, self.email);
        let login_transport = Transport::builder_with(&self.settings, PROVIDER.name, &self.base_url)
            .auth(ClientTokenOnly {
                client_token: client_token.clone(),
                account: account.clone(),
            })
            .classifier(EnvelopeClassifier)
            .secret(&client_token)
            .secret(&self.password)
            .build()?;
        let password = self.password.clone();
        let tokens = TokenCache::with_margin(
            LoginSource {
                transport: login_transport,
                email: self.email.clone(),
                password: self.password,
                account,
            },
            Duration::from_secs(24 * 3600),
            Duration::ZERO,
        )
        // User tokens live about six months: trust a login's expiry that long.
        .with_rules(
            TokenRules::default().with_life(Duration::from_secs(30), Duration::from_secs(200 * 86_400)),
        )
        .with_store(self.settings.token_store());
        let transport = Transport::builder_with(&self.settings, PROVIDER.name, &self.base_url)
            // `client_token` in the query of every call, and the login's `user_token` header.
            .auth({
                let client_token = client_token.clone();
                TokenAuth::header(tokens.clone(), HeaderName::from_static("user_token")).each_request(
                    move |request| request.add_query("client_token", client_token.expose_secret()),
                )
            })
            .classifier(EnvelopeClassifier)
            .secret(&client_token)
            .secret(&password)
            .build()?;
        Ok(SitejabberClient {
            inner: Arc::new(Inner {
                transport,
                tokens,
                domain: self.domain,
                email: self.email,
                invitation_parts: Default::default(),
            }),
        })
    }
}

struct Inner {
    transport: Transport,
    tokens: TokenCache,
    domain: String,
    email: String,
    /// The parts of review invitations already sent by this client: `(order id, part)`.
    invitation_parts: std::sync::Mutex<std::collections::HashSet<(String, &'static str)>>,
}

/// A client of the Sitejabber business API for one business (its domain). Cheap to clone;
/// clones share the user token and the rate limits.
#[derive(Clone)]
pub struct SitejabberClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for SitejabberClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SitejabberClient")
            .field("domain", &self.inner.domain)
            .field("email", &self.inner.email)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl SitejabberClient {
    /// A builder with the business account's login; the API key and the business's domain
    /// are required too: [`SitejabberClientBuilder::client_token`] and
    /// [`SitejabberClientBuilder::domain`] (a missing one is named by `build`).
    pub fn builder(email: impl Into<String>, password: SecretString) -> SitejabberClientBuilder {
        SitejabberClientBuilder {
            client_token: SecretString::from(String::new()),
            email: email.into(),
            password,
            domain: String::new(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                default_limits(),
            ),
        }
    }

    /// A client from the environment: `SITEJABBER_CLIENT_TOKEN`, `SITEJABBER_EMAIL`,
    /// `SITEJABBER_PASSWORD`, `SITEJABBER_DOMAIN` and, optionally, `SITEJABBER_BASE_URL`
    /// ([`PROVIDER`] lists them). A missing variable is an error that names it.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&env_optional)
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        SitejabberClientBuilder::from_vars(vars)?.build()
    }

    /// The business's domain.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// The transport, for calls this crate does not cover yet.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// How many logins this client has made (one, unless the token expired).
    pub fn logins(&self) -> u64 {
        self.inner.tokens.token_requests()
    }

    /// Whether this client already sent `part` of the invitation for `order_id`.
    pub(crate) fn invitation_part_sent(&self, order_id: &str, part: &'static str) -> bool {
        self.inner
            .invitation_parts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(order_id.to_owned(), part))
    }

    /// Remembers that `part` of the invitation for `order_id` went out.
    pub(crate) fn mark_invitation_part(&self, order_id: &str, part: &'static str) {
        self.inner
            .invitation_parts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((order_id.to_owned(), part));
    }

    /// `businesses/{domain}/{rest}`.
    pub(crate) fn business_path(&self, rest: &str) -> String {
        let d = encode_segment(&self.inner.domain);
        if rest.is_empty() {
            format!("businesses/{d}")
        } else {
            format!("businesses/{d}/{rest}")
        }
    }

    /// `partners/{domain}/{rest}`.
    pub(crate) fn partner_path(&self, rest: &str) -> String {
        format!("partners/{}/{rest}", encode_segment(&self.inner.domain))
    }

    /// Sends and decodes the whole answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, endpoint: Endpoint) -> Result<T, Error> {
        self.inner.transport.json(&endpoint).await
    }

    /// Sends and decodes the object under `key` of the answer.
    pub(crate) async fn call_key<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        key: &str,
    ) -> Result<T, Error> {
        let response = self.inner.transport.send(&endpoint).await?;
        let mut value: Value = response.json()?;
        let inner = value.get_mut(key).map(Value::take).unwrap_or(Value::Null);
        response.decode(inner.to_string().as_bytes())
    }

    /// Sends and checks the envelope only.
    pub(crate) async fn call_status(&self, endpoint: Endpoint) -> Result<(), Error> {
        self.inner.transport.send(&endpoint).await.map(drop)
    }

    /// Sends and decodes a list found under `key` (or the answer itself, when it is a list),
    /// each item on its own.
    pub(crate) async fn call_list<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        key: &str,
    ) -> Result<Vec<Result<T, Error>>, Error> {
        let response = self.inner.transport.send(&endpoint).await?;
        let value: Value = response.json()?;
        let items = match value {
            Value::Array(items) => items,
            Value::Object(mut map) => match map.remove(key) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        Ok(decode_items(response.provider(), response.endpoint(), items))
    }

    /// Logs in now (normally the client logs in by itself on the first call, and again when
    /// Sitejabber says the token expired).
    pub async fn login(&self) -> Result<(), Error> {
        self.inner.tokens.get().await.map(drop)
    }
}

/// The login call's authenticator: the client token only.
#[derive(Debug)]
struct ClientTokenOnly {
    client_token: Arc<SecretString>,
    account: String,
}

#[async_trait]
impl Authenticator for ClientTokenOnly {
    async fn authorize(&self, request: &mut OutgoingRequest) -> Result<AuthTicket, Error> {
        request.add_query("client_token", self.client_token.expose_secret());
        Ok(AuthTicket::fixed())
    }

    fn account(&self) -> Option<String> {
        Some(self.account.clone())
    }
}

/// Gets a user token by `POST /login` with the account's e-mail and password.
struct LoginSource {
    transport: Transport,
    email: String,
    password: SecretString,
    /// The base URL and the e-mail address: the account's name in shared state.
    account: String,
}

impl fmt::Debug for LoginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSource")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[async_trait]
impl TokenSource for LoginSource {
    async fn fetch(&self) -> Result<Token, Error> {
        let endpoint = Endpoint::post(LOGIN, LOGIN)
            .form([
                ("email", self.email.as_str()),
                ("password", self.password.expose_secret()),
            ])
            // Logging in twice is harmless (the newer token wins), so a lost answer may be
            // asked again.
            .idempotent()
            .sensitive_answer();
        let login: Login = self.transport.json(&endpoint).await?;
        // The expiry is a local time of unknown zone: count it as UTC less a day.
        let expires_in = login.expire.and_then(|at| {
            let left = at - chrono::Utc::now().naive_utc() - chrono::TimeDelta::days(1);
            left.to_std().ok()
        });
        Ok(Token::new(login.token).with_expires_in(expires_in))
    }

    fn provider(&self) -> commerce_core::Name {
        PROVIDER.name.into()
    }

    fn credential(&self) -> Option<commerce_core::Credential> {
        Some(commerce_core::Credential {
            id: self.account.clone(),
            secret: self.password.clone(),
        })
    }
}

/// A list Sitejabber pages with `start` and `count` (its query type): where it is, what
/// its query adds, and under which key the answer holds its items. One impl per list; the
/// page and the stream are [`SitejabberClient::list_page`] and
/// [`SitejabberClient::list_stream`].
pub(crate) trait Listing: Clone + Send + Sync + 'static {
    /// One item of the list.
    type Item: DeserializeOwned + fmt::Debug + Send + 'static;
    /// The endpoint's name in errors and traces.
    const NAME: &'static str;
    /// The path under `businesses/{domain}/`.
    const PATH: &'static str;
    /// The answer's key holding the items.
    const KEY: &'static str;
    /// Adds the query's filters.
    fn apply(&self, ep: Endpoint) -> Endpoint;
}

impl SitejabberClient {
    /// One page of `query`'s list (`count` from 1 to [`MAX_PAGE`], checked before sending),
    /// each item decoded on its own.
    pub(crate) async fn list_page<Q: Listing>(
        &self,
        query: &Q,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Q::Item, Error>>, Error> {
        let ep = Endpoint::get(Q::NAME, self.business_path(Q::PATH))
            .query("start", start)
            .query("count", count);
        self.call_list(invalid(query.apply(ep), page_check(count)), Q::KEY)
            .await
    }

    /// Every item of `query`'s list, [`MAX_PAGE`] at a time as the stream is read.
    pub(crate) fn list_stream<Q: Listing>(&self, query: Q) -> BoxStream<'static, Result<Q::Item, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, query) = (client.clone(), query.clone());
            async move { client.list_page(&query, start, count as u32).await }
        })
    }
}
