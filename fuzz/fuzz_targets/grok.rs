//! Any grok pattern with the built-in library and one pattern definition of
//! its own, then any lines (`cargo fuzz run grok`): compiling gives a spec
//! error or a parser, never a panic or a hang (cycles, depth, exponential
//! expansion are refused); parsing gives one row per line with valid
//! columns. Pattern, own definition and lines are separated by NULs.
#![no_main]

mod checks;

use libfuzzer_sys::fuzz_target;
use sash_core::ParseSpec;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&c| c == 0);
    let (Some(pattern), Some(own)) = (parts.next(), parts.next()) else { return };
    let (Ok(pattern), Ok(own)) = (std::str::from_utf8(pattern), std::str::from_utf8(own)) else { return };
    let lines = parts.next().unwrap_or_default();
    let spec = serde_json::json!({"format": "grok", "pattern": pattern, "patterns": {"OWN": own}});
    let Ok(spec) = ParseSpec::from_value(&spec) else { return };
    checks::parses_validly(lines, &spec);
});
