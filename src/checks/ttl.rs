//! Reading a MergeTree table TTL out of `system.tables.engine_full`: how long rows are kept
//! before a clause deletes them. A TTL this cannot read is reported quoted, never guessed.
//!
//! Calendar units are counted short of nothing a reader would dispute: a month is 30 days, a
//! quarter 90 and a year 365, so `toIntervalMonth(1)` meets a 30-day obligation.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

/// What one TTL clause does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `DELETE` (the default) or `GROUP BY` (rows replaced by aggregates): rows are gone.
    Delete,
    /// `TO VOLUME`, `TO DISK`, `RECOMPRESS`: rows are kept elsewhere or otherwise.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    pub after: Duration,
    pub action: Action,
}

/// The table TTL of an `engine_full`, without the `TTL` keyword; None when there is none.
pub fn table_ttl(engine_full: &str) -> Option<&str> {
    let start = find_keyword(engine_full, "TTL")? + 3;
    let rest = &engine_full[start..];
    let end = find_keyword(rest, "SETTINGS").unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Every clause of a table TTL, or the clause that cannot be read.
pub fn parse(ttl: &str) -> Result<Vec<Clause>, String> {
    split_top(ttl, ',').into_iter().map(|c| parse_clause(c.trim())).collect()
}

/// How long rows are kept: the earliest deleting clause; None when no clause deletes.
pub fn retention(clauses: &[Clause]) -> Option<Duration> {
    clauses.iter().filter(|c| c.action == Action::Delete).map(|c| c.after).min()
}

const ACTIONS: [&str; 6] = ["DELETE", "TO VOLUME", "TO DISK", "RECOMPRESS", "GROUP BY", "WHERE"];

fn parse_clause(clause: &str) -> Result<Clause, String> {
    let cut = ACTIONS.iter().filter_map(|k| find_keyword(clause, k)).min().unwrap_or(clause.len());
    let (expr, tail) = clause.split_at(cut);
    let tail_upper = tail.trim().to_ascii_uppercase();
    let action = if ["TO VOLUME", "TO DISK", "RECOMPRESS"].iter().any(|k| tail_upper.starts_with(k)) {
        Action::Keep
    } else {
        Action::Delete
    };
    let after = interval_after(expr.trim()).ok_or_else(|| clause.to_string())?;
    Ok(Clause { text: clause.to_string(), after, action })
}

static INTERVAL_FN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^toInterval(Second|Minute|Hour|Day|Week|Month|Quarter|Year)\(\s*(\d+)\s*\)$").expect("valid")
});
static INTERVAL_KW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^INTERVAL\s+'?(\d+)'?\s+(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|QUARTER|YEAR)S?$").expect("valid")
});
static IDENT_OR_CALL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_.]*(\(.*\))?$|^`[^`]+`$").expect("valid"));

/// `time + interval [+ interval…]`: the sum of the intervals, when exactly one term is the
/// time and every other term is a constant interval.
fn interval_after(expr: &str) -> Option<Duration> {
    let mut secs = 0u64;
    let mut times = 0;
    for term in split_top(expr, '+') {
        let term = term.trim();
        if let Some(s) = interval_secs(term) {
            secs = secs.checked_add(s)?;
        } else if IDENT_OR_CALL.is_match(term) && !term.to_ascii_lowercase().starts_with("tointerval") {
            times += 1;
        } else {
            return None;
        }
    }
    (times == 1 && secs > 0).then(|| Duration::from_secs(secs))
}

fn interval_secs(term: &str) -> Option<u64> {
    let (n, unit) = if let Some(c) = INTERVAL_FN.captures(term) {
        (c[2].parse::<u64>().ok()?, c[1].to_ascii_uppercase())
    } else if let Some(c) = INTERVAL_KW.captures(term) {
        (c[1].parse::<u64>().ok()?, c[2].to_ascii_uppercase())
    } else {
        return None;
    };
    let unit_secs = match unit.as_str() {
        "SECOND" => 1,
        "MINUTE" => 60,
        "HOUR" => 3_600,
        "DAY" => 86_400,
        "WEEK" => 7 * 86_400,
        "MONTH" => 30 * 86_400,
        "QUARTER" => 90 * 86_400,
        "YEAR" => 365 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs)
}

/// Byte offsets of depth-0 characters (outside parentheses, brackets and quotes).
fn top_level(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    s.char_indices().filter(move |&(_, ch)| {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            return false;
        }
        match ch {
            '\'' | '"' | '`' => {
                quote = Some(ch);
                false
            }
            '(' | '[' => {
                depth += 1;
                false
            }
            ')' | ']' => {
                depth -= 1;
                false
            }
            _ => depth == 0,
        }
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

/// The first depth-0 occurrence of a keyword (words separated by single spaces), as a whole
/// word, ignoring case.
fn find_keyword(s: &str, kw: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    top_level(s).map(|(i, _)| i).find(|&i| {
        let end = i + kw.len();
        end <= s.len()
            && s.is_char_boundary(end)
            && s[i..end].eq_ignore_ascii_case(kw)
            && (i == 0 || !word(bytes[i - 1]))
            && (end == s.len() || !word(bytes[end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    fn days(ttl: &str) -> Option<u64> {
        retention(&parse(ttl).unwrap()).map(|d| d.as_secs() / DAY)
    }

    #[test]
    fn the_table_ttl_sits_between_ttl_and_settings() {
        let e = "MergeTree PARTITION BY toYYYYMM(ts) ORDER BY ts TTL ts + toIntervalDay(30) SETTINGS index_granularity = 8192";
        assert_eq!(table_ttl(e), Some("ts + toIntervalDay(30)"));
        assert_eq!(table_ttl("MergeTree ORDER BY (ttl_col, ts) SETTINGS index_granularity = 8192"), None);
        assert_eq!(table_ttl("MergeTree ORDER BY ts TTL ts + INTERVAL 1 YEAR"), Some("ts + INTERVAL 1 YEAR"));
        assert_eq!(table_ttl(""), None);
    }

    #[test]
    fn interval_spellings() {
        assert_eq!(days("ts + toIntervalDay(30)"), Some(30));
        assert_eq!(days("ts + INTERVAL 30 DAY"), Some(30));
        assert_eq!(days("ts + interval 2 weeks"), Some(14));
        assert_eq!(days("toDateTime(ts) + toIntervalMonth(1)"), Some(30));
        assert_eq!(days("ts + toIntervalYear(1)"), Some(365));
        assert_eq!(days("ts + toIntervalQuarter(1)"), Some(90));
        assert_eq!(days("ts + toIntervalDay(1) + toIntervalHour(48)"), Some(3));
        assert_eq!(parse("ts + toIntervalHour(12)").unwrap()[0].after, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn several_clauses_the_first_deletion_counts() {
        assert_eq!(days("ts + toIntervalDay(7) TO VOLUME 'cold', ts + toIntervalDay(90) DELETE"), Some(90));
        assert_eq!(days("ts + toIntervalDay(90), ts + toIntervalDay(7) DELETE WHERE level = 'debug'"), Some(7));
        assert_eq!(days("ts + toIntervalDay(1) TO DISK 's3'"), None);
        assert_eq!(days("ts + toIntervalDay(10) RECOMPRESS CODEC(ZSTD(17)), ts + toIntervalMonth(12)"), Some(360));
        assert_eq!(days("ts + toIntervalDay(30) GROUP BY k SET v = max(v)"), Some(30));
        let c = parse("ts + toIntervalDay(7) TO VOLUME 'cold', ts + INTERVAL 1 MONTH").unwrap();
        assert_eq!(c[0].action, Action::Keep);
        assert_eq!(c[1].action, Action::Delete);
    }

    #[test]
    fn unreadable_ttls_are_quoted() {
        assert_eq!(parse("expire_at").unwrap_err(), "expire_at");
        assert_eq!(
            parse("ts + toIntervalDay(30), ts + toIntervalDay(retention_days)").unwrap_err(),
            "ts + toIntervalDay(retention_days)"
        );
        assert_eq!(parse("if(k = 1, ts + toIntervalDay(1), ts)").unwrap_err(), "if(k = 1, ts + toIntervalDay(1), ts)");
        assert!(parse("ts - toIntervalDay(3)").is_err());
        assert!(parse("ts + toIntervalDay(1) + other").is_err());
    }

    #[test]
    fn keywords_inside_quotes_or_names_do_not_split() {
        assert_eq!(days("ts + toIntervalDay(5) TO VOLUME 'delete, me'"), None);
        assert_eq!(days("deleted_at + toIntervalDay(5)"), Some(5));
    }
}
