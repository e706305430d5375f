//! Choosing the fulfilment provider of an order: the routes the user configured (EAN →
//! provider) win when they name a provider for every line; otherwise the first provider,
//! in the order they were added, whose stock covers every line. When none covers every
//! line, the order is split: each line goes to the first provider whose stock covers it
//! (or its configured route), and each provider gets its lines as a part of its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use commerce_core::{Error, Fulfilment, Order, StockLevel};

/// Where an order goes.
pub(crate) enum Route {
    /// One provider for every line.
    One(String),
    /// Several providers: each provider's name and its lines (`line_id`s), in the order
    /// the providers were added.
    Split(Vec<(String, Vec<String>)>),
    /// A line no provider has stock for: its EAN.
    Nowhere(String),
    /// A configured route names a provider this runner does not have.
    Unknown(String),
}

/// The lines the configured routes place (EAN → provider): line id → provider.
fn routed<'a>(order: &'a Order, routes: &'a HashMap<String, String>) -> BTreeMap<&'a str, &'a String> {
    order
        .lines
        .iter()
        .filter_map(|l| Some((l.line_id.as_str(), routes.get(l.ean.as_ref()?)?)))
        .collect()
}

/// The provider whose stock [`choose`] reads first (`None`: the configured routes place the
/// order without a read): a busy one paces the routing.
pub(crate) fn first_read<'p>(
    order: &Order,
    providers: &'p [Arc<dyn Fulfilment>],
    routes: &HashMap<String, String>,
) -> Option<&'p Arc<dyn Fulfilment>> {
    let routed = routed(order, routes);
    for f in providers {
        let here = |l: &&commerce_core::LineItem| {
            routed
                .get(l.line_id.as_str())
                .is_some_and(|n| n.as_str() == f.name())
        };
        if order.lines.iter().all(|l| here(&l)) {
            return None;
        }
        if order.lines.iter().any(|l| {
            routed
                .get(l.line_id.as_str())
                .is_some_and(|n| n.as_str() != f.name())
        }) {
            continue;
        }
        return Some(f);
    }
    None
}

/// Where `order` goes.
pub(crate) async fn choose(
    order: &Order,
    providers: &[Arc<dyn Fulfilment>],
    routes: &HashMap<String, String>,
) -> Result<Route, Error> {
    // Lines the configured routes place; the others by stock.
    let routed = routed(order, routes);
    if let Some(name) = routed.values().find(|n| by_name(providers, n).is_none()) {
        return Ok(Route::Unknown((*name).clone()));
    }
    let covers = |levels: &[StockLevel], ean: &Option<String>, quantity: u32| {
        ean.as_ref().is_some_and(|ean| {
            levels
                .iter()
                .filter(|l| l.ean.as_deref() == Some(ean.as_str()))
                .map(|l| l.available)
                .sum::<i64>()
                >= i64::from(quantity)
        })
    };
    // The first provider with every line (routed to it, or in its stock); its stock is read
    // only when it is needed, so one provider's outage does not stop orders another ships
    // whole.
    let eans = eans(order);
    // Each provider's stock, `None` where it was not read.
    let mut stock: Vec<Option<Vec<StockLevel>>> = Vec::new();
    for f in providers {
        let all_routed_here = order.lines.iter().all(|l| {
            routed
                .get(l.line_id.as_str())
                .is_some_and(|n| n.as_str() == f.name())
        });
        if all_routed_here {
            return Ok(Route::One(f.name().to_owned()));
        }
        if order.lines.iter().any(|l| {
            routed
                .get(l.line_id.as_str())
                .is_some_and(|n| n.as_str() != f.name())
        }) {
            // A line is routed elsewhere: this provider cannot have every line.
            stock.push(None);
            continue;
        }
        let levels = f.stock(&eans).await?;
        if order
            .lines
            .iter()
            .all(|l| routed.contains_key(l.line_id.as_str()) || covers(&levels, &l.ean, l.quantity))
        {
            return Ok(Route::One(f.name().to_owned()));
        }
        stock.push(Some(levels));
    }
    // Stock not read above (a line routed elsewhere) is read now, for the split of the
    // lines no route places.
    if routed.len() < order.lines.len() {
        for (levels, f) in stock.iter_mut().zip(providers) {
            if levels.is_none() {
                *levels = Some(f.stock(&eans).await?);
            }
        }
    }
    // Split: each line to its route, else to the first provider with its stock.
    let mut parts: Vec<(String, Vec<String>)> = Vec::new();
    for line in &order.lines {
        let name = match routed.get(line.line_id.as_str()) {
            Some(name) => (*name).clone(),
            None => match providers.iter().enumerate().find(|(i, _)| {
                stock
                    .get(*i)
                    .and_then(Option::as_ref)
                    .is_some_and(|s| covers(s, &line.ean, line.quantity))
            }) {
                Some((_, f)) => f.name().to_owned(),
                None => {
                    return Ok(Route::Nowhere(
                        line.ean.clone().unwrap_or_else(|| line.line_id.clone()),
                    ));
                }
            },
        };
        match parts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, lines)) => lines.push(line.line_id.clone()),
            None => parts.push((name, vec![line.line_id.clone()])),
        }
    }
    Ok(Route::Split(parts))
}

/// The EANs of the order's lines.
pub(crate) fn eans(order: &Order) -> Vec<String> {
    order.lines.iter().filter_map(|l| l.ean.clone()).collect()
}

/// The provider called `name`.
pub(crate) fn by_name(providers: &[Arc<dyn Fulfilment>], name: &str) -> Option<Arc<dyn Fulfilment>> {
    providers.iter().find(|f| f.name() == name).cloned()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use commerce_core::{FulfilmentStatus, LineItem, StockLevel, SubmissionReceipt};

    use super::*;

    /// A provider with stock of some EANs, counting its stock reads.
    #[derive(Debug)]
    struct Warehouse {
        name: &'static str,
        eans: Vec<&'static str>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl Fulfilment for Warehouse {
        fn name(&self) -> &str {
            self.name
        }
        async fn submit(&self, _: &Order) -> Result<SubmissionReceipt, Error> {
            unreachable!()
        }
        async fn status(&self, _: &str) -> Result<FulfilmentStatus, Error> {
            unreachable!()
        }
        async fn cancel(&self, _: &str) -> Result<(), Error> {
            unreachable!()
        }
        async fn stock(&self, _: &[String]) -> Result<Vec<StockLevel>, Error> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .eans
                .iter()
                .map(|e| StockLevel::new(e.to_string(), Some(e.to_string()), 5))
                .collect())
        }
    }

    fn providers(stock: &[(&'static str, Vec<&'static str>)]) -> Vec<Arc<dyn Fulfilment>> {
        stock
            .iter()
            .map(|(name, eans)| {
                Arc::new(Warehouse {
                    name,
                    eans: eans.clone(),
                    reads: AtomicUsize::new(0),
                }) as Arc<dyn Fulfilment>
            })
            .collect()
    }

    fn order(eans: &[&str]) -> Order {
        Order {
            id: "1".into(),
            lines: eans
                .iter()
                .enumerate()
                .map(|(i, e)| LineItem {
                    line_id: format!("L{i}"),
                    ean: Some(e.to_string()),
                    quantity: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn shown(route: Route) -> String {
        match route {
            Route::One(name) => format!("one {name}"),
            Route::Split(parts) => format!("split {parts:?}"),
            Route::Nowhere(ean) => format!("nowhere {ean}"),
            Route::Unknown(name) => format!("unknown {name}"),
        }
    }

    async fn route(o: &Order, p: &[Arc<dyn Fulfilment>], routes: &[(&str, &str)]) -> String {
        let routes = routes
            .iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect();
        shown(choose(o, p, &routes).await.unwrap())
    }

    #[tokio::test]
    async fn by_stock_the_first_provider_with_every_line_else_a_split_else_nowhere() {
        let p = providers(&[("a", vec!["1", "2"]), ("b", vec!["2", "3"])]);
        assert_eq!(route(&order(&["1", "2"]), &p, &[]).await, "one a");
        assert_eq!(route(&order(&["2", "3"]), &p, &[]).await, "one b");
        assert_eq!(
            route(&order(&["1", "3", "2"]), &p, &[]).await,
            r#"split [("a", ["L0", "L2"]), ("b", ["L1"])]"#
        );
        assert_eq!(route(&order(&["1", "4"]), &p, &[]).await, "nowhere 4");
    }

    #[tokio::test]
    async fn configured_routes_win_and_may_split() {
        let p = providers(&[("a", vec!["1", "2"]), ("b", vec!["2", "3"])]);
        // Every line routed to b: no stock read, even for a line only a has.
        assert_eq!(route(&order(&["1"]), &p, &[("1", "b")]).await, "one b");
        // A provider this runner does not have (a typo, or another runner's): a person.
        assert_eq!(route(&order(&["1"]), &p, &[("1", "c")]).await, "unknown c");
        // A line routed to b, the other only a has: split.
        assert_eq!(
            route(&order(&["2", "1"]), &p, &[("2", "b")]).await,
            r#"split [("b", ["L0"]), ("a", ["L1"])]"#
        );
        // A line routed to a goes to a whatever a's stock says; the other is in a's stock.
        assert_eq!(route(&order(&["3", "2"]), &p, &[("3", "a")]).await, "one a");
        // A line routed to b does not count for a.
        assert_eq!(
            route(&order(&["1", "2"]), &p, &[("2", "b")]).await,
            r#"split [("a", ["L0"]), ("b", ["L1"])]"#
        );
    }

    #[tokio::test]
    async fn stock_is_not_read_when_every_line_is_routed() {
        let warehouse = Arc::new(Warehouse {
            name: "a",
            eans: vec![],
            reads: AtomicUsize::new(0),
        });
        let p: Vec<Arc<dyn Fulfilment>> = vec![warehouse.clone()];
        assert_eq!(route(&order(&["1"]), &p, &[("1", "a")]).await, "one a");
        assert_eq!(warehouse.reads.load(Ordering::SeqCst), 0);
    }
}
