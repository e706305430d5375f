//! The journal's rules (`commerce_testing::facade::journal_suite`) over the memory journal
//! and SQLite; the `postgres` module runs the same suite over PostgreSQL. The memory journal is the one
//! every flow test uses: it keeps the same rules as the journals runners use.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use commerce_facade::{Journal, MemoryJournal, OfferRecord, SqliteJournal};
use commerce_testing::facade::journal_suite::{Subject, conformance};

#[tokio::test]
async fn the_memory_journal_keeps_the_rules_of_every_journal() {
    conformance(&Subject {
        name: "memory",
        fresh: Box::new(|| {
            let j: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
            (j.clone(), j)
        }),
        spoil_offer: None,
    })
    .await;
}

/// Two handles on one file: two runner processes.
#[tokio::test]
async fn the_sqlite_journal_keeps_the_rules_of_every_journal() {
    let dir = std::env::temp_dir().join(format!("journal-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let n = AtomicUsize::new(0);
    let d = dir.clone();
    conformance(&Subject {
        name: "sqlite",
        fresh: Box::new(move || {
            let path = d.join(format!("j{}.sqlite", n.fetch_add(1, Ordering::SeqCst)));
            let a: Arc<dyn Journal> = Arc::new(SqliteJournal::create(&path).unwrap());
            let b: Arc<dyn Journal> = Arc::new(SqliteJournal::open_existing(&path).unwrap());
            (a, b)
        }),
        spoil_offer: Some(Box::new(|journal, channel, offer_id| {
            let conn = rusqlite::Connection::open(journal.location()).unwrap();
            let changed = conn
                .execute(
                    "UPDATE offers SET record = '{\"channel\": \"bol\", cut short' WHERE channel = ?1 AND offer_id = ?2",
                    (channel, offer_id),
                )
                .unwrap();
            assert_eq!(changed, 1, "{channel} {offer_id}");
        })),
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The variable that makes [`pass_racer`] race: `PATH|RUNNER|ROUNDS`.
const RACER: &str = "COMMERCE_TEST_PASS_RACER";

/// Not a test of its own: one of the processes [`two_processes_never_hold_one_pass_at_once`]
/// starts (it returns at once otherwise). Claims the pass `stock` of the journal at `PATH`
/// as `RUNNER`, `ROUNDS` times, `force`d (nothing but a live lease stops it); while it
/// holds the pass it creates a marker file that must not exist (another process holding
/// the pass at the same time would have it), writes one offer, then removes the marker
/// and ends the pass. Writes how many times it held the pass beside the journal.
#[tokio::test]
async fn pass_racer() {
    let Ok(spec) = std::env::var(RACER) else {
        return;
    };
    let [path, runner, rounds] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("{RACER}={spec}");
    };
    let (path, rounds) = (std::path::Path::new(path), rounds.parse::<usize>().unwrap());
    let journal = SqliteJournal::open_existing(path).unwrap();
    let marker = path.with_extension("held");
    // Both processes start racing together: each says it is ready and waits for the other.
    std::fs::write(path.with_extension(format!("ready-{runner}")), "").unwrap();
    let others_ready = || {
        std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".ready-")
            })
            .count()
            == 2
    };
    let start = std::time::Instant::now();
    while !others_ready() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the other racer never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut held = 0;
    for round in 0..rounds {
        let now = chrono::Utc::now();
        if !journal
            .claim_pass("stock", runner, now, now + chrono::Duration::minutes(10), true)
            .await
            .unwrap()
        {
            continue;
        }
        held += 1;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .unwrap_or_else(|e| panic!("{runner}, round {round}: another process holds the pass too ({e})"));
        let offer = OfferRecord::new("bol", format!("{runner}-{round}"));
        journal
            .save_offers("stock", runner, &[(offer, Some(format!("round {round}")))])
            .await
            .unwrap();
        std::fs::remove_file(&marker).unwrap();
        let now = chrono::Utc::now();
        journal
            .end_pass("stock", runner, now, now, &format!("{runner} {round}"))
            .await
            .unwrap();
    }
    std::fs::write(path.with_extension(format!("held-by-{runner}")), held.to_string()).unwrap();
}

/// Two runner processes on one SQLite journal claim one pass, 150 times each, as fast as
/// they can: never do both hold it at once, and every offer the holder wrote is there.
#[tokio::test]
async fn two_processes_never_hold_one_pass_at_once() {
    const ROUNDS: usize = 150;
    let dir = std::env::temp_dir().join(format!("journal-pass-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.sqlite");
    drop(SqliteJournal::create(&path).unwrap());
    // The racer's name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let racer = format!("{module}::pass_racer");
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|runner| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", racer.as_str(), "--test-threads=1"])
                .env(RACER, format!("{}|{runner}|{ROUNDS}", path.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for (runner, child) in ["a", "b"].into_iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "racer {runner}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let held: usize = std::fs::read_to_string(path.with_extension(format!("held-by-{runner}")))
            .unwrap()
            .parse()
            .unwrap();
        eprintln!("racer {runner} held the pass {held} times of {ROUNDS}");
        total += held;
    }
    assert!(total > 0, "neither racer ever held the pass");
    let journal = SqliteJournal::open_existing(&path).unwrap();
    let offers = journal.offers().await.unwrap();
    assert_eq!(offers.len(), total, "one offer a hold");
    for offer in &offers {
        let (runner, round) = offer.offer_id.split_once('-').unwrap();
        let history = journal.history(&offer.key()).await.unwrap();
        assert_eq!(history.len(), 1, "{}", offer.offer_id);
        assert_eq!(
            (history[0].by.as_str(), history[0].note.as_str()),
            (runner, format!("round {round}").as_str())
        );
    }
    let pass = journal.pass("stock").await.unwrap().unwrap();
    assert_eq!(pass.lease, None, "the last holder ended it");
    assert!(!path.with_extension("held").exists());
    drop(journal);
    std::fs::remove_dir_all(&dir).unwrap();
}
