//! Client for the Sitejabber business API: reviews, products, review requests, messages, privacy.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 3. It exports nothing.
