//! Panics never cross a language boundary: every entry point runs its work
//! in [`catch`], and a caught panic is reported with [`internal_message`].

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use std::any::Any;

/// The text of a panic's payload.
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

/// A reader whose panics become errors of its next batch: arrow-rs calls it
/// from `extern "C"` callbacks (the C Stream Interface's `get_next`), where
/// a panic would abort the caller's process.
pub struct CatchPanics(pub Box<dyn RecordBatchReader + Send>);

impl std::fmt::Debug for CatchPanics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchPanics").field("schema", &self.0.schema()).finish()
    }
}

impl Iterator for CatchPanics {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        catch(|| self.0.next()).unwrap_or_else(|payload| Some(Err(ArrowError::ExternalError(internal_message(payload.as_ref()).into()))))
    }
}

impl RecordBatchReader for CatchPanics {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_keeps_its_message() {
        let payload = catch(|| panic!("boom at the kernel")).unwrap_err();
        assert_eq!(internal_message(payload.as_ref()), "internal error in sash (please report it): boom at the kernel");
        assert_eq!(catch(|| 7).unwrap(), 7);
    }
}
