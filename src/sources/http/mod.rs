//! HTTP plumbing shared by the HTTP sources: one client per endpoint (rustls, optional client
//! certificate, per-source timeout, redirects only within the same host), bodies capped at
//! 1 MiB, JSON answers. Secrets (bearer tokens) are read per request and never put in errors.

pub mod alertmanager;
pub mod api;
pub mod config;
pub mod grafana;
pub mod metrics;
pub mod prometheus;
pub mod services;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{redirect, Certificate, Client, Identity, Method};

use crate::config::{SecretString, TlsConfig};
use crate::snapshot::http::{Answers, RequestKey};

/// Largest body read from any endpoint; a larger one is an error, not a truncation.
pub const MAX_BODY: usize = 1 << 20;

/// Where a bearer token comes from; read at each request so a rotated file is picked up.
#[derive(Clone, Default)]
pub struct Token {
    pub file: Option<PathBuf>,
    pub value: Option<SecretString>,
}

impl Token {
    fn read(&self) -> Result<Option<String>, String> {
        if let Some(v) = &self.value {
            return Ok(Some(v.0.clone()));
        }
        match &self.file {
            None => Ok(None),
            Some(p) => std::fs::read_to_string(p)
                .map(|t| Some(t.trim().to_string()))
                .map_err(|e| format!("cannot read the token file {}: {e}", p.display())),
        }
    }
}

/// One endpoint's client and base URL.
#[derive(Clone)]
pub struct Endpoint {
    client: Client,
    base: reqwest::Url,
    token: Token,
}

/// An HTTP answer: status and the (capped) body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Endpoint {
    pub fn new(url: &str, tls: Option<&TlsConfig>, timeout: Duration, token: Token) -> Result<Endpoint, String> {
        // The config refuses userinfo; should one get here anyway it is masked, never quoted.
        let base = reqwest::Url::parse(url).map_err(|e| format!("the URL does not parse: {e}"))?;
        if let Some(pw) = base.password() {
            crate::redact::register_basic(base.username(), pw);
            crate::redact::register(pw);
        }
        let host = base.host_str().unwrap_or_default().to_string();
        let port = base.port_or_known_default();
        // A redirect may change the path, never the host: a health probe answered by another
        // host says nothing about this one, and a token must not travel there.
        let policy = redirect::Policy::custom(move |attempt| {
            let same = attempt.url().host_str() == Some(host.as_str()) && attempt.url().port_or_known_default() == port;
            if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else if same {
                attempt.follow()
            } else {
                let to = attempt.url().host_str().unwrap_or("?").to_string();
                attempt.error(format!("redirect to another host ({to}) not followed"))
            }
        });
        let mut b = Client::builder().use_rustls_tls().timeout(timeout).redirect(policy).no_proxy();
        if let Some(t) = tls {
            if let Some(ca) = &t.ca_file {
                let pem = read(ca)?;
                for c in Certificate::from_pem_bundle(&pem).map_err(|e| format!("{}: {e}", ca.display()))? {
                    b = b.add_root_certificate(c);
                }
            }
            match (&t.cert_file, &t.key_file) {
                (Some(cert), Some(key)) => {
                    let mut pem = read(cert)?;
                    pem.push(b'\n');
                    pem.extend(read(key)?);
                    let id = Identity::from_pem(&pem)
                        .map_err(|e| format!("client certificate {} / key {}: {e}", cert.display(), key.display()))?;
                    b = b.identity(id);
                }
                (None, None) => {}
                _ => return Err("tls needs both cert_file and key_file".to_string()),
            }
            if t.insecure_skip_verify {
                b = b.danger_accept_invalid_certs(true);
            }
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Endpoint { client, base, token })
    }

    pub fn url(&self, path: &str) -> Result<reqwest::Url, String> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| format!("{path:?}: {e}"))
    }

    /// Sends one request; any status is an answer, only transport failures are errors.
    pub async fn send(&self, method: &str, path: &str) -> Result<Answer, String> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| format!("bad method {method:?}"))?;
        let url = self.url(path)?;
        let mut req = self.client.request(method, url.clone());
        if let Some(t) = self.token.read()? {
            // Known before it is sent, so an answer echoing it is masked wherever it goes.
            crate::redact::register(&t);
            req = req.bearer_auth(t);
        }
        let mut resp = req.send().await.map_err(|e| describe(&e, &url))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e, &url))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("{}: body larger than {} bytes", url.path(), MAX_BODY));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// A request whose answer must be 200 with JSON.
    pub async fn json(&self, method: &str, path: &str) -> Result<serde_json::Value, String> {
        let a = self.send(method, path).await?;
        let where_ = path.split('?').next().unwrap_or(path);
        if a.status != 200 {
            return Err(format!("{method} {where_} answered HTTP {}{}", a.status, status_hint(a.status)));
        }
        serde_json::from_slice(&a.body)
            .map_err(|e| format!("{method} {where_}: not JSON: {}", crate::redact::json_error(&e)))
    }

    /// Every planned request (`"GET /path"`), concurrently, each answer kept apart.
    pub async fn answers(&self, planned: &[RequestKey]) -> Answers {
        let mut set = tokio::task::JoinSet::new();
        for key in planned {
            let (ep, key) = (self.clone(), key.clone());
            set.spawn(async move {
                let (method, path) = (key.method.as_str(), key.path.as_str());
                // A HEAD answer has no body: the expression sees the status instead.
                let r = if method == "HEAD" {
                    ep.send(method, path).await.map(|a| serde_json::json!({ "status": a.status }))
                } else {
                    ep.json(method, path).await
                };
                (key, r)
            });
        }
        let mut out = Answers::new();
        while let Some(Ok((k, r))) = set.join_next().await {
            out.insert(k, r);
        }
        out
    }
}

fn read(p: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (unauthorized: the token is missing or not accepted)",
        403 => " (forbidden: the token lacks permission)",
        _ => "",
    }
}

/// A transport error in one line, with its innermost cause (TLS, refused, timeout). reqwest's
/// errors name the URL, never headers, so no token can leak from here.
fn describe(e: &reqwest::Error, url: &reqwest::Url) -> String {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_redirect() {
        "redirect refused".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut cause = String::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    // Origin and path only: never userinfo or a query string, which may carry credentials.
    let target = format!("{}{}", url.origin().ascii_serialization(), url.path());
    if cause.is_empty() {
        format!("{target}: {what}")
    } else {
        format!("{target}: {what}: {}", crate::redact::excerpt(&cause, crate::redact::EXCERPT_CHARS))
    }
}
