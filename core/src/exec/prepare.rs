//! Input checks shared by window and rolling aggregation: schema agreement,
//! null times, and putting rows in time order (detected, never trusted).

use crate::error::{Result, SashError};
use crate::exec::time::TimeColumn;
use crate::spec::expr::AggExpr;
use crate::spec::types::{check_key_type, column_index};
use crate::spec::NullTime;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, SchemaRef};
use arrow_select::filter::filter_record_batch;
use std::borrow::Cow;

/// Input rows in time order (ties in input order).
pub(crate) struct Prepared {
    pub time: TimeColumn,
    pub key_indices: Vec<usize>,
    pub key_types: Vec<DataType>,
    /// Batches whose concatenation is sorted by time. When the input had to
    /// be sorted, the columns no aggregation reads (not the time, a key or an
    /// aggregation's column) are left out: they are `Null` columns, so any
    /// read of one as data fails loudly instead of seeing unsorted rows.
    pub batches: Vec<RecordBatch>,
    /// When the input had to be sorted and the caller asked for it
    /// (`want_order`): for each sorted row, its index in the
    /// (null-time-filtered) concatenated input.
    pub order: Option<ScalarBuffer<u32>>,
    /// Rows the caller asked to drop because their time is null.
    pub dropped_null_times: usize,
    /// Per input batch: which rows survived the null-time filter (None: all).
    pub kept: Vec<Option<arrow_array::BooleanArray>>,
}

pub(crate) fn check_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    for (i, batch) in batches.iter().enumerate() {
        let found = batch.schema();
        let same = found.fields().len() == schema.fields().len()
            && found.fields().iter().zip(schema.fields()).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(SashError::InvalidInput(format!(
                "batch {i} does not match the input schema: expected {:?}, got {:?}",
                schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>(),
                found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
            )));
        }
    }
    Ok(())
}

fn is_sorted(time: &TimeColumn, batches: &[RecordBatch]) -> bool {
    let mut previous = i64::MIN;
    for batch in batches {
        let values = time.values(batch.column(time.index));
        if values.first().is_some_and(|&v| v < previous) {
            return false;
        }
        if has_descent_in_parts(&values) {
            return false;
        }
        if let Some(&last) = values.last() {
            previous = last;
        }
    }
    true
}

/// Times a part of the sortedness check holds at least: the check reads
/// memory at its full speed, so only long columns are worth a second thread.
const MIN_SORTED_CHECK_PART: usize = 1 << 20;

/// [`has_descent`] on the pool: parts overlapping by one value, so a descent
/// across a cut is seen.
fn has_descent_in_parts(values: &[i64]) -> bool {
    let parts = crate::exec::pool::parts_for(values.len(), MIN_SORTED_CHECK_PART, 2);
    if parts <= 1 {
        return has_descent(values);
    }
    let len = values.len();
    let ranges: Vec<(usize, usize)> = (0..parts).map(|j| (len * j / parts, (len * (j + 1) / parts + 1).min(len))).collect();
    crate::exec::pool::map(ranges, |(from, to)| has_descent(&values[from..to])).into_iter().any(|d| d)
}

/// Whether some value is smaller than the one before it. No early exit, so
/// that the loop is vectorized: this pass reads the whole time column of
/// every call, and with an early exit per pair it ran scalar, at half the
/// speed memory allows.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn has_descent(values: &[i64]) -> bool {
    let pairs = values.iter().zip(values.iter().skip(1));
    pairs.fold(false, |any, (before, after)| any | (after < before))
}

/// The time and key columns of an input, checked against its schema.
pub(crate) struct Columns {
    pub time: TimeColumn,
    pub key_indices: Vec<usize>,
    pub key_types: Vec<DataType>,
}

impl Columns {
    /// Checks the batches, the time column and the key columns: everything
    /// about the input that does not need its values.
    pub fn resolve(schema: &SchemaRef, batches: &[RecordBatch], time: &str, by: &[String]) -> Result<Columns> {
        check_batches(schema, batches)?;
        let time = TimeColumn::resolve(schema, time)?;
        let mut key_indices = Vec::with_capacity(by.len());
        let mut key_types = Vec::with_capacity(by.len());
        for key in by {
            let index = column_index(schema, key)?;
            let data_type = schema.field(index).data_type().clone();
            check_key_type(key, &data_type)?;
            key_indices.push(index);
            key_types.push(data_type);
        }
        Ok(Columns { time, key_indices, key_types })
    }
}

impl Prepared {
    /// Applies the null-time rule and puts the rows in time order; `aggs`
    /// name the columns besides time and keys that the caller reads.
    pub fn new(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        columns: Columns,
        null_time: NullTime,
        aggs: &[AggExpr],
        want_order: bool,
    ) -> Result<Prepared> {
        let Columns { time, key_indices, key_types } = columns;
        let null_count: usize = batches.iter().map(|b| b.column(time.index).null_count()).sum();
        if null_count > 0 && null_time == NullTime::Error {
            return Err(SashError::NullTime { column: time.name.clone(), count: null_count });
        }
        let (filtered, kept) =
            if null_count > 0 { drop_null_times(time.index, batches)? } else { (batches.to_vec(), vec![None; batches.len()]) };
        let non_empty: Vec<RecordBatch> = filtered.into_iter().filter(|b| b.num_rows() > 0).collect();
        let mut needed = vec![false; schema.fields().len()];
        let read = aggs.iter().flat_map(|a| [&a.column, &a.by_column]).flatten().filter_map(|name| schema.index_of(name).ok());
        for c in read.chain(key_indices.iter().copied()).chain([time.index]) {
            needed[c] = true;
        }
        let (batches, order) = sort_by_time(schema, &time, non_empty, &needed, want_order)?;
        Ok(Prepared { time, key_indices, key_types, batches, order, dropped_null_times: null_count, kept })
    }
}

/// Drops rows whose time is null, remembering which rows survived in each batch.
pub(crate) fn drop_null_times(
    time_index: usize,
    batches: &[RecordBatch],
) -> Result<(Vec<RecordBatch>, Vec<Option<arrow_array::BooleanArray>>)> {
    let mut out = Vec::with_capacity(batches.len());
    let mut kept = Vec::with_capacity(batches.len());
    for batch in batches {
        let column = batch.column(time_index);
        if column.null_count() == 0 {
            out.push(batch.clone());
            kept.push(None);
        } else {
            let mask = arrow_array::BooleanArray::from((0..column.len()).map(|i| column.is_valid(i)).collect::<Vec<bool>>());
            out.push(filter_record_batch(batch, &mask)?);
            kept.push(Some(mask));
        }
    }
    Ok((out, kept))
}

/// Puts rows in time order: sorted input passes through untouched; otherwise
/// the batches are concatenated and stably sorted by time.
pub(crate) fn sort_by_time(
    schema: &SchemaRef,
    time: &TimeColumn,
    batches: Vec<RecordBatch>,
    needed: &[bool],
    want_order: bool,
) -> Result<(Vec<RecordBatch>, Option<ScalarBuffer<u32>>)> {
    if is_sorted(time, &batches) {
        return Ok((batches, None));
    }
    let times: Vec<Cow<[i64]>> = batches.iter().map(|b| time.values(b.column(time.index))).collect();
    let (sorted, order) = crate::exec::time_sort::sort_batches(schema, &batches, &times, time.index, needed, want_order)?;
    Ok((vec![sorted], order))
}

/// The key columns of each batch.
pub(crate) fn key_columns(batches: &[RecordBatch], key_indices: &[usize]) -> Vec<Vec<ArrayRef>> {
    batches.iter().map(|b| key_indices.iter().map(|&k| b.column(k).clone()).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::{has_descent, has_descent_in_parts};
    use crate::exec::pool;

    /// A descent anywhere, at a cut between parts too, is found with any thread count.
    #[test]
    fn has_descent_in_parts_sees_descents_across_cuts() {
        for threads in [1, 2, 7] {
            pool::tests::with_threads(threads, || {
                pool::split_small_inputs(true);
                for len in 0..60usize {
                    let rising: Vec<i64> = (0..len as i64).collect();
                    assert!(!has_descent_in_parts(&rising), "{threads} {len}");
                    for at in 1..len {
                        let mut values = rising.clone();
                        values[at] = values[at - 1] - 1;
                        assert!(has_descent_in_parts(&values), "{threads} {len} {at}");
                    }
                }
                pool::split_small_inputs(false);
            });
        }
    }

    /// Every position of a descent is found, in the vectorized body and in
    /// the tail; equal neighbours are no descent.
    #[test]
    fn has_descent_finds_any_descent() {
        for len in 0..40usize {
            let rising: Vec<i64> = (0..len as i64).map(|v| v / 2).collect();
            assert!(!has_descent(&rising), "{len}");
            for at in 1..len {
                let mut values = rising.clone();
                values[at] = values[at - 1] - 1;
                assert!(has_descent(&values), "{len} {at}");
            }
        }
        assert!(has_descent(&[i64::MAX, i64::MIN]));
        assert!(!has_descent(&[i64::MIN, i64::MAX]));
    }
}
