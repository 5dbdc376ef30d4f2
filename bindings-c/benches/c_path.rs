//! The cost of the C path over the Rust kernel (issue #5: at most 2% on the
//! 10M-row tumbling case).
//!
//! `cargo bench -p sash-c --bench c_path [-- --rows N]` builds N (default
//! 10M) rows (ts: timestamp[ms], key: int32 of 1000 keys, val: float64)
//! deterministically, then times 31 alternating runs of each: `sash_core::window_agg`
//! directly, and the same batch exported through the C Data Interface into
//! `sash_window_agg` with the result imported back. Prints one JSON line with
//! the overhead of the best runs and the median of the 31 paired ratios (each
//! C run over the Rust run just before it: the machine's drift cancels out).

use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{Array, Float64Array, Int32Array, RecordBatch, StructArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use sash::{sash_window_agg, SashStatus};
use sash_core::{window_agg, WindowSpec};
use std::ffi::CString;
use std::sync::Arc;
use std::time::Instant;

const SPEC: &str = r#"{"time": "ts", "every": "1m", "by": "key", "aggs": ["count()", "sum(val)", "mean(val)", "min(val)", "max(val)"]}"#;

fn data(rows: usize) -> RecordBatch {
    let mut state = 42u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let ts: Vec<i64> = (0..rows as i64).map(|i| i * 10).collect();
    let key: Vec<i32> = (0..rows).map(|_| (next() % 1000) as i32).collect();
    let val: Vec<f64> = (0..rows).map(|_| (next() % 100_000) as f64 / 100.0).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        Field::new("key", DataType::Int32, false),
        Field::new("val", DataType::Float64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(TimestampMillisecondArray::from(ts)), Arc::new(Int32Array::from(key)), Arc::new(Float64Array::from(val))],
    )
    .unwrap()
}

fn through_c(batch: &RecordBatch, spec: &CString) -> usize {
    let mut schema = FFI_ArrowSchema::try_from(batch.schema().as_ref()).unwrap();
    let (mut array, _) = to_ffi(&StructArray::from(batch.clone()).into_data()).unwrap();
    let (mut out, mut out_schema) = (FFI_ArrowArray::empty(), FFI_ArrowSchema::empty());
    // SAFETY: valid structs, exported just above.
    let status = unsafe { sash_window_agg(&mut array, &mut schema, spec.as_ptr(), &mut out, &mut out_schema) };
    assert_eq!(status, SashStatus::Ok);
    // SAFETY: produced by sash.
    let data = unsafe { from_ffi(out, &out_schema) }.unwrap();
    StructArray::from(data).len()
}

/// Times of each over `rounds` alternating runs, so both see the same
/// machine state (a noisy neighbour hurts both, not just one).
fn alternating<A: FnMut() -> usize, B: FnMut() -> usize>(rounds: usize, mut a: A, mut b: B) -> (Vec<f64>, Vec<f64>, usize, usize) {
    let (mut times_a, mut times_b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let (mut rows_a, mut rows_b) = (0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        rows_a = a();
        times_a.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        rows_b = b();
        times_b.push(t.elapsed().as_secs_f64());
    }
    (times_a, times_b, rows_a, rows_b)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = args.iter().position(|a| a == "--rows").and_then(|i| args.get(i + 1)).map_or(10_000_000, |n| n.parse().unwrap());
    let batch = data(rows);
    let schema = batch.schema();
    let spec = WindowSpec::from_json(SPEC).unwrap();
    let cspec = CString::new(SPEC).unwrap();
    // Interleave so both see the same machine state; warm up once each.
    let _ = window_agg(&schema, std::slice::from_ref(&batch), &spec).unwrap();
    let _ = through_c(&batch, &cspec);
    let (rust_times, c_times, rust_rows, c_rows) =
        alternating(31, || window_agg(&schema, std::slice::from_ref(&batch), &spec).unwrap().num_rows(), || through_c(&batch, &cspec));
    assert_eq!(rust_rows, c_rows);
    let best = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
    let (rust_s, c_s) = (best(&rust_times), best(&c_times));
    let paired = median(rust_times.iter().zip(&c_times).map(|(r, c)| c / r).collect());
    println!(
        "{{\"case\": \"tumbling\", \"rows\": {rows}, \"output_rows\": {c_rows}, \"rust_seconds\": {rust_s:.4}, \"c_seconds\": {c_s:.4}, \"c_overhead_pct\": {:.2}, \"c_overhead_pct_median_paired\": {:.2}}}",
        (c_s / rust_s - 1.0) * 100.0,
        (paired - 1.0) * 100.0
    );
}
