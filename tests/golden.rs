//! Every output byte for byte as captured before the redesign of issue 14 (declared reads, one
//! plan, sources owning themselves): the CLI formats and the endpoint's `/metrics`,
//! `/api/v1/checks` and `/`, on the example config and on a config naming every source (each
//! unreachable), with overrides, a disabled item and a custom item. Only what changes from run
//! to run (clock, durations, the temp dir, the commit) is normalised. `UPDATE_SNAPSHOTS=1` rewrites them.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{assert_snapshot, free_port, get, run, stdout};

/// Every source configured, none reachable (port 1 refuses), so each source's error path, the
/// planned requests and the overrides all show in the outputs.
const EVERY_SOURCE: &str = r#"
interval: 30s
kubernetes:
  manifests: [MANIFESTS]
  namespaces: [infrasage]
kafka: { bootstrap_servers: "127.0.0.1:1", timeout: 2s }
clickhouse: { url: "http://127.0.0.1:1", user: readiness, timeout: 2s }
services:
  gateway: { url: "http://127.0.0.1:1" }
prometheus: { url: "http://127.0.0.1:1" }
alertmanager: { url: "http://127.0.0.1:1" }
grafana: { url: "http://127.0.0.1:1" }
infrasage_api: { url: "http://127.0.0.1:1" }
checks:
  jwt_secret_strong: { enabled: false }
  egress_restricted: { severity: critical }
  retention_meets_compliance:
    params: { tables: { logs: otel.logs }, obligations: { logs: 30d } }
  anomaly_sensitivity_tuned: { params: { request: "GET /v2/sensitivity" } }
custom_checks:
  - id: users_listed
    category: auth
    title: The admin API lists users
    request: { source: infrasage_api, path: /api/v1/users }
    expr: "size(body) > 0"
"#;

fn normalise(text: &str, tmp: &str) -> String {
    let rules: [(&str, &str); 9] = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<time>"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( UTC)?", "<time>"),
        (r#"("duration_seconds": )[0-9.e-]+"#, "${1}<seconds>"),
        (r"((duration|timestamp)_seconds(\{[^}]*\})?) [0-9.e+-]+", "$1 <value>"),
        (r"(took|in) [0-9.]+ ?(ms|s|µs)\b", "$1 <duration>"),
        (r#"\btime="[0-9.]+""#, r#"time="<seconds>""#),
        (r"<td>[0-9.]+ s</td>", "<td><seconds></td>"),
        (r#"revision="[0-9a-f]+""#, r#"revision="<commit>""#),
        (r"expires in \d+ days?|expired \d+ days? ago", "<expiry>"),
    ];
    let root = support::repo("");
    // The process' own families are read at each scrape: they say how this process is doing.
    let process = |l: &str| ["process_", "# HELP process_", "# TYPE process_"].iter().any(|p| l.starts_with(p));
    let text: String = text.split_inclusive('\n').filter(|l| !process(l)).collect();
    let mut out = text.replace(tmp, "<tmp>").replace(root.to_str().unwrap().trim_end_matches('/'), "<repo>");
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern).unwrap().replace_all(&out, with).into_owned();
    }
    out
}

struct Exporter(Child, String);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(config: &str) -> Exporter {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = support::bin()
        .args(["serve", "--listen", &addr, "--config", config])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let e = Exporter(child, addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&e.1, "/ready").is_none_or(|(s, _)| s != 200) {
        assert!(Instant::now() < deadline, "exporter not ready within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    e
}

fn capture(name: &str, config: &str, tmp: &str) {
    for (format, ext) in [("table", "txt"), ("json", "json"), ("markdown", "md"), ("junit", "xml")] {
        let out = stdout(&run(&["check", "--config", config, "--output", format]));
        assert_snapshot(&format!("golden/{name}.check.{ext}"), &normalise(&out, tmp));
    }
    let e = serve(config);
    for (path, file) in [("/metrics", "metrics.txt"), ("/api/v1/checks", "api.json"), ("/", "page.html")] {
        let (status, body) = get(&e.1, path).unwrap();
        assert_eq!(status, 200, "{path}");
        assert_snapshot(&format!("golden/{name}.serve.{file}"), &normalise(&body, tmp));
    }
}

#[test]
fn outputs_on_the_example_config_are_unchanged() {
    capture("examples", "examples/config.yaml", "\u{0}");
}

#[test]
fn outputs_with_every_source_configured_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let manifests = support::repo("examples/manifests");
    std::fs::write(&path, EVERY_SOURCE.replace("MANIFESTS", manifests.to_str().unwrap())).unwrap();
    capture("every-source", path.to_str().unwrap(), dir.path().to_str().unwrap());
}
