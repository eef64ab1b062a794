//! Servers that misbehave on purpose, for the fault tests and the soak bench: a port nobody
//! listens on, one that accepts and never answers, one that answers garbage, one that flaps
//! between a good answer and HTTP 500.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::free_port;

/// How long a flapping server answers well, then badly: off the exporter's 1 s beat, so its
/// gathers meet both.
pub const FLAP_MS: u128 = 1_300;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Mode {
    Dead,
    Hang,
    Garbage,
    /// Good answers and HTTP 500 by turns, each for [`FLAP_MS`].
    Flap(&'static str),
    /// Two connections answered well, two with HTTP 500, and again: a source flaps at about
    /// every gather however fast it gathers.
    FlapEach(&'static str),
}

/// A server misbehaving as told; `Dead` is a port nobody listens on.
pub fn fault_server(mode: Mode) -> u16 {
    if mode == Mode::Dead {
        return free_port();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().filter_map(Result::ok).enumerate() {
            let reply = match mode {
                Mode::Dead | Mode::Hang => {
                    held.push(stream);
                    continue;
                }
                Mode::Garbage => Reply::Garbage,
                Mode::Flap(good) if (started.elapsed().as_millis() / FLAP_MS).is_multiple_of(2) => Reply::Good(good),
                Mode::FlapEach(good) if n % 4 < 2 => Reply::Good(good),
                Mode::Flap(_) | Mode::FlapEach(_) => Reply::Failed,
            };
            std::thread::spawn(move || answer(stream, reply));
        }
    });
    port
}

#[derive(Clone, Copy, PartialEq)]
enum Reply {
    Good(&'static str),
    Failed,
    Garbage,
}

fn answer(mut s: TcpStream, reply: Reply) {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 65_536 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        // A binary protocol (Kafka) sends no blank line: answer what came.
        if reply == Reply::Garbage && !seen.is_empty() {
            break;
        }
    }
    let bytes = match reply {
        Reply::Garbage => b"\x7f\xff\xff\xff\x00garbage \xc3\x28 not a protocol\r\n\r\n".to_vec(),
        Reply::Good(body) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        Reply::Failed => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown".to_vec(),
    };
    let _ = s.write_all(&bytes);
}

/// An answer each HTTP source takes as good (a flapping server alternates it with HTTP 500).
pub const GOOD_ANSWERS: [(&str, &str); 5] = [
    ("services", r#"{"status":"ok","version":"1.2.3"}"#),
    ("prometheus", r#"{"status":"success","data":{"activeTargets":[],"groups":[]}}"#),
    ("alertmanager", r#"{"config":{"original":"route:\n  receiver: x\nreceivers:\n- name: x\n"}}"#),
    ("grafana", "[]"),
    ("infrasage_api", "{}"),
];

/// The config sections of every source but Kubernetes, each at its port in `ports` (keyed by
/// section name), with `timeout`.
pub fn sections(ports: &std::collections::BTreeMap<&str, u16>, timeout: &str) -> String {
    let url = |name: &str| format!("http://127.0.0.1:{}", ports[name]);
    format!(
        "services: {{ gateway: {{ url: '{}', timeout: {timeout} }} }}\n\
         prometheus: {{ url: '{}', timeout: {timeout} }}\n\
         alertmanager: {{ url: '{}', timeout: {timeout} }}\n\
         grafana: {{ url: '{}', timeout: {timeout} }}\n\
         infrasage_api: {{ url: '{}', timeout: {timeout} }}\n\
         clickhouse: {{ url: '{}', timeout: {timeout} }}\n\
         kafka: {{ bootstrap_servers: '127.0.0.1:{}', timeout: {timeout} }}\n",
        url("services"),
        url("prometheus"),
        url("alertmanager"),
        url("grafana"),
        url("infrasage_api"),
        url("clickhouse"),
        ports["kafka"],
    )
}
