//! Configuration: one YAML file, every key overridable from the environment
//! (`INFRASAGE_READINESS__KAFKA__BOOTSTRAP_SERVERS=...`). Everything is checked at load: a bad
//! config refuses to start and names the key path and the reason.

mod types;
mod validate;
pub use validate::{component_selectors, parse_selector};

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use types::*;

pub const ENV_PREFIX: &str = "INFRASAGE_READINESS";

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["kubernetes.namespaces", "kubernetes.manifests"];

/// Keys that carry secret values: allowed from the environment, refused in the file.
pub const ENV_ONLY_SECRETS: &[&str] =
    &["kafka.sasl.password", "clickhouse.password", "grafana.token", "infrasage_api.token"];

/// A refusal: the key path it concerns and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "config: {}", self.reason)
        } else {
            write!(f, "config key `{}`: {}", self.key, self.reason)
        }
    }
}

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    fn one(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError { key: key.into(), reason: reason.into() }])
    }
}

/// Loads a config file (or none, for defaults) with environment overrides, then validates it.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
    load_with_env(file, std::env::vars())
}

/// As [`load`], with the environment given explicitly (tests).
pub fn load_with_env(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigErrors> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::one("", format!("cannot read {}: {e}", path.display())))?;
        refuse_secrets_in_file(&text)?;
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Yaml));
    }
    let env: config::Map<String, String> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
    let mut env_source = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .source(Some(env));
    for key in LIST_KEYS {
        env_source = env_source.with_list_parse_key(key);
    }
    let merged = builder
        .add_source(env_source)
        .build()
        .map_err(|e| ConfigErrors::one("", e.to_string()))?
        .try_deserialize::<serde_json::Value>()
        .map_err(|e| ConfigErrors::one("", e.to_string()))?;
    let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ConfigErrors::one(key, e.into_inner().to_string())
    })?;
    let mut config = config;
    if let Some(dir) = file.and_then(Path::parent) {
        resolve_relative(&mut config, dir);
    }
    let errors = validate::validate(&config);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Relative paths in the config are relative to the config file, as in Prometheus.
fn resolve_relative(c: &mut Config, dir: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() && p.as_os_str() != "-" {
            *p = dir.join(&*p);
        }
    };
    let fix_tls = |t: &mut Option<TlsConfig>| {
        if let Some(t) = t {
            for p in [&mut t.ca_file, &mut t.cert_file, &mut t.key_file].into_iter().flatten() {
                fix(p);
            }
        }
    };
    if let Some(k) = &mut c.kubernetes {
        k.kubeconfig.iter_mut().for_each(fix);
        k.manifests.iter_mut().for_each(fix);
    }
    if let Some(k) = &mut c.kafka {
        if let Some(s) = &mut k.sasl {
            s.password_file.iter_mut().for_each(fix);
        }
        fix_tls(&mut k.tls);
    }
    if let Some(ch) = &mut c.clickhouse {
        ch.password_file.iter_mut().for_each(fix);
        fix_tls(&mut ch.tls);
    }
    if let Some(s) = &mut c.services {
        for ep in [&mut s.gateway, &mut s.aiops, &mut s.ml].into_iter().flatten() {
            fix_tls(&mut ep.tls);
        }
    }
    for src in [&mut c.prometheus, &mut c.alertmanager].into_iter().flatten() {
        fix_tls(&mut src.tls);
    }
    for src in [&mut c.grafana, &mut c.infrasage_api].into_iter().flatten() {
        src.token_file.iter_mut().for_each(fix);
        fix_tls(&mut src.tls);
    }
}

fn refuse_secrets_in_file(text: &str) -> Result<(), ConfigErrors> {
    let tree: serde_json::Value = serde_yaml_ng::from_str(text).unwrap_or(serde_json::Value::Null);
    for key in ENV_ONLY_SECRETS {
        let mut node = Some(&tree);
        for part in key.split('.') {
            node = node.and_then(|n| n.get(part));
        }
        if node.is_some_and(|n| !n.is_null()) {
            return Err(ConfigErrors::one(
                *key,
                "secret values are not accepted in the config file; use the *_file key or the environment",
            ));
        }
    }
    Ok(())
}

/// `60s`, `26h`, `90d`, `1w`: humantime units.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("bad duration {s:?}: {e}"))
}

#[cfg(test)]
mod tests;
