//! The sections of the HTTP sources: `services:` (each InfraSage service's `/health`),
//! `prometheus:` and `alertmanager:` (a URL), `grafana:` and `infrasage_api:` (a URL and a token).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::primitives::{default_timeout, HumanDuration, SecretString, TlsConfig};
use crate::config::section::{Section, Validator};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    pub gateway: Option<ServiceEndpoint>,
    pub aiops: Option<ServiceEndpoint>,
    pub ml: Option<ServiceEndpoint>,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEndpoint {
    pub url: String,
    pub tls: Option<TlsConfig>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    pub url: String,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenHttpSourceConfig {
    pub url: String,
    pub token_file: Option<PathBuf>,
    /// Only from the environment.
    pub token: Option<SecretString>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    pub tls: Option<TlsConfig>,
    /// How often this source gathers (default: the global `interval`).
    pub interval: Option<HumanDuration>,
}

impl ServicesConfig {
    /// The configured services by name.
    pub fn endpoints(&self) -> impl Iterator<Item = (&'static str, &ServiceEndpoint)> {
        [("gateway", &self.gateway), ("aiops", &self.aiops), ("ml", &self.ml)]
            .into_iter()
            .filter_map(|(name, ep)| ep.as_ref().map(|ep| (name, ep)))
    }
}

impl Section for ServicesConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        for (name, ep) in self.endpoints() {
            v.url(&format!("{key}.{name}.url"), &ep.url);
            v.timeout(&format!("{key}.{name}.timeout"), ep.timeout);
            v.tls(&format!("{key}.{name}.tls"), ep.tls.as_ref());
        }
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        [&mut self.gateway, &mut self.aiops, &mut self.ml]
            .into_iter()
            .flatten()
            .flat_map(|ep| ep.tls.iter_mut().flat_map(TlsConfig::paths_mut))
            .collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}

impl Section for HttpSourceConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        v.url(&format!("{key}.url"), &self.url);
        v.timeout(&format!("{key}.timeout"), self.timeout);
        v.tls(&format!("{key}.tls"), self.tls.as_ref());
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.tls.iter_mut().flat_map(TlsConfig::paths_mut).collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}

impl TokenHttpSourceConfig {
    /// Keys under the section that hold a secret: only from the environment.
    pub const ENV_ONLY: &'static [&'static str] = &["token"];
}

impl Section for TokenHttpSourceConfig {
    fn validate(&self, key: &str, v: &mut Validator) {
        v.url(&format!("{key}.url"), &self.url);
        v.file(&format!("{key}.token_file"), self.token_file.as_deref());
        v.timeout(&format!("{key}.timeout"), self.timeout);
        v.tls(&format!("{key}.tls"), self.tls.as_ref());
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.token_file.iter_mut().chain(self.tls.iter_mut().flat_map(TlsConfig::paths_mut)).collect()
    }

    fn secret_files(&self) -> Vec<&Path> {
        self.token_file.as_deref().into_iter().collect()
    }

    fn interval(&self) -> Option<std::time::Duration> {
        self.interval.map(|i| i.0)
    }
}
