//! What a command tells its user on stderr: a progress bar while it runs
//! (only on a terminal) and a summary when it ends.

use crate::input::BytesRead;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Counts of what a command read, parsed and wrote.
#[derive(Debug, Default)]
pub struct Counts {
    pub files: usize,
    pub lines: u64,
    pub failed: u64,
    /// Failed lines by reason (the `_error` text without its byte position).
    pub reasons: HashMap<String, u64>,
    pub rows_out: u64,
    pub late: u64,
    pub null_times: u64,
}

impl Counts {
    /// Counts a failed line's reason: "status at byte 41: not a number, found 'x'"
    /// is counted as "status: not a number".
    pub fn add_reason(&mut self, error: &str) {
        let (field, reason) = match error.split_once(" at byte ") {
            Some((field, rest)) => (field, rest.split_once(": ").map_or(rest, |(_, reason)| reason)),
            None => ("line", error),
        };
        let key = format!("{field}: {}", generalize(reason));
        if let Some(n) = self.reasons.get_mut(&key) {
            *n += 1;
        } else if self.reasons.len() < 1000 {
            self.reasons.insert(key, 1);
        } else {
            *self.reasons.entry("other reasons".into()).or_default() += 1;
        }
    }
}

/// A reason without what varies from line to line: quoted excerpts become
/// '…' and numbers N, so that one cause is counted once.
fn generalize(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // An excerpt runs to the next quote followed by a non-letter (or the end).
            let rest: String = chars.clone().collect();
            let close = rest.char_indices().find(|&(i, q)| q == '\'' && !rest[i + 1..].starts_with(|n: char| n.is_alphanumeric()));
            if let Some((i, _)) = close {
                out.push_str("'…'");
                for _ in 0..rest[..=i].chars().count() {
                    chars.next();
                }
                continue;
            }
            out.push(c);
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

/// The progress bar (or nothing) and the clock.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    read: BytesRead,
    quiet: bool,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Progress {
    /// A bar over `total` input bytes when stderr is a terminal and the user did not ask for quiet.
    pub fn new(total: Option<u64>, read: BytesRead, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10)).with_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                        .expect("a valid template"),
                ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10)).with_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} {bytes_per_sec} {msg}").expect("a valid template"),
                ),
            };
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, started: Instant::now(), read, quiet }
    }

    pub fn update(&self, counts: &Counts) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.read.get());
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{} lines ({}/s), {} failed",
                group(counts.lines),
                group((counts.lines as f64 / secs) as u64),
                group(counts.failed)
            ));
        }
    }

    /// Takes the bar off the terminal (before a table is printed there).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Clears the bar and prints the summary (unless quiet).
    pub fn finish(self, command: &str, counts: &Counts, written_to: &str) {
        self.clear();
        if self.quiet {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let bytes = self.read.get();
        let mut text = format!(
            "sash {command}: {} from {} ({}) in {:.2} s ({}/s): {} to {written_to}",
            plural(counts.lines, "line"),
            plural(counts.files as u64, "file"),
            human_bytes(bytes),
            secs,
            human_bytes((bytes as f64 / secs.max(1e-9)) as u64),
            plural(counts.rows_out, "row"),
        );
        if counts.failed > 0 {
            text += &format!(", {} failed to parse", plural(counts.failed, "line"));
        }
        if counts.late > 0 {
            text += &format!(", {} late", plural(counts.late, "row"));
        }
        if counts.null_times > 0 {
            text += &format!(", {} without a time dropped", plural(counts.null_times, "row"));
        }
        eprintln!("{text}");
        let mut reasons: Vec<(&String, &u64)> = counts.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in reasons.iter().take(5) {
            eprintln!("  {:>12}  {reason}", group(**n));
        }
        if reasons.len() > 5 {
            eprintln!("  {:>12}  in {} other reasons", group(reasons[5..].iter().map(|(_, n)| **n).sum()), reasons.len() - 5);
        }
    }
}

fn plural(n: u64, what: &str) -> String {
    format!("{} {what}{}", group(n), if n == 1 { "" } else { "s" })
}

/// 1234567 as "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_without_what_varies() {
        let mut counts = Counts::default();
        counts.add_reason("user_agent at byte 182: no closing '\"' for the quote at byte 110: the line ends");
        counts.add_reason("user_agent at byte 17: no closing '\"' for the quote at byte 3: the line ends");
        counts.add_reason("status at byte 9: expected a number, found 'x'");
        counts.add_reason("status at byte 9: expected a number, found 'it's'");
        counts.add_reason("the line is empty");
        let mut reasons: Vec<_> = counts.reasons.into_iter().collect();
        reasons.sort();
        assert_eq!(
            reasons,
            vec![
                ("line: the line is empty".to_string(), 1),
                ("status: expected a number, found '…'".to_string(), 2),
                ("user_agent: no closing '…' for the quote at byte N: the line ends".to_string(), 2),
            ]
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(plural(1, "line"), "1 line");
        assert_eq!(plural(2, "line"), "2 lines");
    }
}
