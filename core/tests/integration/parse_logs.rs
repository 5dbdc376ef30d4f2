//! The parsing kernel on real logs with third-party ground truth
//! (`tests/data/logs/`, attribution in its README).

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_buffer::Buffer;
use sash_core::parse::time::utc_micros;
use sash_core::{parse_bytes, ParseReader, ParseSpec};
use std::path::PathBuf;

fn log_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/logs").join(name)
}

fn read_log(name: &str) -> Buffer {
    Buffer::from_vec(std::fs::read(log_path(name)).unwrap())
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let c = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    let c = arrow_cast::cast(c, &arrow_schema::DataType::Utf8).unwrap();
    let c = c.as_string::<i32>();
    c.is_valid(row).then(|| c.value(row).to_string())
}

/// Every value of a column as text (one cast for the whole column).
fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let c = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    let c = arrow_cast::cast(c, &arrow_schema::DataType::Utf8).unwrap();
    c.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

/// A minimal RFC 4180 reader: quoted fields with doubled quotes, no
/// newlines inside fields (none in these files).
fn read_csv(name: &str) -> Vec<Vec<String>> {
    let content = std::fs::read_to_string(log_path(name)).unwrap();
    content
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field)),
                    (c, _) => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
        .collect()
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn month(name: &str) -> u32 {
    MONTHS.iter().position(|m| *m == name).unwrap() as u32 + 1
}

fn hms(t: &str) -> (u32, u32, u32) {
    let p: Vec<u32> = t.split(':').map(|x| x.parse().unwrap()).collect();
    (p[0], p[1], p[2])
}

#[test]
fn apache_combined_10k_parses_but_the_truncated_line() {
    let out = parse_bytes(&read_log("apache_combined_10k.log"), &ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap()).unwrap();
    let b = &out.batch;
    assert_eq!(b.num_rows(), 10_000);
    assert_eq!((out.parsed, out.failed), (9_999, 1));
    let errors = b.column_by_name("_error").unwrap().as_string::<i32>();
    let failed: Vec<usize> = (0..b.num_rows()).filter(|&i| errors.is_valid(i)).collect();
    assert_eq!(failed, vec![8_898], "only line 8,899 fails");
    let row = 8_898;
    let message = errors.value(row);
    assert!(message.starts_with("user_agent at byte "), "{message}");
    assert!(message.contains("no closing '\"'"), "{message}");
    // Every field before the break keeps its value.
    assert_eq!(text(b, "host", row).as_deref(), Some("46.118.127.106"));
    assert_eq!(text(b, "path", row).as_deref(), Some("/scripts/grok-py-test/configlib.py"));
    assert_eq!(text(b, "protocol", row).as_deref(), Some("HTTP/1.1"));
    assert_eq!(b.column_by_name("status").unwrap().as_primitive::<UInt16Type>().value(row), 200);
    assert_eq!(b.column_by_name("size").unwrap().as_primitive::<UInt64Type>().value(row), 235);
    assert_eq!(text(b, "referrer", row), None, "\"-\" is null");
    assert_eq!(text(b, "user_agent", row), None);
    let ts = b.column_by_name("timestamp").unwrap().as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(row), utc_micros(2015, 5, 20, 12, 5, 17));
    // First line, field by field.
    assert_eq!(text(b, "host", 0).as_deref(), Some("83.149.9.216"));
    assert_eq!(text(b, "ident", 0), None);
    assert_eq!(text(b, "method", 0).as_deref(), Some("GET"));
    assert_eq!(ts.value(0), utc_micros(2015, 5, 17, 10, 5, 3));
    assert_eq!(text(b, "referrer", 0).as_deref(), Some("http://semicomplete.com/presentations/logstash-monitorama-2013/"));
    // Every line agrees with a straightforward split of the raw text.
    let raw = std::fs::read_to_string(log_path("apache_combined_10k.log")).unwrap();
    for (i, line) in raw.lines().enumerate() {
        assert_eq!(text(b, "host", i).as_deref(), line.split(' ').next(), "line {}", i + 1);
        let status: u16 = line.split('"').nth(2).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(b.column_by_name("status").unwrap().as_primitive::<UInt16Type>().value(i), status, "line {}", i + 1);
    }
}

#[test]
fn apache_combined_through_the_chunked_reader_matches_one_buffer() {
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let whole = parse_bytes(&read_log("apache_combined_10k.log"), &spec).unwrap().batch;
    let file = std::fs::File::open(log_path("apache_combined_10k.log")).unwrap();
    let reader = ParseReader::new(file, &spec).unwrap().with_chunk_bytes(100_000);
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap().batch).collect();
    assert!(batches.len() > 20, "{} batches", batches.len());
    let joined = arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap();
    assert_eq!(joined, whole);
}

/// `columns`: the CSV's month, day, time, host, pid and content columns;
/// `app`: the app column, or the app every line has when the CSV has none.
fn syslog_agrees_with_loghub(log: &str, csv: &str, year: i32, columns: [usize; 6], app: Result<usize, &str>) {
    let [month_col, day_col, time_col, host_col, pid_col, content_col] = columns;
    let spec = ParseSpec::from_json(&format!(r#"{{"format": "syslog", "reference_time": "{year}-12-31T23:59:59Z"}}"#)).unwrap();
    let out = parse_bytes(&read_log(log), &spec).unwrap();
    let b = &out.batch;
    let truth = read_csv(csv);
    assert_eq!(b.num_rows(), truth.len());
    assert_eq!(out.failed, 0, "{:?}", (0..b.num_rows()).find_map(|i| text(b, "_error", i)));
    let ts = b.column_by_name("timestamp").unwrap().as_primitive::<TimestampMicrosecondType>();
    for (i, row) in truth.iter().enumerate() {
        let (h, m, s) = hms(&row[time_col]);
        let want = utc_micros(year, month(&row[month_col]), row[day_col].parse().unwrap(), h, m, s);
        assert_eq!(ts.value(i), want, "line {}", i + 1);
        assert_eq!(text(b, "hostname", i).as_deref(), Some(row[host_col].as_str()), "line {}", i + 1);
        let want_app = app.map_or_else(str::to_string, |c| row[c].clone());
        assert_eq!(text(b, "appname", i).unwrap_or_default(), want_app, "line {}", i + 1);
        assert_eq!(text(b, "procid", i).unwrap_or_default(), row[pid_col], "line {}", i + 1);
        assert_eq!(text(b, "message", i).unwrap().trim(), row[content_col].trim(), "line {}", i + 1);
        assert_eq!(text(b, "facility", i), None);
    }
}

#[test]
fn linux_2k_agrees_with_loghub() {
    // LineId,Month,Date,Time,Level,Component,PID,Content
    syslog_agrees_with_loghub("linux_2k.log", "linux_2k.structured.csv", 2005, [1, 2, 3, 4, 6, 7], Ok(5));
}

#[test]
fn openssh_2k_agrees_with_loghub() {
    // LineId,Date,Day,Time,Component,Pid,Content: no app column; every line is sshd's.
    syslog_agrees_with_loghub("openssh_2k.log", "openssh_2k.structured.csv", 2017, [1, 2, 3, 4, 5, 6], Err("sshd"));
}

#[test]
fn apache_error_2k_agrees_with_loghub() {
    let out = parse_bytes(&read_log("apache_2k.log"), &ParseSpec::from_json(r#"{"format": "apache_error"}"#).unwrap()).unwrap();
    let b = &out.batch;
    let truth = read_csv("apache_2k.structured.csv");
    assert_eq!(b.num_rows(), truth.len());
    assert_eq!(out.failed, 0, "{:?}", (0..b.num_rows()).find_map(|i| text(b, "_error", i)));
    let ts = b.column_by_name("timestamp").unwrap().as_primitive::<TimestampMicrosecondType>();
    for (i, row) in truth.iter().enumerate() {
        // Time: "Sun Dec 04 04:47:44 2005"
        let parts: Vec<&str> = row[1].split_whitespace().collect();
        let (h, m, s) = hms(parts[3]);
        assert_eq!(
            ts.value(i),
            utc_micros(parts[4].parse().unwrap(), month(parts[1]), parts[2].parse().unwrap(), h, m, s),
            "line {}",
            i + 1
        );
        assert_eq!(text(b, "level", i).as_deref(), Some(row[2].as_str()), "line {}", i + 1);
        // loghub keeps "[client a.b.c.d] " in Content; sash puts it in `client`.
        let message = text(b, "message", i).unwrap();
        let want = match text(b, "client", i) {
            Some(client) => format!("[client {client}] {message}"),
            None => message,
        };
        assert_eq!(want.trim(), row[3].trim(), "line {}", i + 1);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn read_all<R: std::io::Read>(reader: ParseReader<R>) -> (Vec<RecordBatch>, Option<String>) {
    let mut batches = Vec::new();
    for item in reader {
        match item {
            Ok(out) => batches.push(out.batch),
            Err(e) => return (batches, Some(e.to_string())),
        }
    }
    (batches, None)
}

#[test]
fn gzip_logs_parse_as_their_text() {
    for (log, spec) in [("apache_combined_10k.log", r#"{"format": "combined"}"#), ("linux_2k.log", r#"{"format": "syslog"}"#)] {
        let spec = ParseSpec::from_json(spec).unwrap();
        let plain = std::fs::read(log_path(log)).unwrap();
        let whole = parse_bytes(&Buffer::from_vec(plain.clone()), &spec).unwrap().batch;
        // One gzip member, and two (as `cat a.gz b.gz` or a resumed writer makes).
        let half = plain.len() / 2;
        for compressed in [gzip(&plain), [gzip(&plain[..half]), gzip(&plain[half..])].concat()] {
            let out = parse_bytes(&Buffer::from_vec(compressed.clone()), &spec).unwrap();
            assert_eq!(out.batch, whole, "{log}");
            let (batches, error) = read_all(ParseReader::new(compressed.as_slice(), &spec).unwrap().with_chunk_bytes(50_000));
            assert_eq!(error, None, "{log}");
            assert!(batches.len() > 3, "{log}: {} batches", batches.len());
            assert_eq!(arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap(), whole, "{log}");
        }
    }
}

#[test]
fn truncated_gzip_yields_its_complete_lines_then_an_error() {
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let plain = std::fs::read(log_path("apache_combined_10k.log")).unwrap();
    let whole = parse_bytes(&Buffer::from_vec(plain.clone()), &spec).unwrap().batch;
    let compressed = gzip(&plain);
    let cut = &compressed[..compressed.len() * 3 / 5];

    let error = parse_bytes(&Buffer::from_slice_ref(cut), &spec).unwrap_err().to_string();
    assert!(error.contains("truncated .gz"), "{error}");

    let (batches, error) = read_all(ParseReader::new(cut, &spec).unwrap().with_chunk_bytes(50_000));
    let error = error.expect("the stream ends early: an error after the batches");
    assert!(error.contains("truncated .gz") && error.contains("bytes after the last complete line were not parsed"), "{error}");
    let read = arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap();
    // A prefix of the file's lines, each whole: none cut short, none lost before the cut.
    assert!(read.num_rows() > 5000 && read.num_rows() < whole.num_rows(), "{} rows", read.num_rows());
    assert_eq!(read, whole.slice(0, read.num_rows()));

    let mut corrupt = compressed.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 64].iter_mut().for_each(|b| *b = !*b);
    let error = parse_bytes(&Buffer::from_vec(corrupt.clone()), &spec).unwrap_err().to_string();
    assert!(error.contains("gzip"), "{error}");
    let (_, error) = read_all(ParseReader::new(corrupt.as_slice(), &spec).unwrap());
    assert!(error.is_some_and(|e| e.contains("gzip")));
}

#[test]
fn byte_order_marks_opening_lines_are_skipped() {
    // Windows tools start a file with a byte order mark, and joining such
    // files carries one into the middle: neither may reach a field.
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let plain = std::fs::read(log_path("apache_combined_10k.log")).unwrap();
    let whole = parse_bytes(&Buffer::from_vec(plain.clone()), &spec).unwrap().batch;
    let bom = b"\xEF\xBB\xBF";
    let joined = [&bom[..], &plain, bom, &plain].concat();
    let out = parse_bytes(&Buffer::from_vec(joined.clone()), &spec).unwrap();
    assert_eq!(out.batch, arrow_select::concat::concat_batches(&whole.schema(), [&whole, &whole]).unwrap());
    let (batches, error) = read_all(ParseReader::new(gzip(&joined).as_slice(), &spec).unwrap().with_chunk_bytes(70_000));
    assert_eq!(error, None);
    assert_eq!(arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap(), out.batch);
}

/// `len` bytes of `byte`, made as they are read: a stream as large as a
/// file with no line ends, without holding it.
struct Repeat {
    byte: u8,
    left: usize,
}

impl std::io::Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        buf[..n].fill(self.byte);
        self.left -= n;
        Ok(n)
    }
}

/// A source that returns a few bytes per read, as pipes and sockets do,
/// and fails after `fail_after` bytes (if given).
struct Trickle<'a> {
    bytes: &'a [u8],
    per_read: usize,
    fail_after: Option<usize>,
    read: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_after.is_some_and(|at| self.read >= at) {
            return Err(std::io::Error::other("the pipe broke"));
        }
        let limit = self.fail_after.map_or(usize::MAX, |at| at - self.read);
        let n = buf.len().min(self.per_read).min(self.bytes.len()).min(limit);
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.read += n;
        Ok(n)
    }
}

#[test]
fn a_stream_of_short_reads_gives_the_rows_of_one_buffer_and_its_error_after_them() {
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let log = std::fs::read(log_path("apache_combined_10k.log")).unwrap();
    let whole = parse_bytes(&Buffer::from_vec(log.clone()), &spec).unwrap().batch;
    for per_read in [1, 7, 4096, 65_536] {
        let reader = Trickle { bytes: &log[..log.len().min(per_read * 50_000)], per_read, fail_after: None, read: 0 };
        let taken = reader.bytes.len();
        let (batches, error) = read_all(ParseReader::new(reader, &spec).unwrap().with_chunk_bytes(300_000));
        assert_eq!(error, None);
        let expected = parse_bytes(&Buffer::from_slice_ref(&log[..taken]), &spec).unwrap().batch;
        assert_eq!(arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap(), expected, "{per_read} bytes a read");
    }
    // A read error after some bytes of a read: those bytes' complete lines
    // come first, then the error, naming the bytes of the line it cut.
    let cut = 1_000_003;
    let reader = Trickle { bytes: &log, per_read: 4096, fail_after: Some(cut), read: 0 };
    let (batches, error) = read_all(ParseReader::new(reader, &spec).unwrap().with_chunk_bytes(300_000));
    let complete = memchr::memrchr(b'\n', &log[..cut]).unwrap() + 1;
    let expected = parse_bytes(&Buffer::from_slice_ref(&log[..complete]), &spec).unwrap().batch;
    assert_eq!(arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap(), expected);
    let error = error.expect("the read error");
    assert!(error.contains("the pipe broke") && error.contains(&format!("the {} bytes", cut - complete)), "{error}");
}

#[test]
fn a_stream_reader_reads_past_lines_longer_than_max_line_bytes() {
    let spec = ParseSpec::from_json(r#"{"format": "logfmt", "fields": {"a": "int"}, "max_line_bytes": 1000}"#).unwrap();
    let too_long = "line at byte 0: longer than max_line_bytes (1000 bytes); not parsed";
    // Giant lines between, around and at the end of ordinary ones, across
    // chunk edges and with CRLF ends: the same rows as from one buffer.
    let log = format!("a=1\n{}\r\na=2\n{}\na=3\r\n{}", "x".repeat(5000), "y".repeat(1001), "z".repeat(2500));
    let whole = parse_bytes(&Buffer::from_slice_ref(log.as_bytes()), &spec).unwrap().batch;
    for chunk in [64, 999, 1000, 1001, 4096, 1 << 20] {
        let (batches, error) = read_all(ParseReader::new(log.as_bytes(), &spec).unwrap().with_chunk_bytes(chunk));
        assert_eq!(error, None);
        let read = arrow_select::concat::concat_batches(&whole.schema(), &batches).unwrap();
        assert_eq!(read.num_rows(), 6, "chunk {chunk}");
        for column in ["a", "_error"] {
            assert_eq!(read.column_by_name(column), whole.column_by_name(column), "chunk {chunk}: {column}");
        }
    }
    let errors: Vec<Option<String>> = (0..6).map(|i| text(&whole, "_error", i)).collect();
    assert_eq!(errors, [None, Some(too_long.into()), None, Some(too_long.into()), None, Some(too_long.into())]);

    // A 300 MB stream with no line end: one failed row, read in bounded memory.
    let (batches, error) = read_all(ParseReader::new(Repeat { byte: b'x', left: 300 << 20 }, &spec).unwrap().with_chunk_bytes(1 << 16));
    assert_eq!(error, None);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    assert_eq!(text(&batches[0], "_error", 0).as_deref(), Some(too_long));
}

#[test]
fn a_stream_reader_says_where_each_batchs_lines_came_from() {
    let spec = ParseSpec::from_json(r#"{"format": "logfmt", "fields": {"a": "int"}, "max_line_bytes": 1000}"#).unwrap();
    // Line ends of every kind, an empty line, and giant lines read past in part.
    let log = format!("a=1\n{}\r\na=2\r\n\na=3\r{}\na=4\n{}", "x".repeat(5000), "y".repeat(1001), "z".repeat(2500));
    let mut want = Vec::new();
    let mut start = 0;
    for (i, c) in log.char_indices() {
        if c == '\n' && log.as_bytes().get(i.wrapping_sub(1)) == Some(&b'\r') {
            start = i + 1;
        } else if c == '\n' || c == '\r' {
            want.push(start as u64);
            start = i + 1;
        }
    }
    want.push(start as u64);
    // CRLF: the CR ends the line, its LF belongs to it.
    want.dedup();
    for chunk in [1, 7, 64, 999, 1000, 1001, 4096, 1 << 20] {
        let mut reader = ParseReader::new(log.as_bytes(), &spec).unwrap().with_chunk_bytes(chunk);
        let (mut offsets, mut numbers) = (Vec::new(), Vec::new());
        while let Some(output) = reader.next() {
            let rows = output.unwrap().batch.num_rows();
            let source = reader.last_chunk().unwrap();
            let lines = source.lines();
            assert_eq!(lines.len(), rows, "chunk {chunk}");
            for (i, (offset, span)) in lines.into_iter().enumerate() {
                offsets.push(offset);
                numbers.push(source.first_line + i as u64);
                // What is kept of a line is the line's own first bytes.
                let kept = &source.text.as_slice()[span];
                assert_eq!(kept, &log.as_bytes()[offset as usize..offset as usize + kept.len()], "chunk {chunk}");
            }
        }
        assert_eq!(offsets, want, "chunk {chunk}");
        assert_eq!(numbers, (1..=want.len() as u64).collect::<Vec<_>>(), "chunk {chunk}");
    }
}

#[test]
fn a_reader_reads_into_the_memory_of_batches_already_dropped() {
    let spec = ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap();
    let log = read_log("apache_combined_10k.log");
    let whole = parse_bytes(&log, &spec).unwrap().batch;
    let plain = |b: &RecordBatch| -> Vec<Option<String>> {
        let path = b.column_by_name("path").unwrap();
        let path = arrow_cast::cast(path, &arrow_schema::DataType::Utf8).unwrap();
        path.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
    };
    let want = plain(&whole);
    let mut reader = ParseReader::new(log.as_slice(), &spec).unwrap().with_chunk_bytes(64 << 10);
    let (mut got, mut reused, mut previous) = (Vec::new(), 0, None);
    while let Some(output) = reader.next() {
        let batch = output.unwrap().batch;
        got.extend(plain(&batch));
        // The batch (and the views into its chunk) is dropped before the next read.
        drop(batch);
        let at = reader.last_chunk().unwrap().text.as_ptr();
        reused += usize::from(previous == Some(at));
        previous = Some(at);
    }
    assert_eq!(got, want);
    assert!(reused > 10, "the chunks' memory was read into again {reused} times");

    // Batches kept alive keep their text: each chunk is new memory.
    let mut reader = ParseReader::new(log.as_slice(), &spec).unwrap().with_chunk_bytes(64 << 10);
    let kept: Vec<RecordBatch> = reader.by_ref().map(|o| o.unwrap().batch).collect();
    let got: Vec<Option<String>> = kept.iter().flat_map(plain).collect();
    assert_eq!(got, want);
}

/// nginx's column for each of the `combined` parser's (but `ident`, which
/// nginx's own `combined` string writes as text).
const NGINX_COMBINED_COLUMNS: [(&str, &str); 10] = [
    ("remote_addr", "host"),
    ("remote_user", "user"),
    ("time_local", "timestamp"),
    ("method", "method"),
    ("path", "path"),
    ("protocol", "protocol"),
    ("status", "status"),
    ("body_bytes_sent", "size"),
    ("http_referer", "referrer"),
    ("http_user_agent", "user_agent"),
];

/// A format string parsed by the generic format-string parser (nginx names,
/// an `$ident` variable where nginx writes `-`) gives the `combined` parser's
/// values on the real log, column for column, and fails the same line.
#[test]
fn nginx_format_string_gives_the_combined_values_on_a_real_log() {
    let log = read_log("apache_combined_10k.log");
    let combined = parse_bytes(&log, &ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap()).unwrap();
    let spec = ParseSpec::from_json(
        r#"{"format": "nginx", "log_format": "$remote_addr $ident $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\""}"#,
    )
    .unwrap();
    let nginx = parse_bytes(&log, &spec).unwrap();
    assert_eq!((nginx.parsed, nginx.failed), (combined.parsed, combined.failed));
    let names = [("ident", "ident")].into_iter().chain(NGINX_COMBINED_COLUMNS);
    let errors = combined.batch.column_by_name("_error").unwrap();
    let theirs_errors = nginx.batch.column_by_name("_error").unwrap();
    for row in 0..combined.batch.num_rows() {
        assert_eq!(errors.is_valid(row), theirs_errors.is_valid(row), "line {}", row + 1);
    }
    for (ours, theirs) in names {
        let (a, b) = (nginx.batch.column_by_name(ours).unwrap(), combined.batch.column_by_name(theirs).unwrap());
        assert_eq!(a.data_type(), b.data_type(), "{ours}");
        for row in (0..combined.batch.num_rows()).filter(|&r| errors.is_null(r)) {
            assert_eq!(a.slice(row, 1).to_data(), b.slice(row, 1).to_data(), "{ours} line {}", row + 1);
        }
    }
}

/// nginx's own `combined` string (`$remote_addr - $remote_user ...`, the
/// ident a literal `-`), which reads its lines with the `combined` parser's
/// code, gives the `combined` parser's values on the real log, whose every
/// ident is `-`: each column but `ident`, and the same lines failed.
#[test]
fn nginx_combined_string_gives_the_combined_values_on_a_real_log() {
    let log = read_log("apache_combined_10k.log");
    let combined = parse_bytes(&log, &ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap()).unwrap();
    let nginx = parse_bytes(&log, &ParseSpec::from_json(r#"{"format": "nginx", "log_format": "combined"}"#).unwrap()).unwrap();
    assert_eq!((nginx.parsed, nginx.failed), (combined.parsed, combined.failed));
    assert!(combined.parsed > 9000, "{}", combined.parsed);
    assert_eq!(combined.batch.column_by_name("ident").unwrap().null_count(), combined.batch.num_rows());
    for (ours, theirs) in NGINX_COMBINED_COLUMNS {
        let (a, b) = (nginx.batch.column_by_name(ours).unwrap(), combined.batch.column_by_name(theirs).unwrap());
        assert!(a.to_data() == b.to_data(), "{ours} differs from combined's {theirs}");
    }
    // The same lines failed (the messages name the variable as written).
    let (a, b) = (nginx.batch.column_by_name("_error").unwrap(), combined.batch.column_by_name("_error").unwrap());
    assert_eq!(a.logical_nulls(), b.logical_nulls());
}

/// The loghub logs parsed with a grok pattern: every line parses, and every
/// field equals loghub's own parse (its `Content` without the spaces loghub
/// trims). `fields` pairs loghub's column with the pattern's field.
fn grok_agrees_with_loghub(log: &str, pattern: &str, fields: &[(&str, &str)]) {
    let csv = log.replace(".log", ".structured.csv");
    let header: Vec<String> =
        std::fs::read_to_string(log_path(&csv)).unwrap().lines().next().unwrap().split(',').map(str::to_string).collect();
    let truth = read_csv(&csv);
    let spec = serde_json::json!({"format": "grok", "pattern": pattern, "on_error": "raise"});
    let out = parse_bytes(&read_log(log), &ParseSpec::from_value(&spec).unwrap()).unwrap_or_else(|e| panic!("{log}: {e}"));
    let b = &out.batch;
    assert_eq!((b.num_rows(), out.failed), (truth.len(), 0), "{log}: every line is a row, none failed");
    for (theirs, ours) in fields {
        let at = header.iter().position(|h| h == theirs).unwrap_or_else(|| panic!("{csv} has no {theirs}"));
        let values = texts(b, ours);
        for (row, record) in truth.iter().enumerate() {
            let got = values[row].clone().unwrap_or_default();
            let (got, want) = if *theirs == "Content" { (got.trim(), record[at].trim()) } else { (got.as_str(), record[at].as_str()) };
            assert_eq!(got, want, "{log} line {} field {ours}", row + 1);
        }
    }
}

#[test]
fn grok_parses_the_loghub_logs_as_loghub_does() {
    grok_agrees_with_loghub(
        "hdfs_2k.log",
        r"^%{INT:date} %{INT:time} %{INT:pid:int} %{LOGLEVEL:level} %{NOTSPACE:component}: %{GREEDYDATA:content}$",
        &[("Date", "date"), ("Time", "time"), ("Pid", "pid"), ("Level", "level"), ("Component", "component"), ("Content", "content")],
    );
    grok_agrees_with_loghub(
        "hadoop_2k.log",
        r"^(?<date>%{YEAR}-%{MONTHNUM2}-%{MONTHDAY}) %{TIME:time} %{LOGLEVEL:level} \[%{DATA:process}\] %{JAVACLASS:component}: %{GREEDYDATA:content}$",
        &[
            ("Date", "date"),
            ("Time", "time"),
            ("Level", "level"),
            ("Process", "process"),
            ("Component", "component"),
            ("Content", "content"),
        ],
    );
    grok_agrees_with_loghub(
        "spark_2k.log",
        r"^(?<date>%{YEAR}/%{MONTHNUM2}/%{MONTHDAY}) %{TIME:time} %{LOGLEVEL:level} %{JAVACLASS:component}: %{GREEDYDATA:content}$",
        &[("Date", "date"), ("Time", "time"), ("Level", "level"), ("Component", "component"), ("Content", "content")],
    );
    grok_agrees_with_loghub(
        "zookeeper_2k.log",
        r"^(?<date>%{YEAR}-%{MONTHNUM2}-%{MONTHDAY}) %{TIME:time} - %{LOGLEVEL:level} +\[(?<node>[^:]*):(?<component>[^@]*)@%{INT:id:int}\] - %{GREEDYDATA:content}$",
        &[
            ("Date", "date"),
            ("Time", "time"),
            ("Level", "level"),
            ("Node", "node"),
            ("Component", "component"),
            ("Id", "id"),
            ("Content", "content"),
        ],
    );
    grok_agrees_with_loghub(
        "openstack_2k.log",
        r"^%{NOTSPACE:logrecord} (?<date>%{YEAR}-%{MONTHNUM2}-%{MONTHDAY}) %{TIME:time} %{INT:pid:int} %{LOGLEVEL:level} %{JAVACLASS:component} \[%{DATA:addr}\] %{GREEDYDATA:content}$",
        &[
            ("Logrecord", "logrecord"),
            ("Date", "date"),
            ("Time", "time"),
            ("Pid", "pid"),
            ("Level", "level"),
            ("Component", "component"),
            ("ADDR", "addr"),
            ("Content", "content"),
        ],
    );
    grok_agrees_with_loghub(
        "android_2k.log",
        r"^(?<date>%{MONTHNUM2}-%{MONTHDAY}) %{TIME:time} +%{INT:pid:int} +%{INT:tid:int} (?<level>[VDIWEFA]) (?<component>[^:]*?): %{GREEDYDATA:content}$",
        &[
            ("Date", "date"),
            ("Time", "time"),
            ("Pid", "pid"),
            ("Tid", "tid"),
            ("Level", "level"),
            ("Component", "component"),
            ("Content", "content"),
        ],
    );
    grok_agrees_with_loghub(
        "proxifier_2k.log",
        r"^\[(?<time>[0-9]{2}\.[0-9]{2} %{TIME})\] (?<program>.*?) - %{GREEDYDATA:content}$",
        &[("Time", "time"), ("Program", "program"), ("Content", "content")],
    );
    grok_agrees_with_loghub(
        "healthapp_2k.log",
        r"^(?<time>[0-9]{8}-[0-9:]+)\|%{DATA:component}\|%{INT:pid:int}\|%{GREEDYDATA:content}$",
        &[("Time", "time"), ("Component", "component"), ("Pid", "pid"), ("Content", "content")],
    );
}

/// grok and `combined` on the same real access log give the same values
/// (`-` is null in `combined`, text in grok).
#[test]
fn grok_gives_the_combined_values_on_a_real_log() {
    let log = read_log("apache_combined_10k.log");
    let combined = parse_bytes(&log, &ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap()).unwrap();
    let spec = serde_json::json!({
        "format": "grok",
        "pattern": r#"^%{IPORHOST:host} %{USER:ident} %{USER:user} \[%{HTTPDATE:timestamp}\] "%{WORD:method} %{NOTSPACE:path} %{DATA:protocol}" %{INT:status:int} (?:%{INT:size:int}|-) "%{DATA:referrer}" "%{DATA:user_agent}"$"#,
        "types": {"timestamp": {"type": "timestamp", "format": "%d/%b/%Y:%H:%M:%S %z"}}
    });
    let grok = parse_bytes(&log, &ParseSpec::from_value(&spec).unwrap()).unwrap();
    assert_eq!((grok.parsed, grok.failed), (combined.parsed, combined.failed));
    let failed = combined.batch.column_by_name("_error").unwrap();
    for column in ["host", "ident", "user", "timestamp", "method", "path", "protocol", "status", "size", "referrer", "user_agent"] {
        let (wants, gots) = (texts(&combined.batch, column), texts(&grok.batch, column));
        for row in (0..combined.batch.num_rows()).filter(|&r| failed.is_null(r)) {
            let want = wants[row].clone();
            let got = gots[row].clone().filter(|v| v != "-");
            assert_eq!(got, want, "{column} line {}", row + 1);
        }
    }
}
