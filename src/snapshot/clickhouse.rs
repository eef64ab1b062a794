//! What the ClickHouse source read: server version, disks, data volume, TTLs, query log, backups.

/// Filled by `sources::clickhouse`; read by the ClickHouse items and metric families.
#[derive(Debug, Clone, Default)]
pub struct ClickhouseSnapshot {}
