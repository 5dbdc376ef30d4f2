//! A pane store for sparse keys: one slot per (pane, group) found through a table.

use super::*;

/// A closed hopping pane: its groups, each with the slot of its state.
pub(super) struct PaneState {
    pub(super) p: Index,
    pub(super) entries: Vec<(u32, u32)>,
}

/// Pane states in slots handed out as groups appear in each pane: for any
/// number and kind of groups.
pub(super) struct SlotTable {
    pub(super) slots: Slots,
    pub(super) ordered_ids: bool,
    /// Per group, its slot in the current pane.
    pub(super) slot_of_gid: Vec<u32>,
    /// The groups with a slot in the current pane.
    pub(super) touched: Vec<u32>,
    pub(super) new_gids: Vec<u32>,
    pub(super) pending: VecDeque<PaneState>,
    pub(super) next_window: Index,
    /// Per group, its slot in the hopping window being assembled.
    pub(super) window_slot: Vec<u32>,
    pub(super) pairs: Vec<(u32, u32)>,
    pub(super) order: Vec<u32>,
}

impl SlotTable {
    pub(super) fn new(ordered_ids: bool) -> Self {
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
