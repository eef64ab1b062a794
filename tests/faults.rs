//! Faults proven survivable: every source dead, slower than its timeout, answering garbage, or
//! flapping between good and failing answers, while the exporter evaluates every second. The
//! other items are decided at every evaluation, evaluations keep their schedule, `source_up`
//! and `last_success` tell the truth, and nothing panics.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::faults::{fault_server, sections, Mode, GOOD_ANSWERS};
use support::{free_port, get};

struct Exporter {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &str) -> Exporter {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = support::bin()
        .args(["serve", "--listen", &addr, "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Exporter { child, addr, _dir: dir }
}

/// What one look at the endpoint saw.
struct Sample {
    evaluated_at: String,
    states: BTreeMap<String, String>,
    last_success: BTreeMap<String, String>,
    up: BTreeMap<String, String>,
    /// `infrasage_service_up{service="gateway"}`: a service that fails is that service's
    /// evidence, the services source itself stays up.
    gateway_up: Option<String>,
    statuses: BTreeMap<String, String>,
}

fn sample(e: &Exporter) -> Option<Sample> {
    let (status, body) = get(&e.addr, "/api/v1/checks")?;
    if status != 200 {
        return None;
    }
    let report: Value = serde_json::from_str(&body).unwrap();
    let mut states = BTreeMap::new();
    let mut last_success = BTreeMap::new();
    for s in report["sources"].as_array().unwrap() {
        let name = s["source"].as_str().unwrap().to_string();
        states.insert(name.clone(), s["state"].as_str().unwrap().to_string());
        if let Some(t) = s["last_success"].as_str() {
            last_success.insert(name, t.to_string());
        }
    }
    let statuses = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        .collect();
    let (_, metrics) = get(&e.addr, "/metrics")?;
    let up = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("infrasage_readiness_source_up{source=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .collect();
    let gateway_up =
        metrics.lines().find_map(|l| l.strip_prefix("infrasage_service_up{service=\"gateway\"} ")).map(str::to_string);
    Some(Sample {
        evaluated_at: report["evaluated_at"].as_str().unwrap().to_string(),
        states,
        last_success,
        up,
        gateway_up,
        statuses,
    })
}

/// Samples the endpoint four times a second for `secs` seconds.
fn watch(e: &Exporter, secs: u64) -> Vec<Sample> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(s) = sample(e) {
            out.push(s);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    out
}

const FAULTY: [&str; 7] = ["services", "prometheus", "alertmanager", "grafana", "infrasage_api", "clickhouse", "kafka"];

/// The checks every run: evaluations on schedule, the Kubernetes items (from manifests, a
/// healthy source) decided every time, the exporter alive and without a panic.
fn on_schedule(e: &mut Exporter, samples: &[Sample], what: &str) {
    let evaluations: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.evaluated_at.as_str()).collect();
    assert!(evaluations.len() >= 4, "{what}: {} evaluations in 6 s at a 1 s interval", evaluations.len());
    for s in samples {
        assert_eq!(s.statuses["egress_restricted"], "fail", "{what}: the healthy source's items are decided");
        assert_eq!(s.states["kubernetes"], "ok", "{what}");
    }
    assert!(e.child.try_wait().unwrap().is_none(), "{what}: the exporter exited");
    let _ = e.child.kill();
    let mut stderr = String::new();
    e.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!stderr.to_lowercase().contains("panic"), "{what}: {stderr}");
}

#[test]
fn dead_slow_and_garbage_sources_hold_nothing_and_never_look_up() {
    let manifests = support::repo("examples/manifests");
    for mode in [Mode::Dead, Mode::Hang, Mode::Garbage] {
        let ports: BTreeMap<&str, u16> = FAULTY.iter().map(|s| (*s, fault_server(mode))).collect();
        let config =
            format!("interval: 1s\nkubernetes: {{ manifests: [{}] }}\n{}", manifests.display(), sections(&ports, "3s"));
        let mut e = start(&config);
        let samples = watch(&e, 6);
        let what = format!("{mode:?}");
        for s in &samples {
            assert_ne!(s.gateway_up.as_deref(), Some("1"), "{what}: the gateway is down");
            for source in FAULTY.iter().filter(|s| **s != "services") {
                assert_ne!(s.states[*source], "ok", "{what}: {source}");
                assert!(!s.last_success.contains_key(*source), "{what}: {source} never succeeded");
                assert_ne!(s.up.get(*source).map(String::as_str), Some("1"), "{what}: {source}");
            }
            for item in ["prometheus_scraping", "grafana_dashboards_imported", "kafka_min_brokers", "gateway_health"] {
                assert_ne!(s.statuses[item], "pass", "{what}: {item} passes on a faulty source");
            }
        }
        if mode == Mode::Hang {
            // Pending until the first timeout, failed after it.
            let last = samples.last().unwrap();
            assert_eq!(last.states["prometheus"], "failed", "{what}");
        }
        on_schedule(&mut e, &samples, &what);
    }
}

#[test]
fn flapping_sources_are_up_when_they_answer_and_down_when_they_do_not() {
    let good: BTreeMap<&str, &'static str> = GOOD_ANSWERS.into_iter().collect();
    let mut ports: BTreeMap<&str, u16> = good.iter().map(|(s, body)| (*s, fault_server(Mode::Flap(body)))).collect();
    ports.insert("clickhouse", fault_server(Mode::Dead));
    ports.insert("kafka", fault_server(Mode::Dead));
    let manifests = support::repo("examples/manifests");
    let config =
        format!("interval: 1s\nkubernetes: {{ manifests: [{}] }}\n{}", manifests.display(), sections(&ports, "3s"));
    let mut e = start(&config);
    let samples = watch(&e, 8);
    let gateway: Vec<&str> = samples.iter().filter_map(|s| s.gateway_up.as_deref()).collect();
    assert!(gateway.contains(&"1") && gateway.contains(&"0"), "the gateway flaps: {gateway:?}");
    for source in good.keys().filter(|s| **s != "services") {
        let states: Vec<&str> = samples.iter().map(|s| s.states[*source].as_str()).collect();
        assert!(states.contains(&"ok") && states.contains(&"failed"), "{source} flaps: {states:?}");
        // up follows the state, and last_success never goes back.
        let mut last = String::new();
        for s in &samples {
            let up = s.up.get(*source).map(String::as_str);
            match s.states[*source].as_str() {
                "ok" => assert_eq!(up, Some("1"), "{source}"),
                "failed" => assert_eq!(up, Some("0"), "{source}"),
                _ => {}
            }
            if let Some(t) = s.last_success.get(*source) {
                assert!(*t >= last, "{source}: last_success went back");
                last = t.clone();
            }
        }
        assert!(!last.is_empty(), "{source} succeeded at least once");
    }
    on_schedule(&mut e, &samples, "flapping");
}

#[test]
fn a_dead_hanging_or_garbage_kubernetes_api_holds_nothing() {
    for mode in [Mode::Dead, Mode::Hang, Mode::Garbage] {
        let port = fault_server(mode);
        let good = fault_server(Mode::Flap(r#"{"status":"ok","version":"1.2.3"}"#));
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n\
                 users: [{{name: u, user: {{}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
            ),
        )
        .unwrap();
        let config = format!(
            "interval: 1s\nkubernetes: {{ kubeconfig: {}, timeout: 3s }}\nservices: {{ gateway: {{ url: 'http://127.0.0.1:{good}', timeout: 3s }} }}\n",
            kubeconfig.display()
        );
        let e = start(&config);
        let samples = watch(&e, 6);
        let what = format!("kubernetes {mode:?}");
        let evaluations: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.evaluated_at.as_str()).collect();
        assert!(evaluations.len() >= 4, "{what}: {} evaluations", evaluations.len());
        let services: Vec<&str> = samples.iter().map(|s| s.states["services"].as_str()).collect();
        assert!(services.contains(&"ok"), "{what}: the other source still gathers: {services:?}");
        for s in &samples {
            assert_ne!(s.states["kubernetes"], "ok", "{what}");
            assert_ne!(s.statuses["egress_restricted"], "pass", "{what}");
        }
    }
}
