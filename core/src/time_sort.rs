//! Putting unsorted rows in time order (ties in input order), fast.
//!
//! Rows are first dealt into buckets by the high bits of their time (less
//! the smallest), in input order, so that a bucket is a contiguous range of
//! the output; then each bucket, small enough to stay in the cache, is
//! sorted on its own. Fixed-width columns without nulls (times, keys,
//! numbers) move the same way: one pass reading them in order and writing
//! each row to its bucket, then a permutation inside each bucket, in the
//! cache. A gather through the finished order (arrow's `take`) reads every
//! row at random, a cache miss each: on 10M shuffled rows it cost more than
//! sorting them. Other columns are still taken through the order.

use crate::error::{Result, SashError};
use arrow_array::{make_array, Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};
use arrow_data::ArrayDataBuilder;
use arrow_schema::SchemaRef;
use arrow_select::concat::concat;
use arrow_select::take::take;
use std::borrow::Cow;

/// High bits of the time that pick a bucket, at most.
const BUCKET_BITS: u32 = 11;
/// Time bits at most that the buckets' own sorts can take: a bucket's
/// entries hold the time's low bits above the row's place in the bucket.
const LOW_BITS_MAX: u32 = 32;

/// `batches` (at least one row in all, times given per batch) as one batch
/// in time order, and for each of its rows, its index in the input.
pub(crate) fn sort_batches(schema: &SchemaRef, batches: &[RecordBatch], times: &[Cow<[i64]>]) -> Result<(RecordBatch, ScalarBuffer<u32>)> {
    let n: usize = times.iter().map(|t| t.len()).sum();
    if n > u32::MAX as usize {
        return Err(SashError::InvalidInput(format!("{n} unsorted rows in one call; sort the input by time or split it")));
    }
    let (min, bits) = span(times).unwrap_or((0, 0));
    let columns: Vec<Vec<ArrayRef>> = (0..schema.fields().len()).map(|c| batches.iter().map(|b| b.column(c).clone()).collect()).collect();
    if bits > BUCKET_BITS + LOW_BITS_MAX {
        // Times too far apart for buckets of one word per row.
        let order = ScalarBuffer::from(time_order(times, min, bits));
        let indices = UInt32Array::new(order.clone(), None);
        let sorted: Result<Vec<ArrayRef>> = columns.iter().map(|parts| Ok(take(joined(parts)?.as_ref(), &indices, None)?)).collect();
        return Ok((batch(schema, sorted?, n)?, order));
    }
    let buckets = Buckets::new(times, min, bits, n);
    let mut order = vec![0u32; n];
    for (j, &place) in buckets.dest.iter().enumerate() {
        order[place as usize] = j as u32;
    }
    buckets.permute(&mut order);
    // Shared by every column that is taken, and handed to the caller.
    let indices = UInt32Array::new(ScalarBuffer::from(order), None);
    let sorted: Result<Vec<ArrayRef>> = columns.iter().map(|parts| buckets.sort_column(parts, &indices)).collect();
    Ok((batch(schema, sorted?, n)?, indices.values().clone()))
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

/// The buckets of a time sort: where each input row goes, and each bucket's
/// permutation into time order.
struct Buckets {
    /// Per input row, its place in the bucketed order.
    dest: Vec<u32>,
    /// Bucket b holds places `starts[b]..starts[b + 1]`.
    starts: Vec<usize>,
    /// Per place: the place, within its bucket, of the row that goes there
    /// once the bucket is sorted.
    source: Vec<u32>,
}

impl Buckets {
    fn new(times: &[Cow<[i64]>], min: i64, bits: u32, n: usize) -> Buckets {
        // The caller keeps `bits` within BUCKET_BITS + LOW_BITS_MAX.
        let low_bits = bits.saturating_sub(BUCKET_BITS);
        let count = 1usize << (bits - low_bits);
        let offset = |t: i64| t.wrapping_sub(min) as u64;
        let mut starts = vec![0usize; count + 1];
        for part in times {
            for &t in part.iter() {
                starts[(offset(t) >> low_bits) as usize + 1] += 1;
            }
        }
        for b in 0..count {
            starts[b + 1] += starts[b];
        }
        // Each row's entry: the low bits of its time above its place in the
        // bucket, which grows with the input order; sorting the entries as
        // integers sorts a bucket by time, ties in input order.
        let mut next = starts.clone();
        let mut dest = Vec::with_capacity(n);
        let mut entries = vec![0u64; n];
        let low_mask = (1u64 << low_bits) - 1;
        for part in times {
            for &t in part.iter() {
                let b = (offset(t) >> low_bits) as usize;
                let place = next[b];
                next[b] += 1;
                entries[place] = ((offset(t) & low_mask) << 32) | (place - starts[b]) as u64;
                dest.push(place as u32);
            }
        }
        let mut scratch = Vec::new();
        for b in 0..count {
            sort_entries(&mut entries[starts[b]..starts[b + 1]], low_bits, &mut scratch);
        }
        let source = entries.into_iter().map(|e| e as u32).collect();
        Buckets { dest, starts, source }
    }

    /// Writes the values, given in input order, to their places in the bucketed order.
    fn scatter<T: Copy>(&self, out: &mut [T], parts: impl Iterator<Item = impl AsRef<[T]>>) {
        let mut j = 0;
        for part in parts {
            for &v in part.as_ref() {
                out[self.dest[j] as usize] = v;
                j += 1;
            }
        }
    }

    /// Puts each bucket of `values` (in bucketed order) in time order.
    fn permute<T: Copy>(&self, values: &mut [T]) {
        let mut bucket: Vec<T> = Vec::new();
        for b in 0..self.starts.len() - 1 {
            let (start, end) = (self.starts[b], self.starts[b + 1]);
            if end - start < 2 {
                continue;
            }
            bucket.clear();
            bucket.extend_from_slice(&values[start..end]);
            for (value, &from) in values[start..end].iter_mut().zip(&self.source[start..end]) {
                *value = bucket[from as usize];
            }
        }
    }

    /// One column in time order: fixed-width values without nulls move
    /// through the buckets; anything else is taken through `order`.
    fn sort_column(&self, parts: &[ArrayRef], order: &UInt32Array) -> Result<ArrayRef> {
        let data_type = parts[0].data_type();
        let no_nulls = parts.iter().all(|p| p.null_count() == 0);
        let moved = match data_type.primitive_width() {
            Some(1) if no_nulls => Some(self.move_values::<u8>(parts)),
            Some(2) if no_nulls => Some(self.move_values::<u16>(parts)),
            Some(4) if no_nulls => Some(self.move_values::<u32>(parts)),
            Some(8) if no_nulls => Some(self.move_values::<u64>(parts)),
            _ => None,
        };
        let n = order.len();
        match moved {
            Some(values) => {
                let data = ArrayDataBuilder::new(data_type.clone()).len(n).add_buffer(values).build()?;
                Ok(make_array(data))
            }
            None => Ok(take(joined(parts)?.as_ref(), order, None)?),
        }
    }

    fn move_values<T: ArrowNativeType + Default>(&self, parts: &[ArrayRef]) -> Buffer {
        let n = self.dest.len();
        let mut out = vec![T::default(); n];
        let slices = parts.iter().map(|p| {
            let data = p.to_data();
            let (offset, len) = (data.offset(), data.len());
            // Fixed-width values are buffer 0, `offset` values in.
            ScalarBuffer::<T>::new(data.buffers()[0].clone(), offset, len)
        });
        self.scatter(&mut out, slices);
        self.permute(&mut out);
        Buffer::from_vec(out)
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
    use super::{sort_batches, span, time_order};
    use arrow_array::types::Int64Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Float64Array, Int16Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt8Array,
    };
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use arrow_select::concat::concat_batches;
    use arrow_select::take::take_record_batch;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use std::borrow::Cow;
    use std::sync::Arc;

    /// Bucketed columns and taken ones come out as a stable sort by time
    /// and a take would give them: over time ranges that need one bucket
    /// pass or local passes or none, or too wide for buckets; with several
    /// batches, sliced arrays, nulls, strings and booleans.
    #[test]
    fn sorted_batches_match_a_stable_sort_and_a_take() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("Europe/Paris".into())), false),
            Field::new("key", DataType::Int32, true),
            Field::new("val", DataType::Float64, false),
            Field::new("small", DataType::UInt8, false),
            Field::new("mid", DataType::Int16, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, false),
        ]));
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..300 {
            let span: i64 = [3, 2_000, 1 << 27, 1 << 42, 1 << 50, i64::MAX][case % 6];
            let base: i64 = rng.random_range(-(1i64 << 40)..(1i64 << 40));
            let batches: Vec<RecordBatch> = (0..rng.random_range(1..4))
                .map(|_| {
                    let n = rng.random_range(0..700);
                    let skip = rng.random_range(0..3usize);
                    // Half the cases crowd most rows into one bucket, which then sorts in passes of its own.
                    let crowded = case % 12 >= 6;
                    let times: Vec<i64> = (0..n + skip)
                        .map(|_| match crowded && rng.random_bool(0.95) {
                            true => base.saturating_add(rng.random_range(0..1 << 12)),
                            false => base.saturating_add(rng.random_range(0..=span / 2) * 2 - span / 2),
                        })
                        .collect();
                    let columns: Vec<ArrayRef> = vec![
                        Arc::new(TimestampMillisecondArray::from(times).with_timezone("Europe/Paris")),
                        Arc::new(Int32Array::from_iter((0..n + skip).map(|i| (case % 3 != 0 || i % 5 != 0).then_some(i as i32 % 17)))),
                        Arc::new(Float64Array::from_iter_values((0..n + skip).map(|_| rng.random::<f64>()))),
                        Arc::new(UInt8Array::from_iter_values((0..n + skip).map(|i| i as u8))),
                        Arc::new(Int16Array::from_iter_values((0..n + skip).map(|i| -(i as i16)))),
                        Arc::new(StringArray::from_iter((0..n + skip).map(|i| (i % 4 != 0).then(|| format!("s{i}"))))),
                        Arc::new(BooleanArray::from_iter((0..n + skip).map(|i| Some(i % 3 == 0)))),
                    ];
                    RecordBatch::try_new(schema.clone(), columns).unwrap().slice(skip, n)
                })
                .collect();
            let times: Vec<Cow<[i64]>> =
                batches.iter().map(|b| Cow::Owned(b.column(0).to_data().buffer::<i64>(0)[..b.num_rows()].to_vec())).collect();
            let all = concat_batches(&schema, &batches).unwrap();
            let all_times: Vec<i64> = arrow_cast::cast(all.column(0), &DataType::Int64)
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::PrimitiveArray<Int64Type>>()
                .unwrap()
                .values()
                .to_vec();
            let mut expected_order: Vec<u32> = (0..all.num_rows() as u32).collect();
            expected_order.sort_by_key(|&i| all_times[i as usize]);
            let expected = take_record_batch(&all, &arrow_array::UInt32Array::from(expected_order.clone())).unwrap();
            let (sorted, order) = sort_batches(&schema, &batches, &times).unwrap();
            assert_eq!(order.to_vec(), expected_order, "case {case}");
            assert_eq!(sorted, expected, "case {case}");
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
