//! Gauge families written straight into the text exposition format (version 0.0.4), for
//! sources whose series run to tens of thousands: no protos, no per-series allocation.

use std::fmt::Write;

use prometheus::proto::MetricFamily;

/// Families built as protos (the small sources), appended as text.
pub fn append_families(families: &[MetricFamily], out: &mut String) {
    let text =
        prometheus::TextEncoder::new().encode_to_string(families).expect("text encoding into memory cannot fail");
    out.push_str(&text);
}

/// A label value: text (escaped) or an integer (written as is).
#[derive(Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Value<'a> {
        Value::Str(s)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Value<'a> {
        Value::Str(s)
    }
}

impl From<i32> for Value<'_> {
    fn from(i: i32) -> Self {
        Value::Int(i.into())
    }
}

/// One gauge family appended to `out`. Its `# HELP`/`# TYPE` lines are written with the first
/// sample, so a family without samples leaves nothing.
pub struct Gauge<'o> {
    out: &'o mut String,
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    started: bool,
}

impl<'o> Gauge<'o> {
    /// `labels` are the label names in the order every sample gives their values; sorted by
    /// name, as every Prometheus client writes them.
    pub fn new(out: &'o mut String, name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0] < w[1]), "labels of {name} are not sorted");
        Gauge { out, name, help, labels, started: false }
    }

    pub fn sample(&mut self, values: &[Value<'_>], v: f64) {
        debug_assert_eq!(values.len(), self.labels.len(), "label values of {}", self.name);
        if !self.started {
            self.started = true;
            self.out.push_str("# HELP ");
            self.out.push_str(self.name);
            self.out.push(' ');
            escape(self.out, self.help, false);
            self.out.push_str("\n# TYPE ");
            self.out.push_str(self.name);
            self.out.push_str(" gauge\n");
        }
        self.out.push_str(self.name);
        let mut sep = '{';
        for (k, val) in self.labels.iter().zip(values) {
            self.out.push(sep);
            sep = ',';
            self.out.push_str(k);
            self.out.push_str("=\"");
            match *val {
                Value::Str(s) => escape(self.out, s, true),
                Value::Int(i) => write!(self.out, "{i}").expect("writing to a String cannot fail"),
            }
            self.out.push('"');
        }
        if !self.labels.is_empty() {
            self.out.push('}');
        }
        self.out.push(' ');
        number(self.out, v);
        self.out.push('\n');
    }
}

/// Label values escape `\`, `"` and newline; HELP text escapes `\` and newline.
fn escape(out: &mut String, s: &str, quote: bool) {
    let special = |c: char| c == '\\' || c == '\n' || (quote && c == '"');
    if !s.contains(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Go's ParseFloat spellings for the special values, Rust's shortest round-trip otherwise.
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        write!(out, "{v}").expect("writing to a String cannot fail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped_per_the_text_format() {
        let mut out = String::new();
        let mut g = Gauge::new(&mut out, "x", "a \\ help\nwith \"quotes\"", &["a", "b"]);
        g.sample(&["back\\slash \"quoted\"\nnew line".into(), 7i32.into()], 1.0);
        g.sample(&["plain".into(), (-1i32).into()], f64::INFINITY);
        assert_eq!(
            out,
            "# HELP x a \\\\ help\\nwith \"quotes\"\n# TYPE x gauge\n\
             x{a=\"back\\\\slash \\\"quoted\\\"\\nnew line\",b=\"7\"} 1\n\
             x{a=\"plain\",b=\"-1\"} +Inf\n"
        );
        // What Prometheus reads back: the infinity and the integer label.
        let parsed = prometheus_parse::Scrape::parse(out.lines().skip(3).map(|l| Ok(l.to_string()))).unwrap();
        assert_eq!(parsed.samples[0].labels.get("b"), Some("-1"));
        assert!(matches!(parsed.samples[0].value, prometheus_parse::Value::Untyped(v) if v == f64::INFINITY));
    }

    #[test]
    fn a_family_without_samples_writes_nothing_and_one_without_labels_no_braces() {
        let mut out = String::new();
        Gauge::new(&mut out, "empty", "h", &["a"]);
        Gauge::new(&mut out, "n", "h", &[]).sample(&[], 2.5);
        assert_eq!(out, "# HELP n h\n# TYPE n gauge\nn 2.5\n");
    }
}
