//! `make demo`: per 10-minute window of a real access log, requests, server
//! errors and response sizes, computed by sash's window kernel.
//!
//! Until sash's own log parser lands (issue #3) this example reads only the
//! two fields it needs (timestamp and status, size) with plain string splits.

use arrow_array::{Int64Array, RecordBatch, TimestampSecondArray, UInt16Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use sash_core::{window_agg, WindowSpec};
use std::sync::Arc;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `[17/May/2015:10:05:03 +0000]` → seconds since the epoch (UTC).
fn timestamp(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (date, zone) = text.split_once(' ')?;
    let mut parts = date.split(['/', ':']);
    let day: i64 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let (h, mi, s): (i64, i64, i64) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let offset = sign * (zone[1..3].parse::<i64>().ok()? * 3600 + zone[3..5].parse::<i64>().ok()? * 60);
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "examples/data/apache_combined_10k.log".into());
    let text = std::fs::read_to_string(&path)?;
    let (mut times, mut statuses, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let Some(open) = line.find('[') else { continue };
        let Some(close) = line[open..].find(']') else { continue };
        let after_request = line[open + close..].splitn(3, '"').nth(2).unwrap_or("");
        let mut fields = after_request.split_whitespace();
        times.push(timestamp(&line[open + 1..open + close]));
        statuses.push(fields.next().and_then(|s| s.parse::<u16>().ok()));
        sizes.push(fields.next().and_then(|s| s.parse::<i64>().ok()));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, Some("+00:00".into())), true),
        Field::new("status", DataType::UInt16, true),
        Field::new("size", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampSecondArray::from(times).with_timezone("+00:00")),
            Arc::new(UInt16Array::from(statuses)),
            Arc::new(Int64Array::from(sizes)),
        ],
    )?;
    let spec = WindowSpec::from_json(
        r#"{"time": "ts", "every": "1h", "null_time": "drop",
            "aggs": ["count() as requests", "max(status) as max_status", "mean(size) as mean_bytes",
                     "quantile(size, 0.95) as p95_bytes", "approx_count_distinct(size) as distinct_sizes"]}"#,
    )?;
    let out = window_agg(&schema, &[batch], &spec)?;
    println!("{}", arrow_cast::pretty::pretty_format_batches(&[out])?);
    Ok(())
}
