//! What the HTTP sources read: InfraSage `/health`, Prometheus, Alertmanager, Grafana and the
//! InfraSage admin API.

/// `/health` of each configured InfraSage service.
#[derive(Debug, Clone, Default)]
pub struct ServicesSnapshot {}

/// Targets, rules and query answers from the Prometheus HTTP API.
#[derive(Debug, Clone, Default)]
pub struct PrometheusSnapshot {}

/// The Alertmanager routing tree and receivers.
#[derive(Debug, Clone, Default)]
pub struct AlertmanagerSnapshot {}

/// Dashboards found through Grafana's search API.
#[derive(Debug, Clone, Default)]
pub struct GrafanaSnapshot {}

/// Answers of the InfraSage admin API.
#[derive(Debug, Clone, Default)]
pub struct ApiSnapshot {}
