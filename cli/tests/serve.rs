//! `sash serve` end to end: a real server process, raw bytes on its socket.
//! Results against the in-process kernel, hostile requests, many clients,
//! the socket's permissions, peers of another uid, SIGTERM, disconnects.

use arrow_array::{ArrayRef, Float64Array, Int64Array, LargeBinaryArray, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use sash_cli::wire::{self, IpcInput};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("sash.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_sash"))
            .args(["serve", "--socket"])
            .arg(&socket)
            .args(extra)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, socket, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&server.socket).is_err() {
            assert!(Instant::now() < deadline, "the server did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn connect(&self) -> Client {
        let stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client { stream }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// A line of /proc/PID/status, in KiB (VmRSS, VmHWM: the peak).
    fn status_kib(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory preconditions.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Waits for the process to exit, returning its status code.
    fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
}

/// An answer: its batches (when it had a stream) and its last frame, or the error frame.
type Answer = Result<(Vec<RecordBatch>, Map<String, Value>), Map<String, Value>>;

fn frame(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_frame(&mut out, value).unwrap();
    out
}

fn ipc(batches: &[RecordBatch], schema: &SchemaRef) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    out
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn request(&mut self, header: Value, input: Option<&[RecordBatch]>) -> Answer {
        let mut bytes = frame(&header);
        if let Some(batches) = input {
            bytes.extend(ipc(batches, &batches[0].schema()));
        }
        self.send(&bytes);
        self.answer()
    }

    fn answer(&mut self) -> Answer {
        let head = wire::read_frame(&mut self.stream).unwrap().expect("an answer");
        if head["ok"] != json!(true) {
            return Err(head);
        }
        if head["stream"] != json!(true) {
            return Ok((vec![], head));
        }
        let mut input = IpcInput::new(&mut self.stream, u64::MAX);
        let mut batches = vec![];
        while let Some(batch) = input.next_batch().unwrap() {
            batches.push(batch);
        }
        let tail = wire::read_frame(&mut self.stream).unwrap().expect("a tail");
        if tail["ok"] != json!(true) {
            return Err(tail);
        }
        Ok((batches, tail))
    }

    /// Whether the server closed the connection (after any error frame it sent).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.stream.read_to_end(&mut rest).is_ok()
    }
}

fn kind(answer: &Answer) -> String {
    match answer {
        Err(frame) => frame["error"]["kind"].as_str().unwrap().to_string(),
        Ok(_) => "ok".to_string(),
    }
}

fn rows(n: usize, seed: u64) -> RecordBatch {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ts: Vec<Option<i64>> = (0..n).map(|_| (next() % 10 != 0).then(|| (next() % 3_600_000) as i64)).collect();
    let k: Vec<i64> = (0..n).map(|_| (next() % 7) as i64).collect();
    let v: Vec<Option<f64>> = (0..n).map(|_| (next() % 5 != 0).then(|| (next() % 1000) as f64 / 8.0)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> =
        vec![Arc::new(TimestampMillisecondArray::from(ts)), Arc::new(Int64Array::from(k)), Arc::new(Float64Array::from(v))];
    RecordBatch::try_new(schema, columns).unwrap()
}

const WINDOW: &str = r#"{"time": "ts", "every": "1m", "by": "k", "null_time": "drop",
    "aggs": ["count() as n", "sum(v) as s", "quantile(v, 0.9) as q", "first(v) as f"]}"#;
const ROLLING: &str = r#"{"time": "ts", "period": "5m", "by": "k", "null_time": "drop", "aggs": ["mean(v) as m", "max(v) as x"]}"#;
const LINE: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#;

fn spec(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn lines_batch(lines: &[&str]) -> RecordBatch {
    RecordBatch::try_from_iter([("line", Arc::new(StringArray::from(lines.to_vec())) as ArrayRef)]).unwrap()
}

fn in_process_window(batches: &[RecordBatch]) -> RecordBatch {
    sash_core::window_agg(&batches[0].schema(), batches, &sash_core::WindowSpec::from_json(WINDOW).unwrap()).unwrap()
}

fn without_metadata(batch: &RecordBatch) -> RecordBatch {
    let schema = Arc::new(Schema::new(batch.schema().fields().clone()));
    RecordBatch::try_new(schema, batch.columns().to_vec()).unwrap()
}

fn concat(batches: &[RecordBatch], schema: SchemaRef) -> RecordBatch {
    arrow_select::concat::concat_batches(&schema, batches).unwrap()
}

#[test]
fn answers_are_the_in_process_results_for_every_operation() {
    let server = Server::start(&[]);
    let mut client = server.connect();
    let (_, hello) = client.request(json!({"op": "hello"}), None).unwrap();
    assert_eq!(hello["protocol"], json!(1));

    let input = [rows(5000, 1), rows(0, 2), rows(3000, 3).slice(100, 2000)];
    let (out, _) = client.request(json!({"op": "window_agg", "spec": spec(WINDOW)}), Some(&input)).unwrap();
    assert_eq!(out, vec![in_process_window(&input)]);

    let (out, _) = client.request(json!({"op": "rolling", "spec": spec(ROLLING)}), Some(&input)).unwrap();
    let (schema, expected) =
        sash_core::rolling_with_schema(&input[0].schema(), &input, &sash_core::RollingSpec::from_json(ROLLING).unwrap()).unwrap();
    assert_eq!(concat(&out, schema.clone()), concat(&expected, schema));

    // Lines: one answer batch per input batch, line numbers running on.
    let parse_spec = r#"{"format": "combined"}"#;
    let batches = [lines_batch(&[LINE, "garbage", LINE]), lines_batch(&[]), lines_batch(&["no", LINE])];
    let (out, _) = client.request(json!({"op": "parse", "spec": spec(parse_spec)}), Some(&batches)).unwrap();
    assert_eq!(out.len(), 3);
    let mut parser = sash_core::Parser::new(&sash_core::ParseSpec::from_json(parse_spec).unwrap()).unwrap();
    for (got, batch) in out.iter().zip(&batches) {
        assert_eq!(got, &parser.parse_lines(batch.column(0).as_ref()).unwrap().batch);
    }

    // Bytes: lines cut anywhere across values and batches.
    let text: String = (0..2000).map(|i| if i % 97 == 0 { "bad line\n".to_string() } else { format!("{LINE}\n") }).collect();
    let cuts = [0, 1, 70, 71, 5000, 5001, 90_000, text.len()];
    let values: Vec<&[u8]> = cuts.windows(2).map(|w| &text.as_bytes()[w[0]..w[1]]).collect();
    let bytes_batches: Vec<RecordBatch> = values
        .chunks(3)
        .map(|chunk| RecordBatch::try_from_iter([("bytes", Arc::new(LargeBinaryArray::from_vec(chunk.to_vec())) as ArrayRef)]).unwrap())
        .collect();
    let (out, _) = client.request(json!({"op": "parse", "input": "bytes", "spec": spec(parse_spec)}), Some(&bytes_batches)).unwrap();
    let expected = sash_core::parse_bytes(&text.as_bytes().into(), &sash_core::ParseSpec::from_json(parse_spec).unwrap()).unwrap().batch;
    assert_eq!(concat(&out, expected.schema()), expected);
}

/// A window_agg larger than --window-part-bytes is aggregated part by part:
/// the same bytes as one call, for every kind of window and aggregation that
/// depends on order (first, last) or on all values (quantiles, distinct).
#[test]
fn a_window_agg_in_parts_is_the_one_call_result() {
    let server = Server::start(&["--window-part-bytes", "20000"]);
    let mut client = server.connect();
    let input: Vec<RecordBatch> = (0..23).map(|i| rows(700 + 37 * i, 40 + i as u64)).collect();
    let specs = [
        WINDOW.to_string(),
        r#"{"time": "ts", "every": "1m", "period": "5m", "by": "k", "null_time": "drop", "aggs": ["count_distinct(v) as d", "last(v) as l", "median(v) as m", "min(v)", "mean(v)"]}"#.to_string(),
        r#"{"time": "ts", "session_gap": "20s", "by": "k", "null_time": "drop", "aggs": ["count() as n", "first(v) as f", "last(v) as l", "max(v)"]}"#.to_string(),
        // Float sums and variances may differ in the last bits when split: held whole.
        r#"{"time": "ts", "every": "7m", "null_time": "drop", "aggs": ["approx_count_distinct(v) as a", "var(v)", "sum(v)"]}"#.to_string(),
        r#"{"time": "ts", "every": "3m", "by": "k", "null_time": "drop", "aggs": ["sum(k) as s", "mean(k) as m", "max_by(v, ts) as x"]}"#.to_string(),
    ];
    for text in &specs {
        let expected = sash_core::window_agg(&input[0].schema(), &input, &sash_core::WindowSpec::from_json(text).unwrap()).unwrap();
        let (out, _) = client.request(json!({"op": "window_agg", "spec": spec(text)}), Some(&input)).unwrap();
        assert_eq!(out, vec![expected], "{text}");
    }
    // The rows are not held: 200 MB of them through a server holding 8 MB.
    let server = Server::start(&["--window-part-bytes", "8000000"]);
    let mut client = server.connect();
    client.request(json!({"op": "hello"}), None).unwrap();
    let before = server.status_kib("VmHWM:");
    let big: Vec<RecordBatch> = (0..100).map(|i| rows(80_000, 7 + i)).collect();
    let big_bytes: usize = big.iter().map(RecordBatch::get_array_memory_size).sum();
    assert!(big_bytes > 150 << 20, "{big_bytes}");
    let exact = r#"{"time": "ts", "every": "1m", "by": "k", "null_time": "drop", "aggs": ["count() as n", "first(v) as f", "max(v)", "count_distinct(k) as d", "sum(k)"]}"#;
    let (out, _) = client.request(json!({"op": "window_agg", "spec": spec(exact)}), Some(&big)).unwrap();
    let expected = sash_core::window_agg(&big[0].schema(), &big, &sash_core::WindowSpec::from_json(exact).unwrap()).unwrap();
    assert_eq!(out, vec![expected]);
    let grown = (server.status_kib("VmHWM:") - before) << 10;
    assert!(grown < big_bytes as u64 / 3, "the server's peak grew by {grown} bytes for {big_bytes} bytes of rows");

    // Null times under null_time "error": the count of the whole input, as one call says.
    let no_drop = r#"{"time": "ts", "every": "1m", "aggs": ["count()"]}"#;
    let expected = sash_core::window_agg(&input[0].schema(), &input, &sash_core::WindowSpec::from_json(no_drop).unwrap()).unwrap_err();
    let answer = client.request(json!({"op": "window_agg", "spec": spec(no_drop)}), Some(&input));
    assert_eq!(answer.unwrap_err()["error"]["message"], json!(expected.to_string()));
}

#[test]
fn a_stream_session_gives_the_in_process_stream_results_and_survives_its_snapshot() {
    let server = Server::start(&[]);
    let mut client = server.connect();
    let stream_spec =
        r#"{"time": "ts", "every": "1m", "by": "k", "null_time": "drop", "lateness": "2m", "aggs": ["count() as n", "sum(v) as s"]}"#;
    let mut local = sash_core::WindowStream::from_json(stream_spec).unwrap();
    let (_, opened) = client.request(json!({"op": "open", "stream": "window", "spec": spec(stream_spec)}), None).unwrap();
    let session = opened["session"].as_u64().unwrap();
    let pushes = [rows(2000, 11), rows(2000, 12), rows(500, 13)];
    let (out, tail) = client.request(json!({"op": "push", "session": session}), Some(&pushes[..2])).unwrap();
    let expected = [local.push(&pushes[0]).unwrap(), local.push(&pushes[1]).unwrap()];
    // One IPC stream has one schema: the first batch's metadata (docs/protocol.md).
    assert_eq!(out[0], expected[0]);
    assert_eq!(out.iter().map(without_metadata).collect::<Vec<_>>(), expected.iter().map(without_metadata).collect::<Vec<_>>());
    assert_eq!(tail["watermark"], json!(local.watermark()));
    assert_eq!(tail["stats"]["rows_in"], json!(4000));

    // A snapshot restored on another connection goes on as the original.
    let (snap, _) = client.request(json!({"op": "snapshot", "session": session}), None).unwrap();
    let bytes = snap[0].clone();
    let mut other = server.connect();
    let (_, restored) = other.request(json!({"op": "restore", "stream": "window"}), Some(&[bytes])).unwrap();
    let restored = restored["session"].as_u64().unwrap();
    let expected = local.push(&pushes[2]).unwrap();
    for (c, s) in [(&mut client, session), (&mut other, restored)] {
        let (out, _) = c.request(json!({"op": "push", "session": s}), Some(&pushes[2..])).unwrap();
        assert_eq!(out, vec![expected.clone()]);
    }
    let expected = local.advance(3_000_000).unwrap();
    for (c, s) in [(&mut client, session), (&mut other, restored)] {
        let (out, _) = c.request(json!({"op": "advance", "session": s, "watermark": 3_000_000}), None).unwrap();
        assert_eq!(out, vec![expected.clone()]);
    }
    let expected = (local.finish().unwrap(), local.take_late().unwrap());
    for (c, s) in [(&mut client, session), (&mut other, restored)] {
        let (finished, _) = c.request(json!({"op": "finish", "session": s}), None).unwrap();
        let (late, _) = c.request(json!({"op": "take_late", "session": s}), None).unwrap();
        assert_eq!((finished[0].clone(), late[0].clone()), expected);
    }

    // A failed push leaves the session as it was, and the connection usable.
    let mut client = server.connect();
    let (_, opened) = client.request(json!({"op": "open", "stream": "window", "spec": spec(stream_spec)}), None).unwrap();
    let session = opened["session"].as_u64().unwrap();
    client.request(json!({"op": "push", "session": session}), Some(&pushes[..1])).unwrap();
    let (before, _) = client.request(json!({"op": "snapshot", "session": session}), None).unwrap();
    let wrong = lines_batch(&["a"]);
    let failed = client.request(json!({"op": "push", "session": session}), Some(&[wrong.clone(), wrong]));
    assert_eq!(kind(&failed), "invalid_input", "{failed:?}");
    let (after, _) = client.request(json!({"op": "snapshot", "session": session}), None).unwrap();
    assert_eq!(before, after);
    assert_eq!(kind(&client.request(json!({"op": "push", "session": 99}), Some(&pushes[..1]))), "invalid_input");
}

#[test]
fn errors_carry_the_bindings_kinds_and_messages_and_the_connection_goes_on() {
    let server = Server::start(&[]);
    let mut client = server.connect();
    let input = [rows(100, 5)];
    let bad = client.request(json!({"op": "window_agg", "spec": {"time": "ts", "every": "1m", "aggs": ["mean(latency)"]}}), Some(&input));
    let message = sash_core::window_agg(
        &input[0].schema(),
        &input,
        &sash_core::WindowSpec::from_json(r#"{"time": "ts", "every": "1m", "aggs": ["mean(latency)"]}"#).unwrap(),
    )
    .unwrap_err()
    .to_string();
    let bad = bad.unwrap_err();
    assert_eq!(bad["error"], json!({"kind": "unknown_column", "message": message}));
    assert_eq!(bad.get("closed"), None);
    let cases = [
        (json!({"op": "window_agg", "spec": {"time": "ts", "every": "1 fortnight", "aggs": ["count()"]}}), "invalid_duration"),
        (json!({"op": "window_agg", "spec": {"time": "v", "every": "1m", "aggs": ["count()"]}}), "wrong_type"),
        (json!({"op": "window_agg", "spec": {"time": "ts", "every": "1m", "aggs": ["nope(v)"]}}), "unknown_function"),
        (json!({"op": "window_agg", "spec": {"time": "ts", "every": "1m", "aggs": ["count()"]}}), "null_time"),
        (json!({"op": "rolling", "spec": "not json"}), "invalid_spec"),
        (json!({"op": "parse", "spec": {"format": "combined"}}), "invalid_input"),
        (json!({"op": "parse", "spec": {"format": "combined"}, "input": "words"}), "invalid_spec"),
    ];
    for (header, want) in cases {
        let answer = client.request(header.clone(), Some(&input));
        assert_eq!(kind(&answer), want, "{header}: {answer:?}");
    }
    // Still the same connection, still serving.
    let (out, _) = client.request(json!({"op": "window_agg", "spec": spec(WINDOW)}), Some(&input)).unwrap();
    assert_eq!(out, vec![in_process_window(&input)]);
}

/// The requests of a hostile or broken peer: each gets an error frame or a
/// closed connection; the server serves the next client, and its memory
/// returns to what it was.
#[test]
fn hostile_requests_get_an_error_or_a_closed_connection_and_the_server_goes_on() {
    let server = Server::start(&["--timeout", "2s"]);
    let input = [rows(20_000, 9)];
    let warm = |server: &Server| {
        let mut c = server.connect();
        let (out, _) = c.request(json!({"op": "window_agg", "spec": spec(WINDOW)}), Some(&input)).unwrap();
        assert_eq!(out, vec![in_process_window(&input)]);
    };
    for _ in 0..3 {
        warm(&server);
    }
    let baseline = server.rss_kib();

    let schema_and_batch = ipc(&input, &input[0].schema());
    let mut big_body = schema_and_batch.clone();
    // The batch message's metadata, with a body length of 2 GB that never comes.
    big_body.truncate(big_body.len() - 8);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a truncated header", b"SAS".to_vec(), "closed"),
        ("a header over its limit", [b"SASH".as_slice(), &(2u32 << 20).to_le_bytes()].concat(), "protocol"),
        ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "protocol"),
        ("not JSON", [b"SASH".as_slice(), &3u32.to_le_bytes(), b"{{{"].concat(), "protocol"),
        ("an unknown op", frame(&json!({"op": "drop_tables"})), "protocol"),
        ("no op", frame(&json!({"spec": {}})), "protocol"),
        (
            "a malformed IPC stream",
            [frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})), vec![0xFF, 0xFF, 0xFF, 0xFF, 16, 0, 0, 0], vec![7; 16]].concat(),
            "protocol",
        ),
        (
            "an IPC stream cut in a batch",
            [frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})), schema_and_batch[..schema_and_batch.len() - 100].to_vec()].concat(),
            "closed",
        ),
        (
            "a 2 GB declared body",
            [frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})), declared_body(&input[0], 2 << 30)].concat(),
            "resource_limit",
        ),
        (
            "a 512 MB declared body that never comes",
            [frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})), declared_body(&input[0], 512 << 20)].concat(),
            "closed",
        ),
    ];
    for (what, bytes, want) in &cases {
        let mut client = server.connect();
        client.send(bytes);
        if *want == "closed" {
            // Nothing more comes: the server gives up after --timeout and closes.
            let start = Instant::now();
            assert!(client.closed(), "{what}");
            assert!(start.elapsed() < Duration::from_secs(20), "{what}: closed after {:?}", start.elapsed());
        } else {
            let answer = client.answer();
            assert_eq!(kind(&answer), *want, "{what}: {answer:?}");
            assert_eq!(answer.as_ref().unwrap_err()["closed"], json!(true), "{what}");
            assert!(client.closed(), "{what}: the connection stays open after a protocol error");
        }
        warm(&server);
    }
    // A client gone in the middle of its request.
    for cut in [3, 20, schema_and_batch.len() / 2] {
        let mut client = server.connect();
        client.send(&[frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})), schema_and_batch[..cut].to_vec()].concat());
        drop(client);
        warm(&server);
    }
    let after = server.rss_kib();
    assert!(after < baseline + 64 * 1024, "RSS {baseline} KiB before the hostile requests, {after} KiB after");
    drop(big_body);
}

/// An IPC stream: the schema of `batch`, then a record batch message whose
/// header declares `body` bytes, and only a few of them.
fn declared_body(batch: &RecordBatch, body: i64) -> Vec<u8> {
    let whole = ipc(std::slice::from_ref(batch), &batch.schema());
    // Walk the messages: [continuation, len, metadata, body] ...
    let schema_len = i32::from_le_bytes(whole[4..8].try_into().unwrap()) as usize;
    let at = 8 + schema_len;
    let meta_len = i32::from_le_bytes(whole[at + 4..at + 8].try_into().unwrap()) as usize;
    let mut metadata = whole[at + 8..at + 8 + meta_len].to_vec();
    let message = arrow_ipc::root_as_message(&metadata).unwrap();
    let old = message.bodyLength();
    // The body length is a little-endian i64 in the flatbuffer: patch it in place.
    let pos = metadata.windows(8).position(|w| w == old.to_le_bytes()).unwrap();
    metadata[pos..pos + 8].copy_from_slice(&body.to_le_bytes());
    assert_eq!(arrow_ipc::root_as_message(&metadata).unwrap().bodyLength(), body);
    [&whole[..at + 8], metadata.as_slice(), &[1, 2, 3]].concat()
}

/// A client that stops reading its answer slows the server down: the
/// server's memory stays bounded while 200 MB of lines wait, and every
/// answer arrives once the client reads again.
#[test]
fn a_client_that_stops_reading_holds_the_server_back_not_its_memory() {
    let server = Server::start(&[]);
    let mut client = server.connect();
    client.request(json!({"op": "hello"}), None).unwrap();
    let before = server.rss_kib();
    let lines: Vec<String> = (0..20_000).map(|i| format!("{LINE} {i}")).collect();
    let batch = lines_batch(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let batches = vec![batch.clone(); 120];
    let request = [frame(&json!({"op": "parse", "spec": {"format": "common"}})), ipc(&batches, &batch.schema())].concat();
    assert!(request.len() > 150 << 20);
    let mut writer = client.stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&request).is_ok());
    std::thread::sleep(Duration::from_secs(2));
    let grown = server.rss_kib().saturating_sub(before);
    assert!(grown < 100 << 10, "the server grew by {grown} KiB while its client did not read");
    assert!(!sending.is_finished(), "the whole request went in although no answer was read");
    let (out, _) = client.answer().unwrap();
    assert!(sending.join().unwrap());
    assert_eq!(out.len(), 120);
    let expected =
        sash_core::parse_lines(batch.column(0).as_ref(), &sash_core::ParseSpec::from_json(r#"{"format": "common"}"#).unwrap()).unwrap();
    assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 120 * expected.batch.num_rows());
    assert_eq!(without_metadata(&out[0]), without_metadata(&expected.batch));
}

#[test]
fn clients_beyond_max_clients_are_refused_until_one_leaves() {
    let server = Server::start(&["--max-clients", "1"]);
    // Served as soon as no one else is (the start's probe connection leaves a moment after).
    let served = || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut client = server.connect();
            match client.request(json!({"op": "hello"}), None) {
                Ok(_) => return client,
                Err(e) => assert!(Instant::now() < deadline, "still refused: {e:?}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = served();
    for _ in 0..3 {
        let mut refused = server.connect();
        let answer = refused.answer();
        assert_eq!(kind(&answer), "resource_limit", "{answer:?}");
        assert_eq!(answer.unwrap_err()["closed"], json!(true));
    }
    drop(first);
    // Its place is given back once its thread ends.
    served();
}

#[test]
fn sixteen_clients_at_once_each_get_the_in_process_result() {
    let server = Server::start(&[]);
    let threads: Vec<_> = (0..16u64)
        .map(|i| {
            let socket = server.socket.clone();
            std::thread::spawn(move || {
                let stream = UnixStream::connect(&socket).unwrap();
                let mut client = Client { stream };
                for round in 0..3u64 {
                    let input = [rows(3000 + 100 * i as usize, i * 100 + round)];
                    match (i + round) % 3 {
                        0 => {
                            let (out, _) = client.request(json!({"op": "window_agg", "spec": spec(WINDOW)}), Some(&input)).unwrap();
                            assert_eq!(out, vec![in_process_window(&input)]);
                        }
                        1 => {
                            let (out, _) = client.request(json!({"op": "rolling", "spec": spec(ROLLING)}), Some(&input)).unwrap();
                            let (schema, expected) = sash_core::rolling_with_schema(
                                &input[0].schema(),
                                &input,
                                &sash_core::RollingSpec::from_json(ROLLING).unwrap(),
                            )
                            .unwrap();
                            assert_eq!(concat(&out, schema.clone()), concat(&expected, schema));
                        }
                        _ => {
                            let lines: Vec<&str> = (0..500).map(|j| if (j as u64).is_multiple_of(i + 2) { "x" } else { LINE }).collect();
                            let batch = lines_batch(&lines);
                            let (out, _) = client
                                .request(json!({"op": "parse", "spec": {"format": "combined"}}), Some(std::slice::from_ref(&batch)))
                                .unwrap();
                            let expected = sash_core::parse_lines(
                                batch.column(0).as_ref(),
                                &sash_core::ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap(),
                            )
                            .unwrap();
                            assert_eq!(out, vec![expected.batch]);
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn the_socket_is_private_stale_sockets_are_replaced_and_other_files_kept() {
    let server = Server::start(&[]);
    let mode = std::fs::metadata(&server.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second server on the same path is refused; the first keeps serving.
    let status =
        Command::new(env!("CARGO_BIN_EXE_sash")).args(["serve", "--socket"]).arg(&server.socket).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("another server is listening"));
    server.connect().request(json!({"op": "hello"}), None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-socket");
    std::fs::write(&path, "keep me").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_sash")).args(["serve", "--socket"]).arg(&path).output().unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");

    // A socket file whose server is gone (SIGKILL leaves it) is replaced.
    let mut killed = Server::start(&["--mode", "660"]);
    assert_eq!(std::fs::metadata(&killed.socket).unwrap().permissions().mode() & 0o777, 0o660);
    killed.signal(libc::SIGKILL);
    killed.wait(Duration::from_secs(10));
    assert!(killed.socket.exists());
    let stale = killed.socket.clone();
    let mut again = Command::new(env!("CARGO_BIN_EXE_sash")).args(["serve", "--socket"]).arg(&stale).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(&stale).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn a_peer_of_another_uid_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Only root can be another uid; without it the refusal is the unit test's.
        return check_refusal_without_root();
    }
    let server = Server::start(&["--mode", "666"]);
    let dir = server.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let answer = answer_as_uid(&server.socket, 65534);
    assert!(answer.contains("\"permission_denied\""), "{answer}");
    let allowed = Server::start(&["--mode", "666", "--allow-uid", "65534"]);
    std::fs::set_permissions(allowed.socket.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let answer = answer_as_uid(&allowed.socket, 65534);
    assert!(answer.contains("\"protocol\": 1") || answer.contains("\"protocol\":1"), "{answer}");
}

fn check_refusal_without_root() {
    let server = Server::start(&[]);
    server.connect().request(json!({"op": "hello"}), None).unwrap();
}

/// Connects as `uid` (a Python child process: only root can change uid)
/// and returns the frame the server answered a hello with.
fn answer_as_uid(socket: &Path, uid: u32) -> String {
    use std::os::unix::process::CommandExt;
    let script = r#"
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
body = json.dumps({"op": "hello"}).encode()
try:
    s.sendall(b"SASH" + struct.pack("<I", len(body)) + body)
except BrokenPipeError:  # refused: the server answered and closed before the request
    pass
f = s.makefile("rb")
head = f.read(8)
print(f.read(struct.unpack("<I", head[4:])[0]).decode())
"#;
    let out = Command::new("python3").args(["-c", script]).arg(socket).uid(uid).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_removes_the_socket() {
    let mut server = Server::start(&[]);
    let mut busy = server.connect();
    let mut idle = server.connect();
    idle.request(json!({"op": "hello"}), None).unwrap();
    let input = [rows(5000, 21), rows(5000, 22)];
    let whole = ipc(&input, &input[0].schema());
    let half = whole.len() / 2;
    busy.send(&frame(&json!({"op": "window_agg", "spec": spec(WINDOW)})));
    busy.send(&whole[..half]);
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!server.socket.exists(), "the socket file is still there after SIGTERM");
    assert!(idle.closed(), "an idle connection stays open after SIGTERM");
    busy.send(&whole[half..]);
    let (out, _) = busy.answer().unwrap();
    assert_eq!(out, vec![in_process_window(&input)]);
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_client_that_disconnects_cancels_its_work() {
    let server = Server::start(&[]);
    // A rolling quantile over rows of one key, grown until the call takes long enough.
    let heavy =
        json!({"op": "rolling", "spec": {"time": "ts", "period": "100s", "aggs": ["quantile(v, 0.5) as q", "quantile(v, 0.9) as q9"]}});
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).unwrap();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let mut n = 1_000_000usize;
    let (batch, full) = loop {
        let ts: Vec<i64> = (0..n as i64).collect();
        let v: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64).collect();
        let batch = RecordBatch::try_from_iter([
            ("ts", Arc::new(TimestampMillisecondArray::from(ts)) as ArrayRef),
            ("v", Arc::new(Float64Array::from(v)) as ArrayRef),
        ])
        .unwrap();
        let mut client = server.connect();
        let start = Instant::now();
        client.request(heavy.clone(), Some(std::slice::from_ref(&batch))).unwrap();
        let full = start.elapsed();
        if full > Duration::from_millis(800) || n >= 64_000_000 {
            break (batch, full);
        }
        n *= 2;
    };
    assert!(full > Duration::from_millis(500), "the call is too short ({full:?}) to see it cancelled");

    let mut client = server.connect();
    client.send(&[frame(&heavy), ipc(std::slice::from_ref(&batch), &batch.schema())].concat());
    std::thread::sleep(full / 5);
    drop(client);
    // Work stops: within a fraction of the full call, the server uses no CPU.
    std::thread::sleep(full / 5);
    let before = cpu();
    std::thread::sleep(full);
    let spent = cpu() - before;
    let ticks = full.as_millis() as u64 / 10;
    assert!(spent < ticks / 3, "the server spent {spent} ticks after its client left (the whole call: {ticks})");
    server.connect().request(json!({"op": "hello"}), None).unwrap();
}
