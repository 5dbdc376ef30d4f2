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
use crate::time::TimeColumn;
use crate::types::{agg_output_type, column_index};
use arrow_array::builder::{BinaryBuilder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    new_null_array, Array, ArrayRef, ArrowPrimitiveType, BinaryArray, Float64Array, Int64Array, ListArray, PrimitiveArray, RecordBatch,
    UInt32Array,
};
use arrow_buffer::NullBuffer;
use arrow_cast::cast;
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Field, Schema, SortOptions};
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
    /// The columns of this accumulator's state (see `state`), named after `prefix`.
    fn state_fields(&self, prefix: &str) -> Vec<Field>;
    /// The intermediate state of each slot in `slots` as plain Arrow (one
    /// row per slot, columns as `state_fields` says), complete enough that
    /// `merge_state` of the states of any split of the rows gives what the
    /// whole would have.
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>>;
    /// Folds row i of `state` (arrays as `state` makes them, types checked
    /// by the caller) into `slots[i]`. States merge in any order: rows of
    /// picks (`first`, `min_by`, ...) carry their time and position.
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()>;
    /// A new input begins: its batches start at these positions of the
    /// whole stream of rows (which orders rows of equal time). Only picks
    /// need it.
    fn begin_input(&mut self, _batch_starts: &[u64]) {}
    /// Copies every value a slot refers to out of the input batches, so that
    /// none of them stays alive (a stream keeps state across pushes).
    fn detach(&mut self) -> Result<()> {
        Ok(())
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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        vec![Field::new(format!("{prefix}rows"), DataType::Int64, false)]
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![count_state(&self.counts, slots)])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        merge_count_state(&mut self.counts, &state[0], slots)
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

fn count_state(counts: &[i64], slots: &[u32]) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| counts[s as usize])))
}

/// Adds exported counts to slots; a negative count (a corrupted state) is an error.
fn merge_count_state(counts: &mut [i64], state: &ArrayRef, slots: &[u32]) -> Result<()> {
    let state = state.as_primitive::<Int64Type>();
    for (&slot, &count) in slots.iter().zip(state.values()) {
        let total = counts[slot as usize].checked_add(count).filter(|_| count >= 0);
        counts[slot as usize] = total.ok_or_else(|| corrupt_state(format!("a row count of {count}")))?;
    }
    Ok(())
}

fn state_too_large() -> SashError {
    SashError::ResourceLimit("the aggregation state of these windows is larger than one Arrow column holds (2 GiB)".into())
}

/// One binary value per slot, refusing more than a column's 2 GiB.
fn binary_state(values: impl Iterator<Item = Vec<u8>>) -> Result<ArrayRef> {
    let mut builder = arrow_array::builder::BinaryBuilder::new();
    let mut bytes = 0usize;
    for value in values {
        bytes += value.len();
        if bytes > i32::MAX as usize {
            return Err(state_too_large());
        }
        builder.append_value(value);
    }
    Ok(Arc::new(builder.finish()))
}

pub(crate) fn corrupt_state(what: String) -> SashError {
    SashError::InvalidInput(format!("the aggregation state is corrupt: {what}"))
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
    fn state_fields(&self, _: &str) -> Vec<Field> {
        Vec::new()
    }
    fn state(&mut self, _: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(Vec::new())
    }
    fn merge_state(&mut self, _: &[ArrayRef], _: &[u32]) -> Result<()> {
        Ok(())
    }
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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        vec![Field::new(format!("{prefix}count"), DataType::Int64, false)]
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![count_state(&self.counts, slots)])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        merge_count_state(&mut self.counts, &state[0], slots)
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
    /// The type of sums in an exported state: the exact running sum, which
    /// for integers is wider than any output type.
    fn sum_state_type() -> DataType;
    fn sums_to_state(sums: Vec<Self::Sum>) -> ArrayRef;
    fn sums_of_state(state: &ArrayRef) -> &[Self::Sum];
}

/// Integer and decimal running sums are i128, exported as Decimal128(38, 0) bits.
macro_rules! i128_sum_state {
    () => {
        fn sum_state_type() -> DataType {
            DataType::Decimal128(38, 0)
        }
        fn sums_to_state(sums: Vec<i128>) -> ArrayRef {
            Arc::new(PrimitiveArray::<Decimal128Type>::from(sums).with_data_type(DataType::Decimal128(38, 0)))
        }
        fn sums_of_state(state: &ArrayRef) -> &[i128] {
            state.as_primitive::<Decimal128Type>().values()
        }
    };
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
            i128_sum_state!();
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
    i128_sum_state!();
}

macro_rules! float_native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            type Sum = f64;
            const MIN_IDENTITY: Self = <$t>::NAN;
            const MAX_IDENTITY: Self = <$t>::NEG_INFINITY;
            /// Ignores a NaN, which is exactly "NaN is the largest"; of the
            /// two zeros -0.0 is the smaller, so the result never depends on
            /// the order values come in (nor on how partial states merge).
            #[inline(always)]
            fn min_of(a: Self, b: Self) -> Self {
                let m = if a < b || b.is_nan() { a } else { b };
                negative_zero_wins(m, a, b)
            }
            #[inline(always)]
            fn max_of(a: Self, b: Self) -> Self {
                let larger = if b > a { b } else { a };
                if a.is_nan() || b.is_nan() { <$t>::NAN } else { positive_zero_wins(larger, a, b) }
            }
            // A NaN `a` (the identity) loses to `b`, as in `min_of`.
            #[inline(always)]
            fn min_of_number(a: Self, b: Self) -> Self {
                negative_zero_wins(if a < b { a } else { b }, a, b)
            }
            // A NaN `a` (a NaN seen before) stays, as in `max_of`.
            #[inline(always)]
            fn max_of_number(a: Self, b: Self) -> Self {
                positive_zero_wins(if b > a { b } else { a }, a, b)
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
            fn sum_state_type() -> DataType { DataType::Float64 }
            fn sums_to_state(sums: Vec<f64>) -> ArrayRef { Arc::new(Float64Array::from(sums)) }
            fn sums_of_state(state: &ArrayRef) -> &[f64] { state.as_primitive::<Float64Type>().values() }
        }
    )*};
}
float_native!(f32, f64);

/// Float bits as an unsigned integer of their width.
trait FloatBits: Copy {
    type Bits: Copy + std::ops::BitOr<Output = Self::Bits> + std::ops::BitAnd<Output = Self::Bits>;
    const NONE: Self::Bits;
    const ALL: Self::Bits;
    fn bits(self) -> Self::Bits;
    fn of_bits(bits: Self::Bits) -> Self;
}

macro_rules! float_bits {
    ($($t:ty => $u:ty),*) => {$(
        impl FloatBits for $t {
            type Bits = $u;
            const NONE: $u = 0;
            const ALL: $u = <$u>::MAX;
            #[inline(always)]
            fn bits(self) -> $u { self.to_bits() }
            #[inline(always)]
            fn of_bits(bits: $u) -> Self { <$t>::from_bits(bits) }
        }
    )*};
}
float_bits!(f32 => u32, f64 => u64);

/// `m`, the smaller of equal `a` and `b` being -0.0 when either is: equal
/// values differ at most in the sign of zero, so or-ing their bits picks
/// -0.0 and changes nothing else. Branchless, like the comparisons.
#[inline(always)]
fn negative_zero_wins<F: FloatBits + PartialEq>(m: F, a: F, b: F) -> F {
    let tie = if a == b { a.bits() } else { F::NONE };
    F::of_bits(m.bits() | tie)
}

/// `m`, the larger of equal `a` and `b` being 0.0 when either is.
#[inline(always)]
fn positive_zero_wins<F: FloatBits + PartialEq>(m: F, a: F, b: F) -> F {
    let tie = if a == b { b.bits() } else { F::ALL };
    F::of_bits(m.bits() & tie)
}

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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        let mut fields = vec![
            Field::new(format!("{prefix}count"), DataType::Int64, false),
            Field::new(format!("{prefix}sum"), T::Native::sum_state_type(), false),
            Field::new(format!("{prefix}min"), self.data_type.clone(), true),
            Field::new(format!("{prefix}max"), self.data_type.clone(), true),
        ];
        if self.outputs.contains(&StatOutput::Rows) {
            fields.push(Field::new(format!("{prefix}nulls"), DataType::Int64, false));
        }
        fields
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let valid = validity_of(&self.states, slots);
        let states = || slots.iter().map(|&s| &self.states[s as usize]);
        let extremes = |pick: fn(&Stat<T::Native>) -> T::Native| -> ArrayRef {
            Arc::new(PrimitiveArray::<T>::new(states().map(pick).collect(), valid.clone()).with_data_type(self.data_type.clone()))
        };
        let mut out = vec![
            Arc::new(Int64Array::from_iter_values(states().map(|s| s.count))) as ArrayRef,
            T::Native::sums_to_state(states().map(|s| s.sum).collect()),
            extremes(|s| s.min),
            extremes(|s| s.max),
        ];
        if self.outputs.contains(&StatOutput::Rows) {
            out.push(count_state(&self.nulls, slots));
        }
        Ok(out)
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let counts = state[0].as_primitive::<Int64Type>().values();
        let sums = T::Native::sums_of_state(&state[1]);
        let mins = state[2].as_primitive::<T>().values();
        let maxes = state[3].as_primitive::<T>().values();
        for (i, &slot) in slots.iter().enumerate() {
            if counts[i] < 0 {
                return Err(corrupt_state(format!("a value count of {}", counts[i])));
            }
            if counts[i] == 0 {
                continue;
            }
            let d = &mut self.states[slot as usize];
            d.count = d.count.checked_add(counts[i]).ok_or_else(|| corrupt_state("a value count past 2^63".into()))?;
            d.sum = T::Native::add_sums(d.sum, sums[i]);
            d.min = T::Native::min_of(d.min, mins[i]);
            d.max = T::Native::max_of(d.max, maxes[i]);
        }
        if self.outputs.contains(&StatOutput::Rows) {
            merge_count_state(&mut self.nulls, &state[4], slots)?;
        }
        Ok(())
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

/// A picked row: where its value is (`PickRow::sources`) and where the row
/// stands in the order of all rows (time, then position in the input).
#[derive(Debug, Clone, Copy)]
struct Pick {
    source: u32,
    row: u32,
    time: i64,
    seq: u64,
}

impl Pick {
    fn before(&self, other: &Pick) -> bool {
        (self.time, self.seq) < (other.time, other.seq)
    }
}

/// Remembers one row per slot and emits its value at the end, for any type.
///
/// During a call a pick refers to a row of an input batch (no copy per
/// candidate); `detach` copies the picked values into the accumulator's own
/// array, and exported states carry the values themselves. Every pick
/// carries its row's time and position, so picks from different inputs
/// (partitions, threads, pushes of a stream) merge in any order.
struct PickRow {
    column: usize,
    /// The ordering column, for Smallest/Largest.
    order_column: Option<usize>,
    rule: PickRule,
    converter: Option<RowConverter>,
    data_type: DataType,
    time: TimeColumn,
    /// Arrays picked values live in: 0 is the accumulator's own (filled by
    /// `detach`), then input columns and merged states.
    sources: Vec<ArrayRef>,
    /// Per batch of the current input: its entry in `sources`.
    batch_sources: Vec<Option<u32>>,
    /// Per batch of the current input: the position of its first row.
    batch_starts: Vec<u64>,
    picked: Vec<Option<Pick>>,
    keys: Vec<Option<Box<[u8]>>>,
}

impl PickRow {
    fn new(
        column: usize,
        order_column: Option<usize>,
        rule: PickRule,
        data_type: DataType,
        order_type: Option<DataType>,
        time: &TimeColumn,
    ) -> Result<Self> {
        let converter = match order_type {
            Some(t) => Some(RowConverter::new(vec![SortField::new_with_options(t, SortOptions::default())])?),
            None => None,
        };
        Ok(PickRow {
            column,
            order_column,
            rule,
            converter,
            sources: vec![new_null_array(&data_type, 0)],
            data_type,
            time: time.clone(),
            batch_sources: Vec::new(),
            batch_starts: Vec::new(),
            picked: Vec::new(),
            keys: Vec::new(),
        })
    }

    /// The source of batch `batch_idx`'s values, added on first use.
    fn batch_source(&mut self, batch_idx: usize, batch: &RecordBatch) -> u32 {
        if self.batch_sources.len() <= batch_idx {
            self.batch_sources.resize(batch_idx + 1, None);
        }
        *self.batch_sources[batch_idx].get_or_insert_with(|| {
            self.sources.push(batch.column(self.column).clone());
            (self.sources.len() - 1) as u32
        })
    }

    /// Whether `candidate` (with order key `key`) replaces what `slot` holds.
    fn better(&self, slot: usize, candidate: &Pick, key: Option<&[u8]>) -> bool {
        let Some(current) = &self.picked[slot] else { return true };
        match self.rule {
            PickRule::First => candidate.before(current),
            PickRule::Last => current.before(candidate),
            PickRule::Smallest | PickRule::Largest => {
                let held = self.keys[slot].as_deref().expect("a pick by order has a key");
                let key = key.expect("a pick by order has a key");
                match key.cmp(held) {
                    std::cmp::Ordering::Equal => candidate.before(current),
                    order => (order == std::cmp::Ordering::Less) == (self.rule == PickRule::Smallest),
                }
            }
        }
    }

    /// The picked values of `slots` (null where nothing was picked).
    fn values(&self, slots: &[u32]) -> Result<ArrayRef> {
        // Source 0 of the interleave is a one-row null array for slots that picked nothing.
        let null_source = new_null_array(&self.data_type, 1);
        let mut sources: Vec<&dyn Array> = vec![null_source.as_ref()];
        sources.extend(self.sources.iter().map(|a| a.as_ref()));
        let indices: Vec<(usize, usize)> = slots
            .iter()
            .map(|&s| match self.picked[s as usize] {
                Some(p) => (p.source as usize + 1, p.row as usize),
                None => (0, 0),
            })
            .collect();
        Ok(interleave(&sources, &indices)?)
    }
}

impl Accumulator for PickRow {
    fn grow(&mut self, n: usize) {
        self.picked.resize(n, None);
        if self.converter.is_some() {
            self.keys.resize(n, None);
        }
    }
    fn begin_input(&mut self, batch_starts: &[u64]) {
        self.batch_sources.clear();
        self.batch_starts = batch_starts.to_vec();
    }
    fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let source = self.batch_source(batch_idx, batch);
        let start = self.batch_starts.get(batch_idx).copied().unwrap_or(0);
        let times = self.time.values(batch.column(self.time.index));
        let values = batch.column(self.column);
        let value_nulls = values.logical_nulls();
        let pick = |row: usize| Pick { source, row: row as u32, time: times[row], seq: start + row as u64 };
        match self.rule {
            PickRule::First | PickRule::Last => for_rows!(rows, slots, |slot, row| {
                if value_nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                    let candidate = pick(row);
                    if self.better(slot, &candidate, None) {
                        self.picked[slot] = Some(candidate);
                    }
                }
            }),
            PickRule::Smallest | PickRule::Largest => {
                let order = batch.column(self.order_column.expect("ordered pick has an order column"));
                let selected = rows.select(order)?;
                let order_nulls = selected.logical_nulls();
                let encoded = self.converter.as_ref().expect("ordered pick has a converter").convert_columns(&[selected])?;
                let mut i = 0usize;
                for_rows!(rows, slots, |slot, row| {
                    let k = i;
                    i += 1;
                    if order_nulls.as_ref().is_some_and(|n| n.is_null(k)) {
                        continue;
                    }
                    let key = encoded.row(k);
                    let candidate = pick(row);
                    if self.better(slot, &candidate, Some(key.as_ref())) {
                        self.keys[slot] = Some(key.as_ref().into());
                        self.picked[slot] = Some(candidate);
                    }
                });
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let Some(candidate) = self.picked[src] else { return };
        let key = self.keys.get(src).cloned().flatten();
        if self.better(dst, &candidate, key.as_deref()) {
            self.picked[dst] = Some(candidate);
            if self.converter.is_some() {
                self.keys[dst] = key;
            }
        }
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        let mut fields = vec![Field::new(format!("{prefix}value"), self.data_type.clone(), true)];
        if self.converter.is_some() {
            fields.push(Field::new(format!("{prefix}order_key"), DataType::Binary, true));
        }
        fields.push(Field::new(format!("{prefix}time"), DataType::Int64, true));
        fields.push(Field::new(format!("{prefix}position"), DataType::Int64, true));
        fields
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let picks = || slots.iter().map(|&s| self.picked[s as usize]);
        let mut out = vec![self.values(slots)?];
        if self.converter.is_some() {
            out.push(Arc::new(slots.iter().map(|&s| self.keys[s as usize].as_deref()).collect::<BinaryArray>()));
        }
        out.push(Arc::new(picks().map(|p| p.map(|p| p.time)).collect::<Int64Array>()));
        // Positions are below 2^63 (they count rows), so Int64 holds them,
        // a type every Arrow consumer (Spark among them) reads.
        out.push(Arc::new(picks().map(|p| p.map(|p| p.seq as i64)).collect::<Int64Array>()));
        Ok(out)
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let ordered = self.converter.is_some();
        let keys = ordered.then(|| state[1].as_binary::<i32>());
        let times = state[1 + usize::from(ordered)].as_primitive::<Int64Type>();
        let seqs = state[2 + usize::from(ordered)].as_primitive::<Int64Type>();
        self.sources.push(state[0].clone());
        let source = (self.sources.len() - 1) as u32;
        for (i, &slot) in slots.iter().enumerate() {
            if times.is_null(i) {
                continue;
            }
            let key = keys.filter(|k| k.is_valid(i)).map(|k| k.value(i));
            if seqs.is_null(i) || seqs.value(i) < 0 || (ordered && key.is_none()) {
                return Err(corrupt_state("a pick without its position or order key".into()));
            }
            let candidate = Pick { source, row: i as u32, time: times.value(i), seq: seqs.value(i) as u64 };
            if self.better(slot as usize, &candidate, key) {
                self.picked[slot as usize] = Some(candidate);
                if ordered {
                    self.keys[slot as usize] = key.map(Into::into);
                }
            }
        }
        Ok(())
    }
    fn detach(&mut self) -> Result<()> {
        let live: Vec<u32> = (0..self.picked.len() as u32).filter(|&s| self.picked[s as usize].is_some()).collect();
        let owned = self.values(&live)?;
        for (row, &slot) in live.iter().enumerate() {
            let pick = self.picked[slot as usize].as_mut().expect("live");
            (pick.source, pick.row) = (0, row as u32);
        }
        self.sources = vec![owned];
        self.batch_sources.clear();
        Ok(())
    }
    fn reset(&mut self, slot: usize) {
        self.picked[slot] = None;
        if self.converter.is_some() {
            self.keys[slot] = None;
        }
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.values(slots)?])
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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        ["n", "mean", "m2"].iter().map(|part| Field::new(format!("{prefix}{part}"), DataType::Float64, false)).collect()
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let column = |part: fn(&Moments) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(slots.iter().map(|&s| part(&self.states[s as usize]))))
        };
        Ok(vec![column(|m| m.n), column(|m| m.mean), column(|m| m.m2)])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let [n, mean, m2] = [0, 1, 2].map(|i| state[i].as_primitive::<Float64Type>().values());
        // The merge formula works on two slots: the incoming state goes
        // into a spare slot past the end.
        let spare = self.states.len();
        self.states.push(Moments::default());
        for (i, &slot) in slots.iter().enumerate() {
            if !(n[i] >= 0.0 && n[i].fract() == 0.0) {
                self.states.truncate(spare);
                return Err(corrupt_state(format!("a value count of {}", n[i])));
            }
            self.states[spare] = Moments { n: n[i], mean: mean[i], m2: m2[i] };
            self.merge(slot as usize, spare);
        }
        self.states.truncate(spare);
        Ok(())
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
trait QuantileState: Default + Send + Sized {
    fn add(&mut self, x: f64);
    fn merge(&mut self, other: &Self);
    fn quantile(&mut self, q: f64) -> Option<f64>;
    /// The exported state's type, one row per slot.
    fn state_type() -> DataType;
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef>
    where
        Self: 'a;
    fn import(state: &ArrayRef, row: usize) -> Result<Self>;
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
        // -0.0 before 0.0: equal values, but which one a quantile lands on
        // must not depend on the order the values came in.
        self.sort_unstable_by(|a, b| cmp_f64(a, b).then_with(|| a.is_sign_positive().cmp(&b.is_sign_positive())));
        Some(interpolate_sorted(self, q))
    }
    fn state_type() -> DataType {
        DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)))
    }
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef> {
        let mut values: Vec<f64> = Vec::new();
        let mut offsets = vec![0i32];
        for state in states {
            values.extend_from_slice(state);
            offsets.push(i32::try_from(values.len()).map_err(|_| state_too_large())?);
        }
        let field = Arc::new(Field::new_list_field(DataType::Float64, false));
        let offsets = arrow_buffer::OffsetBuffer::new(offsets.into());
        Ok(Arc::new(ListArray::new(field, offsets, Arc::new(Float64Array::from(values)), None)))
    }
    fn import(state: &ArrayRef, row: usize) -> Result<Self> {
        let list = state.as_list::<i32>().value(row);
        Ok(list.as_primitive::<Float64Type>().values().to_vec())
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
    fn state_type() -> DataType {
        DataType::Binary
    }
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef> {
        binary_state(states.map(TDigest::to_bytes))
    }
    fn import(state: &ArrayRef, row: usize) -> Result<Self> {
        TDigest::from_bytes(state.as_binary::<i32>().value(row)).map_err(corrupt_state)
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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        vec![Field::new(format!("{prefix}values"), S::state_type(), false)]
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![S::export(slots.iter().map(|&s| &self.states[s as usize]))?])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        // Every row is read before any slot changes: a corrupt row leaves the state as it was.
        let incoming: Vec<S> = (0..slots.len()).map(|row| S::import(&state[0], row)).collect::<Result<_>>()?;
        for (&slot, other) in slots.iter().zip(&incoming) {
            self.states[slot as usize].merge(other);
        }
        Ok(())
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
trait DistinctState: Default + Send + Sized {
    fn insert(&mut self, encoded: &[u8]);
    fn merge(&mut self, other: &Self);
    fn count(&self) -> i64;
    /// The exported state's type, one row per slot.
    fn state_type() -> DataType;
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef>
    where
        Self: 'a;
    fn import(state: &ArrayRef, row: usize) -> Result<Self>;
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
    /// The values' arrow-row encodings, sorted (the same set, the same bytes).
    fn state_type() -> DataType {
        DataType::List(Arc::new(Field::new_list_field(DataType::Binary, false)))
    }
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef> {
        let field = Arc::new(Field::new_list_field(DataType::Binary, false));
        let mut builder = ListBuilder::new(BinaryBuilder::new()).with_field(field);
        let (mut bytes, mut count) = (0usize, 0usize);
        for set in states {
            let mut values: Vec<&[u8]> = set.iter().map(|v| v.as_ref()).collect();
            values.sort_unstable();
            bytes += values.iter().map(|v| v.len()).sum::<usize>();
            count += values.len();
            if bytes > i32::MAX as usize || count > i32::MAX as usize {
                return Err(state_too_large());
            }
            values.iter().for_each(|v| builder.values().append_value(v));
            builder.append(true);
        }
        Ok(Arc::new(builder.finish()))
    }
    fn import(state: &ArrayRef, row: usize) -> Result<Self> {
        let list = state.as_list::<i32>().value(row);
        Ok(list.as_binary::<i32>().iter().flatten().map(Into::into).collect())
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
    fn state_type() -> DataType {
        DataType::Binary
    }
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef> {
        binary_state(states.map(|h| h.to_bytes()))
    }
    fn import(state: &ArrayRef, row: usize) -> Result<Self> {
        HyperLogLog::from_bytes(state.as_binary::<i32>().value(row)).map_err(corrupt_state)
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
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        vec![Field::new(format!("{prefix}set"), S::state_type(), false)]
    }
    fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![S::export(slots.iter().map(|&s| &self.states[s as usize]))?])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let incoming: Vec<S> = (0..slots.len()).map(|row| S::import(&state[0], row)).collect::<Result<_>>()?;
        for (&slot, other) in slots.iter().zip(&incoming) {
            self.states[slot as usize].merge(other);
        }
        Ok(())
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
    /// The output columns: the aggregations', or the state's after `emit_states`.
    pub fields: Vec<arrow_schema::Field>,
    /// `finish` and `finish_into` give each slot's state, not its aggregates.
    emits_states: bool,
}

impl AggPlan {
    /// The plan of `aggs` over inputs of `schema`, whose rows are ordered by `time`.
    pub fn new(schema: &Schema, aggs: &[AggExpr], time: &TimeColumn) -> Result<AggPlan> {
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
                    Box::new(PickRow::new(c, Some(c), rule, t.clone(), Some(t), time)?)
                }
                (AggFunc::First | AggFunc::Last, Some(c)) => {
                    let rule = if agg.func == AggFunc::First { PickRule::First } else { PickRule::Last };
                    Box::new(PickRow::new(c, None, rule, value_type.clone().expect("column"), None, time)?)
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
                        time,
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
        Ok(AggPlan { accumulators, outputs, fields, emits_states: false })
    }

    pub fn grow(&mut self, n: usize) {
        for acc in &mut self.accumulators {
            acc.grow(n);
        }
    }

    /// A new input begins, whose first row is at position `first` of the
    /// whole stream of rows: positions order rows of equal time when
    /// states of different inputs merge.
    pub fn begin_input(&mut self, batches: &[RecordBatch], first: u64) {
        let mut starts = Vec::with_capacity(batches.len());
        let mut at = first;
        for batch in batches {
            starts.push(at);
            at += batch.num_rows() as u64;
        }
        for acc in &mut self.accumulators {
            acc.begin_input(&starts);
        }
    }

    /// The columns of the state `state` exports: each accumulator's, prefixed `s{index}.`.
    pub fn state_fields(&self) -> Vec<Field> {
        self.accumulators.iter().enumerate().flat_map(|(a, acc)| acc.state_fields(&format!("s{a}."))).collect()
    }

    /// The state of each slot in `slots`, one row per slot, columns as `state_fields`.
    pub fn state(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut out = Vec::new();
        for acc in &mut self.accumulators {
            out.extend(acc.state(slots)?);
        }
        Ok(out)
    }

    /// Folds row i of `state` (columns as `state_fields`) into `slots[i]`.
    /// The columns' number, types and lengths are checked first.
    pub fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let fields = self.state_fields();
        if state.len() != fields.len() {
            return Err(corrupt_state(format!("{} columns where this plan has {}", state.len(), fields.len())));
        }
        for (array, field) in state.iter().zip(&fields) {
            if array.data_type() != field.data_type() || array.len() != slots.len() {
                return Err(corrupt_state(format!(
                    "column '{}' has type {} and {} rows, expected {} and {}",
                    field.name(),
                    array.data_type(),
                    array.len(),
                    field.data_type(),
                    slots.len()
                )));
            }
        }
        let mut at = 0;
        for (a, acc) in self.accumulators.iter_mut().enumerate() {
            let width = acc.state_fields(&format!("s{a}.")).len();
            acc.merge_state(&state[at..at + width], slots)?;
            at += width;
        }
        Ok(())
    }

    /// Copies every value the slots refer to out of the input batches.
    #[cfg_attr(not(test), expect(dead_code, reason = "the stream operator detaches between pushes; until it lands, tests do"))]
    pub fn detach(&mut self) -> Result<()> {
        for acc in &mut self.accumulators {
            acc.detach()?;
        }
        Ok(())
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

    /// From now on, `finish` and `finish_into` give each slot's state (the
    /// columns of `state_fields`, which become `fields`): an operator that
    /// emits through them then emits partial aggregates to merge elsewhere.
    pub fn emit_states(&mut self) {
        self.fields = self.state_fields();
        self.emits_states = true;
    }

    /// Appends one row per slot to each aggregation's builder (in spec order).
    pub fn finish_into(&mut self, slots: &[u32], builders: &mut [ColumnBuilder]) -> Result<()> {
        if self.emits_states {
            for (builder, array) in builders.iter_mut().zip(self.state(slots)?) {
                builder.append_array(array);
            }
            return Ok(());
        }
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
        if self.emits_states {
            return self.state(slots);
        }
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
    use arrow_schema::SchemaRef;
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
            let mut plan = AggPlan::new(&schema, &aggs, &int64_time(0)).unwrap();
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

    fn int64_time(index: usize) -> TimeColumn {
        TimeColumn { name: "t".into(), index, ty: crate::types::TimeType::Int64, data_type: DataType::Int64 }
    }

    /// Every aggregation, over columns with nulls, NaN, ±0.0, ±inf, ties and strings.
    const STATE_AGGS: &[&str] = &[
        "count()",
        "count(i)",
        "sum(i)",
        "mean(i)",
        "min(i)",
        "max(i)",
        "sum(d)",
        "mean(d)",
        "min(d)",
        "min(s)",
        "max(s)",
        "first(s)",
        "last(i)",
        "first(f)",
        "last(f)",
        "min_by(s, i)",
        "max_by(i, f)",
        "min_by(f, s)",
        "min(f)",
        "max(f)",
        "count_distinct(s)",
        "count_distinct(f)",
        "approx_count_distinct(i)",
        "approx_count_distinct(s)",
        "median(i)",
        "quantile(f, 0.3)",
        "var(i)",
        "std(f)",
        "sum(f)",
        "mean(f)",
        "approx_quantile(i, 0.5)",
        "sum(n)",
        "first(n)",
    ];

    fn state_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("t", DataType::Int64, false),
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("d", DataType::Decimal128(12, 2), true),
            Field::new("n", DataType::Null, true),
        ]))
    }

    struct Row {
        t: i64,
        i: Option<i64>,
        f: Option<f64>,
        s: Option<String>,
        d: Option<i128>,
        slot: u32,
    }

    fn batch_of(rows: &[&Row]) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.t))),
            Arc::new(rows.iter().map(|r| r.i).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.f).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.s.clone()).collect::<arrow_array::StringArray>()),
            Arc::new(rows.iter().map(|r| r.d).collect::<arrow_array::Decimal128Array>().with_precision_and_scale(12, 2).unwrap()),
            new_null_array(&DataType::Null, rows.len()),
        ];
        RecordBatch::try_new(state_schema(), columns).unwrap()
    }

    fn random_row(rng: &mut StdRng, slots: u32) -> Row {
        let floats = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.5, -2.5, 7.25, 1e16, -1e16, 3.0];
        Row {
            t: rng.random_range(0..12),
            i: rng.random_bool(0.85).then(|| rng.random_range(-50..50)),
            f: rng.random_bool(0.85).then(|| floats[rng.random_range(0..floats.len())]),
            s: rng.random_bool(0.85).then(|| ["a", "b", "bb", "", "zz", "é"][rng.random_range(0..6)].to_string()),
            d: rng.random_bool(0.85).then(|| rng.random_range(-10_000..10_000)),
            slot: rng.random_range(0..slots),
        }
    }

    /// Aggregates `rows` (any order) as one input whose rows are at
    /// positions `first..`: sorted by time, ties in the given order.
    fn aggregate_part(aggs: &[AggExpr], rows: &[&Row], first: u64, slots: u32) -> AggPlan {
        let mut sorted: Vec<&Row> = rows.to_vec();
        sorted.sort_by_key(|r| r.t);
        let batch = batch_of(&sorted);
        let mut plan = AggPlan::new(&state_schema(), aggs, &int64_time(0)).unwrap();
        plan.begin_input(std::slice::from_ref(&batch), first);
        plan.grow(slots as usize);
        let row_slots: Vec<u32> = sorted.iter().map(|r| r.slot).collect();
        // Two updates, so that picks see rows of one input in two calls.
        let half = sorted.len() / 2;
        plan.update(0, &batch, &Rows::Range(0..half), &row_slots[..half]).unwrap();
        plan.update(0, &batch, &Rows::Range(half..sorted.len()), &row_slots[half..]).unwrap();
        plan
    }

    /// Split any input at random into parts, aggregate each part, export the
    /// states and merge them in any grouping: the result is the whole's.
    #[test]
    fn merged_states_of_any_split_equal_the_whole() {
        let aggs: Vec<AggExpr> = STATE_AGGS.iter().map(|e| AggExpr::parse(e).unwrap()).collect();
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..300 {
            let slots = rng.random_range(1..5u32);
            let n_parts = rng.random_range(1..6usize);
            let parts: Vec<Vec<Row>> =
                (0..n_parts).map(|_| (0..rng.random_range(0..40)).map(|_| random_row(&mut rng, slots)).collect()).collect();
            // The whole: every part's rows in part order, as one input.
            let all: Vec<&Row> = parts.iter().flatten().collect();
            let all_slots: Vec<u32> = (0..slots).collect();
            let want = aggregate_part(&aggs, &all, 0, slots).finish(&all_slots).unwrap();
            // Each part at the positions it has in the whole.
            let mut states: Vec<Vec<ArrayRef>> = Vec::new();
            let mut first = 0u64;
            for part in &parts {
                let rows: Vec<&Row> = part.iter().collect();
                let mut plan = aggregate_part(&aggs, &rows, first, slots);
                if rng.random_bool(0.5) {
                    plan.detach().unwrap();
                }
                states.push(plan.state(&all_slots).unwrap());
                first += part.len() as u64;
            }
            // Merge in a random order, through random intermediate merges.
            while states.len() > 1 || rng.random_bool(0.3) {
                let take = rng.random_range(1..=states.len());
                let mut merged = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
                merged.grow(slots as usize);
                for _ in 0..take {
                    let state = states.remove(rng.random_range(0..states.len()));
                    merged.merge_state(&state, &all_slots).unwrap();
                }
                if rng.random_bool(0.5) {
                    merged.detach().unwrap();
                }
                states.insert(rng.random_range(0..=states.len()), merged.state(&all_slots).unwrap());
            }
            let mut last = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
            last.grow(slots as usize);
            last.merge_state(&states[0], &all_slots).unwrap();
            let got = last.finish(&all_slots).unwrap();
            for ((text, want), got) in STATE_AGGS.iter().zip(&want).zip(&got) {
                let float_result = ["var(", "std(", "sum(f", "mean(", "approx_quantile("].iter().any(|p| text.starts_with(p));
                if !float_result {
                    assert_eq!(want.to_data(), got.to_data(), "case {case}, {text}: {want:?} vs {got:?}");
                    continue;
                }
                // Float sums and moments round differently when grouped differently.
                let (want, got) = (want.as_primitive::<Float64Type>(), got.as_primitive::<Float64Type>());
                for s in 0..slots as usize {
                    assert_eq!(want.is_null(s), got.is_null(s), "case {case}, {text}, slot {s}");
                    let (w, g) = (want.value(s), got.value(s));
                    let close =
                        w == g || (w.is_nan() && g.is_nan()) || (w - g).abs() <= 1e-9 * w.abs().max(1.0) || text.starts_with("approx");
                    // A sum of ±1e16 and small values may lose the small ones in one order and not another.
                    let cancelling = text.contains("(f") && (w.abs() < 1e3 || g.abs() < 1e3);
                    assert!(close || cancelling, "case {case}, {text}, slot {s}: {w} vs {g}");
                }
            }
        }
    }

    #[test]
    fn a_state_with_wrong_columns_is_an_error() {
        let aggs: Vec<AggExpr> = ["count()", "first(s)", "approx_quantile(i, 0.5)", "approx_count_distinct(s)"]
            .iter()
            .map(|e| AggExpr::parse(e).unwrap())
            .collect();
        let row = Row { t: 1, i: Some(1), f: None, s: Some("x".into()), d: None, slot: 0 };
        let mut plan = aggregate_part(&aggs, &[&row], 0, 1);
        let state = plan.state(&[0]).unwrap();
        let mut fresh = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
        fresh.grow(1);
        let err = fresh.merge_state(&state[1..], &[0]).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
        let mut swapped = state.clone();
        swapped.swap(0, 1);
        assert!(fresh.merge_state(&swapped, &[0]).is_err());
        // Sketch bytes that do not decode.
        for column in [state.len() - 2, state.len() - 1] {
            let mut bad = state.clone();
            bad[column] = Arc::new(BinaryArray::from(vec![&b"\x07garbage"[..]]));
            let err = fresh.merge_state(&bad, &[0]).unwrap_err().to_string();
            assert!(err.contains("corrupt"), "{err}");
        }
        let mut negative = state.clone();
        negative[0] = Arc::new(Int64Array::from(vec![-3]));
        assert!(fresh.merge_state(&negative, &[0]).is_err());
        fresh.merge_state(&state, &[0]).unwrap();
        assert_eq!(fresh.finish(&[0]).unwrap()[0].as_primitive::<Int64Type>().value(0), 1);
    }
}
