//! logfmt: `key=value key2="quoted \"value\"" flag`.
//!
//! With declared `fields`, each becomes a typed column (keys not declared are
//! skipped; when a key repeats, the last value wins). Without, every pair
//! goes into one `fields` column of type Map<Utf8, Utf8>, in line order,
//! repeats included. A bare key (no `=`) has a null value; `key=` has "".

use crate::bytes::short_eq;
use crate::parse::fields::{closing_quote, describe_byte, unescape};
use crate::parse::row::{Columns, Failure, LineCtx, MapCol, Parsed};
use crate::parse::scan::{find_either, LineMasks};
use crate::parse::spec::{FieldType, StringOutput};
use crate::parse::time::Zone;
use crate::parse::typed::TypedField;
use crate::parse::LineParser;
use arrow_schema::{DataType, Field};

#[derive(Debug)]
pub(crate) struct LogfmtParser {
    declared: Vec<TypedField>,
    /// Per declared field, whether its name holds no byte that ends a key, so
    /// a line can be checked for it without scanning (see [`next_pair`]).
    plain: Vec<bool>,
    zone: Zone,
    /// Per declared field, this line's value: (start, end, escaped), or a bare key.
    slots: Vec<Option<Slot>>,
    decoded: Vec<u8>,
    masks: LineMasks,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Value { start: usize, end: usize, escaped: bool },
    Bare,
}

impl LogfmtParser {
    pub(crate) fn new(fields: &[(String, FieldType)], zone: Zone) -> LogfmtParser {
        LogfmtParser {
            declared: fields.iter().map(|(n, t)| TypedField::new(n, t.clone())).collect(),
            plain: fields.iter().map(|(n, _)| !n.is_empty() && !n.bytes().any(|c| ENDS_KEY[c as usize])).collect(),
            zone,
            slots: vec![None; fields.len()],
            decoded: Vec::new(),
            masks: LineMasks::new(true),
        }
    }
}

/// One pair: key range, value (range, quoted, escaped) or none, position
/// after, and whether the key is the predicted one.
struct Pair {
    key: (usize, usize),
    value: Option<(usize, usize, bool)>,
    next: usize,
    predicted: bool,
}

/// Bytes that end a key: `=`, a separator, or a quote (which a key cannot hold).
const ENDS_KEY: [bool; 256] = byte_set(b"= \t\"");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Why a pair could not be read, kept small so the common path returns in
/// registers; rendered into a [`Failure`] only when it happens.
#[derive(Clone, Copy)]
enum PairError {
    NoKey { at: usize },
    QuoteInKey { at: usize },
    Unclosed { key: (usize, usize), quote: usize },
    NoSpaceAfterQuote { key: (usize, usize), at: usize },
}

impl PairError {
    #[cold]
    fn failure(self, b: &[u8]) -> Failure {
        let name = |key: (usize, usize)| String::from_utf8_lossy(&b[key.0..key.1]).into_owned();
        match self {
            PairError::NoKey { at } => Failure::new("key", at, format!("expected a key, found {}", describe_byte(b[at]))),
            PairError::QuoteInKey { at } => Failure::new("key", at, "a key cannot hold '\"'"),
            PairError::Unclosed { key, quote } => {
                Failure::new(&name(key), b.len(), format!("no closing '\"' for the quote at byte {quote}: the line ends"))
            }
            PairError::NoSpaceAfterQuote { key, at } => Failure::new(&name(key), at, "expected a space after the closing quote"),
        }
    }
}

/// The next pair after `at`. `predicted` is a key expected here, holding no
/// byte that ends a key: when the line has it followed by `=`, the key is
/// taken whole instead of scanned (a scan would stop at the same place).
#[inline(always)]
fn next_pair(b: &[u8], at: usize, predicted: Option<&[u8]>) -> Result<Option<Pair>, PairError> {
    let mut at = skip_separators(b, at);
    if at == b.len() {
        return Ok(None);
    }
    let key_start = at;
    let predicted = match predicted {
        Some(name) if key_at(b, at, name) => {
            at += name.len();
            true
        }
        _ => {
            while at < b.len() && !ENDS_KEY[b[at] as usize] {
                at += 1;
            }
            false
        }
    };
    if at == key_start {
        return Err(PairError::NoKey { at });
    }
    let key = (key_start, at);
    if at == b.len() || b[at] != b'=' {
        if at < b.len() && b[at] == b'"' {
            return Err(PairError::QuoteInKey { at });
        }
        return Ok(Some(Pair { key, value: None, next: at, predicted }));
    }
    at += 1;
    if b.get(at) == Some(&b'"') {
        let (end, escaped) = closing_quote(b, at + 1).ok_or(PairError::Unclosed { key, quote: at })?;
        if end + 1 < b.len() && !matches!(b[end + 1], b' ' | b'\t') {
            return Err(PairError::NoSpaceAfterQuote { key, at: end + 1 });
        }
        return Ok(Some(Pair { key, value: Some((at + 1, end, escaped)), next: end + 1, predicted }));
    }
    let start = at;
    let end = find_either(b, at, b' ', b'\t');
    Ok(Some(Pair { key, value: Some((start, end, false)), next: end, predicted }))
}

/// What [`next_pair`] finds after `at` when it is asked for `name`, in a line
/// without backslashes read into `masks`, as far as the in-order path cares:
/// the line's end, that key's value (never escaped, and never missing: the
/// key is followed by `=`), or anything else.
enum InOrder {
    End,
    Pair { value: (usize, usize, bool), next: usize },
    Other,
}

#[inline(always)]
fn skip_separators(b: &[u8], mut at: usize) -> usize {
    while at < b.len() && (b[at] == b' ' || b[at] == b'\t') {
        at += 1;
    }
    at
}

/// Whether `name` followed by `=` starts at `at`.
#[inline(always)]
fn key_at(b: &[u8], at: usize, name: &[u8]) -> bool {
    b.get(at + name.len()) == Some(&b'=') && short_eq(&b[at..at + name.len()], name)
}

#[inline(always)]
fn next_predicted_pair(b: &[u8], at: usize, name: &[u8], masks: &LineMasks) -> InOrder {
    let at = skip_separators(b, at);
    if at == b.len() {
        return InOrder::End;
    }
    if !key_at(b, at, name) {
        return InOrder::Other;
    }
    let at = at + name.len() + 1;
    if b.get(at) == Some(&b'"') {
        let end = masks.next_quote(at + 1);
        if end >= b.len() || end + 1 < b.len() && !matches!(b[end + 1], b' ' | b'\t') {
            return InOrder::Other;
        }
        return InOrder::Pair { value: (at + 1, end, false), next: end + 1 };
    }
    let end = masks.next_space(at).min(b.len());
    InOrder::Pair { value: (at, end, false), next: end }
}

impl LogfmtParser {
    /// The line as most lines of a log are: pairs naming declared fields in
    /// their declared order, each at most once, nothing else. Such a line's
    /// values are written as they are read, which gives exactly what the
    /// slots below give (no key repeats, so no later value wins, and line
    /// order is declared order, so a failing value stops at the same field).
    /// `None` on the first thing that departs from it (another key, a key
    /// out of order or repeated, a malformed pair, a value of the wrong
    /// type): the caller drops what was written and parses the line in full.
    #[inline]
    fn parse_in_order(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Option<Parsed> {
        let b = ctx.bytes;
        match ctx.masks {
            Some(masks) if !masks.backslash => return self.parse_in_order_masked(ctx, Some(masks), cols),
            Some(_) => {}
            None if self.masks.read(b) && !self.masks.backslash => return self.parse_in_order_masked(ctx, None, cols),
            None => {}
        }
        let mut at = 0;
        for i in 0..self.declared.len() {
            let name = self.plain[i].then_some(self.declared[i].name.as_bytes())?;
            let pair = match next_pair(b, at, Some(name)) {
                Ok(Some(pair)) if pair.predicted => pair,
                Ok(None) => return Some(Ok(())),
                _ => return None,
            };
            self.write_value(i, pair.value, ctx, cols).ok()?;
            at = pair.next;
        }
        // Every declared field was found: only the line's end may follow.
        match next_pair(b, at, None) {
            Ok(None) => Some(Ok(())),
            _ => None,
        }
    }

    /// [`Self::parse_in_order`] of a line without backslashes whose masks
    /// are read (`line_masks`, given with the line, or else `self.masks`):
    /// values end at the next separator or quote found in them (with no
    /// backslash, the first quote closes a value, as [`closing_quote`]
    /// finds).
    #[inline(always)]
    fn parse_in_order_masked(&mut self, ctx: &LineCtx, line_masks: Option<&LineMasks>, cols: &mut Columns) -> Option<Parsed> {
        let b = ctx.bytes;
        let mut at = 0;
        for i in 0..self.declared.len() {
            let name = self.plain[i].then_some(self.declared[i].name.as_bytes())?;
            let masks = line_masks.unwrap_or(&self.masks);
            let (value, next) = match next_predicted_pair(b, at, name, masks) {
                InOrder::Pair { value, next } => (value, next),
                InOrder::End => return Some(Ok(())),
                InOrder::Other => return None,
            };
            self.write_value(i, Some(value), ctx, cols).ok()?;
            at = next;
        }
        at = skip_separators(b, at);
        (at == b.len()).then_some(Ok(()))
    }

    /// Writes declared field `i`'s value from the line: `None` for a bare
    /// key (true for a bool, else null), else its range, decoded when it
    /// holds escapes.
    #[inline(always)]
    fn write_value(&mut self, i: usize, value: Option<(usize, usize, bool)>, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let field = &mut self.declared[i];
        match value {
            None => {
                match field.field_type {
                    FieldType::Bool => cols.bool(i, true),
                    _ => cols.set_null(i),
                }
                Ok(())
            }
            Some((start, end, escaped)) => {
                let decoded = escaped && unescape(&ctx.bytes[start..end], &mut self.decoded);
                field.push(cols, i, ctx, start, end, decoded.then_some(&self.decoded[..]), self.zone)
            }
        }
    }

    /// Any line with declared fields: every pair is read first, each
    /// declared field's last value kept in its slot, then the slots are
    /// written in declared order.
    fn parse_with_slots(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
        let mut at = 0;
        self.slots.iter_mut().for_each(|s| *s = None);
        let mut failure = None;
        // Lines of one log mostly list their keys in the same order: the
        // field after the last one found is tried first.
        let mut expected = 0;
        loop {
            let predicted = self.declared.get(expected).filter(|_| self.plain[expected]).map(|f| f.name.as_bytes());
            match next_pair(b, at, predicted) {
                Ok(Some(pair)) => {
                    let key = &b[pair.key.0..pair.key.1];
                    // Declared names are unique (the spec checks), so the
                    // search finds the predicted field when it was not
                    // checked in place (a name that is not plain).
                    let found =
                        if pair.predicted { Some(expected) } else { self.declared.iter().position(|f| short_eq(f.name.as_bytes(), key)) };
                    if let Some(i) = found {
                        expected = i + 1;
                        self.slots[i] = Some(match pair.value {
                            None => Slot::Bare,
                            Some((start, end, escaped)) => Slot::Value { start, end, escaped },
                        });
                    }
                    at = pair.next;
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e.failure(b));
                    break;
                }
            }
        }
        // Values found before a failure are kept.
        for i in 0..self.declared.len() {
            match self.slots[i] {
                None => {}
                Some(Slot::Bare) => self.write_value(i, None, ctx, cols)?,
                Some(Slot::Value { start, end, escaped }) => self.write_value(i, Some((start, end, escaped)), ctx, cols)?,
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

impl LineParser for LogfmtParser {
    fn masks(&self) -> Option<bool> {
        // Only the in-order path of declared fields reads them.
        (!self.declared.is_empty()).then_some(true)
    }

    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        if self.declared.is_empty() {
            vec![Field::new("fields", DataType::Map(MapCol::entries_field(), false), true)]
        } else {
            self.declared.iter().map(|f| f.arrow_field(strings)).collect()
        }
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
        let mut at = 0;
        if self.declared.is_empty() {
            // Pairs before a failure are kept: the map holds them and `_error`
            // says where it stopped. So each pair goes into the map as it is
            // read, straight from the line (before the cut it is valid UTF-8).
            let map = cols.map(0);
            let failure = loop {
                let pair = match next_pair(b, at, None) {
                    Ok(Some(pair)) => pair,
                    Ok(None) => break None,
                    Err(e) => break Some(e.failure(b)),
                };
                let key = String::from_utf8_lossy(&b[pair.key.0..pair.key.1]);
                if let Err(f) = ctx.check_cut(&key, pair.key.1) {
                    break Some(f);
                }
                let value = match pair.value {
                    None => None,
                    Some((start, end, escaped)) => {
                        if let Err(f) = ctx.check_cut(&key, end) {
                            break Some(f);
                        }
                        if escaped && unescape(&b[start..end], &mut self.decoded) {
                            Some(std::borrow::Cow::Borrowed(std::str::from_utf8(&self.decoded).expect("unescape checked UTF-8")))
                        } else {
                            // Values end at ASCII bytes.
                            Some(String::from_utf8_lossy(&b[start..end]))
                        }
                    }
                };
                map.push_entry(&key, value.as_deref());
                at = pair.next;
            };
            map.close_row();
            return failure.map_or(Ok(()), Err);
        }
        match self.parse_in_order(ctx, cols) {
            Some(result) => result,
            None => {
                cols.restart_row();
                self.parse_with_slots(ctx, cols)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::TimeFormat;
    use arrow_array::RecordBatch;
    use arrow_buffer::Buffer;

    /// Each line in its own buffer (views point at buffer i + 1; 0 is the
    /// side buffer), parsed with or without the in-order path first.
    fn parse_all(lines: &[Vec<u8>], in_order_first: bool) -> RecordBatch {
        let fields = [
            ("a", FieldType::Int),
            ("bb", FieldType::Bool),
            ("t", FieldType::Timestamp(TimeFormat::Auto)),
            ("f", FieldType::Float),
            ("s", FieldType::String),
        ];
        let fields: Vec<(String, FieldType)> = fields.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        let mut parser = LogfmtParser::new(&fields, Zone::Utc);
        let mut cols = Columns::new(parser.fields(StringOutput::View), lines.len());
        let buffers: Vec<Buffer> = lines.iter().map(|l| Buffer::from(l.as_slice())).collect();
        for (i, buffer) in buffers.iter().enumerate() {
            let ctx = LineCtx { bytes: buffer.as_slice(), block: Some(i as u32 + 1), offset: 0, cut: None, masks: None };
            let result = if in_order_first { parser.parse(&ctx, &mut cols) } else { parser.parse_with_slots(&ctx, &mut cols) };
            cols.end_row(&result);
        }
        cols.finish(&buffers, StringOutput::View).unwrap()
    }

    /// The in-order path (with its restarts) must give what the slots give,
    /// on lines in declared order and on lines that depart from it in every
    /// way: other keys, repeats, reordering, bare keys, bad values, escapes,
    /// malformed pairs.
    #[test]
    fn in_order_path_gives_what_the_slots_give() {
        let in_order: &[&[&str]] = &[
            &["a=1", "a=-7", "a=x", "a=", "a=\"7\""],
            &["bb=true", "bb=0", "bb", "bb=maybe"],
            &["t=2024-01-02T03:04:05Z", "t=2024-01-02T03:04:06Z", "t=bad"],
            &["f=1.5", "f=2", "f=1e3", "f=x"],
            &["s=plain", r#"s="two words""#, r#"s="esc \"q\"""#, "s=", r#"s="open"#, r#"s="x"y"#],
        ];
        let others = ["zz=9", "=x", "a\"=1", "a=2", "bb=false", "\t", "", "s=later"];
        let mut state = 3u64;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut lines = Vec::new();
        for _ in 0..4000 {
            let mut pieces: Vec<&str> = Vec::new();
            // A prefix of the declared fields in order, as most lines are.
            for choices in &in_order[..next(in_order.len() + 1)] {
                pieces.push(choices[next(choices.len())]);
            }
            // Then, on some lines, a departure.
            match next(4) {
                0 => pieces.push(others[next(others.len())]),
                1 => {
                    let at = next(pieces.len() + 1);
                    pieces.insert(at, others[next(others.len())]);
                }
                2 if pieces.len() > 1 => {
                    let last = pieces.len() - 1;
                    pieces.swap(0, last);
                }
                _ => {}
            }
            // Separators drawn per gap, at times none at all: a quoted value
            // must still end before the next key.
            let mut line = Vec::new();
            for (k, piece) in pieces.iter().enumerate() {
                if k > 0 {
                    line.extend_from_slice([" ", "  ", "\t", ""][next(4)].as_bytes());
                }
                line.extend_from_slice(piece.as_bytes());
            }
            lines.push(line);
        }
        assert_eq!(parse_all(&lines, true), parse_all(&lines, false));
    }
}
