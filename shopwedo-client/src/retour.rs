//! Returns (retours): announcing goods that come back (`createRetourAnnouncement`), the
//! shop's return portal settings (`getRetourSettings`) and the *inferred* `retours` block of
//! `getOrder`.
//!
//! None of the three is in ShopWeDo's published document: the request shapes are what
//! public ShopWeDo clients send (a return portal, ShopWeDo's own API proxy), and every
//! answer's shape is **inferred**, so it is read tolerantly (see the README).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use commerce_core::{Error, ValidationErrors, lenient};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use crate::client::{PROVIDER, ShopWeDoClient};
use crate::model::Translations;

/// A return announcement (`createRetourAnnouncement`'s `data`): goods of a shipped ShopWeDo
/// order that come back to the warehouse. Checked before sending
/// ([`validate`](Self::validate)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetourAnnouncement {
    /// The owning shop, as `getOrder` gives it (left out when `None`; whether ShopWeDo
    /// requires it beside the signed `shopid` is not published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<u64>,
    /// ShopWeDo's order id (the hand-over reference), sent as an integer.
    pub order_id: u64,
    /// What comes back (at least one item).
    pub items: Vec<RetourItem>,
}

/// One item of a [`RetourAnnouncement`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetourItem {
    /// The stock item's SKU as `getOrder`'s items give it (ShopWeDo's stock item id): sent
    /// as an integer when it is one, else as the text.
    #[serde(serialize_with = "sku_as_given", deserialize_with = "lenient::text")]
    pub sku: String,
    /// How many units come back (at least 1).
    pub amount: u32,
    /// Why, as the buyer said; the flow ends it with ` (bol RMA <rmaId>)` so a person and a
    /// look-up find the announcement.
    #[serde(default)]
    pub reason: String,
}

fn sku_as_given<S: Serializer>(sku: &str, s: S) -> Result<S::Ok, S::Error> {
    match sku.trim().parse::<u64>() {
        Ok(id) => s.serialize_u64(id),
        Err(_) => s.serialize_str(sku.trim()),
    }
}

impl RetourAnnouncement {
    /// Every problem that would make the announcement wrong, named by field: an order id of
    /// 0, no items, a blank SKU, an amount of 0.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.check(self.order_id > 0, "order_id", "must be a ShopWeDo order id");
        v.check(!self.items.is_empty(), "items", "at least one item is required");
        for (i, item) in self.items.iter().enumerate() {
            v.require(&item.sku, format!("items[{i}].sku"));
            v.check(
                item.amount > 0,
                format!("items[{i}].amount"),
                "must be at least 1",
            );
        }
        v.into_result(())
    }
}

/// What ShopWeDo answered to an announcement. The answer's shape is **inferred** (public
/// clients only test it for truthiness): the id is read from `retour_id`, else `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetourReceipt {
    /// ShopWeDo's id of the announcement, when the answer gives one.
    pub retour_id: Option<String>,
}

/// A retour at an order, as the **inferred** `retours` block of `getOrder` gives it (no
/// public material shows how ShopWeDo reports one: the names are this project's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retour {
    /// ShopWeDo's id of the announcement.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub retour_id: Option<String>,
    /// The stock item's SKU.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub sku: Option<String>,
    /// How many units were announced.
    #[serde(default, deserialize_with = "opt_u32")]
    pub amount: Option<u32>,
    /// The reason given (ours end in ` (bol RMA <rmaId>)`).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub reason: Option<String>,
    /// When it was announced (ShopWeDo's wall-clock time).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub created_at: Option<NaiveDateTime>,
    /// Whether the goods are in: only an explicit `true` (or `1`) says so.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub received: Option<bool>,
    /// How many units came in.
    #[serde(default, deserialize_with = "opt_u32")]
    pub received_amount: Option<u32>,
    /// When they came in (ShopWeDo's wall-clock time).
    #[serde(default, deserialize_with = "lenient::opt_local")]
    pub received_at: Option<NaiveDateTime>,
    /// The warehouse's word on their state (`ok`, `damaged`, or free text).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub condition: Option<String>,
}

impl Retour {
    /// Whether its reason names the channel's return item `rma_id` (`bol RMA 86123452`),
    /// as a whole number: `bol RMA 8612` does not name `bol RMA 86123452`, nor the other
    /// way round.
    pub fn names_rma(&self, channel: &str, rma_id: &str) -> bool {
        let (Some(reason), Some(tag)) = (self.reason.as_deref(), rma_tag(channel, rma_id)) else {
            return false;
        };
        reason.match_indices(&tag).any(|(at, _)| {
            let after = reason[at + tag.len()..].chars().next();
            !after.is_some_and(char::is_alphanumeric)
        })
    }
}

fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(lenient::opt_u64(d)?.and_then(|n| u32::try_from(n).ok()))
}

/// The text that names a channel's return item in an announcement's reason:
/// `bol RMA 86123452` (`None` for a blank RMA id; a blank channel is `bol`).
pub fn rma_tag(channel: &str, rma_id: &str) -> Option<String> {
    let rma_id = rma_id.trim();
    if rma_id.is_empty() {
        return None;
    }
    let channel = match channel.trim() {
        "" => "bol",
        c => c,
    };
    Some(format!("{channel} RMA {rma_id}"))
}

/// The longest part of the buyer's reason sent with an announcement (characters): the tag
/// goes first, so a warehouse that cuts the text short keeps it.
pub(crate) const REASON_MAX: usize = 200;

/// The reason sent with an announcement: `(bol RMA <rmaId>)` first, then the buyer's reason
/// (at most 200 characters); the tag alone when the buyer gave none.
pub fn retour_reason(buyer_reason: Option<&str>, channel: &str, rma_id: &str) -> String {
    let tag = rma_tag(channel, rma_id).unwrap_or_default();
    match buyer_reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => {
            let reason: String = reason.chars().take(REASON_MAX).collect();
            format!("({tag}) {reason}")
        }
        None => format!("({tag})"),
    }
}

/// `getOrder`'s inferred `retours` block: absent (or `null`) is `None`, "this ShopWeDo does
/// not tell"; `false` or an empty list is no retour; a lone object is a list of one.
pub(crate) fn retours_block<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Retour>>, D::Error> {
    Ok(match lenient::value(d)? {
        Value::Null => None,
        Value::Bool(false) => Some(Vec::new()),
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ),
        v @ Value::Object(_) => Some(serde_json::from_value(v).ok().into_iter().collect()),
        _ => None,
    })
}

/// The shop's return portal settings (`getRetourSettings`). Every field is optional and
/// read tolerantly: the types are **inferred** from what a public return portal reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RetourSettings {
    /// The shop, if the answer names it.
    pub shop_id: Option<u64>,
    /// Whether returns are enabled (`return_status`: a flag or 0/1).
    pub return_status: Option<bool>,
    /// How many days after shipping a return is accepted (`return_day_amount`: a number or
    /// a numeric text).
    pub return_day_amount: Option<u64>,
    /// The reasons a buyer can choose, by language (`return_reasons`: a JSON text holding
    /// a list, or the list itself; an element that is neither an object nor a text is
    /// left out).
    pub return_reasons: Vec<Translations>,
    /// Whether a buyer may give another reason (`return_other_status`).
    pub return_other_status: Option<bool>,
    /// The portal's logo (`return_settings_logo`).
    pub logo: Option<String>,
    /// The portal's background (`return_settings_background`).
    pub background: Option<String>,
    /// The portal's colour (`return_settings_color`).
    pub color: Option<String>,
    /// The confirmation text by language (`return_confirmation_text_<lang>`).
    pub confirmation_texts: BTreeMap<String, String>,
}

impl RetourSettings {
    /// Reads the settings from an answer: the object itself, the first element of a list,
    /// or an object under `settings` or `data`. Anything else is settings with nothing set.
    pub fn from_answer(answer: &Value) -> Self {
        let object = match answer {
            Value::Array(items) => items.first().cloned().unwrap_or_default(),
            Value::Object(map) if !map.keys().any(|k| k.starts_with("return_")) => ["settings", "data"]
                .iter()
                .find_map(|k| map.get(*k).filter(|v| v.is_object()).cloned())
                .unwrap_or_else(|| answer.clone()),
            other => other.clone(),
        };
        let Value::Object(map) = object else {
            return Self::default();
        };
        let get = |k: &str| map.get(k).cloned().unwrap_or_default();
        let flag = |k: &str| lenient::opt_bool(get(k)).ok().flatten();
        let text = |k: &str| map.get(k).and_then(lenient::as_text);
        let reasons = match get("return_reasons") {
            Value::String(s) => serde_json::from_str::<Value>(&s).unwrap_or_default(),
            other => other,
        };
        let return_reasons = match reasons {
            Value::Array(items) => items
                .into_iter()
                .filter(|r| r.is_object() || r.is_string())
                .filter_map(|r| serde_json::from_value(r).ok())
                .collect(),
            _ => Vec::new(),
        };
        let confirmation_texts = map
            .iter()
            .filter_map(|(k, v)| {
                let lang = k.strip_prefix("return_confirmation_text_")?;
                Some((lang.to_owned(), lenient::as_text(v)?))
            })
            .collect();
        RetourSettings {
            shop_id: map.get("shop_id").and_then(lenient::as_u64),
            return_status: flag("return_status"),
            return_day_amount: map.get("return_day_amount").and_then(lenient::as_u64),
            return_reasons,
            return_other_status: flag("return_other_status"),
            logo: text("return_settings_logo"),
            background: text("return_settings_background"),
            color: text("return_settings_color"),
            confirmation_texts,
        }
    }
}

impl ShopWeDoClient {
    /// Announces goods coming back to the warehouse (`createRetourAnnouncement`). The
    /// announcement is checked first ([`RetourAnnouncement::validate`]: nothing is sent
    /// when it is wrong). It acts, so it is never re-sent once it may have reached
    /// ShopWeDo: a lost answer, or a success answer that cannot be read (not JSON, `false`,
    /// or carrying an `error`), is [`Error::Unconfirmed`]. ShopWeDo's refusal (its usual
    /// error envelope) is the API error with its code and fields.
    ///
    /// The answer's shape is **inferred**: the id is kept from `retour_id` (else `id`) when
    /// there is one; an answer without one is still a success.
    pub async fn create_retour_announcement(
        &self,
        announcement: &RetourAnnouncement,
    ) -> Result<RetourReceipt, Error> {
        let mut ep = Self::method(
            "createRetourAnnouncement",
            &serde_json::to_value(announcement).unwrap_or_default(),
            false,
        );
        if let Err(e) = announcement.validate() {
            ep.fail(e);
        }
        let response = self.inner.transport.send(&ep).await?;
        let unreadable = |why: &str| {
            let mut e =
                commerce_core::DecodeError::new(PROVIDER.name, "createRetourAnnouncement", "retour_id", why);
            e.excerpt = response.excerpt(None);
            response.unreadable(Error::from(e))
        };
        // Not JSON (an empty body too): `json` makes it `Error::Unconfirmed`.
        let answer: Value = response.json()?;
        let says_error =
            |v: Option<&Value>| v.is_some_and(|e| !matches!(e, Value::Null | Value::Bool(false)));
        match &answer {
            Value::Null | Value::Bool(false) => Err(unreadable("the answer says nothing was done")),
            Value::Object(map)
                if says_error(map.get("error")) || map.get("retour_id") == Some(&Value::Bool(false)) =>
            {
                Err(unreadable("a success status with an error or without a retour"))
            }
            other => Ok(RetourReceipt {
                retour_id: other
                    .get("retour_id")
                    .and_then(lenient::as_text)
                    .or_else(|| other.get("id").and_then(lenient::as_text)),
            }),
        }
    }

    /// The shop's return portal settings (`getRetourSettings`, `{"shop_id": ..}`); safe to
    /// repeat. Read tolerantly ([`RetourSettings::from_answer`]); the shape is
    /// **inferred**.
    pub async fn retour_settings(&self, shop_id: u64) -> Result<RetourSettings, Error> {
        let mut ep = Self::method("getRetourSettings", &json!({"shop_id": shop_id}), true);
        if shop_id == 0 {
            ep.fail(Error::invalid("shop_id", "must be a ShopWeDo shop id"));
        }
        let response = self.inner.transport.send(&ep).await?;
        let answer: Value = response.json()?;
        Ok(RetourSettings::from_answer(&answer))
    }
}
