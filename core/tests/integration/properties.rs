//! Property tests: the engine (`sash_core::window_agg`, `sash_core::rolling`)
//! against the brute-force reference (`sash_core::reference`) on random data.
//!
//! Each case is generated from one `u64` seed, so a failure is replayed by its
//! seed (proptest prints it and stores it in its regressions file). The number
//! of cases per property defaults to 200; `PROPTEST_CASES` overrides it.
//!
//! Comparison: schemas exactly (metadata included); values exactly, except
//! Float32/Float64 columns (relative and absolute tolerance 1e-9, NaN equal to
//! NaN), dictionaries (by decoded value), `approx_count_distinct` (2% of the
//! exact count, at least 1) and `approx_quantile` (null where the exact one is
//! null; within the window's range; for windows of 100 values or more, between
//! the exact quantiles at q ± 0.03). When both fail, the error kinds match.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array, DictionaryArray, DurationMillisecondArray,
    DurationSecondArray, Float64Array, Int32Array, Int64Array, LargeStringArray, NullArray, RecordBatch, StringArray, StringViewArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sash_core::duration::Duration;
use sash_core::expr::{AggExpr, AggFunc};
use sash_core::reference;
use sash_core::spec::{Closed, NullTime, RollingPeriod, RollingSpec, WindowKind, WindowSpec};
use sash_core::types::TimeType;
use sash_core::Result;
use std::sync::Arc;

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One random input: a schema, its batches and how durations are drawn.
#[derive(Debug)]
struct Input {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    time_type: TimeType,
    /// Ticks in one "unit" of the generated times and durations.
    unit: i64,
    keys: Vec<String>,
}

/// One generated row; keys and strings are indices into small pools.
#[derive(Debug, Clone, Copy)]
struct Row {
    time: Option<i64>,
    keys: [Option<u8>; 2],
    vi: Option<i64>,
    vf: Option<f64>,
    vs: Option<u8>,
    vb: Option<bool>,
    vd: Option<i128>,
}

const STRINGS: &[&str] = &["a", "b", "ab", "", "zz", "é", "B"];

struct Flavour {
    null_rate: f64,
    nan: bool,
    huge_ints: bool,
    null_times: bool,
}

fn random_row(rng: &mut StdRng, f: &Flavour, time: i64, key_cardinality: u8) -> Row {
    let null = |rng: &mut StdRng| rng.random_bool(f.null_rate);
    let key = |rng: &mut StdRng| {
        if null(rng) {
            None
        } else {
            Some(rng.random_range(0..key_cardinality))
        }
    };
    let keys = [key(rng), key(rng)];
    let vf = if null(rng) {
        None
    } else if f.nan && rng.random_bool(0.1) {
        Some(*pick(rng, &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]))
    } else {
        Some(rng.random_range(-100_000i32..100_000) as f64 / 100.0)
    };
    Row {
        time: if f.null_times && rng.random_bool(0.1) { None } else { Some(time) },
        keys,
        vi: if null(rng) {
            None
        } else if f.huge_ints && rng.random_bool(0.3) {
            Some(rng.random_range(i64::MAX / 4..=i64::MAX) * if rng.random_bool(0.5) { 1 } else { -1 })
        } else {
            Some(rng.random_range(-1000..1000))
        },
        vf,
        vs: if null(rng) { None } else { Some(rng.random_range(0..STRINGS.len() as u8)) },
        vb: if null(rng) { None } else { Some(rng.random_bool(0.5)) },
        vd: if null(rng) { None } else { Some(rng.random_range(-1_000_000..1_000_000)) },
    }
}

fn time_array(data_type: &DataType, rows: &[Row]) -> ArrayRef {
    let t: Vec<Option<i64>> = rows.iter().map(|r| r.time).collect();
    let narrow = || t.iter().map(|v| v.map(|x| i32::try_from(x).expect("generated in range"))).collect::<Vec<_>>();
    match data_type {
        DataType::Timestamp(TimeUnit::Second, tz) => Arc::new(TimestampSecondArray::from(t).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => Arc::new(TimestampMillisecondArray::from(t).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(TimestampMicrosecondArray::from(t).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Nanosecond, tz) => Arc::new(TimestampNanosecondArray::from(t).with_timezone_opt(tz.clone())),
        DataType::Date32 => Arc::new(Date32Array::from(narrow())),
        DataType::Date64 => Arc::new(Date64Array::from(t)),
        DataType::Int32 => Arc::new(Int32Array::from(narrow())),
        DataType::Int64 => Arc::new(Int64Array::from(t)),
        other => unreachable!("{other}"),
    }
}

fn key_array(data_type: &DataType, cells: Vec<Option<u8>>) -> ArrayRef {
    match data_type {
        DataType::Int32 => Arc::new(Int32Array::from(cells.iter().map(|c| c.map(|v| i32::from(v) * 7 - 10)).collect::<Vec<_>>())),
        DataType::Utf8 => Arc::new(StringArray::from(cells.iter().map(|c| c.map(|v| STRINGS[usize::from(v)])).collect::<Vec<_>>())),
        DataType::LargeUtf8 => {
            Arc::new(LargeStringArray::from(cells.iter().map(|c| c.map(|v| STRINGS[usize::from(v)])).collect::<Vec<_>>()))
        }
        DataType::Utf8View => Arc::new(StringViewArray::from(cells.iter().map(|c| c.map(|v| STRINGS[usize::from(v)])).collect::<Vec<_>>())),
        DataType::Binary => {
            Arc::new(BinaryArray::from(cells.iter().map(|c| c.map(|v| STRINGS[usize::from(v)].as_bytes())).collect::<Vec<_>>()))
        }
        DataType::Dictionary(_, _) => {
            Arc::new(cells.iter().map(|c| c.map(|v| STRINGS[usize::from(v)])).collect::<DictionaryArray<Int32Type>>())
        }
        DataType::Boolean => Arc::new(BooleanArray::from(cells.iter().map(|c| c.map(|v| v % 2 == 1)).collect::<Vec<_>>())),
        // -0.0 and 0.0 are one key, as are NaNs whatever their bits.
        DataType::Float64 => {
            let pool = [0.0, -0.0, f64::NAN, -f64::NAN, 1.5, f64::INFINITY, -1e300];
            Arc::new(Float64Array::from(cells.iter().map(|c| c.map(|v| pool[usize::from(v) % pool.len()])).collect::<Vec<_>>()))
        }
        DataType::Decimal128(_, _) => Arc::new(
            Decimal128Array::from(cells.iter().map(|c| c.map(|v| i128::from(v) * 125 - 250)).collect::<Vec<_>>())
                .with_precision_and_scale(10, 2)
                .expect("valid"),
        ),
        DataType::Duration(_) => {
            Arc::new(DurationSecondArray::from(cells.iter().map(|c| c.map(|v| i64::from(v) * 90 - 100)).collect::<Vec<_>>()))
        }
        // A column pyarrow infers from a list of Nones: one null group.
        DataType::Null => Arc::new(NullArray::new(cells.len())),
        other => unreachable!("{other}"),
    }
}

fn batch(schema: &SchemaRef, key_types: &[DataType], rows: &[Row]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, t) in key_types.iter().enumerate() {
        columns.push(key_array(t, rows.iter().map(|r| r.keys[i]).collect()));
    }
    let time_index = key_types.len();
    columns.push(time_array(schema.field(time_index).data_type(), rows));
    columns.push(Arc::new(Int64Array::from(rows.iter().map(|r| r.vi).collect::<Vec<_>>())));
    columns.push(Arc::new(Float64Array::from(rows.iter().map(|r| r.vf).collect::<Vec<_>>())));
    columns.push(Arc::new(StringArray::from(rows.iter().map(|r| r.vs.map(|v| STRINGS[usize::from(v)])).collect::<Vec<_>>())));
    columns.push(Arc::new(BooleanArray::from(rows.iter().map(|r| r.vb).collect::<Vec<_>>())));
    columns.push(Arc::new(
        Decimal128Array::from(rows.iter().map(|r| r.vd).collect::<Vec<_>>()).with_precision_and_scale(12, 3).expect("valid"),
    ));
    // What pandas and Polars make of a column of Nones.
    columns.push(Arc::new(NullArray::new(rows.len())));
    // Ordered by value, not storage: a dictionary (indices in order of first
    // appearance), bytes, a duration.
    let other_string = |r: &Row| r.vs.map(|v| STRINGS[(usize::from(v) + 3) % STRINGS.len()]);
    columns.push(Arc::new(rows.iter().map(other_string).collect::<DictionaryArray<Int32Type>>()));
    columns.push(Arc::new(BinaryArray::from(rows.iter().map(|r| other_string(r).map(str::as_bytes)).collect::<Vec<_>>())));
    columns.push(Arc::new(DurationMillisecondArray::from(rows.iter().map(|r| r.vi).collect::<Vec<_>>())));
    RecordBatch::try_new(schema.clone(), columns).expect("valid batch")
}

fn random_input(rng: &mut StdRng) -> Input {
    let tz =
        |rng: &mut StdRng| -> Option<Arc<str>> { pick(rng, &[None, Some("UTC"), Some("Europe/Paris"), Some("+05:30")]).map(Arc::from) };
    let time_type = match rng.random_range(0..8) {
        0 => DataType::Timestamp(TimeUnit::Second, tz(rng)),
        1 => DataType::Timestamp(TimeUnit::Millisecond, tz(rng)),
        2 => DataType::Timestamp(TimeUnit::Microsecond, tz(rng)),
        3 => DataType::Timestamp(TimeUnit::Nanosecond, tz(rng)),
        4 => DataType::Date32,
        5 => DataType::Date64,
        6 => DataType::Int32,
        _ => DataType::Int64,
    };
    let unit: i64 = match &time_type {
        DataType::Timestamp(TimeUnit::Second, _) => *pick(rng, &[1, 60]),
        DataType::Timestamp(TimeUnit::Millisecond, _) => *pick(rng, &[1, 1000]),
        DataType::Timestamp(TimeUnit::Microsecond, _) => *pick(rng, &[1, 1_000_000]),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => *pick(rng, &[1, 1000, 1_000_000_000]),
        DataType::Date64 => *pick(rng, &[1, 86_400_000]),
        DataType::Date32 => 1,
        _ => *pick(rng, &[1, 10]),
    };
    let (type_min, type_max): (i64, i64) = match time_type {
        DataType::Date32 | DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    };
    let span_units: i64 = *pick(rng, &[5, 30, 200]);
    let span = span_units * unit;
    // Mostly ordinary times; now and then times at the edges of the type, where window bounds overflow.
    let base: i64 = match rng.random_range(0..40) {
        0 => type_max - span - rng.random_range(0..3 * unit),
        1 => type_min + rng.random_range(0..3 * unit),
        _ => rng.random_range(-10_000..10_000) * unit / 2,
    };
    let jitter = rng.random_bool(0.5);
    let key_count = rng.random_range(0..=2usize);
    let key_types: Vec<DataType> = (0..key_count)
        .map(|_| {
            pick(
                rng,
                &[
                    DataType::Int32,
                    DataType::Utf8,
                    DataType::LargeUtf8,
                    DataType::Utf8View,
                    DataType::Binary,
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    DataType::Boolean,
                    DataType::Null,
                    DataType::Float64,
                    DataType::Decimal128(10, 2),
                    DataType::Duration(TimeUnit::Second),
                ],
            )
            .clone()
        })
        .collect();
    let mut fields: Vec<Field> = key_types.iter().enumerate().map(|(i, t)| Field::new(format!("k{i}"), t.clone(), true)).collect();
    fields.push(Field::new("t", time_type.clone(), rng.random_bool(0.8)));
    fields.push(Field::new("vi", DataType::Int64, true));
    fields.push(Field::new("vf", DataType::Float64, true));
    fields.push(Field::new("vs", DataType::Utf8, true));
    fields.push(Field::new("vb", DataType::Boolean, true));
    fields.push(Field::new("vd", DataType::Decimal128(12, 3), true));
    fields.push(Field::new("vn", DataType::Null, true));
    fields.push(Field::new("vc", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true));
    fields.push(Field::new("vy", DataType::Binary, true));
    fields.push(Field::new("vu", DataType::Duration(TimeUnit::Millisecond), true));
    let flavour = Flavour {
        null_rate: *pick(rng, &[0.0, 0.1, 0.5]),
        nan: rng.random_bool(0.3),
        huge_ints: rng.random_bool(0.05),
        null_times: fields[key_count].is_nullable() && rng.random_bool(0.3),
    };
    let schema = Arc::new(Schema::new(fields));
    let key_cardinality = rng.random_range(1..=4);
    let row = |rng: &mut StdRng| {
        let offset = rng.random_range(0..=span_units) * unit + if jitter { rng.random_range(0..unit) } else { 0 };
        random_row(rng, &flavour, base + offset.min(span), key_cardinality)
    };
    let n = rng.random_range(0..300usize);
    let mut rows: Vec<Row> = (0..n).map(|_| row(rng)).collect();
    if rng.random_bool(0.4) {
        rows.sort_by_key(|r| r.time);
    }
    let batch_count = rng.random_range(1..=3usize);
    let mut cuts: Vec<usize> = (1..batch_count).map(|_| rng.random_range(0..=n)).collect();
    cuts.sort();
    cuts.insert(0, 0);
    cuts.push(n);
    let mut batches = Vec::new();
    for w in cuts.windows(2) {
        let part = &rows[w[0]..w[1]];
        if rng.random_bool(0.5) {
            // Pad with rows that the slice leaves out, so the batch has a non-zero offset.
            let before = rng.random_range(1..5);
            let after = rng.random_range(0..5);
            let mut padded: Vec<Row> = (0..before).map(|_| row(rng)).collect();
            padded.extend_from_slice(part);
            padded.extend((0..after).map(|_| row(rng)));
            batches.push(batch(&schema, &key_types, &padded).slice(before, part.len()));
        } else {
            batches.push(batch(&schema, &key_types, part));
        }
    }
    Input {
        time_type: TimeType::of("t", &time_type).expect("a time type"),
        schema,
        batches,
        unit,
        keys: (0..key_count).map(|i| format!("k{i}")).collect(),
    }
}

/// A duration of `units` units of the input, now and then one that does not fit the column.
fn duration(rng: &mut StdRng, input: &Input, units: i64) -> Duration {
    let ticks = units * input.unit;
    match input.time_type.nanos_per_tick() {
        Some(per_tick) if per_tick > 1 && rng.random_bool(0.02) => Duration::Time { nanos: ticks * per_tick + 1 },
        Some(per_tick) => Duration::Time { nanos: ticks * per_tick },
        None if rng.random_bool(0.01) => Duration::Time { nanos: 1_000_000_000 },
        None => Duration::Count(ticks),
    }
}

/// A duration of a random number of units in `units`.
fn random_duration(rng: &mut StdRng, input: &Input, units: std::ops::RangeInclusive<i64>) -> Duration {
    let units = rng.random_range(units);
    duration(rng, input, units)
}

fn random_aggs(rng: &mut StdRng, input: &Input) -> Vec<AggExpr> {
    let numeric = ["vi", "vf", "vd", "vn"];
    let orderable = ["vi", "vf", "vd", "vs", "vb", "t", "vn", "vc", "vy", "vu"];
    let mut any: Vec<&str> = vec!["vi", "vf", "vd", "vs", "vb", "t", "vn", "vc", "vy", "vu"];
    any.extend(input.keys.iter().map(String::as_str));
    let quantiles = [0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0];
    let count = rng.random_range(1..=6);
    (0..count)
        .map(|i| {
            let text = match rng.random_range(0..17) {
                0 => "count()".to_string(),
                1 => format!("count({})", pick(rng, &any)),
                2 => format!("sum({})", pick(rng, &numeric)),
                3 => format!("mean({})", pick(rng, &numeric)),
                4 => format!("min({})", pick(rng, &orderable)),
                5 => format!("max({})", pick(rng, &orderable)),
                6 => format!("first({})", pick(rng, &any)),
                7 => format!("last({})", pick(rng, &any)),
                8 => format!("var({})", pick(rng, &numeric)),
                9 => format!("std({})", pick(rng, &numeric)),
                10 => format!("median({})", pick(rng, &numeric)),
                11 => format!("quantile({}, {})", pick(rng, &numeric), pick(rng, &quantiles)),
                12 => format!("count_distinct({})", pick(rng, &any)),
                13 => format!("approx_count_distinct({})", pick(rng, &any)),
                14 => format!("approx_quantile({}, {})", pick(rng, &numeric), pick(rng, &quantiles)),
                15 => format!("min_by({}, {})", pick(rng, &any), pick(rng, &orderable)),
                _ => format!("max_by({}, {})", pick(rng, &any), pick(rng, &orderable)),
            };
            AggExpr::parse(&format!("{text} as a{i}")).expect("a valid expression")
        })
        .collect()
}

fn random_keys(rng: &mut StdRng, input: &Input) -> Vec<String> {
    let mut keys = input.keys.clone();
    if keys.len() == 2 && rng.random_bool(0.3) {
        keys.swap(0, 1);
    }
    if !keys.is_empty() && rng.random_bool(0.2) {
        keys.pop();
    }
    keys
}

fn null_time(rng: &mut StdRng) -> NullTime {
    if rng.random_bool(0.5) {
        NullTime::Error
    } else {
        NullTime::Drop
    }
}

fn random_window_spec(rng: &mut StdRng, input: &Input) -> WindowSpec {
    let kind = match rng.random_range(0..3) {
        0 => WindowKind::Tumbling { every: random_duration(rng, input, 1..=20) },
        1 => {
            let every = rng.random_range(1..=10);
            let period = if rng.random_bool(0.8) { every * rng.random_range(1..=4) } else { rng.random_range(1..=30) };
            WindowKind::Hopping { every: duration(rng, input, every), period: duration(rng, input, period) }
        }
        _ => WindowKind::Session { gap: random_duration(rng, input, 1..=10) },
    };
    let grid = !matches!(kind, WindowKind::Session { .. });
    WindowSpec {
        time: "t".to_string(),
        kind,
        offset: if grid && rng.random_bool(0.5) { Some(random_duration(rng, input, -15..=15)) } else { None },
        by: random_keys(rng, input),
        aggs: random_aggs(rng, input),
        closed: if grid && rng.random_bool(0.5) { Closed::Right } else { Closed::Left },
        null_time: null_time(rng),
    }
}

fn random_rolling_spec(rng: &mut StdRng, input: &Input) -> RollingSpec {
    RollingSpec {
        time: "t".to_string(),
        period: if rng.random_bool(0.6) {
            RollingPeriod::Time(random_duration(rng, input, 1..=30))
        } else {
            RollingPeriod::Rows(rng.random_range(1..=12))
        },
        by: random_keys(rng, input),
        aggs: random_aggs(rng, input),
        closed: *pick(rng, &[Closed::Right, Closed::Left, Closed::Both, Closed::None]),
        null_time: null_time(rng),
    }
}

/// A rolling spec the streaming paths take: a time period (or sometimes a
/// row count) and only count, sum, mean, min, max, var and std of one numeric column, so the
/// random cases reach them often (with `random_aggs` they rarely would).
fn random_running_spec(rng: &mut StdRng, input: &Input) -> RollingSpec {
    // Time periods 60% of the time, row counts 40%.
    let mut spec = random_rolling_spec(rng, input);
    let column = *pick(rng, &["vf", "vf", "vi"]);
    let count = rng.random_range(1..=4);
    spec.aggs = (0..count)
        .map(|i| {
            let text = match rng.random_range(0..8) {
                0 => "count()".to_string(),
                1 => format!("count({column})"),
                2 => format!("sum({column})"),
                3 => format!("min({column})"),
                4 => format!("max({column})"),
                5 => format!("var({column})"),
                6 => format!("std({column})"),
                _ => format!("mean({column})"),
            };
            AggExpr::parse(&format!("{text} as a{i}")).expect("a valid expression")
        })
        .collect();
    spec
}

/// Extra exact aggregations that bound each `approx_quantile` of `aggs`:
/// (alias, [q - 0.03, q + 0.03, min, max, count] aliases).
fn approx_bounds(aggs: &[AggExpr]) -> Vec<AggExpr> {
    let mut extra = Vec::new();
    for a in aggs.iter().filter(|a| a.func == AggFunc::ApproxQuantile) {
        let q = a.q.expect("a quantile");
        let exact = |q: f64, tag: &str| AggExpr {
            func: AggFunc::Quantile,
            column: a.column.clone(),
            by_column: None,
            q: Some(q.clamp(0.0, 1.0)),
            alias: format!("__{tag}_{}", a.alias),
        };
        extra.push(exact(q - 0.03, "lo"));
        extra.push(exact(q + 0.03, "hi"));
        extra.push(exact(0.0, "min"));
        extra.push(exact(1.0, "max"));
        extra.push(AggExpr { func: AggFunc::Count, column: a.column.clone(), by_column: None, q: None, alias: format!("__n_{}", a.alias) });
    }
    extra
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 + 1e-9 * a.abs().max(b.abs())
}

fn floats(array: &dyn Array) -> Vec<Option<f64>> {
    match array.data_type() {
        DataType::Float32 => array.as_primitive::<Float32Type>().iter().map(|v| v.map(f64::from)).collect(),
        _ => array.as_primitive::<Float64Type>().iter().collect(),
    }
}

/// Compares the engine's output with the reference's. `bounds` is the
/// reference run with [`approx_bounds`] appended, when there are approx quantiles.
fn compare(
    engine: &RecordBatch,
    expected: &RecordBatch,
    aggs: &[AggExpr],
    bounds: Option<&RecordBatch>,
) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(engine.schema(), expected.schema(), "schemas differ");
    prop_assert_eq!(engine.num_rows(), expected.num_rows(), "row counts differ");
    for (i, field) in expected.schema().fields().iter().enumerate() {
        let name = field.name();
        let (got, want) = (engine.column(i), expected.column(i));
        let func = aggs.iter().find(|a| &a.alias == name).map(|a| a.func);
        match (func, field.data_type()) {
            (Some(AggFunc::ApproxCountDistinct), _) => {
                let (got, want) =
                    (got.as_primitive::<arrow_array::types::Int64Type>(), want.as_primitive::<arrow_array::types::Int64Type>());
                for row in 0..want.len() {
                    prop_assert_eq!(got.is_null(row), want.is_null(row), "{} row {}: null-ness", name, row);
                    let (g, w) = (got.value(row), want.value(row));
                    let slack = (0.02 * w as f64).max(if w == 0 { 0.0 } else { 1.0 });
                    prop_assert!(((g - w).abs() as f64) <= slack, "{} row {}: {} vs exact {}", name, row, g, w);
                }
            }
            (Some(AggFunc::ApproxQuantile), _) => {
                let bounds = bounds.expect("bounds computed");
                let column = |tag: &str| floats(bounds.column_by_name(&format!("__{tag}_{name}")).expect("bound column").as_ref());
                let (lo, hi, min, max) = (column("lo"), column("hi"), column("min"), column("max"));
                let n = bounds
                    .column_by_name(&format!("__n_{name}"))
                    .expect("count column")
                    .as_primitive::<arrow_array::types::Int64Type>()
                    .clone();
                let (got, want) = (floats(got.as_ref()), floats(want.as_ref()));
                for row in 0..want.len() {
                    prop_assert_eq!(got[row].is_none(), want[row].is_none(), "{} row {}: null-ness", name, row);
                    let (Some(v), Some(min), Some(max), Some(lo), Some(hi)) = (got[row], min[row], max[row], lo[row], hi[row]) else {
                        continue;
                    };
                    if [v, min, max, lo, hi].iter().any(|x| x.is_nan()) {
                        continue; // NaN in the window: no ordering to check against.
                    }
                    let within = |v: f64, a: f64, b: f64| (a <= v || close(a, v)) && (v <= b || close(v, b));
                    prop_assert!(within(v, min, max), "{} row {}: {} outside [{}, {}]", name, row, v, min, max);
                    if n.value(row) >= 100 {
                        prop_assert!(within(v, lo, hi), "{} row {}: {} outside [{}, {}] (q ± 0.03)", name, row, v, lo, hi);
                    }
                }
            }
            (_, DataType::Float32 | DataType::Float64) => {
                let (got, want) = (floats(got.as_ref()), floats(want.as_ref()));
                for row in 0..want.len() {
                    let same = match (got[row], want[row]) {
                        (None, None) => true,
                        (Some(g), Some(w)) => close(g, w),
                        _ => false,
                    };
                    prop_assert!(same, "{} row {}: engine {:?}, reference {:?}", name, row, got[row], want[row]);
                }
            }
            (_, DataType::Dictionary(_, value_type)) => {
                let got = arrow_cast::cast(got, value_type).expect("decode");
                let want = arrow_cast::cast(want, value_type).expect("decode");
                prop_assert!(got.to_data() == want.to_data(), "{}: engine {:?}, reference {:?}", name, got, want);
            }
            _ => prop_assert!(got.to_data() == want.to_data(), "{}: engine {:?}, reference {:?}", name, got, want),
        }
    }
    Ok(())
}

/// Both succeed and agree, or both fail with the same kind of error.
fn check<T>(
    engine: Result<T>,
    expected: Result<RecordBatch>,
    then: impl FnOnce(T, RecordBatch) -> std::result::Result<(), TestCaseError>,
) -> std::result::Result<(), TestCaseError> {
    match (engine, expected) {
        (Ok(got), Ok(want)) => then(got, want),
        (Err(e), Err(r)) => {
            prop_assert_eq!(e.kind(), r.kind(), "engine error: {}; reference error: {}", e, r);
            Ok(())
        }
        (Ok(_), Err(r)) => Err(TestCaseError::fail(format!("the engine succeeded, the reference failed: {r}"))),
        (Err(e), Ok(_)) => Err(TestCaseError::fail(format!("the engine failed, the reference succeeded: {e}"))),
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    // CI runs a fixed sample so that a red build always means a change broke
    // something; set PROPTEST_RNG_SEED (or PROPTEST_CASES) to explore further.
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20261124);
    ProptestConfig { cases, rng_seed: proptest::test_runner::RngSeed::Fixed(seed), ..ProptestConfig::default() }
}

fn with_bounds<S: Clone>(spec: &S, aggs: impl Fn(&mut S) -> &mut Vec<AggExpr>) -> Option<S> {
    let mut wider = spec.clone();
    let extra = approx_bounds(aggs(&mut wider));
    if extra.is_empty() {
        return None;
    }
    aggs(&mut wider).extend(extra);
    Some(wider)
}

/// The input's shape; the seed regenerates the data itself.
fn describe(input: &Input) -> String {
    let fields: Vec<String> = input.schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect();
    let batches: Vec<String> =
        input.batches.iter().map(|b| format!("{} rows at offset {}", b.num_rows(), b.column(0).to_data().offset())).collect();
    format!("[{}], batches: [{}], unit: {} ticks", fields.join(", "), batches.join(", "), input.unit)
}

/// Rows of each batch that rolling keeps (null times are dropped or an error).
fn kept_rows(batch: &RecordBatch) -> usize {
    let t = batch.column_by_name("t").expect("time column");
    t.len() - t.null_count()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn window_agg_matches_reference(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let input = random_input(&mut rng);
        let spec = random_window_spec(&mut rng, &input);
        let engine = sash_core::window_agg(&input.schema, &input.batches, &spec);
        let expected = reference::window_agg(&input.schema, &input.batches, &spec);
        let bounds = with_bounds(&spec, |s| &mut s.aggs)
            .map(|wider| reference::window_agg(&input.schema, &input.batches, &wider));
        check(engine, expected, |got, want| {
            let bounds = bounds.map(|b| b.expect("the reference succeeded without the bounds"));
            compare(&got, &want, &spec.aggs, bounds.as_ref())
        })
        .map_err(|e| TestCaseError::fail(format!("{e}\nspec: {spec:?}\ninput: {}", describe(&input))))?;
    }

    /// The input cut into parts at random, each part aggregated to states
    /// (`window_agg_partial`) and the states merged in a random grouping:
    /// the result is what one call over all the rows gives (float sums and
    /// moments within rounding, since they are added in another order).
    #[test]
    fn window_agg_in_parts_matches_one_call(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let input = random_input(&mut rng);
        let spec = random_window_spec(&mut rng, &input);
        let whole = sash_core::window_agg(&input.schema, &input.batches, &spec);
        // Parts: runs of the input's rows in input order, across batch boundaries.
        let mut parts: Vec<(Vec<RecordBatch>, u64)> = vec![(Vec::new(), 0)];
        let mut position = 0u64;
        for batch in &input.batches {
            let mut at = 0;
            while at < batch.num_rows() {
                let len = rng.random_range(1..=batch.num_rows() - at);
                parts.last_mut().expect("a part").0.push(batch.slice(at, len));
                at += len;
                position += len as u64;
                if rng.random_bool(0.5) {
                    parts.push((Vec::new(), position));
                }
            }
        }
        let in_parts = (|| -> Result<RecordBatch> {
            let mut states = Vec::new();
            for (batches, first) in &parts {
                states.push(sash_core::partial::window_agg_partial(&input.schema, batches, &spec, *first)?);
            }
            while states.len() > 2 {
                let take = rng.random_range(2..=states.len());
                let group: Vec<RecordBatch> = (0..take).map(|_| states.remove(rng.random_range(0..states.len()))).collect();
                states.push(sash_core::partial::window_agg_merge_states(&input.schema, &spec, &group)?);
            }
            sash_core::partial::window_agg_merge(&input.schema, &spec, &states)
        })();
        let bounds = with_bounds(&spec, |s| &mut s.aggs)
            .map(|wider| reference::window_agg(&input.schema, &input.batches, &wider));
        // An input with two problems may show either first, depending on the part.
        let in_parts = match (in_parts, &whole) {
            (Err(_), Err(e)) => Err(sash_core::SashError::InvalidInput(e.to_string())),
            (result, _) => result,
        };
        let whole = whole.map_err(|e| sash_core::SashError::InvalidInput(e.to_string()));
        check(in_parts, whole, |got, want| {
            let bounds = bounds.map(|b| b.expect("the reference succeeded without the bounds"));
            compare(&got, &want, &spec.aggs, bounds.as_ref())
        })
        .map_err(|e| TestCaseError::fail(format!("{e}\nspec: {spec:?}\nparts: {}\ninput: {}", parts.len(), describe(&input))))?;
    }

    #[test]
    fn rolling_matches_reference(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let input = random_input(&mut rng);
        let spec = random_rolling_spec(&mut rng, &input);
        rolling_agrees_with_reference(&input, &spec)?;
    }

    #[test]
    fn rolling_running_sums_match_reference(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let input = random_input(&mut rng);
        let spec = random_running_spec(&mut rng, &input);
        rolling_agrees_with_reference(&input, &spec)?;
    }
}

/// `sash_core::rolling` against the reference: the same error kind, or one
/// output batch per input batch with its kept rows and the same values.
fn rolling_agrees_with_reference(input: &Input, spec: &RollingSpec) -> std::result::Result<(), TestCaseError> {
    let engine = sash_core::rolling(&input.schema, &input.batches, spec);
    let expected = reference::rolling(&input.schema, &input.batches, spec);
    let bounds = with_bounds(spec, |s| &mut s.aggs).map(|wider| reference::rolling(&input.schema, &input.batches, &wider));
    check(engine, expected, |got: Vec<RecordBatch>, want| {
        prop_assert_eq!(got.len(), input.batches.len(), "one output batch per input batch");
        for (out, batch) in got.iter().zip(&input.batches) {
            prop_assert_eq!(out.num_rows(), kept_rows(batch), "rows of an output batch");
        }
        let got = arrow_select::concat::concat_batches(&got[0].schema(), &got).expect("same schema");
        let bounds = bounds.map(|b| b.expect("the reference succeeded without the bounds"));
        compare(&got, &want, &spec.aggs, bounds.as_ref())
    })
    .map_err(|e| TestCaseError::fail(format!("{e}\nspec: {spec:?}\ninput: {}", describe(input))))
}

#[test]
fn generated_inputs_cover_errors_and_results() {
    // The generator must reach both successes and each error kind it aims at.
    let mut kinds = std::collections::HashSet::new();
    let mut successes = 0;
    for seed in 0..400 {
        let mut rng = StdRng::seed_from_u64(seed);
        let input = random_input(&mut rng);
        let spec = random_window_spec(&mut rng, &input);
        match reference::window_agg(&input.schema, &input.batches, &spec) {
            Ok(_) => successes += 1,
            Err(e) => {
                kinds.insert(e.kind().as_str());
            }
        }
    }
    assert!(successes > 200, "{successes} successes");
    for kind in ["null_time", "invalid_duration", "overflow"] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
}

/// Inputs large enough that the engine finishes closed windows in several
/// chunks and reuses their slots (the random cases above are too small).
#[test]
fn large_inputs_match_reference() {
    let mut rng = StdRng::seed_from_u64(42);
    let n = 40_000;
    let schema = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        arrow_schema::Field::new("key", DataType::Int32, true),
        arrow_schema::Field::new("tag", DataType::Utf8, true),
        arrow_schema::Field::new("val", DataType::Float64, true),
    ]));
    let mut t = 0i64;
    let (mut ts, mut keys, mut tags, mut vals) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        t += rng.random_range(0..4);
        ts.push(t);
        keys.push((rng.random_range(0..50) != 0).then(|| rng.random_range(0..600)));
        tags.push((rng.random_range(0..50) != 0).then(|| format!("t{}", rng.random_range(0..300))));
        vals.push(match rng.random_range(0..100) {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(rng.random_range(-1000.0..1000.0)),
        });
    }
    let make = |order: &[usize]| -> Vec<RecordBatch> {
        let pick = |v: &[Option<i32>]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow_array::TimestampMillisecondArray::from(order.iter().map(|&i| ts[i]).collect::<Vec<_>>())),
                Arc::new(arrow_array::Int32Array::from(pick(&keys))),
                Arc::new(arrow_array::StringArray::from(order.iter().map(|&i| tags[i].clone()).collect::<Vec<_>>())),
                Arc::new(arrow_array::Float64Array::from(order.iter().map(|&i| vals[i]).collect::<Vec<_>>())),
            ],
        )
        .unwrap();
        vec![batch.slice(0, 15_000), batch.slice(15_000, 1), batch.slice(15_001, n - 15_001)]
    };
    let sorted: Vec<usize> = (0..n).collect();
    let mut shuffled = sorted.clone();
    for i in (1..n).rev() {
        shuffled.swap(i, rng.random_range(0..=i));
    }
    let aggs = r#"["count()", "sum(val)", "mean(val)", "min(val)", "max(val)", "first(val)", "last(val)", "median(val)", "count_distinct(tag)", "max_by(tag, val)"]"#;
    let specs = [
        format!(r#"{{"time": "ts", "every": "1s", "by": "key", "aggs": {aggs}}}"#),
        format!(r#"{{"time": "ts", "every": "1s", "period": "3s", "by": ["tag"], "aggs": {aggs}}}"#),
        format!(r#"{{"time": "ts", "every": "2s", "period": "500ms", "closed": "right", "by": ["key", "tag"], "aggs": {aggs}}}"#),
        format!(r#"{{"time": "ts", "session_gap": "150ms", "by": "key", "aggs": {aggs}}}"#),
        // No aggregation reads `tag`: unsorted, it is left out of the sort.
        r#"{"time": "ts", "every": "1s", "by": "key", "aggs": ["count()", "mean(val)", "last(val)", "max_by(key, val)"]}"#.to_string(),
    ];
    // Late rows: 1% of them moved up to 200 rows later, as late events arrive.
    let mut late = sorted.clone();
    for _ in 0..n / 100 {
        let from = rng.random_range(0..n - 200);
        let row = late.remove(from);
        late.insert(from + rng.random_range(1..200), row);
    }
    for order in [&sorted, &shuffled, &late] {
        let batches = make(order);
        for text in &specs {
            let spec = WindowSpec::from_json(text).unwrap();
            let got = sash_core::window_agg(&schema, &batches, &spec).unwrap();
            let want = reference::window_agg(&schema, &batches, &spec).unwrap();
            assert!(got.num_rows() > 4096, "{text}: only {} rows; the case must span several chunks", got.num_rows());
            compare(&got, &want, &spec.aggs, None).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }
}

/// The streaming rolling paths read rows in chunks and forget rows that left
/// every window; both only show on inputs far larger than the random cases.
/// The brute-force reference is quadratic, so here the streaming result is
/// checked against the general rolling path (itself checked against the
/// reference above), which an extra `median` forces.
#[test]
fn large_rolling_inputs_match_the_general_path() {
    let mut rng = StdRng::seed_from_u64(7);
    let n = 200_000;
    let schema = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        arrow_schema::Field::new("key", DataType::Int32, true),
        arrow_schema::Field::new("val", DataType::Float64, true),
        arrow_schema::Field::new("val32", DataType::Float32, true),
        arrow_schema::Field::new("ms", DataType::Int32, true),
        // A spread tiny next to the mean, and a constant: variance's hard cases.
        arrow_schema::Field::new("offset", DataType::Float64, true),
        arrow_schema::Field::new("constant", DataType::Float64, true),
    ]));
    let mut t = 0i64;
    let (mut ts, mut keys, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        t += rng.random_range(0..3);
        ts.push(t);
        keys.push((rng.random_range(0..50) != 0).then(|| rng.random_range(0..4)));
        vals.push(match rng.random_range(0..200) {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(f64::INFINITY),
            _ => Some(rng.random_range(-1000.0..1000.0)),
        });
    }
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow_array::TimestampMillisecondArray::from(ts)),
            Arc::new(arrow_array::Int32Array::from(keys)),
            Arc::new(arrow_array::Float64Array::from(vals.clone())),
            Arc::new(arrow_array::Float32Array::from(vals.iter().map(|v| v.map(|x| x as f32)).collect::<Vec<_>>())),
            Arc::new(arrow_array::Int32Array::from(vals.iter().map(|v| v.filter(|x| x.is_finite()).map(|x| x as i32)).collect::<Vec<_>>())),
            Arc::new(arrow_array::Float64Array::from(
                vals.iter().map(|v| v.filter(|x| x.is_finite()).map(|x| 1e9 + x / 1000.0)).collect::<Vec<_>>(),
            )),
            Arc::new(arrow_array::Float64Array::from(vals.iter().map(|v| v.map(|_| 0.1)).collect::<Vec<_>>())),
        ],
    )
    .unwrap();
    let batches = [batch.slice(0, 100_000), batch.slice(100_000, 1), batch.slice(100_001, n - 100_001)];
    for (closed, column) in [
        ("right", "val"),
        ("left", "val"),
        ("both", "val"),
        ("none", "val"),
        ("right", "val32"),
        ("none", "val32"),
        ("right", "ms"),
        ("left", "ms"),
        ("both", "ms"),
        ("none", "ms"),
        ("both", "constant"),
    ] {
        // Every streamed aggregation; then counts, sums and means alone, which
        // take the sweep that keeps only running sums.
        let all = format!(
            r#""mean({column}) as m", "count() as c", "sum({column}) as s", "count({column}) as v", "min({column}) as lo", "max({column}) as hi", "var({column}) as var", "std({column}) as sd""#
        );
        let sums = format!(r#""mean({column}) as m", "count() as c", "sum({column}) as s", "count({column}) as v""#);
        // A time period, and a row count on the same rows.
        for (aggs, period) in [(&all, if column == "ms" { "\"7i\"" } else { "\"40ms\"" }), (&sums, "\"40ms\""), (&sums, "\"7i\"")] {
            let streaming = format!(r#"{{"time": "ts", "period": {period}, "closed": "{closed}", "by": "key", "aggs": [{aggs}]}}"#);
            let general =
                format!(r#"{{"time": "ts", "period": {period}, "closed": "{closed}", "by": "key", "aggs": [{aggs}, "median({column})"]}}"#);
            let run = |text: &str| {
                let spec = RollingSpec::from_json(text).unwrap();
                let parts = sash_core::rolling(&schema, &batches, &spec).unwrap();
                (arrow_select::concat::concat_batches(&parts[0].schema(), &parts).unwrap(), spec)
            };
            let (got, spec) = run(&streaming);
            let (want, _) = run(&general);
            let want = want.project(&(0..got.num_columns()).collect::<Vec<_>>()).unwrap();
            compare(&got, &want, &spec.aggs, None).unwrap_or_else(|e| panic!("{streaming}: {e}"));
        }
    }
}

/// Rolling variance of values whose spread is a ten-thousandth (streamed
/// sums) or a billionth (too close for the sums: computed from the rows) of
/// their mean, over a long stream, against a two-pass computation of each
/// window (the general path's one-pass update is off by about 1e-7 on the
/// second).
#[test]
fn rolling_variance_keeps_its_digits_far_from_zero() {
    for offset in [1e4, 1e9] {
        variance_with_offset(offset);
    }
}

fn variance_with_offset(offset: f64) {
    let mut rng = StdRng::seed_from_u64(3);
    let n: usize = 100_000;
    let mut t = 0i64;
    let (mut ts, mut keys, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        t += rng.random_range(0..3);
        ts.push(t);
        keys.push(rng.random_range(0..4));
        vals.push(offset + rng.random_range(-1.0..1.0));
    }
    let schema = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("ts", DataType::Int64, false),
        arrow_schema::Field::new("key", DataType::Int32, false),
        arrow_schema::Field::new("x", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow_array::Int64Array::from(ts.clone())),
            Arc::new(arrow_array::Int32Array::from(keys.clone())),
            Arc::new(arrow_array::Float64Array::from(vals.clone())),
        ],
    )
    .unwrap();
    let spec = RollingSpec::from_json(r#"{"time": "ts", "period": 40, "by": "key", "aggs": ["var(x) as v"]}"#).unwrap();
    let out = sash_core::rolling(&schema, &[batch], &spec).unwrap();
    let got = out[0].column_by_name("v").unwrap().as_primitive::<Float64Type>().clone();
    for i in 0..n {
        // The window (t - 40, t] of row i's key, rows of equal time included.
        let window: Vec<f64> = (0..n)
            .skip(i.saturating_sub(200))
            .take(400)
            .filter(|&r| keys[r] == keys[i] && ts[r] > ts[i] - 40 && ts[r] <= ts[i])
            .map(|r| vals[r])
            .collect();
        if window.len() < 2 {
            assert!(got.is_null(i), "row {i}");
            continue;
        }
        let mean = window.iter().sum::<f64>() / window.len() as f64;
        let want = window.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (window.len() - 1) as f64;
        let g = got.value(i);
        assert!((g - want).abs() <= 1e-9 * want.abs() + 1e-12, "offset {offset}, row {i}: {g} vs two-pass {want}");
    }
}

/// Rows of one time spanning several of the streaming sweep's chunks (a
/// burst longer than its 16K-row chunks, or many batches) all see each other.
#[test]
fn rolling_time_runs_longer_than_a_chunk_are_whole() {
    let burst = 40_000usize;
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), false),
        Field::new("v", DataType::Float64, true),
    ]));
    // The burst at t = 10, then one row at t = 11 and one at t = 30.
    let times: Vec<i64> = std::iter::repeat_n(10, burst).chain([11, 30]).collect();
    let values: Vec<Option<f64>> = (0..burst + 2).map(|i| (i % 4 != 3 && i != burst + 1).then_some(1.0)).collect();
    let valid_in_burst = values[..burst].iter().flatten().count() as i64;
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(TimestampSecondArray::from(times)), Arc::new(Float64Array::from(values))])
            .unwrap();
    for (closed, batches) in [
        ("right", vec![batch.clone()]),
        ("both", vec![batch.slice(0, 100), batch.slice(100, 1), batch.slice(101, burst + 1 - 101)]),
        ("both", (0..burst + 2).map(|i| batch.slice(i, 1)).collect::<Vec<_>>()),
    ] {
        let spec = RollingSpec::from_json(&format!(
            r#"{{"time": "ts", "period": "5s", "closed": "{closed}", "aggs": ["count(v) as n", "sum(v) as s"]}}"#
        ))
        .unwrap();
        let parts = sash_core::rolling(&schema, &batches, &spec).unwrap();
        let out = arrow_select::concat::concat_batches(&parts[0].schema(), &parts).unwrap();
        let n = out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>();
        let s = out.column_by_name("s").unwrap().as_primitive::<Float64Type>();
        let rows = out.num_rows();
        for i in 0..burst {
            assert_eq!((n.value(i), s.value(i)), (valid_in_burst, valid_in_burst as f64), "{closed}, {} batches, row {i}", batches.len());
        }
        assert_eq!(n.value(burst), valid_in_burst + 1, "{closed}: t = 11 sees the burst");
        if rows == burst + 2 {
            assert_eq!(n.value(burst + 1), 0, "{closed}: t = 30 is alone and its value is null");
        }
    }
}
