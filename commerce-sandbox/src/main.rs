//! `cargo run -p commerce-sandbox -- --port 8080 [--orders N] [--faults P --seed S]
//! [--env-file PATH] [--order-arrivals SECS] [--stock-drift SECS] ...`: serves all five
//! providers on one loopback port and prints the `export` lines that point the clients at
//! it (and, with `--env-file`, writes them to a file to `source`). The offers against the
//! warehouses' stock: `GET /__sandbox/offers`.

use std::time::Duration;

use commerce_sandbox::Config;

fn usage() -> ! {
    eprintln!(
        "usage: commerce-sandbox [--port PORT] [--env-file PATH] [--orders N] [--products N] [--faults P] [--seed S] \
         [--garbled-creates P] [--cancellation-requests P] [--ship-after SECS] [--customer-token-lifetime SECS] [--bol-token-lifetime SECS] \
         [--order-arrivals SECS] [--stock-drift SECS] [--export-without-stock-details] [--cancelled-gives-back] \
         [--shopwedo-warning-level N] [--shopwedo-on-shelf] [--shopwedo-times-utc] [--customer-reserves] \
         [--returns P] [--return-after SECS] [--receive-after SECS] [--return-mismatch P] [--returns-multi P] \
         [--process-after SECS] [--push-retry-scale F] [--push-forged P] [--push-rotate-key-after SECS]\n\
         \n\
         --order-arrivals SECS            a buyer orders on bol every SECS (taken while the offer's corrected stock lasts)\n\
         --stock-drift SECS               every SECS a few products gain or lose units at a warehouse\n\
         --export-without-stock-details   the offers export leaves out correctedStock\n\
         --cancelled-gives-back           a cancelled item stops lowering a managedByRetailer offer's corrected stock\n\
         --shopwedo-warning-level N       ShopWeDo holds N units back from atp\n\
         --shopwedo-on-shelf              ShopWeDo's atp drops only when an order ships (default: released orders reserve)\n\
         --shopwedo-times-utc             ShopWeDo writes last_atp_update in UTC (default: Belgian wall-clock time)\n\
         --customer-reserves              the Customer API's availability drops at the order (default: when it ships)\n\
         --returns P                      share of shipped bol orders whose buyer registers a return (default 0)\n\
         --return-after SECS              the return is registered SECS after the shipment (default 21600)\n\
         --receive-after SECS             ShopWeDo receives the goods SECS after the retour announcement (default 86400)\n\
         --return-mismatch P              share of returned items arriving short by one or damaged (default 0)\n\
         --returns-multi P                share of returns with two items of one order (default 0)\n\
         --process-after SECS             a bol process also ends SECS after it started, read or not (push runs need it)\n\
         --push-retry-scale F             divides the waits between push retries (bol: 10 over 10 minutes; default 1)\n\
         --push-forged P                  test mode: after a share P of real push deliveries, also a forged one\n\
         --push-rotate-key-after SECS     bol's push signing key rotates SECS after the start (new key id 1)"
    );
    std::process::exit(2);
}

fn value<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> T {
    args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        eprintln!("{flag} needs a value");
        usage()
    })
}

/// A flag's value in seconds (a fraction allowed), not negative.
fn seconds(args: &mut impl Iterator<Item = String>, flag: &str) -> Duration {
    Duration::try_from_secs_f64(value(args, flag)).unwrap_or_else(|_| {
        eprintln!("{flag} takes a number of seconds");
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
            "--order-arrivals" => config.order_arrivals = Some(seconds(&mut args, "--order-arrivals")),
            "--stock-drift" => config.stock_drift = Some(seconds(&mut args, "--stock-drift")),
            "--export-without-stock-details" => config.export_without_stock_details = true,
            "--cancelled-gives-back" => config.cancelled_gives_back = true,
            "--shopwedo-warning-level" => {
                config.shopwedo_warning_level = value(&mut args, "--shopwedo-warning-level")
            }
            "--shopwedo-times-utc" => config.shopwedo_times_utc = true,
            "--shopwedo-on-shelf" => config.shopwedo_reserves = false,
            "--customer-reserves" => config.customer_reserves = true,
            "--returns" => config.returns = value(&mut args, "--returns"),
            "--return-after" => config.return_after = seconds(&mut args, "--return-after"),
            "--receive-after" => config.receive_after = seconds(&mut args, "--receive-after"),
            "--return-mismatch" => config.return_mismatch = value(&mut args, "--return-mismatch"),
            "--returns-multi" => config.returns_multi = value(&mut args, "--returns-multi"),
            "--process-after" => config.process_after = Some(seconds(&mut args, "--process-after")),
            "--push-retry-scale" => config.push_retry_scale = value(&mut args, "--push-retry-scale"),
            "--push-forged" => config.push_forged = value(&mut args, "--push-forged"),
            "--push-rotate-key-after" => {
                config.push_rotate_key_after = Some(seconds(&mut args, "--push-rotate-key-after"))
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    for (flag, share) in [
        ("--faults", config.faults),
        ("--garbled-creates", config.garbled_creates),
        ("--returns", config.returns),
        ("--return-mismatch", config.return_mismatch),
        ("--returns-multi", config.returns_multi),
        ("--push-forged", config.push_forged),
    ] {
        if !(0.0..=1.0).contains(&share) {
            eprintln!("{flag} takes a share from 0 to 1");
            usage()
        }
    }
    for (flag, every) in [
        ("--order-arrivals", config.order_arrivals),
        ("--stock-drift", config.stock_drift),
    ] {
        if every.is_some_and(|e| e < Duration::from_millis(10)) {
            eprintln!("{flag} takes at least 0.01 seconds");
            usage()
        }
    }
    if !(config.push_retry_scale.is_finite() && config.push_retry_scale >= 1.0) {
        eprintln!("--push-retry-scale takes a number of at least 1");
        usage()
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let sandbox = commerce_sandbox::start_on(listener, config)?;
    println!("commerce sandbox listening on {}", sandbox.url());
    println!(
        "report: GET {0}/__sandbox/report   offers: GET {0}/__sandbox/offers   returns: GET {0}/__sandbox/returns   reset: POST {0}/__sandbox/reset   rotate bol's push key: POST {0}/__sandbox/push/rotate-key",
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
