//! Runs the shared conformance corpus against the kernel.

use crate::corpus::{compare, load, Expected};
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
            (Err(e), Expected::Error { kind, message_contains }) => {
                let message = e.to_string();
                if e.kind().as_str() != kind {
                    Err(format!("error kind {} ({message}), want {kind}", e.kind().as_str()))
                } else if let Some(missing) = message_contains.iter().find(|s| !message.contains(s.as_str())) {
                    Err(format!("message '{message}' does not mention '{missing}'"))
                } else {
                    Ok(())
                }
            }
            (Err(e), Expected::Table { .. }) => Err(format!("unexpected error: {e}")),
        };
        if let Err(why) = verdict {
            failures.push(format!("{} / {}: {why}", case.file, case.name));
        }
    }
    println!("conformance: {} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} conformance cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
