//! Helpers shared by the checks of several categories: how to name what is absent, which
//! workloads are the InfraSage services, human units.

use k8s_openapi::api::core::v1::Container;

use crate::outcome::{Finding, Undecided};
use crate::snapshot::{Component, KubeSnapshot, Workload};

/// The namespaces in scope, for reasons about something absent.
pub fn namespaces_text(k: &KubeSnapshot) -> String {
    k.scope.namespaces.join(", ")
}

/// The object a finding names when what is wrong is that an object does not exist.
pub fn scope_ref(k: &KubeSnapshot) -> String {
    format!("Namespace/{}", k.scope.namespaces.join(","))
}

/// How a component is recognised, for messages: `app.kubernetes.io/name=ingestion-gateway or named ingestion-gateway`.
pub fn selector_text(k: &KubeSnapshot, c: Component) -> String {
    let Some(sel) = k.selector(c) else { return format!("no selector configured for {}", c.key()) };
    let labels = sel.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    match (labels.is_empty(), sel.name.is_empty()) {
        (false, false) => format!("{labels} or named {}", sel.name),
        (false, true) => labels,
        (true, _) => format!("named {}", sel.name),
    }
}

/// An InfraSage service component must run in scope; its absence is a finding, not a skip.
pub fn missing_component(k: &KubeSnapshot, c: Component) -> Finding {
    Finding::new(scope_ref(k), format!("no {} workload found (selector {})", c.human(), selector_text(k, c)))
}

/// ClickHouse and Kafka may run outside Kubernetes, so their absence leaves an item undecided.
pub fn no_component(k: &KubeSnapshot, c: Component) -> Undecided {
    Undecided::skipped(format!("no {} workload in namespaces {}", c.human(), namespaces_text(k)))
}

pub fn main_containers<'a>(w: &Workload<'a>) -> impl Iterator<Item = &'a Container> {
    w.containers().filter(|(_, init)| !init).map(|(c, _)| c)
}

/// The workloads of the InfraSage service components (gateway, aiops, ml, admin UI), each once,
/// and a finding for every service component that has none.
pub fn service_workloads(k: &KubeSnapshot) -> (Vec<Workload<'_>>, Vec<Finding>) {
    let mut workloads: Vec<Workload<'_>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut missing = Vec::new();
    for c in Component::SERVICES {
        let found = k.component_workloads(c);
        if found.is_empty() {
            missing.push(missing_component(k, c));
        }
        for w in found {
            // A workload matched by two components' selectors is still one workload.
            // By address: one object, however many selectors match it (a set: 10,000s of pods).
            if seen.insert(std::ptr::from_ref(w.meta)) {
                workloads.push(w);
            }
        }
    }
    (workloads, missing)
}
