//! The serving loop: evaluate on a ticker and publish, reload the config when asked (SIGHUP,
//! `POST /-/reload`, or the file changing, as a mounted ConfigMap does), stop at once when told.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::{self, Config};
use crate::engine::Engine;
use crate::plan::Plan;
use crate::server::{Published, ReloadRequest};
use crate::web_config::WebSecurity;

/// How often the config file is compared with what was loaded.
const FILE_POLL: Duration = Duration::from_secs(5);

/// What the serve command was started with, to build an engine from the file again.
pub struct Reloader {
    pub path: Option<PathBuf>,
    pub listen: Option<String>,
    pub manifests: Vec<PathBuf>,
    /// `--web.config.file`.
    pub web_config: Option<PathBuf>,
}

impl Reloader {
    /// The config, an engine for it and the endpoint's security, or every refusal with its
    /// key path.
    pub fn load(&self) -> Result<(Config, Engine, WebSecurity), String> {
        let security = match &self.web_config {
            Some(path) => WebSecurity::load(path)?,
            None => WebSecurity::open(),
        };
        let mut config = config::load(self.path.as_deref()).map_err(|e| e.to_string())?;
        if let Some(l) = &self.listen {
            config.listen = l.clone();
        }
        let plan = Plan::new(&config, None);
        let set = crate::sources::build(&config, &plan.needs, &self.manifests)?;
        Ok((config, Engine::new(plan, set), security))
    }
}

/// The outcome of the last reload, as Prometheus reports its own.
#[derive(Debug)]
pub struct ReloadStatus {
    successful: AtomicBool,
    success_at_ms: AtomicI64,
}

impl ReloadStatus {
    /// The config loaded at start counts as the first successful load.
    pub fn started() -> ReloadStatus {
        ReloadStatus { successful: AtomicBool::new(true), success_at_ms: AtomicI64::new(now_ms()) }
    }

    pub fn record(&self, ok: bool) {
        self.successful.store(ok, Ordering::Relaxed);
        if ok {
            self.success_at_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    pub fn successful(&self) -> bool {
        self.successful.load(Ordering::Relaxed)
    }

    pub fn success_at_seconds(&self) -> f64 {
        self.success_at_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where the loop publishes and what it listens to.
pub struct Channels {
    pub publish: watch::Sender<Option<Arc<Published>>>,
    /// The endpoint's TLS and auth, replaced when the web config is read again.
    pub web: watch::Sender<Arc<WebSecurity>>,
    pub reloads: mpsc::Receiver<ReloadRequest>,
    pub stop: watch::Receiver<bool>,
}

/// Evaluates now and every interval over each source's latest data, the sources gathering on
/// their own clocks. A reload swaps the engine (keeping the sources' history) and its loops,
/// and evaluates at once, so its effect and its outcome show; a refused one keeps the old
/// engine. A stop ends everything at once: the gathers in flight are dropped, so the process
/// exits within Kubernetes' grace period whatever the sources' timeouts.
pub async fn evaluate_forever(
    mut engine: Arc<Engine>,
    mut config: Config,
    reloader: Reloader,
    status: Arc<ReloadStatus>,
    mut ch: Channels,
) {
    let mut ticks = ticker(config.interval.0);
    // Every source on its own clock; each evaluation reads their latest data.
    let mut loops = engine.start_loops(config.interval.0);
    let mut fresh = true;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            Some(request) = ch.reloads.recv() => {
                let outcome = reload(&reloader, &mut engine, &mut config, &status, &ch.web);
                if outcome.is_ok() {
                    loops = engine.start_loops(config.interval.0);
                    fresh = true;
                    ticks = ticker(config.interval.0);
                    ticks.tick().await;
                }
                if let Some(reply) = request {
                    let _ = reply.send(outcome);
                }
            }
            _ = ch.stop.changed() => return,
        }
        if fresh {
            // A first evaluation waits for the sources' first gathers, at most one interval:
            // a source that hangs is reported as pending rather than holding the others.
            tokio::select! {
                _ = loops.first_gathers(config.interval.0) => {}
                _ = ch.stop.changed() => return,
            }
            fresh = false;
        }
        let evaluation = engine.evaluate_latest(&loops);
        let s = &evaluation.summary;
        tracing::info!(
            pass = s.pass,
            fail = s.fail,
            error = s.error,
            skipped = s.skipped,
            took_seconds = evaluation.duration_seconds,
            "evaluation published"
        );
        let reload = (status.successful(), status.success_at_seconds());
        match tokio::task::spawn_blocking(move || Published::with_reload(evaluation, reload)).await {
            Ok(published) => {
                ch.publish.send_replace(Some(Arc::new(published)));
            }
            Err(e) => tracing::error!("rendering the evaluation failed: {e}"),
        }
        if *ch.stop.borrow() {
            return;
        }
    }
}

fn ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

fn reload(
    reloader: &Reloader,
    engine: &mut Arc<Engine>,
    config: &mut Config,
    status: &ReloadStatus,
    web: &watch::Sender<Arc<WebSecurity>>,
) -> Result<(), String> {
    match reloader.load() {
        Ok((fresh_config, fresh, security)) => {
            web.send_replace(Arc::new(security));
            if fresh_config.listen != config.listen || fresh_config.web != config.web {
                tracing::warn!("listen and web take effect at the next start; the rest of the new config is in force");
            }
            *engine = Arc::new(fresh.keeping(engine.history()));
            *config = fresh_config;
            status.record(true);
            tracing::info!("config reloaded");
            Ok(())
        }
        Err(why) => {
            status.record(false);
            tracing::error!("config reload refused, the running config stays: {why}");
            Err(why)
        }
    }
}

/// Asks for a reload at every SIGHUP.
pub async fn reload_on_sighup(requests: mpsc::Sender<ReloadRequest>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config");
        if requests.send(None).await.is_err() {
            return;
        }
    }
}

/// Asks for a reload when the file's content changes: a mounted ConfigMap is swapped under
/// its path (a symlink moves), so the content is compared, not the modification time.
pub async fn reload_on_change(path: PathBuf, requests: mpsc::Sender<ReloadRequest>) {
    let mut seen = std::fs::read(&path).ok();
    loop {
        tokio::time::sleep(FILE_POLL).await;
        let now = std::fs::read(&path).ok();
        if now.is_some() && now != seen {
            seen = now;
            tracing::info!(path = %path.display(), "config file changed: reloading");
            if requests.send(None).await.is_err() {
                return;
            }
        }
    }
}
