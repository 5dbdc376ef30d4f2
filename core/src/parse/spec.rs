//! The parse spec: which format, which options. Its canonical form is a JSON
//! object (`docs/parsing.md`), passed unchanged by every binding, and like the
//! window spec it rejects keys it does not know, so a typo never silently
//! changes what a parse means.

use super::time::{now_us, TimeFormat, Zone};
use crate::error::{Result, SashError};
use crate::spec::{check_keys, string_key};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use serde_json::Value;
use std::sync::Arc;

/// The log formats sash parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Apache/nginx Common Log Format.
    Common,
    /// Common plus referrer and user agent.
    Combined,
    /// RFC 5424 and RFC 3164 (with or without `<PRI>`), detected per line.
    Syslog,
    /// Apache error log, 2.2 and 2.4 layouts.
    ApacheError,
    /// `key=value` pairs.
    Logfmt,
    /// One JSON value per line, decoded into a declared schema.
    Json,
    /// A regular expression with named groups.
    Regex,
    /// An nginx access log in the layout of its `log_format` string.
    Nginx,
    /// An Apache access log in the layout of its `LogFormat` string.
    Apache,
    /// Logstash-style grok patterns on a linear-time regex engine.
    Grok,
    /// Kubernetes' CRI container logs (`TIME STREAM F|P MESSAGE`).
    Cri,
    /// Docker's json-file container logs.
    Docker,
}

impl LogFormat {
    pub const NAMES: &'static [&'static str] =
        &["common", "combined", "syslog", "apache_error", "logfmt", "json", "regex", "nginx", "apache", "grok", "cri", "docker"];

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Common => "common",
            LogFormat::Combined => "combined",
            LogFormat::Syslog => "syslog",
            LogFormat::ApacheError => "apache_error",
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
            LogFormat::Regex => "regex",
            LogFormat::Nginx => "nginx",
            LogFormat::Apache => "apache",
            LogFormat::Grok => "grok",
            LogFormat::Cri => "cri",
            LogFormat::Docker => "docker",
        }
    }

    /// The spec keys this format takes besides the ones every format takes.
    fn own_keys(self) -> &'static [&'static str] {
        match self {
            LogFormat::Common | LogFormat::Combined | LogFormat::ApacheError => &["strings", "timezone"],
            LogFormat::Syslog => &["strings", "timezone", "reference_time"],
            LogFormat::Logfmt => &["strings", "timezone", "fields"],
            // Types, string types included, come from the declared schema.
            LogFormat::Json => &["schema"],
            LogFormat::Regex => &["strings", "timezone", "pattern", "types"],
            LogFormat::Nginx | LogFormat::Apache => &["strings", "timezone", "log_format"],
            LogFormat::Grok => &["strings", "timezone", "pattern", "patterns", "patterns_file", "types"],
            LogFormat::Cri | LogFormat::Docker => &["strings", "timezone", "inner"],
        }
    }
}

/// How string fields come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringOutput {
    /// Utf8View pointing into the input's own buffers (zero-copy).
    #[default]
    View,
    /// Utf8 (a copy), for consumers that cannot read views.
    Utf8,
    /// LargeUtf8 (a copy).
    LargeUtf8,
}

impl StringOutput {
    pub(crate) fn data_type(self) -> DataType {
        match self {
            StringOutput::View => DataType::Utf8View,
            StringOutput::Utf8 => DataType::Utf8,
            StringOutput::LargeUtf8 => DataType::LargeUtf8,
        }
    }
}

/// What a line that does not parse does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Keep the row, with the reason in `_error`.
    #[default]
    Mark,
    /// Fail the whole call with [`SashError::Parse`] naming the line.
    Raise,
}

/// The declared type of a logfmt field or a regex group.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String,
    Int,
    Float,
    Bool,
    Timestamp(TimeFormat),
}

impl FieldType {
    fn from_json(name: &str, value: &Value) -> Result<FieldType> {
        let bad = || {
            SashError::spec(format!(
                "type of '{name}' must be \"string\", \"int\", \"float\", \"bool\", \"timestamp\" or {{\"type\": \"timestamp\", \"format\": ...}}, got {value}"
            ))
        };
        match value {
            Value::String(s) => match s.as_str() {
                "string" | "utf8" | "str" => Ok(FieldType::String),
                "int" | "int64" | "integer" => Ok(FieldType::Int),
                "float" | "float64" | "double" => Ok(FieldType::Float),
                "bool" | "boolean" => Ok(FieldType::Bool),
                "timestamp" => Ok(FieldType::Timestamp(TimeFormat::Auto)),
                _ => Err(bad()),
            },
            Value::Object(map) => {
                check_keys(map, &["type", "format"], &format!("type of '{name}'"))?;
                if map.get("type").and_then(Value::as_str) != Some("timestamp") {
                    return Err(bad());
                }
                let format = match map.get("format") {
                    None | Some(Value::Null) => TimeFormat::Auto,
                    Some(Value::String(f)) => TimeFormat::parse(f)?,
                    Some(other) => return Err(SashError::spec(format!("the timestamp format of '{name}' must be a string, got {other}"))),
                };
                Ok(FieldType::Timestamp(format))
            }
            _ => Err(bad()),
        }
    }

    pub(crate) fn data_type(&self, strings: StringOutput) -> DataType {
        match self {
            FieldType::String => strings.data_type(),
            FieldType::Int => DataType::Int64,
            FieldType::Float => DataType::Float64,
            FieldType::Bool => DataType::Boolean,
            FieldType::Timestamp(_) => timestamp_type(),
        }
    }
}

/// Every parsed timestamp is UTC microseconds.
pub(crate) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
}

/// A parse: the format and its options.
#[derive(Debug, Clone)]
pub struct ParseSpec {
    pub format: LogFormat,
    pub on_error: OnError,
    pub strings: StringOutput,
    /// The zone of timestamps that carry no offset (default UTC).
    pub timezone: Zone,
    /// RFC 3164 timestamps have no year: it is taken from this time (µs since
    /// the epoch, UTC), one year earlier when the date would be more than a
    /// day after it. Defaults to the time the spec is made.
    pub reference_time_us: i64,
    /// logfmt: declared fields, in output order; empty means one Map column.
    pub fields: Vec<(String, FieldType)>,
    /// json: the declared schema.
    pub schema: Option<Fields>,
    /// regex: the pattern and the types of its groups (string when absent).
    pub pattern: Option<String>,
    /// nginx/apache: the server's format string (its `combined` when absent).
    pub log_format: Option<String>,
    /// cri/docker: the format of the container's own lines (none: a `message` column).
    pub inner: Option<Box<ParseSpec>>,
    /// Multi-line records: which lines begin one (none: every line is a row).
    pub records: Option<super::records::Records>,
    /// grok: pattern definitions besides the built-in ones (`patterns_file`'s,
    /// then `patterns`', a later one winning), in order.
    pub patterns: Vec<(String, String)>,
    pub types: Vec<(String, FieldType)>,
    /// Lines longer than this many bytes are failed rows, not parsed; a
    /// stream reader keeps only this much of one (memory stays bounded
    /// whatever the input, a file without line ends included).
    pub max_line_bytes: usize,
    /// A gzip-compressed input parsed in one call (`parse_bytes`, a whole
    /// file) may decompress to at most this many bytes; more is a
    /// `resource_limit` error, as a few kilobytes of gzip can hold gigabytes.
    /// Streaming reads (`ParseReader`) decompress chunk by chunk and need no bound.
    pub max_decompressed_bytes: u64,
}

/// The default of `ParseSpec::max_decompressed_bytes`: 256 MiB. An empty
/// line still costs a row of every column (about 200 bytes for an access
/// log), so a gigabyte of newlines, which gzip packs into one megabyte,
/// would need some 200 GB; a log larger than the bound is read in batches.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 256 << 20;

/// The default of `ParseSpec::max_line_bytes`: 16 MiB, eight times DuckDB's
/// `max_line_size` default, far above any log line.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

impl ParseSpec {
    /// A spec with every option at its default.
    pub fn new(format: LogFormat) -> ParseSpec {
        ParseSpec {
            format,
            on_error: OnError::Mark,
            strings: StringOutput::View,
            timezone: Zone::Utc,
            reference_time_us: now_us(),
            fields: Vec::new(),
            schema: None,
            pattern: None,
            log_format: None,
            patterns: Vec::new(),
            records: None,
            inner: None,
            types: Vec::new(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }

    /// Parses the canonical JSON form.
    pub fn from_json(text: &str) -> Result<ParseSpec> {
        let value = crate::spec::parse_json(text)?;
        ParseSpec::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<ParseSpec> {
        let map = value.as_object().ok_or_else(|| SashError::spec("a parse spec must be a JSON object"))?;
        let format = match map.get("format") {
            Some(Value::String(name)) => match name.as_str() {
                "common" => LogFormat::Common,
                "combined" => LogFormat::Combined,
                "syslog" => LogFormat::Syslog,
                "apache_error" => LogFormat::ApacheError,
                "logfmt" => LogFormat::Logfmt,
                "json" => LogFormat::Json,
                "regex" => LogFormat::Regex,
                "nginx" => LogFormat::Nginx,
                "apache" => LogFormat::Apache,
                "grok" => LogFormat::Grok,
                "cri" => LogFormat::Cri,
                "docker" => LogFormat::Docker,
                other => {
                    return Err(SashError::spec(format!("unknown format '{other}'; expected one of: {}", LogFormat::NAMES.join(", "))))
                }
            },
            None | Some(Value::Null) => {
                return Err(SashError::spec(format!("'format' is required: one of {}", LogFormat::NAMES.join(", "))))
            }
            Some(other) => return Err(SashError::spec(format!("'format' must be a string, got {other}"))),
        };
        let common =
            ["format", "on_error", "max_line_bytes", "max_decompressed_bytes", "record_start", "max_record_lines", "max_record_bytes"];
        for key in map.keys() {
            if !common.contains(&key.as_str()) && !format.own_keys().contains(&key.as_str()) {
                let mut allowed: Vec<&str> = common.to_vec();
                allowed.extend_from_slice(format.own_keys());
                return Err(SashError::spec(format!(
                    "unknown key '{key}' in a parse spec for format '{}'; allowed keys: {}",
                    format.as_str(),
                    allowed.join(", ")
                )));
            }
        }
        let mut spec = ParseSpec::new(format);
        spec.on_error = match string_key(map, "on_error")?.as_deref() {
            None | Some("mark") => OnError::Mark,
            Some("raise") => OnError::Raise,
            Some(other) => return Err(SashError::spec(format!("on_error must be \"mark\" or \"raise\", got \"{other}\""))),
        };
        spec.strings = match string_key(map, "strings")?.as_deref() {
            None | Some("view") | Some("utf8_view") => StringOutput::View,
            Some("utf8") => StringOutput::Utf8,
            Some("large_utf8") => StringOutput::LargeUtf8,
            Some(other) => return Err(SashError::spec(format!("strings must be \"view\", \"utf8\" or \"large_utf8\", got \"{other}\""))),
        };
        match map.get("max_line_bytes") {
            None | Some(Value::Null) => {}
            Some(value) => {
                // At most 4 GiB - 1: string views and offsets address a line with 32 bits.
                spec.max_line_bytes =
                    value.as_u64().filter(|&n| n > 0 && n <= u64::from(u32::MAX)).map(|n| n as usize).ok_or_else(|| {
                        SashError::spec(format!("max_line_bytes must be a positive integer (bytes) of at most {}, got {value}", u32::MAX))
                    })?
            }
        }
        match map.get("max_decompressed_bytes") {
            None | Some(Value::Null) => {}
            Some(value) => {
                spec.max_decompressed_bytes = value
                    .as_u64()
                    .filter(|&n| n > 0 && !value.is_boolean())
                    .ok_or_else(|| SashError::spec(format!("max_decompressed_bytes must be a positive integer (bytes), got {value}")))?
            }
        }
        spec.records = records(map, format)?;
        if let Some(tz) = string_key(map, "timezone")? {
            spec.timezone = Zone::parse(&tz)?;
        }
        if let Some(text) = string_key(map, "reference_time")? {
            spec.reference_time_us = super::time::parse_reference_time(&text)?;
        }
        match format {
            LogFormat::Logfmt => {
                spec.fields = typed_names(map.get("fields"), "fields")?;
                check_unique(spec.fields.iter().map(|(n, _)| n.as_str()), "fields")?;
            }
            LogFormat::Json => {
                let schema = map.get("schema").ok_or_else(|| {
                    SashError::spec("format 'json' needs 'schema': a list of {\"name\", \"type\"} fields (see docs/parsing.md)")
                })?;
                let fields = json_fields(schema)?;
                check_unique(fields.iter().map(|f| f.name().as_str()), "schema")?;
                spec.schema = Some(fields);
            }
            LogFormat::Regex => {
                let pattern = string_key(map, "pattern")?
                    .ok_or_else(|| SashError::spec("format 'regex' needs 'pattern': a regular expression with named groups"))?;
                spec.types = typed_names(map.get("types"), "types")?;
                spec.pattern = Some(pattern);
            }
            LogFormat::Cri | LogFormat::Docker => {
                spec.inner = match map.get("inner") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(Box::new(ParseSpec::from_value(&serde_json::json!({"format": name}))?)),
                    Some(Value::Object(_)) => Some(Box::new(ParseSpec::from_value(&map["inner"])?)),
                    Some(other) => {
                        return Err(SashError::spec(format!("'inner' must be a format name or a parse spec object, got {other}")))
                    }
                };
                if let Some(inner) = &spec.inner {
                    if matches!(inner.format, LogFormat::Json | LogFormat::Cri | LogFormat::Docker) || inner.records.is_some() {
                        return Err(SashError::spec(format!(
                            "'inner' must be a line format without record_start (not {}): the container's message is one line",
                            inner.format.as_str()
                        )));
                    }
                }
            }
            LogFormat::Grok => {
                let pattern = string_key(map, "pattern")?.ok_or_else(|| {
                    SashError::spec("format 'grok' needs 'pattern': a grok pattern such as \"%{IPORHOST:client} %{GREEDYDATA:rest}\"")
                })?;
                spec.types = typed_names(map.get("types"), "types")?;
                if let Some(path) = string_key(map, "patterns_file")? {
                    spec.patterns = patterns_file(&path)?;
                }
                match map.get("patterns") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(defs)) => {
                        for (name, definition) in defs {
                            let definition = definition.as_str().ok_or_else(|| {
                                SashError::spec(format!("'patterns' maps a name to a pattern string; '{name}' is {definition}"))
                            })?;
                            spec.patterns.push((name.clone(), definition.to_string()));
                        }
                    }
                    Some(other) => return Err(SashError::spec(format!("'patterns' must be an object name → pattern, got {other}"))),
                }
                spec.pattern = Some(pattern);
                crate::parse::check_grok(&spec)?;
            }
            LogFormat::Nginx | LogFormat::Apache => {
                spec.log_format = string_key(map, "log_format")?;
                // Compiled now, so a bad string is an error of the spec, before any data is read.
                crate::parse::check_log_format(&spec)?;
            }
            _ => {}
        }
        Ok(spec)
    }
}

/// `record_start` and its limits.
fn records(map: &serde_json::Map<String, Value>, format: LogFormat) -> Result<Option<super::records::Records>> {
    use super::records::{Records, DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_LINES};
    let limit = |key: &str, default: usize| -> Result<usize> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|&n| n > 0 && n <= u64::from(u32::MAX) && !value.is_boolean())
                .map(|n| n as usize)
                .ok_or_else(|| SashError::spec(format!("{key} must be a positive integer of at most {}, got {value}", u32::MAX))),
        }
    };
    let (max_lines, max_bytes) =
        (limit("max_record_lines", DEFAULT_MAX_RECORD_LINES)?, limit("max_record_bytes", DEFAULT_MAX_RECORD_BYTES)?);
    let container = match format {
        LogFormat::Cri => Some(super::records::Container::Cri),
        LogFormat::Docker => Some(super::records::Container::Docker),
        _ => None,
    };
    if let Some(kind) = container {
        if map.contains_key("record_start") {
            return Err(SashError::spec("cri and docker join their runtime's partial lines themselves: they take no record_start"));
        }
        return Ok(Some(Records::container(kind, max_lines, max_bytes)));
    }
    let Some(start) = string_key(map, "record_start")? else {
        if map.contains_key("max_record_lines") || map.contains_key("max_record_bytes") {
            return Err(SashError::spec("max_record_lines and max_record_bytes bound multi-line records: give record_start too"));
        }
        return Ok(None);
    };
    if format == LogFormat::Json {
        return Err(SashError::spec("record_start joins lines into records for line formats; json reads one value per line"));
    }
    Ok(Some(Records::new(&start, max_lines, max_bytes)?))
}

/// A grok patterns file: `NAME definition` per line, `#` comments and blank lines skipped.
fn patterns_file(path: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| SashError::spec(format!("patterns_file '{path}': {e}")))?;
    let mut patterns = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, definition) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| SashError::spec(format!("patterns_file '{path}' line {}: expected 'NAME pattern'", n + 1)))?;
        patterns.push((name.to_string(), definition.trim_start().to_string()));
    }
    Ok(patterns)
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, what: &str) -> Result<()> {
    let mut seen = Vec::new();
    for name in names {
        if name == "_error" {
            return Err(SashError::spec(format!("'{what}' cannot declare '_error': that name is the error column")));
        }
        if seen.contains(&name) {
            return Err(SashError::spec(format!("'{what}' declares '{name}' twice")));
        }
        seen.push(name);
    }
    Ok(())
}

/// `{"name": type, ...}` in written order.
fn typed_names(value: Option<&Value>, key: &str) -> Result<Vec<(String, FieldType)>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, t)| {
                if name.is_empty() {
                    return Err(SashError::spec(format!("'{key}' has an empty name; every field needs one")));
                }
                Ok((name.clone(), FieldType::from_json(name, t)?))
            })
            .collect(),
        Some(other) => Err(SashError::spec(format!("'{key}' must be an object name → type, got {other}"))),
    }
}

/// The json format's schema: `[{"name": "a", "type": "int64"}, ...]` where a
/// type is a corpus type string or `{"struct": [fields]}` / `{"list": type}`.
fn json_fields(value: &Value) -> Result<Fields> {
    let items = value.as_array().ok_or_else(|| SashError::spec(format!("'schema' must be a list of fields, got {value}")))?;
    if items.is_empty() {
        return Err(SashError::spec("'schema' is empty; declare at least one field"));
    }
    let fields = items
        .iter()
        .map(|item| {
            let map =
                item.as_object().ok_or_else(|| SashError::spec(format!("a schema field must be {{\"name\", \"type\"}}, got {item}")))?;
            check_keys(map, &["name", "type"], "a schema field")?;
            let name =
                map.get("name").and_then(Value::as_str).ok_or_else(|| SashError::spec(format!("schema field without a name: {item}")))?;
            let data_type = json_type(map.get("type").ok_or_else(|| SashError::spec(format!("schema field '{name}' has no type")))?)?;
            Ok(Field::new(name, data_type, true))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Fields::from(fields))
}

fn json_type(value: &Value) -> Result<DataType> {
    match value {
        Value::String(s) => scalar_type(s),
        Value::Object(map) if map.len() == 1 && map.contains_key("struct") => Ok(DataType::Struct(json_fields(&map["struct"])?)),
        Value::Object(map) if map.len() == 1 && map.contains_key("list") => {
            Ok(DataType::List(Arc::new(Field::new("item", json_type(&map["list"])?, true))))
        }
        other => {
            Err(SashError::spec(format!("unknown json field type {other}; use a type string, {{\"struct\": [...]}} or {{\"list\": type}}")))
        }
    }
}

fn scalar_type(text: &str) -> Result<DataType> {
    let unknown = || SashError::spec(format!("unknown json field type '{text}'"));
    let t = text.trim();
    // timestamp[unit] or timestamp[unit, zone], any unit, any IANA zone or offset.
    if let Some(inner) = t.strip_prefix("timestamp[").and_then(|rest| rest.strip_suffix(']')) {
        let (unit, zone) = match inner.split_once(',') {
            Some((unit, zone)) => (unit.trim(), Some(zone.trim())),
            None => (inner.trim(), None),
        };
        let unit = match unit {
            "s" => TimeUnit::Second,
            "ms" => TimeUnit::Millisecond,
            "us" => TimeUnit::Microsecond,
            "ns" => TimeUnit::Nanosecond,
            _ => return Err(unknown()),
        };
        let zone = match zone {
            Some(zone) => {
                zone.parse::<arrow_array::timezone::Tz>()
                    .map_err(|e| SashError::spec(format!("json field type '{text}': unknown time zone '{zone}': {e}")))?;
                Some(Arc::from(zone))
            }
            None => None,
        };
        return Ok(DataType::Timestamp(unit, zone));
    }
    if let Some(inner) = t.strip_prefix("decimal128(").and_then(|rest| rest.strip_suffix(')')) {
        let (p, s) = inner.split_once(',').ok_or_else(unknown)?;
        let p: u8 = p.trim().parse().map_err(|_| unknown())?;
        let s: i8 = s.trim().parse().map_err(|_| unknown())?;
        if p == 0 || p > 38 || s > p as i8 {
            return Err(SashError::spec(format!("json field type '{text}': precision must be 1..=38 and scale at most the precision")));
        }
        return Ok(DataType::Decimal128(p, s));
    }
    Ok(match t {
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" => DataType::Float32,
        "float64" => DataType::Float64,
        "bool" => DataType::Boolean,
        "utf8" => DataType::Utf8,
        "large_utf8" => DataType::LargeUtf8,
        "utf8_view" => DataType::Utf8View,
        "binary" => DataType::Binary,
        "date32" => DataType::Date32,
        "date64" => DataType::Date64,
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod json_type_tests {
    use super::*;

    #[test]
    fn json_field_types_are_the_corpus_type_strings() {
        assert_eq!(
            scalar_type("timestamp[ms, Europe/Paris]").unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("Europe/Paris")))
        );
        assert_eq!(scalar_type("timestamp[ns, +02:00]").unwrap(), DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("+02:00"))));
        assert_eq!(scalar_type("timestamp[s]").unwrap(), DataType::Timestamp(TimeUnit::Second, None));
        assert_eq!(scalar_type("decimal128(12, 3)").unwrap(), DataType::Decimal128(12, 3));
        assert_eq!(scalar_type("date32").unwrap(), DataType::Date32);
        let bad_zone = scalar_type("timestamp[us, Mars/Olympus]").unwrap_err().to_string();
        assert!(bad_zone.contains("Mars/Olympus"), "{bad_zone}");
        assert!(scalar_type("timestamp[minutes]").is_err());
        assert!(scalar_type("decimal128(40, 2)").is_err());
        assert!(scalar_type("float128").unwrap_err().to_string().contains("float128"));
    }
}
