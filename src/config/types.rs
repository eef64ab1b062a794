//! The typed config tree. Unknown keys are refused everywhere (`deny_unknown_fields`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

pub use super::primitives::{default_timeout, AllowDeny, HumanDuration, SecretString, TlsConfig};
pub use crate::sources::clickhouse::config::ClickhouseConfig;
pub use crate::sources::http::config::{HttpSourceConfig, ServiceEndpoint, ServicesConfig, TokenHttpSourceConfig};
pub use crate::sources::kafka::config::{KafkaConfig, SaslConfig};
pub use crate::sources::kube_config::KubernetesConfig;

use super::section::Section;
use crate::catalogue::Severity;

fn default_listen() -> String {
    "0.0.0.0:9745".to_string()
}
fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_doc_base() -> String {
    "https://docs.infrasage.io/production-readiness-checklist".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Base of the checklist documentation; each item links to its anchor under it.
    #[serde(default = "default_doc_base")]
    pub doc_base_url: String,
    /// Bounds on the exporter's own endpoint.
    #[serde(default)]
    pub web: WebConfig,
    pub kubernetes: Option<KubernetesConfig>,
    pub kafka: Option<KafkaConfig>,
    pub clickhouse: Option<ClickhouseConfig>,
    pub services: Option<ServicesConfig>,
    pub prometheus: Option<HttpSourceConfig>,
    pub alertmanager: Option<HttpSourceConfig>,
    pub grafana: Option<TokenHttpSourceConfig>,
    pub infrasage_api: Option<TokenHttpSourceConfig>,
    #[serde(default)]
    pub checks: BTreeMap<String, CheckOverride>,
    #[serde(default)]
    pub attestations: BTreeMap<String, Attestation>,
    #[serde(default)]
    pub custom_checks: Vec<CustomCheck>,
}

/// Keys that carry secret values, by section: allowed from the environment, refused in the file.
pub(super) const ENV_ONLY_SECRETS: &[(&str, &[&str])] = &[
    ("kafka", KafkaConfig::ENV_ONLY),
    ("clickhouse", ClickhouseConfig::ENV_ONLY),
    ("grafana", TokenHttpSourceConfig::ENV_ONLY),
    ("infrasage_api", TokenHttpSourceConfig::ENV_ONLY),
];

impl Config {
    /// The sections of the sources present in this config, by key, in the order refusals are
    /// reported. The one list of the config's sources: validation, relative paths and secret
    /// files go through it.
    pub fn sections(&self) -> Vec<(&'static str, &dyn Section)> {
        let mut out: Vec<(&'static str, &dyn Section)> = Vec::new();
        macro_rules! each {
            ($($field:ident),*) => {
                $(if let Some(s) = &self.$field { out.push((stringify!($field), s)); })*
            };
        }
        each!(kubernetes, kafka, clickhouse, services, prometheus, alertmanager, grafana, infrasage_api);
        out
    }

    pub fn sections_mut(&mut self) -> Vec<(&'static str, &mut dyn Section)> {
        let mut out: Vec<(&'static str, &mut dyn Section)> = Vec::new();
        macro_rules! each {
            ($($field:ident),*) => {
                $(if let Some(s) = &mut self.$field { out.push((stringify!($field), s)); })*
            };
        }
        each!(kubernetes, kafka, clickhouse, services, prometheus, alertmanager, grafana, infrasage_api);
        out
    }

    /// Whether a custom item's `request.source` names a configured HTTP source.
    pub fn http_source_configured(&self, source: &str) -> bool {
        match source {
            "prometheus" => self.prometheus.is_some(),
            "alertmanager" => self.alertmanager.is_some(),
            "grafana" => self.grafana.is_some(),
            "infrasage_api" => self.infrasage_api.is_some(),
            "services.gateway" => self.services.as_ref().is_some_and(|s| s.gateway.is_some()),
            "services.aiops" => self.services.as_ref().is_some_and(|s| s.aiops.is_some()),
            "services.ml" => self.services.as_ref().is_some_and(|s| s.ml.is_some()),
            _ => false,
        }
    }

    /// Whether an item (built-in or custom) runs: all do unless `checks.<id>.enabled: false`.
    pub fn enabled(&self, id: &str) -> bool {
        self.checks.get(id).and_then(|o| o.enabled) != Some(false)
    }
}

impl Default for Config {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("empty config deserializes")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Connections open at once; at the cap the one idle the longest is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: HumanDuration,
    /// `/health` and `/ready` answer without the basic auth of `--web.config.file`, for
    /// kubelet probes.
    #[serde(default)]
    pub open_probes: bool,
}

fn default_max_connections() -> usize {
    512
}

fn default_header_read_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
            open_probes: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOverride {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub by: String,
    #[serde(deserialize_with = "deserialize_instant")]
    pub at: DateTime<Utc>,
    pub evidence: Option<String>,
    #[serde(default = "default_attestation_validity")]
    pub expires_after: HumanDuration,
}

fn default_attestation_validity() -> HumanDuration {
    HumanDuration(Duration::from_secs(90 * 86_400))
}

impl Attestation {
    pub fn expires_at(&self) -> DateTime<Utc> {
        // Checked: an instant past what chrono holds means "never" rather than a panic.
        chrono::Duration::from_std(self.expires_after.0)
            .ok()
            .and_then(|d| self.at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomCheck {
    pub id: String,
    pub category: String,
    #[serde(default = "default_custom_severity")]
    pub severity: Severity,
    pub title: String,
    pub request: CustomRequest,
    pub expr: String,
}

fn default_custom_severity() -> Severity {
    Severity::Warning
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRequest {
    pub source: String,
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
}

fn default_method() -> String {
    "GET".to_string()
}

/// A date (`2026-10-01`, midnight UTC) or an RFC 3339 instant.
fn deserialize_instant<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_instant(&s).map_err(serde::de::Error::custom)
}

pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("expected a date like 2026-10-01 or an RFC 3339 time, got {s:?}"))
}
