//! The client: configuration, and every method of the ShopWeDo REST API 1.1.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use commerce_core::{
    Endpoint, Error, Page, Quota, RateLimits, SecretString, Transport, TransportSettings, ValidationErrors,
    decode_items, env_optional, env_required, is_valid_email, offset_stream,
};
use futures_util::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::model::{Address, BlogPost, Category, NewOrder, Order, Product, StockItem};
use crate::signer::{Clock, Envelope, RandomSalt, SaltSource, Signer, SystemClock};

/// The provider name used in errors and traces.
pub const PROVIDER: &str = "shopwedo";

/// The current API host (older: `https://shopwedo.com/admin/api`,
/// `https://admin.shopwedo.com/api`).
pub const DEFAULT_BASE_URL: &str = "https://api1.shopwedo.com/api";

/// At most this many stock items per `getStock` page.
pub const MAX_STOCK_PAGE: u32 = 50;

/// Webshop lists (`getProducts`, `getCategories`, `getBlogPosts`) come 100 to a page.
pub const WEBSHOP_PAGE: u64 = 100;

/// ShopWeDo's documented limit: 3 requests per second.
pub fn default_limits() -> RateLimits {
    RateLimits::new([Quota::per_second(3)])
}

/// Builds a [`ShopWeDoClient`].
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

impl fmt::Debug for ShopWeDoClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopWeDoClientBuilder")
            .field("shop_id", &self.shop_id)
            .field("shop_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
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
        let transport = Transport::configured(&self.settings, PROVIDER, &self.base_url)
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
    transport: Transport,
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

/// Which stock items to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockQuery {
    /// One stock item by its id.
    pub sku: Option<u64>,
    /// Items per page (at most 50; `None`: ShopWeDo's default of 50).
    pub limit: Option<u32>,
    /// The item offset, from 0.
    pub offset: u64,
}

/// One id, or several: ShopWeDo takes `integer|array`.
fn ids(ids: &[u64]) -> Option<Value> {
    match ids {
        [] => None,
        [one] => Some(json!(one)),
        many => Some(json!(many)),
    }
}

/// The list in an answer: the answer itself, the first list inside it, or a lone item.
fn list_items(value: Value, item_key: &str) -> Vec<Value> {
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

fn check_address(v: &mut ValidationErrors, prefix: &str, a: &Address) {
    for (name, value) in [
        ("street", &a.street),
        ("number", &a.number),
        ("zip", &a.zip),
        ("city", &a.city),
        ("email", &a.email),
        ("phone", &a.phone),
    ] {
        v.require(value, format!("{prefix}.{name}"));
    }
    v.check(
        a.country_iso2.len() == 2 && a.country_iso2.chars().all(|c| c.is_ascii_alphabetic()),
        format!("{prefix}.country_iso2"),
        format!("must be a 2-letter ISO code, not `{}`", a.country_iso2),
    );
    if !a.email.trim().is_empty() {
        v.check(
            is_valid_email(&a.email),
            format!("{prefix}.email"),
            format!("`{}` is not a well-formed address", a.email),
        );
    }
}

impl NewOrder {
    /// Every problem that would make ShopWeDo refuse the order, named by field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&self.external_order_id, "external_order_id");
        v.check(
            self.created_at != chrono::NaiveDateTime::default(),
            "created_at",
            "is required (when the order was created)",
        );
        check_address(&mut v, "shipping_address", &self.shipping_address);
        if let Some(billing) = &self.billing_address {
            check_address(&mut v, "billing_address", billing);
        }
        v.check(!self.items.is_empty(), "items", "at least one item is required");
        for (i, item) in self.items.iter().enumerate() {
            v.check(
                item.sku > 0,
                format!("items[{i}].sku"),
                "must be a ShopWeDo stock item id",
            );
            v.check(
                item.amount > 0,
                format!("items[{i}].amount"),
                "must be more than 0",
            );
        }
        v.into_result(())
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

    /// A client from `SHOPWEDO_SHOP_ID`, `SHOPWEDO_SHOP_KEY` and, optionally,
    /// `SHOPWEDO_BASE_URL`. A missing variable is an error that names it.
    pub fn from_env() -> Result<Self, Error> {
        let id = env_required("SHOPWEDO_SHOP_ID")?;
        let shop_id = id
            .parse()
            .map_err(|_| Error::config(format!("SHOPWEDO_SHOP_ID must be a number, not `{id}`")))?;
        let mut builder = Self::builder(shop_id, env_required("SHOPWEDO_SHOP_KEY")?.into());
        if let Some(url) = env_optional("SHOPWEDO_BASE_URL") {
            builder = builder.base_url(url);
        }
        builder.build()
    }

    /// The transport, for methods this crate does not cover yet (`pudo`, returns).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// A call of method `name` with `data`; reads are safe to repeat.
    fn method(name: &'static str, data: &Value, read: bool) -> Endpoint {
        let ep = Endpoint::post(name, name).json(data);
        if read { ep.idempotent() } else { ep }
    }

    async fn list<T: DeserializeOwned>(
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

    /// Creates an order and returns ShopWeDo's order id. The order is validated first (every
    /// bad field is named); it is a create, so it is never re-sent once it may have reached
    /// ShopWeDo (a time-out is [`Error::Unconfirmed`]). A `400 order_invalid_data` answer
    /// keeps ShopWeDo's per-field `errors`.
    pub async fn create_order(&self, order: &NewOrder) -> Result<u64, Error> {
        let mut ep = Self::method(
            "createOrder",
            &serde_json::to_value(order).unwrap_or_default(),
            false,
        );
        if let Err(e) = order.validate() {
            ep.fail(e);
        }
        let response = self.inner.transport.send(&ep).await?;
        // An answer without an order id does not say the order was not made: an unknown
        // outcome (`Error::Unconfirmed`), like any unreadable answer to a create.
        let answer: Value = response.json()?;
        commerce_core::lenient::as_u64(&answer["order_id"]).ok_or_else(|| {
            let mut e = commerce_core::DecodeError::new(
                PROVIDER,
                "createOrder",
                "order_id",
                "no order id in the answer",
            );
            e.excerpt = response.excerpt(None);
            response.unreadable(Error::from(e))
        })
    }

    /// An order with its addresses, lines and shipments (`getOrder`).
    pub async fn get_order(&self, order_id: u64) -> Result<Order, Error> {
        let ep = Self::method("getOrder", &json!({"order_id": order_id.to_string()}), true);
        let response = self.inner.transport.send(&ep).await?;
        // Documented as "an array with order data": the order, a list of one, or wrapped.
        let value: Value = response.json()?;
        let order = match value {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            Value::Object(mut map)
                if !map.contains_key("order_id") && map.get("order").is_some_and(Value::is_object) =>
            {
                map.remove("order").unwrap_or_default()
            }
            other => other,
        };
        response.decode(order.to_string().as_bytes())
    }

    /// Cancels an order not yet in fulfilment (`cancelOrder`); a 400 says it is too late.
    pub async fn cancel_order(&self, order_id: u64) -> Result<(), Error> {
        // Cancelling twice cannot do harm: safe to repeat.
        let ep = Self::method("cancelOrder", &json!({"order_id": order_id.to_string()}), true);
        self.inner.transport.send(&ep).await.map(drop)
    }

    /// One page of stock items (`getStock`).
    pub async fn stock_items(&self, query: StockQuery) -> Result<Page<StockItem>, Error> {
        self.stock_page(query).await.map(Page::from_results)
    }

    async fn stock_page(&self, query: StockQuery) -> Result<Vec<Result<StockItem, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(sku) = query.sku {
            data.insert("sku".into(), json!(sku));
        }
        if let Some(limit) = query.limit {
            data.insert("limit".into(), json!(limit));
        }
        data.insert("offset".into(), json!(query.offset));
        let mut ep = Self::method("getStock", &Value::Object(data), true);
        if query.limit.is_some_and(|l| l == 0 || l > MAX_STOCK_PAGE) {
            ep.fail(Error::invalid(
                "limit",
                format!("must be from 1 to {MAX_STOCK_PAGE}"),
            ));
        }
        let items = self.list(ep, "sku").await?;
        self.learn_barcodes(&items);
        Ok(items)
    }

    fn learn_barcodes(&self, items: &[Result<StockItem, Error>]) {
        let mut index = self.inner.barcodes.lock().unwrap_or_else(|p| p.into_inner());
        for item in items.iter().flatten() {
            if let Some(reference) = &item.reference {
                index.insert(reference.trim().to_owned(), item.sku);
            }
        }
    }

    /// Every stock item, 50 to a page, fetched as the stream is read.
    pub fn stock_stream(&self) -> BoxStream<'static, Result<StockItem, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_STOCK_PAGE), move |offset, limit| {
            let client = client.clone();
            async move {
                client
                    .stock_page(StockQuery {
                        sku: None,
                        limit: Some(limit as u32),
                        offset,
                    })
                    .await
            }
        })
    }

    /// One page of webshop products (`getProducts`); `page` counts from 0, 100 to a page
    /// (`None`: everything at once).
    pub async fn products(
        &self,
        product_ids: &[u64],
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Page<Product>, Error> {
        self.products_page(product_ids, category_ids, page)
            .await
            .map(Page::from_results)
    }

    async fn products_page(
        &self,
        product_ids: &[u64],
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<Product, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(product_ids) {
            data.insert("product_id".into(), v);
        }
        if let Some(v) = ids(category_ids) {
            data.insert("category_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getProducts", &Value::Object(data), true),
            "product_id",
        )
        .await
    }

    /// Every product (of these categories, when given), page by page as the stream is read.
    pub fn products_stream(&self, category_ids: Vec<u64>) -> BoxStream<'static, Result<Product, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let (client, categories) = (client.clone(), category_ids.clone());
            async move { client.products_page(&[], &categories, Some(offset / size)).await }
        })
    }

    /// One page of webshop categories (`getCategories`).
    pub async fn categories(&self, category_ids: &[u64], page: Option<u64>) -> Result<Page<Category>, Error> {
        self.categories_page(category_ids, page)
            .await
            .map(Page::from_results)
    }

    async fn categories_page(
        &self,
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<Category, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(category_ids) {
            data.insert("category_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getCategories", &Value::Object(data), true),
            "category_id",
        )
        .await
    }

    /// Every category, page by page as the stream is read.
    pub fn categories_stream(&self) -> BoxStream<'static, Result<Category, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let client = client.clone();
            async move { client.categories_page(&[], Some(offset / size)).await }
        })
    }

    /// One page of blog posts (`getBlogPosts`).
    pub async fn blog_posts(&self, post_ids: &[u64], page: Option<u64>) -> Result<Page<BlogPost>, Error> {
        self.blog_posts_page(post_ids, page).await.map(Page::from_results)
    }

    async fn blog_posts_page(
        &self,
        post_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<BlogPost, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(post_ids) {
            data.insert("post_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getBlogPosts", &Value::Object(data), true),
            "post_id",
        )
        .await
    }

    /// Every blog post, page by page as the stream is read.
    pub fn blog_posts_stream(&self) -> BoxStream<'static, Result<BlogPost, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let client = client.clone();
            async move { client.blog_posts_page(&[], Some(offset / size)).await }
        })
    }

    /// The stock item id of a barcode (EAN), from the stock list (fetched again when the
    /// barcode is not known yet).
    pub async fn sku_for_barcode(&self, barcode: &str) -> Result<Option<u64>, Error> {
        let barcode = barcode.trim();
        if let Some(sku) = self.known_sku(barcode) {
            return Ok(Some(sku));
        }
        use futures_util::TryStreamExt;
        let mut stream = self.stock_stream();
        while let Some(item) = stream.try_next().await? {
            if item.reference.as_deref().map(str::trim) == Some(barcode) {
                return Ok(Some(item.sku));
            }
        }
        Ok(None)
    }

    fn known_sku(&self, barcode: &str) -> Option<u64> {
        self.inner
            .barcodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(barcode)
            .copied()
    }
}
