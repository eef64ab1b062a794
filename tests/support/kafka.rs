//! The real test Kafka cluster (tests/support/kafka/cluster.sh) and a small admin built on the
//! crate's own protocol client: create topics, produce exact record counts to chosen
//! partitions, commit explicit offsets, find a group's coordinator.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use infrasage_readiness::sources::kafka::client::{Conn, Security};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig, CreateTopicsRequest};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::runtime::Runtime;

pub const BOOTSTRAP: &str = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094";
pub const SASL_ADDR: &str = "127.0.0.1:19095";
pub const TLS_ADDR: &str = "127.0.0.1:19096";

pub struct Kafka {
    rt: Runtime,
}

fn script() -> PathBuf {
    super::repo("tests/support/kafka/cluster.sh")
}

/// Starts (or finds) the test cluster through the same script the test command uses.
pub fn cluster() -> Option<&'static Kafka> {
    static CLUSTER: OnceLock<Option<Kafka>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let out = Command::new(script()).arg("start").output().expect("cluster.sh runs");
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).to_string();
                assert!(std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(), "test Kafka did not start: {why}");
                eprintln!("no test Kafka ({why}): live Kafka tests not run");
                return None;
            }
            Some(Kafka { rt: Runtime::new().unwrap() })
        })
        .as_ref()
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl Kafka {
    /// `cluster.sh <args>`, which must succeed.
    pub fn script(&self, args: &[&str]) {
        let out = Command::new(script()).args(args).output().expect("cluster.sh runs");
        assert!(out.status.success(), "cluster.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Where cluster.sh keeps its state (data, SASL password, test certificates).
    pub fn state_dir(&self) -> PathBuf {
        PathBuf::from(std::env::var("INFRASAGE_KAFKA_STATE").unwrap_or_else(|_| {
            format!("{}/infrasage-readiness-kafka", std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into()))
        }))
    }

    /// The SASL user's password the script generated.
    pub fn sasl_password(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("sasl.password")).unwrap().trim().to_string()
    }

    fn conn(&self, addr: &str) -> Conn {
        self.rt.block_on(Conn::connect(addr, &Security::default(), "test-admin")).unwrap()
    }

    /// A connection to any live broker.
    fn any(&self) -> Conn {
        for addr in BOOTSTRAP.split(',') {
            if let Ok(c) = self.rt.block_on(Conn::connect(addr, &Security::default(), "test-admin")) {
                return c;
            }
        }
        panic!("no test broker answers");
    }

    /// Creates a topic and waits until every partition has a leader.
    pub fn create_topic(&self, name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) {
        let topic = CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig::default().with_name(s(k)).with_value(Some(s(v))))
                    .collect(),
            );
        let req = CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000);
        let mut c = self.any();
        let resp = self.rt.block_on(c.send(&req)).unwrap();
        let code = resp.topics[0].error_code;
        assert!(code == 0 || code == 36, "CreateTopics {name}: {code} {:?}", resp.topics[0].error_message);
        self.wait_for(|| {
            self.leaders(name).is_some_and(|l| l.len() == partitions as usize && l.iter().all(|l| *l > 0))
        });
    }

    /// Leader of each partition of `topic`, from the metadata.
    pub fn leaders(&self, topic: &str) -> Option<Vec<i32>> {
        let req = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))]))
            .with_allow_auto_topic_creation(false);
        let resp = self.rt.block_on(self.any().send(&req)).ok()?;
        let t = resp.topics.into_iter().find(|t| t.error_code == 0)?;
        let mut parts: Vec<_> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
        parts.sort();
        Some(parts.into_iter().map(|(_, l)| l).collect())
    }

    /// Appends `n` records to one partition (acks=all), through its leader.
    pub fn produce(&self, topic: &str, partition: i32, n: usize) {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        self.produce_at(topic, partition, n, now_ms);
    }

    /// Sets (Some) or removes (None) a cluster-wide dynamic broker default, as
    /// `kafka-configs --entity-default --entity-type brokers` does.
    pub fn set_broker_default(&self, key: &str, value: Option<&str>) {
        let config = AlterableConfig::default()
            .with_name(s(key))
            .with_config_operation(if value.is_some() { 0 } else { 1 })
            .with_value(value.map(s));
        let resource =
            AlterConfigsResource::default().with_resource_type(4).with_resource_name(s("")).with_configs(vec![config]);
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![resource]);
        let resp = self.rt.block_on(self.any().send(&req)).unwrap();
        let r = &resp.responses[0];
        assert_eq!(r.error_code, 0, "IncrementalAlterConfigs {key}: {:?}", r.error_message);
    }

    /// Appends `n` records stamped `timestamp_ms` (CreateTime) to one partition.
    pub fn produce_at(&self, topic: &str, partition: i32, n: usize, timestamp_ms: i64) {
        let now_ms = timestamp_ms;
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder starts a new batch whenever offset − sequence changes, and a
                // produce request takes one batch: base sequence -1 (none), one batch.
                sequence: i as i32 - 1,
                timestamp: now_ms,
                key: None,
                value: Some(Bytes::from(format!("record {i}"))),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .unwrap();
        let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![
                PartitionProduceData::default().with_index(partition).with_records(Some(buf.freeze())),
            ]),
        ]);
        // Right after creation a partition's leader may still move: NOT_LEADER_OR_FOLLOWER
        // (6) asks again. Nothing was appended then, so the count stays exact.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let leader = self.leaders(topic).expect("topic exists")[partition as usize];
            let resp = self.rt.block_on(self.conn(&format!("127.0.0.1:{}", 19091 + leader)).send(&req)).unwrap();
            let r = &resp.responses[0].partition_responses[0];
            if r.error_code == 0 {
                return;
            }
            assert!(
                r.error_code == 6 && Instant::now() < deadline,
                "Produce {topic}/{partition}: {} {:?}",
                r.error_code,
                r.error_message
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Node id of the broker coordinating `group`.
    pub fn coordinator(&self, group: &str) -> i32 {
        // A fresh cluster answers COORDINATOR_NOT_AVAILABLE until __consumer_offsets exists.
        let req = FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s(group)]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let resp = self.rt.block_on(self.any().send(&req)).unwrap();
            let c = &resp.coordinators[0];
            if c.error_code == 0 {
                return c.node_id.0;
            }
            assert!(Instant::now() < deadline, "FindCoordinator {group}: {}", c.error_code);
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Commits explicit offsets for a group without members (an admin commit); retried while
    /// the coordinator is still loading on a fresh cluster, as each partition may say so.
    pub fn commit(&self, group: &str, topic: &str, offsets: &[(i32, i64)]) {
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default().with_name(TopicName(s(topic))).with_partitions(
                offsets
                    .iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_metadata(Some(s("")))
                    })
                    .collect(),
            )]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let coord = self.coordinator(group);
            let resp = self.rt.block_on(self.conn(&format!("127.0.0.1:{}", 19091 + coord)).send(&req));
            let codes: Vec<i16> = match resp {
                Ok(r) => r.topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect(),
                Err(_) => vec![-1],
            };
            if codes.iter().all(|c| *c == 0) {
                return;
            }
            assert!(Instant::now() < deadline, "OffsetCommit {group}: {codes:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn wait_for(&self, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "condition not met within 30 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
