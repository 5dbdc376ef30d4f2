//! Input: anything with the Arrow PyCapsule interface, without copying; other objects through `sash._convert.to_arrow`.

use super::*;

/// The input as the core takes it: one schema and zero or more batches that
/// share the Python objects' buffers.
pub(crate) struct Input {
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Vec<RecordBatch>,
}

pub(crate) static TO_ARROW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) static READ_READER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether `obj` is a `pyarrow.RecordBatchReader`: read in Python first (see `sash._convert.read_reader`).
pub(crate) fn is_pyarrow_reader(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let ty = obj.get_type();
    Ok(ty.name()? == "RecordBatchReader" && ty.module()?.to_string_lossy().starts_with("pyarrow"))
}

pub(crate) fn read_input(data: &Bound<'_, PyAny>) -> PyResult<Input> {
    let py = data.py();
    // The common case of small pushes first, before any attribute lookup.
    if is_pyarrow_record_batch(data)? {
        return import_batches(data).map_err(|e| e.into_pyerr(py));
    }
    let speaks_arrow = data.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? || data.hasattr(pyo3::intern!(py, "__arrow_c_array__"))?;
    let converted;
    let obj = if is_pyarrow_reader(data)? {
        converted = READ_READER.import(py, "sash._convert", "read_reader")?.call1((data,))?;
        &converted
    } else if speaks_arrow {
        data
    } else {
        converted = TO_ARROW.import(py, "sash._convert", "to_arrow")?.call1((data,))?;
        &converted
    };
    match import_batches(obj) {
        Err(ImportError::Arrow(e)) if is_polars_null_export(obj, &e) => {
            // Re-exported by pyarrow, which reads the extra buffer and writes
            // the struct the interface specifies; no buffer is copied.
            let table = py.import(pyo3::intern!(py, "pyarrow"))?.call_method1(pyo3::intern!(py, "table"), (obj,))?;
            import_batches(&table).map_err(|e| e.into_pyerr(py))
        }
        other => other.map_err(|e| e.into_pyerr(py)),
    }
}

pub(crate) enum ImportError {
    Python(PyErr),
    /// The stream's arrays could not be read.
    Arrow(ArrowError),
}

impl ImportError {
    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            ImportError::Python(e) => e,
            // A Python exception raised while producing the stream: re-raise it as is.
            ImportError::Arrow(e @ ArrowError::ExternalError(_)) => PyErr::from(PyArrowError::from(e)),
            ImportError::Arrow(e) => error::new_err(py, "invalid_input", format!("invalid input: could not read the Arrow stream: {e}")),
        }
    }
}

pub(crate) fn import_batches(obj: &Bound<'_, PyAny>) -> Result<Input, ImportError> {
    let py = obj.py();
    let python = |e: PyErr| ImportError::Python(e);
    // One record batch through `__arrow_c_array__` when the object is a
    // pyarrow RecordBatch: its `__arrow_c_stream__` first builds a Table and
    // checks every column is on the CPU through Python generators, which was
    // most of a small push's time. Other objects go by a stream first:
    // pyarrow tables have no `__arrow_c_array__`, and asking for it costs an
    // AttributeError on every call.
    if is_pyarrow_record_batch(obj).map_err(python)? {
        if let Ok(batch) = obj.extract::<PyRecordBatch>() {
            let batch = batch.into_inner();
            return Ok(Input { schema: batch.schema(), batches: vec![batch] });
        }
    }
    let reader = if obj.hasattr(pyo3::intern!(py, "__arrow_c_stream__")).map_err(python)? {
        obj.extract::<PyRecordBatchReader>().map_err(python)?.into_reader().map_err(python)?
    } else {
        obj.extract::<AnyRecordBatch>().map_err(python)?.into_reader().map_err(python)?
    };
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, ArrowError>>().map_err(ImportError::Arrow)?;
    Ok(Input { schema, batches })
}

/// Whether `obj` is a `pyarrow.RecordBatch` (without importing pyarrow when
/// nothing else did).
fn is_pyarrow_record_batch(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    let class = match PYARROW_RECORD_BATCH.get(py) {
        Some(class) => class,
        None => {
            let modules = py.import(pyo3::intern!(py, "sys"))?.getattr(pyo3::intern!(py, "modules"))?;
            let Ok(pyarrow) = modules.get_item("pyarrow") else { return Ok(false) };
            PYARROW_RECORD_BATCH.get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(pyarrow.getattr("RecordBatch")?.unbind()) })?
        }
    };
    Ok(obj.get_type().is(class.bind(py)))
}

static PYARROW_RECORD_BATCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Polars exports a column of its Null type with one buffer where the C Data
/// Interface specifies none, which arrow-rs rejects (pola-rs/polars#22934).
/// A polars object can export again, so it can take the pyarrow route.
pub(crate) fn is_polars_null_export(obj: &Bound<'_, PyAny>, e: &ArrowError) -> bool {
    let from_polars = obj.get_type().module().is_ok_and(|m| m.to_string_lossy().starts_with("polars"));
    from_polars && e.to_string().contains("\"Null\" doesn't expect buffer")
}
