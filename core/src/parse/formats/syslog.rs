//! Syslog: RFC 5424 and RFC 3164 ("BSD"), told apart on each line.
//!
//! - RFC 5424: `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
//!   The NILVALUE `-` is null in every field, never an error (vrl#1471).
//! - RFC 3164: `[<PRI>]Mmm dd HH:MM:SS HOSTNAME TAG[PID]: MSG`. The date has no
//!   year and no zone: the year comes from the spec's `reference_time` (the
//!   year before when the date would be later than it: vector#19584) and the
//!   zone from `timezone`. An ISO 8601 timestamp in place of the BSD date is
//!   accepted too (rsyslog's high-precision format).

use crate::parse::fields::{describe_byte, excerpt};
use crate::parse::row::{Columns, Failure, LineCtx, Parsed};
use crate::parse::scan::token_end;
use crate::parse::spec::{timestamp_type, StringOutput};
use crate::parse::time::{infer_year, parse_bsd_date, parse_iso8601, TsCache, Zone};
use crate::parse::LineParser;
use arrow_schema::{DataType, Field};

const FACILITY: usize = 0;
const SEVERITY: usize = 1;
const VERSION: usize = 2;
const TIMESTAMP: usize = 3;
const HOSTNAME: usize = 4;
const APPNAME: usize = 5;
const PROCID: usize = 6;
const MSGID: usize = 7;
const STRUCTURED_DATA: usize = 8;
const MESSAGE: usize = 9;

/// A BSD tag longer than this is not a tag: the line has none.
const MAX_TAG: usize = 48;

#[derive(Debug)]
pub(crate) struct SyslogParser {
    zone: Zone,
    reference_us: i64,
    cache: TsCache,
}

impl SyslogParser {
    pub(crate) fn new(zone: Zone, reference_us: i64) -> SyslogParser {
        SyslogParser { zone, reference_us, cache: TsCache::default() }
    }
}

/// An RFC 5424 header field: `-` is null.
fn nil_or_text(cols: &mut Columns, col: usize, ctx: &LineCtx, at: usize, name: &str) -> Result<usize, Failure> {
    let b = ctx.bytes;
    if at >= b.len() {
        return Err(Failure::new(name, at, "missing: the line ends before it"));
    }
    let end = token_end(b, at);
    if end == at {
        return Err(Failure::new(name, at, "empty: RFC 5424 separates fields with exactly one space"));
    }
    ctx.check_cut(name, end)?;
    if &b[at..end] == b"-" {
        cols.set_null(col);
    } else {
        cols.str(col).push_view(ctx.view(at, end));
    }
    if end == b.len() {
        return Err(Failure::new("structured_data", end, format!("missing: the line ends after {name}")));
    }
    Ok(end + 1)
}

/// The end of RFC 5424 structured data starting at `at` with `[`: the
/// position after the last `]` of consecutive elements. Inside quoted
/// parameter values `\]`, `\"` and `\\` are escapes.
fn structured_data_end(b: &[u8], mut at: usize) -> Result<usize, Failure> {
    while b.get(at) == Some(&b'[') {
        let open = at;
        let mut in_quotes = false;
        at += 1;
        loop {
            match b.get(at) {
                None => {
                    return Err(Failure::new(
                        "structured_data",
                        b.len(),
                        format!("no closing ']' for the '[' at byte {open}: the line ends"),
                    ))
                }
                Some(b'\\') if in_quotes => at += 2,
                Some(b'"') => {
                    in_quotes = !in_quotes;
                    at += 1;
                }
                Some(b']') if !in_quotes => {
                    at += 1;
                    break;
                }
                Some(_) => at += 1,
            }
        }
    }
    Ok(at.min(b.len()))
}

impl SyslogParser {
    fn rfc5424(&mut self, ctx: &LineCtx, cols: &mut Columns, at: usize) -> Parsed {
        let b = ctx.bytes;
        // TIMESTAMP
        if at >= b.len() {
            return Err(Failure::new("timestamp", at, "missing: the line ends before it"));
        }
        let end = token_end(b, at);
        let text = &b[at..end];
        if text == b"-" {
            cols.set_null(TIMESTAMP);
        } else {
            let zone = self.zone;
            let ts = self
                .cache
                .get_or(text, |t| parse_iso8601(t, zone))
                .map_err(|why| Failure::new("timestamp", at, format!("{why}, found '{}'", excerpt(text))))?;
            cols.ts(TIMESTAMP).push(ts);
        }
        if end == b.len() {
            return Err(Failure::new("hostname", end, "missing: the line ends after timestamp"));
        }
        let at = nil_or_text(cols, HOSTNAME, ctx, end + 1, "hostname")?;
        let at = nil_or_text(cols, APPNAME, ctx, at, "appname")?;
        let at = nil_or_text(cols, PROCID, ctx, at, "procid")?;
        let at = nil_or_text(cols, MSGID, ctx, at, "msgid")?;
        // STRUCTURED-DATA
        let end = match b.get(at) {
            Some(b'-') => {
                cols.set_null(STRUCTURED_DATA);
                at + 1
            }
            Some(b'[') => {
                let end = structured_data_end(b, at)?;
                ctx.check_cut("structured_data", end)?;
                cols.str(STRUCTURED_DATA).push_view(ctx.view(at, end));
                end
            }
            None => return Err(Failure::new("structured_data", at, "missing: the line ends before it")),
            Some(&c) => return Err(Failure::new("structured_data", at, format!("expected '-' or '[', found {}", describe_byte(c)))),
        };
        // [SP MSG]; a UTF-8 byte order mark opening MSG is not part of it.
        match b.get(end) {
            None => {
                ctx.check_cut("message", end)?;
                Ok(())
            }
            Some(b' ') => {
                let mut start = end + 1;
                if b[start..].starts_with(b"\xEF\xBB\xBF") {
                    start += 3;
                }
                ctx.check_cut("message", b.len())?;
                cols.str(MESSAGE).push_view(ctx.view(start, b.len()));
                Ok(())
            }
            Some(&c) => {
                Err(Failure::new("structured_data", end, format!("expected a space or the end of the line, found {}", describe_byte(c))))
            }
        }
    }

    fn rfc3164(&mut self, ctx: &LineCtx, cols: &mut Columns, at: usize) -> Parsed {
        let b = ctx.bytes;
        let (ts, end) = if let Some((month, day, second_of_day, len)) = parse_bsd_date(&b[at..]) {
            let (zone, reference) = (self.zone, self.reference_us);
            let ts = self
                .cache
                .get_or(&b[at..at + len], |_| infer_year(month, day, second_of_day, reference, zone))
                .map_err(|why| Failure::new("timestamp", at, format!("{why}, found '{}'", excerpt(&b[at..at + len]))))?;
            (ts, at + len)
        } else if b.get(at).is_some_and(u8::is_ascii_digit) {
            let end = token_end(b, at);
            let zone = self.zone;
            let ts = self
                .cache
                .get_or(&b[at..end], |t| parse_iso8601(t, zone))
                .map_err(|why| Failure::new("timestamp", at, format!("{why}, found '{}'", excerpt(&b[at..end]))))?;
            (ts, end)
        } else {
            return Err(Failure::new(
                "timestamp",
                at,
                format!("expected 'Mmm dd HH:MM:SS' or an RFC 3339 time, found '{}'", excerpt(&b[at..b.len().min(at + 15)])),
            ));
        };
        cols.ts(TIMESTAMP).push(ts);
        match b.get(end) {
            Some(b' ') => {}
            None => return Err(Failure::new("hostname", end, "missing: the line ends after timestamp")),
            Some(&c) => return Err(Failure::new("timestamp", end, format!("expected a space after it, found {}", describe_byte(c)))),
        }
        let at = end + 1;
        let end = token_end(b, at);
        if end == at {
            return Err(Failure::new("hostname", at, "empty: expected a host name after the timestamp"));
        }
        ctx.check_cut("hostname", end)?;
        cols.str(HOSTNAME).push_view(ctx.view(at, end));
        // TAG: extra spaces before it are padding.
        let mut at = end;
        while b.get(at) == Some(&b' ') {
            at += 1;
        }
        let window = &b[at..b.len().min(at + MAX_TAG)];
        let tag_end = memchr::memchr2(b':', b'[', window).map(|i| at + i);
        let msg_start = match tag_end {
            Some(i) if i > at && b[i] == b'[' => {
                let Some(close) = memchr::memchr(b']', &b[i..]).map(|j| i + j) else {
                    return Err(Failure::new("procid", b.len(), format!("no closing ']' for the '[' at byte {i}: the line ends")));
                };
                ctx.check_cut("procid", close)?;
                cols.str(APPNAME).push_view(ctx.view(at, i));
                cols.str(PROCID).push_view(ctx.view(i + 1, close));
                let mut m = close + 1;
                if b.get(m) == Some(&b':') {
                    m += 1;
                }
                m
            }
            Some(i) if i > at && b[i] == b':' => {
                ctx.check_cut("appname", i)?;
                cols.str(APPNAME).push_view(ctx.view(at, i));
                i + 1
            }
            _ => at,
        };
        let start = if b.get(msg_start) == Some(&b' ') { msg_start + 1 } else { msg_start };
        ctx.check_cut("message", b.len())?;
        cols.str(MESSAGE).push_view(ctx.view(start.min(b.len()), b.len()));
        Ok(())
    }
}

impl LineParser for SyslogParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        let s = strings.data_type();
        vec![
            Field::new("facility", DataType::UInt8, true),
            Field::new("severity", DataType::UInt8, true),
            Field::new("version", DataType::UInt8, true),
            Field::new("timestamp", timestamp_type(), true),
            Field::new("hostname", s.clone(), true),
            Field::new("appname", s.clone(), true),
            Field::new("procid", s.clone(), true),
            Field::new("msgid", s.clone(), true),
            Field::new("structured_data", s.clone(), true),
            Field::new("message", s, true),
        ]
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
        let mut at = 0;
        if b.first() == Some(&b'<') {
            let digits = b[1..].iter().take(4).take_while(|c| c.is_ascii_digit()).count();
            let pri: u32 = std::str::from_utf8(&b[1..1 + digits]).ok().and_then(|s| s.parse().ok()).unwrap_or(u32::MAX);
            if digits == 0 || digits > 3 || b.get(1 + digits) != Some(&b'>') || pri > 191 {
                return Err(Failure::new(
                    "facility",
                    0,
                    format!("expected <PRI> with PRI in 0..=191, found '{}'", excerpt(&b[..b.len().min(6)])),
                ));
            }
            cols.u8(FACILITY).push((pri / 8) as u8);
            cols.u8(SEVERITY).push((pri % 8) as u8);
            at = digits + 2;
            // RFC 5424: a version (1-3 digits, not 0) and a space.
            let v = b[at..].iter().take(4).take_while(|c| c.is_ascii_digit()).count();
            if (1..=3).contains(&v) && b[at] != b'0' && b.get(at + v) == Some(&b' ') {
                let version: u16 = std::str::from_utf8(&b[at..at + v]).unwrap().parse().unwrap();
                if version > 255 {
                    return Err(Failure::new("version", at, format!("version {version} is out of range")));
                }
                cols.u8(VERSION).push(version as u8);
                return self.rfc5424(ctx, cols, at + v + 1);
            }
        }
        self.rfc3164(ctx, cols, at)
    }
}
