//! Items decided by a CEL expression over a JSON answer ([`crate::expr`]): the admin-API items
//! (request and expression are parameters) and the custom items of the config.

use serde_json::Value;

use super::CheckCtx;
use crate::catalogue::{Item, ParamKind};
use crate::config::CustomCheck;
pub use crate::expr::{compile, evaluate, Verdict};
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::http::{Answers, RequestKey};
use crate::snapshot::Snapshot;

/// The verdict as an outcome; `object` names the answer for a plain `false`.
fn outcome(v: Verdict, object: &str, why: &str) -> Outcome {
    match v {
        Verdict::Holds(true) => Outcome::pass(format!("{why}: holds")),
        Verdict::Holds(false) => {
            Outcome::fail(why.to_string(), vec![Finding::new(object, format!("does not hold: {why}"))])
        }
        Verdict::Offending(names) => Outcome::from_findings(
            names.into_iter().map(|n| Finding::new(n, why.to_string())).collect(),
            format!("{why}: holds"),
        ),
    }
}

fn answer<'a>(answers: &'a Answers, key: &RequestKey) -> Result<&'a Value, Undecided> {
    match answers.get(key) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(Undecided::error(e.clone())),
        None => Err(Undecided::error(format!("{key} was not requested"))),
    }
}

/// The parameters as the expression sees them: durations also in seconds.
pub fn params_value(item: &Item, ctx: &CheckCtx) -> Value {
    let mut map = serde_json::Map::new();
    for spec in item.params {
        let Ok(v) = ctx.params.value(spec.name) else { continue };
        if spec.kind == ParamKind::Duration {
            if let Ok(d) = ctx.params.duration(spec.name) {
                map.insert(
                    format!("{}_seconds", spec.name),
                    Value::from(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                );
            }
        }
        map.insert(spec.name.to_string(), v.clone());
    }
    Value::Object(map)
}

/// An admin-API item: its `request` answered by the API, its `expr` over the answer.
pub fn api_item(ctx: &CheckCtx) -> CheckResult {
    let api = ctx.snapshot.infrasage_api()?;
    let key = RequestKey::parse(ctx.params.str("request")?);
    let body = answer(&api.answers, &key)?;
    let v = evaluate(ctx.params.str("expr")?, body, &params_value(ctx.item, ctx))
        .map_err(|e| Undecided::error(format!("expr over {key}: {e}")))?;
    Ok(outcome(v, &key.to_string(), ctx.item.rule))
}

/// A custom item of the config, over the answers of the source it names.
pub fn custom(c: &CustomCheck, snapshot: &Snapshot) -> Outcome {
    let run = || -> CheckResult {
        let answers = snapshot.answers(&c.request.source)?;
        let key = RequestKey::new(&c.request.method, &c.request.path);
        let body = answer(answers, &key)?;
        let v = evaluate(&c.expr, body, &Value::Object(Default::default()))
            .map_err(|e| Undecided::error(format!("expr over {key}: {e}")))?;
        Ok(outcome(v, &format!("{} {key}", c.request.source), &c.title))
    };
    run().unwrap_or_else(Outcome::from)
}

#[cfg(test)]
#[path = "cel_tests.rs"]
mod tests;
