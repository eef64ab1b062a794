//! What the Kafka source read: brokers, topics, consumer groups and their offsets.

/// Filled by `sources::kafka`; read by the Kafka items and the Kafka metric families.
/// Topics and groups are those in scope of the config's allow/deny patterns, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct KafkaSnapshot {
    pub brokers: Vec<Broker>,
    pub controller_id: Option<i32>,
    pub topics: Vec<Topic>,
    pub groups: Vec<Group>,
    /// When the watermarks were read (Unix ms): what lag in seconds is measured against.
    pub collected_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Topic {
    pub name: String,
    /// Kafka's own topics (`__consumer_offsets`, ...).
    pub internal: bool,
    pub partitions: Vec<Partition>,
    /// Effective `retention.ms` (the broker default where the topic sets none); -1 = forever.
    pub retention_ms: Option<i64>,
    /// Effective `retention.bytes` per partition; -1 = no bound.
    pub retention_bytes: Option<i64>,
    /// Effective `cleanup.policy`: `delete`, `compact` or `compact,delete`.
    pub cleanup_policy: Option<String>,
    pub min_insync_replicas: Option<i32>,
    /// Why the topic's configs could not be read, when they could not.
    pub config_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Partition {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Earliest offset still in the log (low watermark); None when the leader did not answer.
    pub low: Option<i64>,
    /// High watermark: the offset of the next record.
    pub high: Option<i64>,
    /// Read only where `retention.bytes` bounds the topic: the bytes the leader's log holds
    /// (DescribeLogDirs) and the timestamp of its oldest record (ListOffsets by time).
    pub bounded: Option<BoundedLog>,
    /// The high watermark each time it was seen to change, oldest first (bounded), kept by the
    /// source across collections: when each offset was written, to within one collection.
    pub history: Vec<HighMark>,
}

/// A high watermark and when a collection first saw it (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HighMark {
    pub offset: i64,
    pub at_ms: i64,
}

/// How far behind in time a committed offset is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagSeconds {
    pub seconds: f64,
    /// The commit is older than the history kept: the lag is at least this.
    pub lower_bound: bool,
}

impl Partition {
    /// Seconds since the record at `committed` (the next one the group will read) was written,
    /// at `now_ms`: 0 when caught up; else the moment the high watermark passed `committed`,
    /// interpolated between the two collections that saw it before and after (so the error is
    /// at most one collection interval). None without a high watermark or a history.
    pub fn lag_seconds(&self, committed: i64, now_ms: i64) -> Option<LagSeconds> {
        let high = self.high?;
        if committed >= high {
            return Some(LagSeconds { seconds: 0.0, lower_bound: false });
        }
        let first = self.history.first()?;
        let since = |at_ms: i64| ((now_ms - at_ms).max(0) as f64) / 1000.0;
        // The first mark past the commit: the record was written between it and the one before.
        match self.history.iter().position(|m| m.offset > committed) {
            None => Some(LagSeconds { seconds: since(first.at_ms), lower_bound: true }),
            Some(0) if first.offset > committed => Some(LagSeconds { seconds: since(first.at_ms), lower_bound: true }),
            Some(i) => {
                let (before, after) = (self.history[i - 1], self.history[i]);
                let share = (committed + 1 - before.offset) as f64 / (after.offset - before.offset) as f64;
                let written = before.at_ms as f64 + share * (after.at_ms - before.at_ms) as f64;
                Some(LagSeconds { seconds: ((now_ms as f64 - written) / 1000.0).max(0.0), lower_bound: false })
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundedLog {
    pub size_bytes: Option<i64>,
    /// None when the partition holds no record.
    pub oldest_ms: Option<i64>,
    /// Why either could not be read.
    pub error: Option<String>,
}

impl Topic {
    /// Whether old segments are deleted at all (`delete` in the policy); a compact-only topic
    /// keeps the last record of every key whatever `retention.*` says.
    pub fn deletes(&self) -> bool {
        self.cleanup_policy.as_deref().is_none_or(|p| p.split(',').any(|x| x.trim() == "delete"))
    }

    /// Whether `retention.bytes` can delete data: set, and the policy deletes.
    pub fn bytes_bounded(&self) -> bool {
        self.deletes() && self.retention_bytes.is_some_and(|b| b >= 0)
    }

    pub fn is_internal(&self) -> bool {
        self.internal || self.name.starts_with("__")
    }

    /// The smallest replica count of its partitions (what a partition can lose is what counts).
    pub fn replication_factor(&self) -> usize {
        self.partitions.iter().map(|p| p.replicas.len()).min().unwrap_or(0)
    }

    pub fn under_replicated(&self) -> usize {
        self.partitions.iter().filter(|p| p.isr.len() < p.replicas.len()).count()
    }

    pub fn partition(&self, id: i32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.id == id)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub id: String,
    /// As Kafka names it: Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, ...
    pub state: String,
    /// `consumer` for consumer groups; `classic`/`consumer` protocol type as listed.
    pub protocol_type: String,
    /// None when the group could not be described.
    pub members: Option<usize>,
    /// Committed offsets, by topic then partition (topics in scope only).
    pub committed: Vec<Committed>,
    /// Why the committed offsets could not be read this time (the coordinator moved, ...).
    pub offsets_error: Option<String>,
    /// This group at each of the last collections, oldest first, this one last: what its
    /// status is judged over (kept by the source).
    pub window: Vec<GroupSample>,
}

/// A group as one collection saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSample {
    /// Lag summed over its committed partitions.
    pub lag: i64,
    /// Its committed offsets summed: unchanged exactly when no commit moved.
    pub committed: i64,
    pub members: Option<usize>,
    /// Its offsets could not be read.
    pub error: bool,
}

/// Burrow's evaluation restated for this data, over a group's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    /// Caught up at some point of the window, or catching up.
    Ok,
    /// Commits move, but the lag grows across the window.
    Lagging,
    /// Commits do not move and there is lag.
    Stalled,
    /// As stalled, with no member left.
    Stopped,
    /// Its offsets could not be read.
    Error,
}

impl GroupStatus {
    pub const ALL: [GroupStatus; 5] =
        [GroupStatus::Ok, GroupStatus::Lagging, GroupStatus::Stalled, GroupStatus::Stopped, GroupStatus::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Ok => "ok",
            GroupStatus::Lagging => "lagging",
            GroupStatus::Stalled => "stalled",
            GroupStatus::Stopped => "stopped",
            GroupStatus::Error => "error",
        }
    }
}

/// Collections a group's status is judged over (Burrow's default window is 10 offsets).
pub const STATUS_WINDOW: usize = 10;

impl Group {
    /// Its status over its window (collections where the offsets could not be read left out,
    /// unless this one is such). Until the window is full of readable collections a group is
    /// `ok`: a few looks right after a start or a restart do not make a stall.
    pub fn status(&self) -> GroupStatus {
        let Some(now) = self.window.last() else { return GroupStatus::Ok };
        if now.error {
            return GroupStatus::Error;
        }
        let read: Vec<&GroupSample> = self.window.iter().filter(|s| !s.error).collect();
        let first = read[0];
        if read.len() < STATUS_WINDOW || read.iter().any(|s| s.lag == 0) || now.lag < first.lag {
            return GroupStatus::Ok;
        }
        let moved = read.iter().any(|s| s.committed != first.committed);
        match (moved, now.members) {
            (false, Some(0)) => GroupStatus::Stopped,
            (false, _) => GroupStatus::Stalled,
            (true, _) if now.lag > first.lag => GroupStatus::Lagging,
            (true, _) => GroupStatus::Ok,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// The lag of one committed partition: high watermark − committed offset, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    pub lag: i64,
}

/// A group's lag: committed partitions, and partitions of its topics without a commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLag {
    pub committed: Vec<PartitionLag>,
    /// (topic, partition, high − low): what the group would have to read from the start.
    pub uncommitted: Vec<(String, i32, i64)>,
}

impl KafkaSnapshot {
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        // Sorted by name (the source sorts them); thousands of lookups per evaluation.
        self.topics.binary_search_by(|t| t.name.as_str().cmp(name)).ok().map(|i| &self.topics[i])
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Lag of `group` on the topics it committed to. A partition whose watermark is unknown
    /// is left out rather than guessed.
    pub fn lag(&self, group: &Group) -> GroupLag {
        let mut out = GroupLag::default();
        let seen: std::collections::HashSet<(&str, i32)> =
            group.committed.iter().map(|c| (c.topic.as_str(), c.partition)).collect();
        let mut topics: Vec<&str> = group.committed.iter().map(|c| c.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        for c in &group.committed {
            let high = self.topic(&c.topic).and_then(|t| t.partition(c.partition)).and_then(|p| p.high);
            if let Some(high) = high {
                out.committed.push(PartitionLag {
                    topic: c.topic.clone(),
                    partition: c.partition,
                    committed: c.offset,
                    lag: high - c.offset,
                });
            }
        }
        for name in topics {
            let Some(t) = self.topic(name) else { continue };
            for p in &t.partitions {
                if let (false, Some(low), Some(high)) = (seen.contains(&(name, p.id)), p.low, p.high) {
                    out.uncommitted.push((name.to_string(), p.id, high - low));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_in_seconds_from_the_high_watermark_history() {
        let mark = |offset, at_ms| HighMark { offset, at_ms };
        // 10 records a second from t=0 (offset 0) to t=10 s (offset 100).
        let p = Partition {
            high: Some(100),
            history: vec![mark(0, 0), mark(50, 5_000), mark(100, 10_000)],
            ..Default::default()
        };
        let at = |c| p.lag_seconds(c, 12_000).unwrap();
        assert_eq!(at(100), LagSeconds { seconds: 0.0, lower_bound: false }, "caught up");
        assert_eq!(at(120), LagSeconds { seconds: 0.0, lower_bound: false }, "a commit past the mark");
        // Offset 59 was written when the mark reached 60: 6 s, so 6 s behind at 12 s.
        let l = at(59);
        assert!((l.seconds - 6.0).abs() < 1e-9 && !l.lower_bound, "{l:?}");
        // Offset 99 was written at 10 s: 2 s behind.
        assert!((at(99).seconds - 2.0).abs() < 1e-9);
        // Older than the history: at least since its first mark.
        let old =
            Partition { high: Some(100), history: vec![mark(50, 5_000), mark(100, 10_000)], ..Default::default() };
        assert_eq!(old.lag_seconds(10, 12_000), Some(LagSeconds { seconds: 7.0, lower_bound: true }));
        assert_eq!(Partition { high: Some(5), ..Default::default() }.lag_seconds(1, 0), None, "no history");
        assert_eq!(Partition::default().lag_seconds(1, 0), None, "no high watermark");
    }

    #[test]
    fn group_status_over_the_window() {
        let s = |lag, committed, members| GroupSample { lag, committed, members: Some(members), error: false };
        let status = |window: Vec<GroupSample>| Group { window, ..Default::default() }.status();
        // A full window whose lag and commits follow `f(i)`.
        let full = |f: &dyn Fn(i64) -> GroupSample| (0..STATUS_WINDOW as i64).map(f).collect::<Vec<_>>();
        assert_eq!(status(vec![]), GroupStatus::Ok, "not seen yet");
        assert_eq!(status(vec![s(20, 10, 0), s(30, 10, 0)]), GroupStatus::Ok, "a short window says nothing yet");
        assert_eq!(status(full(&|i| s(if i == 3 { 0 } else { 5 }, 10 + i, 1))), GroupStatus::Ok, "caught up once");
        assert_eq!(status(full(&|i| s(50 - i, 10 + 5 * i, 1))), GroupStatus::Ok, "catching up");
        assert_eq!(status(full(&|i| s(20, 10 + 5 * i, 1))), GroupStatus::Ok, "moving, steady lag");
        assert_eq!(status(full(&|i| s(20 + i, 10 + 5 * i, 1))), GroupStatus::Lagging);
        assert_eq!(status(full(&|i| s(20 + i, 10, 1))), GroupStatus::Stalled, "commits stand, lag > 0");
        assert_eq!(status(full(&|i| s(20 + i, 10, 0))), GroupStatus::Stopped, "and nobody is left");
        let unreadable = GroupSample { error: true, ..s(0, 0, 1) };
        let mut w = full(&|i| s(20 + i, 10, 1));
        w.push(unreadable);
        assert_eq!(status(w.clone()), GroupStatus::Error, "unreadable now");
        // A collection that could not read the offsets (a coordinator move) is left out.
        w.push(s(40, 10, 1));
        assert_eq!(status(w), GroupStatus::Stalled);
    }
}
