//! Log files through the kernel's parser: batch after batch, each file in
//! bounded memory, failed lines counted and (with --errors) written with
//! their file, line number, byte offset, reason and text.

use crate::error::{CliError, CliResult};
use crate::input::{display, open_log, BytesRead};
use crate::output::Output;
use crate::progress::{Counts, Progress};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sash_core::{ParseReader, ParseSpec};
use std::path::PathBuf;
use std::sync::Arc;

/// The columns of an --errors file.
pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("error", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ]))
}

/// The parse output's schema without its `_error` column.
pub fn without_error_column(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = schema.fields().iter().take(schema.fields().len() - 1).cloned().collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// What happens to the rows of lines that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedRows {
    /// They stay in the batch, their `_error` saying why.
    Keep,
    /// They leave the batch, and so does the `_error` column.
    Remove,
}

/// Parses `files` in order and hands each batch to `each`.
#[allow(clippy::too_many_arguments)]
pub fn for_each_batch(
    files: &[PathBuf],
    spec: &ParseSpec,
    chunk_bytes: Option<usize>,
    read: &BytesRead,
    counts: &mut Counts,
    progress: &Progress,
    mut errors: Option<&mut Output>,
    failed_rows: FailedRows,
    mut each: impl FnMut(RecordBatch, &mut Counts) -> CliResult<()>,
) -> CliResult<()> {
    for path in files {
        counts.files += 1;
        let name = display(path);
        let mut reader = ParseReader::new(open_log(path, read)?, spec)?;
        if let Some(n) = chunk_bytes {
            reader = reader.with_chunk_bytes(n);
        }
        while let Some(output) = reader.next() {
            let output = output.map_err(|e| match e {
                sash_core::SashError::Cancelled => CliError::Interrupted,
                e => CliError::io(format!("{name}: {}", e.to_string().trim_start_matches("invalid input: "))),
            })?;
            let batch = output.batch;
            counts.lines += batch.num_rows() as u64;
            counts.failed += output.failed as u64;
            let error_column = batch.num_columns() - 1;
            if output.failed > 0 {
                let messages = batch.column(error_column).as_string::<i32>();
                for message in messages.iter().flatten() {
                    counts.add_reason(message);
                }
                if let Some(errors) = errors.as_deref_mut() {
                    let source = reader.last_chunk().expect("a batch came from a chunk");
                    errors.write(&error_records(&name, source, messages)?)?;
                }
            }
            let batch = match failed_rows {
                FailedRows::Keep => batch,
                FailedRows::Remove => without_failed_rows(batch, output.failed)?,
            };
            each(batch, counts)?;
            progress.update(counts);
        }
    }
    Ok(())
}

/// A parse batch without the rows of lines that failed, and without `_error`.
pub fn without_failed_rows(batch: RecordBatch, failed: usize) -> CliResult<RecordBatch> {
    let error_column = batch.num_columns() - 1;
    let mut batch = if failed > 0 {
        let parsed: BooleanArray = batch
            .column(error_column)
            .logical_nulls()
            .map_or_else(|| BooleanArray::from(vec![false; batch.num_rows()]), |nulls| nulls.iter().map(|valid| Some(!valid)).collect());
        arrow_select::filter::filter_record_batch(&batch, &parsed)?
    } else {
        batch
    };
    batch.remove_column(error_column);
    Ok(batch)
}

/// The failed lines of one batch, as --errors records.
pub fn error_records(file: &str, source: &sash_core::ChunkSource, messages: &StringArray) -> CliResult<RecordBatch> {
    let rows = source.rows();
    if rows.len() != messages.len() {
        return Err(CliError::io(format!(
            "{file}: the parser gave {} rows for {} lines; please report this as a bug",
            messages.len(),
            rows.len()
        )));
    }
    let text = source.text.as_slice();
    let (mut numbers, mut offsets, mut reasons, mut texts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (row, message) in messages.iter().enumerate() {
        if let Some(message) = message {
            let source = &rows[row];
            numbers.push(source.line);
            offsets.push(source.offset);
            reasons.push(message.to_string());
            texts.push(String::from_utf8_lossy(&text[source.span.clone()]).into_owned());
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![file; numbers.len()])),
        Arc::new(UInt64Array::from(numbers)),
        Arc::new(UInt64Array::from(offsets)),
        Arc::new(StringArray::from(reasons)),
        Arc::new(StringArray::from(texts)),
    ];
    Ok(RecordBatch::try_new(errors_schema(), columns)?)
}
