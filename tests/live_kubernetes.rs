//! The live loader against a real kube-apiserver + etcd (tests/support/k8s/cluster.sh):
//! verdicts equal to the offline loader's, least-privilege RBAC, partial permissions,
//! pagination, and an API server that goes away and comes back.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use infrasage_readiness::catalogue::SourceId;
use infrasage_readiness::config;
use infrasage_readiness::engine::Engine;
use infrasage_readiness::outcome::Status;
use infrasage_readiness::results::{CheckReport, Report};
use support::evaluate;

struct Cluster {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
}

/// Starts (or finds) the test API server through the same script the test command uses.
fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let script = support::repo("tests/support/k8s/cluster.sh");
            let out = Command::new(&script).arg("start").output().expect("cluster.sh runs");
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).to_string();
                assert!(std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(), "test API server did not start: {why}");
                eprintln!("no test API server ({why}): live tests not run");
                return None;
            }
            let kubeconfig = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
            let bin = Command::new(&script).arg("bin").output().unwrap();
            let kubectl = PathBuf::from(String::from_utf8(bin.stdout).unwrap().trim()).join("kubectl");
            Some(Cluster { kubeconfig, kubectl })
        })
        .as_ref()
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_with(&self.kubeconfig, args)
    }

    fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> String {
        // Parallel tests apply the same cluster-scoped StorageClasses: retry conflicts.
        for attempt in 0..5 {
            let out = Command::new(&self.kubectl).arg("--kubeconfig").arg(kubeconfig).args(args).output().unwrap();
            if out.status.success() {
                return String::from_utf8(out.stdout).unwrap();
            }
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            let race = err.contains("conflict") || err.contains("AlreadyExists");
            assert!(attempt < 4 && race, "kubectl {args:?}: {err}");
            std::thread::sleep(Duration::from_millis(200));
        }
        unreachable!()
    }

    /// A copy of a stack's manifests moved into namespace `ns`, applied, with the status a
    /// controller would have written patched in. Returns the copy for the offline loader.
    fn apply_stack(&self, stack: &str, ns: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(support::repo(stack)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("namespace: infrasage\n", &format!("namespace: {ns}\n"))
                .replace(
                    "kind: Namespace\nmetadata:\n  name: infrasage\n",
                    &format!("kind: Namespace\nmetadata:\n  name: {ns}\n"),
                );
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
        self.kubectl(&["apply", "-f", dir.path().to_str().unwrap()]);
        let hour_ago =
            (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.kubectl(&[
            "patch",
            "cronjob",
            "clickhouse-backup",
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            &format!(r#"{{"status":{{"lastSuccessfulTime":"{hour_ago}"}}}}"#),
        ]);
        let names = self.kubectl(&[
            "get",
            "deploy",
            "-n",
            ns,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{\"\\n\"}{end}",
        ]);
        for line in names.lines().filter(|l| !l.is_empty()) {
            let (name, n) = line.split_once('=').unwrap();
            self.kubectl(&[
                "patch", "deploy", name, "-n", ns, "--subresource=status", "--type=merge",
                "-p", &format!(r#"{{"status":{{"replicas":{n},"readyReplicas":{n},"availableReplicas":{n},"updatedReplicas":{n}}}}}"#),
            ]);
        }
        dir
    }
}

fn live(kubeconfig: &Path, ns: &str) -> Report {
    evaluate(&format!("kubernetes: {{ kubeconfig: {}, namespaces: [{ns}], timeout: 5s }}\n", kubeconfig.display()))
}

fn offline(dir: &Path, ns: &str) -> Report {
    evaluate(&format!("kubernetes: {{ manifests: [{}], namespaces: [{ns}] }}\n", dir.display()))
}

fn kubernetes_items(r: &Report) -> BTreeMap<String, &CheckReport> {
    r.checks
        .iter()
        .filter(|c| {
            infrasage_readiness::catalogue::find(&c.id).is_some_and(|i| i.sources.contains(&SourceId::Kubernetes))
        })
        .map(|c| (c.id.clone(), c))
        .collect()
}

/// Status and findings of every Kubernetes item agree (reasons may say more on a live cluster).
fn assert_same_verdicts(a: &Report, b: &Report, what: &str) {
    let (a, b) = (kubernetes_items(a), kubernetes_items(b));
    assert_eq!(a.len(), 21);
    let mut diffs = Vec::new();
    for (id, x) in &a {
        let y = b[id];
        if x.status != y.status || x.findings != y.findings {
            diffs.push(format!("{id}: {:?} {:?} vs {:?} {:?}", x.status, x.findings, y.status, y.findings));
        }
    }
    assert!(diffs.is_empty(), "{what}:\n{}", diffs.join("\n"));
}

#[test]
fn live_verdicts_equal_offline_on_the_passing_stack() {
    let Some(c) = cluster() else { return };
    let files = c.apply_stack("tests/data/passing", "live-pass");
    let l = live(&c.kubeconfig, "live-pass");
    assert_same_verdicts(&l, &offline(files.path(), "live-pass"), "passing stack, live vs offline");
    let k = kubernetes_items(&l);
    assert_eq!(k["aiops_replicas_ha"].status, Status::Pass);
    assert!(
        k["clickhouse_backup_scheduled"].reason.as_deref().unwrap().contains("last succeeded"),
        "live reads status"
    );
    assert_eq!(k["jwt_secret_strong"].status, Status::Pass, "the Secret was read by name");
}

#[test]
fn live_verdicts_equal_offline_on_the_example_stack() {
    let Some(c) = cluster() else { return };
    let files = c.apply_stack("examples/manifests", "live-examples");
    let l = live(&c.kubeconfig, "live-examples");
    assert_same_verdicts(&l, &offline(files.path(), "live-examples"), "example stack, live vs offline");
    assert_eq!(kubernetes_items(&l)["jwt_secret_strong"].status, Status::Fail);
}

/// A kubeconfig like the admin one with another bearer token.
#[test]
fn live_verdicts_equal_offline_on_the_chart_shaped_stack() {
    let Some(c) = cluster() else { return };
    let files = c.apply_stack("tests/data/chart-shaped", "live-chart");
    let l = live(&c.kubeconfig, "live-chart");
    assert_same_verdicts(&l, &offline(files.path(), "live-chart"), "chart-shaped stack, live vs offline");
    let k = kubernetes_items(&l);
    let data = k["clickhouse_persistent_volumes"];
    assert_eq!(data.status, Status::Pass, "{data:?}");
    assert!(data.reason.as_deref().unwrap().contains("/bitnami/clickhouse/data"), "{data:?}");
    // The server converted the v1 HPA; the helm test Pod is no workload; the PDB without a
    // budget protects nothing.
    assert_eq!(k["gateway_hpa"].status, Status::Pass);
    assert_eq!(k["pods_resources_set"].status, Status::Pass);
    let pdb = k["pdb_clickhouse_kafka"];
    assert_eq!(pdb.status, Status::Fail);
    assert_eq!(pdb.findings.len(), 1, "{pdb:?}");
    assert!(pdb.findings[0].message.starts_with("sets neither minAvailable nor maxUnavailable"), "{pdb:?}");
}

fn kubeconfig_with_token(admin: &Path, token: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(admin).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("user: { token:") {
                format!("  user: {{ token: \"{token}\" }}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("sa.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// Retries an evaluation until `ok` holds (RBAC changes reach the authorizer within moments).
fn eventually(mut f: impl FnMut() -> Report, ok: impl Fn(&Report) -> bool) -> Report {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = f();
        if ok(&r) || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn least_privilege_service_account_and_partial_permissions() {
    let Some(c) = cluster() else { return };
    let ns = "live-rbac";
    c.apply_stack("tests/data/passing", ns);
    let rbac = std::fs::read_to_string(support::repo("deploy/rbac.yaml"))
        .unwrap()
        .replace("namespace: infrasage\n", &format!("namespace: {ns}\n"))
        .replace("name: infrasage-readiness\n", "name: infrasage-readiness-test\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rbac.yaml"), &rbac).unwrap();
    c.kubectl(&["apply", "-f", dir.path().join("rbac.yaml").to_str().unwrap()]);
    let token = c.kubectl(&["create", "token", "infrasage-readiness-test", "-n", ns]);
    let sa = kubeconfig_with_token(&c.kubeconfig, token.trim(), dir.path());

    let admin = live(&c.kubeconfig, ns);
    let as_sa = eventually(|| live(&sa, ns), |r| kubernetes_items(r).values().all(|c| c.status != Status::Error));
    assert_same_verdicts(&as_sa, &admin, "deploy/rbac.yaml token vs admin");

    // Without the Secret grant only jwt_secret_strong changes: skipped, naming the permission.
    c.kubectl(&["delete", "rolebinding", "infrasage-readiness-jwt-secret", "-n", ns]);
    let no_secret =
        eventually(|| live(&sa, ns), |r| kubernetes_items(r)["jwt_secret_strong"].status == Status::Skipped);
    let jwt = kubernetes_items(&no_secret)["jwt_secret_strong"];
    assert_eq!(jwt.status, Status::Skipped);
    assert!(
        jwt.reason.as_deref().unwrap().contains(&format!("forbidden: get secrets/infrasage-jwt in namespace {ns}")),
        "{jwt:?}"
    );
    let (a, b) = (kubernetes_items(&admin), kubernetes_items(&no_secret));
    for (id, x) in a.iter().filter(|(id, _)| id.as_str() != "jwt_secret_strong") {
        assert_eq!((x.status, &x.findings), (b[id].status, &b[id].findings), "{id} must not change");
    }

    // Without NetworkPolicies and Ingresses: only the items reading them error, naming what is forbidden.
    let narrowed = rbac.replace(
        "  - apiGroups: [networking.k8s.io]\n    resources: [ingresses, networkpolicies]\n    verbs: [list]\n",
        "",
    );
    assert_ne!(narrowed, rbac);
    std::fs::write(dir.path().join("rbac.yaml"), &narrowed).unwrap();
    c.kubectl(&["apply", "-f", dir.path().join("rbac.yaml").to_str().unwrap()]);
    let partial = eventually(|| live(&sa, ns), |r| kubernetes_items(r)["egress_restricted"].status == Status::Error);
    let p = kubernetes_items(&partial);
    for (id, x) in &p {
        let reads = infrasage_readiness::checks::reads(id)
            .kinds
            .iter()
            .any(|k| ["ingresses", "networkpolicies"].contains(&k.resource()));
        if reads {
            assert_eq!(x.status, Status::Error, "{id}");
            assert!(x.reason.as_deref().unwrap().starts_with("forbidden: list "), "{id}: {:?}", x.reason);
        } else if id != "jwt_secret_strong" {
            assert_eq!((x.status, &x.findings), (a[id].status, &a[id].findings), "{id} must not change");
        }
    }
    let src = partial.sources.iter().find(|s| s.source == "kubernetes").unwrap();
    assert_eq!(src.state, "ok", "a forbidden kind does not fail the source");
}

#[test]
fn more_than_a_thousand_objects_are_read_through_pagination() {
    let Some(c) = cluster() else { return };
    let ns = "live-paging";
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
    list.push_str(&format!("- {{ apiVersion: v1, kind: Namespace, metadata: {{ name: {ns} }} }}\n"));
    for i in 0..1100 {
        list.push_str(&format!(
            "- {{ apiVersion: v1, kind: ConfigMap, metadata: {{ name: cm-{i:04}, namespace: {ns} }}, data: {{ DB_PASSWORD: not-in-a-secret }} }}\n"
        ));
    }
    std::fs::write(dir.path().join("many.yaml"), list).unwrap();
    c.kubectl(&["apply", "--server-side", "-f", dir.path().join("many.yaml").to_str().unwrap()]);
    let started = Instant::now();
    let r = evaluate(&format!(
        "kubernetes: {{ kubeconfig: {}, namespaces: [{ns}] }}\nchecks: {{}}\n",
        c.kubeconfig.display()
    ));
    eprintln!("live evaluation over 1,100 ConfigMaps: {:?}", started.elapsed());
    let item = r.checks.iter().find(|c| c.id == "secrets_not_in_configmaps").unwrap();
    assert_eq!(item.status, Status::Fail);
    assert_eq!(item.findings_total, 1100, "every page was read");
}

/// A TCP relay in front of the API server that can be cut and restored.
struct Relay {
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(port: u16, target: &str) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (s, c, target) = (Arc::clone(&stop), Arc::clone(&conns), target.to_string());
        let accept = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(&target) else { continue };
                        c.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                        for (mut from, mut to) in
                            [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                        {
                            std::thread::spawn(move || {
                                let mut buf = [0u8; 16384];
                                while let Ok(n) = from.read(&mut buf) {
                                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay { stop, conns, accept: Some(accept) }
    }

    fn cut(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.accept.take().unwrap().join().unwrap();
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn an_unreachable_api_server_errors_only_kubernetes_items_and_recovers() {
    let Some(c) = cluster() else { return };
    let ns = "live-outage";
    c.apply_stack("tests/data/passing", ns);
    let port = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let kc = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let api = kc.split("server: \"https://").nth(1).unwrap().split('"').next().unwrap().to_string();
    let relayed = dir.path().join("relayed.kubeconfig");
    std::fs::write(&relayed, kc.replace(&api, &format!("127.0.0.1:{port}"))).unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "kubernetes: {{ kubeconfig: {}, namespaces: [{ns}], timeout: 3s }}\nattestations: {{ rto_rpo_documented: {{ by: ops, at: 2026-01-01, expires_after: 36500d }} }}\nchecks: {{ data_residency: {{ params: {{ allowed_regions: [eu-west-1] }} }} }}\n",
            relayed.display()
        ),
    )
    .unwrap();
    let config = config::load_with_env(Some(&cfg), Vec::new()).unwrap();
    let engine = Engine::from_config(&config).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    let relay = Relay::start(port, &api);
    let before = rt.block_on(engine.evaluate());
    assert!(kubernetes_items(&before).values().all(|c| c.status != Status::Error));

    relay.cut();
    let started = Instant::now();
    let down = rt.block_on(engine.evaluate());
    assert!(started.elapsed() < Duration::from_secs(6), "bounded by the source timeout: {:?}", started.elapsed());
    for (id, item) in kubernetes_items(&down) {
        let reason = item.reason.as_deref().unwrap();
        if item.status == Status::Skipped {
            // Items that also need an unconfigured source say so first; never a pass.
            assert!(reason.ends_with("is not configured"), "{id}: {reason}");
        } else {
            assert_eq!(item.status, Status::Error, "{id}");
            assert!(reason.starts_with("kubernetes failed: "), "{id}: {reason}");
        }
    }
    let errors = kubernetes_items(&down).values().filter(|c| c.status == Status::Error).count();
    assert!(errors >= 18, "{errors} Kubernetes items error");
    let rto = down.checks.iter().find(|c| c.id == "rto_rpo_documented").unwrap();
    assert_eq!(rto.status, Status::Pass, "other sources still evaluate");
    let metrics = infrasage_readiness::metrics::render(&down);
    assert!(metrics.contains("infrasage_readiness_source_up{source=\"kubernetes\"} 0"), "{metrics}");

    let _relay = Relay::start(port, &api);
    let again = rt.block_on(engine.evaluate());
    assert_same_verdicts(&again, &before, "after the API server returns");
    assert!(
        infrasage_readiness::metrics::render(&again).contains("infrasage_readiness_source_up{source=\"kubernetes\"} 1")
    );
}

#[test]
fn data_residency_reads_the_region_of_bound_volumes() {
    let Some(c) = cluster() else { return };
    let ns = "live-region";
    c.apply_stack("tests/data/passing", ns);
    let pv = |ordinal: usize, region: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{ name: {ns}-{ordinal} }}\nspec:\n  capacity: {{ storage: 500Gi }}\n  accessModes: [ReadWriteOnce]\n  claimRef: {{ namespace: {ns}, name: data-clickhouse-{ordinal} }}\n  csi: {{ driver: ebs.csi.aws.com, volumeHandle: vol-{ordinal} }}\n  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n        - matchExpressions:\n            - {{ key: topology.kubernetes.io/region, operator: In, values: [{region}] }}\n---\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pv.yaml");
    let config = format!(
        "kubernetes: {{ kubeconfig: {}, namespaces: [{ns}] }}\nchecks: {{ data_residency: {{ params: {{ allowed_regions: [eu-west-1] }} }} }}\n",
        c.kubeconfig.display()
    );
    let residency = |r: &Report| r.checks.iter().find(|c| c.id == "data_residency").unwrap().clone();

    // PVs are cluster-scoped and their affinity immutable: clear what an earlier run left.
    for leftover in [format!("{ns}-0"), format!("{ns}-1")] {
        let patch = ["patch", "pv", &leftover, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#];
        let _ = Command::new(&c.kubectl).arg("--kubeconfig").arg(&c.kubeconfig).args(patch).output();
        c.kubectl(&["delete", "pv", &leftover, "--ignore-not-found", "--wait=false"]);
    }
    std::fs::write(&file, pv(0, "eu-west-1") + &pv(1, "us-east-1")).unwrap();
    c.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let item = residency(&evaluate(&config));
    assert_eq!(item.status, Status::Fail, "{item:?}");
    assert_eq!(item.findings.len(), 1);
    assert_eq!(item.findings[0].object, format!("PersistentVolume/{ns}-1"));
    assert!(item.findings[0].message.contains("us-east-1"), "{:?}", item.findings);

    // Volumes cannot move region: replace the PV as an operator would.
    // No controller-manager runs here to drop the pv-protection finalizer: drop it first.
    let old = format!("{ns}-1");
    c.kubectl(&["patch", "pv", &old, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    c.kubectl(&["delete", "pv", &old, "--wait=false"]);
    std::fs::write(&file, pv(1, "eu-west-1")).unwrap();
    c.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let item = residency(&evaluate(&config));
    assert_eq!(item.status, Status::Pass, "{item:?}");
}

/// The reason the Kubernetes source gives for a kubeconfig, after one evaluation.
fn kubernetes_failure(kubeconfig: &Path, extra: &str) -> String {
    let r =
        evaluate(&format!("kubernetes: {{ kubeconfig: {}, namespaces: [default]{extra} }}\n", kubeconfig.display()));
    let source = r.sources.iter().find(|s| s.source == "kubernetes").unwrap();
    assert_eq!(source.state, "failed", "{source:?}");
    let item = r.checks.iter().find(|c| c.id == "pods_resources_set").unwrap();
    assert_eq!(item.status, Status::Error);
    source.error.clone().unwrap()
}

/// `kubectl create token` output re-signed with the cluster's key so that it expired a minute ago.
fn expired_token(c: &Cluster, dir: &Path) -> String {
    // Both may exist from an earlier run against the same cluster.
    let _ = Command::new(&c.kubectl)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["create", "namespace", "live-expired"])
        .output();
    let _ = Command::new(&c.kubectl)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["-n", "live-expired", "create", "serviceaccount", "reader"])
        .output();
    let token = c.kubectl(&["-n", "live-expired", "create", "token", "reader", "--duration=10m"]);
    let state = std::env::var("INFRASAGE_K8S_STATE")
        .unwrap_or_else(|_| format!("{}/infrasage-readiness-k8s", std::env::var("TMPDIR").unwrap_or("/tmp".into())));
    let script = r#"
set -euo pipefail
b64url() { basenc --base64url -w0 | tr -d '='; }
header=$(printf %s "$TOKEN" | cut -d. -f1)
payload=$(printf %s "$TOKEN" | cut -d. -f2 | tr '_-' '/+')
while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
now=$(date +%s)
body=$(printf %s "$payload" | base64 -d | sed -E "s/\"exp\":[0-9]+/\"exp\":$((now-60))/; s/\"iat\":[0-9]+/\"iat\":$((now-700))/; s/\"nbf\":[0-9]+/\"nbf\":$((now-700))/" | b64url)
sig=$(printf %s "$header.$body" | openssl dgst -sha256 -sign "$KEY" | b64url)
printf %s "$header.$body.$sig"
"#;
    let out = Command::new("bash")
        .args(["-c", script])
        .env("TOKEN", token.trim())
        .env("KEY", format!("{state}/sa.key"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bad_kubeconfigs_name_the_cause() {
    let Some(c) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();

    let why = kubernetes_failure(&c.kubeconfig, ", context: no-such-context");
    assert!(why.contains("no-such-context"), "unknown context: {why}");

    let expired = kubeconfig_with_token(&c.kubeconfig, &expired_token(c, dir.path()), dir.path());
    let why = kubernetes_failure(&expired, "");
    assert!(why.starts_with("unauthorized: the API server rejected the credentials"), "expired token: {why}");

    // A CA that did not sign the server's certificate.
    let ca = dir.path().join("other-ca");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-the-cluster-ca"])
        .arg("-keyout")
        .arg(ca.with_extension("key"))
        .arg("-out")
        .arg(ca.with_extension("crt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b64 =
        String::from_utf8(Command::new("base64").arg("-w0").arg(ca.with_extension("crt")).output().unwrap().stdout)
            .unwrap();
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let start = text.find("certificate-authority-data: \"").unwrap() + "certificate-authority-data: \"".len();
    let end = start + text[start..].find('"').unwrap();
    let wrong_ca = dir.path().join("wrong-ca.kubeconfig");
    std::fs::write(&wrong_ca, format!("{}{b64}{}", &text[..start], &text[end..])).unwrap();
    let why = kubernetes_failure(&wrong_ca, "");
    assert!(why.contains("UnknownIssuer") || why.contains("certificate"), "wrong CA, the cause must show: {why}");
    assert!(!why.ends_with("client error (Connect)"), "{why}");
}
