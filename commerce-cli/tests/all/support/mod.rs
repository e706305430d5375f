//! Shared by the `commerce` binary's tests: running it, reading what it printed, scratch
//! folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The shop's contact phone, as an operator sets `COMMERCE_CONTACT_PHONE` (bol leaves the
/// buyer's out of most orders; ShopWeDo requires one).
pub const SHOP_PHONE: &str = "+31201234567";

/// An empty scratch folder for this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("commerce-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A journal path in a fresh scratch folder.
pub fn temp_journal(name: &str) -> PathBuf {
    temp_dir(name).join("journal.sqlite")
}

/// Runs `commerce --journal JOURNAL ARGS...` to its end.
pub fn commerce(journal: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commerce"))
        .arg("--journal")
        .arg(journal)
        .args(args)
        .env_remove("COMMERCE_JOURNAL")
        .output()
        .unwrap()
}

/// What it printed, both streams.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Its `--json` answer, after it succeeded.
pub fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The message of its `--json` error.
pub fn json_error(o: &Output) -> String {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)));
    v["error"].as_str().unwrap().to_owned()
}

/// A bol order in `journal`, held by `runner-a` for five minutes (as a running `commerce
/// run` would hold it).
pub async fn add_held(journal: &commerce_facade::SqliteJournal, record: &commerce_facade::OrderRecord) {
    use commerce_facade::Journal;
    journal.add(record).await.unwrap();
    let now = chrono::Utc::now();
    journal
        .claim(
            "runner-a",
            &["bol".to_owned()],
            now,
            now + chrono::Duration::minutes(5),
        )
        .await
        .unwrap()
        .unwrap();
}

/// A new database on the PostgreSQL server `COMMERCE_TEST_POSTGRES` names (`.ci/postgres
/// start DIR` starts a throw-away one); its address.
#[cfg(feature = "postgres")]
pub fn pg_database(name: &str) -> String {
    let server = std::env::var("COMMERCE_TEST_POSTGRES")
        .expect("COMMERCE_TEST_POSTGRES must name a PostgreSQL server for the `postgres` tests");
    let name = format!(
        "commerce_cli_{}_{name}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    commerce_facade::Postgres::create_database(&server, &name).unwrap()
}
