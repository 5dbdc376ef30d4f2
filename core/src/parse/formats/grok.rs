//! `grok`: Logstash-style patterns, `%{NAME}`, `%{NAME:field}` and
//! `%{NAME:field:type}`, expanded once from the built-in library
//! ([`super::grok_patterns`]) and the spec's own `patterns`, onto the regex
//! crate: matching is linear in the line whatever the pattern, so no line can
//! hang a parse as backtracking grok can.
//!
//! Every `%{NAME:field}`, in the pattern or inside the patterns it uses, is
//! a column, in the order the pattern names them; a field named twice is one
//! column holding the first capture that took part in the match. Raw named
//! groups (`(?<name>...)`) are columns too. The pattern is searched anywhere
//! in the line unless anchored (`^...$`), as Logstash does.

use super::captures::Captures;
use super::grok_patterns::BUILT_IN;
use crate::error::{Result, SashError};
use crate::parse::row::{Columns, Failure, LineCtx, Parsed};
use crate::parse::spec::{FieldType, StringOutput};
use crate::parse::time::Zone;
use crate::parse::typed::TypedField;
use crate::parse::LineParser;
use arrow_schema::Field;
use std::collections::HashMap;

/// The longest regex a grok pattern may expand to: patterns that use
/// patterns that use patterns several times over grow exponentially.
const MAX_EXPANDED_BYTES: usize = 4 << 20;
/// Deeper nesting than any real library: a deeper chain is a mistake.
const MAX_DEPTH: usize = 64;

#[derive(Debug)]
pub(crate) struct GrokParser {
    captures: Captures,
    /// The output columns.
    columns: Vec<TypedField>,
    /// (capture group index, column, whether another group writes the
    /// column too), by group index.
    groups: Vec<(usize, usize, bool)>,
    zone: Zone,
}

/// What `%{...}` expansion collects: the regex, and per capture its field and declared type.
struct Expansion<'a> {
    library: HashMap<&'a str, &'a str>,
    regex: String,
    captures: Vec<(String, Option<FieldType>)>,
    stack: Vec<String>,
}

impl<'a> Expansion<'a> {
    fn expand(&mut self, pattern: &str) -> Result<()> {
        let mut rest = pattern;
        while let Some(open) = rest.find("%{") {
            self.regex.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after
                .find('}')
                .ok_or_else(|| SashError::spec(format!("grok: '%{{' without a closing '}}' in '{}'", excerpt(&rest[open..]))))?;
            self.reference(&after[..close])?;
            rest = &after[close + 1..];
        }
        self.regex.push_str(rest);
        if self.regex.len() > MAX_EXPANDED_BYTES {
            return Err(SashError::spec(format!(
                "grok: the pattern expands to more than {} MiB of regex (patterns using patterns many times over)",
                MAX_EXPANDED_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// `NAME`, `NAME:field` or `NAME:field:type`.
    fn reference(&mut self, inner: &str) -> Result<()> {
        let mut parts = inner.splitn(3, ':');
        let name = parts.next().unwrap_or_default();
        let field = parts.next();
        let declared = parts.next();
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return Err(SashError::spec(format!("grok: '%{{{inner}}}' does not name a pattern (letters, digits and '_')")));
        }
        let definition = *self.library.get(name).ok_or_else(|| {
            SashError::spec(format!(
                "grok: unknown pattern '{name}' (define it in 'patterns', or see docs/parsing.md for the built-in ones)"
            ))
        })?;
        if self.stack.iter().any(|n| n == name) {
            return Err(SashError::spec(format!("grok: pattern '{name}' uses itself ({} → {name})", self.stack.join(" → "))));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(SashError::spec(format!("grok: patterns nest more than {MAX_DEPTH} deep at '{name}'")));
        }
        match field.filter(|f| !f.is_empty()) {
            Some(field) => {
                let field_type = declared.map(|t| grok_type(field, t)).transpose()?;
                self.regex.push_str(&format!("(?P<__g{}>", self.captures.len()));
                self.captures.push((field.to_string(), field_type));
            }
            None => self.regex.push_str("(?:"),
        }
        self.stack.push(name.to_string());
        self.expand(definition)?;
        self.stack.pop();
        self.regex.push(')');
        Ok(())
    }
}

/// The `:type` of `%{NAME:field:type}`: Logstash's `int` and `float`, and
/// the other types a spec may declare.
fn grok_type(field: &str, text: &str) -> Result<FieldType> {
    Ok(match text {
        "int" | "integer" | "long" => FieldType::Int,
        "float" | "double" => FieldType::Float,
        "string" | "str" => FieldType::String,
        "bool" | "boolean" => FieldType::Bool,
        "timestamp" => FieldType::Timestamp(crate::parse::time::TimeFormat::Auto),
        other => {
            return Err(SashError::spec(format!(
                "grok: field '{field}' has type '{other}'; use int, float, string, bool or timestamp (or 'types' for a timestamp format)"
            )))
        }
    })
}

fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

impl GrokParser {
    /// `patterns`: the spec's own definitions, which win over the built-in
    /// ones. `multi_line`: lines are records of several lines, and `.`
    /// (`DATA`, `GREEDYDATA`) matches a line end too.
    pub(crate) fn new(
        pattern: &str,
        patterns: &[(String, String)],
        types: &[(String, FieldType)],
        zone: Zone,
        multi_line: bool,
    ) -> Result<GrokParser> {
        let mut library: HashMap<&str, &str> = BUILT_IN.iter().copied().collect();
        for (name, definition) in patterns {
            if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                return Err(SashError::spec(format!("grok: pattern name '{name}' must be letters, digits and '_'")));
            }
            library.insert(name, definition);
        }
        let mut expansion = Expansion { library, regex: String::new(), captures: Vec::new(), stack: Vec::new() };
        expansion.expand(pattern)?;
        let regex = regex::RegexBuilder::new(&expansion.regex)
            .size_limit(64 << 20)
            .dot_matches_new_line(multi_line)
            .build()
            .map_err(|e| SashError::spec(format!("grok: the pattern is not a valid regex once expanded: {e}")))?;
        let mut columns: Vec<(String, Option<FieldType>)> = Vec::new();
        let mut groups = Vec::new();
        for (index, name) in regex.capture_names().enumerate() {
            let Some(name) = name else { continue };
            let (field, declared) = match name.strip_prefix("__g").and_then(|i| i.parse::<usize>().ok()) {
                Some(i) => expansion.captures[i].clone(),
                None => (name.to_string(), None),
            };
            if field == crate::parse::ERROR_COLUMN {
                return Err(SashError::spec("grok: a field cannot be named '_error': that name is the error column"));
            }
            let column = match columns.iter().position(|(n, _)| *n == field) {
                Some(c) => {
                    match (&columns[c].1, &declared) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(SashError::spec(format!("grok: field '{field}' is declared with two types")));
                        }
                        (None, Some(_)) => columns[c].1 = declared,
                        _ => {}
                    }
                    c
                }
                None => {
                    columns.push((field, declared));
                    columns.len() - 1
                }
            };
            groups.push((index, column, false));
        }
        if columns.is_empty() {
            return Err(SashError::spec("grok: the pattern names no fields (%{NAME:field}): it would produce no columns"));
        }
        for (name, _) in types {
            if !columns.iter().any(|(n, _)| n == name) {
                return Err(SashError::spec(format!("'types' names '{name}', which is not a field of the grok pattern")));
            }
        }
        let columns = columns
            .into_iter()
            .map(|(name, declared)| {
                let field_type = types.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()).or(declared).unwrap_or(FieldType::String);
                TypedField::new(&name, field_type)
            })
            .collect();
        let groups: Vec<(usize, usize, bool)> =
            groups.iter().map(|&(g, c, _)| (g, c, groups.iter().filter(|&&(_, other, _)| other == c).count() > 1)).collect();
        Ok(GrokParser { captures: Captures::new(regex, multi_line), columns, groups, zone })
    }
}

impl LineParser for GrokParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        self.columns.iter().map(|c| c.arrow_field(strings)).collect()
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        if !self.captures.search(ctx.bytes)? {
            return Err(Failure::new("pattern", 0, "the line does not match the grok pattern"));
        }
        for &(group, column, shared) in &self.groups {
            if let Some((start, end)) = self.captures.span(group) {
                if !shared || !cols.is_set(column) {
                    self.columns[column].push(cols, column, ctx, start, end, None, self.zone)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grok(pattern: &str) -> Result<GrokParser> {
        GrokParser::new(pattern, &[], &[], Zone::Utc, false)
    }

    #[test]
    fn every_built_in_pattern_compiles() {
        for (name, _) in BUILT_IN {
            grok(&format!("%{{{name}:x}}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// Nested quantifiers and runs of DATA on a long line that almost
    /// matches: a backtracking engine takes exponential (or cubic) time here;
    /// this one reads the line a bounded number of times. The bound on the
    /// wall time only turns a hang into a failure.
    #[test]
    fn pathological_patterns_finish_in_linear_time() {
        use crate::parse::formats::log_format::tests::parse_all;
        let nested = vec![("NESTED".to_string(), "(?:(?:a+)+)+b".to_string())];
        // Each line holds the pattern's last literal, so no literal search
        // can reject it without running the pattern.
        let run = vec![b'a'; 1 << 20];
        let nested_line = [run.as_slice(), b"cb"].concat();
        let data_line = [b"x".as_slice(), run.as_slice()].concat();
        let start = std::time::Instant::now();
        for (pattern, patterns, line) in
            [("^%{NESTED:x}$", nested, nested_line), ("%{DATA:a}%{DATA:b}%{DATA:c}%{DATA:d}x$", Vec::new(), data_line)]
        {
            let mut parser = GrokParser::new(pattern, &patterns, &[], Zone::Utc, false).unwrap();
            let out = parse_all(&mut parser, std::slice::from_ref(&line));
            assert_eq!(out.column_by_name("_error").unwrap().null_count(), 0, "{pattern}: the line cannot match, so its row fails");
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "{:?}", start.elapsed());
    }

    /// The patterns grok users write, a sequence of fields and text, are
    /// walked, not handed to the regex's capture engine line by line; a
    /// composite whose fields sit in alternations is not.
    #[test]
    fn sequences_of_fields_are_walked() {
        for (pattern, walked) in [
            (
                r#"^%{NOTSPACE:host} %{NOTSPACE:ident} \[(?<ts>[^\]]+)\] "%{WORD:method} %{NOTSPACE:path} (?<protocol>[^"]*)" (?<status>[0-9]{3}) (?<size>[0-9]+|-)$"#,
                true,
            ),
            (r"^%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} \[%{NOTSPACE:thread}\] %{JAVACLASS:logger}: %{GREEDYDATA:message}$", true),
            (r"%{IPORHOST:client} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] %{QS:request} %{INT:status}", true),
            (r"%{SYSLOGTIMESTAMP:ts} %{SYSLOGHOST:host} %{DATA:program}: %{GREEDYDATA:message}", true),
            ("%{COMBINEDAPACHELOG}", false),
        ] {
            assert_eq!(grok(pattern).unwrap().captures.walks(), walked, "{pattern}");
        }
    }

    #[test]
    fn bad_patterns_are_clear_errors() {
        let err = |p: &str| grok(p).unwrap_err().to_string();
        assert!(err("%{NOPE:x}").contains("unknown pattern 'NOPE'"));
        assert!(err("%{INT:x").contains("without a closing"));
        assert!(err("%{INT:x:quux}").contains("type 'quux'"));
        assert!(err("%{INT}").contains("names no fields"));
        assert!(err("%{INT:x} %{WORD:x:int} %{INT:x:float}").contains("two types"));
        let looped = GrokParser::new("%{A:a}", &[("A".into(), "x%{B}".into()), ("B".into(), "%{A}".into())], &[], Zone::Utc, false);
        assert!(looped.unwrap_err().to_string().contains("uses itself"));
        // Each level doubles the regex: refused before the regex is built.
        let doubling: Vec<(String, String)> =
            (0..30).map(|i| (format!("P{i}"), if i == 0 { "a".to_string() } else { format!("%{{P{}}}%{{P{}}}", i - 1, i - 1) })).collect();
        assert!(GrokParser::new("%{P29:x}", &doubling, &[], Zone::Utc, false).unwrap_err().to_string().contains("expands to more than"));
    }
}
