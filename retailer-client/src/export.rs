//! The offers export, end to end: request it, wait for it, download and read the CSV.

use std::collections::BTreeMap;

use commerce_core::{Error, Money};

use crate::client::RetailerClient;
use crate::generated::models::{CreateOfferExportRequest, CreateOfferExportRequestFormat};
use crate::process::WaitOptions;

/// One offer of the export: every column by its header, with typed readers for the
/// common ones. Columns bol adds later are kept, never dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedOffer {
    /// Every column, by header.
    pub columns: BTreeMap<String, String>,
}

impl ExportedOffer {
    /// A column by header (case-insensitive).
    pub fn get(&self, header: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(header))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `offerId`.
    pub fn offer_id(&self) -> Option<&str> {
        self.get("offerId")
    }

    /// `ean`.
    pub fn ean(&self) -> Option<&str> {
        self.get("ean")
    }

    /// `stockAmount` (a whole number; `None` when absent or not one).
    pub fn stock_amount(&self) -> Option<i64> {
        whole_number(self.get("stockAmount")?)
    }

    /// `bundlePricesPrice` (the unit price) in euros, rounded to the cent by the one rule
    /// where it has more decimals; `None` when it is missing or not a number.
    pub fn price(&self) -> Option<Money> {
        Money::parse_rounded(self.get("bundlePricesPrice")?, "EUR").ok()
    }

    /// `fulfilmentType` (`FBR` or `FBB`).
    pub fn fulfilment_type(&self) -> Option<&str> {
        self.get("fulfilmentType")
    }

    /// `correctedStock`: the stock bol still sells (the amount less the order items it
    /// counts against it). bol's description does not list the export's columns; this one
    /// is inferred (bol's `Stock` schema has the field), so `None` when the column is
    /// absent, empty or not a whole number.
    pub fn corrected_stock(&self) -> Option<i64> {
        whole_number(self.get("correctedStock")?)
    }

    /// Whether the retailer manages the offer's stock (`managedByRetailer`, also read from
    /// `stockManagedByRetailer`): `None` when no such column is there or it holds no
    /// boolean (`true`/`false`, `1`/`0`, `yes`/`no`). Inferred as
    /// [`corrected_stock`](Self::corrected_stock) is: the exports public clients show have
    /// no such column.
    pub fn managed_by_retailer(&self) -> Option<bool> {
        boolean(
            self.get("managedByRetailer")
                .or_else(|| self.get("stockManagedByRetailer"))?,
        )
    }

    /// `onHoldByRetailer`: `None` when the column is absent or holds no boolean.
    pub fn on_hold_by_retailer(&self) -> Option<bool> {
        boolean(self.get("onHoldByRetailer")?)
    }
}

/// A whole number as a CSV cell may hold it (`5`, ` 5 `, `5.0`); anything else is `None`.
pub(crate) fn whole_number(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let f = text.parse::<f64>().ok()?;
    // `as` saturates; the bounds keep a value too large for an i64 out instead.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// A boolean as a CSV cell may hold it; anything else is `None`.
fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Some(true),
        "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Reads CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows keyed by
/// the header row.
pub fn parse_csv(text: &str) -> Vec<ExportedOffer> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    let mut rows = rows.into_iter().filter(|r| !(r.len() == 1 && r[0].is_empty()));
    let Some(header) = rows.next() else {
        return Vec::new();
    };
    rows.map(|r| ExportedOffer {
        columns: header
            .iter()
            .cloned()
            .zip(r.into_iter().chain(std::iter::repeat(String::new())))
            .collect(),
    })
    .collect()
}

impl RetailerClient {
    /// Exports every offer: requests the CSV export, waits for its process status (the
    /// export can take minutes: give `options` a generous deadline), downloads the report
    /// and reads it.
    ///
    /// bol's description marks the two operations it uses deprecated
    /// ([`post_offer_export`](Self::post_offer_export),
    /// [`get_offer_export`](Self::get_offer_export)); bol still serves them.
    #[allow(deprecated)]
    pub async fn export_offers(&self, options: WaitOptions) -> Result<Vec<ExportedOffer>, Error> {
        let started = self
            .post_offer_export(&CreateOfferExportRequest {
                format: CreateOfferExportRequestFormat::Csv,
            })
            .await?;
        let done = self.wait_for_success(&started, options).await?;
        let report = done
            .entity_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::invalid("entityId", "the finished export names no report"))?;
        let csv = self.get_offer_export(&report).await?;
        Ok(parse_csv(&String::from_utf8_lossy(&csv)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_line_ends() {
        let text = "\u{feff}offerId,ean,conditionComment,stockAmount\r\n\
                    o-1,8712345678906,\"Doos \"\"licht\"\" beschadigd, verder nieuw\",5\r\n\
                    o-2,8712345678913,,0\n";
        let rows = parse_csv(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].offer_id(), Some("o-1"));
        assert_eq!(
            rows[0].get("conditionComment"),
            Some("Doos \"licht\" beschadigd, verder nieuw")
        );
        assert_eq!(rows[0].stock_amount(), Some(5));
        assert_eq!(rows[1].get("conditionComment"), None);
        assert_eq!(rows[1].get("STOCKAMOUNT"), Some("0"));
        assert!(parse_csv("").is_empty());
        assert_eq!(parse_csv("a,b\n1").len(), 1, "a short last row keeps its columns");
    }
}
