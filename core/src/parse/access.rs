//! Apache/nginx access logs: Common Log Format and its "combined" extension.
//!
//! `host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD PATH PROTOCOL" status size "referrer" "user agent"`
//!
//! Fields are found left to right with one pass over the line; string fields
//! are views into the input. Quoted fields end at the first `"` that is not
//! escaped: Apache writes `\"`, nginx writes `\x22`; a value holding escapes
//! is decoded into a copy, every other value stays a view.

use super::row::{Columns, Failure, LineCtx, Parsed};
use super::scan::{find_either, token_end};
use super::spec::{timestamp_type, StringOutput};
use super::time::{parse_clf, TsCache};
use super::LineParser;
use arrow_schema::{DataType, Field};

const HOST: usize = 0;
const IDENT: usize = 1;
const USER: usize = 2;
const TIMESTAMP: usize = 3;
const METHOD: usize = 4;
const PATH: usize = 5;
const PROTOCOL: usize = 6;
const STATUS: usize = 7;
const SIZE: usize = 8;
const REFERRER: usize = 9;
const USER_AGENT: usize = 10;

#[derive(Debug)]
pub(crate) struct AccessParser {
    combined: bool,
    cache: TsCache,
    decoded: Vec<u8>,
}

impl AccessParser {
    pub(crate) fn new(combined: bool) -> AccessParser {
        AccessParser { combined, cache: TsCache::default(), decoded: Vec::new() }
    }
}

/// Expects one space at `at` (before `next`), returning the position after it.
#[inline(always)]
fn space(b: &[u8], at: usize, next: &str, after: &str) -> Result<usize, Failure> {
    if b.get(at) == Some(&b' ') {
        Ok(at + 1)
    } else {
        Err(no_space(b, at, next, after))
    }
}

#[cold]
#[inline(never)]
fn no_space(b: &[u8], at: usize, next: &str, after: &str) -> Failure {
    match b.get(at) {
        None => Failure::new(next, at, format!("missing: the line ends after {after}")),
        Some(&c) => Failure::new(after, at, format!("unexpected {} where a space should end it", describe_byte(c))),
    }
}

pub(crate) fn describe_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// A short, printable excerpt of bad input for error messages.
pub(crate) fn excerpt(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(&b[..b.len().min(40)]);
    let mut out: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if b.len() > 40 {
        out.push('…');
    }
    out
}

/// A space-delimited string field where `-` means "not given" (null).
#[inline]
fn dash_field(cols: &mut Columns, col: usize, ctx: &LineCtx, start: usize, end: usize, name: &str) -> Parsed {
    ctx.check_cut(name, end)?;
    if &ctx.bytes[start..end] == b"-" {
        cols.set_null(col);
    } else {
        cols.str(col).push_view(ctx.view(start, end));
    }
    Ok(())
}

/// Finds the closing quote of a quoted field whose content starts at `at`;
/// returns (end of content, whether it holds escapes).
#[inline]
pub(crate) fn closing_quote(b: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        let i = find_either(b, at, b'"', b'\\');
        if i == b.len() {
            return None;
        }
        if b[i] == b'"' {
            return Some((i, escaped));
        }
        escaped = true;
        at = i + 2;
        if at > b.len() {
            return None;
        }
    }
}

/// Decodes `\"`, `\\`, `\xHH`, `\n`, `\t`, `\r` (others are kept as
/// written). Returns false when the result would not be valid UTF-8, in which
/// case the caller keeps the raw text.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let hex = |d: u8| (d as char).to_digit(16);
        match raw[i + 1] {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'x' if i + 3 < raw.len() && hex(raw[i + 2]).is_some() && hex(raw[i + 3]).is_some() => {
                out.push((hex(raw[i + 2]).unwrap() * 16 + hex(raw[i + 3]).unwrap()) as u8);
                i += 4;
                continue;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
        i += 2;
    }
    std::str::from_utf8(out).is_ok()
}

/// A quoted field's content `[start, end)`: a view, or a decoded copy when
/// it holds escapes (the raw text when decoding would break UTF-8).
#[inline]
pub(crate) fn push_text(cols: &mut Columns, col: usize, ctx: &LineCtx, start: usize, end: usize, escaped: bool, scratch: &mut Vec<u8>) {
    if escaped && unescape(&ctx.bytes[start..end], scratch) {
        cols.str(col).push_owned(scratch);
    } else {
        cols.str(col).push_view(ctx.view(start, end));
    }
}

impl AccessParser {
    /// `"METHOD PATH PROTOCOL"` content in `[start, end)`. `-` (no request)
    /// leaves all three null; a request without spaces is all path. Each
    /// part is decoded on its own: escapes never hold a space (Apache and
    /// nginx write spaces as they are), so splitting first gives the parts
    /// of the decoded request.
    fn request(&mut self, cols: &mut Columns, ctx: &LineCtx, start: usize, end: usize, escaped: bool) {
        let b = ctx.bytes;
        let req = &b[start..end];
        if req == b"-" {
            return;
        }
        let Some(first) = memchr::memchr(b' ', req) else {
            cols.set_null(METHOD);
            push_text(cols, PATH, ctx, start, end, escaped, &mut self.decoded);
            return;
        };
        push_text(cols, METHOD, ctx, start, start + first, escaped, &mut self.decoded);
        let last = memchr::memrchr(b' ', req).unwrap_or(first);
        if last > first && req[last + 1..].starts_with(b"HTTP/") {
            push_text(cols, PATH, ctx, start + first + 1, start + last, escaped, &mut self.decoded);
            push_text(cols, PROTOCOL, ctx, start + last + 1, end, escaped, &mut self.decoded);
        } else {
            push_text(cols, PATH, ctx, start + first + 1, end, escaped, &mut self.decoded);
        }
    }

    fn quoted(&mut self, cols: &mut Columns, ctx: &LineCtx, col: usize, at: usize, name: &str) -> Result<usize, Failure> {
        let b = ctx.bytes;
        match b.get(at) {
            Some(b'"') => {}
            None => return Err(Failure::new(name, at, "missing: the line ends before it")),
            Some(&c) => return Err(Failure::new(name, at, format!("expected '\"', found {}", describe_byte(c)))),
        }
        let Some((end, escaped)) = closing_quote(b, at + 1) else {
            return Err(Failure::new(name, b.len(), format!("no closing '\"' for the quote at byte {at}: the line ends")));
        };
        if &b[at + 1..end] == b"-" {
            cols.set_null(col);
        } else {
            push_text(cols, col, ctx, at + 1, end, escaped, &mut self.decoded);
        }
        Ok(end + 1)
    }
}

impl LineParser for AccessParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        let s = strings.data_type();
        let mut fields = vec![
            Field::new("host", s.clone(), true),
            Field::new("ident", s.clone(), true),
            Field::new("user", s.clone(), true),
            Field::new("timestamp", timestamp_type(), true),
            Field::new("method", s.clone(), true),
            Field::new("path", s.clone(), true),
            Field::new("protocol", s.clone(), true),
            Field::new("status", DataType::UInt16, true),
            Field::new("size", DataType::UInt64, true),
        ];
        if self.combined {
            fields.push(Field::new("referrer", s.clone(), true));
            fields.push(Field::new("user_agent", s, true));
        }
        fields
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let mut b = ctx.bytes;
        while let [rest @ .., b' ' | b'\t'] = b {
            b = rest;
        }
        let ctx = &LineCtx { bytes: b, ..*ctx };

        let end = token_end(b, 0);
        ctx.check_cut("host", end)?;
        cols.str(HOST).push_view(ctx.view(0, end));
        let at = space(b, end, "ident", "host")?;
        let end = token_end(b, at);
        dash_field(cols, IDENT, ctx, at, end, "ident")?;
        let at = space(b, end, "user", "ident")?;
        let end = token_end(b, at);
        dash_field(cols, USER, ctx, at, end, "user")?;
        let at = space(b, end, "timestamp", "user")?;

        // [dd/Mon/yyyy:HH:MM:SS +zzzz]
        if b.get(at) != Some(&b'[') {
            return Err(match b.get(at) {
                None => Failure::new("timestamp", at, "missing: the line ends before it"),
                Some(&c) => Failure::new("timestamp", at, format!("expected '[', found {}", describe_byte(c))),
            });
        }
        let close = if b.get(at + 27) == Some(&b']') {
            at + 27
        } else {
            at + 1
                + memchr::memchr(b']', &b[at + 1..])
                    .ok_or_else(|| Failure::new("timestamp", b.len(), format!("no closing ']' for the '[' at byte {at}: the line ends")))?
        };
        let text = &b[at + 1..close];
        let ts = self
            .cache
            .get_or(text, parse_clf)
            .map_err(|why| Failure::new("timestamp", at + 1, format!("{why}, found '{}'", excerpt(text))))?;
        cols.ts(TIMESTAMP).push(ts);
        let at = space(b, close + 1, "request", "timestamp")?;

        // "request"
        match b.get(at) {
            Some(b'"') => {}
            None => return Err(Failure::new("request", at, "missing: the line ends before it")),
            Some(&c) => return Err(Failure::new("request", at, format!("expected '\"', found {}", describe_byte(c)))),
        }
        let (end, escaped) = closing_quote(b, at + 1)
            .ok_or_else(|| Failure::new("request", b.len(), format!("no closing '\"' for the quote at byte {at}: the line ends")))?;
        ctx.check_cut("request", end)?;
        self.request(cols, ctx, at + 1, end, escaped);
        let at = space(b, end + 1, "status", "request")?;

        // status: three digits
        let end = token_end(b, at);
        let code = &b[at..end];
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(Failure::new("status", at, format!("expected a 3-digit status code, found '{}'", excerpt(code))));
        }
        cols.u16(STATUS).push((code[0] - b'0') as u16 * 100 + (code[1] - b'0') as u16 * 10 + (code[2] - b'0') as u16);
        let at = space(b, end, "size", "status")?;

        // size: digits or "-"
        let end = token_end(b, at);
        let size = &b[at..end];
        if size == b"-" {
            cols.set_null(SIZE);
        } else {
            let mut v: u64 = 0;
            let ok = !size.is_empty()
                && size.iter().all(|&c| {
                    let d = c.wrapping_sub(b'0');
                    match v.checked_mul(10).and_then(|x| x.checked_add(d as u64)) {
                        Some(x) if d <= 9 => {
                            v = x;
                            true
                        }
                        _ => false,
                    }
                });
            if !ok {
                return Err(Failure::new("size", at, format!("expected a byte count or '-', found '{}'", excerpt(size))));
            }
            cols.u64(SIZE).push(v);
        }
        if !self.combined {
            if end != b.len() {
                return Err(Failure::new("line", end, format!("unexpected text after size: '{}'", excerpt(&b[end..]))));
            }
            return Ok(());
        }
        let at = space(b, end, "referrer", "size")?;
        let end = self.quoted(cols, ctx, REFERRER, at, "referrer")?;
        let at = space(b, end, "user_agent", "referrer")?;
        let end = self.quoted(cols, ctx, USER_AGENT, at, "user_agent")?;
        if end != b.len() {
            return Err(Failure::new("line", end, format!("unexpected text after user_agent: '{}'", excerpt(&b[end..]))));
        }
        Ok(())
    }
}
