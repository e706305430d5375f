//! Layer 1, wire values: short excerpts of answers and bounded provider texts.

use crate::error::ProviderError;

const EXCERPT_CHARS: usize = 120;

/// Bytes an excerpt looks at on each side of its centre: enough for its characters at up to
/// 4 bytes each.
pub(crate) const EXCERPT_REACH: usize = EXCERPT_CHARS * 4;

/// The byte offset of a 1-based line and column in `body` (clamped to its length).
pub(crate) fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let line_start = if line == 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    line_start
        .saturating_add(column.saturating_sub(1))
        .min(body.len())
}

/// Keeps a provider's error texts to a size a person reads (a provider answering errors with
/// HTTP 200, as Sitejabber does, is read up to the full answer limit): the code to 200
/// characters, the message to 1,000, at most 50 violations of 500 characters each.
pub(crate) fn bound(error: &mut ProviderError) {
    let shorten = |text: &mut String, max: usize| {
        if let (cut_text, true) = cut(text, max) {
            *text = cut_text;
        }
    };
    if let Some(code) = &mut error.code {
        shorten(code, 200);
    }
    if let Some(message) = &mut error.message {
        shorten(message, 1000);
    }
    error.violations.truncate(50);
    for v in &mut error.violations {
        shorten(&mut v.field, 200);
        shorten(&mut v.message, 500);
    }
}

/// `text` cut to `max` characters (with `…`); whether it was cut.
pub(crate) fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (format!("{}…", &text[..i]), true),
        None => (text.to_owned(), false),
    }
}

/// A short, single-line excerpt of `body`, centred on `at` (1-based line and column) when
/// given; `None` for an empty body. Only a few hundred bytes around that place are looked
/// at, however large the body.
pub fn excerpt(body: &[u8], at: Option<(usize, usize)>) -> Option<String> {
    const REACH: usize = EXCERPT_REACH;
    let offset = match at {
        Some((line, column)) => byte_offset(body, line, column),
        None => 0,
    };
    let from = if at.is_some() {
        offset.saturating_sub(REACH)
    } else {
        0
    };
    let to = offset.saturating_add(REACH).min(body.len());
    let text = String::from_utf8_lossy(&body[from..to]);
    if text.trim().is_empty() {
        return None;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let centre = chars.partition_point(|(i, _)| *i < offset - from);
    let start = if at.is_some() {
        centre.saturating_sub(EXCERPT_CHARS / 2)
    } else {
        0
    };
    let end = (start + EXCERPT_CHARS).min(chars.len());
    let mut out: String = chars[start..end]
        .iter()
        .map(|(_, c)| if c.is_whitespace() { ' ' } else { *c })
        .collect();
    out = out
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if start > 0 || from > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() || to < body.len() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_single_line_and_centred() {
        assert_eq!(excerpt(b"  ", None), None);
        assert_eq!(excerpt(b"{\"a\":\n 1}", None).unwrap(), "{\"a\": 1}");
        let long = format!(
            "{{\"items\":[{}\"bad\",{}1]}}",
            "1,".repeat(200),
            "1,".repeat(200)
        );
        let column = long.find("\"bad\"").unwrap() + 1;
        let e = excerpt(long.as_bytes(), Some((1, column))).unwrap();
        assert!(
            e.starts_with('…') && e.ends_with('…') && e.contains("\"bad\""),
            "{e}"
        );
        assert!(e.chars().count() <= EXCERPT_CHARS + 2);
    }
}
