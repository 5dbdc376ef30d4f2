//! The cost of the C path over the Rust kernel (issue #5: at most 2% on the
//! 10M-row tumbling case).
//!
//! `cargo bench -p sash-c --bench c_path [-- --rows N]` builds N (default
//! 10M) rows (ts: timestamp[ms], key: int32 of 1000 keys, val: float64)
//! deterministically, then times the best of 15 alternating runs of each: `sash_core::window_agg`
//! directly, and the same batch exported through the C Data Interface into
//! `sash_window_agg` with the result imported back. Prints one JSON line.

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

/// Best time of each over `rounds` alternating runs, so both see the same
/// machine state (a noisy neighbour hurts both, not just one).
fn best_of_alternating<A: FnMut() -> usize, B: FnMut() -> usize>(rounds: usize, mut a: A, mut b: B) -> ((f64, usize), (f64, usize)) {
    let (mut best_a, mut best_b) = (f64::INFINITY, f64::INFINITY);
    let (mut rows_a, mut rows_b) = (0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        rows_a = a();
        best_a = best_a.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        rows_b = b();
        best_b = best_b.min(t.elapsed().as_secs_f64());
    }
    ((best_a, rows_a), (best_b, rows_b))
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
    let ((rust_s, rust_rows), (c_s, c_rows)) = best_of_alternating(
        15,
        || window_agg(&schema, std::slice::from_ref(&batch), &spec).unwrap().num_rows(),
        || through_c(&batch, &cspec),
    );
    assert_eq!(rust_rows, c_rows);
    println!(
        "{{\"case\": \"tumbling\", \"rows\": {rows}, \"output_rows\": {c_rows}, \"rust_seconds\": {rust_s:.4}, \"c_seconds\": {c_s:.4}, \"c_overhead_pct\": {:.2}}}",
        (c_s / rust_s - 1.0) * 100.0
    );
}
