//! Layer 5, the client: the send loop ([`Transport`](crate::Transport)) and the settings
//! every provider client's builder exposes
//! ([`TransportSettings`](crate::TransportSettings)). The only layer that sees all the
//! others: it takes the credentials (auth), waits for a rate permit (state), runs one
//! exchange (wire), classifies the answer, and carries out what the policy decides.

pub(crate) mod settings;
pub(crate) mod transport;
