//! Grouping rows by key columns: every distinct key gets a dense group id.

use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, SortOptions};
use arrow_select::interleave::interleave;
use arrow_select::take::take;
use hashbrown::HashMap;
use std::ops::Range;

const NO_GROUP: u32 = u32::MAX;
/// Largest integer key range served by a direct lookup table instead of a hash map.
const DENSE_RANGE_LIMIT: i64 = 1 << 20;

enum Mode {
    /// No key columns: every row is group 0.
    Single,
    /// One integer-like key: a direct table over [min, max] when the range is small.
    Dense { min: i64, table: Vec<u32>, null_gid: u32 },
    /// One integer-like key over a wide range.
    IntMap { map: HashMap<i64, u32>, null_gid: u32 },
    /// Anything else: keys encoded by arrow-row and hashed as bytes.
    Rows { converter: RowConverter, map: HashMap<Box<[u8]>, u32> },
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

fn int_values(array: &dyn Array) -> Option<Vec<i64>> {
    fn widen<T: ArrowPrimitiveType>(a: &dyn Array) -> Vec<i64>
    where
        T::Native: Into<i128>,
    {
        a.as_primitive::<T>().values().iter().map(|&v| Into::<i128>::into(v) as i64).collect()
    }
    Some(match array.data_type() {
        DataType::Int8 => widen::<Int8Type>(array),
        DataType::Int16 => widen::<Int16Type>(array),
        DataType::Int32 => widen::<Int32Type>(array),
        DataType::Int64 => widen::<Int64Type>(array),
        DataType::UInt8 => widen::<UInt8Type>(array),
        DataType::UInt16 => widen::<UInt16Type>(array),
        DataType::UInt32 => widen::<UInt32Type>(array),
        // u64 keys keep their bit pattern: distinct u64 values stay distinct.
        DataType::UInt64 => array.as_primitive::<UInt64Type>().values().iter().map(|&v| v as i64).collect(),
        DataType::Date32 => widen::<Date32Type>(array),
        DataType::Date64 => widen::<Date64Type>(array),
        DataType::Timestamp(_, _) => {
            let data = array.to_data();
            let all: &[i64] = data.buffers()[0].typed_data();
            all[data.offset()..data.offset() + data.len()].to_vec()
        }
        _ => return None,
    })
}

fn is_int_like(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
}

impl Grouper {
    /// Chooses a strategy by looking at the key columns of every batch.
    pub fn new(key_types: &[DataType], batches: &[Vec<ArrayRef>]) -> Result<Grouper> {
        let mode = match key_types {
            [] => Mode::Single,
            [t] if is_int_like(t) => {
                let mut bounds: Option<(i64, i64)> = None;
                for keys in batches {
                    let array = &keys[0];
                    if let Some(values) = int_values(array.as_ref()) {
                        for (i, &v) in values.iter().enumerate() {
                            if array.is_valid(i) {
                                bounds = Some(match bounds {
                                    None => (v, v),
                                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                                });
                            }
                        }
                    }
                }
                match bounds {
                    Some((lo, hi)) if (hi as i128 - lo as i128) < DENSE_RANGE_LIMIT as i128 => {
                        Mode::Dense { min: lo, table: vec![NO_GROUP; (hi - lo + 1) as usize], null_gid: NO_GROUP }
                    }
                    None => Mode::Dense { min: 0, table: Vec::new(), null_gid: NO_GROUP },
                    Some(_) => Mode::IntMap { map: HashMap::new(), null_gid: NO_GROUP },
                }
            }
            types => {
                let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
                Mode::Rows { converter: RowConverter::new(fields)?, map: HashMap::new() }
            }
        };
        Ok(Grouper { mode, batch_keys: batches.to_vec(), first_seen: Vec::new(), key_types: key_types.to_vec() })
    }

    pub fn num_groups(&self) -> usize {
        match self.mode {
            Mode::Single => 1,
            _ => self.first_seen.len(),
        }
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
            Mode::Dense { min, table, null_gid } => {
                let array = self.batch_keys[batch][0].slice(rows.start, rows.len());
                let values = int_values(array.as_ref()).expect("int-like key");
                let nulls = array.logical_nulls();
                for (i, &v) in values.iter().enumerate() {
                    let slot = if nulls.as_ref().is_some_and(|n| n.is_null(i)) { &mut *null_gid } else { &mut table[(v - *min) as usize] };
                    if *slot == NO_GROUP {
                        *slot = new_group(first_seen, batch, rows.start + i);
                    }
                    out.push(*slot);
                }
            }
            Mode::IntMap { map, null_gid } => {
                let array = self.batch_keys[batch][0].slice(rows.start, rows.len());
                let values = int_values(array.as_ref()).expect("int-like key");
                let nulls = array.logical_nulls();
                for (i, &v) in values.iter().enumerate() {
                    let gid = if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        if *null_gid == NO_GROUP {
                            *null_gid = new_group(first_seen, batch, rows.start + i);
                        }
                        *null_gid
                    } else {
                        *map.entry(v).or_insert_with(|| new_group(first_seen, batch, rows.start + i))
                    };
                    out.push(gid);
                }
            }
            Mode::Rows { converter, map } => {
                let columns: Vec<ArrayRef> = self.batch_keys[batch].iter().map(|a| a.slice(rows.start, rows.len())).collect();
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
        let mut columns = Vec::with_capacity(self.key_types.len());
        for (k, key_type) in self.key_types.iter().enumerate() {
            if self.first_seen.is_empty() {
                columns.push(arrow_array::new_empty_array(key_type));
                continue;
            }
            let sources: Vec<&dyn Array> = self.batch_keys.iter().map(|b| b[k].as_ref()).collect();
            columns.push(interleave(&sources, &self.first_seen)?);
        }
        let n = self.num_groups();
        let mut order: Vec<u32> = (0..n as u32).collect();
        if !columns.is_empty() && n > 1 {
            let fields = columns
                .iter()
                .map(|c| SortField::new_with_options(c.data_type().clone(), SortOptions { descending: false, nulls_first: false }))
                .collect();
            let rows = RowConverter::new(fields)?.convert_columns(&columns)?;
            order.sort_unstable_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
        }
        let mut rank = vec![0u32; n];
        for (r, &gid) in order.iter().enumerate() {
            rank[gid as usize] = r as u32;
        }
        Ok((columns, rank))
    }
}

/// Picks the key values for each output row.
pub(crate) fn take_keys(group_keys: &[ArrayRef], gids: &[u32]) -> Result<Vec<ArrayRef>> {
    let indices = UInt32Array::from(gids.to_vec());
    group_keys.iter().map(|c| Ok(take(c.as_ref(), &indices, None)?)).collect()
}
