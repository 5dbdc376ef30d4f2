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
    let mut plan = AggPlan::new(schema, &spec.aggs, time)?;
    if states.is_some() {
        if matches!(spec.kind, WindowKind::Session { .. }) {
            return Err(SashError::spec(
                "session windows cannot be aggregated in parts: a session's extent depends on rows another part may hold",
            ));
        }
        plan.emit_states();
    }
    let offset = spec.offset.map(|o| time.ticks("offset", o)).transpose()?.unwrap_or(0);
    enum Kind {
        Panes(Grid),
        Session(i64),
    }
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
    plan.begin_input(&input.batches, states.unwrap_or(0));
    if let Kind::Panes(grid) = &kind {
        grid.check_output_size(&input)?;
    }
    let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
    if matches!(kind, Kind::Panes(_)) {
        grouper.rank_ahead()?;
    }
    // Pane windows with ordered group ids are emitted in final order already
    // (`close_pane` and `emit_windows` put each window's groups in id order);
    // checking it would cost a twentieth of a tumbling window's time.
    let emitted_in_order = matches!(kind, Kind::Panes(_)) && grouper.ids_are_ordered();
    let mut out = match kind {
        Kind::Session(gap) => sessions(&input, &mut grouper, &mut plan, gap)?,
        Kind::Panes(grid) => {
            let blocks = match store {
                Store::Suited => PaneBlocks::suited(&input, &grouper, &grid),
                #[cfg(test)]
                Store::Table => None,
                #[cfg(test)]
                Store::Blocks => grouper.ids_are_ordered().then(|| PaneBlocks::new(grouper.num_groups() as u32)),
            };
            match blocks {
                Some(mut blocks) => panes(&input, &mut grouper, &mut plan, grid, &mut blocks)?,
                None => panes(&input, &mut grouper, &mut plan, grid, &mut SlotTable::new(emitted_in_order))?,
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

/// The window grid in ticks.
#[derive(Debug, Clone, Copy)]
struct Grid {
    every: i64,
    period: i64,
    offset: i64,
    pane: i64,
    /// Panes between window starts.
    m: i64,
    /// Panes per window.
    n: i64,
    closed: Closed,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn overflow(what: &str) -> SashError {
    SashError::Overflow(format!("{what} is outside the range of the time column"))
}

impl Grid {
    fn new(every: i64, period: i64, offset: i64, closed: Closed) -> Result<Grid> {
        let pane = gcd(every, period);
        Ok(Grid { every, period, offset, pane, m: every / pane, n: period / pane, closed })
    }

    // Pane and window indices are i128: `t - offset` may leave the i64 range
    // even when every window bound is representable.
    fn pane_of(&self, t: i64) -> Index {
        let shifted = t as i128 - self.offset as i128;
        let shifted = if self.closed == Closed::Right { shifted - 1 } else { shifted };
        shifted.div_euclid(self.pane as i128)
    }

    /// The exclusive (left-closed) or inclusive (right-closed) upper time bound of pane p.
    fn pane_bound(&self, p: Index) -> i128 {
        self.offset as i128 + (p + 1) * self.pane as i128
    }

    fn in_some_window(&self, p: Index) -> bool {
        p.rem_euclid(self.m as i128) < self.n as i128
    }

    /// Windows containing pane p: k in [first, last].
    fn windows_of(&self, p: Index) -> (Index, Index) {
        let (m, n) = (self.m as i128, self.n as i128);
        ((p - n + m).div_euclid(m), p.div_euclid(m))
    }

    fn is_tumbling(&self) -> bool {
        self.m == 1 && self.n == 1
    }

    /// The panes of window k: [first, end).
    fn panes_of_window(&self, k: Index) -> (Index, Index) {
        let first = k * self.m as i128;
        (first, first + self.n as i128)
    }

    /// Whether every pane of window k is before `next_pane` (at the end of the input, all are).
    fn window_complete(&self, k: Index, next_pane: Option<Index>) -> bool {
        next_pane.is_none_or(|next| self.panes_of_window(k).1 - 1 < next)
    }

    /// The windows to emit now: complete, holding some of the `pending`
    /// panes, and from `next_window` on. One range, as windows are
    /// consecutive and completeness only ever holds for a prefix of them.
    fn ready_windows(&self, pending: impl Iterator<Item = Index>, next_pane: Option<Index>, next_window: Index) -> Range<Index> {
        let mut span: Option<(Index, Index)> = None;
        for p in pending {
            let (first, last) = self.windows_of(p);
            let first = first.max(next_window);
            span = Some(span.map_or((first, last), |(lo, hi)| (lo.min(first), hi.max(last))));
        }
        let Some((first, last)) = span else {
            return 0..0;
        };
        let mut end = first;
        while end <= last && self.window_complete(end, next_pane) {
            end += 1;
        }
        first..end
    }

    /// Pops from the front of `pending` (panes in time order) each pane
    /// whose windows have all been emitted, handing it to `done`.
    fn pop_done_panes<T>(
        &self,
        pending: &mut VecDeque<T>,
        pane_of: impl Fn(&T) -> Index,
        next_pane: Option<Index>,
        mut done: impl FnMut(T),
    ) {
        while let Some(pane) = pending.front() {
            if !self.window_complete(self.windows_of(pane_of(pane)).1, next_pane) {
                break;
            }
            done(pending.pop_front().expect("front exists"));
        }
    }

    /// Fails with a resource error when the windows holding rows are
    /// sure to be more than one output can hold ([`MAX_OUTPUT_ROWS`]), before
    /// any is made: a one-nanosecond hop over a day puts every row in 86.4
    /// trillion windows. Rows times windows per row bounds the count; only
    /// when that bound is over the limit are the windows counted, once, on
    /// the sorted times (every group together: a lower bound of the output).
    fn check_output_size(&self, input: &Prepared) -> Result<()> {
        let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
        let per_row = (self.n as u128).div_ceil(self.m as u128);
        if (rows as u128).saturating_mul(per_row) <= MAX_OUTPUT_ROWS as u128 {
            return Ok(());
        }
        let mut windows: u128 = 0;
        let mut covered: Option<Index> = None;
        let mut last_pane: Option<Index> = None;
        for batch in &input.batches {
            for &t in input.time.values(batch.column(input.time.index)).iter() {
                let p = self.pane_of(t);
                if last_pane == Some(p) || !self.in_some_window(p) {
                    continue;
                }
                last_pane = Some(p);
                let (first, last) = self.windows_of(p);
                let first = covered.map_or(first, |c| first.max(c + 1));
                if last >= first {
                    windows += (last - first + 1) as u128;
                    covered = Some(last);
                }
                if windows > MAX_OUTPUT_ROWS as u128 {
                    return Err(SashError::ResourceLimit(format!(
                        "the spec makes more than {MAX_OUTPUT_ROWS} windows (each row falls in {per_row} windows: \
                         'period' is {per_row} times 'every'), more than one output can hold; use a larger 'every' or a shorter 'period'"
                    )));
                }
            }
        }
        Ok(())
    }

    fn window_bounds(&self, k: Index) -> Result<(i64, i64)> {
        let start = self.offset as i128 + k * self.every as i128;
        let end = start + self.period as i128;
        let start = i64::try_from(start).map_err(|_| overflow("a window start"))?;
        let end = i64::try_from(end).map_err(|_| overflow("a window end"))?;
        Ok((start, end))
    }
}

type Index = i128;

/// The windows of an aggregation, one entry per output row.
struct Output {
    starts: Vec<i64>,
    ends: Vec<i64>,
    gids: Vec<u32>,
    aggregates: Vec<ArrayRef>,
}

/// Takes back the slots of finished windows.
trait SlotPool {
    /// Whether the windows waiting in the emitter should be finished now.
    fn wants_flush(&self, waiting: usize) -> bool {
        waiting >= FLUSH_AT
    }
    /// `slots` have been finished: empty them for reuse.
    fn release(&mut self, plan: &mut AggPlan, slots: &[u32]);
}

impl SlotPool for Slots {
    fn release(&mut self, plan: &mut AggPlan, slots: &[u32]) {
        self.give_back_all(plan, slots);
    }
}

/// Finishes closed windows in chunks so that their slots are reused: state
/// stays as small as the open windows, not as large as the output.
struct Emitter {
    starts: Vec<i64>,
    ends: Vec<i64>,
    gids: Vec<u32>,
    waiting: Vec<u32>,
    columns: Vec<ColumnBuilder>,
}

/// Closed windows finished together; large enough to amortize the per-call cost.
const FLUSH_AT: usize = 4096;

/// The most rows one window output may have (docs/limits.md): 2^28, some
/// 268 million windows, already ten gigabytes and more of output. A spec
/// that asks for more (a nanosecond hop over a second puts each row in a
/// billion windows) is far more likely a mistake than a wish, and would
/// otherwise run for minutes before the allocator aborts the process.
pub(crate) const MAX_OUTPUT_ROWS: usize = 1 << 28;

fn too_many_windows() -> SashError {
    SashError::ResourceLimit(format!("the aggregation makes more than {MAX_OUTPUT_ROWS} windows, more than one output can hold"))
}

impl Emitter {
    /// `bound` is an upper bound of the output rows, already capped by the
    /// caller at the input's row count. Reserving it up front avoids the
    /// regrowth (and page faults of each larger copy) of every output
    /// column; pages never written are never resident, so a loose bound
    /// costs no memory, and the cap keeps the address space reserved no
    /// larger than the input (a hopping bound multiplies rows by windows
    /// per row, which could exceed what the system lets a process map).
    fn with_capacity(bound: usize, plan: &AggPlan) -> Self {
        Emitter {
            starts: Vec::with_capacity(bound),
            ends: Vec::with_capacity(bound),
            gids: Vec::with_capacity(bound),
            waiting: Vec::new(),
            columns: plan.fields.iter().map(|_| ColumnBuilder::new(bound)).collect(),
        }
    }

    fn push(&mut self, start: i64, end: i64, gid: u32, slot: u32) {
        self.starts.push(start);
        self.ends.push(end);
        self.gids.push(gid);
        self.waiting.push(slot);
    }

    /// `push` for each of `groups`, whose slots are in the block at `base`.
    fn push_groups(&mut self, start: i64, end: i64, groups: &[u32], base: u32) {
        let n = groups.len();
        self.starts.extend(std::iter::repeat_n(start, n));
        self.ends.extend(std::iter::repeat_n(end, n));
        self.gids.extend_from_slice(groups);
        self.waiting.extend(groups.iter().map(|&g| base + g));
    }

    fn flush_if_full(&mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<()> {
        if pool.wants_flush(self.waiting.len()) {
            self.flush(plan, pool)?;
        }
        Ok(())
    }

    fn flush(&mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        if self.starts.len() > MAX_OUTPUT_ROWS {
            return Err(too_many_windows());
        }
        plan.finish_into(&self.waiting, &mut self.columns)?;
        pool.release(plan, &self.waiting);
        self.waiting.clear();
        Ok(())
    }

    fn finish(mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<Output> {
        self.flush(plan, pool)?;
        let aggregates = if self.columns.iter().any(ColumnBuilder::is_empty) {
            plan.finish(&[])?
        } else {
            self.columns.into_iter().map(|c| Ok(c.finish()?.expect("not empty"))).collect::<Result<Vec<_>>>()?
        };
        // Give back the unused reservation (glibc remaps large blocks in place).
        self.starts.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.gids.shrink_to_fit();
        Ok(Output { starts: self.starts, ends: self.ends, gids: self.gids, aggregates })
    }
}

/// The first and last tick of time-ordered input, if it has rows.
fn time_span(input: &Prepared) -> Option<(i64, i64)> {
    // One-row slices: 32-bit time columns are widened, and only this row needs it.
    let tick_at = |b: &RecordBatch, row: usize| input.time.values(&b.column(input.time.index).slice(row, 1))[0];
    let first = input.batches.first().map(|b| tick_at(b, 0))?;
    let last = input.batches.last().map(|b| tick_at(b, b.num_rows() - 1))?;
    Some((first, last))
}

/// At most: every row in each of its windows, and every group in every window
/// of the time span.
fn output_bound(input: &Prepared, grouper: &Grouper, grid: &Grid) -> usize {
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let per_row = (grid.n as usize).div_ceil(grid.m as usize).max(1);
    let by_rows = rows.saturating_mul(per_row);
    let by_span = match (time_span(input), grouper.ids_are_ordered()) {
        (Some((first, last)), true) => {
            let windows = (grid.pane_of(last) - grid.pane_of(first)) / grid.m as i128 + 2 + grid.n as i128 / grid.m as i128;
            usize::try_from(windows.saturating_mul(grouper.num_groups() as i128)).unwrap_or(usize::MAX)
        }
        _ => usize::MAX,
    };
    by_rows.min(by_span)
}

/// Sorts `gids`, the groups whose entry in `slot_of_gid` is taken. When most
/// groups are there, reading them off the table is cheaper than sorting.
fn into_id_order(gids: &mut Vec<u32>, slot_of_gid: &[u32]) {
    if gids.len() * 16 > slot_of_gid.len() {
        gids.clear();
        gids.extend((0..slot_of_gid.len() as u32).filter(|&g| slot_of_gid[g as usize] != NO_SLOT));
    } else {
        gids.sort_unstable();
    }
}

/// Appends to `fresh` the ids of `ids` whose entry in `table` is NO_SLOT,
/// each once, marking their entries PENDING for the caller to fill. There
/// is no branch per id: a branch on "new?" mispredicts on every group's first
/// row in each pane, and cost more than all the rest of the loop. Every id is
/// written at the list's end, whose length only grows on a first sighting.
/// `room` is at least the number of ids.
fn collect_new(ids: impl IntoIterator<Item = u32>, room: usize, table: &mut [u32], fresh: &mut Vec<u32>) {
    let mut len = fresh.len();
    fresh.resize(len + room, 0);
    for g in ids {
        let entry = &mut table[g as usize];
        let is_new = *entry == NO_SLOT;
        fresh[len] = g;
        len += is_new as usize;
        // NO_SLOT becomes PENDING; a taken slot stays as it is.
        *entry -= is_new as u32;
    }
    fresh.truncate(len);
}

/// Writes to `out` the indices of the set flags, ascending, and clears them;
/// without a branch per flag, which would mispredict on sparse tables.
fn take_flagged(flags: &mut [bool], out: &mut Vec<u32>) {
    out.clear();
    out.resize(flags.len(), 0);
    let mut len = 0;
    for (g, flag) in flags.iter_mut().enumerate() {
        out[len] = g as u32;
        len += *flag as usize;
        *flag = false;
    }
    out.truncate(len);
}

/// How `panes` keeps the states of open panes, and assembles windows from them.
trait PaneStore: SlotPool {
    /// Gives each row of the current pane, of group `gids[i]`, its slot
    /// `row_slots[i]`. `groups` is the number of groups so far.
    fn slots_of(&mut self, plan: &mut AggPlan, groups: usize, gids: &[u32], row_slots: &mut Vec<u32>);
    /// Pane `p` has all its rows: a tumbling window is emitted, a hopping
    /// pane's states are kept for its windows.
    fn close_pane(&mut self, grid: &Grid, plan: &AggPlan, p: Index, emitter: &mut Emitter) -> Result<()>;
    /// Emits every hopping window whose panes are all closed (all before
    /// `next_pane`, or all of them at the end), merging pane states, and frees
    /// panes no longer needed.
    fn emit_windows(&mut self, grid: &Grid, plan: &mut AggPlan, next_pane: Option<Index>, emitter: &mut Emitter) -> Result<()>;
}

/// Walks time-ordered rows pane by pane, updating each pane's states and
/// emitting windows as their panes close.
fn panes(input: &Prepared, grouper: &mut Grouper, plan: &mut AggPlan, grid: Grid, store: &mut impl PaneStore) -> Result<Output> {
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let mut emitter = Emitter::with_capacity(output_bound(input, grouper, &grid).min(rows), plan);
    let mut current: Option<Index> = None;
    // Sized to the input: freeing a 64 KiB block makes glibc consolidate its
    // free lists, a cost that dominates calls on small batches.
    let mut gids = Vec::with_capacity(MORSEL.min(rows));
    let mut row_slots = Vec::with_capacity(MORSEL.min(rows));

    for (b, batch) in input.batches.iter().enumerate() {
        let times = input.time.values(batch.column(input.time.index));
        let len = times.len();
        let mut i = 0;
        let mut next_check = 0;
        while i < len {
            if i >= next_check {
                crate::exec::cancel::check()?;
                next_check = i + MORSEL;
            }
            let p = grid.pane_of(times[i]);
            if current != Some(p) {
                if let Some(done) = current {
                    store.close_pane(&grid, plan, done, &mut emitter)?;
                }
                if !grid.is_tumbling() {
                    store.emit_windows(&grid, plan, Some(p), &mut emitter)?;
                }
                emitter.flush_if_full(plan, store)?;
                current = Some(p);
            }
            let bound = grid.pane_bound(p);
            let rest = &times[i..];
            let pane_len = if grid.closed == Closed::Right {
                rest.partition_point(|&t| (t as i128) <= bound)
            } else {
                rest.partition_point(|&t| (t as i128) < bound)
            };
            let j = i + pane_len.min(MORSEL);
            if !grid.in_some_window(p) {
                i += pane_len;
                continue;
            }
            grouper.assign(b, i..j, &mut gids)?;
            store.slots_of(plan, grouper.num_groups(), &gids, &mut row_slots);
            plan.update(b, batch, &Rows::Range(i..j), &row_slots)?;
            i = j;
        }
    }
    if let Some(done) = current {
        store.close_pane(&grid, plan, done, &mut emitter)?;
    }
    if !grid.is_tumbling() {
        store.emit_windows(&grid, plan, None, &mut emitter)?;
    }
    emitter.finish(plan, store)
}

/// A closed hopping pane: its groups, each with the slot of its state.
struct PaneState {
    p: Index,
    entries: Vec<(u32, u32)>,
}

/// Pane states in slots handed out as groups appear in each pane: for any
/// number and kind of groups.
struct SlotTable {
    slots: Slots,
    ordered_ids: bool,
    /// Per group, its slot in the current pane.
    slot_of_gid: Vec<u32>,
    /// The groups with a slot in the current pane.
    touched: Vec<u32>,
    new_gids: Vec<u32>,
    pending: VecDeque<PaneState>,
    next_window: Index,
    /// Per group, its slot in the hopping window being assembled.
    window_slot: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    order: Vec<u32>,
}

impl SlotTable {
    fn new(ordered_ids: bool) -> Self {
        SlotTable {
            slots: Slots::new(),
            ordered_ids,
            slot_of_gid: Vec::new(),
            touched: Vec::new(),
            new_gids: Vec::new(),
            pending: VecDeque::new(),
            next_window: Index::MIN,
            window_slot: Vec::new(),
            pairs: Vec::new(),
            order: Vec::new(),
        }
    }
}

impl SlotPool for SlotTable {
    fn release(&mut self, plan: &mut AggPlan, slots: &[u32]) {
        self.slots.give_back_all(plan, slots);
    }
}

impl PaneStore for SlotTable {
    fn slots_of(&mut self, plan: &mut AggPlan, groups: usize, gids: &[u32], row_slots: &mut Vec<u32>) {
        if self.slot_of_gid.len() < groups {
            self.slot_of_gid.resize(groups, NO_SLOT);
            self.window_slot.resize(groups, NO_SLOT);
        }
        self.new_gids.clear();
        collect_new(gids.iter().copied(), gids.len(), &mut self.slot_of_gid, &mut self.new_gids);
        for &g in &self.new_gids {
            self.slot_of_gid[g as usize] = self.slots.take(plan);
            self.touched.push(g);
        }
        row_slots.clear();
        row_slots.extend(gids.iter().map(|&g| self.slot_of_gid[g as usize]));
    }

    fn close_pane(&mut self, grid: &Grid, _plan: &AggPlan, p: Index, emitter: &mut Emitter) -> Result<()> {
        if self.ordered_ids {
            // Emitting groups in key order now spares a sort and a reordering copy later.
            into_id_order(&mut self.touched, &self.slot_of_gid);
        }
        let slot_of_gid = &mut self.slot_of_gid;
        if grid.is_tumbling() {
            let (start, end) = grid.window_bounds(p)?;
            for &g in self.touched.iter() {
                emitter.push(start, end, g, std::mem::replace(&mut slot_of_gid[g as usize], NO_SLOT));
            }
        } else {
            let entries = self.touched.iter().map(|&g| (g, std::mem::replace(&mut slot_of_gid[g as usize], NO_SLOT))).collect();
            self.pending.push_back(PaneState { p, entries });
        }
        self.touched.clear();
        Ok(())
    }

    fn emit_windows(&mut self, grid: &Grid, plan: &mut AggPlan, next_pane: Option<Index>, emitter: &mut Emitter) -> Result<()> {
        let ready = grid.ready_windows(self.pending.iter().map(|pane| pane.p), next_pane, self.next_window);
        for k in ready.clone() {
            let (lo, hi) = grid.panes_of_window(k);
            self.order.clear();
            self.pairs.clear();
            // As in `slots_of`: the window's groups are collected, then given
            // slots; `slots_of` keeps `window_slot` as long as the group ids.
            let window_panes = || self.pending.iter().filter(|pane| pane.p >= lo && pane.p < hi);
            for pane in window_panes() {
                collect_new(pane.entries.iter().map(|&(g, _)| g), pane.entries.len(), &mut self.window_slot, &mut self.order);
            }
            for &g in &self.order {
                self.window_slot[g as usize] = self.slots.take(plan);
            }
            for pane in window_panes() {
                self.pairs.extend(pane.entries.iter().map(|&(g, src)| (self.window_slot[g as usize], src)));
            }
            if self.pairs.is_empty() {
                continue;
            }
            // Panes in time order, so each window's state folds its panes in order.
            plan.merge_pairs(&self.pairs);
            if self.ordered_ids {
                into_id_order(&mut self.order, &self.window_slot);
            }
            let (start, end) = grid.window_bounds(k)?;
            for &g in &self.order {
                emitter.push(start, end, g, std::mem::replace(&mut self.window_slot[g as usize], NO_SLOT));
            }
        }
        if !ready.is_empty() {
            self.next_window = ready.end;
        }
        let (order, slots) = (&mut self.order, &mut self.slots);
        grid.pop_done_panes(
            &mut self.pending,
            |pane| pane.p,
            next_pane,
            |pane| {
                order.clear();
                order.extend(pane.entries.iter().map(|&(_, slot)| slot));
                slots.give_back_all(plan, order);
            },
        );
        Ok(())
    }
}

/// Most slots `PaneBlocks` may hold in blocks at once.
const BLOCK_SLOTS_LIMIT: i128 = 1 << 18;

/// Pane states in blocks of one slot per group, the state of group g in the
/// block at `base` being slot `base + g`: for few groups with ordered ids
/// (fixed in number). A row finds its slot without a lookup, a pane's groups
/// are read off a table in id order, and a hopping window merges its panes'
/// states without giving each group a slot first.
struct PaneBlocks {
    groups: u32,
    /// Blocks made so far.
    blocks: u32,
    /// Bases of blocks whose slots are all empty.
    free: Vec<u32>,
    /// Bases of blocks whose windows wait in the emitter to be finished.
    held: Vec<u32>,
    /// The current pane's block, once it has rows.
    current: Option<u32>,
    /// Per group, whether it has rows in the current pane.
    seen: Vec<bool>,
    /// Per group, whether it has rows in the window being assembled.
    in_window: Vec<bool>,
    pending: VecDeque<PaneBlock>,
    next_window: Index,
    present: Vec<u32>,
}

/// A closed hopping pane: its block, and its groups in id order.
struct PaneBlock {
    p: Index,
    base: u32,
    groups: Vec<u32>,
}

impl PaneBlocks {
    /// `Some` when blocks suit these groups and this grid: few enough groups
    /// that every open pane can hold a block, and enough rows per pane that
    /// reading a pane's groups off a table of all groups costs at most a few
    /// steps per row (the table of a pane is read once per pane with rows,
    /// and of a window once per window).
    fn suited(input: &Prepared, grouper: &Grouper, grid: &Grid) -> Option<PaneBlocks> {
        if !grouper.ids_are_ordered() {
            return None;
        }
        let groups = grouper.num_groups() as i128;
        let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
        let (first, last) = time_span(input)?;
        let panes = grid.pane_of(last) - grid.pane_of(first) + 1;
        let windows_per_pane = (grid.n + grid.m - 1) as i128 / grid.m as i128;
        let open_blocks = grid.n as i128 + 2;
        let few_groups = groups.saturating_mul(open_blocks) <= BLOCK_SLOTS_LIMIT;
        let rows_per_pane_enough = groups.saturating_mul(panes).saturating_mul(windows_per_pane) <= 4 * rows as i128;
        (few_groups && rows_per_pane_enough).then(|| PaneBlocks::new(groups as u32))
    }

    fn new(groups: u32) -> Self {
        PaneBlocks {
            groups,
            blocks: 0,
            free: Vec::new(),
            held: Vec::new(),
            current: None,
            seen: vec![false; groups as usize],
            in_window: vec![false; groups as usize],
            pending: VecDeque::new(),
            next_window: Index::MIN,
            present: Vec::new(),
        }
    }

    fn take_block(&mut self, plan: &mut AggPlan) -> u32 {
        if let Some(base) = self.free.pop() {
            return base;
        }
        let base = self.blocks * self.groups;
        self.blocks += 1;
        plan.grow((self.blocks * self.groups) as usize);
        base
    }
}

impl SlotPool for PaneBlocks {
    fn wants_flush(&self, waiting: usize) -> bool {
        // Blocks of sparse windows would otherwise pile up holding empty slots.
        waiting >= FLUSH_AT || self.held.len() * self.groups as usize >= 4 * FLUSH_AT
    }

    fn release(&mut self, plan: &mut AggPlan, slots: &[u32]) {
        // The slots are exactly those of the held blocks.
        plan.reset_all(slots);
        self.free.append(&mut self.held);
    }
}

impl PaneStore for PaneBlocks {
    fn slots_of(&mut self, plan: &mut AggPlan, groups: usize, gids: &[u32], row_slots: &mut Vec<u32>) {
        debug_assert_eq!(groups, self.groups as usize, "ordered ids are fixed in number");
        let base = match self.current {
            Some(base) => base,
            None => {
                let base = self.take_block(plan);
                self.current = Some(base);
                base
            }
        };
        row_slots.clear();
        row_slots.extend(gids.iter().map(|&g| base + g));
        // A store per row, a tenth of a tumbling window's time: when the
        // plan counts rows per slot, `close_pane` reads the counts instead.
        if !plan.counts_every_row() {
            for &g in gids {
                self.seen[g as usize] = true;
            }
        }
    }

    fn close_pane(&mut self, grid: &Grid, plan: &AggPlan, p: Index, emitter: &mut Emitter) -> Result<()> {
        let Some(base) = self.current.take() else {
            return Ok(());
        };
        let mut groups = Vec::new();
        if plan.counts_every_row() {
            plan.slots_with_rows(base, self.groups, &mut groups);
        } else {
            take_flagged(&mut self.seen, &mut groups);
        }
        if grid.is_tumbling() {
            let (start, end) = grid.window_bounds(p)?;
            emitter.push_groups(start, end, &groups, base);
            self.held.push(base);
        } else {
            self.pending.push_back(PaneBlock { p, base, groups });
        }
        Ok(())
    }

    fn emit_windows(&mut self, grid: &Grid, plan: &mut AggPlan, next_pane: Option<Index>, emitter: &mut Emitter) -> Result<()> {
        let ready = grid.ready_windows(self.pending.iter().map(|pane| pane.p), next_pane, self.next_window);
        for k in ready.clone() {
            let (lo, hi) = grid.panes_of_window(k);
            if !self.pending.iter().any(|pane| pane.p >= lo && pane.p < hi) {
                continue;
            }
            let window = self.take_block(plan);
            let mut all_groups = false;
            // Panes in time order, so each window's state folds its panes in order.
            for pane in self.pending.iter().filter(|pane| pane.p >= lo && pane.p < hi) {
                plan.merge_groups(window, pane.base, &pane.groups);
                all_groups |= pane.groups.len() == self.groups as usize;
                if !all_groups {
                    for &g in &pane.groups {
                        self.in_window[g as usize] = true;
                    }
                }
            }
            if all_groups {
                self.in_window.fill(false);
                self.present.clear();
                self.present.extend(0..self.groups);
            } else {
                take_flagged(&mut self.in_window, &mut self.present);
            }
            let (start, end) = grid.window_bounds(k)?;
            emitter.push_groups(start, end, &self.present, window);
            self.held.push(window);
            emitter.flush_if_full(plan, self)?;
        }
        if !ready.is_empty() {
            self.next_window = ready.end;
        }
        let (present, free) = (&mut self.present, &mut self.free);
        grid.pop_done_panes(
            &mut self.pending,
            |pane| pane.p,
            next_pane,
            |pane| {
                present.clear();
                present.extend(pane.groups.iter().map(|&g| pane.base + g));
                plan.reset_all(present);
                free.push(pane.base);
            },
        );
        Ok(())
    }
}

/// Per key, splits time-ordered rows into sessions separated by at least `gap`.
fn sessions(input: &Prepared, grouper: &mut Grouper, plan: &mut AggPlan, gap: i64) -> Result<Output> {
    let mut slots = Slots::new();
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let mut emitter = Emitter::with_capacity(rows, plan);
    let mut open: Vec<u32> = Vec::new();
    let mut first: Vec<i64> = Vec::new();
    let mut last: Vec<i64> = Vec::new();
    let mut gids = Vec::with_capacity(MORSEL.min(rows));
    let mut row_slots = Vec::with_capacity(MORSEL.min(rows));
    let end_of = |last: i64| i64::try_from(last as i128 + gap as i128).map_err(|_| overflow("a session end"));
    for (b, batch) in input.batches.iter().enumerate() {
        let times = input.time.values(batch.column(input.time.index));
        let mut i = 0;
        while i < times.len() {
            crate::exec::cancel::check()?;
            let j = (i + MORSEL).min(times.len());
            grouper.assign(b, i..j, &mut gids)?;
            let groups = grouper.num_groups();
            if open.len() < groups {
                open.resize(groups, NO_SLOT);
                first.resize(groups, 0);
                last.resize(groups, 0);
            }
            row_slots.clear();
            for (&g, &t) in gids.iter().zip(&times[i..j]) {
                let g_ = g as usize;
                if open[g_] != NO_SLOT && (t as i128 - last[g_] as i128) >= gap as i128 {
                    emitter.push(first[g_], end_of(last[g_])?, g, open[g_]);
                    open[g_] = NO_SLOT;
                }
                if open[g_] == NO_SLOT {
                    open[g_] = slots.take(plan);
                    first[g_] = t;
                }
                last[g_] = t;
                row_slots.push(open[g_]);
            }
            plan.update(b, batch, &Rows::Range(i..j), &row_slots)?;
            // Closed sessions must be finished only after the update above, which
            // may still have written rows of this morsel into them.
            emitter.flush_if_full(plan, &mut slots)?;
            i = j;
        }
    }
    for (g, &slot) in open.iter().enumerate() {
        if slot != NO_SLOT {
            emitter.push(first[g], end_of(last[g])?, g as u32, slot);
        }
    }
    emitter.finish(plan, &mut slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int16Array, Int32Array, Int64Array};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Random rows: int64 time (sorted or not), an int32 and an int16 key
    /// over small ranges with nulls, f64 and i64 values with nulls; in one to three batches.
    fn random_input(rng: &mut StdRng) -> (SchemaRef, Vec<RecordBatch>) {
        let rows = rng.random_range(0..400usize);
        let keys = rng.random_range(1..40i32);
        let spread = rng.random_range(1..50i64);
        let mut times: Vec<i64> = (0..rows as i64).map(|i| i * spread / 4 + rng.random_range(0..spread)).collect();
        if rng.random_bool(0.3) {
            times.reverse();
        }
        let maybe = |rng: &mut StdRng| rng.random_bool(0.9);
        let key: Int32Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(0..keys))).collect();
        let x: Float64Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-100..100) as f64 / 4.0)).collect();
        let n: Int64Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-1000..1000))).collect();
        let second_keys = rng.random_range(1..6i16);
        let j: Int16Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-2..second_keys))).collect();
        let batch = RecordBatch::try_from_iter([
            ("t", Arc::new(Int64Array::from(times)) as ArrayRef),
            ("k", Arc::new(key) as ArrayRef),
            ("x", Arc::new(x) as ArrayRef),
            ("n", Arc::new(n) as ArrayRef),
            ("j", Arc::new(j) as ArrayRef),
        ])
        .unwrap();
        let cut = rng.random_range(0..=rows);
        (batch.schema(), vec![batch.slice(0, cut), batch.slice(cut, rows - cut)])
    }

    fn times(values: Vec<i64>) -> (SchemaRef, Vec<RecordBatch>) {
        let batch = RecordBatch::try_from_iter([("t", Arc::new(Int64Array::from(values)) as ArrayRef)]).unwrap();
        (batch.schema(), vec![batch])
    }

    #[test]
    fn a_spec_with_more_windows_than_an_output_holds_is_refused_before_any_is_made() {
        let (schema, batches) = times(vec![0, 1]);
        let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 86400000000000, "aggs": ["count()"]}"#).unwrap();
        let err = window_agg(&schema, &batches, &spec).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ResourceLimit, "{err}");
        assert!(err.to_string().contains(&format!("{MAX_OUTPUT_ROWS} windows")) && err.to_string().contains("86400000000000"), "{err}");
        // Two rows in a billion windows each: under 2^31, still refused.
        let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 1000000000, "aggs": ["count()"]}"#).unwrap();
        let (schema, batches) = times(vec![0, 1_000_000_000]);
        assert_eq!(window_agg(&schema, &batches, &spec).unwrap_err().kind(), crate::ErrorKind::ResourceLimit);
    }

    #[test]
    fn many_windows_per_row_on_few_distinct_times_are_counted_and_pass() {
        // 500 rows in 600,000 windows each bound 3e8 windows, over the
        // limit; they share one time, so only 600,000 windows hold rows.
        let (schema, batches) = times(vec![5; 500]);
        let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 600000, "aggs": ["count()"]}"#).unwrap();
        let out = window_agg(&schema, &batches, &spec).unwrap();
        assert_eq!(out.num_rows(), 600_000);
    }

    fn random_spec(rng: &mut StdRng) -> WindowSpec {
        let every = rng.random_range(1..30);
        let kind = if rng.random_bool(0.3) {
            format!(r#""every": {every}"#)
        } else {
            let mut period = rng.random_range(1..90);
            if period == every {
                period += 1;
            }
            format!(r#""every": {every}, "period": {period}"#)
        };
        let by = [r#"["k"]"#, r#"["k"]"#, "[]", r#"["k", "j"]"#, r#"["j", "k"]"#][rng.random_range(0..5)];
        let closed = if rng.random_bool(0.5) { "left" } else { "right" };
        let offset = rng.random_range(-20..20);
        // With count(), pane blocks read which groups have rows off its
        // counts; without, they flag the groups of each row.
        let count = if rng.random_bool(0.5) { r#""count()", "# } else { "" };
        let aggs = format!(
            r#"[{count}"count(x)", "sum(n)", "mean(x)", "min(x)", "max(n)", "first(x)", "last(n)", "var(x)",
                "median(n)", "count_distinct(n)", "max_by(x, n)"]"#
        );
        WindowSpec::from_json(&format!(r#"{{"time": "t", {kind}, "by": {by}, "closed": "{closed}", "offset": {offset}, "aggs": {aggs}}}"#))
            .unwrap()
    }

    /// Equal, but for float sums and the like, which the reference computes
    /// in another order: those within 1e-9, relative or absolute.
    fn assert_close(got: &RecordBatch, expected: &RecordBatch, case: usize) {
        let types = |b: &RecordBatch| b.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
        assert_eq!(types(got), types(expected), "case {case}");
        for (name, (a, b)) in got.schema().fields().iter().map(|f| f.name()).zip(got.columns().iter().zip(expected.columns())) {
            match (a.as_any().downcast_ref::<Float64Array>(), b.as_any().downcast_ref::<Float64Array>()) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.len(), b.len(), "case {case}, {name}");
                    for (x, y) in a.iter().zip(b) {
                        let close = match (x, y) {
                            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) || x.is_nan() && y.is_nan(),
                            (x, y) => x.is_none() && y.is_none(),
                        };
                        assert!(close, "case {case}, {name}: {x:?} vs {y:?}");
                    }
                }
                _ => assert_eq!(a, b, "case {case}, {name}"),
            }
        }
    }

    #[test]
    fn pane_blocks_and_the_slot_table_agree_with_the_reference() {
        let mut rng = StdRng::seed_from_u64(7);
        for case in 0..400 {
            let (schema, batches) = random_input(&mut rng);
            let spec = random_spec(&mut rng);
            let table = window_agg_storing(&schema, &batches, &spec, Store::Table, None).unwrap();
            assert_close(&table, &crate::reference::window_agg(&schema, &batches, &spec).unwrap(), case);
            // The same merges in the same order: equal to the bit.
            for store in [Store::Blocks, Store::Suited] {
                let got = window_agg_storing(&schema, &batches, &spec, store, None).unwrap();
                assert_eq!(got, table, "case {case}, {store:?}, spec {spec:?}");
            }
        }
    }
}
