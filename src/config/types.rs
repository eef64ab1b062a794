//! The typed config tree. Unknown keys are refused everywhere (`deny_unknown_fields`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use crate::catalogue::Severity;

fn default_listen() -> String {
    "0.0.0.0:9745".to_string()
}
fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
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

impl Config {
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Connections open at once; at the cap the one idle the longest is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: HumanDuration,
}

fn default_max_connections() -> usize {
    512
}

fn default_header_read_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { max_connections: default_max_connections(), header_read_timeout: default_header_read_timeout() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
    /// Rendered manifests (files or folders) to read instead of a live cluster.
    #[serde(default)]
    pub manifests: Vec<PathBuf>,
    #[serde(default = "default_namespaces")]
    pub namespaces: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Component → label selector `key=value,...`; defaults are `app.kubernetes.io/name=<name>`.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Caps on what the manifest loader reads: a file (or stdin) larger than this is refused.
    #[serde(default = "default_max_manifest_bytes")]
    pub max_manifest_bytes: u64,
    /// Caps the nesting of one manifest document (mappings and sequences).
    #[serde(default = "default_max_manifest_depth")]
    pub max_manifest_depth: usize,
}

fn default_max_manifest_bytes() -> u64 {
    16 * 1024 * 1024
}

fn default_max_manifest_depth() -> usize {
    100
}

fn default_namespaces() -> Vec<String> {
    vec!["infrasage".to_string()]
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("empty kubernetes config deserializes")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowDeny {
    pub allow: Option<String>,
    pub deny: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub client_id: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub sasl: Option<SaslConfig>,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub topics: AllowDeny,
    #[serde(default)]
    pub consumer_groups: AllowDeny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    pub mechanism: String,
    pub username: String,
    pub password_file: Option<PathBuf>,
    /// Only from the environment.
    pub password: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickhouseConfig {
    pub url: String,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Only from the environment.
    pub password: Option<SecretString>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    pub gateway: Option<ServiceEndpoint>,
    pub aiops: Option<ServiceEndpoint>,
    pub ml: Option<ServiceEndpoint>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEndpoint {
    pub url: String,
    pub tls: Option<TlsConfig>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    pub url: String,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenHttpSourceConfig {
    pub url: String,
    pub token_file: Option<PathBuf>,
    /// Only from the environment.
    pub token: Option<SecretString>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
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

/// A duration written as `60s`, `26h`, `90d` (or a number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a duration like 60s, 26h or 90d"))? {
            Raw::Secs(s) if Duration::from_secs(s) <= super::MAX_DURATION => Ok(HumanDuration(Duration::from_secs(s))),
            Raw::Secs(s) => Err(serde::de::Error::custom(format!("{s} seconds is longer than 100 years"))),
            Raw::Text(t) => super::parse_duration(&t).map(HumanDuration).map_err(serde::de::Error::custom),
        }
    }
}

/// A secret given through the environment. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(pub String);

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The environment layer may have parsed a numeric secret into a number.
        let v = serde_json::Value::deserialize(d)?;
        let s = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return Err(serde::de::Error::custom("expected a string")),
        };
        // Known to the redactor from the moment it is read.
        crate::redact::register(&s);
        Ok(SecretString(s))
    }
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
