//! A stateful local emulator of the five commerce providers, for tests, examples and benchmarks.
//!
//! **Not implemented yet**: this crate is a placeholder in the workspace; its API is
//! built by issue 7. It exports nothing.
