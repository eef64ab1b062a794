//! deploy/: the kustomize base renders, is hardened, carries the rules of alerts/ unchanged,
//! passes the exporter's own Kubernetes items, and the real test API server accepts it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;
use support::{repo, run, stderr, stdout};

const HEADER: &str = "\
# Generated from alerts/rules.yaml by tests/deploy.rs: do not edit. Regenerate with
#   UPDATE_SNAPSHOTS=1 cargo test --test deploy prometheus_rule
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: infrasage-readiness
  namespace: infrasage
  labels:
    app.kubernetes.io/name: infrasage-readiness
spec:
";

/// alerts/rules.yaml as the PrometheusRule's spec, comments and all.
fn prometheus_rule() -> String {
    let rules = std::fs::read_to_string(repo("alerts/rules.yaml")).unwrap();
    let mut out = HEADER.to_string();
    for line in rules.lines() {
        if !line.is_empty() {
            out += "  ";
            out += line;
        }
        out.push('\n');
    }
    out
}

#[test]
fn prometheus_rule_is_generated_from_alerts() {
    let path = repo("deploy/prometheusrule.yaml");
    let want = prometheus_rule();
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "deploy/prometheusrule.yaml drifted from alerts/rules.yaml; run UPDATE_SNAPSHOTS=1 cargo test --test deploy prometheus_rule"
    );
    // And it means the same: the spec is the rule file.
    let rule: Value = serde_yaml_ng::from_str(&have).unwrap();
    let rules: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(repo("alerts/rules.yaml")).unwrap()).unwrap();
    assert_eq!(rule["spec"], rules);
}

/// kubectl from the test API server's cached build (it has kustomize built in).
fn kubectl() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(repo("tests/support/k8s/cluster.sh")).arg("bin").output().unwrap();
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("kubectl");
        if out.status.success() && bin.exists() {
            return Some(bin);
        }
        assert!(
            std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(),
            "no kubectl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("no kubectl (tests/support/k8s/build.sh): test not run");
        None
    })
    .clone()
}

/// `kubectl kustomize deploy/` as documents.
fn render() -> Option<(String, Vec<Value>)> {
    let out = Command::new(kubectl()?).args(["kustomize"]).arg(repo("deploy")).output().unwrap();
    assert!(out.status.success(), "kubectl kustomize deploy/: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let docs =
        serde_yaml_ng::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap()).filter(|d| !d.is_null());
    Some((text.clone(), docs.collect()))
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in the render");
    found[0]
}

#[test]
fn the_base_renders_every_piece() {
    let Some((_, docs)) = render() else { return };
    let kinds: BTreeSet<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    let want = [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ];
    assert_eq!(kinds, want.into_iter().collect());
    for d in &docs {
        let cluster_scoped = d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding";
        assert_eq!(d["metadata"]["namespace"].is_null(), cluster_scoped, "{}: namespace", d["kind"]);
    }
    // The Service and ServiceMonitor select the pods; the ServiceMonitor scrapes the named port.
    let pod_labels = &one(&docs, "Deployment")["spec"]["template"]["metadata"]["labels"];
    for (k, v) in one(&docs, "Service")["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod_labels[k], v);
    }
    let svc = one(&docs, "Service");
    assert_eq!(svc["metadata"]["name"], "infrasage-readiness", "the Service's name is the alerts' scrape job");
    for (k, v) in one(&docs, "ServiceMonitor")["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&svc["metadata"]["labels"][k], v);
    }
    assert_eq!(one(&docs, "ServiceMonitor")["spec"]["endpoints"][0]["port"], svc["spec"]["ports"][0]["name"]);
    for (k, v) in one(&docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&pod_labels[k], v);
    }
}

#[test]
fn the_deployment_is_hardened() {
    let Some((_, docs)) = render() else { return };
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "infrasage-readiness");
    assert_eq!(pod["automountServiceAccountToken"], false, "no token by default");
    assert_eq!(one(&docs, "ServiceAccount")["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    for k in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(c["resources"][k][r].is_string(), "resources.{k}.{r}");
        }
    }
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    // The token: projected, short-lived, mounted read-only in this container only.
    let vol = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "kube-api-access").unwrap();
    let token = vol["projected"]["sources"].as_array().unwrap().iter().find_map(|s| s.get("serviceAccountToken"));
    assert!(token.is_some_and(|t| t["expirationSeconds"].as_i64().is_some_and(|s| s <= 3600)));
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "kube-api-access").unwrap();
    assert_eq!(mount["readOnly"], true);
    // The config the pod reads is the ConfigMap's, and it is a valid config.
    let cm = one(&docs, "ConfigMap");
    let cm_vol = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "config").unwrap();
    assert_eq!(cm_vol["configMap"]["name"], cm["metadata"]["name"], "the hashed ConfigMap name is referenced");
    let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[..3], ["serve", "--config", "/etc/infrasage-readiness/config.yaml"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
    let o = run(&["config-check", "--config", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("sources: kubernetes"), "{}", stdout(&o));
}

/// The image cannot be built here (no container engine); it must at least agree with the
/// Deployment: multi-stage, the same non-root user, the config path the pod mounts.
#[test]
fn the_dockerfile_agrees_with_the_deployment() {
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("FROM ")).count(), 2, "multi-stage");
    let user = text.lines().rev().find_map(|l| l.strip_prefix("USER ")).unwrap();
    assert_eq!(user, "65532:65532");
    let deploy: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(repo("deploy/deployment.yaml")).unwrap()).unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert!(text.contains("/etc/infrasage-readiness/config.yaml"));
    assert!(text.contains("-t infrasage/infrasage-readiness:"), "the image name deploy/ uses");
}

fn write_render(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("infrasage-readiness.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check_json(args: &[&str]) -> Value {
    let mut all = vec!["check", "--output", "json"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn statuses(report: &Value) -> Vec<(String, String, u64)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
                c["findings_total"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The exporter runs in the namespace it watches, so it is one more InfraSage workload: the
/// items that judge every workload there (resources, node isolation, credentials in config
/// or env) must pass on its render alone; added to the passing stack it must change no
/// verdict (its NetworkPolicy opens nothing, its PDB and Service touch no component). The
/// component items (gateway, ClickHouse, …) have nothing to say about it.
#[test]
fn the_exporters_own_manifests_pass_its_kubernetes_items() {
    let Some((text, _)) = render() else { return };
    let dir = tempfile::tempdir().unwrap();
    let render = write_render(dir.path(), &text);
    let render = render.to_str().unwrap();

    let workload_items = "pods_resources_set,node_isolation,secrets_not_in_configmaps,anthropic_key_from_secret";
    let alone = check_json(&["--manifests", render, "--only", workload_items]);
    for (id, status, findings) in statuses(&alone) {
        assert_eq!((status.as_str(), findings), ("pass", 0), "{id} on the exporter's own manifests");
    }

    let stack = check_json(&["--manifests", "tests/data/passing"]);
    let with = check_json(&["--manifests", "tests/data/passing", "--manifests", render]);
    assert_eq!(statuses(&with), statuses(&stack), "adding the exporter changed a verdict");
    assert_eq!(with["summary"]["gate"], "pass");
}

// --- the real API server (tests/support/k8s/cluster.sh, shared: never reset here)

const NS: &str = "bundle-deploy";

fn cluster() -> Option<PathBuf> {
    let out = Command::new(repo("tests/support/k8s/cluster.sh")).arg("start").output().unwrap();
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(), "test API server did not start: {why}");
        eprintln!("no test API server ({why}): test not run");
        return None;
    }
    Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
}

fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(kubectl().unwrap()).arg("--kubeconfig").arg(kubeconfig).args(args).output().unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_api_server_accepts_every_built_in_kind() {
    if kubectl().is_none() {
        return;
    }
    let Some(kubeconfig) = cluster() else { return };
    // An overlay moves everything into this test's namespace, with cluster-scoped names of
    // its own; the CRD kinds (ServiceMonitor, PrometheusRule) are not built in and stay out.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "resources: [{}]\nnamespace: {NS}\nnameSuffix: -{NS}\npatches:\n  - patch: '{{\"$patch\": \"delete\", \"apiVersion\": \"monitoring.coreos.com/v1\", \"kind\": \"ServiceMonitor\", \"metadata\": {{\"name\": \"x\"}}}}'\n    target: {{ kind: ServiceMonitor }}\n  - patch: '{{\"$patch\": \"delete\", \"apiVersion\": \"monitoring.coreos.com/v1\", \"kind\": \"PrometheusRule\", \"metadata\": {{\"name\": \"x\"}}}}'\n    target: {{ kind: PrometheusRule }}\n",
            relative_to(dir.path(), &repo("deploy"))
        ),
    )
    .unwrap();
    let text = kubectl_ok(&kubeconfig, &["kustomize", dir.path().to_str().unwrap()]);
    let docs: Vec<Value> =
        serde_yaml_ng::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap()).collect();
    let kinds: BTreeSet<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert!(!kinds.contains("ServiceMonitor") && !kinds.contains("PrometheusRule") && kinds.len() == 10, "{kinds:?}");
    let file = write_render(dir.path(), &text);
    let file = file.to_str().unwrap();

    // Namespaces never finish deleting here (no controller-manager): create once, reuse.
    let ns = format!("{{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{{\"name\":\"{NS}\"}}}}");
    let ns_file = dir.path().join("ns.json");
    std::fs::write(&ns_file, ns).unwrap();
    kubectl_ok(&kubeconfig, &["apply", "-f", ns_file.to_str().unwrap()]);

    let dry = kubectl_ok(&kubeconfig, &["apply", "--dry-run=server", "-f", file]);
    assert_eq!(dry.lines().filter(|l| l.contains("(server dry run)")).count(), docs.len(), "{dry}");
    kubectl_ok(&kubeconfig, &["apply", "-f", file]);

    // Read back: the server kept what matters (validated and defaulted, not dropped).
    for d in &docs {
        let kind = d["kind"].as_str().unwrap();
        let name = d["metadata"]["name"].as_str().unwrap();
        let mut args = vec!["get", kind, name, "-o", "json"];
        if !d["metadata"]["namespace"].is_null() {
            args.extend(["-n", NS]);
        }
        let got: Value = serde_json::from_str(&kubectl_ok(&kubeconfig, &args)).unwrap();
        assert_eq!(got["metadata"]["name"], name);
        for key in ["spec", "rules", "subjects", "roleRef", "data"] {
            if let Some(want) = d.get(key) {
                assert_subset(want, &got[key], &format!("{kind}/{name} {key}"));
            }
        }
    }
    // The rendered subjects point at the renamed ServiceAccount in this namespace.
    let binding: Value = serde_json::from_str(&kubectl_ok(
        &kubeconfig,
        &["get", "clusterrolebinding", &format!("infrasage-readiness-{NS}"), "-o", "json"],
    ))
    .unwrap();
    assert_eq!(binding["subjects"][0]["namespace"], NS);
    assert_eq!(binding["subjects"][0]["name"], format!("infrasage-readiness-{NS}"));
}

/// `to` as a path relative to `from` (kustomize refuses absolute resource paths).
fn relative_to(from: &Path, to: &Path) -> String {
    let up = "../".repeat(from.components().count() - 1);
    format!("{up}{}", to.strip_prefix("/").unwrap().display())
}

/// Every field of `want` is in `got` with the same value (the server adds defaults).
fn assert_subset(want: &Value, got: &Value, at: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                assert_subset(v, g.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{at}: length");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                assert_subset(a, b, &format!("{at}[{i}]"));
            }
        }
        // Quantities and ports come back as the server normalises them ("0444" is 292).
        _ => assert!(
            want == got || want.to_string().trim_matches('"') == got.to_string().trim_matches('"'),
            "{at}: want {want}, got {got}"
        ),
    }
}
