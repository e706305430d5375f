//! `generated/operations/`: `OPERATIONS`, and a module per bol tag with its operations'
//! parameter and answer types and one `impl RetailerClient`.

use super::template::{Template, template};
use super::*;

const OPERATIONS_MOD: Template = template!("operations_mod.rs.tmpl");
const OPERATION_INFO: Template = template!("operation_info.rs.tmpl");
const TAG_MODULE: Template = template!("tag_module.rs.tmpl");
const PARAMS_STRUCT: Template = template!("params_struct.rs.tmpl");
const ANSWER_STRUCT: Template = template!("answer_struct.rs.tmpl");
const METHOD: Template = template!("method.rs.tmpl");
const ANSWER_WITH_HEADERS: Template = template!("answer_with_headers.rs.tmpl");
const QUERY_PAIRS: Template = template!("query_pairs.rs.tmpl");
const QUERY_EACH: Template = template!("query_each.rs.tmpl");
const HEADER_OPT: Template = template!("header_opt.rs.tmpl");
const PART_OPT: Template = template!("part_opt.rs.tmpl");
const STREAM: Template = template!("stream.rs.tmpl");

/// The words of generated code outside comments and string literals: what it uses.
fn code_words(code: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut word = String::new();
        let mut in_string = false;
        let mut escaped = false;
        for c in line.chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                words.insert(std::mem::take(&mut word));
            }
            in_string = c == '"';
        }
        if !word.is_empty() {
            words.insert(word);
        }
    }
    words
}

/// Whether values of a generated argument type are `Copy` (passed on without `.clone()`).
fn is_copy(ty: &str) -> bool {
    matches!(ty, "i64" | "f64" | "bool" | "NaiveDate")
}

impl Gen {
    pub(super) fn params_struct(op: &Op) -> Option<String> {
        let optional: Vec<&Param> = op
            .params
            .iter()
            .filter(|p| p.location != "path" && !p.required)
            .collect();
        (!optional.is_empty()).then(|| format!("{}Params", pascal(&op.id)))
    }

    /// For an operation whose description declares headers on its success answer: the name
    /// of the type holding the answer and those headers (the operation's name without `get-`,
    /// e.g. `ShippingLabel`, unless a model is named so) and the name of its body field (the
    /// media type's suffix for bytes, `pdf`; `body` for JSON).
    pub(super) fn header_answer(&self, op: &Op) -> Option<(String, String)> {
        if op.answer_headers.is_empty() {
            return None;
        }
        let mut name = pascal(op.id.strip_prefix("get-").unwrap_or(&op.id));
        if self.names.contains(&name) {
            name.push_str("Answer");
        }
        let (media, ty) = &op.answers[0];
        let field = match ty {
            Some(_) => "body".to_owned(),
            None => snake(media.rsplit(['+', '.', '/']).next().unwrap_or("body")),
        };
        Some((name, field))
    }

    /// The field of a declared answer header: `X-Track-And-Trace-Code` → `track_and_trace_code`.
    pub(super) fn header_field(header: &str) -> String {
        let h = header
            .strip_prefix("X-")
            .or_else(|| header.strip_prefix("x-"))
            .unwrap_or(header);
        snake(h)
    }

    pub(super) fn media_group(op: &Op) -> String {
        lit(&op.group)
    }

    /// `(signature args, call args for the stream closure)`.
    pub(super) fn args(op: &Op) -> Vec<(String, String, String)> {
        // (name, arg type, owned type)
        op.params
            .iter()
            .filter(|p| p.location == "path" || p.required)
            .map(|p| {
                let owned = match p.arg_ty.as_str() {
                    "&str" => "String".to_owned(),
                    "&[String]" => "Vec<String>".to_owned(),
                    t => t.trim_start_matches('&').to_owned(),
                };
                (p.rust.clone(), p.arg_ty.clone(), owned)
            })
            .collect()
    }

    /// The tags of the operations, each with its module's name, in the tags' order.
    pub(super) fn tag_modules(&self) -> Vec<(String, String)> {
        let tags: BTreeSet<&str> = self.ops.iter().map(|o| o.group.as_str()).collect();
        tags.into_iter().map(|t| (t.to_owned(), snake(t))).collect()
    }

    /// `operations/mod.rs`: what the library knows of each operation, and the modules of
    /// the operations, one per bol tag.
    pub(super) fn operations(&self) -> String {
        let mut modules = String::new();
        for (tag, module) in self.tag_modules() {
            let _ = writeln!(modules, "mod {module};");
            let types = self.tag_types(&tag);
            if !types.is_empty() {
                let _ = writeln!(modules, "pub use {module}::{{{}}};", types.join(", "));
            }
        }
        let operations: String = self
            .ops
            .iter()
            .map(|op| {
                OPERATION_INFO.render(&[
                    ("id", &lit(&op.id)),
                    ("method", &lit(&op.method)),
                    ("path", &lit(&format!("{}{}", Self::prefix(op), op.rel))),
                    ("group", &lit(&op.group)),
                    ("accept", &lit(&op.answers[0].0)),
                ])
            })
            .collect();
        OPERATIONS_MOD.render(&[
            ("header", HEADER),
            ("modules", &modules),
            ("operations", &operations),
        ])
    }

    /// The start of an operation's path: `/retailer/` or `/shared/`.
    pub(super) fn prefix(op: &Op) -> &'static str {
        match op.api {
            Api::Retailer => "/retailer/",
            Api::Shared => "/shared/",
        }
    }

    /// The types a tag's module defines: the optional parameters and the answers with
    /// headers of its operations.
    pub(super) fn tag_types(&self, tag: &str) -> Vec<String> {
        let mut types = Vec::new();
        for op in self.ops.iter().filter(|o| o.group == tag) {
            types.extend(Self::params_struct(op));
            types.extend(self.header_answer(op).map(|(name, _)| name));
        }
        types.sort();
        types
    }

    /// The struct of an operation's optional parameters, if it has any.
    fn params_type(op: &Op) -> Option<String> {
        let name = Self::params_struct(op)?;
        let mut fields = String::new();
        for p in op.params.iter().filter(|p| p.location != "path" && !p.required) {
            doc(&mut fields, p.doc.as_deref());
            let ty = if p.array {
                p.ty.clone()
            } else {
                format!("Option<{}>", p.ty)
            };
            let _ = writeln!(fields, "pub {}: {ty},", p.rust);
        }
        Some(PARAMS_STRUCT.render(&[("method", &snake(&op.id)), ("name", &name), ("fields", &fields)]))
    }

    /// The struct of an operation's answer with the headers declared on it, if it has any.
    fn answer_type(&self, op: &Op) -> Option<String> {
        let (name, body_field) = self.header_answer(op)?;
        let (media, ty) = &op.answers[0];
        let mut header_fields = String::new();
        for (header, description) in &op.answer_headers {
            let text = description
                .as_deref()
                .map(|d| format!("{} (`{header}`).", d.trim().trim_end_matches('.')))
                .unwrap_or_else(|| format!("The `{header}` header."));
            doc(&mut header_fields, Some(&text));
            let _ = writeln!(
                header_fields,
                "pub {}: Option<String>,",
                Self::header_field(header)
            );
        }
        Some(ANSWER_STRUCT.render(&[
            ("method", &snake(&op.id)),
            ("eq", if ty.is_none() { ", Eq" } else { "" }),
            ("name", &name),
            ("media", media),
            ("body_field", &body_field),
            ("body_type", ty.as_deref().unwrap_or("bytes::Bytes")),
            ("header_fields", &header_fields),
        ]))
    }

    /// The module of the operations of one tag: their parameter and answer types, and one
    /// `impl RetailerClient` whose doc names the tag.
    pub(super) fn tag_module(&self, tag: &str) -> String {
        let ops: Vec<&Op> = self.ops.iter().filter(|o| o.group == tag).collect();
        let types: Vec<String> = ops
            .iter()
            .filter_map(|op| Self::params_type(op))
            .chain(ops.iter().filter_map(|op| self.answer_type(op)))
            .collect();
        let mut tag_doc = String::new();
        if let Some(d) = self.tags.get(tag).and_then(Option::as_deref) {
            tag_doc.push_str("///\n");
            doc(
                &mut tag_doc,
                Some(&format!("{}.", d.trim().trim_end_matches('.'))),
            );
        }
        let methods: Vec<String> = ops.iter().map(|op| self.method(op)).collect();
        let types = types.join("\n");
        let methods = methods.join("\n");

        // Parameters the description leaves without text stay without a doc.
        let undocumented = ops.iter().flat_map(|o| &o.params).any(|p| {
            p.location != "path" && !p.required && p.doc.as_deref().is_none_or(|d| d.trim().is_empty())
        });
        let code = code_words(&format!("{types}\n{methods}"));
        let core: Vec<&str> = ["Endpoint", "Error", "encode_segment"]
            .into_iter()
            .filter(|w| code.contains(*w))
            .collect();
        let models: Vec<String> = self
            .structs
            .iter()
            .map(|s| s.name.clone())
            .chain(self.enums.iter().map(|e| e.name.clone()))
            .chain(["DateTime", "FixedOffset", "NaiveDate", "NaiveTime", "Money"].map(str::to_owned))
            .filter(|n| code.contains(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        TAG_MODULE.render(&[
            ("header", HEADER),
            ("tag", tag),
            (
                "allow_missing_docs",
                if undocumented {
                    "#![allow(missing_docs)]"
                } else {
                    ""
                },
            ),
            ("core", &core.join(", ")),
            (
                "stream_import",
                if code.contains("BoxStream") {
                    "use futures_util::stream::BoxStream;"
                } else {
                    ""
                },
            ),
            ("models", &models.join(", ")),
            ("types", &types),
            ("tag_doc", &tag_doc),
            ("methods", &methods),
        ])
    }

    /// The methods of an operation: one per media type of its answer, and a stream of the
    /// items of a list paged with `page`.
    pub(super) fn method(&self, op: &Op) -> String {
        let fname = snake(&op.id);
        let args = Self::args(op);
        let params = Self::params_struct(op);
        let mut sig = String::from("&self");
        for (name, ty, _) in &args {
            let _ = write!(sig, ", {name}: {ty}");
        }
        if let Some(p) = &params {
            let _ = write!(sig, ", params: &{p}");
        }
        if let Some((_, body)) = &op.body {
            let _ = write!(sig, ", body: &{body}");
        }
        for f in &op.multipart {
            let ty = match (f.file, f.required) {
                (true, true) => "crate::FileUpload",
                (true, false) => "Option<crate::FileUpload>",
                (false, true) => "&str",
                (false, false) => "Option<&str>",
            };
            let _ = write!(sig, ", {}: {ty}", f.rust);
        }
        let prefix = Self::prefix(op);
        let mut fmt = String::new();
        let mut fmt_args = Vec::new();
        for seg in op.rel.split('/') {
            if !fmt.is_empty() {
                fmt.push('/');
            }
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                fmt.push_str("{}");
                let p = op
                    .params
                    .iter()
                    .find(|p| p.json == name)
                    .expect("path parameter declared");
                fmt_args.push(if p.arg_ty == "&str" {
                    format!("encode_segment({})", p.rust)
                } else {
                    format!("encode_segment(&{}.to_string())", p.rust)
                });
            } else {
                fmt.push_str(seg);
            }
        }
        let path_expr = if fmt_args.is_empty() {
            lit(&fmt)
        } else {
            format!("&format!({}, {})", lit(&fmt), fmt_args.join(", "))
        };
        let api = match op.api {
            Api::Retailer => "Api::Retailer",
            Api::Shared => "Api::Shared",
        };
        let replay = match op.method.as_str() {
            "POST" if READING_POSTS.contains(&op.id.as_str()) => ".idempotent()",
            "PUT" if PUTS_ACTING_ONCE.contains(&op.id.as_str()) => {
                ".with_replay(commerce_core::Replay::Never)"
            }
            _ => "",
        };
        let summary = op
            .summary
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| op.id.clone());
        let mut summary_doc = String::new();
        doc(&mut summary_doc, Some(&summary));
        let mut description = String::new();
        if let Some(d) = &op.description
            && d.trim() != summary.trim()
        {
            description.push_str("///\n");
            doc(&mut description, Some(d));
        }
        let mut parts_doc = String::new();
        for f in &op.multipart {
            let what = f.doc.as_deref().map(str::trim).filter(|w| !w.is_empty());
            let _ = writeln!(
                parts_doc,
                "///\n/// `{}`: {}Sent as the multipart part `{}`, a name set here, not by the caller.",
                f.rust,
                what.map(|w| format!("{w} ")).unwrap_or_default(),
                f.json,
            );
        }
        let deprecated = if op.deprecated {
            format!(
                "#[deprecated(note = \"bol's description marks `{}` deprecated\")]",
                op.id
            )
        } else {
            String::new()
        };

        let emit = |fname: &str, media: &str, ret: &str, finish: &str, answered_as: &str| {
            // The endpoint is one chain of calls; what depends on a value (an optional header,
            // a list, an object's properties) follows as statements, and only then is `ep` mut.
            let mut chain = vec![
                format!(
                    "Endpoint::new(http::Method::{}, {}, path)",
                    op.method,
                    lit(&op.id)
                ),
                format!(".accept(self.media({}, {}))", Self::media_group(op), lit(media)),
                format!(".bucket({}){replay}", lit(&op.id)),
            ];
            let mut statements: Vec<String> = Vec::new();
            let mut step = |call: String, statement: Option<String>| match statement {
                Some(st) => statements.push(st),
                None if statements.is_empty() => chain.push(call),
                None => statements.push(format!("ep = ep{call};\n")),
            };
            for p in op.params.iter().filter(|p| p.location == "query") {
                let value = if p.required {
                    p.rust.clone()
                } else {
                    format!("params.{}", p.rust)
                };
                let name = lit(&p.json);
                if p.arg_ty.starts_with('&') && !["&str", "&[String]"].contains(&p.arg_ty.as_str()) {
                    // An object parameter, exploded: one query pair per property.
                    step(String::new(), Some(QUERY_PAIRS.render(&[("value", &value)])));
                } else if p.array {
                    step(
                        String::new(),
                        Some(QUERY_EACH.render(&[("value", &value), ("name", &name)])),
                    );
                } else if p.kind == Kind::Money && p.required {
                    // An amount as bol writes it in a query: `12.99`.
                    step(format!(".query({name}, {value}.decimal())"), None);
                } else if p.kind == Kind::Money {
                    step(
                        format!(".query_opt({name}, {value}.as_ref().map(Money::decimal))"),
                        None,
                    );
                } else if p.required {
                    step(format!(".query({name}, {value})"), None);
                } else {
                    step(format!(".query_opt({name}, {value}.as_ref())"), None);
                }
            }
            for p in op.params.iter().filter(|p| p.location == "header") {
                let header = format!(
                    "http::HeaderName::from_static({})",
                    lit(&p.json.to_ascii_lowercase())
                );
                if p.required {
                    let text = if p.ty == "String" {
                        p.rust.clone()
                    } else {
                        format!("{}.as_str()", p.rust)
                    };
                    step(format!(".header({header}, {text})"), None);
                } else {
                    let text = if p.ty == "String" { "v" } else { "v.as_str()" };
                    step(
                        String::new(),
                        Some(HEADER_OPT.render(&[("field", &p.rust), ("header", &header), ("text", text)])),
                    );
                }
            }
            if let Some((ct, _)) = &op.body {
                step(
                    format!(
                        ".json(body).content_type(self.media({}, {}))",
                        Self::media_group(op),
                        lit(ct)
                    ),
                    None,
                );
            }
            // The parts are named here, as the description names them, never by the caller.
            let part = |f: &MultipartField, value: &str| {
                if f.file {
                    format!("{value}.into_part({})", lit(&f.json))
                } else {
                    format!("commerce_core::Part::text({}, {value})", lit(&f.json))
                }
            };
            let mut parts = String::new();
            if op.multipart.iter().all(|f| f.required) {
                if !op.multipart.is_empty() {
                    let parts: Vec<String> = op.multipart.iter().map(|f| part(f, &f.rust)).collect();
                    step(format!(".multipart(vec![{}])", parts.join(", ")), None);
                }
            } else {
                parts.push_str("let mut parts = Vec::new();\n");
                for f in &op.multipart {
                    if f.required {
                        let _ = writeln!(parts, "parts.push({});", part(f, &f.rust));
                    } else {
                        parts.push_str(&PART_OPT.render(&[("field", &f.rust), ("part", &part(f, "v"))]));
                    }
                }
                step(".multipart(parts)".to_owned(), None);
            }
            METHOD.render(&[
                ("summary", &summary_doc),
                ("http_method", &op.method),
                ("http_path", &format!("{prefix}{}", op.rel)),
                ("id", &op.id),
                ("answered_as", answered_as),
                ("description", &description),
                ("parts_doc", &parts_doc),
                ("deprecated", &deprecated),
                ("name", fname),
                ("params", &sig),
                ("answer", ret),
                ("api", api),
                ("path", &path_expr),
                ("parts", &parts),
                ("binding", if statements.is_empty() { "let" } else { "let mut" }),
                ("endpoint", &chain.join("\n")),
                ("statements", &statements.concat()),
                ("finish", finish),
            ])
        };

        let mut out = Vec::new();
        let (first_media, first_ty) = &op.answers[0];
        match (first_ty, self.header_answer(op)) {
            // The description declares headers on the answer: the body and those headers,
            // each read tolerantly (absent or not UTF-8: `None`).
            (_, Some((name, body_field))) => {
                let mut headers = String::new();
                for (header, _) in &op.answer_headers {
                    let _ = writeln!(
                        headers,
                        "{}: crate::wire::header_text(headers, {}),",
                        Self::header_field(header),
                        lit(&header.to_ascii_lowercase())
                    );
                }
                let body = match first_ty {
                    Some(_) => "answer.json()?",
                    None => "answer.body().clone()",
                };
                let finish = ANSWER_WITH_HEADERS.render(&[
                    ("name", &name),
                    ("headers", &headers),
                    ("body_field", &body_field),
                    ("body", body),
                ]);
                out.push(emit(&fname, first_media, &name, &finish, ""));
            }
            (Some(t), None) => out.push(emit(&fname, first_media, t, "self.json_of(ep).await", "")),
            (None, None) => out.push(emit(
                &fname,
                first_media,
                "bytes::Bytes",
                "self.bytes_of(ep).await",
                "",
            )),
        }
        for (media, ty) in op.answers.iter().skip(1) {
            if ty.is_none() {
                let suffix = media.rsplit(['+', '.']).next().unwrap_or("bytes");
                let suffix = if suffix.contains("sheet") { "xlsx" } else { suffix };
                out.push(emit(
                    &format!("{fname}_{suffix}"),
                    media,
                    "bytes::Bytes",
                    "self.bytes_of(ep).await",
                    &format!(", answered as `{media}`"),
                ));
            }
        }

        // A stream for lists paged with `page`: the one list property of the answer.
        let has_page = op
            .params
            .iter()
            .any(|p| p.json == "page" && !p.required && p.location == "query");
        if let (true, Some(t)) = (has_page, first_ty)
            && let Some(s) = self.structs.iter().find(|s| &s.name == t)
        {
            let lists: Vec<&Field> = s.fields.iter().filter(|f| f.array).collect();
            if let [list] = lists.as_slice() {
                let item = list.ty.trim_start_matches("Vec<").trim_end_matches('>');
                let pname = params.clone().expect("page is an optional parameter");
                let mut ssig = String::from("&self");
                let mut call = Vec::new();
                let mut clones = String::new();
                for (name, _, owned) in &args {
                    let _ = write!(ssig, ", {name}: {owned}");
                    call.push(if owned == "String" || owned == "Vec<String>" {
                        format!("&{name}")
                    } else if is_copy(owned) {
                        name.clone()
                    } else {
                        format!("{name}.clone()")
                    });
                    if !is_copy(owned) {
                        let _ = writeln!(clones, "let {name} = {name}.clone();");
                    }
                }
                let _ = write!(ssig, ", params: {pname}");
                call.push("&params".to_owned());
                if clones.is_empty() {
                    // Without clones their line stays, blank, as the committed files have it.
                    clones.push(' ');
                }
                out.push(STREAM.render(&[
                    ("method", &fname),
                    ("params", &ssig),
                    ("item", item),
                    ("clones", &clones),
                    ("args", &call.join(", ")),
                    ("list", &list.rust),
                ]));
            }
        }
        out.join("\n")
    }
}
