//! Apache error logs.
//!
//! - 2.2: `[Sun Dec 04 04:47:44 2005] [notice] message`
//! - 2.4: `[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50213] message`
//!
//! The `[pid ...]` and `[client ...]` groups are optional; the timestamp has
//! no zone (the spec's `timezone` applies).

use crate::parse::fields::{describe_byte, excerpt};
use crate::parse::row::{Columns, Failure, LineCtx, Parsed};
use crate::parse::spec::{timestamp_type, StringOutput};
use crate::parse::time::{parse_ctime, TsCache, Zone};
use crate::parse::LineParser;
use arrow_schema::{DataType, Field};

const TIMESTAMP: usize = 0;
const MODULE: usize = 1;
const LEVEL: usize = 2;
const PID: usize = 3;
const TID: usize = 4;
const CLIENT: usize = 5;
const MESSAGE: usize = 6;

#[derive(Debug)]
pub(crate) struct ApacheErrorParser {
    zone: Zone,
    cache: TsCache,
}

impl ApacheErrorParser {
    pub(crate) fn new(zone: Zone) -> ApacheErrorParser {
        ApacheErrorParser { zone, cache: TsCache::default() }
    }
}

/// `[...]` at `at`: the content's range and the position after `]`.
fn bracket(b: &[u8], at: usize, name: &str) -> Result<(usize, usize, usize), Failure> {
    match b.get(at) {
        Some(b'[') => {}
        None => return Err(Failure::new(name, at, "missing: the line ends before it")),
        Some(&c) => return Err(Failure::new(name, at, format!("expected '[', found {}", describe_byte(c)))),
    }
    let close = memchr::memchr(b']', &b[at..])
        .map(|i| at + i)
        .ok_or_else(|| Failure::new(name, b.len(), format!("no closing ']' for the '[' at byte {at}: the line ends")))?;
    Ok((at + 1, close, close + 1))
}

fn number<T: std::str::FromStr>(b: &[u8], name: &str, at: usize) -> Result<T, Failure> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::new(name, at, format!("expected a number, found '{}'", excerpt(b))))
}

impl LineParser for ApacheErrorParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        let s = strings.data_type();
        vec![
            Field::new("timestamp", timestamp_type(), true),
            Field::new("module", s.clone(), true),
            Field::new("level", s.clone(), true),
            Field::new("pid", DataType::UInt32, true),
            Field::new("tid", DataType::UInt64, true),
            Field::new("client", s.clone(), true),
            Field::new("message", s, true),
        ]
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
        let (start, end, mut at) = bracket(b, 0, "timestamp")?;
        let zone = self.zone;
        let ts = self
            .cache
            .get_or(&b[start..end], |t| parse_ctime(t).and_then(|wall| zone.local_to_utc(wall)))
            .map_err(|why| Failure::new("timestamp", start, format!("{why}, found '{}'", excerpt(&b[start..end]))))?;
        cols.ts(TIMESTAMP).push(ts);
        if b.get(at) == Some(&b' ') {
            at += 1;
        }
        // [level] or [module:level]
        let (start, end, next) = bracket(b, at, "level")?;
        ctx.check_cut("level", end)?;
        match memchr::memchr(b':', &b[start..end]) {
            Some(i) => {
                cols.str(MODULE).push_view(ctx.view(start, start + i));
                cols.str(LEVEL).push_view(ctx.view(start + i + 1, end));
            }
            None => cols.str(LEVEL).push_view(ctx.view(start, end)),
        }
        at = next;
        loop {
            if b.get(at) == Some(&b' ') {
                at += 1;
            }
            let rest = &b[at..];
            if rest.starts_with(b"[pid ") && !cols.is_set(PID) {
                let (start, end, next) = bracket(b, at, "pid")?;
                let inner = &b[start + 4..end];
                match memchr::memchr(b':', inner) {
                    Some(i) => {
                        let pid = number(&inner[..i], "pid", start + 4)?;
                        cols.u32(PID).push(pid);
                        let tid = inner[i + 1..].strip_prefix(b"tid ").ok_or_else(|| {
                            Failure::new("tid", start + 5 + i, format!("expected 'tid N', found '{}'", excerpt(&inner[i + 1..])))
                        })?;
                        let tid = number(tid, "tid", start + 9 + i)?;
                        cols.u64(TID).push(tid);
                    }
                    None => {
                        let pid = number(inner, "pid", start + 4)?;
                        cols.u32(PID).push(pid);
                    }
                }
                at = next;
            } else if rest.starts_with(b"[client ") && !cols.is_set(CLIENT) {
                let (start, end, next) = bracket(b, at, "client")?;
                ctx.check_cut("client", end)?;
                cols.str(CLIENT).push_view(ctx.view(start + 7, end));
                at = next;
                // The message follows the client.
                if b.get(at) == Some(&b' ') {
                    at += 1;
                }
                break;
            } else {
                break;
            }
        }
        ctx.check_cut("message", b.len())?;
        if at <= b.len() && !(at == b.len() && b.last() == Some(&b']')) {
            cols.str(MESSAGE).push_view(ctx.view(at.min(b.len()), b.len()));
        }
        Ok(())
    }
}
