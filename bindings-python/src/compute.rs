//! Compute and output: the kernel runs with the GIL released under `sash_ffi::panic::catch`; results go to pyarrow without copying.

use super::*;

/// How often a running call takes the GIL to run Python's signal handlers:
/// Ctrl-C stops a call within about this long plus one chunk of work.
pub(crate) const SIGNAL_LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Runs `f` with the GIL released; core errors and panics become `sash`
/// exceptions. While it runs, the kernel's cancel check runs Python's signal
/// handlers now and then: Ctrl-C (or any handler that raises) stops the call
/// with that exception, `KeyboardInterrupt` as in pure Python code.
pub(crate) fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> sash_core::Result<T> + Send) -> PyResult<T> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let started = Instant::now();
    let next_look = std::sync::atomic::AtomicU64::new(SIGNAL_LOOK_EVERY.as_nanos() as u64);
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let interrupted = || {
        // Once a handler raised, every later look says so (the signal is gone).
        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
        let now = started.elapsed().as_nanos() as u64;
        if now < next_look.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        next_look.store(now + SIGNAL_LOOK_EVERY.as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *raised.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                true
            }
        })
    };
    match py.detach(|| sash_ffi::panic::catch(|| sash_core::cancel::with_check(&interrupted, f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(sash_core::SashError::Cancelled)) => match raised.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Err(error::to_pyerr(py, sash_core::SashError::Cancelled)),
        },
        Ok(Err(e)) => Err(error::to_pyerr(py, e)),
        Err(payload) => Err(error::panic_to_pyerr(py, payload)),
    }
}

/// Hands the batches to pyarrow as a `pyarrow.Table`: the buffers change
/// owner through the Arrow C data interface, they are not copied.
///
/// Importing a schema costs pyarrow more than importing a small batch (a
/// one-row call spent most of its time there), and a program calls sash with
/// the same few output schemas again and again: so the pyarrow schema of each
/// recent output schema is kept, and only the arrays cross, each as one
/// `ArrowArray` struct read by `pyarrow.RecordBatch._import_from_c`.
pub(crate) fn to_pyarrow(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Bound<'_, PyAny>> {
    let api = PYARROW.get_or_try_init(py, || -> PyResult<PyarrowApi> {
        let pa = py.import(pyo3::intern!(py, "pyarrow"))?;
        Ok(PyarrowApi {
            import_batch: pa.getattr("RecordBatch")?.getattr("_import_from_c")?.unbind(),
            from_batches: pa.getattr("Table")?.getattr("from_batches")?.unbind(),
        })
    })?;
    let pa_schema = pyarrow_schema(py, &schema)?;
    let imported = PyList::empty(py);
    for batch in batches {
        let data = arrow_array::StructArray::from(batch).into_data();
        // pyarrow moves the struct's contents out (even when it fails), leaving
        // it released; dropping the box then frees only the struct itself.
        let mut array = Box::new(arrow_data::ffi::FFI_ArrowArray::new(&data));
        let address = std::ptr::addr_of_mut!(*array) as usize;
        imported.append(api.import_batch.bind(py).call1((address, &pa_schema))?)?;
    }
    api.from_batches.bind(py).call1((imported, pa_schema))
}

pub(crate) struct PyarrowApi {
    pub(crate) import_batch: Py<PyAny>,
    pub(crate) from_batches: Py<PyAny>,
}

pub(crate) static PYARROW: PyOnceLock<PyarrowApi> = PyOnceLock::new();

/// The pyarrow schemas of the most recent output schemas, newest first.
pub(crate) static SCHEMAS: Mutex<Vec<(SchemaRef, Py<PyAny>)>> = Mutex::new(Vec::new());
pub(crate) const SCHEMAS_KEPT: usize = 32;

pub(crate) fn pyarrow_schema<'py>(py: Python<'py>, schema: &SchemaRef) -> PyResult<Bound<'py, PyAny>> {
    {
        let mut kept = SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = kept.iter().position(|(s, _)| s == schema) {
            let entry = kept.remove(i);
            let found = entry.1.bind(py).clone();
            kept.insert(0, entry);
            return Ok(found);
        }
    }
    let imported = PySchema::new(schema.clone()).into_pyarrow(py)?;
    let mut kept = SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    kept.insert(0, (schema.clone(), imported.clone().unbind()));
    kept.truncate(SCHEMAS_KEPT);
    Ok(imported)
}

/// A window operation: the kernel's, or the reference's in tests.
pub(crate) type WindowFn = fn(&SchemaRef, &[RecordBatch], &sash_core::WindowSpec) -> sash_core::Result<RecordBatch>;
/// A rolling operation, as (schema, batches).
pub(crate) type RollingFn = fn(&SchemaRef, Vec<RecordBatch>, &sash_core::RollingSpec) -> sash_core::Result<(SchemaRef, Vec<RecordBatch>)>;

pub(crate) fn run_window(py: Python<'_>, input: Input, spec: Value, window: WindowFn) -> PyResult<RecordBatch> {
    compute(py, move || window(&input.schema, &input.batches, &sash_core::WindowSpec::from_value(&spec)?))
}

pub(crate) fn run_rolling(py: Python<'_>, input: Input, spec: Value, rolling: RollingFn) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    compute(py, move || rolling(&input.schema, input.batches, &sash_core::RollingSpec::from_value(&spec)?))
}

/// The kernel's rolling.
pub(crate) fn kernel_rolling(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    spec: &sash_core::RollingSpec,
) -> sash_core::Result<(SchemaRef, Vec<RecordBatch>)> {
    sash_core::rolling_with_schema(schema, &batches, spec)
}
