//! Durations in specs: `"1h30m"`, `"500ms"`, `"2w"`, or plain integers for
//! integer time columns and row counts (`10`, `"10"`, `"10i"`).

use crate::error::{Result, SashError};
use serde_json::Value;
use std::fmt;

/// A duration as written in a spec, before it meets a time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// A physical duration, in nanoseconds (`"1h30m"`).
    Time { nanos: i64 },
    /// A bare count: units of an integer time column, or rows for rolling (`"100i"`).
    Count(i64),
}

const UNITS: &[(&str, i64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
    ("w", 7 * 86_400 * 1_000_000_000),
];

/// Nanoseconds in one `unit`: a short unit (`ns` … `w`, case as written,
/// so that `M` is not taken for minutes) or the words Spark and pandas write
/// (`minute`, `minutes`, `min`, `sec`, `hour`, ..., in any case).
fn unit_nanos(unit: &str) -> Option<i64> {
    if let Some((_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) {
        return Some(*nanos);
    }
    let word = unit.to_ascii_lowercase();
    let short = match word.strip_suffix('s').unwrap_or(&word) {
        "nanosecond" | "nsec" => "ns",
        "microsecond" | "usec" => "us",
        "millisecond" | "msec" => "ms",
        "second" | "sec" => "s",
        "minute" | "min" => "m",
        "hour" | "hr" => "h",
        "day" => "d",
        "week" => "w",
        _ => return None,
    };
    UNITS.iter().find(|(name, _)| *name == short).map(|(_, nanos)| *nanos)
}

fn is_calendar_unit(unit: &str) -> bool {
    let word = unit.to_ascii_lowercase();
    matches!(word.strip_suffix('s').unwrap_or(&word), "mo" | "y" | "q" | "month" | "quarter" | "year" | "yr")
}

impl Duration {
    /// Parses `"1h30m"`, `"-5m"`, `"10i"`, `"10"`.
    pub fn parse(input: &str) -> Result<Duration> {
        let bad = |reason: &str| SashError::InvalidDuration { input: input.to_string(), reason: reason.to_string() };
        let text = input.trim();
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(bad("empty duration"));
        }
        let sign = if negative { -1 } else { 1 };
        if body.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = body.parse().map_err(|_| bad("number too large"))?;
            return Ok(Duration::Count(sign * n));
        }
        if let Some(digits) = body.strip_suffix('i') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let n: i64 = digits.parse().map_err(|_| bad("number too large"))?;
                return Ok(Duration::Count(sign * n));
            }
        }
        let mut total: i64 = 0;
        let mut rest = body;
        let mut units_seen: Vec<i64> = Vec::new();
        while !rest.is_empty() {
            let digits_len = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            if digits_len == 0 {
                return Err(bad("expected a number before each unit, as in \"1h30m\" or \"1 hour 30 minutes\""));
            }
            let number: i64 = rest[..digits_len].parse().map_err(|_| bad("number too large"))?;
            rest = &rest[digits_len..];
            if rest.starts_with('.') {
                return Err(bad("fractions are not allowed; use a smaller unit (\"90m\" for 1.5h)"));
            }
            rest = rest.trim_start();
            let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == ' ').unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let per_unit = match unit_nanos(unit) {
                Some(nanos) => nanos,
                None if is_calendar_unit(unit) => return Err(bad("calendar months, quarters and years are not supported yet")),
                None if unit.is_empty() => return Err(bad("missing unit (ns, us, ms, s, m, h, d, w)")),
                None => return Err(bad(&format!("unknown unit '{unit}'; expected ns, us, ms, s, m, h, d or w"))),
            };
            if units_seen.contains(&per_unit) {
                return Err(bad(&format!("the unit '{unit}' is given twice; write each unit once, as in \"1h30m\"")));
            }
            units_seen.push(per_unit);
            let part = number.checked_mul(per_unit).ok_or_else(|| bad("too large"))?;
            total = total.checked_add(part).ok_or_else(|| bad("too large"))?;
            rest = rest[unit_len..].trim_start();
        }
        Ok(Duration::Time { nanos: sign * total })
    }

    /// Reads a duration from a JSON spec value: a string or an integer.
    pub fn from_json(key: &str, value: &Value) -> Result<Duration> {
        match value {
            Value::String(s) => Duration::parse(s),
            Value::Number(n) => match n.as_i64() {
                Some(v) => Ok(Duration::Count(v)),
                None => Err(SashError::InvalidDuration {
                    input: n.to_string(),
                    reason: format!("'{key}' must be an integer or a duration string"),
                }),
            },
            other => Err(SashError::spec(format!("'{key}' must be a duration string or an integer, got {other}"))),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Duration::Count(n) => write!(f, "{n}"),
            Duration::Time { nanos: 0 } => write!(f, "0s"),
            Duration::Time { nanos } => {
                // The largest unit that divides the duration exactly: "1500ms", "36h".
                let (name, per) = UNITS.iter().rev().find(|(name, per)| *name != "µs" && nanos % per == 0).expect("ns divides everything");
                write!(f, "{}{name}", nanos / per)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compounds_and_counts() {
        assert_eq!(Duration::parse("1h30m").unwrap(), Duration::Time { nanos: 5_400_000_000_000 });
        assert_eq!(Duration::parse("-5m").unwrap(), Duration::Time { nanos: -300_000_000_000 });
        assert_eq!(Duration::parse("250us").unwrap(), Duration::Time { nanos: 250_000 });
        assert_eq!(Duration::parse("100i").unwrap(), Duration::Count(100));
        assert_eq!(Duration::parse("42").unwrap(), Duration::Count(42));
        assert_eq!(Duration::parse("8d").unwrap().to_string(), "8d");
        assert_eq!(Duration::parse("1d12h").unwrap().to_string(), "36h");
        assert_eq!(Duration::parse("1h30m").unwrap().to_string(), "90m");
        assert_eq!(Duration::parse("0m").unwrap().to_string(), "0s");
    }

    /// The words Spark's window() and pandas take, with or without spaces.
    #[test]
    fn parses_the_words_other_tools_write() {
        let minutes = |n: i64| Duration::Time { nanos: n * 60_000_000_000 };
        for (text, want) in [
            ("10 minutes", minutes(10)),
            ("1 minute", minutes(1)),
            ("5min", minutes(5)),
            ("5 Mins", minutes(5)),
            ("10 m", minutes(10)),
            ("1 hour 30 minutes", minutes(90)),
            ("1h 30m", minutes(90)),
            ("2 hrs", minutes(120)),
            ("1 day", minutes(1440)),
            ("2 weeks", minutes(20160)),
            ("-5 minutes", minutes(-5)),
            (" 30 sec ", Duration::Time { nanos: 30_000_000_000 }),
            ("1 second", Duration::Time { nanos: 1_000_000_000 }),
            ("250 milliseconds", Duration::Time { nanos: 250_000_000 }),
            ("3 microseconds", Duration::Time { nanos: 3_000 }),
            ("7 nanoseconds", Duration::Time { nanos: 7 }),
            ("5 msec", Duration::Time { nanos: 5_000_000 }),
        ] {
            assert_eq!(Duration::parse(text).ok(), Some(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [
            "",
            "h",
            "1.5h",
            "3mo",
            "1x",
            "10 parsecs",
            "1M",
            "2 months",
            "1 year",
            "99999999999999999999s",
            "1h-",
            "1 h 30",
            "minutes",
            "1h1h",
            "1 hour 2 h",
            "5m 10 minutes",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
