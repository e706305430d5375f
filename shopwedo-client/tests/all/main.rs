//! shopwedo-client's integration tests, one binary: each file a module.

mod decoders;
mod returns;
mod sandbox;
mod wire;
