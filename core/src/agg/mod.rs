//! Grouped accumulators: each holds one state per *slot* (a group in a window,
//! a pane, a session, or a rolling row) and updates many rows per call.
//!
//! Rows always arrive in time order (ties in input order), so `first`, `last`
//! and the tie rules of `min_by`/`max_by` need no timestamps: the first row
//! seen is the earliest. `merge(dst, src)` is only called with `src` holding
//! rows later than `dst`'s.

pub mod sketch;

use crate::agg::sketch::hll::{hash_bytes, HyperLogLog};
use crate::agg::sketch::tdigest::TDigest;
use crate::error::{Result, SashError};
use crate::exec::column_builder::ColumnBuilder;
use crate::exec::grouper::normalized_float_key;
use crate::exec::time::TimeColumn;
use crate::spec::expr::{AggExpr, AggFunc};
use crate::spec::types::{agg_output_type, column_index};
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
    /// The bytes every slot's state takes whatever its values: its
    /// fixed-width state columns.
    fn fixed_state_bytes(&self) -> usize {
        self.state_fields("").iter().map(|f| f.data_type().primitive_width().unwrap_or(0)).sum()
    }
    /// The bytes the states of `slots` take, as exported: what a stream
    /// holds to its `max_state_bytes`. Accumulators whose states vary in
    /// size add what their values take.
    fn state_bytes(&self, slots: &[u32]) -> usize {
        self.fixed_state_bytes() * slots.len()
    }
    /// Whether every slot's state takes `fixed_state_bytes`, whatever it holds.
    fn has_fixed_size_states(&self) -> bool {
        true
    }
    /// The intermediate state of each slot in `slots` as plain Arrow (one
    /// row per slot, columns as `state_fields` says), complete enough that
    /// `merge_state` of the states of any split of the rows gives what the
    /// whole would have.
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>>;
    /// Whether `merge_state(state, slots)` would succeed: every value it
    /// would reject (a negative count, a corrupt sketch, a total past its
    /// type) is found here, so a plan checks all its accumulators before it
    /// changes any, and a failed merge leaves the state as it was.
    fn check_state(&self, state: &[ArrayRef], slots: &[u32]) -> Result<()>;
    /// Folds row i of `state` (arrays as `state` makes them, types checked
    /// by the caller, values by `check_state`) into `slots[i]`. States merge
    /// in any order: rows of picks (`first`, `min_by`, ...) carry their
    /// time and position.
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]);
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

fn count_state(counts: &[i64], slots: &[u32]) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| counts[s as usize])))
}

/// Whether exported counts can be added to slots: a negative count or a
/// total past i64 is a corrupted state.
fn check_count_state(counts: &[i64], state: &ArrayRef, slots: &[u32]) -> Result<()> {
    // A slot may appear more than once: check against the running totals
    // (a copy of the counts: a lookup table far cheaper than a hash map).
    let mut totals = counts.to_vec();
    for (&slot, &count) in slots.iter().zip(state.as_primitive::<Int64Type>().values()) {
        let total = &mut totals[slot as usize];
        *total = total.checked_add(count).filter(|_| count >= 0).ok_or_else(|| corrupt_state(format!("a count of {count}")))?;
    }
    Ok(())
}

/// Adds exported counts (checked by `check_count_state`) to slots.
fn merge_count_state(counts: &mut [i64], state: &ArrayRef, slots: &[u32]) {
    for (&slot, &count) in slots.iter().zip(state.as_primitive::<Int64Type>().values()) {
        counts[slot as usize] += count;
    }
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

pub(crate) fn as_f64_array(array: &ArrayRef) -> Result<Arc<Float64Array>> {
    let casted = cast(array.as_ref(), &DataType::Float64)?;
    Ok(Arc::new(casted.as_primitive::<Float64Type>().clone()))
}

mod count;
mod distinct;
mod per_slot;
mod pick;
mod plan;
mod quantile;
mod stats;
mod variance;

#[cfg(test)]
mod tests;

use count::{AllNull, Count};
pub(crate) use distinct::distinct_keys;
use distinct::Distinct;
use pick::{PickRow, PickRule};
pub(crate) use plan::AggPlan;
use quantile::Quantile;
#[cfg(test)]
pub(crate) use quantile::{cmp_f64, interpolate_sorted};
use stats::{primitive_stats, StatOutput};
use variance::Variance;
