//! Items a person signs off in the config. A sign-off holds for `expires_after`, then the item
//! fails again so a go-live claim cannot silently rot.

use super::CheckCtx;
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

/// Attested, or a successful RESTORE in ClickHouse's `system.backups` within `max_age`.
pub fn backup_restore_tested(ctx: &CheckCtx) -> CheckResult {
    let outcome = attested(ctx)?;
    if outcome.status == crate::outcome::Status::Pass {
        return Ok(outcome);
    }
    let max_age = ctx.params.duration("max_age")?;
    let note = match ctx.snapshot.clickhouse() {
        Ok(ch) => match &ch.backups {
            Ok(b) => match b.last_restore {
                Some(at) if age_within(ctx.now, at, max_age) => {
                    return Ok(Outcome::pass(format!(
                        "a RESTORE succeeded at {} (system.backups, within {})",
                        at.to_rfc3339(),
                        humantime::format_duration(max_age)
                    )))
                }
                Some(at) => format!("the newest successful RESTORE in system.backups is from {}", at.to_rfc3339()),
                None => "no successful RESTORE in system.backups".to_string(),
            },
            Err(why) => format!("no RESTORE record read ({why})"),
        },
        Err(u) => format!("no RESTORE record read ({})", u.reason),
    };
    Ok(Outcome { reason: Some(format!("{}; {note}", outcome.reason.unwrap_or_default())), ..outcome })
}

/// `at` is no older than `max_age` at `now` (and not in the future beyond clock skew).
pub fn age_within(
    now: chrono::DateTime<chrono::Utc>,
    at: chrono::DateTime<chrono::Utc>,
    max_age: std::time::Duration,
) -> bool {
    (now - at).to_std().map(|age| age <= max_age).unwrap_or(true)
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

    #[test]
    fn a_recent_restore_in_system_backups_passes_without_a_sign_off() {
        use crate::fixtures::{clickhouse_only, clickhouse_snapshot, fixed_now, run_on_snapshot};
        let mut ch = clickhouse_snapshot();
        let o = run_on_snapshot("backup_restore_tested", &clickhouse_only(ch.clone()), &[]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().starts_with("a RESTORE succeeded at 2025-06-02T11:00:00+00:00"));
        let old = fixed_now() - chrono::Duration::days(91);
        ch.backups.as_mut().unwrap().last_restore = Some(old);
        let o = run_on_snapshot("backup_restore_tested", &clickhouse_only(ch.clone()), &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.reason.as_deref(),
            Some("not attested; the newest successful RESTORE in system.backups is from 2025-03-03T12:00:00+00:00")
        );
        ch.backups = Err("server 18.16.1 has no system.backups".into());
        let o = run_on_snapshot("backup_restore_tested", &clickhouse_only(ch), &[]);
        assert!(o.reason.unwrap().ends_with("no RESTORE record read (server 18.16.1 has no system.backups)"));
    }
}
