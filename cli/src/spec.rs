//! The kernel's JSON specs, built from the command's options.

use crate::args::{AggArgs, GridArgs, LogArgs, RollingArgs};
use crate::error::{CliError, CliResult};
use arrow_schema::{DataType, Schema};
use sash_core::ParseSpec;
use serde_json::{Map, Value};

/// The parse spec: `--parse-spec`, or the options; failed lines are always
/// marked (never raised), as a command reports them itself.
pub fn parse_spec(args: &LogArgs) -> CliResult<ParseSpec> {
    Ok(parse_spec_json(args)?.1)
}

/// The parse spec as JSON (what a checkpoint records) and as the kernel takes it.
pub fn parse_spec_json(args: &LogArgs) -> CliResult<(Value, ParseSpec)> {
    let mut spec = match &args.parse_spec {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(CliError::usage("--parse-spec must be a JSON object")),
            Err(e) => return Err(CliError::usage(format!("--parse-spec is not JSON: {e}"))),
        },
        None => {
            let format = args.format.as_deref().ok_or_else(|| {
                CliError::usage(
                    "give the log format: --format combined (or common, nginx, apache, syslog, apache_error, logfmt, json, regex, grok, cri, docker)",
                )
            })?;
            let mut spec = Map::new();
            spec.insert("format".into(), format.into());
            if let Some(zone) = &args.timezone {
                spec.insert("timezone".into(), zone.as_str().into());
            }
            if let Some(t) = &args.reference_time {
                spec.insert("reference_time".into(), t.as_str().into());
            }
            if let Some(n) = args.max_line_bytes {
                spec.insert("max_line_bytes".into(), n.into());
            }
            if let Some(start) = &args.record_start {
                spec.insert("record_start".into(), start.as_str().into());
            }
            if let Some(n) = args.max_record_lines {
                spec.insert("max_record_lines".into(), n.into());
            }
            if let Some(n) = args.max_record_bytes {
                spec.insert("max_record_bytes".into(), n.into());
            }
            if let Some(inner) = &args.inner {
                spec.insert("inner".into(), inner.as_str().into());
            }
            if let Some(f) = &args.log_format {
                spec.insert("log_format".into(), f.as_str().into());
            }
            if let Some(path) = &args.patterns_file {
                spec.insert("patterns_file".into(), path.to_string_lossy().into_owned().into());
            }
            if let Some(p) = &args.pattern {
                spec.insert("pattern".into(), p.as_str().into());
            }
            if !args.types.is_empty() {
                spec.insert("types".into(), Value::Object(name_types(&args.types, "--type")?.into_iter().collect()));
            }
            if !args.fields.is_empty() {
                let fields = name_types(&args.fields, "--field")?;
                if format == "json" {
                    let schema = fields.into_iter().map(|(name, ty)| serde_json::json!({"name": name, "type": ty})).collect();
                    spec.insert("schema".into(), Value::Array(schema));
                } else {
                    spec.insert("fields".into(), Value::Object(fields.into_iter().collect()));
                }
            }
            spec
        }
    };
    if let Some(v) = spec.get("on_error") {
        if v != "mark" {
            return Err(CliError::usage("the command marks failed lines (on_error \"mark\"); --strict makes them fail the command"));
        }
    }
    spec.insert("on_error".into(), "mark".into());
    let spec = Value::Object(spec);
    let parsed = ParseSpec::from_value(&spec)?;
    Ok((spec, parsed))
}

/// `NAME:TYPE` pairs.
fn name_types(items: &[String], option: &str) -> CliResult<Vec<(String, Value)>> {
    items
        .iter()
        .map(|item| match item.rsplit_once(':') {
            Some((name, ty)) if !name.is_empty() && !ty.is_empty() => Ok((name.to_string(), Value::from(ty))),
            _ => Err(CliError::usage(format!("{option} takes NAME:TYPE (e.g. status:int), got '{item}'"))),
        })
        .collect()
}

/// A spec given as JSON text, as an object.
fn spec_object(text: Option<&str>) -> CliResult<Map<String, Value>> {
    match text {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(CliError::usage("--spec must be a JSON object")),
            Err(e) => Err(CliError::usage(format!("--spec is not JSON: {e}"))),
        },
    }
}

fn put(spec: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(v) = value {
        spec.insert(key.into(), v.as_str().into());
    }
}

/// The options every aggregating command shares, over `spec`.
fn common(spec: &mut Map<String, Value>, input: &AggArgs) {
    put(spec, "time", input.time.as_ref());
    if !input.by.is_empty() {
        spec.insert("by".into(), input.by.iter().map(|b| Value::from(b.trim())).collect());
    }
    if !input.aggs.is_empty() {
        spec.insert("aggs".into(), input.aggs.iter().map(|a| Value::from(a.as_str())).collect());
    }
    put(spec, "closed", input.closed.as_ref());
    spec.insert("null_time".into(), input.null_time.as_str().into());
}

pub fn window_spec(agg: &AggArgs, grid: &GridArgs) -> CliResult<Map<String, Value>> {
    let mut spec = spec_object(grid.spec.as_deref())?;
    common(&mut spec, agg);
    put(&mut spec, "every", grid.every.as_ref());
    put(&mut spec, "period", grid.period.as_ref());
    put(&mut spec, "session_gap", grid.session_gap.as_ref());
    put(&mut spec, "offset", grid.offset.as_ref());
    Ok(spec)
}

pub fn rolling_spec(args: &RollingArgs) -> CliResult<Map<String, Value>> {
    let mut spec = spec_object(args.spec.as_deref())?;
    common(&mut spec, &args.input.agg);
    put(&mut spec, "period", args.period.as_ref());
    Ok(spec)
}

/// Completes a spec against the input's schema: the time column when none
/// was named (the only timestamp column), and the stream's lateness (as
/// asked; otherwise none ever passes, so every row counts and results come
/// at the end, as one call over all rows gives them).
pub fn complete(mut spec: Map<String, Value>, schema: &Schema, lateness: Option<&String>) -> CliResult<Value> {
    if !spec.contains_key("aggs") {
        return Err(CliError::usage("give at least one aggregation: --agg 'count() as n'"));
    }
    if !spec.contains_key("time") {
        let times: Vec<&str> =
            schema.fields().iter().filter(|f| matches!(f.data_type(), DataType::Timestamp(..))).map(|f| f.name().as_str()).collect();
        match times.as_slice() {
            [one] => {
                spec.insert("time".into(), (*one).into());
            }
            [] => {
                return Err(CliError::usage("give the time column: --time COLUMN (the input has no timestamp column to take by default; a text column of ISO 8601 times is read as UTC times)"))
            }
            many => {
                return Err(CliError::usage(format!(
                    "give the time column: --time COLUMN (the input has several timestamp columns: {})",
                    many.join(", ")
                )))
            }
        }
    }
    let time = spec["time"].as_str().unwrap_or_default().to_string();
    let lateness = match lateness {
        Some(l) => Value::from(l.as_str()),
        None => match schema.field_with_name(&time).map(|f| f.data_type().clone()) {
            // No row is ever too late: a lateness past any time's range.
            Ok(DataType::Int32 | DataType::Int64) => Value::from(i64::MAX),
            _ => Value::from("106751d"),
        },
    };
    spec.insert("lateness".into(), lateness);
    Ok(Value::Object(spec))
}

/// A wall-clock duration option (`--idle-timeout 2m`), in the kernel's duration syntax.
pub fn wall_duration(option: &str, text: &str) -> CliResult<std::time::Duration> {
    match sash_core::Duration::parse(text) {
        Ok(sash_core::Duration::Time { nanos }) if nanos >= 0 => Ok(std::time::Duration::from_nanos(nanos as u64)),
        Ok(_) => Err(CliError::usage(format!("{option} takes a duration such as 500ms, 30s or 2m, got '{text}'"))),
        Err(e) => Err(CliError::usage(format!("{option}: {e}"))),
    }
}
