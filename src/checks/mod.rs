//! One pure function per catalogue item, registered by id in [`REGISTRY`]. No I/O, no clock but
//! the one in [`CheckCtx`]. Grouped by checklist category.

pub mod attestation;
pub mod auth;
pub mod calendar;
pub mod cel;
pub mod cidr;
pub mod clickhouse_layout;
pub mod common;
pub mod health;
pub mod infrastructure;
pub mod kafka;
pub mod kafka_retention;
pub mod monitoring;
pub mod network;
pub mod params;
pub mod retention;
pub mod scaling;
pub mod secrets;
pub mod strength;
pub mod table_retention;
pub mod ttl;

use chrono::{DateTime, Utc};

use crate::catalogue::Item;
use crate::config::Attestation;
use crate::outcome::CheckResult;
use crate::snapshot::kubernetes::{KubeKind, WORKLOAD_KINDS};
use crate::snapshot::Snapshot;

pub use params::Params;

/// Everything a check may read.
pub struct CheckCtx<'a> {
    pub item: &'static Item,
    pub snapshot: &'a Snapshot,
    pub params: &'a Params,
    pub now: DateTime<Utc>,
    pub attestation: Option<&'a Attestation>,
}

pub type CheckFn = fn(&CheckCtx) -> CheckResult;

/// Catalogue id, the function deciding it, and the Kubernetes kinds it reads (what the live
/// loader lists and `deploy/rbac.yaml` grants). Secrets are not listed: the loader gets only
/// the Secret feeding `JWT_SECRET`, by name.
pub type Registered = (&'static str, CheckFn, &'static [KubeKind]);

/// Catalogue id → the function that decides it. Items of sources this build does not gather
/// yet have no entry; the engine reports them `skipped` with their source's state.
pub static REGISTRY: &[Registered] = &[
    // infrastructure
    ("clickhouse_persistent_volumes", infrastructure::clickhouse_persistent_volumes, WORKLOAD_KINDS),
    ("clickhouse_backup_scheduled", infrastructure::clickhouse_backup_scheduled, &[KubeKind::CronJob, KubeKind::Job]),
    ("pods_resources_set", infrastructure::pods_resources_set, WORKLOAD_KINDS),
    (
        "pdb_clickhouse_kafka",
        infrastructure::pdb_clickhouse_kafka,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::PodDisruptionBudget,
        ],
    ),
    ("node_isolation", infrastructure::node_isolation, WORKLOAD_KINDS),
    ("kafka_min_brokers", kafka::kafka_min_brokers, &[]),
    ("kafka_min_replication_factor", kafka::kafka_min_replication_factor, &[]),
    (
        "pvc_wait_for_first_consumer",
        infrastructure::pvc_wait_for_first_consumer,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::PersistentVolumeClaim,
            KubeKind::StorageClass,
        ],
    ),
    // secrets
    (
        "jwt_secret_strong",
        secrets::jwt_secret_strong,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    (
        "secrets_not_in_configmaps",
        secrets::secrets_not_in_configmaps,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    (
        "anthropic_key_from_secret",
        secrets::anthropic_key_from_secret,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    ("secret_rotation_documented", attestation::attested, &[]),
    ("clickhouse_credentials_not_default", secrets::clickhouse_credentials_not_default, &[]),
    // auth
    ("audit_logging_retention", auth::audit_logging_retention, &[]),
    // network
    (
        "mtls_enabled",
        network::mtls_enabled,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    (
        "gateway_tls_ingress",
        network::gateway_tls_ingress,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::Service,
            KubeKind::Ingress,
        ],
    ),
    (
        "admin_ui_not_public",
        network::admin_ui_not_public,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::Service,
            KubeKind::Ingress,
        ],
    ),
    ("network_policies_namespace_isolation", network::network_policies_namespace_isolation, &[KubeKind::NetworkPolicy]),
    ("egress_restricted", network::egress_restricted, &[KubeKind::NetworkPolicy]),
    // scaling
    (
        "scale_profile_matches_volume",
        scaling::scale_profile_matches_volume,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    (
        "clickhouse_storage_headroom",
        scaling::clickhouse_storage_headroom,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::PersistentVolumeClaim,
        ],
    ),
    (
        "gateway_hpa",
        scaling::gateway_hpa,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::HorizontalPodAutoscaler,
        ],
    ),
    (
        "aiops_replicas_ha",
        scaling::aiops_replicas_ha,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::HorizontalPodAutoscaler,
        ],
    ),
    ("clickhouse_memory_limit", scaling::clickhouse_memory_limit, WORKLOAD_KINDS),
    ("kafka_retention_24h", kafka_retention::kafka_retention_24h, &[]),
    // retention
    (
        "log_field_exclusions",
        retention::log_field_exclusions,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::ConfigMap,
        ],
    ),
    (
        "data_residency",
        retention::data_residency,
        &[
            KubeKind::Deployment,
            KubeKind::StatefulSet,
            KubeKind::DaemonSet,
            KubeKind::CronJob,
            KubeKind::Job,
            KubeKind::Pod,
            KubeKind::PersistentVolumeClaim,
            KubeKind::PersistentVolume,
        ],
    ),
    ("retention_per_telemetry_type", table_retention::retention_per_telemetry_type, &[]),
    ("retention_meets_compliance", table_retention::retention_meets_compliance, &[]),
    // monitoring
    ("prometheus_scraping", monitoring::prometheus_scraping, &[]),
    ("alert_rules_configured", monitoring::alert_rules_configured, &[]),
    ("oncall_routes_infrasage", monitoring::oncall_routes_infrasage, &[]),
    ("grafana_dashboards_imported", monitoring::grafana_dashboards_imported, &[]),
    // go-live health
    ("gateway_health", health::gateway_health, &[]),
    ("aiops_health", health::aiops_health, &[]),
    ("ml_health", health::ml_health, &[]),
    // admin API: a request and a CEL expression each (parameters `request`, `expr`)
    ("api_keys_rotated_from_onboarding", cel::api_item, &[]),
    ("default_tenant_unused", cel::api_item, &[]),
    ("ingestion_keys_scoped", cel::api_item, &[]),
    ("human_users_least_privilege", cel::api_item, &[]),
    ("super_admins_max_2", cel::api_item, &[]),
    ("api_keys_expire", cel::api_item, &[]),
    ("notification_channel_configured", cel::api_item, &[]),
    ("anomaly_sensitivity_tuned", cel::api_item, &[]),
    ("runbooks_dry_run_tested", cel::api_item, &[]),
    ("runbook_approval_destructive", cel::api_item, &[]),
    ("incident_feedback_loop", cel::api_item, &[]),
    // recovery and load testing: signed off by a person
    ("backup_restore_tested", attestation::backup_restore_tested, &[]),
    ("rto_rpo_documented", attestation::attested, &[]),
    ("full_restart_procedure", attestation::attested, &[]),
    ("kafka_topic_recreation_documented", attestation::attested, &[]),
    ("gateway_load_tested", attestation::attested, &[]),
    ("anomaly_detection_validated", attestation::attested, &[]),
    ("rca_end_to_end", attestation::attested, &[]),
    ("runbook_staging_executed", attestation::attested, &[]),
    // go-live
    ("kafka_consumer_lag", kafka::kafka_consumer_lag, &[]),
];

pub fn find(id: &str) -> Option<CheckFn> {
    REGISTRY.iter().find(|(i, _, _)| *i == id).map(|(_, f, _)| *f)
}

/// The Kubernetes kinds an item reads.
pub fn kinds(id: &str) -> &'static [KubeKind] {
    REGISTRY.iter().find(|(i, _, _)| *i == id).map(|(_, _, k)| *k).unwrap_or(&[])
}

/// Runs an item: first refusing, with the reason, when a kind it reads could not be read.
pub fn run(f: CheckFn, ctx: &CheckCtx) -> CheckResult {
    if let Some(k) = ctx.snapshot.kubernetes.ready() {
        for kind in kinds(ctx.item.id) {
            if let Some(why) = k.unreadable.get(kind.resource()) {
                return Err(crate::outcome::Undecided::error(why.clone()));
            }
        }
    }
    f(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_id_is_in_the_catalogue_once() {
        let mut seen = std::collections::HashSet::new();
        for (id, _, _) in REGISTRY {
            assert!(crate::catalogue::find(id).is_some(), "{id} is not a catalogue item");
            assert!(seen.insert(*id), "{id} registered twice");
        }
    }

    #[test]
    fn every_kubernetes_and_attested_item_has_a_check() {
        use crate::catalogue::SourceId;
        for item in crate::catalogue::ITEMS {
            if item.sources.contains(&SourceId::Kubernetes) || item.sources.contains(&SourceId::Attestation) {
                assert!(find(item.id).is_some(), "{} has no check function", item.id);
            }
        }
    }
}

#[cfg(test)]
mod full_stack_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalogue::SourceId;
    use crate::fixtures::{bad_stack, good_stack};
    use crate::outcome::{Outcome, Status};
    use crate::snapshot::{KubeSnapshot, SourceState};

    /// Every item with a Kubernetes side, evaluated on one stack.
    fn evaluate(k: KubeSnapshot) -> BTreeMap<&'static str, Outcome> {
        let s = Snapshot { kubernetes: SourceState::Ready(k), ..Default::default() };
        let now = chrono::Utc::now();
        crate::catalogue::ITEMS
            .iter()
            .filter(|i| i.sources.contains(&SourceId::Kubernetes))
            .map(|item| {
                let params = Params::resolve(item, None);
                let ctx = CheckCtx { item, snapshot: &s, params: &params, now, attestation: None };
                (item.id, find(item.id).unwrap()(&ctx).unwrap_or_else(Outcome::from))
            })
            .collect()
    }

    #[test]
    fn the_good_stack_passes_every_item_kubernetes_alone_decides() {
        for (id, o) in evaluate(good_stack()) {
            match o.status {
                Status::Pass => {}
                // Items that need a second source, or a parameter only the operator knows.
                Status::Skipped => assert!(
                    [
                        "scale_profile_matches_volume",
                        "clickhouse_storage_headroom",
                        "clickhouse_memory_limit",
                        "data_residency"
                    ]
                    .contains(&id),
                    "{id} skipped: {:?}",
                    o.reason
                ),
                _ => panic!("{id} on the good stack: {o:?}"),
            }
        }
    }

    #[test]
    fn the_bad_stack_fails_nearly_everything() {
        let results = evaluate(bad_stack());
        let failing: Vec<&str> = results.iter().filter(|(_, o)| o.status == Status::Fail).map(|(id, _)| *id).collect();
        assert_eq!(
            failing,
            [
                "admin_ui_not_public",
                "aiops_replicas_ha",
                "anthropic_key_from_secret",
                "clickhouse_backup_scheduled",
                "clickhouse_memory_limit",
                "clickhouse_persistent_volumes",
                "egress_restricted",
                "gateway_hpa",
                "gateway_tls_ingress",
                "jwt_secret_strong",
                "log_field_exclusions",
                "mtls_enabled",
                "network_policies_namespace_isolation",
                "node_isolation",
                "pdb_clickhouse_kafka",
                "pods_resources_set",
                "pvc_wait_for_first_consumer",
                "scale_profile_matches_volume",
                "secrets_not_in_configmaps",
            ]
        );
        let debug = format!("{results:?}");
        for planted in ["changeme", "hunter2", "sk-ant-literal"] {
            assert!(!debug.contains(planted), "a finding quotes the secret {planted}");
        }
    }
}
