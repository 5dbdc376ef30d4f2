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

#[cfg(test)]
mod tests {
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
}
