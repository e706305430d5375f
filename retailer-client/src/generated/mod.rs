//! Code generated from bol's OpenAPI descriptions by `cargo xtask codegen`.

pub mod models;
mod operations;

pub use operations::*;
