//! The sandbox's shared state: one catalogue whose identifiers agree across providers, as
//! they do for a real shop (a bol order line's EAN is the `reference` of a ShopWeDo stock
//! item and the code of a Customer API product), and each provider's own records.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

use serde::Serialize;

use crate::{Config, Window};

/// A product of the shared catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// The EAN-13: bol's order line EAN, ShopWeDo's stock `reference`, the Customer API's
    /// product code.
    pub ean: String,
    /// The shop's own SKU (bol offer reference, Sitejabber product SKU).
    pub shop_sku: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub brand: String,
    /// Price in cents.
    pub price_cents: i64,
    /// ShopWeDo's stock item id.
    pub shopwedo_sku: u64,
    /// Stocked at ShopWeDo (else at the Customer API supplier, or, for the one product
    /// no warehouse stocks, nowhere: see [`at_customer_api`](Self::at_customer_api)).
    pub at_shopwedo: bool,
    /// Stocked at the Customer API supplier: every product not at ShopWeDo, and one that is
    /// (a product at both warehouses), but for the one product no warehouse stocks.
    pub at_customer_api: bool,
}

/// The GTIN check digit of 12 digits.
pub fn gtin_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { d })
        .sum();
    (10 - sum % 10) % 10
}

#[derive(Debug, Clone)]
pub(crate) struct BolItem {
    pub order_item_id: String,
    pub ean: String,
    pub shop_sku: String,
    pub title: String,
    pub quantity: i64,
    pub shipped: i64,
    /// Quantity cancelled (bol's `quantityCancelled`).
    pub cancelled: i64,
    /// The buyer asked to cancel and the shop has not answered (`cancellationRequest`).
    pub cancellation_request: bool,
    pub unit_price: f64,
    /// When bol took it, on the world's event counter ([`World::seq`]): 0 for the orders
    /// seeded at start, which were placed before any offer update.
    pub placed_seq: u64,
    /// When its shipment was confirmed (the sandbox's clock), if it was.
    pub shipped_at: Option<Instant>,
    /// bol's `latestChangedDateTime`: when it was placed, shipped, cancelled, or its buyer
    /// asked to cancel, last (the sandbox's time of day).
    pub changed: chrono::DateTime<chrono::Utc>,
}

impl BolItem {
    /// Quantity neither shipped nor cancelled.
    pub(crate) fn open(&self) -> i64 {
        self.quantity - self.shipped - self.cancelled
    }
}

/// When the buyer of an order asks to cancel it, and which lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CancelPlan {
    /// The request appears once the order's details were read this many times (0: it is
    /// there from the start).
    pub after_reads: u32,
    /// Every line (else only the first).
    pub every_line: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct BolOrder {
    pub order_id: String,
    pub placed: String,
    pub first_name: String,
    pub surname: String,
    pub street: String,
    pub house_number: String,
    /// bol's `houseNumberExtension` (`A`, `bis`, `2hg`), on some orders.
    pub house_number_extension: Option<String>,
    pub zip: String,
    pub city: String,
    pub country: String,
    /// A relay address at `verkopen.bol.com`, as bol gives every buyer.
    pub email: String,
    /// bol's optional `deliveryPhoneNumber`: absent on most orders.
    pub phone: Option<String>,
    pub items: Vec<BolItem>,
    /// The buyer's cancellation request to come, if any.
    pub cancel_plan: Option<CancelPlan>,
    /// Delivered to a pick-up point: its name, street and house number (in the buyer's
    /// city); the buyer's own address is then the billing address only.
    pub pickup: Option<(String, String, String)>,
    /// Reads of the order's details so far.
    pub reads: u32,
}

impl BolOrder {
    /// One read of the order's details: the buyer's request appears when its time came,
    /// on the lines not shipped or cancelled yet. True when it appeared now.
    pub(crate) fn read(&mut self) -> bool {
        self.reads += 1;
        let Some(plan) = self.cancel_plan else {
            return false;
        };
        let mut asked = false;
        if self.reads > plan.after_reads {
            self.cancel_plan = None;
            let lines = if plan.every_line { self.items.len() } else { 1 };
            let now = crate::clock_at(Instant::now());
            for item in self.items.iter_mut().take(lines) {
                if item.open() > 0 {
                    item.cancellation_request = true;
                    item.changed = now;
                    asked = true;
                }
            }
        }
        asked
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BolProcess {
    pub reads: u32,
    pub entity_id: String,
    pub event_type: String,
    pub created: String,
    pub failure: Option<String>,
    /// What the process does when it succeeds (apply a stock update, take an export's
    /// snapshot); `None` once done, or for processes whose effect came at once.
    pub effect: Option<Effect>,
    /// When it started (the sandbox's clock): with `Config::process_after` it ends that
    /// long after, read or not.
    pub started: Instant,
    /// Its end was told to the push subscribers (`PROCESS_STATUS`).
    pub told: bool,
}

/// What a process does when it reaches `SUCCESS`: bol applies a change when it has
/// processed it, not when it answered `202`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// An `update-offer-stock`: the offer's new amount and mode.
    Stock {
        offer_id: String,
        amount: i64,
        managed_by_retailer: bool,
    },
    /// An offers export: its report is the snapshot taken now.
    Export { report_id: String },
    /// A `handle-return`: the item is handled with this result and quantity.
    HandleReturn {
        rma_id: String,
        handling_result: String,
        quantity: i64,
    },
    /// A push-notification subscription created, replaced, removed or tested.
    Subscription(crate::push::SubscriptionChange),
}

/// A bol offer of the shop: one per catalogue product.
#[derive(Debug, Clone)]
pub(crate) struct BolOffer {
    /// `offer-{ean}`, as the seeded orders' lines name it.
    pub offer_id: String,
    pub ean: String,
    /// The shop's SKU (`reference`).
    pub reference: String,
    pub title: String,
    pub price_cents: i64,
    /// The stock amount last applied (0 to 999).
    pub amount: i64,
    /// `managedByRetailer`.
    pub managed_by_retailer: bool,
    /// Fulfilled by bol (its stock is bol's; no update is for it).
    pub fbb: bool,
    /// [`World::seq`] when the last update was applied (0: seeded).
    pub updated_seq: u64,
    /// `mutationDateTime` of the export.
    pub updated_at: String,
}

/// A delivery option bol offered for a configuration of order items: its label can be
/// bought (`POST /retailer/shipping-labels`) for exactly those items.
#[derive(Debug, Clone)]
pub(crate) struct BolLabelOffer {
    /// The order items and quantities it was offered for, in the order asked.
    pub items: Vec<(String, i64)>,
    /// bol's transporter code (`TNT` is PostNL).
    pub transporter: String,
}

/// A shipping label bought from bol: served as a PDF once its process status succeeded.
#[derive(Debug, Clone)]
pub(crate) struct BolLabel {
    /// The process status that creates it.
    pub process_id: String,
    /// The order items and quantities it is for.
    pub items: Vec<(String, i64)>,
    /// bol's transporter code.
    pub transporter: String,
    /// The track and trace code.
    pub track_and_trace: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ShopwedoOrder {
    pub order_id: u64,
    pub external_order_id: String,
    pub data: serde_json::Value,
    pub created: String,
    pub made: tokio::time::Instant,
    pub reads: u32,
    pub cancelled: bool,
    /// Stock items and units (`sku`, `amount`).
    pub items: Vec<(u64, i64)>,
    /// Created with `release` true-ish: its units are reserved in `atp` until it ships.
    pub released: bool,
    /// Its units have left `level` (it shipped and the stock was settled).
    pub shipped_settled: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CustomerOrder {
    pub id: u64,
    pub reference: String,
    pub items: Vec<(String, i64)>,
    pub created: String,
    pub made: tokio::time::Instant,
    pub reads: u32,
    /// Its units have left the availability (it shipped and the stock was settled).
    pub shipped_settled: bool,
}

pub(crate) struct World {
    pub products: Vec<Product>,
    // bol
    pub bol_orders: Vec<BolOrder>,
    pub bol_tokens: HashMap<String, Instant>,
    pub bol_processes: HashMap<String, BolProcess>,
    pub bol_limits: HashMap<String, Window>,
    pub next_process: u64,
    /// Delivery options offered, by shipping label offer id.
    pub bol_label_offers: HashMap<String, BolLabelOffer>,
    /// Shipping labels bought, by shipping label id.
    pub bol_labels: HashMap<String, BolLabel>,
    /// The shop's offers, one per product, in catalogue order.
    pub offers: Vec<BolOffer>,
    /// Offer index by offer id.
    pub offer_index: HashMap<String, usize>,
    /// Product (and offer) index by EAN.
    pub ean_index: HashMap<String, usize>,
    /// Offers exports by report id: the CSV once its process succeeded.
    pub bol_exports: HashMap<String, Option<String>>,
    /// The event counter: bumped by each order bol takes and each stock update applied, so
    /// "placed after the last update" is exact.
    pub seq: u64,
    /// The next seeded-style bol order's number, and order item id.
    pub next_order: usize,
    pub next_item: u64,
    /// The sandbox clock's start, and the timed events done (order arrivals, stock drift).
    pub started: Instant,
    pub arrivals_done: u64,
    pub drifts_done: u64,
    pub arrivals_rng: fastrand::Rng,
    pub drift_rng: fastrand::Rng,
    /// Counters of the stock loop's report.
    pub stock_counters: crate::StockReport,
    // ShopWeDo
    /// `level` by stock item: units on the shelf (they leave when an order ships). A
    /// stock item not here is not listed.
    pub shopwedo_stock: BTreeMap<u64, i64>,
    pub shopwedo_orders: BTreeMap<u64, ShopwedoOrder>,
    pub shopwedo_salts: HashSet<String>,
    pub shopwedo_window: Window,
    pub next_shopwedo_order: u64,
    // Customer API
    /// Units on the supplier's shelf by product code (they leave when an order ships). A
    /// product not here is not listed.
    pub customer_stock: BTreeMap<String, i64>,
    pub customer_tokens: HashMap<String, Instant>,
    pub customer_orders: BTreeMap<u64, CustomerOrder>,
    pub next_customer_order: u64,
    // Sitejabber
    pub sitejabber_tokens: HashMap<String, (Window, Window)>,
    pub sitejabber_requests: HashSet<(String, String)>,
    pub sitejabber_product_requests: HashSet<(String, String, String)>,
    // Safe.Shop
    pub safeshop_tokens: HashSet<String>,
    pub safeshop_invites: BTreeMap<String, serde_json::Value>,
    pub tokens_issued: u64,
    // Returns
    /// What the buyers returned and the warehouse's retours (`crate::returns`).
    pub returns: crate::returns::Returns,
    /// bol's push notifications: subscriptions, events to deliver, counters.
    pub push: crate::push::PushState,
}

pub(crate) const FIRST: [&str; 8] = ["An", "Jan", "Sophie", "Luuk", "Emma", "Noah", "Julia", "Daan"];
pub(crate) const LAST: [&str; 8] = [
    "Peeters", "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Maes", "Claes",
];
pub(crate) const CITIES: [(&str, &str, &str); 4] = [
    ("Amsterdam", "1012 LG", "NL"),
    ("Utrecht", "3511 AB", "NL"),
    ("Antwerpen", "2000", "BE"),
    ("Gent", "9000", "BE"),
];
const THINGS: [&str; 6] = [
    "Stadsfiets",
    "Fietsbel",
    "Fietsslot",
    "Zadeltas",
    "Koplamp",
    "Bidon",
];

impl World {
    pub(crate) fn seed(config: &Config) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let n = config.products.max(1);
        let special = Special::of(n, config.seed);
        let products: Vec<Product> = (0..n)
            .map(|i| {
                let base = format!("{:012}", 871_234_500_000u64 + i as u64);
                let at_shopwedo = i % 2 == 0 && Some(i) != special.unstocked;
                Product {
                    ean: format!("{base}{}", gtin_check_digit(&base)),
                    shop_sku: format!("SKU-{}", 4700 + i),
                    title: format!("{} model {}", THINGS[i % THINGS.len()], i + 1),
                    brand: ["Gazelle", "AXA", "Basil"][i % 3].to_owned(),
                    price_cents: 995 + (i as i64 * 1375) % 80_000,
                    shopwedo_sku: 1000 + i as u64,
                    at_shopwedo,
                    at_customer_api: (i % 2 == 1 || Some(i) == special.both) && Some(i) != special.unstocked,
                }
            })
            .collect();
        // Every product is listed at ShopWeDo (0 units where the supplier stocks it) and at
        // the Customer API (0 where ShopWeDo does), as before; the one no warehouse stocks
        // is listed at neither.
        let shopwedo_stock = products
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != special.unstocked)
            .map(|(_, p)| (p.shopwedo_sku, if p.at_shopwedo { 500 } else { 0 }))
            .collect();
        let customer_stock = products
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != special.unstocked)
            .map(|(i, p)| {
                let units = match (p.at_shopwedo, Some(i) == special.both) {
                    (_, true) => BOTH_CUSTOMER_UNITS,
                    (true, false) => 0,
                    (false, false) => 500,
                };
                (p.ean.clone(), units)
            })
            .collect();
        // Seeded orders keep away from the products whose routing or fulfilment differs
        // (the one at no warehouse, the one at both, bol's FBB offers): the generator draws
        // as before and a draw of one of those moves to the next product on the same side,
        // so the rest of the seeded data stays as it was.
        let index: HashMap<&str, usize> = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.ean.as_str(), i))
            .collect();
        let usable = |candidates: &[&Product], k: usize| -> usize {
            (0..candidates.len())
                .map(|step| (k + step) % candidates.len())
                .find(|&j| {
                    index
                        .get(candidates[j].ean.as_str())
                        .is_none_or(|&i| !special.keeps_orders_away(i))
                })
                .unwrap_or(k)
        };
        let mut next_item = 6_107_434_000u64;
        // Buyers' cancellation requests from their own generator, so the rest of the seeded
        // data stays as it was.
        let mut cancels = fastrand::Rng::with_seed(config.seed ^ 0x00ca_9ce1);
        // Every sixth order has a line stocked at the other provider too (so no one provider
        // can ship it whole), from its own generator and its own line ids for the same
        // reason.
        let mut splits = fastrand::Rng::with_seed(config.seed ^ 0x0005_9117);
        let bol_orders = (0..config.orders)
            .map(|i| {
                // Lines from one side of the catalogue, so one provider can fulfil the order.
                let side = rng.bool();
                let candidates: Vec<&Product> = products.iter().filter(|p| p.at_shopwedo == side).collect();
                let candidates = if candidates.is_empty() {
                    products.iter().collect()
                } else {
                    candidates
                };
                let lines = 1 + rng.usize(0..2);
                let items = (0..lines)
                    .map(|_| {
                        let p = candidates[usable(&candidates, rng.usize(0..candidates.len()))];
                        next_item += 1;
                        BolItem {
                            order_item_id: next_item.to_string(),
                            ean: p.ean.clone(),
                            shop_sku: p.shop_sku.clone(),
                            title: p.title.clone(),
                            quantity: 1 + rng.i64(0..2),
                            shipped: 0,
                            cancelled: 0,
                            cancellation_request: false,
                            unit_price: p.price_cents as f64 / 100.0,
                            placed_seq: 0,
                            shipped_at: None,
                            changed: chrono::DateTime::UNIX_EPOCH,
                        }
                    })
                    .collect();
                let mut items: Vec<BolItem> = items;
                if i % 6 == 5 {
                    let side = world_side(&products, &items[0].ean);
                    let others: Vec<&Product> = products.iter().filter(|p| p.at_shopwedo != side).collect();
                    if !others.is_empty() {
                        let p = others[usable(&others, splits.usize(0..others.len()))];
                        items.push(BolItem {
                            order_item_id: (6_107_900_000u64 + i as u64).to_string(),
                            ean: p.ean.clone(),
                            shop_sku: p.shop_sku.clone(),
                            title: p.title.clone(),
                            quantity: 1,
                            shipped: 0,
                            cancelled: 0,
                            cancellation_request: false,
                            unit_price: p.price_cents as f64 / 100.0,
                            placed_seq: 0,
                            shipped_at: None,
                            changed: chrono::DateTime::UNIX_EPOCH,
                        });
                    }
                }
                let (city, zip, country) = CITIES[rng.usize(0..CITIES.len())];
                let first = FIRST[rng.usize(0..FIRST.len())];
                let placed = format!("2026-11-{:02}T{:02}:15:00+01:00", 10 + i % 12, 8 + i % 10);
                // Seeded orders last changed when they were placed.
                let changed = chrono::DateTime::parse_from_rfc3339(&placed)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or(chrono::DateTime::UNIX_EPOCH);
                for item in &mut items {
                    item.changed = changed;
                }
                BolOrder {
                    order_id: (1_043_946_570u64 + i as u64 * 7).to_string(),
                    placed,
                    first_name: first.to_owned(),
                    surname: LAST[rng.usize(0..LAST.len())].to_owned(),
                    street: "Grote Markt".to_owned(),
                    house_number: (1 + i % 90).to_string(),
                    // Decided by the order's number, not the generator, so the rest of the
                    // seeded data stays as it was.
                    house_number_extension: [None, Some("A"), None, Some("bis"), None][i % 5]
                        .map(str::to_owned),
                    zip: zip.to_owned(),
                    city: city.to_owned(),
                    country: country.to_owned(),
                    email: format!(
                        "{}{:x}@verkopen.bol.com",
                        first.to_ascii_lowercase(),
                        0x2b9c_0000u64 + i as u64 * 7919
                    ),
                    // One order in four carries a phone, as bol sends them.
                    phone: (i % 4 == 3).then(|| format!("+316{:08}", 10_000_000 + i)),
                    items,
                    cancel_plan: (cancels.f64() < config.cancellation_requests).then(|| CancelPlan {
                        after_reads: [0, 2, 3, 6][cancels.usize(0..4)],
                        every_line: cancels.bool(),
                    }),
                    reads: 0,
                    // One order in seven goes to a pick-up point (by its number, so the
                    // rest of the seeded data stays as it was).
                    pickup: (i % 7 == 3).then(|| {
                        (
                            format!("PostNL-punt Primera {city}"),
                            "Stationsplein".to_owned(),
                            (10 + i % 40).to_string(),
                        )
                    }),
                }
            })
            .collect();
        let offers = seed_offers(config, &products, &special, &shopwedo_stock, &customer_stock);
        World {
            offer_index: offers
                .iter()
                .enumerate()
                .map(|(i, o)| (o.offer_id.clone(), i))
                .collect(),
            ean_index: products
                .iter()
                .enumerate()
                .map(|(i, p)| (p.ean.clone(), i))
                .collect(),
            offers,
            bol_exports: HashMap::new(),
            seq: 0,
            next_order: config.orders,
            next_item,
            started: Instant::now(),
            arrivals_done: 0,
            drifts_done: 0,
            arrivals_rng: fastrand::Rng::with_seed(config.seed ^ 0x00a7_7123),
            drift_rng: fastrand::Rng::with_seed(config.seed ^ 0x00d7_1f75),
            stock_counters: crate::StockReport::default(),
            products,
            bol_orders,
            bol_tokens: HashMap::new(),
            bol_processes: HashMap::new(),
            bol_limits: HashMap::new(),
            next_process: 1,
            bol_label_offers: HashMap::new(),
            bol_labels: HashMap::new(),
            shopwedo_stock,
            shopwedo_orders: BTreeMap::new(),
            shopwedo_salts: HashSet::new(),
            shopwedo_window: Window::new(3, Duration::from_secs(1)),
            next_shopwedo_order: 90_001,
            customer_stock,
            customer_tokens: HashMap::new(),
            customer_orders: BTreeMap::new(),
            next_customer_order: 5_001,
            sitejabber_tokens: HashMap::new(),
            sitejabber_requests: HashSet::new(),
            sitejabber_product_requests: HashSet::new(),
            safeshop_tokens: HashSet::new(),
            safeshop_invites: BTreeMap::new(),
            tokens_issued: 0,
            returns: crate::returns::Returns::default(),
            push: crate::push::PushState::default(),
        }
    }

    /// A fresh random-looking token.
    pub(crate) fn token(&mut self, prefix: &str) -> String {
        self.tokens_issued += 1;
        format!("{prefix}-{:06}-{:016x}", self.tokens_issued, fastrand::u64(..))
    }

    pub(crate) fn product_by_ean(&self, ean: &str) -> Option<&Product> {
        self.ean_index.get(ean).map(|&i| &self.products[i])
    }
}

/// Units the Customer API supplier holds of the product stocked at both warehouses.
const BOTH_CUSTOMER_UNITS: i64 = 40;

/// The catalogue's products that differ: the one no warehouse stocks, the one at both,
/// bol's FBB offers and the offers bol manages (`managedByRetailer: false`). By index,
/// decided by the catalogue's size and the seed; the first product is always plain.
#[derive(Debug, Clone, Default)]
pub(crate) struct Special {
    /// At no warehouse: the last product on the supplier's side (from 4 products).
    pub unstocked: Option<usize>,
    /// At ShopWeDo and at the Customer API: the last on ShopWeDo's side (from 4 products).
    pub both: Option<usize>,
    /// Fulfilled by bol: one in 50, at least one (from 6 products).
    pub fbb: HashSet<usize>,
    /// `managedByRetailer: false`: one in 25, at least one (from 6 products).
    pub bol_managed: HashSet<usize>,
}

impl Special {
    pub(crate) fn of(n: usize, seed: u64) -> Special {
        let mut special = Special::default();
        if n >= 4 {
            // The last index of each parity: even is ShopWeDo's side, odd the supplier's.
            let (last_even, last_odd) = if (n - 1).is_multiple_of(2) {
                (n - 1, n - 2)
            } else {
                (n - 2, n - 1)
            };
            special.both = Some(last_even);
            special.unstocked = Some(last_odd);
        }
        if n >= 6 {
            let mut rng = fastrand::Rng::with_seed(seed ^ 0x0ff3_2500);
            let plain: Vec<usize> = (1..n)
                .filter(|i| Some(*i) != special.both && Some(*i) != special.unstocked)
                .collect();
            let mut pick = |count: usize, taken: &HashSet<usize>| -> HashSet<usize> {
                let free: Vec<usize> = plain.iter().copied().filter(|i| !taken.contains(i)).collect();
                let mut chosen = HashSet::new();
                while chosen.len() < count.min(free.len()) {
                    chosen.insert(free[rng.usize(0..free.len())]);
                }
                chosen
            };
            special.fbb = pick((n / 50).max(1), &HashSet::new());
            let taken = special.fbb.clone();
            special.bol_managed = pick((n / 25).max(1), &taken);
        }
        special
    }

    /// Whether seeded orders keep away from product `i`.
    fn keeps_orders_away(&self, i: usize) -> bool {
        Some(i) == self.unstocked || Some(i) == self.both || self.fbb.contains(&i)
    }
}

/// One offer per product: FBR and `managedByRetailer: true` but for the special ones, with
/// amounts a little off the warehouses' units (as after a day without a stock loop), so a
/// first pass has work; the one no warehouse stocks still shows 3 on bol.
fn seed_offers(
    config: &Config,
    products: &[Product],
    special: &Special,
    shopwedo: &BTreeMap<u64, i64>,
    customer: &BTreeMap<String, i64>,
) -> Vec<BolOffer> {
    let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x0ff3_a0a7);
    products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let held = shopwedo.get(&p.shopwedo_sku).copied().unwrap_or(0)
                + customer.get(&p.ean).copied().unwrap_or(0);
            let drift = rng.i64(-6..=6);
            let fbb = special.fbb.contains(&i);
            let amount = if Some(i) == special.unstocked {
                3
            } else if fbb {
                rng.i64(0..60)
            } else {
                (held + drift).clamp(0, 999)
            };
            BolOffer {
                offer_id: format!("offer-{}", p.ean),
                ean: p.ean.clone(),
                reference: p.shop_sku.clone(),
                title: p.title.clone(),
                price_cents: p.price_cents,
                amount,
                managed_by_retailer: !special.bol_managed.contains(&i),
                fbb,
                updated_seq: 0,
                updated_at: "2026-11-22 08:00:00.0".to_owned(),
            }
        })
        .collect()
}

/// Whether the product with this EAN is stocked at ShopWeDo.
fn world_side(products: &[Product], ean: &str) -> bool {
    products
        .iter()
        .find(|p| p.ean == ean)
        .is_some_and(|p| p.at_shopwedo)
}

/// A time in bol's zone, Europe/Amsterdam: CET (+01:00), and CEST (+02:00) from the last
/// Sunday of March to the last Sunday of October, 01:00 UTC both (the EU's rule since 1996).
pub(crate) fn amsterdam(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    use chrono::Datelike as _;
    let last_sunday = |month: u32| {
        let end =
            chrono::NaiveDate::from_ymd_opt(t.year(), month, 31).expect("March and October have 31 days");
        let back = end.weekday().num_days_from_sunday();
        (end - chrono::Duration::days(i64::from(back)))
            .and_hms_opt(1, 0, 0)
            .expect("01:00 is a time")
            .and_utc()
    };
    let summer = t >= last_sunday(3) && t < last_sunday(10);
    let offset = chrono::FixedOffset::east_opt(if summer { 7200 } else { 3600 }).expect("a valid offset");
    t.with_timezone(&offset)
}

/// Now as an RFC 3339 timestamp.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bols_zone_has_summer_time() {
        let at = |s: &str| {
            amsterdam(
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            )
            .to_rfc3339()
        };
        assert_eq!(at("2026-12-07T12:00:00Z"), "2026-12-07T13:00:00+01:00");
        assert_eq!(at("2026-07-01T12:00:00Z"), "2026-07-01T14:00:00+02:00");
        // 2026: summer time from 29 March to 25 October, 01:00 UTC.
        assert_eq!(at("2026-03-29T00:59:59Z"), "2026-03-29T01:59:59+01:00");
        assert_eq!(at("2026-03-29T01:00:00Z"), "2026-03-29T03:00:00+02:00");
        assert_eq!(at("2026-10-25T00:59:59Z"), "2026-10-25T02:59:59+02:00");
        assert_eq!(at("2026-10-25T01:00:00Z"), "2026-10-25T02:00:00+01:00");
    }

    #[test]
    fn eans_are_valid_and_identifiers_agree() {
        // A real EAN-13: 4006381333931.
        assert_eq!(gtin_check_digit("400638133393"), 1);
        let world = World::seed(&Config::default());
        for p in &world.products {
            assert_eq!(p.ean.len(), 13);
            assert_eq!(
                gtin_check_digit(&p.ean[..12]),
                p.ean[12..].parse::<u32>().unwrap()
            );
        }
        for (i, order) in world.bol_orders.iter().enumerate() {
            let sides: HashSet<bool> = order
                .items
                .iter()
                .map(|i| world.product_by_ean(&i.ean).unwrap().at_shopwedo)
                .collect();
            // Every sixth order needs both providers; the others one.
            let expected = if i % 6 == 5 { 2 } else { 1 };
            assert_eq!(sides.len(), expected, "order {i}: {:?}", order.items);
        }
        assert_eq!(world.bol_orders.len(), Config::default().orders);
    }

    #[test]
    fn the_special_offers_are_seeded_and_seeded_orders_keep_away_from_them() {
        for (products, fbb, bol_managed) in [(12, 1, 1), (1000, 20, 40)] {
            let config = Config {
                products,
                orders: 200,
                ..Config::default()
            };
            let world = World::seed(&config);
            let special = Special::of(products, config.seed);
            let nowhere = special.unstocked.unwrap();
            let both = special.both.unwrap();
            let p = &world.products;
            assert!(!p[nowhere].at_shopwedo && !p[nowhere].at_customer_api);
            assert!(p[both].at_shopwedo && p[both].at_customer_api);
            assert!(!world.shopwedo_stock.contains_key(&p[nowhere].shopwedo_sku));
            assert!(!world.customer_stock.contains_key(&p[nowhere].ean));
            assert_eq!(world.customer_stock[&p[both].ean], BOTH_CUSTOMER_UNITS);
            assert_eq!(world.offers.iter().filter(|o| o.fbb).count(), fbb);
            assert_eq!(
                world.offers.iter().filter(|o| !o.managed_by_retailer).count(),
                bol_managed
            );
            assert!(!world.offers[0].fbb && world.offers[0].managed_by_retailer);
            assert!(world.offers.iter().all(|o| (0..=999).contains(&o.amount)));
            for item in world.bol_orders.iter().flat_map(|o| o.items.iter()) {
                let i = world.ean_index[&item.ean];
                assert!(!special.keeps_orders_away(i), "{item:?}");
                assert_eq!(item.placed_seq, 0);
            }
            // The same seed, the same offers.
            let again = World::seed(&config);
            let amounts = |w: &World| {
                w.offers
                    .iter()
                    .map(|o| (o.amount, o.fbb, o.managed_by_retailer))
                    .collect::<Vec<_>>()
            };
            assert_eq!(amounts(&again), amounts(&world));
        }
        // Too few products for the special ones: none, and nothing breaks.
        for products in 1..4 {
            let world = World::seed(&Config {
                products,
                ..Config::default()
            });
            assert!(world.offers.iter().all(|o| !o.fbb && o.managed_by_retailer));
            assert_eq!(world.offers.len(), products);
        }
    }
}
