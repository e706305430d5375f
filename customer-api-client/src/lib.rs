//! Client for a kvik.shop Customer API: products, availability, prices and orders.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 5. It exports nothing.
