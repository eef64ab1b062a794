//! TLS and SASL settings from the config: certificates and the password are read here, once
//! per (re)load, and the password is kept only as a `SecretString`.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::client::{SaslCredentials, Security};
use super::sasl::Mechanism;
use crate::config::{KafkaConfig, SecretString, TlsConfig};

pub fn build(c: &KafkaConfig) -> Result<Security, String> {
    let sasl = match &c.sasl {
        None => None,
        Some(s) => {
            let mechanism = Mechanism::parse(&s.mechanism)
                .ok_or_else(|| format!("kafka.sasl.mechanism: {:?} is not supported", s.mechanism))?;
            let password = match (&s.password_file, &s.password) {
                (Some(f), _) => SecretString(
                    std::fs::read_to_string(f)
                        .map_err(|e| format!("kafka.sasl.password_file: {}: {e}", f.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, Some(p)) => p.clone(),
                (None, None) => {
                    return Err("kafka.sasl: needs password_file (or the password in the environment)".into())
                }
            };
            Some(SaslCredentials { mechanism, username: s.username.clone(), password })
        }
    };
    let tls = c.tls.as_ref().map(tls_config).transpose()?.map(Arc::new);
    Ok(Security { tls, sasl })
}

fn certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{key}: {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key}: {}: no PEM certificate", path.display()));
    }
    Ok(certs)
}

fn tls_config(t: &TlsConfig) -> Result<ClientConfig, String> {
    if t.insecure_skip_verify {
        return Err("kafka.tls.insecure_skip_verify: not supported for Kafka; give ca_file instead".into());
    }
    let mut roots = RootCertStore::empty();
    match &t.ca_file {
        Some(ca) => {
            for cert in certs("kafka.tls.ca_file", ca)? {
                roots.add(cert).map_err(|e| format!("kafka.tls.ca_file: {}: {e}", ca.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("kafka.tls: {e}"))?
        .with_root_certificates(roots);
    match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certs("kafka.tls.cert_file", cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("kafka.tls.key_file: {}: {e}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("kafka.tls.cert_file: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("kafka.tls: cert_file and key_file go together".into()),
    }
}
