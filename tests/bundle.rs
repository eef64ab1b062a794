//! The monitoring bundle: rules and their promtool tests, runbooks, dashboards (Grafana's own
//! schema, ids, grid, every query parsed) and the deploy/ render kept in step with alerts/.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use support::promstack::available;
use support::repo;

const RUNBOOK_BASE: &str = "https://github.com/infrasage/infrasage-readiness/blob/main/docs/runbooks/";

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rules() -> Vec<Value> {
    let doc = yaml("alerts/rules.yaml");
    doc["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect()
}

fn alerts() -> Vec<Value> {
    rules().into_iter().filter(|r| r.get("alert").is_some()).collect()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_the_rules_and_runs_their_tests() {
    if !available("promtool") {
        return;
    }
    let out = run_ok(Command::new("promtool").args(["check", "rules"]).arg(repo("alerts/rules.yaml")));
    assert!(out.contains("SUCCESS"), "{out}");
    // rule_files are relative to the working directory, not to the test file.
    let out = run_ok(Command::new("promtool").args(["test", "rules", "rules_test.yaml"]).current_dir(repo("alerts")));
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let tests = yaml("alerts/rules_test.yaml");
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for t in tests["tests"].as_array().unwrap() {
        for a in t["alert_rule_test"].as_array().into_iter().flatten() {
            let name = a["alertname"].as_str().unwrap().to_string();
            if a["exp_alerts"].as_array().is_some_and(|e| e.is_empty()) {
                quiet.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    for a in alerts() {
        let name = a["alert"].as_str().unwrap();
        assert!(firing.contains(name), "{name} has no test where it fires");
        assert!(quiet.contains(name), "{name} has no test where it stays quiet");
    }
}

#[test]
fn alerts_carry_severity_summary_description_and_an_existing_runbook() {
    let all = alerts();
    for name in [
        "InfraSageKafkaConsumerLagHigh",
        "InfraSageGatewayErrorRateHigh",
        "InfraSageClickHouseDiskUsageHigh",
        "InfraSageAIOpsEngineUnhealthy",
        "InfraSageReadinessCriticalItemFailing",
        "InfraSageReadinessWarningItemFailing",
        "InfraSageReadinessItemRegressed",
        "InfraSageReadinessSourceDown",
        "InfraSageReadinessEvaluationStale",
        "InfraSageReadinessExporterAbsent",
    ] {
        assert!(all.iter().any(|a| a["alert"] == name), "{name} is missing");
    }
    for a in &all {
        let name = a["alert"].as_str().unwrap();
        assert!(name.starts_with("InfraSage"), "{name}: mixin names carry the InfraSage prefix");
        let expr = a["expr"].as_str().unwrap();
        // The item alerts take severity from the item's own series; the others set it.
        let item_severity = expr.contains("infrasage_readiness_check_status");
        let sev = a["labels"]["severity"].as_str();
        assert!(
            sev.is_some_and(|s| s == "critical" || s == "warning") || (sev.is_none() && item_severity),
            "{name}: severity label"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(a["annotations"][key].as_str().is_some_and(|s| !s.is_empty()), "{name}: annotation {key}");
        }
        if item_severity {
            assert!(expr.contains("infrasage_readiness_check_info"), "{name}: joins _check_info for the doc link");
            assert_eq!(a["annotations"]["doc"], "{{ $labels.doc }}", "{name}: doc annotation");
        }
        let url = a["annotations"]["runbook_url"].as_str().unwrap();
        let file = url.strip_prefix(RUNBOOK_BASE).unwrap_or_else(|| panic!("{name}: runbook_url {url}"));
        let text = std::fs::read_to_string(repo("docs/runbooks").join(file))
            .unwrap_or_else(|_| panic!("{name}: docs/runbooks/{file} does not exist"));
        assert!(text.contains(name), "docs/runbooks/{file} does not name {name}");
        assert!(text.contains("## What to do"), "docs/runbooks/{file} says what to do");
    }
}

const GRAFANA_SCHEMA: &str = "grafana-schema-13.2.3";

/// `tsc --noEmit --strict` over each dashboard wrapped as `satisfies` Grafana's own type.
fn tsc(dashboards: &[(String, String)]) -> Option<(bool, String)> {
    let home = std::env::var("HOME").unwrap();
    let root = std::path::PathBuf::from(home).join(".cache/infrasage-readiness").join(GRAFANA_SCHEMA);
    let tsc = root.join("node_modules/.bin/tsc");
    if !tsc.exists() || !root.join("node_modules/@grafana/schema").exists() {
        assert!(
            std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(),
            "{} is missing (scripts/install-deps.sh)",
            root.display()
        );
        eprintln!("@grafana/schema is not installed: schema check not run");
        return None;
    }
    // Inside the install dir, so `@grafana/schema` resolves from its node_modules.
    let dir = tempfile::tempdir_in(&root).unwrap();
    std::fs::copy(repo("tests/support/bundle/dashboard.ts"), dir.path().join("dashboard.ts")).unwrap();
    let mut files = Vec::new();
    for (name, json) in dashboards {
        let ts = name.trim_end_matches(".json").replace('-', "_") + ".ts";
        let text = format!(
            "import type {{ DashboardJson }} from './dashboard.js';\nexport const d = {} satisfies DashboardJson;\n",
            json.trim_end()
        );
        std::fs::write(dir.path().join(&ts), text).unwrap();
        files.push(ts);
    }
    let out = Command::new(tsc)
        .args(["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"])
        .args(&files)
        .current_dir(dir.path())
        .output()
        .unwrap();
    Some((out.status.success(), String::from_utf8_lossy(&out.stdout).to_string()))
}

#[test]
fn dashboards_satisfy_grafanas_own_schema() {
    let all: Vec<(String, String)> = support::bundle::dashboards()
        .into_iter()
        .map(|(name, d)| (name, serde_json::to_string_pretty(&d).unwrap()))
        .collect();
    let Some((ok, out)) = tsc(&all) else { return };
    assert!(ok, "tsc found schema errors:\n{out}");
    // The check has teeth: an unknown enum value and an unknown key are refused.
    let broken = all[0].1.replacen("\"mode\": \"absolute\"", "\"mode\": \"absolutely\"", 1).replacen(
        "\"gridPos\": {",
        "\"gridPos\": {\"depth\": 1,",
        1,
    );
    let (ok, out) = tsc(&[("broken.json".into(), broken)]).unwrap();
    assert!(!ok && out.contains("absolutely") && out.contains("depth"), "{out}");
}

#[test]
fn dashboards_have_stable_uids_a_datasource_variable_and_a_clean_grid() {
    let boards = support::bundle::dashboards();
    let uids: Vec<&str> = boards.iter().map(|(_, d)| d["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["infrasage-clickhouse-disk", "infrasage-kafka-lag", "infrasage-readiness-overview"]);
    let uid_re = regex::Regex::new(r#""uid":"([^"]*)""#).unwrap();
    for (name, d) in &boards {
        assert!(d.get("__inputs").is_none() && d["id"].is_null(), "{name}: no import-time ids or inputs");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
            "{name}: a datasource template variable"
        );
        let text = serde_json::to_string(d).unwrap();
        for c in uid_re.captures_iter(&text) {
            let uid = &c[1];
            assert!(uid == "${datasource}" || uids.contains(&uid), "{name}: hard-coded datasource uid {uid}");
        }
        let panels = support::bundle::panels(d);
        assert!(!panels.is_empty());
        let mut ids = BTreeSet::new();
        let mut rects: Vec<(String, [i64; 4])> = Vec::new();
        for p in panels {
            let title = p["title"].as_str().unwrap().to_string();
            assert!(ids.insert(p["id"].as_i64().unwrap()), "{name}: duplicate panel id {}", p["id"]);
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{name} / {title}: datasource");
            for t in p["targets"].as_array().into_iter().flatten() {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{name} / {title}: query datasource");
            }
            let g = &p["gridPos"];
            let r = ["x", "y", "w", "h"].map(|k| g[k].as_i64().unwrap());
            assert!(r[0] >= 0 && r[2] > 0 && r[3] > 0 && r[0] + r[2] <= 24, "{name} / {title}: gridPos {g}");
            for (other, o) in &rects {
                let overlap = r[0] < o[0] + o[2] && o[0] < r[0] + r[2] && r[1] < o[1] + o[3] && o[1] < r[1] + r[3];
                assert!(!overlap, "{name}: panels {title:?} and {other:?} overlap");
            }
            rects.push((title, r));
        }
    }
}

#[test]
fn every_dashboard_query_parses() {
    if !available("promtool") {
        return;
    }
    // promtool has no "parse this expression"; as recording rules it parses each one.
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    let mut n = 0;
    for (name, d) in support::bundle::dashboards() {
        for (title, expr) in support::bundle::queries(&d) {
            let expr = support::bundle::substitute(&expr, "1m");
            assert!(!expr.contains('$'), "{name} / {title}: unsubstituted variable in {expr}");
            rules += &format!("      - record: q{n}\n        expr: {}\n", serde_json::to_string(&expr).unwrap());
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} queries found");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yaml");
    std::fs::write(&file, &rules).unwrap();
    let out = run_ok(Command::new("promtool").args(["check", "rules"]).arg(&file));
    assert!(out.contains(&format!("SUCCESS: {n} rules found")), "{out}");
}

#[test]
fn every_alert_carries_the_label_the_oncall_route_matches() {
    for a in alerts() {
        assert_eq!(a["labels"]["service"], "infrasage", "{}: service label", a["alert"]);
    }
}

/// The example routing: critical alerts reach the pager, warnings the ticket queue.
#[test]
fn the_example_alertmanager_routes_critical_to_the_pager() {
    if !available("amtool") {
        return;
    }
    let file = repo("alerts/alertmanager.example.yaml");
    run_ok(Command::new("amtool").arg("check-config").arg(&file));
    let route = |receiver: &str, labels: &[&str]| {
        Command::new("amtool")
            .args(["config", "routes", "test"])
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--verify.receivers={receiver}"))
            .args(labels)
            .output()
            .unwrap()
            .status
            .success()
    };
    let critical = ["service=infrasage", "severity=critical", "alertname=InfraSageReadinessItemRegressed"];
    let warning = ["service=infrasage", "severity=warning", "alertname=InfraSageReadinessWarningItemFailing"];
    assert!(route("infrasage-pager", &critical));
    assert!(route("infrasage-tickets", &warning));
    assert!(!route("infrasage-pager", &warning), "a warning must not page");
}
