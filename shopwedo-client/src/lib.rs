//! A typed client for the ShopWeDo fulfilment REST API 1.1: `authTest`, orders
//! (`createOrder`, `getOrder`, `cancelOrder`), stock (`getStock`), webshop data
//! (`getProducts`, `getCategories`, `getBlogPosts`), the legacy manual-label form, and,
//! beyond the published document (shapes **inferred** from public clients), pick-up points
//! (`pudo`) and returns (`createRetourAnnouncement`, `getRetourSettings`).
//!
//! - **Signed requests**: every request carries an `auth` object with a fresh timestamp, a
//!   random salt and `token = hex(HMAC-SHA512(shop key, shopid ++ shopkey ++ timestamp ++
//!   salt))`. The signer is the pure function [`sign`]; the clock and salt source can be
//!   replaced for tests. The shop key is a secret.
//! - **The envelope** `auth` + `data` goes as form fields holding JSON (what public clients
//!   send; the default) or as one JSON body (as the documentation shows):
//!   [`Envelope`].
//! - **Orders are validated first** (addresses, country codes, items, amounts), every bad
//!   field named; `createOrder` is never re-sent once it may have reached ShopWeDo.
//! - **Tolerant decoding** of `integer|bool`, `DateTime|bool` and `array|bool` (`false`
//!   means none) into `Option`s and empty lists; names in four languages as
//!   [`Translations`].
//! - **Pacing** at 3 requests per second; 401 is [`Error::Auth`](commerce_core::Error),
//!   429 is waited out.
//!
//! ```no_run
//! use shopwedo_client::prelude::*;
//! use shopwedo_client::Address;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = ShopWeDoClient::from_env()?;
//! client.auth_test().await?;
//! let id = client
//!     .create_order(&NewOrder {
//!         external_order_id: "A-1001".into(),
//!         release: Some(true),
//!         created_at: chrono::Utc::now().naive_utc(),
//!         shipping_address: Address {
//!             firstname: Some("An".into()),
//!             lastname: Some("Peeters".into()),
//!             street: "Grote Markt".into(),
//!             number: "7".into(),
//!             zip: "2000".into(),
//!             city: "Antwerpen".into(),
//!             country_iso2: "BE".into(),
//!             email: "an@example.be".into(),
//!             phone: "+3231234567".into(),
//!             ..Default::default()
//!         },
//!         items: vec![OrderItem { sku: 123, amount: 1, ..Default::default() }],
//!         ..Default::default()
//!     })
//!     .await?;
//! let order = client.get_order(id).await?;
//! println!("{:?} shipped at {:?}", order.status_string, order.shipped_at);
//! # Ok(()) }
//! ```
//!
#![doc = include_str!("../docs/first-hour.md")]

mod blog;
mod catalog;
mod client;
mod fulfilment;
mod label;
mod model;
mod orders;
mod pudo;
mod retour;
mod signer;
mod stock;

pub use crate::client::{
    DEFAULT_BASE_URL, PROVIDER, ShopWeDoClient, ShopWeDoClientBuilder, WEBSHOP_PAGE, default_limits,
};
pub use crate::fulfilment::{arrival_of, belgian_offset, state_of, stock_level};
pub use crate::label::{LabelHost, LabelLanguage, ManualLabel};
pub use crate::model::{
    Address, BlogPost, Category, ExtraHandling, NewOrder, Order, OrderItem, Product, ProductCategory,
    ProductImage, Promotion, Shipment, Status, StockItem, TIMESTAMP_FORMAT, Translations,
};
pub use crate::pudo::{GeoPoint, OpeningHours, PickupAddress, PickupPoint, PickupPoints};
pub use crate::retour::{
    Retour, RetourAnnouncement, RetourItem, RetourReceipt, RetourSettings, retour_reason, rma_tag,
};
pub use crate::signer::{AuthObject, Clock, Envelope, RandomSalt, SaltSource, Signer, SystemClock, sign};
pub use crate::stock::{MAX_STOCK_PAGE, StockQuery};
pub use commerce_core::{Error, Page};

/// Everything a first program needs, in one import: this crate's client and inputs, and
/// [`commerce_core::prelude`] (the traits, the provider-neutral types, [`Error`],
/// `SecretString`, the settings types and the stream extension traits). ShopWeDo's own
/// [`Order`], [`Address`] and [`Shipment`] are left out (the prelude's are the
/// provider-neutral ones); name them `shopwedo_client::Order` and so on.
pub mod prelude {
    pub use crate::{
        ExtraHandling, LabelHost, LabelLanguage, ManualLabel, NewOrder, OrderItem, RetourAnnouncement,
        RetourItem, ShopWeDoClient, ShopWeDoClientBuilder, StockQuery,
    };
    pub use commerce_core::prelude::*;
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
