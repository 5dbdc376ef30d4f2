//! `Thread.interrupt()` cancels long calls.
//!
//! The kernels ask `sash_core::cancel::check` between chunks of work; every
//! entry point that runs kernel work (and every pull of a result stream) runs
//! it inside [`interruptible`], whose check asks the JVM whether the calling
//! thread is interrupted (`Thread.currentThread().isInterrupted()`, which
//! does not clear the flag). The question costs two JNI calls, so it is asked
//! at most once per [`ASK_EVERY`]: a call shorter than that never asks, and
//! a long call stops within about that much of the interrupt. A cancelled
//! call fails with `SashError::Cancelled`, which Java sees as a
//! `SashCancelledException`; the thread's interrupt status stays set, as
//! Java's interruptible methods leave it for their callers.

use jni::{jni_sig, jni_str, JavaVM};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often at most the JVM is asked.
pub const ASK_EVERY: Duration = Duration::from_millis(10);

/// The cancel check of one call: whether the thread running it is interrupted.
///
/// It holds no JNI environment: each question takes the environment of the
/// thread that asks it from the `JavaVM` (the one of the running native method,
/// or of the Java thread pulling a stream through Arrow Java's JNI). The core
/// asks a check only on the thread that installed it; should it ever be asked
/// on another thread, the answer would be about that thread (or "no" on a
/// thread the JVM does not know), never a use of another thread's
/// environment. So the type is `Sync` without `unsafe`: the state is atomics.
#[derive(Debug)]
pub struct Interrupted {
    vm: JavaVM,
    start: Instant,
    /// Nanoseconds after `start` before which the JVM is not asked again.
    next_ask: AtomicU64,
    /// The JVM said yes: the flag is never cleared by sash, so the answer stays.
    seen: AtomicBool,
}

impl Interrupted {
    /// A check for a call starting now; the first question comes after [`ASK_EVERY`].
    pub fn new(vm: JavaVM) -> Interrupted {
        Interrupted { vm, start: Instant::now(), next_ask: AtomicU64::new(nanos(ASK_EVERY)), seen: AtomicBool::new(false) }
    }

    /// Whether the calling thread is interrupted, asking the JVM at most once per [`ASK_EVERY`].
    pub fn check(&self) -> bool {
        if self.seen.load(Ordering::Relaxed) {
            return true;
        }
        let now = nanos(self.start.elapsed());
        if now < self.next_ask.load(Ordering::Relaxed) {
            return false;
        }
        self.next_ask.store(now.saturating_add(nanos(ASK_EVERY)), Ordering::Relaxed);
        let interrupted = current_thread_interrupted(&self.vm);
        if interrupted {
            self.seen.store(true, Ordering::Relaxed);
        }
        interrupted
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `Thread.currentThread().isInterrupted()` on the calling thread; false when
/// the thread is not attached to the JVM, when a Java exception is pending
/// (no Java method may be called then), or when the question itself fails
/// (its exception is cleared: it must not surface from a kernel call).
pub fn current_thread_interrupted(vm: &JavaVM) -> bool {
    let answer = vm.with_local_frame(4, |env| -> jni::errors::Result<bool> {
        if env.exception_check() {
            return Ok(false);
        }
        let asked = (|| {
            let thread = env
                .call_static_method(jni_str!("java/lang/Thread"), jni_str!("currentThread"), jni_sig!("()Ljava/lang/Thread;"), &[])?
                .l()?;
            env.call_method(&thread, jni_str!("isInterrupted"), jni_sig!("()Z"), &[])?.z()
        })();
        if asked.is_err() && env.exception_check() {
            env.exception_clear();
        }
        Ok(asked.unwrap_or(false))
    });
    answer.unwrap_or(false)
}

/// Runs `work` so that interrupting the calling Java thread cancels it (with
/// `SashError::Cancelled`, from the kernel's next check).
pub fn interruptible<T>(vm: JavaVM, work: impl FnOnce() -> T) -> T {
    let interrupted = Interrupted::new(vm);
    let check = || interrupted.check();
    sash_core::cancel::with_check(&check, work)
}
