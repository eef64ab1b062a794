//! The command line of DESIGN.md: `serve`, `check`, `catalogue`, `config-check`.
//! Exit codes of `check`: 0 no critical item fails or errors, 1 one does, 2 it could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::watch;

use crate::config::{self, Config};
use crate::engine::Engine;
use crate::plan::Plan;
use crate::results::{GateVerdict, Report};
use crate::server::{self, Published};
use crate::sources;

#[derive(Parser, Debug)]
#[command(name = "infrasage-readiness", version, about = "InfraSage production-readiness exporter and go-live gate")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate on an interval and serve /metrics, /api/v1/checks, /, /health and /ready.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides `listen` in the config).
        #[arg(long)]
        listen: Option<String>,
        /// Rendered Kubernetes manifests (file, folder or - for stdin) instead of the live API.
        #[arg(long)]
        manifests: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// TLS, basic auth and headers for the endpoint, in the exporter-toolkit's format.
        #[arg(long = "web.config.file")]
        web_config_file: Option<PathBuf>,
    },
    /// Evaluate once and report: the go-live gate.
    Check {
        #[arg(long, required_unless_present = "manifests")]
        config: Option<PathBuf>,
        #[arg(long)]
        manifests: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = CheckOutput::Table)]
        output: CheckOutput,
        /// Evaluate only these item ids.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Print every checklist item with its id, severity and rule.
    Catalogue {
        #[arg(long, value_enum, default_value_t = CatalogueOutput::Table)]
        output: CatalogueOutput,
    },
    /// Validate a config file: exit 0 when it is good, 2 with every problem named when not.
    ConfigCheck {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutput {
    Table,
    Json,
    Junit,
    Markdown,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogueOutput {
    Table,
    Json,
    Markdown,
}

const EXIT_RUN_FAILED: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, listen, manifests, log_format, web_config_file } => {
            init_logging(log_format, "info");
            let reloader = crate::run::Reloader { path: config, listen, manifests, web_config: web_config_file };
            runtime().block_on(serve(reloader))
        }
        Command::Check { config, manifests, output, only } => {
            init_logging(LogFormat::Text, "warn");
            runtime().block_on(check(config, manifests, output, only))
        }
        Command::Catalogue { output } => {
            let text = match output {
                CatalogueOutput::Table => crate::report::catalogue::table(),
                CatalogueOutput::Json => crate::report::catalogue::json(),
                CatalogueOutput::Markdown => crate::report::catalogue::markdown(),
            };
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Command::ConfigCheck { config } => match config::load(Some(&config)) {
            Ok(c) => {
                let configured: Vec<&str> = c.sections().into_iter().map(|(key, _)| key).collect();
                println!(
                    "{}: ok (sources: {}; {} attestation(s), {} custom item(s))",
                    config.display(),
                    if configured.is_empty() { "none".to_string() } else { configured.join(", ") },
                    c.attestations.len(),
                    c.custom_checks.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_RUN_FAILED)
            }
        },
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts")
}

/// Client crates that log requests (headers included) at debug and trace: capped at info
/// whatever `RUST_LOG` asks, so `RUST_LOG=debug` cannot print a password or a token (the
/// clickhouse crate logs its request headers, the password among them, at debug).
pub const NOISY_TARGETS: &[&str] = &[
    "clickhouse",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "reqwest",
    "h2",
    "rustls",
    "tokio_rustls",
    "kube",
    "kube_client",
    "tower",
    "tower_http",
];

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Applied after RUST_LOG whatever it says, even `hyper::proto=trace`.
    let cap =
        tracing_subscriber::filter::filter_fn(|meta| *meta.level() <= tracing::Level::INFO || !is_noisy(meta.target()));
    let writer = || ScrubbingWriter(std::io::stderr());
    let registry = tracing_subscriber::registry();
    match format {
        LogFormat::Text => {
            // Colour codes only for a person at a terminal, not in a log collector's file.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let layer = tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(writer);
            registry.with(layer.with_filter(env).with_filter(cap)).init()
        }
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_writer(writer).with_filter(env).with_filter(cap))
            .init(),
    }
    // A panic is one log event (one JSON line under --log-format json) without its payload,
    // which may carry foreign text; the location says where to look.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(at, "panic");
    }));
}

/// Whether `target` (a module path, or a `log` target) belongs to one of [`NOISY_TARGETS`].
pub fn is_noisy(target: &str) -> bool {
    NOISY_TARGETS.iter().any(|t| target.strip_prefix(t).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
}

/// Every log line passes the redactor on its way out: the last line of defence should an
/// event (ours or a crate's) carry a known secret. The formatter writes one event per write.
struct ScrubbingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(crate::redact::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    config::load(path.map(|p| p.as_path())).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_RUN_FAILED)
    })
}

async fn check(config: Option<PathBuf>, manifests: Vec<PathBuf>, output: CheckOutput, only: Vec<String>) -> ExitCode {
    let config = match load_config(config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(bad) = only
        .iter()
        .find(|id| crate::catalogue::find(id).is_none() && !config.custom_checks.iter().any(|c| &c.id == *id))
    {
        eprintln!("--only: unknown item id {bad:?} (see `infrasage-readiness catalogue`)");
        return ExitCode::from(EXIT_RUN_FAILED);
    }
    let plan = Plan::new(&config, (!only.is_empty()).then_some(only.as_slice()));
    let set = match sources::build(&config, &plan.needs, &manifests) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    let from_files = set.active.iter().any(|s| s.id() == crate::catalogue::SourceId::Kubernetes);
    let engine = Engine::new(plan, set);
    let report = engine.evaluate().await.report;
    // Unreadable manifests are unreadable input, not a verdict about the cluster.
    if from_files {
        if let Some(e) = report.sources.iter().find(|s| s.source == "kubernetes").and_then(|s| s.error.as_ref()) {
            eprintln!("{e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    }
    print!("{}", render(&report, output));
    if report.summary.gate == GateVerdict::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn render(report: &Report, output: CheckOutput) -> String {
    match output {
        CheckOutput::Table => crate::report::table::render(report),
        CheckOutput::Json => crate::report::json(report) + "\n",
        CheckOutput::Junit => crate::report::junit::render(report),
        CheckOutput::Markdown => crate::report::markdown::render(report),
    }
}

async fn serve(reloader: crate::run::Reloader) -> ExitCode {
    let config_path = reloader.path.clone();
    let (config, engine, security) = match reloader.load() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    if engine.source_count() == 0 {
        tracing::warn!("no source is configured: every item will be skipped or unattested");
    }
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", config.listen);
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| config.listen.clone());
    tracing::info!(
        version = crate::metrics::VERSION,
        revision = crate::metrics::REVISION,
        "listening on http://{addr}"
    );

    let (publish, latest) = watch::channel::<Option<Arc<Published>>>(None);
    let (stop, stopped) = watch::channel(false);
    let (reload, reloads) = tokio::sync::mpsc::channel(4);
    let limits = server::Limits {
        max_connections: config.web.max_connections,
        header_read_timeout: config.web.header_read_timeout.0,
    };
    let (web, web_rx) = watch::channel(Arc::new(security));
    let options = server::ServeOptions {
        limits,
        reloads: Some(reload.clone()),
        web: web_rx,
        open_probes: config.web.open_probes,
    };
    let http = tokio::spawn(server::serve(listener, latest, stopped.clone(), options));
    let mut watchers = vec![tokio::spawn(crate::run::reload_on_sighup(reload.clone()))];
    if let Some(path) = config_path {
        watchers.push(tokio::spawn(crate::run::reload_on_change(path, reload)));
    }
    let status = Arc::new(crate::run::ReloadStatus::started());
    let channels = crate::run::Channels { publish, reloads, stop: stopped, web };
    let evaluations = tokio::spawn(crate::run::evaluate_forever(Arc::new(engine), config, reloader, status, channels));

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    for w in watchers {
        w.abort();
    }
    let _ = evaluations.await;
    let _ = http.await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
