//! The loop's one step: gather every source concurrently (each under its own timeout), build
//! the snapshot, run every enabled item, and return an immutable [`Report`]. A failed source
//! turns only its own items into `error`; everything else still evaluates.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use crate::catalogue::{self, Automation, Item, Severity, SourceId};
use crate::checks::{self, CheckCtx, CheckFn};
use crate::config::Config;
use crate::gathering::{self, SourceLoops};
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::redact;
use crate::results::{CheckReport, Evaluation, Report, SourceHistory, SourceReport, Summary, MAX_FINDINGS};
use crate::snapshot::{Snapshot, SourceState};
use crate::sources::{Source, SourceSet};

pub struct Engine {
    plan: Plan,
    sources: Vec<Arc<dyn Source>>,
    /// Sources with an interval of their own (`<source>.interval`).
    intervals: BTreeMap<SourceId, Duration>,
    idle: BTreeMap<SourceId, SourceState<()>>,
    history: Arc<SourceHistory>,
}

impl Engine {
    pub fn new(plan: Plan, sources: SourceSet) -> Engine {
        Engine {
            plan,
            sources: sources.active.into_iter().map(Arc::from).collect(),
            intervals: sources.intervals,
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

    /// One evaluation: every source gathered now (each within its timeout), then the checks.
    pub async fn evaluate(&self) -> Evaluation {
        let started = Instant::now();
        let mut set = JoinSet::new();
        for source in &self.sources {
            let (source, history) = (Arc::clone(source), Arc::clone(&self.history));
            set.spawn(async move { (source.id(), gathering::gather_one(source.as_ref(), &history).await) });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((id, outcome)) => outcomes.push((id, Some(outcome))),
                Err(_) => tracing::error!("a source task panicked"),
            }
        }
        let (snapshot, sources) = gathering::assemble(&self.idle, outcomes, &self.history);
        self.decide(snapshot, sources, started, &BTreeMap::new())
    }

    /// Starts every source on its own clock: its `interval` in the config, else `default`.
    pub fn start_loops(&self, default: Duration) -> SourceLoops {
        let sources: Vec<(Arc<dyn Source>, Duration)> = self
            .sources
            .iter()
            .map(|s| (Arc::clone(s), self.intervals.get(&s.id()).copied().unwrap_or(default)))
            .collect();
        SourceLoops::start(&sources, &self.history)
    }

    /// One evaluation over each source's latest data, waiting for none of them. An item whose
    /// source's data is older than two of its intervals says so in its reason.
    pub fn evaluate_latest(&self, loops: &SourceLoops) -> Evaluation {
        let started = Instant::now();
        let now = Utc::now();
        let mut stale = BTreeMap::new();
        let outcomes = loops
            .latest()
            .into_iter()
            .map(|(id, outcome, interval)| {
                if let Some(o) = outcome.as_ref().filter(|o| o.result.is_ok()) {
                    let age = (now - o.finished).to_std().unwrap_or_default();
                    if age > interval * 2 {
                        stale.insert(id, age);
                    }
                }
                (id, outcome)
            })
            .collect();
        let (snapshot, sources) = gathering::assemble(&self.idle, outcomes, &self.history);
        self.decide(snapshot, sources, started, &stale)
    }

    fn decide(
        &self,
        snapshot: Snapshot,
        sources: Vec<SourceReport>,
        started: Instant,
        stale: &BTreeMap<SourceId, Duration>,
    ) -> Evaluation {
        let now = Utc::now();
        let mut checks = self.run_checks(&snapshot, now);
        if !stale.is_empty() {
            for c in &mut checks {
                let Some(item) = catalogue::find(&c.id) else { continue };
                for (id, age) in stale.iter().filter(|(id, _)| item.sources.contains(id)) {
                    let note = format!(
                        "{} data is {} old: its gather is still running",
                        id.as_str(),
                        humantime::format_duration(Duration::from_secs(age.as_secs()))
                    );
                    c.reason = Some(match c.reason.take() {
                        Some(r) => format!("{r} ({note})"),
                        None => note,
                    });
                }
            }
        }
        let report = Report {
            summary: Summary::of(&checks),
            checks,
            sources,
            evaluated_at: now,
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        Evaluation { report, snapshot }
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
    use crate::sources::{BoxFuture, Gathered};

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
                    true => Ok(Gathered { data: SourceData::Grafana(Arc::default()), warnings: Vec::new() }),
                    false => Err("down".to_string()),
                }
            })
        }
    }

    fn engine(up: bool) -> Engine {
        let set = SourceSet { active: vec![Box::new(Grafana(up))], intervals: BTreeMap::new(), idle: BTreeMap::new() };
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

    /// Answers at once the first time, then hangs (within its timeout) every time after.
    struct AnswersOnceThenHangs(std::sync::atomic::AtomicUsize);

    impl Source for AnswersOnceThenHangs {
        fn id(&self) -> SourceId {
            SourceId::Grafana
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(30)
        }
        fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
            let calls = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if calls > 0 {
                    tokio::time::sleep(Duration::from_secs(20)).await;
                }
                Ok(Gathered { data: SourceData::Grafana(Arc::default()), warnings: Vec::new() })
            })
        }
    }

    #[tokio::test]
    async fn a_hanging_source_delays_nothing_and_its_items_say_their_data_is_old() {
        let source = AnswersOnceThenHangs(std::sync::atomic::AtomicUsize::new(0));
        let set = SourceSet { active: vec![Box::new(source)], intervals: BTreeMap::new(), idle: BTreeMap::new() };
        let engine = Engine::new(Plan::new(&Config::default(), None), set);
        let loops = engine.start_loops(Duration::from_millis(100));
        loops.first_gathers(Duration::from_secs(5)).await;
        let fresh = engine.evaluate_latest(&loops);
        let item = |e: &Evaluation| e.checks.iter().find(|c| c.id == "grafana_dashboards_imported").cloned().unwrap();
        assert!(!item(&fresh).reason.unwrap_or_default().contains("old"));
        // The second gather hangs; evaluations go on at once over the first data, and say so.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let started = std::time::Instant::now();
        let later = engine.evaluate_latest(&loops);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(grafana(&later).state, "ok");
        let reason = item(&later).reason.unwrap_or_default();
        assert!(reason.contains("grafana data is") && reason.contains("old: its gather is still running"), "{reason}");
    }

    #[tokio::test]
    async fn a_source_without_a_first_answer_is_pending_and_its_items_undecided() {
        let source = AnswersOnceThenHangs(std::sync::atomic::AtomicUsize::new(1));
        let set = SourceSet { active: vec![Box::new(source)], intervals: BTreeMap::new(), idle: BTreeMap::new() };
        let engine = Engine::new(Plan::new(&Config::default(), None), set);
        let loops = engine.start_loops(Duration::from_secs(1));
        loops.first_gathers(Duration::from_millis(200)).await;
        let e = engine.evaluate_latest(&loops);
        assert_eq!(grafana(&e).state, "pending");
        let item = e.checks.iter().find(|c| c.id == "grafana_dashboards_imported").unwrap();
        assert_eq!(item.status, crate::outcome::Status::Error);
        assert!(item.reason.as_deref().unwrap().contains(crate::gathering::PENDING), "{:?}", item.reason);
    }
}
