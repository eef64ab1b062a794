//! The result of one evaluation: what every output (metrics, JSON, HTML, CLI reports) renders.
//! The JSON shape is public: `check --output json` and `/api/v1/checks` both emit [`Report`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Automation, Severity};
use crate::outcome::{Finding, Status};

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
    /// The sources' own families (Kafka lag, ClickHouse disks, service health) as exposition
    /// text, built from this evaluation's snapshot so `/metrics` never asks a source. Not part
    /// of the JSON.
    #[serde(skip)]
    pub source_metrics: String,
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
