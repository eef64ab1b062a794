//! The exporter's HTTP endpoint. Every body is rendered once per evaluation and served from
//! memory, so a scrape never waits on a source.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY,
    WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::results::{Evaluation, Report};
use crate::web_config::WebSecurity;

/// One evaluation, rendered for every endpoint, each body also gzipped once here so a scrape
/// that asks for gzip (Prometheus always does) costs no compression.
pub struct Published {
    pub report: Report,
    pub metrics: Body,
    pub json: Body,
    pub html: Body,
}

/// A body as sent, plain and gzipped.
pub struct Body {
    pub plain: Bytes,
    pub gzip: Bytes,
}

impl Body {
    pub fn new(plain: String) -> Body {
        use std::io::Write;
        // Level 1: most of the size win for a fraction of the time (metric text is repetitive).
        let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(plain.len() / 8), flate2::Compression::fast());
        enc.write_all(plain.as_bytes()).expect("writing into memory cannot fail");
        let gzip = enc.finish().expect("writing into memory cannot fail");
        Body { plain: Bytes::from(plain), gzip: Bytes::from(gzip) }
    }
}

impl Published {
    /// Renders every body; the snapshot is dropped once the sources' families are rendered.
    pub fn new(evaluation: Evaluation) -> Published {
        Published::rendered(evaluation, None)
    }

    /// As [`Published::new`] for the serving process, with the outcome of the last config
    /// (re)load: whether it succeeded, and when one last did (Unix seconds).
    pub fn with_reload(evaluation: Evaluation, reload: (bool, f64)) -> Published {
        Published::rendered(evaluation, Some(reload))
    }

    fn rendered(evaluation: Evaluation, reload: Option<(bool, f64)>) -> Published {
        let Evaluation { report, snapshot } = evaluation;
        // The source text becomes the body (tens of thousands of Kafka series): not kept twice.
        let sources = crate::metrics::source_text(&snapshot);
        drop(snapshot);
        let mut metrics = crate::metrics::render_with(&report, sources);
        if let Some((ok, at)) = reload {
            metrics.push_str(&crate::metrics::render_reload(ok, at));
        }
        let metrics = Body::new(metrics);
        Published {
            metrics,
            json: Body::new(crate::report::json(&report)),
            html: Body::new(crate::report::html::render(&report)),
            report,
        }
    }
}

pub type Latest = watch::Receiver<Option<Arc<Published>>>;

/// A reload asked for; the answer goes back when someone waits for it (`POST /-/reload`).
pub type ReloadRequest = Option<tokio::sync::oneshot::Sender<Result<(), String>>>;

const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every response body: one buffer, or the chunks of `/metrics`.
pub type ResponseBody = BoxBody<Bytes, Infallible>;

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<ResponseBody> {
    respond_chunks(status, content_type, vec![body])
}

/// A body sent as its parts, one after the other, none copied.
fn respond_chunks(status: StatusCode, content_type: &'static str, chunks: Vec<Bytes>) -> Response<ResponseBody> {
    // The length is known: sent plainly rather than chunked, as for one buffer.
    let length = chunks.iter().map(Bytes::len).sum::<usize>();
    let body = match <[Bytes; 1]>::try_from(chunks) {
        Ok([one]) => Full::new(one).boxed(),
        Err(chunks) => {
            StreamBody::new(futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Frame::data(c))))).boxed()
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A rendered body, gzipped when the client accepts it; `Vary` either way, so a cache between
/// keeps the two apart. `tail`: text made now, sent after it (a gzip stream may hold several
/// members, read as one).
fn respond_body(content_type: &'static str, body: &Body, gzip: bool, tail: Option<String>) -> Response<ResponseBody> {
    let mut chunks = vec![if gzip { body.gzip.clone() } else { body.plain.clone() }];
    if let Some(t) = tail {
        chunks.push(if gzip { Body::new(t).gzip } else { Bytes::from(t) });
    }
    let mut r = respond_chunks(StatusCode::OK, content_type, chunks);
    r.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        r.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// Whether an `Accept-Encoding` value takes gzip: listed (or `*`) without `q=0`.
pub fn accepts_gzip(header: Option<&str>) -> bool {
    let Some(h) = header else { return false };
    h.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let refused = it.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Answers a request from the latest published evaluation. `gzip`: the client accepts it.
pub fn route(method: &Method, path: &str, gzip: bool, latest: Option<Arc<Published>>) -> Response<ResponseBody> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain", Bytes::from_static(b"only GET and HEAD\n"));
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    const NOT_YET: &[u8] = b"no evaluation published yet\n";
    match (path, latest) {
        // `/-/healthy` and `/-/ready`: the spellings of Prometheus and Alertmanager.
        ("/health" | "/-/healthy", _) => respond(StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
        ("/ready" | "/-/ready", Some(_)) => respond(StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n")),
        ("/ready" | "/-/ready", None) => {
            respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", Bytes::from_static(NOT_YET))
        }
        // The process' own families are read at the scrape, like every exporter's.
        ("/metrics", Some(p)) => respond_body(METRICS_TYPE, &p.metrics, gzip, Some(crate::metrics::render_process())),
        ("/api/v1/checks", Some(p)) => respond_body("application/json", &p.json, gzip, None),
        ("/", Some(p)) => respond_body("text/html; charset=utf-8", &p.html, gzip, None),
        ("/metrics", None) => {
            let text = crate::metrics::render_starting() + &crate::metrics::render_process();
            respond(StatusCode::OK, METRICS_TYPE, Bytes::from(text))
        }
        ("/api/v1/checks" | "/", None) => {
            respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", Bytes::from_static(NOT_YET))
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"not found\n")),
    }
}

/// `POST /-/reload`, as Prometheus answers it: 200 once the new config is in force, 500 with
/// every refusal when it is not (the running config stays).
async fn reload_response(to: Option<tokio::sync::mpsc::Sender<ReloadRequest>>) -> Response<ResponseBody> {
    let text = |s: String| Bytes::from(s);
    let Some(to) = to else {
        return respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            text("reloading is not available here\n".into()),
        );
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if to.send(Some(reply)).await.is_err() {
        return respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", text("shutting down\n".into()));
    }
    match answer.await {
        Ok(Ok(())) => respond(StatusCode::OK, "text/plain", text("config reloaded\n".into())),
        Ok(Err(why)) => {
            respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", text(format!("failed to reload config: {why}\n")))
        }
        Err(_) => respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", text("shutting down\n".into())),
    }
}

/// Bounds on what clients may hold open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; past it the connection idle the longest is closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 512, header_read_timeout: Duration::from_secs(10) }
    }
}

/// The open connections, each with the time it last began a request (or was accepted).
/// At the cap, the one idle the longest makes room: a client sending its headers a byte a
/// second is idle from the start, while a scraper's request is read at once and answered
/// from memory, so slow clients cannot crowd out the ones that ask. Blocking `accept` at the
/// cap instead (Prometheus's `--web.max-connections`) would let them do exactly that.
#[derive(Default)]
struct Connections {
    open: std::sync::Mutex<ConnTable>,
    started: std::sync::OnceLock<std::time::Instant>,
}

#[derive(Default)]
struct ConnTable {
    next_id: u64,
    by_id: std::collections::HashMap<u64, (Arc<std::sync::atomic::AtomicU64>, tokio::task::AbortHandle)>,
    /// Most open at once since memory was last handed back to the allocator.
    peak: usize,
}

/// Open connections past which, once all have closed, freed memory is handed back (glibc
/// keeps freed heap in its arenas otherwise, so a burst would leave RSS high for good).
const TRIM_AFTER_PEAK: usize = 64;

impl Connections {
    fn now_ms(&self) -> u64 {
        self.started.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
    }

    fn table(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the connection idle the longest while `max` or more are open.
    fn make_room(&self, max: usize) {
        let mut t = self.table();
        while t.by_id.len() >= max.max(1) {
            let oldest = t
                .by_id
                .iter()
                .min_by_key(|(id, (active, _))| (active.load(std::sync::atomic::Ordering::Relaxed), **id))
                .map(|(id, _)| *id);
            let Some(id) = oldest else { break };
            if let Some((_, task)) = t.by_id.remove(&id) {
                task.abort();
            }
        }
    }

    /// Runs `conn` as a task of its own, listed until it ends. The table stays locked until
    /// the task is listed, so a task that ends at once is still taken out after.
    fn spawn<F>(self: &Arc<Self>, activity: Arc<std::sync::atomic::AtomicU64>, conn: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut t = self.table();
        t.next_id += 1;
        let id = t.next_id;
        let leave = Leave(Arc::clone(self), id);
        let task = tokio::spawn(async move {
            let _leave = leave;
            conn.await
        });
        t.by_id.insert(id, (activity, task.abort_handle()));
        t.peak = t.peak.max(t.by_id.len());
    }

    fn remove(&self, id: u64) {
        let trim = {
            let mut t = self.table();
            t.by_id.remove(&id);
            let trim = t.by_id.is_empty() && t.peak >= TRIM_AFTER_PEAK;
            if trim {
                t.peak = 0;
            }
            trim
        };
        if trim {
            crate::memory::release_free_memory();
        }
    }
}

/// Takes a connection out of the table however its task ends (finished or aborted).
struct Leave(Arc<Connections>, u64);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// Serves until `shutdown` turns true, then lets open requests finish (bounded).
/// What the endpoint is served with besides its data.
pub struct ServeOptions {
    pub limits: Limits,
    /// Where `POST /-/reload` asks for a reload (None: reloading is not available).
    pub reloads: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// TLS, basic auth and headers from `--web.config.file`, swapped on reload.
    pub web: watch::Receiver<Arc<WebSecurity>>,
    /// `/health` and `/ready` answer without credentials (kubelet probes).
    pub open_probes: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        let (_, web) = watch::channel(Arc::new(WebSecurity::open()));
        ServeOptions { limits: Limits::default(), reloads: None, web, open_probes: false }
    }
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, latest: Latest, mut shutdown: watch::Receiver<bool>, options: ServeOptions) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let ServeOptions { limits, reloads, web, open_probes } = options;
    let graceful = GracefulShutdown::new();
    let conns = Arc::new(Connections::default());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                conns.make_room(limits.max_connections);
                let activity = Arc::new(AtomicU64::new(conns.now_ms()));
                let latest = latest.clone();
                let (seen, clock) = (Arc::clone(&activity), Arc::clone(&conns));
                let reloads = reloads.clone();
                let security = web.borrow().clone();
                let tls = security.tls.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    seen.store(clock.now_ms(), Ordering::Relaxed);
                    let probe = matches!(req.uri().path(), "/health" | "/-/healthy" | "/ready" | "/-/ready");
                    let header = |h| req.headers().get(h).and_then(|v: &HeaderValue| v.to_str().ok());
                    let allowed = (open_probes && probe) || security.authorized(header(AUTHORIZATION));
                    let gzip = accepts_gzip(header(ACCEPT_ENCODING));
                    let reload = (req.method() == Method::POST && req.uri().path() == "/-/reload").then(|| reloads.clone());
                    let resp = match allowed {
                        true => Some(route(req.method(), req.uri().path(), gzip, latest.borrow().clone())),
                        false => None,
                    };
                    let security = Arc::clone(&security);
                    async move {
                        let mut resp = match (resp, reload) {
                            (None, _) => unauthorized(),
                            (Some(_), Some(to)) => reload_response(to).await,
                            (Some(r), None) => r,
                        };
                        for (name, value) in &security.headers {
                            resp.headers_mut().insert(name.clone(), value.clone());
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let http = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .clone();
                let watcher = graceful.watcher();
                let handshake_limit = limits.header_read_timeout;
                conns.spawn(activity, async move {
                    let ended = match tls {
                        None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                        Some(config) => {
                            // The handshake within the same bound as the headers: a client that
                            // opens and says nothing is closed alike.
                            let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
                            match tokio::time::timeout(handshake_limit, accept).await {
                                Ok(Ok(tls)) => watcher.watch(http.serve_connection(TokioIo::new(tls), service)).await,
                                Ok(Err(e)) => return tracing::debug!("TLS handshake refused: {e}"),
                                Err(_) => return tracing::debug!("TLS handshake timed out"),
                            }
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("open connections did not finish within 10s");
    }
}

/// 401 with the challenge browsers and Prometheus answer.
fn unauthorized() -> Response<ResponseBody> {
    let mut r = respond(StatusCode::UNAUTHORIZED, "text/plain", Bytes::from_static(b"unauthorized\n"));
    r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"infrasage-readiness\""));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_health(addr: std::net::SocketAddr) -> Option<String> {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(String::from_utf8_lossy(&out).to_string())
    }

    /// Clients that never finish their headers cannot hold more than the cap, and a client
    /// that asks is still answered: the idle ones make room.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_cannot_crowd_out_the_ones_that_ask() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_publish, latest) = watch::channel::<Option<Arc<Published>>>(None);
        let (stop, stopped) = watch::channel(false);
        let limits = Limits { max_connections: 8, header_read_timeout: Duration::from_secs(30) };
        let server = tokio::spawn(serve(listener, latest, stopped, ServeOptions { limits, ..Default::default() }));

        let mut slow = Vec::new();
        for _ in 0..40 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /metr").await.unwrap();
            slow.push(s);
        }
        let answer = tokio::time::timeout(Duration::from_secs(5), get_health(addr)).await.expect("answered in time");
        assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")), "a real request is served at the cap");

        // The earliest slow clients were closed to make room; at most the cap stay open.
        let mut open = 0;
        for s in &mut slow {
            let mut buf = [0u8; 16];
            match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
                Err(_) => open += 1,     // still waiting: held open by the server
                Ok(Ok(0) | Err(_)) => {} // closed by the server
                Ok(Ok(_)) => panic!("a request without its headers got an answer"),
            }
        }
        assert!(open <= 8, "{open} slow connections held open past the cap of 8");
        assert!(open >= 1, "the newest slow connections stay until their header timeout");
        stop.send(true).unwrap();
        drop(slow);
        tokio::time::timeout(Duration::from_secs(15), server).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn headers_not_sent_in_time_close_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_publish, latest) = watch::channel::<Option<Arc<Published>>>(None);
        let (_stop, stopped) = watch::channel(false);
        let limits = Limits { max_connections: 8, header_read_timeout: Duration::from_millis(300) };
        tokio::spawn(serve(listener, latest, stopped, ServeOptions { limits, ..Default::default() }));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HT").await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server closed the connection after its header timeout");
    }
}
