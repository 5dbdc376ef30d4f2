//! The pane engine for tumbling and hopping windows: rows go into panes, and panes into the windows that cover them.

use super::*;

/// How `panes` keeps the states of open panes, and assembles windows from them.
pub(super) trait PaneStore: SlotPool {
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

/// A morsel of rows can hold a lot of work when each pane closes windows
/// (a window 60 panes long merges 60 states at every pane with one row in
/// it): cancellation is asked every this many panes too, not only every
/// morsel of rows.
const PANES_PER_CHECK: usize = 256;

/// Walks time-ordered rows pane by pane, updating each pane's states and
/// emitting windows as their panes close.
pub(super) fn panes(input: &Prepared, grouper: &mut Grouper, plan: &mut AggPlan, grid: Grid, store: &mut impl PaneStore) -> Result<Output> {
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
        let mut panes_since_check = 0;
        while i < len {
            if i >= next_check {
                crate::exec::cancel::check()?;
                next_check = i + MORSEL;
            }
            let p = grid.pane_of(times[i]);
            if current != Some(p) {
                panes_since_check += 1;
                if panes_since_check == PANES_PER_CHECK {
                    crate::exec::cancel::check()?;
                    panes_since_check = 0;
                }
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
