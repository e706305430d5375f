//! Client for the bol.com Retailer API v10: orders, shipments, returns, offers, process status.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 6. It exports nothing.
