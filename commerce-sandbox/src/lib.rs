//! A stateful local emulator of the five commerce providers — Safe.Shop, Sitejabber,
//! ShopWeDo, a kvik.shop Customer API and the bol.com Retailer API — on one loopback port,
//! for the quickstart, the facade's end-to-end tests and the benchmarks.
//!
//! It is an independent reading of the providers' documents: it shares no protocol code
//! with the client crates (no signing, no token handling, no models), so a client's mistake
//! cannot be mirrored here and pass unseen. It enforces what the documents say (auth
//! schemes, the HMAC and its 15-minute window, gzip, media types, required fields, rate
//! limits, token reuse), keeps state (orders ship, process statuses finish, bol's offers
//! sell while their corrected stock lasts, warehouse units leave when orders ship),
//! injects faults on request, and reports what it saw at `GET /__sandbox/report` (the
//! offers against the warehouses' stock as a table at `GET /__sandbox/offers`).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let sandbox = commerce_sandbox::start(commerce_sandbox::Config::default()).await?;
//! for (name, value) in sandbox.env() {
//!     println!("export {name}={value}");
//! }
//! let report = sandbox.report();
//! assert_eq!(report.total_duplicates(), 0);
//! # Ok(()) }
//! ```

// Guards return `Result<(), Response>`: the error is the answer itself, sent once per
// request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod bol;
mod customer;
mod push;
mod returns;
mod safeshop;
mod shopwedo;
mod sitejabber;
mod stock;
mod world;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use crate::bol::bol_limit_per_second;
pub use crate::push::{
    FORGED_KINDS, PushReport, RETRY_DELAYS_SECS, SANDBOX_RETAILER_ID, SIGNATURE_HEADER,
    SIGNATURE_KEY_CALLS_PER_HOUR,
};
pub use crate::returns::ReturnLine;
pub use crate::world::{Product, gtin_check_digit};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Safe.Shop client id.
pub const SAFESHOP_CLIENT_ID: &str = "sandbox-safeshop";
/// Safe.Shop client secret.
pub const SAFESHOP_CLIENT_SECRET: &str = "sandbox-safeshop-secret";
/// Sitejabber API key (`client_token`).
pub const SITEJABBER_CLIENT_TOKEN: &str = "sandbox-sitejabber-client-token";
/// Sitejabber business account e-mail.
pub const SITEJABBER_EMAIL: &str = "shop@sandbox-shop.test";
/// Sitejabber business account password.
pub const SITEJABBER_PASSWORD: &str = "sandbox-sitejabber-password";
/// Sitejabber business domain.
pub const SITEJABBER_DOMAIN: &str = "sandbox-shop.test";
/// ShopWeDo shop id.
pub const SHOPWEDO_SHOP_ID: u64 = 4242;
/// ShopWeDo shop key.
pub const SHOPWEDO_SHOP_KEY: &str = "sandbox-shopwedo-key";
/// Customer API client id.
pub const CUSTOMER_API_CLIENT_ID: &str = "sandbox-customer-client";
/// Customer API client secret.
pub const CUSTOMER_API_CLIENT_SECRET: &str = "sandbox-customer-secret";
/// bol client id.
pub const RETAILER_CLIENT_ID: &str = "sandbox-bol-client";
/// bol client secret.
pub const RETAILER_CLIENT_SECRET: &str = "sandbox-bol-secret";

/// How the sandbox behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Open bol orders seeded at start. They were placed before any offer update, so they
    /// lower the corrected stock of an offer bol manages (`managedByRetailer: false`), not
    /// of one the retailer manages.
    pub orders: usize,
    /// Products in the shared catalogue, and bol offers: one per product.
    pub products: usize,
    /// Share of non-token requests that fail transiently (0 to 1).
    pub faults: f64,
    /// Seed of the fault and data generator.
    pub seed: u64,
    /// Lifetime of Customer API tokens.
    pub customer_token_lifetime: Duration,
    /// Lifetime of bol tokens (bol: 299 s).
    pub bol_token_lifetime: Duration,
    /// `getOrder` (ShopWeDo) or order detail (Customer API) reads before an order ships.
    pub ship_after_reads: u32,
    /// How long after it was made an order ships at the earliest, whatever the reads (real
    /// warehouses take hours: `Duration::from_secs(7200)` in paused time). Default 0.
    pub ship_after: Duration,
    /// Process-status reads before a bol process succeeds.
    pub process_after_reads: u32,
    /// The `Retry-After` of 503 faults and 429 answers, in seconds.
    pub retry_after_secs: u64,
    /// Share of creates (an order, a shipment, an invite, a review request) that take
    /// effect and are then answered with a 2xx whose body cannot be read (a proxy's page):
    /// the client cannot tell what it made. Unlike `faults`, these change state.
    pub garbled_creates: f64,
    /// Share of bol orders whose buyer asks to cancel a while after the order appears
    /// (after 0, 2, 3 or 6 reads of its details; every line or only the first), as
    /// buyers do. Default 0.2.
    pub cancellation_requests: f64,
    /// A buyer orders on bol every this long of the sandbox's clock (tokio's, so paused
    /// time drives it): 1 unit (one time in four 2) of a random FBR offer, taken only while
    /// the offer's corrected stock covers it (else a refused sale). Default `None`: no
    /// orders but the seeded ones and [`Sandbox::place_order`]'s.
    pub order_arrivals: Option<Duration>,
    /// Every this long of the sandbox's clock a few products (one in 20, at least one) gain
    /// or lose a few units at a warehouse, never below 0, as when the warehouse sells
    /// elsewhere or receives goods. Default `None`.
    pub stock_drift: Option<Duration>,
    /// Under `managedByRetailer: true`, a cancelled order item placed after the last update
    /// stops lowering the corrected stock. Default false: bol's "handled" includes
    /// cancelled, so read literally it keeps lowering it until the next update.
    pub cancelled_gives_back: bool,
    /// The offers export leaves out the `correctedStock` column (bol's real export may not
    /// have it), so a client's fallback is exercised. Default false.
    pub export_without_stock_details: bool,
    /// ShopWeDo reserves the units of released orders in `atp` until they ship, as its
    /// document says (`atp` = `level` − warning level − released, not shipped). False: `atp`
    /// only drops when the units leave at shipping ("on shelf"). Default true.
    pub shopwedo_reserves: bool,
    /// ShopWeDo's out-of-stock warning level, held back from `atp`. Default 0.
    pub shopwedo_warning_level: i64,
    /// ShopWeDo writes its times (`last_atp_update`) in UTC rather than Belgian wall-clock
    /// time: its document gives no zone, so both readings are emulated. Default false.
    pub shopwedo_times_utc: bool,
    /// The Customer API's availability drops when an order is created (reserves); default
    /// false: only when it ships ("on shelf").
    pub customer_reserves: bool,
    /// Share of bol FBR orders, once shipped (every line shipped or cancelled, one at least
    /// shipped), whose buyer registers a return on bol, decided per order from the seed.
    /// Default 0: no returns, so every run without them is as before.
    pub returns: f64,
    /// How long after the last shipment confirmation of an order its buyer registers the
    /// return. Default 6 hours.
    pub return_after: Duration,
    /// How long after ShopWeDo's retour announcement the goods are received at its
    /// warehouse (only goods a buyer sent back arrive). Default 1 day.
    pub receive_after: Duration,
    /// Share of returned items that arrive short by one unit (when more than one was
    /// expected) or else with `condition: "damaged"`. Default 0.
    pub return_mismatch: f64,
    /// Share of returns with two items (two lines) of one order, where the order has two
    /// lines shipped. Default 0.
    pub returns_multi: f64,
    /// A bol process also ends this long after it started, read or not, as bol's do on
    /// their own (and its `PROCESS_STATUS` push notification goes out then). Default
    /// `None`: a process ends by `process_after_reads` reads only, as before; a run that
    /// waits for push notifications instead of reading statuses needs it.
    pub process_after: Option<Duration>,
    /// Divides the waits between the retries of a push delivery (bol: 10 retries over 10
    /// minutes, [`RETRY_DELAYS_SECS`]): 600 makes the whole window a second. Default 1.
    pub push_retry_scale: f64,
    /// How long a push delivery may take to be answered 2xx (bol: 5 s). Default 5 s.
    pub push_answer_within: Duration,
    /// Test mode: after this share of real push deliveries (1: after each, 0.25: after
    /// every fourth), also one forged delivery to the same URL, cycling through
    /// [`FORGED_KINDS`]. Default 0: none.
    pub push_forged: f64,
    /// bol rotates its push signing key this long after the start: a new key (id `1`)
    /// signs from then on, the old one stays listed. Default `None`
    /// ([`Sandbox::rotate_push_key`] rotates at any moment).
    pub push_rotate_key_after: Option<Duration>,
}

impl Config {
    /// Whether a fulfilment order read `reads` times, made at `made`, has shipped.
    pub(crate) fn ships(&self, reads: u32, made: Instant) -> bool {
        reads > self.ship_after_reads && made.elapsed() >= self.ship_after
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            orders: 25,
            products: 12,
            faults: 0.0,
            seed: 7,
            customer_token_lifetime: Duration::from_secs(3600),
            bol_token_lifetime: Duration::from_secs(299),
            ship_after_reads: 2,
            ship_after: Duration::ZERO,
            process_after_reads: 1,
            retry_after_secs: 1,
            garbled_creates: 0.0,
            cancellation_requests: 0.2,
            order_arrivals: None,
            stock_drift: None,
            cancelled_gives_back: false,
            export_without_stock_details: false,
            shopwedo_reserves: true,
            shopwedo_warning_level: 0,
            shopwedo_times_utc: false,
            customer_reserves: false,
            returns: 0.0,
            return_after: Duration::from_secs(6 * 3600),
            receive_after: Duration::from_secs(24 * 3600),
            return_mismatch: 0.0,
            returns_multi: 0.0,
            process_after: None,
            push_retry_scale: 1.0,
            push_answer_within: Duration::from_secs(5),
            push_forged: 0.0,
            push_rotate_key_after: None,
        }
    }
}

/// What the sandbox saw of one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReport {
    /// Requests by endpoint (`POST /invites`).
    pub requests: BTreeMap<String, u64>,
    /// Token (or login) requests.
    pub token_requests: u64,
    /// 429 answers served.
    pub rate_limited: u64,
    /// Rule violations: requests the provider would refuse for breaking its rules.
    pub violations: u64,
    /// The first violations, described.
    pub violation_samples: Vec<String>,
    /// Faults injected.
    pub faults: u64,
    /// Entities created, by kind.
    pub created: BTreeMap<String, u64>,
    /// Duplicates: attempts to create what already exists (data damage).
    pub duplicates: u64,
    /// The first duplicates, described.
    pub duplicate_samples: Vec<String>,
}

/// What the sandbox saw, per provider, and where bol's offers stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// By provider: `safeshop`, `sitejabber`, `shopwedo`, `customer`, `bol`.
    pub providers: BTreeMap<String, ProviderReport>,
    /// bol's stock updates and sales.
    #[serde(default)]
    pub stock: StockReport,
    /// Every bol offer against what the warehouses hold, in catalogue order.
    #[serde(default)]
    pub offers: Vec<OfferReport>,
    /// Returns: registered on bol, announced at and received by the warehouse, handled on
    /// bol, and what went wrong.
    #[serde(default)]
    pub returns: ReturnsReport,
    /// bol's push notifications: subscriptions, deliveries, retries, forged deliveries.
    #[serde(default)]
    pub push: PushReport,
}

/// What happened to bol's returns, counted by return item (one RMA id each) unless said
/// otherwise. The damage figures (`handled_before_receipt`, `double_handled`,
/// `duplicate_announcements`, `announced_without_return`, `wrong_quantity`) are 0 in a run
/// without mistakes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnsReport {
    /// Return items buyers registered on bol.
    pub registered: u64,
    /// Retour items ShopWeDo accepted in its announcements (`createRetourAnnouncement`).
    pub announced: u64,
    /// Retour items whose goods ShopWeDo's warehouse received.
    pub received: u64,
    /// Return items handled on bol (their `HANDLE_RETURN_ITEM` process succeeded).
    pub handled: u64,
    /// Handlings (`PUT /retailer/returns/{rma-id}`) with a result that claims the goods
    /// (`RETURN_RECEIVED`, `EXCHANGE_PRODUCT`, `RETURN_DOES_NOT_MEET_CONDITIONS`,
    /// `REPAIR_PRODUCT`) of an RMA whose goods no warehouse had received.
    pub handled_before_receipt: u64,
    /// Handlings of an RMA already handled (a handling of it was accepted before). Also
    /// counted in bol's [`ProviderReport::duplicates`].
    pub double_handled: u64,
    /// Retour announcements that took the amount announced for a bol order and EAN beyond
    /// what its buyers registered. Also counted in ShopWeDo's
    /// [`ProviderReport::duplicates`].
    pub duplicate_announcements: u64,
    /// Retour announcements for a bol order and EAN with no return registered on bol.
    pub announced_without_return: u64,
    /// Handlings claiming the goods whose `quantityReturned` differs from what the
    /// warehouse received.
    pub wrong_quantity: u64,
    /// Return items registered and not handled (now).
    pub unhandled: u64,
}

/// bol's stock updates and sales.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReport {
    /// Stock updates bol applied (when their process status reached `SUCCESS`).
    pub stock_updates: u64,
    /// Of those, updates that changed nothing bol sells by: the same amount and mode and,
    /// with `managedByRetailer` true, no order item placed since the update before.
    pub noop_updates: u64,
    /// Orders bol took after the start ([`Sandbox::place_order`], `order_arrivals`).
    pub sales: u64,
    /// Orders bol refused: the offer's corrected stock did not cover them.
    pub refused_sales: u64,
    /// Units of orders bol took beyond the truly free units ([`OfferReport::free`]).
    pub oversold: u64,
}

/// One warehouse's stock of a product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseStock {
    /// `shopwedo` or `customer`.
    pub provider: String,
    /// Units on the shelf (ShopWeDo's `level`): they leave when an order ships.
    pub level: i64,
    /// What its stock call answers: ShopWeDo's `atp`, the Customer API's availability
    /// quantity.
    pub available: i64,
    /// The out-of-stock warning level held back (ShopWeDo; 0 at the Customer API).
    pub warning_level: i64,
    /// Units of orders handed over to it, not shipped and not cancelled.
    pub unshipped: i64,
}

/// A bol offer against what the warehouses hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferReport {
    /// bol's offer id (`offer-{ean}`).
    pub offer_id: String,
    /// Its EAN.
    pub ean: String,
    /// `managedByRetailer`.
    pub managed_by_retailer: bool,
    /// Fulfilled by bol (FBB) rather than by the retailer.
    pub fbb: bool,
    /// The amount last applied.
    pub amount: i64,
    /// bol's corrected stock: what it still sells.
    pub corrected: i64,
    /// Units of bol's FBR order lines neither shipped nor cancelled on bol.
    pub open: i64,
    /// Of those, units of lines handed over to no warehouse.
    pub waiting: i64,
    /// The truly free units: over the warehouses, `level` − warning level − units handed
    /// over there and not shipped; less `waiting`. Negative: oversold.
    pub free: i64,
    /// Each warehouse that lists the product (none: no warehouse stocks it).
    pub warehouses: Vec<WarehouseStock>,
}

/// Why bol did not take an order ([`Sandbox::place_order`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleRefused {
    /// The quantity is below 1.
    Quantity(i64),
    /// The shop has no offer for the EAN.
    NoOffer(String),
    /// The offer is fulfilled by bol; the sandbox sells only FBR.
    Fbb(String),
    /// The offer's corrected stock does not cover the quantity.
    NotEnough {
        /// The EAN.
        ean: String,
        /// The offer's corrected stock.
        corrected: i64,
        /// The quantity asked.
        quantity: i64,
    },
}

impl std::fmt::Display for SaleRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaleRefused::Quantity(q) => write!(f, "a quantity of {q}: at least 1 is sold"),
            SaleRefused::NoOffer(ean) => write!(f, "no offer for EAN {ean}"),
            SaleRefused::Fbb(ean) => write!(f, "the offer for EAN {ean} is fulfilled by bol"),
            SaleRefused::NotEnough {
                ean,
                corrected,
                quantity,
            } => write!(
                f,
                "EAN {ean}: {quantity} asked, bol's corrected stock is {corrected}"
            ),
        }
    }
}

impl std::error::Error for SaleRefused {}

/// [`Sandbox::set_stock`] named a warehouse or an EAN the sandbox does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStock {
    /// The provider named.
    pub provider: String,
    /// The EAN named.
    pub ean: String,
}

impl std::fmt::Display for UnknownStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no stock of EAN {} at `{}` (warehouses: shopwedo, customer)",
            self.ean, self.provider
        )
    }
}

impl std::error::Error for UnknownStock {}

impl Report {
    fn sum(&self, f: impl Fn(&ProviderReport) -> u64) -> u64 {
        self.providers.values().map(f).sum()
    }

    /// Rule violations over all providers.
    pub fn total_violations(&self) -> u64 {
        self.sum(|p| p.violations)
    }

    /// Duplicates over all providers.
    pub fn total_duplicates(&self) -> u64 {
        self.sum(|p| p.duplicates)
    }

    /// 429 answers over all providers.
    pub fn total_rate_limited(&self) -> u64 {
        self.sum(|p| p.rate_limited)
    }

    /// Faults injected over all providers.
    pub fn total_faults(&self) -> u64 {
        self.sum(|p| p.faults)
    }

    /// Requests over all providers and endpoints.
    pub fn total_requests(&self) -> u64 {
        self.sum(|p| p.requests.values().sum())
    }

    /// Token (or login) requests over all providers.
    pub fn total_token_requests(&self) -> u64 {
        self.sum(|p| p.token_requests)
    }

    /// The offers as a table: offer, EAN, mode (`ret`: managed by the retailer, `bol`),
    /// FBR/FBB, amount, corrected, each warehouse's `level/available`, open and waiting
    /// units, and the truly free units.
    pub fn offers_table(&self) -> String {
        let mut out = format!(
            "{:<20} {:<13} {:<4} {:<4} {:>6} {:>9} {:>5} {:>7} {:>6}  warehouses (level/available)\n",
            "offer", "ean", "mode", "ful", "amount", "corrected", "open", "waiting", "free"
        );
        for o in &self.offers {
            let warehouses: Vec<String> = o
                .warehouses
                .iter()
                .map(|w| format!("{} {}/{}", w.provider, w.level, w.available))
                .collect();
            out.push_str(&format!(
                "{:<20} {:<13} {:<4} {:<4} {:>6} {:>9} {:>5} {:>7} {:>6}  {}\n",
                o.offer_id,
                o.ean,
                if o.managed_by_retailer { "ret" } else { "bol" },
                if o.fbb { "FBB" } else { "FBR" },
                o.amount,
                o.corrected,
                o.open,
                o.waiting,
                o.free,
                if warehouses.is_empty() {
                    "(no warehouse)".to_owned()
                } else {
                    warehouses.join(", ")
                }
            ));
        }
        out
    }

    /// Entities of `kind` created at `provider`.
    pub fn created(&self, provider: &str, kind: &str) -> u64 {
        self.providers
            .get(provider)
            .and_then(|p| p.created.get(kind))
            .copied()
            .unwrap_or(0)
    }
}

const SAMPLES: usize = 20;

/// A sliding-window counter: at most `limit` events in any `window`.
#[derive(Debug)]
pub(crate) struct Window {
    limit: usize,
    window: Duration,
    events: VecDeque<Instant>,
}

impl Window {
    pub(crate) fn new(limit: usize, window: Duration) -> Self {
        Window {
            limit,
            window,
            events: VecDeque::new(),
        }
    }

    /// Counts an event if the window has room; otherwise says how long until it has.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<usize, Duration> {
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.events.pop_front();
        }
        if self.events.len() < self.limit {
            self.events.push_back(now);
            Ok(self.limit - self.events.len())
        } else {
            let oldest = self.events[0];
            Err(self.window.saturating_sub(now.duration_since(oldest)))
        }
    }
}

/// The sandbox's time of day at `at` on tokio's clock: the system's clock, moved on by
/// whatever tokio's clock is ahead of it (in paused time, the simulated time).
pub(crate) fn clock_at(at: Instant) -> chrono::DateTime<chrono::Utc> {
    let at = at.into_std();
    let real = std::time::Instant::now();
    let now = chrono::Utc::now();
    if at >= real {
        now + chrono::Duration::from_std(at - real).unwrap_or_default()
    } else {
        now - chrono::Duration::from_std(real - at).unwrap_or_default()
    }
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) world: Mutex<world::World>,
    report: Mutex<Report>,
    rng: Mutex<fastrand::Rng>,
    /// bol's push signing keys, made when first needed.
    pub(crate) keys: OnceLock<Mutex<push::Keys>>,
    /// The HTTP client of the push deliveries.
    client: OnceLock<reqwest::Client>,
    /// The push deliveries under way: stopped with the sandbox, and by a reset.
    tasks: Mutex<tokio::task::JoinSet<()>>,
    /// Wakes the push clock when a subscription is enabled.
    pub(crate) push_wake: tokio::sync::Notify,
    /// The timed key rotation happened.
    rotated: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn new(config: Config) -> Self {
        Shared {
            world: Mutex::new(world::World::seed(&config)),
            report: Mutex::new(Report::default()),
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            config,
            keys: OnceLock::new(),
            client: OnceLock::new(),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
            push_wake: tokio::sync::Notify::new(),
            rotated: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The client that delivers push notifications: no proxy, no redirects, bol's answer
    /// limit.
    pub(crate) fn push_client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                // No idle pool: a paused-time run's clock does not jump on a pooled
                // socket's timer, and each delivery is a connection of its own, as bol's.
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.config.push_answer_within)
                .build()
                .unwrap_or_default()
        })
    }

    /// Runs a push task until it ends or the sandbox stops.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Stops the push deliveries under way (the push clock is the sandbox's to stop).
    fn stop_tasks(&self) {
        lock(&self.tasks).abort_all();
    }

    /// The sandbox's now: the system's clock, moved on by whatever tokio's clock is ahead
    /// of it (in paused time, the simulated time), as the flow tells time: the two agree.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        clock_at(tokio::time::Instant::now())
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, world::World> {
        lock(&self.world)
    }

    fn with_report(&self, provider: &str, f: impl FnOnce(&mut ProviderReport)) {
        let mut report = lock(&self.report);
        f(report.providers.entry(provider.to_owned()).or_default());
    }

    pub(crate) fn hit(&self, provider: &str, endpoint: &str) {
        self.with_report(provider, |p| {
            *p.requests.entry(endpoint.to_owned()).or_default() += 1
        });
    }

    pub(crate) fn token_request(&self, provider: &str) {
        self.with_report(provider, |p| p.token_requests += 1);
    }

    pub(crate) fn rate_limited(&self, provider: &str) {
        self.with_report(provider, |p| p.rate_limited += 1);
    }

    pub(crate) fn violation(&self, provider: &str, what: impl Into<String>) {
        let what = what.into();
        self.with_report(provider, |p| {
            p.violations += 1;
            if p.violation_samples.len() < SAMPLES {
                p.violation_samples.push(what);
            }
        });
    }

    pub(crate) fn created(&self, provider: &str, kind: &str) {
        self.with_report(provider, |p| *p.created.entry(kind.to_owned()).or_default() += 1);
    }

    pub(crate) fn duplicate(&self, provider: &str, what: impl Into<String>) {
        let what = what.into();
        self.with_report(provider, |p| {
            p.duplicates += 1;
            if p.duplicate_samples.len() < SAMPLES {
                p.duplicate_samples.push(what);
            }
        });
    }

    fn fault(&self, provider: &str) {
        self.with_report(provider, |p| p.faults += 1);
    }

    fn report(&self) -> Report {
        let mut report = lock(&self.report).clone();
        let mut w = self.world();
        w.advance(&self.config, Instant::now());
        report.stock = w.stock_counters.clone();
        report.returns = w.returns.report();
        report.offers = w.offer_reports(&self.config);
        report.push = w.push.report.clone();
        report.push.subscriptions = w.push.subscriptions.len() as u64;
        report.push.enabled_subscriptions =
            w.push.subscriptions.values().filter(|s| s.enabled).count() as u64;
        report
    }

    /// Runs what the sandbox's clock brought since the last look (shipments, order
    /// arrivals, stock drift, processes ending on their own, a key rotation).
    fn advance(&self) {
        {
            let mut w = self.world();
            w.advance(&self.config, Instant::now());
            bol::end_due_processes(self, &mut w);
        }
        if let Some(after) = self.config.push_rotate_key_after {
            let due = self.world().started.elapsed() >= after;
            if due && !self.rotated.swap(true, std::sync::atomic::Ordering::SeqCst) {
                push::rotate(self);
            }
        }
    }

    /// Every return item as bol and the warehouse have it now.
    fn returns(&self) -> Vec<ReturnLine> {
        let mut w = self.world();
        w.advance(&self.config, Instant::now());
        w.return_lines()
    }

    fn reset(&self) {
        // Deliveries under way belong to the world forgotten.
        self.stop_tasks();
        *lock(&self.report) = Report::default();
        *lock(&self.world) = world::World::seed(&self.config);
        *lock(&self.rng) = fastrand::Rng::with_seed(self.config.seed);
    }
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Whether a request path asks for a token (never faulted: faults test the API calls).
fn is_token_path(path: &str) -> bool {
    path.ends_with("/oauth/token")
        || path.ends_with("/oauth/access-token")
        || path == "/bol/token"
        || path.ends_with("/login")
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Unavailable,
    BadGateway,
    Drop,
    Delay,
}

/// Whether a request creates something at its provider (a bol cancellation counts: it
/// changes the order for good).
fn is_create(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::PUT && path.ends_with("/orders/cancellation"))
        || method == axum::http::Method::POST
            && (path.ends_with("/invites")
                || path.ends_with("/review/request/add")
                || path.ends_with("/createOrder")
                || path.ends_with("/api/customer/orders")
                || path.ends_with("/retailer/shipments")
                || path.ends_with("/retailer-demo/shipments")
                || path.ends_with("/createRetourAnnouncement"))
        || (method == axum::http::Method::PUT
            && (path.contains("/retailer/returns/") || path.contains("/retailer-demo/returns/")))
}

/// Decides faults before any handler runs, so a faulted request changes nothing; except a
/// garbled create, which is handled and then has its 2xx answer replaced.
async fn faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.advance();
    if shared.config.garbled_creates > 0.0 && is_create(request.method(), request.uri().path()) {
        let garble = lock(&shared.rng).f64() < shared.config.garbled_creates;
        if garble {
            let provider = request
                .uri()
                .path()
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let answer = next.run(request).await;
            if !answer.status().is_success() {
                return answer;
            }
            shared.fault(&provider);
            let (mut parts, _) = answer.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return Response::from_parts(
                parts,
                Body::from("<html><body>502 upstream hiccup (the request went through)</body></html>"),
            );
        }
    }
    let path = request.uri().path().to_owned();
    let provider = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    if path.starts_with("/__sandbox") || is_token_path(&path) || shared.config.faults <= 0.0 {
        return next.run(request).await;
    }
    let fault = {
        let mut rng = lock(&shared.rng);
        (rng.f64() < shared.config.faults).then(|| match rng.u8(0..4) {
            0 => Fault::Unavailable,
            1 => Fault::BadGateway,
            2 => Fault::Drop,
            _ => Fault::Delay,
        })
    };
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    shared.fault(&provider);
    match fault {
        Fault::Unavailable => {
            let mut r = json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"message": "sandbox fault: unavailable"}),
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&shared.config.retry_after_secs.to_string()).expect("digits"),
            );
            r
        }
        Fault::BadGateway => json(
            StatusCode::BAD_GATEWAY,
            serde_json::json!({"message": "sandbox fault: bad gateway"}),
        ),
        Fault::Drop => {
            // The status line goes out, then the connection breaks before any body.
            let stream = futures_util::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
                    "sandbox fault: connection dropped",
                ))
            });
            Response::new(Body::from_stream(stream))
        }
        Fault::Delay => {
            tokio::time::sleep(Duration::from_millis(150)).await;
            next.run(request).await
        }
    }
}

/// Sends the push deliveries of whatever a request made happen; once forged deliveries went
/// out, first counts a request (to any provider) that names what only they named.
async fn push_after(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let request = if !request.uri().path().starts_with("/__sandbox") && push::any_forged(&shared) {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"message": "the sandbox reads bodies up to 16 MiB"}),
            );
        };
        push::check_forged(
            &shared,
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query(),
            &bytes,
        );
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    let answer = next.run(request).await;
    push::dispatch(&shared);
    answer
}

/// How often the push clock looks at the sandbox's clock while a subscription is enabled:
/// order arrivals, processes ending on their own and key rotations are told within it.
const PUSH_TICK: Duration = Duration::from_millis(200);

/// The push clock: while some subscription is enabled (or processes end on their own, or
/// a key rotation is due), runs the sandbox's clock and sends what it brought, so events go
/// out with no request coming in.
async fn push_clock(shared: Arc<Shared>) {
    loop {
        let active = shared.config.process_after.is_some()
            || (shared.config.push_rotate_key_after.is_some()
                && !shared.rotated.load(std::sync::atomic::Ordering::SeqCst))
            || shared.world().push.any_enabled();
        if active {
            tokio::time::sleep(PUSH_TICK).await;
            shared.advance();
            push::dispatch(&shared);
        } else {
            shared.push_wake.notified().await;
        }
    }
}

async fn rotate_key(State(shared): State<Arc<Shared>>) -> Response {
    let id = push::rotate(&shared);
    json(StatusCode::OK, serde_json::json!({"keyId": id}))
}

async fn report(State(shared): State<Arc<Shared>>) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_value(shared.report()).unwrap_or_default(),
    )
}

async fn offers_table(State(shared): State<Arc<Shared>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        shared.report().offers_table(),
    )
        .into_response()
}

async fn returns_view(State(shared): State<Arc<Shared>>) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_value(shared.returns()).unwrap_or_default(),
    )
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    json(StatusCode::OK, serde_json::json!({"reset": true}))
}

async fn not_found(request: Request) -> Response {
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({"message": format!("the sandbox has no {} {}", request.method(), request.uri().path())}),
    )
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__sandbox/report", get(report))
        .route("/__sandbox/offers", get(offers_table))
        .route("/__sandbox/returns", get(returns_view))
        .route("/__sandbox/reset", post(reset))
        .route("/__sandbox/push/rotate-key", post(rotate_key))
        .nest("/safeshop/v1", safeshop::router())
        .nest("/sitejabber/v1", sitejabber::router())
        .nest("/shopwedo/api", shopwedo::router())
        .nest("/customer", customer::router())
        .nest("/bol", bol::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), push_after))
        .with_state(shared)
}

/// A bol order line as the sandbox's bol has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BolLine {
    /// The order.
    pub order_id: String,
    /// The line (`orderItemId`).
    pub line_id: String,
    /// Its product's EAN.
    pub ean: String,
    /// Quantity ordered.
    pub quantity: i64,
    /// Quantity shipped.
    pub shipped: i64,
    /// Quantity cancelled.
    pub cancelled: i64,
    /// The buyer asked to cancel and the shop has not answered.
    pub cancellation_request: bool,
}

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    clock: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The base URLs of the emulated providers, as the clients take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrls {
    /// Safe.Shop API root.
    pub safeshop: String,
    /// Sitejabber API root.
    pub sitejabber: String,
    /// ShopWeDo host.
    pub shopwedo: String,
    /// Customer API shop origin.
    pub customer: String,
    /// bol API root.
    pub bol: String,
    /// bol token endpoint.
    pub bol_token: String,
}

impl Sandbox {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where each provider lives.
    pub fn base_urls(&self) -> BaseUrls {
        let u = self.url();
        BaseUrls {
            safeshop: format!("{u}/safeshop/v1"),
            sitejabber: format!("{u}/sitejabber/v1/"),
            shopwedo: format!("{u}/shopwedo/api"),
            customer: format!("{u}/customer"),
            bol: format!("{u}/bol"),
            bol_token: format!("{u}/bol/token"),
        }
    }

    /// The environment variables that point every client at the sandbox.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let b = self.base_urls();
        vec![
            ("SAFESHOP_CLIENT_ID", SAFESHOP_CLIENT_ID.into()),
            ("SAFESHOP_CLIENT_SECRET", SAFESHOP_CLIENT_SECRET.into()),
            ("SAFESHOP_BASE_URL", b.safeshop),
            ("SITEJABBER_CLIENT_TOKEN", SITEJABBER_CLIENT_TOKEN.into()),
            ("SITEJABBER_EMAIL", SITEJABBER_EMAIL.into()),
            ("SITEJABBER_PASSWORD", SITEJABBER_PASSWORD.into()),
            ("SITEJABBER_DOMAIN", SITEJABBER_DOMAIN.into()),
            ("SITEJABBER_BASE_URL", b.sitejabber),
            ("SHOPWEDO_SHOP_ID", SHOPWEDO_SHOP_ID.to_string()),
            ("SHOPWEDO_SHOP_KEY", SHOPWEDO_SHOP_KEY.into()),
            ("SHOPWEDO_BASE_URL", b.shopwedo),
            ("CUSTOMER_API_SHOP_URL", b.customer),
            ("CUSTOMER_API_CLIENT_ID", CUSTOMER_API_CLIENT_ID.into()),
            ("CUSTOMER_API_CLIENT_SECRET", CUSTOMER_API_CLIENT_SECRET.into()),
            ("RETAILER_CLIENT_ID", RETAILER_CLIENT_ID.into()),
            ("RETAILER_CLIENT_SECRET", RETAILER_CLIENT_SECRET.into()),
            ("RETAILER_API_URL", b.bol),
            ("RETAILER_TOKEN_URL", b.bol_token),
            ("RETAILER_DEMO", "0".into()),
        ]
    }

    /// [`env`](Self::env) as `export NAME='value'` lines a shell can run.
    pub fn export_lines(&self) -> String {
        self.env()
            .into_iter()
            // Single quotes keep every character; a quote inside is closed, escaped, reopened.
            .map(|(name, value)| format!("export {name}='{}'\n", value.replace('\'', r"'\''")))
            .collect()
    }

    /// [`env`](Self::env) as a file a shell can `source` (`export NAME='value'` lines),
    /// written whole or not at all: to a temporary file beside `path`, then renamed, so a
    /// script that waits for `path` never reads half of it.
    pub fn write_env_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = format!(
            "# The commerce sandbox's addresses and test credentials: `source` this file.\n{}",
            self.export_lines()
        );
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, path)
    }

    /// What it saw so far.
    pub fn report(&self) -> Report {
        self.shared.report()
    }

    /// The shared product catalogue.
    pub fn catalogue(&self) -> Vec<Product> {
        self.shared.world().products.clone()
    }

    /// Every bol order line as bol has it now, to check a run's outcome against.
    pub fn bol_lines(&self) -> Vec<BolLine> {
        let w = self.shared.world();
        w.bol_orders
            .iter()
            .flat_map(|o| {
                o.items.iter().map(|i| BolLine {
                    order_id: o.order_id.clone(),
                    line_id: i.order_item_id.clone(),
                    ean: i.ean.clone(),
                    quantity: i.quantity,
                    shipped: i.shipped,
                    cancelled: i.cancelled,
                    cancellation_request: i.cancellation_request,
                })
            })
            .collect()
    }

    /// The buyer asks to cancel these lines of a bol order now (lines not open are left as
    /// they are), as a buyer would at any moment.
    pub fn request_cancellation(&self, order_id: &str, line_ids: &[&str]) {
        {
            let mut w = self.shared.world();
            let now = clock_at(Instant::now());
            let mut asked = false;
            for o in w.bol_orders.iter_mut().filter(|o| o.order_id == order_id) {
                for i in o.items.iter_mut() {
                    if line_ids.contains(&i.order_item_id.as_str()) && i.open() > 0 {
                        i.cancellation_request = true;
                        i.changed = now;
                        asked = true;
                    }
                }
            }
            if asked {
                w.push.raise(
                    "ORDER",
                    "ORDER_ITEM_CANCELLATION_REQUEST",
                    Some(order_id.to_owned()),
                );
            }
        }
        push::dispatch(&self.shared);
    }

    /// bol rotates its push signing key now: a new key (id `1`, then `2`, …) signs the
    /// deliveries from now on; the old ones stay listed at the signature-keys endpoint. The
    /// new key's id. (`POST /__sandbox/push/rotate-key` does the same.)
    pub fn rotate_push_key(&self) -> String {
        push::rotate(&self.shared)
    }

    /// Every return item registered on bol, with what the warehouse announced and received
    /// and how bol has it handled, now (as `GET /__sandbox/returns` answers).
    pub fn returns(&self) -> Vec<ReturnLine> {
        self.shared.returns()
    }

    /// A buyer registers a return on bol now, outside `Config::returns`: `quantity` units
    /// (1 to those shipped, less those returned before) of a shipped line of a bol order;
    /// its RMA id, or `None` when bol has no such line or the quantity is not within what
    /// is left. The order gets no
    /// other return from `Config::returns`.
    pub fn register_return(&self, order_id: &str, line_id: &str, quantity: i64) -> Option<String> {
        let mut w = self.shared.world();
        w.advance(&self.shared.config, Instant::now());
        w.register_return_now(order_id, line_id, quantity, self.shared.now())
    }

    /// A person received the goods of an RMA by hand (at a warehouse without a retour
    /// call, such as the Customer API's supplier): `units` in `condition` (`ok`,
    /// `damaged`) now, so handling it is not early. False when bol has no such RMA.
    pub fn receive_return_by_hand(&self, rma_id: &str, units: i64, damaged: bool) -> bool {
        let condition = if damaged { "damaged" } else { "ok" };
        self.shared
            .world()
            .receive_by_hand(rma_id, units, condition, self.shared.now())
    }

    /// The seller handles an RMA in bol's own pages now, not through the API (`handled`
    /// at once, with the units expected); a handling through the API after it counts as a
    /// second one. False when bol has no such RMA or `handling_result` is not one of bol's.
    pub fn handle_return_on_bol(&self, rma_id: &str, handling_result: &str) -> bool {
        self.shared
            .world()
            .handle_by_hand(rma_id, handling_result, self.shared.now())
    }

    /// Every bol offer against what the warehouses hold now (as [`Report::offers`]).
    pub fn offers(&self) -> Vec<OfferReport> {
        self.shared.report().offers
    }

    /// A buyer orders `quantity` units of `ean` on bol now: bol takes the order (a one-line
    /// FBR order, like the seeded ones; its id is returned) only when the offer's corrected
    /// stock covers the quantity, else refuses it (counted in
    /// [`StockReport::refused_sales`]). Units taken beyond the truly free ones count as
    /// [`StockReport::oversold`].
    pub fn place_order(&self, ean: &str, quantity: i64) -> Result<String, SaleRefused> {
        let placed = {
            let mut w = self.shared.world();
            w.advance(&self.shared.config, Instant::now());
            w.place_order(&self.shared.config, ean, quantity)
        };
        push::dispatch(&self.shared);
        placed
    }

    /// Sets the units on a warehouse's shelf for `ean` (`provider`: `shopwedo`, or
    /// `customer` / `customer-api`); the warehouse lists the product from then on.
    /// Reserved units still come off what its stock call answers.
    pub fn set_stock(&self, provider: &str, ean: &str, units: i64) -> Result<(), UnknownStock> {
        let mut w = self.shared.world();
        w.advance(&self.shared.config, Instant::now());
        if w.set_level(provider, ean, units) {
            Ok(())
        } else {
            Err(UnknownStock {
                provider: provider.to_owned(),
                ean: ean.to_owned(),
            })
        }
    }

    /// A warehouse's stock of `ean` now; `None` when it does not list the product.
    pub fn stock(&self, provider: &str, ean: &str) -> Option<WarehouseStock> {
        let mut w = self.shared.world();
        w.advance(&self.shared.config, Instant::now());
        w.warehouse_stock(&self.shared.config, provider, ean)
    }

    /// Forgets everything and seeds anew.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving (and delivering push notifications).
    pub async fn stop(mut self) {
        self.clock.abort();
        self.shared.stop_tasks();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.clock.abort();
        self.shared.stop_tasks();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a sandbox on an ephemeral loopback port.
pub async fn start(config: Config) -> std::io::Result<Sandbox> {
    start_on(TcpListener::bind("127.0.0.1:0").await?, config)
}

/// Starts a sandbox on a listener you bound.
pub fn start_on(listener: TcpListener, config: Config) -> std::io::Result<Sandbox> {
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(config));
    let app = router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    let clock = tokio::spawn(push_clock(shared.clone()));
    Ok(Sandbox {
        addr,
        shared,
        stop: Some(stop),
        task,
        clock,
    })
}
