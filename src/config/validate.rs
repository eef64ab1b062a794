//! Checks a parsed config beyond its types; every problem names its key path.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;

use regex::Regex;

use super::{Config, ConfigError, HumanDuration, KubernetesConfig, TlsConfig};
use crate::catalogue::{self, Automation, Category, ParamKind, SourceId};
use crate::snapshot::kube_query::Component;
use crate::snapshot::kubernetes::{default_components, ComponentSelector};

pub fn validate(c: &Config) -> Vec<ConfigError> {
    let mut v = Validator::default();
    if c.listen.parse::<SocketAddr>().is_err() {
        v.err("listen", format!("{:?} is not an address like 0.0.0.0:9745", c.listen));
    }
    if c.interval.0.as_secs() < 1 {
        v.err("interval", "must be at least 1s");
    }
    if !(1..=100_000).contains(&c.web.max_connections) {
        v.err("web.max_connections", "must be between 1 and 100000");
    }
    if c.web.header_read_timeout.0.is_zero() {
        v.err("web.header_read_timeout", "must be longer than zero");
    }
    if let Some(k) = &c.kubernetes {
        v.kubernetes(k);
    }
    if let Some(kf) = &c.kafka {
        if kf.bootstrap_servers.split(',').all(|s| s.trim().is_empty()) {
            v.err("kafka.bootstrap_servers", "names no broker");
        }
        if let Some(s) = &kf.sasl {
            if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&s.mechanism.as_str()) {
                v.err(
                    "kafka.sasl.mechanism",
                    format!("{:?} is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mechanism),
                );
            }
            v.file("kafka.sasl.password_file", s.password_file.as_deref());
            if s.password_file.is_none() && s.password.is_none() {
                v.err("kafka.sasl", "needs password_file (or the password in the environment)");
            }
        }
        v.tls("kafka.tls", kf.tls.as_ref());
        v.timeout("kafka.timeout", kf.timeout);
        if kf.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            v.err("kafka.tls.insecure_skip_verify", "not supported for Kafka; give ca_file instead");
        }
        for (key, ad) in [("kafka.topics", &kf.topics), ("kafka.consumer_groups", &kf.consumer_groups)] {
            v.regex(&format!("{key}.allow"), ad.allow.as_deref());
            v.regex(&format!("{key}.deny"), ad.deny.as_deref());
        }
    }
    if let Some(ch) = &c.clickhouse {
        v.url("clickhouse.url", &ch.url);
        v.file("clickhouse.password_file", ch.password_file.as_deref());
        v.timeout("clickhouse.timeout", ch.timeout);
        v.tls("clickhouse.tls", ch.tls.as_ref());
        if ch.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            v.err("clickhouse.tls.insecure_skip_verify", "not supported: give the server's CA as ca_file");
        }
    }
    if let Some(s) = &c.services {
        for (name, ep) in [("gateway", &s.gateway), ("aiops", &s.aiops), ("ml", &s.ml)] {
            if let Some(ep) = ep {
                v.url(&format!("services.{name}.url"), &ep.url);
                v.timeout(&format!("services.{name}.timeout"), ep.timeout);
                v.tls(&format!("services.{name}.tls"), ep.tls.as_ref());
            }
        }
    }
    for (name, src) in [("prometheus", &c.prometheus), ("alertmanager", &c.alertmanager)] {
        if let Some(src) = src {
            v.url(&format!("{name}.url"), &src.url);
            v.timeout(&format!("{name}.timeout"), src.timeout);
            v.tls(&format!("{name}.tls"), src.tls.as_ref());
        }
    }
    for (name, src) in [("grafana", &c.grafana), ("infrasage_api", &c.infrasage_api)] {
        if let Some(src) = src {
            v.url(&format!("{name}.url"), &src.url);
            v.file(&format!("{name}.token_file"), src.token_file.as_deref());
            v.timeout(&format!("{name}.timeout"), src.timeout);
            v.tls(&format!("{name}.tls"), src.tls.as_ref());
        }
    }
    v.custom_checks(c);
    v.checks(c);
    v.attestations(c);
    v.errors
}

#[derive(Default)]
struct Validator {
    errors: Vec<ConfigError>,
}

impl Validator {
    fn err(&mut self, key: &str, reason: impl Into<String>) {
        self.errors.push(ConfigError::new(key, reason));
    }

    /// A `*_file` must be a regular file this process can read (a directory opens on Linux,
    /// then fails at the first read; a FIFO would block the evaluation).
    fn file(&mut self, key: &str, path: Option<&Path>) -> bool {
        let Some(p) = path else { return false };
        let readable = std::fs::metadata(p)
            .and_then(|m| if m.is_file() { Ok(()) } else { Err(std::io::Error::other("not a regular file")) })
            .and_then(|()| std::fs::File::open(p).map(drop));
        match readable {
            Ok(()) => true,
            Err(e) => {
                self.err(key, format!("cannot read {}: {e}", p.display()));
                false
            }
        }
    }

    /// The TLS files hold what they are named for: at least one certificate, and a private key.
    fn tls(&mut self, key: &str, tls: Option<&TlsConfig>) {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let Some(t) = tls else { return };
        for (name, path) in [("ca_file", &t.ca_file), ("cert_file", &t.cert_file)] {
            let k = format!("{key}.{name}");
            if self.file(&k, path.as_deref()) {
                let p = path.as_deref().expect("checked above");
                let certs = CertificateDer::pem_file_iter(p).map(|it| it.take_while(Result::is_ok).count());
                if !matches!(certs, Ok(n) if n > 0) {
                    self.err(&k, format!("{} holds no PEM certificate", p.display()));
                }
            }
        }
        let k = format!("{key}.key_file");
        if self.file(&k, t.key_file.as_deref()) {
            let p = t.key_file.as_deref().expect("checked above");
            if PrivateKeyDer::from_pem_file(p).is_err() {
                // The parser's message is not quoted: it could carry key material.
                self.err(&k, format!("{} holds no PEM private key", p.display()));
            }
        }
        if t.cert_file.is_some() != t.key_file.is_some() {
            self.err(key, "cert_file and key_file go together");
        }
    }

    fn timeout(&mut self, key: &str, t: HumanDuration) {
        if t.0.is_zero() {
            self.err(key, "must be longer than zero");
        }
    }

    fn url(&mut self, key: &str, url: &str) {
        // Userinfo is a credential written in the file, refused like the other inline secrets;
        // the URL itself is not quoted then, as it holds the password.
        let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            self.err(
                key,
                "credentials in the URL (user:password@) are not accepted; \
                 use the *_file key or the environment for secrets",
            );
            return;
        }
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            self.err(key, format!("{url:?} is not an http:// or https:// URL"));
        }
    }

    fn regex(&mut self, key: &str, re: Option<&str>) {
        if let Some(re) = re {
            if let Err(e) = Regex::new(re) {
                self.err(key, format!("bad regex: {e}"));
            }
        }
    }

    fn kubernetes(&mut self, k: &KubernetesConfig) {
        if k.max_manifest_bytes == 0 {
            self.err("kubernetes.max_manifest_bytes", "must be at least 1");
        }
        if k.max_manifest_depth < 2 {
            self.err("kubernetes.max_manifest_depth", "must be at least 2 (an object holds mappings)");
        }
        self.timeout("kubernetes.timeout", k.timeout);
        if k.namespaces.is_empty() {
            self.err("kubernetes.namespaces", "names no namespace");
        }
        if let Some(p) = &k.kubeconfig {
            self.file("kubernetes.kubeconfig", Some(p));
        }
        for (i, m) in k.manifests.iter().enumerate() {
            if m.as_os_str() != "-" && !m.exists() {
                self.err(&format!("kubernetes.manifests[{i}]"), format!("{} does not exist", m.display()));
            }
        }
        for (name, sel) in &k.components {
            let key = format!("kubernetes.components.{name}");
            if Component::parse(name).is_none() {
                self.err(&key, "unknown component (gateway, aiops, ml, admin_ui, clickhouse, kafka)");
            } else if let Err(e) = parse_selector(sel) {
                self.err(&key, e);
            }
        }
    }

    fn custom_checks(&mut self, c: &Config) {
        let id_re = Regex::new("^[a-z][a-z0-9_]*$").expect("static regex");
        let mut seen = HashSet::new();
        for (i, cc) in c.custom_checks.iter().enumerate() {
            let key = format!("custom_checks[{i}]");
            if !id_re.is_match(&cc.id) {
                self.err(&format!("{key}.id"), format!("{:?} must be lower_snake_case", cc.id));
            } else if catalogue::find(&cc.id).is_some() {
                self.err(&format!("{key}.id"), format!("{:?} is a built-in item", cc.id));
            } else if !seen.insert(cc.id.as_str()) {
                self.err(&format!("{key}.id"), format!("{:?} is used twice", cc.id));
            }
            if Category::parse(&cc.category).is_none() {
                let all: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
                self.err(&format!("{key}.category"), format!("{:?} is not one of {}", cc.category, all.join(", ")));
            }
            if !http_source_configured(c, &cc.request.source) {
                self.err(
                    &format!("{key}.request.source"),
                    format!("{:?} is not a configured HTTP source", cc.request.source),
                );
            }
            if !["GET", "POST", "HEAD"].contains(&cc.request.method.as_str()) {
                self.err(&format!("{key}.request.method"), format!("{:?} is not GET, POST or HEAD", cc.request.method));
            }
            if !cc.request.path.starts_with('/') {
                self.err(&format!("{key}.request.path"), "must start with /");
            }
            if cc.expr.trim().is_empty() {
                self.err(&format!("{key}.expr"), "is empty");
            } else if let Err(e) = crate::expr::compile(&cc.expr) {
                self.err(&format!("{key}.expr"), format!("custom item {}: CEL does not compile: {e}", cc.id));
            }
        }
    }

    fn checks(&mut self, c: &Config) {
        for (id, o) in &c.checks {
            let key = format!("checks.{id}");
            let Some(item) = catalogue::find(id) else {
                if !c.custom_checks.iter().any(|cc| &cc.id == id) {
                    self.err(&key, "unknown item id (see `infrasage-readiness catalogue`)");
                }
                continue;
            };
            for (name, value) in &o.params {
                let pkey = format!("{key}.params.{name}");
                let Some(spec) = item.param(name) else {
                    let known: Vec<_> = item.params.iter().map(|p| p.name).collect();
                    let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                    self.err(&pkey, format!("unknown parameter (this item has: {known})"));
                    continue;
                };
                if let Err(e) = check_param(spec.kind, value) {
                    self.err(&pkey, e);
                } else if let Err(e) = check_cel_param(item, name, value) {
                    self.err(&pkey, format!("item {id}: {e}"));
                }
            }
        }
    }

    fn attestations(&mut self, c: &Config) {
        for (id, a) in &c.attestations {
            let key = format!("attestations.{id}");
            match catalogue::find(id) {
                None => self.err(&key, "unknown item id (see `infrasage-readiness catalogue`)"),
                Some(item)
                    if item.automation != Automation::Attested && !item.sources.contains(&SourceId::Attestation) =>
                {
                    self.err(&key, "this item is decided automatically and cannot be attested")
                }
                Some(_) => {}
            }
            if a.by.trim().is_empty() {
                self.err(&format!("{key}.by"), "must name who signed it off");
            }
            if a.expires_after.0.is_zero() {
                self.err(&format!("{key}.expires_after"), "must be longer than zero");
            }
        }
    }
}

fn http_source_configured(c: &Config, source: &str) -> bool {
    match source {
        "prometheus" => c.prometheus.is_some(),
        "alertmanager" => c.alertmanager.is_some(),
        "grafana" => c.grafana.is_some(),
        "infrasage_api" => c.infrasage_api.is_some(),
        "services.gateway" => c.services.as_ref().is_some_and(|s| s.gateway.is_some()),
        "services.aiops" => c.services.as_ref().is_some_and(|s| s.aiops.is_some()),
        "services.ml" => c.services.as_ref().is_some_and(|s| s.ml.is_some()),
        _ => false,
    }
}

/// The admin-API items' `expr` must compile and `request` must be `METHOD /path`.
fn check_cel_param(item: &catalogue::Item, name: &str, v: &serde_json::Value) -> Result<(), String> {
    if !item.sources.contains(&SourceId::InfrasageApi) {
        return Ok(());
    }
    let text = v.as_str().unwrap_or_default();
    match name {
        "expr" => crate::expr::compile(text).map(|_| ()).map_err(|e| format!("CEL does not compile: {e}")),
        "request" => {
            let key = crate::snapshot::http::RequestKey::parse(text);
            let (m, p) = (key.method.as_str(), key.path.as_str());
            if !["GET", "POST", "HEAD"].contains(&m.to_ascii_uppercase().as_str()) {
                Err(format!("{m:?} is not GET, POST or HEAD"))
            } else if !p.starts_with('/') {
                Err(format!("{p:?} must start with /"))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn check_param(kind: ParamKind, v: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match (kind, v) {
        // Every integer parameter is a count, a size or a threshold, and every number a factor
        // or a ratio: a negative one would make an item pass or fail on nonsense.
        (ParamKind::Int, Value::Number(n)) if n.as_i64().is_some_and(|i| i >= 0) => Ok(()),
        (ParamKind::Int, Value::Number(n)) if n.is_i64() => Err(format!("must not be negative, got {n}")),
        (ParamKind::Int, _) => Err(format!("expected an integer, got {v}")),
        (ParamKind::Float, Value::Number(n)) if n.as_f64().is_some_and(|f| f.is_finite() && f > 0.0) => Ok(()),
        (ParamKind::Float, Value::Number(n)) => Err(format!("must be greater than zero, got {n}")),
        (ParamKind::Float, _) => Err(format!("expected a number, got {v}")),
        (ParamKind::String, Value::String(_)) => Ok(()),
        (ParamKind::String, _) => Err(format!("expected a string, got {v}")),
        (ParamKind::Regex, Value::String(s)) => Regex::new(s).map(|_| ()).map_err(|e| format!("bad regex: {e}")),
        (ParamKind::Regex, _) => Err(format!("expected a regex string, got {v}")),
        (ParamKind::Duration, Value::String(s)) => match super::parse_duration(s) {
            Ok(d) if d.is_zero() => Err("must be longer than zero".to_string()),
            r => r.map(|_| ()),
        },
        (ParamKind::Duration, _) => Err(format!("expected a duration like 24h, got {v}")),
        (ParamKind::StringList, Value::Array(a)) if a.iter().all(Value::is_string) => Ok(()),
        (ParamKind::StringList, _) => Err(format!("expected a list of strings, got {v}")),
        (ParamKind::Map, Value::Object(m)) if m.values().all(|x| x.is_string() || x.is_number()) => Ok(()),
        (ParamKind::Map, _) => Err(format!("expected a map of strings or numbers, got {v}")),
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
