//! The `kafka:` section: brokers, SASL and TLS, which topics and groups are in scope.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::primitives::{default_timeout, AllowDeny, HumanDuration, SecretString, TlsConfig};
use crate::config::section::{Section, Validator};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub client_id: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub sasl: Option<SaslConfig>,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub topics: AllowDeny,
    #[serde(default)]
    pub consumer_groups: AllowDeny,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    pub mechanism: String,
    pub username: String,
    pub password_file: Option<PathBuf>,
    /// Only from the environment.
    pub password: Option<SecretString>,
}

impl KafkaConfig {
    /// Keys under the section that hold a secret: only from the environment.
    pub const ENV_ONLY: &'static [&'static str] = &["sasl.password"];
}

impl Section for KafkaConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        if self.bootstrap_servers.split(',').all(|s| s.trim().is_empty()) {
            v.err(&format!("{key}.bootstrap_servers"), "names no broker");
        }
        if let Some(s) = &self.sasl {
            if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&s.mechanism.as_str()) {
                v.err(
                    &format!("{key}.sasl.mechanism"),
                    format!("{:?} is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mechanism),
                );
            }
            v.file(&format!("{key}.sasl.password_file"), s.password_file.as_deref());
            if s.password_file.is_none() && s.password.is_none() {
                v.err(&format!("{key}.sasl"), "needs password_file (or the password in the environment)");
            }
        }
        v.tls(&format!("{key}.tls"), self.tls.as_ref());
        v.timeout(&format!("{key}.timeout"), self.timeout);
        if self.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            v.err(&format!("{key}.tls.insecure_skip_verify"), "not supported for Kafka; give ca_file instead");
        }
        for (name, ad) in [("topics", &self.topics), ("consumer_groups", &self.consumer_groups)] {
            v.regex(&format!("{key}.{name}.allow"), ad.allow.as_deref());
            v.regex(&format!("{key}.{name}.deny"), ad.deny.as_deref());
        }
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        let sasl = self.sasl.iter_mut().flat_map(|s| s.password_file.iter_mut());
        sasl.chain(self.tls.iter_mut().flat_map(TlsConfig::paths_mut)).collect()
    }

    fn secret_files(&self) -> Vec<&Path> {
        self.sasl.iter().filter_map(|s| s.password_file.as_deref()).collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}
