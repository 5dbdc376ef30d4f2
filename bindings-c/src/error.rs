//! The one mapping from core errors to C status codes, and the thread-local
//! last-error message.
//!
//! Every core [`ErrorKind`] has its own status; the C binding adds the
//! statuses of its own checks (NULL pointers, released structs, malformed
//! arrays) and [`SashStatus::Internal`] for a caught panic. The message is the
//! core's `Display` text, unchanged, kept per thread until the next sash call
//! on that thread.

use sash_core::ErrorKind;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

pub use sash_ffi::panic::{catch, internal_message, panic_message};
use sash_ffi::status::BINDING_STATUSES;
pub use sash_ffi::status::{status_of, Error, SashStatus};

/// The name of a status as a static NUL-terminated string.
pub(crate) fn status_name_ptr(status: SashStatus) -> *const c_char {
    c_name(status.name())
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
        Some(status) => status_name_ptr(status),
        None => c_name("unknown"),
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
    fn every_core_kind_has_its_c_name() {
        for &kind in ErrorKind::ALL {
            // SAFETY: static NUL-terminated names.
            assert_eq!(unsafe { CStr::from_ptr(status_name_ptr(status_of(kind))) }.to_str().unwrap(), kind.as_str());
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
