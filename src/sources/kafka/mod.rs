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
        })
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
}
