//! Fake sources that answer with what they were sent (the leak test's hostile sources): an HTTP
//! server that echoes the request line, every header, the query string and the body in one of
//! several answer shapes, and two Kafka "brokers", one echoing the bytes it receives and one
//! that speaks ApiVersions and SaslHandshake and then refuses the SASL exchange quoting the
//! client's auth bytes (the PLAIN password among them). Loopback only, one shared runtime for
//! the life of the test process; every read has a deadline.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, DescribeConfigsResponse, DescribeGroupsResponse, DescribeLogDirsResponse,
    FindCoordinatorResponse, GroupId, ListGroupsResponse, ListOffsetsResponse, MetadataResponse, OffsetFetchResponse,
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a fake waits for a client's next bytes before it hangs up.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Largest request head or body a fake reads.
const MAX_REQUEST: usize = 256 * 1024;

/// The shape of every answer of one echo server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200, text/plain, the echo as the body.
    Plain,
    /// 200, a JSON string that starts like a credential: `"Bearer … | <echo>"`.
    JsonString,
    /// 200, a JSON object with the echo in the fields sources read (`status` is "ok", so a
    /// service passes and its `version` is the echo) and as a key.
    JsonObject,
    /// 401 with the echo.
    Unauthorized,
    /// 500 with the echo after a ClickHouse-like exception prefix and a sliding pad, so the
    /// credential falls on every side of any cut.
    ServerError,
    /// 200, an HTML page (a login proxy's) with the echo.
    Html,
    /// 302 to the same host with the echo in the query; from there, 302 to another host.
    Redirect,
    /// 200, a health-shaped JSON object whose every field holds every credential any client
    /// sent to any fake of the same world so far (a proxy shared by all sources); its world's
    /// [`kafka_hostile`] names a topic and a group after them.
    CrossTalk,
}

impl Mode {
    /// Every mode; `CrossTalk` last, so the others have filled what it repeats.
    pub const ALL: [Mode; 8] = [
        Mode::Plain,
        Mode::JsonString,
        Mode::JsonObject,
        Mode::Unauthorized,
        Mode::ServerError,
        Mode::Html,
        Mode::Redirect,
        Mode::CrossTalk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "200-text",
            Mode::JsonString => "200-json-string",
            Mode::JsonObject => "200-json-object",
            Mode::Unauthorized => "401",
            Mode::ServerError => "500",
            Mode::Html => "200-html",
            Mode::Redirect => "302",
            Mode::CrossTalk => "200-crosstalk",
        }
    }
}

/// Credentials the fakes of one world were sent, by any client.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn add(&self, credential: &str) {
        let mut all = self.0.lock().unwrap();
        if !credential.is_empty() && !all.iter().any(|c| c == credential) {
            all.push(credential.to_string());
        }
    }

    pub fn joined(&self) -> String {
        self.0.lock().unwrap().join(" ")
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
    })
}

fn listen() -> (TcpListener, String) {
    let listener = runtime().block_on(TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

/// A running echo server; it lives as long as the test process.
pub struct EchoServer {
    pub addr: String,
    pub mode: Mode,
    requests: Arc<AtomicUsize>,
}

/// Requests per path: the pad before an echo grows by one with each request to a path, so a
/// credential at a fixed place in the echo lands on every side of a cut at a fixed length.
#[derive(Default)]
struct PerPath(Mutex<std::collections::HashMap<String, usize>>);

impl PerPath {
    fn next(&self, path: &str) -> usize {
        let mut m = self.0.lock().unwrap();
        let n = m.entry(path.to_string()).or_default();
        *n += 1;
        *n - 1
    }
}

impl EchoServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

pub fn http(mode: Mode, seen: Seen) -> EchoServer {
    let (listener, addr) = listen();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    let per_path = Arc::new(PerPath::default());
    runtime().spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (seen, count, per_path) = (seen.clone(), Arc::clone(&count), Arc::clone(&per_path));
            tokio::spawn(async move {
                count.fetch_add(1, Ordering::Relaxed);
                let _ = tokio::time::timeout(READ_DEADLINE * 2, answer_http(stream, mode, &seen, &per_path)).await;
            });
        }
    });
    EchoServer { addr, mode, requests }
}

/// One request: its head (request line and headers as sent) and body.
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn target(&self) -> &str {
        self.line.split_whitespace().nth(1).unwrap_or("/")
    }
}

async fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = tokio::time::timeout(READ_DEADLINE, s.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = buf[head_end + 4..].to_vec();
    let req = Request { line, headers, body: Vec::new() };
    let length = req.header("content-length").and_then(|v| v.parse::<usize>().ok());
    let chunked = req.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    loop {
        let done = match length {
            Some(l) => body.len() >= l,
            None => !chunked || body.ends_with(b"0\r\n\r\n"),
        };
        if done || body.len() > MAX_REQUEST {
            break;
        }
        let n = tokio::time::timeout(READ_DEADLINE, s.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request { body, ..req })
}

/// What the server heard, as a hostile server would quote it back.
fn echo_text(req: &Request) -> String {
    let mut out = format!("{}\n", req.line);
    for (k, v) in &req.headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if let Some((_, q)) = req.target().split_once('?') {
        out.push_str(&format!("query: {q}\nquery decoded: {}\n", percent_decode(q)));
    }
    if let Some(basic) = req.header("authorization").and_then(|v| v.strip_prefix("Basic ")) {
        if let Ok(raw) = STANDARD.decode(basic.trim()) {
            out.push_str(&format!("basic decoded: {}\n", String::from_utf8_lossy(&raw)));
        }
    }
    if !req.body.is_empty() {
        let body = String::from_utf8_lossy(&req.body[..req.body.len().min(4096)]).to_string();
        out.push_str(&format!("body: {body}\n"));
    }
    out
}

fn remember(req: &Request, seen: &Seen) {
    for name in ["authorization", "x-clickhouse-key"] {
        if let Some(v) = req.header(name) {
            seen.add(v);
        }
    }
    if let Some(basic) = req.header("authorization").and_then(|v| v.strip_prefix("Basic ")) {
        if let Ok(raw) = STANDARD.decode(basic.trim()) {
            seen.add(&String::from_utf8_lossy(&raw));
        }
    }
}

async fn answer_http(mut s: TcpStream, mode: Mode, seen: &Seen, per_path: &PerPath) {
    let Some(req) = read_request(&mut s).await else { return };
    let n = per_path.next(req.target().split('?').next().unwrap_or_default());
    remember(&req, seen);
    let echo = echo_text(&req);
    let lead = req.header("authorization").or(req.header("x-clickhouse-key")).unwrap_or("Bearer").to_string();
    let mut headers: Vec<(&str, String)> = Vec::new();
    let (status, content_type, body) = match mode {
        Mode::Plain => (200, "text/plain", echo),
        Mode::JsonString => (200, "application/json", serde_json::to_string(&format!("{lead} | {echo}")).unwrap()),
        Mode::JsonObject => (200, "application/json", echo_object(&echo, "ok")),
        Mode::Unauthorized => (401, "text/plain", format!("unauthorized: {}{echo}", ".".repeat(n % 64))),
        Mode::ServerError => (500, "text/plain", format!("Code: 516. DB::Exception: {}{echo}", ".".repeat(n % 64))),
        Mode::Html => (
            200,
            "text/html",
            format!(
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Proxy sign-in</h1>\
                 <pre>{echo}</pre><form action=\"/login?{}\"></form></body></html>",
                percent_encode(&echo)
            ),
        ),
        Mode::Redirect => {
            let location = if req.target().starts_with("/hop") {
                format!("http://leak.invalid/away?e={}", percent_encode(&echo))
            } else {
                format!("/hop?e={}", percent_encode(&echo))
            };
            headers.push(("Location", location));
            (302, "text/plain", echo)
        }
        Mode::CrossTalk => (200, "application/json", echo_object(&format!("{} | {echo}", seen.joined()), "ok")),
    };
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A JSON object carrying `echo` wherever a source might look.
fn echo_object(echo: &str, status: &str) -> String {
    let mut o = serde_json::json!({
        "status": status,
        "version": echo,
        "echo": echo,
        "message": echo,
        "error": echo,
        "title": echo,
        "data": { "result": [ { "metric": { "job": echo }, "value": [0, echo] } ], "echo": echo },
        "config": { "original": echo },
    });
    o[echo] = serde_json::Value::String(echo.to_string());
    o.to_string()
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// A fake Kafka broker on loopback.
pub struct FakeBroker {
    pub addr: String,
}

/// Answers every request with the very bytes it received: not Kafka, so the client fails at
/// its first request (ApiVersions), on a response that is its own request.
pub fn kafka_echo() -> FakeBroker {
    let (listener, addr) = listen();
    runtime().spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(Ok(n)) = tokio::time::timeout(READ_DEADLINE, s.read(&mut buf)).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    FakeBroker { addr }
}

/// Speaks ApiVersions and SaslHandshake (offering PLAIN), then refuses SaslAuthenticate with
/// an error message quoting the auth bytes it was sent (and, as a shared proxy would, every
/// credential of `seen`), echoing them as its own auth bytes too. Anything else is echoed raw.
pub fn kafka_sasl(seen: Seen) -> FakeBroker {
    kafka_fake(seen, false)
}

/// Accepts any SASL PLAIN login and answers as a broker of one: Metadata names a topic, and
/// ListGroups a group, after every credential of `seen` (a hostile broker choosing names that
/// land in metric labels and findings); every other request gets the empty answer of its kind.
pub fn kafka_hostile(seen: Seen) -> FakeBroker {
    kafka_fake(seen, true)
}

fn kafka_fake(seen: Seen, cooperative: bool) -> FakeBroker {
    let (listener, addr) = listen();
    let port: i32 = addr.rsplit_once(':').unwrap().1.parse().unwrap();
    runtime().spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { continue };
            let seen = seen.clone();
            tokio::spawn(async move {
                let _ = kafka_conn(s, &seen, cooperative, port).await;
            });
        }
    });
    FakeBroker { addr }
}

/// The APIs the exporter's client uses, with the highest version it speaks.
const KAFKA_APIS: [(ApiKey, i16); 11] = [
    (ApiKey::ApiVersions, 3),
    (ApiKey::SaslHandshake, 1),
    (ApiKey::SaslAuthenticate, 2),
    (ApiKey::Metadata, 12),
    (ApiKey::DescribeConfigs, 4),
    (ApiKey::ListOffsets, 8),
    (ApiKey::ListGroups, 5),
    (ApiKey::FindCoordinator, 6),
    (ApiKey::OffsetFetch, 9),
    (ApiKey::DescribeGroups, 5),
    (ApiKey::DescribeLogDirs, 4),
];

async fn kafka_conn(mut s: TcpStream, seen: &Seen, cooperative: bool, port: i32) -> Option<()> {
    loop {
        let size = tokio::time::timeout(READ_DEADLINE, s.read_i32()).await.ok()?.ok()?;
        if !(4..=MAX_REQUEST as i32).contains(&size) {
            return None;
        }
        let mut raw = vec![0u8; size as usize];
        tokio::time::timeout(READ_DEADLINE, s.read_exact(&mut raw)).await.ok()?.ok()?;
        let key = i16::from_be_bytes([raw[0], raw[1]]);
        let version = i16::from_be_bytes([raw[2], raw[3]]);
        let known = ApiKey::try_from(key).ok().filter(|k| cooperative || KAFKA_APIS[..4].iter().any(|(a, _)| a == k));
        let Some(api) = known else {
            s.write_all(&(size.to_be_bytes())).await.ok()?;
            s.write_all(&raw).await.ok()?;
            continue;
        };
        let mut body = Bytes::from(raw.clone());
        let header = RequestHeader::decode(&mut body, api.request_header_version(version)).ok()?;
        let mut out = BytesMut::new();
        let named = || format!("t-{}", seen.joined());
        match api {
            ApiKey::ApiVersions => {
                let apis = if cooperative { &KAFKA_APIS[..] } else { &KAFKA_APIS[..4] };
                let keys = apis
                    .iter()
                    .map(|(k, max)| {
                        ApiVersion::default().with_api_key(*k as i16).with_min_version(0).with_max_version(*max)
                    })
                    .collect();
                ApiVersionsResponse::default().with_api_keys(keys).encode(&mut out, version).ok()?;
            }
            ApiKey::SaslHandshake => {
                SaslHandshakeResponse::default()
                    .with_mechanisms(vec![StrBytes::from_static_str("PLAIN")])
                    .encode(&mut out, version)
                    .ok()?;
            }
            ApiKey::SaslAuthenticate => {
                let req = SaslAuthenticateRequest::decode(&mut body, version).ok()?;
                let sent = String::from_utf8_lossy(&req.auth_bytes).to_string();
                // PLAIN is `authzid \0 user \0 password`.
                if let Some(password) = sent.split('\0').nth(2) {
                    seen.add(password);
                }
                let answer = if cooperative {
                    SaslAuthenticateResponse::default()
                } else {
                    let message = format!("authentication failed for {sent:?} ({sent}); seen: {}", seen.joined());
                    SaslAuthenticateResponse::default()
                        .with_error_code(58)
                        .with_error_message(Some(StrBytes::from_string(message)))
                        .with_auth_bytes(req.auth_bytes.clone())
                };
                answer.encode(&mut out, version).ok()?;
            }
            ApiKey::Metadata => {
                let broker = MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(port);
                let partition = MetadataResponsePartition::default()
                    .with_leader_id(BrokerId(1))
                    .with_replica_nodes(vec![BrokerId(1)])
                    .with_isr_nodes(vec![BrokerId(1)]);
                let topic = MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(named()))))
                    .with_partitions(vec![partition]);
                MetadataResponse::default()
                    .with_brokers(vec![broker])
                    .with_controller_id(BrokerId(1))
                    .with_topics(vec![topic])
                    .encode(&mut out, version)
                    .ok()?;
            }
            ApiKey::ListGroups => {
                let group = ListedGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(named())))
                    .with_protocol_type(StrBytes::from_static_str("consumer"))
                    .with_group_state(StrBytes::from_static_str("Stable"));
                ListGroupsResponse::default().with_groups(vec![group]).encode(&mut out, version).ok()?;
            }
            ApiKey::DescribeConfigs => DescribeConfigsResponse::default().encode(&mut out, version).ok()?,
            ApiKey::ListOffsets => ListOffsetsResponse::default().encode(&mut out, version).ok()?,
            ApiKey::FindCoordinator => FindCoordinatorResponse::default().encode(&mut out, version).ok()?,
            ApiKey::OffsetFetch => OffsetFetchResponse::default().encode(&mut out, version).ok()?,
            ApiKey::DescribeGroups => DescribeGroupsResponse::default().encode(&mut out, version).ok()?,
            ApiKey::DescribeLogDirs => DescribeLogDirsResponse::default().encode(&mut out, version).ok()?,
            _ => {
                s.write_all(&(size.to_be_bytes())).await.ok()?;
                s.write_all(&raw).await.ok()?;
                continue;
            }
        }
        let mut framed = BytesMut::new();
        framed.put_i32(0);
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut framed, api.response_header_version(version))
            .ok()?;
        framed.extend_from_slice(&out);
        let len = (framed.len() - 4) as i32;
        framed[..4].copy_from_slice(&len.to_be_bytes());
        s.write_all(&framed).await.ok()?;
    }
}
