//! Checks of the scaling category.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec};
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaimSpec};
use regex::Regex;

use super::common::{main_containers, missing_component, no_component};
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kube_query::{name_of, namespace_of, object_ref, parse_quantity, EnvValue};
use crate::snapshot::kubernetes::KubeOrigin;
use crate::snapshot::{Component, KubeSnapshot, Workload};

// ---- scale_profile_matches_volume

pub fn scale_profile_matches_volume(ctx: &CheckCtx) -> CheckResult {
    let ceilings = profile_ceilings(ctx)?;
    let param = ctx.params.str("profile")?.trim();
    let profiles: Vec<(String, String)> = if param.is_empty() {
        let k = ctx.snapshot.kube()?;
        match gateway_profiles(k, ctx.params.str("env_name")?) {
            Ok(p) => p,
            Err(findings) => return Ok(Outcome::from_findings(findings, "")),
        }
    } else {
        vec![("parameter profile".to_string(), param.to_string())]
    };
    let unknown: Vec<Finding> = profiles
        .iter()
        .filter(|(_, p)| !ceilings.contains_key(p))
        .map(|(object, p)| {
            let known: Vec<&str> = ceilings.keys().map(String::as_str).collect();
            Finding::new(object, format!("scale profile {p:?} is not one of {}", known.join(", ")))
        })
        .collect();
    if !unknown.is_empty() {
        return Ok(Outcome::from_findings(unknown, ""));
    }
    // Decided with the smallest ceiling among the profiles found: the weakest gateway limits.
    let prom = ctx.snapshot.prometheus()?;
    let query = ctx.params.str("peak_query")?;
    let peak = match prom.queries.get(query) {
        Some(Ok(Some(v))) => *v,
        Some(Ok(None)) => return Err(Undecided::skipped(format!("the peak query {query:?} returns no data yet"))),
        Some(Err(e)) => return Err(Undecided::error(format!("the peak query failed: {e}"))),
        None => return Err(Undecided::error(format!("the peak query {query:?} was not run"))),
    };
    let (object, profile, ceiling) = profiles
        .iter()
        .map(|(o, p)| (o, p, ceilings[p]))
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .expect("at least one profile");
    Ok(profile_covers_peak(object, profile, ceiling, peak))
}

/// Profile name → events per second; values may be numbers or numeric strings.
fn profile_ceilings(ctx: &CheckCtx) -> Result<BTreeMap<String, f64>, Undecided> {
    ctx.params
        .map("ceilings")?
        .into_iter()
        .map(|(k, v)| {
            let n = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            n.map(|n| (k.clone(), n)).ok_or_else(|| {
                Undecided::error(format!("parameter ceilings: {k} is not a number of events per second"))
            })
        })
        .collect()
}

/// The profile each gateway workload runs with, named by the container that sets it; or why
/// a workload's profile cannot be read.
fn gateway_profiles(k: &KubeSnapshot, env_name: &str) -> Result<Vec<(String, String)>, Vec<Finding>> {
    let gateways = k.component_workloads(Component::Gateway);
    if gateways.is_empty() {
        return Err(vec![missing_component(k, Component::Gateway)]);
    }
    let mut found = Vec::new();
    let mut findings = Vec::new();
    for w in &gateways {
        let set =
            main_containers(w).find_map(|c| k.resolve_env(w.namespace(), c).get(env_name).cloned().map(|v| (c, v)));
        match set {
            None => findings.push(Finding::new(w.object(), format!("{env_name} is not set"))),
            Some((c, v)) => {
                let object = w.container_ref(c, false);
                match (&v, v.plain_text().map(str::trim)) {
                    (_, Some("")) => findings.push(Finding::new(object, format!("{env_name} is empty"))),
                    (_, Some(p)) => found.push((object, p.to_string())),
                    (EnvValue::ConfigMap { .. }, None) => findings.push(Finding::new(
                        object,
                        format!("{env_name} comes from {}, which is not in the snapshot", v.describe()),
                    )),
                    (_, None) => findings.push(Finding::new(
                        object,
                        format!(
                            "{env_name} comes from {}, which cannot be read: set the profile parameter",
                            v.describe()
                        ),
                    )),
                }
            }
        }
    }
    if findings.is_empty() {
        Ok(found)
    } else {
        Err(findings)
    }
}

/// The verdict once the observed peak (events per second) is known.
pub fn profile_covers_peak(object: &str, profile: &str, ceiling: f64, peak_per_second: f64) -> Outcome {
    if peak_per_second <= ceiling {
        Outcome::pass(format!(
            "scale profile {profile} handles {} events/s; the observed peak is {} events/s",
            fmt_number(ceiling),
            fmt_number(peak_per_second)
        ))
    } else {
        Outcome::from_findings(
            vec![Finding::new(
                object,
                format!(
                    "scale profile {profile} handles {} events/s but the observed peak is {} events/s",
                    fmt_number(ceiling),
                    fmt_number(peak_per_second)
                ),
            )],
            "",
        )
    }
}

fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 || n.abs() >= 100.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

// ---- clickhouse_storage_headroom

pub fn clickhouse_storage_headroom(ctx: &CheckCtx) -> CheckResult {
    let ch = ctx.snapshot.clickhouse()?;
    let min_ratio = ctx.params.float("min_ratio")?;
    let data = ch.data_bytes() as f64;
    // Inside a pod the disk total can be the node's filesystem, not the volume: where the
    // Kubernetes snapshot knows the claims, their requests are the capacity.
    if let Some((capacity, parts)) = ctx.snapshot.kubernetes.ready().and_then(|k| provisioned_clickhouse_bytes(k)) {
        let o = headroom_outcome(capacity, data, min_ratio);
        let reason = o.reason.clone().map(|r| format!("{r}; from PVC requests: {}", parts.join(", ")));
        return Ok(Outcome { reason, ..o });
    }
    let disks = ch.disks.as_ref().ok_or_else(|| Undecided::error("server too old: no system.disks"))?;
    // Two disks on one path are one filesystem.
    let mut paths = BTreeSet::new();
    let capacity: f64 = disks.iter().filter(|d| paths.insert(d.path.as_str())).map(|d| d.total_bytes as f64).sum();
    if capacity <= 0.0 {
        return Err(Undecided::error("system.disks reports no capacity"));
    }
    let o = headroom_outcome(capacity, data, min_ratio);
    let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    let reason = o.reason.clone().map(|r| format!("{r}; from system.disks ({})", names.join(", ")));
    Ok(Outcome { reason, ..o })
}

/// Storage the ClickHouse workloads request: their referenced claims plus each
/// volumeClaimTemplate times replicas, with one line per part summed. None where there is no
/// ClickHouse storage, or a referenced claim or request is unknown (the sum would understate).
pub fn provisioned_clickhouse_bytes(k: &KubeSnapshot) -> Option<(f64, Vec<String>)> {
    let mut total = 0.0;
    let mut parts = Vec::new();
    let mut claims_seen = BTreeSet::new();
    for w in k.component_workloads(Component::Clickhouse) {
        let replicas = w.replicas.unwrap_or(1).max(0);
        for t in w.claim_templates {
            let bytes = storage_request(t.spec.as_ref())?;
            total += bytes * f64::from(replicas);
            parts.push(format!(
                "{} volumeClaimTemplate {}: {replicas} × {}",
                w.object(),
                name_of(&t.metadata),
                fmt_bytes(bytes)
            ));
        }
        let volumes = w.pod_spec.and_then(|s| s.volumes.as_deref()).unwrap_or(&[]);
        for v in volumes {
            // A template of the same name replaces the pod volume.
            if w.claim_templates.iter().any(|t| name_of(&t.metadata) == v.name) {
                continue;
            }
            let Some(claim) = &v.persistent_volume_claim else { continue };
            if !claims_seen.insert((w.namespace(), claim.claim_name.as_str())) {
                continue;
            }
            let pvc = k
                .persistent_volume_claims
                .iter()
                .find(|p| namespace_of(&p.metadata) == w.namespace() && name_of(&p.metadata) == claim.claim_name)?;
            let bytes = storage_request(pvc.spec.as_ref())?;
            total += bytes;
            parts.push(format!("{}: {}", object_ref("PersistentVolumeClaim", &pvc.metadata), fmt_bytes(bytes)));
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some((total, parts))
    }
}

fn storage_request(spec: Option<&PersistentVolumeClaimSpec>) -> Option<f64> {
    let q = spec?.resources.as_ref()?.requests.as_ref()?.get("storage")?;
    parse_quantity(&q.0)
}

/// Provisioned capacity against the data it holds.
pub fn headroom_outcome(capacity_bytes: f64, data_bytes: f64, min_ratio: f64) -> Outcome {
    if data_bytes <= 0.0 {
        return Outcome::pass(format!("no ClickHouse data yet; {} provisioned", fmt_bytes(capacity_bytes)));
    }
    let ratio = capacity_bytes / data_bytes;
    let text =
        format!("provisioned {} is {ratio:.1}× the {} of data", fmt_bytes(capacity_bytes), fmt_bytes(data_bytes));
    if ratio >= min_ratio {
        Outcome::pass(format!("{text} (min {min_ratio}×)"))
    } else {
        Outcome::from_findings(vec![Finding::new("ClickHouse storage", format!("{text}, below {min_ratio}×"))], "")
    }
}

/// Bytes in binary units with one decimal: `8.0 GiB`.
pub fn fmt_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes.abs() < 1024.0 {
        return format!("{bytes:.0} B");
    }
    let mut v = bytes;
    let mut unit = "B";
    for u in UNITS {
        if v.abs() < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

// ---- gateway_hpa

/// Metric names that measure request rate.
static RATE_METRIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("(?i)request|rps|http|qps").expect("the pattern is valid"));

pub fn gateway_hpa(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let gateways = k.component_workloads(Component::Gateway);
    if gateways.is_empty() {
        return Ok(Outcome::from_findings(vec![missing_component(k, Component::Gateway)], ""));
    }
    let mut findings = Vec::new();
    let mut reasons = Vec::new();
    for w in &gateways {
        let hpas = hpas_targeting(k, w);
        if hpas.is_empty() {
            // KEDA scales through an HPA it creates in the cluster; the ScaledObject itself is
            // not read here, so from files this cannot be decided.
            let scaled: Vec<String> = k
                .unread_in_scope("keda.sh", &["ScaledObject"])
                .filter(|u| u.namespace == w.namespace())
                .map(|u| format!("ScaledObject/{}/{}", u.namespace, u.name))
                .collect();
            if !scaled.is_empty() {
                return Err(Undecided::error(format!(
                    "no HorizontalPodAutoscaler targets {}, and {} (KEDA) may scale it: KEDA ScaledObjects are not read by this item; judge the HPA KEDA creates on the live cluster",
                    w.object(),
                    scaled.join(", ")
                )));
            }
            findings.push(Finding::new(w.object(), "no HorizontalPodAutoscaler targets it"));
            continue;
        }
        match hpas.iter().find_map(|h| scaling_metric(h).map(|m| (h, m))) {
            Some((h, metric)) => reasons.push(format!(
                "{} scales {} on {metric}",
                object_ref("HorizontalPodAutoscaler", &h.metadata),
                w.object()
            )),
            None => {
                for h in hpas {
                    findings.push(Finding::new(
                        object_ref("HorizontalPodAutoscaler", &h.metadata),
                        format!(
                            "scales {} only on {}: no CPU or request-rate metric",
                            w.object(),
                            metric_names(h).join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(Outcome::from_findings(findings, reasons.join("; ")))
}

/// HPAs in the workload's namespace whose scaleTargetRef names it.
fn hpas_targeting<'a>(k: &'a KubeSnapshot, w: &Workload) -> Vec<&'a HorizontalPodAutoscaler> {
    k.horizontal_pod_autoscalers
        .iter()
        .filter(|h| namespace_of(&h.metadata) == w.namespace())
        .filter(|h| {
            h.spec.as_ref().is_some_and(|s| s.scale_target_ref.kind == w.kind && s.scale_target_ref.name == w.name())
        })
        .collect()
}

/// The first CPU or request-rate metric of an HPA, described for the pass reason.
fn scaling_metric(h: &HorizontalPodAutoscaler) -> Option<String> {
    let metrics = h.spec.as_ref()?.metrics.as_deref().unwrap_or(&[]);
    if metrics.is_empty() {
        return Some("cpu (the API default of 80% utilization)".to_string());
    }
    metrics.iter().find_map(|m| {
        if m.resource.as_ref().is_some_and(|r| r.name == "cpu") {
            return Some("cpu".to_string());
        }
        if let Some(r) = m.container_resource.as_ref().filter(|r| r.name == "cpu") {
            return Some(format!("cpu of container {}", r.container));
        }
        custom_metric_names(m).into_iter().find(|n| RATE_METRIC.is_match(n)).map(str::to_string)
    })
}

fn custom_metric_names(m: &MetricSpec) -> Vec<&str> {
    [
        m.pods.as_ref().map(|p| p.metric.name.as_str()),
        m.object.as_ref().map(|o| o.metric.name.as_str()),
        m.external.as_ref().map(|e| e.metric.name.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn metric_names(h: &HorizontalPodAutoscaler) -> Vec<String> {
    let metrics = h.spec.as_ref().and_then(|s| s.metrics.as_deref()).unwrap_or(&[]);
    metrics
        .iter()
        .flat_map(|m| {
            let mut names: Vec<String> = custom_metric_names(m).into_iter().map(str::to_string).collect();
            names.extend(m.resource.as_ref().map(|r| r.name.clone()));
            names.extend(m.container_resource.as_ref().map(|r| format!("{} of container {}", r.name, r.container)));
            names
        })
        .collect()
}

// ---- aiops_replicas_ha

pub fn aiops_replicas_ha(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let min = ctx.params.int("min_replicas")?;
    let live = k.origin == KubeOrigin::Live;
    let workloads = k.component_workloads(Component::Aiops);
    if workloads.is_empty() {
        return Ok(Outcome::from_findings(vec![missing_component(k, Component::Aiops)], ""));
    }
    let mut findings = Vec::new();
    let mut reasons = Vec::new();
    for w in &workloads {
        let hpas = hpas_targeting(k, w);
        let (desired, from) = if hpas.is_empty() {
            let r = w.replicas.unwrap_or(1);
            if i64::from(r) < min {
                findings.push(Finding::new(w.object(), format!("{r} desired replicas, fewer than {min}")));
            }
            (r, "replicas")
        } else {
            // An HPA owns the replica count: its floor is what HA rests on.
            let mut lowest = i32::MAX;
            for h in hpas {
                let m = h.spec.as_ref().and_then(|s| s.min_replicas).unwrap_or(1);
                if i64::from(m) < min {
                    findings.push(Finding::new(
                        object_ref("HorizontalPodAutoscaler", &h.metadata),
                        format!("minReplicas {m} for {} is fewer than {min}", w.object()),
                    ));
                }
                lowest = lowest.min(m);
            }
            (lowest, "HPA minReplicas")
        };
        let mut reason = format!("{} has {desired} desired ({from})", w.object());
        if live {
            let available = w.available_replicas.unwrap_or(0);
            // Too few desired replicas already explains too few available ones.
            if i64::from(available) < min && i64::from(desired) >= min {
                findings.push(Finding::new(w.object(), format!("{available} replicas available, fewer than {min}")));
            }
            reason.push_str(&format!(" and {available} available"));
        }
        reasons.push(reason);
    }
    Ok(Outcome::from_findings(findings, format!("{} (min {min})", reasons.join("; "))))
}

// ---- clickhouse_memory_limit

pub fn clickhouse_memory_limit(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let factor = ctx.params.float("factor")?;
    let expected = ctx.params.int("expected_result_bytes")?;
    let workloads = k.component_workloads(Component::Clickhouse);
    if workloads.is_empty() {
        return Err(no_component(k, Component::Clickhouse));
    }
    let mut findings = Vec::new();
    let mut limits = Vec::new();
    for w in &workloads {
        for c in clickhouse_containers(w) {
            let object = w.container_ref(c, false);
            let limit = c.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.get("memory"));
            match limit.map(|q| (q, parse_quantity(&q.0))) {
                None => findings.push(Finding::new(object, "no memory limit")),
                Some((q, None)) => {
                    findings.push(Finding::new(object, format!("memory limit {:?} is not a quantity", q.0)))
                }
                Some((_, Some(bytes))) => limits.push((object, bytes)),
            }
        }
    }
    if expected > 0 {
        let expected = expected as f64;
        findings.extend(limits.iter().filter_map(|(o, l)| memory_limit_finding(o, *l, expected, factor)));
        return Ok(Outcome::from_findings(
            findings,
            format!(
                "{} ClickHouse containers have a memory limit of at least {factor} × the expected largest result {}",
                limits.len(),
                fmt_bytes(expected)
            ),
        ));
    }
    if !findings.is_empty() {
        return Ok(Outcome::from_findings(findings, ""));
    }
    let ch = ctx.snapshot.clickhouse()?;
    let window = humantime::format_duration(ctx.params.duration("window")?);
    let largest = match &ch.largest_result {
        Ok(Some(b)) => *b as f64,
        Ok(None) => return Err(Undecided::skipped(format!("no query finished in system.query_log over {window}"))),
        Err(why) => return Err(Undecided::skipped(format!("no largest result from system.query_log: {why}"))),
    };
    findings.extend(limits.iter().filter_map(|(o, l)| memory_limit_finding(o, *l, largest, factor)));
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} ClickHouse containers have a memory limit of at least {factor} × the largest result {} (system.query_log, {window})",
            limits.len(),
            fmt_bytes(largest)
        ),
    ))
}

/// The server containers: those named or built as ClickHouse; all main containers where none is,
/// so a sidecar (exporter, backup agent) does not need a limit sized for queries.
fn clickhouse_containers<'a>(w: &Workload<'a>) -> Vec<&'a Container> {
    let is_ch = |c: &&Container| {
        c.name.to_ascii_lowercase().contains("clickhouse")
            || c.image.as_deref().is_some_and(|i| i.to_ascii_lowercase().contains("clickhouse"))
    };
    let named: Vec<_> = main_containers(w).filter(is_ch).collect();
    if named.is_empty() {
        main_containers(w).collect()
    } else {
        named
    }
}

/// A finding where the memory limit is under `factor` × the largest result.
pub fn memory_limit_finding(object: &str, limit_bytes: f64, largest_result_bytes: f64, factor: f64) -> Option<Finding> {
    (limit_bytes < factor * largest_result_bytes).then(|| {
        Finding::new(
            object,
            format!(
                "memory limit {} < {factor} × largest result {}",
                fmt_bytes(limit_bytes),
                fmt_bytes(largest_result_bytes)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{self, SourceId};
    use crate::checks::Params;
    use crate::fixtures::*;
    use crate::fixtures::{finding_objects as objects, fixed_now as now, run_check as run};
    use crate::outcome::Status;
    use crate::snapshot::{Snapshot, SourceState};

    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::autoscaling::v2::{
        ExternalMetricSource, MetricIdentifier, MetricTarget, ResourceMetricSource,
    };
    use serde_json::{json, Value};

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

    fn run_full(
        id: &str,
        k: KubeSnapshot,
        others: &[(SourceId, SourceState<()>)],
        overrides: &[(&str, Value)],
    ) -> Outcome {
        let mut s = Snapshot { kubernetes: SourceState::Ready(k.into()), ..Default::default() };
        for (source, state) in others {
            match state {
                // Present but empty: what the check does once the source's data is there.
                SourceState::Ready(()) => match source {
                    SourceId::Prometheus => s.prometheus = SourceState::Ready(Default::default()),
                    SourceId::Clickhouse => s.clickhouse = SourceState::Ready(Default::default()),
                    other => panic!("no empty snapshot for {other:?}"),
                },
                state => s.set_state(*source, state.clone()),
            }
        }
        let item = catalogue::find(id).unwrap();
        let overrides: BTreeMap<String, Value> = overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let params = Params::resolve(item, Some(&overrides));
        let ctx = CheckCtx { item, snapshot: &s, params: &params, now: now(), attestation: None };
        crate::checks::find(id).unwrap()(&ctx).unwrap_or_else(Outcome::from)
    }

    /// The good stack with Prometheus answering the default peak query with `peak`.
    fn with_peak(peak: Result<Option<f64>, String>, overrides: &[(&str, Value)]) -> Outcome {
        let mut s = Snapshot { kubernetes: SourceState::Ready(good_stack().into()), ..Default::default() };
        let item = catalogue::find("scale_profile_matches_volume").unwrap();
        let overrides: BTreeMap<String, Value> = overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let params = Params::resolve(item, Some(&overrides));
        let mut p = crate::snapshot::PrometheusSnapshot::default();
        p.queries.insert(params.str("peak_query").unwrap().to_string(), peak);
        s.prometheus = SourceState::Ready(p.into());
        let ctx = CheckCtx { item, snapshot: &s, params: &params, now: now(), attestation: None };
        scale_profile_matches_volume(&ctx).unwrap_or_else(Outcome::from)
    }

    #[test]
    fn the_observed_peak_decides_against_the_profile_ceiling() {
        let small = [("profile", json!("small"))];
        assert_eq!(with_peak(Ok(Some(900.0)), &small).status, Status::Pass);
        let o = with_peak(Ok(Some(1500.0)), &small);
        assert_eq!(o.status, Status::Fail);
        assert!(o.reason.as_deref().unwrap().contains("observed peak is 1500 events/s"), "{o:?}");
        assert_eq!(with_peak(Ok(None), &small).status, Status::Skipped);
        let o = with_peak(Err("bad_data: parse error".into()), &small);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.as_deref().unwrap().contains("parse error"));
    }

    fn ready(source: SourceId) -> (SourceId, SourceState<()>) {
        (source, SourceState::Ready(()))
    }

    fn without_deployment(mut k: KubeSnapshot, name: &str) -> KubeSnapshot {
        k.deployments.retain(|d| d.metadata.name.as_deref() != Some(name));
        k
    }

    fn replace_deployment(k: KubeSnapshot, d: Deployment) -> KubeSnapshot {
        let mut k = without_deployment(k, d.metadata.name.as_deref().unwrap());
        k.deployments.push(d);
        k
    }

    fn service_deployment(name: &str, c: ContainerB) -> DeploymentB {
        deployment(name).app(name).replicas(2).node_selector("node-pool", "infrasage").container(c)
    }

    fn clickhouse_with_memory(memory: Option<&str>) -> KubeSnapshot {
        let mut c =
            container("clickhouse").resources("2", memory.unwrap_or("1Gi")).mount("data", "/var/lib/clickhouse");
        if memory.is_none() {
            c.0.resources.as_mut().unwrap().limits.as_mut().unwrap().remove("memory");
        }
        let sts = stateful_set("clickhouse")
            .app("clickhouse")
            .container(c)
            .container(container("exporter"))
            .claim_template("data", Some("gp3-wait"), "500Gi")
            .build();
        let mut k = good_stack();
        k.stateful_sets.retain(|s| s.metadata.name.as_deref() != Some("clickhouse"));
        k.stateful_sets.push(sts);
        k
    }

    fn metric(type_: &str) -> MetricSpec {
        MetricSpec { type_: type_.into(), ..Default::default() }
    }

    fn with_gateway_metrics(metrics: Option<Vec<MetricSpec>>) -> KubeSnapshot {
        let mut k = good_stack();
        for h in &mut k.horizontal_pod_autoscalers {
            if h.metadata.name.as_deref() == Some("ingestion-gateway") {
                h.spec.as_mut().unwrap().metrics = metrics.clone();
            }
        }
        k
    }

    #[test]
    fn good_stack_passes_or_names_the_missing_source() {
        for id in ["gateway_hpa", "aiops_replicas_ha"] {
            let o = run(id, good_stack());
            assert_eq!(o.status, Status::Pass, "{id}: {o:?}");
        }
        for (id, reason) in [
            ("scale_profile_matches_volume", "prometheus is not configured"),
            ("clickhouse_storage_headroom", "clickhouse is not configured"),
            ("clickhouse_memory_limit", "clickhouse is not configured"),
        ] {
            let o = run(id, good_stack());
            assert_eq!((o.status, o.reason.as_deref()), (Status::Skipped, Some(reason)), "{id}");
        }
    }

    #[test]
    fn second_source_present_still_skips_until_its_data_is_gathered() {
        let o = run_full("scale_profile_matches_volume", good_stack(), &[ready(SourceId::Prometheus)], &[]);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.as_deref().unwrap().contains("was not run"), "{o:?}");
        let failed = (SourceId::Clickhouse, SourceState::Failed("connection refused".into()));
        let o = run_full("clickhouse_storage_headroom", good_stack(), &[failed], &[]);
        assert_eq!(o.status, Status::Error);
    }

    fn with_ch(k: Option<KubeSnapshot>, ch: crate::snapshot::ClickhouseSnapshot) -> Snapshot {
        let mut s = crate::fixtures::clickhouse_only(ch);
        if let Some(k) = k {
            s.kubernetes = SourceState::Ready(k.into());
        }
        s
    }

    #[test]
    fn headroom_from_pvc_requests_when_kubernetes_knows_them() {
        let mut ch = crate::fixtures::clickhouse_snapshot();
        ch.parts[0].bytes = (1000.0 * GIB) as u64;
        let o = crate::fixtures::run_on_snapshot("clickhouse_storage_headroom", &with_ch(Some(good_stack()), ch), &[]);
        assert_eq!(o.status, Status::Fail, "{o:?}");
        assert_eq!(o.findings[0].message, "provisioned 1.5 TiB is 1.5× the 1000.0 GiB of data, below 2×");
    }

    #[test]
    fn headroom_from_system_disks_alone() {
        let s = with_ch(None, crate::fixtures::clickhouse_snapshot());
        let o = crate::fixtures::run_on_snapshot("clickhouse_storage_headroom", &s, &[]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(
            o.reason.as_deref(),
            Some("provisioned 100.0 GiB is 10.0× the 10.0 GiB of data (min 2×); from system.disks (default)")
        );
        let o = crate::fixtures::run_on_snapshot("clickhouse_storage_headroom", &s, &[("min_ratio", json!(20.0))]);
        assert_eq!(o.status, Status::Fail);
    }

    #[test]
    fn an_old_server_without_system_disks_is_an_error() {
        let mut ch = crate::fixtures::clickhouse_snapshot();
        ch.disks = None;
        let o = crate::fixtures::run_on_snapshot("clickhouse_storage_headroom", &with_ch(None, ch), &[]);
        assert_eq!((o.status, o.reason.as_deref()), (Status::Error, Some("server too old: no system.disks")));
    }

    #[test]
    fn memory_limit_against_the_query_log() {
        // The good stack's ClickHouse limit is 16Gi.
        let mut ch = crate::fixtures::clickhouse_snapshot();
        let o =
            crate::fixtures::run_on_snapshot("clickhouse_memory_limit", &with_ch(Some(good_stack()), ch.clone()), &[]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().contains("the largest result 1.0 GiB (system.query_log, 7days)"));
        ch.largest_result = Ok(Some((5.0 * GIB) as u64));
        let o =
            crate::fixtures::run_on_snapshot("clickhouse_memory_limit", &with_ch(Some(good_stack()), ch.clone()), &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "memory limit 16.0 GiB < 4 × largest result 5.0 GiB");
        ch.largest_result = Ok(None);
        let o =
            crate::fixtures::run_on_snapshot("clickhouse_memory_limit", &with_ch(Some(good_stack()), ch.clone()), &[]);
        assert_eq!(
            (o.status, o.reason.as_deref()),
            (Status::Skipped, Some("no query finished in system.query_log over 7days"))
        );
        ch.largest_result = Err("the server keeps no system.query_log".into());
        let o = crate::fixtures::run_on_snapshot("clickhouse_memory_limit", &with_ch(Some(good_stack()), ch), &[]);
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(
            o.reason.as_deref(),
            Some("no largest result from system.query_log: the server keeps no system.query_log")
        );
    }

    // ---- scale_profile_matches_volume

    #[test]
    fn unknown_profile_fails_listing_known_ones() {
        let o = run_full("scale_profile_matches_volume", good_stack(), &[], &[("profile", json!("huge"))]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["parameter profile"]);
        assert_eq!(o.findings[0].message, "scale profile \"huge\" is not one of large, medium, small");

        let k = replace_deployment(
            good_stack(),
            service_deployment("ingestion-gateway", container("ingestion-gateway").env("SCALE_PROFILE", "xl")).build(),
        );
        let o = run("scale_profile_matches_volume", k);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway container ingestion-gateway"]);
    }

    #[test]
    fn missing_or_unreadable_profile_fails() {
        let k = replace_deployment(
            good_stack(),
            service_deployment("ingestion-gateway", container("ingestion-gateway")).build(),
        );
        let o = run("scale_profile_matches_volume", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway"]);
        assert_eq!(o.findings[0].message, "SCALE_PROFILE is not set");

        let k = replace_deployment(
            good_stack(),
            service_deployment(
                "ingestion-gateway",
                container("ingestion-gateway").env_secret("SCALE_PROFILE", "gw", "profile"),
            )
            .build(),
        );
        let o = run("scale_profile_matches_volume", k);
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("Secret gw key profile"), "{o:?}");

        let o = run("scale_profile_matches_volume", without_deployment(good_stack(), "ingestion-gateway"));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.findings[0].message,
            "no ingestion gateway workload found (selector app.kubernetes.io/name=ingestion-gateway or named ingestion-gateway)"
        );
    }

    #[test]
    fn profile_parameter_needs_no_kubernetes() {
        let s = Snapshot::default();
        let item = catalogue::find("scale_profile_matches_volume").unwrap();
        let overrides = BTreeMap::from([("profile".to_string(), json!("small"))]);
        let params = Params::resolve(item, Some(&overrides));
        let ctx = CheckCtx { item, snapshot: &s, params: &params, now: now(), attestation: None };
        let o = scale_profile_matches_volume(&ctx).unwrap_err();
        assert_eq!(o.reason, "prometheus is not configured");
    }

    #[test]
    fn profile_against_peak() {
        let o = profile_covers_peak("Deployment/infrasage/gw", "medium", 10_000.0, 4200.0);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            o.reason.as_deref(),
            Some("scale profile medium handles 10000 events/s; the observed peak is 4200 events/s")
        );
        let o = profile_covers_peak("Deployment/infrasage/gw", "small", 1000.0, 1234.5);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/gw"]);
        assert_eq!(
            o.findings[0].message,
            "scale profile small handles 1000 events/s but the observed peak is 1234 events/s"
        );
    }

    // ---- clickhouse_storage_headroom

    #[test]
    fn provisioned_bytes_sum_templates_and_claims() {
        let (bytes, parts) = provisioned_clickhouse_bytes(&good_stack()).unwrap();
        assert_eq!(bytes, 3.0 * 500.0 * GIB);
        assert_eq!(parts, ["StatefulSet/infrasage/clickhouse volumeClaimTemplate data: 3 × 500.0 GiB"]);

        let mut k = good_stack();
        k.deployments.push(
            deployment("clickhouse-keeper")
                .app("clickhouse")
                .container(container("keeper"))
                .volume_claim("data", "keeper-data")
                .volume_claim("again", "keeper-data")
                .build(),
        );
        assert_eq!(provisioned_clickhouse_bytes(&k), None, "a claim missing from the snapshot is unknown capacity");
        k.persistent_volume_claims.push(pvc("keeper-data", None, "10Gi"));
        let (bytes, parts) = provisioned_clickhouse_bytes(&k).unwrap();
        assert_eq!(bytes, 1510.0 * GIB);
        assert!(parts.contains(&"PersistentVolumeClaim/infrasage/keeper-data: 10.0 GiB".to_string()), "{parts:?}");
        assert_eq!(parts.len(), 2, "a claim mounted twice counts once");

        let mut k = good_stack();
        k.stateful_sets.clear();
        assert_eq!(provisioned_clickhouse_bytes(&k), None);
    }

    #[test]
    fn headroom() {
        let o = headroom_outcome(1500.0 * GIB, 500.0 * GIB, 2.0);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(o.reason.as_deref(), Some("provisioned 1.5 TiB is 3.0× the 500.0 GiB of data (min 2×)"));
        let o = headroom_outcome(600.0 * GIB, 500.0 * GIB, 2.0);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "provisioned 600.0 GiB is 1.2× the 500.0 GiB of data, below 2×");
        assert_eq!(headroom_outcome(1.0, 0.0, 2.0).status, Status::Pass);
    }

    // ---- gateway_hpa

    #[test]
    fn gateway_without_hpa_fails_on_the_workload() {
        let mut k = good_stack();
        k.horizontal_pod_autoscalers.retain(|h| h.metadata.name.as_deref() != Some("ingestion-gateway"));
        // One in another namespace does not count.
        let mut elsewhere = hpa("ingestion-gateway", "Deployment", "ingestion-gateway", 2, true);
        elsewhere.metadata.namespace = Some("other".into());
        k.horizontal_pod_autoscalers.push(elsewhere);
        // Nor one aimed at a StatefulSet of that name.
        k.horizontal_pod_autoscalers.push(hpa("gw-sts", "StatefulSet", "ingestion-gateway", 2, true));
        let o = run("gateway_hpa", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway"]);
    }

    #[test]
    fn a_keda_scaled_object_is_named_not_guessed() {
        let mut k = good_stack();
        k.horizontal_pod_autoscalers.retain(|h| h.metadata.name.as_deref() != Some("ingestion-gateway"));
        k.unread.push(crate::snapshot::kubernetes::UnreadObject {
            api_version: "keda.sh/v1alpha1".into(),
            kind: "ScaledObject".into(),
            namespace: "infrasage".into(),
            name: "gateway".into(),
        });
        let o = run("gateway_hpa", k);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.as_deref().unwrap().contains("ScaledObject/infrasage/gateway (KEDA) may scale it"), "{o:?}");
    }

    #[test]
    fn memory_only_hpa_fails_on_the_hpa() {
        let mut m = metric("Resource");
        m.resource = Some(ResourceMetricSource { name: "memory".into(), target: MetricTarget::default() });
        let o = run("gateway_hpa", with_gateway_metrics(Some(vec![m])));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["HorizontalPodAutoscaler/infrasage/ingestion-gateway"]);
        assert_eq!(
            o.findings[0].message,
            "scales Deployment/infrasage/ingestion-gateway only on memory: no CPU or request-rate metric"
        );
    }

    #[test]
    fn default_cpu_and_request_rate_metrics_pass() {
        let o = run("gateway_hpa", with_gateway_metrics(None));
        assert_eq!(o.status, Status::Pass);
        assert!(o.reason.unwrap().ends_with("on cpu (the API default of 80% utilization)"));

        let mut m = metric("External");
        m.external = Some(ExternalMetricSource {
            metric: MetricIdentifier { name: "nginx_ingress_requests_per_second".into(), selector: None },
            target: MetricTarget::default(),
        });
        let o = run("gateway_hpa", with_gateway_metrics(Some(vec![m])));
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn no_gateway_fails() {
        let o = run("gateway_hpa", without_deployment(good_stack(), "ingestion-gateway"));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
    }

    // ---- aiops_replicas_ha

    #[test]
    fn hpa_floor_below_min_fails_on_the_hpa() {
        let mut k = good_stack();
        for h in &mut k.horizontal_pod_autoscalers {
            h.spec.as_mut().unwrap().min_replicas = None;
        }
        let o = run("aiops_replicas_ha", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["HorizontalPodAutoscaler/infrasage/aiops-engine"]);
        assert_eq!(o.findings[0].message, "minReplicas 1 for Deployment/infrasage/aiops-engine is fewer than 2");
    }

    #[test]
    fn single_replica_without_hpa_fails_and_hpa_overrides_replicas() {
        let mut k = good_stack();
        k.horizontal_pod_autoscalers.retain(|h| h.metadata.name.as_deref() != Some("aiops-engine"));
        let k1 =
            replace_deployment(k, service_deployment("aiops-engine", container("aiops-engine")).replicas(1).build());
        let o = run("aiops_replicas_ha", k1.clone());
        assert_eq!(objects(&o), ["Deployment/infrasage/aiops-engine"]);
        assert_eq!(o.findings[0].message, "1 desired replicas, fewer than 2");

        let mut k2 = k1;
        k2.horizontal_pod_autoscalers.push(hpa("aiops", "Deployment", "aiops-engine", 3, true));
        assert_eq!(run("aiops_replicas_ha", k2).status, Status::Pass);
    }

    #[test]
    fn live_cluster_needs_available_replicas() {
        let mut k = replace_deployment(
            good_stack(),
            service_deployment("aiops-engine", container("aiops-engine")).available(1).build(),
        );
        k.origin = KubeOrigin::Live;
        let o = run("aiops_replicas_ha", k.clone());
        assert_eq!(objects(&o), ["Deployment/infrasage/aiops-engine"]);
        assert_eq!(o.findings[0].message, "1 replicas available, fewer than 2");

        // No status at all counts as none available.
        let mut k = good_stack();
        k.origin = KubeOrigin::Live;
        assert_eq!(run("aiops_replicas_ha", k).status, Status::Fail);

        let mut k = replace_deployment(
            good_stack(),
            service_deployment("aiops-engine", container("aiops-engine")).available(2).build(),
        );
        k.origin = KubeOrigin::Live;
        let o = run("aiops_replicas_ha", k);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            o.reason.as_deref(),
            Some("Deployment/infrasage/aiops-engine has 2 desired (HPA minReplicas) and 2 available (min 2)")
        );
    }

    #[test]
    fn no_aiops_fails() {
        let o = run("aiops_replicas_ha", without_deployment(good_stack(), "aiops-engine"));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.findings[0].message,
            "no AIops engine workload found (selector app.kubernetes.io/name=aiops-engine or named aiops-engine)"
        );
    }

    // ---- clickhouse_memory_limit

    #[test]
    fn memory_limit_against_expected_result() {
        let three_gib = json!(3 * 1024 * 1024 * 1024_i64);
        let o = run_full("clickhouse_memory_limit", good_stack(), &[], &[("expected_result_bytes", three_gib.clone())]);
        assert_eq!(o.status, Status::Pass, "{o:?}");

        let o = run_full(
            "clickhouse_memory_limit",
            clickhouse_with_memory(Some("8Gi")),
            &[],
            &[("expected_result_bytes", three_gib)],
        );
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse container clickhouse"]);
        assert_eq!(o.findings[0].message, "memory limit 8.0 GiB < 4 × largest result 3.0 GiB");
    }

    #[test]
    fn missing_memory_limit_fails_without_clickhouse() {
        let o = run("clickhouse_memory_limit", clickhouse_with_memory(None));
        assert_eq!(o.status, Status::Fail);
        // The exporter sidecar is not the server and is not held to the rule.
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse container clickhouse"]);
        assert_eq!(o.findings[0].message, "no memory limit");
    }

    #[test]
    fn memory_limit_skipped_without_clickhouse_workload() {
        let mut k = good_stack();
        k.stateful_sets.clear();
        let o = run("clickhouse_memory_limit", k);
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(o.reason.as_deref(), Some("no ClickHouse workload in namespaces infrasage"));
    }

    #[test]
    fn memory_limit_finding_is_pure() {
        assert!(memory_limit_finding("x", 16.0 * GIB, 4.0 * GIB, 4.0).is_none());
        let f = memory_limit_finding("x", 15.0 * GIB, 4.0 * GIB, 4.0).unwrap();
        assert_eq!(f.message, "memory limit 15.0 GiB < 4 × largest result 4.0 GiB");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(1536.0), "1.5 KiB");
    }
}
