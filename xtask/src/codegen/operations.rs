//! `generated/operations/`: `OPERATIONS`, and a module per bol tag with its operations'
//! parameter and answer types and one `impl RetailerClient`.

use super::*;

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
    matches!(ty, "i64" | "f64" | "bool" | "NaiveDate" | "Decimal")
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
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str(
            "//! One method per operation of bol's Retailer API v10 and shared process-status API,\n//! in one module and one `impl RetailerClient` per tag of bol's description.\n\n",
        );
        for (tag, module) in self.tag_modules() {
            let _ = writeln!(out, "mod {module};");
            let types = self.tag_types(&tag);
            if !types.is_empty() {
                let _ = writeln!(out, "pub use {module}::{{{}}};", types.join(", "));
            }
        }
        out.push_str("\n/// What the library knows of an operation.\n#[derive(Debug, Clone, Copy, PartialEq, Eq)]\npub struct OperationInfo {\n    /// bol's `operationId`.\n    pub id: &'static str,\n    /// The HTTP method.\n    pub method: &'static str,\n    /// The path, as bol's description writes it.\n    pub path: &'static str,\n    /// The operation group (bol's tag).\n    pub group: &'static str,\n    /// The media type of the answer.\n    pub accept: &'static str,\n}\n\n");
        out.push_str("/// Every operation of the description, in `operationId` order.\npub const OPERATIONS: &[OperationInfo] = &[\n");
        for op in &self.ops {
            let prefix = match op.api {
                Api::Retailer => "/retailer/",
                Api::Shared => "/shared/",
            };
            let _ = writeln!(
                out,
                "    OperationInfo {{ id: {}, method: {}, path: {}, group: {}, accept: {} }},",
                lit(&op.id),
                lit(&op.method),
                lit(&format!("{prefix}{}", op.rel)),
                lit(&op.group),
                lit(&op.answers[0].0)
            );
        }
        out.push_str("];\n");
        out
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

    /// The module of the operations of one tag: their parameter and answer types, and one
    /// `impl RetailerClient` whose doc names the tag.
    pub(super) fn tag_module(&self, tag: &str) -> String {
        let ops: Vec<&Op> = self.ops.iter().filter(|o| o.group == tag).collect();
        let mut body = String::new();
        for op in &ops {
            if let Some(name) = Self::params_struct(op) {
                let _ = writeln!(
                    body,
                    "/// The optional parameters of [`RetailerClient::{}`].",
                    snake(&op.id)
                );
                body.push_str("#[derive(Debug, Clone, Default, PartialEq)]\n");
                let _ = writeln!(body, "pub struct {name} {{");
                for p in op.params.iter().filter(|p| p.location != "path" && !p.required) {
                    doc(&mut body, "    ", p.doc.as_deref());
                    let ty = if p.array {
                        p.ty.clone()
                    } else {
                        format!("Option<{}>", p.ty)
                    };
                    let _ = writeln!(body, "    pub {}: {ty},", p.rust);
                }
                body.push_str("}\n\n");
            }
        }
        for op in &ops {
            let Some((name, body_field)) = self.header_answer(op) else {
                continue;
            };
            let _ = writeln!(
                body,
                "/// The answer of [`RetailerClient::{}`] with the headers bol's description declares on it\n/// (each `None` when absent or not UTF-8).",
                snake(&op.id)
            );
            let (media, ty) = &op.answers[0];
            let eq = if ty.is_none() { ", Eq" } else { "" };
            let _ = writeln!(body, "#[derive(Debug, Clone, PartialEq{eq})]");
            let _ = writeln!(body, "pub struct {name} {{");
            let body_ty = ty.clone().unwrap_or_else(|| "bytes::Bytes".to_owned());
            let _ = writeln!(
                body,
                "    /// The answer's body (`{media}`).\n    pub {body_field}: {body_ty},"
            );
            for (header, description) in &op.answer_headers {
                let text = description
                    .as_deref()
                    .map(|d| format!("{} (`{header}`).", d.trim().trim_end_matches('.')))
                    .unwrap_or_else(|| format!("The `{header}` header."));
                doc(&mut body, "    ", Some(&text));
                let _ = writeln!(body, "    pub {}: Option<String>,", Self::header_field(header));
            }
            body.push_str("}\n\n");
        }
        let _ = writeln!(body, "/// # {tag}");
        if let Some(d) = self.tags.get(tag).and_then(Option::as_deref) {
            body.push_str("///\n");
            doc(
                &mut body,
                "",
                Some(&format!("{}.", d.trim().trim_end_matches('.'))),
            );
        }
        let _ = writeln!(body, "///\n/// The operations bol's description tags `{tag}`.");
        body.push_str("impl RetailerClient {\n");
        for op in &ops {
            self.method(&mut body, op);
        }
        body.push_str("}\n");

        let mut out = String::new();
        out.push_str(HEADER);
        let _ = writeln!(out, "//! The operations of bol's `{tag}` tag.\n");
        let undocumented = ops.iter().flat_map(|o| &o.params).any(|p| {
            p.location != "path" && !p.required && p.doc.as_deref().is_none_or(|d| d.trim().is_empty())
        });
        if undocumented {
            // Parameters the description leaves without text stay without a doc.
            out.push_str("#![allow(missing_docs)]\n\n");
        }
        let code = code_words(&body);
        let core: Vec<&str> = ["Endpoint", "Error", "encode_segment"]
            .into_iter()
            .filter(|w| code.contains(*w))
            .collect();
        let _ = writeln!(out, "use commerce_core::{{{}}};", core.join(", "));
        if code.contains("BoxStream") {
            out.push_str("use futures_util::stream::BoxStream;\n");
        }
        let models: Vec<String> = self
            .structs
            .iter()
            .map(|s| s.name.clone())
            .chain(self.enums.iter().map(|e| e.name.clone()))
            .chain(["DateTime", "FixedOffset", "NaiveDate", "NaiveTime", "Decimal"].map(str::to_owned))
            .filter(|n| code.contains(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !models.is_empty() {
            let _ = writeln!(out, "\nuse crate::generated::models::{{{}}};", models.join(", "));
        }
        out.push_str("use crate::client::{Api, RetailerClient};\n\n");
        out.push_str(&body);
        out
    }

    pub(super) fn method(&self, out: &mut String, op: &Op) {
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
        let prefix = match op.api {
            Api::Retailer => "/retailer/",
            Api::Shared => "/shared/",
        };
        let mut path_expr = String::from("format!(");
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
        let _ = write!(path_expr, "{}", lit(&fmt));
        for a in &fmt_args {
            let _ = write!(path_expr, ", {a}");
        }
        path_expr.push(')');
        let path_expr = if fmt_args.is_empty() {
            lit(&fmt)
        } else {
            format!("&{path_expr}")
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

        let emit = |out: &mut String, fname: &str, media: &str, ret: &str, finish: &str, extra_doc: &str| {
            let mut summary = op.summary.clone().unwrap_or_default();
            if summary.is_empty() {
                summary = op.id.clone();
            }
            doc(out, "    ", Some(&summary));
            out.push_str("    ///\n");
            let _ = writeln!(
                out,
                "    /// `{} {prefix}{}` (`{}`){extra_doc}.",
                op.method, op.rel, op.id
            );
            if let Some(d) = &op.description
                && d.trim() != summary.trim()
            {
                out.push_str("    ///\n");
                doc(out, "    ", Some(d));
            }
            for f in &op.multipart {
                let what = f.doc.as_deref().map(str::trim).filter(|w| !w.is_empty());
                let _ = writeln!(
                    out,
                    "    ///\n    /// `{}`: {}Sent as the multipart part `{}`, a name set here, not by the caller.",
                    f.rust,
                    what.map(|w| format!("{w} ")).unwrap_or_default(),
                    f.json,
                );
            }
            if op.deprecated {
                let _ = writeln!(
                    out,
                    "    #[deprecated(note = \"bol's description marks `{}` deprecated\")]",
                    op.id
                );
            }
            let _ = writeln!(out, "    pub async fn {fname}({sig}) -> Result<{ret}, Error> {{");
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
                None => statements.push(format!("ep = ep{call};")),
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
                    step(
                        String::new(),
                        Some(format!(
                            "for (k, v) in crate::client::query_pairs({value}) {{\n            ep = ep.query(k, v);\n        }}"
                        )),
                    );
                } else if p.array {
                    step(
                        String::new(),
                        Some(format!(
                            "for v in {value}.iter() {{\n            ep = ep.query({name}, v);\n        }}"
                        )),
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
                let text = if p.ty == "String" { "v" } else { "v.as_str()" };
                if p.required {
                    let text = if p.ty == "String" {
                        p.rust.clone()
                    } else {
                        format!("{}.as_str()", p.rust)
                    };
                    step(format!(".header({header}, {text})"), None);
                } else {
                    step(
                        String::new(),
                        Some(format!(
                            "if let Some(v) = &params.{} {{\n            ep = ep.header({header}, {text});\n        }}",
                            p.rust
                        )),
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
            let mut before = String::new();
            if op.multipart.iter().all(|f| f.required) {
                if !op.multipart.is_empty() {
                    let parts: Vec<String> = op.multipart.iter().map(|f| part(f, &f.rust)).collect();
                    step(format!(".multipart(vec![{}])", parts.join(", ")), None);
                }
            } else {
                before.push_str("        let mut parts = Vec::new();\n");
                for f in &op.multipart {
                    if f.required {
                        let _ = writeln!(before, "        parts.push({});", part(f, &f.rust));
                    } else {
                        let _ = writeln!(
                            before,
                            "        if let Some(v) = {} {{\n            parts.push({});\n        }}",
                            f.rust,
                            part(f, "v")
                        );
                    }
                }
                step(".multipart(parts)".to_owned(), None);
            }
            let binding = if statements.is_empty() { "let" } else { "let mut" };
            let _ = writeln!(
                out,
                "        let path = self.path({api}, {path_expr});\n{before}        {binding} ep = {};",
                chain.join("\n            ")
            );
            for st in &statements {
                let _ = writeln!(out, "        {st}");
            }
            let _ = writeln!(out, "        {finish}\n    }}\n");
        };

        let (first_media, first_ty) = &op.answers[0];
        match (first_ty, self.header_answer(op)) {
            // The description declares headers on the answer: the body and those headers,
            // each read tolerantly (absent or not UTF-8: `None`).
            (_, Some((name, body_field))) => {
                let mut finish = String::from(
                    "let answer = self.transport().send(&ep).await?;\n        let headers = answer.headers();\n",
                );
                let _ = writeln!(finish, "        Ok({name} {{");
                for (header, _) in &op.answer_headers {
                    let _ = writeln!(
                        finish,
                        "            {}: crate::wire::header_text(headers, {}),",
                        Self::header_field(header),
                        lit(&header.to_ascii_lowercase())
                    );
                }
                let body = match first_ty {
                    Some(_) => "answer.json()?",
                    None => "answer.body().clone()",
                };
                let _ = write!(finish, "            {body_field}: {body},\n        }})");
                emit(out, &fname, first_media, &name, &finish, "");
            }
            (Some(t), None) => emit(out, &fname, first_media, t, "self.json_of(ep).await", ""),
            (None, None) => emit(
                out,
                &fname,
                first_media,
                "bytes::Bytes",
                "self.bytes_of(ep).await",
                "",
            ),
        }
        for (media, ty) in op.answers.iter().skip(1) {
            if ty.is_none() {
                let suffix = media.rsplit(['+', '.']).next().unwrap_or("bytes");
                let suffix = if suffix.contains("sheet") { "xlsx" } else { suffix };
                emit(
                    out,
                    &format!("{fname}_{suffix}"),
                    media,
                    "bytes::Bytes",
                    "self.bytes_of(ep).await",
                    &format!(", answered as `{media}`"),
                );
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
                let mut call = String::new();
                for (name, _, owned) in &args {
                    let _ = write!(ssig, ", {name}: {owned}");
                    let _ = write!(
                        call,
                        "{}, ",
                        if owned == "String" || owned == "Vec<String>" {
                            format!("&{name}")
                        } else if is_copy(owned) {
                            name.clone()
                        } else {
                            format!("{name}.clone()")
                        }
                    );
                }
                let _ = writeln!(
                    out,
                    "    /// Every item of [`RetailerClient::{fname}`], page by page from 1 until an empty page, fetched as\n    /// the stream is read (`params.page` is ignored).\n    pub fn {fname}_stream({ssig}, params: {pname}) -> BoxStream<'static, Result<{item}, Error>> {{\n        let client = self.clone();\n        commerce_core::page_stream(1, move |page| {{\n            let client = client.clone();\n            let mut params = params.clone();\n            params.page = Some(page as i64);\n            {clones}\n            async move {{\n                client\n                    .{fname}({call}&params)\n                    .await\n                    .map(|answer| answer.{field}.into_iter().map(Ok).collect())\n            }}\n        }})\n    }}\n",
                    clones = args
                        .iter()
                        .filter(|(_, _, owned)| !is_copy(owned))
                        .map(|(n, _, _)| format!("let {n} = {n}.clone();"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    field = list.rust,
                );
            }
        }
    }
}
