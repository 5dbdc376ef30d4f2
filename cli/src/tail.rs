//! Following a growing log file as `tail -F` does: complete lines as they
//! are written, across rotation by rename (the old file is read to its end,
//! then the new one from its start) and by copy-truncate (the file shrinks:
//! read again from its start), and a file that does not exist yet.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Which file: its device and inode, which a rename keeps and a new file does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId { dev: meta.dev(), ino: meta.ino() }
    }
}

/// Where reading stands: the file, the offset of the first byte not yet
/// handed out in a complete line, and the number of lines handed out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub file: FileId,
    pub offset: u64,
    pub lines: u64,
    /// Inside a line longer than `max_line_bytes` whose first bytes were
    /// handed out: the rest, up to its end, is read past.
    pub skipping: bool,
}

/// Complete lines of one file.
#[derive(Debug)]
pub struct Lines {
    pub text: Vec<u8>,
    /// Where `text` starts in its file.
    pub offset: u64,
    /// Lines of the file before `text`'s first.
    pub lines_before: u64,
    /// The position after these lines.
    pub after: Position,
}

impl Lines {
    /// Where these lines start.
    pub fn start(&self) -> Position {
        Position { file: self.after.file, offset: self.offset, lines: self.lines_before, skipping: false }
    }

    /// The first `bytes` bytes (`lines` lines) and the rest, each `None` when empty.
    pub fn split(mut self, bytes: usize, lines: u64) -> (Option<Lines>, Option<Lines>) {
        if bytes == self.text.len() {
            return (Some(self), None);
        }
        let rest = Lines {
            text: self.text.split_off(bytes),
            offset: self.offset + bytes as u64,
            lines_before: self.lines_before + lines,
            after: self.after,
        };
        let first = Lines { after: rest.start(), ..self };
        ((bytes > 0).then_some(first), Some(rest))
    }
}

/// What one read of a followed file came to.
enum Step {
    Lines(Lines),
    /// Read something, or moved to another file, but no complete line yet.
    Progress,
    /// Nothing new.
    Idle,
}

/// A followed file.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    file: Option<(File, FileId)>,
    /// The next byte to read.
    read_at: u64,
    /// Bytes read past the last complete line (a line being written).
    carry: Vec<u8>,
    lines: u64,
    /// Bytes of a line longer than `max_line` are read past, not kept.
    max_line: usize,
    skipping: bool,
    /// The giant line read past ended with a CR: an LF right after it is part of its end.
    drop_lf: bool,
    /// The first bytes of the file as they were read: a file truncated and
    /// written again past where reading stood (copy-truncate while lines
    /// keep coming) no longer starts with them.
    head: Vec<u8>,
}

/// How many of a file's first bytes tell it from a rewrite of it.
const HEAD_BYTES: u64 = 256;

impl Tail {
    /// Follows `path` from its start (or, `from_end`, from its end when it exists).
    pub fn new(path: &Path, max_line: usize, from_end: bool) -> std::io::Result<Tail> {
        let mut tail = Tail::unopened(path, max_line);
        if from_end {
            if let Some((file, id)) = tail.open_path()? {
                tail.read_at = file.metadata()?.len();
                tail.file = Some((file, id));
            }
        }
        Ok(tail)
    }

    /// Follows `path` from a position a checkpoint kept: the same file when
    /// `path` still names it, else the file it was renamed to in the same
    /// directory (read to its end first), else, when it is gone, `path` from
    /// its start.
    pub fn resume(path: &Path, max_line: usize, at: Position) -> std::io::Result<Tail> {
        let mut tail = Tail::unopened(path, max_line);
        let found = match tail.open_path()? {
            Some((file, id)) if id == at.file => Some((file, id)),
            _ => find_renamed(path, at.file)?,
        };
        if let Some((file, id)) = found {
            let len = file.metadata()?.len();
            // Shorter than the position: truncated while nobody read it.
            if len >= at.offset {
                tail.read_at = at.offset;
                tail.lines = at.lines;
                tail.skipping = at.skipping;
            }
            tail.file = Some((file, id));
        }
        Ok(tail)
    }

    /// A tail of `path` that has opened nothing yet.
    fn unopened(path: &Path, max_line: usize) -> Tail {
        Tail {
            path: path.to_path_buf(),
            file: None,
            read_at: 0,
            carry: Vec::new(),
            lines: 0,
            max_line,
            skipping: false,
            drop_lf: false,
            head: Vec::new(),
        }
    }

    fn open_path(&self) -> std::io::Result<Option<(File, FileId)>> {
        match File::open(&self.path) {
            Ok(file) => {
                let meta = file.metadata()?;
                if meta.is_dir() {
                    return Err(std::io::Error::other(format!("'{}' is a directory", self.path.display())));
                }
                Ok(Some((file, FileId::of(&meta))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The position of the first line not handed out yet.
    pub fn position(&self) -> Option<Position> {
        self.file.as_ref().map(|(_, id)| Position {
            file: *id,
            offset: self.read_at - self.carry.len() as u64,
            lines: self.lines,
            skipping: self.skipping,
        })
    }

    /// The complete lines written since the last call (at most about
    /// `max_bytes`), or None when there are none now.
    pub fn poll(&mut self, max_bytes: usize) -> std::io::Result<Option<Lines>> {
        loop {
            match self.step(max_bytes)? {
                Step::Lines(lines) => return Ok(Some(lines)),
                // Bytes of a line still being written, a giant line read past, or a
                // rotation: read on (a stop request ends the reading like an idle file).
                Step::Progress if !crate::signals::stop_requested() => continue,
                Step::Progress | Step::Idle => return Ok(None),
            }
        }
    }

    fn step(&mut self, max_bytes: usize) -> std::io::Result<Step> {
        if self.file.is_none() {
            match self.open_path()? {
                Some(opened) => {
                    self.file = Some(opened);
                    self.restart();
                }
                None => return Ok(Step::Idle),
            }
        }
        let id = self.file.as_ref().expect("opened above").1;
        if !self.same_start()? {
            // Truncated and written again since the last read.
            return Ok(self.start_over(id));
        }
        let file = &self.file.as_ref().expect("opened above").0;
        let start = self.carry.len();
        self.carry.resize(start + max_bytes.max(1), 0);
        let n = loop {
            match file.read_at(&mut self.carry[start..], self.read_at) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.carry.truncate(start);
                return Err(e);
            }
        };
        self.carry.truncate(start + n);
        // Truncated and written again between the check above and the read:
        // the bytes read are of the new content, at the old offset.
        if n > 0 && self.read_at > 0 && !self.same_start()? {
            self.carry.truncate(start);
            return Ok(self.start_over(id));
        }
        // The file's first bytes, as read: what later reads check it against.
        if self.head.len() as u64 == self.read_at && self.read_at < HEAD_BYTES {
            let take = n.min((HEAD_BYTES - self.read_at) as usize);
            self.head.extend_from_slice(&self.carry[start..start + take]);
        }
        self.read_at += n as u64;
        if n > 0 {
            return Ok(self.complete_lines(id).map_or(Step::Progress, Step::Lines));
        }
        // At the end of the file: has it been rotated or truncated?
        let now = match std::fs::metadata(&self.path) {
            Ok(meta) => Some((FileId::of(&meta), meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match now {
            Some((now_id, _)) if now_id != id => {
                // Renamed away and a new file in its place: the old one is read
                // to its end (done), its last line ends there.
                let step = self.start_over(id);
                self.file = None;
                Ok(step)
            }
            // Copy-truncate: what was read of the old content stays read.
            Some((_, len)) if len < self.read_at => Ok(self.start_over(id)),
            _ => Ok(Step::Idle),
        }
    }

    /// The file `id` ends here (rotated away, or truncated): its carried
    /// bytes are its last line, and reading starts again from a start.
    fn start_over(&mut self, id: FileId) -> Step {
        let last = self.flush(id);
        self.restart();
        last.map_or(Step::Progress, Step::Lines)
    }

    /// Reading the same file again from its start.
    fn restart(&mut self) {
        self.drop_lf = false;
        self.read_at = 0;
        self.lines = 0;
        self.head.clear();
        self.carry.clear();
        self.skipping = false;
    }

    /// Whether the open file still starts with the bytes read from it. A
    /// reader resumed from a checkpoint has not read them: it takes the file's
    /// start as it finds it.
    fn same_start(&mut self) -> std::io::Result<bool> {
        let Some((file, _)) = &self.file else { return Ok(true) };
        let want = self.read_at.min(HEAD_BYTES) as usize;
        if want == 0 {
            return Ok(true);
        }
        let mut now = vec![0; want];
        let mut got = 0;
        while got < want {
            match file.read_at(&mut now[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        now.truncate(got);
        if got < self.head.len() || now[..self.head.len()] != self.head[..] {
            return Ok(false);
        }
        if got > self.head.len() {
            self.head = now;
        }
        Ok(true)
    }

    /// The carried bytes as a last line, when the file they came from ends.
    fn flush(&mut self, id: FileId) -> Option<Lines> {
        if self.carry.is_empty() && !self.skipping {
            return None;
        }
        let mut text = std::mem::take(&mut self.carry);
        let offset = self.read_at - text.len() as u64;
        text.push(b'\n');
        self.skipping = false;
        let lines_before = self.lines;
        self.lines += 1;
        Some(Lines { text, offset, lines_before, after: Position { file: id, offset: self.read_at, lines: self.lines, skipping: false } })
    }

    /// Hands out the complete lines in `carry`, keeping the line being written.
    fn complete_lines(&mut self, id: FileId) -> Option<Lines> {
        if self.drop_lf && !self.carry.is_empty() {
            if self.carry[0] == b'\n' {
                self.carry.remove(0);
            }
            self.drop_lf = false;
        }
        if self.skipping {
            // The rest of a line longer than max_line: read past it, and its end.
            match memchr::memchr2(b'\n', b'\r', &self.carry) {
                Some(end) => {
                    let crlf = self.carry[end] == b'\r' && self.carry.get(end + 1) == Some(&b'\n');
                    self.drop_lf = self.carry[end] == b'\r' && end + 1 == self.carry.len();
                    self.carry.drain(..end + 1 + usize::from(crlf));
                    self.skipping = false;
                }
                None => {
                    self.carry.clear();
                    return None;
                }
            }
        }
        // A CR as the last byte may be the first half of a CRLF: it waits.
        let search = if self.carry.last() == Some(&b'\r') { &self.carry[..self.carry.len() - 1] } else { &self.carry[..] };
        let Some(last_end) = memchr::memrchr2(b'\n', b'\r', search) else {
            if self.carry.len() > self.max_line + 1 {
                // A line too long to keep: its first max_line + 1 bytes become a
                // row that says so, the rest is read past.
                let offset = self.read_at - self.carry.len() as u64;
                let mut text: Vec<u8> = self.carry[..self.max_line + 1].to_vec();
                text.push(b'\n');
                self.carry.clear();
                self.skipping = true;
                let lines_before = self.lines;
                self.lines += 1;
                return Some(Lines {
                    text,
                    offset,
                    lines_before,
                    after: Position { file: id, offset: self.read_at, lines: self.lines, skipping: true },
                });
            }
            return None;
        };
        let mut end = last_end + 1;
        if self.carry[last_end] == b'\r' && self.carry.get(end) == Some(&b'\n') {
            end += 1;
        }
        let rest = self.carry.split_off(end);
        let text = std::mem::replace(&mut self.carry, rest);
        let offset = self.read_at - (text.len() + self.carry.len()) as u64;
        let lines_before = self.lines;
        self.lines += count_lines(&text);
        Some(Lines {
            text,
            offset,
            lines_before,
            after: Position { file: id, offset: offset + (end as u64), lines: self.lines, skipping: false },
        })
    }
}

/// Lines in text that ends with a line end (LF, CRLF or a lone CR).
fn count_lines(text: &[u8]) -> u64 {
    let mut n = 0;
    let mut i = 0;
    while let Some(at) = memchr::memchr2(b'\n', b'\r', &text[i..]) {
        let at = i + at;
        n += 1;
        i = at + 1;
        if text[at] == b'\r' && text.get(i) == Some(&b'\n') {
            i += 1;
        }
    }
    n
}

/// The file with identity `id` in `path`'s directory (where rotation renames it).
fn find_renamed(path: &Path, id: FileId) -> std::io::Result<Option<(File, FileId)>> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(None) };
    for entry in entries.flatten() {
        if let Ok(meta) = entry.metadata() {
            if meta.is_file() && FileId::of(&meta) == id {
                let file = File::open(entry.path())?;
                return Ok(Some((file, id)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn drain(tail: &mut Tail) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(lines) = tail.poll(7).unwrap() {
            out.push(String::from_utf8(lines.text).unwrap());
        }
        out
    }

    #[test]
    fn lines_come_whole_across_reads_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut tail = Tail::new(&path, 1000, false).unwrap();
        assert!(tail.poll(64).unwrap().is_none(), "no file yet");
        let mut f = std::fs::File::create(&path).unwrap();
        write!(f, "one\ntwo\r\nthr").unwrap();
        assert_eq!(drain(&mut tail).concat(), "one\ntwo\r\n");
        write!(f, "ee\r").unwrap();
        assert_eq!(drain(&mut tail).concat(), "", "a CR at the end waits for its LF");
        write!(f, "\nfour").unwrap();
        assert_eq!(drain(&mut tail).concat(), "three\r\n");
        let at = tail.position().unwrap();
        assert_eq!((at.offset, at.lines), (16, 3));
        // Rotation by rename: the old file's last line ends with it.
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        write!(f, " and more").unwrap();
        let mut g = std::fs::File::create(&path).unwrap();
        writeln!(g, "five").unwrap();
        assert_eq!(drain(&mut tail), ["four and more\n", "five\n"]);
        // Copy-truncate.
        g.set_len(0).unwrap();
        let mut g = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        assert!(drain(&mut tail).is_empty());
        writeln!(g, "six").unwrap();
        assert_eq!(drain(&mut tail).concat(), "six\n");
    }

    #[test]
    fn a_resumed_tail_finishes_a_file_renamed_while_it_was_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        let mut tail = Tail::new(&path, 1000, false).unwrap();
        let first = tail.poll(2).unwrap().unwrap();
        assert_eq!(first.text, b"a\n");
        let at = first.after;
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        std::fs::write(&path, "d\n").unwrap();
        let mut tail = Tail::resume(&path, 1000, at).unwrap();
        assert_eq!(drain(&mut tail).concat(), "b\nc\nd\n");
    }

    #[test]
    fn a_giant_line_becomes_one_row_and_its_rest_is_read_past() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, format!("a\n{}\nb\n", "x".repeat(100))).unwrap();
        let mut tail = Tail::new(&path, 10, false).unwrap();
        let got = drain(&mut tail);
        assert_eq!(got.concat(), format!("a\n{}\nb\n", "x".repeat(11)));
        assert_eq!(tail.position().unwrap().lines, 3);
        assert_eq!(tail.position().unwrap().offset, 105);
    }
}
