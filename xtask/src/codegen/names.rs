//! How the description's names become Rust names: snake_case, PascalCase, without
//! stutter, and as serde spells them.

use super::*;

pub(super) const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match",
    "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
    "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while",
    "yield", "abstract", "become",
];

pub(super) fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && !cur.is_empty()
            && (prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase())));
        if boundary {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub(super) fn snake(s: &str) -> String {
    let w: Vec<String> = words(s).iter().map(|w| w.to_ascii_lowercase()).collect();
    let mut name = w.join("_");
    if name.is_empty() {
        name = "value".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("v{name}");
    }
    if KEYWORDS.contains(&name.as_str()) {
        name = format!("r#{name}");
    }
    name
}

pub(super) fn pascal(s: &str) -> String {
    let mut name: String = words(s)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if name.is_empty() {
        name = "Value".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("V{name}");
    }
    name
}

/// A name without its stutter: words that repeat the words right before them are said once
/// (`OrderOrderItem`: `OrderItem`; `TransportEventEventCode`: `TransportEventCode`).
pub(super) fn destutter(name: &str) -> String {
    let mut w = words(&pascal(name));
    let mut i = 0;
    while i < w.len() {
        let longest = (1..=(w.len() - i) / 2).rev().find(|&k| {
            w[i..i + k]
                .iter()
                .zip(&w[i + k..i + 2 * k])
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        });
        match longest {
            Some(k) => {
                w.drain(i..i + k);
            }
            None => i += 1,
        }
    }
    pascal(&w.concat())
}

/// The variant names of an enum's values (`CANCELLED_BY_SELLER`: `CancelledBySeller`),
/// distinct, none named `Other` (the variant for values the library does not know).
pub(super) fn variants(values: &[String]) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for v in values {
        let mut name = pascal(v);
        if name == "Other" {
            name = "OtherValue".into();
        }
        while !used.insert(name.clone()) {
            name.push('_');
        }
        out.push((name, v.clone()));
    }
    out
}

/// A field name as serde spells it on the wire (`r#type`: `type`).
pub(super) fn unraw(rust: &str) -> &str {
    rust.strip_prefix("r#").unwrap_or(rust)
}

/// A snake_case field name in camelCase, as serde's `rename_all = "camelCase"` makes it.
pub(super) fn serde_camel(rust: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in unraw(rust).chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A PascalCase variant name in SCREAMING_SNAKE_CASE, as serde's `rename_all` makes it.
pub(super) fn serde_screaming(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.char_indices() {
        if i > 0 && c.is_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
