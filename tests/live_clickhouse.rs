//! The ClickHouse source against real servers (tests/support/clickhouse/servers.sh): the
//! current engine (chdb behind the HTTP shim) and Debian's clickhouse-server 18.16. Disk
//! series against system.disks, TTL verdicts on real tables, the default-login probe, the
//! old-server fallbacks, and failures that must stay inside the ClickHouse items.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use infrasage_readiness::metrics;
use infrasage_readiness::outcome::Status;
use infrasage_readiness::results::Report;
use support::evaluate;

/// chdb, `default` locked; chdb, `default` open and clickhouse/clickhouse; 18.16 locked; 18.16 open.
const CHDB: u16 = 18123;
const CHDB_OPEN: u16 = 18125;
const OLD: u16 = 18124;
const OLD_OPEN: u16 = 18126;

/// Items that only ClickHouse can decide (or that need its data): they error with a reason
/// when the source fails.
const CH_ITEMS: [&str; 6] = [
    "clickhouse_credentials_not_default",
    "clickhouse_storage_headroom",
    "clickhouse_memory_limit",
    "retention_per_telemetry_type",
    "retention_meets_compliance",
    "audit_logging_retention",
];

struct Servers {
    state: PathBuf,
    password: String,
}

fn servers() -> Option<&'static Servers> {
    static S: OnceLock<Option<Servers>> = OnceLock::new();
    S.get_or_init(|| {
        let out = Command::new(support::repo("tests/support/clickhouse/servers.sh")).arg("start").output().unwrap();
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(
                std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(),
                "ClickHouse test servers did not start: {why}"
            );
            eprintln!("no ClickHouse test servers ({why}): live tests not run");
            return None;
        }
        let state = PathBuf::from(
            std::env::var("INFRASAGE_CH_STATE").unwrap_or_else(|_| "/tmp/infrasage-readiness-clickhouse".into()),
        );
        let password = std::fs::read_to_string(state.join("infrasage.pw")).unwrap();
        Some(Servers { state, password })
    })
    .as_ref()
}

/// One statement as the exporter's user, over plain HTTP: the answer body, or the error text.
fn sql(port: u16, password: &str, query: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-ClickHouse-User: infrasage\r\nX-ClickHouse-Key: {password}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{query}",
        query.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
        Ok(body)
    } else {
        Err(body)
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn run_sql(port: u16, query: &str) {
    let s = servers().unwrap();
    if let Err(e) = sql(port, &s.password, query) {
        panic!("{query}: {e}");
    }
}

/// The config for one server, Kubernetes from the passing manifests so other items decide.
fn config_for(port: u16, password_file: &Path, extra: &str) -> String {
    format!(
        "kubernetes: {{ manifests: [{}] }}\nclickhouse: {{ url: 'http://127.0.0.1:{port}', user: infrasage, password_file: {}, timeout: 10s }}\n{extra}",
        support::repo("tests/data/passing").display(),
        password_file.display()
    )
}

fn statuses(r: &Report) -> BTreeMap<String, (Status, String)> {
    r.checks.iter().map(|c| (c.id.clone(), (c.status, c.reason.clone().unwrap_or_default()))).collect()
}

fn item<'a>(r: &'a Report, id: &str) -> &'a infrasage_readiness::results::CheckReport {
    r.checks.iter().find(|c| c.id == id).unwrap()
}

fn pw_file(s: &Servers) -> PathBuf {
    s.state.join("infrasage.pw")
}

/// Every sample of a family in the exposition text, by its label text.
fn samples(text: &str, family: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series[family.len()..].to_string(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn disk_series_equal_system_disks() {
    let Some(s) = servers() else { return };
    let read = || -> BTreeMap<String, (u64, u64)> {
        sql(CHDB, &s.password, "SELECT name, total_space, free_space FROM system.disks FORMAT TSV")
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].to_string(), (f[1].parse().unwrap(), f[2].parse().unwrap()))
            })
            .collect()
    };
    run_sql(CHDB, "CREATE DATABASE IF NOT EXISTS disk_live");
    run_sql(CHDB, "CREATE TABLE IF NOT EXISTS disk_live.t (x UInt64) ENGINE = MergeTree ORDER BY x");
    run_sql(CHDB, "INSERT INTO disk_live.t SELECT number FROM numbers(1000)");
    run_sql(CHDB, "OPTIMIZE TABLE disk_live.t FINAL");
    let before = read();
    let r = support::evaluation(&config_for(CHDB, &pw_file(s), ""));
    let after = read();
    let text = metrics::render(&r);
    let total = samples(&text, "infrasage_clickhouse_disk_total_bytes");
    let free = samples(&text, "infrasage_clickhouse_disk_free_bytes");
    assert!(!before.is_empty());
    assert_eq!(total.len(), before.len(), "{text}");
    for (disk, (t0, f0)) in &before {
        let (t1, f1) = after[disk];
        let label = format!("{{disk=\"{disk}\"}}");
        assert_eq!(t0, &t1, "the disk's size changed under the test");
        assert_eq!(total[&label], *t0 as f64, "total of {disk}");
        // The filesystem is the machine's: other writers move free space between the reads
        // (and back), so the bound is the two reads widened by a little.
        const SLACK: u64 = 256 << 20;
        let (lo, hi) = (f0.min(&f1).saturating_sub(SLACK), f0.max(&f1) + SLACK);
        assert!((lo as f64..=hi as f64).contains(&free[&label]), "free of {disk}: {} not in {lo}..={hi}", free[&label]);
    }
    // Only this test writes disk_live, so its active parts are the same before and after the
    // collection (other tests write their own databases meanwhile).
    let per_db = samples(&text, "infrasage_clickhouse_database_data_bytes");
    let parts: f64 = sql(
        CHDB,
        &s.password,
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = 'disk_live' FORMAT TSV",
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert!(parts > 0.0);
    assert_eq!(per_db["{database=\"disk_live\"}"], parts, "{text}");
    assert!(samples(&text, "infrasage_clickhouse_data_bytes")[""] >= parts);
    let version = sql(CHDB, &s.password, "SELECT version() FORMAT TSV").unwrap();
    assert!(text.contains(&format!("infrasage_clickhouse_server_info{{version=\"{}\"}} 1", version.trim())), "{text}");
    assert!(text.contains("infrasage_readiness_source_up{source=\"clickhouse\"} 1"), "{text}");
    let headroom = item(&r, "clickhouse_storage_headroom");
    assert!(matches!(headroom.status, Status::Pass | Status::Fail), "{headroom:?}");
}

#[test]
fn old_server_falls_back_and_says_what_it_lacks() {
    let Some(s) = servers() else { return };
    run_sql(OLD, "SELECT number FROM system.numbers LIMIT 100000 FORMAT Null");
    run_sql(OLD, "SELECT * FROM system.numbers LIMIT 50000");
    run_sql(OLD, "SYSTEM FLUSH LOGS");
    let r = support::evaluation(&config_for(OLD, &pw_file(s), ""));
    let text = metrics::render(&r);
    assert!(text.contains("infrasage_clickhouse_server_info{version=\"18.16.1\"} 1"), "{text}");
    assert!(!text.contains("infrasage_clickhouse_disk_"), "no system.disks, no disk series: {text}");
    assert!(text.contains("infrasage_clickhouse_data_bytes "), "{text}");
    let src = r.sources.iter().find(|s| s.source == "clickhouse").unwrap();
    assert_eq!(src.state, "ok", "{src:?}");
    assert!(src.warnings.iter().any(|w| w.contains("without type validation")), "{src:?}");
    // The passing manifests give PVC requests, so headroom still decides; without them it cannot.
    let h = item(&r, "clickhouse_storage_headroom");
    assert_eq!(h.status, Status::Pass, "{h:?}");
    let alone = format!(
        "clickhouse: {{ url: 'http://127.0.0.1:{OLD}', user: infrasage, password_file: {} }}\n",
        pw_file(s).display()
    );
    let r2 = evaluate(&alone);
    let h = item(&r2, "clickhouse_storage_headroom");
    assert_eq!((h.status, h.reason.as_deref()), (Status::Error, Some("server too old: no system.disks")));
    // 18.16 keeps a query log: the memory item reads the largest result from it.
    let m = item(&r, "clickhouse_memory_limit");
    assert_eq!(m.status, Status::Pass, "{m:?}");
    assert!(m.reason.as_deref().unwrap().contains("(system.query_log, 7days)"), "{m:?}");
    // No system.backups there: the restore item says so.
    let restore = item(&r, "backup_restore_tested");
    assert!(restore.reason.as_deref().unwrap().contains("has no system.backups"), "{restore:?}");
}

#[test]
fn current_engine_without_query_log_skips_the_memory_item() {
    let Some(s) = servers() else { return };
    let r = evaluate(&config_for(CHDB, &pw_file(s), ""));
    let m = item(&r, "clickhouse_memory_limit");
    assert_eq!(m.status, Status::Skipped, "{m:?}");
    assert!(m.reason.as_deref().unwrap().contains("no system.query_log"), "{m:?}");
}

#[test]
fn ttl_tables_decide_both_retention_items() {
    let Some(s) = servers() else { return };
    for q in [
        "DROP DATABASE IF EXISTS ttl_live",
        "CREATE DATABASE ttl_live",
        // At the obligation, written both ways ClickHouse accepts.
        "CREATE TABLE ttl_live.metrics (ts DateTime, v Float64) ENGINE = MergeTree ORDER BY ts TTL ts + toIntervalDay(30)",
        // Shorter than the 30-day obligation.
        "CREATE TABLE ttl_live.logs (ts DateTime, line String) ENGINE = MergeTree ORDER BY ts TTL ts + INTERVAL 7 DAY",
        // No TTL at all.
        "CREATE TABLE ttl_live.traces (ts DateTime, span String) ENGINE = MergeTree ORDER BY ts",
        // Several clauses, the first deletion after 400 days: longer than 365.
        "CREATE TABLE ttl_live.events (ts DateTime, level String) ENGINE = MergeTree ORDER BY ts \
         TTL ts + INTERVAL 400 DAY DELETE WHERE level = 'debug', ts + toIntervalYear(2)",
        // A TTL no reader can turn into a duration.
        "CREATE TABLE ttl_live.audit (ts DateTime, days UInt32) ENGINE = MergeTree ORDER BY ts TTL ts + toIntervalDay(days)",
        "INSERT INTO ttl_live.metrics VALUES (now(), 1)",
    ] {
        run_sql(CHDB, q);
    }
    let tables = r#"{ metrics: ttl_live.metrics, logs: ttl_live.logs, traces: ttl_live.traces, events: ttl_live.events, profiles: ttl_live.profiles }"#;
    let extra = format!(
        "checks:\n  retention_per_telemetry_type: {{ params: {{ tables: {tables} }} }}\n  retention_meets_compliance: {{ params: {{ tables: {tables}, obligations: {{ metrics: 30d, logs: 30d, traces: 7d, events: 365d, profiles: 7d }} }} }}\n  audit_logging_retention: {{ params: {{ audit_table: ttl_live.audit }} }}\n"
    );
    let r = evaluate(&config_for(CHDB, &pw_file(s), &extra));
    let per = item(&r, "retention_per_telemetry_type");
    assert_eq!(per.status, Status::Fail, "{per:?}");
    let got: Vec<(&str, &str)> = per.findings.iter().map(|f| (f.object.as_str(), f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                "ClickHouse table ttl_live.profiles",
                "the profiles table does not exist, or the exporter's user may not see it (SHOW TABLES)"
            ),
            ("ClickHouse table ttl_live.traces", "the traces table has no TTL"),
        ]
    );
    let comp = item(&r, "retention_meets_compliance");
    assert_eq!(comp.status, Status::Fail, "{comp:?}");
    let got: Vec<(&str, &str)> = comp.findings.iter().map(|f| (f.object.as_str(), f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                "ClickHouse table ttl_live.logs",
                "the logs table keeps rows 7d (TTL ts + toIntervalDay(7)), less than the 30d obligation"
            ),
            (
                "ClickHouse table ttl_live.profiles",
                "the profiles table does not exist, or the exporter's user may not see it (SHOW TABLES)"
            ),
        ]
    );
    let audit = item(&r, "audit_logging_retention");
    assert_eq!(audit.status, Status::Fail, "{audit:?}");
    assert_eq!(audit.findings[0].message, "cannot read the TTL clause \"ts + toIntervalDay(days)\"");
}

/// The retention config for `kinds` (telemetry type → table), every obligation `obligation`.
fn retention_config(port: u16, s: &Servers, kinds: &[(&str, &str)], obligation: &str) -> String {
    let tables: Vec<String> = kinds.iter().map(|(k, t)| format!("{k}: {t}")).collect();
    let obligations: Vec<String> = kinds.iter().map(|(k, _)| format!("{k}: {obligation}")).collect();
    let extra = format!(
        "checks:\n  retention_per_telemetry_type: {{ params: {{ tables: {{ {t} }} }} }}\n  retention_meets_compliance: {{ params: {{ tables: {{ {t} }}, obligations: {{ {o} }}, columns: {{ logs: body }} }} }}\n",
        t = tables.join(", "),
        o = obligations.join(", ")
    );
    config_for(port, &pw_file(s), &extra)
}

/// Findings of an item by the table they name, messages joined.
fn by_table(r: &Report, id: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for f in &item(r, id).findings {
        let e = out.entry(f.object.trim_start_matches("ClickHouse table ").to_string()).or_default();
        if !e.is_empty() {
            e.push_str(" | ");
        }
        e.push_str(&f.message);
    }
    out
}

#[test]
fn retention_is_read_from_the_tables_that_store_the_rows_on_the_current_engine() {
    let Some(s) = servers() else { return };
    for q in [
        "DROP DATABASE IF EXISTS rp",
        "CREATE DATABASE rp",
        "CREATE TABLE rp.local (ts DateTime, body String, level String) ENGINE = MergeTree ORDER BY ts TTL ts + INTERVAL 1 DAY",
        "CREATE TABLE rp.buffered AS rp.local ENGINE = Buffer(rp, local, 16, 10, 100, 10000, 1000000, 10000000, 100000000)",
        "CREATE TABLE rp.merged AS rp.local ENGINE = Merge(rp, '^loc')",
        "CREATE VIEW rp.viewed AS SELECT * FROM rp.local WHERE level != 'debug'",
        "CREATE MATERIALIZED VIEW rp.mv_to TO rp.local AS SELECT * FROM rp.merged",
        "CREATE MATERIALIZED VIEW rp.mv_inner ENGINE = MergeTree ORDER BY ts TTL ts + INTERVAL 30 DAY AS SELECT ts, level FROM rp.local",
        "CREATE TABLE rp.ingest (ts DateTime, body String, level String) ENGINE = Null",
        "CREATE TABLE rp.kept (ts DateTime, body String TTL ts + INTERVAL 1 DAY, level String) ENGINE = MergeTree ORDER BY ts TTL ts + toIntervalMonth(12)",
        "CREATE MATERIALIZED VIEW rp.from_ingest TO rp.kept AS SELECT * FROM rp.ingest",
        "CREATE TABLE rp.rollup (ts DateTime, k UInt32, v Float64) ENGINE = MergeTree ORDER BY (k, toStartOfDay(ts), ts) \
         TTL ts + INTERVAL 30 DAY GROUP BY k, toStartOfDay(ts) SET v = sum(v), ts + INTERVAL 400 DAY DELETE",
        "CREATE TABLE rp.rollup_set (ts DateTime, k UInt32, v Float64) ENGINE = MergeTree ORDER BY (k, ts) \
         TTL ts + INTERVAL 30 DAY GROUP BY k SET v = sum(v), ts = max(ts)",
        "CREATE TABLE rp.seconds (ts DateTime) ENGINE = MergeTree ORDER BY ts TTL ts + 604800",
        "CREATE TABLE rp.days (d Date) ENGINE = MergeTree ORDER BY d TTL d + 30",
        "CREATE TABLE rp.debug (ts DateTime, level String) ENGINE = MergeTree ORDER BY ts TTL ts + INTERVAL 1 YEAR DELETE WHERE level = 'debug'",
    ] {
        run_sql(CHDB, q);
    }
    let kinds = [
        ("buffer", "rp.buffered"),
        ("merge", "rp.merged"),
        ("view", "rp.viewed"),
        ("mv_to", "rp.mv_to"),
        ("mv_inner", "rp.mv_inner"),
        ("logs", "rp.ingest"),
        ("rollup", "rp.rollup"),
        ("rollup_set", "rp.rollup_set"),
        ("seconds", "rp.seconds"),
        ("days", "rp.days"),
        ("debug", "rp.debug"),
    ];
    let r = evaluate(&retention_config(CHDB, s, &kinds, "7d"));
    let per = by_table(&r, "retention_per_telemetry_type");
    let comp = by_table(&r, "retention_meets_compliance");
    let short = |kind: &str, chain: &str| {
        format!("the {kind} table keeps rows 1d (TTL ts + toIntervalDay(1)), less than the 7d obligation (rows stored in {chain})")
    };
    assert_eq!(comp["rp.buffered"], short("buffer", "rp.buffered → Buffer → rp.local"));
    assert_eq!(comp["rp.merged"], short("merge", "rp.merged → Merge → rp.local"));
    assert_eq!(comp["rp.viewed"], short("view", "rp.viewed → View → rp.local"));
    assert_eq!(comp["rp.mv_to"], short("mv_to", "rp.mv_to → MaterializedView → rp.local"));
    assert!(!comp.contains_key("rp.mv_inner"), "the inner table keeps rows 30d: {comp:?}");
    assert_eq!(
        comp["rp.ingest"],
        "column body is wiped after 1d (TTL ts + toIntervalDay(1)), less than the 7d obligation (rows stored in rp.ingest → Null, read by materialized views → rp.from_ingest → MaterializedView → rp.kept)"
    );
    for fine in ["rp.rollup", "rp.rollup_set", "rp.seconds", "rp.days", "rp.debug"] {
        assert!(!comp.contains_key(fine), "{fine}: {comp:?}");
    }
    // The per-type item: every one of them has a TTL, except the table that deletes only debug rows.
    assert_eq!(per.keys().collect::<Vec<_>>(), ["rp.debug"], "{per:?}");
    assert!(per["rp.debug"]
        .contains("deletes only some rows (rows matching level = 'debug' go after 1y); other rows are kept"));
    assert_eq!(item(&r, "retention_per_telemetry_type").status, Status::Fail);
    let comp_item = item(&r, "retention_meets_compliance");
    assert_eq!(comp_item.status, Status::Fail);

    // Against a year, 12 calendar months pass and 400 days of rollups pass; 30-day rollups do not.
    let kinds = [("logs", "rp.kept"), ("rollup", "rp.rollup"), ("rollup_set", "rp.rollup_set")];
    let r = evaluate(&retention_config(CHDB, s, &kinds, "1y").replace("columns: { logs: body }", "columns: {}"));
    let comp = by_table(&r, "retention_meets_compliance");
    assert!(!comp.contains_key("rp.kept"), "{comp:?}");
    assert!(
        comp["rp.rollup"].starts_with("the rollup table rolls rows up (GROUP BY k, toStartOfDay(ts)) after 30d"),
        "{comp:?}"
    );
    assert!(comp["rp.rollup_set"].starts_with("the rollup_set table rolls rows up (GROUP BY k) after 30d"), "{comp:?}");
}

#[test]
fn retention_follows_the_old_servers_views_buffers_and_distributed_tables() {
    let Some(s) = servers() else { return };
    for q in [
        "DROP DATABASE IF EXISTS rp_old",
        "CREATE DATABASE rp_old",
        "CREATE TABLE rp_old.local (ts DateTime, level String) ENGINE = MergeTree ORDER BY ts",
        "CREATE TABLE rp_old.buffered AS rp_old.local ENGINE = Buffer(rp_old, local, 16, 10, 100, 10000, 1000000, 10000000, 100000000)",
        "CREATE TABLE rp_old.merged AS rp_old.local ENGINE = Merge(rp_old, '^loc')",
        "CREATE VIEW rp_old.viewed AS SELECT * FROM rp_old.local",
        "CREATE MATERIALIZED VIEW rp_old.mv_inner ENGINE = MergeTree ORDER BY ts AS SELECT ts, level FROM rp_old.local",
        "CREATE TABLE rp_old.dist AS rp_old.local ENGINE = Distributed(loopback, rp_old, local, rand())",
        "CREATE TABLE rp_old.nowhere (ts DateTime) ENGINE = Null",
    ] {
        run_sql(OLD, q);
    }
    let kinds = [
        ("buffer", "rp_old.buffered"),
        ("merge", "rp_old.merged"),
        ("view", "rp_old.viewed"),
        ("mv_inner", "rp_old.mv_inner"),
        ("dist", "rp_old.dist"),
        ("discarded", "rp_old.nowhere"),
    ];
    let r = evaluate(&retention_config(OLD, s, &kinds, "7d"));
    let per = by_table(&r, "retention_per_telemetry_type");
    assert_eq!(
        per["rp_old.buffered"],
        "the buffer table has no TTL (rows stored in rp_old.buffered → Buffer → rp_old.local)"
    );
    assert_eq!(
        per["rp_old.merged"],
        "the merge table has no TTL (rows stored in rp_old.merged → Merge → rp_old.local)"
    );
    assert_eq!(per["rp_old.viewed"], "the view table has no TTL (rows stored in rp_old.viewed → View → rp_old.local)");
    assert_eq!(
        per["rp_old.mv_inner"],
        "the mv_inner table has no TTL (rows stored in rp_old.mv_inner → MaterializedView → rp_old..inner.mv_inner)"
    );
    assert_eq!(
        per["rp_old.dist"],
        "the dist table has no TTL (rows stored in rp_old.dist → Distributed on cluster loopback, local table on this server → rp_old.local)"
    );
    assert_eq!(
        per["rp_old.nowhere"],
        "the discarded table is a Null table without materialized views: rows are not stored"
    );
    let comp = by_table(&r, "retention_meets_compliance");
    assert_eq!(comp.keys().collect::<Vec<_>>(), ["rp_old.nowhere"], "{comp:?}");
}

#[test]
fn default_logins_on_both_servers() {
    let Some(s) = servers() else { return };
    for (port, want, accepted) in [
        (CHDB, Status::Pass, vec![]),
        (CHDB_OPEN, Status::Fail, vec!["ClickHouse login clickhouse", "ClickHouse login default"]),
        (OLD, Status::Pass, vec![]),
        (OLD_OPEN, Status::Fail, vec!["ClickHouse login clickhouse", "ClickHouse login default"]),
    ] {
        let r = evaluate(&config_for(port, &pw_file(s), ""));
        let c = item(&r, "clickhouse_credentials_not_default");
        assert_eq!(c.status, want, "{port}: {c:?}");
        let objects: Vec<&str> = c.findings.iter().map(|f| f.object.as_str()).collect();
        assert_eq!(objects, accepted, "{port}");
    }
}

#[test]
fn system_backups_is_read_and_failed_backups_do_not_count() {
    let Some(s) = servers() else { return };
    run_sql(CHDB, "CREATE DATABASE IF NOT EXISTS backup_live");
    run_sql(CHDB, "CREATE TABLE IF NOT EXISTS backup_live.t (x UInt8) ENGINE = MergeTree ORDER BY x");
    // This server has no backup destination configured: the attempt is recorded as failed.
    assert!(sql(CHDB, &s.password, "BACKUP TABLE backup_live.t TO Disk('default', 'b.zip')").is_err());
    let failed = sql(CHDB, &s.password, "SELECT count() FROM system.backups WHERE status = 'BACKUP_FAILED' FORMAT TSV");
    assert_ne!(failed.unwrap().trim(), "0");
    let alone = format!(
        "clickhouse: {{ url: 'http://127.0.0.1:{CHDB}', user: infrasage, password_file: {} }}\n",
        pw_file(s).display()
    );
    let r = evaluate(&alone);
    let b = item(&r, "clickhouse_backup_scheduled");
    assert_eq!(b.status, Status::Fail, "{b:?}");
    assert_eq!(b.findings.last().unwrap().message, "no successful BACKUP on record");
    let restore = item(&r, "backup_restore_tested");
    assert!(restore.reason.as_deref().unwrap().ends_with("no successful RESTORE in system.backups"), "{restore:?}");
}

/// A proxy in front of a dead upstream: every request gets an HTML page with this status
/// ("502 Bad Gateway", or "200 OK" as a login portal would).
fn html_proxy(status: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn failures_stay_inside_the_clickhouse_items_and_never_show_a_password() {
    let Some(s) = servers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wrong_pw = "wrong-pw-Zq81";
    let wrong = dir.path().join("wrong.pw");
    std::fs::write(&wrong, wrong_pw).unwrap();
    let baseline = statuses(&evaluate(&format!(
        "kubernetes: {{ manifests: [{}] }}\n",
        support::repo("tests/data/passing").display()
    )));
    let down = support::free_port();
    let proxy = html_proxy("502 Bad Gateway");
    let portal = html_proxy("200 OK");
    for (name, port, pw, expect) in [
        ("server down", down, pw_file(s), "Connection refused"),
        ("wrong password", CHDB, wrong.clone(), "516"),
        ("wrong password, 18.16", OLD, wrong.clone(), "193"),
        ("HTML page", proxy, pw_file(s), "answer is not ClickHouse's: <html> <head><title>502 Bad Gateway"),
        ("HTML page with 200", portal, pw_file(s), "answer is not ClickHouse's"),
    ] {
        let r = support::evaluation(&config_for(port, &pw, ""));
        let src = r.sources.iter().find(|s| s.source == "clickhouse").unwrap();
        assert_eq!(src.state, "failed", "{name}: {src:?}");
        for id in CH_ITEMS {
            let c = item(&r, id);
            assert_eq!(c.status, Status::Error, "{name}: {id}: {c:?}");
            assert!(c.reason.as_deref().unwrap().contains(expect), "{name}: {id}: {:?}", c.reason);
        }
        for (id, (status, _)) in statuses(&r) {
            let sources = &infrasage_readiness::catalogue::find(&id).unwrap().sources;
            if !sources.contains(&infrasage_readiness::catalogue::SourceId::Clickhouse) {
                assert_eq!(status, baseline[&id].0, "{name}: {id} changed");
            }
        }
        let json = serde_json::to_string(&r.checks).unwrap() + &format!("{:?}", r.sources) + &metrics::render(&r);
        for secret in [wrong_pw, s.password.as_str()] {
            assert!(!json.contains(secret), "{name}: a password reached the output");
        }
    }
}

#[test]
fn the_binary_never_prints_a_password() {
    let Some(s) = servers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wrong_pw = "wrong-pw-Xv55";
    std::fs::write(dir.path().join("wrong.pw"), wrong_pw).unwrap();
    for (port, pw) in [(CHDB, pw_file(s)), (OLD, dir.path().join("wrong.pw")), (CHDB_OPEN, pw_file(s))] {
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, config_for(port, &pw, "")).unwrap();
        for output in ["json", "table"] {
            let o = support::bin()
                .args(["check", "--config", cfg.to_str().unwrap(), "--output", output])
                .env("RUST_LOG", "debug")
                .output()
                .unwrap();
            let all = support::stdout(&o) + &support::stderr(&o);
            assert!(all.contains("clickhouse_credentials_not_default"), "{all}");
            for secret in [wrong_pw, s.password.as_str(), "default-pw-3Kd2"] {
                assert!(!all.contains(secret), "port {port} {output}: a password reached the output");
            }
        }
    }
}

#[test]
fn https_with_the_ca_bundle_and_without_it() {
    let Some(s) = servers() else { return };
    let ca = s.state.join("tls/ca.crt");
    let base = format!(
        "clickhouse: {{ url: 'https://127.0.0.1:18443', user: infrasage, password_file: {}",
        pw_file(s).display()
    );
    let r = support::evaluation(&format!("{base}, tls: {{ ca_file: {} }} }}\n", ca.display()));
    let src = r.sources.iter().find(|s| s.source == "clickhouse").unwrap();
    assert_eq!(src.state, "ok", "{src:?}");
    assert!(metrics::render(&r).contains("infrasage_clickhouse_server_info{version=\"18.16.1\"} 1"));
    assert_eq!(item(&r, "clickhouse_credentials_not_default").status, Status::Pass);
    // The system roots do not know the test CA: every ClickHouse item says why.
    let r = evaluate(&format!("{base} }}\n"));
    let c = item(&r, "retention_per_telemetry_type");
    assert_eq!(c.status, Status::Error, "{c:?}");
    assert!(c.reason.as_deref().unwrap().contains("UnknownIssuer"), "{c:?}");
}
