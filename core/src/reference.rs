//! The brute-force reference implementation of `docs/semantics.md`.
//!
//! Written for obviousness, not speed, and independently from the engine:
//! every value is read row by row into a small [`Value`] enum, every window
//! is enumerated explicitly, every group is aggregated from scratch. Tests of
//! the engine (property tests, the conformance corpus, every binding) compare
//! against these two functions.
//!
//! Decisions this module takes where the contract leaves room (see the
//! module's tests for each):
//!
//! - Checks run in this order: the spec itself, the batches' schemas, the time
//!   column, the key columns, the aggregations (in order), the durations, null
//!   times, then the data (sum overflow, window bounds out of range).
//! - Output fields: key fields and rolling's input fields are copied from the
//!   input schema; `window_start`/`window_end` are non-nullable; `count`,
//!   `count_distinct` and `approx_count_distinct` are non-nullable (they are 0
//!   on an empty window); every other aggregate is nullable.
//! - With `null_time = "drop"` the metadata key is always set, `"0"` included.
//! - `last` on a time tie takes the earliest row in input order (the
//!   contract's "ties ... go to the earliest row in input order").
//! - `min_by`/`max_by` skip rows whose `by` is null but not rows whose value
//!   is null: the value at the chosen row is returned, null or not.
//! - Floats compare with NaN above +inf and `-0.0 == 0.0`; `count_distinct`
//!   counts all NaNs as one value and `-0.0` and `0.0` as one value.
//! - A bare integer duration (`Duration::Count`) on a timestamp or date column
//!   is an error even when it is 0.

use crate::error::{Result, SashError};
use crate::spec::duration::Duration;
use crate::spec::expr::{AggExpr, AggFunc};
use crate::spec::types::{agg_output_type, check_key_type, column_index, TimeType};
use crate::spec::DROPPED_NULL_TIMES_KEY;
use crate::spec::{Closed, NullTime, RollingPeriod, RollingSpec, WindowKind, WindowSpec};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    new_empty_array, Array, ArrayRef, Date32Array, Date64Array, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// One cell of the input, as the reference sees it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    /// Every integer type, decimals (unscaled), dates and timestamps.
    Int(i128),
    Float(f64),
    /// Strings and binaries, as bytes.
    Str(Vec<u8>),
    Bool(bool),
}

/// Floats: NaN above +inf, all NaNs equal, `-0.0 == 0.0`.
fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).expect("no NaN here"),
    }
}

/// The order of the contract: nulls last, numbers by value, strings by
/// bytes, false < true.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => cmp_f64(*x, *y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // One column never mixes kinds; order by kind to stay total anyway.
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Int(_) => 0,
        Value::Float(_) => 1,
        Value::Str(_) => 2,
        Value::Bool(_) => 3,
        Value::Null => 4,
    }
}

fn cmp_keys(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = cmp_values(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Reads every row of a column, decoding dictionaries.
fn column_values(name: &str, array: &dyn Array) -> Result<Vec<Value>> {
    if let DataType::Dictionary(_, _) = array.data_type() {
        let dict = array.as_any_dictionary();
        let values = column_values(name, dict.values().as_ref())?;
        if values.is_empty() {
            // Only null keys can point into an empty dictionary.
            return Ok(vec![Value::Null; array.len()]);
        }
        let keys = dict.normalized_keys();
        return Ok((0..array.len()).map(|i| if dict.keys().is_null(i) { Value::Null } else { values[keys[i]].clone() }).collect());
    }
    (0..array.len()).map(|i| value_at(name, array, i)).collect()
}

fn value_at(name: &str, array: &dyn Array, i: usize) -> Result<Value> {
    // A Null-typed array has no validity buffer: `is_null` says false.
    if array.is_null(i) || *array.data_type() == DataType::Null {
        return Ok(Value::Null);
    }
    let int = |v: i128| -> Result<Value> { Ok(Value::Int(v)) };
    match array.data_type() {
        DataType::Int8 => int(array.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => int(array.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => int(array.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => int(array.as_primitive::<Int64Type>().value(i).into()),
        DataType::UInt8 => int(array.as_primitive::<UInt8Type>().value(i).into()),
        DataType::UInt16 => int(array.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => int(array.as_primitive::<UInt32Type>().value(i).into()),
        DataType::UInt64 => int(array.as_primitive::<UInt64Type>().value(i).into()),
        DataType::Decimal128(_, _) => int(array.as_primitive::<Decimal128Type>().value(i)),
        DataType::Date32 => int(array.as_primitive::<Date32Type>().value(i).into()),
        DataType::Date64 => int(array.as_primitive::<Date64Type>().value(i).into()),
        DataType::Timestamp(TimeUnit::Second, _) => {
            int(array.as_primitive::<TimestampSecondType>().value(i).into())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            int(array.as_primitive::<TimestampMillisecondType>().value(i).into())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            int(array.as_primitive::<TimestampMicrosecondType>().value(i).into())
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            int(array.as_primitive::<TimestampNanosecondType>().value(i).into())
        }
        DataType::Float32 => Ok(Value::Float(array.as_primitive::<Float32Type>().value(i).into())),
        DataType::Float64 => Ok(Value::Float(array.as_primitive::<Float64Type>().value(i))),
        DataType::Boolean => Ok(Value::Bool(array.as_boolean().value(i))),
        DataType::Utf8 => Ok(Value::Str(array.as_string::<i32>().value(i).as_bytes().to_vec())),
        DataType::LargeUtf8 => Ok(Value::Str(array.as_string::<i64>().value(i).as_bytes().to_vec())),
        DataType::Utf8View => Ok(Value::Str(array.as_string_view().value(i).as_bytes().to_vec())),
        DataType::Binary => Ok(Value::Str(array.as_binary::<i32>().value(i).to_vec())),
        DataType::LargeBinary => Ok(Value::Str(array.as_binary::<i64>().value(i).to_vec())),
        DataType::BinaryView => Ok(Value::Str(array.as_binary_view().value(i).to_vec())),
        DataType::FixedSizeBinary(_) => Ok(Value::Str(array.as_fixed_size_binary().value(i).to_vec())),
        DataType::Time32(TimeUnit::Second) => int(array.as_primitive::<Time32SecondType>().value(i).into()),
        DataType::Time32(TimeUnit::Millisecond) => int(array.as_primitive::<Time32MillisecondType>().value(i).into()),
        DataType::Time64(TimeUnit::Microsecond) => int(array.as_primitive::<Time64MicrosecondType>().value(i).into()),
        DataType::Time64(TimeUnit::Nanosecond) => int(array.as_primitive::<Time64NanosecondType>().value(i).into()),
        DataType::Duration(TimeUnit::Second) => int(array.as_primitive::<DurationSecondType>().value(i).into()),
        DataType::Duration(TimeUnit::Millisecond) => int(array.as_primitive::<DurationMillisecondType>().value(i).into()),
        DataType::Duration(TimeUnit::Microsecond) => int(array.as_primitive::<DurationMicrosecondType>().value(i).into()),
        DataType::Duration(TimeUnit::Nanosecond) => int(array.as_primitive::<DurationNanosecondType>().value(i).into()),
        DataType::Dictionary(_, _) => Ok(column_values(name, &array.slice(i, 1))?.remove(0)),
        other => Err(SashError::wrong_type(
            name,
            "a column of a type the reference reads (integers, floats, decimal128, strings, binaries, booleans, dates, times, timestamps, durations, dictionaries)",
            other,
        )),
    }
}

/// How numeric aggregations read a column.
#[derive(Debug, Clone, Copy)]
enum Numeric {
    Int,
    Float,
    Decimal { scale: i8 },
}

fn numeric_kind(t: &DataType) -> Numeric {
    match t {
        DataType::Float32 | DataType::Float64 => Numeric::Float,
        DataType::Decimal128(_, s) => Numeric::Decimal { scale: *s },
        _ => Numeric::Int,
    }
}

fn to_f64(v: &Value, kind: Numeric) -> f64 {
    match (v, kind) {
        (Value::Int(i), Numeric::Decimal { scale }) => *i as f64 / 10f64.powi(scale.into()),
        (Value::Int(i), _) => *i as f64,
        (Value::Float(f), _) => *f,
        (other, _) => panic!("not a number: {other:?}"),
    }
}

/// Converts a spec duration to ticks of the time column.
fn to_ticks(what: &str, d: Duration, time_type: &TimeType) -> Result<i128> {
    let bad = |reason: String| SashError::InvalidDuration { input: d.to_string(), reason };
    match (d, time_type.nanos_per_tick()) {
        (Duration::Time { nanos }, Some(per_tick)) => {
            if nanos % per_tick == 0 {
                Ok(i128::from(nanos / per_tick))
            } else {
                Err(bad(format!("'{what}' must be a whole number of the time column's ticks ({per_tick}ns)")))
            }
        }
        (Duration::Count(n), None) => Ok(i128::from(n)),
        (Duration::Time { .. }, None) => {
            Err(bad(format!("'{what}' is on an integer time column: give an integer (\"10\" or \"10i\"), not a unit")))
        }
        (Duration::Count(_), Some(_)) => {
            Err(bad(format!("'{what}' is on a timestamp or date column: give a unit (\"10s\"), not a bare integer")))
        }
    }
}

/// One aggregation, checked against the schema.
struct Plan<'a> {
    expr: &'a AggExpr,
    out_type: DataType,
    column: Option<usize>,
    by: Option<usize>,
}

/// The input after concatenation and dropping of null-time rows; row `i`
/// everywhere below is a row of this table, in input order.
struct Table {
    columns: Vec<ArrayRef>,
    times: Vec<i64>,
    nulls: Vec<Vec<bool>>,
    /// Decoded values of the columns that keys or aggregations read.
    values: Vec<Option<Vec<Value>>>,
    /// `Some(n)` when `null_time = "drop"`.
    dropped: Option<usize>,
}

impl Table {
    fn values(&self, column: usize) -> &[Value] {
        self.values[column].as_deref().expect("loaded")
    }

    /// Rows sorted by (time, input order).
    fn time_sorted(&self, rows: &[usize]) -> Vec<usize> {
        let mut rows = rows.to_vec();
        rows.sort_by_key(|&r| (self.times[r], r));
        rows
    }

    fn key(&self, keys: &[usize], row: usize) -> Vec<Value> {
        keys.iter().map(|&k| self.values(k)[row].clone()).collect()
    }
}

fn check_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<()> {
    for (i, batch) in batches.iter().enumerate() {
        let theirs = batch.schema();
        let same = theirs.fields().len() == schema.fields().len()
            && theirs.fields().iter().zip(schema.fields()).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(SashError::InvalidInput(format!("batch {i} does not have the input schema")));
        }
    }
    Ok(())
}

fn plans<'a>(schema: &Schema, aggs: &'a [AggExpr]) -> Result<Vec<Plan<'a>>> {
    aggs.iter()
        .map(|expr| {
            let out_type = agg_output_type(schema, expr)?;
            let column = expr.column.as_deref().map(|c| column_index(schema, c)).transpose()?;
            let by = expr.by_column.as_deref().map(|c| column_index(schema, c)).transpose()?;
            Ok(Plan { expr, out_type, column, by })
        })
        .collect()
}

fn key_columns(schema: &Schema, by: &[String]) -> Result<Vec<usize>> {
    by.iter()
        .map(|name| {
            let i = column_index(schema, name)?;
            check_key_type(name, schema.field(i).data_type())?;
            Ok(i)
        })
        .collect()
}

fn load(schema: &Schema, batches: &[RecordBatch], time: usize, null_time: NullTime, keys: &[usize], plans: &[Plan]) -> Result<Table> {
    let mut columns = Vec::new();
    for (c, field) in schema.fields().iter().enumerate() {
        let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
        columns.push(if parts.is_empty() { new_empty_array(field.data_type()) } else { arrow_select::concat::concat(&parts)? });
    }
    let time_name = schema.field(time).name();
    let raw_times = column_values(time_name, columns[time].as_ref())?;
    let null_count = raw_times.iter().filter(|v| **v == Value::Null).count();
    let dropped = match null_time {
        NullTime::Error if null_count > 0 => return Err(SashError::NullTime { column: time_name.clone(), count: null_count }),
        NullTime::Error => None,
        NullTime::Drop => Some(null_count),
    };
    let kept: Vec<u64> = (0..raw_times.len()).filter(|&i| raw_times[i] != Value::Null).map(|i| i as u64).collect();
    let kept = UInt64Array::from(kept);
    let columns: Vec<ArrayRef> = columns.iter().map(|c| arrow_select::take::take(c.as_ref(), &kept, None)).collect::<Result<_, _>>()?;
    let times = column_values(time_name, columns[time].as_ref())?
        .into_iter()
        .map(|v| match v {
            Value::Int(t) => i64::try_from(t).expect("time columns hold i32 or i64"),
            other => panic!("time value {other:?}"),
        })
        .collect();
    let nulls = columns.iter().map(|c| (0..c.len()).map(|i| c.logical_nulls().is_some_and(|n| n.is_null(i))).collect()).collect();
    let mut needed: Vec<usize> = keys.to_vec();
    for p in plans {
        if let Some(by) = p.by {
            needed.push(by);
        }
        let reads_values = !matches!(p.expr.func, AggFunc::Count | AggFunc::First | AggFunc::Last | AggFunc::MinBy | AggFunc::MaxBy);
        if let (true, Some(c)) = (reads_values, p.column) {
            needed.push(c);
        }
    }
    let mut values = vec![None; columns.len()];
    for c in needed {
        if values[c].is_none() {
            values[c] = Some(column_values(schema.field(c).name(), columns[c].as_ref())?);
        }
    }
    Ok(Table { columns, times, nulls, values, dropped })
}

/// The result of one aggregation over one window.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Decimal(i128),
    /// The value of the aggregated column at this row (min, max, first, ...).
    Row(usize),
}

/// Numpy's "linear" quantile of values sorted with NaN above +inf; an exact
/// position is the value there, and between an infinity and another value
/// the limit of the interpolation (as DuckDB's quantile_cont): -inf towards
/// a number is -inf, a number towards +inf is +inf, -inf to +inf is NaN.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    if lo == hi || a == b {
        a
    } else if a.is_nan() || b.is_nan() || (a.is_infinite() && b.is_infinite()) {
        f64::NAN
    } else if a.is_infinite() {
        a
    } else if b.is_infinite() {
        b
    } else if t >= 0.5 {
        // numpy's form for the upper half, so results agree to the bit.
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// Aggregates one window from scratch. `rows` may come in any order.
fn aggregate(plan: &Plan, table: &Table, rows: &[usize]) -> Result<Cell> {
    let rows = table.time_sorted(rows);
    let func = plan.expr.func;
    let Some(col) = plan.column else {
        return Ok(Cell::Int(rows.len() as i64)); // count()
    };
    let non_null: Vec<usize> = rows.iter().copied().filter(|&r| !table.nulls[col][r]).collect();
    let name = || plan.expr.column.clone().unwrap_or_default();
    let kind = numeric_kind(table.columns[col].data_type());
    let floats = || -> Vec<f64> { non_null.iter().map(|&r| to_f64(&table.values(col)[r], kind)).collect() };
    let sorted_floats = || {
        let mut v = floats();
        v.sort_by(|a, b| cmp_f64(*a, *b));
        v
    };
    Ok(match func {
        AggFunc::Count => Cell::Int(non_null.len() as i64),
        // Nothing but nulls: null, except for counts.
        _ if non_null.is_empty() && !matches!(func, AggFunc::CountDistinct | AggFunc::ApproxCountDistinct) => Cell::Null,
        AggFunc::Sum => match kind {
            Numeric::Float => Cell::Float(floats().iter().sum()),
            Numeric::Int => {
                let total: i128 = non_null.iter().map(|&r| int_of(&table.values(col)[r])).sum();
                Cell::Int(i64::try_from(total).map_err(|_| SashError::Overflow(format!("sum({}) = {total} does not fit Int64", name())))?)
            }
            Numeric::Decimal { .. } => {
                let max = 10i128.pow(38) - 1;
                let mut total: i128 = 0;
                for &r in &non_null {
                    total = total
                        .checked_add(int_of(&table.values(col)[r]))
                        .filter(|t| (-max..=max).contains(t))
                        .ok_or_else(|| SashError::Overflow(format!("sum({}) does not fit Decimal128(38)", name())))?;
                }
                Cell::Decimal(total)
            }
        },
        AggFunc::Mean => {
            let n = non_null.len() as f64;
            match kind {
                Numeric::Float => Cell::Float(floats().iter().sum::<f64>() / n),
                Numeric::Int => Cell::Float(non_null.iter().map(|&r| int_of(&table.values(col)[r])).sum::<i128>() as f64 / n),
                Numeric::Decimal { scale } => {
                    let total: i128 = non_null.iter().map(|&r| int_of(&table.values(col)[r])).sum();
                    Cell::Float(total as f64 / 10f64.powi(scale.into()) / n)
                }
            }
        }
        AggFunc::Var | AggFunc::Std => {
            let xs = floats();
            if xs.len() < 2 {
                Cell::Null
            } else {
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (xs.len() - 1) as f64;
                Cell::Float(if func == AggFunc::Std { var.sqrt() } else { var })
            }
        }
        AggFunc::Median => Cell::Float(quantile_sorted(&sorted_floats(), 0.5)),
        AggFunc::Quantile | AggFunc::ApproxQuantile => {
            Cell::Float(quantile_sorted(&sorted_floats(), plan.expr.q.expect("parser guarantees q")))
        }
        AggFunc::CountDistinct | AggFunc::ApproxCountDistinct => {
            let mut seen: Vec<Value> = non_null.iter().map(|&r| table.values(col)[r].clone()).collect();
            seen.sort_by(cmp_values);
            seen.dedup_by(|a, b| cmp_values(a, b) == Ordering::Equal);
            Cell::Int(seen.len() as i64)
        }
        AggFunc::Min | AggFunc::Max => {
            // The first row holding the smallest (largest) value.
            let mut best = non_null[0];
            for &r in &non_null[1..] {
                let o = cmp_values(&table.values(col)[r], &table.values(col)[best]);
                if (func == AggFunc::Min && o == Ordering::Less) || (func == AggFunc::Max && o == Ordering::Greater) {
                    best = r;
                }
            }
            Cell::Row(best)
        }
        AggFunc::First => Cell::Row(non_null[0]),
        // Rows are in (time, input order): the last one is the latest in time,
        // and among rows at that time the latest in input order.
        AggFunc::Last => Cell::Row(*non_null.last().expect("not empty")),
        AggFunc::MinBy | AggFunc::MaxBy => {
            let by = plan.by.expect("parser guarantees a by column");
            let by_values = table.values(by);
            let mut best: Option<usize> = None;
            for &r in rows.iter().filter(|&&r| by_values[r] != Value::Null) {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let o = cmp_values(&by_values[r], &by_values[b]);
                        (func == AggFunc::MinBy && o == Ordering::Less) || (func == AggFunc::MaxBy && o == Ordering::Greater)
                    }
                };
                if better {
                    best = Some(r);
                }
            }
            match best {
                Some(r) if !table.nulls[col][r] => Cell::Row(r),
                _ => Cell::Null,
            }
        }
    })
}

fn int_of(v: &Value) -> i128 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn nullable(func: AggFunc) -> bool {
    !matches!(func, AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct)
}

/// Builds one aggregate's output column from its cells.
fn build_column(plan: &Plan, table: &Table, cells: &[Cell]) -> Result<ArrayRef> {
    let array: ArrayRef = match plan.expr.func {
        AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last | AggFunc::MinBy | AggFunc::MaxBy => {
            let rows: UInt64Array = cells
                .iter()
                .map(|c| match c {
                    Cell::Row(r) => Some(*r as u64),
                    _ => None,
                })
                .collect();
            arrow_select::take::take(table.columns[plan.column.expect("has a column")].as_ref(), &rows, None)?
        }
        _ => match &plan.out_type {
            DataType::Int64 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Int(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            ),
            DataType::Float64 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Float(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            ),
            DataType::Decimal128(p, s) => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Decimal(v) => Some(*v),
                        _ => None,
                    })
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(*p, *s)?,
            ),
            other => unreachable!("no aggregation computes {other}"),
        },
    };
    debug_assert_eq!(array.data_type(), &plan.out_type);
    Ok(array)
}

/// Window bounds in the time column's type; bounds that do not fit are an overflow.
fn time_array(data_type: &DataType, ticks: &[i128]) -> Result<ArrayRef> {
    let overflow = |t: i128| SashError::Overflow(format!("window bound {t} does not fit the time column's type {data_type}"));
    let wide = || ticks.iter().map(|&t| i64::try_from(t).map_err(|_| overflow(t))).collect::<Result<Vec<i64>>>();
    let narrow = || ticks.iter().map(|&t| i32::try_from(t).map_err(|_| overflow(t))).collect::<Result<Vec<i32>>>();
    Ok(match data_type {
        DataType::Timestamp(TimeUnit::Second, tz) => Arc::new(TimestampSecondArray::from(wide()?).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => Arc::new(TimestampMillisecondArray::from(wide()?).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(TimestampMicrosecondArray::from(wide()?).with_timezone_opt(tz.clone())),
        DataType::Timestamp(TimeUnit::Nanosecond, tz) => Arc::new(TimestampNanosecondArray::from(wide()?).with_timezone_opt(tz.clone())),
        DataType::Date32 => Arc::new(Date32Array::from(narrow()?)),
        DataType::Date64 => Arc::new(Date64Array::from(wide()?)),
        DataType::Int32 => Arc::new(Int32Array::from(narrow()?)),
        DataType::Int64 => Arc::new(Int64Array::from(wide()?)),
        other => unreachable!("{other} is not a time type"),
    })
}

fn with_dropped(metadata: HashMap<String, String>, dropped: Option<usize>) -> HashMap<String, String> {
    let mut metadata = metadata;
    if let Some(n) = dropped {
        metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), n.to_string());
    }
    metadata
}

/// Is `t` inside the window from `start` to `end` closed on `closed`'s side(s)?
fn contains(start: i128, end: i128, t: i128, closed: Closed) -> bool {
    match closed {
        Closed::Left => start <= t && t < end,
        Closed::Right => start < t && t <= end,
        Closed::Both => start <= t && t <= end,
        Closed::None => start < t && t < end,
    }
}

/// Every (start, end) of the grid `offset + k·every`, length `period`, containing `t`.
fn grid_windows(t: i128, every: i128, period: i128, offset: i128, closed: Closed) -> Vec<(i128, i128)> {
    let mut found = Vec::new();
    // The window starting just after t; walk back until windows end before t.
    let mut k = (t - offset).div_euclid(every) + 1;
    loop {
        let start = offset + k * every;
        let end = start + period;
        if end < t {
            break;
        }
        if contains(start, end, t, closed) {
            found.push((start, end));
        }
        k -= 1;
    }
    found
}

/// Tumbling and hopping windows lie on a grid; sessions follow the data.
enum Shape {
    Grid { every: i128, period: i128 },
    Session { gap: i128 },
}

/// A rolling window's length: in time ticks or in rows.
enum Span {
    Ticks(i128),
    Rows(usize),
}

/// Windowed aggregation, brute force. See `docs/semantics.md`.
pub fn window_agg(schema: &SchemaRef, batches: &[RecordBatch], spec: &WindowSpec) -> Result<RecordBatch> {
    spec.validate()?;
    match (&spec.kind, spec.closed) {
        (_, Closed::Both | Closed::None) => {
            return Err(SashError::spec("windows are closed \"left\" or \"right\"; \"both\" and \"none\" are for rolling"))
        }
        (WindowKind::Session { .. }, Closed::Right) => {
            return Err(SashError::spec("'closed' applies to tumbling and hopping windows, not to sessions"))
        }
        _ => {}
    }
    check_batches(schema, batches)?;
    let time = column_index(schema, &spec.time)?;
    let time_field = schema.field(time);
    let time_type = TimeType::of(&spec.time, time_field.data_type())?;
    let keys = key_columns(schema, &spec.by)?;
    let plans = plans(schema, &spec.aggs)?;
    let offset = match spec.offset {
        Some(d) => to_ticks("offset", d, &time_type)?,
        None => 0,
    };
    let shape = match spec.kind {
        WindowKind::Tumbling { every } => {
            let every = to_ticks("every", every, &time_type)?;
            Shape::Grid { every, period: every }
        }
        WindowKind::Hopping { every, period } => {
            Shape::Grid { every: to_ticks("every", every, &time_type)?, period: to_ticks("period", period, &time_type)? }
        }
        WindowKind::Session { gap } => Shape::Session { gap: to_ticks("session_gap", gap, &time_type)? },
    };
    let table = load(schema, batches, time, spec.null_time, &keys, &plans)?;
    let n = table.times.len();

    // Every (window_start, keys, window_end, row) membership.
    let mut members: Vec<(i128, Vec<Value>, i128, usize)> = Vec::new();
    match shape {
        Shape::Grid { every, period } => {
            for row in 0..n {
                let t = i128::from(table.times[row]);
                for (start, end) in grid_windows(t, every, period, offset, spec.closed) {
                    members.push((start, table.key(&keys, row), end, row));
                }
            }
        }
        Shape::Session { gap } => {
            let mut rows: Vec<usize> = (0..n).collect();
            rows.sort_by(|&a, &b| cmp_keys(&table.key(&keys, a), &table.key(&keys, b)).then((table.times[a], a).cmp(&(table.times[b], b))));
            let mut i = 0;
            while i < rows.len() {
                // One session: rows[i..j].
                let mut j = i + 1;
                while j < rows.len()
                    && cmp_keys(&table.key(&keys, rows[j]), &table.key(&keys, rows[i])) == Ordering::Equal
                    && i128::from(table.times[rows[j]]) < i128::from(table.times[rows[j - 1]]) + gap
                {
                    j += 1;
                }
                let start = i128::from(table.times[rows[i]]);
                let end = i128::from(table.times[rows[j - 1]]) + gap;
                for &row in &rows[i..j] {
                    members.push((start, table.key(&keys, row), end, row));
                }
                i = j;
            }
        }
    }
    members.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| cmp_keys(&a.1, &b.1))
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| (table.times[a.3], a.3).cmp(&(table.times[b.3], b.3)))
    });

    // Consecutive members with equal (start, keys, end) form one output row.
    let mut groups: Vec<(i128, i128, Vec<usize>)> = Vec::new();
    let mut prev: Option<(i128, &[Value], i128)> = None;
    for (start, key, end, row) in &members {
        let same = prev.is_some_and(|(s, k, e)| s == *start && e == *end && cmp_keys(k, key) == Ordering::Equal);
        if same {
            groups.last_mut().expect("a group").2.push(*row);
        } else {
            groups.push((*start, *end, vec![*row]));
        }
        prev = Some((*start, key.as_slice(), *end));
    }

    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let firsts = UInt64Array::from(groups.iter().map(|g| g.2[0] as u64).collect::<Vec<_>>());
    for &k in &keys {
        fields.push(schema.field(k).clone());
        columns.push(arrow_select::take::take(table.columns[k].as_ref(), &firsts, None)?);
    }
    let starts: Vec<i128> = groups.iter().map(|g| g.0).collect();
    let ends: Vec<i128> = groups.iter().map(|g| g.1).collect();
    fields.push(Field::new("window_start", time_field.data_type().clone(), false));
    columns.push(time_array(time_field.data_type(), &starts)?);
    fields.push(Field::new("window_end", time_field.data_type().clone(), false));
    columns.push(time_array(time_field.data_type(), &ends)?);
    for plan in &plans {
        let cells = groups.iter().map(|g| aggregate(plan, &table, &g.2)).collect::<Result<Vec<_>>>()?;
        fields.push(Field::new(&plan.expr.alias, plan.out_type.clone(), nullable(plan.expr.func)));
        columns.push(build_column(plan, &table, &cells)?);
    }
    let schema = Schema::new_with_metadata(fields, with_dropped(HashMap::new(), table.dropped));
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// Rolling aggregation, brute force: one output row per input row (batches
/// concatenated, rows with a dropped null time left out), the input columns
/// followed by the aggregates. See `docs/semantics.md`.
pub fn rolling(schema: &SchemaRef, batches: &[RecordBatch], spec: &RollingSpec) -> Result<RecordBatch> {
    spec.validate()?;
    check_batches(schema, batches)?;
    let time = column_index(schema, &spec.time)?;
    let time_type = TimeType::of(&spec.time, schema.field(time).data_type())?;
    let keys = key_columns(schema, &spec.by)?;
    let plans = plans(schema, &spec.aggs)?;
    let period = match spec.period {
        RollingPeriod::Time(d) => Span::Ticks(to_ticks("period", d, &time_type)?),
        RollingPeriod::Rows(n) => Span::Rows(usize::try_from(n).expect("validated positive")),
    };
    let table = load(schema, batches, time, spec.null_time, &keys, &plans)?;
    let n = table.times.len();

    // The rows of each row's window.
    let mut windows: Vec<Vec<usize>> = Vec::with_capacity(n);
    for row in 0..n {
        let key = table.key(&keys, row);
        let same_key: Vec<usize> = (0..n).filter(|&r| cmp_keys(&table.key(&keys, r), &key) == Ordering::Equal).collect();
        windows.push(match period {
            Span::Ticks(p) => {
                let t = i128::from(table.times[row]);
                same_key.into_iter().filter(|&r| contains(t - p, t, i128::from(table.times[r]), spec.closed)).collect()
            }
            Span::Rows(count) => {
                // Positions in (time, input order): the row is at `pos`.
                let ordered = table.time_sorted(&same_key);
                let pos = ordered.iter().position(|&r| r == row).expect("the row has its key");
                let (from, to) = match spec.closed {
                    Closed::Right => (pos + 1 - count.min(pos + 1), pos + 1),
                    Closed::Left => (pos - count.min(pos), pos),
                    Closed::Both => (pos - count.min(pos), pos + 1),
                    Closed::None => (pos + 1 - count.min(pos + 1), pos),
                };
                if from < to {
                    ordered[from..to].to_vec()
                } else {
                    Vec::new()
                }
            }
        });
    }

    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = table.columns.clone();
    for plan in &plans {
        let cells = windows.iter().map(|w| aggregate(plan, &table, w)).collect::<Result<Vec<_>>>()?;
        fields.push(Field::new(&plan.expr.alias, plan.out_type.clone(), nullable(plan.expr.func)));
        columns.push(build_column(plan, &table, &cells)?);
    }
    let schema = Schema::new_with_metadata(fields, with_dropped(schema.metadata().clone(), table.dropped));
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use arrow_array::{BooleanArray, DictionaryArray, Float64Array, StringArray};

    fn input(columns: Vec<(&str, ArrayRef)>) -> (SchemaRef, Vec<RecordBatch>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        (batch.schema(), vec![batch])
    }

    fn window(columns: Vec<(&str, ArrayRef)>, spec: &str) -> Result<RecordBatch> {
        let (schema, batches) = input(columns);
        window_agg(&schema, &batches, &WindowSpec::from_json(spec).unwrap())
    }

    fn roll(columns: Vec<(&str, ArrayRef)>, spec: &str) -> Result<RecordBatch> {
        let (schema, batches) = input(columns);
        rolling(&schema, &batches, &RollingSpec::from_json(spec).unwrap())
    }

    fn ints(values: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    fn floats(values: &[f64]) -> ArrayRef {
        Arc::new(Float64Array::from(values.to_vec()))
    }

    fn col_i64(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
        b.column_by_name(name).unwrap().as_primitive::<Int64Type>().iter().collect()
    }

    fn col_f64(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        b.column_by_name(name).unwrap().as_primitive::<Float64Type>().iter().collect()
    }

    fn col_str(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
        column_values(name, b.column_by_name(name).unwrap().as_ref())
            .unwrap()
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => Some(String::from_utf8(s).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn s(values: &[i64]) -> Vec<Option<i64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    #[test]
    fn tumbling_with_negative_times() {
        let out = window(
            vec![("t", ints(&[7, 1, -1, 2, 5])), ("v", ints(&[1, 2, 3, 4, 5]))],
            r#"{"time":"t","every":5,"aggs":["count() as n","sum(v) as s"]}"#,
        )
        .unwrap();
        assert_eq!(col_i64(&out, "window_start"), s(&[-5, 0, 5]));
        assert_eq!(col_i64(&out, "window_end"), s(&[0, 5, 10]));
        assert_eq!(col_i64(&out, "n"), s(&[1, 2, 2]));
        assert_eq!(col_i64(&out, "s"), s(&[3, 6, 6]));
        let names: Vec<_> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["window_start", "window_end", "n", "s"]);
        assert!(!out.schema().field(0).is_nullable());
        assert!(!out.schema().field(2).is_nullable());
        assert!(out.schema().field(3).is_nullable());
    }

    #[test]
    fn hopping_overlapping_and_gapped() {
        let t = ints(&[0, 1, 2, 3, 4, 5]);
        let out = window(vec![("t", t.clone())], r#"{"time":"t","every":2,"period":4,"aggs":["count() as n"]}"#).unwrap();
        assert_eq!(col_i64(&out, "window_start"), s(&[-2, 0, 2, 4]));
        assert_eq!(col_i64(&out, "window_end"), s(&[2, 4, 6, 8]));
        assert_eq!(col_i64(&out, "n"), s(&[2, 4, 4, 2]));
        // period < every: rows between windows belong to none.
        let out = window(vec![("t", t)], r#"{"time":"t","every":4,"period":1,"aggs":["count() as n"]}"#).unwrap();
        assert_eq!(col_i64(&out, "window_start"), s(&[0, 4]));
        assert_eq!(col_i64(&out, "n"), s(&[1, 1]));
    }

    #[test]
    fn closed_right_and_offset() {
        let out = window(vec![("t", ints(&[0, 5, 6, 10]))], r#"{"time":"t","every":5,"closed":"right","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(col_i64(&out, "window_start"), s(&[-5, 0, 5]));
        assert_eq!(col_i64(&out, "n"), s(&[1, 1, 2]));
        for offset in [2, -3, 7] {
            let spec = format!(r#"{{"time":"t","every":5,"offset":{offset},"aggs":["count() as n"]}}"#);
            let out = window(vec![("t", ints(&[1, 2, 6, 7]))], &spec).unwrap();
            assert_eq!(col_i64(&out, "window_start"), s(&[-3, 2, 7]), "offset {offset}");
            assert_eq!(col_i64(&out, "n"), s(&[1, 2, 1]));
        }
    }

    #[test]
    fn timestamps_keep_their_zone_and_durations_must_fit() {
        let ts: ArrayRef = Arc::new(TimestampSecondArray::from(vec![0, 3599, 3600, 86399]).with_timezone("Europe/Paris"));
        let out = window(vec![("ts", ts.clone())], r#"{"time":"ts","every":"1h","aggs":["count() as n", "max(ts) as last"]}"#).unwrap();
        assert_eq!(out.schema().field(0).data_type(), ts.data_type());
        assert_eq!(out.schema().field(3).data_type(), ts.data_type());
        let starts: Vec<_> = out.column(0).as_primitive::<TimestampSecondType>().values().to_vec();
        assert_eq!(starts, [0, 3600, 82800]);
        assert_eq!(col_i64(&out, "n"), s(&[2, 1, 1]));
        for bad in [r#""1ms""#, "10", r#""1s","offset":"500ms""#] {
            let spec = format!(r#"{{"time":"ts","every":{bad},"aggs":["count()"]}}"#);
            assert_eq!(window(vec![("ts", ts.clone())], &spec).unwrap_err().kind(), ErrorKind::InvalidDuration, "{bad}");
        }
        let err = window(vec![("t", ints(&[1]))], r#"{"time":"t","every":"1h","aggs":["count()"]}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDuration);
        let days: ArrayRef = Arc::new(Date32Array::from(vec![-1, 0, 13]));
        let err = window(vec![("d", days.clone())], r#"{"time":"d","every":"1h","aggs":["count()"]}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDuration);
        let out = window(vec![("d", days)], r#"{"time":"d","every":"1w","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(out.column(0).as_primitive::<Date32Type>().values().to_vec(), [-7, 0, 7]);
    }

    #[test]
    fn sessions_split_at_the_gap() {
        let k: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "b", "a", "a", "a"]));
        let out = window(
            vec![("k", k), ("t", ints(&[0, 2, 1, 5, 9, 11])), ("v", ints(&[1, 2, 3, 4, 5, 6]))],
            r#"{"time":"t","session_gap":3,"by":"k","aggs":["count() as n","first(v) as f"]}"#,
        )
        .unwrap();
        // 5 ≥ 2 + 3 starts a new session; 11 < 9 + 3 does not.
        assert_eq!(col_i64(&out, "window_start"), s(&[0, 1, 5, 9]));
        assert_eq!(col_str(&out, "k"), ["a", "b", "a", "a"].map(|x| Some(x.to_string())));
        assert_eq!(col_i64(&out, "window_end"), s(&[5, 4, 8, 14]));
        assert_eq!(col_i64(&out, "n"), s(&[2, 1, 1, 2]));
        assert_eq!(col_i64(&out, "f"), s(&[1, 3, 4, 5]));
    }

    #[test]
    fn keys_sort_with_nulls_last() {
        let k1: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(1), None, Some(-4)]));
        let k2: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(false), Some(false)]));
        let dict: DictionaryArray<Int32Type> = vec![Some("z"), Some("a"), None, Some("z"), Some("z")].into_iter().collect();
        let dict: ArrayRef = Arc::new(dict);
        let t = ints(&[0, 1, 2, 3, 4]);
        let out = window(
            vec![("k1", k1), ("k2", k2), ("d", dict.clone()), ("t", t.clone())],
            r#"{"time":"t","every":10,"by":["k1","k2"],"aggs":["count() as n"]}"#,
        )
        .unwrap();
        let k1: Vec<_> = out.column(0).as_primitive::<Int32Type>().iter().collect();
        let k2: Vec<_> = out.column(1).as_boolean().iter().collect();
        assert_eq!(k1, [Some(-4), Some(1), Some(1), None]);
        assert_eq!(k2, [Some(false), Some(true), None, Some(false)]);
        assert_eq!(col_i64(&out, "n"), s(&[1, 1, 1, 2]));
        let out = window(vec![("d", dict.clone()), ("t", t)], r#"{"time":"t","every":10,"by":"d","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(out.schema().field(0).data_type(), dict.data_type());
        assert_eq!(col_str(&out, "d"), [Some("a".to_string()), Some("z".to_string()), None]);
        assert_eq!(col_i64(&out, "n"), s(&[1, 3, 1]));
    }

    #[test]
    fn nan_rules() {
        let nan = f64::NAN;
        let t = ints(&[0, 1, 2, 3, 10, 11, 20, 21]);
        let v = floats(&[nan, 1.0, f64::INFINITY, 1.0, nan, nan, 2.0, -1.0]);
        let out = window(
            vec![("t", t), ("v", v)],
            r#"{"time":"t","every":10,"aggs":["min(v) as lo","max(v) as hi","median(v) as med","quantile(v, 1) as q1",
                "quantile(v, 0) as q0","sum(v) as s","count_distinct(v) as d","mean(v) as m","var(v) as var"]}"#,
        )
        .unwrap();
        let same = |a: Vec<Option<f64>>, b: [f64; 3]| {
            assert!(a.iter().zip(b).all(|(x, y)| x.unwrap().total_cmp(&y).is_eq()), "{a:?} vs {b:?}");
        };
        same(col_f64(&out, "lo"), [1.0, nan, -1.0]);
        same(col_f64(&out, "hi"), [nan, nan, 2.0]);
        same(col_f64(&out, "med"), [f64::INFINITY, nan, 0.5]);
        same(col_f64(&out, "q1"), [nan, nan, 2.0]);
        same(col_f64(&out, "q0"), [1.0, nan, -1.0]);
        same(col_f64(&out, "s"), [nan, nan, 1.0]);
        same(col_f64(&out, "m"), [nan, nan, 0.5]);
        same(col_f64(&out, "var"), [nan, nan, 4.5]);
        assert_eq!(col_i64(&out, "d"), s(&[3, 1, 2]));
    }

    #[test]
    fn numeric_aggregations() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![Some(4), None, Some(1), Some(3), Some(2), None]));
        let t = ints(&[0, 0, 0, 0, 0, 10]);
        let out = window(
            vec![("t", t.clone()), ("v", v.clone())],
            r#"{"time":"t","every":10,"aggs":["var(v) as var","std(v) as std","quantile(v, 0.25) as q","approx_quantile(v, 0.25) as aq",
                "median(v) as med","mean(v) as m","count(v) as n","count_distinct(v) as d","approx_count_distinct(v) as ad","sum(v) as s"]}"#,
        )
        .unwrap();
        assert_eq!(col_f64(&out, "var"), [Some(5.0 / 3.0), None]);
        assert_eq!(col_f64(&out, "std"), [Some((5.0f64 / 3.0).sqrt()), None]);
        assert_eq!(col_f64(&out, "q"), [Some(1.75), None]);
        assert_eq!(col_f64(&out, "aq"), [Some(1.75), None]);
        assert_eq!(col_f64(&out, "med"), [Some(2.5), None]);
        assert_eq!(col_f64(&out, "m"), [Some(2.5), None]);
        assert_eq!(col_i64(&out, "n"), [Some(4), Some(0)]);
        assert_eq!(col_i64(&out, "d"), [Some(4), Some(0)]);
        assert_eq!(col_i64(&out, "ad"), [Some(4), Some(0)]);
        assert_eq!(col_i64(&out, "s"), [Some(10), None]);
        let dec: ArrayRef = Arc::new(Decimal128Array::from(vec![150, 251]).with_precision_and_scale(10, 2).unwrap());
        let out = window(
            vec![("t", ints(&[0, 1])), ("x", dec)],
            r#"{"time":"t","every":10,"aggs":["sum(x) as s","mean(x) as m","max(x) as hi"]}"#,
        )
        .unwrap();
        assert_eq!(out.column(2).data_type(), &DataType::Decimal128(38, 2));
        assert_eq!(out.column(2).as_primitive::<Decimal128Type>().value(0), 401);
        assert_eq!(col_f64(&out, "m"), [Some(2.005)]);
        assert_eq!(out.column(4).data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(out.column(4).as_primitive::<Decimal128Type>().value(0), 251);
    }

    #[test]
    fn first_last_min_by_max_by_ties() {
        let t = ints(&[1, 1, 0, 1, 2]);
        let v: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), Some(20), Some(30), Some(40), None]));
        let by: ArrayRef = Arc::new(Int64Array::from(vec![Some(9), Some(9), Some(5), Some(1), None]));
        let out = window(
            vec![("t", t), ("v", v), ("b", by)],
            r#"{"time":"t","every":10,"aggs":["first(v) as f","last(v) as l","min_by(v, b) as lo","max_by(v, b) as hi","max_by(b, v) as hb"]}"#,
        )
        .unwrap();
        assert_eq!(col_i64(&out, "f"), s(&[30]));
        // Rows 0, 1 and 3 share the last time: the latest in input order wins.
        assert_eq!(col_i64(&out, "l"), s(&[40]));
        assert_eq!(col_i64(&out, "lo"), s(&[40]));
        assert_eq!(col_i64(&out, "hi"), s(&[10]));
        assert_eq!(col_i64(&out, "hb"), s(&[1]));
        // max_by ties by time before input order; the value at the row may be null.
        let out = window(
            vec![("t", ints(&[5, 3, 4])), ("v", Arc::new(Int64Array::from(vec![Some(1), Some(2), None]))), ("b", ints(&[7, 7, 8]))],
            r#"{"time":"t","every":10,"aggs":["max_by(v, b) as hi","min_by(v, b) as lo"]}"#,
        )
        .unwrap();
        assert_eq!(col_i64(&out, "hi"), [None]);
        assert_eq!(col_i64(&out, "lo"), s(&[2]));
    }

    #[test]
    fn rolling_closed_variants() {
        let cases = [
            ("right", "2", vec![Some(1), Some(6), Some(6), Some(4)]),
            ("left", "2", vec![None, Some(1), Some(1), Some(5)]),
            ("both", "2", vec![Some(1), Some(6), Some(6), Some(9)]),
            ("none", "2", vec![None, Some(1), Some(1), None]),
            ("right", "\"2i\"", vec![Some(1), Some(3), Some(5), Some(7)]),
            ("left", "\"2i\"", vec![None, Some(1), Some(3), Some(5)]),
            ("both", "\"2i\"", vec![Some(1), Some(3), Some(6), Some(9)]),
            ("none", "\"2i\"", vec![None, Some(1), Some(2), Some(3)]),
        ];
        for (closed, period, sums) in cases {
            let spec = format!(r#"{{"time":"t","period":{period},"closed":"{closed}","aggs":["sum(v) as s","count() as n"]}}"#);
            let out = roll(vec![("t", ints(&[0, 1, 1, 3])), ("v", ints(&[1, 2, 3, 4]))], &spec).unwrap();
            assert_eq!(col_i64(&out, "s"), sums, "{closed} {period}");
            let counts: Vec<_> = sums.iter().map(|x| Some(i64::from(x.is_some()))).collect();
            if closed == "none" && period == "2" {
                assert_eq!(col_i64(&out, "n"), [Some(0), Some(1), Some(1), Some(0)]);
            } else if period == "2" && closed == "left" {
                assert_eq!(col_i64(&out, "n")[0], counts[0]);
            }
            assert_eq!(out.schema().field(0).name(), "t");
            assert_eq!(out.num_columns(), 4);
        }
    }

    #[test]
    fn rolling_by_key_in_input_order() {
        let k: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("a"), None, None]));
        let out = roll(
            vec![("t", ints(&[3, 0, 1, 7, 8])), ("k", k), ("v", ints(&[1, 2, 3, 4, 5]))],
            r#"{"time":"t","period":"2i","by":"k","aggs":["sum(v) as s","last(v) as l"]}"#,
        )
        .unwrap();
        assert_eq!(col_i64(&out, "s"), s(&[4, 2, 3, 4, 9]));
        assert_eq!(col_i64(&out, "l"), s(&[1, 2, 3, 4, 5]));
        assert_eq!(col_i64(&out, "t"), s(&[3, 0, 1, 7, 8]));
    }

    #[test]
    fn null_times() {
        let t: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(2), None]));
        let err = window(vec![("t", t.clone())], r#"{"time":"t","every":10,"aggs":["count()"]}"#).unwrap_err();
        assert!(matches!(err, SashError::NullTime { count: 2, .. }), "{err}");
        let out = window(vec![("t", t.clone())], r#"{"time":"t","every":10,"null_time":"drop","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(col_i64(&out, "n"), s(&[2]));
        assert_eq!(out.schema().metadata()[DROPPED_NULL_TIMES_KEY], "2");
        let out = roll(vec![("t", t)], r#"{"time":"t","period":10,"null_time":"drop","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(col_i64(&out, "n"), s(&[1, 2]));
        assert_eq!(out.schema().metadata()[DROPPED_NULL_TIMES_KEY], "2");
        let out = window(vec![("t", ints(&[1]))], r#"{"time":"t","every":10,"null_time":"drop","aggs":["count() as n"]}"#).unwrap();
        assert_eq!(out.schema().metadata()[DROPPED_NULL_TIMES_KEY], "0");
    }

    #[test]
    fn errors() {
        let err =
            window(vec![("t", ints(&[0, 1])), ("v", ints(&[i64::MAX, 1]))], r#"{"time":"t","every":10,"aggs":["sum(v)"]}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overflow);
        let t: ArrayRef = Arc::new(Int32Array::from(vec![i32::MAX - 7]));
        // [2147483640, 2147483650) does not fit Int32; (2147483630, 2147483640] does.
        let err = window(vec![("t", t.clone())], r#"{"time":"t","every":10,"aggs":["count()"]}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overflow);
        assert!(window(vec![("t", t)], r#"{"time":"t","every":10,"closed":"right","aggs":["count()"]}"#).is_ok());
        let list = || Arc::new(arrow_array::ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])])) as ArrayRef;
        let columns =
            || vec![("t", ints(&[0])), ("s", Arc::new(StringArray::from(vec!["x"])) as ArrayRef), ("f", floats(&[1.0])), ("l", list())];
        for (spec, kind) in [
            (r#"{"time":"nope","every":10,"aggs":["count()"]}"#, ErrorKind::UnknownColumn),
            (r#"{"time":"t","every":10,"by":"nope","aggs":["count()"]}"#, ErrorKind::UnknownColumn),
            (r#"{"time":"t","every":10,"aggs":["sum(nope)"]}"#, ErrorKind::UnknownColumn),
            (r#"{"time":"s","every":10,"aggs":["count()"]}"#, ErrorKind::WrongType),
            (r#"{"time":"t","every":10,"by":"l","aggs":["count()"]}"#, ErrorKind::WrongType),
            (r#"{"time":"t","every":10,"aggs":["mean(s)"]}"#, ErrorKind::WrongType),
        ] {
            assert_eq!(window(columns(), spec).unwrap_err().kind(), kind, "{spec}");
        }
    }

    #[test]
    fn several_sliced_batches_and_empty_input() {
        let (schema, batches) = input(vec![("t", ints(&[9, 0, 1, 2, 3, 9])), ("v", ints(&[0, 1, 2, 3, 4, 0]))]);
        let parts = [batches[0].slice(1, 2), batches[0].slice(3, 0), batches[0].slice(3, 2)];
        let spec = WindowSpec::from_json(r#"{"time":"t","every":2,"aggs":["sum(v) as s"]}"#).unwrap();
        let out = window_agg(&schema, &parts, &spec).unwrap();
        assert_eq!(col_i64(&out, "s"), s(&[3, 7]));
        let out = window_agg(&schema, &[], &spec).unwrap();
        assert_eq!(out.num_rows(), 0);
        assert_eq!(out.num_columns(), 3);
        let spec = RollingSpec::from_json(r#"{"time":"t","period":"3i","aggs":["sum(v) as s"]}"#).unwrap();
        let out = rolling(&schema, &parts, &spec).unwrap();
        assert_eq!(col_i64(&out, "s"), s(&[1, 3, 6, 9]));
    }
}
