//! `median`, `quantile` (every value kept) and `approx_quantile` (a t-digest).

use super::per_slot::{PerSlot, SlotRule, SlotState, StateOf};
use super::*;

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
    crate::agg::sketch::tdigest::lerp(sorted[lo], sorted[hi], h - lo as f64)
}

/// What a quantile keeps per slot: every value (exact) or a t-digest (approximate).
pub(super) trait QuantileState: SlotState {
    fn add(&mut self, x: f64);
    fn quantile(&mut self, q: f64) -> Option<f64>;
}

/// Exact quantiles keep the values.
impl QuantileState for Vec<f64> {
    fn add(&mut self, x: f64) {
        self.push(x);
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
}

impl SlotState for Vec<f64> {
    fn check(_: &ArrayRef) -> Result<()> {
        // Any list of the state type is a valid state.
        Ok(())
    }
    fn merge(&mut self, other: &Self) {
        self.extend_from_slice(other);
    }
    fn byte_size(&self) -> usize {
        std::mem::size_of_val(self.as_slice())
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
    fn quantile(&mut self, q: f64) -> Option<f64> {
        TDigest::quantile(self, q)
    }
}

impl SlotState for TDigest {
    fn merge(&mut self, other: &Self) {
        TDigest::merge(self, other);
    }
    fn byte_size(&self) -> usize {
        TDigest::byte_size(self)
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
pub(super) struct Quantile<S: QuantileState> {
    column: usize,
    q: f64,
    _state: StateOf<S>,
}

impl<S: QuantileState> Quantile<S> {
    pub(super) fn accumulator(column: usize, q: f64) -> Box<dyn Accumulator> {
        Box::new(PerSlot::new(Quantile::<S> { column, q, _state: StateOf::default() }))
    }
}

impl<S: QuantileState> SlotRule for Quantile<S> {
    type State = S;
    const STATE_NAME: &'static str = "values";
    fn update(&mut self, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32], states: &mut [S]) -> Result<()> {
        let values = as_f64_array(&rows.select(batch.column(self.column))?)?;
        for (i, &slot) in slots.iter().enumerate() {
            if values.is_valid(i) {
                states[slot as usize].add(values.value(i));
            }
        }
        Ok(())
    }
    fn finish(&self, states: &mut [S], slots: &[u32]) -> ArrayRef {
        Arc::new(slots.iter().map(|&s| states[s as usize].quantile(self.q)).collect::<Float64Array>())
    }
}
