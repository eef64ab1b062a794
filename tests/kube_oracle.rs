//! The real API server is the oracle for the manifest loader (tests/support/k8s/cluster.sh).
//!
//! Every manifest the tests use (examples/manifests, tests/data/**) and a generated corpus of
//! the shapes kubectl and the loader could read differently (YAML 1.1 octals and booleans,
//! merge keys, a BOM, duplicate keys and objects, old API versions, ...) goes through
//! `kubectl apply --dry-run=server -o json` with the API server's own kubectl, and through the
//! loader.
//!
//! The rule: each object the server returns must be one the loader read, and every field of
//! the loader's object must equal the server's. Both sides go through the same typed
//! k8s-openapi struct and back to JSON, so spelling differences vanish; fields only the
//! server has (uid, resourceVersion, managedFields, the last-applied annotation, defaults such
//! as `protocol: TCP`) are outside the rule, because the loader never defaults. A file the
//! server refuses any part of must give at least one loader warning; a file it accepts whole
//! must give none (other than the duplicate key and duplicate object warnings: kubectl takes
//! both silently, the later wins, and so does the loader, but it says so). A field the loader
//! holds at its zero value (`false`, `0`, `""`, empty) that the server omits is equal: Go's
//! `omitempty` drops it.
//! `autoscaling/v1` HPAs are created for real and read back as `autoscaling/v2`, since a
//! dry run answers in the version sent.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use infrasage_readiness::snapshot::kubernetes::KubeScope;
use infrasage_readiness::snapshot::{KubeSnapshot, SourceData};
use infrasage_readiness::sources::manifests::Loader;
use serde_json::Value;

const NS: &str = "loader-oracle";

struct Cluster {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
}

fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let script = support::repo("tests/support/k8s/cluster.sh");
            let out = Command::new(&script).arg("start").output().expect("cluster.sh runs");
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).to_string();
                assert!(std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(), "test API server did not start: {why}");
                eprintln!("no test API server ({why}): oracle tests not run");
                return None;
            }
            let kubeconfig = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
            let bin = Command::new(&script).arg("bin").output().unwrap();
            let kubectl = PathBuf::from(String::from_utf8(bin.stdout).unwrap().trim()).join("kubectl");
            let c = Cluster { kubeconfig, kubectl };
            let ns = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: {NS} }}\n");
            let (ok, _, err) = c.kubectl_stdin(&["apply", "-f", "-"], &ns);
            assert!(ok, "namespace {NS}: {err}");
            Some(c)
        })
        .as_ref()
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(&self.kubectl).arg("--kubeconfig").arg(&self.kubeconfig).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    fn kubectl_stdin(&self, args: &[&str], input: &str) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

/// The stacks' manifests, moved into the oracle's namespace as the live tests move them.
fn relocate(text: &str) -> String {
    text.replace("namespace: infrasage\n", &format!("namespace: {NS}\n")).replace(
        "kind: Namespace\nmetadata:\n  name: infrasage\n",
        &format!("kind: Namespace\nmetadata:\n  name: {NS}\n"),
    )
}

fn load(path: &Path) -> (KubeSnapshot, Vec<String>) {
    let mut l = Loader::new(KubeScope { namespaces: vec![NS.to_string()], ..KubeScope::default() });
    l.add_path(path).unwrap();
    let g = l.finish();
    let SourceData::Kubernetes(k) = g.data else { panic!("the manifest loader fills Kubernetes") };
    (std::sync::Arc::unwrap_or_clone(k), g.warnings)
}

/// Serialises a typed object the way both sides are compared.
macro_rules! typed_json {
    ($ty:ty, $v:expr) => {{
        let t: $ty = serde_json::from_value($v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(t).unwrap()
    }};
}

/// The server's object through the loader's typed struct; `None` for kinds the loader ignores.
fn server_typed(kind: &str, v: &Value) -> Result<Option<Value>, String> {
    use k8s_openapi::api::{apps::v1 as apps, autoscaling::v2 as hpa, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::api::{networking::v1 as net, policy::v1 as policy, storage::v1 as storage};
    Ok(Some(match kind {
        "Deployment" => typed_json!(apps::Deployment, v),
        "StatefulSet" => typed_json!(apps::StatefulSet, v),
        "DaemonSet" => typed_json!(apps::DaemonSet, v),
        "CronJob" => typed_json!(batch::CronJob, v),
        "Job" => typed_json!(batch::Job, v),
        "Pod" => typed_json!(core::Pod, v),
        "Service" => typed_json!(core::Service, v),
        "ConfigMap" => typed_json!(core::ConfigMap, v),
        "Namespace" => typed_json!(core::Namespace, v),
        "PersistentVolumeClaim" => typed_json!(core::PersistentVolumeClaim, v),
        "PersistentVolume" => typed_json!(core::PersistentVolume, v),
        "Secret" => typed_json!(core::Secret, v),
        "Ingress" => typed_json!(net::Ingress, v),
        "NetworkPolicy" => typed_json!(net::NetworkPolicy, v),
        "PodDisruptionBudget" => typed_json!(policy::PodDisruptionBudget, v),
        "HorizontalPodAutoscaler" => typed_json!(hpa::HorizontalPodAutoscaler, v),
        "StorageClass" => typed_json!(storage::StorageClass, v),
        _ => return Ok(None),
    }))
}

/// The loader's object of that kind, namespace and name, as JSON.
fn loader_object(k: &KubeSnapshot, kind: &str, ns: &str, name: &str) -> Option<Value> {
    fn find<
        T: serde::Serialize + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    >(
        list: &[T],
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        list.iter()
            .find(|o| {
                o.metadata().name.as_deref() == Some(name) && o.metadata().namespace.as_deref().unwrap_or("") == ns
            })
            .map(|o| serde_json::to_value(o).unwrap())
    }
    match kind {
        "Deployment" => find(&k.deployments, ns, name),
        "StatefulSet" => find(&k.stateful_sets, ns, name),
        "DaemonSet" => find(&k.daemon_sets, ns, name),
        "CronJob" => find(&k.cron_jobs, ns, name),
        "Job" => find(&k.jobs, ns, name),
        "Pod" => find(&k.pods, ns, name),
        "Service" => find(&k.services, ns, name),
        "ConfigMap" => find(&k.config_maps, ns, name),
        "Namespace" => find(&k.namespaces, ns, name),
        "PersistentVolumeClaim" => find(&k.persistent_volume_claims, ns, name),
        "PersistentVolume" => find(&k.persistent_volumes, ns, name),
        "Ingress" => find(&k.ingresses, ns, name),
        "NetworkPolicy" => find(&k.network_policies, ns, name),
        "PodDisruptionBudget" => find(&k.pod_disruption_budgets, ns, name),
        "HorizontalPodAutoscaler" => find(&k.horizontal_pod_autoscalers, ns, name),
        "StorageClass" => find(&k.storage_classes, ns, name),
        "Secret" => k.secrets.iter().find(|s| s.namespace == ns && s.name == name).map(|s| {
            use base64::Engine;
            let data: serde_json::Map<String, Value> = s
                .data
                .iter()
                .map(|(key, v)| (key.clone(), Value::String(base64::engine::general_purpose::STANDARD.encode(&v.0))))
                .collect();
            serde_json::json!({ "data": data })
        }),
        _ => None,
    }
}

/// `None` when every field of `ours` equals the server's; else the first path that differs.
fn subset(ours: &Value, server: &Value, path: &str) -> Option<String> {
    match (ours, server) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| {
            let p = format!("{path}.{k}");
            match b.get(k) {
                Some(w) => subset(v, w, &p),
                // Go's omitempty drops false, 0, "" and empty lists and maps.
                None if is_zero(v) => None,
                None => Some(format!("{p}: loader has {v}, the server has nothing")),
            }
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| subset(x, y, &format!("{path}[{i}]")))
        }
        _ if ours == server => None,
        _ => Some(format!("{path}: loader has {ours}, the server has {server}")),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

fn server_items(stdout: &str) -> Vec<Value> {
    let mut items = Vec::new();
    // `-o json` prints one object, or a List of several; a partly refused file prints the rest.
    let stream = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
    for v in stream.flatten() {
        if v.get("kind").and_then(Value::as_str) == Some("List") {
            items.extend(v["items"].as_array().cloned().unwrap_or_default());
        } else {
            items.push(v);
        }
    }
    items
}

/// One file through both: returns the problems found.
fn judge(c: &Cluster, path: &Path) -> Vec<String> {
    let shown = path.display().to_string();
    let (k, warnings) = load(path);
    let (ok, stdout, stderr) =
        c.kubectl(&["apply", "--dry-run=server", "-o", "json", "-n", NS, "-f", path.to_str().unwrap()]);
    let mut problems = Vec::new();
    let said = if ok { "accepted".to_string() } else { format!("refused ({})", stderr.lines().next().unwrap_or("")) };
    eprintln!(
        "{}: server {said}; loader: {} warnings {:?}",
        path.file_name().unwrap().to_string_lossy(),
        warnings.len(),
        warnings.first()
    );
    // Duplicates kubectl takes silently (the later wins) are the loader's warnings only.
    let unexpected: Vec<&String> =
        warnings.iter().filter(|w| !w.contains("is also defined in") && !w.contains("given twice")).collect();
    if !ok && warnings.is_empty() {
        problems.push(format!("{shown}: the server refused ({}) but the loader warned of nothing", stderr.trim()));
    }
    if ok && !unexpected.is_empty() {
        problems.push(format!("{shown}: the server accepted it all but the loader warned: {unexpected:?}"));
    }
    let mut items = server_items(&stdout);
    // A later duplicate replaces the earlier, as it does in the loader.
    let mut seen = std::collections::HashSet::new();
    items.reverse();
    items.retain(|v| {
        seen.insert((v["kind"].clone(), v["metadata"]["namespace"].clone(), v["metadata"]["name"].clone()))
    });
    for mut item in items {
        let kind = item["kind"].as_str().unwrap_or("").to_string();
        let ns = item["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
        if item["apiVersion"] == "autoscaling/v1" {
            item = hpa_as_v2(c, path, &name);
        }
        let server = match server_typed(&kind, &item) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                problems.push(format!("{shown}: {kind} {name}: the server's object does not fit k8s-openapi: {e}"));
                continue;
            }
        };
        match loader_object(&k, &kind, &ns, &name) {
            None => problems.push(format!("{shown}: {kind} {ns}/{name}: the server has it, the loader does not")),
            Some(ours) => {
                if let Some(d) = subset(&ours, &server, &format!("{kind} {name}")) {
                    problems.push(format!("{shown}: {d}"));
                }
            }
        }
    }
    problems
}

/// An autoscaling/v1 HPA as the server converts it: created for real, read as v2, deleted.
fn hpa_as_v2(c: &Cluster, path: &Path, name: &str) -> Value {
    let (ok, _, err) = c.kubectl(&["apply", "-n", NS, "-f", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, err) = c.kubectl(&["get", "horizontalpodautoscalers.v2.autoscaling", name, "-n", NS, "-o", "json"]);
    assert!(ok, "{err}");
    c.kubectl(&["delete", "-n", NS, "-f", path.to_str().unwrap(), "--wait=false"]);
    serde_json::from_str(&out).unwrap()
}

fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            manifest_files(&p, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ["yaml", "yml", "json"].iter().any(|e| x.eq_ignore_ascii_case(e)))
        {
            out.push(p);
        }
    }
}

#[test]
fn the_server_reads_every_test_manifest_as_the_loader_does() {
    let Some(c) = cluster() else { return };
    let mut files = Vec::new();
    manifest_files(&support::repo("examples/manifests"), &mut files);
    manifest_files(&support::repo("tests/data"), &mut files);
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    let mut judged = 0;
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.contains("apiVersion") {
            continue; // a config or values file beside the manifests, not a manifest
        }
        let copy = dir.path().join(format!("{i}-{}", f.file_name().unwrap().to_string_lossy()));
        std::fs::write(&copy, relocate(&text)).unwrap();
        problems.extend(judge(c, &copy).into_iter().map(|p| format!("{} (copy of {}): {p}", i, f.display())));
        judged += 1;
    }
    assert!(judged >= 14, "the stacks' manifests were found ({judged})");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Shapes where a YAML reader, the loader's conversions or its refusals could part from
/// kubectl and the API server. Each is one file; what the server does with it is the answer.
fn corpus() -> Vec<(&'static str, String)> {
    let pod = |spec: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{ name: p }}\nspec:\n  containers:\n  - name: c\n    image: busybox\n{spec}")
    };
    let cm = |data: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: cm }}\ndata:\n{data}");
    vec![
        ("octal-modes", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: { name: ch }\nspec:\n  serviceName: ch\n  selector: { matchLabels: { app: ch } }\n  template:\n    metadata: { labels: { app: ch } }\n    spec:\n      containers: [ { name: c, image: clickhouse } ]\n      volumes:\n      - name: s\n        configMap: { name: s, defaultMode: 0755, items: [ { key: a, path: a, mode: 0400 } ] }\n      - name: t\n        secret: { secretName: t, defaultMode: 0o644 }\n".to_string()),
        ("hex-and-underscores", pod("  terminationGracePeriodSeconds: 0x1E\n  activeDeadlineSeconds: 1_000\n")),
        ("float-integral", pod("  terminationGracePeriodSeconds: 3.0\n  activeDeadlineSeconds: 1e3\n")),
        ("float-fraction-refused", pod("  terminationGracePeriodSeconds: 2.5\n")),
        ("octal-invalid-is-float", pod("  terminationGracePeriodSeconds: 08\n")),
        ("bool-yes-in-bool-field", pod("  automountServiceAccountToken: yes\n  hostNetwork: off\n")),
        ("bool-yes-in-string-field", pod("    env: [ { name: A, value: yes } ]\n")),
        ("quoted-yes", pod("    env: [ { name: A, value: 'yes' }, { name: B, value: \"0755\" } ]\n")),
        ("int-in-string-field", pod("    env: [ { name: A, value: 0755 } ]\n")),
        ("tag-str", pod("    env: [ { name: A, value: !!str 0755 }, { name: B, value: !!str yes } ]\n")),
        ("tilde-null", pod("  nodeName: ~\n  hostname: null\n")),
        ("timestamps-and-sexagesimal", cm("  date: 2001-12-14\n  when: 2001-12-14T21:59:43.10-05:00\n  time: 12:30:00\n")),
        ("number-in-configmap-data", cm("  port: 8080\n")),
        ("block-scalars", cm("  a: |\n    line one\n    line two\n  b: >-\n    folded\n    text\n")),
        ("anchors-and-merge", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    <<: [ &one { a: '1', b: '1' }, { b: '2', c: '2' } ]\n    a: own\n  annotations: *one\ndata: { x: z }\n".to_string()),
        ("merge-key-before-explicit", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: &l { a: x }\n  annotations:\n    a: own\n    <<: *l\n".into()),
        ("bom", format!("\u{feff}{}", cm("  a: b\n"))),
        ("duplicate-key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: one\n  a: two\n".into()),
        ("duplicate-object", format!("{}---\n{}", cm("  a: first\n"), cm("  a: second\n"))),
        ("syntax-error-then-valid", format!("kind: [oops\n---\n{}", cm("  a: b\n"))),
        ("bad-separator", format!("{}--- kind: x\n{}", cm("  a: b\n"), cm("  c: d\n").replace("name: cm", "name: cm2"))),
        ("document-end-marker", format!("{}...\n", cm("  a: b\n"))),
        ("list-kind", "apiVersion: v1\nkind: List\nitems:\n- { apiVersion: v1, kind: ConfigMap, metadata: { name: l1 }, data: { a: b } }\n- { apiVersion: v1, kind: Service, metadata: { name: l2 }, spec: { ports: [ { port: 80 } ] } }\n".into()),
        ("json", "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"cm\"}, \"data\": {\"a\": \"b\"}}\n".into()),
        ("secret-data-and-string-data", "apiVersion: v1\nkind: Secret\nmetadata: { name: s }\ndata: { a: aHVudGVyMg==, b: b2xk }\nstringData: { b: new, c: yes-string }\n".into()),
        ("hpa-v1", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: { name: gw }\nspec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: gw }, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 }\n".into()),
        ("ingress-extensions-v1beta1", "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: { name: old }\nspec: { backend: { serviceName: s, servicePort: 80 } }\n".into()),
        ("ingress-networking-v1beta1", "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: { name: old }\nspec: { backend: { serviceName: s, servicePort: 80 } }\n".into()),
        ("deployment-apps-v1beta2", "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: { name: old }\nspec: { selector: { matchLabels: { a: b } }, template: { metadata: { labels: { a: b } }, spec: { containers: [ { name: c, image: x } ] } } }\n".into()),
        ("pdb-policy-v1beta1", "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: { name: old }\nspec: { minAvailable: 1, selector: { matchLabels: { a: b } } }\n".into()),
        ("no-name", "apiVersion: v1\nkind: ConfigMap\nmetadata: { labels: { a: b } }\n".into()),
        ("keys-that-resolve", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm, labels: { yes: a, 1: b } }\ndata: { on: x, ~: y, 0x10: z }\n".into()),
        ("keys-that-resolve-valid", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm, labels: { yes: a, 1: b, 0x10: c, 1.5: d } }\ndata: { on: x, off: z, 0755: w }\n".into()),
        ("cronjob-cron-tz-refused", "apiVersion: batch/v1\nkind: CronJob\nmetadata: { name: b }\nspec:\n  schedule: 'CRON_TZ=Europe/Paris 0 2 * * *'\n  jobTemplate: { spec: { template: { spec: { restartPolicy: OnFailure, containers: [ { name: c, image: x } ] } } } }\n".into()),
        ("pdb-without-budget", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: { name: chart }\nspec: { selector: { matchLabels: { app: kafka } } }\n".into()),
        ("pvc-beta-class-annotation", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: c, annotations: { volume.beta.kubernetes.io/storage-class: gp2 } }\nspec: { storageClassName: gp3, accessModes: [ ReadWriteOnce ], resources: { requests: { storage: 1Gi } } }\n".into()),
        ("services-that-expose", "apiVersion: v1\nkind: Service\nmetadata: { name: admin, annotations: { service.beta.kubernetes.io/aws-load-balancer-internal: 'true' } }\nspec: { type: NodePort, externalIPs: [ 203.0.113.7 ], ports: [ { port: 80 } ] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: lb }\nspec: { type: LoadBalancer, loadBalancerSourceRanges: [ 0.0.0.0/1, 128.0.0.0/1 ], ports: [ { port: 443 } ] }\n".into()),
        ("env-optional-and-expansion", pod("    envFrom: [ { configMapRef: { name: gone, optional: true }, prefix: X_ } ]\n    env: [ { name: A, value: 'tcp://$(HOST):$$(PORT)' }, { name: B, valueFrom: { secretKeyRef: { name: s, key: k, optional: true } } } ]\n")),
        ("intorstring-octal", "apiVersion: v1\nkind: Service\nmetadata: { name: s }\nspec: { ports: [ { port: 0x50, targetPort: 010 } ] }\n".into()),
    ]
}

#[test]
fn the_server_reads_the_generated_corpus_as_the_loader_does() {
    let Some(c) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (name, text) in corpus() {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        problems.extend(judge(c, &path));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
