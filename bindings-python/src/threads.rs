//! The thread count of the kernels: `set_threads` / `get_threads`.

use crate::error;
use pyo3::prelude::*;

/// Sets how many threads sash's kernels use, for the whole process (every
/// Python thread calling sash shares them); 0 goes back to the default: the
/// `SASH_MAX_THREADS` environment variable, else the cores the process may
/// use. The count never changes a result, only how fast it comes. Calls
/// already running finish on the threads they started with.
#[pyfunction]
pub fn set_threads(py: Python<'_>, n: i64) -> PyResult<()> {
    sash_core::pool::requested_threads(n).and_then(sash_core::set_threads).map_err(|e| error::to_pyerr(py, e))
}

/// How many threads sash's kernels use (see `set_threads`).
#[pyfunction]
pub fn get_threads() -> usize {
    sash_core::threads()
}
