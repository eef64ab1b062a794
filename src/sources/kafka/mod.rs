//! The Kafka source: one snapshot of brokers, topics (partitions, ISR, configs, watermarks)
//! and consumer groups (state, members, committed offsets) per evaluation, all over the Kafka
//! protocol through [`client`]. Connections and group coordinators are kept between
//! evaluations; everything else is read fresh.

pub mod client;
mod collect;
pub mod config;
pub mod metrics;
pub mod sasl;
mod security;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use regex::Regex;

use super::{BoxFuture, Gathered, Source};
use crate::catalogue::SourceId;
use crate::config::KafkaConfig;
use crate::snapshot::kafka::{GroupSample, HighMark, KafkaSnapshot, Topic, STATUS_WINDOW};
use crate::snapshot::SourceData;

/// A name filter from the config's allow/deny patterns (validated at load).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    allow: Option<Regex>,
    deny: Option<Regex>,
}

impl Filter {
    pub fn new(allow: Option<&str>, deny: Option<&str>) -> Result<Filter, String> {
        let re =
            |s: Option<&str>, key: &str| s.map(|s| Regex::new(s).map_err(|e| format!("kafka.{key}: {e}"))).transpose();
        Ok(Filter { allow: re(allow, "allow")?, deny: re(deny, "deny")? })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|r| r.is_match(name)) && !self.deny.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// A group as ListGroups last named it.
#[derive(Debug, Clone)]
struct Listed {
    state: String,
    protocol_type: String,
    group_type: String,
}

/// What survives between collections: where each group's coordinator is, and the last
/// complete group list (ListGroups fails on a broker while coordinators move).
#[derive(Default)]
struct Memory {
    coordinators: HashMap<String, String>,
    groups: BTreeMap<String, Listed>,
    /// Collections in a row whose group list was incomplete.
    incomplete: u8,
}

pub struct KafkaSource {
    bootstrap: Vec<String>,
    timeout: Duration,
    pool: client::Pool,
    topics: Filter,
    groups: Filter,
    memory: Mutex<Memory>,
    /// Each partition's high-watermark changes, kept across collections for lag in seconds.
    marks: Mutex<HashMap<(String, i32), Vec<HighMark>>>,
    /// Each group at its last collections, for its status.
    windows: Mutex<HashMap<String, Vec<GroupSample>>>,
}

/// Adds this collection's sample of every group to `kept` (a group gone forgets its window)
/// and hands each group its window.
fn remember_groups(kept: &mut HashMap<String, Vec<GroupSample>>, snapshot: &mut KafkaSnapshot) {
    let samples: Vec<GroupSample> = snapshot
        .groups
        .iter()
        .map(|g| {
            let lag = snapshot.lag(g).committed.iter().map(|p| p.lag).sum();
            let committed = g.committed.iter().map(|c| c.offset).sum();
            GroupSample { lag, committed, members: g.members, error: g.offsets_error.is_some() }
        })
        .collect();
    let mut seen = HashMap::with_capacity(kept.len());
    for (g, sample) in snapshot.groups.iter_mut().zip(samples) {
        let mut window = kept.remove(&g.id).unwrap_or_default();
        window.push(sample);
        if window.len() > STATUS_WINDOW {
            window.remove(0);
        }
        g.window = window.clone();
        seen.insert(g.id.clone(), window);
    }
    *kept = seen;
}

/// High-watermark changes kept per partition: at a 60 s interval and a busy topic, an hour.
const MARKS_KEPT: usize = 64;

/// Adds this collection's high watermarks to `kept` (a change makes a mark; an unchanged one
/// adds nothing), forgets partitions no longer there (a deleted topic starts afresh), and
/// hands each partition its history.
fn remember_marks(kept: &mut HashMap<(String, i32), Vec<HighMark>>, topics: &mut [Topic], now_ms: i64) {
    let mut seen: HashMap<(String, i32), Vec<HighMark>> = HashMap::with_capacity(kept.len());
    for t in topics.iter_mut() {
        for p in &mut t.partitions {
            let key = (t.name.clone(), p.id);
            let mut marks = kept.remove(&key).unwrap_or_default();
            if let Some(high) = p.high {
                // A lower mark: the topic was recreated, or the log truncated. Start over.
                if marks.last().is_some_and(|last| high < last.offset) {
                    marks.clear();
                }
                if marks.last().is_none_or(|last| last.offset != high) {
                    marks.push(HighMark { offset: high, at_ms: now_ms });
                }
                if marks.len() > MARKS_KEPT {
                    marks.drain(..marks.len() - MARKS_KEPT);
                }
            }
            p.history = marks.clone();
            seen.insert(key, marks);
        }
    }
    *kept = seen;
}

impl KafkaSource {
    pub fn new(c: &KafkaConfig) -> Result<KafkaSource, String> {
        let security = security::build(c)?;
        let timeout = c.timeout.0;
        // A dead broker must not eat the whole budget: each connect gets a third of it.
        let connect = (timeout / 3).max(Duration::from_millis(200));
        let client_id = c.client_id.clone().unwrap_or_else(|| "infrasage-readiness".to_string());
        Ok(KafkaSource {
            bootstrap: c
                .bootstrap_servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            timeout,
            pool: client::Pool::new(security, &client_id, connect, (timeout / 2).max(Duration::from_millis(200))),
            topics: Filter::new(c.topics.allow.as_deref(), c.topics.deny.as_deref())
                .map_err(|e| e.replace("kafka.", "kafka.topics."))?,
            groups: Filter::new(c.consumer_groups.allow.as_deref(), c.consumer_groups.deny.as_deref())
                .map_err(|e| e.replace("kafka.", "kafka.consumer_groups."))?,
            memory: Mutex::new(Memory::default()),
            marks: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        })
    }
}

impl KafkaSource {
    fn remember_marks(&self, topics: &mut [Topic], now_ms: i64) {
        let mut kept = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        remember_marks(&mut kept, topics, now_ms);
    }

    fn remember_groups(&self, snapshot: &mut KafkaSnapshot) {
        let mut kept = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        remember_groups(&mut kept, snapshot);
    }
}

impl Source for KafkaSource {
    fn id(&self) -> SourceId {
        SourceId::Kafka
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn gather(&self) -> BoxFuture<'_, Result<Gathered, String>> {
        Box::pin(async move {
            let (snapshot, warnings) = self.collect().await?;
            Ok(Gathered { data: SourceData::Kafka(std::sync::Arc::new(snapshot)), warnings })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_then_deny() {
        let f = Filter::new(Some("^telemetry"), Some("-dlq$")).unwrap();
        assert!(f.matches("telemetry-events"));
        assert!(!f.matches("telemetry-events-dlq"));
        assert!(!f.matches("audit"));
        assert!(Filter::default().matches("anything"));
    }

    fn topic(name: &str, highs: &[Option<i64>]) -> Topic {
        let partitions = highs
            .iter()
            .enumerate()
            .map(|(i, h)| crate::snapshot::kafka::Partition { id: i as i32, high: *h, ..Default::default() })
            .collect();
        Topic { name: name.into(), partitions, ..Default::default() }
    }

    #[test]
    fn marks_record_changes_only_forget_deleted_partitions_and_restart_on_a_lower_mark() {
        let mut kept = HashMap::new();
        let mut t = vec![topic("a", &[Some(10), Some(5)]), topic("b", &[Some(1)])];
        remember_marks(&mut kept, &mut t, 1_000);
        let mut t = vec![topic("a", &[Some(10), Some(8)])];
        remember_marks(&mut kept, &mut t, 2_000);
        assert_eq!(t[0].partitions[0].history, [HighMark { offset: 10, at_ms: 1_000 }], "unchanged: no new mark");
        assert_eq!(
            t[0].partitions[1].history,
            [HighMark { offset: 5, at_ms: 1_000 }, HighMark { offset: 8, at_ms: 2_000 }]
        );
        assert!(!kept.contains_key(&("b".to_string(), 0)), "a deleted topic's history goes");
        let mut t = vec![topic("a", &[Some(3), Some(8)])];
        remember_marks(&mut kept, &mut t, 3_000);
        assert_eq!(t[0].partitions[0].history, [HighMark { offset: 3, at_ms: 3_000 }], "recreated: starts over");
        for i in 0..200 {
            let mut t = vec![topic("a", &[Some(100 + i), Some(8)])];
            remember_marks(&mut kept, &mut t, 4_000 + i);
        }
        assert_eq!(kept[&("a".to_string(), 0)].len(), MARKS_KEPT);
    }

    #[test]
    fn group_windows_keep_the_last_collections_and_forget_deleted_groups() {
        use crate::snapshot::kafka::Group;
        let mut kept = HashMap::new();
        let group = |id: &str| Group { id: id.into(), members: Some(1), ..Default::default() };
        for _ in 0..15 {
            let mut k = KafkaSnapshot { groups: vec![group("a"), group("b")], ..Default::default() };
            remember_groups(&mut kept, &mut k);
            assert_eq!(k.groups[0].window.last().unwrap().members, Some(1));
        }
        assert_eq!(kept["a"].len(), STATUS_WINDOW);
        let mut k = KafkaSnapshot { groups: vec![group("a")], ..Default::default() };
        remember_groups(&mut kept, &mut k);
        assert!(!kept.contains_key("b"), "a deleted group's window goes");
    }
}
