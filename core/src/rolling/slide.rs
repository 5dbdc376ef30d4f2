//! Rolling `count_distinct`, `first` and `last` by one sweep per key: each
//! window's bounds only move forward, so values enter and leave once, where
//! feeding every window its rows again (the generic path) costs rows times
//! window length.

use super::{for_each_window, KeySegments};
use crate::error::Result;
use crate::spec::RollingSpec;
use arrow_array::{Array, ArrayRef, Int64Array, UInt32Array};
use std::sync::Arc;

/// `count_distinct(column)` of every row's window.
pub(super) fn count_distinct(
    column: &ArrayRef,
    segments: &KeySegments,
    times: &[i64],
    spec: &RollingSpec,
    period: Option<i64>,
) -> Result<ArrayRef> {
    let (keys, nulls) = crate::agg::distinct_keys(column)?;
    let valid = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));
    let mut out = vec![0i64; column.len()];
    let mut counts: hashbrown::HashMap<&[u8], u32> = hashbrown::HashMap::new();
    for segment in segments.iter() {
        counts.clear();
        let (mut lo, mut hi) = (0usize, 0usize);
        for_each_window(segment, times, spec, period, &mut |row, from, to| {
            // Bounds only move forward: add what entered, take out what left.
            while hi < to {
                let r = segment[hi] as usize;
                if valid(r) {
                    *counts.entry(keys.row(r).data()).or_insert(0) += 1;
                }
                hi += 1;
            }
            while lo < from {
                let r = segment[lo] as usize;
                if valid(r) && lo < hi {
                    let key = keys.row(r).data();
                    let left = counts.get_mut(key).expect("a value in the window is counted");
                    *left -= 1;
                    if *left == 0 {
                        counts.remove(key);
                    }
                }
                lo += 1;
            }
            hi = hi.max(lo);
            out[row as usize] = counts.len() as i64;
            Ok(())
        })?;
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// `first(column)` (or `last`) of every row's window: its first (last)
/// non-null value in time order, ties in input order; null when it has none.
pub(super) fn first_or_last(
    column: &ArrayRef,
    last: bool,
    segments: &KeySegments,
    times: &[i64],
    spec: &RollingSpec,
    period: Option<i64>,
) -> Result<ArrayRef> {
    let nulls = column.logical_nulls();
    let valid = |row: u32| nulls.as_ref().is_none_or(|n| n.is_valid(row as usize));
    let mut picked: Vec<Option<u32>> = vec![None; column.len()];
    let mut nearest: Vec<Option<usize>> = Vec::new();
    for segment in segments.iter() {
        // For each place in the segment, the nearest valid place at or after
        // it (first) or at or before it (last).
        nearest.clear();
        nearest.resize(segment.len(), None);
        if last {
            let mut seen = None;
            for (k, &row) in segment.iter().enumerate() {
                if valid(row) {
                    seen = Some(k);
                }
                nearest[k] = seen;
            }
        } else {
            let mut seen = None;
            for (k, &row) in segment.iter().enumerate().rev() {
                if valid(row) {
                    seen = Some(k);
                }
                nearest[k] = seen;
            }
        }
        for_each_window(segment, times, spec, period, &mut |row, from, to| {
            if from < to {
                let k = if last { nearest[to - 1].filter(|&k| k >= from) } else { nearest[from].filter(|&k| k < to) };
                picked[row as usize] = k.map(|k| segment[k]);
            }
            Ok(())
        })?;
    }
    Ok(arrow_select::take::take(column.as_ref(), &UInt32Array::from(picked), None)?)
}
