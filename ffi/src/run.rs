//! Running an operation as the C and JVM APIs take it: from a JSON spec, or
//! over a stream of batches.

use crate::import::StreamInput;
use crate::status::{Error, SashStatus};
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use sash_core::{Parser, RollingSpec, WindowSpec};

/// `window_agg` of the batches with a JSON window spec.
pub fn window_json(schema: &SchemaRef, batches: &[RecordBatch], spec: &str) -> Result<RecordBatch, Error> {
    Ok(sash_core::window_agg(schema, batches, &WindowSpec::from_json(spec)?)?)
}

/// `rolling` of the batches with a JSON rolling spec, as (schema, batches):
/// the schema is known even when there is no batch.
pub fn rolling_json(schema: &SchemaRef, batches: &[RecordBatch], spec: &str) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
    Ok(sash_core::rolling_with_schema(schema, batches, &RollingSpec::from_json(spec)?)?)
}

/// The lazy output stream of `sash_parse_stream` (and of the JNI library's
/// `parseStream`): one parsed batch per input batch.
pub struct ParseStream {
    input: StreamInput,
    parser: Parser,
    schema: SchemaRef,
    /// A batch read whose parse was cancelled: parsed first when pulled again.
    unparsed: Option<RecordBatch>,
}

impl std::fmt::Debug for ParseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseStream").field("schema", &self.schema).finish()
    }
}

impl ParseStream {
    /// Parses `input`, a stream of record batches of exactly one column of lines.
    pub fn new(input: StreamInput, parser: Parser) -> Result<ParseStream, Error> {
        let columns = input.schema().fields().len();
        if columns != 1 {
            return Err(Error::new(
                SashStatus::InvalidInput,
                format!("invalid input: the stream of lines must have exactly one column, it has {columns}"),
            ));
        }
        let schema = parser.schema();
        Ok(ParseStream { input, parser, schema, unparsed: None })
    }
}

impl Iterator for ParseStream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.unparsed.take() {
            Some(batch) => batch,
            None => match self.input.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(ArrowError::CDataInterface(e.message))),
            },
        };
        let result = self.parser.parse_lines(batch.column(0).as_ref()).map(|o| o.batch);
        if matches!(result, Err(sash_core::SashError::Cancelled)) {
            // Nothing is lost: the parser's line count is as it was, and the
            // batch waits for the next pull.
            self.unparsed = Some(batch);
        }
        Some(result.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for ParseStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
