//! `check --output junit`: one testsuite per category, one testcase per item, failures and
//! errors carrying their findings, so CI systems show each checklist line as a test.

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{by_category, printable};
use crate::outcome::Status;
use crate::results::Report;

pub fn render(report: &Report) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let s = &report.summary;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "infrasage-readiness"));
    root.push_attribute(("tests", s.total.to_string().as_str()));
    root.push_attribute(("failures", s.fail.to_string().as_str()));
    root.push_attribute(("errors", s.error.to_string().as_str()));
    root.push_attribute(("skipped", s.skipped.to_string().as_str()));
    root.push_attribute(("time", format!("{:.3}", report.duration_seconds).as_str()));
    root.push_attribute(("timestamp", report.evaluated_at.to_rfc3339().as_str()));
    let _ = w.write_event(Event::Decl(quick_xml::events::BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = w.write_event(Event::Start(root));
    for (category, items) in by_category(report) {
        let count = |st: Status| items.iter().filter(|c| c.status == st).count().to_string();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", category));
        suite.push_attribute(("tests", items.len().to_string().as_str()));
        suite.push_attribute(("failures", count(Status::Fail).as_str()));
        suite.push_attribute(("errors", count(Status::Error).as_str()));
        suite.push_attribute(("skipped", count(Status::Skipped).as_str()));
        let _ = w.write_event(Event::Start(suite));
        for c in items {
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("classname", format!("infrasage-readiness.{category}").as_str()));
            case.push_attribute(("name", c.id.as_str()));
            // XML 1.0 cannot carry control characters at all, escaped or not.
            let reason = printable(c.reason.as_deref().unwrap_or_default());
            let body = || {
                let mut text: Vec<String> =
                    c.findings.iter().map(|f| format!("{}: {}", printable(&f.object), printable(&f.message))).collect();
                if c.findings_total > c.findings.len() {
                    text.push(format!("... and {} more", c.findings_total - c.findings.len()));
                }
                if !c.doc.is_empty() {
                    text.push(format!("doc: {}", c.doc));
                }
                text.join("\n")
            };
            let child = match c.status {
                Status::Pass => None,
                Status::Fail => Some(("failure", body())),
                Status::Error => Some(("error", body())),
                Status::Skipped => Some(("skipped", String::new())),
            };
            match child {
                None => {
                    let _ = w.write_event(Event::Empty(case));
                }
                Some((tag, text)) => {
                    let _ = w.write_event(Event::Start(case));
                    let mut el = BytesStart::new(tag);
                    el.push_attribute(("message", reason.as_str()));
                    if tag != "skipped" {
                        el.push_attribute(("type", format!("{}/{}", c.severity.as_str(), c.status).as_str()));
                    }
                    if text.is_empty() {
                        let _ = w.write_event(Event::Empty(el));
                    } else {
                        let _ = w.write_event(Event::Start(el));
                        let _ = w.write_event(Event::Text(BytesText::new(&text)));
                        let _ = w.write_event(Event::End(BytesEnd::new(tag)));
                    }
                    let _ = w.write_event(Event::End(BytesEnd::new("testcase")));
                }
            }
        }
        let _ = w.write_event(Event::End(BytesEnd::new("testsuite")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8(w.into_inner()).expect("XML is UTF-8");
    out.push('\n');
    out
}
