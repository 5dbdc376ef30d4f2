//! Which column types each part of a spec accepts, and what the output types are.

use crate::error::{Result, SashError};
use crate::spec::expr::{AggExpr, AggFunc};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// How the kernel reads a time column: every type becomes i64 ticks of one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeType {
    Timestamp(TimeUnit),
    /// Days since the epoch.
    Date32,
    /// Milliseconds since the epoch.
    Date64,
    /// Plain integers; durations are integers in the column's own unit.
    Int32,
    Int64,
}

impl TimeType {
    pub fn of(column: &str, data_type: &DataType) -> Result<TimeType> {
        Ok(match data_type {
            DataType::Timestamp(unit, _) => TimeType::Timestamp(*unit),
            DataType::Date32 => TimeType::Date32,
            DataType::Date64 => TimeType::Date64,
            DataType::Int32 => TimeType::Int32,
            DataType::Int64 => TimeType::Int64,
            other => {
                return Err(SashError::wrong_type(
                    column,
                    "a time column: Timestamp (any unit, any time zone), Date32, Date64, Int32 or Int64",
                    other,
                ))
            }
        })
    }

    /// Nanoseconds in one tick, or `None` for integer time.
    pub fn nanos_per_tick(&self) -> Option<i64> {
        match self {
            TimeType::Timestamp(TimeUnit::Second) => Some(1_000_000_000),
            TimeType::Timestamp(TimeUnit::Millisecond) => Some(1_000_000),
            TimeType::Timestamp(TimeUnit::Microsecond) => Some(1_000),
            TimeType::Timestamp(TimeUnit::Nanosecond) => Some(1),
            TimeType::Date32 => Some(86_400_000_000_000),
            TimeType::Date64 => Some(1_000_000),
            TimeType::Int32 | TimeType::Int64 => None,
        }
    }
}

/// Key columns: anything with a total order and equality. Float keys group
/// -0.0 with 0.0 and every NaN together (as DuckDB, Polars and Spark do).
pub fn check_key_type(column: &str, data_type: &DataType) -> Result<()> {
    let ok = match data_type {
        // Dictionary entries are grouped by their encoded bytes, where -0.0
        // and 0.0 (and NaNs) differ: float dictionaries stay out.
        DataType::Dictionary(_, value) => is_key_type(value) && !matches!(**value, DataType::Float32 | DataType::Float64),
        other => is_key_type(other),
    };
    if ok {
        Ok(())
    } else {
        Err(SashError::wrong_type(
            column,
            "a key column: integer, float, decimal, string (Utf8, LargeUtf8, Utf8View), binary, dictionary, boolean, date, time, timestamp, duration or null",
            data_type,
        ))
    }
}

/// Key types are the orderable ones (see [`is_orderable`]), dictionaries
/// aside: their values are checked by [`check_key_type`].
fn is_key_type(t: &DataType) -> bool {
    !matches!(t, DataType::Dictionary(_, _)) && is_orderable(t)
}

pub fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _))
}

/// Types with an order that min/max (and min_by/max_by's ordering column)
/// accept: numbers, strings and binaries (by bytes), booleans, dates, times,
/// timestamps, durations, and dictionaries of these (by their values, as
/// DuckDB and Polars order enums and categoricals of strings). A Null-typed
/// column (all null, as pandas and Polars make of a column of Nones) is
/// accepted too, as by DuckDB and Polars: its rows are skipped like any null.
pub fn is_orderable(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, value) => **value != DataType::Null && is_orderable(value),
        _ => {
            is_numeric(t)
                || matches!(
                    t,
                    DataType::Null
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                        | DataType::BinaryView
                        | DataType::FixedSizeBinary(_)
                        | DataType::Boolean
                        | DataType::Date32
                        | DataType::Date64
                        | DataType::Time32(_)
                        | DataType::Time64(_)
                        | DataType::Timestamp(_, _)
                        | DataType::Duration(_)
                )
        }
    }
}

fn field<'a>(schema: &'a Schema, name: &str) -> Result<&'a Field> {
    let found = schema.field_with_name(name).map_err(|_| SashError::UnknownColumn {
        name: name.to_string(),
        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
    })?;
    let same_name = schema.fields().iter().filter(|f| f.name() == name).count();
    if same_name > 1 {
        return Err(SashError::InvalidInput(format!(
            "the input has {same_name} columns named '{name}', which the spec names: rename all but one so it is clear which to read"
        )));
    }
    Ok(found)
}

/// Looks a column up by name, with an error listing what the input has.
pub fn column_index(schema: &Schema, name: &str) -> Result<usize> {
    field(schema, name)?;
    Ok(schema.index_of(name).expect("checked above"))
}

/// Checks an aggregation against the input schema and gives its output type.
pub fn agg_output_type(schema: &Schema, agg: &AggExpr) -> Result<DataType> {
    let value = match &agg.column {
        Some(c) => Some(field(schema, c)?),
        None => None,
    };
    if let Some(by) = &agg.by_column {
        let by_field = field(schema, by)?;
        if !is_orderable(by_field.data_type()) {
            return Err(SashError::wrong_type(by, format!("an orderable column for {}", agg.func.name()), by_field.data_type()));
        }
    }
    let numeric = |what: &str| -> Result<&DataType> {
        let f = value.expect("parser guarantees a column");
        // Null-typed: all null, so the result is null, as in DuckDB and Polars.
        if is_numeric(f.data_type()) || *f.data_type() == DataType::Null {
            Ok(f.data_type())
        } else {
            Err(SashError::wrong_type(f.name(), format!("a numeric column for {what}"), f.data_type()))
        }
    };
    Ok(match agg.func {
        AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct => DataType::Int64,
        AggFunc::Sum => match numeric("sum")? {
            DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Decimal128(_, s) => DataType::Decimal128(38, *s),
            _ => DataType::Int64,
        },
        AggFunc::Mean | AggFunc::Var | AggFunc::Std | AggFunc::Median | AggFunc::Quantile | AggFunc::ApproxQuantile => {
            numeric(agg.func.name())?;
            DataType::Float64
        }
        AggFunc::Min | AggFunc::Max => {
            let f = value.expect("parser guarantees a column");
            if !is_orderable(f.data_type()) {
                return Err(SashError::wrong_type(f.name(), format!("an orderable column for {}", agg.func.name()), f.data_type()));
            }
            f.data_type().clone()
        }
        AggFunc::First | AggFunc::Last | AggFunc::MinBy | AggFunc::MaxBy => value.expect("parser guarantees a column").data_type().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// min/max keep the input type for every orderable type, dictionaries and
    /// durations included; a type without an order is a wrong_type error
    /// naming the column, also as min_by/max_by's ordering column.
    #[test]
    fn min_and_max_take_the_orderable_types() {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::LargeUtf8));
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
        let schema = Schema::new(vec![
            Field::new("c", dictionary.clone(), true),
            Field::new("d", DataType::Duration(TimeUnit::Second), true),
            Field::new("t", DataType::Time64(TimeUnit::Nanosecond), true),
            Field::new("y", DataType::FixedSizeBinary(4), true),
            Field::new("l", list, true),
            Field::new("n", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Null)), true),
        ]);
        let output = |text: &str| agg_output_type(&schema, &AggExpr::parse(text).expect("valid"));
        assert_eq!(output("min(c)").ok(), Some(dictionary));
        assert_eq!(output("max(d)").ok(), Some(DataType::Duration(TimeUnit::Second)));
        assert_eq!(output("max(t)").ok(), Some(DataType::Time64(TimeUnit::Nanosecond)));
        assert_eq!(output("min(y)").ok(), Some(DataType::FixedSizeBinary(4)));
        assert_eq!(output("max_by(l, d)").ok().map(|t| t.is_nested()), Some(true), "any value type, ordered by a duration");
        for (text, column) in [("min(l)", "l"), ("max_by(d, l)", "l"), ("max(n)", "n")] {
            match output(text) {
                Err(SashError::WrongType { column: c, .. }) => assert_eq!(c, column, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
