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
