//! Checks of the retention category.

use super::CheckCtx;
use crate::outcome::{CheckResult, Undecided};

pub fn log_field_exclusions(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn data_residency(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}
