//! Several `commerce run` processes on one journal against one sandbox, with faults, and
//! one of them killed (`kill -9`) mid-run and started again: nothing is done twice, every
//! order ends completed or waiting for a person (with the reason), none is lost.
//!
//! The sandbox runs in the test process; the runners are real processes of the `commerce`
//! binary, pointed at it through the environment as an operator would point them at the
//! providers.

mod support;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use commerce_facade::{Journal, SqliteJournal};
use commerce_sandbox::{Config, Sandbox};
use support::{SHOP_PHONE, temp_dir};

/// A `commerce run` process; its output goes to `<dir>/<name>.log`.
fn runner(sb: &Sandbox, dir: &Path, name: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(["--journal"])
        .arg(dir.join("journal.sqlite"))
        .args([
            "run",
            "--poll-interval",
            "100ms",
            "--concurrency",
            "2",
            "--lease",
            "3s",
            "--untracked-after",
            "1s",
            "--runner",
            name,
        ])
        .envs(sb.env())
        // The shop's contact phone, as an operator sets it (bol leaves the buyer's out of
        // most orders; ShopWeDo requires one).
        .env("COMMERCE_CONTACT_PHONE", SHOP_PHONE)
        .env_remove("COMMERCE_JOURNAL")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits for `child` (at most `limit`).
async fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("a runner did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out += &format!("--- {} (last lines)\n", path.display());
            for line in tail.into_iter().rev() {
                out += line;
                out += "\n";
            }
        }
    }
    out
}

async fn runners_share_one_journal(processes: usize, orders: usize, seed: u64) {
    let sb = commerce_sandbox::start(Config {
        orders,
        faults: 0.2,
        seed,
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = temp_dir(&format!("runners-{processes}"));
    let mut children: Vec<(String, Child)> = (0..processes)
        .map(|i| {
            let name = format!("runner-{i}");
            let child = runner(&sb, &dir, &name);
            (name, child)
        })
        .collect();
    // Once some orders are under way, the first runner is killed (SIGKILL: no clean-up, its
    // leases stay until they run out) and started again under a new name.
    let journal_path = dir.join("journal.sqlite");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let submitted = SqliteJournal::open(&journal_path)
            .and_then(|j| Ok(j.all()?))
            .map(|all| all.iter().filter(|r| r.submission.is_done()).count())
            .unwrap_or(0);
        if submitted >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no order submitted in 60 s\n{}",
            logs(&dir)
        );
    }
    children[0].1.kill().unwrap();
    let killed = children[0].1.wait().unwrap();
    assert!(!killed.success(), "killed mid-run: {killed:?}\n{}", logs(&dir));
    children[0] = ("runner-restarted".into(), runner(&sb, &dir, "runner-restarted"));

    let mut statuses = Vec::new();
    for (name, child) in &mut children {
        let status = wait(child, Duration::from_secs(240)).await;
        statuses.push((name.clone(), status.code()));
    }
    let report = sb.report();
    let journal = SqliteJournal::open(&journal_path).unwrap();
    let records = journal.all().unwrap();
    let diagnostics = format!("{statuses:?}\n{report:#?}\n{}", logs(&dir));
    for (name, code) in &statuses {
        assert!(
            matches!(code, Some(0) | Some(2)),
            "{name} ended with {code:?} (0: all completed, 2: some need a person)\n{diagnostics}"
        );
    }
    assert!(report.total_faults() > 0, "faults were injected\n{diagnostics}");
    // Nothing done twice.
    assert_eq!(report.total_duplicates(), 0, "{diagnostics}");
    // None lost: every order of the sandbox is in the journal (an order split over both
    // providers with a record per part), completed, cancelled or waiting for a person with
    // the reason; no lease is left.
    let ids: std::collections::BTreeSet<&str> = records.iter().map(|r| r.order.id.as_str()).collect();
    assert_eq!(ids.len(), orders, "{diagnostics}");
    let mut completed = 0;
    let lines = sb.bol_lines();
    for r in &records {
        if r.part_of.is_some() && r.attention.is_none() && r.cancelled.is_none() && r.completed_at.is_none() {
            panic!(
                "{} (a part) neither completed, cancelled nor with a person\n{diagnostics}",
                r.key
            );
        }
        if !r.split.is_empty() {
            // Split over both providers: each part is a record of its own, checked here too.
            for part in &r.split {
                assert!(
                    records.iter().any(|p| p.key == part.key),
                    "part {} lost\n{diagnostics}",
                    part.key
                );
            }
        }
        if !r.split.is_empty() && r.completed_at.is_none() && r.cancelled.is_none() && r.attention.is_none() {
            // Waits for a part that waits for a person.
            assert!(
                records
                    .iter()
                    .any(|p| p.part_of.as_deref() == Some(r.key.as_str()) && p.attention.is_some()),
                "{} waits for no part\n{diagnostics}",
                r.key
            );
        } else if r.completed_at.is_some() {
            completed += 1;
            assert!(
                (r.confirmation.is_done() || r.parts_done) && r.invitations.values().all(|s| s.is_done()),
                "{r:#?}"
            );
        } else if r.cancelled.is_some() {
            // Its buyer cancelled it: every line cancelled on bol, none shipped.
            let handled = |id: &String| {
                r.order.lines.iter().any(|o| &o.line_id == id) || r.dropped_lines.contains_key(id)
            };
            for l in lines
                .iter()
                .filter(|l| l.order_id == r.order.id && handled(&l.line_id))
            {
                assert_eq!((l.cancelled, l.shipped), (l.quantity, 0), "{l:?} {r:#?}");
            }
        } else {
            let reason = r.attention.as_deref().unwrap_or_else(|| {
                panic!(
                    "{} neither completed nor waiting for a person: {r:#?}\n{diagnostics}",
                    r.key
                )
            });
            assert!(
                reason.contains("may have received")
                    || reason.contains("reports the order")
                    || reason.contains("cannot cancel")
                    || reason.contains("cancels whole orders only"),
                "{reason}"
            );
        }
    }
    assert!(completed > 0, "{diagnostics}");
    assert_eq!(
        journal.leases(chrono::Utc::now()).unwrap(),
        vec![],
        "no lease left"
    );
    // The shipments and invitations made match the journal: one per order that got there.
    let confirmed = records.iter().filter(|r| r.confirmation.is_done()).count() as u64;
    let unconfirmed: Vec<String> = records
        .iter()
        .filter(|r| !r.confirmation.is_done())
        .map(|r| {
            format!(
                "{} {} {:?} {:?}: {:?}",
                r.key,
                r.stage(),
                r.confirmation,
                r.attention,
                journal.history(&r.key).unwrap()
            )
        })
        .collect();
    assert_eq!(
        report.created("bol", "shipments"),
        confirmed,
        "{unconfirmed:#?}\n{diagnostics}"
    );
    let submitted = report.created("shopwedo", "orders") + report.created("customer", "orders");
    // At most one per record that began its hand-over (one of unknown outcome may or may
    // not have arrived).
    let begun = records
        .iter()
        .filter(|r| r.submission != commerce_facade::Step::NotStarted)
        .count() as u64;
    assert!(submitted <= begun, "{diagnostics}");
    eprintln!(
        "{processes} runners, {orders} orders ({} records): {completed} completed, {} need a person, {} faults, statuses {statuses:?}",
        records.len(),
        records.iter().filter(|r| r.attention.is_some()).count(),
        report.total_faults()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runner_processes_with_faults_and_a_kill_do_nothing_twice_and_lose_nothing() {
    runners_share_one_journal(2, 12, 31).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_runner_processes_with_faults_and_a_kill_do_nothing_twice_and_lose_nothing() {
    runners_share_one_journal(4, 16, 47).await;
}
