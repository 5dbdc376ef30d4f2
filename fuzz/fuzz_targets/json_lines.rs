//! JSON lines against hostile nesting and shapes (`cargo fuzz run json_lines`):
//! no panic, no stack overflow, one row per line, a failed row for every
//! line nested deeper than 128 levels. The first byte picks a schema; the
//! second, when odd, wraps the rest of the input in that many hundred
//! levels of `[`/`{`, so deep lines are reached at once.
#![no_main]

use arrow_array::{Array, StringArray};
use libfuzzer_sys::fuzz_target;
use sash_core::{parse_lines, ParseSpec};

const SCHEMAS: &[&str] = &[
    r#"[{"name": "a", "type": "int64"}]"#,
    r#"[{"name": "a", "type": {"list": {"list": "int64"}}}, {"name": "s", "type": "utf8"}]"#,
    r#"[{"name": "a", "type": {"struct": [{"name": "b", "type": {"list": "float64"}}]}}]"#,
    r#"[{"name": "a", "type": "utf8"}, {"name": "b", "type": "bool"}, {"name": "t", "type": "timestamp[ms]"}]"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Some((&depth, body)) = rest.split_first() else { return };
    let schema = SCHEMAS[selector as usize % SCHEMAS.len()];
    let spec = ParseSpec::from_json(&format!(r#"{{"format": "json", "schema": {schema}}}"#)).unwrap();
    let body = String::from_utf8_lossy(body);
    let text = if depth % 2 == 1 {
        let levels = depth as usize * 100;
        let open = if depth % 4 == 1 { "[" } else { "{\"a\":" };
        let close = if depth % 4 == 1 { "]" } else { "}" };
        format!("{{\"a\":{}{body}{}}}", open.repeat(levels), close.repeat(levels))
    } else {
        body.into_owned()
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let array = StringArray::from(lines.clone());
    let out = parse_lines(&array, &spec).unwrap();
    assert_eq!(out.batch.num_rows(), lines.len());
    out.batch.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
    if depth % 2 == 1 && depth > 1 {
        // 200 levels and more: the wrapped line cannot parse.
        let errors = out.batch.column_by_name("_error").unwrap();
        assert!(!errors.is_null(0), "a line nested {} deep parsed", depth as usize * 100);
    }
});
