//! Configuration: one YAML file, every key overridable from the environment.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct Attestation {
    pub by: String,
    pub at: DateTime<Utc>,
    pub evidence: Option<String>,
    pub expires_after: Duration,
}

/// `60s`, `26h`, `90d`, `1w`: humantime units.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("bad duration {s:?}: {e}"))
}
