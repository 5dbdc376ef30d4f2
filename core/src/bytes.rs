//! Byte-level helpers shared by the parser and the grouper; a leaf module
//! that imports nothing from the crate.

/// Byte-string equality for the short strings parsers compare per line
/// (keys, repeated timestamps): fixed-size overlapping loads instead of a
/// `memcmp` call, which costs more than the comparison itself.
#[inline(always)]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    let u64_at = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let u32_at = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match len {
        // Each byte of a one to three byte string is its first, middle
        // or last (a slice compare would call `memcmp`).
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=8 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, len - 4) == u32_at(b, len - 4),
        9..=32 => {
            let mut i = 0;
            while i + 8 < len {
                if u64_at(a, i) != u64_at(b, i) {
                    return false;
                }
                i += 8;
            }
            u64_at(a, len - 8) == u64_at(b, len - 8)
        }
        _ => a == b,
    }
}

/// Whether `b` holds `text` at `at` (a parser's literal: short, where a
/// slice compare would call `memcmp`).
#[inline(always)]
pub(crate) fn has_at(b: &[u8], at: usize, text: &[u8]) -> bool {
    b.get(at..at + text.len()).is_some_and(|here| short_eq(here, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_eq_is_equality() {
        let text: Vec<u8> = (0..50u8).map(|i| b'a' + i % 7).collect();
        for len in 0..45 {
            for a in 0..5 {
                for b in 0..5 {
                    let (x, y) = (&text[a..a + len], &text[b..b + len]);
                    assert_eq!(short_eq(x, y), x == y, "{len} {a} {b}");
                    assert!(!short_eq(x, &text[b..b + len + 1]));
                }
            }
        }
    }
}
