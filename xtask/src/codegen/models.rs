//! `generated/models.rs`: a struct per schema, an enum per inline list of values.

use super::template::{Template, template};
use super::*;

const MODELS: Template = template!("models.rs.tmpl");
const MODEL_STRUCT: Template = template!("model_struct.rs.tmpl");
const MODEL_ENUM: Template = template!("model_enum.rs.tmpl");

/// A doc comment from a description: one line per line, no code fences, no indentation
/// (which rustdoc would take for a code block to compile).
/// Nothing without a text: no doc is better than one that repeats the item's name.
/// Unindented: a template's placeholder indents it.
pub(super) fn doc(out: &mut String, text: Option<&str>) {
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
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {line}");
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
        let items: Vec<String> = self
            .structs
            .iter()
            .map(|s| self.model_struct(s))
            .chain(self.enums.iter().map(Self::model_enum))
            .collect();
        MODELS.render(&[
            ("header", HEADER),
            ("reexports", &self.model_imports()),
            ("items", &items.join("\n")),
        ])
    }

    fn model_struct(&self, s: &StructDef) -> String {
        let mut docs = String::new();
        doc(&mut docs, s.doc.as_deref());
        if let Some(used) = self.usage(&s.name) {
            if s.doc.is_some() {
                docs.push_str("///\n");
            }
            doc(&mut docs, Some(&used));
        }
        // `rename_all` where most fields' wire names are their names in camelCase, and a
        // `rename` on each field named otherwise on the wire.
        let fit = s.fields.iter().filter(|f| serde_camel(&f.rust) == f.json).count();
        let camel = fit * 2 > s.fields.len();
        let mut fields = String::new();
        for f in &s.fields {
            doc(&mut fields, f.doc.as_deref());
            if f.deprecated {
                fields.push_str("#[deprecated(note = \"bol's description marks this field deprecated\")]\n");
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
                let _ = writeln!(fields, "#[serde({})]", attrs.join(", "));
            }
            let _ = writeln!(fields, "pub {}: {ty},", f.rust);
        }
        MODEL_STRUCT.render(&[
            ("doc", &docs),
            (
                "serde",
                if camel {
                    "default, rename_all = \"camelCase\""
                } else {
                    "default"
                },
            ),
            ("name", &s.name),
            ("fields", &fields),
        ])
    }

    fn model_enum(e: &EnumDef) -> String {
        let mut docs = String::new();
        doc(&mut docs, e.doc.as_deref());
        let variants = variants(&e.values);
        // `rename_all` where most values are their variants' names in SCREAMING_SNAKE_CASE,
        // and a `rename` on each variant named otherwise on the wire.
        let fit = variants
            .iter()
            .filter(|(name, v)| serde_screaming(name) == *v)
            .count();
        let screaming = fit * 2 > variants.len();
        let mut lines = String::new();
        let mut arms = String::new();
        for (name, v) in &variants {
            let _ = writeln!(lines, "/// `{v}`.");
            let wire = if screaming {
                serde_screaming(name)
            } else {
                name.clone()
            };
            if wire != *v {
                let _ = writeln!(lines, "#[serde(rename = {})]", lit(v));
            }
            let _ = writeln!(lines, "{name},");
            let _ = writeln!(arms, "Self::{name} => {},", lit(v));
        }
        let rename_all = if screaming {
            "#[serde(rename_all = \"SCREAMING_SNAKE_CASE\")]"
        } else {
            ""
        };
        MODEL_ENUM.render(&[
            ("doc", &docs),
            ("rename_all", rename_all),
            ("name", &e.name),
            ("variants", &lines),
            ("arms", &arms),
        ])
    }

    /// The Rust type of a field and its serde attributes besides its name. A date, a date
    /// and time or a time of day is always an `Option` (`None` when absent: a date has no
    /// default to take); money is a `commerce_core::Money` (euros), a JSON number on the wire both ways.
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
            Kind::Money if f.required => (f.ty.clone(), vec![with("commerce_core::money::eur_number")]),
            Kind::Money => (
                optional,
                vec![
                    with("commerce_core::money::eur_number_option"),
                    SKIP_NONE.to_owned(),
                ],
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
            out.push_str("pub use commerce_core::Money;\n");
        }
        out
    }
}
