//! `check --output markdown`: a pull-request comment. A verdict line, one table of every item,
//! then the findings of each failing item.

use std::fmt::Write;

use super::{by_category, heading, more_findings};
use crate::engine::is_failing;
use crate::outcome::Status;
use crate::results::{GateVerdict, Report};

/// Escapes what would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
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
            let id = if c.doc.is_empty() { format!("`{}`", c.id) } else { format!("[`{}`]({})", c.id, c.doc) };
            let _ = writeln!(
                out,
                "| {} | {id} | {} | {} {} | {} |",
                cell(&heading(category)),
                c.severity.as_str(),
                icon(c.status),
                c.status,
                c.findings_total
            );
        }
    }
    let failing: Vec<_> = report.checks.iter().filter(|c| is_failing(c.status)).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n### What to fix\n");
    }
    for c in failing {
        let _ = writeln!(out, "**`{}`** ({}) — {}", c.id, c.severity.as_str(), cell(&c.title));
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "> {}", cell(r));
        }
        for f in &c.findings {
            let _ = writeln!(out, "- `{}`: {}", f.object, cell(&f.message));
        }
        if more_findings(c) > 0 {
            let _ = writeln!(out, "- … and {} more", more_findings(c));
        }
        out.push('\n');
    }
    out
}
