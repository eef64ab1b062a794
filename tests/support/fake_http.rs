//! Small HTTP servers for the InfraSage services, the admin API and Grafana, which have no
//! real counterpart here. They speak HTTP/1.1 on loopback, optionally over TLS that requires a
//! client certificate, and answer from a route table: good, bad, malformed, slow, 500 and
//! redirect variants are just routes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
    /// Only answer when the request carries `Authorization: Bearer <token>`; else 401.
    pub bearer: Option<String>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::raw(status, &body.to_string())
    }
    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            delay: Duration::ZERO,
            bearer: None,
        }
    }
    pub fn redirect(location: &str) -> Reply {
        let mut r = Reply::raw(302, "");
        r.headers.push(("Location".into(), location.to_string()));
        r
    }
    pub fn slow(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
    pub fn bearer(mut self, token: &str) -> Reply {
        self.bearer = Some(token.to_string());
        self
    }
}

/// A running server; stops when dropped (its runtime is shut down).
pub struct Server {
    pub addr: String,
    pub scheme: &'static str,
    /// Request lines seen (`GET /health`), with `authorization` values, for assertions.
    pub seen: Arc<Mutex<Vec<String>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

/// Plain HTTP with `routes` (path including query → reply; a missing path is 404).
pub fn serve(routes: BTreeMap<String, Reply>) -> Server {
    start(routes, None)
}

/// HTTPS requiring a client certificate signed by the CA in `tls`.
pub fn serve_mtls(routes: BTreeMap<String, Reply>, tls: Arc<rustls::ServerConfig>) -> Server {
    start(routes, Some(tls))
}

pub fn routes(list: &[(&str, Reply)]) -> BTreeMap<String, Reply> {
    list.iter().map(|(p, r)| (p.to_string(), r.clone())).collect()
}

fn start(routes: BTreeMap<String, Reply>, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let routes = Arc::new(routes);
    let seen2 = Arc::clone(&seen);
    let scheme = if tls.is_some() { "https" } else { "http" };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            let accept = async {
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let (routes, seen, acceptor) = (Arc::clone(&routes), Arc::clone(&seen2), acceptor.clone());
                    tokio::spawn(async move {
                        match acceptor {
                            // A handshake without a valid client certificate fails here.
                            Some(a) => {
                                if let Ok(s) = a.accept(stream).await {
                                    handle(s, &routes, &seen).await;
                                }
                            }
                            None => handle(stream, &routes, &seen).await,
                        }
                    });
                }
            };
            tokio::select! {
                _ = accept => {}
                _ = rx => {}
            }
        });
    });
    Server { addr, scheme, seen, shutdown: Some(tx) }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    routes: &BTreeMap<String, Reply>,
    seen: &Mutex<Vec<String>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let auth = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_string());
    seen.lock().unwrap().push(format!("{method} {target} auth={}", auth.clone().unwrap_or_default()));
    let reply = routes
        .get(&target)
        .or_else(|| routes.get(target.split('?').next().unwrap_or_default()))
        .cloned()
        .unwrap_or_else(|| Reply::raw(404, r#"{"message":"not found"}"#));
    let reply = match &reply.bearer {
        Some(t) if auth.as_deref() != Some(&format!("Bearer {t}")) => {
            // Grafana's own 401 body.
            Reply::raw(
                401,
                r#"{"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}"#,
            )
        }
        _ => reply,
    };
    tokio::time::sleep(reply.delay).await;
    let mut out =
        format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", reply.status, reply.body.len());
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, written as PEM
/// files into `dir`; returns the server's TLS config (client certificates required).
pub struct TestPki {
    pub ca_file: std::path::PathBuf,
    pub client_cert: std::path::PathBuf,
    pub client_key: std::path::PathBuf,
    /// A client certificate from a CA the server does not trust.
    pub stranger_cert: std::path::PathBuf,
    pub stranger_key: std::path::PathBuf,
    /// The server's certificate (for 127.0.0.1) and key, as files.
    pub server_cert: std::path::PathBuf,
    pub server_key: std::path::PathBuf,
    pub server: Arc<rustls::ServerConfig>,
}

pub fn test_pki(dir: &std::path::Path) -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert =
        CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert =
        CertificateParams::new(vec!["readiness".to_string()]).unwrap().signed_by(&client_key, &issuer).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other_issuer = Issuer::new(other_params, other_key);
    let stranger_key = KeyPair::generate().unwrap();
    let stranger =
        CertificateParams::new(vec!["x".to_string()]).unwrap().signed_by(&stranger_key, &other_issuer).unwrap();

    let w = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let pki = |server: Arc<rustls::ServerConfig>| TestPki {
        ca_file: w("ca.pem", ca_cert.pem()),
        client_cert: w("client.pem", client_cert.pem()),
        client_key: w("client-key.pem", client_key.serialize_pem()),
        stranger_cert: w("stranger.pem", stranger.pem()),
        stranger_key: w("stranger-key.pem", stranger_key.serialize_pem()),
        server_cert: w("server.pem", server_cert.pem()),
        server_key: w("server-key.pem", server_key.serialize_pem()),
        server,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build().unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server_cert.der().clone()], key)
        .unwrap();
    pki(Arc::new(config))
}
