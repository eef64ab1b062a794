//! The bundle end to end on loopback: the exporter (`serve --manifests`) on a copy of the
//! example manifests, a real Prometheus scraping it with alerts/rules.yaml, a real
//! Alertmanager routing to a webhook receiver in this test. Breaking a critical item in a
//! manifest pages (item failing + regressed, with the item's labels); restoring it resolves
//! both; every readiness dashboard query returns data from that Prometheus.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::promstack::{self, available};
use support::{free_port, get};

/// Collects every webhook POST body (Alertmanager's JSON) it receives.
struct Webhook {
    addr: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        sink.lock().unwrap().push(v);
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Webhook { addr, received }
    }

    /// Every alert of every notification so far, as (status, labels, annotations).
    fn alerts(&self) -> Vec<(String, Value, Value)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .map(|a| (a["status"].as_str().unwrap_or("").to_string(), a["labels"].clone(), a["annotations"].clone()))
            .collect()
    }

    fn find(&self, status: &str, alertname: &str, check: &str) -> Option<(Value, Value)> {
        self.alerts()
            .into_iter()
            .find(|(s, l, _)| s == status && l["alertname"] == alertname && l["check"] == check)
            .map(|(_, l, a)| (l, a))
    }
}

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query's result vector (panics on a query error).
fn query(prometheus: &str, expr: &str) -> Vec<Value> {
    let (status, body) = get(prometheus, &format!("/api/v1/query?query={}", encode(expr))).expect("Prometheus answers");
    let body = serde_json::from_str::<Value>(&body).map(|_| body.clone()).unwrap_or_else(|_| dechunk(&body));
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: {body}"));
    assert_eq!(v["status"], "success", "{expr}: {body}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Prometheus answers large results chunked; the test helper's GET returns the raw body.
fn dechunk(raw: &str) -> String {
    let mut out = Vec::new();
    let mut rest = raw.as_bytes();
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap_or(0);
        let tail = &rest[end + 2..];
        if n == 0 || tail.len() < n {
            break;
        }
        out.extend_from_slice(&tail[..n]);
        rest = tail[n..].strip_prefix(b"\r\n").unwrap_or(&tail[n..]);
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The shipped rules with every `for:` scaled from minutes to seconds, so the test waits
/// seconds where production waits minutes; expressions and windows are unchanged.
fn rules_for_the_test() -> String {
    let text = std::fs::read_to_string(support::repo("alerts/rules.yaml")).unwrap();
    let re = regex::Regex::new(r"(?m)^(\s+for: )(\d+)m$").unwrap();
    let scaled = re.replace_all(&text, "${1}${2}s").to_string();
    assert!(re.is_match(&text) && !re.is_match(&scaled), "every for: is in minutes and scaled");
    scaled
}

/// The Secrets' values in a manifest file. (Its ConfigMap's CLICKHOUSE_PASSWORD is
/// "clickhouse", which every ClickHouse item's name contains: not a useful probe.)
fn secret_values(path: &Path) -> Vec<String> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|d| d["kind"] == "Secret")
        .flat_map(|d| d["stringData"].as_object().cloned().unwrap_or_default().into_iter())
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect()
}

/// Replaces a file in one step, so the exporter never reads it half-written.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_broken_critical_item_pages_and_resolves_and_every_readiness_panel_has_data() {
    if !available("prometheus") || !available("prometheus-alertmanager") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let manifests = work.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for e in std::fs::read_dir(support::repo("examples/manifests")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, manifests.join(p.file_name().unwrap())).unwrap();
    }
    let config = work.path().join("config.yaml");
    std::fs::copy(support::repo("examples/config.yaml"), &config).unwrap();

    let webhook = Webhook::start();
    let am = promstack::alertmanager(&format!(
        "route:\n  receiver: webhook\n  group_by: [alertname, check]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: webhook\n    webhook_configs:\n      - url: http://{}/\n        send_resolved: true\n",
        webhook.addr
    ));

    let exporter_addr = format!("127.0.0.1:{}", free_port());
    let exporter = Exporter(
        support::bin()
            .args(["serve", "--config", config.to_str().unwrap(), "--manifests", manifests.to_str().unwrap()])
            .args(["--listen", &exporter_addr])
            .env("INFRASAGE_READINESS__INTERVAL", "1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the exporter's first evaluation", Duration::from_secs(30), || {
        get(&exporter_addr, "/ready").filter(|(s, _)| *s == 200)
    });

    let prom = promstack::prometheus(
        &format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yaml]\nalerting:\n  alertmanagers:\n    - static_configs: [{{ targets: ['{}'] }}]\nscrape_configs:\n  - job_name: infrasage-readiness\n    static_configs: [{{ targets: ['{exporter_addr}'] }}]\n",
            am.addr
        ),
        &[("rules.yaml", &rules_for_the_test())],
    );
    let p = prom.addr.clone();
    let mtls = r#"infrasage_readiness_check_status{check="mtls_enabled", status="pass"} == 1"#;
    wait_for("Prometheus to scrape mtls_enabled passing", Duration::from_secs(30), || {
        (!query(&p, mtls).is_empty()).then_some(())
    });
    // Let the pass sit in Prometheus' history for a few evaluations before the regression.
    std::thread::sleep(Duration::from_secs(3));

    // Break it: MTLS_ENABLED=false for every InfraSage service.
    let cm = manifests.join("10-config.yaml");
    let original = std::fs::read_to_string(&cm).unwrap();
    assert!(original.contains("MTLS_ENABLED: \"true\""));
    write_atomically(&cm, &original.replace("MTLS_ENABLED: \"true\"", "MTLS_ENABLED: \"false\""));
    let broken_at = Instant::now();

    let limit = Duration::from_secs(45);
    let (labels, annotations) = wait_for("InfraSageReadinessCriticalItemFailing at the webhook", limit, || {
        webhook.find("firing", "InfraSageReadinessCriticalItemFailing", "mtls_enabled")
    });
    assert_eq!(labels["category"], "network");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["job"], "infrasage-readiness");
    assert_eq!(labels["service"], "infrasage");
    let doc = labels["doc"].as_str().unwrap();
    assert!(doc.ends_with("#network"), "{doc}");
    assert_eq!(annotations["doc"], doc);
    assert!(annotations["runbook_url"].as_str().unwrap().ends_with("/docs/runbooks/readiness-item-failing.md"));
    let (labels, annotations) = wait_for("InfraSageReadinessItemRegressed at the webhook", limit, || {
        webhook.find("firing", "InfraSageReadinessItemRegressed", "mtls_enabled")
    });
    // Figures for BENCHMARKS.md (printed, never asserted): edit to both alerts delivered.
    eprintln!("figure: manifest edit -> both alerts at the webhook: {:.1} s", broken_at.elapsed().as_secs_f64());
    assert_eq!((&labels["category"], &labels["severity"]), (&"network".into(), &"critical".into()));
    assert_eq!(annotations["doc"], doc);

    // Every readiness panel query has data now (Kafka, ClickHouse and service panels need
    // those sources, which this stack does not run: their queries are parsed in tests/bundle.rs).
    let mut asked = 0;
    for (name, d) in support::bundle::dashboards() {
        for (title, expr) in support::bundle::queries(&d) {
            if ["infrasage_kafka_", "infrasage_clickhouse_", "infrasage_service_"].iter().any(|m| expr.contains(m)) {
                continue;
            }
            let expr = support::bundle::substitute(&expr, "1m");
            let result = wait_for(&format!("data for {name} / {title}"), Duration::from_secs(15), || {
                let r = query(&p, &expr);
                (!r.is_empty()).then_some(r)
            });
            if title == "Failing items" {
                assert!(result.iter().any(|s| s["metric"]["check"] == "mtls_enabled" && s["metric"]["doc"] == doc));
            }
            asked += 1;
        }
    }
    assert!(asked >= 10, "only {asked} readiness queries");

    // Only the item that passed before regressed; the ones failing all along did not.
    let regressed: Vec<String> = webhook
        .alerts()
        .into_iter()
        .filter(|(_, l, _)| l["alertname"] == "InfraSageReadinessItemRegressed")
        .map(|(_, l, _)| l["check"].as_str().unwrap().to_string())
        .collect();
    assert!(regressed.iter().all(|c| c == "mtls_enabled"), "{regressed:?}");

    // Restore: both resolve.
    write_atomically(&cm, &original);
    let restored_at = Instant::now();
    for alert in ["InfraSageReadinessCriticalItemFailing", "InfraSageReadinessItemRegressed"] {
        wait_for(&format!("{alert} resolved at the webhook"), limit, || {
            webhook.find("resolved", alert, "mtls_enabled")
        });
    }
    eprintln!(
        "figure: manifest restored -> both resolved at the webhook: {:.1} s",
        restored_at.elapsed().as_secs_f64()
    );
    // No secret value of the manifests reached Prometheus or the pages.
    let secrets = secret_values(&manifests.join("10-config.yaml"));
    assert!(secrets.len() >= 2, "{} secret values found", secrets.len());
    let series = serde_json::to_string(&query(&p, r#"{job="infrasage-readiness"}"#)).unwrap()
        + &serde_json::to_string(&query(&p, "ALERTS")).unwrap();
    let pages = serde_json::to_string(&*webhook.received.lock().unwrap()).unwrap();
    for v in &secrets {
        assert!(!series.contains(v.as_str()) && !pages.contains(v.as_str()), "a secret value leaked");
    }
    // The exporter was scraped all along: its absence alert never reached anyone.
    assert!(!webhook.alerts().iter().any(|(_, l, _)| l["alertname"] == "InfraSageReadinessExporterAbsent"));
    drop(exporter);
}
