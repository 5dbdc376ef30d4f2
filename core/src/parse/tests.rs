#[test]
fn a_gzip_that_decompresses_past_the_bound_is_too_large_not_corrupt() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b'\n'; 3 << 20]).unwrap();
    let gz = arrow_buffer::Buffer::from_vec(gz.finish().unwrap());
    let mut spec = super::ParseSpec::from_json(r#"{"format": "combined", "max_decompressed_bytes": 2097152}"#).unwrap();
    let err = super::Parser::new(&spec).unwrap().parse_bytes(&gz).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::ResourceLimit, "{err}");
    assert!(err.to_string().contains("max_decompressed_bytes (2097152 bytes)"), "{err}");
    spec.max_decompressed_bytes = 3 << 20;
    let out = super::Parser::new(&spec).unwrap().parse_bytes(&gz).unwrap();
    assert_eq!(out.failed, 3 << 20);
    assert_eq!(super::ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap().max_decompressed_bytes, 256 << 20);
    for bad in ["0", "-1", "1.5", "true", "\"1\""] {
        let err = super::ParseSpec::from_json(&format!(r#"{{"format": "combined", "max_decompressed_bytes": {bad}}}"#)).unwrap_err();
        assert!(err.to_string().contains("max_decompressed_bytes must be a positive integer"), "{err}");
    }
}

use super::scan::tests::assert_masks_of;
use super::scan::{LineMasks, MASKED_LINE};
use super::{for_each_line, split_lines, Simd};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The rule, byte by byte: LF, CRLF or a lone CR ends a line.
fn split_lines_byte_by_byte(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\n' | b'\r' => {
                spans.push((start, i));
                i += if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        spans.push((start, b.len()));
    }
    spans
}

#[test]
fn split_lines_matches_the_byte_by_byte_rule_across_block_edges() {
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..5000 {
        // Dense terminators and lengths around the 64-byte blocks, so that
        // CRLFs straddle block edges and tails of every length occur.
        let len = rng.random_range(0..300);
        // Non-ASCII bytes and NULs rare, so that many inputs have none.
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.random_range(0..1000) {
                0 => b'\xff',
                1 => 0,
                _ => *[b'a', b'\n', b'\r', b' '].get(rng.random_range(0..7)).unwrap_or(&b'x'),
            })
            .collect();
        assert_eq!(split_lines(&bytes), split_lines_byte_by_byte(&bytes), "{bytes:?}");
        let plain = bytes.iter().all(|&c| c != 0 && c.is_ascii());
        for simd in [Simd::Sse2, Simd::Avx512] {
            if simd == Simd::Avx512 && Simd::detect() != Simd::Avx512 {
                continue;
            }
            let mut spans = Vec::new();
            assert_eq!(for_each_line(&bytes, simd, |start, end| spans.push((start, end))), plain, "{simd:?} {bytes:?}");
            assert_eq!(spans, split_lines_byte_by_byte(&bytes), "{simd:?} {bytes:?}");
        }
    }
}

#[test]
fn lines_read_with_their_masks_split_as_the_byte_by_byte_rule_does() {
    let mut rng = StdRng::seed_from_u64(8);
    for simd in [Simd::Sse2, Simd::Avx512] {
        if simd == Simd::Avx512 && Simd::detect() != Simd::Avx512 {
            eprintln!("{simd:?} is not on this CPU: not tested here");
            continue;
        }
        for tabs in [false, true] {
            // One reader for every input, as a parse keeps it: what a
            // line leaves must not show in the next.
            let mut masks = LineMasks::with(simd, tabs);
            for _ in 0..3000 {
                // Lines of every length around the 64-byte blocks and the
                // masks' limit, and inputs ending anywhere in a block.
                let len = rng.random_range(0..1400);
                let terminators = rng.random_range(1..200);
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match rng.random_range(0..terminators + 40) {
                        0 => b'\r',
                        1..=6 => b' ',
                        7..=9 => b'"',
                        10..=11 => b'\t',
                        12 if rng.random_bool(0.3) => b'\\',
                        13 if rng.random_bool(0.1) => 0,
                        14 if rng.random_bool(0.1) => 0xC3,
                        15..=39 => b'a',
                        _ => b'\n',
                    })
                    .collect();
                let mut spans = Vec::new();
                let mut at = 0;
                while at < bytes.len() {
                    let line_end = at + bytes[at..].iter().position(|&c| c == b'\n' || c == b'\r').unwrap_or(bytes.len() - at);
                    let line = &bytes[at..line_end];
                    match masks.read_line(&bytes, at) {
                        None => assert!(line.len() >= MASKED_LINE, "{simd:?} {line:?}"),
                        Some((len, plain)) => {
                            assert_eq!(len, line.len(), "{simd:?} {line:?} in {bytes:?}");
                            assert_eq!(plain, line.iter().all(|&c| c != 0 && c.is_ascii()), "{simd:?} {line:?}");
                            assert_masks_of(&masks, line, tabs);
                        }
                    }
                    spans.push((at, line_end));
                    at = line_end + if bytes[line_end..].starts_with(b"\r\n") { 2 } else { 1 };
                }
                assert_eq!(spans, split_lines_byte_by_byte(&bytes));
            }
        }
    }
}

/// A growing text fed through `complete_records` and `parse_bytes` piece by
/// piece, cut after every line, gives the rows of the whole text parsed at
/// once; a record past the limits is given at once, not held.
#[test]
fn complete_records_hold_back_only_the_record_that_may_go_on() {
    let spec = super::ParseSpec::from_json(
        r#"{"format": "regex", "pattern": "^(?<ts>\\S+ \\S+) (?<msg>.*)$", "record_start": "timestamp", "max_record_lines": 4}"#,
    )
    .unwrap();
    let text = "2024-05-17 10:00:00 a\n\tat x\n2024-05-17 10:00:01 b\n2024-05-17 10:00:02 c\n\tat y\n\tat z\n\n\tat w\n\tat v\n2024-05-17 10:00:03 d\n";
    let whole = super::Parser::new(&spec).unwrap().parse_bytes(&arrow_buffer::Buffer::from(text.as_bytes())).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut parser = super::Parser::new(&spec).unwrap();
    let (mut held, mut batches) = (String::new(), Vec::new());
    for line in &lines {
        held.push_str(line);
        let complete = parser.complete_records(held.as_bytes());
        assert_eq!(complete.lines as usize, held[..complete.bytes].matches('\n').count());
        if complete.bytes > 0 {
            batches.push(parser.parse_bytes(&arrow_buffer::Buffer::from(&held.as_bytes()[..complete.bytes])).unwrap().batch);
        }
        held.drain(..complete.bytes);
        // What is held is within the limits: one record, or lines that go on one.
        assert!(held.matches('\n').count() <= 4, "{held:?}");
    }
    batches.push(parser.parse_bytes(&arrow_buffer::Buffer::from(held.as_bytes())).unwrap().batch);
    let pieces = arrow_select::concat::concat_batches(&whole.batch.schema(), &batches).unwrap();
    assert_eq!(pieces, whole.batch);
    assert_eq!(whole.batch.num_rows(), 4, "a, b, c (a runaway of 6 lines, failed) and d");
    assert_eq!(whole.failed, 1);
}
