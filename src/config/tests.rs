use std::io::Write;

use super::*;

fn load_yaml(yaml: &str) -> Result<Config, ConfigErrors> {
    load_yaml_env(yaml, &[])
}

fn load_yaml_env(yaml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(yaml.as_bytes()).unwrap();
    load_with_env(Some(f.path()), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// The key paths a refused config names.
fn refused_keys(yaml: &str) -> Vec<String> {
    load_yaml(yaml).expect_err("config should be refused").0.into_iter().map(|e| e.key).collect()
}

#[test]
fn empty_config_takes_defaults() {
    let c = load_yaml("{}").unwrap();
    assert_eq!(c.listen, "0.0.0.0:9745");
    assert_eq!(c.interval.0.as_secs(), 60);
    assert!(c.kubernetes.is_none());
}

#[test]
fn full_example_parses() {
    let c = load_yaml(
        r#"
listen: "127.0.0.1:9745"
interval: 30s
kubernetes: { namespaces: [infrasage, infrasage-data], timeout: 5s, components: { gateway: "app=gw" } }
kafka: { bootstrap_servers: "a:9092,b:9092", topics: { deny: "^__" } }
clickhouse: { url: "http://127.0.0.1:8123", user: readiness }
services: { gateway: { url: "https://gw.internal" } }
prometheus: { url: "http://prom:9090" }
alertmanager: { url: "http://am:9093" }
grafana: { url: "http://grafana:3000" }
infrasage_api: { url: "https://admin.internal" }
checks:
  kafka_min_brokers: { severity: warning, params: { min_brokers: 5 } }
  egress_restricted: { enabled: false }
attestations:
  rto_rpo_documented: { by: alice, at: 2026-10-01, evidence: "https://wiki/rto", expires_after: 180d }
custom_checks:
  - id: gateway_version_pinned
    category: golive
    title: Gateway reports a release version
    request: { source: services.gateway, path: /health }
    expr: "body.version != 'dev'"
"#,
    )
    .unwrap();
    assert_eq!(c.interval.0.as_secs(), 30);
    assert_eq!(c.kubernetes.unwrap().namespaces, vec!["infrasage", "infrasage-data"]);
    assert_eq!(c.checks["kafka_min_brokers"].params["min_brokers"], 5);
    let a = &c.attestations["rto_rpo_documented"];
    assert_eq!(a.expires_at().date_naive().to_string(), "2027-03-30");
    assert_eq!(c.custom_checks[0].request.method, "GET");
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    assert_eq!(refused_keys("listn: x"), vec!["listn"]);
    assert_eq!(refused_keys("kafka: { bootstrap_servers: a, tmeout: 3s }"), vec!["kafka.tmeout"]);
    let e = load_yaml("kafka: { bootstrap_servers: a, tmeout: 3s }").unwrap_err().to_string();
    assert!(e.contains("unknown field `tmeout`"), "{e}");
}

#[test]
fn wrong_types_and_durations_name_the_key() {
    assert_eq!(refused_keys("interval: soon"), vec!["interval"]);
    assert_eq!(refused_keys("kubernetes: { timeout: 10 parsecs }"), vec!["kubernetes.timeout"]);
    assert_eq!(refused_keys("kubernetes: { in_cluster: maybe }"), vec!["kubernetes.in_cluster"]);
    assert_eq!(refused_keys("kubernetes: { namespaces: 3 }"), vec!["kubernetes.namespaces"]);
    assert_eq!(refused_keys("listen: nowhere"), vec!["listen"]);
}

#[test]
fn unknown_item_ids_are_refused() {
    assert_eq!(refused_keys("checks: { kafka_min_brokerz: { enabled: false } }"), vec!["checks.kafka_min_brokerz"]);
    assert_eq!(
        refused_keys("attestations: { no_such_item: { by: a, at: 2026-01-01 } }"),
        vec!["attestations.no_such_item"]
    );
    assert_eq!(
        refused_keys("attestations: { kafka_min_brokers: { by: a, at: 2026-01-01 } }"),
        vec!["attestations.kafka_min_brokers"]
    );
}

#[test]
fn bad_params_are_refused() {
    assert_eq!(
        refused_keys("checks: { kafka_min_brokers: { params: { min_brokers: three } } }"),
        vec!["checks.kafka_min_brokers.params.min_brokers"]
    );
    assert_eq!(
        refused_keys("checks: { kafka_min_brokers: { params: { brokers: 3 } } }"),
        vec!["checks.kafka_min_brokers.params.brokers"]
    );
    assert_eq!(
        refused_keys("checks: { secrets_not_in_configmaps: { params: { name_pattern: '(' } } }"),
        vec!["checks.secrets_not_in_configmaps.params.name_pattern"]
    );
    assert_eq!(
        refused_keys("checks: { kafka_retention_24h: { params: { min_retention: forever } } }"),
        vec!["checks.kafka_retention_24h.params.min_retention"]
    );
    assert_eq!(refused_keys("checks: { gateway_hpa: { severity: loud } }"), vec!["checks.gateway_hpa.severity"]);
}

#[test]
fn unreadable_secret_files_are_refused() {
    assert_eq!(
        refused_keys("clickhouse: { url: 'http://h:8123', password_file: /nonexistent/pw }"),
        vec!["clickhouse.password_file"],
    );
    assert_eq!(
        refused_keys("clickhouse: { url: 'https://h:8443', tls: { insecure_skip_verify: true } }"),
        vec!["clickhouse.tls.insecure_skip_verify"]
    );
    assert_eq!(
        refused_keys("grafana: { url: 'http://g:3000', token_file: /nonexistent/token }"),
        vec!["grafana.token_file"]
    );
}

#[test]
fn secret_values_in_the_file_are_refused_without_echoing_them() {
    let e = load_yaml("clickhouse: { url: 'http://h:8123', password: hunter2 }").unwrap_err();
    assert_eq!(e.0[0].key, "clickhouse.password");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn environment_overrides_the_file() {
    let c = load_yaml_env(
        "kafka: { bootstrap_servers: 'a:9092' }\nkubernetes: { namespaces: [one] }",
        &[
            ("INFRASAGE_READINESS__KAFKA__BOOTSTRAP_SERVERS", "x:1,y:2"),
            ("INFRASAGE_READINESS__KUBERNETES__NAMESPACES", "ns1,ns2"),
            ("INFRASAGE_READINESS__INTERVAL", "15s"),
            ("INFRASAGE_READINESS__CLICKHOUSE__URL", "http://ch:8123"),
            ("INFRASAGE_READINESS__CLICKHOUSE__PASSWORD", "12345"),
        ],
    )
    .unwrap();
    assert_eq!(c.kafka.unwrap().bootstrap_servers, "x:1,y:2");
    assert_eq!(c.kubernetes.unwrap().namespaces, vec!["ns1", "ns2"]);
    assert_eq!(c.interval.0.as_secs(), 15);
    let ch = c.clickhouse.unwrap();
    assert_eq!(ch.password.as_ref().unwrap().0, "12345");
    assert_eq!(format!("{ch:?}").matches("12345").count(), 0, "secrets never print");
}

#[test]
fn custom_checks_are_validated() {
    let keys = refused_keys(
        r#"
custom_checks:
  - { id: Bad-Id, category: nope, title: t, request: { source: grafana, path: x }, expr: "" }
"#,
    );
    assert_eq!(
        keys,
        vec![
            "custom_checks[0].id",
            "custom_checks[0].category",
            "custom_checks[0].request.source",
            "custom_checks[0].request.path",
            "custom_checks[0].expr"
        ]
    );
}

#[test]
fn kafka_tls_without_verification_is_refused_by_key() {
    assert_eq!(
        refused_keys("kafka: { bootstrap_servers: 'h:9092', tls: { insecure_skip_verify: true } }"),
        vec!["kafka.tls.insecure_skip_verify"]
    );
}

#[test]
fn credentials_in_urls_are_refused_by_key_without_echoing_them() {
    let yaml = "services: { gateway: { url: 'http://svc:S3cretUserinfo@gw:8080/health' } }
prometheus: { url: 'https://admin:PromPw77@prom:9090' }
alertmanager: { url: 'http://am:9093/?next=a@b' }
grafana: { url: 'http://tok@grafana:3000' }
clickhouse: { url: 'http://default:ChPw99@ch:8123' }";
    let e = load_yaml(yaml).unwrap_err();
    let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
    // An `@` in the query is not userinfo, so alertmanager passes.
    assert_eq!(keys, vec!["clickhouse.url", "services.gateway.url", "prometheus.url", "grafana.url"]);
    let text = e.to_string();
    for secret in ["S3cretUserinfo", "PromPw77", "ChPw99", "tok@"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn every_wrong_type_and_unknown_key_is_reported_in_one_pass() {
    let keys = refused_keys(
        "interval: soon
listn: x
kubernetes: { namespaces: 3, in_cluster: maybe, timeout: 10 parsecs }
kafka: { bootstrap_servers: [a, b], tmeout: 3s }
checks: { kafka_min_brokers: { severity: loud } }",
    );
    for k in [
        "interval",
        "listn",
        "kubernetes.namespaces",
        "kubernetes.in_cluster",
        "kubernetes.timeout",
        "kafka.bootstrap_servers",
        "kafka.tmeout",
        "checks.kafka_min_brokers.severity",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} missing from {keys:?}");
    }
    // A required key refused for its type is not reported again as missing.
    assert_eq!(keys.iter().filter(|k| k.starts_with("kafka")).count(), 2, "{keys:?}");
}

#[test]
fn a_refused_environment_value_names_its_variable() {
    let e = load_yaml_env(
        "kafka: { bootstrap_servers: 'a:9092' }",
        &[("INFRASAGE_READINESS__KAFKA__TIMEOUT", "soon"), ("INFRASAGE_READINESS__LISTEN", "nowhere")],
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("config key `kafka.timeout` (set by INFRASAGE_READINESS__KAFKA__TIMEOUT)"), "{text}");
    // Validation after the types names the variable too.
    let e = load_yaml_env("{}", &[("INFRASAGE_READINESS__LISTEN", "nowhere")]).unwrap_err();
    assert_eq!(e.0[0].env.as_deref(), Some("INFRASAGE_READINESS__LISTEN"));
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused_quickly() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..30 {
        let p = i - 1;
        bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    let started = std::time::Instant::now();
    let e = load_yaml(&bomb).unwrap_err().to_string();
    assert!(e.contains("aliases expand to more than"), "{e}");
    let deep = format!("x: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = load_yaml(&deep).unwrap_err().to_string();
    assert!(e.contains("nested deeper than"), "{e}");
    let mut block = String::new();
    for i in 0..200 {
        block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
    }
    let e = load_yaml(&block).unwrap_err().to_string();
    assert!(e.contains("nested deeper than"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn the_config_must_be_one_small_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_with_env(Some(dir.path()), Vec::new()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let e = load_yaml(&format!("doc_base_url: '{}'", "x".repeat(MAX_CONFIG_BYTES as usize))).unwrap_err().to_string();
    assert!(e.contains("larger than"), "{e}");
    let e = load_yaml("interval: 30s\n---\ninterval: 60s\n").unwrap_err().to_string();
    assert!(e.contains("holds 2 YAML documents"), "{e}");
    assert!(load_yaml("[1, 2]").unwrap_err().to_string().contains("not a mapping"));
    assert!(load_yaml("").is_ok(), "an empty file is the defaults");
}

#[test]
fn durations_counts_and_factors_are_range_checked() {
    assert_eq!(
        refused_keys("attestations: { rto_rpo_documented: { by: a, at: 2026-01-01, expires_after: 1000000000000d } }"),
        vec!["attestations.rto_rpo_documented.expires_after"]
    );
    assert_eq!(refused_keys("interval: 99999999999999"), vec!["interval"]);
    assert_eq!(
        refused_keys("checks: { kafka_min_brokers: { params: { min_brokers: -3 } } }"),
        vec!["checks.kafka_min_brokers.params.min_brokers"]
    );
    assert_eq!(
        refused_keys("checks: { clickhouse_memory_limit: { params: { factor: -4.0 } } }"),
        vec!["checks.clickhouse_memory_limit.params.factor"]
    );
    assert_eq!(
        refused_keys("checks: { clickhouse_storage_headroom: { params: { min_ratio: 0 } } }"),
        vec!["checks.clickhouse_storage_headroom.params.min_ratio"]
    );
    assert_eq!(
        refused_keys("checks: { kafka_retention_24h: { params: { min_retention: 0s } } }"),
        vec!["checks.kafka_retention_24h.params.min_retention"]
    );
    assert_eq!(refused_keys("kafka: { bootstrap_servers: a, timeout: 0s }"), vec!["kafka.timeout"]);
    assert_eq!(refused_keys("web: { max_connections: 0 }"), vec!["web.max_connections"]);
    assert_eq!(refused_keys("web: { max_connections: -1, header_read_timeout: 0s }").len(), 2);
    // The longest accepted validity still has an expiry date, computed without overflow.
    let c =
        load_yaml("attestations: { rto_rpo_documented: { by: a, at: 9999-12-31, expires_after: 36000d } }").unwrap();
    use chrono::Datelike;
    assert_eq!(c.attestations["rto_rpo_documented"].expires_at().year(), 10098);
}

#[test]
fn files_must_be_regular_and_tls_files_must_hold_what_they_are_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    assert_eq!(
        refused_keys(&format!("grafana: {{ url: 'http://g:3000', token_file: '{d}' }}")),
        vec!["grafana.token_file"]
    );
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let n = not_pem.display();
    let e = load_yaml(&format!(
        "clickhouse: {{ url: 'https://h:8443', tls: {{ ca_file: '{n}', cert_file: '{n}', key_file: '{n}' }} }}"
    ))
    .unwrap_err();
    let keys: Vec<_> = e.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["clickhouse.tls.ca_file", "clickhouse.tls.cert_file", "clickhouse.tls.key_file"]);
    assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
}
