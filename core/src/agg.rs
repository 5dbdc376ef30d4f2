//! Grouped accumulators: each holds one state per *slot* (a group in a window,
//! a pane, a session, or a rolling row) and updates many rows per call.
//!
//! Rows always arrive in time order (ties in input order), so `first`, `last`
//! and the tie rules of `min_by`/`max_by` need no timestamps: the first row
//! seen is the earliest. `merge(dst, src)` is only called with `src` holding
//! rows later than `dst`'s.

use crate::column_builder::ColumnBuilder;
use crate::error::{Result, SashError};
use crate::expr::{AggExpr, AggFunc};
use crate::keys::normalized_float_key;
use crate::sketch::hll::{hash_bytes, HyperLogLog};
use crate::sketch::tdigest::TDigest;
use crate::types::{agg_output_type, column_index};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    new_null_array, Array, ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array, PrimitiveArray, RecordBatch, UInt32Array,
};
use arrow_buffer::NullBuffer;
use arrow_cast::cast;
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Schema, SortOptions};
use arrow_select::interleave::interleave;
use arrow_select::take::take;
use hashbrown::HashSet;
use std::ops::Range;
use std::sync::Arc;

/// Which rows of a batch an update covers.
#[derive(Debug, Clone)]
pub(crate) enum Rows<'a> {
    Range(Range<usize>),
    Indices(&'a [u32]),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::Range(r) => r.len(),
            Rows::Indices(ix) => ix.len(),
        }
    }

    /// The selected rows of `array` as a new array (a zero-copy slice for ranges).
    fn select(&self, array: &ArrayRef) -> Result<ArrayRef> {
        Ok(match self {
            Rows::Range(r) => array.slice(r.start, r.len()),
            Rows::Indices(ix) => take(array.as_ref(), &UInt32Array::from(ix.to_vec()), None)?,
        })
    }
}

/// Visits (slot, row) pairs of an update.
macro_rules! for_rows {
    ($rows:expr, $slots:expr, |$slot:ident, $row:ident| $body:block) => {
        match $rows {
            Rows::Range(r) => {
                for ($slot, $row) in $slots.iter().map(|&s| s as usize).zip(r.clone()) $body
            }
            Rows::Indices(ix) => {
                for ($slot, $row) in $slots.iter().map(|&s| s as usize).zip(ix.iter().map(|&i| i as usize)) $body
            }
        }
    };
}

pub(crate) trait Accumulator: Send {
    /// Makes room for slots `0..n`.
    fn grow(&mut self, n: usize);
    /// Adds the selected rows of `batch` (number `batch_idx` of the input); the
    /// i-th selected row goes to `slots[i]`.
    fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()>;
    /// Folds `src` into `dst`; `src`'s rows are all later than `dst`'s.
    fn merge(&mut self, dst: usize, src: usize);
    /// `merge` for each `(dst, src)` pair, in order. One call per batch of
    /// pairs: a hopping window merges a state per pane and group, and a
    /// dynamic call for each cost more than the merge itself.
    fn merge_pairs(&mut self, pairs: &[(u32, u32)]) {
        for &(dst, src) in pairs {
            self.merge(dst as usize, src as usize);
        }
    }
    /// `merge(dst_base + g, src_base + g)` for each g of `groups`, in
    /// order: the merge of one block of slots into another (see
    /// `window::PaneBlocks`), without a list of pairs to build and read.
    fn merge_groups(&mut self, dst_base: u32, src_base: u32, groups: &[u32]) {
        for &g in groups {
            self.merge((dst_base + g) as usize, (src_base + g) as usize);
        }
    }
    /// Whether this accumulator counts every row of a slot, nulls included,
    /// so that `slots_with_rows` can tell which slots got rows.
    fn counts_every_row(&self) -> bool {
        false
    }
    /// Replaces `out` with each g of `0..n`, ascending, whose slot `base + g`
    /// has rows. Only called when `counts_every_row`.
    fn slots_with_rows(&self, _base: u32, _n: u32, _out: &mut Vec<u32>) {
        unreachable!("slots_with_rows needs an accumulator that counts every row")
    }
    /// Empties a slot for reuse.
    fn reset(&mut self, slot: usize);
    /// `reset` for each slot.
    fn reset_all(&mut self, slots: &[u32]) {
        for &slot in slots {
            self.reset(slot as usize);
        }
    }
    /// One output array per output of this accumulator, with one row per slot in `slots`.
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>>;
    /// `finish`, appending each output to its builder in `out` (in output
    /// order). Accumulators of fixed-width values override it to write into
    /// the builders' buffers instead of building arrays to copy.
    fn finish_into(&mut self, slots: &[u32], out: &mut [&mut ColumnBuilder]) -> Result<()> {
        for (builder, array) in out.iter_mut().zip(self.finish(slots)?) {
            builder.append_array(array);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- count()

#[derive(Default)]
struct CountRows {
    counts: Vec<i64>,
}

impl Accumulator for CountRows {
    fn grow(&mut self, n: usize) {
        self.counts.resize(n, 0);
    }
    fn update(&mut self, _: usize, _: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        debug_assert_eq!(rows.len(), slots.len());
        for &s in slots {
            self.counts[s as usize] += 1;
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        self.counts[dst] += self.counts[src];
    }
    fn counts_every_row(&self) -> bool {
        true
    }
    fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        nonzero_rows(n, |g| self.counts[(base + g) as usize], out);
    }
    fn reset(&mut self, slot: usize) {
        self.counts[slot] = 0;
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.counts[s as usize])))])
    }
    fn finish_into(&mut self, slots: &[u32], out: &mut [&mut ColumnBuilder]) -> Result<()> {
        out[0].extend_values(&DataType::Int64, slots.iter().map(|&s| self.counts[s as usize]), None);
        Ok(())
    }
}

/// Replaces `out` with each g of `0..n` whose row count is not zero, without
/// a branch per g (one would mispredict on groups missing from a window).
fn nonzero_rows(n: u32, rows: impl Fn(u32) -> i64, out: &mut Vec<u32>) {
    out.clear();
    out.resize(n as usize, 0);
    let mut len = 0;
    for g in 0..n {
        out[len] = g;
        len += (rows(g) != 0) as usize;
    }
    out.truncate(len);
}

// ---------------------------------------------------------------- any aggregation of a Null-typed column

/// The result of sum, mean, min, ... over a column of type Null: null.
struct AllNull {
    data_type: DataType,
}

impl Accumulator for AllNull {
    fn grow(&mut self, _: usize) {}
    fn update(&mut self, _: usize, _: &RecordBatch, _: &Rows<'_>, _: &[u32]) -> Result<()> {
        Ok(())
    }
    fn merge(&mut self, _: usize, _: usize) {}
    fn reset(&mut self, _: usize) {}
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![new_null_array(&self.data_type, slots.len())])
    }
}

// ---------------------------------------------------------------- count(col)

struct CountValid {
    column: usize,
    counts: Vec<i64>,
}

impl Accumulator for CountValid {
    fn grow(&mut self, n: usize) {
        self.counts.resize(n, 0);
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let array = batch.column(self.column);
        match array.logical_nulls() {
            None => {
                for &s in slots {
                    self.counts[s as usize] += 1;
                }
            }
            Some(nulls) => for_rows!(rows, slots, |slot, row| {
                self.counts[slot] += nulls.is_valid(row) as i64;
            }),
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        self.counts[dst] += self.counts[src];
    }
    fn reset(&mut self, slot: usize) {
        self.counts[slot] = 0;
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.counts[s as usize])))])
    }
}

// ---------------------------------------------------------------- sum, mean, min, max, count(col) on primitives

/// A primitive value type with the order sash uses (NaN above +inf) and a sum type.
pub(crate) trait Native: Copy + Send + 'static {
    type Sum: Copy + Send + Default + 'static;
    /// The identities of min and max under sash's order.
    const MIN_IDENTITY: Self;
    const MAX_IDENTITY: Self;
    /// The smaller/larger of two values under sash's order, without branches:
    /// the next row of a small group is a new extreme about half the time,
    /// which a predicted branch gets wrong.
    fn min_of(a: Self, b: Self) -> Self;
    fn max_of(a: Self, b: Self) -> Self;
    /// `min_of` and `max_of` when `b` is known not to be NaN: one
    /// instruction each for floats instead of five (a NaN `a`, the min
    /// identity or a sticky max, still behaves as in `min_of`/`max_of`).
    #[inline(always)]
    fn min_of_number(a: Self, b: Self) -> Self {
        Self::min_of(a, b)
    }
    #[inline(always)]
    fn max_of_number(a: Self, b: Self) -> Self {
        Self::max_of(a, b)
    }
    /// Whether any of `values` is NaN (never, for integers).
    fn any_nan(_values: &[Self]) -> bool {
        false
    }
    fn add(sum: Self::Sum, v: Self) -> Self::Sum;
    fn add_sums(a: Self::Sum, b: Self::Sum) -> Self::Sum;
    fn sum_to_f64(sum: Self::Sum) -> f64;
}

macro_rules! int_native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            type Sum = i128;
            const MIN_IDENTITY: Self = <$t>::MAX;
            const MAX_IDENTITY: Self = <$t>::MIN;
            #[inline(always)]
            fn min_of(a: Self, b: Self) -> Self { a.min(b) }
            #[inline(always)]
            fn max_of(a: Self, b: Self) -> Self { a.max(b) }
            #[inline(always)]
            fn add(sum: i128, v: Self) -> i128 { sum.wrapping_add(v as i128) }
            #[inline(always)]
            fn add_sums(a: i128, b: i128) -> i128 { a.wrapping_add(b) }
            fn sum_to_f64(sum: i128) -> f64 { sum as f64 }
        }
    )*};
}
int_native!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Native for i128 {
    type Sum = i128;
    const MIN_IDENTITY: Self = i128::MAX;
    const MAX_IDENTITY: Self = i128::MIN;
    fn min_of(a: Self, b: Self) -> Self {
        a.min(b)
    }
    fn max_of(a: Self, b: Self) -> Self {
        a.max(b)
    }
    // Decimal sums saturate to the extremes, which finish() reports as overflow.
    fn add(sum: i128, v: Self) -> i128 {
        sum.saturating_add(v)
    }
    fn add_sums(a: i128, b: i128) -> i128 {
        a.saturating_add(b)
    }
    fn sum_to_f64(sum: i128) -> f64 {
        sum as f64
    }
}

macro_rules! float_native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            type Sum = f64;
            const MIN_IDENTITY: Self = <$t>::NAN;
            const MAX_IDENTITY: Self = <$t>::NEG_INFINITY;
            /// Ignores a NaN, which is exactly "NaN is the largest"; of equal
            /// values (-0.0 and 0.0) keeps `b`, as `min_of_number` does.
            #[inline(always)]
            fn min_of(a: Self, b: Self) -> Self {
                if a < b || b.is_nan() { a } else { b }
            }
            #[inline(always)]
            fn max_of(a: Self, b: Self) -> Self {
                let larger = if b > a { b } else { a };
                if a.is_nan() || b.is_nan() { <$t>::NAN } else { larger }
            }
            // A NaN `a` (the identity) loses to `b`, as in `min_of`.
            #[inline(always)]
            fn min_of_number(a: Self, b: Self) -> Self {
                if a < b { a } else { b }
            }
            // A NaN `a` (a NaN seen before) stays, as in `max_of`.
            #[inline(always)]
            fn max_of_number(a: Self, b: Self) -> Self {
                if b > a { b } else { a }
            }
            fn any_nan(values: &[Self]) -> bool {
                // Whole chunks without an early exit, so the test vectorizes.
                values.chunks(256).any(|chunk| chunk.iter().fold(false, |nan, v| nan | v.is_nan()))
            }
            #[inline(always)]
            fn add(sum: f64, v: Self) -> f64 { sum + v as f64 }
            #[inline(always)]
            fn add_sums(a: f64, b: f64) -> f64 { a + b }
            fn sum_to_f64(sum: f64) -> f64 { sum }
        }
    )*};
}
float_native!(f32, f64);

#[derive(Clone, Copy)]
struct Stat<N: Native> {
    count: i64,
    sum: N::Sum,
    min: N,
    max: N,
}

impl<N: Native> Stat<N> {
    fn empty() -> Self {
        Stat { count: 0, sum: N::Sum::default(), min: N::MIN_IDENTITY, max: N::MAX_IDENTITY }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatOutput {
    Count,
    /// Rows, null or not: `count()`.
    Rows,
    Sum,
    Mean,
    Min,
    Max,
}

/// count/sum/mean/min/max of one primitive column, computed in one pass.
struct PrimitiveStats<T: ArrowPrimitiveType>
where
    T::Native: Native,
{
    column: usize,
    column_name: String,
    data_type: DataType,
    outputs: Vec<StatOutput>,
    states: Vec<Stat<T::Native>>,
    /// Per slot, its rows whose value is null, kept apart (states stay 32
    /// bytes for f64) and only for `count()`, which is `count + nulls`: so
    /// a `count()` next to stats of a column costs no pass of its own.
    nulls: Vec<i64>,
}

impl<T: ArrowPrimitiveType> PrimitiveStats<T>
where
    T::Native: Native,
{
    fn rows(&self, slot: usize) -> i64 {
        self.states[slot].count + self.nulls[slot]
    }

    fn fold_range<const MIN: bool, const MAX: bool>(states: &mut [Stat<T::Native>], values: &[T::Native], slots: &[u32]) {
        debug_assert_eq!(values.len(), slots.len());
        // A pass over values about to be read anyway (in the cache) spares
        // every row the NaN tests of its min and max: a third of the loop.
        if (MIN || MAX) && !T::Native::any_nan(values) {
            for (&v, &slot) in values.iter().zip(slots) {
                Self::fold::<true>(&mut states[slot as usize], v, MIN, MAX);
            }
        } else {
            for (&v, &slot) in values.iter().zip(slots) {
                Self::fold::<false>(&mut states[slot as usize], v, MIN, MAX);
            }
        }
    }

    fn merge_each(&mut self, pairs: impl Iterator<Item = (u32, u32)> + Clone) {
        // Extremes nobody asked for are not merged.
        let want_min = self.outputs.contains(&StatOutput::Min);
        let want_max = self.outputs.contains(&StatOutput::Max);
        let states = &mut self.states;
        for (dst, src) in pairs.clone() {
            let s = states[src as usize];
            let d = &mut states[dst as usize];
            d.count += s.count;
            d.sum = T::Native::add_sums(d.sum, s.sum);
            if want_min {
                d.min = T::Native::min_of(d.min, s.min);
            }
            if want_max {
                d.max = T::Native::max_of(d.max, s.max);
            }
        }
        if !self.nulls.is_empty() {
            for (dst, src) in pairs {
                self.nulls[dst as usize] += self.nulls[src as usize];
            }
        }
    }

    /// Adds `v` to `st`; `NOT_NAN` when `v` is known not to be NaN, which
    /// spares the extremes their NaN tests.
    #[inline(always)]
    fn fold<const NOT_NAN: bool>(st: &mut Stat<T::Native>, v: T::Native, want_min: bool, want_max: bool) {
        st.count += 1;
        st.sum = T::Native::add(st.sum, v);
        if want_min {
            st.min = if NOT_NAN { T::Native::min_of_number(st.min, v) } else { T::Native::min_of(st.min, v) };
        }
        if want_max {
            st.max = if NOT_NAN { T::Native::max_of_number(st.max, v) } else { T::Native::max_of(st.max, v) };
        }
    }
}

impl<T: ArrowPrimitiveType> Accumulator for PrimitiveStats<T>
where
    T::Native: Native,
    PrimitiveStats<T>: StatFinish,
{
    fn grow(&mut self, n: usize) {
        self.states.resize(n, Stat::empty());
        if self.outputs.contains(&StatOutput::Rows) {
            self.nulls.resize(n, 0);
        }
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let array = batch.column(self.column).as_primitive::<T>();
        let values = array.values();
        let want_min = self.outputs.contains(&StatOutput::Min);
        let want_max = self.outputs.contains(&StatOutput::Max);
        let states = &mut self.states;
        let null_rows = &mut self.nulls;
        let count_nulls = !null_rows.is_empty();
        match (array.nulls(), rows) {
            // The hot case gets a loop per (min, max) choice, over zipped
            // slices: no per-row test of what is wanted, no index checks.
            (None, Rows::Range(r)) => match (want_min, want_max) {
                (true, true) => Self::fold_range::<true, true>(states, &values[r.clone()], slots),
                (true, false) => Self::fold_range::<true, false>(states, &values[r.clone()], slots),
                (false, true) => Self::fold_range::<false, true>(states, &values[r.clone()], slots),
                (false, false) => Self::fold_range::<false, false>(states, &values[r.clone()], slots),
            },
            (None, _) => for_rows!(rows, slots, |slot, row| {
                Self::fold::<false>(&mut states[slot], values[row], want_min, want_max);
            }),
            (Some(nulls), _) => for_rows!(rows, slots, |slot, row| {
                if nulls.is_valid(row) {
                    Self::fold::<false>(&mut states[slot], values[row], want_min, want_max);
                } else if count_nulls {
                    null_rows[slot] += 1;
                }
            }),
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        self.merge_pairs(&[(dst as u32, src as u32)]);
    }
    fn counts_every_row(&self) -> bool {
        self.outputs.contains(&StatOutput::Rows)
    }
    fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        nonzero_rows(n, |g| self.rows((base + g) as usize), out);
    }
    fn merge_pairs(&mut self, pairs: &[(u32, u32)]) {
        self.merge_each(pairs.iter().copied());
    }
    fn merge_groups(&mut self, dst_base: u32, src_base: u32, groups: &[u32]) {
        self.merge_each(groups.iter().map(|&g| (dst_base + g, src_base + g)));
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = Stat::empty();
        if let Some(nulls) = self.nulls.get_mut(slot) {
            *nulls = 0;
        }
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let valid = validity_of(&self.states, slots);
        let mut out = Vec::with_capacity(self.outputs.len());
        for output in self.outputs.clone() {
            let states = slots.iter().map(|&s| &self.states[s as usize]);
            let array: ArrayRef = match output {
                StatOutput::Count => Arc::new(Int64Array::from_iter_values(states.map(|s| s.count))),
                StatOutput::Rows => Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.rows(s as usize)))),
                StatOutput::Mean => Arc::new(Float64Array::new(states.map(|s| self.mean(s)).collect(), valid.clone())),
                StatOutput::Min | StatOutput::Max => {
                    let values: Vec<T::Native> = states.map(|s| if output == StatOutput::Min { s.min } else { s.max }).collect();
                    Arc::new(PrimitiveArray::<T>::new(values.into(), valid.clone()).with_data_type(self.data_type.clone()))
                }
                StatOutput::Sum => self.sums(slots, valid.clone())?,
            };
            out.push(array);
        }
        Ok(out)
    }
    fn finish_into(&mut self, slots: &[u32], out: &mut [&mut ColumnBuilder]) -> Result<()> {
        let valid = validity_of(&self.states, slots);
        for (i, output) in self.outputs.clone().into_iter().enumerate() {
            let states = slots.iter().map(|&s| &self.states[s as usize]);
            let builder = &mut *out[i];
            match output {
                StatOutput::Count => builder.extend_values(&DataType::Int64, states.map(|s| s.count), None),
                StatOutput::Rows => builder.extend_values(&DataType::Int64, slots.iter().map(|&s| self.rows(s as usize)), None),
                StatOutput::Mean => builder.extend_values(&DataType::Float64, states.map(|s| self.mean(s)), valid.as_ref()),
                StatOutput::Min => builder.extend_values(&self.data_type, states.map(|s| s.min), valid.as_ref()),
                StatOutput::Max => builder.extend_values(&self.data_type, states.map(|s| s.max), valid.as_ref()),
                StatOutput::Sum => self.sums_into(slots, valid.as_ref(), builder)?,
            }
        }
        Ok(())
    }
}

/// Which of `slots` hold a value (a count above zero); None when all do,
/// the common case, found without building the bitmap.
fn validity_of<N: Native>(states: &[Stat<N>], slots: &[u32]) -> Option<NullBuffer> {
    if slots.iter().all(|&s| states[s as usize].count > 0) {
        return None;
    }
    Some(NullBuffer::from(slots.iter().map(|&s| states[s as usize].count > 0).collect::<Vec<_>>()))
}

/// The parts of finishing that differ between integer, float and decimal sums.
trait StatFinish {
    fn mean<N: Native>(&self, s: &Stat<N>) -> f64;
    fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef>;
    fn sums_into(&self, slots: &[u32], valid: Option<&NullBuffer>, out: &mut ColumnBuilder) -> Result<()> {
        out.append_array(self.sums(slots, valid.cloned())?);
        Ok(())
    }
}

macro_rules! int_finish {
    ($($t:ty),*) => {$(
        impl StatFinish for PrimitiveStats<$t> {
            fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
                if s.count == 0 { 0.0 } else { N::sum_to_f64(s.sum) / s.count as f64 }
            }
            fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
                let mut values = Vec::with_capacity(slots.len());
                for &slot in slots {
                    let sum = self.states[slot as usize].sum;
                    values.push(i64::try_from(sum).map_err(|_| {
                        SashError::Overflow(format!("sum({}) does not fit Int64 ({sum})", self.column_name))
                    })?);
                }
                Ok(Arc::new(Int64Array::new(values.into(), valid)))
            }
        }
    )*};
}
int_finish!(
    Int8Type,
    Int16Type,
    Int32Type,
    Int64Type,
    UInt8Type,
    UInt16Type,
    UInt32Type,
    UInt64Type,
    Date32Type,
    Date64Type,
    TimestampSecondType,
    TimestampMillisecondType,
    TimestampMicrosecondType,
    TimestampNanosecondType
);

macro_rules! float_finish {
    ($($t:ty),*) => {$(
        impl StatFinish for PrimitiveStats<$t> {
            fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
                if s.count == 0 { 0.0 } else { N::sum_to_f64(s.sum) / s.count as f64 }
            }
            fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
                Ok(Arc::new(Float64Array::new(
                    slots.iter().map(|&s| self.states[s as usize].sum).collect(),
                    valid,
                )))
            }
            fn sums_into(&self, slots: &[u32], valid: Option<&NullBuffer>, out: &mut ColumnBuilder) -> Result<()> {
                out.extend_values(&DataType::Float64, slots.iter().map(|&s| self.states[s as usize].sum), valid);
                Ok(())
            }
        }
    )*};
}
float_finish!(Float32Type, Float64Type);

impl StatFinish for PrimitiveStats<Decimal128Type> {
    fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
        let scale = match self.data_type {
            DataType::Decimal128(_, scale) => scale,
            _ => 0,
        };
        if s.count == 0 {
            0.0
        } else {
            N::sum_to_f64(s.sum) / 10f64.powi(scale as i32) / s.count as f64
        }
    }
    fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
        let scale = match self.data_type {
            DataType::Decimal128(_, scale) => scale,
            _ => 0,
        };
        let limit = 10i128.pow(38);
        let mut values = Vec::with_capacity(slots.len());
        for &slot in slots {
            let sum = self.states[slot as usize].sum;
            if sum.abs() >= limit || sum == i128::MIN {
                return Err(SashError::Overflow(format!("sum({}) does not fit Decimal128(38, {scale})", self.column_name)));
            }
            values.push(sum);
        }
        Ok(Arc::new(PrimitiveArray::<Decimal128Type>::new(values.into(), valid).with_data_type(DataType::Decimal128(38, scale))))
    }
}

fn primitive_stats(column: usize, name: &str, data_type: &DataType, outputs: Vec<StatOutput>) -> Option<Box<dyn Accumulator>> {
    macro_rules! make {
        ($t:ty) => {
            Box::new(PrimitiveStats::<$t> {
                column,
                column_name: name.to_string(),
                data_type: data_type.clone(),
                outputs,
                states: Vec::new(),
                nulls: Vec::new(),
            })
        };
    }
    let outputs_ok = |allowed: &[StatOutput]| outputs.iter().all(|o| allowed.contains(o));
    Some(match data_type {
        DataType::Int8 => make!(Int8Type),
        DataType::Int16 => make!(Int16Type),
        DataType::Int32 => make!(Int32Type),
        DataType::Int64 => make!(Int64Type),
        DataType::UInt8 => make!(UInt8Type),
        DataType::UInt16 => make!(UInt16Type),
        DataType::UInt32 => make!(UInt32Type),
        DataType::UInt64 => make!(UInt64Type),
        DataType::Float32 => make!(Float32Type),
        DataType::Float64 => make!(Float64Type),
        DataType::Decimal128(_, _) => make!(Decimal128Type),
        // Dates and timestamps only take min and max here; their storage is i32/i64.
        DataType::Date32 if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => make!(Date32Type),
        DataType::Date64 if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => make!(Date64Type),
        DataType::Timestamp(unit, _) if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => {
            match unit {
                arrow_schema::TimeUnit::Second => make!(TimestampSecondType),
                arrow_schema::TimeUnit::Millisecond => make!(TimestampMillisecondType),
                arrow_schema::TimeUnit::Microsecond => make!(TimestampMicrosecondType),
                arrow_schema::TimeUnit::Nanosecond => make!(TimestampNanosecondType),
            }
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------- values by row reference: first, last, min_by, max_by, min/max of non-primitives

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PickRule {
    First,
    Last,
    /// The row whose ordering key is smallest (earliest row on ties).
    Smallest,
    Largest,
}

/// Remembers one row per slot and emits its value at the end, for any type.
struct PickRow {
    column: usize,
    /// The ordering column, for Smallest/Largest.
    order_column: Option<usize>,
    rule: PickRule,
    converter: Option<RowConverter>,
    data_type: DataType,
    /// Per batch, the value column (kept alive to interleave at the end).
    batch_values: Vec<Option<ArrayRef>>,
    picked: Vec<Option<(u32, u32)>>,
    keys: Vec<Option<Box<[u8]>>>,
}

impl PickRow {
    fn new(column: usize, order_column: Option<usize>, rule: PickRule, data_type: DataType, order_type: Option<DataType>) -> Result<Self> {
        let converter = match order_type {
            Some(t) => Some(RowConverter::new(vec![SortField::new_with_options(t, SortOptions::default())])?),
            None => None,
        };
        Ok(PickRow { column, order_column, rule, converter, data_type, batch_values: Vec::new(), picked: Vec::new(), keys: Vec::new() })
    }
}

impl Accumulator for PickRow {
    fn grow(&mut self, n: usize) {
        self.picked.resize(n, None);
        if self.converter.is_some() {
            self.keys.resize(n, None);
        }
    }
    fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        if self.batch_values.len() <= batch_idx {
            self.batch_values.resize(batch_idx + 1, None);
        }
        if self.batch_values[batch_idx].is_none() {
            self.batch_values[batch_idx] = Some(batch.column(self.column).clone());
        }
        let values = batch.column(self.column);
        let value_nulls = values.logical_nulls();
        let b = batch_idx as u32;
        match self.rule {
            PickRule::First => for_rows!(rows, slots, |slot, row| {
                if self.picked[slot].is_none() && value_nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                    self.picked[slot] = Some((b, row as u32));
                }
            }),
            PickRule::Last => for_rows!(rows, slots, |slot, row| {
                if value_nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                    self.picked[slot] = Some((b, row as u32));
                }
            }),
            PickRule::Smallest | PickRule::Largest => {
                let order = batch.column(self.order_column.expect("ordered pick has an order column"));
                let selected = rows.select(order)?;
                let order_nulls = selected.logical_nulls();
                let encoded = self.converter.as_ref().expect("ordered pick has a converter").convert_columns(&[selected])?;
                let smallest = self.rule == PickRule::Smallest;
                let mut i = 0usize;
                for_rows!(rows, slots, |slot, row| {
                    let k = i;
                    i += 1;
                    if order_nulls.as_ref().is_some_and(|n| n.is_null(k)) {
                        continue;
                    }
                    let key = encoded.row(k);
                    let better = match &self.keys[slot] {
                        None => true,
                        Some(current) => {
                            if smallest {
                                key.as_ref() < current.as_ref()
                            } else {
                                key.as_ref() > current.as_ref()
                            }
                        }
                    };
                    if better {
                        self.keys[slot] = Some(key.as_ref().into());
                        self.picked[slot] = Some((b, row as u32));
                    }
                });
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let take_src = match self.rule {
            PickRule::First => self.picked[dst].is_none(),
            PickRule::Last => self.picked[src].is_some(),
            PickRule::Smallest | PickRule::Largest => match (&self.keys[dst], &self.keys[src]) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(d), Some(s)) => {
                    if self.rule == PickRule::Smallest {
                        s < d
                    } else {
                        s > d
                    }
                }
            },
        };
        if take_src {
            self.picked[dst] = self.picked[src];
            if self.converter.is_some() {
                self.keys[dst] = self.keys[src].clone();
            }
        }
    }
    fn reset(&mut self, slot: usize) {
        self.picked[slot] = None;
        if self.converter.is_some() {
            self.keys[slot] = None;
        }
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        // Source 0 is a one-row null array for slots that picked nothing.
        let null_source = new_null_array(&self.data_type, 1);
        let mut sources: Vec<&dyn Array> = vec![null_source.as_ref()];
        let placeholder = new_null_array(&self.data_type, 0);
        for values in &self.batch_values {
            sources.push(values.as_deref().unwrap_or(placeholder.as_ref()));
        }
        let indices: Vec<(usize, usize)> = slots
            .iter()
            .map(|&s| match self.picked[s as usize] {
                Some((b, r)) => (b as usize + 1, r as usize),
                None => (0, 0),
            })
            .collect();
        Ok(vec![interleave(&sources, &indices)?])
    }
}

// ---------------------------------------------------------------- var, std

#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

/// Welford's online variance, merged with Chan et al.'s formula.
struct Variance {
    column: usize,
    std: bool,
    states: Vec<Moments>,
}

pub(crate) fn as_f64_array(array: &ArrayRef) -> Result<Arc<Float64Array>> {
    let casted = cast(array.as_ref(), &DataType::Float64)?;
    Ok(Arc::new(casted.as_primitive::<Float64Type>().clone()))
}

impl Accumulator for Variance {
    fn grow(&mut self, n: usize) {
        self.states.resize(n, Moments::default());
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let values = as_f64_array(&rows.select(batch.column(self.column))?)?;
        for (i, &slot) in slots.iter().enumerate() {
            if values.is_valid(i) {
                let x = values.value(i);
                let m = &mut self.states[slot as usize];
                m.n += 1.0;
                let delta = x - m.mean;
                m.mean += delta / m.n;
                m.m2 += delta * (x - m.mean);
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let b = self.states[src];
        let a = &mut self.states[dst];
        if b.n == 0.0 {
            return;
        }
        if a.n == 0.0 {
            *a = b;
            return;
        }
        let n = a.n + b.n;
        let delta = b.mean - a.mean;
        a.m2 += b.m2 + delta * delta * a.n * b.n / n;
        a.mean += delta * b.n / n;
        a.n = n;
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = Moments::default();
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let out: Float64Array = slots
            .iter()
            .map(|&s| {
                let m = self.states[s as usize];
                (m.n >= 2.0).then(|| {
                    let var = m.m2 / (m.n - 1.0);
                    if self.std {
                        var.sqrt()
                    } else {
                        var
                    }
                })
            })
            .collect();
        Ok(vec![Arc::new(out)])
    }
}

// ---------------------------------------------------------------- exact quantiles

/// sash's float order: NaN above +inf.
pub(crate) fn cmp_f64(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.partial_cmp(b).expect("not NaN"),
    }
}

/// The linear-interpolated quantile of sorted values (numpy's default method).
pub(crate) fn interpolate_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    // Between an infinity and another value the limit, as DuckDB's
    // quantile_cont and Spark's percentile answer: -inf towards 1 is -inf.
    crate::sketch::tdigest::lerp(sorted[lo], sorted[hi], h - lo as f64)
}

/// What a quantile keeps per slot: every value (exact) or a t-digest (approximate).
trait QuantileState: Default + Send {
    fn add(&mut self, x: f64);
    fn merge(&mut self, other: &Self);
    fn quantile(&mut self, q: f64) -> Option<f64>;
}

/// Exact quantiles keep the values.
impl QuantileState for Vec<f64> {
    fn add(&mut self, x: f64) {
        self.push(x);
    }
    fn merge(&mut self, other: &Self) {
        self.extend_from_slice(other);
    }
    fn quantile(&mut self, q: f64) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        self.sort_unstable_by(cmp_f64);
        Some(interpolate_sorted(self, q))
    }
}

impl QuantileState for TDigest {
    fn add(&mut self, x: f64) {
        TDigest::add(self, x);
    }
    fn merge(&mut self, other: &Self) {
        TDigest::merge(self, other);
    }
    fn quantile(&mut self, q: f64) -> Option<f64> {
        TDigest::quantile(self, q)
    }
}

/// `median`, `quantile` (state `Vec<f64>`) and `approx_quantile` (state `TDigest`).
struct Quantile<S: QuantileState> {
    column: usize,
    q: f64,
    states: Vec<S>,
}

impl<S: QuantileState> Accumulator for Quantile<S> {
    fn grow(&mut self, n: usize) {
        self.states.resize_with(n, S::default);
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let values = as_f64_array(&rows.select(batch.column(self.column))?)?;
        for (i, &slot) in slots.iter().enumerate() {
            if values.is_valid(i) {
                self.states[slot as usize].add(values.value(i));
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let source = std::mem::take(&mut self.states[src]);
        self.states[dst].merge(&source);
        self.states[src] = source;
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = S::default();
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let out: Float64Array = slots.iter().map(|&s| self.states[s as usize].quantile(self.q)).collect();
        Ok(vec![Arc::new(out)])
    }
}

// ---------------------------------------------------------------- distinct counts

/// Encodes the selected rows with arrow-row so every type hashes and compares as bytes.
fn encode_rows(converter: &RowConverter, array: &ArrayRef) -> Result<arrow_row::Rows> {
    Ok(converter.convert_columns(std::slice::from_ref(array))?)
}

fn normalized_floats(array: ArrayRef) -> Result<ArrayRef> {
    // -0.0 equals 0.0 and every NaN is one value for distinct counts. Every
    // float width becomes Float64, exactly: the encoding is of `distinct_type`.
    Ok(match array.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => normalized_float_key(cast(&array, &DataType::Float64)?),
        _ => array,
    })
}

/// The type distinct counts encode values of `data_type` as (see `normalized_floats`).
fn distinct_type(data_type: DataType) -> DataType {
    match data_type {
        DataType::Float16 | DataType::Float32 => DataType::Float64,
        other => other,
    }
}

/// What a distinct count keeps per slot: the encoded values (exact) or a
/// HyperLogLog of their hashes (approximate).
trait DistinctState: Default + Send {
    fn insert(&mut self, encoded: &[u8]);
    fn merge(&mut self, other: &Self);
    fn count(&self) -> i64;
}

impl DistinctState for HashSet<Box<[u8]>> {
    fn insert(&mut self, encoded: &[u8]) {
        if !self.contains(encoded) {
            HashSet::insert(self, encoded.into());
        }
    }
    fn merge(&mut self, other: &Self) {
        self.extend(other.iter().cloned());
    }
    fn count(&self) -> i64 {
        self.len() as i64
    }
}

impl DistinctState for HyperLogLog {
    fn insert(&mut self, encoded: &[u8]) {
        self.insert_hash(hash_bytes(encoded));
    }
    fn merge(&mut self, other: &Self) {
        HyperLogLog::merge(self, other);
    }
    fn count(&self) -> i64 {
        self.estimate() as i64
    }
}

/// `count_distinct` (state: a set) and `approx_count_distinct` (state: a
/// HyperLogLog). Values of any type are compared by their arrow-row encoding.
struct Distinct<S: DistinctState> {
    column: usize,
    converter: RowConverter,
    states: Vec<S>,
}

impl<S: DistinctState> Distinct<S> {
    fn new(column: usize, data_type: DataType) -> Result<Self> {
        Ok(Distinct { column, converter: RowConverter::new(vec![SortField::new(distinct_type(data_type))])?, states: Vec::new() })
    }
}

impl<S: DistinctState> Accumulator for Distinct<S> {
    fn grow(&mut self, n: usize) {
        self.states.resize_with(n, S::default);
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let selected = normalized_floats(rows.select(batch.column(self.column))?)?;
        let nulls = selected.logical_nulls();
        let encoded = encode_rows(&self.converter, &selected)?;
        for (i, &slot) in slots.iter().enumerate() {
            if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                self.states[slot as usize].insert(encoded.row(i).as_ref());
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let source = std::mem::take(&mut self.states[src]);
        self.states[dst].merge(&source);
        self.states[src] = source;
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = S::default();
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.states[s as usize].count())))])
    }
}

// ---------------------------------------------------------------- planning

/// The accumulators for a list of aggregations, and where each output comes from.
pub(crate) struct AggPlan {
    pub accumulators: Vec<Box<dyn Accumulator>>,
    /// For each aggregation in spec order: (accumulator, output of that accumulator).
    pub outputs: Vec<(usize, usize)>,
    pub fields: Vec<arrow_schema::Field>,
}

impl AggPlan {
    pub fn new(schema: &Schema, aggs: &[AggExpr]) -> Result<AggPlan> {
        let mut accumulators: Vec<Box<dyn Accumulator>> = Vec::new();
        let mut outputs = Vec::with_capacity(aggs.len());
        let mut fields = Vec::with_capacity(aggs.len());
        // Fused primitive stats: per column, the list of (agg index, output kind).
        let mut stats_by_column: Vec<(usize, Vec<(usize, StatOutput)>)> = Vec::new();
        let mut pending: Vec<Option<(usize, usize)>> = vec![None; aggs.len()];
        // count() rides along with fused stats when there are any.
        let mut row_counts: Vec<usize> = Vec::new();
        for (i, agg) in aggs.iter().enumerate() {
            let out_type = agg_output_type(schema, agg)?;
            // Counts are never null; every other aggregate is null for an all-null window.
            let nullable = !matches!(agg.func, AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct);
            fields.push(arrow_schema::Field::new(agg.alias.clone(), out_type, nullable));
            let column = agg.column.as_deref().map(|c| column_index(schema, c)).transpose()?;
            let value_type = column.map(|c| schema.field(c).data_type().clone());
            let stat = match agg.func {
                AggFunc::Sum => Some(StatOutput::Sum),
                AggFunc::Mean => Some(StatOutput::Mean),
                AggFunc::Min => Some(StatOutput::Min),
                AggFunc::Max => Some(StatOutput::Max),
                _ => None,
            };
            if let (Some(stat), Some(c), Some(t)) = (stat, column, value_type.as_ref()) {
                let probe = primitive_stats(c, "", t, vec![stat]);
                if probe.is_some() {
                    match stats_by_column.iter_mut().find(|(col, _)| *col == c) {
                        Some((_, list)) => list.push((i, stat)),
                        None => stats_by_column.push((c, vec![(i, stat)])),
                    }
                    continue;
                }
            }
            if (agg.func, column) == (AggFunc::Count, None) {
                row_counts.push(i);
                continue;
            }
            let numeric_func = !matches!(
                agg.func,
                AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct | AggFunc::First | AggFunc::Last
            );
            let acc: Box<dyn Accumulator> = match (agg.func, column) {
                // A Null-typed column has no value to aggregate (its rows are
                // skipped like any null): the result is null in every window.
                (_, Some(_)) if value_type == Some(DataType::Null) && numeric_func && agg.by_column.is_none() => {
                    Box::new(AllNull { data_type: fields[i].data_type().clone() })
                }
                (AggFunc::Count, Some(c)) => Box::new(CountValid { column: c, counts: Vec::new() }),
                (AggFunc::Min | AggFunc::Max, Some(c)) => {
                    let t = value_type.clone().expect("column");
                    let rule = if agg.func == AggFunc::Min { PickRule::Smallest } else { PickRule::Largest };
                    Box::new(PickRow::new(c, Some(c), rule, t.clone(), Some(t))?)
                }
                (AggFunc::First | AggFunc::Last, Some(c)) => {
                    let rule = if agg.func == AggFunc::First { PickRule::First } else { PickRule::Last };
                    Box::new(PickRow::new(c, None, rule, value_type.clone().expect("column"), None)?)
                }
                (AggFunc::MinBy | AggFunc::MaxBy, Some(c)) => {
                    let by = column_index(schema, agg.by_column.as_deref().expect("parser guarantees by"))?;
                    let rule = if agg.func == AggFunc::MinBy { PickRule::Smallest } else { PickRule::Largest };
                    Box::new(PickRow::new(
                        c,
                        Some(by),
                        rule,
                        value_type.clone().expect("column"),
                        Some(schema.field(by).data_type().clone()),
                    )?)
                }
                (AggFunc::Var | AggFunc::Std, Some(c)) => {
                    Box::new(Variance { column: c, std: agg.func == AggFunc::Std, states: Vec::new() })
                }
                (AggFunc::Median, Some(c)) => Box::new(Quantile::<Vec<f64>> { column: c, q: 0.5, states: Vec::new() }),
                (AggFunc::Quantile, Some(c)) => {
                    Box::new(Quantile::<Vec<f64>> { column: c, q: agg.q.expect("parser guarantees q"), states: Vec::new() })
                }
                (AggFunc::ApproxQuantile, Some(c)) => {
                    Box::new(Quantile::<TDigest> { column: c, q: agg.q.expect("parser guarantees q"), states: Vec::new() })
                }
                (AggFunc::CountDistinct, Some(c)) => Box::new(Distinct::<HashSet<Box<[u8]>>>::new(c, value_type.clone().expect("column"))?),
                (AggFunc::ApproxCountDistinct, Some(c)) => Box::new(Distinct::<HyperLogLog>::new(c, value_type.clone().expect("column"))?),
                (func, _) => return Err(SashError::spec(format!("{} needs a column", func.name()))),
            };
            accumulators.push(acc);
            pending[i] = Some((accumulators.len() - 1, 0));
        }
        match stats_by_column.first_mut() {
            Some((_, list)) => {
                list.extend(row_counts.iter().map(|&i| (i, StatOutput::Rows)));
                // Outputs in spec order (see `finish_into`).
                list.sort_by_key(|&(i, _)| i);
            }
            None => {
                for &i in &row_counts {
                    accumulators.push(Box::new(CountRows::default()));
                    pending[i] = Some((accumulators.len() - 1, 0));
                }
            }
        }
        for (column, list) in stats_by_column {
            let field = schema.field(column);
            let kinds: Vec<StatOutput> = list.iter().map(|&(_, k)| k).collect();
            let acc = primitive_stats(column, field.name(), field.data_type(), kinds).expect("probed above");
            accumulators.push(acc);
            for (output, &(agg_index, _)) in list.iter().enumerate() {
                pending[agg_index] = Some((accumulators.len() - 1, output));
            }
        }
        outputs.extend(pending.into_iter().map(|p| p.expect("every aggregation is planned")));
        Ok(AggPlan { accumulators, outputs, fields })
    }

    pub fn grow(&mut self, n: usize) {
        for acc in &mut self.accumulators {
            acc.grow(n);
        }
    }

    pub fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        for acc in &mut self.accumulators {
            acc.update(batch_idx, batch, rows, slots)?;
        }
        Ok(())
    }

    pub fn merge_pairs(&mut self, pairs: &[(u32, u32)]) {
        for acc in &mut self.accumulators {
            acc.merge_pairs(pairs);
        }
    }

    pub fn merge_groups(&mut self, dst_base: u32, src_base: u32, groups: &[u32]) {
        for acc in &mut self.accumulators {
            acc.merge_groups(dst_base, src_base, groups);
        }
    }

    /// Whether some accumulator counts every row, so that
    /// `slots_with_rows` can tell which slots got rows.
    pub fn counts_every_row(&self) -> bool {
        self.accumulators.iter().any(|acc| acc.counts_every_row())
    }

    /// Replaces `out` with each g of `0..n`, ascending, whose slot `base + g`
    /// has rows; only when `counts_every_row`.
    pub fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        let counter = self.accumulators.iter().find(|acc| acc.counts_every_row()).expect("an accumulator counts every row");
        counter.slots_with_rows(base, n, out);
    }

    pub fn reset_all(&mut self, slots: &[u32]) {
        for acc in &mut self.accumulators {
            acc.reset_all(slots);
        }
    }

    /// Appends one row per slot to each aggregation's builder (in spec order).
    pub fn finish_into(&mut self, slots: &[u32], builders: &mut [ColumnBuilder]) -> Result<()> {
        for (a, acc) in self.accumulators.iter_mut().enumerate() {
            // An accumulator's outputs appear in spec order (see `new`).
            let mut mine: Vec<&mut ColumnBuilder> =
                builders.iter_mut().zip(&self.outputs).filter(|(_, &(owner, _))| owner == a).map(|(b, _)| b).collect();
            debug_assert!(self.outputs.iter().filter(|o| o.0 == a).map(|o| o.1).eq(0..mine.len()));
            acc.finish_into(slots, &mut mine)?;
        }
        Ok(())
    }

    /// One array per aggregation, in spec order.
    pub fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut per_acc = Vec::with_capacity(self.accumulators.len());
        for acc in &mut self.accumulators {
            per_acc.push(acc.finish(slots)?);
        }
        Ok(self.outputs.iter().map(|&(a, o)| per_acc[a][o].clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Float64Array;
    use arrow_schema::Field;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Min and max of floats skip their NaN tests on an update whose values
    /// hold no NaN. A slot fed over several updates, some with NaN and some
    /// without, must still get sash's order (NaN above +inf): min ignores a
    /// NaN unless all are NaN, max is NaN once any is.
    #[test]
    fn float_extremes_are_the_same_with_and_without_nan_in_an_update() {
        let pool = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.5, -2.5, 7.0];
        let schema = Schema::new(vec![Field::new("v", DataType::Float64, false)]);
        let aggs: Vec<AggExpr> = ["min(v)", "max(v)", "count(v)"].iter().map(|e| AggExpr::parse(e).unwrap()).collect();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let slots = rng.random_range(1..5u32);
            let mut plan = AggPlan::new(&schema, &aggs).unwrap();
            plan.grow(slots as usize);
            let mut seen: Vec<Vec<f64>> = vec![Vec::new(); slots as usize];
            for _ in 0..rng.random_range(1..6) {
                // Some updates draw NaN, most not.
                let nan_allowed = rng.random_bool(0.3);
                let len = rng.random_range(0..20);
                let values: Vec<f64> = (0..len).map(|_| pool[rng.random_range(usize::from(!nan_allowed)..pool.len())]).collect();
                let row_slots: Vec<u32> = (0..len).map(|_| rng.random_range(0..slots)).collect();
                for (&v, &s) in values.iter().zip(&row_slots) {
                    seen[s as usize].push(v);
                }
                let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(Float64Array::from(values))]).unwrap();
                plan.update(0, &batch, &Rows::Range(0..len), &row_slots).unwrap();
            }
            let all: Vec<u32> = (0..slots).collect();
            let out = plan.finish(&all).unwrap();
            let (min, max) = (out[0].as_primitive::<Float64Type>(), out[1].as_primitive::<Float64Type>());
            for (s, values) in seen.iter().enumerate() {
                if values.is_empty() {
                    assert!(min.is_null(s) && max.is_null(s), "slot without values: {values:?}");
                    continue;
                }
                let numbers: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
                let want_min = numbers.iter().copied().reduce(f64::min).unwrap_or(f64::NAN);
                let want_max = if numbers.len() < values.len() { f64::NAN } else { numbers.iter().copied().reduce(f64::max).unwrap() };
                let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
                assert!(same(min.value(s), want_min), "min of {values:?}: {} not {want_min}", min.value(s));
                assert!(same(max.value(s), want_max), "max of {values:?}: {} not {want_max}", max.value(s));
            }
        }
    }
}
