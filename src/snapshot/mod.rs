//! The typed, read-only picture of the world that sources fill and checks read.
//! Plain data, no clients: checks import these types, never a source module.

pub mod clickhouse;
pub mod clickhouse_storage;
pub mod http;
pub mod kafka;
pub mod kube_env;
pub mod kube_query;
pub mod kubernetes;

use std::sync::Arc;

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

/// One table of the sources that gather data (shared: a source's latest data serves every
/// evaluation until it gathers again): each row is the field of [`Snapshot`], the
/// accessor checks call, the variant of [`SourceData`], its [`SourceId`] and its data type. A new
/// source is one row here.
macro_rules! snapshot_parts {
    ($($field:ident, $accessor:ident, $variant:ident, $ty:ty;)*) => {
        /// One data set from one source.
        #[derive(Debug, Clone)]
        pub enum SourceData {
            $($variant(Arc<$ty>),)*
        }

        /// Everything one evaluation knows: one field per source, each with why it may be missing.
        #[derive(Debug, Clone, Default)]
        pub struct Snapshot {
            $(pub $field: SourceState<Arc<$ty>>,)*
        }

        impl Snapshot {
            $(
                pub fn $accessor(&self) -> Result<&$ty, Undecided> {
                    self.$field.get(SourceId::$variant).map(|data| &**data)
                }
            )*

            /// Records a source's data.
            pub fn insert(&mut self, data: SourceData) {
                match data {
                    $(SourceData::$variant(d) => self.$field = SourceState::Ready(d),)*
                }
            }

            /// Records a source that could not be gathered (`state` is never `Ready`).
            pub fn set_state(&mut self, source: SourceId, state: SourceState<()>) {
                match source {
                    $(SourceId::$variant => self.$field = state.lift(),)*
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }

            /// Whether a source's data is present, or why not, without borrowing its type.
            pub fn source_status(&self, source: SourceId) -> Result<(), Undecided> {
                match source {
                    $(SourceId::$variant => self.$accessor().map(|_| ()),)*
                    #[allow(unreachable_patterns)]
                    _ => Ok(()),
                }
            }
        }
    };
}

snapshot_parts! {
    kubernetes, kube, Kubernetes, KubeSnapshot;
    kafka, kafka, Kafka, KafkaSnapshot;
    clickhouse, clickhouse, Clickhouse, ClickhouseSnapshot;
    services, services, Services, ServicesSnapshot;
    prometheus, prometheus, Prometheus, PrometheusSnapshot;
    alertmanager, alertmanager, Alertmanager, AlertmanagerSnapshot;
    grafana, grafana, Grafana, GrafanaSnapshot;
    infrasage_api, infrasage_api, InfrasageApi, ApiSnapshot;
}

impl SourceState<()> {
    /// A state without data as the state of a source of any type.
    fn lift<T>(&self) -> SourceState<T> {
        match self {
            SourceState::Unavailable(w) => SourceState::Unavailable(w.clone()),
            SourceState::Failed(w) => SourceState::Failed(w.clone()),
            SourceState::NotConfigured | SourceState::Ready(()) => SourceState::NotConfigured,
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
