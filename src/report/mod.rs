//! Renderers of a [`Report`](crate::results::Report) for people and machines: the CLI's
//! table, JSON, JUnit and markdown, and the exporter's HTML page. Plus the catalogue tables.

pub mod catalogue;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod table;

use crate::catalogue::Category;
use crate::results::{CheckReport, Report};

/// Items grouped by category in checklist order, each group in report order.
pub fn by_category(report: &Report) -> Vec<(&str, Vec<&CheckReport>)> {
    let mut groups: Vec<(&str, Vec<&CheckReport>)> = Vec::new();
    for c in &report.checks {
        match groups.iter_mut().find(|(name, _)| *name == c.category) {
            Some((_, v)) => v.push(c),
            None => groups.push((&c.category, vec![c])),
        }
    }
    groups.sort_by_key(|(name, _)| (Category::rank(name), name.to_string()));
    groups
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize")
}

/// The heading of a category, falling back to its name for custom categories.
pub fn heading(category: &str) -> String {
    crate::catalogue::Category::parse(category).map(|c| c.heading().to_string()).unwrap_or_else(|| category.to_string())
}

/// Text from the outside (object names, reasons, titles of custom items) made safe for a
/// terminal, a log or an XML document: control characters (an ANSI escape could rewrite the
/// screen; XML 1.0 forbids them) and bidirectional overrides (which make text read other than
/// it is) are written as `\u{..}`; a line break becomes a space.
pub fn printable(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => " ".to_string(),
            c if needs_escape(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// How many findings an item had beyond the ones listed.
pub fn more_findings(c: &CheckReport) -> usize {
    c.findings_total.saturating_sub(c.findings.len())
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_and_bidi_characters_are_shown_not_obeyed() {
        assert_eq!(printable("plain text"), "plain text");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\u{202e}gnp.exe"), "x\\u{202e}gnp.exe");
        assert_eq!(printable("two\nlines"), "two lines");
    }
}
