//! Readable builders for Kubernetes test objects, so a test says what it means
//! (`deployment("gw").app("ingestion-gateway").container(...)`) instead of a JSON wall.
//! Used by unit tests, integration tests and the benchmark.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, ConfigMapKeySelector, Container, EnvFromSource, EnvVar, EnvVarSource,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    ResourceRequirements, SecretEnvSource, SecretKeySelector, Service, ServicePort, ServiceSpec, Toleration, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, NetworkPolicy, NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::snapshot::kubernetes::SecretBytes;
use crate::snapshot::{KubeSnapshot, SecretObject};

pub const NS: &str = "infrasage";

pub fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_string()), namespace: Some(ns.to_string()), ..Default::default() }
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn app_labels(app: &str) -> BTreeMap<String, String> {
    labels(&[("app.kubernetes.io/name", app)])
}

// ---- containers

pub struct ContainerB(pub Container);

pub fn container(name: &str) -> ContainerB {
    ContainerB(Container { name: name.to_string(), image: Some(format!("infrasage/{name}:1.0")), ..Default::default() })
}

impl ContainerB {
    /// cpu and memory, requests and limits.
    pub fn resources(mut self, cpu: &str, memory: &str) -> Self {
        let q = |c: &str, m: &str| {
            BTreeMap::from([
                ("cpu".to_string(), Quantity(c.to_string())),
                ("memory".to_string(), Quantity(m.to_string())),
            ])
        };
        self.0.resources = Some(ResourceRequirements {
            requests: Some(q(cpu, memory)),
            limits: Some(q(cpu, memory)),
            ..Default::default()
        });
        self
    }
    pub fn requests_only(mut self, cpu: &str, memory: &str) -> Self {
        let q = BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ]);
        self.0.resources = Some(ResourceRequirements { requests: Some(q), ..Default::default() });
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.0.env.get_or_insert_with(Vec::new).push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        });
        self
    }
    pub fn env_secret(mut self, name: &str, secret: &str, key: &str) -> Self {
        self.0.env.get_or_insert_with(Vec::new).push(EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector { name: secret.into(), key: key.into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    pub fn env_config_map(mut self, name: &str, config_map: &str, key: &str) -> Self {
        self.0.env.get_or_insert_with(Vec::new).push(EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: config_map.into(),
                    key: key.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    pub fn env_from_config_map(mut self, config_map: &str) -> Self {
        self.0.env_from.get_or_insert_with(Vec::new).push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: config_map.into(), ..Default::default() }),
            ..Default::default()
        });
        self
    }
    pub fn env_from_secret(mut self, secret: &str) -> Self {
        self.0.env_from.get_or_insert_with(Vec::new).push(EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: secret.into(), ..Default::default() }),
            ..Default::default()
        });
        self
    }
    pub fn mount(mut self, volume: &str, path: &str) -> Self {
        self.0.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
            name: volume.into(),
            mount_path: path.into(),
            ..Default::default()
        });
        self
    }
}

// ---- pod templates shared by workloads

#[derive(Default)]
pub struct PodB {
    pub labels: BTreeMap<String, String>,
    pub spec: PodSpec,
}

impl PodB {
    fn template(&self) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(self.labels.clone()), ..Default::default() }),
            spec: Some(self.spec.clone()),
        }
    }
}

macro_rules! pod_methods {
    () => {
        /// Sets `app.kubernetes.io/name` on the object and its pods.
        pub fn app(mut self, app: &str) -> Self {
            self.meta.labels = Some(app_labels(app));
            self.pod.labels.insert("app.kubernetes.io/name".into(), app.into());
            self
        }
        pub fn pod_label(mut self, k: &str, v: &str) -> Self {
            self.pod.labels.insert(k.into(), v.into());
            self
        }
        pub fn container(mut self, c: ContainerB) -> Self {
            self.pod.spec.containers.push(c.0);
            self
        }
        pub fn init_container(mut self, c: ContainerB) -> Self {
            self.pod.spec.init_containers.get_or_insert_with(Vec::new).push(c.0);
            self
        }
        pub fn node_selector(mut self, k: &str, v: &str) -> Self {
            self.pod.spec.node_selector.get_or_insert_with(BTreeMap::new).insert(k.into(), v.into());
            self
        }
        pub fn toleration(mut self, key: &str, value: &str) -> Self {
            self.pod.spec.tolerations.get_or_insert_with(Vec::new).push(Toleration {
                key: Some(key.into()),
                operator: Some("Equal".into()),
                value: Some(value.into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            });
            self
        }
        pub fn volume_empty_dir(mut self, name: &str) -> Self {
            self.pod.spec.volumes.get_or_insert_with(Vec::new).push(Volume {
                name: name.into(),
                empty_dir: Some(Default::default()),
                ..Default::default()
            });
            self
        }
        pub fn volume_claim(mut self, name: &str, claim: &str) -> Self {
            self.pod.spec.volumes.get_or_insert_with(Vec::new).push(Volume {
                name: name.into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
            self
        }
    };
}

pub struct DeploymentB {
    meta: ObjectMeta,
    pod: PodB,
    replicas: Option<i32>,
    available: Option<i32>,
}

pub fn deployment(name: &str) -> DeploymentB {
    DeploymentB { meta: meta(NS, name), pod: PodB::default(), replicas: None, available: None }
}

impl DeploymentB {
    pod_methods!();
    pub fn namespace(mut self, ns: &str) -> Self {
        self.meta.namespace = Some(ns.into());
        self
    }
    pub fn replicas(mut self, n: i32) -> Self {
        self.replicas = Some(n);
        self
    }
    /// Status as a controller would write it (live clusters).
    pub fn available(mut self, n: i32) -> Self {
        self.available = Some(n);
        self
    }
    pub fn build(self) -> Deployment {
        Deployment {
            metadata: self.meta,
            spec: Some(DeploymentSpec {
                replicas: self.replicas,
                selector: LabelSelector { match_labels: Some(self.pod.labels.clone()), ..Default::default() },
                template: self.pod.template(),
                ..Default::default()
            }),
            status: self.available.map(|a| k8s_openapi::api::apps::v1::DeploymentStatus {
                available_replicas: Some(a),
                ready_replicas: Some(a),
                replicas: Some(a),
                ..Default::default()
            }),
        }
    }
}

pub struct StatefulSetB {
    meta: ObjectMeta,
    pod: PodB,
    replicas: Option<i32>,
    claims: Vec<PersistentVolumeClaim>,
}

pub fn stateful_set(name: &str) -> StatefulSetB {
    StatefulSetB { meta: meta(NS, name), pod: PodB::default(), replicas: Some(3), claims: Vec::new() }
}

impl StatefulSetB {
    pod_methods!();
    pub fn replicas(mut self, n: i32) -> Self {
        self.replicas = Some(n);
        self
    }
    /// A volumeClaimTemplate; `class` None leaves storageClassName unset.
    pub fn claim_template(mut self, name: &str, class: Option<&str>, size: &str) -> Self {
        let mut pvc = pvc(name, class, size);
        pvc.metadata.namespace = None;
        self.claims.push(pvc);
        self
    }
    pub fn build(self) -> StatefulSet {
        let service_name = self.meta_name();
        StatefulSet {
            metadata: self.meta,
            spec: Some(StatefulSetSpec {
                replicas: self.replicas,
                selector: LabelSelector { match_labels: Some(self.pod.labels.clone()), ..Default::default() },
                template: self.pod.template(),
                volume_claim_templates: if self.claims.is_empty() { None } else { Some(self.claims) },
                service_name: Some(service_name),
                ..Default::default()
            }),
            status: None,
        }
    }
    fn meta_name(&self) -> String {
        self.meta.name.clone().unwrap_or_default()
    }
}

pub struct CronJobB {
    meta: ObjectMeta,
    pod: PodB,
    schedule: String,
}

pub fn cron_job(name: &str, schedule: &str) -> CronJobB {
    CronJobB { meta: meta(NS, name), pod: PodB::default(), schedule: schedule.into() }
}

impl CronJobB {
    pod_methods!();
    pub fn build(self) -> CronJob {
        CronJob {
            metadata: self.meta,
            spec: Some(CronJobSpec {
                schedule: self.schedule,
                job_template: JobTemplateSpec {
                    spec: Some(JobSpec { template: self.pod.template(), ..Default::default() }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            status: None,
        }
    }
}

// ---- other objects

pub fn pvc(name: &str, class: Option<&str>, size: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(NS, name),
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: class.map(str::to_string),
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.to_string()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn storage_class(name: &str, binding: &str, default: bool) -> StorageClass {
    let mut m = ObjectMeta { name: Some(name.into()), ..Default::default() };
    if default {
        m.annotations = Some(labels(&[("storageclass.kubernetes.io/is-default-class", "true")]));
    }
    StorageClass {
        metadata: m,
        provisioner: "ebs.csi.aws.com".into(),
        volume_binding_mode: Some(binding.into()),
        ..Default::default()
    }
}

pub fn service(name: &str, app: &str, type_: &str) -> Service {
    Service {
        metadata: ObjectMeta { labels: Some(app_labels(app)), ..meta(NS, name) },
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            selector: Some(app_labels(app)),
            ports: Some(vec![ServicePort { port: 443, ..Default::default() }]),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn with_annotations<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(mut obj: T, pairs: &[(&str, &str)]) -> T {
    obj.metadata_mut().annotations.get_or_insert_with(BTreeMap::new).extend(labels(pairs));
    obj
}

/// An Ingress sending `/` to `service`; `tls` adds a tls block for the host.
pub fn ingress(name: &str, service: &str, class: Option<&str>, tls: bool) -> Ingress {
    Ingress {
        metadata: meta(NS, name),
        spec: Some(IngressSpec {
            ingress_class_name: class.map(str::to_string),
            tls: tls.then(|| {
                vec![IngressTLS {
                    hosts: Some(vec![format!("{name}.example.com")]),
                    secret_name: Some(format!("{name}-tls")),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(format!("{name}.example.com")),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend { name: service.into(), port: None }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// A NetworkPolicy over all pods of the namespace with the given policy types and no rules
/// (deny all in those directions).
pub fn deny_all_policy(name: &str, types: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(NS, name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(types.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        }),
    }
}

pub fn pdb(name: &str, app: &str, max_unavailable: Option<i32>, min_available: Option<i32>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(NS, name),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector { match_labels: Some(app_labels(app)), ..Default::default() }),
            max_unavailable: max_unavailable.map(IntOrString::Int),
            min_available: min_available.map(IntOrString::Int),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn hpa(name: &str, target_kind: &str, target: &str, min: i32, cpu_metric: bool) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(NS, name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: target_kind.into(),
                name: target.into(),
            },
            min_replicas: Some(min),
            max_replicas: 10,
            metrics: cpu_metric.then(|| {
                vec![MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target: MetricTarget {
                            type_: "Utilization".into(),
                            average_utilization: Some(70),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap { metadata: meta(NS, name), data: Some(labels(data)), ..Default::default() }
}

pub fn secret(name: &str, data: &[(&str, &[u8])]) -> SecretObject {
    SecretObject {
        namespace: NS.into(),
        name: name.into(),
        data: data.iter().map(|(k, v)| (k.to_string(), SecretBytes(v.to_vec()))).collect(),
    }
}

/// A stack that passes every Kubernetes item; tests break one thing at a time.
pub fn good_stack() -> KubeSnapshot {
    let jwt: &[u8] = b"k3J9v2Qx7LmP0aZt5RbW8cYe1NfUo4Gh6iDsX2w+H8q=";
    let service_deploy = |name: &str, replicas: i32| {
        deployment(name)
            .app(name)
            .replicas(replicas)
            .node_selector("node-pool", "infrasage")
            .container(
                container(name)
                    .resources("500m", "512Mi")
                    .env_from_config_map("infrasage-config")
                    .env_secret("JWT_SECRET", "infrasage-jwt", "secret")
                    .env_secret("ANTHROPIC_API_KEY", "infrasage-anthropic", "api-key"),
            )
            .build()
    };
    KubeSnapshot {
        deployments: vec![
            service_deploy("ingestion-gateway", 2),
            service_deploy("aiops-engine", 2),
            service_deploy("ml-service", 2),
            service_deploy("admin-ui", 2),
        ],
        stateful_sets: vec![
            stateful_set("clickhouse")
                .app("clickhouse")
                .toleration("dedicated", "infrasage")
                .container(container("clickhouse").resources("2", "16Gi").mount("data", "/var/lib/clickhouse"))
                .claim_template("data", Some("gp3-wait"), "500Gi")
                .build(),
            stateful_set("kafka")
                .app("kafka")
                .toleration("dedicated", "infrasage")
                .container(container("kafka").resources("1", "4Gi").mount("data", "/var/lib/kafka"))
                .claim_template("data", None, "200Gi")
                .build(),
        ],
        cron_jobs: vec![cron_job("clickhouse-backup", "0 2 * * *")
            .app("clickhouse-backup")
            .node_selector("node-pool", "infrasage")
            .container(container("backup").resources("200m", "256Mi"))
            .build()],
        services: vec![
            service("ingestion-gateway", "ingestion-gateway", "ClusterIP"),
            service("aiops-engine", "aiops-engine", "ClusterIP"),
            service("ml-service", "ml-service", "ClusterIP"),
            service("admin-ui", "admin-ui", "ClusterIP"),
        ],
        ingresses: vec![
            ingress("gateway", "ingestion-gateway", Some("nginx"), true),
            ingress("admin", "admin-ui", Some("nginx-internal"), true),
        ],
        network_policies: vec![deny_all_policy("default-deny", &["Ingress", "Egress"])],
        pod_disruption_budgets: vec![
            pdb("clickhouse", "clickhouse", Some(1), None),
            pdb("kafka", "kafka", None, Some(2)),
        ],
        horizontal_pod_autoscalers: vec![
            hpa("ingestion-gateway", "Deployment", "ingestion-gateway", 2, true),
            hpa("aiops-engine", "Deployment", "aiops-engine", 2, true),
        ],
        storage_classes: vec![storage_class("gp3-wait", "WaitForFirstConsumer", true)],
        config_maps: vec![config_map(
            "infrasage-config",
            &[("MTLS_ENABLED", "true"), ("LOG_FIELD_EXCLUSIONS", "email,ip"), ("SCALE_PROFILE", "medium")],
        )],
        secrets: vec![
            secret("infrasage-jwt", &[("secret", jwt)]),
            secret("infrasage-anthropic", &[("api-key", b"sk-ant-xyz")]),
        ],
        ..Default::default()
    }
}

/// A stack that gets most things wrong at once: the full-stack failing fixture.
pub fn bad_stack() -> KubeSnapshot {
    let sloppy = |name: &str, replicas: i32| {
        deployment(name)
            .app(name)
            .replicas(replicas)
            .container(
                container(name)
                    .requests_only("100m", "128Mi")
                    .env("MTLS_ENABLED", "false")
                    .env("JWT_SECRET", "changeme")
                    .env("ANTHROPIC_API_KEY", "sk-ant-literal")
                    .env("SCALE_PROFILE", "gigantic"),
            )
            .build()
    };
    KubeSnapshot {
        deployments: vec![
            sloppy("ingestion-gateway", 1),
            sloppy("aiops-engine", 1),
            sloppy("ml-service", 1),
            sloppy("admin-ui", 1),
        ],
        stateful_sets: vec![
            stateful_set("clickhouse")
                .app("clickhouse")
                .container(container("clickhouse").requests_only("1", "1Gi").mount("data", "/var/lib/clickhouse"))
                .volume_empty_dir("data")
                .build(),
            stateful_set("kafka")
                .app("kafka")
                .container(container("kafka").resources("1", "4Gi"))
                .claim_template("data", Some("standard"), "10Gi")
                .build(),
        ],
        services: vec![
            service("ingestion-gateway", "ingestion-gateway", "ClusterIP"),
            service("admin-ui", "admin-ui", "LoadBalancer"),
        ],
        pod_disruption_budgets: vec![pdb("clickhouse", "clickhouse", Some(0), None)],
        storage_classes: vec![storage_class("standard", "Immediate", true)],
        config_maps: vec![config_map("infrasage-config", &[("DB_PASSWORD", "hunter2")])],
        ..Default::default()
    }
}

// ---- running one check in tests

/// The fixed moment unit tests evaluate at.
pub fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z").expect("valid time").with_timezone(&chrono::Utc)
}

/// Runs one item's check on a Kubernetes snapshot with parameter overrides, at [`fixed_now`].
pub fn run_check_with(id: &str, k: KubeSnapshot, overrides: &[(&str, serde_json::Value)]) -> crate::outcome::Outcome {
    use crate::checks::{CheckCtx, Params};
    use crate::snapshot::{Snapshot, SourceState};
    let s = Snapshot { kubernetes: SourceState::Ready(k.into()), ..Default::default() };
    let item = crate::catalogue::find(id).expect("a catalogue id");
    let overrides: BTreeMap<String, serde_json::Value> =
        overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let params = Params::resolve(item, Some(&overrides));
    let ctx = CheckCtx { item, snapshot: &s, params: &params, now: fixed_now(), attestation: None };
    crate::checks::find(id).expect("a registered check")(&ctx).unwrap_or_else(crate::outcome::Outcome::from)
}

/// Runs one registered item on a whole snapshot (items of the HTTP sources).
pub fn run_on_snapshot(
    id: &str,
    s: &crate::snapshot::Snapshot,
    overrides: &[(&str, serde_json::Value)],
) -> crate::outcome::Outcome {
    use crate::checks::{CheckCtx, Params};
    let item = crate::catalogue::find(id).expect("a catalogue id");
    let overrides: BTreeMap<String, serde_json::Value> =
        overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let params = Params::resolve(item, Some(&overrides));
    let ctx = CheckCtx { item, snapshot: s, params: &params, now: fixed_now(), attestation: None };
    crate::checks::find(id).expect("a registered check")(&ctx).unwrap_or_else(crate::outcome::Outcome::from)
}

pub fn run_check(id: &str, k: KubeSnapshot) -> crate::outcome::Outcome {
    run_check_with(id, k, &[])
}

/// The objects an outcome's findings name, in order.
pub fn finding_objects(o: &crate::outcome::Outcome) -> Vec<&str> {
    o.findings.iter().map(|f| f.object.as_str()).collect()
}

pub fn deploy_mut<'a>(k: &'a mut KubeSnapshot, name: &str) -> &'a mut Deployment {
    k.deployments.iter_mut().find(|d| d.metadata.name.as_deref() == Some(name)).expect("a deployment of the stack")
}

/// Replaces the first container of a Deployment of the stack.
pub fn set_container(k: &mut KubeSnapshot, deploy: &str, c: ContainerB) {
    let d = deploy_mut(k, deploy);
    d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0] = c.0;
}

// ---- ClickHouse

/// A ClickHouse snapshot that passes every ClickHouse item: 100 GiB disk, 10 GiB of data, the
/// four telemetry tables and the audit table with TTLs over their obligations, default logins
/// refused, a backup and a restore an hour before [`fixed_now`].
pub fn clickhouse_snapshot() -> crate::snapshot::ClickhouseSnapshot {
    use crate::snapshot::clickhouse::*;
    const GIB: u64 = 1 << 30;
    let table = |days: u32| {
        Some(TableDef {
            engine: "MergeTree".into(),
            engine_full: format!(
                "MergeTree ORDER BY ts TTL ts + toIntervalDay({days}) SETTINGS index_granularity = 8192"
            ),
            columns: [("ts".to_string(), "DateTime".to_string()), ("body".to_string(), "String".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        })
    };
    let an_hour_ago = fixed_now() - chrono::Duration::hours(1);
    ClickhouseSnapshot {
        version: "26.9.2.1".into(),
        old_server: false,
        disks: Some(vec![Disk {
            name: "default".into(),
            path: "/var/lib/clickhouse/".into(),
            free_bytes: 90 * GIB,
            total_bytes: 100 * GIB,
            keep_free_bytes: 0,
        }]),
        parts: vec![TableBytes { database: "infrasage".into(), table: "metrics".into(), bytes: 10 * GIB }],
        tables: [
            ("infrasage.metrics", table(30)),
            ("infrasage.logs", table(30)),
            ("infrasage.traces", table(7)),
            ("infrasage.events", table(365)),
            ("infrasage.audit_log", table(90)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        largest_result: Ok(Some(GIB)),
        backups: Ok(Backups { last_backup: Some(an_hour_ago), last_restore: Some(an_hour_ago) }),
        default_logins: crate::sources::clickhouse::DEFAULT_LOGINS
            .iter()
            .map(|(user, _, desc)| LoginProbe {
                user: user.to_string(),
                password_desc: desc.to_string(),
                result: LoginResult::Rejected("Code: 516. Authentication failed".into()),
            })
            .collect(),
    }
}

/// A snapshot holding only ClickHouse data.
pub fn clickhouse_only(ch: crate::snapshot::ClickhouseSnapshot) -> crate::snapshot::Snapshot {
    crate::snapshot::Snapshot { clickhouse: crate::snapshot::SourceState::Ready(ch.into()), ..Default::default() }
}
