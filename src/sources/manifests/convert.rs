//! Which apiVersion of each kind the items read, as a v1.34 API server serves them: the
//! version read as is, an older version still served and converted as the server converts
//! it, or a version no longer served (named in a warning, never read as if it were current).

use serde_json::{json, Map, Value};

pub type Conversion = fn(Value) -> Result<(Value, &'static str), String>;

pub enum Route {
    Read,
    Convert(Conversion),
    NotServed(String),
    /// A kind no item reads.
    Ignore,
}

/// The kinds the snapshot holds and the one version the loader reads each in.
const READ: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "PersistentVolume"),
    ("v1", "Secret"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("storage.k8s.io/v1", "StorageClass"),
];

/// Versions Kubernetes once served for these kinds, and the release that stopped serving them.
const REMOVED: &[(&str, &str, &str)] = &[
    ("extensions/v1beta1", "Deployment", "1.16"),
    ("extensions/v1beta1", "DaemonSet", "1.16"),
    ("extensions/v1beta1", "NetworkPolicy", "1.16"),
    ("extensions/v1beta1", "Ingress", "1.22"),
    ("apps/v1beta1", "Deployment", "1.16"),
    ("apps/v1beta1", "StatefulSet", "1.16"),
    ("apps/v1beta2", "Deployment", "1.16"),
    ("apps/v1beta2", "StatefulSet", "1.16"),
    ("apps/v1beta2", "DaemonSet", "1.16"),
    ("networking.k8s.io/v1beta1", "Ingress", "1.22"),
    ("batch/v1beta1", "CronJob", "1.25"),
    ("batch/v2alpha1", "CronJob", "1.21"),
    ("policy/v1beta1", "PodDisruptionBudget", "1.25"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26"),
    ("storage.k8s.io/v1beta1", "StorageClass", "1.22"),
];

pub fn route(api: &str, kind: &str) -> Route {
    if READ.contains(&(api, kind)) {
        return Route::Read;
    }
    if (api, kind) == ("autoscaling/v1", "HorizontalPodAutoscaler") {
        return Route::Convert(hpa_v1_to_v2);
    }
    let Some((served, _)) = READ.iter().find(|(_, k)| *k == kind) else { return Route::Ignore };
    if let Some((_, _, since)) = REMOVED.iter().find(|(a, k, _)| *a == api && *k == kind) {
        return Route::NotServed(format!("no longer served since Kubernetes {since} (use {served})"));
    }
    if api.contains('.') && !api.contains("k8s.io") {
        // A custom resource that shares the name (Knative's Service, ...): not the built-in kind.
        return Route::NotServed(format!("not the Kubernetes {kind} ({served}); no item reads this kind"));
    }
    Route::NotServed(format!("not a version the API server serves for {kind} (it serves {served})"))
}

const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// autoscaling/v1 → v2 as the API server converts it: `targetCPUUtilizationPercentage` becomes
/// a Resource cpu Utilization metric; the metrics and behavior that v1 keeps in annotations
/// move into the spec.
fn hpa_v1_to_v2(mut v: Value) -> Result<(Value, &'static str), String> {
    v["apiVersion"] = json!("autoscaling/v2");
    let mut metrics = Vec::new();
    let mut behavior = None;
    if let Some(ann) = v.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        if let Some(text) = ann.remove(METRICS_ANNOTATION) {
            let list: Vec<Value> = text
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok())
                .ok_or_else(|| format!("annotation {METRICS_ANNOTATION} is not a JSON list of metrics"))?;
            for m in list {
                metrics.push(alpha_metric(m)?);
            }
        }
        if let Some(text) = ann.remove(BEHAVIOR_ANNOTATION) {
            behavior = Some(
                text.as_str()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .ok_or_else(|| format!("annotation {BEHAVIOR_ANNOTATION} is not JSON"))?,
            );
        }
        for k in ["autoscaling.alpha.kubernetes.io/conditions", "autoscaling.alpha.kubernetes.io/current-metrics"] {
            ann.remove(k);
        }
        if ann.is_empty() {
            v["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage").filter(|c| !c.is_null()) {
            let m = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}});
            metrics.insert(0, m);
        }
        if !metrics.is_empty() {
            spec.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(b) = behavior {
            spec.insert("behavior".into(), b);
        }
    }
    if let Some(status) = v.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("currentCPUUtilizationPercentage");
    }
    Ok((v, "autoscaling/v2"))
}

/// One metric of the v1 annotation (the v2beta1 shape) in the v2 shape.
fn alpha_metric(m: Value) -> Result<Value, String> {
    let ty = m.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let field = match ty.as_str() {
        "Resource" => "resource",
        "Pods" => "pods",
        "Object" => "object",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => return Err(format!("annotation {METRICS_ANNOTATION}: metric type {ty:?} unknown")),
    };
    let src = m.get(field).and_then(Value::as_object).cloned().unwrap_or_default();
    let mut out = Map::new();
    let mut target = Map::new();
    let mut metric = Map::new();
    for (k, val) in src {
        match k.as_str() {
            "targetAverageUtilization" => {
                target.insert("type".into(), json!("Utilization"));
                target.insert("averageUtilization".into(), val);
            }
            "targetAverageValue" => {
                target.insert("type".into(), json!("AverageValue"));
                target.insert("averageValue".into(), val);
            }
            "targetValue" => {
                target.insert("type".into(), json!("Value"));
                target.insert("value".into(), val);
            }
            "averageValue" => {
                target.insert("type".into(), json!("AverageValue"));
                target.insert("averageValue".into(), val);
            }
            "metricName" => {
                metric.insert("name".into(), val);
            }
            "selector" | "metricSelector" => {
                metric.insert("selector".into(), val);
            }
            "target" => {
                out.insert("describedObject".into(), val);
            }
            _ => {
                out.insert(k, val);
            }
        }
    }
    if !metric.is_empty() {
        out.insert("metric".into(), Value::Object(metric));
    }
    out.insert("target".into(), Value::Object(target));
    Ok(json!({"type": ty, field: Value::Object(out)}))
}
