//! Helpers every line format shares: quoted fields, escapes, and how bad
//! input is quoted back in error messages.

use crate::parse::row::{Columns, LineCtx};
use crate::parse::scan::find_either;

pub(crate) fn describe_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// A short, printable excerpt of bad input for error messages.
pub(crate) fn excerpt(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(&b[..b.len().min(40)]);
    let mut out: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if b.len() > 40 {
        out.push('…');
    }
    out
}

/// Finds the closing quote of a quoted field whose content starts at `at`;
/// returns (end of content, whether it holds escapes).
#[inline]
pub(crate) fn closing_quote(b: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        let i = find_either(b, at, b'"', b'\\');
        if i == b.len() {
            return None;
        }
        if b[i] == b'"' {
            return Some((i, escaped));
        }
        escaped = true;
        at = i + 2;
        if at > b.len() {
            return None;
        }
    }
}

/// Decodes `\"`, `\\`, `\xHH`, `\n`, `\t`, `\r` (others are kept as
/// written). Returns false when the result would not be valid UTF-8, in which
/// case the caller keeps the raw text.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let hex = |d: u8| (d as char).to_digit(16);
        match raw[i + 1] {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'x' if i + 3 < raw.len() && hex(raw[i + 2]).is_some() && hex(raw[i + 3]).is_some() => {
                out.push((hex(raw[i + 2]).unwrap() * 16 + hex(raw[i + 3]).unwrap()) as u8);
                i += 4;
                continue;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
        i += 2;
    }
    std::str::from_utf8(out).is_ok()
}

/// A quoted field's content `[start, end)`: a view, or a decoded copy when
/// it holds escapes (the raw text when decoding would break UTF-8).
#[inline]
pub(crate) fn push_text(cols: &mut Columns, col: usize, ctx: &LineCtx, start: usize, end: usize, escaped: bool, scratch: &mut Vec<u8>) {
    if escaped && unescape(&ctx.bytes[start..end], scratch) {
        cols.str(col).push_owned(scratch);
    } else {
        cols.str(col).push_view(ctx.view(start, end));
    }
}
