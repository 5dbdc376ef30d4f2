//! SIGINT and SIGTERM: the first asks the running command to stop (the
//! kernel's cancellation check reads the flag), a second one ends the
//! process at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process). Also lets a write past the
/// file size limit (`ulimit -f`) fail with an error the command reports,
/// instead of SIGXFSZ killing the process with a half-written file.
pub fn install() {
    STOP.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The order matters: the second signal finds the flag set and exits.
            let _ = signal_hook::flag::register_conditional_shutdown(signal, crate::error::EXIT_INTERRUPTED, flag.clone());
            let _ = signal_hook::flag::register(signal, flag.clone());
        }
        // SAFETY: setting a signal's disposition to "ignore" runs no code of ours in a handler.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
        flag
    });
}

/// Whether SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
