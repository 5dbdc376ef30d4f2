//! The kernel benchmark that `make bench` runs (through `bench/run.py`, which
//! times DuckDB and Polars on the same data in the same run).
//!
//! `cargo bench -p sash-core --bench kernels -- --data FILE [--case NAME] [--once]`
//! reads an Arrow IPC file (ts: timestamp[ms], key: int32, val: float64), runs
//! each case (best of 5, of `--repeats N`, or once with `--once`; `SASH_BENCH_TRACE=1`
//! prints each run's time and the page faults so far to stderr) and prints one JSON object
//! per line: case, rows, seconds, rows_per_s, output_rows, output_bytes, and
//! the process RSS before and after loading the data.
//!
//! Each window case also runs as a stream (`stream_<case>_<rows>`): the same
//! rows pushed into a `WindowStream` of the same spec in pushes of 8,192 and
//! of 1,000 rows, then `finish()`; its output rows must equal the case's.
//!
//! After the cases it prints `rolling_floor` (unless `--case` names another
//! case): not a kernel call but the least any implementation of the rolling
//! case's semantics costs here (see [`rolling_floor`]); `bench/run.py`
//! reports the ratio to Polars that this floor would allow.
//!
//! `--threads N` runs the kernels on N threads (default 1; 0 is every core);
//! each line then carries `threads`.
//!
//! `... --parse [--lines N] [--write-data DIR] [--case NAME] [--once]` times
//! the parsing kernel instead: it generates N (default 1M) synthetic lines per
//! format deterministically (combined ≈ 170 MB), parses them from one buffer
//! (best of 3) and prints case, rows, bytes, seconds, rows_per_s, mb_per_s.
//! With `--write-data DIR` it also writes the lines to `DIR/parse_<case>.log`
//! so `bench/peers.py` times Polars and DuckDB on exactly the same bytes.

use arrow_array::RecordBatch;
use arrow_ipc::reader::FileReader;
use sash_core::{rolling, window_agg, FloatSum, RollingSpec, RollingStream, WindowSpec, WindowStream};
use std::time::Instant;

mod exact_sum;

/// Resets the kernel's record of this process's peak RSS (VmHWM), so that the
/// peak measured afterwards belongs to the kernel, not to loading the data.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

const CASES: &[(&str, &str, &str)] = &[
    (
        "tumbling",
        "window",
        r#"{"time": "ts", "every": "1m", "by": "key", "aggs": ["count()", "sum(val)", "mean(val)", "min(val)", "max(val)"]}"#,
    ),
    ("hopping", "window", r#"{"time": "ts", "every": "1m", "period": "5m", "by": "key", "aggs": ["count()", "mean(val)"]}"#),
    ("rolling", "rolling", r#"{"time": "ts", "period": "5m", "by": "key", "aggs": ["mean(val)"]}"#),
    ("session", "window", r#"{"time": "ts", "session_gap": "30s", "by": "key", "aggs": ["count()", "sum(val)", "mean(val)"]}"#),
];

/// A small deterministic generator (64-bit LCG): the same lines on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "curl/8.4.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const PATHS: &[&str] = &["/index.html", "/images/logo.png", "/api/v1/items", "/blog/2015/05/logstash-monitorama", "/favicon.ico"];
const REFERRERS: &[&str] =
    &["-", "https://www.example.com/", "https://www.google.com/search?q=sash+arrow", "http://semicomplete.com/presentations/"];

/// Line `i` of the synthetic log of `case`; time advances one second every 8 lines.
fn synthetic_line(case: &str, i: u64, rng: &mut Lcg, out: &mut String) {
    use std::fmt::Write;
    let second = 1_431_856_800 + i / 8; // 2015-05-17 10:00:00 UTC
    let (day, rem) = (17 + second.saturating_sub(1_431_820_800) / 86_400, second % 86_400);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    match case {
        // nginx's combined plus the two timing fields users add most.
        "parse_combined" | "parse_nginx" | "parse_grok" => {
            let _ = write!(
                out,
                r#"{}.{}.{}.{} - - [{:02}/May/2015:{h:02}:{m:02}:{s:02} +0000] "{} {}?id={} HTTP/1.1" {} {} "{}" "{}""#,
                rng.next() % 223 + 1,
                rng.next() % 256,
                rng.next() % 256,
                rng.next() % 256,
                day.min(28),
                rng.pick(&["GET", "GET", "GET", "POST", "HEAD"]),
                rng.pick(PATHS),
                rng.next() % 100_000,
                rng.pick(&["200", "200", "200", "304", "404", "500"]),
                rng.next() % 500_000,
                rng.pick(REFERRERS),
                rng.pick(AGENTS),
            );
            if case == "parse_nginx" {
                let (secs, millis, connect) = (rng.next() % 3, rng.next() % 1000, rng.next() % 50);
                let _ = write!(out, r#" rt={secs}.{millis:03} uct="0.{connect:03}""#);
            }
            out.push('\n');
        }
        "parse_syslog" => {
            let _ = writeln!(
                out,
                "{} {:>2} {h:02}:{m:02}:{s:02} {} {}[{}]: {} for user{} from 10.0.{}.{} port {} ssh2",
                MONTHS[4],
                day.min(28),
                rng.pick(&["combo", "LabSZ", "web-01"]),
                rng.pick(&["sshd", "cron", "kernel", "systemd"]),
                rng.next() % 30_000,
                rng.pick(&["Accepted password", "Failed password", "Invalid user", "Connection closed"]),
                rng.next() % 1000,
                rng.next() % 256,
                rng.next() % 256,
                rng.next() % 65_536
            );
        }
        // A log4j-style service log where one record in twenty is a 20-line Java trace.
        "parse_multiline" => {
            let level = if rng.next().is_multiple_of(20) { "ERROR" } else { rng.pick(&["INFO", "INFO", "WARN", "DEBUG"]) };
            let _ = writeln!(
                out,
                "2015-05-{:02} {h:02}:{m:02}:{s:02},{:03} {level} [worker-{}] com.example.{}: {} id={}",
                day.min(28),
                rng.next() % 1000,
                rng.next() % 16,
                rng.pick(&["App", "Cache", "Db", "Http"]),
                rng.pick(&["request served", "cache miss", "upstream timeout", "user logged in"]),
                rng.next() % 100_000
            );
            if level == "ERROR" {
                let _ = writeln!(out, "java.lang.IllegalStateException: request {} failed", rng.next() % 100_000);
                for depth in 0..12 {
                    let _ = writeln!(out, "\tat com.example.layer{depth}.Handler.handle(Handler.java:{})", 10 + rng.next() % 400);
                }
                let _ = writeln!(out, "Caused by: java.io.IOException: connection reset");
                for depth in 0..4 {
                    let _ = writeln!(out, "\tat java.base/java.net.Socket{depth}.read(Socket.java:{})", 10 + rng.next() % 400);
                }
                let _ = writeln!(out, "\t... 12 more");
            }
        }
        // logfmt and JSON lines carry the same fields, drawn in the same order.
        _ => {
            let day = day.min(28);
            let level = rng.pick(&["info", "info", "warn", "error", "debug"]);
            let msg = rng.pick(&["request served", "cache miss", "upstream timeout", "user logged in"]);
            let path = rng.pick(PATHS);
            let status = rng.pick(&["200", "200", "304", "404", "500"]);
            let (secs, millis, user) = (rng.next() % 3, rng.next() % 1000, rng.next() % 10_000);
            let _ = if case == "parse_json" {
                writeln!(
                    out,
                    r#"{{"time":"2015-05-{day:02}T{h:02}:{m:02}:{s:02}Z","level":"{level}","msg":"{msg}","path":"{path}","status":{status},"duration":{secs}.{millis:03},"user":"u{user}"}}"#
                )
            } else {
                writeln!(
                    out,
                    r#"time=2015-05-{day:02}T{h:02}:{m:02}:{s:02}Z level={level} msg="{msg}" path={path} status={status} duration={secs}.{millis:03} user=u{user}"#
                )
            };
        }
    }
}

const PARSE_CASES: &[(&str, &str)] = &[
    ("parse_combined", r#"{"format": "combined"}"#),
    (
        "parse_nginx",
        r#"{"format": "nginx", "log_format": "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" rt=$request_time uct=\"$upstream_connect_time\""}"#,
    ),
    // The combined lines through grok, with the regex the Polars peer runs written as grok.
    (
        "parse_grok",
        r#"{"format": "grok", "pattern": "^%{NOTSPACE:host} %{NOTSPACE:ident} %{NOTSPACE:user} \\[(?<ts>[^\\]]+)\\] \"%{NOTSPACE:method} %{NOTSPACE:path} (?<protocol>[^\"]*)\" (?<status>[0-9]{3}) (?<size>[0-9]+|-) \"(?<referrer>[^\"]*)\" \"(?<user_agent>[^\"]*)\"$", "types": {"status": "int", "size": "int", "ts": {"type": "timestamp", "format": "%d/%b/%Y:%H:%M:%S %z"}}}"#,
    ),
    (
        "parse_multiline",
        r#"{"format": "grok", "pattern": "^%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} \\[%{NOTSPACE:thread}\\] %{JAVACLASS:logger}: %{GREEDYDATA:message}$", "types": {"time": "timestamp"}, "record_start": "timestamp"}"#,
    ),
    ("parse_syslog", r#"{"format": "syslog", "reference_time": "2015-12-31T00:00:00Z"}"#),
    (
        "parse_logfmt",
        r#"{"format": "logfmt", "fields": {"time": "timestamp", "level": "string", "msg": "string", "path": "string", "status": "int", "duration": "float", "user": "string"}}"#,
    ),
    // The same logfmt lines without declared fields: every pair into one Map column.
    ("parse_logfmt_map", r#"{"format": "logfmt"}"#),
    (
        "parse_json",
        r#"{"format": "json", "schema": [{"name": "time", "type": "timestamp[us, UTC]"}, {"name": "level", "type": "utf8"}, {"name": "msg", "type": "utf8"}, {"name": "path", "type": "utf8"}, {"name": "status", "type": "int64"}, {"name": "duration", "type": "float64"}, {"name": "user", "type": "utf8"}]}"#,
    ),
];

fn parse_bench(args: &[String], only: Option<&str>, once: bool) {
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let lines: u64 = value_of("--lines").map_or(1_000_000, |n| n.parse().expect("--lines N"));
    let write_dir = value_of("--write-data");
    for (name, spec) in PARSE_CASES {
        if only.is_some_and(|o| o != *name) {
            continue;
        }
        let mut rng = Lcg(42);
        let mut text = String::with_capacity(lines as usize * 180);
        for i in 0..lines {
            synthetic_line(name, i, &mut rng, &mut text);
        }
        if let Some(dir) = &write_dir {
            std::fs::create_dir_all(dir).expect("data dir");
            // Flushed before the timing starts: the kernel's writeback of
            // these pages would otherwise share the CPUs with the parse.
            let mut file = std::fs::File::create(std::path::Path::new(dir).join(format!("{name}.log"))).expect("create data file");
            std::io::Write::write_all(&mut file, text.as_bytes()).expect("write data");
            file.sync_all().expect("flush data");
        }
        let bytes = text.len();
        let buffer = arrow_buffer::Buffer::from_vec(text.into_bytes());
        let spec = sash_core::ParseSpec::from_json(spec).unwrap();
        let mut best = f64::INFINITY;
        let mut failed = 0;
        for _ in 0..if once { 1 } else { 3 } {
            let start = Instant::now();
            let out = sash_core::parse_bytes(&buffer, &spec).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            failed = out.failed;
            assert_eq!(out.batch.num_rows() as u64, lines);
        }
        println!(
            "{{\"case\": \"{name}\", \"threads\": {}, \"rows\": {lines}, \"bytes\": {bytes}, \"seconds\": {best:.6}, \"rows_per_s\": {:.0}, \"mb_per_s\": {:.1}, \"failed_lines\": {failed}}}",
            sash_core::threads(),
            lines as f64 / best,
            bytes as f64 / 1e6 / best
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // One thread unless `--threads N` says otherwise (0: all the cores), so
    // that the single-threaded comparisons stay single-threaded.
    let threads: usize =
        args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1)).map_or(1, |n| n.parse().expect("--threads N"));
    sash_core::set_threads(threads).expect("thread count");
    if args.iter().any(|a| a == "--parse") {
        let only = args.iter().position(|a| a == "--case").and_then(|i| args.get(i + 1)).cloned();
        parse_bench(&args, only.as_deref(), args.iter().any(|a| a == "--once"));
        return;
    }
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let Some(path) = value_of("--data") else {
        eprintln!("usage: kernels --data FILE.arrow [--case NAME] [--once]  (bench/run.py makes the file)");
        return;
    };
    let only = value_of("--case");
    let once = args.iter().any(|a| a == "--once");
    // More repeats make a profile of the kernel outweigh loading the data.
    let repeats: usize = value_of("--repeats").and_then(|r| r.parse().ok()).unwrap_or(5);
    let baseline = rss_bytes();
    let reader = FileReader::try_new(std::fs::File::open(&path).expect("data file"), None).expect("Arrow IPC file");
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let loaded = rss_bytes();
    for (name, op, spec) in CASES {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut best = f64::INFINITY;
        let (mut output_rows, mut output_bytes) = (0, 0);
        reset_peak_rss();
        for _ in 0..if once { 1 } else { repeats } {
            let start = Instant::now();
            let outputs: Vec<RecordBatch> = match *op {
                "window" => vec![window_agg(&schema, &batches, &WindowSpec::from_json(spec).unwrap()).unwrap()],
                _ => rolling(&schema, &batches, &RollingSpec::from_json(spec).unwrap()).unwrap(),
            };
            if std::env::var_os("SASH_BENCH_TRACE").is_some() {
                // Minor page faults so far: the first calls fault in fresh
                // memory for the output (about 1.3 us per page here) until
                // the allocator keeps freed blocks, so they run slower.
                let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
                let faults = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(7)).unwrap_or("?").to_string();
                eprintln!("{name}: {:.4} s, minor faults so far {faults}", start.elapsed().as_secs_f64());
            }
            best = best.min(start.elapsed().as_secs_f64());
            output_rows = outputs.iter().map(|b| b.num_rows()).sum::<usize>();
            // Rolling output shares the input columns, and its per-batch
            // aggregate columns are slices of one array: count that array once.
            // Logical bytes (what the rows need), not buffer capacities.
            let bytes = |c: &arrow_array::ArrayRef| c.to_data().get_slice_memory_size().unwrap_or(0);
            output_bytes = if *op == "rolling" {
                outputs.iter().map(|b| b.columns()[schema.fields().len()..].iter().map(bytes).sum::<usize>()).sum()
            } else {
                outputs.iter().map(|b| b.columns().iter().map(bytes).sum::<usize>()).sum()
            };
        }
        println!(
            "{{\"case\": \"{name}\", \"threads\": {}, \"rows\": {rows}, \"seconds\": {best:.6}, \"rows_per_s\": {:.0}, \"output_rows\": {output_rows}, \"output_bytes\": {output_bytes}, \"baseline_rss_bytes\": {baseline}, \"loaded_rss_bytes\": {loaded}, \"kernel_peak_rss_bytes\": {}}}",
            sash_core::threads(),
            rows as f64 / best,
            peak_rss_bytes()
        );
    }
    for (name, op, spec) in CASES {
        for push_rows in [8192, 1000] {
            let case = format!("stream_{name}_{push_rows}");
            if only.as_deref().is_some_and(|o| o != case) {
                continue;
            }
            let mut best = f64::INFINITY;
            let mut output_rows = 0;
            for _ in 0..if once { 1 } else { repeats.min(3) } {
                let start = Instant::now();
                output_rows = match *op {
                    "window" => {
                        let mut stream = WindowStream::from_json(spec).unwrap();
                        pushed(&batches, push_rows, |b| stream.push(b).unwrap().num_rows()) + stream.finish().unwrap().num_rows()
                    }
                    _ => {
                        let mut stream = RollingStream::from_json(spec).unwrap();
                        pushed(&batches, push_rows, |b| stream.push(b).unwrap().num_rows()) + stream.finish().unwrap().num_rows()
                    }
                };
                best = best.min(start.elapsed().as_secs_f64());
            }
            let batch_rows = match *op {
                "window" => window_agg(&schema, &batches, &WindowSpec::from_json(spec).unwrap()).unwrap().num_rows(),
                _ => rolling(&schema, &batches, &RollingSpec::from_json(spec).unwrap()).unwrap().iter().map(|b| b.num_rows()).sum(),
            };
            assert_eq!(output_rows, batch_rows, "{case}: the stream emitted another number of windows than window_agg");
            println!(
                "{{\"case\": \"{case}\", \"rows\": {rows}, \"push_rows\": {push_rows}, \"seconds\": {best:.6}, \"rows_per_s\": {:.0}, \"output_rows\": {output_rows}}}",
                rows as f64 / best
            );
            // A floor for the stream: the batch kernel called on each push's
            // rows alone, with no state between calls (its windows are the
            // pushes' pieces, not the stream's): what a call of this size costs.
            let mut floor = f64::INFINITY;
            for _ in 0..if once { 1 } else { repeats.min(3) } {
                let start = Instant::now();
                match *op {
                    "window" => {
                        let spec = WindowSpec::from_json(spec).unwrap();
                        pushed(&batches, push_rows, |b| window_agg(&schema, std::slice::from_ref(b), &spec).unwrap().num_rows());
                    }
                    _ => {
                        let spec = RollingSpec::from_json(spec).unwrap();
                        pushed(&batches, push_rows, |b| rolling(&schema, std::slice::from_ref(b), &spec).unwrap().len());
                    }
                }
                floor = floor.min(start.elapsed().as_secs_f64());
            }
            println!(
                "{{\"case\": \"calls_{name}_{push_rows}\", \"rows\": {rows}, \"push_rows\": {push_rows}, \"seconds\": {floor:.6}, \"rows_per_s\": {:.0}}}",
                rows as f64 / floor
            );
        }
    }
    if only.as_deref().is_none_or(|o| o == "stream_snapshot") {
        stream_snapshot(if once { 1 } else { repeats.min(3) });
    }
    if only.as_deref().is_none_or(|o| o == "stream_rss_100m") {
        stream_rss(100_000_000);
    }
    if !once && only.as_deref().is_none_or(|o| o == "exact_sum_floor") {
        if let Some((windows, plain, exact)) = exact_sum_floor(&batches, repeats) {
            println!(
                "{{\"case\": \"exact_sum_floor\", \"rows\": {rows}, \"windows\": {windows}, \"plain_seconds\": {plain:.6}, \"exact_seconds\": {exact:.6}, \"seconds\": {:.6}}}",
                exact - plain
            );
        }
    }
    if !once && only.as_deref().is_none_or(|o| o == "rolling_floor") {
        if let Some(best) = rolling_floor(&batches, repeats) {
            println!(
                "{{\"case\": \"rolling_floor\", \"rows\": {rows}, \"seconds\": {best:.6}, \"rows_per_s\": {:.0}}}",
                rows as f64 / best
            );
        }
    }
}

/// Pushes `batches` in slices of `push_rows` rows to `push`, which returns
/// how many rows it emitted; returns their sum.
fn pushed(batches: &[RecordBatch], push_rows: usize, mut push: impl FnMut(&RecordBatch) -> usize) -> usize {
    let mut emitted = 0;
    for batch in batches {
        let mut at = 0;
        while at < batch.num_rows() {
            let len = push_rows.min(batch.num_rows() - at);
            emitted += push(&batch.slice(at, len));
            at += len;
        }
    }
    emitted
}

/// `rows` rows like the benchmark data's (a row every 5 to 15 ms, 1,000
/// keys, normal values), made `push_rows` at a time, so that a stream can
/// take more rows than memory holds.
struct Rows {
    rng: Lcg,
    ts: i64,
    left: usize,
    keys: u64,
    schema: arrow_schema::SchemaRef,
}

impl Rows {
    fn new(rows: usize, keys: u64) -> Rows {
        use arrow_schema::{DataType, Field, Schema, TimeUnit};
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
            Field::new("key", DataType::Int32, false),
            Field::new("val", DataType::Float64, false),
        ]));
        Rows { rng: Lcg(42), ts: 1_704_067_200_000, left: rows, keys, schema }
    }

    fn next(&mut self, push_rows: usize) -> Option<RecordBatch> {
        use arrow_array::{Float64Array, Int32Array, TimestampMillisecondArray};
        if self.left == 0 {
            return None;
        }
        let n = push_rows.min(self.left);
        self.left -= n;
        let (mut ts, mut key, mut val) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            self.ts += 5 + (self.rng.next() % 11) as i64;
            ts.push(self.ts);
            key.push((self.rng.next() % self.keys) as i32);
            val.push((self.rng.next() % 2001) as f64 / 1000.0 - 1.0);
        }
        let columns: Vec<arrow_array::ArrayRef> = vec![
            std::sync::Arc::new(TimestampMillisecondArray::from(ts)),
            std::sync::Arc::new(Int32Array::from(key)),
            std::sync::Arc::new(Float64Array::from(val)),
        ];
        Some(RecordBatch::try_new(self.schema.clone(), columns).unwrap())
    }
}

/// Snapshot and restore of a stream holding 1M open (key, window) states
/// (the tumbling case's aggregations, a day's window, 1M keys): bytes per
/// second each way, and the snapshot's size against the state's.
fn stream_snapshot(repeats: usize) {
    let spec = r#"{"time": "ts", "every": "1d", "by": "key", "aggs": ["count()", "sum(val)", "mean(val)", "min(val)", "max(val)"]}"#;
    let mut rows = Rows::new(4_000_000, 1_000_000);
    let mut stream = WindowStream::from_json(spec).unwrap();
    while let Some(batch) = rows.next(65_536) {
        stream.push(&batch).unwrap();
    }
    let stats = stream.stats();
    let (mut snapshot_s, mut restore_s) = (f64::INFINITY, f64::INFINITY);
    let mut bytes = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        bytes = stream.snapshot().unwrap();
        snapshot_s = snapshot_s.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let restored = WindowStream::restore(&bytes).unwrap();
        restore_s = restore_s.min(start.elapsed().as_secs_f64());
        assert_eq!(restored.stats().open_windows, stats.open_windows);
    }
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{{\"case\": \"stream_snapshot\", \"open_states\": {}, \"state_bytes\": {}, \"snapshot_bytes\": {}, \"snapshot_seconds\": {snapshot_s:.6}, \"restore_seconds\": {restore_s:.6}, \"snapshot_mb_per_s\": {:.1}, \"restore_mb_per_s\": {:.1}, \"seconds\": {:.6}}}",
        stats.open_windows,
        stats.state_bytes,
        bytes.len(),
        mb / snapshot_s,
        mb / restore_s,
        snapshot_s + restore_s
    );
}

/// `rows` rows streamed through the tumbling case in pushes of 8,192, made
/// as they are pushed: the peak RSS over the process's before the stream
/// starts (the state and one push, never the input).
fn stream_rss(rows: usize) {
    let spec = CASES.iter().find(|c| c.0 == "tumbling").expect("tumbling case").2;
    let mut source = Rows::new(rows, 1000);
    let mut stream = WindowStream::from_json(spec).unwrap();
    let mut emitted = 0;
    // The generator's first batch and the stream's first push settle the allocator.
    reset_peak_rss();
    let baseline = rss_bytes();
    let start = Instant::now();
    while let Some(batch) = source.next(8192) {
        emitted += stream.push(&batch).unwrap().num_rows();
    }
    emitted += stream.finish().unwrap().num_rows();
    let seconds = start.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();
    println!(
        "{{\"case\": \"stream_rss_100m\", \"rows\": {rows}, \"seconds\": {seconds:.6}, \"rows_per_s\": {:.0}, \"output_rows\": {emitted}, \"baseline_rss_bytes\": {baseline}, \"peak_rss_bytes\": {peak}, \"peak_over_baseline_bytes\": {}}}",
        rows as f64 / seconds,
        peak.saturating_sub(baseline)
    );
}

/// What an exactly rounded float sum would add to the `tumbling` case (see
/// [`exact_sum`]): (windows, seconds of plain double adds, seconds of exact
/// adds) over the case's windows, one per key and minute. None when the
/// data is not the benchmark's.
fn exact_sum_floor(batches: &[RecordBatch], repeats: usize) -> Option<(usize, f64, f64)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
    exact_sum::self_check();
    let (mut minutes, mut keys, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for batch in batches {
        let times = batch.column_by_name("ts")?.as_primitive_opt::<TimestampMillisecondType>()?;
        minutes.extend(times.values().iter().map(|t| t.div_euclid(60_000)));
        let batch_keys = batch.column_by_name("key")?.as_primitive_opt::<Int32Type>()?;
        keys.extend(batch_keys.values().iter().map(|&k| u16::try_from(k).ok().map(u32::from)).collect::<Option<Vec<_>>>()?);
        values.extend_from_slice(batch.column_by_name("val")?.as_primitive_opt::<Float64Type>()?.values());
    }
    let first = *minutes.iter().min()?;
    let groups = keys.iter().max().map_or(0, |&k| k + 1);
    // Windows numbered minute by minute, as the kernel's panes come.
    let slots: Vec<u32> =
        minutes.iter().zip(&keys).map(|(m, k)| u32::try_from(m - first).ok().map(|m| m * groups + k)).collect::<Option<_>>()?;
    Some(exact_sum::measure(&slots, &values, repeats))
}

/// One key's running state in [`rolling_floor`]: its row count and the
/// kernel's own running sum.
#[derive(Clone, Copy, Default)]
struct FloorState {
    rows: i64,
    sum: FloatSum,
}

impl FloorState {
    #[inline(always)]
    fn add(&mut self, x: f64, sign: i64) {
        self.rows += sign;
        self.sum.add(x, sign);
        if self.rows == 0 {
            // As the kernel: an empty window restarts from zero.
            self.sum = FloatSum::default();
        }
    }

    #[inline(always)]
    fn mean(&self) -> f64 {
        self.sum.value() / self.rows as f64
    }
}

/// The least the `rolling` case (5-minute mean of `val` by `key`, closed
/// right) costs on this machine, in seconds (best of `repeats`): one sweep
/// over the rows, already in time order, doing only what the semantics ask
/// of every row: it enters its key's compensated running sum (NaN and
/// infinities counted apart), rows 5 minutes older leave theirs, and its
/// mean and validity bit are written into fresh output. Everything else a
/// kernel does is left out, so the floor is lower than any kernel can be:
/// checking the order, grouping keys of any type (here the int32 keys are
/// the group ids, read before the clock starts), nulls, ties, batches.
/// None when the data is not the benchmark's (keys outside 0..65536).
fn rolling_floor(batches: &[RecordBatch], repeats: usize) -> Option<f64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
    let (mut times, mut keys, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for batch in batches {
        times.extend_from_slice(batch.column_by_name("ts")?.as_primitive_opt::<TimestampMillisecondType>()?.values());
        let batch_keys = batch.column_by_name("key")?.as_primitive_opt::<Int32Type>()?;
        keys.extend(batch_keys.values().iter().map(|&k| u16::try_from(k).ok().map(u32::from)).collect::<Option<Vec<_>>>()?);
        values.extend_from_slice(batch.column_by_name("val")?.as_primitive_opt::<Float64Type>()?.values());
    }
    if !times.is_sorted() {
        return None;
    }
    let groups = keys.iter().max().map_or(0, |&k| k as usize + 1);
    let period = 5 * 60 * 1000;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let start = Instant::now();
        let mut states = vec![FloorState::default(); groups];
        let mut means = vec![0.0f64; times.len()];
        let mut valid = vec![0u8; times.len().div_ceil(8)];
        let mut left = 0;
        for row in 0..times.len() {
            states[keys[row] as usize].add(values[row], 1);
            let bound = times[row] - period;
            while times[left] <= bound {
                states[keys[left] as usize].add(values[left], -1);
                left += 1;
            }
            means[row] = states[keys[row] as usize].mean();
            valid[row / 8] |= 1 << (row % 8);
        }
        std::hint::black_box((&means, &valid));
        best = best.min(start.elapsed().as_secs_f64());
    }
    Some(best)
}
