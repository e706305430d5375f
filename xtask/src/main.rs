//! Workspace automation: `cargo xtask <command>`.
//!
//! - `codegen [--check] [SPECS_DIR]`: writes the bol Retailer API client code from bol's
//!   OpenAPI descriptions (default `../shared/specs`).
//!
//! `ci`, `release` and `bench` are built by issue 9; until then they say so and fail, so
//! nothing mistakes them for a passing check.

mod codegen;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args.split_first().map_or(("", &[][..]), |(c, r)| (c.as_str(), r));
    let result = match command {
        "codegen" => codegen::run(rest),
        "ci" | "release" | "bench" => Err(format!(
            "cargo xtask {command}: not implemented yet (issue 9); run .ci/run for the checks CI makes"
        )),
        _ => Err("usage: cargo xtask codegen [--check] [SPECS_DIR]".to_owned()),
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
