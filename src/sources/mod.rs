//! One module per outside system. Each turns the world into a typed snapshot part, with its
//! own timeout, and never decides pass/fail. Sources are registered by name in [`build`].

pub mod clickhouse;
pub mod http;
pub mod kafka;
pub mod kube_api;
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
use crate::snapshot::{SourceData, SourceState};

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

/// Builds the sources the config asks for. `manifests` (from the command line) replaces the
/// live Kubernetes API with rendered files.
pub fn build(config: &Config, needs: &Needs, manifests: &[PathBuf]) -> Result<SourceSet, String> {
    register_secret_files(config);
    let mut set = SourceSet { active: Vec::new(), idle: BTreeMap::new() };
    let kube = config.kubernetes.clone();
    let manifest_paths: Vec<PathBuf> = if manifests.is_empty() {
        kube.as_ref().map(|k| k.manifests.clone()).unwrap_or_default()
    } else {
        manifests.to_vec()
    };
    if !manifest_paths.is_empty() {
        let k = kube.unwrap_or_default();
        set.active.push(Box::new(manifests::ManifestSource::new(manifest_paths, &k)?));
    } else if let Some(k) = &kube {
        set.active.push(Box::new(kube_api::KubeApiSource::new(k, needs.kube.clone())));
    }
    match &config.kafka {
        Some(k) => set.active.push(Box::new(kafka::KafkaSource::new(k)?)),
        None => {
            set.idle.insert(SourceId::Kafka, SourceState::NotConfigured);
        }
    }
    match &config.clickhouse {
        Some(ch) => set.active.push(Box::new(clickhouse::ClickhouseSource::new(ch, needs.clickhouse.clone())?)),
        None => {
            set.idle.insert(SourceId::Clickhouse, SourceState::NotConfigured);
        }
    }
    push_http(&mut set, SourceId::Services, http::services::ServicesSource::new(config, needs)?);
    push_http(&mut set, SourceId::Prometheus, http::prometheus::PrometheusSource::new(config, needs)?);
    push_http(&mut set, SourceId::Alertmanager, http::alertmanager::AlertmanagerSource::new(config, needs)?);
    push_http(&mut set, SourceId::Grafana, http::grafana::GrafanaSource::new(config, needs)?);
    push_http(&mut set, SourceId::InfrasageApi, http::api::ApiSource::new(config, needs)?);
    Ok(set)
}

/// The contents of the secret files are known to the redactor before any source runs (tokens
/// are registered again at each request, as their files are re-read there; secrets from the
/// environment are registered as the config is read).
fn register_secret_files(config: &Config) {
    let kafka = config.kafka.as_ref().and_then(|k| k.sasl.as_ref());
    let files = [
        kafka.and_then(|s| s.password_file.as_ref()),
        config.clickhouse.as_ref().and_then(|c| c.password_file.as_ref()),
        config.grafana.as_ref().and_then(|g| g.token_file.as_ref()),
        config.infrasage_api.as_ref().and_then(|a| a.token_file.as_ref()),
    ];
    for path in files.into_iter().flatten() {
        if let Ok(bytes) = std::fs::read(path) {
            crate::redact::register_bytes(&bytes);
        }
    }
}

/// An HTTP source runs when configured; otherwise its items are skipped as not configured.
fn push_http<S: Source + 'static>(set: &mut SourceSet, id: SourceId, source: Option<S>) {
    match source {
        Some(s) => set.active.push(Box::new(s)),
        None => {
            set.idle.insert(id, SourceState::NotConfigured);
        }
    }
}
