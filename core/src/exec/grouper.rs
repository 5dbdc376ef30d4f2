//! Grouping rows by key columns: every distinct key gets a dense group id.

use crate::bytes::short_eq;
use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray, UInt32Array};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, SortOptions, TimeUnit};
use arrow_select::interleave::interleave;
use arrow_select::take::take;
use hashbrown::HashMap;
use std::ops::Range;
use std::sync::Arc;

const NO_GROUP: u32 = u32::MAX;
/// Largest integer key range served by a direct lookup table instead of a hash map.
const DENSE_RANGE_LIMIT: i64 = 1 << 20;

/// One key's place in a dense group id.
#[derive(Debug, Clone, Copy)]
struct Digit {
    min: i64,
    /// Values in [min, min + len); `len` stands for null.
    len: u32,
}

impl Digit {
    fn radix(self) -> usize {
        self.len as usize + 1
    }
}

enum Mode {
    /// No key columns: every row is group 0.
    Single,
    /// Integer-like keys, each over a small range [min, min + len), whose
    /// ranges multiply to a small number: each key's offset (`len` for a
    /// null) is a digit of the group id, the first key's the most
    /// significant, so group order is key order (nulls last) and no lookup
    /// table is needed.
    Dense { digits: Vec<Digit>, scratch: Vec<u32> },
    /// One integer-like key over a wide range.
    IntMap { map: HashMap<i64, u32>, null_gid: u32 },
    /// One string or binary key, hashed on its bytes where they lie in the
    /// array: each group's bytes are kept once, in `keys`.
    Bytes(ByteGroups),
    /// One dictionary key of strings or binaries: per batch, each dictionary
    /// entry takes the group id of its value (through `groups`) when a row
    /// first uses it, so a row costs an index lookup.
    Dictionary { groups: ByteGroups, per_batch: Vec<Vec<u32>> },
    /// Two keys, each grouped on its own (as integers, bytes or a
    /// dictionary): a row's group is the pair of its two ids.
    Pair { parts: Box<[Grouper; 2]>, map: HashMap<u64, u32>, second: Vec<u32> },
    /// Anything else: keys encoded by arrow-row and hashed as bytes.
    Rows { converter: RowConverter, map: HashMap<Box<[u8]>, u32> },
    /// Every row's group assigned ahead (see [`Grouper::rank_ahead`]), ids
    /// in key order: per batch, per row; and the groups' keys in that order.
    Ranked { ids: Vec<Vec<u32>>, keys: Vec<ArrayRef> },
}

/// Assigns group ids to rows, remembering where each group was first seen so
/// that the key values can be produced at the end without copying them per row.
pub(crate) struct Grouper {
    mode: Mode,
    /// Per batch, its key columns.
    batch_keys: Vec<Vec<ArrayRef>>,
    /// Per group, the (batch, row) where it first appeared.
    first_seen: Vec<(usize, usize)>,
    key_types: Vec<DataType>,
}

trait AsI64: Copy {
    fn as_i64(self) -> i64;
}

macro_rules! as_i64 {
    ($($t:ty),*) => {$(
        impl AsI64 for $t {
            #[inline(always)]
            fn as_i64(self) -> i64 {
                // u64 keys keep their bit pattern: distinct values stay distinct.
                self as i64
            }
        }
    )*};
}
as_i64!(i8, i16, i32, i64, u8, u16, u32, u64);

/// Expands `$go!(ArrowType)` for an integer-like `$data_type` whose values
/// are group ids' offsets from a minimum: every integer type but UInt64 (whose
/// values beyond i64::MAX would not survive the offset arithmetic), dates and
/// timestamps. Any other type gives `$otherwise`.
macro_rules! with_offset_key_type {
    ($data_type:expr, $go:ident, $otherwise:expr) => {
        match $data_type {
            DataType::Int8 => $go!(Int8Type),
            DataType::Int16 => $go!(Int16Type),
            DataType::Int32 => $go!(Int32Type),
            DataType::Int64 => $go!(Int64Type),
            DataType::UInt8 => $go!(UInt8Type),
            DataType::UInt16 => $go!(UInt16Type),
            DataType::UInt32 => $go!(UInt32Type),
            DataType::Date32 => $go!(Date32Type),
            DataType::Date64 => $go!(Date64Type),
            DataType::Timestamp(TimeUnit::Second, _) => $go!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => $go!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => $go!(TimestampMicrosecondType),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => $go!(TimestampNanosecondType),
            _ => $otherwise,
        }
    };
}

/// Calls `visit(i, value)` for each row `range.start + i` of an integer-like
/// array, with `None` for nulls, without materializing the values.
#[inline(always)]
fn visit_ints(array: &dyn Array, range: Range<usize>, mut visit: impl FnMut(usize, Option<i64>)) {
    macro_rules! go {
        ($t:ty) => {{
            let typed = array.as_primitive::<$t>();
            let values = &typed.values()[range.clone()];
            match typed.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    for (i, &v) in values.iter().enumerate() {
                        visit(i, Some(v.as_i64()));
                    }
                }
                Some(nulls) => {
                    for (i, &v) in values.iter().enumerate() {
                        visit(i, nulls.is_valid(range.start + i).then(|| v.as_i64()));
                    }
                }
            }
        }};
    }
    match array.data_type() {
        DataType::UInt64 => go!(UInt64Type),
        other => with_offset_key_type!(other, go, unreachable!("{other} is not integer-like")),
    }
}

/// The range of an integer-like key over every batch, as a dense digit:
/// None when it is too wide.
fn dense_digit<'a>(arrays: impl Iterator<Item = &'a dyn Array>) -> Option<Digit> {
    let mut bounds: Option<(i64, i64)> = None;
    for array in arrays {
        if let Some((lo, hi)) = bounds_without_nulls(array) {
            bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            continue;
        }
        visit_ints(array, 0..array.len(), |_, v| {
            if let Some(v) = v {
                bounds = Some(match bounds {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
        });
    }
    match bounds {
        Some((lo, hi)) if (hi as i128 - lo as i128) < DENSE_RANGE_LIMIT as i128 => Some(Digit { min: lo, len: (hi - lo + 1) as u32 }),
        Some(_) => None,
        None => Some(Digit { min: 0, len: 0 }),
    }
}

/// Appends to `out` the digit of each row of `range`: its offset from
/// `digit.min`, or `digit.len` for a null.
fn dense_digits(keys: &dyn Array, range: Range<usize>, digit: Digit, out: &mut Vec<u32>) {
    if dense_ids_without_nulls(keys, range.clone(), digit.min, out) {
        return;
    }
    visit_ints(keys, range, |_, v| {
        out.push(match v {
            Some(v) => (v - digit.min) as u32,
            None => digit.len,
        });
    });
}

/// The group ids of a dense key column's rows when they hold no null, in a
/// loop the compiler vectorizes (the common case, and the per-row closure of
/// `visit_ints` costs more than the subtraction). False if not applicable.
fn dense_ids_without_nulls(array: &dyn Array, range: Range<usize>, min: i64, out: &mut Vec<u32>) -> bool {
    if array.null_count() > 0 {
        return false;
    }
    macro_rules! go {
        ($t:ty) => {{
            let values = &array.as_primitive::<$t>().values()[range];
            out.extend(values.iter().map(|&v| (v.as_i64().wrapping_sub(min)) as u32));
            true
        }};
    }
    with_offset_key_type!(array.data_type(), go, false)
}

/// The smallest and largest value of a non-empty integer-like array with no
/// null, in a loop the compiler vectorizes on the native type (the per-row
/// closure of `visit_ints` does not); None if not applicable.
fn bounds_without_nulls(array: &dyn Array) -> Option<(i64, i64)> {
    if array.null_count() > 0 || array.is_empty() {
        return None;
    }
    macro_rules! go {
        ($t:ty) => {{
            let (lo, hi) = bounds(array.as_primitive::<$t>().values());
            Some((lo.as_i64(), hi.as_i64()))
        }};
    }
    with_offset_key_type!(array.data_type(), go, None)
}

/// The smallest and largest of `values` whose row `nulls` (if any) says is
/// valid; None when there is none.
pub(crate) fn valid_bounds(values: &[i64], nulls: Option<&NullBuffer>) -> Option<(i64, i64)> {
    match nulls.filter(|n| n.null_count() > 0) {
        None => (!values.is_empty()).then(|| bounds(values)),
        Some(nulls) => {
            let mut valid = values.iter().zip(nulls.iter()).filter(|&(_, ok)| ok).map(|(&v, _)| v);
            let first = valid.next()?;
            Some(valid.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
        }
    }
}

/// The ids `0..n` of groups whose keys are `columns` (one row per id) in
/// ascending key order, nulls last: the order `window_agg` emits them in.
pub(crate) fn key_order(columns: &[ArrayRef], n: usize) -> Result<Vec<u32>> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    if !columns.is_empty() && n > 1 {
        let fields = columns
            .iter()
            .map(|c| SortField::new_with_options(c.data_type().clone(), SortOptions { descending: false, nulls_first: false }))
            .collect();
        let rows = RowConverter::new(fields)?.convert_columns(columns)?;
        order.sort_unstable_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    }
    Ok(order)
}

/// Each group's place in `order` (every id once): its rank.
pub(crate) fn ranks_of(order: &[u32]) -> Vec<u32> {
    let mut rank = vec![0u32; order.len()];
    for (r, &gid) in order.iter().enumerate() {
        rank[gid as usize] = r as u32;
    }
    rank
}

/// The smallest and largest of non-empty `values`. Compiled for AVX2 too:
/// SSE2, the baseline, has no min/max of 32- or 64-bit integers, so this
/// pass over every key ran scalar there.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn bounds<T: Copy + Ord>(values: &[T]) -> (T, T) {
    values.iter().fold((values[0], values[0]), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Whether one key of this type is grouped without arrow-row encoding.
fn groups_alone(t: &DataType) -> bool {
    (is_int_like(t) && *t != DataType::UInt64) || is_bytes(t) || matches!(t, DataType::Dictionary(_, values) if is_bytes(values))
}

fn is_bytes(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary | DataType::LargeBinary | DataType::BinaryView)
}

/// Calls `visit(i, value)` for each row `range.start + i` of a string or
/// binary array, with `None` for nulls.
#[inline(always)]
fn visit_bytes(array: &dyn Array, range: Range<usize>, mut visit: impl FnMut(usize, Option<&[u8]>)) {
    macro_rules! go {
        ($typed:expr) => {{
            let typed = $typed;
            match typed.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    for (i, row) in range.clone().enumerate() {
                        visit(i, Some(typed.value(row).as_ref()));
                    }
                }
                Some(nulls) => {
                    for (i, row) in range.clone().enumerate() {
                        visit(i, nulls.is_valid(row).then(|| typed.value(row).as_ref()));
                    }
                }
            }
        }};
    }
    match array.data_type() {
        DataType::Utf8 => go!(array.as_string::<i32>()),
        DataType::LargeUtf8 => go!(array.as_string::<i64>()),
        DataType::Utf8View => go!(array.as_string_view()),
        DataType::Binary => go!(array.as_binary::<i32>()),
        DataType::LargeBinary => go!(array.as_binary::<i64>()),
        DataType::BinaryView => go!(array.as_binary_view()),
        other => unreachable!("{other} is not a string or binary type"),
    }
}

/// Group ids of byte strings: a hash table of (hash, group id) whose keys'
/// bytes sit end to end in one buffer, so that a new group costs no
/// allocation of its own and a lookup hashes the row's bytes in place.
#[derive(Default)]
struct ByteGroups {
    hasher: hashbrown::DefaultHashBuilder,
    table: hashbrown::HashTable<(u64, u32)>,
    /// The bytes of every non-null group's key, in group id order...
    keys: Vec<u8>,
    /// ...group g's ending at `ends[g]` (and starting where g - 1's ends);
    /// the null group, if any, takes no bytes.
    ends: Vec<usize>,
    null_gid: Option<u32>,
}

impl ByteGroups {
    #[inline(always)]
    fn gid(&mut self, value: Option<&[u8]>, new_group: impl FnOnce() -> u32) -> u32 {
        let Some(bytes) = value else {
            return *self.null_gid.get_or_insert_with(|| {
                let gid = new_group();
                self.ends.push(self.keys.len());
                gid
            });
        };
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, bytes);
        let (keys, ends) = (&self.keys, &self.ends);
        // The table holds no null group.
        let key_of = |gid: u32| {
            let start = if gid == 0 { 0 } else { ends[gid as usize - 1] };
            &keys[start..ends[gid as usize]]
        };
        let found = self.table.find(hash, |&(h, gid)| h == hash && short_eq(key_of(gid), bytes));
        if let Some(&(_, gid)) = found {
            return gid;
        }
        let gid = new_group();
        debug_assert_eq!(gid as usize, self.ends.len());
        self.keys.extend_from_slice(bytes);
        self.ends.push(self.keys.len());
        self.table.insert_unique(hash, (hash, gid), |&(h, _)| h);
        gid
    }
}

fn is_int_like(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
}

impl Grouper {
    /// Chooses a strategy by looking at the key columns of every batch.
    pub fn new(key_types: &[DataType], batches: &[Vec<ArrayRef>]) -> Result<Grouper> {
        let mode = match key_types {
            [] => Mode::Single,
            // u64 keys beyond i64::MAX would not survive the offset arithmetic.
            types if types.iter().all(|t| is_int_like(t) && *t != DataType::UInt64) => {
                let digits: Vec<Option<Digit>> =
                    (0..types.len()).map(|k| dense_digit(batches.iter().map(|keys| keys[k].as_ref()))).collect();
                let groups = digits.iter().try_fold(1usize, |product, d| d.and_then(|d| product.checked_mul(d.radix())));
                match (groups, types.len()) {
                    (Some(groups), _) if groups <= DENSE_RANGE_LIMIT as usize => {
                        Mode::Dense { digits: digits.into_iter().map(|d| d.expect("all dense")).collect(), scratch: Vec::new() }
                    }
                    (_, 1) => Mode::IntMap { map: HashMap::new(), null_gid: NO_GROUP },
                    _ => Self::pair_or_rows(key_types, batches)?,
                }
            }
            [t] if is_bytes(t) => Mode::Bytes(ByteGroups::default()),
            [DataType::Dictionary(_, values)] if is_bytes(values) => {
                Mode::Dictionary { groups: ByteGroups::default(), per_batch: vec![Vec::new(); batches.len()] }
            }
            _ => Self::pair_or_rows(key_types, batches)?,
        };
        Ok(Grouper { mode, batch_keys: batches.to_vec(), first_seen: Vec::new(), key_types: key_types.to_vec() })
    }

    /// Two keys that each group on their own are grouped as a pair of ids;
    /// any other keys are encoded by arrow-row.
    fn pair_or_rows(key_types: &[DataType], batches: &[Vec<ArrayRef>]) -> Result<Mode> {
        if key_types.len() == 2 && key_types.iter().all(groups_alone) {
            let part = |k: usize| {
                let columns: Vec<Vec<ArrayRef>> = batches.iter().map(|keys| vec![keys[k].clone()]).collect();
                Grouper::new(&key_types[k..=k], &columns)
            };
            return Ok(Mode::Pair { parts: Box::new([part(0)?, part(1)?]), map: HashMap::new(), second: Vec::new() });
        }
        let fields = key_types.iter().map(|t| SortField::new(t.clone())).collect();
        Ok(Mode::Rows { converter: RowConverter::new(fields)?, map: HashMap::new() })
    }

    pub fn num_groups(&self) -> usize {
        match self.mode {
            Mode::Single => 1,
            Mode::Dense { ref digits, .. } => digits.iter().map(|d| d.radix()).product(),
            _ => self.first_seen.len(),
        }
    }

    /// Whether group ids already sort like the keys (nulls last).
    pub fn ids_are_ordered(&self) -> bool {
        matches!(self.mode, Mode::Single | Mode::Dense { .. } | Mode::Ranked { .. })
    }

    /// Assigns every row its group now, and renumbers the groups in key
    /// order (nulls last), for callers that emit groups in id order: pane
    /// windows then come out in their final order, where sorting them after
    /// (and moving every output column) cost a third of a tumbling call on
    /// string keys. Costs four bytes a row; a no-op when ids are ordered.
    pub fn rank_ahead(&mut self) -> Result<()> {
        if self.ids_are_ordered() {
            return Ok(());
        }
        const CHUNK: usize = 64 * 1024;
        let mut ids: Vec<Vec<u32>> = Vec::with_capacity(self.batch_keys.len());
        let mut chunk = Vec::new();
        for b in 0..self.batch_keys.len() {
            let len = self.batch_keys[b].first().map_or(0, |k| k.len());
            let mut batch_ids = Vec::with_capacity(len);
            for start in (0..len).step_by(CHUNK) {
                self.assign(b, start..(start + CHUNK).min(len), &mut chunk)?;
                batch_ids.extend_from_slice(&chunk);
            }
            ids.push(batch_ids);
        }
        let (keys, rank) = self.finish()?;
        for gid in ids.iter_mut().flatten() {
            *gid = rank[*gid as usize];
        }
        let mut order = vec![0u32; rank.len()];
        let mut first_seen = vec![(0, 0); rank.len()];
        for (gid, &r) in rank.iter().enumerate() {
            order[r as usize] = gid as u32;
            first_seen[r as usize] = self.first_seen[gid];
        }
        self.first_seen = first_seen;
        self.mode = Mode::Ranked { ids, keys: take_keys(&keys, &order)? };
        Ok(())
    }

    /// Writes the group id of each row of `rows` in batch `batch` to `out`.
    pub fn assign(&mut self, batch: usize, rows: Range<usize>, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let first_seen = &mut self.first_seen;
        fn new_group(first_seen: &mut Vec<(usize, usize)>, batch: usize, row: usize) -> u32 {
            first_seen.push((batch, row));
            (first_seen.len() - 1) as u32
        }
        match &mut self.mode {
            Mode::Single => {
                if first_seen.is_empty() && !rows.is_empty() {
                    new_group(first_seen, batch, rows.start);
                }
                out.resize(rows.len(), 0);
            }
            Mode::Dense { digits, scratch } => {
                let keys = &self.batch_keys[batch];
                dense_digits(keys[0].as_ref(), rows.clone(), digits[0], out);
                for (key, &digit) in keys.iter().zip(digits.iter()).skip(1) {
                    scratch.clear();
                    dense_digits(key.as_ref(), rows.clone(), digit, scratch);
                    let radix = digit.radix() as u32;
                    for (gid, &d) in out.iter_mut().zip(scratch.iter()) {
                        *gid = *gid * radix + d;
                    }
                }
            }
            Mode::IntMap { map, null_gid } => {
                visit_ints(self.batch_keys[batch][0].as_ref(), rows.clone(), |i, v| {
                    let gid = match v {
                        None => {
                            if *null_gid == NO_GROUP {
                                *null_gid = new_group(first_seen, batch, rows.start + i);
                            }
                            *null_gid
                        }
                        Some(v) => *map.entry(v).or_insert_with(|| new_group(first_seen, batch, rows.start + i)),
                    };
                    out.push(gid);
                });
            }
            Mode::Bytes(groups) => {
                visit_bytes(self.batch_keys[batch][0].as_ref(), rows.clone(), |i, v| {
                    out.push(groups.gid(v, || new_group(first_seen, batch, rows.start + i)));
                });
            }
            Mode::Dictionary { groups, per_batch } => {
                let keys = self.batch_keys[batch][0].slice(rows.start, rows.len());
                let dictionary = keys.as_any_dictionary();
                let values = dictionary.values();
                // Null rows and rows whose entry is null alike.
                let nulls = keys.logical_nulls().filter(|n| n.null_count() > 0);
                let gid_of_entry = &mut per_batch[batch];
                if gid_of_entry.is_empty() {
                    gid_of_entry.resize(values.len(), NO_GROUP);
                }
                // A dictionary without values has no valid key: every row is
                // null (and arrow-rs cannot normalize keys into no values).
                let entries = if values.is_empty() { vec![0; rows.len()] } else { dictionary.normalized_keys() };
                for (i, entry) in entries.into_iter().enumerate() {
                    let row = rows.start + i;
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        out.push(groups.gid(None, || new_group(first_seen, batch, row)));
                        continue;
                    }
                    let mut gid = gid_of_entry[entry];
                    if gid == NO_GROUP {
                        visit_bytes(values.as_ref(), entry..entry + 1, |_, value| {
                            gid = groups.gid(value, || new_group(first_seen, batch, row));
                        });
                        gid_of_entry[entry] = gid;
                    }
                    out.push(gid);
                }
            }
            Mode::Pair { parts, map, second } => {
                let [first_part, second_part] = &mut **parts;
                first_part.assign(batch, rows.clone(), out)?;
                second_part.assign(batch, rows.clone(), second)?;
                for (i, (gid, &other)) in out.iter_mut().zip(second.iter()).enumerate() {
                    let pair = (u64::from(*gid) << 32) | u64::from(other);
                    *gid = *map.entry(pair).or_insert_with(|| new_group(first_seen, batch, rows.start + i));
                }
            }
            Mode::Ranked { ids, .. } => out.extend_from_slice(&ids[batch][rows]),
            Mode::Rows { converter, map } => {
                let columns: Vec<ArrayRef> =
                    self.batch_keys[batch].iter().map(|a| normalized_float_key(a.slice(rows.start, rows.len()))).collect();
                let encoded = converter.convert_columns(&columns)?;
                for (i, row) in encoded.iter().enumerate() {
                    let bytes = row.as_ref();
                    let gid = match map.get(bytes) {
                        Some(&gid) => gid,
                        None => {
                            let gid = new_group(first_seen, batch, rows.start + i);
                            map.insert(bytes.into(), gid);
                            gid
                        }
                    };
                    out.push(gid);
                }
            }
        }
        Ok(())
    }

    /// The key values of every group (one row per group id), and each group's
    /// rank in ascending key order with nulls last.
    pub fn finish(&self) -> Result<(Vec<ArrayRef>, Vec<u32>)> {
        match &self.mode {
            Mode::Dense { .. } => {
                let gids: Vec<u32> = (0..self.num_groups() as u32).collect();
                return Ok((self.keys_of(&[], &gids)?, gids));
            }
            // Ranked ahead: sorted once already.
            Mode::Ranked { keys, .. } => return Ok((keys.clone(), (0..self.num_groups() as u32).collect())),
            _ => {}
        }
        let mut columns = Vec::with_capacity(self.key_types.len());
        for (k, key_type) in self.key_types.iter().enumerate() {
            if self.first_seen.is_empty() {
                columns.push(arrow_array::new_empty_array(key_type));
                continue;
            }
            let sources: Vec<&dyn Array> = self.batch_keys.iter().map(|b| b[k].as_ref()).collect();
            // Normalized as when grouped: a group of 0.0 and -0.0 shows 0.0,
            // and NaNs (whatever their sign) sort last, not below -inf.
            columns.push(normalized_float_key(interleave(&sources, &self.first_seen)?));
        }
        let rank = ranks_of(&key_order(&columns, self.num_groups())?);
        Ok((columns, rank))
    }
}

impl Grouper {
    /// The key columns of output rows whose groups are `gids`, given the
    /// groups' keys from `finish`. A dense key is its group id plus the
    /// smallest key, so its column is computed in one pass, without a take.
    pub fn keys_of(&self, group_keys: &[ArrayRef], gids: &[u32]) -> Result<Vec<ArrayRef>> {
        let Mode::Dense { digits, .. } = &self.mode else {
            return take_keys(group_keys, gids);
        };
        if let [digit] = digits[..] {
            // One key: the group id is its digit, with no division to undo.
            return Ok(vec![dense_key_column(&self.key_types[0], digit, gids, |g| g)]);
        }
        let mut columns = Vec::with_capacity(digits.len());
        // The last key's digit is the least significant.
        let mut stride = 1u32;
        for (k, &digit) in digits.iter().enumerate().rev() {
            let radix = digit.radix() as u32;
            columns.push(dense_key_column(&self.key_types[k], digit, gids, |g| (g / stride) % radix));
            stride *= radix;
        }
        columns.reverse();
        Ok(columns)
    }
}

/// The values of a dense key for groups `gids`, given each group's digit of that key.
fn dense_key_column(key_type: &DataType, Digit { min, len }: Digit, gids: &[u32], digit_of: impl Fn(u32) -> u32) -> ArrayRef {
    let nulls = gids.iter().any(|&g| digit_of(g) == len).then(|| NullBuffer::from_iter(gids.iter().map(|&g| digit_of(g) != len)));
    macro_rules! go {
        ($t:ty) => {{
            type Native = <$t as ArrowPrimitiveType>::Native;
            // Nulls hold the value one past the largest key: never read.
            let values: ScalarBuffer<Native> = gids.iter().map(|&g| (min + digit_of(g) as i64) as Native).collect();
            Arc::new(PrimitiveArray::<$t>::new(values, nulls).with_data_type(key_type.clone()))
        }};
    }
    with_offset_key_type!(key_type, go, unreachable!("dense keys are integer-like"))
}

/// A float column with -0.0 made 0.0 and every NaN the same NaN, so that the
/// row encoding (which tells them apart, as a total order must) takes them
/// as one value: for grouping keys and counting distinct values. Other
/// columns are returned as they are.
pub(crate) fn normalized_float_key(array: ArrayRef) -> ArrayRef {
    macro_rules! normalize {
        ($t:ty, $zero:expr, $nan:expr) => {{
            let normalized: PrimitiveArray<$t> = array.as_primitive::<$t>().unary(|x| {
                if x.is_nan() {
                    $nan
                } else if x == $zero {
                    $zero
                } else {
                    x
                }
            });
            Arc::new(normalized) as ArrayRef
        }};
    }
    match array.data_type() {
        DataType::Float32 => normalize!(Float32Type, 0.0f32, f32::NAN),
        DataType::Float64 => normalize!(Float64Type, 0.0f64, f64::NAN),
        _ => array,
    }
}

/// Picks the key values for each output row.
pub(crate) fn take_keys(group_keys: &[ArrayRef], gids: &[u32]) -> Result<Vec<ArrayRef>> {
    let indices = UInt32Array::from(gids.to_vec());
    group_keys.iter().map(|c| Ok(take(c.as_ref(), &indices, None)?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, StringArray, UInt8Array};

    fn gids(grouper: &mut Grouper, batch: usize, len: usize) -> Vec<u32> {
        let mut out = Vec::new();
        grouper.assign(batch, 0..len, &mut out).unwrap();
        out
    }

    /// A dictionary with no values (all rows null, or no rows) groups its
    /// rows as null; arrow-rs cannot normalize keys into no values.
    #[test]
    fn a_dictionary_without_values_is_all_null_keys() {
        let values: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
        let all_null: ArrayRef = Arc::new(DictionaryArray::try_new(UInt8Array::from(vec![None, None]), values.clone()).unwrap());
        let empty: ArrayRef = Arc::new(DictionaryArray::try_new(UInt8Array::from(Vec::<u8>::new()), values).unwrap());
        let key_type = all_null.data_type().clone();
        let mut grouper = Grouper::new(&[key_type], &[vec![empty], vec![all_null]]).unwrap();
        assert_eq!(gids(&mut grouper, 0, 0), Vec::<u32>::new());
        assert_eq!(gids(&mut grouper, 1, 2), vec![0, 0]);
    }

    #[test]
    fn dictionary_keys_group_by_value_whatever_the_entry_or_the_batch() {
        // Entries 0 and 2 hold the same value, entry 3 a null value; row 4 is a null key.
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), Some("a"), Some("b"), None, Some("")]));
        let keys = UInt8Array::from(vec![Some(0), Some(1), Some(2), Some(3), None, Some(4), Some(0)]);
        let first: ArrayRef = Arc::new(DictionaryArray::try_new(keys, values).unwrap());
        // Another dictionary, sliced: its rows are "", "a", "b".
        let other_values: ArrayRef = Arc::new(StringArray::from(vec!["zz", "", "a", "b"]));
        let other: ArrayRef = Arc::new(DictionaryArray::try_new(UInt8Array::from(vec![0, 1, 2, 3]), other_values).unwrap());
        let other = other.slice(1, 3);
        let key_type = first.data_type().clone();
        let mut grouper = Grouper::new(&[key_type], &[vec![first], vec![other]]).unwrap();
        assert!(matches!(grouper.mode, Mode::Dictionary { .. }));
        let (b, a, null, empty) = (0, 1, 2, 3);
        assert_eq!(gids(&mut grouper, 0, 7), vec![b, a, b, null, null, empty, b]);
        assert_eq!(gids(&mut grouper, 1, 3), vec![empty, a, b]);
        let (keys, rank) = grouper.finish().unwrap();
        let keys = arrow_cast::cast(&keys[0], &DataType::Utf8).unwrap();
        assert_eq!(keys.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("b"), Some("a"), None, Some("")]);
        // Ascending, nulls last: "", "a", "b", null.
        assert_eq!(rank, vec![2, 1, 3, 0]);
    }

    /// After `rank_ahead`, ids are the groups' ranks in key order (nulls
    /// last), across batches and chunks, whatever the grouping strategy.
    #[test]
    fn ranked_ids_follow_the_key_order() {
        let strings = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let ints = |v: Vec<Option<i64>>| -> ArrayRef { Arc::new(arrow_array::Int64Array::from(v)) };
        // (key types, per batch its key columns, the ranked id of every row)
        type Case = (Vec<DataType>, Vec<Vec<ArrayRef>>, Vec<u32>);
        let cases: Vec<Case> = vec![
            // Bytes: "b", "a", null, "c", "a" | "c", ""
            (
                vec![DataType::Utf8],
                vec![vec![strings(vec![Some("b"), Some("a"), None, Some("c"), Some("a")])], vec![strings(vec![Some("c"), Some("")])]],
                vec![2, 1, 4, 3, 1, 3, 0],
            ),
            // IntMap (a range too wide for digits): 10^12, -5, null, 7
            (vec![DataType::Int64], vec![vec![ints(vec![Some(1_000_000_000_000), Some(-5), None, Some(7)])]], vec![2, 0, 3, 1]),
            // Pair of a string and an integer.
            (
                vec![DataType::Utf8, DataType::Int64],
                vec![vec![strings(vec![Some("x"), Some("a"), Some("x")]), ints(vec![Some(1 << 40), Some(3), Some(-(1 << 40))])]],
                vec![2, 0, 1],
            ),
        ];
        for (types, batches, expected) in cases {
            let mut grouper = Grouper::new(&types, &batches).unwrap();
            assert!(!grouper.ids_are_ordered());
            grouper.rank_ahead().unwrap();
            assert!(grouper.ids_are_ordered());
            let got: Vec<u32> = (0..batches.len()).flat_map(|b| gids(&mut grouper, b, batches[b][0].len())).collect();
            assert_eq!(got, expected, "{types:?}");
            let (keys, rank) = grouper.finish().unwrap();
            assert_eq!(rank, (0..rank.len() as u32).collect::<Vec<_>>(), "{types:?}");
            if types == [DataType::Utf8] {
                let keys: Vec<Option<&str>> = keys[0].as_string::<i32>().iter().collect();
                assert_eq!(keys, vec![Some(""), Some("a"), Some("b"), Some("c"), None]);
            }
        }
    }
}
