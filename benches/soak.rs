//! Soak: 3,600 evaluations with every HTTP source flapping (two good answers, two HTTP 500s)
//! (and ClickHouse and Kafka dead), the sources on their own 10 ms clocks; RSS and open file
//! descriptors at the start and at the end. Run: `cargo bench --bench soak`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use infrasage_readiness::config;
use infrasage_readiness::engine::Engine;
use infrasage_readiness::server::Published;
use support::faults::{fault_server, sections, Mode, GOOD_ANSWERS};

const EVALUATIONS: usize = 3_600;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn main() {
    let mut ports: std::collections::BTreeMap<&str, u16> =
        GOOD_ANSWERS.iter().map(|(source, body)| (*source, fault_server(Mode::FlapEach(body)))).collect();
    ports.insert("clickhouse", fault_server(Mode::Dead));
    ports.insert("kafka", fault_server(Mode::Dead));
    let config_text = format!(
        "kubernetes: {{ manifests: [{}] }}\n{}",
        support::repo("examples/manifests").display(),
        sections(&ports, "2s")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config_text).unwrap();
    let config = config::load(Some(&path)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let engine = Engine::from_config(&config).unwrap();
    let _guard = rt.enter();
    let loops = engine.start_loops(Duration::from_millis(10));
    rt.block_on(loops.first_gathers(Duration::from_secs(5)));
    let started = Instant::now();
    let mut marks = Vec::new();
    let mut up_changes = 0;
    let mut last_up = None;
    let mut render = Vec::new();
    for i in 1..=EVALUATIONS {
        let evaluation = engine.evaluate_latest(&loops);
        let up = evaluation.sources.iter().find(|s| s.source == "prometheus").map(|s| s.state.clone());
        if last_up.is_some() && up != last_up {
            up_changes += 1;
        }
        last_up = up;
        let t = Instant::now();
        let published = Published::new(evaluation);
        render.push(t.elapsed());
        drop(published);
        if i == 100 || i % 900 == 0 {
            marks.push((i, rss_kib(), fds()));
        }
        rt.block_on(tokio::time::sleep(Duration::from_millis(10)));
    }
    // With the loops stopped, the connections they had in flight close: what stays is kept.
    drop(loops);
    rt.block_on(tokio::time::sleep(Duration::from_millis(500)));
    marks.push((EVALUATIONS, rss_kib(), fds()));
    render.sort();
    println!(
        "soak: {EVALUATIONS} evaluations in {:.1?}, prometheus flipped state {up_changes} times",
        started.elapsed()
    );
    for (n, (i, rss, fds)) in marks.iter().enumerate() {
        let when = if n + 1 == marks.len() { " (loops stopped)" } else { "" };
        println!("  after {i:>5} evaluations{when}: RSS {rss} KiB, {fds} open fds");
    }
    println!(
        "  rendering every output: median {:.2?}, p99 {:.2?}",
        render[render.len() / 2],
        render[render.len() * 99 / 100]
    );
}
