//! Values of declared types (logfmt fields, regex groups): text to int,
//! float, bool or timestamp, each failure naming the field and the byte.

use super::row::{Columns, Failure, LineCtx, Parsed};
use super::spec::{FieldType, StringOutput};
use super::time::{TsCache, Zone};
use crate::parse::fields::excerpt;
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
    #[inline(always)]
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
        let bad = |what: &str| Failure::new(&self.name, start, format!("expected {what}, found '{}'", excerpt(raw)));
        // Values are read from bytes; only the rare ones that need `str`
        // parsing (long or exotic numbers, timestamps not seen just before)
        // are checked as UTF-8.
        let text = || std::str::from_utf8(raw).map_err(|_| Failure::new(&self.name, start, "invalid UTF-8"));
        match &self.field_type {
            FieldType::String => unreachable!("handled above"),
            FieldType::Int => {
                let value = match parse_short_int(raw) {
                    Some(v) => v,
                    None => text()?.parse().map_err(|_| bad("an integer"))?,
                };
                cols.i64(col).push(value);
            }
            FieldType::Float => {
                let value = match parse_short_decimal(raw) {
                    Some(v) => v,
                    None => text()?.parse().map_err(|_| bad("a number"))?,
                };
                cols.f64(col).push(value);
            }
            FieldType::Bool => {
                let v = if raw.eq_ignore_ascii_case(b"true") || raw == b"1" {
                    true
                } else if raw.eq_ignore_ascii_case(b"false") || raw == b"0" {
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
                    .get_or(raw, |_| match std::str::from_utf8(raw) {
                        Ok(text) => format.parse_value(text, zone),
                        Err(_) => Err("invalid UTF-8".to_string()),
                    })
                    .map_err(|why| Failure::new(name, start, format!("bad timestamp '{}': {why}", excerpt(raw))))?;
                cols.ts(col).push(ts);
            }
        }
        Ok(())
    }
}

/// `[+-]?digits` of at most 18 digits (no overflow possible), read as
/// `i64::from_str` would; `None` for anything else, which the caller then
/// hands to `from_str` itself.
#[inline]
pub(crate) fn parse_short_int(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.first()? {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + d as i64;
    }
    Some(if negative { -value } else { value })
}

/// `[+-]?digits[.digits]` with at most 15 digits, read exactly as
/// `f64::from_str` would: the digits form an integer below 2^53 and the
/// divisor a power of ten below 10^23, both exact in an f64, so the one
/// correctly rounded division gives the correctly rounded value (Clinger's
/// fast path). `None` for anything else (exponents, more digits, `inf`),
/// which the caller hands to `from_str` itself.
#[inline(always)]
pub(crate) fn parse_short_decimal(raw: &[u8]) -> Option<f64> {
    const POWERS: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, body) = match raw.first()? {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    let (mut mantissa, mut digits, mut fraction) = (0u64, 0usize, None::<usize>);
    for (i, &c) in body.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa * 10 + d as u64;
            digits += 1;
            if digits > 15 {
                return None;
            }
        } else if c == b'.' && fraction.is_none() {
            fraction = Some(i + 1);
        } else {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let scale = fraction.map_or(0, |f| body.len() - f);
    // Below 2^53, so a signed conversion (one instruction, where an unsigned one takes several) is exact.
    let value = mantissa as i64 as f64 / POWERS[scale];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fast paths must agree with `from_str` wherever they answer, and
    /// answer for the plain numbers logs are full of.
    fn check(text: &str) {
        if let Some(v) = parse_short_int(text.as_bytes()) {
            assert_eq!(Ok(v), text.parse::<i64>(), "int '{text}'");
        }
        if let Some(v) = parse_short_decimal(text.as_bytes()) {
            let want: f64 = text.parse().unwrap_or_else(|_| panic!("from_str rejects '{text}' but the fast path read {v}"));
            assert_eq!(v.to_bits(), want.to_bits(), "float '{text}'");
        }
    }

    #[test]
    fn fast_paths_answer_plain_numbers() {
        assert_eq!(parse_short_int(b"-9"), Some(-9));
        assert_eq!(parse_short_int(b"+123456789012345678"), Some(123456789012345678));
        assert_eq!(parse_short_decimal(b"2.156"), Some(2.156));
        assert_eq!(parse_short_decimal(b"-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(parse_short_decimal(b"0.1"), Some(0.1));
        assert_eq!(parse_short_decimal(b"999999999999999"), Some(999999999999999.0));
        for edge in [
            "",
            "-",
            "+",
            ".",
            "-.",
            "1.",
            ".5",
            "1.2.3",
            "1e5",
            "inf",
            "1_0",
            "0x10",
            " 1",
            "1 ",
            "--1",
            "+-1",
            "1234567890123456",
            "0.1234567890123456",
        ] {
            check(edge);
        }
    }

    proptest! {
        #[test]
        fn fast_paths_agree_with_from_str(text in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?", noise in "[-+.e0-9a ]{0,6}") {
            check(&text);
            check(&noise);
        }
    }
}
