//! The shared conformance corpus (`tests/conformance/`) through the exported C
//! functions: every input goes out through the Arrow C Data Interface, every
//! result comes back through it, errors are compared by status name (the
//! corpus' kind names) and by `sash_last_error_message()`.

#[path = "../../core/tests/integration/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{Array, RecordBatch, RecordBatchIterator, RecordBatchReader, StructArray};
use arrow_schema::{Schema, SchemaRef};
use corpus::{compare, corpus_dir, load, parse_cell, parse_input, parse_type, Action, Expected, ParseInput};
use sash::stream::*;
use sash::*;
use serde_json::Value;
use std::ffi::{CStr, CString};
use std::sync::Arc;

/// A failed call: the status name and the message.
type CError = (String, String);

fn last_error(status: SashStatus) -> CError {
    // SAFETY: static / thread-local NUL-terminated strings.
    let name = unsafe { CStr::from_ptr(sash_status_name(status as i32)) }.to_string_lossy().into_owned();
    let message = unsafe { CStr::from_ptr(sash_last_error_message()) }.to_string_lossy().into_owned();
    (name, message)
}

fn export_batch(batch: &RecordBatch) -> (FFI_ArrowArray, FFI_ArrowSchema) {
    let schema = FFI_ArrowSchema::try_from(batch.schema().as_ref()).unwrap();
    let (array, _) = to_ffi(&StructArray::from(batch.clone()).into_data()).unwrap();
    (array, schema)
}

fn import_batch(array: FFI_ArrowArray, schema: &FFI_ArrowSchema) -> RecordBatch {
    let out_schema = Arc::new(Schema::try_from(schema).unwrap());
    // SAFETY: produced by sash.
    let data = unsafe { from_ffi(array, schema) }.unwrap();
    let s = StructArray::from(data);
    RecordBatch::try_new_with_options(
        out_schema,
        s.columns().to_vec(),
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(s.len())),
    )
    .unwrap()
}

type SingleFn = unsafe extern "C" fn(
    *mut FFI_ArrowArray,
    *mut FFI_ArrowSchema,
    *const std::ffi::c_char,
    *mut FFI_ArrowArray,
    *mut FFI_ArrowSchema,
) -> SashStatus;
type StreamFn = unsafe extern "C" fn(*mut FFI_ArrowArrayStream, *const std::ffi::c_char, *mut FFI_ArrowArrayStream) -> SashStatus;

fn call_single(f: SingleFn, mut array: FFI_ArrowArray, mut schema: FFI_ArrowSchema, spec: &str) -> Result<RecordBatch, CError> {
    let spec = CString::new(spec).unwrap();
    let (mut out, mut out_schema) = (FFI_ArrowArray::empty(), FFI_ArrowSchema::empty());
    // SAFETY: valid structs; sash takes the inputs (leaving them released).
    let status = unsafe { f(&mut array, &mut schema, spec.as_ptr(), &mut out, &mut out_schema) };
    assert!(array.is_released() && schema_released(&schema), "sash did not take its inputs");
    match status {
        SashStatus::Ok => Ok(import_batch(out, &out_schema)),
        s => Err(last_error(s)),
    }
}

fn schema_released(s: &FFI_ArrowSchema) -> bool {
    s.release.is_none()
}

fn call_stream(f: StreamFn, schema: SchemaRef, batches: Vec<RecordBatch>, spec: &str) -> Result<RecordBatch, CError> {
    let spec = CString::new(spec).unwrap();
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    let mut input = FFI_ArrowArrayStream::new(Box::new(reader));
    let mut out = FFI_ArrowArrayStream::empty();
    // SAFETY: valid streams.
    let status = unsafe { f(&mut input, spec.as_ptr(), &mut out) };
    assert!(input.release.is_none(), "sash did not take its input stream");
    if status != SashStatus::Ok {
        return Err(last_error(status));
    }
    let reader = ArrowArrayStreamReader::try_new(out).unwrap();
    let out_schema = reader.schema();
    let parts: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(|e| ("stream".to_string(), e.to_string()))?;
    Ok(arrow_select::concat::concat_batches(&out_schema, &parts).unwrap())
}

fn verdict(result: Result<RecordBatch, CError>, expected: &Expected) -> Result<(), String> {
    match (result, expected) {
        (Ok(batch), expected) => compare(&batch, expected),
        (Err((kind, message)), Expected::Error { kind: want, message_contains }) => {
            if &kind != want {
                Err(format!("status {kind} ({message}), want {want}"))
            } else if let Some(missing) = message_contains.iter().find(|s| !message.contains(s.as_str())) {
                Err(format!("message '{message}' does not mention '{missing}'"))
            } else {
                Ok(())
            }
        }
        (Err((kind, message)), Expected::Table { .. }) => Err(format!("unexpected error {kind}: {message}")),
    }
}

#[test]
fn windows_corpus_through_the_c_abi() {
    let cases = load("windows");
    assert!(cases.len() >= 60);
    let (mut runs, mut failures) = (0, Vec::new());
    for case in &cases {
        let spec = case.spec.to_string();
        let (single, stream): (SingleFn, StreamFn) = match case.op.as_str() {
            "window_agg" => (sash_window_agg, sash_window_agg_stream),
            "rolling" => (sash_rolling, sash_rolling_stream),
            other => panic!("unknown op {other}"),
        };
        // Every case through the stream function; one-batch cases through the single-batch one too.
        runs += 1;
        if let Err(why) = verdict(call_stream(stream, case.schema.clone(), case.batches.clone(), &spec), &case.expected) {
            failures.push(format!("{} / {} (stream): {why}", case.file, case.name));
        }
        if case.batches.len() == 1 {
            runs += 1;
            let (array, schema) = export_batch(&case.batches[0]);
            if let Err(why) = verdict(call_single(single, array, schema, &spec), &case.expected) {
                failures.push(format!("{} / {} (single batch): {why}", case.file, case.name));
            }
        }
    }
    println!("windows corpus through the C ABI: {} cases, {runs} runs, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} conformance runs failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

// ---------- parse ----------

fn parse_bytes(bytes: &[u8], spec: &str) -> Result<RecordBatch, CError> {
    let spec = CString::new(spec).unwrap();
    let (mut out, mut out_schema) = (FFI_ArrowArray::empty(), FFI_ArrowSchema::empty());
    // SAFETY: `bytes` is readable for its length.
    let status = unsafe { sash_parse_bytes(bytes.as_ptr(), bytes.len(), spec.as_ptr(), &mut out, &mut out_schema) };
    match status {
        SashStatus::Ok => Ok(import_batch(out, &out_schema)),
        s => Err(last_error(s)),
    }
}

/// Runs a case's input through the C functions: bytes through
/// `sash_parse_bytes`, lines through `sash_parse` and `sash_parse_stream`
/// (which must agree).
fn run_parse(input: &Value, spec: &str) -> Result<RecordBatch, CError> {
    let array = match parse_input(input) {
        ParseInput::Bytes(bytes) => return parse_bytes(&bytes, spec),
        ParseInput::Lines(array) => array,
    };
    let (ffi_array, ffi_schema) = to_ffi(&array.to_data()).unwrap();
    let single = call_single(sash_parse, ffi_array, ffi_schema, spec);
    let batch = RecordBatch::try_from_iter([("line", array)]).unwrap();
    let streamed = call_stream(sash_parse_stream, batch.schema(), vec![batch], spec);
    match (&single, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "sash_parse and sash_parse_stream disagree"),
        (Err(a), Err((_, b))) => assert!(b.contains(&a.1), "sash_parse_stream's error '{b}' is not sash_parse's '{}'", a.1),
        _ => panic!("sash_parse ({single:?}) and sash_parse_stream ({streamed:?}) disagree"),
    }
    single
}

fn check_parse(case: &Value) -> Result<(), String> {
    let result = run_parse(&case["input"], &case["spec"].to_string());
    match (result, case.get("error")) {
        (Ok(batch), None) => {
            let expected = &case["expected"];
            let columns = expected["columns"].as_object().ok_or("expected.columns")?;
            if batch.schema().fields().last().map(|f| f.name().as_str()) != Some("_error") {
                return Err("_error is not the last column".into());
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
        (Err((kind, message)), Some(error)) => {
            if kind != error["kind"].as_str().unwrap_or_default() {
                return Err(format!("status {kind} ({message}), want {}", error["kind"]));
            }
            for part in error.get("message_contains").and_then(Value::as_array).into_iter().flatten() {
                if !message.contains(part.as_str().unwrap_or_default()) {
                    return Err(format!("message '{message}' does not mention {part}"));
                }
            }
            Ok(())
        }
        (Ok(batch), Some(_)) => Err(format!("expected an error, got {} rows", batch.num_rows())),
        (Err((kind, message)), None) => Err(format!("unexpected error {kind}: {message}")),
    }
}

#[test]
fn parse_corpus_through_the_c_abi() {
    let dir = corpus_dir().join("parse");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for path in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            total += 1;
            if let Err(why) = check_parse(case) {
                failures.push(format!("{} / {}: {why}", path.file_name().unwrap().to_string_lossy(), case["name"]));
            }
        }
    }
    println!("parse corpus through the C ABI: {total} cases, {} failed", failures.len());
    assert!(total >= 25, "only {total} parse cases");
    assert!(failures.is_empty(), "{} of {total} parse cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The last-error message is per thread: concurrent failing calls each read their own.
#[test]
fn last_error_is_per_thread() {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let column = format!("missing_{t}");
                    let spec = format!(r#"{{"format": "regex", "pattern": "(?P<{column}>", "types": {{}}}}"#);
                    let err = parse_bytes(b"x\n", &spec).unwrap_err();
                    assert!(err.1.contains(&column), "thread {t} read another thread's message: {}", err.1);
                    // A success clears it.
                    parse_bytes(b"x\n", r#"{"format": "common"}"#).unwrap();
                    let msg = unsafe { CStr::from_ptr(sash_last_error_message()) };
                    assert_eq!(msg.to_bytes(), b"");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// ---------- streams ----------

/// The C functions of one stream kind, so both kinds run through one body.
struct StreamAbi<H> {
    new: unsafe extern "C" fn(*const std::ffi::c_char, *mut *mut H) -> SashStatus,
    push: unsafe extern "C" fn(*mut H, *mut FFI_ArrowArray, *mut FFI_ArrowSchema, *mut FFI_ArrowArray, *mut FFI_ArrowSchema) -> SashStatus,
    advance: unsafe extern "C" fn(*mut H, i64, *mut FFI_ArrowArray, *mut FFI_ArrowSchema) -> SashStatus,
    finish: unsafe extern "C" fn(*mut H, *mut FFI_ArrowArray, *mut FFI_ArrowSchema) -> SashStatus,
    take_late: unsafe extern "C" fn(*mut H, *mut FFI_ArrowArray, *mut FFI_ArrowSchema) -> SashStatus,
    snapshot: unsafe extern "C" fn(*mut H, *mut *mut u8, *mut usize) -> SashStatus,
    restore: unsafe extern "C" fn(*const u8, usize, *mut *mut H) -> SashStatus,
    stats: unsafe extern "C" fn(*mut H, *mut SashStreamStats) -> SashStatus,
    free: unsafe extern "C" fn(*mut H),
}

const WINDOW_STREAM: StreamAbi<SashWindowStream> = StreamAbi {
    new: sash_window_stream_new,
    push: sash_window_stream_push,
    advance: sash_window_stream_advance,
    finish: sash_window_stream_finish,
    take_late: sash_window_stream_take_late,
    snapshot: sash_window_stream_snapshot,
    restore: sash_window_stream_restore,
    stats: sash_window_stream_stats,
    free: sash_window_stream_free,
};

const ROLLING_STREAM: StreamAbi<SashRollingStream> = StreamAbi {
    new: sash_rolling_stream_new,
    push: sash_rolling_stream_push,
    advance: sash_rolling_stream_advance,
    finish: sash_rolling_stream_finish,
    take_late: sash_rolling_stream_take_late,
    snapshot: sash_rolling_stream_snapshot,
    restore: sash_rolling_stream_restore,
    stats: sash_rolling_stream_stats,
    free: sash_rolling_stream_free,
};

fn output(f: impl FnOnce(*mut FFI_ArrowArray, *mut FFI_ArrowSchema) -> SashStatus) -> Result<RecordBatch, CError> {
    let (mut out, mut out_schema) = (FFI_ArrowArray::empty(), FFI_ArrowSchema::empty());
    match f(&mut out, &mut out_schema) {
        SashStatus::Ok => Ok(import_batch(out, &out_schema)),
        s => Err(last_error(s)),
    }
}

fn run_stream_case<H>(abi: &StreamAbi<H>, case: &corpus::StreamCase) -> Result<(), String> {
    let spec = CString::new(case.spec.to_string()).unwrap();
    let mut stream: *mut H = std::ptr::null_mut();
    // SAFETY: valid spec string and out pointer.
    let status = unsafe { (abi.new)(spec.as_ptr(), &mut stream) };
    assert_eq!(status, SashStatus::Ok, "{}: {:?}", case.name, last_error(status));
    let mut case_outcome = Ok(());
    for (i, step) in case.steps.iter().enumerate() {
        // SAFETY (every call): `stream` is live; the structs are fresh and writable.
        let result = match step.action {
            Action::Push(b) => {
                let (mut array, mut schema) = export_batch(&case.batches[b]);
                output(|o, os| unsafe { (abi.push)(stream, &mut array, &mut schema, o, os) })
            }
            Action::Advance(t) => output(|o, os| unsafe { (abi.advance)(stream, t, o, os) }),
            Action::Finish => output(|o, os| unsafe { (abi.finish)(stream, o, os) }),
            Action::TakeLate => output(|o, os| unsafe { (abi.take_late)(stream, o, os) }),
            Action::Restore => {
                let (mut bytes, mut len) = (std::ptr::null_mut(), 0usize);
                assert_eq!(unsafe { (abi.snapshot)(stream, &mut bytes, &mut len) }, SashStatus::Ok);
                let mut restored: *mut H = std::ptr::null_mut();
                let status = unsafe { (abi.restore)(bytes, len, &mut restored) };
                unsafe { sash_bytes_free(bytes, len) };
                assert_eq!(status, SashStatus::Ok, "{}: {:?}", case.name, last_error(status));
                unsafe { (abi.free)(stream) };
                stream = restored;
                continue;
            }
        };
        let mut outcome = verdict(result, step.expected.as_ref().unwrap());
        if let (Ok(()), Some(want)) = (&outcome, step.stats) {
            let mut s = SashStreamStats::default();
            assert_eq!(unsafe { (abi.stats)(stream, &mut s) }, SashStatus::Ok);
            if (s.rows_in, s.rows_late, s.null_times_dropped) != want {
                outcome = Err(format!("stats {s:?}, want (rows_in, rows_late, null_times_dropped) {want:?}"));
            }
        }
        if let Err(why) = outcome {
            case_outcome = Err(format!("step {i} ({:?}): {why}", step.action));
            break;
        }
    }
    // SAFETY: live, freed once.
    unsafe { (abi.free)(stream) };
    case_outcome
}

#[test]
fn streams_corpus_through_the_c_abi() {
    let cases = corpus::load_streams();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &cases {
        let verdict = match case.op.as_str() {
            "window_stream" => run_stream_case(&WINDOW_STREAM, case),
            "rolling_stream" => run_stream_case(&ROLLING_STREAM, case),
            other => panic!("unknown op {other}"),
        };
        if let Err(why) = verdict {
            failures.push(format!("{} / {}: {why}", case.file, case.name));
        }
    }
    println!("streams corpus through the C ABI: {} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} stream cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
