//! retailer-client's integration tests, one binary: each file a module.

mod behaviour;
mod changes;
mod coverage;
mod decoders;
mod fail_fast;
mod generated_wire;
mod hostile;
mod open_order;
mod push;
mod returns;
mod stock;
mod subscriptions;
mod support;
mod typed_model;
