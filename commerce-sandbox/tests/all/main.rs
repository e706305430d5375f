//! commerce-sandbox's integration tests, one binary: each file a module.

mod bol_conformance;
mod documented_examples;
mod env_file;
mod offers_stock;
mod push;
mod raw_http;
mod returns;
mod shipping_labels;
mod support;
mod warehouse_stock;
