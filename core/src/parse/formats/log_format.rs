//! `nginx` and `apache`: access logs in the layout their own format string
//! gives (nginx `log_format`, Apache `LogFormat`).
//!
//! The string is compiled once into steps: an optional text the line starts
//! with, then per variable where its value ends (the text that follows it,
//! found byte by byte; a closing quote, escapes skipped, when the variable
//! sits between quotes; the fixed width of a CLF timestamp) and how the value
//! becomes typed columns. No regex runs per line. Known variables are typed
//! (docs/parsing.md has the table), others are strings; `-` is null.
//!
//! A line without backslashes (nearly every line) takes the plain path, as
//! the `combined` parser's lines do: its spaces and quotes are read at once
//! ([`LineMasks`]), and each step, compiled into a small [`Op`], finds its
//! end by bit arithmetic and writes its value as it reads it. Any other line,
//! or one the plain path gives up on, is parsed field by field, for the same
//! rows or the precise error.
//!
//! Apache's `common` and `combined` strings compile to the layout the
//! `common`/`combined` formats parse: they get that hand-tuned parser
//! ([`super::access::AccessParser`]), whose rows this generic one equals.

use crate::error::{Result, SashError};
use crate::parse::fields::{closing_quote, describe_byte, excerpt, push_text};
use crate::parse::formats::access::{count, plain_fields, plain_request, request, status, trim_end, AccessLayout};
use crate::parse::row::{Col, Columns, Failure, LineCtx, Parsed};
use crate::parse::scan::{digits8, LineMasks};
use crate::parse::spec::{timestamp_type, StringOutput};
use crate::parse::time::{parse_clf, parse_iso8601, TimeFormat, TsCache, Zone};
use crate::parse::typed::{parse_short_decimal, parse_short_int};
use crate::parse::LineParser;
use arrow_schema::{DataType, Field};
use std::sync::Arc;

/// Which server wrote the format string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Nginx,
    Apache,
}

/// nginx's predefined `combined` (the default of `log_format`).
pub(crate) const NGINX_COMBINED: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The `common` layout as nginx writes it (nginx predefines only `combined`).
const NGINX_COMMON: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;
/// Apache's `common` nickname in its documentation.
pub(crate) const APACHE_COMMON: &str = r#"%h %l %u %t "%r" %>s %b"#;
/// Apache's `combined` nickname (the default of `log_format`).
pub(crate) const APACHE_COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#;

/// How a variable's text becomes a value.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Text; `-` is null unless `keep_dash` (a client address is never
    /// absent, so `-` there is the text, as the `combined` format keeps it).
    Text { keep_dash: bool },
    /// `METHOD PATH PROTOCOL`, into three columns.
    Request,
    /// An HTTP status: exactly three digits (UInt16).
    Status,
    /// A byte count (UInt64), `-` null.
    Bytes,
    /// An integer (Int64), `-` null.
    Int,
    /// A number (Float64) over `divisor`: durations come out in seconds
    /// whatever unit the server wrote (`%D` microseconds, `$request_time`
    /// seconds), `-` null.
    Number { divisor: f64 },
    /// `dd/Mon/yyyy:HH:MM:SS ±zzzz`.
    Clf,
    /// `$time_iso8601`.
    Iso8601,
    /// Any other time: epoch numbers, strftime formats.
    Time(TimeFormat),
    /// nginx's upstream lists: values separated by `, ` (servers tried) and
    /// ` : ` (internal redirects), each of the inner kind, `-` a null item.
    List(Box<Kind>),
}

impl Kind {
    fn data_type(&self, strings: StringOutput) -> DataType {
        match self {
            Kind::Text { .. } | Kind::Request => strings.data_type(),
            Kind::Status => DataType::UInt16,
            Kind::Bytes => DataType::UInt64,
            Kind::Int => DataType::Int64,
            Kind::Number { .. } => DataType::Float64,
            Kind::Clf | Kind::Iso8601 | Kind::Time(_) => timestamp_type(),
            Kind::List(item) => DataType::List(Arc::new(Field::new("item", item.data_type(strings), true))),
        }
    }

    fn columns(&self) -> usize {
        if *self == Kind::Request {
            3
        } else {
            1
        }
    }
}

/// A variable of the format string: its name as written, its columns' names and its kind.
#[derive(Debug, Clone, PartialEq)]
struct Variable {
    written: String,
    names: Vec<String>,
    kind: Kind,
}

/// One variable and the literal text after it (empty only at the line's end).
#[derive(Debug)]
struct Step {
    variable: Variable,
    /// Index of the variable's first column.
    col: usize,
    after: Vec<u8>,
    /// The variable sits between quotes: its value ends at the first quote
    /// that no backslash escapes, and escapes in it are decoded.
    quoted: bool,
    cache: TsCache,
}

/// Where [`Plan::parse_plain`] finds a value's end: the choice
/// [`Plan::value_end`] makes for a line without backslashes, made once when
/// the string is compiled instead of on every value of every line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// The next quote (a quoted value, or one the text after starts with a quote).
    Quote,
    /// The next space.
    Space,
    /// The next space that is not one of a list's own separators (`, `, ` : `).
    ListSpace,
    /// A fixed width (a CLF timestamp).
    Width(usize),
    /// The next occurrence of this byte (the first of the text after).
    Byte(u8),
    /// The line's end (the last variable, with no text after it).
    Line,
}

impl Step {
    fn plain_end(&self) -> End {
        let is_list = matches!(self.variable.kind, Kind::List(_));
        match self.after.first() {
            None => End::Line,
            Some(_) if self.quoted => End::Quote,
            Some(b'"') => End::Quote,
            Some(_) if self.variable.kind == Kind::Clf => End::Width(CLF_WIDTH),
            Some(b' ') if is_list => End::ListSpace,
            Some(b' ') => End::Space,
            Some(&c) => End::Byte(c),
        }
    }
}

/// `dd/Mon/yyyy:HH:MM:SS ±zzzz`
const CLF_WIDTH: usize = 26;

/// A step as the plain path reads it: everything a line needs in one small
/// record (a step's own fields are spread over its strings and vectors).
#[derive(Debug, Clone, Copy)]
struct Op {
    end: End,
    value: Value,
    col: usize,
    /// The step this is, for what the record does not hold.
    step: usize,
    after_len: usize,
    /// The text after the value that `end` has not already found (all of
    /// it, or all but its first byte), when it has at most 8 bytes: the 8
    /// bytes that end where it ends, read as a little-endian word and masked
    /// by the first, equal the second.
    unchecked: Option<(u64, u64)>,
}

/// How the plain path writes a value; `Step` for the kinds it hands to
/// [`Plan::value`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Text,
    TextKeepDash,
    Request,
    Status,
    Bytes,
    Number(f64),
    NumberList(f64),
    Clf,
    Step,
}

impl Op {
    fn of(index: usize, step: &Step) -> Op {
        let value = match &step.variable.kind {
            Kind::Text { keep_dash: false } => Value::Text,
            Kind::Text { keep_dash: true } => Value::TextKeepDash,
            Kind::Request => Value::Request,
            Kind::Status => Value::Status,
            Kind::Bytes => Value::Bytes,
            Kind::Number { divisor } => Value::Number(*divisor),
            Kind::Clf => Value::Clf,
            Kind::List(item) => match **item {
                Kind::Number { divisor } => Value::NumberList(divisor),
                _ => Value::Step,
            },
            _ => Value::Step,
        };
        let end = step.plain_end();
        let found = !matches!(end, End::Width(_) | End::Line);
        let text = &step.after[usize::from(found)..];
        let unchecked = (text.len() <= 8).then(|| {
            let mut word = [0u8; 8];
            word[8 - text.len()..].copy_from_slice(text);
            let mask = u64::MAX.checked_shl(64 - 8 * text.len() as u32).unwrap_or(0);
            (mask, u64::from_le_bytes(word))
        });
        Op { end, value, col: step.col, step: index, after_len: step.after.len(), unchecked }
    }
}

/// A compiled format string.
#[derive(Debug)]
pub(crate) struct FormatParser {
    plan: Plan,
    /// The delimiters of a line that came without them (a line of an array).
    masks: LineMasks,
}

/// The text a line starts with and the steps after it.
#[derive(Debug)]
struct Plan {
    lead: Vec<u8>,
    steps: Vec<Step>,
    /// The steps as the plain path reads them, one small record each.
    ops: Vec<Op>,
    /// When the steps start with the `common` or `combined` layout (as most
    /// format strings do): that layout and how many steps it covers, which
    /// the plain path reads as the `combined` parser does, at its speed.
    access: Option<(AccessLayout, usize)>,
    access_cache: TsCache,
    zone: Zone,
    decoded: Vec<u8>,
}

/// The parser for a format string: the `common`/`combined` parser when the
/// string is Apache's layout of those, else the generic one.
pub(crate) fn compile(dialect: Dialect, format: &str, zone: Zone) -> Result<Box<dyn LineParser>> {
    let parser = FormatParser::new(dialect, format, zone)?;
    for (layout, combined) in [(APACHE_COMMON, false), (APACHE_COMBINED, true)] {
        let known = FormatParser::steps_of(Dialect::Apache, layout, zone).expect("the predefined layouts compile");
        if parser.same_layout(&known) {
            return Ok(Box::new(super::access::AccessParser::new(combined)));
        }
    }
    Ok(Box::new(parser))
}

impl FormatParser {
    pub(crate) fn new(dialect: Dialect, format: &str, zone: Zone) -> Result<FormatParser> {
        let mut parser = FormatParser::steps_of(dialect, format, zone)?;
        parser.plan.access = parser.plan.access_prefix(zone);
        Ok(parser)
    }

    /// The compiled string, without looking for the `common`/`combined` layout in it.
    fn steps_of(dialect: Dialect, format: &str, zone: Zone) -> Result<FormatParser> {
        let format = match (dialect, format) {
            (Dialect::Nginx, "combined") => NGINX_COMBINED,
            (Dialect::Apache, "combined") => APACHE_COMBINED,
            (Dialect::Apache, "common") => APACHE_COMMON,
            _ => format,
        };
        let pieces = match dialect {
            Dialect::Nginx => nginx_pieces(format)?,
            Dialect::Apache => apache_pieces(format)?,
        };
        let mut lead = Vec::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut col = 0;
        let mut names: Vec<String> = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => match steps.last_mut() {
                    Some(step) => step.after.extend_from_slice(&text),
                    None => lead.extend_from_slice(&text),
                },
                Piece::Variable(mut variable) => {
                    if let Some(previous) = steps.last() {
                        if previous.after.is_empty() {
                            return Err(SashError::spec(format!(
                                "log_format: '{}' follows '{}' with no text between them, so where one value ends is unknown",
                                variable.written, previous.variable.written
                            )));
                        }
                    }
                    for name in &mut variable.names {
                        // A variable written twice gets a second column.
                        let base = name.clone();
                        let mut n = 2;
                        while names.contains(name) || name == crate::parse::ERROR_COLUMN {
                            *name = format!("{base}_{n}");
                            n += 1;
                        }
                        names.push(name.clone());
                    }
                    let width = variable.kind.columns();
                    steps.push(Step { variable, col, after: Vec::new(), quoted: false, cache: TsCache::default() });
                    col += width;
                }
            }
        }
        if steps.is_empty() {
            return Err(SashError::spec("log_format has no variables: it would produce no columns"));
        }
        for i in 0..steps.len() {
            let before_quote = if i == 0 { lead.ends_with(b"\"") } else { steps[i - 1].after.ends_with(b"\"") };
            steps[i].quoted = before_quote && steps[i].after.starts_with(b"\"");
        }
        let ops = steps.iter().enumerate().map(|(i, step)| Op::of(i, step)).collect();
        let plan = Plan { lead, steps, ops, access: None, access_cache: TsCache::default(), zone, decoded: Vec::new() };
        Ok(FormatParser { plan, masks: LineMasks::new(false) })
    }

    fn same_layout(&self, other: &FormatParser) -> bool {
        let (ours, theirs) = (&self.plan, &other.plan);
        ours.lead == theirs.lead
            && ours.steps.len() == theirs.steps.len()
            && ours
                .steps
                .iter()
                .zip(&theirs.steps)
                .all(|(a, b)| a.after == b.after && a.variable.kind == b.variable.kind && a.variable.names == b.variable.names)
    }
}

impl Plan {
    /// The `common`/`combined` layout the steps start with, if any, and the
    /// number of steps it covers. The steps must be that layout's (the same
    /// kinds and the same text between them), and the text after its last
    /// step must let that step end where [`plain_fields`] ends it: at the
    /// first space after a size, at the closing quote of a user agent.
    fn access_prefix(&self, zone: Zone) -> Option<(AccessLayout, usize)> {
        if !self.lead.is_empty() {
            return None;
        }
        let layouts = [
            (Dialect::Apache, APACHE_COMBINED, true),
            (Dialect::Nginx, NGINX_COMBINED, true),
            (Dialect::Apache, APACHE_COMMON, false),
            (Dialect::Nginx, NGINX_COMMON, false),
        ];
        for (dialect, layout, combined) in layouts {
            let known = FormatParser::steps_of(dialect, layout, zone).expect("the predefined layouts compile").plan.steps;
            let Some((last, before)) = known.split_last() else { continue };
            if self.steps.len() < known.len() {
                continue;
            }
            let same = |a: &Step, b: &Step| a.variable.kind == b.variable.kind && a.col == b.col;
            let ours = &self.steps[before.len()];
            let ends_alike = match ours.after.first() {
                None => !combined,
                Some(&c) => c == if combined { b'"' } else { b' ' },
            };
            if before.iter().zip(&self.steps).all(|(b, a)| same(a, b) && a.after == b.after) && same(ours, last) && ends_alike {
                return Some((AccessLayout { combined, ident: dialect == Dialect::Apache, first: 0 }, known.len()));
            }
        }
        None
    }

    /// Where the value of step `i`, starting at `at`, ends: the position of
    /// the text after it (the line's end for the last step), and whether the
    /// value holds escapes.
    #[inline(always)]
    fn value_end(&self, i: usize, b: &[u8], at: usize, masks: Option<&LineMasks>) -> std::result::Result<(usize, bool), Failure> {
        let step = &self.steps[i];
        let after = step.after.as_slice();
        // A line without backslashes whose delimiters were read at once: a
        // quote or space that ends the value is a bit away (past the line's
        // end when there is none: then the search below says why).
        if let (Some(m), Some(&first)) = (masks, after.first()) {
            let found = if step.quoted || first == b'"' {
                m.next_quote(at)
            } else if first == b' ' && !matches!(step.variable.kind, Kind::List(_) | Kind::Clf) {
                m.next_space(at)
            } else {
                usize::MAX
            };
            if found < b.len() {
                return Ok((found, false));
            }
        }
        let name = &step.variable.written;
        if step.quoted {
            let (end, escaped) = closing_quote(b, at).ok_or_else(|| {
                Failure::new(name, b.len(), format!("no closing '\"' for the quote at byte {}: the line ends", at.saturating_sub(1)))
            })?;
            return Ok((end, escaped));
        }
        let Some(&first) = after.first() else { return Ok((b.len(), false)) };
        if step.variable.kind == Kind::Clf && crate::bytes::has_at(b, at + CLF_WIDTH, after) {
            return Ok((at + CLF_WIDTH, false));
        }
        // An unquoted value ends at the first byte of the text after it, as
        // in the `combined` parser: one search, and the same rows for the
        // same layout. A list's own separators (`, ` and ` : `) do not end it.
        let is_list = matches!(step.variable.kind, Kind::List(_));
        let mut from = at;
        loop {
            let Some(found) = memchr::memchr(first, &b[from..]) else { return Ok((b.len(), false)) };
            let p = from + found;
            if is_list && first == b' ' {
                if p > at && b[p - 1] == b',' {
                    from = p + 1;
                    continue;
                }
                if b[p..].starts_with(b" : ") {
                    from = p + 3;
                    continue;
                }
            }
            return Ok((p, false));
        }
    }

    /// Writes the value `[start, end)` of step `i` into its columns.
    fn value(&mut self, i: usize, cols: &mut Columns, ctx: &LineCtx, start: usize, end: usize, escaped: bool) -> Parsed {
        let zone = self.zone;
        let step = &mut self.steps[i];
        let name = step.variable.written.as_str();
        ctx.check_cut(name, end)?;
        let raw = &ctx.bytes[start..end];
        let col = step.col;
        let dash = raw == b"-";
        match &step.variable.kind {
            Kind::Text { keep_dash } => {
                if dash && !keep_dash {
                    cols.set_null(col);
                } else if escaped {
                    push_text(cols, col, ctx, start, end, escaped, &mut self.decoded);
                } else {
                    cols.str(col).push_view(ctx.view(start, end));
                }
            }
            Kind::Request => request(cols, col, ctx, start, end, escaped, &mut self.decoded),
            Kind::Status => {
                // The value first, then the accessor: each accessor call counts as a written value.
                let v = status(raw).ok_or_else(|| bad(name, start, "a 3-digit status code", raw))?;
                cols.u16(col).push(v);
            }
            Kind::Bytes if dash => cols.set_null(col),
            Kind::Bytes => {
                let v = count(raw).ok_or_else(|| bad(name, start, "a byte count or '-'", raw))?;
                cols.u64(col).push(v);
            }
            Kind::Int if dash || raw.is_empty() => cols.set_null(col),
            Kind::Int => {
                let v = integer(raw).ok_or_else(|| bad(name, start, "an integer or '-'", raw))?;
                cols.i64(col).push(v);
            }
            Kind::Number { .. } if dash || raw.is_empty() => cols.set_null(col),
            Kind::Number { divisor } => {
                let v = number(raw, *divisor).ok_or_else(|| bad(name, start, "a number or '-'", raw))?;
                cols.f64(col).push(v);
            }
            Kind::Clf | Kind::Iso8601 | Kind::Time(_) if dash => cols.set_null(col),
            Kind::Clf => {
                let ts = step.cache.get_or(raw, parse_clf).map_err(|why| bad_time(name, start, why, raw))?;
                cols.ts(col).push(ts);
            }
            Kind::Iso8601 => {
                let ts = step.cache.get_or(raw, |t| parse_iso8601(t, zone)).map_err(|why| bad_time(name, start, why, raw))?;
                cols.ts(col).push(ts);
            }
            Kind::Time(format) => {
                let ts = step
                    .cache
                    .get_or(raw, |t| match std::str::from_utf8(t) {
                        Ok(text) => format.parse_value(text, zone),
                        Err(_) => Err("invalid UTF-8".to_string()),
                    })
                    .map_err(|why| bad_time(name, start, &why, raw))?;
                cols.ts(col).push(ts);
            }
            Kind::List(item) => {
                // On a bad item the row fails; the items before it stay, as
                // every value written before a failure does.
                let list = cols.list(col);
                let items = list_items(list.values(), item, ctx, start, end);
                list.close_row();
                items.map_err(|(at, item_end, what)| bad(name, at, what, &ctx.bytes[at..item_end]))?;
            }
        }
        Ok(())
    }

    /// A line without backslashes, whose delimiters `masks` holds, as nearly
    /// every line of an access log is: each value's end found the way
    /// [`End`] says and its value written as it is read. This gives what
    /// [`Self::parse_line`] gives: with no backslash the first quote closes
    /// a quoted value, and every check below is one that function makes.
    /// `None` on anything else (including what would be a failure): the
    /// caller drops what was written and parses the line field by field,
    /// for the same values or the precise error.
    #[inline]
    fn parse_plain(&mut self, ctx: &LineCtx, cols: &mut Columns, masks: &LineMasks) -> Option<()> {
        let b = ctx.bytes;
        if !crate::bytes::has_at(b, 0, &self.lead) {
            return None;
        }
        let mut at = self.lead.len();
        let mut first = 0;
        if let Some((layout, covered)) = self.access {
            let end = plain_fields(&mut self.access_cache, ctx, cols, masks, layout)?;
            let after = &self.steps[covered - 1].after;
            if !crate::bytes::has_at(b, end, after) {
                return None;
            }
            at = end + after.len();
            first = covered;
        }
        // By index: a kind the loop does not write itself is written by `self.value`.
        for i in first..self.ops.len() {
            let op = self.ops[i];
            let end = match op.end {
                End::Quote => masks.next_quote(at),
                End::Space => masks.next_space(at),
                End::ListSpace => {
                    let mut from = at;
                    loop {
                        let p = masks.next_space(from);
                        if p > at && b.get(p - 1) == Some(&b',') {
                            from = p + 1;
                        } else if crate::bytes::has_at(b, p, b" : ") {
                            from = p + 3;
                        } else {
                            break p;
                        }
                    }
                }
                End::Width(width) => at + width,
                End::Byte(c) => at + memchr::memchr(c, b.get(at..)?)?,
                End::Line => b.len(),
            };
            // Past the line's end when the masks found no delimiter.
            let next = end + op.after_len;
            if next > b.len() {
                return None;
            }
            let checked = match (op.unchecked, next.checked_sub(8)) {
                (Some((mask, text)), Some(from)) => u64::from_le_bytes(b[from..next].try_into().expect("8 bytes")) & mask == text,
                // Longer text, or a line shorter than 8 bytes: all of it, found byte or not.
                _ => crate::bytes::has_at(b, end, &self.steps[op.step].after),
            };
            if !checked {
                return None;
            }
            let (raw, col) = (&b[at..end], op.col);
            let dash = raw == b"-";
            match op.value {
                Value::Text if dash => cols.str(col).push_null(),
                Value::Text | Value::TextKeepDash => cols.str(col).push_view(ctx.view(at, end)),
                Value::Request => plain_request(cols, col, ctx, masks, at, end),
                Value::Status => {
                    let v = status(raw)?;
                    cols.u16(col).push(v);
                }
                Value::Bytes if dash => cols.set_null(col),
                Value::Bytes => {
                    let v = match (raw.len(), b.get(at..at + 8)) {
                        (1..=8, Some(window)) => digits8(window.try_into().expect("8 bytes"), raw.len())?,
                        _ => count(raw)?,
                    };
                    cols.u64(col).push(v);
                }
                Value::Number(_) if dash || raw.is_empty() => cols.set_null(col),
                Value::Number(divisor) => {
                    let v = number(raw, divisor)?;
                    cols.f64(col).push(v);
                }
                // Nearly always one upstream: one number, or `-`.
                Value::NumberList(divisor) if !raw.iter().any(|&c| c == b',' || c == b' ') => {
                    let item = if dash || raw.is_empty() { None } else { Some(number(raw, divisor)?) };
                    let list = cols.list(col);
                    match item {
                        Some(v) => list.values().as_f64().push(v),
                        None => list.values().push_null(),
                    }
                    list.close_row_of_one();
                }
                Value::Clf if dash => cols.set_null(col),
                Value::Clf => {
                    let ts = self.steps[op.step].cache.get_or(raw, parse_clf).ok()?;
                    cols.ts(col).push(ts);
                }
                // No escapes: the value as the field-by-field parse writes it, `None` where that fails.
                Value::NumberList(_) | Value::Step => self.value(op.step, cols, ctx, at, end, false).ok()?,
            }
            at = next;
        }
        (at == b.len()).then_some(())
    }

    /// Panics unless the plain path and the field-by-field parse give `line` the same row.
    #[cfg(fuzzing)]
    fn check_plain(&mut self, line: &[u8], masks: &LineMasks, fields: Vec<arrow_schema::Field>) {
        let buffers = [arrow_buffer::Buffer::from(line)];
        let ctx = LineCtx { bytes: buffers[0].as_slice(), block: Some(1), offset: 0, cut: None, masks: None };
        let mut rows = Vec::new();
        for plain in [true, false] {
            let mut cols = Columns::new(fields.clone(), 1);
            let result = if plain {
                self.parse_plain(&ctx, &mut cols, masks).ok_or_else(|| Failure::new("line", 0, "the plain path gave up"))
            } else {
                self.parse_line(&ctx, &mut cols, None)
            };
            cols.end_row(&result);
            rows.push(cols.finish(&buffers, StringOutput::View).expect("valid columns"));
        }
        assert_eq!(rows[0], rows[1], "{:?}", String::from_utf8_lossy(line));
    }

    /// The line field by field; a failure names the variable as written.
    fn parse_line(&mut self, ctx: &LineCtx, cols: &mut Columns, masks: Option<&LineMasks>) -> Parsed {
        let b = ctx.bytes;
        if !crate::bytes::has_at(b, 0, &self.lead) {
            return Err(expected_text(b, 0, &self.lead, "the line's start"));
        }
        let mut at = self.lead.len();
        for i in 0..self.steps.len() {
            let (end, escaped) = self.value_end(i, b, at, masks)?;
            self.value(i, cols, ctx, at, end, escaped)?;
            let after = &self.steps[i].after;
            if !crate::bytes::has_at(b, end, after) {
                return Err(expected_text(b, end, after, &self.steps[i].variable.written));
            }
            at = end + after.len();
        }
        if at != b.len() {
            let last = &self.steps[self.steps.len() - 1].variable.written;
            return Err(Failure::new("line", at, format!("unexpected text after {last}: '{}'", excerpt(&b[at..]))));
        }
        Ok(())
    }
}

#[cold]
fn expected_text(b: &[u8], at: usize, text: &[u8], after: &str) -> Failure {
    let want = String::from_utf8_lossy(text);
    match b.get(at) {
        None => Failure::new(after, at, format!("missing '{want}' after it: the line ends")),
        Some(&c) => Failure::new(after, at, format!("expected '{want}', found {}", describe_byte(c))),
    }
}

#[cold]
fn bad(name: &str, at: usize, what: &str, raw: &[u8]) -> Failure {
    Failure::new(name, at, format!("expected {what}, found '{}'", excerpt(raw)))
}

#[cold]
fn bad_time(name: &str, at: usize, why: &str, raw: &[u8]) -> Failure {
    Failure::new(name, at, format!("bad timestamp '{}': {why}", excerpt(raw)))
}

#[inline]
fn integer(raw: &[u8]) -> Option<i64> {
    parse_short_int(raw).or_else(|| std::str::from_utf8(raw).ok()?.parse().ok())
}

#[inline(always)]
fn number(raw: &[u8], divisor: f64) -> Option<f64> {
    let v = match parse_short_decimal(raw) {
        Some(v) => v,
        None => long_number(raw)?,
    };
    // A division is correctly rounded: 1500 µs is the double nearest 0.0015.
    Some(if divisor == 1.0 { v } else { v / divisor })
}

/// The items of an upstream list `[start, end)` into the list's values:
/// separated by `, ` (servers tried) and ` : ` (internal redirects), `-` a
/// null item (`-` alone, no upstream answered, is a list of one null item,
/// as written). On a bad item, where it is and what was expected.
#[inline]
fn list_items(
    values: &mut Col,
    item: &Kind,
    ctx: &LineCtx,
    start: usize,
    end: usize,
) -> std::result::Result<(), (usize, usize, &'static str)> {
    let mut at = start;
    loop {
        let rest = &ctx.bytes[at..end];
        // Nearly always one short item: no separator to look for past it
        // (and a loop over its bytes, where a `memchr2` call costs more).
        let (len, next) = if !rest.iter().any(|&c| c == b',' || c == b' ') {
            (rest.len(), None)
        } else {
            match (memchr::memmem::find(rest, b", "), memchr::memmem::find(rest, b" : ")) {
                (Some(c), Some(r)) if r < c => (r, Some(at + r + 3)),
                (Some(c), _) => (c, Some(at + c + 2)),
                (None, Some(r)) => (r, Some(at + r + 3)),
                (None, None) => (rest.len(), None),
            }
        };
        list_item(values, item, ctx, at, at + len).map_err(|what| (at, at + len, what))?;
        match next {
            Some(next) => at = next,
            None => return Ok(()),
        }
    }
}

#[cold]
fn long_number(raw: &[u8]) -> Option<f64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// One item of an upstream list into the list's values.
fn list_item(values: &mut Col, kind: &Kind, ctx: &LineCtx, start: usize, end: usize) -> std::result::Result<(), &'static str> {
    let raw = &ctx.bytes[start..end];
    if raw == b"-" || raw.is_empty() {
        values.push_null();
        return Ok(());
    }
    match kind {
        Kind::Status => values.as_u16().push(status(raw).ok_or("a 3-digit status code")?),
        Kind::Bytes => values.as_u64().push(count(raw).ok_or("byte counts")?),
        Kind::Number { divisor } => values.as_f64().push(number(raw, *divisor).ok_or("numbers")?),
        _ => values.as_str().push_view(ctx.view(start, end)),
    }
    Ok(())
}

impl LineParser for FormatParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        let mut fields = Vec::new();
        for step in &self.plan.steps {
            let v = &step.variable;
            match v.kind {
                Kind::Request => fields.extend(v.names.iter().map(|n| Field::new(n, strings.data_type(), true))),
                _ => fields.push(Field::new(&v.names[0], v.kind.data_type(strings), true)),
            }
        }
        fields
    }

    fn masks(&self) -> Option<bool> {
        Some(false)
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let trimmed = trim_end(ctx);
        if ctx.cut.is_some() {
            return self.plan.parse_line(&trimmed, cols, None);
        }
        // The masks cover the whole line; bits past the trimmed end are never
        // taken (a search answers only below the end).
        let read = match ctx.masks {
            Some(m) => Some(m),
            None if self.masks.read(ctx.bytes) => Some(&self.masks),
            None => None,
        }
        .filter(|m| !m.backslash);
        if let Some(masks) = read {
            if self.plan.parse_plain(&trimmed, cols, masks).is_some() {
                // Under cargo-fuzz every line the plain path takes is read
                // field by field too, so the log_format and parse targets
                // test the plain path against it.
                #[cfg(fuzzing)]
                self.plan.check_plain(trimmed.bytes, masks, self.fields(StringOutput::View));
                return Ok(());
            }
            cols.restart_row();
        }
        self.plan.parse_line(&trimmed, cols, read)
    }
}

/// A format string, cut into literal text and variables.
enum Piece {
    Text(Vec<u8>),
    Variable(Variable),
}

fn push_text_piece(pieces: &mut Vec<Piece>, bytes: &[u8]) {
    if let Some(Piece::Text(text)) = pieces.last_mut() {
        text.extend_from_slice(bytes);
    } else if !bytes.is_empty() {
        pieces.push(Piece::Text(bytes.to_vec()));
    }
}

fn variable(written: &str, name: &str, kind: Kind) -> Variable {
    let names =
        if kind == Kind::Request { vec!["method".to_string(), "path".to_string(), "protocol".to_string()] } else { vec![name.to_string()] };
    Variable { written: written.to_string(), names, kind }
}

/// nginx: `$name` or `${name}`; a `$` not followed by a name is text.
fn nginx_pieces(format: &str) -> Result<Vec<Piece>> {
    let b = format.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0;
    let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let Some(dollar) = memchr::memchr(b'$', &b[i..]) else {
            push_text_piece(&mut pieces, &b[i..]);
            break;
        };
        push_text_piece(&mut pieces, &b[i..i + dollar]);
        let at = i + dollar + 1;
        let (name, next) = if b.get(at) == Some(&b'{') {
            let close = memchr::memchr(b'}', &b[at..])
                .ok_or_else(|| SashError::spec(format!("log_format: '${{' at byte {} has no closing '}}'", at - 1)))?;
            (&format[at + 1..at + close], at + close + 1)
        } else {
            let len = b[at..].iter().take_while(|&&c| is_name(c)).count();
            (&format[at..at + len], at + len)
        };
        if name.is_empty() || !name.bytes().all(is_name) {
            push_text_piece(&mut pieces, b"$");
            i = at;
            continue;
        }
        pieces.push(Piece::Variable(variable(&format!("${name}"), name, nginx_kind(name))));
        i = next;
    }
    Ok(pieces)
}

fn nginx_kind(name: &str) -> Kind {
    let seconds = Kind::Number { divisor: 1.0 };
    match name {
        "remote_addr" | "realip_remote_addr" => Kind::Text { keep_dash: true },
        "request" => Kind::Request,
        "status" => Kind::Status,
        "body_bytes_sent" | "bytes_sent" | "request_length" => Kind::Bytes,
        "connection" | "connection_requests" | "remote_port" | "server_port" | "realip_remote_port" | "pid" => Kind::Int,
        "request_time" | "gzip_ratio" => seconds,
        "time_local" => Kind::Clf,
        "time_iso8601" => Kind::Iso8601,
        "msec" => Kind::Time(TimeFormat::EpochSeconds),
        "upstream_addr" => Kind::List(Box::new(Kind::Text { keep_dash: false })),
        "upstream_status" => Kind::List(Box::new(Kind::Status)),
        "upstream_response_length" | "upstream_bytes_received" | "upstream_bytes_sent" => Kind::List(Box::new(Kind::Bytes)),
        "upstream_response_time" | "upstream_connect_time" | "upstream_header_time" | "upstream_queue_time" => {
            Kind::List(Box::new(seconds))
        }
        _ => Kind::Text { keep_dash: false },
    }
}

/// Apache: `%[<>][!][codes][{arg}]X`, `%%`, and the C escapes the config
/// file's string takes (`\"`, `\\`, `\n`, `\t`).
fn apache_pieces(format: &str) -> Result<Vec<Piece>> {
    let b = format.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                let c = match b[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                };
                push_text_piece(&mut pieces, &[c]);
                i += 2;
            }
            b'%' => {
                let start = i;
                i += 1;
                if b.get(i) == Some(&b'%') {
                    push_text_piece(&mut pieces, b"%");
                    i += 1;
                    continue;
                }
                // Modifiers that choose when Apache logs the value (status
                // conditions) or which request (`<` original, `>` final):
                // neither changes the value's shape.
                while i < b.len() && (matches!(b[i], b'<' | b'>' | b'!' | b',') || b[i].is_ascii_digit()) {
                    i += 1;
                }
                let arg = if b.get(i) == Some(&b'{') {
                    let close = memchr::memchr(b'}', &b[i..])
                        .ok_or_else(|| SashError::spec(format!("log_format: '%{{' at byte {start} has no closing '}}'")))?;
                    let arg = &format[i + 1..i + close];
                    i += close + 1;
                    Some(arg)
                } else {
                    None
                };
                // `%{...}^ti` / `^to`: trailers, two letters.
                let letter_len = if b.get(i) == Some(&b'^') { 3 } else { 1 };
                let Some(letter) = format.get(i..i + letter_len) else {
                    return Err(SashError::spec(format!("log_format: '%' at byte {start} is not followed by a directive")));
                };
                i += letter_len;
                let written = &format[start..i];
                pieces.push(Piece::Variable(apache_variable(written, letter, arg)?));
            }
            c => {
                push_text_piece(&mut pieces, &[c]);
                i += 1;
            }
        }
    }
    // `%t` writes its own brackets: `[` CLF `]`.
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Variable(v) if v.written.ends_with('t') && v.kind == Kind::Clf && !v.written.contains('{') => {
                push_text_piece(&mut out, b"[");
                out.push(Piece::Variable(v));
                out.push(Piece::Text(b"]".to_vec()));
            }
            other => match other {
                Piece::Text(text) => push_text_piece(&mut out, &text),
                variable => out.push(variable),
            },
        }
    }
    Ok(out)
}

/// A header, cookie or note name as a column name: lower case, `_` for anything else.
fn column_name(prefix: &str, arg: &str) -> String {
    let clean: String = arg.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{prefix}{clean}")
}

fn apache_variable(written: &str, letter: &str, arg: Option<&str>) -> Result<Variable> {
    let text = Kind::Text { keep_dash: false };
    let arg_or =
        |what: &str| arg.ok_or_else(|| SashError::spec(format!("log_format: '{written}' needs {what} in braces, as %{{{what}}}{letter}")));
    let (name, kind): (String, Kind) = match letter {
        "a" => (if arg == Some("c") { "peer_ip" } else { "client_ip" }.into(), Kind::Text { keep_dash: true }),
        "A" => ("local_ip".into(), Kind::Text { keep_dash: true }),
        "b" | "B" => ("size".into(), Kind::Bytes),
        "C" => (column_name("cookie_", arg_or("a cookie name")?), text),
        "D" => ("request_time".into(), Kind::Number { divisor: 1e6 }),
        "e" => (column_name("env_", arg_or("a variable name")?), text),
        "f" => ("filename".into(), text),
        "h" => ("host".into(), Kind::Text { keep_dash: true }),
        "H" => ("protocol".into(), text),
        "i" => {
            let header = arg_or("a header name")?;
            let name = match header.to_ascii_lowercase().as_str() {
                "referer" | "referrer" => "referrer".to_string(),
                _ => column_name("", header),
            };
            (name, text)
        }
        "k" => ("keepalive".into(), Kind::Int),
        "l" => ("ident".into(), text),
        "L" => ("log_id".into(), text),
        "m" => ("method".into(), text),
        "n" => (column_name("note_", arg_or("a note name")?), text),
        "o" => (column_name("sent_", arg_or("a header name")?), text),
        "p" => {
            let name = match arg {
                None | Some("canonical") => "port",
                Some("local") => "local_port",
                Some("remote") => "remote_port",
                Some(other) => return Err(SashError::spec(format!("log_format: '{written}': unknown port '{other}' (canonical, local, remote)"))),
            };
            (name.into(), Kind::Int)
        }
        "P" => match arg {
            None | Some("pid") => ("pid".into(), Kind::Int),
            Some("tid") => ("tid".into(), Kind::Int),
            Some("hextid") => ("tid".into(), text),
            Some(other) => return Err(SashError::spec(format!("log_format: '{written}': unknown id '{other}' (pid, tid, hextid)"))),
        },
        "q" => ("query".into(), text),
        "r" => ("request".into(), Kind::Request),
        "R" => ("handler".into(), text),
        "s" => ("status".into(), Kind::Status),
        "t" => ("timestamp".into(), apache_time(written, arg)?),
        "T" => {
            let divisor = match arg {
                None | Some("s") => 1.0,
                Some("ms") => 1e3,
                Some("us") => 1e6,
                Some(other) => return Err(SashError::spec(format!("log_format: '{written}': unknown unit '{other}' (s, ms, us)"))),
            };
            ("request_time".into(), Kind::Number { divisor })
        }
        "u" => ("user".into(), text),
        "U" => ("url_path".into(), text),
        "v" | "V" => ("server_name".into(), text),
        "X" => ("connection_status".into(), text),
        "I" => ("bytes_received".into(), Kind::Bytes),
        "O" => ("bytes_sent".into(), Kind::Bytes),
        "S" => ("bytes_transferred".into(), Kind::Bytes),
        "^ti" => (column_name("trailer_", arg_or("a trailer name")?), text),
        "^to" => (column_name("sent_trailer_", arg_or("a trailer name")?), text),
        other => {
            return Err(SashError::spec(format!(
                "log_format: unknown directive '{written}' ('{other}' is none of Apache's: a A b B C D e f h H i k l L m n o p P q r R s t T u U v V X I O S ^ti ^to)"
            )))
        }
    };
    Ok(variable(written, &name, kind))
}

/// `%t` (CLF in brackets) or `%{format}t`: `sec`, `msec`, `usec`, their
/// `_frac` parts (integers), or a strftime format, each maybe after `begin:`/`end:`.
fn apache_time(written: &str, arg: Option<&str>) -> Result<Kind> {
    let Some(arg) = arg else { return Ok(Kind::Clf) };
    let format = arg.strip_prefix("begin:").or_else(|| arg.strip_prefix("end:")).unwrap_or(arg);
    Ok(match format {
        "sec" => Kind::Time(TimeFormat::EpochSeconds),
        "msec" => Kind::Time(TimeFormat::EpochMillis),
        "usec" => Kind::Time(TimeFormat::EpochMicros),
        "msec_frac" | "usec_frac" => Kind::Int,
        "%d/%b/%Y:%H:%M:%S %z" => Kind::Clf,
        strftime => Kind::Time(TimeFormat::parse(strftime).map_err(|e| SashError::spec(format!("log_format: '{written}': {e}")))?),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow_array::RecordBatch;
    use arrow_buffer::Buffer;

    /// Each line in its own buffer, parsed with `parser`.
    pub(crate) fn parse_all(parser: &mut dyn LineParser, lines: &[Vec<u8>]) -> RecordBatch {
        let mut cols = Columns::new(parser.fields(StringOutput::View), lines.len());
        let buffers: Vec<Buffer> = lines.iter().map(|l| Buffer::from(l.as_slice())).collect();
        for (i, buffer) in buffers.iter().enumerate() {
            let ctx = LineCtx { bytes: buffer.as_slice(), block: Some(i as u32 + 1), offset: 0, cut: None, masks: None };
            let result = parser.parse(&ctx, &mut cols);
            cols.end_row(&result);
        }
        cols.finish(&buffers, StringOutput::View).unwrap()
    }

    #[test]
    fn apaches_common_and_combined_strings_are_the_access_parser() {
        for (format, name) in [(APACHE_COMBINED, "combined"), (APACHE_COMMON, "common"), ("combined", "nickname")] {
            let parser = compile(Dialect::Apache, format, Zone::Utc).unwrap();
            assert!(format!("{parser:?}").starts_with("AccessParser"), "{name}: {parser:?}");
        }
        // One more field: the generic parser.
        let parser = compile(Dialect::Apache, &format!("{APACHE_COMBINED} %D"), Zone::Utc).unwrap();
        assert!(format!("{parser:?}").starts_with("FormatParser"));
    }

    /// The generic parser, given Apache's `common`/`combined` strings, gives
    /// the `combined` parser's rows: every value, and the same rows failed,
    /// on well-formed lines and on lines broken every way a field can break.
    #[test]
    fn the_generic_parser_gives_the_access_parsers_rows() {
        use crate::parse::formats::access::{tests::near_miss_lines, AccessParser};
        use arrow_array::Array;
        for (combined, layout) in [(false, APACHE_COMMON), (true, APACHE_COMBINED)] {
            let lines = near_miss_lines(combined, 6000, 11);
            let mut generic = FormatParser::steps_of(Dialect::Apache, layout, Zone::Utc).unwrap();
            let ours = parse_all(&mut generic, &lines);
            let theirs = parse_all(&mut AccessParser::new(combined), &lines);
            assert_eq!(ours.schema(), theirs.schema());
            let width = ours.num_columns() - 1;
            let failed = |b: &RecordBatch, row: usize| b.column(width).is_valid(row);
            let mut parsed = 0;
            for (row, line) in lines.iter().enumerate() {
                let line = String::from_utf8_lossy(line);
                assert_eq!(failed(&ours, row), failed(&theirs, row), "combined: {combined}, line {line:?}: {:?}", ours.slice(row, 1));
                if !failed(&ours, row) {
                    parsed += 1;
                    assert_eq!(ours.slice(row, 1), theirs.slice(row, 1), "combined: {combined}, line {line:?}");
                }
            }
            assert!(parsed >= 50, "{parsed}");
        }
    }

    /// Random format strings (variables of every kind between random
    /// separators, some quoted), lines written from them, parsed back: every
    /// value is found.
    #[test]
    fn random_format_strings_give_back_every_value() {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float64Type, TimestampMicrosecondType, UInt16Type, UInt64Type};
        use arrow_array::Array;
        let mut state = 3u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let separators = [" ", " | ", ", ", "\t", " x=", ";", " - ", "::"];
        for case in 0..300 {
            // (variable, quoted, kind index)
            let count = 1 + next(7) as usize;
            let mut format = String::new();
            let mut vars = Vec::new();
            for i in 0..count {
                let kind = next(7);
                let quoted = kind == 6 || next(4) == 0;
                let name = match kind {
                    0 => "remote_addr".to_string(),
                    1 => "status".to_string(),
                    2 => "body_bytes_sent".to_string(),
                    3 => "request_time".to_string(),
                    4 => "time_local".to_string(),
                    5 => format!("http_x_{i}"),
                    _ => "upstream_response_time".to_string(),
                };
                if i > 0 || next(2) == 0 {
                    format.push_str(separators[next(separators.len() as u64) as usize]);
                }
                format.push_str(&if quoted { format!("\"${name}\"") } else { format!("${name}") });
                vars.push((name, kind));
            }
            if next(2) == 0 {
                format.push_str(" end");
            }
            let mut parser = FormatParser::new(Dialect::Nginx, &format, Zone::Utc).unwrap();
            let names: Vec<String> = parser.fields(StringOutput::View).iter().map(|f| f.name().clone()).collect();
            let mut lines = Vec::new();
            let mut values: Vec<Vec<String>> = Vec::new();
            for _ in 0..20 {
                let mut row = Vec::new();
                for (_, kind) in &vars {
                    row.push(match kind {
                        0 => format!("10.{}.{}.{}", next(256), next(256), next(256)),
                        1 => format!("{}", 100 + next(500)),
                        2 => format!("{}", next(1 << 40)),
                        3 => format!("{}.{:03}", next(100), next(1000)),
                        4 => format!("{:02}/Oct/2000:13:55:{:02} -0700", 1 + next(28), next(60)),
                        5 => format!("v{}", next(1_000_000)),
                        _ => format!("0.{:03}, 1.{:03} : 2.{:03}", next(1000), next(1000), next(1000)),
                    });
                }
                // The line: the format string with each variable replaced by its value.
                let mut line = format.clone();
                for ((name, _), value) in vars.iter().zip(&row) {
                    line = line.replacen(&format!("${name}"), value, 1);
                }
                lines.push(line.into_bytes());
                values.push(row);
            }
            let out = parse_all(&mut parser, &lines);
            let errors = out.column_by_name("_error").unwrap();
            for (r, row) in values.iter().enumerate() {
                let line = String::from_utf8_lossy(&lines[r]);
                assert!(errors.is_null(r), "case {case} {format:?} line {line:?}: {:?}", errors.slice(r, 1));
                for (c, ((_, kind), value)) in vars.iter().zip(row).enumerate() {
                    let col = out.column_by_name(&names[c]).unwrap();
                    let got = match kind {
                        1 => col.as_primitive::<UInt16Type>().value(r).to_string(),
                        2 => col.as_primitive::<UInt64Type>().value(r).to_string(),
                        3 => format!("{:.3}", col.as_primitive::<Float64Type>().value(r)),
                        4 => {
                            let want = parse_clf(value.as_bytes()).unwrap();
                            assert_eq!(col.as_primitive::<TimestampMicrosecondType>().value(r), want, "case {case} {format:?}");
                            continue;
                        }
                        6 => {
                            let list = col.as_list::<i32>().value(r);
                            let items: Vec<String> =
                                list.as_primitive::<Float64Type>().values().iter().map(|v| format!("{v:.3}")).collect();
                            assert_eq!(items.len(), 3, "case {case} {format:?} line {line:?}");
                            let want: Vec<String> = value.split([',', ':']).map(|v| v.trim().to_string()).collect();
                            assert_eq!(items, want, "case {case} {format:?}");
                            continue;
                        }
                        _ => col.as_string_view().value(r).to_string(),
                    };
                    assert_eq!(&got, value, "case {case} {format:?} line {line:?} column {}", names[c]);
                }
            }
        }
    }

    /// The plain path (with its restarts) gives what the field-by-field
    /// parse gives, on random format strings and on their lines broken every
    /// way: bytes dropped, doubled or replaced by delimiters, backslashes,
    /// dashes, list separators; values of every kind, multi-item lists,
    /// timestamps of other widths, values past 8 bytes and at the line's
    /// end.
    #[test]
    fn plain_path_gives_what_the_field_parse_gives() {
        let mut state = 5u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let separators = [" ", " | ", ", ", "\t", " x=", ";", " - ", "::", "] [", " rt=", " uct=\"", "long separator text "];
        let names = [
            "remote_addr",
            "remote_user",
            "status",
            "body_bytes_sent",
            "request_time",
            "time_local",
            "request",
            "connection",
            "upstream_response_time",
            "upstream_addr",
            "upstream_status",
            "time_iso8601",
            "msec",
            "http_x",
        ];
        let noise = [" ", "\"", "-", ",", ", ", " : ", "\\", "\\\"", "]", "x", "é", ".", "1", ""];
        let mut plain_rows = 0;
        for case in 0..400 {
            let mut format = String::new();
            let mut vars = Vec::new();
            for i in 0..1 + next(6) as usize {
                let name = names[next(names.len() as u64) as usize];
                let quoted = name == "request" || next(3) == 0;
                if i > 0 || next(2) == 0 {
                    format.push_str(separators[next(separators.len() as u64) as usize]);
                }
                format.push_str(&if quoted { format!("\"${name}\"") } else { format!("${name}") });
                vars.push(name);
            }
            if next(2) == 0 {
                format.push_str(" end");
            }
            let mut plain = FormatParser::new(Dialect::Nginx, &format, Zone::Utc).unwrap();
            let mut fields = FormatParser::new(Dialect::Nginx, &format, Zone::Utc).unwrap();
            let mut lines = Vec::new();
            for _ in 0..60 {
                let mut line = format.clone();
                for name in &vars {
                    let value = match (*name, next(6)) {
                        (_, 0) => "-".to_string(),
                        ("status" | "upstream_status", _) => format!("{}", 100 + next(500)),
                        ("body_bytes_sent" | "connection", _) => {
                            let bits = 4 * next(16);
                            format!("{}", next(1 << bits))
                        }
                        ("request_time", _) => format!("{}.{:03}", next(100), next(1000)),
                        ("msec", _) => format!("1431856800.{:03}", next(1000)),
                        ("time_local", 1) => "10/Oct/2000:13:55:36 -07000".to_string(),
                        ("time_local", _) => format!("{:02}/Oct/2000:13:55:{:02} -0700", 1 + next(28), next(60)),
                        ("time_iso8601", _) => format!("2000-10-{:02}T13:55:36+02:00", 1 + next(28)),
                        ("request", 1) => "GET /a b c HTTP/1.1".to_string(),
                        ("request", _) => format!("GET /p{} HTTP/1.1", next(1000)),
                        ("upstream_response_time", 1) => "0.001, 0.002 : 0.003".to_string(),
                        ("upstream_response_time", _) => format!("0.{:03}", next(1000)),
                        ("upstream_addr", 1) => "10.0.0.1:80, 10.0.0.2:80".to_string(),
                        ("upstream_addr", _) => format!("10.0.0.{}:80", next(256)),
                        (_, 1) => "a longer value past eight bytes".to_string(),
                        _ => format!("v{}", next(1000)),
                    };
                    line = line.replacen(&format!("${name}"), &value, 1);
                }
                let mut line = line.into_bytes();
                for _ in 0..next(3) {
                    let at = next(line.len() as u64 + 1) as usize;
                    let piece = noise[next(noise.len() as u64) as usize].as_bytes();
                    match next(3) {
                        0 if at < line.len() => {
                            line.remove(at);
                        }
                        1 if at < line.len() => {
                            line.splice(at..at + 1, piece.iter().copied());
                        }
                        _ => {
                            line.splice(at..at, piece.iter().copied());
                        }
                    }
                }
                // Lines are valid UTF-8 by the time a parser sees them.
                lines.push(String::from_utf8_lossy(&line).into_owned().into_bytes());
            }
            plain_rows += assert_plain_is_field_by_field(&mut plain, &mut fields, &lines, &format!("case {case} {format:?}"));
        }
        // The plain path took most lines (so it is what was compared).
        assert!(plain_rows >= 400 * 60 / 3, "{plain_rows}");
    }

    /// `plain` (its plain path first) and `fields` (field by field only)
    /// give the same rows; returns how many lines the plain path took.
    fn assert_plain_is_field_by_field(plain: &mut FormatParser, fields: &mut FormatParser, lines: &[Vec<u8>], what: &str) -> usize {
        let ours = parse_all(plain, lines);
        let buffers: Vec<Buffer> = lines.iter().map(|l| Buffer::from(l.as_slice())).collect();
        let mut cols = Columns::new(fields.fields(StringOutput::View), lines.len());
        let mut plain_rows = 0;
        for (i, buffer) in buffers.iter().enumerate() {
            let line = LineCtx { bytes: buffer.as_slice(), block: Some(i as u32 + 1), offset: 0, cut: None, masks: None };
            let ctx = trim_end(&line);
            let result = fields.plan.parse_line(&ctx, &mut cols, None);
            cols.end_row(&result);
            let mut masks = LineMasks::new(false);
            if masks.read(buffer.as_slice()) && !masks.backslash {
                let mut scratch = Columns::new(plain.fields(StringOutput::View), 1);
                plain_rows += usize::from(plain.plan.parse_plain(&ctx, &mut scratch, &masks).is_some());
            }
        }
        let theirs = cols.finish(&buffers, StringOutput::View).unwrap();
        if ours != theirs {
            for (row, line) in lines.iter().enumerate() {
                assert_eq!(ours.slice(row, 1), theirs.slice(row, 1), "{what} line {:?}", String::from_utf8_lossy(line));
            }
        }
        plain_rows
    }

    /// A format string that starts with the `common` or `combined` layout
    /// (nginx's or Apache's) reads that start as the `combined` parser does:
    /// the same rows as field by field, on lines broken every way a field can
    /// break and with every kind of text after the layout.
    #[test]
    fn strings_starting_with_the_access_layouts_give_the_field_parse_rows() {
        use crate::parse::formats::access::tests::near_miss_lines;
        let nginx_extra = r#" rt=$request_time uct="$upstream_connect_time""#;
        let apache_extra = r#" rt=%D uct="%{Uct}i""#;
        let cases = [
            (Dialect::Nginx, NGINX_COMBINED.to_string(), true),
            (Dialect::Nginx, format!("{NGINX_COMBINED}{nginx_extra}"), true),
            (Dialect::Nginx, NGINX_COMMON.to_string(), false),
            (Dialect::Nginx, format!("{NGINX_COMMON}{nginx_extra}"), false),
            (Dialect::Apache, format!("{APACHE_COMBINED}{apache_extra}"), true),
            (Dialect::Apache, format!("{APACHE_COMMON}{apache_extra}"), false),
        ];
        let suffixes =
            ["", r#" rt=0.123 uct="0.001""#, r#" rt=- uct="-""#, r#" rt=1.5 uct="0.1, 0.2 : 0.3""#, " rt=x", r#" rt=2 uct="1" more"#];
        for (n, (dialect, format, combined)) in cases.into_iter().enumerate() {
            let mut plain = FormatParser::new(dialect, &format, Zone::Utc).unwrap();
            let layout = plain.plan.access.expect("the layout is found").0;
            assert_eq!((layout.combined, layout.ident), (combined, dialect == Dialect::Apache), "{format}");
            let mut fields = FormatParser::steps_of(dialect, &format, Zone::Utc).unwrap();
            let mut state = n as u64;
            let mut next = |k: u64| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) % k
            };
            // Well-formed lines too (a near miss is rarely whole).
            let good: Vec<Vec<u8>> = (0..2000)
                .map(|_| {
                    let pick = |items: &[&str], k: u64| items[k as usize % items.len()].to_string();
                    let mut line = format!(
                        "{} {} {} [{:02}/Oct/2000:13:55:36 -0700] \"{}\" {} {}",
                        pick(&["10.0.0.1", "::1", "h", "-"], next(4)),
                        pick(&["-", "id"], next(2)),
                        pick(&["-", "frank"], next(2)),
                        1 + next(28),
                        pick(&["GET /a HTTP/1.1", "-", "GET", "GET /a b HTTP/1.0", "POST /x?y=1 HTTP/2.0"], next(5)),
                        pick(&["200", "404", "500"], next(3)),
                        pick(&["2326", "-", "0", "12345678", "123456789", "18446744073709551615"], next(6)),
                    );
                    if combined {
                        line += &format!(r#" "{}" "{}""#, pick(&["-", "http://e.com/"], next(2)), pick(&["-", "curl/8", ""], next(3)));
                    }
                    line.into_bytes()
                })
                .collect();
            let lines: Vec<Vec<u8>> = near_miss_lines(combined, 2000, 13 + n as u64)
                .into_iter()
                .chain(good)
                .map(|mut line| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // nginx writes `-` where Apache's ident is: most lines get it.
                    if dialect == Dialect::Nginx && !state.is_multiple_of(4) {
                        if let Some(first) = line.iter().position(|&c| c == b' ') {
                            if let Some(second) = line[first + 1..].iter().position(|&c| c == b' ') {
                                line.splice(first + 1..first + 1 + second, *b"-");
                            }
                        }
                    }
                    line.extend_from_slice(suffixes[(state >> 40) as usize % suffixes.len()].as_bytes());
                    line
                })
                .collect();
            let taken = assert_plain_is_field_by_field(&mut plain, &mut fields, &lines, &format);
            assert!(taken >= 200, "{format}: {taken}");
        }
        // A size followed by other text than a space: not the layout's end.
        let plain = FormatParser::new(Dialect::Nginx, &format!("{NGINX_COMMON};$x"), Zone::Utc).unwrap();
        assert!(plain.plan.access.is_none());
    }

    #[test]
    fn compile_errors_are_clear() {
        let err = |d, f: &str| FormatParser::new(d, f, Zone::Utc).unwrap_err().to_string();
        assert!(err(Dialect::Nginx, "$a$b").contains("no text between"), "{}", err(Dialect::Nginx, "$a$b"));
        assert!(err(Dialect::Nginx, "plain text").contains("no variables"));
        assert!(err(Dialect::Apache, "%h %Z").contains("unknown directive '%Z'"));
        assert!(err(Dialect::Apache, "%h %{Referer").contains("no closing"));
        assert!(err(Dialect::Apache, "%h %").contains("not followed"));
        assert!(err(Dialect::Apache, "%h %i").contains("header name"));
        assert!(err(Dialect::Apache, "%h %{%Q}t").contains("strftime") || err(Dialect::Apache, "%h %{%Q}t").contains("%Q"));
    }
}
