//! Apache/nginx access logs: Common Log Format and its "combined" extension.
//!
//! `host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD PATH PROTOCOL" status size "referrer" "user agent"`
//!
//! Fields are found left to right with one pass over the line; string fields
//! are views into the input. Quoted fields end at the first `"` that is not
//! escaped: Apache writes `\"`, nginx writes `\x22`; a value holding escapes
//! is decoded into a copy, every other value stays a view.

use crate::parse::fields::{closing_quote, describe_byte, excerpt, push_text};
use crate::parse::row::{Columns, Failure, LineCtx, Parsed};
use crate::parse::scan::{digits8, token_end, LineMasks};
use crate::parse::spec::{timestamp_type, StringOutput};
use crate::parse::time::{parse_clf, TsCache};
use crate::parse::LineParser;
use arrow_schema::{DataType, Field};

const HOST: usize = 0;
const IDENT: usize = 1;
const USER: usize = 2;
const TIMESTAMP: usize = 3;
/// Then path and protocol.
const METHOD: usize = 4;
const STATUS: usize = 7;
const SIZE: usize = 8;
const REFERRER: usize = 9;
const USER_AGENT: usize = 10;

#[derive(Debug)]
pub(crate) struct AccessParser {
    combined: bool,
    cache: TsCache,
    decoded: Vec<u8>,
    masks: LineMasks,
}

impl AccessParser {
    pub(crate) fn new(combined: bool) -> AccessParser {
        AccessParser { combined, cache: TsCache::default(), decoded: Vec::new(), masks: LineMasks::new(false) }
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

/// Where the fields of a `common` or `combined` line go: the columns from
/// `first` on, in the order [`AccessParser`] writes them, except that an
/// nginx line has no `ident` column (nginx writes a `-` there, as text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AccessLayout {
    pub(crate) combined: bool,
    pub(crate) ident: bool,
    pub(crate) first: usize,
}

/// The fields of a `common`/`combined` line without backslashes, as
/// [`AccessParser::parse_plain`] reads them, into the columns `layout`
/// gives; also the start of a log_format line that begins with one of those
/// layouts. Returns where the last value ends (the size's end, or the user
/// agent's closing quote); `None` where a field is not in its place.
#[inline(always)]
pub(crate) fn plain_fields(
    cache: &mut TsCache,
    ctx: &LineCtx,
    cols: &mut Columns,
    masks: &LineMasks,
    layout: AccessLayout,
) -> Option<usize> {
    let b = ctx.bytes;
    let len = b.len();
    let host = layout.first;
    let after_ident = host + usize::from(layout.ident);
    let (user, timestamp, method) = (after_ident + 1, after_ident + 2, after_ident + 3);
    let (status, size, referrer, agent) = (after_ident + 6, after_ident + 7, after_ident + 8, after_ident + 9);
    let host_end = masks.next_space(0);
    let ident_end = if layout.ident {
        masks.next_space(host_end + 1)
    } else if crate::bytes::has_at(b, host_end, b" - ") {
        // nginx: `$remote_addr - $remote_user`
        host_end + 2
    } else {
        return None;
    };
    let user_end = masks.next_space(ident_end + 1);
    // `[dd/Mon/yyyy:HH:MM:SS +zzzz] "`
    let open = user_end + 1;
    if b.get(open) != Some(&b'[') || b.get(open + 27..open + 30) != Some(b"] \"") {
        return None;
    }
    let ts = cache.get_or(&b[open + 1..open + 27], parse_clf).ok()?;
    cols.str(host).push_view(ctx.view(0, host_end));
    if layout.ident {
        plain_dash_field(cols, host + 1, ctx, host_end + 1, ident_end);
    }
    plain_dash_field(cols, user, ctx, ident_end + 1, user_end);
    cols.ts(timestamp).push(ts);

    let request_start = open + 30;
    let request_end = masks.next_quote(request_start);
    // `" ddd ` then the size
    let code = b.get(request_end + 1..request_end + 6)?;
    if code[0] != b' ' || code[4] != b' ' || !code[1..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    plain_request(cols, method, ctx, masks, request_start, request_end);
    cols.u16(status).push((code[1] - b'0') as u16 * 100 + (code[2] - b'0') as u16 * 10 + (code[3] - b'0') as u16);

    let size_start = request_end + 6;
    let size_end = masks.next_space(size_start).min(len);
    let size_text = &b[size_start..size_end];
    if size_text == b"-" {
        cols.set_null(size);
    } else if let (1..=8, Some(window)) = (size_text.len(), b.get(size_start..size_start + 8)) {
        // Up to 8 digits with 8 bytes to read (nearly every size): read
        // at once, where a loop would end after a different number of
        // steps from line to line.
        cols.u64(size).push(digits8(window.try_into().expect("8 bytes"), size_text.len())?);
    } else {
        // Up to 19 digits, which no u64 overflows; longer goes the long way.
        if size_text.is_empty() || size_text.len() > 19 || !size_text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        cols.u64(size).push(size_text.iter().fold(0, |v, &c| v * 10 + (c - b'0') as u64));
    }
    if !layout.combined {
        return Some(size_end);
    }

    // ` "referrer" "user agent"`
    let referrer_start = size_end + 2;
    let referrer_end = masks.next_quote(referrer_start);
    let agent_start = referrer_end + 3;
    let agent_end = masks.next_quote(agent_start);
    if b.get(size_end + 1) != Some(&b'"') || b.get(referrer_end + 1..agent_start) != Some(b" \"") || agent_end >= len {
        return None;
    }
    plain_dash_field(cols, referrer, ctx, referrer_start, referrer_end);
    plain_dash_field(cols, agent, ctx, agent_start, agent_end);
    Some(agent_end)
}

/// [`request`] of a request without escapes, its spaces read off the masks.
#[inline(always)]
pub(crate) fn plain_request(cols: &mut Columns, col: usize, ctx: &LineCtx, masks: &LineMasks, start: usize, end: usize) {
    let b = ctx.bytes;
    if &b[start..end] == b"-" {
        return;
    }
    let first = masks.next_space(start);
    if first >= end {
        cols.set_null(col);
        cols.str(col + 1).push_view(ctx.view(start, end));
        return;
    }
    cols.str(col).push_view(ctx.view(start, first));
    let last = masks.last_space_before(end).unwrap_or(first);
    if last > first && crate::bytes::has_at(&b[..end], last + 1, b"HTTP/") {
        cols.str(col + 1).push_view(ctx.view(first + 1, last));
        cols.str(col + 2).push_view(ctx.view(last + 1, end));
    } else {
        cols.str(col + 1).push_view(ctx.view(first + 1, end));
    }
}

/// The line without the spaces and tabs that end it.
#[inline]
pub(crate) fn trim_end<'a>(ctx: &LineCtx<'a>) -> LineCtx<'a> {
    let mut b = ctx.bytes;
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    LineCtx { bytes: b, ..*ctx }
}

/// [`dash_field`] of a line without a cut; also a quoted field's content
/// without escapes, where `-` is null too.
#[inline(always)]
fn plain_dash_field(cols: &mut Columns, col: usize, ctx: &LineCtx, start: usize, end: usize) {
    if &ctx.bytes[start..end] == b"-" {
        cols.str(col).push_null();
    } else {
        cols.str(col).push_view(ctx.view(start, end));
    }
}

/// `"METHOD PATH PROTOCOL"` content in `[start, end)` into columns `col`,
/// `col + 1`, `col + 2`. `-` (no request) leaves all three null; a request
/// without spaces is all path; a last part not starting with `HTTP/`
/// belongs to the path. Each part is decoded on its own: escapes never hold
/// a space (Apache and nginx write spaces as they are), so splitting first
/// gives the parts of the decoded request.
#[allow(clippy::too_many_arguments)]
pub(crate) fn request(cols: &mut Columns, col: usize, ctx: &LineCtx, start: usize, end: usize, escaped: bool, decoded: &mut Vec<u8>) {
    let req = &ctx.bytes[start..end];
    if req == b"-" {
        return;
    }
    let Some(first) = memchr::memchr(b' ', req) else {
        cols.set_null(col);
        push_text(cols, col + 1, ctx, start, end, escaped, decoded);
        return;
    };
    push_text(cols, col, ctx, start, start + first, escaped, decoded);
    let last = memchr::memrchr(b' ', req).unwrap_or(first);
    if last > first && req[last + 1..].starts_with(b"HTTP/") {
        push_text(cols, col + 1, ctx, start + first + 1, start + last, escaped, decoded);
        push_text(cols, col + 2, ctx, start + last + 1, end, escaped, decoded);
    } else {
        push_text(cols, col + 1, ctx, start + first + 1, end, escaped, decoded);
    }
}

/// An HTTP status: exactly three digits.
#[inline]
pub(crate) fn status(raw: &[u8]) -> Option<u16> {
    match raw {
        [a, b, c] if raw.iter().all(u8::is_ascii_digit) => Some((a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16),
        _ => None,
    }
}

/// A byte count: digits that fit 64 bits.
#[inline]
pub(crate) fn count(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter().try_fold(0u64, |v, &c| v.checked_mul(10)?.checked_add((c - b'0') as u64))
}

impl AccessParser {
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
    fn masks(&self) -> Option<bool> {
        Some(false)
    }

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
        let ctx = &trim_end(ctx);
        if self.parse_plain(ctx, cols).is_some() {
            return Ok(());
        }
        cols.restart_row();
        self.parse_fields(ctx, cols)
    }
}

impl AccessParser {
    /// The line as nearly every line of an access log is: no escapes, no
    /// bad byte, a timestamp of the usual width, every field in its place.
    /// Its delimiters are found at once ([`LineMasks`]) and its values
    /// written as they are read ([`plain_fields`]), which gives what
    /// [`Self::parse_fields`] gives: with no backslash the first quote closes
    /// a quoted field, and every check there is one that function makes.
    /// `None` on anything else (including what would be a failure): the
    /// caller drops what was written and parses the line field by field,
    /// for the same values or the precise error.
    #[inline]
    fn parse_plain(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Option<()> {
        if ctx.cut.is_some() {
            return None;
        }
        let masks = match ctx.masks {
            Some(masks) => masks,
            None if self.masks.read(ctx.bytes) => &self.masks,
            None => return None,
        };
        if masks.backslash {
            return None;
        }
        let layout = AccessLayout { combined: self.combined, ident: true, first: HOST };
        let end = plain_fields(&mut self.cache, ctx, cols, masks, layout)?;
        // The user agent's closing quote is the line's last byte; or the size ends the line.
        (end + usize::from(self.combined) == ctx.bytes.len()).then_some(())
    }

    /// Any line, field by field, each failure precise.
    fn parse_fields(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
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
        // METHOD, PATH and PROTOCOL are consecutive columns.
        request(cols, METHOD, ctx, at + 1, end, escaped, &mut self.decoded);
        let at = space(b, end + 1, "status", "request")?;

        // status: three digits
        let end = token_end(b, at);
        let code = &b[at..end];
        let code =
            status(code).ok_or_else(|| Failure::new("status", at, format!("expected a 3-digit status code, found '{}'", excerpt(code))))?;
        cols.u16(STATUS).push(code);
        let at = space(b, end, "size", "status")?;

        // size: digits or "-"
        let end = token_end(b, at);
        let size = &b[at..end];
        if size == b"-" {
            cols.set_null(SIZE);
        } else {
            let v =
                count(size).ok_or_else(|| Failure::new("size", at, format!("expected a byte count or '-', found '{}'", excerpt(size))))?;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow_array::RecordBatch;
    use arrow_buffer::Buffer;

    /// Each line in its own buffer (views point at buffer i + 1; 0 is the
    /// side buffer), parsed with the plain path first or field by field only.
    fn parse_all(lines: &[Vec<u8>], combined: bool, plain_first: bool) -> RecordBatch {
        let mut parser = AccessParser::new(combined);
        let mut cols = Columns::new(parser.fields(StringOutput::View), lines.len());
        let buffers: Vec<Buffer> = lines.iter().map(|l| Buffer::from(l.as_slice())).collect();
        for (i, buffer) in buffers.iter().enumerate() {
            let ctx = LineCtx { bytes: buffer.as_slice(), block: Some(i as u32 + 1), offset: 0, cut: None, masks: None };
            let result = if plain_first { parser.parse(&ctx, &mut cols) } else { parser.parse_fields(&trim_end(&ctx), &mut cols) };
            cols.end_row(&result);
        }
        cols.finish(&buffers, StringOutput::View).unwrap()
    }

    /// Access log lines, most well formed, the rest broken every way a field
    /// can break: each piece drawn from good values and from near misses (a
    /// missing or extra byte, a quote or backslash in the wrong place, a bad
    /// digit), lines of up to about 1,000 bytes.
    pub(crate) fn near_miss_lines(combined: bool, count: usize, seed: u64) -> Vec<Vec<u8>> {
        let hosts = ["10.0.0.1", "", "-", "a-very-long-host-name.example.com", "h\"q"];
        let names = ["-", "frank", "", "x y"];
        let stamps = [
            "[10/Oct/2000:13:55:36 -0700]",
            "[10/Oct/2000:13:55:36 +0000]",
            "[10/Oct/2000:13:55:37 -0700]",
            "[10/Xyz/2000:13:55:36 -0700]",
            "[10/Oct/2000:13:55:36]",
            "[10/Oct/2000:13:55:36 -07000]",
            "10/Oct/2000:13:55:36 -0700",
        ];
        // Lines past the 512 bytes the masks hold go the long way.
        let long_request = format!("\"GET /{} HTTP/1.1\"", "very/long/path/".repeat(33));
        let long_agent = format!("\"{}\"", "Mozilla/5.0 (X11; Linux) ".repeat(14));
        let requests = [
            "\"GET /apache_pb.gif HTTP/1.0\"",
            "\"-\"",
            "\"GET /a b c HTTP/1.1\"",
            "\"GET\"",
            "\"/only-a-path\"",
            "\"GET /x HTTP/1.1 trailing\"",
            "\"GET /q?\\\"x\\\" HTTP/1.1\"",
            "\"GET /x\\x22y HTTP/1.1\"",
            "\"\"",
            "\"GET /open",
            "\"POST /a-much-longer-path/that/runs/on/and/on/and/on?with=query&and=more&still=more HTTP/2.0\"",
            &long_request,
        ];
        let statuses = ["200", "404", "20", "2000", "20001", "200-", "2x0", "-"];
        let sizes =
            ["2326", "-", "0", "12345678", "123456789", "18446744073709551615", "18446744073709551616", "12a", "", "9999999999999999999"];
        let quoted = [
            "\"-\"",
            "\"http://www.example.com/start.html\"",
            "\"\"",
            "\"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
            "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\"",
            "\"with \\\"escapes\\\"\"",
            "\"unclosed",
            "\"a\"b\"",
            "-",
            &long_agent,
        ];
        let mut state = seed;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut lines = Vec::new();
        for _ in 0..count {
            let mut pieces = vec![
                hosts[next(hosts.len())],
                names[next(names.len())],
                names[next(names.len())],
                stamps[next(stamps.len())],
                requests[next(requests.len())],
                statuses[next(statuses.len())],
                sizes[next(sizes.len())],
            ];
            if combined {
                pieces.push(quoted[next(quoted.len())]);
                pieces.push(quoted[next(quoted.len())]);
            }
            // Most lines well formed, as in a real log.
            if next(3) == 0 {
                pieces.truncate(pieces.len() - next(3));
            }
            let mut line = pieces.join(if next(10) == 0 { "  " } else { " " }).into_bytes();
            match next(8) {
                0 => line.extend_from_slice(b" extra"),
                1 => line.extend_from_slice(b" \t"),
                2 => {
                    let cut = next(line.len() + 1);
                    line.truncate(cut);
                }
                _ => {}
            }
            lines.push(line);
        }
        lines
    }

    /// The plain path (with its restarts) must give what the field-by-field
    /// parse gives, on well-formed lines and on lines broken every way a
    /// field can break: each piece of a line is drawn from good values and
    /// from near misses (a missing or extra byte, a quote or backslash in the
    /// wrong place, a bad digit), lines of up to about 1,000 bytes, so the
    /// masks' 64-byte words and their 512-byte limit are crossed.
    #[test]
    fn plain_path_gives_what_the_field_parse_gives() {
        for combined in [false, true] {
            let lines = near_miss_lines(combined, 6000, 7);
            let (plain, fields) = (parse_all(&lines, combined, true), parse_all(&lines, combined, false));
            if plain == fields {
                continue;
            }
            for (row, line) in lines.iter().enumerate() {
                assert_eq!(plain.slice(row, 1), fields.slice(row, 1), "combined: {combined}, line {:?}", String::from_utf8_lossy(line));
            }
        }
    }
}
