//! Helpers shared by the integration tests: the built binary, a tiny HTTP client, free ports.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infrasage-readiness"))
}

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// One in-process evaluation of a config written to a temp file (no environment overrides).
pub fn evaluate(config_yaml: &str) -> infrasage_readiness::results::Report {
    evaluation(config_yaml).report
}

/// [`evaluate`] with the snapshot kept, for `/metrics`.
pub fn evaluation(config_yaml: &str) -> infrasage_readiness::results::Evaluation {
    use infrasage_readiness::{config, engine::Engine};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config_yaml).unwrap();
    let config = config::load_with_env(Some(&path), Vec::new()).unwrap();
    let engine = Engine::from_config(&config).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(engine.evaluate())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET: (status, body). None when nothing answers.
pub fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status: u16 = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Compares with a committed snapshot; `UPDATE_SNAPSHOTS=1` rewrites it instead.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = repo("tests/snapshots").join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert!(
        expected == actual,
        "{name} drifted; run with UPDATE_SNAPSHOTS=1 and review the diff\n--- actual ---\n{actual}"
    );
}
pub mod bundle;
pub mod echo;
pub mod fake_http;
pub mod faults;
pub mod kafka;
pub mod promstack;
