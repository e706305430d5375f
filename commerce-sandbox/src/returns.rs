//! Returns, from the buyer's return on bol through ShopWeDo's warehouse back to bol.
//!
//! A share of shipped bol FBR orders (`Config::returns`, decided per order from the seed)
//! gets a return `Config::return_after` after its last shipment confirmation: one item, or
//! two of a two-line order (`Config::returns_multi`). bol serves them at
//! `GET /retailer/returns` and `GET /retailer/returns/{return-id}` and takes their handling
//! at `PUT /retailer/returns/{rma-id}` (a `HANDLE_RETURN_ITEM` process; at `SUCCESS` the
//! item is `handled` with a processing result `ACCEPTED`). ShopWeDo takes retour
//! announcements (`createRetourAnnouncement`, shapes inferred: see the README) and
//! receives the goods a buyer sent back `Config::receive_after` after the announcement
//! (short by one or damaged for `Config::return_mismatch`), which `getOrder` tells in its
//! inferred `retours` block. The Customer API has no retour call: its goods are never
//! received here (a person's case).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::world::World;
use crate::{Config, ReturnsReport};

/// Handling results bol takes (`ReturnRequest.handlingResult`).
pub(crate) const HANDLING_RESULTS: [&str; 6] = [
    "RETURN_RECEIVED",
    "EXCHANGE_PRODUCT",
    "RETURN_DOES_NOT_MEET_CONDITIONS",
    "REPAIR_PRODUCT",
    "CUSTOMER_KEEPS_PRODUCT_PAID",
    "STILL_APPROVED",
];

/// Whether a handling result says the goods came back (so they must have).
pub(crate) fn claims_goods(result: &str) -> bool {
    matches!(
        result,
        "RETURN_RECEIVED" | "EXCHANGE_PRODUCT" | "RETURN_DOES_NOT_MEET_CONDITIONS" | "REPAIR_PRODUCT"
    )
}

/// Buyers' reasons (`mainReason`, `detailedReason`, `customerComments`), from the values
/// bol's description lists.
const REASONS: [(&str, &str, &str); 6] = [
    ("Verkeerde maat of afmeting", "Te groot", ""),
    (
        "Verkeerde maat of afmeting",
        "Te klein",
        "Past niet op mijn fiets",
    ),
    (
        "Klacht over artikel",
        "Artikel werkt niet",
        "Lampje doet het niet",
    ),
    ("Klacht over artikel", "Kwaliteit valt tegen", ""),
    ("Anders", "Ik heb me bedacht", ""),
    ("Elders goedkoper", "", ""),
];

/// How a returned item arrives other than expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// One unit fewer than the buyer was expected to send.
    Short,
    /// Every unit, damaged.
    Damaged,
}

/// A processing result bol keeps for a handled item.
#[derive(Debug, Clone)]
pub(crate) struct Processing {
    pub quantity: i64,
    pub handling_result: String,
    pub at: DateTime<Utc>,
}

/// An item of a bol return (one RMA id).
#[derive(Debug, Clone)]
pub(crate) struct ReturnItem {
    pub rma_id: String,
    pub order_item_id: String,
    pub ean: String,
    pub title: String,
    pub expected: i64,
    pub reason: (&'static str, &'static str, &'static str),
    pub mismatch: Option<Mismatch>,
    pub track_and_trace: String,
    pub transporter: &'static str,
    /// Handlings bol accepted (`PUT`s answered 202, or one by hand).
    pub handlings: u32,
    /// Goods a person received by hand (at a warehouse without a retour call).
    pub by_hand: Option<Received>,
    /// Its `HANDLE_RETURN_ITEM` process succeeded.
    pub handled: bool,
    pub results: Vec<Processing>,
}

/// A buyer's return on bol.
#[derive(Debug, Clone)]
pub(crate) struct BolReturn {
    pub return_id: String,
    pub registered: DateTime<Utc>,
    pub order_id: String,
    /// Index of the order in `World::bol_orders`.
    pub order: usize,
    pub items: Vec<ReturnItem>,
}

/// What ShopWeDo's warehouse received of a retour.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub amount: i64,
    pub condition: &'static str,
    pub at: DateTime<Utc>,
}

/// One item of a ShopWeDo retour announcement.
#[derive(Debug, Clone)]
pub(crate) struct Retour {
    pub retour_id: u64,
    /// ShopWeDo's order.
    pub order_id: u64,
    pub sku: u64,
    pub amount: i64,
    pub reason: String,
    pub created: DateTime<Utc>,
    pub made: Instant,
    /// The bol order and EAN it is for, when the ShopWeDo order names a bol order.
    pub bol: Option<(String, String)>,
    /// The RMA whose goods it announces (by the reason's `(bol RMA …)`, else the first
    /// return item of that bol order and EAN).
    pub rma: Option<String>,
    /// A parcel comes for it: it is the first announcement of a registered return item.
    pub goods: bool,
    pub received: Option<Received>,
}

/// The returns' state.
#[derive(Debug, Default)]
pub(crate) struct Returns {
    pub returns: Vec<BolReturn>,
    /// bol orders whose return was decided (returned or not).
    pub decided: HashSet<String>,
    pub retours: Vec<Retour>,
    pub next_retour: u64,
    pub next_return: u64,
    pub counters: ReturnsReport,
}

impl Returns {
    /// The report: the counters, and the items registered, handled and not.
    pub(crate) fn report(&self) -> ReturnsReport {
        let items = || self.returns.iter().flat_map(|r| r.items.iter());
        let registered = items().count() as u64;
        let handled = items().filter(|i| i.handled).count() as u64;
        ReturnsReport {
            registered,
            handled,
            unhandled: registered - handled,
            received: self.retours.iter().filter(|r| r.received.is_some()).count() as u64,
            ..self.counters.clone()
        }
    }

    /// The item with this RMA id: (return index, item index).
    pub(crate) fn find(&self, rma_id: &str) -> Option<(usize, usize)> {
        self.returns
            .iter()
            .enumerate()
            .find_map(|(r, ret)| ret.items.iter().position(|i| i.rma_id == rma_id).map(|i| (r, i)))
    }

    /// Units a warehouse received for an RMA, `None` when nothing arrived.
    pub(crate) fn received_for(&self, rma_id: &str) -> Option<i64> {
        self.arrivals(rma_id).map(|r| r.amount).reduce(|a, b| a + b)
    }

    /// What arrived for an RMA: through retours, and by hand.
    fn arrivals<'a>(&'a self, rma_id: &'a str) -> impl Iterator<Item = &'a Received> + 'a {
        let by_hand = self
            .find(rma_id)
            .and_then(|(r, i)| self.returns[r].items[i].by_hand.as_ref());
        self.retours
            .iter()
            .filter(move |r| r.rma.as_deref() == Some(rma_id))
            .filter_map(|r| r.received.as_ref())
            .chain(by_hand)
    }
}

/// A return item as `GET /__sandbox/returns` and [`Sandbox::returns`](crate::Sandbox::returns)
/// show it: what bol has, and what ShopWeDo was announced and received for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReturnLine {
    /// bol's return id (`returnId`).
    pub return_id: String,
    /// The item's RMA id (`rmaId`).
    pub rma_id: String,
    /// The bol order.
    pub order_id: String,
    /// The order item returned.
    pub order_item_id: String,
    /// Its EAN.
    pub ean: String,
    /// `expectedQuantity`.
    pub expected: i64,
    /// When the buyer registered it.
    pub registered_at: DateTime<Utc>,
    /// Units announced at ShopWeDo for it.
    pub announced: i64,
    /// Units the warehouse received for it, when anything arrived.
    pub received: Option<i64>,
    /// When they arrived.
    pub received_at: Option<DateTime<Utc>>,
    /// Their condition (`ok`, `damaged`).
    pub condition: Option<String>,
    /// It was set to arrive short by one or damaged.
    pub mismatch: bool,
    /// Handlings bol accepted for it (more than 1: handled twice).
    pub handlings: u32,
    /// bol has it handled (its process succeeded).
    pub handled: bool,
    /// The last handling result applied.
    pub handling_result: Option<String>,
    /// Its `quantityReturned`.
    pub quantity_returned: Option<i64>,
    /// When bol processed the first handling.
    pub handled_at: Option<DateTime<Utc>>,
}

/// A small stable hash of a text, to seed an order's own generator.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl World {
    /// Registers the returns due by `now` and receives the goods that arrived.
    pub(crate) fn advance_returns(&mut self, config: &Config, now: Instant) {
        if config.returns > 0.0 {
            self.register_returns(config, now);
        }
        let receive_after = config.receive_after;
        let mut arrived = Vec::new();
        for (k, retour) in self.returns.retours.iter().enumerate() {
            if retour.goods && retour.received.is_none() && now >= retour.made + receive_after {
                arrived.push(k);
            }
        }
        for k in arrived {
            let rma = self.returns.retours[k].rma.clone().unwrap_or_default();
            let Some((r, i)) = self.returns.find(&rma) else {
                continue;
            };
            let item = &self.returns.returns[r].items[i];
            let (amount, condition) = match item.mismatch {
                Some(Mismatch::Short) => (item.expected - 1, "ok"),
                Some(Mismatch::Damaged) => (item.expected, "damaged"),
                None => (item.expected, "ok"),
            };
            let retour = &mut self.returns.retours[k];
            retour.received = Some(Received {
                amount,
                condition,
                at: retour.created + chrono::Duration::from_std(receive_after).unwrap_or_default(),
            });
        }
    }

    /// Each shipped bol order not decided yet whose last shipment is `return_after` old:
    /// its buyer returns something, or not, by its own generator.
    fn register_returns(&mut self, config: &Config, now: Instant) {
        let mut due = Vec::new();
        for (k, o) in self.bol_orders.iter().enumerate() {
            if self.returns.decided.contains(&o.order_id)
                || o.items.iter().any(|i| i.open() > 0)
                || !o.items.iter().any(|i| i.shipped > 0)
            {
                continue;
            }
            let last = o.items.iter().filter_map(|i| i.shipped_at).max();
            if let Some(last) = last.filter(|last| now >= *last + config.return_after) {
                due.push((last + config.return_after, k));
            }
        }
        due.sort();
        for (at, k) in due {
            let order_id = self.bol_orders[k].order_id.clone();
            self.returns.decided.insert(order_id.clone());
            let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x5e70_5e70 ^ hash(&order_id));
            if rng.f64() >= config.returns {
                continue;
            }
            let shipped: Vec<usize> = (0..self.bol_orders[k].items.len())
                .filter(|&i| self.bol_orders[k].items[i].shipped > 0)
                .collect();
            let multi = rng.f64() < config.returns_multi && shipped.len() >= 2;
            let lines: Vec<usize> = if multi {
                shipped[..2].to_vec()
            } else {
                vec![shipped[rng.usize(0..shipped.len())]]
            };
            let mut items = Vec::new();
            for line in lines {
                let l = &self.bol_orders[k].items[line];
                let expected = rng.i64(1..=l.shipped);
                let mismatch = (rng.f64() < config.return_mismatch).then(|| {
                    if expected >= 2 && rng.bool() {
                        Mismatch::Short
                    } else {
                        Mismatch::Damaged
                    }
                });
                let postnl = rng.bool();
                self.returns.next_return += 1;
                items.push(ReturnItem {
                    rma_id: (86_123_450 + self.returns.next_return).to_string(),
                    order_item_id: l.order_item_id.clone(),
                    ean: l.ean.clone(),
                    title: l.title.clone(),
                    expected,
                    reason: REASONS[rng.usize(0..REASONS.len())],
                    mismatch,
                    track_and_trace: if postnl {
                        format!("3SRTRN{:09}", rng.u64(..1_000_000_000))
                    } else {
                        format!("JVGL{:010}", rng.u64(..10_000_000_000))
                    },
                    transporter: if postnl { "PostNL" } else { "DHL" },
                    handlings: 0,
                    by_hand: None,
                    handled: false,
                    results: Vec::new(),
                });
            }
            self.returns.returns.push(BolReturn {
                return_id: (15_892_000 + self.returns.returns.len() as u64).to_string(),
                registered: crate::clock_at(at),
                order_id,
                order: k,
                items,
            });
        }
    }

    /// Every return item, as [`ReturnLine`]s.
    pub(crate) fn return_lines(&self) -> Vec<ReturnLine> {
        let mut out = Vec::new();
        for r in &self.returns.returns {
            for i in &r.items {
                let retours: Vec<_> = self
                    .returns
                    .retours
                    .iter()
                    .filter(|t| t.rma.as_deref() == Some(i.rma_id.as_str()))
                    .collect();
                let arrived = self.returns.arrivals(&i.rma_id).next();
                out.push(ReturnLine {
                    return_id: r.return_id.clone(),
                    rma_id: i.rma_id.clone(),
                    order_id: r.order_id.clone(),
                    order_item_id: i.order_item_id.clone(),
                    ean: i.ean.clone(),
                    expected: i.expected,
                    registered_at: r.registered,
                    announced: retours.iter().map(|t| t.amount).sum(),
                    received: self.returns.received_for(&i.rma_id),
                    received_at: arrived.map(|a| a.at),
                    condition: arrived.map(|a| a.condition.to_owned()),
                    mismatch: i.mismatch.is_some(),
                    handlings: i.handlings,
                    handled: i.handled,
                    handling_result: i.results.last().map(|p| p.handling_result.clone()),
                    quantity_returned: i.results.last().map(|p| p.quantity),
                    handled_at: i.results.first().map(|p| p.at),
                });
            }
        }
        out
    }

    /// Records a retour announcement ShopWeDo accepted for its order `order_id` (whose
    /// external id is `external`): its id, and the duplicates it made, described.
    pub(crate) fn announce_retour(
        &mut self,
        order_id: u64,
        external: &str,
        items: Vec<(u64, i64, String)>,
        now: DateTime<Utc>,
    ) -> (u64, Vec<String>) {
        self.returns.next_retour += 1;
        let retour_id = 5500 + self.returns.next_retour;
        let bol_order = external
            .split(|c: char| !c.is_ascii_digit())
            .find(|d| !d.is_empty() && self.bol_orders.iter().any(|o| o.order_id == *d))
            .map(str::to_owned);
        let mut duplicates = Vec::new();
        for (sku, amount, reason) in items {
            self.returns.counters.announced += 1;
            let ean = self
                .products
                .iter()
                .find(|p| p.shopwedo_sku == sku)
                .map(|p| p.ean.clone());
            let bol = bol_order.clone().zip(ean);
            let registered: Vec<(String, i64)> = bol
                .as_ref()
                .map(|(order, ean)| {
                    self.returns
                        .returns
                        .iter()
                        .filter(|r| &r.order_id == order)
                        .flat_map(|r| r.items.iter())
                        .filter(|i| &i.ean == ean)
                        .map(|i| (i.rma_id.clone(), i.expected))
                        .collect()
                })
                .unwrap_or_default();
            let has_goods = |rma: &str| {
                self.returns
                    .retours
                    .iter()
                    .any(|r| r.goods && r.rma.as_deref() == Some(rma))
            };
            let rma = rma_in(&reason)
                .filter(|named| registered.iter().any(|(r, _)| r == named))
                .or_else(|| {
                    registered
                        .iter()
                        .find(|(r, _)| !has_goods(r))
                        .or(registered.first())
                        .map(|(r, _)| r.clone())
                });
            let before: i64 = self
                .returns
                .retours
                .iter()
                .filter(|r| r.bol.is_some() && r.bol == bol)
                .map(|r| r.amount)
                .sum();
            let expected: i64 = registered.iter().map(|(_, e)| e).sum();
            if registered.is_empty() {
                self.returns.counters.announced_without_return += 1;
            } else if before + amount > expected {
                self.returns.counters.duplicate_announcements += 1;
                duplicates.push(format!(
                    "retour {retour_id}: {amount} of sku {sku} announced for bol order {:?}, {before} announced before, {expected} registered",
                    bol.as_ref().map(|(o, _)| o)
                ));
            }
            let goods = rma.as_deref().is_some_and(|r| !has_goods(r));
            self.returns.retours.push(Retour {
                retour_id,
                order_id,
                sku,
                amount,
                reason,
                created: now,
                made: Instant::now(),
                bol,
                rma,
                goods,
                received: None,
            });
        }
        (retour_id, duplicates)
    }

    /// A buyer registers a return of `quantity` units of a shipped order line now (the
    /// order gets no other return from `Config::returns`).
    pub(crate) fn register_return_now(
        &mut self,
        order_id: &str,
        line_id: &str,
        quantity: i64,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let k = self.bol_orders.iter().position(|o| o.order_id == order_id)?;
        let line = self.bol_orders[k]
            .items
            .iter()
            .find(|i| i.order_item_id == line_id)?
            .clone();
        let registered: i64 = self
            .returns
            .returns
            .iter()
            .flat_map(|r| r.items.iter())
            .filter(|i| i.order_item_id == line_id)
            .map(|i| i.expected)
            .sum();
        if !(1..=line.shipped - registered).contains(&quantity) {
            return None;
        }
        self.returns.decided.insert(order_id.to_owned());
        self.returns.next_return += 1;
        let rma_id = (86_123_450 + self.returns.next_return).to_string();
        let return_id = (15_892_000 + self.returns.returns.len() as u64).to_string();
        self.returns.returns.push(BolReturn {
            return_id,
            registered: now,
            order_id: order_id.to_owned(),
            order: k,
            items: vec![ReturnItem {
                rma_id: rma_id.clone(),
                order_item_id: line.order_item_id,
                ean: line.ean,
                title: line.title,
                expected: quantity,
                reason: REASONS[0],
                mismatch: None,
                track_and_trace: format!("3SRTRN{:09}", self.returns.next_return),
                transporter: "PostNL",
                handlings: 0,
                by_hand: None,
                handled: false,
                results: Vec::new(),
            }],
        });
        Some(rma_id)
    }

    /// A person received the goods of an RMA by hand.
    pub(crate) fn receive_by_hand(
        &mut self,
        rma_id: &str,
        units: i64,
        condition: &'static str,
        now: DateTime<Utc>,
    ) -> bool {
        let Some((r, i)) = self.returns.find(rma_id) else {
            return false;
        };
        self.returns.returns[r].items[i].by_hand = Some(Received {
            amount: units,
            condition,
            at: now,
        });
        true
    }

    /// The seller handles an RMA in bol's own pages (not through the API): applied at once,
    /// with the units expected; a handling through the API after it is a second one.
    pub(crate) fn handle_by_hand(&mut self, rma_id: &str, handling_result: &str, now: DateTime<Utc>) -> bool {
        let Some((r, i)) = self
            .returns
            .find(rma_id)
            .filter(|_| HANDLING_RESULTS.contains(&handling_result))
        else {
            return false;
        };
        let item = &mut self.returns.returns[r].items[i];
        item.handlings += 1;
        let quantity = item.expected;
        self.apply_handling(rma_id, handling_result, quantity, now);
        true
    }

    /// Applies a handling bol has processed.
    pub(crate) fn apply_handling(
        &mut self,
        rma_id: &str,
        handling_result: &str,
        quantity: i64,
        at: DateTime<Utc>,
    ) {
        let Some((r, i)) = self.returns.find(rma_id) else {
            return;
        };
        let item = &mut self.returns.returns[r].items[i];
        item.handled = true;
        item.results.push(Processing {
            quantity,
            handling_result: handling_result.to_owned(),
            at,
        });
    }
}

/// bol's `ReturnProcessingResult`s of an item.
fn processing_json(i: &ReturnItem) -> Vec<Value> {
    i.results
        .iter()
        .map(|p| {
            json!({"quantity": p.quantity, "processingResult": "ACCEPTED", "handlingResult": p.handling_result,
                   "processingDateTime": p.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)})
        })
        .collect()
}

fn reason_json(i: &ReturnItem) -> Value {
    let (main, detailed, comments) = i.reason;
    let mut reason = json!({"mainReason": main, "customerComments": comments});
    if !detailed.is_empty() {
        reason["detailedReason"] = json!(detailed);
    }
    reason
}

/// A return as bol's list gives it (`ReducedReturn`).
pub(crate) fn reduced_json(r: &BolReturn) -> Value {
    json!({"returnId": r.return_id, "registrationDateTime": registration(r), "fulfilmentMethod": "FBR",
        "returnItems": r.items.iter().map(|i| json!({"rmaId": i.rma_id, "orderId": r.order_id, "ean": i.ean,
            "expectedQuantity": i.expected, "returnReason": reason_json(i), "handled": i.handled,
            "processingResults": processing_json(i)})).collect::<Vec<_>>()})
}

/// `registrationDateTime` in bol's form (`2016-11-14T11:06:48.423+01:00`).
fn registration(r: &BolReturn) -> String {
    crate::world::amsterdam(r.registered).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// A return as bol gives it by id (`Return`): its items with title, the buyer's details
/// (a scrambled e-mail address), track and trace and transporter.
pub(crate) fn return_json(w: &World, r: &BolReturn) -> Value {
    let o = &w.bol_orders[r.order];
    let mut customer = json!({"salutation": "UNKNOWN", "firstName": o.first_name, "surname": o.surname,
        "streetName": o.street, "houseNumber": o.house_number, "zipCode": o.zip, "city": o.city,
        "countryCode": o.country,
        "email": format!("{}{:x}@verkopen.bol.com", o.first_name.to_ascii_lowercase(), hash(&r.return_id) & 0xffff_ffff)});
    if let Some(extension) = &o.house_number_extension {
        customer["houseNumberExtension"] = json!(extension);
    }
    json!({"returnId": r.return_id, "registrationDateTime": registration(r), "fulfilmentMethod": "FBR",
        "returnItems": r.items.iter().map(|i| json!({"rmaId": i.rma_id, "orderId": r.order_id, "ean": i.ean,
            "title": i.title, "expectedQuantity": i.expected, "returnReason": reason_json(i),
            "trackAndTrace": i.track_and_trace, "transporterName": i.transporter, "handled": i.handled,
            "processingResults": processing_json(i), "customerDetails": customer})).collect::<Vec<_>>()})
}

/// The RMA id named in an announcement's reason (`… (bol RMA 86123452)`).
pub(crate) fn rma_in(reason: &str) -> Option<String> {
    let at = reason.rfind("(bol RMA ")?;
    let digits: String = reason[at + 9..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rma_is_read_from_the_reason() {
        assert_eq!(rma_in("Te groot (bol RMA 86123452)").as_deref(), Some("86123452"));
        assert_eq!(rma_in("(bol RMA 1) (bol RMA 22)").as_deref(), Some("22"));
        assert_eq!(rma_in("Te groot"), None);
        assert_eq!(rma_in("(bol RMA )"), None);
    }

    /// Every order shipped at `at`, then the clock at `now`: the returns registered.
    fn returned(config: &Config, at: Instant, now: Instant) -> Vec<(String, String, i64, bool)> {
        let mut w = World::seed(config);
        for o in &mut w.bol_orders {
            for i in &mut o.items {
                i.shipped = i.quantity;
                i.shipped_at = Some(at);
            }
        }
        w.advance_returns(config, now);
        w.returns
            .returns
            .iter()
            .flat_map(|r| {
                r.items.iter().map(|i| {
                    (
                        r.order_id.clone(),
                        i.rma_id.clone(),
                        i.expected,
                        i.mismatch.is_some(),
                    )
                })
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn returns_come_after_the_delay_for_the_share_asked_the_same_for_a_seed() {
        let config = Config {
            orders: 400,
            returns: 0.25,
            return_mismatch: 0.5,
            returns_multi: 1.0,
            ..Config::default()
        };
        let at = Instant::now();
        assert!(returned(&config, at, at + config.return_after - Duration::from_secs(1)).is_empty());
        let now = at + config.return_after;
        let first = returned(&config, at, now);
        assert_eq!(first, returned(&config, at, now), "seeded");
        let orders: HashSet<&str> = first.iter().map(|(o, ..)| o.as_str()).collect();
        assert!(
            (70..=130).contains(&orders.len()),
            "{} of 400 orders",
            orders.len()
        );
        assert!(first.len() > orders.len(), "two-line orders return two items");
        let mismatched = first.iter().filter(|r| r.3).count();
        assert!(
            mismatched * 4 > first.len() && mismatched * 4 < first.len() * 3,
            "{mismatched}"
        );
        let other = returned(
            &Config {
                seed: 8,
                ..config.clone()
            },
            at,
            now,
        );
        assert_ne!(first, other, "another seed, other returns");
        assert!(
            returned(
                &Config {
                    returns: 0.0,
                    ..config
                },
                at,
                now
            )
            .is_empty()
        );
    }

    #[test]
    fn handling_results_that_claim_the_goods() {
        let claiming: Vec<_> = HANDLING_RESULTS.iter().filter(|r| claims_goods(r)).collect();
        assert_eq!(claiming.len(), 4);
        assert!(!claims_goods("CUSTOMER_KEEPS_PRODUCT_PAID"));
        assert!(!claims_goods("STILL_APPROVED"));
    }
}
