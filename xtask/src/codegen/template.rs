//! The shapes of the generated code, kept as templates (`templates/*.rs.tmpl`) that read
//! like the Rust they produce, and the small renderer that fills them.
//!
//! A template names its holes `{{name}}`; [`Template::render`] fills each with the value
//! given under that name. A line that holds nothing but a placeholder takes the value's lines,
//! each indented as the placeholder is, and disappears when the value is empty (an optional
//! attribute, a list of no statements). Everything else is copied as written: the output goes
//! through rustfmt, which settles the layout.
//!
//! A mistake in a template is the generator's bug, so it panics, naming the template and
//! the placeholder: a placeholder without a value, a value without a placeholder, a value
//! given twice, a `{{` that opens no placeholder.
//!
//! Limits, none of which today's templates meet: there is no escape, so a template cannot
//! hold a literal `{{` (Rust's `format!("{{}}")`, or `{{{name}}}` meaning a brace around a
//! placeholder) and a string literal written `"{{id}}"` would be filled when `id` is a
//! value; and a value put on a line of its own is indented line by line, so a multi-line
//! string literal inside it would change (the generator writes literals with `{:?}`, on
//! one line).

/// A template: its file's name (for the panics) and its text.
pub(super) struct Template {
    pub(super) name: &'static str,
    pub(super) text: &'static str,
}

/// The template of `templates/<file>`, read when the generator is compiled.
macro_rules! template {
    ($file:literal) => {
        $crate::codegen::template::Template {
            name: $file,
            text: include_str!(concat!("templates/", $file)),
        }
    };
}
pub(super) use template;

impl Template {
    /// The template with each `{{name}}` replaced by the value given for `name`.
    pub(super) fn render(&self, values: &[(&str, &str)]) -> String {
        for (i, (name, _)) in values.iter().enumerate() {
            if values[..i].iter().any(|(n, _)| n == name) {
                panic!("template {}: `{name}` is given twice", self.name);
            }
        }
        let mut used = vec![false; values.len()];
        let mut value = |name: &str| -> &str {
            let Some(i) = values.iter().position(|(n, _)| *n == name) else {
                panic!(
                    "template {}: no value for the placeholder `{{{{{name}}}}}`",
                    self.name
                );
            };
            used[i] = true;
            values[i].1
        };
        let mut out = String::with_capacity(self.text.len() * 2);
        for line in self.text.split_inclusive('\n') {
            let (text, newline) = line.strip_suffix('\n').map_or((line, ""), |t| (t, "\n"));
            let indent = &text[..text.len() - text.trim_start().len()];
            if let Some(name) = self.standalone(text.trim()) {
                let v = value(name);
                if v.is_empty() {
                    continue;
                }
                for (k, l) in v.lines().enumerate() {
                    if k > 0 {
                        out.push('\n');
                    }
                    if !l.trim().is_empty() {
                        out.push_str(indent);
                    }
                    out.push_str(l);
                }
                out.push_str(newline);
                continue;
            }
            let mut rest = text;
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let name = after
                    .find("}}")
                    .map(|end| &after[..end])
                    .filter(|name| is_name(name))
                    .unwrap_or_else(|| {
                        panic!("template {}: `{{{{` opens no placeholder in {text:?}", self.name)
                    });
                out.push_str(value(name));
                rest = &after[name.len() + 2..];
            }
            out.push_str(rest);
            out.push_str(newline);
        }
        if let Some(i) = used.iter().position(|u| !u) {
            panic!(
                "template {}: a value for `{}`, which it has no placeholder for",
                self.name, values[i].0
            );
        }
        out
    }

    /// The name of the placeholder a (trimmed) line holds alone.
    fn standalone<'a>(&self, line: &'a str) -> Option<&'a str> {
        line.strip_prefix("{{")
            .and_then(|l| l.strip_suffix("}}"))
            .filter(|name| is_name(name))
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Template = Template {
        name: "test.rs.tmpl",
        text: "fn {{name}}() {\n    {{body}}\n    {{extra}}\n    done({{name}});\n}\n",
    };

    #[test]
    fn fills_placeholders_and_indents_standalone_lines() {
        let got = T.render(&[("name", "f"), ("body", "let a = 1;\n\nlet b = 2;"), ("extra", "")]);
        assert_eq!(
            got,
            "fn f() {\n    let a = 1;\n\n    let b = 2;\n    done(f);\n}\n"
        );
    }

    #[test]
    fn braces_of_rust_code_are_kept() {
        let t = Template {
            name: "braces.rs.tmpl",
            text: "use a::{ {{names}} };\nfn f() { g(x, {}) }",
        };
        assert_eq!(
            t.render(&[("names", "B, C")]),
            "use a::{ B, C };\nfn f() { g(x, {}) }"
        );
    }

    #[test]
    #[should_panic(expected = "template test.rs.tmpl: no value for the placeholder `{{extra}}`")]
    fn a_placeholder_without_a_value_panics() {
        T.render(&[("name", "f"), ("body", "")]);
    }

    #[test]
    #[should_panic(expected = "template test.rs.tmpl: a value for `bdy`, which it has no placeholder for")]
    fn a_value_without_a_placeholder_panics() {
        T.render(&[("name", "f"), ("body", ""), ("extra", ""), ("bdy", "")]);
    }

    #[test]
    #[should_panic(expected = "template test.rs.tmpl: `name` is given twice")]
    fn a_value_given_twice_panics() {
        T.render(&[("name", "f"), ("name", "g"), ("body", ""), ("extra", "")]);
    }

    #[test]
    #[should_panic(expected = "template bad.rs.tmpl: `{{` opens no placeholder")]
    fn a_malformed_placeholder_panics() {
        let t = Template {
            name: "bad.rs.tmpl",
            text: "fn {{Name}}() {}\n",
        };
        t.render(&[]);
    }
}
