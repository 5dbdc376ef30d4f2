//! Multi-line records: a line that matches `record_start` begins a record,
//! and the lines after it that do not are joined to it (a Java exception's
//! `at ...` and `Caused by:` lines, a Python traceback), so one record is one
//! row whose text holds all of its lines.
//!
//! A record is the bytes from its first line's start to its last line's
//! end, line ends inside it kept as written. Where records are cut does not
//! depend on how the input arrives: a stream reader holds back the last
//! record of each chunk until the next record start (or the end) is read
//! ([`Records::last_start`]), so a record split across two chunks or two
//! batches is still one row. A record longer than `max_record_lines` or
//! `max_record_bytes` is one failed row, and its lines are read past rather
//! than kept: memory stays bounded whatever the input.

use crate::error::{Result, SashError};
use regex::bytes::Regex;

/// Lines a record may have by default: far above the deepest Java trace.
pub const DEFAULT_MAX_RECORD_LINES: usize = 1000;
/// Bytes a record may have by default.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// A line that starts with one of the usual timestamps (the `"timestamp"`
/// value of `record_start`), after an optional `[`: ISO 8601 dates
/// (`2024-05-17T10:05:03`, `2024-05-17 10:05:03,123`), `yy/MM/dd HH:mm:ss`
/// (log4j), `yyMMdd HHmmss` (HDFS), `MM-dd HH:mm:ss` (logcat), syslog's
/// `May 17 10:05:03`, CLF's `17/May/2024:10:05:03`, ctime's `Fri May 17 10:05:03`
/// and epoch seconds or milliseconds (ten or thirteen digits).
pub const TIMESTAMP_START: &str = r"^\[?(?:[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}|[0-9]{2,4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}|[0-9]{6} [0-9]{6}\b|[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}|[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}|[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}|[0-9]{10}(?:[0-9]{3})?\b)";

/// [`TIMESTAMP_START`] read byte by byte: `Some(answer)`, or `None` when it
/// hangs on whether a non-ASCII character is a word character (its `\b`),
/// which the regex then says. Every line of a multi-line log is asked, and
/// the regex engine's cost per call is many times this.
fn timestamp_start(line: &[u8]) -> Option<bool> {
    let b = line.strip_prefix(b"[").unwrap_or(line);
    // `9` a digit, `A` an upper-case letter, `a` a lower-case one, `_` a
    // space or a digit, `~` `T` or a space; anything else is itself.
    let shape = |pattern: &[u8]| {
        b.len() >= pattern.len()
            && pattern.iter().zip(b).all(|(&p, &c)| match p {
                b'9' => c.is_ascii_digit(),
                b'A' => c.is_ascii_uppercase(),
                b'a' => c.is_ascii_lowercase(),
                b'_' => c == b' ' || c.is_ascii_digit(),
                b'~' => c == b'T' || c == b' ',
                literal => c == literal,
            })
    };
    // `\b` after a digit: the line ends or a non-word character follows.
    let boundary_at = |at: usize| match b.get(at) {
        None => Some(true),
        Some(&c) if c.is_ascii() => Some(!(c.is_ascii_alphanumeric() || c == b'_')),
        Some(_) => None,
    };
    let fixed: [&[u8]; 8] = [
        b"9999-99-99~99:99",
        b"99/99/99 99:99",
        b"999/99/99 99:99",
        b"9999/99/99 99:99",
        b"99-99 99:99:99",
        b"Aaa _9 99:99:99",
        b"99/Aaa/9999:99:99",
        b"Aaa Aaa _9 99:99",
    ];
    if fixed.iter().any(|p| shape(p)) {
        return Some(true);
    }
    let mut undecided = false;
    let mut bounded = |digits_then_boundary: bool, at: usize| {
        if !digits_then_boundary {
            return false;
        }
        match boundary_at(at) {
            Some(yes) => yes,
            None => {
                undecided = true;
                false
            }
        }
    };
    if bounded(shape(b"999999 999999"), 13) || bounded(shape(b"9999999999"), 10) || bounded(shape(b"9999999999999"), 13) {
        return Some(true);
    }
    (!undecided).then_some(false)
}

/// How lines group into records.
#[derive(Debug, Clone)]
pub struct Records {
    /// As written in the spec (`"timestamp"` or a regex; `cri`/`docker`
    /// for the container formats' partial lines).
    pub start_text: String,
    rule: Rule,
    pub max_lines: usize,
    pub max_bytes: usize,
}

/// What makes a line begin a record.
#[derive(Debug, Clone)]
enum Rule {
    /// It matches `record_start`; a record is complete only when the next
    /// begins. `timestamp`: the regex is [`TIMESTAMP_START`], asked only
    /// when [`timestamp_start`] cannot say.
    Start {
        regex: Regex,
        timestamp: bool,
    },
    /// The line before it was complete: a CRI line tagged `F`, a Docker
    /// json-file entry whose `log` ends with a newline. Partial lines
    /// (`P`, a `log` without one) go on in the next line.
    Cri,
    Docker,
}

/// Which container runtime wrote a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Cri,
    Docker,
}

/// Whether a CRI line is tagged `P` (partial): `TIME STREAM P MESSAGE`.
pub(crate) fn cri_partial(line: &[u8]) -> bool {
    let mut spaces = memchr::memchr_iter(b' ', line);
    let (Some(_), Some(second)) = (spaces.next(), spaces.next()) else { return false };
    line.get(second + 1) == Some(&b'P') && matches!(line.get(second + 2), None | Some(&b' '))
}

/// Whether a Docker json-file entry is partial: its `log` does not end with
/// an escaped newline (Docker splits lines longer than 16 KiB so).
pub(crate) fn docker_partial(line: &[u8]) -> bool {
    memchr::memmem::find(line, br#"\n","#).is_none() && memchr::memmem::find(line, br#""log""#).is_some()
}

impl PartialEq for Records {
    fn eq(&self, other: &Records) -> bool {
        self.start_text == other.start_text && self.max_lines == other.max_lines && self.max_bytes == other.max_bytes
    }
}

/// One record of a text: its bytes `[start, end)` (without the last line's
/// terminator), how many lines it has, and whether it ran past the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordSpan {
    pub start: usize,
    pub end: usize,
    pub lines: u64,
    pub runaway: bool,
}

impl Records {
    pub fn new(start: &str, max_lines: usize, max_bytes: usize) -> Result<Records> {
        let pattern = if start == "timestamp" { TIMESTAMP_START } else { start };
        let regex = regex::bytes::RegexBuilder::new(pattern)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| SashError::spec(format!("record_start is not a valid regex (or \"timestamp\"): {e}")))?;
        if max_lines == 0 || max_bytes == 0 {
            return Err(SashError::spec("max_record_lines and max_record_bytes must be positive"));
        }
        let rule = Rule::Start { regex, timestamp: start == "timestamp" };
        Ok(Records { start_text: start.to_string(), rule, max_lines, max_bytes })
    }

    /// The partial lines of a container runtime's log, joined.
    pub fn container(kind: Container, max_lines: usize, max_bytes: usize) -> Records {
        let (text, rule) = match kind {
            Container::Cri => ("cri", Rule::Cri),
            Container::Docker => ("docker", Rule::Docker),
        };
        Records { start_text: text.to_string(), rule, max_lines, max_bytes }
    }

    /// The container runtime whose partial lines these records join, if any.
    pub fn container_kind(&self) -> Option<Container> {
        match self.rule {
            Rule::Start { .. } => None,
            Rule::Cri => Some(Container::Cri),
            Rule::Docker => Some(Container::Docker),
        }
    }

    /// Whether a line begins a record, given whether the line before it
    /// left its record open (a partial container line). `record_start` is
    /// tested on the line's first `max_bytes` bytes: a stream reader must
    /// decide for a longer line before it has read all of it.
    #[inline]
    pub(crate) fn starts(&self, line: &[u8], after_partial: bool) -> bool {
        match &self.rule {
            Rule::Start { regex, timestamp } => {
                let line = &line[..line.len().min(self.max_bytes)];
                match timestamp.then(|| timestamp_start(line)).flatten() {
                    Some(starts) => starts,
                    None => regex.is_match(line),
                }
            }
            Rule::Cri | Rule::Docker => !after_partial,
        }
    }

    /// Whether a line leaves its record open (container partial lines).
    #[inline]
    fn partial(&self, line: &[u8]) -> bool {
        match &self.rule {
            Rule::Start { .. } => false,
            Rule::Cri => cri_partial(line),
            Rule::Docker => docker_partial(line),
        }
    }

    /// The records of `text`, whose lines are `lines` (spans as
    /// [`super::lines::split_lines`] gives them). `continuing`: the text
    /// goes on a record that already ran past the limits, so its lines up to
    /// the next record start belong to that record (they are counted in
    /// `lines_before`, not made a row). Returns the records and whether the
    /// last one ran past the limits.
    pub(crate) fn split(&self, text: &[u8], lines: &[(usize, usize)], continuing: bool) -> (Vec<RecordSpan>, u64, bool) {
        let mut records: Vec<RecordSpan> = Vec::new();
        let mut skipped = 0;
        let mut in_runaway = continuing;
        let mut after_partial = continuing;
        for &(start, end) in lines {
            let line = &text[start..end];
            let begins = self.starts(line, after_partial) || (records.is_empty() && !in_runaway);
            after_partial = self.partial(line);
            if begins {
                in_runaway = false;
                records.push(RecordSpan { start, end, lines: 1, runaway: self.past(1, end - start) });
                continue;
            }
            match records.last_mut() {
                Some(record) => {
                    record.lines += 1;
                    record.end = end;
                    record.runaway |= self.past(record.lines as usize, record.end - record.start);
                }
                None => skipped += 1,
            }
        }
        let ends_in_runaway = match records.last() {
            Some(record) => record.runaway,
            None => in_runaway,
        };
        (records, skipped, ends_in_runaway)
    }

    /// Where the last record of `text` that may go on past it starts: the
    /// start of its last line that begins a record, after position 0 (a
    /// record starting at 0 that fills the text has nowhere to be cut).
    pub(crate) fn last_start(&self, text: &[u8], lines: &[(usize, usize)]) -> Option<usize> {
        if matches!(self.rule, Rule::Start { .. }) {
            return lines
                .iter()
                .rev()
                .take_while(|&&(start, _)| start > 0)
                .find(|&&(start, end)| self.starts(&text[start..end], false))
                .map(|&(start, _)| start);
        }
        // Container logs: a record ends with its complete line, so only a
        // run of partial lines at the end waits for the next chunk.
        let partial_run = lines.iter().rev().take_while(|&&(start, end)| self.partial(&text[start..end])).count();
        match partial_run {
            0 => Some(text.len()),
            n if n < lines.len() => Some(lines[lines.len() - n].0),
            _ => None,
        }
    }

    /// Whether a record of this many lines and bytes is past the limits.
    #[inline]
    fn past(&self, lines: usize, bytes: usize) -> bool {
        lines > self.max_lines || bytes > self.max_bytes
    }

    /// Whether the last record of `text` (its complete `lines`, none of
    /// which after the first begins a record) is already past the limits.
    pub(crate) fn past_limits(&self, lines: &[(usize, usize)]) -> bool {
        match (lines.first(), lines.last()) {
            (Some(first), Some(last)) => self.past(lines.len(), last.1 - first.0),
            _ => false,
        }
    }

    /// Whether `tail`, the start of a line not read to its end, begins a
    /// record, when the line before it (the last of `lines`) is complete.
    pub(crate) fn tail_starts(&self, text: &[u8], lines: &[(usize, usize)], tail: &[u8]) -> bool {
        let after_partial = lines.last().is_some_and(|&(s, e)| self.partial(&text[s..e]));
        self.starts(tail, after_partial)
    }

    /// The failure of a record past the limits. It names the limits, not
    /// the record's size: a stream reader stops reading a runaway record at
    /// a point that depends on its chunk size, and the row must not.
    pub(crate) fn runaway_message(&self) -> String {
        format!(
            "a record longer than max_record_lines ({}) or max_record_bytes ({}); not parsed, its lines read past",
            self.max_lines, self.max_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::lines::split_lines;

    #[test]
    fn continuation_lines_join_the_record_before_them() {
        let records = Records::new("timestamp", 5, 1 << 20).unwrap();
        let text = b"2024-05-17 10:00:00 ERROR boom\njava.lang.X: y\n\tat a.b(C.java:1)\nCaused by: z\n\t... 3 more\n\n2024-05-17 10:00:01 INFO ok\n";
        let lines = split_lines(text);
        let (spans, skipped, runaway) = records.split(text, &lines, false);
        assert_eq!((spans.len(), skipped, runaway), (2, 0, false));
        assert_eq!(spans[0].lines, 6, "the blank line inside the trace belongs to it");
        assert_eq!(&text[spans[1].start..spans[1].end], b"2024-05-17 10:00:01 INFO ok");
        assert_eq!(records.last_start(text, &lines), Some(spans[1].start));
    }

    /// The byte-by-byte reading of [`TIMESTAMP_START`] answers as the regex
    /// does, on lines grown from each layout and then changed at random
    /// (a byte replaced, cut, or followed by a word character, ASCII or not).
    #[test]
    fn the_timestamp_start_reads_as_its_regex() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let regex = Regex::new(TIMESTAMP_START).unwrap();
        let seeds = [
            "2024-05-17T10:05:03",
            "2024-05-17 10:05",
            "17/06/09 20:10",
            "117/06/09 20:10",
            "2017/06/09 20:10",
            "081109 203615",
            "03-17 16:13:38",
            "Dec 10 06:55:46",
            "Jun  9 06:06:20",
            "17/May/2024:10:05:03",
            "Sun Dec 04 04:47",
            "1715933103",
            "1715933103123",
            "17159331031",
            "[2024-05-17 10:05:03]",
            "[1715933103",
        ];
        let tails = ["", " x", "x", "_", "é", "\u{b2}", "٣", "1", ".5", ",", "\u{301}"];
        let mut rng = StdRng::seed_from_u64(7);
        let (mut starts, mut asked) = (0, 0);
        for _ in 0..200_000 {
            let mut line = seeds[rng.random_range(0..seeds.len())].as_bytes().to_vec();
            match rng.random_range(0..4) {
                0 => {
                    let at = rng.random_range(0..line.len());
                    line[at] = b"09aZ :/-T ["[rng.random_range(0..11)];
                }
                1 => line.truncate(rng.random_range(0..line.len())),
                _ => {}
            }
            line.extend_from_slice(tails[rng.random_range(0..tails.len())].as_bytes());
            let theirs = regex.is_match(&line);
            match timestamp_start(&line) {
                Some(ours) => assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&line)),
                None => asked += 1,
            }
            starts += theirs as usize;
        }
        assert!(starts > 50_000 && asked < 20_000, "{starts} starts, {asked} left to the regex");
    }

    #[test]
    fn the_timestamp_start_knows_the_usual_layouts() {
        let records = Records::new("timestamp", 5, 1 << 20).unwrap();
        for line in [
            "2015-10-18 18:01:47,978 INFO [main] x",
            "2024-05-17T10:05:03Z x",
            "[2024-05-17 10:05:03] x",
            "17/06/09 20:10:40 INFO x",
            "081109 203615 148 INFO x",
            "03-17 16:13:38.811  1702 D x",
            "Dec 10 06:55:46 LabSZ sshd[24200]: x",
            "Jun  9 06:06:20 combo x",
            "[Sun Dec 04 04:47:44 2005] [notice] x",
            "1715933103 x",
        ] {
            assert!(records.starts(line.as_bytes(), false), "{line}");
        }
        for line in ["\tat a.b.C.m(C.java:10)", "Caused by: java.io.IOException", "  File \"x.py\", line 3", "    ... 12 more", ""] {
            assert!(!records.starts(line.as_bytes(), false), "{line}");
        }
    }
}
