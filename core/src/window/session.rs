//! Session windows: per key, a window that closes after a gap without rows.

use super::*;

/// Per key, splits time-ordered rows into sessions separated by at least `gap`.
pub(super) fn sessions(input: &Prepared, grouper: &mut Grouper, plan: &mut AggPlan, gap: i64) -> Result<Output> {
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
