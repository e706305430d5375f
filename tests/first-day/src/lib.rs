//! A new user's first programs live in `tests/`: each uses one provider crate through its
//! `prelude` alone, with no direct `commerce-core` dependency, against the sandbox.
