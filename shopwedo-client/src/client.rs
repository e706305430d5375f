//! The client: its builder, settings and construction from variables, and the call every
//! area makes (a signed POST of one API method).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use commerce_core::{
    Endpoint, Error, ProviderClient, ProviderSpec, Quota, RateLimits, Role, SecretString, Transport,
    TransportSettings, Vars, decode_items, env_optional, offset_stream, required_var,
};
use futures_util::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::signer::{Clock, Envelope, RandomSalt, SaltSource, Signer, SystemClock};

const SHOP_ID: &str = "SHOPWEDO_SHOP_ID";
const SHOP_KEY: &str = "SHOPWEDO_SHOP_KEY";
const BASE_URL: &str = "SHOPWEDO_BASE_URL";

/// ShopWeDo as the facade composes it: its name (in errors and traces), its role and its
/// variables.
pub const PROVIDER: ProviderSpec = ProviderSpec {
    name: "shopwedo",
    role: Role::Fulfilment,
    required: &[SHOP_ID, SHOP_KEY],
    optional: &[BASE_URL],
    build: |vars, shared| {
        let client = ShopWeDoClientBuilder::from_vars(vars)?
            .shared(shared.cloned())
            .build()?;
        Ok(ProviderClient::Fulfilment(Arc::new(client)))
    },
};

/// The current API host (older: `https://shopwedo.com/admin/api`,
/// `https://admin.shopwedo.com/api`).
pub const DEFAULT_BASE_URL: &str = "https://api1.shopwedo.com/api";

/// Webshop lists (`getProducts`, `getCategories`, `getBlogPosts`) come 100 to a page.
pub const WEBSHOP_PAGE: u64 = 100;

/// ShopWeDo's documented limit: 3 requests per second.
pub fn default_limits() -> RateLimits {
    RateLimits::new([Quota::per_second(3)])
}

/// Builds a [`ShopWeDoClient`].
#[derive(Debug)]
pub struct ShopWeDoClientBuilder {
    shop_id: u64,
    shop_key: SecretString,
    base_url: String,
    envelope: Envelope,
    clock: Arc<dyn Clock>,
    salts: Arc<dyn SaltSource>,
    settings: TransportSettings,
    release: bool,
}

impl ShopWeDoClientBuilder {
    /// Overrides the API host (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Chooses how the `auth` + `data` envelope travels (default: form fields).
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    /// Replaces the clock the signatures use (tests).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the salt source (tests).
    pub fn salts(mut self, salts: impl SaltSource + 'static) -> Self {
        self.salts = Arc::new(salts);
        self
    }

    /// A builder from the variables [`PROVIDER`] lists, looked up by `vars`; more settings
    /// can follow before [`build`](Self::build).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        PROVIDER.require_all(vars)?;
        let id = required_var(vars, SHOP_ID)?;
        let shop_id = id
            .parse()
            .map_err(|_| Error::config(format!("{SHOP_ID} must be a number, not `{id}`")))?;
        let mut b = ShopWeDoClient::builder(shop_id, required_var(vars, SHOP_KEY)?.into());
        if let Some(url) = commerce_core::base_url_var(vars, BASE_URL)? {
            b = b.base_url(url);
        }
        Ok(b)
    }

    commerce_core::transport_settings_setters!(settings);

    /// Whether orders submitted through [`Fulfilment`](commerce_core::Fulfilment) ask to
    /// be released as soon as their stock is there (default: yes).
    pub fn release_orders(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// Builds the client; an empty key or a non-HTTPS host is refused here.
    pub fn build(self) -> Result<ShopWeDoClient, Error> {
        use commerce_core::ExposeSecret;
        if self.shop_key.expose_secret().trim().is_empty() {
            return Err(Error::config("shopwedo: the shop key is empty"));
        }
        if self.shop_id == 0 {
            return Err(Error::config("shopwedo: the shop id must be a positive number"));
        }
        let key = self.shop_key.clone();
        let signer = Signer {
            shop_id: self.shop_id,
            shop_key: self.shop_key,
            clock: self.clock,
            salts: self.salts,
            envelope: self.envelope,
        };
        let transport = Transport::builder_with(&self.settings, PROVIDER.name, &self.base_url)
            .auth(signer)
            .secret(&key)
            .build()?;
        Ok(ShopWeDoClient {
            inner: Arc::new(Inner {
                transport,
                release: self.release,
                barcodes: Mutex::new(HashMap::new()),
            }),
        })
    }
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) release: bool,
    /// Barcode (EAN) → stock item id, learnt from `getStock`.
    pub(crate) barcodes: Mutex<HashMap<String, u64>>,
}

/// A ShopWeDo client. Cheap to clone; clones share the pacing and the connection pool.
#[derive(Clone)]
pub struct ShopWeDoClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for ShopWeDoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopWeDoClient")
            .field("transport", &self.inner.transport)
            .finish()
    }
}

/// One id, or several: ShopWeDo takes `integer|array`.
pub(crate) fn ids(ids: &[u64]) -> Option<Value> {
    match ids {
        [] => None,
        [one] => Some(json!(one)),
        many => Some(json!(many)),
    }
}

/// The list in an answer: the answer itself, the first list inside it, or a lone item.
pub(crate) fn list_items(value: Value, item_key: &str) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            if map.contains_key(item_key) {
                return vec![Value::Object(map)];
            }
            let key = map.iter().find(|(_, v)| v.is_array()).map(|(k, _)| k.clone());
            match key.and_then(|k| map.remove(&k)) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

impl ShopWeDoClient {
    /// A builder with the shop id and key.
    pub fn builder(shop_id: u64, shop_key: SecretString) -> ShopWeDoClientBuilder {
        ShopWeDoClientBuilder {
            shop_id,
            shop_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            envelope: Envelope::Form,
            clock: Arc::new(SystemClock),
            salts: Arc::new(RandomSalt),
            settings: TransportSettings::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                default_limits(),
            ),
            release: true,
        }
    }

    /// A client from the environment: `SHOPWEDO_SHOP_ID`, `SHOPWEDO_SHOP_KEY` and,
    /// optionally, `SHOPWEDO_BASE_URL` ([`PROVIDER`] lists them). A missing variable is an
    /// error that names it.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&env_optional)
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        ShopWeDoClientBuilder::from_vars(vars)?.build()
    }

    /// The transport, for methods this crate does not cover.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// A call of method `name` with `data`; reads are safe to repeat.
    pub(crate) fn method(name: &'static str, data: &Value, read: bool) -> Endpoint {
        let ep = Endpoint::post(name, name).json(data);
        if read { ep.idempotent() } else { ep }
    }

    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        ep: Endpoint,
        item_key: &str,
    ) -> Result<Vec<Result<T, Error>>, Error> {
        let response = self.inner.transport.send(&ep).await?;
        let items = list_items(response.json()?, item_key);
        Ok(decode_items(response.provider(), response.endpoint(), items))
    }

    /// Checks the credentials and the clock: `authTest` answers 202 when the signature is
    /// valid.
    pub async fn auth_test(&self) -> Result<(), Error> {
        self.inner
            .transport
            .send(&Self::method("authTest", &json!({}), true))
            .await
            .map(drop)
    }

    /// One page of a webshop list (`getProducts`, `getCategories`, `getBlogPosts`):
    /// filtered by lists of ids (one id or several), `page` counting from 0, 100 to a page
    /// ([`WEBSHOP_PAGE`]; `None`: everything at once). Safe to repeat.
    pub(crate) async fn webshop_page<T: DeserializeOwned>(
        &self,
        method: &'static str,
        item_key: &str,
        filters: &[(&str, &[u64])],
        page: Option<u64>,
    ) -> Result<Vec<Result<T, Error>>, Error> {
        let mut data = serde_json::Map::new();
        for (name, list) in filters {
            if let Some(v) = ids(list) {
                data.insert((*name).into(), v);
            }
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(Self::method(method, &Value::Object(data), true), item_key)
            .await
    }

    /// Every item of a webshop list, page by page as the stream is read.
    pub(crate) fn webshop_stream<T: DeserializeOwned + fmt::Debug + Send + 'static>(
        &self,
        method: &'static str,
        item_key: &'static str,
        filters: Vec<(&'static str, Vec<u64>)>,
    ) -> BoxStream<'static, Result<T, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let (client, filters) = (client.clone(), filters.clone());
            async move {
                let filters: Vec<(&str, &[u64])> = filters.iter().map(|(n, l)| (*n, l.as_slice())).collect();
                client
                    .webshop_page(method, item_key, &filters, Some(offset / size))
                    .await
            }
        })
    }
}
