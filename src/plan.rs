//! One plan per config: the enabled items with their severity and resolved params, the custom
//! items, and what each source must read for them, derived from what each item declares it
//! reads ([`crate::checks::Reads`]). Built once; the engine runs it and the sources gather for it,
//! so no source needs to know an item.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::catalogue::{self, Item, Params, Severity};
use crate::checks::{self, CheckFn, Read};
use crate::config::{Attestation, Config, CustomCheck};
use crate::snapshot::http::RequestKey;
use crate::sources::clickhouse::ClickhouseNeeds;
use crate::sources::{KubeNeeds, Needs};

/// How far back `system.query_log` is read when no item says.
const DEFAULT_QUERY_LOG_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// One enabled built-in item with its config applied.
pub struct PlannedItem {
    pub item: &'static Item,
    pub severity: Severity,
    pub params: Params,
    pub attestation: Option<Attestation>,
    pub check: Option<CheckFn>,
}

pub struct Plan {
    /// The items to evaluate, in catalogue order.
    pub items: Vec<PlannedItem>,
    pub custom: Vec<CustomCheck>,
    pub doc_base: String,
    /// What the sources read for every enabled item (also those `only` leaves out, so a
    /// selection changes what is shown, not what is gathered).
    pub needs: Needs,
}

impl Plan {
    /// `only`: evaluate just these ids (the CLI's `--only`); unknown ids are refused by the caller.
    pub fn new(config: &Config, only: Option<&[String]>) -> Plan {
        let wanted = |id: &str| only.is_none_or(|o| o.iter().any(|x| x == id));
        let enabled: Vec<PlannedItem> = catalogue::ITEMS
            .iter()
            .filter(|item| config.enabled(item.id))
            .map(|item| {
                let o = config.checks.get(item.id);
                PlannedItem {
                    item,
                    severity: o.and_then(|o| o.severity).unwrap_or(item.severity),
                    params: Params::resolve(item, o.map(|o| &o.params)),
                    attestation: config.attestations.get(item.id).cloned(),
                    check: checks::find(item.id),
                }
            })
            .collect();
        let custom_enabled: Vec<&CustomCheck> = config.custom_checks.iter().filter(|c| config.enabled(&c.id)).collect();
        let needs = needs(&enabled, &custom_enabled);
        Plan {
            items: enabled.into_iter().filter(|p| wanted(p.item.id)).collect(),
            custom: custom_enabled.into_iter().filter(|c| wanted(&c.id)).cloned().collect(),
            doc_base: config.doc_base_url.clone(),
            needs,
        }
    }
}

/// Each source's needs: the union of what the enabled items declare, read through their params.
fn needs(items: &[PlannedItem], custom: &[&CustomCheck]) -> Needs {
    let mut kinds = BTreeSet::new();
    let mut secret_env = None;
    let mut tables = BTreeSet::new();
    let mut window = None;
    let mut promql = BTreeSet::new();
    let mut requests: BTreeMap<String, BTreeSet<RequestKey>> = BTreeMap::new();
    for p in items {
        let reads = checks::reads(p.item.id);
        kinds.extend(reads.kinds.iter().copied());
        for read in reads.data {
            match *read {
                Read::SecretOfEnv(param) => secret_env = p.params.str(param).ok().map(str::to_string),
                Read::ClickhouseTables(param) => {
                    if let Ok(map) = p.params.map(param) {
                        tables.extend(map.values().filter_map(|v| v.as_str().map(str::to_string)));
                    } else if let Ok(t) = p.params.str(param) {
                        tables.insert(t.to_string());
                    }
                }
                Read::QueryLog(param) => window = p.params.duration(param).ok(),
                Read::Promql(param) => promql.extend(p.params.str(param).ok().map(str::to_string)),
                Read::Request { source, param } => {
                    if let Ok(r) = p.params.str(param) {
                        requests.entry(source.to_string()).or_default().insert(RequestKey::parse(r));
                    }
                }
            }
        }
    }
    for c in custom {
        let key = RequestKey::new(&c.request.method, &c.request.path);
        requests.entry(c.request.source.clone()).or_default().insert(key);
    }
    Needs {
        kube: KubeNeeds { kinds, secret_env },
        clickhouse: ClickhouseNeeds {
            tables: tables.into_iter().collect(),
            query_log_window: window.unwrap_or(DEFAULT_QUERY_LOG_WINDOW),
        },
        promql: promql.into_iter().collect(),
        requests: requests.into_iter().map(|(s, keys)| (s, keys.into_iter().collect())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn each_request_once_without_disabled_items_with_overrides_and_custom_items() {
        let plan = Plan::new(
            &config(serde_json::json!({
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
            })),
            None,
        );
        let requests = |s: &str| -> Vec<String> {
            plan.needs.requests.get(s).into_iter().flatten().map(|k| k.to_string()).collect()
        };
        assert_eq!(
            requests("infrasage_api"),
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
        assert_eq!(requests("grafana"), ["HEAD /api/health"]);
        assert!(requests("prometheus").is_empty());
    }

    #[test]
    fn kubernetes_kinds_and_the_jwt_secret_follow_the_enabled_items() {
        use crate::snapshot::kubernetes::KubeKind;
        let all = Plan::new(&Config::default(), None);
        assert_eq!(all.needs.kube.secret_env.as_deref(), Some("JWT_SECRET"));
        assert!(all.needs.kube.kinds.contains(&KubeKind::NetworkPolicy));
        let c = config(serde_json::json!({"checks": {
            "jwt_secret_strong": {"enabled": false},
            "network_policies_namespace_isolation": {"enabled": false},
            "egress_restricted": {"enabled": false}
        }}));
        let some = Plan::new(&c, None);
        assert_eq!(some.needs.kube.secret_env, None);
        assert!(!some.needs.kube.kinds.contains(&KubeKind::NetworkPolicy));
        let renamed =
            config(serde_json::json!({"checks": {"jwt_secret_strong": {"params": {"env_name": "SIGNING_KEY"}}}}));
        assert_eq!(Plan::new(&renamed, None).needs.kube.secret_env.as_deref(), Some("SIGNING_KEY"));
    }

    #[test]
    fn clickhouse_tables_and_window_come_from_the_params_of_enabled_items() {
        let c = config(serde_json::json!({"checks": {
            "retention_per_telemetry_type": {"params": {"tables": {"logs": "otel.logs", "traces": "otel.traces"}}},
            "retention_meets_compliance": {"enabled": false},
            "audit_logging_retention": {"params": {"audit_table": "audit.events"}},
            "clickhouse_memory_limit": {"params": {"window": "2d"}}
        }}));
        let plan = Plan::new(&c, None);
        assert_eq!(plan.needs.clickhouse.tables, ["audit.events", "otel.logs", "otel.traces"]);
        assert_eq!(plan.needs.clickhouse.query_log_window, Duration::from_secs(2 * 86_400));
        let off = config(serde_json::json!({"checks": {"clickhouse_memory_limit": {"enabled": false}}}));
        assert_eq!(Plan::new(&off, None).needs.clickhouse.query_log_window, DEFAULT_QUERY_LOG_WINDOW);
    }

    #[test]
    fn only_narrows_the_items_not_the_needs() {
        let only = ["egress_restricted".to_string()];
        let plan = Plan::new(&Config::default(), Some(&only));
        assert_eq!(plan.items.iter().map(|p| p.item.id).collect::<Vec<_>>(), ["egress_restricted"]);
        assert_eq!(plan.needs.kube.kinds, Plan::new(&Config::default(), None).needs.kube.kinds);
    }
}
