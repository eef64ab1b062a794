//! The SQL the source runs, one function each. Every column is cast to the type its field
//! names, so rows validate on current servers and read the same without validation on old
//! ones. No `?` in the SQL: the crate would take it for a bind placeholder.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clickhouse::error::Error;
use clickhouse::{Client, Row};
use serde::Deserialize;

use crate::snapshot::clickhouse::{Backups, Disk, TableBytes, TableDef};
use crate::snapshot::clickhouse_storage::{stores, Stores};

/// Codes a server answers a refused login with: 516 on current servers; 192 unknown user,
/// 193 wrong password, 194 password required, 195 address not allowed on 18.x.
pub fn is_login_refusal(code: u32) -> bool {
    matches!(code, 516 | 192 | 193 | 194 | 195)
}

/// The server does not know the format the crate asked for (73 UNKNOWN_FORMAT).
pub fn is_unknown_format(e: &Error) -> bool {
    matches!(e, Error::BadResponse(body) if super::exception_code(body) == Some(73)
        || body.contains("RowBinaryWithNamesAndTypes"))
}

pub fn looks_like_version(v: &str) -> bool {
    let mut it = v.split('.');
    let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    numeric(it.next()) && numeric(it.next())
}

pub async fn version(c: &Client) -> Result<String, Error> {
    c.query("SELECT version()").fetch_one::<String>().await
}

/// `SELECT 1` answered 1 (true), or something that is not a ClickHouse answer (false).
pub async fn select_one(c: &Client) -> Result<bool, Error> {
    let body = c.query("SELECT 1").fetch_bytes("TabSeparated")?.collect().await?;
    Ok(body.as_ref() == b"1\n")
}

pub async fn system_tables(c: &Client) -> Result<Vec<String>, Error> {
    c.query("SELECT toString(name) FROM system.tables WHERE database = 'system' AND name IN ('disks', 'backups', 'query_log')")
        .fetch_all::<String>()
        .await
}

#[derive(Row, Deserialize)]
struct DiskRow {
    name: String,
    path: String,
    free: u64,
    total: u64,
    keep_free: u64,
}

pub async fn disks(c: &Client) -> Result<Vec<Disk>, Error> {
    let rows = c
        .query(
            "SELECT toString(name) AS name, toString(path) AS path, toUInt64(free_space) AS free, \
             toUInt64(total_space) AS total, toUInt64(keep_free_space) AS keep_free FROM system.disks ORDER BY name",
        )
        .fetch_all::<DiskRow>()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Disk {
            name: r.name,
            path: r.path,
            free_bytes: r.free,
            total_bytes: r.total,
            keep_free_bytes: r.keep_free,
        })
        .collect())
}

#[derive(Row, Deserialize)]
struct PartsRow {
    database: String,
    table: String,
    bytes: u64,
}

pub async fn parts(c: &Client) -> Result<Vec<TableBytes>, Error> {
    let rows = c
        .query(
            "SELECT toString(database) AS database, toString(table) AS table, toUInt64(sum(bytes_on_disk)) AS bytes \
             FROM system.parts WHERE active GROUP BY database, table ORDER BY database, table",
        )
        .fetch_all::<PartsRow>()
        .await?;
    Ok(rows.into_iter().map(|r| TableBytes { database: r.database, table: r.table, bytes: r.bytes }).collect())
}

#[derive(Row, Deserialize)]
struct TableRow {
    database: String,
    name: String,
    engine: String,
    engine_full: String,
    create_query: String,
    dependencies_database: Vec<String>,
    dependencies_table: Vec<String>,
    uuid: String,
    target: String,
}

/// Binds as an SQL tuple `('a', 'b')`: `IN` takes it on every server generation (18.x refuses
/// an array there), and filtering `system.tables` on `database` and `name` lets the server skip
/// every other table instead of loading all of them.
struct InList<'a>(Vec<&'a str>);

impl serde::Serialize for InList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(self.0.len())?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

/// How many rounds of "the rows are stored in that table" are followed, and how many tables a
/// Merge table may select before its members are left unread (and its items undecided).
const MAX_DEPTH: usize = 8;
const MAX_MERGE_MEMBERS: usize = 1000;

/// The named tables (`database.table`) and every table their rows are stored in, each Some
/// when it exists: Buffer destinations, Distributed local tables, Merge members, the tables
/// views read, materialized views' targets, the views reading from a Null table.
pub async fn tables(c: &Client, names: &[String]) -> Result<BTreeMap<String, Option<TableDef>>, Error> {
    let mut out: BTreeMap<String, Option<TableDef>> = BTreeMap::new();
    let newer = table_columns(c).await?;
    let mut pending: Vec<String> = names.to_vec();
    for _ in 0..MAX_DEPTH {
        pending.retain(|n| !out.contains_key(n));
        pending.sort();
        pending.dedup();
        if pending.is_empty() {
            break;
        }
        let found = table_rows(c, &pending, &newer).await?;
        let mut next = Vec::new();
        for name in std::mem::take(&mut pending) {
            let Some((database, table)) = name.split_once('.') else {
                out.insert(name, None);
                continue;
            };
            let Some(mut def) = found.get(&name).cloned() else {
                out.insert(name, None);
                continue;
            };
            match stores(database, table, &def) {
                Stores::In(_, tables) => next.extend(tables),
                Stores::MergeUnresolved { database, regexp, table_regexp } => {
                    let members = merge_members(c, &database, regexp, &table_regexp).await?;
                    if members.len() <= MAX_MERGE_MEMBERS {
                        next.extend(members.iter().cloned());
                        def.merge_members = Some(members);
                    }
                }
                Stores::Itself | Stores::Nowhere(_) | Stores::Unknown(_) => {}
            }
            out.insert(name, Some(def));
        }
        pending = next;
    }
    let present: Vec<&String> = out.iter().filter(|(_, d)| d.is_some()).map(|(n, _)| n).collect();
    let columns = column_types(c, &present).await?;
    for (name, types) in columns {
        if let Some(Some(def)) = out.get_mut(&name) {
            def.columns = types;
        }
    }
    Ok(out)
}

/// Which of the newer `system.tables` columns this server has: `uuid` (20.x) names an inner
/// table in an Atomic database, `target_table` (24.x) names it outright.
struct NewerColumns {
    uuid: bool,
    target: bool,
}

async fn table_columns(c: &Client) -> Result<NewerColumns, Error> {
    let names = c
        .query(
            "SELECT toString(name) FROM system.columns WHERE database = 'system' AND table = 'tables' \
             AND name IN ('uuid', 'target_table')",
        )
        .fetch_all::<String>()
        .await?;
    Ok(NewerColumns { uuid: names.iter().any(|n| n == "uuid"), target: names.iter().any(|n| n == "target_table") })
}

async fn table_rows(c: &Client, names: &[String], newer: &NewerColumns) -> Result<BTreeMap<String, TableDef>, Error> {
    let split: Vec<(&str, &str)> = names.iter().filter_map(|n| n.split_once('.')).collect();
    if split.is_empty() {
        return Ok(BTreeMap::new());
    }
    let uuid = if newer.uuid { "toString(uuid)" } else { "''" };
    let target = if newer.target {
        "if(target_table = '', '', concat(toString(target_database), '.', toString(target_table)))"
    } else {
        "''"
    };
    let sql = format!(
        "SELECT toString(database) AS database, toString(name) AS name, toString(engine) AS engine, \
         toString(engine_full) AS engine_full, toString(create_table_query) AS create_query, \
         arrayMap(x -> toString(x), dependencies_database) AS dependencies_database, \
         arrayMap(x -> toString(x), dependencies_table) AS dependencies_table, {uuid} AS uuid, {target} AS target \
         FROM system.tables WHERE database IN ? AND name IN ?"
    );
    let rows = c
        .query(&sql)
        .bind(InList(split.iter().map(|(d, _)| *d).collect()))
        .bind(InList(split.iter().map(|(_, t)| *t).collect()))
        .fetch_all::<TableRow>()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let dependents =
                r.dependencies_database.iter().zip(&r.dependencies_table).map(|(d, t)| format!("{d}.{t}")).collect();
            let def = TableDef {
                engine: r.engine,
                engine_full: r.engine_full,
                create_query: r.create_query,
                dependents,
                target: (!r.target.is_empty()).then_some(r.target),
                uuid: (!r.uuid.is_empty()).then_some(r.uuid),
                merge_members: None,
                columns: BTreeMap::new(),
            };
            (format!("{}.{}", r.database, r.name), def)
        })
        .collect())
}

#[derive(Row, Deserialize)]
struct NameRow {
    database: String,
    name: String,
}

/// The tables a Merge table selects, by the server's own regular expressions.
async fn merge_members(c: &Client, database: &str, regexp: bool, table_regexp: &str) -> Result<Vec<String>, Error> {
    let db_filter = if regexp { "match(database, ?)" } else { "database = ?" };
    let sql = format!(
        "SELECT toString(database) AS database, toString(name) AS name FROM system.tables \
         WHERE {db_filter} AND match(name, ?) ORDER BY database, name LIMIT {}",
        MAX_MERGE_MEMBERS + 1
    );
    let rows = c.query(&sql).bind(database).bind(table_regexp).fetch_all::<NameRow>().await?;
    Ok(rows.into_iter().map(|r| format!("{}.{}", r.database, r.name)).collect())
}

#[derive(Row, Deserialize)]
struct ColumnRow {
    database: String,
    table: String,
    name: String,
    ty: String,
}

/// Column types of the tables, by `database.table`: what a plain number in a TTL counts.
async fn column_types(c: &Client, names: &[&String]) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
    let split: Vec<(&str, &str)> = names.iter().filter_map(|n| n.split_once('.')).collect();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if split.is_empty() {
        return Ok(out);
    }
    let rows = c
        .query(
            "SELECT toString(database) AS database, toString(table) AS table, toString(name) AS name, \
             toString(type) AS ty FROM system.columns WHERE database IN ? AND table IN ?",
        )
        .bind(InList(split.iter().map(|(d, _)| *d).collect()))
        .bind(InList(split.iter().map(|(_, t)| *t).collect()))
        .fetch_all::<ColumnRow>()
        .await?;
    for r in rows {
        out.entry(format!("{}.{}", r.database, r.table)).or_default().insert(r.name, r.ty);
    }
    Ok(out)
}

#[derive(Row, Deserialize)]
struct QueryLogRow {
    largest: u64,
    finished: u64,
}

/// `type` is an Enum8 on current servers and a UInt8 on 18.x; 2 is QueryFinish on both.
pub async fn largest_result(c: &Client, window: Duration) -> Result<Option<u64>, Error> {
    let r = c
        .query(
            "SELECT toUInt64(max(result_bytes)) AS largest, toUInt64(count()) AS finished FROM system.query_log \
             WHERE toInt8(type) = 2 AND event_time >= now() - toIntervalSecond(?)",
        )
        .bind(window.as_secs())
        .fetch_one::<QueryLogRow>()
        .await?;
    Ok((r.finished > 0).then_some(r.largest))
}

#[derive(Row, Deserialize)]
struct BackupRow {
    status: String,
    at: u64,
}

pub async fn backups(c: &Client) -> Result<Backups, Error> {
    let rows = c
        .query(
            "SELECT toString(status) AS status, toUInt64(toUnixTimestamp(toDateTime(max(end_time)))) AS at \
             FROM system.backups WHERE toString(status) IN ('BACKUP_CREATED', 'RESTORED') GROUP BY status",
        )
        .fetch_all::<BackupRow>()
        .await?;
    let at = |status: &str| {
        rows.iter()
            .find(|r| r.status == status)
            .and_then(|r| DateTime::<Utc>::from_timestamp(i64::try_from(r.at).ok()?, 0))
    };
    Ok(Backups { last_backup: at("BACKUP_CREATED"), last_restore: at("RESTORED") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_refusals() {
        assert!(looks_like_version("26.9.1.1"));
        assert!(looks_like_version("18.16.1"));
        assert!(!looks_like_version("<html>"));
        assert!(!looks_like_version("26"));
        assert!(is_login_refusal(516) && is_login_refusal(193) && !is_login_refusal(60));
        assert!(is_unknown_format(&Error::BadResponse(
            "Code: 73, e.displayText() = DB::Exception: Unknown format RowBinaryWithNamesAndTypes".into()
        )));
        assert!(!is_unknown_format(&Error::BadResponse("Code: 60. DB::Exception: no table".into())));
    }
}
