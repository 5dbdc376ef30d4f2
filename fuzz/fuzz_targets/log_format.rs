//! Any nginx or Apache format string, then any lines (`cargo fuzz run
//! log_format`): compiling gives a spec error or a parser, never a panic;
//! the parser gives one row per line with valid columns. The first byte
//! picks the server, the format string runs to the first NUL, the lines follow.
#![no_main]

mod checks;

use libfuzzer_sys::fuzz_target;
use sash_core::ParseSpec;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let split = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
    let Ok(format) = std::str::from_utf8(&rest[..split]) else { return };
    let lines = rest.get(split + 1..).unwrap_or_default();
    let server = if selector % 2 == 0 { "nginx" } else { "apache" };
    let spec = serde_json::json!({"format": server, "log_format": format, "timezone": "Europe/Paris"});
    let Ok(spec) = ParseSpec::from_value(&spec) else { return };
    checks::parses_validly(lines, &spec);
});
