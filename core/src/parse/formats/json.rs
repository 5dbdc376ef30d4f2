//! JSON lines into a declared Arrow schema, with arrow-json's decoder (and,
//! for flat schemas, the direct decoder in `json_flat.rs` first).
//!
//! arrow-json fails a whole batch for one bad value (arrow-rs#3392). sash
//! needs one row per line and an error for only the bad line, so: all lines
//! are decoded together (the fast path: one decoder, one flush); if that
//! fails, each line is tried alone to find the bad ones, and the good ones
//! are decoded together again. Bad lines become null rows (`take` with null
//! indices). A batch without bad lines costs one decode; a batch with k bad
//! lines costs about two decodes plus one small decoder per line.

use crate::parse::formats::json_flat::{skip_space, FlatDecoder};
use crate::parse::row::{Cut, CutReason, Failure};
use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_json::reader::{Decoder, ReaderBuilder};
use arrow_schema::{ArrowError, Fields, Schema, SchemaRef};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct JsonParser {
    schema: SchemaRef,
    /// The direct decoder, for schemas of flat fields (`json_flat.rs`).
    flat: Option<FlatDecoder>,
}

impl JsonParser {
    pub(crate) fn new(fields: &Fields) -> JsonParser {
        JsonParser { schema: Arc::new(Schema::new(fields.clone())), flat: FlatDecoder::new(fields) }
    }

    pub(crate) fn fields(&self) -> Fields {
        self.schema.fields().clone()
    }

    fn decoder(&self, rows: usize) -> Result<Decoder, ArrowError> {
        ReaderBuilder::new(self.schema.clone()).with_batch_size(rows.max(1)).with_strict_mode(false).build_decoder()
    }

    /// Decodes `lines` together; `Ok(None)` when any line is not exactly one
    /// JSON value or a value does not fit the schema.
    fn decode_all(&self, lines: &[&[u8]]) -> Result<Option<RecordBatch>, ArrowError> {
        let mut decoder = self.decoder(lines.len())?;
        for (i, line) in lines.iter().enumerate() {
            // A value split over lines or two values on one line would shift
            // every later row. The decoder stops reading once its batch is
            // full, so a second value on the last line shows only as bytes
            // it did not read.
            let read_all = |read: usize| skip_space(line, read) == line.len();
            if !decoder.decode(line).is_ok_and(read_all)
                || decoder.decode(b"\n").is_err()
                || decoder.has_partial_record()
                || decoder.len() != i + 1
            {
                return Ok(None);
            }
        }
        match decoder.flush() {
            Ok(Some(batch)) if batch.num_rows() == lines.len() => Ok(Some(batch)),
            Ok(None) if lines.is_empty() => Ok(Some(RecordBatch::new_empty(self.schema.clone()))),
            _ => Ok(None),
        }
    }

    /// Why one line does not decode, or `None` when it does.
    fn line_failure(&self, line: &[u8]) -> Result<Option<Failure>, ArrowError> {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            // serde_json counts columns in bytes from 1 on a one-line input.
            return Ok(Some(Failure::new("json", e.column().saturating_sub(1), e.to_string())));
        }
        let mut decoder = self.decoder(1)?;
        let result = decoder.decode(line).and_then(|_| decoder.flush());
        Ok(match result {
            Ok(Some(batch)) if batch.num_rows() == 1 => None,
            Ok(_) => Some(Failure::new("json", 0, "not exactly one JSON value")),
            Err(e) => Some(Failure::new("json", 0, arrow_message(&e))),
        })
    }

    /// One output row per entry of `lines` (`Err` entries are rows already
    /// known bad); returns the columns and each row's failure.
    ///
    /// With a flat schema, the direct decoder reads the lines and leaves to
    /// arrow-json only those it does not read exactly as arrow-json would;
    /// their rows are then taken from arrow-json's columns.
    pub(crate) fn parse(&self, lines: Vec<Result<&[u8], Failure>>) -> Result<(Vec<ArrayRef>, Vec<Option<Failure>>), ArrowError> {
        let Some(flat) = &self.flat else { return self.parse_with_arrow_json(lines) };
        let inputs: Vec<Option<&[u8]>> = lines.iter().map(|l| l.as_ref().ok().copied()).collect();
        let Some((columns, left)) = flat.decode(&inputs)? else { return self.parse_with_arrow_json(lines) };
        let mut failures: Vec<Option<Failure>> = lines.iter().map(|l| l.as_ref().err().cloned()).collect();
        if left.is_empty() {
            return Ok((columns, failures));
        }
        let (others, other_failures) = self.parse_with_arrow_json(left.iter().map(|&i| Ok(inputs[i].unwrap_or_default())).collect())?;
        let mut source: Vec<(usize, usize)> = (0..lines.len()).map(|i| (0, i)).collect();
        for (k, (&i, failure)) in left.iter().zip(other_failures).enumerate() {
            source[i] = (1, k);
            failures[i] = failure;
        }
        let columns = columns
            .iter()
            .zip(&others)
            .map(|(flat, other)| arrow_select::interleave::interleave(&[flat.as_ref(), other.as_ref()], &source))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((columns, failures))
    }

    /// [`JsonParser::parse`] with arrow-json's decoder alone.
    pub(crate) fn parse_with_arrow_json(
        &self,
        lines: Vec<Result<&[u8], Failure>>,
    ) -> Result<(Vec<ArrayRef>, Vec<Option<Failure>>), ArrowError> {
        let lines: Vec<Result<&[u8], Failure>> =
            lines.into_iter().map(|l| l.and_then(|line| nesting_failure(line).map_or(Ok(line), Err))).collect();
        let mut failures: Vec<Option<Failure>> = lines.iter().map(|l| l.as_ref().err().cloned()).collect();
        let mut good: Vec<&[u8]> = lines.iter().filter_map(|l| l.as_ref().ok().copied()).collect();
        let mut batch = self.decode_all(&good)?;
        if batch.is_none() {
            for (i, line) in lines.iter().enumerate() {
                if let Ok(line) = line {
                    failures[i] = self.line_failure(line)?;
                }
            }
            good = lines.iter().zip(&failures).filter_map(|(l, f)| if f.is_none() { l.as_ref().ok().copied() } else { None }).collect();
            batch = self.decode_all(&good)?;
        }
        let batch = batch.ok_or_else(|| ArrowError::JsonError("lines that decode alone do not decode together".into()))?;
        if good.len() == lines.len() {
            return Ok((batch.columns().to_vec(), failures));
        }
        let mut next = 0u32;
        let indices: UInt32Array = failures
            .iter()
            .map(|f| {
                f.is_none().then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        let columns = batch.columns().iter().map(|c| arrow_select::take::take(c, &indices, None)).collect::<Result<Vec<_>, _>>()?;
        Ok((columns, failures))
    }
}

/// How deep a line's arrays and objects may nest. arrow-json's decoder (and
/// serde_json's check of a bad line) recurse once per level, so a line of a
/// few hundred thousand `[` would overflow the thread's stack and kill the
/// process; such a line is a failed row instead. serde_json stops at the
/// same depth.
pub(crate) const MAX_JSON_DEPTH: usize = 128;

/// The failure of a line nested deeper than [`MAX_JSON_DEPTH`], at the
/// bracket that goes one level too deep (brackets inside strings do not count).
fn nesting_failure(line: &[u8]) -> Option<Failure> {
    // Fewer brackets than the limit cannot nest past it: nearly every line
    // is done after this count.
    if memchr::memchr2_iter(b'[', b'{', line).count() <= MAX_JSON_DEPTH {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, &byte) in line.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Some(Failure::new("json", at, format!("nested deeper than {MAX_JSON_DEPTH} levels")));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The failure of a line holding a byte no JSON text can hold.
pub(crate) fn cut_failure(cut: Cut) -> Failure {
    let what = match cut.reason {
        CutReason::InvalidUtf8 => "invalid UTF-8",
        CutReason::Nul => "NUL byte",
    };
    Failure::new("json", cut.at, what)
}

fn arrow_message(e: &ArrowError) -> String {
    match e {
        ArrowError::JsonError(m) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_counts_levels_outside_strings() {
        // The object is one level: 127 arrays inside it reach the limit exactly.
        assert!(nesting_failure(nested(MAX_JSON_DEPTH - 1).as_bytes()).is_none());
        let failure = nesting_failure(nested(MAX_JSON_DEPTH).as_bytes()).expect("one level too deep");
        assert_eq!(failure.offset, 5 + MAX_JSON_DEPTH - 1);
        let in_string = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(1000), "{".repeat(1000));
        assert!(nesting_failure(in_string.as_bytes()).is_none());
    }

    #[test]
    fn a_line_nested_two_hundred_thousand_deep_is_one_failed_row() {
        let fields = Fields::from(vec![arrow_schema::Field::new("a", arrow_schema::DataType::Int64, true)]);
        let parser = JsonParser::new(&fields);
        let deep = nested(200_000);
        let lines = vec![Ok(br#"{"a": 1}"#.as_slice()), Ok(deep.as_bytes()), Ok(br#"{"a": 3}"#.as_slice())];
        let (columns, failures) = parser.parse(lines).unwrap();
        assert_eq!(columns[0].len(), 3);
        assert!(failures[0].is_none() && failures[2].is_none());
        assert!(failures[1].as_ref().unwrap().reason.contains("nested deeper than 128 levels"));
    }
}
