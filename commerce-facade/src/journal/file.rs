//! What a journal file must be before SQLite is let near it: a regular file with one name
//! (SQLite keeps a database's `-wal` beside the name it was opened by, so two hard links
//! of one journal make two write-ahead logs and lose writes), holding an SQLite database,
//! or, for a new journal, nothing yet. A path that fails is refused before anything is
//! created, opened for writing or given another mode (a mistyped `--journal` naming
//! `/etc/passwd` or a device node is left as it was).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::JournalError;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How a journal file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// A new journal: refused where a file exists.
    Create,
    /// An existing journal, refused where there is none (`commerce run` and the commands
    /// that change orders: a journal created silently would hand orders over again).
    Existing,
    /// An existing journal, read only: nothing is created or changed (`status`, `show`).
    ReadOnly,
    /// An existing journal, or a new one where there is no file (the library's
    /// [`SqliteJournal::open`](super::SqliteJournal::open), the quickstart).
    OrCreate,
}

/// Checks `path` for `how`; returns the path SQLite is to open (an existing file's
/// canonical path, so two symbolic links to one journal share one write-ahead log) and
/// whether the journal is new.
pub(crate) fn check(path: &Path, how: Open) -> Result<(PathBuf, bool), JournalError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match how {
                Open::Create | Open::OrCreate => {
                    // A dangling symbolic link is not a place to create a journal.
                    if std::fs::symlink_metadata(path).is_ok() {
                        return Err(not_a_journal(&shown, "a symbolic link to nothing"));
                    }
                    Ok((path.to_path_buf(), true))
                }
                Open::Existing | Open::ReadOnly => Err(JournalError::Missing { path: shown }),
            };
        }
        Err(e) => return Err(JournalError::Storage(format!("{shown}: {e}"))),
    };
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder".to_owned()
        } else {
            "not a regular file (a device, a socket or a pipe)".to_owned()
        };
        return Err(not_a_journal(&shown, &what));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(not_a_journal(
                &shown,
                &format!(
                    "a file with {} hard links: SQLite keeps one write-ahead log per name, so runners on two names \
                     of one journal lose each other's writes; keep one name (remove the other links)",
                    meta.nlink()
                ),
            ));
        }
    }
    if how == Open::Create {
        return Err(JournalError::Refused(format!(
            "{shown} exists already: a journal is created only where there is none"
        )));
    }
    if meta.len() == 0 {
        return match how {
            Open::OrCreate => Ok((std::fs::canonicalize(path).map_err(JournalError::storage)?, true)),
            _ => Err(not_a_journal(
                &shown,
                "an empty file (`commerce init` creates a journal where there is none)",
            )),
        };
    }
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| JournalError::Storage(format!("{shown}: {e}")));
    if read.is_err() || &head != SQLITE_HEADER {
        return Err(not_a_journal(&shown, "not an SQLite database"));
    }
    Ok((std::fs::canonicalize(path).map_err(JournalError::storage)?, false))
}

fn not_a_journal(path: &str, why: &str) -> JournalError {
    JournalError::NotAJournal {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("journal-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_missing_file_is_new_only_where_creating_is_asked_for() {
        let d = dir("missing");
        let p = d.join("j.sqlite");
        assert!(check(&p, Open::Create).unwrap().1);
        assert!(check(&p, Open::OrCreate).unwrap().1);
        for how in [Open::Existing, Open::ReadOnly] {
            assert!(
                matches!(check(&p, how), Err(JournalError::Missing { .. })),
                "{how:?}"
            );
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn other_files_are_refused_and_left_as_they_were() {
        let d = dir("other");
        let text = d.join("passwd.copy");
        std::fs::write(&text, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        for how in [Open::Existing, Open::ReadOnly, Open::OrCreate, Open::Create] {
            assert!(check(&text, how).is_err(), "{how:?}");
        }
        assert!(matches!(
            check(&d, Open::Existing),
            Err(JournalError::NotAJournal { .. })
        ));
        #[cfg(unix)]
        assert!(matches!(
            check(Path::new("/dev/null"), Open::OrCreate),
            Err(JournalError::NotAJournal { .. })
        ));
        let empty = d.join("empty");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            check(&empty, Open::Existing),
            Err(JournalError::NotAJournal { .. })
        ));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_journal_with_two_names_is_refused() {
        let d = dir("links");
        let a = d.join("a.sqlite");
        let mut bytes = SQLITE_HEADER.to_vec();
        bytes.resize(4096, 0);
        std::fs::write(&a, &bytes).unwrap();
        assert!(check(&a, Open::Existing).is_ok());
        std::fs::hard_link(&a, d.join("b.sqlite")).unwrap();
        let refused = check(&a, Open::Existing).unwrap_err().to_string();
        assert!(refused.contains("2 hard links"), "{refused}");
        std::fs::remove_dir_all(d).unwrap();
    }
}
