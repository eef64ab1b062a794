//! One collection: Metadata, then concurrently topic configs, watermarks (ListOffsets per
//! partition leader) and groups (ListGroups on every broker → FindCoordinator for all groups
//! at once → per coordinator one OffsetFetch carrying all its groups, plus the describes).
//! NOT_COORDINATOR and friends re-find the coordinator and retry once in the same collection.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use kafka_protocol::messages::consumer_group_describe_request::ConsumerGroupDescribeRequest;
use kafka_protocol::messages::describe_configs_request::{DescribeConfigsRequest, DescribeConfigsResource};
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_log_dirs_request::{DescribableLogDirTopic, DescribeLogDirsRequest};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequest, OffsetFetchRequestGroup};
use kafka_protocol::messages::{BrokerId, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::{code_text, is_coordinator_error, ErrorKind};
use super::{KafkaSource, Listed};
use crate::snapshot::kafka::{BoundedLog, Broker, Committed, Group, KafkaSnapshot, Partition, Topic};

/// The configs of one topic that the items read.
struct TopicConfigs {
    retention_ms: Option<i64>,
    retention_bytes: Option<i64>,
    cleanup_policy: Option<String>,
    min_isr: Option<i32>,
}

/// How many collections in a row may reuse the last group list when ListGroups is partial.
const KEEP_LISTING_FOR: u8 = 3;
const TOPIC_RESOURCE: i8 = 2;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Offsets of one group as OffsetFetch answered (or why not).
type FetchResult = Result<Vec<Committed>, (i16, String)>;

impl KafkaSource {
    pub(super) async fn collect(&self) -> Result<(KafkaSnapshot, Vec<String>), String> {
        let mut warnings = Vec::new();
        let meta = self.metadata().await?;
        let brokers: Vec<Broker> = meta
            .brokers
            .iter()
            .map(|b| Broker {
                id: b.node_id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            })
            .collect();
        let addr_of: HashMap<i32, String> = brokers.iter().map(|b| (b.id, format!("{}:{}", b.host, b.port))).collect();
        if addr_of.is_empty() {
            return Err("the metadata lists no broker".to_string());
        }
        let mut topics: Vec<Topic> = Vec::new();
        for t in &meta.topics {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else { continue };
            if !self.topics.matches(&name) {
                continue;
            }
            if t.error_code != 0 {
                warnings.push(format!("topic {name}: {}", code_text(t.error_code)));
            }
            let mut partitions: Vec<Partition> = t
                .partitions
                .iter()
                .map(|p| Partition {
                    id: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    low: None,
                    high: None,
                    bounded: None,
                    history: Vec::new(),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            topics.push(Topic { name, internal: t.is_internal, partitions, ..Default::default() });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));

        let any_broker = self.any_broker(&addr_of);
        let (configs, marks, groups) =
            tokio::join!(self.configs(&any_broker, &topics), self.watermarks(&addr_of, &topics), self.groups(&addr_of));
        let (configs, config_warnings) = configs;
        warnings.extend(config_warnings);
        for t in &mut topics {
            match configs.get(&t.name) {
                Some(Ok(c)) => {
                    t.retention_ms = c.retention_ms;
                    t.retention_bytes = c.retention_bytes;
                    t.cleanup_policy = c.cleanup_policy.clone();
                    t.min_insync_replicas = c.min_isr;
                }
                Some(Err(e)) => t.config_error = Some(e.clone()),
                None => t.config_error = Some("no config answer".to_string()),
            }
        }
        let (marks, mark_warnings) = marks;
        warnings.extend(mark_warnings);
        for t in &mut topics {
            for p in &mut t.partitions {
                if let Some((low, high)) = marks.get(&(t.name.clone(), p.id)) {
                    p.low = *low;
                    p.high = *high;
                }
            }
        }
        // Only topics whose size can cut their retention cost the extra requests.
        if topics.iter().any(|t| t.bytes_bounded()) {
            let logs = self.bounded_logs(&addr_of, &topics).await;
            for t in topics.iter_mut().filter(|t| t.bytes_bounded()) {
                for p in &mut t.partitions {
                    p.bounded = Some(logs.get(&(t.name.clone(), p.id)).cloned().unwrap_or_else(|| BoundedLog {
                        error: Some("the partition's leader did not answer".into()),
                        ..Default::default()
                    }));
                }
            }
        }
        let (mut groups, group_warnings) = groups;
        warnings.extend(group_warnings);
        for g in &mut groups {
            g.committed.retain(|c| self.topics.matches(&c.topic));
        }
        let controller_id = (meta.controller_id.0 >= 0).then_some(meta.controller_id.0);
        let collected_at_ms = chrono::Utc::now().timestamp_millis();
        self.remember_marks(&mut topics, collected_at_ms);
        let mut snapshot = KafkaSnapshot { brokers, controller_id, topics, groups, collected_at_ms };
        self.remember_groups(&mut snapshot);
        Ok((snapshot, warnings))
    }

    /// The cluster metadata from the first broker that answers: brokers known from the last
    /// collection first, then the bootstrap list (so one stopped broker breaks nothing).
    async fn metadata(&self) -> Result<MetadataResponse, String> {
        let req = MetadataRequest::default().with_topics(None).with_allow_auto_topic_creation(false);
        let mut errors = Vec::new();
        for addr in &self.bootstrap {
            match self.pool.call(addr, &req).await {
                Ok(m) => return Ok(m),
                Err(e) if e.kind == ErrorKind::Auth => return Err(e.message),
                Err(e) => errors.push(e.message),
            }
        }
        Err(format!("no broker answered Metadata: {}", errors.join("; ")))
    }

    fn any_broker(&self, addr_of: &HashMap<i32, String>) -> String {
        let mut ids: Vec<&i32> = addr_of.keys().collect();
        ids.sort();
        addr_of[ids[0]].clone()
    }

    /// The retention and ISR configs per topic: the effective values the broker applies (its
    /// own precedence: topic override, dynamic broker default, `log.retention.ms` over
    /// `.minutes` over `.hours`), so the broker default shows where the topic sets none.
    async fn configs(
        &self,
        addr: &str,
        topics: &[Topic],
    ) -> (HashMap<String, Result<TopicConfigs, String>>, Vec<String>) {
        let mut out = HashMap::new();
        if topics.is_empty() {
            return (out, Vec::new());
        }
        let keys = Some(vec![s("retention.ms"), s("retention.bytes"), s("cleanup.policy"), s("min.insync.replicas")]);
        let resources = topics
            .iter()
            .map(|t| {
                DescribeConfigsResource::default()
                    .with_resource_type(TOPIC_RESOURCE)
                    .with_resource_name(s(&t.name))
                    .with_configuration_keys(keys.clone())
            })
            .collect();
        let req = DescribeConfigsRequest::default().with_resources(resources);
        match self.pool.call(addr, &req).await {
            Err(e) => (out, vec![format!("topic configs: {e}")]),
            Ok(resp) => {
                for r in resp.results {
                    let name = r.resource_name.to_string();
                    if r.error_code != 0 {
                        let msg = r.error_message.map(|m| super::client::broker_words(&m)).unwrap_or_default();
                        out.insert(name, Err(format!("DescribeConfigs: {} {msg}", code_text(r.error_code))));
                        continue;
                    }
                    let value = |k: &str| {
                        r.configs
                            .iter()
                            .find(|c| c.name.as_str() == k)
                            .and_then(|c| c.value.as_ref())
                            .map(|v| v.to_string())
                    };
                    let configs = TopicConfigs {
                        retention_ms: value("retention.ms").and_then(|v| v.parse().ok()),
                        retention_bytes: value("retention.bytes").and_then(|v| v.parse().ok()),
                        cleanup_policy: value("cleanup.policy"),
                        min_isr: value("min.insync.replicas").and_then(|v| v.parse().ok()),
                    };
                    out.insert(name, Ok(configs));
                }
                (out, Vec::new())
            }
        }
    }

    /// Low and high watermarks of every partition, from each partition's leader.
    #[allow(clippy::type_complexity)]
    async fn watermarks(
        &self,
        addr_of: &HashMap<i32, String>,
        topics: &[Topic],
    ) -> (HashMap<(String, i32), (Option<i64>, Option<i64>)>, Vec<String>) {
        let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut leaderless = 0;
        for t in topics {
            for p in &t.partitions {
                if addr_of.contains_key(&p.leader) {
                    by_leader.entry(p.leader).or_default().entry(&t.name).or_default().push(p.id);
                } else {
                    leaderless += 1;
                }
            }
        }
        if leaderless > 0 {
            warnings.push(format!("{leaderless} partitions have no live leader; their watermarks are unknown"));
        }
        let request = |parts: &BTreeMap<&str, Vec<i32>>, timestamp: i64| {
            let topics = parts
                .iter()
                .map(|(name, ids)| {
                    ListOffsetsTopic::default().with_name(TopicName(s(name))).with_partitions(
                        ids.iter()
                            .map(|id| {
                                ListOffsetsPartition::default().with_partition_index(*id).with_timestamp(timestamp)
                            })
                            .collect(),
                    )
                })
                .collect();
            // replica_id -1: a client, not a follower (0 would be read as broker 0).
            ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_isolation_level(0).with_topics(topics)
        };
        let calls = by_leader.iter().map(|(leader, parts)| {
            let addr = &addr_of[leader];
            let (earliest, latest) = (request(parts, -2), request(parts, -1));
            async move { (addr, self.pool.call(addr, &earliest).await, self.pool.call(addr, &latest).await) }
        });
        let mut out: HashMap<(String, i32), (Option<i64>, Option<i64>)> = HashMap::new();
        let mut failed = 0;
        for (addr, low, high) in join_all(calls).await {
            for (which, resp) in [(0, low), (1, high)] {
                let resp = match resp {
                    Ok(r) => r,
                    Err(e) => {
                        warnings.push(format!("watermarks from {addr}: {e}"));
                        continue;
                    }
                };
                for t in resp.topics {
                    for p in t.partitions {
                        let entry = out.entry((t.name.0.to_string(), p.partition_index)).or_default();
                        if p.error_code != 0 {
                            failed += 1;
                            continue;
                        }
                        if which == 0 {
                            entry.0 = Some(p.offset);
                        } else {
                            entry.1 = Some(p.offset);
                        }
                    }
                }
            }
        }
        if failed > 0 {
            warnings.push(format!("{failed} partition watermark answers carried an error (leader moving?)"));
        }
        (out, warnings)
    }

    /// For the partitions of byte-bounded topics, from each leader: the bytes its log holds
    /// (DescribeLogDirs) and the timestamp of its oldest record (ListOffsets for the first
    /// record at or after time 0).
    async fn bounded_logs(
        &self,
        addr_of: &HashMap<i32, String>,
        topics: &[Topic],
    ) -> HashMap<(String, i32), BoundedLog> {
        let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for t in topics.iter().filter(|t| t.bytes_bounded()) {
            for p in t.partitions.iter().filter(|p| addr_of.contains_key(&p.leader)) {
                by_leader.entry(p.leader).or_default().entry(&t.name).or_default().push(p.id);
            }
        }
        let calls = by_leader.iter().map(|(leader, parts)| async move {
            let addr = &addr_of[leader];
            let dirs = DescribeLogDirsRequest::default().with_topics(Some(
                parts
                    .iter()
                    .map(|(t, ids)| {
                        DescribableLogDirTopic::default().with_topic(TopicName(s(t))).with_partitions(ids.clone())
                    })
                    .collect(),
            ));
            let oldest =
                ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_isolation_level(0).with_topics(
                    parts
                        .iter()
                        .map(|(t, ids)| {
                            ListOffsetsTopic::default().with_name(TopicName(s(t))).with_partitions(
                                ids.iter()
                                    .map(|id| {
                                        ListOffsetsPartition::default().with_partition_index(*id).with_timestamp(0)
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                );
            (parts, self.pool.call(addr, &dirs).await, self.pool.call(addr, &oldest).await)
        });
        let mut out: HashMap<(String, i32), BoundedLog> = HashMap::new();
        for (parts, dirs, oldest) in join_all(calls).await {
            let mut sizes: HashMap<(String, i32), i64> = HashMap::new();
            let dirs_error = match dirs {
                Ok(r) if r.error_code != 0 => Some(format!("DescribeLogDirs: {}", code_text(r.error_code))),
                Ok(r) => {
                    for dir in r.results.iter().filter(|d| d.error_code == 0) {
                        for t in &dir.topics {
                            for p in t.partitions.iter().filter(|p| !p.is_future_key) {
                                sizes.insert((t.name.0.to_string(), p.partition_index), p.partition_size);
                            }
                        }
                    }
                    None
                }
                Err(e) => Some(format!("DescribeLogDirs: {e}")),
            };
            let mut stamps: HashMap<(String, i32), Result<Option<i64>, String>> = HashMap::new();
            let oldest_error = match oldest {
                Ok(r) => {
                    for t in r.topics {
                        for p in t.partitions {
                            let v = match p.error_code {
                                0 if p.offset < 0 => Ok(None),
                                0 => Ok(Some(p.timestamp)),
                                code => Err(format!("ListOffsets by time: {}", code_text(code))),
                            };
                            stamps.insert((t.name.0.to_string(), p.partition_index), v);
                        }
                    }
                    None
                }
                Err(e) => Some(format!("ListOffsets by time: {e}")),
            };
            for (topic, ids) in parts {
                for id in ids {
                    let key = (topic.to_string(), *id);
                    let size = sizes.get(&key).copied();
                    let stamp = stamps.remove(&key);
                    let error = dirs_error
                        .clone()
                        .or_else(|| size.is_none().then(|| "DescribeLogDirs did not report the partition".to_string()))
                        .or(oldest_error.clone())
                        .or_else(|| match &stamp {
                            Some(Err(e)) => Some(e.clone()),
                            None => Some("ListOffsets by time did not report the partition".into()),
                            Some(Ok(_)) => None,
                        });
                    let oldest_ms = stamp.and_then(Result::ok).flatten();
                    out.insert(key, BoundedLog { size_bytes: size, oldest_ms, error });
                }
            }
        }
        out
    }

    /// Every group in scope with its state, members and committed offsets.
    async fn groups(&self, addr_of: &HashMap<i32, String>) -> (Vec<Group>, Vec<String>) {
        let mut warnings = Vec::new();
        let listed = self.list_groups(addr_of, &mut warnings).await;
        let ids: Vec<String> = listed.keys().cloned().collect();
        if ids.is_empty() {
            return (Vec::new(), warnings);
        }
        let mut fetched: HashMap<String, FetchResult> = HashMap::new();
        let mut members: HashMap<String, usize> = HashMap::new();
        let mut pending = ids.clone();
        // Round 2 runs only for groups whose coordinator moved during round 1.
        for round in 0..2 {
            let coordinators = self.coordinators(addr_of, &pending, round > 0, &mut fetched).await;
            let mut by_coord: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for g in &pending {
                if let Some(addr) = coordinators.get(g) {
                    by_coord.entry(addr.clone()).or_default().push(g.clone());
                }
            }
            let calls = by_coord.iter().map(|(addr, groups)| self.fetch_from(addr, groups, &listed));
            let mut retry = Vec::new();
            for (offsets, described) in join_all(calls).await {
                members.extend(described);
                for (g, r) in offsets {
                    if let Err((code, _)) = &r {
                        if is_coordinator_error(*code) || *code == -2 {
                            self.memory.lock().expect("memory lock").coordinators.remove(&g);
                            retry.push(g.clone());
                        }
                    }
                    fetched.insert(g, r);
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        let unreadable: Vec<String> =
            fetched.iter().filter_map(|(g, r)| r.as_ref().err().map(|(_, why)| format!("group {g}: {why}"))).collect();
        if let Some(first) = unreadable.first() {
            warnings.push(format!("offsets of {} groups unreadable; first: {first}", unreadable.len()));
        }
        let groups: Vec<Group> = ids
            .into_iter()
            .map(|id| {
                let l = &listed[&id];
                let (committed, offsets_error) = match fetched.remove(&id) {
                    Some(Ok(c)) => (c, None),
                    Some(Err((_, why))) => (Vec::new(), Some(why)),
                    None => (Vec::new(), Some("no coordinator answered".to_string())),
                };
                Group {
                    members: members.get(&id).copied(),
                    id,
                    state: l.state.clone(),
                    protocol_type: l.protocol_type.clone(),
                    committed,
                    offsets_error,
                    window: Vec::new(),
                }
            })
            .collect();
        (groups, warnings)
    }

    /// ListGroups on every broker. While coordinators move a broker may fail or answer
    /// COORDINATOR_LOAD_IN_PROGRESS; then the groups listed last time are kept for a few
    /// collections so their series do not flap.
    async fn list_groups(
        &self,
        addr_of: &HashMap<i32, String>,
        warnings: &mut Vec<String>,
    ) -> BTreeMap<String, Listed> {
        let req = ListGroupsRequest::default();
        let calls = addr_of.values().map(|addr| {
            let req = &req;
            async move { (addr, self.pool.call(addr, req).await) }
        });
        let mut now: BTreeMap<String, Listed> = BTreeMap::new();
        let mut complete = true;
        for (addr, r) in join_all(calls).await {
            match r {
                Ok(resp) if resp.error_code == 0 => {
                    for g in resp.groups {
                        let id = g.group_id.0.to_string();
                        if self.groups.matches(&id) {
                            let l = Listed {
                                state: g.group_state.to_string(),
                                protocol_type: g.protocol_type.to_string(),
                                group_type: g.group_type.to_string(),
                            };
                            now.insert(id, l);
                        }
                    }
                }
                Ok(resp) => {
                    complete = false;
                    warnings.push(format!("ListGroups on {addr}: {}", code_text(resp.error_code)));
                }
                Err(e) => {
                    complete = false;
                    warnings.push(format!("ListGroups on {addr}: {e}"));
                }
            }
        }
        let mut memory = self.memory.lock().expect("memory lock");
        if complete {
            memory.incomplete = 0;
            memory.groups = now.clone();
            // Deleted groups leave no coordinator behind.
            memory.coordinators.retain(|g, _| now.contains_key(g));
            return now;
        }
        memory.incomplete = memory.incomplete.saturating_add(1);
        if memory.incomplete <= KEEP_LISTING_FOR {
            for (id, l) in &memory.groups {
                now.entry(id.clone()).or_insert_with(|| l.clone());
            }
        }
        now
    }

    /// The coordinator address of each group: remembered ones, then one batched
    /// FindCoordinator for the rest. Groups it cannot place get their error in `failed`.
    async fn coordinators(
        &self,
        addr_of: &HashMap<i32, String>,
        groups: &[String],
        refind: bool,
        failed: &mut HashMap<String, FetchResult>,
    ) -> HashMap<String, String> {
        let mut known: HashMap<String, String> = HashMap::new();
        let mut missing: Vec<String> = Vec::new();
        {
            let memory = self.memory.lock().expect("memory lock");
            for g in groups {
                match memory.coordinators.get(g) {
                    Some(a) if !refind && addr_of.values().any(|b| b == a) => {
                        known.insert(g.clone(), a.clone());
                    }
                    _ => missing.push(g.clone()),
                }
            }
        }
        if missing.is_empty() {
            return known;
        }
        let req = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(missing.iter().map(|g| s(g)).collect());
        // Ask brokers in turn: the first one may be the one that just went away.
        let mut last_err = String::new();
        let mut addrs: Vec<&String> = addr_of.values().collect();
        addrs.sort();
        for addr in addrs {
            match self.pool.call(addr, &req).await {
                Ok(resp) => {
                    let mut memory = self.memory.lock().expect("memory lock");
                    for c in resp.coordinators {
                        let g = c.key.to_string();
                        if c.error_code != 0 {
                            let msg = c.error_message.map(|m| super::client::broker_words(&m)).unwrap_or_default();
                            failed.insert(
                                g.clone(),
                                Err((c.error_code, format!("FindCoordinator: {} {msg}", code_text(c.error_code)))),
                            );
                            continue;
                        }
                        let a = format!("{}:{}", c.host, c.port);
                        memory.coordinators.insert(g.clone(), a.clone());
                        known.insert(g, a);
                    }
                    return known;
                }
                Err(e) => last_err = e.message,
            }
        }
        for g in missing {
            failed.insert(g, Err((-1, format!("FindCoordinator: {last_err}"))));
        }
        known
    }

    /// One coordinator: one OffsetFetch for all its groups, and their member counts.
    async fn fetch_from(
        &self,
        addr: &str,
        groups: &[String],
        listed: &BTreeMap<String, Listed>,
    ) -> (Vec<(String, FetchResult)>, HashMap<String, usize>) {
        // v8+ carries groups only (the top-level topics must stay at their default); per
        // group, topics None = every partition the group committed (Some(empty) = none).
        let req = OffsetFetchRequest::default().with_groups(
            groups
                .iter()
                .map(|g| OffsetFetchRequestGroup::default().with_group_id(GroupId(s(g))).with_topics(None))
                .collect(),
        );
        let classic: Vec<GroupId> = groups
            .iter()
            .filter(|g| listed.get(*g).is_none_or(|l| l.group_type != "consumer"))
            .map(|g| GroupId(s(g)))
            .collect();
        let modern: Vec<GroupId> = groups
            .iter()
            .filter(|g| listed.get(*g).is_some_and(|l| l.group_type == "consumer"))
            .map(|g| GroupId(s(g)))
            .collect();
        let describe_classic = async {
            if classic.is_empty() {
                return HashMap::new();
            }
            match self.pool.call(addr, &DescribeGroupsRequest::default().with_groups(classic.clone())).await {
                Ok(r) => r
                    .groups
                    .iter()
                    .filter(|g| g.error_code == 0)
                    .map(|g| (g.group_id.0.to_string(), g.members.len()))
                    .collect(),
                Err(_) => HashMap::new(),
            }
        };
        let describe_modern = async {
            if modern.is_empty() {
                return HashMap::new();
            }
            match self.pool.call(addr, &ConsumerGroupDescribeRequest::default().with_group_ids(modern.clone())).await {
                Ok(r) => r
                    .groups
                    .iter()
                    .filter(|g| g.error_code == 0)
                    .map(|g| (g.group_id.0.to_string(), g.members.len()))
                    .collect(),
                Err(_) => HashMap::new(),
            }
        };
        let (offsets, mut members, modern_members) =
            tokio::join!(self.pool.call(addr, &req), describe_classic, describe_modern);
        members.extend(modern_members);
        let resp = match offsets {
            Ok(r) => r,
            Err(e) => {
                // -2: not a Kafka code; the coordinator is unreachable, so look it up again.
                let code = if e.kind == ErrorKind::Connection { -2 } else { -1 };
                return (
                    groups.iter().map(|g| (g.clone(), Err((code, format!("OffsetFetch: {e}"))))).collect(),
                    members,
                );
            }
        };
        let mut out = Vec::new();
        for g in resp.groups {
            let id = g.group_id.0.to_string();
            if g.error_code != 0 {
                out.push((id, Err((g.error_code, format!("OffsetFetch from {addr}: {}", code_text(g.error_code))))));
                continue;
            }
            let mut committed = Vec::new();
            let mut partition_error = None;
            for t in g.topics {
                for p in t.partitions {
                    if p.error_code != 0 {
                        partition_error = Some(p.error_code);
                        continue;
                    }
                    // -1: the partition has no committed offset.
                    if p.committed_offset >= 0 {
                        committed.push(Committed {
                            topic: t.name.0.to_string(),
                            partition: p.partition_index,
                            offset: p.committed_offset,
                        });
                    }
                }
            }
            match partition_error {
                Some(code) if is_coordinator_error(code) => {
                    out.push((id, Err((code, format!("OffsetFetch from {addr}: {}", code_text(code))))));
                }
                _ => {
                    committed.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
                    out.push((id, Ok(committed)));
                }
            }
        }
        (out, members)
    }
}
