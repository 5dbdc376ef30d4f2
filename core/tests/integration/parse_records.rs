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
