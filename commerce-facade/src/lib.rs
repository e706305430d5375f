//! One crate composing the commerce provider clients behind cargo features, with the order-to-review flow.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 8. It exports nothing.
