//! Multi-line records over any bytes (`cargo fuzz run records`): the rows of
//! one whole parse equal those of a stream reader cutting the same bytes
//! into chunks of any size, runaway records included, and every column is
//! valid. The first byte picks the record start and limits, the second the
//! chunk size.
#![no_main]

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use libfuzzer_sys::fuzz_target;
use sash_core::{parse_bytes, ParseReader, ParseSpec};

const STARTS: &[&str] = &["timestamp", "^\\S", "^[0-9]", "^$", "x"];

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, bytes @ ..] = data else { return };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let start = STARTS[*selector as usize % STARTS.len()];
    let spec = serde_json::json!({
        "format": "regex", "pattern": "^(?P<head>\\S*)(?P<rest>.*)$", "record_start": start,
        "max_record_lines": 1 + (selector / 8) as u64 % 6, "max_record_bytes": 1 + (*selector as u64 % 64) * 4,
    });
    let spec = ParseSpec::from_value(&spec).unwrap();
    let whole = parse_bytes(&Buffer::from(bytes), &spec).unwrap().batch;
    whole.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
    let reader = ParseReader::new(bytes, &spec).unwrap().with_chunk_bytes(1 + *chunk as usize);
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|o| o.unwrap().batch).collect();
    let chunked = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    assert_eq!(chunked, whole);
});
