//! Kafka families, labels as kafka_exporter names them (`topic`, `partition`,
//! `consumergroup`) so its dashboards read familiar. Rebuilt from each snapshot, so series of
//! deleted topics and groups disappear with the next evaluation.

use std::collections::BTreeMap;

use crate::exposition::Gauge;
use crate::snapshot::kafka::KafkaSnapshot;

/// The group states a StateSet series exists for; a state Kafka adds later gets its own.
const GROUP_STATES: &[&str] =
    &["Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling", "Dead", "Unknown"];

/// Appends every Kafka family to `out` as exposition text. With tens of thousands of lag
/// series, protos (or a registry of `GaugeVec`s) would cost several times the text itself in
/// memory, so each family is written in one pass straight from the snapshot.
pub fn render(k: &KafkaSnapshot, out: &mut String) {
    Gauge::new(out, "infrasage_kafka_brokers", "Brokers listed in the cluster metadata.", &[])
        .sample(&[], k.brokers.len() as f64);
    let mut g = Gauge::new(out, "infrasage_kafka_topic_partitions", "Partitions of a topic.", &["topic"]);
    for t in &k.topics {
        g.sample(&[(&t.name).into()], t.partitions.len() as f64);
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_topic_replication_factor",
        "Replication factor of a topic (the smallest replica count of its partitions).",
        &["topic"],
    );
    for t in &k.topics {
        g.sample(&[(&t.name).into()], t.replication_factor() as f64);
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_topic_retention_seconds",
        "Effective retention.ms of a topic in seconds (the broker default where the topic sets none); +Inf for -1.",
        &["topic"],
    );
    for t in &k.topics {
        if let Some(ms) = t.retention_ms {
            let secs = if ms < 0 { f64::INFINITY } else { ms as f64 / 1000.0 };
            g.sample(&[(&t.name).into()], secs);
        }
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_topic_under_replicated_partitions",
        "Partitions of a topic whose in-sync replica set is smaller than its replica set.",
        &["topic"],
    );
    for t in &k.topics {
        g.sample(&[(&t.name).into()], t.under_replicated() as f64);
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_topic_partition_current_offset",
        "High watermark of a partition (the offset of the next record).",
        &["partition", "topic"],
    );
    for t in &k.topics {
        for p in &t.partitions {
            if let Some(h) = p.high {
                g.sample(&[p.id.into(), (&t.name).into()], h as f64);
            }
        }
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_topic_partition_oldest_offset",
        "Low watermark of a partition (the oldest offset still in the log).",
        &["partition", "topic"],
    );
    for t in &k.topics {
        for p in &t.partitions {
            if let Some(l) = p.low {
                g.sample(&[p.id.into(), (&t.name).into()], l as f64);
            }
        }
    }

    // Offsets unknown this time: no offset or lag series rather than a wrong zero.
    let known = move || k.groups.iter().filter(|g| g.offsets_error.is_none());
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_current_offset",
        "Committed offset of a consumer group on a partition.",
        &["consumergroup", "partition", "topic"],
    );
    for grp in known() {
        for c in &grp.committed {
            g.sample(&[(&grp.id).into(), c.partition.into(), (&c.topic).into()], c.offset as f64);
        }
    }
    // Lag is computed once per group; its per-topic sums and uncommitted counts (a handful of
    // series per group) are kept for the two families after it.
    let mut sums: Vec<(&str, String, i64)> = Vec::new();
    let mut counts: Vec<(&str, String, usize)> = Vec::new();
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_lag",
        "High watermark minus committed offset of a consumer group on a partition. Partitions without a commit \
         have no series (kafka_exporter's -1 there pollutes sums and alerts); they are counted in \
         infrasage_kafka_consumergroup_uncommitted_partitions.",
        &["consumergroup", "partition", "topic"],
    );
    for grp in known() {
        let l = k.lag(grp);
        let mut by_topic: BTreeMap<&str, i64> = BTreeMap::new();
        for p in &l.committed {
            g.sample(&[(&grp.id).into(), p.partition.into(), (&p.topic).into()], p.lag as f64);
            *by_topic.entry(&p.topic).or_default() += p.lag;
        }
        sums.extend(by_topic.into_iter().map(|(t, s)| (grp.id.as_str(), t.to_string(), s)));
        let mut by_topic: BTreeMap<&str, usize> = BTreeMap::new();
        for (t, _, _) in &l.uncommitted {
            *by_topic.entry(t).or_default() += 1;
        }
        counts.extend(by_topic.into_iter().map(|(t, n)| (grp.id.as_str(), t.to_string(), n)));
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_lag_sum",
        "Sum of infrasage_kafka_consumergroup_lag of a consumer group over a topic's committed partitions.",
        &["consumergroup", "topic"],
    );
    for (grp, t, s) in &sums {
        g.sample(&[(*grp).into(), t.into()], *s as f64);
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_uncommitted_partitions",
        "Partitions of a topic the consumer group committed to elsewhere but not on these (no lag series).",
        &["consumergroup", "topic"],
    );
    for (grp, t, n) in &counts {
        g.sample(&[(*grp).into(), t.into()], *n as f64);
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_state",
        "Consumer group state as a StateSet: the series of the current state is 1, the others 0.",
        &["consumergroup", "state"],
    );
    for grp in &k.groups {
        let extra = (!GROUP_STATES.contains(&grp.state.as_str())).then_some(grp.state.as_str());
        for s in GROUP_STATES.iter().copied().chain(extra) {
            g.sample(&[(&grp.id).into(), s.into()], if s == grp.state { 1.0 } else { 0.0 });
        }
    }
    lag_seconds(k, out);
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_status",
        "Consumer group status over its last collections, as a StateSet (Burrow's rules): ok (caught up at \
         some point, or catching up), lagging (commits move, lag grows), stalled (commits do not move, lag > 0), \
         stopped (stalled with no member), error (offsets unreadable).",
        &["consumergroup", "status"],
    );
    for grp in &k.groups {
        let status = grp.status();
        for s in crate::snapshot::kafka::GroupStatus::ALL {
            g.sample(&[(&grp.id).into(), s.as_str().into()], if s == status { 1.0 } else { 0.0 });
        }
    }
    let mut g =
        Gauge::new(out, "infrasage_kafka_consumergroup_members", "Members of a consumer group.", &["consumergroup"]);
    for grp in &k.groups {
        if let Some(m) = grp.members {
            g.sample(&[(&grp.id).into()], m as f64);
        }
    }
}

/// Lag in time: per committed partition, and the worst per group and topic.
fn lag_seconds(k: &KafkaSnapshot, out: &mut String) {
    let partitions: std::collections::HashMap<(&str, i32), &crate::snapshot::kafka::Partition> =
        k.topics.iter().flat_map(|t| t.partitions.iter().map(move |p| ((t.name.as_str(), p.id), p))).collect();
    let mut worst: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_lag_seconds",
        "Seconds since the record at the consumer group's committed offset was written (0 when caught up): \
         when the partition's high watermark passed the commit, interpolated between the collections that saw \
         it (error about one collection interval). Where the commit is older than the watermark history kept \
         (64 changes a partition), a lower bound. No series until a partition's history holds its commit's time.",
        &["consumergroup", "partition", "topic"],
    );
    for grp in k.groups.iter().filter(|g| g.offsets_error.is_none()) {
        for c in &grp.committed {
            let Some(p) = partitions.get(&(c.topic.as_str(), c.partition)) else { continue };
            let Some(l) = p.lag_seconds(c.offset, k.collected_at_ms) else { continue };
            g.sample(&[(&grp.id).into(), c.partition.into(), (&c.topic).into()], l.seconds);
            let w = worst.entry((grp.id.as_str(), c.topic.as_str())).or_insert(0.0);
            *w = w.max(l.seconds);
        }
    }
    let mut g = Gauge::new(
        out,
        "infrasage_kafka_consumergroup_lag_seconds_max",
        "The largest infrasage_kafka_consumergroup_lag_seconds of a consumer group over a topic's partitions.",
        &["consumergroup", "topic"],
    );
    for ((grp, topic), w) in worst {
        g.sample(&[grp.into(), topic.into()], w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::kafka::{Broker, Committed, Group, Partition, Topic};

    fn snapshot() -> KafkaSnapshot {
        let part = |id, low, high| Partition {
            id,
            leader: 1,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2],
            low,
            high,
            bounded: None,
            history: Vec::new(),
        };
        KafkaSnapshot {
            collected_at_ms: 12_000,
            brokers: vec![Broker { id: 1, host: "h".into(), port: 1, rack: None }],
            controller_id: Some(1),
            topics: vec![Topic {
                name: "events".into(),
                partitions: vec![part(0, Some(0), Some(100)), part(1, Some(5), Some(40)), part(2, Some(0), Some(7))],
                retention_ms: Some(-1),
                ..Default::default()
            }],
            groups: vec![Group {
                id: "g".into(),
                state: "Empty".into(),
                members: Some(0),
                committed: vec![
                    Committed { topic: "events".into(), partition: 0, offset: 60 },
                    Committed { topic: "events".into(), partition: 1, offset: 40 },
                ],
                ..Default::default()
            }],
        }
    }

    fn text(k: &KafkaSnapshot) -> String {
        let mut out = String::new();
        render(k, &mut out);
        out
    }

    /// The samples as Prometheus reads them: (metric, labels, value), every one a gauge.
    fn samples(t: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
        let scrape = prometheus_parse::Scrape::parse(t.lines().map(|l| Ok(l.to_string()))).unwrap();
        scrape
            .samples
            .into_iter()
            .map(|s| {
                let prometheus_parse::Value::Gauge(v) = s.value else { panic!("{} is not a gauge", s.metric) };
                (s.metric, s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), v)
            })
            .collect()
    }

    fn value(t: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let found: Vec<f64> =
            samples(t).into_iter().filter(|(m, l, _)| m == metric && *l == want).map(|(_, _, v)| v).collect();
        assert!(found.len() <= 1, "{metric}{labels:?} twice in\n{t}");
        found.first().copied()
    }

    #[test]
    fn lag_in_seconds_where_the_history_says_when_the_commit_was_written() {
        use crate::snapshot::kafka::HighMark;
        let mut k = snapshot();
        // Partition 0: offsets 0..100 written over 10 s; the group is at 60. Partition 1 is
        // caught up (40 of 40); partition 2 has no history yet.
        k.topics[0].partitions[0].history =
            vec![HighMark { offset: 0, at_ms: 0 }, HighMark { offset: 100, at_ms: 10_000 }];
        k.topics[0].partitions[1].history = vec![HighMark { offset: 40, at_ms: 1_000 }];
        let t = text(&k);
        let at = |p| {
            value(
                &t,
                "infrasage_kafka_consumergroup_lag_seconds",
                &[("consumergroup", "g"), ("partition", p), ("topic", "events")],
            )
        };
        // Offset 60 was written when the mark passed 61: at 6.1 s; collected at 12 s.
        assert!((at("0").unwrap() - 5.9).abs() < 1e-9, "{t}");
        assert_eq!(at("1"), Some(0.0));
        assert_eq!(at("2"), None);
        let max =
            value(&t, "infrasage_kafka_consumergroup_lag_seconds_max", &[("consumergroup", "g"), ("topic", "events")]);
        assert!((max.unwrap() - 5.9).abs() < 1e-9);
    }

    #[test]
    fn group_status_is_a_stateset() {
        use crate::snapshot::kafka::GroupSample;
        let mut k = snapshot();
        let s = |lag, committed| GroupSample { lag, committed, members: Some(0), error: false };
        k.groups[0].window = (0..10).map(|i| s(30 + i, 100)).collect();
        let t = text(&k);
        let at =
            |status| value(&t, "infrasage_kafka_consumergroup_status", &[("consumergroup", "g"), ("status", status)]);
        assert_eq!(at("stopped"), Some(1.0), "{t}");
        for other in ["ok", "lagging", "stalled", "error"] {
            assert_eq!(at(other), Some(0.0), "{other}");
        }
    }

    #[test]
    fn lag_series_are_exact_and_uncommitted_partitions_have_none() {
        let t = text(&snapshot());
        let lag = |p| {
            value(
                &t,
                "infrasage_kafka_consumergroup_lag",
                &[("consumergroup", "g"), ("partition", p), ("topic", "events")],
            )
        };
        assert_eq!(lag("0"), Some(40.0), "{t}");
        assert_eq!(lag("1"), Some(0.0));
        assert_eq!(lag("2"), None);
        assert!(t.contains(r#"infrasage_kafka_consumergroup_lag{consumergroup="g",partition="0",topic="events"} 40"#));
        let gt = [("consumergroup", "g"), ("topic", "events")];
        assert_eq!(value(&t, "infrasage_kafka_consumergroup_lag_sum", &gt), Some(40.0));
        assert_eq!(value(&t, "infrasage_kafka_consumergroup_uncommitted_partitions", &gt), Some(1.0));
        assert_eq!(
            value(
                &t,
                "infrasage_kafka_consumergroup_current_offset",
                &[("consumergroup", "g"), ("partition", "1"), ("topic", "events")]
            ),
            Some(40.0)
        );
        // Written as the text format spells it; Prometheus and the parser read +Inf.
        assert!(t.contains("infrasage_kafka_topic_retention_seconds{topic=\"events\"} +Inf\n"), "{t}");
        assert_eq!(value(&t, "infrasage_kafka_topic_retention_seconds", &[("topic", "events")]), Some(f64::INFINITY));
        assert_eq!(value(&t, "infrasage_kafka_topic_under_replicated_partitions", &[("topic", "events")]), Some(3.0));
        assert_eq!(value(&t, "infrasage_kafka_topic_partitions", &[("topic", "events")]), Some(3.0));
        assert_eq!(value(&t, "infrasage_kafka_topic_replication_factor", &[("topic", "events")]), Some(3.0));
        let mark = |m, p| value(&t, m, &[("partition", p), ("topic", "events")]);
        assert_eq!(mark("infrasage_kafka_topic_partition_current_offset", "1"), Some(40.0));
        assert_eq!(mark("infrasage_kafka_topic_partition_oldest_offset", "1"), Some(5.0));
        assert_eq!(value(&t, "infrasage_kafka_brokers", &[]), Some(1.0));
        let state = |s| value(&t, "infrasage_kafka_consumergroup_state", &[("consumergroup", "g"), ("state", s)]);
        assert_eq!(state("Empty"), Some(1.0));
        assert_eq!(state("Stable"), Some(0.0));
        assert_eq!(samples(&t).iter().filter(|(m, _, _)| m == "infrasage_kafka_consumergroup_state").count(), 8);
        // One HELP and one TYPE line per family, each family's samples together.
        for family in ["infrasage_kafka_consumergroup_lag", "infrasage_kafka_topic_partition_current_offset"] {
            assert_eq!(t.matches(&format!("# TYPE {family} gauge\n")).count(), 1, "{t}");
            assert_eq!(t.matches(&format!("# HELP {family} ")).count(), 1);
        }
        assert_eq!(samples(&t).len(), t.lines().filter(|l| !l.starts_with('#')).count());
    }

    #[test]
    fn a_state_kafka_adds_later_gets_its_own_series() {
        let mut k = snapshot();
        k.groups[0].state = "Rebalancing\"Soon\"".into();
        let t = text(&k);
        assert!(
            t.contains(r#"infrasage_kafka_consumergroup_state{consumergroup="g",state="Rebalancing\"Soon\""} 1"#),
            "{t}"
        );
        assert!(t.contains(r#"infrasage_kafka_consumergroup_state{consumergroup="g",state="Empty"} 0"#));
    }

    #[test]
    fn a_group_whose_offsets_are_unknown_has_no_lag_series() {
        let mut k = snapshot();
        k.groups[0].offsets_error = Some("NotCoordinator".into());
        let t = text(&k);
        assert!(!t.contains("infrasage_kafka_consumergroup_lag"), "{t}");
        assert!(!t.contains("infrasage_kafka_consumergroup_current_offset"), "{t}");
        assert_eq!(value(&t, "infrasage_kafka_consumergroup_members", &[("consumergroup", "g")]), Some(0.0));
    }

    #[test]
    fn deleted_topics_and_groups_leave_no_series() {
        let mut k = snapshot();
        k.topics.clear();
        k.groups.clear();
        let t = text(&k);
        assert!(!t.contains("events") && !t.contains("consumergroup=\"g\""), "{t}");
        // Families without a sample print no HELP/TYPE lines either.
        assert_eq!(t, "# HELP infrasage_kafka_brokers Brokers listed in the cluster metadata.\n# TYPE infrasage_kafka_brokers gauge\ninfrasage_kafka_brokers 1\n");
    }
}
