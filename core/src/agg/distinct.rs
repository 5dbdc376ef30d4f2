//! `count_distinct` (the set of values) and `approx_count_distinct` (a HyperLogLog).

use super::per_slot::{PerSlot, SlotRule, SlotState, StateOf};
use super::*;

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

/// Each row's value as `count_distinct` compares values: its encoding, and
/// which rows are null (not counted). For kernels that keep their own sets
/// (the rolling sweep, whose windows values enter and leave).
pub(crate) fn distinct_keys(array: &ArrayRef) -> Result<(arrow_row::Rows, Option<arrow_buffer::NullBuffer>)> {
    let converter = RowConverter::new(vec![SortField::new(distinct_type(array.data_type().clone()))])?;
    let normalized = normalized_floats(array.clone())?;
    let nulls = normalized.logical_nulls();
    Ok((encode_rows(&converter, &normalized)?, nulls))
}

/// What a distinct count keeps per slot: the encoded values (exact) or a
/// HyperLogLog of their hashes (approximate).
pub(super) trait DistinctState: SlotState {
    fn insert(&mut self, encoded: &[u8]);
    fn count(&self) -> i64;
}

impl DistinctState for HashSet<Box<[u8]>> {
    fn insert(&mut self, encoded: &[u8]) {
        if !self.contains(encoded) {
            HashSet::insert(self, encoded.into());
        }
    }
    fn count(&self) -> i64 {
        self.len() as i64
    }
}

impl SlotState for HashSet<Box<[u8]>> {
    fn check(_: &ArrayRef) -> Result<()> {
        // Any list of the state type is a valid state.
        Ok(())
    }
    fn merge(&mut self, other: &Self) {
        self.extend(other.iter().cloned());
    }
    fn byte_size(&self) -> usize {
        self.iter().map(|v| v.len() + std::mem::size_of::<Box<[u8]>>()).sum()
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
    fn count(&self) -> i64 {
        self.estimate() as i64
    }
}

impl SlotState for HyperLogLog {
    fn merge(&mut self, other: &Self) {
        HyperLogLog::merge(self, other);
    }
    fn byte_size(&self) -> usize {
        HyperLogLog::byte_size(self)
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
pub(super) struct Distinct<S: DistinctState> {
    column: usize,
    converter: RowConverter,
    _state: StateOf<S>,
}

impl<S: DistinctState> Distinct<S> {
    pub(super) fn accumulator(column: usize, data_type: DataType) -> Result<Box<dyn Accumulator>> {
        let converter = RowConverter::new(vec![SortField::new(distinct_type(data_type))])?;
        Ok(Box::new(PerSlot::new(Distinct::<S> { column, converter, _state: StateOf::default() })))
    }
}

impl<S: DistinctState> SlotRule for Distinct<S> {
    type State = S;
    const STATE_NAME: &'static str = "set";
    fn update(&mut self, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32], states: &mut [S]) -> Result<()> {
        let selected = normalized_floats(rows.select(batch.column(self.column))?)?;
        let nulls = selected.logical_nulls();
        let encoded = encode_rows(&self.converter, &selected)?;
        for (i, &slot) in slots.iter().enumerate() {
            if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                states[slot as usize].insert(encoded.row(i).as_ref());
            }
        }
        Ok(())
    }
    fn finish(&self, states: &mut [S], slots: &[u32]) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| states[s as usize].count())))
    }
}
