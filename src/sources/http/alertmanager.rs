//! Alertmanager's `/api/v2/status`: the loaded configuration (`config.original`, YAML) turned
//! into the routing tree and the receivers with their integration kinds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Endpoint, Token};
use crate::catalogue::SourceId;
use crate::config::Config;
use crate::snapshot::http::RequestKey;
use crate::snapshot::http::{AlertmanagerSnapshot, MatchOp, Matcher, Receiver, Route};
use crate::snapshot::SourceData;
use crate::sources::{BoxFuture, Gathered, Needs, Source};

pub struct AlertmanagerSource {
    endpoint: Endpoint,
    timeout: Duration,
    planned: Vec<RequestKey>,
}

#[derive(Deserialize)]
struct Status {
    config: StatusConfig,
}

#[derive(Deserialize)]
struct StatusConfig {
    original: String,
}

#[derive(Deserialize)]
struct AmConfig {
    route: Option<RawRoute>,
    #[serde(default)]
    receivers: Vec<BTreeMap<String, serde_yaml_ng::Value>>,
}

#[derive(Deserialize, Default)]
struct RawRoute {
    receiver: Option<String>,
    #[serde(default, rename = "match")]
    match_eq: BTreeMap<String, String>,
    #[serde(default)]
    match_re: BTreeMap<String, String>,
    #[serde(default)]
    matchers: Vec<String>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

impl AlertmanagerSource {
    pub fn new(config: &Config, needs: &Needs) -> Result<Option<AlertmanagerSource>, String> {
        let Some(a) = &config.alertmanager else { return Ok(None) };
        let endpoint = Endpoint::new(&a.url, a.tls.as_ref(), a.timeout.0, Token::default())
            .map_err(|e| format!("alertmanager: {e}"))?;
        Ok(Some(AlertmanagerSource { endpoint, timeout: a.timeout.0, planned: needs.requests_of("alertmanager") }))
    }
}

impl Source for AlertmanagerSource {
    fn id(&self) -> SourceId {
        SourceId::Alertmanager
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let v = self.endpoint.json("GET", "/api/v2/status").await?;
            let status: Status =
                crate::redact::from_json_value(v).map_err(|e| format!("/api/v2/status: unexpected answer: {e}"))?;
            let (route, receivers) = parse_config(&status.config.original)?;
            let answers = self.endpoint.answers(&self.planned).await;
            let snap = AlertmanagerSnapshot { route, receivers, answers };
            Ok(Gathered { data: SourceData::Alertmanager(std::sync::Arc::new(snap)), warnings: Vec::new() })
        })
    }
}

/// The routing tree and receivers of an Alertmanager config file.
pub fn parse_config(yaml: &str) -> Result<(Route, Vec<Receiver>), String> {
    let c: AmConfig = serde_yaml_ng::from_str(yaml)
        .map_err(|e| format!("config.original: {}", crate::redact::serde_message(&e.to_string())))?;
    let route = convert(c.route.unwrap_or_default())?;
    let receivers = c
        .receivers
        .into_iter()
        .map(|r| {
            let name = r.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
            // `pagerduty_configs: [..]` → `pagerduty`; empty lists configure nothing.
            let integrations = r
                .iter()
                .filter(|(_, v)| v.as_sequence().is_some_and(|s| !s.is_empty()))
                .filter_map(|(k, _)| k.strip_suffix("_configs").map(str::to_string))
                .collect();
            Receiver { name, integrations }
        })
        .collect();
    Ok((route, receivers))
}

fn convert(r: RawRoute) -> Result<Route, String> {
    let mut matchers: Vec<Matcher> = r
        .match_eq
        .into_iter()
        .map(|(name, value)| Matcher { name, op: MatchOp::Equal, value })
        .chain(r.match_re.into_iter().map(|(name, value)| Matcher { name, op: MatchOp::Regex, value }))
        .collect();
    for m in &r.matchers {
        matchers.extend(parse_matchers(m)?);
    }
    let routes = r.routes.into_iter().map(convert).collect::<Result<_, _>>()?;
    Ok(Route { receiver: r.receiver, matchers, continue_matching: r.continue_matching, routes })
}

/// One `matchers:` entry: `name="value"`, `name=~"re"`, `name!=v`, `name!~re`, or several of
/// them comma-separated, optionally inside `{…}`.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let t = text.trim();
    let t = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(t);
    split_outside_quotes(t).into_iter().filter(|p| !p.trim().is_empty()).map(|p| parse_one(p.trim())).collect()
}

fn split_outside_quotes(t: &str) -> Vec<String> {
    let (mut parts, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for ch in t.chars() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts
}

fn parse_one(m: &str) -> Result<Matcher, String> {
    let pos = m.find(['=', '!']).ok_or_else(|| format!("matcher {m:?} has no operator"))?;
    let (name, rest) = m.split_at(pos);
    let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchOp::Regex, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchOp::Equal, v)
    } else {
        return Err(format!("matcher {m:?} has no operator"));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("matcher {m:?} has no label name"));
    }
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => unescape(inner),
        None => value.to_string(),
    };
    Ok(Matcher { name: name.to_string(), op, value })
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_in_every_syntax() {
        let m = parse_matchers(r#"{service="infra,sage", severity=~"crit.*"}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].name.as_str(), m[0].op, m[0].value.as_str()), ("service", MatchOp::Equal, "infra,sage"));
        assert_eq!((m[1].op, m[1].value.as_str()), (MatchOp::Regex, "crit.*"));
        let m = parse_matchers("team!=db").unwrap();
        assert_eq!((m[0].op, m[0].value.as_str()), (MatchOp::NotEqual, "db"));
        let m = parse_matchers(r#"env!~"dev|test""#).unwrap();
        assert_eq!((m[0].op, m[0].value.as_str()), (MatchOp::NotRegex, "dev|test"));
        assert!(parse_matchers("justaname").is_err());
    }

    #[test]
    fn config_tree_and_integrations() {
        let yaml = r#"
route:
  receiver: default
  routes:
    - match: {service: infrasage}
      match_re: {severity: "critical|page"}
      receiver: pager
      continue: true
    - matchers: ['team="db"']
      receiver: mail
receivers:
  - name: default
  - name: pager
    pagerduty_configs: [{routing_key: x}]
  - name: mail
    email_configs: [{to: a@b}]
    webhook_configs: []
"#;
        let (route, receivers) = parse_config(yaml).unwrap();
        assert_eq!(route.receiver.as_deref(), Some("default"));
        assert_eq!(route.routes.len(), 2);
        assert!(route.routes[0].continue_matching);
        assert_eq!(route.routes[0].matchers.len(), 2);
        assert_eq!(route.routes[1].matchers[0].value, "db");
        let kinds: Vec<_> = receivers.iter().map(|r| (r.name.as_str(), r.integrations.clone())).collect();
        assert_eq!(
            kinds,
            [("default", vec![]), ("pager", vec!["pagerduty".to_string()]), ("mail", vec!["email".to_string()])]
        );
        assert!(parse_config("route: [").is_err());
    }
}
