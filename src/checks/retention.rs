//! Checks of the retention category.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::PersistentVolume;
use regex::Regex;

use super::common::{main_containers, missing_component, no_component};
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kube_query::{name_of, object_ref, EnvValue};
use crate::snapshot::kubernetes::KubeOrigin;
use crate::snapshot::{Component, KubeSnapshot, Workload};

// ---- log_field_exclusions

pub fn log_field_exclusions(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let env_name = ctx.params.str("env_name")?;
    let gateways = k.component_workloads(Component::Gateway);
    if gateways.is_empty() {
        return Ok(Outcome::from_findings(vec![missing_component(k, Component::Gateway)], ""));
    }
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    for w in &gateways {
        match env_verdict(k, w, env_name) {
            Ok(source) => sources.push(format!("{} from {source}", w.object())),
            Err(f) => findings.push(f),
        }
    }
    Ok(Outcome::from_findings(findings, format!("the ingestion gateway sets {env_name}: {}", sources.join("; "))))
}

/// Where a workload's main containers get a non-empty `env_name` (Ok), or the finding saying
/// why none does. A Secret or field reference counts as set: its value cannot be read here.
fn env_verdict(k: &KubeSnapshot, w: &Workload, env_name: &str) -> Result<String, Finding> {
    let mut problem = None;
    let mut opaque = Vec::new();
    for c in main_containers(w) {
        let env = k.resolve_env(w.namespace(), c);
        opaque.extend(env.opaque_sources.iter().cloned());
        let Some(value) = env.get(env_name) else { continue };
        let message = match (value, value.plain_text()) {
            (_, Some(text)) if !text.trim().is_empty() => return Ok(value.describe()),
            (_, Some(_)) => format!("{env_name} is empty"),
            (EnvValue::ConfigMap { .. }, None) => {
                format!("{env_name} comes from {}, which is not in the snapshot", value.describe())
            }
            (_, None) => return Ok(value.describe()),
        };
        problem.get_or_insert(Finding::new(w.container_ref(c, false), message));
    }
    Err(problem.unwrap_or_else(|| {
        let mut message = format!("{env_name} is not set");
        if !opaque.is_empty() {
            message.push_str(&format!(" (envFrom {} not in the snapshot)", opaque.join(", ")));
        }
        Finding::new(w.object(), message)
    }))
}

// ---- data_residency

const REGION_KEYS: [&str; 2] = ["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"];

pub fn data_residency(ctx: &CheckCtx) -> CheckResult {
    let allowed: BTreeSet<String> = ctx.params.list("allowed_regions")?.into_iter().collect();
    if allowed.is_empty() {
        return Err(Undecided::skipped("no allowed regions configured"));
    }
    let k = ctx.snapshot.kube()?;
    let workloads = k.component_workloads(Component::Clickhouse);
    if workloads.is_empty() {
        return Err(no_component(k, Component::Clickhouse));
    }
    let claims: BTreeSet<(String, String)> = workloads.iter().flat_map(clickhouse_claims).collect();
    let volumes: Vec<&PersistentVolume> = k
        .persistent_volumes
        .iter()
        .filter(|pv| {
            pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some_and(|r| {
                let key = (r.namespace.clone().unwrap_or_default(), r.name.clone().unwrap_or_default());
                claims.contains(&key)
            })
        })
        .collect();
    if volumes.is_empty() {
        if k.origin == KubeOrigin::Manifests {
            return Err(Undecided::skipped("PersistentVolumes exist only on a live cluster"));
        }
        let findings = workloads
            .iter()
            .map(|w| {
                let names: Vec<String> = clickhouse_claims(w).into_iter().map(|(_, n)| n).collect();
                let message = if names.is_empty() {
                    "has no PersistentVolumeClaim, so its data has no region to check".to_string()
                } else {
                    format!("none of its claims ({}) is bound to a PersistentVolume", names.join(", "))
                };
                Finding::new(w.object(), message)
            })
            .collect();
        return Ok(Outcome::from_findings(findings, ""));
    }
    let allowed_text = allowed.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
    let mut findings = Vec::new();
    let mut seen = BTreeSet::new();
    for pv in &volumes {
        let object = object_ref("PersistentVolume", &pv.metadata);
        let regions = pv_regions(pv);
        if regions.is_empty() {
            findings
                .push(Finding::new(object, format!("has no region (no {} node affinity or label)", REGION_KEYS[0])));
            continue;
        }
        let outside: Vec<&str> = regions.iter().filter(|r| !allowed.contains(*r)).map(String::as_str).collect();
        if outside.is_empty() {
            seen.extend(regions);
        } else {
            findings.push(Finding::new(
                object,
                format!("is in region {}, outside the allowed {allowed_text}", outside.join(", ")),
            ));
        }
    }
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} ClickHouse PersistentVolumes are in {}",
            volumes.len(),
            seen.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// The claims a ClickHouse workload's pods use, as (namespace, name): claims its pod template
/// names, and for a StatefulSet `<template>-<statefulset>-<ordinal>` for each desired replica.
fn clickhouse_claims(w: &Workload) -> Vec<(String, String)> {
    let ns = w.namespace().to_string();
    let mut out: Vec<(String, String)> = w
        .pod_spec
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| (ns.clone(), c.claim_name.clone()))
        .collect();
    if w.kind == "StatefulSet" {
        for t in w.claim_templates {
            for i in 0..w.replicas.unwrap_or(1).max(0) {
                out.push((ns.clone(), format!("{}-{}-{i}", name_of(&t.metadata), w.name())));
            }
        }
    }
    out
}

/// The regions a PV can be in: its required node affinity (`In` on a region key), else its
/// region label.
fn pv_regions(pv: &PersistentVolume) -> BTreeSet<String> {
    let terms = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or(&[]);
    let mut out: BTreeSet<String> = terms
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .filter(|e| REGION_KEYS.contains(&e.key.as_str()) && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect();
    if out.is_empty() {
        let labels = pv.metadata.labels.as_ref();
        out.extend(REGION_KEYS.iter().filter_map(|key| labels.and_then(|l| l.get(*key)).cloned()));
    }
    if out.is_empty() {
        // CSI drivers often pin a volume by zone only (`topology.ebs.csi.aws.com/zone`): the
        // region is the zone's, by the cloud's naming.
        let zones = terms
            .iter()
            .flat_map(|t| t.match_expressions.iter().flatten())
            .filter(|e| is_zone_key(&e.key) && e.operator == "In")
            .flat_map(|e| e.values.iter().flatten().cloned())
            .chain(pv.metadata.labels.iter().flatten().filter(|(k, _)| is_zone_key(k)).map(|(_, v)| v.clone()));
        out.extend(zones.filter_map(|z| region_of_zone(&z)));
    }
    out
}

fn is_zone_key(key: &str) -> bool {
    key == "topology.kubernetes.io/zone"
        || key == "failure-domain.beta.kubernetes.io/zone"
        || (key.starts_with("topology.") && key.ends_with("/zone"))
}

/// The region a zone name belongs to: AWS `eu-west-1a` (and local zones `us-east-1-bos-1a`),
/// GCP `europe-west1-b`, Azure `westeurope-1`. None for a name of no known shape.
pub fn region_of_zone(zone: &str) -> Option<String> {
    static SHAPES: LazyLock<[Regex; 3]> = LazyLock::new(|| {
        [
            Regex::new(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)(?:-[a-z]+-\d+)?[a-z]$").expect("valid"),
            Regex::new(r"^([a-z]+-[a-z]+\d+)-[a-z]$").expect("valid"),
            // Azure region names all carry a direction: westeurope, eastus2, uksouth.
            Regex::new(r"^([a-z]*(?:east|west|north|south|central)[a-z]*\d?)-[1-3]$").expect("valid"),
        ]
    });
    let zone = zone.trim();
    SHAPES.iter().find_map(|re| re.captures(zone).map(|c| c[1].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{finding_objects as objects, run_check as run, run_check_with as run_with};

    use crate::fixtures::*;
    use crate::outcome::Status;

    use k8s_openapi::api::core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference, PersistentVolumeSpec,
        VolumeNodeAffinity,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::{json, Value};

    fn with_gateway(c: ContainerB) -> KubeSnapshot {
        let mut k = good_stack();
        k.deployments.retain(|d| d.metadata.name.as_deref() != Some("ingestion-gateway"));
        k.deployments.push(deployment("ingestion-gateway").app("ingestion-gateway").container(c).build());
        k
    }

    fn eu() -> [(&'static str, Value); 1] {
        [("allowed_regions", json!(["eu-west-1", "eu-central-1"]))]
    }

    /// A PV bound to `claim` in the namespace; the region by node affinity or, with `label`, by label.
    fn pv(name: &str, claim: &str, region: Option<&str>, label: bool) -> PersistentVolume {
        let mut meta = ObjectMeta { name: Some(name.into()), ..Default::default() };
        let mut spec = PersistentVolumeSpec {
            claim_ref: Some(ObjectReference {
                namespace: Some(NS.into()),
                name: Some(claim.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        match (region, label) {
            (Some(r), true) => meta.labels = Some(labels(&[("topology.kubernetes.io/region", r)])),
            (Some(r), false) => {
                spec.node_affinity = Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "topology.kubernetes.io/region".into(),
                                operator: "In".into(),
                                values: Some(vec![r.into()]),
                            }]),
                            ..Default::default()
                        }],
                    }),
                })
            }
            (None, _) => {}
        }
        PersistentVolume { metadata: meta, spec: Some(spec), status: None }
    }

    fn live_with(volumes: Vec<PersistentVolume>) -> KubeSnapshot {
        KubeSnapshot { origin: KubeOrigin::Live, persistent_volumes: volumes, ..good_stack() }
    }

    // ---- log_field_exclusions

    #[test]
    fn zones_resolve_to_their_region() {
        for (zone, region) in [
            ("eu-west-1a", Some("eu-west-1")),
            ("us-gov-west-1b", Some("us-gov-west-1")),
            ("us-east-1-bos-1a", Some("us-east-1")),
            ("europe-west1-b", Some("europe-west1")),
            ("westeurope-1", Some("westeurope")),
            ("zone-a", None),
            ("rack-1", None),
            ("eastus2-3", Some("eastus2")),
            ("", None),
        ] {
            assert_eq!(region_of_zone(zone).as_deref(), region, "{zone}");
        }
    }

    #[test]
    fn good_stack_sets_exclusions_from_its_config_map() {
        let o = run("log_field_exclusions", good_stack());
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(
            o.reason.as_deref(),
            Some(
                "the ingestion gateway sets LOG_FIELD_EXCLUSIONS: Deployment/infrasage/ingestion-gateway from \
                 ConfigMap infrasage-config key LOG_FIELD_EXCLUSIONS"
            )
        );
    }

    #[test]
    fn unset_or_empty_exclusions_fail() {
        let o = run("log_field_exclusions", with_gateway(container("ingestion-gateway")));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway"]);
        assert_eq!(o.findings[0].message, "LOG_FIELD_EXCLUSIONS is not set");

        let o =
            run("log_field_exclusions", with_gateway(container("ingestion-gateway").env("LOG_FIELD_EXCLUSIONS", " ")));
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway container ingestion-gateway"]);
        assert_eq!(o.findings[0].message, "LOG_FIELD_EXCLUSIONS is empty");

        let o = run(
            "log_field_exclusions",
            with_gateway(container("ingestion-gateway").env_config_map("LOG_FIELD_EXCLUSIONS", "absent", "k")),
        );
        assert_eq!(
            o.findings[0].message,
            "LOG_FIELD_EXCLUSIONS comes from ConfigMap absent key k, which is not in the snapshot"
        );

        let o = run("log_field_exclusions", with_gateway(container("ingestion-gateway").env_from_config_map("absent")));
        assert_eq!(
            o.findings[0].message,
            "LOG_FIELD_EXCLUSIONS is not set (envFrom ConfigMap absent not in the snapshot)"
        );
    }

    #[test]
    fn exclusions_from_a_secret_or_a_literal_pass() {
        let c = container("ingestion-gateway").env_secret("LOG_FIELD_EXCLUSIONS", "gw", "exclusions");
        assert_eq!(run("log_field_exclusions", with_gateway(c)).status, Status::Pass);
        let c = container("ingestion-gateway").env("LOG_FIELD_EXCLUSIONS", "email");
        assert_eq!(run("log_field_exclusions", with_gateway(c)).status, Status::Pass);
    }

    #[test]
    fn exclusions_without_gateway_fail() {
        let mut k = good_stack();
        k.deployments.retain(|d| d.metadata.name.as_deref() != Some("ingestion-gateway"));
        let o = run("log_field_exclusions", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
    }

    // ---- data_residency

    #[test]
    fn residency_skipped_without_regions_or_on_manifests() {
        let o = run("data_residency", good_stack());
        assert_eq!((o.status, o.reason.as_deref()), (Status::Skipped, Some("no allowed regions configured")));
        let o = run_with("data_residency", good_stack(), &eu());
        assert_eq!(
            (o.status, o.reason.as_deref()),
            (Status::Skipped, Some("PersistentVolumes exist only on a live cluster"))
        );
        let mut k = good_stack();
        k.stateful_sets.clear();
        let o = run_with("data_residency", k, &eu());
        assert_eq!(o.status, Status::Skipped);
    }

    #[test]
    fn residency_passes_with_volumes_in_allowed_regions() {
        let k = live_with(vec![
            pv("pv-0", "data-clickhouse-0", Some("eu-west-1"), false),
            pv("pv-1", "data-clickhouse-1", Some("eu-west-1"), true),
            pv("pv-2", "data-clickhouse-2", Some("eu-central-1"), false),
            // Kafka's volume is not ClickHouse data.
            pv("pv-k", "data-kafka-0", Some("us-east-1"), false),
        ]);
        let o = run_with("data_residency", k, &eu());
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(o.reason.as_deref(), Some("3 ClickHouse PersistentVolumes are in eu-central-1, eu-west-1"));
    }

    #[test]
    fn residency_fails_on_wrong_or_missing_region() {
        let k = live_with(vec![
            pv("pv-0", "data-clickhouse-0", Some("eu-west-1"), false),
            pv("pv-1", "data-clickhouse-1", Some("us-east-1"), true),
            pv("pv-2", "data-clickhouse-2", None, false),
        ]);
        let o = run_with("data_residency", k, &eu());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["PersistentVolume/pv-1", "PersistentVolume/pv-2"]);
        assert_eq!(o.findings[0].message, "is in region us-east-1, outside the allowed eu-central-1, eu-west-1");
        assert!(o.findings[1].message.starts_with("has no region"));
    }

    #[test]
    fn a_csi_volume_pinned_by_zone_is_in_that_zones_region() {
        let zoned = |name: &str, claim: &str, zone: &str| {
            let mut p = pv(name, claim, None, false);
            p.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "topology.ebs.csi.aws.com/zone".into(),
                            operator: "In".into(),
                            values: Some(vec![zone.into()]),
                        }]),
                        ..Default::default()
                    }],
                }),
            });
            p
        };
        let k = live_with(vec![
            zoned("pv-0", "data-clickhouse-0", "eu-west-1a"),
            zoned("pv-1", "data-clickhouse-1", "us-east-1b"),
            zoned("pv-2", "data-clickhouse-2", "rack-7"),
        ]);
        let o = run_with("data_residency", k, &eu());
        assert_eq!(objects(&o), ["PersistentVolume/pv-1", "PersistentVolume/pv-2"]);
        assert!(o.findings[0].message.starts_with("is in region us-east-1"), "{o:?}");
        assert!(o.findings[1].message.starts_with("has no region"), "{o:?}");
    }

    #[test]
    fn residency_on_live_cluster_without_bound_volumes_fails() {
        let o = run_with("data_residency", live_with(Vec::new()), &eu());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse"]);
        assert_eq!(
            o.findings[0].message,
            "none of its claims (data-clickhouse-0, data-clickhouse-1, data-clickhouse-2) is bound to a PersistentVolume"
        );
    }

    #[test]
    fn residency_follows_claims_named_in_the_pod_template() {
        let mut k = live_with(vec![pv("pv-x", "ch-data", Some("ap-south-1"), false)]);
        k.stateful_sets.retain(|s| s.metadata.name.as_deref() != Some("clickhouse"));
        k.deployments.push(
            deployment("clickhouse")
                .app("clickhouse")
                .container(container("clickhouse").mount("data", "/var/lib/clickhouse"))
                .volume_claim("data", "ch-data")
                .build(),
        );
        let o = run_with("data_residency", k, &eu());
        assert_eq!(objects(&o), ["PersistentVolume/pv-x"]);
    }
}
