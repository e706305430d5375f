//! commerce-core's integration tests, one binary: each file a module. Three stay binaries
//! of their own, each for state of the whole process:
//! - `tests/hostile_memory.rs`, `tests/hostile_memory_tokens.rs`: each installs a counting
//!   `#[global_allocator]` and reads the process's peak, which tests running beside it would
//!   inflate;
//! - `tests/secrets.rs`: reads the traces of its own calls through a subscriber set for its
//!   thread; tracing's per-callsite interest and its maximum level are the process's, so
//!   tests beside it that reach the same callsites without a subscriber can make it miss
//!   events (it failed one run in four as a module here).

mod code_flow;
mod deadline;
mod error_text;
mod fail_fast;
mod hostile;
mod hostile_bodies;
mod hostile_error_size;
mod hostile_scrub;
mod hostile_slow_start;
mod hostile_token_answers;
mod hostile_token_discipline;
mod hostile_token_life;
mod limits;
mod retries;
mod shared_state;
mod tokens;
mod wire;
