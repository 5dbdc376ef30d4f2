//! Runs the parsing cases of the shared conformance corpus
//! (`tests/conformance/parse/`, format in the corpus README).

use crate::corpus::{corpus_dir, parse_cell, parse_input, parse_type, ParseInput};
use arrow_array::Array;
use arrow_buffer::Buffer;
use sash_core::{ParseOutput, ParseSpec, Parser, SashError};
use serde_json::Value;

/// Runs a case's input through the parser the way the case says.
fn run(input: &Value, spec: &Value) -> Result<ParseOutput, SashError> {
    let mut parser = Parser::new(&ParseSpec::from_value(spec)?)?;
    match parse_input(input) {
        ParseInput::Bytes(bytes) => parser.parse_bytes(&Buffer::from_vec(bytes)),
        ParseInput::Lines(array) => parser.parse_lines(&array),
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
                let got: Vec<Value> = (0..column.len()).map(|i| parse_cell(column.as_ref(), i)).collect();
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
