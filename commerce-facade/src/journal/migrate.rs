//! Migrations as numbered SQL files (`migrations/sqlite/NNNN_name.sql`,
//! `migrations/postgres/NNNN_name.sql`), embedded in the program. Migration `n` takes a
//! journal from schema `n - 1` to `n`. Each one applied is recorded with its number, name
//! and the SHA-256 of its text; a journal whose recorded migration differs from this
//! release's is refused ([`MigrationError::Changed`]), and so is one that records a
//! migration this release does not know ([`MigrationError::Newer`]).
//!
//! Journals of the releases before the table existed record their schema as a number
//! alone (SQLite's `user_version`, PostgreSQL's `commerce_schema`): the migrations up to
//! that number are recorded as applied, with this release's checksums, when such a journal
//! is first opened; the number is still written, so an older release refuses a newer
//! journal as it always did.

use sha2::{Digest, Sha256};

use super::MigrationError;

/// One migration: its number, its name and its SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Takes the schema from `number - 1` to `number`.
    pub(crate) number: i64,
    /// What it does, in a word or two (the file's name without its number).
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

impl Migration {
    /// The SHA-256 of its text, in hex (line ends normalised: a checkout that turns `\n`
    /// into `\r\n` changes no checksum).
    pub(crate) fn checksum(&self) -> String {
        checksum(self.sql)
    }
}

/// The SHA-256 of `sql` with `\r` removed, in hex.
pub(crate) fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.replace('\r', "").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

macro_rules! migration {
    ($dir:literal, $number:literal, $file:literal, $name:literal) => {
        Migration {
            number: $number,
            name: $name,
            sql: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/",
                $dir,
                "/",
                $file,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

/// The SQLite journal's first table (schema 0), created for a new journal before its
/// migrations run.
pub(crate) const SQLITE_BASE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/migrations/sqlite/0000_orders.sql"
));

/// The SQLite journal's migrations, in order.
pub(crate) const SQLITE: &[Migration] = &[
    migration!("sqlite", 1, "0001", "completed_at"),
    migration!("sqlite", 2, "0002", "schedule_and_history"),
    migration!("sqlite", 3, "0003", "accounts"),
    migration!("sqlite", 4, "0004", "shared_state"),
    migration!("sqlite", 5, "0005", "rank"),
    migration!("sqlite", 6, "0006", "offers_and_passes"),
    migration!("sqlite", 7, "0007", "returns"),
    migration!("sqlite", 8, "0008", "events"),
];

/// The PostgreSQL journal's migrations, in order.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    migration!("postgres", 1, "0001", "journal_and_stores"),
    migration!("postgres", 2, "0002", "accounts"),
    migration!("postgres", 3, "0003", "rank"),
    migration!("postgres", 4, "0004", "offers_and_passes"),
    migration!("postgres", 5, "0005", "returns"),
    migration!("postgres", 6, "0006", "events"),
];

/// The schema the migrations lead to.
pub(crate) const fn latest(migrations: &[Migration]) -> i64 {
    match migrations.last() {
        Some(m) => m.number,
        None => 0,
    }
}

/// What a journal needs, from what it records: `recorded`, the `(number, checksum)` of
/// each migration recorded as applied; `legacy`, the schema number it records otherwise
/// (journals of earlier releases record no migration). Returns the migrations to record
/// as applied without running them (those of a legacy schema) and those to run, or why
/// the journal is refused.
pub(crate) fn plan(
    migrations: &'static [Migration],
    recorded: &[(i64, String)],
    legacy: i64,
) -> Result<(Vec<Migration>, Vec<Migration>), MigrationError> {
    let supported = latest(migrations);
    let newest_recorded = recorded.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let found = legacy.max(newest_recorded);
    if found > supported {
        return Err(MigrationError::Newer { found, supported });
    }
    for (number, sum) in recorded {
        let Some(m) = migrations.iter().find(|m| m.number == *number) else {
            // Numbers are dense from 1: an unknown one below the latest is not this
            // release's schema either.
            return Err(MigrationError::Newer {
                found: *number,
                supported,
            });
        };
        let expected = m.checksum();
        if *sum != expected {
            return Err(MigrationError::Changed {
                number: *number,
                name: m.name.to_owned(),
                recorded: sum.clone(),
                expected,
            });
        }
    }
    let is_recorded = |n: i64| recorded.iter().any(|(r, _)| *r == n);
    let adopt = migrations
        .iter()
        .filter(|m| m.number <= legacy && !is_recorded(m.number))
        .copied()
        .collect();
    let run = migrations
        .iter()
        .filter(|m| m.number > legacy && !is_recorded(m.number))
        .copied()
        .collect();
    Ok((adopt, run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_a_gap() {
        for set in [
            SQLITE,
            #[cfg(feature = "postgres")]
            POSTGRES,
        ] {
            for (i, m) in set.iter().enumerate() {
                assert_eq!(m.number, i as i64 + 1, "{}", m.name);
                assert!(!m.sql.trim().is_empty(), "{}", m.name);
            }
        }
        assert_eq!(latest(SQLITE), super::super::SCHEMA_VERSION);
    }

    #[test]
    fn a_legacy_schema_is_adopted_and_the_rest_run() {
        let (adopt, run) = plan(SQLITE, &[], 3).unwrap();
        assert_eq!(adopt.iter().map(|m| m.number).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(run.iter().map(|m| m.number).collect::<Vec<_>>(), [4, 5, 6, 7, 8]);
        let all: Vec<(i64, String)> = SQLITE.iter().map(|m| (m.number, m.checksum())).collect();
        let (adopt, run) = plan(SQLITE, &all, 8).unwrap();
        assert!(adopt.is_empty() && run.is_empty());
        // A journal of the release before offers (schema 5, its migrations recorded): the
        // new ones run.
        let (adopt, run) = plan(SQLITE, &all[..5], 5).unwrap();
        assert!(adopt.is_empty());
        assert_eq!(run.iter().map(|m| m.number).collect::<Vec<_>>(), [6, 7, 8]);
        // One of the release before returns (schema 6): returns' table is made.
        let (adopt, run) = plan(SQLITE, &all[..6], 6).unwrap();
        assert!(adopt.is_empty());
        assert_eq!(run.iter().map(|m| m.number).collect::<Vec<_>>(), [7, 8]);
        // One of the release before events (schema 7): the events' table is made.
        let (adopt, run) = plan(SQLITE, &all[..7], 7).unwrap();
        assert!(adopt.is_empty());
        assert_eq!(run.iter().map(|m| m.number).collect::<Vec<_>>(), [8]);
    }

    #[test]
    fn a_changed_or_unknown_migration_is_refused() {
        let mut all: Vec<(i64, String)> = SQLITE.iter().map(|m| (m.number, m.checksum())).collect();
        all[1].1 = checksum("ALTER TABLE orders ADD COLUMN something_else TEXT;");
        assert!(matches!(
            plan(SQLITE, &all, 8),
            Err(MigrationError::Changed { number: 2, .. })
        ));
        all[1].1 = SQLITE[1].checksum();
        all.push((9, checksum("CREATE TABLE refunds (key TEXT);")));
        assert!(matches!(
            plan(SQLITE, &all, 9),
            Err(MigrationError::Newer {
                found: 9,
                supported: 8
            })
        ));
        assert!(matches!(
            plan(SQLITE, &[], 10),
            Err(MigrationError::Newer { found: 10, .. })
        ));
    }

    #[test]
    fn line_ends_do_not_change_a_checksum() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;"), checksum("b;"));
    }
}
