//! `--web.config.file` as the exporter-toolkit defines it: TLS with and without client
//! certificates, basic auth with bcrypt hashes, response headers, probes left open on request,
//! and a file that cannot be enforced refused at start.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::fake_http::{test_pki, TestPki};

struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, web: &str, config: &str) -> Exporter {
    let web_file = dir.join("web.yml");
    std::fs::write(&web_file, web).unwrap();
    let config_file = dir.join("config.yaml");
    let manifests = support::repo("examples/manifests");
    std::fs::write(&config_file, format!("kubernetes: {{ manifests: [{}] }}\n{config}", manifests.display())).unwrap();
    let port = support::free_port();
    let child = support::bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config_file)
        .arg("--web.config.file")
        .arg(&web_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let e = Exporter { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    e
}

/// A client trusting the test CA, with the client certificate given (or none).
fn client(pki: &TestPki, identity: Option<(&Path, &Path)>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap();
    let mut b = reqwest::Client::builder().use_rustls_tls().add_root_certificate(ca).timeout(Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(cert).unwrap();
        pem.extend(std::fs::read(key).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

fn get(
    c: &reqwest::Client,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, reqwest::header::HeaderMap), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut req = c.get(url);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().await.map_err(|e| format!("{e:?}"))?;
        Ok((r.status().as_u16(), r.headers().clone()))
    })
}

#[test]
fn client_certificates_required_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca_file.display()
    );
    let e = start(dir.path(), &web, "");
    let url = format!("https://127.0.0.1:{}/health", e.port);
    let with = client(&pki, Some((&pki.client_cert, &pki.client_key)));
    assert_eq!(get(&with, &url, None).unwrap().0, 200);
    assert!(get(&client(&pki, None), &url, None).is_err(), "no client certificate, no connection");
    let stranger = client(&pki, Some((&pki.stranger_cert, &pki.stranger_key)));
    assert!(get(&stranger, &url, None).is_err(), "a certificate from another CA is refused");
    // Plain HTTP against the TLS port gets no HTTP answer.
    assert!(support::get(&format!("127.0.0.1:{}", e.port), "/health").is_none_or(|(s, _)| s != 200));
}

#[test]
fn basic_auth_over_tls_with_headers_and_open_probes() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let hash = bcrypt::hash("scrape-pw", 4).unwrap();
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  min_version: TLS13\n\
         http_server_config:\n  headers:\n    X-Frame-Options: deny\n\
         basic_auth_users:\n  prometheus: '{hash}'\n",
        pki.server_cert.display(),
        pki.server_key.display(),
    );
    let e = start(dir.path(), &web, "web: { open_probes: true }\n");
    let c = client(&pki, None);
    let at = |path: &str| format!("https://127.0.0.1:{}{path}", e.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&c, &at("/ready"), None).map(|r| r.0) != Ok(200) {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, headers) = get(&c, &at("/metrics"), Some(("prometheus", "scrape-pw"))).unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["x-frame-options"], "deny");
    let (status, headers) = get(&c, &at("/metrics"), Some(("prometheus", "wrong"))).unwrap();
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(get(&c, &at("/metrics"), None).unwrap().0, 401);
    assert_eq!(get(&c, &at("/api/v1/checks"), Some(("nobody", "scrape-pw"))).unwrap().0, 401);
    // Probes answer without credentials, as asked; nothing else does.
    assert_eq!(get(&c, &at("/health"), None).unwrap().0, 200);
    assert_eq!(get(&c, &at("/"), None).unwrap().0, 401);
}

#[test]
fn what_cannot_be_enforced_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let tls = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    for (web, says) in [
        (
            "basic_auth_users:\n  prometheus: plaintext-password\n".to_string(),
            "basic_auth_users.prometheus: not a bcrypt hash",
        ),
        (format!("{tls}  client_auth_type: RequireAnyClientCert\n"), "accepts certificates nobody verified"),
        (format!("{tls}  client_auth_type: RequireAndVerifyClientCert\n"), "client_ca_file: needed"),
        (format!("{tls}  min_version: TLS10\n"), "TLS10 is not offered"),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope-key.pem\n".to_string(),
            "holds no PEM certificate",
        ),
        ("http_server_config:\n  headers:\n    Server: x\n".to_string(), "http_server_config.headers.Server"),
        ("tls_server_cfg: {}\n".to_string(), "tls_server_cfg"),
    ] {
        let web_file = dir.path().join("web.yml");
        std::fs::write(&web_file, &web).unwrap();
        let out = support::run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--manifests",
            "examples/manifests",
            "--web.config.file",
            web_file.to_str().unwrap(),
        ]);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{web}: {err}");
        assert!(err.contains(says), "{web}: {err}");
    }
}

/// The web config is read again on reload: new users in, old ones out, without a restart.
#[test]
fn basic_auth_users_change_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let user = |name: &str, pw: &str| format!("basic_auth_users:\n  {name}: '{}'\n", bcrypt::hash(pw, 4).unwrap());
    let e = start(dir.path(), &user("old", "old-pw"), "");
    let addr = format!("127.0.0.1:{}", e.port);
    let status = |u: &str, p: &str| {
        use base64::Engine;
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        write!(s, "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw.split_whitespace().nth(1).unwrap().parse::<u16>().unwrap()
    };
    assert_eq!(status("old", "old-pw"), 200);
    assert_eq!(status("new", "new-pw"), 401);
    std::fs::write(dir.path().join("web.yml"), user("new", "new-pw")).unwrap();
    let pid = e.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while status("new", "new-pw") != 200 {
        assert!(Instant::now() < deadline, "the new web config never applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status("old", "old-pw"), 401);
}
