//! Kafka families, labels as kafka_exporter names them (`topic`, `partition`,
//! `consumergroup`) so its dashboards read familiar. Rebuilt from each snapshot, so series of
//! deleted topics and groups disappear with the next evaluation.

use std::collections::BTreeMap;

use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::snapshot::kafka::KafkaSnapshot;

/// The group states a StateSet series exists for; a state Kafka adds later gets its own.
const GROUP_STATES: &[&str] =
    &["Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling", "Dead", "Unknown"];

/// One gauge family built straight into the exposition model: with tens of thousands of lag
/// series, a registry of `GaugeVec`s costs ten times the time and memory for nothing (the
/// families are rebuilt from scratch every evaluation anyway).
struct Family {
    family: MetricFamily,
    labels: &'static [&'static str],
}

impl Family {
    fn new(name: &str, help: &str, labels: &'static [&'static str]) -> Family {
        let mut family = MetricFamily::default();
        family.set_name(name.to_string());
        family.set_help(help.to_string());
        family.set_field_type(MetricType::GAUGE);
        Family { family, labels }
    }

    fn set(&mut self, values: &[&str], v: f64) {
        debug_assert_eq!(values.len(), self.labels.len());
        let mut labels: Vec<LabelPair> = self
            .labels
            .iter()
            .zip(values)
            .map(|(k, val)| {
                let mut l = LabelPair::default();
                l.set_name(k.to_string());
                l.set_value(val.to_string());
                l
            })
            .collect();
        // Sorted by name, as every Prometheus client writes them.
        labels.sort_by(|a, b| a.name().cmp(b.name()));
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::default();
        m.set_label(labels);
        m.set_gauge(g);
        self.family.mut_metric().push(m);
    }
}

pub fn families(k: &KafkaSnapshot) -> Vec<MetricFamily> {
    let mut brokers = Family::new("infrasage_kafka_brokers", "Brokers listed in the cluster metadata.", &[]);
    brokers.set(&[], k.brokers.len() as f64);
    let mut partitions = Family::new("infrasage_kafka_topic_partitions", "Partitions of a topic.", &["topic"]);
    let mut rf = Family::new(
        "infrasage_kafka_topic_replication_factor",
        "Replication factor of a topic (the smallest replica count of its partitions).",
        &["topic"],
    );
    let mut retention = Family::new(
        "infrasage_kafka_topic_retention_seconds",
        "Effective retention.ms of a topic in seconds (the broker default where the topic sets none); +Inf for -1.",
        &["topic"],
    );
    let mut under = Family::new(
        "infrasage_kafka_topic_under_replicated_partitions",
        "Partitions of a topic whose in-sync replica set is smaller than its replica set.",
        &["topic"],
    );
    let mut current = Family::new(
        "infrasage_kafka_topic_partition_current_offset",
        "High watermark of a partition (the offset of the next record).",
        &["topic", "partition"],
    );
    let mut oldest = Family::new(
        "infrasage_kafka_topic_partition_oldest_offset",
        "Low watermark of a partition (the oldest offset still in the log).",
        &["topic", "partition"],
    );
    for t in &k.topics {
        partitions.set(&[&t.name], t.partitions.len() as f64);
        rf.set(&[&t.name], t.replication_factor() as f64);
        under.set(&[&t.name], t.under_replicated() as f64);
        if let Some(ms) = t.retention_ms {
            let secs = if ms < 0 { f64::INFINITY } else { ms as f64 / 1000.0 };
            retention.set(&[&t.name], secs);
        }
        for p in &t.partitions {
            let id = p.id.to_string();
            if let Some(h) = p.high {
                current.set(&[&t.name, &id], h as f64);
            }
            if let Some(l) = p.low {
                oldest.set(&[&t.name, &id], l as f64);
            }
        }
    }

    let mut group_offset = Family::new(
        "infrasage_kafka_consumergroup_current_offset",
        "Committed offset of a consumer group on a partition.",
        &["consumergroup", "topic", "partition"],
    );
    let mut lag = Family::new(
        "infrasage_kafka_consumergroup_lag",
        "High watermark minus committed offset of a consumer group on a partition. Partitions without a commit \
         have no series (kafka_exporter's -1 there pollutes sums and alerts); they are counted in \
         infrasage_kafka_consumergroup_uncommitted_partitions.",
        &["consumergroup", "topic", "partition"],
    );
    let mut lag_sum = Family::new(
        "infrasage_kafka_consumergroup_lag_sum",
        "Sum of infrasage_kafka_consumergroup_lag of a consumer group over a topic's committed partitions.",
        &["consumergroup", "topic"],
    );
    let mut uncommitted = Family::new(
        "infrasage_kafka_consumergroup_uncommitted_partitions",
        "Partitions of a topic the consumer group committed to elsewhere but not on these (no lag series).",
        &["consumergroup", "topic"],
    );
    let mut state = Family::new(
        "infrasage_kafka_consumergroup_state",
        "Consumer group state as a StateSet: the series of the current state is 1, the others 0.",
        &["consumergroup", "state"],
    );
    let mut members =
        Family::new("infrasage_kafka_consumergroup_members", "Members of a consumer group.", &["consumergroup"]);
    for g in &k.groups {
        let extra = (!GROUP_STATES.contains(&g.state.as_str())).then_some(g.state.as_str());
        for s in GROUP_STATES.iter().copied().chain(extra) {
            state.set(&[&g.id, s], if s == g.state { 1.0 } else { 0.0 });
        }
        if let Some(m) = g.members {
            members.set(&[&g.id], m as f64);
        }
        if g.offsets_error.is_some() {
            // Offsets unknown this time: no series rather than a wrong zero.
            continue;
        }
        for c in &g.committed {
            group_offset.set(&[&g.id, &c.topic, &c.partition.to_string()], c.offset as f64);
        }
        let l = k.lag(g);
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for p in &l.committed {
            lag.set(&[&g.id, &p.topic, &p.partition.to_string()], p.lag as f64);
            *sums.entry(&p.topic).or_default() += p.lag;
        }
        for (t, s) in sums {
            lag_sum.set(&[&g.id, t], s as f64);
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (t, _, _) in &l.uncommitted {
            *counts.entry(t).or_default() += 1;
        }
        for (t, n) in counts {
            uncommitted.set(&[&g.id, t], n as f64);
        }
    }
    [
        brokers,
        partitions,
        rf,
        retention,
        under,
        current,
        oldest,
        group_offset,
        lag,
        lag_sum,
        uncommitted,
        state,
        members,
    ]
    .into_iter()
    .map(|f| f.family)
    // An empty family would print HELP/TYPE lines with no sample.
    .filter(|f| !f.get_metric().is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::kafka::{Broker, Committed, Group, Partition, Topic};

    fn snapshot() -> KafkaSnapshot {
        let part = |id, low, high| Partition { id, leader: 1, replicas: vec![1, 2, 3], isr: vec![1, 2], low, high };
        KafkaSnapshot {
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
        let mut buf = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &families(k), &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn lag_series_are_exact_and_uncommitted_partitions_have_none() {
        let t = text(&snapshot());
        assert!(
            t.contains(r#"infrasage_kafka_consumergroup_lag{consumergroup="g",partition="0",topic="events"} 40"#),
            "{t}"
        );
        assert!(t.contains(r#"infrasage_kafka_consumergroup_lag{consumergroup="g",partition="1",topic="events"} 0"#));
        assert!(!t.contains(r#"infrasage_kafka_consumergroup_lag{consumergroup="g",partition="2""#));
        assert!(t.contains(r#"infrasage_kafka_consumergroup_lag_sum{consumergroup="g",topic="events"} 40"#));
        assert!(
            t.contains(r#"infrasage_kafka_consumergroup_uncommitted_partitions{consumergroup="g",topic="events"} 1"#)
        );
        // The prometheus crate writes +Inf as `inf`, which Prometheus parses (Go's ParseFloat).
        assert!(t.contains(r#"infrasage_kafka_topic_retention_seconds{topic="events"} inf"#), "{t}");
        assert!(t.contains(r#"infrasage_kafka_topic_under_replicated_partitions{topic="events"} 3"#));
        assert!(t.contains(r#"infrasage_kafka_consumergroup_state{consumergroup="g",state="Empty"} 1"#));
        assert!(t.contains(r#"infrasage_kafka_consumergroup_state{consumergroup="g",state="Stable"} 0"#));
    }

    #[test]
    fn a_group_whose_offsets_are_unknown_has_no_lag_series() {
        let mut k = snapshot();
        k.groups[0].offsets_error = Some("NotCoordinator".into());
        let t = text(&k);
        assert!(!t.contains("infrasage_kafka_consumergroup_lag{"), "{t}");
        assert!(t.contains(r#"infrasage_kafka_consumergroup_members{consumergroup="g"} 0"#));
    }

    #[test]
    fn deleted_topics_and_groups_leave_no_series() {
        let mut k = snapshot();
        k.topics.clear();
        k.groups.clear();
        let t = text(&k);
        assert!(!t.contains("events") && !t.contains("consumergroup=\"g\""), "{t}");
    }
}
