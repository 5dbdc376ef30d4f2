use super::*;
use arrow_array::Float64Array;
use arrow_schema::Field;
use arrow_schema::SchemaRef;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Min and max of floats skip their NaN tests on an update whose values
/// hold no NaN. A slot fed over several updates, some with NaN and some
/// without, must still get sash's order (NaN above +inf): min ignores a
/// NaN unless all are NaN, max is NaN once any is.
#[test]
fn float_extremes_are_the_same_with_and_without_nan_in_an_update() {
    let pool = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.5, -2.5, 7.0];
    let schema = Schema::new(vec![Field::new("v", DataType::Float64, false)]);
    let aggs: Vec<AggExpr> = ["min(v)", "max(v)", "count(v)"].iter().map(|e| AggExpr::parse(e).unwrap()).collect();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..500 {
        let slots = rng.random_range(1..5u32);
        let mut plan = AggPlan::new(&schema, &aggs, &int64_time(0)).unwrap();
        plan.grow(slots as usize);
        let mut seen: Vec<Vec<f64>> = vec![Vec::new(); slots as usize];
        for _ in 0..rng.random_range(1..6) {
            // Some updates draw NaN, most not.
            let nan_allowed = rng.random_bool(0.3);
            let len = rng.random_range(0..20);
            let values: Vec<f64> = (0..len).map(|_| pool[rng.random_range(usize::from(!nan_allowed)..pool.len())]).collect();
            let row_slots: Vec<u32> = (0..len).map(|_| rng.random_range(0..slots)).collect();
            for (&v, &s) in values.iter().zip(&row_slots) {
                seen[s as usize].push(v);
            }
            let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(Float64Array::from(values))]).unwrap();
            plan.update(0, &batch, &Rows::Range(0..len), &row_slots).unwrap();
        }
        let all: Vec<u32> = (0..slots).collect();
        let out = plan.finish(&all).unwrap();
        let (min, max) = (out[0].as_primitive::<Float64Type>(), out[1].as_primitive::<Float64Type>());
        for (s, values) in seen.iter().enumerate() {
            if values.is_empty() {
                assert!(min.is_null(s) && max.is_null(s), "slot without values: {values:?}");
                continue;
            }
            let numbers: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            let want_min = numbers.iter().copied().reduce(f64::min).unwrap_or(f64::NAN);
            let want_max = if numbers.len() < values.len() { f64::NAN } else { numbers.iter().copied().reduce(f64::max).unwrap() };
            let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
            assert!(same(min.value(s), want_min), "min of {values:?}: {} not {want_min}", min.value(s));
            assert!(same(max.value(s), want_max), "max of {values:?}: {} not {want_max}", max.value(s));
        }
    }
}

fn int64_time(index: usize) -> TimeColumn {
    TimeColumn { name: "t".into(), index, ty: crate::spec::types::TimeType::Int64, data_type: DataType::Int64 }
}

/// Every aggregation, over columns with nulls, NaN, ±0.0, ±inf, ties and strings.
const STATE_AGGS: &[&str] = &[
    "count()",
    "count(i)",
    "sum(i)",
    "mean(i)",
    "min(i)",
    "max(i)",
    "sum(d)",
    "mean(d)",
    "min(d)",
    "min(s)",
    "max(s)",
    "first(s)",
    "last(i)",
    "first(f)",
    "last(f)",
    "min_by(s, i)",
    "max_by(i, f)",
    "min_by(f, s)",
    "min(f)",
    "max(f)",
    "count_distinct(s)",
    "count_distinct(f)",
    "approx_count_distinct(i)",
    "approx_count_distinct(s)",
    "median(i)",
    "quantile(f, 0.3)",
    "var(i)",
    "std(f)",
    "sum(f)",
    "mean(f)",
    "approx_quantile(i, 0.5)",
    "sum(n)",
    "first(n)",
];

fn state_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("t", DataType::Int64, false),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("d", DataType::Decimal128(12, 2), true),
        Field::new("n", DataType::Null, true),
    ]))
}

struct Row {
    t: i64,
    i: Option<i64>,
    f: Option<f64>,
    s: Option<String>,
    d: Option<i128>,
    slot: u32,
}

fn batch_of(rows: &[&Row]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.t))),
        Arc::new(rows.iter().map(|r| r.i).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.f).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.s.clone()).collect::<arrow_array::StringArray>()),
        Arc::new(rows.iter().map(|r| r.d).collect::<arrow_array::Decimal128Array>().with_precision_and_scale(12, 2).unwrap()),
        new_null_array(&DataType::Null, rows.len()),
    ];
    RecordBatch::try_new(state_schema(), columns).unwrap()
}

fn random_row(rng: &mut StdRng, slots: u32) -> Row {
    let floats = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.5, -2.5, 7.25, 1e16, -1e16, 3.0];
    Row {
        t: rng.random_range(0..12),
        i: rng.random_bool(0.85).then(|| rng.random_range(-50..50)),
        f: rng.random_bool(0.85).then(|| floats[rng.random_range(0..floats.len())]),
        s: rng.random_bool(0.85).then(|| ["a", "b", "bb", "", "zz", "é"][rng.random_range(0..6)].to_string()),
        d: rng.random_bool(0.85).then(|| rng.random_range(-10_000..10_000)),
        slot: rng.random_range(0..slots),
    }
}

/// Aggregates `rows` (any order) as one input whose rows are at
/// positions `first..`: sorted by time, ties in the given order.
fn aggregate_part(aggs: &[AggExpr], rows: &[&Row], first: u64, slots: u32) -> AggPlan {
    let mut sorted: Vec<&Row> = rows.to_vec();
    sorted.sort_by_key(|r| r.t);
    let batch = batch_of(&sorted);
    let mut plan = AggPlan::new(&state_schema(), aggs, &int64_time(0)).unwrap();
    plan.begin_input(std::slice::from_ref(&batch), first);
    plan.grow(slots as usize);
    let row_slots: Vec<u32> = sorted.iter().map(|r| r.slot).collect();
    // Two updates, so that picks see rows of one input in two calls.
    let half = sorted.len() / 2;
    plan.update(0, &batch, &Rows::Range(0..half), &row_slots[..half]).unwrap();
    plan.update(0, &batch, &Rows::Range(half..sorted.len()), &row_slots[half..]).unwrap();
    plan
}

/// Split any input at random into parts, aggregate each part, export the
/// states and merge them in any grouping: the result is the whole's.
#[test]
fn merged_states_of_any_split_equal_the_whole() {
    let aggs: Vec<AggExpr> = STATE_AGGS.iter().map(|e| AggExpr::parse(e).unwrap()).collect();
    let mut rng = StdRng::seed_from_u64(11);
    for case in 0..300 {
        let slots = rng.random_range(1..5u32);
        let n_parts = rng.random_range(1..6usize);
        let parts: Vec<Vec<Row>> =
            (0..n_parts).map(|_| (0..rng.random_range(0..40)).map(|_| random_row(&mut rng, slots)).collect()).collect();
        // The whole: every part's rows in part order, as one input.
        let all: Vec<&Row> = parts.iter().flatten().collect();
        let all_slots: Vec<u32> = (0..slots).collect();
        let want = aggregate_part(&aggs, &all, 0, slots).finish(&all_slots).unwrap();
        // Each part at the positions it has in the whole.
        let mut states: Vec<Vec<ArrayRef>> = Vec::new();
        let mut first = 0u64;
        for part in &parts {
            let rows: Vec<&Row> = part.iter().collect();
            let mut plan = aggregate_part(&aggs, &rows, first, slots);
            if rng.random_bool(0.5) {
                plan.detach().unwrap();
            }
            states.push(plan.state(&all_slots).unwrap());
            first += part.len() as u64;
        }
        // Merge in a random order, through random intermediate merges.
        while states.len() > 1 || rng.random_bool(0.3) {
            let take = rng.random_range(1..=states.len());
            let mut merged = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
            merged.grow(slots as usize);
            for _ in 0..take {
                let state = states.remove(rng.random_range(0..states.len()));
                merged.merge_state(&state, &all_slots).unwrap();
            }
            if rng.random_bool(0.5) {
                merged.detach().unwrap();
            }
            states.insert(rng.random_range(0..=states.len()), merged.state(&all_slots).unwrap());
        }
        let mut last = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
        last.grow(slots as usize);
        last.merge_state(&states[0], &all_slots).unwrap();
        let got = last.finish(&all_slots).unwrap();
        for ((text, want), got) in STATE_AGGS.iter().zip(&want).zip(&got) {
            let float_result = ["var(", "std(", "sum(f", "mean(", "approx_quantile("].iter().any(|p| text.starts_with(p));
            if !float_result {
                assert_eq!(want.to_data(), got.to_data(), "case {case}, {text}: {want:?} vs {got:?}");
                continue;
            }
            // Float sums and moments round differently when grouped differently.
            let (want, got) = (want.as_primitive::<Float64Type>(), got.as_primitive::<Float64Type>());
            for s in 0..slots as usize {
                assert_eq!(want.is_null(s), got.is_null(s), "case {case}, {text}, slot {s}");
                let (w, g) = (want.value(s), got.value(s));
                let close = w == g || (w.is_nan() && g.is_nan()) || (w - g).abs() <= 1e-9 * w.abs().max(1.0) || text.starts_with("approx");
                // A sum of ±1e16 and small values may lose the small ones in one order and not another.
                let cancelling = text.contains("(f") && (w.abs() < 1e3 || g.abs() < 1e3);
                assert!(close || cancelling, "case {case}, {text}, slot {s}: {w} vs {g}");
            }
        }
    }
}

#[test]
fn a_state_with_wrong_columns_is_an_error() {
    let aggs: Vec<AggExpr> =
        ["count()", "first(s)", "approx_quantile(i, 0.5)", "approx_count_distinct(s)"].iter().map(|e| AggExpr::parse(e).unwrap()).collect();
    let row = Row { t: 1, i: Some(1), f: None, s: Some("x".into()), d: None, slot: 0 };
    let plan = aggregate_part(&aggs, &[&row], 0, 1);
    let state = plan.state(&[0]).unwrap();
    let mut fresh = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
    fresh.grow(1);
    let err = fresh.merge_state(&state[1..], &[0]).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
    let mut swapped = state.clone();
    swapped.swap(0, 1);
    assert!(fresh.merge_state(&swapped, &[0]).is_err());
    // Sketch bytes that do not decode.
    for column in [state.len() - 2, state.len() - 1] {
        let mut bad = state.clone();
        bad[column] = Arc::new(BinaryArray::from(vec![&b"\x07garbage"[..]]));
        let err = fresh.merge_state(&bad, &[0]).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
    }
    let mut negative = state.clone();
    negative[0] = Arc::new(Int64Array::from(vec![-3]));
    assert!(fresh.merge_state(&negative, &[0]).is_err());
    // No failed merge changed anything, though each had valid columns
    // before the bad one.
    let mut untouched = AggPlan::new(&state_schema(), &aggs, &int64_time(0)).unwrap();
    untouched.grow(1);
    assert_eq!(fresh.state(&[0]).unwrap(), untouched.state(&[0]).unwrap());
    fresh.merge_state(&state, &[0]).unwrap();
    assert_eq!(fresh.finish(&[0]).unwrap()[0].as_primitive::<Int64Type>().value(0), 1);
}
