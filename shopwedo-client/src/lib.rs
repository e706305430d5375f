//! Client for the ShopWeDo fulfilment API with HMAC-SHA512 signed requests.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 4. It exports nothing.
