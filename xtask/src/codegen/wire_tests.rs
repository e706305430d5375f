//! The generated tests: a wire test per operation from the description's examples, and
//! the calls and seeds of the decoder fuzz test.

use super::template::{Template, template};
use super::*;

const DECODER_CALLS: Template = template!("decoder_calls.rs.tmpl");
const DECODER_CALL: Template = template!("decoder_call.rs.tmpl");
const WIRE_TESTS: Template = template!("wire_tests.rs.tmpl");
const WIRE_TEST: Template = template!("wire_test.rs.tmpl");
const WHEN_JSON_BODY: Template = template!("when_json_body.rs.tmpl");
const WHEN_MULTIPART: Template = template!("when_multipart.rs.tmpl");
const ASSERT_REENCODED: Template = template!("assert_reencoded.rs.tmpl");

impl Gen {
    /// An example value of a schema, from the description's own `example`s.
    pub(super) fn example(&self, schema: &Value, _depth: usize) -> Value {
        self.example_in(schema, &mut Vec::new())
    }

    /// `stack` holds the schemas being expanded, so a recursive schema stops at itself.
    pub(super) fn example_in(&self, schema: &Value, stack: &mut Vec<String>) -> Value {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r).to_owned();
            if stack.contains(&name) {
                return Value::Null;
            }
            let Some(s) = self.schemas.get(&name).cloned() else {
                return Value::Null;
            };
            stack.push(name);
            let v = self.example_in(&s, stack);
            stack.pop();
            return v;
        }
        if let Some(e) = schema.get("example") {
            let ty = schema.get("type").and_then(Value::as_str).unwrap_or_default();
            // Keep examples that fit their type; make the rest fit.
            match (ty, e) {
                ("string", Value::String(_))
                | ("integer", Value::Number(_))
                | ("number", Value::Number(_))
                | ("boolean", Value::Bool(_))
                | ("array", Value::Array(_)) => return e.clone(),
                ("string", other) => return Value::String(other.to_string().trim_matches('"').to_owned()),
                _ => {}
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && let Some(first) = values.first()
        {
            return first.clone();
        }
        match schema.get("type").and_then(Value::as_str).unwrap_or("object") {
            "array" => {
                let item = self.example_in(schema.get("items").unwrap_or(&Value::Null), stack);
                if item.is_null() {
                    Value::Array(vec![])
                } else {
                    Value::Array(vec![item])
                }
            }
            "string" => Value::String(
                match Kind::of(schema) {
                    Kind::DateTime => "2024-01-31T12:00:00+01:00",
                    Kind::Date => "2024-01-31",
                    Kind::Time => "12:00",
                    _ => "string",
                }
                .into(),
            ),
            "integer" => Value::from(1),
            "number" => Value::from(1.5),
            "boolean" => Value::Bool(true),
            _ => {
                let mut map = Map::new();
                for (k, v) in schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let e = self.example_in(v, stack);
                    if !e.is_null() {
                        map.insert(k.clone(), e);
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// The arguments of an example call of `op`: the path and query values the wire test
    /// expects, defaults for parameter structs, the example body as `BODY`, a PDF part.
    /// The example value of a required parameter: the Rust expression passed, and the text
    /// it is sent as (`None` for an object parameter, sent as several query pairs).
    pub(super) fn example_value(&self, p: &Param, arg_ty: &str) -> (String, Option<String>) {
        let text = |expr: &str, text: &str| (expr.to_owned(), Some(text.to_owned()));
        match arg_ty {
            "&str" if p.location == "path" => text("\"p-1\"", "p-1"),
            "&str" => text("\"q-1\"", "q-1"),
            "&[String]" => text("&[\"q-1\".to_string()]", "q-1"),
            "i64" => text("1", "1"),
            "f64" => text("1.5", "1.5"),
            "bool" => text("true", "true"),
            "NaiveDate" => text("NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()", "2024-01-31"),
            "Money" => text("Money::new(1299, \"EUR\")", "12.99"),
            other => match self.enums.iter().find(|e| e.name == other) {
                Some(e) => {
                    let (variant, value) = variants(&e.values).swap_remove(0);
                    text(&format!("{other}::{variant}"), &value)
                }
                None => match other.strip_prefix('&') {
                    Some(t) => (format!("&{t}::default()"), None),
                    None => (format!("{other}::default()"), None),
                },
            },
        }
    }

    pub(super) fn example_args(&self, op: &Op) -> Vec<String> {
        let mut call_args = Vec::new();
        for (name, ty, _) in Self::args(op) {
            let p = op.params.iter().find(|p| p.rust == name).unwrap();
            call_args.push(self.example_value(p, &ty).0);
        }
        if Self::params_struct(op).is_some() {
            call_args.push("&Default::default()".to_owned());
        }
        if let Some((_, body)) = &op.body {
            call_args.push(format!("&serde_json::from_str::<{body}>(BODY).unwrap()"));
        }
        for f in &op.multipart {
            let v = if f.file {
                // A file name unlike the part's name: the part is named by the operation.
                "FileUpload::new(b\"%PDF-1.4\".to_vec(), \"document.pdf\", \"application/pdf\")".to_owned()
            } else {
                format!("\"{}-1\"", f.json)
            };
            call_args.push(if f.required { v } else { format!("Some({v})") });
        }
        call_args
    }

    /// Every operation called once with its example arguments, the description's example
    /// answers and media types: the seeds and calls of the decoder fuzz test.
    pub(super) fn decoder_calls(&self) -> String {
        let mut answers: Vec<String> = Vec::new();
        let mut media: Vec<String> = Vec::new();
        for op in &self.ops {
            let (m, ty) = &op.answers[0];
            if !media.contains(m) {
                media.push(m.clone());
            }
            if ty.is_some()
                && let Some(example) = &op.answer_example
            {
                let text = example.to_string();
                if !answers.contains(&text) {
                    answers.push(text);
                }
            }
        }
        let list = |items: &[String]| items.iter().map(|i| format!("{},\n", lit(i))).collect::<String>();
        let calls: String = self
            .ops
            .iter()
            .map(|op| {
                DECODER_CALL.render(&[
                    ("body", &Self::body_const(op)),
                    ("method", &snake(&op.id)),
                    ("args", &self.example_args(op).join(", ")),
                ])
            })
            .collect();
        DECODER_CALLS.render(&[
            ("header", HEADER),
            ("answers", &list(&answers)),
            ("media_types", &list(&media)),
            ("calls", &calls),
        ])
    }

    /// `const BODY` holding the example body of an operation that sends one (else nothing).
    fn body_const(op: &Op) -> String {
        if op.body.is_none() {
            return String::new();
        }
        let body_json = op.body_example.clone().unwrap_or(Value::Null);
        format!("const BODY: &str = {};", lit(&body_json.to_string()))
    }

    /// A wire test per operation: method, path, media types, body, and the decoding of the
    /// description's example answer (re-encoded, it must give the example back).
    pub(super) fn tests(&self) -> String {
        let tests: Vec<String> = self.ops.iter().map(|op| self.wire_test(op)).collect();
        WIRE_TESTS.render(&[("header", HEADER), ("tests", &tests.join("\n"))])
    }

    fn wire_test(&self, op: &Op) -> String {
        let fname = snake(&op.id);
        let path: String = op
            .rel
            .split('/')
            .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match op.params.iter().find(|p| p.json == name).map(|p| p.ty.as_str()) {
                    Some("i64") => "1",
                    _ => "p-1",
                },
                None => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let (media, ty) = &op.answers[0];
        let answer = match ty {
            Some(_) => {
                let example = op.answer_example.clone().unwrap_or(Value::Object(Map::new()));
                format!("const ANSWER: &str = {};", lit(&example.to_string()))
            }
            None => String::new(),
        };
        let mut when = String::new();
        for (name, ty, _) in Self::args(op) {
            let p = op.params.iter().find(|p| p.rust == name).unwrap();
            let (_, text) = self.example_value(p, &ty);
            match (p.location.as_str(), text) {
                ("query", Some(text)) => {
                    let _ = writeln!(
                        when,
                        "let when = when.query_param({}, {});",
                        lit(&p.json),
                        lit(&text)
                    );
                }
                ("header", Some(text)) => {
                    let _ = writeln!(
                        when,
                        "let when = when.header({}, {});",
                        lit(&p.json.to_ascii_lowercase()),
                        lit(&text)
                    );
                }
                _ => {}
            }
        }
        if let Some((ct, _)) = &op.body {
            when.push_str(&WHEN_JSON_BODY.render(&[("content_type", &lit(ct))]));
        }
        if !op.multipart.is_empty() {
            when.push_str(&WHEN_MULTIPART.render(&[]));
        }
        for f in &op.multipart {
            // Each part under the name the description gives it, whatever the caller did.
            let disposition = if f.file {
                format!("name=\"{}\"; filename=\"document.pdf\"", f.json)
            } else {
                format!("name=\"{}\"", f.json)
            };
            let _ = writeln!(
                when,
                "let when = when.body_includes({});",
                lit(&format!("Content-Disposition: form-data; {disposition}"))
            );
            if f.file {
                when.push_str(
                    r#"let when = when.body_includes("application/pdf").body_includes("%PDF-1.4");"#,
                );
                when.push('\n');
            }
        }
        let answer_headers: String = op
            .answer_headers
            .iter()
            .map(|(header, _)| {
                format!(
                    ".header({}, {})",
                    lit(header),
                    lit(&format!("v-{}", Self::header_field(header)))
                )
            })
            .collect();
        let mut asserts = String::new();
        let got = match self.header_answer(op) {
            Some((_, body_field)) => {
                for (header, _) in &op.answer_headers {
                    let field = Self::header_field(header);
                    let _ = writeln!(
                        asserts,
                        r#"assert_eq!(got.{field}.as_deref(), Some({}), "the `{header}` header is read");"#,
                        lit(&format!("v-{field}"))
                    );
                }
                format!("got.{body_field}")
            }
            None => "got".to_owned(),
        };
        match ty {
            Some(t) if t == "serde_json::Value" => {
                let _ = writeln!(
                    asserts,
                    "assert_eq!(normalized(&{got}), normalized(&serde_json::from_str(ANSWER).unwrap()));"
                );
            }
            Some(_) => asserts.push_str(&ASSERT_REENCODED.render(&[("got", &got)])),
            None => {
                let _ = writeln!(asserts, r#"assert_eq!(&{got}[..], b"BYTES");"#);
            }
        }
        WIRE_TEST.render(&[
            (
                "allow_deprecated",
                if op.deprecated {
                    "#[allow(deprecated)] // bol marks the operation deprecated; it is still served."
                } else {
                    ""
                },
            ),
            ("test", fname.trim_start_matches("r#")),
            ("body", &Self::body_const(op)),
            ("answer", &answer),
            ("http_method", &op.method),
            ("path", &lit(&format!("{}{path}", Self::prefix(op)))),
            ("accept", &lit(media)),
            ("when", &when),
            ("answer_headers", &answer_headers),
            ("answer_body", if ty.is_some() { "ANSWER" } else { "\"BYTES\"" }),
            ("method", &fname),
            ("args", &self.example_args(op).join(", ")),
            ("asserts", &asserts),
        ])
    }
}
