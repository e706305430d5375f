//! `generated/models.rs`: a struct per schema, an enum per inline list of values.

use super::*;

/// A doc comment from a description: one line per line, no code fences, no indentation
/// (which rustdoc would take for a code block to compile).
/// Nothing without a text: no doc is better than one that repeats the item's name.
pub(super) fn doc(out: &mut String, indent: &str, text: Option<&str>) {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return;
    };
    for line in text.replace("\r", "").lines() {
        // The indentation of a list item's next lines is kept, up to three spaces: four
        // would make a code block, which rustdoc would compile.
        let indent_by = line.len() - line.trim_start_matches(' ').len();
        let line = line.trim().replace("```", "'''");
        let line = format!("{}{}", " ".repeat(indent_by.min(3)), link_urls(&line));
        if line.trim().is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

/// Bare URLs of a description's line as links (`<https://...>`), which rustdoc renders and
/// does not warn about; a trailing full stop or comma stays outside.
pub(super) fn link_urls(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if !(word.starts_with("http://") || word.starts_with("https://")) {
                return word.to_owned();
            }
            let url = word.trim_end_matches(['.', ',', ';', ':', ')']);
            format!("<{url}>{}", &word[url.len()..])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Gen {
    /// Which operations send or answer a model, as a doc line linking them (the model is the
    /// body or the answer of at most a few operations; of more, it says nothing).
    pub(super) fn usage(&self, model: &str) -> Option<String> {
        let sent: Vec<String> = self
            .ops
            .iter()
            .filter(|o| o.body.as_ref().is_some_and(|(_, b)| b == model))
            .map(|o| {
                format!(
                    "[`RetailerClient::{0}`](crate::RetailerClient::{0})",
                    snake(&o.id)
                )
            })
            .collect();
        let answered: Vec<String> = self
            .ops
            .iter()
            .filter(|o| o.answers.iter().any(|(_, t)| t.as_deref() == Some(model)))
            .map(|o| {
                format!(
                    "[`RetailerClient::{0}`](crate::RetailerClient::{0})",
                    snake(&o.id)
                )
            })
            .collect();
        let mut parts = Vec::new();
        if !sent.is_empty() && sent.len() <= 4 {
            parts.push(format!("The body of {}.", sent.join(", ")));
        }
        if !answered.is_empty() && answered.len() <= 4 {
            parts.push(format!("The answer of {}.", answered.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    pub(super) fn models(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str(
            "//! The models of every schema of bol's Retailer API v10 and shared process-status API.\n",
        );
        out.push_str("//!\n//! Decoding is tolerant: a missing field takes its default and an unknown enum value is kept\n//! as `Other`, so a new field or value at bol never breaks an answer. Dates and times are\n//! `chrono` values, each an `Option` (absent: `None`, never a made-up date); one that is not\n//! RFC 3339 with its offset (`2017-02-09T12:39:48+01:00`) or a `YYYY-MM-DD` date fails the\n//! decoding, naming the field. Amounts of money are exact `Decimal`s, JSON numbers on the\n//! wire both ways.\n");
        out.push_str("//!\n//! Items are documented with the description's own text; where it has none (most nested\n//! objects), they are left without a doc rather than given one that repeats their name.\n\n");
        out.push_str("#![allow(missing_docs)]\n\n");
        out.push_str(&self.model_imports());
        out.push_str("use serde::{Deserialize, Serialize};\n\n");
        for s in &self.structs {
            doc(&mut out, "", s.doc.as_deref());
            if let Some(used) = self.usage(&s.name) {
                if s.doc.is_some() {
                    out.push_str("///\n");
                }
                doc(&mut out, "", Some(&used));
            }
            // `rename_all` where most fields' wire names are their names in camelCase, and a
            // `rename` on each field named otherwise on the wire.
            let fit = s.fields.iter().filter(|f| serde_camel(&f.rust) == f.json).count();
            let camel = fit * 2 > s.fields.len();
            out.push_str("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]\n");
            out.push_str(if camel {
                "#[serde(default, rename_all = \"camelCase\")]\n"
            } else {
                "#[serde(default)]\n"
            });
            let _ = writeln!(out, "pub struct {} {{", s.name);
            for f in &s.fields {
                doc(&mut out, "    ", f.doc.as_deref());
                if f.deprecated {
                    out.push_str(
                        "    #[deprecated(note = \"bol's description marks this field deprecated\")]\n",
                    );
                }
                let (ty, mut attrs) = Self::field_type(f);
                let wire = if camel {
                    serde_camel(&f.rust)
                } else {
                    unraw(&f.rust).to_owned()
                };
                if wire != f.json {
                    attrs.insert(0, format!("rename = {}", lit(&f.json)));
                }
                if !attrs.is_empty() {
                    let _ = writeln!(out, "    #[serde({})]", attrs.join(", "));
                }
                let _ = writeln!(out, "    pub {}: {ty},", f.rust);
            }
            out.push_str("}\n\n");
        }
        for e in &self.enums {
            doc(&mut out, "", e.doc.as_deref());
            out.push_str("#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]\n");
            let variants = variants(&e.values);
            // `rename_all` where most values are their variants' names in SCREAMING_SNAKE_CASE,
            // and a `rename` on each variant named otherwise on the wire.
            let fit = variants
                .iter()
                .filter(|(name, v)| serde_screaming(name) == *v)
                .count();
            let screaming = fit * 2 > variants.len();
            if screaming {
                out.push_str("#[serde(rename_all = \"SCREAMING_SNAKE_CASE\")]\n");
            }
            let _ = writeln!(out, "pub enum {} {{", e.name);
            for (name, v) in &variants {
                let _ = writeln!(out, "    /// `{v}`.");
                let wire = if screaming {
                    serde_screaming(name)
                } else {
                    name.clone()
                };
                if wire != *v {
                    let _ = writeln!(out, "    #[serde(rename = {})]", lit(v));
                }
                let _ = writeln!(out, "    {name},");
            }
            out.push_str("    /// A value this version of the library does not know, as sent.\n    #[serde(untagged)]\n    Other(String),\n}\n\n");
            let _ = writeln!(
                out,
                "impl Default for {0} {{\n    fn default() -> Self {{\n        {0}::Other(String::new())\n    }}\n}}\n",
                e.name
            );
            let _ = writeln!(
                out,
                "impl {} {{\n    /// The value on the wire.\n    pub fn as_str(&self) -> &str {{\n        match self {{",
                e.name
            );
            for (name, v) in &variants {
                let _ = writeln!(out, "            Self::{name} => {},", lit(v));
            }
            out.push_str("            Self::Other(v) => v,\n        }\n    }\n}\n\n");
            let _ = writeln!(
                out,
                "impl std::fmt::Display for {} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n",
                e.name
            );
        }
        out
    }

    /// The Rust type of a field and its serde attributes besides its name. A date, a date
    /// and time or a time of day is always an `Option` (`None` when absent: a date has no
    /// default to take); money is a `Decimal`, a JSON number on the wire both ways.
    pub(super) fn field_type(f: &Field) -> (String, Vec<String>) {
        const SKIP_NONE: &str = "skip_serializing_if = \"Option::is_none\"";
        const SKIP_EMPTY: &str = "skip_serializing_if = \"Vec::is_empty\"";
        let with = |path: &str| format!("with = {}", lit(path));
        if f.array {
            let attrs = if f.required {
                vec![]
            } else {
                vec![SKIP_EMPTY.to_owned()]
            };
            return (f.ty.clone(), attrs);
        }
        let optional = format!("Option<{}>", f.ty);
        match f.kind {
            Kind::Date | Kind::DateTime => (optional, vec![SKIP_NONE.to_owned()]),
            Kind::Time => (
                optional,
                vec![with("crate::wire::time_of_day"), SKIP_NONE.to_owned()],
            ),
            Kind::Money if f.required => (f.ty.clone(), vec![with("rust_decimal::serde::float")]),
            Kind::Money => (
                optional,
                vec![with("rust_decimal::serde::float_option"), SKIP_NONE.to_owned()],
            ),
            Kind::Plain if f.required => (f.ty.clone(), vec![]),
            Kind::Plain => (optional, vec![SKIP_NONE.to_owned()]),
        }
    }

    /// The types of other crates the models use, re-exported beside them so that a caller
    /// builds a request without depending on those crates itself.
    pub(super) fn model_imports(&self) -> String {
        let used = |k: Kind| {
            self.structs.iter().any(|s| s.fields.iter().any(|f| f.kind == k))
                || self.ops.iter().any(|o| o.params.iter().any(|p| p.kind == k))
        };
        let mut chrono = Vec::new();
        if used(Kind::DateTime) {
            chrono.extend(["DateTime", "FixedOffset"]);
        }
        if used(Kind::Date) {
            chrono.push("NaiveDate");
        }
        if used(Kind::Time) {
            chrono.push("NaiveTime");
        }
        let mut out = String::new();
        if !chrono.is_empty() {
            let _ = writeln!(out, "pub use chrono::{{{}}};", chrono.join(", "));
        }
        if used(Kind::Money) {
            out.push_str("pub use rust_decimal::Decimal;\n");
        }
        out
    }
}
