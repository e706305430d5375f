//! sitejabber-client's integration tests, one binary: each file a module.

mod behaviour;
mod decoders;
mod hostile;
mod published_examples;
mod support;
mod wire;
