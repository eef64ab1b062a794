//! Three items decided from the Kafka snapshot (infrastructure: brokers, replication;
//! go-live: consumer lag; retention is in `kafka_retention`). One module for them because they share one
//! snapshot and its vocabulary; each is still one function.

use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kafka::GroupStatus;

// ---- kafka_min_brokers

pub fn kafka_min_brokers(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kafka()?;
    let min = ctx.params.int("min_brokers")?;
    let n = k.brokers.len() as i64;
    let ids: Vec<String> = k.brokers.iter().map(|b| b.id.to_string()).collect();
    if n >= min {
        return Ok(Outcome::pass(format!("{n} brokers (ids {})", ids.join(", "))));
    }
    let f = Finding::new(
        "kafka cluster",
        format!("{n} brokers in the metadata (ids {}), fewer than {min}", ids.join(", ")),
    );
    Ok(Outcome::from_findings(vec![f], ""))
}

// ---- kafka_min_replication_factor

pub fn kafka_min_replication_factor(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kafka()?;
    let min = ctx.params.int("min_replication_factor")?;
    let topics: Vec<_> = k.topics.iter().filter(|t| !t.is_internal()).collect();
    if topics.is_empty() {
        return Err(Undecided::skipped("no topic in scope (internal __* topics are not counted)"));
    }
    let findings = topics
        .iter()
        .filter(|t| (t.replication_factor() as i64) < min)
        .map(|t| {
            Finding::new(
                format!("topic/{}", t.name),
                format!("replication factor {} is below {min}", t.replication_factor()),
            )
        })
        .collect();
    Ok(Outcome::from_findings(findings, format!("{} topics, each with replication factor ≥ {min}", topics.len())))
}

// ---- kafka_consumer_lag

pub fn kafka_consumer_lag(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kafka()?;
    let group_id = ctx.params.str("group")?;
    let max = ctx.params.int("max_lag")?;
    let count_uncommitted = match ctx.params.str("uncommitted")? {
        "high_minus_low" => true,
        "ignore" => false,
        other => {
            return Err(Undecided::error(format!("parameter uncommitted: {other:?} is not high_minus_low or ignore")))
        }
    };
    let object = format!("consumergroup/{group_id}");
    let Some(group) = k.group(group_id) else {
        let f = Finding::new(&object, "the consumer group does not exist (or is outside kafka.consumer_groups)");
        return Ok(Outcome::from_findings(vec![f], ""));
    };
    if let Some(why) = &group.offsets_error {
        return Err(Undecided::error(format!("committed offsets of {group_id} unreadable: {why}")));
    }
    let lag = k.lag(group);
    if lag.committed.is_empty() && lag.uncommitted.is_empty() {
        let f = Finding::new(&object, format!("the group has no committed offset (state {})", group.state));
        return Ok(Outcome::from_findings(vec![f], ""));
    }
    let committed: i64 = lag.committed.iter().map(|p| p.lag.max(0)).sum();
    let uncommitted: i64 = if count_uncommitted { lag.uncommitted.iter().map(|(_, _, n)| *n).sum() } else { 0 };
    let total = committed + uncommitted;
    let max_seconds = ctx.params.int("max_lag_seconds")? as f64;
    let fail_on = ctx.params.list("fail_on_status")?;
    if let Some(bad) = fail_on.iter().find(|s| !GroupStatus::ALL.iter().any(|g| g.as_str() == s.as_str())) {
        return Err(Undecided::error(format!("parameter fail_on_status: {bad:?} is not a group status")));
    }
    // How far behind in time each committed partition is, where the history says.
    let behind = |topic: &str, partition: i32, offset: i64| {
        let p = k.topics.iter().find(|t| t.name == topic)?.partition(partition)?;
        p.lag_seconds(offset, k.collected_at_ms).map(|l| l.seconds)
    };
    let seconds: Vec<Option<f64>> = lag.committed.iter().map(|p| behind(&p.topic, p.partition, p.committed)).collect();
    let worst = seconds.iter().flatten().copied().fold(0.0, f64::max);
    let status = group.status();

    let mut reasons = Vec::new();
    let mut findings = Vec::new();
    if total > max {
        reasons.push(format!("total lag {total} of {group_id} is above {max}"));
        findings.push(Finding::new(&object, format!("total lag {total} is above {max}")));
    }
    if worst > max_seconds {
        reasons.push(format!("{group_id} is {worst:.0} s behind, above {max_seconds:.0} s"));
        findings.push(Finding::new(&object, format!("{worst:.0} s behind is above {max_seconds:.0} s")));
    }
    if fail_on.iter().any(|s| s == status.as_str()) {
        reasons.push(format!("{group_id} is {} over its last collections", status.as_str()));
        findings.push(Finding::new(&object, format!("status {} over its last collections", status.as_str())));
    }
    if reasons.is_empty() {
        return Ok(Outcome::pass(format!(
            "total lag {total} ≤ {max}; at most {worst:.0} s behind; status {}",
            status.as_str()
        )));
    }
    // Name the partitions that contribute most, largest first, with how far behind in time.
    let mut parts: Vec<(String, i32, i64, String)> = lag
        .committed
        .iter()
        .zip(&seconds)
        .map(|(p, s)| {
            let when = s.map(|s| format!(", {s:.0} s behind")).unwrap_or_default();
            (p.topic.clone(), p.partition, p.lag, format!("behind the high watermark{when}"))
        })
        .collect();
    if count_uncommitted {
        parts.extend(
            lag.uncommitted.iter().map(|(t, p, n)| (t.clone(), *p, *n, "no commit: counted as high − low".to_string())),
        );
    }
    parts.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
    findings.extend(parts.into_iter().filter(|p| p.2 > 0).map(|(t, p, n, why)| {
        Finding::new(
            format!("{object}/topic/{t}/partition/{p}"),
            format!("lag {n} ({why}; status {})", status.as_str()),
        )
    }));
    Ok(Outcome::fail(reasons.join("; "), findings))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::checks::{CheckCtx, Params};
    use crate::fixtures::{finding_objects, fixed_now};
    use crate::outcome::{Outcome, Status};
    use crate::snapshot::kafka::{Broker, Committed, Group, KafkaSnapshot, Partition, Topic};
    use crate::snapshot::{Snapshot, SourceState};

    fn run(id: &str, k: KafkaSnapshot, overrides: &[(&str, serde_json::Value)]) -> Outcome {
        let s = Snapshot { kafka: SourceState::Ready(k.into()), ..Default::default() };
        run_on(id, &s, overrides)
    }

    fn run_on(id: &str, s: &Snapshot, overrides: &[(&str, serde_json::Value)]) -> Outcome {
        let item = crate::catalogue::find(id).unwrap();
        let o = overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let params = Params::resolve(item, Some(&o));
        let ctx = CheckCtx { item, snapshot: s, params: &params, now: fixed_now(), attestation: None };
        crate::checks::find(id).unwrap()(&ctx).unwrap_or_else(Outcome::from)
    }

    fn brokers(n: i32) -> Vec<Broker> {
        (1..=n).map(|id| Broker { id, host: "127.0.0.1".into(), port: 19091 + id, rack: None }).collect()
    }

    /// A topic with `rf` replicas per partition and the given (low, high) watermarks.
    fn topic(name: &str, rf: i32, marks: &[(i64, i64)]) -> Topic {
        Topic {
            name: name.into(),
            partitions: marks
                .iter()
                .enumerate()
                .map(|(i, (low, high))| Partition {
                    id: i as i32,
                    leader: 1,
                    replicas: (1..=rf).collect(),
                    isr: (1..=rf).collect(),
                    low: Some(*low),
                    high: Some(*high),
                    bounded: None,
                    history: Vec::new(),
                })
                .collect(),
            retention_ms: Some(604_800_000),
            min_insync_replicas: Some(2),
            ..Default::default()
        }
    }

    fn group(id: &str, commits: &[(&str, i32, i64)]) -> Group {
        Group {
            id: id.into(),
            state: "Empty".into(),
            members: Some(0),
            committed: commits
                .iter()
                .map(|(t, p, o)| Committed { topic: t.to_string(), partition: *p, offset: *o })
                .collect(),
            ..Default::default()
        }
    }

    fn cluster() -> KafkaSnapshot {
        KafkaSnapshot {
            brokers: brokers(3),
            controller_id: Some(1),
            topics: vec![topic("__consumer_offsets", 1, &[(0, 0)]), topic("events", 3, &[(0, 100), (0, 50), (10, 30)])],
            groups: vec![group("telemetry-operator", &[("events", 0, 90), ("events", 1, 50)])],
            collected_at_ms: 0,
        }
    }

    #[test]
    fn brokers_below_the_minimum_fail_naming_the_count() {
        assert_eq!(run("kafka_min_brokers", cluster(), &[]).status, Status::Pass);
        let mut k = cluster();
        k.brokers = brokers(2);
        let o = run("kafka_min_brokers", k, &[]);
        assert_eq!(o.status, Status::Fail);
        assert!(o.reason.unwrap().contains("2 brokers"));
    }

    #[test]
    fn an_rf1_topic_fails_by_name_and_internal_topics_are_ignored() {
        assert_eq!(run("kafka_min_replication_factor", cluster(), &[]).status, Status::Pass);
        let mut k = cluster();
        k.topics.push(topic("scratch", 1, &[(0, 0)]));
        let o = run("kafka_min_replication_factor", k, &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(finding_objects(&o), ["topic/scratch"]);
    }

    #[test]
    fn lag_counts_committed_partitions_exactly_and_uncommitted_as_high_minus_low() {
        // committed: (100-90) + (50-50) = 10; partition 2 has no commit: 30-10 = 20.
        let k = cluster();
        let lag = k.lag(&k.groups[0]);
        assert_eq!(lag.committed.iter().map(|p| p.lag).collect::<Vec<_>>(), [10, 0]);
        assert_eq!(lag.uncommitted, [("events".to_string(), 2, 20)]);
        assert_eq!(run("kafka_consumer_lag", k.clone(), &[("max_lag", json!(30))]).status, Status::Pass);
        let o = run("kafka_consumer_lag", k.clone(), &[("max_lag", json!(29))]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            finding_objects(&o),
            [
                "consumergroup/telemetry-operator",
                "consumergroup/telemetry-operator/topic/events/partition/2",
                "consumergroup/telemetry-operator/topic/events/partition/0"
            ]
        );
        let o = run("kafka_consumer_lag", k, &[("max_lag", json!(10)), ("uncommitted", json!("ignore"))]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn lag_in_seconds_and_a_stalled_group_fail_with_the_partition_and_the_status() {
        use crate::snapshot::kafka::{GroupSample, HighMark, STATUS_WINDOW};
        // events/0 is at 90 of 100: offset 90 was written at 9.1 s of 0..10 s; collected at 100 s.
        let mut k = cluster();
        k.collected_at_ms = 100_000;
        k.topics[1].partitions[0].history =
            vec![HighMark { offset: 0, at_ms: 0 }, HighMark { offset: 100, at_ms: 10_000 }];
        let params = [("max_lag", json!(1000)), ("uncommitted", json!("ignore"))];
        let o = run("kafka_consumer_lag", k.clone(), &params);
        assert_eq!(o.status, Status::Fail, "{o:?}");
        assert_eq!(o.reason.as_deref(), Some("telemetry-operator is 91 s behind, above 60 s"));
        assert_eq!(o.findings[1].message, "lag 10 (behind the high watermark, 91 s behind; status ok)");
        let relaxed = [("max_lag", json!(1000)), ("uncommitted", json!("ignore")), ("max_lag_seconds", json!(120))];
        assert_eq!(run("kafka_consumer_lag", k.clone(), &relaxed).status, Status::Pass);
        // Commits standing with lag over a full window: stalled (the group has no member: stopped).
        k.groups[0].window = (0..STATUS_WINDOW as i64)
            .map(|i| GroupSample { lag: 10 + i, committed: 140, members: Some(1), error: false })
            .collect();
        let o = run("kafka_consumer_lag", k.clone(), &relaxed);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason.as_deref(), Some("telemetry-operator is stalled over its last collections"));
        let only_stopped = [
            ("max_lag", json!(1000)),
            ("uncommitted", json!("ignore")),
            ("max_lag_seconds", json!(120)),
            ("fail_on_status", json!(["stopped"])),
        ];
        assert_eq!(run("kafka_consumer_lag", k.clone(), &only_stopped).status, Status::Pass);
        let o = run("kafka_consumer_lag", k, &[("fail_on_status", json!(["frozen"]))]);
        assert_eq!(o.status, Status::Error);
    }

    #[test]
    fn a_missing_group_fails_and_unreadable_offsets_are_an_error() {
        let mut k = cluster();
        k.groups[0].offsets_error = Some("OffsetFetch: NotCoordinator (16)".into());
        let o = run("kafka_consumer_lag", k.clone(), &[]);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.unwrap().contains("NotCoordinator"));
        k.groups.clear();
        let o = run("kafka_consumer_lag", k, &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(finding_objects(&o), ["consumergroup/telemetry-operator"]);
    }

    #[test]
    fn a_failed_source_is_an_error_with_its_reason() {
        let s = Snapshot { kafka: SourceState::Failed("no broker answered Metadata".into()), ..Default::default() };
        for id in ["kafka_min_brokers", "kafka_min_replication_factor", "kafka_retention_24h", "kafka_consumer_lag"] {
            let o = run_on(id, &s, &[]);
            assert_eq!(o.status, Status::Error, "{id}");
            assert!(o.reason.unwrap().contains("no broker answered"), "{id}");
        }
    }
}
