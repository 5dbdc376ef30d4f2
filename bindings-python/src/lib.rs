//! The Python binding of sash: the native module `sash._sash` (issue #4).
//!
//! Thin `#[pyfunction]`s over `sash-core`:
//!
//! 1. **Input**: anything with `__arrow_c_stream__` / `__arrow_c_array__` is
//!    imported through the Arrow PyCapsule interface by pyo3-arrow, without
//!    copying. Other objects (dicts of NumPy arrays or lists, pandas without
//!    the capsule protocol) go through `sash._convert.to_arrow`, which builds a
//!    pyarrow Table (zero-copy where pyarrow can wrap the NumPy buffers).
//! 2. **Spec**: the keyword arguments become the core's canonical JSON spec,
//!    key by key; unknown keywords are passed on too, so the core rejects them
//!    by name (`invalid_spec: unknown key 'colsed'`), exactly as for the
//!    JSON spec of every other binding.
//! 3. **Compute** in `py.detach` (the GIL is released) under `sash_ffi::panic::catch`:
//!    a panic becomes `sash.InternalError`, never a crash.
//! 4. **Output**: each result batch is exported as one Arrow C `ArrowArray`
//!    and imported by pyarrow against a kept pyarrow schema (see
//!    `to_pyarrow`); pyarrow takes ownership of the buffers without copying.
//!
//! `sash.parse` and `sash.read_log` (issue #3's parsing kernel) have the same
//! shape: convert input, build the JSON parse spec from `format` and the
//! keyword options, parse under `py.detach`, map errors, export.

mod cli;
mod compute;
mod error;
mod input;
mod parse;
mod spec;
mod stream;
mod testing;
mod threads;
mod windows;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3_arrow::error::PyArrowError;
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::{PyRecordBatch, PyRecordBatchReader, PySchema};
use serde_json::{Map, Number, Value};
use std::sync::Mutex;
use std::time::Instant;

use compute::*;
use input::*;
use parse::*;
use spec::*;
use stream::*;
use testing::*;
use windows::*;

#[pymodule]
fn _sash(m: &Bound<'_, PyModule>) -> PyResult<()> {
    return_freed_memory_at_once();
    m.add("__version__", sash_core::VERSION)?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(window_agg, m)?)?;
    m.add_function(wrap_pyfunction!(rolling, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse, m)?)?;
    m.add_function(wrap_pyfunction!(read_log, m)?)?;
    m.add_function(wrap_pyfunction!(threads::set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::get_threads, m)?)?;
    m.add_class::<_LogBatches>()?;
    m.add_class::<WindowStream>()?;
    m.add_class::<RollingStream>()?;
    #[cfg(feature = "reference")]
    m.add_function(wrap_pyfunction!(_reference_window_agg, m)?)?;
    #[cfg(feature = "reference")]
    m.add_function(wrap_pyfunction!(_reference_rolling, m)?)?;
    m.add_function(wrap_pyfunction!(_traced, m)?)?;
    m.add_function(wrap_pyfunction!(_kernel_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(_stream_kernel_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(cli::_cli_main, m)?)?;
    Ok(())
}

/// Every Rust allocation of the module, and so every buffer it hands to
/// pyarrow (whose release callback frees it here again), comes from
/// mimalloc, as in py-polars. A call makes dozens of small allocations
/// (spec, plan, schema and FFI structs) that glibc's malloc, sharing its
/// arenas with the interpreter and pyarrow, served slowly: a one-row
/// `window_agg` call took 20.8 µs with it and 15.1 µs with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (the index in its `mi_option_e`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// By default mimalloc keeps freed pages resident for 10 ms (arenas 100 ms)
/// in case they are reused. Reading a log in chunks frees a 16 MiB chunk and
/// its batch every few milliseconds, so the pages piled up: the streaming
/// peak crept from 84 to 103 MB as the file grew from 38 to 608 MB, where
/// glibc stayed flat. Returning them at once keeps it flat (64 MB), as a
/// stream must be whatever its length.
fn return_freed_memory_at_once() {
    // SAFETY: sets one integer option; the call takes no pointers.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
