//! One parser per log format, each a `LineParser` (or, for JSON, a decoder)
//! over the shared column builders in `row` and helpers in `fields`.

pub(crate) mod access;
pub(crate) mod apache_error;
pub(crate) mod captures;
pub(crate) mod container;
pub(crate) mod grok;
pub(crate) mod grok_patterns;
pub(crate) mod json;
pub(crate) mod json_flat;
pub(crate) mod log_format;
pub(crate) mod logfmt;
pub(crate) mod pattern;
pub(crate) mod syslog;
