//! Configuration: one YAML file, every key overridable from the environment
//! (`INFRASAGE_READINESS__KAFKA__BOOTSTRAP_SERVERS=...`). Everything is checked at load: a bad
//! config refuses to start and names the key path and the reason.

pub mod primitives;
pub mod section;
mod types;
mod validate;
pub use crate::sources::kube_config::{component_selectors, parse_selector};
pub use section::{ConfigError, Section, Validator};

use std::path::Path;

/// Durations are spelled alike in the config and in item params.
pub use crate::catalogue::{parse_duration, MAX_DURATION};
pub use types::*;

pub const ENV_PREFIX: &str = "INFRASAGE_READINESS";

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["kubernetes.namespaces", "kubernetes.manifests"];

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
        ConfigErrors(vec![ConfigError::new(key, reason)])
    }
}

/// A config file larger than this is refused unread: configs are a few kilobytes, and the
/// cap keeps `/dev/zero` or a runaway generator from taking the process's memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The config's YAML bounds: far above any real config, far below what exhausts memory.
const CONFIG_YAML_CAPS: crate::yaml::Caps =
    crate::yaml::Caps { max_depth: 32, max_alias_nodes: 10_000, depth_key: "the config's nesting limit" };

/// At most this many refusals are collected from the types in one pass.
const MAX_TYPE_ERRORS: usize = 100;

/// Loads a config file (or none, for defaults) with environment overrides, then validates it.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
    load_with_env(file, std::env::vars())
}

/// As [`load`], with the environment given explicitly (tests). Every refusal is reported in
/// one pass: each wrong type or unknown key in the tree, then every rule the values break.
pub fn load_with_env(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigErrors> {
    let env: config::Map<String, String> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
    let origins = EnvOrigins::new(env.keys());
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        let tree = read_file(path)?;
        refuse_secrets_in_file(&tree)?;
        builder = builder.add_source(config::File::from_str(&tree.to_string(), config::FileFormat::Json));
    }
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
        .map_err(|e| ConfigErrors::one("", crate::redact::serde_message_keeping_names(&e.to_string())))?
        .try_deserialize::<serde_json::Value>()
        .map_err(|e| ConfigErrors::one("", crate::redact::serde_message_keeping_names(&e.to_string())))?;
    let (config, mut errors) = deserialize_all(merged);
    // What could be read is validated too, so one pass names every refusal.
    let Some(mut config) = config else { return Err(ConfigErrors(origins.annotate(errors))) };
    if let Some(dir) = file.and_then(Path::parent) {
        resolve_relative(&mut config, dir);
    }
    errors.extend(validate::validate(&config));
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(origins.annotate(errors)))
    }
}

/// The file as one YAML document, read as the manifests are (YAML 1.1, as Prometheus and
/// kubectl read theirs) within [`CONFIG_YAML_CAPS`]; only a regular file of at most
/// [`MAX_CONFIG_BYTES`] is read.
fn read_file(path: &Path) -> Result<serde_json::Value, ConfigErrors> {
    read_yaml_file(path).map_err(|e| ConfigErrors::one("", e))
}

/// A YAML file of ours (the config, the web config) as one JSON tree, read within the same
/// bounds; the error names the file.
pub fn read_yaml_file(path: &Path) -> Result<serde_json::Value, String> {
    use std::io::Read;
    let refuse = |why: String| format!("cannot read {}: {why}", path.display());
    let file = std::fs::File::open(path).map_err(|e| refuse(e.to_string()))?;
    let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| refuse(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(refuse(format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    let text =
        String::from_utf8(bytes).map_err(|e| refuse(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))?;
    let mut docs = crate::yaml::documents_capped(&text, CONFIG_YAML_CAPS);
    if docs.len() > 1 {
        return Err(refuse(format!("holds {} YAML documents; a config is one", docs.len())));
    }
    match docs.pop().map(|d| d.value) {
        None | Some(Ok(serde_json::Value::Null)) => Ok(serde_json::json!({})),
        Some(Ok(v @ serde_json::Value::Object(_))) => Ok(v),
        Some(Ok(_)) => Err(refuse("the top level is not a mapping of keys".into())),
        Some(Err(e)) => Err(refuse(e)),
    }
}

/// Deserialises `tree`, collecting every refusal: a key that is refused is taken out of the
/// tree and the rest is read again, so one wrong type does not hide the next. A required key
/// taken out that way is not reported a second time as missing. The config is what remains
/// readable (None when even that is not).
fn deserialize_all(mut tree: serde_json::Value) -> (Option<Config>, Vec<ConfigError>) {
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut taken_out: Vec<Vec<String>> = Vec::new();
    loop {
        let e = match serde_path_to_error::deserialize::<_, Config>(&tree) {
            Ok(c) => return (Some(c), errors),
            Err(e) => e,
        };
        let path: Vec<String> = e.path().iter().filter_map(segment).collect();
        let shown = e.path().to_string();
        // A credential set one level too high (`INFRASAGE_READINESS__GRAFANA=<token>`) is a wrong
        // type here: serde would quote it.
        let message = crate::redact::serde_message_keeping_names(&e.into_inner().to_string());
        let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()).map(str::to_string);
        let already = missing.as_ref().is_some_and(|field| {
            let mut full = path.clone();
            full.push(field.clone());
            taken_out.contains(&full)
        });
        if !already {
            let key = if shown == "." { String::new() } else { shown };
            errors.push(ConfigError::new(key, message));
        }
        if path.is_empty() || errors.len() >= MAX_TYPE_ERRORS || !take_out(&mut tree, &path) {
            return (None, errors);
        }
        taken_out.push(path);
    }
}

/// A path segment as a key (`kafka`, `custom_checks`, `0`).
fn segment(s: &serde_path_to_error::Segment) -> Option<String> {
    match s {
        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
        serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
        serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
        serde_path_to_error::Segment::Unknown => None,
    }
}

/// Removes the node at `path`; false when there is none (nothing would change).
fn take_out(tree: &mut serde_json::Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut node = tree;
    for p in parents {
        node = match node {
            serde_json::Value::Object(m) => match m.get_mut(p) {
                Some(n) => n,
                None => return false,
            },
            serde_json::Value::Array(a) => match p.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    match node {
        serde_json::Value::Object(m) => m.remove(last).is_some(),
        serde_json::Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Which environment variable set which key path, so a refusal can name the variable.
struct EnvOrigins(Vec<(String, String)>);

impl EnvOrigins {
    fn new<'a>(vars: impl Iterator<Item = &'a String>) -> EnvOrigins {
        let prefix = format!("{ENV_PREFIX}__");
        EnvOrigins(
            vars.filter_map(|v| {
                let key = v.strip_prefix(&prefix)?.to_ascii_lowercase().replace("__", ".");
                Some((key, v.clone()))
            })
            .collect(),
        )
    }

    /// The variable that set `key` or the object `key` lies in (or one key inside `key`).
    fn origin(&self, key: &str) -> Option<&str> {
        let base = key.split('[').next().unwrap_or(key);
        let within = |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}."));
        self.0.iter().find(|(k, _)| !base.is_empty() && (within(k, base) || within(base, k))).map(|(_, v)| v.as_str())
    }

    fn annotate(&self, mut errors: Vec<ConfigError>) -> Vec<ConfigError> {
        for e in &mut errors {
            e.env = self.origin(&e.key).map(str::to_string);
        }
        errors
    }
}

/// Relative paths in the config are relative to the config file, as in Prometheus.
fn resolve_relative(c: &mut Config, dir: &Path) {
    for (_, section) in c.sections_mut() {
        for p in section.paths_mut() {
            if p.is_relative() && p.as_os_str() != "-" {
                *p = dir.join(&*p);
            }
        }
    }
}

fn refuse_secrets_in_file(tree: &serde_json::Value) -> Result<(), ConfigErrors> {
    for (section, keys) in ENV_ONLY_SECRETS {
        for key in *keys {
            let mut node = tree.get(section);
            for part in key.split('.') {
                node = node.and_then(|n| n.get(part));
            }
            if node.is_some_and(|n| !n.is_null()) {
                return Err(ConfigErrors::one(
                    format!("{section}.{key}"),
                    "secret values are not accepted in the config file; use the *_file key or the environment",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
