//! The frame rule: which rows the window of a row holds under `closed`,
//! written once for every strategy (generic, running sums, sweep, quantiles).

use crate::spec::Closed;

/// How many rows a row-count window keeps, and whether the row itself is
/// one of them, for a period of `count` rows under `closed`.
pub(super) fn row_budget(count: usize, closed: Closed) -> (usize, bool) {
    match closed {
        Closed::Right => (count, true),
        Closed::Left => (count, false),
        Closed::Both => (count + 1, true),
        Closed::None => (count.saturating_sub(1), false),
    }
}

/// Whether a time window `[t - period, t]` includes its start and its end.
pub(super) fn time_bounds(closed: Closed) -> (bool, bool) {
    (matches!(closed, Closed::Left | Closed::Both), matches!(closed, Closed::Right | Closed::Both))
}
