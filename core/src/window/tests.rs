use super::*;
use arrow_array::{Float64Array, Int16Array, Int32Array, Int64Array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random rows: int64 time (sorted or not), an int32 and an int16 key
/// over small ranges with nulls, f64 and i64 values with nulls; in one to three batches.
fn random_input(rng: &mut StdRng) -> (SchemaRef, Vec<RecordBatch>) {
    let rows = rng.random_range(0..400usize);
    let keys = rng.random_range(1..40i32);
    let spread = rng.random_range(1..50i64);
    let mut times: Vec<i64> = (0..rows as i64).map(|i| i * spread / 4 + rng.random_range(0..spread)).collect();
    if rng.random_bool(0.3) {
        times.reverse();
    }
    let maybe = |rng: &mut StdRng| rng.random_bool(0.9);
    let key: Int32Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(0..keys))).collect();
    let x: Float64Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-100..100) as f64 / 4.0)).collect();
    let n: Int64Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-1000..1000))).collect();
    let second_keys = rng.random_range(1..6i16);
    let j: Int16Array = (0..rows).map(|_| maybe(rng).then(|| rng.random_range(-2..second_keys))).collect();
    let batch = RecordBatch::try_from_iter([
        ("t", Arc::new(Int64Array::from(times)) as ArrayRef),
        ("k", Arc::new(key) as ArrayRef),
        ("x", Arc::new(x) as ArrayRef),
        ("n", Arc::new(n) as ArrayRef),
        ("j", Arc::new(j) as ArrayRef),
    ])
    .unwrap();
    let cut = rng.random_range(0..=rows);
    (batch.schema(), vec![batch.slice(0, cut), batch.slice(cut, rows - cut)])
}

fn times(values: Vec<i64>) -> (SchemaRef, Vec<RecordBatch>) {
    let batch = RecordBatch::try_from_iter([("t", Arc::new(Int64Array::from(values)) as ArrayRef)]).unwrap();
    (batch.schema(), vec![batch])
}

#[test]
fn a_spec_with_more_windows_than_an_output_holds_is_refused_before_any_is_made() {
    let (schema, batches) = times(vec![0, 1]);
    let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 86400000000000, "aggs": ["count()"]}"#).unwrap();
    let err = window_agg(&schema, &batches, &spec).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::ResourceLimit, "{err}");
    assert!(err.to_string().contains(&format!("{MAX_OUTPUT_ROWS} windows")) && err.to_string().contains("86400000000000"), "{err}");
    // Two rows in a billion windows each: under 2^31, still refused.
    let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 1000000000, "aggs": ["count()"]}"#).unwrap();
    let (schema, batches) = times(vec![0, 1_000_000_000]);
    assert_eq!(window_agg(&schema, &batches, &spec).unwrap_err().kind(), crate::ErrorKind::ResourceLimit);
}

#[test]
fn many_windows_per_row_on_few_distinct_times_are_counted_and_pass() {
    // 500 rows in 600,000 windows each bound 3e8 windows, over the
    // limit; they share one time, so only 600,000 windows hold rows.
    let (schema, batches) = times(vec![5; 500]);
    let spec = WindowSpec::from_json(r#"{"time": "t", "every": 1, "period": 600000, "aggs": ["count()"]}"#).unwrap();
    let out = window_agg(&schema, &batches, &spec).unwrap();
    assert_eq!(out.num_rows(), 600_000);
}

fn random_spec(rng: &mut StdRng) -> WindowSpec {
    let every = rng.random_range(1..30);
    let kind = if rng.random_bool(0.3) {
        format!(r#""every": {every}"#)
    } else {
        let mut period = rng.random_range(1..90);
        if period == every {
            period += 1;
        }
        format!(r#""every": {every}, "period": {period}"#)
    };
    let by = [r#"["k"]"#, r#"["k"]"#, "[]", r#"["k", "j"]"#, r#"["j", "k"]"#][rng.random_range(0..5)];
    let closed = if rng.random_bool(0.5) { "left" } else { "right" };
    let offset = rng.random_range(-20..20);
    // With count(), pane blocks read which groups have rows off its
    // counts; without, they flag the groups of each row.
    let count = if rng.random_bool(0.5) { r#""count()", "# } else { "" };
    let aggs = format!(
        r#"[{count}"count(x)", "sum(n)", "mean(x)", "min(x)", "max(n)", "first(x)", "last(n)", "var(x)",
            "median(n)", "count_distinct(n)", "max_by(x, n)"]"#
    );
    WindowSpec::from_json(&format!(r#"{{"time": "t", {kind}, "by": {by}, "closed": "{closed}", "offset": {offset}, "aggs": {aggs}}}"#))
        .unwrap()
}

/// Equal, but for float sums and the like, which the reference computes
/// in another order: those within 1e-9, relative or absolute.
fn assert_close(got: &RecordBatch, expected: &RecordBatch, case: usize) {
    let types = |b: &RecordBatch| b.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
    assert_eq!(types(got), types(expected), "case {case}");
    for (name, (a, b)) in got.schema().fields().iter().map(|f| f.name()).zip(got.columns().iter().zip(expected.columns())) {
        match (a.as_any().downcast_ref::<Float64Array>(), b.as_any().downcast_ref::<Float64Array>()) {
            (Some(a), Some(b)) => {
                assert_eq!(a.len(), b.len(), "case {case}, {name}");
                for (x, y) in a.iter().zip(b) {
                    let close = match (x, y) {
                        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) || x.is_nan() && y.is_nan(),
                        (x, y) => x.is_none() && y.is_none(),
                    };
                    assert!(close, "case {case}, {name}: {x:?} vs {y:?}");
                }
            }
            _ => assert_eq!(a, b, "case {case}, {name}"),
        }
    }
}

#[test]
fn pane_blocks_and_the_slot_table_agree_with_the_reference() {
    let mut rng = StdRng::seed_from_u64(7);
    for case in 0..400 {
        let (schema, batches) = random_input(&mut rng);
        let spec = random_spec(&mut rng);
        let table = window_agg_storing(&schema, &batches, &spec, Store::Table, None).unwrap();
        assert_close(&table, &crate::reference::window_agg(&schema, &batches, &spec).unwrap(), case);
        // The same merges in the same order: equal to the bit.
        for store in [Store::Blocks, Store::Suited] {
            let got = window_agg_storing(&schema, &batches, &spec, store, None).unwrap();
            assert_eq!(got, table, "case {case}, {store:?}, spec {spec:?}");
        }
    }
}
