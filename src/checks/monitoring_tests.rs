use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::fixtures::run_on_snapshot;
use crate::outcome::Status;
use crate::snapshot::http::{Dashboard, GrafanaSnapshot, PromRule, PrometheusSnapshot, Receiver, ScrapeTarget};
use crate::snapshot::{Snapshot, SourceState};
use crate::sources::http::alertmanager::parse_config;

fn target(job: &str, health: &str) -> ScrapeTarget {
    ScrapeTarget {
        job: job.into(),
        instance: format!("{job}:9000"),
        health: health.into(),
        last_error: "connection refused".into(),
    }
}

fn prom(p: PrometheusSnapshot) -> Snapshot {
    Snapshot { prometheus: SourceState::Ready(p.into()), ..Default::default() }
}

#[test]
fn scraping_needs_an_up_target_per_job() {
    let mut p = PrometheusSnapshot {
        targets: vec![
            target("ingestion-gateway", "up"),
            target("aiops-engine", "down"),
            target("aiops-engine", "up"),
            target("ml-service", "down"),
        ],
        ..Default::default()
    };
    let o = run_on_snapshot("prometheus_scraping", &prom(p.clone()), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(o.findings.len(), 1);
    assert_eq!(o.findings[0].object, "job ml-service");
    assert!(o.findings[0].message.contains("connection refused"));
    p.targets.retain(|t| t.job != "ml-service");
    let o = run_on_snapshot("prometheus_scraping", &prom(p.clone()), &[]);
    assert!(o.findings[0].message.contains("no active target"));
    let o = run_on_snapshot("prometheus_scraping", &prom(p), &[("jobs", json!(["ingestion-gateway", "aiops-engine"]))]);
    assert_eq!(o.status, Status::Pass);
}

fn alert(name: &str, query: &str) -> PromRule {
    PromRule { group: "g".into(), name: name.into(), kind: "alerting".into(), query: query.into() }
}

#[test]
fn the_bundled_alert_names_cover_all_four() {
    let p = PrometheusSnapshot {
        rules: [
            "InfraSageKafkaConsumerLagHigh",
            "InfraSageGatewayErrorRateHigh",
            "InfraSageClickHouseDiskUsageHigh",
            "InfraSageAIOpsEngineUnhealthy",
        ]
        .iter()
        .map(|n| alert(n, "vector(1)"))
        .collect(),
        ..Default::default()
    };
    assert_eq!(run_on_snapshot("alert_rules_configured", &prom(p), &[]).status, Status::Pass);
}

#[test]
fn rules_match_by_expression_metric_and_recording_rules_do_not_count() {
    let p = PrometheusSnapshot {
        rules: vec![
            alert("LagA", "sum(infrasage_kafka_consumergroup_lag_sum) > 1000"),
            alert("DiskA", "infrasage_clickhouse_disk_free_bytes / infrasage_clickhouse_disk_total_bytes < 0.25"),
            PromRule { kind: "recording".into(), ..alert("InfraSageGatewayErrorRateHigh", "x") },
        ],
        ..Default::default()
    };
    let o = run_on_snapshot("alert_rules_configured", &prom(p), &[]);
    assert_eq!(o.status, Status::Fail);
    let objects: Vec<_> = o.findings.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(objects, ["alert rule for gateway error rate > 1 %", "alert rule for AIops engine unhealthy"]);
}

const TREE: &str = r#"
route:
  receiver: fallback
  routes:
    - matchers: ['team="db"']
      receiver: db-mail
    - match: {service: infrasage}
      receiver: infra-slack
      continue: true
      routes:
        - match_re: {severity: "crit.*"}
          receiver: infra-pager
    - matchers: ['service=~"infra.*"']
      receiver: infra-mail
receivers:
  - name: fallback
  - name: db-mail
    email_configs: [{to: db@x}]
  - name: infra-slack
    slack_configs: [{channel: '#x'}]
  - name: infra-pager
    pagerduty_configs: [{routing_key: '<secret>'}]
  - name: infra-mail
    email_configs: [{to: i@x}]
"#;

fn am(yaml: &str) -> Snapshot {
    let (route, receivers) = parse_config(yaml).unwrap();
    Snapshot {
        alertmanager: SourceState::Ready(AlertmanagerSnapshot { route, receivers, answers: BTreeMap::new() }.into()),
        ..Default::default()
    }
}

#[test]
fn routing_follows_children_continue_and_inheritance() {
    let s = am(TREE);
    let a = s.alertmanager.ready().unwrap();
    assert_eq!(
        receivers_for(a, &[("service", "infrasage"), ("severity", "critical")]).unwrap(),
        ["infra-pager", "infra-mail"]
    );
    assert_eq!(
        receivers_for(a, &[("service", "infrasage"), ("severity", "warning")]).unwrap(),
        ["infra-slack", "infra-mail"]
    );
    assert_eq!(receivers_for(a, &[("team", "db"), ("service", "infrasage")]).unwrap(), ["db-mail"]);
    assert_eq!(receivers_for(a, &[("service", "other")]).unwrap(), ["fallback"]);
    let o = run_on_snapshot("oncall_routes_infrasage", &s, &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert!(o.reason.as_deref().unwrap().contains("infra-pager, which pages through pagerduty"));
}

#[test]
fn a_receiver_without_paging_integration_fails() {
    let s = am(TREE);
    let o = run_on_snapshot(
        "oncall_routes_infrasage",
        &s,
        &[("labels", json!({"service": "infrasage", "severity": "warning"}))],
    );
    assert_eq!(o.status, Status::Fail);
    let msgs: Vec<_> = o.findings.iter().map(|f| format!("{}: {}", f.object, f.message)).collect();
    assert!(msgs[0].starts_with("receiver infra-slack: "), "{msgs:?}");
    assert!(msgs[0].contains("does not page (has slack)"));
    let bare = am("route: {receiver: nobody}\nreceivers: [{name: nobody}]\n");
    let o = run_on_snapshot("oncall_routes_infrasage", &bare, &[]);
    assert!(o.findings[0].message.contains("has no integration"), "{o:?}");
    let _ = Receiver::default();
}

#[test]
fn grafana_titles_or_uids() {
    let g = GrafanaSnapshot {
        dashboards: vec![
            Dashboard { uid: "sys".into(), title: "System Health".into() },
            Dashboard { uid: "ing".into(), title: "Ingestion".into() },
        ],
        answers: BTreeMap::new(),
    };
    let s = Snapshot { grafana: SourceState::Ready(g.into()), ..Default::default() };
    let o = run_on_snapshot("grafana_dashboards_imported", &s, &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(o.findings[0].object, "dashboard \"Anomaly Detection\"");
    let o = run_on_snapshot("grafana_dashboards_imported", &s, &[("dashboards", json!(["sys", "Ingestion"]))]);
    assert_eq!(o.status, Status::Pass);
    assert_eq!(run_on_snapshot("grafana_dashboards_imported", &Snapshot::default(), &[]).status, Status::Skipped);
}
