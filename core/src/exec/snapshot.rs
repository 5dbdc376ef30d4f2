//! What every stream operator shares: its options (`lateness`,
//! `max_state_bytes`), holding every push to the first push's schema,
//! watermarks given as values, and snapshots: the byte layout (a header,
//! JSON metadata, Arrow IPC sections) and reading Arrow IPC from untrusted
//! bytes without a crash or an unbounded allocation.

use crate::error::{Result, SashError};
use crate::exec::time::TimeColumn;
use crate::spec::duration::Duration;
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;

/// What a stream has seen, for monitoring (`WindowStream` and `RollingStream`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Rows pushed, late ones and dropped null times included.
    pub rows_in: u64,
    /// Rows that came too late to count in any window (see `take_late`).
    pub rows_late: u64,
    /// Rows left out for a null time under `null_time = "drop"`.
    pub null_times_dropped: u64,
    /// Open states: (keys, pane) for tumbling and hopping windows (a
    /// tumbling pane is its window), (keys, session) for sessions; for a
    /// `RollingStream`, the rows whose result is not emitted yet.
    pub open_windows: usize,
    /// Bytes the open states (their exported size, keys and lookups) and
    /// the untaken late rows hold.
    pub state_bytes: usize,
}

/// What every stream operator keeps the same way: the watermark, the late
/// rows not taken yet, the counters and whether it is finished.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// Below every time until the first push or advance.
    pub watermark: Option<i64>,
    pub late: Vec<RecordBatch>,
    pub stats: StreamStats,
    pub finished: bool,
}

impl Progress {
    pub fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(SashError::InvalidInput("the stream is finished: no push, advance or finish after finish()".into()));
        }
        Ok(())
    }

    /// The watermark after a push whose largest time is `largest` (None: no time).
    pub fn after_push(&self, largest: Option<i64>, lateness: i64) -> Option<i64> {
        match largest {
            Some(t) => self.advanced(t.saturating_sub(lateness)),
            None => self.watermark,
        }
    }

    /// The watermark moved to `to` if that is later.
    pub fn advanced(&self, to: i64) -> Option<i64> {
        Some(self.watermark.map_or(to, |w| w.max(to)))
    }

    /// Records a push that succeeded: its rows, its late rows, its dropped null times.
    pub fn commit_push(&mut self, rows: usize, late: RecordBatch, null_times_dropped: u64, watermark: Option<i64>) {
        self.stats.rows_in += rows as u64;
        self.stats.rows_late += late.num_rows() as u64;
        self.stats.null_times_dropped += null_times_dropped;
        if late.num_rows() > 0 {
            self.late.push(late);
        }
        self.watermark = watermark;
    }

    /// The late rows (of `schema`, None before the first push) in arrival order; taking them clears them.
    pub fn take_late(&mut self, schema: Option<&SchemaRef>) -> Result<RecordBatch> {
        let Some(schema) = schema else {
            return Ok(RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty())));
        };
        let out = arrow_select::concat::concat_batches(schema, &self.late)?;
        self.late.clear();
        Ok(out)
    }

    /// Bytes of the late rows held, with `more` (a push's) if it is kept.
    pub fn late_bytes(&self, more: Option<&RecordBatch>) -> usize {
        self.late.iter().chain(more.filter(|b| b.num_rows() > 0)).map(RecordBatch::get_array_memory_size).sum()
    }

    /// An error if `state_bytes` is over `limit`.
    pub fn check_limit(limit: Option<usize>, state_bytes: usize, advice: &str) -> Result<()> {
        match limit {
            Some(limit) if state_bytes > limit => Err(SashError::ResourceLimit(format!(
                "this push would leave {state_bytes} bytes of stream state, over max_state_bytes = {limit}; the stream is as it was ({advice})"
            ))),
            _ => Ok(()),
        }
    }

    pub fn meta(&self, kind: &'static str, spec: &serde_json::Value) -> Meta {
        Meta {
            kind,
            spec: spec.clone(),
            watermark: self.watermark,
            rows_in: self.stats.rows_in,
            rows_late: self.stats.rows_late,
            null_times_dropped: self.stats.null_times_dropped,
            finished: self.finished,
        }
    }

    /// The progress a snapshot's metadata and late rows describe.
    pub fn from_snapshot(meta: &Meta, late: Vec<RecordBatch>) -> Progress {
        let stats = StreamStats {
            rows_in: meta.rows_in,
            rows_late: meta.rows_late,
            null_times_dropped: meta.null_times_dropped,
            ..StreamStats::default()
        };
        Progress {
            watermark: meta.watermark,
            late: late.into_iter().filter(|b| b.num_rows() > 0).collect(),
            stats,
            finished: meta.finished,
        }
    }

    /// The snapshot section of the input schema and the late rows.
    pub fn input_section(&self, schema: &SchemaRef) -> Result<Vec<u8>> {
        let late = arrow_select::concat::concat_batches(schema, &self.late)?;
        let late: Vec<&RecordBatch> = (late.num_rows() > 0).then_some(&late).into_iter().collect();
        ipc_stream(schema, &late)
    }
}

/// Takes a stream's own keys out of its spec: `lateness` (a duration, not
/// negative, default 0) and `max_state_bytes` (a whole number, default none).
pub(crate) fn take_stream_options(spec: &mut serde_json::Value) -> Result<(Duration, Option<usize>)> {
    let mut take = |key: &str| spec.as_object_mut().and_then(|map| map.remove(key)).filter(|v| !v.is_null());
    let lateness = match take("lateness") {
        None => Duration::Count(0),
        Some(v) => Duration::from_json("lateness", &v)?,
    };
    if matches!(lateness, Duration::Count(n) | Duration::Time { nanos: n } if n < 0) {
        return Err(SashError::spec(format!("'lateness' must not be negative, got {lateness}")));
    }
    let max_state_bytes = match take("max_state_bytes") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| SashError::spec(format!("'max_state_bytes' must be a whole number of bytes, got {v}")))?,
        ),
    };
    Ok((lateness, max_state_bytes))
}

/// `batch` with the first push's schema (names, types, nullability and
/// metadata); a push of other column names or types is an error.
pub(crate) fn conform_push(first: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let same_columns = batch.schema().fields().len() == first.fields().len()
        && batch.schema().fields().iter().zip(first.fields()).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if !same_columns {
        return Err(SashError::InvalidInput(format!(
            "a push must have the schema of the first push: expected {:?}, got {:?}",
            first.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>(),
            batch.schema().fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
        )));
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(first.clone(), batch.columns().to_vec(), &options)
        .map_err(|e| SashError::InvalidInput(format!("a push does not fit the schema of the first push: {e}")))
}

/// A watermark given as a one-value Arrow array, in ticks of the time
/// column: a timestamp (any unit and zone), a date, a string or an integer
/// (ticks), converted to the time column's type as an Arrow cast converts
/// it. Before the first push fixes that type (`time` None), only an integer.
pub(crate) fn watermark_ticks(time: Option<&TimeColumn>, watermark: &dyn Array) -> Result<i64> {
    if watermark.len() != 1 || watermark.null_count() != 0 {
        return Err(SashError::InvalidInput(format!("a watermark is one value, not null; got {} values", watermark.len())));
    }
    let array = arrow_array::make_array(watermark.to_data());
    let ticks = match time {
        None if watermark.data_type().is_integer() => arrow_cast::cast(&array, &arrow_schema::DataType::Int64)
            .ok()
            .filter(|cast| cast.is_valid(0))
            .map(|cast| cast.as_primitive::<arrow_array::types::Int64Type>().value(0)),
        None => {
            return Err(SashError::InvalidInput(format!(
                "a watermark of type {} needs the time column's type, which the first push fixes: push first, or give ticks (an integer)",
                watermark.data_type()
            )))
        }
        Some(time) => {
            // Not `safe`: a value the cast cannot convert is an error, not a null.
            let options = arrow_cast::CastOptions { safe: false, ..Default::default() };
            let cast = arrow_cast::cast_with_options(&array, &time.data_type, &options).map_err(|_| {
                SashError::wrong_type("watermark", format!("a value of the time column's type {}", time.data_type), watermark.data_type())
            })?;
            cast.is_valid(0).then(|| time.values(&cast)[0])
        }
    };
    ticks.ok_or_else(|| SashError::InvalidInput(format!("the watermark does not fit the time column's ticks ({})", watermark.data_type())))
}

const MAGIC: &[u8] = b"SASHSNAP";

/// What every stream's snapshot holds besides its sections.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    /// `window_stream` or `rolling_stream`.
    pub kind: &'static str,
    /// The spec as given (with `lateness` and `max_state_bytes`).
    pub spec: serde_json::Value,
    pub watermark: Option<i64>,
    pub rows_in: u64,
    pub rows_late: u64,
    pub null_times_dropped: u64,
    pub finished: bool,
}

/// A snapshot: `SASHSNAP`, the format version (u32, little-endian; each
/// kind of stream numbers its own), then sections, each a u64 length and
/// its bytes: the metadata as JSON, then the stream's own (Arrow IPC
/// streams, or empty).
pub(crate) fn write(meta: &Meta, version: u32, sections: &[Vec<u8>]) -> Vec<u8> {
    let json = serde_json::json!({
        "kind": meta.kind,
        "spec": meta.spec,
        "watermark": meta.watermark,
        "rows_in": meta.rows_in,
        "rows_late": meta.rows_late,
        "null_times_dropped": meta.null_times_dropped,
        "finished": meta.finished,
    });
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    for body in std::iter::once(&json.to_string().into_bytes()).chain(sections) {
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}

/// The error for a snapshot of `kind` that is not valid.
pub(crate) fn corrupt(kind: &str, what: &str) -> SashError {
    let name = if kind == "rolling_stream" { "RollingStream" } else { "WindowStream" };
    SashError::InvalidInput(format!("not a valid {name} snapshot: {what}"))
}

/// Reads a snapshot of `kind` in one of the format `versions` this sash
/// reads, each given with its number of sections after the metadata; every
/// length is checked against the bytes there are.
pub(crate) fn read<'a>(bytes: &'a [u8], kind: &'static str, versions: &[(u32, usize)]) -> Result<(Meta, u32, Vec<&'a [u8]>)> {
    let corrupt = |what: &str| corrupt(kind, what);
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| corrupt("it does not start with SASHSNAP"))?;
    let (version, mut rest) = rest.split_at_checked(4).ok_or_else(|| corrupt("it is cut short"))?;
    let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
    // Sections up to the end; their number is checked once the kind and version are known.
    let mut sections = Vec::new();
    while !rest.is_empty() {
        let (len, after) = rest.split_at_checked(8).ok_or_else(|| corrupt("it is cut short"))?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes"))).map_err(|_| corrupt("a section length"))?;
        let (body, after) = after.split_at_checked(len).ok_or_else(|| corrupt("it is cut short"))?;
        sections.push(body);
        rest = after;
    }
    if sections.is_empty() {
        return Err(corrupt("it is cut short"));
    }
    let json: serde_json::Value = serde_json::from_slice(sections.remove(0)).map_err(|e| corrupt(&format!("its metadata: {e}")))?;
    if json["kind"] != kind {
        return Err(corrupt(&format!("it is of a {}, not of a {kind}", json["kind"])));
    }
    let Some(&(_, n)) = versions.iter().find(|&&(v, _)| v == version) else {
        let known: Vec<String> = versions.iter().map(|(v, _)| v.to_string()).collect();
        return Err(corrupt(&format!("format version {version}; this sash reads version {}", known.join(" or "))));
    };
    if sections.len() != n {
        return Err(corrupt(&format!("it has {} sections after its metadata where version {version} has {n}", sections.len())));
    }
    let field = |key: &str| json.get(key).ok_or_else(|| corrupt(&format!("its metadata has no '{key}'")));
    let count = |key: &str| field(key)?.as_u64().ok_or_else(|| corrupt(&format!("'{key}' is not a count")));
    let meta = Meta {
        kind,
        spec: field("spec")?.clone(),
        watermark: match field("watermark")? {
            serde_json::Value::Null => None,
            w => Some(w.as_i64().ok_or_else(|| corrupt("'watermark' is not an integer"))?),
        },
        rows_in: count("rows_in")?,
        rows_late: count("rows_late")?,
        null_times_dropped: count("null_times_dropped")?,
        finished: field("finished")?.as_bool().ok_or_else(|| corrupt("'finished' is not a boolean"))?,
    };
    Ok((meta, version, sections))
}

/// An Arrow IPC stream of `schema` and `batches`.
pub(crate) fn ipc_stream(schema: &SchemaRef, batches: &[&RecordBatch]) -> Result<Vec<u8>> {
    // Room for the whole stream up front: growing a large one by doubling copies it over and over.
    let room = batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 4096;
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::with_capacity(room), schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner()?)
}

/// Reads an Arrow IPC stream of untrusted bytes. arrow-ipc panics on some
/// corrupted buffers (slicing past a buffer's end) instead of returning an
/// error; such a panic is caught here and reported as what it is, a corrupt
/// input.
pub(crate) fn read_ipc(bytes: &[u8]) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), arrow_schema::ArrowError> {
    std::panic::catch_unwind(|| read_ipc_unguarded(bytes))
        .unwrap_or_else(|_| Err(arrow_schema::ArrowError::IpcError("a buffer lies outside the message".into())))
}

fn read_ipc_unguarded(bytes: &[u8]) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), arrow_schema::ArrowError> {
    check_message_lengths(bytes)?;
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    for column in batches.iter().flat_map(|b| b.columns()) {
        column.to_data().validate_full()?;
    }
    Ok((schema, batches))
}

/// Checks every message of an IPC stream against the bytes there are:
/// arrow-ipc allocates what a message header declares before reading it, so
/// a corrupted length would ask for petabytes (an abort, not an error).
fn check_message_lengths(bytes: &[u8]) -> std::result::Result<(), arrow_schema::ArrowError> {
    let bad = |what: &str| arrow_schema::ArrowError::IpcError(format!("a message {what}"));
    let word = |at: usize| -> std::result::Result<u32, arrow_schema::ArrowError> {
        let four = bytes.get(at..at + 4).ok_or_else(|| bad("is cut short"))?;
        Ok(u32::from_le_bytes(four.try_into().expect("4 bytes")))
    };
    let mut at = 0;
    while at < bytes.len() {
        let mut length = word(at)?;
        at += 4;
        if length == u32::MAX {
            length = word(at)?;
            at += 4;
        }
        if length == 0 {
            return Ok(());
        }
        let end = at.checked_add(length as usize).filter(|&end| end <= bytes.len()).ok_or_else(|| bad("header runs past the end"))?;
        let message = arrow_ipc::root_as_message(&bytes[at..end]).map_err(|e| bad(&format!("header is invalid: {e}")))?;
        let body = u64::try_from(message.bodyLength()).map_err(|_| bad("body length is negative"))?;
        // Every buffer of a record batch lies inside the body (arrow-ipc
        // slices them without asking).
        let batch = message.header_as_record_batch().or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
        for buffer in batch.and_then(|b| b.buffers()).into_iter().flatten() {
            let (offset, length) = (u64::try_from(buffer.offset()), u64::try_from(buffer.length()));
            let inside = matches!((offset, length), (Ok(o), Ok(l)) if o.checked_add(l).is_some_and(|e| e <= body));
            if !inside {
                return Err(bad("buffer lies outside its body"));
            }
        }
        at = usize::try_from(body)
            .ok()
            .and_then(|body| end.checked_add(body))
            .filter(|&next| next <= bytes.len())
            .ok_or_else(|| bad("body runs past the end"))?;
    }
    Ok(())
}
