//! customer-api-client's integration tests, one binary: each file a module.

mod decoders;
mod fuzz_harness;
mod hostile;
mod wire;
