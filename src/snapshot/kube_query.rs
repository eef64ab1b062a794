//! Read-only questions about a [`KubeSnapshot`], answered the way the cluster would answer
//! them: which workloads belong to a component, what a container's env resolves to, which
//! StorageClass a claim gets, which pods a selector picks.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaimSpec, PodSpec, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

pub use super::kube_env::{EnvValue, ResolvedEnv};
use super::kubernetes::{ComponentSelector, KubeKind, KubeOrigin, KubeSnapshot};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

/// The InfraSage components of CATALOGUE.md. The first four are the "service workloads".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Gateway,
    Aiops,
    Ml,
    AdminUi,
    Clickhouse,
    Kafka,
}

impl Component {
    pub const SERVICES: [Component; 4] = [Component::Gateway, Component::Aiops, Component::Ml, Component::AdminUi];

    pub fn key(self) -> &'static str {
        match self {
            Component::Gateway => "gateway",
            Component::Aiops => "aiops",
            Component::Ml => "ml",
            Component::AdminUi => "admin_ui",
            Component::Clickhouse => "clickhouse",
            Component::Kafka => "kafka",
        }
    }

    /// How messages name it.
    pub fn human(self) -> &'static str {
        match self {
            Component::Gateway => "ingestion gateway",
            Component::Aiops => "AIops engine",
            Component::Ml => "ML service",
            Component::AdminUi => "admin UI",
            Component::Clickhouse => "ClickHouse",
            Component::Kafka => "Kafka",
        }
    }

    pub fn parse(s: &str) -> Option<Component> {
        [
            Component::Gateway,
            Component::Aiops,
            Component::Ml,
            Component::AdminUi,
            Component::Clickhouse,
            Component::Kafka,
        ]
        .into_iter()
        .find(|c| c.key() == s)
    }
}

/// `Kind/namespace/name`, the way findings name objects.
pub fn object_ref(kind: &str, meta: &ObjectMeta) -> String {
    match &meta.namespace {
        Some(ns) => format!("{kind}/{ns}/{}", meta.name.as_deref().unwrap_or("")),
        None => format!("{kind}/{}", meta.name.as_deref().unwrap_or("")),
    }
}

pub fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

pub fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// Anything that runs pods, seen through its pod template.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    pub kind: &'static str,
    pub meta: &'a ObjectMeta,
    pub pod_labels: Option<&'a BTreeMap<String, String>>,
    pub pod_spec: Option<&'a PodSpec>,
    /// Desired replicas where the kind has them (defaults to 1 as the API server does).
    pub replicas: Option<i32>,
    /// Available replicas from status (live clusters only).
    pub available_replicas: Option<i32>,
    pub claim_templates: &'a [PersistentVolumeClaim],
}

impl<'a> Workload<'a> {
    pub fn object(&self) -> String {
        object_ref(self.kind, self.meta)
    }
    pub fn namespace(&self) -> &'a str {
        namespace_of(self.meta)
    }
    pub fn name(&self) -> &'a str {
        name_of(self.meta)
    }
    /// Init containers first, then containers, each tagged for findings.
    pub fn containers(&self) -> impl Iterator<Item = (&'a Container, bool)> {
        let spec = self.pod_spec;
        let init = spec.and_then(|s| s.init_containers.as_deref()).unwrap_or(&[]);
        let main = spec.map(|s| s.containers.as_slice()).unwrap_or(&[]);
        init.iter().map(|c| (c, true)).chain(main.iter().map(|c| (c, false)))
    }
    /// `Kind/ns/name container X` for findings about one container.
    pub fn container_ref(&self, c: &Container, init: bool) -> String {
        let what = if init { "init container" } else { "container" };
        format!("{} {what} {}", self.object(), c.name)
    }
    /// The pod volume of that name.
    pub fn pod_volume(&self, name: &str) -> Option<&'a k8s_openapi::api::core::v1::Volume> {
        self.pod_spec.and_then(|s| s.volumes.as_deref()).and_then(|vs| vs.iter().find(|v| v.name == name))
    }

    pub fn labels_empty() -> &'static BTreeMap<String, String> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(BTreeMap::new)
    }
    pub fn template_labels(&self) -> &'a BTreeMap<String, String> {
        self.pod_labels.unwrap_or_else(|| Workload::labels_empty())
    }
}

/// Whether a `matchLabels`/`matchExpressions` selector picks these labels. An empty selector
/// picks everything, as in NetworkPolicy and PDB semantics.
pub fn label_selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if let Some(ml) = &sel.match_labels {
        if !ml.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    for expr in sel.match_expressions.iter().flatten() {
        let have = labels.get(&expr.key);
        let values = expr.values.as_deref().unwrap_or(&[]);
        let ok = match expr.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => !have.is_some_and(|v| values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

/// A Service-style equality selector; an empty one selects nothing (as a Service does).
pub fn map_selector_matches(sel: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Values read from a cluster or manifests are masked from this length on: a real credential is
/// longer, and masking short weak ones (`infrasage`, `changeme`) everywhere would also mask the
/// namespace or object names the findings about them must show.
pub const MIN_MASKED_KUBE_VALUE: usize = 12;

/// Names that say a value is a credential (ConfigMap keys, env variables).
fn credential_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "apikey", "api_key", "credential", "private_key", "auth"]
        .iter()
        .any(|w| n.contains(w))
}

impl KubeSnapshot {
    /// Makes every Secret value, credential-named ConfigMap value and credential-named literal
    /// env value known to the redactor, so no error or log line can carry one.
    pub fn register_secrets(&self) {
        let reg = |v: &[u8]| {
            if v.trim_ascii().len() >= MIN_MASKED_KUBE_VALUE {
                crate::redact::register_bytes(v);
            }
        };
        for s in &self.secrets {
            s.data.values().for_each(|v| reg(&v.0));
        }
        for cm in &self.config_maps {
            for (k, v) in cm.data.iter().flatten() {
                if credential_like(k) {
                    reg(v.as_bytes());
                }
            }
        }
        for w in self.workloads() {
            for (c, _) in w.containers() {
                for e in c.env.iter().flatten() {
                    if let Some(v) = e.value.as_deref().filter(|_| credential_like(&e.name)) {
                        reg(v.as_bytes());
                    }
                }
            }
        }
    }

    pub fn in_scope(&self, namespace: &str) -> bool {
        self.scope.namespaces.iter().any(|n| n == namespace)
    }

    /// Every pod-running object in the namespaces in scope. Pods and Jobs created by a
    /// controller are left out: their owner is the workload. Found once per snapshot (every item
    /// walks them, and a cluster has 10,000s of pods), then rebuilt from positions.
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        self.workload_positions().iter().map(|&(kind, i)| self.workload_at(kind, i)).collect()
    }

    /// Where the workloads in scope are (kind, position in its list), found once.
    fn workload_positions(&self) -> &[(KubeKind, usize)] {
        self.workload_index.get_or_init(|| {
            let scope: std::collections::HashSet<&str> = self.scope.namespaces.iter().map(String::as_str).collect();
            let mut at = Vec::new();
            let counts = [
                (KubeKind::Deployment, self.deployments.len()),
                (KubeKind::StatefulSet, self.stateful_sets.len()),
                (KubeKind::DaemonSet, self.daemon_sets.len()),
                (KubeKind::CronJob, self.cron_jobs.len()),
                (KubeKind::Job, self.jobs.len()),
                (KubeKind::Pod, self.pods.len()),
            ];
            for (kind, n) in counts {
                for i in 0..n {
                    let w = self.workload_at(kind, i);
                    let owned = matches!(kind, KubeKind::Job | KubeKind::Pod) && has_owner(w.meta);
                    if !owned && !is_helm_test(w.meta) && scope.contains(w.namespace()) {
                        at.push((kind, i));
                    }
                }
            }
            at
        })
    }

    fn workload_at(&self, kind: KubeKind, i: usize) -> Workload<'_> {
        match kind {
            KubeKind::Deployment => {
                let d = &self.deployments[i];
                let spec = d.spec.as_ref();
                Workload {
                    kind: "Deployment",
                    meta: &d.metadata,
                    pod_labels: spec.and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.as_ref()),
                    pod_spec: spec.and_then(|s| s.template.spec.as_ref()),
                    replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
                    available_replicas: d.status.as_ref().map(|s| s.available_replicas.unwrap_or(0)),
                    claim_templates: &[],
                }
            }
            KubeKind::StatefulSet => {
                let s = &self.stateful_sets[i];
                let spec = s.spec.as_ref();
                Workload {
                    kind: "StatefulSet",
                    meta: &s.metadata,
                    pod_labels: spec.and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.as_ref()),
                    pod_spec: spec.and_then(|s| s.template.spec.as_ref()),
                    replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
                    available_replicas: s.status.as_ref().map(|s| s.available_replicas.unwrap_or(0)),
                    claim_templates: spec.and_then(|s| s.volume_claim_templates.as_deref()).unwrap_or(&[]),
                }
            }
            KubeKind::DaemonSet => {
                let d = &self.daemon_sets[i];
                let spec = d.spec.as_ref();
                Workload {
                    kind: "DaemonSet",
                    meta: &d.metadata,
                    pod_labels: spec.and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.as_ref()),
                    pod_spec: spec.and_then(|s| s.template.spec.as_ref()),
                    replicas: None,
                    available_replicas: d.status.as_ref().and_then(|s| s.number_available),
                    claim_templates: &[],
                }
            }
            KubeKind::CronJob => {
                let c = &self.cron_jobs[i];
                let tmpl = c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).map(|j| &j.template);
                Workload {
                    kind: "CronJob",
                    meta: &c.metadata,
                    pod_labels: tmpl.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref()),
                    pod_spec: tmpl.and_then(|t| t.spec.as_ref()),
                    replicas: None,
                    available_replicas: None,
                    claim_templates: &[],
                }
            }
            KubeKind::Job => {
                let j = &self.jobs[i];
                let tmpl = j.spec.as_ref().map(|s| &s.template);
                Workload {
                    kind: "Job",
                    meta: &j.metadata,
                    pod_labels: tmpl.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref()),
                    pod_spec: tmpl.and_then(|t| t.spec.as_ref()),
                    replicas: None,
                    available_replicas: None,
                    claim_templates: &[],
                }
            }
            KubeKind::Pod => {
                let p = &self.pods[i];
                Workload {
                    kind: "Pod",
                    meta: &p.metadata,
                    pod_labels: p.metadata.labels.as_ref(),
                    pod_spec: p.spec.as_ref(),
                    replicas: None,
                    available_replicas: None,
                    claim_templates: &[],
                }
            }
            other => unreachable!("{other:?} runs no pods: the index holds workload kinds only"),
        }
    }

    pub fn selector(&self, component: Component) -> Option<&ComponentSelector> {
        self.scope.components.get(component.key())
    }

    /// The workloads of a component: by label selector (object or pod template labels),
    /// falling back to the workload name where no workload carries the labels.
    pub fn component_workloads(&self, component: Component) -> Vec<Workload<'_>> {
        let index = self.component_index.get_or_init(|| {
            let all = self.workloads();
            let mut out = BTreeMap::new();
            for (key, sel) in &self.scope.components {
                let by_label: Vec<usize> = (0..all.len())
                    .filter(|&i| {
                        let w = &all[i];
                        !sel.labels.is_empty()
                            && (labels_match(&sel.labels, w.meta.labels.as_ref())
                                || labels_match(&sel.labels, w.pod_labels))
                    })
                    .collect();
                let found = match by_label.is_empty() {
                    false => by_label,
                    true => (0..all.len()).filter(|&i| name_matches(all[i].name(), &sel.name)).collect(),
                };
                out.insert(key.clone(), found);
            }
            out
        });
        let positions = self.workload_positions();
        let at = index.get(component.key()).map(Vec::as_slice).unwrap_or_default();
        at.iter().map(|&p| self.workload_at(positions[p].0, positions[p].1)).collect()
    }

    /// Services in scope that route to a component's pods, or carry its labels or name.
    pub fn component_services(&self, component: Component) -> Vec<&Service> {
        let workloads = self.component_workloads(component);
        let sel = self.selector(component);
        self.services
            .iter()
            .filter(|s| self.in_scope(namespace_of(&s.metadata)))
            .filter(|s| {
                let ns = namespace_of(&s.metadata);
                let routes = s.spec.as_ref().and_then(|sp| sp.selector.as_ref()).is_some_and(|selector| {
                    workloads.iter().any(|w| w.namespace() == ns && map_selector_matches(selector, w.template_labels()))
                });
                routes
                    || sel.is_some_and(|sel| {
                        (!sel.labels.is_empty() && labels_match(&sel.labels, s.metadata.labels.as_ref()))
                            || (workloads.is_empty() && name_matches(name_of(&s.metadata), &sel.name))
                    })
            })
            .collect()
    }

    /// Ingresses in the same namespace with a backend naming one of these Services.
    pub fn ingresses_to<'a>(&'a self, services: &[&Service]) -> Vec<&'a Ingress> {
        self.ingresses
            .iter()
            .filter(|ing| {
                let ns = namespace_of(&ing.metadata);
                ingress_backend_services(ing)
                    .iter()
                    .any(|b| services.iter().any(|s| namespace_of(&s.metadata) == ns && name_of(&s.metadata) == *b))
            })
            .collect()
    }

    pub fn config_map_value(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        self.config_maps
            .iter()
            .find(|c| namespace_of(&c.metadata) == namespace && name_of(&c.metadata) == name)
            .and_then(|c| c.data.as_ref())
            .and_then(|d| d.get(key).cloned())
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<&super::SecretObject> {
        self.secrets.iter().find(|s| s.namespace == namespace && s.name == name)
    }

    /// The StorageClass a claim gets, as the PV controller reads it: the beta annotation wins
    /// over `storageClassName`; `""` is no class; unset is the cluster default. What a set of
    /// files cannot know (a class or a default provided by the cluster) is `Unknown`.
    pub fn storage_class_for(&self, claim: &ObjectMeta, spec: Option<&PersistentVolumeClaimSpec>) -> ClassLookup<'_> {
        let annotated = claim.annotations.as_ref().and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"));
        let offline = self.origin == KubeOrigin::Manifests || self.unreadable.contains_key("storageclasses");
        match annotated.map(String::as_str).or_else(|| spec.and_then(|s| s.storage_class_name.as_deref())) {
            Some("") => ClassLookup::Refused(
                "no StorageClass (class \"\"): it binds at once to a pre-created PersistentVolume, wherever that is"
                    .to_string(),
            ),
            Some(name) => match self.storage_classes.iter().find(|c| name_of(&c.metadata) == name) {
                Some(c) => ClassLookup::Found(c),
                None if offline => ClassLookup::Unknown(format!(
                    "StorageClass {name} is not in the files: how it binds cannot be known offline"
                )),
                None => ClassLookup::Refused(format!("StorageClass {name} does not exist: the claim stays Pending")),
            },
            None => match self.default_storage_class() {
                Some(c) => ClassLookup::Found(c),
                None if offline => ClassLookup::Unknown(
                    "no storageClassName and no default StorageClass in the files: the cluster's default cannot be known offline"
                        .to_string(),
                ),
                None => ClassLookup::Refused(
                    "no storageClassName and the cluster has no default StorageClass: the claim stays Pending".to_string(),
                ),
            },
        }
    }

    pub fn default_storage_class(&self) -> Option<&StorageClass> {
        self.storage_classes.iter().find(|c| {
            let ann = c.metadata.annotations.as_ref();
            ann.and_then(|a| a.get("storageclass.kubernetes.io/is-default-class")).map(String::as_str) == Some("true")
                || ann.and_then(|a| a.get("storageclass.beta.kubernetes.io/is-default-class")).map(String::as_str)
                    == Some("true")
        })
    }
}

/// What [`KubeSnapshot::storage_class_for`] found.
pub enum ClassLookup<'a> {
    Found(&'a StorageClass),
    /// The claim gets no class, or one that does not exist: a finding.
    Refused(String),
    /// Files cannot tell: undecided.
    Unknown(String),
}

/// `helm test` hooks run only when someone runs `helm test`, and are deleted after: not part
/// of what is deployed (`helm template` renders them all the same).
fn is_helm_test(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get("helm.sh/hook"))
        .is_some_and(|h| h.split(',').any(|h| matches!(h.trim(), "test" | "test-success" | "test-failure")))
}

/// Objects of kinds no item reads in the namespaces in scope, from groups an item cares about.
impl KubeSnapshot {
    pub fn unread_in_scope<'a>(
        &'a self,
        group: &'a str,
        kinds: &'a [&'a str],
    ) -> impl Iterator<Item = &'a super::kubernetes::UnreadObject> {
        self.unread
            .iter()
            .filter(move |u| u.group() == group && kinds.contains(&u.kind.as_str()) && self.in_scope(&u.namespace))
    }
}

fn has_owner(meta: &ObjectMeta) -> bool {
    meta.owner_references.as_ref().is_some_and(|o| !o.is_empty())
}

fn labels_match(want: &BTreeMap<String, String>, have: Option<&BTreeMap<String, String>>) -> bool {
    have.is_some_and(|have| map_selector_matches(want, have))
}

/// Fallback naming: the workload is called the component name, or ends with it
/// (`infrasage-ingestion-gateway`, as Helm names releases).
fn name_matches(object_name: &str, component_name: &str) -> bool {
    !component_name.is_empty()
        && (object_name == component_name || object_name.ends_with(&format!("-{component_name}")))
}

/// The Service names an Ingress sends traffic to.
pub fn ingress_backend_services(ing: &Ingress) -> Vec<&str> {
    let Some(spec) = &ing.spec else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(s) = spec.default_backend.as_ref().and_then(|b| b.service.as_ref()) {
        out.push(s.name.as_str());
    }
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
            if let Some(s) = &path.backend.service {
                out.push(s.name.as_str());
            }
        }
    }
    out
}

/// A Kubernetes quantity in base units (bytes for memory, cores for cpu).
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E').unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    // An exponent form like 1e3 has no suffix; "1E" alone is exa.
    let (num, suffix) =
        if suffix.is_empty() && (num.ends_with('E')) { (&num[..num.len() - 1], "E") } else { (num, suffix) };
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_base_units() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("4Gi"), Some(4.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("100M"), Some(1e8));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1E"), Some(1e18));
        assert_eq!(parse_quantity("12Qi"), None);
    }

    #[test]
    fn fallback_names() {
        assert!(name_matches("ingestion-gateway", "ingestion-gateway"));
        assert!(name_matches("prod-ingestion-gateway", "ingestion-gateway"));
        assert!(!name_matches("ingestion-gateway-canary", "ingestion-gateway"));
    }
}
