//! Parsing: raw log text (Arrow string or binary arrays, or the bytes of a
//! file) into typed Arrow columns, one output row per input line, in order,
//! never dropping a line. The formats, their columns and the error messages
//! are documented in `docs/parsing.md`; the spec is JSON-shaped like the
//! window spec so every binding passes it unchanged.
//!
//! ```
//! use arrow_array::{Array, StringArray};
//! use sash_core::{parse_lines, ParseSpec};
//!
//! let lines = StringArray::from(vec![
//!     r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#,
//!     r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /b.gif HTTP/1.0" 2x0 -"#,
//! ]);
//! let out = parse_lines(&lines, &ParseSpec::from_json(r#"{"format": "common"}"#).unwrap()).unwrap();
//! assert_eq!((out.parsed, out.failed), (1, 1));
//! let error = out.batch.column_by_name("_error").unwrap();
//! assert!(error.is_null(0));
//! ```
//!
//! How it is fast: one pass per line, fields found with byte searches
//! (memchr), no allocation per field (string fields are views into the
//! input buffer), timestamps cached (logs repeat them).

mod fields;
mod formats;
pub(crate) mod row;
mod scan;
pub mod spec;
pub mod time;
mod typed;

use crate::error::{Result, SashError};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, RecordBatch, RecordBatchOptions, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use row::{Columns, Cut, CutReason, Failure, LineCtx, Parsed};
use scan::{LineMasks, Simd};
use spec::{LogFormat, OnError, ParseSpec};
use std::io::Read;
use std::sync::Arc;

/// Lines between two looks at whether the caller cancelled the call.
const CHECK_LINES: u64 = 16 * 1024;

/// The name of the error column, the last column of every parse output.
pub const ERROR_COLUMN: &str = "_error";

/// One parsed batch and how many of its lines parsed or failed.
#[derive(Debug, Clone)]
pub struct ParseOutput {
    /// The format's columns, then `_error` (null where the line parsed).
    pub batch: RecordBatch,
    pub parsed: usize,
    pub failed: usize,
}

/// A format that parses one line at a time into its columns.
pub(crate) trait LineParser: std::fmt::Debug + Send {
    fn fields(&self, strings: spec::StringOutput) -> Vec<Field>;
    /// Writes the line's fields in any order, each at most once; fields not
    /// written are null. On failure, what was written stays.
    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed;
    /// Whether the parser reads lines through their delimiter masks, and
    /// then whether tabs count as spaces: lines of raw bytes then come with
    /// their masks read ([`LineCtx::masks`]).
    fn masks(&self) -> Option<bool> {
        None
    }
}

#[derive(Debug)]
enum Engine {
    Lines(Box<dyn LineParser>),
    Json(formats::json::JsonParser),
}

/// A line of the input: its bytes (None for a null array slot) and where
/// they live (see [`LineCtx`]).
#[derive(Debug, Clone, Copy)]
struct LineRef<'a> {
    bytes: Option<&'a [u8]>,
    block: Option<u32>,
    offset: u32,
}

/// A parser for one spec, reusable across batches: it keeps the timestamp
/// caches and counts lines so `on_error: "raise"` can name the line.
#[derive(Debug)]
pub struct Parser {
    spec: ParseSpec,
    engine: Engine,
    /// 1-based number of the next line.
    next_line: u64,
}

impl Parser {
    pub fn new(spec: &ParseSpec) -> Result<Parser> {
        let engine = match spec.format {
            LogFormat::Common => Engine::Lines(Box::new(formats::access::AccessParser::new(false))),
            LogFormat::Combined => Engine::Lines(Box::new(formats::access::AccessParser::new(true))),
            LogFormat::Syslog => Engine::Lines(Box::new(formats::syslog::SyslogParser::new(spec.timezone, spec.reference_time_us))),
            LogFormat::ApacheError => Engine::Lines(Box::new(formats::apache_error::ApacheErrorParser::new(spec.timezone))),
            LogFormat::Logfmt => Engine::Lines(Box::new(formats::logfmt::LogfmtParser::new(&spec.fields, spec.timezone))),
            LogFormat::Regex => {
                let pattern = spec.pattern.as_deref().ok_or_else(|| SashError::spec("format 'regex' needs 'pattern'"))?;
                Engine::Lines(Box::new(formats::pattern::RegexParser::new(pattern, &spec.types, spec.timezone)?))
            }
            LogFormat::Json => {
                let fields = spec.schema.as_ref().ok_or_else(|| SashError::spec("format 'json' needs 'schema'"))?;
                Engine::Json(formats::json::JsonParser::new(fields))
            }
        };
        Ok(Parser { spec: spec.clone(), engine, next_line: 1 })
    }

    /// The schema of every batch this parser produces.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = match &self.engine {
            Engine::Lines(p) => p.fields(self.spec.strings),
            Engine::Json(j) => j.fields().iter().map(|f| f.as_ref().clone()).collect(),
        };
        fields.push(Field::new(ERROR_COLUMN, DataType::Utf8, true));
        Arc::new(Schema::new(fields))
    }

    /// Parses each element of a Utf8, LargeUtf8, Utf8View, Binary or
    /// LargeBinary array as one line (sliced arrays too). A null element is a
    /// failed row.
    pub fn parse_lines(&mut self, array: &dyn Array) -> Result<ParseOutput> {
        let first_line = self.next_line;
        // A failed call leaves the parser as it was: line numbers go on from
        // where the last successful call ended.
        self.parse_lines_counting(array).inspect_err(|_| self.next_line = first_line)
    }

    fn parse_lines_counting(&mut self, array: &dyn Array) -> Result<ParseOutput> {
        match array.data_type() {
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                self.parse_offsets(a.values(), a.offsets(), a.nulls(), true)
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                self.parse_offsets(a.values(), a.offsets(), a.nulls(), true)
            }
            DataType::Binary => {
                let a = array.as_binary::<i32>();
                self.parse_offsets(a.values(), a.offsets(), a.nulls(), false)
            }
            DataType::LargeBinary => {
                let a = array.as_binary::<i64>();
                self.parse_offsets(a.values(), a.offsets(), a.nulls(), false)
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                let blocks: Vec<Buffer> = a.data_buffers().to_vec();
                let lines: Vec<LineRef> = (0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            return LineRef { bytes: None, block: None, offset: 0 };
                        }
                        let view = a.views()[i];
                        let len = view as u32;
                        let bytes = a.value(i).as_bytes();
                        if len <= 12 {
                            LineRef { bytes: Some(bytes), block: None, offset: 0 }
                        } else {
                            let v = arrow_data::ByteView::from(view);
                            LineRef { bytes: Some(bytes), block: Some(v.buffer_index + 1), offset: v.offset }
                        }
                    })
                    .collect();
                self.run(GivenLines::new(lines, blocks, Check::Known(Clean::Utf8Only)))
            }
            other => Err(SashError::WrongType {
                column: "lines".to_string(),
                expected: "Utf8, LargeUtf8, Utf8View, Binary or LargeBinary".to_string(),
                found: other.clone(),
            }),
        }
    }

    fn parse_offsets<O: OffsetSizeTrait>(
        &mut self,
        values: &Buffer,
        offsets: &OffsetBuffer<O>,
        nulls: Option<&arrow_buffer::NullBuffer>,
        utf8: bool,
    ) -> Result<ParseOutput> {
        let (first, last) = (offsets[0].as_usize(), offsets[offsets.len() - 1].as_usize());
        let spans = offsets.windows(2).enumerate().map(|(i, w)| {
            let valid = nulls.is_none_or(|n| n.is_valid(i));
            valid.then(|| (w[0].as_usize(), w[1].as_usize()))
        });
        let region = &values.as_slice()[first..last];
        let (lines, blocks) = lines_in(values, spans);
        // Binary elements may start inside a character that the one before
        // began: a valid region then still holds invalid elements.
        self.run(GivenLines::new(lines, blocks, Check::Chunks { region, known_utf8: utf8, ascii_boundaries: utf8 }))
    }

    /// Parses a whole buffer of raw bytes, split into lines at LF, CRLF or a
    /// lone CR. The last line counts without a newline; empty lines are rows.
    /// String fields point into `bytes` (zero-copy). Gzip-compressed bytes
    /// (a rotated `access.log.1.gz`, recognized by their first two bytes) are
    /// decompressed first, and the string fields point into the text.
    pub fn parse_bytes(&mut self, bytes: &Buffer) -> Result<ParseOutput> {
        let first_line = self.next_line;
        self.parse_bytes_counting(bytes).inspect_err(|_| self.next_line = first_line)
    }

    fn parse_bytes_counting(&mut self, bytes: &Buffer) -> Result<ParseOutput> {
        if is_gzip(bytes) {
            let limit = self.spec.max_decompressed_bytes;
            let mut text = Vec::new();
            // One byte past the limit tells "too large" from "exactly the limit";
            // read a piece at a time so that a cancelled call stops between them.
            let mut decoder = flate2::read::MultiGzDecoder::new(bytes.as_slice()).take(limit.saturating_add(1));
            loop {
                crate::exec::cancel::check()?;
                match (&mut decoder).take(16 << 20).read_to_end(&mut text) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(gzip_error(&e)),
                }
            }
            if text.len() as u64 > limit {
                return Err(SashError::ResourceLimit(format!(
                    "the gzip-compressed input ({} bytes) decompresses to more than max_decompressed_bytes ({limit} bytes); \
                     raise max_decompressed_bytes, or read it in batches (read_log with batch_size, a ParseReader)",
                    bytes.len()
                )));
            }
            return self.parse_text_counting(&Buffer::from_vec(text));
        }
        self.parse_text_counting(bytes)
    }

    /// `parse_bytes` of bytes known to be text; a failed call leaves the
    /// line count as it was.
    fn parse_text(&mut self, bytes: &Buffer) -> Result<ParseOutput> {
        let first_line = self.next_line;
        self.parse_text_counting(bytes).inspect_err(|_| self.next_line = first_line)
    }

    fn parse_text_counting(&mut self, bytes: &Buffer) -> Result<ParseOutput> {
        if let Engine::Lines(parser) = &self.engine {
            if let Some(tabs) = parser.masks() {
                return self.run_masked(bytes, tabs);
            }
        }
        self.run(ByteLines::new(bytes))
    }

    /// [`Self::run`] of raw bytes for a parser that reads lines through
    /// their delimiter masks: each line is found and its masks read in one
    /// pass ([`LineMasks::read_line`]), the parser given them with the line.
    fn run_masked(&mut self, values: &Buffer, tabs: bool) -> Result<ParseOutput> {
        let Engine::Lines(parser) = &mut self.engine else { unreachable!("only line parsers read masks") };
        let data = values.as_slice();
        let mut blocks = Blocks::new(values);
        let mut cols = Columns::new(parser.fields(spec::StringOutput::View), expected_lines(data));
        let mut masks = LineMasks::new(tabs);
        let mut at = 0;
        while at < data.len() {
            if self.next_line.is_multiple_of(CHECK_LINES) {
                crate::exec::cancel::check()?;
            }
            let (len, plain) = match masks.read_line(data, at) {
                Some(line) => line,
                // Longer than the masks hold: parsed without them.
                None => (memchr::memchr2(b'\n', b'\r', &data[at..]).unwrap_or(data.len() - at), false),
            };
            let end = at + len;
            // A line of ASCII without NUL needs no check; it also has no byte
            // order mark, so the parser sees it whole, as its masks were read.
            let (clean, masks) = if plain { (Clean::Yes, Some(&masks)) } else { (Clean::No, None) };
            self.next_line += 1;
            parse_line(parser.as_mut(), &mut cols, &blocks.line(at, end), clean, masks, &self.spec, self.next_line - 1)?;
            at = match data.get(end) {
                None => end,
                Some(b'\r') if data.get(end + 1) == Some(&b'\n') => end + 2,
                Some(_) => end + 1,
            };
        }
        finish_lines(cols, &blocks.into_buffers(), self.spec.strings)
    }

    fn run<'a>(&mut self, mut lines: impl LineChunks<'a>) -> Result<ParseOutput> {
        match &mut self.engine {
            Engine::Lines(parser) => {
                let mut cols = Columns::new(parser.fields(spec::StringOutput::View), lines.expected_lines());
                while let Some((chunk, clean)) = lines.next_chunk() {
                    crate::exec::cancel::check()?;
                    for line in chunk {
                        self.next_line += 1;
                        parse_line(parser.as_mut(), &mut cols, line, clean, None, &self.spec, self.next_line - 1)?;
                    }
                }
                finish_lines(cols, &lines.into_blocks(), self.spec.strings)
            }
            Engine::Json(parser) => {
                let mut inputs: Vec<std::result::Result<&[u8], Failure>> = Vec::with_capacity(lines.expected_lines());
                while let Some((chunk, clean)) = lines.next_chunk() {
                    crate::exec::cancel::check()?;
                    inputs.extend(chunk.iter().map(|line| match prepare(line, clean, self.spec.max_line_bytes) {
                        Err(f) => Err(f),
                        Ok((_, Some(cut))) => Err(formats::json::cut_failure(cut)),
                        Ok((ctx, None)) => Ok(ctx.bytes),
                    }));
                }
                let count = inputs.len();
                let (mut columns, failures) = parser.parse(inputs)?;
                let mut message = String::new();
                let mut failed = 0;
                let mut errors = arrow_array::builder::StringBuilder::new();
                for (i, f) in failures.iter().enumerate() {
                    match f {
                        None => errors.append_null(),
                        Some(f) => {
                            failed += 1;
                            f.render(&mut message);
                            if self.spec.on_error == OnError::Raise {
                                return Err(SashError::Parse { line: self.next_line + i as u64, message });
                            }
                            errors.append_value(&message);
                        }
                    }
                }
                self.next_line += count as u64;
                let errors: StringArray = errors.finish();
                columns.push(Arc::new(errors) as ArrayRef);
                let options = RecordBatchOptions::new().with_row_count(Some(count));
                let batch = RecordBatch::try_new_with_options(self.schema(), columns, &options)?;
                Ok(ParseOutput { parsed: count - failed, failed, batch })
            }
        }
    }
}

/// Parses one line into the next row of `cols`; the error of
/// `on_error: "raise"` when the line (number `number`) fails.
#[inline(always)]
fn parse_line(
    parser: &mut dyn LineParser,
    cols: &mut Columns,
    line: &LineRef,
    clean: Clean,
    masks: Option<&LineMasks>,
    spec: &ParseSpec,
    number: u64,
) -> Result<()> {
    let result = match prepare(line, clean, spec.max_line_bytes) {
        Err(failure) => Err(failure),
        Ok((ctx, cut)) => {
            debug_assert!(masks.is_none() || line.bytes.is_some_and(|b| b.as_ptr() == ctx.bytes.as_ptr()), "masks of another start");
            let ctx = LineCtx { masks, ..ctx };
            let mut result = parser.parse(&ctx, cols);
            if let Some(cut) = cut {
                // The parser saw the line only up to the bad byte.
                match &mut result {
                    Ok(()) => result = Err(Failure::new("line", cut.at, cut.describe())),
                    Err(f) if f.offset >= cut.at => {
                        f.offset = cut.at;
                        f.reason = format!("{} (the line is unreadable from here)", cut.describe());
                    }
                    Err(_) => {}
                }
            }
            result
        }
    };
    let message = cols.end_row(&result);
    if let (Some(message), OnError::Raise) = (message, spec.on_error) {
        return Err(SashError::Parse { line: number, message: message.to_string() });
    }
    Ok(())
}

/// The batch of the rows in `cols`.
fn finish_lines(mut cols: Columns, blocks: &[Buffer], strings: spec::StringOutput) -> Result<ParseOutput> {
    let failed = cols.failed();
    let batch = cols.finish(blocks, strings)?;
    Ok(ParseOutput { parsed: batch.num_rows() - failed, failed, batch })
}

/// What is known of a whole input region before looking at single lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clean {
    /// Valid UTF-8 without NUL bytes: no line needs checking.
    Yes,
    /// Valid UTF-8 (a string array) but NULs were not looked for.
    Utf8Only,
    /// Each line must be checked.
    No,
}

/// Lines handed to the parser a chunk at a time, each chunk with what is
/// known of its bytes, and the buffers that views of them point into.
trait LineChunks<'a> {
    /// The number of lines expected: the output columns reserve it.
    fn expected_lines(&self) -> usize;
    /// The next lines, or None at the end.
    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)>;
    /// The buffers the views point into, once every line was read.
    fn into_blocks(self) -> Vec<Buffer>;
}

/// Lines already listed (elements of a string or binary array).
struct GivenLines<'a> {
    lines: Vec<LineRef<'a>>,
    blocks: Vec<Buffer>,
    check: Check<'a>,
    at: usize,
}

impl<'a> GivenLines<'a> {
    fn new(lines: Vec<LineRef<'a>>, blocks: Vec<Buffer>, check: Check<'a>) -> GivenLines<'a> {
        GivenLines { lines, blocks, check, at: 0 }
    }
}

impl<'a> LineChunks<'a> for GivenLines<'a> {
    fn expected_lines(&self) -> usize {
        self.lines.len()
    }

    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)> {
        if self.at == self.lines.len() {
            return None;
        }
        let chunk = &self.lines[self.at..(self.at + CHECKED_LINES).min(self.lines.len())];
        self.at += chunk.len();
        Some((chunk, self.check.of(chunk)))
    }

    fn into_blocks(self) -> Vec<Buffer> {
        self.blocks
    }
}

/// The lines of a raw buffer, found a chunk of about [`SPLIT_BYTES`] at a
/// time just before the chunk is parsed: splitting, checking and parsing
/// then read its bytes from cache, where splitting the whole buffer first
/// read it from memory once more (a sixth of the parse of a combined log).
struct ByteLines<'a> {
    values: &'a Buffer,
    /// Where the next chunk starts.
    at: usize,
    lines: Vec<LineRef<'a>>,
    blocks: Blocks<'a>,
    expected: usize,
    simd: Simd,
}

const SPLIT_BYTES: usize = 64 * 1024;

impl<'a> ByteLines<'a> {
    fn new(values: &'a Buffer) -> ByteLines<'a> {
        let expected = expected_lines(values.as_slice());
        ByteLines { values, at: 0, lines: Vec::new(), blocks: Blocks::new(values), expected, simd: Simd::detect() }
    }
}

/// About how many lines `data` holds, for the output columns to reserve.
fn expected_lines(data: &[u8]) -> usize {
    // The first chunk's lines give the expected count; a loose guess
    // costs address space, not memory (pages never written stay out).
    let sample = &data[..data.len().min(SPLIT_BYTES)];
    let sample_lines = memchr::memchr2_iter(b'\n', b'\r', sample).count().max(1);
    // Capped as if lines averaged 32 bytes: a sample of short lines must
    // not reserve gigabytes; beyond the guess the columns grow.
    let guess = (data.len() as u128 * sample_lines as u128 / sample.len().max(1) as u128) as usize;
    let expected = guess.saturating_mul(5) / 4 + 16;
    expected.min(data.len() / 32 + 16)
}

impl<'a> LineChunks<'a> for ByteLines<'a> {
    fn expected_lines(&self) -> usize {
        self.expected
    }

    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)> {
        let data: &'a [u8] = self.values.as_slice();
        if self.at == data.len() {
            return None;
        }
        // The chunk ends with the terminator of the first line ending past
        // SPLIT_BYTES (a CRLF whole), so no line and no CRLF is cut in two.
        let start = self.at;
        let end = match memchr::memchr2(b'\n', b'\r', data.get(start + SPLIT_BYTES..).unwrap_or(&[])) {
            None => data.len(),
            Some(i) => {
                let i = start + SPLIT_BYTES + i;
                if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                }
            }
        };
        self.at = end;
        let chunk = &data[start..end];
        self.lines.clear();
        let (lines, blocks) = (&mut self.lines, &mut self.blocks);
        let plain = for_each_line(chunk, self.simd, |line_start, line_end| lines.push(blocks.line(start + line_start, start + line_end)));
        // Lines end at CR or LF, which no character holds part of: the
        // chunk's bytes as a whole tell.
        Some((&self.lines, if plain { Clean::Yes } else { Clean::of(chunk, false) }))
    }

    fn into_blocks(self) -> Vec<Buffer> {
        self.blocks.into_buffers()
    }
}

/// Lines checked together for UTF-8 and NUL bytes, just before they are
/// parsed: their bytes are then still in cache for the parser, where a check
/// of the whole input first was a pass of its own over memory (a sixth of the
/// time of parsing a combined log).
const CHECKED_LINES: usize = 256;

/// How the lines' bytes are known to be clean.
#[derive(Clone, Copy)]
enum Check<'a> {
    /// The same for every line.
    Known(Clean),
    /// Lines in `region`, one after the other: each chunk of them is checked
    /// through the bytes from its first line's start to its last line's end.
    Chunks {
        region: &'a [u8],
        known_utf8: bool,
        /// Whether lines start and end at character boundaries whatever the
        /// bytes (split at ASCII bytes, or elements of a UTF-8 array). If not,
        /// a chunk is clean only if no line starts with a continuation byte.
        ascii_boundaries: bool,
    },
}

impl Check<'_> {
    fn of(&self, lines: &[LineRef]) -> Clean {
        match *self {
            Check::Known(clean) => clean,
            Check::Chunks { region, known_utf8, ascii_boundaries } => {
                let base = region.as_ptr() as usize;
                let start = lines.iter().find_map(|l| l.bytes).map(|b| b.as_ptr() as usize - base);
                let end = lines.iter().rev().find_map(|l| l.bytes).map(|b| b.as_ptr() as usize + b.len() - base);
                let (Some(start), Some(end)) = (start, end) else {
                    return Clean::Yes; // only null lines: nothing to read
                };
                let clean = Clean::of(&region[start..end], known_utf8);
                let boundaries = || lines.iter().filter_map(|l| l.bytes?.first()).all(|&b| !(0x80..0xC0).contains(&b));
                if clean == Clean::Yes && !ascii_boundaries && !boundaries() {
                    Clean::No
                } else {
                    clean
                }
            }
        }
    }
}

impl Clean {
    fn of(region: &[u8], known_utf8: bool) -> Clean {
        // simdutf8 validates with SIMD chosen at run time, several times
        // faster than std; std stays for single lines, which need the
        // position of the first bad byte.
        if memchr::memchr(0, region).is_none() && (known_utf8 || simdutf8::basic::from_utf8(region).is_ok()) {
            Clean::Yes
        } else if known_utf8 {
            Clean::Utf8Only
        } else {
            Clean::No
        }
    }
}

/// The UTF-8 encoding of U+FEFF, the byte order mark Windows tools write at
/// the start of a text file (and that files joined together carry into the
/// middle). Read as text it would end up in a line's first field: a host of
/// "\u{feff}10.0.0.1", a logfmt key that matches no declared field.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Turns a line into what a parser reads, or the failure of a line that has
/// nothing to parse (null, empty, only whitespace) or is longer than
/// `max_line` bytes.
#[inline(always)]
fn prepare<'a>(line: &LineRef<'a>, clean: Clean, max_line: usize) -> std::result::Result<(LineCtx<'a>, Option<Cut>), Failure> {
    let Some(mut bytes) = line.bytes else {
        return Err(Failure::new("line", 0, "null input"));
    };
    if bytes.len() > max_line {
        return Err(Failure::new("line", 0, format!("longer than max_line_bytes ({max_line} bytes); not parsed")));
    }
    // A byte order mark opening a line is no part of it; byte offsets in
    // errors count from after it.
    let mut offset = line.offset;
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        bytes = rest;
        offset += UTF8_BOM.len() as u32;
    }
    if bytes.is_empty() {
        return Err(Failure::new("line", 0, "empty line"));
    }
    if bytes.iter().all(|&c| c == b' ' || c == b'\t') {
        return Err(Failure::new("line", 0, format!("only whitespace ({} bytes)", bytes.len())));
    }
    let mut cut = None;
    if clean != Clean::Yes {
        let valid = match clean {
            Clean::No => match std::str::from_utf8(bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            },
            _ => bytes.len(),
        };
        if valid < bytes.len() {
            cut = Some(Cut { at: valid, reason: CutReason::InvalidUtf8 });
        }
        if let Some(nul) = memchr::memchr(0, &bytes[..valid]) {
            cut = Some(Cut { at: nul, reason: CutReason::Nul });
        }
    }
    let end = cut.map_or(bytes.len(), |c| c.at);
    Ok((LineCtx { bytes: &bytes[..end], block: line.block, offset, cut, masks: None }, cut))
}

/// Lines of one contiguous buffer given by byte spans.
fn lines_in<'a>(values: &'a Buffer, spans: impl Iterator<Item = Option<(usize, usize)>>) -> (Vec<LineRef<'a>>, Vec<Buffer>) {
    let mut blocks = Blocks::new(values);
    let lines = spans
        .map(|span| match span {
            None => LineRef { bytes: None, block: None, offset: 0 },
            Some((start, end)) => blocks.line(start, end),
        })
        .collect();
    (lines, blocks.into_buffers())
}

/// The buffers that views of one buffer's lines point into. Views hold
/// 32-bit offsets, so when a line ends more than 4 GiB past the current
/// block's start, a new block (a zero-copy slice) starts at that line.
struct Blocks<'a> {
    values: &'a Buffer,
    blocks: Vec<Buffer>,
    /// Where the current block starts in `values`.
    base: usize,
}

impl<'a> Blocks<'a> {
    fn new(values: &'a Buffer) -> Blocks<'a> {
        Blocks { values, blocks: vec![values.clone()], base: 0 }
    }

    /// The line `values[start..end]`, lines coming in buffer order.
    #[inline(always)]
    fn line(&mut self, start: usize, end: usize) -> LineRef<'a> {
        if end - self.base > u32::MAX as usize {
            self.blocks.push(self.values.slice(start));
            self.base = start;
        }
        let data: &'a [u8] = self.values.as_slice();
        LineRef { bytes: Some(&data[start..end]), block: Some(self.blocks.len() as u32), offset: (start - self.base) as u32 }
    }

    fn into_buffers(self) -> Vec<Buffer> {
        self.blocks
    }
}

/// Line spans of `b`: terminated by LF, CRLF or a lone CR; the last line
/// counts without a terminator; no line after a final terminator.
pub(crate) fn split_lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::with_capacity(b.len() / 128 + 1);
    for_each_line(b, Simd::detect(), |start, end| spans.push((start, end)));
    spans
}

/// Calls `line(start, end)` for each line span of `b` (as [`split_lines`]
/// gives them, in order) and returns whether every byte of `b` is ASCII
/// other than NUL, which the same pass finds: such bytes need no UTF-8 or
/// NUL check of their own.
///
/// Terminators are found 64 bytes at a time, as a bit mask read off bit by
/// bit: lines of logs are short, and a search call per line (`memchr2`) cost
/// a sixth of parsing a logfmt line.
pub(crate) fn for_each_line(b: &[u8], simd: Simd, line: impl FnMut(usize, usize)) -> bool {
    match simd {
        // SAFETY: `simd` names features the CPU has.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { for_each_line_avx512(b, line) },
        _ => for_each_line_by(b, scan::block_ends, line),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
unsafe fn for_each_line_avx512(b: &[u8], line: impl FnMut(usize, usize)) -> bool {
    for_each_line_by(b, |block| scan::block_ends_avx512(block), line)
}

/// The loop of [`for_each_line`], with `block_ends` giving a 64-byte
/// block's terminators and its bytes past ASCII or NUL
/// ([`scan::block_ends`]).
#[inline(always)]
fn for_each_line_by(b: &[u8], block_ends: impl Fn(&[u8; 64]) -> (u64, u64), mut line: impl FnMut(usize, usize)) -> bool {
    let mut start = 0;
    let mut skip_lf_at = usize::MAX;
    let mut plain = true;
    let mut terminator_at = |i: usize| {
        if i == skip_lf_at {
            start = i + 1;
            return;
        }
        line(start, i);
        start = i + 1;
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            skip_lf_at = i + 1;
        }
    };
    let blocks = b.chunks_exact(64);
    let tail = blocks.remainder();
    for (k, block) in blocks.enumerate() {
        let (mut mask, odd) = block_ends(block.try_into().expect("64 bytes"));
        plain &= odd == 0;
        while mask != 0 {
            terminator_at(k * 64 + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
    }
    let tail_at = b.len() - tail.len();
    for (i, &byte) in tail.iter().enumerate() {
        plain &= byte != 0 && byte.is_ascii();
        if byte == b'\n' || byte == b'\r' {
            terminator_at(tail_at + i);
        }
    }
    if start < b.len() {
        line(start, b.len());
    }
    plain
}

/// Parses an array of lines (see [`Parser::parse_lines`]).
pub fn parse_lines(array: &dyn Array, spec: &ParseSpec) -> Result<ParseOutput> {
    Parser::new(spec)?.parse_lines(array)
}

/// Parses a buffer of raw bytes as lines (see [`Parser::parse_bytes`]).
pub fn parse_bytes(bytes: &Buffer, spec: &ParseSpec) -> Result<ParseOutput> {
    Parser::new(spec)?.parse_bytes(bytes)
}

/// The first two bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` begin as a gzip stream does. No log line can: 0x8b is
/// not a byte UTF-8 text starts a character with.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

#[cold]
fn gzip_error(e: &std::io::Error) -> SashError {
    SashError::InvalidInput(gzip_message(e))
}

fn gzip_message(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the gzip-compressed log ends in the middle of its compressed data (a truncated .gz file?)".into()
    } else {
        format!("the gzip-compressed log is corrupt: {e}")
    }
}

/// A stream as `ParseReader` reads it: plain text, or gzip decompressed on
/// the fly, told apart by the first two bytes (kept in front of the rest).
#[derive(Debug)]
enum Source<R: Read> {
    Unread(R),
    Text(std::io::Chain<std::io::Cursor<Vec<u8>>, R>),
    Gzip(Box<flate2::read::MultiGzDecoder<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>>),
    /// Only while `Unread` turns into one of the others.
    Taken,
}

impl<R: Read> Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Source::Unread(_) = self {
            let Source::Unread(mut reader) = std::mem::replace(self, Source::Taken) else { unreachable!() };
            let mut head = Vec::with_capacity(GZIP_MAGIC.len());
            let sniffed = (&mut reader).take(GZIP_MAGIC.len() as u64).read_to_end(&mut head);
            let rest = std::io::Cursor::new(head).chain(reader);
            let gzip = is_gzip(rest.get_ref().0.get_ref());
            *self = if gzip { Source::Gzip(Box::new(flate2::read::MultiGzDecoder::new(rest))) } else { Source::Text(rest) };
            sniffed?;
        }
        match self {
            Source::Text(reader) => reader.read(buf),
            Source::Gzip(reader) => reader.read(buf).map_err(|e| std::io::Error::new(e.kind(), gzip_message(&e))),
            Source::Unread(_) | Source::Taken => unreachable!("the stream is sniffed above"),
        }
    }
}

/// Parses a stream (a file, a socket) in chunks of about `chunk_bytes`,
/// yielding one batch per chunk: memory stays bounded by the chunk size
/// whatever the stream's length (a line longer than a chunk grows that chunk,
/// up to the spec's `max_line_bytes`; of a longer line only that much is kept).
/// A gzip stream (several members too, as `cat a.gz b.gz` makes) is
/// decompressed as it is read.
///
/// When reading fails part way (a truncated .gz file, an I/O error), the
/// complete lines read until then are still yielded, as the last batch, and
/// the error comes after them, saying how many bytes of a line cut short it
/// left unparsed.
#[derive(Debug)]
pub struct ParseReader<R: Read> {
    reader: Source<R>,
    parser: Parser,
    chunk_bytes: usize,
    /// The unfinished last line of the previous chunk.
    carry: Vec<u8>,
    /// A read error held back until the lines read before it are yielded.
    failed: Option<SashError>,
    /// A chunk read but not parsed, as its parse was cancelled: parsed first
    /// when the reader is read again.
    unparsed: Option<Buffer>,
    done: bool,
}

/// Why [`ParseReader::read_more`] read nothing.
enum ReadStop {
    Io(std::io::Error),
    Cancelled,
}

/// The default chunk size of [`ParseReader`].
pub const DEFAULT_CHUNK_BYTES: usize = 16 << 20;

impl<R: Read> ParseReader<R> {
    pub fn new(reader: R, spec: &ParseSpec) -> Result<ParseReader<R>> {
        Ok(ParseReader {
            reader: Source::Unread(reader),
            parser: Parser::new(spec)?,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            carry: Vec::new(),
            failed: None,
            unparsed: None,
            done: false,
        })
    }

    pub fn with_chunk_bytes(mut self, chunk_bytes: usize) -> Self {
        self.chunk_bytes = chunk_bytes.max(1);
        self
    }

    pub fn schema(&self) -> SchemaRef {
        self.parser.schema()
    }

    /// Reads once into `buf`, growing it to at most `want` bytes; interrupted
    /// reads are retried unless the caller cancelled the call. Ok(0) is the
    /// end of the stream.
    fn read_more(&mut self, buf: &mut Vec<u8>, want: usize) -> Result<usize, ReadStop> {
        crate::exec::cancel::check().map_err(|_| ReadStop::Cancelled)?;
        let len = buf.len();
        buf.resize(want.max(len + 1), 0);
        loop {
            match self.reader.read(&mut buf[len..]) {
                Ok(n) => {
                    buf.truncate(len + n);
                    return Ok(n);
                }
                // A signal (Ctrl-C among them), not the end: read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    if crate::exec::cancel::is_cancelled() {
                        buf.truncate(len);
                        return Err(ReadStop::Cancelled);
                    }
                }
                Err(e) => {
                    buf.truncate(len);
                    return Err(ReadStop::Io(e));
                }
            }
        }
    }

    /// Gives up after a read error: the complete lines of `buf` are the last
    /// chunk, and the error, saying how much of a line it cut short, follows.
    fn fail(&mut self, e: &std::io::Error, mut buf: Vec<u8>, cut_short: usize) -> Result<Option<Buffer>> {
        let complete = memchr::memrchr2(b'\n', b'\r', &buf).map_or(0, |i| i + 1);
        let unparsed = buf.len() - complete + cut_short;
        let mut message = format!("reading the log: {e}");
        if unparsed > 0 {
            message += &format!("; the {unparsed} bytes after the last complete line were not parsed");
        }
        buf.truncate(complete);
        self.failed = Some(SashError::InvalidInput(message));
        self.done = true;
        Ok((!buf.is_empty()).then(|| Buffer::from_vec(buf)))
    }

    fn next_chunk(&mut self) -> Result<Option<Buffer>> {
        if self.done {
            return Ok(None);
        }
        let max_line = self.parser.spec.max_line_bytes;
        let mut buf = std::mem::take(&mut self.carry);
        let mut want = self.chunk_bytes.max(buf.len() + 1);
        loop {
            while buf.len() < want {
                match self.read_more(&mut buf, want) {
                    Ok(0) => {
                        self.done = true;
                        return Ok((!buf.is_empty()).then(|| Buffer::from_vec(buf)));
                    }
                    Ok(_) => {}
                    Err(ReadStop::Cancelled) => {
                        self.carry = buf;
                        return Err(SashError::Cancelled);
                    }
                    Err(ReadStop::Io(e)) => return self.fail(&e, buf, 0),
                }
            }
            // End the chunk after its last complete line. A CR as the very last
            // byte may be the first half of a CRLF: it waits for the next chunk.
            let search = if buf.last() == Some(&b'\r') { &buf[..buf.len() - 1] } else { &buf[..] };
            if let Some(i) = memchr::memrchr2(b'\n', b'\r', search) {
                self.carry = buf[i + 1..].to_vec();
                buf.truncate(i + 1);
                return Ok(Some(Buffer::from_vec(buf)));
            }
            // No line ends in this chunk: `buf` is one line so far.
            if buf.len() > max_line + 1 {
                // Too long to parse: its first max_line + 1 bytes are kept
                // (the parser reports a line that long) and the rest is read
                // past, not kept, so a file without line ends cannot take
                // all memory.
                let mut rest = buf.split_off(max_line + 1);
                let mut skipped = 0;
                loop {
                    if let Some(i) = memchr::memchr2(b'\n', b'\r', &rest) {
                        buf.extend_from_slice(&rest[i..]);
                        break;
                    }
                    skipped += rest.len();
                    rest.clear();
                    match self.read_more(&mut rest, self.chunk_bytes.min(1 << 20)) {
                        Ok(0) => break,
                        Ok(_) => {}
                        // What is kept of the line stays; its rest is read past
                        // when reading goes on, as it would have been.
                        Err(ReadStop::Cancelled) => {
                            self.carry = buf;
                            return Err(SashError::Cancelled);
                        }
                        Err(ReadStop::Io(e)) => return self.fail(&e, buf, skipped),
                    }
                }
                want = self.chunk_bytes.max(buf.len() + 1);
                if buf.len() == max_line + 1 {
                    // The stream ended inside the line.
                    self.done = true;
                    return Ok(Some(Buffer::from_vec(buf)));
                }
                continue;
            }
            // Read more, up to a little past the longest line allowed.
            want = (buf.len() * 2).min(max_line + 2).max(buf.len() + 1);
        }
    }
}

impl<R: Read> Iterator for ParseReader<R> {
    type Item = Result<ParseOutput>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk = match self.unparsed.take() {
            Some(chunk) => Ok(Some(chunk)),
            None => self.next_chunk(),
        };
        match chunk {
            Ok(Some(chunk)) => match self.parser.parse_text(&chunk) {
                Err(SashError::Cancelled) => {
                    self.unparsed = Some(chunk);
                    Some(Err(SashError::Cancelled))
                }
                result => Some(result),
            },
            Ok(None) => self.failed.take().map(Err),
            // Cancelled while reading: what was read is kept, reading goes on.
            Err(SashError::Cancelled) => Some(Err(SashError::Cancelled)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// How many lines [`parse_bytes`] sees in `bytes` (for tests of other crates).
#[doc(hidden)]
pub fn split_lines_for_tests(bytes: &[u8]) -> usize {
    split_lines(bytes).len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_gzip_that_decompresses_past_the_bound_is_too_large_not_corrupt() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'\n'; 3 << 20]).unwrap();
        let gz = arrow_buffer::Buffer::from_vec(gz.finish().unwrap());
        let mut spec = super::ParseSpec::from_json(r#"{"format": "combined", "max_decompressed_bytes": 2097152}"#).unwrap();
        let err = super::Parser::new(&spec).unwrap().parse_bytes(&gz).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ResourceLimit, "{err}");
        assert!(err.to_string().contains("max_decompressed_bytes (2097152 bytes)"), "{err}");
        spec.max_decompressed_bytes = 3 << 20;
        let out = super::Parser::new(&spec).unwrap().parse_bytes(&gz).unwrap();
        assert_eq!(out.failed, 3 << 20);
        assert_eq!(super::ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap().max_decompressed_bytes, 256 << 20);
        for bad in ["0", "-1", "1.5", "true", "\"1\""] {
            let err = super::ParseSpec::from_json(&format!(r#"{{"format": "combined", "max_decompressed_bytes": {bad}}}"#)).unwrap_err();
            assert!(err.to_string().contains("max_decompressed_bytes must be a positive integer"), "{err}");
        }
    }

    use super::scan::tests::assert_masks_of;
    use super::scan::{LineMasks, MASKED_LINE};
    use super::{for_each_line, split_lines, Simd};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The rule, byte by byte: LF, CRLF or a lone CR ends a line.
    fn split_lines_byte_by_byte(b: &[u8]) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let (mut start, mut i) = (0, 0);
        while i < b.len() {
            match b[i] {
                b'\n' | b'\r' => {
                    spans.push((start, i));
                    i += if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        if start < b.len() {
            spans.push((start, b.len()));
        }
        spans
    }

    #[test]
    fn split_lines_matches_the_byte_by_byte_rule_across_block_edges() {
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..5000 {
            // Dense terminators and lengths around the 64-byte blocks, so that
            // CRLFs straddle block edges and tails of every length occur.
            let len = rng.random_range(0..300);
            // Non-ASCII bytes and NULs rare, so that many inputs have none.
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.random_range(0..1000) {
                    0 => b'\xff',
                    1 => 0,
                    _ => *[b'a', b'\n', b'\r', b' '].get(rng.random_range(0..7)).unwrap_or(&b'x'),
                })
                .collect();
            assert_eq!(split_lines(&bytes), split_lines_byte_by_byte(&bytes), "{bytes:?}");
            let plain = bytes.iter().all(|&c| c != 0 && c.is_ascii());
            for simd in [Simd::Sse2, Simd::Avx512] {
                if simd == Simd::Avx512 && Simd::detect() != Simd::Avx512 {
                    continue;
                }
                let mut spans = Vec::new();
                assert_eq!(for_each_line(&bytes, simd, |start, end| spans.push((start, end))), plain, "{simd:?} {bytes:?}");
                assert_eq!(spans, split_lines_byte_by_byte(&bytes), "{simd:?} {bytes:?}");
            }
        }
    }

    #[test]
    fn lines_read_with_their_masks_split_as_the_byte_by_byte_rule_does() {
        let mut rng = StdRng::seed_from_u64(8);
        for simd in [Simd::Sse2, Simd::Avx512] {
            if simd == Simd::Avx512 && Simd::detect() != Simd::Avx512 {
                eprintln!("{simd:?} is not on this CPU: not tested here");
                continue;
            }
            for tabs in [false, true] {
                // One reader for every input, as a parse keeps it: what a
                // line leaves must not show in the next.
                let mut masks = LineMasks::with(simd, tabs);
                for _ in 0..3000 {
                    // Lines of every length around the 64-byte blocks and the
                    // masks' limit, and inputs ending anywhere in a block.
                    let len = rng.random_range(0..1400);
                    let terminators = rng.random_range(1..200);
                    let bytes: Vec<u8> = (0..len)
                        .map(|_| match rng.random_range(0..terminators + 40) {
                            0 => b'\r',
                            1..=6 => b' ',
                            7..=9 => b'"',
                            10..=11 => b'\t',
                            12 if rng.random_bool(0.3) => b'\\',
                            13 if rng.random_bool(0.1) => 0,
                            14 if rng.random_bool(0.1) => 0xC3,
                            15..=39 => b'a',
                            _ => b'\n',
                        })
                        .collect();
                    let mut spans = Vec::new();
                    let mut at = 0;
                    while at < bytes.len() {
                        let line_end = at + bytes[at..].iter().position(|&c| c == b'\n' || c == b'\r').unwrap_or(bytes.len() - at);
                        let line = &bytes[at..line_end];
                        match masks.read_line(&bytes, at) {
                            None => assert!(line.len() >= MASKED_LINE, "{simd:?} {line:?}"),
                            Some((len, plain)) => {
                                assert_eq!(len, line.len(), "{simd:?} {line:?} in {bytes:?}");
                                assert_eq!(plain, line.iter().all(|&c| c != 0 && c.is_ascii()), "{simd:?} {line:?}");
                                assert_masks_of(&masks, line, tabs);
                            }
                        }
                        spans.push((at, line_end));
                        at = line_end + if bytes[line_end..].starts_with(b"\r\n") { 2 } else { 1 };
                    }
                    assert_eq!(spans, split_lines_byte_by_byte(&bytes));
                }
            }
        }
    }
}
