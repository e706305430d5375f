//! The Prometheus text exposition format, version 0.0.4, written by hand: every figure
//! `commerce serve` shows is read when it is scraped (the journal's census, the process's
//! call counts, the flow's health), so a registry of live instruments (the
//! `prometheus-client` crate) would only be filled to be read back at once. The format is
//! small: `# HELP` and `# TYPE` once per family, then one `name{label="value"} number` line
//! per sample, label values escaped (`\\`, `\"`, `\n`). The integration tests parse what
//! the server answers.

/// The `Content-Type` of the format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only goes up (since the process started); its name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// A page of metrics being written.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    text: String,
}

/// A sample's labels: `(name, value)`.
pub(crate) type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    /// A family of samples: its help line, its type, then each sample. A family without
    /// samples is left out (its type alone says nothing).
    pub(crate) fn family<'a>(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        samples: impl IntoIterator<Item = (Labels<'a>, f64)>,
    ) {
        let mut lines = String::new();
        for (labels, value) in samples {
            lines += name;
            if !labels.is_empty() {
                lines.push('{');
                for (i, (label, text)) in labels.iter().enumerate() {
                    if i > 0 {
                        lines.push(',');
                    }
                    lines += label;
                    lines += "=\"";
                    lines += &escape(text, true);
                    lines.push('"');
                }
                lines.push('}');
            }
            lines.push(' ');
            lines += &number(value);
            lines.push('\n');
        }
        if lines.is_empty() {
            return;
        }
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        self.text += &format!("# HELP {name} {}\n# TYPE {name} {kind}\n", escape(help, false));
        self.text += &lines;
    }

    /// A family of one sample without labels.
    pub(crate) fn single(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.family(name, help, kind, [(&[][..], value)]);
    }

    /// The page.
    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// A help text escapes `\` and line feeds; a label value also `"`.
fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '"' if quotes => out += "\\\"",
            c => out.push(c),
        }
    }
    out
}

/// A value as the format writes it: whole numbers without a fraction, `+Inf`, `-Inf`, `NaN`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_in_the_text_format() {
        let mut page = Exposition::default();
        page.family(
            "commerce_orders",
            "Orders in the journal, by stage.",
            Kind::Gauge,
            [
                (&[("stage", "submit")][..], 3.0),
                (&[("stage", "completed")][..], 12.0),
            ],
        );
        page.single("commerce_push_active", "Whether pushes arrive.", Kind::Gauge, 1.0);
        page.family(
            "commerce_push_refused_total",
            "Deliveries refused \\ by \"reason\"\nsecond line.",
            Kind::Counter,
            [(&[("reason", "a\"b\\c\nd")][..], 2.0)],
        );
        page.family("commerce_empty", "Nothing.", Kind::Gauge, []);
        page.single("commerce_age_seconds", "An age.", Kind::Gauge, 1.25);
        page.single("commerce_nan", "Not a number.", Kind::Gauge, f64::NAN);
        page.single("commerce_inf", "Infinite.", Kind::Gauge, f64::NEG_INFINITY);
        assert_eq!(
            page.finish(),
            "# HELP commerce_orders Orders in the journal, by stage.\n\
             # TYPE commerce_orders gauge\n\
             commerce_orders{stage=\"submit\"} 3\n\
             commerce_orders{stage=\"completed\"} 12\n\
             # HELP commerce_push_active Whether pushes arrive.\n\
             # TYPE commerce_push_active gauge\n\
             commerce_push_active 1\n\
             # HELP commerce_push_refused_total Deliveries refused \\\\ by \"reason\"\\nsecond line.\n\
             # TYPE commerce_push_refused_total counter\n\
             commerce_push_refused_total{reason=\"a\\\"b\\\\c\\nd\"} 2\n\
             # HELP commerce_age_seconds An age.\n\
             # TYPE commerce_age_seconds gauge\n\
             commerce_age_seconds 1.25\n\
             # HELP commerce_nan Not a number.\n\
             # TYPE commerce_nan gauge\n\
             commerce_nan NaN\n\
             # HELP commerce_inf Infinite.\n\
             # TYPE commerce_inf gauge\n\
             commerce_inf -Inf\n"
        );
    }
}
