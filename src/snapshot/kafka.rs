//! What the Kafka source read: brokers, topics, consumer groups and their offsets.

/// Filled by `sources::kafka`; read by the Kafka items and the Kafka metric families.
#[derive(Debug, Clone, Default)]
pub struct KafkaSnapshot {}
