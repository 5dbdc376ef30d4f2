//! The operations of `docs/protocol.md`: each reads its request's input,
//! calls the kernel as the bindings do, and writes its answer.

use super::wire::{IpcInput, WireError};
use arrow_array::cast::AsArray;
use arrow_array::types::ByteViewType;
use arrow_array::{Array, ArrayRef, GenericByteViewArray, LargeBinaryArray, RecordBatch, RecordBatchOptions};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sash_core::{ParseReader, ParseSpec, Parser, RollingSpec, RollingStream, SashError, StreamStats, WindowSpec, WindowStream};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// An error answer: a kind name (the bindings' names, or the service's
/// `protocol`, `permission_denied`) and its message.
#[derive(Debug)]
pub struct Fail {
    pub kind: String,
    pub message: String,
}

impl Fail {
    pub fn new(kind: &str, message: impl Into<String>) -> Fail {
        Fail { kind: kind.to_string(), message: message.into() }
    }
}

/// How a request failed, which decides what becomes of the connection.
#[derive(Debug)]
pub enum Failure {
    /// The call failed: answered, and the connection goes on.
    Call(Fail),
    /// The request cannot be read: answered, then the connection is closed.
    Fatal(Fail),
    /// The peer is gone (or stopped reading for longer than the timeout).
    Gone,
}

impl From<SashError> for Failure {
    fn from(e: SashError) -> Failure {
        let e = sash_ffi::Error::from(e);
        Failure::Call(Fail::new(e.status.name(), e.message))
    }
}

impl From<WireError> for Failure {
    fn from(e: WireError) -> Failure {
        match e.kind {
            "gone" => Failure::Gone,
            kind => Failure::Fatal(Fail::new(kind, e.message)),
        }
    }
}

fn call_error(kind: &str, message: impl Into<String>) -> Failure {
    Failure::Call(Fail::new(kind, message))
}

fn gone<E>(_: E) -> Failure {
    Failure::Gone
}

enum State<'w, W: Write> {
    /// Nothing written yet.
    Idle(&'w mut W),
    /// The head was written and the IPC stream started.
    Streaming(Box<StreamWriter<&'w mut W>>),
    /// The answer is complete, or the connection broke while writing it.
    Done,
}

/// One answer being written: head, then (for answers with rows) the IPC
/// stream and the tail.
pub struct Answer<'w, W: Write> {
    state: State<'w, W>,
}

impl<'w, W: Write> Answer<'w, W> {
    pub fn new(writer: &'w mut W) -> Answer<'w, W> {
        Answer { state: State::Idle(writer) }
    }

    /// Writes the head and starts the IPC stream, if not done yet.
    fn start(&mut self, schema: &Schema) -> Result<(), Failure> {
        if let State::Idle(_) = self.state {
            let State::Idle(w) = std::mem::replace(&mut self.state, State::Done) else { unreachable!() };
            super::wire::write_frame(w, &json!({"ok": true, "stream": true})).map_err(gone)?;
            self.state = State::Streaming(Box::new(StreamWriter::try_new(w, schema).map_err(gone)?));
        }
        Ok(())
    }

    /// Sends one batch of the answer (starting the stream at the first),
    /// flushed so that the client sees it now.
    fn batch(&mut self, batch: &RecordBatch) -> Result<(), Failure> {
        self.start(&batch.schema())?;
        if let State::Streaming(writer) = &mut self.state {
            writer.write(&compact_views(batch)).map_err(gone)?;
            writer.get_mut().flush().map_err(gone)?;
        }
        Ok(())
    }

    /// Ends a successful answer: the tail (or the head, for an answer
    /// without rows) with `extra` in it.
    fn finish(&mut self, extra: Map<String, Value>) -> Result<(), Failure> {
        let mut frame = Map::new();
        frame.insert("ok".into(), Value::Bool(true));
        match std::mem::replace(&mut self.state, State::Done) {
            State::Idle(w) => {
                frame.insert("stream".into(), Value::Bool(false));
                frame.extend(extra);
                super::wire::write_frame(w, &Value::Object(frame)).and_then(|_| w.flush()).map_err(gone)
            }
            State::Streaming(writer) => {
                let mut writer = *writer;
                writer.finish().map_err(gone)?;
                let w = writer.into_inner().map_err(gone)?;
                frame.extend(extra);
                super::wire::write_frame(w, &Value::Object(frame)).and_then(|_| w.flush()).map_err(gone)
            }
            State::Done => Ok(()),
        }
    }

    /// Ends a failed answer: the error as the head, or, after rows were
    /// sent, the end of their stream and the error as the tail.
    /// `closing`: the server closes the connection after it (the frame says so).
    pub fn fail(&mut self, fail: &Fail, closing: bool) -> io::Result<()> {
        let mut frame = json!({"ok": false, "error": {"kind": fail.kind, "message": fail.message}});
        if closing {
            frame["closed"] = Value::Bool(true);
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Idle(w) => super::wire::write_frame(w, &frame).and_then(|_| w.flush()),
            State::Streaming(writer) => {
                let mut writer = *writer;
                writer.finish().map_err(io::Error::other)?;
                let w = writer.into_inner().map_err(io::Error::other)?;
                super::wire::write_frame(w, &frame).and_then(|_| w.flush())
            }
            State::Done => Ok(()),
        }
    }
}

/// The batch with its string and binary views holding only the bytes they
/// show. A parse's view columns all point into the chunk of text they came
/// from, and IPC writes each column's buffers whole: without this, a parsed
/// batch of nine string columns would cross the socket as nine copies of
/// its text. Same values, same types.
fn compact_views(batch: &RecordBatch) -> RecordBatch {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| {
            match column.data_type() {
                DataType::Utf8View => compact(column.as_string_view()),
                DataType::BinaryView => compact(column.as_binary_view()),
                _ => None,
            }
            .unwrap_or_else(|| column.clone())
        })
        .collect();
    RecordBatch::try_new_with_options(batch.schema(), columns, &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())))
        .unwrap_or_else(|_| batch.clone())
}

/// The views with their bytes copied out, when their buffers hold more than
/// twice what they show.
fn compact<T: ByteViewType + ?Sized>(views: &GenericByteViewArray<T>) -> Option<ArrayRef> {
    let held: usize = views.data_buffers().iter().map(|b| b.len()).sum();
    (held > 2 * views.total_buffer_bytes_used() + 4096).then(|| Arc::new(views.gc()) as ArrayRef)
}

/// A streaming session of a connection.
#[derive(Debug)]
pub enum Session {
    Window(Box<WindowStream>),
    Rolling(Box<RollingStream>),
}

macro_rules! each {
    ($session:expr, $s:ident => $e:expr) => {
        match $session {
            Session::Window($s) => $e,
            Session::Rolling($s) => $e,
        }
    };
}

/// The sessions of one connection, by the number `open`/`restore` gave them.
#[derive(Debug, Default)]
pub struct Sessions {
    open: HashMap<u64, Session>,
    last: u64,
}

impl Sessions {
    fn add(&mut self, session: Session) -> u64 {
        self.last += 1;
        self.open.insert(self.last, session);
        self.last
    }

    fn get(&mut self, header: &Map<String, Value>) -> Result<&mut Session, Failure> {
        let id = session_id(header)?;
        self.open.get_mut(&id).ok_or_else(|| call_error("invalid_input", format!("invalid input: no session {id} on this connection")))
    }
}

fn session_id(header: &Map<String, Value>) -> Result<u64, Failure> {
    header
        .get("session")
        .and_then(Value::as_u64)
        .ok_or_else(|| call_error("invalid_input", "invalid input: the request needs \"session\", the number open or restore gave"))
}

/// A session's watermark and counters, as its answers carry them.
fn progress(session: &Session) -> Map<String, Value> {
    let (watermark, stats): (Option<i64>, StreamStats) = each!(session, s => (s.watermark(), s.stats()));
    let mut map = Map::new();
    map.insert("watermark".into(), watermark.map_or(Value::Null, Value::from));
    map.insert(
        "stats".into(),
        json!({
            "rows_in": stats.rows_in,
            "rows_late": stats.rows_late,
            "null_times_dropped": stats.null_times_dropped,
            "open_windows": stats.open_windows,
            "state_bytes": stats.state_bytes,
        }),
    );
    map
}

/// The request's spec as JSON text: an object (or a string holding one).
fn spec_text(header: &Map<String, Value>) -> Result<String, Failure> {
    match header.get("spec") {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(value @ Value::Object(_)) => Ok(value.to_string()),
        Some(other) => Err(call_error("invalid_spec", format!("invalid spec: \"spec\" must be a JSON object, not {other}"))),
        None => Err(call_error("invalid_spec", "invalid spec: the request needs \"spec\"")),
    }
}

/// Runs one request (whose frame is `header`) and writes its answer. On
/// `Err`, the caller answers (after reading the rest of the input, when the
/// connection can go on).
pub fn run<R: Read + Send, W: Write>(
    op: &str,
    header: &Map<String, Value>,
    input: &mut IpcInput<R>,
    answer: &mut Answer<'_, W>,
    sessions: &mut Sessions,
    window_part_bytes: usize,
) -> Result<(), Failure> {
    match op {
        "hello" => answer.finish(map(json!({"protocol": 1, "version": env!("CARGO_PKG_VERSION")}))),
        "window_agg" => {
            let spec = WindowSpec::from_json(&spec_text(header)?)?;
            let out = window_agg(input, &spec, window_part_bytes)?;
            answer.batch(&out)?;
            answer.finish(Map::new())
        }
        "rolling" => {
            let spec = RollingSpec::from_json(&spec_text(header)?)?;
            let (schema, batches) = read_all(input)?;
            let (out_schema, out) = sash_core::rolling_with_schema(&schema, &batches, &spec)?;
            answer.start(&out_schema)?;
            for batch in &out {
                answer.batch(batch)?;
            }
            answer.finish(Map::new())
        }
        "parse" => parse(header, input, answer),
        "open" => {
            let spec = spec_text(header)?;
            let session = match stream_kind(header)? {
                Kind::Window => Session::Window(Box::new(WindowStream::from_json(&spec)?)),
                Kind::Rolling => Session::Rolling(Box::new(RollingStream::from_json(&spec)?)),
            };
            opened(answer, sessions, session)
        }
        "restore" => {
            let kind = stream_kind(header)?;
            let bytes = read_bytes(input)?;
            let session = match kind {
                Kind::Window => Session::Window(Box::new(WindowStream::restore(&bytes)?)),
                Kind::Rolling => Session::Rolling(Box::new(RollingStream::restore(&bytes)?)),
            };
            opened(answer, sessions, session)
        }
        "push" => {
            let session = sessions.get(header)?;
            let schema = input.schema()?;
            let mut pushed = false;
            while let Some(batch) = input.next_batch()? {
                let out = each!(session, s => s.push(&batch))?;
                answer.batch(&out)?;
                pushed = true;
            }
            if !pushed {
                // No rows, as the in-process push of an empty table: the
                // input schema is checked (or fixed) all the same.
                let out = each!(session, s => s.push(&RecordBatch::new_empty(schema)))?;
                answer.batch(&out)?;
            }
            answer.finish(progress(session))
        }
        "advance" => {
            let session = sessions.get(header)?;
            let out = match header.get("watermark") {
                Some(value) => {
                    let watermark = value.as_i64().ok_or_else(|| {
                        call_error("invalid_input", format!("invalid input: \"watermark\" must be a 64-bit integer, not {value}"))
                    })?;
                    each!(session, s => s.advance(watermark))?
                }
                None => {
                    let value = read_one_value(input)?;
                    each!(session, s => s.advance_to(value.as_ref()))?
                }
            };
            answer.batch(&out)?;
            answer.finish(progress(session))
        }
        "finish" => {
            let session = sessions.get(header)?;
            let out = each!(session, s => s.finish())?;
            answer.batch(&out)?;
            answer.finish(progress(session))
        }
        "take_late" => {
            let session = sessions.get(header)?;
            let out = each!(session, s => s.take_late())?;
            answer.batch(&out)?;
            answer.finish(progress(session))
        }
        "snapshot" => {
            let session = sessions.get(header)?;
            let bytes = each!(session, s => s.snapshot())?;
            let schema = Arc::new(Schema::new(vec![Field::new("snapshot", DataType::LargeBinary, false)]));
            let column: ArrayRef = Arc::new(LargeBinaryArray::from_vec(vec![bytes.as_slice()]));
            let batch = RecordBatch::try_new(schema, vec![column]).map_err(SashError::Arrow)?;
            answer.batch(&batch)?;
            answer.finish(progress(session))
        }
        "stats" => {
            let session = sessions.get(header)?;
            answer.finish(progress(session))
        }
        "close" => {
            let id = session_id(header)?;
            sessions.open.remove(&id);
            answer.finish(Map::new())
        }
        "" => Err(Failure::Fatal(Fail::new("protocol", "a request needs \"op\" (docs/protocol.md)"))),
        other => Err(Failure::Fatal(Fail::new(
            "protocol",
            format!(
                "unknown op \"{other}\"; the server knows hello, window_agg, rolling, parse, open, restore, push, \
                 advance, finish, take_late, snapshot, stats, close"
            ),
        ))),
    }
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

enum Kind {
    Window,
    Rolling,
}

fn stream_kind(header: &Map<String, Value>) -> Result<Kind, Failure> {
    match header.get("stream").and_then(Value::as_str) {
        Some("window") => Ok(Kind::Window),
        Some("rolling") => Ok(Kind::Rolling),
        _ => Err(call_error("invalid_spec", "invalid spec: \"stream\" must be \"window\" or \"rolling\"")),
    }
}

fn opened<W: Write>(answer: &mut Answer<'_, W>, sessions: &mut Sessions, session: Session) -> Result<(), Failure> {
    let mut extra = progress(&session);
    let id = sessions.add(session);
    extra.insert("session".into(), Value::from(id));
    answer.finish(extra)
}

/// `window_agg` of the request's rows, holding at most about `part_bytes`
/// of them when its aggregations give the same bytes from partial states
/// (`partial::splits_exactly`; float sums, `var`, `std` do not, and hold
/// the whole input as in-process): an input that fits is one call, a larger
/// one is aggregated part by part into partial states (merged as they pile
/// up), whose merge is what one call over all the rows gives.
fn window_agg<R: Read>(input: &mut IpcInput<R>, spec: &WindowSpec, part_bytes: usize) -> Result<RecordBatch, Failure> {
    let schema = input.schema()?;
    let part_bytes = if sash_core::partial::splits_exactly(&schema, spec) { part_bytes } else { usize::MAX };
    let (mut held, mut held_bytes, mut position) = (Vec::new(), 0usize, 0u64);
    let mut partials: Vec<RecordBatch> = Vec::new();
    while let Some(batch) = input.next_batch()? {
        sash_core::cancel::check()?;
        held_bytes += batch.get_array_memory_size();
        held.push(batch);
        if held_bytes < part_bytes {
            continue;
        }
        match sash_core::partial::window_agg_partial(&schema, &held, spec, position) {
            Ok(part) => partials.push(part),
            Err(SashError::NullTime { column, count }) => {
                // The message counts every null time of the input, as one call's does.
                let mut count = count;
                while let Some(batch) = input.next_batch()? {
                    count += batch.column_by_name(&column).map_or(0, |c| c.null_count());
                }
                return Err(SashError::NullTime { column, count }.into());
            }
            Err(e) => return Err(e.into()),
        }
        position += held.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        (held, held_bytes) = (Vec::new(), 0);
        if partials.len() >= 8 {
            partials = vec![sash_core::partial::window_agg_merge_states(&schema, spec, &partials)?];
        }
    }
    if partials.is_empty() {
        return Ok(sash_core::window_agg(&schema, &held, spec)?);
    }
    if !held.is_empty() {
        partials.push(sash_core::partial::window_agg_partial(&schema, &held, spec, position)?);
    }
    Ok(sash_core::partial::window_agg_merge(&schema, spec, &partials)?)
}

fn read_all<R: Read>(input: &mut IpcInput<R>) -> Result<(SchemaRef, Vec<RecordBatch>), Failure> {
    let schema = input.schema()?;
    let mut batches = Vec::new();
    while let Some(batch) = input.next_batch()? {
        sash_core::cancel::check()?;
        batches.push(batch);
    }
    Ok((schema, batches))
}

/// The bytes of one string or binary column, value after value.
fn value_bytes(array: &dyn Array, i: usize) -> &[u8] {
    match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().value(i),
        DataType::LargeBinary => array.as_binary::<i64>().value(i),
        DataType::BinaryView => array.as_binary_view().value(i),
        DataType::Utf8 => array.as_string::<i32>().value(i).as_bytes(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).as_bytes(),
        DataType::Utf8View => array.as_string_view().value(i).as_bytes(),
        _ => &[],
    }
}

fn one_bytes_column(schema: &Schema, what: &str) -> Result<(), Failure> {
    let fields = schema.fields();
    if fields.len() != 1 {
        return Err(call_error(
            "invalid_input",
            format!("invalid input: {what} must be a stream of exactly one column, it has {}", fields.len()),
        ));
    }
    match fields[0].data_type() {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Ok(())
        }
        other => Err(call_error(
            "wrong_type",
            format!("column '{}' has type {other}, expected a string or binary column ({what})", fields[0].name()),
        )),
    }
}

/// All the bytes of a one-column binary stream (a snapshot).
fn read_bytes<R: Read>(input: &mut IpcInput<R>) -> Result<Vec<u8>, Failure> {
    one_bytes_column(input.schema()?.as_ref(), "a snapshot")?;
    let mut bytes = Vec::new();
    while let Some(batch) = input.next_batch()? {
        let column = batch.column(0);
        for i in 0..column.len() {
            if column.is_valid(i) {
                bytes.extend_from_slice(value_bytes(column.as_ref(), i));
            }
        }
    }
    Ok(bytes)
}

/// The one value of an `advance` without `"watermark"`.
fn read_one_value<R: Read>(input: &mut IpcInput<R>) -> Result<ArrayRef, Failure> {
    let schema = input.schema()?;
    let wrong = || call_error("invalid_input", "invalid input: an advance's stream must hold one column with one value, the watermark");
    if schema.fields().len() != 1 {
        return Err(wrong());
    }
    let mut value = None;
    while let Some(batch) = input.next_batch()? {
        if batch.num_rows() == 0 {
            continue;
        }
        if value.is_some() || batch.num_rows() != 1 {
            return Err(wrong());
        }
        value = Some(batch.column(0).clone());
    }
    value.ok_or_else(wrong)
}

fn parse<R: Read + Send, W: Write>(
    header: &Map<String, Value>,
    input: &mut IpcInput<R>,
    answer: &mut Answer<'_, W>,
) -> Result<(), Failure> {
    let spec = ParseSpec::from_json(&spec_text(header)?)?;
    let bytes = match header.get("input").map(|v| v.as_str()) {
        None | Some(Some("lines")) => false,
        Some(Some("bytes")) => true,
        Some(other) => {
            return Err(call_error(
                "invalid_spec",
                format!(
                    "invalid spec: \"input\" must be \"lines\" or \"bytes\", not {}",
                    other.map_or("a non-string".to_string(), |s| format!("\"{s}\""))
                ),
            ))
        }
    };
    let mut parser = Parser::new(&spec)?;
    one_bytes_column(input.schema()?.as_ref(), if bytes { "the bytes" } else { "the lines" })?;
    answer.start(&parser.schema())?;
    // The next batches are read while this one is parsed and its answer
    // written: reading, parsing and writing overlap instead of taking turns.
    std::thread::scope(|scope| {
        let (sender, batches) = std::sync::mpsc::sync_channel::<RecordBatch>(READ_AHEAD_BATCHES);
        let reader = scope.spawn(move || -> Result<(), WireError> {
            let mut wanted = true;
            while let Some(batch) = input.next_batch()? {
                // After a failed parse the rest is read all the same (and dropped).
                wanted = wanted && sender.send(batch).is_ok();
            }
            Ok(())
        });
        let parsed = if bytes {
            ParseReader::new(BytesReader { batches: &batches, batch: None, value: 0, at: 0 }, &spec).map_err(Failure::from).and_then(
                |reader| {
                    for out in reader {
                        answer.batch(&out?.batch)?;
                    }
                    Ok(())
                },
            )
        } else {
            (|| {
                for batch in batches.iter() {
                    answer.batch(&parser.parse_lines(batch.column(0).as_ref())?.batch)?;
                }
                Ok(())
            })()
        };
        drop(batches);
        // A broken input is the error, whatever the parse made of its end.
        reader.join().unwrap_or_else(|_| Err(WireError::protocol("reading the request failed")))?;
        parsed
    })?;
    answer.finish(Map::new())
}

/// Batches of a request read ahead of the one being worked on.
const READ_AHEAD_BATCHES: usize = 2;

/// The bytes of a one-column stream, concatenated, as a `Read` for
/// [`ParseReader`] (which splits them into lines and records, across values
/// and batches). The stream ends where its reader stopped: the caller then
/// asks the reader whether that was the end or a failure.
struct BytesReader<'b> {
    batches: &'b std::sync::mpsc::Receiver<RecordBatch>,
    batch: Option<ArrayRef>,
    value: usize,
    at: usize,
}

impl Read for BytesReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(column) = &self.batch {
                while self.value < column.len() {
                    if column.is_valid(self.value) {
                        let bytes = value_bytes(column.as_ref(), self.value);
                        if self.at < bytes.len() {
                            let n = buf.len().min(bytes.len() - self.at);
                            buf[..n].copy_from_slice(&bytes[self.at..self.at + n]);
                            self.at += n;
                            return Ok(n);
                        }
                    }
                    self.value += 1;
                    self.at = 0;
                }
            }
            match self.batches.recv() {
                Ok(batch) => {
                    self.batch = Some(batch.column(0).clone());
                    self.value = 0;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
    }
}
