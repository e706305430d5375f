//! `route`: the fulfilment provider that has the stock for every line (or the configured
//! routes), or a split over several when none has.

use futures_util::future::BoxFuture;

use super::super::Event;
use super::super::engine::{Halt, Held};
use super::super::route::{self, Route};
use super::super::steps::{self, Next};
use crate::journal::{Split, SplitPart};

/// The row's runner.
pub(super) fn run<'h, 'f>(h: &'h mut Held<'f>, _: Next) -> BoxFuture<'h, Result<(), Halt>> {
    Box::pin(h.route())
}

impl Held<'_> {
    pub(crate) async fn route(&mut self) -> Result<(), Halt> {
        let rule = steps::ROUTE.name();
        let flow = self.flow;
        let chosen = route::choose(&self.r.order, &flow.providers.fulfilment, &flow.options.routes)
            .await
            .map_err(|e| Halt::Failed(rule.into(), e))?;
        let name = match chosen {
            Route::One(name) => name,
            Route::Nowhere(ean) => {
                return self.attention(format!(
                    "no fulfilment provider has stock for the line with {ean} (the order's lines: {}): restock it, or \
                     route it (FlowOptions::routes), then `commerce retry`",
                    route::eans(&self.r.order).join(", ")
                ));
            }
            Route::Unknown(provider) => {
                return self.attention(format!(
                    "FlowOptions::routes sends a line of this order to {provider}, which this runner does not have: \
                     correct the route (or configure {provider}), then `commerce retry`"
                ));
            }
            Route::Split(parts) => {
                // The plan first, then the parts: a crash in between adds the same parts.
                let key = self.r.key.clone();
                self.r.split = Split::Planned(
                    parts
                        .into_iter()
                        .map(|(provider, lines)| SplitPart {
                            key: format!("{key}/{provider}"),
                            provider,
                            lines,
                        })
                        .collect(),
                );
                let note = format!(
                    "no provider has stock for every line: split into {}",
                    self.r
                        .split
                        .iter()
                        .map(|p| p.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.save(&note).await?;
                return self.finished();
            }
        };
        self.r.fulfilment = Some(name.clone());
        self.save(&format!("routed to {name}")).await?;
        let event = Event::Routed {
            key: self.r.key.clone(),
            provider: name,
        };
        self.announce(event, |_| {})
    }
}
