//! Exact rolling quantiles (`median`, `quantile`) in O(log n) per row.
//!
//! The generic path hands every row's window to a fresh accumulator, which
//! then sorts it: O(rows × window) time and memory. Here each key's rows are
//! ranked once by value (sash's float order, NaN last), and one Fenwick tree
//! of counts over the ranks holds the window as it slides: a row entering or
//! leaving is one update, and the k-th smallest value one descent. The
//! answer is the one sorting the window gives (`interpolate_sorted`).

use crate::agg::as_f64_array;
use crate::agg::sketch::tdigest::lerp;
use crate::error::Result;
use arrow_array::{Array, ArrayRef, Float64Array};
use std::sync::Arc;

/// A key that orders floats as `cmp_f64` does (NaN above +inf, every NaN
/// alike), with -0 just below +0 so that the order is total.
fn order_key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Counts per rank, with prefix sums and k-th-element search in O(log n).
struct Fenwick {
    tree: Vec<u32>,
    /// The largest power of two not above the size: where the descent starts.
    top: usize,
}

impl Fenwick {
    fn new(size: usize) -> Fenwick {
        let top = if size == 0 { 0 } else { 1 << (usize::BITS - 1 - size.leading_zeros()) };
        Fenwick { tree: vec![0; size + 1], top }
    }

    fn add(&mut self, rank: usize, delta: i32) {
        let mut i = rank + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// The rank of the k-th (0-based) counted element; `k` is below the count.
    fn kth(&self, mut k: u32) -> usize {
        let mut at = 0;
        let mut step = self.top;
        while step > 0 {
            let next = at + step;
            if next < self.tree.len() && self.tree[next] <= k {
                k -= self.tree[next];
                at = next;
            }
            step >>= 1;
        }
        at
    }
}

/// The quantile `q` of the window of each row of one key's segment.
pub(super) struct QuantileSweep<'a> {
    values: &'a Float64Array,
    q: f64,
}

impl<'a> QuantileSweep<'a> {
    pub(super) fn new(values: &'a Float64Array, q: f64) -> Self {
        QuantileSweep { values, q }
    }

    /// Writes into `out[row]` the quantile of each row's window, given by
    /// `windows` as (row, from, to) over `segment` with both bounds moving
    /// forward (as `for_each_window` visits them).
    pub(super) fn run(
        &self,
        segment: &[u32],
        out: &mut [Option<f64>],
        windows: impl FnOnce(&mut dyn FnMut(u32, usize, usize) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        crate::exec::cancel::check()?;
        // Ranks of the segment's valid values; equal keys share a rank.
        let mut order: Vec<(u64, u32)> = segment
            .iter()
            .enumerate()
            .filter(|&(_, &row)| self.values.is_valid(row as usize))
            .map(|(k, &row)| (order_key(self.values.value(row as usize)), k as u32))
            .collect();
        order.sort_unstable();
        let mut rank_of = vec![u32::MAX; segment.len()];
        let mut value_of_rank: Vec<f64> = Vec::new();
        let mut last_key = None;
        for &(key, k) in &order {
            if last_key != Some(key) {
                value_of_rank.push(self.values.value(segment[k as usize] as usize));
                last_key = Some(key);
            }
            rank_of[k as usize] = (value_of_rank.len() - 1) as u32;
        }
        drop(order);
        let mut tree = Fenwick::new(value_of_rank.len());
        let (mut lo, mut hi, mut count) = (0usize, 0usize, 0u32);
        let move_bound = |tree: &mut Fenwick, k: usize, delta: i32, count: &mut u32| {
            let rank = rank_of[k];
            if rank != u32::MAX {
                tree.add(rank as usize, delta);
                *count = count.wrapping_add_signed(delta);
            }
        };
        let q = self.q;
        windows(&mut |row, from, to| {
            // A window may start past the last one's end (row-count windows
            // that leave the row out, time windows with gaps).
            let from = from.max(lo);
            while hi < to {
                if hi >= lo {
                    move_bound(&mut tree, hi, 1, &mut count);
                }
                hi += 1;
            }
            while lo < from {
                if lo < hi {
                    move_bound(&mut tree, lo, -1, &mut count);
                }
                lo += 1;
            }
            out[row as usize] = (count > 0).then(|| {
                let h = f64::from(count - 1) * q;
                let (below, above) = (h.floor() as u32, h.ceil() as u32);
                // As `interpolate_sorted` does with the window sorted.
                lerp(value_of_rank[tree.kth(below)], value_of_rank[tree.kth(above)], h - f64::from(below))
            });
            Ok(())
        })
    }
}

/// The value column of a quantile as floats, as the accumulator reads it.
pub(super) fn float_values(column: &ArrayRef) -> Result<Arc<Float64Array>> {
    as_f64_array(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agg::{cmp_f64, interpolate_sorted};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_order_key_orders_as_sash_does() {
        let values = [f64::NEG_INFINITY, -1e300, -1.0, -0.0, 0.0, 1e-300, 2.5, f64::INFINITY, f64::NAN];
        for w in values.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} < {}", w[0], w[1]);
            assert_ne!(cmp_f64(&w[0], &w[1]), std::cmp::Ordering::Greater);
        }
        assert_eq!(order_key(f64::NAN), order_key(-f64::NAN));
    }

    #[test]
    fn sliding_windows_give_what_sorting_each_window_gives() {
        let mut rng = StdRng::seed_from_u64(7);
        for case in 0..300 {
            let n = rng.random_range(0..120usize);
            let pick = [0.0, 1.0, -0.0, 2.0, f64::NAN, f64::INFINITY, -3.5, 1e308];
            let values: Float64Array = (0..n)
                .map(|_| match rng.random_range(0..10) {
                    0 => None,
                    1..=3 => Some(pick[rng.random_range(0..pick.len())]),
                    _ => Some(rng.random_range(-50..50) as f64 / 4.0),
                })
                .collect();
            let q = [0.0, 0.5, 1.0, 0.25, 0.9][case % 5];
            let segment: Vec<u32> = (0..n as u32).collect();
            // Forward-moving windows of random widths.
            let mut bounds = Vec::new();
            let (mut from, mut to) = (0usize, 0usize);
            for row in 0..n {
                to = (to + rng.random_range(0..3)).min(n).max(row.min(n));
                from = (from + rng.random_range(0..3)).min(to);
                bounds.push((row as u32, from, to));
            }
            let mut got = vec![None; n];
            QuantileSweep::new(&values, q)
                .run(&segment, &mut got, |visit| bounds.iter().try_for_each(|&(r, f, t)| visit(r, f, t)))
                .unwrap();
            for &(row, from, to) in &bounds {
                let mut window: Vec<f64> = (from..to).filter(|&i| values.is_valid(i)).map(|i| values.value(i)).collect();
                window.sort_unstable_by(cmp_f64);
                let expected = (!window.is_empty()).then(|| interpolate_sorted(&window, q));
                let same = match (got[row as usize], expected) {
                    (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
                    (a, b) => a.is_none() && b.is_none(),
                };
                assert!(same, "case {case} row {row}: {:?} vs {expected:?}", got[row as usize]);
            }
        }
    }
}
