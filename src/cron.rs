//! CronJob schedules as the CronJob controller reads them (robfig/cron): how long a schedule
//! can leave between two runs. Used by the backup item; a parser of its own because no crate
//! follows robfig/cron's day-field and macro rules (see the tests for each rule).

use std::time::Duration;

use chrono::{Datelike, NaiveDate};

/// The Gregorian calendar, weekdays included, repeats every 400 years: enumerating one cycle
/// of days sees every gap a schedule can have (Feb 29 and "Friday the 13th" included).
const CYCLE_DAYS: i64 = 146_097;

const MONTH_NAMES: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DOW_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A 5-field schedule as bit sets. `*_star` marks a field written as `*` or `?`: the day
/// fields combine with AND when either is a star and with OR when both are restricted.
struct CronFields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
}

/// The longest time between two consecutive runs of a CronJob schedule; None if it never fires.
/// Follows robfig/cron, the parser behind the CronJob controller: 5 fields or a macro, month and
/// weekday names, `?` as `*`, `N/step` as `N-max/step`, weekdays 0-6. A time zone (spec.timeZone,
/// or a TZ= prefix) shifts every run alike, so it cannot change a gap; DST is ignored.
pub fn largest_gap(schedule: &str) -> Result<Option<Duration>, String> {
    let mut spec = schedule.trim();
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = spec.split_once(char::is_whitespace).map(|(_, rest)| rest.trim_start()).unwrap_or("");
    }
    if let Some(every) = spec.strip_prefix("@every ") {
        let d = humantime::parse_duration(every.trim()).map_err(|e| format!("bad @every duration: {e}"))?;
        return Ok(Some(d.max(Duration::from_secs(1))));
    }
    let expanded = match spec {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        s if s.starts_with('@') => return Err(format!("unknown macro {s}")),
        s => s,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    };
    let (days_of_month, dom_star) = parse_cron_field(dom, 1, 31, &[])?;
    let (days_of_week, dow_star) = parse_cron_field(dow, 0, 6, DOW_NAMES)?;
    let f = CronFields {
        minutes: parse_cron_field(minute, 0, 59, &[])?.0,
        hours: parse_cron_field(hour, 0, 23, &[])?.0,
        days_of_month,
        months: parse_cron_field(month, 1, 12, MONTH_NAMES)?.0,
        days_of_week,
        dom_star,
        dow_star,
    };
    Ok(gap_in_cycle(&f))
}

fn parse_cron_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        match names.iter().position(|n| *n == lower) {
            Some(i) => Ok(min + i as u32),
            None => s.parse::<u32>().map_err(|_| format!("{s:?} is not a number")),
        }
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in field.split(',') {
        let (range, step) = match part.split('/').collect::<Vec<_>>()[..] {
            [r] => (r, None),
            [r, s] => (r, Some(s.parse::<u32>().map_err(|_| format!("bad step {s:?} in {part:?}"))?)),
            _ => return Err(format!("too many slashes in {part:?}")),
        };
        let (start, end, mut part_star) = if range == "*" || range == "?" {
            (min, max, true)
        } else {
            match range.split('-').collect::<Vec<_>>()[..] {
                // "N/step" runs from N to the end of the range.
                [a] => (value(a)?, if step.is_some() { max } else { value(a)? }, false),
                [a, b] => (value(a)?, value(b)?, false),
                _ => return Err(format!("too many hyphens in {part:?}")),
            }
        };
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("step 0 in {part:?}"));
        }
        if step > 1 {
            part_star = false;
        }
        if start < min || end > max || start > end {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        bits |= (start..=end).step_by(step as usize).fold(0u64, |b, v| b | (1 << v));
        star |= part_star;
    }
    Ok((bits, star))
}

fn day_matches(f: &CronFields, d: NaiveDate) -> bool {
    let bit = |set: u64, v: u32| set & (1 << v) != 0;
    if !bit(f.months, d.month()) {
        return false;
    }
    let dom = bit(f.days_of_month, d.day());
    let dow = bit(f.days_of_week, d.weekday().num_days_from_sunday());
    if f.dom_star || f.dow_star {
        dom && dow
    } else {
        dom || dow
    }
}

fn gap_in_cycle(f: &CronFields) -> Option<Duration> {
    // Hours and minutes do not depend on the day: every firing day fires at the same times.
    let times: Vec<i64> = (0..24)
        .filter(|h| f.hours & (1 << h) != 0)
        .flat_map(|h| (0..60).filter(|m| f.minutes & (1 << m) != 0).map(move |m| h * 60 + m))
        .collect();
    let start = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    let days: Vec<i64> = start
        .iter_days()
        .take(CYCLE_DAYS as usize)
        .enumerate()
        .filter(|(_, d)| day_matches(f, *d))
        .map(|(i, _)| i as i64)
        .collect();
    let (first, last) = (*times.first()?, *times.last()?);
    let first_day = *days.first()?;
    let mut gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let next_days = days.iter().skip(1).copied().chain(std::iter::once(first_day + CYCLE_DAYS));
    for (d1, d2) in days.iter().zip(next_days) {
        gap = gap.max((d2 - d1) * 1440 + first - last);
    }
    Some(Duration::from_secs(gap as u64 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;

    fn gap(schedule: &str) -> Option<Duration> {
        largest_gap(schedule).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/cron.txt"))),
            ..Default::default()
        })]
        // Any schedule text reads as a gap or an error, never a panic; a gap is at most a
        // leap-year cycle (the longest a valid schedule can wait).
        #[test]
        fn cron_reading_never_panics(schedule in "(CRON_TZ=[A-Z/a-z]{1,8} )?[0-9*/,\\-?LW#@a-z ]{0,40}") {
            if let Ok(Some(gap)) = largest_gap(&schedule) {
                proptest::prop_assert!(gap <= Duration::from_secs(8 * 366 * DAY) || schedule.contains("@every"));
            }
        }
    }

    #[test]
    fn cron_gaps() {
        assert_eq!(gap("0 2 * * *"), Some(Duration::from_secs(DAY)));
        assert_eq!(gap("@daily"), Some(Duration::from_secs(DAY)));
        assert_eq!(gap("@midnight"), Some(Duration::from_secs(DAY)));
        assert_eq!(gap("@hourly"), Some(Duration::from_secs(HOUR)));
        assert_eq!(gap("0 * * * *"), Some(Duration::from_secs(HOUR)));
        assert_eq!(gap("*/15 * * * *"), Some(Duration::from_secs(15 * 60)));
        // Runs at 01:00 and 23:00: the long gap is 23:00 → 01:00 is 2h, 01:00 → 23:00 is 22h.
        assert_eq!(gap("0 1,23 * * *"), Some(Duration::from_secs(22 * HOUR)));
        assert_eq!(gap("30 3 * * 0"), Some(Duration::from_secs(7 * DAY)));
        assert_eq!(gap("@weekly"), Some(Duration::from_secs(7 * DAY)));
        assert_eq!(gap("0 2 * * 1-5"), Some(Duration::from_secs(3 * DAY)));
        assert_eq!(gap("0 2 * * MON-FRI"), Some(Duration::from_secs(3 * DAY)));
        // Sunday to the next Saturday.
        assert_eq!(gap("0 2 * * sat,sun"), Some(Duration::from_secs(6 * DAY)));
        // Every other hour from 1: 01:00 ... 23:00, then 01:00.
        assert_eq!(gap("0 1/2 * * *"), Some(Duration::from_secs(2 * HOUR)));
        // 31-day months followed by 31 days: Jul 1 → Aug 1 is 31 days.
        assert_eq!(gap("@monthly"), Some(Duration::from_secs(31 * DAY)));
        assert_eq!(gap("0 0 1 JAN,jul *"), Some(Duration::from_secs(184 * DAY)));
        // Leap years: Feb 29 comes every 4 years, 8 across a skipped century leap day.
        assert_eq!(gap("@yearly"), Some(Duration::from_secs(366 * DAY)));
        assert_eq!(gap("0 0 29 2 *"), Some(Duration::from_secs((8 * 365 + 1) * DAY)));
        assert_eq!(gap("0 0 30 2 *"), None);
        assert_eq!(gap("TZ=Europe/Paris 0 2 * * *"), Some(Duration::from_secs(DAY)));
        assert_eq!(gap("@every 6h"), Some(Duration::from_secs(6 * HOUR)));
        assert_eq!(gap("@every 1h30m"), Some(Duration::from_secs(90 * 60)));
    }

    #[test]
    fn cron_day_fields_combine_with_or_when_both_are_restricted() {
        // The 1st and 15th of each month, or any Monday: at most 7 days apart.
        assert_eq!(gap("0 0 1,15 * 1"), Some(Duration::from_secs(7 * DAY)));
        // Only one day field restricted (the other `*` or `?`): AND, so only Mondays count.
        assert_eq!(gap("0 0 * * 1"), Some(Duration::from_secs(7 * DAY)));
        assert_eq!(gap("0 0 ? * 1"), Some(Duration::from_secs(7 * DAY)));
        // A stepped star is a restriction, so OR: odd days or Sundays. The 29th of a 30-day
        // month to the 1st is 2 days when no Sunday falls between.
        assert_eq!(gap("0 0 */2 * 0"), Some(Duration::from_secs(2 * DAY)));
        // Friday the 13th alone would be rare; with OR it is every Friday and every 13th.
        assert_eq!(gap("0 0 13 * 5"), Some(Duration::from_secs(7 * DAY)));
    }

    #[test]
    fn cron_bad_syntax() {
        for bad in [
            "",
            "0 2 * *",
            "0 2 * * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 7",
            "0 0 * * funday",
            "*/0 * * * *",
            "5-1 * * * *",
            "1-2-3 * * * *",
            "@fortnightly",
            "a b c d e",
            "0 0 1,,2 * *",
        ] {
            assert!(largest_gap(bad).is_err(), "{bad:?} parsed");
        }
    }
}
