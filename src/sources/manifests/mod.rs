//! Kubernetes from rendered manifests: files, folders (recursively) or stdin; multi-document
//! YAML, JSON and `kind: List`, read as `kubectl apply -f` reads them (see `yaml`). Files are
//! re-read at every gather so `serve --manifests` follows edits; stdin and pipes are read
//! once. A malformed document is reported with its file, index and line and the rest still
//! load; kinds no item reads are ignored; a kind the items read in a version the API server
//! does not serve is named in a warning, never dropped silently.

mod convert;
mod files;
pub use crate::yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{BoxFuture, Gathered, Source};
use crate::catalogue::SourceId;
use crate::config::{component_selectors, KubernetesConfig};
use crate::snapshot::kubernetes::{KubeOrigin, KubeScope, SecretBytes, UnreadObject};
use crate::snapshot::{KubeSnapshot, SecretObject, SourceData};

pub struct ManifestSource {
    inputs: std::sync::Arc<Inputs>,
    timeout: Duration,
}

/// What the loader may take in: per file (and stdin) and per document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let k = KubernetesConfig::default();
        Limits { max_bytes: k.max_manifest_bytes, max_depth: k.max_manifest_depth }
    }
}

struct Inputs {
    paths: Vec<PathBuf>,
    /// stdin (`-`) and named pipes, read once at start: they cannot be read again.
    once: HashMap<PathBuf, String>,
    scope: KubeScope,
    limits: Limits,
}

impl ManifestSource {
    /// Reads stdin (and named pipes such as `<(helm template ...)`) now, capped; checks the
    /// other paths exist.
    pub fn new(paths: Vec<PathBuf>, k: &KubernetesConfig) -> Result<Self, String> {
        let limits = Limits { max_bytes: k.max_manifest_bytes, max_depth: k.max_manifest_depth };
        let mut once = HashMap::new();
        for p in &paths {
            if once.contains_key(p) {
                continue;
            }
            if p.as_os_str() == "-" {
                let text = files::read_capped(std::io::stdin(), "<stdin>", limits.max_bytes)?;
                once.insert(p.clone(), text);
            } else if !p.exists() {
                return Err(format!("manifests: {} does not exist", p.display()));
            } else if is_fifo(p) {
                let f = std::fs::File::open(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                once.insert(p.clone(), files::read_capped(f, &p.display().to_string(), limits.max_bytes)?);
            }
        }
        let scope = KubeScope { namespaces: k.namespaces.clone(), components: component_selectors(k) };
        Ok(ManifestSource { inputs: std::sync::Arc::new(Inputs { paths, once, scope, limits }), timeout: k.timeout.0 })
    }

    /// One full read of every input.
    pub fn load(&self) -> Result<Gathered, String> {
        self.inputs.load()
    }
}

fn is_fifo(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(p).is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        false
    }
}

impl Inputs {
    fn load(&self) -> Result<Gathered, String> {
        let mut loader = Loader::with_limits(self.scope.clone(), self.limits);
        for p in &self.paths {
            match self.once.get(p) {
                Some(text) if p.as_os_str() == "-" => loader.add_text("<stdin>", text),
                Some(text) => loader.add_text(&p.display().to_string(), text),
                None => loader.add_path(p)?,
            }
        }
        let names: Vec<String> = self
            .paths
            .iter()
            .map(|p| if p.as_os_str() == "-" { "<stdin>".into() } else { p.display().to_string() })
            .collect();
        loader.finish_or_error(&names.join(", "))
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
    limits: Limits,
    seen_files: files::Seen,
    /// kind/namespace/name → where it was defined, for `apply`'s "the later one wins".
    defined: HashMap<(String, String, String), String>,
    objects: usize,
    ignored: usize,
}

impl Loader {
    pub fn new(scope: KubeScope) -> Self {
        Self::with_limits(scope, Limits::default())
    }

    pub fn with_limits(scope: KubeScope, limits: Limits) -> Self {
        let default_namespace = scope.namespaces.first().cloned().unwrap_or_else(|| "default".to_string());
        Loader {
            snap: KubeSnapshot { origin: KubeOrigin::Manifests, scope, ..Default::default() },
            warnings: Vec::new(),
            default_namespace,
            limits,
            seen_files: files::Seen::default(),
            defined: HashMap::new(),
            objects: 0,
            ignored: 0,
        }
    }

    /// A path named by the user: it must exist and be a file or folder (or a pipe, read
    /// capped); inside folders, anything unreadable is a warning and the walk goes on.
    pub fn add_path(&mut self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if let Some(kind) = files::special_kind(&meta) {
            if !is_fifo(path) {
                return Err(format!("{} is {kind}, not a manifest file or folder", path.display()));
            }
            let f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let text = files::read_capped(f, &path.display().to_string(), self.limits.max_bytes)?;
            self.add_text(&path.display().to_string(), &text);
            return Ok(());
        }
        self.walk(path, meta);
        Ok(())
    }

    fn walk(&mut self, path: &Path, meta: std::fs::Metadata) {
        if !self.seen_files.first(&meta) {
            self.warn_plain(format!(
                "{} was already read through another path (a symlink or a path given twice): read once",
                path.display()
            ));
            return;
        }
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => return self.warn_plain(format!("cannot read {}: {e}", path.display())),
            };
            entries.sort();
            for e in entries {
                // symlink_metadata first: a dangling or looping link is named, not followed.
                let Ok(own) = std::fs::symlink_metadata(&e) else { continue };
                let target = if own.file_type().is_symlink() {
                    match std::fs::metadata(&e) {
                        Ok(m) => m,
                        Err(err) => {
                            self.warn_plain(format!("{}: cannot follow the symlink ({err}): skipped", e.display()));
                            continue;
                        }
                    }
                } else {
                    own
                };
                if target.is_dir() {
                    self.walk(&e, target);
                } else if files::is_manifest_name(&e) {
                    if let Some(kind) = files::special_kind(&target) {
                        self.warn_plain(format!("{} is {kind}, not a manifest file: skipped", e.display()));
                    } else {
                        self.walk(&e, target);
                    }
                }
            }
        } else {
            match files::read_regular(path, self.limits.max_bytes) {
                Ok(text) => self.add_text(&path.display().to_string(), &text),
                Err(e) => self.warn_plain(e),
            }
        }
    }

    pub fn add_text(&mut self, origin: &str, text: &str) {
        for doc in yaml::documents(text, self.limits.max_depth) {
            for w in doc.warnings {
                self.warn(origin, doc.index, w);
            }
            match doc.value {
                Ok(Value::Null) => {}
                Ok(v) => self.add_value(origin, doc.index, doc.line, v),
                Err(e) => self.warn(origin, doc.index, e),
            }
        }
    }

    fn warn(&mut self, origin: &str, index: usize, message: String) {
        self.warn_plain(format!("{origin} document {index}: {message}"));
    }

    fn warn_plain(&mut self, w: String) {
        tracing::warn!(target: "manifests", "{w}");
        self.warnings.push(w);
    }

    fn add_value(&mut self, origin: &str, index: usize, line: usize, v: Value) {
        let Value::Object(_) = v else {
            return self.warn(origin, index, format!("line {line}: not a Kubernetes object (no mapping)"));
        };
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        if kind.is_empty() || api.is_empty() {
            let missing = if kind.is_empty() { "kind" } else { "apiVersion" };
            return self.warn(origin, index, format!("line {line}: no {missing}: not a Kubernetes object, not read"));
        }
        if kind.ends_with("List") && v.get("items").is_some() {
            match v.get("items") {
                Some(Value::Array(items)) => {
                    for item in items.clone() {
                        self.add_value(origin, index, line, item);
                    }
                }
                Some(Value::Null) => {}
                _ => self.warn(origin, index, format!("line {line}: {kind} items is not a list: not read")),
            }
            return;
        }
        let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let (v, api) = match convert::route(&api, &kind) {
            convert::Route::Read => (v, api),
            convert::Route::Convert(f) => match f(v) {
                Ok((v, api)) => (v, api.to_string()),
                Err(e) => return self.warn(origin, index, format!("{api} {kind} {name}: {e}")),
            },
            convert::Route::NotServed(why) => {
                return self.warn(origin, index, format!("{api} {kind} {name}: {why}: not read"));
            }
            convert::Route::Ignore => {
                self.ignored += 1;
                if self.snap.unread.len() < MAX_UNREAD_RECORDED {
                    let ns =
                        v.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(&self.default_namespace);
                    self.snap.unread.push(UnreadObject {
                        api_version: api.clone(),
                        kind: kind.clone(),
                        namespace: ns.to_string(),
                        name: name.clone(),
                    });
                }
                tracing::debug!(target: "manifests", "ignoring {api} {kind}: no item reads it");
                return;
            }
        };
        if name.is_empty() {
            return self.warn(
                origin,
                index,
                format!("{kind} without metadata.name: the API server refuses it (apply needs a name), not read"),
            );
        }
        // The API server refuses a time zone in a new CronJob's schedule (batch validation);
        // kept, so the backup item names it, but warned as the server's refusal.
        if kind == "CronJob" && v.pointer("/spec/schedule").and_then(Value::as_str).is_some_and(|s| s.contains("TZ")) {
            self.warn(
                origin,
                index,
                format!("{api} {kind} {name}: spec.schedule names a time zone: the API server refuses TZ and CRON_TZ there (use spec.timeZone)"),
            );
        }
        match self.add_object(&api, &kind, &name, v) {
            Ok(ns) => {
                let key = (kind.clone(), ns.clone(), name.clone());
                let here = format!("{origin} document {index}");
                if let Some(before) = self.defined.insert(key, here) {
                    self.remove_earlier(&kind, &ns, &name);
                    let shown = if ns.is_empty() { name } else { format!("{ns}/{name}") };
                    self.warn(
                        origin,
                        index,
                        format!("{kind} {shown} is also defined in {before}: one object, this later one wins as kubectl apply would"),
                    );
                } else {
                    self.objects += 1;
                }
            }
            Err(e) => self.warn(origin, index, format!("{kind} {e}")),
        }
    }

    /// Places one object of a kind and version the items read; returns its namespace.
    fn add_object(&mut self, api: &str, kind: &str, name: &str, v: Value) -> Result<String, String> {
        let ns = self.default_namespace.clone();
        let s = &mut self.snap;
        let placed = match (api, kind) {
            ("apps/v1", "Deployment") => place(&mut s.deployments, typed(v, name, &ns)?),
            ("apps/v1", "StatefulSet") => place(&mut s.stateful_sets, typed(v, name, &ns)?),
            ("apps/v1", "DaemonSet") => place(&mut s.daemon_sets, typed(v, name, &ns)?),
            ("batch/v1", "CronJob") => place(&mut s.cron_jobs, typed(v, name, &ns)?),
            ("batch/v1", "Job") => place(&mut s.jobs, typed(v, name, &ns)?),
            ("v1", "Pod") => place(&mut s.pods, typed(v, name, &ns)?),
            ("v1", "Service") => place(&mut s.services, typed(v, name, &ns)?),
            ("v1", "ConfigMap") => place(&mut s.config_maps, typed(v, name, &ns)?),
            ("v1", "Namespace") => place(&mut s.namespaces, typed(v, name, "")?),
            ("v1", "PersistentVolumeClaim") => place(&mut s.persistent_volume_claims, typed(v, name, &ns)?),
            ("v1", "PersistentVolume") => place(&mut s.persistent_volumes, typed(v, name, "")?),
            ("v1", "Secret") => {
                let secret: k8s_openapi::api::core::v1::Secret = typed(v, name, &ns)?;
                let obj = secret_object(secret);
                let ns = obj.namespace.clone();
                s.secrets.push(obj);
                ns
            }
            ("networking.k8s.io/v1", "Ingress") => place(&mut s.ingresses, typed(v, name, &ns)?),
            ("networking.k8s.io/v1", "NetworkPolicy") => place(&mut s.network_policies, typed(v, name, &ns)?),
            ("policy/v1", "PodDisruptionBudget") => place(&mut s.pod_disruption_budgets, typed(v, name, &ns)?),
            ("autoscaling/v2", "HorizontalPodAutoscaler") => {
                place(&mut s.horizontal_pod_autoscalers, typed(v, name, &ns)?)
            }
            ("storage.k8s.io/v1", "StorageClass") => place(&mut s.storage_classes, typed(v, name, "")?),
            _ => unreachable!("convert::route reads only the kinds placed here: {api} {kind}"),
        };
        Ok(placed)
    }

    /// Drops the earlier of two definitions of one object (the later was just pushed last).
    fn remove_earlier(&mut self, kind: &str, ns: &str, name: &str) {
        let s = &mut self.snap;
        match kind {
            "Deployment" => drop_earlier(&mut s.deployments, ns, name),
            "StatefulSet" => drop_earlier(&mut s.stateful_sets, ns, name),
            "DaemonSet" => drop_earlier(&mut s.daemon_sets, ns, name),
            "CronJob" => drop_earlier(&mut s.cron_jobs, ns, name),
            "Job" => drop_earlier(&mut s.jobs, ns, name),
            "Pod" => drop_earlier(&mut s.pods, ns, name),
            "Service" => drop_earlier(&mut s.services, ns, name),
            "ConfigMap" => drop_earlier(&mut s.config_maps, ns, name),
            "Namespace" => drop_earlier(&mut s.namespaces, ns, name),
            "PersistentVolumeClaim" => drop_earlier(&mut s.persistent_volume_claims, ns, name),
            "PersistentVolume" => drop_earlier(&mut s.persistent_volumes, ns, name),
            "Ingress" => drop_earlier(&mut s.ingresses, ns, name),
            "NetworkPolicy" => drop_earlier(&mut s.network_policies, ns, name),
            "PodDisruptionBudget" => drop_earlier(&mut s.pod_disruption_budgets, ns, name),
            "HorizontalPodAutoscaler" => drop_earlier(&mut s.horizontal_pod_autoscalers, ns, name),
            "StorageClass" => drop_earlier(&mut s.storage_classes, ns, name),
            "Secret" => {
                let last = s.secrets.len().saturating_sub(1);
                if let Some(i) = s.secrets[..last].iter().position(|x| x.namespace == ns && x.name == name) {
                    s.secrets.remove(i);
                }
            }
            _ => {}
        }
    }

    pub fn finish(self) -> Gathered {
        Gathered { data: SourceData::Kubernetes(std::sync::Arc::new(self.snap)), warnings: self.warnings }
    }

    /// Like [`Loader::finish`], but reading no object of a kind the items read is an error:
    /// an empty snapshot would pass items on "0 ConfigMaps".
    pub fn finish_or_error(self, from: &str) -> Result<Gathered, String> {
        if self.objects > 0 {
            return Ok(self.finish());
        }
        let mut why = format!("no objects were read from {from}");
        if self.ignored > 0 {
            why.push_str(&format!(" ({} objects of kinds no item reads were ignored)", self.ignored));
        }
        if let Some(first) = self.warnings.first() {
            why.push_str(&format!("; {} warnings, the first: {first}", self.warnings.len()));
        }
        Err(why)
    }
}

type ObjectMeta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Objects of kinds no item reads are remembered by name (items that meet e.g. a KEDA
/// ScaledObject say so), up to a bound so a huge render cannot grow the snapshot.
const MAX_UNREAD_RECORDED: usize = 10_000;

fn place<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(list: &mut Vec<T>, obj: T) -> String {
    let ns = obj.metadata().namespace.clone().unwrap_or_default();
    list.push(obj);
    ns
}

fn drop_earlier<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(list: &mut Vec<T>, ns: &str, name: &str) {
    let last = list.len().saturating_sub(1);
    let same = |o: &T| {
        let m = o.metadata();
        m.namespace.as_deref().unwrap_or("") == ns && m.name.as_deref() == Some(name)
    };
    if let Some(i) = list[..last].iter().position(same) {
        list.remove(i);
    }
}

/// Deserializes one object; a namespaced object without a namespace lands in `default_ns`
/// as `kubectl apply -n` would put it.
fn typed<T: DeserializeOwned + k8s_openapi::Metadata<Ty = ObjectMeta>>(
    v: Value,
    name: &str,
    default_ns: &str,
) -> Result<T, String> {
    // Secret and ConfigMap values may be credentials: name the path, never the value.
    let redact = matches!(v.get("kind").and_then(Value::as_str), Some("Secret" | "ConfigMap"));
    let mut obj: T = serde_path_to_error::deserialize(v).map_err(|e| {
        if redact {
            format!("{name}: at {}: invalid value (not shown)", e.path())
        } else {
            // Any literal may be a credential (`value: 444777111222` in an env): say the
            // type and the path, never the value.
            format!("{name}: at {}: {}", e.path(), crate::redact::serde_message(&e.inner().to_string()))
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
    use std::io::Read;

    fn load(text: &str) -> (KubeSnapshot, Vec<String>) {
        let mut l = Loader::new(KubeScope::default());
        l.add_text("test.yaml", text);
        let g = l.finish();
        let SourceData::Kubernetes(k) = g.data else { panic!("the manifest loader fills Kubernetes") };
        (std::sync::Arc::unwrap_or_clone(k), g.warnings)
    }

    #[test]
    fn a_literal_of_the_wrong_type_is_named_by_type_and_path_never_quoted() {
        let (_, w) = load(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    env:\n    - {name: DB_PASSWORD, value: 444777111222}\n    - {name: TOKEN, value: 1.5e9}\n",
        );
        let text = w.join("\n");
        assert!(text.contains("spec.containers[0].env[0].value") && text.contains("an integer"), "{text}");
        assert!(!text.contains("444777"), "{text}");
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

    fn load_dir(dir: &Path) -> (Result<Gathered, String>, Vec<String>) {
        let mut l = Loader::new(KubeScope::default());
        let r = l.add_path(dir);
        let w = l.warnings.clone();
        (r.and_then(|_| l.finish_or_error(&dir.display().to_string())), w)
    }

    fn snap(g: Gathered) -> KubeSnapshot {
        let SourceData::Kubernetes(k) = g.data else { panic!("the manifest loader fills Kubernetes") };
        std::sync::Arc::unwrap_or_clone(k)
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm }\ndata: { a: b }\n";

    #[test]
    fn octal_modes_bom_and_merge_keys_load_as_kubectl_reads_them() {
        let (k, w) = load(concat!(
            "\u{feff}apiVersion: apps/v1\nkind: StatefulSet\nmetadata: { name: ch }\n",
            "spec:\n  selector: {}\n  serviceName: ch\n  template:\n    metadata: &meta { labels: { app: ch } }\n",
            "    spec:\n      containers: [ { name: c } ]\n      volumes:\n",
            "        - name: s\n          configMap: { name: s, defaultMode: 0755 }\n"
        ));
        assert!(w.is_empty(), "{w:?}");
        let vols = k.stateful_sets[0].spec.as_ref().unwrap().template.spec.as_ref().unwrap().volumes.clone().unwrap();
        assert_eq!(vols[0].config_map.as_ref().unwrap().default_mode, Some(493));
    }

    #[test]
    fn a_syntax_error_in_the_first_document_leaves_the_later_ones() {
        let (k, w) =
            load(&format!("kind: [broken\n---\n{CM}---\napiVersion: v1\nkind: Service\nmetadata: {{ name: s }}\n"));
        assert_eq!((k.config_maps.len(), k.services.len()), (1, 1));
        assert!(w.len() == 1 && w[0].starts_with("test.yaml document 1: line "), "{w:?}");
    }

    #[test]
    fn duplicate_keys_name_file_document_and_line() {
        let (k, w) =
            load(&format!("{CM}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  name: second\n"));
        assert_eq!(k.config_maps.len(), 2);
        assert_eq!(k.config_maps[1].metadata.name.as_deref(), Some("second"), "the later value, as kubectl");
        assert!(w[0].starts_with("test.yaml document 2: line 10:") && w[0].contains("given twice"), "{w:?}");
    }

    #[test]
    fn the_same_object_twice_is_one_and_the_later_wins() {
        let later = CM.replace("a: b", "a: later");
        let (k, w) = load(&format!("{CM}---\n{later}"));
        assert_eq!(k.config_maps.len(), 1);
        assert_eq!(k.config_maps[0].data.as_ref().unwrap()["a"], "later");
        assert!(w[0].contains("ConfigMap infrasage/cm is also defined in test.yaml document 1"), "{w:?}");
    }

    #[test]
    fn autoscaling_v1_becomes_v2_and_removed_versions_are_named() {
        let (k, w) = load(concat!(
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: { name: gw }\n",
            "spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: gw }, minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 70 }\n",
            "---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: { name: old }\n",
            "---\napiVersion: apps/v2\nkind: Deployment\nmetadata: { name: future }\n",
        ));
        let hpa = k.horizontal_pod_autoscalers[0].spec.as_ref().unwrap();
        let m = &hpa.metrics.as_ref().unwrap()[0];
        assert_eq!(m.type_, "Resource");
        let r = m.resource.as_ref().unwrap();
        assert_eq!((r.name.as_str(), r.target.average_utilization), ("cpu", Some(70)));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("extensions/v1beta1 Ingress old: no longer served since Kubernetes 1.22"), "{w:?}");
        assert!(w[1].contains("apps/v2 Deployment future: not a version the API server serves"), "{w:?}");
    }

    #[test]
    fn an_empty_folder_is_an_error_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("crd.yaml"),
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n",
        )
        .unwrap();
        let (r, _) = load_dir(dir.path());
        let e = r.expect_err("nothing read is an error");
        assert!(e.starts_with("no objects were read from ") && e.contains("1 objects of kinds no item reads"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_any_case_symlinks_once_and_special_files_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("50-data.YAML"), CM).unwrap();
        std::fs::write(d.join("notes.txt"), "not: read").unwrap();
        std::os::unix::fs::symlink(d, d.join("loop")).unwrap();
        std::os::unix::fs::symlink(d.join("50-data.YAML"), d.join("again.yml")).unwrap();
        std::os::unix::fs::symlink(d.join("missing"), d.join("dangling.yaml")).unwrap();
        let fifo = d.join("pipe.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let started = std::time::Instant::now();
        let (r, w) = load_dir(d);
        let k = snap(r.unwrap());
        assert!(started.elapsed() < Duration::from_secs(10), "the FIFO was not opened");
        assert_eq!(k.config_maps.len(), 1, "read once: {w:?}");
        assert!(w.iter().any(|w| w.contains("again.yml") && w.contains("already read")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("loop") && w.contains("already read")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("dangling.yaml") && w.contains("cannot follow")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("pipe.yaml is a FIFO")), "{w:?}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_oversized_files_are_refused_quickly() {
        let mut l = Loader::with_limits(KubeScope::default(), Limits { max_bytes: 64, max_depth: 100 });
        let e = l.add_path(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("/dev/zero is a character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.yaml"), format!("{CM}# {}\n", "x".repeat(100))).unwrap();
        l.add_path(dir.path()).unwrap();
        assert!(l.warnings[0].contains("big.yaml is larger than 64 bytes"), "{:?}", l.warnings);
        let e = files::read_capped(std::io::repeat(0).take(1 << 30), "<stdin>", 1 << 20).unwrap_err();
        assert!(e.contains("<stdin> is larger than"), "{e}");
    }
}
