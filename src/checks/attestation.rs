//! Items a person signs off in the config. A sign-off holds for `expires_after`, then the item
//! fails again so a go-live claim cannot silently rot.

use super::CheckCtx;
use crate::catalogue::SourceId;
use crate::outcome::{CheckResult, Finding, Outcome};

pub fn attested(ctx: &CheckCtx) -> CheckResult {
    let object = format!("attestations.{}", ctx.item.id);
    let Some(a) = ctx.attestation else {
        return Ok(Outcome::fail("not attested", vec![Finding::new(object, "no sign-off in the config")]));
    };
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    if a.at > ctx.now {
        let why = format!("signed off by {} at a future date {}", a.by, day(a.at));
        return Ok(Outcome::fail(why.clone(), vec![Finding::new(object, why)]));
    }
    let expires = a.expires_at();
    if ctx.now >= expires {
        let why = format!("expired on {} (attested by {} on {})", day(expires), a.by, day(a.at));
        return Ok(Outcome::fail(why.clone(), vec![Finding::new(object, why)]));
    }
    let evidence = a.evidence.as_deref().map(|e| format!(", evidence {e}")).unwrap_or_default();
    Ok(Outcome::pass(format!("attested by {} on {}, valid until {}{evidence}", a.by, day(a.at), day(expires))))
}

/// Attested, or (with the ClickHouse source of a later release) a recent RESTORE on record.
pub fn backup_restore_tested(ctx: &CheckCtx) -> CheckResult {
    let outcome = attested(ctx)?;
    if outcome.status == crate::outcome::Status::Pass {
        return Ok(outcome);
    }
    let note = match ctx.snapshot.source_status(SourceId::Clickhouse) {
        Ok(()) => "no RESTORE on record".to_string(),
        Err(u) => format!("no RESTORE record read ({})", u.reason),
    };
    Ok(Outcome { reason: Some(format!("{}; {note}", outcome.reason.unwrap_or_default())), ..outcome })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::catalogue;
    use crate::checks::Params;
    use crate::config::{parse_instant, Attestation, HumanDuration};
    use crate::outcome::Status;
    use crate::snapshot::Snapshot;

    fn run(id: &str, a: Option<Attestation>, now: &str) -> Outcome {
        let item = catalogue::find(id).unwrap();
        let s = Snapshot::default();
        let params = Params::resolve(item, None);
        let ctx =
            CheckCtx { item, snapshot: &s, params: &params, now: parse_instant(now).unwrap(), attestation: a.as_ref() };
        let f = crate::checks::find(id).unwrap();
        f(&ctx).unwrap_or_else(Outcome::from)
    }

    fn signed(at: &str, days: u64) -> Attestation {
        Attestation {
            by: "alice".into(),
            at: parse_instant(at).unwrap(),
            evidence: Some("https://wiki.example/rto".into()),
            expires_after: HumanDuration(std::time::Duration::from_secs(days * 86_400)),
        }
    }

    #[test]
    fn unattested_fails() {
        let o = run("rto_rpo_documented", None, "2026-11-01");
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason.as_deref(), Some("not attested"));
        assert_eq!(o.findings[0].object, "attestations.rto_rpo_documented");
    }

    #[test]
    fn valid_attestation_passes_until_it_expires() {
        let o = run("rto_rpo_documented", Some(signed("2026-10-01", 90)), "2026-11-01");
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().contains("valid until 2026-12-30"));
        let o = run("rto_rpo_documented", Some(signed("2026-10-01", 90)), "2026-12-30");
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason.as_deref(), Some("expired on 2026-12-30 (attested by alice on 2026-10-01)"));
    }

    #[test]
    fn future_sign_off_does_not_count() {
        let o = run("gateway_load_tested", Some(signed("2027-01-01", 90)), "2026-11-01");
        assert_eq!(o.status, Status::Fail);
    }

    #[test]
    fn restore_test_says_why_clickhouse_did_not_help() {
        let o = run("backup_restore_tested", None, "2026-11-01");
        assert_eq!(o.status, Status::Fail);
        assert!(o.reason.unwrap().contains("clickhouse is not configured"));
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap().to_rfc3339();
        assert_eq!(run("backup_restore_tested", Some(signed("2026-10-01", 90)), &now).status, Status::Pass);
    }
}
