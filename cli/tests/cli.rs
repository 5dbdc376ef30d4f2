//! The `sash` command as users run it: the binary, its exit status, its one
//! line of error, the files it leaves behind.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_select::concat::concat_batches;
use common::read_ipc;
use sash_core::{ParseReader, ParseSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn log(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/logs").join(name)
}

fn sash(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sash")).args(args).current_dir(dir).stdin(Stdio::null()).output().expect("the sash binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure as the command promises it: the status, one line on stderr
/// naming the cause, no trace, and no file left in the directory.
fn assert_fails(dir: &Path, args: &[&str], status: i32, says: &str) {
    let before: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let out = sash(dir, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
    assert!(err.starts_with("sash: error: ") || err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line, got {err}");
    assert!(err.contains(says), "{args:?}: expected '{says}' in {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    let after: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "{args:?} left files behind");
}

fn read_ipc_stream(path: &Path) -> RecordBatch {
    let reader = arrow_ipc::reader::StreamReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}

fn read_parquet(path: &Path) -> RecordBatch {
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// The kernel's own parse of a file, in one batch.
fn kernel_parse(path: &Path, spec: &str) -> RecordBatch {
    let reader = ParseReader::new(std::fs::File::open(path).unwrap(), &ParseSpec::from_json(spec).unwrap()).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|o| o.unwrap().batch).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// Columns as Utf8 wherever the kernel gives views (formats that keep no views give Utf8).
fn as_utf8(batch: &RecordBatch) -> RecordBatch {
    let columns = batch.columns().iter().map(|c| match c.data_type() {
        arrow_schema::DataType::Utf8View => arrow_cast::cast(c, &arrow_schema::DataType::Utf8).unwrap(),
        _ => c.clone(),
    });
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            arrow_schema::DataType::Utf8View => f.as_ref().clone().with_data_type(arrow_schema::DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    RecordBatch::try_new(std::sync::Arc::new(arrow_schema::Schema::new(fields)), columns.collect()).unwrap()
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["parse", "window", "rolling", "completions"] {
        let out = sash(dir.path(), &[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Examples:") && text.contains(&format!("sash {sub}")), "{sub}: {text}");
    }
    let out = sash(dir.path(), &["--help"]);
    assert!(String::from_utf8(out.stdout).unwrap().contains("Exit status"));
    let out = sash(dir.path(), &["--version"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("sash {}", sash_core::VERSION));
}

#[test]
fn completions_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = sash(dir.path(), &["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        for word in ["parse", "window", "rolling", "--every", "--output-format"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
}

#[test]
fn parse_writes_every_format_with_the_kernels_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = log("apache_combined_10k.log");
    let want = kernel_parse(&input, r#"{"format": "combined"}"#);
    // Arrow IPC files hold plain strings, as the kernel gives them with "strings": "utf8".
    let want_plain = kernel_parse(&input, r#"{"format": "combined", "strings": "utf8"}"#);
    for (file, read, want) in [
        ("out.arrow", read_ipc as fn(&Path) -> RecordBatch, &want_plain),
        ("out.feather", read_ipc, &want_plain),
        ("out.arrows", read_ipc_stream, &want_plain),
        ("out.parquet", read_parquet, &want),
    ] {
        let out = sash(dir.path(), &["parse", input.to_str().unwrap(), "--format", "combined", "-o", file]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let got = read(&dir.path().join(file));
        assert_eq!(got.schema(), want.schema(), "{file}");
        assert_eq!(&got, want, "{file}");
    }
    // Views asked for are written as plain strings too.
    let out = sash(
        dir.path(),
        &["parse", input.to_str().unwrap(), "--parse-spec", r#"{"format": "combined", "strings": "view"}"#, "-o", "views.arrow"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read_ipc(&dir.path().join("views.arrow")), want_plain);
    // CSV and JSON lines carry values as text: they hold what the kernel's rows print as.
    for file in ["out.csv", "out.jsonl"] {
        let out = sash(dir.path(), &["parse", input.to_str().unwrap(), "-f", "combined", "-o", file]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let lines = text.lines().count();
        assert_eq!(lines, want.num_rows() + usize::from(file.ends_with("csv")), "{file}");
    }
    let summary = stderr(&sash(dir.path(), &["parse", input.to_str().unwrap(), "-f", "combined", "-o", "again.parquet"]));
    assert!(summary.contains("10,000 lines from 1 file") && summary.contains("1 line failed to parse"), "{summary}");
    assert!(summary.contains("user_agent: no closing"), "{summary}");
}

#[test]
fn errors_go_to_their_file_with_line_offset_and_text() {
    let dir = tempfile::tempdir().unwrap();
    // Lines that fail among lines that parse, CRLF and LF, across chunks of the reader.
    let good = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 7 "-" "curl""#;
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..30_000 {
        let line = if i % 997 == 5 { format!("garbage line {i}") } else { good.to_string() };
        if i % 997 == 5 {
            bad.push((i + 1, text.len(), line.clone()));
        }
        text += &line;
        text += if i % 2 == 0 { "\r\n" } else { "\n" };
    }
    std::fs::write(dir.path().join("in.log"), &text).unwrap();
    let out = sash(dir.path(), &["parse", "in.log", "-f", "combined", "--errors", "bad.jsonl", "-o", "ok.arrow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ok = read_ipc(&dir.path().join("ok.arrow"));
    assert_eq!(ok.num_rows(), 30_000 - bad.len());
    assert!(ok.schema().column_with_name("_error").is_none());
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.path().join("bad.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), bad.len());
    for (record, (line, offset, line_text)) in records.iter().zip(&bad) {
        assert_eq!(record["file"], "in.log");
        assert_eq!(record["line"], *line as u64);
        assert_eq!(record["offset"], *offset as u64);
        assert_eq!(record["text"], line_text.as_str());
        assert!(record["error"].as_str().unwrap().starts_with("host at byte") || record["error"].as_str().unwrap().contains("at byte"));
    }
    // --strict: the same outputs, and status 1.
    let out = sash(dir.path(), &["parse", "in.log", "-f", "combined", "--strict", "--errors", "bad2.csv", "-o", "ok2.parquet"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(read_parquet(&dir.path().join("ok2.parquet")).num_rows(), 30_000 - bad.len());
    assert_eq!(std::fs::read_to_string(dir.path().join("bad2.csv")).unwrap().lines().count(), bad.len() + 1);
}

#[test]
fn gzip_and_zstd_inputs_are_read_by_their_content() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let input = log("apache_combined_10k.log");
    let text = std::fs::read(&input).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    std::fs::write(dir.path().join("access.log.1"), gz.finish().unwrap()).unwrap();
    // Two zstd frames, as `cat a.zst b.zst` makes.
    let half = text.len() / 2;
    let cut = half + text[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut zst = zstd::encode_all(&text[..cut], 3).unwrap();
    zst.extend(zstd::encode_all(&text[cut..], 3).unwrap());
    std::fs::write(dir.path().join("access.log.2"), zst).unwrap();
    let want = kernel_parse(&input, r#"{"format": "combined", "strings": "utf8"}"#);
    for file in ["access.log.1", "access.log.2"] {
        let out = sash(dir.path(), &["parse", file, "-f", "combined", "-o", "out.arrow"]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        assert_eq!(read_ipc(&dir.path().join("out.arrow")), want, "{file}");
    }
    // A truncated zstd file: its complete lines are not silently taken as the whole.
    let zst = std::fs::read(dir.path().join("access.log.2")).unwrap();
    std::fs::write(dir.path().join("cut.zst"), &zst[..zst.len() / 3]).unwrap();
    assert_fails(dir.path(), &["parse", "cut.zst", "-f", "combined", "-o", "cut.arrow"], 2, "zstd");
}

#[test]
fn window_equals_one_call_over_all_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = log("apache_combined_10k.log");
    let rows = kernel_parse(&input, r#"{"format": "combined"}"#);
    let errors = rows.column(rows.num_columns() - 1).clone();
    let keep = arrow_array::BooleanArray::from((0..rows.num_rows()).map(|i| Some(errors.is_null(i))).collect::<Vec<_>>());
    let mut rows = arrow_select::filter::filter_record_batch(&rows, &keep).unwrap();
    rows.remove_column(rows.num_columns() - 1);
    let spec = r#"{"time": "timestamp", "null_time": "drop", "every": "10m", "by": "status", "aggs": ["count() as requests", "sum(size) as bytes", "quantile(size, 0.95) as p95", "count_distinct(host) as hosts"]}"#;
    let want =
        sash_core::window_agg(&rows.schema(), std::slice::from_ref(&rows), &sash_core::WindowSpec::from_json(spec).unwrap()).unwrap();
    let out = sash(
        dir.path(),
        &[
            "window",
            input.to_str().unwrap(),
            "-f",
            "combined",
            "--every",
            "10m",
            "--by",
            "status",
            "--agg",
            "count() as requests",
            "--agg",
            "sum(size) as bytes",
            "--agg",
            "quantile(size, 0.95) as p95",
            "--agg",
            "count_distinct(host) as hosts",
            "-o",
            "w.arrow",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(as_utf8(&read_ipc(&dir.path().join("w.arrow"))), as_utf8(&want));
    assert!(stderr(&out).contains("1 line failed to parse"), "{}", stderr(&out));

    // The parsed rows as a table in, the same windows out.
    let table = dir.path().join("rows.arrow");
    let mut writer = arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&table).unwrap(), &rows.schema()).unwrap();
    writer.write(&rows).unwrap();
    writer.finish().unwrap();
    let out = sash(dir.path(), &["window", "rows.arrow", "--spec", spec, "-o", "w2.arrow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(as_utf8(&read_ipc(&dir.path().join("w2.arrow"))), as_utf8(&want));

    // Sessions, and rolling: one row per input row, in input order.
    let session = r#"{"time": "timestamp", "null_time": "drop", "session_gap": "5m", "by": "host", "aggs": ["count() as n", "max(size) as biggest"]}"#;
    let want =
        sash_core::window_agg(&rows.schema(), std::slice::from_ref(&rows), &sash_core::WindowSpec::from_json(session).unwrap()).unwrap();
    let out = sash(
        dir.path(),
        &[
            "window",
            "rows.arrow",
            "--session-gap",
            "5m",
            "--by",
            "host",
            "--agg",
            "count() as n",
            "--agg",
            "max(size) as biggest",
            "-o",
            "s.parquet",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read_parquet(&dir.path().join("s.parquet")), want);
    let rolling = r#"{"time": "timestamp", "null_time": "drop", "period": "1m", "by": "host", "aggs": ["count() as last_minute", "mean(size) as mean_size"]}"#;
    let (schema, parts) =
        sash_core::rolling_with_schema(&rows.schema(), std::slice::from_ref(&rows), &sash_core::RollingSpec::from_json(rolling).unwrap())
            .unwrap();
    let want = concat_batches(&schema, &parts).unwrap();
    // The stream's order: by time, ties in input order.
    let times = want.column_by_name("timestamp").unwrap().as_primitive::<arrow_array::types::TimestampMicrosecondType>().clone();
    let mut order: Vec<u32> = (0..want.num_rows() as u32).collect();
    order.sort_by_key(|&i| times.value(i as usize));
    let want = arrow_select::take::take_record_batch(&want, &arrow_array::UInt32Array::from(order)).unwrap();
    let out = sash(
        dir.path(),
        &[
            "rolling",
            "rows.arrow",
            "--period",
            "1m",
            "--by",
            "host",
            "--agg",
            "count() as last_minute",
            "--agg",
            "mean(size) as mean_size",
            "-o",
            "r.arrow",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(as_utf8(&read_ipc(&dir.path().join("r.arrow"))), as_utf8(&want));
}

#[test]
fn lateness_emits_as_time_passes_and_keeps_late_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Minutes in order but one row an hour behind: with 5 minutes of lateness it is late.
    let mut text = String::new();
    for m in 0..120 {
        text += &format!(
            "10.0.0.{} - - [17/May/2015:{:02}:{:02}:00 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"x\"\n",
            m % 7,
            10 + m / 60,
            m % 60
        );
        if m == 90 {
            text += "10.0.0.9 - - [17/May/2015:10:20:00 +0000] \"GET /late HTTP/1.1\" 500 1 \"-\" \"x\"\n";
        }
    }
    std::fs::write(dir.path().join("in.log"), &text).unwrap();
    // A stream's watermark moves between pushes: chunks of a few lines each.
    let late_windows =
        ["window", "in.log", "-f", "combined", "--chunk-bytes", "1000", "--every", "10m", "--agg", "count() as n", "--lateness", "5m"];
    let out = sash(dir.path(), &[&late_windows[..], &["--late", "late.jsonl", "-o", "w.csv"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("w.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",10")), "{csv}");
    let late = std::fs::read_to_string(dir.path().join("late.jsonl")).unwrap();
    assert_eq!(late.lines().count(), 1);
    assert!(late.contains("/late"), "{late}");
    assert!(stderr(&out).contains("1 row late"), "{}", stderr(&out));
    // --strict counts a late row as trouble.
    let out = sash(dir.path(), &[&late_windows[..], &["--strict", "-o", "w2.csv"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn bad_input_gives_one_line_and_the_documented_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let combined = log("apache_combined_10k.log");
    let combined = combined.to_str().unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    std::fs::write(d.join("binary.log"), [0x7f, b'E', b'L', b'F', 0, 0, 1, 2]).unwrap();
    assert_fails(d, &["parse", "missing.log", "-f", "combined", "-o", "o.parquet"], 2, "cannot read 'missing.log'");
    assert_fails(d, &["parse", "adir", "-f", "combined", "-o", "o.parquet"], 2, "is a directory");
    assert_fails(d, &["parse", "binary.log", "-f", "combined", "-o", "o.parquet"], 2, "not a text log");
    assert_fails(d, &["parse", combined, "-f", "nginxx", "-o", "o.parquet"], 2, "nginxx");
    assert_fails(d, &["parse", combined, "-o", "o.parquet"], 2, "--format");
    assert_fails(d, &["parse", combined, "-f", "combined", "-o", "o.xlsx"], 2, "cannot tell the output format");
    assert_fails(d, &["parse", combined, "-f", "combined", "-o", "nodir/o.parquet"], 2, "does not exist");
    assert_fails(d, &["parse", combined, "-f", "combined", "--errors", "o.jsonl", "-o", "o.jsonl"], 2, "same file");
    assert_fails(d, &["parse", combined, "-f", "logfmt", "-o", "o.csv"], 2, "CSV cannot hold the column");
    assert_fails(d, &["parse", combined, "-f", "regex", "-o", "o.csv"], 2, "pattern");
    assert_fails(d, &["parse", combined, "-f", "combined", "--threads", "5000", "-o", "o.csv"], 2, "--threads");
    assert_fails(
        d,
        &["window", combined, "-f", "combined", "--every", "10m", "--agg", "nosuchfn(size) as m", "-o", "w.csv"],
        2,
        "nosuchfn",
    );
    assert_fails(
        d,
        &["window", combined, "-f", "combined", "--every", "10m", "--agg", "count() as n", "--by", "nope", "-o", "w.csv"],
        2,
        "unknown column 'nope'",
    );
    assert_fails(
        d,
        &["window", combined, "-f", "combined", "--every", "10 lightyears", "--agg", "count() as n", "-o", "w.csv"],
        2,
        "lightyears",
    );
    assert_fails(d, &["window", combined, "-f", "combined", "--every", "10m", "-o", "w.csv"], 2, "aggregation");
    assert_fails(d, &["window", "w.unknown", "--every", "10m", "--agg", "count() as n", "-o", "w.csv"], 2, "--input-format");
    assert_fails(
        d,
        &["window", combined, "--input-format", "parquet", "--every", "10m", "--agg", "count() as n", "-o", "w.csv"],
        2,
        "Parquet",
    );
    assert_fails(
        d,
        &["window", combined, "-f", "combined", "--time", "size", "--every", "10m", "--agg", "count() as n", "-o", "w.csv"],
        2,
        "size",
    );
    // A usage error of clap's own: status 2 too.
    let out = sash(d, &["parse", "--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_full_disk_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let combined = log("apache_combined_10k.log");
    // A file size limit of 512 KiB (ulimit -f counts 1 KiB blocks) stands in for a full disk.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -f 512; exec '{}' parse '{}' -f combined -o out.csv", env!("CARGO_BIN_EXE_sash"), combined.display()))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("sash: error: writing out.csv") && err.contains("ulimit"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a partial file was left");
}

#[test]
fn sigint_stops_the_command_without_leaving_output() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sash"))
        .args(["parse", "-", "-f", "combined", "-o", "out.parquet"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let line = b"10.0.0.1 - - [17/May/2015:10:05:03 +0000] \"GET /a HTTP/1.1\" 200 7 \"-\" \"curl\"\n".repeat(1000);
    let start = std::time::Instant::now();
    let mut signalled = false;
    // Lines keep coming (a log that never ends) until the command stops.
    while stdin.write_all(&line).is_ok() {
        if !signalled && start.elapsed() > std::time::Duration::from_millis(300) {
            // SAFETY: kill(2) on the child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            signalled = true;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the command did not stop");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a partial file was left");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let combined = log("apache_combined_10k.log");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' parse '{}' -f combined --output-format csv | head -n 2", env!("CARGO_BIN_EXE_sash"), combined.display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}

#[test]
fn ground_truth_of_a_real_error_log() {
    // loghub's own parse of Apache_2k: time, level and content per line.
    let dir = tempfile::tempdir().unwrap();
    let out = sash(dir.path(), &["parse", log("apache_2k.log").to_str().unwrap(), "-f", "apache_error", "-o", "e.parquet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = read_parquet(&dir.path().join("e.parquet"));
    let truth = std::fs::read_to_string(log("apache_2k.structured.csv")).unwrap();
    let mut reader = arrow_csv::ReaderBuilder::new(std::sync::Arc::new(arrow_schema::Schema::new(
        ["LineId", "Time", "Level", "Content", "EventId", "EventTemplate"]
            .map(|n| arrow_schema::Field::new(n, arrow_schema::DataType::Utf8, true))
            .to_vec(),
    )))
    .with_header(true)
    .build(truth.as_bytes())
    .unwrap();
    let truth = reader.next().unwrap().unwrap();
    assert_eq!(got.num_rows(), 2000);
    let level = arrow_cast::cast(got.column_by_name("level").unwrap(), &arrow_schema::DataType::Utf8).unwrap();
    let message = arrow_cast::cast(got.column_by_name("message").unwrap(), &arrow_schema::DataType::Utf8).unwrap();
    let client = arrow_cast::cast(got.column_by_name("client").unwrap(), &arrow_schema::DataType::Utf8).unwrap();
    let client = client.as_string::<i32>();
    for row in 0..truth.num_rows().min(2000) {
        assert_eq!(level.as_string::<i32>().value(row), truth.column(2).as_string::<i32>().value(row), "row {row}");
        // loghub keeps "[client a.b.c.d] " in Content; sash puts it in `client`.
        let message = message.as_string::<i32>().value(row);
        let want = if client.is_null(row) { message.to_string() } else { format!("[client {}] {message}", client.value(row)) };
        assert_eq!(want.trim(), truth.column(3).as_string::<i32>().value(row).trim(), "row {row}");
    }
}

#[test]
fn a_time_column_of_text_is_read_as_utc_times() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // JSON has no time type: --time names a text column of RFC 3339 times (any offset).
    std::fs::write(
        d.join("in.jsonl"),
        concat!(
            "{\"ts\": \"2024-01-01T00:00:05Z\", \"bytes\": 10}\n",
            "{\"ts\": \"not a time\", \"bytes\": 7}\n",
            "{\"ts\": \"2024-01-01T01:12:05+01:00\", \"bytes\": 1}\n",
            "{\"ts\": \"2024-01-01T00:19:59.5Z\", \"bytes\": 2}\n",
        ),
    )
    .unwrap();
    let out = sash(d, &["window", "in.jsonl", "--time", "ts", "--every", "10m", "--agg", "sum(bytes) as b", "-o", "w.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(d.join("w.csv")).unwrap(),
        "window_start,window_end,b\n2024-01-01T00:00:00Z,2024-01-01T00:10:00Z,10\n2024-01-01T00:10:00Z,2024-01-01T00:20:00Z,3\n"
    );
    assert!(stderr(&out).contains("1 row without a time dropped"), "{}", stderr(&out));
    // --null-time error makes the text that is not a time an error.
    assert_fails(
        d,
        &["window", "in.jsonl", "--time", "ts", "--every", "10m", "--agg", "sum(bytes) as b", "--null-time", "error", "-o", "w2.csv"],
        2,
        "null",
    );
    // Without --time, the message says how to name one.
    assert_fails(d, &["window", "in.jsonl", "--every", "10m", "--agg", "sum(bytes) as b", "-o", "w3.csv"], 2, "ISO 8601");
}

/// The log formats of format strings and grok through the command, list
/// columns (nginx's upstream times) included, into every output format.
#[test]
fn nginx_format_strings_and_grok_parse_into_every_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nginx.log"),
        concat!(
            "10.0.0.1 [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.1\" 200 0.125 \"0.004, 0.100 : 0.002\"\n",
            "10.0.0.2 [10/Oct/2000:13:55:37 -0700] \"GET /b HTTP/1.1\" 502 1.500 \"-\"\n",
        ),
    )
    .unwrap();
    let format = r#"$remote_addr [$time_local] "$request" $status $request_time "$upstream_response_time""#;
    let want = kernel_parse(
        &dir.path().join("nginx.log"),
        &serde_json::json!({"format": "nginx", "log_format": format, "strings": "utf8"}).to_string(),
    );
    assert_eq!(want.column_by_name("_error").unwrap().null_count(), 2, "{want:?}");
    for file in ["n.arrow", "n.parquet", "n.csv", "n.jsonl"] {
        let out = sash(dir.path(), &["parse", "nginx.log", "-f", "nginx", "--log-format", format, "-o", file]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let text = std::fs::read(dir.path().join(file)).unwrap();
        match file {
            "n.arrow" => assert_eq!(read_ipc(&dir.path().join(file)), want),
            "n.parquet" => assert_eq!(as_utf8(&read_parquet(&dir.path().join(file))), want),
            _ => {
                let text = String::from_utf8(text).unwrap();
                assert!(text.contains("0.004") && text.contains("0.1") && text.contains("0.002"), "{file}: {text}");
            }
        }
    }
    // The terminal table (stdout not a file) prints lists too.
    let out = sash(dir.path(), &["parse", "nginx.log", "-f", "nginx", "--log-format", format, "--output-format", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // grok with a patterns file.
    std::fs::write(dir.path().join("patterns"), "# mine\nREQ %{WORD:method} %{NOTSPACE:path}\n").unwrap();
    let out = sash(
        dir.path(),
        &[
            "parse",
            "nginx.log",
            "-f",
            "grok",
            "--pattern",
            r#"^%{IP:ip} \[%{HTTPDATE:t}\] "%{REQ}"#,
            "--patterns-file",
            "patterns",
            "-o",
            "g.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("g.jsonl")).unwrap();
    assert!(text.lines().next().unwrap().contains(r#""ip":"10.0.0.1""#) && text.contains(r#""method":"GET""#), "{text}");
    assert_fails(dir.path(), &["parse", "nginx.log", "-f", "grok", "--pattern", "%{NOPE:x}"], 2, "unknown pattern 'NOPE'");
}
