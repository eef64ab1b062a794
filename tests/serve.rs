//! The long-running exporter: endpoints, readiness, the exposition format, SIGTERM.

mod support;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, get};

struct Exporter {
    child: Child,
    addr: String,
}

impl Exporter {
    fn start(args: &[&str]) -> Exporter {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = support::bin()
            .args(["serve", "--listen", &addr])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Exporter { child, addr }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(&self.addr, "/ready").is_some_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("exporter not ready within 30 s");
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serves_every_endpoint_and_one_status_series_per_item() {
    let e = Exporter::start(&["--config", "examples/config.yaml"]);
    e.wait_ready();
    assert_eq!(get(&e.addr, "/health").unwrap().0, 200);
    let (status, body) = get(&e.addr, "/metrics").unwrap();
    assert_eq!(status, 200);

    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    let mut ones: HashMap<String, usize> = HashMap::new();
    let mut series: HashMap<String, usize> = HashMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == "infrasage_readiness_check_status") {
        let check = s.labels.get("check").unwrap().to_string();
        *series.entry(check.clone()).or_default() += 1;
        if let prometheus_parse::Value::Gauge(v) = s.value {
            if v == 1.0 {
                *ones.entry(check).or_default() += 1;
            }
        }
    }
    for item in infrasage_readiness::catalogue::ITEMS {
        assert_eq!(series.get(item.id), Some(&4), "{} has the four StateSet series", item.id);
        assert_eq!(ones.get(item.id), Some(&1), "{} has exactly one status at 1", item.id);
    }
    let has = |name: &str| scrape.samples.iter().any(|s| s.metric == name);
    for name in [
        "infrasage_readiness_check_info",
        "infrasage_readiness_check_findings",
        "infrasage_readiness_source_up",
        "infrasage_readiness_source_duration_seconds",
        "infrasage_readiness_source_last_success_timestamp_seconds",
        "infrasage_readiness_last_evaluation_timestamp_seconds",
        "infrasage_readiness_build_info",
    ] {
        assert!(has(name), "{name} is exported");
    }
    let up = scrape.samples.iter().find(|s| s.metric == "infrasage_readiness_source_up").unwrap();
    assert_eq!(up.labels.get("source"), Some("kubernetes"));

    let (status, json) = get(&e.addr, "/api/v1/checks").unwrap();
    assert_eq!(status, 200);
    let report: infrasage_readiness::results::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(report.checks.len(), infrasage_readiness::catalogue::ITEMS.len());

    let (status, html) = get(&e.addr, "/").unwrap();
    assert_eq!(status, 200);
    assert!(html.contains("Service/infrasage/admin-ui") && html.contains("<h2 id=\"network\">"));
    assert_eq!(get(&e.addr, "/nope").unwrap().0, 404);
}

#[test]
fn sigterm_exits_0() {
    let mut e = Exporter::start(&["--manifests", "examples/manifests"]);
    e.wait_ready();
    let pid = e.child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = e.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_config_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kubernetes: { namespacez: [a] }\n").unwrap();
    let o = support::run(&["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(support::stderr(&o).contains("kubernetes.namespacez"));
}

#[test]
fn ready_is_503_and_metrics_has_no_items_until_the_first_evaluation_is_published() {
    use infrasage_readiness::server::{self, Published};
    use std::sync::Arc;
    use tokio::sync::watch;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (publish, latest) = watch::channel::<Option<Arc<Published>>>(None);
    let (stop, stopped) = watch::channel(false);
    let server = rt.spawn(server::serve(listener, latest, stopped, server::ServeOptions::default()));

    assert_eq!(get(&addr, "/ready").unwrap().0, 503);
    assert_eq!(get(&addr, "/api/v1/checks").unwrap().0, 503);
    assert_eq!(get(&addr, "/health").unwrap().0, 200, "alive while not ready");
    // /metrics answers from the start, as node_exporter does: what the exporter is, no items yet.
    let (status, body) = get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("infrasage_readiness_build_info{"), "{body}");
    assert!(!body.contains("infrasage_readiness_check_status"), "{body}");

    let config = infrasage_readiness::config::Config::default();
    let engine = infrasage_readiness::engine::Engine::from_config(&config).unwrap();
    let report = rt.block_on(engine.evaluate());
    publish.send_replace(Some(Arc::new(Published::new(report))));
    assert_eq!(get(&addr, "/ready").unwrap().0, 200);
    assert_eq!(get(&addr, "/metrics").unwrap().0, 200);

    stop.send(true).unwrap();
    rt.block_on(server).unwrap();
    assert!(get(&addr, "/health").is_none(), "the listener is closed after shutdown");
}

/// Debian's `promtool check metrics` lints the exposition as Prometheus' own tooling sees it.
#[test]
fn exposition_passes_promtool_lint() {
    use std::io::Write;
    let Ok(promtool) = which("promtool") else {
        assert!(
            std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(),
            "promtool is required (scripts/install-deps.sh installs it)"
        );
        eprintln!("promtool not installed: lint not run");
        return;
    };
    let e = Exporter::start(&["--config", "examples/config.yaml"]);
    e.wait_ready();
    let (_, body) = get(&e.addr, "/metrics").unwrap();
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(tool)).find(|p| p.is_file()))
        .ok_or(())
}

/// The body without the process' own series, which are read at each scrape.
fn without_process(body: &[u8]) -> String {
    String::from_utf8_lossy(body).lines().filter(|l| !l.contains("process_")).collect::<Vec<_>>().join("\n")
}

#[test]
fn process_families_are_read_at_each_scrape() {
    let e = Exporter::start(&["--config", "examples/config.yaml"]);
    let value = |body: &str, name: &str| -> f64 {
        let line =
            body.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {body}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    // Before the first evaluation too.
    let deadline = Instant::now() + Duration::from_secs(20);
    let early = loop {
        if let Some((200, body)) = get(&e.addr, "/metrics") {
            break body;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(value(&early, "process_resident_memory_bytes") > 1e6, "{early}");
    e.wait_ready();
    let body = get(&e.addr, "/metrics").unwrap().1;
    assert!(value(&body, "process_open_fds") >= 3.0);
    let pid = e.child.id();
    let rss_kib: f64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let reported = value(&body, "process_resident_memory_bytes");
    assert!((reported / 1024.0 - rss_kib).abs() < rss_kib * 0.5, "reported {reported} B, /proc says {rss_kib} KiB");
}

/// A request with headers of our choosing: (status, headers lower-cased, raw body).
fn request(addr: &str, method: &str, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

#[test]
fn gzip_when_asked_identical_once_inflated_and_plain_otherwise() {
    use std::io::Read;
    let e = Exporter::start(&["--config", "examples/config.yaml"]);
    e.wait_ready();
    for path in ["/metrics", "/api/v1/checks", "/"] {
        let (status, head, plain) = request(&e.addr, "GET", path, "");
        assert_eq!(status, 200);
        assert!(!head.contains("content-encoding"), "{path}: {head}");
        assert!(head.contains("vary: accept-encoding"), "{path}: {head}");
        // Prometheus' own header.
        let asked = "Accept-Encoding: gzip\r\n";
        let (status, head, zipped) = request(&e.addr, "GET", path, asked);
        assert_eq!(status, 200);
        assert!(head.contains("content-encoding: gzip"), "{path}: {head}");
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(&zipped[..]).read_to_end(&mut inflated).unwrap();
        assert_eq!(without_process(&inflated), without_process(&plain), "{path}: the gzipped body is the plain one");
        assert!(zipped.len() * 3 < plain.len(), "{path}: {} of {} bytes", zipped.len(), plain.len());
        // Refused with q=0, and not offered: plain.
        for refused in ["Accept-Encoding: gzip;q=0\r\n", "Accept-Encoding: br, deflate\r\n"] {
            let (_, head, body) = request(&e.addr, "GET", path, refused);
            assert!(!head.contains("content-encoding"), "{path} {refused:?}: {head}");
            assert_eq!(without_process(&body), without_process(&plain));
        }
    }
}

#[test]
fn prometheus_style_aliases_and_allow_on_405() {
    let e = Exporter::start(&["--config", "examples/config.yaml"]);
    e.wait_ready();
    assert_eq!(get(&e.addr, "/-/healthy").unwrap().0, 200);
    assert_eq!(get(&e.addr, "/-/ready").unwrap().0, 200);
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&e.addr).unwrap();
    write!(s, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let head = raw.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 405"), "{raw}");
    assert!(head.contains("allow: get, head"), "{raw}");
}

/// A source that accepts and never answers, with a minute's timeout: SIGTERM still ends the
/// process at once (Kubernetes kills it after 30 s otherwise).
#[test]
fn sigterm_cancels_a_hanging_gather() {
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    let held = std::thread::spawn(move || hang.incoming().take(4).filter_map(Result::ok).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, format!("prometheus: {{ url: 'http://127.0.0.1:{port}', timeout: 60s }}\n")).unwrap();
    let mut e = Exporter::start(&["--config", config.to_str().unwrap()]);
    // Up and serving, the first evaluation waiting on the source.
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&e.addr, "/health").is_none() {
        assert!(Instant::now() < deadline, "never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&e.addr, "/ready").unwrap().0, 503, "the gather hangs");
    let pid = e.child.id().to_string();
    let sent = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    loop {
        if let Some(status) = e.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
}

/// The config applied by SIGHUP, by `POST /-/reload` and by the file changing; a bad one is
/// refused with its key path, counted, and the running config stays.
#[test]
fn reload_applies_a_good_config_and_keeps_the_old_one_on_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let manifests = support::repo("examples/manifests");
    let write = |egress: bool, extra: &str| {
        let text = format!(
            "interval: 1h\nkubernetes: {{ manifests: [{}], namespaces: [infrasage] }}\n\
             checks: {{ egress_restricted: {{ enabled: {egress} }} }}\n{extra}",
            manifests.display()
        );
        std::fs::write(&path, text).unwrap();
    };
    let has_egress = |e: &Exporter| get(&e.addr, "/api/v1/checks").unwrap().1.contains("\"egress_restricted\"");
    let metric = |e: &Exporter, name: &str| -> String {
        let body = get(&e.addr, "/metrics").unwrap().1;
        body.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_string()
    };
    let eventually = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    write(false, "");
    let e = Exporter::start(&["--config", path.to_str().unwrap()]);
    e.wait_ready();
    assert!(!has_egress(&e));
    assert_eq!(
        metric(&e, "infrasage_readiness_config_last_reload_successful"),
        "infrasage_readiness_config_last_reload_successful 1"
    );

    // SIGHUP.
    write(true, "");
    let pid = e.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    eventually("SIGHUP applied the new config", &|| has_egress(&e));

    // A bad config: refused with its key path; the running one stays.
    write(false, "interval: sometimes\n");
    let (status, head, body) = request(&e.addr, "POST", "/-/reload", "");
    assert_eq!(status, 500, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("`interval`"), "{}", String::from_utf8_lossy(&body));
    eventually("the refusal is counted", &|| {
        metric(&e, "infrasage_readiness_config_last_reload_successful").ends_with(" 0")
    });
    assert!(has_egress(&e), "the old config keeps running");
    assert_eq!(get(&e.addr, "/ready").unwrap().0, 200);

    // POST /-/reload with a good one.
    write(false, "");
    let (status, _, _) = request(&e.addr, "POST", "/-/reload", "");
    assert_eq!(status, 200);
    eventually("POST applied the new config", &|| !has_egress(&e));
    assert!(metric(&e, "infrasage_readiness_config_last_reload_successful").ends_with(" 1"));

    // The file changing alone (a ConfigMap update), no signal.
    write(true, "");
    eventually("the file change applied the new config", &|| has_egress(&e));
}

/// A source that never answers holds nothing: the first evaluation is published within an
/// interval with that source pending, and evaluations go on every interval.
#[test]
fn a_hanging_source_holds_neither_the_first_evaluation_nor_the_next() {
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    std::thread::spawn(move || hang.incoming().filter_map(Result::ok).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let manifests = support::repo("examples/manifests");
    std::fs::write(
        &config,
        format!(
            "interval: 1s\nkubernetes: {{ manifests: [{}] }}\nprometheus: {{ url: 'http://127.0.0.1:{port}', timeout: 60s }}\n",
            manifests.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let e = Exporter::start(&["--config", config.to_str().unwrap()]);
    e.wait_ready();
    assert!(started.elapsed() < Duration::from_secs(10), "ready after {:?}", started.elapsed());
    let report: serde_json::Value = serde_json::from_str(&get(&e.addr, "/api/v1/checks").unwrap().1).unwrap();
    let source =
        |name: &str| report["sources"].as_array().unwrap().iter().find(|s| s["source"] == name).cloned().unwrap();
    assert_eq!(source("prometheus")["state"], "pending");
    assert_eq!(source("kubernetes")["state"], "ok");
    let check = |id: &str| report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
    assert_eq!(check("egress_restricted")["status"], "fail", "Kubernetes items are decided");
    assert_eq!(check("prometheus_scraping")["status"], "error");
    let evaluated = |e: &Exporter| {
        let body = get(&e.addr, "/metrics").unwrap().1;
        body.lines()
            .find(|l| l.starts_with("infrasage_readiness_last_evaluation_timestamp_seconds "))
            .unwrap()
            .to_string()
    };
    let first = evaluated(&e);
    let deadline = Instant::now() + Duration::from_secs(5);
    while evaluated(&e) == first {
        assert!(Instant::now() < deadline, "no evaluation after the first while the source hangs");
        std::thread::sleep(Duration::from_millis(100));
    }
}
