//! What every parse fuzz target asks of a parse that a spec compiled for.

use arrow_buffer::Buffer;
use sash_core::{parse_bytes, ParseSpec};

/// `lines` parsed whole with `spec`: no error (gzip-looking input, the one
/// error allowed, is skipped), every row counted as parsed or failed, every
/// column valid.
pub fn parses_validly(lines: &[u8], spec: &ParseSpec) {
    if lines.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let out = parse_bytes(&Buffer::from(lines), spec).unwrap();
    assert_eq!(out.parsed + out.failed, out.batch.num_rows());
    out.batch.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
}
