//! The kernel benchmark that `make bench` runs (through `bench/run.py`, which
//! times DuckDB and Polars on the same data in the same run).
//!
//! `cargo bench -p sash-core --bench kernels -- --data FILE [--case NAME] [--once]`
//! reads an Arrow IPC file (ts: timestamp[ms], key: int32, val: float64), runs
//! each case (best of 5, or once with `--once`) and prints one JSON object
//! per line: case, rows, seconds, rows_per_s, output_rows, output_bytes, and
//! the process RSS before and after loading the data.

use arrow_array::RecordBatch;
use arrow_ipc::reader::FileReader;
use sash_core::{rolling, window_agg, RollingSpec, WindowSpec};
use std::time::Instant;

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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let Some(path) = value_of("--data") else {
        eprintln!("usage: kernels --data FILE.arrow [--case NAME] [--once]  (bench/run.py makes the file)");
        return;
    };
    let only = value_of("--case");
    let once = args.iter().any(|a| a == "--once");
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
        for _ in 0..if once { 1 } else { 5 } {
            let start = Instant::now();
            let outputs: Vec<RecordBatch> = match *op {
                "window" => vec![window_agg(&schema, &batches, &WindowSpec::from_json(spec).unwrap()).unwrap()],
                _ => rolling(&schema, &batches, &RollingSpec::from_json(spec).unwrap()).unwrap(),
            };
            best = best.min(start.elapsed().as_secs_f64());
            output_rows = outputs.iter().map(|b| b.num_rows()).sum::<usize>();
            // Rolling output shares the input columns; count only what is new.
            output_bytes = outputs
                .iter()
                .map(|b| {
                    let skip = if *op == "rolling" { schema.fields().len() } else { 0 };
                    b.columns()[skip..].iter().map(|c| c.get_array_memory_size()).sum::<usize>()
                })
                .sum::<usize>();
        }
        println!(
            "{{\"case\": \"{name}\", \"rows\": {rows}, \"seconds\": {best:.6}, \"rows_per_s\": {:.0}, \"output_rows\": {output_rows}, \"output_bytes\": {output_bytes}, \"baseline_rss_bytes\": {baseline}, \"loaded_rss_bytes\": {loaded}}}",
            rows as f64 / best
        );
    }
}
