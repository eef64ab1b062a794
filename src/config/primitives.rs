//! The config's building blocks every section uses: durations, secrets from the environment,
//! TLS files, allow/deny filters, and what a source's section must say of itself
//! ([`Section`]), with the [`Validator`] that collects refusals by key path.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// A duration written as `60s`, `26h`, `90d` (or a number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a duration like 60s, 26h or 90d"))? {
            Raw::Secs(s) if Duration::from_secs(s) <= crate::catalogue::MAX_DURATION => {
                Ok(HumanDuration(Duration::from_secs(s)))
            }
            Raw::Secs(s) => Err(serde::de::Error::custom(format!("{s} seconds is longer than 100 years"))),
            Raw::Text(t) => crate::catalogue::parse_duration(&t).map(HumanDuration).map_err(serde::de::Error::custom),
        }
    }
}

/// A secret given through the environment. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(pub String);

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The environment layer may have parsed a numeric secret into a number.
        let v = serde_json::Value::deserialize(d)?;
        let s = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return Err(serde::de::Error::custom("expected a string")),
        };
        // Known to the redactor from the moment it is read.
        crate::redact::register(&s);
        Ok(SecretString(s))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    pub fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        [&mut self.ca_file, &mut self.cert_file, &mut self.key_file].into_iter().flatten()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowDeny {
    pub allow: Option<String>,
    pub deny: Option<String>,
}
