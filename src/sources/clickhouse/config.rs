//! The `clickhouse:` section: the HTTP interface, the login, TLS.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::primitives::{default_timeout, HumanDuration, SecretString, TlsConfig};
use crate::config::section::{Section, Validator};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickhouseConfig {
    pub url: String,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Only from the environment.
    pub password: Option<SecretString>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

impl ClickhouseConfig {
    /// Keys under the section that hold a secret: only from the environment.
    pub const ENV_ONLY: &'static [&'static str] = &["password"];
}

impl Section for ClickhouseConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        v.url(&format!("{key}.url"), &self.url);
        v.file(&format!("{key}.password_file"), self.password_file.as_deref());
        v.timeout(&format!("{key}.timeout"), self.timeout);
        v.tls(&format!("{key}.tls"), self.tls.as_ref());
        if self.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            v.err(&format!("{key}.tls.insecure_skip_verify"), "not supported: give the server's CA as ca_file");
        }
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.password_file.iter_mut().chain(self.tls.iter_mut().flat_map(TlsConfig::paths_mut)).collect()
    }

    fn secret_files(&self) -> Vec<&Path> {
        self.password_file.as_deref().into_iter().collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}
