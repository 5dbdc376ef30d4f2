//! Tumbling, hopping and session windows over time-ordered input.
//!
//! Tumbling and hopping windows share one engine built on *panes*: slices of
//! the grid `gcd(every, period)` wide. Each row updates exactly one pane
//! state; a hopping window merges the states of its `period / pane` panes, so
//! no row is ever copied into several windows. Tumbling is the case where a
//! pane is a window.

use crate::agg::{AggPlan, Rows};
use crate::column_builder::ColumnBuilder;
use crate::error::{Result, SashError};
use crate::keys::Grouper;
use crate::prepare::{key_columns, Columns, Prepared};
use crate::spec::{Closed, WindowKind, WindowSpec};
use crate::DROPPED_NULL_TIMES_KEY;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};
use arrow_select::take::take;
use std::collections::VecDeque;
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
    spec.validate()?;
    // Everything about the spec is checked before the data is looked at.
    let columns = Columns::resolve(schema, batches, &spec.time, &spec.by)?;
    let time = &columns.time;
    let mut plan = AggPlan::new(schema, &spec.aggs)?;
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
    let input = Prepared::new(schema, batches, columns, spec.null_time)?;
    let mut grouper = Grouper::new(&input.key_types, &key_columns(&input.batches, &input.key_indices))?;
    // Pane windows with ordered group ids are emitted in final order already
    // (`close_pane` and `emit_windows` put each window's groups in id order);
    // checking it would cost a twentieth of a tumbling window's time.
    let emitted_in_order = matches!(kind, Kind::Panes(_)) && grouper.ids_are_ordered();
    let mut out = match kind {
        Kind::Session(gap) => sessions(&input, &mut grouper, &mut plan, gap)?,
        Kind::Panes(grid) => panes(&input, &mut grouper, &mut plan, grid)?,
    };

    let (group_keys, rank) = grouper.finish()?;
    let order_of = |out: &Output, i: usize| (out.starts[i], rank[out.gids[i] as usize], out.ends[i]);
    let rows = out.gids.len();
    let in_order = |out: &Output| (1..rows).all(|i| order_of(out, i - 1) <= order_of(out, i));
    debug_assert!(!emitted_in_order || in_order(&out), "pane windows were not emitted in order");
    if !emitted_in_order && !in_order(&out) {
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.sort_unstable_by_key(|&i| order_of(&out, i as usize));
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

    fn window_bounds(&self, k: Index) -> Result<(i64, i64)> {
        let start = self.offset as i128 + k * self.every as i128;
        let end = start + self.period as i128;
        let start = i64::try_from(start).map_err(|_| overflow("a window start"))?;
        let end = i64::try_from(end).map_err(|_| overflow("a window end"))?;
        Ok((start, end))
    }
}

type Index = i128;

struct PaneState {
    p: Index,
    entries: Vec<(u32, u32)>,
}

/// The windows of an aggregation, one entry per output row.
struct Output {
    starts: Vec<i64>,
    ends: Vec<i64>,
    gids: Vec<u32>,
    aggregates: Vec<ArrayRef>,
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

    fn flush_if_full(&mut self, plan: &mut AggPlan, slots: &mut Slots) -> Result<()> {
        if self.waiting.len() >= FLUSH_AT {
            self.flush(plan, slots)?;
        }
        Ok(())
    }

    fn flush(&mut self, plan: &mut AggPlan, slots: &mut Slots) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        plan.finish_into(&self.waiting, &mut self.columns)?;
        slots.give_back_all(plan, &self.waiting);
        self.waiting.clear();
        Ok(())
    }

    fn finish(mut self, plan: &mut AggPlan, slots: &mut Slots) -> Result<Output> {
        self.flush(plan, slots)?;
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

/// At most: every row in each of its windows, and every group in every window
/// of the time span.
fn output_bound(input: &Prepared, grouper: &Grouper, grid: &Grid) -> usize {
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let per_row = (grid.n as usize).div_ceil(grid.m as usize).max(1);
    let by_rows = rows.saturating_mul(per_row);
    // One-row slices: 32-bit time columns are widened, and only this row needs it.
    let tick_at = |b: &RecordBatch, row: usize| input.time.values(&b.column(input.time.index).slice(row, 1))[0];
    let first = input.batches.first().map(|b| tick_at(b, 0));
    let last = input.batches.last().map(|b| tick_at(b, b.num_rows() - 1));
    let by_span = match (first, last, grouper.ids_are_ordered()) {
        (Some(first), Some(last), true) => {
            let windows = (grid.pane_of(last) - grid.pane_of(first)) / grid.m as i128 + 2 + grid.n as i128 / grid.m as i128;
            usize::try_from(windows.saturating_mul(grouper.num_groups() as i128)).unwrap_or(usize::MAX)
        }
        _ => usize::MAX,
    };
    by_rows.min(by_span)
}

#[allow(clippy::too_many_arguments)]
fn close_pane(
    grid: &Grid,
    p: Index,
    tumbling: bool,
    ordered_ids: bool,
    slot_of_gid: &mut [u32],
    touched: &mut Vec<u32>,
    emitter: &mut Emitter,
    pending: &mut VecDeque<PaneState>,
) -> Result<()> {
    if ordered_ids {
        // Emitting groups in key order now spares a sort and a reordering copy later.
        into_id_order(touched, slot_of_gid);
    }
    if tumbling {
        let (start, end) = grid.window_bounds(p)?;
        for &g in touched.iter() {
            emitter.push(start, end, g, std::mem::replace(&mut slot_of_gid[g as usize], NO_SLOT));
        }
    } else {
        let entries = touched.iter().map(|&g| (g, std::mem::replace(&mut slot_of_gid[g as usize], NO_SLOT))).collect();
        pending.push_back(PaneState { p, entries });
    }
    touched.clear();
    Ok(())
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

fn panes(input: &Prepared, grouper: &mut Grouper, plan: &mut AggPlan, grid: Grid) -> Result<Output> {
    let tumbling = grid.m == 1 && grid.n == 1;
    let ordered_ids = grouper.ids_are_ordered();
    let mut slots = Slots::new();
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let mut emitter = Emitter::with_capacity(output_bound(input, grouper, &grid).min(rows), plan);
    let mut slot_of_gid: Vec<u32> = Vec::new();
    let mut touched: Vec<u32> = Vec::new();
    let mut current: Option<Index> = None;
    let mut pending: VecDeque<PaneState> = VecDeque::new();
    let mut next_window = Index::MIN;
    // Per group, its slot in the hopping window being assembled.
    let mut window_slot: Vec<u32> = Vec::new();
    // Sized to the input: freeing a 64 KiB block makes glibc consolidate its
    // free lists, a cost that dominates calls on small batches.
    let mut gids = Vec::with_capacity(MORSEL.min(rows));
    let mut row_slots = Vec::with_capacity(MORSEL.min(rows));
    let mut new_gids = Vec::with_capacity(MORSEL.min(rows));

    for (b, batch) in input.batches.iter().enumerate() {
        let times = input.time.values(batch.column(input.time.index));
        let len = times.len();
        let mut i = 0;
        while i < len {
            let p = grid.pane_of(times[i]);
            if current != Some(p) {
                if let Some(done) = current {
                    close_pane(&grid, done, tumbling, ordered_ids, &mut slot_of_gid, &mut touched, &mut emitter, &mut pending)?;
                }
                if !tumbling {
                    emit_windows(
                        &grid,
                        plan,
                        &mut slots,
                        &mut pending,
                        Some(p),
                        &mut next_window,
                        ordered_ids,
                        &mut window_slot,
                        &mut emitter,
                    )?;
                }
                emitter.flush_if_full(plan, &mut slots)?;
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
            if slot_of_gid.len() < grouper.num_groups() {
                slot_of_gid.resize(grouper.num_groups(), NO_SLOT);
                if !tumbling {
                    window_slot.resize(grouper.num_groups(), NO_SLOT);
                }
            }
            new_gids.clear();
            collect_new(gids.iter().copied(), gids.len(), &mut slot_of_gid, &mut new_gids);
            for &g in &new_gids {
                slot_of_gid[g as usize] = slots.take(plan);
                touched.push(g);
            }
            row_slots.resize(gids.len(), 0);
            for (row_slot, &g) in row_slots.iter_mut().zip(&gids) {
                *row_slot = slot_of_gid[g as usize];
            }
            plan.update(b, batch, &Rows::Range(i..j), &row_slots)?;
            i = j;
        }
    }
    if let Some(done) = current {
        close_pane(&grid, done, tumbling, ordered_ids, &mut slot_of_gid, &mut touched, &mut emitter, &mut pending)?;
    }
    if !tumbling {
        emit_windows(&grid, plan, &mut slots, &mut pending, None, &mut next_window, ordered_ids, &mut window_slot, &mut emitter)?;
    }
    emitter.finish(plan, &mut slots)
}

/// Emits every hopping window whose panes are all closed (all before `next_pane`,
/// or all of them at the end), merging pane states, and frees panes no longer needed.
#[allow(clippy::too_many_arguments)]
fn emit_windows(
    grid: &Grid,
    plan: &mut AggPlan,
    slots: &mut Slots,
    pending: &mut VecDeque<PaneState>,
    next_pane: Option<Index>,
    next_window: &mut Index,
    ordered_ids: bool,
    window_slot: &mut [u32],
    emitter: &mut Emitter,
) -> Result<()> {
    let complete = |k: Index| match next_pane {
        None => true,
        Some(next) => k * grid.m as i128 + grid.n as i128 - 1 < next,
    };
    // The complete windows not yet emitted: one range, as windows are
    // consecutive and completeness only ever holds for a prefix of them.
    let first_window = pending.iter().map(|pane| grid.windows_of(pane.p).0.max(*next_window)).min();
    let last_window = pending.iter().map(|pane| grid.windows_of(pane.p).1).max();
    let (Some(first_window), Some(last_window)) = (first_window, last_window) else {
        return Ok(());
    };
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut order: Vec<u32> = Vec::new();
    let mut k = first_window;
    while k <= last_window && complete(k) {
        let lo = k * grid.m as i128;
        let hi = lo + grid.n as i128;
        order.clear();
        pairs.clear();
        // As in `panes`: the window's groups are collected, then given
        // slots; `panes` keeps `window_slot` as long as the group ids.
        let window_panes = || pending.iter().filter(|pane| pane.p >= lo && pane.p < hi);
        for pane in window_panes() {
            collect_new(pane.entries.iter().map(|&(g, _)| g), pane.entries.len(), window_slot, &mut order);
        }
        for &g in &order {
            window_slot[g as usize] = slots.take(plan);
        }
        for pane in window_panes() {
            pairs.extend(pane.entries.iter().map(|&(g, src)| (window_slot[g as usize], src)));
        }
        if !pairs.is_empty() {
            // Panes in time order, so each window's state folds its panes in order.
            plan.merge_pairs(&pairs);
            if ordered_ids {
                into_id_order(&mut order, window_slot);
            }
            let (start, end) = grid.window_bounds(k)?;
            for &g in &order {
                emitter.push(start, end, g, std::mem::replace(&mut window_slot[g as usize], NO_SLOT));
            }
        }
        *next_window = k + 1;
        k += 1;
    }
    // A pane is done once every window containing it has been emitted.
    while let Some(pane) = pending.front() {
        let (_, last) = grid.windows_of(pane.p);
        if !complete(last) {
            break;
        }
        let pane = pending.pop_front().expect("front exists");
        pairs.clear();
        order.clear();
        order.extend(pane.entries.iter().map(|&(_, slot)| slot));
        slots.give_back_all(plan, &order);
    }
    Ok(())
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
