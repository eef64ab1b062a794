//! Checks of the scaling category.

use super::CheckCtx;
use crate::outcome::{CheckResult, Undecided};

pub fn scale_profile_matches_volume(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn clickhouse_storage_headroom(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn gateway_hpa(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn aiops_replicas_ha(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn clickhouse_memory_limit(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}
