//! Reading bol's descriptions: schemas become models and enums, paths become operations.

use super::*;

impl Gen {
    /// A free name for a new type, without stutter: `name` said once where it repeats
    /// itself, [`NAME_OVERRIDES`] where that is taken, and a number appended where even
    /// the name as given is taken.
    pub(super) fn type_name(&mut self, name: &str) -> String {
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
    pub(super) fn schema_name(&self, schema: &str) -> String {
        self.schema_names
            .get(schema)
            .cloned()
            .unwrap_or_else(|| pascal(schema))
    }

    pub(super) fn unique(&mut self, name: String) -> String {
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
    pub(super) fn type_of(&mut self, schema: &Value, hint: &str) -> (String, bool) {
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

    pub(super) fn add_schemas(&mut self, spec: &Value) {
        if let Some(schemas) = spec.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, schema) in schemas {
                self.schemas.entry(name.clone()).or_insert_with(|| schema.clone());
            }
        }
    }

    /// Notes what each property holds beyond its JSON type (see [`classify`]), and checks
    /// that every entry of [`UNMARKED_FORMATS`] and [`MONEY_BY_DESCRIPTION`] still names a
    /// property or parameter of the description.
    pub(super) fn annotate_schemas(&mut self) {
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

    pub(super) fn build_structs(&mut self) {
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
    pub(super) fn text_of(&self, schema: &Value) -> Option<String> {
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

    pub(super) fn add_ops(&mut self, spec: &Value, api: Api) {
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
    pub(super) fn multipart_fields(&self, schema: &Value) -> Vec<MultipartField> {
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
}
