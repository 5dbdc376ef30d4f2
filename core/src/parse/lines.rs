//! Lines: splitting bytes into lines (SIMD where the CPU has it), and the
//! per-line cleaning every format shares (a UTF-8 BOM, a trailing CR, the
//! length limit, UTF-8 validation).

use super::*;

/// What is known of a whole input region before looking at single lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clean {
    /// Valid UTF-8 without NUL bytes: no line needs checking.
    Yes,
    /// Valid UTF-8 (a string array) but NULs were not looked for.
    Utf8Only,
    /// Each line must be checked.
    No,
}

/// Lines handed to the parser a chunk at a time, each chunk with what is
/// known of its bytes, and the buffers that views of them point into.
pub(super) trait LineChunks<'a> {
    /// The number of lines expected: the output columns reserve it.
    fn expected_lines(&self) -> usize;
    /// The next lines, or None at the end.
    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)>;
    /// The buffers the views point into, once every line was read.
    fn into_blocks(self) -> Vec<Buffer>;
}

/// Lines already listed (elements of a string or binary array).
pub(super) struct GivenLines<'a> {
    pub(super) lines: Vec<LineRef<'a>>,
    pub(super) blocks: Vec<Buffer>,
    pub(super) check: Check<'a>,
    pub(super) at: usize,
}

impl<'a> GivenLines<'a> {
    pub(super) fn new(lines: Vec<LineRef<'a>>, blocks: Vec<Buffer>, check: Check<'a>) -> GivenLines<'a> {
        GivenLines { lines, blocks, check, at: 0 }
    }
}

impl<'a> LineChunks<'a> for GivenLines<'a> {
    fn expected_lines(&self) -> usize {
        self.lines.len()
    }

    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)> {
        if self.at == self.lines.len() {
            return None;
        }
        let chunk = &self.lines[self.at..(self.at + CHECKED_LINES).min(self.lines.len())];
        self.at += chunk.len();
        Some((chunk, self.check.of(chunk)))
    }

    fn into_blocks(self) -> Vec<Buffer> {
        self.blocks
    }
}

/// The lines of a raw buffer, found a chunk of about [`SPLIT_BYTES`] at a
/// time just before the chunk is parsed: splitting, checking and parsing
/// then read its bytes from cache, where splitting the whole buffer first
/// read it from memory once more (a sixth of the parse of a combined log).
pub(super) struct ByteLines<'a> {
    pub(super) values: &'a Buffer,
    /// Where the next chunk starts.
    pub(super) at: usize,
    pub(super) lines: Vec<LineRef<'a>>,
    pub(super) blocks: Blocks<'a>,
    pub(super) expected: usize,
    pub(super) simd: Simd,
}

pub(super) const SPLIT_BYTES: usize = 64 * 1024;

impl<'a> ByteLines<'a> {
    pub(super) fn new(values: &'a Buffer) -> ByteLines<'a> {
        let expected = expected_lines(values.as_slice());
        ByteLines { values, at: 0, lines: Vec::new(), blocks: Blocks::new(values), expected, simd: Simd::detect() }
    }
}

/// About how many lines `data` holds, for the output columns to reserve.
pub(super) fn expected_lines(data: &[u8]) -> usize {
    // The first chunk's lines give the expected count; a loose guess
    // costs address space, not memory (pages never written stay out).
    let sample = &data[..data.len().min(SPLIT_BYTES)];
    let sample_lines = memchr::memchr2_iter(b'\n', b'\r', sample).count().max(1);
    // Capped as if lines averaged 32 bytes: a sample of short lines must
    // not reserve gigabytes; beyond the guess the columns grow.
    let guess = (data.len() as u128 * sample_lines as u128 / sample.len().max(1) as u128) as usize;
    let expected = guess.saturating_mul(5) / 4 + 16;
    expected.min(data.len() / 32 + 16)
}

impl<'a> LineChunks<'a> for ByteLines<'a> {
    fn expected_lines(&self) -> usize {
        self.expected
    }

    fn next_chunk(&mut self) -> Option<(&[LineRef<'a>], Clean)> {
        let data: &'a [u8] = self.values.as_slice();
        if self.at == data.len() {
            return None;
        }
        // The chunk ends with the terminator of the first line ending past
        // SPLIT_BYTES (a CRLF whole), so no line and no CRLF is cut in two.
        let start = self.at;
        let end = match memchr::memchr2(b'\n', b'\r', data.get(start + SPLIT_BYTES..).unwrap_or(&[])) {
            None => data.len(),
            Some(i) => {
                let i = start + SPLIT_BYTES + i;
                if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                }
            }
        };
        self.at = end;
        let chunk = &data[start..end];
        self.lines.clear();
        let (lines, blocks) = (&mut self.lines, &mut self.blocks);
        let plain = for_each_line(chunk, self.simd, |line_start, line_end| lines.push(blocks.line(start + line_start, start + line_end)));
        // Lines end at CR or LF, which no character holds part of: the
        // chunk's bytes as a whole tell.
        Some((&self.lines, if plain { Clean::Yes } else { Clean::of(chunk, false) }))
    }

    fn into_blocks(self) -> Vec<Buffer> {
        self.blocks.into_buffers()
    }
}

/// Lines checked together for UTF-8 and NUL bytes, just before they are
/// parsed: their bytes are then still in cache for the parser, where a check
/// of the whole input first was a pass of its own over memory (a sixth of the
/// time of parsing a combined log).
pub(super) const CHECKED_LINES: usize = 256;

/// How the lines' bytes are known to be clean.
#[derive(Clone, Copy)]
pub(super) enum Check<'a> {
    /// The same for every line.
    Known(Clean),
    /// Lines in `region`, one after the other: each chunk of them is checked
    /// through the bytes from its first line's start to its last line's end.
    Chunks {
        region: &'a [u8],
        known_utf8: bool,
        /// Whether lines start and end at character boundaries whatever the
        /// bytes (split at ASCII bytes, or elements of a UTF-8 array). If not,
        /// a chunk is clean only if no line starts with a continuation byte.
        ascii_boundaries: bool,
    },
}

impl Check<'_> {
    pub(super) fn of(&self, lines: &[LineRef]) -> Clean {
        match *self {
            Check::Known(clean) => clean,
            Check::Chunks { region, known_utf8, ascii_boundaries } => {
                let base = region.as_ptr() as usize;
                let start = lines.iter().find_map(|l| l.bytes).map(|b| b.as_ptr() as usize - base);
                let end = lines.iter().rev().find_map(|l| l.bytes).map(|b| b.as_ptr() as usize + b.len() - base);
                let (Some(start), Some(end)) = (start, end) else {
                    return Clean::Yes; // only null lines: nothing to read
                };
                let clean = Clean::of(&region[start..end], known_utf8);
                let boundaries = || lines.iter().filter_map(|l| l.bytes?.first()).all(|&b| !(0x80..0xC0).contains(&b));
                if clean == Clean::Yes && !ascii_boundaries && !boundaries() {
                    Clean::No
                } else {
                    clean
                }
            }
        }
    }
}

impl Clean {
    pub(super) fn of(region: &[u8], known_utf8: bool) -> Clean {
        // simdutf8 validates with SIMD chosen at run time, several times
        // faster than std; std stays for single lines, which need the
        // position of the first bad byte.
        if memchr::memchr(0, region).is_none() && (known_utf8 || simdutf8::basic::from_utf8(region).is_ok()) {
            Clean::Yes
        } else if known_utf8 {
            Clean::Utf8Only
        } else {
            Clean::No
        }
    }
}

/// The UTF-8 encoding of U+FEFF, the byte order mark Windows tools write at
/// the start of a text file (and that files joined together carry into the
/// middle). Read as text it would end up in a line's first field: a host of
/// "\u{feff}10.0.0.1", a logfmt key that matches no declared field.
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Turns a line into what a parser reads, or the failure of a line that has
/// nothing to parse (null, empty, only whitespace) or is longer than
/// `max_line` bytes.
#[inline(always)]
pub(super) fn prepare<'a>(line: &LineRef<'a>, clean: Clean, max_line: usize) -> std::result::Result<(LineCtx<'a>, Option<Cut>), Failure> {
    let Some(mut bytes) = line.bytes else {
        return Err(Failure::new("line", 0, "null input"));
    };
    if bytes.len() > max_line {
        return Err(Failure::new("line", 0, format!("longer than max_line_bytes ({max_line} bytes); not parsed")));
    }
    // A byte order mark opening a line is no part of it; byte offsets in
    // errors count from after it.
    let mut offset = line.offset;
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        bytes = rest;
        offset += UTF8_BOM.len() as u32;
    }
    if bytes.is_empty() {
        return Err(Failure::new("line", 0, "empty line"));
    }
    if bytes.iter().all(|&c| c == b' ' || c == b'\t') {
        return Err(Failure::new("line", 0, format!("only whitespace ({} bytes)", bytes.len())));
    }
    let mut cut = None;
    if clean != Clean::Yes {
        let valid = match clean {
            Clean::No => match std::str::from_utf8(bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            },
            _ => bytes.len(),
        };
        if valid < bytes.len() {
            cut = Some(Cut { at: valid, reason: CutReason::InvalidUtf8 });
        }
        if let Some(nul) = memchr::memchr(0, &bytes[..valid]) {
            cut = Some(Cut { at: nul, reason: CutReason::Nul });
        }
    }
    let end = cut.map_or(bytes.len(), |c| c.at);
    Ok((LineCtx { bytes: &bytes[..end], block: line.block, offset, cut, masks: None }, cut))
}

/// Lines of one contiguous buffer given by byte spans.
pub(super) fn lines_in<'a>(values: &'a Buffer, spans: impl Iterator<Item = Option<(usize, usize)>>) -> (Vec<LineRef<'a>>, Vec<Buffer>) {
    let mut blocks = Blocks::new(values);
    let lines = spans
        .map(|span| match span {
            None => LineRef { bytes: None, block: None, offset: 0 },
            Some((start, end)) => blocks.line(start, end),
        })
        .collect();
    (lines, blocks.into_buffers())
}

/// The buffers that views of one buffer's lines point into. Views hold
/// 32-bit offsets, so when a line ends more than 4 GiB past the current
/// block's start, a new block (a zero-copy slice) starts at that line.
pub(super) struct Blocks<'a> {
    pub(super) values: &'a Buffer,
    pub(super) blocks: Vec<Buffer>,
    /// Where the current block starts in `values`.
    pub(super) base: usize,
    /// The current block's index in the output's numbering (0 is the side buffer).
    pub(super) current: u32,
}

impl<'a> Blocks<'a> {
    pub(super) fn new(values: &'a Buffer) -> Blocks<'a> {
        Blocks { values, blocks: vec![values.clone()], base: 0, current: 1 }
    }

    /// The line `values[start..end]`, lines coming in buffer order.
    #[inline(always)]
    pub(super) fn line(&mut self, start: usize, end: usize) -> LineRef<'a> {
        if end - self.base > u32::MAX as usize {
            self.blocks.push(self.values.slice(start));
            self.base = start;
            self.current = self.blocks.len() as u32;
        }
        let data: &'a [u8] = self.values.as_slice();
        LineRef { bytes: Some(&data[start..end]), block: Some(self.current), offset: (start - self.base) as u32 }
    }

    /// Adds a buffer of its own (text rewritten from the input); its block index.
    pub(super) fn extra(&mut self, buffer: &Buffer) -> u32 {
        self.blocks.push(buffer.clone());
        self.blocks.len() as u32
    }

    pub(super) fn into_buffers(self) -> Vec<Buffer> {
        self.blocks
    }
}

/// Line spans of `b`: terminated by LF, CRLF or a lone CR; the last line
/// counts without a terminator; no line after a final terminator.
pub(crate) fn split_lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::with_capacity(b.len() / 128 + 1);
    for_each_line(b, Simd::detect(), |start, end| spans.push((start, end)));
    spans
}

/// Calls `line(start, end)` for each line span of `b` (as [`split_lines`]
/// gives them, in order) and returns whether every byte of `b` is ASCII
/// other than NUL, which the same pass finds: such bytes need no UTF-8 or
/// NUL check of their own.
///
/// Terminators are found 64 bytes at a time, as a bit mask read off bit by
/// bit: lines of logs are short, and a search call per line (`memchr2`) cost
/// a sixth of parsing a logfmt line.
pub(crate) fn for_each_line(b: &[u8], simd: Simd, line: impl FnMut(usize, usize)) -> bool {
    match simd {
        // SAFETY: `simd` names features the CPU has.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { for_each_line_avx512(b, line) },
        _ => for_each_line_by(b, scan::block_ends, line),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
unsafe fn for_each_line_avx512(b: &[u8], line: impl FnMut(usize, usize)) -> bool {
    for_each_line_by(b, |block| scan::block_ends_avx512(block), line)
}

/// The loop of [`for_each_line`], with `block_ends` giving a 64-byte
/// block's terminators and its bytes past ASCII or NUL
/// ([`scan::block_ends`]).
#[inline(always)]
pub(super) fn for_each_line_by(b: &[u8], block_ends: impl Fn(&[u8; 64]) -> (u64, u64), mut line: impl FnMut(usize, usize)) -> bool {
    let mut start = 0;
    let mut skip_lf_at = usize::MAX;
    let mut plain = true;
    let mut terminator_at = |i: usize| {
        if i == skip_lf_at {
            start = i + 1;
            return;
        }
        line(start, i);
        start = i + 1;
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            skip_lf_at = i + 1;
        }
    };
    let blocks = b.chunks_exact(64);
    let tail = blocks.remainder();
    for (k, block) in blocks.enumerate() {
        let (mut mask, odd) = block_ends(block.try_into().expect("64 bytes"));
        plain &= odd == 0;
        while mask != 0 {
            terminator_at(k * 64 + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
    }
    let tail_at = b.len() - tail.len();
    for (i, &byte) in tail.iter().enumerate() {
        plain &= byte != 0 && byte.is_ascii();
        if byte == b'\n' || byte == b'\r' {
            terminator_at(tail_at + i);
        }
    }
    if start < b.len() {
        line(start, b.len());
    }
    plain
}

/// How many lines [`parse_bytes`] sees in `bytes` (for tests of other crates).
#[doc(hidden)]
pub fn split_lines_for_tests(bytes: &[u8]) -> usize {
    split_lines(bytes).len()
}
