//! The window grid: which windows (and panes) a timestamp falls in, in integer arithmetic that cannot overflow unnoticed.

use super::*;

/// The window grid in ticks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub(super) every: i64,
    pub(super) period: i64,
    pub(super) offset: i64,
    pub(super) pane: i64,
    /// Panes between window starts.
    pub(super) m: i64,
    /// Panes per window.
    pub(super) n: i64,
    pub(super) closed: Closed,
}

pub(super) fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub(super) fn overflow(what: &str) -> SashError {
    SashError::Overflow(format!("{what} is outside the range of the time column"))
}

impl Grid {
    pub(super) fn new(every: i64, period: i64, offset: i64, closed: Closed) -> Result<Grid> {
        let pane = gcd(every, period);
        Ok(Grid { every, period, offset, pane, m: every / pane, n: period / pane, closed })
    }

    // Pane and window indices are i128: `t - offset` may leave the i64 range
    // even when every window bound is representable.
    pub(super) fn pane_of(&self, t: i64) -> Index {
        let shifted = t as i128 - self.offset as i128;
        let shifted = if self.closed == Closed::Right { shifted - 1 } else { shifted };
        shifted.div_euclid(self.pane as i128)
    }

    /// The exclusive (left-closed) or inclusive (right-closed) upper time bound of pane p.
    pub(super) fn pane_bound(&self, p: Index) -> i128 {
        self.offset as i128 + (p + 1) * self.pane as i128
    }

    pub(super) fn in_some_window(&self, p: Index) -> bool {
        p.rem_euclid(self.m as i128) < self.n as i128
    }

    /// Windows containing pane p: k in [first, last].
    pub(super) fn windows_of(&self, p: Index) -> (Index, Index) {
        let (m, n) = (self.m as i128, self.n as i128);
        ((p - n + m).div_euclid(m), p.div_euclid(m))
    }

    pub(super) fn is_tumbling(&self) -> bool {
        self.m == 1 && self.n == 1
    }

    /// The panes of window k: [first, end).
    pub(super) fn panes_of_window(&self, k: Index) -> (Index, Index) {
        let first = k * self.m as i128;
        (first, first + self.n as i128)
    }

    /// Whether every pane of window k is before `next_pane` (at the end of the input, all are).
    pub(super) fn window_complete(&self, k: Index, next_pane: Option<Index>) -> bool {
        next_pane.is_none_or(|next| self.panes_of_window(k).1 - 1 < next)
    }

    /// The windows to emit now: complete, holding some of the `pending`
    /// panes, and from `next_window` on. One range, as windows are
    /// consecutive and completeness only ever holds for a prefix of them.
    pub(super) fn ready_windows(&self, pending: impl Iterator<Item = Index>, next_pane: Option<Index>, next_window: Index) -> Range<Index> {
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
    pub(super) fn pop_done_panes<T>(
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
    pub(super) fn check_output_size(&self, input: &Prepared) -> Result<()> {
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

    /// The start and end of window k, unbounded (see `window_bounds`).
    pub(super) fn window_span(&self, k: Index) -> (i128, i128) {
        let start = self.offset as i128 + k * self.every as i128;
        (start, start + self.period as i128)
    }

    pub(super) fn window_bounds(&self, k: Index) -> Result<(i64, i64)> {
        let (start, end) = self.window_span(k);
        let start = i64::try_from(start).map_err(|_| overflow("a window start"))?;
        let end = i64::try_from(end).map_err(|_| overflow("a window end"))?;
        Ok((start, end))
    }
}
