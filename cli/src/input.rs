//! Reading inputs: log files (plain, gzip, zstd; `-` is stdin) and tables
//! (Arrow IPC, Parquet, CSV, JSON lines).

use crate::args::InputFormat;
use crate::error::{CliError, CliResult};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The first four bytes of every zstd frame (RFC 8878).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// How much of an input is looked at to tell text from binary.
const SNIFF_BYTES: usize = 8192;

pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub fn display(path: &Path) -> String {
    if is_stdin(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// Counts the bytes read from the inputs (compressed, as stored), for the progress bar.
#[derive(Debug, Default, Clone)]
pub struct BytesRead(pub Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counted<R> {
    inner: R,
    count: BytesRead,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file (or stdin) for reading, with errors that name it.
fn open_raw(path: &Path) -> CliResult<Box<dyn Read + Send>> {
    if is_stdin(path) {
        return Ok(Box::new(std::io::stdin()));
    }
    Ok(Box::new(open_file(path)?))
}

/// Opens a file, refusing a directory, with errors that name it.
fn open_file(path: &Path) -> CliResult<File> {
    let name = path.display();
    let meta = std::fs::metadata(path).map_err(|e| CliError::io_while(&format!("cannot read '{name}'"), &e))?;
    if meta.is_dir() {
        return Err(CliError::io(format!("cannot read '{name}': it is a directory")));
    }
    File::open(path).map_err(|e| CliError::io_while(&format!("cannot read '{name}'"), &e))
}

/// The sizes of the inputs that are regular files (the progress bar's total), if all are.
pub fn total_size(paths: &[PathBuf]) -> Option<u64> {
    paths.iter().map(|p| if is_stdin(p) { None } else { std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()) }).sum()
}

/// A log file as text: zstd decompressed here, gzip left to the kernel's
/// reader (which recognizes it), and a file that is neither text nor a
/// compressed log refused before anything is parsed.
pub fn open_log(path: &Path, count: &BytesRead) -> CliResult<Box<dyn Read + Send>> {
    let raw = Counted { inner: open_raw(path)?, count: count.clone() };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut reader = raw;
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| CliError::io_while(&format!("cannot read '{}'", display(path)), &e))?;
    let zstd = head.starts_with(&ZSTD_MAGIC);
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let whole = std::io::Cursor::new(head).chain(reader);
    if zstd {
        let decoder =
            zstd::stream::read::Decoder::new(whole).map_err(|e| CliError::io_while(&format!("cannot read '{}'", display(path)), &e))?;
        return Ok(Box::new(ZstdErrors { inner: decoder }));
    }
    if !gzip {
        if let Some(at) = memchr_nul(whole.get_ref().0.get_ref()) {
            return Err(CliError::usage(format!(
                "'{}' is not a text log (a NUL byte at offset {at}); sash parses text logs, plain, gzip or zstd",
                display(path)
            )));
        }
    }
    Ok(Box::new(whole))
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// zstd's errors, said as the kernel says gzip's.
struct ZstdErrors<R> {
    inner: R,
}

impl<R: Read> Read for ZstdErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the zstd-compressed log ends in the middle of its compressed data (a truncated .zst file?)".to_string()
            } else {
                format!("the zstd-compressed log is corrupt: {e}")
            };
            std::io::Error::new(e.kind(), message)
        })
    }
}

/// The table format of an input: as asked, else by extension; None for logs.
pub fn table_format(path: &Path, asked: Option<InputFormat>, log_format_given: bool) -> CliResult<Option<InputFormat>> {
    if let Some(f) = asked {
        return Ok((f != InputFormat::Log).then_some(f));
    }
    if log_format_given {
        return Ok(None);
    }
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    Ok(Some(match ext.as_deref() {
        Some("parquet" | "pq") => InputFormat::Parquet,
        Some("arrow" | "feather" | "ipc" | "arrows") => InputFormat::Arrow,
        Some("csv") => InputFormat::Csv,
        Some("jsonl" | "ndjson") => InputFormat::Jsonl,
        _ => {
            return Err(CliError::usage(format!(
            "cannot tell how to read '{}': give --format (a log format such as combined) or --input-format (arrow, parquet, csv, jsonl)",
            display(path)
        )))
        }
    }))
}

/// Rows to infer CSV and JSON lines types from.
const INFER_ROWS: usize = 10_000;
const TABLE_BATCH_ROWS: usize = 64 * 1024;

/// A table's batches, read as they are asked for.
pub type Batches = Box<dyn Iterator<Item = CliResult<RecordBatch>> + Send>;

/// Batches of a table file, in order.
pub fn read_table(path: &Path, format: InputFormat, count: &BytesRead) -> CliResult<(SchemaRef, Batches)> {
    let name = display(path);
    let cannot = |e: &dyn std::fmt::Display| CliError::io(format!("cannot read '{name}' as {}: {e}", format_name(format)));
    match format {
        InputFormat::Parquet => {
            if is_stdin(path) {
                return Err(CliError::usage("Parquet cannot be read from stdin (its footer is at the end); give the file"));
            }
            let file = open_file(path)?;
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| cannot(&e))?;
            let schema = builder.schema().clone();
            let reader = builder.with_batch_size(TABLE_BATCH_ROWS).build().map_err(|e| cannot(&e))?;
            let name2 = name.clone();
            Ok((schema, Box::new(reader.map(move |b| b.map_err(|e| CliError::io(format!("cannot read '{name2}' as Parquet: {e}")))))))
        }
        InputFormat::Arrow => {
            let mut raw = Counted { inner: open_raw(path)?, count: count.clone() };
            let mut head = Vec::new();
            (&mut raw).take(6).read_to_end(&mut head).map_err(|e| CliError::io_while(&format!("cannot read '{name}'"), &e))?;
            let whole = BufReader::new(std::io::Cursor::new(head.clone()).chain(raw));
            let name2 = name.clone();
            let wrap = move |b: Result<RecordBatch, arrow_schema::ArrowError>| {
                b.map_err(|e| CliError::io(format!("cannot read '{name2}' as Arrow IPC: {e}")))
            };
            if head == b"ARROW1" {
                // The file format: its footer is at the end, so read it whole.
                let mut bytes = Vec::new();
                let mut whole = whole;
                whole.read_to_end(&mut bytes).map_err(|e| CliError::io_while(&format!("cannot read '{name}'"), &e))?;
                let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None).map_err(|e| cannot(&e))?;
                Ok((reader.schema(), Box::new(reader.map(wrap))))
            } else {
                let reader = arrow_ipc::reader::StreamReader::try_new(whole, None).map_err(|e| cannot(&e))?;
                Ok((reader.schema(), Box::new(reader.map(wrap))))
            }
        }
        InputFormat::Csv | InputFormat::Jsonl => {
            // Types come from the first rows; the rest is read as a stream.
            let mut raw = BufReader::new(Counted { inner: open_raw(path)?, count: count.clone() });
            let mut head = Vec::new();
            for _ in 0..INFER_ROWS + 1 {
                let n = std::io::BufRead::read_until(&mut raw, b'\n', &mut head)
                    .map_err(|e| CliError::io_while(&format!("cannot read '{name}'"), &e))?;
                if n == 0 {
                    break;
                }
            }
            let name2 = name.clone();
            if format == InputFormat::Csv {
                let (schema, _) = arrow_csv::reader::Format::default()
                    .with_header(true)
                    .infer_schema(head.as_slice(), Some(INFER_ROWS))
                    .map_err(|e| cannot(&e))?;
                let schema = Arc::new(schema);
                let reader = arrow_csv::ReaderBuilder::new(schema.clone())
                    .with_header(true)
                    .with_batch_size(TABLE_BATCH_ROWS)
                    .build(std::io::Cursor::new(head).chain(raw))
                    .map_err(|e| cannot(&e))?;
                Ok((schema, Box::new(reader.map(move |b| b.map_err(|e| CliError::io(format!("cannot read '{name2}' as CSV: {e}")))))))
            } else {
                let (schema, _) = arrow_json::reader::infer_json_schema(head.as_slice(), Some(INFER_ROWS)).map_err(|e| cannot(&e))?;
                let schema = Arc::new(schema);
                let reader = arrow_json::ReaderBuilder::new(schema.clone())
                    .with_batch_size(TABLE_BATCH_ROWS)
                    .build(BufReader::new(std::io::Cursor::new(head).chain(raw)))
                    .map_err(|e| cannot(&e))?;
                Ok((
                    schema,
                    Box::new(reader.map(move |b| b.map_err(|e| CliError::io(format!("cannot read '{name2}' as JSON lines: {e}"))))),
                ))
            }
        }
        InputFormat::Log => unreachable!("logs are parsed, not read as tables"),
    }
}

fn format_name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Log => "a log",
        InputFormat::Arrow => "Arrow IPC",
        InputFormat::Parquet => "Parquet",
        InputFormat::Csv => "CSV",
        InputFormat::Jsonl => "JSON lines",
    }
}
