//! commerce-cli's integration tests, one binary: each file a module. They run the built
//! `commerce` binary (`CARGO_BIN_EXE_commerce`, which only this crate's tests have), so
//! their helpers stay here (`support`), not in commerce-testing.

mod cli;
mod operator_mistakes;
mod returns;
mod runners;
mod serve;
mod support;
