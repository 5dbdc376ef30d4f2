//! Runs the parsing cases of the shared conformance corpus
//! (`tests/conformance/parse/`, format in the corpus README).

use crate::corpus::{corpus_dir, parse_type};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, BinaryArray, LargeStringArray, StringArray, StringViewArray};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, TimeUnit};
use base64::Engine;
use sash_core::{ParseOutput, ParseSpec, Parser, SashError};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("base64 string")).expect("valid base64")
}

/// Runs a case's input through the parser the way the case says.
fn run(input: &Value, spec: &Value) -> Result<ParseOutput, SashError> {
    let mut parser = Parser::new(&ParseSpec::from_value(spec)?)?;
    if let Some(text) = input.get("text") {
        return parser.parse_bytes(&Buffer::from(text.as_str().expect("text").as_bytes()));
    }
    if let Some(bytes) = input.get("bytes_base64") {
        return parser.parse_bytes(&Buffer::from_vec(b64(bytes)));
    }
    let lines: Vec<Option<Vec<u8>>> = if let Some(lines) = input.get("lines_base64") {
        lines.as_array().expect("lines_base64").iter().map(|l| (!l.is_null()).then(|| b64(l))).collect()
    } else {
        let lines = input.get("lines").and_then(Value::as_array).expect("input.lines, lines_base64, text or bytes_base64");
        lines.iter().map(|l| l.as_str().map(|s| s.as_bytes().to_vec())).collect()
    };
    let as_str = || lines.iter().map(|l| l.as_ref().map(|b| String::from_utf8(b.clone()).expect("utf8 lines")));
    let array: ArrayRef = match input.get("array_type").and_then(Value::as_str).unwrap_or("utf8") {
        "utf8" => Arc::new(as_str().collect::<StringArray>()),
        "large_utf8" => Arc::new(as_str().collect::<LargeStringArray>()),
        "utf8_view" => Arc::new(as_str().collect::<StringViewArray>()),
        "binary" => Arc::new(lines.iter().map(|l| l.as_deref()).collect::<BinaryArray>()),
        other => panic!("unknown array_type {other}"),
    };
    parser.parse_lines(&array)
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

/// One cell as the corpus writes it.
fn cell(a: &dyn Array, i: usize) -> Value {
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
        DataType::List(_) => {
            let values = a.as_list::<i32>().value(i);
            Value::Array((0..values.len()).map(|j| cell(values.as_ref(), j)).collect())
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            Value::Object(fields.iter().zip(s.columns()).map(|(f, c)| (f.name().clone(), cell(c.as_ref(), i))).collect())
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut map = Map::new();
            for j in 0..entries.len() {
                map.insert(keys.as_string::<i32>().value(j).to_string(), cell(values.as_ref(), j));
            }
            Value::Object(map)
        }
        other => panic!("the parse corpus has no {other} cells"),
    }
}

fn check(case: &Value) -> Result<(), String> {
    let result = run(&case["input"], &case["spec"]);
    match (result, case.get("error")) {
        (Ok(out), None) => {
            let expected = &case["expected"];
            let columns = expected["columns"].as_object().ok_or("expected.columns")?;
            let batch = &out.batch;
            let errors = batch.column_by_name("_error").ok_or("no _error column")?;
            if batch.schema().fields().last().map(|f| f.name().as_str()) != Some("_error") {
                return Err("_error is not the last column".into());
            }
            if out.failed != errors.null_count().abs_diff(batch.num_rows()) || out.parsed + out.failed != batch.num_rows() {
                return Err(format!("counts parsed={} failed={} disagree with _error", out.parsed, out.failed));
            }
            for (name, want) in columns {
                let column = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
                let got: Vec<Value> = (0..column.len()).map(|i| cell(column.as_ref(), i)).collect();
                let want = want.as_array().ok_or("column values must be a list")?;
                if &got != want {
                    return Err(format!("column {name}:\n  got  {}\n  want {}", Value::Array(got), Value::Array(want.clone())));
                }
            }
            for (name, t) in expected.get("types").and_then(Value::as_object).into_iter().flatten() {
                let want = parse_type(t.as_str().ok_or("type string")?)?;
                let got = batch.schema().field_with_name(name).map_err(|e| e.to_string())?.data_type().clone();
                if got != want {
                    return Err(format!("column {name} has type {got}, want {want}"));
                }
            }
            Ok(())
        }
        (Err(e), Some(error)) => {
            let message = e.to_string();
            if e.kind().as_str() != error["kind"].as_str().unwrap_or_default() {
                return Err(format!("error kind {} ({message}), want {}", e.kind().as_str(), error["kind"]));
            }
            for part in error.get("message_contains").and_then(Value::as_array).into_iter().flatten() {
                if !message.contains(part.as_str().unwrap_or_default()) {
                    return Err(format!("message '{message}' does not mention {part}"));
                }
            }
            Ok(())
        }
        (Ok(out), Some(_)) => Err(format!("expected an error, got {} rows", out.batch.num_rows())),
        (Err(e), None) => Err(format!("unexpected error: {e}")),
    }
}

#[test]
fn parse_corpus() {
    let dir = corpus_dir().join("parse");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for path in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            total += 1;
            assert_eq!(case["op"], "parse", "{}", case["name"]);
            if let Err(why) = check(case) {
                failures.push(format!("{} / {}: {why}", path.file_name().unwrap().to_string_lossy(), case["name"]));
            }
        }
    }
    println!("parse corpus: {total} cases, {} failed", failures.len());
    assert!(total >= 25, "only {total} parse cases");
    assert!(failures.is_empty(), "{} of {total} parse cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
