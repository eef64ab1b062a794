//! The InfraSage services' own families: `infrasage_service_up{service}`,
//! `infrasage_service_info{service,version}`, `infrasage_service_probe_duration_seconds{service}`.

use prometheus::{GaugeVec, Opts, Registry};

use crate::snapshot::http::ServiceProbe;
use crate::snapshot::Snapshot;

/// Up means the service answered its `/health` with 200 (health content is the item's job).
fn up(p: &ServiceProbe) -> bool {
    p.error.is_none() && p.status == Some(200)
}

pub fn families(snapshot: &Snapshot) -> Vec<prometheus::proto::MetricFamily> {
    let Some(s) = snapshot.services.ready() else { return Vec::new() };
    let r = Registry::new();
    let g = |name: &str, help: &str, labels: &[&str]| {
        let g = GaugeVec::new(Opts::new(name, help), labels).expect("metric definitions are valid");
        r.register(Box::new(g.clone())).expect("each family is registered once");
        g
    };
    let up_g = g("infrasage_service_up", "Whether the service's /health answered 200 (1) or not (0).", &["service"]);
    let info =
        g("infrasage_service_info", "The version the service's /health reports; always 1.", &["service", "version"]);
    let took = g("infrasage_service_probe_duration_seconds", "How long the /health probe took.", &["service"]);
    for (name, p) in &s.services {
        up_g.with_label_values(&[name]).set(if up(p) { 1.0 } else { 0.0 });
        if let Some(v) = p.version().filter(|_| up(p)) {
            info.with_label_values(&[name.as_str(), v.as_str()]).set(1.0);
        }
        took.with_label_values(&[name]).set(p.duration_seconds);
    }
    r.gather()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::http::ServicesSnapshot;
    use crate::snapshot::SourceState;

    #[test]
    fn one_series_per_service_and_info_only_when_up() {
        let mut s = ServicesSnapshot::default();
        let ok = ServiceProbe {
            status: Some(200),
            body: Some(Ok(serde_json::json!({"status":"ok","version":"2.1.0"}))),
            duration_seconds: 0.25,
            ..Default::default()
        };
        s.services.insert("gateway".into(), ok);
        s.services.insert("ml".into(), ServiceProbe { error: Some("timed out".into()), ..Default::default() });
        let snap = Snapshot { services: SourceState::Ready(s.into()), ..Default::default() };
        let fams = families(&snap);
        let find = |n: &str| fams.iter().find(|f| f.name() == n).unwrap();
        let ups: Vec<(String, f64)> = find("infrasage_service_up")
            .get_metric()
            .iter()
            .map(|m| (m.get_label()[0].value().to_string(), m.get_gauge().get_value()))
            .collect();
        assert_eq!(ups, [("gateway".to_string(), 1.0), ("ml".to_string(), 0.0)]);
        let info = find("infrasage_service_info").get_metric();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].get_label()[1].value(), "2.1.0");
        assert!(families(&Snapshot::default()).is_empty());
    }

    /// A service that answers with a credential it was sent (or pages of text) as its version.
    #[test]
    fn the_version_label_is_one_short_line_without_secrets() {
        crate::redact::register("svc-version-Secret-0451");
        let version = format!("2.1.0 Bearer svc-version-Secret-0451\n{}", "x".repeat(500));
        let p = ServiceProbe {
            status: Some(200),
            body: Some(Ok(serde_json::json!({"status":"ok","version": version}))),
            ..Default::default()
        };
        let v = p.version().unwrap();
        assert!(v.starts_with("2.1.0 Bearer *** x") && !v.contains('\n') && v.chars().count() <= 65, "{v}");
    }
}
