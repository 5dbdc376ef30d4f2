//! Finding the end of a short field: the next of two delimiter bytes,
//! sixteen bytes per step (SSE2), then eight.
//!
//! Log fields run from a few bytes to a few dozen. A byte loop pays a branch
//! per byte; `memchr` pays a call and a setup that only long haystacks repay.
//! On x86-64 this compares sixteen bytes at once while sixteen remain; then
//! (and on other targets throughout) it reads one `u64` per step and flags
//! the bytes equal to a delimiter with the carry trick (Bit Twiddling Hacks,
//! "determine if a word has a byte equal to n").

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte of `word` equal to `byte`. A borrow can flag bytes
/// above a true match, never below one, so the lowest flag is a true match.
#[inline(always)]
fn flag_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Bit i set where `lane[i]` is `x` or `y`: one SSE2 compare per byte
/// value and a mask move (compilers do not turn a byte loop into these).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn mask_either(lane: &[u8; 16], x: u8, y: u8) -> u16 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    // SAFETY: SSE2 is part of every x86-64; the load reads the 16 bytes of
    // `lane` and needs no alignment.
    unsafe {
        let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
        let hits = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(x as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(y as i8)));
        _mm_movemask_epi8(hits) as u16
    }
}

/// Position of the first `x` or `y` at or after `at`, or `b.len()`.
#[inline(always)]
pub(crate) fn find_either(b: &[u8], mut at: usize, x: u8, y: u8) -> usize {
    // Sixteen bytes per step while sixteen remain: most fields end within
    // the first step.
    #[cfg(target_arch = "x86_64")]
    while let Some(lane) = b.get(at..at + 16) {
        let hits = mask_either(lane.try_into().expect("16 bytes"), x, y);
        if hits != 0 {
            return at + hits.trailing_zeros() as usize;
        }
        at += 16;
    }
    while let Some(chunk) = b.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let flags = flag_equal(word, x) | flag_equal(word, y);
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < b.len() && b[at] != x && b[at] != y {
        at += 1;
    }
    at
}

/// End of the space-delimited token starting at `at` (access logs, syslog).
#[inline(always)]
pub(crate) fn token_end(b: &[u8], at: usize) -> usize {
    find_either(b, at, b' ', b' ')
}

/// The number written by the first `len` bytes of `window` (1 to 8), if
/// they are all ASCII digits: the bytes checked and converted together, a
/// few word operations whatever `len` (SWAR; the conversion is the one of
/// Lemire's "fast_float").
#[inline(always)]
pub(crate) fn digits8(window: &[u8; 8], len: usize) -> Option<u64> {
    debug_assert!((1..=8).contains(&len));
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // The digits to the top bytes, in order (the first byte of the window is
    // the word's lowest); the bytes below them become '0's, leading zeros.
    let shift = 8 * (8 - len) as u32;
    let digits = u64::from_le_bytes(*window) << shift;
    let word = digits | (ZEROS & !(u64::MAX << shift));
    // Each byte is 0x30..=0x3F, and still is with 6 added: 0x30..=0x39. (A
    // byte that fails the first test may carry into the next on the second,
    // but the first already said no.)
    if word & HIGH_NIBBLES != ZEROS || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS {
        return None;
    }
    let v = word - ZEROS;
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let low = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(u64::from(low.wrapping_add(high).wrapping_shr(32) as u32))
}

/// The longest line [`LineMasks`] describes.
pub(crate) const MASKED_LINE: usize = 512;

const WORDS: usize = MASKED_LINE / 64;

/// Where a line of 16 to [`MASKED_LINE`] bytes holds spaces (and tabs, if
/// asked) and quotes (bit
/// i of word i / 64 set where byte i is one), and whether it holds a
/// backslash anywhere.
///
/// The delimiters of a whole line are found in one pass of SIMD compares, so
/// each field then ends by bit arithmetic. Searching field by field
/// ([`find_either`]) leaves its loop after a number of steps that changes from
/// line to line, and the branch predictor misses that exit on nearly every
/// field of nearly every line. Kept by a parser and read anew per line: only
/// the words the current line fills are looked at, so none is cleared.
#[derive(Debug)]
pub(crate) struct LineMasks {
    spaces: [u64; WORDS],
    quotes: [u64; WORDS],
    /// The words the current line fills; those after are another line's.
    words: usize,
    pub backslash: bool,
    simd: Simd,
    /// A second byte that counts as a space: a tab where tabs separate
    /// fields (logfmt), else the space itself.
    space_too: u8,
}

/// The widest compares this CPU has, found once per reader: SSE2 is part of
/// every x86-64, AVX2 and AVX-512 are not (binaries are built for the
/// baseline, so the wider paths are chosen at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simd {
    Sse2,
    Avx2,
    Avx512,
}

impl Simd {
    pub(crate) fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512bw") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Sse2
    }
}

/// Bits of the spaces, quotes and backslashes in `lane`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane_masks(lane: &[u8; 16], space_too: u8) -> (u16, u16, u16) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: SSE2 is part of every x86-64; the load reads the 16 bytes of
    // `lane` and needs no alignment.
    unsafe {
        let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
        let mask = |byte: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8))) as u16;
        (mask(b' ') | mask(space_too), mask(b'"'), mask(b'\\'))
    }
}

/// Bits of the spaces, quotes and backslashes in 32 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn lane_masks_avx2(lane: &[u8; 32], space_too: u8) -> (u32, u32, u32) {
    use std::arch::x86_64::{__m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8};
    // SAFETY: the load reads the 32 bytes of `lane` and needs no alignment.
    let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
    let spaces =
        _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b' ' as i8)), _mm256_cmpeq_epi8(v, _mm256_set1_epi8(space_too as i8)));
    let space = _mm256_movemask_epi8(spaces) as u32;
    let quote = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8))) as u32;
    let backslash = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8))) as u32;
    (space, quote, backslash)
}

/// What a 64-byte block holds, bit i for byte i: line terminators (LF,
/// CR), bytes past ASCII or NUL, spaces (and the second byte counted as
/// one), quotes, backslashes.
pub(crate) struct Block {
    pub terminators: u64,
    pub odd: u64,
    pub spaces: u64,
    pub quotes: u64,
    pub backslashes: u64,
}

/// Bit i set where byte i of `block` ends a line (LF or CR), and where it
/// is past ASCII or NUL: sixteen bytes at a time (SSE2, every x86-64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn block_ends(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_setzero_si128};
    let (mut terminators, mut odd) = (0, 0);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        terminators |= u64::from(mask_either(lane.try_into().expect("16 bytes"), b'\n', b'\r')) << (16 * k);
        // SAFETY: SSE2 is part of every x86-64; the load reads the lane's
        // 16 bytes and needs no alignment.
        let lane_odd = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            // High bits (bytes past ASCII) and NULs.
            _mm_movemask_epi8(v) | _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()))
        };
        odd |= u64::from(lane_odd as u16) << (16 * k);
    }
    (terminators, odd)
}

/// Bit i set where byte i of `block` ends a line (LF or CR), and where it
/// is past ASCII or NUL.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn block_ends(block: &[u8; 64]) -> (u64, u64) {
    let mask = |is: &dyn Fn(u8) -> bool| block.iter().enumerate().fold(0u64, |m, (i, &c)| m | (u64::from(is(c)) << i));
    (mask(&|c| c == b'\n' || c == b'\r'), mask(&|c| c == 0 || !c.is_ascii()))
}

/// [`block_ends`] in one load and four compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
pub(crate) fn block_ends_avx512(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_movepi8_mask, _mm512_set1_epi8, _mm512_setzero_si512};
    // SAFETY: the load reads the 64 bytes of `block` and needs no alignment.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let terminators = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\n' as i8)) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\r' as i8));
    (terminators, _mm512_movepi8_mask(v) | _mm512_cmpeq_epi8_mask(v, _mm512_setzero_si512()))
}

/// [`Block`] sixteen bytes at a time (SSE2, every x86-64; elsewhere a byte
/// loop).
#[inline(always)]
fn block_delimiters(block: &[u8; 64], space_too: u8) -> Block {
    let (terminators, odd) = block_ends(block);
    let mut found = Block { terminators, odd, spaces: 0, quotes: 0, backslashes: 0 };
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let (spaces, quotes, backslashes) = lane_masks(lane.try_into().expect("16 bytes"), space_too);
        found.spaces |= u64::from(spaces) << (16 * k);
        found.quotes |= u64::from(quotes) << (16 * k);
        found.backslashes |= u64::from(backslashes) << (16 * k);
    }
    found
}

/// [`Block`] in one load and eight compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
fn block_delimiters_avx512(block: &[u8; 64], space_too: u8) -> Block {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    let (terminators, odd) = block_ends_avx512(block);
    // SAFETY: the load reads the 64 bytes of `block` and needs no alignment
    // (the same load as `block_ends_avx512`'s, which the compiler merges).
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let is = |byte: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(byte as i8));
    Block { terminators, odd, spaces: is(b' ') | is(space_too), quotes: is(b'"'), backslashes: is(b'\\') }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn lane_masks(lane: &[u8; 16], space_too: u8) -> (u16, u16, u16) {
    let mask = |byte: u8| lane.iter().enumerate().fold(0u16, |m, (i, &c)| m | (u16::from(c == byte) << i));
    (mask(b' ') | mask(space_too), mask(b'"'), mask(b'\\'))
}

impl LineMasks {
    /// A reader using the widest compares this CPU has; `tabs`: whether a
    /// tab counts as a space.
    pub(crate) fn new(tabs: bool) -> LineMasks {
        LineMasks::with(Simd::detect(), tabs)
    }

    /// A reader using `simd`, which the CPU must have.
    pub(crate) fn with(simd: Simd, tabs: bool) -> LineMasks {
        let space_too = if tabs { b'\t' } else { b' ' };
        LineMasks { spaces: [0; WORDS], quotes: [0; WORDS], words: 0, backslash: false, simd, space_too }
    }

    /// Reads the masks of `b`; false (and nothing read) when it is shorter
    /// than 16 bytes or longer than [`MASKED_LINE`].
    #[inline(always)]
    pub(crate) fn read(&mut self, b: &[u8]) -> bool {
        let len = b.len();
        if !(16..=MASKED_LINE).contains(&len) {
            return false;
        }
        match self.simd {
            // SAFETY: `simd` names features the CPU has (`Simd::detect`, or
            // a caller of `with` that checked).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.read_avx512(b) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 if len >= 32 => unsafe { self.read_avx2(b) },
            _ => self.read_sse2(b),
        }
        true
    }

    /// Reads the masks of the line starting at `at` in `data`, which ends
    /// at the first LF or CR after `at` or at the data's end, when it ends
    /// within [`MASKED_LINE`] bytes: returns its length, and whether it is
    /// all ASCII without NUL. `None` (and nothing read) for a longer line.
    ///
    /// This is the splitting of raw bytes into lines and the reading of
    /// each line's masks in one pass: each 64-byte block is loaded once,
    /// where a split of a whole chunk first, then a read of each line, went
    /// over the bytes twice (a quarter of parsing a combined log).
    #[inline(always)]
    pub(crate) fn read_line(&mut self, data: &[u8], at: usize) -> Option<(usize, bool)> {
        match self.simd {
            // SAFETY: `simd` names features the CPU has.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.read_line_avx512(data, at) },
            _ => self.read_line_by(data, at, block_delimiters),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw")]
    unsafe fn read_line_avx512(&mut self, data: &[u8], at: usize) -> Option<(usize, bool)> {
        self.read_line_by(data, at, |block, space_too| block_delimiters_avx512(block, space_too))
    }

    #[inline(always)]
    fn read_line_by(&mut self, data: &[u8], at: usize, block: impl Fn(&[u8; 64], u8) -> Block) -> Option<(usize, bool)> {
        let rest = &data[at..];
        let (mut odd, mut backslashes) = (0, 0);
        for word in 0..WORDS {
            let start = 64 * word;
            let (found, present) = match rest.get(start..start + 64) {
                Some(bytes) => (block(bytes.try_into().expect("64 bytes"), self.space_too), u64::MAX),
                None => {
                    // The data's last bytes: read from a copy padded with
                    // zeros, which are no delimiter, and which `present`
                    // keeps out of the ASCII check.
                    let n = rest.len().saturating_sub(start);
                    let mut padded = [0; 64];
                    padded[..n].copy_from_slice(&rest[rest.len() - n..]);
                    (block(&padded, self.space_too), (1u64 << n) - 1)
                }
            };
            let terminators = found.terminators & present;
            // The line's bytes in this word: up to its terminator.
            let line = if terminators != 0 { (1u64 << terminators.trailing_zeros()) - 1 } else { present };
            self.spaces[word] = found.spaces & line;
            self.quotes[word] = found.quotes & line;
            odd |= found.odd & line;
            backslashes |= found.backslashes & line;
            if line != u64::MAX {
                self.words = word + 1;
                self.backslash = backslashes != 0;
                return Some((start + line.count_ones() as usize, odd == 0));
            }
        }
        None
    }

    /// Sixty-four bytes per step: one masked load (bytes past the line are
    /// neither read nor faulted on, and count as zeros, which are no
    /// delimiter) and one compare per byte value, straight into a word.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw")]
    unsafe fn read_avx512(&mut self, b: &[u8]) {
        use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_maskz_loadu_epi8, _mm512_set1_epi8};
        let (space, quote, backslash) = (_mm512_set1_epi8(b' ' as i8), _mm512_set1_epi8(b'"' as i8), _mm512_set1_epi8(b'\\' as i8));
        let space_too = _mm512_set1_epi8(self.space_too as i8);
        let words = b.len().div_ceil(64);
        let mut backslashes = 0;
        for word in 0..words {
            let at = 64 * word;
            let present = match b.len() - at {
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
            // SAFETY: the load touches only the `present` bytes, all in `b`.
            let v = unsafe { _mm512_maskz_loadu_epi8(present, b.as_ptr().add(at).cast()) };
            self.spaces[word] = _mm512_cmpeq_epi8_mask(v, space) | _mm512_cmpeq_epi8_mask(v, space_too);
            self.quotes[word] = _mm512_cmpeq_epi8_mask(v, quote);
            backslashes |= _mm512_cmpeq_epi8_mask(v, backslash);
        }
        self.words = words;
        self.backslash = backslashes != 0;
    }

    /// Thirty-two bytes per step, for a line of at least 32 bytes; the bytes
    /// after the last whole step are the line's last 32, shifted.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn read_avx2(&mut self, b: &[u8]) {
        let len = b.len();
        debug_assert!(len >= 32);
        let whole = len / 32;
        let mut backslashes = 0;
        let mut word = 0;
        while 2 * word < whole {
            let (s0, q0, b0) = lane_masks_avx2(b[64 * word..64 * word + 32].try_into().expect("32 bytes"), self.space_too);
            let (s1, q1, b1) = match b.get(64 * word + 32..64 * word + 64) {
                Some(lane) => lane_masks_avx2(lane.try_into().expect("32 bytes"), self.space_too),
                None => (0, 0, 0),
            };
            self.spaces[word] = u64::from(s0) | u64::from(s1) << 32;
            self.quotes[word] = u64::from(q0) | u64::from(q1) << 32;
            backslashes |= b0 | b1;
            word += 1;
        }
        if !len.is_multiple_of(32) {
            let (s, q, bs) = lane_masks_avx2(b[len - 32..].try_into().expect("32 bytes"), self.space_too);
            word = self.add_last_lane(word, len, 32, s.into(), q.into());
            // Every byte of that lane is the line's: no shift needed here.
            backslashes |= bs;
        }
        self.words = word;
        self.backslash = backslashes != 0;
    }

    /// Sixteen bytes per step (x86-64's baseline, or a byte loop elsewhere).
    #[inline(always)]
    fn read_sse2(&mut self, b: &[u8]) {
        let len = b.len();
        let space_too = self.space_too;
        let lane = |k: usize| lane_masks(b[16 * k..16 * k + 16].try_into().expect("16 bytes"), space_too);
        let mut backslashes = 0;
        // A word's four lanes are put together in registers, then stored.
        let whole = len / 16;
        let mut word = 0;
        while 4 * word < whole {
            let (mut spaces, mut quotes) = (0u64, 0u64);
            for k in 4 * word..(4 * word + 4).min(whole) {
                let (s, q, bs) = lane(k);
                spaces |= u64::from(s) << (16 * (k % 4));
                quotes |= u64::from(q) << (16 * (k % 4));
                backslashes |= bs;
            }
            self.spaces[word] = spaces;
            self.quotes[word] = quotes;
            word += 1;
        }
        if !len.is_multiple_of(16) {
            let (s, q, bs) = lane_masks(b[len - 16..].try_into().expect("16 bytes"), space_too);
            word = self.add_last_lane(word, len, 16, s.into(), q.into());
            // Every byte of that lane is the line's: no shift needed here.
            backslashes |= bs;
        }
        self.words = word;
        self.backslash = backslashes != 0;
    }

    /// Adds the spaces and quotes of the bytes after the last whole lane of
    /// `width` bytes, read as the line's last `width` bytes: shifted so that
    /// only the ones not seen yet remain, into the last of the `words`
    /// filled or a new one. Returns the words now filled.
    #[inline(always)]
    fn add_last_lane(&mut self, mut words: usize, len: usize, width: usize, spaces: u64, quotes: u64) -> usize {
        let shift = width - len % width;
        let at = len / width * width % 64;
        if at == 0 {
            self.spaces[words] = 0;
            self.quotes[words] = 0;
            words += 1;
        }
        self.spaces[words - 1] |= (spaces >> shift) << at;
        self.quotes[words - 1] |= (quotes >> shift) << at;
        words
    }

    /// The first space at or after `at`, or [`MASKED_LINE`] (past the line's end).
    #[inline(always)]
    pub(crate) fn next_space(&self, at: usize) -> usize {
        next_bit(&self.spaces[..self.words], at)
    }

    /// The first quote at or after `at`, or [`MASKED_LINE`].
    #[inline(always)]
    pub(crate) fn next_quote(&self, at: usize) -> usize {
        next_bit(&self.quotes[..self.words], at)
    }

    /// The last space before `end`, if any.
    #[inline(always)]
    pub(crate) fn last_space_before(&self, end: usize) -> Option<usize> {
        let words = &self.spaces[..self.words];
        let mut word = end / 64;
        let mut bits = match words.get(word) {
            Some(w) => w & ((1u64 << (end % 64)) - 1),
            None => 0,
        };
        loop {
            if bits != 0 {
                return Some(word * 64 + 63 - bits.leading_zeros() as usize);
            }
            if word == 0 {
                return None;
            }
            word -= 1;
            bits = words.get(word).copied().unwrap_or(0);
        }
    }
}

#[inline(always)]
fn next_bit(words: &[u64], at: usize) -> usize {
    let mut word = at / 64;
    let Some(first) = words.get(word) else {
        return MASKED_LINE;
    };
    let mut bits = first & (u64::MAX << (at % 64));
    while bits == 0 {
        word += 1;
        match words.get(word) {
            Some(&w) => bits = w,
            None => return MASKED_LINE,
        }
    }
    word * 64 + bits.trailing_zeros() as usize
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn finds_what_a_byte_loop_finds() {
        let alphabet = b"a \t=\"\x80\xff\x00\x20\x09\x21\x1f\x7f";
        let mut state = 11u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..20_000 {
            let len = next() % 70;
            let line: Vec<u8> = (0..len).map(|_| alphabet[next() % alphabet.len()]).collect();
            for at in 0..=len {
                for (x, y) in [(b' ', b'\t'), (b' ', b' '), (0x80, 0xff), (0, b'"')] {
                    let naive = (at..len).find(|&i| line[i] == x || line[i] == y).unwrap_or(len);
                    assert_eq!(find_either(&line, at, x, y), naive, "{line:?} from {at}, {x} {y}");
                }
            }
        }
    }

    #[test]
    fn digits8_reads_what_a_byte_loop_reads() {
        let alphabet = b"0123456789/:- \"\x00\xff";
        let mut state = 13u64;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        for _ in 0..200_000 {
            // Digits mostly, so that whole numbers of every length occur.
            let window: [u8; 8] = std::array::from_fn(|_| if next(4) > 0 { b'0' + next(10) as u8 } else { alphabet[next(alphabet.len())] });
            let len = 1 + next(8);
            let naive =
                window[..len].iter().all(u8::is_ascii_digit).then(|| window[..len].iter().fold(0, |v, &c| v * 10 + (c - b'0') as u64));
            assert_eq!(digits8(&window, len), naive, "{window:?} {len}");
        }
        assert_eq!(digits8(b"99999999", 8), Some(99_999_999));
        assert_eq!(digits8(b"0 \"x\"abc", 1), Some(0));
    }

    #[test]
    fn line_masks_find_what_a_byte_loop_finds() {
        let alphabet = b"a \"\\x\t";
        for simd in [Simd::Sse2, Simd::Avx2, Simd::Avx512] {
            if simd == Simd::Avx512 && Simd::detect() != Simd::Avx512 || simd == Simd::Avx2 && Simd::detect() == Simd::Sse2 {
                eprintln!("{simd:?} is not on this CPU: not tested here");
                continue;
            }
            for tabs in [false, true] {
                masks_find_what_a_byte_loop_finds(LineMasks::with(simd, tabs), tabs, alphabet);
            }
        }
    }

    fn masks_find_what_a_byte_loop_finds(mut masks: LineMasks, tabs: bool, alphabet: &[u8]) {
        let mut state = 5u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..5_000 {
            let len = next() % 530;
            let line: Vec<u8> = (0..len).map(|_| alphabet[next() % alphabet.len()]).collect();
            // One reader for all lines, as a parser keeps it: what one line
            // leaves must not show in the next.
            if !masks.read(&line) {
                assert!(!(16..=MASKED_LINE).contains(&len), "{len}");
                continue;
            }
            assert_masks_of(&masks, &line, tabs);
        }
    }

    /// `masks`, just read from `line`, find what a byte loop finds.
    pub(crate) fn assert_masks_of(masks: &LineMasks, line: &[u8], tabs: bool) {
        let is_space = |c: u8| c == b' ' || tabs && c == b'\t';
        let len = line.len();
        assert_eq!(masks.backslash, line.contains(&b'\\'), "{line:?}");
        for at in 0..=len + 1 {
            let first = |is: &dyn Fn(u8) -> bool| (at..len).find(|&i| is(line[i])).unwrap_or(MASKED_LINE);
            assert_eq!(masks.next_space(at), first(&is_space), "{line:?} from {at}");
            assert_eq!(masks.next_quote(at), first(&|c| c == b'"'), "{line:?} from {at}");
            let end = at.min(len);
            assert_eq!(masks.last_space_before(end), (0..end).rev().find(|&i| is_space(line[i])), "{line:?} before {end}");
        }
    }
}
