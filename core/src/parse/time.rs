//! Timestamps of log lines: the fixed layouts of the access, syslog and
//! Apache error formats parsed by hand (they are on the hot path), RFC 3339 /
//! ISO 8601, epochs, and strftime formats through chrono; IANA zones through
//! chrono-tz. Every result is UTC microseconds since the epoch.
//!
//! Logs repeat the same timestamp string line after line (one per second at
//! most, many lines per second), so [`TsCache`] remembers the last string
//! parsed and its value instead of parsing it again.

use crate::error::{Result, SashError};
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{LocalResult, NaiveDateTime, TimeZone};

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The zone of timestamps written without an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    #[default]
    Utc,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone> {
        if name == "UTC" || name == "Z" {
            return Ok(Zone::Utc);
        }
        name.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| SashError::spec(format!("unknown time zone '{name}'; use an IANA name such as \"Europe/Paris\" or \"UTC\"")))
    }

    /// The wall-clock time (µs as if it were UTC) of an instant.
    pub(crate) fn utc_to_wall(self, utc_us: i64) -> Result<i64, &'static str> {
        match self {
            Zone::Utc => Ok(utc_us),
            Zone::Named(tz) => Ok(tz.from_utc_datetime(&naive_of(utc_us)?).naive_local().and_utc().timestamp_micros()),
        }
    }

    /// Converts a wall-clock time (µs as if it were UTC) to UTC. An ambiguous
    /// time (the hour repeated when clocks go back) takes the earlier instant;
    /// a time in a gap (clocks going forward) does not exist and is an error.
    pub(crate) fn local_to_utc(self, wall_us: i64) -> Result<i64, &'static str> {
        match self {
            Zone::Utc => Ok(wall_us),
            Zone::Named(tz) => match tz.from_local_datetime(&naive_of(wall_us)?) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.timestamp_micros()),
                LocalResult::None => Err("local time does not exist in the time zone (clocks went forward)"),
            },
        }
    }
}

/// Microseconds since the epoch as a date and time without a zone.
fn naive_of(us: i64) -> Result<chrono::NaiveDateTime, &'static str> {
    chrono::DateTime::from_timestamp_micros(us).map(|t| t.naive_utc()).ok_or("timestamp out of range")
}

/// How a declared timestamp field is written.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// RFC 3339 / ISO 8601: `2024-05-17T10:05:03.25+02:00`, `T` or a space,
    /// offset optional (then the spec's `timezone`).
    Auto,
    EpochSeconds,
    EpochMillis,
    EpochMicros,
    EpochNanos,
    /// A chrono strftime format, checked when the spec is parsed.
    Strftime {
        text: String,
        items: Vec<Item<'static>>,
    },
}

impl TimeFormat {
    pub fn parse(text: &str) -> Result<TimeFormat> {
        Ok(match text {
            "rfc3339" | "iso8601" | "auto" => TimeFormat::Auto,
            "epoch_s" | "epoch" => TimeFormat::EpochSeconds,
            "epoch_ms" => TimeFormat::EpochMillis,
            "epoch_us" => TimeFormat::EpochMicros,
            "epoch_ns" => TimeFormat::EpochNanos,
            _ => {
                let items =
                    StrftimeItems::new(text).parse_to_owned().map_err(|_| SashError::spec(format!("invalid strftime format '{text}'")))?;
                TimeFormat::Strftime { text: text.to_string(), items }
            }
        })
    }

    /// Parses one value with this format.
    pub(crate) fn parse_value(&self, text: &str, zone: Zone) -> Result<i64, String> {
        match self {
            TimeFormat::Auto => parse_iso8601(text.as_bytes(), zone).map_err(str::to_string),
            TimeFormat::EpochSeconds => parse_epoch(text, MICROS_PER_SECOND, 1),
            TimeFormat::EpochMillis => parse_epoch(text, 1000, 1),
            TimeFormat::EpochMicros => parse_epoch(text, 1, 1),
            TimeFormat::EpochNanos => parse_epoch(text, 1, 1000),
            TimeFormat::Strftime { text: format, items } => {
                let mut parsed = Parsed::new();
                chrono::format::parse(&mut parsed, text, items.iter())
                    .map_err(|e| format!("does not match the format '{format}' ({e})"))?;
                let incomplete = |e| format!("incomplete for the format '{format}' ({e})");
                if parsed.offset().is_some() {
                    Ok(parsed.to_datetime().map_err(incomplete)?.timestamp_micros())
                } else if parsed.timestamp().is_some() {
                    // `%s` counts seconds since the epoch: an instant, which no zone moves.
                    Ok(parsed.to_naive_datetime_with_offset(0).map_err(incomplete)?.and_utc().timestamp_micros())
                } else {
                    zero_missing_time(&mut parsed);
                    let naive = parsed.to_naive_datetime_with_offset(0).map_err(incomplete)?;
                    zone.local_to_utc(naive.and_utc().timestamp_micros()).map_err(str::to_string)
                }
            }
        }
    }
}

/// Time fields a format leaves out are zero, as Python's `strptime`, Polars
/// and DuckDB take them: a date alone (`%Y-%m-%d`) is its midnight and an hour
/// without minutes (`%Y-%m-%d %H`) its whole hour. chrono asks for both. A
/// 12-hour clock without AM/PM (`%I` alone) stays an error: the hour is unknown.
fn zero_missing_time(parsed: &mut Parsed) {
    let no_hour = parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none();
    if no_hour && parsed.minute().is_none() && parsed.second().is_none() && parsed.nanosecond().is_none() {
        let _ = parsed.set_hour(0);
    }
    if parsed.hour_div_12().is_some() && parsed.hour_mod_12().is_some() && parsed.minute().is_none() && parsed.second().is_none() {
        let _ = parsed.set_minute(0);
    }
}

/// An epoch number: an integer, or for seconds and milliseconds a decimal
/// fraction (`1715940303.25`).
fn parse_epoch(text: &str, micros_per_unit: i64, nanos_divisor: i64) -> Result<i64, String> {
    let bad = || format!("'{text}' is not an epoch number");
    let out_of_range = || format!("the epoch '{text}' is out of range (a timestamp holds about 292,000 years either side of 1970)");
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: a number, if too large for 64 bits, still a number.
        let Ok(v) = text.parse::<i64>() else { return Err(out_of_range()) };
        return if nanos_divisor > 1 { Ok(v.div_euclid(nanos_divisor)) } else { v.checked_mul(micros_per_unit).ok_or_else(out_of_range) };
    }
    if micros_per_unit > 1 {
        let v: f64 = text.parse().map_err(|_| bad())?;
        let us = (v * micros_per_unit as f64).round();
        if us.is_finite() && us.abs() < 9.0e18 {
            return Ok(us as i64);
        }
        return Err(if v.is_finite() { out_of_range() } else { bad() });
    }
    Err(bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); valid for any year an i64 of microseconds can hold.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// The year of a UTC µs timestamp.
pub(crate) fn year_of(us: i64) -> i64 {
    let days = us.div_euclid(MICROS_PER_DAY);
    // civil_from_days, year only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// `Jan` .. `Dec`, any letter case.
pub(crate) fn month_from_abbr(b: &[u8]) -> Option<u32> {
    if b.len() != 3 {
        return None;
    }
    let key = [b[0].to_ascii_lowercase(), b[1].to_ascii_lowercase(), b[2].to_ascii_lowercase()];
    Some(match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Exactly `n` ASCII digits at `b[at..]`.
#[inline]
pub(crate) fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// A wall-clock date and time as µs "as if UTC", checking every range.
pub(crate) fn civil_us(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32, micros: u32) -> Result<i64, &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    // 60 is a leap second; it is folded into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(year, month, day);
    Ok(days * MICROS_PER_DAY + ((hour * 3600 + minute * 60) as i64 + second as i64) * MICROS_PER_SECOND + micros as i64)
}

/// `±HHMM`, `±HH:MM` or `±HH` → offset in seconds east of UTC, and its length.
fn parse_offset(b: &[u8]) -> Option<(i64, usize)> {
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(b, 1, 2)?;
    let (minutes, len) = match b.get(3) {
        None => (0, 3),
        Some(b':') => (digits(b, 4, 2)?, 6),
        Some(_) => (digits(b, 3, 2)?, 5),
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((sign * (hours as i64 * 3600 + minutes as i64 * 60), len))
}

/// Common Log Format: `10/Oct/2000:13:55:36 -0700` (exactly that layout).
pub(crate) fn parse_clf(b: &[u8]) -> Result<i64, &'static str> {
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
        return Err("expected dd/Mon/yyyy:HH:MM:SS +zzzz");
    }
    let day = digits(b, 0, 2).ok_or("bad day")?;
    let month = month_from_abbr(&b[3..6]).ok_or("bad month name")?;
    let year = digits(b, 7, 4).ok_or("bad year")?;
    let hour = digits(b, 12, 2).ok_or("bad hour")?;
    let minute = digits(b, 15, 2).ok_or("bad minute")?;
    let second = digits(b, 18, 2).ok_or("bad second")?;
    let (offset, _) = parse_offset(&b[21..]).ok_or("bad UTC offset")?;
    let wall = civil_us(year as i64, month, day, hour, minute, second, 0)?;
    Ok(wall - offset * MICROS_PER_SECOND)
}

/// Fraction digits after a `.` or `,`: (µs, digits consumed). Digits beyond
/// microseconds are read and truncated.
fn fraction(b: &[u8]) -> (u32, usize) {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut us = 0u32;
    for place in 0..6 {
        us = us * 10 + b.get(place).filter(|_| place < n).map_or(0, |&c| (c - b'0') as u32);
    }
    (us, n)
}

/// RFC 3339 / ISO 8601: `YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|±HH[:MM]]`, the
/// basic form `YYYYMMDDTHHMMSS[.f][Z|±HH[MM]]` (AWS writes it), or a date
/// alone (its midnight); the whole input must be consumed. Without an offset
/// the time is in `zone`.
pub(crate) fn parse_iso8601(b: &[u8], zone: Zone) -> Result<i64, &'static str> {
    const LAYOUT: &str = "expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]";
    let field = |at: usize, n: usize| digits(b, at, n).ok_or(LAYOUT);
    let basic = b.len() >= 15 && b[8] == b'T' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    // The date and time fields, where the rest starts, and whether the time
    // has seconds (only then may a fraction follow).
    let (year, month, day, hour, minute, second, mut at, has_seconds) = if basic {
        (field(0, 4)?, field(4, 2)?, field(6, 2)?, field(9, 2)?, field(11, 2)?, field(13, 2)?, 15, true)
    } else {
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(LAYOUT);
        }
        let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
        if b.len() == 10 {
            return zone.local_to_utc(civil_us(year as i64, month, day, 0, 0, 0, 0)?);
        }
        if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
            return Err(LAYOUT);
        }
        let (hour, minute) = (field(11, 2)?, field(14, 2)?);
        match b.get(16) {
            Some(b':') => (year, month, day, hour, minute, field(17, 2)?, 19, true),
            _ => (year, month, day, hour, minute, 0, 16, false),
        }
    };
    let mut micros = 0;
    if has_seconds && matches!(b.get(at), Some(b'.') | Some(b',')) {
        let (us, n) = fraction(&b[at + 1..]);
        if n == 0 {
            return Err(LAYOUT);
        }
        micros = us;
        at += 1 + n;
    }
    let wall = civil_us(year as i64, month, day, hour, minute, second, micros)?;
    match &b[at..] {
        [] => zone.local_to_utc(wall),
        [b'Z'] | [b'z'] => Ok(wall),
        rest => match parse_offset(rest) {
            Some((offset, len)) if len == rest.len() => Ok(wall - offset * MICROS_PER_SECOND),
            _ => Err(LAYOUT),
        },
    }
}

/// The `reference_time` option: RFC 3339, or "now".
pub(crate) fn parse_reference_time(text: &str) -> Result<i64> {
    if text == "now" {
        return Ok(now_us());
    }
    parse_iso8601(text.as_bytes(), Zone::Utc).map_err(|e| SashError::spec(format!("reference_time '{text}' is not an RFC 3339 time ({e})")))
}

/// BSD syslog `Mmm dd HH:MM:SS` (day space- or zero-padded, or one digit
/// followed by one space). Returns the month, day and seconds of the day, and
/// the length consumed.
pub(crate) fn parse_bsd_date(b: &[u8]) -> Option<(u32, u32, u32, usize)> {
    let month = month_from_abbr(b.get(0..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let (day, at) = match (b.get(4), b.get(5)) {
        (Some(b' '), Some(d)) if d.is_ascii_digit() => ((d - b'0') as u32, 6),
        (Some(d), Some(b' ')) if d.is_ascii_digit() => ((d - b'0') as u32, 5),
        _ => (digits(b, 4, 2)?, 6),
    };
    // `at` points at the separator before the time when the day had two places.
    let at = if b.get(at) == Some(&b' ') { at + 1 } else { at };
    let hour = digits(b, at, 2)?;
    let minute = digits(b, at + 3, 2)?;
    let second = digits(b, at + 6, 2)?;
    if b[at + 2] != b':' || b[at + 5] != b':' || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((month, day, hour * 3600 + minute * 60 + second, at + 8))
}

/// The year of a date written without one: the latest year that puts it at
/// most a day after the reference (so a December line read in January is
/// from the year before: vector#19584), counted in `zone`.
pub(crate) fn infer_year(month: u32, day: u32, second_of_day: u32, reference_us: i64, zone: Zone) -> Result<i64, &'static str> {
    // Compared as wall-clock times in the zone: the reference's local date
    // decides the year (a line stamped Jan 1 in Tokyo while it is still Dec 31
    // in UTC belongs to the new year), and a year whose date would fall in a
    // clock change is never converted unless it is the one chosen.
    let latest = zone.utc_to_wall(reference_us)? + MICROS_PER_DAY;
    let wall = |y: i64| civil_us(y, month, day, second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, 0);
    // The latest date at most a day after the reference: the year after
    // (a sender's clock a little ahead at New Year), the reference's year, or
    // the one before (a December line read in January); for Feb 29 the latest
    // such leap year.
    let mut year = year_of(latest) + 1;
    loop {
        if !(month == 2 && day == 29) || is_leap(year) {
            let w = wall(year)?;
            if w <= latest {
                return zone.local_to_utc(w);
            }
        }
        year -= 1;
    }
}

/// Apache error log: `Sun Dec 04 04:47:44 2005` or with a fraction
/// `Wed Oct 11 14:32:52.123456 2000` (2.4). Returns the wall-clock µs.
pub(crate) fn parse_ctime(b: &[u8]) -> Result<i64, &'static str> {
    const LAYOUT: &str = "expected Www Mmm dd HH:MM:SS[.ffffff] yyyy";
    if b.len() < 24 || b[3] != b' ' || b[7] != b' ' {
        return Err(LAYOUT);
    }
    let month = month_from_abbr(&b[4..7]).ok_or("bad month name")?;
    let day = match (b[8], b[9]) {
        (b' ', d) if d.is_ascii_digit() => (d - b'0') as u32,
        _ => digits(b, 8, 2).ok_or(LAYOUT)?,
    };
    if b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return Err(LAYOUT);
    }
    let hour = digits(b, 11, 2).ok_or(LAYOUT)?;
    let minute = digits(b, 14, 2).ok_or(LAYOUT)?;
    let second = digits(b, 17, 2).ok_or(LAYOUT)?;
    let mut at = 19;
    let mut micros = 0;
    if b[at] == b'.' {
        let (us, n) = fraction(&b[at + 1..]);
        if n == 0 {
            return Err(LAYOUT);
        }
        micros = us;
        at += 1 + n;
    }
    if b.get(at) != Some(&b' ') || b.len() != at + 5 {
        return Err(LAYOUT);
    }
    let year = digits(b, at + 1, 4).ok_or(LAYOUT)?;
    civil_us(year as i64, month, day, hour, minute, second, micros)
}

/// The last timestamp string parsed and its value: consecutive log lines
/// mostly repeat it, and comparing a few bytes is cheaper than parsing.
#[derive(Debug, Default)]
pub(crate) struct TsCache {
    key: Vec<u8>,
    value: i64,
}

impl TsCache {
    #[inline(always)]
    pub(crate) fn get_or<E>(&mut self, text: &[u8], parse: impl FnOnce(&[u8]) -> Result<i64, E>) -> Result<i64, E> {
        if !self.key.is_empty() && crate::bytes::short_eq(&self.key, text) {
            return Ok(self.value);
        }
        self.parse_and_keep(text, parse)
    }

    /// The miss, kept out of the callers' hot loops.
    #[inline(never)]
    fn parse_and_keep<E>(&mut self, text: &[u8], parse: impl FnOnce(&[u8]) -> Result<i64, E>) -> Result<i64, E> {
        let value = parse(text)?;
        self.key.clear();
        self.key.extend_from_slice(text);
        self.value = value;
        Ok(value)
    }
}

/// For tests and docs: a UTC date-time as µs.
pub fn utc_micros(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    NaiveDateTime::new(
        chrono::NaiveDate::from_ymd_opt(year, month, day).expect("valid date"),
        chrono::NaiveTime::from_hms_opt(hour, minute, second).expect("valid time"),
    )
    .and_utc()
    .timestamp_micros()
}

/// The current time, microseconds since the epoch (the default reference
/// time of formats whose timestamps have no year).
pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_chrono() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (1969, 12, 31), (2024, 12, 31), (1600, 3, 1), (2400, 2, 29)] {
            let want = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
            assert_eq!(days_from_civil(y as i64, m, d) * 86_400, want, "{y}-{m}-{d}");
            assert_eq!(year_of(want * MICROS_PER_SECOND), y as i64);
        }
    }

    #[test]
    fn clf_iso_ctime_bsd() {
        assert_eq!(parse_clf(b"10/Oct/2000:13:55:36 -0700"), Ok(utc_micros(2000, 10, 10, 20, 55, 36)));
        assert!(parse_clf(b"31/Feb/2000:13:55:36 -0700").is_err());
        assert_eq!(parse_iso8601(b"2003-10-11T22:14:15.003Z", Zone::Utc), Ok(utc_micros(2003, 10, 11, 22, 14, 15) + 3000));
        assert_eq!(parse_iso8601(b"2003-08-24T05:14:15.000003-07:00", Zone::Utc), Ok(utc_micros(2003, 8, 24, 12, 14, 15) + 3));
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(parse_iso8601(b"2024-07-01 12:00:00", paris), Ok(utc_micros(2024, 7, 1, 10, 0, 0)));
        assert!(parse_iso8601(b"2024-03-31 02:30:00", paris).is_err(), "in the spring-forward gap");
        // ISO 8601 forms other tools read too (Polars, Python's fromisoformat).
        assert_eq!(parse_iso8601(b"2024-07-01", paris), Ok(utc_micros(2024, 6, 30, 22, 0, 0)), "a date alone: its midnight");
        assert_eq!(parse_iso8601(b"2015-05-17T10:00:00+02", Zone::Utc), Ok(utc_micros(2015, 5, 17, 8, 0, 0)));
        assert_eq!(parse_iso8601(b"2015-05-17T10:00-0130", Zone::Utc), Ok(utc_micros(2015, 5, 17, 11, 30, 0)));
        assert_eq!(parse_iso8601(b"20150517T100000Z", Zone::Utc), Ok(utc_micros(2015, 5, 17, 10, 0, 0)));
        assert_eq!(parse_iso8601(b"20150517T100000.25+0200", Zone::Utc), Ok(utc_micros(2015, 5, 17, 8, 0, 0) + 250_000));
        assert_eq!(parse_iso8601(b"20150517T100000", paris), Ok(utc_micros(2015, 5, 17, 8, 0, 0)));
        for bad in [
            &b"2015-05-17T"[..],
            b"2015-05-17T10:00.5",
            b"2015-05-17+02",
            b"2015-05-1",
            b"2015-02-30",
            b"20150517T1000Z",
            b"20150517 100000",
            b"2015-05-17T10:00:00+2",
            b"2015-05-17T10:00:00+02:",
            b"2015-05-17T10:00:00+24",
        ] {
            assert!(parse_iso8601(bad, Zone::Utc).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_ctime(b"Sun Dec 04 04:47:44 2005"), Ok(utc_micros(2005, 12, 4, 4, 47, 44)));
        assert_eq!(parse_ctime(b"Wed Oct 11 14:32:52.123456 2000"), Ok(utc_micros(2000, 10, 11, 14, 32, 52) + 123_456));
        assert_eq!(parse_bsd_date(b"Jun  4 15:16:01 x"), Some((6, 4, 15 * 3600 + 16 * 60 + 1, 15)));
        assert_eq!(parse_bsd_date(b"Jun 14 15:16:01"), Some((6, 14, 15 * 3600 + 16 * 60 + 1, 15)));
    }

    #[test]
    fn year_rolls_back_for_future_dates() {
        let reference = utc_micros(2024, 1, 2, 0, 0, 0);
        assert_eq!(infer_year(12, 31, 3600, reference, Zone::Utc), Ok(utc_micros(2023, 12, 31, 1, 0, 0)));
        assert_eq!(infer_year(1, 1, 3600, reference, Zone::Utc), Ok(utc_micros(2024, 1, 1, 1, 0, 0)));
        assert_eq!(infer_year(2, 29, 0, reference, Zone::Utc), Ok(utc_micros(2020, 2, 29, 0, 0, 0)));
        // A sender's clock a little ahead at New Year: the date is in the next year.
        let reference = utc_micros(2023, 12, 31, 23, 50, 0);
        assert_eq!(infer_year(1, 1, 600, reference, Zone::Utc), Ok(utc_micros(2024, 1, 1, 0, 10, 0)));
        assert_eq!(infer_year(12, 31, 23 * 3600, reference, Zone::Utc), Ok(utc_micros(2023, 12, 31, 23, 0, 0)));
        // The year is the reference's in the zone: 23:30 UTC on Dec 31 is already Jan 1 in Tokyo.
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        let reference = utc_micros(2025, 12, 31, 23, 30, 0);
        assert_eq!(infer_year(1, 1, 8 * 3600, reference, tokyo), Ok(utc_micros(2025, 12, 31, 23, 0, 0)));
        assert_eq!(infer_year(12, 31, 8 * 3600, reference, tokyo), Ok(utc_micros(2025, 12, 30, 23, 0, 0)));
        // A date that never exists stays an error.
        assert!(infer_year(4, 31, 0, reference, tokyo).is_err());
    }

    #[test]
    fn strftime_and_epochs() {
        let f = TimeFormat::parse("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(f.parse_value("10/Oct/2000:13:55:36 -0700", Zone::Utc), Ok(utc_micros(2000, 10, 10, 20, 55, 36)));
        let f = TimeFormat::parse("%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(f.parse_value("2000-10-10 13:55:36", Zone::Utc), Ok(utc_micros(2000, 10, 10, 13, 55, 36)));
        assert!(f.parse_value("2000-10-10", Zone::Utc).is_err());
        // Time fields left out of the format are zero.
        let paris = Zone::parse("Europe/Paris").unwrap();
        let f = TimeFormat::parse("%Y-%m-%d").unwrap();
        assert_eq!(f.parse_value("2000-10-10", Zone::Utc), Ok(utc_micros(2000, 10, 10, 0, 0, 0)));
        assert_eq!(f.parse_value("2000-10-10", paris), Ok(utc_micros(2000, 10, 9, 22, 0, 0)));
        let f = TimeFormat::parse("%j/%Y %H").unwrap();
        assert_eq!(f.parse_value("285/2000 13", Zone::Utc), Ok(utc_micros(2000, 10, 11, 13, 0, 0)));
        let f = TimeFormat::parse("%Y-%m-%d %I").unwrap();
        assert!(f.parse_value("2000-10-10 01", Zone::Utc).is_err(), "AM or PM is unknown");
        let f = TimeFormat::parse("%Y-%m-%d %M").unwrap();
        assert!(f.parse_value("2000-10-10 30", Zone::Utc).is_err(), "minutes without an hour");
        // `%s` is an instant: the zone of zone-less times does not move it.
        let f = TimeFormat::parse("%s").unwrap();
        assert_eq!(f.parse_value("971186136", paris), Ok(utc_micros(2000, 10, 10, 13, 55, 36)));
        let f = TimeFormat::parse("%s %Y").unwrap();
        assert!(f.parse_value("971186136 1999", paris).is_err(), "fields that disagree with the epoch");
        assert_eq!(TimeFormat::EpochMillis.parse_value("1500", Zone::Utc), Ok(1_500_000));
        assert_eq!(TimeFormat::EpochSeconds.parse_value("1.25", Zone::Utc), Ok(1_250_000));
        assert_eq!(TimeFormat::EpochNanos.parse_value("1999", Zone::Utc), Ok(1));
    }
}
