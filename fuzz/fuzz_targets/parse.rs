//! Any bytes through every parse format, as raw bytes and as a Binary array:
//! no panic, one row per line, views valid. The first byte picks the format,
//! so one target covers all seven (json twice: a nested schema for arrow-json, a
//! flat one for the direct decoder) (`cargo fuzz run parse`).
#![no_main]

use arrow_array::{Array, BinaryArray};
use arrow_buffer::Buffer;
use libfuzzer_sys::fuzz_target;
use sash_core::{parse_bytes, parse_lines, ParseSpec};

const SPECS: &[&str] = &[
    r#"{"format": "common"}"#,
    r#"{"format": "combined"}"#,
    r#"{"format": "syslog", "reference_time": "2024-02-29T12:00:00Z", "timezone": "Europe/Paris"}"#,
    r#"{"format": "apache_error", "timezone": "America/New_York"}"#,
    r#"{"format": "logfmt"}"#,
    r#"{"format": "logfmt", "fields": {"a": "int", "b": "float", "c": "bool", "t": "timestamp", "s": "string", "e": {"type": "timestamp", "format": "epoch_ms"}}}"#,
    r#"{"format": "json", "schema": [{"name": "a", "type": "int64"}, {"name": "l", "type": {"list": "utf8"}}, {"name": "s", "type": {"struct": [{"name": "b", "type": "float64"}]}}]}"#,
    r#"{"format": "json", "schema": [{"name": "a", "type": "int8"}, {"name": "s", "type": "utf8"}, {"name": "f", "type": "float32"}, {"name": "b", "type": "bool"}, {"name": "t", "type": "timestamp[ns, Europe/Paris]"}, {"name": "u", "type": "uint64"}]}"#,
    r#"{"format": "regex", "pattern": "(?P<a>\\d+)-(?P<b>\\w*) (?P<t>\\S+)", "types": {"a": "int", "t": {"type": "timestamp", "format": "%d/%b/%Y:%H:%M:%S %z"}}}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let spec = ParseSpec::from_json(SPECS[selector as usize % SPECS.len()]).unwrap();
    match parse_bytes(&Buffer::from(bytes), &spec) {
        Ok(out) => {
            assert_eq!(out.parsed + out.failed, out.batch.num_rows());
            out.batch.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
        }
        // Bytes opening with the gzip magic are read as gzip: a corrupt
        // stream is an error for the caller, the one error allowed here.
        Err(e) => assert!(bytes.starts_with(&[0x1f, 0x8b]), "{e}"),
    }
    let array = BinaryArray::from_iter_values(bytes.split(|&c| c == b'\n'));
    let out = parse_lines(&array, &spec).unwrap();
    assert_eq!(out.batch.num_rows(), array.len());
    out.batch.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
});
