//! Multi-line records (`record_start`): Java and Python traces of the shapes
//! real services write (nested `Caused by:`, `... N more`, blank lines inside
//! a trace) are one row each, wherever the input is cut into chunks, and a
//! runaway record is one failed row.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_select::concat::concat_batches;
use sash_core::{parse_bytes, ParseReader, ParseSpec};

const LOG: &str = "\
2024-05-17 10:00:00 INFO  server started on :8080
2024-05-17 10:00:01 ERROR request failed
java.lang.IllegalStateException: outer
\tat com.example.App.handle(App.java:42)
\tat com.example.App.main(App.java:10)
Caused by: java.io.IOException: inner
\tat com.example.Io.read(Io.java:7)
\t... 2 more
Caused by: java.net.SocketException: Connection reset
\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:323)
\t... 5 more
2024-05-17 10:00:02 ERROR worker: task crashed
Traceback (most recent call last):
  File \"/app/worker.py\", line 12, in run
    result = task()
  File \"/app/tasks.py\", line 5, in task
    return 1 / 0
ZeroDivisionError: division by zero

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/app/worker.py\", line 14, in run
    raise RuntimeError(\"task failed\") from None
RuntimeError: task failed
2024-05-17 10:00:03 WARN  slow request: 1200 ms
2024-05-17 10:00:04 INFO  bye
";

fn spec(extra: &str) -> ParseSpec {
    ParseSpec::from_json(&format!(
        r#"{{"format": "grok", "pattern": "^%{{TIMESTAMP_ISO8601:ts}} %{{LOGLEVEL:level}} +%{{GREEDYDATA:message}}$", "types": {{"ts": "timestamp"}}, "record_start": "timestamp"{extra}}}"#
    ))
    .unwrap()
}

fn read_in_chunks(text: &[u8], spec: &ParseSpec, chunk: usize) -> RecordBatch {
    let reader = ParseReader::new(text, spec).unwrap().with_chunk_bytes(chunk);
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|o| o.unwrap().batch).collect();
    concat_batches(&schema, &batches).unwrap()
}

#[test]
fn a_trace_is_one_row_with_every_line_of_it() {
    let out = parse_bytes(&Buffer::from(LOG.as_bytes()), &spec("")).unwrap();
    let b = &out.batch;
    assert_eq!((b.num_rows(), out.failed), (5, 0), "{b:?}");
    let message = b.column_by_name("message").unwrap();
    let message = arrow_cast::cast(message, &arrow_schema::DataType::Utf8).unwrap();
    let message = message.as_string::<i32>();
    assert!(message.value(1).starts_with("request failed\njava.lang.IllegalStateException: outer\n\tat com.example.App.handle"));
    assert!(message
        .value(1)
        .ends_with("Connection reset\n\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:323)\n\t... 5 more"));
    assert_eq!(message.value(2).lines().count(), 14, "the blank lines inside the traceback are its own");
    assert!(message.value(2).ends_with("RuntimeError: task failed"));
    assert_eq!(message.value(3), "slow request: 1200 ms");
    let levels = b.column_by_name("level").unwrap();
    let levels = arrow_cast::cast(levels, &arrow_schema::DataType::Utf8).unwrap();
    assert_eq!(
        levels.as_string::<i32>().iter().collect::<Vec<_>>(),
        [Some("INFO"), Some("ERROR"), Some("ERROR"), Some("WARN"), Some("INFO")]
    );
}

/// The same rows whatever the chunk size of the stream reader: records cut
/// by every possible chunk boundary are held back and joined.
#[test]
fn records_cut_at_every_chunk_boundary_are_the_same_rows() {
    for extra in ["", r#", "max_record_lines": 5"#, r#", "max_record_bytes": 200"#] {
        let spec = spec(extra);
        let whole = parse_bytes(&Buffer::from(LOG.as_bytes()), &spec).unwrap().batch;
        for chunk in 1..=LOG.len() + 1 {
            let got = read_in_chunks(LOG.as_bytes(), &spec, chunk);
            assert_eq!(got, whole, "{extra}: chunks of {chunk} bytes");
        }
        // CRLF line ends and no final line end.
        let crlf = LOG.replace('\n', "\r\n");
        let crlf = crlf.trim_end();
        let whole_crlf = parse_bytes(&Buffer::from(crlf.as_bytes()), &spec).unwrap().batch;
        assert_eq!(whole_crlf.num_rows(), 5);
        for chunk in [1, 7, 64, 333] {
            assert_eq!(read_in_chunks(crlf.as_bytes(), &spec, chunk), whole_crlf, "{extra}: CRLF, chunks of {chunk}");
        }
    }
}

/// A record past max_record_lines or max_record_bytes is one failed row
/// naming the limit; the records around it parse; rows of the reader name
/// each record's first line.
#[test]
fn a_runaway_record_is_one_failed_row() {
    for extra in [r#", "max_record_lines": 5"#, r#", "max_record_bytes": 200"#] {
        let out = parse_bytes(&Buffer::from(LOG.as_bytes()), &spec(extra)).unwrap();
        let b = &out.batch;
        assert_eq!(b.num_rows(), 5, "{extra}");
        let errors = b.column_by_name("_error").unwrap().as_string::<i32>();
        assert!(errors.is_valid(1) && errors.is_valid(2), "{extra}: {errors:?}");
        assert!(errors.value(1).starts_with("record at byte 0: a record longer than max_record_lines"), "{}", errors.value(1));
        assert!(errors.is_null(0) && errors.is_null(3) && errors.is_null(4), "{extra}");
        assert!(b.column_by_name("message").unwrap().is_null(1));
    }
    // The reader says where each row came from: the first line of its record.
    let mut reader = ParseReader::new(LOG.as_bytes(), &spec("")).unwrap().with_chunk_bytes(100);
    let mut rows = Vec::new();
    while let Some(out) = reader.next() {
        out.unwrap();
        rows.extend(reader.last_chunk().unwrap().rows().into_iter().map(|r| (r.line, r.offset)));
    }
    let starts: Vec<(u64, u64)> = LOG
        .split_inclusive('\n')
        .scan(0u64, |offset, line| {
            let at = *offset;
            *offset += line.len() as u64;
            Some((at, line))
        })
        .enumerate()
        .filter(|(_, (_, line))| line.starts_with("2024-"))
        .map(|(i, (at, _))| (i as u64 + 1, at))
        .collect();
    assert_eq!(rows, starts);
}

/// `on_error: "raise"` names the first line of the failed record; arrays of
/// lines are joined as the text of a file would be.
#[test]
fn raised_errors_name_the_records_first_line_and_arrays_join_too() {
    let bad = LOG.replace("2024-05-17 10:00:03 WARN ", "2024-05-17 10:00:03 NOPE ");
    let err = parse_bytes(&Buffer::from(bad.as_bytes()), &spec(r#", "on_error": "raise""#)).unwrap_err().to_string();
    let line = LOG.lines().position(|l| l.contains("slow request")).unwrap() + 1;
    assert!(err.contains(&format!("line {line}")), "{err}");
    let lines = arrow_array::StringArray::from(LOG.lines().collect::<Vec<_>>());
    let from_array = sash_core::parse_lines(&lines, &spec("")).unwrap().batch;
    assert_eq!(from_array, parse_bytes(&Buffer::from(LOG.as_bytes()), &spec("")).unwrap().batch);
}

#[test]
fn record_options_are_checked() {
    let err = |json: &str| ParseSpec::from_json(json).unwrap_err().to_string();
    assert!(err(r#"{"format": "syslog", "record_start": "("}"#).contains("record_start is not a valid regex"));
    assert!(err(r#"{"format": "syslog", "max_record_lines": 5}"#).contains("give record_start too"));
    assert!(err(r#"{"format": "syslog", "record_start": "timestamp", "max_record_lines": 0}"#).contains("max_record_lines must be"));
    assert!(err(r#"{"format": "json", "schema": [{"name": "a", "type": "int64"}], "record_start": "x"}"#).contains("json reads one value"));
}

const CRI: &str = concat!(
    "2016-10-06T00:17:09.669794202Z stdout F 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326 \"-\" \"curl\"\n",
    "2016-10-06T00:17:10.113242941Z stderr P 127.0.0.1 - - [10/Oct/2000:13:55:37 -0700] \"GET /very\n",
    "2016-10-06T00:17:10.113242942Z stderr P /long/pa\n",
    "2016-10-06T00:17:10.113242943Z stderr F th HTTP/1.0\" 404 - \"-\" \"curl\"\n",
    "2016-10-06T00:17:11.000000000Z stdout F \n",
);

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let c = arrow_cast::cast(batch.column_by_name(column).unwrap(), &arrow_schema::DataType::Utf8).unwrap();
    c.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

/// CRI lines: `P` lines joined with the `F` line that ends them, the
/// message parsed by the inner format, the same rows at every chunk size.
#[test]
fn cri_partial_lines_join_and_the_message_is_parsed_by_the_inner_format() {
    let spec = ParseSpec::from_json(r#"{"format": "cri", "inner": "combined"}"#).unwrap();
    let out = parse_bytes(&Buffer::from(CRI.as_bytes()), &spec).unwrap();
    let b = &out.batch;
    assert_eq!(b.num_rows(), 3, "{b:?}");
    assert_eq!(strings(b, "stream"), [Some("stdout".into()), Some("stderr".into()), Some("stdout".into())], "{:?}", strings(b, "_error"));
    assert_eq!(strings(b, "path"), [Some("/a.gif".into()), Some("/very/long/path".into()), None]);
    assert_eq!(strings(b, "user"), [Some("frank".into()), None, None]);
    assert_eq!(strings(b, "time")[1].as_deref(), Some("2016-10-06T00:17:10.113242Z"));
    let errors = strings(b, "_error");
    assert_eq!(&errors[..2], [None, None]);
    assert!(errors[2].as_deref().unwrap().starts_with("line at byte 0: empty line") || errors[2].is_some(), "{errors:?}");
    for chunk in 1..=CRI.len() + 1 {
        assert_eq!(&read_in_chunks(CRI.as_bytes(), &spec, chunk), b, "chunks of {chunk}");
    }
    // Without inner: the message whole.
    let plain = parse_bytes(&Buffer::from(CRI.as_bytes()), &ParseSpec::from_json(r#"{"format": "cri"}"#).unwrap()).unwrap().batch;
    assert_eq!(
        strings(&plain, "message")[1].as_deref(),
        Some(r#"127.0.0.1 - - [10/Oct/2000:13:55:37 -0700] "GET /very/long/path HTTP/1.0" 404 - "-" "curl""#)
    );
    assert_eq!(strings(&plain, "message")[2].as_deref(), Some(""));
}

const DOCKER: &str = concat!(
    "{\"log\":\"level=info msg=\\\"hello \\\\\\\"world\\\\\\\"\\\" n=1\\n\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11.111111111Z\"}\n",
    "{\"log\":\"level=warn msg=\\\"part one, \",\"stream\":\"stderr\",\"time\":\"2019-01-01T11:11:12Z\"}\n",
    "{\"log\":\"part two\\\" n=2\\n\",\"stream\":\"stderr\",\"time\":\"2019-01-01T11:11:12.5Z\"}\n",
    "not json\n",
);

/// Docker json-file entries: `log` decoded, a `log` without its newline
/// joined with the next entry, the inner format on the joined message; a
/// line that is no entry is a failed row; the same rows at every chunk size.
#[test]
fn docker_entries_are_decoded_joined_and_parsed() {
    let spec = ParseSpec::from_json(
        r#"{"format": "docker", "inner": {"format": "logfmt", "fields": {"level": "string", "msg": "string", "n": "int"}}}"#,
    )
    .unwrap();
    let out = parse_bytes(&Buffer::from(DOCKER.as_bytes()), &spec).unwrap();
    let b = &out.batch;
    assert_eq!(b.num_rows(), 3, "{b:?}");
    assert_eq!(strings(b, "msg"), [Some(r#"hello "world""#.into()), Some("part one, part two".into()), None]);
    assert_eq!(strings(b, "level"), [Some("info".into()), Some("warn".into()), None]);
    assert_eq!(strings(b, "stream"), [Some("stdout".into()), Some("stderr".into()), None]);
    assert_eq!(strings(b, "time")[0].as_deref(), Some("2019-01-01T11:11:11.111111Z"));
    let errors = strings(b, "_error");
    assert!(errors[2].as_deref().unwrap().starts_with("entry at byte 0: not a Docker json-file entry"), "{errors:?}");
    for chunk in 1..=DOCKER.len() + 1 {
        assert_eq!(&read_in_chunks(DOCKER.as_bytes(), &spec, chunk), b, "chunks of {chunk}");
    }
    let err = |json: &str| ParseSpec::from_json(json).unwrap_err().to_string();
    assert!(err(r#"{"format": "docker", "inner": {"format": "json", "schema": [{"name": "a", "type": "int64"}]}}"#)
        .contains("'inner' must be a line format"));
    assert!(err(r#"{"format": "cri", "record_start": "x"}"#).contains("take no record_start"));
}

/// A line longer than a record may be, still being read when a chunk is
/// full: whether it begins a record decides whether the record before it is
/// complete, and the rows are those of one whole parse (found by the
/// `records` fuzz target).
#[test]
fn a_line_longer_than_a_record_may_be_cuts_where_a_whole_parse_does() {
    for (start, text) in [
        (r"^\S", &b"\xd3\n>>>>\x0cS"[..]),
        (r"^\S", &b"a\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nc\n"[..]),
        (r"^\S", &b"a\n bbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n c\nd\n"[..]),
    ] {
        let spec = ParseSpec::from_value(&serde_json::json!({
            "format": "regex", "pattern": "^(?P<head>\\S*)(?P<rest>.*)$", "record_start": start,
            "max_record_lines": 1, "max_record_bytes": 5,
        }))
        .unwrap();
        let whole = parse_bytes(&Buffer::from(text), &spec).unwrap().batch;
        for chunk in 1..=text.len() + 1 {
            assert_eq!(read_in_chunks(text, &spec, chunk), whole, "{start} {:?}, chunks of {chunk}", String::from_utf8_lossy(text));
        }
    }
}
