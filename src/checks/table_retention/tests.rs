use serde_json::json;

use crate::fixtures::{clickhouse_only, clickhouse_snapshot, run_on_snapshot as run};
use crate::outcome::Status;
use crate::snapshot::clickhouse::TableDef;
use crate::snapshot::ClickhouseSnapshot;

fn merge_tree(engine_full: &str) -> Option<TableDef> {
    Some(TableDef {
        engine: "MergeTree".into(),
        engine_full: engine_full.into(),
        columns: [("ts".to_string(), "DateTime".to_string())].into_iter().collect(),
        ..Default::default()
    })
}

fn with_table(table: &str, engine_full: Option<&str>) -> ClickhouseSnapshot {
    let mut ch = clickhouse_snapshot();
    ch.tables.insert(table.to_string(), engine_full.and_then(merge_tree));
    ch
}

fn messages(o: &crate::outcome::Outcome) -> Vec<(&str, &str)> {
    o.findings.iter().map(|f| (f.object.as_str(), f.message.as_str())).collect()
}

#[test]
fn the_good_tables_pass_both() {
    let s = clickhouse_only(clickhouse_snapshot());
    let o = run("retention_per_telemetry_type", &s, &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert_eq!(
        o.reason.as_deref(),
        Some(
            "every telemetry table has a TTL: events deleted after 365d, logs deleted after 30d, metrics deleted \
             after 30d, traces deleted after 7d"
        )
    );
    let o = run("retention_meets_compliance", &s, &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert_eq!(o.reason.as_deref(), Some("events 365d ≥ 365d, logs 30d ≥ 30d, metrics 30d ≥ 30d, traces 7d ≥ 7d"));
}

#[test]
fn missing_table_and_missing_ttl_are_findings() {
    let mut ch = with_table("infrasage.logs", Some("MergeTree ORDER BY ts SETTINGS index_granularity = 8192"));
    ch.tables.insert("infrasage.events".into(), None);
    let o = run("retention_per_telemetry_type", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        messages(&o),
        [
            (
                "ClickHouse table infrasage.events",
                "the events table does not exist, or the exporter's user may not see it (SHOW TABLES)"
            ),
            ("ClickHouse table infrasage.logs", "the logs table has no TTL"),
        ]
    );
    // No TTL keeps rows forever: that meets any minimum; the missing table does not.
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[]);
    assert_eq!(o.findings.len(), 1, "{o:?}");
    assert!(o.findings[0].message.starts_with("the events table does not exist"));
}

#[test]
fn shorter_than_the_obligation_fails_longer_passes() {
    let ch = with_table("infrasage.logs", Some("MergeTree ORDER BY ts TTL ts + INTERVAL 14 DAY"));
    let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        messages(&o),
        [(
            "ClickHouse table infrasage.logs",
            "the logs table keeps rows 14d (TTL ts + INTERVAL 14 DAY), less than the 30d obligation"
        )]
    );
    let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[("obligations", json!({"logs": "14d"}))]);
    assert_eq!((o.status, o.reason.as_deref()), (Status::Pass, Some("logs 14d ≥ 14d")));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("obligations", json!({"profiles": "7d"}))]);
    assert_eq!(o.findings[0].object, "telemetry type profiles");
}

#[test]
fn calendar_months_meet_calendar_obligations() {
    let ch = with_table("infrasage.events", Some("MergeTree ORDER BY ts TTL ts + toIntervalMonth(12)"));
    for obligation in ["1y", "365d", "12months"] {
        let o = run(
            "retention_meets_compliance",
            &clickhouse_only(ch.clone()),
            &[("obligations", json!({ "events": obligation }))],
        );
        assert_eq!(o.status, Status::Pass, "{obligation}: {o:?}");
    }
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("obligations", json!({"events": "366d"}))]);
    assert_eq!(o.status, Status::Fail);
    // 365 days is short of a calendar year that holds a 29 February.
    let ch = with_table("infrasage.events", Some("MergeTree ORDER BY ts TTL ts + toIntervalDay(365)"));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("obligations", json!({"events": "1y"}))]);
    assert_eq!(
        o.findings[0].message,
        "the events table keeps rows 365d (TTL ts + toIntervalDay(365)), less than the 1y obligation"
    );
}

#[test]
fn rollups_are_read_and_count_as_the_end_of_raw_rows() {
    let ttl = "MergeTree ORDER BY (k, ts) TTL ts + toIntervalDay(30) GROUP BY k, toStartOfDay(ts) SET v = sum(v), ts + toIntervalDay(400) SETTINGS index_granularity = 8192";
    let ch = with_table("infrasage.metrics", Some(ttl));
    let o = run("retention_per_telemetry_type", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert!(o.reason.unwrap().contains("metrics rolled up (GROUP BY k, toStartOfDay(ts)) after 30d"));
    let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert!(o.reason.unwrap().contains("metrics rolled up after 30d ≥ 30d"));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("obligations", json!({"metrics": "90d"}))]);
    assert!(
        o.findings[0].message.starts_with("the metrics table rolls rows up (GROUP BY k, toStartOfDay(ts)) after 30d"),
        "{o:?}"
    );
}

#[test]
fn a_conditional_delete_counts_only_for_its_rows() {
    let ch =
        with_table("infrasage.events", Some("MergeTree ORDER BY ts TTL ts + toIntervalYear(1) WHERE level = 'debug'"));
    let o = run("retention_per_telemetry_type", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        o.findings[0].message,
        "the events table's TTL \"ts + toIntervalYear(1) WHERE level = 'debug'\" deletes only some rows (rows matching \
         level = 'debug' go after 1y); other rows are kept"
    );
    let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
    assert_eq!(
        o.reason.as_deref().map(|r| r.contains("events kept indefinitely; rows matching level = 'debug' go after 1y")),
        Some(true),
        "{o:?}"
    );
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("obligations", json!({"events": "2y"}))]);
    assert!(o.findings[0].message.starts_with("rows matching level = 'debug' go after 1y"), "{o:?}");
}

#[test]
fn a_column_ttl_that_wipes_a_watched_column_sooner_fails() {
    let mut ch = clickhouse_snapshot();
    let mut def =
        merge_tree("MergeTree ORDER BY ts TTL ts + toIntervalDay(30) SETTINGS index_granularity = 8192").unwrap();
    def.create_query = "CREATE TABLE infrasage.logs (`ts` DateTime, `body` String TTL ts + toIntervalDay(1), `level` String TTL ts + toIntervalDay(2)) ENGINE = MergeTree ORDER BY ts TTL ts + toIntervalDay(30) SETTINGS index_granularity = 8192".into();
    ch.tables.insert("infrasage.logs".into(), Some(def));
    let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(
        messages(&o),
        [(
            "ClickHouse table infrasage.logs",
            "column body is wiped after 1d (TTL ts + toIntervalDay(1)), less than the 30d obligation"
        )]
    );
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[("columns", json!({}))]);
    assert_eq!(o.status, Status::Pass, "{o:?}");
}

fn proxy(engine: &str, engine_full: &str, create: &str) -> Option<TableDef> {
    Some(TableDef {
        engine: engine.into(),
        engine_full: engine_full.into(),
        create_query: create.into(),
        ..Default::default()
    })
}

/// A snapshot where infrasage.logs is `proxy` and infrasage.logs_local has a one-day TTL.
fn behind(proxy_def: Option<TableDef>) -> ClickhouseSnapshot {
    let mut ch = clickhouse_snapshot();
    ch.tables.insert("infrasage.logs".into(), proxy_def);
    ch.tables.insert("infrasage.logs_local".into(), merge_tree("MergeTree ORDER BY ts TTL ts + toIntervalDay(1)"));
    ch
}

#[test]
fn rows_behind_a_proxy_are_judged_by_the_table_that_stores_them() {
    for (def, how) in [
        (
            proxy("Buffer", "Buffer('infrasage', 'logs_local', 16, 10, 100, 10000, 1000000, 10000000, 100000000)", ""),
            "Buffer",
        ),
        (
            proxy("Merge", "Merge('infrasage', '^logs_')", "")
                .map(|d| TableDef { merge_members: Some(vec!["infrasage.logs_local".into()]), ..d }),
            "Merge",
        ),
        (proxy("View", "", "CREATE VIEW infrasage.logs (`ts` DateTime) AS SELECT * FROM infrasage.logs_local"), "View"),
        (
            proxy(
                "MaterializedView",
                "",
                "CREATE MATERIALIZED VIEW infrasage.logs TO infrasage.logs_local (`ts` DateTime) AS SELECT * FROM x.y",
            ),
            "MaterializedView",
        ),
        (
            proxy("Distributed", "Distributed('c', 'infrasage', 'logs_local', rand())", ""),
            "Distributed on cluster c, local table on this server",
        ),
    ] {
        let ch = behind(def);
        let o = run("retention_meets_compliance", &clickhouse_only(ch.clone()), &[]);
        assert_eq!(o.status, Status::Fail, "{how}: {o:?}");
        assert_eq!(
            o.findings[0].message,
            format!("the logs table keeps rows 1d (TTL ts + toIntervalDay(1)), less than the 30d obligation (rows stored in infrasage.logs → {how} → infrasage.logs_local)")
        );
        let o = run("retention_per_telemetry_type", &clickhouse_only(ch), &[]);
        assert_eq!(o.status, Status::Pass, "{how}: {o:?}");
        assert!(o.reason.unwrap().contains(&format!(
            "logs deleted after 1d (rows stored in infrasage.logs → {how} → infrasage.logs_local)"
        )));
    }
}

#[test]
fn a_null_table_hands_rows_to_its_views_and_the_shortest_copy_decides() {
    let mut ch = clickhouse_snapshot();
    ch.tables.insert(
        "infrasage.logs".into(),
        Some(TableDef {
            engine: "Null".into(),
            engine_full: "`Null`".into(),
            dependents: vec!["infrasage.mv_a".into(), "infrasage.mv_b".into()],
            ..Default::default()
        }),
    );
    for (mv, target) in [("mv_a", "a"), ("mv_b", "b")] {
        ch.tables.insert(
            format!("infrasage.{mv}"),
            proxy("MaterializedView", "", &format!("CREATE MATERIALIZED VIEW infrasage.{mv} TO infrasage.{target} (`ts` DateTime) AS SELECT * FROM infrasage.logs")),
        );
    }
    ch.tables.insert("infrasage.a".into(), merge_tree("MergeTree ORDER BY ts TTL ts + toIntervalDay(400)"));
    ch.tables.insert("infrasage.b".into(), merge_tree("MergeTree ORDER BY ts TTL ts + toIntervalDay(3)"));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[]);
    assert_eq!(o.findings.len(), 1, "{o:?}");
    assert!(o.findings[0].message.ends_with("(rows stored in infrasage.logs → Null, read by materialized views → infrasage.mv_b → MaterializedView → infrasage.b)"), "{o:?}");
}

#[test]
fn a_broken_trail_is_a_finding_never_a_pass() {
    // The Buffer's destination does not exist (or is hidden from the exporter).
    let mut ch =
        behind(proxy("Buffer", "Buffer('infrasage', 'gone', 16, 10, 100, 10000, 1000000, 10000000, 100000000)", ""));
    ch.tables.insert("infrasage.gone".into(), None);
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        o.findings[0].message,
        "infrasage.logs → Buffer → infrasage.gone: does not exist, or the exporter's user may not see it (SHOW TABLES)"
    );
    // A loop ends; an engine storing rows elsewhere is named.
    let ch = behind(proxy("Kafka", "Kafka('b:9092', 'logs', 'g', 'JSONEachRow')", ""));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.findings[0].message.starts_with("the logs table is a Kafka table"), "{o:?}");
    let ch = behind(proxy("Merge", "Merge('infrasage', '^logs')", ""));
    let o = run("retention_meets_compliance", &clickhouse_only(ch), &[]);
    assert_eq!(o.findings[0].message, "the logs table is a Merge table whose members were not read");
}

#[test]
fn an_unparsable_ttl_is_quoted_never_guessed() {
    let ch = with_table("infrasage.metrics", Some("MergeTree ORDER BY ts TTL ts + toIntervalDay(days_kept)"));
    for id in ["retention_per_telemetry_type", "retention_meets_compliance"] {
        let o = run(id, &clickhouse_only(ch.clone()), &[]);
        assert_eq!(o.status, Status::Fail, "{id}");
        assert_eq!(o.findings[0].message, "cannot read the TTL clause \"ts + toIntervalDay(days_kept)\"");
    }
}

#[test]
fn a_ttl_that_only_moves_rows_is_no_retention_policy() {
    let ch = with_table("infrasage.traces", Some("MergeTree ORDER BY ts TTL ts + toIntervalDay(1) TO VOLUME 'cold'"));
    let o = run("retention_per_telemetry_type", &clickhouse_only(ch.clone()), &[]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.findings[0].message.contains("never deletes rows"), "{o:?}");
    assert_eq!(run("retention_meets_compliance", &clickhouse_only(ch), &[]).status, Status::Pass);
}

#[test]
fn audit_half() {
    let day = std::time::Duration::from_secs(86_400);
    let ch = clickhouse_snapshot();
    assert_eq!(super::clickhouse_audit_retention(&ch, "infrasage.audit_log", 90 * day).status, Status::Pass);
    let o = super::clickhouse_audit_retention(&ch, "infrasage.audit_log", 180 * day);
    assert_eq!(o.findings[0].message, "audit rows are kept 90d (TTL ts + toIntervalDay(90)), less than 180d");
    let o = super::clickhouse_audit_retention(&ch, "infrasage.nope", 90 * day);
    assert_eq!(o.findings[0].message, "the audit table was not read");
    let ch =
        with_table("infrasage.audit_log", Some("MergeTree ORDER BY ts TTL ts + toIntervalDay(7) WHERE kind = 'read'"));
    let o = super::clickhouse_audit_retention(&ch, "infrasage.audit_log", 90 * day);
    assert!(o.findings[0].message.starts_with("audit rows matching kind = 'read' are kept 7d"), "{o:?}");
}
