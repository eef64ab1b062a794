//! Where a table's rows are stored, by its engine: a MergeTree keeps them itself; a Buffer,
//! Distributed, Merge, View or materialized view shows rows another table stores; a Null
//! table stores none and hands them to the materialized views reading from it. The source
//! follows this to fetch every table on the way, the retention items to judge the right TTL.

use std::sync::LazyLock;

use regex::Regex;

use super::clickhouse::TableDef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stores {
    /// The table keeps its rows (MergeTree family, Log family, Memory, …).
    Itself,
    /// The rows are those of these tables (`database.table`), named by how (`Buffer`, …).
    In(String, Vec<String>),
    /// A Merge table whose members the server has not been asked for yet.
    MergeUnresolved { database: String, regexp: bool, table_regexp: String },
    /// No table keeps the rows; the text says why.
    Nowhere(String),
    /// The rows live where this cannot follow; the text says where.
    Unknown(String),
}

/// Where the rows of `database.name` are stored, by its definition.
pub fn stores(database: &str, name: &str, def: &TableDef) -> Stores {
    let engine = def.engine.as_str();
    let args = engine_args(&def.engine_full);
    let qualified =
        |db: &str, t: &str| format!("{}.{t}", if db.is_empty() || db == "currentDatabase()" { database } else { db });
    match engine {
        e if e.ends_with("MergeTree") => Stores::Itself,
        "Log" | "TinyLog" | "StripeLog" | "Memory" | "Set" | "Join" | "EmbeddedRocksDB" | "KeeperMap" => Stores::Itself,
        "Buffer" => match (args.first(), args.get(1)) {
            (_, Some(t)) if t.is_empty() => {
                Stores::Nowhere("is a Buffer without a destination: rows are dropped when flushed".into())
            }
            (Some(db), Some(t)) => Stores::In("Buffer".into(), vec![qualified(db, t)]),
            _ => Stores::Unknown(format!("is a Buffer whose destination cannot be read from {:?}", def.engine_full)),
        },
        "Distributed" => match (args.get(1), args.get(2)) {
            (Some(db), Some(t)) => {
                let cluster = args.first().map_or("", String::as_str);
                Stores::In(
                    format!("Distributed on cluster {cluster}, local table on this server"),
                    vec![qualified(db, t)],
                )
            }
            _ => Stores::Unknown(format!(
                "is Distributed, but its local table cannot be read from {:?}",
                def.engine_full
            )),
        },
        "Merge" => match &def.merge_members {
            Some(members) => {
                let me = format!("{database}.{name}");
                Stores::In("Merge".into(), members.iter().filter(|m| **m != me).cloned().collect())
            }
            None => merge_unresolved(database, &def.engine_full),
        },
        "View" => match view_sources(database, &def.create_query) {
            Ok(tables) => Stores::In("View".into(), tables),
            Err(why) => Stores::Unknown(why),
        },
        "MaterializedView" => match mv_target(database, name, def) {
            Some(target) => Stores::In("MaterializedView".into(), vec![target]),
            None => Stores::Unknown("is a materialized view whose target table cannot be told".into()),
        },
        "Null" => {
            if def.dependents.is_empty() {
                Stores::Nowhere("is a Null table without materialized views: rows are not stored".into())
            } else {
                Stores::In("Null, read by materialized views".into(), def.dependents.clone())
            }
        }
        other => {
            Stores::Unknown(format!("is a {other} table: its rows are kept outside what this server's TTLs govern"))
        }
    }
}

fn merge_unresolved(database: &str, engine_full: &str) -> Stores {
    let inner = engine_full.trim().strip_prefix("Merge(").and_then(|s| s.strip_suffix(')'));
    let Some(inner) = inner else { return Stores::Unknown(format!("is a Merge table of {engine_full:?}")) };
    let parts = split_args(inner);
    let (Some(db), Some(re)) = (parts.first(), parts.get(1)) else {
        return Stores::Unknown(format!("is a Merge table of {engine_full:?}"));
    };
    let (database, regexp) = match db.strip_prefix("REGEXP(").and_then(|s| s.strip_suffix(')')) {
        Some(pattern) => (unquote(pattern), true),
        None if db.is_empty() => (database.to_string(), false),
        None => (unquote(db), false),
    };
    Stores::MergeUnresolved { database, regexp, table_regexp: unquote(re) }
}

/// A materialized view's table: as the server names it (`target_*`), its `TO` table, or its
/// inner table (`.inner_id.<uuid>` in Atomic databases, `.inner.<name>` in Ordinary ones).
fn mv_target(database: &str, name: &str, def: &TableDef) -> Option<String> {
    static TO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?\S+ (?:ON CLUSTER \S+ )?TO ((?:`[^`]+`|[\w]+)(?:\.(?:`[^`]+`|[\w]+))?)")
            .expect("valid")
    });
    if let Some(t) = def.target.as_ref().filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    if let Some(c) = TO.captures(&def.create_query) {
        let parts: Vec<String> = split_dotted(&c[1]);
        return Some(match parts.as_slice() {
            [db, t] => format!("{db}.{t}"),
            [t] => format!("{database}.{t}"),
            _ => return None,
        });
    }
    match def.uuid.as_deref() {
        Some(u) if !u.is_empty() && u != "00000000-0000-0000-0000-000000000000" => {
            Some(format!("{database}..inner_id.{u}"))
        }
        _ => Some(format!("{database}..inner.{name}")),
    }
}

/// The tables a view's SELECT reads (`FROM` and `JOIN`, subqueries included), qualified.
fn view_sources(database: &str, create_query: &str) -> Result<Vec<String>, String> {
    static ARRAY_JOIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\bARRAY\s+JOIN\b").expect("valid"));
    static CTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(?:\bWITH|,)\s+(\w+)\s+AS\s*\(").expect("valid"));
    static SOURCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:FROM|JOIN)\s+((?:`[^`]+`|[A-Za-z_]\w*)(?:\s*\.\s*(?:`[^`]+`|[A-Za-z_]\w*))?)(\s*\()?")
            .expect("valid")
    });
    let select = without_strings(create_query);
    let select = ARRAY_JOIN.replace_all(&select, "ARRAY_JOIN");
    let ctes: Vec<String> = CTE.captures_iter(&select).map(|c| c[1].to_string()).collect();
    let mut out = Vec::new();
    for c in SOURCE.captures_iter(&select) {
        if c.get(2).is_some() {
            return Err(format!(
                "is a view over the table function {}(…): its rows' retention cannot be followed",
                &c[1]
            ));
        }
        let parts = split_dotted(&c[1]);
        let table = match parts.as_slice() {
            [db, t] => format!("{db}.{t}"),
            [t] if ctes.contains(t) => continue,
            [t] => format!("{database}.{t}"),
            _ => continue,
        };
        if !out.contains(&table) {
            out.push(table);
        }
    }
    if out.is_empty() {
        return Err("is a view that reads no table".into());
    }
    Ok(out)
}

/// `db.`name`` → ["db", "name"], backquotes and spaces removed.
fn split_dotted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '`' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c if c.is_whitespace() && !quoted => {}
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// String literals blanked, so a `'… FROM x'` in a filter is not taken for a source.
fn without_strings(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut escaped = false;
    for ch in s.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '\'' {
                in_str = false;
                out.push('\'');
            }
            continue;
        }
        if ch == '\'' {
            in_str = true;
        }
        out.push(ch);
    }
    out
}

/// The arguments of `Engine(a, 'b', …)`, unquoted; empty when the engine has none.
pub fn engine_args(engine_full: &str) -> Vec<String> {
    let Some(open) = engine_full.find('(') else { return Vec::new() };
    let inner = &engine_full[open + 1..];
    let mut depth = 1i32;
    let mut in_str = false;
    let mut end = inner.len();
    let mut escaped = false;
    for (i, ch) in inner.char_indices() {
        if in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '\'' {
                in_str = false;
            }
            continue;
        }
        match ch {
            '\'' => in_str = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    split_args(&inner[..end]).into_iter().map(|a| unquote(&a)).collect()
}

fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for ch in s.chars() {
        if in_str {
            cur.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '\'' {
                in_str = false;
            }
            continue;
        }
        match ch {
            '\'' => in_str = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// `'p'` → `p` (backslash escapes undone), `` `p` `` → `p`, `p` → `p`.
fn unquote(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
        }
        return out;
    }
    s.trim_matches('`').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(engine: &str, engine_full: &str, create: &str) -> TableDef {
        TableDef {
            engine: engine.into(),
            engine_full: engine_full.into(),
            create_query: create.into(),
            ..Default::default()
        }
    }

    fn into(s: Stores) -> Vec<String> {
        match s {
            Stores::In(_, t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn buffers_and_distributed_tables_point_at_their_table() {
        // chdb 26.9 quotes the arguments; 18.16 does not.
        for full in [
            "Buffer('p', 'logs_local', 16, 10, 100, 10000, 1000000, 10000000, 100000000)",
            "Buffer(p, logs_local, 16, 10, 100, 10000, 1000000, 10000000, 100000000)",
        ] {
            assert_eq!(into(stores("p", "buf", &def("Buffer", full, ""))), ["p.logs_local"]);
        }
        assert_eq!(
            into(stores("p", "buf", &def("Buffer", "Buffer('', 'local', 1, 1, 1, 1, 1, 1, 1)", ""))),
            ["p.local"]
        );
        assert!(matches!(
            stores("p", "b", &def("Buffer", "Buffer('', '', 1, 1, 1, 1, 1, 1, 1)", "")),
            Stores::Nowhere(_)
        ));
        let d = def("Distributed", "Distributed('logs', 'p', 'logs_local', rand())", "");
        assert_eq!(into(stores("p", "dist", &d)), ["p.logs_local"]);
        let d = def("Distributed", "Distributed(logs, currentDatabase(), logs_local)", "");
        assert_eq!(into(stores("p", "dist", &d)), ["p.logs_local"]);
    }

    #[test]
    fn merge_tables_need_the_server_to_list_members_then_point_at_them() {
        let d = def("Merge", "Merge('p', '^logs_')", "");
        assert_eq!(
            stores("p", "mrg", &d),
            Stores::MergeUnresolved { database: "p".into(), regexp: false, table_regexp: "^logs_".into() }
        );
        let d = def("Merge", "Merge(REGEXP('^p$'), '^logs_')", "");
        assert_eq!(
            stores("p", "mrg", &d),
            Stores::MergeUnresolved { database: "^p$".into(), regexp: true, table_regexp: "^logs_".into() }
        );
        let d = TableDef { merge_members: Some(vec!["p.logs_a".into(), "p.mrg".into()]), ..d };
        assert_eq!(into(stores("p", "mrg", &d)), ["p.logs_a"]);
    }

    #[test]
    fn views_read_their_from_and_join_tables() {
        let v =
            def("View", "", "CREATE VIEW p.v (`ts` DateTime) AS SELECT * FROM p.logs_local WHERE level != 'FROM x'");
        assert_eq!(into(stores("p", "v", &v)), ["p.logs_local"]);
        let v = def("View", "", "CREATE VIEW p.vj AS SELECT a.ts FROM logs_local AS a INNER JOIN `other db`.`r 1` AS b ON a.ts = b.ts ARRAY JOIN tags");
        assert_eq!(into(stores("p", "vj", &v)), ["p.logs_local", "other db.r 1"]);
        let v = def("View", "", "CREATE VIEW p.w AS WITH recent AS (SELECT * FROM p.t) SELECT * FROM recent");
        assert_eq!(into(stores("p", "w", &v)), ["p.t"]);
        let v = def("View", "", "CREATE VIEW p.f AS SELECT * FROM remote('h', db.t)");
        assert!(matches!(stores("p", "f", &v), Stores::Unknown(_)));
    }

    #[test]
    fn materialized_views_point_at_their_target() {
        let mut mv = def(
            "MaterializedView",
            "",
            "CREATE MATERIALIZED VIEW p.mv_inner (`ts` DateTime) ENGINE = MergeTree ORDER BY ts AS SELECT ts FROM p.l",
        );
        mv.uuid = Some("ed8b7b14-a82b-4032-8531-6ca6af615c6c".into());
        assert_eq!(into(stores("p", "mv_inner", &mv)), ["p..inner_id.ed8b7b14-a82b-4032-8531-6ca6af615c6c"]);
        mv.target = Some("p..inner_id.x".into());
        assert_eq!(into(stores("p", "mv_inner", &mv)), ["p..inner_id.x"]);
        // 18.16: Ordinary databases name the inner table after the view; TO in the query.
        let mv = def(
            "MaterializedView",
            "MergeTree ORDER BY ts SETTINGS index_granularity = 8192",
            "CREATE MATERIALIZED VIEW p.mv_inner ( ts DateTime) ENGINE = MergeTree ORDER BY ts AS SELECT ts FROM p.l",
        );
        assert_eq!(into(stores("p", "mv_inner", &mv)), ["p..inner.mv_inner"]);
        let mv = def(
            "MaterializedView",
            "",
            "CREATE MATERIALIZED VIEW p.mv_to TO p.dst ( ts DateTime) AS SELECT ts FROM p.l",
        );
        assert_eq!(into(stores("p", "mv_to", &mv)), ["p.dst"]);
    }

    #[test]
    fn null_tables_hand_rows_to_their_views_and_other_engines_are_not_guessed() {
        let mut n = def("Null", "`Null`", "");
        assert!(matches!(stores("p", "n", &n), Stores::Nowhere(_)));
        n.dependents = vec!["p.mv".into()];
        assert_eq!(into(stores("p", "n", &n)), ["p.mv"]);
        assert_eq!(stores("p", "t", &def("ReplicatedReplacingMergeTree", "", "")), Stores::Itself);
        assert!(matches!(
            stores("p", "k", &def("Kafka", "Kafka('b:9092', 't', 'g', 'JSONEachRow')", "")),
            Stores::Unknown(_)
        ));
    }
}
