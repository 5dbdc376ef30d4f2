//! The accumulator shape of aggregations whose per-slot state is one
//! mergeable value (the values of an exact quantile, the set of a distinct
//! count, a sketch), exported as one column: the state handling is written
//! once here, each family supplies only how rows go in and results come out.

use super::*;
use std::marker::PhantomData;

/// A slot's state: merges with another, travels as one Arrow value per slot.
pub(super) trait SlotState: Default + Send + Sized + 'static {
    fn merge(&mut self, other: &Self);
    /// The bytes the state holds beyond its fixed part (see `Accumulator::state_bytes`).
    fn byte_size(&self) -> usize;
    /// The exported state's type, one row per slot.
    fn state_type() -> DataType;
    fn export<'a>(states: impl Iterator<Item = &'a Self>) -> Result<ArrayRef>
    where
        Self: 'a;
    /// Row `row` of `state` (of `state_type`, checked by the caller).
    fn import(state: &ArrayRef, row: usize) -> Result<Self>;
    /// Whether `import` of each row would succeed (states that cannot be
    /// corrupt beyond their type need not decode anything).
    fn check(state: &ArrayRef) -> Result<()> {
        (0..state.len()).try_for_each(|row| Self::import(state, row).map(drop))
    }
}

/// What one aggregation family does with its slots' states.
pub(super) trait SlotRule: Send {
    type State: SlotState;
    /// The name of the state column (after the plan's prefix).
    const STATE_NAME: &'static str;
    /// Adds the selected rows of `batch`; the i-th selected row goes to `slots[i]`.
    fn update(&mut self, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32], states: &mut [Self::State]) -> Result<()>;
    /// The result of each slot of `slots`.
    fn finish(&self, states: &mut [Self::State], slots: &[u32]) -> ArrayRef;
}

pub(super) struct PerSlot<R: SlotRule> {
    rule: R,
    states: Vec<R::State>,
}

impl<R: SlotRule> PerSlot<R> {
    pub(super) fn new(rule: R) -> Self {
        PerSlot { rule, states: Vec::new() }
    }
}

impl<R: SlotRule> Accumulator for PerSlot<R> {
    fn grow(&mut self, n: usize) {
        self.states.resize_with(n, R::State::default);
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        self.rule.update(batch, rows, slots, &mut self.states)
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let source = std::mem::take(&mut self.states[src]);
        self.states[dst].merge(&source);
        self.states[src] = source;
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        vec![Field::new(format!("{prefix}{}", R::STATE_NAME), R::State::state_type(), false)]
    }
    fn has_fixed_size_states(&self) -> bool {
        false
    }
    fn state_bytes(&self, slots: &[u32]) -> usize {
        slots.iter().map(|&s| self.states[s as usize].byte_size()).sum()
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![R::State::export(slots.iter().map(|&s| &self.states[s as usize]))?])
    }
    fn check_state(&self, state: &[ArrayRef], _: &[u32]) -> Result<()> {
        R::State::check(&state[0])
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) {
        for (row, &slot) in slots.iter().enumerate() {
            let other = R::State::import(&state[0], row).expect("checked by check_state");
            self.states[slot as usize].merge(&other);
        }
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = R::State::default();
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.rule.finish(&mut self.states, slots)])
    }
}

/// A rule that only knows its state type through `S` (kept `Send` whatever `S` is).
pub(super) type StateOf<S> = PhantomData<fn() -> S>;
