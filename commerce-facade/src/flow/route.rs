//! Choosing the fulfilment provider of an order: the routes the user configured (EAN →
//! provider) win when they name one provider for every line; otherwise the first provider,
//! in the order they were added, whose stock covers every line.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use commerce_core::{Error, Fulfilment, Order};

/// The provider for `order`, `Ok(None)` when none has stock for every line.
pub(crate) async fn choose(
    order: &Order,
    providers: &[Arc<dyn Fulfilment>],
    routes: &HashMap<String, String>,
) -> Result<Option<Arc<dyn Fulfilment>>, Error> {
    let eans = eans(order);
    let mapped: HashSet<&String> = eans.iter().filter_map(|e| routes.get(e)).collect();
    if mapped.len() == 1 && eans.iter().all(|e| routes.contains_key(e)) {
        let name = mapped.into_iter().next().expect("one");
        return Ok(by_name(providers, name));
    }
    for f in providers {
        let levels = f.stock(&eans).await?;
        let covers = order.lines.iter().all(|line| {
            line.ean.as_ref().is_some_and(|ean| {
                levels
                    .iter()
                    .filter(|l| l.ean.as_deref() == Some(ean.as_str()))
                    .map(|l| l.available)
                    .sum::<i64>()
                    >= i64::from(line.quantity)
            })
        });
        if covers {
            return Ok(Some(f.clone()));
        }
    }
    Ok(None)
}

/// The EANs of the order's lines.
pub(crate) fn eans(order: &Order) -> Vec<String> {
    order.lines.iter().filter_map(|l| l.ean.clone()).collect()
}

/// The provider called `name`.
pub(crate) fn by_name(providers: &[Arc<dyn Fulfilment>], name: &str) -> Option<Arc<dyn Fulfilment>> {
    providers.iter().find(|f| f.name() == name).cloned()
}
