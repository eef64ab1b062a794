//! Every `engine_full` TTL shape the live tests produce on the current engine (chdb 26.9), as
//! it prints them, plus the spellings users type into `CREATE TABLE`.

use super::*;

const DAY: u64 = 86_400;

fn datetime(name: &str) -> Option<String> {
    match name {
        "ts" => Some("DateTime".into()),
        "d" => Some("Date".into()),
        "nd" => Some("Nullable(Date)".into()),
        "t64" => Some("DateTime64(3)".into()),
        _ => None,
    }
}

fn clauses(ttl: &str) -> Vec<Clause> {
    parse(ttl, &datetime).unwrap_or_else(|e| panic!("{ttl}: cannot read {e}"))
}

fn after(ttl: &str) -> Vec<Span> {
    clauses(ttl).into_iter().map(|c| c.after).collect()
}

fn days(n: u64) -> Span {
    Span::secs(n * DAY)
}

#[test]
fn the_table_ttl_sits_between_ttl_and_settings() {
    let e =
        "MergeTree PARTITION BY toYYYYMM(ts) ORDER BY ts TTL ts + toIntervalDay(30) SETTINGS index_granularity = 8192";
    assert_eq!(table_ttl(e), Some("ts + toIntervalDay(30)"));
    assert_eq!(table_ttl("MergeTree ORDER BY (ttl_col, ts) SETTINGS index_granularity = 8192"), None);
    assert_eq!(table_ttl("MergeTree ORDER BY (ttl, ts) SETTINGS index_granularity = 8192"), None);
    assert_eq!(table_ttl("MergeTree ORDER BY ts TTL ts + INTERVAL 1 YEAR"), Some("ts + INTERVAL 1 YEAR"));
    assert_eq!(table_ttl(""), None);
}

#[test]
fn interval_spellings() {
    assert_eq!(after("ts + toIntervalDay(30)"), [days(30)]);
    assert_eq!(after("ts + INTERVAL 30 DAY"), [days(30)]);
    assert_eq!(after("ts + interval 2 weeks"), [days(14)]);
    assert_eq!(after("ts + INTERVAL '3 days'"), [days(3)]);
    assert_eq!(after("toDateTime(ts) + toIntervalMonth(1)"), [Span::months(1)]);
    assert_eq!(after("ts + toIntervalYear(1)"), [Span::months(12)]);
    assert_eq!(after("ts + toIntervalQuarter(1)"), [Span::months(3)]);
    assert_eq!(after("ts + toIntervalMonth(12)"), [Span::months(12)]);
    assert_eq!(after("ts + toIntervalDay(1) + toIntervalHour(48)"), [days(3)]);
    // How the server prints `ts + INTERVAL 1 DAY + INTERVAL 2 HOUR`.
    assert_eq!(after("(ts + toIntervalDay(1)) + toIntervalHour(2)"), [Span::secs(DAY + 7200)]);
    assert_eq!(after("ts + toIntervalHour(12)"), [Span::secs(12 * 3600)]);
}

#[test]
fn a_plain_number_is_seconds_on_a_datetime_and_days_on_a_date() {
    assert_eq!(after("ts + 604800"), [days(7)]);
    assert_eq!(after("d + 30"), [days(30)]);
    assert_eq!(after("nd + 30"), [days(30)]);
    assert_eq!(after("toDate(ts) + 30"), [days(30)]);
    assert_eq!(after("toDateTime(d) + 3600"), [Span::secs(3600)]);
    assert_eq!(after("ts + toIntervalDay(1) + 3600"), [Span::secs(DAY + 3600)]);
    // Types not known, or not safe to guess: quoted.
    assert!(parse("t64 + 1000", &datetime).is_err());
    assert!(parse("other + 1000", &datetime).is_err());
    assert!(parse("ts + 0", &datetime).is_err());
}

#[test]
fn rollups_take_their_key_and_assignment_commas() {
    let ttl = "ts + toIntervalDay(30) GROUP BY k, toStartOfDay(ts) SET v = sum(v), ts + toIntervalDay(400)";
    let c = clauses(ttl);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].action, Action::Rollup("k, toStartOfDay(ts)".into()));
    assert_eq!(c[0].after, days(30));
    assert_eq!((c[1].action.clone(), c[1].after), (Action::Delete, days(400)));

    let c = clauses("ts + toIntervalDay(30) GROUP BY k SET v = sum(v), ts = max(ts)");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].action, Action::Rollup("k".into()));
    assert!(c[0].text.ends_with("ts = max(ts)"));

    // A key list without SET takes every later comma, as the engine's parser does.
    let c = clauses("ts + toIntervalDay(30) GROUP BY k, toStartOfDay(ts)");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].action, Action::Rollup("k, toStartOfDay(ts)".into()));
}

#[test]
fn conditional_deletes_keep_their_condition() {
    // How the server prints `… DELETE WHERE level = 'debug'`: without DELETE.
    let c = clauses("ts + toIntervalYear(1) WHERE level = 'debug', ts + toIntervalMonth(12)");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].condition.as_deref(), Some("level = 'debug'"));
    assert_eq!(c[0].action, Action::Delete);
    assert_eq!(c[1].condition, None);
    let c = clauses("ts + toIntervalDay(7) DELETE WHERE level IN ('debug', 'trace'), ts + toIntervalDay(90)");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].condition.as_deref(), Some("level IN ('debug', 'trace')"));
}

#[test]
fn moves_and_recompression_keep_rows() {
    let c = clauses("ts + toIntervalDay(7) TO VOLUME 'cold', ts + toIntervalDay(90)");
    assert_eq!((c[0].action.clone(), c[1].action.clone()), (Action::Keep, Action::Delete));
    assert_eq!(clauses("ts + toIntervalDay(1) TO DISK 's3'")[0].action, Action::Keep);
    let c = clauses("ts + toIntervalDay(10) RECOMPRESS CODEC(ZSTD(17)), ts + toIntervalMonth(12)");
    assert_eq!((c[0].action.clone(), c[1].after), (Action::Keep, Span::months(12)));
}

#[test]
fn unreadable_ttls_are_quoted() {
    assert_eq!(parse("expire_at", &datetime).unwrap_err(), "expire_at");
    assert_eq!(
        parse("ts + toIntervalDay(30), ts + toIntervalDay(retention_days)", &datetime).unwrap_err(),
        "ts + toIntervalDay(retention_days)"
    );
    let cond = "if(k = 1, ts + toIntervalDay(1), ts)";
    assert_eq!(parse(cond, &datetime).unwrap_err(), cond);
    assert!(parse("ts - toIntervalDay(3)", &datetime).is_err());
    assert!(parse("ts + toIntervalDay(1) + other", &datetime).is_err());
    assert!(parse("toIntervalDay(1)", &datetime).is_err());
    assert!(parse("ts + toIntervalYear(99999999999)", &datetime).is_err());
}

#[test]
fn keywords_inside_quotes_or_names_do_not_split() {
    assert_eq!(clauses("ts + toIntervalDay(5) TO VOLUME 'delete, me'")[0].action, Action::Keep);
    assert_eq!(after("deleted_at + toIntervalDay(5)").len(), 1);
    let c = clauses(r"ts + toIntervalDay(5) WHERE msg = 'it\'s, GROUP BY x'");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].condition.as_deref(), Some(r"msg = 'it\'s, GROUP BY x'"));
}

#[test]
fn column_ttls_come_from_the_create_query() {
    let q = "CREATE TABLE p.logs_local (`ts` DateTime, `body` String TTL ts + toIntervalDay(1), \
             `level` LowCardinality(String) CODEC(ZSTD(1)), `attrs` Map(String, String) TTL ts + toIntervalMonth(1) COLLATE x, \
             INDEX i body TYPE bloom_filter GRANULARITY 1) ENGINE = MergeTree ORDER BY ts TTL ts + toIntervalDay(30) SETTINGS index_granularity = 8192";
    assert_eq!(
        column_ttls(q),
        [
            ("body".to_string(), "ts + toIntervalDay(1)".to_string()),
            ("attrs".to_string(), "ts + toIntervalMonth(1)".to_string())
        ]
    );
    assert_eq!(column_ttl_after("ts + toIntervalDay(1)", &datetime), Ok(days(1)));
    // 18.16 prints names bare and has no TTLs at all.
    assert!(column_ttls("CREATE TABLE p.t ( ts DateTime,  body String) ENGINE = MergeTree ORDER BY ts").is_empty());
    assert!(column_ttls("CREATE VIEW p.v AS SELECT 1").is_empty());
}

/// One element as the server prints it, and what it must read back as.
fn element() -> impl proptest::strategy::Strategy<Value = (String, Span, &'static str, bool)> {
    use proptest::prelude::*;
    let unit = prop_oneof![
        Just(("Hour", Span::secs(3600))),
        Just(("Day", Span::secs(DAY))),
        Just(("Week", Span::secs(7 * DAY))),
        Just(("Month", Span::months(1))),
        Just(("Quarter", Span::months(3))),
        Just(("Year", Span::months(12))),
    ];
    let action = prop_oneof![
        Just(("", "delete")),
        Just((" TO VOLUME 'cold, slow'", "keep")),
        Just((" RECOMPRESS CODEC(ZSTD(17))", "keep")),
        Just((" GROUP BY k, toStartOfDay(ts) SET v = sum(v), w = max(w)", "rollup")),
        Just((" GROUP BY k SET v = sum(v)", "rollup")),
    ];
    (1u32..500, unit, action, any::<bool>()).prop_map(|(n, (name, per), (tail, kind), conditional)| {
        let after = Span { months: per.months * n, secs: per.secs * u64::from(n) };
        // The server prints WHERE only after a delete (it refuses it after GROUP BY).
        let condition = conditional && kind == "delete";
        let text = format!(
            "ts + toInterval{name}({n}){tail}{}",
            if condition { " WHERE level IN ('debug', 'a,b')" } else { "" }
        );
        (text, after, kind, condition)
    })
}

proptest::proptest! {
    // Any list of elements the server can print reads back element by element: the commas
    // inside key lists, SET lists, quotes and calls never split one.
    #[test]
    fn every_printed_element_list_reads_back(elements in proptest::collection::vec(element(), 1..6)) {
        let ttl: Vec<&str> = elements.iter().map(|e| e.0.as_str()).collect();
        let ttl = ttl.join(", ");
        // A key list without SET would take the following elements; the generator always ends
        // GROUP BY with SET, as the server requires for a later element to parse.
        let read = parse(&ttl, &datetime).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{ttl}: {e}")))?;
        proptest::prop_assert_eq!(read.len(), elements.len(), "{}", ttl);
        for (c, (_, after, kind, conditional)) in read.iter().zip(&elements) {
            proptest::prop_assert_eq!(c.after, *after, "{}", ttl);
            let got = match c.action { Action::Delete => "delete", Action::Keep => "keep", Action::Rollup(_) => "rollup" };
            proptest::prop_assert_eq!(got, *kind, "{}", ttl);
            proptest::prop_assert_eq!(c.condition.is_some(), *conditional, "{}", ttl);
        }
    }
}
