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

mod client;
mod error;
mod fulfilment;
mod model;
mod orders;
mod products;

pub use crate::client::{
    CustomerApiClient, CustomerApiClientBuilder, PRODUCTS_BUCKET, PRODUCTS_PER_SECOND, PROVIDER, Paths,
};
pub use crate::error::CustomerApiClassifier;
pub use crate::fulfilment::{state_of, stock_level};
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

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
