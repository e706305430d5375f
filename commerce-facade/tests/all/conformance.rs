//! The journal's rules (`commerce_testing::facade::journal_suite`) over the memory journal
//! and SQLite; the `postgres` module runs the same suite over PostgreSQL. The memory journal is the one
//! every flow test uses: it keeps the same rules as the journals runners use.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use commerce_facade::{Journal, MemoryJournal, SqliteJournal};
use commerce_testing::facade::journal_suite::{Subject, conformance};

#[tokio::test]
async fn the_memory_journal_keeps_the_rules_of_every_journal() {
    conformance(&Subject {
        name: "memory",
        fresh: Box::new(|| {
            let j: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
            (j.clone(), j)
        }),
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
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
