//! Workspace automation (`cargo xtask ci | release | bench`).
//!
//! **Not implemented yet**: the commands are built by issue 9. Until then this binary
//! says so and exits with an error, so nothing mistakes it for a passing check.

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    eprintln!("cargo xtask {command}: not implemented yet (issue 9); run .ci/run for the checks CI makes");
    std::process::exit(2);
}
