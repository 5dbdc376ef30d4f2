//! A direct decoder for the common JSON lines case: one flat object per line,
//! declared fields of string, integer, float, boolean or timestamp type.
//!
//! arrow-json first builds a tape of every token of every line, then walks it
//! once per column; for flat records that is most of the parsing time. This
//! decoder reads each line once, straight into the output columns.
//!
//! It decodes only what it can decode exactly as arrow-json does: a value
//! arrow-json would coerce (a number for a string field, `1.0` or `"7"` for an
//! integer field, a number for a timestamp), an escape other than the two-byte
//! ones, a duplicated key, anything malformed, is not guessed at: the line is
//! handed back and goes through arrow-json (`json.rs`), so a result never
//! depends on which decoder produced it. A unit test checks both decoders
//! against each other on random lines built to hit those cases.

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::timezone::Tz;
use arrow_array::types::*;
use arrow_array::{make_array, Array, ArrayRef, BooleanArray, LargeStringArray, PrimitiveArray, StringArray};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_cast::parse::string_to_datetime;
use arrow_schema::{ArrowError, DataType, Fields, TimeUnit};
use chrono::{TimeZone, Utc};
use std::sync::Arc;

/// What a declared field holds.
#[derive(Debug, Clone)]
enum Kind {
    Utf8,
    LargeUtf8,
    Boolean,
    /// Any integer type but UInt64; values are checked against `[min, max]`.
    Int {
        min: i64,
        max: i64,
    },
    UInt64,
    Float32,
    Float64,
    Timestamp {
        unit: TimeUnit,
        zone: Option<Tz>,
    },
}

impl Kind {
    fn of(data_type: &DataType) -> Option<Kind> {
        let int = |min: i64, max: i64| Some(Kind::Int { min, max });
        match data_type {
            DataType::Utf8 => Some(Kind::Utf8),
            DataType::LargeUtf8 => Some(Kind::LargeUtf8),
            DataType::Boolean => Some(Kind::Boolean),
            DataType::Int8 => int(i8::MIN.into(), i8::MAX.into()),
            DataType::Int16 => int(i16::MIN.into(), i16::MAX.into()),
            DataType::Int32 => int(i32::MIN.into(), i32::MAX.into()),
            DataType::Int64 => int(i64::MIN, i64::MAX),
            DataType::UInt8 => int(0, u8::MAX.into()),
            DataType::UInt16 => int(0, u16::MAX.into()),
            DataType::UInt32 => int(0, u32::MAX.into()),
            DataType::UInt64 => Some(Kind::UInt64),
            DataType::Float32 => Some(Kind::Float32),
            DataType::Float64 => Some(Kind::Float64),
            DataType::Timestamp(unit, zone) => {
                let zone = match zone {
                    None => None,
                    Some(name) => Some(name.parse::<Tz>().ok()?),
                };
                Some(Kind::Timestamp { unit: *unit, zone })
            }
            _ => None,
        }
    }
}

/// One field's value in the line being decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Missing,
    Null,
    /// A string's bytes between its quotes; `escaped` when it holds a backslash.
    Str {
        start: usize,
        end: usize,
        escaped: bool,
    },
    /// A number's text, not yet read: how depends on the field's type.
    Num {
        start: usize,
        end: usize,
        integral: bool,
    },
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

/// A column being filled: values and validity, one entry per row.
#[derive(Debug)]
enum Column {
    Str {
        offsets: Vec<i64>,
        bytes: Vec<u8>,
    },
    Bool(BooleanBufferBuilder),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Timestamps, with the last string decoded and its value: log lines
    /// repeat their timestamps, and parsing one costs more than comparing it.
    Time {
        values: Vec<i64>,
        last: Vec<u8>,
        last_value: i64,
    },
}

/// Decoded columns, and the rows left to arrow-json.
type Decoded = (Vec<ArrayRef>, Vec<usize>);

/// The flat decoder for one schema; `None` from [`FlatDecoder::new`] when a
/// field's type is not one it handles.
#[derive(Debug)]
pub(crate) struct FlatDecoder {
    names: Vec<Box<[u8]>>,
    kinds: Vec<Kind>,
    data_types: Vec<DataType>,
}

impl FlatDecoder {
    pub(crate) fn new(fields: &Fields) -> Option<FlatDecoder> {
        let kinds = fields.iter().map(|f| Kind::of(f.data_type()).filter(|_| f.is_nullable())).collect::<Option<Vec<_>>>()?;
        let names = fields.iter().map(|f| f.name().as_bytes().into()).collect();
        let data_types = fields.iter().map(|f| f.data_type().clone()).collect();
        Some(FlatDecoder { names, kinds, data_types })
    }

    /// Decodes `lines` (`None`: a row already known bad, left null). Returns
    /// the columns and the rows left to arrow-json (null in the columns), or
    /// `None` when the strings outgrow 32-bit offsets.
    pub(crate) fn decode(&self, lines: &[Option<&[u8]>]) -> Result<Option<Decoded>, ArrowError> {
        let rows = lines.len();
        let mut columns: Vec<Column> = self
            .kinds
            .iter()
            .map(|kind| match kind {
                Kind::Utf8 | Kind::LargeUtf8 => {
                    let mut offsets = Vec::with_capacity(rows + 1);
                    offsets.push(0);
                    Column::Str { offsets, bytes: Vec::new() }
                }
                Kind::Boolean => Column::Bool(BooleanBufferBuilder::new(rows)),
                Kind::Int { .. } => Column::Int(Vec::with_capacity(rows)),
                Kind::UInt64 => Column::UInt(Vec::with_capacity(rows)),
                Kind::Float32 => Column::F32(Vec::with_capacity(rows)),
                Kind::Float64 => Column::F64(Vec::with_capacity(rows)),
                Kind::Timestamp { .. } => Column::Time { values: Vec::with_capacity(rows), last: Vec::new(), last_value: 0 },
            })
            .collect();
        let mut valid: Vec<BooleanBufferBuilder> = self.kinds.iter().map(|_| BooleanBufferBuilder::new(rows)).collect();
        let mut values = vec![Value::Missing; self.kinds.len()];
        let mut left = Vec::new();
        for (row, line) in lines.iter().enumerate() {
            values.fill(Value::Missing);
            let decoded = match line {
                Some(line) => self.read_line(line, &mut values) && self.convert(line, &mut values, &mut columns),
                None => false,
            };
            if !decoded {
                values.fill(Value::Missing);
                if line.is_some() {
                    left.push(row);
                }
            }
            for ((value, column), valid) in values.iter().zip(&mut columns).zip(&mut valid) {
                valid.append(!matches!(value, Value::Missing | Value::Null));
                push(column, line.unwrap_or_default(), value);
            }
        }
        let mut arrays = Vec::with_capacity(columns.len());
        for (((column, mut valid), kind), data_type) in columns.into_iter().zip(valid).zip(&self.kinds).zip(&self.data_types) {
            let nulls = Some(NullBuffer::new(valid.finish())).filter(|n| n.null_count() > 0);
            let array: ArrayRef = match column {
                Column::Str { offsets, bytes } if matches!(kind, Kind::Utf8) => {
                    if bytes.len() > i32::MAX as usize {
                        return Ok(None);
                    }
                    let offsets: Vec<i32> = offsets.into_iter().map(|o| o as i32).collect();
                    // SAFETY: the offsets grow from 0 to `bytes.len()`, and every
                    // value is a slice of a UTF-8 line cut at ASCII quotes, or
                    // the UTF-8 of an escape: the bytes are valid UTF-8.
                    Arc::new(unsafe {
                        StringArray::new_unchecked(OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)), bytes.into(), nulls)
                    })
                }
                Column::Str { offsets, bytes } => {
                    // SAFETY: as above, with 64-bit offsets.
                    Arc::new(unsafe {
                        LargeStringArray::new_unchecked(OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)), bytes.into(), nulls)
                    })
                }
                Column::Bool(mut bits) => Arc::new(BooleanArray::new(bits.finish(), nulls)),
                Column::Int(values) => {
                    let wide = PrimitiveArray::<Int64Type>::new(values.into(), nulls);
                    // Every value was checked against the type's range.
                    if *data_type == DataType::Int64 {
                        Arc::new(wide)
                    } else {
                        arrow_cast::cast(&wide, data_type)?
                    }
                }
                Column::UInt(values) => Arc::new(PrimitiveArray::<UInt64Type>::new(values.into(), nulls)),
                Column::F32(values) => Arc::new(PrimitiveArray::<Float32Type>::new(values.into(), nulls)),
                Column::F64(values) => Arc::new(PrimitiveArray::<Float64Type>::new(values.into(), nulls)),
                // Timestamps are 64-bit integers underneath: only the type changes.
                Column::Time { values, .. } => {
                    let ticks = PrimitiveArray::<Int64Type>::new(values.into(), nulls).into_data();
                    make_array(ticks.into_builder().data_type(data_type.clone()).build()?)
                }
            };
            arrays.push(array);
        }
        Ok(Some((arrays, left)))
    }

    /// Reads one line into `values`; false when the line is not a flat object
    /// this decoder reads exactly as arrow-json would.
    fn read_line(&self, line: &[u8], values: &mut [Value]) -> bool {
        let mut at = skip_space(line, 0);
        if line.get(at) != Some(&b'{') {
            return false;
        }
        at = skip_space(line, at + 1);
        if line.get(at) == Some(&b'}') {
            return skip_space(line, at + 1) == line.len();
        }
        // Keys usually come in the same order on every line: try the field
        // after the last one found before searching them all.
        let mut expected = 0;
        loop {
            if line.get(at) != Some(&b'"') {
                return false;
            }
            let Some((end, escaped)) = scan_string(line, at + 1) else { return false };
            // A key with an escape could spell a declared name another way.
            if escaped {
                return false;
            }
            let key = &line[at + 1..end];
            let field = match self.names.get(expected) {
                Some(name) if **name == *key => Some(expected),
                _ => self.names.iter().position(|n| **n == *key),
            };
            if let Some(f) = field {
                expected = f + 1;
            }
            at = skip_space(line, end + 1);
            if line.get(at) != Some(&b':') {
                return false;
            }
            at = skip_space(line, at + 1);
            let Some(&first) = line.get(at) else { return false };
            match field {
                Some(f) => {
                    // arrow-json keeps the last of repeated keys; leave those lines to it.
                    if values[f] != Value::Missing {
                        return false;
                    }
                    let Some((value, next)) = read_value(line, at, first) else { return false };
                    values[f] = value;
                    at = next;
                }
                None => match skip_value(line, at, 0) {
                    Some(next) => at = next,
                    None => return false,
                },
            }
            at = skip_space(line, at);
            match line.get(at) {
                Some(b',') => at = skip_space(line, at + 1),
                Some(b'}') => return skip_space(line, at + 1) == line.len(),
                _ => return false,
            }
        }
    }

    /// Checks each value against its field's type, turning timestamp strings
    /// into values; false when arrow-json would coerce or reject a value.
    fn convert(&self, line: &[u8], values: &mut [Value], columns: &mut [Column]) -> bool {
        for ((value, kind), column) in values.iter_mut().zip(&self.kinds).zip(columns.iter_mut()) {
            let fits = match (*value, kind) {
                (Value::Missing | Value::Null, _) => true,
                (Value::Str { .. }, Kind::Utf8 | Kind::LargeUtf8) => true,
                (Value::Bool(_), Kind::Boolean) => true,
                (Value::Num { start, end, integral }, _) => {
                    // SAFETY: ASCII digits, signs, '.', 'e' and 'E' only.
                    let text = unsafe { std::str::from_utf8_unchecked(&line[start..end]) };
                    // Integer fields take integers of their range only
                    // (arrow-json would truncate 1.5 or round 1e3: left to it).
                    // Floats are parsed with correct rounding, as lexical-core
                    // does for arrow-json; infinities are left to it.
                    let number = match kind {
                        Kind::Int { min, max, .. } if integral => {
                            text.parse::<i64>().ok().filter(|v| (*min..=*max).contains(v)).map(Value::Int)
                        }
                        Kind::UInt64 if integral => text.parse::<u64>().ok().map(Value::UInt),
                        Kind::Float64 => text.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::Float),
                        Kind::Float32 => text.parse::<f32>().ok().filter(|v| v.is_finite()).map(|v| Value::Float(v.into())),
                        _ => None,
                    };
                    match number {
                        Some(number) => {
                            *value = number;
                            true
                        }
                        None => false,
                    }
                }
                (Value::Str { start, end, escaped: false }, Kind::Timestamp { unit, zone }) => {
                    let Column::Time { last, last_value, .. } = column else { unreachable!() };
                    let text = &line[start..end];
                    if text != last.as_slice() || last.is_empty() {
                        // SAFETY: a slice of a UTF-8 line cut at ASCII quotes.
                        let text_str = unsafe { std::str::from_utf8_unchecked(text) };
                        let parsed = match zone {
                            None => timestamp_value(&Utc, text_str, *unit),
                            Some(tz) => timestamp_value(tz, text_str, *unit),
                        };
                        match parsed {
                            Some(v) => {
                                last.clear();
                                last.extend_from_slice(text);
                                *last_value = v;
                            }
                            None => return false,
                        }
                    }
                    *value = Value::Int(*last_value);
                    true
                }
                _ => false,
            };
            if !fits {
                return false;
            }
        }
        true
    }
}

/// A timestamp string as arrow-json reads it (`string_to_datetime` in the
/// field's zone, UTC without one), or `None` where it would fail.
fn timestamp_value<T: TimeZone>(zone: &T, text: &str, unit: TimeUnit) -> Option<i64> {
    let date = string_to_datetime(zone, text).ok()?;
    match unit {
        TimeUnit::Second => Some(date.timestamp()),
        TimeUnit::Millisecond => Some(date.timestamp_millis()),
        TimeUnit::Microsecond => Some(date.timestamp_micros()),
        TimeUnit::Nanosecond => date.timestamp_nanos_opt(),
    }
}

/// Appends one row's value (validity is kept apart).
fn push(column: &mut Column, line: &[u8], value: &Value) {
    match column {
        Column::Str { offsets, bytes } => {
            if let Value::Str { start, end, escaped } = *value {
                if escaped {
                    unescape(&line[start..end], bytes);
                } else {
                    bytes.extend_from_slice(&line[start..end]);
                }
            }
            offsets.push(bytes.len() as i64);
        }
        Column::Bool(bits) => bits.append(matches!(value, Value::Bool(true))),
        Column::Int(values) | Column::Time { values, .. } => values.push(if let Value::Int(v) = *value { v } else { 0 }),
        Column::UInt(values) => values.push(if let Value::UInt(v) = *value { v } else { 0 }),
        Column::F32(values) => values.push(if let Value::Float(v) = *value { v as f32 } else { 0.0 }),
        Column::F64(values) => values.push(if let Value::Float(v) = *value { v } else { 0.0 }),
    }
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
#[inline]
pub(super) fn skip_space(line: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = line.get(at) {
        at += 1;
    }
    at
}

/// From just after an opening quote: the index of the closing quote, and
/// whether the string holds an escape. `None` for what this decoder leaves to
/// arrow-json: an unterminated string, a raw control character (invalid
/// JSON), or a `\u` escape (arrow-json's handling of lone surrogates decides).
#[inline]
fn scan_string(line: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        match *line.get(at)? {
            b'"' => return Some((at, escaped)),
            b'\\' => {
                match *line.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    _ => return None,
                }
                escaped = true;
                at += 2;
            }
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

/// Decodes the two-byte escapes `scan_string` accepted.
fn unescape(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            out.push(match text[i + 1] {
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                other => other,
            });
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
}

/// A declared field's value at `at` (its first byte is `first`) and the index
/// after it. Objects and arrays are left to arrow-json.
#[inline]
fn read_value(line: &[u8], at: usize, first: u8) -> Option<(Value, usize)> {
    match first {
        b'"' => {
            let (end, escaped) = scan_string(line, at + 1)?;
            Some((Value::Str { start: at + 1, end, escaped }, end + 1))
        }
        b'-' | b'0'..=b'9' => read_number(line, at),
        b't' if line[at..].starts_with(b"true") => Some((Value::Bool(true), at + 4)),
        b'f' if line[at..].starts_with(b"false") => Some((Value::Bool(false), at + 5)),
        b'n' if line[at..].starts_with(b"null") => Some((Value::Null, at + 4)),
        _ => None,
    }
}

/// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, checked
/// here and read once its field's type is known.
fn read_number(line: &[u8], start: usize) -> Option<(Value, usize)> {
    let digits = |mut at: usize| {
        let from = at;
        while line.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        (at > from).then_some(at)
    };
    let mut at = start;
    if line[at] == b'-' {
        at += 1;
    }
    let int_start = at;
    at = digits(at)?;
    if line[int_start] == b'0' && at - int_start > 1 {
        return None;
    }
    let mut integral = true;
    if line.get(at) == Some(&b'.') {
        at = digits(at + 1)?;
        integral = false;
    }
    if let Some(b'e' | b'E') = line.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = line.get(at) {
            at += 1;
        }
        at = digits(at)?;
        integral = false;
    }
    // A number must end at a delimiter, or the line is not JSON.
    if !matches!(line.get(at), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    Some((Value::Num { start, end: at, integral }, at))
}

/// Skips any JSON value (an unknown key's), checking only what is needed to
/// find where it ends; arrow-json validates the line anyway if it is odd.
fn skip_value(line: &[u8], at: usize, depth: usize) -> Option<usize> {
    // Deep nesting is left to arrow-json, which has its own limit.
    if depth > 64 {
        return None;
    }
    match *line.get(at)? {
        b'"' => scan_string(line, at + 1).map(|(end, _)| end + 1),
        b'{' | b'[' => {
            let close = if line[at] == b'{' { b'}' } else { b']' };
            let mut at = skip_space(line, at + 1);
            if line.get(at) == Some(&close) {
                return Some(at + 1);
            }
            loop {
                if close == b'}' {
                    if line.get(at) != Some(&b'"') {
                        return None;
                    }
                    at = skip_space(line, scan_string(line, at + 1)?.0 + 1);
                    if line.get(at) != Some(&b':') {
                        return None;
                    }
                    at = skip_space(line, at + 1);
                }
                at = skip_space(line, skip_value(line, at, depth + 1)?);
                match *line.get(at)? {
                    b',' => at = skip_space(line, at + 1),
                    c if c == close => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        first => read_value(line, at, first).map(|(_, next)| next),
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::formats::json::JsonParser;
    use crate::parse::row::Failure;
    use arrow_schema::{Field, Fields};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn schema() -> Fields {
        let ts = |unit, zone: Option<&str>| DataType::Timestamp(unit, zone.map(Into::into));
        Fields::from(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("ls", DataType::LargeUtf8, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("i8", DataType::Int8, true),
            Field::new("u8", DataType::UInt8, true),
            Field::new("i32", DataType::Int32, true),
            Field::new("i64", DataType::Int64, true),
            Field::new("u64", DataType::UInt64, true),
            Field::new("f32", DataType::Float32, true),
            Field::new("f64", DataType::Float64, true),
            Field::new("ts", ts(TimeUnit::Microsecond, None), true),
            Field::new("tsz", ts(TimeUnit::Millisecond, Some("+02:00")), true),
            Field::new("tsp", ts(TimeUnit::Second, Some("Europe/Paris")), true),
            Field::new("tsn", ts(TimeUnit::Nanosecond, Some("UTC")), true),
        ])
    }

    use super::*;

    /// JSON value texts of every kind, well-formed or not, to put under any key.
    const VALUES: &[&str] = &[
        r#""plain""#,
        r#""""#,
        r#""caf\u00e9""#,
        r#""é ünïcødé 😀""#,
        r#""a\"b\\c\/d\n\t\r\b\f""#,
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        r#""\x41""#,
        "\"raw\tcontrol\"",
        r#""unterminated"#,
        r#""trailing\""#,
        "0",
        "-0",
        "12",
        "-12",
        "007",
        "1.5",
        "-1.25e2",
        "1e3",
        "1E-3",
        "-",
        "1.",
        ".5",
        "1e",
        "2.5E+3",
        "123456789012345678901",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "9223372036854775807",
        "9223372036854775808",
        "1e400",
        "3.4e39",
        "-3.4e39",
        "255",
        "256",
        "-1",
        "127",
        "128",
        "-128",
        "-129",
        "0.1",
        "0.30000000000000004",
        "4.9e-324",
        "1e-400",
        "12abc",
        "true",
        "false",
        "null",
        "tru",
        "nul",
        "True",
        "{}",
        r#"{"a": 1}"#,
        r#"{"a": {"b": [1, "x\"}", {"c": null}]}}"#,
        "[1, 2]",
        "[]",
        "[",
        "{",
        r#"[{"a":]"#,
        r#""2015-05-17T10:00:00Z""#,
        r#""2015-05-17T10:00:00""#,
        r#""2015-05-17 10:00:00.123456789+05:30""#,
        r#""2015-05-17""#,
        r#""2015-05-17T10:00:00.5-08:00""#,
        r#""garbage""#,
        r#""1431856800""#,
        r#""2262-04-12T00:00:00Z""#,
        r#""1677-09-21T00:12:43Z""#,
        r#""2024-03-31T02:30:00""#,
        r#""2015-13-01T00:00:00Z""#,
    ];
    const KEYS: &[&str] = &["s", "ls", "b", "i8", "u8", "i32", "i64", "u64", "f32", "f64", "ts", "tsz", "tsp", "tsn"];

    fn random_line(rng: &mut StdRng) -> String {
        let space = |rng: &mut StdRng| [" ", "", "", "\t", "  "][rng.random_range(0..5)];
        if rng.random_range(0..40) == 0 {
            return ["", "   ", "[]", "5", "{", "}", r#"{"s":"a"} {"s":"b"}"#, r#"{"s":"a"}}"#, "null", "{}"][rng.random_range(0..10)]
                .into();
        }
        let mut line = format!("{}{{", space(rng));
        let n = rng.random_range(0..6);
        // Distinct keys, but now and then a repeated one.
        let mut keys = KEYS.to_vec();
        for i in (1..keys.len()).rev() {
            keys.swap(i, rng.random_range(0..=i));
        }
        for (i, own_key) in keys.iter().take(n).enumerate() {
            if i > 0 {
                line.push_str(space(rng));
                line.push(',');
            }
            let key = match rng.random_range(0..12) {
                0 => "unknown",
                1 => r#"s\u0073"#,
                2 => "S",
                3 => KEYS[rng.random_range(0..KEYS.len())],
                _ => own_key,
            };
            let value = match rng.random_range(0..16) {
                // Mostly values of the key's own kind, so most lines decode.
                0 => VALUES[rng.random_range(0..VALUES.len())].to_string(),
                _ => match key {
                    "s" | "ls" | "S" | "unknown" => [r#""x""#, r#""hello world""#, r#""a\"b""#, r#""é""#][rng.random_range(0..4)].into(),
                    "b" => ["true", "false", "null"][rng.random_range(0..3)].into(),
                    "f32" | "f64" => format!("{}", rng.random_range(-1e6..1e6f64)),
                    k if k.starts_with("ts") => match rng.random_range(0..3) {
                        0 => VALUES[VALUES.len() - rng.random_range(1..12)].into(),
                        _ => format!(
                            r#""2015-{:02}-{:02}T{:02}:{:02}:00Z""#,
                            rng.random_range(1..13),
                            rng.random_range(1..29),
                            rng.random_range(0..24),
                            rng.random_range(0..60)
                        ),
                    },
                    "i8" => format!("{}", rng.random_range(-130i64..130)),
                    "u8" => format!("{}", rng.random_range(-2i64..258)),
                    _ => format!("{}", rng.random_range(-100_000i64..100_000)),
                },
            };
            line.push_str(&format!("{}\"{key}\"{}:{}{value}", space(rng), space(rng), space(rng)));
        }
        line.push_str(&format!("{}}}{}", space(rng), if rng.random_range(0..30) == 0 { " x" } else { space(rng) }));
        line
    }

    /// A line with one character replaced, removed or added, or cut short.
    fn mutate(line: &str, rng: &mut StdRng) -> String {
        let mut chars: Vec<char> = line.chars().collect();
        const SOME: &[char] = &['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '5', '-', '.', 'e', 'u', 'n', 'é', '\u{1}'];
        let at = rng.random_range(0..=chars.len());
        match rng.random_range(0..4) {
            0 if at < chars.len() => chars[at] = SOME[rng.random_range(0..SOME.len())],
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 => chars.insert(at, SOME[rng.random_range(0..SOME.len())]),
            _ => chars.truncate(at),
        }
        chars.into_iter().collect()
    }

    #[test]
    fn the_flat_decoder_agrees_with_arrow_json() {
        let parser = JsonParser::new(&schema());
        let flat_decoder = FlatDecoder::new(&schema()).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let (mut left_to_arrow_json, mut all) = (0, 0);
        for round in 0..1000 {
            let lines: Vec<String> = (0..rng.random_range(0..60))
                .map(|_| {
                    let line = random_line(&mut rng);
                    if rng.random_range(0..6) == 0 {
                        mutate(&line, &mut rng)
                    } else {
                        line
                    }
                })
                .collect();
            let inputs: Vec<Result<&[u8], Failure>> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| if i % 17 == 5 { Err(Failure::new("line", 0, "cut")) } else { Ok(l.as_bytes()) })
                .collect();
            let (got, got_failures) = parser.parse(inputs.clone()).unwrap();
            let (want, want_failures) = parser.parse_with_arrow_json(inputs.clone()).unwrap();
            for (i, (g, w)) in got_failures.iter().zip(&want_failures).enumerate() {
                assert_eq!(g, w, "round {round}, line {i}: {}", lines[i]);
            }
            for (c, (g, w)) in got.iter().zip(&want).enumerate() {
                for (row, line) in lines.iter().enumerate() {
                    assert_eq!(g.slice(row, 1).as_ref(), w.slice(row, 1).as_ref(), "round {round}, column {c}, line {row}: {line}");
                }
                assert_eq!(g.as_ref(), w.as_ref(), "round {round}, column {c}");
            }
            let flat: Vec<Option<&[u8]>> = inputs.iter().map(|l| l.as_ref().ok().copied()).collect();
            all += lines.len();
            left_to_arrow_json += flat_decoder.decode(&flat).unwrap().unwrap().1.len();
        }
        // The lines must exercise both decoders.
        assert!(left_to_arrow_json > all / 4 && left_to_arrow_json < all / 2, "{left_to_arrow_json} of {all} lines left to arrow-json");
    }

    #[test]
    fn nested_schemas_are_left_to_arrow_json() {
        let nested = Fields::from(vec![Field::new("l", DataType::List(Arc::new(Field::new("item", DataType::Int64, true))), true)]);
        assert!(FlatDecoder::new(&nested).is_none());
        assert!(FlatDecoder::new(&schema()).is_some());
    }
}
