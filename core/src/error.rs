//! The one error type of the kernel. Bindings map [`SashError::kind`] to
//! their own idioms (Python exception classes, Java exceptions, C status codes).

use arrow_schema::{ArrowError, DataType};
use std::fmt;

/// Everything that can go wrong in sash, each variant naming the problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum SashError {
    /// A column named in the spec is not in the input.
    UnknownColumn { name: String, available: Vec<String> },
    /// A column has a type the operation cannot take.
    WrongType { column: String, expected: String, found: DataType },
    /// The spec is inconsistent or incomplete (every ≤ 0, unknown key, bad JSON...).
    InvalidSpec(String),
    /// A duration string could not be parsed or does not fit the time column.
    InvalidDuration { input: String, reason: String },
    /// An aggregation names a function sash does not know; `expected` lists
    /// the functions it does.
    UnknownFunction { name: String, expected: &'static [&'static str] },
    /// An aggregation expression does not follow the grammar.
    InvalidExpression { expr: String, reason: String },
    /// The time column holds nulls and `null_time` is `"error"`.
    NullTime { column: String, count: usize },
    /// An integer result does not fit its type (sum overflow, window bound out of range).
    Overflow(String),
    /// The input data itself is unusable (mismatched batches, malformed arrays).
    InvalidInput(String),
    /// A line did not parse and the parse spec says `on_error: "raise"`.
    Parse { line: u64, message: String },
    /// An error raised by arrow-rs.
    Arrow(ArrowError),
    /// The call would exceed one of sash's documented resource limits
    /// (`docs/limits.md`): too many windows, too large a decompressed log...
    /// The message says how much was asked, the limit, and what to change.
    ResourceLimit(String),
    /// The caller cancelled the call (Ctrl-C in Python, `Thread.interrupt()`
    /// in Java, a cancel token in C and Go) before it finished.
    Cancelled,
}

/// The stable, language-neutral name of an error's kind, used by the
/// conformance corpus and by every binding's error mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    UnknownColumn,
    WrongType,
    InvalidSpec,
    InvalidDuration,
    UnknownFunction,
    InvalidExpression,
    NullTime,
    Overflow,
    InvalidInput,
    Parse,
    Arrow,
    ResourceLimit,
    Cancelled,
}

impl ErrorKind {
    /// Every kind, in the order of their C status codes: each binding's
    /// table is built from (or tested against) this list, so a new kind
    /// cannot be forgotten by one of them.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::UnknownColumn,
        ErrorKind::WrongType,
        ErrorKind::InvalidSpec,
        ErrorKind::InvalidDuration,
        ErrorKind::UnknownFunction,
        ErrorKind::InvalidExpression,
        ErrorKind::NullTime,
        ErrorKind::Overflow,
        ErrorKind::InvalidInput,
        ErrorKind::Parse,
        ErrorKind::Arrow,
        ErrorKind::ResourceLimit,
        ErrorKind::Cancelled,
    ];

    /// The snake_case name used in the corpus (`"unknown_column"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownColumn => "unknown_column",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::InvalidSpec => "invalid_spec",
            ErrorKind::InvalidDuration => "invalid_duration",
            ErrorKind::UnknownFunction => "unknown_function",
            ErrorKind::InvalidExpression => "invalid_expression",
            ErrorKind::NullTime => "null_time",
            ErrorKind::Overflow => "overflow",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Parse => "parse",
            ErrorKind::Arrow => "arrow",
            ErrorKind::ResourceLimit => "resource_limit",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl SashError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SashError::UnknownColumn { .. } => ErrorKind::UnknownColumn,
            SashError::WrongType { .. } => ErrorKind::WrongType,
            SashError::InvalidSpec(_) => ErrorKind::InvalidSpec,
            SashError::InvalidDuration { .. } => ErrorKind::InvalidDuration,
            SashError::UnknownFunction { .. } => ErrorKind::UnknownFunction,
            SashError::InvalidExpression { .. } => ErrorKind::InvalidExpression,
            SashError::NullTime { .. } => ErrorKind::NullTime,
            SashError::Overflow(_) => ErrorKind::Overflow,
            SashError::InvalidInput(_) => ErrorKind::InvalidInput,
            SashError::Parse { .. } => ErrorKind::Parse,
            SashError::Arrow(_) => ErrorKind::Arrow,
            SashError::ResourceLimit(_) => ErrorKind::ResourceLimit,
            SashError::Cancelled => ErrorKind::Cancelled,
        }
    }

    pub(crate) fn spec(msg: impl Into<String>) -> Self {
        SashError::InvalidSpec(msg.into())
    }

    pub(crate) fn wrong_type(column: &str, expected: impl Into<String>, found: &DataType) -> Self {
        SashError::WrongType { column: column.to_string(), expected: expected.into(), found: found.clone() }
    }
}

impl fmt::Display for SashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SashError::UnknownColumn { name, available } => {
                write!(f, "unknown column '{name}'; the input has: {}", available.join(", "))
            }
            SashError::WrongType { column, expected, found } => {
                write!(f, "column '{column}' has type {found}, expected {expected}")
            }
            SashError::InvalidSpec(msg) => write!(f, "invalid spec: {msg}"),
            SashError::InvalidDuration { input, reason } => {
                write!(f, "invalid duration '{input}': {reason}")
            }
            SashError::UnknownFunction { name, expected } => {
                write!(f, "unknown function '{name}'; expected one of: {}", expected.join(", "))
            }
            SashError::InvalidExpression { expr, reason } => {
                write!(f, "invalid aggregation '{expr}': {reason}")
            }
            SashError::NullTime { column, count } => {
                write!(f, "time column '{column}' has {count} null value(s); set null_time=\"drop\" to skip those rows")
            }
            SashError::Overflow(msg) => write!(f, "overflow: {msg}"),
            SashError::InvalidInput(msg) => write!(f, "invalid input: {msg}"),
            SashError::Parse { line, message } => write!(f, "line {line} does not parse: {message}"),
            SashError::Arrow(e) => write!(f, "arrow error: {e}"),
            SashError::ResourceLimit(msg) => write!(f, "resource limit: {msg}"),
            SashError::Cancelled => f.write_str("cancelled: the call was interrupted before it finished"),
        }
    }
}

impl std::error::Error for SashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SashError::Arrow(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ArrowError> for SashError {
    fn from(e: ArrowError) -> Self {
        SashError::Arrow(e)
    }
}

pub type Result<T, E = SashError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    /// Exhaustive within the crate (`non_exhaustive` binds only others): a new
    /// variant needs a position here, and then the test fails until ALL has it.
    fn position(kind: ErrorKind) -> usize {
        match kind {
            ErrorKind::UnknownColumn => 0,
            ErrorKind::WrongType => 1,
            ErrorKind::InvalidSpec => 2,
            ErrorKind::InvalidDuration => 3,
            ErrorKind::UnknownFunction => 4,
            ErrorKind::InvalidExpression => 5,
            ErrorKind::NullTime => 6,
            ErrorKind::Overflow => 7,
            ErrorKind::InvalidInput => 8,
            ErrorKind::Parse => 9,
            ErrorKind::Arrow => 10,
            ErrorKind::ResourceLimit => 11,
            ErrorKind::Cancelled => 12,
        }
    }

    #[test]
    fn all_lists_every_kind_once_with_its_own_name() {
        assert_eq!(ErrorKind::ALL.len(), 13);
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(position(*kind), i);
        }
        let names: std::collections::HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
