//! commerce-facade's integration tests, one binary: each file a module (those that run the
//! whole flow against the sandbox need every provider feature; `postgres` needs the feature
//! of that name and a server, `cargo xtask postgres`). The helpers shared with the
//! benchmarks are `commerce_testing::facade`.

mod adversity;
mod changes;
mod conformance;
mod events;
mod flow;
mod journal;
mod journal_events;
mod journal_returns;
mod lost_create;
mod mapping;
mod postgres;
mod quickstart;
mod returns;
mod returns_sandbox;
mod secrets;
mod soak;
mod split;
mod stock;
mod stock_sandbox;
mod timescales;
