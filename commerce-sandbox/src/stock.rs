//! bol's offers and the warehouses' stock: corrected stock as bol defines it, stock that
//! leaves a warehouse when an order ships, the truly free units, orders bol takes while an
//! offer's corrected stock lasts, and the timed events (order arrivals, stock drift).

use std::collections::{HashMap, HashSet};
use tokio::time::Instant;

use crate::world::{BolItem, BolOffer, BolOrder, World};
use crate::{Config, OfferReport, SaleRefused, WarehouseStock};

/// The provider names the sandbox's warehouses answer to.
pub(crate) const SHOPWEDO: &str = "shopwedo";
pub(crate) const CUSTOMER: &str = "customer";

/// Whether ShopWeDo's `release` value is true-ish (`true`, a non-zero number, `"1"`,
/// `"true"`, `"yes"`).
pub(crate) fn true_ish(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        serde_json::Value::String(s) => {
            matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        }
        _ => false,
    }
}

/// Per EAN, what bol's order lines hold.
#[derive(Debug, Default, Clone, Copy)]
struct Lines {
    /// Units of FBR lines neither shipped nor cancelled.
    open: i64,
    /// Of those, units of lines not handed over to any warehouse.
    waiting: i64,
}

impl World {
    /// Takes the units of orders that shipped since the last look off the shelves.
    pub(crate) fn settle_shipments(&mut self, config: &Config) {
        for o in self.shopwedo_orders.values_mut() {
            if !o.cancelled && !o.shipped_settled && config.ships(o.reads, o.made) {
                o.shipped_settled = true;
                for (sku, units) in &o.items {
                    *self.shopwedo_stock.entry(*sku).or_default() -= units;
                }
            }
        }
        for o in self.customer_orders.values_mut() {
            if !o.shipped_settled && config.ships(o.reads, o.made) {
                o.shipped_settled = true;
                for (code, units) in &o.items {
                    *self.customer_stock.entry(code.clone()).or_default() -= units;
                }
            }
        }
    }

    /// Units of ShopWeDo orders not shipped and not cancelled, by stock item: all of them
    /// (`released_only` false) or those released.
    fn shopwedo_unshipped(&self, released_only: bool) -> HashMap<u64, i64> {
        let mut out = HashMap::new();
        for o in self.shopwedo_orders.values() {
            if o.cancelled || o.shipped_settled || (released_only && !o.released) {
                continue;
            }
            for (sku, units) in &o.items {
                *out.entry(*sku).or_default() += units;
            }
        }
        out
    }

    /// Units of Customer API orders not shipped, by product code.
    pub(crate) fn customer_unshipped(&self) -> HashMap<String, i64> {
        let mut out = HashMap::new();
        for o in self.customer_orders.values().filter(|o| !o.shipped_settled) {
            for (code, units) in &o.items {
                *out.entry(code.clone()).or_default() += units;
            }
        }
        out
    }

    /// ShopWeDo's `atp` of a stock item: `level` less the out-of-stock warning level and,
    /// when it reserves (as documented), the units of released orders not yet shipped.
    pub(crate) fn shopwedo_atp(
        &self,
        config: &Config,
        sku: u64,
        level: i64,
        reserved: &HashMap<u64, i64>,
    ) -> i64 {
        let reserved = if config.shopwedo_reserves {
            reserved.get(&sku).copied().unwrap_or(0)
        } else {
            0
        };
        level - config.shopwedo_warning_level - reserved
    }

    /// ShopWeDo's reserved units by stock item, for [`shopwedo_atp`](Self::shopwedo_atp).
    pub(crate) fn shopwedo_reserved(&self) -> HashMap<u64, i64> {
        self.shopwedo_unshipped(true)
    }

    /// The Customer API's availability of a product: the units on the shelf, less those of
    /// orders not shipped when it reserves.
    pub(crate) fn customer_available(
        &self,
        config: &Config,
        code: &str,
        unshipped: &HashMap<String, i64>,
    ) -> Option<i64> {
        let level = *self.customer_stock.get(code)?;
        let reserved = if config.customer_reserves {
            unshipped.get(code).copied().unwrap_or(0)
        } else {
            0
        };
        Some(level - reserved)
    }

    /// Each warehouse's stock of every product it lists, by EAN.
    fn warehouses(&self, config: &Config) -> HashMap<String, Vec<WarehouseStock>> {
        let released = self.shopwedo_unshipped(true);
        let unshipped_swd = self.shopwedo_unshipped(false);
        let unshipped_ca = self.customer_unshipped();
        let mut out: HashMap<String, Vec<WarehouseStock>> = HashMap::new();
        for p in &self.products {
            if let Some(&level) = self.shopwedo_stock.get(&p.shopwedo_sku) {
                out.entry(p.ean.clone()).or_default().push(WarehouseStock {
                    provider: SHOPWEDO.to_owned(),
                    level,
                    available: self.shopwedo_atp(config, p.shopwedo_sku, level, &released),
                    warning_level: config.shopwedo_warning_level,
                    unshipped: unshipped_swd.get(&p.shopwedo_sku).copied().unwrap_or(0),
                });
            }
            if let Some(available) = self.customer_available(config, &p.ean, &unshipped_ca) {
                out.entry(p.ean.clone()).or_default().push(WarehouseStock {
                    provider: CUSTOMER.to_owned(),
                    level: self.customer_stock.get(&p.ean).copied().unwrap_or(0),
                    available,
                    warning_level: 0,
                    unshipped: unshipped_ca.get(&p.ean).copied().unwrap_or(0),
                });
            }
        }
        out
    }

    /// One warehouse's stock of one EAN, `None` when it does not list it.
    pub(crate) fn warehouse_stock(
        &self,
        config: &Config,
        provider: &str,
        ean: &str,
    ) -> Option<WarehouseStock> {
        let provider = canonical(provider)?;
        self.warehouses(config)
            .remove(ean)?
            .into_iter()
            .find(|w| w.provider == provider)
    }

    /// Sets the units on a warehouse's shelf (it lists the product from then on).
    pub(crate) fn set_level(&mut self, provider: &str, ean: &str, units: i64) -> bool {
        let Some(p) = self.product_by_ean(ean) else {
            return false;
        };
        let sku = p.shopwedo_sku;
        match canonical(provider) {
            Some(SHOPWEDO) => {
                self.shopwedo_stock.insert(sku, units);
                true
            }
            Some(CUSTOMER) => {
                self.customer_stock.insert(ean.to_owned(), units);
                true
            }
            _ => false,
        }
    }

    /// The pairs (bol order id, EAN) some warehouse has an order for, not cancelled there:
    /// a warehouse order is a bol order's when its external id (ShopWeDo) or reference
    /// (Customer API) names the bol order's id.
    fn handed_over(&self) -> HashSet<(String, String)> {
        let known: HashSet<&str> = self.bol_orders.iter().map(|o| o.order_id.as_str()).collect();
        let ids_in = |text: &str| -> Vec<String> {
            text.split(|c: char| !c.is_ascii_digit())
                .filter(|d| known.contains(d))
                .map(str::to_owned)
                .collect()
        };
        let ean_of: HashMap<u64, &str> = self
            .products
            .iter()
            .map(|p| (p.shopwedo_sku, p.ean.as_str()))
            .collect();
        let mut out = HashSet::new();
        for o in self.shopwedo_orders.values().filter(|o| !o.cancelled) {
            for id in ids_in(&o.external_order_id) {
                for (sku, _) in &o.items {
                    if let Some(ean) = ean_of.get(sku) {
                        out.insert((id.clone(), (*ean).to_owned()));
                    }
                }
            }
        }
        for o in self.customer_orders.values() {
            for id in ids_in(&o.reference) {
                for (code, _) in &o.items {
                    out.insert((id.clone(), code.clone()));
                }
            }
        }
        out
    }

    /// bol's order lines by EAN: open units, and those not handed over.
    fn lines(&self) -> HashMap<String, Lines> {
        let handed = self.handed_over();
        let mut out: HashMap<String, Lines> = HashMap::new();
        for o in &self.bol_orders {
            for i in &o.items {
                let open = i.open().max(0);
                let e = out.entry(i.ean.clone()).or_default();
                e.open += open;
                if !handed.contains(&(o.order_id.clone(), i.ean.clone())) {
                    e.waiting += open;
                }
            }
        }
        out
    }

    /// Units bol subtracts from an offer's amount, per offer index: with
    /// `managedByRetailer` true, the units of order items placed after the last applied
    /// update (handled ones too: shipped, and cancelled unless `cancelled_gives_back`);
    /// with false, the units of all open items.
    fn subtracted(&self, config: &Config) -> Vec<i64> {
        let mut out = vec![0; self.offers.len()];
        for i in self.bol_orders.iter().flat_map(|o| o.items.iter()) {
            let Some(&k) = self.ean_index.get(&i.ean) else {
                continue;
            };
            let offer = &self.offers[k];
            out[k] += if offer.managed_by_retailer {
                subtracted_since(i, offer.updated_seq, config)
            } else {
                i.open().max(0)
            };
        }
        out
    }

    /// An offer's corrected stock: its amount less what bol subtracts, never below 0.
    fn corrected_of(offer: &BolOffer, subtracted: i64) -> i64 {
        if offer.fbb {
            return offer.amount;
        }
        (offer.amount - subtracted).max(0)
    }

    /// Every offer's corrected stock, in catalogue order.
    pub(crate) fn corrected(&self, config: &Config) -> Vec<i64> {
        self.subtracted(config)
            .into_iter()
            .zip(&self.offers)
            .map(|(sub, o)| Self::corrected_of(o, sub))
            .collect()
    }

    /// The truly free units of an EAN: over the warehouses that list it, the units on the
    /// shelf less the warning level less those handed over there and not shipped; less the
    /// units of open bol lines handed over to no warehouse. Negative: oversold.
    fn free_of(warehouses: Option<&Vec<WarehouseStock>>, lines: Lines) -> i64 {
        warehouses
            .into_iter()
            .flatten()
            .map(|w| w.level - w.warning_level - w.unshipped)
            .sum::<i64>()
            - lines.waiting
    }

    /// Every offer as the report shows it.
    pub(crate) fn offer_reports(&self, config: &Config) -> Vec<OfferReport> {
        let warehouses = self.warehouses(config);
        let lines = self.lines();
        let corrected = self.corrected(config);
        self.offers
            .iter()
            .zip(corrected)
            .map(|(o, corrected)| {
                let l = lines.get(&o.ean).copied().unwrap_or_default();
                let stock = warehouses.get(&o.ean);
                OfferReport {
                    offer_id: o.offer_id.clone(),
                    ean: o.ean.clone(),
                    managed_by_retailer: o.managed_by_retailer,
                    fbb: o.fbb,
                    amount: o.amount,
                    corrected,
                    open: l.open,
                    waiting: l.waiting,
                    free: Self::free_of(stock, l),
                    warehouses: stock.cloned().unwrap_or_default(),
                }
            })
            .collect()
    }

    /// bol takes an order of `quantity` units of `ean` from a buyer, if the offer's
    /// corrected stock covers it: a one-line FBR order like the seeded ones.
    pub(crate) fn place_order(
        &mut self,
        config: &Config,
        ean: &str,
        quantity: i64,
    ) -> Result<String, SaleRefused> {
        if quantity < 1 {
            return Err(SaleRefused::Quantity(quantity));
        }
        let Some(&k) = self.ean_index.get(ean) else {
            return Err(SaleRefused::NoOffer(ean.to_owned()));
        };
        if self.offers[k].fbb {
            return Err(SaleRefused::Fbb(ean.to_owned()));
        }
        let corrected = self.corrected(config)[k];
        if corrected < quantity {
            self.stock_counters.refused_sales += 1;
            return Err(SaleRefused::NotEnough {
                ean: ean.to_owned(),
                corrected,
                quantity,
            });
        }
        let free = {
            let warehouses = self.warehouses(config);
            let lines = self.lines().get(ean).copied().unwrap_or_default();
            Self::free_of(warehouses.get(ean), lines)
        };
        self.stock_counters.oversold += (quantity - free.max(0)).max(0) as u64;
        self.stock_counters.sales += 1;
        self.seq += 1;
        let i = self.next_order;
        self.next_order += 1;
        self.next_item += 1;
        let p = self.products[k].clone();
        let (city, zip, country) = crate::world::CITIES[i % crate::world::CITIES.len()];
        let first = crate::world::FIRST[i % crate::world::FIRST.len()];
        let order_id = (1_043_946_570u64 + i as u64 * 7).to_string();
        self.bol_orders.push(BolOrder {
            order_id: order_id.clone(),
            placed: crate::world::now_rfc3339(),
            first_name: first.to_owned(),
            surname: crate::world::LAST[(i / 3) % crate::world::LAST.len()].to_owned(),
            street: "Grote Markt".to_owned(),
            house_number: (1 + i % 90).to_string(),
            house_number_extension: None,
            zip: zip.to_owned(),
            city: city.to_owned(),
            country: country.to_owned(),
            email: format!(
                "{}{:x}@verkopen.bol.com",
                first.to_ascii_lowercase(),
                0x2b9c_0000u64 + i as u64 * 7919
            ),
            phone: None,
            items: vec![BolItem {
                order_item_id: self.next_item.to_string(),
                ean: p.ean.clone(),
                shop_sku: p.shop_sku.clone(),
                title: p.title.clone(),
                quantity,
                shipped: 0,
                cancelled: 0,
                cancellation_request: false,
                unit_price: p.price_cents as f64 / 100.0,
                placed_seq: self.seq,
                shipped_at: None,
                changed: crate::clock_at(Instant::now()),
            }],
            cancel_plan: None,
            pickup: None,
            reads: 0,
        });
        self.push.raise("ORDER", "ORDER_CREATED", Some(order_id.clone()));
        Ok(order_id)
    }

    /// Applies a stock update bol has processed; counts it, and counts it a no-op when it
    /// changes nothing bol sells by (same amount and mode, and with `managedByRetailer`
    /// true no order item placed since the update before).
    pub(crate) fn apply_stock_update(&mut self, offer_id: &str, amount: i64, managed_by_retailer: bool) {
        let Some(&k) = self.offer_index.get(offer_id) else {
            return;
        };
        let offer = &self.offers[k];
        let ordered_since = self
            .bol_orders
            .iter()
            .flat_map(|o| o.items.iter())
            .any(|i| i.ean == offer.ean && i.placed_seq > offer.updated_seq);
        let noop = offer.amount == amount
            && offer.managed_by_retailer == managed_by_retailer
            && !(managed_by_retailer && ordered_since);
        self.stock_counters.stock_updates += 1;
        if noop {
            self.stock_counters.noop_updates += 1;
        }
        self.seq += 1;
        let seq = self.seq;
        let offer = &mut self.offers[k];
        offer.amount = amount;
        offer.managed_by_retailer = managed_by_retailer;
        offer.updated_seq = seq;
        offer.updated_at = format!("{}.0", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"));
    }

    /// Runs the timed events due by `now`, oldest first: a bol order arriving every
    /// `order_arrivals`, a drift of the warehouses' stock every `stock_drift`.
    pub(crate) fn advance(&mut self, config: &Config, now: Instant) {
        self.settle_shipments(config);
        self.advance_returns(config, now);
        let started = self.started;
        let due = move |every: Option<std::time::Duration>, done: u64| {
            every
                .filter(|e| !e.is_zero())
                .map(|e| started + e * u32::try_from(done + 1).unwrap_or(u32::MAX))
                .filter(|at| *at <= now)
        };
        // At most this many events a look, so a tiny interval cannot stall a request.
        for _ in 0..10_000 {
            let arrival = due(config.order_arrivals, self.arrivals_done);
            let drift = due(config.stock_drift, self.drifts_done);
            match (arrival, drift) {
                (Some(a), Some(d)) if d < a => self.drift(),
                (Some(_), _) => self.arrive(config),
                (None, Some(_)) => self.drift(),
                (None, None) => break,
            }
        }
    }

    /// A buyer orders 1 (or, one time in four, 2) units of a random FBR offer; bol takes
    /// it only while the offer's corrected stock covers it.
    fn arrive(&mut self, config: &Config) {
        self.arrivals_done += 1;
        let candidates: Vec<usize> = (0..self.offers.len()).filter(|&k| !self.offers[k].fbb).collect();
        if candidates.is_empty() {
            return;
        }
        let k = candidates[self.arrivals_rng.usize(0..candidates.len())];
        let quantity = if self.arrivals_rng.u8(0..4) == 0 { 2 } else { 1 };
        let ean = self.offers[k].ean.clone();
        let _ = self.place_order(config, &ean, quantity);
    }

    /// A few products (one in 20, at least one) gain or lose a few units at a warehouse
    /// that lists them, never below 0: the warehouse sells elsewhere or receives goods.
    fn drift(&mut self) {
        self.drifts_done += 1;
        let n = self.products.len();
        for _ in 0..(n / 20).max(1) {
            let p = self.products[self.drift_rng.usize(0..n)].clone();
            let delta = self.drift_rng.i64(-4..=6);
            let at_shopwedo = self.shopwedo_stock.contains_key(&p.shopwedo_sku)
                && (p.at_shopwedo || !self.customer_stock.contains_key(&p.ean));
            if at_shopwedo {
                let level = self.shopwedo_stock.entry(p.shopwedo_sku).or_default();
                *level = (*level + delta).max(0);
            } else if let Some(level) = self.customer_stock.get_mut(&p.ean) {
                *level = (*level + delta).max(0);
            }
        }
    }
}

/// Units of an item bol subtracts from an offer updated at `updated_seq`
/// (`managedByRetailer` true): the item's quantity when placed after that update (less
/// the cancelled units when `cancelled_gives_back`), else none.
fn subtracted_since(i: &BolItem, updated_seq: u64, config: &Config) -> i64 {
    if i.placed_seq <= updated_seq {
        return 0;
    }
    if config.cancelled_gives_back {
        i.quantity - i.cancelled
    } else {
        i.quantity
    }
}

/// The sandbox's name of a warehouse (`customer-api`, as the facade calls it, is the
/// Customer API).
fn canonical(provider: &str) -> Option<&'static str> {
    match provider {
        "shopwedo" => Some(SHOPWEDO),
        "customer" | "customer-api" => Some(CUSTOMER),
        _ => None,
    }
}
