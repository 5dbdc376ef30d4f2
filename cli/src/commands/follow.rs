//! `sash follow`: a growing log through the kernel's `WindowStream`, each
//! window written once event time passes it, with exactly-once commits
//! (see `checkpoint`).

use crate::args::{FollowArgs, OutputFormat};
use crate::checkpoint::{self, RunSpec};
use crate::error::{CliError, CliResult, EXIT_OK};
use crate::logs::{error_records, without_error_column, without_failed_rows};
use crate::output::Target;
use crate::progress::Counts;
use crate::signals::stop_requested;
use crate::spec::{complete, parse_spec_json, wall_duration, window_spec};
use crate::tail::{Lines, Position, Tail};
use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use sash_core::{ChunkSource, Parser, SashError, WindowStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where results go.
#[derive(Debug)]
enum Sink {
    /// Part files, committed with the checkpoint.
    Dir(PathBuf),
    /// Standard output, flushed at each commit.
    Stdout { wrote_header: bool },
}

fn extension(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Parquet => "parquet",
        OutputFormat::Arrow => "arrow",
        OutputFormat::Arrows => "arrows",
        OutputFormat::Csv => "csv",
        OutputFormat::Jsonl | OutputFormat::Table => "jsonl",
    }
}

/// What waits for the next commit.
#[derive(Debug, Default)]
struct Pending {
    results: Vec<RecordBatch>,
    late: Vec<RecordBatch>,
    errors: Vec<RecordBatch>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.results.is_empty() && self.late.is_empty() && self.errors.is_empty()
    }
}

/// With multi-line records: the lines of the last record read, which may go
/// on in lines not written yet. The committed position stays at its start,
/// so a restart reads it again.
#[derive(Debug)]
struct Held {
    lines: Lines,
    /// When its last line came.
    since: Instant,
}

struct Follower {
    stream: WindowStream,
    held: Option<Held>,
    sink: Sink,
    format: OutputFormat,
    checkpoint: Option<PathBuf>,
    run: RunSpec,
    seq: u64,
    /// The position after the last lines pushed: what a commit records.
    position: Option<Position>,
    committed_position: Option<Position>,
    pending: Pending,
    last_commit: Instant,
    counts: Counts,
}

impl Follower {
    fn write_batches(&mut self, prefix: &str, batches: &[RecordBatch], format: OutputFormat) -> CliResult<()> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(());
        }
        let target = match &mut self.sink {
            Sink::Dir(dir) => {
                let path = dir.join(format!("{prefix}-{:010}.{}", self.seq + 1, extension(format)));
                Target { path: Some(path), format, limit: 0, csv_header: true, durable: true }
            }
            // Late rows and failed lines are counted only: stdout holds the windows.
            Sink::Stdout { .. } if prefix != "part" => return Ok(()),
            Sink::Stdout { wrote_header } => {
                let target = Target { path: None, format, limit: 0, csv_header: !*wrote_header, durable: false };
                *wrote_header = true;
                target
            }
        };
        let mut out = target.open(&batches[0].schema())?;
        for b in batches {
            out.write(b)?;
        }
        out.commit()
    }

    /// Writes what is pending and records the state and position with it.
    fn commit(&mut self, finished: bool) -> CliResult<()> {
        let pending = std::mem::take(&mut self.pending);
        let results_rows: u64 = pending.results.iter().map(|b| b.num_rows() as u64).sum();
        self.write_batches("part", &pending.results, self.format)?;
        self.write_batches("late", &pending.late, self.format)?;
        self.write_batches("errors", &pending.errors, OutputFormat::Jsonl)?;
        if let Sink::Dir(dir) = &self.sink {
            checkpoint::sync_dir(dir)?;
        }
        if let Some(dir) = &self.checkpoint {
            checkpoint::commit(dir, &self.run, self.seq + 1, finished, self.position, &self.stream.snapshot()?, self.counts.failed)?;
        }
        self.seq += 1;
        self.counts.rows_out += results_rows;
        self.committed_position = self.position;
        self.last_commit = Instant::now();
        Ok(())
    }

    fn has_uncommitted(&self) -> bool {
        !self.pending.is_empty() || self.position != self.committed_position
    }

    fn push(&mut self, batch: &RecordBatch) -> CliResult<()> {
        let results = self.stream.push(batch)?;
        let late = self.stream.take_late()?;
        self.counts.late += late.num_rows() as u64;
        if results.num_rows() > 0 {
            self.pending.results.push(results);
        }
        if late.num_rows() > 0 {
            self.pending.late.push(late);
        }
        Ok(())
    }

    /// Parses `lines` and pushes their rows: the number of rows, or `None`
    /// when a stop request interrupted it (nothing of them was pushed).
    fn parse_and_push(&mut self, parser: &mut Parser, lines: Lines, name: &str) -> CliResult<Option<usize>> {
        let text = Buffer::from_vec(lines.text);
        let output = match parser.parse_bytes(&text) {
            Err(SashError::Cancelled) => return Ok(None),
            other => other?,
        };
        self.counts.lines += output.batch.num_rows() as u64;
        self.counts.failed += output.failed as u64;
        if output.failed > 0 {
            let messages = output.batch.column(output.batch.num_columns() - 1).as_string::<i32>();
            for m in messages.iter().flatten() {
                self.counts.add_reason(m);
            }
            let source = ChunkSource::new(text.clone(), lines.lines_before + 1, lines.offset);
            self.pending.errors.push(error_records(name, &source, messages)?);
        }
        let rows = without_failed_rows(output.batch, output.failed)?;
        match self.push(&rows) {
            Err(CliError::Interrupted) => return Ok(None),
            other => other?,
        }
        // Past these lines, unless a record is held: then at its start.
        self.position = Some(match &self.held {
            Some(held) => held.lines.start(),
            None => lines.after,
        });
        Ok(Some(rows.num_rows()))
    }

    fn emitted(&mut self, results: RecordBatch) {
        if results.num_rows() > 0 {
            self.pending.results.push(results);
        }
    }
}

pub fn run(args: FollowArgs, quiet: bool) -> CliResult<i32> {
    let (parse_json, parse) = parse_spec_json(&args.log)?;
    let mut parser = Parser::new(&parse)?;
    let schema = without_error_column(&parser.schema());
    let lateness = args.lateness.clone().unwrap_or_else(|| "0s".into());
    let spec = complete(window_spec(&args.agg, &args.grid)?, &schema, Some(&lateness))?;
    let commit_interval = wall_duration("--commit-interval", &args.commit_interval)?;
    let poll_interval = wall_duration("--poll-interval", &args.poll_interval)?.max(Duration::from_millis(1));
    let record_timeout = wall_duration("--record-timeout", &args.record_timeout)?;
    let idle_timeout = args.idle_timeout.as_deref().map(|d| wall_duration("--idle-timeout", d)).transpose()?;
    let stop_after_idle = args.stop_after_idle.as_deref().map(|d| wall_duration("--stop-after-idle", d)).transpose()?;

    let to_stdout = args.output.as_os_str() == "-";
    let format = args.output_format.unwrap_or(if to_stdout { OutputFormat::Jsonl } else { OutputFormat::Parquet });
    if format == OutputFormat::Table {
        return Err(CliError::usage("follow writes parquet, arrow, arrows, csv or jsonl (--output-format)"));
    }
    if to_stdout && matches!(format, OutputFormat::Parquet | OutputFormat::Arrow) {
        return Err(CliError::usage("on stdout, follow writes jsonl, csv or arrows (a file format needs -o DIR)"));
    }
    let sink = if to_stdout {
        Sink::Stdout { wrote_header: false }
    } else {
        make_dir(&args.output, "-o")?;
        Sink::Dir(args.output.clone())
    };
    if let Some(dir) = &args.checkpoint {
        make_dir(dir, "--checkpoint")?;
    }
    let file = std::path::absolute(&args.file).map_err(|e| CliError::io_while(&format!("cannot follow '{}'", args.file.display()), &e))?;
    let run = RunSpec { window: spec.clone(), parse: parse_json, file: file.display().to_string() };
    let saved = match &args.checkpoint {
        Some(dir) => checkpoint::load(dir, &run)?,
        None => None,
    };
    let committed_seq = saved.as_ref().map_or(0, |s| s.seq);
    if let Sink::Dir(dir) = &sink {
        // Parts past the last commit are of a commit that did not finish: written again below.
        for prefix in ["part-", "late-", "errors-"] {
            for (seq, path) in checkpoint::files_with_seq(dir, prefix)? {
                if saved.is_none() {
                    return Err(CliError::usage(format!(
                        "{} holds the parts of an earlier run; give its --checkpoint to resume it, or an empty directory",
                        dir.display()
                    )));
                }
                if seq > committed_seq {
                    std::fs::remove_file(&path).map_err(|e| CliError::io_while(&format!("removing {}", path.display()), &e))?;
                }
            }
        }
    }
    if saved.as_ref().is_some_and(|s| s.finished) {
        if !quiet {
            eprintln!(
                "sash follow: the run checkpointed in {} has finished; nothing to do",
                args.checkpoint.as_ref().expect("loaded from it").display()
            );
        }
        return Ok(EXIT_OK);
    }
    let max_line = parse.max_line_bytes;
    let resumed = saved.is_some();
    let (stream, mut tail, position, failed) = match saved {
        Some(saved) => {
            let stream = WindowStream::restore(&saved.state)?;
            let tail = match saved.position {
                Some(at) => Tail::resume(&file, max_line, at),
                None => Tail::new(&file, max_line, false),
            }
            .map_err(|e| CliError::io_while(&format!("cannot follow '{}'", file.display()), &e))?;
            (stream, tail, saved.position, saved.failed)
        }
        None => {
            let stream = WindowStream::from_json(&spec.to_string())?;
            let tail = Tail::new(&file, max_line, args.from_end)
                .map_err(|e| CliError::io_while(&format!("cannot follow '{}'", file.display()), &e))?;
            let position = tail.position();
            (stream, tail, position, 0)
        }
    };
    if let (Some(dir), false) = (&args.checkpoint, resumed) {
        // A fresh run records its start before writing any part: a part found
        // later without a commit naming it is then always an unfinished commit.
        checkpoint::commit(dir, &run, 0, false, position, &stream.snapshot()?, 0)?;
    }
    let mut follower = Follower {
        stream,
        held: None,
        sink,
        format,
        checkpoint: args.checkpoint.clone(),
        run,
        seq: committed_seq,
        position,
        committed_position: position,
        pending: Pending::default(),
        last_commit: Instant::now(),
        counts: Counts { failed, files: 1, ..Counts::default() },
    };
    let chunk_bytes = args.log.chunk_bytes.unwrap_or(sash_core::parse::DEFAULT_CHUNK_BYTES);
    let name = args.file.display().to_string();
    let mut last_arrival = Instant::now();
    let mut watermark_at_arrival = follower.stream.watermark();
    let mut finished = false;
    loop {
        if stop_requested() {
            break;
        }
        let lines = tail.poll(chunk_bytes).map_err(|e| CliError::io_while(&format!("reading '{}'", file.display()), &e))?;
        match lines {
            Some(lines) => {
                // What was held goes on in these lines if they follow it in the same file.
                let lines = match follower.held.take() {
                    Some(held) if held.lines.after.file == lines.after.file && held.lines.after.offset == lines.offset => {
                        let mut text = held.lines.text;
                        text.extend_from_slice(&lines.text);
                        Lines { text, after: lines.after, ..held.lines }
                    }
                    Some(held) => {
                        // Another file (a rotation): the record held is over.
                        if follower.parse_and_push(&mut parser, held.lines, &name)?.is_none() {
                            break;
                        }
                        lines
                    }
                    None => lines,
                };
                let complete = parser.complete_records(&lines.text);
                let (now, held) = lines.split(complete.bytes, complete.lines);
                // The committed position moves only when rows are pushed (in
                // parse_and_push): lines held from the start of the text are
                // where the position already is.
                if let Some(held) = held {
                    follower.held = Some(Held { lines: held, since: Instant::now() });
                }
                let Some(rows) = (match now {
                    Some(now) => follower.parse_and_push(&mut parser, now, &name)?,
                    None => Some(0),
                }) else {
                    break;
                };
                if rows > 0 {
                    last_arrival = Instant::now();
                    watermark_at_arrival = follower.stream.watermark();
                }
            }
            None => {
                if follower.position.is_none() {
                    follower.position = match &follower.held {
                        Some(held) => Some(held.lines.start()),
                        None => tail.position(),
                    };
                }
                let idle = last_arrival.elapsed();
                let finishing = stop_after_idle.is_some_and(|limit| idle >= limit);
                if let Some(held) = follower.held.take_if(|held| finishing || held.since.elapsed() >= record_timeout) {
                    if follower.parse_and_push(&mut parser, held.lines, &name)?.is_none() {
                        break;
                    }
                    continue;
                }
                if let Some(limit) = stop_after_idle {
                    if idle >= limit {
                        let results = follower.stream.finish()?;
                        follower.emitted(results);
                        finished = true;
                        break;
                    }
                }
                if let (Some(timeout), Some(w)) = (idle_timeout, watermark_at_arrival) {
                    if idle >= timeout {
                        // Event time goes on as the wall clock does while nothing arrives.
                        let to = w.saturating_add(i64::try_from(idle.as_micros()).unwrap_or(i64::MAX));
                        if follower.stream.watermark().is_none_or(|now| now < to) {
                            let results = follower.stream.advance(to)?;
                            follower.emitted(results);
                        }
                    }
                }
                if follower.has_uncommitted() && follower.last_commit.elapsed() >= commit_interval {
                    follower.commit(false)?;
                }
                sleep_unless_stopped(poll_interval);
                continue;
            }
        }
        if follower.has_uncommitted() && follower.last_commit.elapsed() >= commit_interval {
            follower.commit(false)?;
        }
    }
    // SIGINT/SIGTERM or the end: what was pushed is committed, then the command exits.
    follower.commit(finished)?;
    if !quiet {
        let c = &follower.counts;
        eprintln!(
            "sash follow: {} lines, {} rows written in {} commits, {} failed to parse, {} late{}",
            crate::progress::group(c.lines),
            crate::progress::group(c.rows_out),
            follower.seq - committed_seq,
            crate::progress::group(c.failed),
            crate::progress::group(c.late),
            if finished { "; finished" } else { "" }
        );
    }
    Ok(EXIT_OK)
}

fn make_dir(dir: &Path, option: &str) -> CliResult<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::usage(format!("{option} {}: not a directory", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io_while(&format!("creating {}", dir.display()), &e))
}

fn sleep_unless_stopped(total: Duration) {
    let start = Instant::now();
    while start.elapsed() < total && !stop_requested() {
        std::thread::sleep((total - start.elapsed()).min(Duration::from_millis(20)));
    }
}
