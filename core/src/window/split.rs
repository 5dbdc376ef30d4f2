//! Tumbling and hopping windows on several threads, with the bytes of one.
//!
//! The time-ordered input is cut into parts at window starts: part j
//! computes the windows whose start is in `[K_j, K_j+1)` (window indices)
//! from the rows of those windows' panes only. A hopping window's rows are
//! then read by the part that owns it and, near a cut, also by the part
//! before it, which computes that window too but drops it; no window is
//! split between parts. Each window's rows are aggregated in the same order
//! as by one thread, and windows come out by start, so the parts' outputs,
//! each cut to the windows it owns and put one after the other, are exactly
//! the single-threaded output.

use super::*;
use crate::exec::pool;
use crate::exec::time::TimeColumn;
use std::borrow::Cow;

/// Rows a part holds at least: below it the fixed cost of a part (a plan, a
/// grouper, the output's concatenation) is not repaid by a second thread.
pub(super) const MIN_PART_ROWS: usize = 128 * 1024;

/// The sorted time values of prepared input, indexed across its batches.
struct Times<'a> {
    values: Vec<Cow<'a, [i64]>>,
    /// The global index of each batch's first row, and the total at the end.
    starts: Vec<usize>,
}

impl<'a> Times<'a> {
    fn new(time: &TimeColumn, batches: &'a [RecordBatch]) -> Self {
        let values: Vec<Cow<[i64]>> = batches.iter().map(|b| time.values(b.column(time.index))).collect();
        let mut starts = Vec::with_capacity(values.len() + 1);
        let mut total = 0;
        for v in &values {
            starts.push(total);
            total += v.len();
        }
        starts.push(total);
        Times { values, starts }
    }

    fn len(&self) -> usize {
        *self.starts.last().expect("one entry at least")
    }

    fn get(&self, row: usize) -> i64 {
        let batch = self.starts.partition_point(|&s| s <= row) - 1;
        self.values[batch][row - self.starts[batch]]
    }

    /// The first row whose time fails `pred` (which holds for a prefix of the rows).
    fn partition_point(&self, pred: impl Fn(i64) -> bool) -> usize {
        for (b, values) in self.values.iter().enumerate() {
            if values.last().is_some_and(|&last| !pred(last)) {
                return self.starts[b] + values.partition_point(|&t| pred(t));
            }
        }
        self.len()
    }
}

/// Rows `[from, to)` of `batches` (whose rows are numbered by `starts`).
fn slice_rows(batches: &[RecordBatch], starts: &[usize], from: usize, to: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        let (lo, hi) = (starts[b].max(from), starts[b + 1].min(to));
        if lo < hi {
            out.push(batch.slice(lo - starts[b], hi - lo));
        }
    }
    out
}

/// Threads a tumbling call needs before it is split. The parts' outputs
/// are copied into one (`pool::concat_batches`), and a tumbling output is
/// large against the work that made it (a minute's windows over 10M rows
/// are a sixth of the rows, 100 MB): on two threads that copy, into fresh
/// pages, cost what the second thread saved (bench/results-threads.md). A
/// hopping window aggregates several panes per output row, so its split
/// pays from two threads on.
pub(super) const MIN_THREADS_TUMBLING: usize = 4;

/// Where a call is cut: the window indices, and the input's times (read once
/// for finding the cuts and each part's rows).
pub(super) struct Cuts<'a> {
    times: Times<'a>,
    windows: Vec<Index>,
}

/// Where the input is cut; None (one part) for small inputs, too few
/// threads, or input whose rows all start in one window.
pub(super) fn window_parts<'a>(input: &'a Prepared, grid: &Grid) -> Option<Cuts<'a>> {
    let rows: usize = input.batches.iter().map(RecordBatch::num_rows).sum();
    let min_threads = if grid.n > grid.m { 2 } else { MIN_THREADS_TUMBLING };
    let parts = pool::parts_for(rows, MIN_PART_ROWS, min_threads);
    if parts <= 1 {
        return None;
    }
    let times = Times::new(&input.time, &input.batches);
    let mut cuts: Vec<Index> = Vec::with_capacity(parts);
    for j in 1..parts {
        let t = times.get(rows * j / parts);
        let window = grid.pane_of(t).div_euclid(grid.m as i128);
        if cuts.last().is_none_or(|&last| window > last) {
            cuts.push(window);
        }
    }
    // A cut at or before the first row's window leaves the first part empty.
    let first_window = grid.pane_of(times.get(0)).div_euclid(grid.m as i128);
    cuts.retain(|&k| k > first_window);
    (!cuts.is_empty()).then_some(Cuts { times, windows: cuts })
}

/// `window_agg` of prepared input cut at `cuts`: the parts
/// on the pool, their outputs cut to the windows each owns and concatenated.
pub(super) fn panes_in_parts(
    schema: &SchemaRef,
    spec: &WindowSpec,
    input: &Prepared,
    grid: Grid,
    store: Store,
    states: Option<u64>,
    cuts: Cuts,
) -> Result<RecordBatch> {
    let Cuts { times, windows: cuts } = cuts;
    let (m, n) = (grid.m as i128, grid.n as i128);
    // Part j owns windows [owned_j, owned_j+1), None meaning unbounded.
    let mut bounds: Vec<Option<Index>> = vec![None];
    bounds.extend(cuts.iter().map(|&k| Some(k)));
    bounds.push(None);
    let parts: Vec<(Option<Index>, Option<Index>)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let outputs = pool::try_map(parts, |(from, to)| {
        // The rows of the owned windows' panes: [from * m, (to - 1) * m + n).
        let first_row = from.map_or(0, |k| times.partition_point(|t| grid.pane_of(t) < k * m));
        let end_row = to.map_or(times.len(), |k| times.partition_point(|t| grid.pane_of(t) < (k - 1) * m + n));
        let part = Prepared {
            time: input.time.clone(),
            key_indices: input.key_indices.clone(),
            key_types: input.key_types.clone(),
            batches: slice_rows(&input.batches, &times.starts, first_row, end_row.max(first_row)),
            order: None,
            dropped_null_times: input.dropped_null_times,
            kept: Vec::new(),
        };
        let plan = AggPlan::new(schema, &spec.aggs, &input.time)?;
        let out = compute(schema, spec, &part, &Kind::Panes(grid), plan, store, states.map(|p| p + first_row as u64))?;
        // Windows come out by start: the owned ones are one run of rows.
        let start_of = |k: Index| grid.offset as i128 + k * grid.every as i128;
        let starts = input.time.values(out.column(input.key_indices.len()));
        let lo = from.map_or(0, |k| starts.partition_point(|&s| (s as i128) < start_of(k)));
        let hi = to.map_or(starts.len(), |k| starts.partition_point(|&s| (s as i128) < start_of(k)));
        Ok(out.slice(lo, hi.max(lo) - lo))
    })?;
    pool::concat_batches(&outputs[0].schema(), &outputs)
}
