//! What a source's config section says of itself, in the source's own module: its checks
//! beyond the types (refusals by key path), its paths, its secrets.

use std::path::{Path, PathBuf};

use regex::Regex;

use super::primitives::{HumanDuration, TlsConfig};

/// A source's config section (`kafka:`, `clickhouse:` ...).
pub trait Section {
    /// Refusals beyond the types, each under `key` (where the section sits: `kafka`).
    fn validate(&self, key: &str, v: &mut Validator);
    /// Every path it holds, made relative to the config file at load.
    fn paths_mut(&mut self) -> Vec<&mut PathBuf>;
    /// The files holding its secrets, known to the redactor before any source runs.
    fn secret_files(&self) -> Vec<&Path> {
        Vec::new()
    }
    /// How often the source gathers when it has an `interval` of its own (else the global one).
    fn interval(&self) -> Option<std::time::Duration>;
}

/// A refusal: the key path it concerns, the environment variable that set it (if one did)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
    pub env: Option<String>,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), reason: reason.into(), env: None }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.key.is_empty(), &self.env) {
            (true, _) => write!(f, "config: {}", self.reason),
            (false, None) => write!(f, "config key `{}`: {}", self.key, self.reason),
            (false, Some(var)) => write!(f, "config key `{}` (set by {var}): {}", self.key, self.reason),
        }
    }
}

#[derive(Default)]
pub struct Validator {
    pub(crate) errors: Vec<ConfigError>,
}

impl Validator {
    pub fn err(&mut self, key: &str, reason: impl Into<String>) {
        self.errors.push(ConfigError::new(key, reason));
    }

    /// A `*_file` must be a regular file this process can read (a directory opens on Linux,
    /// then fails at the first read; a FIFO would block the evaluation).
    pub fn file(&mut self, key: &str, path: Option<&Path>) -> bool {
        let Some(p) = path else { return false };
        let readable = std::fs::metadata(p)
            .and_then(|m| if m.is_file() { Ok(()) } else { Err(std::io::Error::other("not a regular file")) })
            .and_then(|()| std::fs::File::open(p).map(drop));
        match readable {
            Ok(()) => true,
            Err(e) => {
                self.err(key, format!("cannot read {}: {e}", p.display()));
                false
            }
        }
    }

    /// The TLS files hold what they are named for: at least one certificate, and a private key.
    pub fn tls(&mut self, key: &str, tls: Option<&TlsConfig>) {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let Some(t) = tls else { return };
        for (name, path) in [("ca_file", &t.ca_file), ("cert_file", &t.cert_file)] {
            let k = format!("{key}.{name}");
            if self.file(&k, path.as_deref()) {
                let p = path.as_deref().expect("checked above");
                let certs = CertificateDer::pem_file_iter(p).map(|it| it.take_while(Result::is_ok).count());
                if !matches!(certs, Ok(n) if n > 0) {
                    self.err(&k, format!("{} holds no PEM certificate", p.display()));
                }
            }
        }
        let k = format!("{key}.key_file");
        if self.file(&k, t.key_file.as_deref()) {
            let p = t.key_file.as_deref().expect("checked above");
            if PrivateKeyDer::from_pem_file(p).is_err() {
                // The parser's message is not quoted: it could carry key material.
                self.err(&k, format!("{} holds no PEM private key", p.display()));
            }
        }
        if t.cert_file.is_some() != t.key_file.is_some() {
            self.err(key, "cert_file and key_file go together");
        }
    }

    pub fn timeout(&mut self, key: &str, t: HumanDuration) {
        if t.0.is_zero() {
            self.err(key, "must be longer than zero");
        }
    }

    pub fn url(&mut self, key: &str, url: &str) {
        // Userinfo is a credential written in the file, refused like the other inline secrets;
        // the URL itself is not quoted then, as it holds the password.
        let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            self.err(
                key,
                "credentials in the URL (user:password@) are not accepted; \
                 use the *_file key or the environment for secrets",
            );
            return;
        }
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            self.err(key, format!("{url:?} is not an http:// or https:// URL"));
        }
    }

    pub fn regex(&mut self, key: &str, re: Option<&str>) {
        if let Some(re) = re {
            if let Err(e) = Regex::new(re) {
                self.err(key, format!("bad regex: {e}"));
            }
        }
    }
}
