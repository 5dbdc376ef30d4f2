//! The kernel alone, as `sash parse` runs it: the log already in memory,
//! parsed by `parse_bytes` with the command's allocator and thread pool.
//! bench/cli.py compares the command against it.
//!
//! `cargo bench -p sash-cli --bench parse_in_memory -- FILE [FORMAT]`
//! prints one JSON line per string type: the best of three.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(path) = args.first() else {
        eprintln!("usage: parse_in_memory FILE [FORMAT]");
        std::process::exit(2);
    };
    let format = args.get(1).map_or("combined", String::as_str);
    let text = std::fs::read(path).expect("the log file");
    let bytes = text.len();
    let buffer = arrow_buffer::Buffer::from_vec(text);
    for strings in ["view", "utf8"] {
        let spec = sash_core::ParseSpec::from_json(&format!(r#"{{"format": "{format}", "strings": "{strings}"}}"#)).expect("a parse spec");
        let mut best = f64::INFINITY;
        let mut rows = 0;
        for _ in 0..3 {
            let start = std::time::Instant::now();
            let out = sash_core::parse_bytes(&buffer, &spec).expect("the parse");
            best = best.min(start.elapsed().as_secs_f64());
            rows = out.batch.num_rows();
            drop(out);
        }
        println!(
            "{{\"strings\": \"{strings}\", \"threads\": {}, \"rows\": {rows}, \"bytes\": {bytes}, \"seconds\": {best:.6}, \"mb_per_s\": {:.1}}}",
            sash_core::threads(),
            bytes as f64 / 1e6 / best
        );
    }
}
