//! The loop's one step: gather every source concurrently (each under its own timeout), build
//! the snapshot, run every enabled item, and return an immutable [`Report`]. A failed source
//! turns only its own items into `error`; everything else still evaluates.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use crate::catalogue::{self, Automation, Item, Severity, SourceId};
use crate::checks::{self, CheckCtx, CheckFn};
use crate::config::Config;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::redact;
use crate::results::{CheckReport, Evaluation, Report, SourceHistory, SourceReport, Summary, MAX_FINDINGS};
use crate::snapshot::{Snapshot, SourceState};
use crate::sources::{Gathered, Source, SourceSet};

pub struct Engine {
    plan: Plan,
    sources: Vec<Arc<dyn Source>>,
    idle: BTreeMap<SourceId, SourceState<()>>,
    history: Arc<SourceHistory>,
}

impl Engine {
    pub fn new(plan: Plan, sources: SourceSet) -> Engine {
        Engine {
            plan,
            sources: sources.active.into_iter().map(Arc::from).collect(),
            idle: sources.idle,
            history: Arc::default(),
        }
    }

    /// Carries on `history` (the last-success times of an engine this one replaces).
    pub fn keeping(mut self, history: Arc<SourceHistory>) -> Engine {
        self.history = history;
        self
    }

    /// How many sources this engine gathers.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    pub fn history(&self) -> Arc<SourceHistory> {
        Arc::clone(&self.history)
    }

    /// The plan and sources of `config` in one step (no `--manifests`, no `--only`).
    pub fn from_config(config: &Config) -> Result<Engine, String> {
        let plan = Plan::new(config, None);
        let set = crate::sources::build(config, &plan.needs, &[])?;
        Ok(Engine::new(plan, set))
    }

    pub async fn evaluate(&self) -> Evaluation {
        let started = Instant::now();
        let (snapshot, sources) = self.gather().await;
        let now = Utc::now();
        let checks = self.run_checks(&snapshot, now);
        let report = Report {
            summary: Summary::of(&checks),
            checks,
            sources,
            evaluated_at: now,
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        Evaluation { report, snapshot }
    }

    async fn gather(&self) -> (Snapshot, Vec<SourceReport>) {
        let mut set = JoinSet::new();
        for source in &self.sources {
            let source = Arc::clone(source);
            set.spawn(async move {
                let started = Instant::now();
                let limit = source.timeout();
                let result = match tokio::time::timeout(limit, source.gather()).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("timed out after {}", humantime::format_duration(limit))),
                };
                (source.id(), result, started.elapsed().as_secs_f64())
            });
        }
        let mut snapshot = Snapshot::default();
        let mut reports = Vec::new();
        for (id, state) in &self.idle {
            snapshot.set_state(*id, state.clone());
            let (state, error) = match state {
                SourceState::Unavailable(why) => ("unavailable", Some(why.clone())),
                _ => ("not_configured", None),
            };
            reports.push(SourceReport {
                source: id.as_str().to_string(),
                state: state.to_string(),
                duration_seconds: None,
                last_success: None,
                error,
                warnings: Vec::new(),
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((id, result, took)) = joined else {
                tracing::error!("a source task panicked");
                continue;
            };
            // The backstop of the redaction discipline: whatever a source wrote, known
            // secrets are masked before the text reaches the snapshot, logs or outputs.
            if let Ok(Gathered { data: crate::snapshot::SourceData::Kubernetes(k), .. }) = &result {
                k.register_secrets();
            }
            let result = result
                .map(|g| Gathered { warnings: g.warnings.iter().map(|w| redact::scrub(w)).collect(), ..g })
                .map_err(|why| redact::scrub(&why));
            let report = match result {
                Ok(Gathered { data, warnings }) => {
                    snapshot.insert(data);
                    if self.history.succeeded(id, Utc::now()) {
                        tracing::info!(source = id.as_str(), "source recovered");
                    }
                    SourceReport {
                        source: id.as_str().into(),
                        state: "ok".into(),
                        duration_seconds: Some(took),
                        last_success: self.history.last_success(id),
                        error: None,
                        warnings,
                    }
                }
                Err(why) => {
                    // Once when it starts failing, not at every evaluation (the reason is in
                    // the outputs, and `source_up` says it is still down).
                    if self.history.failed(id) {
                        tracing::warn!(source = id.as_str(), "source failed: {why}");
                    } else {
                        tracing::debug!(source = id.as_str(), "source still failing: {why}");
                    }
                    snapshot.set_state(id, SourceState::Failed(why.clone()));
                    SourceReport {
                        source: id.as_str().into(),
                        state: "failed".into(),
                        duration_seconds: Some(took),
                        last_success: self.history.last_success(id),
                        error: Some(why),
                        warnings: Vec::new(),
                    }
                }
            };
            reports.push(report);
        }
        reports.sort_by(|a, b| a.source.cmp(&b.source));
        (snapshot, reports)
    }

    /// The checks alone over a snapshot already gathered (benchmarks time this part).
    pub fn run_checks(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<CheckReport> {
        let mut out: Vec<CheckReport> = self
            .plan
            .items
            .iter()
            .map(|p| {
                let outcome = match p.check {
                    Some(f) => {
                        let ctx = CheckCtx {
                            item: p.item,
                            snapshot,
                            params: &p.params,
                            now,
                            attestation: p.attestation.as_ref(),
                        };
                        run_guarded(f, &ctx)
                    }
                    None => undecided_by_sources(p.item.sources, snapshot),
                };
                self.report(p.item, p.severity, outcome)
            })
            .collect();
        for c in &self.plan.custom {
            let mut outcome = std::panic::catch_unwind(AssertUnwindSafe(|| checks::cel::custom(c, snapshot)))
                .unwrap_or_else(|_| Outcome::error("internal error: the expression panicked"));
            let total = outcome.findings.len();
            outcome.findings.truncate(MAX_FINDINGS);
            scrub_outcome(&mut outcome);
            out.push(CheckReport {
                id: c.id.clone(),
                category: c.category.clone(),
                severity: c.severity,
                status: outcome.status,
                title: c.title.clone(),
                doc: String::new(),
                automation: Automation::Automated,
                findings: outcome.findings,
                findings_total: total,
                reason: outcome.reason,
            });
        }
        out
    }

    fn report(&self, item: &Item, severity: Severity, mut outcome: Outcome) -> CheckReport {
        let total = outcome.findings.len();
        outcome.findings.truncate(MAX_FINDINGS);
        scrub_outcome(&mut outcome);
        CheckReport {
            id: item.id.to_string(),
            category: item.category.as_str().to_string(),
            severity,
            status: outcome.status,
            title: item.title.to_string(),
            doc: catalogue::doc_link(&self.plan.doc_base, item.anchor),
            automation: item.automation,
            findings: outcome.findings,
            findings_total: total,
            reason: outcome.reason,
        }
    }
}

/// Checks describe secrets instead of quoting them; this masks anything known that slipped in.
fn scrub_outcome(o: &mut Outcome) {
    if let Some(r) = &mut o.reason {
        *r = redact::scrub(r);
    }
    for f in &mut o.findings {
        f.object = redact::scrub(&f.object);
        f.message = redact::scrub(&f.message);
    }
}

/// A check that panics is a bug; it becomes that item's error, not the process's end.
fn run_guarded(f: CheckFn, ctx: &CheckCtx) -> Outcome {
    match std::panic::catch_unwind(AssertUnwindSafe(|| checks::run(f, ctx))) {
        Ok(Ok(o)) => o,
        Ok(Err(u)) => u.into(),
        Err(_) => {
            tracing::error!(check = ctx.item.id, "check panicked");
            Outcome::error("internal error: the check panicked (see the log)")
        }
    }
}

/// For items without a check function in this build: why they are not decided.
fn undecided_by_sources(sources: &[SourceId], snapshot: &Snapshot) -> Outcome {
    for s in sources {
        if let Err(u) = snapshot.source_status(*s) {
            return u.into();
        }
    }
    Outcome::skipped("not evaluated by this build")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::snapshot::SourceData;
    use crate::sources::BoxFuture;

    /// A source that answers or fails as told.
    struct Grafana(bool);

    impl Source for Grafana {
        fn id(&self) -> SourceId {
            SourceId::Grafana
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
            let up = self.0;
            Box::pin(async move {
                match up {
                    true => Ok(Gathered { data: SourceData::Grafana(Box::default()), warnings: Vec::new() }),
                    false => Err("down".to_string()),
                }
            })
        }
    }

    fn engine(up: bool) -> Engine {
        let set = SourceSet { active: vec![Box::new(Grafana(up))], idle: BTreeMap::new() };
        Engine::new(Plan::new(&Config::default(), None), set)
    }

    fn grafana(e: &Evaluation) -> SourceReport {
        e.sources.iter().find(|s| s.source == "grafana").cloned().unwrap()
    }

    #[tokio::test]
    async fn an_engine_built_for_a_new_config_keeps_the_last_success_times() {
        let first = engine(true);
        let ok = grafana(&first.evaluate().await);
        assert_eq!(ok.state, "ok");
        let when = ok.last_success.expect("a success is recorded");

        let fresh = grafana(&engine(false).evaluate().await);
        assert_eq!((fresh.state.as_str(), fresh.last_success), ("failed", None));

        let replacing = engine(false).keeping(first.history());
        let kept = grafana(&replacing.evaluate().await);
        assert_eq!((kept.state.as_str(), kept.last_success), ("failed", Some(when)));
    }
}
