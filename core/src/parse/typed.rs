//! Values of declared types (logfmt fields, regex groups): text to int,
//! float, bool or timestamp, each failure naming the field and the byte.

use super::access::excerpt;
use super::row::{Columns, Failure, LineCtx, Parsed};
use super::spec::{FieldType, StringOutput};
use super::time::{TsCache, Zone};
use arrow_schema::Field;

/// A declared field: its output column, type and timestamp cache.
#[derive(Debug)]
pub(crate) struct TypedField {
    pub name: String,
    pub field_type: FieldType,
    cache: TsCache,
}

impl TypedField {
    pub(crate) fn new(name: &str, field_type: FieldType) -> TypedField {
        TypedField { name: name.to_string(), field_type, cache: TsCache::default() }
    }

    pub(crate) fn arrow_field(&self, strings: StringOutput) -> Field {
        Field::new(&self.name, self.field_type.data_type(strings), true)
    }

    /// Writes the value `[start, end)` of the line (or `decoded`, its
    /// unescaped copy) into column `col`. An empty value of a non-string
    /// type is null: there is nothing to convert.
    #[allow(clippy::too_many_arguments)] // one value: where it is, where it goes, how to read it
    pub(crate) fn push(
        &mut self,
        cols: &mut Columns,
        col: usize,
        ctx: &LineCtx,
        start: usize,
        end: usize,
        decoded: Option<&[u8]>,
        zone: Zone,
    ) -> Parsed {
        ctx.check_cut(&self.name, end)?;
        let raw = decoded.unwrap_or(&ctx.bytes[start..end]);
        if let FieldType::String = self.field_type {
            match decoded {
                Some(d) => cols.str(col).push_owned(d),
                None => cols.str(col).push_view(ctx.view(start, end)),
            }
            return Ok(());
        }
        if raw.is_empty() {
            cols.set_null(col);
            return Ok(());
        }
        let text = std::str::from_utf8(raw).map_err(|_| Failure::new(&self.name, start, "invalid UTF-8"))?;
        let bad = |what: &str| Failure::new(&self.name, start, format!("expected {what}, found '{}'", excerpt(raw)));
        match &self.field_type {
            FieldType::String => unreachable!("handled above"),
            FieldType::Int => cols.i64(col).push(text.parse().map_err(|_| bad("an integer"))?),
            FieldType::Float => cols.f64(col).push(text.parse().map_err(|_| bad("a number"))?),
            FieldType::Bool => {
                let v = if text.eq_ignore_ascii_case("true") || text == "1" {
                    true
                } else if text.eq_ignore_ascii_case("false") || text == "0" {
                    false
                } else {
                    return Err(bad("true or false"));
                };
                cols.bool(col, v);
            }
            FieldType::Timestamp(format) => {
                let name = &self.name;
                let ts = self
                    .cache
                    .get_or(raw, |_| format.parse_value(text, zone))
                    .map_err(|why| Failure::new(name, start, format!("bad timestamp '{}': {why}", excerpt(raw))))?;
                cols.ts(col).push(ts);
            }
        }
        Ok(())
    }
}
