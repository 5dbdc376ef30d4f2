//! Reading time columns as i64 ticks, converting durations to ticks, and
//! building `window_start`/`window_end` columns of the time column's type.

use crate::error::{Result, SashError};
use crate::spec::duration::Duration;
use crate::spec::types::{column_index, TimeType};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, Date32Array, Date64Array, Int32Array, Int64Array, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Schema, TimeUnit};
use std::borrow::Cow;
use std::sync::Arc;

/// The time column of an input, resolved against its schema.
#[derive(Debug, Clone)]
pub(crate) struct TimeColumn {
    pub name: String,
    pub index: usize,
    pub ty: TimeType,
    pub data_type: DataType,
}

impl TimeColumn {
    pub fn resolve(schema: &Schema, name: &str) -> Result<TimeColumn> {
        let index = column_index(schema, name)?;
        let data_type = schema.field(index).data_type().clone();
        let ty = TimeType::of(name, &data_type)?;
        Ok(TimeColumn { name: name.to_string(), index, ty, data_type })
    }

    /// Converts a spec duration to ticks of this column, refusing anything inexact.
    pub fn ticks(&self, key: &str, duration: Duration) -> Result<i64> {
        let bad = |reason: String| SashError::InvalidDuration { input: duration.to_string(), reason };
        match (self.ty.nanos_per_tick(), duration) {
            (None, Duration::Count(n)) => Ok(n),
            (None, Duration::Time { .. }) => {
                Err(bad(format!("'{key}' must be an integer (or \"10i\") for the integer time column '{}'", self.name)))
            }
            (Some(_), Duration::Count(_)) => {
                Err(bad(format!("'{key}' needs a unit (ns, us, ms, s, m, h, d, w) for the {} time column '{}'", self.data_type, self.name)))
            }
            (Some(per_tick), Duration::Time { nanos }) => {
                if nanos % per_tick != 0 {
                    Err(bad(format!("'{key}' is not a whole number of ticks of the {} time column '{}'", self.data_type, self.name)))
                } else {
                    Ok(nanos / per_tick)
                }
            }
        }
    }

    /// The column's values as ticks; borrowed when the column is already 64-bit.
    /// Values under nulls are unspecified.
    pub fn values<'a>(&self, array: &'a ArrayRef) -> Cow<'a, [i64]> {
        match array.data_type() {
            DataType::Int64 => Cow::Borrowed(array.as_primitive::<Int64Type>().values()),
            DataType::Date64 => Cow::Borrowed(array.as_primitive::<Date64Type>().values()),
            DataType::Timestamp(TimeUnit::Second, _) => Cow::Borrowed(array.as_primitive::<TimestampSecondType>().values()),
            DataType::Timestamp(TimeUnit::Millisecond, _) => Cow::Borrowed(array.as_primitive::<TimestampMillisecondType>().values()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Cow::Borrowed(array.as_primitive::<TimestampMicrosecondType>().values()),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => Cow::Borrowed(array.as_primitive::<TimestampNanosecondType>().values()),
            DataType::Int32 => Cow::Owned(array.as_primitive::<Int32Type>().values().iter().map(|&v| v as i64).collect()),
            DataType::Date32 => Cow::Owned(array.as_primitive::<Date32Type>().values().iter().map(|&v| v as i64).collect()),
            other => unreachable!("time type {other} was checked at resolve"),
        }
    }

    /// Builds a column of this time type from ticks.
    pub fn build(&self, values: Vec<i64>) -> Result<ArrayRef> {
        let narrow = |what: &str| -> Result<Vec<i32>> {
            values
                .iter()
                .map(|&v| {
                    i32::try_from(v).map_err(|_| {
                        SashError::Overflow(format!("a window bound ({v}) does not fit the {what} time column '{}'", self.name))
                    })
                })
                .collect()
        };
        Ok(match &self.data_type {
            DataType::Int64 => Arc::new(Int64Array::from(values)),
            DataType::Int32 => Arc::new(Int32Array::from(narrow("Int32")?)),
            DataType::Date32 => Arc::new(Date32Array::from(narrow("Date32")?)),
            DataType::Date64 => Arc::new(Date64Array::from(values)),
            DataType::Timestamp(unit, tz) => match unit {
                TimeUnit::Second => Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz.clone())),
                TimeUnit::Millisecond => Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz.clone())),
                TimeUnit::Microsecond => Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone())),
                TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz.clone())),
            },
            other => unreachable!("time type {other} was checked at resolve"),
        })
    }
}
