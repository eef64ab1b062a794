//! Checks of the network category.

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::networking::v1::{
    Ingress, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::cidr::covers_every_public_address;
use super::common::{scope_ref, selector_text, service_workloads};
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kube_query::{name_of, namespace_of, object_ref, selector_is_empty};
use crate::snapshot::{Component, EnvValue, KubeSnapshot};

pub fn mtls_enabled(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let env_name = ctx.params.str("env_name")?;
    let (workloads, mut findings) = service_workloads(k);

    for w in &workloads {
        // Init containers do not serve traffic; one main container with mTLS on is the service.
        let mains: Vec<&Container> = w.containers().filter(|(_, init)| !init).map(|(c, _)| c).collect();
        let mut on = false;
        // The first container with the most telling reason speaks for the workload.
        let mut worst: Option<(u8, &Container, String)> = None;
        for c in &mains {
            match mtls_state(k, w.namespace(), c, env_name) {
                Ok(()) => on = true,
                Err((rank, why)) => {
                    if worst.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                        worst = Some((rank, c, why));
                    }
                }
            }
        }
        if on {
            continue;
        }
        findings.push(match worst {
            None => Finding::new(w.object(), "has no containers"),
            // Several containers none of which sets it: the workload, not one container, is at fault.
            Some((0, _, _)) if mains.len() > 1 => Finding::new(w.object(), format!("no container sets {env_name}")),
            Some((_, c, why)) => Finding::new(w.container_ref(c, false), why),
        });
    }

    Ok(Outcome::from_findings(
        findings,
        format!("{env_name} resolves to true in all {} InfraSage service workload(s)", workloads.len()),
    ))
}

/// Whether a container's env turns mTLS on; otherwise why not, ranked by how much the reason
/// tells (a wrong value beats "not set") so the finding shows the most useful one.
fn mtls_state(k: &KubeSnapshot, ns: &str, c: &Container, env_name: &str) -> Result<(), (u8, String)> {
    let env = k.resolve_env(ns, c);
    let is_true = |v: &str| v.trim().eq_ignore_ascii_case("true");
    match env.get(env_name) {
        Some(EnvValue::Literal(v)) if is_true(v) => Ok(()),
        Some(EnvValue::Literal(v)) => Err((4, format!("{env_name} is set to {}, not true", quote(v)))),
        Some(EnvValue::ConfigMap { value: Some(v), .. }) if is_true(v) => Ok(()),
        Some(EnvValue::ConfigMap { name, key, value: Some(v) }) => {
            Err((4, format!("{env_name} is set to {} by ConfigMap {name} key {key}, not true", quote(v))))
        }
        Some(EnvValue::ConfigMap { name, key, value: None }) => {
            if config_map_exists(k, ns, name) {
                Err((3, format!("{env_name} comes from ConfigMap {name}, which has no key {key}")))
            } else {
                Err((
                    2,
                    format!("{env_name} comes from ConfigMap {name}, which is not in the snapshot (value unknown)"),
                ))
            }
        }
        Some(EnvValue::Secret { name, key }) => {
            Err((3, format!("{env_name} comes from Secret {name} key {key}, so its value cannot be verified")))
        }
        Some(EnvValue::Other) => {
            Err((3, format!("{env_name} comes from a field reference, so its value cannot be verified")))
        }
        None if !env.opaque_sources.is_empty() => Err((
            1,
            format!(
                "{env_name} is not set unless envFrom {} sets it, which is not in the snapshot (value unknown)",
                env.opaque_sources.join(", ")
            ),
        )),
        None => Err((0, format!("{env_name} is not set"))),
    }
}

/// A non-secret value quoted for a finding, cut short so a finding stays one line.
fn quote(v: &str) -> String {
    let cut: String = v.chars().take(40).collect();
    if cut.len() < v.len() {
        format!("{:?}…", cut)
    } else {
        format!("{cut:?}")
    }
}

fn config_map_exists(k: &KubeSnapshot, ns: &str, name: &str) -> bool {
    k.config_maps.iter().any(|m| namespace_of(&m.metadata) == ns && name_of(&m.metadata) == name)
}

// A configured public gateway URL's certificate is checked by the HTTP sources once they exist;
// from Kubernetes objects alone, declared TLS termination is what can be seen.
pub fn gateway_tls_ingress(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let tls_annotations = ctx.params.list("tls_annotations")?;
    let services = k.component_services(Component::Gateway);
    if services.is_empty() {
        let f = Finding::new(
            scope_ref(k),
            format!("no Service routes to the ingestion gateway or matches {}", selector_text(k, Component::Gateway)),
        );
        return Ok(Outcome::from_findings(vec![f], ""));
    }
    let ingresses = k.ingresses_to(&services);
    let gateway_names: Vec<&str> = services.iter().map(|s| name_of(&s.metadata)).collect();
    let mut findings = Vec::new();
    for ing in &ingresses {
        for host in uncovered_gateway_hosts(ing, &gateway_names) {
            let message = match host {
                None if !has_tls(ing) => "routes to the gateway without tls".to_string(),
                None => "routes any host to the gateway, and no tls entry without hosts covers it".to_string(),
                Some(h) if !has_tls(ing) => format!("routes host {h} to the gateway without tls"),
                Some(h) => format!("routes host {h} to the gateway, and no tls entry lists it"),
            };
            findings.push(Finding::new(object_ref("Ingress", &ing.metadata), message));
        }
    }
    if !ingresses.is_empty() {
        let names: Vec<_> = ingresses.iter().map(|i| object_ref("Ingress", &i.metadata)).collect();
        return Ok(Outcome::from_findings(
            findings,
            format!("{} route to the gateway with tls covering every host", names.join(", ")),
        ));
    }
    for s in &services {
        let lb = s.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer");
        let ann = s.metadata.annotations.as_ref();
        if let Some(a) = tls_annotations.iter().find(|a| lb && ann.is_some_and(|m| m.contains_key(a.as_str()))) {
            return Ok(Outcome::pass(format!(
                "{} is a LoadBalancer with TLS annotation {a}",
                object_ref("Service", &s.metadata)
            )));
        }
    }
    let routes: Vec<String> = k
        .unread_in_scope("gateway.networking.k8s.io", &["HTTPRoute", "GRPCRoute", "TLSRoute", "Gateway"])
        .map(|u| format!("{}/{}/{}", u.kind, u.namespace, u.name))
        .collect();
    if !routes.is_empty() {
        return Err(Undecided::error(format!(
            "no Ingress or TLS LoadBalancer exposes the gateway, and Gateway API objects are present ({}): this item does not read Gateway API routes",
            routes.join(", ")
        )));
    }
    for s in &services {
        let lb = s.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer");
        let why = if lb {
            "is a LoadBalancer without a TLS annotation and no Ingress with tls routes to it"
        } else {
            "no Ingress with tls routes to it and it is not a LoadBalancer with a TLS annotation"
        };
        findings.push(Finding::new(object_ref("Service", &s.metadata), why));
    }
    Ok(Outcome::from_findings(findings, ""))
}

/// The hosts of an Ingress that route to one of `services` and that no `tls` entry covers
/// (None is a rule without a host, or the default backend). A `tls` entry without hosts covers
/// whatever the controller's default certificate serves; a wildcard covers one label.
fn uncovered_gateway_hosts(ing: &Ingress, services: &[&str]) -> Vec<Option<String>> {
    let Some(spec) = ing.spec.as_ref() else { return Vec::new() };
    let tls = spec.tls.as_deref().unwrap_or(&[]);
    let covered = |host: Option<&str>| {
        tls.iter().any(|t| match (host, t.hosts.as_deref().filter(|h| !h.is_empty())) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(h), Some(hosts)) => hosts.iter().any(|pattern| host_matches(pattern, h)),
        })
    };
    let to_gateway = |b: &k8s_openapi::api::networking::v1::IngressBackend| {
        b.service.as_ref().is_some_and(|s| services.contains(&s.name.as_str()))
    };
    let mut out = Vec::new();
    if spec.default_backend.as_ref().is_some_and(to_gateway) && !has_tls(ing) {
        out.push(None);
    }
    for rule in spec.rules.iter().flatten() {
        let routes = rule.http.as_ref().is_some_and(|h| h.paths.iter().any(|p| to_gateway(&p.backend)));
        let host = rule.host.as_deref().filter(|h| !h.is_empty());
        if routes && !covered(host) && !out.contains(&host.map(str::to_string)) {
            out.push(host.map(str::to_string));
        }
    }
    out
}

/// TLS host matching as Ingress controllers do it: exact (case-insensitive), or `*.domain`
/// for exactly one more label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(domain) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => pattern == host,
    }
}

fn has_tls(ing: &Ingress) -> bool {
    ing.spec.as_ref().and_then(|s| s.tls.as_ref()).is_some_and(|t| !t.is_empty())
}

pub fn admin_ui_not_public(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let internal_annotations = ctx.params.list("internal_annotations")?;
    let internal_class = ctx.params.regex("internal_class_pattern")?;
    let source_range_annotations = ctx.params.list("source_range_annotations")?;
    let services = k.component_services(Component::AdminUi);
    if services.is_empty() {
        return Ok(Outcome::pass("no admin UI Service in scope, so nothing exposes the admin UI"));
    }

    let mut findings = Vec::new();
    for s in &services {
        if let Some(why) = service_exposure(s, &internal_annotations) {
            findings.push(Finding::new(object_ref("Service", &s.metadata), why));
        }
    }

    let ingresses = k.ingresses_to(&services);
    for ing in &ingresses {
        let ann = ing.metadata.annotations.as_ref();
        let class = ing
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            .or_else(|| ann.and_then(|m| m.get("kubernetes.io/ingress.class")).map(String::as_str));
        if class.is_some_and(|c| internal_class.is_match(c)) {
            continue;
        }
        let allow_list = source_range_annotations
            .iter()
            .any(|a| ann.and_then(|m| m.get(a.as_str())).is_some_and(|v| !v.trim().is_empty()));
        if allow_list {
            continue;
        }
        let class_text = match class {
            Some(c) => format!("uses class {c}, which is not internal"),
            None => "has no ingress class (the cluster default applies)".to_string(),
        };
        findings.push(Finding::new(
            object_ref("Ingress", &ing.metadata),
            format!("{class_text}, and has no source-range allow-list"),
        ));
    }

    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} admin UI Service(s) are internal or not exposed, and {} Ingress(es) to them use an internal class or a source-range allow-list",
            services.len(),
            ingresses.len()
        ),
    ))
}

/// How a Service exposes its pods beyond the cluster, judged by what it really opens:
/// `externalIPs` whatever the type; a NodePort on every node whatever its annotations (load
/// balancer annotations do not apply to it); a LoadBalancer unless it is internal by annotation
/// or its source ranges (the field, else the annotation the cloud providers read) keep out
/// the internet.
fn service_exposure(s: &k8s_openapi::api::core::v1::Service, internal_annotations: &[String]) -> Option<String> {
    let spec = s.spec.as_ref()?;
    if let Some(ips) = spec.external_ips.as_ref().filter(|ips| !ips.is_empty()) {
        return Some(format!("has externalIPs {}: every node forwards its ports on those addresses", ips.join(", ")));
    }
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    let ann = s.metadata.annotations.as_ref();
    match type_ {
        "NodePort" => Some(
            "is type NodePort: its port is open on every node's address, whatever load-balancer annotations it has"
                .to_string(),
        ),
        "LoadBalancer" => {
            // "key=value" wants that value (any case); a bare "key" is satisfied by any value.
            let internal = internal_annotations.iter().any(|pair| {
                let (key, want) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
                ann.and_then(|m| m.get(key))
                    .is_some_and(|have| want.is_empty() || have.trim().eq_ignore_ascii_case(want))
            });
            if internal {
                return None;
            }
            let ranges: Vec<String> = match spec.load_balancer_source_ranges.as_ref().filter(|r| !r.is_empty()) {
                Some(r) => r.iter().map(|x| x.trim().to_string()).collect(),
                None => ann
                    .and_then(|m| m.get("service.beta.kubernetes.io/load-balancer-source-ranges"))
                    .map(|v| v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
                    .unwrap_or_default(),
            };
            if ranges.is_empty() {
                return Some(
                    "is type LoadBalancer without an internal load-balancer annotation or source ranges".to_string(),
                );
            }
            covers_every_public_address(ranges.iter().map(|r| (r.as_str(), &[][..]))).map(|family| {
                format!(
                    "is type LoadBalancer whose source ranges {} admit every public {family} address",
                    ranges.join(", ")
                )
            })
        }
        _ => None,
    }
}

pub fn network_policies_namespace_isolation(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let mut findings = Vec::new();
    let namespaces = scope_namespaces(k);
    for ns in &namespaces {
        let policies = policies_in(k, ns);
        if !policies.iter().any(|(_, s)| selects_all_pods(s) && effective_types(s).ingress) {
            findings.push(Finding::new(
                format!("Namespace/{ns}"),
                "no NetworkPolicy selects all pods with Ingress in its policyTypes",
            ));
        }
        for (p, s) in &policies {
            // Rules of a direction the policy does not enforce are ignored by the API.
            if !effective_types(s).ingress {
                continue;
            }
            for (i, rule) in s.ingress.iter().flatten().enumerate() {
                if let Some(why) = open_ingress_rule(rule) {
                    findings.push(Finding::new(
                        format!("{} ingress rule {}", object_ref("NetworkPolicy", &p.metadata), i + 1),
                        why,
                    ));
                }
            }
        }
    }
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} namespace(s) have a NetworkPolicy isolating all pods for ingress and no ingress rule admits every namespace",
            namespaces.len()
        ),
    ))
}

pub fn egress_restricted(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kube()?;
    let mut findings = Vec::new();
    let namespaces = scope_namespaces(k);
    for ns in &namespaces {
        let policies = policies_in(k, ns);
        if !policies.iter().any(|(_, s)| selects_all_pods(s) && effective_types(s).egress) {
            findings.push(Finding::new(
                format!("Namespace/{ns}"),
                "no NetworkPolicy selects all pods with Egress in its policyTypes",
            ));
        }
        for (p, s) in &policies {
            if !effective_types(s).egress {
                continue;
            }
            for (i, rule) in s.egress.iter().flatten().enumerate() {
                if let Some(why) = open_egress_rule(rule) {
                    findings.push(Finding::new(
                        format!("{} egress rule {}", object_ref("NetworkPolicy", &p.metadata), i + 1),
                        why,
                    ));
                }
            }
        }
    }
    Ok(Outcome::from_findings(
        findings,
        format!(
            "{} namespace(s) have a NetworkPolicy restricting egress of all pods and no egress rule allows every destination",
            namespaces.len()
        ),
    ))
}

fn scope_namespaces(k: &KubeSnapshot) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for ns in &k.scope.namespaces {
        if !out.contains(&ns.as_str()) {
            out.push(ns);
        }
    }
    out
}

fn policies_in<'a>(k: &'a KubeSnapshot, ns: &str) -> Vec<(&'a NetworkPolicy, &'a NetworkPolicySpec)> {
    k.network_policies
        .iter()
        .filter(|p| namespace_of(&p.metadata) == ns)
        .filter_map(|p| p.spec.as_ref().map(|s| (p, s)))
        .collect()
}

/// An absent podSelector is `{}` once the API server has it: all pods of the namespace.
fn selects_all_pods(s: &NetworkPolicySpec) -> bool {
    s.pod_selector.as_ref().is_none_or(selector_is_empty)
}

struct PolicyTypes {
    ingress: bool,
    egress: bool,
}

/// policyTypes as the API server defaults them: unset (or empty) means Ingress, plus Egress
/// when the policy has egress rules.
fn effective_types(s: &NetworkPolicySpec) -> PolicyTypes {
    match s.policy_types.as_ref().filter(|t| !t.is_empty()) {
        Some(types) => PolicyTypes {
            ingress: types.iter().any(|t| t.eq_ignore_ascii_case("Ingress")),
            egress: types.iter().any(|t| t.eq_ignore_ascii_case("Egress")),
        },
        None => PolicyTypes { ingress: true, egress: s.egress.as_ref().is_some_and(|e| !e.is_empty()) },
    }
}

/// A namespaceSelector that picks every namespace: `{}`, or only `Exists` on the label the API
/// server puts on every namespace.
fn selects_every_namespace(sel: &LabelSelector) -> bool {
    let no_labels = sel.match_labels.as_ref().is_none_or(|m| m.is_empty());
    no_labels
        && sel
            .match_expressions
            .iter()
            .flatten()
            .all(|e| e.key == "kubernetes.io/metadata.name" && e.operator == "Exists")
}

fn open_ingress_rule(rule: &NetworkPolicyIngressRule) -> Option<String> {
    let ports = ports_text(rule.ports.as_deref());
    let Some(peers) = rule.from.as_ref().filter(|f| !f.is_empty()) else {
        return Some(format!("has no from, so it admits every source{ports}"));
    };
    let every_ns = peers.iter().enumerate().find_map(|(i, peer)| {
        let every_ns = peer.namespace_selector.as_ref().is_some_and(selects_every_namespace);
        let any_pod = peer.pod_selector.as_ref().is_none_or(selector_is_empty);
        (every_ns && any_pod)
            .then(|| format!("from peer {} has an empty namespaceSelector, so it admits every namespace{ports}", i + 1))
    });
    every_ns.or_else(|| {
        every_address(peers.iter().filter_map(|p| p.ip_block.as_ref()))
            .map(|(family, cidrs)| format!("from ipBlock {cidrs} admits every public {family} source{ports}"))
    })
}

fn open_egress_rule(rule: &NetworkPolicyEgressRule) -> Option<String> {
    let ports = ports_text(rule.ports.as_deref());
    let Some(peers) = rule.to.as_ref().filter(|t| !t.is_empty()) else {
        return Some(format!("has no to, so it allows every destination{ports}"));
    };
    // Peers are ORed, so blocks reach as far as their union; ports narrow the protocol, not the reach.
    every_address(peers.iter().filter_map(|p| p.ip_block.as_ref()))
        .map(|(family, cidrs)| format!("to ipBlock {cidrs} reaches every public {family} destination{ports}"))
}

/// The family and the CIDRs of blocks that together reach every public address.
fn every_address<'a>(
    blocks: impl Iterator<Item = &'a k8s_openapi::api::networking::v1::IPBlock> + Clone,
) -> Option<(&'static str, String)> {
    let family =
        covers_every_public_address(blocks.clone().map(|b| (b.cidr.as_str(), b.except.as_deref().unwrap_or(&[]))))?;
    let cidrs: Vec<&str> = blocks.map(|b| b.cidr.trim()).collect();
    Some((family, cidrs.join(" + ")))
}

fn ports_text(ports: Option<&[NetworkPolicyPort]>) -> String {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else { return " on any port".to_string() };
    let list: Vec<String> = ports
        .iter()
        .map(|p| {
            let port = match &p.port {
                Some(IntOrString::Int(n)) => n.to_string(),
                Some(IntOrString::String(s)) => s.clone(),
                None => "any".to_string(),
            };
            let port = match p.end_port {
                Some(end) => format!("{port}-{end}"),
                None => port,
            };
            format!("{port}/{}", p.protocol.as_deref().unwrap_or("TCP"))
        })
        .collect();
    format!(" on port(s) {}", list.join(", "))
}

#[cfg(test)]
mod tests {

    use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPeer};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::fixtures::{deploy_mut, finding_objects as objects, run_check as run, set_container};

    use crate::fixtures::{
        config_map, container, deny_all_policy, good_stack, ingress, labels, meta, service, with_annotations,
        ContainerB, NS,
    };
    use crate::outcome::Status;

    /// The stack with the gateway's only container replaced.
    fn gateway_with(c: ContainerB) -> KubeSnapshot {
        let mut k = good_stack();
        set_container(&mut k, "ingestion-gateway", c);
        k
    }

    fn gw() -> ContainerB {
        container("ingestion-gateway")
    }

    // ---- NetworkPolicy builders

    fn all_pods() -> LabelSelector {
        LabelSelector::default()
    }

    fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector { match_labels: Some(labels(pairs)), ..Default::default() }
    }

    fn exists(key: &str) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: "Exists".into(),
                values: None,
            }]),
            ..Default::default()
        }
    }

    fn policy(
        name: &str,
        pods: LabelSelector,
        types: Option<&[&str]>,
        ingress: Vec<NetworkPolicyIngressRule>,
        egress: Vec<NetworkPolicyEgressRule>,
    ) -> NetworkPolicy {
        NetworkPolicy {
            metadata: meta(NS, name),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(pods),
                policy_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
                ingress: (!ingress.is_empty()).then_some(ingress),
                egress: (!egress.is_empty()).then_some(egress),
            }),
        }
    }

    fn from(peers: Vec<NetworkPolicyPeer>) -> NetworkPolicyIngressRule {
        NetworkPolicyIngressRule { from: Some(peers), ports: None }
    }

    fn to(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
        NetworkPolicyEgressRule { to: Some(peers), ports: (!ports.is_empty()).then_some(ports) }
    }

    fn namespaces(sel: LabelSelector) -> NetworkPolicyPeer {
        NetworkPolicyPeer { namespace_selector: Some(sel), ..Default::default() }
    }

    fn pods(sel: LabelSelector) -> NetworkPolicyPeer {
        NetworkPolicyPeer { pod_selector: Some(sel), ..Default::default() }
    }

    fn cidr(c: &str, except: &[&str]) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: c.into(),
                except: (!except.is_empty()).then(|| except.iter().map(|s| s.to_string()).collect()),
            }),
            ..Default::default()
        }
    }

    fn port(n: i32, protocol: &str) -> NetworkPolicyPort {
        NetworkPolicyPort { port: Some(IntOrString::Int(n)), protocol: Some(protocol.into()), end_port: None }
    }

    fn with_policies(policies: Vec<NetworkPolicy>) -> KubeSnapshot {
        let mut k = good_stack();
        k.network_policies = policies;
        k
    }

    #[test]
    fn good_stack_passes_every_network_item() {
        for id in [
            "mtls_enabled",
            "gateway_tls_ingress",
            "admin_ui_not_public",
            "network_policies_namespace_isolation",
            "egress_restricted",
        ] {
            let o = run(id, good_stack());
            assert_eq!(o.status, Status::Pass, "{id}: {o:?}");
            assert!(o.reason.is_some());
        }
    }

    // ---- mtls_enabled

    #[test]
    fn mtls_literal_true_passes_and_false_is_quoted() {
        assert_eq!(run("mtls_enabled", gateway_with(gw().env("MTLS_ENABLED", " TRUE "))).status, Status::Pass);
        let o = run("mtls_enabled", gateway_with(gw().env("MTLS_ENABLED", "false")));
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway container ingestion-gateway"]);
        assert_eq!(o.findings[0].message, "MTLS_ENABLED is set to \"false\", not true");
    }

    #[test]
    fn mtls_env_wins_over_env_from() {
        let o =
            run("mtls_enabled", gateway_with(gw().env_from_config_map("infrasage-config").env("MTLS_ENABLED", "0")));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "MTLS_ENABLED is set to \"0\", not true");

        let mut k = gateway_with(gw().env_config_map("MTLS_ENABLED", "off", "MTLS_ENABLED").env_from_config_map("on"));
        k.config_maps.push(config_map("off", &[("MTLS_ENABLED", "false")]));
        k.config_maps.push(config_map("on", &[("MTLS_ENABLED", "true")]));
        let o = run("mtls_enabled", k);
        assert_eq!(
            o.findings[0].message,
            "MTLS_ENABLED is set to \"false\" by ConfigMap off key MTLS_ENABLED, not true"
        );
    }

    #[test]
    fn mtls_later_env_from_wins_over_earlier() {
        let stack = |first: &str, second: &str| {
            let mut k = gateway_with(gw().env_from_config_map(first).env_from_config_map(second));
            k.config_maps.push(config_map("off", &[("MTLS_ENABLED", "false")]));
            k.config_maps.push(config_map("on", &[("MTLS_ENABLED", "true")]));
            k
        };
        assert_eq!(run("mtls_enabled", stack("off", "on")).status, Status::Pass);
        let o = run("mtls_enabled", stack("on", "off"));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Deployment/infrasage/ingestion-gateway container ingestion-gateway"]);
    }

    #[test]
    fn mtls_unverifiable_sources_are_findings() {
        let o = run("mtls_enabled", gateway_with(gw().env_secret("MTLS_ENABLED", "flags", "mtls")));
        assert_eq!(
            o.findings[0].message,
            "MTLS_ENABLED comes from Secret flags key mtls, so its value cannot be verified"
        );

        let o = run("mtls_enabled", gateway_with(gw().env_from_config_map("rendered-elsewhere")));
        assert!(o.findings[0].message.contains("envFrom ConfigMap rendered-elsewhere"), "{o:?}");
        assert!(o.findings[0].message.contains("value unknown"));

        let o = run("mtls_enabled", gateway_with(gw().env_config_map("MTLS_ENABLED", "rendered-elsewhere", "mtls")));
        assert!(o.findings[0].message.contains("not in the snapshot (value unknown)"), "{o:?}");

        let o = run("mtls_enabled", gateway_with(gw()));
        assert_eq!(o.findings[0].message, "MTLS_ENABLED is not set");
    }

    #[test]
    fn mtls_one_main_container_suffices_and_init_containers_do_not_count() {
        let mut k = good_stack();
        let d = deploy_mut(&mut k, "aiops-engine");
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.containers.push(container("sidecar").0);
        assert_eq!(run("mtls_enabled", k.clone()).status, Status::Pass);

        let d = deploy_mut(&mut k, "aiops-engine");
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        let main = pod.containers.remove(0);
        pod.init_containers = Some(vec![main]);
        let o = run("mtls_enabled", k);
        assert_eq!(objects(&o), ["Deployment/infrasage/aiops-engine container sidecar"]);
    }

    #[test]
    fn mtls_missing_component_is_a_finding() {
        let mut k = good_stack();
        k.deployments.retain(|d| d.metadata.name.as_deref() != Some("admin-ui"));
        let o = run("mtls_enabled", k);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
        assert!(o.findings[0].message.contains("app.kubernetes.io/name=admin-ui"));
    }

    // ---- gateway_tls_ingress

    #[test]
    fn gateway_ingress_without_tls_fails_on_the_ingress() {
        let mut k = good_stack();
        k.ingresses[0] = ingress("gateway", "ingestion-gateway", Some("nginx"), false);
        let o = run("gateway_tls_ingress", k);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(objects(&o), ["Ingress/infrasage/gateway"]);
        assert_eq!(o.findings[0].message, "routes host gateway.example.com to the gateway without tls");
    }

    #[test]
    fn tls_must_cover_the_host_that_routes_to_the_gateway() {
        let mut k = good_stack();
        let mut ing = ingress("gateway", "ingestion-gateway", Some("nginx"), true);
        ing.spec.as_mut().unwrap().tls.as_mut().unwrap()[0].hosts = Some(vec!["docs.example.com".into()]);
        k.ingresses[0] = ing.clone();
        let o = run("gateway_tls_ingress", k.clone());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].message, "routes host gateway.example.com to the gateway, and no tls entry lists it");
        // A wildcard covers one label, in any case.
        ing.spec.as_mut().unwrap().tls.as_mut().unwrap()[0].hosts = Some(vec!["*.EXAMPLE.com".into()]);
        k.ingresses[0] = ing.clone();
        assert_eq!(run("gateway_tls_ingress", k.clone()).status, Status::Pass);
        ing.spec.as_mut().unwrap().tls.as_mut().unwrap()[0].hosts = Some(vec!["*.com".into()]);
        k.ingresses[0] = ing;
        assert_eq!(run("gateway_tls_ingress", k).status, Status::Fail);
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
    }

    #[test]
    fn gateway_api_routes_are_named_not_guessed() {
        let mut k = good_stack();
        k.ingresses.clear();
        k.unread.push(crate::snapshot::kubernetes::UnreadObject {
            api_version: "gateway.networking.k8s.io/v1".into(),
            kind: "HTTPRoute".into(),
            namespace: "infrasage".into(),
            name: "gateway".into(),
        });
        let o = run("gateway_tls_ingress", k);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.as_deref().unwrap().contains("HTTPRoute/infrasage/gateway"), "{o:?}");
    }

    #[test]
    fn gateway_load_balancer_with_tls_annotation_passes() {
        let mut k = good_stack();
        k.ingresses.remove(0);
        k.services[0] = with_annotations(
            service("ingestion-gateway", "ingestion-gateway", "LoadBalancer"),
            &[("service.beta.kubernetes.io/aws-load-balancer-ssl-cert", "arn:aws:acm:eu-west-1:1:certificate/x")],
        );
        let o = run("gateway_tls_ingress", k.clone());
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().contains("Service/infrasage/ingestion-gateway is a LoadBalancer"));

        k.services[0] = service("ingestion-gateway", "ingestion-gateway", "LoadBalancer");
        let o = run("gateway_tls_ingress", k);
        assert_eq!(objects(&o), ["Service/infrasage/ingestion-gateway"]);
        assert!(o.findings[0].message.contains("LoadBalancer without a TLS annotation"));
    }

    #[test]
    fn no_gateway_service_is_a_finding() {
        let mut k = good_stack();
        k.services.retain(|s| s.metadata.name.as_deref() != Some("ingestion-gateway"));
        let o = run("gateway_tls_ingress", k);
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
    }

    // ---- admin_ui_not_public

    #[test]
    fn admin_public_ingress_class_fails_unless_allow_listed() {
        let mut k = good_stack();
        k.ingresses[1] = ingress("admin", "admin-ui", Some("nginx"), true);
        let o = run("admin_ui_not_public", k.clone());
        assert_eq!(objects(&o), ["Ingress/infrasage/admin"]);
        assert_eq!(
            o.findings[0].message,
            "uses class nginx, which is not internal, and has no source-range allow-list"
        );

        k.ingresses[1] = with_annotations(
            k.ingresses[1].clone(),
            &[("nginx.ingress.kubernetes.io/whitelist-source-range", "10.0.0.0/8")],
        );
        assert_eq!(run("admin_ui_not_public", k).status, Status::Pass);
    }

    #[test]
    fn admin_ingress_class_annotation_counts() {
        let mut k = good_stack();
        k.ingresses[1] = with_annotations(
            ingress("admin", "admin-ui", None, true),
            &[("kubernetes.io/ingress.class", "internal-nginx")],
        );
        assert_eq!(run("admin_ui_not_public", k.clone()).status, Status::Pass);
        k.ingresses[1] = ingress("admin", "admin-ui", None, true);
        let o = run("admin_ui_not_public", k);
        assert!(o.findings[0].message.starts_with("has no ingress class"));
    }

    #[test]
    fn admin_load_balancer_needs_internal_annotation() {
        let mut k = good_stack();
        k.services[3] = service("admin-ui", "admin-ui", "LoadBalancer");
        let o = run("admin_ui_not_public", k.clone());
        assert_eq!(objects(&o), ["Service/infrasage/admin-ui"]);
        assert_eq!(
            o.findings[0].message,
            "is type LoadBalancer without an internal load-balancer annotation or source ranges"
        );

        k.services[3] = with_annotations(
            service("admin-ui", "admin-ui", "LoadBalancer"),
            &[("service.beta.kubernetes.io/aws-load-balancer-internal", "True")],
        );
        assert_eq!(run("admin_ui_not_public", k.clone()).status, Status::Pass);

        k.services[3] = with_annotations(
            service("admin-ui", "admin-ui", "NodePort"),
            &[("service.beta.kubernetes.io/aws-load-balancer-internal", "false")],
        );
        assert_eq!(objects(&run("admin_ui_not_public", k)), ["Service/infrasage/admin-ui"]);
    }

    #[test]
    fn services_are_judged_by_what_they_really_open() {
        let mut k = good_stack();
        // Internal annotations mean nothing to a NodePort.
        k.services[3] = with_annotations(
            service("admin-ui", "admin-ui", "NodePort"),
            &[("service.beta.kubernetes.io/aws-load-balancer-internal", "true")],
        );
        let o = run("admin_ui_not_public", k.clone());
        assert!(o.findings[0].message.starts_with("is type NodePort"), "{o:?}");
        let mut svc = service("admin-ui", "admin-ui", "ClusterIP");
        svc.spec.as_mut().unwrap().external_ips = Some(vec!["203.0.113.7".into()]);
        k.services[3] = svc;
        let o = run("admin_ui_not_public", k.clone());
        assert!(o.findings[0].message.starts_with("has externalIPs 203.0.113.7"), "{o:?}");
        let ranged = |ranges: &[&str]| {
            let mut svc = service("admin-ui", "admin-ui", "LoadBalancer");
            svc.spec.as_mut().unwrap().load_balancer_source_ranges =
                Some(ranges.iter().map(|r| r.to_string()).collect());
            svc
        };
        k.services[3] = ranged(&["10.0.0.0/8"]);
        assert_eq!(run("admin_ui_not_public", k.clone()).status, Status::Pass);
        k.services[3] = ranged(&["0.0.0.0/1", "128.0.0.0/1"]);
        let o = run("admin_ui_not_public", k.clone());
        assert!(o.findings[0].message.contains("admit every public IPv4 address"), "{o:?}");
        k.services[3] = with_annotations(
            service("admin-ui", "admin-ui", "LoadBalancer"),
            &[("service.beta.kubernetes.io/load-balancer-source-ranges", "192.168.0.0/16, 10.0.0.0/8")],
        );
        assert_eq!(run("admin_ui_not_public", k).status, Status::Pass);
    }

    #[test]
    fn no_admin_service_passes() {
        let mut k = good_stack();
        k.services.retain(|s| s.metadata.name.as_deref() != Some("admin-ui"));
        k.ingresses.retain(|i| i.metadata.name.as_deref() != Some("admin"));
        let o = run("admin_ui_not_public", k);
        assert_eq!(o.status, Status::Pass);
        assert!(o.reason.unwrap().contains("no admin UI Service"));
    }

    // ---- network_policies_namespace_isolation

    #[test]
    fn no_isolating_policy_names_the_namespace() {
        let o = run("network_policies_namespace_isolation", with_policies(vec![]));
        assert_eq!(objects(&o), ["Namespace/infrasage"]);

        // Egress-only, or over some pods only (matchExpressions is not empty), does not isolate ingress.
        let o = run(
            "network_policies_namespace_isolation",
            with_policies(vec![
                deny_all_policy("deny-egress", &["Egress"]),
                policy("some", exists("app.kubernetes.io/name"), Some(&["Ingress"]), vec![], vec![]),
            ]),
        );
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
    }

    #[test]
    fn unset_policy_types_imply_ingress() {
        let egress_only_rules = vec![to(vec![pods(all_pods())], vec![])];
        let k = with_policies(vec![policy("implicit", all_pods(), None, vec![], egress_only_rules)]);
        assert_eq!(run("network_policies_namespace_isolation", k).status, Status::Pass);
    }

    #[test]
    fn ingress_rules_admitting_every_namespace_are_findings() {
        let k = with_policies(vec![
            deny_all_policy("default-deny", &["Ingress", "Egress"]),
            policy("allow-all", match_labels(&[("app", "web")]), Some(&["Ingress"]), vec![from(vec![])], vec![]),
            policy(
                "from-anywhere",
                all_pods(),
                None,
                vec![
                    from(vec![namespaces(match_labels(&[("team", "infrasage")]))]),
                    from(vec![pods(all_pods()), namespaces(all_pods())]),
                    from(vec![namespaces(exists("kubernetes.io/metadata.name"))]),
                    // namespaces with a label only some carry, and one namespace's pods: restricted
                    from(vec![namespaces(exists("monitoring"))]),
                    from(vec![NetworkPolicyPeer {
                        namespace_selector: Some(all_pods()),
                        pod_selector: Some(match_labels(&[("app", "prometheus")])),
                        ..Default::default()
                    }]),
                ],
                vec![],
            ),
        ]);
        let o = run("network_policies_namespace_isolation", k);
        assert_eq!(
            objects(&o),
            [
                "NetworkPolicy/infrasage/allow-all ingress rule 1",
                "NetworkPolicy/infrasage/from-anywhere ingress rule 2",
                "NetworkPolicy/infrasage/from-anywhere ingress rule 3"
            ]
        );
        assert!(o.findings[0].message.starts_with("has no from"));
        assert!(o.findings[1].message.starts_with("from peer 2 has an empty namespaceSelector"));
    }

    #[test]
    fn ingress_rules_of_an_egress_only_policy_are_ignored() {
        let k = with_policies(vec![
            deny_all_policy("default-deny", &["Ingress", "Egress"]),
            policy("egress-only", all_pods(), Some(&["Egress"]), vec![from(vec![])], vec![]),
        ]);
        assert_eq!(run("network_policies_namespace_isolation", k).status, Status::Pass);
    }

    #[test]
    fn namespaces_out_of_scope_are_ignored() {
        let mut open = policy("allow-all", all_pods(), None, vec![from(vec![])], vec![to(vec![], vec![])]);
        open.metadata.namespace = Some("other".into());
        let mut k = good_stack();
        k.network_policies.push(open);
        assert_eq!(run("network_policies_namespace_isolation", k.clone()).status, Status::Pass);
        assert_eq!(run("egress_restricted", k.clone()).status, Status::Pass);

        // In scope, the other namespace's own policy isolates it but its rules are open; an empty
        // namespace has no policy at all.
        k.scope.namespaces.push("other".into());
        k.scope.namespaces.push("empty".into());
        let o = run("network_policies_namespace_isolation", k.clone());
        assert_eq!(objects(&o), ["NetworkPolicy/other/allow-all ingress rule 1", "Namespace/empty"]);
        let o = run("egress_restricted", k);
        assert_eq!(objects(&o), ["NetworkPolicy/other/allow-all egress rule 1", "Namespace/empty"]);
    }

    // ---- egress_restricted

    #[test]
    fn egress_needs_a_policy_over_all_pods() {
        let o = run("egress_restricted", with_policies(vec![deny_all_policy("deny-ingress", &["Ingress"])]));
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
        assert!(o.findings[0].message.contains("Egress"));

        // Unset policyTypes with no egress rules is ingress only.
        let o = run("egress_restricted", with_policies(vec![policy("implicit", all_pods(), None, vec![], vec![])]));
        assert_eq!(objects(&o), ["Namespace/infrasage"]);
    }

    #[test]
    fn unset_policy_types_with_egress_rules_imply_egress() {
        let rule = to(vec![namespaces(match_labels(&[("kubernetes.io/metadata.name", "kafka")]))], vec![]);
        let o = run("egress_restricted", with_policies(vec![policy("implicit", all_pods(), None, vec![], vec![rule])]));
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn dns_rule_without_to_is_a_finding() {
        let dns = NetworkPolicyEgressRule { to: None, ports: Some(vec![port(53, "UDP"), port(53, "TCP")]) };
        let k = with_policies(vec![
            deny_all_policy("default-deny", &["Ingress", "Egress"]),
            policy("dns", all_pods(), Some(&["Egress"]), vec![], vec![dns]),
        ]);
        let o = run("egress_restricted", k);
        assert_eq!(objects(&o), ["NetworkPolicy/infrasage/dns egress rule 1"]);
        assert_eq!(o.findings[0].message, "has no to, so it allows every destination on port(s) 53/UDP, 53/TCP");
    }

    #[test]
    fn egress_to_every_address_is_a_finding_even_with_except() {
        let k = with_policies(vec![policy(
            "internet",
            all_pods(),
            Some(&["Egress"]),
            vec![],
            vec![
                to(vec![cidr("10.0.0.0/8", &[])], vec![port(9000, "TCP")]),
                to(vec![cidr("0.0.0.0/0", &["169.254.169.254/32"])], vec![port(443, "TCP")]),
                to(vec![pods(all_pods()), cidr("::/0", &[])], vec![]),
            ],
        )]);
        let o = run("egress_restricted", k);
        assert_eq!(
            objects(&o),
            ["NetworkPolicy/infrasage/internet egress rule 2", "NetworkPolicy/infrasage/internet egress rule 3"]
        );
        assert_eq!(
            o.findings[0].message,
            "to ipBlock 0.0.0.0/0 reaches every public IPv4 destination on port(s) 443/TCP"
        );
        assert!(o.findings[1].message.starts_with("to ipBlock ::/0 reaches every public IPv6"), "{o:?}");
    }

    #[test]
    fn blocks_are_judged_by_the_space_they_cover_together() {
        let k = with_policies(vec![
            policy(
                "halves",
                all_pods(),
                Some(&["Ingress", "Egress"]),
                vec![NetworkPolicyIngressRule {
                    from: Some(vec![cidr("0.0.0.0/1", &[]), cidr("128.0.0.0/1", &[])]),
                    ports: Some(vec![port(8080, "TCP")]),
                }],
                vec![
                    to(vec![cidr("0.0.0.0/1", &[]), cidr("128.0.0.0/1", &[])], vec![]),
                    to(vec![cidr("0.0.0.0/0", &["0.0.0.0/1"])], vec![]),
                ],
            ),
            deny_all_policy("default-deny", &["Ingress", "Egress"]),
        ]);
        let o = run("egress_restricted", k.clone());
        assert_eq!(objects(&o), ["NetworkPolicy/infrasage/halves egress rule 1"]);
        assert!(
            o.findings[0].message.starts_with("to ipBlock 0.0.0.0/1 + 128.0.0.0/1 reaches every public IPv4"),
            "{o:?}"
        );
        let o = run("network_policies_namespace_isolation", k);
        assert_eq!(objects(&o), ["NetworkPolicy/infrasage/halves ingress rule 1"]);
        assert!(o.findings[0].message.contains("admits every public IPv4 source on port(s) 8080/TCP"), "{o:?}");
    }

    #[test]
    fn selectors_with_match_expressions() {
        let expr = |op: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        };
        assert!(!selects_every_namespace(&expr("In", &["infra"])));
        assert!(!selects_every_namespace(&expr("NotIn", &["infra"])));
        assert!(selects_every_namespace(&exists("kubernetes.io/metadata.name")));
        let spec = NetworkPolicySpec { pod_selector: Some(expr("In", &["a"])), ..Default::default() };
        assert!(!selects_all_pods(&spec));
        assert!(selects_all_pods(&NetworkPolicySpec::default()));
    }
}
