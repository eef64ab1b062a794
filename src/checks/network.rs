//! Checks of the network category.

use super::CheckCtx;
use crate::outcome::{CheckResult, Undecided};

pub fn mtls_enabled(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn gateway_tls_ingress(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn admin_ui_not_public(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn network_policies_namespace_isolation(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}

pub fn egress_restricted(_ctx: &CheckCtx) -> CheckResult {
    Err(Undecided::skipped("not implemented"))
}
