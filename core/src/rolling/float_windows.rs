//! The rolling fast path for the commonest requests: count, sum, mean, min
//! and max of one floating-point column over a time period.
//!
//! Rows are sorted by time, so the rows that enter or leave windows as time
//! advances are ranges of that order, whatever their key: three cursors
//! (entered, left, answered) sweep the rows once, and each key keeps only its
//! running sums (and, for min and max, monotonic queues of candidates). A row
//! costs a key lookup, one entry, amortized one exit and a write, whatever
//! the window's size: no row is visited once per window it belongs to.

use crate::error::Result;
use crate::expr::{AggExpr, AggFunc};
use crate::keys::Grouper;
use crate::prepare::{key_columns, Prepared};
use crate::spec::Closed;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array};
use arrow_buffer::{bit_util, BooleanBuffer, MutableBuffer, NullBuffer};
use arrow_schema::{DataType, SchemaRef};
use std::collections::VecDeque;
use std::sync::Arc;

/// A null value in a window ring. User NaNs are stored as the canonical NaN,
/// so this payload can only mean "null"; stored values are never output.
const NULL_BITS: u64 = 0x7ff0_dead_beef_0001;

#[derive(Clone, Copy, PartialEq)]
enum Output {
    /// `count()`: rows in the window.
    Rows,
    /// `count(c)`: non-null values in the window.
    Valid,
    Sum,
    Mean,
    Min,
    Max,
}

pub(super) struct FloatWindows {
    outputs: Vec<Output>,
    /// The values column, as f64 (Float32 is widened); None when only `count()` is asked.
    column: Option<usize>,
    /// Its type, which min and max keep.
    column_type: DataType,
    period: i64,
    include_start: bool,
    include_end: bool,
}

/// One key's running sums over the rows of its current window.
#[derive(Default, Clone, Copy)]
struct KeyState {
    rows: i64,
    valid: i64,
    /// Neumaier-compensated sum of the finite values.
    sum: f64,
    compensation: f64,
    /// Non-finite values are counted apart, so that one leaving the window leaves no trace in the sum.
    nan: u32,
    pos_inf: u32,
    neg_inf: u32,
}

impl KeyState {
    #[inline(always)]
    fn add_finite(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
    }

    #[inline(always)]
    fn enter(&mut self, bits: u64) {
        self.rows += 1;
        self.account(bits, 1);
    }

    #[inline(always)]
    fn leave(&mut self, bits: u64) {
        self.rows -= 1;
        self.account(bits, -1);
        if self.rows == 0 {
            // An empty window restarts from zero, shedding rounding error.
            self.sum = 0.0;
            self.compensation = 0.0;
        }
    }

    #[inline(always)]
    fn account(&mut self, bits: u64, sign: i32) {
        let x = f64::from_bits(bits);
        if x.is_finite() {
            self.valid += sign as i64;
            self.add_finite(if sign > 0 { x } else { -x });
        } else if bits != NULL_BITS {
            self.valid += sign as i64;
            let counter = if x.is_nan() {
                &mut self.nan
            } else if x > 0.0 {
                &mut self.pos_inf
            } else {
                &mut self.neg_inf
            };
            *counter = counter.wrapping_add_signed(sign);
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

/// One key's candidates for the window's min and max: monotonic queues of
/// (sorted row, value), oldest first. A value is dropped once a newer one is
/// at least as extreme, since it can never be the answer again; so the front
/// is the answer, and each value enters and leaves once.
#[derive(Default)]
struct Extremes {
    min: VecDeque<(usize, f64)>,
    max: VecDeque<(usize, f64)>,
}

/// `a < b` in sash's order of floats, where NaN is above +inf.
#[inline(always)]
fn below(a: f64, b: f64) -> bool {
    !a.is_nan() && (b.is_nan() || a < b)
}

impl Extremes {
    #[inline(always)]
    fn enter(&mut self, row: usize, bits: u64, track_min: bool, track_max: bool) {
        if bits == NULL_BITS {
            return;
        }
        let x = f64::from_bits(bits);
        // Ties keep the older value in front, as a scan that keeps the first extreme would.
        if track_min {
            while self.min.back().is_some_and(|&(_, v)| below(x, v)) {
                self.min.pop_back();
            }
            self.min.push_back((row, x));
        }
        if track_max {
            while self.max.back().is_some_and(|&(_, v)| below(v, x)) {
                self.max.pop_back();
            }
            self.max.push_back((row, x));
        }
    }

    #[inline(always)]
    fn leave(&mut self, row: usize) {
        if self.min.front().is_some_and(|&(r, _)| r == row) {
            self.min.pop_front();
        }
        if self.max.front().is_some_and(|&(r, _)| r == row) {
            self.max.pop_front();
        }
    }
}

/// Rows from the oldest one still in some window to the newest one read,
/// in time order: (key, time, value bits).
#[derive(Default)]
struct Pending {
    keys: Vec<u32>,
    times: Vec<i64>,
    bits: Vec<u64>,
    /// Sorted-row index of `keys[0]`.
    first: usize,
}

impl Pending {
    fn end(&self) -> usize {
        self.first + self.keys.len()
    }

    /// Forgets the rows before sorted-row `keep`, once that frees enough to be worth the move.
    fn forget_before(&mut self, keep: usize) {
        let drop = keep - self.first;
        if drop >= 64 * 1024 && drop * 2 >= self.keys.len() {
            self.keys.drain(..drop);
            self.times.drain(..drop);
            self.bits.drain(..drop);
            self.first = keep;
        }
    }
}

/// One output column being filled at the rows' input positions.
struct Column {
    output: Output,
    counts: Vec<i64>,
    floats: Vec<f64>,
    valid: MutableBuffer,
}

impl FloatWindows {
    /// The plan, when every aggregation is `count()`, or count, sum or mean
    /// of one Float32/Float64 column; None sends the request elsewhere.
    pub(super) fn plan(schema: &SchemaRef, aggs: &[AggExpr], period: i64, closed: Closed) -> Result<Option<FloatWindows>> {
        let mut column = None;
        let mut outputs = Vec::with_capacity(aggs.len());
        for agg in aggs {
            let output = match (agg.func, &agg.column) {
                (AggFunc::Count, None) => Output::Rows,
                (AggFunc::Count | AggFunc::Sum | AggFunc::Mean | AggFunc::Min | AggFunc::Max, Some(name)) => {
                    let index = crate::types::column_index(schema, name)?;
                    if !matches!(schema.field(index).data_type(), DataType::Float32 | DataType::Float64)
                        || column.is_some_and(|c| c != index)
                    {
                        return Ok(None);
                    }
                    column = Some(index);
                    match agg.func {
                        AggFunc::Count => Output::Valid,
                        AggFunc::Sum => Output::Sum,
                        AggFunc::Min => Output::Min,
                        AggFunc::Max => Output::Max,
                        _ => Output::Mean,
                    }
                }
                _ => return Ok(None),
            };
            outputs.push(output);
        }
        Ok(Some(FloatWindows {
            outputs,
            column,
            column_type: column.map_or(DataType::Float64, |c| schema.field(c).data_type().clone()),
            period,
            include_start: matches!(closed, Closed::Left | Closed::Both),
            include_end: matches!(closed, Closed::Right | Closed::Both),
        }))
    }

    /// The first time that stays in the window of a row at `time`; None when
    /// nothing can leave (the window reaches below the smallest time).
    fn eviction_bound(&self, time: i64) -> Option<i64> {
        let start = time as i128 - self.period as i128 + i128::from(!self.include_start);
        (start > i64::MIN as i128).then_some(start as i64)
    }

    pub(super) fn stream(&self, input: &Prepared, n: usize) -> Result<Vec<ArrayRef>> {
        let mut columns: Vec<Column> = self
            .outputs
            .iter()
            .map(|&output| {
                let counting = matches!(output, Output::Rows | Output::Valid);
                Column {
                    output,
                    counts: if counting { vec![0; n] } else { Vec::new() },
                    floats: if counting { Vec::new() } else { vec![0.0; n] },
                    valid: MutableBuffer::from_len_zeroed(if counting { 0 } else { bit_util::ceil(n, 8) }),
                }
            })
            .collect();
        let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
        let mut states: Vec<KeyState> = Vec::new();
        let track_min = self.outputs.contains(&Output::Min);
        let track_max = self.outputs.contains(&Output::Max);
        let mut extremes: Vec<Extremes> = Vec::new();
        let mut pending = Pending::default();
        // Sorted-row cursors, each only moving forward: rows before `left`
        // have left every window, rows before `entered` have entered theirs,
        // rows before `answered` have their output.
        let (mut left, mut entered, mut answered) = (0usize, 0usize, 0usize);
        let mut bound_time = None;

        let chunks: Vec<(usize, usize, usize)> = input
            .batches
            .iter()
            .enumerate()
            .flat_map(|(b, batch)| {
                let rows = batch.num_rows();
                (0..rows).step_by(16 * 1024).map(move |start| (b, start, (start + 16 * 1024).min(rows)))
            })
            .collect();
        let mut gids = Vec::new();
        for (chunk, &(b, start, end)) in chunks.iter().enumerate() {
            let batch = &input.batches[b];
            grouper.assign(b, start..end, &mut gids)?;
            if states.len() < grouper.num_groups() {
                states.resize(grouper.num_groups(), KeyState::default());
                if track_min || track_max {
                    extremes.resize_with(grouper.num_groups(), Extremes::default);
                }
            }
            let times = input.time.values(batch.column(input.time.index));
            pending.keys.extend_from_slice(&gids);
            pending.times.extend_from_slice(&times[start..end]);
            match self.column {
                None => pending.bits.resize(pending.keys.len(), 0),
                Some(c) => {
                    let values = arrow_cast::cast(&batch.column(c).slice(start, end - start), &DataType::Float64)?;
                    let values = values.as_primitive::<Float64Type>();
                    let canonical = |x: f64| if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() };
                    match values.nulls().filter(|n| n.null_count() > 0) {
                        None => pending.bits.extend(values.values().iter().map(|&x| canonical(x))),
                        Some(nulls) => {
                            pending.bits.extend(
                                values.values().iter().zip(nulls.iter()).map(|(&x, valid)| if valid { canonical(x) } else { NULL_BITS }),
                            )
                        }
                    }
                }
            }

            // With a closed end, rows answer only once every row of their time
            // is known: the last time read may continue in the next chunk.
            let last = chunk + 1 == chunks.len();
            let mut ready = pending.end();
            if self.include_end && !last {
                let local = &pending.times;
                let last_time = local[local.len() - 1];
                ready = pending.first + local.partition_point(|&t| t < last_time);
            }
            let keys = &pending.keys;
            let times = &pending.times;
            let bits = &pending.bits;
            let first = pending.first;
            while answered < ready {
                let i = answered - first;
                let t = times[i];
                if bound_time != Some(t) {
                    bound_time = Some(t);
                    while entered < pending.end() && (times[entered - first] < t || (self.include_end && times[entered - first] == t)) {
                        let e = entered - first;
                        states[keys[e] as usize].enter(bits[e]);
                        if track_min || track_max {
                            extremes[keys[e] as usize].enter(entered, bits[e], track_min, track_max);
                        }
                        entered += 1;
                    }
                    if let Some(bound) = self.eviction_bound(t) {
                        while left < entered && times[left - first] < bound {
                            let l = left - first;
                            states[keys[l] as usize].leave(bits[l]);
                            if track_min || track_max {
                                extremes[keys[l] as usize].leave(left);
                            }
                            left += 1;
                        }
                    }
                }
                let at = match &input.order {
                    Some(order) => order[answered] as usize,
                    None => answered,
                };
                let g = keys[i] as usize;
                write(&mut columns, &states[g], extremes.get(g), at);
                answered += 1;
            }
            pending.forget_before(left.min(answered));
        }

        columns
            .into_iter()
            .map(|column| -> Result<ArrayRef> {
                match column.output {
                    Output::Rows | Output::Valid => Ok(Arc::new(Int64Array::from(column.counts)) as ArrayRef),
                    output => {
                        let valid = NullBuffer::new(BooleanBuffer::new(column.valid.into(), 0, n));
                        let floats: ArrayRef = Arc::new(Float64Array::new(column.floats.into(), Some(valid)));
                        // Min and max keep the column's type; f32 -> f64 -> f32 is exact.
                        match output {
                            Output::Min | Output::Max if self.column_type != DataType::Float64 => {
                                arrow_cast::cast(&floats, &self.column_type).map_err(Into::into)
                            }
                            _ => Ok(floats),
                        }
                    }
                }
            })
            .collect()
    }
}

/// Writes one row's aggregates, at its input position.
#[inline(always)]
fn write(columns: &mut [Column], state: &KeyState, extremes: Option<&Extremes>, at: usize) {
    for column in columns.iter_mut() {
        match column.output {
            Output::Rows => column.counts[at] = state.rows,
            Output::Valid => column.counts[at] = state.valid,
            _ if state.valid == 0 => {}
            Output::Min | Output::Max => {
                let extremes = extremes.expect("kept when min or max is asked");
                let queue = if column.output == Output::Min { &extremes.min } else { &extremes.max };
                column.floats[at] = queue.front().expect("a valid value is in the window").1;
                bit_util::set_bit(column.valid.as_slice_mut(), at);
            }
            output => {
                let sum = state.float_sum();
                column.floats[at] = if output == Output::Mean { sum / state.valid as f64 } else { sum };
                bit_util::set_bit(column.valid.as_slice_mut(), at);
            }
        }
    }
}
