//! Reads the shared conformance corpus (`tests/conformance/`, format in its
//! README) into Arrow data, and compares results with expectations.
//! Other Rust test suites (the C binding's) include this file by path.

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::*;
use arrow_cast::cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct Case {
    pub file: String,
    pub name: String,
    pub op: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub spec: Value,
    pub expected: Expected,
}

#[derive(Debug)]
pub enum Expected {
    Table { schema: SchemaRef, batch: RecordBatch, metadata: Vec<(String, String)>, tolerance: Vec<(String, f64)> },
    Error { kind: String, message_contains: Vec<String> },
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

pub fn parse_type(text: &str) -> Result<DataType, String> {
    let t = text.trim();
    Ok(match t {
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" => DataType::Float32,
        "float64" => DataType::Float64,
        "bool" => DataType::Boolean,
        "utf8" => DataType::Utf8,
        "large_utf8" => DataType::LargeUtf8,
        "utf8_view" => DataType::Utf8View,
        "binary" => DataType::Binary,
        "date32" => DataType::Date32,
        "date64" => DataType::Date64,
        _ if t.starts_with("timestamp[") && t.ends_with(']') => {
            let inner = &t["timestamp[".len()..t.len() - 1];
            let mut parts = inner.splitn(2, ',');
            let unit = match parts.next().unwrap().trim() {
                "s" => TimeUnit::Second,
                "ms" => TimeUnit::Millisecond,
                "us" => TimeUnit::Microsecond,
                "ns" => TimeUnit::Nanosecond,
                other => return Err(format!("unknown time unit {other}")),
            };
            DataType::Timestamp(unit, parts.next().map(|tz| Arc::from(tz.trim())))
        }
        _ if t.starts_with("decimal128(") && t.ends_with(')') => {
            let inner = &t["decimal128(".len()..t.len() - 1];
            let mut parts = inner.split(',').map(|p| p.trim().parse::<i64>());
            let p = parts.next().and_then(|r| r.ok()).ok_or("bad precision")?;
            let s = parts.next().and_then(|r| r.ok()).ok_or("bad scale")?;
            DataType::Decimal128(p as u8, s as i8)
        }
        _ if t.starts_with("dictionary<") && t.ends_with('>') => {
            let inner = &t["dictionary<".len()..t.len() - 1];
            let (k, v) = inner.split_once(',').ok_or("dictionary<key, value>")?;
            DataType::Dictionary(Box::new(parse_type(k)?), Box::new(parse_type(v)?))
        }
        other => return Err(format!("unknown type '{other}'")),
    })
}

fn float(v: &Value) -> Result<Option<f64>, String> {
    Ok(match v {
        Value::Null => None,
        Value::Number(n) => Some(n.as_f64().ok_or("bad number")?),
        Value::String(s) => Some(match s.as_str() {
            "NaN" | "nan" => f64::NAN,
            "inf" | "+inf" | "Infinity" => f64::INFINITY,
            "-inf" | "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| format!("bad float {other}"))?,
        }),
        other => return Err(format!("bad float {other}")),
    })
}

fn int(v: &Value) -> Result<Option<i64>, String> {
    Ok(match v {
        Value::Null => None,
        Value::Number(n) => Some(n.as_i64().ok_or_else(|| format!("bad integer {n}"))?),
        other => return Err(format!("bad integer {other}")),
    })
}

fn string(v: &Value) -> Result<Option<String>, String> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => return Err(format!("bad string {other}")),
    })
}

pub fn build_array(data_type: &DataType, values: &[Value]) -> Result<ArrayRef, String> {
    let strict = CastOptions { safe: false, ..Default::default() };
    let cast_to = |a: ArrayRef| cast_with_options(&a, data_type, &strict).map_err(|e| e.to_string());
    Ok(match data_type {
        DataType::Float32 | DataType::Float64 => {
            let a: Float64Array = values.iter().map(float).collect::<Result<_, _>>()?;
            cast_to(Arc::new(a))?
        }
        DataType::Boolean => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::Bool(b) => Ok(Some(*b)),
                    other => Err(format!("bad bool {other}")),
                })
                .collect::<Result<BooleanArray, String>>()?,
        ),
        DataType::Date32 => Arc::new(values.iter().map(|v| int(v).map(|o| o.map(|x| x as i32))).collect::<Result<Date32Array, _>>()?),
        DataType::Date64 => Arc::new(values.iter().map(int).collect::<Result<Date64Array, _>>()?),
        DataType::Timestamp(unit, tz) => {
            let v: Vec<Option<i64>> = values.iter().map(int).collect::<Result<_, _>>()?;
            match unit {
                TimeUnit::Second => Arc::new(TimestampSecondArray::from(v).with_timezone_opt(tz.clone())),
                TimeUnit::Millisecond => Arc::new(TimestampMillisecondArray::from(v).with_timezone_opt(tz.clone())),
                TimeUnit::Microsecond => Arc::new(TimestampMicrosecondArray::from(v).with_timezone_opt(tz.clone())),
                TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::from(v).with_timezone_opt(tz.clone())),
            }
        }
        DataType::UInt64 => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| format!("bad uint64 {n}")),
                    other => Err(format!("bad uint64 {other}")),
                })
                .collect::<Result<UInt64Array, String>>()?,
        ),
        t if t.is_integer() => {
            let a: Int64Array = values.iter().map(int).collect::<Result<_, _>>()?;
            cast_to(Arc::new(a))?
        }
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::Decimal128(_, _)
        | DataType::Dictionary(_, _) => {
            let a: StringArray = values.iter().map(string).collect::<Result<_, _>>()?;
            cast_to(Arc::new(a))?
        }
        other => return Err(format!("unsupported type {other}")),
    })
}

fn parse_schema(fields: &Value) -> Result<SchemaRef, String> {
    let fields = fields.as_array().ok_or("schema must be a list")?;
    let fields: Vec<Field> = fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().ok_or("field name")?;
            let t = parse_type(f["type"].as_str().ok_or("field type")?)?;
            Ok(Field::new(name, t, true))
        })
        .collect::<Result<_, String>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

fn build_batch(schema: &SchemaRef, columns: &Value) -> Result<RecordBatch, String> {
    let mut arrays = Vec::new();
    for field in schema.fields() {
        let values = columns.get(field.name()).and_then(Value::as_array).ok_or_else(|| format!("missing column {}", field.name()))?;
        arrays.push(build_array(field.data_type(), values)?);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(arrays.first().map_or(0, |a| a.len())));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|e| e.to_string())
}

fn parse_batches(schema: &SchemaRef, batches: &Value) -> Result<Vec<RecordBatch>, String> {
    let mut out = Vec::new();
    for b in batches.as_array().ok_or("input.batches")? {
        let mut batch = build_batch(schema, &b["columns"])?;
        if let Some(slice) = b.get("slice").and_then(Value::as_array) {
            let offset = slice[0].as_u64().ok_or("slice offset")? as usize;
            let len = slice[1].as_u64().ok_or("slice length")? as usize;
            batch = batch.slice(offset, len);
        }
        out.push(batch);
    }
    Ok(out)
}

/// A case's (or a stream step's) `"error"` or `"expected"`.
fn parse_expected(case: &Value) -> Result<Expected, String> {
    Ok(if let Some(err) = case.get("error") {
        Expected::Error {
            kind: err["kind"].as_str().ok_or("error.kind")?.to_string(),
            message_contains: err
                .get("message_contains")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        }
    } else {
        let e = &case["expected"];
        let schema = parse_schema(&e["schema"])?;
        let batch = build_batch(&schema, &e["columns"])?;
        let metadata = e
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        let tolerance = e
            .get("tolerance")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0))).collect())
            .unwrap_or_default();
        Expected::Table { schema, batch, metadata, tolerance }
    })
}

fn parse_case(file: &str, case: &Value) -> Result<Case, String> {
    let name = case["name"].as_str().ok_or("case name")?.to_string();
    let op = case["op"].as_str().unwrap_or("window_agg").to_string();
    let schema = parse_schema(&case["input"]["schema"])?;
    let batches = parse_batches(&schema, &case["input"]["batches"])?;
    let expected = parse_expected(case)?;
    Ok(Case { file: file.to_string(), name, op, schema, batches, spec: case["spec"].clone(), expected })
}

/// Every case of every corpus file under `dir` (a subdirectory of the corpus).
pub fn load(dir: &str) -> Vec<Case> {
    case_values(dir)
        .into_iter()
        .map(|(file, case)| parse_case(&file, &case).unwrap_or_else(|e| panic!("{file} {}: {e}", case["name"])))
        .collect()
}

/// (file name, case) of every case of every file under `dir`, files in name order.
fn case_values(dir: &str) -> Vec<(String, Value)> {
    let dir = corpus_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in doc["cases"].as_array().unwrap_or_else(|| panic!("{file}: no cases")) {
            cases.push((file.clone(), case.clone()));
        }
    }
    cases
}

/// One step of a stream case (`streams/*.json`).
#[derive(Debug)]
pub enum Action {
    /// Push the input batch with this index.
    Push(usize),
    /// Advance the watermark to these ticks of the time column.
    Advance(i64),
    Finish,
    TakeLate,
    /// Snapshot the stream, drop it, and go on with one restored from the bytes.
    Restore,
}

#[derive(Debug)]
pub struct Step {
    pub action: Action,
    /// None for `Restore`.
    pub expected: Option<Expected>,
    /// `{"rows_in", "rows_late", "null_times_dropped"}` after the step, when given.
    pub stats: Option<(u64, u64, u64)>,
}

#[derive(Debug)]
pub struct StreamCase {
    pub file: String,
    pub name: String,
    pub op: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub spec: Value,
    pub steps: Vec<Step>,
}

fn parse_step(step: &Value) -> Result<Step, String> {
    let action = if let Some(i) = step.get("push") {
        Action::Push(i.as_u64().ok_or("push: a batch index")? as usize)
    } else if let Some(t) = step.get("advance") {
        Action::Advance(t.as_i64().ok_or("advance: ticks")?)
    } else if step.get("finish").is_some() {
        Action::Finish
    } else if step.get("take_late").is_some() {
        Action::TakeLate
    } else if step.get("restore").is_some() {
        Action::Restore
    } else {
        return Err(format!("step without an action: {step}"));
    };
    let expected = match action {
        Action::Restore => None,
        _ => Some(parse_expected(step)?),
    };
    let stats = step.get("stats").map(|s| {
        let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("stats.{k}"));
        (n("rows_in"), n("rows_late"), n("null_times_dropped"))
    });
    Ok(Step { action, expected, stats })
}

/// Every stream case of the corpus (`streams/*.json`).
pub fn load_streams() -> Vec<StreamCase> {
    let mut out = Vec::new();
    for (file, case) in case_values("streams") {
        let parse = || -> Result<StreamCase, String> {
            let schema = parse_schema(&case["input"]["schema"])?;
            Ok(StreamCase {
                file: file.clone(),
                name: case["name"].as_str().ok_or("case name")?.to_string(),
                op: case["op"].as_str().ok_or("op")?.to_string(),
                batches: parse_batches(&schema, &case["input"]["batches"])?,
                schema,
                spec: case["spec"].clone(),
                steps: case["steps"].as_array().ok_or("steps")?.iter().map(parse_step).collect::<Result<_, _>>()?,
            })
        };
        out.push(parse().unwrap_or_else(|e| panic!("{file} {}: {e}", case["name"])));
    }
    out
}

fn comparable(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Dictionary(_, v) => arrow_cast::cast(a, v).unwrap(),
        _ => a.clone(),
    }
}

/// Compares an actual result with the expectation; Err says what differs.
pub fn compare(actual: &RecordBatch, expected: &Expected) -> Result<(), String> {
    let Expected::Table { schema, batch, metadata, tolerance } = expected else {
        return Err(format!("expected an error, got a table of {} rows", actual.num_rows()));
    };
    let got: Vec<(String, DataType)> = actual.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let want: Vec<(String, DataType)> = schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    if got != want {
        return Err(format!("schema differs:\n  got  {got:?}\n  want {want:?}"));
    }
    for (k, v) in metadata {
        if actual.schema().metadata().get(k) != Some(v) {
            return Err(format!("metadata {k}: got {:?}, want {v}", actual.schema().metadata().get(k)));
        }
    }
    if actual.num_rows() != batch.num_rows() {
        return Err(format!("got {} rows, want {}\n{}", actual.num_rows(), batch.num_rows(), pretty(actual)));
    }
    for (i, field) in schema.fields().iter().enumerate() {
        let (a, e) = (comparable(actual.column(i)), comparable(batch.column(i)));
        if matches!(field.data_type(), DataType::Float64 | DataType::Float32) {
            let rel = tolerance.iter().find(|(n, _)| n == field.name()).map_or(1e-9, |(_, t)| *t);
            let a = arrow_cast::cast(&a, &DataType::Float64).unwrap();
            let e = arrow_cast::cast(&e, &DataType::Float64).unwrap();
            let (a, e) = (a.as_primitive::<Float64Type>(), e.as_primitive::<Float64Type>());
            for r in 0..a.len() {
                let ok = match (a.is_valid(r), e.is_valid(r)) {
                    (false, false) => true,
                    (true, true) => {
                        let (x, y) = (a.value(r), e.value(r));
                        (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= rel * y.abs().max(x.abs()) || (x - y).abs() <= 1e-12
                    }
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "column {} row {r}: got {:?}, want {:?}\n{}",
                        field.name(),
                        a.is_valid(r).then(|| a.value(r)),
                        e.is_valid(r).then(|| e.value(r)),
                        pretty(actual)
                    ));
                }
            }
        } else if let Some((_, rel)) = tolerance.iter().find(|(n, _)| n == field.name()) {
            let a = arrow_cast::cast(&a, &DataType::Float64).unwrap();
            let e = arrow_cast::cast(&e, &DataType::Float64).unwrap();
            let (a, e) = (a.as_primitive::<Float64Type>(), e.as_primitive::<Float64Type>());
            for r in 0..a.len() {
                if a.is_valid(r) != e.is_valid(r) || (a.is_valid(r) && (a.value(r) - e.value(r)).abs() > rel * e.value(r).abs() + 1e-12) {
                    return Err(format!("column {} row {r}: outside tolerance {rel}\n{}", field.name(), pretty(actual)));
                }
            }
        } else if a.to_data() != e.to_data() {
            return Err(format!("column {} differs:\n  got  {:?}\n  want {:?}", field.name(), a, e));
        }
    }
    Ok(())
}

pub fn pretty(batch: &RecordBatch) -> String {
    arrow_cast::pretty::pretty_format_batches(std::slice::from_ref(batch)).map(|d| d.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------- parse cases

/// A parse case's input: raw file bytes, or lines as an Arrow string array.
#[derive(Debug)]
pub enum ParseInput {
    Bytes(Vec<u8>),
    Lines(ArrayRef),
}

fn b64(v: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("base64 string")).expect("valid base64")
}

/// Builds a parse case's input the way the corpus README describes.
pub fn parse_input(input: &Value) -> ParseInput {
    if let Some(text) = input.get("text") {
        return ParseInput::Bytes(text.as_str().expect("text").as_bytes().to_vec());
    }
    if let Some(bytes) = input.get("bytes_base64") {
        return ParseInput::Bytes(b64(bytes));
    }
    let lines: Vec<Option<Vec<u8>>> = if let Some(lines) = input.get("lines_base64") {
        lines.as_array().expect("lines_base64").iter().map(|l| (!l.is_null()).then(|| b64(l))).collect()
    } else {
        let lines = input.get("lines").and_then(Value::as_array).expect("input.lines, lines_base64, text or bytes_base64");
        lines.iter().map(|l| l.as_str().map(|s| s.as_bytes().to_vec())).collect()
    };
    let as_str = || lines.iter().map(|l| l.as_ref().map(|b| String::from_utf8(b.clone()).expect("utf8 lines")));
    ParseInput::Lines(match input.get("array_type").and_then(Value::as_str).unwrap_or("utf8") {
        "utf8" => Arc::new(as_str().collect::<StringArray>()),
        "large_utf8" => Arc::new(as_str().collect::<LargeStringArray>()),
        "utf8_view" => Arc::new(as_str().collect::<StringViewArray>()),
        "binary" => Arc::new(lines.iter().map(|l| l.as_deref()).collect::<BinaryArray>()),
        other => panic!("unknown array_type {other}"),
    })
}

fn micros_to_text(us: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(us).expect("in range");
    let fraction = us.rem_euclid(1_000_000);
    if fraction == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        let digits = format!("{fraction:06}");
        format!("{}.{}Z", t.format("%Y-%m-%dT%H:%M:%S"), digits.trim_end_matches('0'))
    }
}

/// One cell of a parse result as the corpus writes it.
pub fn parse_cell(a: &dyn Array, i: usize) -> Value {
    use arrow_array::types::*;
    use serde_json::json;
    if a.is_null(i) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Utf8 => json!(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => json!(a.as_string::<i64>().value(i)),
        DataType::Utf8View => json!(a.as_string_view().value(i)),
        DataType::Boolean => json!(a.as_boolean().value(i)),
        DataType::UInt8 => json!(a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => json!(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => json!(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => json!(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Int32 => json!(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(a.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => json!(a.as_primitive::<Float64Type>().value(i)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => json!(micros_to_text(a.as_primitive::<TimestampMicrosecondType>().value(i))),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            json!(micros_to_text(a.as_primitive::<TimestampMillisecondType>().value(i) * 1_000))
        }
        DataType::Timestamp(TimeUnit::Second, _) => json!(micros_to_text(a.as_primitive::<TimestampSecondType>().value(i) * 1_000_000)),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            json!(micros_to_text(a.as_primitive::<TimestampNanosecondType>().value(i).div_euclid(1_000)))
        }
        DataType::List(_) => {
            let values = a.as_list::<i32>().value(i);
            Value::Array((0..values.len()).map(|j| parse_cell(values.as_ref(), j)).collect())
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            Value::Object(fields.iter().zip(s.columns()).map(|(f, c)| (f.name().clone(), parse_cell(c.as_ref(), i))).collect())
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut map = serde_json::Map::new();
            for j in 0..entries.len() {
                map.insert(keys.as_string::<i32>().value(j).to_string(), parse_cell(values.as_ref(), j));
            }
            Value::Object(map)
        }
        other => panic!("the parse corpus has no {other} cells"),
    }
}
