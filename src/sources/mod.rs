//! One module per outside system. Each turns the world into a typed snapshot part, with its
//! own timeout, and never decides pass/fail. Sources are registered by name in [`build`].

pub mod clickhouse;
pub mod http;
pub mod kafka;
pub mod kube_api;
pub mod kube_config;
pub mod manifests;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::RequestKey;
use crate::snapshot::kubernetes::KubeKind;
use crate::snapshot::{Snapshot, SourceData, SourceState};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a source brings back: its data plus anything worth telling the operator that did not
/// stop it (a malformed manifest document, an unknown field).
#[derive(Debug)]
pub struct Gathered {
    pub data: SourceData,
    pub warnings: Vec<String>,
}

pub trait Source: Send + Sync {
    fn id(&self) -> SourceId;
    fn timeout(&self) -> Duration;
    /// One read of the world. An error is the reason every item of this source shows.
    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>>;
}

/// The sources to run for this config, and the state of the ones that will not run.
pub struct SourceSet {
    pub active: Vec<Box<dyn Source>>,
    /// Sources with an interval of their own.
    pub intervals: BTreeMap<SourceId, std::time::Duration>,
    pub idle: BTreeMap<SourceId, SourceState<()>>,
}

/// An error with every cause below it, once each: clients say "client error (Connect)" at the
/// top and what broke (refused, unknown issuer, DNS) further down.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// What the sources read for the planned items, derived by the plan from what each item
/// declares: no source names an item.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub kube: KubeNeeds,
    pub clickhouse: clickhouse::ClickhouseNeeds,
    /// PromQL queries asked of Prometheus.
    pub promql: Vec<String>,
    /// Extra requests per HTTP source, named as in `custom_checks[].request.source`
    /// (`infrasage_api`, `grafana`, `services.gateway` ...).
    pub requests: BTreeMap<String, Vec<RequestKey>>,
}

impl Needs {
    pub fn requests_of(&self, source: &str) -> Vec<RequestKey> {
        self.requests.get(source).cloned().unwrap_or_default()
    }
}

/// The kinds to list, and the env variable whose Secret is read by name (None: no Secret).
#[derive(Debug, Clone, Default)]
pub struct KubeNeeds {
    pub kinds: BTreeSet<KubeKind>,
    pub secret_env: Option<String>,
}

/// A source built for a config: None when the config does not name it.
type Built = Result<Option<Box<dyn Source>>, String>;

/// One row of [`SOURCES`].
struct SourceRow {
    id: SourceId,
    /// Its section in the config.
    key: &'static str,
    /// `manifests` is the command line's `--manifests`, for the Kubernetes row.
    build: fn(config: &Config, needs: &Needs, manifests: &[PathBuf]) -> Built,
    /// Whether an absent source is reported as `not_configured` (Kubernetes absent is silent).
    reported_when_absent: bool,
    /// Its own families for `/metrics`, from its part of the snapshot.
    metrics: Option<fn(&Snapshot, &mut String)>,
}

fn boxed<S: Source + 'static>(source: Option<S>) -> Built {
    Ok(source.map(|s| Box::new(s) as Box<dyn Source>))
}

/// The sources, one row each: a new source is its module and a row here. (In this order
/// `/metrics` shows their families.)
static SOURCES: &[SourceRow] = &[
    SourceRow {
        id: SourceId::Kubernetes,
        key: "kubernetes",
        build: kubernetes,
        reported_when_absent: false,
        metrics: None,
    },
    SourceRow {
        id: SourceId::Services,
        key: "services",
        build: |c, n, _| boxed(http::services::ServicesSource::new(c, n)?),
        reported_when_absent: true,
        metrics: Some(|s, out| crate::exposition::append_families(&http::metrics::families(s), out)),
    },
    SourceRow {
        id: SourceId::Prometheus,
        key: "prometheus",
        build: |c, n, _| boxed(http::prometheus::PrometheusSource::new(c, n)?),
        reported_when_absent: true,
        metrics: None,
    },
    SourceRow {
        id: SourceId::Alertmanager,
        key: "alertmanager",
        build: |c, n, _| boxed(http::alertmanager::AlertmanagerSource::new(c, n)?),
        reported_when_absent: true,
        metrics: None,
    },
    SourceRow {
        id: SourceId::Grafana,
        key: "grafana",
        build: |c, n, _| boxed(http::grafana::GrafanaSource::new(c, n)?),
        reported_when_absent: true,
        metrics: None,
    },
    SourceRow {
        id: SourceId::InfrasageApi,
        key: "infrasage_api",
        build: |c, n, _| boxed(http::api::ApiSource::new(c, n)?),
        reported_when_absent: true,
        metrics: None,
    },
    SourceRow {
        id: SourceId::Clickhouse,
        key: "clickhouse",
        build: |c, n, _| {
            let new = |ch| clickhouse::ClickhouseSource::new(ch, n.clickhouse.clone());
            boxed(c.clickhouse.as_ref().map(new).transpose()?)
        },
        reported_when_absent: true,
        metrics: Some(|s, out| {
            if let Some(ch) = s.clickhouse.ready() {
                crate::exposition::append_families(&clickhouse::metrics::families(ch), out);
            }
        }),
    },
    SourceRow {
        id: SourceId::Kafka,
        key: "kafka",
        build: |c, _, _| boxed(c.kafka.as_ref().map(kafka::KafkaSource::new).transpose()?),
        reported_when_absent: true,
        metrics: Some(|s, out| {
            if let Some(k) = s.kafka.ready() {
                kafka::metrics::render(k, out);
            }
        }),
    },
];

/// Every source's own families, from this evaluation's snapshot.
pub fn render_metrics(snapshot: &Snapshot, out: &mut String) {
    for render in SOURCES.iter().filter_map(|row| row.metrics) {
        render(snapshot, out);
    }
}

/// Rendered manifests (the command line's, else the config's) replace the live API.
fn kubernetes(config: &Config, needs: &Needs, manifests: &[PathBuf]) -> Built {
    let kube = config.kubernetes.as_ref();
    let paths: Vec<PathBuf> = match manifests.is_empty() {
        true => kube.map(|k| k.manifests.clone()).unwrap_or_default(),
        false => manifests.to_vec(),
    };
    if !paths.is_empty() {
        let k = kube.cloned().unwrap_or_default();
        return boxed(Some(manifests::ManifestSource::new(paths, &k)?));
    }
    boxed(kube.map(|k| kube_api::KubeApiSource::new(k, needs.kube.clone())))
}

/// Builds the sources the config asks for. `manifests` (from the command line) replaces the
/// live Kubernetes API with rendered files.
pub fn build(config: &Config, needs: &Needs, manifests: &[PathBuf]) -> Result<SourceSet, String> {
    register_secret_files(config);
    let mut set = SourceSet { active: Vec::new(), intervals: BTreeMap::new(), idle: BTreeMap::new() };
    let sections = config.sections();
    for row in SOURCES {
        match (row.build)(config, needs, manifests)? {
            Some(source) => {
                let own = sections.iter().find(|(key, _)| *key == row.key).and_then(|(_, s)| s.interval());
                if let Some(interval) = own {
                    set.intervals.insert(row.id, interval);
                }
                set.active.push(source);
            }
            None if row.reported_when_absent => {
                set.idle.insert(row.id, SourceState::NotConfigured);
            }
            None => {}
        }
    }
    Ok(set)
}

/// The contents of the secret files are known to the redactor before any source runs (tokens
/// are registered again at each request, as their files are re-read there; secrets from the
/// environment are registered as the config is read).
fn register_secret_files(config: &Config) {
    for (_, section) in config.sections() {
        for path in section.secret_files() {
            if let Ok(bytes) = std::fs::read(path) {
                crate::redact::register_bytes(&bytes);
            }
        }
    }
}
