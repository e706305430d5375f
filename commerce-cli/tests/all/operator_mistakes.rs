//! Operator mistakes and outages the command line must not hide or worsen (each test
//! failed on the code before its fix).

use crate::support;

use std::process::Command;

use commerce_facade::{Journal, OrderRecord, SqliteJournal, Step};
use commerce_sandbox::Config;
use support::{commerce, temp_journal, text};

/// bol refuses the credentials: not one order could be listed, and `commerce run` says
/// "done" (exit 0). A cron job or a supervisor never learns that no order is being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_could_not_list_its_channel_does_not_exit_0() {
    let sb = commerce_sandbox::start(Config {
        orders: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("listing");
    let started = std::time::Instant::now();
    let out = run_against(
        &sb,
        &path,
        &["run", "--init", "--poll-interval", "100ms"],
        &[("RETAILER_CLIENT_SECRET", "not-the-secret")],
    )
    .await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    // Refused credentials stop the run within seconds (bol bans addresses that ask for
    // tokens too often), naming the variables to check.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(text(&out).contains("RETAILER_CLIENT_SECRET"), "{}", text(&out));
    let tokens = sb.report().providers["bol"].token_requests;
    assert!(tokens <= 2, "{tokens} token requests with refused credentials");
}

/// `commerce retry` on an order that is not waiting for a person (it is failing, shown by
/// `commerce status` as "failing: ... at submit"), whose submission's outcome is unknown
/// and which the flow would settle by looking it up (Customer API): the retry turns the
/// `Started` submission into `NotStarted`, so the next visit submits again without the
/// look-up. A person who only wanted "try now" gets a second order at the supplier when the
/// first one had arrived.
#[tokio::test]
async fn retry_of_a_failing_order_keeps_its_unknown_submission_for_the_look_up() {
    let path = temp_journal("retry");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946570".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    support::add_held(&journal, &r).await;
    let now = chrono::Utc::now();
    r.fulfilment = Some("customer-api".into());
    r.submission = Step::Started;
    r.failures = 1;
    r.last_error = Some("submit: the request may have reached the server and was not re-sent".into());
    r.due = Some(now + chrono::Duration::seconds(30));
    journal.release("runner-a", &r, "submit failed").await.unwrap();

    let status = commerce(&path, &["status"]);
    assert!(
        text(&status).contains("failing: bol:1043946570 at submit"),
        "{}",
        text(&status)
    );
    let retry = commerce(&path, &["retry", "bol:1043946570"]);
    assert!(retry.status.success(), "{}", text(&retry));
    let after = journal.load("bol:1043946570").await.unwrap().unwrap();
    assert_eq!(
        after.submission,
        Step::Started,
        "the unknown submission is no longer settled by the look-up: {}",
        text(&retry)
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce retry` on an order its buyer cancelled (every line dropped): reopened, it
/// would be routed and handed over with no line. Refused, and the record is unchanged.
#[tokio::test]
async fn retry_of_an_order_its_buyer_cancelled_is_refused() {
    let path = temp_journal("retry-cancelled");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946571".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.dropped_lines
        .insert("6107434001".into(), "the buyer asked to cancel it".into());
    r.cancelled = Some("every line cancelled on bol before the order was handed over".into());
    r.cancelled_at = Some(chrono::Utc::now());
    journal.add(&r).await.unwrap();
    let retry = commerce(&path, &["retry", "bol:1043946571"]);
    assert!(!retry.status.success(), "{}", text(&retry));
    assert!(text(&retry).contains("nothing left to ship"), "{}", text(&retry));
    let after = journal.load("bol:1043946571").await.unwrap().unwrap();
    assert!(after.cancelled.is_some() && !after.is_open(), "{after:#?}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `commerce retry` or `resolve` on an order split over two providers: it is worked on
/// through its parts, so a hand-over or a cancel of the order itself would bypass them
/// (a hand-over given for it would be made again by its parts). Refused, naming the parts.
#[tokio::test]
async fn changes_to_a_split_order_are_refused_and_name_its_parts() {
    let path = temp_journal("split");
    let journal = SqliteJournal::open(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1043946605".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.split = commerce_facade::Split::Planned(vec![
        commerce_facade::SplitPart {
            key: "bol:1043946605/shopwedo".into(),
            provider: "shopwedo".into(),
            lines: vec!["6107434001".into()],
        },
        commerce_facade::SplitPart {
            key: "bol:1043946605/customer-api".into(),
            provider: "customer-api".into(),
            lines: vec!["6107900005".into()],
        },
    ]);
    r.attention = Some("waiting".into());
    journal.add(&r).await.unwrap();
    for args in [
        vec!["retry", "bol:1043946605"],
        vec!["resolve", "bol:1043946605", "--cancel"],
        vec![
            "resolve",
            "bol:1043946605",
            "--submitted",
            "90001",
            "--provider",
            "shopwedo",
            "--force",
        ],
    ] {
        let out = commerce(&path, &args);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("bol:1043946605/shopwedo"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let after = journal.load("bol:1043946605").await.unwrap().unwrap();
    assert_eq!(after.submission, Step::NotStarted);
    assert!(after.cancelled.is_none());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

// ---------------------------------------------------------------------------------------
// The hostile operator (issue 27): what a host and an operator ordinarily do to a service
// that runs for months. Each test failed on the code before its fix.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use commerce_sandbox::Sandbox;
use support::{SHOP_PHONE, temp_dir};

/// `commerce ARGS...` against the sandbox, from `cwd`, with `env` on top; its output piped.
fn spawn(sb: &Sandbox, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
    cmd.args(args)
        .current_dir(cwd)
        .envs(sb.env())
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// `commerce --journal JOURNAL ARGS...` against the sandbox, with the shop's contact phone
/// and `env` on top, to its end (off the test's runtime, which serves the sandbox).
fn run_against(
    sb: &Sandbox,
    journal: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> impl std::future::Future<Output = Output> + use<> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commerce"));
    cmd.arg("--journal")
        .arg(journal)
        .args(args)
        .envs(sb.env())
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    async move {
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }
}

/// Waits for `child` at most `limit`; `None` (and it is killed) when it did not end.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Everything the child wrote, after it ended.
fn rest(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    text(&out)
}

/// Reads the child's standard output until a line contains `needle` (at most `limit`);
/// the lines read.
fn read_until(child: &mut Child, needle: &str, limit: Duration) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            let found = line.contains(needle);
            lines.push(line);
            if found {
                // The rest is drained in the background, so the child never blocks on a pipe.
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return lines;
            }
        }
    }
    panic!("`{needle}` not printed within {limit:?}: {lines:#?}");
}

fn started_steps(r: &OrderRecord) -> bool {
    r.submission == Step::Started
        || r.confirmation == Step::Started
        || r.invitations.values().any(|s| *s == Step::Started)
}

/// A loopback server that takes connections and never answers (a provider that hangs); the
/// number of connections it took.
fn hanging_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = taken.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, taken)
}

/// `cd dA && commerce run`, later `cd dB && commerce run`: one journal (the user's), not one
/// per folder, so nothing is handed over twice; a run never creates a journal unasked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_another_folder_uses_the_one_journal_and_never_creates_one_unasked() {
    let sb = commerce_sandbox::start(Config {
        orders: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let root = temp_dir("home");
    let (home, a, b) = (root.join("home"), root.join("dA"), root.join("dB"));
    for d in [&home, &a, &b] {
        std::fs::create_dir_all(d).unwrap();
    }
    let env = [("HOME", home.to_str().unwrap()), ("XDG_STATE_HOME", "")];
    let journal = home.join(".local/state/commerce/journal.sqlite");
    let sb = std::sync::Arc::new(sb);
    let run = |cwd: std::path::PathBuf, args: Vec<&'static str>| {
        let sb = sb.clone();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut child = spawn(&sb, &cwd, &args, &env);
            let status = wait_for(&mut child, Duration::from_secs(120));
            (status, rest(child))
        })
    };
    // No journal yet: refused, and none is created.
    let (status, out) = run(a.clone(), vec!["run", "--poll-interval", "100ms"])
        .await
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(64), "{out}");
    assert!(out.contains("commerce init"), "{out}");
    assert!(!journal.exists(), "a journal was created unasked");
    let (status, out) = run(a.clone(), vec!["run", "--init", "--poll-interval", "100ms"])
        .await
        .unwrap();
    assert!(matches!(status.and_then(|s| s.code()), Some(0 | 2)), "{out}");
    assert!(
        out.contains(&journal.display().to_string()),
        "the journal is named: {out}"
    );
    let (status, out) = run(b.clone(), vec!["run", "--poll-interval", "100ms"])
        .await
        .unwrap();
    assert!(matches!(status.and_then(|s| s.code()), Some(0 | 2)), "{out}");
    for d in [&a, &b] {
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            0,
            "a file in {}",
            d.display()
        );
    }
    assert_eq!(sb.report().total_duplicates(), 0, "{:#?}", sb.report());
    std::fs::remove_dir_all(root).unwrap();
}

/// A mistyped `--journal` (a copy of /etc/passwd, a device, a second hard link of the
/// journal) is refused, and nothing is changed: not the file, not its mode.
#[test]
fn paths_that_are_not_one_journal_are_refused_and_left_as_they_were() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("paths");
    let passwd = dir.join("passwd.copy");
    std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["status"][..], &["attention"], &["retry", "bol:1"], &["init"]] {
        let out = commerce(&passwd, args);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("passwd.copy"), "{}", text(&out));
    }
    assert_eq!(
        std::fs::read(&passwd).unwrap(),
        b"root:x:0:0:root:/root:/bin/bash\n"
    );
    assert_eq!(
        std::fs::metadata(&passwd).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let out = commerce(Path::new("/dev/null"), &["status"]);
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
    // Two names of one journal: two write-ahead logs, lost writes.
    let journal = dir.join("journal.sqlite");
    assert!(commerce(&journal, &["init"]).status.success());
    std::fs::hard_link(&journal, dir.join("other-name.sqlite")).unwrap();
    let out = commerce(&journal, &["status"]);
    assert!(text(&out).contains("hard links"), "{}", text(&out));
    std::fs::remove_file(dir.join("other-name.sqlite")).unwrap();
    // A read-only command creates and changes nothing.
    let before: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let out = commerce(&journal, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    let after: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before.len(), after.len(), "{after:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// SIGTERM (systemd, containers) on `run --watch`: it says so, stops within seconds, exits
/// 0, and gives every order back (no lease left to block `resolve`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_watching_run_cleanly_and_gives_every_order_back() {
    let sb = commerce_sandbox::start(Config {
        orders: 8,
        // No buyer asks to cancel: none of these orders waits for a person (exit 0).
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("sigterm");
    let journal = dir.join("journal.sqlite");
    let j = journal.to_str().unwrap().to_owned();
    let (status, out) = tokio::task::spawn_blocking(move || {
        let mut child = spawn(
            &sb,
            &dir,
            &[
                "--journal",
                &j,
                "run",
                "--init",
                "--watch",
                "--poll-interval",
                "100ms",
            ],
            &[],
        );
        read_until(&mut child, "submitted to", Duration::from_secs(60));
        signal(&child, "TERM");
        let status = wait_for(&mut child, Duration::from_secs(30));
        (status, rest(child))
    })
    .await
    .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{out}");
    assert!(out.contains("SIGTERM: stopping cleanly"), "{out}");
    let j = SqliteJournal::open_read_only(&journal).unwrap();
    assert_eq!(j.leases(chrono::Utc::now()).await.unwrap(), vec![], "leases left");
    assert!(
        !j.all().await.unwrap().iter().any(started_steps),
        "a step left Started"
    );
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// Ctrl-C while a provider hangs: the reads under way are cancelled; the run ends within
/// seconds, not after the provider's time limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_a_provider_hangs_stops_within_seconds() {
    let sb = commerce_sandbox::start(Config {
        orders: 4,
        ..Config::default()
    })
    .await
    .unwrap();
    let (hang, taken) = hanging_server();
    let dir = temp_dir("hang");
    let journal = dir.join("journal.sqlite");
    let j = journal.to_str().unwrap().to_owned();
    let (status, elapsed, out) = tokio::task::spawn_blocking(move || {
        let mut child = spawn(
            &sb,
            &dir,
            &["--journal", &j, "run", "--init", "--poll-interval", "100ms"],
            // Routing reads the stock of both warehouses: both hang.
            &[("SHOPWEDO_BASE_URL", &hang), ("CUSTOMER_API_SHOP_URL", &hang)],
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while taken.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "no read reached the hanging provider");
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(&child, "INT");
        let asked = Instant::now();
        let status = wait_for(&mut child, Duration::from_secs(60));
        (status, asked.elapsed(), rest(child))
    })
    .await
    .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{out}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}: {out}");
    let j = SqliteJournal::open_read_only(&journal).unwrap();
    assert_eq!(j.leases(chrono::Utc::now()).await.unwrap(), vec![]);
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// A request that may act is let finish on the first signal; a second signal ends the
/// process at once (exit 130), leaving the step `Started` for the next run to settle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once_leaving_the_acting_step_started() {
    let sb = commerce_sandbox::start(Config {
        orders: 1,
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let (hang, taken) = hanging_server();
    let dir = temp_dir("second");
    let journal = dir.join("journal.sqlite");
    let j = journal.to_str().unwrap().to_owned();
    let (first, second, out) = tokio::task::spawn_blocking(move || {
        let mut child = spawn(
            &sb,
            &dir,
            &[
                "--journal",
                &j,
                "run",
                "--init",
                "--poll-interval",
                "100ms",
                "--untracked-after",
                "0s",
            ],
            // The invitation (an acting request: its token first) hangs.
            &[("SAFESHOP_BASE_URL", &hang)],
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        while taken.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the invitation never reached Safe.Shop: {}", rest(child));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(&child, "INT");
        // The invitation is under way: the first signal waits for it.
        let first = wait_for_or_none(&mut child, Duration::from_secs(2));
        signal(&child, "INT");
        let second = wait_for(&mut child, Duration::from_secs(10));
        (first, second, rest(child))
    })
    .await
    .unwrap();
    assert!(
        first.is_none(),
        "the first signal did not wait for the request under way: {out}"
    );
    assert_eq!(second.and_then(|s| s.code()), Some(130), "{out}");
    assert!(out.contains("stopping at once"), "{out}");
    let j = SqliteJournal::open_read_only(&journal).unwrap();
    let records = j.all().await.unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.invitations.get("safeshop") == Some(&Step::Started)),
        "{records:#?}"
    );
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// Waits up to `limit`; `None` when the child is still running (it is not killed).
fn wait_for_or_none(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `commerce run --watch | head -n 3`: no panic; the run stops cleanly, and gives every
/// order back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_stops_the_run_cleanly_without_a_panic() {
    let sb = commerce_sandbox::start(Config {
        orders: 8,
        // No buyer asks to cancel: none of these orders waits for a person (exit 0).
        cancellation_requests: 0.0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("pipe");
    let journal = dir.join("journal.sqlite");
    let j = journal.to_str().unwrap().to_owned();
    let (status, err) = tokio::task::spawn_blocking(move || {
        let mut child = spawn(
            &sb,
            &dir,
            &[
                "--journal",
                &j,
                "run",
                "--init",
                "--watch",
                "--poll-interval",
                "100ms",
            ],
            &[],
        );
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..3 {
            stdout.read_line(&mut line).unwrap();
        }
        drop(stdout);
        let status = wait_for(&mut child, Duration::from_secs(60));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{err}");
    assert!(err.contains("standard output is closed"), "{err}");
    let j = SqliteJournal::open_read_only(&journal).unwrap();
    assert_eq!(j.leases(chrono::Utc::now()).await.unwrap(), vec![]);
    assert!(!j.all().await.unwrap().iter().any(started_steps));
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// The journal's disk is full (here: a file size limit): a clear error and exit 1 within
/// seconds, never a silent wait on its own leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_run_with_a_clear_error() {
    let sb = commerce_sandbox::start(Config {
        orders: 30,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("full");
    let journal = dir.join("journal.sqlite");
    assert!(commerce(&journal, &["init"]).status.success());
    let j = journal.to_str().unwrap().to_owned();
    let (status, elapsed, out) = tokio::task::spawn_blocking(move || {
        // 200 blocks of 512 bytes: the write-ahead log soon outgrows it. SIGXFSZ is ignored,
        // so a write past it fails as on a full disk.
        let script = format!(
            "trap '' XFSZ; ulimit -f 200; exec '{}' --journal '{j}' run --watch --poll-interval 100ms",
            env!("CARGO_BIN_EXE_commerce")
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .envs(sb.env())
            .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
            .env_remove("COMMERCE_JOURNAL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let drain = child.stdout.take().unwrap();
        std::thread::spawn(move || std::io::copy(&mut BufReader::new(drain), &mut std::io::sink()));
        let status = wait_for(&mut child, Duration::from_secs(120));
        (status, started.elapsed(), rest(child))
    })
    .await
    .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.contains("journal") && out.contains("error:"), "{out}");
    assert!(elapsed < Duration::from_secs(90), "{elapsed:?}");
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// A stock pass on a journal whose disk is full (here: a file size limit SQLite's
/// write-ahead log cannot grow past): exit 1 with an error that says the journal cannot be
/// written (not "not a journal", not a usage error), and no update sent to bol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_pass_on_a_full_disk_sends_nothing_and_says_why() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("full-stock");
    let journal = dir.join("journal.sqlite");
    assert!(commerce(&journal, &["init"]).status.success());
    let j = journal.to_str().unwrap().to_owned();
    let env = sb.env();
    let out = tokio::task::spawn_blocking(move || {
        let script = format!(
            "trap '' XFSZ; ulimit -f 1; exec '{}' --journal '{j}' stock",
            env!("CARGO_BIN_EXE_commerce")
        );
        Command::new("sh")
            .args(["-c", &script])
            .envs(env)
            .env_remove("COMMERCE_JOURNAL")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot be written"), "{err}");
    assert_eq!(sb.report().stock.stock_updates, 0, "{err}");
    std::fs::remove_dir_all(journal.parent().unwrap()).unwrap();
}

/// Unreadable records are listed by `attention` with what to do, make `run` exit 2, and do
/// not stop the purge of the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_are_listed_counted_and_passed_over_by_the_purge() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("unreadable");
    let journal = SqliteJournal::create(&path).unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(90);
    for id in ["1", "2", "3"] {
        let mut r = OrderRecord::new(commerce_core::Order {
            id: id.into(),
            channel: "bol".into(),
            customer: commerce_core::Customer {
                email: format!("buyer{id}@example.com"),
                ..Default::default()
            },
            ..Default::default()
        });
        r.completed_at = (id != "3").then_some(long_ago);
        journal.add(&r).await.unwrap();
    }
    drop(journal);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE orders SET record = '{\"key\": \"bol:1\", \"cut short' WHERE key = 'bol:1'",
        [],
    )
    .unwrap();
    db.execute("UPDATE orders SET record = 'garbage' WHERE key = 'bol:3'", [])
        .unwrap();
    drop(db);
    let attention = commerce(&path, &["attention"]);
    let said = text(&attention);
    assert!(
        said.contains("bol:1") && said.contains("bol:3") && said.contains("unreadable"),
        "{said}"
    );
    assert!(said.contains("commerce retry bol:3"), "{said}");
    let out = run_against(&sb, &path, &["run", "--poll-interval", "100ms"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("UNREADABLE"), "{}", text(&out));
    let journal = SqliteJournal::open_read_only(&path).unwrap();
    let two = journal.load("bol:2").await.unwrap().unwrap();
    assert!(
        two.purged_at.is_some() && two.order.customer.email.is_empty(),
        "{two:#?}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `resolve --submitted` is checked at the provider: a blank reference, a provider name
/// with a typo, a reference that is not there or is another order's are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_checks_the_reference_at_the_provider() {
    let sb = commerce_sandbox::start(Config {
        orders: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("resolve-check");
    let out = run_against(&sb, &path, &["run", "--init", "--poll-interval", "100ms"], &[]).await;
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    let journal = SqliteJournal::open_existing(&path).unwrap();
    let other = journal
        .all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.fulfilment.as_deref() == Some("shopwedo") && r.submission.is_done())
        .expect("an order handed over to ShopWeDo");
    let other_ref = other.submission.done().unwrap().reference.clone();
    // An order waiting for a person, routed to ShopWeDo.
    let mut waiting = OrderRecord::new(commerce_core::Order {
        id: "777".into(),
        channel: "bol".into(),
        lines: other.order.lines.clone(),
        ..Default::default()
    });
    waiting.fulfilment = Some("shopwedo".into());
    waiting.attention = Some("checked by hand".into());
    journal.add(&waiting).await.unwrap();
    let resolve = |args: &[&str]| {
        let args: Vec<&str> = ["resolve", "bol:777"].iter().chain(args).copied().collect();
        run_against(&sb, &path, &args, &[])
    };
    let blank = resolve(&["--submitted", " "]).await;
    let typo = resolve(&["--submitted", "90002", "--provider", "shopwdo"]).await;
    let missing = resolve(&["--submitted", "999999"]).await;
    let another = resolve(&["--submitted", &other_ref]).await;
    assert_eq!(blank.status.code(), Some(64), "{}", text(&blank));
    assert_eq!(typo.status.code(), Some(64), "{}", text(&typo));
    assert!(text(&typo).contains("shopwedo"), "{}", text(&typo));
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert_eq!(another.status.code(), Some(1), "{}", text(&another));
    assert!(text(&another).contains("is not bol:777"), "{}", text(&another));
    let r = journal.load("bol:777").await.unwrap().unwrap();
    assert_eq!(r.submission, Step::NotStarted, "{r:#?}");
}

/// `retry` refuses an order whose personal data was purged or that an operator cancelled;
/// `reopen` undoes a resolve while the flow has not acted since.
#[tokio::test]
async fn retry_refuses_purged_and_cancelled_orders_and_reopen_undoes_a_resolve() {
    let path = temp_journal("reopen");
    let journal = SqliteJournal::create(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.attention = Some("no stock".into());
    journal.add(&r).await.unwrap();
    let cancel = commerce(&path, &["resolve", "bol:1", "--cancel"]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    let retry = commerce(&path, &["retry", "bol:1"]);
    assert!(!retry.status.success(), "{}", text(&retry));
    assert!(text(&retry).contains("commerce reopen"), "{}", text(&retry));
    let reopen = commerce(&path, &["reopen", "bol:1"]);
    assert!(reopen.status.success(), "{}", text(&reopen));
    let back = journal.load("bol:1").await.unwrap().unwrap();
    assert_eq!(
        (back.cancelled.as_deref(), back.attention.as_deref()),
        (None, Some("no stock"))
    );
    let again = commerce(&path, &["reopen", "bol:1"]);
    assert!(!again.status.success(), "undone twice: {}", text(&again));
    // Cancelled, then purged (`run --retain-days 0`): never handed over with blank fields.
    assert!(
        commerce(&path, &["resolve", "bol:1", "--cancel"])
            .status
            .success()
    );
    assert_eq!(
        journal
            .purge_personal(chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    for args in [&["retry", "bol:1"][..], &["reopen", "bol:1"]] {
        let out = commerce(&path, args);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("purged"), "{}", text(&out));
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A record written by a newer release keeps the fields this one does not know when a
/// `retry` rewrites it.
#[tokio::test]
async fn fields_of_a_newer_release_survive_a_retry() {
    let path = temp_journal("newer");
    let journal = SqliteJournal::create(&path).unwrap();
    let mut r = OrderRecord::new(commerce_core::Order {
        id: "1".into(),
        channel: "bol".into(),
        ..Default::default()
    });
    r.attention = Some("check".into());
    journal.add(&r).await.unwrap();
    drop(journal);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE orders SET record = json_set(record, '$.returns', json('{\"step\":\"announced\"}'))",
        [],
    )
    .unwrap();
    drop(db);
    assert!(commerce(&path, &["retry", "bol:1"]).status.success());
    let db = rusqlite::Connection::open(&path).unwrap();
    let kept: String = db
        .query_row(
            "SELECT json_extract(record, '$.returns.step') FROM orders",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, "announced");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Values checked at the door: a contact phone that is not one, an empty runner name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_checked_before_anything_is_sent() {
    let sb = commerce_sandbox::start(Config {
        orders: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("door");
    let long = "5".repeat(100_000);
    let phone = [("COMMERCE_CONTACT_PHONE", "not a phone; DROP TABLE")];
    let phone = run_against(&sb, &path, &["run", "--init"], &phone).await;
    let long_phone = [("COMMERCE_CONTACT_PHONE", long.as_str())];
    let long_phone = run_against(&sb, &path, &["run", "--init"], &long_phone).await;
    let runner = run_against(&sb, &path, &["run", "--init", "--runner", ""], &[]).await;
    for out in [&phone, &long_phone] {
        assert_eq!(out.status.code(), Some(64), "{}", text(out));
        assert!(text(out).contains("COMMERCE_CONTACT_PHONE"), "{}", text(out));
        assert!(text(out).len() < 2000, "the value is not repeated");
    }
    assert_eq!(runner.status.code(), Some(64), "{}", text(&runner));
    assert_eq!(sb.report().total_requests(), 0, "{:#?}", sb.report());
}

/// A journal records the bol credential it serves: a run with another one is refused before
/// anything is read or sent, and `--new-credentials` records the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_refuses_another_accounts_credentials() {
    let sb = commerce_sandbox::start(Config {
        orders: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let path = temp_journal("account");
    let other_client = [("RETAILER_CLIENT_ID", "another-shops-client")];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = ["run", "--poll-interval", "100ms"]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        run_against(&sb, &path, &args, env)
    };
    let first = run(&["--init"], &[]).await;
    assert!(matches!(first.status.code(), Some(0 | 2)), "{}", text(&first));
    let before = sb.report().total_requests();
    let other = run(&[], &other_client).await;
    assert_eq!(other.status.code(), Some(1), "{}", text(&other));
    assert!(text(&other).contains("another-shops-client"), "{}", text(&other));
    assert_eq!(sb.report().total_requests(), before, "a request was sent");
    // New credentials of the same shop: recorded (the sandbox then refuses the unknown
    // client id, which is another error).
    let renewed = run(&["--new-credentials"], &other_client).await;
    assert!(
        !text(&renewed).contains("--new-credentials"),
        "{}",
        text(&renewed)
    );
}

/// A typo in the token URL (404) or `https://` to a port that speaks plain HTTP: a
/// configuration error naming the variables to check, exit 1 within seconds, not an
/// authentication failure retried for minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_url_or_scheme_stops_the_run_at_once_naming_the_variables() {
    let sb = commerce_sandbox::start(Config {
        orders: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let env = sb.env();
    let token_url = env
        .iter()
        .find(|(k, _)| *k == "RETAILER_TOKEN_URL")
        .unwrap()
        .1
        .clone();
    let plain = sb.url().replacen("http://", "https://", 1);
    let cases = vec![
        (
            "RETAILER_TOKEN_URL",
            format!("{}/typo", token_url.trim_end_matches('/')),
        ),
        ("RETAILER_API_URL", plain),
    ];
    for (name, value) in cases {
        let path = temp_journal(&format!("url-{name}"));
        let started = Instant::now();
        let out = run_against(
            &sb,
            &path,
            &["run", "--init", "--poll-interval", "100ms"],
            &[(name, &value)],
        )
        .await;
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {said}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name}: {:?}",
            started.elapsed()
        );
        assert!(
            said.contains("RETAILER_TOKEN_URL") && said.contains("RETAILER_API_URL"),
            "{name}: {said}"
        );
        assert!(said.contains("configuration error"), "{name}: {said}");
    }
}

/// Two processes given one `--runner` still hold their orders apart: the journal records
/// the name with the process id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_name_is_the_processs_own() {
    let sb = commerce_sandbox::start(Config {
        orders: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir("runner-name");
    let j = dir.join("journal.sqlite").to_str().unwrap().to_owned();
    let (pid, out) = tokio::task::spawn_blocking(move || {
        let mut child = spawn(
            &sb,
            &dir,
            &["--journal", &j, "run", "--init", "--runner", "web"],
            &[],
        );
        let pid = child.id();
        wait_for(&mut child, Duration::from_secs(60));
        (pid, rest(child))
    })
    .await
    .unwrap();
    assert!(out.contains(&format!("runner web.{pid},")), "{out}");
}
