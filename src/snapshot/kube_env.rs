//! A container's environment as the kubelet builds it (`kubelet_pods.go`
//! `makeEnvironmentVariables`): `envFrom` sources in order, then `env` entries in order, each
//! `value` expanded with `$(VAR)` from what is defined so far; an `optional` reference to a
//! missing object or key leaves the variable unset, so an earlier value stays.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use super::kube_query::{name_of, namespace_of};
use super::kubernetes::KubeSnapshot;

/// A resolved environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// From a ConfigMap key; `value` is None where the ConfigMap or key is not in the snapshot.
    ConfigMap {
        name: String,
        key: String,
        value: Option<String>,
    },
    /// From a Secret (directly or expanded into a literal); the value is never resolved here.
    Secret {
        name: String,
        key: String,
    },
    /// fieldRef, resourceFieldRef and the like.
    Other,
}

impl EnvValue {
    /// The text the process would see, where the snapshot can tell without reading a Secret.
    pub fn plain_text(&self) -> Option<&str> {
        match self {
            EnvValue::Literal(s) => Some(s),
            EnvValue::ConfigMap { value, .. } => value.as_deref(),
            _ => None,
        }
    }
    pub fn describe(&self) -> String {
        match self {
            EnvValue::Literal(_) => "a literal value".to_string(),
            EnvValue::ConfigMap { name, key, .. } => format!("ConfigMap {name} key {key}"),
            EnvValue::Secret { name, key } => format!("Secret {name} key {key}"),
            EnvValue::Other => "a field reference".to_string(),
        }
    }
}

/// A container's environment as the kubelet builds it.
#[derive(Debug, Clone, Default)]
pub struct ResolvedEnv {
    pub vars: BTreeMap<String, EnvValue>,
    /// envFrom sources whose keys could not be listed (object absent from the snapshot).
    pub opaque_sources: Vec<String>,
}

impl ResolvedEnv {
    pub fn get(&self, name: &str) -> Option<&EnvValue> {
        self.vars.get(name)
    }
}

/// What a lookup of an object the env refers to found.
enum Lookup<T> {
    Found(T),
    /// The snapshot holds the kind and the object or key is not there.
    Missing,
    /// The snapshot cannot tell (the kind was not readable).
    Unknown,
}

impl KubeSnapshot {
    /// Whether a container can set `name` at all: it names it in `env`, or takes `envFrom`.
    /// Where it cannot, [`Self::resolve_env`] would find neither the variable nor a source it
    /// could hide in: items asking for one variable skip such containers (most, in a cluster).
    pub fn can_set_env(c: &Container, name: &str) -> bool {
        c.env_from.as_ref().is_some_and(|f| !f.is_empty()) || c.env.iter().flatten().any(|v| v.name == name)
    }

    pub fn resolve_env(&self, namespace: &str, c: &Container) -> ResolvedEnv {
        let mut env = ResolvedEnv::default();
        for from in c.env_from.iter().flatten() {
            let prefix = from.prefix.as_deref().unwrap_or("");
            if let Some(r) = &from.config_map_ref {
                let optional = r.optional == Some(true);
                match self.config_map_data(namespace, &r.name) {
                    Lookup::Found(data) => {
                        for (k, v) in data {
                            let value =
                                EnvValue::ConfigMap { name: r.name.clone(), key: k.clone(), value: Some(v.clone()) };
                            env.vars.insert(format!("{prefix}{k}"), value);
                        }
                    }
                    Lookup::Missing if optional => {}
                    _ => env.opaque_sources.push(format!("ConfigMap {}", r.name)),
                }
            }
            if let Some(r) = &from.secret_ref {
                let optional = r.optional == Some(true);
                match self.secret_keys(namespace, &r.name) {
                    Lookup::Found(keys) => {
                        for k in keys {
                            let value = EnvValue::Secret { name: r.name.clone(), key: k.clone() };
                            env.vars.insert(format!("{prefix}{k}"), value);
                        }
                    }
                    Lookup::Missing if optional => {}
                    _ => env.opaque_sources.push(format!("Secret {}", r.name)),
                }
            }
        }
        for var in c.env.iter().flatten() {
            let value = match (&var.value, &var.value_from) {
                (_, Some(from)) => {
                    if let Some(r) = &from.config_map_key_ref {
                        let (value, missing) = match self.config_map_data(namespace, &r.name) {
                            Lookup::Found(data) => (data.get(&r.key).cloned(), !data.contains_key(&r.key)),
                            Lookup::Missing => (None, true),
                            Lookup::Unknown => (None, false),
                        };
                        if missing && r.optional == Some(true) {
                            continue;
                        }
                        EnvValue::ConfigMap { name: r.name.clone(), key: r.key.clone(), value }
                    } else if let Some(r) = &from.secret_key_ref {
                        let missing = match self.secret_keys(namespace, &r.name) {
                            Lookup::Found(mut keys) => !keys.any(|k| *k == r.key),
                            Lookup::Missing => true,
                            Lookup::Unknown => false,
                        };
                        if missing && r.optional == Some(true) {
                            continue;
                        }
                        EnvValue::Secret { name: r.name.clone(), key: r.key.clone() }
                    } else {
                        EnvValue::Other
                    }
                }
                (Some(v), None) => expand(v, &env.vars),
                (None, None) => EnvValue::Literal(String::new()),
            };
            env.vars.insert(var.name.clone(), value);
        }
        env
    }

    fn config_map_data(&self, namespace: &str, name: &str) -> Lookup<&BTreeMap<String, String>> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        match self.config_maps.iter().find(|m| namespace_of(&m.metadata) == namespace && name_of(&m.metadata) == name) {
            Some(m) => Lookup::Found(m.data.as_ref().unwrap_or(&EMPTY)),
            None if self.unreadable.contains_key("configmaps") => Lookup::Unknown,
            None => Lookup::Missing,
        }
    }

    fn secret_keys(&self, namespace: &str, name: &str) -> Lookup<impl Iterator<Item = &String>> {
        match self.secret(namespace, name) {
            Some(s) => Lookup::Found(s.data.keys()),
            None if self.unreadable.contains_key("secrets") => Lookup::Unknown,
            None => Lookup::Missing,
        }
    }
}

/// A `value` with `$(VAR)` references expanded as the kubelet expands them: `$$` is a literal
/// `$`, a reference to an undefined variable stays as written, and an unclosed `$(` is kept.
/// A value that is exactly one reference takes over what it refers to (a Secret stays a
/// Secret); a value mixing text with a Secret counts as that Secret.
pub fn expand(input: &str, vars: &BTreeMap<String, EnvValue>) -> EnvValue {
    let mut out = String::with_capacity(input.len());
    let mut embedded: Option<EnvValue> = None;
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut literal_from = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        out.push_str(&input[literal_from..i]);
        match bytes[i + 1] {
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(len) => {
                    let name = &input[i + 2..i + 2 + len];
                    match vars.get(name) {
                        Some(v) => {
                            if input.len() == len + 3 {
                                return v.clone();
                            }
                            match v.plain_text() {
                                Some(text) => out.push_str(text),
                                None => {
                                    if !matches!(embedded, Some(EnvValue::Secret { .. })) {
                                        embedded = Some(match v {
                                            EnvValue::Secret { .. } => v.clone(),
                                            _ => EnvValue::Other,
                                        });
                                    }
                                }
                            }
                        }
                        None => out.push_str(&input[i..i + 3 + len]),
                    }
                    i += len + 3;
                }
                None => {
                    out.push_str("$(");
                    i += 2;
                }
            },
            _ => {
                // `$x`: kept as written; what follows is neither `$` nor `(`.
                out.push('$');
                i += 1;
            }
        }
        literal_from = i;
    }
    out.push_str(&input[literal_from..]);
    embedded.unwrap_or(EnvValue::Literal(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> EnvValue {
        EnvValue::Literal(s.to_string())
    }

    fn vars() -> BTreeMap<String, EnvValue> {
        BTreeMap::from([
            ("HOST".to_string(), lit("db")),
            ("PORT".to_string(), lit("9000")),
            ("PW".to_string(), EnvValue::Secret { name: "ch".into(), key: "password".into() }),
        ])
    }

    #[test]
    fn expands_as_the_kubelet_does() {
        let v = vars();
        assert_eq!(expand("tcp://$(HOST):$(PORT)/x", &v), lit("tcp://db:9000/x"));
        assert_eq!(expand("$$(HOST)", &v), lit("$(HOST)"));
        assert_eq!(expand("$(NOPE)-$(HOST)", &v), lit("$(NOPE)-db"));
        assert_eq!(expand("$(HOST", &v), lit("$(HOST"));
        assert_eq!(expand("a$", &v), lit("a$"));
        assert_eq!(expand("$x$(PORT)", &v), lit("$x9000"));
        assert_eq!(expand("$$$", &v), lit("$$"));
        assert_eq!(expand("$(PW)", &v), EnvValue::Secret { name: "ch".into(), key: "password".into() });
        assert_eq!(expand("user:$(PW)@x", &v), EnvValue::Secret { name: "ch".into(), key: "password".into() });
        assert_eq!(expand("", &v), lit(""));
    }

    fn container(mut spec: serde_json::Value) -> Container {
        spec["name"] = "c".into();
        serde_json::from_value(spec).unwrap()
    }

    fn snapshot() -> KubeSnapshot {
        KubeSnapshot {
            config_maps: vec![crate::fixtures::config_map("base", &[("MODE", "plain"), ("URL", "http://x")])],
            secrets: vec![crate::fixtures::secret("jwt", &[("key", b"s3cr3t")])],
            ..Default::default()
        }
    }

    #[test]
    fn optional_references_to_missing_objects_leave_the_earlier_value() {
        let c = container(serde_json::json!({
            "envFrom": [{"configMapRef": {"name": "base"}}, {"configMapRef": {"name": "gone", "optional": true}}],
            "env": [
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "MODE", "optional": true}}},
                {"name": "URL", "valueFrom": {"configMapKeyRef": {"name": "base", "key": "nokey", "optional": true}}},
                {"name": "JWT", "valueFrom": {"secretKeyRef": {"name": "jwt", "key": "nokey", "optional": true}}},
                {"name": "JWT2", "valueFrom": {"secretKeyRef": {"name": "jwt", "key": "key", "optional": true}}},
                {"name": "HARD", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "x"}}}
            ]
        }));
        let env = snapshot().resolve_env("infrasage", &c);
        assert_eq!(env.get("MODE").and_then(EnvValue::plain_text), Some("plain"));
        assert_eq!(env.get("URL").and_then(EnvValue::plain_text), Some("http://x"));
        assert_eq!(env.get("JWT"), None);
        assert!(matches!(env.get("JWT2"), Some(EnvValue::Secret { .. })));
        // Not optional: the kubelet refuses to start the container; the reference stays visible.
        assert!(matches!(env.get("HARD"), Some(EnvValue::ConfigMap { value: None, .. })));
        assert!(env.opaque_sources.is_empty(), "{:?}", env.opaque_sources);
    }

    #[test]
    fn unreadable_kinds_stay_unknown_and_values_expand_in_order() {
        let mut k = snapshot();
        k.secrets.clear();
        k.unreadable.insert("secrets".into(), "forbidden".into());
        let c = container(serde_json::json!({
            "envFrom": [{"secretRef": {"name": "other", "optional": true}, "prefix": "S_"}],
            "env": [
                {"name": "JWT", "valueFrom": {"secretKeyRef": {"name": "jwt", "key": "key", "optional": true}}},
                {"name": "LATER", "value": "$(EARLY)"},
                {"name": "EARLY", "value": "e"},
                {"name": "BOTH", "value": "$(EARLY)-$(LATER)"}
            ]
        }));
        let env = k.resolve_env("infrasage", &c);
        assert_eq!(env.opaque_sources, vec!["Secret other".to_string()]);
        assert!(matches!(env.get("JWT"), Some(EnvValue::Secret { .. })));
        assert_eq!(env.get("LATER").and_then(EnvValue::plain_text), Some("$(EARLY)"));
        assert_eq!(env.get("BOTH").and_then(EnvValue::plain_text), Some("e-$(EARLY)"));
    }

    fn config(file: &'static str) -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            cases: 512,
            failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(file))),
            ..Default::default()
        }
    }

    proptest::proptest! {
        #![proptest_config(config("proptest-regressions/kube_env.txt"))]
        // Any text: no panic, output no longer than the input plus the values substituted, and
        // text without `$` comes back as it went in.
        #[test]
        fn expansion_never_panics_and_keeps_plain_text(input in "[$()A-Za-z_é ]{0,64}", plain in "[^$]{0,64}") {
            let v = vars();
            if let EnvValue::Literal(out) = expand(&input, &v) {
                proptest::prop_assert!(out.len() <= input.len() * 5 + 16);
            }
            proptest::prop_assert_eq!(expand(&plain, &v), lit(&plain));
        }
    }

    #[test]
    fn never_panics_on_multibyte_text() {
        let v = vars();
        assert_eq!(expand("é$(HOST)ü$", &v), lit("édbü$"));
        assert_eq!(expand("$é", &v), lit("$é"));
    }
}
