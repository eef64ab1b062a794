//! The leak test of issue 12, which cannot be dodged: distinct values planted in every secret
//! input the exporter reads (manifests: Secret `data` and `stringData`, credential ConfigMap
//! values, literal env of every YAML type; config credentials from the environment and from
//! `*_file`s; URL userinfo and inline secrets, which are refused), every source pointed at
//! fakes that answer with what they were sent (tests/support/echo.rs), the real binary run as
//! `check` in every format and as `serve` at debug and trace with text and JSON logs, and every
//! byte it printed or served searched for any 6-character piece of a planted value and for
//! its base64 (at each alignment) and percent-encoded forms. Zero hits. Last, the same runs
//! against fakes that repeat every credential any of them was sent, and a Kafka broker that
//! lets the exporter in and names its topic and group after them (metric labels, findings).
//!
//! `cargo test --test leaks -- --nocapture` prints the counts; `LEAK_TEST_KEEP=1` keeps every
//! output as a file.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aho_corasick::AhoCorasick;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use support::echo::{self, EchoServer, FakeBroker, Mode, Seen};

/// Values planted in the manifests: (where, value). Numbers are written as YAML numbers.
const KUBE: &[(&str, &str)] = &[
    ("Secret infrasage-jwt data JWT_SECRET (base64)", "ErQHQw/yaxErP/DS=MoJaQ"),
    ("Secret infrasage-anthropic stringData api-key", "dK0m+GR0vRzZ1fb@/06QGo"),
    ("Secret db-creds data password (base64)", "Iu=NJkS4dJkG0f+MAQM/EM"),
    ("Secret db-creds stringData token", "w8x/SyRthqpvxxG+ZW@lby"),
    ("Secret broken-b64 data password (not base64)", "cynXMgWJoleSr=Br=w/OUd"),
    ("ConfigMap infrasage-config DB_PASSWORD", "DES92Ep%kD/J+lmXVo6Ma8"),
    ("ConfigMap infrasage-config api_token", "cpNhxIGjb7u4Y/1rO=oY@G"),
    ("ConfigMap jwt-source jwt-signing (read as JWT_SECRET)", "ipmBEdJK=U679%WcABL@5z"),
    ("ConfigMap infrasage-config binaryData keystore_password", "kbSTj5bZ%5%@AImY7yYgTw"),
    ("env DB_PASSWORD literal string", "NhnIMSR/Lpe=wuf+vjRfUt"),
    ("env ANTHROPIC_API_KEY literal", "nFNCFldQ/vD/4ug%oa9xxr"),
    ("env JWT_SECRET literal", "G5SvkGDyMG1TpD+Y2d+@oA"),
    ("Secret json-creds stringData token (JSON file)", "JKR=wWUbuX@5xOtki=oZIi"),
    ("env API_TOKEN literal integer", "444777111222"),
    ("env SECRET_RATIO literal float", "86753091.35792468"),
    ("Secret int-creds stringData pin (integer)", "918273645546"),
];

/// Config credentials: one set given through the environment, one through `*_file`s.
struct Creds {
    clickhouse: &'static str,
    kafka: &'static str,
    grafana: &'static str,
    api: &'static str,
}

const ENV_CREDS: Creds = Creds {
    clickhouse: "A7OMsy03Y5Muji%=c1Q=YY",
    kafka: "JtcaZ%mkmTZs7/lXt@3bM6",
    grafana: "91++BJz9M%We16iwdogBfZ",
    api: "v8dYWR7xjth7=M%=ramohE",
};

const FILE_CREDS: Creds = Creds {
    clickhouse: "AXyFy8+0Zlk/n=qhrH4d31",
    kafka: "gH=PiZ+GFO@DwO1y2A5HbT",
    grafana: "N79U9PV28%Lo+7ZEOnD@vB",
    api: "yW34ZFvm4N@INxeo=yr=Ki",
};

const CH_USER: &str = "ch-reader";
const KAFKA_USER: &str = "kafka-reader";

/// Secrets the config must refuse: (user, password) in URL userinfo, and a password written
/// in the file. Userinfo takes only a few URL-special characters raw.
const USERINFO_FILE: (&str, &str) = ("svc-user", "Ux7+Kq2=Wn5vRt8mLp3Zs");
const USERINFO_CH: (&str, &str) = ("ch-user", "Qe3=Vb8+Hs1wDk6Ny0Tj");
const USERINFO_ENV: (&str, &str) = ("graf-user", "Hb4=Tq9+Yc2wVn6Kd1Rf");
const INLINE_SECRET: &str = "fRtkYC@se1S@mmrO@OnLlE";
/// Credentials one level too high, where a section belongs: a type error.
const MISPLACED_ENV: &str = "DyxrT5WmpLH+U/+QQTN2Tv";
const MISPLACED_FILE: &str = "4QY@yR+s5EjS1HAKulqB%1";

const FORMATS: [&str; 4] = ["table", "json", "junit", "markdown"];
/// Items decided by Kafka alone: a broker that refuses the login must make them `error`.
const KAFKA_ITEMS: [&str; 4] =
    ["kafka_min_brokers", "kafka_min_replication_factor", "kafka_retention_24h", "kafka_consumer_lag"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Env,
    File,
}

impl Via {
    fn creds(self) -> &'static Creds {
        match self {
            Via::Env => &ENV_CREDS,
            Via::File => &FILE_CREDS,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Via::Env => "env",
            Via::File => "file",
        }
    }
    /// Each credential path runs at its own log level, so both levels and both paths meet
    /// every mode and every format.
    fn level(self) -> &'static str {
        match self {
            Via::Env => "debug",
            // Asking by name for the crates that log requests, as someone debugging would.
            Via::File => "trace,clickhouse=trace,hyper=trace,hyper_util=trace,reqwest=trace,rustls=trace,kube=trace",
        }
    }
}

/// The fakes and files of one credential path. The paths do not share fakes: a cross-talking
/// fake repeats only credentials the process it answers was given.
struct World {
    via: Via,
    dir: PathBuf,
    http: Vec<EchoServer>,
    seen: Seen,
}

impl World {
    fn new(via: Via, root: &Path, manifests: &Path) -> World {
        let dir = root.join(via.name());
        std::fs::create_dir_all(&dir).unwrap();
        let seen = Seen::default();
        let http: Vec<EchoServer> = Mode::ALL.iter().map(|m| echo::http(*m, seen.clone())).collect();
        let raw: FakeBroker = echo::kafka_echo();
        let sasl: FakeBroker = echo::kafka_sasl(seen.clone());
        let hostile: FakeBroker = echo::kafka_hostile(seen.clone());
        let c = via.creds();
        if via == Via::File {
            // With the trailing newline an editor leaves.
            for (name, v) in
                [("ch.pw", c.clickhouse), ("kafka.pw", c.kafka), ("grafana.tok", c.grafana), ("api.tok", c.api)]
            {
                std::fs::write(dir.join(name), format!("{v}\n")).unwrap();
            }
        }
        for (i, mode) in Mode::ALL.iter().enumerate() {
            let url = http[i].url();
            // The cross-talking world has a broker that lets the exporter in and names things
            // after what it was sent; the others refuse it, quoting what they were sent.
            let bootstrap = match mode {
                Mode::CrossTalk => hostile.addr.clone(),
                _ => format!("{},{}", raw.addr, sasl.addr),
            };
            let file = |key: &str, name: &str| match via {
                Via::File => format!(", {key}: {:?}", dir.join(name).display().to_string()),
                Via::Env => String::new(),
            };
            let sources = format!(
                r#"kafka:
  bootstrap_servers: "{bootstrap}"
  timeout: 2s
  sasl: {{ mechanism: PLAIN, username: {KAFKA_USER}{kpw} }}
clickhouse: {{ url: "{url}", user: {CH_USER}, timeout: 2s{chpw} }}
services:
  gateway: {{ url: "{url}", timeout: 2s }}
  aiops: {{ url: "{url}", timeout: 2s }}
  ml: {{ url: "{url}", timeout: 2s }}
prometheus: {{ url: "{url}", timeout: 2s }}
alertmanager: {{ url: "{url}", timeout: 2s }}
grafana: {{ url: "{url}", timeout: 2s{gtok} }}
infrasage_api: {{ url: "{url}", timeout: 2s{atok} }}
custom_checks:
  - id: echo_back
    category: auth
    title: Whatever the API answered, as findings
    request: {{ source: infrasage_api, path: /api/v1/echo }}
    expr: "type(body) == string ? [body] : [string(body.echo)]"
"#,
                kpw = file("password_file", "kafka.pw"),
                chpw = file("password_file", "ch.pw"),
                gtok = file("token_file", "grafana.tok"),
                atok = file("token_file", "api.tok"),
            );
            std::fs::write(dir.join(format!("check-{}.yaml", mode.name())), format!("interval: 1s\n{sources}"))
                .unwrap();
            let kube = format!("kubernetes:\n  manifests: [{:?}]\n", manifests.display().to_string());
            std::fs::write(dir.join(format!("serve-{}.yaml", mode.name())), format!("interval: 1s\n{kube}{sources}"))
                .unwrap();
        }
        World { via, dir, http, seen }
    }

    fn config(&self, kind: &str, mode: Mode) -> PathBuf {
        self.dir.join(format!("{kind}-{}.yaml", mode.name()))
    }

    fn env(&self) -> Vec<(String, String)> {
        let c = self.via.creds();
        match self.via {
            Via::File => Vec::new(),
            Via::Env => [
                ("CLICKHOUSE__PASSWORD", c.clickhouse),
                ("KAFKA__SASL__PASSWORD", c.kafka),
                ("GRAFANA__TOKEN", c.grafana),
                ("INFRASAGE_API__TOKEN", c.api),
            ]
            .iter()
            .map(|(k, v)| (format!("INFRASAGE_READINESS__{k}"), v.to_string()))
            .collect(),
        }
    }
}

/// The manifests: the passing stack with its Secrets and ConfigMap replaced by planted ones,
/// plus workloads with literal credentials of every YAML type and a JSON file.
fn write_manifests(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(support::repo("tests/data/passing")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "10-config.yaml" {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let v = |where_: &str| KUBE.iter().find(|(w, _)| w.starts_with(where_)).unwrap().1;
    let b64 = |s: &str| STANDARD.encode(s);
    let config = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{ name: infrasage-config, namespace: infrasage }}
data:
  MTLS_ENABLED: "true"
  LOG_FIELD_EXCLUSIONS: "user.email,client.ip,http.headers.authorization"
  SCALE_PROFILE: medium
  CLICKHOUSE_URL: http://clickhouse:8123
  DB_PASSWORD: "{cm_pw}"
  api_token: "{cm_tok}"
binaryData:
  keystore_password: {cm_bin}
---
apiVersion: v1
kind: ConfigMap
metadata: {{ name: jwt-source, namespace: infrasage }}
data:
  jwt-signing: "{cm_jwt}"
---
apiVersion: v1
kind: Secret
metadata: {{ name: infrasage-jwt, namespace: infrasage }}
type: Opaque
data:
  JWT_SECRET: {jwt}
---
apiVersion: v1
kind: Secret
metadata: {{ name: infrasage-anthropic, namespace: infrasage }}
type: Opaque
stringData:
  api-key: "{anthropic}"
---
apiVersion: v1
kind: Secret
metadata: {{ name: db-creds, namespace: infrasage }}
type: Opaque
data:
  password: {db_pw}
stringData:
  token: "{db_tok}"
---
apiVersion: v1
kind: Secret
metadata: {{ name: broken-b64, namespace: infrasage }}
type: Opaque
data:
  password: "{broken}"
---
apiVersion: v1
kind: Secret
metadata: {{ name: int-creds, namespace: infrasage }}
type: Opaque
stringData:
  pin: {int_pin}
"#,
        cm_pw = v("ConfigMap infrasage-config DB_PASSWORD"),
        cm_tok = v("ConfigMap infrasage-config api_token"),
        cm_bin = b64(v("ConfigMap infrasage-config binaryData")),
        cm_jwt = v("ConfigMap jwt-source"),
        jwt = b64(v("Secret infrasage-jwt")),
        anthropic = v("Secret infrasage-anthropic"),
        db_pw = b64(v("Secret db-creds data")),
        db_tok = v("Secret db-creds stringData"),
        broken = v("Secret broken-b64"),
        int_pin = v("Secret int-creds"),
    );
    std::fs::write(dir.join("10-config.yaml"), config).unwrap();

    // A workload per literal type: a refused literal refuses its whole document.
    let workload = |name: &str, app: &str, env: &str| {
        format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{ name: {name}, namespace: infrasage, labels: {{ app.kubernetes.io/name: {app} }} }}
spec:
  replicas: 2
  selector: {{ matchLabels: {{ app.kubernetes.io/name: {app} }} }}
  template:
    metadata: {{ labels: {{ app.kubernetes.io/name: {app} }} }}
    spec:
      containers:
        - name: main
          image: infrasage/{app}:2.4.1
          envFrom:
            - configMapRef: {{ name: infrasage-config }}
          env:
{env}
"#
        )
    };
    let docs = [
        workload(
            "leaky-strings",
            "admin-ui",
            &format!(
                r#"            - {{ name: DB_PASSWORD, value: "{pw}" }}
            - {{ name: ANTHROPIC_API_KEY, value: "{ak}" }}
            - {{ name: JWT_SECRET, value: "{jwt}" }}
            - {{ name: DSN, value: "postgres://app:$(DB_PASSWORD)@db:5432/app" }}
            - name: JWT_FROM_CM
              valueFrom: {{ configMapKeyRef: {{ name: jwt-source, key: jwt-signing }} }}"#,
                pw = v("env DB_PASSWORD"),
                ak = v("env ANTHROPIC_API_KEY"),
                jwt = v("env JWT_SECRET"),
            ),
        ),
        workload(
            "leaky-jwt-cm",
            "aiops-engine",
            "            - name: JWT_SECRET\n              valueFrom: { configMapKeyRef: { name: jwt-source, key: jwt-signing } }",
        ),
        workload("leaky-int", "ml-service", &format!("            - {{ name: API_TOKEN, value: {} }}", v("env API_TOKEN"))),
        workload(
            "leaky-float",
            "ml-service",
            &format!("            - {{ name: SECRET_RATIO, value: {} }}", v("env SECRET_RATIO")),
        ),
        workload("leaky-bool", "ml-service", "            - { name: AUTH_TOKEN_ENABLED, value: yes }"),
    ];
    std::fs::write(dir.join("70-leaky.yaml"), docs.join("---\n")).unwrap();
    let json = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [{
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "json-creds", "namespace": "infrasage" },
            "stringData": { "token": v("Secret json-creds") }
        }]
    });
    std::fs::write(dir.join("71-secret.json"), serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

/// One thing the binary printed or served.
struct Captured {
    label: String,
    text: String,
}

#[derive(Default)]
struct Outcome {
    /// Processes run.
    runs: usize,
    captured: Vec<Captured>,
    problems: Vec<String>,
}

/// Runs `cmd` to its end or `limit` (then kills it): (exit code, stdout, stderr).
fn run_bounded(
    mut cmd: Command,
    limit: Duration,
    out_dir: &Path,
    tag: &str,
) -> Result<(Option<i32>, String, String), String> {
    let (out, err) = (out_dir.join(format!("{tag}.out")), out_dir.join(format!("{tag}.err")));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .map_err(|e| format!("{tag}: does not start: {e}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).to_string();
    match status {
        Some(s) => Ok((s.code(), read(&out), read(&err))),
        None => Err(format!("{tag}: still running after {limit:?}; killed")),
    }
}

/// The binary with a clean environment of ours: no inherited overrides or log settings.
fn bin(level: &str, env: &[(String, String)]) -> Command {
    let mut cmd = support::bin();
    for (k, _) in std::env::vars() {
        if k.starts_with("INFRASAGE_READINESS") || k == "RUST_LOG" {
            cmd.env_remove(&k);
        }
    }
    cmd.env("RUST_LOG", level).envs(env.iter().cloned()).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn check(world: &World, mode: Mode, format: &str, manifests: &Path, out_dir: &Path) -> Outcome {
    let tag = format!("check-{}-{}-{format}", world.via.name(), mode.name());
    let mut cmd = bin(world.via.level(), &world.env());
    cmd.arg("check").arg("--config").arg(world.config("check", mode)).arg("--manifests").arg(manifests);
    cmd.args(["--output", format]);
    let mut o = Outcome { runs: 1, ..Default::default() };
    match run_bounded(cmd, Duration::from_secs(30), out_dir, &tag) {
        Err(e) => o.problems.push(e),
        Ok((code, stdout, stderr)) => {
            if !matches!(code, Some(0 | 1)) {
                o.problems.push(format!("{tag}: exit {code:?}: {}", stderr.lines().next().unwrap_or_default()));
            }
            if format == "json" && mode != Mode::CrossTalk {
                o.problems.extend(kafka_items_error(&tag, &stdout));
            }
            o.captured.push(Captured { label: format!("{tag} stdout"), text: stdout });
            o.captured.push(Captured { label: format!("{tag} stderr ({} log)", world.via.level()), text: stderr });
        }
    }
    o
}

/// The Kafka items read a fake broker: each must be `error`.
fn kafka_items_error(tag: &str, json: &str) -> Vec<String> {
    let Ok(report) = serde_json::from_str::<serde_json::Value>(json) else {
        return vec![format!("{tag}: stdout is not JSON")];
    };
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    KAFKA_ITEMS
        .iter()
        .filter_map(|id| {
            let status = checks.iter().find(|c| c["id"] == *id).map(|c| c["status"].clone());
            (status != Some(serde_json::json!("error"))).then(|| format!("{tag}: {id} is {status:?}, not error"))
        })
        .collect()
}

fn serve(world: &World, mode: Mode, log_format: &str, out_dir: &Path) -> Outcome {
    let tag = format!("serve-{}-{}-{log_format}", world.via.name(), mode.name());
    let addr = format!("127.0.0.1:{}", support::free_port());
    let mut cmd = bin(world.via.level(), &world.env());
    cmd.arg("serve").arg("--config").arg(world.config("serve", mode));
    cmd.args(["--listen", &addr, "--log-format", log_format]);
    let (out, err) = (out_dir.join(format!("{tag}.out")), out_dir.join(format!("{tag}.err")));
    let mut o = Outcome { runs: 1, ..Default::default() };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = false;
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if support::get(&addr, "/ready").is_some_and(|(s, _)| s == 200) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if ready {
        for path in ["/metrics", "/api/v1/checks", "/"] {
            match support::get(&addr, path) {
                Some((200, body)) => {
                    let name = if path == "/" { "page" } else { path.trim_start_matches('/') };
                    std::fs::write(out_dir.join(format!("{tag}.{}", name.replace('/', "_"))), &body).unwrap();
                    o.captured.push(Captured { label: format!("{tag} GET {path}"), text: body });
                }
                other => o.problems.push(format!("{tag}: GET {path}: {:?}", other.map(|(s, _)| s))),
            }
        }
    } else {
        o.problems.push(format!("{tag}: not ready within 20 s"));
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            o.problems.push(format!("{tag}: did not stop within 10 s of SIGTERM"));
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).to_string();
    o.captured.push(Captured { label: format!("{tag} stdout"), text: read(&out) });
    o.captured
        .push(Captured { label: format!("{tag} stderr ({} {log_format} log)", world.via.level()), text: read(&err) });
    o
}

fn config_check(world: &World, out_dir: &Path) -> Outcome {
    let tag = format!("config-check-{}", world.via.name());
    let mut cmd = bin(world.via.level(), &world.env());
    cmd.arg("config-check").arg("--config").arg(world.config("serve", Mode::Plain));
    let mut o = Outcome { runs: 1, ..Default::default() };
    match run_bounded(cmd, Duration::from_secs(30), out_dir, &tag) {
        Err(e) => o.problems.push(e),
        Ok((code, stdout, stderr)) => {
            if code != Some(0) {
                o.problems.push(format!("{tag}: exit {code:?}: {}", stderr.lines().next().unwrap_or_default()));
            }
            o.captured.push(Captured { label: format!("{tag} stdout"), text: stdout });
            o.captured.push(Captured { label: format!("{tag} stderr"), text: stderr });
        }
    }
    o
}

/// A config the loader must refuse, naming `key`, whatever command reads it.
struct Refusal {
    name: &'static str,
    yaml: String,
    env: Vec<(String, String)>,
    key: &'static str,
}

fn refusals() -> Vec<Refusal> {
    let e = |k: &str, v: String| vec![(format!("INFRASAGE_READINESS__{k}"), v)];
    vec![
        Refusal {
            name: "userinfo-file-services",
            yaml: format!(
                "services:\n  gateway: {{ url: \"http://{}:{}@127.0.0.1:9/\" }}\n",
                USERINFO_FILE.0, USERINFO_FILE.1
            ),
            env: Vec::new(),
            key: "services.gateway.url",
        },
        Refusal {
            name: "userinfo-file-clickhouse",
            yaml: format!("clickhouse: {{ url: \"http://{}:{}@127.0.0.1:9\" }}\n", USERINFO_CH.0, USERINFO_CH.1),
            env: Vec::new(),
            key: "clickhouse.url",
        },
        Refusal {
            name: "userinfo-env-grafana",
            yaml: "grafana: { url: \"http://127.0.0.1:9\" }\n".to_string(),
            env: e("GRAFANA__URL", format!("http://{}:{}@127.0.0.1:9/", USERINFO_ENV.0, USERINFO_ENV.1)),
            key: "grafana.url",
        },
        Refusal {
            name: "inline-secret",
            yaml: format!("clickhouse: {{ url: \"http://127.0.0.1:9\", password: \"{INLINE_SECRET}\" }}\n"),
            env: Vec::new(),
            key: "clickhouse.password",
        },
    ]
}

fn refused(r: &Refusal, root: &Path, out_dir: &Path) -> Outcome {
    let path = root.join(format!("{}.yaml", r.name));
    std::fs::write(&path, &r.yaml).unwrap();
    let mut o = Outcome::default();
    let runs: [(&str, Vec<&str>); 3] = [
        ("config-check", vec![]),
        ("check", vec!["--output", "json"]),
        ("serve", vec!["--listen", "127.0.0.1:0", "--log-format", "json"]),
    ];
    for (command, extra) in runs {
        let tag = format!("refusal-{}-{command}", r.name);
        o.runs += 1;
        let mut cmd = bin("trace", &r.env);
        cmd.arg(command).arg("--config").arg(&path).args(extra);
        match run_bounded(cmd, Duration::from_secs(30), out_dir, &tag) {
            Err(e) => o.problems.push(e),
            Ok((code, stdout, stderr)) => {
                if code != Some(2) || !stderr.contains(r.key) {
                    o.problems.push(format!("{tag}: not refused naming {} (exit {code:?})", r.key));
                }
                o.captured.push(Captured { label: format!("{tag} stdout"), text: stdout });
                o.captured.push(Captured { label: format!("{tag} stderr"), text: stderr });
            }
        }
    }
    o
}

/// What is searched for: a piece of text, and what it is a piece of.
struct Needle {
    secret: String,
    form: String,
}

/// Every planted secret: (where, value).
fn planted() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = KUBE.iter().map(|(w, v)| (w.to_string(), v.to_string())).collect();
    for (via, c) in [("env", &ENV_CREDS), ("file", &FILE_CREDS)] {
        all.push((format!("clickhouse password ({via})"), c.clickhouse.into()));
        all.push((format!("kafka SASL password ({via})"), c.kafka.into()));
        all.push((format!("grafana token ({via})"), c.grafana.into()));
        all.push((format!("infrasage_api token ({via})"), c.api.into()));
    }
    all.push(("services.gateway.url userinfo password".into(), USERINFO_FILE.1.into()));
    all.push(("clickhouse.url userinfo password".into(), USERINFO_CH.1.into()));
    all.push(("INFRASAGE_READINESS__GRAFANA__URL userinfo password".into(), USERINFO_ENV.1.into()));
    all.push(("clickhouse.password in the file".into(), INLINE_SECRET.into()));
    all.push(("INFRASAGE_READINESS__GRAFANA (misplaced token)".into(), MISPLACED_ENV.into()));
    all.push(("infrasage_api: in the file (misplaced token)".into(), MISPLACED_FILE.into()));
    all
}

fn is_numeric(v: &str) -> bool {
    v.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The forms of `v` that encoders produce: base64 at each of the three alignments it can
/// have inside a longer encoded string (only the characters that depend on `v` alone, as in
/// src/redact.rs), standard and URL-safe, and percent-encoding with either case of hex.
fn encoded(v: &[u8]) -> Vec<(String, String)> {
    let mut out = vec![("base64".to_string(), STANDARD.encode(v))];
    for (name, engine) in [("base64", &STANDARD_NO_PAD), ("base64url", &URL_SAFE_NO_PAD)] {
        for lead in 0..3usize {
            let mut buf = vec![0u8; lead];
            buf.extend_from_slice(v);
            let enc = engine.encode(&buf);
            let skip = [0, 2, 3][lead];
            let cut = usize::from(buf.len() % 3 != 0);
            out.push((format!("{name}@{lead}"), enc[skip..enc.len() - cut].to_string()));
        }
    }
    let pct: String = v
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if pct.as_bytes() != v {
        out.push(("percent-encoded".to_string(), pct.clone()));
        out.push(("percent-encoded (lower hex)".to_string(), pct_lower(&pct)));
    }
    out
}

fn pct_lower(p: &str) -> String {
    let mut out = String::new();
    let mut hex = 0;
    for c in p.chars() {
        if c == '%' {
            hex = 2;
            out.push(c);
        } else if hex > 0 {
            hex -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn windows(s: &str, n: usize) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= n {
        return vec![s.to_string()];
    }
    c.windows(n).map(|w| w.iter().collect()).collect()
}

/// Every needle: any 6 characters of a value (8 of a number: any six digits occur by chance
/// in timings and timestamps; shorter digit runs are [`numeric_hits`]' business), any 8 of an
/// encoded form, and whole HTTP Basic and SASL PLAIN credentials.
fn needles() -> (Vec<String>, Vec<Needle>) {
    let mut pats = Vec::new();
    let mut meta = Vec::new();
    let mut add = |pat: String, secret: &str, form: &str| {
        pats.push(pat);
        meta.push(Needle { secret: secret.to_string(), form: form.to_string() });
    };
    for (secret, v) in planted() {
        if is_numeric(&v) {
            for w in windows(&v, 8) {
                add(w, &secret, "8 digits");
            }
            continue;
        }
        for w in windows(&v, 6) {
            add(w, &secret, "6 characters");
        }
        for (form, text) in encoded(v.as_bytes()) {
            for w in windows(&text, 8) {
                add(w, &secret, &format!("8 characters of its {form}"));
            }
        }
    }
    let mut basics = vec![USERINFO_FILE, USERINFO_CH, USERINFO_ENV];
    for c in [&ENV_CREDS, &FILE_CREDS] {
        basics.push((CH_USER, c.clickhouse));
    }
    for (user, pw) in basics {
        add(STANDARD.encode(format!("{user}:{pw}")), pw, "HTTP Basic base64(user:password)");
    }
    for c in [&ENV_CREDS, &FILE_CREDS] {
        add(STANDARD.encode(format!("\0{KAFKA_USER}\0{}", c.kafka)), c.kafka, "SASL PLAIN base64");
    }
    (pats, meta)
}

/// A number's prefix shorter than 8 digits: a run of 6 or 7 digits, standing alone (not the
/// fraction of a timing), that is part of a planted number.
fn numeric_hits(text: &str) -> Vec<(usize, usize, String)> {
    let numbers: Vec<(String, String)> = planted().into_iter().filter(|(_, v)| is_numeric(v)).collect();
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &text[start..i];
        let after_dot = start > 0 && b[start - 1] == b'.';
        if (6..8).contains(&run.len()) && !after_dot {
            if let Some((secret, _)) = numbers.iter().find(|(_, v)| v.contains(run)) {
                out.push((start, i, secret.clone()));
            }
        }
    }
    out
}

/// A leak: where, what, and a little context.
struct Hit {
    output: String,
    secrets: Vec<String>,
    context: String,
}

/// Overlapping matches in one output are one hit.
fn search(captured: &[Captured]) -> Vec<Hit> {
    let (pats, meta) = needles();
    let ac = AhoCorasick::new(&pats).unwrap();
    let mut hits = Vec::new();
    for c in captured {
        let mut spans: Vec<(usize, usize, String)> = ac
            .find_overlapping_iter(&c.text)
            .map(|m| {
                let n = &meta[m.pattern().as_usize()];
                (m.start(), m.end(), format!("{} [{}]", n.secret, n.form))
            })
            .collect();
        spans.extend(numeric_hits(&c.text).into_iter().map(|(s, e, secret)| (s, e, format!("{secret} [digit run]"))));
        spans.sort_by_key(|s| s.0);
        let mut merged: Vec<(usize, usize, Vec<String>)> = Vec::new();
        for (s, e, what) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => {
                    last.1 = last.1.max(e);
                    if !last.2.contains(&what) {
                        last.2.push(what);
                    }
                }
                _ => merged.push((s, e, vec![what])),
            }
        }
        for (s, e, secrets) in merged {
            let mut from = s.saturating_sub(40);
            while !c.text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (e + 40).min(c.text.len());
            while !c.text.is_char_boundary(to) {
                to += 1;
            }
            hits.push(Hit { output: c.label.clone(), secrets, context: c.text[from..to].escape_debug().to_string() });
        }
    }
    hits
}

/// Runs `jobs` on a few threads (each job waits on a child process most of the time).
fn run_all(jobs: Vec<Box<dyn Fn() -> Outcome + Send + Sync + '_>>) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let o = job();
                results.lock().unwrap().push(o);
            });
        }
    });
    results.into_inner().unwrap()
}

#[test]
fn no_planted_secret_reaches_any_output() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let manifests = root.join("manifests");
    let out_dir = root.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    write_manifests(&manifests);
    let worlds = [World::new(Via::Env, root, &manifests), World::new(Via::File, root, &manifests)];

    let mut outcomes = Vec::new();
    // The cross-talking fakes repeat what the others were sent: they go last, and the
    // config checks and refusals go with the first phase.
    for phase in [&Mode::ALL[..Mode::ALL.len() - 1], &Mode::ALL[Mode::ALL.len() - 1..]] {
        let mut jobs: Vec<Box<dyn Fn() -> Outcome + Send + Sync + '_>> = Vec::new();
        for w in &worlds {
            for &mode in phase {
                for format in FORMATS {
                    let (m, o) = (&manifests, &out_dir);
                    jobs.push(Box::new(move || check(w, mode, format, m, o)));
                }
                let log_format = if w.via == Via::Env { "text" } else { "json" };
                let o = &out_dir;
                jobs.push(Box::new(move || serve(w, mode, log_format, o)));
            }
        }
        if phase.len() > 1 {
            for w in &worlds {
                let o = &out_dir;
                jobs.push(Box::new(move || config_check(w, o)));
            }
            for r in refusals() {
                let o = &out_dir;
                jobs.push(Box::new(move || refused(&r, root, o)));
            }
        }
        outcomes.extend(run_all(jobs));
        // What the cross-talking fakes repeat: every credential, as the exporter sent it.
        for w in &worlds {
            let seen = w.seen.joined();
            let c = w.via.creds();
            for v in [c.clickhouse, c.kafka, c.grafana, c.api] {
                assert!(seen.contains(v), "a {} credential never reached the fakes", w.via.name());
            }
        }
    }

    let runs: usize = outcomes.iter().map(|o| o.runs).sum();
    let problems: Vec<String> = outcomes.iter().flat_map(|o| o.problems.clone()).collect();
    let captured: Vec<Captured> = outcomes.into_iter().flat_map(|o| o.captured).collect();
    let bytes: usize = captured.iter().map(|c| c.text.len()).sum();
    let hits = search(&captured);
    let mut by_output: BTreeMap<String, usize> = BTreeMap::new();
    for h in &hits {
        *by_output.entry(h.output.clone()).or_default() += 1;
    }
    for w in &worlds {
        for s in &w.http {
            assert!(s.requests() > 0, "the {} fake ({}) was never asked", s.mode.name(), w.via.name());
        }
    }
    eprintln!(
        "leak test: {} planted values, {runs} runs, {} outputs ({} KiB) searched, {} hit(s), {} problem(s), {:.1} s",
        planted().len(),
        captured.len(),
        bytes / 1024,
        hits.len(),
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    for h in hits.iter().take(40) {
        eprintln!("HIT {}: {}\n    …{}…", h.output, h.secrets.join("; "), h.context);
    }
    for (output, n) in &by_output {
        eprintln!("  {n:4} hit(s) in {output}");
    }
    if std::env::var_os("LEAK_TEST_KEEP").is_some() {
        // For a look at what was printed: every output is a file under out/.
        eprintln!("leak test: outputs kept in {}", out_dir.display());
        std::mem::forget(tmp);
    }
    assert!(problems.is_empty(), "runs that did not go as planned:\n{}", problems.join("\n"));
    assert!(hits.is_empty(), "{} hit(s) of planted secrets; see above", hits.len());
}

/// A credential one level too high (`INFRASAGE_READINESS__GRAFANA=<token>` for `…__GRAFANA__TOKEN`,
/// `infrasage_api: <token>` in the file) is a wrong type, and the refusal must not quote it.
#[test]
fn misplaced_credentials_are_not_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("misplaced.yaml");
    std::fs::write(&path, format!("interval: 1s\ninfrasage_api: \"{MISPLACED_FILE}\"\n")).unwrap();
    let mut captured = Vec::new();
    for command in ["config-check", "check"] {
        let env = vec![("INFRASAGE_READINESS__GRAFANA".to_string(), MISPLACED_ENV.to_string())];
        let mut cmd = bin("debug", &env);
        cmd.arg(command).arg("--config").arg(&path);
        let (code, stdout, stderr) = run_bounded(cmd, Duration::from_secs(30), tmp.path(), command).unwrap();
        assert_eq!(code, Some(2), "{command}: refused");
        captured.push(Captured { label: format!("{command} stdout"), text: stdout });
        captured.push(Captured { label: format!("{command} stderr"), text: stderr });
    }
    let hits = search(&captured);
    for h in &hits {
        eprintln!("HIT {}: {}\n    …{}…", h.output, h.secrets.join("; "), h.context);
    }
    assert!(hits.is_empty(), "{} hit(s) of misplaced credentials; see above", hits.len());
}
