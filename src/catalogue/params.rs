//! An item's parameters: the catalogue defaults with the config's overrides laid over them.
//! Values are validated when the config loads, so a getter failing here means a bug, and it
//! becomes the item's `error` rather than a panic.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use super::Item;
use crate::outcome::Undecided;

#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    /// Defaults of `item`, overridden by `overrides` (already validated).
    pub fn resolve(item: &Item, overrides: Option<&BTreeMap<String, Value>>) -> Params {
        let mut values: BTreeMap<String, Value> =
            item.params.iter().map(|p| (p.name.to_string(), p.default_value())).collect();
        if let Some(o) = overrides {
            for (k, v) in o {
                values.insert(k.clone(), v.clone());
            }
        }
        Params { values }
    }

    pub fn from_pairs(pairs: &[(&str, Value)]) -> Params {
        Params { values: pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() }
    }

    /// The raw value, for checks that hand parameters on (CEL expressions).
    pub fn value(&self, name: &str) -> Result<&Value, Undecided> {
        self.get(name)
    }

    fn get(&self, name: &str) -> Result<&Value, Undecided> {
        self.values.get(name).ok_or_else(|| Undecided::error(format!("parameter {name} is not defined")))
    }

    fn bad(name: &str, want: &str) -> Undecided {
        Undecided::error(format!("parameter {name} is not {want}"))
    }

    pub fn str(&self, name: &str) -> Result<&str, Undecided> {
        self.get(name)?.as_str().ok_or_else(|| Self::bad(name, "a string"))
    }

    pub fn int(&self, name: &str) -> Result<i64, Undecided> {
        self.get(name)?.as_i64().ok_or_else(|| Self::bad(name, "an integer"))
    }

    pub fn float(&self, name: &str) -> Result<f64, Undecided> {
        self.get(name)?.as_f64().ok_or_else(|| Self::bad(name, "a number"))
    }

    pub fn regex(&self, name: &str) -> Result<Regex, Undecided> {
        Regex::new(self.str(name)?).map_err(|e| Undecided::error(format!("parameter {name}: {e}")))
    }

    pub fn duration(&self, name: &str) -> Result<Duration, Undecided> {
        parse_duration(self.str(name)?).map_err(|e| Undecided::error(format!("parameter {name}: {e}")))
    }

    pub fn list(&self, name: &str) -> Result<Vec<String>, Undecided> {
        let arr = self.get(name)?.as_array().ok_or_else(|| Self::bad(name, "a list"))?;
        arr.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| Self::bad(name, "a list of strings"))).collect()
    }

    /// An object whose values are strings or numbers, values rendered as text.
    pub fn map(&self, name: &str) -> Result<BTreeMap<String, Value>, Undecided> {
        let obj = self.get(name)?.as_object().ok_or_else(|| Self::bad(name, "a map"))?;
        Ok(obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// The longest duration accepted anywhere in the config or a param: longer ones are typing mistakes,
/// and date arithmetic on them would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 366 * 86_400);

/// `60s`, `26h`, `90d`, `1w`: humantime units, at most [`MAX_DURATION`] (100 years).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("bad duration {s:?}: {e}"))?;
    if d > MAX_DURATION {
        return Err(format!("{s:?} is longer than 100 years"));
    }
    Ok(d)
}
