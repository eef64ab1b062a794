//! A small Kafka protocol client: one connection per broker, reused across collections, with
//! TLS and SASL of its own. Messages come from the `kafka-protocol` crate; this module only
//! frames them, negotiates versions and keeps connections. (librdkafka's admin offsets call
//! crashes the process when a coordinator moves, which is why this exists.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::sasl::{self, Mechanism};
use crate::config::SecretString;

/// Largest response accepted; a bigger length prefix means the stream is not Kafka.
const MAX_RESPONSE: usize = 256 * 1024 * 1024;
/// A broker's own error message as an excerpt: one line, secrets masked, bounded (a hostile
/// or broken broker may send pages, control bytes or the credential it was sent).
pub fn broker_words(m: &str) -> String {
    crate::redact::excerpt(m, crate::redact::EXCERPT_CHARS)
}

/// How long a broker that refused a connection is left alone before the next attempt.
const CONNECT_BACKOFF: Duration = Duration::from_secs(2);

/// The highest version of each API this client speaks: newer versions change field meanings
/// (OffsetFetch v10 and OffsetCommit v10 name topics by id), so the broker's maximum is
/// never taken blindly.
fn max_version(key: i16) -> i16 {
    match ApiKey::try_from(key) {
        Ok(ApiKey::ApiVersions) => 3,
        Ok(ApiKey::Metadata) => 12,
        Ok(ApiKey::ListGroups) => 5,
        Ok(ApiKey::DescribeGroups) => 5,
        Ok(ApiKey::ConsumerGroupDescribe) => 1,
        Ok(ApiKey::FindCoordinator) => 6,
        Ok(ApiKey::OffsetFetch) => 9,
        Ok(ApiKey::ListOffsets) => 8,
        Ok(ApiKey::DescribeConfigs) => 4,
        Ok(ApiKey::DescribeLogDirs) => 4,
        Ok(ApiKey::SaslHandshake) => 1,
        Ok(ApiKey::SaslAuthenticate) => 2,
        Ok(ApiKey::CreateTopics) => 7,
        Ok(ApiKey::DeleteTopics) => 6,
        Ok(ApiKey::Produce) => 9,
        Ok(ApiKey::OffsetCommit) => 8,
        Ok(ApiKey::IncrementalAlterConfigs) => 1,
        Ok(ApiKey::DeleteGroups) => 2,
        _ => 0,
    }
}

/// What went wrong talking to a broker. `Connection` errors leave the stream unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Connection,
    Auth,
    Protocol,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// SASL credentials; the password is only ever written to the broker.
#[derive(Clone, Debug)]
pub struct SaslCredentials {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: SecretString,
}

/// How to reach brokers: TLS and SASL apply to every connection.
#[derive(Clone, Default)]
pub struct Security {
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    pub sasl: Option<SaslCredentials>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One authenticated connection to one broker.
pub struct Conn {
    addr: String,
    io: Box<dyn Io>,
    correlation: i32,
    client_id: StrBytes,
    /// API key → (min, max) the broker supports.
    versions: HashMap<i16, (i16, i16)>,
    /// Set while a request is on the wire: a request abandoned half-way (a timeout) leaves
    /// the stream out of step, and such a connection is never reused.
    in_flight: bool,
}

impl Conn {
    pub async fn connect(addr: &str, security: &Security, client_id: &str) -> Result<Conn> {
        let conn_err = |e: std::io::Error| Error::new(ErrorKind::Connection, format!("{addr}: {e}"));
        let tcp = TcpStream::connect(addr).await.map_err(conn_err)?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &security.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
                let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
                let name = rustls_pki_types::ServerName::try_from(host)
                    .map_err(|e| Error::new(ErrorKind::Connection, format!("{addr}: not a TLS server name: {e}")))?;
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::new(ErrorKind::Connection, format!("{addr}: TLS handshake: {e}")))?;
                Box::new(stream)
            }
        };
        let mut conn = Conn {
            addr: addr.to_string(),
            io,
            correlation: 0,
            client_id: StrBytes::from_string(client_id.to_string()),
            // Until ApiVersions answers, only ApiVersions v0..3 is assumed.
            versions: HashMap::from([(ApiKey::ApiVersions as i16, (0, 3))]),
            in_flight: false,
        };
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("infrasage-readiness"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let resp = conn.send(&req).await?;
        if resp.error_code != 0 {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{addr}: ApiVersions: {}", code_text(resp.error_code)),
            ));
        }
        conn.versions = resp.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        if let Some(creds) = &security.sasl {
            conn.authenticate(creds).await?;
        }
        Ok(conn)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The version both sides speak for `R`, capped at what this client was written for.
    pub fn version<R: Request>(&self) -> Result<i16> {
        let name = api_name(R::KEY);
        let (bmin, bmax) = self.versions.get(&R::KEY).copied().ok_or_else(|| {
            Error::new(ErrorKind::Protocol, format!("{}: the broker does not support {name}", self.addr))
        })?;
        let v = bmax.min(max_version(R::KEY)).min(R::VERSIONS.max);
        if v < bmin.max(R::VERSIONS.min) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{}: no common version of {name} (broker {bmin}..{bmax})", self.addr),
            ));
        }
        Ok(v)
    }

    pub fn is_broken(&self) -> bool {
        self.in_flight
    }

    /// One request, one response, at the negotiated version.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<R::Response> {
        let v = self.version::<R>()?;
        self.send_at(req, v).await
    }

    pub async fn send_at<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response> {
        let addr = self.addr.clone();
        let name = api_name(R::KEY);
        let proto = |e: anyhow::Error| Error::new(ErrorKind::Protocol, format!("{addr}: {name}: {e}"));
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(64 + req.compute_size(version).map_err(proto)?);
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version)).map_err(proto)?;
        req.encode(&mut buf, version).map_err(proto)?;
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        self.in_flight = true;
        let conn = |e: std::io::Error| Error::new(ErrorKind::Connection, format!("{addr}: {name}: {e}"));
        self.io.write_all(&buf).await.map_err(conn)?;
        self.io.flush().await.map_err(conn)?;
        let size = self.io.read_i32().await.map_err(conn)?;
        if size < 4 || size as usize > MAX_RESPONSE {
            return Err(Error::new(ErrorKind::Connection, format!("{addr}: {name}: bad response length {size}")));
        }
        let mut body = vec![0u8; size as usize];
        self.io.read_exact(&mut body).await.map_err(conn)?;
        self.in_flight = false;

        let mut body = Bytes::from(body);
        let rh = ResponseHeader::decode(&mut body, R::Response::header_version(version)).map_err(proto)?;
        if rh.correlation_id != self.correlation {
            self.in_flight = true; // out of step: never reuse
            return Err(Error::new(
                ErrorKind::Connection,
                format!("{addr}: {name}: correlation id {} where {} was expected", rh.correlation_id, self.correlation),
            ));
        }
        R::Response::decode(&mut body, version).map_err(proto)
    }

    async fn authenticate(&mut self, creds: &SaslCredentials) -> Result<()> {
        let addr = self.addr.clone();
        let auth = |m: String| Error::new(ErrorKind::Auth, format!("{addr}: SASL {}: {m}", creds.mechanism.as_str()));
        let hs = self
            .send(&SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(creds.mechanism.as_str())))
            .await?;
        if hs.error_code != 0 {
            let offered: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(auth(format!("{} (the broker offers {})", code_text(hs.error_code), offered.join(", "))));
        }
        let mut exchange = sasl::Exchange::new(creds.mechanism, &creds.username, &creds.password.0);
        let mut challenge: Option<Bytes> = None;
        loop {
            let Some(out) = exchange.step(challenge.as_deref()).map_err(auth)? else { return Ok(()) };
            let resp = self.send(&SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(out))).await?;
            if resp.error_code != 0 {
                let msg = resp.error_message.as_ref().map(|m| broker_words(m)).unwrap_or_default();
                return Err(auth(format!("authentication failed: {} {msg}", code_text(resp.error_code))));
            }
            challenge = Some(resp.auth_bytes);
        }
    }
}

/// Connections by broker address, each used by one request at a time; a broken one is
/// replaced on next use, and a broker that refused is not retried for [`CONNECT_BACKOFF`].
pub struct Pool {
    security: Security,
    client_id: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    slots: StdMutex<HashMap<String, Arc<Mutex<Option<Conn>>>>>,
    refused: StdMutex<HashMap<String, (Instant, String)>>,
}

impl Pool {
    pub fn new(security: Security, client_id: &str, connect_timeout: Duration, request_timeout: Duration) -> Pool {
        Pool {
            security,
            client_id: client_id.to_string(),
            connect_timeout,
            request_timeout,
            slots: StdMutex::new(HashMap::new()),
            refused: StdMutex::new(HashMap::new()),
        }
    }

    fn slot(&self, addr: &str) -> Arc<Mutex<Option<Conn>>> {
        self.slots.lock().expect("pool lock").entry(addr.to_string()).or_default().clone()
    }

    /// Sends `req` to the broker at `addr`, connecting first when needed.
    pub async fn call<R: Request>(&self, addr: &str, req: &R) -> Result<R::Response> {
        let slot = self.slot(addr);
        let mut guard = slot.lock().await;
        if guard.as_ref().is_some_and(Conn::is_broken) {
            *guard = None;
        }
        if guard.is_none() {
            if let Some((at, why)) = self.refused.lock().expect("pool lock").get(addr) {
                if at.elapsed() < CONNECT_BACKOFF {
                    return Err(Error::new(ErrorKind::Connection, why.clone()));
                }
            }
            let connected =
                tokio::time::timeout(self.connect_timeout, Conn::connect(addr, &self.security, &self.client_id))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::new(
                            ErrorKind::Connection,
                            format!("{addr}: no answer within {:?}", self.connect_timeout),
                        ))
                    });
            match connected {
                Ok(c) => {
                    self.refused.lock().expect("pool lock").remove(addr);
                    *guard = Some(c);
                }
                Err(e) => {
                    if e.kind == ErrorKind::Connection {
                        self.refused
                            .lock()
                            .expect("pool lock")
                            .insert(addr.to_string(), (Instant::now(), e.message.clone()));
                    }
                    return Err(e);
                }
            }
        }
        let conn = guard.as_mut().expect("connected above");
        // On a timeout the connection stays marked in flight and is replaced on next use.
        let result = tokio::time::timeout(self.request_timeout, conn.send(req)).await.unwrap_or_else(|_| {
            Err(Error::new(ErrorKind::Connection, format!("{addr}: no answer within {:?}", self.request_timeout)))
        });
        if matches!(&result, Err(e) if e.kind == ErrorKind::Connection) {
            *guard = None;
        }
        result
    }

    /// Forgets the connection to `addr` (the broker left the cluster).
    pub fn drop_conn(&self, addr: &str) {
        self.slots.lock().expect("pool lock").remove(addr);
    }
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map(|k| format!("{k:?}")).unwrap_or_else(|_| format!("API {key}"))
}

/// A Kafka error code as its protocol name, e.g. `NOT_COORDINATOR (16)`.
pub fn code_text(code: i16) -> String {
    use kafka_protocol::error::ParseResponseErrorCode;
    match code.err() {
        None => "NONE (0)".to_string(),
        Some(e) => format!("{e:?} ({code})"),
    }
}

/// Codes after which a group's coordinator must be looked up again.
pub fn is_coordinator_error(code: i16) -> bool {
    // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
    matches!(code, 14..=16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;

    #[test]
    fn versions_are_capped_below_topic_id_only_versions() {
        assert_eq!(max_version(ApiKey::OffsetFetch as i16), 9);
        assert_eq!(max_version(ApiKey::OffsetCommit as i16), 8);
        assert_eq!(max_version(ApiKey::Metadata as i16), 12);
    }

    #[test]
    fn error_codes_read_as_their_names() {
        assert_eq!(code_text(16), "NotCoordinator (16)");
        assert!(is_coordinator_error(14) && is_coordinator_error(15) && is_coordinator_error(16));
        assert!(!is_coordinator_error(3));
    }

    /// A broker that answers garbage: the request fails as a connection error, never panics.
    #[tokio::test]
    async fn a_server_that_is_not_kafka_is_a_connection_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let err = Conn::connect(&addr, &Security::default(), "t").await.err().expect("garbage is refused");
        assert_eq!(err.kind, ErrorKind::Connection, "{err}");
        assert!(err.message.contains("bad response length"), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_remembered_for_the_backoff() {
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let pool = Pool::new(Security::default(), "t", Duration::from_secs(1), Duration::from_secs(1));
        let first = pool.call(&addr, &MetadataRequest::default()).await.err().unwrap();
        let second = pool.call(&addr, &MetadataRequest::default()).await.err().unwrap();
        assert_eq!(first.kind, ErrorKind::Connection);
        assert_eq!(first.message, second.message, "the second call answers from the backoff");
    }
}
