//! Rolling aggregation: one output row per input row, aggregating the rows of
//! the same key in a window that ends at that row.

mod frame;
mod quantile;
mod slide;
pub mod stream;
mod sweep;

use crate::agg::{AggPlan, Rows};
use crate::error::{Result, SashError};
use crate::exec::grouper::Grouper;
use crate::exec::prepare::{key_columns, Columns, Prepared};
use crate::spec::expr::AggFunc;
use crate::spec::DROPPED_NULL_TIMES_KEY;
use crate::spec::{RollingPeriod, RollingSpec};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use arrow_schema::{Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use frame::{row_budget, time_bounds};
use std::collections::VecDeque;
use std::sync::Arc;
use sweep::StreamingWindows;

/// Computes a rolling aggregation. Returns one batch per input batch, each
/// holding that batch's columns (shared, not copied) followed by the
/// aggregates. With `null_time = "drop"` the dropped rows are left out.
pub fn rolling(schema: &SchemaRef, batches: &[RecordBatch], spec: &RollingSpec) -> Result<Vec<RecordBatch>> {
    spec.validate()?;
    // Everything about the spec is checked before the data is looked at.
    let columns = Columns::resolve(schema, batches, &spec.time, &spec.by)?;
    let time = &columns.time;
    let mut plan = AggPlan::new(schema, &spec.aggs, time)?;
    // The output keeps every input column: an aggregation named like one would make two.
    if let Some(agg) = spec.aggs.iter().find(|a| schema.fields().iter().any(|f| f.name() == &a.alias)) {
        return Err(SashError::spec(format!(
            "output column '{}' is also an input column, and rolling keeps the input's columns; give the aggregation another name with 'as'",
            agg.alias
        )));
    }
    if let RollingPeriod::Time(d) = spec.period {
        time.ticks("period", d)?;
    }
    let input = Prepared::new(schema, batches, columns, spec.null_time, &spec.aggs, true)?;

    let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(plan.fields.iter().cloned());
    let mut metadata = schema.metadata().clone();
    if spec.null_time == crate::spec::NullTime::Drop {
        metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), input.dropped_null_times.to_string());
    }
    let out_schema = Arc::new(Schema::new_with_metadata(fields, metadata));

    let period = match spec.period {
        RollingPeriod::Time(d) => Some(input.time.ticks("period", d)?),
        RollingPeriod::Rows(_) => None,
    };
    let n: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let aggregates = aggregate(schema, &input, spec, period, n, &mut plan)?;

    // The aggregates come in time order: back to input order when the rows
    // had to be sorted.
    let aggregates = match &input.order {
        Some(order) => {
            let restore = crate::exec::time_sort::Restore::new(order.clone());
            aggregates.iter().map(|a| restore.array(a)).collect::<Result<Vec<_>>>()?
        }
        None => aggregates,
    };
    // Hand each input batch its own slice of the aggregates, in input order.
    let mut out = Vec::with_capacity(batches.len());
    let mut start = 0;
    for (batch, kept) in batches.iter().zip(&input.kept) {
        let batch = match kept {
            Some(mask) => filter_record_batch(batch, mask)?,
            None => batch.clone(),
        };
        let len = batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.extend(aggregates.iter().map(|a| a.slice(start, len)));
        out.push(RecordBatch::try_new(out_schema.clone(), columns)?);
        start += len;
    }
    debug_assert_eq!(start, n);
    Ok(out)
}

/// [`rolling`] with its output schema, which is known even when there is no
/// input batch (and so no output batch to read it from).
pub fn rolling_with_schema(schema: &SchemaRef, batches: &[RecordBatch], spec: &RollingSpec) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let parts = rolling(schema, batches, spec)?;
    let out_schema = match parts.first() {
        Some(p) => p.schema(),
        None => rolling(schema, &[RecordBatch::new_empty(schema.clone())], spec)?[0].schema(),
    };
    Ok((out_schema, parts))
}

/// The aggregates of time-ordered input, in time order: exact quantiles,
/// `count_distinct`, `first` and `last` by their own sweeps (values enter
/// and leave each window once), everything else by the fastest path that
/// takes it.
fn aggregate(
    schema: &SchemaRef,
    input: &Prepared,
    spec: &RollingSpec,
    period: Option<i64>,
    n: usize,
    plan: &mut AggPlan,
) -> Result<Vec<ArrayRef>> {
    let is_swept = |a: &crate::spec::expr::AggExpr| {
        matches!(a.func, AggFunc::Median | AggFunc::Quantile | AggFunc::CountDistinct | AggFunc::First | AggFunc::Last)
    };
    if !spec.aggs.iter().any(is_swept) {
        return aggregate_without_quantiles(schema, input, spec, period, n, plan);
    }
    let rest = RollingSpec { aggs: spec.aggs.iter().filter(|a| !is_swept(a)).cloned().collect(), ..spec.clone() };
    let mut rest_columns = if rest.aggs.is_empty() {
        Vec::new()
    } else {
        aggregate_without_quantiles(schema, input, &rest, period, n, &mut AggPlan::new(schema, &rest.aggs, &input.time)?)?
    }
    .into_iter();
    let batch = match input.batches.len() {
        0 => RecordBatch::new_empty(input.batches.first().map_or_else(|| schema.clone(), |b| b.schema())),
        1 => input.batches[0].clone(),
        _ => concat_batches(&input.batches[0].schema(), &input.batches)?,
    };
    let segments = KeySegments::of(input, &batch)?;
    let times = input.time.values(batch.column(input.time.index));
    let mut out = Vec::with_capacity(spec.aggs.len());
    for agg in &spec.aggs {
        if !is_swept(agg) {
            out.push(rest_columns.next().expect("one column per other aggregation"));
            continue;
        }
        let column = agg.column.as_deref().expect("swept aggregations name a column");
        let values = batch.column(batch.schema().index_of(column)?);
        let swept = match agg.func {
            AggFunc::CountDistinct => slide::count_distinct(values, &segments, &times, spec, period)?,
            AggFunc::First | AggFunc::Last => slide::first_or_last(values, agg.func == AggFunc::Last, &segments, &times, spec, period)?,
            _ => {
                let values = quantile::float_values(values)?;
                let q = if agg.func == AggFunc::Median { 0.5 } else { agg.q.expect("parser guarantees q") };
                let sweep = quantile::QuantileSweep::new(&values, q);
                let mut result: Vec<Option<f64>> = vec![None; batch.num_rows()];
                for segment in segments.iter() {
                    sweep.run(segment, &mut result, |mut visit| for_each_window(segment, &times, spec, period, &mut visit))?;
                }
                Arc::new(Float64Array::from(result)) as ArrayRef
            }
        };
        out.push(swept);
    }
    Ok(out)
}

fn aggregate_without_quantiles(
    schema: &SchemaRef,
    input: &Prepared,
    spec: &RollingSpec,
    period: Option<i64>,
    n: usize,
    plan: &mut AggPlan,
) -> Result<Vec<ArrayRef>> {
    let streaming_plan = match sweep::Span::of(spec.period, period, spec.closed) {
        Some(span) => StreamingWindows::plan(schema, &spec.aggs, span, spec.closed)?,
        None => None,
    };
    if let Some(fast) = streaming_plan {
        fast.stream(input, n)
    } else if let Some(fast) = RunningSums::plan(schema, &input.batches, &spec.aggs)? {
        fast.stream(input, spec, period, n)
    } else {
        // Windows may span batches: work on one time-ordered batch.
        match input.batches.len() {
            0 => plan.finish(&[]),
            1 => generic(input, &input.batches[0], spec, period, plan),
            _ => generic(input, &concat_batches(&input.batches[0].schema(), &input.batches)?, spec, period, plan),
        }
    }
}

/// The rows of each key of one time-ordered batch, in time order.
struct KeySegments {
    by_key: Vec<u32>,
    starts: Vec<usize>,
}

impl KeySegments {
    fn of(input: &Prepared, batch: &RecordBatch) -> Result<KeySegments> {
        let n = batch.num_rows();
        let mut grouper = Grouper::new(&input.key_types, &key_columns(std::slice::from_ref(batch), &input.key_indices))?;
        let mut gids = Vec::with_capacity(n);
        grouper.assign(0, 0..n, &mut gids)?;
        // A stable counting sort by group.
        let groups = grouper.num_groups();
        let mut starts = vec![0usize; groups + 1];
        for &g in &gids {
            starts[g as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut fill = starts.clone();
        let mut by_key = vec![0u32; n];
        for (row, &g) in gids.iter().enumerate() {
            by_key[fill[g as usize]] = row as u32;
            fill[g as usize] += 1;
        }
        Ok(KeySegments { by_key, starts })
    }

    fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.starts.windows(2).map(|w| &self.by_key[w[0]..w[1]])
    }
}

/// Works for every aggregation: each output row's slot is fed the rows of its window.
fn generic(input: &Prepared, batch: &RecordBatch, spec: &RollingSpec, period: Option<i64>, plan: &mut AggPlan) -> Result<Vec<ArrayRef>> {
    let n = batch.num_rows();
    let times = input.time.values(batch.column(input.time.index));
    let segments = KeySegments::of(input, batch)?;
    plan.begin_input(std::slice::from_ref(batch), 0);
    plan.grow(n);
    let mut slots = Vec::new();
    for segment in segments.iter() {
        let mut update = |row: u32, from: usize, to: usize| -> Result<()> {
            if from < to {
                slots.clear();
                slots.resize(to - from, row);
                plan.update(0, batch, &Rows::Indices(&segment[from..to]), &slots)?;
            }
            Ok(())
        };
        for_each_window(segment, &times, spec, period, &mut update)?;
    }
    let order: Vec<u32> = (0..n as u32).collect();
    let aggregates = plan.finish(&order)?;
    debug_assert!(aggregates.iter().all(|a| a.len() == n));
    Ok(aggregates)
}

/// Rows of work between two looks at whether the caller cancelled the call.
const CHECK_ROWS: usize = 64 * 1024;

/// Calls `visit(row, from, to)` for each row of a key's time-ordered
/// `segment`, where `segment[from..to]` is that row's window. Both bounds only
/// move forward, so a key costs O(rows).
fn for_each_window(
    segment: &[u32],
    times: &[i64],
    spec: &RollingSpec,
    period: Option<i64>,
    visit: &mut impl FnMut(u32, usize, usize) -> Result<()>,
) -> Result<()> {
    let mut lo = 0usize;
    let mut hi = 0usize;
    // Work since the last look at cancellation: rows visited, plus the rows
    // of their windows (the generic path feeds each window's rows again).
    let mut work = 0usize;
    for (i, &row) in segment.iter().enumerate() {
        if work >= CHECK_ROWS {
            crate::exec::cancel::check()?;
            work = 0;
        }
        let (from, to) = match (spec.period, period) {
            (RollingPeriod::Rows(count), _) => {
                let count = count as usize;
                let (kept, include_self) = row_budget(count, spec.closed);
                let back = kept.saturating_sub(usize::from(include_self));
                (i.saturating_sub(back), if include_self { i + 1 } else { i })
            }
            (_, Some(p)) => {
                let t = times[row as usize] as i128;
                let start = t - p as i128;
                let time_at = |k: usize| times[segment[k] as usize] as i128;
                let (include_start, include_end) = time_bounds(spec.closed);
                while lo < segment.len() && (time_at(lo) < start || (!include_start && time_at(lo) == start)) {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < segment.len() && (time_at(hi) < t || (include_end && time_at(hi) == t)) {
                    hi += 1;
                }
                (lo, hi.max(lo))
            }
            _ => return Err(SashError::spec("a rolling period is a duration or a row count")),
        };
        work += 1 + (to - from);
        visit(row, from, to)?;
    }
    Ok(())
}

/// The running-sum path for what [`StreamingWindows`] does not take (row-count
/// periods, count/sum/mean over several columns): when every aggregation is
/// count, sum or mean of a primitive column, rows stream through in time
/// order; each key keeps the rows of its current window in a queue, and its
/// sums change by the rows that enter and leave instead of being recomputed.
struct RunningSums {
    aggs: Vec<RunningAgg>,
}

enum RunningValues {
    Float(Float64Array),
    Int(Int64Array),
}

struct RunningAgg {
    func: AggFunc,
    name: String,
    /// Per batch, the values (None for `count()`).
    values: Option<Vec<RunningValues>>,
    /// Whether the values are integers (sums are exact, `sum` gives Int64),
    /// known from the column's type even when there is no batch.
    int: bool,
}

/// A float sum that values enter and leave: compensated (Neumaier) over the
/// finite values, with NaN and infinities counted apart so that one leaving
/// the window leaves no trace in the sum. Both rolling paths keep one per
/// key (and aggregation). Exported (hidden) for the benchmark's rolling
/// floor, which must do this very arithmetic; not part of the API.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct FloatSum {
    sum: f64,
    compensation: f64,
    nan: i64,
    pos_inf: i64,
    neg_inf: i64,
}

impl FloatSum {
    /// Adds `x` (sign 1) or takes it back out (sign -1).
    #[inline(always)]
    pub fn add(&mut self, x: f64, sign: i64) {
        if x.is_finite() {
            let x = sign as f64 * x;
            // The rounding error of `sum + x`, by Knuth's TwoSum: exact
            // whatever the magnitudes, so the very error Neumaier's test of
            // |sum| >= |x| picks a formula for, without that branch, which
            // random values mispredict half the time.
            let t = self.sum + x;
            let z = t - self.sum;
            self.compensation += (self.sum - (t - z)) + (x - z);
            self.sum = t;
        } else if x.is_nan() {
            self.nan += sign;
        } else if x > 0.0 {
            self.pos_inf += sign;
        } else {
            self.neg_inf += sign;
        }
    }

    fn has_non_finite(&self) -> bool {
        self.nan > 0 || self.pos_inf > 0 || self.neg_inf > 0
    }

    /// The sum: NaN if a NaN or both infinities are in, else an infinity if one is in.
    #[inline]
    pub fn value(&self) -> f64 {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            f64::NAN
        } else if self.pos_inf > 0 {
            f64::INFINITY
        } else if self.neg_inf > 0 {
            f64::NEG_INFINITY
        } else {
            self.sum + self.compensation
        }
    }
}

/// Window state of one aggregation.
#[derive(Default, Clone, Copy)]
struct Running {
    count: i64,
    float: FloatSum,
    int_sum: i128,
}

impl Running {
    #[inline(always)]
    fn apply(&mut self, values: &RunningValues, row: usize, sign: i64) {
        match values {
            RunningValues::Float(a) => {
                if a.is_valid(row) {
                    self.count += sign;
                    self.float.add(a.value(row), sign);
                }
            }
            RunningValues::Int(a) => {
                if a.is_valid(row) {
                    self.count += sign;
                    self.int_sum += sign as i128 * a.value(row) as i128;
                }
            }
        }
    }
}

/// One aggregation's output column, written at each row's input position.
struct RunningOutput {
    counts: Vec<i64>,
    floats: Vec<f64>,
    ints: Vec<i64>,
    valid: Vec<bool>,
}

impl RunningSums {
    fn plan(schema: &SchemaRef, batches: &[RecordBatch], aggs: &[crate::spec::expr::AggExpr]) -> Result<Option<RunningSums>> {
        let mut planned = Vec::with_capacity(aggs.len());
        for agg in aggs {
            let column = agg.column.as_deref().map(|c| crate::spec::types::column_index(schema, c)).transpose()?;
            let mut int_values = false;
            let values = match (agg.func, column) {
                (AggFunc::Count, None) => None,
                (AggFunc::Count | AggFunc::Sum | AggFunc::Mean, Some(c)) => {
                    let t = schema.field(c).data_type();
                    let float = matches!(t, DataType::Float32 | DataType::Float64);
                    let int = t.is_integer() && *t != DataType::UInt64;
                    if !float && !int && agg.func != AggFunc::Count {
                        return Ok(None);
                    }
                    int_values = !float;
                    let mut per_batch = Vec::with_capacity(batches.len());
                    for batch in batches {
                        let array = batch.column(c);
                        per_batch.push(if float {
                            RunningValues::Float(arrow_cast::cast(array, &DataType::Float64)?.as_primitive::<Float64Type>().clone())
                        } else if int {
                            RunningValues::Int(arrow_cast::cast(array, &DataType::Int64)?.as_primitive::<Int64Type>().clone())
                        } else {
                            // count(col) of any other type only needs validity.
                            RunningValues::Int(Int64Array::new(vec![0; array.len()].into(), array.logical_nulls()))
                        });
                    }
                    Some(per_batch)
                }
                _ => return Ok(None),
            };
            planned.push(RunningAgg { func: agg.func, name: agg.alias.clone(), values, int: int_values });
        }
        Ok(Some(RunningSums { aggs: planned }))
    }

    fn stream(&self, input: &Prepared, spec: &RollingSpec, period: Option<i64>, n: usize) -> Result<Vec<ArrayRef>> {
        let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
        let k = self.aggs.len();
        let mut outputs: Vec<RunningOutput> = self
            .aggs
            .iter()
            .map(|agg| {
                let counting = agg.func == AggFunc::Count;
                let int_sum = agg.func == AggFunc::Sum && agg.int;
                RunningOutput {
                    counts: vec![0; if counting { n } else { 0 }],
                    floats: vec![0.0; if counting || int_sum { 0 } else { n }],
                    ints: vec![0; if int_sum { n } else { 0 }],
                    valid: vec![false; if counting { 0 } else { n }],
                }
            })
            .collect();
        // Per key: the rows of its window (batch, row, time) and one state per aggregation.
        let mut windows: Vec<VecDeque<(u32, u32, i64)>> = Vec::new();
        let mut states: Vec<Running> = Vec::new();
        let (include_start, include_end) = time_bounds(spec.closed);
        let aggs = &self.aggs;

        let apply = |states: &mut [Running], g: usize, b: u32, row: u32, sign: i64| {
            for (a, agg) in aggs.iter().enumerate() {
                if let Some(values) = &agg.values {
                    states[g * k + a].apply(&values[b as usize], row as usize, sign);
                }
            }
        };
        // Drops rows that left the window ending at `t`, or past the row budget.
        let evict = |windows: &mut [VecDeque<(u32, u32, i64)>], states: &mut [Running], g: usize, t: i64, keep: Option<usize>| {
            let queue = &mut windows[g];
            while let Some(&(b, row, time)) = queue.front() {
                let leaves = match (period, keep) {
                    (_, Some(limit)) => queue.len() > limit,
                    (Some(p), None) => {
                        let start = t as i128 - p as i128;
                        (time as i128) < start || (!include_start && time as i128 == start)
                    }
                    (None, None) => false,
                };
                if !leaves {
                    break;
                }
                queue.pop_front();
                apply(states, g, b, row, -1);
            }
            if queue.is_empty() {
                // An empty window restarts from zero, shedding rounding error.
                for state in &mut states[g * k..(g + 1) * k] {
                    *state = Running::default();
                }
            }
        };
        let write =
            |outputs: &mut [RunningOutput], states: &[Running], windows: &[VecDeque<(u32, u32, i64)>], g: usize, at: usize| -> Result<()> {
                for (a, agg) in aggs.iter().enumerate() {
                    let state = &states[g * k + a];
                    let out = &mut outputs[a];
                    match agg.func {
                        AggFunc::Count => out.counts[at] = if agg.values.is_some() { state.count } else { windows[g].len() as i64 },
                        _ if state.count == 0 => {}
                        AggFunc::Sum if agg.int => {
                            out.ints[at] = i64::try_from(state.int_sum)
                                .map_err(|_| SashError::Overflow(format!("{} does not fit Int64", agg.name)))?;
                            out.valid[at] = true;
                        }
                        _ => {
                            let sum = if agg.int { state.int_sum as f64 } else { state.float.value() };
                            out.floats[at] = if agg.func == AggFunc::Mean { sum / state.count as f64 } else { sum };
                            out.valid[at] = true;
                        }
                    }
                }
                Ok(())
            };

        // Rows of the current time that wait for the rest of their time:
        // (key, output position, batch, row).
        let mut run: Vec<(usize, usize, u32, u32)> = Vec::new();
        let mut run_time = i64::MIN;
        let mut gids = Vec::new();
        let mut base = 0usize;
        for (b, batch) in input.batches.iter().enumerate() {
            let times = input.time.values(batch.column(input.time.index));
            let mut start = 0;
            while start < times.len() {
                crate::exec::cancel::check()?;
                let end = (start + 16 * 1024).min(times.len());
                grouper.assign(b, start..end, &mut gids)?;
                let groups = grouper.num_groups();
                if windows.len() < groups {
                    windows.resize_with(groups, VecDeque::new);
                    states.resize(groups * k, Running::default());
                }
                for (i, &g) in gids.iter().enumerate() {
                    let row = start + i;
                    let g = g as usize;
                    let t = times[row];
                    let at = base + row;
                    match (spec.period, period) {
                        (RollingPeriod::Rows(count), _) => {
                            let (budget, include_self) = row_budget(count as usize, spec.closed);
                            if include_self {
                                windows[g].push_back((b as u32, row as u32, t));
                                apply(&mut states, g, b as u32, row as u32, 1);
                                evict(&mut windows, &mut states, g, t, Some(budget));
                                write(&mut outputs, &states, &windows, g, at)?;
                            } else {
                                evict(&mut windows, &mut states, g, t, Some(budget));
                                write(&mut outputs, &states, &windows, g, at)?;
                                windows[g].push_back((b as u32, row as u32, t));
                                apply(&mut states, g, b as u32, row as u32, 1);
                            }
                        }
                        _ => {
                            if t != run_time {
                                finish_run(
                                    &mut run,
                                    run_time,
                                    include_end,
                                    &mut windows,
                                    &mut states,
                                    &evict,
                                    &write,
                                    &apply,
                                    &mut outputs,
                                )?;
                                run_time = t;
                            }
                            if include_end {
                                // Rows of the same time see each other: enter now, answer at the end of the run.
                                windows[g].push_back((b as u32, row as u32, t));
                                apply(&mut states, g, b as u32, row as u32, 1);
                            } else {
                                evict(&mut windows, &mut states, g, t, None);
                                write(&mut outputs, &states, &windows, g, at)?;
                            }
                            run.push((g, at, b as u32, row as u32));
                        }
                    }
                }
                start = end;
            }
            base += times.len();
        }
        finish_run(&mut run, run_time, include_end, &mut windows, &mut states, &evict, &write, &apply, &mut outputs)?;

        Ok(self
            .aggs
            .iter()
            .zip(outputs)
            .map(|(agg, out)| -> ArrayRef {
                match agg.func {
                    AggFunc::Count => Arc::new(Int64Array::from(out.counts)),
                    AggFunc::Sum if agg.int => Arc::new(Int64Array::new(out.ints.into(), Some(NullBuffer::from(out.valid)))),
                    _ => Arc::new(Float64Array::new(out.floats.into(), Some(NullBuffer::from(out.valid)))),
                }
            })
            .collect())
    }
}

/// Ends a run of rows sharing one time: with a closed end they entered their
/// windows already and now answer; with an open end they answered already
/// and now enter.
#[allow(clippy::too_many_arguments)]
fn finish_run<E, W, A>(
    run: &mut Vec<(usize, usize, u32, u32)>,
    time: i64,
    include_end: bool,
    windows: &mut [VecDeque<(u32, u32, i64)>],
    states: &mut [Running],
    evict: &E,
    write: &W,
    apply: &A,
    outputs: &mut [RunningOutput],
) -> Result<()>
where
    E: Fn(&mut [VecDeque<(u32, u32, i64)>], &mut [Running], usize, i64, Option<usize>),
    W: Fn(&mut [RunningOutput], &[Running], &[VecDeque<(u32, u32, i64)>], usize, usize) -> Result<()>,
    A: Fn(&mut [Running], usize, u32, u32, i64),
{
    for &(g, at, b, row) in run.iter() {
        if include_end {
            evict(windows, states, g, time, None);
            write(outputs, states, windows, g, at)?;
        } else {
            windows[g].push_back((b, row, time));
            apply(states, g, b, row, 1);
        }
    }
    run.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FloatSum;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Integers up to 2^62 as floats: their exact sums fit an i128, so the
    /// compensation can be checked to hold exactly what rounding lost.
    #[test]
    fn float_sums_keep_the_rounding_error_exactly() {
        let mut rng = StdRng::seed_from_u64(7);
        for case in 0..2_000 {
            let mut sum = FloatSum::default();
            let mut exact: i128 = 0;
            let mut inside: Vec<f64> = Vec::new();
            for _ in 0..rng.random_range(1..40) {
                if !inside.is_empty() && rng.random_bool(0.3) {
                    let x = inside.swap_remove(rng.random_range(0..inside.len()));
                    sum.add(x, -1);
                    exact -= x as i128;
                } else {
                    let bits = rng.random_range(0..62);
                    let x = (rng.random_range(0..1i64 << bits) as f64) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    sum.add(x, 1);
                    exact += x as i128;
                    inside.push(x);
                }
                // sum + compensation, taken apart exactly, is the true sum.
                assert_eq!(sum.sum as i128 + sum.compensation as i128, exact, "case {case}");
            }
        }
    }
}
