//! `regex`: a pattern with named groups, one column per group in pattern
//! order, typed as declared in `types` (string otherwise). The `regex` crate
//! matches in time linear in the line, so no input can make a parse hang.
//! The pattern is searched anywhere in the line unless anchored (`^...$`);
//! a group that did not take part in the match is null, one that matched
//! nothing is "".

use super::captures::Captures;
use crate::error::{Result, SashError};
use crate::parse::row::{Columns, Failure, LineCtx, Parsed};
use crate::parse::spec::{FieldType, StringOutput};
use crate::parse::time::Zone;
use crate::parse::typed::TypedField;
use crate::parse::LineParser;
use arrow_schema::Field;

#[derive(Debug)]
pub(crate) struct RegexParser {
    captures: Captures,
    /// (capture group index, declared field), in pattern order.
    groups: Vec<(usize, TypedField)>,
    zone: Zone,
}

impl RegexParser {
    /// `multi_line`: lines are records of several lines, and `.` matches a line end too.
    pub(crate) fn new(pattern: &str, types: &[(String, FieldType)], zone: Zone, multi_line: bool) -> Result<RegexParser> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(64 << 20)
            .dot_matches_new_line(multi_line)
            .build()
            .map_err(|e| SashError::spec(format!("invalid regex pattern: {e}")))?;
        let mut groups = Vec::new();
        for (index, name) in regex.capture_names().enumerate() {
            if let Some(name) = name {
                if name == crate::parse::ERROR_COLUMN {
                    return Err(SashError::spec("a regex group cannot be named '_error': that name is the error column"));
                }
                let field_type = types.iter().find(|(n, _)| n == name).map_or(FieldType::String, |(_, t)| t.clone());
                groups.push((index, TypedField::new(name, field_type)));
            }
        }
        if groups.is_empty() {
            return Err(SashError::spec("the regex pattern has no named groups ((?P<name>...)): it would produce no columns"));
        }
        if let Some((name, _)) = types.iter().find(|(n, _)| !groups.iter().any(|(_, g)| &g.name == n)) {
            return Err(SashError::spec(format!("'types' names '{name}', which is not a named group of the pattern")));
        }
        Ok(RegexParser { captures: Captures::new(regex, multi_line), groups, zone })
    }
}

impl LineParser for RegexParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        self.groups.iter().map(|(_, g)| g.arrow_field(strings)).collect()
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        if !self.captures.search(ctx.bytes)? {
            return Err(Failure::new("pattern", 0, "the line does not match the pattern"));
        }
        for (col, (index, group)) in self.groups.iter_mut().enumerate() {
            if let Some((start, end)) = self.captures.span(*index) {
                group.push(cols, col, ctx, start, end, None, self.zone)?;
            }
        }
        Ok(())
    }
}
