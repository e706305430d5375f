//! A typed client for the whole bol.com Retailer API v10: all 76 operations of bol's own
//! OpenAPI descriptions (orders, shipments, returns, offers, products, insights, inventory,
//! invoices, commissions, promotions, replenishments, shipping labels, subscriptions,
//! transports, retailers, product content and the shared process status), with a typed
//! model for every schema.
//!
//! - **Generated from bol's description** by `cargo xtask codegen` ([`models`] and the
//!   methods of [`RetailerClient`]); [`OPERATIONS`] lists them, and a test fails when an
//!   `operationId` of the description has no method. A new API version is a regenerate away.
//! - **One token**: client credentials with HTTP Basic (`base64(id:secret)`, as bol
//!   documents), `Accept: application/json`; the JWT is reused by every clone until 30-40 s
//!   before its `exp` (bol bans IPs that ask too often), and a 401 "Expired JWT" refreshes
//!   once and retries once.
//! - **Environments**: production, or demo with [`RetailerClientBuilder::demo`]
//!   (`/retailer-demo`, `/shared-demo`), and any API root.
//! - **Media types per operation** (`application/vnd.retailer.v10+json`, PDF, CSV, XLSX
//!   where the description says so), overridable per group with
//!   [`RetailerClientBuilder::media_version`], since bol versions resources one by one.
//! - **Errors** are bol's Problem object, with its violations as field errors.
//! - **Rate limits per operation**, from `X-RateLimit-*` and `Retry-After`; a 429 is always
//!   waited out.
//! - **Process status**: [`RetailerClient::wait_for_process`] polls with backoff until
//!   `SUCCESS`, `FAILURE` or `TIMEOUT`; [`RetailerClient::wait_for_processes`] waits for many
//!   with bol's bulk request (up to 1000 ids a request); [`RetailerClient::export_offers`]
//!   runs the offers export end to end.
//! - **Stock**: as a [`SalesChannel`](commerce_core::SalesChannel), `offers` reads the offers
//!   with their stock (the export for all, one read each for a few), `set_stock` sends
//!   `update-offer-stock` for each, paced, and waits for their process statuses in bulk,
//!   and `open_lines` lists the open order items from the reduced order list.
//! - **Returns**: as a [`SalesChannel`](commerce_core::SalesChannel), `open_returns` lists
//!   the unhandled FBR returns, `return_state` reads one, and `handle_return` reads before
//!   it sends `handle-return` once (never re-sent after a lost answer) and waits for its
//!   process status ([`RetailerClient::handle_return_item`]).
//! - **Push notifications**: [`push`] verifies bol's signed deliveries ([`PushKeys`]: the
//!   RSA signature over the raw body, the signature keys cached and refreshed within bol's
//!   limit, stale and forged deliveries refused with the reason) and types their events;
//!   [`RetailerClient::subscribe`] makes bol push to a URL.
//! - **Lists as streams** from page 1 until an empty page (`{}`).
//!
//! ```no_run
//! use retailer_client::prelude::*;
//!
//! # async fn run() -> Result<(), Error> {
//! let bol = RetailerClient::from_env()?;
//! let mut orders = bol.open_orders();
//! while let Some(order) = orders.try_next().await? {
//!     println!("{} for {}", order.id, order.shipping_address.city);
//! }
//! # Ok(()) }
//! ```
//!
#![doc = include_str!("../docs/first-hour.md")]

mod client;
mod export;
mod generated;
mod process;
pub mod push;
mod returns;
mod sales_channel;
mod stock;
mod wire;

pub use crate::client::{
    Api, DEFAULT_API_URL, DEFAULT_TOKEN_URL, PROVIDER, RetailerClient, RetailerClientBuilder,
};
pub use crate::export::{ExportedOffer, parse_csv};
pub use crate::generated::*;
pub use crate::process::{BULK_PROCESS_STATUS_LIMIT, WaitOptions, is_final};
pub use crate::push::{
    Delivery, ProcessOutcome, PushEvent, PushKeys, PushRefusal, SignatureHeader, SignatureKey, Subscription,
    SubscriptionResource,
};
pub use crate::returns::{MAX_QUANTITY_RETURNED, channel_return_of, reason_line};
pub use crate::sales_channel::{
    CHANGE_HISTORY_DAYS, CHANGE_INTERVAL_MAX_MINUTES, amsterdam_date, is_open, open_commerce_order,
    to_commerce_order, to_order_state,
};
pub use crate::stock::{EXPORT_WAIT, MAX_STOCK, open_lines_of};
pub use crate::wire::FileUpload;
pub use commerce_core::{Error, Page};

/// Everything a first program needs, in one import: the client, its settings and inputs,
/// and [`commerce_core::prelude`] (the traits, the provider-neutral types, [`Error`],
/// `SecretString`, the settings types and the stream extension traits). bol's own models
/// stay in [`models`] (their `Order` is bol's; the prelude's is the provider-neutral one).
pub mod prelude {
    pub use crate::{Api, FileUpload, RetailerClient, RetailerClientBuilder, WaitOptions, models};
    pub use commerce_core::prelude::*;
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
