//! Figures for BENCHMARKS.md: one live evaluation against a real kube-apiserver holding
//! 10,000 pods and 2,000 Deployments in 100 namespaces (list + checks, in-process and as the
//! CLI with peak RSS), and the checks alone over the gathered snapshot. Runs its own API server
//! (state and ports apart from the tests'): `cargo bench --bench live_kubernetes`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use infrasage_readiness::engine::Engine;
use infrasage_readiness::plan::Plan;
use infrasage_readiness::snapshot::Snapshot;
use infrasage_readiness::{config, sources};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::PostParams;
use kube::{Api, Client};

const NAMESPACES: usize = 100;
const DEPLOYMENTS_PER_NS: usize = 20;
const PODS_PER_NS: usize = 100;
const COMPONENTS: [&str; 6] = ["ingestion-gateway", "aiops-engine", "ml-service", "admin-ui", "clickhouse", "kafka"];

fn cluster(action: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/k8s/cluster.sh");
    let out = Command::new(script)
        .arg(action)
        .env("INFRASAGE_K8S_STATE", std::env::temp_dir().join("infrasage-readiness-bench-k8s"))
        .env("INFRASAGE_K8S_API_PORT", "16543")
        .env("INFRASAGE_K8S_ETCD_PORT", "23890")
        .env("INFRASAGE_K8S_ETCD_PEER_PORT", "23900")
        .output()
        .expect("cluster.sh runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn pod_spec(component: &str) -> serde_json::Value {
    serde_json::json!({
        "containers": [{
            "name": "main", "image": format!("infrasage/{component}:1.0"),
            "resources": { "requests": { "cpu": "100m", "memory": "128Mi" }, "limits": { "cpu": "1", "memory": "512Mi" } },
            "env": [{ "name": "MTLS_ENABLED", "value": "true" }]
        }],
        "nodeSelector": { "dedicated": "infrasage" }
    })
}

/// Creates the objects (skipping those an earlier run left), 32 requests in flight.
async fn populate(client: Client) {
    let limiter = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..NAMESPACES {
        let ns = format!("bench-{n:03}");
        let _ = Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &json(serde_json::json!({ "metadata": { "name": ns } })))
            .await;
        for d in 0..DEPLOYMENTS_PER_NS {
            let component = COMPONENTS[d % COMPONENTS.len()];
            let object: Deployment = json(serde_json::json!({
                "metadata": { "name": format!("{component}-{d:02}"), "namespace": ns, "labels": { "app.kubernetes.io/name": component } },
                "spec": {
                    "replicas": 2,
                    "selector": { "matchLabels": { "app.kubernetes.io/name": component, "copy": format!("d{d}") } },
                    "template": {
                        "metadata": { "labels": { "app.kubernetes.io/name": component, "copy": format!("d{d}") } },
                        "spec": pod_spec(component)
                    }
                }
            }));
            let (api, permit) = (Api::<Deployment>::namespaced(client.clone(), &ns), Arc::clone(&limiter));
            tasks.spawn(async move {
                let _p = permit.acquire_owned().await.unwrap();
                let _ = api.create(&PostParams::default(), &object).await;
            });
        }
        for p in 0..PODS_PER_NS {
            let component = COMPONENTS[p % COMPONENTS.len()];
            let object: Pod = json(serde_json::json!({
                "metadata": { "name": format!("{component}-pod-{p:03}"), "namespace": ns, "labels": { "app.kubernetes.io/name": component, "copy": format!("d{}", p % DEPLOYMENTS_PER_NS) } },
                "spec": pod_spec(component)
            }));
            let (api, permit) = (Api::<Pod>::namespaced(client.clone(), &ns), Arc::clone(&limiter));
            tasks.spawn(async move {
                let _p = permit.acquire_owned().await.unwrap();
                let _ = api.create(&PostParams::default(), &object).await;
            });
        }
    }
    while tasks.join_next().await.is_some() {}
}

fn write_config(dir: &Path, kubeconfig: &Path, namespaces: usize) -> PathBuf {
    let list: Vec<String> = (0..namespaces).map(|n| format!("bench-{n:03}")).collect();
    let path = dir.join(format!("config-{namespaces}.yaml"));
    std::fs::write(
        &path,
        format!(
            "kubernetes: {{ kubeconfig: {}, namespaces: [{}], timeout: 60s }}\n",
            kubeconfig.display(),
            list.join(", ")
        ),
    )
    .unwrap();
    path
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(rt: &tokio::runtime::Runtime, config_path: &Path, label: &str) {
    let config = config::load(Some(config_path)).unwrap();
    let engine = Engine::from_config(&config).unwrap();
    let (mut whole, mut gather, mut checks) = (Vec::new(), Vec::new(), Vec::new());
    let mut objects = 0;
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        rt.block_on(engine.evaluate());
        whole.push(t.elapsed());

        let set = sources::build(&config, &Plan::new(&config, None).needs, &[]).unwrap();
        let t = Instant::now();
        let gathered = rt.block_on(set.active[0].gather()).expect("the API server answers");
        gather.push(t.elapsed());
        let mut snapshot = Snapshot::default();
        snapshot.insert(gathered.data);
        let k = snapshot.kube().unwrap();
        objects = k.pods.len() + k.deployments.len();
        let t = Instant::now();
        let results = engine.run_checks(&snapshot, chrono::Utc::now());
        checks.push(t.elapsed());
        assert_eq!(results.len(), infrasage_readiness::catalogue::ITEMS.len());
        last = Some(snapshot);
    }
    // Where the checks' time goes: the slowest items, each the median of 5 runs.
    let snapshot = last.unwrap();
    let mut per_item: Vec<(Duration, &str)> = infrasage_readiness::checks::REGISTRY
        .iter()
        .map(|r| {
            let item = infrasage_readiness::catalogue::find(r.id).unwrap();
            let params = infrasage_readiness::catalogue::Params::resolve(item, None);
            let ctx = infrasage_readiness::checks::CheckCtx {
                item,
                snapshot: &snapshot,
                params: &params,
                now: chrono::Utc::now(),
                attestation: None,
            };
            let runs = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let _ = (r.check)(&ctx);
                    t.elapsed()
                })
                .collect();
            (median(runs), r.id)
        })
        .collect();
    per_item.sort_by(|a, b| b.cmp(a));
    let top: Vec<String> = per_item.iter().take(5).map(|(d, id)| format!("{id} {d:.1?}")).collect();
    let time = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_infrasage-readiness"))
        .args(["check", "--output", "json", "--config"])
        .arg(config_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&time.stderr);
    let field = |name: &str| {
        stderr.lines().find(|l| l.contains(name)).and_then(|l| l.rsplit(' ').next()).unwrap_or("?").to_string()
    };
    println!(
        "{label:<34} {objects:>6} objects  evaluation median {:>9.2?}  (list {:>9.2?}, checks {:>8.2?})  CLI wall {} peak RSS {} KiB",
        median(whole),
        median(gather),
        median(checks),
        field("Elapsed (wall clock)"),
        field("Maximum resident set size"),
    );
    println!("{:<34} slowest items: {}", "", top.join(", "));
}

/// The exporter's RSS after five evaluations two seconds apart (steady: one snapshot kept,
/// the next being listed) and its peak, from /proc: what the Deployment's memory must hold.
fn serve_rss(config_path: &Path, label: &str) {
    let text = std::fs::read_to_string(config_path).unwrap();
    let fast = config_path.with_extension("serve.yaml");
    std::fs::write(&fast, format!("interval: 2s\n{text}")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_infrasage-readiness"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&fast)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(11));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field = |k: &str| {
        status.lines().find(|l| l.starts_with(k)).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?").to_string()
    };
    println!("{label:<34} exporter RSS {} KiB, peak {} KiB", field("VmRSS:"), field("VmHWM:"));
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let kubeconfig = cluster("start");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        Client::try_from(cfg).unwrap()
    });
    let t = Instant::now();
    rt.block_on(populate(client));
    println!(
        "created {NAMESPACES} namespaces, {} Deployments, {} Pods in {:.1?}",
        NAMESPACES * DEPLOYMENTS_PER_NS,
        NAMESPACES * PODS_PER_NS,
        t.elapsed()
    );
    let dir = tempfile::tempdir().unwrap();
    for n in [25, 50, 100] {
        let config = write_config(dir.path(), &kubeconfig, n);
        measure(&rt, &config, &format!("live, {n} namespaces"));
        serve_rss(&config, &format!("serve, {n} namespaces"));
    }
    cluster("reset");
}
