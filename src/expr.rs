//! The expression language of the admin-API and custom items: CEL over a JSON answer. Here so
//! the config can check that an expression compiles without depending on the checks.
//!
//! Convention: the expression sees `body` (the JSON answer) and `params` (the item's
//! parameters; each duration also as `<name>_seconds`). It returns a bool (true passes) or a
//! list of strings naming what is at fault (empty passes). Anything else is the item's error.

use serde_json::Value;

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
