//! What the generator decides that bol's description does not say: which POSTs only read,
//! which fields hold dates or money, what a stuttering name is called instead; and the
//! shapes of the description it refuses rather than half-handles.

use super::*;

/// Answers bol serves that its description leaves without a media type.
pub(super) const MEDIA_OVERRIDES: &[(&str, &str)] = &[
    ("get-offer-export", "application/vnd.retailer.v10+csv"),
    ("get-unpublished-offer-report", "application/vnd.retailer.v10+csv"),
];

/// The POST operations that only read, so are safe to repeat (sent `idempotent`): each
/// answers `200` with what it was asked for and changes nothing at bol. Every other POST
/// creates something and is never re-sent once it may have reached bol.
pub(super) const READING_POSTS: &[&str] = &[
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

/// PUTs that act once, so they are never re-sent after a failure that may have reached
/// bol: the caller reads and settles instead (`cancel-order-item`: a second cancellation of
/// a line is refused; `handle-return`: a second handling is not refused but *changes* the
/// handling result of a handled return, so the caller reads the return first).
pub(super) const PUTS_ACTING_ONCE: &[&str] = &["cancel-order-item", "handle-return"];

/// Fields and parameters that bol's description leaves without a `format` although their
/// text and example say what they hold: `(schema or operationId, property or parameter,
/// format)`. `time` is a time of day written `HH:MM` (bol's example: `"23:59"`).
pub(super) const UNMARKED_FORMATS: &[(&str, &str, &str)] = &[
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
pub(super) const MONEY_WORDS: &[&str] = &["price", "amount", "cost", "commission", "fee"];

/// `number` fields that hold money although their name does not say so: `(schema, property)`.
pub(super) const MONEY_BY_DESCRIPTION: &[(&str, &str)] = &[
    // "The inclusive lower price threshold for which the commission is valid."
    ("CommissionRange", "lower"),
    // "The exclusive upper price threshold for which the commission is valid."
    ("CommissionRange", "upper"),
];

/// Where the generator notes what a property or parameter holds beyond its JSON type, on
/// its schema (on the items' schema for a list): `date-time`, `date`, `time` or `money`.
pub(super) const KIND_KEY: &str = "x-codegen-kind";

/// What a field or parameter holds beyond its JSON type, which decides its Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Plain,
    /// `DateTime<FixedOffset>`: RFC 3339 with its offset, as bol sends it.
    DateTime,
    /// `NaiveDate`: `YYYY-MM-DD`.
    Date,
    /// `NaiveTime`: a time of day, `HH:MM` on the wire.
    Time,
    /// `Money`: an exact amount in cents (euros), a JSON number on the wire.
    Money,
}

impl Kind {
    /// The kind noted on a schema (on its items for a list).
    pub(super) fn of(schema: &Value) -> Kind {
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
    pub(super) fn rust(self) -> Option<&'static str> {
        match self {
            Kind::Plain => None,
            Kind::DateTime => Some("DateTime<FixedOffset>"),
            Kind::Date => Some("NaiveDate"),
            Kind::Time => Some("NaiveTime"),
            Kind::Money => Some("Money"),
        }
    }
}

/// What `name` (a property of schema `owner`, or a parameter of operation `owner`) holds, or
/// `None` when it is plain: `date-time` and `date` as the description marks them or as
/// [`UNMARKED_FORMATS`] lists them, money by [`MONEY_WORDS`] and [`MONEY_BY_DESCRIPTION`].
/// A listed entry that does not fit its schema (not a string without a format) is an error.
pub(super) fn classify(owner: &str, name: &str, schema: &Value) -> Result<Option<&'static str>, String> {
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
pub(super) fn annotate(owner: &str, name: &str, schema: &mut Value) -> Result<(), String> {
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

/// Names that would stutter, and what they are called instead because the name without
/// the stutter is taken: `(stuttering name, name)`.
pub(super) const NAME_OVERRIDES: &[(&str, &str)] = &[
    // bol's schema of a full order's item (`Order.orderItems`, "Order item details from an
    // order"); `OrderItem` is bol's name for an item of a shipment request.
    ("OrderOrderItem", "OrderItemDetails"),
    // `ProcessStatus.status`: PENDING, SUCCESS, FAILURE, TIMEOUT.
    ("ProcessStatusStatus", "ProcessState"),
    // `PromotionCountryCode.countryCode`: the country in which a promotion is active.
    ("PromotionCountryCodeCountryCode", "PromotionCountry"),
];

impl Gen {
    /// Entries of [`UNMARKED_FORMATS`] and [`MONEY_BY_DESCRIPTION`] that name nothing in the
    /// description (it changed): an error, so a list never silently stops applying.
    pub(super) fn check_lists(&self) -> Vec<String> {
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

    /// Shapes of the description the generator does not turn into code; an error rather
    /// than a method that silently drops part of the operation.
    pub(super) fn unsupported(&self) -> Vec<String> {
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
}
