//! Figures for BENCHMARKS.md: one Kafka collection for 50 groups × 500 partitions (25,000
//! group-partitions) and for 1 group, on the test cluster (tests/support/kafka/cluster.sh);
//! then the RSS of the exporter (`serve`, release build) holding those series.
//! Run: `cargo bench --bench kafka` (starts the cluster if needed).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use infrasage_readiness::config;
use infrasage_readiness::snapshot::{Snapshot, SourceData, SourceState};
use infrasage_readiness::sources::kafka::KafkaSource;
use infrasage_readiness::sources::Source;
use support::kafka::{cluster, BOOTSTRAP};

const TOPIC: &str = "bench-500";
const GROUPS: usize = 50;
const PARTITIONS: i32 = 500;
const ROUNDS: usize = 30;

fn config(dir: &std::path::Path, name: &str, groups: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let body = format!(
        "interval: 1s\nkafka:\n  bootstrap_servers: \"{BOOTSTRAP}\"\n  timeout: 10s\n  topics: {{ allow: '^{TOPIC}$' }}\n  consumer_groups: {{ allow: '{groups}' }}\n"
    );
    std::fs::write(&path, body).unwrap();
    path
}

fn collect(name: &str, path: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let c = config::load(Some(path)).unwrap();
    let source = KafkaSource::new(c.kafka.as_ref().unwrap()).unwrap();
    let t = Instant::now();
    let cold = rt.block_on(source.gather()).unwrap();
    let cold_time = t.elapsed();
    let mut times = Vec::new();
    let mut last = cold;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        last = rt.block_on(source.gather()).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    let SourceData::Kafka(k) = last.data else { unreachable!() };
    let committed: usize = k.groups.iter().map(|g| g.committed.len()).sum();
    let snapshot = Snapshot { kafka: SourceState::Ready(k), ..Default::default() };
    let t = Instant::now();
    let text = infrasage_readiness::metrics::source_text(&snapshot);
    let render = t.elapsed();
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    println!(
        "{name:<22} {committed:>6} group-partitions  cold {cold_time:>9.2?}  warm median {:>9.2?} (min {:.2?}, max {:.2?})  families {render:.2?} for {series} series",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
    );
}

/// RSS of `serve` after 10 evaluations (one per second) with this config.
fn exporter_rss(name: &str, path: &std::path::Path) {
    let addr = format!("127.0.0.1:{}", support::free_port());
    let mut child = support::bin()
        .args(["serve", "--listen", &addr, "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(11));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field =
        |k: &str| status.lines().find(|l| l.starts_with(k)).unwrap().split_whitespace().nth(1).unwrap().to_string();
    let (_, metrics) = support::get(&addr, "/metrics").unwrap();
    let duration = metrics
        .lines()
        .find(|l| l.starts_with("infrasage_readiness_source_duration_seconds{source=\"kafka\"}"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?")
        .to_string();
    let lines = metrics.lines().filter(|l| !l.starts_with('#')).count();
    println!(
        "{name:<22} exporter RSS {} KiB (peak {} KiB), last Kafka gather {duration} s, /metrics {} bytes, {lines} samples",
        field("VmRSS:"),
        field("VmHWM:"),
        metrics.len()
    );
    for clients in [1, 8] {
        for gzip in [false, true] {
            scrape_latency(name, &addr, clients, gzip);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `clients` scrapers at once, 40 scrapes each, while the exporter evaluates every second:
/// the time to the last byte, p50 and p99, and the bytes on the wire.
fn scrape_latency(name: &str, addr: &str, clients: usize, gzip: bool) {
    use std::io::{Read, Write};
    let scrape = move |addr: &str| -> (Duration, usize) {
        let t = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let enc = if gzip { "Accept-Encoding: gzip\r\n" } else { "" };
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n{enc}Connection: close\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        (t.elapsed(), raw.len())
    };
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let addr = addr.to_string();
            std::thread::spawn(move || (0..40).map(|_| scrape(&addr)).collect::<Vec<_>>())
        })
        .collect();
    let mut all: Vec<(Duration, usize)> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].0;
    println!(
        "{name:<22} scrape, {clients} client(s), {}: p50 {:>9.2?} p99 {:>9.2?}, {} bytes on the wire",
        if gzip { "gzip " } else { "plain" },
        pick(0.5),
        pick(0.99),
        all[0].1
    );
}

fn main() {
    let Some(k) = cluster() else {
        eprintln!("no test Kafka: run tests/support/kafka/cluster.sh start");
        return;
    };
    let t = Instant::now();
    if k.leaders(TOPIC).is_none() {
        k.create_topic(TOPIC, PARTITIONS, 3, &[]);
    }
    // 3 records per partition, each group committed at 1 on every partition: lag 2 each.
    let marks = k.leaders(TOPIC).unwrap().len();
    assert_eq!(marks, PARTITIONS as usize);
    for p in 0..PARTITIONS {
        k.produce(TOPIC, p, 3);
    }
    let offsets: Vec<(i32, i64)> = (0..PARTITIONS).map(|p| (p, 1)).collect();
    for g in 0..GROUPS {
        k.commit(&format!("bench-g-{g:02}"), TOPIC, &offsets);
    }
    println!("setup (topic, records, {GROUPS} groups' commits) {:.1?}", t.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let many = config(dir.path(), "many", "^bench-g-");
    let one = config(dir.path(), "one", "^bench-g-00$");
    collect("50 groups x 500", &many);
    collect("1 group x 500", &one);
    exporter_rss("50 groups x 500", &many);
    exporter_rss("1 group x 500", &one);
}
