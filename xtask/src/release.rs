//! `cargo xtask release <crate> <major|minor|patch|X.Y.Z> [--execute]` and
//! `cargo xtask release --all [--execute]`: plan (and, with `--execute`, carry out) the
//! release of separately versioned workspace crates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A semantic version (no pre-release parts: the workspace does not use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let [a, b, c] = parts.as_slice() else {
            return Err(format!("`{s}` is not a version X.Y.Z"));
        };
        let n = |p: &str| {
            p.parse::<u64>()
                .map_err(|_| format!("`{s}` is not a version X.Y.Z"))
        };
        Ok(Version {
            major: n(a)?,
            minor: n(b)?,
            patch: n(c)?,
        })
    }

    /// Whether a `^self` requirement accepts `new` (Cargo's caret rules).
    pub fn accepts(self, new: Version) -> bool {
        match (self.major, self.minor) {
            (0, 0) => new.major == 0 && new.minor == 0 && new.patch == self.patch,
            (0, m) => new.major == 0 && new.minor == m && new >= self,
            (m, _) => new.major == m && new >= self,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How to bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    Major,
    Minor,
    Patch,
    To(Version),
    /// The first release of a crate: its current version, as it stands.
    First,
}

impl Bump {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "major" => Bump::Major,
            "minor" => Bump::Minor,
            "patch" => Bump::Patch,
            other => Bump::To(Version::parse(other)?),
        })
    }

    pub fn apply(self, v: Version) -> Result<Version, String> {
        let new = match self {
            Bump::Major => Version {
                major: v.major + 1,
                minor: 0,
                patch: 0,
            },
            Bump::Minor => Version {
                major: v.major,
                minor: v.minor + 1,
                patch: 0,
            },
            Bump::Patch => Version {
                patch: v.patch + 1,
                ..v
            },
            Bump::To(to) => to,
            Bump::First => return Ok(v),
        };
        if new <= v {
            return Err(format!("{new} is not after {v}"));
        }
        Ok(new)
    }
}

/// A publishable crate of the workspace.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: Version,
    /// Its directory, relative to the workspace root.
    pub dir: PathBuf,
    /// Workspace crates it depends on (normal and build dependencies).
    pub deps: BTreeSet<String>,
    /// Workspace crates it uses in tests and examples. Cargo keeps a dev-dependency that
    /// names a version in the published manifest, so those must be on crates.io too.
    pub dev_deps: BTreeSet<String>,
}

/// The publishable crates of a workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub packages: BTreeMap<String, Package>,
}

impl Workspace {
    /// Reads the workspace at `root` with `cargo metadata` (offline, no dependencies).
    pub fn load(root: &Path) -> Result<Self, String> {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .current_dir(root)
            .output()
            .map_err(|e| format!("cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        let root_dir = PathBuf::from(meta["workspace_root"].as_str().unwrap_or_default());
        let members: BTreeSet<String> = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let mut packages = BTreeMap::new();
        for p in meta["packages"].as_array().into_iter().flatten() {
            // `publish = false` shows as an empty list.
            if p["publish"].as_array().is_some_and(|a| a.is_empty()) {
                continue;
            }
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            let dir = manifest
                .parent()
                .and_then(|d| d.strip_prefix(&root_dir).ok())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let of_kind = |dev: bool| -> BTreeSet<String> {
                p["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|d| (d["kind"] == "dev") == dev)
                    .filter_map(|d| d["name"].as_str())
                    .filter(|d| members.contains(*d))
                    .map(str::to_owned)
                    .collect()
            };
            let deps = of_kind(false);
            let dev_deps = of_kind(true);
            packages.insert(
                name.clone(),
                Package {
                    version: Version::parse(p["version"].as_str().unwrap_or_default())?,
                    name,
                    dir,
                    deps,
                    dev_deps,
                },
            );
        }
        Ok(Workspace {
            root: root_dir,
            packages,
        })
    }

    /// `names` and every workspace crate they depend on, directly or not, including the
    /// dev-dependencies that name a version.
    pub fn with_dependencies<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<String> = names.into_iter().map(str::to_owned).collect();
        while let Some(name) = todo.pop() {
            if let Some(p) = self.packages.get(&name)
                && out.insert(name)
            {
                todo.extend(p.deps.iter().chain(&p.dev_deps).cloned());
            }
        }
        out
    }

    /// The crates that depend on `name` (directly).
    fn dependents(&self, name: &str) -> Vec<&Package> {
        self.packages.values().filter(|p| p.deps.contains(name)).collect()
    }
}

/// What a release will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `(crate, old, new)`, in publishing order (dependencies first).
    pub releases: Vec<(String, Version, Version)>,
    /// Why each dependent is in the plan.
    pub reasons: BTreeMap<String, String>,
}

impl Plan {
    pub fn tags(&self) -> Vec<String> {
        self.releases
            .iter()
            .map(|(n, _, v)| format!("{n}-v{v}"))
            .collect()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "release plan ({} crate(s), in publishing order):",
            self.releases.len()
        )?;
        for (i, (name, old, new)) in self.releases.iter().enumerate() {
            write!(f, "  {}. {name} {old} -> {new}  (tag {name}-v{new})", i + 1)?;
            if let Some(why) = self.reasons.get(name) {
                write!(f, "  [{why}]")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "version requirements in [workspace.dependencies]:")?;
        for (name, _, new) in &self.releases {
            writeln!(f, "  {name} = \"{new}\"")?;
        }
        Ok(())
    }
}

/// Plans releasing each of `targets` with its bump, plus the dependents that the new
/// versions leave behind (a bump their requirement does not accept), transitively.
pub fn plan(ws: &Workspace, targets: &[(String, Bump)]) -> Result<Plan, String> {
    let mut new_versions: BTreeMap<String, (Version, Version)> = BTreeMap::new();
    let mut reasons = BTreeMap::new();
    let mut queue: Vec<String> = Vec::new();
    for (name, bump) in targets {
        let p = ws
            .packages
            .get(name)
            .ok_or_else(|| format!("{name} is not a publishable crate of this workspace"))?;
        new_versions.insert(name.clone(), (p.version, bump.apply(p.version)?));
        queue.push(name.clone());
    }
    while let Some(name) = queue.pop() {
        let (old, new) = new_versions[&name];
        if old.accepts(new) {
            continue;
        }
        for dep in ws.dependents(&name) {
            if !new_versions.contains_key(&dep.name) {
                // Every crate of this workspace shows its dependencies' types in its own API
                // (`Error`, the traits, the preludes): a dependency's breaking release is a
                // breaking release of the dependent too.
                let breaking = if dep.version.major == 0 {
                    Bump::Minor
                } else {
                    Bump::Major
                };
                new_versions.insert(dep.name.clone(), (dep.version, breaking.apply(dep.version)?));
                reasons.insert(
                    dep.name.clone(),
                    format!(
                        "depends on {name}, whose {new} its ^{old} does not accept, and shows its types: a breaking release"
                    ),
                );
                queue.push(dep.name.clone());
            }
        }
    }
    // Dependencies first.
    let mut order = Vec::new();
    let mut placed = BTreeSet::new();
    while order.len() < new_versions.len() {
        let ready: Vec<String> = new_versions
            .keys()
            .filter(|n| !placed.contains(*n))
            .filter(|n| {
                ws.packages[*n]
                    .deps
                    .iter()
                    .all(|d| !new_versions.contains_key(d) || placed.contains(d))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err("the crates to release depend on each other in a cycle".into());
        }
        for n in ready {
            placed.insert(n.clone());
            order.push(n);
        }
    }
    Ok(Plan {
        releases: order
            .into_iter()
            .map(|n| {
                let (old, new) = new_versions[&n];
                (n, old, new)
            })
            .collect(),
        reasons,
    })
}

/// Moves the "Unreleased" section of a Keep-a-Changelog file under `version` and `date`,
/// leaving an empty "Unreleased".
pub fn rewrite_changelog(text: &str, version: Version, date: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim().eq_ignore_ascii_case("## [Unreleased]"))
        .ok_or("the changelog has no `## [Unreleased]` section")?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## ["))
        .map_or(lines.len(), |i| start + 1 + i);
    let body: Vec<&str> = lines[start + 1..end].to_vec();
    if body.iter().all(|l| l.trim().is_empty()) {
        return Err("the changelog's Unreleased section is empty: say what this release changes".into());
    }
    let mut out: Vec<String> = lines[..=start].iter().map(|l| l.to_string()).collect();
    out.push(String::new());
    out.push(format!("## [{version}] - {date}"));
    out.extend(body.iter().map(|l| l.to_string()));
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    Ok(out.join("\n") + "\n")
}

/// Rewrites the first line of `section` (a `[header]`) for which `edit` returns a
/// replacement; `None` when no line was rewritten.
fn edit_first_in_section(
    manifest: &str,
    section: &str,
    mut edit: impl FnMut(&str) -> Option<String>,
) -> Option<String> {
    let mut inside = false;
    let mut done = false;
    let out: Vec<String> = manifest
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('[') {
                inside = t == section;
            } else if inside
                && !done
                && let Some(new) = edit(l)
            {
                done = true;
                return new;
            }
            l.to_owned()
        })
        .collect();
    done.then(|| out.join("\n") + "\n")
}

/// Sets `version = "..."` in the `[package]` section of a manifest.
fn set_package_version(manifest: &str, version: Version) -> Result<String, String> {
    edit_first_in_section(manifest, "[package]", |l| {
        let t = l.trim();
        (t.starts_with("version") && t.contains('=')).then(|| format!("version = \"{version}\""))
    })
    .ok_or_else(|| {
        "no `version = \"...\"` in [package] (a crate released on its own needs its own version)".into()
    })
}

/// Sets the version requirement of `name` in `[workspace.dependencies]`.
fn set_requirement(manifest: &str, name: &str, version: Version) -> Result<String, String> {
    edit_first_in_section(manifest, "[workspace.dependencies]", |l| {
        if !l.trim().starts_with(&format!("{name} ")) {
            return None;
        }
        let at = l.find("version")?;
        let rest = &l[at..];
        let q1 = rest.find('"')?;
        let end = q1 + 1 + rest[q1 + 1..].find('"')? + 1;
        Some(format!("{}version = \"{version}\"{}", &l[..at], &rest[end..]))
    })
    .ok_or_else(|| format!("no version requirement for {name} in [workspace.dependencies]"))
}

/// The files a plan rewrites, with their new text.
pub fn rewritten_files(ws: &Workspace, plan: &Plan, date: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut files = Vec::new();
    let root_manifest = ws.root.join("Cargo.toml");
    let mut root = read(&root_manifest)?;
    for (name, _, new) in &plan.releases {
        let dir = ws.root.join(&ws.packages[name].dir);
        files.push((
            dir.join("Cargo.toml"),
            set_package_version(&read(&dir.join("Cargo.toml"))?, *new)?,
        ));
        files.push((
            dir.join("CHANGELOG.md"),
            rewrite_changelog(&read(&dir.join("CHANGELOG.md"))?, *new, date)
                .map_err(|e| format!("{name}: {e}"))?,
        ));
        if ws.packages.values().any(|p| p.deps.contains(name)) {
            root = set_requirement(&root, name, *new)?;
        }
    }
    files.push((root_manifest, root));
    Ok(files)
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Refuses a dirty tree or a tag that exists already.
pub fn preflight(ws: &Workspace, plan: &Plan) -> Result<(), String> {
    let status = git(&ws.root, &["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        return Err(format!(
            "the working tree is not clean; commit or stash first:\n{status}"
        ));
    }
    for tag in plan.tags() {
        if !git(&ws.root, &["tag", "--list", &tag])?.trim().is_empty() {
            return Err(format!("the tag {tag} exists already: that version was released"));
        }
    }
    Ok(())
}

/// The bump a changed crate needs, from its changelog's `[Unreleased]` section: a
/// `**Breaking:**` entry is a breaking release (minor below 1.0, as Cargo reads `0.x`
/// versions; major from 1.0), an `### Added` section a minor one from 1.0, and anything else
/// a patch.
pub fn bump_for(changelog: &str, version: Version) -> Bump {
    let unreleased: Vec<&str> = changelog
        .lines()
        .skip_while(|l| !l.trim().eq_ignore_ascii_case("## [Unreleased]"))
        .skip(1)
        .take_while(|l| !l.starts_with("## ["))
        .collect();
    // An entry that starts `- **Breaking:**`; an `### Added` section with an entry.
    let breaking = unreleased
        .iter()
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("- **breaking"));
    let added = unreleased
        .iter()
        .skip_while(|l| l.trim() != "### Added")
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .any(|l| l.trim_start().starts_with("- "));
    match (breaking, added, version.major) {
        (true, _, 0) => Bump::Minor,
        (true, _, _) => Bump::Major,
        (false, true, 1..) => Bump::Minor,
        _ => Bump::Patch,
    }
}

/// The crates whose sources changed since their last release tag (bumped by [`bump_for`]),
/// and those never released (released at the version they have).
pub fn changed_since_tag(ws: &Workspace) -> Result<Vec<(String, Bump)>, String> {
    let mut changed = Vec::new();
    for p in ws.packages.values() {
        let ever = !git(&ws.root, &["tag", "--list", &format!("{}-v*", p.name)])?
            .trim()
            .is_empty();
        let tag = format!("{}-v{}", p.name, p.version);
        let tagged = !git(&ws.root, &["tag", "--list", &tag])?.trim().is_empty();
        if !ever {
            changed.push((p.name.clone(), Bump::First));
            continue;
        }
        let dir = p.dir.display().to_string();
        let differs = !tagged
            || !git(&ws.root, &["diff", "--name-only", &tag, "HEAD", "--", &dir])?
                .trim()
                .is_empty();
        if differs {
            let changelog = std::fs::read_to_string(p.dir.join("CHANGELOG.md")).unwrap_or_default();
            changed.push((p.name.clone(), bump_for(&changelog, p.version)));
        }
    }
    Ok(changed)
}

fn cargo(root: &Path, args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::run_in(root, &crate::cargo_program(), &args, &[])
}

/// The command.
pub fn run(args: &[String]) -> Result<(), String> {
    let execute = args.iter().any(|a| a == "--execute");
    let words: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let root = crate::workspace_root();
    let ws = Workspace::load(&root)?;
    let targets: Vec<(String, Bump)> = if args.iter().any(|a| a == "--all") {
        let changed = changed_since_tag(&ws)?;
        if changed.is_empty() {
            println!("nothing changed since the last release tags");
            return Ok(());
        }
        changed
    } else {
        match words.as_slice() {
            [name, bump] => vec![(name.to_string(), Bump::parse(bump)?)],
            _ => return Err("usage: cargo xtask release <crate> <major|minor|patch|X.Y.Z> [--execute] | --all [--execute]".into()),
        }
    };
    let plan = plan(&ws, &targets)?;
    print!("{plan}");
    preflight(&ws, &plan)?;
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let files = rewritten_files(&ws, &plan, &date)?;
    // Cargo rewrites the lock file while it packages; a dry run puts it back too.
    let lock = root.join("Cargo.lock");
    let originals: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, _)| p.clone())
        .chain(lock.is_file().then_some(lock))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect();
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // The crates being released, packaged together with the workspace crates they depend on,
    // so cargo resolves each against the versions this release will put on crates.io.
    let mut publish: Vec<String> = vec!["publish".into(), "--dry-run".into(), "--allow-dirty".into()];
    for name in ws.with_dependencies(plan.releases.iter().map(|(n, _, _)| n.as_str())) {
        publish.push("-p".into());
        publish.push(name);
    }
    println!("checking: cargo {}", publish.join(" "));
    let checked = cargo(&root, &publish);
    if !execute || checked.is_err() {
        for (path, text) in &originals {
            let _ = std::fs::write(path, text);
        }
        checked?;
        println!("dry run: nothing changed. Run again with --execute to commit, tag and publish.");
        return Ok(());
    }
    let names: Vec<String> = plan.releases.iter().map(|(n, _, v)| format!("{n} {v}")).collect();
    git(
        &root,
        &["commit", "-am", &format!("release: {}", names.join(", "))],
    )?;
    for tag in plan.tags() {
        git(&root, &["tag", &tag])?;
    }
    let mut published = Vec::new();
    for (name, _, version) in &plan.releases {
        if let Err(e) = cargo(&root, &["publish".into(), "-p".into(), name.clone()]) {
            let rest: Vec<String> = plan
                .releases
                .iter()
                .skip(published.len())
                .map(|(n, _, v)| format!("{n} {v}"))
                .collect();
            return Err(format!(
                "{e}\npublished: {}\nnot published: {}\nthe release commit and tags are in place; fix the cause and \
                 publish the rest in this order with `cargo publish -p <crate>`",
                if published.is_empty() {
                    "nothing".to_owned()
                } else {
                    published.join(", ")
                },
                rest.join(", ")
            ));
        }
        published.push(format!("{name} {version}"));
    }
    println!("published: {}", published.join(", "));
    println!("push the commit and tags: git push && git push --tags");
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_breaking_entry_in_unreleased_asks_for_a_breaking_bump() {
        let v = |s: &str| Version::parse(s).unwrap();
        let log = |body: &str| {
            format!(
                "# Changelog\n\n## [Unreleased]\n\n{body}\n## [0.1.0] - 2026-01-01\n\n### Changed\n\n- **Breaking:** old\n"
            )
        };
        let breaking = log("### Changed\n\n- **Breaking:** `invite` is now `create_invite`.\n");
        assert!(matches!(bump_for(&breaking, v("0.1.0")), Bump::Minor));
        assert!(matches!(bump_for(&breaking, v("1.2.0")), Bump::Major));
        let added = log("### Added\n\n- a prelude\n");
        assert!(matches!(bump_for(&added, v("0.1.0")), Bump::Patch));
        assert!(matches!(bump_for(&added, v("1.2.0")), Bump::Minor));
        // A breaking entry of a released version does not count.
        let fixed = log("### Fixed\n\n- a typo\n");
        assert!(matches!(bump_for(&fixed, v("1.2.0")), Bump::Patch));
        assert!(matches!(bump_for("", v("1.2.0")), Bump::Patch));
        // Only an entry that is marked breaking; only an Added section with an entry.
        let mention = log("### Fixed\n\n- no **breaking** change here\n");
        assert!(matches!(bump_for(&mention, v("1.2.0")), Bump::Patch));
        let empty_added = log("### Added\n\n### Fixed\n\n- a typo\n");
        assert!(matches!(bump_for(&empty_added, v("1.2.0")), Bump::Patch));
    }

    use super::*;

    /// A git-tracked workspace of three crates: `core` ← `mid` ← `top`, and `solo`, which
    /// uses `core` in its tests only.
    fn workspace() -> (tempdir::Dir, Workspace) {
        let dir = tempdir::Dir::new();
        let root = dir.path().to_path_buf();
        let write = |p: &str, t: &str| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, t).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"core\", \"mid\", \"top\", \"solo\"]\n\n[workspace.dependencies]\n\
             core = { path = \"core\", version = \"0.1.0\" }\nmid = { path = \"mid\", version = \"0.1.0\" }\n",
        );
        for (name, deps) in [
            ("core", ""),
            ("mid", "core.workspace = true\n"),
            ("top", "mid.workspace = true\n"),
            ("solo", "\n[dev-dependencies]\ncore.workspace = true\n"),
        ] {
            write(
                &format!("{name}/Cargo.toml"),
                &format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\nlicense = \"MIT\"\n\
                     description = \"{name}\"\n\n[dependencies]\n{deps}"
                ),
            );
            write(&format!("{name}/src/lib.rs"), "");
            write(
                &format!("{name}/CHANGELOG.md"),
                "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Things.\n",
            );
        }
        for args in [
            vec!["init", "-q"],
            vec!["config", "user.email", "t@example.com"],
            vec!["config", "user.name", "t"],
            vec!["add", "-A"],
            vec!["commit", "-qm", "init"],
        ] {
            git(&root, &args).unwrap();
        }
        let ws = Workspace::load(&root).unwrap();
        (dir, ws)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let p = std::env::temp_dir().join(format!("xtask-release-{}-{nanos}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_bump_and_caret_requirements() {
        assert_eq!(Bump::Minor.apply(v("0.1.3")).unwrap(), v("0.2.0"));
        assert_eq!(Bump::Major.apply(v("1.4.2")).unwrap(), v("2.0.0"));
        assert_eq!(Bump::Patch.apply(v("0.1.0")).unwrap(), v("0.1.1"));
        assert!(Bump::To(v("0.1.0")).apply(v("0.1.0")).is_err());
        assert!(v("0.1.0").accepts(v("0.1.5")));
        assert!(!v("0.1.0").accepts(v("0.2.0")));
        assert!(v("1.2.0").accepts(v("1.9.0")));
        assert!(!v("1.2.0").accepts(v("2.0.0")));
    }

    #[test]
    fn a_breaking_bump_releases_the_dependents_in_dependency_order() {
        let (_dir, ws) = workspace();
        let p = plan(&ws, &[("core".into(), Bump::Minor)]).unwrap();
        let names: Vec<&str> = p.releases.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["core", "mid", "top"],
            "a breaking release of a dependency breaks its dependents"
        );
        assert_eq!(p.releases[0].2, v("0.2.0"));
        assert_eq!(p.releases[1].2, v("0.2.0"));
        assert_eq!(p.tags()[..2], ["core-v0.2.0", "mid-v0.2.0"]);
        let compatible = plan(&ws, &[("core".into(), Bump::Patch)]).unwrap();
        assert_eq!(compatible.releases.len(), 1);
        let both = plan(&ws, &[("mid".into(), Bump::Major), ("core".into(), Bump::Patch)]).unwrap();
        let names: Vec<&str> = both.releases.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["core", "mid", "top"], "dependencies first");
        assert!(plan(&ws, &[("nope".into(), Bump::Patch)]).is_err());
    }

    #[test]
    fn the_publish_check_packages_the_dependencies_along() {
        let (_dir, ws) = workspace();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(ws.with_dependencies(["top"]), names(&["core", "mid", "top"]));
        assert_eq!(
            ws.with_dependencies(["solo"]),
            names(&["core", "solo"]),
            "a dev-dependency with a version is kept by cargo publish"
        );
    }

    #[test]
    fn the_files_are_rewritten_versions_requirements_and_changelog() {
        let (_dir, ws) = workspace();
        let p = plan(&ws, &[("core".into(), Bump::Minor)]).unwrap();
        let files: BTreeMap<PathBuf, String> = rewritten_files(&ws, &p, "2026-11-23")
            .unwrap()
            .into_iter()
            .collect();
        let core = &files[&ws.root.join("core/Cargo.toml")];
        assert!(core.contains("version = \"0.2.0\""), "{core}");
        let mid = &files[&ws.root.join("mid/Cargo.toml")];
        assert!(mid.contains("version = \"0.2.0\""), "{mid}");
        let root = &files[&ws.root.join("Cargo.toml")];
        assert!(
            root.contains("core = { path = \"core\", version = \"0.2.0\" }"),
            "{root}"
        );
        assert!(
            root.contains("mid = { path = \"mid\", version = \"0.2.0\" }"),
            "{root}"
        );
        let log = &files[&ws.root.join("core/CHANGELOG.md")];
        assert_eq!(
            log,
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-11-23\n\n### Added\n\n- Things.\n"
        );
        assert!(
            rewrite_changelog(
                "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - x\n",
                v("0.2.0"),
                "d"
            )
            .is_err()
        );
    }

    #[test]
    fn a_dirty_tree_or_an_existing_tag_is_refused() {
        let (dir, ws) = workspace();
        let p = plan(&ws, &[("solo".into(), Bump::Patch)]).unwrap();
        preflight(&ws, &p).unwrap();
        git(dir.path(), &["tag", "solo-v0.1.1"]).unwrap();
        let err = preflight(&ws, &p).unwrap_err();
        assert!(err.contains("solo-v0.1.1 exists"), "{err}");
        git(dir.path(), &["tag", "-d", "solo-v0.1.1"]).unwrap();
        std::fs::write(dir.path().join("solo/src/lib.rs"), "// changed\n").unwrap();
        let err = preflight(&ws, &p).unwrap_err();
        assert!(err.contains("not clean"), "{err}");
    }

    #[test]
    fn all_finds_the_crates_changed_since_their_tag() {
        let (dir, ws) = workspace();
        let first = changed_since_tag(&ws).unwrap();
        assert_eq!(first.len(), 4);
        assert!(first.iter().all(|(_, b)| *b == Bump::First), "{first:?}");
        let p = plan(&ws, &first).unwrap();
        assert!(
            p.releases.iter().all(|(_, old, new)| old == new),
            "released as they stand"
        );
        for tag in ["core-v0.1.0", "mid-v0.1.0", "top-v0.1.0", "solo-v0.1.0"] {
            git(dir.path(), &["tag", tag]).unwrap();
        }
        assert!(changed_since_tag(&ws).unwrap().is_empty());
        std::fs::write(dir.path().join("mid/src/lib.rs"), "// changed\n").unwrap();
        git(dir.path(), &["commit", "-qam", "change mid"]).unwrap();
        assert_eq!(changed_since_tag(&ws).unwrap(), [("mid".to_owned(), Bump::Patch)]);
    }
}
