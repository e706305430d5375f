//! A typed client for the whole bol.com Retailer API v10.

mod client;
mod generated;

pub use crate::client::{
    Api, DEFAULT_API_URL, DEFAULT_TOKEN_URL, PROVIDER, RetailerClient, RetailerClientBuilder,
};
pub use crate::generated::*;
pub use commerce_core::Error;
