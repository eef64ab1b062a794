//! `--web.config.file`: the exporter-toolkit's web configuration (the file every Prometheus
//! exporter takes), read into what the endpoint enforces: TLS (rustls) with an optional
//! client CA, basic auth against bcrypt hashes, extra response headers. Paths in it are
//! relative to the file, as the toolkit reads them. Re-read on reload.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::header::{HeaderName, HeaderValue};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    tls_server_config: Option<TlsServerConfig>,
    http_server_config: Option<HttpServerConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default = "no_client_cert")]
    client_auth_type: String,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

fn no_client_cert() -> String {
    "NoClientCert".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpServerConfig {
    /// Accepted for the toolkit's files; this endpoint speaks HTTP/1.1.
    #[serde(default)]
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The headers the toolkit lets a web config set.
const SETTABLE_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// What the endpoint enforces.
pub struct WebSecurity {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    users: BTreeMap<String, String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Digests of credentials already verified: bcrypt is slow on purpose, a scrape every
    /// few seconds should not pay it each time (the toolkit caches alike).
    verified: Mutex<HashSet<Vec<u8>>>,
}

impl std::fmt::Debug for WebSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSecurity").field("tls", &self.tls.is_some()).field("users", &self.users.len()).finish()
    }
}

impl WebSecurity {
    /// Plain HTTP, no authentication: without `--web.config.file`.
    pub fn open() -> WebSecurity {
        WebSecurity { tls: None, users: BTreeMap::new(), headers: Vec::new(), verified: Mutex::default() }
    }

    /// Reads and checks the file: every problem is refused here, at start or reload.
    pub fn load(path: &Path) -> Result<WebSecurity, String> {
        let at = |why: String| format!("web config {}: {why}", path.display());
        let tree = crate::config::read_yaml_file(path)?;
        let file: WebConfigFile = serde_path_to_error::deserialize(tree).map_err(|e| {
            at(format!("{}: {}", e.path(), crate::redact::serde_message_keeping_names(&e.inner().to_string())))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = file.tls_server_config.map(|t| tls(&t, dir)).transpose().map_err(at)?.map(Arc::new);
        for (user, hash) in &file.basic_auth_users {
            if bcrypt_cost(hash).is_none() {
                return Err(at(format!("basic_auth_users.{user}: not a bcrypt hash ($2a$, $2b$ or $2y$)")));
            }
        }
        let mut headers = Vec::new();
        for (name, value) in file.http_server_config.unwrap_or_default().headers {
            let Some(known) = SETTABLE_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(&name)) else {
                return Err(at(format!(
                    "http_server_config.headers.{name}: not one of {}",
                    SETTABLE_HEADERS.join(", ")
                )));
            };
            let value = HeaderValue::from_str(&value)
                .map_err(|_| at(format!("http_server_config.headers.{name}: not a header value")))?;
            let name = HeaderName::from_bytes(known.as_bytes()).expect("the toolkit's header names are valid");
            headers.push((name, value));
        }
        Ok(WebSecurity { tls, users: file.basic_auth_users, headers, verified: Mutex::default() })
    }

    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether an `Authorization` header carries a user of the file with its password.
    pub fn authorized(&self, authorization: Option<&str>) -> bool {
        use base64::Engine;
        if self.users.is_empty() {
            return true;
        }
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else { return false };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Ok(text) = String::from_utf8(decoded) else { return false };
        let Some((user, password)) = text.split_once(':') else { return false };
        let Some(hash) = self.users.get(user) else { return false };
        let digest = ring::digest::digest(&ring::digest::SHA256, format!("{user}\0{password}\0{hash}").as_bytes());
        let key = digest.as_ref().to_vec();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            verified.insert(key);
        }
        ok
    }
}

/// `$2b$10$…`: the cost, when the text is a bcrypt hash.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let rest = hash.strip_prefix("$2a$").or_else(|| hash.strip_prefix("$2b$")).or_else(|| hash.strip_prefix("$2y$"))?;
    let (cost, salted) = rest.split_once('$')?;
    (salted.len() == 53).then_some(())?;
    cost.parse().ok().filter(|c| (4..=31).contains(c))
}

fn tls(t: &TlsServerConfig, dir: &Path) -> Result<rustls::ServerConfig, String> {
    let path = |p: &Path| if p.is_relative() { dir.join(p) } else { p.to_path_buf() };
    let (cert_file, key_file) = (path(&t.cert_file), path(&t.key_file));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|_| format!("tls_server_config.cert_file: {} holds no PEM certificate", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_server_config.cert_file: {} holds no PEM certificate", cert_file.display()));
    }
    // The parser's message is not quoted: it could carry key material.
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|_| format!("tls_server_config.key_file: {} holds no PEM private key", key_file.display()))?;
    let versions = versions(t.min_version.as_deref(), t.max_version.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let verifier = client_verifier(t, dir, provider)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_single_cert(certs, key).map_err(|e| format!("tls_server_config: the key does not fit: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn versions(min: Option<&str>, max: Option<&str>) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: &str, key: &str| match v {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        "TLS10" | "TLS11" => Err(format!("tls_server_config.{key}: {v} is not offered (TLS 1.2 is the oldest)")),
        other => Err(format!("tls_server_config.{key}: {other:?} is not TLS12 or TLS13")),
    };
    let lo = min.map(|v| rank(v, "min_version")).transpose()?.unwrap_or(12);
    let hi = max.map(|v| rank(v, "max_version")).transpose()?.unwrap_or(13);
    if lo > hi {
        return Err("tls_server_config: min_version is above max_version".to_string());
    }
    let mut out = Vec::new();
    if lo <= 12 && hi >= 12 {
        out.push(&rustls::version::TLS12);
    }
    if hi >= 13 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

/// The toolkit's `client_auth_type`s this endpoint can enforce. Asking for a certificate
/// without verifying it (`RequestClientCert`, `RequireAnyClientCert`) is refused: it would
/// let anyone in who presents any certificate.
fn client_verifier(
    t: &TlsServerConfig,
    dir: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, String> {
    let required = match t.client_auth_type.as_str() {
        "NoClientCert" => {
            if t.client_ca_file.is_some() {
                return Err("tls_server_config.client_ca_file: given, but client_auth_type is NoClientCert".into());
            }
            return Ok(None);
        }
        "VerifyClientCertIfGiven" => false,
        "RequireAndVerifyClientCert" => true,
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(format!(
                "tls_server_config.client_auth_type: {} accepts certificates nobody verified; \
                 use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file",
                t.client_auth_type
            ))
        }
        other => return Err(format!("tls_server_config.client_auth_type: {other:?} is not a client auth type")),
    };
    let ca = t.client_ca_file.as_deref().ok_or("tls_server_config.client_ca_file: needed to verify clients")?;
    let ca = if ca.is_relative() { dir.join(ca) } else { ca.to_path_buf() };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|_| format!("tls_server_config.client_ca_file: {} holds no PEM certificate", ca.display()))?;
    for c in certs {
        roots.add(c).map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("tls_server_config.client_ca_file: {} holds no PEM certificate", ca.display()));
    }
    let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if required { builder } else { builder.allow_unauthenticated() };
    builder.build().map(Some).map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_hashes_are_recognised_and_others_refused() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(bcrypt_cost(&hash), Some(4));
        for bad in ["pw", "$1$abc", "$2b$99$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "{SHA}abc"] {
            assert_eq!(bcrypt_cost(bad), None, "{bad}");
        }
    }

    #[test]
    fn basic_auth_checks_user_and_password_and_caches_only_successes() {
        use base64::Engine;
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let mut web = WebSecurity::open();
        web.users.insert("prom".into(), hash);
        let header = |u: &str, p: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
        };
        assert!(web.authorized(Some(&header("prom", "s3cret"))));
        assert!(web.authorized(Some(&header("prom", "s3cret"))), "from the cache");
        assert!(!web.authorized(Some(&header("prom", "wrong"))));
        assert!(!web.authorized(Some(&header("other", "s3cret"))));
        assert!(!web.authorized(None));
        assert!(!web.authorized(Some("Bearer x")));
        assert_eq!(web.verified.lock().unwrap().len(), 1);
    }

    #[test]
    fn versions_follow_min_and_max() {
        assert_eq!(versions(None, None).unwrap().len(), 2);
        assert_eq!(versions(Some("TLS13"), None).unwrap().len(), 1);
        assert!(versions(Some("TLS11"), None).unwrap_err().contains("not offered"));
        assert!(versions(Some("TLS13"), Some("TLS12")).is_err());
    }
}
