//! `deploy/rbac.yaml` grants exactly what the code reads: derived from the plan of the items.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use serde::Deserialize;

fn documents() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/rbac.yaml")).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text).map(|d| serde_json::Value::deserialize(d).unwrap()).collect()
}

fn of_kind<T: serde::de::DeserializeOwned>(kind: &str) -> Vec<T> {
    documents().into_iter().filter(|d| d["kind"] == kind).map(|d| serde_json::from_value(d).unwrap()).collect()
}

#[test]
fn cluster_role_lists_exactly_the_kinds_the_items_read() {
    use infrasage_readiness::snapshot::kubernetes::KubeKind;
    // Every item enabled: the plan of the default config lists what the live loader may list.
    let plan = infrasage_readiness::plan::Plan::new(&infrasage_readiness::config::Config::default(), None);
    let needed: BTreeSet<(String, String, String)> = plan
        .needs
        .kube
        .kinds
        .iter()
        .filter(|k| **k != KubeKind::Secret)
        .map(|k| (k.group().to_string(), k.resource().to_string(), "list".to_string()))
        .collect();
    let roles: Vec<ClusterRole> = of_kind("ClusterRole");
    assert_eq!(roles.len(), 1);
    let mut granted = BTreeSet::new();
    for rule in roles[0].rules.iter().flatten() {
        assert!(rule.resource_names.is_none(), "no rule of the ClusterRole is limited by name");
        for g in rule.api_groups.iter().flatten() {
            for r in rule.resources.iter().flatten() {
                for v in &rule.verbs {
                    granted.insert((g.clone(), r.clone(), v.clone()));
                }
            }
        }
    }
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
}

#[test]
fn secrets_only_by_name() {
    let roles: Vec<Role> = of_kind("Role");
    assert_eq!(roles.len(), 1);
    let rules = roles[0].rules.clone().unwrap_or_default();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].resources.as_deref(), Some(&["secrets".to_string()][..]));
    assert_eq!(rules[0].verbs, vec!["get"]);
    assert!(rules[0].resource_names.as_ref().is_some_and(|n| !n.is_empty()), "Secrets only by resourceNames");
    let cluster: Vec<ClusterRole> = of_kind("ClusterRole");
    assert!(
        !cluster[0].rules.iter().flatten().any(|r| r.resources.iter().flatten().any(|x| x == "secrets")),
        "the ClusterRole grants no Secrets"
    );
}
