//! The go-live health items: each InfraSage service's `/health` answers 200 with JSON
//! `status == "ok"` and a `version` string.

use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::http::ServiceProbe;

pub fn gateway_health(ctx: &CheckCtx) -> CheckResult {
    service(ctx, "gateway")
}

pub fn aiops_health(ctx: &CheckCtx) -> CheckResult {
    service(ctx, "aiops")
}

pub fn ml_health(ctx: &CheckCtx) -> CheckResult {
    service(ctx, "ml")
}

fn service(ctx: &CheckCtx, name: &str) -> CheckResult {
    let s = ctx.snapshot.services()?;
    let probe = s.services.get(name).ok_or_else(|| Undecided::skipped(format!("services.{name} is not configured")))?;
    let object = format!("services.{name} {}/health", probe.url.trim_end_matches('/'));
    Ok(match verdict(probe) {
        Ok(version) => Outcome::pass(format!("{object} is ok (version {version})")),
        Err(why) => Outcome::from_findings(vec![Finding::new(object, why)], ""),
    })
}

/// The version of a healthy answer, or what is wrong with it.
fn verdict(p: &ServiceProbe) -> Result<String, String> {
    if let Some(e) = &p.error {
        return Err(format!("no answer: {e}"));
    }
    let status = p.status.unwrap_or(0);
    if status != 200 {
        return Err(format!("answered HTTP {status}, not 200"));
    }
    let body = match &p.body {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(format!("the body is {e}")),
        None => return Err("no body".to_string()),
    };
    match body.get("status").and_then(|s| s.as_str()) {
        Some("ok") => {}
        Some(other) => return Err(format!("status is {:?}, not \"ok\"", crate::redact::excerpt(other, 64))),
        None => return Err("the answer has no status string".to_string()),
    }
    match p.version() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err("the answer has no version string".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;
    use serde_json::json;

    fn probe(status: u16, body: Result<serde_json::Value, String>) -> ServiceProbe {
        ServiceProbe { url: "http://x".into(), status: Some(status), body: Some(body), ..Default::default() }
    }

    #[test]
    fn only_200_ok_with_a_version_passes() {
        assert_eq!(verdict(&probe(200, Ok(json!({"status":"ok","version":"1.4.2"})))), Ok("1.4.2".into()));
        let bad = [
            (probe(200, Ok(json!({"status":"degraded","version":"1"}))), "status is \"degraded\""),
            (probe(200, Ok(json!({"status":"ok"}))), "no version"),
            (probe(200, Ok(json!({"status":"ok","version":3}))), "no version"),
            (probe(500, Ok(json!({"status":"ok","version":"1"}))), "HTTP 500"),
            (probe(200, Err("not JSON: expected value".into())), "not JSON"),
            (ServiceProbe { error: Some("timed out".into()), ..Default::default() }, "timed out"),
        ];
        for (p, want) in bad {
            let e = verdict(&p).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn an_unconfigured_service_is_skipped_and_a_bad_one_names_the_url() {
        use crate::snapshot::http::ServicesSnapshot;
        use crate::snapshot::{Snapshot, SourceState};
        let mut s = ServicesSnapshot::default();
        s.services.insert("gateway".into(), probe(503, Ok(json!({}))));
        let snap = Snapshot { services: SourceState::Ready(s.into()), ..Default::default() };
        let o = crate::fixtures::run_on_snapshot("gateway_health", &snap, &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.findings[0].object, "services.gateway http://x/health");
        let o = crate::fixtures::run_on_snapshot("ml_health", &snap, &[]);
        assert_eq!((o.status, o.reason.as_deref()), (Status::Skipped, Some("services.ml is not configured")));
    }
}
