//! `RollingStream`: rolling aggregation over input that never stops
//! arriving, each row's result emitted once event time has passed it
//! (docs/semantics.md, "Streaming").
//!
//! A row's result depends on the rows of its key before it within the
//! period, so the state is rows, not accumulators: the rows not yet emitted
//! (`pending`, in arrival order) and the emitted rows a later row's window
//! may still reach (`history`: those within the period of the watermark,
//! or each key's last N rows for a row-count period). An emission runs
//! [`rolling`] over history and the rows due and keeps the due rows'
//! results, so every result is the batch kernel's own. The rows are copies:
//! nothing pins an input batch.

use super::rolling_with_schema;
use crate::error::{Result, SashError};
use crate::exec::grouper::Grouper;
use crate::exec::snapshot::{self, Progress, StreamStats};
use crate::exec::time::TimeColumn;
use crate::spec::duration::Duration;
use crate::spec::{Closed, NullTime, RollingPeriod, RollingSpec};
use arrow_array::{Array, BooleanArray, RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;

/// The snapshot format version of a `RollingStream` (see `snapshot::write`).
const FORMAT: u32 = 1;

/// What the first push fixes: the input and output schemas, the time column
/// and the spec's durations in its ticks.
#[derive(Debug, Clone)]
struct Fixed {
    schema: SchemaRef,
    out_schema: SchemaRef,
    time: TimeColumn,
    lateness: i64,
}

/// Rolling aggregation over a stream of batches; see the module docs.
#[derive(Debug, Clone)]
pub struct RollingStream {
    spec_json: serde_json::Value,
    spec: RollingSpec,
    lateness: Duration,
    max_state_bytes: Option<usize>,
    fixed: Option<Fixed>,
    history: Option<RecordBatch>,
    pending: Option<RecordBatch>,
    progress: Progress,
}

impl RollingStream {
    /// A stream from a JSON rolling spec (as `rolling` takes it) with the
    /// optional keys `"lateness"` (a duration, default 0) and
    /// `"max_state_bytes"`.
    pub fn from_json(text: &str) -> Result<RollingStream> {
        let spec_json = crate::spec::parse_json(text)?;
        let mut value = spec_json.clone();
        let (lateness, max_state_bytes) = snapshot::take_stream_options(&mut value)?;
        let spec = RollingSpec::from_value(&value)?;
        spec.validate()?;
        Ok(RollingStream {
            spec_json,
            spec,
            lateness,
            max_state_bytes,
            fixed: None,
            history: None,
            pending: None,
            progress: Progress::default(),
        })
    }

    /// The watermark in ticks of the time column; None before any time was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.progress.watermark
    }

    /// Rows in, late and dropped; `open_windows` counts the rows whose
    /// result is not emitted yet; `state_bytes` the rows held.
    pub fn stats(&self) -> StreamStats {
        let open_windows = self.pending.as_ref().map_or(0, |p| p.num_rows());
        StreamStats {
            open_windows,
            state_bytes: rows_bytes(&self.history, &self.pending) + self.progress.late_bytes(None),
            ..self.progress.stats
        }
    }

    /// Takes rows: returns the results this push made final (possibly none),
    /// in `rolling`'s columns, ordered by time, ties in arrival order.
    /// Atomic: on error nothing changed.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let fixed = self.fix(batch.schema())?;
        let batch = snapshot::conform_push(&fixed.schema, batch)?;
        let times = batch.column(fixed.time.index);
        let null_times = times.null_count();
        if null_times > 0 && self.spec.null_time == NullTime::Error {
            return Err(SashError::NullTime { column: fixed.time.name.clone(), count: null_times });
        }
        let ticks = fixed.time.values(times);
        // Before the watermark of the pushes before this one: late.
        let late_mask: BooleanArray =
            (0..batch.num_rows()).map(|i| Some(times.is_valid(i) && self.progress.watermark.is_some_and(|w| ticks[i] < w))).collect();
        let on_time_mask: BooleanArray =
            (0..batch.num_rows()).map(|i| Some(times.is_valid(i) && self.progress.watermark.is_none_or(|w| ticks[i] >= w))).collect();
        let late = filter_record_batch(&batch, &late_mask)?;
        let on_time = filter_record_batch(&batch, &on_time_mask)?;
        let pending = match &self.pending {
            Some(pending) => concat_batches(&fixed.schema, [pending, &on_time])?,
            None => on_time,
        };
        let largest = (0..batch.num_rows()).filter(|&i| times.is_valid(i)).map(|i| ticks[i]).max();
        let watermark = self.progress.after_push(largest, fixed.lateness);
        let (emitted, history, pending) = self.emit(&fixed, pending, watermark, false)?;
        let state_bytes = rows_bytes(&history, &pending) + self.progress.late_bytes(Some(&late));
        Progress::check_limit(self.max_state_bytes, state_bytes, "take late rows, use a shorter period, or raise the limit")?;

        // Nothing failed: commit. (Under null_time = "error" a null time failed above.)
        self.progress.commit_push(batch.num_rows(), late, null_times as u64, watermark);
        self.history = history;
        self.pending = pending;
        self.fixed = Some(fixed);
        Ok(emitted)
    }

    /// Moves the watermark to `watermark` (ticks of the time column) if that
    /// is later, and returns the results it made final.
    pub fn advance(&mut self, watermark: i64) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let new = self.progress.advanced(watermark);
        let Some(fixed) = self.fixed.clone() else {
            self.progress.watermark = new;
            return Ok(RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty())));
        };
        let pending = self.pending.clone().expect("a fixed stream has pending rows");
        let (emitted, history, pending) = self.emit(&fixed, pending, new, false)?;
        self.history = history;
        self.pending = pending;
        self.progress.watermark = new;
        Ok(emitted)
    }

    /// [`advance`](Self::advance) to a watermark given as a one-value Arrow
    /// array (a timestamp of any unit and zone, a date, a string, or ticks),
    /// converted to the time column's type as an Arrow cast converts it.
    pub fn advance_to(&mut self, watermark: &dyn Array) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let ticks = snapshot::watermark_ticks(self.fixed.as_ref().map(|f| &f.time), watermark)?;
        self.advance(ticks)
    }

    /// End of input: every row's result; later pushes are an error.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.progress.check_open()?;
        let out = match (self.fixed.clone(), self.pending.clone()) {
            (Some(fixed), Some(pending)) => {
                let (emitted, _, rest) = self.emit(&fixed, pending, self.progress.watermark, true)?;
                self.history = Some(RecordBatch::new_empty(fixed.schema.clone()));
                self.pending = rest;
                emitted
            }
            _ => RecordBatch::new_empty(std::sync::Arc::new(arrow_schema::Schema::empty())),
        };
        self.progress.finished = true;
        Ok(out)
    }

    /// The rows that came too late (before the watermark), with their input
    /// columns, in arrival order; taking them clears them.
    pub fn take_late(&mut self) -> Result<RecordBatch> {
        self.progress.take_late(self.fixed.as_ref().map(|f| &f.schema))
    }

    /// The whole state as bytes (the layout of `WindowStream::snapshot`, of
    /// kind `rolling_stream`: the input schema and untaken late rows, then
    /// the held rows as two batches, history and pending).
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let meta = self.progress.meta("rolling_stream", &self.spec_json);
        let sections = match (&self.fixed, &self.history, &self.pending) {
            (Some(fixed), Some(history), Some(pending)) => {
                vec![self.progress.input_section(&fixed.schema)?, snapshot::ipc_stream(&fixed.schema, &[history, pending])?]
            }
            _ => vec![Vec::new(), Vec::new()],
        };
        Ok(snapshot::write(&meta, FORMAT, &sections))
    }

    /// The stream a `snapshot` was taken of. Bytes that are not a snapshot
    /// of a `RollingStream`, are cut short or corrupted, or come from a later
    /// format are an error.
    pub fn restore(bytes: &[u8]) -> Result<RollingStream> {
        let corrupt = |what: &str| snapshot::corrupt("rolling_stream", what);
        let (meta, _, sections) = snapshot::read(bytes, "rolling_stream", &[(FORMAT, 2)])?;
        let (input, rows) = (sections[0], sections[1]);
        let mut stream = RollingStream::from_json(&meta.spec.to_string())?;
        stream.progress = Progress::from_snapshot(&meta, Vec::new());
        if input.is_empty() != rows.is_empty() {
            return Err(corrupt("it has an input schema without rows, or the reverse"));
        }
        if input.is_empty() {
            return Ok(stream);
        }
        let (schema, late) = snapshot::read_ipc(input).map_err(|e| corrupt(&format!("its input section: {e}")))?;
        let fixed = stream.fix(schema)?;
        let (rows_schema, held) = snapshot::read_ipc(rows).map_err(|e| corrupt(&format!("its rows: {e}")))?;
        let [history, pending] = <[RecordBatch; 2]>::try_from(held).map_err(|_| corrupt("its rows are not two batches"))?;
        if rows_schema.fields() != fixed.schema.fields() || late.iter().any(|b| b.schema().fields() != fixed.schema.fields()) {
            return Err(corrupt("its rows do not have its input schema"));
        }
        let (history, pending) = (fix_schema(&fixed, history), fix_schema(&fixed, pending));
        if [&history, &pending].iter().any(|b| b.column(fixed.time.index).null_count() > 0) {
            return Err(corrupt("a held row has a null time"));
        }
        stream.history = Some(history);
        stream.pending = Some(pending);
        stream.progress = Progress::from_snapshot(&meta, late.into_iter().map(|b| fix_schema(&fixed, b)).collect());
        stream.fixed = Some(fixed);
        Ok(stream)
    }

    /// The fixed part, from the first push's schema (or as fixed before):
    /// the whole spec is checked against it here.
    fn fix(&self, schema: SchemaRef) -> Result<Fixed> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let (out_schema, _) = rolling_with_schema(&schema, &[], &self.spec)?;
        let time = TimeColumn::resolve(&schema, &self.spec.time)?;
        let lateness = match self.lateness {
            Duration::Count(0) => 0,
            lateness => time.ticks("lateness", lateness)?,
        };
        Ok(Fixed { schema, out_schema, time, lateness })
    }

    /// Splits `pending` into the rows due under `watermark` (all of them at
    /// the end) and the rest, and returns the due rows' results in time
    /// order, the history after them, and the rest.
    fn emit(
        &self,
        fixed: &Fixed,
        pending: RecordBatch,
        watermark: Option<i64>,
        all: bool,
    ) -> Result<(RecordBatch, Option<RecordBatch>, Option<RecordBatch>)> {
        let history = self.history.clone().unwrap_or_else(|| RecordBatch::new_empty(fixed.schema.clone()));
        let ticks = fixed.time.values(pending.column(fixed.time.index)).into_owned();
        // A result is final once no row on time could still join its window:
        // rows at its own time count unless the window excludes its end.
        let includes_end = matches!(self.spec.closed, Closed::Right | Closed::Both);
        let due = |t: i64| all || watermark.is_some_and(|w| if includes_end { w > t } else { w >= t });
        let due_mask: BooleanArray = ticks.iter().map(|&t| Some(due(t))).collect();
        let rest_mask: BooleanArray = ticks.iter().map(|&t| Some(!due(t))).collect();
        let due_rows = filter_record_batch(&pending, &due_mask)?;
        let rest = filter_record_batch(&pending, &rest_mask)?;
        if due_rows.num_rows() == 0 {
            return Ok((RecordBatch::new_empty(fixed.out_schema.clone()), Some(history), Some(rest)));
        }
        let input = concat_batches(&fixed.schema, [&history, &due_rows])?;
        let (_, out) = rolling_with_schema(&fixed.schema, std::slice::from_ref(&input), &self.spec)?;
        let out = concat_batches(&fixed.out_schema, &out)?;
        let results = out.slice(history.num_rows(), due_rows.num_rows());
        // By time, ties in arrival order (the due rows are in arrival order).
        let due_ticks = fixed.time.values(due_rows.column(fixed.time.index));
        let mut order: Vec<u32> = (0..due_rows.num_rows() as u32).collect();
        order.sort_by_key(|&i| due_ticks[i as usize]);
        let order = UInt32Array::from(order);
        let columns =
            results.columns().iter().map(|c| arrow_select::take::take(c, &order, None)).collect::<std::result::Result<Vec<_>, _>>()?;
        let emitted = RecordBatch::try_new(fixed.out_schema.clone(), columns)?;
        let history = if all { RecordBatch::new_empty(fixed.schema.clone()) } else { self.trim(fixed, input, watermark)? };
        Ok((emitted, Some(history), Some(rest)))
    }

    /// The emitted rows a later row's window may still reach: those at or
    /// after the watermark − period, or each key's last N rows.
    fn trim(&self, fixed: &Fixed, rows: RecordBatch, watermark: Option<i64>) -> Result<RecordBatch> {
        let ticks = fixed.time.values(rows.column(fixed.time.index)).into_owned();
        let keep: Vec<bool> = match self.spec.period {
            RollingPeriod::Time(period) => {
                let period = fixed.time.ticks("period", period)?;
                let from = watermark.map_or(i64::MIN, |w| w.saturating_sub(period));
                ticks.iter().map(|&t| t >= from).collect()
            }
            RollingPeriod::Rows(n) => {
                let key_indices: Vec<usize> =
                    self.spec.by.iter().map(|k| crate::spec::types::column_index(&fixed.schema, k)).collect::<Result<_>>()?;
                let key_types: Vec<_> = key_indices.iter().map(|&k| fixed.schema.field(k).data_type().clone()).collect();
                let columns = vec![key_indices.iter().map(|&k| rows.column(k).clone()).collect::<Vec<_>>()];
                let mut grouper = Grouper::new(&key_types, &columns)?;
                let mut gids = Vec::new();
                grouper.assign(0, 0..rows.num_rows(), &mut gids)?;
                // Newest first (time, then arrival), counting each key's rows.
                let mut order: Vec<usize> = (0..rows.num_rows()).collect();
                order.sort_by_key(|&i| std::cmp::Reverse((ticks[i], i)));
                let mut seen = vec![0i64; grouper.num_groups()];
                let mut keep = vec![false; rows.num_rows()];
                for i in order {
                    let count = &mut seen[gids[i] as usize];
                    keep[i] = *count < n;
                    *count += 1;
                }
                keep
            }
        };
        Ok(filter_record_batch(&rows, &BooleanArray::from(keep))?)
    }
}

/// A batch read from a snapshot with the input schema (nullability and
/// metadata as the first push gave them).
fn fix_schema(fixed: &Fixed, batch: RecordBatch) -> RecordBatch {
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(fixed.schema.clone(), batch.columns().to_vec(), &options).unwrap_or(batch)
}

fn rows_bytes(history: &Option<RecordBatch>, pending: &Option<RecordBatch>) -> usize {
    history.iter().chain(pending).map(RecordBatch::get_array_memory_size).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    /// Rows with an `id` (arrival number), times disordered by at most `disorder`.
    fn events(rng: &mut StdRng, rows: usize, disorder: i64) -> RecordBatch {
        let mut t = 0i64;
        let ts: Vec<i64> = (0..rows)
            .map(|_| {
                t += rng.random_range(0..4);
                (t - rng.random_range(0..=disorder)).max(0)
            })
            .collect();
        let keys: Vec<Option<&str>> = (0..rows).map(|_| [Some("a"), Some("b"), None][rng.random_range(0..3)]).collect();
        let values: Vec<Option<f64>> =
            (0..rows).map(|_| if rng.random_range(0..8) == 0 { None } else { Some(rng.random_range(-50..50) as f64) }).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Int64, false),
            Field::new("key", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
            Field::new("id", DataType::Int64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ts)),
            Arc::new(StringArray::from(keys)),
            Arc::new(Float64Array::from(values)),
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Rows by time, ties by arrival (`id`): the order of emissions.
    fn by_time(batch: &RecordBatch) -> RecordBatch {
        if batch.num_rows() == 0 {
            return batch.clone();
        }
        let ts = batch.column_by_name("ts").unwrap().as_primitive::<Int64Type>();
        let id = batch.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
        order.sort_by_key(|&i| (ts.value(i as usize), id.value(i as usize)));
        let order = UInt32Array::from(order);
        let columns = batch.columns().iter().map(|c| arrow_select::take::take(c, &order, None).unwrap()).collect();
        RecordBatch::try_new(batch.schema(), columns).unwrap()
    }

    const AGGS: &str = r#"["count() as n", "sum(v) as s", "mean(v) as m", "min(v) as lo", "max(v) as hi", "first(v) as f", "last(v) as l", "median(v) as med", "count_distinct(v) as cd"]"#;

    fn run(stream: &mut RollingStream, input: &RecordBatch, rng: &mut StdRng, restarts: bool) -> Vec<RecordBatch> {
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
            if restarts && rng.random_bool(0.3) {
                let snapshot = stream.snapshot().unwrap();
                *stream = RollingStream::restore(&snapshot).unwrap();
                assert_eq!(stream.snapshot().unwrap(), snapshot, "snapshot(restore(x)) == x");
            }
        }
        emitted.push(stream.finish().unwrap());
        emitted
    }

    #[test]
    fn pushes_of_any_split_within_lateness_emit_what_rolling_gives() {
        let mut rng = StdRng::seed_from_u64(21);
        for case in 0..240 {
            let disorder = rng.random_range(0..6);
            let rows = rng.random_range(0..250);
            let input = events(&mut rng, rows, disorder);
            let period = match rng.random_range(0..3) {
                0 => format!("{}", rng.random_range(1..15)),
                1 => format!("\"{}i\"", rng.random_range(1..6)),
                _ => "8".to_string(),
            };
            let closed = ["left", "right", "both", "none"][rng.random_range(0..4)];
            let json = format!(r#"{{"time": "ts", "period": {period}, "by": "key", "closed": "{closed}", "aggs": {AGGS}}}"#);
            let spec = RollingSpec::from_json(&json).unwrap();
            let (out_schema, want) = rolling_with_schema(&input.schema(), std::slice::from_ref(&input), &spec).unwrap();
            let want = concat_batches(&out_schema, &want).unwrap();
            let with_lateness = format!("{}, \"lateness\": {disorder}}}", json.trim_end_matches('}'));
            let mut stream = RollingStream::from_json(&with_lateness).unwrap();
            let emitted = run(&mut stream, &input, &mut rng, case % 2 == 1);
            assert_eq!(stream.stats().rows_late, 0, "case {case}");
            for part in &emitted {
                assert_eq!(part, &by_time(part), "case {case}: an emission is in time order, ties in arrival order");
            }
            let emitted: Vec<RecordBatch> = emitted.into_iter().filter(|b| b.num_rows() > 0).collect();
            let got = concat_batches(&out_schema, &emitted).unwrap();
            assert_eq!(by_time(&got), by_time(&want), "case {case}: {json}, lateness {disorder}");
        }
    }

    #[test]
    fn a_row_is_emitted_once_the_watermark_passes_it_and_late_rows_come_back() {
        let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false)]));
        let batch = |ts: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ts))]).unwrap();
        let n = |b: &RecordBatch| b.column_by_name("n").unwrap().as_primitive::<Int64Type>().values().to_vec();
        let mut stream = RollingStream::from_json(r#"{"time": "ts", "period": 5, "aggs": ["count() as n"], "lateness": 1}"#).unwrap();
        assert_eq!(n(&stream.push(&batch(vec![1, 3])).unwrap()), vec![1]); // W = 2: the row at 1 is final
        assert_eq!(stream.watermark(), Some(2));
        assert_eq!(n(&stream.push(&batch(vec![2, 6])).unwrap()), vec![2, 3]); // W = 5: the rows at 2 and 3
        assert_eq!(stream.push(&batch(vec![4])).unwrap().num_rows(), 0); // 4 < 5: late
        assert_eq!(stream.take_late().unwrap().num_rows(), 1);
        assert_eq!(stream.stats().open_windows, 1);
        assert_eq!(n(&stream.advance(10).unwrap()), vec![3]); // (1, 6]: 2, 3, 6
        assert_eq!(stream.finish().unwrap().num_rows(), 0);
        assert!(stream.push(&batch(vec![20])).is_err());
    }

    #[test]
    fn a_failed_push_changes_nothing_and_bad_snapshots_are_errors() {
        let mut rng = StdRng::seed_from_u64(4);
        let input = events(&mut rng, 120, 2);
        let json = format!(r#"{{"time": "ts", "period": 6, "by": "key", "aggs": {AGGS}, "lateness": 2}}"#);
        let mut stream = RollingStream::from_json(&json).unwrap();
        stream.push(&input.slice(0, 60)).unwrap();
        let good = stream.snapshot().unwrap();
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        assert!(stream.push(&other).unwrap_err().to_string().contains("schema of the first push"));
        assert_eq!(stream.snapshot().unwrap(), good);
        for len in 0..good.len() {
            assert!(RollingStream::restore(&good[..len]).is_err(), "cut at {len}");
        }
        for _ in 0..2000 {
            let mut bad = good.clone();
            let at = rng.random_range(0..bad.len());
            bad[at] ^= 1 << rng.random_range(0..8);
            if let Ok(mut restored) = RollingStream::restore(&bad) {
                let _ = restored.push(&input.slice(60, 60));
                let _ = restored.finish();
            }
        }
        let window = crate::WindowStream::from_json(r#"{"time": "ts", "every": 10, "aggs": ["count()"]}"#).unwrap().snapshot().unwrap();
        assert!(RollingStream::restore(&window).unwrap_err().to_string().contains("window_stream"));
        let limited = format!(r#"{{"time": "ts", "period": 6, "by": "key", "aggs": {AGGS}, "lateness": 50, "max_state_bytes": 100}}"#);
        let mut limited = RollingStream::from_json(&limited).unwrap();
        assert_eq!(limited.push(&input).unwrap_err().kind(), crate::error::ErrorKind::ResourceLimit);
        assert_eq!(limited.stats(), StreamStats::default());
    }
}
