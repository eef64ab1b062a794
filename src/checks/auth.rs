//! Checks of the auth category that need more than one admin-API answer.

use super::CheckCtx;
use crate::outcome::{CheckResult, Outcome, Status};
use crate::snapshot::SourceState;

// ---- audit_logging_retention

/// The admin API says whether audit logging is enabled and how long it keeps data (CEL over
/// `GET /api/v1/settings`); the audit table's TTL in ClickHouse is the other evidence of
/// retention. A short retention setting is forgiven when the TTL keeps rows long enough. Without
/// the API nobody can say logging is enabled, so the item is never a pass then; a TTL that is
/// too short is still a fail, and a ClickHouse that failed is this item's error.
pub fn audit_logging_retention(ctx: &CheckCtx) -> CheckResult {
    let ch_failed = match &ctx.snapshot.clickhouse {
        SourceState::Failed(_) => ctx.snapshot.clickhouse().err(),
        _ => None,
    };
    let ch = ctx.snapshot.clickhouse.ready().map(|ch| -> CheckResult {
        let table = ctx.params.str("audit_table")?;
        let min = ctx.params.duration("min_retention")?;
        Ok(super::table_retention::clickhouse_audit_retention(ch, table, min))
    });
    let ch = ch.transpose()?;
    match super::cel::api_item(ctx) {
        Ok(api) if api.status == Status::Pass => Ok(api),
        Ok(api) => {
            let only_retention =
                !api.findings.is_empty() && api.findings.iter().all(|f| f.object.contains("retention_days"));
            match ch {
                Some(ch) if only_retention && ch.status == Status::Pass => {
                    Ok(Outcome::pass(format!("the retention setting is short, but {}", ch.reason.unwrap_or_default())))
                }
                _ => Ok(api),
            }
        }
        Err(undecided) => match (ch, ch_failed) {
            (Some(ch), _) if ch.status == Status::Fail => Ok(ch),
            (_, Some(ch_error)) if undecided.status != Status::Error => Err(ch_error),
            _ => Err(undecided),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::fixtures::{clickhouse_snapshot, finding_objects, run_on_snapshot};
    use crate::outcome::Status;
    use crate::snapshot::clickhouse::TableDef;
    use crate::snapshot::{ApiSnapshot, Snapshot, SourceState};

    fn settings(enabled: bool, days: i64) -> ApiSnapshot {
        let body = json!({"audit_logging": {"enabled": enabled, "retention_days": days}});
        ApiSnapshot {
            answers: [(crate::snapshot::http::RequestKey::parse("GET /api/v1/settings"), Ok(body))]
                .into_iter()
                .collect(),
        }
    }

    fn audit_ttl_days(days: u32) -> crate::snapshot::ClickhouseSnapshot {
        let mut ch = clickhouse_snapshot();
        ch.tables.insert(
            "infrasage.audit_log".into(),
            Some(TableDef {
                engine: "MergeTree".into(),
                engine_full: format!("MergeTree ORDER BY ts TTL ts + toIntervalDay({days})"),
                ..Default::default()
            }),
        );
        ch
    }

    fn run(api: Option<ApiSnapshot>, ch: Option<crate::snapshot::ClickhouseSnapshot>) -> crate::outcome::Outcome {
        let s = Snapshot {
            infrasage_api: api.map(|a| SourceState::Ready(a.into())).unwrap_or_default(),
            clickhouse: ch.map(|c| SourceState::Ready(c.into())).unwrap_or_default(),
            ..Default::default()
        };
        run_on_snapshot("audit_logging_retention", &s, &[])
    }

    #[test]
    fn the_setting_decides_and_a_long_ttl_makes_up_for_a_short_setting() {
        assert_eq!(run(Some(settings(true, 365)), None).status, Status::Pass);
        let short = run(Some(settings(true, 30)), None);
        assert_eq!(finding_objects(&short), ["audit_logging.retention_days"]);
        let o = run(Some(settings(true, 30)), Some(audit_ttl_days(180)));
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().starts_with("the retention setting is short, but "));
        let o = run(Some(settings(true, 30)), Some(audit_ttl_days(30)));
        assert_eq!(finding_objects(&o), ["audit_logging.retention_days"]);
    }

    #[test]
    fn disabled_logging_fails_whatever_the_ttl() {
        let o = run(Some(settings(false, 365)), Some(audit_ttl_days(365)));
        assert_eq!(finding_objects(&o), ["audit_logging.enabled"]);
    }

    #[test]
    fn without_the_api_never_a_pass_but_a_short_ttl_fails() {
        let o = run(None, Some(audit_ttl_days(365)));
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(o.reason.as_deref(), Some("infrasage_api is not configured"));
        let o = run(None, Some(audit_ttl_days(30)));
        assert_eq!(finding_objects(&o), ["ClickHouse table infrasage.audit_log"]);
        let s = Snapshot { clickhouse: SourceState::Failed("connection refused".into()), ..Default::default() };
        let o = run_on_snapshot("audit_logging_retention", &s, &[]);
        assert_eq!(o.status, Status::Error, "a failed ClickHouse is worth more than a skip: {o:?}");
    }
}
