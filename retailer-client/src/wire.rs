//! What the generated operations take from and read off the wire beyond JSON: files for
//! multipart uploads, and the headers bol declares on some answers.

use std::fmt;

use bytes::Bytes;
use commerce_core::Part;
use http::HeaderMap;

/// A file for an operation that uploads one ([`RetailerClient::upload_invoice`]): its
/// content, file name and media type. The name of the multipart part is not part of it:
/// the operation sends the file under the name bol's description requires (`invoice`).
///
/// [`RetailerClient::upload_invoice`]: crate::RetailerClient::upload_invoice
#[derive(Clone, PartialEq, Eq)]
pub struct FileUpload {
    /// The file's bytes.
    pub content: Bytes,
    /// The file name sent with it (`invoice-2026-0042.pdf`).
    pub file_name: String,
    /// Its media type (`application/pdf`).
    pub content_type: String,
}

impl fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUpload")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.content.len())
            .finish()
    }
}

impl FileUpload {
    /// A file with its name and media type.
    pub fn new(
        content: impl Into<Bytes>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
    ) -> Self {
        FileUpload {
            content: content.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
        }
    }

    /// A PDF file (`application/pdf`).
    pub fn pdf(content: impl Into<Bytes>, file_name: impl Into<String>) -> Self {
        Self::new(content, file_name, "application/pdf")
    }

    /// The file as the multipart part `name`.
    pub(crate) fn into_part(self, name: &'static str) -> Part {
        Part::file(name, self.content, self.file_name, self.content_type)
    }
}

/// The text of an answer header, read tolerantly: `None` when it is absent, empty or not
/// UTF-8 (bol's headers are ASCII; anything else is not trusted to be what it says).
/// Surrounding whitespace is removed; of repeated headers the first counts.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let text = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A time of day as bol writes it (`"23:59"`, `Offer::ultimate_order_time`), for an optional
/// field: read from `HH:MM` or `HH:MM:SS`, written `HH:MM` (with the seconds when there
/// are some). Anything else is a decode error, which names the field.
///
/// [`Offer::ultimate_order_time`]: crate::models::Offer::ultimate_order_time
pub(crate) mod time_of_day {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) if t.second() == 0 && t.nanosecond() == 0 => s.collect_str(&t.format("%H:%M")),
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|e| {
                serde::de::Error::custom(format_args!("{text:?} is not a time of day (HH:MM): {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn headers_are_read_tolerantly() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-track-and-trace-code",
            HeaderValue::from_static(" 3SBOL0987654321 "),
        );
        h.insert("x-transporter-code", HeaderValue::from_bytes(b"TNT\xff").unwrap());
        h.insert("x-empty", HeaderValue::from_static(""));
        assert_eq!(
            header_text(&h, "x-track-and-trace-code").as_deref(),
            Some("3SBOL0987654321")
        );
        assert_eq!(
            header_text(&h, "X-Track-And-Trace-Code").as_deref(),
            Some("3SBOL0987654321")
        );
        assert_eq!(header_text(&h, "x-transporter-code"), None, "not UTF-8");
        assert_eq!(header_text(&h, "x-empty"), None);
        assert_eq!(header_text(&h, "x-absent"), None);
        // UTF-8 beyond ASCII is text too.
        h.insert(
            "x-utf8",
            HeaderValue::from_bytes("Pakketdienst Zuid ä".as_bytes()).unwrap(),
        );
        assert_eq!(header_text(&h, "x-utf8").as_deref(), Some("Pakketdienst Zuid ä"));
    }

    #[test]
    fn a_time_of_day_is_read_and_written_as_bol_does() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct T {
            #[serde(default, with = "time_of_day", skip_serializing_if = "Option::is_none")]
            at: Option<chrono::NaiveTime>,
        }
        let read = |json: &str| serde_json::from_str::<T>(json).map(|t| t.at);
        let hm = chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap();
        assert_eq!(read(r#"{"at":"23:59"}"#).unwrap(), Some(hm));
        assert_eq!(read(r#"{"at":"23:59:00"}"#).unwrap(), Some(hm));
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"at":null}"#).unwrap(), None);
        let err = read(r#"{"at":"half past"}"#).unwrap_err().to_string();
        assert!(err.contains("\"half past\" is not a time of day"), "{err}");
        assert_eq!(
            serde_json::to_string(&T { at: Some(hm) }).unwrap(),
            r#"{"at":"23:59"}"#
        );
        let s = chrono::NaiveTime::from_hms_opt(8, 5, 30).unwrap();
        assert_eq!(
            serde_json::to_string(&T { at: Some(s) }).unwrap(),
            r#"{"at":"08:05:30"}"#
        );
        assert_eq!(serde_json::to_string(&T { at: None }).unwrap(), "{}");
    }

    #[test]
    fn a_file_becomes_the_named_part() {
        let part = FileUpload::pdf(b"%PDF-1.4".to_vec(), "f.pdf").into_part("invoice");
        assert_eq!(part.name(), "invoice");
        assert_eq!(part.filename(), Some("f.pdf"));
        assert!(format!("{:?}", FileUpload::pdf(vec![1, 2], "f.pdf")).contains("len: 2"));
    }
}
