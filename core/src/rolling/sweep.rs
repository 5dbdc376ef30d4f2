//! The rolling fast path for the commonest requests: count, sum, mean, min,
//! max, var and std of one numeric column (floats, or integers other than
//! UInt64), over a time period or a row count.
//!
//! Rows are sorted by time, so the rows that enter or leave windows as time
//! advances are ranges of that order, whatever their key: three cursors
//! (entered, left, answered) sweep the rows once, and each key keeps only its
//! running sums (and, for min and max, monotonic queues of candidates). A row
//! costs a key lookup, one entry, amortized one exit and a write, whatever
//! the window's size: no row is visited once per window it belongs to. With
//! a row count, each key's window is a queue of its last rows instead.

use super::FloatSum;
use crate::error::{Result, SashError};
use crate::exec::grouper::Grouper;
use crate::exec::prepare::{key_columns, Prepared};
use crate::spec::expr::{AggExpr, AggFunc};
use crate::spec::Closed;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array};
use arrow_buffer::{bit_util, BooleanBuffer, MutableBuffer, NullBuffer};
use arrow_schema::{DataType, SchemaRef};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

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
    Var,
    Std,
}

pub(super) struct StreamingWindows {
    /// Per aggregation: what it outputs and its alias (for overflow errors).
    outputs: Vec<(Output, String)>,
    /// The values column; None when only `count()` is asked.
    column: Option<usize>,
    /// Its type, which min and max keep.
    column_type: DataType,
    /// Integer values: exact sums (Int64), values kept as i64.
    int: bool,
    span: Span,
    include_start: bool,
    include_end: bool,
}

/// A rolling window's extent: a duration in ticks of the time column, or a
/// number of rows of the key (`budget` rows kept, the row itself among them
/// or not, from the `closed` rule).
#[derive(Clone, Copy)]
pub(super) enum Span {
    Time(i64),
    Rows { budget: usize, include_self: bool },
}

impl Span {
    pub(super) fn of(period: crate::spec::RollingPeriod, ticks: Option<i64>, closed: Closed) -> Option<Span> {
        match (period, ticks) {
            (crate::spec::RollingPeriod::Rows(count), _) => {
                let (budget, include_self) = super::frame::row_budget(usize::try_from(count).ok()?, closed);
                Some(Span::Rows { budget, include_self })
            }
            (_, Some(p)) => Some(Span::Time(p)),
            _ => None,
        }
    }
}

/// A value as the sweep keeps it: an f64 or an i64, by its bits.
trait Kind {
    const INT: bool;
    /// The Arrow type values are cast to, and read in place from.
    type Arrow: ArrowPrimitiveType;
    /// The running sum [`StreamingWindows::sweep_sums`] keeps per key.
    type Sum: RunningSum;
    fn to_bits(value: <Self::Arrow as ArrowPrimitiveType>::Native) -> u64;
    fn as_f64(bits: u64) -> f64;
    /// `a < b` in sash's order (for floats, NaN is above +inf).
    fn below(a: u64, b: u64) -> bool;
}

struct Floats;
struct Ints;

impl Kind for Floats {
    const INT: bool = false;
    type Arrow = Float64Type;
    type Sum = FloatSum;
    #[inline(always)]
    fn to_bits(value: f64) -> u64 {
        value.to_bits()
    }
    #[inline(always)]
    fn as_f64(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    #[inline(always)]
    fn below(a: u64, b: u64) -> bool {
        let (a, b) = (f64::from_bits(a), f64::from_bits(b));
        !a.is_nan() && (b.is_nan() || a < b)
    }
}

impl Kind for Ints {
    const INT: bool = true;
    type Arrow = Int64Type;
    type Sum = IntSum;
    #[inline(always)]
    fn to_bits(value: i64) -> u64 {
        value as u64
    }
    #[inline(always)]
    fn as_f64(bits: u64) -> f64 {
        (bits as i64) as f64
    }
    #[inline(always)]
    fn below(a: u64, b: u64) -> bool {
        (a as i64) < (b as i64)
    }
}

/// A sum that values enter and leave, kept by bits as the sweep reads them.
trait RunningSum: Default + Copy {
    fn add(&mut self, bits: u64, sign: i64);
    fn total(&self) -> f64;
    /// The exact sum, for integers.
    fn exact(&self) -> i128;
    /// Whether a NaN or an infinity is among the values.
    fn has_non_finite(&self) -> bool;
}

impl RunningSum for FloatSum {
    #[inline(always)]
    fn add(&mut self, bits: u64, sign: i64) {
        FloatSum::add(self, f64::from_bits(bits), sign);
    }
    #[inline(always)]
    fn total(&self) -> f64 {
        self.value()
    }
    fn exact(&self) -> i128 {
        unreachable!("float sums are not exact")
    }
    #[inline(always)]
    fn has_non_finite(&self) -> bool {
        FloatSum::has_non_finite(self)
    }
}

#[derive(Default, Clone, Copy)]
struct IntSum(i128);

impl RunningSum for IntSum {
    #[inline(always)]
    fn add(&mut self, bits: u64, sign: i64) {
        self.0 += sign as i128 * (bits as i64) as i128;
    }
    #[inline(always)]
    fn total(&self) -> f64 {
        self.0 as f64
    }
    #[inline(always)]
    fn exact(&self) -> i128 {
        self.0
    }
    fn has_non_finite(&self) -> bool {
        false
    }
}

/// One key's running sums over the rows of its current window: row and
/// valid counts and the sum of the values' kind (kept small, so that more
/// keys fit in the cache).
#[derive(Default, Clone, Copy)]
struct SumState<S> {
    rows: i64,
    valid: i64,
    sum: S,
}

impl<S: RunningSum> SumState<S> {
    #[inline(always)]
    fn enter(&mut self, bits: u64, valid: bool) {
        self.rows += 1;
        if valid {
            self.valid += 1;
            self.sum.add(bits, 1);
        }
    }

    #[inline(always)]
    fn leave(&mut self, bits: u64, valid: bool) {
        self.rows -= 1;
        if valid {
            self.valid -= 1;
            self.sum.add(bits, -1);
        }
        if self.rows == 0 {
            // An empty window restarts from zero, shedding rounding error.
            self.sum = S::default();
        }
    }
}

/// One key's candidates for the window's min and max: monotonic queues of
/// (sorted row, value bits), oldest first. A value is dropped once a newer
/// one is at least as extreme, since it can never be the answer again; so
/// the front is the answer, and each value enters and leaves once.
#[derive(Default)]
struct Extremes {
    min: VecDeque<(usize, u64)>,
    max: VecDeque<(usize, u64)>,
}

impl Extremes {
    #[inline(always)]
    fn enter<K: Kind>(&mut self, row: usize, bits: u64, track_min: bool, track_max: bool) {
        // Ties keep the older value in front, as a scan that keeps the first extreme would.
        if track_min {
            while self.min.back().is_some_and(|&(_, v)| K::below(bits, v)) {
                self.min.pop_back();
            }
            self.min.push_back((row, bits));
        }
        if track_max {
            while self.max.back().is_some_and(|&(_, v)| K::below(v, bits)) {
                self.max.pop_back();
            }
            self.max.push_back((row, bits));
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

/// A double-double: hi + lo, about 32 significant digits, so that sums of
/// values and of their squares keep the variance exact enough even when the
/// mean is far larger than the spread (Dekker, Knuth; products by FMA).
#[derive(Default, Clone, Copy)]
struct Dd {
    hi: f64,
    lo: f64,
}

impl Dd {
    #[inline(always)]
    fn add(self, other: Dd) -> Dd {
        let s = self.hi + other.hi;
        let b = s - self.hi;
        let e = (self.hi - (s - b)) + (other.hi - b) + self.lo + other.lo;
        let hi = s + e;
        Dd { hi, lo: e - (hi - s) }
    }

    #[inline(always)]
    fn product(a: f64, b: f64) -> Dd {
        let p = a * b;
        Dd { hi: p, lo: a.mul_add(b, -p) }
    }

    fn mul(self, other: Dd) -> Dd {
        let p = Dd::product(self.hi, other.hi);
        let lo = p.lo + (self.hi * other.lo + self.lo * other.hi);
        let hi = p.hi + lo;
        Dd { hi, lo: lo - (hi - p.hi) }
    }

    fn neg(self) -> Dd {
        Dd { hi: -self.hi, lo: -self.lo }
    }
}

/// One key's sums of finite values and of their squares, for var and std.
#[derive(Default, Clone, Copy)]
struct Moments {
    sum: Dd,
    squares: Dd,
    /// Values whose square could overflow or lose digits to underflow: while
    /// any is in the window, the variance is computed from the rows.
    wild: u32,
    /// Bounds on the rounding error the sums have gathered since the window
    /// was last empty: a large value that has left still leaves its error.
    sum_error: f64,
    squares_error: f64,
}

/// Above the relative rounding error of one double-double operation (2^-104), with slack.
const DD_ERROR: f64 = 1.0 / (1u128 << 100) as f64;

impl Moments {
    #[inline(always)]
    fn account(&mut self, x: f64, sign: f64) {
        if !x.is_finite() {
            // Counted in the key's state; var is NaN while one is in the window.
            return;
        }
        let magnitude = x.abs();
        if magnitude > 1e150 || (magnitude < 1e-150 && magnitude != 0.0) {
            self.wild = self.wild.wrapping_add_signed(sign as i32);
            return;
        }
        let x = sign * x;
        self.sum = self.sum.add(Dd { hi: x, lo: 0.0 });
        self.squares = self.squares.add(Dd::product(x, sign * x));
        self.sum_error += (self.sum.hi.abs() + magnitude) * DD_ERROR;
        self.squares_error += (self.squares.hi.abs() + magnitude * magnitude) * DD_ERROR;
    }
}

/// The sample variance of a key's window (null under two values), from its
/// sums; `from_rows` computes it from the window's rows when the sums cannot
/// be trusted to 12 digits (a spread tiny next to the mean or next to values
/// that have left, or wild values).
fn variance<K: Kind>(state: &SumState<K::Sum>, moments: &Moments, extremes: &Extremes, from_rows: impl FnOnce() -> f64) -> Option<f64> {
    let n = state.valid;
    if n < 2 {
        return None;
    }
    if state.sum.has_non_finite() {
        return Some(f64::NAN);
    }
    let value = |bits: u64| if K::INT { (bits as i64) as f64 } else { f64::from_bits(bits) };
    let (low, high) = (extremes.min.front().map(|e| value(e.1)), extremes.max.front().map(|e| value(e.1)));
    if low == high {
        return Some(0.0);
    }
    if moments.wild > 0 {
        return Some(from_rows());
    }
    let count = n as f64;
    let scaled = Dd::product(moments.squares.hi, count).add(Dd::product(moments.squares.lo, count));
    let spread = scaled.add(moments.sum.mul(moments.sum).neg());
    let error = count * moments.squares_error + 2.0 * moments.sum.hi.abs() * moments.sum_error + 4.0 * scaled.hi.abs() * DD_ERROR;
    // (A NaN bound, from sums that overflowed, also sends it to the rows.)
    let trusted = spread.hi > 1e12 * error;
    if !trusted {
        return Some(from_rows());
    }
    Some((spread.hi + spread.lo) / (count * (count - 1.0)))
}

/// Rows from the oldest one still in some window to the newest one read,
/// in time order: key, time, value bits and whether the value is valid.
#[derive(Default)]
struct Pending {
    keys: Vec<u32>,
    times: Vec<i64>,
    bits: Vec<u64>,
    /// Empty when the input has no null values (then every value is valid).
    valid: Vec<bool>,
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
            self.valid.drain(..drop.min(self.valid.len()));
            self.first = keep;
        }
    }

    /// Appends the values of `array` (any type the plan took) as bits, and
    /// their validity when the input has nulls (`nullable`).
    fn push_values(&mut self, array: &ArrayRef, int: bool, nullable: bool) -> Result<()> {
        if nullable {
            match array.logical_nulls() {
                None => self.valid.resize(self.valid.len() + array.len(), true),
                Some(n) => self.valid.extend(n.iter()),
            }
        }
        if int {
            let values = arrow_cast::cast(array, &DataType::Int64)?;
            self.bits.extend(values.as_primitive::<Int64Type>().values().iter().map(|&v| v as u64));
        } else {
            let values = arrow_cast::cast(array, &DataType::Float64)?;
            // One NaN: stored values are only compared and summed, never output as stored.
            self.bits
                .extend(values.as_primitive::<Float64Type>().values().iter().map(|&x| if x.is_nan() { f64::NAN } else { x }.to_bits()));
        }
        Ok(())
    }
}

/// One output column being filled at the rows' input positions.
struct Column {
    output: Output,
    name: String,
    counts: Vec<i64>,
    floats: Vec<f64>,
    ints: Vec<i64>,
    valid: MutableBuffer,
}

impl StreamingWindows {
    /// The plan, when every aggregation is `count()`, or count, sum, mean,
    /// min, max, var or std of one float or integer (not UInt64) column;
    /// None sends the request elsewhere.
    pub(super) fn plan(schema: &SchemaRef, aggs: &[AggExpr], span: Span, closed: Closed) -> Result<Option<StreamingWindows>> {
        let mut column = None;
        let mut outputs = Vec::with_capacity(aggs.len());
        for agg in aggs {
            let output = match (agg.func, &agg.column) {
                (AggFunc::Count, None) => Output::Rows,
                (AggFunc::Count | AggFunc::Sum | AggFunc::Mean | AggFunc::Min | AggFunc::Max | AggFunc::Var | AggFunc::Std, Some(name)) => {
                    let index = crate::spec::types::column_index(schema, name)?;
                    let t = schema.field(index).data_type();
                    let numeric = matches!(t, DataType::Float32 | DataType::Float64) || (t.is_integer() && *t != DataType::UInt64);
                    if !numeric || column.is_some_and(|c| c != index) {
                        return Ok(None);
                    }
                    column = Some(index);
                    match agg.func {
                        AggFunc::Count => Output::Valid,
                        AggFunc::Sum => Output::Sum,
                        AggFunc::Min => Output::Min,
                        AggFunc::Max => Output::Max,
                        AggFunc::Var => Output::Var,
                        AggFunc::Std => Output::Std,
                        _ => Output::Mean,
                    }
                }
                _ => return Ok(None),
            };
            outputs.push((output, agg.alias.clone()));
        }
        let column_type = column.map_or(DataType::Float64, |c| schema.field(c).data_type().clone());
        let (include_start, include_end) = super::frame::time_bounds(closed);
        Ok(Some(StreamingWindows { outputs, column, int: column_type.is_integer(), column_type, span, include_start, include_end }))
    }

    /// The first time that stays in the window of a row at `time`; None when
    /// nothing can leave (the window reaches below the smallest time).
    fn eviction_bound(&self, time: i64, period: i64) -> Option<i64> {
        let start = time as i128 - period as i128 + i128::from(!self.include_start);
        (start > i64::MIN as i128).then_some(start as i64)
    }

    pub(super) fn stream(&self, input: &Prepared, n: usize) -> Result<Vec<ArrayRef>> {
        match (self.span, self.int) {
            (Span::Time(period), true) if self.sums_only() => self.sweep_sums::<Ints>(input, n, period),
            (Span::Time(period), false) if self.sums_only() => self.sweep_sums::<Floats>(input, n, period),
            (Span::Time(period), true) => self.sweep::<Ints>(input, n, period),
            (Span::Time(period), false) => self.sweep::<Floats>(input, n, period),
            (Span::Rows { budget, include_self }, true) => self.sweep_rows::<Ints>(input, n, budget, include_self),
            (Span::Rows { budget, include_self }, false) => self.sweep_rows::<Floats>(input, n, budget, include_self),
        }
    }

    /// Which per-key structures the outputs need: (min, max, var). Var and
    /// std need the extremes too: a window of equal values has variance 0, exactly.
    fn tracked(&self) -> (bool, bool, bool) {
        let var = self.outputs.iter().any(|(o, _)| matches!(o, Output::Var | Output::Std));
        let min = var || self.outputs.iter().any(|(o, _)| *o == Output::Min);
        let max = var || self.outputs.iter().any(|(o, _)| *o == Output::Max);
        (min, max, var)
    }

    /// (nullable, all_valid): validity is kept per row only when some value
    /// is null; otherwise every row is valid, or none is (`count()` alone has
    /// no values).
    fn validity(&self, input: &Prepared) -> (bool, bool) {
        let nullable = self.column.is_some_and(|c| input.batches.iter().any(|b| b.column(c).logical_null_count() > 0));
        (nullable, self.column.is_some() && !nullable)
    }

    fn new_columns<K: Kind>(&self, n: usize) -> Vec<Column> {
        self.outputs
            .iter()
            .map(|(output, name)| {
                let counting = matches!(output, Output::Rows | Output::Valid);
                let exact = K::INT && matches!(output, Output::Sum | Output::Min | Output::Max);
                Column {
                    output: *output,
                    name: name.clone(),
                    counts: if counting { vec![0; n] } else { Vec::new() },
                    floats: if counting || exact { Vec::new() } else { vec![0.0; n] },
                    ints: if exact { vec![0; n] } else { Vec::new() },
                    valid: MutableBuffer::from_len_zeroed(if counting { 0 } else { bit_util::ceil(n, 8) }),
                }
            })
            .collect()
    }

    fn sweep<K: Kind>(&self, input: &Prepared, n: usize, period: i64) -> Result<Vec<ArrayRef>> {
        let mut columns = self.new_columns::<K>(n);
        let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
        let mut states: Vec<SumState<K::Sum>> = Vec::new();
        let (track_min, track_max, track_var) = self.tracked();
        let mut extremes: Vec<Extremes> = Vec::new();
        let mut moments: Vec<Moments> = Vec::new();
        // With var: each key's valid rows in its window (sorted rows), for the
        // windows whose sums cannot be trusted, so they cost their own size.
        let mut members: Vec<VecDeque<usize>> = Vec::new();
        let mut pending = Pending::default();
        let (nullable, all_valid) = self.validity(input);
        let is_valid = |valid: &[bool], i: usize| if nullable { valid[i] } else { all_valid };
        // Sorted-row cursors, each only moving forward: rows before `left`
        // have left every window, rows before `entered` have entered theirs,
        // rows before `answered` have their output.
        let (mut left, mut entered, mut answered) = (0usize, 0usize, 0usize);
        let mut bound_time = None;

        let chunks = chunks_of(input);
        let mut gids = Vec::new();
        for (chunk, &(b, start, end)) in chunks.iter().enumerate() {
            crate::exec::cancel::check()?;
            let batch = &input.batches[b];
            grouper.assign(b, start..end, &mut gids)?;
            if states.len() < grouper.num_groups() {
                states.resize(grouper.num_groups(), SumState::default());
                if track_min || track_max {
                    extremes.resize_with(grouper.num_groups(), Extremes::default);
                }
                if track_var {
                    moments.resize(grouper.num_groups(), Moments::default());
                    members.resize_with(grouper.num_groups(), VecDeque::new);
                }
            }
            let times = input.time.values(batch.column(input.time.index));
            pending.keys.extend_from_slice(&gids);
            pending.times.extend_from_slice(&times[start..end]);
            match self.column {
                None => pending.bits.resize(pending.keys.len(), 0),
                Some(c) => pending.push_values(&batch.column(c).slice(start, end - start), K::INT, nullable)?,
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
            let Pending { keys, times, bits, valid, first } = &pending;
            let first = *first;
            while answered < ready {
                let i = answered - first;
                let t = times[i];
                if bound_time != Some(t) {
                    bound_time = Some(t);
                    while entered < pending.end() && (times[entered - first] < t || (self.include_end && times[entered - first] == t)) {
                        let e = entered - first;
                        let g = keys[e] as usize;
                        let valid = is_valid(valid, e);
                        states[g].enter(bits[e], valid);
                        if (track_min || track_max) && valid {
                            extremes[g].enter::<K>(entered, bits[e], track_min, track_max);
                        }
                        if track_var && valid {
                            moments[g].account(K::as_f64(bits[e]), 1.0);
                            members[g].push_back(entered);
                        }
                        entered += 1;
                    }
                    if let Some(bound) = self.eviction_bound(t, period) {
                        while left < entered && times[left - first] < bound {
                            let l = left - first;
                            let g = keys[l] as usize;
                            states[g].leave(bits[l], is_valid(valid, l));
                            if track_min || track_max {
                                extremes[g].leave(left);
                            }
                            if track_var {
                                if members[g].front() == Some(&left) {
                                    members[g].pop_front();
                                }
                                if states[g].rows == 0 {
                                    moments[g] = Moments::default();
                                } else if is_valid(valid, l) {
                                    moments[g].account(K::as_f64(bits[l]), -1.0);
                                }
                            }
                            left += 1;
                        }
                    }
                }
                let at = answered;
                let g = keys[i] as usize;
                let var = if track_var {
                    let from_rows = || two_pass_variance(members[g].iter().map(|&r| K::as_f64(bits[r - first])));
                    variance::<K>(&states[g], &moments[g], &extremes[g], from_rows)
                } else {
                    None
                };
                write::<K>(&mut columns, &states[g], extremes.get(g), var, at)?;
                answered += 1;
            }
            pending.forget_before(left.min(answered));
        }
        self.finish::<K>(columns, n)
    }

    /// Whether the outputs are all counts, sums and means of a column: then
    /// a key's state is its running sums alone, and [`Self::sweep_sums`] applies.
    fn sums_only(&self) -> bool {
        self.column.is_some() && self.outputs.iter().all(|(o, _)| matches!(o, Output::Rows | Output::Valid | Output::Sum | Output::Mean))
    }

    /// [`Self::sweep`] when only running sums are kept: the same three
    /// cursors, but times and values are read where they lie in the batches
    /// instead of being copied into a pending queue first; only the rows' group
    /// ids are queued. Same states, same arithmetic, so the same results.
    fn sweep_sums<K: Kind>(&self, input: &Prepared, n: usize, period: i64) -> Result<Vec<ArrayRef>> {
        let column = self.column.expect("sums_only asks for a column");
        let mut columns = self.new_columns::<K>(n);
        let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
        let mut states: Vec<SumState<K::Sum>> = Vec::new();
        let times: Vec<Cow<[i64]>> = input.batches.iter().map(|b| input.time.values(b.column(input.time.index))).collect();
        let cast: Vec<ArrayRef> = input
            .batches
            .iter()
            .map(|b| arrow_cast::cast(b.column(column), &K::Arrow::DATA_TYPE))
            .collect::<std::result::Result<_, _>>()?;
        let parts: Vec<SortedPart<'_, <K::Arrow as ArrowPrimitiveType>::Native>> = times
            .iter()
            .zip(&cast)
            .map(|(times, values)| {
                let values = values.as_primitive::<K::Arrow>();
                SortedPart { times, values: values.values(), nulls: values.nulls().filter(|n| n.null_count() > 0) }
            })
            .collect();

        // Group ids of the rows from sorted row `first` on, as far as read.
        let mut keys: Vec<u32> = Vec::new();
        let mut first = 0usize;
        let (mut left, mut entered, mut answered) = (Cursor::start(&parts), Cursor::start(&parts), Cursor::start(&parts));
        let mut bound_time = None;
        // The latest time read and the sorted row where its run of rows starts.
        let mut last_run: Option<(i64, usize)> = None;
        let mut gids = Vec::new();
        let chunks = chunks_of(input);
        for (chunk, &(b, start, end)) in chunks.iter().enumerate() {
            crate::exec::cancel::check()?;
            grouper.assign(b, start..end, &mut gids)?;
            if states.len() < grouper.num_groups() {
                states.resize(grouper.num_groups(), SumState::default());
            }
            let chunk_first = first + keys.len();
            keys.extend_from_slice(&gids);
            let known = first + keys.len();
            // With a closed end, rows answer only once every row of their time
            // is known: the last time read may continue in the next chunk. Its
            // run of rows may also have begun in earlier chunks (a chunk of
            // that time alone), so where it starts is carried over.
            let local = &parts[b].times[start..end];
            let last_time = local[local.len() - 1];
            let local_start = chunk_first + local.partition_point(|&t| t < last_time);
            let run_start = match last_run {
                Some((time, run_start)) if time == last_time && local_start == chunk_first => run_start,
                _ => local_start,
            };
            last_run = Some((last_time, run_start));
            let ready = if self.include_end && chunk + 1 < chunks.len() { run_start } else { known };
            while answered.global < ready {
                let t = answered.time();
                if bound_time != Some(t) {
                    bound_time = Some(t);
                    while entered.global < known {
                        let time = entered.time();
                        if !(time < t || (self.include_end && time == t)) {
                            break;
                        }
                        let g = keys[entered.global - first] as usize;
                        states[g].enter(K::to_bits(entered.value()), entered.is_valid());
                        entered.advance(&parts);
                    }
                    if let Some(bound) = self.eviction_bound(t, period) {
                        while left.global < entered.global {
                            if left.time() >= bound {
                                break;
                            }
                            let g = keys[left.global - first] as usize;
                            states[g].leave(K::to_bits(left.value()), left.is_valid());
                            left.advance(&parts);
                        }
                    }
                }
                let at = answered.global;
                let g = keys[answered.global - first] as usize;
                write::<K>(&mut columns, &states[g], None, None, at)?;
                answered.advance(&parts);
            }
            // Forget the group ids no cursor needs, once that frees enough to be worth the move.
            let drop = left.global.min(answered.global) - first;
            if drop >= 64 * 1024 && drop * 2 >= keys.len() {
                keys.drain(..drop);
                first += drop;
            }
        }
        self.finish::<K>(columns, n)
    }

    /// Row-count windows: each key keeps its last rows (with their values) in
    /// a queue; a row enters its key's queue and the oldest rows over the
    /// budget leave, before (with the row itself) or after the row answers.
    fn sweep_rows<K: Kind>(&self, input: &Prepared, n: usize, budget: usize, include_self: bool) -> Result<Vec<ArrayRef>> {
        let mut columns = self.new_columns::<K>(n);
        let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
        let (track_min, track_max, track_var) = self.tracked();
        let (nullable, all_valid) = self.validity(input);
        let mut keys: Vec<RowWindow<K::Sum>> = Vec::new();
        let mut chunk = Pending::default();
        let mut gids = Vec::new();
        let mut sorted = 0usize;
        for (b, start, end) in chunks_of(input) {
            crate::exec::cancel::check()?;
            let batch = &input.batches[b];
            grouper.assign(b, start..end, &mut gids)?;
            if keys.len() < grouper.num_groups() {
                keys.resize_with(grouper.num_groups(), RowWindow::default);
            }
            chunk.bits.clear();
            chunk.valid.clear();
            match self.column {
                None => chunk.bits.resize(end - start, 0),
                Some(c) => chunk.push_values(&batch.column(c).slice(start, end - start), K::INT, nullable)?,
            }
            for (i, &g) in gids.iter().enumerate() {
                let key = &mut keys[g as usize];
                let entry = (sorted, chunk.bits[i], if nullable { chunk.valid[i] } else { all_valid });
                if include_self {
                    key.enter::<K>(entry, track_min, track_max, track_var);
                }
                while key.rows.len() > budget {
                    key.leave_oldest::<K>(track_var);
                }
                let var = if track_var {
                    let from_rows = || two_pass_variance(key.rows.iter().filter(|e| e.2).map(|e| K::as_f64(e.1)));
                    variance::<K>(&key.state, &key.moments, &key.extremes, from_rows)
                } else {
                    None
                };
                let at = sorted;
                write::<K>(&mut columns, &key.state, Some(&key.extremes), var, at)?;
                if !include_self {
                    key.enter::<K>(entry, track_min, track_max, track_var);
                }
                sorted += 1;
            }
        }
        self.finish::<K>(columns, n)
    }

    fn finish<K: Kind>(&self, columns: Vec<Column>, n: usize) -> Result<Vec<ArrayRef>> {
        columns
            .into_iter()
            .map(|column| -> Result<ArrayRef> {
                let Column { output, counts, floats, ints, valid, .. } = column;
                if matches!(output, Output::Rows | Output::Valid) {
                    return Ok(Arc::new(Int64Array::from(counts)));
                }
                let valid = Some(NullBuffer::new(BooleanBuffer::new(valid.into(), 0, n)));
                let array: ArrayRef = if K::INT && matches!(output, Output::Sum | Output::Min | Output::Max) {
                    Arc::new(Int64Array::new(ints.into(), valid))
                } else {
                    Arc::new(Float64Array::new(floats.into(), valid))
                };
                // Min and max keep the column's type (the values came from it, so the cast is exact).
                match output {
                    Output::Min | Output::Max if array.data_type() != &self.column_type => Ok(arrow_cast::cast(&array, &self.column_type)?),
                    _ => Ok(array),
                }
            })
            .collect()
    }
}

/// The sweeps read the sorted rows in chunks of this many, so that a chunk's
/// group ids and values stay in cache.
const CHUNK_ROWS: usize = 16 * 1024;

/// The chunks of the prepared batches, in order: (batch, start, end).
fn chunks_of(input: &Prepared) -> Vec<(usize, usize, usize)> {
    input
        .batches
        .iter()
        .enumerate()
        .flat_map(|(b, batch)| {
            let rows = batch.num_rows();
            (0..rows).step_by(CHUNK_ROWS).map(move |start| (b, start, (start + CHUNK_ROWS).min(rows)))
        })
        .collect()
}

/// One prepared batch as [`StreamingWindows::sweep_sums`] reads it in place.
#[derive(Clone, Copy)]
struct SortedPart<'a, N> {
    times: &'a [i64],
    values: &'a [N],
    /// None when no value is null.
    nulls: Option<&'a NullBuffer>,
}

impl<N> SortedPart<'_, N> {
    #[inline(always)]
    fn is_valid(&self, row: usize) -> bool {
        self.nulls.is_none_or(|n| n.is_valid(row))
    }
}

/// A position in the sorted rows, holding its batch's slices so that the
/// sweep's loops index no table of batches: its batch, its row there, and
/// its index overall.
#[derive(Clone, Copy)]
struct Cursor<'a, N> {
    part: SortedPart<'a, N>,
    batch: usize,
    row: usize,
    global: usize,
}

impl<'a, N: Copy> Cursor<'a, N> {
    fn start(parts: &[SortedPart<'a, N>]) -> Self {
        let part = parts.first().copied().unwrap_or(SortedPart { times: &[], values: &[], nulls: None });
        Cursor { part, batch: 0, row: 0, global: 0 }
    }

    #[inline(always)]
    fn time(&self) -> i64 {
        self.part.times[self.row]
    }

    #[inline(always)]
    fn value(&self) -> N {
        self.part.values[self.row]
    }

    #[inline(always)]
    fn is_valid(&self) -> bool {
        self.part.is_valid(self.row)
    }

    #[inline(always)]
    fn advance(&mut self, parts: &[SortedPart<'a, N>]) {
        self.row += 1;
        self.global += 1;
        if self.row == self.part.times.len() {
            // Prepared batches are never empty, so the next one has a row 0.
            self.batch += 1;
            self.row = 0;
            if let Some(&part) = parts.get(self.batch) {
                self.part = part;
            }
        }
    }
}

/// One key's row-count window: its rows, oldest first (sorted row, value
/// bits, valid), and what the aggregations keep of them.
#[derive(Default)]
struct RowWindow<S> {
    rows: VecDeque<(usize, u64, bool)>,
    state: SumState<S>,
    extremes: Extremes,
    moments: Moments,
}

impl<S: RunningSum> RowWindow<S> {
    #[inline(always)]
    fn enter<K: Kind<Sum = S>>(&mut self, entry: (usize, u64, bool), track_min: bool, track_max: bool, track_var: bool) {
        let (row, bits, valid) = entry;
        self.state.enter(bits, valid);
        if valid && (track_min || track_max) {
            self.extremes.enter::<K>(row, bits, track_min, track_max);
        }
        if valid && track_var {
            self.moments.account(K::as_f64(bits), 1.0);
        }
        self.rows.push_back(entry);
    }

    #[inline(always)]
    fn leave_oldest<K: Kind<Sum = S>>(&mut self, track_var: bool) {
        let Some((row, bits, valid)) = self.rows.pop_front() else { return };
        self.state.leave(bits, valid);
        self.extremes.leave(row);
        if self.state.rows == 0 {
            self.moments = Moments::default();
        } else if valid && track_var {
            self.moments.account(K::as_f64(bits), -1.0);
        }
    }
}

/// The sample variance of at least two values, two-pass (mean first).
fn two_pass_variance(values: impl Iterator<Item = f64>) -> f64 {
    let xs: Vec<f64> = values.collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (xs.len() - 1) as f64
}

/// Writes one row's aggregates, at its input position.
#[inline(always)]
fn write<K: Kind>(
    columns: &mut [Column],
    state: &SumState<K::Sum>,
    extremes: Option<&Extremes>,
    var: Option<f64>,
    at: usize,
) -> Result<()> {
    for column in columns.iter_mut() {
        match column.output {
            Output::Rows => column.counts[at] = state.rows,
            Output::Valid => column.counts[at] = state.valid,
            _ if state.valid == 0 => continue,
            Output::Var | Output::Std => match var {
                None => continue,
                Some(v) => column.floats[at] = if column.output == Output::Std { v.sqrt() } else { v },
            },
            Output::Min | Output::Max => {
                let extremes = extremes.expect("kept when min or max is asked");
                let queue = if column.output == Output::Min { &extremes.min } else { &extremes.max };
                let bits = queue.front().expect("a valid value is in the window").1;
                if K::INT {
                    column.ints[at] = bits as i64;
                } else {
                    column.floats[at] = f64::from_bits(bits);
                }
            }
            Output::Sum if K::INT => {
                column.ints[at] =
                    i64::try_from(state.sum.exact()).map_err(|_| SashError::Overflow(format!("{} does not fit Int64", column.name)))?;
            }
            output => {
                let sum = state.sum.total();
                column.floats[at] = if output == Output::Mean { sum / state.valid as f64 } else { sum };
            }
        }
        if !matches!(column.output, Output::Rows | Output::Valid) {
            bit_util::set_bit(column.valid.as_slice_mut(), at);
        }
    }
    Ok(())
}
