//! Every metric family the exporter serves, rendered once per evaluation into the text
//! exposition format; scrapes are then served from memory and never touch a source.
//! Conventions of kube-state-metrics: StateSets, `_info` series, base units, no aggregates.

use prometheus::{GaugeVec, Opts, Registry, TextEncoder};

use crate::outcome::Status;
use crate::results::{Evaluation, Report};
use crate::snapshot::Snapshot;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("GIT_REVISION");

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("metric definitions are valid");
    registry.register(Box::new(g.clone())).expect("each family is registered once");
    g
}

/// The families each source's data exposes (Kafka lag, ClickHouse disks, service health) as
/// exposition text, built once per evaluation by the sources' own modules.
pub fn source_text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    crate::sources::render_metrics(snapshot, &mut out);
    // Topic, group, disk and database names and service versions are the sources' words, and
    // a hostile source may answer with a credential it was sent: masked here, as log lines are.
    let mut out = crate::redact::scrub_owned(out);
    // Grown by doubling: up to twice the text otherwise, held until the next evaluation.
    out.shrink_to_fit();
    out
}

/// The whole `/metrics` body for one evaluation.
pub fn render(evaluation: &Evaluation) -> String {
    render_with(&evaluation.report, source_text(&evaluation.snapshot))
}

fn build_info(r: &Registry) {
    gauge(
        r,
        "infrasage_readiness_build_info",
        "Version and revision of the exporter; always 1.",
        &["version", "revision"],
    )
    .with_label_values(&[VERSION, REVISION])
    .set(1.0);
}

/// The config's reload state, named as Prometheus names its own.
pub fn render_reload(successful: bool, success_at_seconds: f64) -> String {
    let r = Registry::new();
    gauge(&r, "infrasage_readiness_config_last_reload_successful", "Whether the last config reload succeeded.", &[])
        .with_label_values::<&str>(&[])
        .set(if successful { 1.0 } else { 0.0 });
    gauge(
        &r,
        "infrasage_readiness_config_last_reload_success_timestamp_seconds",
        "Unix time of the last successful config load (the start counts).",
        &[],
    )
    .with_label_values::<&str>(&[])
    .set(success_at_seconds);
    TextEncoder::new().encode_to_string(&r.gather()).expect("text encoding into memory cannot fail")
}

/// The process' own families (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// open fds …), read now.
pub fn render_process() -> String {
    use prometheus::core::Collector;
    let families = prometheus::process_collector::ProcessCollector::for_self().collect();
    TextEncoder::new().encode_to_string(&families).unwrap_or_default()
}

/// `/metrics` before the first evaluation is published: the exporter is up and says what it
/// is; the items appear once decided (node_exporter and blackbox_exporter always answer).
pub fn render_starting() -> String {
    let r = Registry::new();
    build_info(&r);
    TextEncoder::new().encode_to_string(&r.gather()).expect("text encoding into memory cannot fail")
}

/// [`render`] with the sources' text already built: the body is built in that buffer, so a
/// large source text is never held twice.
pub fn render_with(report: &Report, mut sources: String) -> String {
    let r = Registry::new();
    let status = gauge(
        &r,
        "infrasage_readiness_check_status",
        "Readiness item status as a StateSet: the series of the current status is 1, the others 0.",
        &["check", "category", "severity", "status"],
    );
    let info = gauge(
        &r,
        "infrasage_readiness_check_info",
        "Static facts about a readiness item; always 1.",
        &["check", "category", "severity", "automation", "title", "doc"],
    );
    let findings = gauge(
        &r,
        "infrasage_readiness_check_findings",
        "Number of offending objects found by a readiness item.",
        &["check"],
    );
    for c in &report.checks {
        for s in Status::ALL {
            status.with_label_values(&[&c.id, &c.category, c.severity.as_str(), s.as_str()]).set(if c.status == s {
                1.0
            } else {
                0.0
            });
        }
        info.with_label_values(&[&c.id, &c.category, c.severity.as_str(), c.automation.as_str(), &c.title, &c.doc])
            .set(1.0);
        findings.with_label_values(&[&c.id]).set(c.findings_total as f64);
    }

    let up = gauge(&r, "infrasage_readiness_source_up", "Whether the last gather of a source succeeded.", &["source"]);
    let duration = gauge(
        &r,
        "infrasage_readiness_source_duration_seconds",
        "How long the last gather of a source took.",
        &["source"],
    );
    let last_success = gauge(
        &r,
        "infrasage_readiness_source_last_success_timestamp_seconds",
        "Unix time of the last successful gather of a source.",
        &["source"],
    );
    let warnings = gauge(
        &r,
        "infrasage_readiness_source_warnings",
        "Problems in the last gather that did not stop it (e.g. malformed manifest documents).",
        &["source"],
    );
    for s in report.sources.iter().filter(|s| s.was_gathered()) {
        up.with_label_values(&[&s.source]).set(if s.state == "ok" { 1.0 } else { 0.0 });
        if let Some(d) = s.duration_seconds {
            duration.with_label_values(&[&s.source]).set(d);
        }
        if let Some(t) = s.last_success {
            last_success.with_label_values(&[&s.source]).set(t.timestamp_millis() as f64 / 1000.0);
        }
        warnings.with_label_values(&[&s.source]).set(s.warnings.len() as f64);
    }

    gauge(
        &r,
        "infrasage_readiness_last_evaluation_timestamp_seconds",
        "Unix time the last evaluation was published.",
        &[],
    )
    .with_label_values::<&str>(&[])
    .set(report.evaluated_at.timestamp_millis() as f64 / 1000.0);
    gauge(&r, "infrasage_readiness_evaluation_duration_seconds", "How long the last evaluation took.", &[])
        .with_label_values::<&str>(&[])
        .set(report.duration_seconds);
    build_info(&r);

    let own = TextEncoder::new().encode_to_string(&r.gather()).expect("text encoding into memory cannot fail");
    // The readiness families first, as always; a shift of the source text within its buffer.
    sources.insert_str(0, &own);
    sources
}
