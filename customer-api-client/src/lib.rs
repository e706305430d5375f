//! A typed client for a shop's Customer API (the kvik.shop platform): find products by
//! code or by brand and code with their availability and your prices, send orders, list
//! them with their items, payment and processing status, and sign customers in elsewhere
//! with the OAuth2 authorization-code flow.
//!
//! - **OAuth2**: a client-credentials token from `{shop}/api/customer/oauth/access-token`
//!   (form body only, `scope=all`), cached by every clone; `invalid_token` (401, expired)
//!   refreshes once and retries once; `invalid_client` (401) and `access_denied` (400) are
//!   authentication errors.
//! - **gzip only**: every request carries `Accept-Encoding: gzip` (the API answers 400
//!   without it) and gzip answers are decoded; requests with a body carry
//!   `Content-Type: application/json`.
//! - **HTTPS only**: the API answers plain HTTP with 403, so `http://` is refused before
//!   sending (loopback aside, for tests).
//! - **Inferred paths**: only the token endpoint is public. The resource paths are kept in
//!   one place, [`Paths`], so a shop that differs is one setting away, and answers are
//!   decoded tolerantly, with their `_type` checked where it tells the shape.
//!
//! ```no_run
//! use customer_api_client::prelude::*;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = CustomerApiClient::from_env()?;
//! for product in client.products_by_code("8712345678906").await? {
//!     println!("{} {:?}: {:?}", product.code, product.brand, product.availability);
//! }
//! let order = client
//!     .create_order(&NewOrder {
//!         reference: "A-1001".into(),
//!         items: vec![NewOrderItem { code: "8712345678906".into(), brand: None, quantity: 2 }],
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("order {} is {:?}", order.id, order.processing_status);
//! # Ok(()) }
//! ```
//!
#![doc = include_str!("../docs/first-hour.md")]

mod model;

use std::fmt;

use async_trait::async_trait;
use commerce_core::{
    AuthorizationCodeFlow, Classifier, ClientAuth, ClientCredentials, Endpoint, Fulfilment, FulfilmentState,
    FulfilmentStatus, RateLimits, Response, SecretString, StockLevel, SubmissionReceipt, TokenAuth,
    TokenCache, Tracking, Transport, TransportSettings, ValidationErrors, Verdict, decode_items,
    encode_segment, env_required, page_stream,
};
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use http::HeaderValue;
use http::header::{ACCEPT, ACCEPT_ENCODING};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::model::{
    Address, Availability, NewOrder, NewOrderItem, Order, OrderItem, Price, Product, Shipment,
};
pub use commerce_core::{Error, Page};

/// Everything a first program needs, in one import: this crate's client and inputs, and
/// [`commerce_core::prelude`] (the traits, the provider-neutral types, [`Error`],
/// `SecretString`, the settings types and the stream extension traits). The Customer API's
/// own [`Order`], [`Address`] and [`Shipment`] are left out (the prelude's are the
/// provider-neutral ones); name them `customer_api_client::Order` and so on.
pub mod prelude {
    pub use crate::{CustomerApiClient, CustomerApiClientBuilder, NewOrder, NewOrderItem, Paths};
    pub use commerce_core::prelude::*;
}

/// The provider name used in errors and traces.
pub const PROVIDER: &str = "customer-api";

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

/// `invalid_token` (401) means expired: refresh once. `access_denied` (400) means the token
/// is not accepted at all: an authentication error. Everything else as usual.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerApiClassifier;

impl Classifier for CustomerApiClassifier {
    fn classify(&self, response: &Response) -> Verdict {
        let status = response.status();
        if status.is_success() {
            return Verdict::Success;
        }
        let error = response.provider_error();
        match (status.as_u16(), error.code.as_deref()) {
            (401, _) => Verdict::AuthExpired(error),
            (400, Some("access_denied")) => Verdict::AuthRejected(error),
            _ => Verdict::Failure(error),
        }
    }
}

/// Builds a [`CustomerApiClient`].
pub struct CustomerApiClientBuilder {
    shop_url: String,
    client_id: String,
    client_secret: SecretString,
    paths: Paths,
    settings: TransportSettings,
}

impl fmt::Debug for CustomerApiClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerApiClientBuilder")
            .field("shop_url", &self.shop_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
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
            PROVIDER,
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
        let tokens = TokenCache::new(credentials);
        let transport = Transport::configured(&self.settings, PROVIDER, origin.as_str())
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
    transport: Transport,
    tokens: TokenCache,
    paths: Paths,
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
                RateLimits::default(),
            ),
        }
    }

    /// A client from `CUSTOMER_API_SHOP_URL`, `CUSTOMER_API_CLIENT_ID` and
    /// `CUSTOMER_API_CLIENT_SECRET`. A missing variable is an error that names it.
    pub fn from_env() -> Result<Self, Error> {
        let shop_url = env_required("CUSTOMER_API_SHOP_URL")?;
        Self::builder(
            env_required("CUSTOMER_API_CLIENT_ID")?,
            env_required("CUSTOMER_API_CLIENT_SECRET")?.into(),
        )
        .shop_url(shop_url)
        .build()
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
            PROVIDER,
            &join(&self.paths.authorize)?,
            &join(&self.paths.token)?,
            client_id,
            client_secret,
            redirect_url,
        )?
        .scope("all"))
    }

    async fn items<T: DeserializeOwned>(
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

    async fn one<T: DeserializeOwned>(&self, ep: Endpoint, kind: &[&str]) -> Result<T, Error> {
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

    /// The products with this code (one per brand that uses it), with availability and
    /// price. `GET {products}?code=`.
    pub async fn products_by_code(&self, code: &str) -> Result<Vec<Product>, Error> {
        let mut ep = Endpoint::get("products.by_code", self.paths.products.clone()).query("code", code);
        if code.trim().is_empty() {
            ep.fail(Error::invalid("code", "is required"));
        }
        let page = Page::from_results(self.items(ep, &["Product"]).await?);
        if let Some(e) = page.errors.into_iter().next() {
            return Err(e);
        }
        Ok(page.items)
    }

    /// The product with this brand and code, if the shop has it.
    /// `GET {products}?code=&brand=`.
    pub async fn product(&self, brand: &str, code: &str) -> Result<Option<Product>, Error> {
        let mut v = ValidationErrors::new();
        v.require(brand, "brand");
        v.require(code, "code");
        let mut ep = Endpoint::get("products.by_brand_code", self.paths.products.clone())
            .query("code", code)
            .query("brand", brand);
        if let Err(e) = v.into_result(()) {
            ep.fail(e);
        }
        let products: Vec<Product> = Page::from_results(self.items(ep, &["Product"]).await?).items;
        Ok(products
            .into_iter()
            .find(|p| p.brand.as_deref().is_none_or(|b| b.eq_ignore_ascii_case(brand))))
    }

    /// Sends an order. Validated first; a create, so never re-sent once it may have reached
    /// the shop (then [`find_order_by_reference`](Self::find_order_by_reference) settles
    /// it). `POST {orders}`.
    pub async fn create_order(&self, order: &NewOrder) -> Result<Order, Error> {
        let mut v = ValidationErrors::new();
        v.require(&order.reference, "reference");
        v.check(!order.items.is_empty(), "items", "at least one item is required");
        for (i, item) in order.items.iter().enumerate() {
            v.require(&item.code, format!("items[{i}].code"));
            v.check(
                item.quantity > 0,
                format!("items[{i}].quantity"),
                "must be more than 0",
            );
        }
        let mut ep = Endpoint::post("orders.create", self.paths.orders.clone()).json(order);
        if let Err(e) = v.into_result(()) {
            ep.fail(e);
        }
        self.one(ep, &["Order"]).await
    }

    /// One page of your orders, from 1. `GET {orders}?page=`.
    pub async fn orders(&self, page: u64) -> Result<Page<Order>, Error> {
        self.orders_page(page).await.map(Page::from_results)
    }

    async fn orders_page(&self, page: u64) -> Result<Vec<Result<Order, Error>>, Error> {
        let ep = Endpoint::get("orders.list", self.paths.orders.clone()).query("page", page);
        self.items(ep, &["Order"]).await
    }

    /// Every order, page by page from 1 until an empty page, as the stream is read.
    pub fn orders_stream(&self) -> BoxStream<'static, Result<Order, Error>> {
        let client = self.clone();
        page_stream(1, move |page| {
            let client = client.clone();
            async move { client.orders_page(page).await }
        })
    }

    /// One order with its items, payment and processing status. `GET {orders}/{id}`.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        let ep = Endpoint::get(
            "orders.get",
            format!("{}/{}", self.paths.orders, encode_segment(id)),
        );
        self.one(ep, &["Order"]).await
    }

    /// The order you sent with this reference, if the shop has one.
    pub async fn find_order_by_reference(&self, reference: &str) -> Result<Option<Order>, Error> {
        let mut orders = self.orders_stream();
        while let Some(order) = orders.try_next().await? {
            if order.reference.as_deref() == Some(reference) {
                return Ok(Some(order));
            }
        }
        Ok(None)
    }
}

/// Where an order stands, from its processing status (*inferred* words).
pub fn state_of(order: &Order) -> FulfilmentState {
    let status = order
        .processing_status
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if status.contains("cancel") {
        FulfilmentState::Cancelled
    } else if status.contains("partial") {
        // Before "shipped": `partially_shipped` is not shipped in full.
        FulfilmentState::PartiallyShipped
    } else if ["shipped", "sent", "delivered", "completed", "dispatched"]
        .iter()
        .any(|w| status.contains(w))
    {
        FulfilmentState::Shipped
    } else if ["reject", "fail", "error"].iter().any(|w| status.contains(w)) {
        FulfilmentState::Failed
    } else if status.is_empty()
        || ["new", "received", "pending", "accepted"]
            .iter()
            .any(|w| status.contains(w))
    {
        FulfilmentState::Received
    } else {
        FulfilmentState::Processing
    }
}

fn receipt(order: &Order, already: bool) -> SubmissionReceipt {
    SubmissionReceipt {
        provider: PROVIDER.to_owned(),
        reference: order.id.clone(),
        already_submitted: already,
    }
}

#[async_trait]
impl Fulfilment for CustomerApiClient {
    fn name(&self) -> &str {
        PROVIDER
    }

    /// Sends the order to the supplier shop, lines by EAN as product code. A submission
    /// whose outcome is unknown is looked up by its reference before giving up.
    async fn submit(&self, order: &commerce_core::Order) -> Result<SubmissionReceipt, Error> {
        let a = &order.shipping_address;
        let new = NewOrder {
            reference: order.id.clone(),
            items: order
                .lines
                .iter()
                .map(|l| NewOrderItem {
                    code: l.ean.clone().or_else(|| l.sku.clone()).unwrap_or_default(),
                    brand: None,
                    quantity: l.quantity,
                })
                .collect(),
            delivery_address: Some(Address {
                name: Some(format!("{} {}", a.first_name, a.last_name).trim().to_owned())
                    .filter(|n| !n.is_empty()),
                company: a.company.clone(),
                street: [
                    a.street.as_str(),
                    a.house_number.as_str(),
                    a.house_number_addition.as_deref().unwrap_or(""),
                ]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
                city: a.city.clone(),
                zip: a.postcode.clone(),
                country: a.country.to_ascii_uppercase(),
                email: a.email.clone().or_else(|| Some(order.customer.email.clone())),
                phone: a.phone.clone(),
            }),
            note: Some(format!("{} order {}", order.channel, order.id)),
        };
        match self.create_order(&new).await {
            Ok(created) => Ok(receipt(&created, false)),
            Err(e) if e.is_unconfirmed() => match self.find_order_by_reference(&order.id).await? {
                Some(found) => Ok(receipt(&found, true)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn status(&self, reference: &str) -> Result<FulfilmentStatus, Error> {
        let order = self.order(reference).await?;
        Ok(FulfilmentStatus {
            state: state_of(&order),
            shipments: order
                .shipments
                .iter()
                .map(|s| commerce_core::Shipment {
                    tracking: s.tracking_number.clone().map(|code| Tracking {
                        carrier: s.carrier.clone(),
                        code,
                        url: s.tracking_url.clone(),
                    }),
                    shipped_at: s.shipped_at.map(|t| t.and_utc()),
                    line_ids: Vec::new(),
                })
                .collect(),
        })
    }

    /// The Customer API offers no cancellation.
    async fn cancel(&self, reference: &str) -> Result<(), Error> {
        Err(Error::Unsupported {
            provider: PROVIDER.into(),
            operation: format!("cancel({reference})").into(),
            reason: "the Customer API offers no order cancellation; ask the shop to cancel it".into(),
        })
    }

    /// Availability by product code (EAN), one product look-up per code.
    async fn stock(&self, eans: &[String]) -> Result<Vec<StockLevel>, Error> {
        if eans.is_empty() {
            return Err(Error::Unsupported {
                provider: PROVIDER.into(),
                operation: "stock(all)".into(),
                reason: "the Customer API finds products by code only; name the EANs".into(),
            });
        }
        let mut levels = Vec::with_capacity(eans.len());
        for ean in eans {
            for p in self.products_by_code(ean).await? {
                levels.push(StockLevel {
                    item_id: p.id.clone().unwrap_or_else(|| p.code.clone()),
                    ean: Some(p.code.clone()),
                    available: p.availability.as_ref().map_or(0, Availability::available),
                });
            }
        }
        Ok(levels)
    }

    async fn find_submission(&self, order_id: &str) -> Result<Option<SubmissionReceipt>, Error> {
        Ok(self
            .find_order_by_reference(order_id)
            .await?
            .map(|o| receipt(&o, true)))
    }
}

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
