//! Building `clickhouse` clients (HTTPS through rustls with an optional CA bundle and client
//! certificate) and turning the crate's errors into one-line reasons without secrets.

use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// The TLS settings every client of one source shares, prepared once.
#[derive(Clone)]
pub struct Transport {
    tls: Arc<rustls::ClientConfig>,
}

impl Transport {
    pub fn new(tls: Option<&TlsConfig>) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match tls.and_then(|t| t.ca_file.as_ref()) {
            Some(ca) => {
                let certs = CertificateDer::pem_file_iter(ca)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("clickhouse.tls.ca_file {}: {e}", ca.display()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("clickhouse.tls.ca_file {}: no certificate in it", ca.display()));
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_roots());
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("clickhouse.tls: {e}"))?
            .with_root_certificates(roots);
        let config = match tls.and_then(|t| t.cert_file.as_ref().zip(t.key_file.as_ref())) {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("clickhouse.tls.cert_file {}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("clickhouse.tls.key_file {}: {e}", key.display()))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| format!("clickhouse.tls: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Transport { tls: Arc::new(config) })
    }

    /// A client of its own (own connection pool) for `url` as `user`.
    pub fn client(&self, url: &str, user: &str, password: &str) -> clickhouse::Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let hyper = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build(https);
        clickhouse::Client::with_http_client(hyper).with_url(url).with_user(user).with_password(password)
    }
}

fn rustls_native_roots() -> Vec<CertificateDer<'static>> {
    // The platform store; a missing or partial store only leaves HTTPS to fail with a reason.
    rustls_native_certs::load_native_certs().certs
}

/// The server's exception code in an error answer ("Code: 516. DB::Exception: …" on current
/// servers, "Code: 193, e.displayText() = …" on 18.x).
pub fn exception_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// One line, at most ~200 characters, with `secret` and every other known secret masked
/// *before* the cut (a cut first would leave a prefix of the secret): what reaches reasons,
/// logs and metrics.
pub fn describe(err: &clickhouse::error::Error, secret: &str) -> String {
    let mut text = crate::sources::error_chain(err);
    let looks_like_clickhouse = exception_code(&text).is_some();
    if let clickhouse::error::Error::BadResponse(body) = err {
        if !looks_like_clickhouse {
            text = format!("answer is not ClickHouse's: {body}");
        }
    }
    one_line(&mask(&text, secret))
}

/// Foreign text as one line of at most ~200 characters, known secrets masked first.
pub fn one_line(s: &str) -> String {
    crate::redact::excerpt(s, crate::redact::EXCERPT_CHARS)
}

/// `s` with `secret` (when non-empty, in every encoded form) and every registered secret masked.
pub fn mask(s: &str, secret: &str) -> String {
    crate::redact::scrub_with(s, &[secret])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_of_both_generations() {
        assert_eq!(exception_code("Code: 516. DB::Exception: default: Authentication failed"), Some(516));
        assert_eq!(
            exception_code("bad response: Code: 193, e.displayText() = DB::Exception: Wrong password"),
            Some(193)
        );
        assert_eq!(exception_code("<html><body>502 Bad Gateway</body></html>"), None);
    }

    #[test]
    fn html_bodies_are_named_and_cut() {
        let body = format!("<html>\n<head><title>502 Bad Gateway</title></head>{}</html>", "x".repeat(500));
        let d = describe(&clickhouse::error::Error::BadResponse(body), "");
        assert!(d.starts_with("answer is not ClickHouse's: <html> <head><title>502 Bad Gateway"), "{d}");
        assert!(d.chars().count() < 240, "{d}");
    }

    #[test]
    fn the_secret_is_masked() {
        let e = clickhouse::error::Error::BadResponse("Code: 1. echo hunter2".into());
        assert_eq!(describe(&e, "hunter2"), "bad response: Code: 1. echo ***");
    }

    #[test]
    fn a_secret_past_the_cut_leaves_no_prefix() {
        let body = format!("Code: 1. {} \"x-clickhouse-key\": \"PLANTCHPW-99aa\"", "h".repeat(150));
        let d = describe(&clickhouse::error::Error::BadResponse(body), "PLANTCHPW-99aa");
        assert!(!d.contains("PLANTC"), "{d}");
    }
}
