//! The aggregation grammar shared by every binding:
//!
//! ```text
//! expr  := func "(" [arg ("," arg)*] ")" ["as" name]
//! arg   := "*" | name | number
//! name  := identifier | "double quoted" | `back quoted`
//! ```
//!
//! `count() as n`, `mean(latency)`, `quantile(latency, 0.99) as p99`,
//! `max_by(path, bytes)`. The default output name is the canonical text of the
//! expression, e.g. `mean(latency)`.

use crate::error::{Result, SashError};

/// An aggregation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AggFunc {
    /// `count()` counts rows; `count(col)` counts non-null values.
    Count,
    Sum,
    Mean,
    Min,
    Max,
    First,
    Last,
    Var,
    Std,
    Median,
    Quantile,
    CountDistinct,
    ApproxCountDistinct,
    ApproxQuantile,
    MinBy,
    MaxBy,
}

/// Canonical function names, in the order error messages list them.
pub const FUNCTION_NAMES: &[&str] = &[
    "count",
    "sum",
    "mean",
    "min",
    "max",
    "first",
    "last",
    "var",
    "std",
    "median",
    "quantile",
    "count_distinct",
    "approx_count_distinct",
    "approx_quantile",
    "min_by",
    "max_by",
];

impl AggFunc {
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Mean => "mean",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::First => "first",
            AggFunc::Last => "last",
            AggFunc::Var => "var",
            AggFunc::Std => "std",
            AggFunc::Median => "median",
            AggFunc::Quantile => "quantile",
            AggFunc::CountDistinct => "count_distinct",
            AggFunc::ApproxCountDistinct => "approx_count_distinct",
            AggFunc::ApproxQuantile => "approx_quantile",
            AggFunc::MinBy => "min_by",
            AggFunc::MaxBy => "max_by",
        }
    }

    fn from_name(name: &str) -> Option<AggFunc> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "mean" | "avg" => AggFunc::Mean,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "first" => AggFunc::First,
            "last" => AggFunc::Last,
            "var" | "variance" | "var_samp" => AggFunc::Var,
            "std" | "stddev" | "stddev_samp" => AggFunc::Std,
            "median" => AggFunc::Median,
            "quantile" | "quantile_cont" => AggFunc::Quantile,
            "count_distinct" | "n_unique" => AggFunc::CountDistinct,
            "approx_count_distinct" => AggFunc::ApproxCountDistinct,
            "approx_quantile" => AggFunc::ApproxQuantile,
            "min_by" | "arg_min" => AggFunc::MinBy,
            "max_by" | "arg_max" => AggFunc::MaxBy,
            _ => return None,
        })
    }
}

/// One parsed aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct AggExpr {
    pub func: AggFunc,
    /// The value column; `None` only for `count()`.
    pub column: Option<String>,
    /// The ordering column of `min_by`/`max_by`.
    pub by_column: Option<String>,
    /// The quantile of `quantile`/`approx_quantile`, in [0, 1].
    pub q: Option<f64>,
    /// The output column name.
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name { text: String, quoted: bool },
    Number(String),
    Star,
    LParen,
    RParen,
    Comma,
}

fn tokenize(expr: &str) -> Result<Vec<Token>> {
    let bad = |reason: String| SashError::InvalidExpression { expr: expr.to_string(), reason };
    let mut tokens = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '*' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    ',' => Token::Comma,
                    _ => Token::Star,
                });
            }
            '"' | '`' => {
                let quote = c;
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, ch)) if ch == quote => {
                            // A doubled quote stands for the quote itself.
                            if chars.peek().map(|&(_, n)| n) == Some(quote) {
                                chars.next();
                                text.push(quote);
                            } else {
                                break;
                            }
                        }
                        Some((_, ch)) => text.push(ch),
                        None => return Err(bad(format!("unterminated {quote}quoted name{quote}"))),
                    }
                }
                tokens.push(Token::Name { text, quoted: true });
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                let mut end = start;
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_ascii_alphanumeric()
                        || ch == '.'
                        || ((ch == '-' || ch == '+') && (i == start || matches!(expr[..i].chars().last(), Some('e' | 'E'))))
                    {
                        end = i + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Number(expr[start..end].to_string()));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut end = start;
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '.' {
                        end = i + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Name { text: expr[start..end].to_string(), quoted: false });
            }
            other => return Err(bad(format!("unexpected character '{other}' at byte {start}"))),
        }
    }
    Ok(tokens)
}

/// Quotes a column name for the canonical text when it is not a plain identifier.
pub fn quote_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

enum Arg {
    Column(String),
    Number(String),
    Star,
}

impl AggExpr {
    /// Parses one expression of the grammar above.
    pub fn parse(expr: &str) -> Result<AggExpr> {
        Ok(AggExpr::parse_naming(expr)?.0)
    }

    /// [`AggExpr::parse`], and whether the expression names its output with `as`.
    pub(crate) fn parse_naming(expr: &str) -> Result<(AggExpr, bool)> {
        let bad = |reason: &str| SashError::InvalidExpression { expr: expr.to_string(), reason: reason.to_string() };
        let tokens = tokenize(expr)?;
        let mut it = tokens.into_iter().peekable();
        let func_name = match it.next() {
            Some(Token::Name { text, quoted: false }) => text,
            _ => return Err(bad("expected a function name, as in mean(value)")),
        };
        if it.next() != Some(Token::LParen) {
            return Err(bad("expected '(' after the function name"));
        }
        let mut args = Vec::new();
        loop {
            match it.next() {
                Some(Token::RParen) if args.is_empty() => break,
                Some(Token::Name { text, .. }) => args.push(Arg::Column(text)),
                Some(Token::Number(n)) => args.push(Arg::Number(n)),
                Some(Token::Star) => args.push(Arg::Star),
                _ => return Err(bad("expected a column name or a number")),
            }
            match it.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => break,
                _ => return Err(bad("expected ',' or ')' after an argument")),
            }
        }
        let alias = match it.next() {
            None => None,
            Some(Token::Name { text, quoted: false }) if text.eq_ignore_ascii_case("as") => match it.next() {
                Some(Token::Name { text, .. }) if !text.is_empty() => Some(text),
                _ => return Err(bad("expected a name after 'as'")),
            },
            Some(_) => return Err(bad("unexpected text after ')'; only 'as <name>' may follow")),
        };
        if it.next().is_some() {
            return Err(bad("unexpected text after the alias"));
        }
        let func =
            AggFunc::from_name(&func_name).ok_or(SashError::UnknownFunction { name: func_name.clone(), expected: FUNCTION_NAMES })?;
        let arity = |n: usize, usage: &str| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(&format!("{} takes {usage}", func.name())))
            }
        };
        let column_at = |i: usize| -> Result<String> {
            match &args[i] {
                Arg::Column(c) => Ok(c.clone()),
                _ => Err(bad(&format!("argument {} of {} must be a column name", i + 1, func.name()))),
            }
        };
        let (column, by_column, q, q_text) = match func {
            AggFunc::Count => match args.as_slice() {
                [] | [Arg::Star] => (None, None, None, None),
                [Arg::Column(c)] => (Some(c.clone()), None, None, None),
                _ => return Err(bad("count takes no argument, '*' or one column")),
            },
            AggFunc::Quantile | AggFunc::ApproxQuantile => {
                arity(2, "a column and a quantile in [0, 1], as in quantile(value, 0.99)")?;
                let text = match &args[1] {
                    Arg::Number(n) => n.clone(),
                    _ => return Err(bad("the quantile must be a number in [0, 1]")),
                };
                let q: f64 = text.parse().map_err(|_| bad(&format!("'{text}' is not a number")))?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(bad(&format!("the quantile must be in [0, 1], got {text}")));
                }
                (Some(column_at(0)?), None, Some(q), Some(text))
            }
            AggFunc::MinBy | AggFunc::MaxBy => {
                arity(2, "a value column and an ordering column, as in max_by(path, bytes)")?;
                (Some(column_at(0)?), Some(column_at(1)?), None, None)
            }
            _ => {
                arity(1, "one column")?;
                (Some(column_at(0)?), None, None, None)
            }
        };
        let named = alias.is_some();
        let alias = alias.unwrap_or_else(|| {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(column.iter().map(|c| quote_name(c)));
            parts.extend(by_column.iter().map(|c| quote_name(c)));
            parts.extend(q_text.iter().cloned());
            format!("{}({})", func.name(), parts.join(", "))
        });
        Ok((AggExpr { func, column, by_column, q, alias }, named))
    }

    /// The canonical text of the expression, without the alias.
    pub fn canonical_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.column.iter().map(|c| quote_name(c)));
        parts.extend(self.by_column.iter().map(|c| quote_name(c)));
        parts.extend(self.q.iter().map(|q| q.to_string()));
        format!("{}({})", self.func.name(), parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_grammar() {
        let e = AggExpr::parse("count() as n").unwrap();
        assert_eq!((e.func, e.column.as_deref(), e.alias.as_str()), (AggFunc::Count, None, "n"));
        let e = AggExpr::parse("count(*)").unwrap();
        assert_eq!(e.alias, "count()");
        let e = AggExpr::parse("  mean( latency ) ").unwrap();
        assert_eq!(e.alias, "mean(latency)");
        let e = AggExpr::parse("quantile(latency, 0.99) AS p99").unwrap();
        assert_eq!((e.q, e.alias.as_str()), (Some(0.99), "p99"));
        let e = AggExpr::parse("quantile(latency, 0.5)").unwrap();
        assert_eq!(e.alias, "quantile(latency, 0.5)");
        let e = AggExpr::parse("max_by(\"the path\", bytes)").unwrap();
        assert_eq!(e.column.as_deref(), Some("the path"));
        assert_eq!(e.alias, "max_by(\"the path\", bytes)");
        assert_eq!(AggExpr::parse("AVG(x) as `my avg`").unwrap().alias, "my avg");
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(matches!(AggExpr::parse("nope(x)"), Err(SashError::UnknownFunction { .. })));
        for bad in [
            "mean",
            "mean(",
            "mean(x",
            "mean(x) y",
            "quantile(x, 2)",
            "quantile(x)",
            "sum(x, y)",
            "mean(1)",
            "min_by(x)",
            "(x)",
            "mean(x) as",
        ] {
            assert!(matches!(AggExpr::parse(bad), Err(SashError::InvalidExpression { .. })), "{bad}: {:?}", AggExpr::parse(bad));
        }
    }
}
