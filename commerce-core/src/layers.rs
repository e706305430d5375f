//! The layering of this crate, checked on its sources: no two files import each other,
//! directly or in a loop, and every import of a layered file points to its own layer or a
//! lower one (see ARCHITECTURE-LAYERS.md).
//!
//! Each file under `src/` is a node; an edge goes from a file to every file whose items it
//! names through `crate::`, `super::` or `self::` (in `use` declarations and in paths in the
//! code), resolved to the deepest module file the path reaches: `crate::wire::excerpt::cut`
//! is `wire/excerpt.rs`, `crate::Error` is `lib.rs` (which imports every module). A
//! `mod.rs` re-exporting a child is an edge to the child, a child importing through its
//! parent an edge to the `mod.rs`: a loop. Comments, doc comments and each file's
//! `#[cfg(test)]` module at its end are not read (tests may use any layer).
//!
//! Set `COMMERCE_CORE_LAYERS_SRC` to another `src` directory to check that one instead
//! (an older revision, say).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a file: `Some(n)` for the layered modules, `None` for those around them.
fn layer(file: &str) -> Option<u8> {
    let top = file.split('/').next().unwrap_or_default();
    match top {
        "error.rs" | "url.rs" | "metrics.rs" => Some(0),
        "wire" => Some(1),
        "policy" => Some(2),
        "state" => Some(3),
        "auth" => Some(4),
        "client" => Some(5),
        _ => None,
    }
}

/// The module path of a file (`wire/mod.rs` and `wire.rs`: `["wire"]`; `lib.rs`: `[]`).
fn module_of(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// `text` without comments (line, doc and block) and without its `#[cfg(test)] mod` at
/// the end.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lines: Vec<&str> = text.lines().collect();
    let mut in_block = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.trim_end().ends_with('{'))
        {
            break;
        }
        let mut line = *line;
        if in_block {
            match line.find("*/") {
                Some(end) => {
                    line = &line[end + 2..];
                    in_block = false;
                }
                None => continue,
            }
        }
        if let Some(start) = line.find("/*") {
            in_block = !line[start..].contains("*/");
            line = &line[..start];
        }
        // A `//` inside a string (a URL) cuts the rest of that line too: no import hides there.
        if let Some(start) = line.find("//") {
            line = &line[..start];
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The paths a `use` tree names (renames already dropped), braces expanded:
/// `crate::{a::B, c::{self, D}}` gives `crate::a::B`, `crate::c`, `crate::c::D`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand(p).into_iter().map(move |tail| {
                if tail == "self" {
                    prefix.trim_end_matches("::").to_owned()
                } else {
                    format!("{prefix}{tail}")
                }
            })
        })
        .collect()
}

/// The `use` declarations of `code` (each starting a line, `pub` or not), their renames
/// (`as x`) dropped, and the rest of `code` without them.
fn uses_of(code: &str) -> (Vec<String>, String) {
    let mut uses = Vec::new();
    let mut rest = String::with_capacity(code.len());
    let mut declaration: Option<String> = None;
    for line in code.lines() {
        let starts = {
            let t = line.trim_start();
            let t = t
                .strip_prefix("pub(crate) ")
                .or_else(|| t.strip_prefix("pub(super) "))
                .or_else(|| t.strip_prefix("pub "))
                .unwrap_or(t);
            t.strip_prefix("use ")
        };
        match (&mut declaration, starts) {
            (Some(d), _) => d.push_str(line),
            (None, Some(tail)) => declaration = Some(tail.to_owned()),
            (None, None) => {
                rest.push_str(line);
                rest.push('\n');
                continue;
            }
        }
        let Some(d) = declaration.take_if(|d| d.contains(';')) else {
            continue;
        };
        let d = &d[..d.find(';').unwrap_or(d.len())];
        // Renames dropped while the blanks around `as` still tell it from a name.
        let without_renames =
            d.split([',', '{', '}'])
                .fold(d.to_owned(), |acc, piece| match piece.find(" as ") {
                    Some(i) => acc.replacen(piece, &piece[..i], 1),
                    None => acc,
                });
        uses.extend(expand(&without_renames));
    }
    (uses, rest)
}

/// The paths starting with `crate::`, `super::` or `self::` in code outside `use`
/// declarations (`$crate::` in macros excluded).
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The file a path used in `file` leads to, if it leads into this crate.
fn resolve(path: &str, file: &str, modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let first = segments.next()?;
    let here = module_of(file);
    let mut absolute: Vec<String> = match first {
        "crate" => Vec::new(),
        "self" => here,
        "super" => {
            let mut up = here;
            up.pop();
            up
        }
        _ => return None,
    };
    let mut rest: Vec<&str> = segments.collect();
    // `super::super::x`
    while rest.first() == Some(&"super") {
        absolute.pop();
        rest.remove(0);
    }
    absolute.extend(rest.iter().map(|s| (*s).to_owned()));
    (0..=absolute.len())
        .rev()
        .find_map(|n| modules.get(&absolute[..n]))
        .cloned()
}

/// Every file under `dir`, by its path relative to it (`/`-separated).
fn sources(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("the sources can be read") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(name, std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The import graph of `files` (relative path to text): each file to the files it imports.
fn graph(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeMap<Vec<String>, String> = files.keys().map(|f| (module_of(f), f.clone())).collect();
    files
        .iter()
        .map(|(file, text)| {
            let (uses, rest) = uses_of(&code_of(text));
            let targets = uses
                .iter()
                .chain(inline_paths(&rest).iter())
                .filter_map(|p| resolve(p, file, &modules))
                .filter(|t| t != file)
                .collect();
            (file.clone(), targets)
        })
        .collect()
}

/// The import loops of `graph`: each strongly connected set of more than one file.
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two files are in one loop when each reaches the other.
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(f) = todo.pop() {
            for next in graph.get(&f).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|f| (f, reach(f))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for f in graph.keys() {
        if done.contains(f) || !reached[f].contains(f) {
            continue;
        }
        let group: Vec<String> = graph
            .keys()
            .filter(|g| *g == f || (reached[f].contains(*g) && reached[*g].contains(f)))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        out.push(group);
    }
    out
}

/// The imports of a layered file that point up, or out of the layers (to `lib.rs` or a
/// module around them).
fn upward(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in graph {
        let Some(low) = layer(from) else { continue };
        for to in targets {
            match layer(to) {
                Some(l) if l <= low => {}
                Some(l) => out.push(format!("{from} (layer {low}) imports {to} (layer {l})")),
                None => out.push(format!("{from} (layer {low}) imports {to}, outside the layers")),
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    std::env::var_os("COMMERCE_CORE_LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn no_two_files_import_each_other_directly_or_in_a_loop() {
    let graph = graph(&sources(&src_dir()));
    let found = loops(&graph);
    assert!(
        found.is_empty(),
        "import loops in {}:\n{}",
        src_dir().display(),
        found
            .iter()
            .map(|l| format!("  {}", l.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_import_of_a_layer_points_to_its_own_or_a_lower_one() {
    let graph = graph(&sources(&src_dir()));
    // The layered modules are all there (a renamed folder would pass unchecked).
    for top in [
        "error.rs",
        "url.rs",
        "metrics.rs",
        "wire/mod.rs",
        "policy/mod.rs",
        "state/mod.rs",
        "auth/mod.rs",
        "client/mod.rs",
    ] {
        assert!(graph.contains_key(top), "{top} is missing: update `layer`");
    }
    let wrong = upward(&graph);
    assert!(wrong.is_empty(), "imports pointing up:\n  {}", wrong.join("\n  "));
}

/// The checker itself finds a loop through a parent and its child, one through three
/// files, an import through the crate root, and an import pointing up; and reads groups,
/// renames, comments and test modules right.
#[test]
fn the_checker_finds_loops_and_upward_imports() {
    let files = |list: &[(&str, &str)]| -> BTreeMap<String, String> {
        list.iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect()
    };
    // A parent re-exporting a child that imports through the parent.
    let g = graph(&files(&[
        ("lib.rs", "mod auth;"),
        (
            "auth/mod.rs",
            "mod oauth2;\npub use self::oauth2::Client;\npub struct Token;",
        ),
        (
            "auth/oauth2.rs",
            "use super::{Token as T, jwt};\npub struct Client;",
        ),
    ]));
    assert_eq!(
        loops(&g),
        vec![vec!["auth/mod.rs".to_owned(), "auth/oauth2.rs".to_owned()]]
    );
    // Three files in a circle, one edge an inline path; a fourth outside it.
    let g = graph(&files(&[
        ("lib.rs", ""),
        ("a.rs", "use crate::{b::B, d::{self, D}};"),
        ("b.rs", "fn f() { crate::c::g() }"),
        ("c.rs", "use crate::a::A;"),
        ("d.rs", "use std::fmt;"),
    ]));
    assert_eq!(
        loops(&g),
        vec![vec!["a.rs".to_owned(), "b.rs".to_owned(), "c.rs".to_owned()]]
    );
    // Through the crate root, which imports everything.
    let g = graph(&files(&[
        ("lib.rs", "pub use crate::wire::x::X;"),
        ("wire/x.rs", "fn f(_: crate::Error) {}"),
    ]));
    assert_eq!(loops(&g).len(), 1);
    // Comments, doc links and test modules are not imports; `$crate` is not this file's.
    let g = graph(&files(&[
        ("lib.rs", ""),
        (
            "wire/x.rs",
            "/// See [`Y`](crate::state::y::Y).\n// crate::state::y\nmacro_rules! m { () => { $crate::state::y::Y } }\n#[cfg(test)]\nmod tests {\n    use crate::state::y::Y;\n}\n",
        ),
        ("state/y.rs", "use crate::wire::x::X;"),
    ]));
    assert!(loops(&g).is_empty());
    assert!(upward(&g).is_empty());
    // An import pointing up.
    let g = graph(&files(&[
        ("lib.rs", ""),
        ("wire/x.rs", "use crate::state::y::Y;"),
        ("state/y.rs", ""),
    ]));
    assert_eq!(
        upward(&g),
        vec!["wire/x.rs (layer 1) imports state/y.rs (layer 3)".to_owned()]
    );
}
