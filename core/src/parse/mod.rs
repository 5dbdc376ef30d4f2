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
mod lines;
mod reader;
pub mod records;
pub(crate) mod row;
mod scan;
pub mod spec;
pub mod time;
mod typed;

use crate::error::{Result, SashError};
use crate::exec::pool;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, RecordBatch, RecordBatchOptions, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use row::{Columns, Cut, CutReason, Failure, LineCtx, Parsed};
use scan::{LineMasks, Simd};
use spec::{LogFormat, OnError, ParseSpec};
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

pub use lines::split_lines_for_tests;
use lines::*;
use reader::{gzip_error, is_gzip};
pub use reader::{ChunkSource, ParseReader, RowSource, DEFAULT_CHUNK_BYTES};

/// Lines between two looks at whether the caller cancelled the call.
const CHECK_LINES: u64 = 16 * 1024;

/// The name of the error column, the last column of every parse output.
pub const ERROR_COLUMN: &str = "_error";

/// The parser of an nginx or Apache format string (their `combined` when none is given).
fn log_format_parser(spec: &ParseSpec) -> Result<Box<dyn LineParser>> {
    use formats::log_format::{compile, Dialect};
    let dialect = if spec.format == LogFormat::Nginx { Dialect::Nginx } else { Dialect::Apache };
    compile(dialect, spec.log_format.as_deref().unwrap_or("combined"), spec.timezone)
}

fn grok_parser(spec: &ParseSpec) -> Result<formats::grok::GrokParser> {
    let pattern = spec.pattern.as_deref().ok_or_else(|| SashError::spec("format 'grok' needs 'pattern'"))?;
    formats::grok::GrokParser::new(pattern, &spec.patterns, &spec.types, spec.timezone, spec.records.is_some())
}

/// Compiles a spec's grok pattern, for its errors.
pub(crate) fn check_grok(spec: &ParseSpec) -> Result<()> {
    grok_parser(spec).map(drop)
}

/// Compiles a spec's format string, for its errors.
pub(crate) fn check_log_format(spec: &ParseSpec) -> Result<()> {
    log_format_parser(spec).map(drop)
}

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
    /// The output's column order when it is not `fields`' (output column j
    /// is field `order[j]`): a format may write its columns in one order
    /// and show them in another.
    fn output_order(&self) -> Option<Vec<usize>> {
        None
    }
}

/// The columns a line parser writes, in the order it shows them.
fn columns_for(parser: &dyn LineParser, capacity: usize) -> Columns {
    Columns::new(parser.fields(spec::StringOutput::View), capacity).with_order(parser.output_order())
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

/// What [`Parser::complete_records`] says may be parsed now: the first
/// `bytes` bytes of the text, holding `lines` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompleteRecords {
    pub bytes: usize,
    pub lines: u64,
}

/// A parser for one spec, reusable across batches: it keeps the timestamp
/// caches and counts lines so `on_error: "raise"` can name the line.
#[derive(Debug)]
pub struct Parser {
    spec: ParseSpec,
    engine: Engine,
    /// 1-based number of the next line (of the next row when every line is
    /// one; with multi-line records, of the next physical line).
    next_line: u64,
    /// The last record read ran past the record limits and may go on in the
    /// next input: its lines up to the next record start are read past.
    runaway: bool,
    /// The next text ends inside a record past the limits (a stream reader
    /// could hold no more of it): its last record is failed as such.
    cut_record: bool,
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
                Engine::Lines(Box::new(formats::pattern::RegexParser::new(pattern, &spec.types, spec.timezone, spec.records.is_some())?))
            }
            LogFormat::Nginx | LogFormat::Apache => Engine::Lines(log_format_parser(spec)?),
            LogFormat::Grok => Engine::Lines(Box::new(grok_parser(spec)?)),
            LogFormat::Cri | LogFormat::Docker => {
                let inner = match &spec.inner {
                    Some(inner) => match Parser::new(inner)?.engine {
                        Engine::Lines(parser) => Some(parser),
                        Engine::Json(_) => return Err(SashError::spec("'inner' must be a line format")),
                    },
                    None => None,
                };
                Engine::Lines(Box::new(formats::container::ContainerParser::new(inner, spec.timezone)))
            }
            LogFormat::Json => {
                let fields = spec.schema.as_ref().ok_or_else(|| SashError::spec("format 'json' needs 'schema'"))?;
                Engine::Json(formats::json::JsonParser::new(fields))
            }
        };
        Ok(Parser { spec: spec.clone(), engine, next_line: 1, runaway: false, cut_record: false })
    }

    /// The schema of every batch this parser produces.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = match &self.engine {
            Engine::Lines(p) => {
                let fields = p.fields(self.spec.strings);
                match p.output_order() {
                    Some(order) => order.iter().map(|&j| fields[j].clone()).collect(),
                    None => fields,
                }
            }
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
        if self.spec.records.is_some() {
            // Records join elements: one text of the elements, a line each
            // (a null element an empty line), parsed as a file would be.
            return self.parse_text_counting(&joined_lines(array)?);
        }
        let parts = pool::parts_for(array.len(), MIN_PART_LINES, 2);
        if parts > 1 {
            let len = array.len();
            let ranges = (0..parts).map(|j| len * j / parts..len * (j + 1) / parts).collect();
            let spec = &self.spec;
            let outputs =
                pool::map(ranges, |part: Range<usize>| Parser::new(spec)?.parse_lines_whole(&array.slice(part.start, part.len())));
            return self.join_parts(outputs);
        }
        self.parse_lines_whole(array)
    }

    fn parse_lines_whole(&mut self, array: &dyn Array) -> Result<ParseOutput> {
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
            other => Err(not_lines(other)),
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

    /// For a caller that hands over a growing text piece by piece (a followed
    /// file): how many bytes of `text`, complete lines that more may follow,
    /// to parse now, and how many lines they hold. With multi-line records
    /// the last record may go on in lines not written yet, so it waits: the
    /// caller parses the bytes before it and gives the rest again, with what
    /// follows, next time (or alone, when it decides the record is over).
    /// Without records, everything. A last record already past the limits
    /// is parsed now (as a failed row; its further lines are read past), so
    /// what waits is bounded by `max_record_bytes` and `max_record_lines`.
    pub fn complete_records(&mut self, text: &[u8]) -> CompleteRecords {
        let lines = split_lines(text);
        let all = CompleteRecords { bytes: text.len(), lines: lines.len() as u64 };
        let Some(records) = &self.spec.records else { return all };
        match records.last_start(text, &lines) {
            Some(start) => CompleteRecords { bytes: start, lines: lines.iter().take_while(|&&(s, _)| s < start).count() as u64 },
            None if records.past_limits(&lines) => {
                self.cut_record = true;
                all
            }
            None => CompleteRecords { bytes: 0, lines: 0 },
        }
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
        if self.spec.records.is_some() {
            // Where records are cut is known only line by line: one thread.
            return self.parse_text_whole(bytes);
        }
        let parts = line_parts(bytes.as_slice(), pool::parts_for(bytes.len(), MIN_PART_BYTES, 2));
        if parts.len() > 1 {
            return self.parse_text_in_parts(bytes, parts);
        }
        self.parse_text_whole(bytes)
    }

    /// Parses text cut at line ends on the pool, each part by a parser of
    /// its own (formats keep no state from line to line but their caches,
    /// whose answers do not depend on what they saw): the rows, their
    /// errors and the line number of a raised error are those of one pass.
    fn parse_text_in_parts(&mut self, bytes: &Buffer, parts: Vec<Range<usize>>) -> Result<ParseOutput> {
        let spec = &self.spec;
        let outputs = pool::map(parts, |part| Parser::new(spec)?.parse_text_whole(&bytes.slice_with_length(part.start, part.len())));
        self.join_parts(outputs)
    }

    /// The output of parts parsed by parsers of their own, as this parser's
    /// (which counts their lines).
    fn join_parts(&mut self, outputs: Vec<Result<ParseOutput>>) -> Result<ParseOutput> {
        let mut lines_before = self.next_line - 1;
        let mut parsed_parts = Vec::with_capacity(outputs.len());
        for output in outputs {
            match output {
                Ok(output) => {
                    lines_before += output.batch.num_rows() as u64;
                    parsed_parts.push(output);
                }
                Err(SashError::Parse { line, message }) => return Err(SashError::Parse { line: lines_before + line, message }),
                Err(e) => return Err(e),
            }
        }
        let batches: Vec<RecordBatch> = parsed_parts.iter().map(|p| p.batch.clone()).collect();
        let batch = pool::concat_batches(&self.schema(), &batches)?;
        self.next_line = lines_before + 1;
        let failed = parsed_parts.iter().map(|p| p.failed).sum();
        Ok(ParseOutput { parsed: batch.num_rows() - failed, failed, batch })
    }

    fn parse_text_whole(&mut self, bytes: &Buffer) -> Result<ParseOutput> {
        if let Some(records) = self.spec.records.clone() {
            return self.run_records(bytes, &records);
        }
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
        let mut cols = columns_for(parser.as_ref(), expected_lines(data));
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

    /// Raw bytes in multi-line records: each record one row, parsed as one
    /// line holding all of its lines; a record past the limits one failed row.
    fn run_records(&mut self, values: &Buffer, records: &records::Records) -> Result<ParseOutput> {
        let Engine::Lines(parser) = &mut self.engine else { unreachable!("json takes no record_start (spec)") };
        let data = values.as_slice();
        let lines = split_lines(data);
        let (mut spans, skipped, mut runaway) = records.split(data, &lines, self.runaway);
        // Taken only when the text is parsed: a cancelled call is retried with it.
        if self.cut_record {
            if let Some(last) = spans.last_mut() {
                last.runaway = true;
            }
            runaway = true;
        }
        let mut blocks = Blocks::new(values);
        // Container logs: a Docker entry, or CRI lines the runtime split, are
        // rewritten as one CRI line into `rewritten` (a buffer the rows' views
        // may point into); a single CRI line is parsed where it is.
        let kind = records.container_kind();
        let mut rewritten = Vec::new();
        let mut assembled: Vec<std::result::Result<Option<Range<usize>>, String>> = Vec::new();
        if let Some(kind) = kind {
            for span in &spans {
                assembled.push(match (kind, span.lines, span.runaway) {
                    (_, _, true) | (records::Container::Cri, 1, _) => Ok(None),
                    _ => assemble_container(kind, &data[span.start..span.end], &mut rewritten).map(Some),
                });
            }
        }
        let rewritten = Buffer::from_vec(rewritten);
        // The text checked at once, not each record on its own: the records
        // are cut at line starts, so a clean text has clean records.
        let clean = Clean::of(data, false);
        let mut rewritten_block = None;
        let mut cols = columns_for(parser.as_ref(), spans.len());
        let mut number = self.next_line + skipped;
        for (i, span) in spans.iter().enumerate() {
            if i % 4096 == 0 {
                crate::exec::cancel::check()?;
            }
            // A row that fails before any format reads it: a runaway record,
            // or a container entry that could not be rewritten.
            let failure = match assembled.get(i) {
                _ if span.runaway => Some(Failure::new("record", 0, records.runaway_message())),
                Some(Err(message)) => Some(Failure::new("entry", 0, message.clone())),
                _ => None,
            };
            if let Some(failure) = failure {
                if let (Some(message), OnError::Raise) = (cols.end_row(&Err(failure)), self.spec.on_error) {
                    return Err(SashError::Parse { line: number, message: message.to_string() });
                }
            } else {
                let (line, clean) = match assembled.get(i) {
                    Some(Ok(Some(range))) => {
                        let block = *rewritten_block.get_or_insert_with(|| blocks.extra(&rewritten));
                        let line =
                            LineRef { bytes: Some(&rewritten.as_slice()[range.clone()]), block: Some(block), offset: range.start as u32 };
                        (line, Clean::No)
                    }
                    _ => (blocks.line(span.start, span.end), clean),
                };
                parse_line(parser.as_mut(), &mut cols, &line, clean, None, &self.spec, number)?;
            }
            number += span.lines;
        }
        let output = finish_lines(cols, &blocks.into_buffers(), self.spec.strings)?;
        self.next_line = number;
        self.runaway = runaway;
        self.cut_record = false;
        Ok(output)
    }

    fn run<'a>(&mut self, mut lines: impl LineChunks<'a>) -> Result<ParseOutput> {
        match &mut self.engine {
            Engine::Lines(parser) => {
                let mut cols = columns_for(parser.as_ref(), lines.expected_lines());
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

/// A container record as one CRI line (`TIME STREAM F MESSAGE`) appended
/// to `out`: CRI lines the runtime split, their messages joined; Docker
/// entries, their `log` values decoded and joined, the final newline dropped.
fn assemble_container(kind: records::Container, record: &[u8], out: &mut Vec<u8>) -> std::result::Result<Range<usize>, String> {
    let start = out.len();
    let mut first = true;
    for line in split_lines(record).into_iter().map(|(s, e)| &record[s..e]) {
        match kind {
            records::Container::Cri => {
                let (_, stream_end, message) = formats::container::cri_fields(line).map_err(|f| {
                    let mut text = String::new();
                    f.render(&mut text);
                    text
                })?;
                if first {
                    out.extend_from_slice(&line[..stream_end]);
                    out.extend_from_slice(b" F ");
                }
                out.extend_from_slice(&line[message..]);
            }
            records::Container::Docker => {
                #[derive(serde::Deserialize)]
                struct Entry<'a> {
                    #[serde(borrow)]
                    log: std::borrow::Cow<'a, str>,
                    #[serde(borrow, default)]
                    stream: Option<std::borrow::Cow<'a, str>>,
                    #[serde(borrow, default)]
                    time: Option<std::borrow::Cow<'a, str>>,
                }
                let entry: Entry = serde_json::from_slice(line).map_err(|e| {
                    out.truncate(start);
                    format!("not a Docker json-file entry ({{\"log\", \"stream\", \"time\"}}): {e}")
                })?;
                if first {
                    out.extend_from_slice(entry.time.as_deref().unwrap_or("-").as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(entry.stream.as_deref().unwrap_or("-").as_bytes());
                    out.extend_from_slice(b" F ");
                }
                out.extend_from_slice(entry.log.as_bytes());
            }
        }
        first = false;
    }
    if kind == records::Container::Docker && out.last() == Some(&b'\n') {
        out.pop();
    }
    Ok(start..out.len())
}

/// The error of lines given in an array of another type.
fn not_lines(found: &DataType) -> SashError {
    SashError::WrongType {
        column: "lines".to_string(),
        expected: "Utf8, LargeUtf8, Utf8View, Binary or LargeBinary".to_string(),
        found: found.clone(),
    }
}

/// The elements of a string or binary array as one text, a line each (a
/// null element an empty line).
fn joined_lines<'a>(array: &'a dyn Array) -> Result<Buffer> {
    let value: Box<dyn Fn(usize) -> &'a [u8] + 'a> = match array.data_type() {
        DataType::Utf8 => Box::new(|i| array.as_string::<i32>().value(i).as_bytes()),
        DataType::LargeUtf8 => Box::new(|i| array.as_string::<i64>().value(i).as_bytes()),
        DataType::Utf8View => Box::new(|i| array.as_string_view().value(i).as_bytes()),
        DataType::Binary => Box::new(|i| array.as_binary::<i32>().value(i)),
        DataType::LargeBinary => Box::new(|i| array.as_binary::<i64>().value(i)),
        other => return Err(not_lines(other)),
    };
    let mut text = Vec::new();
    for i in 0..array.len() {
        if array.is_valid(i) {
            text.extend_from_slice(value(i));
        }
        text.push(b'\n');
    }
    Ok(Buffer::from_vec(text))
}

/// Bytes of text a part holds at least when a parse is cut into parts: below
/// it a part's fixed cost (a parser, the concatenation) is not repaid.
const MIN_PART_BYTES: usize = 1 << 20;
/// Lines a part of an array of lines holds at least (a few megabytes of
/// typical log lines).
const MIN_PART_LINES: usize = 16 * 1024;

/// `text` cut into about `parts` ranges of whole lines, each ending just
/// after a LF (so no CRLF is cut in two); one range when it is small.
fn line_parts(text: &[u8], parts: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for j in 1..parts {
        let target = (text.len() * j / parts).max(start);
        let Some(lf) = memchr::memchr(b'\n', &text[target..]) else { break };
        let end = target + lf + 1;
        if end < text.len() {
            out.push(start..end);
            start = end;
        }
    }
    out.push(start..text.len());
    out
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

/// Parses an array of lines (see [`Parser::parse_lines`]).
pub fn parse_lines(array: &dyn Array, spec: &ParseSpec) -> Result<ParseOutput> {
    Parser::new(spec)?.parse_lines(array)
}

/// Parses a buffer of raw bytes as lines (see [`Parser::parse_bytes`]).
pub fn parse_bytes(bytes: &Buffer, spec: &ParseSpec) -> Result<ParseOutput> {
    Parser::new(spec)?.parse_bytes(bytes)
}

#[cfg(test)]
mod tests;
