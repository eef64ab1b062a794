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
mod reads;
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

pub use crate::catalogue::Params;
use reads::{workloads_and, ADMIN_API_REQUEST};
pub use reads::{Read, Reads};

/// Everything a check may read.
pub struct CheckCtx<'a> {
    pub item: &'static Item,
    pub snapshot: &'a Snapshot,
    pub params: &'a Params,
    pub now: DateTime<Utc>,
    pub attestation: Option<&'a Attestation>,
}

pub type CheckFn = fn(&CheckCtx) -> CheckResult;

/// One row of the registry: a catalogue id, the function deciding it, and what it reads.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    pub id: &'static str,
    pub check: CheckFn,
    pub reads: Reads,
}

/// Catalogue id → the function that decides it and what it reads. Items of sources this build
/// does not gather yet have no entry; the engine reports them `skipped` with their source's state.
#[rustfmt::skip]
pub static REGISTRY: &[Registered] = &[
    // infrastructure
    Registered { id: "clickhouse_persistent_volumes", check: infrastructure::clickhouse_persistent_volumes, reads: Reads::kinds(WORKLOAD_KINDS) },
    Registered { id: "clickhouse_backup_scheduled", check: infrastructure::clickhouse_backup_scheduled, reads: Reads::kinds(&[KubeKind::CronJob, KubeKind::Job]) },
    Registered { id: "pods_resources_set", check: infrastructure::pods_resources_set, reads: Reads::kinds(WORKLOAD_KINDS) },
    Registered { id: "pdb_clickhouse_kafka", check: infrastructure::pdb_clickhouse_kafka, reads: Reads::kinds(workloads_and!(PodDisruptionBudget)) },
    Registered { id: "node_isolation", check: infrastructure::node_isolation, reads: Reads::kinds(WORKLOAD_KINDS) },
    Registered { id: "kafka_min_brokers", check: kafka::kafka_min_brokers, reads: Reads::NOTHING },
    Registered { id: "kafka_min_replication_factor", check: kafka::kafka_min_replication_factor, reads: Reads::NOTHING },
    Registered { id: "pvc_wait_for_first_consumer", check: infrastructure::pvc_wait_for_first_consumer, reads: Reads::kinds(workloads_and!(PersistentVolumeClaim, StorageClass)) },
    // secrets
    Registered { id: "jwt_secret_strong", check: secrets::jwt_secret_strong, reads: Reads::kinds(workloads_and!(ConfigMap)).and(&[Read::SecretOfEnv("env_name")]) },
    Registered { id: "secrets_not_in_configmaps", check: secrets::secrets_not_in_configmaps, reads: Reads::kinds(workloads_and!(ConfigMap)) },
    Registered { id: "anthropic_key_from_secret", check: secrets::anthropic_key_from_secret, reads: Reads::kinds(workloads_and!(ConfigMap)) },
    Registered { id: "secret_rotation_documented", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "clickhouse_credentials_not_default", check: secrets::clickhouse_credentials_not_default, reads: Reads::NOTHING },
    // auth
    Registered { id: "audit_logging_retention", check: auth::audit_logging_retention, reads: Reads::data(&[Read::Request { source: "infrasage_api", param: "request" }, Read::ClickhouseTables("audit_table")]) },
    // network
    Registered { id: "mtls_enabled", check: network::mtls_enabled, reads: Reads::kinds(workloads_and!(ConfigMap)) },
    Registered { id: "gateway_tls_ingress", check: network::gateway_tls_ingress, reads: Reads::kinds(workloads_and!(Service, Ingress)) },
    Registered { id: "admin_ui_not_public", check: network::admin_ui_not_public, reads: Reads::kinds(workloads_and!(Service, Ingress)) },
    Registered { id: "network_policies_namespace_isolation", check: network::network_policies_namespace_isolation, reads: Reads::kinds(&[KubeKind::NetworkPolicy]) },
    Registered { id: "egress_restricted", check: network::egress_restricted, reads: Reads::kinds(&[KubeKind::NetworkPolicy]) },
    // scaling
    Registered { id: "scale_profile_matches_volume", check: scaling::scale_profile_matches_volume, reads: Reads::kinds(workloads_and!(ConfigMap)).and(&[Read::Promql("peak_query")]) },
    Registered { id: "clickhouse_storage_headroom", check: scaling::clickhouse_storage_headroom, reads: Reads::kinds(workloads_and!(PersistentVolumeClaim)) },
    Registered { id: "gateway_hpa", check: scaling::gateway_hpa, reads: Reads::kinds(workloads_and!(HorizontalPodAutoscaler)) },
    Registered { id: "aiops_replicas_ha", check: scaling::aiops_replicas_ha, reads: Reads::kinds(workloads_and!(HorizontalPodAutoscaler)) },
    Registered { id: "clickhouse_memory_limit", check: scaling::clickhouse_memory_limit, reads: Reads::kinds(WORKLOAD_KINDS).and(&[Read::QueryLog("window")]) },
    Registered { id: "kafka_retention_24h", check: kafka_retention::kafka_retention_24h, reads: Reads::NOTHING },
    // retention
    Registered { id: "log_field_exclusions", check: retention::log_field_exclusions, reads: Reads::kinds(workloads_and!(ConfigMap)) },
    Registered { id: "data_residency", check: retention::data_residency, reads: Reads::kinds(workloads_and!(PersistentVolumeClaim, PersistentVolume)) },
    Registered { id: "retention_per_telemetry_type", check: table_retention::retention_per_telemetry_type, reads: Reads::data(&[Read::ClickhouseTables("tables")]) },
    Registered { id: "retention_meets_compliance", check: table_retention::retention_meets_compliance, reads: Reads::data(&[Read::ClickhouseTables("tables")]) },
    // monitoring
    Registered { id: "prometheus_scraping", check: monitoring::prometheus_scraping, reads: Reads::NOTHING },
    Registered { id: "alert_rules_configured", check: monitoring::alert_rules_configured, reads: Reads::NOTHING },
    Registered { id: "oncall_routes_infrasage", check: monitoring::oncall_routes_infrasage, reads: Reads::NOTHING },
    Registered { id: "grafana_dashboards_imported", check: monitoring::grafana_dashboards_imported, reads: Reads::NOTHING },
    // go-live health
    Registered { id: "gateway_health", check: health::gateway_health, reads: Reads::NOTHING },
    Registered { id: "aiops_health", check: health::aiops_health, reads: Reads::NOTHING },
    Registered { id: "ml_health", check: health::ml_health, reads: Reads::NOTHING },
    // admin API: a request and a CEL expression each (parameters `request`, `expr`)
    Registered { id: "api_keys_rotated_from_onboarding", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "default_tenant_unused", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "ingestion_keys_scoped", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "human_users_least_privilege", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "super_admins_max_2", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "api_keys_expire", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "notification_channel_configured", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "anomaly_sensitivity_tuned", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "runbooks_dry_run_tested", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "runbook_approval_destructive", check: cel::api_item, reads: ADMIN_API_REQUEST },
    Registered { id: "incident_feedback_loop", check: cel::api_item, reads: ADMIN_API_REQUEST },
    // recovery and load testing: signed off by a person
    Registered { id: "backup_restore_tested", check: attestation::backup_restore_tested, reads: Reads::NOTHING },
    Registered { id: "rto_rpo_documented", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "full_restart_procedure", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "kafka_topic_recreation_documented", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "gateway_load_tested", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "anomaly_detection_validated", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "rca_end_to_end", check: attestation::attested, reads: Reads::NOTHING },
    Registered { id: "runbook_staging_executed", check: attestation::attested, reads: Reads::NOTHING },
    // go-live
    Registered { id: "kafka_consumer_lag", check: kafka::kafka_consumer_lag, reads: Reads::NOTHING },
];

pub fn find(id: &str) -> Option<CheckFn> {
    REGISTRY.iter().find(|r| r.id == id).map(|r| r.check)
}

/// What an item reads (nothing, for an item without a check in this build).
pub fn reads(id: &str) -> Reads {
    REGISTRY.iter().find(|r| r.id == id).map(|r| r.reads).unwrap_or(Reads::NOTHING)
}

/// Runs an item: first refusing, with the reason, when a kind it reads could not be read.
pub fn run(f: CheckFn, ctx: &CheckCtx) -> CheckResult {
    if let Some(k) = ctx.snapshot.kubernetes.ready() {
        for kind in reads(ctx.item.id).kinds {
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
        for r in REGISTRY {
            assert!(crate::catalogue::find(r.id).is_some(), "{} is not a catalogue item", r.id);
            assert!(seen.insert(r.id), "{} registered twice", r.id);
        }
    }

    /// A read names a param the item has, of the kind the plan reads it as; an item with a
    /// `request` param declares it read.
    #[test]
    fn every_declared_read_names_a_param_of_its_item() {
        use crate::catalogue::ParamKind;
        for r in REGISTRY {
            let item = crate::catalogue::find(r.id).unwrap();
            for read in r.reads.data {
                let (param, kinds): (&str, &[ParamKind]) = match *read {
                    Read::SecretOfEnv(p) | Read::Promql(p) | Read::Request { param: p, .. } => {
                        (p, &[ParamKind::String])
                    }
                    Read::ClickhouseTables(p) => (p, &[ParamKind::String, ParamKind::Map]),
                    Read::QueryLog(p) => (p, &[ParamKind::Duration]),
                };
                let spec = item.param(param).unwrap_or_else(|| panic!("{}: no param {param}", r.id));
                assert!(kinds.contains(&spec.kind), "{}.{param} is {:?}", r.id, spec.kind);
            }
            if item.param("request").is_some() {
                assert!(r.reads.data.iter().any(|d| matches!(d, Read::Request { .. })), "{} reads no request", r.id);
            }
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
        let s = Snapshot { kubernetes: SourceState::Ready(k.into()), ..Default::default() };
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
