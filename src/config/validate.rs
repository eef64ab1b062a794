//! Checks a parsed config beyond its types; every problem names its key path.

use std::collections::HashSet;
use std::net::SocketAddr;

use regex::Regex;

use super::{Config, ConfigError, Validator};
use crate::catalogue::{self, Automation, Category, ParamKind, SourceId};

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
    for (key, section) in c.sections() {
        section.validate(key, &mut v);
        if section.interval().is_some_and(|i| i.as_secs() < 1) {
            v.err(&format!("{key}.interval"), "must be at least 1s");
        }
    }
    v.custom_checks(c);
    v.checks(c);
    v.attestations(c);
    v.errors
}

impl Validator {
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
            if !c.http_source_configured(&cc.request.source) {
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
