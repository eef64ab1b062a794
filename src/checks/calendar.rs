//! Lengths of time as ClickHouse adds them to a date: calendar months (clamped to the end of
//! the month, as `toIntervalMonth`, `toIntervalQuarter` and `toIntervalYear` do) plus a fixed
//! number of seconds. A span keeps a row "at least as long as" another when it does for every
//! starting day, so `12 months` meets a one-year obligation and `365 days` meets `365d`, but
//! `365 days` does not meet `1y` (a leap year is 366 days long).

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{Months, NaiveDate};
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub months: u32,
    pub secs: u64,
}

const DAY: u64 = 86_400;

impl Span {
    pub fn secs(secs: u64) -> Span {
        Span { months: 0, secs }
    }

    pub fn months(months: u32) -> Span {
        Span { months, secs: 0 }
    }

    pub fn is_zero(&self) -> bool {
        self.months == 0 && self.secs == 0
    }

    pub fn checked_add(self, other: Span) -> Option<Span> {
        Some(Span { months: self.months.checked_add(other.months)?, secs: self.secs.checked_add(other.secs)? })
    }

    /// Whether rows kept for `self` are kept at least as long as `other` asks, whatever day
    /// they were written on.
    pub fn at_least(&self, other: &Span) -> bool {
        if self.months >= other.months {
            let extra = month_days(self.months - other.months).0 * DAY;
            extra.saturating_add(self.secs) >= other.secs
        } else {
            let missing = month_days(other.months - self.months).1 * DAY;
            self.secs >= missing.saturating_add(other.secs)
        }
    }

    /// The shortest this span can last, in seconds: what orders spans for "the earliest".
    pub fn shortest_secs(&self) -> u64 {
        (month_days(self.months).0 * DAY).saturating_add(self.secs)
    }

    /// `1y`, `18mo`, `30d`, `1y 12h`: calendar parts first, then the fixed part.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.months / 12, self.months % 12) {
            (0, 0) => {}
            (y, 0) => parts.push(format!("{y}y")),
            (_, _) => parts.push(format!("{}mo", self.months)),
        }
        if self.secs > 0 || parts.is_empty() {
            if self.secs.is_multiple_of(DAY) {
                parts.push(format!("{}d", self.secs / DAY));
            } else {
                parts.push(humantime::format_duration(Duration::from_secs(self.secs)).to_string());
            }
        }
        parts.join(" ")
    }
}

/// The fewest and the most days `n` calendar months last, over every starting day of a leap
/// cycle (end-of-month clamping included: 31 January + 1 month is 28 or 29 February).
fn month_days(n: u32) -> (u64, u64) {
    if n == 0 {
        return (0, 0);
    }
    // Whole years are 365 or 366 days; only the remainder needs the walk over start days.
    let (years, rest) = (u64::from(n / 12), n % 12);
    let start = NaiveDate::from_ymd_opt(2001, 1, 1).expect("valid date");
    let (mut lo, mut hi) = (u64::MAX, 0);
    for offset in 0..(4 * 365 + 1) {
        let day = start + chrono::Duration::days(offset);
        let Some(end) = day.checked_add_months(Months::new(rest)) else { continue };
        let days = u64::try_from((end - day).num_days()).unwrap_or(0);
        lo = lo.min(days);
        hi = hi.max(days);
    }
    // A run of whole years holds at most one 29 February in four.
    let (years_lo, years_hi) = (years * 365 + years / 4, years * 365 + years.div_ceil(4));
    (lo.saturating_add(years_lo), hi.saturating_add(years_hi))
}

static CALENDAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d+)\s*(y|yr|yrs|year|years|mo|month|months|M|q|quarter|quarters)$").expect("valid")
});

/// An obligation as the config writes it (`30d`, `1y`, `18months`, `1y 6months`): years,
/// quarters and months count as calendar months, everything else as humantime reads it.
pub fn parse_obligation(text: &str) -> Option<Span> {
    let mut span = Span::default();
    let mut any = false;
    for token in split_units(text.trim())? {
        let part = match CALENDAR.captures(&token) {
            Some(c) => {
                let n: u32 = c[1].parse().ok()?;
                let per = match &c[2] {
                    "y" | "yr" | "yrs" | "year" | "years" => 12,
                    "q" | "quarter" | "quarters" => 3,
                    _ => 1,
                };
                Span::months(n.checked_mul(per)?)
            }
            None => Span::secs(humantime::parse_duration(&token).ok()?.as_secs()),
        };
        span = span.checked_add(part)?;
        any = true;
    }
    any.then_some(span)
}

/// `1y 6months` and `1y6months` into `["1y", "6months"]`: a number and the unit after it.
fn split_units(text: &str) -> Option<Vec<String>> {
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+)\s*([A-Za-z]+)").expect("valid"));
    let mut out = Vec::new();
    let mut end = 0;
    for m in TOKEN.find_iter(text) {
        if !text[end..m.start()].trim().is_empty() {
            return None;
        }
        out.push(m.as_str().to_string());
        end = m.end();
    }
    (text[end..].trim().is_empty() && !out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u64) -> Span {
        Span::secs(n * DAY)
    }

    #[test]
    fn months_last_as_the_calendar_says() {
        assert_eq!(month_days(1), (28, 31));
        assert_eq!(month_days(12), (365, 366));
        assert_eq!(month_days(3).0, 89);
        assert_eq!(month_days(24), (730, 731));
        assert_eq!(month_days(48), (1461, 1461));
    }

    #[test]
    fn twelve_months_meet_a_year_and_365_days_but_365_days_miss_a_calendar_year() {
        let year = parse_obligation("1y").unwrap();
        assert_eq!(year, Span::months(12));
        assert!(Span::months(12).at_least(&year));
        assert!(Span::months(12).at_least(&days(365)));
        assert!(!Span::months(12).at_least(&days(366)));
        assert!(!days(365).at_least(&year));
        assert!(days(366).at_least(&year));
        assert!(Span::months(1).at_least(&days(28)));
        assert!(!Span::months(1).at_least(&days(30)));
        assert!(days(31).at_least(&Span::months(1)));
        assert!(Span { months: 1, secs: 2 * DAY }.at_least(&days(30)));
        assert!(Span::months(13).at_least(&Span { months: 12, secs: 28 * DAY }));
    }

    #[test]
    fn obligations_read_calendar_and_fixed_units() {
        assert_eq!(parse_obligation("30d"), Some(days(30)));
        assert_eq!(parse_obligation("18months"), Some(Span::months(18)));
        assert_eq!(parse_obligation("1y 6months"), Some(Span::months(18)));
        assert_eq!(parse_obligation("2q"), Some(Span::months(6)));
        assert_eq!(parse_obligation("1y 12h"), Some(Span { months: 12, secs: 12 * 3600 }));
        assert_eq!(parse_obligation("24h"), Some(days(1)));
        assert_eq!(parse_obligation("soon"), None);
        assert_eq!(parse_obligation(""), None);
        assert_eq!(parse_obligation("99999999999y"), None);
    }

    #[test]
    fn spans_describe_themselves() {
        assert_eq!(Span::months(12).describe(), "1y");
        assert_eq!(Span::months(18).describe(), "18mo");
        assert_eq!(days(30).describe(), "30d");
        assert_eq!(Span::secs(3600).describe(), "1h");
        assert_eq!(Span { months: 24, secs: DAY }.describe(), "2y 1d");
        assert_eq!(Span::default().describe(), "0d");
    }
}
