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
    /// The call would exceed a documented resource limit (docs/limits.md):
    /// too many windows, too large a decompressed log, ...
    ResourceLimit = 21,
    /// The call was cancelled through the token bound with `sash_cancel_bind`.
    Cancelled = 22,
    /// A bug in sash: the kernel panicked. The message says where.
    Internal = 99,
}

/// The statuses of the binding's own checks, before the core kinds.
const BINDING_STATUSES: [(SashStatus, &str); 4] = [
    (SashStatus::Ok, "ok"),
    (SashStatus::NullArgument, "null_argument"),
    (SashStatus::Released, "released"),
    (SashStatus::InvalidArray, "invalid_array"),
];

/// The status code of the first core kind: kind `i` of `ErrorKind::ALL` is `FIRST_KIND_CODE + i`.
const FIRST_KIND_CODE: i32 = 10;

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

    /// The name as a static NUL-terminated string.
    pub(crate) fn name_ptr(self) -> *const c_char {
        c_name(self.name())
    }
}

/// A static NUL-terminated copy of one of the static names above (made once).
fn c_name(name: &'static str) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<(&'static str, CString)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut all: Vec<&'static str> = BINDING_STATUSES.iter().map(|(_, n)| *n).collect();
        all.extend(ErrorKind::ALL.iter().map(|k| k.as_str()));
        all.extend(["internal", "unknown"]);
        all.into_iter().map(|n| (n, CString::new(n).expect("names have no NUL"))).collect()
    });
    names.iter().find(|(n, _)| *n == name).map_or(c"unknown".as_ptr(), |(_, c)| c.as_ptr())
}

/// The name of a status code as a static NUL-terminated string; "unknown"
/// for a code that is no status.
pub(crate) fn code_name_ptr(code: i32) -> *const c_char {
    match SashStatus::from_code(code) {
        Some(status) => status.name_ptr(),
        None => c_name("unknown"),
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

thread_local! {
    /// How many `catch` calls are running on this thread.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f`, turning a panic into `Err` with its payload, and without the
/// default hook's report on stderr: the library prints nothing, the panic's
/// message reaches the caller in the error instead. Panics elsewhere in the
/// process still reach the hook that was there before.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn Any + Send>> {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) == 0 {
                previous(info);
            }
        }));
    });
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    result
}

/// The message of a caught panic, as every binding reports it.
pub fn internal_message(payload: &(dyn Any + Send)) -> String {
    format!("internal error in sash (please report it): {}", panic_message(payload))
}

/// Runs the body of an extern function: catches a panic, records the
/// message of an error (or clears it on success), and returns the status.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> SashStatus {
    let result = catch(|| crate::cancel::with_bound(body));
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
            set_last(Some(internal_message(payload.as_ref())));
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
        let mut seen = std::collections::HashSet::new();
        for &kind in ErrorKind::ALL {
            assert_eq!(status_of(kind).kind(), Some(kind), "{kind:?} has no status of its own");
            assert!(seen.insert(status_of(kind) as i32));
            assert_eq!(status_of(kind).name(), kind.as_str());
            // SAFETY: static NUL-terminated names.
            assert_eq!(unsafe { CStr::from_ptr(status_of(kind).name_ptr()) }.to_str().unwrap(), kind.as_str());
        }
    }

    #[test]
    fn every_code_has_a_name_and_other_codes_are_unknown() {
        let name = |code| unsafe { CStr::from_ptr(code_name_ptr(code)) }.to_str().unwrap();
        assert_eq!(name(0), "ok");
        assert_eq!(name(3), "invalid_array");
        assert_eq!(name(21), "resource_limit");
        assert_eq!(name(22), "cancelled");
        assert_eq!(name(99), "internal");
        for code in [-1, 4, 9, 23, 98, 100, i32::MIN, i32::MAX] {
            assert_eq!(name(code), "unknown");
        }
        for code in -5..120 {
            if let Some(status) = SashStatus::from_code(code) {
                assert_eq!(status as i32, code);
                assert_ne!(status.name(), "unknown");
            }
        }
    }

    #[test]
    fn a_nul_in_a_message_does_not_lose_it() {
        let status = guard(|| Err(Error::new(SashStatus::InvalidSpec, "bad\0spec")));
        assert_eq!(status, SashStatus::InvalidSpec);
        assert_eq!(last(), "bad\\0spec");
    }
}
