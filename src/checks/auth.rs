//! Checks of the auth category that need more than one admin-API answer.

use super::CheckCtx;
use crate::outcome::{CheckResult, Outcome, Status};

// ---- audit_logging_retention

/// The admin API says whether audit logging is enabled and how long it keeps data (CEL over
/// `GET /api/v1/settings`); the audit table's TTL in ClickHouse is the other evidence of
/// retention. A short retention setting is forgiven when the TTL keeps rows long enough. Without
/// the API nobody can say logging is enabled, so the item is never a pass then; a TTL that is
/// too short is still a fail.
pub fn audit_logging_retention(ctx: &CheckCtx) -> CheckResult {
    let ch = ctx.snapshot.clickhouse.ready().map(|ch| -> CheckResult {
        let table = ctx.params.str("audit_table")?;
        let min = ctx.params.duration("min_retention")?;
        Ok(super::retention::clickhouse_audit_retention(ch, table, min))
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
        Err(undecided) => match ch {
            Some(ch) if ch.status == Status::Fail => Ok(ch),
            _ => Err(undecided),
        },
    }
}
