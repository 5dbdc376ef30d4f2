//! Tumbling, hopping and session windows over time-ordered input.
//!
//! Tumbling and hopping windows share one engine built on *panes*: slices of
//! the grid `gcd(every, period)` wide. Each row updates exactly one pane
//! state; a hopping window merges the states of its `period / pane` panes, so
//! no row is ever copied into several windows. Tumbling is the case where a
//! pane is a window.
//!
//! Pane states live in one of two stores (`PaneStore`): a slot table that
//! hands out a slot per group as it appears in a pane, for any keys; or, for
//! few integer-like keys whose group ids are fixed and ordered, blocks of one
//! slot per group, where a row's slot is its block's base plus its group id.

pub mod stream;
pub mod two_phase;

use crate::agg::{AggPlan, Rows};
use crate::error::{Result, SashError};
use crate::exec::column_builder::ColumnBuilder;
use crate::exec::grouper::Grouper;
use crate::exec::prepare::{key_columns, Columns, Prepared};
use crate::spec::DROPPED_NULL_TIMES_KEY;
use crate::spec::{Closed, WindowKind, WindowSpec};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};
use arrow_select::take::take;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

const NO_SLOT: u32 = u32::MAX;
/// A group whose slot is about to be taken (see `panes`); never a real slot,
/// as slots are only ever as many as the states held at once.
const PENDING: u32 = NO_SLOT - 1;
/// Rows handled per inner step: bounds the scratch buffers, keeps them in cache.
const MORSEL: usize = 16 * 1024;

/// Hands out accumulator slots, reusing freed ones.
struct Slots {
    next: u32,
    capacity: usize,
    free: Vec<u32>,
}

impl Slots {
    fn new() -> Self {
        Slots { next: 0, capacity: 0, free: Vec::new() }
    }

    fn take(&mut self, plan: &mut AggPlan) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let slot = self.next;
        debug_assert!(slot < PENDING);
        self.next += 1;
        if self.next as usize > self.capacity {
            // Start small: a call on a few rows should not zero kilobytes of
            // state per accumulator (nor free blocks large enough to make
            // glibc consolidate its free lists).
            self.capacity = (self.capacity * 2).max(16);
            plan.grow(self.capacity);
        }
        slot
    }

    /// Makes room for `n` more slots at once (one allocation for a known count).
    fn reserve(&mut self, plan: &mut AggPlan, n: usize) {
        let needed = self.next as usize + n.saturating_sub(self.free.len());
        if needed > self.capacity {
            self.capacity = needed;
            plan.grow(self.capacity);
        }
    }

    fn give_back_all(&mut self, plan: &mut AggPlan, slots: &[u32]) {
        plan.reset_all(slots);
        self.free.extend_from_slice(slots);
    }
}

/// Computes a windowed aggregation. See `docs/semantics.md` for the rules.
///
/// `batches` must all have `schema`; there may be none (empty input).
pub fn window_agg(schema: &SchemaRef, batches: &[RecordBatch], spec: &WindowSpec) -> Result<RecordBatch> {
    window_agg_storing(schema, batches, spec, Store::Suited, None)
}

/// `window_agg` with each window's aggregation state in place of its
/// aggregates (`AggPlan::state_fields`), for input whose first row is at
/// `first_position` of the whole input: see `partial::window_agg_partial`.
pub(crate) fn window_agg_states(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    spec: &WindowSpec,
    first_position: u64,
) -> Result<RecordBatch> {
    window_agg_storing(schema, batches, spec, Store::Suited, Some(first_position))
}

/// Which `PaneStore` keeps pane states; tests force each in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    /// Blocks where `PaneBlocks::suited` says so, else the slot table.
    Suited,
    #[cfg(test)]
    Table,
    /// Blocks whenever group ids are ordered.
    #[cfg(test)]
    Blocks,
}

/// `states`: emit states, not aggregates, for input starting at that position.
fn window_agg_storing(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    spec: &WindowSpec,
    store: Store,
    states: Option<u64>,
) -> Result<RecordBatch> {
    spec.validate()?;
    // Everything about the spec is checked before the data is looked at.
    let columns = Columns::resolve(schema, batches, &spec.time, &spec.by)?;
    let time = &columns.time;
    let plan = AggPlan::new(schema, &spec.aggs, time)?;
    let offset = spec.offset.map(|o| time.ticks("offset", o)).transpose()?.unwrap_or(0);
    let kind = match spec.kind {
        WindowKind::Session { gap } => Kind::Session(time.ticks("session_gap", gap)?),
        WindowKind::Tumbling { every } => {
            let every = time.ticks("every", every)?;
            Kind::Panes(Grid::new(every, every, offset, spec.closed)?)
        }
        WindowKind::Hopping { every, period } => {
            let every = time.ticks("every", every)?;
            let period = time.ticks("period", period)?;
            Kind::Panes(Grid::new(every, period, offset, spec.closed)?)
        }
    };
    // Windows come out in time order: which input row a sorted row was is never asked.
    let input = Prepared::new(schema, batches, columns, spec.null_time, &spec.aggs, false)?;
    if let Kind::Panes(grid) = &kind {
        grid.check_output_size(&input)?;
        if let Some(cuts) = split::window_parts(&input, grid) {
            return split::panes_in_parts(schema, spec, &input, *grid, store, states, cuts);
        }
    }
    compute(schema, spec, &input, &kind, plan, store, states)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Panes(Grid),
    Session(i64),
}

/// The aggregation of prepared (time-ordered) input with a plan made for it.
fn compute(
    schema: &SchemaRef,
    spec: &WindowSpec,
    input: &Prepared,
    kind: &Kind,
    mut plan: AggPlan,
    store: Store,
    states: Option<u64>,
) -> Result<RecordBatch> {
    if states.is_some() {
        plan.emit_states();
    }
    plan.begin_input(&input.batches, states.unwrap_or(0));
    let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
    if matches!(kind, Kind::Panes(_)) {
        grouper.rank_ahead()?;
    }
    // Pane windows with ordered group ids are emitted in final order already
    // (`close_pane` and `emit_windows` put each window's groups in id order);
    // checking it would cost a twentieth of a tumbling window's time.
    let emitted_in_order = matches!(kind, Kind::Panes(_)) && grouper.ids_are_ordered();
    let mut out = match *kind {
        Kind::Session(gap) => sessions(input, &mut grouper, &mut plan, gap)?,
        Kind::Panes(grid) => {
            let blocks = match store {
                Store::Suited => PaneBlocks::suited(input, &grouper, &grid),
                #[cfg(test)]
                Store::Table => None,
                #[cfg(test)]
                Store::Blocks => grouper.ids_are_ordered().then(|| PaneBlocks::new(grouper.num_groups() as u32)),
            };
            match blocks {
                Some(mut blocks) => panes(input, &mut grouper, &mut plan, grid, &mut blocks)?,
                None => panes(input, &mut grouper, &mut plan, grid, &mut SlotTable::new(emitted_in_order))?,
            }
        }
    };

    let (group_keys, rank) = grouper.finish()?;
    let order_of = |out: &Output, i: usize| (out.starts[i], rank[out.gids[i] as usize], out.ends[i]);
    let rows = out.gids.len();
    let in_order = |out: &Output| (1..rows).all(|i| order_of(out, i - 1) <= order_of(out, i));
    debug_assert!(!emitted_in_order || in_order(&out), "pane windows were not emitted in order");
    if !emitted_in_order && !in_order(&out) {
        let mut order: Vec<u32> = (0..rows as u32).collect();
        if out.starts.is_sorted() {
            // Pane windows come out by start already: only each start's run
            // needs sorting, a far smaller sort than of the whole output.
            let mut keyed: Vec<u64> = Vec::new();
            for run in order.chunk_by_mut(|&a, &b| out.starts[a as usize] == out.starts[b as usize]) {
                let end = out.ends[run[0] as usize];
                if run.iter().all(|&i| out.ends[i as usize] == end) {
                    // One end (tumbling, hopping): the rank alone orders the
                    // run; sorting (rank, row) as one integer spares the
                    // comparisons two lookups each.
                    keyed.clear();
                    keyed.extend(run.iter().map(|&i| (u64::from(rank[out.gids[i as usize] as usize]) << 32) | u64::from(i)));
                    keyed.sort_unstable();
                    for (row, key) in run.iter_mut().zip(&keyed) {
                        *row = *key as u32;
                    }
                } else {
                    run.sort_unstable_by_key(|&i| (rank[out.gids[i as usize] as usize], out.ends[i as usize]));
                }
            }
        } else {
            order.sort_unstable_by_key(|&i| order_of(&out, i as usize));
        }
        out.starts = order.iter().map(|&i| out.starts[i as usize]).collect();
        out.ends = order.iter().map(|&i| out.ends[i as usize]).collect();
        out.gids = order.iter().map(|&i| out.gids[i as usize]).collect();
        let indices = UInt32Array::from(order);
        for column in &mut out.aggregates {
            *column = take(column.as_ref(), &indices, None)?;
        }
    }

    let mut fields: Vec<Field> = input.key_indices.iter().map(|&k| schema.field(k).clone().with_nullable(true)).collect();
    fields.push(Field::new("window_start", input.time.data_type.clone(), false));
    fields.push(Field::new("window_end", input.time.data_type.clone(), false));
    fields.extend(plan.fields.iter().cloned());
    let mut metadata = std::collections::HashMap::new();
    if spec.null_time == crate::spec::NullTime::Drop {
        metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), input.dropped_null_times.to_string());
    }
    let out_schema = Arc::new(Schema::new_with_metadata(fields, metadata));

    let mut columns: Vec<ArrayRef> = grouper.keys_of(&group_keys, &out.gids)?;
    drop(out.gids);
    // The bound vectors become the output columns without a copy.
    columns.push(input.time.build(out.starts)?);
    columns.push(input.time.build(out.ends)?);
    columns.extend(out.aggregates);
    Ok(RecordBatch::try_new_with_options(out_schema, columns, &RecordBatchOptions::new().with_row_count(Some(rows)))?)
}

mod emit;
mod grid;
mod pane_blocks;
mod pane_engine;
mod session;
mod slot_table;
mod split;

#[cfg(test)]
mod tests;

use emit::*;
use grid::*;
use pane_blocks::*;
use pane_engine::*;
use session::*;
use slot_table::*;
