//! The verdict of one item: a status plus the evidence that explains it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
    Skipped,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Pass, Status::Fail, Status::Error, Status::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }

    /// What the gate and the reports count against readiness: a fail or an undecided error.
    pub fn is_failing(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One offending object and why it offends, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub object: String,
    pub message: String,
}

impl Finding {
    pub fn new(object: impl Into<String>, message: impl Into<String>) -> Self {
        Finding { object: object.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// Why the status is what it is, in one line (always set for skipped/error).
    pub reason: Option<String>,
    pub findings: Vec<Finding>,
}

impl Outcome {
    pub fn pass(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Pass, reason: Some(reason.into()), findings: Vec::new() }
    }

    pub fn fail(reason: impl Into<String>, findings: Vec<Finding>) -> Self {
        Outcome { status: Status::Fail, reason: Some(reason.into()), findings }
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Error, reason: Some(reason.into()), findings: Vec::new() }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Skipped, reason: Some(reason.into()), findings: Vec::new() }
    }

    /// The common shape of a rule: no findings passes, any finding fails.
    pub fn from_findings(findings: Vec<Finding>, pass_reason: impl Into<String>) -> Self {
        if findings.is_empty() {
            Outcome::pass(pass_reason)
        } else {
            let n = findings.len();
            let reason = if n == 1 {
                findings[0].message.clone()
            } else {
                format!("{n} findings; first: {}", findings[0].message)
            };
            Outcome::fail(reason, findings)
        }
    }
}

impl Outcome {
    /// A rule where some objects could not be judged: any finding fails (the undecided ones
    /// named in the reason); with none, undecided objects make it an `error` listing them,
    /// never a pass.
    pub fn from_findings_or_undecided(
        findings: Vec<Finding>,
        undecided: Vec<Finding>,
        pass_reason: impl Into<String>,
    ) -> Self {
        if !findings.is_empty() {
            let mut o = Outcome::from_findings(findings, "");
            if !undecided.is_empty() {
                o.reason = o.reason.map(|r| format!("{r} ({} more could not be decided)", undecided.len()));
            }
            return o;
        }
        match undecided.len() {
            0 => Outcome::pass(pass_reason),
            1 => Outcome { status: Status::Error, reason: Some(undecided[0].message.clone()), findings: undecided },
            n => Outcome {
                status: Status::Error,
                reason: Some(format!("{n} objects could not be decided; first: {}", undecided[0].message)),
                findings: undecided,
            },
        }
    }
}

/// Why an item could not be decided: its evidence is missing (`skipped`) or broken (`error`).
/// Checks return it through `?` from the snapshot accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecided {
    pub status: Status,
    pub reason: String,
}

impl Undecided {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Undecided { status: Status::Skipped, reason: reason.into() }
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Undecided { status: Status::Error, reason: reason.into() }
    }
}

impl From<Undecided> for Outcome {
    fn from(u: Undecided) -> Self {
        Outcome { status: u.status, reason: Some(u.reason), findings: Vec::new() }
    }
}

pub type CheckResult = Result<Outcome, Undecided>;
