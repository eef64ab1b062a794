//! The result of one evaluation: what every output (metrics, JSON, HTML, CLI reports) renders.
//! The JSON shape is public: `check --output json` and `/api/v1/checks` both emit [`Report`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Automation, Severity, SourceId};
use crate::outcome::{Finding, Status};
use crate::snapshot::Snapshot;

/// Findings kept per item in outputs; `findings_total` keeps the full count.
pub const MAX_FINDINGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub status: Status,
    pub title: String,
    pub doc: String,
    pub automation: Automation,
    pub findings: Vec<Finding>,
    pub findings_total: usize,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    /// `ok`, `failed`, `not_configured` or `unavailable`.
    pub state: String,
    pub duration_seconds: Option<f64>,
    pub last_success: Option<DateTime<Utc>>,
    pub error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl SourceReport {
    /// Whether the source was asked this time (and so has an `up` value).
    pub fn was_gathered(&self) -> bool {
        self.state == "ok" || self.state == "failed"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
    /// Critical items that fail or error: what makes the go-live gate fail.
    pub critical_failing: usize,
    pub gate: GateVerdict,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateVerdict {
    #[default]
    Pass,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub checks: Vec<CheckReport>,
    pub summary: Summary,
    pub sources: Vec<SourceReport>,
    pub evaluated_at: DateTime<Utc>,
    pub duration_seconds: f64,
}

/// One evaluation: the report, and the snapshot it was decided on, from which `/metrics`
/// renders the sources' own families (Kafka lag, ClickHouse disks) without asking a source.
/// Reads as its report.
pub struct Evaluation {
    pub report: Report,
    pub snapshot: Snapshot,
}

impl std::ops::Deref for Evaluation {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.report
    }
}

/// When each source last gathered successfully. Outside the engine, so an engine built for a
/// new config can carry it on.
#[derive(Debug, Default)]
pub struct SourceHistory(Mutex<History>);

#[derive(Debug, Default)]
struct History {
    last_success: BTreeMap<SourceId, DateTime<Utc>>,
    failing: std::collections::BTreeSet<SourceId>,
}

impl SourceHistory {
    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a success; true when the source was failing until now.
    pub fn succeeded(&self, source: SourceId, at: DateTime<Utc>) -> bool {
        let mut h = self.lock();
        h.last_success.insert(source, at);
        h.failing.remove(&source)
    }

    /// Records a failure; true when the source was not failing until now.
    pub fn failed(&self, source: SourceId) -> bool {
        self.lock().failing.insert(source)
    }

    pub fn last_success(&self, source: SourceId) -> Option<DateTime<Utc>> {
        self.lock().last_success.get(&source).copied()
    }
}

impl Summary {
    pub fn of(checks: &[CheckReport]) -> Summary {
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        let critical_failing = checks
            .iter()
            .filter(|c| c.severity == Severity::Critical && matches!(c.status, Status::Fail | Status::Error))
            .count();
        Summary {
            total: checks.len(),
            pass: count(Status::Pass),
            fail: count(Status::Fail),
            error: count(Status::Error),
            skipped: count(Status::Skipped),
            critical_failing,
            gate: if critical_failing == 0 { GateVerdict::Pass } else { GateVerdict::Fail },
        }
    }
}
