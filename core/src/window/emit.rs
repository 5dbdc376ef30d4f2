//! Emitting closed windows: the output rows, their order, and the bound on how many a spec may produce.

use super::*;

pub(super) type Index = i128;

/// The windows of an aggregation, one entry per output row.
pub(super) struct Output {
    pub(super) starts: Vec<i64>,
    pub(super) ends: Vec<i64>,
    pub(super) gids: Vec<u32>,
    pub(super) aggregates: Vec<ArrayRef>,
}

/// Takes back the slots of finished windows.
pub(super) trait SlotPool {
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
pub(super) struct Emitter {
    pub(super) starts: Vec<i64>,
    pub(super) ends: Vec<i64>,
    pub(super) gids: Vec<u32>,
    pub(super) waiting: Vec<u32>,
    pub(super) columns: Vec<ColumnBuilder>,
}

/// Closed windows finished together; large enough to amortize the per-call cost.
pub(super) const FLUSH_AT: usize = 4096;

/// The most rows one window output may have (docs/limits.md): 2^28, some
/// 268 million windows, already ten gigabytes and more of output. A spec
/// that asks for more (a nanosecond hop over a second puts each row in a
/// billion windows) is far more likely a mistake than a wish, and would
/// otherwise run for minutes before the allocator aborts the process.
pub(crate) const MAX_OUTPUT_ROWS: usize = 1 << 28;

pub(super) fn too_many_windows() -> SashError {
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
    pub(super) fn with_capacity(bound: usize, plan: &AggPlan) -> Self {
        Emitter {
            starts: Vec::with_capacity(bound),
            ends: Vec::with_capacity(bound),
            gids: Vec::with_capacity(bound),
            waiting: Vec::new(),
            columns: plan.fields.iter().map(|_| ColumnBuilder::new(bound)).collect(),
        }
    }

    pub(super) fn push(&mut self, start: i64, end: i64, gid: u32, slot: u32) {
        self.starts.push(start);
        self.ends.push(end);
        self.gids.push(gid);
        self.waiting.push(slot);
    }

    /// `push` for each of `groups`, whose slots are in the block at `base`.
    pub(super) fn push_groups(&mut self, start: i64, end: i64, groups: &[u32], base: u32) {
        let n = groups.len();
        self.starts.extend(std::iter::repeat_n(start, n));
        self.ends.extend(std::iter::repeat_n(end, n));
        self.gids.extend_from_slice(groups);
        self.waiting.extend(groups.iter().map(|&g| base + g));
    }

    pub(super) fn flush_if_full(&mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<()> {
        if pool.wants_flush(self.waiting.len()) {
            self.flush(plan, pool)?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<()> {
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

    pub(super) fn finish(mut self, plan: &mut AggPlan, pool: &mut impl SlotPool) -> Result<Output> {
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
pub(super) fn time_span(input: &Prepared) -> Option<(i64, i64)> {
    // One-row slices: 32-bit time columns are widened, and only this row needs it.
    let tick_at = |b: &RecordBatch, row: usize| input.time.values(&b.column(input.time.index).slice(row, 1))[0];
    let first = input.batches.first().map(|b| tick_at(b, 0))?;
    let last = input.batches.last().map(|b| tick_at(b, b.num_rows() - 1))?;
    Some((first, last))
}

/// At most: every row in each of its windows, and every group in every window
/// of the time span.
pub(super) fn output_bound(input: &Prepared, grouper: &Grouper, grid: &Grid) -> usize {
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
pub(super) fn into_id_order(gids: &mut Vec<u32>, slot_of_gid: &[u32]) {
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
pub(super) fn collect_new(ids: impl IntoIterator<Item = u32>, room: usize, table: &mut [u32], fresh: &mut Vec<u32>) {
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
pub(super) fn take_flagged(flags: &mut [bool], out: &mut Vec<u32>) {
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
