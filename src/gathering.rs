//! Gathering the sources: all at once for one evaluation (the gate), or each on its own clock
//! (the exporter), keeping every source's latest outcome so that a slow or hanging source never
//! holds the others back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::catalogue::SourceId;
use crate::redact;
use crate::results::{SourceHistory, SourceReport};
use crate::snapshot::{Snapshot, SourceData, SourceState};
use crate::sources::{Gathered, Source};

/// One finished gather.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<SourceData, String>,
    pub warnings: Vec<String>,
    pub took: f64,
    pub finished: DateTime<Utc>,
}

/// One gather within the source's timeout; secrets it read are registered and masked in what
/// it says, and the history learns whether it failed or recovered.
pub async fn gather_one(source: &dyn Source, history: &SourceHistory) -> Outcome {
    let started = Instant::now();
    let limit = source.timeout();
    let result = match tokio::time::timeout(limit, source.gather()).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {}", humantime::format_duration(limit))),
    };
    let took = started.elapsed().as_secs_f64();
    let id = source.id();
    // The backstop of the redaction discipline: whatever a source wrote, known secrets are
    // masked before the text reaches the snapshot, logs or outputs.
    if let Ok(Gathered { data: SourceData::Kubernetes(k), .. }) = &result {
        k.register_secrets();
    }
    let finished = Utc::now();
    match result {
        Ok(Gathered { data, warnings }) => {
            if history.succeeded(id, finished) {
                tracing::info!(source = id.as_str(), "source recovered");
            }
            let warnings = warnings.iter().map(|w| redact::scrub(w)).collect();
            Outcome { result: Ok(data), warnings, took, finished }
        }
        Err(why) => {
            let why = redact::scrub(&why);
            // Once when it starts failing, not at every gather (the reason is in the outputs,
            // and `source_up` says it is still down).
            if history.failed(id) {
                tracing::warn!(source = id.as_str(), "source failed: {why}");
            } else {
                tracing::debug!(source = id.as_str(), "source still failing: {why}");
            }
            Outcome { result: Err(why), warnings: Vec::new(), took, finished }
        }
    }
}

/// Why a source has no data before its first gather ends.
pub const PENDING: &str = "no data yet (its first gather is still running)";

/// The snapshot and the source reports from each source's outcome (None: still pending) and
/// the sources that do not run.
pub fn assemble(
    idle: &BTreeMap<SourceId, SourceState<()>>,
    outcomes: Vec<(SourceId, Option<Outcome>)>,
    history: &SourceHistory,
) -> (Snapshot, Vec<SourceReport>) {
    let mut snapshot = Snapshot::default();
    let mut reports = Vec::new();
    for (id, state) in idle {
        snapshot.set_state(*id, state.clone());
        let (state, error) = match state {
            SourceState::Unavailable(why) => ("unavailable", Some(why.clone())),
            _ => ("not_configured", None),
        };
        reports.push(report(*id, state, None, None, error, Vec::new()));
    }
    for (id, outcome) in outcomes {
        let last = history.last_success(id);
        let r = match outcome {
            None => {
                snapshot.set_state(id, SourceState::Failed(PENDING.to_string()));
                report(id, "pending", None, last, Some(PENDING.to_string()), Vec::new())
            }
            Some(Outcome { result: Ok(data), warnings, took, .. }) => {
                snapshot.insert(data);
                report(id, "ok", Some(took), last, None, warnings)
            }
            Some(Outcome { result: Err(why), took, .. }) => {
                snapshot.set_state(id, SourceState::Failed(why.clone()));
                report(id, "failed", Some(took), last, Some(why), Vec::new())
            }
        };
        reports.push(r);
    }
    reports.sort_by(|a, b| a.source.cmp(&b.source));
    (snapshot, reports)
}

fn report(
    id: SourceId,
    state: &str,
    took: Option<f64>,
    last_success: Option<DateTime<Utc>>,
    error: Option<String>,
    warnings: Vec<String>,
) -> SourceReport {
    SourceReport {
        source: id.as_str().to_string(),
        state: state.to_string(),
        duration_seconds: took,
        last_success,
        error,
        warnings,
    }
}

/// Every source gathering on its own loop, its latest outcome kept. Dropped, the loops stop.
pub struct SourceLoops {
    slots: Vec<Slot>,
    tasks: Vec<tokio::task::AbortHandle>,
}

struct Slot {
    id: SourceId,
    interval: Duration,
    latest: Arc<Mutex<Option<Outcome>>>,
}

impl SourceLoops {
    /// Starts one loop per source: gather, keep the outcome, wait out the rest of its interval.
    pub fn start(sources: &[(Arc<dyn Source>, Duration)], history: &Arc<SourceHistory>) -> SourceLoops {
        let mut slots = Vec::new();
        let mut tasks = Vec::new();
        for (source, interval) in sources {
            let id = source.id();
            let latest = Arc::new(Mutex::new(None));
            let (source, history, keep, every) =
                (Arc::clone(source), Arc::clone(history), Arc::clone(&latest), *interval);
            let task = tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let outcome = gather_one(source.as_ref(), &history).await;
                    let previous = keep.lock().unwrap_or_else(|p| p.into_inner()).replace(outcome);
                    // The previous data set goes once no evaluation holds it; its pages go back
                    // to the system, or the exporter would stay at two data sets' worth.
                    if previous.is_some_and(|p| p.result.is_ok()) {
                        crate::memory::release_free_memory_now_and_then();
                    }
                }
            });
            tasks.push(task.abort_handle());
            slots.push(Slot { id, interval: *interval, latest });
        }
        SourceLoops { slots, tasks }
    }

    /// Waits until every source has finished a first gather, at most `bound`.
    pub async fn first_gathers(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline && self.slots.iter().any(|s| s.current().is_none()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Each source's latest outcome (the data is shared, not copied) and its interval.
    pub fn latest(&self) -> Vec<(SourceId, Option<Outcome>, Duration)> {
        self.slots.iter().map(|s| (s.id, s.current(), s.interval)).collect()
    }
}

impl Slot {
    fn current(&self) -> Option<Outcome> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for SourceLoops {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
