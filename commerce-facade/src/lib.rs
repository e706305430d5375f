//! One crate for the commerce provider clients, each behind its cargo feature (`safeshop`,
//! `sitejabber`, `shopwedo`, `customer-api`, `retailer`; all on by default) and re-exported
//! under a short name, with the **order-to-review flow** that composes them:
//!
//! open orders from every sales channel → submitted to a fulfilment provider that has the
//! stock (routed by EAN, or by a mapping you supply) → followed until shipped → the shipment
//! confirmed on the channel with its tracking code → review invitations on every platform.
//!
//! Every step of every order is journaled before and after it runs (an SQLite file by
//! default), so a rerun after a crash resumes where it stopped: no order submitted twice,
//! no invitation sent twice, no shipment confirmed twice, none lost.
//!
//! ```no_run
//! use std::sync::Arc;
//! use commerce_facade::{Flow, FlowOptions, Providers, SqliteJournal};
//!
//! # async fn run() -> Result<(), commerce_core::Error> {
//! let providers = Providers::from_env()?; // every provider whose variables are set
//! let journal = Arc::new(SqliteJournal::from_env_or("commerce-journal.sqlite")?);
//! let flow = Flow::new(providers, journal, FlowOptions::default())
//!     .observe(|event| println!("{event:?}"));
//! let summary = flow.run().await;
//! println!("{} orders completed, {} failures", summary.completed, summary.failures.len());
//! # Ok(()) }
//! ```
//!
//! Runners on several machines share a PostgreSQL database (feature `postgres`,
//! `Postgres`): the journal, and each credential's access token and rate budgets, so N
//! workers ask for one token and together keep the providers' limits.
//!
//! `cargo run --example quickstart` runs the whole flow against the built-in sandbox for
//! every provider whose variables are not set.
//!
#![doc = include_str!("../docs/first-hour.md")]

mod flow;
mod journal;
mod ops;
mod ops_returns;
#[cfg(feature = "postgres")]
mod postgres;
mod seal;
mod setup;

pub use crate::flow::returns::{RETURNS_VARS, ReturnsOptions, ReturnsReport};
pub use crate::flow::stock::{
    PassMode, STOCK_VARS, STOPPED, StockOptions, StockReport, StockRow, arith as stock_arith,
    pass_name as stock_pass_name,
};
pub use crate::flow::{
    Event, Flow, FlowHealth, FlowOptions, FlowWaker, LEASE_BOUNDS, POLL_BOUNDS, Providers, StopHandle,
    Summary, reconcile_pass, runner_name,
};
pub use crate::journal::{
    Amendment, Census, EventRecord, EventStats, HistoryEntry, Journal, JournalError, LeaseInfo,
    MemoryJournal, MigrationError, OfferRecord, OrderRecord, PassState, Resolution, SCHEMA_VERSION,
    SentStock, Split, SplitPart, SqliteJournal, SqliteShared, Stage, Step, StepState, offer_key,
};
pub use crate::journal::{
    HandleDecision, ReturnAmendment, ReturnMatch, ReturnRecord, ReturnStage, return_key, returns_pass,
};
pub use crate::ops::{Decision, OPERATOR, Operation, Operator, Outcome, Refusal, invitation_steps};
pub use crate::ops_returns::{ReturnDecision, ReturnRefusal};
#[cfg(feature = "postgres")]
pub use crate::postgres::{
    DEFAULT_CONNECTIONS, PG_SCHEMA_VERSION, PgJournal, PgShared, Postgres, is_postgres_url,
};
pub use crate::setup::{
    PROVIDERS, ProviderSpec, Role, add_provider, add_provider_shared, ignored_providers,
    ignored_providers_message, parse_duration,
};
pub use commerce_core as core;

/// The Safe.Shop client.
#[cfg(feature = "safeshop")]
pub use safeshop_client as safeshop;

/// The Sitejabber client.
#[cfg(feature = "sitejabber")]
pub use sitejabber_client as sitejabber;

/// The ShopWeDo client.
#[cfg(feature = "shopwedo")]
pub use shopwedo_client as shopwedo;

/// The Customer API client.
#[cfg(feature = "customer-api")]
pub use customer_api_client as customer_api;

/// The bol.com Retailer API client.
#[cfg(feature = "retailer")]
pub use retailer_client as retailer;

/// Everything a first program needs, in one import: the flow, its journals and
/// [`Providers`], each enabled provider's client, and [`commerce_core::prelude`] (the
/// traits, the provider-neutral types, `Error`, `SecretString`, the settings types and the
/// stream extension traits).
pub mod prelude {
    pub use crate::{
        Event, Flow, FlowOptions, Journal, MemoryJournal, Providers, SqliteJournal, StopHandle, Summary,
    };
    pub use commerce_core::prelude::*;
    #[cfg(feature = "customer-api")]
    pub use customer_api_client::CustomerApiClient;
    #[cfg(feature = "retailer")]
    pub use retailer_client::RetailerClient;
    #[cfg(feature = "safeshop")]
    pub use safeshop_client::SafeShopClient;
    #[cfg(feature = "shopwedo")]
    pub use shopwedo_client::ShopWeDoClient;
    #[cfg(feature = "sitejabber")]
    pub use sitejabber_client::SitejabberClient;
}

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
