//! Rolling aggregation: one output row per input row, aggregating the rows of
//! the same key in a window that ends at that row.

use crate::agg::{AggPlan, Rows};
use crate::error::{Result, SashError};
use crate::expr::AggFunc;
use crate::keys::Grouper;
use crate::prepare::{key_columns, Prepared};
use crate::spec::{Closed, RollingPeriod, RollingSpec};
use crate::DROPPED_NULL_TIMES_KEY;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use arrow_schema::{Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use std::sync::Arc;

/// Computes a rolling aggregation. Returns one batch per input batch, each
/// holding that batch's columns (shared, not copied) followed by the
/// aggregates. With `null_time = "drop"` the dropped rows are left out.
pub fn rolling(schema: &SchemaRef, batches: &[RecordBatch], spec: &RollingSpec) -> Result<Vec<RecordBatch>> {
    spec.validate()?;
    // Everything about the spec is checked before the data is looked at.
    let (time, _, _) = Prepared::resolve(schema, batches, &spec.time, &spec.by)?;
    let mut plan = AggPlan::new(schema, &spec.aggs)?;
    if let RollingPeriod::Time(d) = spec.period {
        time.ticks("period", d)?;
    }
    let input = Prepared::new(schema, batches, &spec.time, &spec.by, spec.null_time)?;

    let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(plan.fields.iter().cloned());
    let mut metadata = schema.metadata().clone();
    if spec.null_time == crate::spec::NullTime::Drop {
        metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), input.dropped_null_times.to_string());
    }
    let out_schema = Arc::new(Schema::new_with_metadata(fields, metadata));

    // Windows may span batches: work on one time-ordered batch.
    let sorted = match input.batches.len() {
        0 => None,
        1 => Some(input.batches[0].clone()),
        _ => Some(concat_batches(schema, &input.batches)?),
    };
    let n = sorted.as_ref().map_or(0, RecordBatch::num_rows);
    let aggregates = match &sorted {
        None => plan.finish(&[])?,
        Some(batch) => generic(&input, batch, spec, &mut plan)?,
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

/// Works for every aggregation: each output row's slot is fed the rows of its window.
fn generic(input: &Prepared, batch: &RecordBatch, spec: &RollingSpec, plan: &mut AggPlan) -> Result<Vec<ArrayRef>> {
    let n = batch.num_rows();
    let times = input.time.values(batch.column(input.time.index));
    let mut grouper = Grouper::new(&input.key_types, &key_columns(std::slice::from_ref(batch), &input.key_indices))?;
    let mut gids = Vec::with_capacity(n);
    grouper.assign(0, 0..n, &mut gids)?;

    // Rows of each key, in time order (a stable counting sort by group).
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
    drop(gids);

    // Each sorted row writes to the slot of its input position.
    let original = |row: u32| -> u32 {
        match &input.order {
            Some(order) => order[row as usize],
            None => row,
        }
    };
    plan.grow(n);
    let period = match spec.period {
        RollingPeriod::Time(d) => Some(input.time.ticks("period", d)?),
        RollingPeriod::Rows(_) => None,
    };
    if let Some(fast) = RunningSums::plan(batch, &spec.aggs)? {
        return fast.run(n, &by_key, &starts, &times, spec, period, &original);
    }
    let mut slots = Vec::new();
    for g in 0..groups {
        let segment = &by_key[starts[g]..starts[g + 1]];
        let mut update = |row: u32, from: usize, to: usize| -> Result<()> {
            if from < to {
                slots.clear();
                slots.resize(to - from, original(row));
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
    for (i, &row) in segment.iter().enumerate() {
        let (from, to) = match (spec.period, period) {
            (RollingPeriod::Rows(count), _) => {
                let count = count as usize;
                let (back, include_self) = match spec.closed {
                    Closed::Right => (count.saturating_sub(1), true),
                    Closed::Left => (count, false),
                    Closed::Both => (count, true),
                    Closed::None => (count.saturating_sub(1), false),
                };
                (i.saturating_sub(back), if include_self { i + 1 } else { i })
            }
            (_, Some(p)) => {
                let t = times[row as usize] as i128;
                let start = t - p as i128;
                let time_at = |k: usize| times[segment[k] as usize] as i128;
                let include_start = matches!(spec.closed, Closed::Left | Closed::Both);
                let include_end = matches!(spec.closed, Closed::Right | Closed::Both);
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
        visit(row, from, to)?;
    }
    Ok(())
}

/// The running-sum fast path: when every aggregation is count, sum or mean
/// of a primitive column, windows slide by adding the rows that enter and
/// removing the rows that leave instead of re-reading the whole window.
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
    values: Option<RunningValues>,
}

/// Window state of one aggregation; non-finite floats are counted apart so
/// that a NaN or an infinity leaving the window leaves no trace in the sum.
#[derive(Default, Clone, Copy)]
struct Running {
    count: i64,
    sum: f64,
    compensation: f64,
    int_sum: i128,
    nan: i64,
    pos_inf: i64,
    neg_inf: i64,
}

impl Running {
    /// Neumaier's compensated addition.
    fn add_float(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn apply(&mut self, values: &RunningValues, row: usize, sign: i64) {
        match values {
            RunningValues::Float(a) => {
                if a.is_valid(row) {
                    self.count += sign;
                    let x = a.value(row);
                    if x.is_nan() {
                        self.nan += sign;
                    } else if x == f64::INFINITY {
                        self.pos_inf += sign;
                    } else if x == f64::NEG_INFINITY {
                        self.neg_inf += sign;
                    } else {
                        self.add_float(sign as f64 * x);
                    }
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

    fn float_sum(&self) -> f64 {
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

impl RunningSums {
    fn plan(batch: &RecordBatch, aggs: &[crate::expr::AggExpr]) -> Result<Option<RunningSums>> {
        let schema = batch.schema();
        let mut planned = Vec::with_capacity(aggs.len());
        for agg in aggs {
            let column = agg.column.as_deref().map(|c| crate::types::column_index(&schema, c)).transpose()?;
            let values = match (agg.func, column) {
                (AggFunc::Count, None) => None,
                (AggFunc::Count | AggFunc::Sum | AggFunc::Mean, Some(c)) => {
                    let array = batch.column(c);
                    let t = array.data_type();
                    if matches!(t, DataType::Float32 | DataType::Float64) {
                        Some(RunningValues::Float(arrow_cast::cast(array, &DataType::Float64)?.as_primitive::<Float64Type>().clone()))
                    } else if t.is_integer() && *t != DataType::UInt64 {
                        Some(RunningValues::Int(arrow_cast::cast(array, &DataType::Int64)?.as_primitive::<Int64Type>().clone()))
                    } else if agg.func == AggFunc::Count {
                        // count(col) of any other type only needs validity.
                        Some(RunningValues::Int(Int64Array::new(vec![0; array.len()].into(), array.logical_nulls())))
                    } else {
                        return Ok(None);
                    }
                }
                _ => return Ok(None),
            };
            planned.push(RunningAgg { func: agg.func, name: agg.alias.clone(), values });
        }
        Ok(Some(RunningSums { aggs: planned }))
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        n: usize,
        by_key: &[u32],
        starts: &[usize],
        times: &[i64],
        spec: &RollingSpec,
        period: Option<i64>,
        original: &dyn Fn(u32) -> u32,
    ) -> Result<Vec<ArrayRef>> {
        let mut outputs = Vec::with_capacity(self.aggs.len());
        for agg in &self.aggs {
            let mut counts = vec![0i64; if agg.func == AggFunc::Count { n } else { 0 }];
            let mut floats = vec![0f64; if agg.func != AggFunc::Count { n } else { 0 }];
            let mut ints = Vec::new();
            let mut valid = vec![false; if agg.func != AggFunc::Count { n } else { 0 }];
            let int_sum = agg.func == AggFunc::Sum && matches!(agg.values, Some(RunningValues::Int(_)));
            if int_sum {
                ints = vec![0i64; n];
            }
            for g in 0..starts.len() - 1 {
                let segment = &by_key[starts[g]..starts[g + 1]];
                let mut state = Running::default();
                let (mut in_from, mut in_to) = (0usize, 0usize);
                let mut visit = |row: u32, from: usize, to: usize| -> Result<()> {
                    if let Some(values) = &agg.values {
                        while in_to < to {
                            state.apply(values, segment[in_to] as usize, 1);
                            in_to += 1;
                        }
                        while in_from < from {
                            state.apply(values, segment[in_from] as usize, -1);
                            in_from += 1;
                        }
                        if in_from == in_to {
                            // An empty window: start again from zero, shedding rounding.
                            state = Running::default();
                        }
                    }
                    let at = original(row) as usize;
                    let rows = to.saturating_sub(from) as i64;
                    match agg.func {
                        AggFunc::Count => counts[at] = if agg.values.is_some() { state.count } else { rows },
                        _ if state.count == 0 => {}
                        AggFunc::Sum if int_sum => {
                            ints[at] = i64::try_from(state.int_sum)
                                .map_err(|_| SashError::Overflow(format!("{} does not fit Int64", agg.name)))?;
                            valid[at] = true;
                        }
                        AggFunc::Sum | AggFunc::Mean => {
                            let sum = match agg.values {
                                Some(RunningValues::Int(_)) => state.int_sum as f64,
                                _ => state.float_sum(),
                            };
                            floats[at] = if agg.func == AggFunc::Mean { sum / state.count as f64 } else { sum };
                            valid[at] = true;
                        }
                        _ => unreachable!("planned above"),
                    }
                    Ok(())
                };
                for_each_window(segment, times, spec, period, &mut visit)?;
            }
            let array: ArrayRef = match agg.func {
                AggFunc::Count => Arc::new(Int64Array::from(counts)),
                _ if int_sum => Arc::new(Int64Array::new(ints.into(), Some(NullBuffer::from(valid)))),
                _ => Arc::new(Float64Array::new(floats.into(), Some(NullBuffer::from(valid)))),
            };
            outputs.push(array);
        }
        Ok(outputs)
    }
}
