//! `WindowStream`: tumbling, hopping and session windows over input that
//! never stops arriving, emitted as event time passes (docs/semantics.md,
//! "Streaming").
//!
//! Two engines hold the open state: tumbling and hopping windows keep pane
//! states across pushes (`panes`), so that a push costs what its own rows
//! and the windows it closes cost; sessions, whose windows only the rows
//! can bound, keep their states as one Arrow batch that each push merges
//! into (`sessions`). Either way nothing pins an input batch, and a push
//! changes the stream only once everything that can fail has succeeded.

mod panes;
mod sessions;

use super::grid::Grid;
use crate::error::Result;
use crate::exec::grouper::valid_bounds;
use crate::exec::prepare::{Columns, Prepared};
use crate::exec::snapshot::{self, Progress, StreamStats};
use crate::exec::time::TimeColumn;
use crate::spec::duration::Duration;
use crate::spec::{NullTime, WindowKind, WindowSpec, DROPPED_NULL_TIMES_KEY};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::filter::filter_record_batch;
use panes::PaneEngine;
use sessions::SessionEngine;

/// The snapshot format version `snapshot` writes. Version 1 held each open
/// window's state; version 2 holds a tumbling or hopping stream's pane
/// states (a tumbling pane is its window, so only hopping streams differ)
/// and adds a section for the hopping windows a version-1 snapshot carried.
const FORMAT: u32 = 2;

/// What the first push fixes: the input schema and the windows in its ticks.
#[derive(Debug)]
struct Fixed {
    schema: SchemaRef,
    /// A batch of the input schema without rows (a push's late rows, mostly).
    no_rows: RecordBatch,
    time: TimeColumn,
    lateness: i64,
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    Panes(Box<PaneEngine>),
    Sessions(SessionEngine),
}

/// Tumbling, hopping and session windows over a stream of batches; see the module docs.
#[derive(Debug)]
pub struct WindowStream {
    /// The spec as given (with `lateness`), kept verbatim for snapshots.
    spec_json: serde_json::Value,
    spec: WindowSpec,
    lateness: Duration,
    fixed: Option<Fixed>,
    progress: Progress,
    /// A push that would leave more state than this fails instead.
    max_state_bytes: Option<usize>,
}

impl WindowStream {
    /// A stream for `spec` (as `window_agg` takes it), waiting `lateness`
    /// past the largest time seen before it closes a window.
    fn new(spec_json: serde_json::Value, spec: WindowSpec, lateness: Duration) -> Result<WindowStream> {
        spec.validate()?;
        Ok(WindowStream { spec_json, spec, lateness, fixed: None, progress: Progress::default(), max_state_bytes: None })
    }

    /// A stream from a JSON window spec with an optional `"lateness"` key.
    pub fn from_json(text: &str) -> Result<WindowStream> {
        let spec_json = crate::spec::parse_json(text)?;
        let mut value = spec_json.clone();
        let (lateness, max_state_bytes) = snapshot::take_stream_options(&mut value)?;
        let mut stream = WindowStream::new(spec_json, WindowSpec::from_value(&value)?, lateness)?;
        stream.max_state_bytes = max_state_bytes;
        Ok(stream)
    }

    /// The whole state as bytes: `restore` rebuilds the stream from them, in
    /// this process or another, in any language. Equal states give equal bytes.
    ///
    /// The layout: `SASHSNAP`, the format version (u32, little-endian), then
    /// four sections, each a u64 length and its bytes: the metadata (JSON:
    /// the spec as given, watermark, counters), the input (an Arrow IPC
    /// stream: the input schema and the late rows not yet taken), the open
    /// states (an Arrow IPC stream of one batch: the keys, `window_start`,
    /// `window_end` — a pane's bounds for tumbling and hopping windows, a
    /// session's for sessions — and the aggregation states), and the open
    /// windows a version-1 snapshot carried (the same columns, windows'
    /// bounds; no rows unless restored from version 1).
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let meta = self.progress.meta("window_stream", &self.spec_json);
        let sections = match &self.fixed {
            Some(fixed) => {
                let (open, carried) = match &fixed.engine {
                    Engine::Panes(engine) => (engine.states(false)?, engine.states(true)?),
                    Engine::Sessions(engine) => {
                        let open = engine.states().clone();
                        let carried = RecordBatch::new_empty(open.schema());
                        (open, carried)
                    }
                };
                vec![
                    self.progress.input_section(&fixed.schema)?,
                    snapshot::ipc_stream(&open.schema(), &[&open])?,
                    snapshot::ipc_stream(&carried.schema(), &[&carried])?,
                ]
            }
            None => vec![Vec::new(), Vec::new(), Vec::new()],
        };
        Ok(snapshot::write(&meta, FORMAT, &sections))
    }

    /// The stream a `snapshot` was taken of. Bytes that are not a snapshot,
    /// are cut short or corrupted, or come from a later format are an error.
    pub fn restore(bytes: &[u8]) -> Result<WindowStream> {
        let corrupt = |what: &str| snapshot::corrupt("window_stream", what);
        let (meta, version, sections) = snapshot::read(bytes, "window_stream", &[(1, 2), (FORMAT, 3)])?;
        let (input, open, carried) = (sections[0], sections[1], sections.get(2).copied().unwrap_or_default());
        let mut stream = WindowStream::from_json(&meta.spec.to_string())?;
        stream.progress = Progress::from_snapshot(&meta, Vec::new());
        if input.is_empty() != open.is_empty() || (version > 1 && input.is_empty() != carried.is_empty()) {
            return Err(corrupt("it has an input schema without open windows, or the reverse"));
        }
        if input.is_empty() {
            return Ok(stream);
        }
        let one_batch = |section: &[u8], what: &str| -> Result<RecordBatch> {
            let (_, batches) = snapshot::read_ipc(section).map_err(|e| corrupt(&format!("its {what}: {e}")))?;
            <[RecordBatch; 1]>::try_from(batches).map(|[b]| b).map_err(|_| corrupt(&format!("its {what} are not one batch")))
        };
        let (schema, late) = snapshot::read_ipc(input).map_err(|e| corrupt(&format!("its input section: {e}")))?;
        let mut fixed = stream.fix(schema)?;
        let open = one_batch(open, "open windows")?;
        match &mut fixed.engine {
            Engine::Panes(engine) => {
                // Version 1 held hopping windows whole; a tumbling window is its pane.
                let whole_windows = version == 1 && matches!(stream.spec.kind, WindowKind::Hopping { .. });
                engine.load(&open, whole_windows)?;
                if version > 1 {
                    engine.load(&one_batch(carried, "carried windows")?, true)?;
                }
            }
            Engine::Sessions(_) => {
                if version > 1 && one_batch(carried, "carried windows")?.num_rows() > 0 {
                    return Err(corrupt("a session stream carries no whole windows"));
                }
                // The merge checks every column and value of the states against the spec.
                fixed.engine = Engine::Sessions(SessionEngine::load(&fixed.schema, &stream.spec, fixed.time.clone(), open)?);
            }
        }
        stream.progress = Progress::from_snapshot(&meta, late);
        stream.fixed = Some(fixed);
        Ok(stream)
    }

    /// The watermark in ticks of the time column; None before any time was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.progress.watermark
    }

    pub fn stats(&self) -> StreamStats {
        let (open_windows, bytes) = match self.fixed.as_ref().map(|f| &f.engine) {
            Some(Engine::Panes(engine)) => (engine.open_states(), engine.state_bytes()),
            Some(Engine::Sessions(engine)) => (engine.open_states(), engine.state_bytes()),
            None => (0, 0),
        };
        StreamStats { open_windows, state_bytes: bytes + self.progress.late_bytes(None), ..self.progress.stats }
    }

    /// Takes rows: returns the windows this push closed (possibly none), in
    /// `window_agg`'s columns and order. Atomic: on error nothing changed.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let (mut fixed, was_fixed) = match self.fixed.take() {
            Some(fixed) => (fixed, true),
            None => (self.fix(batch.schema())?, false),
        };
        let result = self.push_into(&mut fixed, batch);
        // A first push that failed fixes nothing.
        if result.is_ok() || was_fixed {
            self.fixed = Some(fixed);
        }
        result
    }

    fn push_into(&mut self, fixed: &mut Fixed, batch: &RecordBatch) -> Result<RecordBatch> {
        let batch = snapshot::conform_push(&fixed.schema, batch)?;
        // Late rows (all their windows emitted; sessions: before the
        // watermark) are judged against the watermark of the pushes before
        // this one.
        let times = batch.column(fixed.time.index);
        let ticks = fixed.time.values(times);
        let nulls = times.logical_nulls().filter(|n| n.null_count() > 0);
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        let (smallest, largest) = valid_bounds(&ticks, nulls.as_ref()).unzip();
        let previous = self.progress.watermark;
        // Which rows are late, when some may be: no row at or after `on_time_from` is.
        let on_time_from = match &fixed.engine {
            Engine::Panes(engine) => engine.first_on_time(previous),
            Engine::Sessions(_) => previous.map_or(i128::MIN, i128::from),
        };
        let late_rows: Option<Vec<bool>> = smallest.filter(|&t| (t as i128) < on_time_from).map(|_| {
            let late = |t: i64| {
                (t as i128) < on_time_from
                    && match &fixed.engine {
                        Engine::Panes(engine) => engine.is_late(t, previous),
                        Engine::Sessions(_) => true,
                    }
            };
            (0..ticks.len()).map(|i| valid(i) && late(ticks[i])).collect()
        });
        let (late, on_time) = match late_rows.filter(|rows| rows.contains(&true)) {
            None => (fixed.no_rows.clone(), batch.clone()),
            Some(rows) => (
                filter_record_batch(&batch, &BooleanArray::from(rows.clone()))?,
                filter_record_batch(&batch, &rows.iter().map(|&l| Some(!l)).collect::<BooleanArray>())?,
            ),
        };
        let watermark = self.progress.after_push(largest, fixed.lateness);
        let first_position = self.progress.stats.rows_in;
        let advice = "take late rows, use approx_ aggregations for long windows, or raise the limit";

        let (emitted, dropped) = match &mut fixed.engine {
            Engine::Panes(engine) => {
                let columns = Columns::resolve(&fixed.schema, &[], &self.spec.time, &self.spec.by)?;
                let input =
                    Prepared::new(&fixed.schema, std::slice::from_ref(&on_time), columns, self.spec.null_time, &self.spec.aggs, false)?;
                let fresh = engine.fold(&input.batches, first_position)?;
                if self.max_state_bytes.is_some() {
                    let after = engine.bytes_after(&fresh, watermark) + self.progress.late_bytes(Some(&late));
                    if let Err(e) = Progress::check_limit(self.max_state_bytes, after, advice) {
                        engine.discard(fresh);
                        return Err(e);
                    }
                }
                engine.commit(fresh)?;
                let dropped = input.dropped_null_times as u64;
                let metadata = self.output_metadata(dropped);
                (engine.emit(previous, watermark, false, metadata)?, dropped)
            }
            Engine::Sessions(engine) => {
                let (merged, dropped) = engine.fold(&self.spec, &on_time, first_position)?;
                let (emitted, open) = engine.split_closed(&self.spec, merged, watermark, false)?;
                let state_bytes = open.get_array_memory_size() + self.progress.late_bytes(Some(&late));
                Progress::check_limit(self.max_state_bytes, state_bytes, advice)?;
                engine.commit(open);
                (emitted, dropped)
            }
        };
        self.progress.commit_push(batch.num_rows(), late, dropped, watermark);
        Ok(emitted)
    }

    /// What `window_agg` puts on its output: the null times it dropped (all so far, and `more`).
    fn output_metadata(&self, more: u64) -> std::collections::HashMap<String, String> {
        let mut metadata = std::collections::HashMap::new();
        if self.spec.null_time == NullTime::Drop {
            metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), (self.progress.stats.null_times_dropped + more).to_string());
        }
        metadata
    }

    /// Moves the watermark to `watermark` (ticks of the time column) if that
    /// is later, and returns the windows it closed.
    pub fn advance(&mut self, watermark: i64) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let new = self.progress.advanced(watermark);
        let emitted = self.emit(new, false)?;
        self.progress.watermark = new;
        Ok(emitted)
    }

    /// [`advance`](Self::advance) to a watermark given as a one-value Arrow
    /// array: a timestamp (any unit and zone), a date, or an integer (ticks),
    /// converted to the time column's type as an Arrow cast converts it.
    /// Before the first push fixes that type, only an integer is taken.
    pub fn advance_to(&mut self, watermark: &dyn Array) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let ticks = snapshot::watermark_ticks(self.fixed.as_ref().map(|f| &f.time), watermark)?;
        self.advance(ticks)
    }

    /// End of input: every open window is emitted; later pushes are an error.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let out = self.emit(self.progress.watermark, true)?;
        self.progress.finished = true;
        Ok(out)
    }

    /// Emits the windows closed under `watermark` (every one with `all`).
    fn emit(&mut self, watermark: Option<i64>, all: bool) -> Result<RecordBatch> {
        let metadata = self.output_metadata(0);
        let previous = self.progress.watermark;
        match self.fixed.as_mut().map(|f| &mut f.engine) {
            // No schema yet: nothing to emit.
            None => Ok(RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty()))),
            Some(Engine::Panes(engine)) => engine.emit(previous, watermark, all, metadata),
            Some(Engine::Sessions(engine)) => {
                let (emitted, open) = engine.split_closed(&self.spec, engine.states().clone(), watermark, all)?;
                engine.commit(open);
                Ok(emitted)
            }
        }
    }

    /// The rows that came too late to count in any window, with their input
    /// columns, in arrival order; taking them clears them.
    pub fn take_late(&mut self) -> Result<RecordBatch> {
        self.progress.take_late(self.fixed.as_ref().map(|f| &f.schema))
    }

    /// The fixed part, from the first push's schema, with an empty engine.
    fn fix(&self, schema: SchemaRef) -> Result<Fixed> {
        let time = TimeColumn::resolve(&schema, &self.spec.time)?;
        let offset = self.spec.offset.map(|o| time.ticks("offset", o)).transpose()?.unwrap_or(0);
        let grid = |every, period| Grid::new(time.ticks("every", every)?, time.ticks("period", period)?, offset, self.spec.closed);
        let engine = match self.spec.kind {
            WindowKind::Tumbling { every } => {
                Engine::Panes(Box::new(PaneEngine::new(&schema, &self.spec, time.clone(), grid(every, every)?)?))
            }
            WindowKind::Hopping { every, period } => {
                Engine::Panes(Box::new(PaneEngine::new(&schema, &self.spec, time.clone(), grid(every, period)?)?))
            }
            WindowKind::Session { gap } => {
                // Checked here, as for grids: a gap the time column cannot hold is an error at the first push.
                time.ticks("session_gap", gap)?;
                Engine::Sessions(SessionEngine::new(&schema, &self.spec, time.clone())?)
            }
        };
        let lateness = match self.lateness {
            Duration::Count(0) => 0,
            lateness => time.ticks("lateness", lateness)?,
        };
        Ok(Fixed { no_rows: RecordBatch::new_empty(schema.clone()), schema, time, lateness, engine })
    }
}

#[cfg(test)]
mod tests;
