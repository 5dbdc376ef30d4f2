//! Window aggregations split into partial aggregates and a merge.
//!
//! An engine that holds the rows in many partitions (the Spark integration)
//! should not move every row to aggregate them: each partition can compute
//! partial aggregates of its own rows per (key, window), and only those few
//! rows move to be merged, as SQL engines do for `GROUP BY`. That works when
//! every aggregation decomposes (`count`, `sum`, `mean` as sum and count,
//! `min`, `max`) and windows do not depend on other rows (tumbling and
//! hopping; a session's extent does). [`partial_plan`] tells whether a spec
//! decomposes and how.
//!
//! ```
//! let spec = sash_core::WindowSpec::from_json(
//!     r#"{"time": "ts", "every": "1m", "by": "host", "aggs": ["count() as n", "mean(latency) as avg"]}"#,
//! ).unwrap();
//! let plan = sash_core::partial::partial_plan(&spec).expect("count and mean decompose");
//! assert_eq!(plan.partial_aggs, vec![r#"count() as "__sash_p0""#, r#"sum(latency) as "__sash_p1""#, r#"count(latency) as "__sash_p2""#]);
//! assert_eq!(plan.merged[1].merge, sash_core::partial::Merge::Mean);
//! ```

use crate::agg::AggPlan;
use crate::error::{Result, SashError};
use crate::exec::grouper::Grouper;
use crate::exec::time::TimeColumn;
use crate::spec::expr::{quote_name, AggFunc};
use crate::spec::DROPPED_NULL_TIMES_KEY;
use crate::spec::{NullTime, WindowKind, WindowSpec};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
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
/// grouping, into exactly what [`crate::window::window_agg`] returns for all their
/// rows. Session windows do not split (a session's extent depends on rows
/// another part may hold).
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

/// The second step: merges batches of [`window_agg_partial`] (or of earlier
/// merges of them, see [`window_agg_merge_states`]) of an input of schema
/// `schema` into the result [`crate::window::window_agg`] gives for all their rows,
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
    if matches!(spec.kind, WindowKind::Session { .. }) {
        return Err(SashError::spec(
            "session windows cannot be aggregated in parts: a session's extent depends on rows another part may hold",
        ));
    }
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
    for (i, batch) in partials.iter().enumerate() {
        let found = batch.schema();
        let same = found.fields().len() == partial_fields.len()
            && found.fields().iter().zip(&partial_fields).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(SashError::InvalidInput(format!(
                "partial batch {i} is not a partial aggregate of this spec and input schema: expected columns {:?}, got {:?}",
                partial_fields.iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>(),
                found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
            )));
        }
    }
    let key_types: Vec<_> = key_fields.iter().map(|f| f.data_type().clone()).collect();
    let key_columns: Vec<Vec<ArrayRef>> = partials.iter().map(|b| b.columns()[..n_keys].to_vec()).collect();
    let mut grouper = Grouper::new(&key_types, &key_columns)?;
    // One slot per (group, window_start, window_end), in order of appearance.
    let mut slot_of: HashMap<(u32, i64, i64), u32> = HashMap::new();
    let mut windows: Vec<(u32, i64, i64)> = Vec::new();
    let mut gids = Vec::new();
    let mut slots = Vec::new();
    let mut dropped_null_times = 0u64;
    for (b, batch) in partials.iter().enumerate() {
        crate::exec::cancel::check()?;
        grouper.assign(b, 0..batch.num_rows(), &mut gids)?;
        let starts = time.values(batch.column(n_keys));
        let ends = time.values(batch.column(n_keys + 1));
        slots.clear();
        for (row, &gid) in gids.iter().enumerate() {
            let window = (gid, starts[row], ends[row]);
            let slot = *slot_of.entry(window).or_insert_with(|| {
                windows.push(window);
                (windows.len() - 1) as u32
            });
            slots.push(slot);
        }
        plan.grow(windows.len());
        plan.merge_state(&batch.columns()[n_keys + 2..], &slots)?;
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

/// How the partials of one aggregation combine into its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The sum of the partials (counts, sums; null when every partial is null).
    Sum,
    Min,
    Max,
    /// The sum of the partial sums (first partial) over the sum of the partial
    /// counts (second partial); null when the count is 0.
    Mean,
}

impl Merge {
    pub fn name(self) -> &'static str {
        match self {
            Merge::Sum => "sum",
            Merge::Min => "min",
            Merge::Max => "max",
            Merge::Mean => "mean",
        }
    }
}

/// One aggregation of the original spec, rebuilt from partial columns.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedAgg {
    /// The output column name of the original aggregation.
    pub alias: String,
    pub merge: Merge,
    /// The partial columns it is built from, named as in `partial_aggs`.
    pub partials: Vec<String>,
}

/// A decomposed window aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialPlan {
    /// The aggregation expressions that compute the partials: run the spec
    /// with these `aggs` on each partition.
    pub partial_aggs: Vec<String>,
    /// How to merge the partials of the same (keys, window_start, window_end).
    pub merged: Vec<MergedAgg>,
}

impl PartialPlan {
    /// `{"partial_aggs": [...], "merge": [{"alias", "merge", "partials"}, ...]}`.
    pub fn to_json(&self) -> String {
        let merged: Vec<serde_json::Value> =
            self.merged.iter().map(|m| serde_json::json!({"alias": m.alias, "merge": m.merge.name(), "partials": m.partials})).collect();
        serde_json::json!({"partial_aggs": self.partial_aggs, "merge": merged}).to_string()
    }
}

/// The partial plan of `spec`, or None when it does not decompose (session
/// windows, or an aggregation other than count, sum, mean, min and max).
pub fn partial_plan(spec: &WindowSpec) -> Option<PartialPlan> {
    if matches!(spec.kind, WindowKind::Session { .. }) {
        return None;
    }
    let mut partial_aggs = Vec::new();
    let mut merged = Vec::with_capacity(spec.aggs.len());
    let mut partial = |text: String| -> String {
        let name = format!("__sash_p{}", partial_aggs.len());
        partial_aggs.push(format!("{text} as {}", quote_name_always(&name)));
        name
    };
    for agg in &spec.aggs {
        let column = agg.column.as_deref().map(quote_name);
        let call = |func: &str| format!("{func}({})", column.clone().unwrap_or_default());
        let (merge, partials) = match agg.func {
            AggFunc::Count => (Merge::Sum, vec![partial(call("count"))]),
            AggFunc::Sum => (Merge::Sum, vec![partial(call("sum"))]),
            AggFunc::Min => (Merge::Min, vec![partial(call("min"))]),
            AggFunc::Max => (Merge::Max, vec![partial(call("max"))]),
            AggFunc::Mean => (Merge::Mean, vec![partial(call("sum")), partial(call("count"))]),
            _ => return None,
        };
        merged.push(MergedAgg { alias: agg.alias.clone(), merge, partials });
    }
    Some(PartialPlan { partial_aggs, merged })
}

/// A name in double quotes, so that it reads as a name whatever it holds.
fn quote_name_always(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> WindowSpec {
        WindowSpec::from_json(json).unwrap()
    }

    #[test]
    fn decomposable_aggregations_map_to_partials_and_merges() {
        let plan = partial_plan(&spec(
            r#"{"time": "t", "every": "1m", "period": "5m", "aggs": ["count()", "count(\"a b\") as c", "AVG(v)", "min(v) as lo", "max(v) as hi", "sum(v)"]}"#,
        ))
        .unwrap();
        assert_eq!(
            plan.partial_aggs,
            vec![
                r#"count() as "__sash_p0""#,
                r#"count("a b") as "__sash_p1""#,
                r#"sum(v) as "__sash_p2""#,
                r#"count(v) as "__sash_p3""#,
                r#"min(v) as "__sash_p4""#,
                r#"max(v) as "__sash_p5""#,
                r#"sum(v) as "__sash_p6""#,
            ]
        );
        let merges: Vec<(&str, Merge, usize)> = plan.merged.iter().map(|m| (m.alias.as_str(), m.merge, m.partials.len())).collect();
        assert_eq!(
            merges,
            vec![
                ("count()", Merge::Sum, 1),
                ("c", Merge::Sum, 1),
                ("mean(v)", Merge::Mean, 2),
                ("lo", Merge::Min, 1),
                ("hi", Merge::Max, 1),
                ("sum(v)", Merge::Sum, 1)
            ]
        );
        // The partial expressions are themselves valid aggregations.
        for text in &plan.partial_aggs {
            crate::spec::expr::AggExpr::parse(text).unwrap();
        }
        assert!(plan.to_json().contains(r#""merge":"mean","partials":["__sash_p2","__sash_p3"]"#), "{}", plan.to_json());
    }

    #[test]
    fn sessions_and_holistic_aggregations_do_not_decompose() {
        assert!(partial_plan(&spec(r#"{"time": "t", "session_gap": "1m", "aggs": ["count()"]}"#)).is_none());
        for agg in ["median(v)", "quantile(v, 0.5)", "first(v)", "count_distinct(v)", "var(v)", "min_by(v, w)", "approx_count_distinct(v)"]
        {
            let text = format!(r#"{{"time": "t", "every": "1m", "aggs": ["count()", "{agg}"]}}"#);
            assert!(partial_plan(&spec(&text)).is_none(), "{agg}");
        }
    }
}
