//! Every default expression against a passing and a failing answer, plus the convention's edges.

use serde_json::{json, Value};

use super::*;
use crate::fixtures::run_on_snapshot;
use crate::outcome::Status;
use crate::snapshot::http::ApiSnapshot;
use crate::snapshot::SourceState;

/// Runs `id` with the admin API answering its default request with `body`.
fn run(id: &str, body: Value, overrides: &[(&str, Value)]) -> Outcome {
    let item = crate::catalogue::find(id).unwrap();
    let request = item.param("request").unwrap().default_value();
    let mut api = ApiSnapshot::default();
    api.answers.insert(RequestKey::parse(request.as_str().unwrap()), Ok(body));
    let s = Snapshot { infrasage_api: SourceState::Ready(api.into()), ..Default::default() };
    run_on_snapshot(id, &s, overrides)
}

fn objects(o: &Outcome) -> Vec<&str> {
    o.findings.iter().map(|f| f.object.as_str()).collect()
}

fn keys(list: Value) -> Value {
    json!({ "api_keys": list })
}

fn key(name: &str, scopes: &[&str], expires: Value, system: bool, revoked: bool, ingest: bool) -> Value {
    json!({"name": name, "scopes": scopes, "expires_at": expires, "system": system, "revoked": revoked, "used_for_ingestion": ingest})
}

#[test]
fn every_default_expression_compiles_and_every_api_item_has_one() {
    for item in crate::catalogue::ITEMS.iter().filter(|i| i.sources.contains(&crate::catalogue::SourceId::InfrasageApi))
    {
        let expr = item.param("expr").unwrap_or_else(|| panic!("{} has no expr", item.id)).default_value();
        compile(expr.as_str().unwrap()).unwrap_or_else(|e| panic!("{}: {e}", item.id));
        assert!(item.param("request").is_some(), "{} has no request", item.id);
    }
}

#[test]
fn api_keys_rotated_from_onboarding() {
    let good = keys(json!([
        key("prod-ingest", &["ingestion"], json!(null), false, false, true),
        key("demo-key", &[], json!(null), false, true, false)
    ]));
    assert_eq!(run("api_keys_rotated_from_onboarding", good, &[]).status, Status::Pass);
    let bad = keys(json!([
        key("Onboarding-2024", &[], json!(null), false, false, false),
        key("ok", &[], json!(null), false, false, false)
    ]));
    let o = run("api_keys_rotated_from_onboarding", bad, &[]);
    assert_eq!((o.status, objects(&o)), (Status::Fail, vec!["Onboarding-2024"]));
}

#[test]
fn default_tenant_unused() {
    let t = |n: &str, e: i64| json!({"name": n, "events_last_24h": e});
    assert_eq!(
        run("default_tenant_unused", json!({"tenants": [t("acme", 10), t("default", 0)]}), &[]).status,
        Status::Pass
    );
    let o = run("default_tenant_unused", json!({"tenants": [t("default", 5)]}), &[]);
    assert_eq!((o.status, objects(&o)), (Status::Fail, vec!["default"]));
}

#[test]
fn ingestion_keys_scoped() {
    let good = keys(json!([
        key("gw", &["ingestion"], json!(null), false, false, true),
        key("admin", &["admin"], json!(null), false, false, false)
    ]));
    assert_eq!(run("ingestion_keys_scoped", good, &[]).status, Status::Pass);
    let bad = keys(json!([
        key("gw", &["ingestion", "admin"], json!(null), false, false, true),
        key("otel", &[], json!(null), false, false, true)
    ]));
    let o = run("ingestion_keys_scoped", bad, &[]);
    assert_eq!((o.status, objects(&o)), (Status::Fail, vec!["gw", "otel"]));
}

#[test]
fn human_users_least_privilege() {
    let u = |e: &str, roles: &[&str], human: bool| json!({"email": e, "roles": roles, "human": human});
    let body = json!({"users": [u("ops@x", &["Operator"], true), u("bot", &["Admin"], false), u("boss@x", &["Super-Admin"], true)]});
    let o = run("human_users_least_privilege", body.clone(), &[]);
    assert_eq!((o.status, objects(&o)), (Status::Fail, vec!["boss@x"]));
    let allowed = run("human_users_least_privilege", body, &[("allow_list", json!(["boss@x"]))]);
    assert_eq!(allowed.status, Status::Pass);
}

#[test]
fn super_admins_max_2() {
    let sa = |e: &str| json!({"email": e, "roles": ["Super-Admin"], "human": true});
    assert_eq!(run("super_admins_max_2", json!({"users": [sa("a"), sa("b")]}), &[]).status, Status::Pass);
    let o = run("super_admins_max_2", json!({"users": [sa("a"), sa("b"), sa("c")]}), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(objects(&o), ["GET /api/v1/users"]);
    assert_eq!(
        run("super_admins_max_2", json!({"users": [sa("a"), sa("b"), sa("c")]}), &[("max", json!(3))]).status,
        Status::Pass
    );
}

#[test]
fn api_keys_expire() {
    let good = keys(json!([
        key("a", &[], json!("2027-01-01T00:00:00Z"), false, false, false),
        key("sys", &[], json!(null), true, false, false)
    ]));
    assert_eq!(run("api_keys_expire", good, &[]).status, Status::Pass);
    let bad = keys(json!([key("forever", &[], json!(null), false, false, false)]));
    assert_eq!(objects(&run("api_keys_expire", bad, &[])), ["forever"]);
}

#[test]
fn audit_logging_retention() {
    let s = |enabled: bool, days: i64| json!({"audit_logging": {"enabled": enabled, "retention_days": days}, "incident_feedback_loop": {"enabled": true}});
    assert_eq!(run("audit_logging_retention", s(true, 90), &[]).status, Status::Pass);
    assert_eq!(objects(&run("audit_logging_retention", s(true, 30), &[])), ["audit_logging.retention_days"]);
    assert_eq!(objects(&run("audit_logging_retention", s(false, 365), &[])), ["audit_logging.enabled"]);
    assert_eq!(run("audit_logging_retention", s(true, 30), &[("min_retention", json!("30d"))]).status, Status::Pass);
}

#[test]
fn notification_channel_configured() {
    let c = |t: &str, e: bool| json!({"type": t, "enabled": e});
    assert_eq!(
        run("notification_channel_configured", json!({"channels": [c("email", true), c("slack", true)]}), &[]).status,
        Status::Pass
    );
    let o = run("notification_channel_configured", json!({"channels": [c("email", true), c("pagerduty", false)]}), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(run("notification_channel_configured", json!({"channels": []}), &[]).status, Status::Fail);
}

#[test]
fn anomaly_sensitivity_tuned() {
    let good = json!({"default": 3.0, "services": {"gateway": 3.0, "aiops": 2.5}});
    assert_eq!(run("anomaly_sensitivity_tuned", good, &[]).status, Status::Pass);
    // JSON `3` and `3.0` are the same sensitivity.
    let bad = json!({"default": 3.0, "services": {"gateway": 3, "aiops": 3.0}});
    assert_eq!(run("anomaly_sensitivity_tuned", bad, &[]).status, Status::Fail);
}

fn runbook(name: &str, auto: bool, approval: bool, destructive: bool, dry: Value) -> Value {
    json!({"name": name, "auto_execute": auto, "requires_approval": approval, "destructive": destructive, "last_dry_run": dry})
}

#[test]
fn runbooks_dry_run_tested() {
    let ok = json!({"status": "success", "at": "2026-11-01T00:00:00Z"});
    let good = json!({"runbooks": [runbook("restart", true, true, true, ok.clone()), runbook("manual", false, true, false, json!(null))]});
    assert_eq!(run("runbooks_dry_run_tested", good, &[]).status, Status::Pass);
    let failed = json!({"status": "failed", "at": "2026-11-01T00:00:00Z"});
    let bad = json!({"runbooks": [runbook("scale", true, true, true, json!(null)), runbook("flush", true, true, false, failed), runbook("ok", true, true, false, ok)]});
    assert_eq!(objects(&run("runbooks_dry_run_tested", bad, &[])), ["scale", "flush"]);
}

#[test]
fn runbook_approval_destructive() {
    let good = json!({"runbooks": [runbook("restart", true, true, true, json!(null)), runbook("notify", true, false, false, json!(null))]});
    assert_eq!(run("runbook_approval_destructive", good, &[]).status, Status::Pass);
    let bad = json!({"runbooks": [runbook("restart", true, false, true, json!(null))]});
    assert_eq!(objects(&run("runbook_approval_destructive", bad, &[])), ["restart"]);
}

#[test]
fn incident_feedback_loop() {
    let s = |e: bool| json!({"audit_logging": {"enabled": true, "retention_days": 90}, "incident_feedback_loop": {"enabled": e}});
    assert_eq!(run("incident_feedback_loop", s(true), &[]).status, Status::Pass);
    assert_eq!(run("incident_feedback_loop", s(false), &[]).status, Status::Fail);
}

#[test]
fn a_body_of_another_shape_is_an_error_naming_the_request() {
    let o = run("incident_feedback_loop", json!({"unexpected": 1}), &[]);
    assert_eq!(o.status, Status::Error);
    assert!(o.reason.as_deref().unwrap().starts_with("expr over GET /api/v1/settings"), "{o:?}");
    let o = run("api_keys_expire", json!([1, 2]), &[]);
    assert_eq!(o.status, Status::Error);
}

#[test]
fn results_other_than_bool_or_strings_are_errors() {
    assert!(evaluate("body.n", &json!({"n": 1}), &json!({})).unwrap_err().contains("not a bool"));
    assert!(evaluate("[1, 2]", &json!({}), &json!({})).unwrap_err().contains("not strings"));
    assert_eq!(evaluate("[]", &json!({}), &json!({})), Ok(Verdict::Offending(vec![])));
    assert!(compile("body.(").is_err());
}

#[test]
fn a_failed_request_is_that_items_error_and_an_override_is_used() {
    let mut api = ApiSnapshot::default();
    api.answers.insert("GET /api/v1/settings".into(), Err("GET /api/v1/settings answered HTTP 500".into()));
    api.answers.insert("GET /v2/flags".into(), Ok(json!({"feedback": true})));
    let s = Snapshot { infrasage_api: SourceState::Ready(api.into()), ..Default::default() };
    let o = run_on_snapshot("incident_feedback_loop", &s, &[]);
    assert_eq!((o.status, o.reason.as_deref()), (Status::Error, Some("GET /api/v1/settings answered HTTP 500")));
    let o = run_on_snapshot(
        "incident_feedback_loop",
        &s,
        &[("request", json!("GET /v2/flags")), ("expr", json!("body.feedback"))],
    );
    assert_eq!(o.status, Status::Pass);
}

#[test]
fn custom_items_read_the_source_they_name() {
    let mut api = ApiSnapshot::default();
    api.answers.insert(
        "GET /api/v1/quotas".into(),
        Ok(json!({"quotas": [{"tenant": "a", "limit": 0}, {"tenant": "b", "limit": 5}]})),
    );
    let s = Snapshot { infrasage_api: SourceState::Ready(api.into()), ..Default::default() };
    let c: CustomCheck = serde_json::from_value(json!({
        "id": "quotas_set", "category": "auth", "title": "every tenant has a quota",
        "request": {"source": "infrasage_api", "path": "/api/v1/quotas"},
        "expr": "body.quotas.filter(q, q.limit == 0).map(q, q.tenant)"
    }))
    .unwrap();
    let o = custom(&c, &s);
    assert_eq!((o.status, objects(&o)), (Status::Fail, vec!["a"]));
    let mut on_prom = c.clone();
    on_prom.request.source = "prometheus".into();
    assert_eq!(custom(&on_prom, &s).reason.as_deref(), Some("prometheus is not configured"));
}
