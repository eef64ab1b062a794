//! Kubernetes objects as one snapshot, filled either from rendered manifests or the live API.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;

/// What the exporter was told to look at: the namespaces and how each component is recognised.
#[derive(Debug, Clone)]
pub struct KubeScope {
    pub namespaces: Vec<String>,
    /// Component name (gateway, aiops, ...) → label selector (`key=value,...`) and fallback name.
    pub components: BTreeMap<String, ComponentSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSelector {
    pub labels: BTreeMap<String, String>,
    /// The workload name to fall back on where no labels match.
    pub name: String,
}

impl ComponentSelector {
    pub fn app_name(name: &str) -> Self {
        ComponentSelector {
            labels: BTreeMap::from([("app.kubernetes.io/name".to_string(), name.to_string())]),
            name: name.to_string(),
        }
    }
}

impl Default for KubeScope {
    fn default() -> Self {
        KubeScope { namespaces: vec!["infrasage".to_string()], components: default_components() }
    }
}

/// The default selectors of CATALOGUE.md.
pub fn default_components() -> BTreeMap<String, ComponentSelector> {
    [
        ("gateway", "ingestion-gateway"),
        ("aiops", "aiops-engine"),
        ("ml", "ml-service"),
        ("admin_ui", "admin-ui"),
        ("clickhouse", "clickhouse"),
        ("kafka", "kafka"),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_string(), ComponentSelector::app_name(n)))
    .collect()
}

/// Bytes that must never be printed. Debug shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// A Secret reduced to what the checks may read; values stay in memory and never print.
#[derive(Debug, Clone)]
pub struct SecretObject {
    pub namespace: String,
    pub name: String,
    pub data: BTreeMap<String, SecretBytes>,
}

/// An object of a kind no item reads: named so an item that meets one can say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl UnreadObject {
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

/// The kinds the checks read. The spelling of [`KubeKind::resource`] is the key of
/// [`KubeSnapshot::unreadable`] and of the RBAC rules in `deploy/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KubeKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
    Job,
    Pod,
    Service,
    Ingress,
    NetworkPolicy,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    PersistentVolumeClaim,
    PersistentVolume,
    StorageClass,
    ConfigMap,
    Secret,
}

/// Everything that runs pods: what [`KubeSnapshot::workloads`] reads.
pub const WORKLOAD_KINDS: &[KubeKind] = &[
    KubeKind::Deployment,
    KubeKind::StatefulSet,
    KubeKind::DaemonSet,
    KubeKind::CronJob,
    KubeKind::Job,
    KubeKind::Pod,
];

impl KubeKind {
    pub const ALL: [KubeKind; 16] = [
        KubeKind::Deployment,
        KubeKind::StatefulSet,
        KubeKind::DaemonSet,
        KubeKind::CronJob,
        KubeKind::Job,
        KubeKind::Pod,
        KubeKind::Service,
        KubeKind::Ingress,
        KubeKind::NetworkPolicy,
        KubeKind::PodDisruptionBudget,
        KubeKind::HorizontalPodAutoscaler,
        KubeKind::PersistentVolumeClaim,
        KubeKind::PersistentVolume,
        KubeKind::StorageClass,
        KubeKind::ConfigMap,
        KubeKind::Secret,
    ];

    /// The API group ("" for the core group).
    pub fn group(self) -> &'static str {
        match self {
            KubeKind::Deployment | KubeKind::StatefulSet | KubeKind::DaemonSet => "apps",
            KubeKind::CronJob | KubeKind::Job => "batch",
            KubeKind::Ingress | KubeKind::NetworkPolicy => "networking.k8s.io",
            KubeKind::PodDisruptionBudget => "policy",
            KubeKind::HorizontalPodAutoscaler => "autoscaling",
            KubeKind::StorageClass => "storage.k8s.io",
            _ => "",
        }
    }

    /// The plural resource name, as RBAC and the API paths spell it.
    pub fn resource(self) -> &'static str {
        match self {
            KubeKind::Deployment => "deployments",
            KubeKind::StatefulSet => "statefulsets",
            KubeKind::DaemonSet => "daemonsets",
            KubeKind::CronJob => "cronjobs",
            KubeKind::Job => "jobs",
            KubeKind::Pod => "pods",
            KubeKind::Service => "services",
            KubeKind::Ingress => "ingresses",
            KubeKind::NetworkPolicy => "networkpolicies",
            KubeKind::PodDisruptionBudget => "poddisruptionbudgets",
            KubeKind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            KubeKind::PersistentVolumeClaim => "persistentvolumeclaims",
            KubeKind::PersistentVolume => "persistentvolumes",
            KubeKind::StorageClass => "storageclasses",
            KubeKind::ConfigMap => "configmaps",
            KubeKind::Secret => "secrets",
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, KubeKind::PersistentVolume | KubeKind::StorageClass)
    }
}

/// Where the objects came from. Status fields exist only on a live cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KubeOrigin {
    #[default]
    Manifests,
    Live,
}

#[derive(Debug, Clone, Default)]
pub struct KubeSnapshot {
    pub origin: KubeOrigin,
    pub scope: KubeScope,
    pub namespaces: Vec<Namespace>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub cron_jobs: Vec<CronJob>,
    pub jobs: Vec<Job>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    pub network_policies: Vec<NetworkPolicy>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub horizontal_pod_autoscalers: Vec<HorizontalPodAutoscaler>,
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    pub persistent_volumes: Vec<PersistentVolume>,
    pub storage_classes: Vec<StorageClass>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<SecretObject>,
    /// Objects of kinds no item reads, seen in manifests (a live cluster is not asked for them).
    pub unread: Vec<UnreadObject>,
    /// Resources (`KubeKind::resource`) the loader could not read, e.g. forbidden, with the
    /// reason; items needing them are `error` with it.
    pub unreadable: BTreeMap<String, String>,
    /// Where the workloads in scope are, found on first use by `workloads()`. The snapshot is
    /// read-only once gathered; a clone starts without it, so a test may edit a clone freely.
    pub workload_index: WorkloadIndex,
    /// Each component's workloads, as positions in the workload index, found on first use:
    /// items ask for them over and over.
    pub component_index: ComponentIndex,
}

#[derive(Debug, Default)]
pub struct WorkloadIndex(std::sync::OnceLock<Vec<(KubeKind, usize)>>);

impl WorkloadIndex {
    pub fn get_or_init(&self, f: impl FnOnce() -> Vec<(KubeKind, usize)>) -> &[(KubeKind, usize)] {
        self.0.get_or_init(f)
    }
}

impl Clone for WorkloadIndex {
    fn clone(&self) -> Self {
        WorkloadIndex::default()
    }
}

#[derive(Debug, Default)]
pub struct ComponentIndex(std::sync::OnceLock<BTreeMap<String, Vec<usize>>>);

impl ComponentIndex {
    pub fn get_or_init(&self, f: impl FnOnce() -> BTreeMap<String, Vec<usize>>) -> &BTreeMap<String, Vec<usize>> {
        self.0.get_or_init(f)
    }
}

impl Clone for ComponentIndex {
    fn clone(&self) -> Self {
        ComponentIndex::default()
    }
}
