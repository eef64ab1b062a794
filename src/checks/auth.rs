//! Checks of the auth category.

use super::CheckCtx;
use crate::outcome::CheckResult;

// ---- audit_logging_retention

/// The ClickHouse half only for now: the audit table's TTL keeps rows at least
/// `min_retention`. The InfraSage API half (audit logging enabled, its `retention_days`) is to
/// be combined with [`super::retention::clickhouse_audit_retention`] when that source lands;
/// until then this item decides from ClickHouse alone.
pub fn audit_logging_retention(ctx: &CheckCtx) -> CheckResult {
    let ch = ctx.snapshot.clickhouse()?;
    let table = ctx.params.str("audit_table")?;
    let min = ctx.params.duration("min_retention")?;
    Ok(super::retention::clickhouse_audit_retention(ch, table, min))
}
