//! The one mapping from core errors to the statuses every binding reports.
//!
//! Every core [`ErrorKind`] has its own status; the bindings add the
//! statuses of their own checks (NULL pointers, released structs, malformed
//! arrays) and [`SashStatus::Internal`] for a caught panic. The C API returns
//! these codes; the JVM and Python name their exceptions after
//! [`SashStatus::name`].

use sash_core::{ErrorKind, SashError};

/// The result of every sash function that can fail. `SASH_STATUS_OK` is 0; any
/// other value is an error whose message `sash_last_error_message()` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SashStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An input struct was already released (its `release` is NULL).
    Released = 2,
    /// An input array does not follow the Arrow C Data Interface or its
    /// declared type (wrong buffer or child count, bad offsets, bad UTF-8...).
    InvalidArray = 3,
    /// A column named in the spec is not in the input.
    UnknownColumn = 10,
    /// A column has a type the operation cannot take.
    WrongType = 11,
    /// The spec is not valid JSON, not UTF-8, or inconsistent or incomplete.
    InvalidSpec = 12,
    /// A duration cannot be parsed or does not fit the time column.
    InvalidDuration = 13,
    /// An aggregation names a function sash does not know.
    UnknownFunction = 14,
    /// An aggregation expression does not follow the grammar.
    InvalidExpression = 15,
    /// The time column holds nulls and `null_time` is `"error"`.
    NullTime = 16,
    /// An integer result does not fit its type.
    Overflow = 17,
    /// The input data is unusable (mismatched batches, ...).
    InvalidInput = 18,
    /// A line did not parse and the parse spec says `on_error: "raise"`.
    Parse = 19,
    /// An error raised by arrow-rs.
    Arrow = 20,
    /// The call would exceed a documented resource limit (docs/limits.md):
    /// too many windows, too large a decompressed log, ...
    ResourceLimit = 21,
    /// The call was cancelled through the token bound with `sash_cancel_bind`.
    Cancelled = 22,
    /// A bug in sash: the kernel panicked. The message says where.
    Internal = 99,
}

/// The statuses of the binding's own checks, before the core kinds.
pub const BINDING_STATUSES: [(SashStatus, &str); 4] = [
    (SashStatus::Ok, "ok"),
    (SashStatus::NullArgument, "null_argument"),
    (SashStatus::Released, "released"),
    (SashStatus::InvalidArray, "invalid_array"),
];

/// The status code of the first core kind: kind `i` of `ErrorKind::ALL` is `FIRST_KIND_CODE + i`.
pub const FIRST_KIND_CODE: i32 = 10;

impl SashStatus {
    /// The status of a code, if it is one.
    pub fn from_code(code: i32) -> Option<SashStatus> {
        Some(match code {
            0 => SashStatus::Ok,
            1 => SashStatus::NullArgument,
            2 => SashStatus::Released,
            3 => SashStatus::InvalidArray,
            10 => SashStatus::UnknownColumn,
            11 => SashStatus::WrongType,
            12 => SashStatus::InvalidSpec,
            13 => SashStatus::InvalidDuration,
            14 => SashStatus::UnknownFunction,
            15 => SashStatus::InvalidExpression,
            16 => SashStatus::NullTime,
            17 => SashStatus::Overflow,
            18 => SashStatus::InvalidInput,
            19 => SashStatus::Parse,
            20 => SashStatus::Arrow,
            21 => SashStatus::ResourceLimit,
            22 => SashStatus::Cancelled,
            99 => SashStatus::Internal,
            _ => return None,
        })
    }

    /// The core kind of the status, if it is one.
    pub fn kind(self) -> Option<ErrorKind> {
        let index = (self as i32).checked_sub(FIRST_KIND_CODE)?;
        ErrorKind::ALL.get(usize::try_from(index).ok()?).copied()
    }

    /// The kind name of the status: the conformance corpus' name for a core
    /// kind, the binding's own name otherwise.
    pub fn name(self) -> &'static str {
        if let Some(kind) = self.kind() {
            return kind.as_str();
        }
        match BINDING_STATUSES.iter().find(|(s, _)| *s == self) {
            Some((_, name)) => name,
            None => "internal",
        }
    }
}

/// An error of the binding: a status and its message.
#[derive(Debug)]
pub struct Error {
    pub status: SashStatus,
    pub message: String,
}

impl Error {
    pub fn new(status: SashStatus, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }
}

/// The status of a core error kind: `FIRST_KIND_CODE` plus its place in
/// `ErrorKind::ALL` (a kind without a status yet fails this crate's test).
pub fn status_of(kind: ErrorKind) -> SashStatus {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| SashStatus::from_code(FIRST_KIND_CODE + i as i32))
        .unwrap_or(SashStatus::InvalidInput)
}

impl From<SashError> for Error {
    fn from(e: SashError) -> Error {
        Error { status: status_of(e.kind()), message: e.to_string() }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Error {
        Error::from(SashError::Arrow(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_its_own_status_named_like_the_corpus() {
        let mut seen = std::collections::HashSet::new();
        for &kind in ErrorKind::ALL {
            assert_eq!(status_of(kind).kind(), Some(kind), "{kind:?} has no status of its own");
            assert!(seen.insert(status_of(kind) as i32));
            assert_eq!(status_of(kind).name(), kind.as_str());
        }
    }

    #[test]
    fn codes_and_statuses_agree() {
        for code in -5..120 {
            if let Some(status) = SashStatus::from_code(code) {
                assert_eq!(status as i32, code);
                assert_ne!(status.name(), "unknown");
            }
        }
        assert_eq!(SashStatus::from_code(4), None);
    }
}
