//! `kafka_retention_24h`, as the broker applies retention: only a policy with `delete` deletes
//! old segments; then `retention.ms` (time) and `retention.bytes` (per-partition size) both
//! bound what is kept, and the first reached wins. A compact-only topic keeps the latest
//! record of every key and is judged as compacted.
//!
//! The size bound is judged at each partition's measured write rate: the bytes its leader's
//! log holds over the age of its oldest record (the rate window is the data the partition
//! holds now). `retention.bytes` keeps `min_retention` when the partition already holds
//! records older than that, or when `retention.bytes ≥ rate × min_retention`.

use std::time::Duration;

use super::scaling::fmt_bytes;
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::kafka::Partition;

pub fn kafka_retention_24h(ctx: &CheckCtx) -> CheckResult {
    let k = ctx.snapshot.kafka()?;
    let min = ctx.params.duration("min_retention")?;
    let topics: Vec<_> = k.topics.iter().filter(|t| !t.is_internal()).collect();
    if topics.is_empty() {
        return Err(Undecided::skipped("no topic in scope (internal __* topics are not counted)"));
    }
    let unreadable: Vec<String> =
        topics.iter().filter_map(|t| t.config_error.as_ref().map(|e| format!("topic {}: {e}", t.name))).collect();
    if let Some(first) = unreadable.first() {
        return Err(Undecided::error(format!("configs of {} topics unreadable; first: {first}", unreadable.len())));
    }
    let now_ms = ctx.now.timestamp_millis();
    let human = humantime::format_duration(min);
    let mut findings = Vec::new();
    let mut undecided = Vec::new();
    let mut compacted = Vec::new();
    for t in &topics {
        let object = format!("topic/{}", t.name);
        if !t.deletes() {
            compacted.push(t.name.as_str());
            continue;
        }
        match t.retention_ms {
            Some(-1) => {}
            Some(ms) if ms >= min.as_millis() as i64 => {}
            Some(ms) => findings.push(Finding::new(
                &object,
                format!(
                    "retention.ms {ms} ({}) is below {human}",
                    humantime::format_duration(Duration::from_millis(ms.max(0) as u64))
                ),
            )),
            None => findings.push(Finding::new(&object, "retention.ms is not reported by the broker")),
        }
        match t.retention_bytes {
            None => findings.push(Finding::new(&object, "retention.bytes is not reported by the broker")),
            Some(bytes) if bytes < 0 => {}
            Some(bytes) => {
                for p in &t.partitions {
                    match size_verdict(p, bytes, min, now_ms) {
                        Verdict::Keeps => {}
                        Verdict::Short(msg) => findings.push(Finding::new(&object, msg)),
                        Verdict::Unknown(msg) => undecided.push(Finding::new(&object, msg)),
                    }
                }
            }
        }
    }
    let mut parts = Vec::new();
    if compacted.len() < topics.len() {
        parts.push(format!("{} topics keep data at least {human} (or forever)", topics.len() - compacted.len()));
    }
    if !compacted.is_empty() {
        parts.push(format!(
            "compacted (cleanup.policy=compact, the latest record of every key is kept whatever retention.* says): {}",
            compacted.join(", ")
        ));
    }
    let reason = parts.join("; ");
    Ok(Outcome::from_findings_or_undecided(findings, undecided, reason))
}

enum Verdict {
    Keeps,
    Short(String),
    Unknown(String),
}

/// Whether `retention.bytes` keeps `min` of partition `p` at its measured write rate.
fn size_verdict(p: &Partition, bytes: i64, min: Duration, now_ms: i64) -> Verdict {
    let bound = format!("retention.bytes {bytes} ({})", fmt_bytes(bytes as f64));
    let Some(log) = &p.bounded else {
        return Verdict::Unknown(format!("{bound} bounds partition {}, whose size was not read", p.id));
    };
    if let Some(e) = &log.error {
        return Verdict::Unknown(format!("{bound} bounds partition {}, whose size cannot be read: {e}", p.id));
    }
    let (Some(size), Some(oldest)) = (log.size_bytes, log.oldest_ms) else {
        return Verdict::Unknown(format!(
            "{bound} bounds partition {}, which holds no record yet: its write rate cannot be measured",
            p.id
        ));
    };
    let min_ms = min.as_millis() as i64;
    // A clock ahead of the broker's must not divide by zero.
    let span_ms = (now_ms - oldest).max(1_000);
    if span_ms >= min_ms {
        return Verdict::Keeps;
    }
    let needed = size as f64 * min_ms as f64 / span_ms as f64;
    if bytes as f64 >= needed {
        return Verdict::Keeps;
    }
    let kept_ms = (bytes as f64 * span_ms as f64 / size.max(1) as f64) as u64;
    Verdict::Short(format!(
        "{bound} keeps partition {} about {} at its write rate ({} in the last {}), below {}; {} needs about {}",
        p.id,
        humantime::format_duration(Duration::from_secs(kept_ms / 1000)),
        fmt_bytes(size as f64),
        humantime::format_duration(Duration::from_secs(span_ms as u64 / 1000)),
        humantime::format_duration(min),
        humantime::format_duration(min),
        fmt_bytes(needed),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::checks::{CheckCtx, Params};
    use crate::fixtures::{finding_objects, fixed_now};
    use crate::outcome::{Outcome, Status};
    use crate::snapshot::kafka::{BoundedLog, KafkaSnapshot, Partition, Topic};
    use crate::snapshot::{Snapshot, SourceState};

    fn run(k: KafkaSnapshot, overrides: &[(&str, serde_json::Value)]) -> Outcome {
        let s = Snapshot { kafka: SourceState::Ready(k.into()), ..Default::default() };
        let item = crate::catalogue::find("kafka_retention_24h").unwrap();
        let overrides = overrides.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let params = Params::resolve(item, Some(&overrides));
        let ctx = CheckCtx { item, snapshot: &s, params: &params, now: fixed_now(), attestation: None };
        crate::checks::find("kafka_retention_24h").unwrap()(&ctx).unwrap_or_else(Outcome::from)
    }

    const HOUR_MS: i64 = 3_600_000;

    fn topic(ms: i64, bytes: i64, policy: &str) -> KafkaSnapshot {
        let t = Topic {
            name: "events".into(),
            partitions: vec![Partition { id: 0, leader: 1, replicas: vec![1], isr: vec![1], ..Default::default() }],
            retention_ms: Some(ms),
            retention_bytes: Some(bytes),
            cleanup_policy: Some(policy.into()),
            min_insync_replicas: Some(2),
            ..Default::default()
        };
        KafkaSnapshot { topics: vec![t], ..Default::default() }
    }

    /// The topic's one partition holding `size` bytes, its oldest record `age_ms` old.
    fn holding(mut k: KafkaSnapshot, size: i64, age_ms: Option<i64>) -> KafkaSnapshot {
        let now = fixed_now().timestamp_millis();
        k.topics[0].partitions[0].bounded =
            Some(BoundedLog { size_bytes: Some(size), oldest_ms: age_ms.map(|a| now - a), error: None });
        k
    }

    #[test]
    fn one_hour_retention_fails_and_forever_passes() {
        let o = run(topic(HOUR_MS, -1, "delete"), &[]);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(finding_objects(&o), ["topic/events"]);
        assert_eq!(o.findings[0].message, "retention.ms 3600000 (1h) is below 1day");
        assert_eq!(run(topic(-1, -1, "delete"), &[]).status, Status::Pass);
        assert_eq!(run(topic(24 * HOUR_MS, -1, "delete"), &[]).status, Status::Pass);
        let mut k = topic(-1, -1, "delete");
        k.topics[0].config_error = Some("DescribeConfigs: TopicAuthorizationFailed (29)".into());
        assert_eq!(run(k, &[]).status, Status::Error);
    }

    #[test]
    fn a_compact_only_topic_is_judged_as_compacted_and_compact_delete_by_its_retention() {
        let o = run(topic(HOUR_MS, -1, "compact"), &[]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert!(o.reason.unwrap().contains("compacted (cleanup.policy=compact"));
        assert_eq!(run(topic(HOUR_MS, -1, "compact,delete"), &[]).status, Status::Fail);
        assert_eq!(run(topic(HOUR_MS, -1, "delete, compact"), &[]).status, Status::Fail);
    }

    #[test]
    fn a_size_bound_is_judged_at_the_partitions_write_rate() {
        // A kilobyte bound, 10 KiB written over the last minute: about 6 s kept.
        let o = run(holding(topic(-1, 1024, "delete"), 10 * 1024, Some(60_000)), &[]);
        assert_eq!(o.status, Status::Fail, "{o:?}");
        assert_eq!(
            o.findings[0].message,
            "retention.bytes 1024 (1.0 KiB) keeps partition 0 about 6s at its write rate (10.0 KiB in the last 1m), \
             below 1day; 1day needs about 14.1 MiB"
        );
        // 1 GiB written per hour: a 30 GiB bound keeps more than a day, a 10 GiB one does not.
        let gib = 1i64 << 30;
        assert_eq!(run(holding(topic(-1, 30 * gib, "delete"), gib, Some(HOUR_MS)), &[]).status, Status::Pass);
        assert_eq!(run(holding(topic(-1, 10 * gib, "delete"), gib, Some(HOUR_MS)), &[]).status, Status::Fail);
        // Records older than a day are still there: the bound keeps a day now.
        assert_eq!(run(holding(topic(-1, 1024, "delete"), 900, Some(30 * HOUR_MS)), &[]).status, Status::Pass);
        // The bound applies with time retention too; compaction alone ignores it.
        assert_eq!(
            run(holding(topic(7 * 24 * HOUR_MS, 1024, "delete"), 10 * 1024, Some(60_000)), &[]).status,
            Status::Fail
        );
        assert_eq!(run(topic(-1, 1024, "compact"), &[]).status, Status::Pass);
        // A lower obligation is met by the same partition.
        let o = run(holding(topic(-1, 1024, "delete"), 10 * 1024, Some(60_000)), &[("min_retention", json!("5s"))]);
        assert_eq!(o.status, Status::Pass, "{o:?}");
    }

    #[test]
    fn a_size_bound_without_a_rate_is_undecided_never_a_pass() {
        let o = run(holding(topic(-1, 1024, "delete"), 0, None), &[]);
        assert_eq!(o.status, Status::Error, "{o:?}");
        assert!(o.reason.unwrap().contains("holds no record yet: its write rate cannot be measured"));
        let o = run(topic(-1, 1024, "delete"), &[]);
        assert_eq!(o.status, Status::Error, "{o:?}");
        let mut k = topic(-1, 1024, "delete");
        k.topics[0].partitions[0].bounded = Some(BoundedLog {
            error: Some("DescribeLogDirs: ClusterAuthorizationFailed (31)".into()),
            ..Default::default()
        });
        let o = run(k, &[]);
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.unwrap().contains("ClusterAuthorizationFailed"));
    }
}
