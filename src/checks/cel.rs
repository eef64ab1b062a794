//! Items decided by a CEL expression over a JSON answer: the admin-API items (request and
//! expression are parameters) and the custom items of the config.
//!
//! Convention: the expression sees `body` (the JSON answer) and `params` (the item's
//! parameters; each duration also as `<name>_seconds`). It returns a bool (true passes) or a
//! list of strings naming what is at fault (empty passes). Anything else is the item's error.

use serde_json::Value;

use super::CheckCtx;
use crate::catalogue::{Item, ParamKind};
use crate::config::CustomCheck;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::http::Answers;
use crate::snapshot::Snapshot;
use crate::sources::http::plan;

/// What an expression decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds(bool),
    Offending(Vec<String>),
}

/// Whether `expr` compiles; the message is the parser's.
pub fn compile(expr: &str) -> Result<cel::Program, String> {
    // The parser may panic on some malformed input; that is a compile error too.
    match std::panic::catch_unwind(|| cel::Program::compile(expr)) {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string().lines().next().unwrap_or("does not compile").to_string()),
        Err(_) => Err("does not compile".to_string()),
    }
}

/// Runs `expr` over `body` with `params`.
pub fn evaluate(expr: &str, body: &Value, params: &Value) -> Result<Verdict, String> {
    let program = compile(expr)?;
    let mut ctx = cel::Context::default();
    ctx.add_variable("body", cel::to_value(Signed(body)).map_err(|e| format!("body: {e}"))?)
        .map_err(|e| format!("body: {e}"))?;
    ctx.add_variable("params", cel::to_value(Signed(params)).map_err(|e| format!("params: {e}"))?)
        .map_err(|e| format!("params: {e}"))?;
    match program.execute(&ctx).map_err(|e| e.to_string())? {
        cel::Value::Bool(b) => Ok(Verdict::Holds(b)),
        cel::Value::List(items) => items
            .iter()
            .map(|v| match v {
                cel::Value::String(s) => Ok(s.to_string()),
                other => Err(format!("the list holds a {:?}, not strings", other.type_of())),
            })
            .collect::<Result<_, _>>()
            .map(Verdict::Offending),
        other => Err(format!("the expression gives a {:?}, not a bool or a list of strings", other.type_of())),
    }
}

/// JSON as CEL sees it: whole numbers are `int` (serde_json would hand positive ones over as
/// `uint`, and CEL refuses `uint * int`, so `retention_days * 86400` would fail).
struct Signed<'a>(&'a Value);

impl serde::Serialize for Signed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => s.serialize_i64(i),
                (None, Some(u), _) => s.serialize_u64(u),
                (_, _, f) => s.serialize_f64(f.unwrap_or(f64::NAN)),
            },
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Signed(v))?;
                }
                seq.end()
            }
            Value::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    map.serialize_entry(k, &Signed(v))?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

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

fn answer<'a>(answers: &'a Answers, key: &str) -> Result<&'a Value, Undecided> {
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
    let (m, p) = plan::split(ctx.params.str("request")?);
    let key = plan::key(m, p);
    let body = answer(&api.answers, &key)?;
    let v = evaluate(ctx.params.str("expr")?, body, &params_value(ctx.item, ctx))
        .map_err(|e| Undecided::error(format!("expr over {key}: {e}")))?;
    Ok(outcome(v, &key, ctx.item.rule))
}

/// A custom item of the config, over the answers of the source it names.
pub fn custom(c: &CustomCheck, snapshot: &Snapshot) -> Outcome {
    let run = || -> CheckResult {
        let answers = snapshot.answers(&c.request.source)?;
        let key = plan::key(&c.request.method, &c.request.path);
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
