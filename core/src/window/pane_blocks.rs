//! A pane store for dense keys: a block of slots per pane, one per group.

use super::*;

/// Most slots `PaneBlocks` may hold in blocks at once.
pub(super) const BLOCK_SLOTS_LIMIT: i128 = 1 << 18;

/// Pane states in blocks of one slot per group, the state of group g in the
/// block at `base` being slot `base + g`: for few groups with ordered ids
/// (fixed in number). A row finds its slot without a lookup, a pane's groups
/// are read off a table in id order, and a hopping window merges its panes'
/// states without giving each group a slot first.
pub(super) struct PaneBlocks {
    pub(super) groups: u32,
    /// Blocks made so far.
    pub(super) blocks: u32,
    /// Bases of blocks whose slots are all empty.
    pub(super) free: Vec<u32>,
    /// Bases of blocks whose windows wait in the emitter to be finished.
    pub(super) held: Vec<u32>,
    /// The current pane's block, once it has rows.
    pub(super) current: Option<u32>,
    /// Per group, whether it has rows in the current pane.
    pub(super) seen: Vec<bool>,
    /// Per group, whether it has rows in the window being assembled.
    pub(super) in_window: Vec<bool>,
    pub(super) pending: VecDeque<PaneBlock>,
    pub(super) next_window: Index,
    pub(super) present: Vec<u32>,
}

/// A closed hopping pane: its block, and its groups in id order.
pub(super) struct PaneBlock {
    pub(super) p: Index,
    pub(super) base: u32,
    pub(super) groups: Vec<u32>,
}

impl PaneBlocks {
    /// `Some` when blocks suit these groups and this grid: few enough groups
    /// that every open pane can hold a block, and enough rows per pane that
    /// reading a pane's groups off a table of all groups costs at most a few
    /// steps per row (the table of a pane is read once per pane with rows,
    /// and of a window once per window).
    pub(super) fn suited(input: &Prepared, grouper: &Grouper, grid: &Grid) -> Option<PaneBlocks> {
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

    pub(super) fn new(groups: u32) -> Self {
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

    pub(super) fn take_block(&mut self, plan: &mut AggPlan) -> u32 {
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
