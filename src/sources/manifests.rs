//! Kubernetes from rendered manifests: files, folders (recursively) or stdin; multi-document
//! YAML, JSON and `kind: List`. Files are re-read at every gather so `serve --manifests` follows
//! edits; stdin is read once. A malformed document is reported with its file and index and
//! the rest still load; unknown kinds are ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::{BoxFuture, Gathered, Source};
use crate::catalogue::SourceId;
use crate::config::{component_selectors, KubernetesConfig};
use crate::snapshot::kubernetes::{KubeOrigin, KubeScope, SecretBytes};
use crate::snapshot::{KubeSnapshot, SecretObject, SourceData};

pub struct ManifestSource {
    inputs: std::sync::Arc<Inputs>,
    timeout: Duration,
}

struct Inputs {
    paths: Vec<PathBuf>,
    stdin: Option<String>,
    scope: KubeScope,
}

impl ManifestSource {
    /// Reads stdin now if `-` is among the paths; checks the other paths exist.
    pub fn new(paths: Vec<PathBuf>, k: &KubernetesConfig) -> Result<Self, String> {
        let mut stdin = None;
        for p in &paths {
            if p.as_os_str() == "-" {
                if stdin.is_none() {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                        .map_err(|e| format!("cannot read manifests from stdin: {e}"))?;
                    stdin = Some(text);
                }
            } else if !p.exists() {
                return Err(format!("manifests: {} does not exist", p.display()));
            }
        }
        let scope = KubeScope { namespaces: k.namespaces.clone(), components: component_selectors(k) };
        Ok(ManifestSource { inputs: std::sync::Arc::new(Inputs { paths, stdin, scope }), timeout: k.timeout.0 })
    }

    /// One full read of every input.
    pub fn load(&self) -> Result<Gathered, String> {
        self.inputs.load()
    }
}

impl Inputs {
    fn load(&self) -> Result<Gathered, String> {
        let mut loader = Loader::new(self.scope.clone());
        for p in &self.paths {
            if p.as_os_str() == "-" {
                loader.add_text("<stdin>", self.stdin.as_deref().unwrap_or(""));
            } else {
                loader.add_path(p)?;
            }
        }
        Ok(loader.finish())
    }
}

impl Source for ManifestSource {
    fn id(&self) -> SourceId {
        SourceId::Kubernetes
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        // File reads and parsing block: keep them off the async workers.
        let inputs = std::sync::Arc::clone(&self.inputs);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inputs.load())
                .await
                .unwrap_or_else(|e| Err(format!("manifest loader failed: {e}")))
        })
    }
}

/// Accumulates objects from any number of texts into one snapshot.
pub struct Loader {
    snap: KubeSnapshot,
    warnings: Vec<String>,
    default_namespace: String,
}

impl Loader {
    pub fn new(scope: KubeScope) -> Self {
        let default_namespace = scope.namespaces.first().cloned().unwrap_or_else(|| "default".to_string());
        Loader {
            snap: KubeSnapshot { origin: KubeOrigin::Manifests, scope, ..Default::default() },
            warnings: Vec::new(),
            default_namespace,
        }
    }

    pub fn add_path(&mut self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                let is_manifest =
                    e.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
                if e.is_dir() || is_manifest {
                    self.add_path(&e)?;
                }
            }
            Ok(())
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            self.add_text(&path.display().to_string(), &text);
            Ok(())
        }
    }

    pub fn add_text(&mut self, origin: &str, text: &str) {
        for (index, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            match Value::deserialize(doc) {
                Ok(Value::Null) => {}
                Ok(v) => self.add_value(origin, index + 1, v),
                Err(e) => {
                    self.warn(origin, index + 1, e.to_string());
                    // The YAML stream cannot resynchronise after a syntax error.
                    break;
                }
            }
        }
    }

    fn warn(&mut self, origin: &str, index: usize, message: String) {
        let w = format!("{origin} document {index}: {message}");
        tracing::warn!(target: "manifests", "{w}");
        self.warnings.push(w);
    }

    fn add_value(&mut self, origin: &str, index: usize, v: Value) {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        if kind.ends_with("List") {
            if let Some(Value::Array(items)) = v.get("items") {
                for item in items.clone() {
                    self.add_value(origin, index, item);
                }
            }
            return;
        }
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        if let Err(e) = self.add_object(&api, &kind, v) {
            self.warn(origin, index, format!("{kind} {e}"));
        }
    }

    fn add_object(&mut self, api: &str, kind: &str, v: Value) -> Result<(), String> {
        let ns = self.default_namespace.clone();
        let s = &mut self.snap;
        match (api, kind) {
            ("apps/v1", "Deployment") => s.deployments.push(typed(v, &ns)?),
            ("apps/v1", "StatefulSet") => s.stateful_sets.push(typed(v, &ns)?),
            ("apps/v1", "DaemonSet") => s.daemon_sets.push(typed(v, &ns)?),
            ("batch/v1", "CronJob") => s.cron_jobs.push(typed(v, &ns)?),
            ("batch/v1", "Job") => s.jobs.push(typed(v, &ns)?),
            ("v1", "Pod") => s.pods.push(typed(v, &ns)?),
            ("v1", "Service") => s.services.push(typed(v, &ns)?),
            ("v1", "ConfigMap") => s.config_maps.push(typed(v, &ns)?),
            ("v1", "Namespace") => s.namespaces.push(typed(v, "")?),
            ("v1", "PersistentVolumeClaim") => s.persistent_volume_claims.push(typed(v, &ns)?),
            ("v1", "PersistentVolume") => s.persistent_volumes.push(typed(v, "")?),
            ("v1", "Secret") => {
                let secret: k8s_openapi::api::core::v1::Secret = typed(v, &ns)?;
                s.secrets.push(secret_object(secret));
            }
            ("networking.k8s.io/v1", "Ingress") => s.ingresses.push(typed(v, &ns)?),
            ("networking.k8s.io/v1", "NetworkPolicy") => s.network_policies.push(typed(v, &ns)?),
            ("policy/v1", "PodDisruptionBudget") => s.pod_disruption_budgets.push(typed(v, &ns)?),
            ("autoscaling/v2", "HorizontalPodAutoscaler") => s.horizontal_pod_autoscalers.push(typed(v, &ns)?),
            ("storage.k8s.io/v1", "StorageClass") => s.storage_classes.push(typed(v, "")?),
            _ => tracing::debug!(target: "manifests", "ignoring {api} {kind}: no item reads it"),
        }
        Ok(())
    }

    pub fn finish(self) -> Gathered {
        Gathered { data: SourceData::Kubernetes(Box::new(self.snap)), warnings: self.warnings }
    }
}

/// Deserializes one object; a namespaced object without a namespace lands in `default_ns`
/// as `kubectl apply -n` would put it.
fn typed<
    T: DeserializeOwned + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    v: Value,
    default_ns: &str,
) -> Result<T, String> {
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>").to_string();
    // Secret and ConfigMap values may be credentials: name the path, never the value.
    let redact = matches!(v.get("kind").and_then(Value::as_str), Some("Secret" | "ConfigMap"));
    let mut obj: T = serde_path_to_error::deserialize(v).map_err(|e| {
        if redact {
            format!("{name}: at {}: invalid value (not shown)", e.path())
        } else {
            format!("{name}: at {}: {}", e.path(), e.inner())
        }
    })?;
    let meta = obj.metadata_mut();
    if meta.namespace.is_none() && !default_ns.is_empty() {
        meta.namespace = Some(default_ns.to_string());
    }
    Ok(obj)
}

/// Keeps only what checks may read; `stringData` wins over `data` as the API server merges it.
fn secret_object(s: k8s_openapi::api::core::v1::Secret) -> SecretObject {
    let mut data: std::collections::BTreeMap<String, SecretBytes> =
        s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, SecretBytes(v.0))).collect();
    for (k, v) in s.string_data.unwrap_or_default() {
        data.insert(k, SecretBytes(v.into_bytes()));
    }
    SecretObject {
        namespace: s.metadata.namespace.unwrap_or_default(),
        name: s.metadata.name.unwrap_or_default(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (KubeSnapshot, Vec<String>) {
        let mut l = Loader::new(KubeScope::default());
        l.add_text("test.yaml", text);
        let g = l.finish();
        let SourceData::Kubernetes(k) = g.data else { panic!("the manifest loader fills Kubernetes") };
        (*k, g.warnings)
    }

    #[test]
    fn multi_document_yaml_json_and_lists() {
        let (k, w) = load(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: { name: gw }
spec: { selector: {}, template: { spec: { containers: [ { name: c } ] } } }
---
---
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "other"}, "data": {"a": "b"}}
---
apiVersion: v1
kind: List
items:
  - { apiVersion: v1, kind: Service, metadata: { name: s1 } }
  - { apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: { name: sc }, provisioner: x }
---
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
"#,
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            k.deployments[0].metadata.namespace.as_deref(),
            Some("infrasage"),
            "defaults to the first namespace"
        );
        assert_eq!(k.config_maps[0].metadata.namespace.as_deref(), Some("other"));
        assert_eq!(k.services.len(), 1);
        assert_eq!(k.storage_classes[0].metadata.namespace, None, "cluster-scoped stays so");
    }

    #[test]
    fn a_malformed_document_is_reported_and_the_rest_load() {
        let (k, w) = load(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: { name: broken }
spec: { replicas: many, selector: {}, template: {} }
---
apiVersion: v1
kind: Service
metadata: { name: fine }
"#,
        );
        assert_eq!(k.services.len(), 1);
        assert!(k.deployments.is_empty());
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("test.yaml document 1: Deployment broken: at spec.replicas"), "{}", w[0]);
    }

    #[test]
    fn yaml_syntax_errors_name_the_document() {
        let (k, w) = load("apiVersion: v1\nkind: Service\nmetadata: { name: a }\n---\nkey: [unclosed\n");
        assert_eq!(k.services.len(), 1);
        assert!(w[0].starts_with("test.yaml document 2:"), "{w:?}");
    }

    #[test]
    fn secrets_merge_string_data_and_never_print() {
        let (k, _) = load(
            "apiVersion: v1\nkind: Secret\nmetadata: { name: jwt }\ndata: { a: aHVudGVyMg== }\nstringData: { b: swordfish }\n",
        );
        let s = &k.secrets[0];
        assert_eq!(s.data["a"].0, b"hunter2");
        assert_eq!(s.data["b"].0, b"swordfish");
        let debug = format!("{k:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("swordfish") && !debug.contains("aHVudGVyMg"));
    }

    #[test]
    fn a_bad_secret_value_is_reported_without_the_value() {
        let (_, w) = load("apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { pw: [31337421] }\n");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("Secret s: at stringData.pw"), "{w:?}");
        assert!(!w[0].contains("31337421"), "{w:?}");
    }
}
