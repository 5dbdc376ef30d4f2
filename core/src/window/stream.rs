//! `WindowStream`: tumbling, hopping and session windows over input that
//! never stops arriving, emitted as event time passes (docs/semantics.md,
//! "Streaming").
//!
//! The state is the open windows' aggregation states as one plain Arrow
//! batch (the two-phase format of `two_phase`): a push aggregates its rows
//! into states (`window_agg_partial`), drops the states of windows already
//! emitted, merges the rest into the open ones (`window_agg_merge_states`),
//! moves the watermark, and emits the windows it closed
//! (`window_agg_merge`). Nothing pins an input batch, and a push changes the
//! stream only once everything it computes has succeeded.

use super::grid::Grid;
use super::two_phase::{window_agg_merge, window_agg_merge_states, window_agg_partial};
use crate::error::{Result, SashError};
use crate::exec::snapshot::{self, Progress, StreamStats};
use crate::exec::time::TimeColumn;
use crate::spec::duration::Duration;
use crate::spec::{Closed, WindowKind, WindowSpec, DROPPED_NULL_TIMES_KEY};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::filter::filter_record_batch;

/// What the first push fixes: the input schema and the windows in its ticks.
#[derive(Debug, Clone)]
struct Fixed {
    schema: SchemaRef,
    time: TimeColumn,
    windows: Windows,
    lateness: i64,
}

#[derive(Debug, Clone)]
enum Windows {
    Grid(Grid),
    /// Sessions end at their last time + the gap (ticks).
    Session,
}

/// Tumbling, hopping and session windows over a stream of batches; see the module docs.
#[derive(Debug, Clone)]
pub struct WindowStream {
    /// The spec as given (with `lateness`), kept verbatim for snapshots.
    spec_json: serde_json::Value,
    spec: WindowSpec,
    lateness: Duration,
    fixed: Option<Fixed>,
    /// The open windows' states, one row per (keys, window).
    open: Option<RecordBatch>,
    progress: Progress,
    /// A push that would leave more state than this fails instead.
    max_state_bytes: Option<usize>,
}

impl WindowStream {
    /// A stream for `spec` (as `window_agg` takes it), waiting `lateness`
    /// past the largest time seen before it closes a window.
    fn new(spec_json: serde_json::Value, spec: WindowSpec, lateness: Duration) -> Result<WindowStream> {
        spec.validate()?;
        Ok(WindowStream { spec_json, spec, lateness, fixed: None, open: None, progress: Progress::default(), max_state_bytes: None })
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
    /// three sections, each a u64 length and its bytes: the metadata (JSON:
    /// the spec as given, watermark, counters), the input (an Arrow IPC
    /// stream: the input schema and the late rows not yet taken), and the
    /// open windows (an Arrow IPC stream of one state batch).
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let meta = self.progress.meta("window_stream", &self.spec_json);
        let sections = match &self.fixed {
            Some(fixed) => {
                let open = self.open.as_ref().expect("a fixed stream has a state");
                vec![self.progress.input_section(&fixed.schema)?, snapshot::ipc_stream(&open.schema(), &[open])?]
            }
            None => vec![Vec::new(), Vec::new()],
        };
        Ok(snapshot::write(&meta, &sections))
    }

    /// The stream a `snapshot` was taken of. Bytes that are not a snapshot,
    /// are cut short or corrupted, or come from a later format are an error.
    pub fn restore(bytes: &[u8]) -> Result<WindowStream> {
        let corrupt = |what: &str| snapshot::corrupt("window_stream", what);
        let (meta, sections) = snapshot::read(bytes, "window_stream", 2)?;
        let (input, open) = (sections[0], sections[1]);
        let mut stream = WindowStream::from_json(&meta.spec.to_string())?;
        stream.progress = Progress::from_snapshot(&meta, Vec::new());
        if input.is_empty() != open.is_empty() {
            return Err(corrupt("it has an input schema without open windows, or the reverse"));
        }
        if input.is_empty() {
            return Ok(stream);
        }
        let (schema, late) = snapshot::read_ipc(input).map_err(|e| corrupt(&format!("its input section: {e}")))?;
        let fixed = stream.fix(schema)?;
        let (_, states) = snapshot::read_ipc(open).map_err(|e| corrupt(&format!("its open windows: {e}")))?;
        let [states] = <[RecordBatch; 1]>::try_from(states).map_err(|_| corrupt("its open windows are not one batch"))?;
        // The merge checks every column and value of the states against the spec.
        stream.open = Some(window_agg_merge_states(&fixed.schema, &stream.spec, &[states])?);
        stream.progress = Progress::from_snapshot(&meta, late);
        stream.fixed = Some(fixed);
        Ok(stream)
    }

    /// The watermark in ticks of the time column; None before any time was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.progress.watermark
    }

    pub fn stats(&self) -> StreamStats {
        let open_windows = self.open.as_ref().map_or(0, |b| b.num_rows());
        let state_bytes = self.open.as_ref().map_or(0, RecordBatch::get_array_memory_size) + self.progress.late_bytes(None);
        StreamStats { open_windows, state_bytes, ..self.progress.stats }
    }

    /// Takes rows: returns the windows this push closed (possibly none), in
    /// `window_agg`'s columns and order. Atomic: on error nothing changed.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let fixed = self.fix(batch.schema())?;
        let batch = snapshot::conform_push(&fixed.schema, batch)?;
        // Late rows (all their windows emitted; sessions: before the
        // watermark) are judged against the watermark of the pushes before
        // this one.
        let times = batch.column(fixed.time.index);
        let ticks = fixed.time.values(times);
        let mut late_rows = Vec::with_capacity(batch.num_rows());
        for (i, &t) in ticks.iter().enumerate() {
            let late = times.is_valid(i) && self.is_late(&fixed, t);
            late_rows.push(late);
        }
        let late = filter_record_batch(&batch, &BooleanArray::from(late_rows.clone()))?;
        let on_time = filter_record_batch(&batch, &late_rows.iter().map(|&l| Some(!l)).collect::<BooleanArray>())?;

        let partial = window_agg_partial(&fixed.schema, std::slice::from_ref(&on_time), &self.spec, self.progress.stats.rows_in)?;
        let dropped = dropped_null_times(&partial)?;
        // States of windows already emitted: their rows count in the open windows only.
        let partial = self.without_emitted(&fixed, partial)?;
        let merged = match &self.open {
            Some(open) => window_agg_merge_states(&fixed.schema, &self.spec, &[open.clone(), partial])?,
            None => window_agg_merge_states(&fixed.schema, &self.spec, &[partial])?,
        };
        let largest = ticks.iter().enumerate().filter(|&(i, _)| times.is_valid(i)).map(|(_, &t)| t).max();
        let watermark = self.progress.after_push(largest, fixed.lateness);
        let (emitted, open) = self.split_closed(&fixed, merged, watermark, false)?;
        let state_bytes = open.get_array_memory_size() + self.progress.late_bytes(Some(&late));
        let advice = "take late rows, use approx_ aggregations for long windows, or raise the limit";
        Progress::check_limit(self.max_state_bytes, state_bytes, advice)?;

        // Nothing failed: commit.
        self.progress.commit_push(batch.num_rows(), late, dropped, watermark);
        self.open = Some(open);
        self.fixed = Some(fixed);
        Ok(emitted)
    }

    /// Moves the watermark to `watermark` (ticks of the time column) if that
    /// is later, and returns the windows it closed.
    pub fn advance(&mut self, watermark: i64) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let new = self.progress.advanced(watermark);
        let Some(fixed) = self.fixed.clone() else {
            // No schema yet: nothing to emit; the watermark still moves.
            self.progress.watermark = new;
            return Ok(RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty())));
        };
        let merged = self.open.clone().expect("a fixed stream has a state");
        let (emitted, open) = self.split_closed(&fixed, merged, new, false)?;
        self.open = Some(open);
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
        let out = match (self.fixed.clone(), self.open.clone()) {
            (Some(fixed), Some(open)) => {
                let (emitted, rest) = self.split_closed(&fixed, open, self.progress.watermark, true)?;
                self.open = Some(rest);
                emitted
            }
            _ => RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty())),
        };
        self.progress.finished = true;
        Ok(out)
    }

    /// The rows that came too late to count in any window, with their input
    /// columns, in arrival order; taking them clears them.
    pub fn take_late(&mut self) -> Result<RecordBatch> {
        self.progress.take_late(self.fixed.as_ref().map(|f| &f.schema))
    }

    /// The fixed part, from the first push's schema (or as fixed before).
    fn fix(&self, schema: SchemaRef) -> Result<Fixed> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let time = TimeColumn::resolve(&schema, &self.spec.time)?;
        let offset = self.spec.offset.map(|o| time.ticks("offset", o)).transpose()?.unwrap_or(0);
        let grid = |every, period| Grid::new(time.ticks("every", every)?, time.ticks("period", period)?, offset, self.spec.closed);
        let windows = match self.spec.kind {
            WindowKind::Tumbling { every } => Windows::Grid(grid(every, every)?),
            WindowKind::Hopping { every, period } => Windows::Grid(grid(every, period)?),
            WindowKind::Session { gap } => {
                // Checked here, as for grids: a gap the time column cannot hold is an error at the first push.
                time.ticks("session_gap", gap)?;
                Windows::Session
            }
        };
        let lateness = match self.lateness {
            Duration::Count(0) => 0,
            lateness => time.ticks("lateness", lateness)?,
        };
        Ok(Fixed { schema, time, windows, lateness })
    }

    /// Whether a row at time `t` is late: grid windows, when every window
    /// holding it was emitted (a time in no window never is); sessions, when
    /// it is before the watermark.
    fn is_late(&self, fixed: &Fixed, t: i64) -> bool {
        match &fixed.windows {
            Windows::Grid(grid) => {
                let pane = grid.pane_of(t);
                grid.in_some_window(pane) && self.emitted(fixed, grid.window_span(grid.windows_of(pane).1).1)
            }
            Windows::Session => self.progress.watermark.is_some_and(|w| t < w),
        }
    }

    /// Whether the window ending at `end` is closed under `watermark`: no
    /// row that is not late could still fall in it (or, for a session,
    /// extend it).
    fn closed_at(fixed: &Fixed, end: i128, watermark: Option<i64>) -> bool {
        let includes_end = matches!(&fixed.windows, Windows::Grid(grid) if matches!(grid.closed, Closed::Right | Closed::Both));
        watermark.is_some_and(|w| if includes_end { w as i128 > end } else { w as i128 >= end })
    }

    fn emitted(&self, fixed: &Fixed, end: i128) -> bool {
        Self::closed_at(fixed, end, self.progress.watermark)
    }

    fn window_ends(fixed: &Fixed, states: &RecordBatch) -> Vec<i64> {
        let n_keys = states.num_columns() - fixed_state_columns(states);
        fixed.time.values(states.column(n_keys + 1)).into_owned()
    }

    /// The states of windows not yet emitted. (A session of rows on time
    /// is never one emitted: it starts at or after the watermark.)
    fn without_emitted(&self, fixed: &Fixed, partial: RecordBatch) -> Result<RecordBatch> {
        let keep: BooleanArray = Self::window_ends(fixed, &partial).iter().map(|&end| Some(!self.emitted(fixed, end as i128))).collect();
        Ok(filter_record_batch(&partial, &keep)?)
    }

    /// Splits states into the windows closed under `watermark` (or all, at
    /// the end), merged into results, and the ones still open.
    fn split_closed(&self, fixed: &Fixed, states: RecordBatch, watermark: Option<i64>, all: bool) -> Result<(RecordBatch, RecordBatch)> {
        let closed: Vec<bool> =
            Self::window_ends(fixed, &states).iter().map(|&end| all || Self::closed_at(fixed, end as i128, watermark)).collect();
        let done = filter_record_batch(&states, &BooleanArray::from(closed.clone()))?;
        let open = filter_record_batch(&states, &closed.iter().map(|&c| Some(!c)).collect::<BooleanArray>())?;
        let emitted = window_agg_merge(&fixed.schema, &self.spec, &[done])?;
        Ok((emitted, open))
    }
}

/// The number of columns after the keys in a state batch: the state's own,
/// plus `window_start` and `window_end`.
fn fixed_state_columns(states: &RecordBatch) -> usize {
    let schema = states.schema();
    let start = schema.index_of("window_start").expect("a state batch has window_start");
    states.num_columns() - start
}

fn dropped_null_times(partial: &RecordBatch) -> Result<u64> {
    match partial.schema().metadata().get(DROPPED_NULL_TIMES_KEY) {
        Some(n) => n.parse().map_err(|_| SashError::InvalidInput(format!("invalid {DROPPED_NULL_TIMES_KEY}: {n}"))),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema, SortOptions};
    use arrow_select::concat::concat_batches;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn events(rng: &mut StdRng, rows: usize, disorder: i64) -> RecordBatch {
        let mut t = 0i64;
        let mut ts = Vec::new();
        for _ in 0..rows {
            t += rng.random_range(0..4);
            ts.push((t - rng.random_range(0..=disorder)).max(0));
        }
        let keys: Vec<Option<&str>> = (0..rows).map(|_| [Some("a"), Some("b"), None][rng.random_range(0..3)]).collect();
        let values: Vec<Option<f64>> =
            (0..rows).map(|_| if rng.random_range(0..8) == 0 { None } else { Some(rng.random_range(-50..50) as f64) }).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Int64, false),
            Field::new("key", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
        ]));
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Int64Array::from(ts)), Arc::new(StringArray::from(keys)), Arc::new(Float64Array::from(values))];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Rows sorted as `window_agg` sorts them: window start, keys, window end.
    fn sorted(batch: &RecordBatch) -> RecordBatch {
        let columns = ["window_start", "key", "window_end"]
            .iter()
            .map(|name| arrow_ord::sort::SortColumn {
                values: batch.column_by_name(name).unwrap().clone(),
                options: Some(SortOptions { descending: false, nulls_first: false }),
            })
            .collect::<Vec<_>>();
        let order = arrow_ord::sort::lexsort_to_indices(&columns, None).unwrap();
        let columns = batch.columns().iter().map(|c| arrow_select::take::take(c, &order, None).unwrap()).collect();
        RecordBatch::try_new(batch.schema(), columns).unwrap()
    }

    const AGGS: &str = r#"["count() as n", "sum(v) as s", "min(v) as lo", "max(v) as hi", "first(v) as f", "last(v) as l", "median(v) as med", "count_distinct(v) as cd", "max_by(key, v) as mb"]"#;

    #[test]
    fn pushes_of_any_split_within_lateness_emit_what_window_agg_gives() {
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..200 {
            let disorder = rng.random_range(0..6);
            let rows = rng.random_range(0..300);
            let input = events(&mut rng, rows, disorder);
            let window = match rng.random_range(0..3) {
                0 => r#""every": 10"#.to_string(),
                1 => r#""every": 4, "period": 10"#.to_string(),
                _ => format!(r#""session_gap": {}"#, rng.random_range(1..8)),
            };
            let closed =
                if window.contains("session") { "" } else { [r#""closed": "left", "#, r#""closed": "right", "#][rng.random_range(0..2)] };
            let json = format!(r#"{{"time": "ts", {window}, "by": "key", {closed}"aggs": {AGGS}}}"#);
            let spec = WindowSpec::from_json(&json).unwrap();
            let want = crate::window::window_agg(&input.schema(), std::slice::from_ref(&input), &spec).unwrap();
            let with_lateness = format!("{}, \"lateness\": {disorder}}}", json.trim_end_matches('}'));
            let mut stream = WindowStream::from_json(&with_lateness).unwrap();
            let mut emitted = Vec::new();
            let mut at = 0;
            while at < input.num_rows() {
                let len = rng.random_range(0..=(input.num_rows() - at).min(40));
                emitted.push(stream.push(&input.slice(at, len)).unwrap());
                at += len;
                if rng.random_bool(0.1) {
                    let w = stream.watermark().unwrap_or(0);
                    emitted.push(stream.advance(w - 1).unwrap());
                }
            }
            emitted.push(stream.finish().unwrap());
            assert_eq!(stream.stats().rows_late, 0, "case {case}: disorder within lateness makes no row late");
            let emitted: Vec<RecordBatch> = emitted.into_iter().filter(|b| b.num_rows() > 0).collect();
            let got =
                if emitted.is_empty() { RecordBatch::new_empty(want.schema()) } else { concat_batches(&want.schema(), &emitted).unwrap() };
            assert_eq!(sorted(&got), sorted(&want), "case {case}: {json}, lateness {disorder}");
        }
    }

    #[test]
    fn a_window_is_emitted_once_the_watermark_passes_its_end_and_late_rows_are_returned() {
        let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false), Field::new("v", DataType::Float64, true)]));
        let batch = |ts: Vec<i64>| {
            let n = ts.len();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ts)), Arc::new(Float64Array::from(vec![1.0; n]))]).unwrap()
        };
        let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": 10, "aggs": ["count() as n"], "lateness": 2}"#).unwrap();
        assert_eq!(stream.push(&batch(vec![1, 5, 11])).unwrap().num_rows(), 0); // W = 9
        let out = stream.push(&batch(vec![12])).unwrap(); // W = 10: [0, 10) closes
        assert_eq!(out.num_rows(), 1);
        assert_eq!(out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 2);
        // Time 3 falls only in [0, 10), already emitted: late, never counted.
        assert_eq!(stream.push(&batch(vec![3, 15])).unwrap().num_rows(), 0);
        assert_eq!(stream.stats().rows_late, 1);
        let late = stream.take_late().unwrap();
        assert_eq!(late.column(0).as_primitive::<arrow_array::types::Int64Type>().values().to_vec(), vec![3]);
        assert_eq!(stream.take_late().unwrap().num_rows(), 0, "taking clears");
        // advance never moves the watermark back.
        assert_eq!(stream.advance(0).unwrap().num_rows(), 0);
        assert_eq!(stream.watermark(), Some(13));
        let out = stream.advance(20).unwrap();
        assert_eq!(out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 3);
        assert_eq!(stream.finish().unwrap().num_rows(), 0);
        assert!(stream.push(&batch(vec![30])).is_err(), "no push after finish");
    }

    #[test]
    fn a_session_is_emitted_once_the_watermark_reaches_its_last_time_plus_the_gap() {
        let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false), Field::new("v", DataType::Float64, true)]));
        let batch = |ts: Vec<i64>| {
            let n = ts.len();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ts)), Arc::new(Float64Array::from(vec![1.0; n]))]).unwrap()
        };
        let n = |out: &RecordBatch| out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().values().to_vec();
        let mut stream = WindowStream::from_json(r#"{"time": "ts", "session_gap": 5, "aggs": ["count() as n"], "lateness": 1}"#).unwrap();
        assert_eq!(stream.push(&batch(vec![1, 3])).unwrap().num_rows(), 0); // W = 2
                                                                            // 2 is not late (W = 2) and joins the session; then W = 9 ≥ 3 + 5: [1, 8) closes.
        let out = stream.push(&batch(vec![2, 10])).unwrap();
        assert_eq!(n(&out), vec![3]);
        assert_eq!(out.column_by_name("window_end").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 8);
        // 8 is before the watermark (9): late, even though it would start a session of its own.
        assert_eq!(stream.push(&batch(vec![8])).unwrap().num_rows(), 0);
        assert_eq!(stream.stats().rows_late, 1);
        // Two open sessions that a row on time joins are one.
        let mut stream = WindowStream::from_json(r#"{"time": "ts", "session_gap": 5, "aggs": ["count() as n"], "lateness": 10}"#).unwrap();
        stream.push(&batch(vec![0, 8])).unwrap();
        assert_eq!(stream.stats().open_windows, 2);
        stream.push(&batch(vec![4])).unwrap();
        assert_eq!(stream.stats().open_windows, 1);
        assert_eq!(n(&stream.finish().unwrap()), vec![3]);
    }

    #[test]
    fn advance_to_takes_a_watermark_of_any_time_type_converted_to_the_time_column() {
        use arrow_array::{Date32Array, TimestampMicrosecondArray, TimestampMillisecondArray};
        let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None), false)]));
        let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": "1d", "aggs": ["count() as n"]}"#).unwrap();
        let before = stream.advance_to(&TimestampMicrosecondArray::from(vec![5])).unwrap_err();
        assert!(before.to_string().contains("push first"), "{before}");
        stream.advance_to(&Int64Array::from(vec![-10])).unwrap();
        assert_eq!(stream.watermark(), Some(-10), "ticks are taken before the first push");
        let day = 86_400_000i64;
        let rows = |ts: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(TimestampMillisecondArray::from(ts))]).unwrap();
        stream.push(&rows(vec![1, 2])).unwrap();
        // 1 day in microseconds: the first window [0, 1 day) closes.
        let out = stream.advance_to(&TimestampMicrosecondArray::from(vec![day * 1000])).unwrap();
        assert_eq!(out.num_rows(), 1);
        assert_eq!(stream.watermark(), Some(day));
        // A date: day 2 at midnight closes [1 day, 2 days).
        stream.push(&rows(vec![day + 1])).unwrap();
        assert_eq!(stream.advance_to(&Date32Array::from(vec![2])).unwrap().num_rows(), 1);
        assert_eq!(stream.watermark(), Some(2 * day));
        let wrong = stream.advance_to(&StringArray::from(vec!["soon"])).unwrap_err();
        assert_eq!(wrong.kind(), crate::error::ErrorKind::WrongType, "{wrong}");
        assert!(stream.advance_to(&Int64Array::from(vec![Some(1), None])).is_err());
        assert!(stream.advance_to(&TimestampMicrosecondArray::from(vec![None::<i64>])).is_err());
        assert_eq!(stream.watermark(), Some(2 * day), "failed advances change nothing");
    }

    #[test]
    fn a_push_past_max_state_bytes_fails_and_changes_nothing() {
        let mut rng = StdRng::seed_from_u64(3);
        let input = events(&mut rng, 400, 0);
        let json = format!(r#"{{"time": "ts", "every": 1000, "by": "key", "aggs": {AGGS}}}"#);
        let mut unlimited = WindowStream::from_json(&json).unwrap();
        unlimited.push(&input.slice(0, 100)).unwrap();
        let after_100 = unlimited.stats().state_bytes;
        unlimited.push(&input.slice(100, 300)).unwrap();
        let after_400 = unlimited.stats().state_bytes;
        assert!(after_400 > after_100, "the values of median and count_distinct grow the state");

        let limited = format!("{}, \"max_state_bytes\": {after_100}}}", json.trim_end_matches('}'));
        let mut stream = WindowStream::from_json(&limited).unwrap();
        stream.push(&input.slice(0, 100)).unwrap();
        let before = stream.snapshot().unwrap();
        let err = stream.push(&input.slice(100, 300)).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::ResourceLimit, "{err}");
        assert!(err.to_string().contains("max_state_bytes"), "{err}");
        assert_eq!(stream.snapshot().unwrap(), before, "a push over the limit changes nothing");
        // The limit travels with the snapshot.
        let mut restored = WindowStream::restore(&before).unwrap();
        assert_eq!(restored.push(&input.slice(100, 300)).unwrap_err().kind(), crate::error::ErrorKind::ResourceLimit);
        for bad in [r#""max_state_bytes": -1"#, r#""max_state_bytes": "1MB""#, r#""max_state_bytes": 1.5"#] {
            let json = format!(r#"{{"time": "ts", "every": 10, "aggs": ["count()"], {bad}}}"#);
            assert_eq!(WindowStream::from_json(&json).unwrap_err().kind(), crate::error::ErrorKind::InvalidSpec, "{bad}");
        }
    }

    #[test]
    fn a_failed_push_leaves_the_stream_as_it_was() {
        let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, true), Field::new("v", DataType::Float64, true)]));
        let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": 10, "aggs": ["sum(v) as s"]}"#).unwrap();
        let good = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![1.0, 2.0]))],
        )
        .unwrap();
        stream.push(&good).unwrap();
        let before = (stream.open.clone(), stream.watermark(), stream.stats());
        // A null time under null_time = "error".
        let null_time = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![Some(30), None])), Arc::new(Float64Array::from(vec![1.0, 2.0]))],
        )
        .unwrap();
        assert!(stream.push(&null_time).is_err());
        // Another schema.
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![40]))],
        )
        .unwrap();
        assert!(stream.push(&other).unwrap_err().to_string().contains("schema of the first push"));
        assert_eq!((stream.open.clone(), stream.watermark(), stream.stats()), before);
        let out = stream.finish().unwrap();
        assert_eq!(out.column_by_name("s").unwrap().as_primitive::<arrow_array::types::Float64Type>().value(0), 3.0);
    }

    #[test]
    fn a_restored_stream_goes_on_as_if_it_never_stopped() {
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..60 {
            let rows = rng.random_range(0..200);
            let input = events(&mut rng, rows, 3);
            let window = if case % 2 == 0 { r#""every": 4, "period": 10"# } else { r#""session_gap": 3"# };
            let json = format!(r#"{{"time": "ts", {window}, "by": "key", "aggs": {AGGS}, "lateness": 1}}"#);
            let (mut straight, mut restarted) = (WindowStream::from_json(&json).unwrap(), WindowStream::from_json(&json).unwrap());
            let mut at = 0;
            while at < input.num_rows() {
                let len = rng.random_range(0..=(input.num_rows() - at).min(30));
                let part = input.slice(at, len);
                let want = straight.push(&part).unwrap();
                let snapshot = restarted.snapshot().unwrap();
                restarted = WindowStream::restore(&snapshot).unwrap();
                assert_eq!(restarted.snapshot().unwrap(), snapshot, "case {case}: snapshot(restore(x)) == x");
                assert_eq!(restarted.push(&part).unwrap(), want, "case {case}, rows {at}..");
                at += len;
            }
            assert_eq!(restarted.take_late().unwrap(), straight.take_late().unwrap(), "case {case}");
            let snapshot = restarted.snapshot().unwrap();
            let mut restarted = WindowStream::restore(&snapshot).unwrap();
            assert_eq!(restarted.finish().unwrap(), straight.finish().unwrap(), "case {case}");
            assert_eq!(restarted.stats(), straight.stats());
        }
    }

    #[test]
    fn a_cut_or_corrupted_snapshot_is_an_error_never_a_crash() {
        let mut rng = StdRng::seed_from_u64(9);
        let input = events(&mut rng, 100, 2);
        let mut stream =
            WindowStream::from_json(&format!(r#"{{"time": "ts", "every": 10, "by": "key", "aggs": {AGGS}, "lateness": 2}}"#)).unwrap();
        stream.push(&input).unwrap();
        let good = stream.snapshot().unwrap();
        for len in 0..good.len() {
            assert!(WindowStream::restore(&good[..len]).is_err(), "cut at {len}");
        }
        for _ in 0..3000 {
            let mut bad = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bad.len());
                bad[at] ^= 1 << rng.random_range(0..8);
            }
            // An error, or a stream that still works.
            if let Ok(mut restored) = WindowStream::restore(&bad) {
                let _ = restored.push(&input);
                let _ = restored.finish();
            }
        }
        let mut future = good.clone();
        future[8] = 2;
        assert!(WindowStream::restore(&future).unwrap_err().to_string().contains("format version 2"));
        assert!(WindowStream::restore(b"not a snapshot").is_err());
    }
}
