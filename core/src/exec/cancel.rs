//! Cancelling long calls from the caller's side.
//!
//! A binding that can tell when its caller wants a call stopped (Python on
//! Ctrl-C, Java on `Thread.interrupt()`, C and Go through a cancel token)
//! runs the call inside [`with_check`], handing it a function that says
//! whether to stop. The kernels ask [`check`] between chunks of work (a few
//! thousand rows, a chunk of lines, each read of a file) and give up with
//! [`SashError::Cancelled`]; nothing a call returns or keeps is changed by a
//! cancelled call, and a stream reader that was cancelled goes on from
//! where it stopped when it is read again.
//!
//! The check is per thread and is only ever asked on the thread that
//! installed it (a JVM check asks about the asking thread, Python's runs
//! the interpreter's signal handlers): while a call's work runs on sash's
//! thread pool (`exec::pool`), the waiting caller asks its check and the
//! tasks ask a flag it sets.

use crate::error::{Result, SashError};
use std::cell::Cell;

/// A caller's "should this call stop?" question. It is asked often (between
/// chunks of a few thousand rows), so an expensive answer should be
/// rate-limited by the function itself; once it said yes, it must keep
/// saying yes for the rest of the call (the kernel may ask again on its way out).
pub type Check<'a> = &'a (dyn Fn() -> bool + Sync);

thread_local! {
    static CHECK: Cell<Option<Check<'static>>> = const { Cell::new(None) };
}

/// Restores the check that was there before, also when the call panics.
struct Restore(Option<Check<'static>>);

impl Drop for Restore {
    fn drop(&mut self) {
        CHECK.with(|c| c.set(self.0));
    }
}

/// Runs `f` with `check` asked by every [`check`] on this thread; a check
/// that was already there is asked too (calls nest).
pub fn with_check<T>(check: Check<'_>, f: impl FnOnce() -> T) -> T {
    let outer = CHECK.with(Cell::get);
    let both = move || check() || outer.is_some_and(|o| o());
    let both: &(dyn Fn() -> bool + Sync) = &both;
    // SAFETY: the reference is removed from the thread-local (by `Restore`,
    // on return and on unwind) before `both`, and so `check`, go out of scope;
    // nothing copies it out of the thread-local.
    let erased: Check<'static> = unsafe { std::mem::transmute::<Check<'_>, Check<'static>>(both) };
    let _restore = Restore(CHECK.with(|c| c.replace(Some(erased))));
    f()
}

/// The check of the call running on this thread, for work it hands to
/// other threads while it waits for them (`exec::pool`).
pub(crate) fn current_check() -> Option<Check<'static>> {
    CHECK.with(Cell::get)
}

/// Runs `f` on this (pool) thread under `check`, a check taken by
/// [`current_check`] on a thread that waits until `f` returns.
pub(crate) fn with_inherited<T>(check: Option<Check<'static>>, f: impl FnOnce() -> T) -> T {
    let _restore = Restore(CHECK.with(|c| c.replace(check)));
    f()
}

/// Whether the caller asked to stop the call running on this thread.
pub fn is_cancelled() -> bool {
    CHECK.with(Cell::get).is_some_and(|check| check())
}

/// `Err(Cancelled)` when the caller asked to stop: kernels call it between
/// chunks of work.
#[inline]
pub fn check() -> Result<()> {
    if is_cancelled() {
        Err(SashError::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_check_holds_for_its_call_only_and_calls_nest() {
        assert!(check().is_ok());
        let stop = AtomicBool::new(false);
        let flag = || stop.load(Ordering::Relaxed);
        with_check(&flag, || {
            assert!(check().is_ok());
            stop.store(true, Ordering::Relaxed);
            assert!(matches!(check(), Err(SashError::Cancelled)));
            let never = || false;
            // The outer check still counts inside a nested call.
            with_check(&never, || assert!(is_cancelled()));
        });
        assert!(check().is_ok());
        let result = std::panic::catch_unwind(|| with_check(&|| true, || panic!("inside")));
        assert!(result.is_err());
        assert!(check().is_ok(), "a panic restores the check that was there before");
    }
}
