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

mod error;

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

// --------------------------------------------------------------------------
// Input
// --------------------------------------------------------------------------

/// The input as the core takes it: one schema and zero or more batches that
/// share the Python objects' buffers.
struct Input {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

static TO_ARROW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

static READ_READER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether `obj` is a `pyarrow.RecordBatchReader`: read in Python first (see `sash._convert.read_reader`).
fn is_pyarrow_reader(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let ty = obj.get_type();
    Ok(ty.name()? == "RecordBatchReader" && ty.module()?.to_string_lossy().starts_with("pyarrow"))
}

fn read_input(data: &Bound<'_, PyAny>) -> PyResult<Input> {
    let py = data.py();
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

enum ImportError {
    Python(PyErr),
    /// The stream's arrays could not be read.
    Arrow(ArrowError),
}

impl ImportError {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            ImportError::Python(e) => e,
            // A Python exception raised while producing the stream: re-raise it as is.
            ImportError::Arrow(e @ ArrowError::ExternalError(_)) => PyErr::from(PyArrowError::from(e)),
            ImportError::Arrow(e) => error::new_err(py, "invalid_input", format!("invalid input: could not read the Arrow stream: {e}")),
        }
    }
}

fn import_batches(obj: &Bound<'_, PyAny>) -> Result<Input, ImportError> {
    let py = obj.py();
    let python = |e: PyErr| ImportError::Python(e);
    // A stream first: pyarrow tables have no `__arrow_c_array__`, and asking
    // for it costs an AttributeError on every call.
    let reader = if obj.hasattr(pyo3::intern!(py, "__arrow_c_stream__")).map_err(python)? {
        obj.extract::<PyRecordBatchReader>().map_err(python)?.into_reader().map_err(python)?
    } else {
        obj.extract::<AnyRecordBatch>().map_err(python)?.into_reader().map_err(python)?
    };
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, ArrowError>>().map_err(ImportError::Arrow)?;
    Ok(Input { schema, batches })
}

/// Polars exports a column of its Null type with one buffer where the C Data
/// Interface specifies none, which arrow-rs rejects (pola-rs/polars#22934).
/// A polars object can export again, so it can take the pyarrow route.
fn is_polars_null_export(obj: &Bound<'_, PyAny>, e: &ArrowError) -> bool {
    let from_polars = obj.get_type().module().is_ok_and(|m| m.to_string_lossy().starts_with("polars"));
    from_polars && e.to_string().contains("\"Null\" doesn't expect buffer")
}

// --------------------------------------------------------------------------
// Spec: keyword arguments -> the canonical JSON spec
// --------------------------------------------------------------------------

/// A Python value as JSON. Durations may also be `datetime.timedelta`
/// (turned into whole microseconds, `"90000000us"`), NumPy's `timedelta64`
/// or pandas' `Timedelta` (whole nanoseconds).
fn to_json(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return Ok(if let Ok(v) = i.extract::<i64>() {
            Value::from(v)
        } else if let Ok(v) = i.extract::<u64>() {
            Value::from(v)
        } else {
            // Beyond 64 bits: the core sees the digits and says the duration is too large.
            Value::String(i.str()?.to_str()?.to_string())
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Ok(Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|item| to_json(key, &item)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple.iter().map(|item| to_json(key, &item)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let Ok(k) = k.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!("'{key}' keys must be strings, got {}", k.get_type().name()?)));
            };
            map.insert(k.to_str()?.to_string(), to_json(key, &v)?);
        }
        return Ok(Value::Object(map));
    }
    // NumPy's timedelta64 and pandas' Timedelta (a timedelta that also holds
    // nanoseconds): whole nanoseconds, NaT refused.
    let type_name = obj.get_type().name()?;
    let timedelta64 = if type_name == "timedelta64" {
        Some(obj.clone())
    } else if type_name == "Timedelta" {
        obj.getattr(pyo3::intern!(obj.py(), "asm8")).ok()
    } else {
        None
    };
    if let Some(value) = timedelta64 {
        // A month or a year has no fixed length: NumPy would make them
        // 30.436875 and 365.2425 days, where "1M" and "1 month" are refused.
        let dtype: String = value.getattr(pyo3::intern!(obj.py(), "dtype"))?.str()?.extract()?;
        if dtype.ends_with("[M]") || dtype.ends_with("[Y]") {
            let shown: String = obj.repr()?.extract()?;
            return Err(error::new_err(
                obj.py(),
                "invalid_duration",
                format!("invalid duration {shown}: calendar months, quarters and years are not supported yet ('{key}')"),
            ));
        }
        let nanos: i64 = value.call_method1("astype", ("timedelta64[ns]",))?.call_method1("astype", ("int64",))?.extract()?;
        if nanos == i64::MIN {
            return Err(PyValueError::new_err(format!("'{key}' cannot be NaT")));
        }
        return Ok(Value::String(format!("{nanos}ns")));
    }
    if let Ok(delta) = obj.cast::<PyDelta>() {
        let micros = i128::from(delta.get_days()) * 86_400_000_000
            + i128::from(delta.get_seconds()) * 1_000_000
            + i128::from(delta.get_microseconds());
        return Ok(Value::String(format!("{micros}us")));
    }
    // NumPy scalars and other integer-likes (__index__).
    if let Ok(v) = obj.extract::<i64>() {
        return Ok(Value::from(v));
    }
    Err(PyTypeError::new_err(format!(
        "'{key}' cannot be a {}: use a string, an integer, a list or a dict (durations may also be datetime.timedelta)",
        obj.get_type().name()?
    )))
}

/// Builds the JSON spec from the named keywords (in the documented order,
/// `None` meaning "not given") and any extra keywords (passed on verbatim so
/// the core names them in its error).
fn spec_json(named: &[(&str, Option<&Bound<'_, PyAny>>)], extra: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
    let mut map = Map::new();
    for (key, value) in named {
        if let Some(v) = value {
            if !v.is_none() {
                map.insert((*key).to_string(), to_json(key, v)?);
            }
        }
    }
    if let Some(extra) = extra {
        for (k, v) in extra.iter() {
            let k: String = k.extract()?;
            if v.is_none() {
                // The named keywords take None as "not given"; an option
                // given as None is more likely a mistake than a default.
                return Err(error::new_err(v.py(), "invalid_spec", format!("invalid spec: '{k}' is None; leave it out for its default")));
            }
            let json = to_json(&k, &v)?;
            map.insert(k, json);
        }
    }
    Ok(Value::Object(map))
}

fn spec_from_dict(spec: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json("spec", spec)
}

// --------------------------------------------------------------------------
// Compute and output
// --------------------------------------------------------------------------

/// How often a running call takes the GIL to run Python's signal handlers:
/// Ctrl-C stops a call within about this long plus one chunk of work.
const SIGNAL_LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Runs `f` with the GIL released; core errors and panics become `sash`
/// exceptions. While it runs, the kernel's cancel check runs Python's signal
/// handlers now and then: Ctrl-C (or any handler that raises) stops the call
/// with that exception, `KeyboardInterrupt` as in pure Python code.
fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> sash_core::Result<T> + Send) -> PyResult<T> {
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
fn to_pyarrow(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Bound<'_, PyAny>> {
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

struct PyarrowApi {
    import_batch: Py<PyAny>,
    from_batches: Py<PyAny>,
}

static PYARROW: PyOnceLock<PyarrowApi> = PyOnceLock::new();

/// The pyarrow schemas of the most recent output schemas, newest first.
static SCHEMAS: Mutex<Vec<(SchemaRef, Py<PyAny>)>> = Mutex::new(Vec::new());
const SCHEMAS_KEPT: usize = 32;

fn pyarrow_schema<'py>(py: Python<'py>, schema: &SchemaRef) -> PyResult<Bound<'py, PyAny>> {
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

fn run_window(py: Python<'_>, input: Input, spec: Value, reference: bool) -> PyResult<RecordBatch> {
    compute(py, move || {
        let spec = sash_core::WindowSpec::from_value(&spec)?;
        if reference {
            sash_core::reference::window_agg(&input.schema, &input.batches, &spec)
        } else {
            sash_core::window_agg(&input.schema, &input.batches, &spec)
        }
    })
}

fn run_rolling(py: Python<'_>, input: Input, spec: Value, reference: bool) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    compute(py, move || {
        let spec = sash_core::RollingSpec::from_value(&spec)?;
        if !reference {
            return sash_core::rolling_with_schema(&input.schema, &input.batches, &spec);
        }
        // The reference returns one batch, so zero batches in still give one (empty) out.
        let batches = if input.batches.is_empty() { vec![RecordBatch::new_empty(input.schema.clone())] } else { input.batches };
        let out = sash_core::reference::rolling(&input.schema, &batches, &spec)?;
        Ok((out.schema(), vec![out]))
    })
}

// --------------------------------------------------------------------------
// The public functions
// --------------------------------------------------------------------------

/// Windowed aggregation: tumbling (``every``), hopping (``every`` and
/// ``period``) or session (``session_gap``) windows over the time column
/// ``time``, per key (``by``), one output row per non-empty window.
///
/// ``data`` is anything that speaks the Arrow PyCapsule interface (pyarrow
/// Table, RecordBatch or RecordBatchReader, a polars DataFrame, a DuckDB
/// relation, nanoarrow, pandas), or a dict of NumPy arrays or lists. It is
/// read without copying and left unchanged.
///
/// Durations are strings such as ``"10m"``, ``"1h30m"``, ``"500ms"`` (integers
/// for integer time columns) or ``datetime.timedelta``. ``aggs`` is a list of
/// expressions (``"mean(latency) as avg"``) or a dict alias -> expression.
/// The keywords are the keys of the canonical spec in ``docs/semantics.md``;
/// an unknown keyword raises ``sash.InvalidSpecError`` naming it.
///
/// Returns a ``pyarrow.Table``: the key columns, ``window_start``,
/// ``window_end``, then one column per aggregation. The GIL is released
/// while the kernel runs.
///
/// >>> import pyarrow as pa, sash
/// >>> t = pa.table({"ts": pa.array([0, 30, 61, 65], pa.timestamp("s")),
/// ...               "host": ["a", "a", "b", "a"], "ms": [1.0, 3.0, 5.0, 7.0]})
/// >>> out = sash.window_agg(t, time="ts", every="1m", by="host",
/// ...                       aggs=["count() as n", "mean(ms) as avg"])
/// >>> out.column_names
/// ['host', 'window_start', 'window_end', 'n', 'avg']
/// >>> out.to_pydict()["n"], out.to_pydict()["avg"]
/// ([2, 1, 1], [2.0, 7.0, 5.0])
/// >>> sash.window_agg(t, time="ts", every="1x", aggs=["count()"])
/// Traceback (most recent call last):
/// ...
/// sash.InvalidDurationError: invalid duration '1x': ...
#[pyfunction]
#[pyo3(
    signature = (data, *, time=None, every=None, period=None, offset=None, session_gap=None, by=None, aggs=None, closed=None, null_time=None, **extra),
    text_signature = "(data, *, time, every=None, period=None, offset=None, session_gap=None, by=None, aggs, closed='left', null_time='error')"
)]
#[allow(clippy::too_many_arguments)]
fn window_agg<'py>(
    data: &Bound<'py, PyAny>,
    time: Option<&Bound<'py, PyAny>>,
    every: Option<&Bound<'py, PyAny>>,
    period: Option<&Bound<'py, PyAny>>,
    offset: Option<&Bound<'py, PyAny>>,
    session_gap: Option<&Bound<'py, PyAny>>,
    by: Option<&Bound<'py, PyAny>>,
    aggs: Option<&Bound<'py, PyAny>>,
    closed: Option<&Bound<'py, PyAny>>,
    null_time: Option<&Bound<'py, PyAny>>,
    extra: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let spec = spec_json(
        &[
            ("time", time),
            ("every", every),
            ("period", period),
            ("offset", offset),
            ("session_gap", session_gap),
            ("by", by),
            ("aggs", aggs),
            ("closed", closed),
            ("null_time", null_time),
        ],
        extra,
    )?;
    let out = run_window(py, read_input(data)?, spec, false)?;
    to_pyarrow(py, out.schema(), vec![out])
}

/// Rolling aggregation: one output row per input row, in input order, with
/// the aggregates over the rows of the same key (``by``) in the window that
/// ends at that row. ``period`` is a duration (``"5m"``) or a row count
/// (``"100i"``); ``closed`` is ``"right"``, ``"left"``, ``"both"`` or ``"none"``.
///
/// Returns a ``pyarrow.Table``: the input columns (the very same buffers, not
/// copies) followed by one column per aggregation. Inputs as for
/// :func:`window_agg`.
///
/// >>> import pyarrow as pa, sash
/// >>> t = pa.table({"ts": pa.array([0, 10, 20, 60], pa.timestamp("s")), "v": [1, 2, 3, 4]})
/// >>> sash.rolling(t, time="ts", period="30s", aggs={"s": "sum(v)"}).to_pydict()["s"]
/// [1, 3, 6, 4]
/// >>> sash.rolling(t, time="ts", period="2i", aggs=["count() as n"]).column("n").to_pylist()
/// [1, 2, 2, 2]
#[pyfunction]
#[pyo3(
    signature = (data, *, time=None, period=None, by=None, aggs=None, closed=None, null_time=None, **extra),
    text_signature = "(data, *, time, period, by=None, aggs, closed='right', null_time='error')"
)]
#[allow(clippy::too_many_arguments)]
fn rolling<'py>(
    data: &Bound<'py, PyAny>,
    time: Option<&Bound<'py, PyAny>>,
    period: Option<&Bound<'py, PyAny>>,
    by: Option<&Bound<'py, PyAny>>,
    aggs: Option<&Bound<'py, PyAny>>,
    closed: Option<&Bound<'py, PyAny>>,
    null_time: Option<&Bound<'py, PyAny>>,
    extra: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let spec =
        spec_json(&[("time", time), ("period", period), ("by", by), ("aggs", aggs), ("closed", closed), ("null_time", null_time)], extra)?;
    let (schema, out) = run_rolling(py, read_input(data)?, spec, false)?;
    to_pyarrow(py, schema, out)
}

// --------------------------------------------------------------------------
// Private helpers for the tests and the benchmark (not part of the API)
// --------------------------------------------------------------------------

/// The core's brute-force reference `window_agg` (the executable spec), for tests.
#[pyfunction]
fn _reference_window_agg<'py>(data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let out = run_window(py, read_input(data)?, spec_from_dict(spec)?, true)?;
    to_pyarrow(py, out.schema(), vec![out])
}

/// The core's brute-force reference `rolling`, for tests.
#[pyfunction]
fn _reference_rolling<'py>(data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let (schema, out) = run_rolling(py, read_input(data)?, spec_from_dict(spec)?, true)?;
    to_pyarrow(py, schema, out)
}

/// Buffer addresses: `[batch][column][buffer]`.
type Addresses = Vec<Vec<Vec<usize>>>;

/// Addresses of every buffer of every column, batch by batch (validity
/// first, then offsets/values, as pyarrow's `Array.buffers()` lists them),
/// as Rust sees them.
fn buffer_addresses(batches: &[RecordBatch]) -> Addresses {
    fn of(data: &arrow_array::ArrayRef) -> Vec<usize> {
        let d = data.to_data();
        let mut out: Vec<usize> = d.nulls().map(|n| n.buffer().as_ptr() as usize).into_iter().collect();
        out.extend(d.buffers().iter().map(|b| b.as_ptr() as usize));
        out
    }
    batches.iter().map(|b| b.columns().iter().map(of).collect()).collect()
}

/// Runs `window_agg` (op "window_agg") or `rolling` (op "rolling") with a
/// dict spec, through the same path as the public functions, and also
/// returns the buffer addresses of the output as Rust saw them just before
/// handing it to pyarrow: `(table, [batch][column][buffer address])`. The
/// zero-copy tests compare them with pyarrow's `Buffer.address`.
#[pyfunction]
fn _traced<'py>(op: &str, data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Addresses)> {
    let py = data.py();
    let input = read_input(data)?;
    let spec = spec_from_dict(spec)?;
    let (schema, out) = match op {
        "window_agg" => {
            let out = run_window(py, input, spec, false)?;
            (out.schema(), vec![out])
        }
        "rolling" => run_rolling(py, input, spec, false)?,
        other => return Err(PyTypeError::new_err(format!("unknown op {other}"))),
    };
    let addresses = buffer_addresses(&out);
    Ok((to_pyarrow(py, schema, out)?, addresses))
}

/// Times the kernel alone on already imported data: the best of `repeat`
/// runs of `window_agg`/`rolling`, in seconds, as the Rust benchmark does
/// (spec parsing included, output materialized, nothing exported). The
/// benchmark compares it with the time of the whole Python call.
#[pyfunction]
fn _kernel_seconds(py: Python<'_>, op: &str, data: &Bound<'_, PyAny>, spec: &Bound<'_, PyAny>, repeat: usize) -> PyResult<f64> {
    let input = read_input(data)?;
    let spec = spec_from_dict(spec)?;
    let window = match op {
        "window_agg" => true,
        "rolling" => false,
        other => return Err(PyTypeError::new_err(format!("unknown op {other}"))),
    };
    compute(py, move || {
        let mut best = f64::INFINITY;
        for _ in 0..repeat.max(1) {
            let start = Instant::now();
            if window {
                let spec = sash_core::WindowSpec::from_value(&spec)?;
                std::hint::black_box(sash_core::window_agg(&input.schema, &input.batches, &spec)?);
            } else {
                let spec = sash_core::RollingSpec::from_value(&spec)?;
                std::hint::black_box(sash_core::rolling(&input.schema, &input.batches, &spec)?);
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(best)
    })
}

/// Every core error kind and the name of its exception class (None if it has
/// none), for the test that each kind maps to its own class.
#[pyfunction]
fn _error_kinds() -> Vec<(&'static str, Option<&'static str>)> {
    error::kind_classes()
}

/// Panics inside the guarded compute section, to test that no panic reaches Python.
#[pyfunction]
fn _panic(py: Python<'_>, message: String) -> PyResult<()> {
    compute(py, move || -> sash_core::Result<()> { panic!("{message}") })
}

// --------------------------------------------------------------------------
// Parsing (docs/parsing.md)
// --------------------------------------------------------------------------

static TO_LINES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The parse spec: `format` plus the keyword options, key by key.
fn parse_spec(format: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
    spec_json(&[("format", Some(format))], options)
}

/// What `sash.parse` was given: raw bytes (split into lines by the core) or
/// Arrow string/binary arrays (one line per element), imported without copying.
enum Lines {
    Bytes(arrow_buffer::Buffer),
    Arrays(Vec<arrow_array::ArrayRef>),
}

fn read_lines(lines: &Bound<'_, PyAny>) -> PyResult<Lines> {
    let py = lines.py();
    if let Ok(b) = lines.cast::<pyo3::types::PyBytes>() {
        return Ok(Lines::Bytes(arrow_buffer::Buffer::from(b.as_bytes())));
    }
    let speaks_arrow = lines.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? || lines.hasattr(pyo3::intern!(py, "__arrow_c_array__"))?;
    let converted;
    let obj = if is_pyarrow_reader(lines)? {
        converted = READ_READER.import(py, "sash._convert", "read_reader")?.call1((lines,))?;
        &converted
    } else if speaks_arrow {
        lines
    } else {
        converted = TO_LINES.import(py, "sash._convert", "to_lines")?.call1((lines,))?;
        &converted
    };
    let any: AnyArray = obj.extract()?;
    let reader = any.into_reader()?;
    let arrays = reader.collect::<Result<Vec<_>, ArrowError>>().map_err(|e| match e {
        ArrowError::ExternalError(_) => PyErr::from(PyArrowError::from(e)),
        e => error::new_err(py, "invalid_input", format!("invalid input: could not read the Arrow stream: {e}")),
    })?;
    Ok(Lines::Arrays(arrays))
}

/// Parses log lines into typed columns, one output row per input line, in
/// order (``docs/parsing.md``).
///
/// ``lines`` is any Arrow string or binary array or chunked array (pyarrow,
/// polars Series, nanoarrow, anything with ``__arrow_c_array__`` /
/// ``__arrow_c_stream__``), a NumPy array or a list of str (converted by
/// pyarrow), or ``bytes`` holding whole lines (split at LF, CRLF or CR).
/// Arrow input is read without copying: string columns of the result are
/// ``string_view`` cells pointing into the input's own buffers.
///
/// ``format`` is ``"common"``, ``"combined"``, ``"syslog"``,
/// ``"apache_error"``, ``"logfmt"``, ``"json"`` or ``"regex"``; the keyword
/// options are the other keys of the parse spec (``on_error``, ``strings``,
/// ``timezone``, ``reference_time``, ``fields``, ``schema``, ``pattern``,
/// ``types``). An unknown or misplaced option raises
/// ``sash.InvalidSpecError`` naming it.
///
/// Returns a ``pyarrow.Table``: the format's columns, then ``_error`` (null
/// where the line parsed). With ``on_error="raise"`` the first bad line raises
/// ``sash.ParseError`` naming its line number. The GIL is released while
/// parsing.
///
/// >>> import sash
/// >>> t = sash.parse([
/// ...     '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
/// ...     '10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.0" 2x0 -',
/// ... ], "common")
/// >>> t.column("path").to_pylist(), t.column("status").to_pylist()
/// (['/a.gif', '/b'], [200, None])
/// >>> t.column("_error").to_pylist()[1]
/// "status at byte 60: expected a 3-digit status code, found '2x0'"
/// >>> sash.parse(["level=info ms=12"], "logfmt", fields={"ms": "int"}).to_pydict()
/// {'ms': [12], '_error': [None]}
/// >>> sash.parse(["x=1", "oops"], "regex", pattern=r"^x=(?P<x>\d+)$", types={"x": "int"}, on_error="raise")
/// Traceback (most recent call last):
/// ...
/// sash.ParseError: line 2 does not parse: pattern at byte 0: the line does not match the pattern
#[pyfunction]
#[pyo3(signature = (lines, format, **options), text_signature = "(lines, format, **options)")]
fn parse<'py>(lines: &Bound<'py, PyAny>, format: &Bound<'py, PyAny>, options: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
    let py = lines.py();
    let spec = parse_spec(format, options)?;
    let input = read_lines(lines)?;
    let (schema, batches) = compute(py, move || {
        let mut parser = sash_core::Parser::new(&sash_core::ParseSpec::from_value(&spec)?)?;
        let batches = match input {
            Lines::Bytes(buffer) => vec![parser.parse_bytes(&buffer)?.batch],
            Lines::Arrays(arrays) => {
                arrays.iter().map(|a| parser.parse_lines(a.as_ref()).map(|o| o.batch)).collect::<sash_core::Result<Vec<_>>>()?
            }
        };
        Ok((parser.schema(), batches))
    })?;
    to_pyarrow(py, schema, batches)
}

type FileReader = sash_core::ParseReader<std::io::BufReader<LogFile>>;

/// The batches of `read_log(..., batch_size=n)`: the core's `ParseReader`
/// (chunks of about 16 MiB ending at a line end, so memory stays bounded),
/// each chunk's output cut into batches of at most `n` rows (zero-copy slices).
#[pyclass(module = "sash._sash")]
struct _LogBatches {
    state: Mutex<(FileReader, Option<RecordBatch>)>,
    batch_size: usize,
}

#[pymethods]
impl _LogBatches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let batch_size = self.batch_size;
        let state = &self.state;
        let next = compute(py, move || {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let (reader, pending) = &mut *state;
            loop {
                if let Some(batch) = pending.take() {
                    if batch.num_rows() > batch_size {
                        *pending = Some(batch.slice(batch_size, batch.num_rows() - batch_size));
                        return Ok(Some(batch.slice(0, batch_size)));
                    }
                    if batch.num_rows() > 0 {
                        return Ok(Some(batch));
                    }
                }
                match reader.next() {
                    None => return Ok(None),
                    Some(out) => *pending = Some(out?.batch),
                }
            }
        })?;
        next.map(|b| PyRecordBatch::new(b).into_pyarrow(py)).transpose()
    }
}

/// `batch_size`: a positive int (a bool is no count, though Python says it is an int).
fn positive_count(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let bad = || {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        PyValueError::new_err(format!("batch_size must be a positive integer (rows per batch), got {shown}"))
    };
    if value.cast::<PyBool>().is_ok() {
        return Err(bad());
    }
    if value.cast::<PyInt>().is_err() && !value.hasattr(pyo3::intern!(value.py(), "__index__"))? {
        return Err(PyTypeError::new_err(format!("batch_size must be an int, got {}", value.get_type().name()?)));
    }
    match value.extract::<i128>() {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(bad()),
    }
}

fn log_path(path: &Bound<'_, PyAny>) -> PyResult<std::path::PathBuf> {
    path.extract()
}

/// A log file being read. A regular file is read as usual. Anything else
/// (a FIFO, a device, a socket) is read without blocking, waiting with
/// poll(2) in short steps between which the call's cancel check runs: a
/// blocked read(2) would only return on a signal if no library in the
/// process (Polars does) installed its handler with SA_RESTART.
#[derive(Debug)]
struct LogFile {
    file: std::fs::File,
    polled: bool,
}

/// How long one wait for a FIFO or device lasts before the cancel check.
const POLL_STEP_MS: i32 = 10;

/// Waits up to one step for `fd` to be readable (or hung up).
fn poll_step(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, POLL_STEP_MS) > 0 }
}

impl std::io::Read for LogFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        loop {
            match self.file.read(buf) {
                Err(e) if self.polled && e.kind() == std::io::ErrorKind::WouldBlock => {
                    if sash_core::cancel::is_cancelled() {
                        // The readers take Interrupted as "ask the cancel check".
                        return Err(std::io::ErrorKind::Interrupted.into());
                    }
                    poll_step(self.file.as_raw_fd());
                }
                result => return result,
            }
        }
    }
}

/// Opens a log for reading, stoppable by Ctrl-C: a FIFO is opened without
/// waiting, then waited on (for its first writer) in short polls between
/// which Python's signal handlers run.
fn open_log(py: Python<'_>, path: &std::path::Path) -> PyResult<LogFile> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("the path holds a NUL byte: {}", path.display())))?;
    // SAFETY: a NUL-terminated path; the descriptor is owned by the File below.
    let fd = py.detach(|| unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) });
    if fd < 0 {
        return Err(error::io_error(path, std::io::Error::last_os_error()));
    }
    // SAFETY: a descriptor just opened, owned by nobody else.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let kind = file.metadata().map_err(|e| error::io_error(path, e))?.file_type();
    if kind.is_dir() {
        return Err(error::io_error(path, std::io::Error::from_raw_os_error(libc::EISDIR)));
    }
    if kind.is_file() {
        // SAFETY: fcntl on our own descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) & !libc::O_NONBLOCK) };
        return Ok(LogFile { file, polled: false });
    }
    if kind.is_fifo() {
        // Until a writer comes, a read would say "end of file": wait for one
        // (readable or hung up means it came).
        while !py.detach(|| poll_step(file.as_raw_fd())) {
            py.check_signals()?;
        }
    }
    Ok(LogFile { file, polled: true })
}

/// A whole log file in memory, read in pieces so that a cancelled call
/// (Ctrl-C) stops between them, also on an endless file such as /dev/zero.
/// The outer error is the cancellation, the inner one the OS's.
fn read_whole(mut file: LogFile) -> sash_core::Result<std::io::Result<Vec<u8>>> {
    use std::io::Read;
    const PIECE: usize = 16 << 20;
    let metadata = file.file.metadata();
    let regular = !file.polled;
    let mut bytes = Vec::with_capacity(metadata.map_or(0, |m| m.len() as usize).saturating_add(1));
    loop {
        sash_core::cancel::check()?;
        if regular {
            // No wait on a regular file: read_to_end fills without zeroing first.
            match (&mut file).take(PIECE as u64).read_to_end(&mut bytes) {
                Ok(0) => return Ok(Ok(bytes)),
                Ok(_) => continue,
                Err(e) => return Ok(Err(e)),
            }
        }
        // A pipe or a device may wait: one read at a time (LogFile's waits
        // come back as Interrupted), so that the cancel check runs between
        // them; pieces are joined at
        // the end, so that no regrowth copies gigabytes between two checks.
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut piece = vec![0u8; PIECE];
            let mut filled = 0;
            while filled < PIECE {
                sash_core::cancel::check()?;
                match file.read(&mut piece[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Ok(Err(e)),
                }
            }
            piece.truncate(filled);
            pieces.push(piece);
            if filled < PIECE {
                return Ok(Ok(pieces.concat()));
            }
        }
    }
}

/// Reads and parses a log file (``docs/parsing.md``): like :func:`parse` on
/// the file's lines (LF, CRLF or CR ends), with the same ``format`` and
/// keyword options. ``path`` is a ``str`` or ``os.PathLike``.
///
/// Without ``batch_size`` returns a ``pyarrow.Table``: the file is read
/// into one buffer and its string columns are views into it (memory: the
/// file plus the typed columns). With ``batch_size=n`` returns a
/// ``pyarrow.RecordBatchReader`` yielding batches of at most ``n`` rows while
/// the file is read in chunks of about 16 MiB (the core's ``ParseReader``):
/// memory stays bounded whatever the file size. Line numbers in ``on_error="raise"``
/// errors count from the start of the file. The GIL is released while
/// reading and parsing.
///
/// A gzip-compressed file (``access.log.1.gz``, recognized by its first
/// bytes, whatever its name) is decompressed as it is read. A truncated or
/// corrupt one raises :class:`InvalidInputError`; a ``RecordBatchReader``
/// first yields every complete line it could decompress.
///
/// >>> import sash, tempfile, os
/// >>> path = os.path.join(tempfile.mkdtemp(), "app.log")
/// >>> _ = open(path, "w").write("ts=2024-01-01T00:00:00Z ms=5\nts=2024-01-01T00:00:01Z ms=7\n")
/// >>> spec = dict(fields={"ts": "timestamp", "ms": "int"})
/// >>> sash.read_log(path, "logfmt", **spec).column("ms").to_pylist()
/// [5, 7]
/// >>> reader = sash.read_log(path, "logfmt", batch_size=1, **spec)
/// >>> [b.num_rows for b in reader]
/// [1, 1]
#[pyfunction]
#[pyo3(signature = (path, format, *, batch_size=None, **options), text_signature = "(path, format, *, batch_size=None, **options)")]
fn read_log<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    format: &Bound<'py, PyAny>,
    batch_size: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = parse_spec(format, options)?;
    let batch_size = batch_size.filter(|b| !b.is_none()).map(positive_count).transpose()?;
    let path = log_path(path)?;
    match batch_size {
        None => {
            let file = open_log(py, &path)?;
            let bytes = compute(py, move || read_whole(file))?.map_err(|e| error::io_error(&path, e))?;
            let (schema, batch) = compute(py, move || {
                let mut parser = sash_core::Parser::new(&sash_core::ParseSpec::from_value(&spec)?)?;
                let out = parser.parse_bytes(&arrow_buffer::Buffer::from_vec(bytes))?;
                Ok((parser.schema(), out.batch))
            })?;
            to_pyarrow(py, schema, vec![batch])
        }
        Some(n) => {
            let file = open_log(py, &path)?;
            let reader =
                compute(py, move || sash_core::ParseReader::new(std::io::BufReader::new(file), &sash_core::ParseSpec::from_value(&spec)?))?;
            let schema = reader.schema();
            let batches = Bound::new(py, _LogBatches { state: Mutex::new((reader, None)), batch_size: n })?;
            let pa_schema = PySchema::new(schema).into_pyarrow(py)?;
            let pa = py.import("pyarrow")?;
            pa.getattr("RecordBatchReader")?.call_method1("from_batches", (pa_schema, batches))
        }
    }
}

#[pymodule]
fn _sash(m: &Bound<'_, PyModule>) -> PyResult<()> {
    return_freed_memory_at_once();
    m.add("__version__", sash_core::VERSION)?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(window_agg, m)?)?;
    m.add_function(wrap_pyfunction!(rolling, m)?)?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(read_log, m)?)?;
    m.add_class::<_LogBatches>()?;
    m.add_function(wrap_pyfunction!(_reference_window_agg, m)?)?;
    m.add_function(wrap_pyfunction!(_reference_rolling, m)?)?;
    m.add_function(wrap_pyfunction!(_traced, m)?)?;
    m.add_function(wrap_pyfunction!(_kernel_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_error_kinds, m)?)?;
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
