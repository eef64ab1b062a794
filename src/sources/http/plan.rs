//! Which requests each HTTP source makes besides its own: the request of every enabled
//! admin-API item (its `request` parameter) and of every custom item naming the source.

use std::collections::BTreeSet;

use crate::catalogue::{self, SourceId};
use crate::checks::Params;
use crate::config::Config;

/// `"GET /path"` → (`GET`, `/path`); a bare path means GET.
pub fn split(key: &str) -> (&str, &str) {
    match key.trim().split_once(' ') {
        Some((m, p)) => (m, p.trim()),
        None => ("GET", key.trim()),
    }
}

/// The canonical key of a request, as stored in [`crate::snapshot::http::Answers`].
pub fn key(method: &str, path: &str) -> String {
    format!("{} {}", method.trim().to_ascii_uppercase(), path.trim())
}

/// The planned requests of `source` (named as in `custom_checks[].request.source`).
pub fn requests(config: &Config, source: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    if source == "infrasage_api" {
        for item in catalogue::ITEMS.iter().filter(|i| i.sources.contains(&SourceId::InfrasageApi)) {
            let o = config.checks.get(item.id);
            if o.and_then(|o| o.enabled) == Some(false) {
                continue;
            }
            if let Ok(r) = Params::resolve(item, o.map(|o| &o.params)).str("request") {
                let (m, p) = split(r);
                out.insert(key(m, p));
            }
        }
    }
    for c in config.custom_checks.iter().filter(|c| c.request.source == source) {
        if config.checks.get(&c.id).and_then(|o| o.enabled) != Some(false) {
            out.insert(key(&c.request.method, &c.request.path));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_once_without_disabled_items_with_overrides_and_custom_items() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "infrasage_api": {"url": "http://127.0.0.1:1"},
            "checks": {
                "incident_feedback_loop": {"enabled": false},
                "audit_logging_retention": {"enabled": false},
                "anomaly_sensitivity_tuned": {"params": {"request": "get /v2/sensitivity"}}
            },
            "custom_checks": [
                {"id": "a", "category": "auth", "title": "t", "request": {"source": "infrasage_api", "path": "/api/v1/users"}, "expr": "true"},
                {"id": "b", "category": "auth", "title": "t", "request": {"source": "grafana", "method": "HEAD", "path": "/api/health"}, "expr": "true"}
            ]
        }))
        .unwrap();
        assert_eq!(
            requests(&config, "infrasage_api"),
            [
                "GET /api/v1/api-keys",
                "GET /api/v1/notification-channels",
                "GET /api/v1/runbooks",
                "GET /api/v1/tenants",
                "GET /api/v1/users",
                "GET /v2/sensitivity"
            ],
            "settings is read only by disabled items"
        );
        assert_eq!(requests(&config, "grafana"), ["HEAD /api/health"]);
        assert!(requests(&config, "prometheus").is_empty());
        assert_eq!(split("/x"), ("GET", "/x"));
    }
}
