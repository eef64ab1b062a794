//! Figures for BENCHMARKS.md: one evaluation over the example manifests and over a
//! 100-namespace copy of them, and the cost and size of rendering `/metrics`.
//! Run: `cargo bench --bench evaluate`.

use std::time::{Duration, Instant};

use infrasage_readiness::config;
use infrasage_readiness::engine::Engine;
use infrasage_readiness::server::Published;

const ROUNDS: usize = 20;

/// Writes the examples `copies` times, each copy in its own namespace, plus a config for them.
fn write_copies(dir: &std::path::Path, copies: usize) -> std::path::PathBuf {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/manifests");
    let mut namespaces = Vec::new();
    for i in 0..copies {
        let ns = format!("infrasage-{i:03}");
        let out = dir.join(&ns);
        std::fs::create_dir_all(&out).unwrap();
        for entry in std::fs::read_dir(&examples).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace("namespace: infrasage", &format!("namespace: {ns}"));
            std::fs::write(out.join(path.file_name().unwrap()), text).unwrap();
        }
        namespaces.push(ns);
    }
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!("kubernetes:\n  manifests: [{}]\n  namespaces: [{}]\n", dir.display(), namespaces.join(", ")),
    )
    .unwrap();
    config
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(name: &str, config_path: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let config = config::load(Some(config_path)).unwrap();
    let engine = Engine::from_config(&config).unwrap();
    let mut evaluate = Vec::new();
    let mut render = Vec::new();
    let (mut size, mut gzipped) = (0, 0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let report = rt.block_on(engine.evaluate());
        evaluate.push(t.elapsed());
        let t = Instant::now();
        let published = Published::new(report);
        render.push(t.elapsed());
        size = published.metrics.plain.len();
        gzipped = published.metrics.gzip.len();
    }
    println!(
        "{name:<28} evaluate (load + checks) median {:>9.2?}   render all outputs median {:>9.2?}   /metrics {size} bytes ({gzipped} gzipped)",
        median(evaluate),
        median(render)
    );
}

fn main() {
    let one = tempfile::tempdir().unwrap();
    bench("examples (1 namespace)", &write_copies(one.path(), 1));
    let hundred = tempfile::tempdir().unwrap();
    bench("examples x100 namespaces", &write_copies(hundred.path(), 100));

    // /metrics alone for the full catalogue.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cfg = write_copies(one.path(), 1);
    let config = config::load(Some(&cfg)).unwrap();
    let report = rt.block_on(Engine::from_config(&config).unwrap().evaluate());
    let t = Instant::now();
    let n = 200;
    let mut bytes = 0;
    for _ in 0..n {
        bytes = infrasage_readiness::metrics::render(&report).len();
    }
    println!("{:<28} {:>9.2?} per render, {bytes} bytes, {} series lines", "/metrics (every item)", t.elapsed() / n, {
        infrasage_readiness::metrics::render(&report).lines().filter(|l| !l.starts_with('#')).count()
    });
}
