//! Reading MergeTree TTLs as ClickHouse's parser reads them (`ParserTTLElement`): elements
//! split at top-level commas, except that a `GROUP BY` key list takes every comma after it and
//! a `SET` list takes the commas before each `column = …` assignment. Intervals are
//! `toIntervalUnit(n)` (how the server prints `INTERVAL n UNIT`), their sum, or a plain number
//! (seconds on a DateTime, days on a Date). A TTL this cannot read is reported quoted, never
//! guessed.

use std::sync::LazyLock;

use regex::Regex;

use super::calendar::Span;

/// What one TTL element does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `DELETE`, the default: the rows are gone.
    Delete,
    /// `GROUP BY keys [SET …]`: the rows are replaced by one aggregate row per key.
    Rollup(String),
    /// `TO VOLUME`, `TO DISK`, `RECOMPRESS`: the rows stay, elsewhere or smaller.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    pub after: Span,
    pub action: Action,
    /// `WHERE cond`: only rows matching it are affected.
    pub condition: Option<String>,
}

/// Column types by name, to tell what a plain number added to a column means.
pub type ColumnType<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The table TTL of an `engine_full`, without the `TTL` keyword; None when there is none. The
/// server prints keywords in capitals, so a column called `ttl` is not taken for one.
pub fn table_ttl(engine_full: &str) -> Option<&str> {
    let start = find_word(engine_full, "TTL", true)? + 3;
    let rest = &engine_full[start..];
    let end = find_word(rest, "SETTINGS", true).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Every element of a table TTL, or the element that cannot be read.
pub fn parse(ttl: &str, types: ColumnType) -> Result<Vec<Clause>, String> {
    elements(ttl).into_iter().map(|e| parse_element(e.trim(), types)).collect()
}

/// How long after its time expression a column TTL (`body String TTL ts + …`) resets the
/// column; Err quotes the expression when it cannot be read.
pub fn column_ttl_after(expr: &str, types: ColumnType) -> Result<Span, String> {
    interval_after(expr.trim(), types).ok_or_else(|| expr.trim().to_string())
}

/// Each column with a TTL in a `create_table_query`, as (column, TTL expression).
pub fn column_ttls(create_query: &str) -> Vec<(String, String)> {
    let Some(open) = create_query.find('(') else { return Vec::new() };
    // The column list ends where the parenthesis opened before it closes.
    let mut depth = 0i32;
    let mut close = None;
    for (i, ch) in top_level_all(&create_query[open..]) {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else { return Vec::new() };
    split_top(&create_query[open + 1..close], ',')
        .into_iter()
        .filter_map(|def| {
            let def = def.trim();
            let first = def.split_whitespace().next()?;
            if ["INDEX", "PROJECTION", "CONSTRAINT"].contains(&first) {
                return None;
            }
            let start = find_word(def, "TTL", true)? + 3;
            let rest = &def[start..];
            let end = ["COLLATE", "SETTINGS"].iter().filter_map(|k| find_word(rest, k, true)).min();
            let name = first.trim_matches('`').to_string();
            Some((name, rest[..end.unwrap_or(rest.len())].trim().to_string()))
        })
        .collect()
}

/// The TTL split into elements the way the engine's parser does.
fn elements(ttl: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum Takes {
        Nothing,
        Keys,
        Assignments,
    }
    let mut out: Vec<String> = Vec::new();
    let mut takes = Takes::Nothing;
    for segment in split_top(ttl, ',') {
        let continues = match takes {
            Takes::Keys => true,
            Takes::Assignments => ASSIGNMENT.is_match(segment),
            Takes::Nothing => false,
        };
        if let (true, Some(last)) = (continues, out.last_mut()) {
            last.push(',');
            last.push_str(segment);
            if takes == Takes::Keys && find_word(segment, "SET", false).is_some() {
                takes = Takes::Assignments;
            }
            continue;
        }
        takes = match find_word(segment, "GROUP BY", false) {
            Some(at) if find_word(&segment[at..], "SET", false).is_some() => Takes::Assignments,
            Some(_) => Takes::Keys,
            None => Takes::Nothing,
        };
        out.push(segment.to_string());
    }
    out
}

static ASSIGNMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\s*=[^=]").expect("valid"));

const ACTIONS: [&str; 6] = ["DELETE", "TO VOLUME", "TO DISK", "RECOMPRESS", "GROUP BY", "WHERE"];

fn parse_element(element: &str, types: ColumnType) -> Result<Clause, String> {
    let cut = ACTIONS.iter().filter_map(|k| find_word(element, k, false)).min().unwrap_or(element.len());
    let (expr, tail) = element.split_at(cut);
    let (action_text, condition) = match find_word(tail, "WHERE", false) {
        Some(at) => (&tail[..at], Some(tail[at + 5..].trim().to_string())),
        None => (tail, None),
    };
    let action_text = action_text.trim();
    let upper = action_text.to_ascii_uppercase();
    let action = if ["TO VOLUME", "TO DISK", "RECOMPRESS"].iter().any(|k| upper.starts_with(k)) {
        Action::Keep
    } else if upper.starts_with("GROUP BY") {
        let keys = &action_text[8..];
        let keys = find_word(keys, "SET", false).map_or(keys, |at| &keys[..at]);
        Action::Rollup(keys.trim().to_string())
    } else {
        Action::Delete
    };
    let after = interval_after(expr.trim(), types).ok_or_else(|| element.to_string())?;
    Ok(Clause { text: element.to_string(), after, action, condition })
}

static INTERVAL_FN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^toInterval(Second|Minute|Hour|Day|Week|Month|Quarter|Year)\(\s*(\d+)\s*\)$").expect("valid")
});
static INTERVAL_KW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^INTERVAL\s+'?(\d+)'?\s+(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|QUARTER|YEAR)S?$").expect("valid")
});
static INTERVAL_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^INTERVAL\s+'\s*(\d+)\s+(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|QUARTER|YEAR)S?\s*'$").expect("valid")
});
static IDENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:[A-Za-z_][A-Za-z0-9_.]*|`[^`]+`)$").expect("valid"));
static CALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*)\(.*\)$").expect("valid"));

/// `time + interval [+ interval…]`, parenthesised as the server prints sums: how long after
/// the time the element fires, when exactly one term is the time and every other term is a
/// constant interval or number.
fn interval_after(expr: &str, types: ColumnType) -> Option<Span> {
    let mut terms = Vec::new();
    flatten_sum(expr, &mut terms);
    let mut span = Span::default();
    let mut numbers = 0u64;
    let mut time = None;
    for term in terms {
        if let Some(s) = interval(term) {
            span = span.checked_add(s)?;
        } else if !term.is_empty() && term.bytes().all(|b| b.is_ascii_digit()) {
            numbers = numbers.checked_add(term.parse().ok()?)?;
        } else if time.is_none() && (IDENT.is_match(term) || CALL.is_match(term)) && !is_interval_call(term) {
            time = Some(term);
        } else {
            return None;
        }
    }
    let time = time?;
    if numbers > 0 {
        let per = match number_unit(time, types)? {
            NumberUnit::Seconds => 1,
            NumberUnit::Days => 86_400,
        };
        span = span.checked_add(Span::secs(numbers.checked_mul(per)?))?;
    }
    (!span.is_zero()).then_some(span)
}

fn flatten_sum<'a>(expr: &'a str, out: &mut Vec<&'a str>) {
    for term in split_top(expr, '+') {
        let term = term.trim();
        match strip_parens(term) {
            Some(inner) => flatten_sum(inner, out),
            None => out.push(term),
        }
    }
}

/// The inside of `( … )` when the parentheses wrap the whole term.
fn strip_parens(term: &str) -> Option<&str> {
    let inner = term.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0i32;
    for (_, ch) in top_level_all(inner) {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(inner)
}

fn is_interval_call(term: &str) -> bool {
    term.to_ascii_lowercase().starts_with("tointerval")
}

fn interval(term: &str) -> Option<Span> {
    let (n, unit) = if let Some(c) = INTERVAL_FN.captures(term) {
        (c[2].parse::<u64>().ok()?, c[1].to_ascii_uppercase())
    } else if let Some(c) = INTERVAL_KW.captures(term).or_else(|| INTERVAL_TEXT.captures(term)) {
        (c[1].parse::<u64>().ok()?, c[2].to_ascii_uppercase())
    } else {
        return None;
    };
    let months = |per: u64| Some(Span::months(u32::try_from(n.checked_mul(per)?).ok()?));
    let secs = |per: u64| Some(Span::secs(n.checked_mul(per)?));
    match unit.as_str() {
        "SECOND" => secs(1),
        "MINUTE" => secs(60),
        "HOUR" => secs(3_600),
        "DAY" => secs(86_400),
        "WEEK" => secs(7 * 86_400),
        "MONTH" => months(1),
        "QUARTER" => months(3),
        "YEAR" => months(12),
        _ => None,
    }
}

enum NumberUnit {
    Seconds,
    Days,
}

/// What a plain number added to the time means: seconds on a DateTime, days on a Date. None
/// where the type is not known (a DateTime64, an unknown function): not guessed.
fn number_unit(time: &str, types: ColumnType) -> Option<NumberUnit> {
    if let Some(c) = CALL.captures(time) {
        return match c[1].to_ascii_lowercase().as_str() {
            "todatetime" | "tostartofday" | "tostartofhour" | "tostartofminute" => Some(NumberUnit::Seconds),
            "todate" | "todate32" | "tostartofmonth" | "tostartofweek" | "tomonday" | "tostartofyear"
            | "tostartofquarter" | "tolastdayofmonth" => Some(NumberUnit::Days),
            _ => None,
        };
    }
    let ty = types(time.trim_matches('`'))?;
    let mut ty = ty.as_str();
    for wrapper in ["Nullable(", "LowCardinality("] {
        if let Some(inner) = ty.strip_prefix(wrapper).and_then(|t| t.strip_suffix(')')) {
            ty = inner;
        }
    }
    if ty == "Date" || ty == "Date32" {
        Some(NumberUnit::Days)
    } else if ty == "DateTime" || ty.starts_with("DateTime(") {
        Some(NumberUnit::Seconds)
    } else {
        None
    }
}

/// Every character with its byte offset, quotes skipped (backslash escapes honoured).
fn top_level_all(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    s.char_indices().filter(move |&(_, ch)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == q {
                quote = None;
            }
            return false;
        }
        if matches!(ch, '\'' | '"' | '`') {
            quote = Some(ch);
            return false;
        }
        true
    })
}

/// Byte offsets of depth-0 characters (outside parentheses, brackets and quotes).
fn top_level(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut depth = 0i32;
    top_level_all(s).filter(move |&(_, ch)| match ch {
        '(' | '[' => {
            depth += 1;
            false
        }
        ')' | ']' => {
            depth -= 1;
            false
        }
        _ => depth == 0,
    })
}

fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, ch) in top_level(s) {
        if ch == sep {
            parts.push(&s[start..i]);
            start = i + ch.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The first depth-0 occurrence of a keyword (words separated by single spaces) as a whole
/// word; `exact` where the server's capitals tell keywords from names.
fn find_word(s: &str, kw: &str, exact: bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    top_level(s).map(|(i, _)| i).find(|&i| {
        let end = i + kw.len();
        end <= s.len()
            && s.is_char_boundary(end)
            && (if exact { &s[i..end] == kw } else { s[i..end].eq_ignore_ascii_case(kw) })
            && (i == 0 || !word(bytes[i - 1]))
            && (end == s.len() || !word(bytes[end]))
    })
}

#[cfg(test)]
mod tests;
