//! The Kubernetes section, read by both Kubernetes sources (the live API and rendered
//! manifests): where to look, which namespaces, how components are recognised, input caps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::primitives::{default_timeout, HumanDuration};
use crate::config::section::{Section, Validator};
use crate::snapshot::kube_query::Component;
use crate::snapshot::kubernetes::{default_components, ComponentSelector};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
    /// Rendered manifests (files or folders) to read instead of a live cluster.
    #[serde(default)]
    pub manifests: Vec<PathBuf>,
    #[serde(default = "default_namespaces")]
    pub namespaces: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Component → label selector `key=value,...`; defaults are `app.kubernetes.io/name=<name>`.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Caps on what the manifest loader reads: a file (or stdin) larger than this is refused.
    #[serde(default = "default_max_manifest_bytes")]
    pub max_manifest_bytes: u64,
    /// Caps the nesting of one manifest document (mappings and sequences).
    #[serde(default = "default_max_manifest_depth")]
    pub max_manifest_depth: usize,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

fn default_max_manifest_bytes() -> u64 {
    16 * 1024 * 1024
}

fn default_max_manifest_depth() -> usize {
    100
}

fn default_namespaces() -> Vec<String> {
    vec!["infrasage".to_string()]
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("empty kubernetes config deserializes")
    }
}

impl Section for KubernetesConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        let k = self;
        if k.max_manifest_bytes == 0 {
            v.err(&format!("{key}.max_manifest_bytes"), "must be at least 1");
        }
        if k.max_manifest_depth < 2 {
            v.err(&format!("{key}.max_manifest_depth"), "must be at least 2 (an object holds mappings)");
        }
        v.timeout(&format!("{key}.timeout"), k.timeout);
        if k.namespaces.is_empty() {
            v.err(&format!("{key}.namespaces"), "names no namespace");
        }
        if let Some(p) = &k.kubeconfig {
            v.file(&format!("{key}.kubeconfig"), Some(p));
        }
        for (i, m) in k.manifests.iter().enumerate() {
            if m.as_os_str() != "-" && !m.exists() {
                v.err(&format!("{key}.manifests[{i}]"), format!("{} does not exist", m.display()));
            }
        }
        for (name, sel) in &k.components {
            let ckey = format!("{key}.components.{name}");
            if Component::parse(name).is_none() {
                v.err(&ckey, "unknown component (gateway, aiops, ml, admin_ui, clickhouse, kafka)");
            } else if let Err(e) = parse_selector(sel) {
                v.err(&ckey, e);
            }
        }
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.kubeconfig.iter_mut().chain(self.manifests.iter_mut()).collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}

/// `key=value,key2=value2` → labels.
pub fn parse_selector(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("{part:?} is not key=value"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    if out.is_empty() {
        return Err("empty selector".to_string());
    }
    Ok(out)
}

/// The component selectors in force: the defaults with the config's overrides.
pub fn component_selectors(k: &KubernetesConfig) -> BTreeMap<String, ComponentSelector> {
    let mut out = default_components();
    for (name, sel) in &k.components {
        if let Ok(labels) = parse_selector(sel) {
            let fallback =
                labels.get("app.kubernetes.io/name").or_else(|| labels.values().next()).cloned().unwrap_or_default();
            out.insert(name.clone(), ComponentSelector { labels, name: fallback });
        }
    }
    out
}
