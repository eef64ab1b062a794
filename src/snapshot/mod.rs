//! The typed, read-only picture of the world that sources fill and checks read.
//! Plain data, no clients: checks import these types, never a source module.

pub mod clickhouse;
pub mod clickhouse_storage;
pub mod http;
pub mod kafka;
pub mod kube_env;
pub mod kube_query;
pub mod kubernetes;

use chrono::{DateTime, Utc};

use crate::catalogue::SourceId;
use crate::outcome::Undecided;

pub use clickhouse::ClickhouseSnapshot;
pub use http::{AlertmanagerSnapshot, ApiSnapshot, GrafanaSnapshot, PrometheusSnapshot, ServicesSnapshot};
pub use kafka::KafkaSnapshot;
pub use kube_query::{Component, EnvValue, Workload};
pub use kubernetes::{KubeScope, KubeSnapshot, SecretObject};

/// What became of one source in one evaluation.
#[derive(Debug, Clone, Default)]
pub enum SourceState<T> {
    /// The config does not name the source.
    #[default]
    NotConfigured,
    /// Configured, but this build or this run has no loader for it.
    Unavailable(String),
    /// The source was asked and failed; the reason names what broke.
    Failed(String),
    Ready(T),
}

impl<T> SourceState<T> {
    /// The data, or why the items that need it cannot be decided.
    pub fn get(&self, source: SourceId) -> Result<&T, Undecided> {
        match self {
            SourceState::Ready(t) => Ok(t),
            SourceState::NotConfigured => Err(Undecided::skipped(format!("{} is not configured", source.as_str()))),
            SourceState::Unavailable(why) => Err(Undecided::skipped(format!("{}: {why}", source.as_str()))),
            SourceState::Failed(why) => Err(Undecided::error(format!("{} failed: {why}", source.as_str()))),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, SourceState::Ready(_))
    }

    pub fn ready(&self) -> Option<&T> {
        match self {
            SourceState::Ready(t) => Some(t),
            _ => None,
        }
    }
}

/// One data set from one source; a new source adds a variant and a field of [`Snapshot`].
#[derive(Debug, Clone)]
pub enum SourceData {
    Kubernetes(Box<KubeSnapshot>),
    Kafka(Box<KafkaSnapshot>),
    Clickhouse(Box<ClickhouseSnapshot>),
    Services(Box<ServicesSnapshot>),
    Prometheus(Box<PrometheusSnapshot>),
    Alertmanager(Box<AlertmanagerSnapshot>),
    Grafana(Box<GrafanaSnapshot>),
    InfrasageApi(Box<ApiSnapshot>),
}

/// Everything one evaluation knows: one field per source, each with why it may be missing.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub kubernetes: SourceState<KubeSnapshot>,
    pub kafka: SourceState<KafkaSnapshot>,
    pub clickhouse: SourceState<ClickhouseSnapshot>,
    pub services: SourceState<ServicesSnapshot>,
    pub prometheus: SourceState<PrometheusSnapshot>,
    pub alertmanager: SourceState<AlertmanagerSnapshot>,
    pub grafana: SourceState<GrafanaSnapshot>,
    pub infrasage_api: SourceState<ApiSnapshot>,
}

impl Snapshot {
    pub fn kube(&self) -> Result<&KubeSnapshot, Undecided> {
        self.kubernetes.get(SourceId::Kubernetes)
    }

    pub fn kafka(&self) -> Result<&KafkaSnapshot, Undecided> {
        self.kafka.get(SourceId::Kafka)
    }

    pub fn clickhouse(&self) -> Result<&ClickhouseSnapshot, Undecided> {
        self.clickhouse.get(SourceId::Clickhouse)
    }

    pub fn services(&self) -> Result<&ServicesSnapshot, Undecided> {
        self.services.get(SourceId::Services)
    }

    pub fn prometheus(&self) -> Result<&PrometheusSnapshot, Undecided> {
        self.prometheus.get(SourceId::Prometheus)
    }

    pub fn alertmanager(&self) -> Result<&AlertmanagerSnapshot, Undecided> {
        self.alertmanager.get(SourceId::Alertmanager)
    }

    pub fn grafana(&self) -> Result<&GrafanaSnapshot, Undecided> {
        self.grafana.get(SourceId::Grafana)
    }

    pub fn infrasage_api(&self) -> Result<&ApiSnapshot, Undecided> {
        self.infrasage_api.get(SourceId::InfrasageApi)
    }

    /// Records a source's data.
    pub fn insert(&mut self, data: SourceData) {
        match data {
            SourceData::Kubernetes(d) => self.kubernetes = SourceState::Ready(*d),
            SourceData::Kafka(d) => self.kafka = SourceState::Ready(*d),
            SourceData::Clickhouse(d) => self.clickhouse = SourceState::Ready(*d),
            SourceData::Services(d) => self.services = SourceState::Ready(*d),
            SourceData::Prometheus(d) => self.prometheus = SourceState::Ready(*d),
            SourceData::Alertmanager(d) => self.alertmanager = SourceState::Ready(*d),
            SourceData::Grafana(d) => self.grafana = SourceState::Ready(*d),
            SourceData::InfrasageApi(d) => self.infrasage_api = SourceState::Ready(*d),
        }
    }

    /// Records a source that could not be gathered (`state` is never `Ready`).
    pub fn set_state(&mut self, source: SourceId, state: SourceState<()>) {
        fn lift<T>(s: &SourceState<()>) -> SourceState<T> {
            match s {
                SourceState::Unavailable(w) => SourceState::Unavailable(w.clone()),
                SourceState::Failed(w) => SourceState::Failed(w.clone()),
                SourceState::NotConfigured | SourceState::Ready(()) => SourceState::NotConfigured,
            }
        }
        match source {
            SourceId::Kubernetes => self.kubernetes = lift(&state),
            SourceId::Kafka => self.kafka = lift(&state),
            SourceId::Clickhouse => self.clickhouse = lift(&state),
            SourceId::Services => self.services = lift(&state),
            SourceId::Prometheus => self.prometheus = lift(&state),
            SourceId::Alertmanager => self.alertmanager = lift(&state),
            SourceId::Grafana => self.grafana = lift(&state),
            SourceId::InfrasageApi => self.infrasage_api = lift(&state),
            SourceId::Attestation => {}
        }
    }

    /// Whether a source's data is present, or why not, without borrowing its type.
    pub fn source_status(&self, source: SourceId) -> Result<(), Undecided> {
        match source {
            SourceId::Kubernetes => self.kube().map(|_| ()),
            SourceId::Kafka => self.kafka().map(|_| ()),
            SourceId::Clickhouse => self.clickhouse().map(|_| ()),
            SourceId::Services => self.services().map(|_| ()),
            SourceId::Prometheus => self.prometheus().map(|_| ()),
            SourceId::Alertmanager => self.alertmanager().map(|_| ()),
            SourceId::Grafana => self.grafana().map(|_| ()),
            SourceId::InfrasageApi => self.infrasage_api().map(|_| ()),
            SourceId::Attestation => Ok(()),
        }
    }
}

/// The moment an evaluation is decided at; checks take the clock from here, never the system.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
}

impl Snapshot {
    /// The planned-request answers of an HTTP source named as in `custom_checks[].request.source`
    /// (`infrasage_api`, `prometheus`, `alertmanager`, `grafana`, `services.<name>`).
    pub fn answers(&self, source: &str) -> Result<&http::Answers, Undecided> {
        match source {
            "infrasage_api" => Ok(&self.infrasage_api()?.answers),
            "prometheus" => Ok(&self.prometheus()?.answers),
            "alertmanager" => Ok(&self.alertmanager()?.answers),
            "grafana" => Ok(&self.grafana()?.answers),
            _ => match source.strip_prefix("services.") {
                Some(name) => self
                    .services()?
                    .services
                    .get(name)
                    .map(|p| &p.answers)
                    .ok_or_else(|| Undecided::skipped(format!("{source} is not configured"))),
                None => Err(Undecided::error(format!("{source} is not an HTTP source"))),
            },
        }
    }
}
