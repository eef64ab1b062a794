//! Kubernetes from the live API server: lists only the kinds that enabled items read, in the
//! namespaces in scope (cluster-scoped kinds cluster-wide), page by page, a few requests at a
//! time, and relists on every evaluation (see the closing note of the live-Kubernetes issue
//! for why relisting beats a watch-fed cache here). A 403 on one kind leaves the others
//! intact: that kind is recorded as unreadable and only the items reading it error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use tokio::sync::{OnceCell, Semaphore};

use super::{BoxFuture, Gathered, Source};
use crate::catalogue::SourceId;
use crate::config::{component_selectors, KubernetesConfig};
use crate::snapshot::kubernetes::{KubeKind, KubeOrigin, KubeScope, SecretBytes};
use crate::snapshot::{Component, EnvValue, KubeSnapshot, SecretObject, SourceData};

/// Objects per list page.
pub const PAGE_SIZE: u32 = 500;
/// List requests in flight at once.
const CONCURRENCY: usize = 4;

pub struct KubeApiSource {
    settings: Arc<Settings>,
    client: Arc<OnceCell<Client>>,
}

struct Settings {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    in_cluster: bool,
    scope: KubeScope,
    kinds: BTreeSet<KubeKind>,
    /// The env variable whose Secret is read by name, when an item reads one.
    secret_env: Option<String>,
    timeout: Duration,
}

impl KubeApiSource {
    pub fn new(k: &KubernetesConfig, needs: super::KubeNeeds) -> Self {
        let super::KubeNeeds { kinds, secret_env } = needs;
        let settings = Settings {
            kubeconfig: k.kubeconfig.clone(),
            context: k.context.clone(),
            in_cluster: k.in_cluster,
            scope: KubeScope { namespaces: k.namespaces.clone(), components: component_selectors(k) },
            kinds,
            secret_env,
            timeout: k.timeout.0,
        };
        KubeApiSource { settings: Arc::new(settings), client: Arc::new(OnceCell::new()) }
    }
}

impl Source for KubeApiSource {
    fn id(&self) -> SourceId {
        SourceId::Kubernetes
    }
    fn timeout(&self) -> Duration {
        self.settings.timeout
    }
    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let client = self.client.get_or_try_init(|| connect(&self.settings)).await?.clone();
            load(client, &self.settings).await
        })
    }
}

async fn connect(s: &Settings) -> Result<Client, String> {
    let options = KubeConfigOptions { context: s.context.clone(), ..Default::default() };
    let mut config = if s.in_cluster {
        kube::Config::incluster().map_err(|e| chain("in-cluster config", &e))?
    } else if let Some(path) = &s.kubeconfig {
        let kc = Kubeconfig::read_from(path).map_err(|e| chain("kubeconfig", &e))?;
        kube::Config::from_custom_kubeconfig(kc, &options).await.map_err(|e| chain("kubeconfig", &e))?
    } else if s.context.is_some() {
        kube::Config::from_kubeconfig(&options).await.map_err(|e| chain("kubeconfig", &e))?
    } else {
        kube::Config::infer().await.map_err(|e| chain("kubernetes config", &e))?
    };
    // One slow request must not eat the whole source timeout alone.
    config.connect_timeout = Some(s.timeout);
    config.read_timeout = Some(s.timeout);
    Client::try_from(config).map_err(|e| chain("kubernetes client", &e))
}

/// What failed, with the whole error chain (see [`super::error_chain`]).
pub fn chain(what: &str, e: &(dyn std::error::Error + 'static)) -> String {
    format!("{what}: {}", super::error_chain(e))
}

/// What one list request brought back.
enum Listed {
    Objects(Box<dyn FnOnce(&mut KubeSnapshot) + Send>),
    /// Forbidden or not served: only the items reading this kind are affected.
    Unreadable(KubeKind, String),
}

async fn load(client: Client, s: &Settings) -> Result<Gathered, String> {
    let limiter = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for &kind in s.kinds.iter().filter(|k| **k != KubeKind::Secret) {
        let scopes: Vec<Option<String>> =
            if kind.namespaced() { s.scope.namespaces.iter().cloned().map(Some).collect() } else { vec![None] };
        for ns in scopes {
            let (client, limiter) = (client.clone(), Arc::clone(&limiter));
            tasks.spawn(async move {
                let _permit = limiter.acquire_owned().await.expect("the semaphore is never closed");
                list_kind(client, kind, ns).await
            });
        }
    }
    let mut snap = KubeSnapshot { origin: KubeOrigin::Live, scope: s.scope.clone(), ..Default::default() };
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| format!("list task failed: {e}"))?? {
            Listed::Objects(add) => add(&mut snap),
            Listed::Unreadable(kind, why) => {
                snap.unreadable.entry(kind.resource().to_string()).or_insert(why);
            }
        }
    }
    if let Some(env) = &s.secret_env {
        read_referenced_secrets(&client, &mut snap, env).await?;
    }
    Ok(Gathered { data: SourceData::Kubernetes(std::sync::Arc::new(snap)), warnings: Vec::new() })
}

async fn list_kind(client: Client, kind: KubeKind, ns: Option<String>) -> Result<Listed, String> {
    macro_rules! list {
        ($ty:ty, $field:ident) => {
            list!($ty, $field, |_| {})
        };
        ($ty:ty, $field:ident, $trim:expr) => {{
            let api: Api<$ty> = match &ns {
                Some(ns) => Api::namespaced(client, ns),
                None => Api::all(client),
            };
            list!(@run api, $field, $trim)
        }};
        (@cluster $ty:ty, $field:ident) => {{
            let api: Api<$ty> = Api::all(client);
            list!(@run api, $field, |_| {})
        }};
        (@run $api:ident, $field:ident, $trim:expr) => {{
            match list_all(&$api, $trim).await {
                Ok(items) => Listed::Objects(Box::new(move |snap: &mut KubeSnapshot| snap.$field.extend(items))),
                Err(e) => unreadable_or_fail(kind, ns.as_deref(), e)?,
            }
        }};
    }
    Ok(match kind {
        KubeKind::Deployment => list!(Deployment, deployments),
        KubeKind::StatefulSet => list!(StatefulSet, stateful_sets),
        KubeKind::DaemonSet => list!(DaemonSet, daemon_sets),
        KubeKind::CronJob => list!(CronJob, cron_jobs),
        KubeKind::Job => list!(Job, jobs),
        // A pod's status (conditions, container statuses) is read by no item: the workloads'
        // statuses say what is available.
        KubeKind::Pod => list!(Pod, pods, |p: &mut Pod| p.status = None),
        KubeKind::Service => list!(Service, services),
        KubeKind::Ingress => list!(Ingress, ingresses),
        KubeKind::NetworkPolicy => list!(NetworkPolicy, network_policies),
        KubeKind::PodDisruptionBudget => list!(PodDisruptionBudget, pod_disruption_budgets),
        KubeKind::HorizontalPodAutoscaler => list!(HorizontalPodAutoscaler, horizontal_pod_autoscalers),
        KubeKind::PersistentVolumeClaim => list!(PersistentVolumeClaim, persistent_volume_claims),
        KubeKind::PersistentVolume => list!(@cluster PersistentVolume, persistent_volumes),
        KubeKind::StorageClass => list!(@cluster StorageClass, storage_classes),
        KubeKind::ConfigMap => list!(ConfigMap, config_maps),
        KubeKind::Secret => unreachable!("Secrets are read by name only"),
    })
}

/// Every page of a list (`limit` + `continue`), each object trimmed to what the items read as
/// its page arrives.
async fn list_all<K>(api: &Api<K>, trim: fn(&mut K)) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    let mut params = ListParams::default().limit(PAGE_SIZE);
    let mut out = Vec::new();
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items.into_iter().map(|o| {
            let mut o = slim(o);
            trim(&mut o);
            o
        }));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}

/// What no item reads and the API server adds to every object, often more than the object:
/// the field managers' records and `kubectl apply`'s copy of the whole manifest. Dropped as
/// each page arrives, so a large namespace costs what the items read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn slim<K: kube::Resource>(mut object: K) -> K {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
        if a.is_empty() {
            meta.annotations = None;
        }
    }
    object
}

/// A 403 or 404 affects one kind; anything else (unreachable, timeouts, 5xx) fails the source.
fn unreadable_or_fail(kind: KubeKind, ns: Option<&str>, e: kube::Error) -> Result<Listed, String> {
    let place = ns.map(|n| format!(" in namespace {n}")).unwrap_or_default();
    match &e {
        kube::Error::Api(status) if status.is_forbidden() || status.code == 403 => {
            Ok(Listed::Unreadable(kind, format!("forbidden: list {}{place}", kind.resource())))
        }
        kube::Error::Api(status) if status.is_not_found() || status.code == 404 => {
            Ok(Listed::Unreadable(kind, format!("{} is not served by this API server", kind.resource())))
        }
        // Every request would fail the same way: say what to fix rather than "Unauthorized".
        kube::Error::Api(status) if status.code == 401 => Err(format!(
            "unauthorized: the API server rejected the credentials (an expired, revoked or wrong token?) when listing {}{place}",
            kind.resource()
        )),
        _ => Err(chain(&format!("list {}{place}", kind.resource()), &e)),
    }
}

/// Gets, by name, the Secrets that feed `env` in the InfraSage service workloads, so RBAC can
/// grant exactly those (`resourceNames`). Forbidden → recorded; the item says skipped.
async fn read_referenced_secrets(client: &Client, snap: &mut KubeSnapshot, env: &str) -> Result<(), String> {
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for c in Component::SERVICES {
        for w in snap.component_workloads(c) {
            for (container, _) in w.containers() {
                if let Some(EnvValue::Secret { name, .. }) = snap.resolve_env(w.namespace(), container).get(env) {
                    wanted.insert((w.namespace().to_string(), name.clone()));
                }
                for from in container.env_from.iter().flatten() {
                    if let Some(r) = &from.secret_ref {
                        wanted.insert((w.namespace().to_string(), r.name.clone()));
                    }
                }
            }
        }
    }
    let mut found = BTreeMap::new();
    for (ns, name) in wanted {
        let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
        match api.get_opt(&name).await {
            Ok(Some(secret)) => {
                found.insert((ns, name), secret_object(secret));
            }
            Ok(None) => {}
            Err(kube::Error::Api(status)) if status.code == 403 => {
                snap.unreadable
                    .entry("secrets".to_string())
                    .or_insert_with(|| format!("forbidden: get secrets/{name} in namespace {ns}"));
            }
            Err(e) => return Err(chain(&format!("get secrets/{name} in namespace {ns}"), &e)),
        }
    }
    snap.secrets.extend(found.into_values());
    Ok(())
}

fn secret_object(s: Secret) -> SecretObject {
    SecretObject {
        namespace: s.metadata.namespace.unwrap_or_default(),
        name: s.metadata.name.unwrap_or_default(),
        data: s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, SecretBytes(v.0))).collect(),
    }
}
