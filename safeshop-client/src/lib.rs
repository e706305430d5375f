//! Client for the Safe.Shop review invitation API.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 5. It exports nothing.
