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

    /// `stockAmount`.
    pub fn stock_amount(&self) -> Option<i64> {
        self.get("stockAmount")?.parse().ok()
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
