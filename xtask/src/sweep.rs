//! `cargo xtask sweep`: the whole test suite's client traffic at TRACE must show no
//! configured secret.
//!
//! With `COMMERCE_TRACE_SWEEP=<dir>`, every test process that builds a client through the
//! tests' helpers writes its client-side traces (`tracing` events and `log` records, at
//! TRACE, test servers' own logs left out) to `<dir>/trace-<pid>.log` and the secrets it
//! configured to `<dir>/secrets-<pid>.txt` (`commerce_testing::sweep`). The check reads
//! them all and fails on any secret found in any trace.

use std::path::{Path, PathBuf};

/// What the check saw.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Swept {
    pub traces: usize,
    pub lines: usize,
    pub bytes: u64,
    pub secrets: usize,
}

/// Checks every trace in `dir` against every secret noted there.
pub(crate) fn check(dir: &Path) -> Result<Swept, String> {
    let mut secrets: Vec<String> = Vec::new();
    let mut traces: Vec<PathBuf> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("secrets-") {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            secrets.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        } else if name.starts_with("trace-") {
            traces.push(path);
        }
    }
    secrets.sort();
    secrets.dedup();
    if traces.is_empty() || secrets.is_empty() {
        return Err(format!(
            "{}: no traces or no secrets were recorded; was COMMERCE_TRACE_SWEEP set for the tests?",
            dir.display()
        ));
    }
    traces.sort();
    let mut swept = Swept {
        traces: traces.len(),
        secrets: secrets.len(),
        ..Swept::default()
    };
    let mut found = Vec::new();
    for path in &traces {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        swept.bytes += bytes.len() as u64;
        let text = String::from_utf8_lossy(&bytes);
        swept.lines += text.lines().count();
        for secret in &secrets {
            if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
                let masked = line.replace(secret.as_str(), "[SECRET]");
                let shown: String = masked.chars().take(300).collect();
                found.push(format!(
                    "{}: a secret of {} chars: {shown}",
                    path.display(),
                    secret.len()
                ));
            }
        }
    }
    if found.is_empty() {
        Ok(swept)
    } else {
        Err(format!("secrets in the traces:\n{}", found.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-sweep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_secret_in_any_trace_fails_and_is_not_printed() {
        let d = dir("found");
        std::fs::write(d.join("secrets-1.txt"), "cs-SECRET-1\n").unwrap();
        std::fs::write(d.join("secrets-2.txt"), "tok-SECRET-2\n").unwrap();
        std::fs::write(d.join("trace-1.log"), "TRACE GET /orders 200\n").unwrap();
        std::fs::write(
            d.join("trace-3.log"),
            "DEBUG sent Authorization: Bearer tok-SECRET-2\n",
        )
        .unwrap();
        let err = check(&d).unwrap_err();
        assert!(err.contains("trace-3.log") && err.contains("[SECRET]"), "{err}");
        assert!(!err.contains("tok-SECRET-2"), "{err}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn clean_traces_pass_and_an_empty_sweep_fails() {
        let d = dir("clean");
        assert!(check(&d).is_err(), "nothing recorded is a failure");
        std::fs::write(d.join("secrets-1.txt"), "cs-SECRET-1\n").unwrap();
        std::fs::write(d.join("trace-1.log"), "a\nb\n").unwrap();
        assert_eq!(
            check(&d).unwrap(),
            Swept {
                traces: 1,
                lines: 2,
                bytes: 4,
                secrets: 1
            }
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
