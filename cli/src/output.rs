//! Writing batches: the formats, a file that appears only when complete,
//! stdout, and a table for a terminal.

use crate::args::{OutputArgs, OutputFormat};
use crate::error::{CliError, CliResult};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The format a path's extension names.
pub fn format_of_path(path: &Path) -> Option<OutputFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "parquet" | "pq" => OutputFormat::Parquet,
        "arrow" | "feather" | "ipc" => OutputFormat::Arrow,
        "arrows" => OutputFormat::Arrows,
        "csv" => OutputFormat::Csv,
        "jsonl" | "ndjson" | "json" => OutputFormat::Jsonl,
        _ => return None,
    })
}

/// Where a command's rows go, as the options say.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: Option<PathBuf>,
    pub format: OutputFormat,
    pub limit: usize,
    /// CSV: write the header row (not again for the later parts of one stdout).
    pub csv_header: bool,
    /// Sync the file to the disk before it is renamed into place: a commit
    /// of `follow` must survive a power loss; a `parse` output need only
    /// never appear half-written, which the rename alone ensures.
    pub durable: bool,
}

impl Target {
    pub fn from_args(args: &OutputArgs) -> CliResult<Target> {
        let path = args.output.clone().filter(|p| p.as_os_str() != "-");
        Target::new(path, args.output_format, args.limit, "-o")
    }

    /// A side file (--errors, --late): its format by its extension, JSON lines otherwise.
    pub fn side_file(path: &Path) -> Target {
        Target {
            path: Some(path.to_path_buf()),
            format: format_of_path(path).unwrap_or(OutputFormat::Jsonl),
            limit: 0,
            csv_header: true,
            durable: false,
        }
    }

    fn new(path: Option<PathBuf>, format: Option<OutputFormat>, limit: usize, option: &str) -> CliResult<Target> {
        let format = match (&path, format) {
            (_, Some(OutputFormat::Table)) if path.is_some() => {
                return Err(CliError::usage("--output-format table is for the terminal; pick a file format for -o"))
            }
            (_, Some(f)) => f,
            (Some(p), None) => format_of_path(p).ok_or_else(|| {
                CliError::usage(format!(
                    "cannot tell the output format from '{}' ({option}): name it .parquet, .arrow, .arrows, .csv or .jsonl, or give --output-format",
                    p.display()
                ))
            })?,
            (None, None) if std::io::stdout().is_terminal() => OutputFormat::Table,
            (None, None) => OutputFormat::Csv,
        };
        if path.is_some() {
            // Refuse early what could never be written, before any input is read.
            check_writable_dir(path.as_deref().unwrap())?;
        }
        Ok(Target { path, format, limit, csv_header: true, durable: false })
    }

    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "stdout".into(),
        }
    }

    /// Opens the writer once the schema is known. A file is written under a
    /// temporary name beside it and renamed by [`Output::commit`], so a
    /// failed or interrupted command never leaves a half-written file.
    pub fn open(&self, schema: &SchemaRef) -> CliResult<Output> {
        let failed = Failed::default();
        let (sink, dest) = match &self.path {
            Some(path) => {
                let dir = parent_dir(path);
                let file = tempfile::Builder::new()
                    .prefix(&format!(".{}.", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
                    .suffix(".partial")
                    // As any new file: what the umask lets everyone read.
                    .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
                    .tempfile_in(dir)
                    .map_err(|e| CliError::io_while(&format!("creating a file in {}", dir.display()), &e))?;
                let handle = file.as_file().try_clone().map_err(|e| CliError::io_while("opening the output", &e))?;
                (Box::new(BufWriter::with_capacity(1 << 20, Recorded { inner: handle, failed: failed.clone() })) as Sink, Some(file))
            }
            None => {
                (Box::new(BufWriter::with_capacity(1 << 16, Recorded { inner: std::io::stdout(), failed: failed.clone() })) as Sink, None)
            }
        };
        let what = format!("writing {}", self.describe());
        let what = Described { what, failed };
        let writer = match self.format {
            OutputFormat::Parquet => {
                let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
                Writer::Parquet(Box::new(
                    ArrowWriter::try_new(sink, schema.clone(), Some(props)).map_err(|e| what.error(|w| parquet_error(w, e)))?,
                ))
            }
            OutputFormat::Arrow => {
                let schema = plain_strings_schema(schema);
                Writer::Arrow(Box::new(arrow_ipc::writer::FileWriter::try_new(sink, &schema)?), schema)
            }
            OutputFormat::Arrows => {
                let schema = plain_strings_schema(schema);
                Writer::Arrows(Box::new(arrow_ipc::writer::StreamWriter::try_new(sink, &schema)?), schema)
            }
            OutputFormat::Csv => {
                check_flat(schema, "CSV")?;
                Writer::Csv(
                    Box::new(arrow_csv::WriterBuilder::new().with_header(self.csv_header).build(sink)),
                    lists_as_text_schema(schema),
                )
            }
            OutputFormat::Jsonl => Writer::Jsonl(Box::new(
                arrow_json::WriterBuilder::new().with_explicit_nulls(true).build::<_, arrow_json::writer::LineDelimited>(sink),
            )),
            OutputFormat::Table => {
                Writer::Table { schema: schema.clone(), shown: Vec::new(), shown_rows: 0, rows: 0, limit: self.limit, sink }
            }
        };
        Ok(Output { writer, dest, path: self.path.clone(), what, rows: 0, durable: self.durable })
    }
}

/// The directory a path's file goes in.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn check_writable_dir(path: &Path) -> CliResult<()> {
    if path.is_dir() {
        return Err(CliError::usage(format!("the output '{}' is a directory", path.display())));
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(CliError::io(format!("cannot write '{}': the directory '{}' does not exist", path.display(), dir.display())));
    }
    Ok(())
}

/// CSV holds flat columns and lists (as their text, `[0.004, 0.1]`): say
/// which column cannot go, and what can.
fn check_flat(schema: &SchemaRef, format: &str) -> CliResult<()> {
    for field in schema.fields() {
        if matches!(field.data_type(), DataType::Map(..) | DataType::Struct(_)) {
            return Err(CliError::usage(format!(
                "{format} cannot hold the column '{}' ({}); write .parquet, .arrow or .jsonl, or declare the fields you want (logfmt: --field NAME:TYPE)",
                field.name(),
                field.data_type()
            )));
        }
    }
    Ok(())
}

fn parquet_error(what: &str, e: parquet::errors::ParquetError) -> CliError {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => CliError::io_while(what, &io),
            Err(inner) => CliError::io(format!("{what}: {inner}")),
        },
        e => CliError::io(format!("{what}: {e}")),
    }
}

type Sink = Box<dyn Write + Send>;

/// The first I/O error a sink met: the writers of some formats keep only
/// its text, and "Csv error: ... (os error 27)" is not a message for users.
type Failed = std::sync::Arc<std::sync::Mutex<Option<(std::io::ErrorKind, Option<i32>)>>>;

struct Recorded<W> {
    inner: W,
    failed: Failed,
}

impl<W: Write> Recorded<W> {
    fn record<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert((e.kind(), e.raw_os_error()));
        }
        result
    }
}

impl<W: Write> Write for Recorded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.record(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.record(result)
    }
}

/// What an output is doing ("writing out.csv"), and the error its sink met.
struct Described {
    what: String,
    failed: Failed,
}

impl Described {
    /// The sink's own I/O error if it had one, else `other`.
    fn error(&self, other: impl FnOnce(&str) -> CliError) -> CliError {
        let failed = *self.failed.lock().unwrap_or_else(|p| p.into_inner());
        match failed {
            Some((kind, raw)) => {
                let e = match raw {
                    Some(code) => std::io::Error::from_raw_os_error(code),
                    None => std::io::Error::from(kind),
                };
                CliError::io_while(&self.what, &e)
            }
            None => other(&self.what),
        }
    }
}

enum Writer {
    Parquet(Box<ArrowWriter<Sink>>),
    Arrow(Box<arrow_ipc::writer::FileWriter<Sink>>, SchemaRef),
    Arrows(Box<arrow_ipc::writer::StreamWriter<Sink>>, SchemaRef),
    Csv(Box<arrow_csv::Writer<Sink>>, SchemaRef),
    Jsonl(Box<arrow_json::LineDelimitedWriter<Sink>>),
    Table { schema: SchemaRef, shown: Vec<RecordBatch>, shown_rows: usize, rows: u64, limit: usize, sink: Sink },
}

/// An open output: batches go in with `write`; `commit` makes the file appear.
pub struct Output {
    writer: Writer,
    /// The temporary file that `commit` renames (None for stdout).
    dest: Option<tempfile::NamedTempFile>,
    path: Option<PathBuf>,
    what: Described,
    pub rows: u64,
    durable: bool,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Output({}, {} rows)", self.what.what, self.rows)
    }
}

impl Output {
    pub fn write(&mut self, batch: &RecordBatch) -> CliResult<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        let what = &self.what;
        match &mut self.writer {
            Writer::Parquet(w) => w.write(batch).map_err(|e| what.error(|w| parquet_error(w, e))),
            Writer::Arrow(w, schema) => w.write(&plain_strings(batch, schema)?).map_err(|e| what.error(|w| arrow_io(w, e))),
            Writer::Arrows(w, schema) => w.write(&plain_strings(batch, schema)?).map_err(|e| what.error(|w| arrow_io(w, e))),
            Writer::Csv(w, schema) => w.write(&plain_strings(batch, schema)?).map_err(|e| what.error(|w| arrow_io(w, e))),
            Writer::Jsonl(w) => w.write(batch).map_err(|e| what.error(|w| arrow_io(w, e))),
            Writer::Table { shown, shown_rows, rows, limit, .. } => {
                *rows += batch.num_rows() as u64;
                if *shown_rows < *limit {
                    let take = (*limit - *shown_rows).min(batch.num_rows());
                    shown.push(batch.slice(0, take));
                    *shown_rows += take;
                }
                Ok(())
            }
        }
    }

    /// Finishes the format (footers), flushes, and renames the file into place.
    pub fn commit(self) -> CliResult<()> {
        let Output { writer, dest, path, what, durable, .. } = self;
        let mut sink: Sink = match writer {
            Writer::Parquet(w) => w.into_inner().map_err(|e| what.error(|w| parquet_error(w, e)))?,
            Writer::Arrow(mut w, _) => {
                w.finish().map_err(|e| what.error(|w| arrow_io(w, e)))?;
                w.into_inner().map_err(|e| what.error(|w| arrow_io(w, e)))?
            }
            Writer::Arrows(mut w, _) => {
                w.finish().map_err(|e| what.error(|w| arrow_io(w, e)))?;
                w.into_inner().map_err(|e| what.error(|w| arrow_io(w, e)))?
            }
            Writer::Csv(w, _) => w.into_inner(),
            Writer::Jsonl(mut w) => {
                w.finish().map_err(|e| what.error(|w| arrow_io(w, e)))?;
                w.into_inner()
            }
            Writer::Table { schema, shown, shown_rows, rows, mut sink, .. } => {
                let table = if shown.is_empty() {
                    arrow_cast::pretty::pretty_format_batches(&[RecordBatch::new_empty(schema)])
                } else {
                    arrow_cast::pretty::pretty_format_batches(&shown)
                }
                .map_err(|e| CliError::io(format!("{}: {e}", what.what)))?;
                let mut text = format!("{table}\n");
                if rows > shown_rows as u64 {
                    text += &format!("{rows} rows, the first {shown_rows} shown (-o FILE or --output-format writes them all)\n");
                } else {
                    text += &format!("{rows} row{}\n", if rows == 1 { "" } else { "s" });
                }
                sink.write_all(text.as_bytes()).map_err(|e| CliError::io_while(&what.what, &e))?;
                sink
            }
        };
        sink.flush().map_err(|e| CliError::io_while(&what.what, &e))?;
        drop(sink);
        if let (Some(file), Some(path)) = (dest, path) {
            if durable {
                file.as_file().sync_all().map_err(|e| CliError::io_while(&what.what, &e))?;
            }
            file.persist(&path)
                .map_err(|e| CliError::io_while(&format!("renaming the finished output to {}", path.display()), &e.error))?;
        }
        Ok(())
    }
}

/// The schema an Arrow IPC output is written with: string and binary views
/// as plain Utf8 and Binary. IPC writes every buffer a view column points
/// into, whole, and 16 bytes per value: a parse's view columns all point
/// into one buffer of text, so each would carry all of it. Plain strings are
/// what every Arrow reader takes, and a quarter smaller than compacted views.
pub fn plain_strings_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View => f.as_ref().clone().with_data_type(DataType::Utf8),
            DataType::BinaryView => f.as_ref().clone().with_data_type(DataType::Binary),
            _ => f.as_ref().clone(),
        })
        .collect();
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The schema CSV is written in: list columns as their text (nginx's
/// upstream lists), every other column as it is.
fn lists_as_text_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_) => f.as_ref().clone().with_data_type(DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its columns cast to `schema`'s types where they differ
/// (views to plain strings, lists to text).
fn plain_strings(batch: &RecordBatch, schema: &SchemaRef) -> CliResult<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| if c.data_type() == f.data_type() { Ok(c.clone()) } else { arrow_cast::cast(c, f.data_type()) })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn arrow_io(what: &str, e: arrow_schema::ArrowError) -> CliError {
    match e {
        arrow_schema::ArrowError::IoError(_, e) => CliError::io_while(what, &e),
        arrow_schema::ArrowError::ExternalError(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => CliError::io_while(what, &io),
            Err(inner) => CliError::io(format!("{what}: {inner}")),
        },
        e => CliError::io(format!("{what}: {e}")),
    }
}
