//! The exporter's HTTP endpoint. Every body is rendered once per evaluation and served from
//! memory, so a scrape never waits on a source.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::results::Report;

/// One evaluation, rendered for every endpoint.
pub struct Published {
    pub report: Report,
    pub metrics: Bytes,
    pub json: Bytes,
    pub html: Bytes,
}

impl Published {
    pub fn new(mut report: Report) -> Published {
        // The source text becomes the body (tens of thousands of Kafka series): not kept twice.
        let sources = std::mem::take(&mut report.source_metrics);
        let metrics = Bytes::from(crate::metrics::render_with(&report, sources));
        Published {
            metrics,
            json: Bytes::from(crate::report::json(&report)),
            html: Bytes::from(crate::report::html::render(&report)),
            report,
        }
    }
}

pub type Latest = watch::Receiver<Option<Arc<Published>>>;

const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn route(method: &Method, path: &str, latest: Option<Arc<Published>>) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain", Bytes::from_static(b"only GET and HEAD\n"));
    }
    const NOT_YET: &[u8] = b"no evaluation published yet\n";
    match (path, latest) {
        ("/health", _) => respond(StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
        ("/ready", Some(_)) => respond(StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n")),
        ("/ready", None) => respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", Bytes::from_static(NOT_YET)),
        ("/metrics", Some(p)) => respond(StatusCode::OK, METRICS_TYPE, p.metrics.clone()),
        ("/api/v1/checks", Some(p)) => respond(StatusCode::OK, "application/json", p.json.clone()),
        ("/", Some(p)) => respond(StatusCode::OK, "text/html; charset=utf-8", p.html.clone()),
        ("/metrics" | "/api/v1/checks" | "/", None) => {
            respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", Bytes::from_static(NOT_YET))
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"not found\n")),
    }
}

/// Serves until `shutdown` turns true, then lets open requests finish (bounded).
pub async fn serve(listener: TcpListener, latest: Latest, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
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
                let latest = latest.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let current = latest.borrow().clone();
                    let resp = route(req.method(), req.uri().path(), current);
                    async move { Ok::<_, Infallible>(resp) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
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
