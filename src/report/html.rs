//! The exporter's `/` page: every item grouped by category with its status, findings and doc
//! link, and the state of each source. Plain HTML, no scripts.

use std::fmt::Write;

use super::{by_category, heading, more_findings};
use crate::outcome::Status;
use crate::results::{GateVerdict, Report};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;\
text-align:left;vertical-align:top}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}.error{color:#9a6700;\
font-weight:bold}.skipped{color:#777}ul{margin:.2em 0;padding-left:1.2em}small{color:#666}code{font-size:90%}";

fn link(href: &str, text: &str) -> String {
    if href.starts_with("https://") || href.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
    } else {
        escape(text)
    }
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>InfraSage readiness</title><style>{STYLE}</style></head><body>"
    );
    let gate = match s.gate {
        GateVerdict::Pass => "<span class=\"pass\">go-live gate: pass</span>".to_string(),
        GateVerdict::Fail => {
            format!("<span class=\"fail\">go-live gate: fail ({} critical failing)</span>", s.critical_failing)
        }
    };
    let _ = write!(
        out,
        "<h1>InfraSage readiness</h1><p>{gate} · {} items: {} pass, {} fail, {} error, {} skipped · evaluated {}</p>\
         <p><small><a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/checks\">/api/v1/checks</a></small></p>",
        s.total,
        s.pass,
        s.fail,
        s.error,
        s.skipped,
        escape(&report.evaluated_at.to_rfc3339())
    );
    for (category, items) in by_category(report) {
        let _ = write!(
            out,
            "<h2 id=\"{}\">{}</h2><table><tr><th>Status</th><th>Item</th><th>Severity</th><th>Evidence</th></tr>",
            escape(category),
            escape(&heading(category))
        );
        for c in items {
            let class = c.status.as_str();
            let _ = write!(
                out,
                "<tr><td class=\"{class}\">{class}</td><td>{}<br><small><code>{}</code></small></td><td>{}</td><td>",
                link(&c.doc, &c.title),
                escape(&c.id),
                c.severity.as_str()
            );
            if let Some(r) = &c.reason {
                if c.findings.is_empty() || c.status != Status::Fail {
                    let _ = write!(out, "{}", escape(r));
                }
            }
            if !c.findings.is_empty() {
                out.push_str("<ul>");
                for f in &c.findings {
                    let _ = write!(out, "<li><code>{}</code>: {}</li>", escape(&f.object), escape(&f.message));
                }
                if more_findings(c) > 0 {
                    let _ = write!(out, "<li>… and {} more</li>", more_findings(c));
                }
                out.push_str("</ul>");
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Sources</h2><table><tr><th>Source</th><th>State</th><th>Took</th><th>Detail</th></tr>");
    for src in &report.sources {
        let took = src.duration_seconds.map(|d| format!("{:.3} s", d)).unwrap_or_default();
        let mut detail = src.error.as_deref().map(escape).unwrap_or_default();
        for w in &src.warnings {
            let _ = write!(detail, "<br>{}", escape(w));
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{took}</td><td>{detail}</td></tr>",
            escape(&src.source),
            escape(&src.state)
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
