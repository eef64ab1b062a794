//! Checks of the monitoring category: Prometheus scrapes the services and has the alert rules,
//! Alertmanager routes InfraSage alerts to someone who gets paged, Grafana has the boards.

use std::collections::BTreeMap;

use regex::Regex;

use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::http::{AlertmanagerSnapshot, MatchOp, Matcher, Route};

// ---- prometheus_scraping

pub fn prometheus_scraping(ctx: &CheckCtx) -> CheckResult {
    let p = ctx.snapshot.prometheus()?;
    let jobs = ctx.params.list("jobs")?;
    let findings = jobs
        .iter()
        .filter_map(|job| {
            let targets: Vec<_> = p.targets.iter().filter(|t| &t.job == job).collect();
            if targets.is_empty() {
                return Some(Finding::new(format!("job {job}"), "Prometheus has no active target with this job label"));
            }
            if targets.iter().any(|t| t.health == "up") {
                return None;
            }
            let t = targets[0];
            let why = if t.last_error.is_empty() { String::new() } else { format!(": {}", t.last_error) };
            Some(Finding::new(
                format!("job {job}"),
                format!("none of its {} targets is up ({} is {}{why})", targets.len(), t.instance, t.health),
            ))
        })
        .collect();
    Ok(Outcome::from_findings(findings, format!("a healthy target scrapes each of {}", jobs.join(", "))))
}

// ---- alert_rules_configured

/// Each concern, the parameter holding its pattern, and how a finding names it.
const CONCERNS: [(&str, &str); 4] = [
    ("kafka_lag_rule", "Kafka consumer lag"),
    ("gateway_errors_rule", "gateway error rate > 1 %"),
    ("clickhouse_disk_rule", "ClickHouse disk usage > 75 %"),
    ("aiops_health_rule", "AIops engine unhealthy"),
];

pub fn alert_rules_configured(ctx: &CheckCtx) -> CheckResult {
    let p = ctx.snapshot.prometheus()?;
    let alerts: Vec<_> = p.rules.iter().filter(|r| r.kind == "alerting").collect();
    let mut findings = Vec::new();
    let mut covered = Vec::new();
    for (param, what) in CONCERNS {
        let re = ctx.params.regex(param)?;
        match alerts.iter().find(|r| re.is_match(&r.name) || re.is_match(&r.query)) {
            Some(r) => covered.push(format!("{what} by {}", r.name)),
            None => findings.push(Finding::new(
                format!("alert rule for {what}"),
                format!(
                    "no loaded alerting rule matches {} (name or expression) among {} alerts",
                    re.as_str(),
                    alerts.len()
                ),
            )),
        }
    }
    Ok(Outcome::from_findings(findings, format!("covered: {}", covered.join("; "))))
}

// ---- oncall_routes_infrasage

pub fn oncall_routes_infrasage(ctx: &CheckCtx) -> CheckResult {
    let am = ctx.snapshot.alertmanager()?;
    let labels: BTreeMap<String, String> = ctx
        .params
        .map("labels")?
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    let paging = ctx.params.list("paging_integrations")?;
    let shown = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",");
    let reached = route_alert(&am.route, &labels).map_err(Undecided::error)?;
    let mut findings = Vec::new();
    for name in &reached {
        let Some(r) = am.receivers.iter().find(|r| &r.name == name) else {
            findings.push(Finding::new(format!("receiver {name}"), "is routed to but not defined"));
            continue;
        };
        if let Some(kind) = r.integrations.iter().find(|i| paging.contains(i)) {
            return Ok(Outcome::pass(format!("alerts {{{shown}}} reach receiver {name}, which pages through {kind}")));
        }
        let has = if r.integrations.is_empty() { "no integration".to_string() } else { r.integrations.join(", ") };
        findings.push(Finding::new(
            format!("receiver {name}"),
            format!("alerts {{{shown}}} reach it but it does not page (has {has})"),
        ));
    }
    Ok(Outcome::from_findings(findings, ""))
}

/// The receivers an alert with `labels` reaches, as Alertmanager routes it: the root matches
/// every alert; at each matching node the children are tried in order, stopping at the first
/// match unless it has `continue`; a node no child takes delivers to its own receiver,
/// inherited from its parent when unset.
pub fn route_alert(root: &Route, labels: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    walk(root, root.receiver.as_deref().unwrap_or(""), labels, &mut out)?;
    Ok(out)
}

fn walk(node: &Route, inherited: &str, labels: &BTreeMap<String, String>, out: &mut Vec<String>) -> Result<(), String> {
    let receiver = node.receiver.as_deref().unwrap_or(inherited);
    let mut taken = false;
    for child in &node.routes {
        if matches_all(&child.matchers, labels)? {
            walk(child, receiver, labels, out)?;
            taken = true;
            if !child.continue_matching {
                break;
            }
        }
    }
    if !taken && !out.iter().any(|r| r == receiver) {
        out.push(receiver.to_string());
    }
    Ok(())
}

fn matches_all(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for m in matchers {
        // An absent label matches as the empty string, as in Alertmanager.
        let v = labels.get(&m.name).map(String::as_str).unwrap_or("");
        let hit = match m.op {
            MatchOp::Equal => v == m.value,
            MatchOp::NotEqual => v != m.value,
            MatchOp::Regex | MatchOp::NotRegex => {
                // Alertmanager anchors regex matchers.
                let re = Regex::new(&format!("^(?:{})$", m.value))
                    .map_err(|e| format!("route matcher {}=~{:?}: {e}", m.name, m.value))?;
                re.is_match(v) == (m.op == MatchOp::Regex)
            }
        };
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// For tests and the report: the receiver names an alert reaches.
pub fn receivers_for(am: &AlertmanagerSnapshot, labels: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    route_alert(&am.route, &labels)
}

// ---- grafana_dashboards_imported

pub fn grafana_dashboards_imported(ctx: &CheckCtx) -> CheckResult {
    let g = ctx.snapshot.grafana()?;
    let wanted = ctx.params.list("dashboards")?;
    let findings = wanted
        .iter()
        .filter(|w| !g.dashboards.iter().any(|d| &d.title == *w || &d.uid == *w))
        .map(|w| {
            Finding::new(
                format!("dashboard {w:?}"),
                format!("no dashboard with this title or uid among {}", g.dashboards.len()),
            )
        })
        .collect();
    Ok(Outcome::from_findings(findings, format!("dashboards present: {}", wanted.join(", "))))
}

#[cfg(test)]
#[path = "monitoring_tests.rs"]
mod tests;
