//! Checks of the infrastructure category.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaimSpec, PodSpec, Toleration, Volume, VolumeMount};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::clickhouse_layout::{data_dir, server_containers};
use super::common::{namespaces_text, no_component, scope_ref};
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kube_query::{label_selector_matches, name_of, namespace_of, object_ref, ClassLookup};
use crate::snapshot::kubernetes::KubeOrigin;
use crate::snapshot::{Component, Workload};

const APP_NAME_LABEL: &str = "app.kubernetes.io/name";

// ---- clickhouse_persistent_volumes

pub fn clickhouse_persistent_volumes(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let configured = ctx.params.str("data_path")?;
    let workloads = k.component_workloads(Component::Clickhouse);
    if workloads.is_empty() {
        return Err(no_component(k, Component::Clickhouse));
    }
    let mut findings = Vec::new();
    let mut paths = BTreeSet::new();
    let mut checked = 0;
    for w in &workloads {
        for c in server_containers(w) {
            let dir = data_dir(k, w, c, Some(configured));
            checked += 1;
            paths.insert(dir.path.clone());
            let what = format!("{} at {} ({})", dir.role.human(), dir.path, dir.known_from);
            match mount_holding(c, &dir.path) {
                None => findings.push(Finding::new(
                    w.container_ref(c, false),
                    format!("nothing mounted at {}: {what} lives in the container's writable layer", dir.path),
                )),
                Some(m) => {
                    if let Some(problem) = volume_problem(w, &m.name) {
                        findings.push(Finding::new(
                            w.container_ref(c, false),
                            format!(
                                "volume {} mounted at {} {problem}: {what} is lost with the pod",
                                m.name, m.mount_path
                            ),
                        ));
                    }
                }
            }
            for m in ephemeral_mounts_under(w, c, &dir.path) {
                findings.push(Finding::new(
                    w.container_ref(c, false),
                    format!(
                        "volume {} ({}) mounted at {} inside the {what}: what is written there is lost with the pod",
                        m.name,
                        w.pod_volume(&m.name).map(volume_type).unwrap_or_else(|| "undefined".to_string()),
                        m.mount_path
                    ),
                ));
            }
        }
    }
    let paths: Vec<_> = paths.into_iter().collect();
    Ok(Outcome::from_findings(
        findings,
        format!("{checked} ClickHouse data volumes at {} are PVC-backed", paths.join(", ")),
    ))
}

/// Mounts below `path` (not at it) whose volume does not outlive the pod. ClickHouse's
/// `tmp` (the default `tmp_path`) holds only query spill files, so scratch space there is fine.
fn ephemeral_mounts_under<'a>(w: &Workload, c: &'a Container, path: &str) -> Vec<&'a VolumeMount> {
    let path = path.trim_end_matches('/');
    c.volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            let mp = m.mount_path.trim_end_matches('/');
            mp.starts_with(&format!("{path}/")) && mp != format!("{path}/tmp")
        })
        .filter(|m| match w.pod_volume(&m.name) {
            Some(v) => {
                v.empty_dir.is_some() || v.host_path.is_some() || v.ephemeral.is_some() || volume_type(v) == "emptyDir"
            }
            None => !w.claim_templates.iter().any(|t| name_of(&t.metadata) == m.name),
        })
        .collect()
}

/// The mount that holds `path`: the deepest one at the path or at a parent directory of it.
fn mount_holding<'a>(c: &'a Container, path: &str) -> Option<&'a VolumeMount> {
    let path = path.trim_end_matches('/');
    c.volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            let mp = m.mount_path.trim_end_matches('/');
            mp == path || path.starts_with(&format!("{mp}/"))
        })
        .max_by_key(|m| m.mount_path.trim_end_matches('/').len())
}

/// Why the volume `name` of a workload does not persist, or None when a claim backs it.
fn volume_problem(w: &Workload, name: &str) -> Option<String> {
    // The StatefulSet controller puts volumeClaimTemplates in place of same-named pod volumes.
    if w.claim_templates.iter().any(|t| name_of(&t.metadata) == name) {
        return None;
    }
    match w.pod_volume(name) {
        None => Some("is not defined in the pod spec".to_string()),
        Some(v) if v.persistent_volume_claim.is_some() => None,
        Some(v) => Some(format!("is {}, not a PersistentVolumeClaim", volume_type(v))),
    }
}

/// The volume source's field name (`emptyDir`, `hostPath`, `ephemeral` ...).
fn volume_type(v: &Volume) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_object().and_then(|o| o.keys().find(|k| *k != "name").cloned()))
        // A volume without a source is defaulted to emptyDir by the API server.
        .unwrap_or_else(|| "emptyDir".to_string())
}

// ---- clickhouse_backup_scheduled

/// A backup CronJob that fires daily and succeeded lately, or a recent successful BACKUP in
/// ClickHouse's own `system.backups`: either half passes.
pub fn clickhouse_backup_scheduled(ctx: &CheckCtx) -> CheckResult {
    let kube = backup_cronjob(ctx);
    if matches!(&kube, Ok(o) if o.status == crate::outcome::Status::Pass) {
        return kube;
    }
    let Some(backups) = ctx.snapshot.clickhouse.ready().and_then(|ch| ch.backups.as_ref().ok()) else {
        return kube;
    };
    let max_age = ctx.params.duration("max_age")?;
    let message = match backups.last_backup {
        Some(at) if super::attestation::age_within(ctx.now, at, max_age) => {
            return Ok(Outcome::pass(format!(
                "a BACKUP succeeded at {} (system.backups, within {})",
                at.to_rfc3339(),
                humantime::format_duration(max_age)
            )))
        }
        Some(at) => format!(
            "the newest successful BACKUP is from {}, older than {}",
            at.to_rfc3339(),
            humantime::format_duration(max_age)
        ),
        None => "no successful BACKUP on record".to_string(),
    };
    let finding = Finding::new("ClickHouse system.backups", message);
    let mut findings = kube.map(|o| o.findings).unwrap_or_default();
    findings.push(finding);
    Ok(Outcome::from_findings(findings, ""))
}

/// The Kubernetes half: a matching CronJob's schedule and last success.
fn backup_cronjob(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let pattern = ctx.params.regex("name_pattern")?;
    let max_interval = ctx.params.duration("max_interval")?;
    let max_age = ctx.params.duration("max_age")?;
    let live = k.origin == KubeOrigin::Live;
    let candidates: Vec<&CronJob> = k
        .cron_jobs
        .iter()
        .filter(|c| k.in_scope(namespace_of(&c.metadata)))
        .filter(|c| {
            pattern.is_match(name_of(&c.metadata))
                || c.metadata.labels.as_ref().and_then(|l| l.get(APP_NAME_LABEL)).is_some_and(|n| pattern.is_match(n))
        })
        .collect();
    if candidates.is_empty() {
        let message = format!("no CronJob matching {} in namespaces {}", pattern.as_str(), namespaces_text(k));
        return Ok(Outcome::from_findings(vec![Finding::new(scope_ref(k), message)], ""));
    }
    let mut findings = Vec::new();
    for cj in candidates {
        let object = object_ref("CronJob", &cj.metadata);
        let last = last_success(k, cj);
        match backup_verdict(cj, last, max_interval, max_age, live, ctx.now) {
            Ok(why) => return Ok(Outcome::pass(format!("{object} {why}"))),
            Err(message) => findings.push(Finding::new(object, message)),
        }
    }
    Ok(Outcome::from_findings(findings, ""))
}

/// Why a backup CronJob is good enough (Ok) or not (Err), in one line each.
/// When the CronJob last succeeded: its status, or else the newest completed Job it owns
/// (status.lastSuccessfulTime is missing on clusters older than 1.21 and after a restore).
fn last_success(k: &crate::snapshot::KubeSnapshot, cj: &CronJob) -> Option<DateTime<Utc>> {
    let from_status = cj.status.as_ref().and_then(|s| s.last_successful_time.as_ref()).map(|t| t.0.as_second());
    let from_jobs = k
        .jobs
        .iter()
        .filter(|j| namespace_of(&j.metadata) == namespace_of(&cj.metadata))
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "CronJob" && Some(&o.name) == cj.metadata.name.as_ref())
        })
        .filter_map(|j| j.status.as_ref())
        .filter(|s| s.succeeded.unwrap_or(0) > 0)
        .filter_map(|s| s.completion_time.as_ref().map(|t| t.0.as_second()))
        .max();
    from_status.max(from_jobs).and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
}

fn backup_verdict(
    cj: &CronJob,
    last: Option<DateTime<Utc>>,
    max_interval: Duration,
    max_age: Duration,
    live: bool,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let spec = cj.spec.as_ref().ok_or("has no spec")?;
    if spec.suspend == Some(true) {
        return Err("is suspended: it never fires".to_string());
    }
    let schedule = &spec.schedule;
    // The API server refuses a time zone in the schedule of a new CronJob (batch validation,
    // since 1.27): it would never be created.
    if schedule.contains("TZ") {
        return Err(format!(
            "schedule {schedule:?} names a time zone: the API server refuses TZ and CRON_TZ in schedule (set spec.timeZone)"
        ));
    }
    let gap = match crate::cron::largest_gap(schedule) {
        Err(e) => return Err(format!("schedule {schedule:?} is not valid cron: {e}")),
        Ok(None) => return Err(format!("schedule {schedule:?} never fires")),
        Ok(Some(gap)) => gap,
    };
    if gap > max_interval {
        return Err(format!(
            "schedule {schedule:?} leaves up to {} between runs (max_interval {})",
            fmt_duration(gap),
            fmt_duration(max_interval)
        ));
    }
    let mut why = format!("fires at least every {} (schedule {schedule:?})", fmt_duration(gap));
    if live {
        let at = last.ok_or("has never succeeded")?;
        let age = (now - at).to_std().unwrap_or(Duration::ZERO);
        if age > max_age {
            return Err(format!("last succeeded {} ago (max_age {})", fmt_duration(age), fmt_duration(max_age)));
        }
        why.push_str(&format!(" and last succeeded {} ago", fmt_duration(age)));
    }
    Ok(why)
}

/// `1d2h`, `45m`; seconds only where the duration is under a minute.
fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs}s");
    }
    let mins = secs / 60;
    let (days, hours, minutes) = (mins / 1440, mins / 60 % 24, mins % 60);
    let mut out = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

// ---- pods_resources_set

pub fn pods_resources_set(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let workloads = k.workloads();
    if workloads.is_empty() {
        return Err(Undecided::skipped(format!("no workloads in namespaces {}", namespaces_text(k))));
    }
    let mut findings = Vec::new();
    let mut containers = 0;
    for w in &workloads {
        for (c, init) in w.containers() {
            containers += 1;
            let missing = missing_resources(c);
            if !missing.is_empty() {
                findings.push(Finding::new(w.container_ref(c, init), format!("missing {}", missing.join(", "))));
            }
        }
    }
    Ok(Outcome::from_findings(
        findings,
        format!("{containers} containers in {} workloads set cpu and memory requests and limits", workloads.len()),
    ))
}

/// `requests.cpu` and the like a container leaves unset. Admission copies a limit into an
/// absent request, so a request counts as set where its limit is.
fn missing_resources(c: &Container) -> Vec<String> {
    let has = |m: Option<&BTreeMap<String, Quantity>>, key: &str| m.is_some_and(|m| m.contains_key(key));
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    let mut out = Vec::new();
    for key in ["cpu", "memory"] {
        if !has(requests, key) && !has(limits, key) {
            out.push(format!("requests.{key}"));
        }
    }
    for key in ["cpu", "memory"] {
        if !has(limits, key) {
            out.push(format!("limits.{key}"));
        }
    }
    out
}

// ---- pdb_clickhouse_kafka

pub fn pdb_clickhouse_kafka(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let mut components = Vec::new();
    for name in ctx.params.list("components")? {
        components.push(
            Component::parse(&name)
                .ok_or_else(|| Undecided::error(format!("parameter components: unknown component {name:?}")))?,
        );
    }
    let mut findings = Vec::new();
    let mut reported = BTreeSet::new();
    let mut present = Vec::new();
    let mut workload_count = 0;
    for component in &components {
        let workloads = k.component_workloads(*component);
        if workloads.is_empty() {
            continue;
        }
        present.push(component.key());
        for w in &workloads {
            workload_count += 1;
            let pdbs: Vec<&PodDisruptionBudget> = k
                .pod_disruption_budgets
                .iter()
                .filter(|p| namespace_of(&p.metadata) == w.namespace())
                // policy/v1: an empty selector picks every pod of the namespace, an absent one none.
                .filter(|p| {
                    p.spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref())
                        .is_some_and(|sel| label_selector_matches(sel, w.template_labels()))
                })
                .collect();
            match pdbs.len() {
                0 => findings.push(Finding::new(w.object(), "no PodDisruptionBudget selects its pods")),
                1 => {}
                n => {
                    let names: Vec<_> = pdbs.iter().map(|p| name_of(&p.metadata)).collect();
                    findings.push(Finding::new(
                        w.object(),
                        format!(
                            "its pods are selected by {n} PodDisruptionBudgets ({}): the eviction API refuses to evict them",
                            names.join(", ")
                        ),
                    ));
                }
            }
            for p in pdbs {
                let object = object_ref("PodDisruptionBudget", &p.metadata);
                let Some(spec) = p.spec.as_ref() else { continue };
                if allows_no_disruption(spec, w.replicas) && reported.insert(object.clone()) {
                    findings.push(Finding::new(object, "allows no voluntary disruption: node drains block forever"));
                } else if sets_no_budget(spec) && reported.insert(object.clone()) {
                    findings.push(Finding::new(
                        object,
                        "sets neither minAvailable nor maxUnavailable: it allows every eviction and protects nothing",
                    ));
                }
            }
        }
    }
    if present.is_empty() {
        let keys: Vec<_> = components.iter().map(|c| c.key()).collect();
        return Err(Undecided::skipped(format!(
            "no {} workload in namespaces {}",
            keys.join(" or "),
            namespaces_text(k)
        )));
    }
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{workload_count} {} workloads each have one PodDisruptionBudget that allows disruption",
            present.join("/")
        ),
    ))
}

/// A PDB with neither field expects no healthy pods (the disruption controller's
/// `getExpectedPodCount`), so it allows every eviction.
fn sets_no_budget(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.min_available.is_none() && spec.max_unavailable.is_none()
}

/// Whether a PDB can never allow an eviction. Percentages scale as the disruption controller
/// scales them: rounded up, against the desired replicas where known.
fn allows_no_disruption(spec: &PodDisruptionBudgetSpec, replicas: Option<i32>) -> bool {
    let number = |s: &str| {
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().ok().map(|p| (p, true)),
            None => s.parse::<f64>().ok().map(|n| (n, false)),
        }
    };
    if let Some(max) = &spec.max_unavailable {
        return match max {
            IntOrString::Int(n) => *n <= 0,
            IntOrString::String(s) => number(s).is_some_and(|(n, _)| n <= 0.0),
        };
    }
    let min = match &spec.min_available {
        None => return false,
        Some(IntOrString::Int(n)) => (f64::from(*n), false),
        Some(IntOrString::String(s)) => match number(s) {
            Some(v) => v,
            None => return false,
        },
    };
    match (min, replicas) {
        ((p, true), Some(r)) if r > 0 => (p * f64::from(r) / 100.0).ceil() >= f64::from(r),
        ((p, true), _) => p >= 100.0,
        ((n, false), Some(r)) if r > 0 => n >= f64::from(r),
        _ => false,
    }
}

// ---- node_isolation

pub fn node_isolation(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let key = ctx.params.str("taint_key")?;
    let value = ctx.params.str("taint_value")?;
    let workloads = k.workloads();
    if workloads.is_empty() {
        return Err(Undecided::skipped(format!("no workloads in namespaces {}", namespaces_text(k))));
    }
    let mut findings = Vec::new();
    for w in &workloads {
        let Some(spec) = w.pod_spec else { continue };
        if is_isolated(spec, key, value) {
            continue;
        }
        let mut message =
            format!("no nodeSelector, required node affinity or toleration of {key}={value}: it can land on any node");
        let notes = isolating_nothing(spec);
        if !notes.is_empty() {
            message = format!("{message} ({})", notes.join("; "));
        }
        findings.push(Finding::new(w.object(), message));
    }
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} workloads have a nodeSelector, required node affinity or a toleration of {key}={value}",
            workloads.len()
        ),
    ))
}

/// Node labels every node carries in some value: a selector on them alone picks an operating
/// system or a CPU, not a pool.
const GENERIC_NODE_LABELS: [&str; 4] =
    ["kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch"];

fn picks_a_pool(key: &str) -> bool {
    !GENERIC_NODE_LABELS.contains(&key)
}

fn is_isolated(spec: &PodSpec, key: &str, value: &str) -> bool {
    let selector = spec.node_selector.iter().flatten().any(|(k, _)| picks_a_pool(k));
    // Terms are ORed: every one of them must pin the pod somewhere.
    let affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .is_some_and(|r| {
            !r.node_selector_terms.is_empty()
                && r.node_selector_terms.iter().all(|t| {
                    t.match_expressions.iter().flatten().any(|e| picks_a_pool(&e.key))
                        || t.match_fields.as_ref().is_some_and(|f| !f.is_empty())
                })
        });
    let tolerates = spec.tolerations.iter().flatten().any(|t| tolerates(t, key, value));
    selector || affinity || tolerates
}

/// Why what a pod spec does set isolates nothing, for the finding.
fn isolating_nothing(spec: &PodSpec) -> Vec<String> {
    let mut notes = Vec::new();
    let generic: Vec<&str> = spec.node_selector.iter().flatten().map(|(k, _)| k.as_str()).collect();
    if !generic.is_empty() {
        notes.push(format!("nodeSelector on {} alone matches every node of that kind", generic.join(", ")));
    }
    if spec
        .tolerations
        .iter()
        .flatten()
        .any(|t| t.operator.as_deref() == Some("Exists") && t.key.as_deref().unwrap_or("").is_empty())
    {
        notes.push(
            "a toleration with operator Exists and no key tolerates every taint, so it keeps the pod off no node"
                .to_string(),
        );
    }
    notes
}

/// Whether a toleration is one of the dedicated taint `key=value`. The taint's effect is not
/// known here, so the toleration's effect is not compared. One with `operator: Exists` and no
/// key tolerates every taint: it says nothing of a dedicated pool.
fn tolerates(t: &Toleration, key: &str, value: &str) -> bool {
    let t_key = t.key.as_deref().unwrap_or("");
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => t_key == key,
        "Equal" => t_key == key && t.value.as_deref().unwrap_or("") == value,
        _ => false,
    }
}

// ---- pvc_wait_for_first_consumer

pub fn pvc_wait_for_first_consumer(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let mut claims: Vec<(String, &ObjectMeta, Option<&PersistentVolumeClaimSpec>)> = k
        .persistent_volume_claims
        .iter()
        .filter(|c| k.in_scope(namespace_of(&c.metadata)))
        .map(|c| (object_ref("PersistentVolumeClaim", &c.metadata), &c.metadata, c.spec.as_ref()))
        .collect();
    for w in k.workloads() {
        for t in w.claim_templates {
            claims.push((
                format!("{} volumeClaimTemplate {}", w.object(), name_of(&t.metadata)),
                &t.metadata,
                t.spec.as_ref(),
            ));
        }
    }
    if claims.is_empty() {
        return Err(Undecided::skipped(format!(
            "no PersistentVolumeClaim or volumeClaimTemplate in namespaces {}",
            namespaces_text(k)
        )));
    }
    let mut findings = Vec::new();
    let mut undecided = Vec::new();
    let mut classes = BTreeSet::new();
    for (object, meta, spec) in &claims {
        match k.storage_class_for(meta, *spec) {
            ClassLookup::Refused(e) => findings.push(Finding::new(object, e)),
            ClassLookup::Unknown(e) => undecided.push(Finding::new(object, e)),
            ClassLookup::Found(class) => {
                let name = name_of(&class.metadata);
                // Unset means Immediate, the API default.
                let mode = class.volume_binding_mode.as_deref().unwrap_or("Immediate");
                if mode == "WaitForFirstConsumer" {
                    classes.insert(name);
                } else {
                    findings.push(Finding::new(
                        object,
                        format!(
                            "StorageClass {name} binds {mode}: the volume may be provisioned in a zone the pod cannot run in"
                        ),
                    ));
                }
            }
        }
    }
    Ok(Outcome::from_findings_or_undecided(
        findings,
        undecided,
        format!(
            "{} claims use WaitForFirstConsumer StorageClasses ({})",
            claims.len(),
            classes.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::checks::Params;
    use crate::fixtures::*;
    use crate::fixtures::{finding_objects as objects, fixed_now as now, run_check as run, run_check_with as run_with};
    use crate::outcome::Status;
    use crate::snapshot::{KubeSnapshot, Snapshot};
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::batch::v1::CronJobStatus;
    use k8s_openapi::api::core::v1::{Affinity, HostPathVolumeSource, NodeAffinity, NodeSelector, NodeSelectorTerm};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
    use serde_json::json;

    /// good_stack with the StatefulSet of that name replaced.
    fn replace_sts(mut k: KubeSnapshot, sts: StatefulSet) -> KubeSnapshot {
        let name = sts.metadata.name.clone();
        k.stateful_sets.retain(|s| s.metadata.name != name);
        k.stateful_sets.push(sts);
        k
    }

    fn clickhouse() -> StatefulSetB {
        stateful_set("clickhouse").app("clickhouse").toleration("dedicated", "infrasage")
    }

    fn backup_job(schedule: &str) -> CronJob {
        cron_job("clickhouse-backup", schedule)
            .app("clickhouse-backup")
            .node_selector("node-pool", "infrasage")
            .container(container("backup").resources("200m", "256Mi"))
            .build()
    }

    fn with_backup(cj: CronJob) -> KubeSnapshot {
        KubeSnapshot { cron_jobs: vec![cj], ..good_stack() }
    }

    fn live(mut k: KubeSnapshot) -> KubeSnapshot {
        k.origin = KubeOrigin::Live;
        k
    }

    fn succeeded(mut cj: CronJob, hours_ago: i64) -> CronJob {
        let at = now() - chrono::Duration::hours(hours_ago);
        let ts = k8s_openapi::jiff::Timestamp::from_second(at.timestamp()).unwrap();
        cj.status = Some(CronJobStatus { last_successful_time: Some(Time(ts)), ..Default::default() });
        cj
    }

    #[test]
    fn good_stack_passes_every_infrastructure_item() {
        for id in [
            "clickhouse_persistent_volumes",
            "clickhouse_backup_scheduled",
            "pods_resources_set",
            "pdb_clickhouse_kafka",
            "node_isolation",
            "pvc_wait_for_first_consumer",
        ] {
            let o = run(id, good_stack());
            assert_eq!(o.status, Status::Pass, "{id}: {o:?}");
        }
    }

    #[test]
    fn absent_kubernetes_source_is_skipped() {
        let s = Snapshot::default();
        let item = catalogue::find("node_isolation").unwrap();
        let params = Params::resolve(item, None);
        let ctx = CheckCtx { item, snapshot: &s, params: &params, now: now(), attestation: None };
        assert_eq!(node_isolation(&ctx).unwrap_err().status, Status::Skipped);
    }

    // ---- clickhouse_persistent_volumes

    #[test]
    fn clickhouse_on_empty_dir_fails() {
        let sts = clickhouse()
            .container(container("clickhouse").resources("2", "16Gi").mount("data", "/var/lib/clickhouse"))
            .volume_empty_dir("data")
            .build();
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), sts));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse container clickhouse"]);
        assert!(o.findings[0].message.contains("volume data mounted at /var/lib/clickhouse is emptyDir"), "{o:?}");
    }

    #[test]
    fn clickhouse_on_host_path_of_a_parent_dir_fails() {
        let mut sts =
            clickhouse().container(container("clickhouse").resources("2", "16Gi").mount("host", "/var/lib")).build();
        sts.spec.as_mut().unwrap().template.spec.as_mut().unwrap().volumes = Some(vec![Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource { path: "/mnt/ch".into(), ..Default::default() }),
            ..Default::default()
        }]);
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), sts));
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("is hostPath"), "{o:?}");
    }

    #[test]
    fn clickhouse_without_a_data_mount_fails_once_per_workload() {
        let sts = clickhouse()
            .container(container("clickhouse").resources("2", "16Gi").mount("logs", "/var/log/clickhouse-server"))
            .container(container("exporter").resources("100m", "64Mi"))
            .claim_template("logs", Some("gp3-wait"), "1Gi")
            .build();
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), sts));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse container clickhouse"]);
        assert!(o.findings[0].message.starts_with("nothing mounted at /var/lib/clickhouse"), "{o:?}");
    }

    fn image(c: ContainerB, image: &str) -> ContainerB {
        let mut c = c;
        c.0.image = Some(image.into());
        c
    }

    #[test]
    fn the_bitnami_layout_is_read_from_the_image() {
        let bitnami = |mount: &str| {
            clickhouse()
                .container(
                    image(container("clickhouse"), "docker.io/bitnami/clickhouse:25.3.2")
                        .resources("2", "16Gi")
                        .mount("data", mount),
                )
                .claim_template("data", Some("gp3-wait"), "100Gi")
                .build()
        };
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), bitnami("/bitnami/clickhouse")));
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(o.reason.as_deref(), Some("1 ClickHouse data volumes at /bitnami/clickhouse are PVC-backed"));
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), bitnami("/var/lib/clickhouse")));
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("nothing mounted at /bitnami/clickhouse: ClickHouse data at /bitnami/clickhouse (the Bitnami image's layout)"), "{o:?}");
        // A path set for the item wins over the layout.
        let o = run_with(
            "clickhouse_persistent_volumes",
            replace_sts(good_stack(), bitnami("/var/lib/clickhouse")),
            &[("data_path", json!("/var/lib/clickhouse"))],
        );
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn the_servers_own_config_in_a_config_map_names_the_path() {
        let mut k = good_stack();
        k.config_maps.push(config_map(
            "ch-config",
            &[
                ("10-disks.xml", "<clickhouse><storage_configuration><disks><d><path>/elsewhere/</path></d></disks></storage_configuration></clickhouse>"),
                ("20-path.xml", "<clickhouse><path>/data/ch/</path></clickhouse>"),
            ],
        ));
        let mut sts = clickhouse()
            .container(
                container("clickhouse")
                    .resources("2", "16Gi")
                    .mount("data", "/var/lib/clickhouse")
                    .mount("config", "/etc/clickhouse-server/config.d"),
            )
            .claim_template("data", Some("gp3-wait"), "100Gi")
            .build();
        let spec = sts.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        spec.volumes
            .get_or_insert_with(Vec::new)
            .push(serde_json::from_value(json!({"name": "config", "configMap": {"name": "ch-config"}})).unwrap());
        let o = run("clickhouse_persistent_volumes", replace_sts(k, sts));
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.findings[0].message.contains(
                "nothing mounted at /data/ch: ClickHouse data at /data/ch (20-path.xml in ConfigMap ch-config)"
            ),
            "{o:?}"
        );
    }

    #[test]
    fn scratch_space_inside_the_data_dir_loses_data_but_tmp_does_not() {
        let sts = clickhouse()
            .container(
                container("clickhouse")
                    .resources("2", "16Gi")
                    .mount("data", "/var/lib/clickhouse")
                    .mount("store", "/var/lib/clickhouse/store")
                    .mount("tmp", "/var/lib/clickhouse/tmp"),
            )
            .claim_template("data", Some("gp3-wait"), "100Gi")
            .volume_empty_dir("store")
            .volume_empty_dir("tmp")
            .build();
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), sts));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings.len(), 1, "{o:?}");
        assert!(
            o.findings[0].message.starts_with("volume store (emptyDir) mounted at /var/lib/clickhouse/store"),
            "{o:?}"
        );
    }

    #[test]
    fn keeper_is_judged_as_keeper_and_backup_sidecars_are_not_servers() {
        let keeper = stateful_set("clickhouse-keeper")
            .app("clickhouse")
            .toleration("dedicated", "infrasage")
            .container(
                image(container("keeper"), "clickhouse/clickhouse-keeper:25.8")
                    .resources("1", "2Gi")
                    .mount("coord", "/var/lib/clickhouse-keeper"),
            )
            .claim_template("coord", Some("gp3-wait"), "10Gi")
            .build();
        let mut k = good_stack();
        k.stateful_sets.push(keeper);
        let o = run("clickhouse_persistent_volumes", k.clone());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse-keeper container keeper"]);
        assert!(
            o.findings[0].message.contains(
                "ClickHouse Keeper coordination data at /var/lib/clickhouse (the official Keeper image's layout)"
            ),
            "{o:?}"
        );
        let sidecar = clickhouse()
            .container(container("clickhouse").resources("2", "16Gi").mount("data", "/var/lib/clickhouse"))
            .container(
                image(container("clickhouse-backup"), "altinity/clickhouse-backup:2.6").resources("100m", "128Mi"),
            )
            .claim_template("data", Some("gp3-wait"), "100Gi")
            .build();
        let o = run("clickhouse_persistent_volumes", replace_sts(good_stack(), sidecar));
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn clickhouse_deployment_on_a_claim_passes_and_deepest_mount_decides() {
        let mut k = good_stack();
        k.stateful_sets.retain(|s| s.metadata.name.as_deref() != Some("clickhouse"));
        k.deployments.push(
            deployment("clickhouse")
                .app("clickhouse")
                .container(
                    container("clickhouse")
                        .mount("scratch", "/var/lib")
                        .mount("data", "/var/lib/clickhouse/")
                        .resources("2", "16Gi"),
                )
                .volume_empty_dir("scratch")
                .volume_claim("data", "clickhouse-data")
                .build(),
        );
        let o = run("clickhouse_persistent_volumes", k);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(o.reason.as_deref(), Some("1 ClickHouse data volumes at /var/lib/clickhouse are PVC-backed"));
    }

    #[test]
    fn no_clickhouse_workload_is_skipped() {
        let mut k = good_stack();
        k.stateful_sets.retain(|s| s.metadata.name.as_deref() != Some("clickhouse"));
        let o = run("clickhouse_persistent_volumes", k);
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(o.reason.as_deref(), Some("no ClickHouse workload in namespaces infrasage"));
    }

    // ---- clickhouse_backup_scheduled and the cron gaps

    #[test]
    fn weekday_backups_leave_a_weekend_gap() {
        let o = run("clickhouse_backup_scheduled", with_backup(backup_job("0 2 * * 1-5")));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["CronJob/infrasage/clickhouse-backup"]);
        assert_eq!(o.findings[0].message, "schedule \"0 2 * * 1-5\" leaves up to 3d between runs (max_interval 1d)");
    }

    #[test]
    fn backup_found_by_label_and_a_bad_schedule_is_quoted() {
        let cj = cron_job("nightly-dump", "0 25 * * *").app("clickhouse-backup").build();
        let o = run("clickhouse_backup_scheduled", with_backup(cj));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["CronJob/infrasage/nightly-dump"]);
        assert!(o.findings[0].message.starts_with("schedule \"0 25 * * *\" is not valid cron"), "{o:?}");
    }

    #[test]
    fn no_backup_cron_job_fails() {
        let mut k = good_stack();
        k.cron_jobs.clear();
        k.cron_jobs.push(cron_job("report", "@daily").build());
        let o = run("clickhouse_backup_scheduled", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
        assert_eq!(
            o.findings[0].message,
            "no CronJob matching (?i)clickhouse.*backup|backup.*clickhouse in namespaces infrasage"
        );
    }

    #[test]
    fn backup_out_of_scope_does_not_count() {
        let mut cj = backup_job("@daily");
        cj.metadata.namespace = Some("other".into());
        let o = run("clickhouse_backup_scheduled", with_backup(cj));
        assert_eq!(o.status, Status::Fail);
    }

    #[test]
    fn suspended_backup_fails_but_another_good_one_passes() {
        let mut suspended = backup_job("@daily");
        suspended.spec.as_mut().unwrap().suspend = Some(true);
        let o = run("clickhouse_backup_scheduled", with_backup(suspended.clone()));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "is suspended: it never fires");

        let mut k = with_backup(suspended);
        let mut hourly = backup_job("@hourly");
        hourly.metadata.name = Some("clickhouse-backup-incremental".into());
        k.cron_jobs.push(hourly);
        let o = run("clickhouse_backup_scheduled", k);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o
            .reason
            .unwrap()
            .starts_with("CronJob/infrasage/clickhouse-backup-incremental fires at least every 1h"));
    }

    #[test]
    fn live_backup_needs_a_recent_success() {
        let o = run("clickhouse_backup_scheduled", live(with_backup(backup_job("0 2 * * *"))));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "has never succeeded");

        let o = run("clickhouse_backup_scheduled", live(with_backup(succeeded(backup_job("0 2 * * *"), 50))));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "last succeeded 2d2h ago (max_age 1d2h)");

        let o = run("clickhouse_backup_scheduled", live(with_backup(succeeded(backup_job("0 2 * * *"), 10))));
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().ends_with("and last succeeded 10h ago"));
    }

    #[test]
    fn live_backup_falls_back_to_the_newest_completed_job() {
        use k8s_openapi::api::batch::v1::{Job, JobStatus};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let job = |name: &str, hours_ago: i64, succeeded: i32| {
            let at = now() - chrono::Duration::hours(hours_ago);
            let ts = k8s_openapi::jiff::Timestamp::from_second(at.timestamp()).unwrap();
            Job {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    owner_references: Some(vec![OwnerReference {
                        kind: "CronJob".into(),
                        name: "clickhouse-backup".into(),
                        ..Default::default()
                    }]),
                    ..meta(NS, name)
                },
                status: Some(JobStatus {
                    succeeded: Some(succeeded),
                    completion_time: Some(Time(ts)),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        let mut k = live(with_backup(backup_job("0 2 * * *")));
        k.jobs = vec![job("old", 60, 1), job("failed-recent", 2, 0)];
        let o = run("clickhouse_backup_scheduled", k.clone());
        assert_eq!(o.findings[0].message, "last succeeded 2d12h ago (max_age 1d2h)", "a failed Job does not count");
        k.jobs.push(job("recent", 5, 1));
        let o = run("clickhouse_backup_scheduled", k);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().ends_with("and last succeeded 5h ago"));
    }

    #[test]
    fn manifests_ignore_status_and_max_interval_is_a_param() {
        let o = run_with(
            "clickhouse_backup_scheduled",
            with_backup(backup_job("0 2 * * 1-5")),
            &[("max_interval", json!("3d"))],
        );
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    // ---- pods_resources_set

    #[test]
    fn container_without_limits_and_init_container_without_anything_fail() {
        let mut k = good_stack();
        k.deployments.push(
            deployment("worker")
                .app("worker")
                .init_container(container("migrate"))
                .container(container("worker").requests_only("100m", "128Mi"))
                .build(),
        );
        let o = run("pods_resources_set", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            objects(&o),
            ["Deployment/infrasage/worker init container migrate", "Deployment/infrasage/worker container worker"]
        );
        assert_eq!(o.findings[0].message, "missing requests.cpu, requests.memory, limits.cpu, limits.memory");
        assert_eq!(o.findings[1].message, "missing limits.cpu, limits.memory");
    }

    #[test]
    fn limits_alone_count_as_requests() {
        let mut k = good_stack();
        let mut c = container("worker").resources("100m", "128Mi");
        c.0.resources.as_mut().unwrap().requests = None;
        k.deployments.push(deployment("worker").container(c).build());
        assert_eq!(run("pods_resources_set", k).status, Status::Pass);
    }

    #[test]
    fn out_of_scope_workloads_are_ignored() {
        let mut k = good_stack();
        k.deployments.push(deployment("other").namespace("kube-system").container(container("x")).build());
        assert_eq!(run("pods_resources_set", k).status, Status::Pass);
    }

    // ---- pdb_clickhouse_kafka

    #[test]
    fn kafka_without_pdb_fails_on_the_workload() {
        let mut k = good_stack();
        k.pod_disruption_budgets.retain(|p| p.metadata.name.as_deref() != Some("kafka"));
        let o = run("pdb_clickhouse_kafka", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/kafka"]);
        assert_eq!(o.findings[0].message, "no PodDisruptionBudget selects its pods");
    }

    #[test]
    fn pdbs_that_block_every_drain_fail_on_the_pdb() {
        let mut k = good_stack();
        k.pod_disruption_budgets =
            vec![pdb("clickhouse", "clickhouse", Some(0), None), pdb("kafka", "kafka", None, Some(3))];
        let o = run("pdb_clickhouse_kafka", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["PodDisruptionBudget/infrasage/clickhouse", "PodDisruptionBudget/infrasage/kafka"]);
        assert_eq!(o.findings[0].message, "allows no voluntary disruption: node drains block forever");
    }

    #[test]
    fn pdb_percentages() {
        let spec = |max: Option<&str>, min: Option<&str>| PodDisruptionBudgetSpec {
            max_unavailable: max.map(|s| IntOrString::String(s.into())),
            min_available: min.map(|s| IntOrString::String(s.into())),
            ..Default::default()
        };
        assert!(allows_no_disruption(&spec(Some("0%"), None), Some(3)));
        assert!(!allows_no_disruption(&spec(Some("10%"), None), Some(3)));
        assert!(allows_no_disruption(&spec(None, Some("100%")), None));
        // 90% of 3 rounds up to 3.
        assert!(allows_no_disruption(&spec(None, Some("90%")), Some(3)));
        assert!(!allows_no_disruption(&spec(None, Some("50%")), Some(3)));
        assert!(!allows_no_disruption(&spec(None, None), Some(3)));
    }

    #[test]
    fn empty_pdb_selector_covers_all_and_two_pdbs_block_eviction() {
        let mut k = good_stack();
        let mut all = pdb("everything", "x", Some(1), None);
        all.spec.as_mut().unwrap().selector = Some(LabelSelector::default());
        k.pod_disruption_budgets = vec![all.clone()];
        assert_eq!(run("pdb_clickhouse_kafka", k.clone()).status, Status::Pass);

        k.pod_disruption_budgets.push(pdb("kafka", "kafka", Some(1), None));
        let o = run("pdb_clickhouse_kafka", k.clone());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/kafka"]);
        assert!(o.findings[0].message.contains("2 PodDisruptionBudgets (everything, kafka)"));

        // A PDB without a selector selects nothing.
        all.spec.as_mut().unwrap().selector = None;
        k.pod_disruption_budgets = vec![all];
        let o = run("pdb_clickhouse_kafka", k);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse", "StatefulSet/infrasage/kafka"]);
    }

    #[test]
    fn a_time_zone_in_the_schedule_is_refused_as_the_api_server_refuses_it() {
        let o = run("clickhouse_backup_scheduled", with_backup(backup_job("CRON_TZ=Europe/Paris 0 2 * * *")));
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("the API server refuses TZ and CRON_TZ in schedule"), "{o:?}");
    }

    #[test]
    fn helm_test_hooks_are_not_workloads() {
        let mut k = good_stack();
        let mut test_pod = k8s_openapi::api::core::v1::Pod {
            metadata: meta("infrasage", "gateway-test-connection"),
            spec: Some(PodSpec { containers: vec![container("wget").0], ..Default::default() }),
            ..Default::default()
        };
        let before = run("pods_resources_set", k.clone());
        assert_eq!(before.status, Status::Pass, "{before:?}");
        k.pods.push(test_pod.clone());
        assert_eq!(run("pods_resources_set", k.clone()).status, Status::Fail);
        k.pods.pop();
        test_pod = with_annotations(test_pod, &[("helm.sh/hook", "pre-install, test")]);
        k.pods.push(test_pod);
        assert_eq!(run("pods_resources_set", k).status, Status::Pass);
    }

    #[test]
    fn a_pdb_without_a_budget_protects_nothing() {
        let mut k = good_stack();
        k.pod_disruption_budgets.retain(|p| !p.metadata.name.as_deref().unwrap_or("").contains("kafka"));
        k.pod_disruption_budgets.push(pdb("kafka-chart", "kafka", None, None));
        let o = run("pdb_clickhouse_kafka", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["PodDisruptionBudget/infrasage/kafka-chart"]);
        assert!(o.findings[0].message.starts_with("sets neither minAvailable nor maxUnavailable"), "{o:?}");
    }

    #[test]
    fn pdb_skipped_without_clickhouse_and_kafka() {
        let mut k = good_stack();
        k.stateful_sets.clear();
        let o = run("pdb_clickhouse_kafka", k);
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(o.reason.as_deref(), Some("no clickhouse or kafka workload in namespaces infrasage"));
    }

    #[test]
    fn pdb_unknown_component_is_an_error() {
        let o = run_with("pdb_clickhouse_kafka", good_stack(), &[("components", json!(["zookeeper"]))]);
        assert_eq!(o.status, Status::Error);
    }

    // ---- node_isolation

    #[test]
    fn workload_free_to_land_anywhere_fails() {
        let mut k = good_stack();
        k.deployments.push(deployment("worker").app("worker").container(container("worker")).build());
        let o = run("node_isolation", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/worker"]);
    }

    #[test]
    fn wrong_toleration_fails_and_exists_or_affinity_pass() {
        let sts = |t: Toleration| {
            let mut s = stateful_set("kafka").app("kafka").container(container("kafka")).build();
            s.spec.as_mut().unwrap().template.spec.as_mut().unwrap().tolerations = Some(vec![t]);
            s
        };
        let tol = |key: Option<&str>, op: &str, value: Option<&str>| Toleration {
            key: key.map(Into::into),
            operator: Some(op.into()),
            value: value.map(Into::into),
            ..Default::default()
        };
        let o = run("node_isolation", replace_sts(good_stack(), sts(tol(Some("dedicated"), "Equal", Some("gpu")))));
        assert_eq!(objects(&o), ["StatefulSet/infrasage/kafka"]);
        assert_eq!(
            run("node_isolation", replace_sts(good_stack(), sts(tol(Some("dedicated"), "Exists", None)))).status,
            Status::Pass
        );
        // Tolerating every taint keeps the pod off no node.
        let o = run("node_isolation", replace_sts(good_stack(), sts(tol(None, "Exists", None))));
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("operator Exists and no key tolerates every taint"), "{o:?}");

        let with_affinity = |keys: &[&str]| {
            let mut s = stateful_set("kafka").app("kafka").container(container("kafka")).build();
            let expressions: Vec<_> =
                keys.iter().map(|k| json!({"key": k, "operator": "In", "values": ["x"]})).collect();
            s.spec.as_mut().unwrap().template.spec.as_mut().unwrap().affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![serde_json::from_value::<NodeSelectorTerm>(
                            json!({"matchExpressions": expressions}),
                        )
                        .unwrap()],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
            s
        };
        assert_eq!(
            run("node_isolation", replace_sts(good_stack(), with_affinity(&["node-pool"]))).status,
            Status::Pass
        );
        assert_eq!(
            run("node_isolation", replace_sts(good_stack(), with_affinity(&["kubernetes.io/arch"]))).status,
            Status::Fail
        );
    }

    #[test]
    fn a_selector_on_the_operating_system_alone_isolates_nothing() {
        let sts = stateful_set("kafka")
            .app("kafka")
            .container(container("kafka"))
            .node_selector("kubernetes.io/os", "linux")
            .build();
        let o = run("node_isolation", replace_sts(good_stack(), sts));
        assert_eq!(o.status, Status::Fail);
        assert!(o.findings[0].message.contains("nodeSelector on kubernetes.io/os alone"), "{o:?}");
        let sts = stateful_set("kafka")
            .app("kafka")
            .container(container("kafka"))
            .node_selector("kubernetes.io/os", "linux")
            .node_selector("node-pool", "infrasage")
            .build();
        assert_eq!(run("node_isolation", replace_sts(good_stack(), sts)).status, Status::Pass);
    }

    // ---- pvc_wait_for_first_consumer

    #[test]
    fn immediate_binding_class_fails_on_the_template() {
        let mut k = good_stack();
        k.storage_classes.push(storage_class("gp2", "Immediate", false));
        let sts = clickhouse()
            .container(container("clickhouse").resources("2", "16Gi").mount("data", "/var/lib/clickhouse"))
            .claim_template("data", Some("gp2"), "500Gi")
            .build();
        let o = run("pvc_wait_for_first_consumer", replace_sts(k, sts));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/clickhouse volumeClaimTemplate data"]);
        assert!(o.findings[0].message.starts_with("StorageClass gp2 binds Immediate"));
    }

    #[test]
    fn unresolvable_classes_fail_on_the_pvc() {
        let mut k = good_stack();
        let mut unset = storage_class("legacy", "WaitForFirstConsumer", false);
        unset.volume_binding_mode = None;
        k.storage_classes.push(unset);
        k.persistent_volume_claims = vec![
            pvc("missing-class", Some("fast"), "1Gi"),
            pvc("static", Some(""), "1Gi"),
            pvc("legacy", Some("legacy"), "1Gi"),
        ];
        let mut elsewhere = pvc("elsewhere", Some("fast"), "1Gi");
        elsewhere.metadata.namespace = Some("other".into());
        k.persistent_volume_claims.push(elsewhere);
        let o = run("pvc_wait_for_first_consumer", live(k.clone()));
        assert_eq!(
            objects(&o),
            [
                "PersistentVolumeClaim/infrasage/missing-class",
                "PersistentVolumeClaim/infrasage/static",
                "PersistentVolumeClaim/infrasage/legacy"
            ]
        );
        assert_eq!(o.findings[0].message, "StorageClass fast does not exist: the claim stays Pending");
        assert!(o.findings[2].message.contains("binds Immediate"));
        // From files, a class the cluster may provide is undecided, never a failure by itself.
        let o = run("pvc_wait_for_first_consumer", k.clone());
        assert_eq!(objects(&o), ["PersistentVolumeClaim/infrasage/static", "PersistentVolumeClaim/infrasage/legacy"]);
        assert!(o.reason.as_deref().unwrap().ends_with("(1 more could not be decided)"), "{o:?}");
        k.persistent_volume_claims = vec![pvc("missing-class", Some("fast"), "1Gi")];
        k.stateful_sets.clear();
        let o = run("pvc_wait_for_first_consumer", k);
        assert_eq!(o.status, Status::Error);
        assert_eq!(
            o.reason.as_deref(),
            Some("StorageClass fast is not in the files: how it binds cannot be known offline")
        );
    }

    #[test]
    fn the_beta_annotation_wins_over_the_class_name() {
        let mut k = good_stack();
        k.storage_classes.push(storage_class("gp2", "Immediate", false));
        let mut claim = pvc("annotated", Some("gp3-wait"), "1Gi");
        claim = with_annotations(claim, &[("volume.beta.kubernetes.io/storage-class", "gp2")]);
        k.persistent_volume_claims = vec![claim];
        let o = run("pvc_wait_for_first_consumer", k);
        assert_eq!(objects(&o), ["PersistentVolumeClaim/infrasage/annotated"]);
        assert!(o.findings[0].message.starts_with("StorageClass gp2 binds Immediate"), "{o:?}");
    }

    #[test]
    fn no_default_class_fails_the_unset_template_live_and_is_undecided_from_files() {
        let mut k = good_stack();
        k.storage_classes = vec![storage_class("gp3-wait", "WaitForFirstConsumer", false)];
        let o = run("pvc_wait_for_first_consumer", live(k.clone()));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["StatefulSet/infrasage/kafka volumeClaimTemplate data"]);
        let o = run("pvc_wait_for_first_consumer", k);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.as_deref().unwrap().contains("the cluster's default cannot be known offline"), "{o:?}");
    }

    // ---- clickhouse_backup_scheduled, ClickHouse half

    #[test]
    fn a_recent_backup_in_system_backups_passes_either_way() {
        use crate::fixtures::{clickhouse_only, clickhouse_snapshot, run_on_snapshot};
        // No Kubernetes at all: ClickHouse alone decides.
        let mut ch = clickhouse_snapshot();
        let o = run_on_snapshot("clickhouse_backup_scheduled", &clickhouse_only(ch.clone()), &[]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        // The bad stack's CronJob fails, the recorded backup still passes.
        let mut s = clickhouse_only(ch.clone());
        s.kubernetes = crate::snapshot::SourceState::Ready(crate::fixtures::bad_stack().into());
        assert_eq!(run_on_snapshot("clickhouse_backup_scheduled", &s, &[]).status, Status::Pass);
        // An old backup is a finding next to the CronJob's.
        ch.backups.as_mut().unwrap().last_backup = Some(now() - chrono::Duration::hours(30));
        s.clickhouse = crate::snapshot::SourceState::Ready(ch.clone().into());
        let o = run_on_snapshot("clickhouse_backup_scheduled", &s, &[]);
        assert_eq!(o.status, Status::Fail);
        let last = o.findings.last().unwrap();
        assert_eq!(last.object, "ClickHouse system.backups");
        assert_eq!(last.message, "the newest successful BACKUP is from 2025-06-01T06:00:00+00:00, older than 1day 2h");
        assert!(o.findings.len() >= 2, "{o:?}");
        // A server without system.backups leaves the Kubernetes verdict alone.
        ch.backups = Err("no system.backups".into());
        s.clickhouse = crate::snapshot::SourceState::Ready(ch.into());
        let kube_only = run("clickhouse_backup_scheduled", crate::fixtures::bad_stack());
        assert_eq!(run_on_snapshot("clickhouse_backup_scheduled", &s, &[]), kube_only);
    }
}
