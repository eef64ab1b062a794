//! The Kafka source, items and metrics against a real 3-broker Apache Kafka
//! (tests/support/kafka/cluster.sh): exact lag, replication and retention verdicts, brokers
//! and coordinators going away while the exporter runs, and a wrong SASL password.
//! The tests stop brokers, so they run one at a time; each uses its own topics and groups.

mod support;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::kafka::{cluster, Kafka, BOOTSTRAP, SASL_ADDR, TLS_ADDR};
use support::{free_port, get};

static SERIAL: Mutex<()> = Mutex::new(());

/// A name unique to this run, so reruns against the same cluster never see old data.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn kafka() -> Option<(std::sync::MutexGuard<'static, ()>, &'static Kafka)> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    cluster().map(|k| (guard, k))
}

/// A config for the test cluster limited to topics and groups starting with `scope`.
fn config(dir: &tempfile::TempDir, scope: &str, extra: &str) -> String {
    let path = dir.path().join("config.yaml");
    let body = format!(
        "interval: 1s\nkafka:\n  bootstrap_servers: \"{BOOTSTRAP}\"\n  timeout: 3s\n  topics: {{ allow: '^{scope}' }}\n  consumer_groups: {{ allow: '^{scope}' }}\n{extra}"
    );
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

struct Exporter {
    /// None once `stderr` has taken it.
    child: Option<Child>,
    addr: String,
}

impl Exporter {
    fn start(config: &str, extra: &[&str]) -> Exporter {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = support::bin()
            .args(["serve", "--listen", &addr, "--config", config])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let e = Exporter { child: Some(child), addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&e.addr, "/ready").is_none_or(|(s, _)| s != 200) {
            assert!(Instant::now() < deadline, "exporter not ready within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        e
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// Every sample of the current exposition: (name, sorted labels) → value.
    fn metrics(&self) -> Metrics {
        let (status, body) = get(&self.addr, "/metrics").expect("the exporter answers");
        assert_eq!(status, 200);
        let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
        let mut m = HashMap::new();
        for s in scrape.samples {
            let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.sort();
            if let prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) = s.value {
                m.insert((s.metric, labels), v);
            }
        }
        Metrics(m)
    }

    fn check(&self, id: &str) -> Value {
        let (_, json) = get(&self.addr, "/api/v1/checks").unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        v["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone()
    }

    /// Polls until `ok` holds (the exporter evaluates every second).
    fn wait(&self, what: &str, secs: u64, mut ok: impl FnMut(&Exporter) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !ok(self) {
            assert!(Instant::now() < deadline, "{what}: not within {secs} s");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the exporter and returns everything it logged.
    fn stderr(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).to_string()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Metrics(HashMap<(String, Vec<(String, String)>), f64>);

impl Metrics {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        l.sort();
        self.0.get(&(name.to_string(), l)).copied()
    }

    fn lag(&self, group: &str, topic: &str, partition: i32) -> Option<f64> {
        let p = partition.to_string();
        self.get("infrasage_kafka_consumergroup_lag", &[("consumergroup", group), ("topic", topic), ("partition", &p)])
    }

    fn count(&self, name: &str) -> usize {
        self.0.keys().filter(|(n, _)| n == name).count()
    }
}

fn status(c: &Value) -> &str {
    c["status"].as_str().unwrap()
}

fn objects(c: &Value) -> Vec<String> {
    c["findings"].as_array().unwrap().iter().map(|f| f["object"].as_str().unwrap().to_string()).collect()
}

#[test]
fn lag_is_exact_per_partition_and_summed_and_uncommitted_partitions_have_no_series() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("lag");
    let (topic, group) = (format!("{scope}-events"), format!("{scope}-telemetry-operator"));
    k.create_topic(&topic, 3, 3, &[]);
    for (p, n) in [(0, 10), (1, 20), (2, 30)] {
        k.produce(&topic, p, n);
    }
    k.commit(&group, &topic, &[(0, 4), (1, 20)]);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("checks:\n  kafka_consumer_lag: {{ params: {{ group: '{group}', max_lag: 30 }} }}\n");
    let e = Exporter::start(&config(&dir, &scope, &extra), &[]);
    e.wait("lag series", 20, |e| e.metrics().lag(&group, &topic, 0).is_some());

    let m = e.metrics();
    assert_eq!(m.lag(&group, &topic, 0), Some(6.0));
    assert_eq!(m.lag(&group, &topic, 1), Some(0.0));
    assert_eq!(m.lag(&group, &topic, 2), None, "no commit, no lag series");
    let gt = [("consumergroup", group.as_str()), ("topic", topic.as_str())];
    assert_eq!(m.get("infrasage_kafka_consumergroup_lag_sum", &gt), Some(6.0));
    assert_eq!(m.get("infrasage_kafka_consumergroup_uncommitted_partitions", &gt), Some(1.0));
    let p0 = [("consumergroup", group.as_str()), ("topic", topic.as_str()), ("partition", "0")];
    assert_eq!(m.get("infrasage_kafka_consumergroup_current_offset", &p0), Some(4.0));
    assert_eq!(
        m.get("infrasage_kafka_topic_partition_current_offset", &[("topic", &topic), ("partition", "2")]),
        Some(30.0)
    );
    assert_eq!(m.get("infrasage_kafka_topic_partitions", &[("topic", &topic)]), Some(3.0));
    assert_eq!(m.get("infrasage_kafka_brokers", &[]), Some(3.0));
    assert_eq!(
        m.get("infrasage_kafka_consumergroup_state", &[("consumergroup", &group), ("state", "Empty")]),
        Some(1.0)
    );
    assert_eq!(m.get("infrasage_kafka_consumergroup_members", &[("consumergroup", &group)]), Some(0.0));

    // 6 committed + 30 uncommitted (high − low of partition 2) = 36 > 30.
    let c = e.check("kafka_consumer_lag");
    assert_eq!(status(&c), "fail", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("total lag 36"), "{c}");
    assert_eq!(objects(&c)[1], format!("consumergroup/{group}/topic/{topic}/partition/2"));

    k.commit(&group, &topic, &[(0, 10), (2, 30)]);
    e.wait("lag 0 everywhere", 20, |e| {
        let m = e.metrics();
        (0..3).all(|p| m.lag(&group, &topic, p) == Some(0.0))
    });
    let m = e.metrics();
    assert_eq!(m.get("infrasage_kafka_consumergroup_lag_sum", &gt), Some(0.0));
    assert_eq!(m.get("infrasage_kafka_consumergroup_uncommitted_partitions", &gt), None);
    assert_eq!(status(&e.check("kafka_consumer_lag")), "pass");
}

/// One-shot `check` as JSON: id → check.
/// Puts back a dynamic broker default however the test ends.
struct BrokerDefault<'a>(&'a Kafka, &'static str);

impl Drop for BrokerDefault<'_> {
    fn drop(&mut self) {
        self.0.set_broker_default(self.1, None);
    }
}

fn messages(c: &Value) -> Vec<(String, String)> {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["object"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn retention_follows_the_cleanup_policy_the_size_bound_and_the_brokers_precedence() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("ret");
    let t = |suffix: &str| format!("{scope}-{suffix}");
    k.create_topic(&t("bytes"), 1, 3, &[("retention.ms", "-1"), ("retention.bytes", "1024")]);
    k.create_topic(&t("compact"), 1, 3, &[("cleanup.policy", "compact"), ("retention.ms", "3600000")]);
    k.create_topic(&t("compactdelete"), 1, 3, &[("cleanup.policy", "compact,delete"), ("retention.ms", "3600000")]);
    k.create_topic(&t("default"), 1, 3, &[]);
    k.create_topic(&t("old"), 1, 3, &[("retention.ms", "-1"), ("retention.bytes", "104857600")]);
    k.produce(&t("bytes"), 0, 200);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    k.produce_at(&t("old"), 0, 50, now_ms - 2 * 86_400_000);
    k.produce(&t("old"), 0, 50);
    let dir = tempfile::tempdir().unwrap();
    let (checks, text) = check_once(&config(&dir, &scope, ""));
    let ret = &checks["kafka_retention_24h"];
    assert_eq!(status(ret), "fail", "{text}");
    let got = messages(ret);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, format!("topic/{}", t("bytes")));
    assert!(got[0].1.starts_with("retention.bytes 1024 (1.0 KiB) keeps partition 0 about "), "{got:?}");
    assert_eq!(
        got[1],
        (format!("topic/{}", t("compactdelete")), "retention.ms 3600000 (1h) is below 1day".to_string())
    );

    // A bound on a partition that holds nothing yet: undecided, never a pass.
    k.create_topic(&t("empty"), 1, 3, &[("retention.bytes", "1048576")]);
    let (checks, text) = check_once(&config(&dir, &t("empty"), ""));
    let ret = &checks["kafka_retention_24h"];
    assert_eq!(status(ret), "error", "{text}");
    assert!(ret["reason"].as_str().unwrap().contains("holds no record yet"), "{ret}");

    // Compact-only and old-enough data pass; the topic without overrides has the broker's 7 days.
    for ok in ["compact", "old", "default"] {
        let (checks, text) = check_once(&config(&dir, &format!("{}$", t(ok)), ""));
        assert_eq!(status(&checks["kafka_retention_24h"]), "pass", "{ok}: {text}");
    }
    let (checks, _) = check_once(&config(&dir, &format!("{}$", t("compact")), ""));
    assert!(checks["kafka_retention_24h"]["reason"].as_str().unwrap().contains("compacted"));

    // A dynamic cluster default overrides the static one for every topic without its own.
    k.set_broker_default("log.retention.ms", Some("7200000"));
    let _restore = BrokerDefault(k, "log.retention.ms");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (checks, text) = check_once(&config(&dir, &t("default"), ""));
        let ret = &checks["kafka_retention_24h"];
        if status(ret) == "fail" {
            assert_eq!(messages(ret)[0].1, "retention.ms 7200000 (2h) is below 1day");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the dynamic default never showed: {text}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn check_once(config: &str) -> (HashMap<String, Value>, String) {
    let out = support::run(&["check", "--config", config, "--output", "json"]);
    let text = format!("{}{}", support::stdout(&out), support::stderr(&out));
    let v: Value = serde_json::from_str(&support::stdout(&out)).unwrap_or_else(|_| panic!("{text}"));
    let checks = v["checks"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()));
    (checks.collect(), text)
}

#[test]
fn replication_factor_1_and_one_hour_retention_fail_naming_the_topic() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("rf");
    k.create_topic(&format!("{scope}-rf1"), 1, 1, &[]);
    k.create_topic(&format!("{scope}-rf3"), 2, 3, &[("retention.ms", "-1")]);
    k.create_topic(&format!("{scope}-short"), 1, 3, &[("retention.ms", "3600000")]);
    let dir = tempfile::tempdir().unwrap();
    let (checks, _) = check_once(&config(&dir, &scope, ""));
    let rf = &checks["kafka_min_replication_factor"];
    assert_eq!(status(rf), "fail");
    assert_eq!(objects(rf), [format!("topic/{scope}-rf1")]);
    let ret = &checks["kafka_retention_24h"];
    assert_eq!(status(ret), "fail");
    assert_eq!(objects(ret), [format!("topic/{scope}-short")]);
    assert_eq!(status(&checks["kafka_min_brokers"]), "pass");

    // Only the RF 3, retention -1 topic in scope: both pass.
    let (checks, _) = check_once(&config(&dir, &format!("{scope}-rf3"), ""));
    assert_eq!(status(&checks["kafka_min_replication_factor"]), "pass");
    assert_eq!(status(&checks["kafka_retention_24h"]), "pass");

    let e = Exporter::start(&config(&dir, &scope, ""), &[]);
    let m = e.metrics();
    let t = |suffix: &str| format!("{scope}-{suffix}");
    assert_eq!(m.get("infrasage_kafka_topic_replication_factor", &[("topic", &t("rf1"))]), Some(1.0));
    assert_eq!(m.get("infrasage_kafka_topic_replication_factor", &[("topic", &t("rf3"))]), Some(3.0));
    assert_eq!(m.get("infrasage_kafka_topic_retention_seconds", &[("topic", &t("short"))]), Some(3600.0));
    assert_eq!(m.get("infrasage_kafka_topic_retention_seconds", &[("topic", &t("rf3"))]), Some(f64::INFINITY));
    // The broker default (7 days) where the topic sets none.
    assert_eq!(m.get("infrasage_kafka_topic_retention_seconds", &[("topic", &t("rf1"))]), Some(604800.0));
    assert_eq!(m.get("infrasage_kafka_topic_under_replicated_partitions", &[("topic", &t("rf3"))]), Some(0.0));
}

#[test]
fn a_stopped_broker_fails_min_brokers_and_its_return_passes_it() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("stop");
    k.create_topic(&format!("{scope}-events"), 3, 3, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut e = Exporter::start(&config(&dir, &scope, ""), &[]);
    e.wait("3 brokers", 20, |e| status(&e.check("kafka_min_brokers")) == "pass");

    k.script(&["stop-node", "3"]);
    e.wait("kafka_min_brokers fails", 30, |e| status(&e.check("kafka_min_brokers")) == "fail");
    assert_eq!(e.metrics().get("infrasage_kafka_brokers", &[]), Some(2.0));
    let rf = e.check("kafka_min_replication_factor");
    assert_eq!(status(&rf), "pass", "the other Kafka items still evaluate: {rf}");
    e.wait("under-replicated partitions show", 20, |e| {
        e.metrics().get("infrasage_kafka_topic_under_replicated_partitions", &[("topic", &format!("{scope}-events"))])
            == Some(3.0)
    });
    assert!(e.alive());
    assert_eq!(get(&e.addr, "/health").unwrap().0, 200);

    k.script(&["start-node", "3"]);
    e.wait("kafka_min_brokers passes again", 60, |e| status(&e.check("kafka_min_brokers")) == "pass");
    assert_eq!(e.metrics().get("infrasage_kafka_brokers", &[]), Some(3.0));
    assert!(e.alive());
}

#[test]
fn the_coordinator_of_a_group_stops_while_the_exporter_evaluates_every_second() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("coord");
    let (topic, group) = (format!("{scope}-events"), format!("{scope}-g"));
    k.create_topic(&topic, 3, 3, &[]);
    for (p, n) in [(0, 5), (1, 7), (2, 9)] {
        k.produce(&topic, p, n);
    }
    k.commit(&group, &topic, &[(0, 1), (1, 2), (2, 3)]);
    let coordinator = k.coordinator(&group);
    let dir = tempfile::tempdir().unwrap();
    let mut e = Exporter::start(&config(&dir, &scope, ""), &[]);
    let expected = [4.0, 5.0, 6.0];
    let complete = |e: &Exporter| {
        let m = e.metrics();
        (0..3).all(|p| m.lag(&group, &topic, p) == Some(expected[p as usize]))
    };
    e.wait("lag series", 20, complete);

    k.script(&["stop-node", &coordinator.to_string()]);
    // Scrape every second for a while: the process stays up the whole time.
    for _ in 0..8 {
        assert!(e.alive(), "the exporter died while the coordinator was down");
        let _ = e.metrics();
        std::thread::sleep(Duration::from_secs(1));
    }
    e.wait("the same lag values from the new coordinator", 30, complete);
    assert_ne!(k.coordinator(&group), coordinator, "the group moved");
    assert!(e.alive());
    k.script(&["start-node", &coordinator.to_string()]);
    e.wait("still complete after the broker returns", 30, complete);
    assert!(e.alive());
}

#[test]
fn with_every_broker_stopped_kafka_items_error_and_the_others_keep_their_schedule() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("down");
    k.create_topic(&format!("{scope}-events"), 1, 3, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut e = Exporter::start(&config(&dir, &scope, ""), &["--manifests", "tests/data/passing"]);
    e.wait("kafka items decided", 20, |e| status(&e.check("kafka_min_brokers")) == "pass");

    k.script(&["stop"]);
    let stopped = Instant::now();
    e.wait("kafka items error", 15, |e| {
        ["kafka_min_brokers", "kafka_min_replication_factor", "kafka_retention_24h", "kafka_consumer_lag"]
            .iter()
            .all(|id| status(&e.check(id)) == "error")
    });
    // Within the source timeout (3 s) plus one interval and the polling.
    assert!(stopped.elapsed() < Duration::from_secs(10), "took {:?}", stopped.elapsed());
    let c = e.check("kafka_min_brokers");
    assert!(c["reason"].as_str().unwrap().contains("kafka failed"), "{c}");
    let m = e.metrics();
    assert_eq!(m.get("infrasage_readiness_source_up", &[("source", "kafka")]), Some(0.0));
    assert_eq!(m.count("infrasage_kafka_brokers"), 0, "no Kafka series from a failed source");
    // Other items keep being evaluated on schedule.
    let t0 = m.get("infrasage_readiness_last_evaluation_timestamp_seconds", &[]).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let m = e.metrics();
    assert!(m.get("infrasage_readiness_last_evaluation_timestamp_seconds", &[]).unwrap() > t0);
    assert_eq!(status(&e.check("pods_resources_set")), "pass");
    assert!(e.alive());

    k.script(&["start"]);
    e.wait("kafka back", 60, |e| status(&e.check("kafka_min_brokers")) == "pass");
}

#[test]
fn a_wrong_sasl_password_is_an_authentication_error_that_never_shows_the_password() {
    let Some((_g, k)) = kafka() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-pw-5c1e7a0f9b";
    let pw_file = dir.path().join("password");
    let sasl_config = |mechanism: &str, password: &str| {
        std::fs::write(&pw_file, format!("{password}\n")).unwrap();
        let path = dir.path().join(format!("{mechanism}.yaml"));
        let body = format!(
            "interval: 1s\nkafka:\n  bootstrap_servers: \"{SASL_ADDR}\"\n  timeout: 3s\n  sasl: {{ mechanism: {mechanism}, username: readiness, password_file: '{}' }}\n",
            pw_file.display()
        );
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    };
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let cfg = sasl_config(mechanism, wrong);
        let (checks, text) = check_once(&cfg);
        let c = &checks["kafka_min_brokers"];
        assert_eq!(status(c), "error", "{mechanism}: {c}");
        let reason = c["reason"].as_str().unwrap().to_lowercase();
        assert!(reason.contains("authentication"), "{mechanism}: {reason}");
        assert!(!text.contains(wrong), "{mechanism}: the password shows in the output");
        let table = support::run(&["check", "--config", &cfg, "--output", "table"]);
        assert!(!format!("{}{}", support::stdout(&table), support::stderr(&table)).contains(wrong));

        let e = Exporter::start(&cfg, &["--log-format", "json"]);
        e.wait("an evaluation", 10, |e| status(&e.check("kafka_min_brokers")) == "error");
        let (_, metrics) = get(&e.addr, "/metrics").unwrap();
        let (_, api) = get(&e.addr, "/api/v1/checks").unwrap();
        let (_, page) = get(&e.addr, "/").unwrap();
        assert!(!metrics.contains(wrong) && !api.contains(wrong) && !page.contains(wrong));
        let log = e.stderr();
        assert!(!log.contains(wrong), "{mechanism}: the password shows in the log");

        // The right password authenticates (the SASL listener advertises only broker 1).
        let (checks, _) = check_once(&sasl_config(mechanism, &k.sasl_password()));
        let c = &checks["kafka_min_brokers"];
        assert_eq!(status(c), "fail", "{mechanism} with the right password: {c}");
        assert!(c["reason"].as_str().unwrap().contains("1 brokers"), "{c}");
    }
}

#[test]
fn tls_with_a_client_certificate_connects_and_a_wrong_ca_is_an_error() {
    let Some((_g, k)) = kafka() else { return };
    let tls = k.state_dir().join("tls");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, tls_block: &str| {
        let path = dir.path().join(name);
        let body = format!("kafka:\n  bootstrap_servers: \"{TLS_ADDR}\"\n  timeout: 3s\n  tls: {{ {tls_block} }}\n");
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (ca, cert, key) = (tls.join("ca.pem"), tls.join("client.pem"), tls.join("client.key"));
    let good = write(
        "good.yaml",
        &format!("ca_file: '{}', cert_file: '{}', key_file: '{}'", ca.display(), cert.display(), key.display()),
    );
    let (checks, _) = check_once(&good);
    let c = &checks["kafka_min_brokers"];
    // Only broker 2 has the SSL listener, so the metadata through it lists one broker.
    assert_eq!(status(c), "fail", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("1 brokers in the metadata (ids 2)"), "{c}");

    // A CA that did not sign the broker's certificate: a TLS error, not a hang or a crash.
    let other_ca = dir.path().join("other-ca.pem");
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other"])
        .arg("-keyout")
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(out.status.success());
    let wrong = write(
        "wrong.yaml",
        &format!("ca_file: '{}', cert_file: '{}', key_file: '{}'", other_ca.display(), cert.display(), key.display()),
    );
    let (checks, _) = check_once(&wrong);
    let c = &checks["kafka_min_brokers"];
    assert_eq!(status(c), "error", "{c}");
    let reason = c["reason"].as_str().unwrap();
    assert!(reason.contains("TLS handshake") && reason.contains("certificate"), "{reason}");

    // The broker requires a client certificate.
    let anonymous = write("anonymous.yaml", &format!("ca_file: '{}'", ca.display()));
    let (checks, _) = check_once(&anonymous);
    assert_eq!(status(&checks["kafka_min_brokers"]), "error", "{}", checks["kafka_min_brokers"]);
}

/// Lag in seconds on the real cluster: records written at a moment we know, a group committed
/// before them; the exporter's figure is the time since they were written, within one
/// collection interval (1 s here) of the truth, and 0 once the group catches up; its status is
/// `stopped` while its commit stands with lag and no member, `ok` once caught up.
#[test]
fn lag_in_seconds_is_within_one_interval_of_the_truth() {
    let Some((_g, k)) = kafka() else { return };
    let scope = unique("lagsec");
    let (topic, group) = (format!("{scope}-t"), format!("{scope}-g"));
    k.create_topic(&topic, 1, 3, &[]);
    k.produce(&topic, 0, 3);
    k.commit(&group, &topic, &[(0, 3)]);
    let dir = tempfile::tempdir().unwrap();
    let e = Exporter::start(&config(&dir, &scope, ""), &[]);
    let seconds = |e: &Exporter| {
        e.metrics().get(
            "infrasage_kafka_consumergroup_lag_seconds",
            &[("consumergroup", &group), ("topic", &topic), ("partition", "0")],
        )
    };
    e.wait("caught up reads 0 s", 10, |e| seconds(e) == Some(0.0));
    // The exporter has seen the mark at 3; records 3.. are written now.
    std::thread::sleep(Duration::from_millis(1_500));
    let written = Instant::now();
    k.produce(&topic, 0, 5);
    std::thread::sleep(Duration::from_secs(4));
    let (lag, truth) = (seconds(&e).expect("a lag in seconds"), written.elapsed().as_secs_f64());
    // One interval of interpolation, plus the age of the last evaluation (one more interval).
    assert!(lag <= truth + 0.5 && lag >= truth - 2.5, "lag {lag:.2} s, truth {truth:.2} s");
    eprintln!("lag in seconds: exporter {lag:.2} s, truth {truth:.2} s, error {:.2} s", truth - lag);
    // Caught up within its window (10 collections) it is still ok; once its commit has stood
    // with lag and no member for the whole window: stopped.
    let status = |e: &Exporter, s: &str| {
        e.metrics().get("infrasage_kafka_consumergroup_status", &[("consumergroup", &group), ("status", s)])
    };
    assert_eq!(status(&e, "ok"), Some(1.0));
    e.wait("stopped once the window holds no catch-up", 20, |e| status(e, "stopped") == Some(1.0));
    k.commit(&group, &topic, &[(0, 8)]);
    e.wait("caught up again", 10, |e| seconds(e) == Some(0.0));
    e.wait("ok once caught up", 10, |e| status(e, "ok") == Some(1.0));
}
