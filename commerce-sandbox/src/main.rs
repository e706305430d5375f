//! `cargo run -p commerce-sandbox -- --port 8080 [--orders N] [--faults P --seed S]
//! [--env-file PATH]`: serves all five providers on one loopback port and prints the
//! `export` lines that point the clients at it (and, with `--env-file`, writes them to a
//! file to `source`).

use std::time::Duration;

use commerce_sandbox::Config;

fn usage() -> ! {
    eprintln!(
        "usage: commerce-sandbox [--port PORT] [--env-file PATH] [--orders N] [--products N] [--faults P] [--seed S] \
         [--garbled-creates P] [--cancellation-requests P] [--ship-after SECS] [--customer-token-lifetime SECS] [--bol-token-lifetime SECS]"
    );
    std::process::exit(2);
}

fn value<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> T {
    args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        eprintln!("{flag} needs a value");
        usage()
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    let mut port: u16 = 0;
    let mut env_file: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = value(&mut args, "--port"),
            "--env-file" => env_file = Some(value::<String>(&mut args, "--env-file").into()),
            "--orders" => config.orders = value(&mut args, "--orders"),
            "--products" => config.products = value(&mut args, "--products"),
            "--faults" => config.faults = value(&mut args, "--faults"),
            "--seed" => config.seed = value(&mut args, "--seed"),
            "--garbled-creates" => config.garbled_creates = value(&mut args, "--garbled-creates"),
            "--cancellation-requests" => {
                config.cancellation_requests = value(&mut args, "--cancellation-requests")
            }
            "--ship-after" => config.ship_after = Duration::from_secs(value(&mut args, "--ship-after")),
            "--customer-token-lifetime" => {
                config.customer_token_lifetime =
                    Duration::from_secs(value(&mut args, "--customer-token-lifetime"))
            }
            "--bol-token-lifetime" => {
                config.bol_token_lifetime = Duration::from_secs(value(&mut args, "--bol-token-lifetime"))
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    if !(0.0..=1.0).contains(&config.faults) || !(0.0..=1.0).contains(&config.garbled_creates) {
        eprintln!("--faults and --garbled-creates take a share from 0 to 1");
        usage()
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let sandbox = commerce_sandbox::start_on(listener, config)?;
    println!("commerce sandbox listening on {}", sandbox.url());
    println!(
        "report: GET {0}/__sandbox/report   reset: POST {0}/__sandbox/reset",
        sandbox.url()
    );
    println!();
    print!("{}", sandbox.export_lines());
    if let Some(path) = &env_file {
        sandbox.write_env_file(path)?;
        println!();
        println!("written to {} (`source {}`)", path.display(), path.display());
    }
    tokio::signal::ctrl_c().await?;
    sandbox.stop().await;
    Ok(())
}
