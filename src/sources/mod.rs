//! One module per outside system. Each turns the world into a typed snapshot part, with its
//! own timeout, and never decides pass/fail. Sources are registered by name in [`build`].

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

/// The kinds the enabled items read, and the env variable whose Secret `jwt_secret_strong`
/// reads by name (None when that item is disabled).
pub fn kube_needs(config: &Config) -> (BTreeSet<KubeKind>, Option<String>) {
    let enabled = |id: &str| config.checks.get(id).and_then(|o| o.enabled) != Some(false);
    let kinds = crate::checks::REGISTRY
        .iter()
        .filter(|(id, _, _)| enabled(id))
        .flat_map(|(_, _, kinds)| kinds.iter().copied())
        .collect();
    let secret_env = enabled("jwt_secret_strong").then(|| {
        config
            .checks
            .get("jwt_secret_strong")
            .and_then(|o| o.params.get("env_name"))
            .and_then(|v| v.as_str())
            .unwrap_or("JWT_SECRET")
            .to_string()
    });
    (kinds, secret_env)
}

/// Builds the sources the config asks for. `manifests` (from the command line) replaces the
/// live Kubernetes API with rendered files.
pub fn build(config: &Config, manifests: &[PathBuf]) -> Result<SourceSet, String> {
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
        let (kinds, secret_env) = kube_needs(config);
        set.active.push(Box::new(kube_api::KubeApiSource::new(k, kinds, secret_env)));
    }
    let later = |configured: bool| {
        if configured {
            SourceState::Unavailable("not gathered by this build".to_string())
        } else {
            SourceState::NotConfigured
        }
    };
    match &config.kafka {
        Some(k) => set.active.push(Box::new(kafka::KafkaSource::new(k)?)),
        None => drop(set.idle.insert(SourceId::Kafka, SourceState::NotConfigured)),
    }
    set.idle.insert(SourceId::Clickhouse, later(config.clickhouse.is_some()));
    set.idle.insert(
        SourceId::Services,
        later(config.services.as_ref().is_some_and(|s| s.gateway.is_some() || s.aiops.is_some() || s.ml.is_some())),
    );
    set.idle.insert(SourceId::Prometheus, later(config.prometheus.is_some()));
    set.idle.insert(SourceId::Alertmanager, later(config.alertmanager.is_some()));
    set.idle.insert(SourceId::Grafana, later(config.grafana.is_some()));
    set.idle.insert(SourceId::InfrasageApi, later(config.infrasage_api.is_some()));
    Ok(set)
}
