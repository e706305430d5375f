//! The stock arithmetic: what amount to give a sales channel for one offer so that it never
//! sells what the warehouses do not have and never hides what they do. Pure: no clock, no
//! I/O. ARCHITECTURE.md shows [`markdown`]'s table of cases; a test keeps the two the same.
//!
//! Per EAN, over the warehouses the routing may use for it (its configured route alone,
//! else every one):
//!
//! - `free_p` what warehouse `p` can still sell: its count, less what the count does not
//!   take off yet: on the shelf ([`StockBasis::OnShelf`]) the units handed over to it and
//!   not shipped (`H_p`); reserving ([`StockBasis::Reserving`], ShopWeDo's ATP) only the
//!   units handed over after the count was made (`L_p`, every one whose time is unknown);
//!   in stock only
//!   ([`StockBasis::InStockOnly`]) the units one "in stock" stands for, less `H_p`. Never
//!   below 0: a warehouse that was given more than it holds does not take units from
//!   another (a line is never split across warehouses).
//! - `J` the units of the channel's open lines not handed over to any warehouse yet (an
//!   outcome unknown counts as not handed over: at worst a unit is hidden for one pass).
//! - `B` the safety buffer (per EAN, else the global one).
//! - `F = Σ free_p − J − B`, the units the channel may sell from now on.
//!
//! The channel's two counts (bol's definitions, `UpdateOfferStockRequest`):
//!
//! - the shop keeps it (`managedByRetailer: true`): the channel takes off only orders
//!   placed after the update, so the amount is `clamp(F)` and it is compared with what the
//!   channel still sells now (`correctedStock`);
//! - the channel keeps it (`false`, only when configured): the channel takes off every open
//!   order (`J` and every line handed over and not confirmed shipped), so the amount is
//!   `clamp(F + J + H)` and it is compared with the channel's amount. Units shipped and not
//!   yet confirmed are not added back: the channel stops counting them at the confirmation,
//!   and an amount sent before it would sell them twice.
//!
//! `clamp(x) = min(cap, max(0, x))`, `cap` the channel's most (bol: 999).

use commerce_core::StockBasis;

/// One warehouse's count of an EAN, with what the journal knows of the orders it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// The warehouse (its provider name).
    pub provider: String,
    /// Its count (summed over its items of the EAN); `None`: it does not list the EAN.
    pub available: Option<i64>,
    /// What the count takes off already.
    pub basis: StockBasis,
    /// Units handed over to it (journal) on lines the channel still has open, not shipped.
    pub handed_over: u32,
    /// Of those, the units handed over after the count was made (or at a time the journal
    /// does not know): a reserving count has not taken them off yet.
    pub late: u32,
}

/// What a warehouse that did not answer means for the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// It answered.
    No,
    /// It did not: the amount cannot be worked out, the offer is left as it is.
    Yes,
}

/// Everything the amount of one offer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The warehouses the routing may use for the EAN, each with its count.
    pub counts: Vec<Count>,
    /// Warehouses that may hold the EAN and did not answer.
    pub down: Vec<String>,
    /// `J`: units of open lines not handed over yet.
    pub waiting: u32,
    /// Units handed over to warehouses not among `counts` (the EAN's route changed): they
    /// come off the channel's amount when it keeps the count.
    pub handed_over_elsewhere: u32,
    /// `B`.
    pub buffer: u32,
    /// The units one "in stock" stands for ([`StockBasis::InStockOnly`]).
    pub in_stock_units: u32,
    /// The channel's most.
    pub cap: u32,
    /// Who keeps the count: the shop (`true`) or the channel.
    pub shop_keeps_count: bool,
}

/// What the arithmetic says of one offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Give the channel this amount, compared with the channel's `compare_with` count.
    Amount {
        /// The amount to give.
        amount: u32,
        /// `F` before the clamp (negative: the warehouses were given more than they hold).
        free: i64,
    },
    /// No warehouse the routing may use lists the EAN.
    Unstocked,
    /// A warehouse that may hold it did not answer: leave the offer as it is.
    Unknown(Vec<String>),
}

impl Count {
    /// `free_p`.
    pub fn free(&self, in_stock_units: u32) -> i64 {
        let Some(available) = self.available else {
            return 0;
        };
        let h = i64::from(self.handed_over);
        let free = match self.basis {
            StockBasis::Reserving => available - i64::from(self.late.min(self.handed_over)),
            StockBasis::InStockOnly if available > 0 => i64::from(in_stock_units) - h,
            StockBasis::InStockOnly => 0,
            _ => available - h,
        };
        free.max(0)
    }
}

/// The amount of one offer.
pub fn amount(i: &Inputs) -> Verdict {
    if !i.down.is_empty() {
        return Verdict::Unknown(i.down.clone());
    }
    if i.counts.iter().all(|c| c.available.is_none()) {
        return Verdict::Unstocked;
    }
    let stock: i64 = i.counts.iter().map(|c| c.free(i.in_stock_units)).sum();
    let free = stock - i64::from(i.waiting) - i64::from(i.buffer);
    let given = if i.shop_keeps_count {
        free
    } else {
        let handed: i64 = i.counts.iter().map(|c| i64::from(c.handed_over)).sum();
        free + i64::from(i.waiting) + handed + i64::from(i.handed_over_elsewhere)
    };
    Verdict::Amount {
        amount: u32::try_from(given.clamp(0, i64::from(i.cap))).unwrap_or(0),
        free,
    }
}

/// One case of the table: a name, its inputs and the amount the arithmetic gives.
pub struct Case {
    /// What it shows.
    pub name: &'static str,
    /// The inputs.
    pub inputs: Inputs,
    /// Why, in a few words (for the table).
    pub why: &'static str,
}

fn count(provider: &str, available: i64, basis: StockBasis, handed_over: u32) -> Count {
    Count {
        provider: provider.into(),
        available: Some(available),
        basis,
        handed_over,
        late: 0,
    }
}

fn base(counts: Vec<Count>) -> Inputs {
    Inputs {
        counts,
        down: Vec::new(),
        waiting: 0,
        handed_over_elsewhere: 0,
        buffer: 0,
        in_stock_units: 1,
        cap: 999,
        shop_keeps_count: true,
    }
}

/// The cases ARCHITECTURE.md shows, one warehouse reserving (`R`) or on the shelf (`S`).
pub fn cases() -> Vec<Case> {
    use StockBasis::{InStockOnly, OnShelf, Reserving};
    let mut v = Vec::new();
    let mut add = |name, why, f: &dyn Fn(&mut Inputs), counts| {
        let mut inputs = base(counts);
        f(&mut inputs);
        v.push(Case { name, inputs, why });
    };
    add("nothing open", "", &|_| {}, vec![count("R", 10, Reserving, 0)]);
    add(
        "2 ordered, not handed over",
        "placed before the update: the channel will not take them off",
        &|i| i.waiting = 2,
        vec![count("R", 10, Reserving, 0)],
    );
    add(
        "2 handed over, reserving",
        "the count took them off",
        &|_| {},
        vec![count("R", 8, Reserving, 2)],
    );
    add(
        "2 handed over, on the shelf",
        "still on the shelf: taken off here",
        &|_| {},
        vec![count("S", 10, OnShelf, 2)],
    );
    add(
        "2 handed over after the count",
        "the count has not taken them off yet",
        &|i| i.counts[0].late = 2,
        vec![count("R", 10, Reserving, 2)],
    );
    add(
        "shipped",
        "left the count and the open lines",
        &|_| {},
        vec![count("R", 8, Reserving, 0)],
    );
    add(
        "outcome unknown",
        "counted as not handed over: hidden for one pass at worst",
        &|i| i.waiting = 2,
        vec![count("R", 8, Reserving, 0)],
    );
    add(
        "two warehouses",
        "summed: a line goes whole to one that has it",
        &|_| {},
        vec![count("R", 6, Reserving, 0), count("S", 4, OnShelf, 0)],
    );
    add(
        "over-given warehouse",
        "its shortfall is not taken from the other",
        &|_| {},
        vec![count("R", 6, Reserving, 0), count("S", 1, OnShelf, 3)],
    );
    add(
        "buffer 2",
        "per EAN, else global",
        &|i| i.buffer = 2,
        vec![count("R", 10, Reserving, 0)],
    );
    add(
        "1,400 in stock",
        "the channel's most",
        &|_| {},
        vec![count("R", 1400, Reserving, 0)],
    );
    add(
        "oversold",
        "never below 0",
        &|i| i.waiting = 3,
        vec![count("R", 1, Reserving, 0)],
    );
    add(
        "in stock only",
        "one \"in stock\" stands for the configured units",
        &|i| i.in_stock_units = 3,
        vec![count("S", 1, InStockOnly, 0)],
    );
    add(
        "channel keeps the count",
        "it takes off every open line itself: they go back in",
        &|i| {
            i.shop_keeps_count = false;
            i.waiting = 2;
        },
        vec![count("R", 8, Reserving, 3)],
    );
    add(
        "not listed",
        "0, or left as it is when configured",
        &|i| i.counts[0].available = None,
        vec![count("R", 0, Reserving, 0)],
    );
    add(
        "a warehouse down",
        "left as it is, never 0 on a failed read",
        &|i| i.down = vec!["S".into()],
        vec![count("R", 5, Reserving, 0)],
    );
    v
}

fn basis(b: StockBasis) -> &'static str {
    match b {
        StockBasis::Reserving => "reserving",
        StockBasis::InStockOnly => "in stock only",
        _ => "on shelf",
    }
}

/// The table of [`cases`] as ARCHITECTURE.md shows it.
pub fn markdown() -> String {
    let mut out = String::from(
        "| case | warehouses (count, basis, handed over) | J | B | keeps count | amount | why |\n|---|---|---|---|---|---|---|\n",
    );
    for c in cases() {
        let i = &c.inputs;
        let counts: Vec<String> = i
            .counts
            .iter()
            .map(|w| match w.available {
                None => format!("{}: not listed", w.provider),
                Some(n) => format!(
                    "{}: {n} {}, {}{}",
                    w.provider,
                    basis(w.basis),
                    w.handed_over,
                    if w.late > 0 {
                        format!(" ({} after the count)", w.late)
                    } else {
                        String::new()
                    }
                ),
            })
            .chain(i.down.iter().map(|d| format!("{d}: down")))
            .collect();
        let result = match amount(i) {
            Verdict::Amount { amount, .. } => amount.to_string(),
            Verdict::Unstocked => "0 / kept".into(),
            Verdict::Unknown(_) => "kept".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {result} | {} |\n",
            c.name,
            counts.join("; "),
            i.waiting,
            i.buffer,
            if i.shop_keeps_count { "shop" } else { "channel" },
            c.why
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount_of(name: &str) -> Verdict {
        let case = cases().into_iter().find(|c| c.name == name).unwrap();
        amount(&case.inputs)
    }

    fn units(v: Verdict) -> u32 {
        match v {
            Verdict::Amount { amount, .. } => amount,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_case_gives_the_amount_worked_out_by_hand() {
        let expected = [
            ("nothing open", 10),
            ("2 ordered, not handed over", 8),
            ("2 handed over, reserving", 8),
            ("2 handed over, on the shelf", 8),
            ("2 handed over after the count", 8),
            ("shipped", 8),
            ("outcome unknown", 6),
            ("two warehouses", 10),
            ("over-given warehouse", 6),
            ("buffer 2", 8),
            ("1,400 in stock", 999),
            ("oversold", 0),
            ("in stock only", 3),
            // F = 8 − 2 = 6 sellable; the channel takes off 2 + 3 itself.
            ("channel keeps the count", 11),
        ];
        for (name, want) in expected {
            assert_eq!(units(amount_of(name)), want, "{name}");
        }
        assert_eq!(amount_of("not listed"), Verdict::Unstocked);
        assert_eq!(amount_of("a warehouse down"), Verdict::Unknown(vec!["S".into()]));
        assert_eq!(cases().len(), expected.len() + 2, "every case is checked");
    }

    #[test]
    fn free_is_never_negative_and_oversold_shows_below_zero() {
        let i = cases().into_iter().find(|c| c.name == "oversold").unwrap().inputs;
        assert_eq!(amount(&i), Verdict::Amount { amount: 0, free: -2 });
    }

    #[test]
    fn architecture_md_shows_the_cases_as_computed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{} not found (a packaged crate): not checked", path.display());
            return;
        };
        let table = markdown();
        assert!(
            text.contains(&table),
            "ARCHITECTURE.md must show the stock cases exactly as `arith::cases` computes them:\n\n{table}"
        );
    }
}
