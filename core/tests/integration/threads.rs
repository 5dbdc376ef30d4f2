//! The thread count is execution, never semantics: every corpus case, random
//! inputs and the real logs give the same bytes with 1, 2 and 7 threads
//! (7 on a 2-core machine checks correctness, not speed). Inputs here are
//! small, so the kernels are told to split every call into parts however
//! small (`pool::split_small_inputs`), the way large inputs are split.

use crate::corpus::{corpus_dir, load, parse_input, ParseInput};
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sash_core::{pool, ParseOutput, ParseSpec, Parser, Result, WindowSpec};
use serde_json::Value;
use std::sync::Mutex;

/// The thread count and the split flag are process-wide: tests that set them
/// take turns (other tests may run meanwhile, with any count: their results
/// do not depend on it either).
static THREADS: Mutex<()> = Mutex::new(());

const COUNTS: [usize; 3] = [1, 2, 7];

/// `f` run with each thread count in `COUNTS`, splitting every call.
fn with_each_count<T>(f: impl Fn() -> T) -> Vec<(usize, T)> {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    pool::split_small_inputs(true);
    let out = COUNTS
        .iter()
        .map(|&n| {
            pool::set_threads(n).unwrap();
            (n, f())
        })
        .collect();
    pool::split_small_inputs(false);
    pool::set_threads(0).unwrap();
    out
}

/// Equal batches: schemas, and values byte for byte (a float column's NaN
/// equals NaN; `==` on arrays would say otherwise).
fn same_batch(a: &RecordBatch, b: &RecordBatch) -> bool {
    a.schema() == b.schema() && (a == b || format!("{a:?}") == format!("{b:?}"))
}

fn same_result(a: &Result<RecordBatch>, b: &Result<RecordBatch>) -> std::result::Result<(), String> {
    match (a, b) {
        (Ok(a), Ok(b)) if same_batch(a, b) => Ok(()),
        (Err(a), Err(b)) if a.to_string() == b.to_string() => Ok(()),
        (a, b) => Err(format!("one thread: {b:?}\nthis count: {a:?}")),
    }
}

/// Every `window_agg` case of the corpus (rolling cases: see `rolling`).
#[test]
fn window_corpus_cases_give_the_same_bytes_with_any_thread_count() {
    let cases: Vec<_> = load("windows").into_iter().filter(|c| c.op == "window_agg").collect();
    assert!(cases.len() >= 40);
    let runs = with_each_count(|| {
        cases
            .iter()
            .map(|c| WindowSpec::from_value(&c.spec).and_then(|s| sash_core::window_agg(&c.schema, &c.batches, &s)))
            .collect::<Vec<_>>()
    });
    let mut failures = Vec::new();
    for (count, results) in &runs[1..] {
        for (i, case) in cases.iter().enumerate() {
            if let Err(why) = same_result(&results[i], &runs[0].1[i]) {
                failures.push(format!("{} / {} with {count} threads: {why}", case.file, case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Random sorted and unsorted inputs in several batches, tumbling and
/// hopping windows (left and right closed, with offsets), with keys of
/// several types, nulls, NaN and float sums whose order would show.
#[test]
fn random_windows_give_the_same_bytes_with_any_thread_count() {
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let mut rng = StdRng::seed_from_u64(20261207);
    for round in 0..150 {
        let rows = rng.random_range(0..3000usize);
        let spread = rng.random_range(1..40i64);
        let mut t: Vec<i64> = (0..rows as i64).map(|i| i * spread / 8 + rng.random_range(0..spread) - 500).collect();
        if rng.random_bool(0.3) {
            t.swap(0, rows.saturating_sub(1));
        }
        let keys = rng.random_range(1..30);
        let k: Int64Array = (0..rows).map(|_| rng.random_bool(0.9).then(|| rng.random_range(0..keys))).collect();
        let names = ["a", "bb", "c", "dd", "e"];
        let s: StringArray = (0..rows).map(|_| rng.random_bool(0.9).then(|| names[rng.random_range(0..names.len())])).collect();
        let d: DictionaryArray<Int32Type> =
            (0..rows).map(|_| rng.random_bool(0.9).then(|| names[rng.random_range(0..names.len())])).collect();
        let x: Float64Array = (0..rows)
            .map(|_| match rng.random_range(0..20) {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some(rng.random_range(-1e6..1e6) * 10f64.powi(rng.random_range(-8..8))),
            })
            .collect();
        let batch = RecordBatch::try_from_iter([
            ("t", Arc::new(Int64Array::from(t)) as ArrayRef),
            ("k", Arc::new(k) as ArrayRef),
            ("s", Arc::new(s) as ArrayRef),
            ("d", Arc::new(d) as ArrayRef),
            ("x", Arc::new(x) as ArrayRef),
        ])
        .unwrap();
        let cut = rng.random_range(0..=rows);
        let batches = vec![batch.slice(0, cut), batch.slice(cut, rows - cut)];
        let every = rng.random_range(1..200);
        let period =
            if rng.random_bool(0.5) { every } else { every * rng.random_range(1..5) + rng.random_range(0..3) * (every / 2).max(1) };
        let by = ["[]", r#"["k"]"#, r#"["s", "k"]"#, r#"["d"]"#][rng.random_range(0..4)];
        let closed = ["left", "right"][rng.random_range(0..2)];
        let offset = rng.random_range(-50..50);
        let spec = format!(
            r#"{{"time": "t", "every": {every}, "period": {period}, "offset": {offset}, "closed": "{closed}", "by": {by},
                "aggs": ["count()", "sum(x)", "mean(x)", "min(x)", "max(x)", "first(x)", "last(x)", "var(x)", "median(x)", "count_distinct(s)"]}}"#
        );
        let spec = WindowSpec::from_json(&spec).unwrap();
        let runs = with_each_count(|| sash_core::window_agg(&batch.schema(), &batches, &spec));
        for (count, result) in &runs[1..] {
            if let Err(why) = same_result(result, &runs[0].1) {
                panic!("round {round}, {count} threads, spec {spec:?}: {why}");
            }
        }
        // The states of the two-phase aggregation carry each row's position
        // (ties in time are ordered by it): a part numbers its rows from
        // where it starts in the call's input.
        let first_position = rng.random_range(0..1u64 << 40);
        let states = with_each_count(|| sash_core::partial::window_agg_partial(&batch.schema(), &batches, &spec, first_position));
        for (count, result) in &states[1..] {
            if let Err(why) = same_result(result, &states[0].1) {
                panic!("round {round}, {count} threads, states from {first_position}, spec {spec:?}: {why}");
            }
        }
    }
}

fn parse_with(spec: &Value, input: &Value) -> Result<ParseOutput> {
    let mut parser = Parser::new(&ParseSpec::from_value(spec)?)?;
    match parse_input(input) {
        ParseInput::Bytes(bytes) => parser.parse_bytes(&Buffer::from_vec(bytes)),
        ParseInput::Lines(array) => parser.parse_lines(&array),
    }
}

fn same_parse(a: &Result<ParseOutput>, b: &Result<ParseOutput>) -> std::result::Result<(), String> {
    match (a, b) {
        (Ok(a), Ok(b)) if same_batch(&a.batch, &b.batch) && (a.parsed, a.failed) == (b.parsed, b.failed) => Ok(()),
        (Err(a), Err(b)) if a.to_string() == b.to_string() => Ok(()),
        (a, b) => Err(format!("one thread: {b:?}\nthis count: {a:?}")),
    }
}

#[test]
fn parse_corpus_cases_give_the_same_rows_with_any_thread_count() {
    let dir = corpus_dir().join("parse");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            cases.extend(doc["cases"].as_array().unwrap().iter().cloned());
        }
    }
    let runs = with_each_count(|| cases.iter().map(|c| parse_with(&c["spec"], &c["input"])).collect::<Vec<_>>());
    let mut failures = Vec::new();
    for (count, results) in &runs[1..] {
        for (i, case) in cases.iter().enumerate() {
            if let Err(why) = same_parse(&results[i], &runs[0].1[i]) {
                failures.push(format!("{} with {count} threads: {why}", case["name"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The real logs, whole and as arrays of lines, with errors kept and raised:
/// a raised error names the same line whichever part found it.
#[test]
fn real_logs_parse_the_same_with_any_thread_count() {
    let logs = corpus_dir().join("../data/logs");
    for (file, format) in [
        ("apache_combined_10k.log", "combined"),
        ("apache_2k.log", "apache_error"),
        ("linux_2k.log", "syslog"),
        ("openssh_2k.log", "syslog"),
        ("apache_combined_10k.log", "logfmt"),
    ] {
        let text = std::fs::read(logs.join(file)).unwrap();
        let lines: arrow_array::StringArray = String::from_utf8_lossy(&text).lines().map(Some).collect();
        for on_error in ["mark", "raise"] {
            let reference = if format == "syslog" { r#", "reference_time": "2026-01-01T00:00:00Z""# } else { "" };
            let spec = ParseSpec::from_json(&format!(r#"{{"format": "{format}", "on_error": "{on_error}"{reference}}}"#)).unwrap();
            let runs = with_each_count(|| {
                let whole = Parser::new(&spec).unwrap().parse_bytes(&Buffer::from_vec(text.clone()));
                let by_line = Parser::new(&spec).unwrap().parse_lines(&lines);
                (whole, by_line)
            });
            for (count, (whole, by_line)) in &runs[1..] {
                same_parse(whole, &runs[0].1 .0).unwrap_or_else(|why| panic!("{file} as {format}, {on_error}, {count} threads: {why}"));
                same_parse(by_line, &runs[0].1 .1).unwrap_or_else(|why| panic!("{file} lines as {format}, {count} threads: {why}"));
            }
        }
    }
}

/// A log read in chunks (`read_log`): each chunk is split, and rows, errors
/// and a raised error's line number (counted across chunks) are the same.
#[test]
fn a_log_read_in_chunks_parses_the_same_with_any_thread_count() {
    let logs = corpus_dir().join("../data/logs");
    let mut text = std::fs::read(logs.join("apache_combined_10k.log")).unwrap();
    // A garbage line two thirds in, in a later chunk than the first.
    let at = text.len() * 2 / 3;
    let at = at + text[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
    text.splice(at..at, b"not a combined line\n".iter().copied());
    for on_error in ["mark", "raise"] {
        let spec = ParseSpec::from_json(&format!(r#"{{"format": "combined", "on_error": "{on_error}"}}"#)).unwrap();
        let runs = with_each_count(|| {
            let reader = sash_core::ParseReader::new(std::io::Cursor::new(text.clone()), &spec).unwrap().with_chunk_bytes(64 << 10);
            reader.map(|r| r.map(|out| (out.batch, out.failed)).map_err(|e| e.to_string())).collect::<Vec<_>>()
        });
        for (count, chunks) in &runs[1..] {
            assert_eq!(chunks.len(), runs[0].1.len(), "{on_error}, {count} threads: chunk count");
            for (got, want) in chunks.iter().zip(&runs[0].1) {
                match (got, want) {
                    (Ok((a, fa)), Ok((b, fb))) => assert!(same_batch(a, b) && fa == fb, "{on_error}, {count} threads"),
                    (Err(a), Err(b)) => assert_eq!(a, b, "{on_error}, {count} threads"),
                    _ => panic!("{on_error}, {count} threads: {got:?} against {want:?}"),
                }
            }
        }
        if on_error == "raise" {
            let raised = runs[0].1.iter().find_map(|r| r.as_ref().err()).expect("the garbage line raises");
            let line = text[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(raised.contains(&format!("line {line}")), "{raised}");
        }
    }
}

/// Eight callers at once share the pool (no deadlock, no extra threads) and
/// each gets what it gets alone.
#[test]
fn many_callers_at_once_get_what_each_gets_alone() {
    let text = std::fs::read(corpus_dir().join("../data/logs/apache_combined_10k.log")).unwrap();
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    pool::split_small_inputs(true);
    pool::set_threads(2).unwrap();
    let alone = sash_core::parse_bytes(&Buffer::from_vec(text.clone()), &spec).unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| (0..5).map(|_| sash_core::parse_bytes(&Buffer::from_vec(text.clone()), &spec).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        for handle in handles {
            for out in handle.join().unwrap() {
                assert!(same_batch(&out.batch, &alone.batch));
            }
        }
    });
    pool::split_small_inputs(false);
    pool::set_threads(0).unwrap();
}
