//! How long ClickHouse keeps the rows of a telemetry type: found in the tables that store
//! them (through Buffer, Distributed, Merge, View, materialized view and Null tables, as
//! [`crate::snapshot::clickhouse_storage`] follows them) and read from their TTLs as the
//! engine applies them: the first element that deletes or rolls up every row ends the raw
//! rows; a conditional delete ends only the rows it matches; a column TTL wipes one column.
//! Every table that stores rows of the type is judged and the shortest decides.

use std::collections::BTreeMap;

use super::calendar::{parse_obligation, Span};
use super::ttl::{self, Action};
use super::CheckCtx;
use crate::outcome::{CheckResult, Finding, Outcome, Undecided};
use crate::snapshot::clickhouse::TableDef;
use crate::snapshot::clickhouse_storage::{stores, Stores};
use crate::snapshot::ClickhouseSnapshot;

/// A table that stores rows of the type, and how the named table leads to it.
struct Store<'a> {
    /// `infrasage.logs → Buffer → infrasage.logs_local`; the table alone when it is the named one.
    chain: String,
    table: String,
    def: &'a TableDef,
}

impl Store<'_> {
    /// " (rows stored in a → Buffer → b)" where the rows are not in the named table.
    fn via(&self) -> String {
        if self.chain == self.table {
            String::new()
        } else {
            format!(" (rows stored in {})", self.chain)
        }
    }
}

const MAX_HOPS: usize = 8;

/// Every table storing the rows of `table`, or the finding saying where the trail breaks.
fn stores_of<'a>(ch: &'a ClickhouseSnapshot, kind: &str, table: &str) -> Result<Vec<Store<'a>>, Finding> {
    let object = format!("ClickHouse table {table}");
    let mut out = Vec::new();
    let mut todo = vec![(table.to_string(), table.to_string(), 0usize)];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((name, chain, hops)) = todo.pop() {
        let broken = |why: String| {
            let at = if name == table { format!("the {kind} table") } else { format!("{chain}:") };
            Finding::new(&object, format!("{at} {why}"))
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        if hops > MAX_HOPS {
            return Err(broken(format!("leads through more than {MAX_HOPS} tables")));
        }
        let def = match ch.tables.get(&name) {
            Some(Some(def)) => def,
            Some(None) => {
                return Err(broken("does not exist, or the exporter's user may not see it (SHOW TABLES)".into()))
            }
            None => return Err(broken("was not read".into())),
        };
        let (database, short) = name.split_once('.').unwrap_or(("", &name));
        match stores(database, short, def) {
            Stores::Itself => out.push(Store { chain, table: name, def }),
            Stores::In(how, tables) => {
                for t in tables {
                    todo.push((t.clone(), format!("{chain} → {how} → {t}"), hops + 1));
                }
            }
            Stores::MergeUnresolved { .. } => {
                return Err(broken("is a Merge table whose members were not read".into()))
            }
            Stores::Nowhere(why) | Stores::Unknown(why) => return Err(broken(why)),
        }
    }
    out.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(out)
}

/// What a storing table's TTLs do to its rows.
struct Lifetime {
    ttl: Option<String>,
    /// When the first unconditional element deletes (None) or rolls up (Some(keys)) every row.
    ends: Option<(Span, Option<String>)>,
    /// Conditional deletes: after how long, for rows matching what.
    conditional: Vec<(Span, String)>,
    /// Column TTLs: column, after how long, expression.
    columns: Vec<(String, Span, String)>,
}

impl Lifetime {
    fn read(store: &Store) -> Result<Lifetime, Finding> {
        let object = format!("ClickHouse table {}", store.table);
        let types = |c: &str| store.def.columns.get(c).cloned();
        let unreadable =
            |what: &str, text: &str| Finding::new(&object, format!("cannot read the {what} {text:?}{}", store.via()));
        let mut columns = Vec::new();
        for (column, expr) in ttl::column_ttls(&store.def.create_query) {
            let after =
                ttl::column_ttl_after(&expr, &types).map_err(|e| unreadable(&format!("TTL of column {column}"), &e))?;
            columns.push((column, after, expr));
        }
        let Some(text) = ttl::table_ttl(&store.def.engine_full) else {
            return Ok(Lifetime { ttl: None, ends: None, conditional: Vec::new(), columns });
        };
        let clauses = ttl::parse(text, &types).map_err(|clause| unreadable("TTL clause", &clause))?;
        let mut ends: Option<(Span, Option<String>)> = None;
        let mut conditional = Vec::new();
        for c in clauses {
            let end = match (&c.action, &c.condition) {
                (Action::Keep, _) => continue,
                (_, Some(cond)) => {
                    conditional.push((c.after, cond.clone()));
                    continue;
                }
                (Action::Delete, None) => (c.after, None),
                (Action::Rollup(keys), None) => (c.after, Some(keys.clone())),
            };
            if ends.as_ref().is_none_or(|(e, _)| end.0.shortest_secs() < e.shortest_secs()) {
                ends = Some(end);
            }
        }
        Ok(Lifetime { ttl: Some(text.to_string()), ends, conditional, columns })
    }

    /// "deleted after 30d", "rolled up (GROUP BY k) after 30d".
    fn ending(&self) -> Option<String> {
        self.ends.as_ref().map(|(after, keys)| match keys {
            None => format!("deleted after {}", after.describe()),
            Some(keys) => format!("rolled up (GROUP BY {keys}) after {}", after.describe()),
        })
    }

    fn conditional_text(&self) -> Vec<String> {
        self.conditional
            .iter()
            .map(|(after, cond)| format!("rows matching {cond} go after {}", after.describe()))
            .collect()
    }
}

/// The `tables` parameter: telemetry type → `database.table`.
fn telemetry_tables(ctx: &CheckCtx) -> Result<Vec<(String, String)>, Undecided> {
    let map = ctx.params.map("tables")?;
    map.into_iter()
        .map(|(kind, v)| match v.as_str() {
            Some(t) => Ok((kind, t.to_string())),
            None => Err(Undecided::error(format!("parameter tables.{kind} is not a table name"))),
        })
        .collect()
}

pub fn retention_per_telemetry_type(ctx: &CheckCtx) -> CheckResult {
    let ch = ctx.snapshot.clickhouse()?;
    let mut findings = Vec::new();
    let mut kept = Vec::new();
    for (kind, table) in telemetry_tables(ctx)? {
        let object = format!("ClickHouse table {table}");
        let stores = match stores_of(ch, &kind, &table) {
            Ok(s) => s,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let mut endings = Vec::new();
        for store in &stores {
            let life = match Lifetime::read(store) {
                Ok(l) => l,
                Err(f) => {
                    findings.push(f);
                    continue;
                }
            };
            let via = store.via();
            match (&life.ttl, life.ending()) {
                (None, _) => findings.push(Finding::new(&object, format!("the {kind} table has no TTL{via}"))),
                (Some(_), Some(ending)) => endings.push((life.ends.map(|e| e.0.shortest_secs()), ending, via)),
                (Some(ttl), None) if !life.conditional.is_empty() => findings.push(Finding::new(
                    &object,
                    format!(
                        "the {kind} table's TTL {ttl:?} deletes only some rows ({}); other rows are kept{via}",
                        life.conditional_text().join("; ")
                    ),
                )),
                (Some(ttl), None) => findings
                    .push(Finding::new(&object, format!("the {kind} table's TTL {ttl:?} never deletes rows{via}"))),
            }
        }
        if let Some((_, ending, via)) = endings.into_iter().min_by_key(|e| e.0) {
            kept.push(format!("{kind} {ending}{via}"));
        }
    }
    Ok(Outcome::from_findings(findings, format!("every telemetry table has a TTL: {}", kept.join(", "))))
}

pub fn retention_meets_compliance(ctx: &CheckCtx) -> CheckResult {
    let ch = ctx.snapshot.clickhouse()?;
    let tables: BTreeMap<String, String> = telemetry_tables(ctx)?.into_iter().collect();
    let columns = ctx.params.map("columns").unwrap_or_default();
    let mut findings = Vec::new();
    let mut met = Vec::new();
    for (kind, v) in ctx.params.map("obligations")? {
        let obligation = v
            .as_str()
            .and_then(parse_obligation)
            .ok_or_else(|| Undecided::error(format!("parameter obligations.{kind} is not a duration")))?;
        let Some(table) = tables.get(&kind) else {
            findings.push(Finding::new(
                format!("telemetry type {kind}"),
                "no table is configured for it (parameter tables)",
            ));
            continue;
        };
        let watched: Vec<String> = columns
            .get(&kind)
            .and_then(|v| v.as_str())
            .map(|list| list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        match judge(ch, &kind, table, obligation, &watched) {
            Ok(text) => met.push(text),
            Err(mut f) => findings.append(&mut f),
        }
    }
    Ok(Outcome::from_findings(findings, met.join(", ")))
}

/// Whether every table storing the rows of `table` keeps them (and the watched columns) at
/// least `obligation`: the pass text, or the findings.
fn judge(
    ch: &ClickhouseSnapshot,
    kind: &str,
    table: &str,
    obligation: Span,
    watched: &[String],
) -> Result<String, Vec<Finding>> {
    let stores = stores_of(ch, kind, table).map_err(|f| vec![f])?;
    let need = obligation.describe();
    let object = format!("ClickHouse table {table}");
    let mut findings = Vec::new();
    let mut texts = Vec::new();
    for store in &stores {
        let life = match Lifetime::read(store) {
            Ok(l) => l,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let via = store.via();
        let ttl = life.ttl.clone().unwrap_or_default();
        let mut notes = Vec::new();
        match &life.ends {
            Some((after, keys)) if !after.at_least(&obligation) => {
                let what = match keys {
                    None => format!("keeps rows {}", after.describe()),
                    Some(keys) => format!("rolls rows up (GROUP BY {keys}) after {}", after.describe()),
                };
                findings.push(Finding::new(
                    &object,
                    format!("the {kind} table {what} (TTL {ttl}), less than the {need} obligation{via}"),
                ));
            }
            Some((after, keys)) => notes.push(match keys {
                None => format!("{} ≥ {need}", after.describe()),
                Some(_) => format!("rolled up after {} ≥ {need}", after.describe()),
            }),
            None => notes.push("kept indefinitely".into()),
        }
        for (after, cond) in &life.conditional {
            if after.at_least(&obligation) {
                notes.push(format!("rows matching {cond} go after {}", after.describe()));
            } else {
                findings.push(Finding::new(
                    &object,
                    format!(
                        "rows matching {cond} go after {} (TTL {ttl}), less than the {need} obligation; other rows are kept{via}",
                        after.describe()
                    ),
                ));
            }
        }
        for column in watched {
            let Some((_, after, expr)) = life.columns.iter().find(|(c, _, _)| c == column) else { continue };
            if !after.at_least(&obligation) {
                findings.push(Finding::new(
                    &object,
                    format!(
                        "column {column} is wiped after {} (TTL {expr}), less than the {need} obligation{via}",
                        after.describe()
                    ),
                ));
            }
        }
        texts.push(format!("{kind} {}{via}", notes.join("; ")));
    }
    if findings.is_empty() {
        Ok(texts.join(", "))
    } else {
        Err(findings)
    }
}

/// The ClickHouse half of `audit_logging_retention`: the audit table keeps rows at least
/// `min` (no TTL keeps them indefinitely). The InfraSage API half (the audit setting) is
/// decided elsewhere and combined with this.
pub fn clickhouse_audit_retention(ch: &ClickhouseSnapshot, table: &str, min: std::time::Duration) -> Outcome {
    let stores = match stores_of(ch, "audit", table) {
        Ok(s) => s,
        Err(f) => return Outcome::from_findings(vec![f], ""),
    };
    let need = Span::secs(min.as_secs());
    let mut findings = Vec::new();
    let mut texts = Vec::new();
    for store in &stores {
        let object = format!("ClickHouse table {table}");
        let via = store.via();
        match Lifetime::read(store) {
            Err(f) => findings.push(f),
            Ok(life) => {
                let short = life.conditional.iter().find(|(after, _)| !after.at_least(&need));
                match (&life.ttl, &life.ends, short) {
                    (None, _, _) => texts.push(format!("{table} has no TTL: audit rows are kept indefinitely{via}")),
                    (Some(ttl), Some((after, _)), _) if !after.at_least(&need) => findings.push(Finding::new(
                        object,
                        format!(
                            "audit rows are kept {} (TTL {ttl}), less than {}{via}",
                            after.describe(),
                            need.describe()
                        ),
                    )),
                    (Some(ttl), _, Some((after, cond))) => findings.push(Finding::new(
                        object,
                        format!(
                            "audit rows matching {cond} are kept {} (TTL {ttl}), less than {}{via}",
                            after.describe(),
                            need.describe()
                        ),
                    )),
                    (Some(_), Some((after, _)), None) => texts.push(format!(
                        "{table} keeps audit rows {} (min {}){via}",
                        after.describe(),
                        need.describe()
                    )),
                    (Some(ttl), None, None) => texts.push(format!("{table} TTL {ttl:?} never deletes audit rows{via}")),
                }
            }
        }
    }
    Outcome::from_findings(findings, texts.join(", "))
}

#[cfg(test)]
mod tests;
