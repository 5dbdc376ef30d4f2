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
//! 3. **Compute** in `py.detach` (the GIL is released) under `catch_unwind`:
//!    a panic becomes `sash.InternalError`, never a crash.
//! 4. **Output**: the result batches are exported through the Arrow C stream
//!    interface and imported by `pyarrow.table`, which takes ownership of the
//!    buffers without copying.
//!
//! `sash.parse` and `sash.read_log` (issue #3's kernel) slot in as two more
//! functions of the same shape: convert input, detach, map errors, export.

mod error;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3_arrow::error::PyArrowError;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;
use serde_json::{Map, Number, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
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

fn read_input(data: &Bound<'_, PyAny>) -> PyResult<Input> {
    let py = data.py();
    let speaks_arrow = data.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? || data.hasattr(pyo3::intern!(py, "__arrow_c_array__"))?;
    let converted;
    let obj = if speaks_arrow {
        data
    } else {
        converted = TO_ARROW.import(py, "sash._convert", "to_arrow")?.call1((data,))?;
        &converted
    };
    let any: AnyRecordBatch = obj.extract()?;
    let reader = any.into_reader()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, ArrowError>>().map_err(|e| match e {
        // A Python exception raised while producing the stream: re-raise it as is.
        ArrowError::ExternalError(_) => PyErr::from(PyArrowError::from(e)),
        e => error::new_err(py, "invalid_input", format!("invalid input: could not read the Arrow stream: {e}")),
    })?;
    Ok(Input { schema, batches })
}

// --------------------------------------------------------------------------
// Spec: keyword arguments -> the canonical JSON spec
// --------------------------------------------------------------------------

/// A Python value as JSON. Durations may also be `datetime.timedelta`
/// (turned into whole microseconds, `"90000000us"`).
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

/// Runs `f` with the GIL released; core errors and panics become `sash` exceptions.
fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> sash_core::Result<T> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error::to_pyerr(py, e)),
        Err(payload) => Err(error::panic_to_pyerr(py, payload)),
    }
}

/// Hands the batches to pyarrow through the Arrow C stream interface: the
/// buffers change owner, they are not copied.
fn to_pyarrow(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Bound<'_, PyAny>> {
    PyTable::try_new(batches, schema)?.into_pyarrow(py)
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
        // Zero batches still have an output schema: compute it from one empty batch.
        let batches = if input.batches.is_empty() { vec![RecordBatch::new_empty(input.schema.clone())] } else { input.batches };
        let out = if reference {
            vec![sash_core::reference::rolling(&input.schema, &batches, &spec)?]
        } else {
            sash_core::rolling(&input.schema, &batches, &spec)?
        };
        let schema = out.first().map(RecordBatch::schema).expect("one batch out per batch in, and at least one in");
        Ok((schema, out))
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

/// Panics inside the guarded compute section, to test that no panic reaches Python.
#[pyfunction]
fn _panic(py: Python<'_>, message: String) -> PyResult<()> {
    compute(py, move || -> sash_core::Result<()> { panic!("{message}") })
}

#[pymodule]
fn _sash(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", sash_core::VERSION)?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(window_agg, m)?)?;
    m.add_function(wrap_pyfunction!(rolling, m)?)?;
    m.add_function(wrap_pyfunction!(_reference_window_agg, m)?)?;
    m.add_function(wrap_pyfunction!(_reference_rolling, m)?)?;
    m.add_function(wrap_pyfunction!(_traced, m)?)?;
    m.add_function(wrap_pyfunction!(_kernel_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    Ok(())
}
