//! Workspace automation: `cargo xtask <command>`.
//!
//! - `ci [--skip-tests]`: every check CI makes.
//! - `release <crate> <major|minor|patch|X.Y.Z> [--execute]`, `release --all [--execute]`:
//!   plan (a dry run by default) and carry out releases of separately versioned crates.
//! - `bench`: runs the benchmarks and prints their figures.
//! - `soak`: the flow's fault and crash soaks at full size, and four runner processes on
//!   PostgreSQL with 1,000 orders.
//! - `postgres [-- TEST ARGS]`: the `postgres` feature's tests against a throw-away
//!   PostgreSQL cluster (`.ci/postgres`), installed when missing; `COMMERCE_TEST_POSTGRES`
//!   set: against that server instead.
//! - `sweep [--check DIR]`: the whole test suite at TRACE must show no configured secret.
//! - `codegen [--check] [SPECS_DIR]`: writes the bol Retailer API client code from bol's
//!   OpenAPI descriptions (default `../shared/specs`).

mod codegen;
mod release;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The facade's default features (one per provider), from `commerce-facade/Cargo.toml`.
fn facade_default_features() -> Result<Vec<String>, String> {
    let path = workspace_root().join("commerce-facade/Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("default = ["))
        .ok_or_else(|| format!("{}: no `default = [..]` feature list", path.display()))?;
    let inside = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| format!("{}: `default` is not a one-line list", path.display()))?;
    let features: Vec<String> = inside
        .split(',')
        .map(|f| f.trim().trim_matches('"').to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    if features.is_empty() {
        return Err(format!("{}: no default features", path.display()));
    }
    Ok(features)
}

/// The workspace root (the parent of this crate).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// The cargo that runs this xtask.
pub(crate) fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `program` in `dir`; an error names the command when it fails.
pub(crate) fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let name = Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy());
    println!("\n==> {name} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{name} {}` failed", args.join(" ")))
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run_in(&workspace_root(), &cargo_program(), args, &[])
}

/// Every check CI makes: format, lint, docs, the generated bol client, the facade's feature
/// combinations, the example, and (unless `--skip-tests`) the tests.
fn ci(args: &[String]) -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    run_in(
        &workspace_root(),
        &cargo_program(),
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    if workspace_root().join("../shared/specs").is_dir() {
        println!("\n==> cargo xtask codegen --check");
        codegen::run(&["--check".to_owned()])?;
    } else {
        println!("\n==> skipped codegen --check: ../shared/specs is not beside the workspace");
    }
    // None, then each provider feature alone: the facade's default features, read from its
    // manifest, so a new provider is checked without a line here.
    let providers = facade_default_features()?;
    for features in std::iter::once("").chain(providers.iter().map(String::as_str)) {
        let mut a = vec![
            "check",
            "--locked",
            "--quiet",
            "-p",
            "commerce-facade",
            "--no-default-features",
        ];
        if !features.is_empty() {
            a.extend(["--features", features]);
        }
        cargo(&a)?;
    }
    cargo(&[
        "check",
        "--locked",
        "--quiet",
        "-p",
        "commerce-facade",
        "--all-features",
    ])?;
    cargo(&[
        "run",
        "--locked",
        "--quiet",
        "-p",
        "commerce-core",
        "--example",
        "describe_endpoint",
    ])?;
    if !args.iter().any(|a| a == "--skip-tests") {
        cargo(&["test", "--workspace", "--locked"])?;
        postgres(&[], &[])?;
    }
    println!("\nci: every check passed");
    Ok(())
}

/// Runs the benchmarks and prints their figures: `bench` runs every benchmark of the
/// workspace (criterion ones and the figure reports) and then the build cost; `bench
/// build-cost` only the build cost; other arguments go to the benchmarks.
fn bench(args: &[String]) -> Result<(), String> {
    if args.first().is_some_and(|a| a == "build-cost") {
        return build_cost();
    }
    let mut a = vec!["bench", "--workspace", "--locked"];
    let extra: Vec<&str> = args.iter().map(String::as_str).collect();
    if !extra.is_empty() {
        a.push("--");
        a.extend(extra);
    }
    cargo(&a)?;
    // The flow with 1, 2, 4 and 8 workers on PostgreSQL (real time: its stores keep the
    // database's clock).
    with_postgres(|server| {
        run_in(
            &workspace_root(),
            &cargo_program(),
            &[
                "bench",
                "--locked",
                "-p",
                "commerce-facade",
                "--features",
                "postgres",
                "--bench",
                "flow_postgres",
            ],
            &[("COMMERCE_TEST_POSTGRES", server)],
        )
    })?;
    build_cost()
}

/// Clean build time of the facade with one provider feature and with all, each in a fresh
/// target folder (dependencies included, as a user's first build).
fn build_cost() -> Result<(), String> {
    let root = workspace_root();
    let mut figures = Vec::new();
    for (label, features) in [
        ("safeshop only", "safeshop"),
        ("retailer only", "retailer"),
        ("all five", "safeshop,sitejabber,shopwedo,customer-api,retailer"),
    ] {
        let target = root.join("target/build-cost");
        let _ = std::fs::remove_dir_all(&target);
        let t = target.to_string_lossy().into_owned();
        let started = std::time::Instant::now();
        run_in(
            &root,
            &cargo_program(),
            &[
                "build",
                "--locked",
                "-p",
                "commerce-facade",
                "--no-default-features",
                "--features",
                features,
                "--target-dir",
                &t,
            ],
            &[("CARGO_INCREMENTAL", "0")],
        )?;
        figures.push((label, started.elapsed()));
        let _ = std::fs::remove_dir_all(&target);
    }
    println!(
        "\nclean build of commerce-facade (dev profile, {} jobs):",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (label, took) in figures {
        println!("  {label:<14} {:>6.1} s", took.as_secs_f64());
    }
    Ok(())
}

/// The reliability soaks at full size: the flow at faults 0.3 for 1,000 orders, and 20
/// crash-and-resume runs of 25 orders each (`cargo test` runs them reduced).
fn soak(args: &[String]) -> Result<(), String> {
    let mut a = vec![
        "test",
        "--locked",
        "-p",
        "commerce-facade",
        "--test",
        "all",
        "--",
        "soak::",
        "--nocapture",
    ];
    a.extend(args.iter().map(String::as_str));
    run_in(
        &workspace_root(),
        &cargo_program(),
        &a,
        &[
            ("SOAK_ORDERS", "1000"),
            ("SOAK_CRASH_RUNS", "20"),
            ("SOAK_CRASH_ORDERS", "25"),
        ],
    )?;
    // The returns soak (faults 0.3, garbled answers 0.1) on 1,000 orders.
    let mut a = vec![
        "test",
        "--locked",
        "-p",
        "commerce-facade",
        "--test",
        "all",
        "--",
        "returns_sandbox::",
        "--nocapture",
    ];
    a.extend(args.iter().map(String::as_str));
    run_in(
        &workspace_root(),
        &cargo_program(),
        &a,
        &[("RETURNS_SOAK_ORDERS", "1000")],
    )?;
    // Four runner processes on one PostgreSQL journal, 1,000 orders, faults at 0.2, one
    // killed and restarted.
    postgres(
        &[
            "four_runner_processes_on_postgres".to_owned(),
            "--nocapture".to_owned(),
        ],
        &[("PG_RUNNER_ORDERS", "1000")],
    )
}

/// Runs `work` with the address of a PostgreSQL server: `COMMERCE_TEST_POSTGRES` when set,
/// else a throw-away cluster `.ci/postgres` starts (installing PostgreSQL when missing) and
/// stops afterwards, whatever the outcome.
fn with_postgres(work: impl FnOnce(&str) -> Result<(), String>) -> Result<(), String> {
    if let Ok(url) = std::env::var("COMMERCE_TEST_POSTGRES") {
        return work(&url);
    }
    let root = workspace_root();
    let script = root.join(".ci/postgres").to_string_lossy().into_owned();
    let dir = std::env::temp_dir().join(format!("commerce-pg-{}", std::process::id()));
    let d = dir.to_string_lossy().into_owned();
    println!("\n==> .ci/postgres start {d}");
    let out = Command::new("bash")
        .args([&script, "start", &d])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if !out.status.success() {
        return Err("the throw-away PostgreSQL cluster did not start".into());
    }
    let result = work(String::from_utf8_lossy(&out.stdout).trim());
    let _ = run_in(&root, "bash", &[&script, "stop", &d], &[]);
    result
}

/// The `postgres` feature's tests (the facade's journal and shared state, and the runner
/// processes of the CLI) against a PostgreSQL server ([`with_postgres`]). `env` goes to the
/// tests; `args` after the test binaries' `--`.
fn postgres(args: &[String], env: &[(&str, &str)]) -> Result<(), String> {
    with_postgres(|server| {
        let mut env: Vec<(&str, &str)> = env.to_vec();
        env.push(("COMMERCE_TEST_POSTGRES", server));
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let test = |package: &str, target: &str, filter: Option<&str>| {
            let mut a = vec![
                "test",
                "--locked",
                "-p",
                package,
                "--features",
                "postgres",
                "--test",
                target,
                "--",
            ];
            a.extend(filter);
            a.extend(extra.iter().copied());
            run_in(&workspace_root(), &cargo_program(), &a, &env)
        };
        // The CLI's runner tests on SQLite ran with the workspace's tests already.
        // The facade's PostgreSQL tests are those of its one test binary whose names say
        // `postgres` (the `postgres` module, and the returns rules on PostgreSQL in
        // `journal_returns`); a filter of the caller's (`cargo xtask soak`'s) takes their place.
        let filtered = extra.iter().any(|a| !a.starts_with('-'));
        test("commerce-facade", "all", (!filtered).then_some("postgres"))
            .and_then(|()| test("commerce-cli", "all", Some("on_postgres")))
    })
}

/// The TRACE secret sweep: `sweep` runs the whole test suite with the sweep on and checks
/// its traces; `sweep --check DIR` only checks a sweep folder of an earlier run.
fn sweep_command(args: &[String]) -> Result<(), String> {
    let dir = match args {
        [flag, dir] if flag == "--check" => PathBuf::from(dir),
        [] => {
            let dir = workspace_root().join("target/trace-sweep");
            let _ = std::fs::remove_dir_all(&dir);
            let d = dir.to_string_lossy().into_owned();
            run_in(
                &workspace_root(),
                &cargo_program(),
                &["test", "--workspace", "--locked"],
                &[("COMMERCE_TRACE_SWEEP", d.as_str())],
            )?;
            dir
        }
        _ => return Err("usage: cargo xtask sweep [--check DIR]".into()),
    };
    let s = sweep::check(&dir)?;
    println!(
        "sweep: no secret in {} lines ({} KB) of TRACE output from {} test processes; {} secrets checked",
        s.lines,
        s.bytes / 1024,
        s.traces,
        s.secrets
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args.split_first().map_or(("", &[][..]), |(c, r)| (c.as_str(), r));
    let result = match command {
        "ci" => ci(rest),
        "release" => release::run(rest),
        "bench" => bench(rest),
        "soak" => soak(rest),
        "postgres" => postgres(rest, &[]),
        "sweep" => sweep_command(rest),
        "codegen" => codegen::run(rest),
        _ => Err(
            "usage: cargo xtask <ci [--skip-tests] | release <crate> <major|minor|patch|X.Y.Z> [--execute] \
                  | release --all [--execute] | bench | soak | postgres | sweep [--check DIR] | codegen [--check]>"
                .to_owned(),
        ),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_facade_features_checked_one_by_one_are_its_providers() {
        let features = super::facade_default_features().unwrap();
        for provider in ["safeshop", "sitejabber", "shopwedo", "customer-api", "retailer"] {
            assert!(
                features.iter().any(|f| f == provider),
                "{provider} in {features:?}"
            );
        }
    }
}
