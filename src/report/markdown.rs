//! `check --output markdown`: a pull-request comment. A verdict line, one table of every item,
//! then the findings of each failing item.

use std::fmt::Write;

use super::{by_category, heading, more_findings};
use crate::outcome::Status;
use crate::results::{GateVerdict, Report};

/// Text from the outside as plain markdown text: HTML cannot open (`<img onerror=…>` in a
/// ConfigMap key name would otherwise render in a pull-request comment), and emphasis, links,
/// code and table cells cannot be started or closed by it.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in super::printable(s).chars().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // Without `[` and `]` no link or image can form, so `(`, `)` and `!` stay plain.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '+' | '-' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text from the outside as one inline code span: fenced by more backticks than it holds,
/// so it cannot close early (inside a code span HTML and emphasis are literal already); a
/// `|` is escaped, as GitHub splits table cells on it even there.
fn code(s: &str) -> String {
    let s = super::printable(s).replace('|', "\\|");
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A URL as a link target that ends where it should.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20").replace('(', "%28").replace(')', "%29").replace('<', "%3C").replace('>', "%3E")
}

fn icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Error => "⚠️",
        Status::Skipped => "⏭️",
    }
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let verdict = match s.gate {
        GateVerdict::Pass => "✅ go-live gate passed".to_string(),
        GateVerdict::Fail => format!("❌ go-live gate failed: {} critical item(s) failing", s.critical_failing),
    };
    let _ = writeln!(out, "## InfraSage readiness: {verdict}\n");
    let _ = writeln!(
        out,
        "{} items: {} pass, {} fail, {} error, {} skipped.\n",
        s.total, s.pass, s.fail, s.error, s.skipped
    );
    let _ = writeln!(out, "| Category | Item | Severity | Status | Findings |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (category, items) in by_category(report) {
        for c in items {
            let id = if c.doc.is_empty() { code(&c.id) } else { format!("[{}]({})", code(&c.id), link_target(&c.doc)) };
            let _ = writeln!(
                out,
                "| {} | {id} | {} | {} {} | {} |",
                text(&heading(category)),
                c.severity.as_str(),
                icon(c.status),
                c.status,
                c.findings_total
            );
        }
    }
    let failing: Vec<_> = report.checks.iter().filter(|c| c.status.is_failing()).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n### What to fix\n");
    }
    for c in failing {
        let _ = writeln!(out, "**{}** ({}) — {}", code(&c.id), c.severity.as_str(), text(&c.title));
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "> {}", text(r));
        }
        for f in &c.findings {
            let _ = writeln!(out, "- {}: {}", code(&f.object), text(&f.message));
        }
        if more_findings(c) > 0 {
            let _ = writeln!(out, "- … and {} more", more_findings(c));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{code, text};

    #[test]
    fn html_and_markup_from_input_stay_text() {
        let t = text("<img src=x onerror=alert(1)>_password [x](javascript:y) *b* a|b");
        assert!(!t.contains('<') && !t.contains('>'), "{t}");
        assert!(t.starts_with("&lt;img src=x onerror=alert(1)&gt;\\_password"), "{t}");
        assert!(t.contains("\\[x\\](javascript:y)") && t.contains("\\*b\\*") && t.contains("a\\|b"), "{t}");
        assert_eq!(text("# not a heading"), "\\# not a heading");
    }

    #[test]
    fn code_spans_cannot_be_closed_from_inside() {
        assert_eq!(code("ConfigMap/ns/name"), "`ConfigMap/ns/name`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x``"), "``` `x`` ```");
        assert_eq!(code("a|b"), "`a\\|b`");
    }
}
