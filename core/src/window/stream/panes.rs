//! The incremental engine of tumbling and hopping streams: the batch
//! engine's panes (see `window`), kept across pushes. A push's rows update
//! states of their own, which then join the open panes' states; the
//! watermark closes windows, each assembled from its panes' states in time
//! order and emitted; a pane goes once its last window has.
//!
//! Every push costs what its own rows and the windows it closes cost, never
//! what the open state holds: nothing is exported, merged again or copied
//! between pushes, and only `snapshot` turns the state into Arrow.

use super::super::emit::{collect_new, too_many_windows, MAX_OUTPUT_ROWS};
use super::super::grid::Grid;
use super::super::{Index, Slots, NO_SLOT};
use crate::agg::{AggPlan, Rows};
use crate::error::{Result, SashError};
use crate::exec::stream_groups::StreamGroups;
use crate::exec::time::TimeColumn;
use crate::spec::Closed;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use hashbrown::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Group ids below this are found in a pane through a table indexed by id;
/// a pane with a larger id switches to a hash map (a table per open pane
/// would grow with every key ever seen).
const TABLE_GROUPS: u32 = 1 << 16;

/// Per group, the slot of its state in one pane (or window), in the order
/// the groups came.
#[derive(Default)]
struct GroupSlots {
    members: Vec<(u32, u32)>,
    /// Each member's place in `members`, by group id.
    table: Vec<u32>,
    map: Option<HashMap<u32, u32>>,
}

impl GroupSlots {
    fn len(&self) -> usize {
        self.members.len()
    }

    fn get(&self, g: u32) -> Option<u32> {
        let at = match &self.map {
            Some(map) => *map.get(&g)?,
            None => *self.table.get(g as usize).filter(|&&at| at != NO_SLOT)?,
        };
        Some(self.members[at as usize].1)
    }

    /// Adds group `g` (not a member yet) with its slot.
    fn insert(&mut self, g: u32, slot: u32) {
        let at = self.members.len() as u32;
        self.members.push((g, slot));
        if self.map.is_none() && g >= TABLE_GROUPS {
            let map = self.table.iter().enumerate().filter(|&(_, &at)| at != NO_SLOT).map(|(g, &at)| (g as u32, at)).collect();
            self.map = Some(map);
            self.table = Vec::new();
        }
        match &mut self.map {
            Some(map) => {
                map.insert(g, at);
            }
            None => {
                if self.table.len() <= g as usize {
                    self.table.resize(g as usize + 1, NO_SLOT);
                }
                self.table[g as usize] = at;
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.members.iter().copied()
    }

    fn slots(&self) -> Vec<u32> {
        self.members.iter().map(|&(_, slot)| slot).collect()
    }

    /// The same slots under new group ids (`remap[old]`).
    fn renumbered(&self, remap: &[u32]) -> GroupSlots {
        let mut out = GroupSlots::default();
        for &(g, slot) in &self.members {
            out.insert(remap[g as usize], slot);
        }
        out
    }
}

/// The groups kept when more than this many are known and fewer than half
/// have an open state: below it dropping them saves too little to bother.
/// (Tests drop them from far fewer, so that random streams do it often.)
#[cfg(not(test))]
const KEEP_GROUPS: usize = 4096;
#[cfg(test)]
const KEEP_GROUPS: usize = 16;

#[derive(Default)]
struct Scratch {
    gids: Vec<u32>,
    new_gids: Vec<u32>,
    row_slots: Vec<u32>,
    /// Per key rank, a window member's place (NO_SLOT: none), for emitting by rank.
    by_rank: Vec<u32>,
    /// The vectors of a push's fresh states and of their commit, kept with
    /// their capacity: grown afresh on every push, they were a good part of
    /// its time (and, under an allocator that returns memory at once, most).
    fresh: Fresh,
    pairs: Vec<(u32, u32)>,
    joined: Vec<u32>,
    opened: Vec<u32>,
}

/// `members` (group, slot) ordered by their groups' `rank`, as `window_agg`
/// orders a window's keys. `table` is scratch space.
fn in_rank_order(members: &[(u32, u32)], rank: &[u32], table: &mut Vec<u32>) -> Vec<(u32, u32)> {
    if members.len() * 8 >= rank.len() {
        // Most keys are here: reading the members off a table by rank costs
        // less than sorting them.
        table.clear();
        table.resize(rank.len(), NO_SLOT);
        for (i, &(g, _)) in members.iter().enumerate() {
            table[rank[g as usize] as usize] = i as u32;
        }
        table.iter().filter(|&&i| i != NO_SLOT).map(|&i| members[i as usize]).collect()
    } else {
        // (rank, place in members) sorted as one integer.
        let mut order: Vec<u64> = members.iter().enumerate().map(|(i, &(g, _))| (u64::from(rank[g as usize]) << 32) | i as u64).collect();
        order.sort_unstable();
        order.iter().map(|&key| members[(key & u64::from(u32::MAX)) as usize]).collect()
    }
}

/// A push's rows folded into states of their own: (pane, group, slot).
pub(super) type Fresh = Vec<(Index, u32, u32)>;

/// The open panes of a tumbling or hopping stream; see the module docs.
pub(super) struct PaneEngine {
    grid: Grid,
    time: TimeColumn,
    key_indices: Vec<usize>,
    key_fields: Vec<Field>,
    plan: AggPlan,
    slots: Slots,
    groups: StreamGroups,
    panes: BTreeMap<Index, GroupSlots>,
    /// Windows whose states came whole from a snapshot of format version 1
    /// (which held hopping windows, not panes): joined with their panes when
    /// they close.
    carried: BTreeMap<Index, GroupSlots>,
    /// `plan.state_bytes` of every open slot.
    bytes: usize,
    /// Per group, its fresh slot in the pane being read (scratch).
    slot_of_gid: Vec<u32>,
    /// Scratch buffers kept between pushes: a push allocates nothing of its own.
    scratch: Scratch,
    /// The output of an emission that closed nothing, kept to hand out again.
    empty_output: Option<RecordBatch>,
}

impl std::fmt::Debug for PaneEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaneEngine").field("grid", &self.grid).field("panes", &self.panes.len()).field("bytes", &self.bytes).finish()
    }
}

impl PaneEngine {
    pub(super) fn new(schema: &SchemaRef, spec: &crate::spec::WindowSpec, time: TimeColumn, grid: Grid) -> Result<PaneEngine> {
        let columns = crate::exec::prepare::Columns::resolve(schema, &[], &spec.time, &spec.by)?;
        let plan = AggPlan::new(schema, &spec.aggs, &time)?;
        let key_fields = columns.key_indices.iter().map(|&k| schema.field(k).clone().with_nullable(true)).collect();
        Ok(PaneEngine {
            grid,
            time,
            groups: StreamGroups::new(&columns.key_types)?,
            key_indices: columns.key_indices,
            key_fields,
            plan,
            slots: Slots::new(),
            panes: BTreeMap::new(),
            carried: BTreeMap::new(),
            bytes: 0,
            slot_of_gid: Vec::new(),
            scratch: Scratch::default(),
            empty_output: None,
        })
    }

    /// (keys, pane) and (keys, window) states held.
    pub(super) fn open_states(&self) -> usize {
        self.panes.values().chain(self.carried.values()).map(GroupSlots::len).sum()
    }

    /// The bytes the open states take (see `Accumulator::state_bytes`),
    /// with the keys they are for and what finds each (a group id and a
    /// slot, and its place in its pane's table).
    pub(super) fn state_bytes(&self) -> usize {
        self.bytes + self.groups.key_bytes() + self.open_states() * 3 * std::mem::size_of::<u32>()
    }

    /// Whether a row at time `t` is late under `watermark`: every window
    /// holding it is closed (a time in no window never is).
    pub(super) fn is_late(&self, t: i64, watermark: Option<i64>) -> bool {
        let p = self.grid.pane_of(t);
        self.grid.in_some_window(p) && self.last_closed(watermark).is_some_and(|k| self.grid.windows_of(p).1 <= k)
    }

    /// A time from which on no row is late under `watermark` (so that most
    /// rows need no pane arithmetic to tell).
    pub(super) fn first_on_time(&self, watermark: Option<i64>) -> i128 {
        let Some(k) = self.last_closed(watermark) else { return i128::MIN };
        // The first pane of window k + 1 on: their last window is after k.
        let p = (k + 1) * self.grid.m as i128;
        let start = self.grid.offset as i128 + p * self.grid.pane as i128;
        // A right-closed pane p holds (start, start + pane].
        if self.grid.closed == Closed::Right {
            start + 1
        } else {
            start
        }
    }

    /// The last window closed under `watermark`: no row that is not late
    /// could still fall in it.
    fn last_closed(&self, watermark: Option<i64>) -> Option<Index> {
        let w = watermark? as i128;
        let grid = &self.grid;
        // [s, e) closes once w >= e; (s, e] once w > e. e = offset + k * every + period.
        let reach = w - grid.offset as i128 - grid.period as i128;
        let reach = if matches!(grid.closed, Closed::Right | Closed::Both) { reach - 1 } else { reach };
        Some(reach.div_euclid(grid.every as i128))
    }

    /// Folds the rows of `batches` (time-ordered, on time, their first at
    /// `first_position` of the stream) into fresh states, one per (pane,
    /// group), without touching the open ones. On error nothing changed.
    pub(super) fn fold(&mut self, batches: &[RecordBatch], first_position: u64) -> Result<Fresh> {
        let groups_before = self.groups.len();
        let mut fresh = std::mem::take(&mut self.scratch.fresh);
        fresh.clear();
        match self.fold_into(batches, first_position, &mut fresh) {
            Ok(()) => Ok(fresh),
            Err(e) => {
                self.discard(fresh);
                self.groups.truncate(groups_before)?;
                Err(e)
            }
        }
    }

    fn fold_into(&mut self, batches: &[RecordBatch], first_position: u64, fresh: &mut Fresh) -> Result<()> {
        self.plan.begin_input(batches, first_position);
        let Scratch { mut gids, mut new_gids, mut row_slots, .. } = std::mem::take(&mut self.scratch);
        let result = self.fold_batches(batches, fresh, &mut gids, &mut new_gids, &mut row_slots);
        (self.scratch.gids, self.scratch.new_gids, self.scratch.row_slots) = (gids, new_gids, row_slots);
        result
    }

    fn fold_batches(
        &mut self,
        batches: &[RecordBatch],
        fresh: &mut Fresh,
        gids: &mut Vec<u32>,
        new_gids: &mut Vec<u32>,
        row_slots: &mut Vec<u32>,
    ) -> Result<()> {
        for (b, batch) in batches.iter().enumerate() {
            crate::exec::cancel::check()?;
            let keys: Vec<ArrayRef> = self.key_indices.iter().map(|&k| batch.column(k).clone()).collect();
            self.groups.assign(&keys, batch.num_rows(), gids)?;
            if self.slot_of_gid.len() < self.groups.len() {
                self.slot_of_gid.resize(self.groups.len(), NO_SLOT);
            }
            let times = self.time.values(batch.column(self.time.index));
            let mut i = 0;
            while i < times.len() {
                let p = self.grid.pane_of(times[i]);
                let bound = self.grid.pane_bound(p);
                let rest = &times[i..];
                let run = if self.grid.closed == Closed::Right {
                    rest.partition_point(|&t| (t as i128) <= bound)
                } else {
                    rest.partition_point(|&t| (t as i128) < bound)
                };
                let j = i + run;
                if self.grid.in_some_window(p) {
                    // Checked before any state changes: the windows this pane is in must be ones the output can hold.
                    let (first, last) = self.grid.windows_of(p);
                    if last - first >= MAX_OUTPUT_ROWS as i128 {
                        return Err(too_many_windows());
                    }
                    self.grid.window_bounds(first)?;
                    self.grid.window_bounds(last)?;
                    new_gids.clear();
                    collect_new(gids[i..j].iter().copied(), j - i, &mut self.slot_of_gid, new_gids);
                    for &g in new_gids.iter() {
                        let slot = self.slots.take(&mut self.plan);
                        self.slot_of_gid[g as usize] = slot;
                        fresh.push((p, g, slot));
                    }
                    row_slots.clear();
                    row_slots.extend(gids[i..j].iter().map(|&g| self.slot_of_gid[g as usize]));
                    let updated = self.plan.update(b, batch, &Rows::Range(i..j), row_slots);
                    for &g in new_gids.iter() {
                        self.slot_of_gid[g as usize] = NO_SLOT;
                    }
                    updated?;
                }
                i = j;
            }
        }
        Ok(())
    }

    /// Gives back the slots of states `fold` made and no longer needed.
    pub(super) fn discard(&mut self, mut fresh: Fresh) {
        let slots: Vec<u32> = fresh.iter().map(|&(_, _, slot)| slot).collect();
        self.slots.give_back_all(&mut self.plan, &slots);
        fresh.clear();
        self.scratch.fresh = fresh;
        // Picks may still refer to the push's batches.
        let _ = self.plan.detach();
    }

    /// At most how many bytes the state grows by when `fresh` joins it: a
    /// fresh state that opens a (pane, group) adds all it holds, one that
    /// joins an open state at most its values (sets and digests may hold
    /// some already; fixed parts are never counted twice).
    fn growth_bound(&self, fresh: &[(Index, u32, u32)]) -> usize {
        let (mut opening, mut joining) = (Vec::new(), Vec::new());
        for &(p, g, slot) in fresh {
            match self.panes.get(&p).and_then(|pane| pane.get(g)) {
                Some(_) => joining.push(slot),
                None => opening.push(slot),
            }
        }
        self.plan.state_bytes(&opening) + self.plan.variable_state_bytes(&joining)
    }

    /// At most the bytes the state holds once `fresh` joined it and the
    /// watermark moved to `watermark`, before either happens.
    pub(super) fn bytes_after(&self, fresh: &Fresh, watermark: Option<i64>) -> usize {
        let until = self.last_closed(watermark);
        let goes = |p: Index| until.is_some_and(|k| self.grid.windows_of(p).1 <= k);
        let mut leaving: Vec<u32> = Vec::new();
        for (_, pane) in self.panes.iter().take_while(|&(&p, _)| goes(p)) {
            leaving.extend(pane.slots());
        }
        for (_, states) in self.carried.iter().take_while(|&(&k, _)| until.is_some_and(|u| k <= u)) {
            leaving.extend(states.slots());
        }
        let staying: Vec<(Index, u32, u32)> = fresh.iter().filter(|&&(p, _, _)| !goes(p)).copied().collect();
        let bookkeeping = (self.open_states() + staying.len()) * 3 * std::mem::size_of::<u32>();
        self.bytes.saturating_sub(self.plan.state_bytes(&leaving)) + self.growth_bound(&staying) + self.groups.key_bytes() + bookkeeping
    }

    /// Joins the fresh states of a push into the open ones; only the final
    /// detach (copying picked values out of the push) can fail.
    pub(super) fn commit(&mut self, mut fresh: Fresh) -> Result<()> {
        let mut pairs = std::mem::take(&mut self.scratch.pairs);
        let mut joined = std::mem::take(&mut self.scratch.joined);
        let mut opened = std::mem::take(&mut self.scratch.opened);
        pairs.clear();
        joined.clear();
        opened.clear();
        // `fold` lists a pane's states together: one pane lookup per pane.
        for run in fresh.chunk_by(|a, b| a.0 == b.0) {
            let pane = self.panes.entry(run[0].0).or_default();
            for &(_, g, slot) in run {
                match pane.get(g) {
                    Some(open) => {
                        pairs.push((open, slot));
                        joined.push(slot);
                    }
                    None => {
                        pane.insert(g, slot);
                        opened.push(slot);
                    }
                }
            }
        }
        if self.plan.has_fixed_size_states() {
            self.plan.merge_pairs(&pairs);
            self.bytes += self.plan.state_bytes(&opened);
        } else {
            let mut targets: Vec<u32> = pairs.iter().map(|&(open, _)| open).collect();
            targets.sort_unstable();
            targets.dedup();
            let before = self.plan.state_bytes(&targets);
            self.plan.merge_pairs(&pairs);
            self.bytes = self.bytes.saturating_sub(before) + self.plan.state_bytes(&targets) + self.plan.state_bytes(&opened);
        }
        self.slots.give_back_all(&mut self.plan, &joined);
        fresh.clear();
        (self.scratch.fresh, self.scratch.pairs, self.scratch.joined, self.scratch.opened) = (fresh, pairs, joined, opened);
        // Nothing held may refer to the push's batches.
        self.plan.detach()
    }

    /// Emits the windows closed under `to` that were not under `from` (with
    /// `to` None: every window left, at the end), in `window_agg`'s order,
    /// and drops the panes no window needs any more. The schema is
    /// `window_agg`'s; `metadata` goes on it.
    pub(super) fn emit(
        &mut self,
        from: Option<i64>,
        to: Option<i64>,
        all: bool,
        metadata: std::collections::HashMap<String, String>,
    ) -> Result<RecordBatch> {
        let before = self.last_closed(from);
        let until = if all { Some(Index::MAX) } else { self.last_closed(to) };
        let mut ready: BTreeSet<Index> = BTreeSet::new();
        if let Some(until) = until {
            let after = before.map_or(Index::MIN, |k| k + 1);
            for &p in self.panes.keys() {
                let (first, last) = self.grid.windows_of(p);
                let mut k = first.max(after);
                while k <= last.min(until) {
                    ready.insert(k);
                    k += 1;
                }
            }
            ready.extend(self.carried.keys().copied().filter(|&k| k >= after && k <= until));
        }
        let drops_panes = until.is_some_and(|until| self.panes.keys().next().is_some_and(|&p| self.grid.windows_of(p).1 <= until));
        if ready.is_empty() && !drops_panes {
            // Most pushes close nothing: the same empty output each time, built once.
            if let Some(empty) = self.empty_output.clone().filter(|e| e.schema().metadata() == &metadata) {
                self.forget_groups_if_nothing_is_open()?;
                return Ok(empty);
            }
        }

        // Sized up front (exactly for tumbling windows, at least the last
        // pane's states for hopping ones): grown push after push, these
        // vectors cost more than filling them.
        let tumbling = self.grid.is_tumbling();
        let expected: usize = ready.iter().map(|&k| self.panes.get(&(self.grid.panes_of_window(k).1 - 1)).map_or(0, GroupSlots::len)).sum();
        let (mut starts, mut ends) = (Vec::with_capacity(expected), Vec::with_capacity(expected));
        let (mut gids, mut out_slots) = (Vec::with_capacity(expected), Vec::with_capacity(expected));
        // Slots made for hopping windows, given back once finished.
        let mut window_slots: Vec<u32> = Vec::new();
        let mut members: Vec<(u32, u32)> = Vec::new();
        for &k in &ready {
            let (start, end) = self.grid.window_bounds(k)?;
            members.clear();
            if tumbling && !self.carried.contains_key(&k) {
                // The pane is the window: its states are the window's.
                if let Some(pane) = self.panes.get(&k) {
                    members.extend(pane.iter());
                }
            } else {
                let mut window = GroupSlots::default();
                let mut pairs = Vec::new();
                let (lo, hi) = self.grid.panes_of_window(k);
                let carried = self.carried.get(&k).into_iter();
                // Earlier rows first: what a snapshot carried, then the panes in time order.
                for states in carried.chain(self.panes.range(lo..hi).map(|(_, pane)| pane)) {
                    for (g, src) in states.iter() {
                        let dst = match window.get(g) {
                            Some(dst) => dst,
                            None => {
                                let slot = self.slots.take(&mut self.plan);
                                window_slots.push(slot);
                                window.insert(g, slot);
                                slot
                            }
                        };
                        pairs.push((dst, src));
                    }
                }
                self.plan.merge_pairs(&pairs);
                members.extend(window.iter());
            }
            let rank = self.groups.rank()?;
            for (g, slot) in in_rank_order(&members, rank, &mut self.scratch.by_rank) {
                starts.push(start);
                ends.push(end);
                gids.push(g);
                out_slots.push(slot);
            }
        }
        let aggregates = self.plan.finish(&out_slots)?;
        self.slots.give_back_all(&mut self.plan, &window_slots);
        for k in &ready {
            if let Some(states) = self.carried.remove(k) {
                self.release(states.slots());
            }
        }
        if let Some(until) = until {
            let done: Vec<Index> = self.panes.keys().copied().take_while(|&p| self.grid.windows_of(p).1 <= until).collect();
            for p in done {
                let pane = self.panes.remove(&p).expect("listed");
                self.release(pane.slots());
            }
        }

        let mut columns = self.groups.keys_of(&gids)?;
        columns.push(self.time.build(starts)?);
        columns.push(self.time.build(ends)?);
        columns.extend(aggregates);
        let rows = out_slots.len();
        self.forget_idle_groups()?;
        let schema = Arc::new(Schema::new_with_metadata(self.output_fields(self.plan.fields.clone()), metadata));
        let out = RecordBatch::try_new_with_options(schema, columns, &RecordBatchOptions::new().with_row_count(Some(rows)))?;
        if rows == 0 {
            self.empty_output = Some(out.clone());
        }
        Ok(out)
    }

    fn output_fields(&self, tail: Vec<Field>) -> Vec<Field> {
        let mut fields = self.key_fields.clone();
        fields.push(Field::new("window_start", self.time.data_type.clone(), false));
        fields.push(Field::new("window_end", self.time.data_type.clone(), false));
        fields.extend(tail);
        fields
    }

    fn release(&mut self, slots: Vec<u32>) {
        self.bytes = self.bytes.saturating_sub(self.plan.state_bytes(&slots));
        self.slots.give_back_all(&mut self.plan, &slots);
    }

    /// Renumbers the groups when most have no open state, so that keys that
    /// stopped arriving cost nothing.
    fn forget_idle_groups(&mut self) -> Result<()> {
        if self.forget_groups_if_nothing_is_open()? || self.groups.len() <= KEEP_GROUPS {
            return Ok(());
        }
        let mut live: Vec<u32> =
            self.panes.values().chain(self.carried.values()).flat_map(|states| states.iter().map(|(g, _)| g)).collect();
        live.sort_unstable();
        live.dedup();
        if live.len() * 2 > self.groups.len() {
            return Ok(());
        }
        let remap = self.groups.retain(&live)?;
        for states in self.panes.values_mut().chain(self.carried.values_mut()) {
            *states = states.renumbered(&remap);
        }
        self.slot_of_gid = vec![NO_SLOT; self.groups.len()];
        Ok(())
    }

    /// Forgets every group when no state is open (nothing to renumber);
    /// whether it did.
    fn forget_groups_if_nothing_is_open(&mut self) -> Result<bool> {
        if !(self.panes.is_empty() && self.carried.is_empty() && self.groups.len() > 0) {
            return Ok(false);
        }
        self.groups = StreamGroups::new(&self.groups.key_types)?;
        self.slot_of_gid.clear();
        Ok(true)
    }

    /// The open states as one batch: the keys, `window_start`,
    /// `window_end` (a pane's bounds; a window's for `carried`), then the
    /// state columns; by pane (or window), then keys as `window_agg` orders
    /// them, so that equal states give equal bytes.
    pub(super) fn states(&self, carried: bool) -> Result<RecordBatch> {
        let (mut starts, mut ends, mut gids, mut slots) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let rank = self.groups.ranks()?;
        let held = if carried { &self.carried } else { &self.panes };
        for (&i, states) in held {
            let (start, end) = if carried { self.grid.window_bounds(i)? } else { self.pane_bounds(i)? };
            let members: Vec<(u32, u32)> = states.iter().collect();
            for (g, slot) in in_rank_order(&members, &rank, &mut Vec::new()) {
                starts.push(start);
                ends.push(end);
                gids.push(g);
                slots.push(slot);
            }
        }
        let mut columns = self.groups.keys_of(&gids)?;
        columns.push(self.time.build(starts)?);
        columns.push(self.time.build(ends)?);
        columns.extend(self.plan.state(&slots)?);
        let schema = Arc::new(Schema::new(self.output_fields(self.plan.state_fields())));
        Ok(RecordBatch::try_new_with_options(schema, columns, &RecordBatchOptions::new().with_row_count(Some(slots.len())))?)
    }

    fn pane_bounds(&self, p: Index) -> Result<(i64, i64)> {
        let start = self.grid.offset as i128 + p * self.grid.pane as i128;
        let bound = |v: i128| i64::try_from(v).map_err(|_| super::super::grid::overflow("a pane bound"));
        Ok((bound(start)?, bound(start + self.grid.pane as i128)?))
    }

    /// Loads states `states` made (`carried`: window states of a version-1
    /// snapshot). Every row must be a pane (window) of this grid, each key
    /// at most once in it, and every state value valid.
    pub(super) fn load(&mut self, batch: &RecordBatch, carried: bool) -> Result<()> {
        let corrupt = |what: String| SashError::InvalidInput(format!("not a valid WindowStream snapshot: {what}"));
        let expected = self.output_fields(self.plan.state_fields());
        let found = batch.schema();
        let same = found.fields().len() == expected.len()
            && found.fields().iter().zip(&expected).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(corrupt(format!(
                "its states have columns {:?}",
                found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
            )));
        }
        let n_keys = self.key_indices.len();
        let starts = self.time.values(batch.column(n_keys));
        let ends = self.time.values(batch.column(n_keys + 1));
        let mut gids = Vec::new();
        self.groups.assign(&batch.columns()[..n_keys], batch.num_rows(), &mut gids)?;
        let mut indices = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let (start, end) = (starts[row], ends[row]);
            let index = if carried {
                let k = (start as i128 - self.grid.offset as i128).div_euclid(self.grid.every as i128);
                (self.grid.window_bounds(k).ok() == Some((start, end))).then_some(k)
            } else {
                let p = (start as i128 - self.grid.offset as i128).div_euclid(self.grid.pane as i128);
                // As a push would: every window of the pane must have bounds the time column holds.
                let (first, last) = self.grid.windows_of(p);
                let windows_fit = self.grid.window_bounds(first).is_ok() && self.grid.window_bounds(last).is_ok();
                (self.pane_bounds(p).ok() == Some((start, end)) && self.grid.in_some_window(p) && windows_fit).then_some(p)
            };
            let index = index
                .ok_or_else(|| corrupt(format!("[{start}, {end}) is not a {} of its windows", if carried { "window" } else { "pane" })))?;
            indices.push(index);
        }
        let mut slots = Vec::with_capacity(batch.num_rows());
        self.slots.reserve(&mut self.plan, batch.num_rows());
        let held = if carried { &mut self.carried } else { &mut self.panes };
        for (&index, &g) in indices.iter().zip(&gids) {
            let states = held.entry(index).or_default();
            if states.get(g).is_some() {
                return Err(corrupt("a key appears twice in one window".into()));
            }
            let slot = self.slots.take(&mut self.plan);
            states.insert(g, slot);
            slots.push(slot);
        }
        self.plan.merge_state(&batch.columns()[n_keys + 2..], &slots)?;
        self.plan.detach()?;
        self.bytes += self.plan.state_bytes(&slots);
        if self.slot_of_gid.len() < self.groups.len() {
            self.slot_of_gid.resize(self.groups.len(), NO_SLOT);
        }
        Ok(())
    }
}
