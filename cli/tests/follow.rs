//! `sash follow` on files that grow, rotate and get truncated while it
//! runs, killed and restarted: what it commits equals `sash window` over
//! all the lines, each window once.

mod common;

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;
use common::read_ipc;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WINDOW: &[&str] =
    &["--every", "1m", "--by", "status", "--agg", "count() as n", "--agg", "sum(size) as bytes", "--agg", "max(path) as last_path"];

/// Combined-log lines, one second apart from 10:00:00, statuses and sizes varying.
fn lines(from: usize, count: usize) -> Vec<String> {
    (from..from + count)
        .map(|i| {
            let (h, m, s) = (10 + i / 3600, (i / 60) % 60, i % 60);
            let status = [200, 200, 304, 404, 500][i % 5];
            format!(
                "10.0.{}.{} - - [17/May/2015:{h:02}:{m:02}:{s:02} +0000] \"GET /p/{i} HTTP/1.1\" {status} {} \"-\" \"t\"\n",
                i % 3,
                i % 7,
                i * 13 % 1000
            )
        })
        .collect()
}

fn sash() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sash"))
}

fn follow(dir: &Path, extra: &[&str]) -> Child {
    follow_with(dir, &[&["-f", "combined"], WINDOW].concat(), extra)
}

/// `sash follow app.log` with the log and window options `spec`, checkpointed, parts in `out`.
fn follow_with(dir: &Path, spec: &[&str], extra: &[&str]) -> Child {
    sash()
        .args(["follow", "app.log"])
        .args(spec)
        .args(["--checkpoint", "cp", "-o", "out", "--output-format", "arrow", "--poll-interval", "10ms", "--commit-interval", "30ms"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every committed part of `out`, in commit order, as one batch.
/// The committed parts in `out`, in commit order (not the `.part-….partial` files being written).
fn part_files(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else { return Vec::new() };
    let mut parts: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("part-")).collect();
    parts.sort();
    parts
}

fn committed(out: &Path) -> RecordBatch {
    let batches: Vec<RecordBatch> = part_files(out).iter().map(|p| read_ipc(p)).collect();
    assert!(!batches.is_empty(), "no parts in {}", out.display());
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// `sash window` over `text`: what following it must give.
fn windowed(dir: &Path, text: &str) -> RecordBatch {
    std::fs::write(dir.join("all.log"), text).unwrap();
    let out = sash()
        .args(["window", "all.log", "-f", "combined", "--lateness", "0s"])
        .args(WINDOW)
        .args(["-o", "all.arrow"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    read_ipc(&dir.join("all.arrow"))
}

fn wait_for(child: &mut Child) -> (i32, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        assert!(start.elapsed() < Duration::from_secs(120), "follow did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines of the current file the last commit covered.
fn committed_position(dir: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read(dir.join("cp/checkpoint.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let p = v.get("position")?;
    Some((p.get("ino")?.as_u64()?, p.get("offset")?.as_u64()?))
}

/// Waits until the last commit covers everything `path` holds.
fn wait_until_read(dir: &Path, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let start = Instant::now();
    loop {
        let meta = std::fs::metadata(path).unwrap();
        if committed_position(dir) == Some((meta.ino(), meta.len())) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "follow did not catch up with {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(lines.concat().as_bytes()).unwrap();
}

#[test]
fn rotation_by_rename_and_by_copy_truncate_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("app.log");
    // The file does not exist yet when follow starts.
    let mut child = follow(d, &["--stop-after-idle", "2s"]);
    std::thread::sleep(Duration::from_millis(100));
    let mut all = String::new();
    for burst in 0..12 {
        let burst_lines = lines(burst * 300, 300);
        all += &burst_lines.concat();
        // Half a burst, then the rest: a line may be cut between writes.
        let text = burst_lines.concat();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        f.write_all(&text.as_bytes()[..text.len() / 2 + 17]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(15));
        f.write_all(&text.as_bytes()[text.len() / 2 + 17..]).unwrap();
        drop(f);
        match burst % 3 {
            // Rename: the old file is read to its end wherever it is.
            0 => std::fs::rename(&log, d.join(format!("app.log.{burst}"))).unwrap(),
            // Copy-truncate: lines written before the copy are read before the truncation
            // (what is written between a copy and its truncation no follower can see).
            1 => {
                wait_until_read(d, &log);
                std::fs::copy(&log, d.join(format!("app.log.{burst}"))).unwrap();
                std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
            }
            _ => {}
        }
    }
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    let (got, want) = (committed(&d.join("out")), windowed(d, &all));
    if got != want {
        let show = |b: &RecordBatch| arrow_cast::pretty::pretty_format_batches(std::slice::from_ref(b)).unwrap().to_string();
        panic!(
            "{err}\ngot {} rows, want {}\n{}\n{}",
            got.num_rows(),
            want.num_rows(),
            show(&got.slice(0, got.num_rows().min(12))),
            show(&want.slice(0, want.num_rows().min(12)))
        );
    }
}

/// A small deterministic generator (the test must not depend on a seed it cannot show).
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_at_twenty_random_moments_it_commits_each_window_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let all = lines(0, 6000);
    let text = all.concat();
    // The log grows while follow runs, killed and restarted.
    let writer = {
        let log = d.join("app.log");
        let all = all.clone();
        std::thread::spawn(move || {
            for chunk in all.chunks(100) {
                append(&log, chunk);
                std::thread::sleep(Duration::from_millis(40));
            }
        })
    };
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    for kill in 0..20 {
        let mut child = follow(&d, &[]);
        std::thread::sleep(Duration::from_millis(40 + random.below(200)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Sometimes twice in a row before it could commit anything.
        if kill % 7 == 3 {
            let mut child = follow(&d, &[]);
            std::thread::sleep(Duration::from_millis(random.below(15)));
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
    writer.join().unwrap();
    let mut child = follow(&d, &["--stop-after-idle", "1s"]);
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    let got = committed(&d.join("out"));
    assert_eq!(got, windowed(&d, &text));
    // A restart of the finished run does nothing.
    let mut child = follow(&d, &["--stop-after-idle", "1s"]);
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("finished"), "{err}");
    assert_eq!(committed(&d.join("out")), got);
}

#[test]
fn sigterm_commits_and_a_restart_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = lines(0, 3000);
    append(&d.join("app.log"), &first);
    let mut child = follow(d, &[]);
    wait_until_read(d, &d.join("app.log"));
    // SAFETY: kill(2) on the child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    let second = lines(3000, 1000);
    append(&d.join("app.log"), &second);
    let mut child = follow(d, &["--stop-after-idle", "500ms"]);
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    assert_eq!(committed(&d.join("out")), windowed(d, &(first.concat() + &second.concat())));
}

#[test]
fn idle_timeout_writes_the_last_window_by_the_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The last line is at 10:00:59: the window [10:00, 10:01) waits for a later line forever,
    // unless event time goes on with the wall clock, a second after the idle timeout began.
    append(&d.join("app.log"), &lines(0, 60));
    let want = windowed(d, &lines(0, 60).concat());
    let mut child = follow(d, &["--idle-timeout", "300ms"]);
    let start = Instant::now();
    loop {
        // Only committed parts: a `.partial` file being written is not one yet.
        if !part_files(&d.join("out")).is_empty() && committed(&d.join("out")).num_rows() == want.num_rows() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the last window was not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(committed(&d.join("out")), want);
}

#[test]
fn a_checkpoint_of_another_run_or_a_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    append(&d.join("app.log"), &lines(0, 200));
    let mut child = follow(d, &["--stop-after-idle", "200ms"]);
    assert_eq!(wait_for(&mut child).0, 0);
    let out = sash()
        .args(["follow", "app.log", "-f", "combined", "--every", "5m", "--agg", "count() as n", "--checkpoint", "cp", "-o", "out2"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("sash: error: the checkpoint in cp was made by another run (its window differs"), "{err}");
    assert_eq!(err.lines().count(), 1);
    // Parts of an earlier run without their checkpoint.
    let out = sash().args(["follow", "app.log", "-f", "combined"]).args(WINDOW).args(["-o", "out"]).current_dir(d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds the parts of an earlier run"));
    // A damaged state file.
    let state =
        std::fs::read_dir(d.join("cp")).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "snap")).unwrap();
    let mut bytes = std::fs::read(&state).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&state, bytes).unwrap();
    let mut child = follow(d, &["--stop-after-idle", "200ms"]);
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn to_stdout_and_from_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("app.log");
    append(&log, &lines(0, 600));
    // -o -: the windows as JSON lines on stdout, each once, flushed at each commit.
    let out = sash()
        .args(["follow", "app.log", "-f", "combined"])
        .args(WINDOW)
        .args(["-o", "-", "--stop-after-idle", "300ms", "--poll-interval", "10ms"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let want = windowed(d, &lines(0, 600).concat());
    assert_eq!(rows.len(), want.num_rows());
    let total: i64 = rows.iter().map(|r| r["n"].as_i64().unwrap()).sum();
    assert_eq!(total, 600);
    // --from-end: what the file held at the start is not read; what comes after is.
    let child = sash()
        .args(["follow", "app.log", "-f", "combined"])
        .args(WINDOW)
        .args(["-o", "-", "--from-end", "--stop-after-idle", "2500ms", "--poll-interval", "10ms"])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the command to have opened the file at its end, well inside its idle stop.
    std::thread::sleep(Duration::from_millis(800));
    append(&log, &lines(600, 120));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let total: i64 = rows.iter().map(|r| r["n"].as_i64().unwrap()).sum();
    assert_eq!(total, 120, "{rows:?}");
}

/// A log4j-style log where every third record is a Java trace of several
/// lines (a blank line inside it, `Caused by:`, `... N more`).
fn records(from: usize, count: usize) -> Vec<String> {
    (from..from + count)
        .map(|i| {
            let (h, m, s) = (10 + i / 3600, (i / 60) % 60, i % 60);
            let level = ["INFO", "WARN", "ERROR"][i % 3];
            let mut record = format!("2015-05-17 {h:02}:{m:02}:{s:02},{:03} {level} [main] com.example.App: event {i}\n", i % 1000);
            if level == "ERROR" {
                record += &format!("java.lang.IllegalStateException: request {i} failed\n\tat com.example.A.run(A.java:{})\n\n", i % 90);
                record += "Caused by: java.io.IOException: reset\n\tat java.net.Socket.read(Socket.java:10)\n\t... 3 more\n";
            }
            record
        })
        .collect()
}

const RECORDS: &[&str] = &[
    "-f",
    "grok",
    "--pattern",
    r"^%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} \[%{NOTSPACE:thread}\] %{JAVACLASS:logger}: %{GREEDYDATA:message}$",
    "--type",
    "time:timestamp",
    "--record-start",
    "timestamp",
    "--every",
    "1m",
    "--by",
    "level",
    "--agg",
    "count() as n",
    "--agg",
    "max(message) as last",
    "--agg",
    "min(message) as first",
];

/// Multi-line records followed while they are written a few lines at a time
/// (records and traces cut anywhere, pauses longer than the poll interval),
/// with a SIGTERM and a restart in the middle: each record is one row, as
/// `sash window` over the whole file makes it.
#[test]
fn multi_line_records_written_piece_by_piece_are_joined_as_in_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = records(0, 900).concat();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = |extra: &[&str]| follow_with(d, RECORDS, extra);
    let log = d.join("app.log");
    std::fs::write(&log, "").unwrap();
    let mut child = start(&[]);
    let mut at = 0;
    let mut piece = 0;
    while at < lines.len() {
        let n = [1, 2, 3, 5, 7][piece % 5];
        append(&log, &lines[at..(at + n).min(lines.len())].iter().map(|l| l.to_string()).collect::<Vec<_>>());
        at += n;
        piece += 1;
        if piece % 40 == 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
        if at >= lines.len() / 3 && piece % 60 == 1 {
            // Stopped while a record is held: the restart reads it again.
            wait_until_held(d, &log, &mut child);
            // SAFETY: kill(2) on the child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let (status, err) = wait_for(&mut child);
            assert_eq!(status, 0, "{err}");
            child = start(&[]);
            piece += 1;
        }
    }
    wait_until_held(d, &log, &mut child);
    // SAFETY: kill(2) on the child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");
    let mut child = start(&["--stop-after-idle", "500ms", "--record-timeout", "100ms"]);
    let (status, err) = wait_for(&mut child);
    assert_eq!(status, 0, "{err}");

    std::fs::write(d.join("all.log"), &text).unwrap();
    let out =
        sash().args(["window", "all.log"]).args(RECORDS).args(["--lateness", "0s", "-o", "all.arrow"]).current_dir(d).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = read_ipc(&d.join("all.arrow"));
    assert_eq!(whole.num_rows(), 15 * 3, "15 minutes of three levels");
    assert_eq!(committed(&d.join("out")), whole);
}

/// Waits until the last commit stops at the file's last record, which is
/// held (its next line may still come): the committed position is its
/// start, a little before the file's end.
fn wait_until_held(dir: &Path, path: &Path, child: &mut Child) {
    let start = Instant::now();
    let written = std::fs::metadata(path).unwrap().len();
    loop {
        if let Some((_, offset)) = committed_position(dir) {
            if offset > 0 && offset < written && written - offset < 4096 {
                return;
            }
        }
        if child.try_wait().unwrap().is_some() {
            let (status, err) = wait_for(child);
            panic!("follow stopped ({status}): {err}");
        }
        assert!(start.elapsed() < Duration::from_secs(60), "follow did not catch up with {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}
