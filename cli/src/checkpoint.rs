//! `follow`'s checkpoints: the window state, the input position and the
//! commit sequence, kept together so that a restart resumes exactly where
//! the last commit left off.
//!
//! A commit writes its output parts (`part-S.ext`, `late-S.ext`,
//! `errors-S.jsonl`, each under a temporary name, synced, renamed), then the
//! state (`state-S.snap`), then `checkpoint.json` naming S, the state's
//! length and CRC-32, and the position: the rename of `checkpoint.json` is
//! the commit. A restart deletes every part of a sequence past the
//! checkpoint's (a commit that did not finish), so each part is written
//! exactly once.

use crate::error::{CliError, CliResult};
use crate::tail::{FileId, Position};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

const CHECKPOINT: &str = "checkpoint.json";
/// The checkpoint layout's version.
const FORMAT: u64 = 1;

/// What a checkpoint holds.
#[derive(Debug)]
pub struct Saved {
    pub seq: u64,
    pub finished: bool,
    pub position: Option<Position>,
    pub state: Vec<u8>,
    /// Counters carried across restarts, for the summary.
    pub failed: u64,
}

/// The identity of a run: a checkpoint resumes only the run that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub window: Value,
    pub parse: Value,
    pub file: String,
}

impl RunSpec {
    fn to_json(&self) -> Value {
        json!({"window": self.window, "parse": self.parse, "file": self.file})
    }
}

pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> CliResult<()> {
    let what = format!("writing {}", dir.join(name).display());
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| CliError::io_while(&what, &e))?;
    file.write_all(bytes).map_err(|e| CliError::io_while(&what, &e))?;
    file.as_file().sync_all().map_err(|e| CliError::io_while(&what, &e))?;
    file.persist(dir.join(name)).map_err(|e| CliError::io_while(&what, &e.error))?;
    Ok(())
}

/// Makes the renames of a commit durable (the directory's entries).
pub fn sync_dir(dir: &Path) -> CliResult<()> {
    let d = std::fs::File::open(dir).map_err(|e| CliError::io_while(&format!("syncing {}", dir.display()), &e))?;
    d.sync_all().map_err(|e| CliError::io_while(&format!("syncing {}", dir.display()), &e))
}

/// Reads the checkpoint of `dir`, if there is one, for `run`.
pub fn load(dir: &Path, run: &RunSpec) -> CliResult<Option<Saved>> {
    let path = dir.join(CHECKPOINT);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::io_while(&format!("reading {}", path.display()), &e)),
    };
    let bad =
        |why: &str| CliError::io(format!("the checkpoint {} is damaged ({why}); move the directory away to start over", path.display()));
    let value: Value = serde_json::from_slice(&text).map_err(|_| bad("not JSON"))?;
    if value.get("format").and_then(Value::as_u64) != Some(FORMAT) {
        return Err(bad("an unknown format version"));
    }
    let saved_run = value.get("run").ok_or_else(|| bad("no run"))?;
    if saved_run != &run.to_json() {
        let differs = ["file", "window", "parse"].into_iter().find(|k| saved_run.get(*k) != run.to_json().get(*k)).unwrap_or("run");
        return Err(CliError::usage(format!(
            "the checkpoint in {} was made by another run (its {differs} differs: {}); give another --checkpoint directory, or move this one away to start over",
            dir.display(),
            saved_run.get(differs).map(Value::to_string).unwrap_or_default()
        )));
    }
    let seq = value.get("seq").and_then(Value::as_u64).ok_or_else(|| bad("no sequence number"))?;
    let finished = value.get("finished").and_then(Value::as_bool).unwrap_or(false);
    let failed = value.get("failed").and_then(Value::as_u64).unwrap_or(0);
    let position = match value.get("position") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let field = |k: &str| p.get(k).and_then(Value::as_u64).ok_or_else(|| bad("a position without its fields"));
            Some(Position {
                file: FileId { dev: field("dev")?, ino: field("ino")? },
                offset: field("offset")?,
                lines: field("lines")?,
                skipping: p.get("skipping").and_then(Value::as_bool).unwrap_or(false),
            })
        }
    };
    let state_name = value.get("state").and_then(Value::as_str).ok_or_else(|| bad("no state file"))?;
    let state =
        std::fs::read(dir.join(state_name)).map_err(|e| CliError::io_while(&format!("reading {}", dir.join(state_name).display()), &e))?;
    if Some(state.len() as u64) != value.get("state_bytes").and_then(Value::as_u64)
        || Some(u64::from(crc32fast::hash(&state))) != value.get("state_crc32").and_then(Value::as_u64)
    {
        return Err(bad(&format!("{state_name} is not the state it names")));
    }
    Ok(Some(Saved { seq, finished, position, state, failed }))
}

/// Records commit `seq`: the state, then the checkpoint naming it; then
/// removes the state files of earlier commits.
pub fn commit(dir: &Path, run: &RunSpec, seq: u64, finished: bool, position: Option<Position>, state: &[u8], failed: u64) -> CliResult<()> {
    let state_name = format!("state-{seq:010}.snap");
    write_atomically(dir, &state_name, state)?;
    let position =
        position.map(|p| json!({"dev": p.file.dev, "ino": p.file.ino, "offset": p.offset, "lines": p.lines, "skipping": p.skipping}));
    let checkpoint = json!({
        "format": FORMAT,
        "run": run.to_json(),
        "seq": seq,
        "finished": finished,
        "failed": failed,
        "position": position,
        "state": state_name,
        "state_bytes": state.len(),
        "state_crc32": crc32fast::hash(state),
    });
    write_atomically(dir, CHECKPOINT, serde_json::to_string_pretty(&checkpoint).expect("JSON of JSON values").as_bytes())?;
    sync_dir(dir)?;
    for old in files_with_seq(dir, "state-")? {
        if old.0 < seq {
            let _ = std::fs::remove_file(&old.1);
        }
    }
    Ok(())
}

/// `(seq, path)` of the files in `dir` named `<prefix><seq>.<ext>`.
pub fn files_with_seq(dir: &Path, prefix: &str) -> CliResult<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io_while(&format!("reading {}", dir.display()), &e)),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() == 10 && rest[10..].starts_with('.') {
            if let Ok(seq) = digits.parse() {
                found.push((seq, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}
