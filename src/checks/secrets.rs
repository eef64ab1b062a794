//! Checks of the secrets category.

use super::CheckCtx;
use crate::outcome::{CheckResult, Undecided};

pub fn jwt_secret_strong(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn secrets_not_in_configmaps(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn anthropic_key_from_secret(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}
