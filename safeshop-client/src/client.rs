//! The client: its builder, settings and construction from variables.

use std::sync::Arc;

use commerce_core::{
    ClientAuth, ClientCredentials, Error, ProviderClient, ProviderSpec, RateLimits, Role, SecretString,
    TokenAuth, TokenCache, TokenRequestFormat, Transport, TransportSettings, Vars, env_optional,
    required_var,
};

const ID: &str = "SAFESHOP_CLIENT_ID";
const SECRET: &str = "SAFESHOP_CLIENT_SECRET";
const BASE_URL: &str = "SAFESHOP_BASE_URL";

/// Safe.Shop as the facade composes it: its name (in errors and traces), its role and its
/// variables.
pub const PROVIDER: ProviderSpec = ProviderSpec {
    name: "safeshop",
    role: Role::ReviewPlatform,
    required: &[ID, SECRET],
    optional: &[BASE_URL],
    build: |vars, shared| {
        let client = SafeShopClientBuilder::from_vars(vars)?
            .shared(shared.cloned())
            .build()?;
        Ok(ProviderClient::ReviewPlatform(Arc::new(client)))
    },
};

/// The live API root.
pub const DEFAULT_BASE_URL: &str = "https://api.safe.shop/v1";

/// The scope asked for by default (integrations send `*` or `invites_readwrite`).
pub const DEFAULT_SCOPE: &str = "*";

/// Builds a [`SafeShopClient`].
#[derive(Debug)]
pub struct SafeShopClientBuilder {
    client_id: String,
    client_secret: SecretString,
    base_url: String,
    scope: String,
    format: TokenRequestFormat,
    settings: TransportSettings,
}

impl SafeShopClientBuilder {
    /// Overrides the API root (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Overrides the scope (default `*`; `invites_readwrite` is the narrow one).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Sends the token request as a form instead of JSON.
    pub fn form_token_request(mut self) -> Self {
        self.format = TokenRequestFormat::Form;
        self
    }

    /// A builder from the variables [`PROVIDER`] lists, looked up by `vars`; more settings
    /// can follow before [`build`](Self::build).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        PROVIDER.require_all(vars)?;
        let mut b = SafeShopClient::builder(required_var(vars, ID)?, required_var(vars, SECRET)?.into());
        if let Some(url) = commerce_core::base_url_var(vars, BASE_URL)? {
            b = b.base_url(url);
        }
        Ok(b)
    }

    commerce_core::transport_settings_setters!(settings);

    /// Builds the client; empty credentials or a non-HTTPS URL are refused here.
    pub fn build(self) -> Result<SafeShopClient, Error> {
        let base = commerce_core::secure_base_url(&self.base_url)?;
        let token_url = base
            .join("oauth/token")
            .map_err(|e| Error::config(format!("safeshop: bad token URL: {e}")))?;
        let credentials = ClientCredentials::new(
            &self.settings.http,
            PROVIDER.name,
            token_url.as_str(),
            self.client_id,
            self.client_secret,
        )?
        .client_auth(ClientAuth::Body)
        .format(self.format)
        .scope(self.scope);
        let tokens = TokenCache::new(credentials).with_store(self.settings.token_store());
        let transport = Transport::builder_with(&self.settings, PROVIDER.name, base.as_str())
            .auth(TokenAuth::bearer(tokens.clone()))
            .default_header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            )
            .build()?;
        Ok(SafeShopClient { transport, tokens })
    }
}

/// A Safe.Shop client. Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct SafeShopClient {
    pub(crate) transport: Transport,
    tokens: TokenCache,
}

impl SafeShopClient {
    /// A builder with the client credentials from the Safe.Shop dashboard.
    pub fn builder(client_id: impl Into<String>, client_secret: SecretString) -> SafeShopClientBuilder {
        SafeShopClientBuilder {
            client_id: client_id.into(),
            client_secret,
            base_url: DEFAULT_BASE_URL.to_owned(),
            scope: DEFAULT_SCOPE.to_owned(),
            format: TokenRequestFormat::Json,
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                RateLimits::default(),
            ),
        }
    }

    /// A client from the environment: `SAFESHOP_CLIENT_ID`, `SAFESHOP_CLIENT_SECRET` and,
    /// optionally, `SAFESHOP_BASE_URL` ([`PROVIDER`] lists them). A missing variable is an
    /// error that names it.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&env_optional)
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        SafeShopClientBuilder::from_vars(vars)?.build()
    }

    /// How many token requests this client has made.
    pub fn token_requests(&self) -> u64 {
        self.tokens.token_requests()
    }
}
