//! What the ClickHouse source read: server version, disks, data volume, TTLs, query log, backups.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Filled by `sources::clickhouse`; read by the ClickHouse items and metric families.
#[derive(Debug, Clone)]
pub struct ClickhouseSnapshot {
    /// `version()` of the server, e.g. `26.9.1.1` or `18.16.1`.
    pub version: String,
    /// The server lacks `RowBinaryWithNamesAndTypes`, so rows were read without type checks.
    pub old_server: bool,
    /// `system.disks`; None where the server has no such table (before 19.15).
    pub disks: Option<Vec<Disk>>,
    /// Bytes on disk of active parts, per database and table.
    pub parts: Vec<TableBytes>,
    /// The tables the items name (telemetry tables, audit table) and every table their rows
    /// are stored in (see [`super::clickhouse_storage`]), by `database.table`; None where the
    /// table does not exist or the exporter's user may not see it.
    pub tables: BTreeMap<String, Option<TableDef>>,
    /// Largest `result_bytes` of a finished query in `system.query_log` over the window:
    /// Ok(None) when no query finished in it, Err why when the log cannot be read.
    pub largest_result: Result<Option<u64>, String>,
    /// `system.backups`; Err why where the server has none.
    pub backups: Result<Backups, String>,
    /// Each well-known default login, tried on a client of its own.
    pub default_logins: Vec<LoginProbe>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    pub name: String,
    pub path: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub keep_free_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableBytes {
    pub database: String,
    pub table: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableDef {
    pub engine: String,
    /// `engine_full` (engine, keys, TTL, settings) as the server prints it.
    pub engine_full: String,
    /// `create_table_query`: column TTLs, a view's SELECT, a materialized view's `TO` table.
    pub create_query: String,
    /// `dependencies_*`: the materialized views reading from the table (`database.table`).
    pub dependents: Vec<String>,
    /// `target_database.target_table` of a materialized view, where the server has them.
    pub target: Option<String>,
    /// `uuid`, where the server has it: names a materialized view's inner table.
    pub uuid: Option<String>,
    /// For a Merge table, the tables its patterns select, as the server's `match` reads them.
    pub merge_members: Option<Vec<String>>,
    /// Column name → type (`system.columns`).
    pub columns: BTreeMap<String, String>,
}

/// The newest successful BACKUP and RESTORE the server remembers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backups {
    pub last_backup: Option<DateTime<Utc>>,
    pub last_restore: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoginProbe {
    pub user: String,
    /// How the password is described in findings ("password clickhouse", "empty password").
    pub password_desc: String,
    pub result: LoginResult,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoginResult {
    Accepted,
    /// The server refused the login; the text is its answer (code and message).
    Rejected(String),
    /// No verdict: the server could not be asked, or answered something else.
    Unknown(String),
}

impl Default for ClickhouseSnapshot {
    /// A server that told nothing: no disks, no tables, nothing read from the logs.
    fn default() -> Self {
        ClickhouseSnapshot {
            version: String::new(),
            old_server: false,
            disks: None,
            parts: Vec::new(),
            tables: BTreeMap::new(),
            largest_result: Err("not read".into()),
            backups: Err("not read".into()),
            default_logins: Vec::new(),
        }
    }
}

impl ClickhouseSnapshot {
    /// Active parts bytes over every table.
    pub fn data_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }
}
