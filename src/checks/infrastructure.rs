//! Checks of the infrastructure category.

use super::CheckCtx;
use crate::outcome::{CheckResult, Undecided};

pub fn clickhouse_persistent_volumes(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn clickhouse_backup_scheduled(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn pods_resources_set(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn pdb_clickhouse_kafka(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn node_isolation(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn pvc_wait_for_first_consumer(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}
