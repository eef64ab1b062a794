//! What the HTTP sources read: InfraSage `/health`, Prometheus, Alertmanager, Grafana and the
//! InfraSage admin API. Beside its typed data, each source keeps the JSON answers of the extra
//! requests planned for CEL items (`"GET /path"` → answer or why there is none).

use std::collections::BTreeMap;

/// Planned request (`GET /api/v1/users`) → its JSON answer, or why it has none.
pub type Answers = BTreeMap<RequestKey, Result<serde_json::Value, String>>;

/// A request as an item's `request` param or a custom item names it and as its answer is kept:
/// the method (upper case; GET when not written) and the path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    pub method: String,
    pub path: String,
}

impl RequestKey {
    pub fn new(method: &str, path: &str) -> RequestKey {
        RequestKey { method: method.trim().to_ascii_uppercase(), path: path.trim().to_string() }
    }

    /// `"GET /path"`, or a bare path meaning GET.
    pub fn parse(text: &str) -> RequestKey {
        match text.trim().split_once(' ') {
            Some((m, p)) => RequestKey::new(m, p),
            None => RequestKey::new("GET", text),
        }
    }
}

impl From<&str> for RequestKey {
    fn from(text: &str) -> RequestKey {
        RequestKey::parse(text)
    }
}

impl std::fmt::Display for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// `/health` of each configured InfraSage service, by service name (`gateway`, `aiops`, `ml`).
#[derive(Debug, Clone, Default)]
pub struct ServicesSnapshot {
    pub services: BTreeMap<String, ServiceProbe>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceProbe {
    pub url: String,
    /// The HTTP status, when the service answered at all.
    pub status: Option<u16>,
    /// The body as JSON, or why it is not JSON.
    pub body: Option<Result<serde_json::Value, String>>,
    /// Why no answer came (connection refused, timeout, TLS refused, redirect refused).
    pub error: Option<String>,
    pub duration_seconds: f64,
    pub answers: Answers,
}

/// Longest service version shown; real ones are a few characters.
const VERSION_CHARS: usize = 64;

impl ServiceProbe {
    /// The `version` of a healthy-looking answer, for `infrasage_service_info` and the health
    /// items: the service's words, so an excerpt (one line, secrets masked, bounded).
    pub fn version(&self) -> Option<String> {
        let v = self.body.as_ref()?.as_ref().ok()?.get("version")?.as_str()?;
        Some(crate::redact::excerpt(v, VERSION_CHARS))
    }
}

/// Targets, rules and query answers from the Prometheus HTTP API.
#[derive(Debug, Clone, Default)]
pub struct PrometheusSnapshot {
    pub targets: Vec<ScrapeTarget>,
    pub rules: Vec<PromRule>,
    /// PromQL → the first sample's value (None when the result is empty), or the error.
    pub queries: BTreeMap<String, Result<Option<f64>, String>>,
    pub answers: Answers,
}

#[derive(Debug, Clone, Default)]
pub struct ScrapeTarget {
    pub job: String,
    pub instance: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    pub last_error: String,
}

#[derive(Debug, Clone, Default)]
pub struct PromRule {
    pub group: String,
    pub name: String,
    /// `alerting` or `recording`.
    pub kind: String,
    pub query: String,
}

/// The Alertmanager routing tree and receivers.
#[derive(Debug, Clone, Default)]
pub struct AlertmanagerSnapshot {
    pub route: Route,
    pub receivers: Vec<Receiver>,
    pub answers: Answers,
}

#[derive(Debug, Clone, Default)]
pub struct Route {
    /// None: inherited from the parent route.
    pub receiver: Option<String>,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

#[derive(Debug, Clone, Default)]
pub struct Receiver {
    pub name: String,
    /// Integration kinds configured on it (`pagerduty`, `email`, `webhook`…).
    pub integrations: Vec<String>,
}

/// Dashboards found through Grafana's search API.
#[derive(Debug, Clone, Default)]
pub struct GrafanaSnapshot {
    pub dashboards: Vec<Dashboard>,
    pub answers: Answers,
}

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub uid: String,
    pub title: String,
}

/// Answers of the InfraSage admin API.
#[derive(Debug, Clone, Default)]
pub struct ApiSnapshot {
    pub answers: Answers,
}
