//! bol's buyer returns as the [`SalesChannel`](commerce_core::SalesChannel) has them: the
//! open FBR returns (`get-returns`), one return (`get-return`) and the handling of one
//! return item (`handle-return`, then its process status).
//!
//! The answers are read field by field from JSON, not through the generated models: an
//! item bol sends without a field its description calls required (or with a number as
//! text) keeps what reads, so one odd item never ends the listing of the others.

use chrono::{DateTime, Utc};
use commerce_core::{
    ChannelReturn, ChannelReturnItem, DecodeError, Endpoint, Error, HandlingReceipt, HandlingResult,
    ProviderError, RetryHint, ReturnHandling, ReturnResult, ValidationErrors, encode_segment,
};
use futures_util::stream::BoxStream;
use serde_json::Value;

use crate::client::{Api, PROVIDER, RetailerClient};
use crate::generated::GetProcessStatusEntityIdParams;
use crate::generated::models::{
    GetProcessStatusEntityIdEventType, ProcessState, ProcessStatus, ReturnRequest,
    ReturnRequestHandlingResult,
};
use crate::process::WaitOptions;

/// The media type of bol's returns answers.
const V10: &str = "application/vnd.retailer.v10+json";

/// The largest quantity bol takes in a handling (`ReturnRequest.quantityReturned`).
pub const MAX_QUANTITY_RETURNED: u32 = 9999;

/// A text field: a string (trimmed) or a number as bol might send an id; empty is `None`.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A count: a whole JSON number, or one written as text (`"2"`).
fn count(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A count as `u32`: negative reads as 0, beyond `u32` as `u32::MAX`, absent as 0.
fn quantity(v: &Value, key: &str) -> u32 {
    count(v, key).map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// A flag: JSON `true`, or the text `true`.
fn flag(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// An ISO 8601 date and time with its offset (`2016-11-14T11:06:48.423+01:00`), in UTC;
/// one that does not parse is `None`.
fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    let s = v.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.to_utc())
}

/// A list field's elements (absent or not a list: none).
fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// One line of text: line breaks and runs of blanks become one space.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The buyer's reason as one line, `mainReason / detailedReason: customerComments`, without
/// the parts that are empty; `None` when all are.
pub fn reason_line(reason: &Value) -> Option<String> {
    let part = |key: &str| text(reason, key).map(|s| one_line(&s)).filter(|s| !s.is_empty());
    let why: Vec<String> = ["mainReason", "detailedReason"]
        .into_iter()
        .filter_map(part)
        .collect();
    let why = why.join(" / ");
    match (why.is_empty(), part("customerComments")) {
        (true, None) => None,
        (true, Some(c)) => Some(c),
        (false, None) => Some(why),
        (false, Some(c)) => Some(format!("{why}: {c}")),
    }
}

/// One `ReturnProcessingResult`.
fn result_of(v: &Value) -> ReturnResult {
    ReturnResult {
        quantity: quantity(v, "quantity"),
        processing: text(v, "processingResult").unwrap_or_default(),
        handling: HandlingResult::from(text(v, "handlingResult").unwrap_or_default()),
        at: time(v, "processingDateTime"),
    }
}

/// One `ReducedReturnItem` (list) or `ReturnItem` (one return), whatever of it reads; the
/// fields only `ReturnItem` has are `None` in a reduced one.
fn item_of(v: &Value) -> ChannelReturnItem {
    ChannelReturnItem {
        rma_id: text(v, "rmaId").unwrap_or_default(),
        order_id: text(v, "orderId").unwrap_or_default(),
        ean: text(v, "ean").unwrap_or_default(),
        title: text(v, "title"),
        expected: quantity(v, "expectedQuantity"),
        reason: v.get("returnReason").and_then(reason_line),
        handled: flag(v, "handled"),
        results: list(v, "processingResults").iter().map(result_of).collect(),
        track_and_trace: text(v, "trackAndTrace"),
        transporter: text(v, "transporterName"),
    }
}

/// A `ReducedReturn` or a `Return` as a [`ChannelReturn`]: whatever of it reads (an absent
/// field is empty, a time that does not parse `None`; unknown fields are ignored).
/// `fulfilled_by_channel` when its `fulfilmentMethod` is `FBB`.
pub fn channel_return_of(v: &Value) -> ChannelReturn {
    ChannelReturn {
        channel: PROVIDER.name.to_owned(),
        return_id: text(v, "returnId").unwrap_or_default(),
        registered_at: time(v, "registrationDateTime"),
        fulfilled_by_channel: text(v, "fulfilmentMethod").is_some_and(|m| m.eq_ignore_ascii_case("FBB")),
        items: list(v, "returnItems").iter().map(item_of).collect(),
    }
}

/// The processing result bol applied last (the latest `processingDateTime`; without times,
/// the last listed).
fn latest(item: &ChannelReturnItem) -> Option<&ReturnResult> {
    item.results
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| (r.at, *i))
        .map(|(_, r)| r)
}

/// What bol has of an item, for a person: `RETURN_RECEIVED ×1 (ACCEPTED at …)`.
fn describe(item: &ChannelReturnItem) -> String {
    match latest(item) {
        Some(r) => {
            let mut s = format!("{} ×{}", r.handling, r.quantity);
            let how: Vec<String> = [
                Some(r.processing.clone()).filter(|p| !p.is_empty()),
                r.at.map(|t| format!("at {}", t.to_rfc3339())),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !how.is_empty() {
                s.push_str(&format!(" ({})", how.join(" ")));
            }
            s
        }
        None => "handled, without a processing result".to_owned(),
    }
}

/// Whether bol has the item handled (`handled`, or a processing result listed).
fn is_handled(item: &ChannelReturnItem) -> bool {
    item.handled || !item.results.is_empty()
}

/// Whether bol has the item handled as `h` asks: its latest processing result has this
/// handling result and quantity.
fn handled_as(item: &ChannelReturnItem, h: &ReturnHandling) -> bool {
    is_handled(item) && latest(item).is_some_and(|r| r.handling == h.result && r.quantity == h.quantity)
}

/// Where a handling stands on bol, from a read of its return.
enum OnBol {
    /// Not handled yet.
    Open,
    /// Handled as asked: nothing to send.
    Done,
}

impl RetailerClient {
    /// `GET` of a returns path, read as JSON.
    async fn returns_json(
        &self,
        operation: &'static str,
        rel: &str,
        query: &[(&str, String)],
    ) -> Result<Value, Error> {
        let mut ep = Endpoint::new(http::Method::GET, operation, self.path(Api::Retailer, rel))
            .accept(self.media("Returns", V10))
            .bucket(operation);
        for (k, v) in query {
            ep = ep.query(k.to_string(), v);
        }
        self.json_of(ep).await
    }

    /// bol's unhandled returns of FBR orders (`GET
    /// /retailer/returns?handled=false&fulfilment-method=FBR`), every page (50 a page) from
    /// 1 until an empty one (`{}` without the list key), oldest first as bol sorts them,
    /// read tolerantly ([`channel_return_of`]). A page whose `returns` is not a list is an
    /// [`Error::Decode`] and ends the stream.
    pub fn open_channel_returns(&self) -> BoxStream<'static, Result<ChannelReturn, Error>> {
        let client = self.clone();
        commerce_core::page_stream(1, move |page| {
            let client = client.clone();
            async move {
                let query = [
                    ("page", page.to_string()),
                    ("handled", "false".to_owned()),
                    ("fulfilment-method", "FBR".to_owned()),
                ];
                let answer = client.returns_json("get-returns", "returns", &query).await?;
                match answer.get("returns") {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(returns)) => {
                        Ok(returns.iter().map(|r| Ok(channel_return_of(r))).collect())
                    }
                    Some(_) => Err(Error::from(DecodeError::new(
                        PROVIDER.name,
                        "get-returns",
                        "returns",
                        format!("page {page}: `returns` is not a list"),
                    ))),
                }
            }
        })
    }

    /// One return as bol has it now (`GET /retailer/returns/{return-id}`), read tolerantly
    /// ([`channel_return_of`]); `Ok(None)` when bol answers 404.
    pub async fn channel_return(&self, return_id: &str) -> Result<Option<ChannelReturn>, Error> {
        let rel = format!("returns/{}", encode_segment(return_id));
        match self.returns_json("get-return", &rel, &[]).await {
            Ok(v) => Ok(Some(channel_return_of(&v))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The item as bol has it now: its return read, the item found by RMA id. A return bol
    /// does not know, or one without the item, is an error naming what is missing (nothing
    /// was sent).
    async fn item_on_bol(&self, h: &ReturnHandling) -> Result<ChannelReturnItem, Error> {
        // bol's status: 404 for a return it does not know, 200 for one without the item.
        let missing = |status: u16, what: String| {
            Error::from(
                ProviderError::new(PROVIDER.name, "get-return", status)
                    .with_code("UNKNOWN_RETURN_ITEM")
                    .with_message(what),
            )
        };
        let Some(ret) = self.channel_return(&h.return_id).await? else {
            return Err(missing(
                404,
                format!(
                    "bol does not know return {} (RMA {}): nothing was sent",
                    h.return_id, h.rma_id
                ),
            ));
        };
        ret.items
            .into_iter()
            .find(|i| i.rma_id == h.rma_id)
            .ok_or_else(|| {
                missing(
                    200,
                    format!(
                        "return {} on bol has no item with RMA {}: nothing was sent",
                        h.return_id, h.rma_id
                    ),
                )
            })
    }

    /// Where the handling stands on bol: open, done as asked, or an error naming the other
    /// handling bol has (not worth retrying: a person decides whether to change it).
    fn settle_against(item: &ChannelReturnItem, h: &ReturnHandling) -> Result<OnBol, Error> {
        if handled_as(item, h) {
            return Ok(OnBol::Done);
        }
        if !is_handled(item) {
            return Ok(OnBol::Open);
        }
        Err(Error::from(
            ProviderError::new(PROVIDER.name, "handle-return", 200)
                .with_code("HANDLED_OTHERWISE")
                .with_message(format!(
                    "RMA {} is handled on bol already as {}, not as {} ×{}: nothing was sent \
                     (a second handling changes bol's result)",
                    h.rma_id,
                    describe(item),
                    h.result,
                    h.quantity
                )),
        ))
    }

    /// The `HANDLE_RETURN_ITEM` process statuses bol keeps for the RMA (`GET
    /// /shared/process-status?entity-id={rma}&event-type=HANDLE_RETURN_ITEM`, the first page:
    /// bol lists the latest first); a 404 is none.
    async fn handling_processes(&self, rma_id: &str) -> Result<Vec<ProcessStatus>, Error> {
        let answer = match self
            .get_process_status_entity_id(
                rma_id,
                GetProcessStatusEntityIdEventType::HandleReturnItem,
                &GetProcessStatusEntityIdParams::default(),
            )
            .await
        {
            Ok(a) => a,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(answer
            .process_statuses
            .into_iter()
            .filter(|p| p.event_type.is_empty() || p.event_type == "HANDLE_RETURN_ITEM")
            .filter(|p| p.entity_id.as_deref().is_none_or(|e| e.trim() == rma_id))
            .collect())
    }

    /// Handles one return item on bol and waits for bol's process status
    /// ([`SalesChannel::handle_return`](commerce_core::SalesChannel::handle_return)):
    ///
    /// 1. checks before anything is sent: a blank return id, an RMA id that is not a whole
    ///    number (bol's path takes an int64), a quantity outside 1 to 9999 or a handling
    ///    result bol does not list are an [`Error::InvalidInput`];
    /// 2. reads the return (`get-return`): the item handled already with this result and
    ///    quantity is a [`HandlingReceipt`] with `already` and nothing is sent; handled with
    ///    another is a provider error `HANDLED_OTHERWISE` naming what bol has (not retryable:
    ///    a second PUT would change bol's result);
    /// 3. reads the RMA's `HANDLE_RETURN_ITEM` process statuses: a `PENDING` one is waited
    ///    for (up to `wait`'s deadline: past it an [`Error::Timeout`], nothing sent) and the
    ///    return read again (then as in 2); a `PENDING` one without an id to wait for is a
    ///    retryable error `HANDLING_UNDER_WAY`, and a `SUCCESS` that the return does not show
    ///    yet a retryable error `NOT_CAUGHT_UP` (nothing sent);
    /// 4. sends `PUT /retailer/returns/{rma-id}` (never re-sent by the transport) and waits
    ///    for its process status (`FAILURE` or `TIMEOUT`: a provider error with bol's
    ///    `errorMessage`); a `202` without a process status id to wait for is settled by
    ///    one read of the return as in 5;
    /// 5. when the PUT's answer was lost ([`Error::Unconfirmed`]), reads the return once:
    ///    handled as sent is a receipt, anything else that `Unconfirmed` error.
    pub async fn handle_return_item(
        &self,
        h: &ReturnHandling,
        wait: WaitOptions,
    ) -> Result<HandlingReceipt, Error> {
        let mut v = ValidationErrors::new();
        v.require(&h.return_id, "return_id");
        let rma = h.rma_id.parse::<i64>();
        v.check(rma.is_ok(), "rma_id", "bol's RMA id is a whole number");
        v.check(
            (1..=MAX_QUANTITY_RETURNED).contains(&h.quantity),
            "quantity",
            format!("bol takes a quantity returned from 1 to {MAX_QUANTITY_RETURNED}"),
        );
        let result = match &h.result {
            HandlingResult::Other(other) => {
                v.push(
                    "result",
                    format!(
                        "bol takes no handling result {other:?}: one of {}",
                        HandlingResult::ALL.map(|r| r.as_str().to_owned()).join(", ")
                    ),
                );
                None
            }
            HandlingResult::ReturnReceived => Some(ReturnRequestHandlingResult::ReturnReceived),
            HandlingResult::ExchangeProduct => Some(ReturnRequestHandlingResult::ExchangeProduct),
            HandlingResult::ReturnDoesNotMeetConditions => {
                Some(ReturnRequestHandlingResult::ReturnDoesNotMeetConditions)
            }
            HandlingResult::RepairProduct => Some(ReturnRequestHandlingResult::RepairProduct),
            HandlingResult::CustomerKeepsProductPaid => {
                Some(ReturnRequestHandlingResult::CustomerKeepsProductPaid)
            }
            HandlingResult::StillApproved => Some(ReturnRequestHandlingResult::StillApproved),
        };
        let (Ok(rma), Some(handling_result), true) = (rma, result, v.is_empty()) else {
            return Err(Error::InvalidInput(v));
        };
        let receipt = |reference: Option<String>, already: bool| HandlingReceipt {
            channel: PROVIDER.name.to_owned(),
            reference,
            already,
        };

        let item = self.item_on_bol(h).await?;
        if let OnBol::Done = Self::settle_against(&item, h)? {
            return Ok(receipt(None, true));
        }
        let processes = self.handling_processes(&h.rma_id).await?;
        let pending: Vec<ProcessStatus> = processes
            .iter()
            .filter(|p| p.status == ProcessState::Pending)
            .cloned()
            .collect();
        let mut succeeded = processes
            .iter()
            .find(|p| p.status == ProcessState::Success)
            .cloned();
        if pending
            .iter()
            .any(|p| p.process_status_id.as_deref().is_none_or(str::is_empty))
        {
            return Err(Error::from(
                ProviderError::new(PROVIDER.name, "handle-return", 200)
                    .with_code("HANDLING_UNDER_WAY")
                    .with_retry_hint(RetryHint::Unavailable)
                    .with_message(format!(
                        "bol has a handling of RMA {} under way without a process status id to \
                         wait for: nothing was sent; read again later",
                        h.rma_id
                    )),
            ));
        }
        if !pending.is_empty() {
            let done = self.wait_for_processes(&pending, wait).await?;
            succeeded = succeeded.or_else(|| done.into_iter().find(|p| p.status == ProcessState::Success));
            let item = self.item_on_bol(h).await?;
            if let OnBol::Done = Self::settle_against(&item, h)? {
                let reference = succeeded.and_then(|p| p.process_status_id);
                return Ok(receipt(reference, true));
            }
        }
        if let Some(p) = succeeded {
            return Err(Error::from(
                ProviderError::new(PROVIDER.name, "handle-return", 200)
                    .with_code("NOT_CAUGHT_UP")
                    .with_retry_hint(RetryHint::Unavailable)
                    .with_message(format!(
                        "bol's process {} handled RMA {} successfully, but its return does not \
                         show it yet: nothing was sent; read again later",
                        p.process_status_id.as_deref().unwrap_or("(no id)"),
                        h.rma_id
                    )),
            ));
        }

        let body = ReturnRequest {
            handling_result,
            quantity_returned: i64::from(h.quantity),
        };
        let started = match self.handle_return(rma, &body).await {
            Ok(s) => s,
            Err(e) if e.is_unconfirmed() => {
                // It may have arrived: one read decides, else the caller settles it later.
                return match self.item_on_bol(h).await {
                    Ok(item) if handled_as(&item, h) => Ok(receipt(None, false)),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if !crate::process::is_final(&started)
            && started.process_status_id.as_deref().is_none_or(str::is_empty)
        {
            // bol took the PUT but its answer gives no process to wait for: one read decides.
            return match self.item_on_bol(h).await {
                Ok(item) if handled_as(&item, h) => Ok(receipt(None, false)),
                _ => Err(Error::Unconfirmed {
                    provider: PROVIDER.name.into(),
                    endpoint: "handle-return".into(),
                    source: std::sync::Arc::new(Error::invalid(
                        "processStatusId",
                        "bol's answer to the handling has no process status id to wait for",
                    )),
                }),
            };
        }
        let done = self.wait_for_success(&started, wait).await?;
        Ok(receipt(
            done.process_status_id.or(started.process_status_id),
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_reason_is_one_line_without_empty_parts() {
        let r = |v: Value| reason_line(&v);
        assert_eq!(
            r(
                json!({"mainReason": "Verkeerde maat of afmeting", "detailedReason": "Te groot", "customerComments": "Valt\n klein  uit"})
            ),
            Some("Verkeerde maat of afmeting / Te groot: Valt klein uit".into())
        );
        assert_eq!(
            r(json!({"mainReason": "Elders goedkoper", "customerComments": ""})),
            Some("Elders goedkoper".into())
        );
        assert_eq!(
            r(json!({"mainReason": " ", "detailedReason": null, "customerComments": "Kapot"})),
            Some("Kapot".into())
        );
        assert_eq!(r(json!({"customerComments": ""})), None);
        assert_eq!(r(json!("not an object")), None);
    }

    #[test]
    fn an_item_keeps_what_reads() {
        let item = item_of(&json!({
            "rmaId": 31234567, "expectedQuantity": "2", "handled": "true",
            "processingResults": [{"quantity": -1, "handlingResult": "SOMETHING_NEW", "processingDateTime": "yesterday"}],
            "somethingNew": {"x": 1}
        }));
        assert_eq!(item.rma_id, "31234567");
        assert_eq!(item.order_id, "");
        assert_eq!(item.expected, 2);
        assert!(item.handled);
        assert_eq!(item.results[0].quantity, 0);
        assert_eq!(
            item.results[0].handling,
            HandlingResult::Other("SOMETHING_NEW".into())
        );
        assert_eq!(item.results[0].at, None);
        assert_eq!(item_of(&json!([1, 2])), ChannelReturnItem::default());
    }

    #[test]
    fn the_latest_processing_result_counts() {
        let item = item_of(&json!({"handled": true, "processingResults": [
            {"quantity": 1, "handlingResult": "RETURN_RECEIVED", "processingDateTime": "2026-12-02T10:00:00+01:00"},
            {"quantity": 1, "handlingResult": "EXCHANGE_PRODUCT", "processingDateTime": "2026-12-01T10:00:00+01:00"},
        ]}));
        assert_eq!(latest(&item).unwrap().handling, HandlingResult::ReturnReceived);
        let untimed = item_of(&json!({"handled": true, "processingResults": [
            {"quantity": 1, "handlingResult": "RETURN_RECEIVED"},
            {"quantity": 2, "handlingResult": "EXCHANGE_PRODUCT"},
        ]}));
        assert_eq!(latest(&untimed).unwrap().quantity, 2);
    }
}
