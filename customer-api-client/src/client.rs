//! The client: its builder, settings and construction from variables, and the answer
//! shapes every area reads.

use std::sync::Arc;

use commerce_core::{
    AuthorizationCodeFlow, ClientAuth, ClientCredentials, Endpoint, Error, ProviderClient, ProviderSpec,
    Quota, RateLimits, Response, Role, SecretString, TokenAuth, TokenCache, Transport, TransportSettings,
    Vars, decode_items, env_optional, required_var,
};
use http::HeaderValue;
use http::header::{ACCEPT, ACCEPT_ENCODING};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::CustomerApiClassifier;

const SHOP_URL: &str = "CUSTOMER_API_SHOP_URL";
const ID: &str = "CUSTOMER_API_CLIENT_ID";
const SECRET: &str = "CUSTOMER_API_CLIENT_SECRET";

/// The Customer API as the facade composes it: its name (in errors and traces), its role
/// and its variables.
pub const PROVIDER: ProviderSpec = ProviderSpec {
    name: "customer-api",
    role: Role::Fulfilment,
    required: &[SHOP_URL, ID, SECRET],
    optional: &[],
    build: |vars, shared| {
        let client = CustomerApiClientBuilder::from_vars(vars)?
            .shared(shared.cloned())
            .build()?;
        Ok(ProviderClient::Fulfilment(Arc::new(client)))
    },
};

/// Where the Customer API's endpoints live under the shop's origin. Only `token` is
/// documented; the rest are *inferred* and may be changed per shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Client-credentials and code-exchange token endpoint.
    pub token: String,
    /// Authorization endpoint of the code flow.
    pub authorize: String,
    /// Products (`?code=` and `&brand=`).
    pub products: String,
    /// Orders (create with `POST`, list with `GET ?page=`, one with `GET /{id}`).
    pub orders: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            token: "api/customer/oauth/access-token".into(),
            authorize: "api/customer/oauth/authorize".into(),
            products: "api/customer/products".into(),
            orders: "api/customer/orders".into(),
        }
    }
}

/// Builds a [`CustomerApiClient`].
#[derive(Debug)]
pub struct CustomerApiClientBuilder {
    shop_url: String,
    client_id: String,
    client_secret: SecretString,
    paths: Paths,
    settings: TransportSettings,
}

impl CustomerApiClientBuilder {
    /// The shop's origin (`https://theshopname.com`; required).
    pub fn shop_url(mut self, url: impl Into<String>) -> Self {
        self.shop_url = url.into();
        self
    }

    /// Overrides the endpoint paths.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.paths = paths;
        self
    }

    /// A builder from the variables [`PROVIDER`] lists, looked up by `vars`; more settings
    /// can follow before [`build`](Self::build).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        PROVIDER.require_all(vars)?;
        let shop_url = match commerce_core::base_url_var(vars, SHOP_URL)? {
            Some(url) => url,
            None => required_var(vars, SHOP_URL)?,
        };
        Ok(
            CustomerApiClient::builder(required_var(vars, ID)?, required_var(vars, SECRET)?.into())
                .shop_url(shop_url),
        )
    }

    commerce_core::transport_settings_setters!(settings);

    /// Builds the client; a missing or non-HTTPS shop URL or empty credentials are refused
    /// here.
    pub fn build(self) -> Result<CustomerApiClient, Error> {
        if self.shop_url.trim().is_empty() {
            return Err(Error::config(
                "customer-api: shop_url: is required (the shop's origin, set with `.shop_url(..)`)",
            ));
        }
        let origin = commerce_core::secure_base_url(&self.shop_url)?;
        let token_url = origin
            .join(&self.paths.token)
            .map_err(|e| Error::config(format!("customer-api: bad token path: {e}")))?;
        let credentials = ClientCredentials::new(
            &self.settings.http,
            PROVIDER.name,
            token_url.as_str(),
            self.client_id,
            self.client_secret,
        )?
        // "These parameters are inside the request body in the
        // application/x-www-form-urlencoded format; not in JSON, not in URL query
        // parameters."
        .client_auth(ClientAuth::Body)
        .scope("all")
        .header(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let tokens = TokenCache::new(credentials).with_store(self.settings.token_store());
        let transport = Transport::builder_with(&self.settings, PROVIDER.name, origin.as_str())
            // `Accept-Encoding: gzip` on every request, whatever else asked for: no request
            // without gzip leaves the client.
            .auth(TokenAuth::bearer(tokens.clone()).each_request(|request| {
                request
                    .headers
                    .insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
            }))
            .classifier(CustomerApiClassifier)
            .default_header(ACCEPT, HeaderValue::from_static("application/json"))
            .build()?;
        Ok(CustomerApiClient {
            transport,
            tokens,
            paths: self.paths,
        })
    }
}

/// A Customer API client for one shop and one customer account. Cheap to clone; clones
/// share the token.
#[derive(Debug, Clone)]
pub struct CustomerApiClient {
    pub(crate) transport: Transport,
    tokens: TokenCache,
    pub(crate) paths: Paths,
}

/// Fails the decode of a value whose `_type` names another shape.
fn check_type(value: &Value, expected: &[&str], response: &Response) -> Result<(), Error> {
    match value.get("_type").and_then(Value::as_str) {
        Some(kind) if !expected.contains(&kind) => {
            let mut e = commerce_core::DecodeError::new(
                response.provider().clone(),
                response.endpoint().clone(),
                "._type",
                format!("expected {} but the answer is a `{kind}`", expected.join(" or ")),
            );
            e.excerpt = response.excerpt(None);
            Err(Error::from(e))
        }
        _ => Ok(()),
    }
}

/// The list in an answer: the answer itself, or the first list inside it (`items`, `data`,
/// `orders`, `products`, ...).
fn list_of(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            let key = ["items", "data", "orders", "products", "results"]
                .into_iter()
                .find(|k| map.get(*k).is_some_and(Value::is_array))
                .map(str::to_owned)
                .or_else(|| map.iter().find(|(_, v)| v.is_array()).map(|(k, _)| k.clone()));
            match key.and_then(|k| map.remove(&k)) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// The rate bucket of the product look-ups (by code, by brand and code): the shop
/// publishes no limit, and a stock read makes one look-up per EAN, so they go at most
/// [`PRODUCTS_PER_SECOND`] a second by default. Other calls are not paced. Set your own
/// with the builder's `limits(RateLimits::default().with_bucket(PRODUCTS_BUCKET, [..]))`.
pub const PRODUCTS_BUCKET: &str = "products";

/// The default pace of [`PRODUCTS_BUCKET`].
pub const PRODUCTS_PER_SECOND: u32 = 5;

impl CustomerApiClient {
    /// A builder with the customer's API credentials from their user profile; the shop's
    /// origin is required too: [`CustomerApiClientBuilder::shop_url`].
    pub fn builder(client_id: impl Into<String>, client_secret: SecretString) -> CustomerApiClientBuilder {
        CustomerApiClientBuilder {
            shop_url: String::new(),
            client_id: client_id.into(),
            client_secret,
            paths: Paths::default(),
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                RateLimits::default().with_bucket(PRODUCTS_BUCKET, [Quota::per_second(PRODUCTS_PER_SECOND)]),
            ),
        }
    }

    /// A client from the environment: `CUSTOMER_API_SHOP_URL`, `CUSTOMER_API_CLIENT_ID` and
    /// `CUSTOMER_API_CLIENT_SECRET` ([`PROVIDER`] lists them). A missing variable is an
    /// error that names it.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&env_optional)
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        CustomerApiClientBuilder::from_vars(vars)?.build()
    }

    /// The endpoint paths in use.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// How many token requests this client has made.
    pub fn token_requests(&self) -> u64 {
        self.tokens.token_requests()
    }

    /// The transport, for endpoints this crate does not cover.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The authorization-code flow for signing customers in with their shop account in
    /// your own app: `redirect_url` is your app's registered callback.
    pub fn authorization_code_flow(
        &self,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        redirect_url: &str,
    ) -> Result<AuthorizationCodeFlow, Error> {
        let origin = self.transport.base_url();
        let join = |p: &str| {
            origin
                .join(p)
                .map(|u| u.to_string())
                .map_err(|e| Error::config(format!("customer-api: bad path `{p}`: {e}")))
        };
        Ok(AuthorizationCodeFlow::new(
            self.transport.http(),
            PROVIDER.name,
            &join(&self.paths.authorize)?,
            &join(&self.paths.token)?,
            client_id,
            client_secret,
            redirect_url,
        )?
        .scope("all"))
    }

    pub(crate) async fn items<T: DeserializeOwned>(
        &self,
        ep: Endpoint,
        kind: &[&str],
    ) -> Result<Vec<Result<T, Error>>, Error> {
        let response = self.transport.send(&ep).await?;
        let value: Value = response.json()?;
        let items = list_of(value);
        let mut checked = Vec::with_capacity(items.len());
        let mut results = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match check_type(&item, kind, &response) {
                Ok(()) => checked.push((i, item)),
                Err(e) => results.push((i, Err(e))),
            }
        }
        let (indices, values): (Vec<usize>, Vec<Value>) = checked.into_iter().unzip();
        let decoded = decode_items(response.provider(), response.endpoint(), values);
        results.extend(indices.into_iter().zip(decoded));
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }

    pub(crate) async fn one<T: DeserializeOwned>(&self, ep: Endpoint, kind: &[&str]) -> Result<T, Error> {
        let response = self.transport.send(&ep).await?;
        let mut value: Value = response.json()?;
        // The object itself, or wrapped as `{"data": {...}}`.
        if value.get("_type").is_none()
            && let Some(inner) = value.get_mut("data").filter(|v| v.is_object())
        {
            value = inner.take();
        }
        check_type(&value, kind, &response).map_err(|e| response.unreadable(e))?;
        response.decode(value.to_string().as_bytes())
    }
}
