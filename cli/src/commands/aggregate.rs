//! `sash window` and `sash rolling`: parse (or read) and aggregate in one
//! streaming pipeline. The kernel's stream operators hold only open state,
//! so memory is bounded by the open windows, not by the input.

use crate::args::{InputFormat, TableInputArgs};
use crate::error::{CliError, CliResult, EXIT_DATA_ERRORS, EXIT_OK};
use crate::input::{read_table, table_format, total_size, BytesRead};
use crate::logs::{errors_schema, for_each_batch, without_error_column, FailedRows};
use crate::output::{Output, Target};
use crate::progress::{Counts, Progress};
use crate::spec::{complete, parse_spec};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use sash_core::{Parser, RollingStream, StreamStats, WindowStream};
use serde_json::{Map, Value};

/// Which operator a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Window,
    Rolling,
}

#[derive(Debug)]
enum Operator {
    Window(WindowStream),
    Rolling(RollingStream),
}

impl Operator {
    fn new(kind: Kind, spec: &Value) -> CliResult<Operator> {
        let text = spec.to_string();
        Ok(match kind {
            Kind::Window => Operator::Window(WindowStream::from_json(&text)?),
            Kind::Rolling => Operator::Rolling(RollingStream::from_json(&text)?),
        })
    }

    fn push(&mut self, batch: &RecordBatch) -> CliResult<RecordBatch> {
        Ok(match self {
            Operator::Window(s) => s.push(batch)?,
            Operator::Rolling(s) => s.push(batch)?,
        })
    }

    fn finish(&mut self) -> CliResult<RecordBatch> {
        Ok(match self {
            Operator::Window(s) => s.finish()?,
            Operator::Rolling(s) => s.finish()?,
        })
    }

    fn take_late(&mut self) -> CliResult<RecordBatch> {
        Ok(match self {
            Operator::Window(s) => s.take_late()?,
            Operator::Rolling(s) => s.take_late()?,
        })
    }

    fn stats(&self) -> StreamStats {
        match self {
            Operator::Window(s) => s.stats(),
            Operator::Rolling(s) => s.stats(),
        }
    }
}

/// The pipeline's ends: the operator, and the outputs opened as their schemas become known.
struct Pipeline<'a> {
    kind: Kind,
    spec: Map<String, Value>,
    lateness: Option<&'a String>,
    target: &'a Target,
    late_target: Option<Target>,
    op: Option<Operator>,
    out: Option<Output>,
    late: Option<Output>,
}

impl Pipeline<'_> {
    /// The operator for inputs of `schema`, made by the first input.
    fn start(&mut self, schema: &SchemaRef) -> CliResult<()> {
        if self.op.is_none() {
            let spec = complete(self.spec.clone(), schema, self.lateness)?;
            self.op = Some(Operator::new(self.kind, &spec)?);
            if let Some(t) = &self.late_target {
                self.late = Some(t.open(schema)?);
            }
        }
        Ok(())
    }

    fn emit(&mut self, results: RecordBatch) -> CliResult<()> {
        if self.out.is_none() {
            self.out = Some(self.target.open(&results.schema())?);
        }
        self.out.as_mut().expect("opened above").write(&results)
    }

    fn push(&mut self, batch: &RecordBatch, counts: &mut Counts) -> CliResult<()> {
        let op = self.op.as_mut().expect("started by the input");
        let results = op.push(batch)?;
        // Taken at every push, so late rows never pile up in the stream.
        let late = op.take_late()?;
        counts.late += late.num_rows() as u64;
        if let Some(out) = &mut self.late {
            out.write(&late)?;
        }
        self.emit(results)
    }

    fn finish(mut self, counts: &mut Counts, progress: &Progress) -> CliResult<()> {
        let op = self.op.as_mut().expect("started by the input");
        let results = op.finish()?;
        counts.null_times = op.stats().null_times_dropped;
        self.emit(results)?;
        let out = self.out.take().expect("opened by emit");
        counts.rows_out = out.rows;
        progress.clear();
        if let Some(late) = self.late.take() {
            late.commit()?;
        }
        out.commit()
    }
}

/// A time column read as text (CSV, JSON lines: JSON has no time type, and
/// CSV's inference may leave one as text): its ISO 8601 / RFC 3339 strings
/// become UTC timestamps in microseconds; a string that is not a time
/// becomes a null time (dropped and counted, or an error under
/// `--null-time error`).
struct TextTimes(Option<usize>);

impl TextTimes {
    fn of(schema: &SchemaRef, time: Option<&str>) -> TextTimes {
        let index = time.and_then(|name| schema.index_of(name).ok());
        TextTimes(index.filter(|&i| matches!(schema.field(i).data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)))
    }

    fn schema(&self, schema: &SchemaRef) -> SchemaRef {
        let Some(i) = self.0 else { return schema.clone() };
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[i] = fields[i].clone().with_data_type(utc_micros()).with_nullable(true);
        std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }

    fn convert(&self, batch: RecordBatch, schema: &SchemaRef) -> CliResult<RecordBatch> {
        let Some(i) = self.0 else { return Ok(batch) };
        let mut columns = batch.columns().to_vec();
        columns[i] = arrow_cast::cast(&columns[i], &utc_micros())?;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn run(kind: Kind, input: &TableInputArgs, spec: Map<String, Value>, quiet: bool) -> CliResult<i32> {
    let command = if kind == Kind::Window { "window" } else { "rolling" };
    let target = Target::from_args(&input.out)?;
    for (option, path) in [("--late", &input.late), ("--errors", &input.errors)] {
        if path.is_some() && path.as_ref() == target.path.as_ref() {
            return Err(CliError::usage(format!("{option} and -o name the same file")));
        }
    }
    let logs_given = input.log.format.is_some() || input.log.parse_spec.is_some();
    let formats = input.files.iter().map(|p| table_format(p, input.input_format, logs_given)).collect::<CliResult<Vec<_>>>()?;
    let parse = if formats.iter().any(Option::is_none) { Some(parse_spec(&input.log)?) } else { None };
    let mut errors = input.errors.as_deref().map(Target::side_file).map(|t| t.open(&errors_schema())).transpose()?;
    let mut pipeline = Pipeline {
        kind,
        spec,
        lateness: input.lateness.as_ref(),
        target: &target,
        late_target: input.late.as_deref().map(Target::side_file),
        op: None,
        out: None,
        late: None,
    };
    let read = BytesRead::default();
    let progress = Progress::new(total_size(&input.files), read.clone(), quiet);
    let mut counts = Counts::default();
    for (path, format) in input.files.iter().zip(&formats) {
        match format {
            None => {
                let spec = parse.as_ref().expect("made for log inputs");
                pipeline.start(&without_error_column(&Parser::new(spec)?.schema()))?;
                for_each_batch(
                    std::slice::from_ref(path),
                    spec,
                    input.log.chunk_bytes,
                    &read,
                    &mut counts,
                    &progress,
                    errors.as_mut(),
                    FailedRows::Remove,
                    |batch, counts| pipeline.push(&batch, counts),
                )?;
            }
            Some(format) => {
                debug_assert_ne!(*format, InputFormat::Log);
                counts.files += 1;
                let (schema, batches) = read_table(path, *format, &read)?;
                let times = TextTimes::of(&schema, input.agg.time.as_deref());
                let schema = times.schema(&schema);
                pipeline.start(&schema)?;
                for batch in batches {
                    if crate::signals::stop_requested() {
                        return Err(CliError::Interrupted);
                    }
                    let batch = times.convert(batch?, &schema)?;
                    counts.lines += batch.num_rows() as u64;
                    pipeline.push(&batch, &mut counts)?;
                    progress.update(&counts);
                }
            }
        }
    }
    if let Some(errors) = errors {
        errors.commit()?;
    }
    pipeline.finish(&mut counts, &progress)?;
    progress.finish(command, &counts, &target.describe());
    let troubled = counts.failed > 0 || counts.late > 0;
    Ok(if input.strict && troubled { EXIT_DATA_ERRORS } else { EXIT_OK })
}
