//! Group ids for a stream: every distinct key seen so far gets a dense id,
//! across pushes. Unlike [`Grouper`](super::grouper::Grouper), which reads
//! all of an input at once and keeps its batches until it finishes, the keys
//! of new groups are copied out of each push, so that nothing the stream
//! keeps pins an input batch; groups no state refers to any more are dropped
//! ([`StreamGroups::retain`]), so that the ids stay as many as the open keys.

use crate::error::Result;
use crate::exec::grouper::{key_order, normalized_float_key, ranks_of, take_keys, valid_bounds};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, UInt32Array};
use arrow_cast::cast;
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, TimeUnit};
use arrow_select::concat::concat;
use hashbrown::HashMap;
use std::sync::Arc;

/// How keys become ids.
enum Mode {
    /// No keys: every row is group 0.
    Single,
    /// One integer-like key: its value (a u64's bit pattern) is the hash
    /// key. While the values seen span a small range, `direct` holds every
    /// group's id at its value's place too, so that a row costs one load.
    Int { map: HashMap<i64, u32>, null: Option<u32>, direct: Direct },
    /// Any other keys: their row encoding (floats normalized first).
    Rows { converter: RowConverter, map: HashMap<Box<[u8]>, u32> },
}

const NO_GROUP: u32 = u32::MAX;

/// The widest range of integer keys looked up in a table rather than hashed.
const DIRECT_SPAN: i64 = 1 << 18;

/// Group ids of integer keys in `lo..lo + ids.len()`, by value; `on` false
/// once the keys span more than `DIRECT_SPAN`.
#[derive(Default)]
struct Direct {
    on: bool,
    lo: i64,
    ids: Vec<u32>,
}

impl Direct {
    /// Makes room for `lo..=hi`, or turns the table off when that is too wide.
    fn cover(&mut self, lo: i64, hi: i64) {
        if !self.on {
            return;
        }
        let (new_lo, new_hi) =
            if self.ids.is_empty() { (lo, hi) } else { (self.lo.min(lo), (self.lo + self.ids.len() as i64 - 1).max(hi)) };
        match new_hi.checked_sub(new_lo) {
            Some(span) if span < DIRECT_SPAN => {
                let mut ids = vec![NO_GROUP; (span + 1) as usize];
                if !self.ids.is_empty() {
                    let at = (self.lo - new_lo) as usize;
                    ids[at..at + self.ids.len()].copy_from_slice(&self.ids);
                }
                self.ids = ids;
                self.lo = new_lo;
            }
            _ => {
                self.on = false;
                self.ids = Vec::new();
            }
        }
    }

    /// The table of `map`'s groups, when they span a small range.
    fn of(map: &HashMap<i64, u32>) -> Direct {
        let mut direct = Direct { on: true, lo: 0, ids: Vec::new() };
        if let (Some(&lo), Some(&hi)) = (map.keys().min(), map.keys().max()) {
            direct.cover(lo, hi);
            if direct.on {
                for (&v, &gid) in map {
                    direct.ids[(v - direct.lo) as usize] = gid;
                }
            }
        }
        direct
    }
}

/// Group ids of a stream's keys; see the module docs.
pub(crate) struct StreamGroups {
    pub key_types: Vec<DataType>,
    mode: Mode,
    /// The keys of every group, one row per id: `owned` holds the first
    /// ones in one array per key, `added` the chunks pushes added since.
    owned: Vec<ArrayRef>,
    added: Vec<Vec<ArrayRef>>,
    len: usize,
    /// Each group's place in ascending key order (nulls last), for the first `ranked` groups.
    rank: Vec<u32>,
}

impl std::fmt::Debug for StreamGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamGroups").field("key_types", &self.key_types).field("len", &self.len).finish()
    }
}

fn is_int_like(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
}

/// The values of an integer-like array as i64 (a u64's bit pattern).
fn int_values(array: &dyn Array) -> Vec<i64> {
    macro_rules! go {
        ($t:ty) => {
            array.as_primitive::<$t>().values().iter().map(|&v| v as i64).collect()
        };
    }
    match array.data_type() {
        DataType::Int8 => go!(Int8Type),
        DataType::Int16 => go!(Int16Type),
        DataType::Int32 => go!(Int32Type),
        DataType::Int64 => go!(Int64Type),
        DataType::UInt8 => go!(UInt8Type),
        DataType::UInt16 => go!(UInt16Type),
        DataType::UInt32 => go!(UInt32Type),
        DataType::UInt64 => go!(UInt64Type),
        DataType::Date32 => go!(Date32Type),
        DataType::Date64 => go!(Date64Type),
        DataType::Timestamp(TimeUnit::Second, _) => go!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => go!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => go!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => go!(TimestampNanosecondType),
        other => unreachable!("{other} is not integer-like"),
    }
}

/// The type a key is kept as: a dictionary's values (the keys' own
/// dictionary would keep the push's whole dictionary alive).
fn kept_type(key_type: &DataType) -> &DataType {
    match key_type {
        DataType::Dictionary(_, values) => values,
        other => other,
    }
}

/// `array` (rows just taken from a push) as an array that shares no buffer
/// with the push: view arrays copy the bytes their rows use, dictionaries
/// become their values.
fn unpinned(array: ArrayRef) -> Result<ArrayRef> {
    let array = match array.data_type() {
        DataType::Dictionary(_, values) => cast(&array, values)?,
        _ => array,
    };
    Ok(match array.data_type() {
        DataType::Utf8View => Arc::new(array.as_string_view().gc()),
        DataType::BinaryView => Arc::new(array.as_binary_view().gc()),
        _ => array,
    })
}

impl StreamGroups {
    pub fn new(key_types: &[DataType]) -> Result<StreamGroups> {
        let mode = match key_types {
            [] => Mode::Single,
            [t] if is_int_like(t) => Mode::Int { map: HashMap::new(), null: None, direct: Direct::of(&HashMap::new()) },
            types => {
                let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
                Mode::Rows { converter: RowConverter::new(fields)?, map: HashMap::new() }
            }
        };
        let owned = key_types.iter().map(|t| arrow_array::new_empty_array(kept_type(t))).collect();
        Ok(StreamGroups { key_types: key_types.to_vec(), mode, owned, added: Vec::new(), len: 0, rank: Vec::new() })
    }

    /// Groups so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the groups' keys take.
    pub fn key_bytes(&self) -> usize {
        if self.len == 0 {
            return 0;
        }
        self.owned.iter().chain(self.added.iter().flatten()).map(|a| a.get_array_memory_size()).sum()
    }

    /// Writes the group id of every row of `keys` (one array per key
    /// column, all of one length `rows`) to `out`, adding groups for keys
    /// not seen before. On error no group was added.
    pub fn assign(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let before = self.len;
        let mut first_rows: Vec<u32> = Vec::new();
        let mut next = self.len as u32;
        let mut new_group = |row: usize| {
            first_rows.push(row as u32);
            next += 1;
            next - 1
        };
        match &mut self.mode {
            Mode::Single => {
                if before == 0 && rows > 0 {
                    new_group(0);
                }
                out.resize(rows, 0);
            }
            Mode::Int { map, null, direct } => {
                let key = keys[0].as_ref();
                let values = int_values(key);
                let nulls = key.logical_nulls().filter(|n| n.null_count() > 0);
                if let Some((lo, hi)) = valid_bounds(&values, nulls.as_ref()) {
                    direct.cover(lo, hi);
                }
                map.reserve(rows.min(1 << 20));
                if nulls.is_none() && direct.on {
                    // The common case in one tight loop: a load per row, a
                    // branch only on a key's first row.
                    out.resize(rows, 0);
                    let (lo, ids) = (direct.lo, &mut direct.ids);
                    for (row, (&v, gid)) in values.iter().zip(out.iter_mut()).enumerate() {
                        let at = (v - lo) as usize;
                        *gid = ids[at];
                        if *gid == NO_GROUP {
                            *gid = new_group(row);
                            map.insert(v, *gid);
                            ids[at] = *gid;
                        }
                    }
                    return self.keep_new_keys(keys, before, first_rows);
                }
                out.reserve(rows);
                for (row, &v) in values.iter().enumerate() {
                    let gid = if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                        *null.get_or_insert_with(|| new_group(row))
                    } else if direct.on {
                        let at = (v - direct.lo) as usize;
                        match direct.ids[at] {
                            NO_GROUP => {
                                let gid = new_group(row);
                                map.insert(v, gid);
                                direct.ids[at] = gid;
                                gid
                            }
                            gid => gid,
                        }
                    } else {
                        *map.entry(v).or_insert_with(|| new_group(row))
                    };
                    out.push(gid);
                }
            }
            Mode::Rows { converter, map } => {
                let columns: Vec<ArrayRef> = keys.iter().map(|k| normalized_float_key(k.clone())).collect();
                let encoded = converter.convert_columns(&columns)?;
                map.reserve(rows.min(1 << 20));
                out.reserve(rows);
                for (row, bytes) in encoded.iter().enumerate() {
                    let bytes = bytes.as_ref();
                    let gid = match map.get(bytes) {
                        Some(&gid) => gid,
                        None => {
                            let gid = new_group(row);
                            map.insert(bytes.into(), gid);
                            gid
                        }
                    };
                    out.push(gid);
                }
            }
        }
        self.keep_new_keys(keys, before, first_rows)
    }

    /// Copies the keys of the groups `assign` added (first seen at
    /// `first_rows` of `keys`; ids from `before` on); on error forgets them.
    fn keep_new_keys(&mut self, keys: &[ArrayRef], before: usize, first_rows: Vec<u32>) -> Result<()> {
        if first_rows.is_empty() {
            return Ok(());
        }
        let taken =
            take_keys(keys, &first_rows).and_then(|columns| columns.into_iter().map(|c| unpinned(normalized_float_key(c))).collect());
        match taken {
            Ok(chunk) => {
                self.added.push(chunk);
                self.len += first_rows.len();
                Ok(())
            }
            Err(e) => {
                self.forget_from(before);
                Err(e)
            }
        }
    }

    /// Drops the ids from `n` on from the lookup (their keys are not kept yet).
    fn forget_from(&mut self, n: usize) {
        let n = n as u32;
        match &mut self.mode {
            Mode::Single => {}
            Mode::Int { map, null, direct } => {
                map.retain(|_, gid| *gid < n);
                if null.is_some_and(|gid| gid >= n) {
                    *null = None;
                }
                *direct = Direct::of(map);
            }
            Mode::Rows { map, .. } => map.retain(|_, gid| *gid < n),
        }
    }

    /// Forgets the groups from id `n` on (a push that failed made them).
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        if n >= self.len {
            return Ok(());
        }
        let keys = self.keys()?;
        self.owned = keys.iter().map(|k| k.slice(0, n)).collect();
        self.forget_from(n);
        self.len = n;
        self.rank.truncate(0);
        Ok(())
    }

    /// The keys of every group, one row per id, as kept (see `kept_type`).
    fn keys_now(&self) -> Result<Vec<ArrayRef>> {
        if self.added.is_empty() {
            return Ok(self.owned.clone());
        }
        let mut columns = Vec::with_capacity(self.owned.len());
        for (k, owned) in self.owned.iter().enumerate() {
            let mut parts: Vec<&dyn Array> = vec![owned.as_ref()];
            parts.extend(self.added.iter().map(|chunk| chunk[k].as_ref()));
            columns.push(concat(&parts)?);
        }
        Ok(columns)
    }

    /// `keys_now`, kept as one array per key from now on.
    pub fn keys(&mut self) -> Result<Vec<ArrayRef>> {
        if !self.added.is_empty() {
            self.owned = self.keys_now()?;
            self.added.clear();
        }
        Ok(self.owned.clone())
    }

    /// The key columns of output rows of groups `gids`, as the input's types.
    pub fn keys_of(&self, gids: &[u32]) -> Result<Vec<ArrayRef>> {
        let keys = self.keys_now()?;
        let indices = UInt32Array::from(gids.to_vec());
        keys.iter()
            .zip(&self.key_types)
            .map(|(column, key_type)| {
                let taken = arrow_select::take::take(column.as_ref(), &indices, None)?;
                Ok(if taken.data_type() == key_type { taken } else { cast(&taken, key_type)? })
            })
            .collect()
    }

    /// Each group's rank in ascending key order, nulls last (as `window_agg`
    /// orders its output rows); sorted again only when groups were added.
    pub fn rank(&mut self) -> Result<&[u32]> {
        if self.rank.len() != self.len {
            self.keys()?;
            self.rank = self.ranks()?;
        }
        Ok(&self.rank)
    }

    /// `rank`, computed again unless it is up to date.
    pub fn ranks(&self) -> Result<Vec<u32>> {
        if self.rank.len() == self.len {
            return Ok(self.rank.clone());
        }
        if let Mode::Int { map, null, direct } = &self.mode {
            // Integer keys sort as integers (a u64 as unsigned), nulls last:
            // no row encoding; with the lookup table, no sort at all.
            let mut order: Vec<u32> = Vec::with_capacity(self.len);
            if direct.on {
                order.extend(direct.ids.iter().copied().filter(|&g| g != NO_GROUP));
            } else {
                let mut by_value: Vec<(i64, u32)> = map.iter().map(|(&v, &g)| (v, g)).collect();
                if self.key_types[0] == DataType::UInt64 {
                    by_value.sort_unstable_by_key(|&(v, _)| v as u64);
                } else {
                    by_value.sort_unstable();
                }
                order.extend(by_value.iter().map(|&(_, g)| g));
            }
            order.extend(*null);
            return Ok(ranks_of(&order));
        }
        Ok(ranks_of(&key_order(&self.keys_now()?, self.len)?))
    }

    /// Keeps only the groups `live` (ascending ids), renumbered 0, 1, ... in
    /// that order: returns each old id's new one (u32::MAX when dropped).
    pub fn retain(&mut self, live: &[u32]) -> Result<Vec<u32>> {
        let keys = self.keys()?;
        let kept = take_keys(&keys, live)?;
        let mut fresh = StreamGroups::new(&self.key_types)?;
        // The kept keys as the input's types, grouped again: distinct keys get ids in order.
        let as_input: Vec<ArrayRef> = kept
            .iter()
            .zip(&self.key_types)
            .map(|(k, t)| if k.data_type() == t { Ok(k.clone()) } else { Ok(cast(k, t)?) })
            .collect::<Result<_>>()?;
        let mut ids = Vec::new();
        fresh.assign(&as_input, live.len(), &mut ids)?;
        debug_assert!(ids.iter().enumerate().all(|(i, &g)| g == i as u32));
        let mut remap = vec![u32::MAX; self.len];
        for (new, &old) in live.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        *self = fresh;
        Ok(remap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Float64Array, Int32Array, StringArray, StringViewArray};

    fn ids(groups: &mut StreamGroups, keys: &[ArrayRef]) -> Vec<u32> {
        let mut out = Vec::new();
        groups.assign(keys, keys.first().map_or(0, |k| k.len()), &mut out).unwrap();
        out
    }

    #[test]
    fn ids_last_across_pushes_and_keys_are_kept_and_ranked() {
        let mut groups = StreamGroups::new(&[DataType::Int32]).unwrap();
        assert_eq!(ids(&mut groups, &[Arc::new(Int32Array::from(vec![Some(5), None, Some(5)]))]), vec![0, 1, 0]);
        assert_eq!(ids(&mut groups, &[Arc::new(Int32Array::from(vec![Some(-3), Some(5), None]))]), vec![2, 0, 1]);
        assert_eq!(groups.keys().unwrap()[0].as_primitive::<Int32Type>(), &Int32Array::from(vec![Some(5), None, Some(-3)]));
        assert_eq!(groups.rank().unwrap(), &[1, 2, 0]);
        let remap = groups.retain(&[0, 2]).unwrap();
        assert_eq!(remap, vec![0, u32::MAX, 1]);
        assert_eq!(ids(&mut groups, &[Arc::new(Int32Array::from(vec![Some(-3), None]))]), vec![1, 2]);
    }

    #[test]
    fn integer_keys_rank_as_integers_with_or_without_the_lookup_table() {
        let mut wide = StreamGroups::new(&[DataType::Int64]).unwrap();
        let values: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![Some(1 << 40), None, Some(-5), Some(7)]));
        assert_eq!(ids(&mut wide, &[values]), vec![0, 1, 2, 3]);
        assert_eq!(wide.ranks().unwrap(), vec![2, 3, 0, 1]);
        let mut unsigned = StreamGroups::new(&[DataType::UInt64]).unwrap();
        let values: ArrayRef = Arc::new(arrow_array::UInt64Array::from(vec![u64::MAX, 1, 1 << 63]));
        assert_eq!(ids(&mut unsigned, &[values]), vec![0, 1, 2]);
        assert_eq!(unsigned.ranks().unwrap(), vec![2, 0, 1]);
        // A table that spans more than the lookup table holds drops it, and the ids stay.
        let mut drifting = StreamGroups::new(&[DataType::Int32]).unwrap();
        assert_eq!(ids(&mut drifting, &[Arc::new(Int32Array::from(vec![3, 1]))]), vec![0, 1]);
        assert_eq!(ids(&mut drifting, &[Arc::new(Int32Array::from(vec![1, 1 << 30, 3]))]), vec![1, 2, 0]);
        assert_eq!(drifting.ranks().unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn floats_group_minus_zero_with_zero_and_nans_together() {
        let mut groups = StreamGroups::new(&[DataType::Float64, DataType::Utf8]).unwrap();
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.0, -0.0, f64::NAN, -f64::NAN]));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "b", "b"]));
        assert_eq!(ids(&mut groups, &[f, s]), vec![0, 0, 1, 1]);
        assert_eq!(groups.rank().unwrap(), &[0, 1]);
    }

    #[test]
    fn kept_keys_share_no_buffer_with_the_push_and_come_back_as_the_input_type() {
        let dict_type = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        let mut groups = StreamGroups::new(&[dict_type.clone(), DataType::Utf8View]).unwrap();
        let dict: ArrayRef = Arc::new(DictionaryArray::<Int8Type>::from_iter(["x", "y", "x"]));
        let long = "a string longer than twelve bytes";
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![long, long, long]));
        assert_eq!(ids(&mut groups, &[dict, view.clone()]), vec![0, 1, 0]);
        let kept = groups.keys().unwrap();
        assert_eq!(kept[0].data_type(), &DataType::Utf8);
        let pushed = view.as_string_view().data_buffers()[0].as_ptr();
        assert!(kept[1].as_string_view().data_buffers().iter().all(|b| b.as_ptr() != pushed));
        let out = groups.keys_of(&[1, 0]).unwrap();
        assert_eq!(out[0].data_type(), &dict_type);
        assert_eq!(out[1].as_string_view().value(0), long);
    }

    #[test]
    fn a_truncate_forgets_the_groups_a_failed_push_added() {
        let mut groups = StreamGroups::new(&[DataType::Utf8]).unwrap();
        ids(&mut groups, &[Arc::new(StringArray::from(vec!["a"]))]);
        ids(&mut groups, &[Arc::new(StringArray::from(vec!["b", "a"]))]);
        groups.truncate(1).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(ids(&mut groups, &[Arc::new(StringArray::from(vec!["c", "a"]))]), vec![1, 0]);
        assert_eq!(groups.keys().unwrap()[0].as_string::<i32>(), &StringArray::from(vec!["a", "c"]));
    }
}
