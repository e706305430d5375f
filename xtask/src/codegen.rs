//! `cargo xtask codegen [--check] [SPECS_DIR]`: writes the bol Retailer API models,
//! operations and per-operation wire tests from bol's OpenAPI descriptions.
//!
//! The descriptions stay where they are kept (`../shared/specs/`); only the generated Rust
//! is committed. `--check` regenerates in memory and fails if the committed files differ.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

const RETAILER_SPEC: &str = "bol-retailer-v10.openapi.json";
const SHARED_SPEC: &str = "bol-shared.openapi.json";

/// Answers bol serves that its description leaves without a media type.
const MEDIA_OVERRIDES: &[(&str, &str)] = &[
    ("get-offer-export", "application/vnd.retailer.v10+csv"),
    ("get-unpublished-offer-report", "application/vnd.retailer.v10+csv"),
];

/// The POST operations that only read, so are safe to repeat (sent `idempotent`): each
/// answers `200` with what it was asked for and changes nothing at bol. Every other POST
/// creates something and is never re-sent once it may have reached bol.
const READING_POSTS: &[&str] = &[
    "get-chunk-recommendations",
    "get-commission-rates",
    "get-commissions",
    "get-delivery-options",
    "get-process-status-bulk",
    "get-product-list",
    // "Retrieve pickup time slots."
    "post-pickup-time-slots",
    // "Retrieve product labels." (a PDF of the labels, made anew on each request)
    "post-product-labels",
];

/// PUTs that act once and are refused when repeated, so they are never re-sent after a
/// failure that may have reached bol: the caller reads the order and settles instead
/// (`cancel-order-item`: a second cancellation of a line is refused).
const PUTS_ACTING_ONCE: &[&str] = &["cancel-order-item"];

/// Fields and parameters that bol's description leaves without a `format` although their
/// text and example say what they hold: `(schema or operationId, property or parameter,
/// format)`. `time` is a time of day written `HH:MM` (bol's example: `"23:59"`).
const UNMARKED_FORMATS: &[(&str, &str, &str)] = &[
    // "The inclusive start date (in ISO 8601 format)", example "1970-01-01".
    ("CommissionDateRange", "startDate", "date"),
    ("CommissionDateRange", "endDate", "date"),
    // "The expected delivery date ... In ISO 8601 format.", example "2021-01-01".
    ("CreateDeliveryInfo", "expectedDeliveryDate", "date"),
    ("UpdateDeliveryInfo", "expectedDeliveryDate", "date"),
    // "The selected start date and time ... In ISO 8601 format.", example
    // "2021-01-01T09:00:00+01:00" (the same fields are `date-time` in `PickupTimeSlot`).
    ("CreatePickupTimeSlot", "fromDateTime", "date-time"),
    ("CreatePickupTimeSlot", "untilDateTime", "date-time"),
    // "Allowed delivery dates ... in ISO 8601 format.", example "2021-01-02".
    ("DeliveryDatesResponse", "deliveryDates", "date"),
    // "A date representing the registration date", example "2015-06-17".
    ("RetailerInformationResponse", "registrationDate", "date"),
    // "The time in ISO 8601 format when the ultimate order time on the day", example "23:59".
    ("Offer", "ultimateOrderTime", "time"),
    // "Period start date in ISO 8601 standard.", example "2019-03-01".
    ("get-invoices", "period-start-date", "date"),
    ("get-invoices", "period-end-date", "date"),
    // "To filter on the date on which the latest change was performed on an order item."
    ("get-orders", "latest-change-date", "date"),
    // "Filters search results to a specific date."
    ("get-product-ranks", "date", "date"),
    // "The creation start date ... In ISO 8601 format.", example "2021-01-01".
    ("get-replenishments", "start-date", "date"),
    ("get-replenishments", "end-date", "date"),
];

/// Words that make a `number` field or parameter an amount of money when its name has one
/// (`unitPrice`, `fixedAmount`, `totalCost`, `commission`); quantities are `integer`s and
/// percentages, ratings and scores are named otherwise.
const MONEY_WORDS: &[&str] = &["price", "amount", "cost", "commission", "fee"];

/// `number` fields that hold money although their name does not say so: `(schema, property)`.
const MONEY_BY_DESCRIPTION: &[(&str, &str)] = &[
    // "The inclusive lower price threshold for which the commission is valid."
    ("CommissionRange", "lower"),
    // "The exclusive upper price threshold for which the commission is valid."
    ("CommissionRange", "upper"),
];

/// Where the generator notes what a property or parameter holds beyond its JSON type, on
/// its schema (on the items' schema for a list): `date-time`, `date`, `time` or `money`.
const KIND_KEY: &str = "x-codegen-kind";

/// What a field or parameter holds beyond its JSON type, which decides its Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    /// `DateTime<FixedOffset>`: RFC 3339 with its offset, as bol sends it.
    DateTime,
    /// `NaiveDate`: `YYYY-MM-DD`.
    Date,
    /// `NaiveTime`: a time of day, `HH:MM` on the wire.
    Time,
    /// `Decimal`: an exact amount, a JSON number on the wire.
    Money,
}

impl Kind {
    /// The kind noted on a schema (on its items for a list).
    fn of(schema: &Value) -> Kind {
        let item = match schema.get("type").and_then(Value::as_str) {
            Some("array") => schema.get("items").unwrap_or(&Value::Null),
            _ => schema,
        };
        match item.get(KIND_KEY).and_then(Value::as_str) {
            Some("date-time") => Kind::DateTime,
            Some("date") => Kind::Date,
            Some("time") => Kind::Time,
            Some("money") => Kind::Money,
            _ => Kind::Plain,
        }
    }

    /// The Rust type of one value of this kind, `None` for a plain one.
    fn rust(self) -> Option<&'static str> {
        match self {
            Kind::Plain => None,
            Kind::DateTime => Some("DateTime<FixedOffset>"),
            Kind::Date => Some("NaiveDate"),
            Kind::Time => Some("NaiveTime"),
            Kind::Money => Some("Decimal"),
        }
    }
}

/// What `name` (a property of schema `owner`, or a parameter of operation `owner`) holds, or
/// `None` when it is plain: `date-time` and `date` as the description marks them or as
/// [`UNMARKED_FORMATS`] lists them, money by [`MONEY_WORDS`] and [`MONEY_BY_DESCRIPTION`].
/// A listed entry that does not fit its schema (not a string without a format) is an error.
fn classify(owner: &str, name: &str, schema: &Value) -> Result<Option<&'static str>, String> {
    let item = match schema.get("type").and_then(Value::as_str) {
        Some("array") => schema.get("items").unwrap_or(&Value::Null),
        _ => schema,
    };
    let ty = item.get("type").and_then(Value::as_str).unwrap_or_default();
    let format = item.get("format").and_then(Value::as_str);
    if let Some((_, _, f)) = UNMARKED_FORMATS
        .iter()
        .find(|(o, n, _)| *o == owner && *n == name)
    {
        if ty != "string" || format.is_some() || item.get("enum").is_some() {
            return Err(format!(
                "{owner}.{name} is listed as `{f}` but is not a string without a format"
            ));
        }
        return Ok(Some(f));
    }
    let money = MONEY_BY_DESCRIPTION.contains(&(owner, name))
        || words(name)
            .iter()
            .any(|w| MONEY_WORDS.contains(&w.to_ascii_lowercase().as_str()));
    Ok(match (ty, format) {
        ("string", Some("date-time")) => Some("date-time"),
        ("string", Some("date")) => Some("date"),
        ("number", _) if money => Some("money"),
        _ => None,
    })
}

/// Notes the kind of `name` on its schema (see [`KIND_KEY`]).
fn annotate(owner: &str, name: &str, schema: &mut Value) -> Result<(), String> {
    let Some(kind) = classify(owner, name, schema)? else {
        return Ok(());
    };
    let item = if schema.get("type").and_then(Value::as_str) == Some("array") {
        &mut schema["items"]
    } else {
        schema
    };
    if let Some(map) = item.as_object_mut() {
        map.insert(KIND_KEY.to_owned(), Value::from(kind));
    }
    Ok(())
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match",
    "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
    "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while",
    "yield", "abstract", "become",
];

fn words(s: &str) -> Vec<String> {
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

fn snake(s: &str) -> String {
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

fn pascal(s: &str) -> String {
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

/// A doc comment from a description: one line per line, no code fences, no indentation
/// (which rustdoc would take for a code block to compile).
/// Nothing without a text: no doc is better than one that repeats the item's name.
fn doc(out: &mut String, indent: &str, text: Option<&str>) {
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
fn link_urls(line: &str) -> String {
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

/// The variant names of an enum's values (`CANCELLED_BY_SELLER`: `CancelledBySeller`),
/// distinct, none named `Other` (the variant for values the library does not know).
fn variants(values: &[String]) -> Vec<(String, String)> {
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

/// A field name as serde spells it on the wire (`r#type`: `type`).
fn unraw(rust: &str) -> &str {
    rust.strip_prefix("r#").unwrap_or(rust)
}

/// A snake_case field name in camelCase, as serde's `rename_all = "camelCase"` makes it.
fn serde_camel(rust: &str) -> String {
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
fn serde_screaming(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.char_indices() {
        if i > 0 && c.is_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Whether values of a generated argument type are `Copy` (passed on without `.clone()`).
fn is_copy(ty: &str) -> bool {
    matches!(ty, "i64" | "f64" | "bool" | "NaiveDate" | "Decimal")
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

#[derive(Clone)]
struct Field {
    rust: String,
    json: String,
    ty: String,
    doc: Option<String>,
    required: bool,
    array: bool,
    kind: Kind,
    deprecated: bool,
}

struct StructDef {
    name: String,
    doc: Option<String>,
    fields: Vec<Field>,
    deprecated: bool,
}

struct EnumDef {
    name: String,
    doc: Option<String>,
    values: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Retailer,
    Shared,
}

struct Param {
    rust: String,
    json: String,
    ty: String,
    arg_ty: String,
    required: bool,
    array: bool,
    kind: Kind,
    location: String,
    doc: Option<String>,
}

/// A field of a multipart body: a file (`format: binary`) or a text.
struct MultipartField {
    /// The part's name on the wire, as the description writes it.
    json: String,
    rust: String,
    file: bool,
    required: bool,
    doc: Option<String>,
}

struct Op {
    id: String,
    method: String,
    api: Api,
    /// The path after `/retailer` or `/shared`, e.g. `orders/{order-id}`.
    rel: String,
    group: String,
    summary: Option<String>,
    description: Option<String>,
    params: Vec<Param>,
    body: Option<(String, String)>,
    /// The fields of a `multipart/form-data` body, in the description's order (empty when
    /// the body is not multipart).
    multipart: Vec<MultipartField>,
    /// Headers the description declares on the success answer: (name, description).
    answer_headers: Vec<(String, Option<String>)>,
    /// (media type, rust return type: `Some(T)` for JSON, `None` for bytes)
    answers: Vec<(String, Option<String>)>,
    answer_example: Option<Value>,
    body_example: Option<Value>,
    deprecated: bool,
}

#[derive(Default)]
struct Gen {
    schemas: BTreeMap<String, Value>,
    structs: Vec<StructDef>,
    enums: Vec<EnumDef>,
    names: BTreeSet<String>,
    /// bol's tags, each with its description.
    tags: BTreeMap<String, Option<String>>,
    /// The Rust names of the schemas not named as the description names them (stutter).
    schema_names: BTreeMap<String, String>,
    ops: Vec<Op>,
    /// What [`Gen::unsupported`] reports, found while reading the operations.
    problems: Vec<String>,
}

/// The schema a `$ref` names (`#/components/schemas/Order`: `Order`).
fn ref_target(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

/// Names that would stutter, and what they are called instead because the name without
/// the stutter is taken: `(stuttering name, name)`.
const NAME_OVERRIDES: &[(&str, &str)] = &[
    // bol's schema of a full order's item (`Order.orderItems`, "Order item details from an
    // order"); `OrderItem` is bol's name for an item of a shipment request.
    ("OrderOrderItem", "OrderItemDetails"),
    // `ProcessStatus.status`: PENDING, SUCCESS, FAILURE, TIMEOUT.
    ("ProcessStatusStatus", "ProcessState"),
    // `PromotionCountryCode.countryCode`: the country in which a promotion is active.
    ("PromotionCountryCodeCountryCode", "PromotionCountry"),
];

/// A name without its stutter: words that repeat the words right before them are said once
/// (`OrderOrderItem`: `OrderItem`; `TransportEventEventCode`: `TransportEventCode`).
fn destutter(name: &str) -> String {
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

impl Gen {
    /// A free name for a new type, without stutter: `name` said once where it repeats
    /// itself, [`NAME_OVERRIDES`] where that is taken, and a number appended where even
    /// the name as given is taken.
    fn type_name(&mut self, name: &str) -> String {
        let name = pascal(name);
        let plain = destutter(&name);
        if plain != name {
            if !self.names.contains(&plain) {
                self.names.insert(plain.clone());
                return plain;
            }
            match NAME_OVERRIDES.iter().find(|(from, _)| *from == name) {
                Some((_, to)) if !self.names.contains(*to) => {
                    self.names.insert((*to).to_owned());
                    return (*to).to_owned();
                }
                _ => self.problems.push(format!(
                    "`{name}` stutters and `{plain}` is taken: name it in NAME_OVERRIDES"
                )),
            }
        }
        self.unique(name)
    }

    /// The Rust name of a schema of the description.
    fn schema_name(&self, schema: &str) -> String {
        self.schema_names
            .get(schema)
            .cloned()
            .unwrap_or_else(|| pascal(schema))
    }

    fn unique(&mut self, name: String) -> String {
        let mut candidate = name.clone();
        let mut i = 2;
        while self.names.contains(&candidate) {
            candidate = format!("{name}{i}");
            i += 1;
        }
        self.names.insert(candidate.clone());
        candidate
    }

    /// The Rust type of a schema; inline enums become types named after `hint`.
    fn type_of(&mut self, schema: &Value, hint: &str) -> (String, bool) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return (self.schema_name(ref_target(r)), false);
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("object");
        match ty {
            "array" => {
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                let (inner, _) = self.type_of(&items, hint);
                (format!("Vec<{inner}>"), true)
            }
            "string" | "number" if Kind::of(schema) != Kind::Plain => {
                (Kind::of(schema).rust().unwrap_or_default().to_owned(), false)
            }
            "string" => {
                if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                    let name = self.type_name(hint);
                    self.enums.push(EnumDef {
                        name: name.clone(),
                        doc: schema
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        values: values
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    });
                    (name, false)
                } else {
                    ("String".into(), false)
                }
            }
            "integer" => ("i64".into(), false),
            "number" => ("f64".into(), false),
            "boolean" => ("bool".into(), false),
            _ => ("serde_json::Value".into(), false),
        }
    }

    fn add_schemas(&mut self, spec: &Value) {
        if let Some(schemas) = spec.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, schema) in schemas {
                self.schemas.entry(name.clone()).or_insert_with(|| schema.clone());
            }
        }
    }

    /// Notes what each property holds beyond its JSON type (see [`classify`]), and checks
    /// that every entry of [`UNMARKED_FORMATS`] and [`MONEY_BY_DESCRIPTION`] still names a
    /// property or parameter of the description.
    fn annotate_schemas(&mut self) {
        for (name, schema) in self.schemas.iter_mut() {
            let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
                continue;
            };
            for (pname, pschema) in props.iter_mut() {
                if let Err(e) = annotate(name, pname, pschema) {
                    self.problems.push(e);
                }
            }
        }
    }

    /// Entries of [`UNMARKED_FORMATS`] and [`MONEY_BY_DESCRIPTION`] that name nothing in the
    /// description (it changed): an error, so a list never silently stops applying.
    fn check_lists(&self) -> Vec<String> {
        let mut out = Vec::new();
        let property = |owner: &str, name: &str| {
            self.schemas
                .get(owner)
                .and_then(|s| s.pointer(&format!("/properties/{name}")))
                .is_some()
        };
        let parameter = |owner: &str, name: &str| {
            self.ops
                .iter()
                .any(|o| o.id == owner && o.params.iter().any(|p| p.json == name))
        };
        for (owner, name, _) in UNMARKED_FORMATS {
            if !property(owner, name) && !parameter(owner, name) {
                out.push(format!(
                    "UNMARKED_FORMATS names {owner}.{name}, which the description lacks"
                ));
            }
        }
        for (owner, name) in MONEY_BY_DESCRIPTION {
            if !property(owner, name) {
                out.push(format!(
                    "MONEY_BY_DESCRIPTION names {owner}.{name}, which the description lacks"
                ));
            }
        }
        for (list, ids, method) in [
            ("READING_POSTS", READING_POSTS, "POST"),
            ("PUTS_ACTING_ONCE", PUTS_ACTING_ONCE, "PUT"),
        ] {
            for id in ids {
                if !self.ops.iter().any(|o| o.id == *id && o.method == method) {
                    out.push(format!(
                        "{list} names {id}, which is no {method} of the description"
                    ));
                }
            }
        }
        for (from, to) in NAME_OVERRIDES {
            let named =
                self.structs.iter().any(|s| s.name == *to) || self.enums.iter().any(|e| e.name == *to);
            if !named {
                out.push(format!(
                    "NAME_OVERRIDES renames {from}, which nothing is called any more"
                ));
            }
        }
        out
    }

    fn build_structs(&mut self) {
        let schemas: Vec<(String, Value)> = self.schemas.clone().into_iter().collect();
        // bol's own names first, so a name made for an inline enum never takes one.
        for (name, _) in &schemas {
            self.names.insert(pascal(name));
        }
        for (name, _) in &schemas {
            let own = pascal(name);
            if destutter(&own) != own {
                self.names.remove(&own);
                let rust = self.type_name(&own);
                self.schema_names.insert(name.clone(), rust);
            }
        }
        for (name, schema) in schemas {
            let sname = self.schema_name(&name);
            let required: BTreeSet<String> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            let mut fields = Vec::new();
            let mut used = BTreeSet::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (pname, pschema) in props {
                    let (ty, array) = self.type_of(pschema, &format!("{sname}{}", pascal(pname)));
                    let mut rust = snake(pname);
                    while !used.insert(rust.clone()) {
                        rust.push('_');
                    }
                    fields.push(Field {
                        rust,
                        json: pname.clone(),
                        ty,
                        doc: self.text_of(pschema),
                        required: required.contains(pname),
                        array,
                        kind: Kind::of(pschema),
                        deprecated: pschema.get("deprecated").and_then(Value::as_bool) == Some(true),
                    });
                }
            }
            self.structs.push(StructDef {
                name: sname,
                doc: schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                fields,
                deprecated: schema.get("deprecated").and_then(Value::as_bool) == Some(true),
            });
        }
    }

    /// The description's text for a property: its own description, else its items', else
    /// that of the schema it refers to (bol describes many nested objects only there).
    fn text_of(&self, schema: &Value) -> Option<String> {
        let own = schema
            .get("description")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|d| !d.is_empty());
        if let Some(d) = own {
            return Some(d.to_owned());
        }
        if let Some(items) = schema.get("items") {
            return self.text_of(items);
        }
        let target = ref_target(schema.get("$ref").and_then(Value::as_str)?);
        let referred = self.schemas.get(target)?;
        referred
            .get("description")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
    }

    /// Which operations send or answer a model, as a doc line linking them (the model is the
    /// body or the answer of at most a few operations; of more, it says nothing).
    fn usage(&self, model: &str) -> Option<String> {
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

    fn add_ops(&mut self, spec: &Value, api: Api) {
        for tag in spec.get("tags").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = tag.get("name").and_then(Value::as_str) {
                let description = tag.get("description").and_then(Value::as_str).map(str::to_owned);
                self.tags.insert(name.to_owned(), description);
            }
        }
        let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
            return;
        };
        for (path, item) in paths {
            let Some(item) = item.as_object() else { continue };
            for (method, op) in item {
                if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let id = op["operationId"].as_str().unwrap_or_default().to_owned();
                let prefix = match api {
                    Api::Retailer => "/retailer/",
                    Api::Shared => "/shared/",
                };
                let rel = path
                    .strip_prefix(prefix)
                    .unwrap_or(path.trim_start_matches('/'))
                    .to_owned();
                let opname = pascal(&id);
                let mut params = Vec::new();
                for p in op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = p["name"].as_str().unwrap_or_default();
                    let location = p["in"].as_str().unwrap_or_default().to_owned();
                    let mut schema = p.get("schema").cloned().unwrap_or(Value::Null);
                    if let Err(e) = annotate(&id, name, &mut schema) {
                        self.problems.push(e);
                    }
                    let kind = Kind::of(&schema);
                    let enums = self.enums.len();
                    let (ty, array) = self.type_of(&schema, &format!("{opname}{}", pascal(name)));
                    // An enum made for the parameter: described by the parameter.
                    if let Some(e) = self.enums.get_mut(enums)
                        && e.doc.is_none()
                    {
                        e.doc = p.get("description").and_then(Value::as_str).map(str::to_owned);
                    }
                    let is_struct = self.structs.iter().any(|s| s.name == ty);
                    let arg_ty = match ty.as_str() {
                        "String" => "&str".to_owned(),
                        "Vec<String>" => "&[String]".to_owned(),
                        t if is_struct => format!("&{t}"),
                        t => t.to_owned(),
                    };
                    params.push(Param {
                        rust: snake(name),
                        json: name.to_owned(),
                        ty,
                        arg_ty,
                        required: p
                            .get("required")
                            .and_then(Value::as_bool)
                            .unwrap_or(location == "path"),
                        array,
                        kind,
                        location,
                        doc: p.get("description").and_then(Value::as_str).map(str::to_owned),
                    });
                }
                let mut body = None;
                let mut multipart = Vec::new();
                let mut body_example = None;
                let request_content = op.pointer("/requestBody/content").and_then(Value::as_object);
                let chosen = request_content.and_then(|c| {
                    c.iter()
                        .find(|(ct, _)| ct.contains("vnd.retailer"))
                        .or_else(|| c.iter().next())
                });
                if let Some((ct, content)) = chosen {
                    if ct.starts_with("multipart/") {
                        multipart = self.multipart_fields(content.get("schema").unwrap_or(&Value::Null));
                        if multipart.is_empty() {
                            self.problems
                                .push(format!("{id}: a multipart body without named parts"));
                        }
                    } else if let Some(r) = content.pointer("/schema/$ref").and_then(Value::as_str) {
                        body = Some((ct.clone(), self.schema_name(ref_target(r))));
                        body_example = Some(self.example(&content["schema"], 0));
                    }
                }
                let mut answers = Vec::new();
                let mut answer_example = None;
                let mut answer_headers: Vec<(String, Option<String>)> = Vec::new();
                if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                    for (code, r) in responses {
                        if !code.starts_with('2') {
                            continue;
                        }
                        for (name, h) in r.get("headers").and_then(Value::as_object).into_iter().flatten() {
                            if !answer_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                                let description =
                                    h.get("description").and_then(Value::as_str).map(str::to_owned);
                                answer_headers.push((name.clone(), description));
                            }
                        }
                        for (ct, content) in r.get("content").and_then(Value::as_object).into_iter().flatten()
                        {
                            let ty = if ct.ends_with("json") {
                                Some(match content.pointer("/schema/$ref").and_then(Value::as_str) {
                                    Some(r) => {
                                        if answer_example.is_none() {
                                            answer_example = Some(self.example(&content["schema"], 0));
                                        }
                                        self.schema_name(ref_target(r))
                                    }
                                    None => "serde_json::Value".to_owned(),
                                })
                            } else {
                                None
                            };
                            if !answers.iter().any(|(m, _): &(String, Option<String>)| m == ct) {
                                answers.push((ct.clone(), ty));
                            }
                        }
                    }
                }
                // A retailer client asks for the retailer media type first (the shared API
                // also offers the advertiser one).
                answers.sort_by_key(|(media, ty): &(String, Option<String>)| {
                    (!media.contains("vnd.retailer"), ty.is_none())
                });
                if answers.is_empty() {
                    let media = MEDIA_OVERRIDES
                        .iter()
                        .find(|(o, _)| *o == id)
                        .map(|(_, m)| (*m).to_owned())
                        .unwrap_or_else(|| "application/vnd.retailer.v10+json".to_owned());
                    let ty = media.ends_with("json").then(|| "serde_json::Value".to_owned());
                    answers.push((media, ty));
                }
                self.ops.push(Op {
                    id,
                    method: method.to_ascii_uppercase(),
                    api,
                    rel,
                    group: op
                        .get("tags")
                        .and_then(Value::as_array)
                        .and_then(|t| t.first())
                        .and_then(Value::as_str)
                        .unwrap_or("Other")
                        .to_owned(),
                    summary: op.get("summary").and_then(Value::as_str).map(str::to_owned),
                    description: op.get("description").and_then(Value::as_str).map(str::to_owned),
                    params,
                    body,
                    multipart,
                    answer_headers,
                    answers,
                    answer_example,
                    body_example,
                    deprecated: op.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
                });
            }
        }
        self.ops.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// The fields of a multipart body schema (inline or a reference): each property is a part
    /// named as the description names it, a file where its format is `binary`.
    fn multipart_fields(&self, schema: &Value) -> Vec<MultipartField> {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .schemas
                .get(r.rsplit('/').next().unwrap_or(r))
                .cloned()
                .unwrap_or(Value::Null),
            None => schema.clone(),
        };
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, p)| MultipartField {
                json: name.clone(),
                rust: snake(name),
                file: p.get("format").and_then(Value::as_str) == Some("binary"),
                required: required.contains(name.as_str()),
                doc: p.get("description").and_then(Value::as_str).map(str::to_owned),
            })
            .collect()
    }

    /// An example value of a schema, from the description's own `example`s.
    fn example(&self, schema: &Value, _depth: usize) -> Value {
        self.example_in(schema, &mut Vec::new())
    }

    /// `stack` holds the schemas being expanded, so a recursive schema stops at itself.
    fn example_in(&self, schema: &Value, stack: &mut Vec<String>) -> Value {
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

    fn models(&self) -> String {
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
    fn field_type(f: &Field) -> (String, Vec<String>) {
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
    fn model_imports(&self) -> String {
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

    fn params_struct(op: &Op) -> Option<String> {
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
    fn header_answer(&self, op: &Op) -> Option<(String, String)> {
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
    fn header_field(header: &str) -> String {
        let h = header
            .strip_prefix("X-")
            .or_else(|| header.strip_prefix("x-"))
            .unwrap_or(header);
        snake(h)
    }

    /// Shapes of the description the generator does not turn into code; an error rather
    /// than a method that silently drops part of the operation.
    fn unsupported(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.ops {
            if !op.answer_headers.is_empty() && op.answers.len() > 1 {
                out.push(format!(
                    "{}: answer headers with several answer media types",
                    op.id
                ));
            }
            let mut fields = BTreeSet::new();
            for (h, _) in &op.answer_headers {
                if !fields.insert(Self::header_field(h)) {
                    out.push(format!("{}: two answer headers named like `{h}`", op.id));
                }
            }
        }
        for s in &self.structs {
            if s.deprecated {
                // Its `#[deprecated]` would warn in every model and method using it.
                out.push(format!("{}: a deprecated schema", s.name));
            }
            for f in &s.fields {
                if f.array && matches!(f.kind, Kind::Money | Kind::Time) {
                    out.push(format!("{}.{}: a list of {:?}", s.name, f.json, f.kind));
                }
            }
        }
        for op in &self.ops {
            for p in &op.params {
                if p.kind != Kind::Plain && (p.location != "query" || p.array) {
                    out.push(format!(
                        "{}: the {} parameter `{}` is a {:?}",
                        op.id, p.location, p.json, p.kind
                    ));
                }
            }
        }
        out.extend(self.check_lists());
        out.extend(self.problems.iter().cloned());
        out
    }

    fn media_group(op: &Op) -> String {
        lit(&op.group)
    }

    /// `(signature args, call args for the stream closure)`.
    fn args(op: &Op) -> Vec<(String, String, String)> {
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
    fn tag_modules(&self) -> Vec<(String, String)> {
        let tags: BTreeSet<&str> = self.ops.iter().map(|o| o.group.as_str()).collect();
        tags.into_iter().map(|t| (t.to_owned(), snake(t))).collect()
    }

    /// `operations/mod.rs`: what the library knows of each operation, and the modules of
    /// the operations, one per bol tag.
    fn operations(&self) -> String {
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
    fn tag_types(&self, tag: &str) -> Vec<String> {
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
    fn tag_module(&self, tag: &str) -> String {
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

    fn method(&self, out: &mut String, op: &Op) {
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

    /// The arguments of an example call of `op`: the path and query values the wire test
    /// expects, defaults for parameter structs, the example body as `BODY`, a PDF part.
    /// The example value of a required parameter: the Rust expression passed, and the text
    /// it is sent as (`None` for an object parameter, sent as several query pairs).
    fn example_value(&self, p: &Param, arg_ty: &str) -> (String, Option<String>) {
        let text = |expr: &str, text: &str| (expr.to_owned(), Some(text.to_owned()));
        match arg_ty {
            "&str" if p.location == "path" => text("\"p-1\"", "p-1"),
            "&str" => text("\"q-1\"", "q-1"),
            "&[String]" => text("&[\"q-1\".to_string()]", "q-1"),
            "i64" => text("1", "1"),
            "f64" => text("1.5", "1.5"),
            "bool" => text("true", "true"),
            "NaiveDate" => text("NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()", "2024-01-31"),
            "Decimal" => text("Decimal::new(1299, 2)", "12.99"),
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

    fn example_args(&self, op: &Op) -> Vec<String> {
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
    fn decoder_calls(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str("//! Every operation of the description called once with its example arguments, and the\n//! description's example answers and media types: the calls and seeds of the decoder fuzz\n//! test (`tests/decoders.rs`).\n\n");
        out.push_str("use retailer_client::models::*;\nuse retailer_client::*;\n\n");
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
        out.push_str(
            "/// The description's example answers, each once.\npub const EXAMPLE_ANSWERS: &[&str] = &[\n",
        );
        for a in &answers {
            let _ = writeln!(out, "    {},", lit(a));
        }
        out.push_str("];\n\n/// The media types of the answers.\npub const MEDIA_TYPES: &[&str] = &[\n");
        for m in &media {
            let _ = writeln!(out, "    {},", lit(m));
        }
        out.push_str("];\n\n/// Calls every operation once, ignoring the outcome (the deprecated ones too).\n#[allow(deprecated)]\npub async fn call_every_operation(c: &RetailerClient) {\n");
        for op in &self.ops {
            out.push_str("    {\n");
            if op.body.is_some() {
                let body_json = op.body_example.clone().unwrap_or(Value::Null);
                let _ = writeln!(out, "        const BODY: &str = {};", lit(&body_json.to_string()));
            }
            let _ = writeln!(
                out,
                "        let _ = c.{}({}).await;\n    }}",
                snake(&op.id),
                self.example_args(op).join(", ")
            );
        }
        out.push_str("}\n");
        out
    }

    /// A wire test per operation: method, path, media types, body, and the decoding of the
    /// description's example answer (re-encoded, it must give the example back).
    fn tests(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str("//! A wire test per operation of the description: the exact method and path, the media\n//! types, the body, and the decoding of an answer built from the description's examples.\n\n");
        out.push_str("mod common;\n\nuse common::{client, normalized, setup};\nuse httpmock::Method;\nuse retailer_client::models::*;\nuse retailer_client::*;\n\n");
        for op in &self.ops {
            let fname = snake(&op.id);
            let fname_test = fname.trim_start_matches("r#");
            let prefix = match op.api {
                Api::Retailer => "/retailer/",
                Api::Shared => "/shared/",
            };
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
            let call_args = self.example_args(op);
            let body_json = op.body_example.clone().unwrap_or(Value::Null);
            let (media, ty) = &op.answers[0];
            let answer = match ty {
                Some(_) => op.answer_example.clone().unwrap_or(Value::Object(Map::new())),
                None => Value::String("BYTES".into()),
            };
            let allow = if op.deprecated {
                "#[allow(deprecated)] // bol marks the operation deprecated; it is still served.\n"
            } else {
                ""
            };
            let _ = writeln!(out, "#[tokio::test]\n{allow}async fn {fname_test}() {{");
            if op.body.is_some() {
                let _ = writeln!(out, "    const BODY: &str = {};", lit(&body_json.to_string()));
            }
            if ty.is_some() {
                let _ = writeln!(out, "    const ANSWER: &str = {};", lit(&answer.to_string()));
            }
            out.push_str("    let server = setup().await;\n");
            let content_type = op.body.as_ref().map(|(ct, _)| ct.clone());
            let _ = writeln!(
                out,
                "    let m = server\n        .mock_async(|when, then| {{\n            let when = when.method(Method::{}).path({}).header(\"accept\", {}).header(\"authorization\", \"Bearer tok-1\");",
                op.method,
                lit(&format!("{prefix}{path}")),
                lit(media)
            );
            for (name, ty, _) in Self::args(op) {
                let p = op.params.iter().find(|p| p.rust == name).unwrap();
                let (_, text) = self.example_value(p, &ty);
                match (p.location.as_str(), text) {
                    ("query", Some(text)) => {
                        let _ = writeln!(
                            out,
                            "            let when = when.query_param({}, {});",
                            lit(&p.json),
                            lit(&text)
                        );
                    }
                    ("header", Some(text)) => {
                        let _ = writeln!(
                            out,
                            "            let when = when.header({}, {});",
                            lit(&p.json.to_ascii_lowercase()),
                            lit(&text)
                        );
                    }
                    _ => {}
                }
            }
            if let Some(ct) = &content_type {
                let _ = writeln!(
                    out,
                    "            let when = when.header(\"content-type\", {}).is_true(|req| normalized(&serde_json::from_slice(&req.body().to_vec()).unwrap_or_default()) == normalized(&serde_json::from_str(BODY).unwrap()));",
                    lit(ct)
                );
            }
            if !op.multipart.is_empty() {
                out.push_str("            let when = when.is_true(|req| req.headers().get(\"content-type\").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(\"multipart/form-data; boundary=\")));\n");
            }
            for f in &op.multipart {
                // Each part under the name the description gives it, whatever the caller did.
                let disposition = if f.file {
                    format!("name=\"{}\"; filename=\"document.pdf\"", f.json)
                } else {
                    format!("name=\"{}\"", f.json)
                };
                let _ = writeln!(
                    out,
                    "            let when = when.body_includes({});",
                    lit(&format!("Content-Disposition: form-data; {disposition}"))
                );
                if f.file {
                    out.push_str("            let when = when.body_includes(\"application/pdf\").body_includes(\"%PDF-1.4\");\n");
                }
            }
            let body_expr = if ty.is_some() { "ANSWER" } else { "\"BYTES\"" };
            let mut then_headers = String::new();
            for (header, _) in &op.answer_headers {
                let _ = write!(
                    then_headers,
                    ".header({}, {})",
                    lit(header),
                    lit(&format!("v-{}", Self::header_field(header)))
                );
            }
            let _ = writeln!(
                out,
                "            let _ = when;\n            then.status(200).header(\"content-type\", {}){then_headers}.body({body_expr});\n        }})\n        .await;",
                lit(media)
            );
            let _ = writeln!(
                out,
                "    let got = client(&server).{fname}({}).await.unwrap();",
                call_args.join(", ")
            );
            out.push_str("    m.assert_async().await;\n");
            let got = match self.header_answer(op) {
                Some((_, body_field)) => {
                    for (header, _) in &op.answer_headers {
                        let field = Self::header_field(header);
                        let _ = writeln!(
                            out,
                            "    assert_eq!(got.{field}.as_deref(), Some({}), \"the `{header}` header is read\");",
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
                        out,
                        "    assert_eq!(normalized(&{got}), normalized(&serde_json::from_str(ANSWER).unwrap()));"
                    );
                }
                Some(_) => {
                    let _ = writeln!(
                        out,
                        "    assert_eq!(normalized(&serde_json::to_value(&{got}).unwrap()), normalized(&serde_json::from_str(ANSWER).unwrap()), \"re-encoded, the answer gives the example back\");"
                    );
                }
                None => {
                    let _ = writeln!(out, "    assert_eq!(&{got}[..], b\"BYTES\");");
                }
            }
            out.push_str("}\n\n");
        }
        out
    }
}

const HEADER: &str = "// @generated by `cargo xtask codegen` from bol's OpenAPI descriptions; do not edit.\n";

fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Formats through stdin, so `mod` declarations are not followed.
fn rustfmt(text: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .map_err(|e| format!("rustfmt: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("rustfmt: {e}"))?;
    if out.status.success() {
        String::from_utf8(out.stdout).map_err(|e| e.to_string())
    } else {
        Err("rustfmt failed on generated code".to_owned())
    }
}

/// Runs the generator.
pub fn run(args: &[String]) -> Result<(), String> {
    let check = args.iter().any(|a| a == "--check");
    let root = crate::workspace_root();
    let specs = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/specs"));
    let retailer = load(&specs.join(RETAILER_SPEC))?;
    let shared = load(&specs.join(SHARED_SPEC))?;
    let mut g = Gen::default();
    g.add_schemas(&retailer);
    g.add_schemas(&shared);
    g.annotate_schemas();
    g.build_structs();
    g.add_ops(&retailer, Api::Retailer);
    g.add_ops(&shared, Api::Shared);
    g.ops.sort_by(|a, b| a.id.cmp(&b.id));
    let unsupported = g.unsupported();
    if !unsupported.is_empty() {
        return Err(format!(
            "the description has shapes the generator does not handle: {}",
            unsupported.join("; ")
        ));
    }

    let crate_dir = root.join("retailer-client");
    let ops_dir = crate_dir.join("src/generated/operations");
    let mut files = vec![
        (crate_dir.join("src/generated/models.rs"), g.models()),
        (ops_dir.join("mod.rs"), g.operations()),
        (crate_dir.join("tests/generated_wire.rs"), g.tests()),
        (
            crate_dir.join("tests/decoders/generated_calls.rs"),
            g.decoder_calls(),
        ),
    ];
    for (tag, module) in g.tag_modules() {
        files.push((ops_dir.join(format!("{module}.rs")), g.tag_module(&tag)));
    }
    // Files a former run wrote that this one does not: the operations in one file, a tag
    // bol no longer has.
    let mut leftover: Vec<PathBuf> = vec![crate_dir.join("src/generated/operations.rs")];
    if let Ok(entries) = std::fs::read_dir(&ops_dir) {
        leftover.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    leftover.retain(|p| p.is_file() && !files.iter().any(|(f, _)| f == p));
    leftover.sort();
    let mut stale = Vec::new();
    for path in &leftover {
        if check {
            stale.push(format!("{} (to be removed)", path.display()));
        } else {
            std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("removed {}", path.display());
        }
    }
    for (path, text) in &files {
        let formatted = rustfmt(text)?;
        if check {
            if std::fs::read_to_string(path).ok().as_deref() != Some(formatted.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
            std::fs::write(path, formatted).map_err(|e| e.to_string())?;
            println!("wrote {}", path.display());
        }
    }
    println!(
        "{} operations, {} models, {} enums",
        g.ops.len(),
        g.structs.len(),
        g.enums.len()
    );
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "generated code is out of date: {} (run `cargo xtask codegen`)",
            stale.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("orderItemId"), "order_item_id");
        assert_eq!(snake("get-orders"), "get_orders");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("EAN"), "ean");
        assert_eq!(snake("X-Fulfilment-Party"), "x_fulfilment_party");
        assert_eq!(pascal("CANCELLED_BY_SELLER"), "CancelledBySeller");
        assert_eq!(pascal("nl-BE"), "NlBe");
        assert_eq!(pascal("FBR"), "Fbr");
        assert_eq!(pascal("processStatusId"), "ProcessStatusId");
        assert_eq!(pascal("1"), "V1");
        assert_eq!(
            link_urls("Fixed value: https://api.bol.com/problems. See (https://x.y) or <https://z>"),
            "Fixed value: <https://api.bol.com/problems>. See (https://x.y) or <https://z>"
        );
        assert_eq!(serde_camel("order_item_id"), "orderItemId");
        assert_eq!(serde_camel("r#type"), "type");
        assert_eq!(serde_camel("ean"), "ean");
        assert_eq!(serde_screaming("CancelledBySeller"), "CANCELLED_BY_SELLER");
        assert_eq!(serde_screaming("V1"), "V1");
        assert_eq!(serde_screaming("NlBe"), "NL_BE");
        assert_eq!(destutter("OrderOrderItem"), "OrderItem");
        assert_eq!(destutter("ProcessStatusStatus"), "ProcessStatus");
        assert_eq!(destutter("TransportEventEventCode"), "TransportEventCode");
        assert_eq!(
            destutter("PromotionCountryCodeCountryCode"),
            "PromotionCountryCode"
        );
        assert_eq!(destutter("ReplenishmentLineLineState"), "ReplenishmentLineState");
        assert_eq!(destutter("StateTransitionState"), "StateTransitionState");
        assert_eq!(destutter("ProductListProduct"), "ProductListProduct");
        assert_eq!(
            Gen::header_field("X-Track-And-Trace-Code"),
            "track_and_trace_code"
        );
        assert_eq!(Gen::header_field("X-Transporter-Code"), "transporter_code");
    }
}
