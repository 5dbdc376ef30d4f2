//! Runs the shared conformance corpus against the kernel.

use crate::corpus::{compare, load, load_streams, Action, Expected};
use arrow_schema::SchemaRef;
use sash_core::{rolling, window_agg, RollingSpec, SashError, WindowSpec};

fn run(
    op: &str,
    schema: &SchemaRef,
    batches: &[arrow_array::RecordBatch],
    spec: &serde_json::Value,
) -> Result<arrow_array::RecordBatch, SashError> {
    match op {
        "window_agg" => window_agg(schema, batches, &WindowSpec::from_value(spec)?),
        "rolling" => {
            let spec = RollingSpec::from_value(spec)?;
            let parts = rolling(schema, batches, &spec)?;
            let out_schema = match parts.first() {
                Some(p) => p.schema(),
                None => {
                    // No batches in, none out: build the schema from an empty run.
                    let empty = arrow_array::RecordBatch::new_empty(schema.clone());
                    rolling(schema, &[empty], &spec)?[0].schema()
                }
            };
            Ok(arrow_select::concat::concat_batches(&out_schema, &parts)?)
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn windows_corpus() {
    let cases = load("windows");
    assert!(cases.len() >= 60, "the windows corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let result = run(&case.op, &case.schema, &case.batches, &case.spec);
        let verdict = match (&result, &case.expected) {
            (Ok(batch), expected) => compare(batch, expected),
            (Err(e), Expected::Error { kind, message_contains }) => check_error(e, kind, message_contains),
            (Err(e), Expected::Table { .. }) => Err(format!("unexpected error: {e}")),
        };
        if let Err(why) = verdict {
            failures.push(format!("{} / {}: {why}", case.file, case.name));
        }
    }
    println!("conformance: {} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} conformance cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

/// A `WindowStream` or a `RollingStream`, as the corpus drives them.
enum AnyStream {
    Window(sash_core::WindowStream),
    Rolling(sash_core::RollingStream),
}

impl AnyStream {
    fn new(op: &str, spec: &serde_json::Value) -> Result<AnyStream, SashError> {
        let text = spec.to_string();
        Ok(match op {
            "window_stream" => AnyStream::Window(sash_core::WindowStream::from_json(&text)?),
            "rolling_stream" => AnyStream::Rolling(sash_core::RollingStream::from_json(&text)?),
            other => panic!("unknown op {other}"),
        })
    }

    fn step(&mut self, action: &Action, batches: &[arrow_array::RecordBatch]) -> Result<Option<arrow_array::RecordBatch>, SashError> {
        macro_rules! on {
            ($s:ident => $e:expr) => {
                match self {
                    AnyStream::Window($s) => $e,
                    AnyStream::Rolling($s) => $e,
                }
            };
        }
        Ok(Some(match action {
            Action::Push(i) => on!(s => s.push(&batches[*i])?),
            Action::Advance(t) => on!(s => s.advance(*t)?),
            Action::Finish => on!(s => s.finish()?),
            Action::TakeLate => on!(s => s.take_late()?),
            Action::Restore => {
                *self = match self {
                    AnyStream::Window(s) => AnyStream::Window(sash_core::WindowStream::restore(&s.snapshot()?)?),
                    AnyStream::Rolling(s) => AnyStream::Rolling(sash_core::RollingStream::restore(&s.snapshot()?)?),
                };
                return Ok(None);
            }
        }))
    }

    fn stats(&self) -> sash_core::StreamStats {
        match self {
            AnyStream::Window(s) => s.stats(),
            AnyStream::Rolling(s) => s.stats(),
        }
    }
}

fn check_error(e: &SashError, kind: &str, message_contains: &[String]) -> Result<(), String> {
    let message = e.to_string();
    if e.kind().as_str() != kind {
        Err(format!("error kind {} ({message}), want {kind}", e.kind().as_str()))
    } else if let Some(missing) = message_contains.iter().find(|s| !message.contains(s.as_str())) {
        Err(format!("message '{message}' does not mention '{missing}'"))
    } else {
        Ok(())
    }
}

#[test]
fn streams_corpus() {
    let cases = load_streams();
    assert!(cases.len() >= 30, "the streams corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut stream = AnyStream::new(&case.op, &case.spec).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        for (i, step) in case.steps.iter().enumerate() {
            let result = stream.step(&step.action, &case.batches);
            let verdict = match (&result, &step.expected) {
                (Ok(None), None) => Ok(()),
                (Ok(Some(batch)), Some(expected)) => compare(batch, expected),
                (Err(e), Some(Expected::Error { kind, message_contains })) => check_error(e, kind, message_contains),
                (Err(e), _) => Err(format!("unexpected error: {e}")),
                (Ok(_), _) => Err("a result where the case has none".into()),
            };
            let verdict = verdict.and_then(|()| match step.stats {
                Some(want) => {
                    let s = stream.stats();
                    let got = (s.rows_in, s.rows_late, s.null_times_dropped);
                    if got == want {
                        Ok(())
                    } else {
                        Err(format!("stats (rows_in, rows_late, null_times_dropped) {got:?}, want {want:?}"))
                    }
                }
                None => Ok(()),
            });
            if let Err(why) = verdict {
                failures.push(format!("{} / {} step {i} ({:?}): {why}", case.file, case.name, step.action));
                break;
            }
        }
    }
    println!("stream conformance: {} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} stream cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
