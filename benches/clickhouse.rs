//! Figure for BENCHMARKS.md: one ClickHouse collection (every query the source runs, the two
//! default-login probes included) against the chdb test server holding 1,000 tables with one
//! part each. Needs tests/support/clickhouse/servers.sh (it is started here).
//! Run: `cargo bench --bench clickhouse`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use infrasage_readiness::plan::Plan;
use infrasage_readiness::{config, sources};

const ROUNDS: usize = 20;

fn sql(port: u16, password: &str, query: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-ClickHouse-User: infrasage\r\nX-ClickHouse-Key: {password}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{query}",
        query.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{query}: {answer}");
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out =
        std::process::Command::new(repo.join("tests/support/clickhouse/servers.sh")).arg("start").output().unwrap();
    assert!(out.status.success(), "servers.sh start: {}", String::from_utf8_lossy(&out.stderr));
    let state = PathBuf::from(
        std::env::var("INFRASAGE_CH_STATE").unwrap_or_else(|_| "/tmp/infrasage-readiness-clickhouse".into()),
    );
    let pw_file = state.join("infrasage.pw");
    let password = std::fs::read_to_string(&pw_file).unwrap();
    // INFRASAGE_BENCH_PORT=18124 runs the same against the real 18.16 server (no TTLs there).
    let port: u16 = std::env::var("INFRASAGE_BENCH_PORT").ok().and_then(|v| v.parse().ok()).unwrap_or(18123);
    let ttl = if port == 18123 { " TTL ts + toIntervalDay(30)" } else { "" };

    // INFRASAGE_BENCH_TABLES=0 gives the baseline: the same queries on a near-empty server.
    let tables: usize = std::env::var("INFRASAGE_BENCH_TABLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let t = Instant::now();
    sql(port, &password, "DROP DATABASE IF EXISTS bench1000");
    sql(port, &password, "CREATE DATABASE bench1000");
    for i in 0..tables {
        sql(
            port,
            &password,
            &format!("CREATE TABLE bench1000.t{i:04} (ts DateTime, v UInt64) ENGINE = MergeTree ORDER BY ts{ttl}"),
        );
        sql(port, &password, &format!("INSERT INTO bench1000.t{i:04} VALUES (now(), {i})"));
    }
    println!("set up {tables} tables with one part each in {:.1?}", t.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    let tables_param =
        "{ metrics: bench1000.t0000, logs: bench1000.t0001, traces: bench1000.t0002, events: bench1000.t0003 }";
    std::fs::write(
        &cfg,
        format!(
            "clickhouse: {{ url: 'http://127.0.0.1:{port}', user: infrasage, password_file: {} }}\n\
             checks:\n  retention_per_telemetry_type: {{ params: {{ tables: {tables_param} }} }}\n",
            pw_file.display()
        ),
    )
    .unwrap();
    let config = config::load(Some(&cfg)).unwrap();
    let set = sources::build(&config, &Plan::new(&config, None).needs, &[]).unwrap();
    let source = &set.active[0];
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        rt.block_on(source.gather()).expect("a collection");
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "one ClickHouse collection, {tables} tables: median {:.1?}, min {:.1?}, max {:.1?} ({ROUNDS} rounds; the first detects the server)",
        times[ROUNDS / 2],
        times[0],
        times[ROUNDS - 1]
    );
    // INFRASAGE_BENCH_KEEP=1 leaves the tables for timing single queries by hand.
    if std::env::var("INFRASAGE_BENCH_KEEP").is_err() {
        sql(port, &password, "DROP DATABASE bench1000");
    }
}
