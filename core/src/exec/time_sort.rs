//! Putting unsorted rows in time order (ties in input order), fast.
//!
//! Rows are first dealt into buckets by the high bits of their time (less
//! the smallest), in input order, so that a bucket is a contiguous range of
//! the output; then each bucket, small enough to stay in the cache, is
//! sorted on its own. Fixed-width columns without nulls (times, keys,
//! numbers) are dealt in the same pass, straight to their bucket, and then
//! permuted inside each bucket while it is in the cache, all columns of a
//! bucket together. A gather through the finished order (arrow's `take`)
//! reads every row at random, a cache miss each: on 10M shuffled rows it
//! cost more than sorting them. Other columns are still taken through the
//! order.
//!
//! Nothing as long as the input is allocated besides the outputs: on 10M
//! rows, a row-sized scratch array (bucket of each row, sort entries) cost
//! its pages' first-touch faults plus a pass over it, more than the deal.

use crate::error::{Result, SashError};
use arrow_array::{make_array, new_null_array, Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_buffer::{ArrowNativeType, Buffer, NullBuffer, ScalarBuffer};
use arrow_data::transform::MutableArrayData;
use arrow_data::{ArrayData, ArrayDataBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat;
use arrow_select::take::take;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// High bits of the time that pick a bucket, at most.
const BUCKET_BITS: u32 = 11;
/// Time bits at most that the buckets' own sorts can take: a bucket's
/// entries hold the time's low bits above the row's place in the bucket.
const LOW_BITS_MAX: u32 = 32;
/// Rows dealt at a time: their slots are found once, then every moved column
/// is staged through them (half a MiB for 8-byte values, within the L2
/// cache) and copied out in runs, about 32 rows a run with 2,048 buckets
/// (16K-row blocks, 8 rows a run, were 5% slower on 10M shuffled rows).
const DEAL_ROWS: usize = 64 * 1024;

/// `batches` (at least one row in all, times given per batch; the time
/// column, at `time_index`, without nulls) as one batch in time order, and
/// for each of its rows, its index in the input when `want_order`. Columns
/// not `needed` are not sorted: they become `Null` columns (of the same name).
pub(crate) fn sort_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    times: &[Cow<[i64]>],
    time_index: usize,
    needed: &[bool],
    want_order: bool,
) -> Result<(RecordBatch, Option<ScalarBuffer<u32>>)> {
    let n: usize = times.iter().map(|t| t.len()).sum();
    if n > u32::MAX as usize {
        return Err(SashError::InvalidInput(format!("{n} unsorted rows in one call; sort the input by time or split it")));
    }
    let schema = &only_needed(schema, needed);
    let columns: Vec<Vec<ArrayRef>> = (0..schema.fields().len()).map(|c| batches.iter().map(|b| b.column(c).clone()).collect()).collect();
    if let Some(runs) = merge_late_rows(times, n) {
        // Nearly sorted: the columns are copied run by run, every type alike.
        let sorted = columns.iter().zip(needed).map(|(parts, &needed)| match needed {
            true => copied_runs(parts, &runs, n),
            false => Ok(new_null_array(&DataType::Null, n)),
        });
        let order = want_order.then(|| {
            let offsets: Vec<u32> = times.iter().scan(0u32, |at, part| Some(std::mem::replace(at, *at + part.len() as u32))).collect();
            runs.iter().flat_map(|r| (r.start..r.end).map(|row| offsets[r.part] + row as u32)).collect()
        });
        return Ok((batch(schema, sorted.collect::<Result<_>>()?, n)?, order));
    }
    let (min, bits) = span(times).unwrap_or((0, 0));
    // The buckets' sorts read the times from the moved time column; times
    // too far apart do not fit buckets of one word per row.
    let time_moves = columns[time_index].iter().all(|p| p.null_count() == 0);
    if bits > BUCKET_BITS + LOW_BITS_MAX || !time_moves {
        let order = ScalarBuffer::from(time_order(times, min, bits));
        let indices = UInt32Array::new(order.clone(), None);
        let sorted: Result<Vec<ArrayRef>> = columns.iter().zip(needed).map(|(parts, &needed)| taken(parts, &indices, needed)).collect();
        return Ok((batch(schema, sorted?, n)?, want_order.then_some(order)));
    }
    let mut moved: Vec<Option<Box<dyn MovedColumn>>> =
        columns.iter().zip(needed).map(|(parts, &needed)| moved_column(parts, n).filter(|_| needed)).collect();
    let buckets = Buckets::new(times, min, bits);
    // The order moves along only when asked for or needed to take a column.
    let any_taken = moved.iter().zip(needed).any(|(m, &needed)| needed && m.is_none());
    let mut order = (want_order || any_taken).then(|| vec![0u32; n]);
    buckets.deal(times, &mut moved, order.as_deref_mut());
    buckets.sort_each(time_index, &mut moved, order.as_deref_mut());

    let indices = order.map(|order| UInt32Array::new(ScalarBuffer::from(order), None));
    let sorted: Result<Vec<ArrayRef>> = columns
        .iter()
        .zip(moved)
        .zip(needed)
        .map(|((parts, moved), &needed)| match (moved, &indices) {
            (Some(column), _) => column.finish(parts[0].data_type(), n),
            (None, Some(indices)) => taken(parts, indices, needed),
            (None, None) => Ok(new_null_array(&DataType::Null, n)),
        })
        .collect();
    Ok((batch(schema, sorted?, n)?, indices.filter(|_| want_order).map(|i| i.values().clone())))
}

/// At most this share of late rows (1/16) counts as nearly sorted.
const LATE_SHARE: usize = 16;

/// Rows `start..end` of input batch `part`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    part: usize,
    start: usize,
    end: usize,
}

/// The time order of nearly sorted input, as event streams with late
/// arrivals are, as runs of input rows. The rows below the running maximum
/// of the times before them are "late"; the others are in time order
/// already. The late rows are sorted on their own (they are few) and merged
/// in; a late row never ties with an in-order row after it, so ties keep
/// their input order. None when more than 1/16 of the rows are late: then
/// the buckets sort faster. On 10M rows with 1% of them up to a minute
/// late, the tumbling bench took 0.34 s through the buckets, 0.21 s this way.
fn merge_late_rows(times: &[Cow<[i64]>], n: usize) -> Option<Vec<Run>> {
    let limit = n / LATE_SHARE;
    let mut late: Vec<(i64, u32, u32)> = Vec::new();
    let mut max = i64::MIN;
    for (p, part) in times.iter().enumerate() {
        for (i, &t) in part.iter().enumerate() {
            if t < max {
                if late.len() == limit {
                    return None;
                }
                late.push((t, p as u32, i as u32));
            } else {
                max = t;
            }
        }
    }
    // (time, batch, row) triples sort as a stable sort by time would.
    let mut by_time = late.clone();
    by_time.sort_unstable();
    let single = |&(_, p, i): &(i64, u32, u32)| Run { part: p as usize, start: i as usize, end: i as usize + 1 };
    let mut runs = Vec::with_capacity(2 * late.len() + times.len());
    let (mut skipped, mut merged) = (late.iter().peekable(), by_time.iter().peekable());
    for (p, part) in times.iter().enumerate() {
        // The rows from `start` on are in order, not yet in a run.
        let mut start = 0;
        let mut next_late = skipped.peek().filter(|l| l.1 as usize == p).map_or(usize::MAX, |l| l.2 as usize);
        let mut merge_below = merged.peek().map_or(i64::MAX, |l| l.0);
        for (i, &t) in part.iter().enumerate() {
            if i == next_late {
                runs.extend((start < i).then_some(Run { part: p, start, end: i }));
                start = i + 1;
                skipped.next();
                next_late = skipped.peek().filter(|l| l.1 as usize == p).map_or(usize::MAX, |l| l.2 as usize);
            } else if merge_below < t {
                runs.extend((start < i).then_some(Run { part: p, start, end: i }));
                start = i;
                while let Some(l) = merged.next_if(|l| l.0 < t) {
                    runs.push(single(l));
                }
                merge_below = merged.peek().map_or(i64::MAX, |l| l.0);
            }
        }
        runs.extend((start < part.len()).then_some(Run { part: p, start, end: part.len() }));
    }
    runs.extend(merged.map(single));
    Some(runs)
}

/// The rows of `runs`, in that order, copied range by range.
fn copied_runs(parts: &[ArrayRef], runs: &[Run], n: usize) -> Result<ArrayRef> {
    let data: Vec<ArrayData> = parts.iter().map(|p| p.to_data()).collect();
    let mut out = MutableArrayData::new(data.iter().collect(), false, n);
    for run in runs {
        // Fails only when string offsets overflow (more than 2 GiB of Utf8).
        out.try_extend(run.part, run.start, run.end)?;
    }
    Ok(make_array(out.freeze()))
}

/// A column in the order of `indices` (a gather); a `Null` column when not `needed`.
fn taken(parts: &[ArrayRef], indices: &UInt32Array, needed: bool) -> Result<ArrayRef> {
    match needed {
        true => Ok(take(joined(parts)?.as_ref(), indices, None)?),
        false => Ok(new_null_array(&DataType::Null, indices.len())),
    }
}

/// The schema with the fields not `needed` turned to `Null`.
fn only_needed(schema: &SchemaRef, needed: &[bool]) -> SchemaRef {
    if needed.iter().all(|&n| n) {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(needed)
        .map(|(f, &needed)| if needed { f.as_ref().clone() } else { Field::new(f.name(), DataType::Null, true) })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &RecordBatchOptions::new().with_row_count(Some(rows)))?)
}

fn joined(parts: &[ArrayRef]) -> Result<Cow<'_, ArrayRef>> {
    Ok(match parts {
        [one] => Cow::Borrowed(one),
        _ => Cow::Owned(concat(&parts.iter().map(|a| a.as_ref()).collect::<Vec<_>>())?),
    })
}

/// The buckets of a time sort: bucket b holds places `starts[b]..starts[b + 1]`
/// of the output, the rows whose time less `min` has b as its high bits.
struct Buckets {
    starts: Vec<usize>,
    min: i64,
    low_bits: u32,
}

impl Buckets {
    fn new(times: &[Cow<[i64]>], min: i64, bits: u32) -> Buckets {
        // The caller keeps `bits` within BUCKET_BITS + LOW_BITS_MAX.
        let low_bits = bits.saturating_sub(BUCKET_BITS);
        let count = 1usize << (bits - low_bits);
        let mut buckets = Buckets { starts: vec![0usize; count + 1], min, low_bits };
        for part in times {
            for &t in part.iter() {
                let b = buckets.of(t);
                buckets.starts[b + 1] += 1;
            }
        }
        for b in 0..count {
            buckets.starts[b + 1] += buckets.starts[b];
        }
        buckets
    }

    /// The bucket of time `t`.
    #[inline]
    fn of(&self, t: i64) -> usize {
        (t.wrapping_sub(self.min) as u64 >> self.low_bits) as usize
    }

    /// Writes every row of the moved columns to the next place of its
    /// bucket, in input order, and to `order`, per place, the row's input index.
    fn deal(&self, times: &[Cow<[i64]>], moved: &mut [Option<Box<dyn MovedColumn>>], mut order: Option<&mut [u32]>) {
        let buckets = self.starts.len() - 1;
        let mut next = self.starts.clone();
        let mut deal = Deal::default();
        let mut staged_order = Vec::new();
        let mut count = vec![0u32; buckets];
        let mut row = 0u32;
        for (part, part_times) in times.iter().enumerate() {
            for (block, block_times) in part_times.chunks(DEAL_ROWS).enumerate() {
                deal.plan(block_times, &mut count, &mut next, |t| self.of(t));
                if let Some(order) = order.as_deref_mut() {
                    deal.write(row.., &mut staged_order, order);
                }
                for column in moved.iter_mut().flatten() {
                    column.deal(part, block * DEAL_ROWS, &deal);
                }
                row += block_times.len() as u32;
            }
        }
    }

    /// Sorts each bucket by time (its rows are in input order, so ties stay
    /// so) and permutes the moved columns and `order` the same way.
    fn sort_each(&self, time_index: usize, moved: &mut [Option<Box<dyn MovedColumn>>], mut order: Option<&mut [u32]>) {
        if self.low_bits == 0 {
            // One time per bucket: the deal left them in order.
            return;
        }
        let low_mask = (1u64 << self.low_bits) - 1;
        let (mut entries, mut scratch, mut held) = (Vec::new(), Vec::new(), Vec::new());
        for bucket in self.starts.windows(2) {
            let range = bucket[0]..bucket[1];
            if range.len() < 2 {
                continue;
            }
            // Each row's entry: the low bits of its time above its place in
            // the bucket, which grows with the input order; sorting the
            // entries as integers sorts the bucket by time, ties in input order.
            entries.clear();
            let time = moved[time_index].as_ref().expect("the time column moves");
            entries.extend(time.low_times(range.clone(), self.min).enumerate().map(|(i, t)| ((t as u64 & low_mask) << 32) | i as u64));
            sort_entries(&mut entries, self.low_bits, &mut scratch);
            if entries.iter().enumerate().all(|(i, &e)| e as u32 as usize == i) {
                continue;
            }
            for column in moved.iter_mut().flatten() {
                column.permute(range.clone(), &entries);
            }
            if let Some(order) = order.as_deref_mut() {
                permute(&mut order[range], &entries, &mut held);
            }
        }
    }
}

/// `values` (one bucket) in the order of `entries`, whose low 32 bits name
/// the place within the bucket each value comes from.
fn permute<T: Copy>(values: &mut [T], entries: &[u64], held: &mut Vec<T>) {
    held.clear();
    held.extend_from_slice(values);
    for (value, &entry) in values.iter_mut().zip(entries) {
        *value = held[entry as u32 as usize];
    }
}

/// How one block of rows is dealt: each row's slot in a staging area where
/// the block's rows of each bucket are together, and the runs of that area
/// to copy to the buckets. Writing every row straight to its bucket touches
/// a different cache line and page per row (hundreds of streams); staging
/// turns that into one copy per run.
#[derive(Default)]
struct Deal {
    bucket_of: Vec<u32>,
    slots: Vec<u32>,
    /// Per bucket, its next slot in the staging area.
    cursor: Vec<u32>,
    /// (place in the output, start in the staging area, rows).
    runs: Vec<(usize, usize, usize)>,
}

impl Deal {
    /// Plans the deal of a block whose rows have the buckets `bucket(key)`;
    /// `count` (one zero per bucket) is left zeroed, and `next` (each
    /// bucket's next free place) is moved past the block's rows.
    fn plan<K: Copy>(&mut self, keys: &[K], count: &mut [u32], next: &mut [usize], bucket: impl Fn(K) -> usize) {
        self.bucket_of.clear();
        self.bucket_of.extend(keys.iter().map(|&k| bucket(k) as u32));
        for &b in &self.bucket_of {
            count[b as usize] += 1;
        }
        self.cursor.resize(count.len(), 0);
        self.runs.clear();
        self.slots.clear();
        let mut start = 0;
        for &b in &self.bucket_of {
            let b = b as usize;
            if count[b] != 0 {
                // The bucket's first row in the block opens its run.
                let rows = count[b] as usize;
                self.runs.push((next[b], start, rows));
                self.cursor[b] = start as u32;
                start += rows;
                next[b] += rows;
                count[b] = 0;
            }
            self.slots.push(self.cursor[b]);
            self.cursor[b] += 1;
        }
    }

    /// Writes the block's `values` (in input order) to their places in
    /// `out`: staged in slot order in `staged`, then copied out run by run.
    fn write<T: Copy + Default>(&self, values: impl IntoIterator<Item = T>, staged: &mut Vec<T>, out: &mut [T]) {
        staged.resize(self.slots.len(), T::default());
        for (&slot, value) in self.slots.iter().zip(values) {
            staged[slot as usize] = value;
        }
        for &(place, start, rows) in &self.runs {
            out[place..place + rows].copy_from_slice(&staged[start..start + rows]);
        }
    }
}

/// A fixed-width column without nulls on its way through the buckets.
trait MovedColumn {
    /// Writes rows `first..` of input batch `part` to `places`.
    fn deal(&mut self, part: usize, first: usize, deal: &Deal);
    fn permute(&mut self, range: Range<usize>, entries: &[u64]);
    /// The values at `range` as times, less `min`, to their low 32 bits
    /// (which need no sign extension of narrower time columns).
    fn low_times(&self, range: Range<usize>, min: i64) -> Box<dyn Iterator<Item = u32> + '_>;
    fn finish(self: Box<Self>, data_type: &DataType, n: usize) -> Result<ArrayRef>;
}

struct Moved<T: ArrowNativeType> {
    parts: Vec<ScalarBuffer<T>>,
    out: Vec<T>,
    held: Vec<T>,
}

/// The column's values in buckets, when they can move by their bits.
fn moved_column(parts: &[ArrayRef], n: usize) -> Option<Box<dyn MovedColumn>> {
    fn boxed<T: ArrowNativeType>(parts: &[ArrayRef], n: usize) -> Box<dyn MovedColumn> {
        let parts = parts
            .iter()
            .map(|p| {
                let data = p.to_data();
                // Fixed-width values are buffer 0, `offset` values in.
                ScalarBuffer::<T>::new(data.buffers()[0].clone(), data.offset(), data.len())
            })
            .collect();
        Box::new(Moved { parts, out: vec![T::default(); n], held: Vec::new() })
    }
    if parts.iter().any(|p| p.null_count() > 0) {
        return None;
    }
    match parts[0].data_type().primitive_width() {
        Some(1) => Some(boxed::<u8>(parts, n)),
        Some(2) => Some(boxed::<u16>(parts, n)),
        Some(4) => Some(boxed::<u32>(parts, n)),
        Some(8) => Some(boxed::<u64>(parts, n)),
        _ => None,
    }
}

impl<T: ArrowNativeType> MovedColumn for Moved<T> {
    fn deal(&mut self, part: usize, first: usize, deal: &Deal) {
        let values = &self.parts[part][first..first + deal.slots.len()];
        deal.write(values.iter().copied(), &mut self.held, &mut self.out);
    }

    fn permute(&mut self, range: Range<usize>, entries: &[u64]) {
        permute(&mut self.out[range], entries, &mut self.held);
    }

    fn low_times(&self, range: Range<usize>, min: i64) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(self.out[range].iter().map(move |&v| (v.as_usize() as u64).wrapping_sub(min as u64) as u32))
    }

    fn finish(self: Box<Self>, data_type: &DataType, n: usize) -> Result<ArrayRef> {
        let data = ArrayDataBuilder::new(data_type.clone()).len(n).add_buffer(Buffer::from_vec(self.out)).build()?;
        Ok(make_array(data))
    }
}

/// Puts columns computed in time order back in input order: value `s`
/// goes to row `order[s]`. Written straight, each write lands at random, a
/// cache miss a row (and a gather through the inverse reads at random);
/// here values are first dealt into ranges of the output by the high bits
/// of their destination, and each range then fills within the cache.
pub(crate) struct Restore {
    order: ScalarBuffer<u32>,
    shift: u32,
    starts: Vec<usize>,
    /// The destinations, in the dealt order; None when the order is nearly
    /// sorted and followed as it is.
    dests: Option<Vec<u32>>,
}

impl Restore {
    pub(crate) fn new(order: ScalarBuffer<u32>) -> Restore {
        let n = order.len();
        let shift = (usize::BITS - n.leading_zeros()).saturating_sub(BUCKET_BITS);
        // A permutation of 0..n fills every range of the output exactly.
        let starts = (0..=(n >> shift) + 1).map(|b| (b << shift).min(n)).collect();
        let mut restore = Restore { order, shift, starts, dests: None };
        // A nearly sorted order (late rows merged in) writes almost in
        // sequence: it is followed as is, and nothing is dealt.
        let descents = restore.order.windows(2).filter(|w| w[1] < w[0]).count();
        if descents > restore.order.len() / LATE_SHARE {
            restore.dests = Some(restore.deal(&restore.order));
        }
        restore
    }

    /// `values` (in time order) in the dealt order.
    fn deal<T: Copy + Default>(&self, values: &[T]) -> Vec<T> {
        let buckets = self.starts.len() - 1;
        let (mut next, mut count) = (self.starts.clone(), vec![0u32; buckets]);
        let (mut deal, mut staged) = (Deal::default(), Vec::new());
        let mut dealt = vec![T::default(); values.len()];
        for (keys, values) in self.order.chunks(DEAL_ROWS).zip(values.chunks(DEAL_ROWS)) {
            deal.plan(keys, &mut count, &mut next, |d| (d >> self.shift) as usize);
            deal.write(values.iter().copied(), &mut staged, &mut dealt);
        }
        dealt
    }

    /// `values` (in time order) in input order.
    pub(crate) fn values<T: Copy + Default>(&self, values: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); values.len()];
        match &self.dests {
            None => {
                for (&d, &value) in self.order.iter().zip(values) {
                    out[d as usize] = value;
                }
            }
            Some(dests) => {
                for (&d, value) in dests.iter().zip(self.deal(values)) {
                    out[d as usize] = value;
                }
            }
        }
        out
    }

    /// `array` (in time order) in input order.
    pub(crate) fn array(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let data = array.to_data();
        let values = match data.data_type().primitive_width() {
            Some(1) => self.buffer::<u8>(&data),
            Some(2) => self.buffer::<u16>(&data),
            Some(4) => self.buffer::<u32>(&data),
            Some(8) => self.buffer::<u64>(&data),
            _ => {
                let inverse = self.values(&(0..array.len() as u32).collect::<Vec<_>>());
                return Ok(take(array.as_ref(), &UInt32Array::from(inverse), None)?);
            }
        };
        let nulls = data.nulls().filter(|n| n.null_count() > 0).map(|nulls| {
            let valid: Vec<bool> = self.values(&nulls.iter().collect::<Vec<bool>>());
            NullBuffer::from(valid)
        });
        Ok(make_array(ArrayDataBuilder::new(data.data_type().clone()).len(array.len()).add_buffer(values).nulls(nulls).build()?))
    }

    fn buffer<T: ArrowNativeType>(&self, data: &ArrayData) -> Buffer {
        let values = ScalarBuffer::<T>::new(data.buffers()[0].clone(), data.offset(), data.len());
        Buffer::from_vec(self.values(&values))
    }
}

/// Sorts a bucket's entries as integers: by the low `bits` bits of time
/// above 32 bits of place. A byte of time a pass (few counters to clear for
/// a small bucket), none for a bucket of fewer rows than counters.
fn sort_entries(entries: &mut [u64], bits: u32, scratch: &mut Vec<u64>) {
    const DIGIT: u32 = 8;
    if entries.len() <= 1 << DIGIT {
        entries.sort_unstable();
        return;
    }
    radix_sort(entries, scratch, bits, DIGIT, |&e| e >> 32);
}

/// The smallest time and how many bits the range above it takes; None
/// without rows.
fn span(parts: &[impl AsRef<[i64]>]) -> Option<(i64, u32)> {
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for part in parts {
        (min, max) = part.as_ref().iter().fold((min, max), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    }
    (min <= max).then(|| (min, 64 - ((max as i128 - min as i128) as u64).leading_zeros()))
}

/// The rows in time order, ties in input order: a stable sort of row
/// indices by time, for times too far apart for [`sort_batches`]' buckets.
/// An LSD radix sort on the times less their minimum, with only as many
/// passes as their range needs (a comparison sort of indices, reading each
/// one's time at random, took 1.6 s on 10M shuffled rows).
pub(crate) fn time_order(parts: &[impl AsRef<[i64]>], min: i64, bits: u32) -> Vec<u32> {
    let n = parts.iter().map(|p| p.as_ref().len()).sum();
    debug_assert!(n <= u32::MAX as usize);
    let mut rows: Vec<(u64, u32)> = Vec::with_capacity(n);
    for &t in parts.iter().flat_map(|p| p.as_ref()) {
        rows.push((t.wrapping_sub(min) as u64, rows.len() as u32));
    }
    radix_sort(&mut rows, &mut Vec::new(), bits, 11, |&(key, _)| key);
    rows.into_iter().map(|(_, i)| i).collect()
}

/// Sorts `items` stably by the low `bits` bits of `key`, `digit` bits a
/// pass (eleven for the whole input: three passes cover a day of
/// milliseconds, where four of a byte were a sixth slower). Every pass's
/// counts come from one read of the items; a digit all of them share moves
/// nothing.
fn radix_sort<T: Copy + Default>(items: &mut [T], scratch: &mut Vec<T>, bits: u32, digit: u32, key: impl Fn(&T) -> u64) {
    let buckets = 1usize << digit;
    let passes = bits.div_ceil(digit) as usize;
    let mut counts = vec![0usize; passes * buckets];
    for item in items.iter() {
        let k = key(item);
        for (pass, count) in counts.chunks_exact_mut(buckets).enumerate() {
            count[((k >> (pass as u32 * digit)) as usize) & (buckets - 1)] += 1;
        }
    }
    scratch.clear();
    scratch.resize(items.len(), T::default());
    let mut in_items = true;
    for (pass, count) in counts.chunks_exact_mut(buckets).enumerate() {
        if count.contains(&items.len()) {
            continue;
        }
        let mut next = 0;
        for start in count.iter_mut() {
            let n = *start;
            *start = next;
            next += n;
        }
        let shift = pass as u32 * digit;
        let (from, to): (&[T], &mut [T]) = if in_items { (items, scratch) } else { (scratch, items) };
        for item in from {
            let d = ((key(item) >> shift) as usize) & (buckets - 1);
            to[count[d]] = *item;
            count[d] += 1;
        }
        in_items = !in_items;
    }
    if !in_items {
        items.copy_from_slice(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::{merge_late_rows, sort_batches, span, time_order, Restore, LATE_SHARE};
    use arrow_array::types::{Int64Type, Int8Type};
    use arrow_array::DictionaryArray;
    use arrow_array::{
        ArrayRef, BooleanArray, Float64Array, Int16Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt8Array,
    };
    use arrow_array::{Int64Array, UInt32Array};
    use arrow_buffer::ScalarBuffer;
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use arrow_select::concat::concat_batches;
    use arrow_select::take::take;
    use arrow_select::take::take_record_batch;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use std::borrow::Cow;
    use std::sync::Arc;

    /// Bucketed columns and taken ones come out as a stable sort by time
    /// and a take would give them: over time ranges that need one bucket
    /// pass or local passes or none, or too wide for buckets; with several
    /// batches, sliced arrays, nulls, strings and booleans; with 64-bit and
    /// (negative) 32-bit time columns; columns not needed come out `Null`.
    #[test]
    fn sorted_batches_match_a_stable_sort_and_a_take() {
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..400 {
            // Every other case has an Int32 time column, so ranges wider than 32 bits are not drawn for it.
            let narrow = case % 2 == 1;
            let time_type = if narrow { DataType::Int32 } else { DataType::Timestamp(TimeUnit::Millisecond, Some("Europe/Paris".into())) };
            let schema = Arc::new(Schema::new(vec![
                Field::new("ts", time_type, false),
                Field::new("key", DataType::Int32, true),
                Field::new("val", DataType::Float64, false),
                Field::new("small", DataType::UInt8, false),
                Field::new("mid", DataType::Int16, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("flag", DataType::Boolean, false),
                Field::new("dict", DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)), true),
            ]));
            let span: i64 = if narrow {
                [3, 2_000, 1 << 27, 1 << 31][case / 2 % 4]
            } else {
                [3, 2_000, 1 << 27, 1 << 42, 1 << 50, i64::MAX][case / 2 % 6]
            };
            let base: i64 =
                if narrow { rng.random_range(-(1i64 << 20)..(1i64 << 20)) } else { rng.random_range(-(1i64 << 40)..(1i64 << 40)) };
            let (lo, hi) = if narrow { (i32::MIN as i64, i32::MAX as i64) } else { (i64::MIN, i64::MAX) };
            let batches: Vec<RecordBatch> = (0..rng.random_range(1..4))
                .map(|_| {
                    let n = rng.random_range(0..700);
                    let skip = rng.random_range(0..3usize);
                    let shift = rng.random_range(0..9usize);
                    // A third of the cases crowd most rows into one bucket, which then sorts in passes of its own.
                    let crowded = case % 3 == 0;
                    let mut times: Vec<i64> = (0..n + skip)
                        .map(|_| match crowded && rng.random_bool(0.95) {
                            true => base.saturating_add(rng.random_range(0..1 << 12)),
                            false => base.saturating_add(rng.random_range(0..=span / 2) * 2 - span / 2),
                        })
                        .map(|t| t.clamp(lo, hi))
                        .collect();
                    if case % 5 == 2 {
                        // Nearly sorted: a few rows late, which the merge of late rows sorts.
                        times.sort_unstable();
                        for _ in 0..n / 40 {
                            let i = rng.random_range(0..n + skip);
                            times[i] = times[i].saturating_sub(rng.random_range(0..=span.min(1 << 20) / 16)).max(lo);
                        }
                    }
                    let time: ArrayRef = match narrow {
                        true => Arc::new(Int32Array::from_iter_values(times.iter().map(|&t| t as i32))),
                        false => Arc::new(TimestampMillisecondArray::from(times).with_timezone("Europe/Paris")),
                    };
                    let columns: Vec<ArrayRef> = vec![
                        time,
                        Arc::new(Int32Array::from_iter((0..n + skip).map(|i| (case % 5 != 0 || i % 5 != 0).then_some(i as i32 % 17)))),
                        Arc::new(Float64Array::from_iter_values((0..n + skip).map(|_| rng.random::<f64>()))),
                        Arc::new(UInt8Array::from_iter_values((0..n + skip).map(|i| i as u8))),
                        Arc::new(Int16Array::from_iter_values((0..n + skip).map(|i| -(i as i16)))),
                        Arc::new(StringArray::from_iter((0..n + skip).map(|i| (i % 4 != 0).then(|| format!("s{i}"))))),
                        Arc::new(BooleanArray::from_iter((0..n + skip).map(|i| Some(i % 3 == 0)))),
                        // Each batch with a dictionary of its own.
                        Arc::new(DictionaryArray::<Int8Type>::from_iter(
                            (0..n + skip)
                                .map(|i| (i % 6 != 0).then(|| ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"][(i + shift) % 9])),
                        )),
                    ];
                    RecordBatch::try_new(schema.clone(), columns).unwrap().slice(skip, n)
                })
                .collect();
            let as_i64 = |a: &ArrayRef| {
                let a = arrow_cast::cast(a, &DataType::Int64).unwrap();
                a.as_any().downcast_ref::<arrow_array::PrimitiveArray<Int64Type>>().unwrap().values().to_vec()
            };
            let times: Vec<Cow<[i64]>> = batches.iter().map(|b| Cow::Owned(as_i64(b.column(0)))).collect();
            let all = concat_batches(&schema, &batches).unwrap();
            let all_times = as_i64(all.column(0));
            let mut expected_order: Vec<u32> = (0..all.num_rows() as u32).collect();
            expected_order.sort_by_key(|&i| all_times[i as usize]);
            let expected = take_record_batch(&all, &arrow_array::UInt32Array::from(expected_order.clone())).unwrap();
            // Most cases need every column; the others drop some, never the time.
            let needed: Vec<bool> = (0..8).map(|c| c == 0 || case % 4 != 0 || rng.random_bool(0.5)).collect();
            let want_order = case % 8 != 1;
            let (sorted, order) = sort_batches(&schema, &batches, &times, 0, &needed, want_order).unwrap();
            assert_eq!(order.map(|o| o.to_vec()), want_order.then(|| expected_order.clone()), "case {case}");
            assert_eq!(sorted.num_rows(), expected.num_rows(), "case {case}");
            for (c, &needed) in needed.iter().enumerate() {
                let name = schema.field(c).name();
                assert_eq!(sorted.schema().field(c).name(), name, "case {case}");
                if needed {
                    assert_eq!(sorted.column(c), expected.column(c), "case {case}, column {name}");
                    assert_eq!(sorted.schema().field(c), schema.field(c), "case {case}");
                } else {
                    assert_eq!(sorted.column(c).data_type(), &DataType::Null, "case {case}, column {name}");
                    assert_eq!(sorted.column(c).len(), expected.num_rows(), "case {case}, column {name}");
                }
            }
        }
    }

    /// Late rows merged into the rest give a stable sort by time, with ties,
    /// over several parts; too many late rows give none.
    #[test]
    fn merged_late_rows_are_a_stable_sort() {
        let mut rng = StdRng::seed_from_u64(8);
        for case in 0..300 {
            let n = rng.random_range(0..3000);
            let mut times: Vec<i64> = (0..n).map(|_| rng.random_range(-50..50)).collect();
            times.sort_unstable();
            let late = [0, 1, n / 100, n / 20][case % 4];
            for _ in 0..late {
                let i = rng.random_range(0..n);
                times[i] -= rng.random_range(0..30);
            }
            let mut expected: Vec<u32> = (0..n as u32).collect();
            expected.sort_by_key(|&i| times[i as usize]);
            let cut = rng.random_range(0..=n);
            let parts = [Cow::Borrowed(&times[..cut]), Cow::Borrowed(&times[cut..])];
            match merge_late_rows(&parts, n) {
                Some(runs) => {
                    let order: Vec<u32> =
                        runs.iter().flat_map(|r| (r.start..r.end).map(|i| (i + if r.part == 1 { cut } else { 0 }) as u32)).collect();
                    assert_eq!(order, expected, "case {case}");
                    assert!(runs.iter().all(|r| r.start < r.end && r.end <= parts[r.part].len()), "case {case}: {runs:?}");
                }
                None => {
                    let below_max = (1..n).filter(|&i| times[i] < times[..i].iter().copied().max().unwrap()).count();
                    assert!(below_max >= n / LATE_SHARE, "case {case}: {below_max} late rows of {n}, and no merge");
                }
            }
        }
        let shuffled: Vec<i64> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        assert!(merge_late_rows(&[Cow::Borrowed(&shuffled[..])], 1000).is_none());
    }

    /// Restored columns are the scatter `out[order[s]] = column[s]`, at
    /// sizes with one bucket, a partial last bucket, or many; for values
    /// with and without nulls, sliced, and for strings (taken).
    #[test]
    fn restore_puts_values_at_their_rows() {
        let mut rng = StdRng::seed_from_u64(3);
        for n in [0usize, 1, 2, 7, 2048, 2049, 5000, 70_001, 300_000] {
            let mut order: Vec<u32> = (0..n as u32).collect();
            let nearly_sorted = rng.random_bool(0.5);
            for i in (1..n).rev() {
                // Nearly sorted orders are written as they are, the others dealt.
                if !nearly_sorted || rng.random_bool(0.01) {
                    order.swap(i, rng.random_range(0..=i));
                }
            }
            let restore = Restore::new(ScalarBuffer::from(order.clone()));
            let scatter = |column: &ArrayRef| {
                let mut inverse = vec![0u32; n];
                for (s, &d) in order.iter().enumerate() {
                    inverse[d as usize] = s as u32;
                }
                take(column.as_ref(), &UInt32Array::from(inverse), None).unwrap()
            };
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Float64Array::from_iter_values((0..n).map(|_| rng.random::<f64>()))),
                Arc::new(Int64Array::from_iter((0..n + 3).map(|i| (i % 7 != 0).then_some(i as i64))).slice(3, n)),
                Arc::new(UInt8Array::from_iter_values((0..n).map(|i| i as u8))),
                Arc::new(StringArray::from_iter((0..n).map(|i| (i % 4 != 0).then(|| format!("s{i}"))))),
            ];
            for column in &columns {
                assert_eq!(&restore.array(column).unwrap(), &scatter(column), "n {n}, {}", column.data_type());
            }
        }
    }

    /// The radix sort orders rows as a stable comparison sort does, over
    /// narrow and wide ranges, with ties and the extremes of i64.
    #[test]
    fn time_order_is_a_stable_sort_by_time() {
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..400 {
            let n = rng.random_range(0..3000);
            let width: i64 = match case % 4 {
                0 => 5,
                1 => 1 << 20,
                2 => 1 << 40,
                _ => i64::MAX,
            };
            let base = rng.random_range(-(1i64 << 50)..(1i64 << 50));
            let mut times: Vec<i64> = (0..n).map(|_| base.saturating_add(rng.random_range(-width / 2..=width / 2))).collect();
            if case % 7 == 0 && n > 2 {
                times[0] = i64::MIN;
                times[n - 1] = i64::MAX;
            }
            let mut expected: Vec<u32> = (0..n as u32).collect();
            expected.sort_by_key(|&i| times[i as usize]);
            let (min, bits) = span(&[&times]).unwrap_or((0, 0));
            assert_eq!(time_order(&[&times], min, bits), expected, "case {case}");
            let (head, tail) = times.split_at(n / 3);
            assert_eq!(time_order(&[head, tail], min, bits), expected, "case {case}, in two parts");
        }
    }
}
