//! The human report of `check --output table`: grouped by category, findings indented under
//! their item, a doc link for anything failing, and one summary line.

use std::fmt::Write;

use super::{by_category, heading, more_findings, printable};
use crate::results::{GateVerdict, Report};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for (category, items) in by_category(report) {
        let _ = writeln!(out, "{}", printable(&heading(category)).to_uppercase());
        for c in items {
            let status = c.status.as_str().to_uppercase();
            let _ =
                writeln!(out, "  {status:<7} {:<width$}  {:<8}  {}", c.id, c.severity.as_str(), printable(&c.title));
            if let Some(reason) = c.reason.as_deref().filter(|_| c.findings.is_empty() || !c.status.is_failing()) {
                let _ = writeln!(out, "          {}", printable(reason));
            }
            for f in &c.findings {
                let _ = writeln!(out, "          - {}: {}", printable(&f.object), printable(&f.message));
            }
            if more_findings(c) > 0 {
                let _ = writeln!(out, "          ... and {} more", more_findings(c));
            }
            if c.status.is_failing() && !c.doc.is_empty() {
                let _ = writeln!(out, "          doc: {}", c.doc);
            }
        }
        out.push('\n');
    }
    let s = &report.summary;
    let gate = match s.gate {
        GateVerdict::Pass => "go-live gate: PASS".to_string(),
        GateVerdict::Fail => format!("go-live gate: FAIL ({} critical item(s) failing)", s.critical_failing),
    };
    let _ = writeln!(
        out,
        "{} items: {} pass, {} fail, {} error, {} skipped. {gate}",
        s.total, s.pass, s.fail, s.error, s.skipped
    );
    for src in report.sources.iter().filter(|s| s.state == "failed" || !s.warnings.is_empty()) {
        if let Some(e) = &src.error {
            let _ = writeln!(out, "source {} failed: {}", src.source, printable(e));
        }
        for w in &src.warnings {
            let _ = writeln!(out, "source {} warning: {}", src.source, printable(w));
        }
    }
    out
}
