//! Cancel tokens: how a C (or Go) caller stops a long sash call.
//!
//! A token is a flag that any thread may set with `sash_cancel_request`.
//! A thread binds a token with `sash_cancel_bind`; every sash call the
//! thread makes while it is bound (pulling an output stream included) checks
//! the flag between chunks of work and returns `SASH_STATUS_CANCELLED` once it
//! is set, having changed nothing (a parse stream pulled again goes on where
//! it stopped). Binding keeps the token alive, so freeing a bound token is
//! safe: the binding lasts until `sash_cancel_bind(NULL)` or another bind.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancel token (opaque). Create with `sash_cancel_new`, free with
/// `sash_cancel_free`. Thread-safe: request it from any thread.
#[derive(Debug, Default)]
pub struct SashCancel {
    flag: Arc<AtomicBool>,
}

thread_local! {
    static BOUND: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// A new token, not requested. Never NULL; free it with `sash_cancel_free`.
#[no_mangle]
pub extern "C" fn sash_cancel_new() -> *mut SashCancel {
    Box::into_raw(Box::default())
}

/// Frees a token (NULL is ignored). A thread it is bound to stays bound to
/// its flag until it binds another token or NULL.
///
/// # Safety
/// `token` is NULL or a token from `sash_cancel_new` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sash_cancel_free(token: *mut SashCancel) {
    if !token.is_null() {
        // SAFETY: made by sash_cancel_new, freed once, per the contract.
        drop(unsafe { Box::from_raw(token) });
    }
}

/// Asks every call checking `token` to stop; from any thread, at any time
/// (before, during or after a call). It stays requested until
/// `sash_cancel_reset`. NULL is ignored.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn sash_cancel_request(token: *const SashCancel) {
    // SAFETY: NULL or live, per the contract.
    if let Some(token) = unsafe { token.as_ref() } {
        token.flag.store(true, Ordering::SeqCst);
    }
}

/// Clears a request, so that the token can serve the next call. NULL is ignored.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn sash_cancel_reset(token: *const SashCancel) {
    // SAFETY: NULL or live, per the contract.
    if let Some(token) = unsafe { token.as_ref() } {
        token.flag.store(false, Ordering::SeqCst);
    }
}

/// Binds `token` to the calling thread: the sash calls this thread makes
/// from now on check it. NULL unbinds. Binding replaces the previous binding.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn sash_cancel_bind(token: *const SashCancel) {
    // SAFETY: NULL or live, per the contract.
    let flag = unsafe { token.as_ref() }.map(|t| t.flag.clone());
    BOUND.with(|b| *b.borrow_mut() = flag);
}

/// Runs `f` with the calling thread's bound token (if any) as the kernel's cancel check.
pub(crate) fn with_bound<T>(f: impl FnOnce() -> T) -> T {
    match BOUND.with(|b| b.borrow().clone()) {
        None => f(),
        Some(flag) => {
            let requested = move || flag.load(Ordering::Relaxed);
            sash_core::cancel::with_check(&requested, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_token_stops_calls_on_its_thread_only_and_survives_its_free() {
        let token = sash_cancel_new();
        unsafe { sash_cancel_bind(token) };
        assert!(with_bound(sash_core::cancel::check).is_ok());
        unsafe { sash_cancel_request(token) };
        assert!(matches!(with_bound(sash_core::cancel::check), Err(sash_core::SashError::Cancelled)));
        std::thread::spawn(|| assert!(with_bound(sash_core::cancel::check).is_ok())).join().unwrap();
        unsafe { sash_cancel_free(token) };
        assert!(with_bound(sash_core::cancel::check).is_err(), "the binding keeps the flag");
        unsafe { sash_cancel_bind(std::ptr::null()) };
        assert!(with_bound(sash_core::cancel::check).is_ok());
    }
}
