//! The one mapping from core errors to C status codes, and the thread-local
//! last-error message.
//!
//! Every core [`ErrorKind`] has its own status; the C binding adds the
//! statuses of its own checks (NULL pointers, released structs, malformed
//! arrays) and [`SashStatus::Internal`] for a caught panic. The message is the
//! core's `Display` text, unchanged, kept per thread until the next sash call
//! on that thread.

use sash_core::{ErrorKind, SashError};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

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
    /// A bug in sash: the kernel panicked. The message says where.
    Internal = 99,
}

impl SashStatus {
    /// The kind name of the status (the conformance corpus' names for the
    /// core kinds).
    pub fn name(self) -> &'static str {
        match self {
            SashStatus::Ok => "ok",
            SashStatus::NullArgument => "null_argument",
            SashStatus::Released => "released",
            SashStatus::InvalidArray => "invalid_array",
            SashStatus::UnknownColumn => "unknown_column",
            SashStatus::WrongType => "wrong_type",
            SashStatus::InvalidSpec => "invalid_spec",
            SashStatus::InvalidDuration => "invalid_duration",
            SashStatus::UnknownFunction => "unknown_function",
            SashStatus::InvalidExpression => "invalid_expression",
            SashStatus::NullTime => "null_time",
            SashStatus::Overflow => "overflow",
            SashStatus::InvalidInput => "invalid_input",
            SashStatus::Parse => "parse",
            SashStatus::Arrow => "arrow",
            SashStatus::Internal => "internal",
        }
    }

    fn name_c(self) -> &'static [u8] {
        match self {
            SashStatus::Ok => b"ok\0",
            SashStatus::NullArgument => b"null_argument\0",
            SashStatus::Released => b"released\0",
            SashStatus::InvalidArray => b"invalid_array\0",
            SashStatus::UnknownColumn => b"unknown_column\0",
            SashStatus::WrongType => b"wrong_type\0",
            SashStatus::InvalidSpec => b"invalid_spec\0",
            SashStatus::InvalidDuration => b"invalid_duration\0",
            SashStatus::UnknownFunction => b"unknown_function\0",
            SashStatus::InvalidExpression => b"invalid_expression\0",
            SashStatus::NullTime => b"null_time\0",
            SashStatus::Overflow => b"overflow\0",
            SashStatus::InvalidInput => b"invalid_input\0",
            SashStatus::Parse => b"parse\0",
            SashStatus::Arrow => b"arrow\0",
            SashStatus::Internal => b"internal\0",
        }
    }

    pub(crate) fn name_ptr(self) -> *const c_char {
        self.name_c().as_ptr().cast()
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

/// The status of a core error kind.
pub fn status_of(kind: ErrorKind) -> SashStatus {
    match kind {
        ErrorKind::UnknownColumn => SashStatus::UnknownColumn,
        ErrorKind::WrongType => SashStatus::WrongType,
        ErrorKind::InvalidSpec => SashStatus::InvalidSpec,
        ErrorKind::InvalidDuration => SashStatus::InvalidDuration,
        ErrorKind::UnknownFunction => SashStatus::UnknownFunction,
        ErrorKind::InvalidExpression => SashStatus::InvalidExpression,
        ErrorKind::NullTime => SashStatus::NullTime,
        ErrorKind::Overflow => SashStatus::Overflow,
        ErrorKind::InvalidInput => SashStatus::InvalidInput,
        ErrorKind::Parse => SashStatus::Parse,
        ErrorKind::Arrow => SashStatus::Arrow,
        // ErrorKind is non_exhaustive: a kind added to the core without a
        // status here still reaches the caller, as invalid input.
        _ => SashStatus::InvalidInput,
    }
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

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last(message: Option<String>) {
    let c = message.map(|m| CString::new(m.replace('\0', "\\0")).unwrap_or_default());
    LAST_ERROR.with(|cell| *cell.borrow_mut() = c);
}

/// The message of the last failed sash call on this thread, or "" after a
/// success. The pointer stays valid until the next sash call on the thread.
pub(crate) fn last_message_ptr() -> *const c_char {
    LAST_ERROR.with(|cell| match &*cell.borrow() {
        Some(c) => c.as_ptr(),
        None => c"".as_ptr(),
    })
}

pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs the body of an extern function: catches a panic, records the
/// message of an error (or clears it on success), and returns the status.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> SashStatus {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    match result {
        Ok(Ok(())) => {
            set_last(None);
            SashStatus::Ok
        }
        Ok(Err(e)) => {
            set_last(Some(e.message));
            e.status
        }
        Err(payload) => {
            set_last(Some(format!("internal error in sash (please report it): {}", panic_message(payload.as_ref()))));
            SashStatus::Internal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: the thread-local message, NUL-terminated.
        unsafe { CStr::from_ptr(last_message_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_internal_with_its_message() {
        let status = guard(|| panic!("boom at the kernel"));
        assert_eq!(status, SashStatus::Internal);
        assert!(last().contains("boom at the kernel"), "{}", last());
        assert_eq!(guard(|| Ok(())), SashStatus::Ok);
        assert_eq!(last(), "");
    }

    #[test]
    fn every_core_kind_has_its_own_status_named_like_the_corpus() {
        use sash_core::ErrorKind::*;
        for kind in [
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
        ] {
            assert_eq!(status_of(kind).name(), kind.as_str());
            // SAFETY: static NUL-terminated names.
            assert_eq!(unsafe { CStr::from_ptr(status_of(kind).name_ptr()) }.to_str().unwrap(), kind.as_str());
        }
    }

    #[test]
    fn a_nul_in_a_message_does_not_lose_it() {
        let status = guard(|| Err(Error::new(SashStatus::InvalidSpec, "bad\0spec")));
        assert_eq!(status, SashStatus::InvalidSpec);
        assert_eq!(last(), "bad\\0spec");
    }
}
