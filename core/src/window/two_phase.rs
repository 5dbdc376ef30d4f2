//! Window aggregations split into parts and merged: an engine that holds
//! the rows in many partitions (the Spark integration, threads, a stream's
//! checkpoints) computes the state of every aggregation per (keys, window)
//! where the rows are ([`window_agg_partial`]), moves only those states, and
//! merges them ([`window_agg_merge`]) into exactly what one call over all
//! the rows gives. Every aggregation has a state (see `agg`). Sessions
//! split too: a part's sessions are pieces of the whole input's, and the
//! merge joins the pieces that overlap (see [`session_slots`]).

use crate::agg::{corrupt_state, AggPlan};
use crate::error::{Result, SashError};
use crate::exec::grouper::Grouper;
use crate::exec::time::TimeColumn;
use crate::spec::DROPPED_NULL_TIMES_KEY;
use crate::spec::{NullTime, WindowKind, WindowSpec};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hashbrown::HashMap;
use std::sync::Arc;

/// The first step of a window aggregation in parts: for each (keys,
/// window) of this part of the input, the state of every aggregation
/// instead of its value. Its columns are the keys, `window_start`,
/// `window_end`, then the state's (plain Arrow: counts, exact sums, value
/// lists, sketch bytes, picked values with their time and position).
///
/// `first_position` is where this part starts in the whole input (the
/// number of rows of the parts before it, or any larger number): rows of
/// equal time are ordered by it, so `first` and `last` of the merged parts
/// are what one call over the parts' rows in part order gives.
/// [`window_agg_merge`] merges such batches, in any number, order and
/// grouping, into exactly what [`crate::window_agg`] returns for all their
/// rows. For session windows a part's rows are split into the part's own
/// sessions, which the merge joins where they overlap, so the parts may
/// split the rows in any way (keys and times mixed).
///
/// ```
/// use arrow_array::{Int64Array, RecordBatch};
/// use sash_core::{partial, window_agg, WindowSpec};
/// use std::sync::Arc;
/// let batch = RecordBatch::try_from_iter([
///     ("ts", Arc::new(Int64Array::from(vec![1, 2, 11, 12, 13])) as _),
///     ("v", Arc::new(Int64Array::from(vec![5, 1, 7, 3, 9])) as _),
/// ]).unwrap();
/// let spec = WindowSpec::from_json(r#"{"time": "ts", "every": 10, "aggs": ["median(v)", "first(v)"]}"#).unwrap();
/// let schema = batch.schema();
/// let (left, right) = (batch.slice(0, 3), batch.slice(3, 2));
/// let parts = [
///     partial::window_agg_partial(&schema, &[right], &spec, 3).unwrap(),
///     partial::window_agg_partial(&schema, &[left], &spec, 0).unwrap(),
/// ];
/// let merged = partial::window_agg_merge(&schema, &spec, &parts).unwrap();
/// assert_eq!(merged, window_agg(&schema, &[batch], &spec).unwrap());
/// ```
pub fn window_agg_partial(schema: &SchemaRef, batches: &[RecordBatch], spec: &WindowSpec, first_position: u64) -> Result<RecordBatch> {
    // Positions are exported as Int64; a part's rows take the ones after its first.
    if first_position > (i64::MAX as u64) / 2 {
        return Err(SashError::InvalidInput(format!("first_position {first_position} is above 2^62")));
    }
    crate::window::window_agg_states(schema, batches, spec, first_position)
}

/// Whether every aggregation of `spec` over `schema` gives the same bytes
/// merged from partial states as in one call, however the rows are split
/// (docs/semantics.md, "Same bytes, whatever the split"): all but `var`,
/// `std`, `approx_quantile`, and `sum`/`mean` of floating-point columns.
/// An engine that must match one call byte for byte splits only then.
pub fn splits_exactly(schema: &Schema, spec: &WindowSpec) -> bool {
    use crate::spec::expr::AggFunc;
    spec.aggs.iter().all(|agg| match agg.func {
        AggFunc::Var | AggFunc::Std | AggFunc::ApproxQuantile => false,
        AggFunc::Sum | AggFunc::Mean => agg.column.as_deref().and_then(|c| schema.field_with_name(c).ok()).is_some_and(|f| {
            let t = match f.data_type() {
                DataType::Dictionary(_, value) => value.as_ref(),
                t => t,
            };
            t.is_integer()
                || matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..))
        }),
        _ => true,
    })
}

/// The second step: merges batches of [`window_agg_partial`] (or of earlier
/// merges of them, see [`window_agg_merge_states`]) of an input of schema
/// `schema` into the result [`crate::window_agg`] gives for all their rows,
/// the same bytes in the same order.
pub fn window_agg_merge(schema: &SchemaRef, spec: &WindowSpec, partials: &[RecordBatch]) -> Result<RecordBatch> {
    merge(schema, spec, partials, false)
}

/// Merges partial batches into one partial batch (one row per key and
/// window), for a merge in more than two steps.
pub fn window_agg_merge_states(schema: &SchemaRef, spec: &WindowSpec, partials: &[RecordBatch]) -> Result<RecordBatch> {
    merge(schema, spec, partials, true)
}

fn merge(schema: &SchemaRef, spec: &WindowSpec, partials: &[RecordBatch], keep_states: bool) -> Result<RecordBatch> {
    spec.validate()?;
    let time = TimeColumn::resolve(schema, &spec.time)?;
    let mut plan = AggPlan::new(schema, &spec.aggs, &time)?;
    let key_fields: Vec<Field> = spec
        .by
        .iter()
        .map(|k| Ok(schema.field(crate::spec::types::column_index(schema, k)?).clone().with_nullable(true)))
        .collect::<Result<_>>()?;
    let mut partial_fields = key_fields.clone();
    partial_fields.push(Field::new("window_start", time.data_type.clone(), false));
    partial_fields.push(Field::new("window_end", time.data_type.clone(), false));
    partial_fields.extend(plan.state_fields());
    let n_keys = key_fields.len();
    let mut conformed = Vec::with_capacity(partials.len());
    for (i, batch) in partials.iter().enumerate() {
        let found = batch.schema();
        let same = found.fields().len() == partial_fields.len()
            && found.fields().iter().zip(&partial_fields).all(|(a, b)| a.name() == b.name() && same_shape(a.data_type(), b.data_type()));
        if !same {
            return Err(SashError::InvalidInput(format!(
                "partial batch {i} is not a partial aggregate of this spec and input schema: expected columns {:?}, got {:?}",
                partial_fields.iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>(),
                found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
            )));
        }
        conformed.push(conform(batch, &partial_fields)?);
    }
    let partials = &conformed[..];
    let key_types: Vec<_> = key_fields.iter().map(|f| f.data_type().clone()).collect();
    let key_columns: Vec<Vec<ArrayRef>> = partials.iter().map(|b| b.columns()[..n_keys].to_vec()).collect();
    let mut grouper = Grouper::new(&key_types, &key_columns)?;
    let mut batch_gids: Vec<Vec<u32>> = Vec::with_capacity(partials.len());
    for (b, batch) in partials.iter().enumerate() {
        crate::exec::cancel::check()?;
        let mut gids = Vec::new();
        grouper.assign(b, 0..batch.num_rows(), &mut gids)?;
        batch_gids.push(gids);
    }
    let bounds: Vec<WindowBounds<'_>> =
        partials.iter().map(|batch| (time.values(batch.column(n_keys)), time.values(batch.column(n_keys + 1)))).collect();
    // Each state row's slot, and each slot's (group, window_start, window_end).
    let (batch_slots, windows) = match spec.kind {
        WindowKind::Session { .. } => session_slots(&batch_gids, &bounds),
        _ => window_slots(&batch_gids, &bounds),
    };
    plan.grow(windows.len());
    let mut dropped_null_times = 0u64;
    for (b, batch) in partials.iter().enumerate() {
        crate::exec::cancel::check()?;
        plan.merge_state(&batch.columns()[n_keys + 2..], &batch_slots[b])?;
        if let Some(n) = batch.schema().metadata().get(DROPPED_NULL_TIMES_KEY) {
            dropped_null_times += n
                .parse::<u64>()
                .map_err(|_| SashError::InvalidInput(format!("partial batch {b} has an invalid {DROPPED_NULL_TIMES_KEY}: {n}")))?;
        }
    }
    // window_agg's order: window_start, then keys ascending (nulls last), then window_end.
    let (group_keys, rank) = grouper.finish()?;
    let mut order: Vec<u32> = (0..windows.len() as u32).collect();
    order.sort_unstable_by_key(|&slot| {
        let (gid, start, end) = windows[slot as usize];
        (start, rank[gid as usize], end)
    });
    let ordered_gids: Vec<u32> = order.iter().map(|&slot| windows[slot as usize].0).collect();
    let mut columns = grouper.keys_of(&group_keys, &ordered_gids)?;
    columns.push(time.build(order.iter().map(|&slot| windows[slot as usize].1).collect())?);
    columns.push(time.build(order.iter().map(|&slot| windows[slot as usize].2).collect())?);
    if keep_states {
        plan.emit_states();
    }
    columns.extend(plan.finish(&order)?);
    let mut fields = key_fields;
    fields.push(Field::new("window_start", time.data_type.clone(), false));
    fields.push(Field::new("window_end", time.data_type.clone(), false));
    fields.extend(plan.fields.iter().cloned());
    let mut metadata = std::collections::HashMap::new();
    if spec.null_time == NullTime::Drop {
        metadata.insert(DROPPED_NULL_TIMES_KEY.to_string(), dropped_null_times.to_string());
    }
    let options = RecordBatchOptions::new().with_row_count(Some(order.len()));
    Ok(RecordBatch::try_new_with_options(Arc::new(Schema::new_with_metadata(fields, metadata)), columns, &options)?)
}

/// A partial batch's windows: (window_start, window_end) columns in ticks.
type WindowBounds<'a> = (std::borrow::Cow<'a, [i64]>, std::borrow::Cow<'a, [i64]>);
type Bounds<'a> = [WindowBounds<'a>];
/// Each partial batch's row slots, and each slot's (group, window_start, window_end).
type Slotted = (Vec<Vec<u32>>, Vec<(u32, i64, i64)>);

/// Grid windows: one slot per (group, window_start, window_end), in order of
/// appearance.
fn window_slots(batch_gids: &[Vec<u32>], bounds: &Bounds<'_>) -> Slotted {
    let mut slot_of: HashMap<(u32, i64, i64), u32> = HashMap::new();
    let mut windows: Vec<(u32, i64, i64)> = Vec::new();
    let slots = batch_gids
        .iter()
        .zip(bounds)
        .map(|(gids, (starts, ends))| {
            gids.iter()
                .enumerate()
                .map(|(row, &gid)| {
                    let window = (gid, starts[row], ends[row]);
                    *slot_of.entry(window).or_insert_with(|| {
                        windows.push(window);
                        (windows.len() - 1) as u32
                    })
                })
                .collect()
        })
        .collect();
    (slots, windows)
}

/// Sessions: per group, the parts' sessions that overlap (one starts before
/// another ends, its last time + gap) are one session of all their rows, so
/// they share a slot spanning them all. Overlap is the batch rule read on
/// sessions: two rows less than a gap apart are in one session.
fn session_slots(batch_gids: &[Vec<u32>], bounds: &Bounds<'_>) -> Slotted {
    let mut rows: Vec<(u32, i64, i64, u32, u32)> = Vec::new();
    for (b, (gids, (starts, ends))) in batch_gids.iter().zip(bounds).enumerate() {
        rows.extend(gids.iter().enumerate().map(|(row, &gid)| (gid, starts[row], ends[row], b as u32, row as u32)));
    }
    rows.sort_unstable();
    let mut slots: Vec<Vec<u32>> = batch_gids.iter().map(|gids| vec![0; gids.len()]).collect();
    let mut windows: Vec<(u32, i64, i64)> = Vec::new();
    for (gid, start, end, b, row) in rows {
        match windows.last_mut() {
            Some(session) if session.0 == gid && start < session.2 => session.2 = session.2.max(end),
            _ => windows.push((gid, start, end)),
        }
        slots[b as usize][row as usize] = (windows.len() - 1) as u32;
    }
    (slots, windows)
}

/// Whether two types hold the same values but for their layout: the names
/// and nullability of list items, and small, large or view strings, binaries
/// and lists. What a partial batch keeps through an engine that stores it its
/// own way (Spark names list items "element" and may use large strings).
fn same_shape(a: &DataType, b: &DataType) -> bool {
    use DataType::*;
    match (a, b) {
        (List(a) | LargeList(a) | ListView(a) | LargeListView(a), List(b) | LargeList(b) | ListView(b) | LargeListView(b)) => {
            same_shape(a.data_type(), b.data_type())
        }
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        _ => a == b,
    }
}

/// The batch with the exact types of `fields` (nested names and nullability
/// as the plan makes them); a null where the plan has none is a corrupt state.
fn conform(batch: &RecordBatch, fields: &[Field]) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(fields)
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            let cast = arrow_cast::cast(column, field.data_type()).map_err(|e| corrupt_state(format!("column '{}': {e}", field.name())))?;
            cast.to_data().validate_full().map_err(|e| corrupt_state(format!("column '{}': {e}", field.name())))?;
            if let DataType::List(item) = field.data_type() {
                let values = cast.as_list::<i32>().values();
                if !item.is_nullable() && values.null_count() > 0 {
                    return Err(corrupt_state(format!("column '{}' holds a null item", field.name())));
                }
            }
            Ok(cast)
        })
        .collect::<Result<Vec<_>>>()?;
    let schema = Schema::new_with_metadata(fields.to_vec(), batch.schema().metadata().clone());
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(schema), columns, &options).map_err(|e| corrupt_state(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aggregations_exact_under_splits_split_exactly() {
        let schema = Schema::new(vec![
            Field::new("ts", DataType::Int64, false),
            Field::new("f", DataType::Float64, true),
            Field::new("i", DataType::Int32, true),
            Field::new("d", DataType::Decimal128(20, 2), true),
        ]);
        let splits = |aggs: &str| splits_exactly(&schema, &spec(&format!(r#"{{"time": "ts", "every": 10, "aggs": {aggs}}}"#)));
        assert!(splits(r#"["count()", "sum(i)", "mean(d)", "min(f)", "first(f)", "median(f)", "count_distinct(f)", "max_by(f, i)"]"#));
        for inexact in ["sum(f)", "mean(f)", "var(i)", "std(d)", "approx_quantile(f, 0.5)"] {
            assert!(!splits(&format!(r#"["count()", "{inexact}"]"#)), "{inexact}");
        }
    }

    #[test]
    fn extremes_no_output_asks_for_are_null_in_the_state_not_sentinels() {
        use arrow_array::{Decimal128Array, Int64Array};
        let price = Decimal128Array::from(vec![1234, -5678, 90]).with_precision_and_scale(12, 3).unwrap();
        let batch = RecordBatch::try_from_iter([
            ("ts", Arc::new(Int64Array::from(vec![1, 2, 11])) as ArrayRef),
            ("price", Arc::new(price) as ArrayRef),
        ])
        .unwrap();
        let schema = batch.schema();
        let partial =
            window_agg_partial(&schema, std::slice::from_ref(&batch), &spec(r#"{"time": "ts", "every": 10, "aggs": ["mean(price)"]}"#), 0)
                .unwrap();
        for name in ["s0.min", "s0.max"] {
            let column = partial.column_by_name(name).unwrap();
            assert_eq!(column.null_count(), column.len(), "{name}: an untracked extreme must not be exported");
        }
        // A tracked one is valid wherever values were counted, and within the type's precision.
        let partial = window_agg_partial(&schema, &[batch], &spec(r#"{"time": "ts", "every": 10, "aggs": ["min(price)"]}"#), 0).unwrap();
        let mins = partial.column_by_name("s0.min").unwrap();
        assert_eq!(mins.null_count(), 0);
        mins.as_primitive::<arrow_array::types::Decimal128Type>().validate_decimal_precision(12).unwrap();
    }

    #[test]
    fn a_partial_batch_with_renamed_or_nullable_list_items_merges_as_made() {
        use arrow_array::{Float64Array, Int64Array, ListArray};
        let batch = RecordBatch::try_from_iter([
            ("ts", Arc::new(Int64Array::from(vec![1, 2, 11])) as ArrayRef),
            ("v", Arc::new(Float64Array::from(vec![5.0, 1.0, 7.0])) as ArrayRef),
        ])
        .unwrap();
        let schema = batch.schema();
        let spec = spec(r#"{"time": "ts", "every": 10, "aggs": ["median(v)", "count_distinct(v)"]}"#);
        let partial = window_agg_partial(&schema, std::slice::from_ref(&batch), &spec, 0).unwrap();
        // What Spark makes of it: list items named "element", nullable.
        let renamed = |array: &ArrayRef| -> ArrayRef {
            match array.data_type() {
                DataType::List(item) => {
                    let list = array.as_list::<i32>();
                    let field = Arc::new(Field::new("element", item.data_type().clone(), true));
                    Arc::new(ListArray::new(field, list.offsets().clone(), list.values().clone(), list.nulls().cloned()))
                }
                _ => array.clone(),
            }
        };
        let columns: Vec<ArrayRef> = partial.columns().iter().map(renamed).collect();
        let fields: Vec<Field> =
            partial.schema().fields().iter().zip(&columns).map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true)).collect();
        let through_spark = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        assert_ne!(through_spark.schema(), partial.schema());
        let merged = window_agg_merge(&schema, &spec, std::slice::from_ref(&through_spark)).unwrap();
        assert_eq!(merged, crate::window::window_agg(&schema, &[batch], &spec).unwrap());

        // A null item where the plan has none is a corrupt state, not a value.
        let values_column = through_spark.schema().index_of("s0.values").unwrap();
        let mut columns = through_spark.columns().to_vec();
        let list = columns[values_column].as_list::<i32>().clone();
        let field = Arc::new(Field::new("element", DataType::Float64, true));
        let with_null = Float64Array::from(vec![None, Some(1.0), Some(7.0)]);
        columns[values_column] = Arc::new(ListArray::new(field, list.offsets().clone(), Arc::new(with_null), None));
        let corrupt = RecordBatch::try_new(through_spark.schema(), columns).unwrap();
        let err = window_agg_merge(&schema, &spec, &[corrupt]).unwrap_err();
        assert!(err.to_string().contains("corrupt") && err.to_string().contains("s0.values"), "{err}");
    }

    fn spec(json: &str) -> WindowSpec {
        WindowSpec::from_json(json).unwrap()
    }
}
