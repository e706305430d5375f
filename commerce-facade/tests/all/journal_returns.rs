//! The journal's return records, the same rules on every journal (memory, SQLite, and
//! PostgreSQL with the `postgres` feature and `COMMERCE_TEST_POSTGRES`): the returns pass
//! alone writes them ([`Journal::save_returns`], refused without the pass); a person's
//! change ([`Journal::amend_return`]) is refused while a runner holds the pass, and never
//! overwrites, nor is overwritten by, a runner's write it did not see: neither when a
//! runner claims the pass or saves between the person's read and write (an interleaving
//! forced from inside the change), nor when two threads race on one journal for many
//! rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use commerce_core::HandlingResult;
use commerce_facade::{
    HandleDecision, Journal, JournalError, MemoryJournal, ReturnRecord, SqliteJournal, return_key,
    returns_pass,
};

/// Two handles on one journal (two runner processes), fresh for each call.
type Fresh = Box<dyn Fn() -> (Arc<dyn Journal>, Arc<dyn Journal>) + Send + Sync>;

/// Garbles the stored text of a return record (by key), as a hand edit would.
type Spoil = Box<dyn Fn(&dyn Journal, &str) + Send + Sync>;

const PASS: &str = "returns:bol";

fn item(rma: &str) -> ReturnRecord {
    ReturnRecord {
        key: return_key("bol", rma),
        channel: "bol".into(),
        return_id: "R-1".into(),
        rma_id: rma.into(),
        order_id: "1043965710".into(),
        ean: "8712345678906".into(),
        expected: 1,
        reason: Some("Product is defect".into()),
        ..Default::default()
    }
}

fn t0() -> DateTime<Utc> {
    Utc::now()
}

/// Claims the pass for `runner` for an hour from `now`.
async fn claim(j: &dyn Journal, runner: &str, now: DateTime<Utc>) {
    assert!(
        j.claim_pass(PASS, runner, now, now + Duration::hours(1), true)
            .await
            .unwrap(),
        "{runner} takes the pass"
    );
}

/// A change that says what it did, and counts its calls.
fn decide(calls: &AtomicUsize) -> impl FnMut(&mut ReturnRecord) -> Result<String, String> + Send + '_ {
    move |r| {
        calls.fetch_add(1, Ordering::SeqCst);
        r.decision = Some(HandleDecision {
            result: HandlingResult::ReturnDoesNotMeetConditions,
            quantity: 1,
            by: "operator".into(),
        });
        r.attention = None;
        Ok("decided: RETURN_DOES_NOT_MEET_CONDITIONS x1".into())
    }
}

async fn saving_needs_the_pass(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    assert_eq!(returns_pass("bol"), PASS);
    let records = [(item("1"), Some("seen on bol".to_owned()))];
    // Nobody ever took the pass.
    let err = a.save_returns(PASS, "a", &records).await.unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost { .. }), "{name}: {err:?}");
    // Another runner holds it.
    claim(b.as_ref(), "b", t0()).await;
    let err = a.save_returns(PASS, "a", &records).await.unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost { .. }), "{name}: {err:?}");
    // The pass of another channel does not do either.
    assert!(
        a.claim_pass("returns:other", "a", t0(), t0() + Duration::hours(1), true)
            .await
            .unwrap()
    );
    let err = a.save_returns(PASS, "a", &records).await.unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost { .. }), "{name}: {err:?}");
    assert!(a.returns().await.unwrap().is_empty(), "{name}: nothing written");
    assert!(
        a.history(&return_key("bol", "1")).await.unwrap().is_empty(),
        "{name}: no note written"
    );
}

async fn the_holder_saves_and_everyone_reads(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    claim(a.as_ref(), "a", t0()).await;
    let mut second = item("2");
    second.title = Some("Koffiemolen".into());
    a.save_returns(
        PASS,
        "a",
        &[
            (second.clone(), Some("seen on bol".to_owned())),
            (item("1"), None),
        ],
    )
    .await
    .unwrap();
    // Read by the other process: ordered by key, each by its key.
    let all = b.returns().await.unwrap();
    let keys: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["return:bol:1", "return:bol:2"], "{name}");
    assert_eq!(
        b.load_return("return:bol:2").await.unwrap(),
        Some(second.clone()),
        "{name}"
    );
    assert_eq!(b.load_return("return:bol:9").await.unwrap(), None, "{name}");
    let history = b.history("return:bol:2").await.unwrap();
    assert_eq!(history.len(), 1, "{name}: {history:?}");
    assert_eq!(
        (history[0].by.as_str(), history[0].note.as_str()),
        ("a", "seen on bol")
    );
    assert!(
        b.history("return:bol:1").await.unwrap().is_empty(),
        "{name}: no note, no entry"
    );
    // A second save replaces the record, and adds to its history.
    second.checks = 3;
    second.completed_at = Some(t0());
    a.save_returns(PASS, "a", &[(second.clone(), Some("handled on bol".to_owned()))])
        .await
        .unwrap();
    assert_eq!(
        b.load_return("return:bol:2").await.unwrap(),
        Some(second),
        "{name}"
    );
    assert_eq!(b.returns().await.unwrap().len(), 2, "{name}: replaced, not added");
    let notes: Vec<String> = b
        .history("return:bol:2")
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect();
    assert_eq!(notes, ["seen on bol", "handled on bol"], "{name}");
    // A return's history is its own, beside the orders'.
    assert!(b.history("bol:1043965710").await.unwrap().is_empty(), "{name}");
}

async fn a_person_waits_for_the_pass(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    let now = t0();
    claim(a.as_ref(), "a", now).await;
    let mut waiting = item("1");
    waiting.attention = Some("2 received, 1 expected".into());
    waiting.due = Some(now + Duration::hours(3));
    a.save_returns(PASS, "a", &[(waiting.clone(), None)])
        .await
        .unwrap();
    let calls = AtomicUsize::new(0);
    // While the lease lasts: busy, nothing asked of the change, nothing written.
    let err = b
        .amend_return(
            PASS,
            &waiting.key,
            "operator",
            now + Duration::minutes(59),
            &mut decide(&calls),
        )
        .await
        .unwrap_err();
    match err {
        JournalError::Busy { key, runner, until } => {
            assert_eq!((key.as_str(), runner.as_str()), ("return:bol:1", "a"), "{name}");
            assert_eq!(
                until.timestamp(),
                (now + Duration::hours(1)).timestamp(),
                "{name}"
            );
        }
        other => panic!("{name}: {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}");
    assert_eq!(
        b.load_return(&waiting.key).await.unwrap(),
        Some(waiting.clone()),
        "{name}"
    );
    assert!(b.history(&waiting.key).await.unwrap().is_empty(), "{name}");
    // Once its lease ended (the runner died): the change is made, due at once, noted by
    // the person.
    let later = now + Duration::hours(2);
    let changed = b
        .amend_return(PASS, &waiting.key, "operator", later, &mut decide(&calls))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
    assert_eq!(changed.due, None, "{name}");
    assert_eq!(changed.attention, None, "{name}");
    assert_eq!(
        changed.decision.as_ref().map(|d| (d.result.clone(), d.quantity)),
        Some((HandlingResult::ReturnDoesNotMeetConditions, 1)),
        "{name}"
    );
    assert_eq!(
        a.load_return(&waiting.key).await.unwrap(),
        Some(changed.clone()),
        "{name}"
    );
    let history = a.history(&waiting.key).await.unwrap();
    assert_eq!(history.len(), 1, "{name}");
    assert_eq!(
        (history[0].by.as_str(), history[0].note.as_str()),
        ("operator", "decided: RETURN_DOES_NOT_MEET_CONDITIONS x1"),
        "{name}"
    );
    // The runner whose lease ended cannot write over the change (it lost the pass) …
    let err = a
        .save_returns(PASS, "a", &[(waiting.clone(), None)])
        .await
        .unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost { .. }), "{name}: {err:?}");
    assert_eq!(
        a.load_return(&waiting.key).await.unwrap(),
        Some(changed.clone()),
        "{name}"
    );
    // … and a runner taking the pass afterwards reads the change.
    claim(a.as_ref(), "c", later).await;
    assert_eq!(
        a.load_return(&waiting.key).await.unwrap(),
        Some(changed.clone()),
        "{name}"
    );
    // A pass ended (no lease at all): the change is made too.
    a.end_pass(PASS, "c", later, later, "1 return").await.unwrap();
    let again = b
        .amend_return(
            PASS,
            &waiting.key,
            "operator",
            later,
            &mut |r: &mut ReturnRecord| {
                r.left = Some("handled in bol's pages".into());
                Ok("left: handled in bol's pages".into())
            },
        )
        .await
        .unwrap();
    assert!(!again.is_open(), "{name}");
    assert_eq!(b.history(&waiting.key).await.unwrap().len(), 2, "{name}");
    let pass = b.pass(PASS).await.unwrap().expect("the pass ran");
    assert_eq!(
        pass.last_summary.as_deref(),
        Some("1 return"),
        "{name}: the pass kept"
    );
}

async fn unknown_and_refused_changes_write_nothing(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    let now = t0();
    let calls = AtomicUsize::new(0);
    // No pass ever ran, no such return.
    let err = b
        .amend_return(PASS, "return:bol:404", "operator", now, &mut decide(&calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, JournalError::NotFound(ref k) if k == "return:bol:404"),
        "{name}: {err:?}"
    );
    assert_eq!(
        b.pass(PASS).await.unwrap(),
        None,
        "{name}: a refused change leaves no pass behind"
    );
    claim(a.as_ref(), "a", now).await;
    let record = item("1");
    a.save_returns(PASS, "a", &[(record.clone(), None)])
        .await
        .unwrap();
    a.end_pass(PASS, "a", now, now, "1 return").await.unwrap();
    let err = b
        .amend_return(PASS, "return:bol:404", "operator", now, &mut decide(&calls))
        .await
        .unwrap_err();
    assert!(matches!(err, JournalError::NotFound(_)), "{name}: {err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}");
    // The change refuses: nothing written, its reason given.
    let err = b
        .amend_return(PASS, &record.key, "operator", now, &mut |r: &mut ReturnRecord| {
            r.attention = Some("half-made change".into());
            Err("1 unit expected, 2 asked".to_owned())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, JournalError::Refused(ref why) if why == "1 unit expected, 2 asked"),
        "{name}: {err:?}"
    );
    assert_eq!(
        b.load_return(&record.key).await.unwrap(),
        Some(record.clone()),
        "{name}"
    );
    assert!(b.history(&record.key).await.unwrap().is_empty(), "{name}");
    // The pass is as the runner left it.
    let pass = b.pass(PASS).await.unwrap().unwrap();
    assert_eq!(
        (pass.lease, pass.last_summary.as_deref()),
        (None, Some("1 return")),
        "{name}"
    );
}

async fn a_newer_releases_fields_are_kept(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    let now = t0();
    let mut record = item("1");
    record.unknown.insert(
        "refund".into(),
        serde_json::json!({"amount": "12.95", "at": "later"}),
    );
    claim(a.as_ref(), "a", now).await;
    a.save_returns(PASS, "a", &[(record.clone(), None)])
        .await
        .unwrap();
    a.end_pass(PASS, "a", now, now, "").await.unwrap();
    let read = b.load_return(&record.key).await.unwrap().unwrap();
    assert_eq!(read.unknown["refund"]["amount"], "12.95", "{name}");
    let calls = AtomicUsize::new(0);
    let changed = b
        .amend_return(PASS, &record.key, "operator", now, &mut decide(&calls))
        .await
        .unwrap();
    assert_eq!(changed.unknown["refund"]["at"], "later", "{name}");
    let all = a.returns().await.unwrap();
    assert_eq!(
        all[0].unknown["refund"]["amount"], "12.95",
        "{name}: kept through a change"
    );
}

async fn an_unreadable_record_is_left_out(name: &str, fresh: &Fresh, spoil: &Spoil) {
    let (a, b) = fresh();
    let now = t0();
    claim(a.as_ref(), "a", now).await;
    a.save_returns(
        PASS,
        "a",
        &[(item("1"), None), (item("2"), None), (item("3"), None)],
    )
    .await
    .unwrap();
    a.end_pass(PASS, "a", now, now, "").await.unwrap();
    spoil(b.as_ref(), "return:bol:2");
    let keys: Vec<String> = b.returns().await.unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, ["return:bol:1", "return:bol:3"], "{name}: the others read");
    let err = b.load_return("return:bol:2").await.unwrap_err();
    assert!(matches!(err, JournalError::Unreadable(_)), "{name}: {err:?}");
    // A person's change of it does not read it as empty: refused, the row kept as it is.
    let calls = AtomicUsize::new(0);
    let err = b
        .amend_return(PASS, "return:bol:2", "operator", now, &mut decide(&calls))
        .await
        .unwrap_err();
    assert!(matches!(err, JournalError::Unreadable(_)), "{name}: {err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}");
    assert!(
        b.load_return("return:bol:2").await.is_err(),
        "{name}: kept as it was"
    );
}

/// Runs `work` to its end on a thread of its own with a runtime of its own: another
/// process's step, taken while the caller is inside a person's change.
fn meanwhile<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
    .unwrap()
}

/// Between the person's read and write, a runner takes the pass and reads the record (it
/// writes later): the change is not written (the runner's save would bury it), and the
/// person is told the pass is busy; the runner's write stands alone.
async fn a_claim_between_read_and_write_wins(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    let now = t0();
    claim(a.as_ref(), "a", now).await;
    let record = item("1");
    a.save_returns(PASS, "a", &[(record.clone(), None)])
        .await
        .unwrap();
    a.end_pass(PASS, "a", now, now, "").await.unwrap();
    let calls = AtomicUsize::new(0);
    let runner = a.clone();
    let mut seen: Option<ReturnRecord> = None;
    let mut change = |r: &mut ReturnRecord| {
        calls.fetch_add(1, Ordering::SeqCst);
        if seen.is_none() {
            let runner = runner.clone();
            seen = Some(meanwhile(async move {
                claim(runner.as_ref(), "c", Utc::now()).await;
                runner.load_return("return:bol:1").await.unwrap().unwrap()
            }));
        }
        r.failures = 99;
        Ok("the person's change".to_owned())
    };
    let err = b
        .amend_return(PASS, &record.key, "operator", now, &mut change)
        .await
        .unwrap_err();
    assert!(
        matches!(err, JournalError::Busy { ref runner, .. } if runner == "c"),
        "{name}: {err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
    let mut seen = seen.expect("the runner read it");
    seen.checks += 1;
    a.save_returns(PASS, "c", &[(seen, Some("asked the warehouse".to_owned()))])
        .await
        .unwrap();
    let stored = a.load_return(&record.key).await.unwrap().unwrap();
    assert_eq!(
        (stored.checks, stored.failures),
        (1, 0),
        "{name}: the runner's write stands alone"
    );
    let notes: Vec<String> = a
        .history(&record.key)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect();
    assert_eq!(notes, ["asked the warehouse"], "{name}");
}

/// Between the person's read and write, a runner whose lease ended (it does not know yet)
/// saves the record: the change is made again on the record as the runner left it, so
/// both are kept, and the runner then finds it lost the pass.
async fn a_save_between_read_and_write_is_kept(name: &str, fresh: &Fresh) {
    let (a, b) = fresh();
    let now = t0();
    claim(a.as_ref(), "a", now - Duration::hours(2)).await;
    let record = item("1");
    a.save_returns(PASS, "a", &[(record.clone(), None)])
        .await
        .unwrap();
    let calls = AtomicUsize::new(0);
    let runner = a.clone();
    let mut change = |r: &mut ReturnRecord| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let runner = runner.clone();
            meanwhile(async move {
                let mut seen = runner.load_return("return:bol:1").await.unwrap().unwrap();
                seen.checks += 1;
                runner
                    .save_returns(PASS, "a", &[(seen, Some("asked the warehouse".to_owned()))])
                    .await
                    .unwrap();
            });
        }
        r.failures += 1;
        Ok("the person's change".to_owned())
    };
    let changed = b
        .amend_return(PASS, &record.key, "operator", now, &mut change)
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "{name}: made again on a fresh copy"
    );
    assert_eq!((changed.checks, changed.failures), (1, 1), "{name}: both kept");
    assert_eq!(a.load_return(&record.key).await.unwrap(), Some(changed), "{name}");
    let err = a.save_returns(PASS, "a", &[(record, None)]).await.unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost { .. }), "{name}: {err:?}");
}

/// A runner thread takes the pass, reads, writes and ends it, round after round, while a
/// person's thread changes the record whenever the pass is free: every write that
/// returned is in the record (the runner's count and the person's count), none
/// overwritten, and each is in the history once.
async fn a_runner_and_a_person_race(name: &str, fresh: &Fresh, rounds: usize) {
    let (a, b) = fresh();
    let now = t0();
    claim(a.as_ref(), "a", now).await;
    let record = item("1");
    a.save_returns(PASS, "a", &[(record.clone(), None)])
        .await
        .unwrap();
    a.end_pass(PASS, "a", now, now, "").await.unwrap();
    let runner = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut saved = 0u32;
            for _ in 0..rounds {
                let now = Utc::now();
                if !a
                    .claim_pass(PASS, "runner", now, now + Duration::hours(1), true)
                    .await
                    .unwrap()
                {
                    continue;
                }
                let mut seen = a.load_return("return:bol:1").await.unwrap().unwrap();
                seen.checks += 1;
                a.save_returns(PASS, "runner", &[(seen, Some("runner".to_owned()))])
                    .await
                    .unwrap();
                saved += 1;
                a.end_pass(PASS, "runner", now, now, "").await.unwrap();
            }
            saved
        })
    });
    let person = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (mut changed, mut busy) = (0u32, 0u32);
            for _ in 0..rounds {
                let mut change = |r: &mut ReturnRecord| {
                    r.failures += 1;
                    Ok("person".to_owned())
                };
                match b
                    .amend_return(PASS, "return:bol:1", "operator", Utc::now(), &mut change)
                    .await
                {
                    Ok(_) => changed += 1,
                    Err(JournalError::Busy { .. }) => busy += 1,
                    // Changed under each attempt: nothing written, as the error says.
                    Err(JournalError::Storage(why)) if why.contains("attempts") => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            (changed, busy, b)
        })
    });
    let saved = runner.join().unwrap();
    let (changed, busy, b) = person.join().unwrap();
    eprintln!("{name}: runner {saved}, person {changed}, busy {busy}");
    let stored = b.load_return("return:bol:1").await.unwrap().unwrap();
    assert_eq!(
        (stored.checks, stored.failures),
        (saved, changed),
        "{name}: every write that returned is kept ({busy} changes found the pass busy)"
    );
    let history = b.history("return:bol:1").await.unwrap();
    let count = |who: &str| history.iter().filter(|h| h.note == who).count() as u32;
    assert_eq!((count("runner"), count("person")), (saved, changed), "{name}");
    assert!(saved > 0 && changed + busy > 0, "{name}: both ran");
}

async fn rules(name: &str, fresh: Fresh, spoil: Option<Spoil>, interleave: bool) {
    saving_needs_the_pass(name, &fresh).await;
    the_holder_saves_and_everyone_reads(name, &fresh).await;
    a_person_waits_for_the_pass(name, &fresh).await;
    unknown_and_refused_changes_write_nothing(name, &fresh).await;
    a_newer_releases_fields_are_kept(name, &fresh).await;
    if let Some(spoil) = &spoil {
        an_unreadable_record_is_left_out(name, &fresh, spoil).await;
    }
    if interleave {
        a_claim_between_read_and_write_wins(name, &fresh).await;
        a_save_between_read_and_write_is_kept(name, &fresh).await;
    }
    a_runner_and_a_person_race(name, &fresh, 200).await;
}

/// The memory journal holds its lock across a change: no step of another handle can come
/// between its read and its write (so the interleavings are not forced on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_journal_keeps_the_returns_rules() {
    rules(
        "memory",
        Box::new(|| {
            let j: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
            (j.clone(), j)
        }),
        None,
        false,
    )
    .await;
}

/// Two handles on one file: two runner processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_journal_keeps_the_returns_rules() {
    let dir = std::env::temp_dir().join(format!("journal-returns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let n = AtomicUsize::new(0);
    let d = dir.clone();
    rules(
        "sqlite",
        Box::new(move || {
            let path = d.join(format!("j{}.sqlite", n.fetch_add(1, Ordering::SeqCst)));
            let a: Arc<dyn Journal> = Arc::new(SqliteJournal::create(&path).unwrap());
            let b: Arc<dyn Journal> = Arc::new(SqliteJournal::open_existing(&path).unwrap());
            (a, b)
        }),
        Some(Box::new(|journal, key| {
            let conn = rusqlite::Connection::open(journal.location()).unwrap();
            let changed = conn
                .execute(
                    "UPDATE returns SET record = '{\"key\": \"return:bol:2\", cut short' WHERE key = ?1",
                    [key],
                )
                .unwrap();
            assert_eq!(changed, 1, "{key}");
        })),
        true,
    )
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two handles on one database, each with its own connections.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_journal_keeps_the_returns_rules() {
    use commerce_facade::Postgres;
    let Ok(admin) = std::env::var("COMMERCE_TEST_POSTGRES") else {
        panic!(
            "COMMERCE_TEST_POSTGRES must name a PostgreSQL server for the `postgres` tests \
             (`.ci/postgres start /tmp/pg` starts one and prints its address)"
        );
    };
    let n = AtomicUsize::new(0);
    rules(
        "postgres",
        Box::new(move || {
            let name = format!(
                "commerce_r_{}_{}_{}",
                std::process::id(),
                n.fetch_add(1, Ordering::SeqCst),
                Utc::now().timestamp_micros()
            );
            let url = Postgres::create_database(&admin, &name).unwrap();
            let a: Arc<dyn Journal> = Arc::new(Postgres::connect(&url).unwrap().journal());
            let b: Arc<dyn Journal> = Arc::new(Postgres::connect(&url).unwrap().journal());
            (a, b)
        }),
        Some(Box::new(|journal, key| {
            let (url, key) = (journal.location(), key.to_owned());
            let changed = std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.execute(
                    "UPDATE commerce_returns SET record = '{\"key\": \"return:bol:2\", cut short' WHERE key = $1",
                    &[&key],
                )
                .unwrap()
            })
            .join()
            .unwrap();
            assert_eq!(changed, 1);
        })),
        true,
    )
    .await;
}

/// The variable that makes [`returns_racer`] race: `PATH|ROLE|ROUNDS`.
const RACER: &str = "COMMERCE_TEST_RETURNS_RACER";

/// Not a test of its own: one of the processes [`a_runner_process_and_a_person_process_race`]
/// starts (it returns at once otherwise). As `runner`, takes the returns pass of the journal
/// at `PATH` `ROUNDS` times (`force`d), each time reading the return `return:bol:1`,
/// counting one more warehouse check in it, saving it and ending the pass; as `person`,
/// changes the same return `ROUNDS` times (one more in `failures`), as `commerce resolve`
/// would. Writes how many of its writes returned beside the journal.
#[tokio::test]
async fn returns_racer() {
    let Ok(spec) = std::env::var(RACER) else {
        return;
    };
    let [path, role, rounds] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("{RACER}={spec}");
    };
    let (path, rounds) = (std::path::Path::new(path), rounds.parse::<usize>().unwrap());
    let journal = SqliteJournal::open_existing(path).unwrap();
    // Both processes start racing together: each says it is ready and waits for the other.
    std::fs::write(path.with_extension(format!("ready-{role}")), "").unwrap();
    let start = std::time::Instant::now();
    while !(path.with_extension("ready-runner").exists() && path.with_extension("ready-person").exists()) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the other racer never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut written = 0u32;
    for _ in 0..rounds {
        let now = Utc::now();
        if role == "runner" {
            if !journal
                .claim_pass(PASS, "runner", now, now + Duration::minutes(10), true)
                .await
                .unwrap()
            {
                continue;
            }
            let mut seen = journal.load_return("return:bol:1").await.unwrap().unwrap();
            seen.checks += 1;
            journal
                .save_returns(PASS, "runner", &[(seen, Some("runner".to_owned()))])
                .await
                .unwrap();
            written += 1;
            journal.end_pass(PASS, "runner", now, now, "").await.unwrap();
        } else {
            let mut change = |r: &mut ReturnRecord| {
                r.failures += 1;
                Ok("person".to_owned())
            };
            match journal
                .amend_return(PASS, "return:bol:1", "operator", now, &mut change)
                .await
            {
                Ok(_) => written += 1,
                Err(JournalError::Busy { .. }) => {}
                Err(JournalError::Storage(why)) if why.contains("attempts") => {}
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    std::fs::write(
        path.with_extension(format!("written-by-{role}")),
        written.to_string(),
    )
    .unwrap();
}

/// A runner process and a person's process on one SQLite journal, 150 rounds each, as fast
/// as they can: every write that returned is in the record and in its history once; none
/// buried the other.
#[tokio::test]
async fn a_runner_process_and_a_person_process_race() {
    const ROUNDS: usize = 150;
    let dir = std::env::temp_dir().join(format!("journal-returns-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.sqlite");
    {
        let journal = SqliteJournal::create(&path).unwrap();
        let now = Utc::now();
        claim(&journal, "setup", now).await;
        journal
            .save_returns(PASS, "setup", &[(item("1"), None)])
            .await
            .unwrap();
        journal.end_pass(PASS, "setup", now, now, "").await.unwrap();
    }
    // The racer's name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let racer = format!("{module}::returns_racer");
    let roles = ["runner", "person"];
    let children: Vec<_> = roles
        .into_iter()
        .map(|role| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", racer.as_str(), "--test-threads=1"])
                .env(RACER, format!("{}|{role}|{ROUNDS}", path.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut written = Vec::new();
    for (role, child) in roles.into_iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "racer {role}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n: u32 = std::fs::read_to_string(path.with_extension(format!("written-by-{role}")))
            .unwrap()
            .parse()
            .unwrap();
        eprintln!("racer {role}: {n} writes of {ROUNDS}");
        written.push(n);
    }
    assert!(written[0] > 0, "the runner never held the pass");
    let journal = SqliteJournal::open_existing(&path).unwrap();
    let stored = journal.load_return("return:bol:1").await.unwrap().unwrap();
    assert_eq!(
        (stored.checks, stored.failures),
        (written[0], written[1]),
        "every write that returned is kept"
    );
    let history = journal.history("return:bol:1").await.unwrap();
    let count = |who: &str| history.iter().filter(|h| h.note == who).count() as u32;
    assert_eq!((count("runner"), count("person")), (written[0], written[1]));
    drop(journal);
    std::fs::remove_dir_all(&dir).unwrap();
}
