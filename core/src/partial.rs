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

use crate::expr::{quote_name, AggFunc};
use crate::spec::{WindowKind, WindowSpec};

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
            crate::expr::AggExpr::parse(text).unwrap();
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
