//! The HTTP sources end to end through the binary: InfraSage services and admin API and the
//! Grafana API on small test servers (good, bad, malformed, slow, 500, redirect, mTLS, 401),
//! real Prometheus and Alertmanager from Debian on loopback.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::fake_http::{routes, serve, serve_mtls, test_pki, Reply};
use support::promstack;

/// One item as the JSON report shows it.
#[derive(Debug, Clone)]
struct Item {
    status: String,
    reason: String,
    objects: Vec<String>,
}

/// `check --output json` on `config`: (items by id, stdout + stderr).
fn check(config: &str) -> (BTreeMap<String, Item>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let out = support::run(&["check", "--config", path.to_str().unwrap(), "--output", "json"]);
    let all = format!("{}{}", support::stdout(&out), support::stderr(&out));
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 1)), "check exited {code:?}:\n{all}");
    let v: Value = serde_json::from_str(&support::stdout(&out)).unwrap_or_else(|e| panic!("{e}:\n{all}"));
    let items = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let objects =
                c["findings"].as_array().unwrap().iter().map(|f| f["object"].as_str().unwrap().to_string()).collect();
            let item = Item {
                status: c["status"].as_str().unwrap().to_string(),
                reason: c["reason"].as_str().unwrap_or_default().to_string(),
                objects,
            };
            (c["id"].as_str().unwrap().to_string(), item)
        })
        .collect();
    (items, all)
}

fn status<'a>(items: &'a BTreeMap<String, Item>, id: &str) -> &'a str {
    &items.get(id).unwrap_or_else(|| panic!("{id} is not in the report")).status
}

fn healthy(version: &str) -> Reply {
    Reply::json(200, json!({"status": "ok", "version": version}))
}

#[test]
fn service_health_good_bad_malformed_500_slow_and_redirects() {
    let good = serve(routes(&[("/health", healthy("1.4.2"))]));
    let failing = serve(routes(&[("/health", Reply::json(500, json!({"status": "error"})))]));
    let malformed = serve(routes(&[("/health", Reply::raw(200, "{\"status\": \"ok\", "))]));
    let (items, _) = check(&format!(
        "services:\n  gateway: {{url: {}}}\n  aiops: {{url: {}}}\n  ml: {{url: {}}}\n",
        good.url(),
        failing.url(),
        malformed.url()
    ));
    assert_eq!(status(&items, "gateway_health"), "pass", "{:?}", items["gateway_health"]);
    assert!(items["gateway_health"].reason.contains("version 1.4.2"));
    assert_eq!(status(&items, "aiops_health"), "fail");
    assert!(items["aiops_health"].reason.contains("HTTP 500"), "{:?}", items["aiops_health"]);
    assert_eq!(status(&items, "ml_health"), "fail");
    assert!(items["ml_health"].reason.contains("not JSON"), "{:?}", items["ml_health"]);

    let slow = serve(routes(&[("/health", healthy("1").slow(Duration::from_secs(3)))]));
    let elsewhere = serve(routes(&[("/health", healthy("9.9.9"))]));
    let other_host = format!("http://localhost:{}/health", elsewhere.addr.rsplit(':').next().unwrap());
    let away = serve(routes(&[("/health", Reply::redirect(&other_host))]));
    let moved = serve(routes(&[("/health", Reply::redirect("/v2/health")), ("/v2/health", healthy("2.0.0"))]));
    let degraded = serve(routes(&[("/health", Reply::json(200, json!({"status": "degraded", "version": "1"})))]));
    let started = Instant::now();
    let (items, _) = check(&format!(
        "services:\n  gateway: {{url: {}, timeout: 1s}}\n  aiops: {{url: {}}}\n  ml: {{url: {}}}\n",
        slow.url(),
        away.url(),
        moved.url()
    ));
    assert!(started.elapsed() < Duration::from_secs(3), "the slow service held the run past its timeout");
    assert_eq!(status(&items, "gateway_health"), "fail");
    assert!(items["gateway_health"].reason.contains("timed out"), "{:?}", items["gateway_health"]);
    assert_eq!(status(&items, "aiops_health"), "fail");
    assert!(items["aiops_health"].reason.contains("another host (localhost)"), "{:?}", items["aiops_health"]);
    assert_eq!(status(&items, "ml_health"), "pass", "a same-host redirect is followed: {:?}", items["ml_health"]);
    assert!(elsewhere.seen.lock().unwrap().is_empty(), "the other host was contacted");

    let huge = serve(routes(&[("/health", Reply::raw(200, &format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20))))]));
    let (items, _) =
        check(&format!("services:\n  gateway: {{url: {}}}\n  ml: {{url: {}}}\n", degraded.url(), huge.url()));
    assert!(items["gateway_health"].reason.contains("\"degraded\""));
    assert!(items["ml_health"].reason.contains("body larger than 1048576 bytes"), "{:?}", items["ml_health"]);
    assert_eq!(status(&items, "aiops_health"), "skipped");
}

#[test]
fn a_service_behind_mtls_needs_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let server = serve_mtls(routes(&[("/health", healthy("3.0.1"))]), pki.server.clone());
    let url = format!("https://{}", server.addr);
    let tls = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "services:\n  gateway:\n    url: {url}\n    tls: {{ca_file: {}, cert_file: {}, key_file: {}}}\n",
            pki.ca_file.display(),
            cert.display(),
            key.display()
        )
    };
    let (items, _) = check(&tls(&pki.client_cert, &pki.client_key));
    assert_eq!(status(&items, "gateway_health"), "pass", "{:?}", items["gateway_health"]);

    let (items, _) = check(&tls(&pki.stranger_cert, &pki.stranger_key));
    assert_eq!(status(&items, "gateway_health"), "fail", "a certificate of another CA is refused");

    let (items, _) =
        check(&format!("services:\n  gateway:\n    url: {url}\n    tls: {{ca_file: {}}}\n", pki.ca_file.display()));
    assert_eq!(status(&items, "gateway_health"), "fail", "no client certificate is refused");
    assert!(items["gateway_health"].reason.contains("no answer"), "{:?}", items["gateway_health"]);

    let (items, _) = check(&format!("services:\n  gateway: {{url: {url}}}\n"));
    assert_eq!(status(&items, "gateway_health"), "fail", "the test CA is not trusted by default");
}

#[test]
fn grafana_search_with_a_token_and_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let token = "glsa_s3cr3tT0kenValue_0123456789";
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    // The shape of Grafana's /api/search hits.
    let hit = |uid: &str, title: &str| {
        json!({"id": 1, "uid": uid, "title": title, "uri": format!("db/{uid}"), "url": format!("/d/{uid}/x"),
               "slug": "", "type": "dash-db", "tags": [], "isStarred": false, "sortMeta": 0})
    };
    let body = json!([hit("sys", "System Health"), hit("ing", "Ingestion"), hit("anom", "Anomaly Detection")]);
    let g = serve(routes(&[("/api/search", Reply::json(200, body).bearer(token))]));
    let config = |url: &str| format!("grafana:\n  url: {url}\n  token_file: {}\n", dir.path().join("token").display());
    let (items, all) = check(&config(&g.url()));
    assert_eq!(status(&items, "grafana_dashboards_imported"), "pass", "{:?}", items["grafana_dashboards_imported"]);
    assert!(g.seen.lock().unwrap()[0].starts_with("GET /api/search?type=dash-db"));
    assert!(!all.contains(token));

    let partial =
        serve(routes(&[("/api/search", Reply::json(200, json!([hit("sys", "System Health")])).bearer(token))]));
    let (items, _) = check(&config(&partial.url()));
    assert_eq!(
        items["grafana_dashboards_imported"].objects,
        ["dashboard \"Ingestion\"", "dashboard \"Anomaly Detection\""]
    );

    // The token from the environment instead of a file.
    let env_config = dir.path().join("env.yaml");
    std::fs::write(&env_config, format!("grafana: {{url: {}}}\n", g.url())).unwrap();
    let out = support::bin()
        .args(["check", "--config", env_config.to_str().unwrap(), "--output", "json"])
        .env("INFRASAGE_READINESS__GRAFANA__TOKEN", token)
        .output()
        .unwrap();
    let stdout = support::stdout(&out);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let item = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "grafana_dashboards_imported").unwrap();
    assert_eq!(item["status"], "pass", "{item}");
    assert!(!stdout.contains(token) && !support::stderr(&out).contains(token));

    std::fs::write(dir.path().join("token"), "glsa_wrong_value_9876543210").unwrap();
    let (items, all) = check(&config(&g.url()));
    let item = &items["grafana_dashboards_imported"];
    assert_eq!(item.status, "error");
    assert!(item.reason.contains("HTTP 401"), "{item:?}");
    assert!(!all.contains("glsa_wrong_value_9876543210") && !all.contains(token), "a token reached the output");
}

/// Admin API answers that pass every default expression.
fn good_api() -> Vec<(&'static str, Reply)> {
    let key = |name: &str, scopes: &[&str], ingest: bool| json!({"name": name, "scopes": scopes, "expires_at": "2027-06-01T00:00:00Z", "system": false, "revoked": false, "used_for_ingestion": ingest});
    vec![
        ("/api/v1/tenants", Reply::json(200, json!({"tenants": [{"name": "acme", "events_last_24h": 1200}]}))),
        (
            "/api/v1/api-keys",
            Reply::json(
                200,
                json!({"api_keys": [key("gw-ingest", &["ingestion"], true), key("ops", &["read"], false)]}),
            ),
        ),
        (
            "/api/v1/users",
            Reply::json(
                200,
                json!({"users": [{"email": "a@x", "roles": ["Super-Admin"], "human": false}, {"email": "ops@x", "roles": ["Operator"], "human": true}]}),
            ),
        ),
        (
            "/api/v1/notification-channels",
            Reply::json(200, json!({"channels": [{"type": "pagerduty", "enabled": true}]})),
        ),
        ("/api/v1/anomaly/sensitivity", Reply::json(200, json!({"default": 3.0, "services": {"gateway": 2.5}}))),
        (
            "/api/v1/runbooks",
            Reply::json(
                200,
                json!({"runbooks": [{"name": "restart", "auto_execute": true, "requires_approval": true, "destructive": true, "last_dry_run": {"status": "success", "at": "2026-11-01T00:00:00Z"}}]}),
            ),
        ),
        (
            "/api/v1/settings",
            Reply::json(
                200,
                json!({"audit_logging": {"enabled": true, "retention_days": 365}, "incident_feedback_loop": {"enabled": true}}),
            ),
        ),
    ]
}

const API_ITEMS: [&str; 12] = [
    "api_keys_rotated_from_onboarding",
    "default_tenant_unused",
    "ingestion_keys_scoped",
    "human_users_least_privilege",
    "super_admins_max_2",
    "api_keys_expire",
    "audit_logging_retention",
    "notification_channel_configured",
    "anomaly_sensitivity_tuned",
    "runbooks_dry_run_tested",
    "runbook_approval_destructive",
    "incident_feedback_loop",
];

fn with(mut base: Vec<(&'static str, Reply)>, path: &'static str, reply: Reply) -> Vec<(&'static str, Reply)> {
    base.retain(|(p, _)| *p != path);
    base.push((path, reply));
    base
}

#[test]
fn admin_api_items_pass_fail_and_error_apart() {
    let dir = tempfile::tempdir().unwrap();
    let token = "isk_live_abcdef0123456789";
    std::fs::write(dir.path().join("token"), token).unwrap();
    let config = |url: &str, extra: &str| {
        format!(
            "infrasage_api:\n  url: {url}\n  token_file: {}\n  timeout: 2s\n{extra}",
            dir.path().join("token").display()
        )
    };
    let api = serve(routes(&good_api().into_iter().map(|(p, r)| (p, r.bearer(token))).collect::<Vec<_>>()));
    let (items, all) = check(&config(&api.url(), ""));
    for id in API_ITEMS {
        assert_eq!(status(&items, id), "pass", "{id}: {:?}", items[id]);
    }
    assert!(!all.contains(token));
    // Two items share a request; it is asked once.
    let seen = api.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|l| l.starts_with("GET /api/v1/settings")).count(), 1, "{seen:?}");

    let bad_keys = json!({"api_keys": [{"name": "demo-onboarding", "scopes": ["ingestion", "admin"], "expires_at": null, "system": false, "revoked": false, "used_for_ingestion": true}]});
    let answers = with(good_api(), "/api/v1/api-keys", Reply::json(200, bad_keys));
    let answers = with(answers, "/api/v1/settings", Reply::json(500, json!({"error": "internal"})));
    let answers = with(answers, "/api/v1/runbooks", Reply::raw(200, "<html>oops</html>"));
    let answers = with(answers, "/api/v1/users", Reply::json(200, json!({"people": []})));
    let api = serve(routes(&answers));
    let (items, _) = check(&config(&api.url(), ""));
    for id in ["api_keys_rotated_from_onboarding", "ingestion_keys_scoped", "api_keys_expire"] {
        assert_eq!(status(&items, id), "fail", "{id}: {:?}", items[id]);
        assert_eq!(items[id].objects, ["demo-onboarding"], "{id}");
    }
    for id in ["audit_logging_retention", "incident_feedback_loop"] {
        assert_eq!(status(&items, id), "error", "{id}");
        assert!(items[id].reason.contains("answered HTTP 500"), "{id}: {:?}", items[id]);
    }
    for id in ["runbooks_dry_run_tested", "runbook_approval_destructive"] {
        assert_eq!(status(&items, id), "error", "{id}");
        assert!(items[id].reason.contains("not JSON"), "{id}: {:?}", items[id]);
    }
    assert_eq!(status(&items, "super_admins_max_2"), "error", "an answer of another shape fails the expression");
    assert!(items["super_admins_max_2"].reason.starts_with("expr over GET /api/v1/users"));
    for id in ["default_tenant_unused", "notification_channel_configured", "anomaly_sensitivity_tuned"] {
        assert_eq!(status(&items, id), "pass", "{id} is decided although others errored");
    }

    // An override of request and expression without a rebuild, and a custom item.
    let extra = "checks:\n  incident_feedback_loop:\n    params: {request: 'GET /api/v2/flags', expr: 'body.feedback == \"on\"'}\n\
custom_checks:\n  - {id: tenants_named, category: auth, severity: critical, title: every tenant has a name, request: {source: infrasage_api, path: /api/v1/tenants}, expr: \"body.tenants.filter(t, t.name == '').map(t, 'tenant')\"}\n  \
- {id: runbooks_head, category: alerting, title: the runbooks endpoint exists, request: {source: infrasage_api, method: HEAD, path: /api/v1/runbooks}, expr: 'body.status == 200'}\n";
    let api = serve(routes(&with(good_api(), "/api/v2/flags", Reply::json(200, json!({"feedback": "off"})))));
    let (items, _) = check(&config(&api.url(), extra));
    assert_eq!(status(&items, "incident_feedback_loop"), "fail");
    assert_eq!(status(&items, "tenants_named"), "pass", "{:?}", items["tenants_named"]);
    assert_eq!(status(&items, "runbooks_head"), "pass", "{:?}", items["runbooks_head"]);

    let slow =
        serve(routes(&good_api().into_iter().map(|(p, r)| (p, r.slow(Duration::from_secs(4)))).collect::<Vec<_>>()));
    let (items, _) = check(&config(&slow.url(), ""));
    for id in API_ITEMS {
        assert_eq!(status(&items, id), "error", "{id}");
        assert!(items[id].reason.contains("timed out"), "{id}: {:?}", items[id]);
    }
}

#[test]
fn a_broken_expression_is_refused_at_start_naming_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        "infrasage_api: {url: 'http://127.0.0.1:1'}\nchecks:\n  api_keys_expire:\n    params: {expr: 'body.api_keys.filter(k, '}\n",
    )
    .unwrap();
    let out = support::run(&["config-check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = support::stderr(&out);
    assert!(err.contains("checks.api_keys_expire.params.expr") && err.contains("item api_keys_expire"), "{err}");

    std::fs::write(
        &path,
        "infrasage_api: {url: 'http://127.0.0.1:1'}\ncustom_checks:\n  - {id: my_item, category: auth, title: t, request: {source: infrasage_api, path: /x}, expr: '1 +'}\n",
    )
    .unwrap();
    let out = support::run(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = support::stderr(&out);
    assert!(err.contains("custom_checks[0].expr") && err.contains("my_item"), "{err}");
}

// ---- real Prometheus and Alertmanager

const FOUR_RULES: &str = r#"groups:
  - name: infrasage
    rules:
      - alert: InfraSageKafkaConsumerLagHigh
        expr: sum by (consumergroup) (infrasage_kafka_consumergroup_lag_sum) > 1000
      - alert: InfraSageGatewayErrorRateHigh
        expr: sum(rate(gateway_http_errors_total[5m])) / sum(rate(gateway_http_requests_total[5m])) > 0.01
      - alert: InfraSageClickHouseDiskUsageHigh
        expr: 1 - infrasage_clickhouse_disk_free_bytes / infrasage_clickhouse_disk_total_bytes > 0.75
      - alert: InfraSageAIOpsEngineUnhealthy
        expr: infrasage_service_up{service="aiops"} == 0
"#;

const TWO_RULES: &str = r#"groups:
  - name: partial
    rules:
      - alert: LagTooHigh
        expr: max(infrasage_kafka_consumergroup_lag) > 5000
      - record: job:errors:rate5m
        expr: sum(rate(gateway_http_errors_total[5m]))
"#;

fn prometheus_config(up: &str, down: &str, rules: &str) -> String {
    format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{rules}]\nscrape_configs:\n  \
         - {{job_name: ingestion-gateway, static_configs: [{{targets: ['{up}']}}]}}\n  \
         - {{job_name: aiops-engine, static_configs: [{{targets: ['{up}']}}]}}\n  \
         - {{job_name: ml-service, static_configs: [{{targets: ['{down}']}}]}}\n"
    )
}

/// Waits until Prometheus has scraped every target once (none `unknown`).
fn wait_scraped(p: &promstack::Instance) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some((200, body)) = support::get(&p.addr, "/api/v1/targets") {
            let v: Value = serde_json::from_str(&body).unwrap();
            let t = v["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
            if t.len() == 3 && t.iter().all(|t| t["health"] != "unknown") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("targets not scraped within 30 s:\n{}", p.log());
}

#[test]
fn real_prometheus_targets_rules_and_the_peak_query() {
    if !promstack::available("prometheus") {
        return;
    }
    let metrics = serve(routes(&[("/metrics", Reply::raw(200, "# TYPE up_test gauge\nup_test 1\n"))]));
    let down = format!("127.0.0.1:{}", support::free_port());
    let p = promstack::prometheus(&prometheus_config(&metrics.addr, &down, "four.yml"), &[("four.yml", FOUR_RULES)]);
    wait_scraped(&p);
    let config = |url: &str, peak: &str| {
        format!(
            "prometheus: {{url: {url}}}\nchecks:\n  scale_profile_matches_volume:\n    params: {{profile: small, peak_query: '{peak}'}}\n\
custom_checks:\n  - {{id: prometheus_built, category: monitoring, title: Prometheus answers buildinfo, request: {{source: prometheus, path: /api/v1/status/buildinfo}}, expr: \"body.status == 'success'\"}}\n"
        )
    };
    let (items, _) = check(&config(&p.url(), "vector(1234)"));
    let scraping = &items["prometheus_scraping"];
    assert_eq!(scraping.status, "fail", "{scraping:?}");
    assert_eq!(scraping.objects, ["job ml-service"]);
    assert_eq!(status(&items, "alert_rules_configured"), "pass", "{:?}", items["alert_rules_configured"]);
    let scale = &items["scale_profile_matches_volume"];
    assert_eq!(scale.status, "fail", "{scale:?}");
    assert!(scale.reason.contains("observed peak is 1234 events/s"), "{scale:?}");
    assert_eq!(status(&items, "prometheus_built"), "pass", "{:?}", items["prometheus_built"]);

    let (items, _) = check(&config(&p.url(), "vector(10)"));
    assert_eq!(status(&items, "scale_profile_matches_volume"), "pass");
    let (items, _) = check(&config(&p.url(), "sum(rate(("));
    assert_eq!(status(&items, "scale_profile_matches_volume"), "error", "a bad query is the item's error");
    assert_eq!(status(&items, "prometheus_scraping"), "fail", "and only its");

    let p2 =
        promstack::prometheus(&prometheus_config(&metrics.addr, &metrics.addr, "two.yml"), &[("two.yml", TWO_RULES)]);
    wait_scraped(&p2);
    let (items, _) = check(&config(&p2.url(), "vector(1)"));
    assert_eq!(status(&items, "prometheus_scraping"), "pass", "{:?}", items["prometheus_scraping"]);
    let rules = &items["alert_rules_configured"];
    assert_eq!(rules.status, "fail");
    assert_eq!(
        rules.objects,
        [
            "alert rule for gateway error rate > 1 %",
            "alert rule for ClickHouse disk usage > 75 %",
            "alert rule for AIops engine unhealthy"
        ],
        "the lag alert matches by its metric; a recording rule does not count"
    );
}

const PAGING: &str = r#"route:
  receiver: team-mail
  routes:
    - matchers: ['service="infrasage"']
      receiver: infra-chat
      continue: true
      routes:
        - match_re: {severity: "critical|page"}
          receiver: infra-pager
receivers:
  - name: team-mail
    email_configs: [{to: team@example.com, from: am@example.com, smarthost: 'localhost:25'}]
  - name: infra-chat
    webhook_configs: [{url: 'http://127.0.0.1:1/chat'}]
  - name: infra-pager
    pagerduty_configs: [{routing_key: 'pd-routing-key-secret'}]
"#;

const NOT_PAGING: &str = r#"route:
  receiver: blackhole
  routes:
    - match: {service: infrasage, severity: warning}
      receiver: infra-pager
receivers:
  - name: blackhole
  - name: infra-pager
    pagerduty_configs: [{routing_key: 'pd-routing-key-secret'}]
"#;

#[test]
fn real_alertmanager_routing_trees() {
    if !promstack::available("prometheus-alertmanager") {
        return;
    }
    let am = promstack::alertmanager(PAGING);
    let (items, all) = check(&format!("alertmanager: {{url: {}}}\n", am.url()));
    let o = &items["oncall_routes_infrasage"];
    assert_eq!(o.status, "pass", "{o:?}");
    assert!(o.reason.contains("infra-pager, which pages through pagerduty"), "{o:?}");
    assert!(!all.contains("pd-routing-key-secret"));

    let am = promstack::alertmanager(NOT_PAGING);
    let (items, _) = check(&format!("alertmanager: {{url: {}}}\n", am.url()));
    let o = &items["oncall_routes_infrasage"];
    assert_eq!(o.status, "fail", "{o:?}");
    assert_eq!(o.objects, ["receiver blackhole"]);
    assert!(o.reason.contains("no integration"), "{o:?}");
}

#[test]
fn serve_exposes_service_families_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "isk_serve_token_5f5f5f5f5f";
    std::fs::write(dir.path().join("token"), token).unwrap();
    let gw = serve(routes(&[("/health", healthy("1.4.2"))]));
    let ml = serve(routes(&[("/health", Reply::raw(503, "down"))]));
    let api = serve(routes(&good_api().into_iter().map(|(p, r)| (p, r.bearer(token))).collect::<Vec<_>>()));
    // A Prometheus that answers garbage: only its items become errors.
    let junk = serve(routes(&[("/api/v1/targets", Reply::raw(200, "<html>proxy login</html>"))]));
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "services:\n  gateway: {{url: {}}}\n  ml: {{url: {}}}\ninfrasage_api: {{url: {}, token_file: {}}}\nprometheus: {{url: {}}}\n",
            gw.url(),
            ml.url(),
            api.url(),
            dir.path().join("token").display(),
            junk.url()
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", support::free_port());
    let mut child = support::bin()
        .args(["serve", "--listen", &addr, "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::get(&addr, "/ready").is_none_or(|(s, _)| s != 200) {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, metrics) = support::get(&addr, "/metrics").unwrap();
    let (_, checks) = support::get(&addr, "/api/v1/checks").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    for line in [
        "infrasage_service_up{service=\"gateway\"} 1",
        "infrasage_service_up{service=\"ml\"} 0",
        "infrasage_service_info{service=\"gateway\",version=\"1.4.2\"} 1",
        "infrasage_readiness_source_up{source=\"prometheus\"} 0",
        "infrasage_readiness_source_up{source=\"infrasage_api\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line}:\n{metrics}");
    }
    assert!(metrics.contains("infrasage_service_probe_duration_seconds{service=\"ml\"}"));
    assert!(!metrics.contains("service_info{service=\"ml\""), "no version for a service that is down");
    let v: Value = serde_json::from_str(&checks).unwrap();
    let by_id = |id: &str| v["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(by_id("prometheus_scraping")["status"], "error");
    assert!(by_id("prometheus_scraping")["reason"].as_str().unwrap().contains("not JSON"));
    assert_eq!(by_id("api_keys_expire")["status"], "pass");
    assert!(!metrics.contains(token) && !checks.contains(token));
}

#[test]
fn the_bundled_alert_rules_satisfy_alert_rules_configured() {
    if !promstack::available("prometheus") {
        return;
    }
    let bundled = std::fs::read_to_string(support::repo("alerts/rules.yaml")).unwrap();
    let down = format!("127.0.0.1:{}", support::free_port());
    let p = promstack::prometheus(&prometheus_config(&down, &down, "rules.yaml"), &[("rules.yaml", &bundled)]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let rules = loop {
        let (items, _) = check(&format!("prometheus: {{url: {}}}\n", p.url()));
        let rules = items["alert_rules_configured"].clone();
        if rules.status == "pass" || Instant::now() > deadline {
            break rules;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(rules.status, "pass", "the rules in alerts/ must satisfy the exporter's own item: {rules:?}");
}
